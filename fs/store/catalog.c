/*
 * catalog — the SQLite catalog (see catalog.h for the contract).
 *
 * Threading: c->lock guards the connection, its prepared statements and
 * c->err; every exported function takes it (the connection itself is
 * opened SQLITE_OPEN_NOMUTEX).  SQLite marks its own fds close-on-exec.
 */
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/catalog.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define BUSY_TIMEOUT_MS 5000

/* migrations[v] brings a file from schema version v to v + 1. */
static const char *const migrations[] = {
	/* 0 -> 1: the first schema */
	"CREATE TABLE sites("
	"  id TEXT PRIMARY KEY,"
	"  kind TEXT NOT NULL DEFAULT 'site',"
	"  created_s INTEGER NOT NULL,"
	"  state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active','trashed')),"
	"  retention_s INTEGER NULL CHECK (retention_s IS NULL OR retention_s > 0),"
	"  hold INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE protected("
	"  site TEXT NOT NULL, path TEXT NOT NULL, PRIMARY KEY (site, path));"
	"CREATE TABLE audit("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT, ts_ns INTEGER NOT NULL,"
	"  event TEXT NOT NULL, site TEXT, op TEXT, path TEXT,"
	"  uid INTEGER, pid INTEGER, cmdline TEXT, detail TEXT);"
	"CREATE INDEX audit_ts ON audit(ts_ns);"
	"CREATE INDEX audit_site ON audit(site, ts_ns);"
	"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
	"  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
	"  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	"CREATE TABLE plans("
	"  token TEXT PRIMARY KEY, created_s INTEGER NOT NULL, body TEXT NOT NULL);",
	/* 1 -> 2: the run of each row (issue 23); older rows have none */
	"ALTER TABLE audit ADD COLUMN run TEXT;"
	"CREATE INDEX audit_run ON audit(run) WHERE run IS NOT NULL;",
	/* 2 -> 3: archiving (issue 19).  Rows leave the audit table only as
	 * the oldest ones, in a range an "archive" row names with their count
	 * and the archive file's sha256; that row itself stays for good. */
	"ALTER TABLE audit ADD COLUMN archive_first INTEGER;"
	"ALTER TABLE audit ADD COLUMN archive_last INTEGER;"
	"ALTER TABLE audit ADD COLUMN archive_rows INTEGER;"
	"ALTER TABLE audit ADD COLUMN archive_sha256 TEXT;"
	"CREATE INDEX audit_archive ON audit(archive_first) WHERE event = 'archive';"
	"DROP TRIGGER audit_no_delete;"
	"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
	"  WHEN OLD.event = 'archive' OR NOT EXISTS (SELECT 1 FROM audit r"
	"    WHERE r.event = 'archive' AND r.archive_first <= OLD.seq"
	"    AND r.archive_last >= OLD.seq)"
	"  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: rows leave it only"
	" under an archive row that names them'); END;"
	"CREATE TRIGGER audit_archive_row BEFORE INSERT ON audit"
	"  WHEN NEW.event = 'archive' OR NEW.archive_first IS NOT NULL"
	"    OR NEW.archive_last IS NOT NULL OR NEW.archive_rows IS NOT NULL"
	"    OR NEW.archive_sha256 IS NOT NULL"
	"  BEGIN SELECT RAISE(ABORT, 'an archive row names the oldest rows of the log, their"
	" count and the sha256 of the file that holds them')"
	"    WHERE NEW.event IS NOT 'archive' OR NEW.archive_first IS NULL"
	"    OR NEW.archive_last IS NULL OR NEW.archive_first > NEW.archive_last"
	"    OR length(NEW.archive_sha256) IS NOT 64 OR NEW.archive_rows IS NOT"
	"      (SELECT count(*) FROM audit WHERE seq BETWEEN NEW.archive_first"
	"       AND NEW.archive_last AND event != 'archive')"
	"    OR NEW.archive_rows < 1"
	"    OR EXISTS (SELECT 1 FROM audit WHERE seq < NEW.archive_first"
	"      AND event != 'archive'); END;",
};
_Static_assert(ARRAY_SIZE(migrations) == CATALOG_SCHEMA_VERSION,
	       "one migration per schema version");

enum stmt {
	S_BEGIN, S_COMMIT, S_ROLLBACK,
	S_SITE_UPSERT, S_SITE_GET, S_SITE_LIST,
	S_SITE_RETENTION, S_SITE_HOLD, S_SITE_STATE,
	S_PROTECT, S_UNPROTECT, S_PROT_LIST,
	S_AUDIT_INSERT, S_AUDIT_QUERY, S_AUDIT_TAIL,
	S_PLAN_PUT, S_PLAN_GET, S_PLAN_PRUNE,
	S_ARCH_FIRST, S_ARCH_STOP, S_ARCH_TOP, S_ARCH_COUNT, S_ARCH_PREV, S_ARCH_LEFT,
	S_ARCH_INSERT, S_ARCH_DELETE,
	S_COUNT
};

#define SITE_COLS "id, kind, created_s, state, retention_s, hold"
#define AUDIT_COLS "seq, ts_ns, event, site, op, path, uid, pid, cmdline, detail, run"
/* ?3, a site: a row of a root op names its deleted sites as a comma list */
/* ?8, a run: its own rows, and the rows about an op it made (its delete
 * or overwrite row names it; audit_run makes that lookup an index
 * search).  By op name alone: a name holds the deleting pid and second,
 * so one name in two sites is one process, one run; and the restore of a
 * deleted site is filed under the site, not the root scope of its delete
 * row. */
#define AUDIT_WHERE "(?1 IS NULL OR ts_ns >= ?1) AND (?2 IS NULL OR ts_ns < ?2)" \
	" AND (?3 IS NULL OR site = ?3 OR instr(',' || site || ',', ',' || ?3 || ',') > 0)" \
	" AND (?4 IS NULL OR op = ?4) AND (?5 IS NULL OR event = ?5) AND seq > ?6" \
	" AND (?8 IS NULL OR run = ?8 OR (op IS NOT NULL AND EXISTS (SELECT 1 FROM audit d" \
	" WHERE d.run = ?8 AND d.op = a.op AND d.event IN ('delete', 'overwrite'))))" \
	" AND (?9 IS NULL OR seq <= ?9)"
static const char *const sql[S_COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_SITE_UPSERT] = "INSERT INTO sites(" SITE_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
		" ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, state = excluded.state",
	[S_SITE_GET] = "SELECT " SITE_COLS " FROM sites WHERE id = ?1",
	[S_SITE_LIST] = "SELECT " SITE_COLS " FROM sites ORDER BY id",
	[S_SITE_RETENTION] = "UPDATE sites SET retention_s = ?2 WHERE id = ?1",
	[S_SITE_HOLD] = "UPDATE sites SET hold = ?2 WHERE id = ?1",
	[S_SITE_STATE] = "UPDATE sites SET state = ?2 WHERE id = ?1",
	[S_PROTECT] = "INSERT INTO protected(site, path) SELECT ?1, ?2"
		" WHERE EXISTS (SELECT 1 FROM sites WHERE id = ?1)",
	[S_UNPROTECT] = "DELETE FROM protected WHERE site = ?1 AND path = ?2",
	[S_PROT_LIST] = "SELECT site, path FROM protected ORDER BY site, path",
	[S_AUDIT_INSERT] = "INSERT INTO audit(ts_ns, event, site, op, path, uid, pid,"
		" cmdline, detail, run) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	[S_AUDIT_QUERY] = "SELECT " AUDIT_COLS " FROM audit a WHERE " AUDIT_WHERE
		" ORDER BY seq LIMIT ?7",
	/* the same filter, the last ?7 rows, still in seq order */
	[S_AUDIT_TAIL] = "SELECT * FROM (SELECT " AUDIT_COLS " FROM audit a WHERE " AUDIT_WHERE
		" ORDER BY seq DESC LIMIT ?7) ORDER BY seq",
	[S_PLAN_PUT] = "INSERT OR REPLACE INTO plans(token, created_s, body) VALUES (?1, ?2, ?3)",
	[S_PLAN_GET] = "SELECT created_s, body FROM plans WHERE token = ?1",
	[S_PLAN_PRUNE] = "DELETE FROM plans WHERE created_s < ?1",
	/* archiving: the oldest row no archive row covers yet */
	[S_ARCH_FIRST] = "SELECT seq, ts_ns FROM audit a WHERE event != 'archive' AND NOT EXISTS"
		" (SELECT 1 FROM audit r WHERE r.event = 'archive' AND r.archive_first <= a.seq"
		" AND r.archive_last >= a.seq) ORDER BY seq LIMIT 1",
	/* the first row from ?1 on, in seq order (+: not by the time index,
	 * so the scan stops there) */
	[S_ARCH_STOP] = "SELECT seq FROM audit WHERE +ts_ns >= ?1 AND event != 'archive'"
		" AND seq >= ?2 ORDER BY seq LIMIT 1",
	[S_ARCH_TOP] = "SELECT coalesce(max(seq), 0) FROM audit",
	[S_ARCH_COUNT] = "SELECT count(*), max(ts_ns) FROM audit WHERE seq BETWEEN ?1 AND ?2"
		" AND event != 'archive'",
	[S_ARCH_PREV] = "SELECT archive_sha256 FROM audit WHERE event = 'archive'"
		" ORDER BY seq DESC LIMIT 1",
	/* rows an archive row covers that are still there (an interrupted archive) */
	[S_ARCH_LEFT] = "SELECT count(*) FROM audit r JOIN audit a ON a.seq BETWEEN"
		" r.archive_first AND r.archive_last WHERE r.event = 'archive' AND a.event != 'archive'",
	/* ?1..?10 as S_AUDIT_INSERT (bind_row) */
	[S_ARCH_INSERT] = "INSERT INTO audit(ts_ns, event, site, op, path, uid, pid, cmdline,"
		" detail, run, archive_first, archive_last, archive_rows, archive_sha256)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
	[S_ARCH_DELETE] = "DELETE FROM audit WHERE seq IN (SELECT a.seq FROM audit r JOIN audit a"
		" ON a.seq BETWEEN r.archive_first AND r.archive_last WHERE r.event = 'archive'"
		" AND a.event != 'archive' LIMIT ?1)",
};

struct catalog {
	pthread_mutex_t lock;
	sqlite3 *db;
	sqlite3_stmt *st[S_COUNT];
	char err[256];
};

int catalog_errno(int rc)
{
	if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE)
		return 0;
	if (rc == SQLITE_CONSTRAINT_TRIGGER)
		return -EPERM;
	switch (rc & 0xff) {
	case SQLITE_FULL:       return -ENOSPC;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:     return -EBUSY;
	case SQLITE_READONLY:   return -EROFS;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:     return -EIO;
	case SQLITE_CONSTRAINT: return -EEXIST;
	case SQLITE_NOMEM:      return -ENOMEM;
	case SQLITE_PERM:       return -EACCES;
	case SQLITE_TOOBIG:     return -E2BIG;
	case SQLITE_CANTOPEN:   return -ENOENT;
	default:                return -EIO;
	}
}

/* Map rc, remembering SQLite's message for catalog_last_error. */
static int fail(struct catalog *c, int rc)
{
	int e = catalog_errno(rc);

	if (e)
		snprintf(c->err, sizeof(c->err), "%s (sqlite %d)", sqlite3_errmsg(c->db), rc);
	return e;
}

void catalog_last_error(struct catalog *c, char *buf, size_t cap)
{
	pthread_mutex_lock(&c->lock);
	snprintf(buf, cap, "%s", c->err[0] ? c->err : "no error");
	pthread_mutex_unlock(&c->lock);
}

/* ---- statement helpers (c->lock held) ---- */

static sqlite3_stmt *stmt(struct catalog *c, enum stmt s)
{
	sqlite3_reset(c->st[s]);
	sqlite3_clear_bindings(c->st[s]);
	return c->st[s];
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, (int)strnlen(v, CATALOG_TEXT_MAX), SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

static void bind_opt_int(sqlite3_stmt *s, int i, int64_t v, int64_t none)
{
	if (v == none)
		sqlite3_bind_null(s, i);
	else
		sqlite3_bind_int64(s, i, v);
}

static const char *col_text(sqlite3_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(s, i);
}

/* Run a statement that returns no rows; *changes gets the rows touched. */
static int run(struct catalog *c, sqlite3_stmt *s, int *changes)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return fail(c, rc);
	if (changes)
		*changes = sqlite3_changes(c->db);
	return 0;
}

static int exec(struct catalog *c, const char *text)
{
	int rc = sqlite3_exec(c->db, text, NULL, NULL, NULL);

	return rc ? fail(c, rc) : 0;
}

static int user_version(struct catalog *c, int *v)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &s, NULL);

	if (rc)
		return fail(c, rc);
	rc = sqlite3_step(s);
	*v = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : fail(c, rc);
}

/* Bring the file to CATALOG_SCHEMA_VERSION, one transaction for all steps
 * (a crash leaves the old version intact). */
static int migrate(struct catalog *c, bool readonly, int *found)
{
	char set[64];
	int v, r;

	if ((r = user_version(c, &v)) < 0)
		return r;
	*found = v;
	if (v > CATALOG_SCHEMA_VERSION || (v < CATALOG_SCHEMA_VERSION && readonly))
		return -EPROTO;
	if (v == CATALOG_SCHEMA_VERSION)
		return 0;
	if ((r = exec(c, "BEGIN IMMEDIATE")) < 0)
		return r;
	if ((r = user_version(c, &v)) == 0 && v > CATALOG_SCHEMA_VERSION)
		r = -EPROTO;   /* someone else moved it on meanwhile */
	for (; r == 0 && v < CATALOG_SCHEMA_VERSION; v++)
		r = exec(c, migrations[v]);
	/* an integer constant of ours: PRAGMA takes no bound parameters */
	snprintf(set, sizeof(set), "PRAGMA user_version = %d", CATALOG_SCHEMA_VERSION);
	if (r == 0 && (r = exec(c, set)) == 0 && (r = exec(c, "COMMIT")) == 0)
		return 0;
	sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

int catalog_open(struct catalog **out, const char *path, bool readonly, int *found_version)
{
	int flags = SQLITE_OPEN_NOMUTEX |
		(readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	struct catalog *c;
	int found = 0, r;

	*out = NULL;
	if (found_version)
		*found_version = 0;
	if (readonly && access(path, F_OK) < 0)
		return -errno;
	if (!(c = calloc(1, sizeof(*c))))
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	if ((r = sqlite3_open_v2(path, &c->db, flags, NULL)) != SQLITE_OK) {
		r = c->db ? fail(c, r) : -ENOMEM;
		goto close;
	}
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
	if (!readonly && ((r = exec(c, "PRAGMA journal_mode = WAL")) < 0 ||
			  (r = exec(c, "PRAGMA synchronous = NORMAL")) < 0))
		goto close;
	r = migrate(c, readonly, &found);
	if (found_version)
		*found_version = found;
	for (int i = 0; r == 0 && i < S_COUNT; i++) {
		int rc = sqlite3_prepare_v3(c->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					    &c->st[i], NULL);
		if (rc)
			r = fail(c, rc);
	}
	if (r == 0) {
		*out = c;
		return 0;
	}
close:
	catalog_close(c);
	return r;
}

void catalog_close(struct catalog *c)
{
	if (!c)
		return;
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(c->st[i]);
	sqlite3_close(c->db);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* ---- sites ---- */

static const char *const state_names[] = {
	[CATALOG_ACTIVE] = "active", [CATALOG_TRASHED] = "trashed",
};

const char *catalog_state_name(enum catalog_site_state st)
{
	return (unsigned)st < ARRAY_SIZE(state_names) ? state_names[st] : "unknown";
}

bool catalog_site_id_valid(const char *id)
{
	size_t n = id ? strnlen(id, NAME_MAX + 1) : 0;

	/* lost+found: the backing filesystem's (mkfs, fsck), never a site */
	return n > 0 && n <= NAME_MAX && !strchr(id, '/') && strcmp(id, ".") &&
	       strcmp(id, "..") && strcmp(id, ".trash") && strcmp(id, ".gracefs") &&
	       strcmp(id, "lost+found");
}

bool catalog_kind_valid(const char *k)
{
	size_t n = strnlen(k, CATALOG_KIND_MAX + 1);

	return n > 0 && n <= CATALOG_KIND_MAX &&
	       strspn(k, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static void read_site(sqlite3_stmt *s, struct catalog_site *out)
{
	const char *st = col_text(s, 3);

	memset(out, 0, sizeof(*out));
	snprintf(out->id, sizeof(out->id), "%s", col_text(s, 0));
	snprintf(out->kind, sizeof(out->kind), "%s", col_text(s, 1) ? col_text(s, 1) : "");
	out->created_s = sqlite3_column_int64(s, 2);
	out->state = st && !strcmp(st, "trashed") ? CATALOG_TRASHED : CATALOG_ACTIVE;
	out->retention_s = sqlite3_column_int64(s, 4);   /* NULL reads as 0 */
	out->hold = sqlite3_column_int(s, 5) != 0;
}

int catalog_site_upsert(struct catalog *c, const struct catalog_site *s)
{
	sqlite3_stmt *q;
	int r;

	if (!catalog_site_id_valid(s->id) || !catalog_kind_valid(s->kind) || s->retention_s < 0 ||
	    (unsigned)s->state >= ARRAY_SIZE(state_names))
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	q = stmt(c, S_SITE_UPSERT);
	bind_text(q, 1, s->id);
	bind_text(q, 2, s->kind);
	sqlite3_bind_int64(q, 3, s->created_s);
	bind_text(q, 4, state_names[s->state]);
	bind_opt_int(q, 5, s->retention_s, 0);
	sqlite3_bind_int(q, 6, s->hold);
	r = run(c, q, NULL);
	pthread_mutex_unlock(&c->lock);
	return r;
}

int catalog_site_get(struct catalog *c, const char *id, struct catalog_site *out)
{
	sqlite3_stmt *q;
	int rc;

	pthread_mutex_lock(&c->lock);
	q = stmt(c, S_SITE_GET);
	bind_text(q, 1, id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		read_site(q, out);
	rc = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : fail(c, rc);
	sqlite3_reset(q);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int catalog_site_list(struct catalog *c, catalog_site_fn fn, void *arg)
{
	struct catalog_site s;
	sqlite3_stmt *q;
	int rc, r = 0;

	pthread_mutex_lock(&c->lock);
	q = stmt(c, S_SITE_LIST);
	while (!r && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		read_site(q, &s);
		r = fn(&s, arg);
	}
	if (!r && rc != SQLITE_DONE)
		r = fail(c, rc);
	sqlite3_reset(q);
	pthread_mutex_unlock(&c->lock);
	return r;
}

/* UPDATE sites SET <column> = v WHERE id = id; -ENOENT when no such site. */
static int site_update(struct catalog *c, enum stmt s, const char *id, int64_t v, bool text)
{
	sqlite3_stmt *q;
	int n = 0, r;

	pthread_mutex_lock(&c->lock);
	q = stmt(c, s);
	bind_text(q, 1, id);
	if (text)
		bind_text(q, 2, state_names[v]);
	else
		bind_opt_int(q, 2, v, s == S_SITE_RETENTION ? 0 : INT64_MIN);
	r = run(c, q, &n);
	pthread_mutex_unlock(&c->lock);
	return r ? r : n ? 0 : -ENOENT;
}

int catalog_site_set_retention(struct catalog *c, const char *id, int64_t retention_s)
{
	return retention_s < 0 ? -EINVAL : site_update(c, S_SITE_RETENTION, id, retention_s, false);
}

int catalog_site_set_hold(struct catalog *c, const char *id, bool hold)
{
	return site_update(c, S_SITE_HOLD, id, hold, false);
}

int catalog_site_set_state(struct catalog *c, const char *id, enum catalog_site_state st)
{
	if ((unsigned)st >= ARRAY_SIZE(state_names))
		return -EINVAL;
	return site_update(c, S_SITE_STATE, id, st, true);
}

/* ---- protected paths ---- */

int catalog_path_normalize(const char *in, char *out, size_t cap)
{
	size_t n = 0;

	if (!cap)
		return -ENAMETOOLONG;
	while (*in) {
		size_t len;

		while (*in == '/')
			in++;
		if (!*in)
			break;
		len = strcspn(in, "/");
		if ((len == 1 && in[0] == '.') || (len == 2 && !strncmp(in, "..", 2)) ||
		    (n == 0 && len == 6 && !strncmp(in, ".trash", 6)))
			return -EINVAL;
		if (n + (n > 0) + len + 1 > cap || len > NAME_MAX)
			return -ENAMETOOLONG;
		if (n)
			out[n++] = '/';
		memcpy(out + n, in, len);
		n += len;
		in += len;
	}
	out[n] = '\0';
	return 0;
}

/* Run protect/unprotect on a normalized path; *n gets the rows changed. */
static int prot_change(struct catalog *c, enum stmt s, const char *site, const char *path, int *n)
{
	char norm[CATALOG_PATH_MAX];
	sqlite3_stmt *q;
	int r = catalog_path_normalize(path, norm, sizeof(norm));

	if (r < 0)
		return r;
	if (!catalog_site_id_valid(site))
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	q = stmt(c, s);
	bind_text(q, 1, site);
	bind_text(q, 2, norm);
	r = run(c, q, n);
	pthread_mutex_unlock(&c->lock);
	return r;
}

int catalog_protect(struct catalog *c, const char *site, const char *path)
{
	int n = 0, r = prot_change(c, S_PROTECT, site, path, &n);

	return r ? r : n ? 0 : -ENOENT;
}

int catalog_unprotect(struct catalog *c, const char *site, const char *path)
{
	int n = 0, r = prot_change(c, S_UNPROTECT, site, path, &n);

	return r ? r : n ? 0 : -ENOENT;
}

void catalog_protected_free(struct catalog_protected *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].site);
		free(l->v[i].path);
	}
	free(l->v);
	free(l);
}

int catalog_protected_list(struct catalog *c, struct catalog_protected **out)
{
	struct catalog_protected *l = calloc(1, sizeof(*l));
	size_t cap = 0;
	sqlite3_stmt *q;
	int rc, r = 0;

	*out = NULL;
	if (!l)
		return -ENOMEM;
	pthread_mutex_lock(&c->lock);
	q = stmt(c, S_PROT_LIST);
	while (!r && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (l->n == cap) {
			size_t ncap = cap ? 2 * cap : 16;
			void *nv = realloc(l->v, ncap * sizeof(*l->v));

			if (!nv) {
				r = -ENOMEM;
				break;
			}
			l->v = nv;
			cap = ncap;
		}
		l->v[l->n].site = strdup(col_text(q, 0));
		l->v[l->n].path = strdup(col_text(q, 1));
		if (!l->v[l->n].site || !l->v[l->n].path)
			r = -ENOMEM;
		l->n++;
	}
	if (!r && rc != SQLITE_DONE)
		r = fail(c, rc);
	sqlite3_reset(q);
	pthread_mutex_unlock(&c->lock);
	if (r) {
		catalog_protected_free(l);
		return r;
	}
	*out = l;
	return 0;
}

/* Is a equal to b or a path below it?  ("" is above everything.) */
static bool path_within(const char *a, const char *b)
{
	size_t n = strlen(b);

	return n == 0 || (!strncmp(a, b, n) && (a[n] == '\0' || a[n] == '/'));
}

static bool prot_match(const struct catalog_protected *list, const char *site,
		       const char *rel, bool covers)
{
	if (!list || !site)
		return false;
	while (rel && *rel == '/')
		rel++;
	for (size_t i = 0; i < list->n; i++) {
		const struct catalog_prot_entry *e = &list->v[i];

		if (strcmp(e->site, site))
			continue;
		if (path_within(rel ? rel : "", e->path) ||
		    (covers && path_within(e->path, rel ? rel : "")))
			return true;
	}
	return false;
}

bool catalog_path_is_protected(const struct catalog_protected *list, const char *site,
			       const char *relpath)
{
	return prot_match(list, site, relpath, false);
}

bool catalog_path_covers_protected(const struct catalog_protected *list, const char *site,
				   const char *relpath)
{
	return prot_match(list, site, relpath, true);
}

/* ---- audit ---- */

/* A row's columns as ?1..?10 of an audit INSERT. */
static void bind_row(sqlite3_stmt *q, const struct audit_row *a)
{
	sqlite3_bind_int64(q, 1, a->ts_ns);
	bind_text(q, 2, a->event);
	bind_text(q, 3, a->site);
	bind_text(q, 4, a->op);
	bind_text(q, 5, a->path);
	bind_opt_int(q, 6, a->uid, -1);
	bind_opt_int(q, 7, a->pid, -1);
	bind_text(q, 8, a->cmdline);
	bind_text(q, 9, a->detail);
	bind_text(q, 10, a->run && *a->run ? a->run : NULL);
}

int catalog_audit_append_batch(struct catalog *c, const struct audit_row *rows, size_t n)
{
	int r;

	for (size_t i = 0; i < n; i++)
		if (!rows[i].event || !*rows[i].event)
			return -EINVAL;
	if (!n)
		return 0;
	pthread_mutex_lock(&c->lock);
	r = run(c, stmt(c, S_BEGIN), NULL);
	for (size_t i = 0; !r && i < n; i++) {
		const struct audit_row *a = &rows[i];
		sqlite3_stmt *q = stmt(c, S_AUDIT_INSERT);

		bind_row(q, a);
		r = run(c, q, NULL);
	}
	if (!r)
		r = run(c, stmt(c, S_COMMIT), NULL);
	if (r && !sqlite3_get_autocommit(c->db))
		sqlite3_step(stmt(c, S_ROLLBACK));
	pthread_mutex_unlock(&c->lock);
	return r;
}

int catalog_audit_query(struct catalog *c, const struct catalog_audit_filter *f,
			catalog_audit_fn fn, void *arg)
{
	sqlite3_stmt *q;
	int rc, r = 0;

	pthread_mutex_lock(&c->lock);
	q = stmt(c, f->newest ? S_AUDIT_TAIL : S_AUDIT_QUERY);
	bind_opt_int(q, 1, f->since_ns, 0);
	bind_opt_int(q, 2, f->until_ns, 0);
	bind_text(q, 3, f->site);
	bind_text(q, 4, f->op);
	bind_text(q, 5, f->event);
	sqlite3_bind_int64(q, 6, (int64_t)f->after_seq);
	sqlite3_bind_int64(q, 7, f->limit ? (int64_t)f->limit : -1);
	bind_text(q, 8, f->run);
	bind_opt_int(q, 9, (int64_t)f->until_seq, 0);
	while (!r && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct audit_row a = {
			.seq = (uint64_t)sqlite3_column_int64(q, 0),
			.ts_ns = sqlite3_column_int64(q, 1),
			.event = col_text(q, 2), .site = col_text(q, 3),
			.op = col_text(q, 4), .path = col_text(q, 5),
			.uid = sqlite3_column_type(q, 6) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, 6),
			.pid = sqlite3_column_type(q, 7) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, 7),
			.cmdline = col_text(q, 8), .detail = col_text(q, 9), .run = col_text(q, 10),
		};
		r = fn(&a, arg);
	}
	if (!r && rc != SQLITE_DONE)
		r = fail(c, rc);
	sqlite3_reset(q);
	pthread_mutex_unlock(&c->lock);
	return r;
}

/* ---- archiving the oldest rows ---- */

/* One row of a one-row statement (c->lock held); SQLITE_ROW or an error. */
static int step_row(struct catalog *c, sqlite3_stmt *q, bool *found)
{
	int rc = sqlite3_step(q);

	*found = rc == SQLITE_ROW;
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(c, rc);
}

int catalog_audit_archive_plan(struct catalog *c, int64_t before_ns,
			       struct catalog_archive_plan *p)
{
	sqlite3_stmt *q;
	bool found;
	int r;

	*p = (struct catalog_archive_plan){0};
	pthread_mutex_lock(&c->lock);
	if ((r = exec(c, "BEGIN")) < 0)   /* one snapshot for every figure */
		goto out;
	q = stmt(c, S_ARCH_PREV);
	if (!(r = step_row(c, q, &found)) && found && col_text(q, 0))
		snprintf(p->prev_sha256, sizeof(p->prev_sha256), "%s", col_text(q, 0));
	q = stmt(c, S_ARCH_LEFT);
	if (!r && !(r = step_row(c, q, &found)) && found)
		p->leftover = (uint64_t)sqlite3_column_int64(q, 0);
	q = stmt(c, S_ARCH_FIRST);
	if (!r && !(r = step_row(c, q, &found)) && found) {
		p->first_seq = (uint64_t)sqlite3_column_int64(q, 0);
		p->oldest_ns = sqlite3_column_int64(q, 1);
	}
	if (!r && p->first_seq) {
		q = stmt(c, S_ARCH_STOP);
		sqlite3_bind_int64(q, 1, before_ns);
		sqlite3_bind_int64(q, 2, (int64_t)p->first_seq);
		if (!(r = step_row(c, q, &found)) && found) {
			p->last_seq = (uint64_t)sqlite3_column_int64(q, 0) - 1;
		} else if (!r) {
			q = stmt(c, S_ARCH_TOP);
			if (!(r = step_row(c, q, &found)) && found)
				p->last_seq = (uint64_t)sqlite3_column_int64(q, 0);
		}
	}
	if (!r && p->first_seq && p->last_seq >= p->first_seq) {
		q = stmt(c, S_ARCH_COUNT);
		sqlite3_bind_int64(q, 1, (int64_t)p->first_seq);
		sqlite3_bind_int64(q, 2, (int64_t)p->last_seq);
		if (!(r = step_row(c, q, &found)) && found) {
			p->rows = (uint64_t)sqlite3_column_int64(q, 0);
			p->newest_ns = sqlite3_column_int64(q, 1);
		}
	}
	if (!p->rows)
		p->first_seq = p->last_seq = 0, p->oldest_ns = 0;
	for (int i = S_ARCH_FIRST; i <= S_ARCH_PREV + 1; i++)
		sqlite3_reset(c->st[i]);   /* done reading: the snapshot can end */
	sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
out:
	pthread_mutex_unlock(&c->lock);
	return r;
}

int catalog_audit_archive(struct catalog *c, const struct audit_row *rec,
			  const struct catalog_archive_plan *p, const char *sha256,
			  uint64_t *seq)
{
	struct audit_row a = *rec;
	sqlite3_stmt *q;
	int r;

	if (!p->rows || p->first_seq > p->last_seq || !sha256 || strlen(sha256) != 64)
		return -EINVAL;
	a.event = "archive";
	a.site = a.op = NULL;
	pthread_mutex_lock(&c->lock);
	if (!(r = run(c, stmt(c, S_BEGIN), NULL))) {
		q = stmt(c, S_ARCH_INSERT);
		bind_row(q, &a);
		sqlite3_bind_int64(q, 11, (int64_t)p->first_seq);
		sqlite3_bind_int64(q, 12, (int64_t)p->last_seq);
		sqlite3_bind_int64(q, 13, (int64_t)p->rows);
		bind_text(q, 14, sha256);
		/* the trigger refuses a range that is not the oldest, or whose
		 * count changed: the log is not what was archived */
		if ((r = run(c, q, NULL)) == -EPERM)
			r = -ESTALE;
		if (!r && seq)
			*seq = (uint64_t)sqlite3_last_insert_rowid(c->db);
	}
	if (!r)
		r = run(c, stmt(c, S_COMMIT), NULL);
	if (r && !sqlite3_get_autocommit(c->db))
		sqlite3_step(stmt(c, S_ROLLBACK));
	pthread_mutex_unlock(&c->lock);
	return r ? r : catalog_audit_archive_finish(c, NULL);
}

int catalog_audit_archive_finish(struct catalog *c, uint64_t *removed)
{
	int n = 1, r = 0;

	if (removed)
		*removed = 0;
	while (!r && n > 0) {   /* a transaction per chunk: the daemon's writes go on */
		sqlite3_stmt *q;

		pthread_mutex_lock(&c->lock);
		if (!(r = run(c, stmt(c, S_BEGIN), NULL))) {
			q = stmt(c, S_ARCH_DELETE);
			sqlite3_bind_int64(q, 1, CATALOG_ARCHIVE_CHUNK);
			r = run(c, q, &n);
		}
		if (!r)
			r = run(c, stmt(c, S_COMMIT), NULL);
		if (r && !sqlite3_get_autocommit(c->db))
			sqlite3_step(stmt(c, S_ROLLBACK));
		pthread_mutex_unlock(&c->lock);
		if (!r && removed)
			*removed += (uint64_t)n;
	}
	return r;
}

/* ---- plans ---- */

int catalog_plan_put(struct catalog *c, const char *token, int64_t created_s, const char *body)
{
	sqlite3_stmt *q;
	int r;

	pthread_mutex_lock(&c->lock);
	q = stmt(c, S_PLAN_PUT);
	bind_text(q, 1, token);
	sqlite3_bind_int64(q, 2, created_s);
	sqlite3_bind_text(q, 3, body, -1, SQLITE_STATIC);
	r = run(c, q, NULL);
	pthread_mutex_unlock(&c->lock);
	return r;
}

int catalog_plan_get(struct catalog *c, const char *token, int64_t *created_s, char **body)
{
	sqlite3_stmt *q;
	int rc, r = 0;

	*body = NULL;
	pthread_mutex_lock(&c->lock);
	q = stmt(c, S_PLAN_GET);
	bind_text(q, 1, token);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*created_s = sqlite3_column_int64(q, 0);
		if (!(*body = strdup(col_text(q, 1) ? col_text(q, 1) : "")))
			r = -ENOMEM;
	} else {
		r = rc == SQLITE_DONE ? -ENOENT : fail(c, rc);
	}
	sqlite3_reset(q);
	pthread_mutex_unlock(&c->lock);
	return r;
}

int catalog_plan_prune(struct catalog *c, int64_t before_s)
{
	sqlite3_stmt *q;
	int r;

	pthread_mutex_lock(&c->lock);
	q = stmt(c, S_PLAN_PRUNE);
	sqlite3_bind_int64(q, 1, before_s);
	r = run(c, q, NULL);
	pthread_mutex_unlock(&c->lock);
	return r;
}
