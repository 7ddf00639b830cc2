/*
 * sweep — the sweeper thread (see sweep.h).
 * Threading: s->lock guards status, the skew watch and the stop/kick
 * flags; passes run outside it.
 */
#include <errno.h>
#include <stdarg.h>
#include <linux/ioprio.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "engine/clock.h"
#include "engine/sitepolicy.h"
#include "engine/sweep.h"
#include "lib/sys.h"

#define NS 1000000000LL

struct sweep {
	struct trash *t;
	struct index *ix;
	struct sweep_conf c;
	pthread_t thread;
	bool running, stop, kick, have_ref;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int64_t ref_wall, ref_el;   /* both clocks at the first pass */
	int64_t noticed_skew;       /* skew at the last notice */
	struct sweep_status st;
};

#define PASS_MAX 4096   /* ops handled by one pass; a full pass runs again at once */

struct due {
	size_t n, cap;
	bool skip_purging;   /* already collected first */
	struct op_record *v;
};

static int collect_due(const struct op_record *r, void *arg)
{
	struct due *d = arg;

	if (d->skip_purging && r->state == OP_PURGING)
		return 0;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 32;
		struct op_record *v = realloc(d->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		d->v = v;
		d->cap = cap;
	}
	d->v[d->n++] = *r;
	return d->n >= PASS_MAX;
}

static int collect_purging(const struct op_record *r, void *arg)
{
	return r->state == OP_PURGING ? collect_due(r, arg) : 0;
}

__attribute__((format(printf, 2, 3)))
static void notice(struct sweep *s, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s->c.on_notice)
		s->c.on_notice(s->c.cb_arg, msg);
}

static bool site_held(struct sweep *s, const char *scope)
{
	struct site_policy p;

	return *scope && sitepolicy_get(s->c.backing_fd, scope, &p) == 0 && p.hold;
}

static bool stopping(struct sweep *s)
{
	bool stop;

	pthread_mutex_lock(&s->lock);
	stop = s->stop;
	pthread_mutex_unlock(&s->lock);
	return stop;
}

/* Purge one op to the end (or until stop).  0 or -errno. */
static int purge_op(struct sweep *s, const struct op_record *r)
{
	uint64_t removed = 0;
	bool done = false;
	int rc = 0;
	int64_t t0 = sys.mono_ns();

	if (r->state != OP_PURGING && (rc = trash_purge_begin(s->t, r->scope, r->name)) < 0)
		return rc;
	while (!done && !rc && !stopping(s)) {
		rc = trash_purge_step(s->t, r->scope, r->name, s->c.step_budget, &done, &removed);
		sched_yield();
	}
	if (done) {
		pthread_mutex_lock(&s->lock);
		s->st.purged_ops++;
		s->st.purged_entries += removed;
		s->st.last_purge_ns = sys.mono_ns() - t0;
		pthread_mutex_unlock(&s->lock);
		if (s->c.on_purged)
			s->c.on_purged(s->c.cb_arg, r, removed);
	}
	return rc;
}

/* Watch the wall clock against the trusted one (it decides nothing) and
 * save the trusted clock.  Returns the trusted clock now (ns). */
static int64_t clock_watch(struct sweep *s)
{
	int64_t el = clock_elapsed_ns(), wall = sys.wall_ns(), skew, last;
	int r = clock_save();

	if (r < 0)
		notice(s, "sweeper: cannot save the trusted clock: %s (a restart would "
		       "count less elapsed time: purging later, never earlier)", strerror(-r));
	pthread_mutex_lock(&s->lock);
	if (!s->have_ref) {
		s->ref_wall = wall;
		s->ref_el = el;
		s->have_ref = true;
	}
	skew = (wall - s->ref_wall) - (el - s->ref_el);
	last = s->noticed_skew;
	if (llabs(skew - last) > s->c.jump_ns)
		s->noticed_skew = skew;
	s->st.elapsed_s = el / NS;
	s->st.skew_s = skew / NS;
	pthread_mutex_unlock(&s->lock);
	if (llabs(skew - last) > s->c.jump_ns)
		notice(s, "sweeper: the wall clock moved %+llds more than elapsed time since "
		       "the sweeper started; expiry goes by elapsed time, so nothing is "
		       "purged early", (long long)(skew / NS));
	return el;
}

int64_t sweep_pass(struct sweep *s)
{
	struct due d = {0};
	int64_t limit = clock_watch(s), next, lag = 0;
	int rc;

	trash_reserve_fill(s->t);   /* what deletions took when mkdir had no room */

	/* ops a crash or a hold left half-purged come first (a purge once
	 * begun is finished whatever its due time: it is not restorable) */
	index_foreach(s->ix, NULL, collect_purging, &d);
	d.skip_purging = true;
	index_foreach_expired(s->ix, limit / NS, collect_due, &d);
	bool full = d.n >= PASS_MAX;
	for (size_t i = 0; i < d.n && !stopping(s); i++) {
		const struct op_record *r = &d.v[i];

		if (r->hold || site_held(s, r->scope))
			continue;
		rc = purge_op(s, r);
		if (rc == -EPERM)
			notice(s, "sweeper: purge of op %s/%s stopped: legal hold placed during "
			       "it (the op stays, half purged, until released)", r->scope, r->name);
		if (rc == -EBUSY || rc == -EPERM)
			continue;   /* still open / held meanwhile */
		if (rc < 0) {
			int64_t over = limit / NS - oprec_due(r);

			if (over > lag)
				lag = over;
			pthread_mutex_lock(&s->lock);
			s->st.last_error = rc;
			pthread_mutex_unlock(&s->lock);
			notice(s, "sweeper: cannot purge op %s/%s: %s", r->scope, r->name,
			       strerror(-rc));
		}
	}
	free(d.v);

	int64_t exp;
	next = s->c.interval_ns;
	if (index_next_expiry(s->ix, &exp) == 0) {
		int64_t until = exp * NS - limit;

		if (until <= 0)   /* due but held or failing: not a busy loop */
			until = s->c.interval_ns;
		if (until < next)
			next = until;
	}
	pthread_mutex_lock(&s->lock);
	s->st.lag_s = lag;
	s->st.last_pass_s = sys.wall_ns() / NS;
	pthread_mutex_unlock(&s->lock);
	if (full && !stopping(s))
		return 0;   /* more was due than one pass takes */
	if (s->c.after_pass && !stopping(s)) {   /* eviction for space, after expiry */
		int64_t want = s->c.after_pass(s->c.cb_arg, limit / NS);

		if (want > 0 && want < next)
			next = want;
	}
	return next < NS / 10 ? NS / 10 : next;
}

static void lower_priority(void)
{
	/* the sweeper must not compete with tenants' I/O */
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
	syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0,
		IOPRIO_PRIO_VALUE(IOPRIO_CLASS_IDLE, 0));
}

static void *sweep_main(void *arg)
{
	struct sweep *s = arg;

	lower_priority();
	for (;;) {
		int64_t sleep_ns = sweep_pass(s);
		struct timespec until;

		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += sleep_ns / NS;
		until.tv_nsec += sleep_ns % NS;
		if (until.tv_nsec >= NS) {
			until.tv_sec++;
			until.tv_nsec -= NS;
		}
		pthread_mutex_lock(&s->lock);
		while (!s->stop && !s->kick &&
		       pthread_cond_timedwait(&s->cond, &s->lock, &until) == 0)
			;
		s->kick = false;
		bool stop = s->stop;
		pthread_mutex_unlock(&s->lock);
		if (stop)
			break;
	}
	return NULL;
}

int sweep_new(struct sweep **out, struct trash *t, struct index *ix,
	      const struct sweep_conf *conf)
{
	struct sweep *s = calloc(1, sizeof(*s));
	pthread_condattr_t ca;

	if (!s)
		return -ENOMEM;
	s->t = t;
	s->ix = ix;
	s->c = *conf;
	if (!s->c.step_budget)
		s->c.step_budget = 1024;
	if (s->c.interval_ns <= 0)
		s->c.interval_ns = 60 * NS;
	if (s->c.jump_ns <= 0)
		s->c.jump_ns = 3600 * NS;   /* only for the skew notice */
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	*out = s;
	return 0;
}

int sweep_start(struct sweep *s)
{
	int r = pthread_create(&s->thread, NULL, sweep_main, s);

	if (r)
		return -r;
	s->running = true;
	return 0;
}

void sweep_stop(struct sweep *s)
{
	if (!s || !s->running)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	s->running = false;
}

void sweep_free(struct sweep *s)
{
	if (!s)
		return;
	sweep_stop(s);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void sweep_kick(struct sweep *s)
{
	pthread_mutex_lock(&s->lock);
	s->kick = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

void sweep_get_status(struct sweep *s, struct sweep_status *st)
{
	pthread_mutex_lock(&s->lock);
	*st = s->st;
	pthread_mutex_unlock(&s->lock);
}
