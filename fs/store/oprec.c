/*
 * oprec — expiry, key and portable encoding of an op record.
 *
 * Pure functions on caller-owned memory: no locking, no I/O, safe from any
 * thread.
 *
 * Encoding, version 2 (all integers little-endian, fixed width):
 *
 *   off  size  field
 *     0     1  version (2; 1 is still read, see below)
 *     1     1  state        (OP_OPEN..OP_PURGING)
 *     2     1  hold         (0..255)
 *     3     1  scope length (0..NAME_MAX)
 *     4     1  name length  (1..NAME_MAX)
 *     5     2  cmdline length (0..OPREC_CMD_MAX-1)
 *     7    12  uid, gid, pid                          (u32 each)
 *    19    48  pid_start, first_ns, last_ns, retention_s, items, bytes
 *                                                     (u64/i64 each)
 *    67     8  last_el_ns (i64)                       (version 2 only)
 *    75     -  scope, name, cmdline bytes (no NULs, no terminators)
 *
 * Version 1 is the same without last_el_ns (strings at 67); it decodes
 * with last_el_ns 0, which makes an old op's retention count from the
 * first start of a daemon with the trusted clock: late, never early.
 *
 * The total length must equal the fixed part + the three string lengths
 * exactly, so a truncated or extended buffer is rejected.  At maximum
 * string lengths the encoding is exactly OPREC_ENC_MAX (1608) bytes; that
 * budget is why state,
 * hold and the name lengths are single bytes.  A record must satisfy the
 * same rules to be encoded as to be decoded: strings terminated within their
 * arrays, no '/' in scope or name, non-empty name, valid state, hold <= 255.
 */
#include <errno.h>
#include <string.h>

#include "store/oprec.h"

#define OPREC_VERSION  2
#define OPREC_FIXED    75
#define OPREC_FIXED_V1 67

_Static_assert(OPREC_FIXED + 2 * NAME_MAX + OPREC_CMD_MAX - 1 <= OPREC_ENC_MAX,
	       "oprec encoding must fit OPREC_ENC_MAX");
_Static_assert(NAME_MAX <= UINT8_MAX, "name lengths are encoded in one byte");

int64_t oprec_expiry(const struct op_record *r)
{
	int64_t s = r->last_ns / 1000000000, e;

	if (r->last_ns % 1000000000 < 0)
		s--;            /* floor, also before 1970 */
	if (__builtin_add_overflow(s, r->retention_s, &e))
		e = r->retention_s > 0 ? INT64_MAX : INT64_MIN;
	return e;
}

int64_t oprec_due(const struct op_record *r)
{
	int64_t s = r->last_el_ns / 1000000000, e;

	if (r->last_el_ns % 1000000000 > 0)
		s++;            /* round the stamp up: never a second early */
	if (__builtin_add_overflow(s, r->retention_s, &e))
		e = r->retention_s > 0 ? INT64_MAX : INT64_MIN;
	return e;
}

static void put_le(unsigned char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Length of a string held in an array of cap bytes, or -1 if unterminated. */
static int str_len(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	return n < cap ? (int)n : -1;
}

/* A path component as used in an op key: no '/' and no NUL inside. */
static bool component_ok(const char *s, size_t n)
{
	return !memchr(s, '/', n) && !memchr(s, '\0', n);
}

static bool fields_ok(uint32_t state, uint32_t hold)
{
	return state >= OP_OPEN && state <= OP_PURGING && hold <= UINT8_MAX;
}

int oprec_encode(const struct op_record *r, void *buf, size_t cap)
{
	int ls = str_len(r->scope, sizeof(r->scope));
	int ln = str_len(r->name, sizeof(r->name));
	int lc = str_len(r->cmdline, sizeof(r->cmdline));
	const uint64_t wide[] = {
		r->pid_start, (uint64_t)r->first_ns, (uint64_t)r->last_ns,
		(uint64_t)r->retention_s, r->items, r->bytes,
	};
	unsigned char *p = buf;
	size_t len;

	if (ls < 0 || ln <= 0 || lc < 0 || !fields_ok(r->state, r->hold) ||
	    !component_ok(r->scope, ls) || !component_ok(r->name, ln))
		return -EINVAL;
	len = OPREC_FIXED + (size_t)ls + ln + lc;
	if (len > cap)
		return -ENOBUFS;

	p[0] = OPREC_VERSION;
	p[1] = (unsigned char)r->state;
	p[2] = (unsigned char)r->hold;
	p[3] = (unsigned char)ls;
	p[4] = (unsigned char)ln;
	put_le(p + 5, (uint64_t)lc, 2);
	put_le(p + 7, r->uid, 4);
	put_le(p + 11, r->gid, 4);
	put_le(p + 15, r->pid, 4);
	for (int i = 0; i < 6; i++)
		put_le(p + 19 + 8 * i, wide[i], 8);
	put_le(p + 67, (uint64_t)r->last_el_ns, 8);
	p += OPREC_FIXED;
	memcpy(p, r->scope, ls);
	memcpy(p + ls, r->name, ln);
	memcpy(p + ls + ln, r->cmdline, lc);
	return (int)len;
}

int oprec_decode(const void *buf, size_t len, struct op_record *r)
{
	const unsigned char *p = buf;
	size_t ls, ln, lc, fixed;

	memset(r, 0, sizeof(*r));
	if (!p || len < OPREC_FIXED_V1 || (p[0] != OPREC_VERSION && p[0] != 1))
		return -EINVAL;
	fixed = p[0] == 1 ? OPREC_FIXED_V1 : OPREC_FIXED;
	ls = p[3];
	ln = p[4];
	lc = get_le(p + 5, 2);
	if (!fields_ok(p[1], p[2]) || ls > NAME_MAX || ln < 1 || ln > NAME_MAX ||
	    lc >= OPREC_CMD_MAX || len != fixed + ls + ln + lc)
		return -EINVAL;
	p += fixed;
	if (!component_ok((const char *)p, ls) ||
	    !component_ok((const char *)p + ls, ln) || memchr(p + ls + ln, '\0', lc))
		return -EINVAL;

	memcpy(r->scope, p, ls);
	memcpy(r->name, p + ls, ln);
	memcpy(r->cmdline, p + ls + ln, lc);  /* terminators: from the memset */
	p = buf;
	r->state = p[1];
	r->hold = p[2];
	r->uid = (uint32_t)get_le(p + 7, 4);
	r->gid = (uint32_t)get_le(p + 11, 4);
	r->pid = (uint32_t)get_le(p + 15, 4);
	r->pid_start = get_le(p + 19, 8);
	r->first_ns = (int64_t)get_le(p + 27, 8);
	r->last_ns = (int64_t)get_le(p + 35, 8);
	r->retention_s = (int64_t)get_le(p + 43, 8);
	r->items = get_le(p + 51, 8);
	r->bytes = get_le(p + 59, 8);
	if (fixed == OPREC_FIXED)
		r->last_el_ns = (int64_t)get_le(p + 67, 8);
	return 0;
}

int oprec_key(const char *scope, const char *name, char *buf, size_t cap)
{
	size_t ls, ln;

	scope = scope ? scope : "";
	ls = strlen(scope);
	ln = strlen(name);
	if (ls + ln + 2 > cap || ls + ln + 1 > INT_MAX)
		return -ENAMETOOLONG;
	memcpy(buf, scope, ls);
	buf[ls] = '/';
	memcpy(buf + ls + 1, name, ln + 1);
	return (int)(ls + 1 + ln);
}
