/*
 * gctl_plan — dry-run plans and their tokens, and the commands that act on
 * single ops or sites: hold, release, purge.  Main thread only.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "engine/sitepolicy.h"
#include "store/layout.h"

int cmp_rec(const void *a, const void *b)
{
	const struct op_record *x = a, *y = b;
	int c = strcmp(x->scope, y->scope);

	return c ? c : strcmp(x->name, y->name);
}

/* The canonical plan body (sorted, one line per op) and its token.  Sorts
 * the selection and drops ops named twice. */
char *plan_body(const char *verb, struct selection *s, const char *extra,
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
int take_execute(int *argc, char **argv, const char **token)
{
	int found = 0, j = 0;

	*token = NULL;
	for (int i = 0; i < *argc; i++) {
		if (!strncmp(argv[i], "--execute=", 10)) {   /* --execute=TOKEN */
			found = 1;
			*token = argv[i] + 10;
			continue;
		}
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
int check_token(struct gctl *x, const char *given, const char *now, bool bulk, bool need)
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

/* A held op (or an op of a held site) is frozen, and a half-purged one is
 * not restorable: refuse the whole command up front, in one line, before
 * anything moves.  The daemon checks again under its lock. */
int refuse_frozen(struct gctl *x, const struct op_record *v, size_t n, const char *verb)
{
	for (size_t i = 0; i < n; i++) {
		bool site = site_held(x->backing_fd, v[i].scope);

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

/* Keep a bulk dry run's plan so that --execute TOKEN can be checked. */
void store_plan(struct gctl *x, const char *token, const char *body)
{
	int r = need_catalog(x, true);

	if (!r && !(r = catalog_plan_put(x->cat, token, now_s(), body)))
		catalog_plan_prune(x->cat, now_s() - PLAN_KEEP_S);
	if (r)
		fprintf(stderr, "gracectl: warning: cannot store the plan; --execute %s will be "
			"refused\n", token);
}


/* ---- hold, release, purge ---- */

struct hold_req {
	const char *v[4];
	int n;
	bool already;   /* an op already as asked (its record says so) */
	char scope[NAME_MAX + 1], name[NAME_MAX + 1];
	char id[2 * NAME_MAX + 64];   /* what the output names */
};

struct hold_reqs {
	struct hold_req *v;
	size_t n;
	const char *verb, *site, *arg;
	int backing_fd;
};

static struct hold_req *hold_add(struct hold_reqs *q, const char *kind, const char *scope,
				 const char *name)
{
	struct hold_req *h;

	q->v = xrealloc(q->v, (q->n + 1) * sizeof(*q->v));
	h = &q->v[q->n++];
	*h = (struct hold_req){ .n = *kind == 'o' ? 4 : 3 };
	snprintf(h->scope, sizeof(h->scope), "%s", scope);
	snprintf(h->name, sizeof(h->name), "%s", name);
	return h;
}

/* Is an op with these hold bits (OPREC_HOLD_*) already as verb asks?
 * Held for any reason is held; a release lifts every reason. */
static bool hold_as_asked(uint32_t hold, const char *verb)
{
	return !strcmp(verb, "hold") ? hold != 0 : hold == 0;
}

/* A site deleted whole is held through the root op(s) holding it. */
static int hold_root_op(const struct op_record *r, void *arg)
{
	struct hold_reqs *q = arg;
	struct hold_req *h;

	if (*r->scope || !layout_root_op_has(q->backing_fd, r->name, q->site))
		return 0;
	h = hold_add(q, "op", "", r->name);
	h->already = hold_as_asked(r->hold, q->verb);
	snprintf(h->id, sizeof(h->id), "%s (deleted whole: op:/%s)", q->arg, r->name);
	return 0;
}

int c_hold(struct gctl *x, int argc, char **argv)
{
	const char *verb = argv[-1], *given;
	bool execute = take_execute(&argc, argv, &given);
	struct hold_reqs q = { .verb = verb, .backing_fd = x->backing_fd };
	struct changes c;
	int r = argc ? EXIT_DONE : fail(EXIT_USAGE, "usage: %s site:ID|op:ID… | %s run:ID "
					 "[--execute TOKEN]", verb, verb);

	for (int i = 0; i < argc && !r; i++)
		if (!strncmp(argv[i], "run:", 4)) {   /* a whole run: planned like undo */
			if (argc != 1)
				return fail(EXIT_USAGE, "%s run:ID takes no other ID", verb);
			return run_hold(x, verb, argv[0], execute, given);
		}
	if (execute && !r)
		r = fail(EXIT_USAGE, "%s site:ID|op:ID acts at once: --execute is for %s run:ID",
			 verb, verb);

	/* resolve every ID before changing anything */
	for (int i = 0; i < argc && !r; i++) {
		struct op_record rec;
		struct ctl_id id;
		struct stat st;
		char msg[600];

		if (ctlcmd_parse_id(argv[i], CTL_ID_SITE | CTL_ID_OP, &id, msg, sizeof(msg)) < 0) {
			r = id_fail(msg);
		} else if (id.kind == CTL_ID_SITE) {
			size_t before = q.n;

			if (fstatat(x->backing_fd, id.site, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISDIR(st.st_mode)) {
				snprintf(hold_add(&q, "site", id.site, "")->id, sizeof(q.v->id),
					 "%s", argv[i]);
				continue;
			}
			/* deleted whole: its root op(s) are the site's */
			q.site = id.site;
			q.arg = argv[i];
			if (!(r = need_counts(x)) &&
			    (r = index_foreach(x->ix, "", hold_root_op, &q)) < 0)
				r = fail(EXIT_FAILED, "index: %s", strerror(-r));
			if (!r && q.n == before)
				r = id_fail(fmt("unknown site '%s' (neither live nor among the "
						"deleted sites: gracectl site ls)", argv[i]));
		} else if (!(r = resolve_op(x, argv[i], &rec))) {
			struct hold_req *h = hold_add(&q, "op", rec.scope, rec.name);

			h->already = hold_as_asked(rec.hold, verb);
			snprintf(h->id, sizeof(h->id), "%s", argv[i]);
		}
	}
	if (r) {
		free(q.v);
		return r;
	}
	changes_init(&c, verb);
	for (size_t i = 0; i < q.n && !r; i++) {
		struct hold_req *h = &q.v[i];
		const char *v[4] = { verb, h->n == 4 ? "op" : "site", h->scope, h->name };

		if (h->already) {   /* nothing to do is done: no audit row either */
			table_add(&c.t, h->id, "no", verb[0] == 'h' ? "held" : "not held");
			if (!x->json)
				printf("%s: %s (unchanged: %s)\n", verb, h->id,
				       verb[0] == 'h' ? "held" : "not held");
		} else if (change(x, &c, h->id, v, h->n) < 0) {
			r = EXIT_FAILED;
		}
	}
	free(q.v);
	return changes_done(x, &c, r);
}

/* The daemon's lines of a purge: "progress REMOVED" moves the bar, the
 * others ("purged ITEMS BYTES") are printed. */
struct purge_run {
	struct progress *pg;
	uint64_t removed;
};

static int purge_line(void *arg, const char *const *f, int n)
{
	struct purge_run *p = arg;

	if (n >= 2 && !strcmp(f[0], "progress")) {
		uint64_t removed = strtoull(f[1], NULL, 10);

		progress_add(p->pg, removed > p->removed ? removed - p->removed : 0);
		p->removed = removed;
		return 0;
	}
	progress_clear(p->pg);
	return print_line(NULL, f, n);
}

int c_purge(struct gctl *x, int argc, char **argv)
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
	if ((r = need_counts(x)) || (r = resolve_op(x, id, &rec)))
		return r;
	s.v = &rec;
	s.n = 1;
	if (!(body = plan_body("purge", &s, reason, token)))
		return fail(EXIT_FAILED, "out of memory");
	free(body);
	if (execute) {
		const char *v[] = { "purge", rec.scope, rec.name, reason };
		struct purge_run p = {0};

		if ((r = check_token(x, given, token, false, true)) ||
		    (r = refuse_frozen(x, &rec, 1, "purge")))
			return r;   /* purge: only with the dry run's token, never held */
		p.pg = progress_new("purge", rec.items, x->progress);
		if (mutate(x, v, 4, purge_line, &p) < 0) {
			progress_abort(p.pg);
			return EXIT_FAILED;
		}
		progress_free(p.pg);
		return EXIT_DONE;
	}
	op_row(&rec, &(struct op_rows){ &t, x->backing_fd });
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
