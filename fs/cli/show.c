/*
 * gctl_show — gracectl's read-only listings: ls, show, find, status.
 * Main thread only.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fnmatch.h>
#include <sys/xattr.h>

#include "cli/cli.h"
#include "engine/sitepolicy.h"
#include "lib/sys.h"
#include "engine/trash.h"
#include "lib/util.h"
#include "store/layout.h"

/* ---- op listings ---- */

const char *const op_cols[] = { "op", "site", "deleted", "expires", "uid", "command",
	"items", "bytes", "hold", "state", "first_deleted", "retention", "pid", "gid", "run",
	"own_hold" };   /* hold: frozen (own or site hold); own_hold: the op's own flag */

const char *state_name(uint32_t s)
{
	return s == OP_OPEN ? "open" : s == OP_CLOSED ? "closed" : s == OP_PURGING ? "purging" : "?";
}

/* Is site `scope` on legal hold?  The last answer is kept: index order
 * keeps a site's ops together. */
bool site_held(int backing_fd, const char *scope)
{
	static char last[NAME_MAX + 1] = "\1";
	static bool held;
	struct site_policy pol;

	if (!*scope)
		return false;
	if (strcmp(last, scope)) {
		held = sitepolicy_get(backing_fd, scope, &pol) == 0 && pol.hold;
		snprintf(last, sizeof(last), "%s", scope);
	}
	return held;
}

/* One truth for hold and expiry (ls, show, status, site ls, the xattrs
 * and the metrics): an op held itself or through its site never expires. */
const char *expiry_text(const struct op_record *r, bool held)
{
	return held ? HELD_NEVER : utc(oprec_expiry(r));
}

/* The site column of an op: its scope, or for a root op the deleted sites
 * it holds ("/" only when it holds none any more). */
const char *op_site_text(int backing_fd, const struct op_record *r)
{
	char sites[4096];

	if (*r->scope)
		return r->scope;
	return layout_root_op_sites(backing_fd, r->name, sites, sizeof(sites)) > 0 ?
	       fmt("%s", sites) : "/";
}

/* Is r one of site's ops: in its trash, or a root op holding the site? */
bool op_of_site(int backing_fd, const struct op_record *r, const char *site)
{
	return !strcmp(r->scope, site) ||
	       (!*r->scope && layout_root_op_has(backing_fd, r->name, site));
}

int op_row(const struct op_record *r, void *arg)
{
	struct op_rows *o = arg;
	bool held = r->hold || site_held(o->backing_fd, r->scope);
	char ret[32];

	if (o->site && !op_of_site(o->backing_fd, r, o->site))
		return 0;
	util_format_duration(r->retention_s > 0 ? r->retention_s : 1, ret, sizeof(ret));
	table_add(o->t, op_id(r->scope, r->name), op_site_text(o->backing_fd, r),
		  utc(r->last_ns / NS), expiry_text(r, held), num(r->uid), r->cmdline,
		  num(r->items), num(r->bytes), yes(held), state_name(r->state),
		  utc(r->first_ns / NS), ret, num(r->pid), num(r->gid),
		  r->run[0] ? fmt("run:%s", r->run) : "", yes(r->hold != 0));
	return 0;
}

/* op_row for the ops of one run (ls --run) */
struct run_rows {
	struct op_rows o;
	const char *run;
};

static int run_op_row(const struct op_record *r, void *arg)
{
	struct run_rows *rr = arg;

	return strcmp(r->run, rr->run) ? 0 : op_row(r, &rr->o);
}

int c_ls(struct gctl *x, int argc, char **argv)
{
	struct table t = { op_cols, OP_TYPES, OP_LS_COLS, 0, NULL };
	char site[NAME_MAX + 1], run[UTIL_RUN_MAX];
	struct run_rows rr = { { &t, x->backing_fd }, NULL };
	int r;

	if (argc >= 2 && !strcmp(argv[argc - 2], "--run")) {
		if ((r = run_arg(argv[argc - 1], run)))
			return r;
		rr.run = run;
		argc -= 2;
	}
	if (argc > 1)
		return fail(EXIT_USAGE, "usage: ls [SITE] [--run ID]");
	if (argc == 1 && argv[0][0] == '-')
		return fail(EXIT_USAGE, "unknown option '%s' (usage: ls [SITE] [--run ID])", argv[0]);
	if ((argc == 1 && (r = known_site(x, argv[0], site))) || (r = need_counts(x)))
		return r;
	if (x->json)
		t.ncols = OP_NCOLS;   /* every field, the run included */
	/* a site's ops: its own trash's, and the root op holding it if it
	 * was deleted whole (op_row filters on rr.o.site) */
	rr.o.site = argc ? site : NULL;
	if ((r = index_foreach(x->ix, NULL, rr.run ? run_op_row : op_row,
			       rr.run ? (void *)&rr : (void *)&rr.o)) < 0)
		return fail(EXIT_FAILED, "index: %s", strerror(-r));
	table_print(&t, x->json);
	table_free(&t);
	return EXIT_DONE;
}

const char *const plan_cols[] = { "op", "action", "from", "to" };

static const char *const action_names[] = {
	[UNDO_MKDIR] = "mkdir", [UNDO_MOVE] = "move", [UNDO_RENAME] = "rename",
	[UNDO_MERGED] = "merge", [UNDO_REPLACE] = "replace" };

void plan_rows(struct table *t, const struct undo_plan *p, bool conflicts_only)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct undo_step *s = &p->steps[i];
		/* an item that follows its parent to that parent's new name */
		bool follow = s->kind == UNDO_MOVE && strcmp(s->from, s->to);

		if (!conflicts_only || s->kind == UNDO_RENAME || s->kind == UNDO_REPLACE || follow)
			table_add(t, op_id(p->scope, p->op), follow ? "follow" :
				  s->flags & UNDO_F_CHANGED ? "changed" :
				  action_names[s->kind], s->from, s->to);
	}
}

int c_show(struct gctl *x, int argc, char **argv)
{
	struct table t = { op_cols, OP_TYPES, OP_NCOLS, 0, NULL };
	struct table pt = { plan_cols, "ssss", 4, 0, NULL };
	struct op_record rec;
	struct undo_plan p;
	int r, pr;

	if (argc != 1)
		return fail(EXIT_USAGE, "usage: show op:ID | show run:ID");
	if (!strncmp(argv[0], "run:", 4))
		return run_show(x, argv[0]);
	if ((r = need_counts(x)) || (r = resolve_op(x, argv[0], &rec)))
		return r;
	op_row(&rec, &(struct op_rows){ &t, x->backing_fd });
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
		if (rec.hold & OPREC_HOLD_BRAKE)   /* why it is held, and how it ends */
			printf("\nheld by the mass-deletion brake: its run deleted site after site "
			       "(gracectl log --event brake; gracectl release run:%s)\n", rec.run);
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
	const char *run;             /* only ops of this run (--run), or NULL */
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
		if (f->run) {   /* the op's own record says which run it is */
			char buf[OPREC_ENC_MAX];
			struct op_record rec;
			ssize_t len = fgetxattr(ofd, OPREC_XATTR, buf, sizeof(buf));

			if (len < 0 || oprec_decode(buf, (size_t)len, &rec) < 0 ||
			    strcmp(rec.run, f->run)) {
				close(ofd);
				continue;
			}
		}
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
int root_trash_open(int backing_fd)
{
	int fd = open_in(backing_fd, TRASH_STATE_DIR), t = fd >= 0 ? open_in(fd, "trash") : -1;

	if (fd >= 0)
		close(fd);
	return t;
}

int c_find(struct gctl *x, int argc, char **argv)
{
	static const char *const cols[] = { "op", "site", "path", "type", "size" };
	char site[NAME_MAX + 1], run[UTIL_RUN_MAX];
	const char *want = NULL, *want_run = NULL;
	struct finder *f;
	struct dirent *de;
	int r, tfd;
	DIR *d;

	while (argc >= 3 && (!strcmp(argv[0], "--site") || !strcmp(argv[0], "--run"))) {
		if (argv[0][2] == 's') {
			if ((r = known_site(x, argv[1], site)))
				return r;
			want = site;
		} else {
			if ((r = run_arg(argv[1], run)))
				return r;
			want_run = run;
		}
		argv += 2;
		argc -= 2;
	}
	/* the options may also follow the pattern: find PAT --site S */
	while (argc >= 3 && (!strcmp(argv[argc - 2], "--site") || !strcmp(argv[argc - 2], "--run"))) {
		if (argv[argc - 2][2] == 's') {
			if ((r = known_site(x, argv[argc - 1], site)))
				return r;
			want = site;
		} else {
			if ((r = run_arg(argv[argc - 1], run)))
				return r;
			want_run = run;
		}
		argc -= 2;
	}
	if (argc == 1 && argv[0][0] == '-' && argv[0][1])
		return fail(EXIT_USAGE, "unknown option '%s' (usage: find [--site SITE] [--run ID] "
			    "PATTERN)", argv[0]);
	if (argc != 1)
		return fail(EXIT_USAGE, "usage: find [--site SITE] [--run ID] PATTERN");
	f = xrealloc(NULL, sizeof(*f));
	*f = (struct finder){ .t = TABLE(cols, "ssssn"), .pat = argv[0], .site = want,
			      .run = want_run, .by_path = strchr(argv[0], '/') != NULL };
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


/* ---- status and log ---- */

static int kv_line(void *arg, const char *const *f, int n)
{
	if (n >= 2)
		table_add(arg, f[0], f[1]);
	return 0;
}

static bool is_count(const char *v)
{
	return *v && v[strspn(v, "0123456789")] == '\0' && (v[0] != '0' || !v[1]) && strlen(v) < 20;
}

/* A token of a daemon value in JSON: a count as a number, else text. */
static void json_token(const char *v, size_t n)
{
	const char *t = fmt("%.*s", (int)n, v);

	json_value(t, is_count(t) ? 'n' : 's');
}

/* One value of the daemon's status lines in JSON: the flags as booleans,
 * "unknown" (not measured yet) as null, counts as numbers, and a value
 * of KEY=VALUE words ("written=2 queued=0 …", with a leading setting:
 * "20/10m braked=0 trips=0") as an object. */
static void status_value(const char *key, const char *v)
{
	static const char *const flags[] = { "space_pressure" };
	size_t n = strcspn(v, " ");

	for (size_t i = 0; i < ARRAY_SIZE(flags); i++)
		if (!strcmp(key, flags[i]) && (!strcmp(v, "0") || !strcmp(v, "1"))) {
			fputs(v[0] == '1' ? "true" : "false", stdout);
			return;
		}
	if (!*v || !strcmp(v, "unknown") || !strcmp(v, "-")) {
		fputs("null", stdout);
		return;
	}
	if (!strchr(v, '=') || (v[n] && !strchr(v + n, '='))) {
		json_value(v, is_count(v) ? 'n' : 's');
		return;
	}
	putchar('{');
	for (const char *p = v; *p; ) {
		size_t len = strcspn(p, " "), eq = strcspn(p, "=");

		printf("%s", p == v ? "" : ",");
		if (eq < len) {
			json_str(fmt("%.*s", (int)eq, p));
			putchar(':');
			json_token(p + eq + 1, len - eq - 1);
		} else {   /* the setting before the counts */
			json_str(!strcmp(key, "brake") ? "limit" : "value");
			putchar(':');
			json_token(p, len);
		}
		p += len;
		p += strspn(p, " ");
	}
	putchar('}');
}

int c_status(struct gctl *x, int argc, char **argv)
{
	static const char *const kv_cols[] = { "key", "value" };
	static const char *const excl_cols[] = { "site", "exclude" };
	static const char *const tot_cols[] = { "daemon", "backing", "trash_ops", "trash_items",
		"trash_bytes", "next_expiry" };
	struct table kv = TABLE(kv_cols, "ss"), tot = TABLE(tot_cols, "ssnnnE"),
		     ut = { usage_cols, "snnnSE", 6, 0, NULL }, xt = TABLE(excl_cols, "ss");
	struct usages u;
	uint64_t ops = 0, items = 0, bytes = 0;
	int64_t next = 0;
	char msg[600];
	int r;

	(void)argv;
	if (argc)
		return fail(EXIT_USAGE, "usage: status (it takes no argument)");
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
		  x->backing, num(ops), num(items), num(bytes),
		  ops && !next ? HELD_NEVER : utc(next));
	usage_rows(&ut, &u);
	exclusion_rows(x, &xt);
	if (x->json) {
		fputs("{\"totals\":", stdout);
		table_json_obj(&tot, 0);
		fputs(",\"daemon\":{", stdout);
		for (size_t i = 0; i < kv.nrows; i++) {
			printf("%s", i ? "," : "");
			const char *v = cell(&kv, i, 1);

			json_str(cell(&kv, i, 0));
			putchar(':');
			status_value(cell(&kv, i, 0), v);
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
	/* as systemctl status: 3 when the daemon is not running (the report
	 * above is still printed: it reads the backing store) */
	return r == -ECONNREFUSED && !daemon_holds_lock(x) ? EXIT_NOT_RUNNING : EXIT_DONE;
}

/* ---- completion (bash) ---- */

static int op_id_line(const struct op_record *r, void *arg)
{
	printf("op:%s/%s\n", r->scope, r->name);
	return 0;
}

/* gracectl __complete sites|ops: one ID per line, for the bash completion
 * (scripts/completion/gracectl).  Quiet: errors print nothing. */
int c_complete(struct gctl *x, int argc, char **argv)
{
	struct dirent *de;
	DIR *d;

	if (argc != 1)
		return EXIT_USAGE;
	if (!strcmp(argv[0], "sites")) {
		for (d = dir_at(x->backing_fd); d && (de = readdir(d)); ) {
			struct stat st;

			if (catalog_site_id_valid(de->d_name) &&
			    fstatat(x->backing_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISDIR(st.st_mode))
				printf("site:%s\n", de->d_name);
		}
		if (d)
			closedir(d);
		return EXIT_DONE;
	}
	if (!strcmp(argv[0], "runs")) {
		if (!x->ix && index_open(&x->ix, fmt("%s/index", x->state)) < 0)
			return EXIT_FAILED;
		return run_complete(x);
	}
	if (!strcmp(argv[0], "ops")) {
		if (!x->ix && index_open(&x->ix, fmt("%s/index", x->state)) < 0)
			return EXIT_FAILED;
		index_foreach(x->ix, NULL, op_id_line, NULL);
		return EXIT_DONE;
	}
	return EXIT_USAGE;
}
