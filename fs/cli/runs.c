/*
 * gctl_runs — runs (docs/design.md "Runs"): `gracectl runs`, `show run:ID`,
 * the --run filter, and hold/release of a whole run (dry run, token,
 * --execute).  undo run:ID is undo.c's selection with s->run set.
 * Main thread only.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "engine/brake.h"
#include "lib/util.h"

/* "run:ID" or a bare ID, as --run takes it; out gets the ID without the
 * kind.  0, or EXIT_USAGE with the message printed. */
int run_arg(const char *s, char *out)
{
	struct ctl_id id;
	char msg[600];

	if (!strchr(s, ':'))
		s = fmt("run:%s", s);
	if (ctlcmd_parse_id(s, CTL_ID_RUN, &id, msg, sizeof(msg)) < 0)
		return id_fail(msg);
	snprintf(out, UTIL_RUN_MAX, "%.*s", UTIL_RUN_MAX - 1, id.name);   /* parse checked its length */
	return 0;
}

/* The ops of one run: all share its start (two starts under one ID would
 * be two runs whose leader pid was reused within a second: refused rather
 * than joined), and at least one exists.  0 or an exit status (printed). */
int run_check(const struct selection *s, const char *id)
{
	if (!s->n)
		return id_fail(fmt("unknown run 'run:%s' (no operation in trash has it)", id));
	for (size_t i = 1; i < s->n; i++)
		if (s->v[i].run_start != s->v[0].run_start)
			return fail(EXIT_USAGE, "run:%s names two runs (its leader's pid was reused "
				    "within a second); select with --since/--until and --command", id);
	return 0;
}

/* A run's login as a user name, or its number, or "" when unset. */
static const char *login_of(uint32_t loginuid)
{
	struct passwd *pw;

	if (loginuid == PROCINFO_NO_LOGINUID)
		return "";
	pw = getpwuid(loginuid);
	return pw ? fmt("%s", pw->pw_name) : num(loginuid);
}

/* The unit of a cgroup path: its last component ("cron.service",
 * "session-7.scope"), "" for the root. */
static const char *unit_of(const char *cgroup)
{
	const char *slash = strrchr(cgroup, '/');

	return slash ? slash + 1 : cgroup;
}

static int64_t started_of(const char *id)
{
	int64_t t = 0;
	uint32_t pid;

	util_parse_op_name(id, &t, &pid);
	return t;
}

/* ---- runs: one row per run, aggregated from the index ---- */

struct run_agg {
	struct op_record first;      /* the run's details come from its first op */
	uint64_t ops, items, bytes, open, held, purging;
	char **sites;
	size_t nsites;
};

struct run_list {
	struct run_agg *v;
	size_t n;
	int backing_fd;
	const char *only;            /* one run ID, or NULL */
	struct selection *ops;       /* with only: its ops */
};

static void add_site(struct run_agg *a, const char *scope)
{
	const char *s = *scope ? scope : "/";

	for (size_t i = 0; i < a->nsites; i++)
		if (!strcmp(a->sites[i], s))
			return;
	a->sites = xrealloc(a->sites, (a->nsites + 1) * sizeof(*a->sites));
	a->sites[a->nsites++] = xstrdup(s);
}

static int run_collect(const struct op_record *r, void *arg)
{
	struct run_list *l = arg;
	struct run_agg *a = NULL;

	if (!r->run[0] || (l->only && strcmp(r->run, l->only)))
		return 0;
	for (size_t i = 0; i < l->n && !a; i++)
		if (!strcmp(l->v[i].first.run, r->run) && l->v[i].first.run_start == r->run_start)
			a = &l->v[i];
	if (!a) {
		l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
		a = &l->v[l->n++];
		memset(a, 0, sizeof(*a));
		a->first = *r;
	}
	a->ops++;
	a->items += r->items;
	a->bytes += r->bytes;
	a->open += r->state == OP_OPEN;
	a->purging += r->state == OP_PURGING;
	a->held += r->hold || site_held(l->backing_fd, r->scope);
	add_site(a, r->scope);
	if (l->ops)
		sel_add(l->ops, r);
	return 0;
}

static const char *run_state(const struct run_agg *a)
{
	return a->open ? "open" : a->held == a->ops ? "held" : a->held ? "partly held" :
	       a->purging ? "purging" : "closed";
}

static int cmp_newest(const void *x, const void *y)
{
	const struct run_agg *a = x, *b = y;
	int64_t ta = started_of(a->first.run), tb = started_of(b->first.run);

	if (ta != tb)
		return ta > tb ? -1 : 1;
	return strcmp(b->first.run, a->first.run);
}

static const char *const run_cols[] = { "run", "started", "login", "unit", "command", "ops",
	"sites", "items", "bytes", "state", "leader_pid", "session", "loginuid", "cgroup" };
#define RUN_TYPES "ssSSsnnnnsnnnS"
#define RUN_LS_COLS 10

static void run_row(struct table *t, const struct run_agg *a)
{
	const struct op_record *f = &a->first;
	int64_t started = 0;
	uint32_t pid = 0;

	util_parse_op_name(f->run, &started, &pid);
	table_add(t, fmt("run:%s", f->run), utc(started), login_of(f->runinfo.loginuid),
		  unit_of(f->runinfo.unit), f->runinfo.cmdline, num(a->ops), num(a->nsites),
		  num(a->items), num(a->bytes), run_state(a), num(pid), num(f->runinfo.sid),
		  f->runinfo.loginuid == PROCINFO_NO_LOGINUID ? "" : num(f->runinfo.loginuid),
		  f->runinfo.unit);
}

static void run_list_free(struct run_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		while (l->v[i].nsites)
			free(l->v[i].sites[--l->v[i].nsites]);
		free(l->v[i].sites);
	}
	free(l->v);
}

int c_runs(struct gctl *x, int argc, char **argv)
{
	struct table t = { run_cols, RUN_TYPES, RUN_LS_COLS, 0, NULL };
	struct run_list l = { .backing_fd = x->backing_fd };
	int r;

	(void)argv;
	if (argc)
		return fail(EXIT_USAGE, "usage: runs");
	if ((r = need_counts(x)))
		return r;
	if ((r = index_foreach(x->ix, NULL, run_collect, &l)) < 0) {
		run_list_free(&l);
		return fail(EXIT_FAILED, "index: %s", strerror(-r));
	}
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), cmp_newest);
	if (x->json)
		t.ncols = (int)ARRAY_SIZE(run_cols);   /* before any row: its width */
	for (size_t i = 0; i < l.n; i++)
		run_row(&t, &l.v[i]);
	table_print(&t, x->json);
	table_free(&t);
	run_list_free(&l);
	return EXIT_DONE;
}

/* ---- show run:ID ---- */

int run_show(struct gctl *x, const char *arg)
{
	struct table t = TABLE(run_cols, RUN_TYPES), ot = { op_cols, OP_TYPES, OP_NCOLS, 0, NULL };
	struct selection s = {0};
	struct run_list l = { .backing_fd = x->backing_fd, .ops = &s };
	struct ctl_id id;
	char msg[600];
	int r;

	if (ctlcmd_parse_id(arg, CTL_ID_RUN, &id, msg, sizeof(msg)) < 0)
		return id_fail(msg);
	l.only = id.name;
	if ((r = need_counts(x)))
		return r;
	if ((r = index_foreach(x->ix, NULL, run_collect, &l)) < 0) {
		r = fail(EXIT_FAILED, "index: %s", strerror(-r));
		goto out;
	}
	if ((r = run_check(&s, id.name)))
		goto out;
	run_row(&t, &l.v[0]);
	if (!x->json)
		ot.ncols = OP_LS_COLS;   /* before any row: its width */
	qsort(s.v, s.n, sizeof(*s.v), cmp_rec);
	for (size_t i = 0; i < s.n; i++)
		op_row(&s.v[i], &(struct op_rows){ &ot, x->backing_fd });
	if (x->json) {
		const char *c = l.v[0].first.runinfo.chain;

		fputs("{\"run\":", stdout);
		table_json_obj(&t, 0);
		fputs(",\"chain\":[", stdout);
		for (int first = 1; *c; first = 0) {
			size_t n = strcspn(c, "\n");

			printf("%s", first ? "" : ",");
			json_str(fmt("%.*s", (int)n, c));
			c += n + (c[n] == '\n');
		}
		fputs("],\"ops\":", stdout);
		table_json(&ot);
		puts("}");
	} else {
		const char *c = l.v[0].first.runinfo.chain;

		table_vertical(&t, 0);
		printf("\nstarted by (nearest first):\n");
		if (!*c)
			printf("  (no parent recorded)\n");
		for (; *c; ) {
			size_t n = strcspn(c, "\n");

			printf("  %.*s\n", (int)n, c);
			c += n + (c[n] == '\n');
		}
		printf("\noperations (gracectl undo %s):\n", arg);
		table_plain(&ot);
	}
out:
	table_free(&t);
	table_free(&ot);
	run_list_free(&l);
	free(s.v);
	return r;
}

/* ---- hold run:ID / release run:ID ---- */

/* Is run braked by the mass-deletion brake (the daemon's kept set,
 * brake.h), or does one of its ops still carry the brake's hold (a
 * release cut short)?  Then release run:ID lifts the brake as well. */
static bool run_braked(const struct gctl *x, const struct selection *s, const char *id)
{
	int fd = open(x->state, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool r = fd >= 0 && brake_kept(fd, id) == 1;

	if (fd >= 0)
		close(fd);
	for (size_t i = 0; i < s->n && !r; i++)
		r = s->v[i].hold & OPREC_HOLD_BRAKE;
	return r;
}

int run_hold(struct gctl *x, const char *verb, const char *arg, bool execute, const char *given)
{
	static const char *const cols[] = { "op", "site", "deleted", "command", "items", "bytes",
		"action" };
	struct table t = TABLE(cols, "sssSnns");
	struct selection s = { .uid = -1, .backing_fd = x->backing_fd };
	bool hold = !strcmp(verb, "hold"), braked;
	char token[CTLCMD_TOKEN_LEN + 1], id[UTIL_RUN_MAX], *body = NULL;
	struct changes c;
	size_t todo = 0;
	int r;

	if ((r = run_arg(arg, id)) || (r = need_counts(x)))
		return r;
	s.run = id;
	if ((r = sel_run(x, &s)) || (r = run_check(&s, id)))
		goto out;
	braked = !hold && run_braked(x, &s, id);
	/* the token names the brake's lifting too */
	if (!(body = plan_body(verb, &s, braked ? "lift-brake" : NULL, token))) {
		r = fail(EXIT_FAILED, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < s.n; i++) {
		bool already = !s.v[i].hold == !hold;

		todo += !already;
		table_add(&t, op_id(s.v[i].scope, s.v[i].name), op_site_text(x->backing_fd, &s.v[i]),
			  utc(s.v[i].last_ns / NS), s.v[i].cmdline, num(s.v[i].items),
			  num(s.v[i].bytes), already ? (hold ? "already held" : "not held") : verb);
	}
	if (!execute) {
		store_plan(x, token, body);
		if (x->json) {
			printf("{\"dry_run\":true,\"token\":\"%s\",\"ops\":%zu,\"changes\":%zu,"
			       "\"lift_brake\":%s,\"plan\":", token, s.n, todo, braked ? "true" : "false");
			table_json(&t);
			puts("}");
		} else {
			table_plain(&t);
			printf("\ndry run: would %s %zu of the %zu operation(s) of run:%s%s\n"
			       "plan token: %s\nto act, run the same command with --execute %s\n",
			       verb, todo, s.n, id, braked ? " and lift the mass-deletion brake on it "
			       "(its new operations are no longer held)" : "", token, token);
		}
		goto out;
	}
	if ((r = check_token(x, given, token, true, true)))
		goto out;
	changes_init(&c, verb);
	/* the brake first: from then on the run's new ops are not held, and
	 * the ops it alone held are released with it (one audit row) */
	if (braked && change(x, &c, fmt("run:%s", id), (const char *[]){ "release", "run", id },
			     3) < 0)
		r = EXIT_FAILED;
	for (size_t i = 0; i < s.n && !r; i++) {
		const char *opid = op_id(s.v[i].scope, s.v[i].name);

		if (braked && s.v[i].hold == OPREC_HOLD_BRAKE) {
			table_add(&c.t, opid, "yes", "with the brake");
			if (!x->json)
				printf("%s: %s (with the brake)\n", verb, opid);
		} else if (!s.v[i].hold == !hold) {
			table_add(&c.t, opid, "no", hold ? "held" : "not held");
			if (!x->json)
				printf("%s: %s (unchanged: %s)\n", verb, opid, hold ? "held" : "not held");
		} else if (change(x, &c, opid, (const char *[]){ verb, "op", s.v[i].scope,
				  s.v[i].name }, 4) < 0) {
			r = EXIT_FAILED;
		}
	}
	r = changes_done(x, &c, r);
out:
	free(body);
	table_free(&t);
	free(s.v);
	free(s.nest);
	return r;
}

/* ---- completion ---- */

int run_complete(struct gctl *x)
{
	struct run_list l = { .backing_fd = x->backing_fd };

	if (index_foreach(x->ix, NULL, run_collect, &l) < 0)
		return EXIT_FAILED;
	for (size_t i = 0; i < l.n; i++)
		printf("run:%s\n", l.v[i].first.run);
	run_list_free(&l);
	return EXIT_DONE;
}
