/*
 * gracectl — the operator's CLI for a gracefs backing store.
 *
 *   gracectl -b BACKING [--json] COMMAND …      (or --state BACKING/.gracefs)
 *
 * Read-only commands read the LMDB index, the SQLite catalog and the
 * backing store directly.  Mutations go through the daemon's control
 * socket; when no daemon serves the store, the ones that only touch the
 * catalog and site policy run the same handlers in-process (ctlcmd) while
 * holding the daemon's lock, and the others (undo, purge, op holds) say
 * that they need the daemon.  Destructive and bulk commands are dry runs
 * unless given --execute; a bulk run needs the token its dry run printed.
 *
 * Exit status: 0 done, 1 failed, 2 bad usage or a bad/unknown ID (nothing
 * was changed).  Single-threaded, except: undo --execute restores up to
 * UNDO_WORKERS ops at once (workers share only struct undo_run, under its
 * lock, and never use fmt()'s static buffers), and the in-process audit
 * writer thread.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "audit.h"
#include "catalog.h"
#include "ctl.h"
#include "ctlcmd.h"
#include "evict.h"
#include "exclude.h"
#include "index.h"
#include "sitepolicy.h"
#include "sys.h"
#include "trash.h"
#include "undo.h"
#include "util.h"

#define NS 1000000000LL
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PLAN_TTL_S (24 * 3600)   /* a dry run's token is good this long */
#define PLAN_KEEP_S (7 * 86400)  /* stored plans are pruned after this */
#define FIND_DEPTH_MAX 4096

enum { EXIT_DONE = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

struct gctl {
	char backing[PATH_MAX];
	char state[PATH_MAX + 16];   /* BACKING/.gracefs */
	int backing_fd;
	bool json;
	struct index *ix;
	struct catalog *cat;
	bool cat_rw;
	int lock_fd;                 /* held while acting without a daemon */
};

/* ---- small helpers ---- */

__attribute__((format(printf, 2, 3)))
static int fail(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("gracectl: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

static void *xrealloc(void *p, size_t n)
{
	if (!(p = realloc(p, n ? n : 1))) {
		fputs("gracectl: error: out of memory\n", stderr);
		exit(EXIT_FAILED);
	}
	return p;
}

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(xrealloc(NULL, n), s, n);
}

/* printf into one of a ring of static buffers (values for table cells). */
__attribute__((format(printf, 1, 2)))
static const char *fmt(const char *f, ...)
{
	static char ring[16][2 * NAME_MAX + 64];
	static unsigned i;
	char *b = ring[i++ % 16];
	va_list ap;

	va_start(ap, f);
	vsnprintf(b, sizeof(ring[0]), f, ap);
	va_end(ap);
	return b;
}

static const char *utc(int64_t wall_s)
{
	char b[32];

	if (!wall_s)
		return "";
	util_format_utc(wall_s, false, b, sizeof(b));
	return fmt("%s", b);
}

static const char *num(uint64_t v) { return fmt("%" PRIu64, v); }
static const char *yes(bool b) { return b ? "yes" : "no"; }
static int64_t now_s(void) { return sys.wall_ns() / NS; }

static const char *op_id(const char *scope, const char *name)
{
	return fmt("op:%s/%s", scope, name);
}

/* "2026-11-27T13:05:12Z", "20261127T130512Z", "2026-11-27", or a duration
 * meaning that long ago ("2h").  0 or -EINVAL. */
static int parse_time(const char *s, int64_t *ns)
{
	int64_t v;

	if (util_parse_utc(s, &v) == 0 || (util_parse_duration(s, &v) == 0 && (v = now_s() - v, 1))) {
		*ns = v * NS;
		return 0;
	}
	return -EINVAL;
}

/* The command word of an op name: between the timestamp and the pid. */
static const char *op_cmd(const char *name)
{
	const char *dash = strrchr(name, '-');

	if (strlen(name) < 18 || !dash || dash < name + 17)
		return "";
	return fmt("%.*s", (int)(dash - name - 17), name + 17);
}

static int open_in(int dirfd, const char *name)
{
	return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* A stream over directory dirfd (which stays open and the caller's). */
static DIR *dir_at(int dirfd)
{
	int fd = dup(dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (!d && fd >= 0)
		close(fd);
	if (d)
		rewinddir(d);
	return d;
}

/* ---- tables: aligned text or JSON ---- */

struct table {
	const char *const *cols;     /* JSON keys; plain headers are upper case */
	const char *types;           /* per column: s text, n number, b yes/no */
	int ncols;
	size_t nrows;
	char **cells;
};
#define TABLE(cols, types) { cols, types, (int)ARRAY_SIZE(cols), 0, NULL }

static void table_add(struct table *t, ...)
{
	va_list ap;

	t->cells = xrealloc(t->cells, (t->nrows + 1) * (size_t)t->ncols * sizeof(char *));
	va_start(ap, t);
	for (int i = 0; i < t->ncols; i++) {
		const char *v = va_arg(ap, const char *);

		t->cells[t->nrows * (size_t)t->ncols + (size_t)i] = xstrdup(v ? v : "");
	}
	va_end(ap);
	t->nrows++;
}

static const char *cell(const struct table *t, size_t row, int col)
{
	return t->cells[row * (size_t)t->ncols + (size_t)col];
}

static int sort_ncols;   /* table_sort's row width (qsort has no argument) */

static int cmp_rows(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;
	int c = 0;

	for (int i = 0; i < sort_ncols && !c; i++)
		c = strcmp(x[i], y[i]);
	return c;
}

/* Rows in order of their first column, then the next, … */
static void table_sort(struct table *t)
{
	sort_ncols = t->ncols;
	if (t->nrows)
		qsort(t->cells, t->nrows, (size_t)t->ncols * sizeof(char *), cmp_rows);
}

static void table_free(struct table *t)
{
	for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->nrows = 0;
}

/* Length of the valid UTF-8 sequence at p, 0 if there is none. */
static size_t utf8_len(const unsigned char *p)
{
	size_t n = p[0] < 0x80 ? 1 : p[0] >= 0xc2 && p[0] <= 0xdf ? 2 :
		   p[0] >= 0xe0 && p[0] <= 0xef ? 3 : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : 0;

	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0) ||
	    (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90))
		return 0;   /* overlong, surrogate, beyond U+10FFFF */
	return n;
}

/* A JSON string; bytes that are not UTF-8 become U+FFFD. */
static void json_str(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	putchar('"');
	while (*p) {
		size_t n = utf8_len(p);

		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", stdout);
		else if (*p == '\t')
			fputs("\\t", stdout);
		else if (*p < 0x20 || *p == 0x7f)
			printf("\\u%04x", *p);
		else if (!n)
			fputs("\\ufffd", stdout);
		else
			fwrite(p, 1, n, stdout);
		p += n ? n : 1;
	}
	putchar('"');
}

static void json_value(const char *v, char type)
{
	if (type == 'n')
		fputs(*v ? v : "null", stdout);
	else if (type == 'b')
		fputs(!strcmp(v, "yes") ? "true" : "false", stdout);
	else
		json_str(v);
}

static void table_json_obj(const struct table *t, size_t row)
{
	putchar('{');
	for (int c = 0; c < t->ncols; c++) {
		printf("%s", c ? "," : "");
		json_str(t->cols[c]);
		putchar(':');
		json_value(cell(t, row, c), t->types[c]);
	}
	putchar('}');
}

static void table_json(const struct table *t)
{
	putchar('[');
	for (size_t r = 0; r < t->nrows; r++) {
		printf("%s", r ? ",\n " : "");
		table_json_obj(t, r);
	}
	putchar(']');
}

/* Text cell: control bytes shown as '?', so one row stays one line. */
static int plain_cell(const char *s, int width)
{
	int n = 0;

	for (; *s; s++, n++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
	for (; n < width; n++)
		putchar(' ');
	return n;
}

static void header(const char *col, int width)
{
	char up[64];
	size_t i;

	for (i = 0; col[i] && i + 1 < sizeof(up); i++)
		up[i] = col[i] >= 'a' && col[i] <= 'z' ? (char)(col[i] - 32) : col[i];
	up[i] = '\0';
	plain_cell(up, width);
}

static void table_plain(const struct table *t)
{
	int w[32] = {0};

	for (int c = 0; c < t->ncols && c < 32; c++) {
		w[c] = (int)strlen(t->cols[c]);
		for (size_t r = 0; r < t->nrows; r++)
			if ((int)strlen(cell(t, r, c)) > w[c])
				w[c] = (int)strlen(cell(t, r, c));
	}
	for (size_t r = 0; r <= t->nrows; r++) {
		for (int c = 0; c < t->ncols; c++) {
			bool last = c == t->ncols - 1;

			if (r == 0)
				header(t->cols[c], last ? 0 : w[c]);
			else
				plain_cell(cell(t, r - 1, c), last ? 0 : w[c]);
			fputs(last ? "\n" : "  ", stdout);
		}
	}
}

/* One row as "key: value" lines. */
static void table_vertical(const struct table *t, size_t row)
{
	for (int c = 0; c < t->ncols; c++) {
		printf("%-15s", fmt("%s:", t->cols[c]));
		plain_cell(cell(t, row, c), 0);
		putchar('\n');
	}
}

static void table_print(const struct table *t, bool json)
{
	if (json) {
		table_json(t);
		putchar('\n');
	} else {
		table_plain(t);
	}
}

/* ---- opening the store ---- */

static int need_index(struct gctl *x)
{
	int r;

	if (x->ix)
		return 0;
	if ((r = index_open(&x->ix, fmt("%s/index", x->state))) < 0)
		return fail(EXIT_FAILED, "index '%s/index': %s", x->state, strerror(-r));
	return 0;
}

/* Open the catalog (read-only unless rw).  -ENOENT (read-only, none yet)
 * is returned quietly; other failures print and give EXIT_FAILED. */
static int need_catalog(struct gctl *x, bool rw)
{
	const char *path = fmt("%s/catalog.db", x->state);
	int found, r;

	if (x->cat && (x->cat_rw || !rw))
		return 0;
	catalog_close(x->cat);
	x->cat = NULL;
	r = catalog_open(&x->cat, path, !rw, &found);
	x->cat_rw = rw;
	if (r == -ENOENT && !rw)
		return -ENOENT;
	if (r == -EPROTO)
		return fail(EXIT_FAILED, "catalog '%s' has schema version %d, this gracectl "
			    "knows %d: %s", path, found, CATALOG_SCHEMA_VERSION,
			    found > CATALOG_SCHEMA_VERSION ? "upgrade gracectl" :
			    "start the daemon once to migrate it");
	if (r < 0)
		return fail(EXIT_FAILED, "catalog '%s': %s", path, strerror(-r));
	return 0;
}

/* Is a daemon serving the store (its lock is held)? */
static bool daemon_holds_lock(struct gctl *x)
{
	int fd = openat(x->backing_fd, TRASH_STATE_DIR "/lock", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	bool held = false;

	if (fd >= 0) {
		held = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
		close(fd);
	}
	return held;
}

/* Does a daemon answer on the control socket? */
static bool daemon_answers(struct gctl *x)
{
	return ctl_call(fmt("%s/ctl.sock", x->state), (const char *[]){ "status" }, 1, NULL,
			NULL, NULL, 0) != -ECONNREFUSED;
}

/* ---- typed IDs ---- */

struct hits {
	const char *name;
	struct op_record first;
	size_t n;
	char scopes[128];
};

static int hit(const struct op_record *r, void *arg)
{
	struct hits *h = arg;

	if (strcmp(r->name, h->name))
		return 0;
	if (!h->n++)
		h->first = *r;
	if (strlen(h->scopes) + strlen(r->scope) + 4 < sizeof(h->scopes))
		snprintf(h->scopes + strlen(h->scopes), sizeof(h->scopes) - strlen(h->scopes),
			 "%s%s", h->n > 1 ? ", " : "", *r->scope ? r->scope : "/");
	return 0;
}

/* Resolve "op:…" to its record.  0 or an exit status (message printed). */
static int resolve_op(struct gctl *x, const char *arg, struct op_record *rec)
{
	struct ctl_id id;
	struct hits h = { .name = id.name };
	char msg[600];
	int r;

	if (ctlcmd_parse_id(arg, CTL_ID_OP, &id, msg, sizeof(msg)) < 0)
		return fail(EXIT_USAGE, "%s", msg);
	if ((r = need_index(x)))
		return r;
	if (id.scoped) {
		r = index_get(x->ix, id.site, id.name, rec);
		if (r == -ENOENT)
			return fail(EXIT_USAGE, "unknown op '%s'", arg);
		return r < 0 ? fail(EXIT_FAILED, "index: %s", strerror(-r)) : 0;
	}
	h.name = id.name;
	if ((r = index_foreach(x->ix, NULL, hit, &h)) < 0)
		return fail(EXIT_FAILED, "index: %s", strerror(-r));
	if (!h.n)
		return fail(EXIT_USAGE, "unknown op '%s'", arg);
	if (h.n > 1)
		return fail(EXIT_USAGE, "op '%s' exists in %zu sites (%s): write op:SITE/%s",
			    arg, h.n, h.scopes, id.name);
	*rec = h.first;
	return 0;
}

/* A site given as "site:NAME" or plain NAME (never another kind). */
static int site_arg(const char *s, char *out)
{
	struct ctl_id id;
	char msg[600];

	if (strchr(s, ':')) {
		if (ctlcmd_parse_id(s, CTL_ID_SITE, &id, msg, sizeof(msg)) < 0)
			return fail(EXIT_USAGE, "%s", msg);
		s = id.site;
	} else if (!catalog_site_id_valid(s)) {
		return fail(EXIT_USAGE, "malformed site '%s'", s);
	}
	strcpy(out, s);
	return 0;
}

/* A typed "site:NAME" naming a site directory of the backing store (the
 * site commands): any other kind, or an unknown site, is a usage error. */
static int site_id(struct gctl *x, const char *s, char *out)
{
	struct stat st;
	int r;

	if (!strchr(s, ':'))
		return fail(EXIT_USAGE, "untyped ID '%s': write site:%s", s, s);
	if ((r = site_arg(s, out)))
		return r;
	if (fstatat(x->backing_fd, out, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
		return fail(EXIT_USAGE, "unknown site '%s'", s);
	return 0;
}

/* ---- mutations: through the daemon, else in-process ---- */

/* ctl_call, waiting (up to ~20 s) while the daemon is serving CTL_CONN_MAX
 * requests already: it refused before reading ours, so nothing ran. */
static int call_daemon(const char *sock, const char *const *argv, int argc, ctl_line_fn fn,
		       void *arg, char *msg, size_t cap)
{
	for (unsigned i = 0;; i++) {
		int r = ctl_call(sock, argv, argc, fn, arg, msg, cap);

		if (r != -EBUSY || strcmp(msg, CTL_BUSY_MSG) || i == 100)
			return r;
		usleep(20000 * (i < 10 ? i + 1 : 10));
	}
}

static int print_line(void *arg, const char *const *f, int n)
{
	for (int i = 0; i < n; i++)
		printf("%s%s", i ? " " : "", f[i]);
	putchar('\n');
	return 0;
}

static void audit_problem(void *arg, int err, uint64_t queued, uint64_t lost)
{
	if (err)
		fprintf(stderr, "gracectl: warning: audit log not written: %s\n", strerror(-err));
}

/* No daemon: take its lock and run the verb here. */
static int run_local(struct gctl *x, const char *const *argv, int argc, ctl_line_fn fn,
		     void *arg, char *msg, size_t cap)
{
	struct audit_conf ac = { .on_event = audit_problem };
	struct ctl_peer me = { geteuid(), getegid(), getpid() };
	struct ctlcmd_ctx c = { NULL, NULL, x->backing_fd, NULL, NULL, CTLCMD_RETENTION_FLOOR_S };
	struct ctl_out out;
	char *v[CTL_ARGC_MAX];
	int r;

	if (x->lock_fd < 0) {
		x->lock_fd = openat(x->backing_fd, TRASH_STATE_DIR "/lock",
				    O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (x->lock_fd < 0 || flock(x->lock_fd, LOCK_EX | LOCK_NB) < 0) {
			snprintf(msg, cap, "a daemon serves this backing store but its control "
				 "socket does not answer");
			return -EBUSY;
		}
	}
	if (need_catalog(x, true))
		return snprintf(msg, cap, "cannot open the catalog"), -EIO;
	c.cat = x->cat;
	if ((r = audit_new(&c.audit, x->cat, &ac)) < 0)
		return snprintf(msg, cap, "audit: %s", strerror(-r)), r;
	for (int i = 0; i < argc; i++)
		v[i] = (char *)argv[i];
	ctl_out_callback(&out, fn, arg);
	r = ctlcmd_handle(&c, &me, v, argc, &out, msg, cap);
	audit_flush(c.audit);
	audit_free(c.audit);
	return r;
}

/* Run one verb; prints the error.  0 or -errno. */
static int mutate(struct gctl *x, const char *const *argv, int argc, ctl_line_fn fn, void *arg)
{
	char msg[600] = "";
	int r = call_daemon(fmt("%s/ctl.sock", x->state), argv, argc, fn, arg, msg, sizeof(msg));

	if (r == -ECONNREFUSED)
		r = run_local(x, argv, argc, fn, arg, msg, sizeof(msg));
	if (r < 0)
		fail(EXIT_FAILED, "%s: %s", argv[0], *msg ? msg : strerror(-r));
	return r;
}

/* ---- op listings ---- */

static const char *const op_cols[] = { "op", "site", "deleted", "expires", "uid", "command",
	"items", "bytes", "hold", "state", "first_deleted", "retention", "pid", "gid" };
#define OP_TYPES "ssssnsnnbsssnn"
#define OP_LS_COLS 10   /* ls shows the first ten */

static const char *state_name(uint32_t s)
{
	return s == OP_OPEN ? "open" : s == OP_CLOSED ? "closed" : s == OP_PURGING ? "purging" : "?";
}

static int op_row(const struct op_record *r, void *arg)
{
	char ret[32];

	util_format_duration(r->retention_s > 0 ? r->retention_s : 1, ret, sizeof(ret));
	table_add(arg, op_id(r->scope, r->name), *r->scope ? r->scope : "/",
		  utc(r->last_ns / NS), utc(oprec_expiry(r)), num(r->uid), r->cmdline,
		  num(r->items), num(r->bytes), yes(r->hold), state_name(r->state),
		  utc(r->first_ns / NS), ret, num(r->pid), num(r->gid));
	return 0;
}

static int c_ls(struct gctl *x, int argc, char **argv)
{
	struct table t = { op_cols, OP_TYPES, OP_LS_COLS, 0, NULL };
	char site[NAME_MAX + 1];
	int r;

	if (argc > 1)
		return fail(EXIT_USAGE, "usage: ls [SITE]");
	if ((argc == 1 && (r = site_arg(argv[0], site))) || (r = need_index(x)))
		return r;
	if ((r = index_foreach(x->ix, argc ? site : NULL, op_row, &t)) < 0)
		return fail(EXIT_FAILED, "index: %s", strerror(-r));
	table_print(&t, x->json);
	table_free(&t);
	return EXIT_DONE;
}

static const char *const plan_cols[] = { "op", "action", "from", "to" };

static const char *const action_names[] = {
	[UNDO_MKDIR] = "mkdir", [UNDO_MOVE] = "move", [UNDO_RENAME] = "rename" };

static void plan_rows(struct table *t, const struct undo_plan *p, bool conflicts_only)
{
	for (size_t i = 0; i < p->n; i++)
		if (!conflicts_only || p->steps[i].kind == UNDO_RENAME)
			table_add(t, op_id(p->scope, p->op), action_names[p->steps[i].kind],
				  p->steps[i].from, p->steps[i].to);
}

static int c_show(struct gctl *x, int argc, char **argv)
{
	struct table t = { op_cols, OP_TYPES, (int)ARRAY_SIZE(op_cols), 0, NULL };
	struct table pt = TABLE(plan_cols, "ssss");
	struct op_record rec;
	struct undo_plan p;
	int r, pr;

	if (argc != 1)
		return fail(EXIT_USAGE, "usage: show op:ID");
	if ((r = resolve_op(x, argv[0], &rec)))
		return r;
	op_row(&rec, &t);
	if ((pr = undo_plan(x->backing_fd, rec.scope, rec.name, &p)) == 0) {
		plan_rows(&pt, &p, false);
		undo_plan_release(&p);
	}
	if (x->json) {
		fputs("{\"op\":", stdout);
		table_json_obj(&t, 0);
		fputs(",\"restore_plan\":", stdout);
		table_json(&pt);
		puts("}");
	} else {
		table_vertical(&t, 0);
		if (pr < 0)
			printf("\nrestore plan: unavailable (%s)\n", strerror(-pr));
		else
			printf("\nrestore plan (gracectl undo %s):\n", argv[0]);
		if (pr == 0)
			table_plain(&pt);
	}
	table_free(&t);
	table_free(&pt);
	return EXIT_DONE;
}

/* ---- find ---- */

struct finder {
	struct table t;
	const char *pat, *site;
	bool by_path;
	dev_t dev;
	char opid[2 * NAME_MAX + 8];
	char path[RELPATH_MAX_BYTES];
};

static const char *type_name(mode_t m)
{
	return S_ISREG(m) ? "file" : S_ISDIR(m) ? "dir" : S_ISLNK(m) ? "symlink" :
	       S_ISFIFO(m) ? "fifo" : S_ISSOCK(m) ? "socket" : "device";
}

/* Walk one directory of an op (never following symlinks, never leaving
 * the filesystem); mirror-only parents are walked but not reported. */
static void find_walk(struct finder *f, int dirfd, size_t len, unsigned depth, bool root_op)
{
	DIR *d = dir_at(dirfd);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		const char *n = de->d_name;
		struct stat st;
		bool mirror = false;
		int sub = -1, w;

		if (!strcmp(n, ".") || !strcmp(n, "..") || fstatat(dirfd, n, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (root_op && depth == 0 && f->site && strcmp(n, f->site))
			continue;   /* a deleted whole site other than --site */
		w = snprintf(f->path + len, sizeof(f->path) - len, "%s%s", len ? "/" : "", n);
		if (w < 0 || len + (size_t)w >= sizeof(f->path))
			continue;
		if (S_ISDIR(st.st_mode) && st.st_dev == f->dev && depth < FIND_DEPTH_MAX &&
		    (sub = openat(dirfd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0)
			mirror = fgetxattr(sub, TRASH_MIRROR_XATTR, NULL, 0) >= 0;
		if (!mirror && fnmatch(f->pat, !f->by_path ? n : !root_op ? f->path :
				       strchr(f->path, '/') ? strchr(f->path, '/') + 1 : "", 0) == 0)
			table_add(&f->t, f->opid, root_op ? fmt("%.*s", (int)strcspn(f->path, "/"),
				  f->path) : f->site, f->path, type_name(st.st_mode),
				  num(S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0));
		if (sub >= 0) {
			find_walk(f, sub, len + (size_t)w, depth + 1, root_op);
			close(sub);
		}
		f->path[len] = '\0';
	}
	if (d)
		closedir(d);
}

/* Every op directory in trash dir tfd (scope "" for the root trash). */
static void find_in_trash(struct finder *f, int tfd, const char *scope)
{
	DIR *d = dir_at(tfd);
	struct dirent *de;
	struct stat st;

	while (d && (de = readdir(d))) {
		int64_t t;
		uint32_t pid;
		int ofd;

		if (!util_parse_op_name(de->d_name, &t, &pid) || (ofd = open_in(tfd, de->d_name)) < 0)
			continue;
		if (fstat(ofd, &st) == 0) {
			f->dev = st.st_dev;
			snprintf(f->opid, sizeof(f->opid), "op:%s/%s", scope, de->d_name);
			f->path[0] = '\0';
			if (*scope)
				f->site = scope;
			find_walk(f, ofd, 0, 0, !*scope);
		}
		close(ofd);
	}
	if (d)
		closedir(d);
}

/* BACKING/.gracefs/trash, or -1. */
static int root_trash_open(int backing_fd)
{
	int fd = open_in(backing_fd, TRASH_STATE_DIR), t = fd >= 0 ? open_in(fd, "trash") : -1;

	if (fd >= 0)
		close(fd);
	return t;
}

static int c_find(struct gctl *x, int argc, char **argv)
{
	static const char *const cols[] = { "op", "site", "path", "type", "size" };
	char site[NAME_MAX + 1];
	const char *want = NULL;
	struct finder *f;
	struct dirent *de;
	int r, tfd;
	DIR *d;

	if (argc == 3 && !strcmp(argv[0], "--site")) {
		if ((r = site_arg(argv[1], site)))
			return r;
		want = site;
		argv += 2;
		argc -= 2;
	}
	if (argc != 1)
		return fail(EXIT_USAGE, "usage: find [--site SITE] PATTERN");
	f = xrealloc(NULL, sizeof(*f));
	*f = (struct finder){ .t = TABLE(cols, "ssssn"), .pat = argv[0], .site = want,
			      .by_path = strchr(argv[0], '/') != NULL };
	/* deleted whole sites: BACKING/.gracefs/trash/<op>/<site>/… */
	if ((tfd = root_trash_open(x->backing_fd)) >= 0) {
		find_in_trash(f, tfd, "");
		close(tfd);
	}
	/* site trash: BACKING/<site>/.trash/<op>/… */
	for (d = dir_at(x->backing_fd); d && (de = readdir(d)); ) {
		int sfd;

		if (!catalog_site_id_valid(de->d_name) || (want && strcmp(want, de->d_name)) ||
		    (sfd = open_in(x->backing_fd, de->d_name)) < 0)
			continue;
		if ((tfd = open_in(sfd, TRASH_NAME)) >= 0) {
			find_in_trash(f, tfd, de->d_name);
			close(tfd);
		}
		close(sfd);
	}
	if (d)
		closedir(d);
	table_sort(&f->t);
	table_print(&f->t, x->json);
	r = f->t.nrows ? EXIT_DONE : EXIT_FAILED;   /* like grep: nothing found */
	table_free(&f->t);
	free(f);
	return r;
}

/* ---- selections of ops (undo) ---- */

/* An op inside a deleted site, BACKING/.gracefs/trash/<root>/<site>/.trash/
 * <op>: out of the index while its site is in the trash, yet part of what
 * a deleting run did.  Undo restores it after root op <root> brought the
 * site back under its own name. */
struct nested {
	char site[NAME_MAX + 1], op[NAME_MAX + 1], root[NAME_MAX + 1];
};

struct selection {
	struct op_record *v;
	size_t n;
	struct nested *nest;
	size_t nnest;
	/* bulk filters */
	int64_t since_ns, until_ns, uid;
	const char *command;
	const char *site;
	int backing_fd;
	size_t skipped_purging;
};

static void sel_add(struct selection *s, const struct op_record *r)
{
	s->v = xrealloc(s->v, (s->n + 1) * sizeof(*s->v));
	s->v[s->n++] = *r;
}

/* Does root-scope op `name` hold deleted site `site`? */
static bool root_op_has(int backing_fd, const char *name, const char *site)
{
	struct stat st;
	int t = root_trash_open(backing_fd), o = t >= 0 ? open_in(t, name) : -1;
	bool has = o >= 0 && fstatat(o, site, &st, AT_SYMLINK_NOFOLLOW) == 0;

	if (o >= 0)
		close(o);
	if (t >= 0)
		close(t);
	return has;
}

static int sel_filter(const struct op_record *r, void *arg)
{
	struct selection *s = arg;

	if (r->last_ns < s->since_ns || (s->until_ns && r->first_ns >= s->until_ns) ||
	    (s->uid >= 0 && r->uid != (uint64_t)s->uid))
		return 0;
	if (s->command && strcmp(op_cmd(r->name), s->command) &&
	    fnmatch(s->command, r->cmdline, 0) != 0)
		return 0;
	if (s->site && strcmp(r->scope, s->site) &&
	    (*r->scope || !root_op_has(s->backing_fd, r->name, s->site)))
		return 0;
	if (r->state == OP_PURGING) {
		s->skipped_purging++;
		return 0;
	}
	sel_add(s, r);
	return 0;
}

/* The root op that brings back the site of a nested op, or NULL. */
static const struct nested *nested_of(const struct selection *s, const struct op_record *r)
{
	for (size_t i = 0; *r->scope && i < s->nnest; i++)
		if (!strcmp(s->nest[i].site, r->scope) && !strcmp(s->nest[i].op, r->name))
			return &s->nest[i];
	return NULL;
}

/* Select, with the same filter, the ops in the trash of deleted site `site`
 * of root op `root` (ofd: its directory). */
static void sel_nested_site(struct selection *s, int ofd, const char *site, const char *root)
{
	int sfd = open_in(ofd, site), tfd = sfd >= 0 ? open_in(sfd, TRASH_NAME) : -1;
	DIR *d = tfd >= 0 ? dir_at(tfd) : NULL;
	struct dirent *de;

	while (d && (de = readdir(d))) {
		char buf[OPREC_ENC_MAX];
		struct op_record r;
		size_t before = s->n;
		ssize_t len;
		uint32_t pid;
		int64_t t;
		int o;

		if (!util_parse_op_name(de->d_name, &t, &pid) || (o = open_in(tfd, de->d_name)) < 0)
			continue;
		len = fgetxattr(o, OPREC_XATTR, buf, sizeof(buf));
		close(o);
		if (len < 0 || oprec_decode(buf, (size_t)len, &r) < 0)
			continue;   /* no record: the daemon rebuilds it once the site is back */
		snprintf(r.scope, sizeof(r.scope), "%s", site);
		snprintf(r.name, sizeof(r.name), "%s", de->d_name);
		sel_filter(&r, s);
		if (s->n == before || nested_of(s, &r))
			continue;
		s->nest = xrealloc(s->nest, (s->nnest + 1) * sizeof(*s->nest));
		snprintf(s->nest[s->nnest].site, sizeof(s->nest->site), "%s", site);
		snprintf(s->nest[s->nnest].op, sizeof(s->nest->op), "%s", de->d_name);
		snprintf(s->nest[s->nnest].root, sizeof(s->nest->root), "%s", root);
		s->nnest++;
	}
	if (d)
		closedir(d);
	if (tfd >= 0)
		close(tfd);
	if (sfd >= 0)
		close(sfd);
}

/* For every selected root op, the ops inside the sites it restores under
 * their own names (a site whose name is taken comes back renamed, with its
 * trash as it is: its ops are not selected). */
static void sel_nested(struct selection *s)
{
	int tfd = root_trash_open(s->backing_fd);
	size_t nroot = s->n;

	for (size_t i = 0; i < nroot && tfd >= 0; i++) {
		char root[NAME_MAX + 1];
		struct undo_plan p;
		int ofd;

		if (*s->v[i].scope)
			continue;
		snprintf(root, sizeof(root), "%s", s->v[i].name);   /* s->v moves */
		if ((ofd = open_in(tfd, root)) < 0)
			continue;
		if (undo_plan(s->backing_fd, "", root, &p) == 0) {
			for (size_t k = 0; k < p.n; k++)
				if (p.steps[k].kind == UNDO_MOVE && S_ISDIR(p.steps[k].mode) &&
				    !strchr(p.steps[k].from, '/'))
					sel_nested_site(s, ofd, p.steps[k].from, root);
			undo_plan_release(&p);
		}
		close(ofd);
	}
	if (tfd >= 0)
		close(tfd);
}

/* Plan a selected op; a nested op where it lies now, against its site as
 * it will be once restored. */
static int sel_plan(const struct selection *s, const struct op_record *r, struct undo_plan *p)
{
	const struct nested *n = nested_of(s, r);
	int tfd, ofd, rc;

	if (!n)
		return undo_plan(s->backing_fd, r->scope, r->name, p);
	if ((tfd = root_trash_open(s->backing_fd)) < 0)
		return -ENOENT;
	ofd = open_in(tfd, n->root);
	rc = ofd < 0 ? -errno : undo_plan(ofd, r->scope, r->name, p);
	close(tfd);
	if (ofd >= 0)
		close(ofd);
	return rc;
}

static int cmp_rec(const void *a, const void *b)
{
	const struct op_record *x = a, *y = b;
	int c = strcmp(x->scope, y->scope);

	return c ? c : strcmp(x->name, y->name);
}

/* The canonical plan body (sorted, one line per op) and its token.  Sorts
 * the selection and drops ops named twice. */
static char *plan_body(const char *verb, struct selection *s, const char *extra,
		       char token[CTLCMD_TOKEN_LEN + 1])
{
	char *body = NULL;
	size_t len = 0, n = 0;
	FILE *m = open_memstream(&body, &len);

	if (!m)
		return NULL;
	if (s->n)
		qsort(s->v, s->n, sizeof(*s->v), cmp_rec);
	for (size_t i = 0; i < s->n; i++)
		if (!n || cmp_rec(&s->v[n - 1], &s->v[i]))
			s->v[n++] = s->v[i];
	s->n = n;
	for (size_t i = 0; i < s->n; i++)
		fprintf(m, "%s\t%s\t%s\t%" PRIu64 "\t%" PRIu64 "\t%" PRId64 "\t%s\n", verb,
			s->v[i].scope, s->v[i].name, s->v[i].items, s->v[i].bytes,
			s->v[i].last_ns, extra ? extra : "");
	fclose(m);
	ctlcmd_plan_token(body, token);
	return body;
}

/* --execute [TOKEN] anywhere in argv: removed from it.  1 if present. */
static int take_execute(int *argc, char **argv, const char **token)
{
	int found = 0, j = 0;

	*token = NULL;
	for (int i = 0; i < *argc; i++) {
		if (strcmp(argv[i], "--execute")) {
			argv[j++] = argv[i];
			continue;
		}
		found = 1;
		if (i + 1 < *argc && strlen(argv[i + 1]) == CTLCMD_TOKEN_LEN &&
		    strspn(argv[i + 1], "0123456789abcdef") == CTLCMD_TOKEN_LEN)
			*token = argv[++i];
	}
	*argc = j;
	return found;
}

/* A token given with --execute must name the plan as it is now; bulk runs
 * (and every purge: need) must give one, and a bulk one must come from a
 * recent dry run.  The current token is never printed: it is only learnt
 * from a dry run, which shows what it stands for. */
static int check_token(struct gctl *x, const char *given, const char *now, bool bulk,
		       bool need)
{
	int64_t created;
	char *body;

	if ((bulk || need) && !given)
		return fail(EXIT_USAGE, "%s acts only with --execute TOKEN, the token its dry run "
			    "printed", bulk ? "a bulk command" : "this command");
	if (given && strcmp(given, now))
		return fail(EXIT_FAILED, "the plan changed since the dry run (token %s is not "
			    "its token now): run the dry run again and review it", given);
	if (!bulk)
		return 0;
	if (need_catalog(x, false) || catalog_plan_get(x->cat, given, &created, &body) < 0)
		return fail(EXIT_FAILED, "plan token %s was not issued by a dry run", given);
	free(body);
	if (now_s() - created > PLAN_TTL_S)
		return fail(EXIT_FAILED, "plan token %s is older than 24h: run the dry run again",
			    given);
	return 0;
}

/* Keep a bulk dry run's plan so that --execute TOKEN can be checked. */
static void store_plan(struct gctl *x, const char *token, const char *body)
{
	int r = need_catalog(x, true);

	if (!r && !(r = catalog_plan_put(x->cat, token, now_s(), body)))
		catalog_plan_prune(x->cat, now_s() - PLAN_KEEP_S);
	if (r)
		fprintf(stderr, "gracectl: warning: cannot store the plan; --execute %s will be "
			"refused\n", token);
}

/* ---- undo ---- */

/* A held op (or an op of a held site) is frozen, and a half-purged one is
 * not restorable: refuse the whole command up front, in one line, before
 * anything moves.  The daemon checks again under its lock. */
static int refuse_frozen(struct gctl *x, const struct op_record *v, size_t n, const char *verb)
{
	struct site_policy pol;

	for (size_t i = 0; i < n; i++) {
		bool site = *v[i].scope && sitepolicy_get(x->backing_fd, v[i].scope, &pol) == 0 &&
			    pol.hold;

		if (v[i].hold || site)
			return fail(EXIT_FAILED, "%s: %s is under legal hold%s: nothing was changed "
				    "(a held item is restored by copying it)", verb,
				    op_id(v[i].scope, v[i].name), site ? " (its site)" : "");
		if (v[i].state == OP_PURGING)
			return fail(EXIT_FAILED, "%s: %s is being purged: nothing was changed", verb,
				    op_id(v[i].scope, v[i].name));
	}
	return 0;
}

#define UNDO_WORKERS 4   /* ops restored at once (distinct ops never collide) */

/* Shared by the workers of one undo run; lock guards everything below it. */
struct undo_run {
	struct gctl *x;
	struct selection *s;
	pthread_mutex_t lock;
	struct table events;         /* op, event, from, to */
	size_t next, end, done, moved, renamed, mkdirs, failed, failed_ops;
	bool stop;
};

struct undo_call {
	struct undo_run *u;
	char opid[2 * NAME_MAX + 8];
	size_t moved, renamed;
};

/* Lines of one op's undo: renamed / failed steps, and the final counts. */
static int undo_line(void *arg, const char *const *f, int n)
{
	struct undo_call *c = arg;
	struct undo_run *u = c->u;

	pthread_mutex_lock(&u->lock);
	if (n >= 9 && !strcmp(f[0], "done")) {
		c->moved = strtoull(f[2], NULL, 10);
		c->renamed = strtoull(f[4], NULL, 10);
		u->moved += c->moved;
		u->renamed += c->renamed;
		u->mkdirs += strtoull(f[6], NULL, 10);
		u->failed += strtoull(f[8], NULL, 10);
	} else if (n >= 2 && strcmp(f[0], "mkdir")) {
		table_add(&u->events, c->opid, f[0], f[1], n > 2 ? f[2] : "");
		if (!u->x->json)
			printf("  %s: %s: %s%s%s\n", c->opid, f[0], f[1], n > 2 ? " -> " : "",
			       n > 2 ? f[2] : "");
	}
	pthread_mutex_unlock(&u->lock);
	return 0;
}

/* A nested op whose root op did not bring its site back under its own
 * name stays where it is (in that site's trash).  Under u->lock. */
static int site_not_back(struct undo_run *u, const struct op_record *r, char *msg, size_t cap)
{
	const struct nested *n = nested_of(u->s, r);
	char root[NAME_MAX + 8];

	if (n)   /* not op_id(): fmt()'s buffers are the main thread's */
		snprintf(root, sizeof(root), "op:/%s", n->root);
	for (size_t i = 0; n && i < u->events.nrows; i++)
		if (!strcmp(cell(&u->events, i, 0), root) && !strcmp(cell(&u->events, i, 2), n->site)) {
			bool ren = !strcmp(cell(&u->events, i, 1), "renamed");

			snprintf(msg, cap, "not restored: site '%s' %s %s; the op stays in its "
				 "trash", n->site, ren ? "came back as" : "was not restored:",
				 cell(&u->events, i, 3));
			return -EEXIST;
		}
	return 0;
}

static void *undo_worker(void *arg)
{
	struct undo_run *u = arg;
	char sock[PATH_MAX + 32], msg[600];

	snprintf(sock, sizeof(sock), "%s/ctl.sock", u->x->state);
	for (;;) {
		struct undo_call c = { .u = u };
		const struct op_record *r;
		int rc;

		pthread_mutex_lock(&u->lock);
		if (u->stop || u->next == u->end) {
			pthread_mutex_unlock(&u->lock);
			return NULL;
		}
		r = &u->s->v[u->next++];
		snprintf(c.opid, sizeof(c.opid), "op:%s/%s", r->scope, r->name);
		rc = site_not_back(u, r, msg, sizeof(msg));
		pthread_mutex_unlock(&u->lock);
		if (!rc)
			rc = call_daemon(sock, (const char *[]){ "undo", r->scope, r->name }, 3,
					 undo_line, &c, msg, sizeof(msg));
		pthread_mutex_lock(&u->lock);
		u->done++;
		if (rc < 0) {
			u->failed_ops++;
			u->stop |= rc == -ECONNREFUSED;   /* the daemon went away */
			fprintf(stderr, "gracectl: error: %s: %s\n", c.opid, *msg ? msg : strerror(-rc));
		}
		if (!u->x->json)
			printf("[%zu/%zu] %s: %zu item(s) restored%s\n", u->done, u->s->n, c.opid,
			       c.moved + c.renamed, rc < 0 ? " (incomplete)" : "");
		pthread_mutex_unlock(&u->lock);
	}
}

static int undo_execute_all(struct gctl *x, struct selection *s)
{
	static const char *const ev_cols[] = { "op", "event", "from", "to" };
	struct undo_run u = { .x = x, .s = s, .events = TABLE(ev_cols, "ssss") };
	pthread_t t[UNDO_WORKERS];
	size_t nroot = 0;

	/* root ops (sorted first) bring deleted sites back, then the ops of
	 * the sites follow: those inside a deleted site need it back first */
	while (nroot < s->n && !*s->v[nroot].scope)
		nroot++;
	pthread_mutex_init(&u.lock, NULL);
	for (int phase = 0; phase < 2; phase++) {
		size_t n = 0;

		u.end = phase ? s->n : nroot;
		while (n < UNDO_WORKERS && n < u.end - u.next &&
		       pthread_create(&t[n], NULL, undo_worker, &u) == 0)
			n++;
		if (!n)
			undo_worker(&u);
		while (n)
			pthread_join(t[--n], NULL);
	}
	pthread_mutex_destroy(&u.lock);
	if (x->json) {
		printf("{\"executed\":true,\"ops\":%zu,\"failed_ops\":%zu,\"moved\":%zu,"
		       "\"renamed\":%zu,\"mkdirs\":%zu,\"failed\":%zu,\"events\":", s->n,
		       u.failed_ops, u.moved, u.renamed, u.mkdirs, u.failed);
		table_json(&u.events);
		puts("}");
	} else {
		printf("undo: %zu op(s): %zu item(s) restored to their original paths, %zu next "
		       "to a taken name, %zu parent(s) recreated, %zu failed%s\n", s->n, u.moved,
		       u.renamed, u.mkdirs, u.failed, u.failed_ops ? " (see the errors above)" : "");
	}
	table_free(&u.events);
	return u.failed_ops || u.failed ? EXIT_FAILED : EXIT_DONE;
}

static const char *const dry_cols[] = { "op", "site", "deleted", "uid", "command", "items",
	"bytes", "moves", "renamed", "mkdirs" };

/* The sites an op touches: its scope, or the deleted sites it holds. */
static void op_sites(struct gctl *x, const struct op_record *r, char *buf, size_t cap)
{
	struct undo_plan p;

	snprintf(buf, cap, "%s", r->scope);
	if (*r->scope || undo_plan(x->backing_fd, "", r->name, &p) < 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0, len = 0; i < p.n; i++)
		if (!strchr(p.steps[i].from, '/') && len + strlen(p.steps[i].from) + 2 < cap)
			len += (size_t)snprintf(buf + len, cap - len, "%s%s", len ? "," : "",
						p.steps[i].from);
	undo_plan_release(&p);
}

static int undo_dry_run(struct gctl *x, struct selection *s, const char *token, bool bulk,
			const char *body)
{
	struct table t = TABLE(dry_cols, "sssnsnnnnn"), ct = TABLE(plan_cols, "ssss");
	uint64_t items = 0, bytes = 0;
	size_t renamed = 0, mkdirs = 0, nsites = 0;
	char **sites = NULL, sbuf[4096];

	for (size_t i = 0; i < s->n; i++) {
		const struct op_record *r = &s->v[i];
		struct undo_plan p;
		int pr = sel_plan(s, r, &p);

		if (pr < 0)
			return fail(EXIT_FAILED, "%s: cannot plan: %s", op_id(r->scope, r->name),
				    strerror(-pr));
		op_sites(x, r, sbuf, sizeof(sbuf));
		table_add(&t, op_id(r->scope, r->name), sbuf, utc(r->last_ns / NS), num(r->uid),
			  r->cmdline, num(r->items), num(r->bytes), num(p.moves + p.renames),
			  num(p.renames), num(p.mkdirs));
		for (char *save, *w = strtok_r(sbuf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
			size_t k;

			for (k = 0; k < nsites && strcmp(sites[k], w); k++)
				;
			if (k == nsites) {
				sites = xrealloc(sites, (nsites + 1) * sizeof(*sites));
				sites[nsites++] = xstrdup(w);
			}
		}
		plan_rows(&ct, &p, true);
		items += r->items;
		bytes += r->bytes;
		renamed += p.renames;
		mkdirs += p.mkdirs;
		undo_plan_release(&p);
	}
	if (bulk)
		store_plan(x, token, body);
	if (x->json) {
		printf("{\"dry_run\":true,\"token\":\"%s\",\"ops\":%zu,\"sites\":%zu,\"items\":%"
		       PRIu64 ",\"bytes\":%" PRIu64 ",\"renamed\":%zu,\"mkdirs\":%zu,"
		       "\"skipped_purging\":%zu,\"plan\":", token, s->n, nsites, items, bytes,
		       renamed, mkdirs, s->skipped_purging);
		table_json(&t);
		fputs(",\"conflicts\":", stdout);
		table_json(&ct);
		puts("}");
	} else {
		table_plain(&t);
		if (ct.nrows) {
			printf("\nthe original names of these are taken; they would be restored "
			       "next to them:\n");
			table_plain(&ct);
		}
		printf("\ndry run: would restore %zu operation(s) in %zu site(s): %" PRIu64
		       " item(s), %" PRIu64 " byte(s); %zu under a new name, %zu parent "
		       "director%s recreated", s->n, nsites, items, bytes, renamed, mkdirs,
		       mkdirs == 1 ? "y" : "ies");
		if (s->skipped_purging)
			printf("; %zu op(s) being purged left out", s->skipped_purging);
		printf("\nplan token: %s\nto act, run the same command with --execute %s\n",
		       token, token);
	}
	while (nsites)
		free(sites[--nsites]);
	free(sites);
	table_free(&t);
	table_free(&ct);
	return EXIT_DONE;
}

static int c_undo(struct gctl *x, int argc, char **argv)
{
	struct selection s = { .uid = -1, .backing_fd = x->backing_fd };
	char token[CTLCMD_TOKEN_LEN + 1], site[NAME_MAX + 1], *body;
	const char *given;
	bool execute = take_execute(&argc, argv, &given), bulk = false, ids = false;
	int r;

	if ((r = need_index(x)))
		return r;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end;

		if (a[0] != '-') {
			struct op_record rec;

			if ((r = resolve_op(x, a, &rec)))
				goto out;
			sel_add(&s, &rec);
			ids = true;
			continue;
		}
		if (!v) {
			r = fail(EXIT_USAGE, "%s needs a value", a);
			goto out;
		}
		i++;
		bulk = true;
		if (!strcmp(a, "--since") || !strcmp(a, "--until")) {
			if (parse_time(v, !strcmp(a, "--since") ? &s.since_ns : &s.until_ns) < 0) {
				r = fail(EXIT_USAGE, "bad time '%s' (2026-11-27T13:05:12Z, 2026-11-27, "
					 "or a duration ago like 2h)", v);
				goto out;
			}
		} else if (!strcmp(a, "--uid")) {
			s.uid = strtoll(v, &end, 10);
			if (*end || s.uid < 0 || s.uid > UINT32_MAX) {
				r = fail(EXIT_USAGE, "bad uid '%s'", v);
				goto out;
			}
		} else if (!strcmp(a, "--command")) {
			s.command = v;
		} else if (!strcmp(a, "--site")) {
			if ((r = site_arg(v, site)))
				goto out;
			s.site = site;
		} else {
			r = fail(EXIT_USAGE, "unknown option '%s'", a);
			goto out;
		}
	}
	if (ids == bulk || (bulk && !s.since_ns)) {
		r = fail(EXIT_USAGE, "usage: undo op:ID… | undo --since T [--until T] [--uid U] "
			 "[--command C] [--site S]  [--execute [TOKEN]]");
		goto out;
	}
	if (bulk && (r = index_foreach(x->ix, NULL, sel_filter, &s)) < 0) {
		r = fail(EXIT_FAILED, "index: %s", strerror(-r));
		goto out;
	}
	if (bulk)
		sel_nested(&s);
	if (!s.n) {
		r = fail(EXIT_FAILED, "no operation matches");
		goto out;
	}
	if (!(body = plan_body("undo", &s, NULL, token))) {
		r = fail(EXIT_FAILED, "out of memory");
		goto out;
	}
	if (!execute)
		r = undo_dry_run(x, &s, token, bulk, body);
	else if (!(r = check_token(x, given, token, bulk, true)) &&
		 !(r = refuse_frozen(x, s.v, s.n, "undo")))
		r = daemon_answers(x) ? undo_execute_all(x, &s) :
		    fail(EXIT_FAILED, "undo needs the running daemon: mount %s first (nothing "
			 "was changed)", x->backing);
	free(body);
out:
	free(s.v);
	free(s.nest);
	return r;
}

/* ---- hold, release, purge ---- */

struct hold_req {
	const char *v[4];
	int n;
	char scope[NAME_MAX + 1], name[NAME_MAX + 1];
};

static int c_hold(struct gctl *x, int argc, char **argv)
{
	const char *verb = argv[-1];
	struct hold_req *q = xrealloc(NULL, (size_t)(argc ? argc : 1) * sizeof(*q));
	int r = argc ? EXIT_DONE : fail(EXIT_USAGE, "usage: %s site:ID|op:ID…", verb);

	/* resolve every ID before changing anything */
	for (int i = 0; i < argc && !r; i++) {
		struct op_record rec;
		struct ctl_id id;
		struct stat st;
		char msg[600];

		q[i] = (struct hold_req){ { verb, "site", q[i].scope, q[i].name }, 3 };
		if (ctlcmd_parse_id(argv[i], CTL_ID_SITE | CTL_ID_OP, &id, msg, sizeof(msg)) < 0) {
			r = fail(EXIT_USAGE, "%s", msg);
		} else if (id.kind == CTL_ID_SITE) {
			if (fstatat(x->backing_fd, id.site, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			    !S_ISDIR(st.st_mode))
				r = fail(EXIT_USAGE, "unknown site '%s'", argv[i]);
			strcpy(q[i].scope, id.site);
		} else if (!(r = resolve_op(x, argv[i], &rec))) {
			strcpy(q[i].scope, rec.scope);
			strcpy(q[i].name, rec.name);
			q[i].v[1] = "op";
			q[i].n = 4;
		}
	}
	for (int i = 0; i < argc && !r; i++) {
		if (mutate(x, q[i].v, q[i].n, print_line, NULL) < 0)
			r = EXIT_FAILED;
		else if (!x->json)
			printf("%s: %s\n", verb, argv[i]);
	}
	free(q);
	return r;
}

static int c_purge(struct gctl *x, int argc, char **argv)
{
	struct table t = { op_cols, OP_TYPES, OP_LS_COLS, 0, NULL };
	struct selection s = {0};
	struct op_record rec;
	char token[CTLCMD_TOKEN_LEN + 1], *body;
	const char *given, *reason = NULL, *id = NULL;
	bool execute = take_execute(&argc, argv, &given), held;
	struct site_policy pol;
	int r;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--reason") && i + 1 < argc)
			reason = argv[++i];
		else if (!id && argv[i][0] != '-')
			id = argv[i];
		else
			return fail(EXIT_USAGE, "usage: purge op:ID --reason TEXT [--execute TOKEN]");
	}
	if (!id || !reason || !reason[strspn(reason, " \t")])
		return fail(EXIT_USAGE, "usage: purge op:ID --reason TEXT [--execute TOKEN] (the reason "
			    "is recorded in the audit log)");
	if ((r = resolve_op(x, id, &rec)))
		return r;
	s.v = &rec;
	s.n = 1;
	if (!(body = plan_body("purge", &s, reason, token)))
		return fail(EXIT_FAILED, "out of memory");
	free(body);
	if (execute) {
		const char *v[] = { "purge", rec.scope, rec.name, reason };

		if ((r = check_token(x, given, token, false, true)) ||
		    (r = refuse_frozen(x, &rec, 1, "purge")))
			return r;   /* purge: only with the dry run's token, never held */
		return mutate(x, v, 4, print_line, NULL) < 0 ? EXIT_FAILED : EXIT_DONE;
	}
	op_row(&rec, &t);
	held = rec.hold || (*rec.scope && sitepolicy_get(x->backing_fd, rec.scope, &pol) == 0 &&
			    pol.hold);
	if (x->json) {
		printf("{\"dry_run\":true,\"token\":\"%s\",\"held\":%s,\"op\":", token,
		       held ? "true" : "false");
		table_json_obj(&t, 0);
		puts("}");
	} else {
		table_vertical(&t, 0);
		printf("\ndry run: would permanently delete %s: %" PRIu64 " item(s), %" PRIu64
		       " byte(s); reason: %s\n%splan token: %s\nto act, run the same command "
		       "with --execute %s\n", op_id(rec.scope, rec.name), rec.items, rec.bytes, reason,
		       held ? "note: the op or its site is under legal hold; the purge will be "
		       "refused\n" : "",
		       token, token);
	}
	table_free(&t);
	return EXIT_DONE;
}

/* ---- sites ---- */

struct usage {
	char scope[NAME_MAX + 1];
	uint64_t ops, items, bytes;
	int64_t oldest_s, next_expiry_s;
};

struct usages {
	struct usage *v;
	size_t n;
};

/* Index order keeps each scope's ops together: one run per scope. */
static int usage_add(const struct op_record *r, void *arg)
{
	struct usages *u = arg;
	struct usage *s = u->n ? &u->v[u->n - 1] : NULL;

	if (!s || strcmp(s->scope, r->scope)) {
		u->v = xrealloc(u->v, (u->n + 1) * sizeof(*u->v));
		s = memset(&u->v[u->n++], 0, sizeof(*s));
		strcpy(s->scope, r->scope);
	}
	s->ops++;
	s->items += r->items;
	s->bytes += r->bytes;
	if (!s->oldest_s || r->first_ns / NS < s->oldest_s)
		s->oldest_s = r->first_ns / NS;
	if (!r->hold && (!s->next_expiry_s || oprec_expiry(r) < s->next_expiry_s))
		s->next_expiry_s = oprec_expiry(r);
	return 0;
}

static int cmp_usage(const void *a, const void *b)
{
	return strcmp(((const struct usage *)a)->scope, ((const struct usage *)b)->scope);
}

static int load_usage(struct gctl *x, struct usages *u)
{
	int r = need_index(x);

	*u = (struct usages){0};
	if (!r && (r = index_foreach(x->ix, NULL, usage_add, u)) < 0) {
		free(u->v);
		return fail(EXIT_FAILED, "index: %s", strerror(-r));
	}
	if (u->n)
		qsort(u->v, u->n, sizeof(*u->v), cmp_usage);
	return r;
}

static const struct usage *usage_of(const struct usages *u, const char *scope)
{
	struct usage key;

	snprintf(key.scope, sizeof(key.scope), "%s", scope);
	return u->n ? bsearch(&key, u->v, u->n, sizeof(*u->v), cmp_usage) : NULL;
}

static const char *const usage_cols[] = { "site", "ops", "items", "bytes", "oldest",
	"next_expiry" };

static void usage_rows(struct table *t, const struct usages *u)
{
	for (size_t i = 0; i < u->n; i++)
		table_add(t, *u->v[i].scope ? u->v[i].scope : "/", num(u->v[i].ops),
			  num(u->v[i].items), num(u->v[i].bytes), utc(u->v[i].oldest_s),
			  utc(u->v[i].next_expiry_s));
}

struct names {
	char **v;
	size_t n;
};

static void names_add(struct names *n, const char *s)
{
	n->v = xrealloc(n->v, (n->n + 1) * sizeof(*n->v));
	n->v[n->n++] = xstrdup(s);
}

static int site_name_cb(const struct catalog_site *s, void *arg)
{
	names_add(arg, s->id);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The site directories of the backing store, appended to n. */
static void site_dirs(struct gctl *x, struct names *n)
{
	struct dirent *de;
	DIR *d;

	for (d = dir_at(x->backing_fd); d && (de = readdir(d)); ) {
		struct stat st;

		if (catalog_site_id_valid(de->d_name) &&
		    fstatat(x->backing_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode))
			names_add(n, de->d_name);
	}
	if (d)
		closedir(d);
}

static void names_free(struct names *n)
{
	while (n->n)
		free(n->v[--n->n]);
	free(n->v);
}

/* "site  exclude" rows for every site with exclusion patterns. */
static void exclusion_rows(struct gctl *x, struct table *t)
{
	struct names names = {0};
	char excl[EXCLUDE_LIST_MAX + 2];

	site_dirs(x, &names);
	if (names.n)
		qsort(names.v, names.n, sizeof(*names.v), cmp_str);
	for (size_t i = 0; i < names.n; i++)
		if (sitepolicy_get_exclude(x->backing_fd, names.v[i], excl, sizeof(excl)) == 0 &&
		    *excl)
			table_add(t, names.v[i], excl);
	names_free(&names);
}

static int site_ls(struct gctl *x, int argc, char **argv)
{
	static const char *const cols[] = { "site", "kind", "state", "created", "retention",
		"hold", "ops", "items", "bytes", "oldest", "next_expiry", "protected", "trash_max",
		"exclude" };
	struct table t = TABLE(cols, "sssssbnnnsssss");
	struct catalog_protected *prot = NULL;
	struct names names = {0};
	struct usages u;
	bool have_cat = need_catalog(x, false) == 0;
	int r;

	if ((r = load_usage(x, &u)))
		return r;
	site_dirs(x, &names);
	if (have_cat) {
		catalog_site_list(x->cat, site_name_cb, &names);
		catalog_protected_list(x->cat, &prot);
	}
	if (names.n)
		qsort(names.v, names.n, sizeof(*names.v), cmp_str);
	for (size_t i = 0; i < names.n; i++) {
		struct catalog_site cs = { .kind = "" };
		struct site_policy pol = {0};
		const struct usage *us = usage_of(&u, names.v[i]);
		char ret[32] = "default", plist[1024] = "", tmax[32] = "", excl[EXCLUDE_LIST_MAX + 2];
		bool in_cat;

		if (i && !strcmp(names.v[i], names.v[i - 1]))
			continue;   /* both a directory and in the catalog */
		in_cat = have_cat && catalog_site_get(x->cat, names.v[i], &cs) == 0;
		sitepolicy_get(x->backing_fd, names.v[i], &pol);
		if (pol.retention_s)
			util_format_duration(pol.retention_s, ret, sizeof(ret));
		if (pol.trash_max)
			evict_format_size(pol.trash_max, tmax, sizeof(tmax));
		if (sitepolicy_get_exclude(x->backing_fd, names.v[i], excl, sizeof(excl)) < 0)
			snprintf(excl, sizeof(excl), "?");
		for (size_t k = 0, len = 0; prot && k < prot->n; k++)
			if (!strcmp(prot->v[k].site, names.v[i]) &&
			    len + strlen(prot->v[k].path) + 3 < sizeof(plist))
				len += (size_t)snprintf(plist + len, sizeof(plist) - len, "%s/%s",
							len ? "," : "", prot->v[k].path);
		table_add(&t, names.v[i], in_cat ? cs.kind : "",
			  in_cat ? catalog_state_name(cs.state) : "uncataloged",
			  in_cat ? utc(cs.created_s) : "", ret, yes(pol.hold),
			  num(us ? us->ops : 0), num(us ? us->items : 0), num(us ? us->bytes : 0),
			  us ? utc(us->oldest_s) : "", us ? utc(us->next_expiry_s) : "", plist, tmax,
			  excl);
	}
	table_print(&t, x->json);
	table_free(&t);
	catalog_protected_free(prot);
	names_free(&names);
	free(u.v);
	return EXIT_DONE;
}

static int site_add(struct gctl *x, int argc, char **argv)
{
	char site[NAME_MAX + 1];
	const char *kind = argc == 2 ? argv[1] : "site";
	int r;

	if (argc < 1 || argc > 2)
		return fail(EXIT_USAGE, "usage: site add site:ID [KIND|kind=KIND]");
	if ((r = site_id(x, argv[0], site)))
		return r;
	if (!strncmp(kind, "kind=", 5))
		kind += 5;
	return mutate(x, (const char *[]){ "site-add", site, kind }, 3, print_line, NULL) < 0 ?
	       EXIT_FAILED : EXIT_DONE;
}

/* trash_max and exclude make data leave without its retention (eviction,
 * direct deletion): setting either is a dry run first, like lowering a
 * retention.  The values are checked here so the dry run is about a
 * setting that can be made. */
struct space_dry {
	bool any;
	uint64_t cap;                          /* trash_max given (0: not given) */
	char exclude[EXCLUDE_LIST_MAX + 1];    /* canonical list given ("": not given) */
};

/* Note a trash_max or exclude value in *d.  0 (also for other keys and
 * "none"), or -1 for a bad value (the error is printed). */
static int space_key_dry(const char *k, const char *v, struct space_dry *d)
{
	struct exclude_set xs;
	char msg[256];

	if (!strcmp(v, "none"))
		return 0;
	if (!strcmp(k, "trash_max")) {
		if (evict_parse_size(v, &d->cap) < 0 || d->cap > INT64_MAX) {
			fail(EXIT_USAGE, "bad trash_max '%s' (a size: 512M, 20G; or none)", v);
			return -1;
		}
		d->any = d->cap > 0;
	} else if (!strcmp(k, "exclude")) {
		if (exclude_parse(v, &xs, msg, sizeof(msg)) < 0) {
			fail(EXIT_USAGE, "%s", msg);
			return -1;
		}
		exclude_format(&xs, d->exclude, sizeof(d->exclude));
		d->any = d->any || *d->exclude;
	}
	return 0;
}

static void space_dry_print(const struct space_dry *d, const char *site, uint64_t ops,
			    uint64_t bytes)
{
	char cap[32];

	if (d->cap) {
		evict_format_size(d->cap, cap, sizeof(cap));
		printf("dry run: would cap the trash of site '%s' at %s; it holds %" PRIu64
		       " bytes in %" PRIu64 " op(s) now. While it holds more, the sweeper evicts "
		       "its oldest operations past min_retention (not held ones).\n", site, cap,
		       bytes, ops);
	}
	if (*d->exclude)
		printf("dry run: would delete items of site '%s' matching %s directly, not to "
		       "trash (unlink, rmdir of empty directories, rename over them): they could "
		       "not be restored.\n", site, d->exclude);
}

/* site set site:ID key=value…  (lowering retention, a cap or exclusions are a
 * dry run first) */
static int site_set(struct gctl *x, int argc, char **argv)
{
	const char *v[CTL_ARGC_MAX] = { "site-set" }, *given, *newret = NULL;
	bool execute = take_execute(&argc, argv, &given), lowers = false;
	char site[NAME_MAX + 1], cur[32] = "the mount's default", keys[CTL_ARGC_MAX / 2][16];
	struct site_policy pol;
	struct space_dry sdry = {0};
	int n = 2, r;
	int64_t nr = 0;

	if (argc < 2 || argc > CTL_ARGC_MAX / 2)
		return fail(EXIT_USAGE, "usage: site set site:ID retention=DURATION|default "
			    "hold=on|off kind=KIND trash_max=SIZE|none exclude=GLOB,…|none… "
			    "[--execute]");
	if ((r = site_id(x, argv[0], site)))
		return r;
	v[1] = site;
	for (int i = 1; i < argc; i++) {
		char *eq = strchr(argv[i], '=');

		if (!eq || eq - argv[i] >= (int)sizeof(keys[0]))
			return fail(EXIT_USAGE, "expected KEY=VALUE, got '%s'", argv[i]);
		/* argv stays as it is: /proc/self/cmdline goes into the audit */
		snprintf(keys[i], sizeof(keys[i]), "%.*s", (int)(eq - argv[i]), argv[i]);
		v[n++] = keys[i];
		v[n++] = eq + 1;
		if (space_key_dry(keys[i], eq + 1, &sdry) < 0)
			return EXIT_USAGE;
		if (strcmp(keys[i], "retention"))
			continue;
		newret = eq + 1;
		if (strcmp(newret, "default") && util_parse_duration(newret, &nr) < 0)
			return fail(EXIT_USAGE, "bad retention '%s' (e.g. 30d, 12h)", newret);
		if (sitepolicy_get(x->backing_fd, site, &pol) < 0)
			return fail(EXIT_USAGE, "unknown site '%s'", argv[0]);
		if (pol.retention_s)
			util_format_duration(pol.retention_s, cur, sizeof(cur));
		/* "default", or from the (unknown here) default, may be lower */
		lowers = !nr || !pol.retention_s || nr < pol.retention_s;
	}
	if ((lowers || sdry.any) && !execute) {
		struct usages u;
		const struct usage *us;

		if ((r = load_usage(x, &u)))
			return r;
		us = usage_of(&u, site);
		if (lowers)
			printf("dry run: would set the retention of site '%s' from %s to %s.\n"
			       "It applies to operations deleted from now on; the %" PRIu64 " op(s) "
			       "(%" PRIu64 " bytes) in its trash keep the retention they were "
			       "deleted with.\n", site, cur, nr ? newret : "the mount's default",
			       us ? us->ops : 0, us ? us->bytes : 0);
		space_dry_print(&sdry, site, us ? us->ops : 0, us ? us->bytes : 0);
		puts("to act, run the same command with --execute");
		free(u.v);
		return EXIT_DONE;
	}
	return mutate(x, v, n, print_line, NULL) < 0 ? EXIT_FAILED : EXIT_DONE;
}

static int site_protect(struct gctl *x, int argc, char **argv)
{
	const char *verb = argv[-1];
	char site[NAME_MAX + 1];
	int r;

	if (argc != 2)
		return fail(EXIT_USAGE, "usage: site %s site:ID PATH", verb);
	if ((r = site_id(x, argv[0], site)))
		return r;
	return mutate(x, (const char *[]){ verb, site, argv[1] }, 3, print_line, NULL) < 0 ?
	       EXIT_FAILED : EXIT_DONE;
}

struct cmd {
	const char *name;
	int (*fn)(struct gctl *x, int argc, char **argv);   /* argv[-1] is the name */
	const char *usage;
};

static const struct cmd site_cmds[] = {
	{ "ls",        site_ls,      "site ls" },
	{ "add",       site_add,     "site add site:ID [KIND]" },
	{ "set",       site_set,     "site set site:ID retention=DURATION|default hold=on|off "
				     "kind=KIND trash_max=SIZE|none exclude=GLOB,…|none [--execute]" },
	{ "protect",   site_protect, "site protect site:ID PATH" },
	{ "unprotect", site_protect, "site unprotect site:ID PATH" },
};

static int dispatch(struct gctl *x, const struct cmd *cmds, size_t n, const char *what,
		    int argc, char **argv);

static int c_site(struct gctl *x, int argc, char **argv)
{
	return dispatch(x, site_cmds, ARRAY_SIZE(site_cmds), "site", argc, argv);
}

/* ---- status and log ---- */

static int kv_line(void *arg, const char *const *f, int n)
{
	if (n >= 2)
		table_add(arg, f[0], f[1]);
	return 0;
}

static int c_status(struct gctl *x, int argc, char **argv)
{
	static const char *const kv_cols[] = { "key", "value" };
	static const char *const excl_cols[] = { "site", "exclude" };
	static const char *const tot_cols[] = { "daemon", "backing", "trash_ops", "trash_items",
		"trash_bytes", "next_expiry" };
	struct table kv = TABLE(kv_cols, "ss"), tot = TABLE(tot_cols, "ssnnns"),
		     ut = TABLE(usage_cols, "snnnss"), xt = TABLE(excl_cols, "ss");
	struct usages u;
	uint64_t ops = 0, items = 0, bytes = 0;
	int64_t next = 0;
	char msg[600];
	int r;

	if (argc)
		return fail(EXIT_USAGE, "usage: status");
	/* the daemon's own lines (mount, sweeper, interlocks, …) */
	if ((r = load_usage(x, &u)))
		return r;
	r = ctl_call(fmt("%s/ctl.sock", x->state), (const char *[]){ "status" }, 1, kv_line, &kv,
		     msg, sizeof(msg));
	for (size_t i = 0; i < u.n; i++) {
		ops += u.v[i].ops;
		items += u.v[i].items;
		bytes += u.v[i].bytes;
		if (u.v[i].next_expiry_s && (!next || u.v[i].next_expiry_s < next))
			next = u.v[i].next_expiry_s;
	}
	table_add(&tot, r == -ECONNREFUSED ? (daemon_holds_lock(x) ?
		  "running, control socket not answering" : "not running") : r < 0 ?
		  fmt("running (status: %s)", *msg ? msg : strerror(-r)) : "running",
		  x->backing, num(ops), num(items), num(bytes), utc(next));
	usage_rows(&ut, &u);
	exclusion_rows(x, &xt);
	if (x->json) {
		fputs("{\"totals\":", stdout);
		table_json_obj(&tot, 0);
		fputs(",\"daemon\":{", stdout);
		for (size_t i = 0; i < kv.nrows; i++) {
			printf("%s", i ? "," : "");
			json_str(cell(&kv, i, 0));
			putchar(':');
			json_str(cell(&kv, i, 1));
		}
		fputs("},\"sites\":", stdout);
		table_json(&ut);
		fputs(",\"exclusions\":", stdout);
		table_json(&xt);
		puts("}");
	} else {
		int w = 15;   /* "key:" column: the widest key decides */

		table_vertical(&tot, 0);
		for (size_t i = 0; i < kv.nrows; i++)
			if ((int)strlen(cell(&kv, i, 0)) + 2 > w)
				w = (int)strlen(cell(&kv, i, 0)) + 2;
		for (size_t i = 0; i < kv.nrows; i++)
			printf("%-*s%s\n", w, fmt("%s:", cell(&kv, i, 0)), cell(&kv, i, 1));
		putchar('\n');
		table_plain(&ut);
		if (xt.nrows) {
			putchar('\n');
			table_plain(&xt);
		}
	}
	table_free(&xt);
	table_free(&kv);
	table_free(&tot);
	table_free(&ut);
	free(u.v);
	return EXIT_DONE;
}

static int log_row(const struct audit_row *a, void *arg)
{
	char ts[32];

	util_format_utc(a->ts_ns / NS, false, ts, sizeof(ts));
	table_add(arg, num(a->seq), ts, a->event, a->site, a->op, a->path,
		  a->uid >= 0 ? num((uint64_t)a->uid) : "", a->pid >= 0 ? num((uint64_t)a->pid) : "",
		  a->cmdline, a->detail);
	return 0;
}

static int c_log(struct gctl *x, int argc, char **argv)
{
	static const char *const cols[] = { "seq", "time", "event", "site", "op", "path", "uid",
		"pid", "command", "detail" };
	struct table t = TABLE(cols, "nsssssnnss");
	struct catalog_audit_filter f = {0};
	char site[NAME_MAX + 1];
	struct ctl_id id;
	int r;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[++i] : NULL;
		char msg[600], *end;

		if (!v)
			return fail(EXIT_USAGE, "usage: log [--since T] [--until T] [--site S] "
				    "[--op ID] [--event E] [--limit N]");
		if (!strcmp(a, "--since") || !strcmp(a, "--until")) {
			if (parse_time(v, a[2] == 's' ? &f.since_ns : &f.until_ns) < 0)
				return fail(EXIT_USAGE, "bad time '%s'", v);
		} else if (!strcmp(a, "--site")) {
			if ((r = site_arg(v, site)))
				return r;
			f.site = site;
		} else if (!strcmp(a, "--op")) {
			/* op:NAME, op:SITE/NAME, or a bare op name */
			if (ctlcmd_parse_id(strchr(v, ':') ? v : fmt("op:%s", v), CTL_ID_OP, &id,
					    msg, sizeof(msg)) < 0)
				return fail(EXIT_USAGE, "%s", msg);
			f.op = id.name;
			if (id.scoped && *id.site)
				f.site = id.site;
		} else if (!strcmp(a, "--event")) {
			f.event = v;
		} else if (!strcmp(a, "--limit")) {
			f.limit = strtoull(v, &end, 10);
			f.newest = true;   /* an operator asks for the latest N */
			if (*end || !f.limit)
				return fail(EXIT_USAGE, "bad limit '%s'", v);
		} else {
			return fail(EXIT_USAGE, "unknown option '%s'", a);
		}
	}
	if ((r = need_catalog(x, false)) > 0)
		return r;
	if (!r && (r = catalog_audit_query(x->cat, &f, log_row, &t)) < 0)
		return fail(EXIT_FAILED, "audit log: %s", strerror(-r));
	table_print(&t, x->json);
	table_free(&t);
	return EXIT_DONE;
}

/* ---- main ---- */

static const struct cmd cmds[] = {
	{ "ls",      c_ls,     "ls [SITE]" },
	{ "show",    c_show,   "show op:ID" },
	{ "find",    c_find,   "find [--site SITE] PATTERN" },
	{ "undo",    c_undo,   "undo op:ID… | undo --since T [--until T] [--uid U] [--command C] "
			       "[--site S]   [--execute [TOKEN]]" },
	{ "hold",    c_hold,   "hold site:ID|op:ID…" },
	{ "release", c_hold,   "release site:ID|op:ID…" },
	{ "purge",   c_purge,  "purge op:ID --reason TEXT [--execute TOKEN]" },
	{ "site",    c_site,   "site ls|add|set|protect|unprotect …" },
	{ "status",  c_status, "status" },
	{ "log",     c_log,    "log [--since T] [--until T] [--site S] [--op ID] [--event E] "
			       "[--limit N]" },
};

static void usage(FILE *to)
{
	fputs("usage: gracectl (-b BACKING | --state BACKING/.gracefs) [--json] COMMAND …\n"
	      "commands:\n", to);
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
		fprintf(to, "  %s\n", cmds[i].usage);
	for (size_t i = 0; i < ARRAY_SIZE(site_cmds); i++)
		fprintf(to, "  %s\n", site_cmds[i].usage);
	fputs("IDs are typed: site:NAME, op:NAME or op:SITE/NAME (op:/NAME: a deleted site).\n"
	      "undo and purge are dry runs unless given --execute.\n", to);
}

static int dispatch(struct gctl *x, const struct cmd *c, size_t n, const char *what,
		    int argc, char **argv)
{
	if (argc < 1)
		return fail(EXIT_USAGE, "%s: which command? (see --help)", what);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(c[i].name, argv[0]))
			return c[i].fn(x, argc - 1, argv + 1);
	return fail(EXIT_USAGE, "unknown %s command '%s' (see --help)", what, argv[0]);
}

/* -b BACKING or --state STATE (its parent is BACKING). */
static int set_store(struct gctl *x, const char *dir, bool is_state)
{
	char *real = realpath(dir, NULL);
	struct stat st;

	if (!real)
		return fail(EXIT_USAGE, "'%s': %s", dir, strerror(errno));
	if (is_state)
		*strrchr(real, '/') = '\0';
	snprintf(x->backing, sizeof(x->backing), "%s", *real ? real : "/");
	free(real);
	snprintf(x->state, sizeof(x->state), "%s/" TRASH_STATE_DIR,
		 strcmp(x->backing, "/") ? x->backing : "");
	if ((x->backing_fd = open(x->backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return fail(EXIT_USAGE, "'%s': %s", x->backing, strerror(errno));
	if (fstatat(x->backing_fd, TRASH_STATE_DIR, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISDIR(st.st_mode))
		return fail(EXIT_USAGE, "'%s' is not a gracefs backing store (no %s)", x->backing,
			    TRASH_STATE_DIR);
	return 0;
}

int main(int argc, char **argv)
{
	struct gctl x = { .backing_fd = -1, .lock_fd = -1 };
	int i, r = 0;

	for (i = 1; i < argc && argv[i][0] == '-' && !r; i++) {
		const char *a = argv[i];
		bool state = !strcmp(a, "--state");

		if (!strcmp(a, "--json")) {
			x.json = true;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return EXIT_DONE;
		} else if (!strcmp(a, "--version")) {
			printf("gracectl %s\n", GRACEFS_VERSION);
			return EXIT_DONE;
		} else if ((state || !strcmp(a, "-b") || !strcmp(a, "--backing")) && i + 1 < argc) {
			r = set_store(&x, argv[++i], state);
		} else if (!strncmp(a, "--backing=", 10) || !strncmp(a, "--state=", 8)) {
			r = set_store(&x, strchr(a, '=') + 1, a[2] == 's');
		} else {
			r = fail(EXIT_USAGE, "unknown option '%s' (see --help)", a);
		}
	}
	if (!r && x.backing_fd < 0)
		r = fail(EXIT_USAGE, "which backing store? give -b BACKING (see --help)");
	if (!r)
		r = dispatch(&x, cmds, ARRAY_SIZE(cmds), "gracectl", argc - i, argv + i);
	fflush(stdout);
	index_close(x.ix);
	catalog_close(x.cat);
	if (x.lock_fd >= 0)
		close(x.lock_fd);
	if (x.backing_fd >= 0)
		close(x.backing_fd);
	return r;
}
