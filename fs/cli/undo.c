/*
 * gctl_undo — selections of ops, and undo: the dry run and the execution.
 *
 * Threading: undo --execute restores up to UNDO_WORKERS ops at once
 * (workers share only struct undo_run, under its lock, and never use
 * fmt()'s static buffers); everything else runs on the main thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fnmatch.h>
#include <pthread.h>
#include <sys/xattr.h>

#include "cli/cli.h"
#include "lib/sys.h"
#include "engine/sitepolicy.h"
#include "engine/trash.h"
#include "lib/util.h"

/* ---- selections of ops (undo) ---- */


void sel_add(struct selection *s, const struct op_record *r)
{
	if ((s->n & (s->n - 1)) == 0)   /* 0, 1, 2, 4, …: double */
		s->v = xrealloc(s->v, (s->n ? 2 * s->n : 1) * sizeof(*s->v));
	s->v[s->n++] = *r;
}

/* Is r an op of one of the n sites v (its own trash's, or a root op
 * holding one)? */
static bool of_any_site(const struct selection *s, const struct op_record *r,
			const site_name *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (op_of_site(s->backing_fd, r, v[i]))
			return true;
	return false;
}

static int sel_filter(const struct op_record *r, void *arg)
{
	struct selection *s = arg;

	if (r->last_ns < s->since_ns || (s->until_ns && r->first_ns >= s->until_ns) ||
	    (s->uid >= 0 && r->uid != (uint64_t)s->uid))
		return 0;
	if (s->run && strcmp(r->run, s->run))
		return 0;
	/* --script: the command of the run's leader (the word in its ID, a
	 * script's name for `sh ./x.sh`), or a pattern on its command line */
	if (s->script && (!r->run[0] || (strcmp(op_cmd(r->run), s->script) &&
					 fnmatch(s->script, r->runinfo.cmdline, 0) != 0)))
		return 0;
	if (s->command && strcmp(op_cmd(r->name), s->command) &&
	    fnmatch(s->command, r->cmdline, 0) != 0)
		return 0;
	if (s->nsites && !of_any_site(s, r, s->sites, s->nsites))
		return 0;
	/* an op that holds an excluded site is left out whole: restoring it
	 * would bring that site back */
	if (s->nxsites && of_any_site(s, r, s->xsites, s->nxsites))
		return 0;
	for (size_t i = 0; i < s->nxops; i++)
		if (!strcmp(s->xops[i].scope, r->scope) && !strcmp(s->xops[i].name, r->name))
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

int sel_run(struct gctl *x, struct selection *s)
{
	int r = index_foreach(x->ix, NULL, sel_filter, s);

	if (r < 0)
		return fail(EXIT_FAILED, "index: %s", strerror(-r));
	sel_nested(s);
	return 0;
}

/* Plan a selected op; a nested op where it lies now, against its site as
 * it will be once restored. */
static int sel_plan(const struct selection *s, const struct op_record *r,
		    const struct undo_overlay *ov, struct undo_plan *p)
{
	const struct nested *n = nested_of(s, r);
	int tfd, ofd, rc;

	if (!n)
		return undo_plan_over(s->backing_fd, r->scope, r->name, ov, p);
	if ((tfd = root_trash_open(s->backing_fd)) < 0)
		return -ENOENT;
	ofd = open_in(tfd, n->root);
	rc = ofd < 0 ? -errno : undo_plan_over(ofd, r->scope, r->name, ov, p);
	close(tfd);
	if (ofd >= 0)
		close(ofd);
	return rc;
}

/* Hints (index_put_hint) for the ops of a dry run, in order: a path for
 * each op of one file (NULL for the others), and the ops without one, the
 * only ones whose directories the prefetch needs to warm. */
struct hints {
	char **path;
	mode_t *mode;
	const struct op_record **walk;
	size_t nwalk;
};

static void hints_load(struct gctl *x, const struct selection *s,
		       const struct op_record *const *order, struct hints *h)
{
	char buf[INDEX_HINT_MAX];

	h->path = xrealloc(NULL, (s->n + 1) * sizeof(*h->path));
	h->mode = xrealloc(NULL, (s->n + 1) * sizeof(*h->mode));
	h->walk = xrealloc(NULL, (s->n + 1) * sizeof(*h->walk));
	h->nwalk = 0;
	for (size_t i = 0; i < s->n; i++) {
		h->path[i] = NULL;
		if (*order[i]->scope && !nested_of(s, order[i]) &&
		    index_hint_get(x->ix, order[i], buf, sizeof(buf), &h->mode[i]) == 0)
			h->path[i] = xstrdup(buf);
		else
			h->walk[h->nwalk++] = order[i];
	}
}

static void hints_free(struct hints *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(h->path[i]);
	free(h->path);
	free(h->mode);
	free(h->walk);
}

static bool held_root(const struct selection *s, const char *root)
{
	for (size_t i = 0; i < s->nheld; i++)
		if (!*s->held[i].rec.scope && !strcmp(s->held[i].rec.name, root))
			return true;
	return false;
}

/* Leave the frozen ops out of a bulk selection: an op held itself or
 * through its site, and the ops inside a deleted site whose root op is
 * held (that site cannot come back).  The dry run lists them and its
 * token covers the rest; the execute restores the rest and reports them.
 * Root ops come first in s->v (index order), so their holds are known
 * before the ops inside them. */
static void sel_split_held(struct selection *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++) {
		const struct op_record *r = &s->v[i];
		const struct nested *ns = nested_of(s, r);
		char why[sizeof(s->held->why)] = "";

		if (r->hold)
			snprintf(why, sizeof(why), "%s", r->hold & OPREC_HOLD_BRAKE ?
				 (r->hold & OPREC_HOLD_LEGAL ? "op held; mass-deletion brake" :
				  "mass-deletion brake (release run:ID)") : "op held");
		else if (ns && held_root(s, ns->root))
			snprintf(why, sizeof(why), "inside op:/%s, which is held", ns->root);
		else if (!ns && site_held(s->backing_fd, r->scope))
			snprintf(why, sizeof(why), "site %s held", r->scope);
		if (!*why) {
			s->v[n++] = s->v[i];
			continue;
		}
		s->held = xrealloc(s->held, (s->nheld + 1) * sizeof(*s->held));
		s->held[s->nheld].rec = *r;
		snprintf(s->held[s->nheld].why, sizeof(s->held->why), "%s", why);
		s->nheld++;
	}
	s->n = n;
}

static const char *const held_cols[] = { "op", "site", "reason" };

/* The ops left out for a hold: a table, and its JSON fields. */
static void held_rows(struct gctl *x, const struct selection *s, struct table *t)
{
	for (size_t i = 0; i < s->nheld; i++)
		table_add(t, op_id(s->held[i].rec.scope, s->held[i].rec.name),
			  op_site_text(x->backing_fd, &s->held[i].rec), s->held[i].why);
}

static void held_json(struct gctl *x, const struct selection *s)
{
	struct table t = TABLE(held_cols, "sss");

	held_rows(x, s, &t);
	printf(",\"skipped_held\":%zu,\"held_list\":", s->nheld);
	table_json(&t);
	table_free(&t);
}

static void held_plain(struct gctl *x, const struct selection *s, const char *head)
{
	struct table t = TABLE(held_cols, "sss");

	if (!s->nheld)
		return;
	held_rows(x, s, &t);
	printf("\n%s\n", head);
	table_plain(&t);
	table_free(&t);
}

/* ---- undo ---- */

#define UNDO_WORKERS 4   /* sites restored at once (distinct sites never collide) */

/* The order an undo runs in, dry or not: the ops of the root scope first
 * (they bring whole sites back, and the ops inside those sites with them),
 * then site by site; within a scope the newest op first, so that each
 * older op finds the tree as it was when it deleted (undo.h, overlays). */
static int cmp_exec(const void *a, const void *b)
{
	const struct op_record *x = *(const struct op_record *const *)a,
			       *y = *(const struct op_record *const *)b;
	int c = strcmp(x->scope, y->scope);

	if (c)
		return c;
	if (x->last_ns != y->last_ns)
		return x->last_ns > y->last_ns ? -1 : 1;
	return -strcmp(x->name, y->name);
}

static const struct op_record **exec_order(const struct selection *s)
{
	const struct op_record **v = xrealloc(NULL, (s->n ? s->n : 1) * sizeof(*v));

	for (size_t i = 0; i < s->n; i++)
		v[i] = &s->v[i];
	if (s->n)
		qsort(v, s->n, sizeof(*v), cmp_exec);
	return v;
}

/* Shared by the workers of one undo run; lock guards everything below it. */
struct undo_run {
	struct gctl *x;
	struct selection *s;
	const struct op_record **order;
	const char *token;           /* the run's ID for the daemon */
	struct progress *pg;
	pthread_mutex_t lock;
	struct table events;         /* op, event, from, to */
	size_t next, end, done, moved, renamed, mkdirs, merged, failed, failed_ops;
	size_t followed;             /* of moved: below a parent restored renamed */
	size_t replaced;             /* of moved: put back over the live version */
	size_t changed;              /* of renamed: its replacement changed since */
	bool stop;
};

struct undo_call {
	struct undo_run *u;
	char opid[2 * NAME_MAX + 8];
	size_t moved, renamed, steps;
};

/* Lines of one op's undo: renamed / failed steps, progress, the counts. */
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
		if (n >= 11)
			u->merged += strtoull(f[10], NULL, 10);
		progress_add(u->pg, c->moved + c->renamed - (c->steps < c->moved + c->renamed ?
							    c->steps : c->moved + c->renamed));
	} else if (n >= 2 && !strcmp(f[0], "progress")) {
		size_t steps = strtoull(f[1], NULL, 10);

		progress_add(u->pg, steps > c->steps ? steps - c->steps : 0);
		c->steps = steps;
	} else if (n >= 2 && strcmp(f[0], "mkdir")) {
		u->followed += !strcmp(f[0], "followed");
		u->replaced += !strcmp(f[0], "replaced");
		u->changed += !strcmp(f[0], "changed");
		table_add(&u->events, c->opid, f[0], f[1], n > 2 ? f[2] : "");
		if (!u->x->json) {
			progress_clear(u->pg);
			printf("  %s: %s: %s%s%s\n", c->opid, f[0], f[1], n > 2 ? " -> " : "",
			       n > 2 ? f[2] : "");
		}
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

/* One op's undo is over (rc, msg from the daemon): count and print it.
 * Under u->lock. */
static void undo_ended(struct undo_run *u, struct undo_call *c, int rc, const char *msg)
{
	u->done++;
	if (rc < 0 && rc != -ECANCELED) {
		u->failed_ops++;
		u->stop |= rc == -ECONNREFUSED;   /* the daemon went away */
		progress_clear(u->pg);
		fprintf(stderr, "gracectl: error: %s: %s\n", c->opid, *msg ? msg : strerror(-rc));
	}
	if (!u->x->json && rc != -ECANCELED) {
		progress_clear(u->pg);
		printf("[%zu/%zu] %s: %zu item(s) restored%s\n", u->done, u->s->n, c->opid,
		       c->moved + c->renamed, rc < 0 ? " (incomplete)" : "");
	}
	progress_show(u->pg, false);
}

/* Undo one op through the daemon.  Called without u->lock. */
static void undo_one(struct undo_run *u, const struct op_record *r)
{
	struct undo_call c = { .u = u };
	char sock[PATH_MAX + 32], msg[600] = "";
	int rc;

	snprintf(sock, sizeof(sock), "%s/ctl.sock", u->x->state);
	snprintf(c.opid, sizeof(c.opid), "op:%s/%s", r->scope, r->name);
	pthread_mutex_lock(&u->lock);
	rc = u->stop ? -ECANCELED : site_not_back(u, r, msg, sizeof(msg));
	pthread_mutex_unlock(&u->lock);
	if (!rc)
		rc = call_daemon(sock, (const char *[]){ "undo", r->scope, r->name, u->token }, 4,
				 undo_line, &c, msg, sizeof(msg));
	pthread_mutex_lock(&u->lock);
	undo_ended(u, &c, rc, msg);
	if (!u->x->json)
		fflush(stdout);
	pthread_mutex_unlock(&u->lock);
}

/* ---- many small ops of a site: one undo-ops request per batch ---- */

#define UNDO_BATCH_OPS 200   /* ops per undo-ops request (a line holds 64 KiB) */

struct undo_batch {
	struct undo_run *u;
	const struct op_record *const *v;
	size_t n;
	struct undo_call *calls;
	size_t cur;      /* the op whose step lines come now */
	bool *ended;     /* its result line came */
};

static size_t batch_find(const struct undo_batch *b, const char *name)
{
	for (size_t k = 0; k < b->n; k++) {
		size_t i = (b->cur + k) % b->n;   /* in order: the next one, nearly always */

		if (!strcmp(b->v[i]->name, name))
			return i;
	}
	return b->n;
}

/* Lines of undo-ops: "op OP", the undo lines of that op, "result OP …". */
static int batch_line(void *arg, const char *const *f, int n)
{
	struct undo_batch *b = arg;
	size_t i;

	if (n >= 2 && !strcmp(f[0], "op")) {
		if ((i = batch_find(b, f[1])) < b->n)
			b->cur = i;
		return 0;
	}
	if (n >= 13 && !strcmp(f[0], "result")) {
		struct undo_run *u = b->u;
		int rc = strcmp(f[2], "OK") ? -EIO : 0;

		if ((i = batch_find(b, f[1])) == b->n || b->ended[i])
			return 0;
		b->cur = i;
		/* f[2..12] have the fields of a done line */
		undo_line(&b->calls[i], (const char *const[]){ "done", f[3], f[4], f[5], f[6], f[7],
				   f[8], f[9], f[10], f[11], f[12] }, 11);
		b->ended[i] = true;
		pthread_mutex_lock(&u->lock);
		if (rc && !strcmp(f[2], "ENOENT"))
			rc = -ENOENT;
		undo_ended(u, &b->calls[i], rc, n > 13 ? f[13] : "");
		pthread_mutex_unlock(&u->lock);
		return 0;
	}
	return b->n ? undo_line(&b->calls[b->cur], f, n) : 0;
}

/* Undo v[0..n) (ops of one site, none inside a deleted site's trash) with
 * undo-ops requests.  A daemon that does not know the verb (older than
 * this gracectl) gets them one by one.  Called without u->lock. */
static void undo_batch(struct undo_run *u, const struct op_record *const *v, size_t n)
{
	struct undo_call calls[UNDO_BATCH_OPS];
	bool ended[UNDO_BATCH_OPS];
	const char *argv[3 + UNDO_BATCH_OPS];
	char sock[PATH_MAX + 32], msg[600] = "";
	struct undo_batch b = { u, v, n, calls, 0, ended };
	int rc;

	snprintf(sock, sizeof(sock), "%s/ctl.sock", u->x->state);
	argv[0] = "undo-ops";
	argv[1] = v[0]->scope;
	argv[2] = u->token;
	for (size_t i = 0; i < n; i++) {
		calls[i] = (struct undo_call){ .u = u };
		snprintf(calls[i].opid, sizeof(calls[i].opid), "op:%s/%s", v[i]->scope, v[i]->name);
		ended[i] = false;
		argv[3 + i] = v[i]->name;
	}
	pthread_mutex_lock(&u->lock);
	rc = u->stop ? -ECANCELED : 0;
	pthread_mutex_unlock(&u->lock);
	if (!rc)
		rc = call_daemon(sock, argv, (int)(3 + n), batch_line, &b, msg, sizeof(msg));
	if (rc == -EINVAL && strstr(msg, "unknown verb")) {
		for (size_t i = 0; i < n; i++)
			undo_one(u, v[i]);
		return;
	}
	pthread_mutex_lock(&u->lock);
	for (size_t i = 0; i < n; i++)   /* the request failed: so did the ops it left */
		if (!ended[i])
			undo_ended(u, &calls[i], rc < 0 ? rc : -EPROTO, msg);
	if (!u->x->json)
		fflush(stdout);
	pthread_mutex_unlock(&u->lock);
}

/* Workers take a whole scope at a time and undo its ops in order: a
 * site's ops in batches, a whole deleted site's ops and those inside
 * one (they wait for its site to come back) one by one. */
static void *undo_worker(void *arg)
{
	struct undo_run *u = arg;

	for (;;) {
		size_t i, j;

		pthread_mutex_lock(&u->lock);
		if (u->stop || u->next >= u->end) {
			pthread_mutex_unlock(&u->lock);
			return NULL;
		}
		i = j = u->next;
		while (j < u->end && !strcmp(u->order[j]->scope, u->order[i]->scope))
			j++;
		u->next = j;
		pthread_mutex_unlock(&u->lock);
		while (i < j) {
			size_t k = i;

			while (k < j && k - i < UNDO_BATCH_OPS && *u->order[k]->scope &&
			       !nested_of(u->s, u->order[k]))
				k++;
			if (k - i > 1) {
				undo_batch(u, u->order + i, k - i);
				i = k;
			} else {
				undo_one(u, u->order[i++]);
			}
		}
	}
}

static int undo_execute_all(struct gctl *x, struct selection *s, const char *token)
{
	static const char *const ev_cols[] = { "op", "event", "from", "to" };
	struct undo_run u = { .x = x, .s = s, .token = token, .events = TABLE(ev_cols, "ssss") };
	pthread_t t[UNDO_WORKERS];
	uint64_t items = 0;
	size_t nroot = 0;
	struct prefetch *pf;

	u.order = exec_order(s);
	for (size_t i = 0; i < s->n; i++)
		items += s->v[i].items;
	u.pg = progress_new("undo", items, x->progress);
	/* root ops first: those inside a deleted site need it back */
	while (nroot < s->n && !*u.order[nroot]->scope)
		nroot++;
	pthread_mutex_init(&u.lock, NULL);
	/* the daemon plans each op: warm its directories ahead of it */
	pf = prefetch_start(s->backing_fd, u.order, s->n);
	for (int phase = 0; phase < 2; phase++) {
		size_t n = 0;

		u.end = phase ? s->n : nroot;
		while (phase && n < UNDO_WORKERS && n < u.end - u.next &&
		       pthread_create(&t[n], NULL, undo_worker, &u) == 0)
			n++;
		if (!n)
			undo_worker(&u);
		while (n)
			pthread_join(t[--n], NULL);
	}
	prefetch_stop(pf);
	pthread_mutex_destroy(&u.lock);
	progress_free(u.pg);
	if (x->json) {
		printf("{\"executed\":true,\"token\":\"%s\",\"ops\":%zu,\"failed_ops\":%zu,"
		       "\"restored\":%zu,\"moved\":%zu,\"renamed\":%zu,\"merged\":%zu,\"mkdirs\":%zu,"
		       "\"followed\":%zu,\"replaced\":%zu,\"changed\":%zu,\"failed\":%zu,"
		       "\"events\":", token, s->n, u.failed_ops, u.moved + u.renamed, u.moved,
		       u.renamed, u.merged, u.mkdirs, u.followed, u.replaced, u.changed, u.failed);
		table_json(&u.events);
		held_json(x, s);
		if (s->created)
			created_json(s->created, true);
		puts("}");
	} else {
		if (s->created)
			created_plain(s->created, true);
		held_plain(x, s, "left out, under legal hold (as the dry run said):");
		printf("undo: %zu op(s): %zu item(s) restored to their original paths, %zu next "
		       "to a taken name, %zu following a parent restored under a new name, %zu "
		       "director%s merged into restored ones, %zu parent(s) recreated, %zu "
		       "failed%s\n", s->n, u.moved - u.followed, u.renamed, u.followed, u.merged,
		       u.merged == 1 ? "y" : "ies", u.mkdirs, u.failed,
		       u.failed_ops ? " (see the errors above)" : "");
		if (u.replaced || u.changed)
			printf("undo: %zu of them put back over the version that replaced them "
			       "(that version is in trash now), %zu next to a replacement that "
			       "changed since\n", u.replaced, u.changed);
		if (s->nheld)
			printf("undo: %zu op(s) under legal hold left out\n", s->nheld);
	}
	table_free(&u.events);
	free(u.order);
	return u.failed_ops || u.failed || (s->created && s->created->n[4]) ? EXIT_FAILED :
	       EXIT_DONE;
}

static const char *const dry_cols[] = { "op", "site", "deleted", "uid", "command", "items",
	"bytes", "moves", "renamed", "mkdirs", "merged", "run" };
#define DRY_TEXT_COLS 11   /* the text table leaves out the run */

/* The sites an op touches: its scope, or the deleted sites it holds. */
static void op_sites(struct gctl *x, const struct op_record *r, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s", op_site_text(x->backing_fd, r));
}

/* The dry run plans every op in the order --execute runs them, each
 * against what the ops before it would have put back (an overlay), so
 * that its counts are what the execution then does. */
static int undo_dry_run(struct gctl *x, struct selection *s, const char *token, bool bulk,
			const char *body)
{
	struct table t = TABLE(dry_cols, "sssnsnnnnnnS"), ct = { plan_cols, "ssss", 4, 0, NULL };
	const struct op_record **order = exec_order(s);
	struct undo_overlay *ov = NULL;
	uint64_t items = 0, bytes = 0;
	size_t moves = 0, renamed = 0, mkdirs = 0, merged = 0, followed = 0, nsites = 0;
	size_t replaced = 0, changed = 0;
	char **sites = NULL, sbuf[4096];
	int r = EXIT_DONE;
	struct hints h;

	if (!x->json)
		t.ncols = DRY_TEXT_COLS;   /* before any row: its width */
	/* ops of one file plan from their hint; only the rest read their
	 * directories, and only those are worth warming */
	hints_load(x, s, order, &h);
	struct prefetch *pf = prefetch_start(s->backing_fd, h.walk, h.nwalk);

	if (undo_overlay_new(&ov) < 0)
		r = fail(EXIT_FAILED, "out of memory");
	for (size_t i = 0; i < s->n && r == EXIT_DONE; i++) {
		const struct op_record *rec = order[i];
		struct undo_plan p;
		int pr = h.path[i] ? undo_plan_hint(s->backing_fd, rec->scope, rec->name,
						    h.path[i], h.mode[i], ov, &p) : 1;

		if (pr == 1)
			pr = sel_plan(s, rec, ov, &p);

		if (pr < 0) {
			r = fail(EXIT_FAILED, "%s: cannot plan: %s", op_id(rec->scope, rec->name),
				 strerror(-pr));
			break;
		}
		if (undo_overlay_note_plan(ov, &p) < 0)
			r = fail(EXIT_FAILED, "out of memory");
		op_sites(x, rec, sbuf, sizeof(sbuf));
		table_add(&t, op_id(rec->scope, rec->name), sbuf, utc(rec->last_ns / NS),
			  num(rec->uid), rec->cmdline, num(rec->items), num(rec->bytes),
			  num(p.moves + p.renames + p.replaces), num(p.renames), num(p.mkdirs), num(p.merges),
			  rec->run[0] ? fmt("run:%s", rec->run) : "");
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
		items += rec->items;
		bytes += rec->bytes;
		moves += p.moves + p.replaces;   /* as the execute counts them */
		replaced += p.replaces;
		changed += p.changed;
		renamed += p.renames;
		mkdirs += p.mkdirs;
		merged += p.merges;
		followed += p.follows;
		undo_plan_release(&p);
	}
	prefetch_stop(pf);
	hints_free(&h, s->n);
	undo_overlay_free(ov);
	free(order);
	if (r == EXIT_DONE && bulk)
		store_plan(x, token, body);
	if (r != EXIT_DONE) {
	} else if (x->json) {
		printf("{\"dry_run\":true,\"token\":\"%s\",\"ops\":%zu,\"sites\":%zu,\"items\":%"
		       PRIu64 ",\"bytes\":%" PRIu64 ",\"restored\":%zu,\"moved\":%zu,\"renamed\":%zu,"
		       "\"merged\":%zu,\"mkdirs\":%zu,\"followed\":%zu,\"replaced\":%zu,"
		       "\"changed\":%zu,\"conflicts\":%zu,\"skipped_purging\":%zu,\"plan\":",
		       token, s->n, nsites, items, bytes, moves + renamed, moves, renamed, merged,
		       mkdirs, followed, replaced, changed, ct.nrows, s->skipped_purging);
		table_json(&t);
		fputs(",\"conflict_list\":", stdout);
		table_json(&ct);
		held_json(x, s);
		if (s->created)
			created_json(s->created, false);
		puts("}");
	} else {
		table_plain(&t);
		if (ct.nrows) {
			printf("\nthese do not go back to their original paths: the name is "
			       "taken and they would be restored next to it (rename); they "
			       "follow a parent restored under a new name, never into the "
			       "directory that holds the name now (follow); for files the op "
			       "truncated, they replace the live version, which stays in trash "
			       "(replace); for files a rename replaced (sed -i, mv over, "
			       "rsync), they replace that version, which goes to trash "
			       "(replace), or, when the live file changed since, come back next "
			       "to it (changed):\n");
			table_plain(&ct);
		}
		held_plain(x, s, "left out, under legal hold (release them first to include "
			   "them; the token covers the rest):");
		if (s->created)
			created_plain(s->created, false);
		printf("\ndry run: would restore %zu operation(s) in %zu site(s): %" PRIu64
		       " item(s), %" PRIu64 " byte(s); %zu to their original paths, %zu under a "
		       "new name, %zu following a parent restored under a new name, %zu "
		       "director%s merged into restored ones, %zu parent director%s recreated",
		       s->n, nsites, items, bytes, moves - followed, renamed, followed, merged,
		       merged == 1 ? "y" : "ies", mkdirs, mkdirs == 1 ? "y" : "ies");
		if (replaced || changed)
			printf("; %zu put back over the live version (replace), %zu next to a "
			       "replacement that changed since (changed)", replaced, changed);
		if (s->skipped_purging)
			printf("; %zu op(s) being purged left out", s->skipped_purging);
		if (s->nheld)
			printf("; %zu op(s) under legal hold left out (listed above)", s->nheld);
		printf("\nplan token: %s\nto act, run the same command with --execute %s\n",
		       token, token);
	}
	while (nsites)
		free(sites[--nsites]);
	free(sites);
	table_free(&t);
	table_free(&ct);
	return r;
}

/* Each site of a comma list (site:ID or a bare name), added to *v (a
 * repeated option adds to it: the union).  A live site whose name has a
 * comma is taken whole.  0 or an exit status. */
static int add_sites(struct gctl *x, const char *list, site_name **v, size_t *n)
{
	const char *name = strncmp(list, "site:", 5) ? list : list + 5;
	char *dup = xstrdup(list), *save = NULL;
	size_t before = *n;
	struct stat st;
	int r = 0;
	bool whole = strchr(name, ',') && catalog_site_id_valid(name) &&
		     fstatat(x->backing_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		     S_ISDIR(st.st_mode);

	for (char *w = strtok_r(dup, whole ? "" : ",", &save); w && !r;
	     w = strtok_r(NULL, whole ? "" : ",", &save)) {
		*v = xrealloc(*v, (*n + 1) * sizeof(**v));
		if (!(r = known_site(x, w, (*v)[*n])))
			(*n)++;
	}
	if (!r && *n == before)
		r = fail(EXIT_USAGE, "empty site list '%s'", list);
	free(dup);
	return r;
}

/* --exclude-op: each op ID of a comma list.  0 or an exit status. */
static int add_xops(struct gctl *x, const char *list, struct selection *s)
{
	char *dup = xstrdup(list), *save = NULL;
	int r = 0;

	for (char *w = strtok_r(dup, ",", &save); w && !r; w = strtok_r(NULL, ",", &save)) {
		s->xops = xrealloc(s->xops, (s->nxops + 1) * sizeof(*s->xops));
		if (!(r = resolve_op(x, w, &s->xops[s->nxops])))
			s->nxops++;
	}
	if (!r && !s->nxops)
		r = fail(EXIT_USAGE, "empty op list '%s'", list);
	free(dup);
	return r;
}

int c_undo(struct gctl *x, int argc, char **argv)
{
	struct selection s = { .uid = -1, .backing_fd = x->backing_fd };
	struct created_run cr = { .t = { NULL, NULL, 0, 0, NULL } };
	char token[CTLCMD_TOKEN_LEN + 1], run[UTIL_RUN_MAX], *body;
	const char *given;
	bool execute = take_execute(&argc, argv, &given), bulk = false, ids = false,
	     created = false;
	int r;

	if ((r = need_counts(x)))
		return r;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (a[0] != '-' && !strncmp(a, "run:", 4)) {   /* every op of one run */
			if (s.run) {
				r = fail(EXIT_USAGE, "undo takes one run:ID at a time");
				goto out;
			}
			if ((r = run_arg(a, run)))
				goto out;
			s.run = run;
			bulk = true;
			continue;
		}
		if (!strcmp(a, "--created")) {   /* with run:ID: what it created too */
			created = true;
			continue;
		}
		if (a[0] != '-') {
			struct op_record rec;

			if ((r = resolve_op(x, a, &rec)))
				goto out;
			sel_add(&s, &rec);
			ids = true;
			continue;
		}
		if (!strstr(" --since --until --uid --command --script --site --exclude-site --exclude-op ",
			    fmt(" %s ", a))) {
			r = fail(EXIT_USAGE, "unknown option '%s'", a);
			goto out;
		}
		if (!v) {
			r = fail(EXIT_USAGE, "%s needs a value", a);
			goto out;
		}
		i++;
		bulk = true;
		if (!strcmp(a, "--since") || !strcmp(a, "--until")) {
			if (parse_time(v, !strcmp(a, "--since") ? &s.since_ns : &s.until_ns) < 0) {
				r = fail(EXIT_USAGE, "bad time '%s' (" TIME_FORMS ")", v);
				goto out;
			}
		} else if (!strcmp(a, "--uid")) {
			if (parse_uid(v, &s.uid) < 0) {
				r = fail(EXIT_USAGE, "bad uid '%s' (a number or a user name)", v);
				goto out;
			}
		} else if (!strcmp(a, "--command")) {
			s.command = v;
		} else if (!strcmp(a, "--script")) {
			s.script = v;
		} else if (!strcmp(a, "--site")) {
			if ((r = add_sites(x, v, &s.sites, &s.nsites)))
				goto out;
		} else if (!strcmp(a, "--exclude-site")) {
			if ((r = add_sites(x, v, &s.xsites, &s.nxsites)))
				goto out;
		} else if (!strcmp(a, "--exclude-op")) {
			if ((r = add_xops(x, v, &s)))
				goto out;
		} else {
			r = fail(EXIT_USAGE, "unknown option '%s'", a);
			goto out;
		}
	}
	if (created && (!s.run || s.since_ns || s.until_ns || s.uid >= 0 || s.command ||
			s.script || s.nsites || s.nxsites || s.nxops)) {
		r = fail(EXIT_USAGE, "--created goes with run:ID alone (what one run created is "
			 "undone whole)");
		goto out;
	}
	if (ids == bulk || (bulk && !s.since_ns && !s.run)) {
		r = fail(EXIT_USAGE, "usage: undo op:ID… | undo run:ID [--site S | --created] | undo --since T "
			 "[--until T] [--uid U] [--command C] [--script NAME] [--site S[,S…]]… "
			 "[--exclude-site S[,S…]]… [--exclude-op op:ID[,op:ID…]]… [--execute [TOKEN]]");
		goto out;
	}
	if (bulk && (r = sel_run(x, &s)))
		goto out;
	if (created) {
		if ((r = created_dry(x, s.run, &cr)))
			goto out;
		s.created = &cr;
	}
	/* a run that only created (no deletion of its is in trash) is known
	 * by its records alone */
	if (s.run && !(created && !s.n && cr.t.nrows) && (r = run_check(&s, s.run)))
		goto out;
	if (bulk)
		sel_split_held(&s);
	if (!s.n && s.nheld) {
		if (x->json) {   /* still one document: what is held */
			printf("{\"dry_run\":%s,\"ops\":0", execute ? "false" : "true");
			held_json(x, &s);
			puts("}");
		} else {
			held_plain(x, &s, "under legal hold:");
		}
		r = fail(EXIT_FAILED, "every matching operation is under legal hold (%zu): nothing "
			 "to restore", s.nheld);
		goto out;
	}
	if (!s.n && !(created && cr.t.nrows)) {
		r = fail(EXIT_FAILED, "no operation matches");
		goto out;
	}
	if (!(body = plan_body("undo", &s, NULL, token))) {
		r = fail(EXIT_FAILED, "out of memory");
		goto out;
	}
	if (created)
		body = created_body(&cr, body, token);
	if (!execute)
		r = undo_dry_run(x, &s, token, bulk, body);
	else if (!(r = check_token(x, given, token, bulk, true)) &&
		 !(r = refuse_frozen(x, s.v, s.n, "undo")))
		r = !daemon_answers(x) ?
		    fail(EXIT_FAILED, "undo needs the running daemon: mount %s first (nothing "
			 "was changed)", x->backing) :
		    /* what the run created goes first: a name it took (sed -i's
		     * temporary renamed over the original) is free again when
		     * the original comes back */
		    created && (r = created_execute(x, s.run, &cr)) ? r :
		    undo_execute_all(x, &s, token);
	free(body);
out:
	free(s.v);
	free(s.nest);
	free(s.sites);
	free(s.xsites);
	free(s.xops);
	free(s.held);
	table_free(&cr.t);
	return r;
}
