/*
 * test_index — the LMDB index, against real environments in mkdtemp dirs.
 * Tests run one at a time; test_threads drives the index from 4 threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <lmdb.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "store/index.h"
#include "testutil.h"

struct fx {
	char tmp[32];      /* mkdtemp dir, removed in teardown */
	char dir[64];      /* tmp/idx: the index dir, created by index_open */
	struct index *ix;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->tmp, "/tmp/gracefs-ix-XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	snprintf(f->dir, sizeof(f->dir), "%s/idx", f->tmp);
	assert_int_equal(index_open(&f->ix, f->dir), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	index_close(f->ix);
	assert_int_equal(rm_tree(f->tmp), 0);
	free(f);
	return 0;
}

static void reopen(struct fx *f)
{
	index_close(f->ix);
	f->ix = NULL;
	assert_int_equal(index_open(&f->ix, f->dir), 0);
}

/* A record whose expiry is exactly `expiry`. */
static struct op_record mk(const char *scope, const char *name, int64_t expiry)
{
	struct op_record r = { .uid = 1000, .gid = 1000, .pid = 77,
		.retention_s = 1000, .items = 3, .bytes = 12288, .state = OP_CLOSED };

	snprintf(r.scope, sizeof(r.scope), "%s", scope);
	snprintf(r.name, sizeof(r.name), "%s", name);
	snprintf(r.cmdline, sizeof(r.cmdline), "rm -r %s", name);
	r.last_ns = (expiry - 1000) * 1000000000;   /* wall: display only */
	r.last_el_ns = r.last_ns;                   /* the expiry index uses this */
	r.first_ns = r.last_ns - 5;
	return r;
}

static void put(struct fx *f, const char *scope, const char *name, int64_t expiry)
{
	struct op_record r = mk(scope, name, expiry);

	assert_int_equal(index_put(f->ix, &r), 0);
}

/* Callback recording what it sees; returns stop_val at call number stop_at. */
struct seen {
	int n, stop_at, stop_val;
	char key[16][2 * (NAME_MAX + 1)];
	int64_t exp[16];
};

static int collect(const struct op_record *r, void *arg)
{
	struct seen *s = arg;

	if (s->n < 16) {
		oprec_key(r->scope, r->name, s->key[s->n], sizeof(s->key[0]));
		s->exp[s->n] = oprec_due(r);
	}
	return ++s->n == s->stop_at ? s->stop_val : 0;
}

static uint64_t count(struct fx *f)
{
	uint64_t n = 12345;

	assert_int_equal(index_count(f->ix, &n), 0);
	return n;
}

/* Entries in a named DB, read with plain LMDB while the index is closed. */
static size_t raw_entries(const char *dir, const char *db)
{
	MDB_env *env;
	MDB_txn *t;
	MDB_dbi dbi;
	MDB_stat st;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 4), 0);
	assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &t), 0);
	assert_int_equal(mdb_dbi_open(t, db, 0, &dbi), 0);
	assert_int_equal(mdb_stat(t, dbi, &st), 0);
	mdb_txn_abort(t);
	mdb_env_close(env);
	return st.ms_entries;
}

static void raw_put_ops(const char *dir, const char *key, const char *val)
{
	MDB_env *env;
	MDB_txn *t;
	MDB_dbi dbi;
	MDB_val k = { strlen(key), (void *)key }, v = { strlen(val), (void *)val };

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 4), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &t), 0);
	assert_int_equal(mdb_dbi_open(t, "ops", 0, &dbi), 0);
	assert_int_equal(mdb_put(t, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(t), 0);
	mdb_env_close(env);
}

static void test_open(void **state)
{
	struct fx *f = *state;
	struct index *ix = (struct index *)1;
	char path[96];
	struct stat st;
	int fd;

	assert_int_equal(stat(f->dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
	assert_int_equal(access(path, F_OK), 0);
	index_close(NULL);

	assert_int_equal(index_open(&ix, "/nonexistent-gracefs/idx"), -ENOENT);
	assert_null(ix);
	snprintf(path, sizeof(path), "%s/file", f->tmp);
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	ix = (struct index *)1;
	assert_int_equal(index_open(&ix, path), -ENOTDIR);
	assert_null(ix);
}

static void test_put_get_del(void **state)
{
	struct fx *f = *state;
	struct op_record r = mk("site", "op1", 5000), out;

	assert_int_equal(index_get(f->ix, "site", "op1", &out), -ENOENT);
	assert_int_equal(index_put(f->ix, &r), 0);
	assert_int_equal(index_get(f->ix, "site", "op1", &out), 0);
	assert_memory_equal(&out, &r, sizeof(r));
	assert_int_equal(index_get(f->ix, "site", "op2", &out), -ENOENT);
	assert_int_equal(index_get(f->ix, "sit", "op1", &out), -ENOENT);
	assert_int_equal(count(f), 1);

	assert_int_equal(index_del(f->ix, "site", "op1"), 0);
	assert_int_equal(index_get(f->ix, "site", "op1", &out), -ENOENT);
	assert_int_equal(index_del(f->ix, "site", "op1"), -ENOENT);
	assert_int_equal(count(f), 0);
	assert_int_equal(index_next_expiry(f->ix, &(int64_t){ 0 }), -ENOENT);
}

static void test_put_replace(void **state)
{
	struct fx *f = *state;
	struct op_record r = mk("site", "op1", 5000), out;

	assert_int_equal(index_put(f->ix, &r), 0);
	assert_int_equal(index_put(f->ix, &r), 0);      /* same expiry again */
	r.items = 99;
	r.hold = 1;
	assert_int_equal(index_put(f->ix, &r), 0);
	assert_int_equal(index_get(f->ix, "site", "op1", &out), 0);
	assert_int_equal(out.items, 99);
	assert_int_equal(out.hold, 1);
	assert_int_equal(count(f), 1);
	index_close(f->ix);
	f->ix = NULL;
	assert_int_equal(raw_entries(f->dir, "expiry"), 1);
	reopen(f);
}

static void test_put_invalid(void **state)
{
	struct fx *f = *state;
	struct op_record r = mk("site", "op1", 5000), out;

	r.state = 0;
	assert_int_equal(index_put(f->ix, &r), -EINVAL);
	r = mk("site", "", 5000);
	assert_int_equal(index_put(f->ix, &r), -EINVAL);
	assert_int_equal(count(f), 0);
	assert_int_equal(index_get(f->ix, "site", "op1", &out), -ENOENT);
}

static void test_max_keys(void **state)
{
	struct fx *f = *state;
	char scope[NAME_MAX + 1], name[NAME_MAX + 1], longer[NAME_MAX + 2];
	struct op_record r, out;
	struct seen s = { 0 };

	memset(scope, 's', NAME_MAX);
	scope[NAME_MAX] = '\0';
	memset(name, 'n', NAME_MAX);
	name[NAME_MAX] = '\0';
	r = mk(scope, name, 4242);
	assert_int_equal(index_put(f->ix, &r), 0);
	put(f, "s", "other", 4000);
	assert_int_equal(index_get(f->ix, scope, name, &out), 0);
	assert_memory_equal(&out, &r, sizeof(r));
	assert_int_equal(index_foreach(f->ix, scope, collect, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(index_foreach_expired(f->ix, 4242, collect, &s), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.exp[2], 4242);

	memset(longer, 'n', NAME_MAX + 1);
	longer[NAME_MAX + 1] = '\0';
	assert_int_equal(index_get(f->ix, scope, longer, &out), -ENAMETOOLONG);
	assert_int_equal(index_del(f->ix, scope, longer), -ENAMETOOLONG);
	assert_int_equal(index_foreach(f->ix, longer, collect, &s), 0);
	assert_int_equal(index_del(f->ix, scope, name), 0);
	assert_int_equal(count(f), 1);
}

static void test_expiry_order(void **state)
{
	struct fx *f = *state;
	struct seen s = { 0 };
	static const char *want[] = { "b/neg", "a/x", "b/x", "a/y", "a/z" };

	put(f, "a", "z", 500);
	put(f, "b", "neg", -5);
	put(f, "b", "x", 100);
	put(f, "a", "x", 100);
	put(f, "a", "y", 300);
	assert_int_equal(index_foreach_expired(f->ix, INT64_MAX, collect, &s), 0);
	assert_int_equal(s.n, 5);
	for (int i = 0; i < 5; i++)
		assert_string_equal(s.key[i], want[i]);
	assert_int_equal(s.exp[0], -5);
	assert_int_equal(s.exp[4], 500);

	memset(&s, 0, sizeof(s));
	assert_int_equal(index_foreach_expired(f->ix, 300, collect, &s), 0);
	assert_int_equal(s.n, 4);                       /* boundary included */
	memset(&s, 0, sizeof(s));
	assert_int_equal(index_foreach_expired(f->ix, -6, collect, &s), 0);
	assert_int_equal(s.n, 0);
}

static void test_expiry_replace(void **state)
{
	struct fx *f = *state;
	struct seen s = { 0 };
	int64_t e;

	put(f, "a", "A", 100);
	put(f, "a", "B", 200);
	put(f, "a", "A", 300);                          /* A moves later */
	assert_int_equal(index_foreach_expired(f->ix, 250, collect, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.key[0], "a/B");
	assert_int_equal(index_next_expiry(f->ix, &e), 0);
	assert_int_equal(e, 200);
	memset(&s, 0, sizeof(s));
	assert_int_equal(index_foreach_expired(f->ix, INT64_MAX, collect, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.key[1], "a/A");
	assert_int_equal(s.exp[1], 300);

	/* the old entry is gone from the DB, not merely skipped */
	index_close(f->ix);
	f->ix = NULL;
	assert_int_equal(raw_entries(f->dir, "expiry"), 2);
	reopen(f);
	assert_int_equal(index_del(f->ix, "a", "A"), 0);
	index_close(f->ix);
	f->ix = NULL;
	assert_int_equal(raw_entries(f->dir, "expiry"), 1);
	assert_int_equal(raw_entries(f->dir, "ops"), 1);
	reopen(f);
}

static void test_foreach_scope(void **state)
{
	struct fx *f = *state;
	struct seen s = { 0 };

	put(f, "ab", "1", 10);
	put(f, "a", "2", 10);
	put(f, "a-b", "1", 10);
	put(f, "", "r1", 10);
	put(f, "a", "1", 10);
	put(f, "b", "1", 10);

	assert_int_equal(index_foreach(f->ix, "a", collect, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.key[0], "a/1");
	assert_string_equal(s.key[1], "a/2");
	memset(&s, 0, sizeof(s));
	assert_int_equal(index_foreach(f->ix, "ab", collect, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.key[0], "ab/1");
	memset(&s, 0, sizeof(s));
	assert_int_equal(index_foreach(f->ix, "", collect, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.key[0], "/r1");
	memset(&s, 0, sizeof(s));
	assert_int_equal(index_foreach(f->ix, "zz", collect, &s), 0);
	assert_int_equal(s.n, 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(index_foreach(f->ix, NULL, collect, &s), 0);
	assert_int_equal(s.n, 6);
	for (int i = 1; i < 6; i++)
		assert_true(strcmp(s.key[i - 1], s.key[i]) < 0);
}

static void test_foreach_stop(void **state)
{
	struct fx *f = *state;
	struct seen s = { .stop_at = 2, .stop_val = 42 };

	for (int i = 0; i < 5; i++) {
		char name[8];

		snprintf(name, sizeof(name), "op%d", i);
		put(f, "s", name, 100 + i);
	}
	assert_int_equal(index_foreach(f->ix, NULL, collect, &s), 42);
	assert_int_equal(s.n, 2);
	s = (struct seen){ .stop_at = 1, .stop_val = -1 };
	assert_int_equal(index_foreach(f->ix, "s", collect, &s), -1);
	assert_int_equal(s.n, 1);
	s = (struct seen){ .stop_at = 3, .stop_val = -EINTR };
	assert_int_equal(index_foreach_expired(f->ix, INT64_MAX, collect, &s), -EINTR);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.exp[2], 102);
}

static void test_next_expiry(void **state)
{
	struct fx *f = *state;
	int64_t e = 7;

	assert_int_equal(index_next_expiry(f->ix, &e), -ENOENT);
	put(f, "s", "late", 900);
	put(f, "s", "early", 300);
	put(f, "t", "mid", 600);
	assert_int_equal(index_next_expiry(f->ix, &e), 0);
	assert_int_equal(e, 300);
	assert_int_equal(index_del(f->ix, "s", "early"), 0);
	assert_int_equal(index_next_expiry(f->ix, &e), 0);
	assert_int_equal(e, 600);
	assert_int_equal(index_clear(f->ix), 0);
	assert_int_equal(index_next_expiry(f->ix, &e), -ENOENT);
}

static void test_count_clear(void **state)
{
	struct fx *f = *state;
	struct seen s = { 0 };

	for (int i = 0; i < 2000; i++) {
		char name[16];

		snprintf(name, sizeof(name), "op%05d", i);
		put(f, i % 2 ? "odd" : "even", name, 1000 + i % 37);
	}
	assert_int_equal(count(f), 2000);
	assert_int_equal(index_sync(f->ix), 0);
	assert_int_equal(index_clear(f->ix), 0);
	assert_int_equal(count(f), 0);
	assert_int_equal(index_foreach(f->ix, NULL, collect, &s), 0);
	assert_int_equal(index_foreach_expired(f->ix, INT64_MAX, collect, &s), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(index_clear(f->ix), 0);        /* clearing empty is fine */
	put(f, "odd", "op00001", 5);
	assert_int_equal(count(f), 1);
}

static void test_reopen(void **state)
{
	struct fx *f = *state;
	struct op_record r = mk("site", "keep", 777), out;
	int64_t e;

	assert_int_equal(index_put(f->ix, &r), 0);
	put(f, "site", "other", 999);
	put(f, "", "root", 888);
	reopen(f);
	assert_int_equal(count(f), 3);
	assert_int_equal(index_get(f->ix, "site", "keep", &out), 0);
	assert_memory_equal(&out, &r, sizeof(r));
	assert_int_equal(index_next_expiry(f->ix, &e), 0);
	assert_int_equal(e, 777);
}

static void test_corrupt_file(void **state)
{
	struct fx *f = *state;
	struct index *ix = (struct index *)1;
	unsigned char junk[65536];
	char path[96];
	int fd;

	put(f, "site", "op", 100);
	index_close(f->ix);
	f->ix = NULL;
	snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(i * 131 + 7);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, junk, sizeof(junk), 0), sizeof(junk));
	close(fd);
	assert_int_equal(index_open(&ix, f->dir), -EIO);
	assert_null(ix);

	/* a short garbage file */
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, junk, 100), 100);
	close(fd);
	assert_int_equal(index_open(&ix, f->dir), -EIO);
	assert_null(ix);

	/* the caller's recovery: remove and start over */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(index_open(&f->ix, f->dir), 0);
	assert_int_equal(count(f), 0);
}

static void test_corrupt_record(void **state)
{
	struct fx *f = *state;
	struct op_record out;
	struct seen s = { 0 };
	int64_t e;

	put(f, "s", "A", 100);
	put(f, "s", "B", 200);
	index_close(f->ix);
	f->ix = NULL;
	raw_put_ops(f->dir, "s/A", "garbage");
	reopen(f);

	assert_int_equal(index_get(f->ix, "s", "A", &out), -EIO);
	assert_int_equal(out.name[0], '\0');
	assert_int_equal(index_get(f->ix, "s", "B", &out), 0);
	assert_int_equal(index_foreach(f->ix, NULL, collect, &s), -EIO);
	assert_int_equal(index_foreach_expired(f->ix, INT64_MAX, collect, &s), -EIO);

	/* replacing the bad record leaves a stale expiry entry at 100, which
	 * must never be reported */
	put(f, "s", "A", 300);
	memset(&s, 0, sizeof(s));
	assert_int_equal(index_foreach_expired(f->ix, INT64_MAX, collect, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.key[0], "s/B");
	assert_string_equal(s.key[1], "s/A");
	assert_int_equal(index_next_expiry(f->ix, &e), 0);
	assert_int_equal(e, 200);
	assert_int_equal(index_del(f->ix, "s", "B"), 0);
	assert_int_equal(index_next_expiry(f->ix, &e), 0);
	assert_int_equal(e, 300);
	assert_int_equal(index_del(f->ix, "s", "A"), 0);
	assert_int_equal(index_next_expiry(f->ix, &e), -ENOENT);
}

static int nested_get(const struct op_record *r, void *arg)
{
	struct index *ix = arg;
	struct op_record out;
	int rc = index_get(ix, r->scope, r->name, &out);

	return rc ? rc : memcmp(&out, r, sizeof(out)) ? -EBADMSG : 0;
}

static void test_nested_read(void **state)
{
	struct fx *f = *state;

	put(f, "s", "A", 100);
	put(f, "t", "B", 200);
	assert_int_equal(index_foreach(f->ix, NULL, nested_get, f->ix), 0);
	assert_int_equal(index_foreach_expired(f->ix, INT64_MAX, nested_get, f->ix), 0);
}

struct worker {
	struct index *ix;
	int id, rc;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct op_record r, out;
	char scope[16], name[16];

	snprintf(scope, sizeof(scope), "t%d", w->id);
	for (int i = 0; i < 250 && !w->rc; i++) {
		snprintf(name, sizeof(name), "op%d", i);
		r = mk(scope, name, 1000 + i);
		w->rc = index_put(w->ix, &r);
		if (!w->rc)
			w->rc = index_get(w->ix, scope, name, &out);
		if (!w->rc && memcmp(&out, &r, sizeof(r)))
			w->rc = -EBADMSG;
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct fx *f = *state;
	struct worker w[4];
	pthread_t th[4];
	struct seen s = { 0 };

	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ .ix = f->ix, .id = i };
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].rc, 0);
	}
	assert_int_equal(count(f), 1000);
	assert_int_equal(index_foreach(f->ix, "t2", collect, &s), 0);
	assert_int_equal(s.n, 250);
}

static void test_errno(void **state)
{
	(void)state;
	assert_int_equal(index_errno(MDB_SUCCESS), 0);
	assert_int_equal(index_errno(MDB_NOTFOUND), -ENOENT);
	assert_int_equal(index_errno(MDB_MAP_FULL), -ENOSPC);
	assert_int_equal(index_errno(MDB_CORRUPTED), -EIO);
	assert_int_equal(index_errno(MDB_INVALID), -EIO);
	assert_int_equal(index_errno(MDB_VERSION_MISMATCH), -EIO);
	assert_int_equal(index_errno(MDB_PANIC), -EIO);
	assert_int_equal(index_errno(EACCES), -EACCES);
	assert_int_equal(index_errno(ENOMEM), -ENOMEM);
}


/* ---- the trash-link table ---- */

static void test_tlink_counts(void **state)
{
	struct fx *f = *state;
	const char key[] = "handle-1";
	uint32_t n = 99, now;

	assert_int_equal(index_tlink_get(f->ix, key, sizeof(key), &n), -ENOENT);
	assert_int_equal(n, 0);
	/* taking from nothing creates nothing */
	assert_int_equal(index_tlink_add(f->ix, key, sizeof(key), -1, &now), 0);
	assert_int_equal(now, 0);
	assert_int_equal(index_tlink_get(f->ix, key, sizeof(key), &n), -ENOENT);

	assert_int_equal(index_tlink_add(f->ix, key, sizeof(key), 1, &now), 0);
	assert_int_equal(now, 1);
	assert_int_equal(index_tlink_add(f->ix, key, sizeof(key), 2, &now), 0);
	assert_int_equal(now, 3);
	assert_int_equal(index_tlink_get(f->ix, key, sizeof(key), &n), 0);
	assert_int_equal(n, 3);
	/* never below 0, and a record at 0 stays: "known, all links live" */
	assert_int_equal(index_tlink_add(f->ix, key, sizeof(key), -5, &now), 0);
	assert_int_equal(now, 0);
	n = 99;
	assert_int_equal(index_tlink_get(f->ix, key, sizeof(key), &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(index_tlink_add(f->ix, key, sizeof(key), 1, NULL), 0);
	assert_int_equal(index_tlink_get(f->ix, key, sizeof(key), &n), 0);
	assert_int_equal(n, 1);
	/* ... until deleted */
	assert_int_equal(index_tlink_del(f->ix, key, sizeof(key)), 0);
	assert_int_equal(index_tlink_get(f->ix, key, sizeof(key), &n), -ENOENT);
	assert_int_equal(index_tlink_del(f->ix, key, sizeof(key)), -ENOENT);
}

static void test_tlink_bad_keys(void **state)
{
	struct fx *f = *state;
	char big[INDEX_TLINK_KEY_MAX + 1] = {0};
	uint32_t n;

	assert_int_equal(index_tlink_get(f->ix, big, 0, &n), -EINVAL);
	assert_int_equal(index_tlink_get(f->ix, big, sizeof(big), &n), -EINVAL);
	assert_int_equal(index_tlink_add(f->ix, big, sizeof(big), 1, NULL), -EINVAL);
	assert_int_equal(index_tlink_add(f->ix, big, 0, 1, NULL), -EINVAL);
	assert_int_equal(index_tlink_del(f->ix, big, sizeof(big)), -EINVAL);
	/* the longest key works */
	assert_int_equal(index_tlink_add(f->ix, big, INDEX_TLINK_KEY_MAX, 1, NULL), 0);
	assert_int_equal(index_tlink_get(f->ix, big, INDEX_TLINK_KEY_MAX, &n), 0);
	assert_int_equal(n, 1);
}

struct tl_seen {
	char keys[8][16];
	uint32_t counts[8];
	int n;
};

static int tl_collect(const void *key, size_t klen, uint32_t n, void *arg)
{
	struct tl_seen *s = arg;

	assert_true(s->n < 8 && klen < 16);
	memcpy(s->keys[s->n], key, klen);
	s->keys[s->n][klen] = '\0';
	s->counts[s->n++] = n;
	return 0;
}

static int tl_stop(const void *key, size_t klen, uint32_t n, void *arg)
{
	(void)key, (void)klen, (void)n;
	return ++*(int *)arg == 2 ? 42 : 0;
}

static void test_tlink_foreach_reopen(void **state)
{
	struct fx *f = *state;
	struct tl_seen s = {0};
	uint64_t count;
	int calls = 0;

	assert_int_equal(index_tlink_count(f->ix, &count), 0);
	assert_int_equal(count, 0);
	assert_int_equal(index_tlink_add(f->ix, "b", 1, 2, NULL), 0);
	assert_int_equal(index_tlink_add(f->ix, "a", 1, 1, NULL), 0);
	assert_int_equal(index_tlink_add(f->ix, "c", 1, 1, NULL), 0);
	assert_int_equal(index_tlink_add(f->ix, "c", 1, -1, NULL), 0);
	/* op records and tlinks are separate tables */
	struct op_record r = mk("s", "op", 100);
	assert_int_equal(index_put(f->ix, &r), 0);
	reopen(f);   /* survives a restart */
	assert_int_equal(index_tlink_count(f->ix, &count), 0);
	assert_int_equal(count, 3);
	assert_int_equal(index_tlink_foreach(f->ix, tl_collect, &s), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.keys[0], "a");
	assert_int_equal(s.counts[0], 1);
	assert_string_equal(s.keys[1], "b");
	assert_int_equal(s.counts[1], 2);
	assert_string_equal(s.keys[2], "c");
	assert_int_equal(s.counts[2], 0);
	assert_int_equal(index_tlink_foreach(f->ix, tl_stop, &calls), 42);
	assert_int_equal(calls, 2);
	/* a rebuild of the op records keeps the counts (they cannot be rebuilt) */
	assert_int_equal(index_clear(f->ix), 0);
	assert_int_equal(index_tlink_count(f->ix, &count), 0);
	assert_int_equal(count, 3);
	assert_int_equal(index_count(f->ix, &count), 0);
	assert_int_equal(count, 0);
}

static void test_tlop(void **state)
{
	struct fx *f = *state;
	char longname[NAME_MAX + 2];
	uint32_t n = 9;

	assert_int_equal(index_tlop_get(f->ix, "op", &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(index_tlop_add(f->ix, "op", -1), 0);
	assert_int_equal(index_tlop_add(f->ix, "op", 2), 0);
	assert_int_equal(index_tlop_add(f->ix, "other", 1), 0);
	assert_int_equal(index_tlop_get(f->ix, "op", &n), 0);
	assert_int_equal(n, 2);
	reopen(f);
	assert_int_equal(index_tlop_add(f->ix, "op", -INT32_MAX), 0);
	assert_int_equal(index_tlop_get(f->ix, "op", &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(index_tlop_get(f->ix, "other", &n), 0);
	assert_int_equal(n, 1);
	/* separate from the inode counts */
	assert_int_equal(index_tlink_get(f->ix, "other", 5, &n), -ENOENT);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(index_tlop_add(f->ix, longname, 1), -EINVAL);
	assert_int_equal(index_tlop_add(f->ix, "", 1), -EINVAL);
	assert_int_equal(index_tlop_get(f->ix, "", &n), -EINVAL);
}

/* A hint goes in with its record, counts while the record has one item
 * and the same last_ns, and leaves with it. */
static void test_hint(void **state)
{
	struct fx *f = *state;
	struct op_record r = mk("site", "op1", 5000), r2 = mk("site", "op2", 5000);
	const char *names[] = { "op1" };
	char path[64], longp[INDEX_HINT_MAX + 1];
	mode_t mode = 0;

	r.items = r2.items = 1;
	assert_int_equal(index_hint_get(f->ix, &r, path, sizeof(path), &mode), -ENOENT);
	assert_int_equal(index_put_hint(f->ix, &r, "d/f", S_IFREG | 0640), 0);
	assert_int_equal(index_hint_get(f->ix, &r, path, sizeof(path), &mode), 0);
	assert_string_equal(path, "d/f");
	assert_int_equal(mode, S_IFREG | 0640);
	assert_int_equal(index_hint_get(f->ix, &r, path, 3, &mode), -ENOENT);   /* too small */
	/* a plain put (a recount, a hold) leaves it; it still counts */
	r.hold = 1;
	assert_int_equal(index_put(f->ix, &r), 0);
	assert_int_equal(index_hint_get(f->ix, &r, path, sizeof(path), &mode), 0);
	/* another item came: the hint does not count (items, then last_ns) */
	r.items = 2;
	assert_int_equal(index_hint_get(f->ix, &r, path, sizeof(path), &mode), -ENOENT);
	r.items = 1;
	r.last_ns++;
	assert_int_equal(index_hint_get(f->ix, &r, path, sizeof(path), &mode), -ENOENT);
	r.last_ns--;
	reopen(f);
	assert_int_equal(index_hint_get(f->ix, &r, path, sizeof(path), &mode), 0);
	/* it leaves with its record: del, drop, clear */
	assert_int_equal(index_del(f->ix, "site", "op1"), 0);
	assert_int_equal(index_hint_get(f->ix, &r, path, sizeof(path), &mode), -ENOENT);
	assert_int_equal(index_put_hint(f->ix, &r, "f", S_IFREG), 0);
	assert_int_equal(index_put_hint(f->ix, &r2, "g", S_IFLNK), 0);
	assert_int_equal(index_drop_ops(f->ix, "site", names, 1), 0);
	assert_int_equal(index_hint_get(f->ix, &r, path, sizeof(path), &mode), -ENOENT);
	assert_int_equal(index_hint_get(f->ix, &r2, path, sizeof(path), &mode), 0);
	assert_int_equal(index_clear(f->ix), 0);
	assert_int_equal(index_put(f->ix, &r2), 0);
	assert_int_equal(index_hint_get(f->ix, &r2, path, sizeof(path), &mode), -ENOENT);
	/* an empty or over-long path stores the record, no hint */
	memset(longp, 'x', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(index_put_hint(f->ix, &r2, "", S_IFREG), 0);
	assert_int_equal(index_put_hint(f->ix, &r2, longp, S_IFREG), 0);
	assert_int_equal(index_hint_get(f->ix, &r2, path, sizeof(path), &mode), -ENOENT);
	assert_int_equal(count(f), 1);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_open),
		T(test_put_get_del),
		T(test_put_replace),
		T(test_put_invalid),
		T(test_max_keys),
		T(test_expiry_order),
		T(test_expiry_replace),
		T(test_foreach_scope),
		T(test_foreach_stop),
		T(test_next_expiry),
		T(test_count_clear),
		T(test_reopen),
		T(test_corrupt_file),
		T(test_corrupt_record),
		T(test_nested_read),
		T(test_threads),
		T(test_tlink_counts),
		T(test_tlink_bad_keys),
		T(test_tlink_foreach_reopen),
		T(test_tlop),
		T(test_hint),
		cmocka_unit_test(test_errno),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
