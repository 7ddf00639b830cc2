/*
 * catalog — the SQLite catalog: sites, protected paths, the append-only
 * audit log and dry-run plan tokens, in one database in WAL mode (the
 * daemon's is BACKING/.gracefs/catalog.db).
 *
 * Schema: versioned with PRAGMA user_version.  catalog_open applies the
 * missing migrations in one transaction each; a file newer than this code
 * is refused with -EPROTO and left untouched.  The audit table is
 * append-only: triggers abort any UPDATE of it, and any DELETE but of
 * rows an "archive" row covers (catalog_audit_archive: the oldest rows,
 * their count and the archive file's sha256 checked on insert; archive
 * rows are never deleted).
 *
 * Every statement is prepared once at open, with bound parameters (no SQL
 * is ever built from data).  Errors map through catalog_errno() only.
 *
 * Threading: one connection per struct catalog, guarded by its own mutex;
 * every function may be called from any thread.  Callbacks run with that
 * mutex held and must not call back into the same catalog.  Several
 * processes may open the same file (SQLite locks; busy waits up to 5 s).
 */
#ifndef GRACEFS_CATALOG_H
#define GRACEFS_CATALOG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CATALOG_SCHEMA_VERSION 3
#define CATALOG_KIND_MAX 32         /* bytes of a site kind, [a-z0-9_-] */
#define CATALOG_PATH_MAX 4096       /* bytes of a protected path */
#define CATALOG_TEXT_MAX 8192       /* longest audit text stored (longer is cut) */

struct catalog;

enum catalog_site_state { CATALOG_ACTIVE = 0, CATALOG_TRASHED = 1 };

struct catalog_site {
	char id[NAME_MAX + 1];          /* the site's directory name */
	char kind[CATALOG_KIND_MAX + 1];/* "site", "app", … (operator's word) */
	int64_t created_s;              /* wall clock of first registration */
	enum catalog_site_state state;
	int64_t retention_s;            /* 0: none set, the mount's default */
	bool hold;
};

/* One audit log row.  Strings are borrowed; NULL and -1 store SQL NULL. */
struct audit_row {
	uint64_t seq;                   /* assigned on append; filled by queries */
	int64_t ts_ns;                  /* wall clock */
	const char *event;              /* required: "delete", "restore", … */
	const char *site, *op, *path;
	int64_t uid, pid;
	const char *cmdline, *detail;
	const char *run;                /* the run of the process it was about
					 * (procinfo.h; no "run:"), or NULL */
};
#define AUDIT_ROW_INIT { .uid = -1, .pid = -1 }

/* Open (creating, then migrating) the catalog at `path`.  With `readonly`
 * the file must exist and be at CATALOG_SCHEMA_VERSION (nothing is written).
 * *found_version (may be NULL) gets the file's schema version, also on
 * -EPROTO, for the caller's message.  Returns 0, -EPROTO (newer schema, or
 * older with readonly), -ENOENT (readonly, no file), or -errno. */
int catalog_open(struct catalog **out, const char *path, bool readonly,
		 int *found_version);
void catalog_close(struct catalog *c);                  /* NULL is fine */

/* SQLite's message for the last failure on this handle (copied). */
void catalog_last_error(struct catalog *c, char *buf, size_t cap);

/* The one mapping of SQLite result codes (extended or primary) to -errno:
 * FULL -ENOSPC, BUSY/LOCKED -EBUSY, READONLY -EROFS, CORRUPT/NOTADB -EIO,
 * CONSTRAINT -EEXIST (a trigger's RAISE: -EPERM), NOMEM -ENOMEM, PERM
 * -EACCES, TOOBIG -E2BIG, CANTOPEN -ENOENT, anything else -EIO. */
int catalog_errno(int sqlite_rc);

/* ---- sites ---- */

/* Is `id` usable as a site id (a directory name: not empty, no '/', not
 * ".", "..", ".trash", ".gracefs" or "lost+found", at most NAME_MAX bytes)? */
bool catalog_site_id_valid(const char *id);

/* Is `kind` a site kind: 1..CATALOG_KIND_MAX bytes of [a-z0-9_-]? */
bool catalog_kind_valid(const char *kind);

/* Insert s, or when s->id exists set its kind and state only (created,
 * retention and hold stay: they are the operator's).  0, -EINVAL (bad id,
 * kind or retention), or -errno. */
int catalog_site_upsert(struct catalog *c, const struct catalog_site *s);
/* 0, -ENOENT, or -errno. */
int catalog_site_get(struct catalog *c, const char *id, struct catalog_site *out);

typedef int (*catalog_site_fn)(const struct catalog_site *s, void *arg);
/* All sites by id.  Returns 0, the callback's nonzero value, or -errno. */
int catalog_site_list(struct catalog *c, catalog_site_fn fn, void *arg);

/* 0, -ENOENT (no such site), -EINVAL, or -errno.  retention 0 clears it. */
int catalog_site_set_retention(struct catalog *c, const char *id, int64_t retention_s);
int catalog_site_set_hold(struct catalog *c, const char *id, bool hold);
int catalog_site_set_state(struct catalog *c, const char *id, enum catalog_site_state st);
const char *catalog_state_name(enum catalog_site_state st);

/* ---- protected paths ---- */

/* Canonical site-relative form of `in`: no leading, trailing or doubled
 * '/'; "" (from "" or "/") means the whole site.  Refuses "." and ".."
 * components and ".trash" as the first one.  0, -EINVAL, -ENAMETOOLONG. */
int catalog_path_normalize(const char *in, char *out, size_t cap);

/* Protect path (normalized here) of a known site.  0, -ENOENT (unknown
 * site), -EEXIST (already), -EINVAL, or -errno. */
int catalog_protect(struct catalog *c, const char *site, const char *path);
/* 0, -ENOENT (not protected), or -errno. */
int catalog_unprotect(struct catalog *c, const char *site, const char *path);

/* An in-memory copy of the protected table, for the daemon's checks. */
struct catalog_protected {
	size_t n;
	struct catalog_prot_entry {
		char *site, *path;          /* path normalized; "" = whole site */
	} *v;                           /* sorted by site, then path */
};
/* Load every protected path.  *out is the caller's (catalog_protected_free).
 * 0 or -errno. */
int catalog_protected_list(struct catalog *c, struct catalog_protected **out);
void catalog_protected_free(struct catalog_protected *l);  /* NULL is fine */

/* Pure: is relpath (site-relative, "" = the site itself) protected — equal
 * to or below a protected path of site?  NULL list: false. */
bool catalog_path_is_protected(const struct catalog_protected *list,
			       const char *site, const char *relpath);
/* Pure: does removing or renaming away relpath take a protected path with
 * it — is relpath protected, or an ancestor of a protected path? */
bool catalog_path_covers_protected(const struct catalog_protected *list,
				   const char *site, const char *relpath);

/* ---- audit log ---- */

/* Append n rows in one transaction (all or none).  seq and ts_ns are kept
 * as given except seq (assigned).  0, -EINVAL (a row without event), or
 * -errno (e.g. -ENOSPC: nothing was written). */
int catalog_audit_append_batch(struct catalog *c, const struct audit_row *rows, size_t n);

struct catalog_audit_filter {
	int64_t since_ns, until_ns;     /* since inclusive, until exclusive; 0: open */
	const char *site, *op, *event;  /* NULL: any */
	const char *run;                /* NULL: any; else the run's rows and
					 * every row about one of the ops it
					 * deleted (undo, hold, restore, purge) */
	uint64_t after_seq;             /* rows with seq > after_seq only */
	uint64_t until_seq;             /* rows with seq <= until_seq only; 0: any */
	uint64_t limit;                 /* 0: all */
	bool newest;                    /* with limit: the last rows, not the first */
};
typedef int (*catalog_audit_fn)(const struct audit_row *row, void *arg);
/* Matching rows in seq order; row strings live only during the callback.
 * Returns 0, the callback's nonzero value, or -errno. */
int catalog_audit_query(struct catalog *c, const struct catalog_audit_filter *f,
			catalog_audit_fn fn, void *arg);

/* ---- archiving the oldest rows (gracectl audit archive) ----
 *
 * Rows leave the table only as a prefix: the oldest rows no archive row
 * covers yet, up to the first row stamped at or after a time.  The caller
 * writes them elsewhere first; catalog_audit_archive then appends one
 * "archive" row naming the range, the count and the sha256 of what was
 * written (a trigger checks the range is the oldest and the count exact),
 * and removes the covered rows, CATALOG_ARCHIVE_CHUNK per transaction.
 * A crash in between leaves covered rows, which the next archive (or
 * catalog_audit_archive_finish) removes; they are in the archive file.
 * "archive" rows themselves stay: the log keeps a record of every archive. */
#define CATALOG_ARCHIVE_CHUNK 5000

struct catalog_archive_plan {
	uint64_t first_seq, last_seq;   /* the range; 0, 0 when rows is 0 */
	uint64_t rows;                  /* rows to archive (archive rows excluded) */
	int64_t oldest_ns, newest_ns;   /* their first and latest ts_ns */
	uint64_t leftover;              /* covered rows an interrupted archive left */
	char prev_sha256[65];           /* the last archive's file, "" if none */
};

/* What archiving the rows before before_ns would take.  0 or -errno. */
int catalog_audit_archive_plan(struct catalog *c, int64_t before_ns,
			       struct catalog_archive_plan *p);
/* Append rec (event "archive"; its path, uid, pid, cmdline, detail and
 * run are used) for plan p and the file's sha256 (64 hex digits), then
 * remove the rows it covers.  *seq (may be NULL) gets its seq.  0,
 * -ESTALE (the log is not as planned: nothing changed), -EINVAL, -errno. */
int catalog_audit_archive(struct catalog *c, const struct audit_row *rec,
			  const struct catalog_archive_plan *p, const char *sha256,
			  uint64_t *seq);
/* Remove every row an archive row covers that is still there.  *removed
 * (may be NULL) gets the count.  0 or -errno. */
int catalog_audit_archive_finish(struct catalog *c, uint64_t *removed);

/* ---- dry-run plans ---- */

/* Store (or replace) a plan body under its token.  0 or -errno. */
int catalog_plan_put(struct catalog *c, const char *token, int64_t created_s,
		     const char *body);
/* *body is malloc'ed (caller frees).  0, -ENOENT, or -errno. */
int catalog_plan_get(struct catalog *c, const char *token, int64_t *created_s,
		     char **body);
/* Drop plans created before before_s.  0 or -errno. */
int catalog_plan_prune(struct catalog *c, int64_t before_s);

#endif
