/*
 * space — the eviction pass of the sweeper (see space.h for the contract
 * and the crash ordering).
 * Threading: s->lock guards st and the journal's in-memory copy (stop is
 * atomic); the pass itself runs on the sweeper thread without it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "lib/util.h"
#include "engine/sitepolicy.h"
#include "engine/space.h"
#include "lib/sys.h"

#define NS 1000000000LL
#define BUSY_NS (NS / 10)     /* below the floor with more to try: run again soon */
#define WATCH_NS (5 * NS)     /* below the floor, nothing to try: look again in */

struct space {
	struct trash *t;
	struct index *ix;
	struct space_conf c;
	int jfd;                      /* the journal, kept open (no allocation on a full disk) */
	pthread_mutex_t lock;
	atomic_bool stop;             /* space_stop: return after the current step */
	bool jvalid;                  /* the journal names an eviction in progress */
	char jscope[NAME_MAX + 1], jname[NAME_MAX + 1];
	int64_t last_walk_ns;         /* mono time of the last full look */
	struct space_status st;
	struct space_share *shares;   /* lock: every site's figures at the last full look */
	size_t nshares;
};

/* "space: " + the message, to the operator (on_notice). */
__attribute__((format(printf, 2, 3)))
static void notice(struct space *s, const char *fmt, ...)
{
	char msg[512] = "space: ";
	va_list ap;

	if (!s->c.on_notice)
		return;
	va_start(ap, fmt);
	vsnprintf(msg + 7, sizeof(msg) - 7, fmt, ap);
	va_end(ap);
	s->c.on_notice(s->c.cb_arg, msg);
}

static bool stopping(struct space *s)
{
	return atomic_load(&s->stop);
}

/* ---- the journal: "SCOPE\nNAME\n", or empty ------------------------------- */

/* Truncate, then write, then fdatasync: a crash in between leaves it empty
 * or cut short, and a cut-short journal is no journal. */
static int journal_write(struct space *s, const char *scope, const char *name)
{
	char buf[2 * NAME_MAX + 4];
	int n = snprintf(buf, sizeof(buf), "%s\n%s\n", scope, name);

	if (s->jfd < 0)
		return -EBADF;
	if (ftruncate(s->jfd, 0) < 0 || pwrite(s->jfd, buf, (size_t)n, 0) != n ||
	    fdatasync(s->jfd) < 0)
		return errno ? -errno : -EIO;
	pthread_mutex_lock(&s->lock);
	snprintf(s->jscope, sizeof(s->jscope), "%s", scope);
	snprintf(s->jname, sizeof(s->jname), "%s", name);
	s->jvalid = true;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static void journal_clear(struct space *s)
{
	pthread_mutex_lock(&s->lock);
	s->jvalid = false;
	pthread_mutex_unlock(&s->lock);
	if (s->jfd >= 0 && ftruncate(s->jfd, 0) == 0)
		fdatasync(s->jfd);
}

static bool journal_read(struct space *s)
{
	char buf[2 * NAME_MAX + 4], *nl1, *nl2;
	ssize_t n = pread(s->jfd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return false;
	buf[n] = '\0';
	if (!(nl1 = strchr(buf, '\n')) || !(nl2 = strchr(nl1 + 1, '\n')) || nl2[1] ||
	    (size_t)(nl1 - buf) > NAME_MAX || (size_t)(nl2 - nl1 - 1) > NAME_MAX || nl2 == nl1 + 1)
		return false;
	*nl1 = *nl2 = '\0';
	memcpy(s->jscope, buf, (size_t)(nl1 - buf) + 1);
	memcpy(s->jname, nl1 + 1, (size_t)(nl2 - nl1));
	return true;
}

/* ---- measuring and looking ------------------------------------------------ */

static int measure(struct space *s, uint64_t *total, uint64_t *avail)
{
	struct statvfs sv;

	if (fstatvfs(s->c.backing_fd, &sv) < 0)
		return -errno;
	*total = (uint64_t)sv.f_blocks * sv.f_frsize;
	*avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	return 0;
}

/* Every op of the index, with its site's hold and cap (records come
 * grouped by scope, so the policy is read once per site, and the ops of a
 * scope share one copy of its name). */
struct look {
	struct space *s;
	struct evict_op *ops;
	size_t n, cap;
	struct evict_cap *caps;
	size_t ncaps, capcap;
	char **scopes;           /* owned: one per scope seen */
	size_t nscopes, scopecap;
	bool scope_held;
};

/* v, or its reallocation, with room for one more element (n used of
 * *cap); NULL when out of memory (v is then still valid). */
static void *grow(void *v, size_t n, size_t *cap, size_t size)
{
	size_t c;

	if (n < *cap)
		return v;
	c = *cap ? 2 * *cap : 16;
	if (!(v = realloc(v, c * size)))
		return NULL;
	*cap = c;
	return v;
}

static int look_scope(struct look *l, const char *scope)
{
	struct site_policy p = {0};
	char **v = grow(l->scopes, l->nscopes, &l->scopecap, sizeof(*v)), *sc;

	if (!v)
		return -ENOMEM;
	l->scopes = v;
	if (!(sc = strdup(scope)))
		return -ENOMEM;
	l->scopes[l->nscopes++] = sc;
	if (*scope)
		sitepolicy_get(l->s->c.backing_fd, scope, &p);
	l->scope_held = p.hold;
	if (p.trash_max) {
		struct evict_cap *c = grow(l->caps, l->ncaps, &l->capcap, sizeof(*c));

		if (!c)
			return -ENOMEM;
		l->caps = c;
		l->caps[l->ncaps++] = (struct evict_cap){ sc, p.trash_max };
	}
	return 0;
}

static int look_one(const struct op_record *r, void *arg)
{
	struct look *l = arg;
	struct evict_op *v;
	char *nm;

	if ((!l->nscopes || strcmp(l->scopes[l->nscopes - 1], r->scope)) &&
	    look_scope(l, r->scope) < 0)
		return -ENOMEM;
	if (!(v = grow(l->ops, l->n, &l->cap, sizeof(*v))))
		return -ENOMEM;
	l->ops = v;
	if (!(nm = strdup(r->name)))
		return -ENOMEM;
	l->ops[l->n++] = (struct evict_op){
		.scope = l->scopes[l->nscopes - 1], .name = nm, .el_ns = r->last_el_ns,
		.bytes = r->bytes, .state = r->state,
		.hold = r->hold != 0, .site_held = l->scope_held,
	};
	return 0;
}

static void look_free(struct look *l)
{
	for (size_t i = 0; i < l->n; i++)
		free((char *)l->ops[i].name);
	for (size_t i = 0; i < l->nscopes; i++)
		free(l->scopes[i]);
	free(l->ops);
	free(l->caps);
	free(l->scopes);
}

/* ---- evicting one op ------------------------------------------------------- */

static bool held_now(struct space *s, const char *scope, const char *name)
{
	struct site_policy p;
	struct op_record r;

	if (*scope && sitepolicy_get(s->c.backing_fd, scope, &p) == 0 && p.hold)
		return true;
	return trash_op_get(s->t, scope, name, &r) == 0 && r.hold;
}

/* Evict one op (steps in space.h).  0, or -EBUSY/-EPERM (open, being
 * undone, held: skipped quietly), -EINTR (stopping), -errno. */
static int evict_one(struct space *s, const struct evict_op *o, int64_t now_s,
		     const char *detail)
{
	struct op_record rec;
	uint64_t removed = 0;
	bool done = false;
	int r;

	/* the record again, right before acting: nothing may have changed it
	 * into something we must not touch since the look */
	if ((r = index_get(s->ix, o->scope, o->name, &rec)) < 0)
		return r == -ENOENT ? -EBUSY : r;
	struct evict_op now = *o;
	now.state = rec.state;
	now.hold = rec.hold != 0;
	now.el_ns = rec.last_el_ns;
	now.site_held = held_now(s, o->scope, o->name);
	if (!evict_eligible(&now, now_s, s->c.min_age_s))
		return -EBUSY;
	if ((r = journal_write(s, o->scope, o->name)) < 0)   /* 1 */
		notice(s, "cannot write the eviction journal: %s; evicting anyway (after a "
		       "crash now it would be reported as an expiry)", strerror(-r));
	if ((r = trash_purge_begin(s->t, o->scope, o->name)) < 0) {   /* 2 */
		journal_clear(s);
		return r;
	}
	while (!done) {   /* 3 */
		if (stopping(s))
			return -EINTR;   /* journal kept: resumed after the restart */
		if (held_now(s, o->scope, o->name)) {
			journal_clear(s);
			notice(s, "eviction of op %s%s%s stopped: it was put on hold (partly "
			       "removed)", o->scope, *o->scope ? "/" : "", o->name);
			return -EPERM;
		}
		r = trash_purge_step(s->t, o->scope, o->name, s->c.step_budget, &done, &removed);
		if (r < 0) {
			journal_clear(s);
			return r;
		}
		sched_yield();
	}
	pthread_mutex_lock(&s->lock);   /* 4 */
	s->st.evicted_ops++;
	s->st.evicted_bytes += rec.bytes;
	pthread_mutex_unlock(&s->lock);
	if (s->c.on_evicted)
		s->c.on_evicted(s->c.cb_arg, &rec, removed, detail);
	journal_clear(s);   /* 5 */
	return 0;
}

/* ---- the pass -------------------------------------------------------------- */

/* A scope as operators name it: "/" for whole deleted sites. */
static const char *site_label(const char *scope)
{
	return *scope ? scope : "/";
}

static void set_figures(char *site, size_t cap, uint64_t *bytes, uint64_t *share,
			const struct evict_figures *f)
{
	if (!f || !f->scope) {
		*site = '\0';
		*bytes = *share = 0;
		return;
	}
	snprintf(site, cap, "%s", site_label(f->scope));
	*bytes = f->bytes;
	*share = f->share;
}

static void set_pressure(struct space *s, bool on, const struct evict_plan *p)
{
	char fb[32], fl[32], spec[32];
	bool was;

	pthread_mutex_lock(&s->lock);
	was = s->st.pressure;
	s->st.pressure = on;
	pthread_mutex_unlock(&s->lock);
	if (was == on)
		return;   /* said once */
	evict_format_approx(s->st.avail, fb, sizeof(fb));
	evict_format_approx(s->st.floor, fl, sizeof(fl));
	evict_format_floor(&s->c.floor, spec, sizeof(spec));
	if (on && p->blocked_by.scope) {
		char tb[32], sh[32];

		evict_format_approx(p->blocked_by.bytes, tb, sizeof(tb));
		evict_format_approx(p->blocked_by.share, sh, sizeof(sh));
		notice(s, "free space %s is below the floor of %s (min_free=%s) and nothing "
		       "more may be evicted: site %s holds %s of trash against a share of %s, "
		       "none of it evictable yet, so no other site's trash is evicted; %"
		       PRIu64 " op(s) held, %" PRIu64 " younger than min_retention, %" PRIu64
		       " open or being purged", fb, fl, spec, site_label(p->blocked_by.scope),
		       tb, sh, p->held, p->young, p->busy);
	} else if (on) {
		notice(s, "free space %s is below the floor of %s (min_free=%s) and nothing "
		       "more may be evicted: %" PRIu64 " op(s) held, %" PRIu64 " younger than "
		       "min_retention, %" PRIu64 " open or being purged", fb, fl, spec,
		       p->held, p->young, p->busy);
	} else
		notice(s, "free space %s is back above the floor of %s", fb, fl);
}

/* Keep every scope's usage and share, as the look found them. */
static void keep_shares(struct space *s, const struct evict_input *in)
{
	struct evict_figures *fig = calloc(in->nops ? in->nops : 1, sizeof(*fig));
	struct space_share *v = NULL, *old;
	size_t n = 0;

	if (!fig || evict_shares(in, fig, &n) < 0 || (n && !(v = calloc(n, sizeof(*v))))) {
		free(fig);
		return;   /* the figures of the look before stay */
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(v[i].site, sizeof(v[i].site), "%s", fig[i].scope);
		v[i].bytes = fig[i].bytes;
		v[i].share = fig[i].share;
	}
	free(fig);
	pthread_mutex_lock(&s->lock);
	old = s->shares;
	s->shares = v;
	s->nshares = n;
	pthread_mutex_unlock(&s->lock);
	free(old);
}

size_t space_get_shares(struct space *s, struct space_share *out, size_t cap)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = s->nshares;
	for (size_t i = 0; i < n && i < cap; i++)
		out[i] = s->shares[i];
	pthread_mutex_unlock(&s->lock);
	return n;
}

int64_t space_pass(struct space *s, int64_t now_s)
{
	struct look l = { .s = s };
	struct evict_plan plan = {0};
	uint64_t total = 0, avail = 0, floor, target, evicted = 0, evicted_bytes = 0;
	int64_t mono = sys.mono_ns(), next = 0;   /* 0: the sweeper's own cadence */
	int r;

	if ((r = measure(s, &total, &avail)) < 0) {
		notice(s, "cannot measure the backing filesystem: %s", strerror(-r));
		return 0;
	}
	floor = evict_floor_bytes(&s->c.floor, total);
	target = floor + evict_margin(floor);
	pthread_mutex_lock(&s->lock);
	s->st.known = true;
	s->st.total = total;
	s->st.avail = avail;
	s->st.floor = floor;
	pthread_mutex_unlock(&s->lock);
	if (avail >= floor && s->last_walk_ns && mono - s->last_walk_ns < s->c.recheck_ns) {
		if (s->st.pressure)
			set_pressure(s, false, &plan);
		return next;
	}
	s->last_walk_ns = mono;
	if ((r = index_foreach(s->ix, NULL, look_one, &l)) < 0 ||
	    !(plan.v = calloc(l.n ? l.n : 1, sizeof(*plan.v)))) {
		notice(s, "cannot read the index: %s", strerror(r < 0 ? -r : ENOMEM));
		goto out;
	}
	struct evict_input in = {
		.ops = l.ops, .nops = l.n, .caps = l.caps, .ncaps = l.ncaps, .now_s = now_s,
		.min_age_s = s->c.min_age_s, .total = total, .avail = avail, .floor = floor,
	};
	keep_shares(s, &in);   /* before the evictions: who was over its share */
	if ((r = evict_plan(&in, &plan)) < 0)
		goto out;
	for (size_t i = 0; i < plan.n && !stopping(s); i++) {
		const struct evict_victim *v = &plan.v[i];
		const struct evict_op *o = &l.ops[v->op];
		char detail[512], a[32];
		bool cap = v->reason == EVICT_CAP;

		if (!cap && measure(s, &total, &avail) == 0 && avail >= target)
			continue;   /* freed more than the records said */
		if (cap) {
			util_format_size(v->site.share, a, sizeof(a));
			snprintf(detail, sizeof(detail), "reason=trash_max trash_max=%s trash=%" PRIu64,
				 a, v->site.bytes);
		} else {
			int n = snprintf(detail, sizeof(detail), "reason=space free=%" PRIu64
					 " floor=%" PRIu64 " site=%s trash=%" PRIu64 " share=%" PRIu64,
					 avail, floor, site_label(v->site.scope), v->site.bytes,
					 v->site.share);

			if (v->other.scope && n > 0 && (size_t)n < sizeof(detail))
				snprintf(detail + n, sizeof(detail) - (size_t)n, " next=%s next_trash=%"
					 PRIu64 " next_share=%" PRIu64, site_label(v->other.scope),
					 v->other.bytes, v->other.share);
		}
		r = evict_one(s, o, now_s, detail);
		if (r == 0) {
			evicted++;
			evicted_bytes += o->bytes;
		} else if (r != -EBUSY && r != -EPERM && r != -EINTR) {
			pthread_mutex_lock(&s->lock);
			s->st.last_error = r;
			pthread_mutex_unlock(&s->lock);
			notice(s, "cannot evict op %s%s%s: %s", o->scope, *o->scope ? "/" : "",
			       o->name, strerror(-r));
		}
	}
	if (measure(s, &total, &avail) == 0) {
		pthread_mutex_lock(&s->lock);
		s->st.avail = avail;
		s->st.total = total;
		pthread_mutex_unlock(&s->lock);
	}
	pthread_mutex_lock(&s->lock);
	s->st.eligible_ops = plan.eligible_ops - evicted;
	s->st.eligible_bytes = s->st.eligible_ops && plan.eligible_bytes > evicted_bytes ?
			       plan.eligible_bytes - evicted_bytes : 0;
	s->st.held = plan.held;
	s->st.young = plan.young;
	s->st.busy = plan.busy;
	set_figures(s->st.top_site, sizeof(s->st.top_site), &s->st.top_bytes, &s->st.top_share,
		    &plan.top);
	set_figures(s->st.blocked_site, sizeof(s->st.blocked_site), &s->st.blocked_bytes,
		    &s->st.blocked_share, avail < floor ? &plan.blocked_by : NULL);
	pthread_mutex_unlock(&s->lock);
	if (avail < floor) {
		/* more to try (the records overstated what an op frees): soon */
		bool more = evicted && s->st.eligible_ops;

		if (!more)   /* with more to try the next pass decides */
			set_pressure(s, true, &plan);
		s->last_walk_ns = 0;
		next = more ? BUSY_NS : WATCH_NS;
	} else {
		set_pressure(s, false, &plan);
	}
out:
	free(plan.v);
	look_free(&l);
	return next;
}

/* ---- lifecycle and status ------------------------------------------------- */

bool space_resumed(struct space *s, const struct op_record *r, uint64_t removed)
{
	bool ours;

	if (!s)
		return false;
	pthread_mutex_lock(&s->lock);
	ours = s->jvalid && !strcmp(s->jscope, r->scope) && !strcmp(s->jname, r->name);
	if (ours) {
		s->st.evicted_ops++;
		s->st.evicted_bytes += r->bytes;
	}
	pthread_mutex_unlock(&s->lock);
	if (!ours)
		return false;
	if (s->c.on_evicted)
		s->c.on_evicted(s->c.cb_arg, r, removed, "reason=space resumed after a restart");
	journal_clear(s);
	return true;
}

int space_new(struct space **out, struct trash *t, struct index *ix,
	      const struct space_conf *conf)
{
	struct space *s = calloc(1, sizeof(*s));
	struct op_record rec;

	if (!s)
		return -ENOMEM;
	s->t = t;
	s->ix = ix;
	s->c = *conf;
	if (s->c.recheck_ns <= 0)
		s->c.recheck_ns = 30 * NS;
	if (!s->c.step_budget)
		s->c.step_budget = 1024;
	pthread_mutex_init(&s->lock, NULL);
	s->jfd = openat(conf->state_fd, SPACE_JOURNAL,
			O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->jfd < 0) {
		int e = errno;

		space_free(s);
		return -e;
	}
	/* an eviction a crash interrupted: still PURGING, the sweeper finishes
	 * it and space_resumed reports it; anything else is stale */
	if (journal_read(s) && index_get(ix, s->jscope, s->jname, &rec) == 0 &&
	    rec.state == OP_PURGING)
		s->jvalid = true;
	else
		journal_clear(s);
	*out = s;
	return 0;
}

void space_stop(struct space *s)
{
	if (!s)
		return;
	atomic_store(&s->stop, true);
}

void space_free(struct space *s)
{
	if (!s)
		return;
	if (s->jfd >= 0)
		close(s->jfd);
	pthread_mutex_destroy(&s->lock);
	free(s->shares);
	free(s);
}

void space_get_status(struct space *s, struct space_status *st)
{
	pthread_mutex_lock(&s->lock);
	*st = s->st;
	pthread_mutex_unlock(&s->lock);
	st->min_free = s->c.floor;
}
