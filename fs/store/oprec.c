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
 * Version 3 (ops with a run, procinfo.h) is version 2 with, before the
 * strings:
 *    75     8  run_start (u64)
 *    83     8  runinfo.sid, runinfo.loginuid               (u32 each)
 *    91     1  run ID length (1..OPREC_RUN_MAX-1)
 *    92     2  leader command line length (< PROCINFO_RUN_CMD_MAX)
 *    94     2  parent chain length (< PROCINFO_CHAIN_MAX)
 *    96     1  cgroup length (< PROCINFO_UNIT_MAX)
 *    97     -  scope, name, cmdline, run ID, leader command line, chain,
 *              cgroup (no NULs; the run ID no '/' either)
 * A record without a run is written as version 2, so a version 3 encoding
 * always has a run ID (a decodable buffer is canonical).
 *
 * The total length must equal the fixed part + the three string lengths
 * exactly, so a truncated or extended buffer is rejected.  At maximum
 * string lengths a version 3 encoding is exactly OPREC_ENC_MAX (2906)
 * bytes; that budget is why state,
 * hold and the name lengths are single bytes.  A record must satisfy the
 * same rules to be encoded as to be decoded: strings terminated within their
 * arrays, no '/' in scope or name, non-empty name, valid state, hold <= 255.
 */
#include <errno.h>
#include <string.h>

#include "store/oprec.h"

#define OPREC_VERSION  3
#define OPREC_FIXED_V3 97
#define OPREC_FIXED    75
#define OPREC_FIXED_V1 67

_Static_assert(PROCINFO_RUN_CMD_MAX <= UINT16_MAX && PROCINFO_CHAIN_MAX <= UINT16_MAX &&
	       PROCINFO_UNIT_MAX <= UINT8_MAX + 1 && OPREC_RUN_MAX <= UINT8_MAX + 1,
	       "run string lengths must fit their length fields");
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

static bool no_run(const struct op_record *r)
{
	static const struct run_info none = { .loginuid = 0 };

	return !r->run_start && !memcmp(&r->runinfo, &none, sizeof(none));
}

int oprec_encode(const struct op_record *r, void *buf, size_t cap)
{
	int ls = str_len(r->scope, sizeof(r->scope));
	int ln = str_len(r->name, sizeof(r->name));
	int lc = str_len(r->cmdline, sizeof(r->cmdline));
	int lr = str_len(r->run, sizeof(r->run));
	const struct run_info *ri = &r->runinfo;
	int lrc = str_len(ri->cmdline, sizeof(ri->cmdline));
	int lch = str_len(ri->chain, sizeof(ri->chain));
	int lu = str_len(ri->unit, sizeof(ri->unit));
	const uint64_t wide[] = {
		r->pid_start, (uint64_t)r->first_ns, (uint64_t)r->last_ns,
		(uint64_t)r->retention_s, r->items, r->bytes,
	};
	unsigned char *p = buf;
	size_t len, fixed;

	if (ls < 0 || ln <= 0 || lc < 0 || !fields_ok(r->state, r->hold) ||
	    !component_ok(r->scope, ls) || !component_ok(r->name, ln))
		return -EINVAL;
	if (lr < 0 || lrc < 0 || lch < 0 || lu < 0 || !component_ok(r->run, lr) ||
	    (!lr && !no_run(r)))
		return -EINVAL;
	fixed = lr ? OPREC_FIXED_V3 : OPREC_FIXED;
	len = fixed + (size_t)ls + ln + lc;
	if (lr)
		len += (size_t)lr + lrc + lch + lu;
	if (len > cap)
		return -ENOBUFS;

	p[0] = lr ? OPREC_VERSION : 2;
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
	if (lr) {
		put_le(p + 75, r->run_start, 8);
		put_le(p + 83, ri->sid, 4);
		put_le(p + 87, ri->loginuid, 4);
		p[91] = (unsigned char)lr;
		put_le(p + 92, (uint64_t)lrc, 2);
		put_le(p + 94, (uint64_t)lch, 2);
		p[96] = (unsigned char)lu;
	}
	p += fixed;
	memcpy(p, r->scope, ls);
	memcpy(p += ls, r->name, ln);
	memcpy(p += ln, r->cmdline, lc);
	p += lc;
	if (lr) {
		memcpy(p, r->run, lr);
		memcpy(p += lr, ri->cmdline, lrc);
		memcpy(p += lrc, ri->chain, lch);
		memcpy(p += lch, ri->unit, lu);
	}
	return (int)len;
}

/* The run part of a version 3 encoding (p: the whole buffer, str: its
 * strings after scope, name and cmdline; rest: their length). */
static int decode_run(const unsigned char *p, const unsigned char *str, size_t rest,
		      struct op_record *r)
{
	size_t lr = p[91], lrc = get_le(p + 92, 2), lch = get_le(p + 94, 2), lu = p[96];
	struct run_info *ri = &r->runinfo;

	if (lr < 1 || lr >= OPREC_RUN_MAX || lrc >= PROCINFO_RUN_CMD_MAX ||
	    lch >= PROCINFO_CHAIN_MAX || lu >= PROCINFO_UNIT_MAX ||
	    rest != lr + lrc + lch + lu || !component_ok((const char *)str, lr) ||
	    memchr(str + lr, '\0', lrc + lch + lu))
		return -EINVAL;
	memcpy(r->run, str, lr);
	memcpy(ri->cmdline, str += lr, lrc);
	memcpy(ri->chain, str += lrc, lch);
	memcpy(ri->unit, str + lch, lu);
	r->run_start = get_le(p + 75, 8);
	ri->sid = (uint32_t)get_le(p + 83, 4);
	ri->loginuid = (uint32_t)get_le(p + 87, 4);
	return 0;
}

int oprec_decode(const void *buf, size_t len, struct op_record *r)
{
	const unsigned char *p = buf;
	size_t ls, ln, lc, fixed;

	memset(r, 0, sizeof(*r));
	if (!p || len < OPREC_FIXED_V1 || p[0] < 1 || p[0] > OPREC_VERSION)
		return -EINVAL;
	fixed = p[0] == 1 ? OPREC_FIXED_V1 : p[0] == 2 ? OPREC_FIXED : OPREC_FIXED_V3;
	if (len < fixed)
		return -EINVAL;
	ls = p[3];
	ln = p[4];
	lc = get_le(p + 5, 2);
	if (!fields_ok(p[1], p[2]) || ls > NAME_MAX || ln < 1 || ln > NAME_MAX ||
	    lc >= OPREC_CMD_MAX || (p[0] < 3 && len != fixed + ls + ln + lc) ||
	    len < fixed + ls + ln + lc)
		return -EINVAL;
	p += fixed;
	if (!component_ok((const char *)p, ls) ||
	    !component_ok((const char *)p + ls, ln) || memchr(p + ls + ln, '\0', lc))
		goto bad;
	if (((const unsigned char *)buf)[0] == 3 &&
	    decode_run(buf, p + ls + ln + lc, len - fixed - ls - ln - lc, r) < 0)
		goto bad;

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
	if (fixed != OPREC_FIXED_V1)
		r->last_el_ns = (int64_t)get_le(p + 67, 8);
	return 0;
bad:
	memset(r, 0, sizeof(*r));
	return -EINVAL;
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
