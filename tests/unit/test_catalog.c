/*
 * test_catalog — the SQLite catalog against real files in mkdtemp dirs:
 * schema versions and migrations, sites, protected paths, the append-only
 * audit log, plans, the errno mapping.  test_threads appends from 4 threads.
 */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "store/catalog.h"
#include "testutil.h"

struct fx {
	char tmp[32];
	char path[64];
	struct catalog *c;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->tmp, "/tmp/gracefs-cat-XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	snprintf(f->path, sizeof(f->path), "%s/catalog.db", f->tmp);
	*state = f;
	return 0;
}

static int setup_open(void **state)
{
	struct fx *f;

	setup(state);
	f = *state;
	assert_int_equal(catalog_open(&f->c, f->path, false, NULL), 0);
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	catalog_close(f->c);
	assert_int_equal(rm_tree(f->tmp), 0);
	free(f);
	return 0;
}

/* Run SQL on a separate raw connection; returns the sqlite rc. */
static int raw(const char *path, const char *sql)
{
	sqlite3 *db;
	int rc;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_extended_result_codes(db, 1);
	rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

/* A single integer from a raw connection. */
static int64_t raw_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	int64_t v = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

/* ---- schema ---- */

static void test_open_fresh(void **state)
{
	struct fx *f = *state;
	int found = -1;
	char wal[80];
	struct stat st;

	assert_int_equal(catalog_open(&f->c, f->path, false, &found), 0);
	assert_int_equal(found, 0);   /* a new file */
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), CATALOG_SCHEMA_VERSION);
	catalog_close(f->c);
	assert_int_equal(catalog_open(&f->c, f->path, false, &found), 0);
	assert_int_equal(found, CATALOG_SCHEMA_VERSION);
	/* WAL mode: the -wal file exists while a writer has the file open */
	assert_int_equal(catalog_plan_put(f->c, "t", 1, "b"), 0);
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	assert_int_equal(stat(wal, &st), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_master WHERE name = 'audit'"), 1);
}

static void test_newer_refused(void **state)
{
	struct fx *f = *state;
	int found = 0;

	assert_int_equal(raw(f->path, "PRAGMA user_version = 99"), SQLITE_OK);
	assert_int_equal(catalog_open(&f->c, f->path, false, &found), -EPROTO);
	assert_null(f->c);
	assert_int_equal(found, 99);
	/* untouched: no schema added, version kept */
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_master"), 0);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 99);
	assert_int_equal(catalog_open(&f->c, f->path, true, &found), -EPROTO);
}

/* A migration that fails leaves the file at its old version, with none of
 * the migration's tables. */
static void test_migration_atomic(void **state)
{
	struct fx *f = *state;

	assert_int_equal(raw(f->path, "CREATE TABLE plans(x)"), SQLITE_OK);
	assert_int_not_equal(catalog_open(&f->c, f->path, false, NULL), 0);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_master WHERE name = 'sites'"), 0);
	/* with the obstacle gone it migrates */
	assert_int_equal(raw(f->path, "DROP TABLE plans"), SQLITE_OK);
	assert_int_equal(catalog_open(&f->c, f->path, false, NULL), 0);
}

static void test_readonly(void **state)
{
	struct fx *f = *state;
	struct catalog_site s = { .id = "www", .kind = "site", .created_s = 5 };
	struct catalog *ro;
	int found = -1;

	assert_int_equal(catalog_open(&ro, f->path, true, &found), -ENOENT);
	assert_int_equal(access(f->path, F_OK), -1);   /* not created */
	assert_int_equal(catalog_open(&f->c, f->path, false, NULL), 0);
	assert_int_equal(catalog_site_upsert(f->c, &s), 0);
	assert_int_equal(catalog_open(&ro, f->path, true, &found), 0);
	assert_int_equal(found, CATALOG_SCHEMA_VERSION);
	assert_int_equal(catalog_site_get(ro, "www", &s), 0);
	assert_int_equal(catalog_site_set_hold(ro, "www", true), -EROFS);
	catalog_close(ro);
	/* an older file cannot be read without migrating it */
	assert_int_equal(raw(f->path, "PRAGMA user_version = 0"), SQLITE_OK);
	assert_int_equal(catalog_open(&ro, f->path, true, &found), -EPROTO);
	assert_int_equal(found, 0);
}

/* ---- sites ---- */

static int collect_ids(const struct catalog_site *s, void *arg)
{
	strcat(arg, s->id);
	strcat(arg, ",");
	return 0;
}

static int stop_at_first(const struct catalog_site *s, void *arg)
{
	(void)s, (void)arg;
	return 42;
}

static void test_sites(void **state)
{
	struct fx *f = *state;
	struct catalog_site s = { .id = "b.example", .kind = "site", .created_s = 100,
				  .retention_s = 7 * 86400 }, g;
	char ids[256] = "";

	assert_int_equal(catalog_site_upsert(f->c, &s), 0);
	strcpy(s.id, "a.example");
	s.retention_s = 0;
	assert_int_equal(catalog_site_upsert(f->c, &s), 0);
	assert_int_equal(catalog_site_get(f->c, "b.example", &g), 0);
	assert_string_equal(g.kind, "site");
	assert_int_equal(g.created_s, 100);
	assert_int_equal(g.retention_s, 7 * 86400);
	assert_int_equal(g.state, CATALOG_ACTIVE);
	assert_false(g.hold);
	assert_int_equal(catalog_site_get(f->c, "a.example", &g), 0);
	assert_int_equal(g.retention_s, 0);   /* NULL: the mount's default */

	/* upsert of an existing site: kind and state change, the rest stays */
	assert_int_equal(catalog_site_set_hold(f->c, "b.example", true), 0);
	s = (struct catalog_site){ .id = "b.example", .kind = "app", .created_s = 999,
				   .state = CATALOG_TRASHED, .retention_s = 3600 };
	assert_int_equal(catalog_site_upsert(f->c, &s), 0);
	assert_int_equal(catalog_site_get(f->c, "b.example", &g), 0);
	assert_string_equal(g.kind, "app");
	assert_int_equal(g.state, CATALOG_TRASHED);
	assert_int_equal(g.created_s, 100);
	assert_int_equal(g.retention_s, 7 * 86400);
	assert_true(g.hold);

	assert_int_equal(catalog_site_list(f->c, collect_ids, ids), 0);
	assert_string_equal(ids, "a.example,b.example,");
	assert_int_equal(catalog_site_list(f->c, stop_at_first, NULL), 42);

	assert_int_equal(catalog_site_set_retention(f->c, "a.example", 86400), 0);
	assert_int_equal(catalog_site_get(f->c, "a.example", &g), 0);
	assert_int_equal(g.retention_s, 86400);
	assert_int_equal(catalog_site_set_retention(f->c, "a.example", 0), 0);
	assert_int_equal(catalog_site_get(f->c, "a.example", &g), 0);
	assert_int_equal(g.retention_s, 0);
	assert_int_equal(catalog_site_set_state(f->c, "a.example", CATALOG_TRASHED), 0);
	assert_int_equal(catalog_site_get(f->c, "a.example", &g), 0);
	assert_int_equal(g.state, CATALOG_TRASHED);
	assert_string_equal(catalog_state_name(g.state), "trashed");

	assert_int_equal(catalog_site_get(f->c, "nope", &g), -ENOENT);
	assert_int_equal(catalog_site_set_hold(f->c, "nope", true), -ENOENT);
	assert_int_equal(catalog_site_set_retention(f->c, "nope", 5), -ENOENT);
	assert_int_equal(catalog_site_set_retention(f->c, "a.example", -5), -EINVAL);
	assert_int_equal(catalog_site_set_state(f->c, "a.example", 7), -EINVAL);
}

static void test_site_validation(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = { "", ".", "..", ".trash", ".gracefs", "a/b" };
	struct catalog_site s = { .kind = "site" };
	char ids[8] = "";

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(s.id, sizeof(s.id), "%s", bad[i]);
		assert_false(catalog_site_id_valid(bad[i]));
		assert_int_equal(catalog_site_upsert(f->c, &s), -EINVAL);
	}
	strcpy(s.id, "ok");
	strcpy(s.kind, "Bad Kind");
	assert_int_equal(catalog_site_upsert(f->c, &s), -EINVAL);
	strcpy(s.kind, "");
	assert_int_equal(catalog_site_upsert(f->c, &s), -EINVAL);
	strcpy(s.kind, "site");
	s.retention_s = -1;
	assert_int_equal(catalog_site_upsert(f->c, &s), -EINVAL);
	assert_int_equal(catalog_site_list(f->c, collect_ids, ids), 0);
	assert_string_equal(ids, "");   /* nothing was stored */
	assert_true(catalog_site_id_valid("www.example.org"));
	assert_true(catalog_site_id_valid("a:b"));
	assert_true(catalog_kind_valid("app"));
	assert_true(catalog_kind_valid("wp-site_2"));
	assert_true(catalog_kind_valid("abcdefghijklmnopqrstuvwxyz012345"));    /* 32 */
	assert_false(catalog_kind_valid("abcdefghijklmnopqrstuvwxyz0123456"));  /* 33 */
	assert_false(catalog_kind_valid("App"));
	assert_false(catalog_kind_valid("a b"));
}

/* ---- protected paths ---- */

static void norm_ok(const char *in, const char *want)
{
	char out[64];

	assert_int_equal(catalog_path_normalize(in, out, sizeof(out)), 0);
	assert_string_equal(out, want);
}

static void test_normalize(void **state)
{
	char out[8];

	(void)state;
	norm_ok("wiki/2024", "wiki/2024");
	norm_ok("/wiki//2024/", "wiki/2024");
	norm_ok("/", "");
	norm_ok("", "");
	norm_ok("a/.trash", "a/.trash");   /* .trash below a site root is ordinary */
	norm_ok("..a/b..", "..a/b..");
	assert_int_equal(catalog_path_normalize("a/../b", out, sizeof(out)), -EINVAL);
	assert_int_equal(catalog_path_normalize("./a", out, sizeof(out)), -EINVAL);
	assert_int_equal(catalog_path_normalize("/.trash/x", out, sizeof(out)), -EINVAL);
	assert_int_equal(catalog_path_normalize("abcdefghij", out, sizeof(out)), -ENAMETOOLONG);
	assert_int_equal(catalog_path_normalize("abcd/efg", out, sizeof(out)), -ENAMETOOLONG);
	assert_int_equal(catalog_path_normalize("abc/efg", out, sizeof(out)), 0);
}

static void test_protect(void **state)
{
	struct fx *f = *state;
	struct catalog_site s = { .id = "www", .kind = "site" };
	struct catalog_protected *l;

	assert_int_equal(catalog_protect(f->c, "www", "wiki"), -ENOENT);   /* unknown site */
	assert_int_equal(catalog_site_upsert(f->c, &s), 0);
	strcpy(s.id, "other");
	assert_int_equal(catalog_site_upsert(f->c, &s), 0);
	assert_int_equal(catalog_protect(f->c, "www", "/wiki/2024/"), 0);
	assert_int_equal(catalog_protect(f->c, "www", "wiki//2024"), -EEXIST);
	assert_int_equal(catalog_protect(f->c, "www", "etc/passwd"), 0);
	assert_int_equal(catalog_protect(f->c, "www", "../x"), -EINVAL);
	assert_int_equal(catalog_protect(f->c, "a/b", "x"), -EINVAL);

	assert_int_equal(catalog_protected_list(f->c, &l), 0);
	assert_int_equal(l->n, 2);
	assert_string_equal(l->v[0].path, "etc/passwd");   /* sorted */
	assert_string_equal(l->v[1].path, "wiki/2024");
	assert_true(catalog_path_is_protected(l, "www", "wiki/2024"));
	assert_true(catalog_path_is_protected(l, "www", "/wiki/2024"));
	assert_true(catalog_path_is_protected(l, "www", "wiki/2024/a/b"));
	assert_false(catalog_path_is_protected(l, "www", "wiki/20245"));
	assert_false(catalog_path_is_protected(l, "www", "wiki"));
	assert_false(catalog_path_is_protected(l, "www", ""));
	assert_false(catalog_path_is_protected(l, "other", "wiki/2024"));
	assert_false(catalog_path_is_protected(NULL, "www", "wiki/2024"));
	/* removing an ancestor takes the protected path with it */
	assert_true(catalog_path_covers_protected(l, "www", "wiki"));
	assert_true(catalog_path_covers_protected(l, "www", ""));
	assert_true(catalog_path_covers_protected(l, "www", "wiki/2024/x"));
	assert_false(catalog_path_covers_protected(l, "www", "wik"));
	assert_false(catalog_path_covers_protected(l, "other", ""));
	catalog_protected_free(l);

	/* "/" protects the whole site */
	assert_int_equal(catalog_protect(f->c, "other", "/"), 0);
	assert_int_equal(catalog_protected_list(f->c, &l), 0);
	assert_true(catalog_path_is_protected(l, "other", ""));
	assert_true(catalog_path_is_protected(l, "other", "any/thing"));
	catalog_protected_free(l);

	assert_int_equal(catalog_unprotect(f->c, "www", "wiki/2024"), 0);
	assert_int_equal(catalog_unprotect(f->c, "www", "wiki/2024"), -ENOENT);
	assert_int_equal(catalog_protected_list(f->c, &l), 0);
	assert_int_equal(l->n, 2);
	assert_false(catalog_path_is_protected(l, "www", "wiki/2024"));
	catalog_protected_free(l);
}

/* ---- audit ---- */

struct rows {
	size_t n;
	struct audit_row r[16];
	char text[16][5][64];
};

static const char *keep(struct rows *rs, int k, const char *s)
{
	if (!s)
		return NULL;
	snprintf(rs->text[rs->n][k], sizeof(rs->text[0][0]), "%s", s);
	return rs->text[rs->n][k];
}

static int collect_rows(const struct audit_row *a, void *arg)
{
	struct rows *rs = arg;

	if (rs->n == 16)
		return 1;
	rs->r[rs->n] = *a;
	rs->r[rs->n].event = keep(rs, 0, a->event);
	rs->r[rs->n].site = keep(rs, 1, a->site);
	rs->r[rs->n].op = keep(rs, 2, a->op);
	rs->r[rs->n].detail = keep(rs, 3, a->detail);
	rs->r[rs->n].run = keep(rs, 4, a->run);
	rs->r[rs->n].path = rs->r[rs->n].cmdline = NULL;
	rs->n++;
	return 0;
}

static void sample_rows(struct audit_row r[4])
{
	for (int i = 0; i < 4; i++)
		r[i] = (struct audit_row)AUDIT_ROW_INIT;
	r[0].ts_ns = 1000; r[0].event = "delete"; r[0].site = "www"; r[0].op = "op1";
	r[0].uid = 1000; r[0].pid = 42; r[0].cmdline = "rm -rf x"; r[0].detail = "items=3";
	r[1].ts_ns = 2000; r[1].event = "restore"; r[1].site = "www"; r[1].op = "op1";
	r[1].path = "x/y";
	r[2].ts_ns = 3000; r[2].event = "delete"; r[2].site = "blog"; r[2].op = "op2";
	r[3].ts_ns = 4000; r[3].event = "hold"; r[3].site = "blog";
}

static void query(struct fx *f, const struct catalog_audit_filter *flt, struct rows *rs)
{
	memset(rs, 0, sizeof(*rs));
	assert_int_equal(catalog_audit_query(f->c, flt, collect_rows, rs), 0);
}

static void test_audit_append_query(void **state)
{
	struct fx *f = *state;
	struct audit_row r[4];
	struct rows rs;

	sample_rows(r);
	assert_int_equal(catalog_audit_append_batch(f->c, r, 4), 0);
	assert_int_equal(catalog_audit_append_batch(f->c, r, 0), 0);
	query(f, &(struct catalog_audit_filter){0}, &rs);
	assert_int_equal(rs.n, 4);
	assert_int_equal(rs.r[0].seq, 1);
	assert_int_equal(rs.r[3].seq, 4);
	assert_string_equal(rs.r[0].event, "delete");
	assert_int_equal(rs.r[0].uid, 1000);
	assert_int_equal(rs.r[0].pid, 42);
	assert_string_equal(rs.r[0].detail, "items=3");
	assert_int_equal(rs.r[1].uid, -1);      /* NULL round-trips */
	assert_null(rs.r[3].op);

	query(f, &(struct catalog_audit_filter){ .since_ns = 2000, .until_ns = 4000 }, &rs);
	assert_int_equal(rs.n, 2);
	assert_int_equal(rs.r[0].ts_ns, 2000);
	assert_int_equal(rs.r[1].ts_ns, 3000);
	query(f, &(struct catalog_audit_filter){ .site = "blog" }, &rs);
	assert_int_equal(rs.n, 2);
	query(f, &(struct catalog_audit_filter){ .op = "op1", .event = "restore" }, &rs);
	assert_int_equal(rs.n, 1);
	assert_int_equal(rs.r[0].seq, 2);
	query(f, &(struct catalog_audit_filter){ .after_seq = 1, .limit = 2 }, &rs);
	assert_int_equal(rs.n, 2);
	assert_int_equal(rs.r[0].seq, 2);
	assert_int_equal(rs.r[1].seq, 3);
	query(f, &(struct catalog_audit_filter){ .limit = 2, .newest = true }, &rs);
	assert_int_equal(rs.n, 2);   /* the last two, oldest of them first */
	assert_true(rs.r[0].seq < rs.r[1].seq);
	assert_int_equal(rs.r[1].seq, 4);
	query(f, &(struct catalog_audit_filter){ .site = "none" }, &rs);
	assert_int_equal(rs.n, 0);
}

/* Rows carry their run; a --run query gets the run's rows and every row
 * about an op they name (another process's undo of it), nothing else. */
static void test_audit_run(void **state)
{
	struct fx *f = *state;
	struct audit_row r[5];
	struct rows rs;

	for (int i = 0; i < 5; i++)
		r[i] = (struct audit_row)AUDIT_ROW_INIT;
	r[0].event = "delete"; r[0].site = "www"; r[0].op = "op1"; r[0].run = "R";
	r[1].event = "delete"; r[1].site = "www"; r[1].op = "op2"; r[1].run = "S";
	r[2].event = "undo"; r[2].site = "www"; r[2].op = "op1"; r[2].run = "G";
	r[3].event = "hold"; r[3].site = "www"; r[3].op = "op2"; r[3].run = "G";
	r[4].event = "site-add"; r[4].site = "blog"; r[4].run = "";   /* "" is none */
	assert_int_equal(catalog_audit_append_batch(f->c, r, 5), 0);
	query(f, &(struct catalog_audit_filter){ .run = "R" }, &rs);
	assert_int_equal(rs.n, 2);
	assert_string_equal(rs.r[0].event, "delete");
	assert_string_equal(rs.r[0].run, "R");
	assert_string_equal(rs.r[1].event, "undo");
	assert_string_equal(rs.r[1].run, "G");   /* the run of the process that undid it */
	query(f, &(struct catalog_audit_filter){ .run = "G" }, &rs);
	assert_int_equal(rs.n, 2);   /* its own rows: the ops it acted on are not its */
	query(f, &(struct catalog_audit_filter){ .run = "S", .event = "hold" }, &rs);
	assert_int_equal(rs.n, 1);
	query(f, &(struct catalog_audit_filter){ .run = "none" }, &rs);
	assert_int_equal(rs.n, 0);
	query(f, &(struct catalog_audit_filter){0}, &rs);
	assert_int_equal(rs.n, 5);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM audit WHERE run IS NULL"), 1);
}

/* A version 1 file (no run column) migrates, its rows kept without a run. */
static void test_migrate_v1(void **state)
{
	struct fx *f = *state;
	struct rows rs;
	int found = -1;

	assert_int_equal(catalog_open(&f->c, f->path, false, NULL), 0);
	catalog_close(f->c);
	f->c = NULL;
	/* back to schema 1: without schema 3's archive columns and triggers
	 * and schema 2's run column */
	assert_int_equal(raw(f->path, "DROP TRIGGER audit_archive_row; DROP TRIGGER audit_no_delete;"
			     "DROP INDEX audit_archive; ALTER TABLE audit DROP COLUMN archive_first;"
			     "ALTER TABLE audit DROP COLUMN archive_last;"
			     "ALTER TABLE audit DROP COLUMN archive_rows;"
			     "ALTER TABLE audit DROP COLUMN archive_sha256;"
			     "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
			     "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
			     "DROP INDEX audit_run; ALTER TABLE audit DROP COLUMN run;"
			     "INSERT INTO audit(ts_ns, event, op) VALUES (1, 'delete', 'op1');"
			     "PRAGMA user_version = 1"), SQLITE_OK);
	assert_int_equal(catalog_open(&f->c, f->path, true, &found), -EPROTO);
	assert_int_equal(found, 1);   /* gracectl says: start the daemon to migrate */
	assert_int_equal(catalog_open(&f->c, f->path, false, &found), 0);
	assert_int_equal(found, 1);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), CATALOG_SCHEMA_VERSION);
	query(f, &(struct catalog_audit_filter){0}, &rs);
	assert_int_equal(rs.n, 1);
	assert_null(rs.r[0].run);
	query(f, &(struct catalog_audit_filter){ .run = "R" }, &rs);
	assert_int_equal(rs.n, 0);
}

static void test_audit_append_only(void **state)
{
	struct fx *f = *state;
	struct audit_row r[4];

	sample_rows(r);
	assert_int_equal(catalog_audit_append_batch(f->c, r, 4), 0);
	catalog_close(f->c);
	f->c = NULL;
	assert_int_equal(raw(f->path, "UPDATE audit SET event = 'x'"), SQLITE_CONSTRAINT_TRIGGER);
	assert_int_equal(raw(f->path, "DELETE FROM audit WHERE seq = 1"), SQLITE_CONSTRAINT_TRIGGER);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM audit WHERE event = 'x'"), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM audit"), 4);
	assert_int_equal(catalog_errno(SQLITE_CONSTRAINT_TRIGGER), -EPERM);
}

/* Archiving (issue 19): only the oldest rows leave, only under an archive
 * row naming their range, count and file digest, which itself stays. */
static void test_audit_archive(void **state)
{
	static const char sha[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	struct fx *f = *state;
	struct audit_row r[10], rec = AUDIT_ROW_INIT;
	struct catalog_archive_plan p, stale;
	struct rows rs;
	uint64_t seq = 0, removed = 9;

	for (int i = 0; i < 10; i++) {
		r[i] = (struct audit_row)AUDIT_ROW_INIT;
		r[i].ts_ns = (i + 1) * 1000;
		r[i].event = "delete";
		r[i].op = "op";
	}
	assert_int_equal(catalog_audit_append_batch(f->c, r, 10), 0);
	/* the rows stamped before 6000: seq 1..5 */
	assert_int_equal(catalog_audit_archive_plan(f->c, 6000, &p), 0);
	assert_int_equal(p.first_seq, 1);
	assert_int_equal(p.last_seq, 5);
	assert_int_equal(p.rows, 5);
	assert_int_equal(p.oldest_ns, 1000);
	assert_int_equal(p.newest_ns, 5000);
	assert_int_equal(p.leftover, 0);
	assert_string_equal(p.prev_sha256, "");
	/* nothing before the first row */
	assert_int_equal(catalog_audit_archive_plan(f->c, 500, &stale), 0);
	assert_int_equal(stale.rows, 0);

	/* by hand: no delete without an archive row, no archive row that is
	 * not the oldest range with its exact count */
	assert_int_equal(raw(f->path, "DELETE FROM audit WHERE seq = 1"), SQLITE_CONSTRAINT_TRIGGER);
	assert_int_equal(raw(f->path, "INSERT INTO audit(ts_ns, event, archive_first, archive_last,"
			     " archive_rows, archive_sha256) VALUES (1, 'archive', 1, 5, 4, '"
			     "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff')"),
			 SQLITE_CONSTRAINT_TRIGGER);
	assert_int_equal(raw(f->path, "INSERT INTO audit(ts_ns, event, archive_first, archive_last,"
			     " archive_rows, archive_sha256) VALUES (1, 'archive', 2, 5, 4, '"
			     "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff')"),
			 SQLITE_CONSTRAINT_TRIGGER);
	assert_int_equal(raw(f->path, "INSERT INTO audit(ts_ns, event, archive_first, archive_last,"
			     " archive_rows, archive_sha256) VALUES (1, 'archive', 1, 5, 5, 'x')"),
			 SQLITE_CONSTRAINT_TRIGGER);
	assert_int_equal(raw(f->path, "INSERT INTO audit(ts_ns, event, archive_first) "
			     "VALUES (1, 'delete', 1)"), SQLITE_CONSTRAINT_TRIGGER);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM audit"), 10);

	stale = p;
	rec.ts_ns = 20000;
	rec.path = "/var/archive/a1.jsonl";
	rec.detail = "first=1 last=5 rows=5";
	assert_int_equal(catalog_audit_archive(f->c, &rec, &p, "short", NULL), -EINVAL);
	assert_int_equal(catalog_audit_archive(f->c, &rec, &p, sha, &seq), 0);
	assert_int_equal(seq, 11);
	query(f, &(struct catalog_audit_filter){0}, &rs);
	assert_int_equal(rs.n, 6);   /* 6..10 and the archive row */
	assert_int_equal(rs.r[0].seq, 6);
	assert_string_equal(rs.r[5].event, "archive");
	assert_string_equal(rs.r[5].detail, "first=1 last=5 rows=5");
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM audit WHERE path = '/var/archive/a1.jsonl' AND archive_rows = 5"), 1);
	/* the archive row stays for good; the rows after the range stay too */
	assert_int_equal(raw(f->path, "DELETE FROM audit WHERE seq = 11"), SQLITE_CONSTRAINT_TRIGGER);
	assert_int_equal(raw(f->path, "DELETE FROM audit WHERE seq = 6"), SQLITE_CONSTRAINT_TRIGGER);
	assert_int_equal(raw(f->path, "UPDATE audit SET archive_last = 9 WHERE seq = 11"),
			 SQLITE_CONSTRAINT_TRIGGER);
	/* a plan made before is stale now: nothing changes */
	assert_int_equal(catalog_audit_archive(f->c, &rec, &stale, sha, NULL), -ESTALE);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM audit"), 6);

	/* the next archive goes on from seq 6 and knows the last file */
	assert_int_equal(catalog_audit_archive_plan(f->c, 8000, &p), 0);
	assert_int_equal(p.first_seq, 6);
	assert_int_equal(p.last_seq, 7);
	assert_int_equal(p.rows, 2);
	assert_string_equal(p.prev_sha256, sha);
	/* an archive interrupted after its row (the crash case): its rows are
	 * left over, and finish removes them */
	assert_int_equal(raw(f->path, "INSERT INTO audit(ts_ns, event, archive_first, archive_last,"
			     " archive_rows, archive_sha256) VALUES (1, 'archive', 6, 7, 2, '"
			     "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff')"),
			 SQLITE_OK);
	assert_int_equal(catalog_audit_archive_plan(f->c, 9000, &p), 0);
	assert_int_equal(p.leftover, 2);
	assert_int_equal(p.first_seq, 8);
	assert_int_equal(p.last_seq, 8);
	assert_int_equal(p.rows, 1);
	assert_int_equal(catalog_audit_archive_finish(f->c, &removed), 0);
	assert_int_equal(removed, 2);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM audit WHERE event != 'archive'"), 3);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM audit WHERE event = 'archive'"), 2);
	/* until_seq bounds a query */
	query(f, &(struct catalog_audit_filter){ .until_seq = 9 }, &rs);
	assert_int_equal(rs.n, 2);
}

/* A batch with a bad row writes none of its rows. */
static void test_audit_batch_atomic(void **state)
{
	struct fx *f = *state;
	struct audit_row r[4];
	struct rows rs;

	sample_rows(r);
	r[2].event = NULL;
	assert_int_equal(catalog_audit_append_batch(f->c, r, 4), -EINVAL);
	r[2].event = "";
	assert_int_equal(catalog_audit_append_batch(f->c, r, 4), -EINVAL);
	query(f, &(struct catalog_audit_filter){0}, &rs);
	assert_int_equal(rs.n, 0);
}

/* Text is stored up to CATALOG_TEXT_MAX bytes. */
static void test_audit_long_text(void **state)
{
	struct fx *f = *state;
	struct audit_row r = AUDIT_ROW_INIT;
	char *big = malloc(3 * CATALOG_TEXT_MAX);

	assert_non_null(big);
	memset(big, 'x', 3 * CATALOG_TEXT_MAX - 1);
	big[3 * CATALOG_TEXT_MAX - 1] = '\0';
	r.event = "delete";
	r.cmdline = big;
	assert_int_equal(catalog_audit_append_batch(f->c, &r, 1), 0);
	free(big);
	catalog_close(f->c);
	f->c = NULL;
	assert_int_equal(raw_int(f->path, "SELECT length(cmdline) FROM audit"), CATALOG_TEXT_MAX);
}

/* ---- plans, errno ---- */

static void test_plans(void **state)
{
	struct fx *f = *state;
	int64_t created;
	char *body;

	assert_int_equal(catalog_plan_get(f->c, "abc", &created, &body), -ENOENT);
	assert_null(body);
	assert_int_equal(catalog_plan_put(f->c, "abc", 100, "undo\twww\top1\n"), 0);
	assert_int_equal(catalog_plan_put(f->c, "def", 200, "x"), 0);
	assert_int_equal(catalog_plan_get(f->c, "abc", &created, &body), 0);
	assert_int_equal(created, 100);
	assert_string_equal(body, "undo\twww\top1\n");
	free(body);
	assert_int_equal(catalog_plan_prune(f->c, 150), 0);
	assert_int_equal(catalog_plan_get(f->c, "abc", &created, &body), -ENOENT);
	assert_int_equal(catalog_plan_get(f->c, "def", &created, &body), 0);
	free(body);
}

static void test_errno(void **state)
{
	struct fx *f = *state;
	FILE *fp;

	assert_int_equal(catalog_errno(SQLITE_OK), 0);
	assert_int_equal(catalog_errno(SQLITE_DONE), 0);
	assert_int_equal(catalog_errno(SQLITE_FULL), -ENOSPC);
	assert_int_equal(catalog_errno(SQLITE_BUSY), -EBUSY);
	assert_int_equal(catalog_errno(SQLITE_BUSY_SNAPSHOT), -EBUSY);
	assert_int_equal(catalog_errno(SQLITE_LOCKED), -EBUSY);
	assert_int_equal(catalog_errno(SQLITE_READONLY), -EROFS);
	assert_int_equal(catalog_errno(SQLITE_READONLY_DBMOVED), -EROFS);
	assert_int_equal(catalog_errno(SQLITE_CORRUPT), -EIO);
	assert_int_equal(catalog_errno(SQLITE_NOTADB), -EIO);
	assert_int_equal(catalog_errno(SQLITE_CONSTRAINT), -EEXIST);
	assert_int_equal(catalog_errno(SQLITE_CONSTRAINT_PRIMARYKEY), -EEXIST);
	assert_int_equal(catalog_errno(SQLITE_IOERR_WRITE), -EIO);
	assert_int_equal(catalog_errno(SQLITE_ERROR), -EIO);
	/* a file that is not a database */
	fp = fopen(f->path, "w");
	assert_non_null(fp);
	fputs("this is not a database, not at all, definitely not one....", fp);
	fclose(fp);
	assert_int_equal(catalog_open(&f->c, f->path, false, NULL), -EIO);
}

/* ---- threads ---- */

static void *appender(void *arg)
{
	struct catalog *c = arg;
	struct audit_row r[10];

	for (int i = 0; i < 10; i++) {
		r[i] = (struct audit_row)AUDIT_ROW_INIT;
		r[i].event = "delete";
	}
	for (int i = 0; i < 50; i++)
		if (catalog_audit_append_batch(c, r, 10) < 0)
			return (void *)1;
	return NULL;
}

static void test_threads(void **state)
{
	struct fx *f = *state;
	pthread_t t[4];
	void *ret;

	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, appender, f->c), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], &ret), 0);
		assert_null(ret);
	}
	catalog_close(f->c);
	f->c = NULL;
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM audit"), 2000);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define TO(fn) cmocka_unit_test_setup_teardown(fn, setup_open, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_open_fresh),
		T(test_newer_refused),
		T(test_migration_atomic),
		T(test_readonly),
		TO(test_sites),
		TO(test_site_validation),
		cmocka_unit_test(test_normalize),
		TO(test_protect),
		TO(test_audit_append_query),
		TO(test_audit_run),
		T(test_migrate_v1),
		TO(test_audit_append_only),
		TO(test_audit_archive),
		TO(test_audit_batch_atomic),
		TO(test_audit_long_text),
		TO(test_plans),
		T(test_errno),
		TO(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
