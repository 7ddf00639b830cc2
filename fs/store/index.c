/*
 * index — LMDB index of trash operations (see index.h for the contract).
 *
 * Layout: "ops" maps "<scope>/<name>" to the oprec encoding.  "expiry" is an
 * MDB_DUPSORT database: key be64(expiry_s = oprec_due(), seconds of the
 * trusted elapsed clock, with the sign bit flipped, so
 * negative values sort first), one duplicate per op holding its op key.
 * That is the same order as the header's be64(expiry)"<scope>/<name>" key,
 * but keeps keys within LMDB's 511-byte limit (an op key alone can be 511).
 * Each expiry entry is checked against its op record when read, so an entry
 * left behind by an undecodable old record is skipped, never reported.
 * "hints" maps the same op key to the path of the op's one item (see
 * index_put_hint); it goes with its record (del_in, index_clear).
 *
 * Threading: one environment opened MDB_NOTLS, so any thread may run any
 * function and read transactions are not bound to threads; LMDB serialises
 * write transactions.  The dbi handles are opened once in index_open and are
 * read-only afterwards.  Every transaction lives inside a single call.
 * LMDB sets FD_CLOEXEC on its other fds; index_open sets it on the data fd
 * (a fork+exec racing with index_open could still inherit that one).
 * An environment must not be used in a fork()ed child.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/index.h"

/* Address space reserved for the map (the file grows only as used): millions
 * of records.  Never resized, so MDB_MAP_RESIZED cannot occur (one process). */
#define INDEX_MAPSIZE  ((size_t)1 << (sizeof(size_t) > 4 ? 34 : 30))
#define INDEX_READERS  1024             /* concurrent read transactions */
#define INDEX_KEY_MAX  (2 * (NAME_MAX + 1))  /* "<scope>/<name>" + NUL */

struct index {
	MDB_env *env;
	MDB_dbi ops, exp, tl, tlop, cr, hint;
};

int index_errno(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return 0;
	case MDB_NOTFOUND:
		return -ENOENT;
	case MDB_MAP_FULL:
		return -ENOSPC;
	case MDB_CORRUPTED:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
		return -EIO;
	default:
		return rc > 0 ? -rc : -EIO;  /* LMDB passes errno values through */
	}
}

static void exp_key(int64_t e, unsigned char k[8])
{
	uint64_t u = (uint64_t)e ^ (UINT64_C(1) << 63);

	for (int i = 0; i < 8; i++)
		k[i] = (unsigned char)(u >> (56 - 8 * i));
}

static int64_t exp_val(const MDB_val *k)
{
	const unsigned char *p = k->mv_data;
	uint64_t u = 0;

	for (int i = 0; i < 8; i++)
		u = u << 8 | p[i];
	return (int64_t)(u ^ (UINT64_C(1) << 63));
}

/* Decode a stored value; a record that does not decode is corruption. */
static int load(const MDB_val *v, struct op_record *r)
{
	return oprec_decode(v->mv_data, v->mv_size, r) ? -EIO : 0;
}

/* Commit t if rc is 0, else abort it.  Returns 0 or -errno. */
static int finish(MDB_txn *t, int rc)
{
	if (rc) {
		mdb_txn_abort(t);
		return index_errno(rc);
	}
	return index_errno(mdb_txn_commit(t));
}

static int read_begin(struct index *ix, MDB_dbi dbi, MDB_txn **t, MDB_cursor **c)
{
	int rc = mdb_txn_begin(ix->env, NULL, MDB_RDONLY, t);

	if (!rc && (rc = mdb_cursor_open(*t, dbi, c)))
		mdb_txn_abort(*t);
	return index_errno(rc);
}

static int read_end(MDB_txn *t, MDB_cursor *c, int ret)
{
	mdb_cursor_close(c);
	mdb_txn_abort(t);
	return ret;
}

int index_open(struct index **out, const char *dir)
{
	struct index *ix;
	MDB_txn *t;
	int fd, rc;

	*out = NULL;
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	ix = calloc(1, sizeof(*ix));
	if (!ix)
		return -ENOMEM;
	rc = mdb_env_create(&ix->env);
	if (rc) {
		free(ix);
		return index_errno(rc);
	}
	if ((rc = mdb_env_set_maxdbs(ix->env, 8)) ||
	    (rc = mdb_env_set_mapsize(ix->env, INDEX_MAPSIZE)) ||
	    (rc = mdb_env_set_maxreaders(ix->env, INDEX_READERS)) ||
	    (rc = mdb_env_open(ix->env, dir,
			       MDB_NOSYNC | MDB_NOTLS | MDB_NORDAHEAD, 0600)) ||
	    (rc = mdb_env_get_fd(ix->env, &fd)) ||
	    (rc = fcntl(fd, F_SETFD, FD_CLOEXEC) ? errno : 0) ||
	    (rc = mdb_reader_check(ix->env, NULL)) ||
	    (rc = mdb_txn_begin(ix->env, NULL, 0, &t)))
		goto close_env;
	rc = mdb_dbi_open(t, "ops", MDB_CREATE, &ix->ops);
	if (!rc)
		rc = mdb_dbi_open(t, "expiry", MDB_CREATE | MDB_DUPSORT, &ix->exp);
	if (!rc)
		rc = mdb_dbi_open(t, "tlinks", MDB_CREATE, &ix->tl);
	if (!rc)
		rc = mdb_dbi_open(t, "tlops", MDB_CREATE, &ix->tlop);
	if (!rc)
		rc = mdb_dbi_open(t, "created", MDB_CREATE, &ix->cr);
	if (!rc)
		rc = mdb_dbi_open(t, "hints", MDB_CREATE, &ix->hint);
	if ((rc = finish(t, rc)))
		goto close_env_errno;
	*out = ix;
	return 0;

close_env:
	rc = index_errno(rc);
close_env_errno:
	mdb_env_close(ix->env);
	free(ix);
	return rc;
}

void index_close(struct index *ix)
{
	if (!ix)
		return;
	mdb_env_sync(ix->env, 1);
	mdb_env_close(ix->env);
	free(ix);
}

int index_sync(struct index *ix)
{
	return index_errno(mdb_env_sync(ix->env, 1));
}

/* A hint's value: be64 last_ns, be32 mode, then the path (no NUL). */
#define HINT_HEAD 12

static void put_be(unsigned char *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
}

static uint64_t get_be(const unsigned char *p, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes; i++)
		v = v << 8 | p[i];
	return v;
}

int index_put(struct index *ix, const struct op_record *r)
{
	return index_put_hint(ix, r, NULL, 0);
}

int index_put_hint(struct index *ix, const struct op_record *r, const char *path, mode_t mode)
{
	unsigned char enc[OPREC_ENC_MAX], ek[8], hv[HINT_HEAD + INDEX_HINT_MAX - 1];
	char key[INDEX_KEY_MAX];
	struct op_record old;
	int64_t e = oprec_due(r);
	int elen, klen, rc;
	MDB_val k, v, ev = { sizeof(ek), ek }, ov;
	MDB_txn *t;

	elen = oprec_encode(r, enc, sizeof(enc));
	if (elen < 0)
		return elen;
	klen = oprec_key(r->scope, r->name, key, sizeof(key));
	if (klen < 0)
		return klen;
	k = (MDB_val){ (size_t)klen, key };
	v = (MDB_val){ (size_t)elen, enc };
	rc = mdb_txn_begin(ix->env, NULL, 0, &t);
	if (rc)
		return index_errno(rc);

	/* 1. drop the old expiry entry if the expiry moved */
	rc = mdb_get(t, ix->ops, &k, &ov);
	if (!rc && !load(&ov, &old) && oprec_due(&old) != e) {
		exp_key(oprec_due(&old), ek);
		rc = mdb_del(t, ix->exp, &ev, &k);
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
	/* 2. add the new one (idempotent), 3. store the record */
	if (!rc) {
		exp_key(e, ek);
		rc = mdb_put(t, ix->exp, &ev, &k, 0);
	}
	if (!rc)
		rc = mdb_put(t, ix->ops, &k, &v, 0);
	/* 4. the hint rides in the same transaction: never ahead of its record */
	if (!rc && path && *path && strnlen(path, INDEX_HINT_MAX) < INDEX_HINT_MAX) {
		size_t plen = strlen(path);
		MDB_val h = { HINT_HEAD + plen, hv };

		put_be(hv, (uint64_t)r->last_ns, 8);
		put_be(hv + 8, mode, 4);
		memcpy(hv + HINT_HEAD, path, plen);
		rc = mdb_put(t, ix->hint, &k, &h, 0);
	}
	return finish(t, rc);
}

int index_hint_get(struct index *ix, const struct op_record *r, char *path, size_t cap,
		   mode_t *mode)
{
	char key[INDEX_KEY_MAX];
	int klen = oprec_key(r->scope, r->name, key, sizeof(key)), rc;
	MDB_val k = { (size_t)klen, key }, v;
	MDB_txn *t;

	if (klen < 0)
		return klen;
	if (r->items != 1)
		return -ENOENT;
	if ((rc = mdb_txn_begin(ix->env, NULL, MDB_RDONLY, &t)))
		return index_errno(rc);
	rc = index_errno(mdb_get(t, ix->hint, &k, &v));
	if (!rc) {
		const unsigned char *p = v.mv_data;
		size_t plen = v.mv_size - HINT_HEAD;

		/* any later deletion into the op moved last_ns: the hint is
		 * then about an op that held more than this one item */
		if (v.mv_size <= HINT_HEAD || (int64_t)get_be(p, 8) != r->last_ns ||
		    plen >= cap || memchr(p + HINT_HEAD, '\0', plen))
			rc = -ENOENT;
		else {
			*mode = (mode_t)get_be(p + 8, 4);
			memcpy(path, p + HINT_HEAD, plen);
			path[plen] = '\0';
		}
	}
	mdb_txn_abort(t);
	return rc;
}

int index_get(struct index *ix, const char *scope, const char *name,
	      struct op_record *out)
{
	char key[INDEX_KEY_MAX];
	int klen = oprec_key(scope, name, key, sizeof(key)), rc;
	MDB_val k = { (size_t)klen, key }, v;
	MDB_txn *t;

	memset(out, 0, sizeof(*out));
	if (klen < 0)
		return klen;
	rc = mdb_txn_begin(ix->env, NULL, MDB_RDONLY, &t);
	if (rc)
		return index_errno(rc);
	rc = mdb_get(t, ix->ops, &k, &v);
	rc = rc ? index_errno(rc) : load(&v, out);
	mdb_txn_abort(t);
	return rc;
}

/* Remove scope/name's record and expiry entry inside write txn t.  0 or an
 * LMDB code (MDB_NOTFOUND: no record). */
static int del_in(struct index *ix, MDB_txn *t, const char *scope, const char *name)
{
	char key[INDEX_KEY_MAX];
	unsigned char ek[8];
	int klen = oprec_key(scope, name, key, sizeof(key)), rc;
	MDB_val k = { (size_t)klen, key }, v, ev = { sizeof(ek), ek };
	struct op_record old;

	if (klen < 0)
		return MDB_NOTFOUND;   /* no such key can be stored */
	rc = mdb_get(t, ix->ops, &k, &v);
	if (!rc && !load(&v, &old)) {
		exp_key(oprec_due(&old), ek);
		rc = mdb_del(t, ix->exp, &ev, &k);
		if (rc == MDB_NOTFOUND)
			rc = 0;
	}
	if (!rc)
		rc = mdb_del(t, ix->ops, &k, NULL);
	if (!rc && (rc = mdb_del(t, ix->hint, &k, NULL)) == MDB_NOTFOUND)
		rc = 0;
	return rc;
}

int index_del(struct index *ix, const char *scope, const char *name)
{
	char key[INDEX_KEY_MAX];
	int klen = oprec_key(scope, name, key, sizeof(key)), rc;
	MDB_txn *t;

	if (klen < 0)
		return klen;
	rc = mdb_txn_begin(ix->env, NULL, 0, &t);
	if (rc)
		return index_errno(rc);
	return finish(t, del_in(ix, t, scope, name));
}

int index_drop_ops(struct index *ix, const char *scope, const char *const *names, size_t n)
{
	MDB_txn *t;
	int rc;

	if (!n)
		return 0;
	if ((rc = mdb_txn_begin(ix->env, NULL, 0, &t)))
		return index_errno(rc);
	for (size_t i = 0; i < n && !rc; i++) {
		size_t len = strlen(names[i]);
		MDB_val k = { len, (void *)names[i] };

		rc = del_in(ix, t, scope, names[i]);
		if (rc == MDB_NOTFOUND)
			rc = 0;
		if (!rc && len && len <= NAME_MAX && (rc = mdb_del(t, ix->tlop, &k, NULL)) == MDB_NOTFOUND)
			rc = 0;
	}
	return finish(t, rc);
}

int index_clear(struct index *ix)
{
	MDB_txn *t;
	int rc = mdb_txn_begin(ix->env, NULL, 0, &t);

	if (rc)
		return index_errno(rc);
	rc = mdb_drop(t, ix->ops, 0);
	if (!rc)
		rc = mdb_drop(t, ix->exp, 0);
	if (!rc)
		rc = mdb_drop(t, ix->hint, 0);
	return finish(t, rc);
}

int index_foreach(struct index *ix, const char *scope, index_fn fn, void *arg)
{
	char pfx[INDEX_KEY_MAX];
	int plen = 0, ret = 0, rc;
	MDB_val k, v;
	MDB_txn *t;
	MDB_cursor *c = NULL;
	struct op_record r;

	if (scope && (plen = oprec_key(scope, "", pfx, sizeof(pfx))) < 0)
		return plen;
	if ((ret = read_begin(ix, ix->ops, &t, &c)))
		return ret;
	k = (MDB_val){ (size_t)plen, pfx };
	for (rc = mdb_cursor_get(c, &k, &v, scope ? MDB_SET_RANGE : MDB_FIRST);
	     !rc; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size < (size_t)plen || memcmp(k.mv_data, pfx, plen))
			break;  /* past "<scope>/" */
		if ((ret = load(&v, &r)) || (ret = fn(&r, arg)))
			break;
	}
	if (!ret && rc != MDB_NOTFOUND)
		ret = index_errno(rc);
	return read_end(t, c, ret);
}

int index_foreach_expired(struct index *ix, int64_t until_s, index_fn fn, void *arg)
{
	int ret, rc;
	int64_t e;
	MDB_val k, v, ov;
	MDB_txn *t;
	MDB_cursor *c = NULL;
	struct op_record r;

	if ((ret = read_begin(ix, ix->exp, &t, &c)))
		return ret;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); !rc;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 8) {
			ret = -EIO;                      /* not an expiry key */
			break;
		}
		if ((e = exp_val(&k)) > until_s)
			break;
		rc = mdb_get(t, ix->ops, &v, &ov);   /* v holds the op key */
		if (rc == MDB_NOTFOUND)
			continue;                        /* stale entry */
		if (rc || (ret = load(&ov, &r)) ||
		    (oprec_due(&r) == e && (ret = fn(&r, arg))))
			break;
	}
	if (!ret && rc != MDB_NOTFOUND)
		ret = index_errno(rc);
	return read_end(t, c, ret);
}

static int first_expiry(const struct op_record *r, void *arg)
{
	*(int64_t *)arg = oprec_due(r);
	return 1;
}

int index_next_expiry(struct index *ix, int64_t *expiry_s)
{
	int rc = index_foreach_expired(ix, INT64_MAX, first_expiry, expiry_s);

	return rc == 1 ? 0 : rc ? rc : -ENOENT;
}

/* Number of entries of one database. */
static int db_entries(struct index *ix, MDB_dbi dbi, uint64_t *n)
{
	MDB_txn *t;
	MDB_stat st;
	int rc = mdb_txn_begin(ix->env, NULL, MDB_RDONLY, &t);

	*n = 0;
	if (rc)
		return index_errno(rc);
	rc = mdb_stat(t, dbi, &st);
	if (!rc)
		*n = st.ms_entries;
	mdb_txn_abort(t);
	return index_errno(rc);
}

int index_count(struct index *ix, uint64_t *n)
{
	return db_entries(ix, ix->ops, n);
}

/* ---- the trash-link table ------------------------------------------------ */

static bool tlink_key_ok(size_t klen)
{
	return klen > 0 && klen <= INDEX_TLINK_KEY_MAX;
}

static int tlink_val(const MDB_val *v, uint32_t *n)
{
	const unsigned char *p = v->mv_data;

	if (v->mv_size != 4)
		return -EIO;
	*n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	return 0;
}

static int count_get(struct index *ix, MDB_dbi dbi, const void *key, size_t klen, uint32_t *n)
{
	MDB_val k = { klen, (void *)key }, v;
	MDB_txn *t;
	int rc;

	*n = 0;
	if ((rc = mdb_txn_begin(ix->env, NULL, MDB_RDONLY, &t)))
		return index_errno(rc);
	rc = mdb_get(t, dbi, &k, &v);
	rc = rc ? index_errno(rc) : tlink_val(&v, n);
	mdb_txn_abort(t);
	return rc;
}

/* Add delta to a be32 count (created for delta > 0; removed at 0 unless
 * keep_zero).  0 or -errno. */
static int count_add(struct index *ix, MDB_dbi dbi, const void *key, size_t klen,
		     int32_t delta, bool keep_zero, uint32_t *now)
{
	MDB_val k = { klen, (void *)key }, v;
	unsigned char b[4];
	uint32_t n = 0;
	int64_t sum;
	MDB_txn *t;
	int rc;

	if (now)
		*now = 0;
	if ((rc = mdb_txn_begin(ix->env, NULL, 0, &t)))
		return index_errno(rc);
	rc = mdb_get(t, dbi, &k, &v);
	if (rc == MDB_NOTFOUND && delta <= 0) {
		mdb_txn_abort(t);
		return 0;   /* nothing to take from */
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
	else if (!rc && tlink_val(&v, &n) < 0)
		n = 0;   /* undecodable: start again from this change */
	if (rc)
		return finish(t, rc);
	sum = (int64_t)n + delta;
	n = sum < 0 ? 0 : sum > UINT32_MAX ? UINT32_MAX : (uint32_t)sum;
	if (n == 0 && !keep_zero) {
		rc = mdb_del(t, dbi, &k, NULL);
	} else {
		b[0] = (unsigned char)(n >> 24);
		b[1] = (unsigned char)(n >> 16);
		b[2] = (unsigned char)(n >> 8);
		b[3] = (unsigned char)n;
		v = (MDB_val){ sizeof(b), b };
		rc = mdb_put(t, dbi, &k, &v, 0);
	}
	if ((rc = finish(t, rc)) == 0 && now)
		*now = n;
	return rc;
}

int index_tlink_get(struct index *ix, const void *key, size_t klen, uint32_t *n)
{
	*n = 0;
	return tlink_key_ok(klen) ? count_get(ix, ix->tl, key, klen, n) : -EINVAL;
}

int index_tlink_add(struct index *ix, const void *key, size_t klen, int32_t delta,
		    uint32_t *now)
{
	if (now)
		*now = 0;
	return tlink_key_ok(klen) ? count_add(ix, ix->tl, key, klen, delta, true, now) : -EINVAL;
}

int index_tlop_get(struct index *ix, const char *op, uint32_t *n)
{
	size_t len = strlen(op);
	int r;

	*n = 0;
	if (!len || len > NAME_MAX)
		return -EINVAL;
	r = count_get(ix, ix->tlop, op, len, n);
	return r == -ENOENT ? 0 : r;
}

int index_tlop_add(struct index *ix, const char *op, int32_t delta)
{
	size_t len = strlen(op);

	if (!len || len > NAME_MAX)
		return -EINVAL;
	return count_add(ix, ix->tlop, op, len, delta, false, NULL);
}

int index_tlink_del(struct index *ix, const void *key, size_t klen)
{
	MDB_val k = { klen, (void *)key };
	MDB_txn *t;
	int rc;

	if (!tlink_key_ok(klen))
		return -EINVAL;
	if ((rc = mdb_txn_begin(ix->env, NULL, 0, &t)))
		return index_errno(rc);
	return finish(t, mdb_del(t, ix->tl, &k, NULL));
}

int index_tlink_foreach(struct index *ix,
			int (*fn)(const void *key, size_t klen, uint32_t n, void *arg),
			void *arg)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	MDB_txn *t;
	uint32_t n;
	int ret, rc;

	if ((ret = read_begin(ix, ix->tl, &t, &c)))
		return ret;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); !rc;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (tlink_val(&v, &n) < 0)
			n = 0;
		if ((ret = fn(k.mv_data, k.mv_size, n, arg)))
			break;
	}
	if (!ret && rc != MDB_NOTFOUND)
		ret = index_errno(rc);
	return read_end(t, c, ret);
}

int index_tlink_count(struct index *ix, uint64_t *n)
{
	return db_entries(ix, ix->tl, n);
}

/* ---- what runs created ---- */

int index_created_put(struct index *ix, const struct created_rec *v, size_t n)
{
	unsigned char key[CRREC_KEY_MAX], *enc = malloc(CRREC_ENC_MAX);
	MDB_txn *t;
	int rc, ret = 0;

	if (!enc)
		return -ENOMEM;
	if ((rc = mdb_txn_begin(ix->env, NULL, 0, &t))) {
		free(enc);
		return index_errno(rc);
	}
	for (size_t i = 0; i < n && !rc; i++) {
		int klen = crrec_key(v[i].run, v[i].dev, v[i].ino, key),
		    elen = klen < 0 ? klen : crrec_encode(&v[i], enc, CRREC_ENC_MAX);
		MDB_val k = { (size_t)klen, key }, d = { (size_t)elen, enc };

		if (elen < 0) {   /* one bad record does not lose the batch */
			ret = ret ? ret : elen;
			continue;
		}
		rc = mdb_put(t, ix->cr, &k, &d, 0);
	}
	free(enc);
	rc = finish(t, rc);
	return rc ? rc : ret;
}

int index_created_count(struct index *ix, uint64_t *n)
{
	return db_entries(ix, ix->cr, n);
}

int index_created_del(struct index *ix, const char *run, uint64_t dev, uint64_t ino)
{
	unsigned char key[CRREC_KEY_MAX];
	int klen = crrec_key(run, dev, ino, key), rc;
	MDB_val k = { (size_t)klen, key };
	MDB_txn *t;

	if (klen < 0)
		return klen;
	if ((rc = mdb_txn_begin(ix->env, NULL, 0, &t)))
		return index_errno(rc);
	return finish(t, mdb_del(t, ix->cr, &k, NULL));
}

int index_created_foreach(struct index *ix, const char *run,
			  int (*fn)(const struct created_rec *r, void *arg), void *arg)
{
	size_t plen = run ? strlen(run) + 1 : 0;
	int ret, rc;
	MDB_val k = { plen, (void *)run }, v;
	MDB_txn *t;
	MDB_cursor *c = NULL;
	struct created_rec r;

	if (run && (plen < 2 || plen > UTIL_RUN_MAX))
		return -EINVAL;
	if ((ret = read_begin(ix, ix->cr, &t, &c)))
		return ret;
	for (rc = mdb_cursor_get(c, &k, &v, run ? MDB_SET_RANGE : MDB_FIRST);
	     !rc; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (run && (k.mv_size < plen || memcmp(k.mv_data, run, plen)))
			break;   /* past "<run>\0" */
		if (crrec_decode(k.mv_data, k.mv_size, v.mv_data, v.mv_size, &r) < 0)
			continue;   /* undecodable: skipped (prune drops it) */
		if ((ret = fn(&r, arg)))
			break;
	}
	if (!ret && rc != MDB_NOTFOUND)
		ret = index_errno(rc);
	return read_end(t, c, ret);
}

int index_created_prune(struct index *ix, int64_t before_ns, uint64_t *dropped)
{
	struct created_rec r;
	MDB_cursor *c;
	MDB_val k, v;
	MDB_txn *t;
	int rc;

	*dropped = 0;
	if ((rc = mdb_txn_begin(ix->env, NULL, 0, &t)))
		return index_errno(rc);
	if ((rc = mdb_cursor_open(t, ix->cr, &c))) {
		mdb_txn_abort(t);
		return index_errno(rc);
	}
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); !rc;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (crrec_decode(k.mv_data, k.mv_size, v.mv_data, v.mv_size, &r) == 0 &&
		    r.born_ns >= before_ns)
			continue;
		if ((rc = mdb_cursor_del(c, 0)))
			break;
		(*dropped)++;
	}
	mdb_cursor_close(c);
	return finish(t, rc == MDB_NOTFOUND ? 0 : rc);
}
