/*
 * crrec — encoding of the record of an item a run created (crrec.h).
 * Pure functions; any thread.
 *
 * Value, version 1: u8 1, be32 mode, be32 flags, be64 born_ns, be64
 * mtime_ns, be64 ctime_ns, be64 size, site NUL, path NUL.
 */
#include <errno.h>
#include <string.h>

#include "store/crrec.h"

static unsigned char *put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		*p++ = (unsigned char)(v >> (56 - 8 * i));
	return p;
}

static unsigned char *put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		*p++ = (unsigned char)(v >> (24 - 8 * i));
	return p;
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int crrec_key(const char *run, uint64_t dev, uint64_t ino, unsigned char *buf)
{
	size_t n = strnlen(run, UTIL_RUN_MAX);

	if (!n || n == UTIL_RUN_MAX)
		return -EINVAL;
	memcpy(buf, run, n + 1);
	put64(put64(buf + n + 1, dev), ino);
	return (int)(n + 17);
}

int crrec_encode(const struct created_rec *r, unsigned char *buf, size_t cap)
{
	size_t sl = strnlen(r->site, sizeof(r->site)), pl = r->path ? strlen(r->path) : 0;
	unsigned char *p = buf;

	if (!sl || sl == sizeof(r->site) || strchr(r->site, '/') || !pl ||
	    pl >= CRREC_PATH_MAX)
		return -EINVAL;
	if (cap < 41 + sl + 1 + pl + 1)
		return -ENOBUFS;
	*p++ = 1;
	p = put32(p, r->mode);
	p = put32(p, r->flags);
	p = put64(p, (uint64_t)r->born_ns);
	p = put64(p, (uint64_t)r->mtime_ns);
	p = put64(p, (uint64_t)r->ctime_ns);
	p = put64(p, r->size);
	memcpy(p, r->site, sl + 1);
	p += sl + 1;
	memcpy(p, r->path, pl + 1);
	p += pl + 1;
	return (int)(p - buf);
}

int crrec_decode(const void *key, size_t klen, const void *val, size_t vlen,
		 struct created_rec *r)
{
	const unsigned char *k = key, *v = val, *site, *path, *end = v + vlen;
	size_t rl = klen > 17 ? klen - 17 : 0;

	memset(r, 0, sizeof(*r));
	if (!rl || rl >= UTIL_RUN_MAX || k[rl] != '\0' || memchr(k, '\0', rl) ||
	    vlen < 41 + 4 || v[0] != 1)
		return -EINVAL;
	memcpy(r->run, k, rl + 1);
	r->dev = get64(k + rl + 1);
	r->ino = get64(k + rl + 9);
	r->mode = get32(v + 1);
	r->flags = get32(v + 5);
	r->born_ns = (int64_t)get64(v + 9);
	r->mtime_ns = (int64_t)get64(v + 17);
	r->ctime_ns = (int64_t)get64(v + 25);
	r->size = get64(v + 33);
	site = v + 41;
	if (!(path = memchr(site, '\0', (size_t)(end - site))) || path - site > NAME_MAX ||
	    path == site)
		return -EINVAL;
	path++;
	if (path >= end || end[-1] != '\0' || memchr(path, '\0', (size_t)(end - path)) != end - 1 ||
	    path == end - 1)
		return -EINVAL;
	memcpy(r->site, site, (size_t)(path - site));
	r->path = (const char *)path;
	return 0;
}
