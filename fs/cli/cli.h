/*
 * cli.h — what the files of gracectl share (private to the CLI).
 *
 *   gracectl.c    main, options, finding the store, opening it, typed IDs,
 *                 mutations (daemon or in-process), small helpers
 *   table.c      tables printed as aligned text or JSON
 *   show.c       ls, show, find, status (read-only listings)
 *   undo.c       selections of ops and undo (dry run and execute)
 *   plan.c       plan tokens; hold, release, purge
 *   site.c       site ls/add/set/protect/unprotect, trash usage per site
 *   log.c        the audit log (and --follow)
 *   runs.c       runs: the runs listing, show run:ID, hold/release of a run
 *   audit.c      audit archive / verify: the oldest audit rows into a file
 *
 * Single-threaded, except undo --execute (see undo.c).  fmt() returns
 * one of a ring of static buffers: main thread only.
 */
#ifndef GRACEFS_GCTL_H
#define GRACEFS_GCTL_H

#include <dirent.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "store/catalog.h"
#include "ctl/channel.h"
#include "ctl/verbs.h"
#include "store/index.h"
#include "store/oprec.h"
#include "engine/undo.h"

#define NS 1000000000LL
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PLAN_TTL_S (24 * 3600)   /* a dry run's token is good this long */
#define PLAN_KEEP_S (7 * 86400)  /* stored plans are pruned after this */
#define FIND_DEPTH_MAX 4096

enum { EXIT_DONE = 0, EXIT_FAILED = 1, EXIT_USAGE = 2,
       EXIT_NOT_RUNNING = 3 /* status: the daemon is not running (as systemctl) */ };

struct gctl {
	char backing[PATH_MAX];
	char state[PATH_MAX + 16];   /* BACKING/.gracefs */
	int backing_fd;
	bool json;
	struct index *ix;
	struct catalog *cat;
	bool cat_rw;
	int lock_fd;                 /* held while acting without a daemon */
	int progress;                /* 1 --progress, -1 --no-progress, 0 on a tty */
};

/* ---- small helpers (gracectl.c) ---- */

/* Print "gracectl: error: …" to stderr and return code. */
__attribute__((format(printf, 2, 3)))
int fail(int code, const char *fmt, ...);
void *xrealloc(void *p, size_t n);          /* exits on out of memory */
char *xstrdup(const char *s);
__attribute__((format(printf, 1, 2)))
const char *fmt(const char *f, ...);        /* a ring of 16 static buffers */
const char *utc(int64_t wall_s);            /* ISO 8601 UTC, "" for 0 */
const char *num(uint64_t v);
const char *yes(bool b);
int64_t now_s(void);
const char *op_id(const char *scope, const char *name);
int parse_time(const char *s, int64_t *ns);
int parse_uid(const char *s, int64_t *uid);
#define TIME_FORMS "2026-11-30T09:00:00+01:00, 2026-11-30 09:00 (local), @EPOCH, or -2h"
const char *op_cmd(const char *name);
int open_in(int dirfd, const char *name);
DIR *dir_at(int dirfd);

/* ---- opening the store, IDs, mutations (gracectl.c) ---- */

int need_index(struct gctl *x);
/* need_index, with a running daemon's open ops stored first (plans, listings). */
int need_counts(struct gctl *x);
int need_catalog(struct gctl *x, bool rw);
bool daemon_holds_lock(struct gctl *x);
bool daemon_answers(struct gctl *x);
int resolve_op(struct gctl *x, const char *arg, struct op_record *rec);
int site_arg(const char *s, char *out);
/* site_arg, and the site must exist or have left a trace (trash, catalog,
 * deleted sites): else a usage error (EXIT_USAGE). */
int known_site(struct gctl *x, const char *s, char *out);
int site_id(struct gctl *x, const char *s, char *out);
int call_daemon(const char *sock, const char *const *argv, int argc, ctl_line_fn fn,
		void *arg, char *msg, size_t cap);
int print_line(void *arg, const char *const *f, int n);
int mutate(struct gctl *x, const char *const *argv, int argc, ctl_line_fn fn, void *arg);
/* mutate without the error message printed: it is left in msg. */
int mutate_msg(struct gctl *x, const char *const *argv, int argc, ctl_line_fn fn, void *arg,
	       char *msg, size_t cap);

struct cmd {
	const char *name;
	int (*fn)(struct gctl *x, int argc, char **argv);   /* argv[-1] is the name */
	const char *usage;
	/* The command's options, " --a= --b --c? " (=: takes a value, ?: an
	 * optional token), checked by dispatch wherever they are on the line
	 * and moved after the positionals; NULL: subcommands, checked there. */
	const char *opts;
	const char *forms;   /* what it takes, named after a wrong ID */
};
int dispatch(struct gctl *x, const struct cmd *cmds, size_t n, const char *what,
	     int argc, char **argv);
/* A wrong or unknown ID (msg): printed with what the running command
 * takes instead.  Returns EXIT_USAGE. */
int id_fail(const char *msg);

/* ---- which store (store.c    ) ---- */

/* Open the backing store named by -b DIR (a store or a gracefs
 * mountpoint), --state DIR (is_state), or found (dir NULL).  Fills
 * x->backing, x->state, x->backing_fd.  0 or an exit status (printed). */
int store_open(struct gctl *x, const char *dir, bool is_state);

/* ---- tables (table.c    ) ---- */

struct table {
	const char *const *cols;     /* JSON keys; plain headers are upper case */
	const char *types;           /* per column, as JSON: s text, S text or null
				      * (empty), n number or null (empty), b yes/no
				      * as a boolean, E a time or null (empty, or
				      * "never …"), a a comma list as an array */
	int ncols;
	size_t nrows;
	char **cells;
};
#define TABLE(cols, types) { cols, types, (int)ARRAY_SIZE(cols), 0, NULL }

void table_add(struct table *t, ...);
const char *cell(const struct table *t, size_t row, int col);
void table_sort(struct table *t);
void table_free(struct table *t);
void json_str(const char *s);
void json_value(const char *v, char type);
void table_json_obj(const struct table *t, size_t row);
void table_json(const struct table *t);
int plain_cell(const char *s, int width);
void table_plain(const struct table *t);
void table_vertical(const struct table *t, size_t row);
void table_print(const struct table *t, bool json);

/* ---- mutations' output (gracectl.c) ---- */

/* What a mutation did, for the output of hold, release and the site
 * commands: "VERB: ID" lines, or with --json one object per command,
 * {"command", "ok", "results": [{"id", "changed", "note"}]}. */
extern const char *const change_cols[];
struct changes {
	const char *command;
	struct table t;
	bool json, unchanged;
	char why[128];
};
void changes_init(struct changes *c, const char *command);
/* mutate() argv for id; a row in c.  0 or -errno (the error printed). */
int change(struct gctl *x, struct changes *c, const char *id, const char *const *argv,
	   int argc);
int changes_done(struct gctl *x, struct changes *c, int r);   /* prints; returns r */

/* ---- listings (show.c    ) ---- */

extern const char *const op_cols[];
#define OP_NCOLS 16
#define OP_TYPES "sssEnsnnbsssnnSb"
#define OP_LS_COLS 10   /* ls shows the first ten */
extern const char *const plan_cols[];   /* op, action, from, to */
const char *state_name(uint32_t s);
#define HELD_NEVER "never (held)"   /* the expiry of a held op or site */
bool site_held(int backing_fd, const char *scope);
const char *expiry_text(const struct op_record *r, bool held);
struct op_rows {
	struct table *t;
	int backing_fd;
	const char *site;   /* ls SITE: only that site's ops */
};
const char *op_site_text(int backing_fd, const struct op_record *r);   /* fmt() */
bool op_of_site(int backing_fd, const struct op_record *r, const char *site);
int op_row(const struct op_record *r, void *arg);   /* arg: struct op_rows */
void plan_rows(struct table *t, const struct undo_plan *p, bool conflicts_only);
int root_trash_open(int backing_fd);
int c_ls(struct gctl *x, int argc, char **argv);
int c_show(struct gctl *x, int argc, char **argv);
int c_find(struct gctl *x, int argc, char **argv);
int c_status(struct gctl *x, int argc, char **argv);
int c_complete(struct gctl *x, int argc, char **argv);   /* hidden: __complete */

/* ---- undo (undo.c    ) ---- */

/* An op inside a deleted site, BACKING/.gracefs/trash/<root>/<site>/.trash/
 * <op>: out of the index while its site is in the trash, yet part of what
 * a deleting run did.  Undo restores it after root op <root> brought the
 * site back under its own name. */
struct nested {
	char site[NAME_MAX + 1], op[NAME_MAX + 1], root[NAME_MAX + 1];
};

typedef char site_name[NAME_MAX + 1];

/* An op a bulk undo leaves out because it is frozen (legal hold). */
struct held_op {
	struct op_record rec;
	char why[2 * NAME_MAX + 64];   /* "op held", "site S held", … */
};

struct selection {
	struct op_record *v;
	size_t n;
	struct nested *nest;
	size_t nnest;
	/* bulk filters */
	int64_t since_ns, until_ns, uid;
	const char *command;
	site_name *sites, *xsites;   /* --site (union) and --exclude-site */
	size_t nsites, nxsites;
	struct op_record *xops;      /* --exclude-op (scope and name) */
	size_t nxops;
	const char *run;             /* a run ID (no "run:"), or NULL */
	const char *script;          /* --script: the run's leader command, or NULL */
	int backing_fd;
	size_t skipped_purging;
	struct held_op *held;        /* frozen ops left out of a bulk undo */
	size_t nheld;
	struct created_run *created; /* undo run:ID --created, or NULL */
};

/* undo run:ID --created (undo_created.c): what the run created, as the
 * dry run plans it or as the daemon moved it */
struct created_run {
	struct table t;       /* site, path, type, verdict, why, op */
	size_t n[5];          /* move(d), changed, kept, gone, failed */
	bool planned, executed;
};
int created_dry(struct gctl *x, const char *run, struct created_run *c);
/* body with a line per created item appended (the token covers them);
 * body is freed, the new one returned. */
char *created_body(const struct created_run *c, char *body, char token[CTLCMD_TOKEN_LEN + 1]);
int created_execute(struct gctl *x, const char *run, struct created_run *c);
void created_json(const struct created_run *c, bool executed);   /* ,"created":{…} */
void created_plain(const struct created_run *c, bool executed);

void sel_add(struct selection *s, const struct op_record *r);
/* Select by s's filters from the index, with the ops inside the deleted
 * sites the selected root ops bring back.  0 or an exit status (printed). */
int sel_run(struct gctl *x, struct selection *s);

/* prefetch.c: threads that read the op directories of ops[0..n) (in
 * that order) ahead of a bulk undo, so that its planning finds them in
 * the caches.  NULL when not worth it (few ops) or without memory: fine
 * to pass to prefetch_stop, which stops and joins them.  ops must stay
 * unchanged until then. */
struct prefetch;
struct prefetch *prefetch_start(int backing_fd, const struct op_record *const *ops, size_t n);
void prefetch_stop(struct prefetch *pf);
int c_undo(struct gctl *x, int argc, char **argv);

/* ---- runs (runs.c    ) ---- */

int run_arg(const char *s, char *out);      /* "run:ID" or ID -> ID (UTIL_RUN_MAX) */
int run_check(const struct selection *s, const char *id);   /* one run, not empty */
int c_runs(struct gctl *x, int argc, char **argv);
int run_show(struct gctl *x, const char *arg);
int run_hold(struct gctl *x, const char *verb, const char *arg, bool execute,
	     const char *given);
int run_complete(struct gctl *x);           /* __complete runs */

/* ---- plans, hold, purge (plan.c    ) ---- */

int cmp_rec(const void *a, const void *b);
char *plan_body(const char *verb, struct selection *s, const char *extra,
		char token[CTLCMD_TOKEN_LEN + 1]);
int take_execute(int *argc, char **argv, const char **token);
int check_token(struct gctl *x, const char *given, const char *now, bool bulk, bool need);
int refuse_frozen(struct gctl *x, const struct op_record *v, size_t n, const char *verb);
void store_plan(struct gctl *x, const char *token, const char *body);
int c_hold(struct gctl *x, int argc, char **argv);
int c_purge(struct gctl *x, int argc, char **argv);

/* ---- sites (site.c    ) ---- */

struct usage {
	char scope[NAME_MAX + 1];
	uint64_t ops, items, bytes;
	int64_t oldest_s, next_expiry_s;   /* 0: none (next_expiry: all held) */
	bool held;                         /* the site is on legal hold */
};

struct usages {
	struct usage *v;
	size_t n;
};

extern const char *const usage_cols[];
int load_usage(struct gctl *x, struct usages *u);
const struct usage *usage_of(const struct usages *u, const char *scope);
void usage_rows(struct table *t, const struct usages *u);
const char *usage_expiry(const struct usage *us);   /* HELD_NEVER, a time, "" */
void exclusion_rows(struct gctl *x, struct table *t);   /* site, exclude */
extern const struct cmd site_cmds[];
extern const size_t n_site_cmds;
int c_site(struct gctl *x, int argc, char **argv);

/* ---- progress on stderr (progress.c    ) ---- */

/* NULL (and every call a no-op) unless mode > 0 or stderr is a terminal
 * (mode 0). */
struct progress *progress_new(const char *what, uint64_t total, int mode);
void progress_add(struct progress *pg, uint64_t n);   /* redraws now and then */
void progress_show(struct progress *pg, bool force);
void progress_clear(struct progress *pg);   /* before printing other lines */
void progress_free(struct progress *pg);    /* the final line */
void progress_abort(struct progress *pg);   /* no final line: the run failed */

/* ---- audit log (log.c    ) ---- */

int c_log(struct gctl *x, int argc, char **argv);

/* ---- archiving the audit log (audit.c) ---- */

int c_audit(struct gctl *x, int argc, char **argv);   /* audit archive|verify */

#endif
