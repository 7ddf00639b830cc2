/*
 * fusegate — which worker reads the next FUSE request (see fusegate.h).
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "daemon/fusegate.h"

enum {
	GATE_ACTIVE_MS = 10,   /* how often the watcher looks while requests come */
	GATE_IDLE_MS = 100,    /* ... at most, after a quiet spell */
	GATE_SPARE_MS = 1000,  /* the other waiters (woken when needed; a safety net) */
};

static bool on;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv;                 /* CLOCK_MONOTONIC */
static _Atomic unsigned long owner;       /* the owner's gate id; 0: none */
static _Atomic int64_t busy_ns;           /* when the owner took its request; 0: reading */
static _Atomic unsigned long served;      /* requests the owner has taken */
static atomic_ulong next_id;
static _Atomic int64_t steal_ns = (int64_t)FUSEGATE_STEAL_MS * 1000000;
static int waiting;                       /* mu: workers in fusegate_enter's wait */
static int tickets;                       /* mu: of them, asked to read now */
static unsigned long watcher;             /* mu: the waiter on the short timeout */
static _Thread_local unsigned long me;    /* this worker's gate id */
static _Thread_local int queued_streak;   /* its reads that left more queued */

static int64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

void fusegate_enable(void)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&cv, &a);
	pthread_condattr_destroy(&a);
	on = true;
}

bool fusegate_enabled(void)
{
	return on;
}

void fusegate_set_steal_ms(int ms)
{
	atomic_store(&steal_ns, (int64_t)ms * 1000000);
}

/* Leaving the wait (also when cancelled in it): mu is held. */
static void leave(void *arg)
{
	(void)arg;
	waiting--;
	if (watcher == me) {
		watcher = 0;
		if (waiting > 0)
			pthread_cond_signal(&cv);   /* someone else watches */
	}
	pthread_mutex_unlock(&mu);
}

static void take_owner(void)
{
	atomic_store(&busy_ns, 0);
	atomic_store(&owner, me);
}

void fusegate_enter(void)
{
	int64_t wait_ms = GATE_ACTIVE_MS;
	unsigned long seen;

	if (!on)
		return;
	if (!me)
		me = atomic_fetch_add(&next_id, 1) + 1;
	if (atomic_load_explicit(&owner, memory_order_relaxed) == me) {
		atomic_store_explicit(&busy_ns, 0, memory_order_relaxed);
		return;   /* the fast path: the owner reads on */
	}
	seen = atomic_load(&served);
	pthread_mutex_lock(&mu);
	waiting++;
	pthread_cleanup_push(leave, NULL);
	for (;;) {
		int64_t t = now_ns(), b = atomic_load(&busy_ns), until;
		unsigned long s;
		struct timespec ts;

		if (atomic_load(&owner) == 0) {
			take_owner();
			break;
		}
		if (tickets > 0) {   /* requests are queued: read one as a helper */
			tickets--;
			break;
		}
		if (b && t - b >= atomic_load(&steal_ns)) {
			take_owner();   /* the owner is stuck on one request */
			break;
		}
		if (!watcher)
			watcher = me;
		s = atomic_load(&served);
		if (watcher != me)
			wait_ms = GATE_SPARE_MS;
		else if (s != seen || b)
			wait_ms = GATE_ACTIVE_MS;
		else if ((wait_ms *= 2) > GATE_IDLE_MS)
			wait_ms = GATE_IDLE_MS;
		seen = s;
		until = t + wait_ms * 1000000;
		ts.tv_sec = (time_t)(until / 1000000000);
		ts.tv_nsec = (long)(until % 1000000000);
		pthread_cond_timedwait(&cv, &mu, &ts);   /* a cancellation point: leave() */
	}
	pthread_cleanup_pop(1);
}

/* Wake one waiter to read a request too (mu not held). */
static void recruit(void)
{
	pthread_mutex_lock(&mu);
	if (tickets < waiting) {
		tickets++;
		pthread_cond_signal(&cv);
	}
	pthread_mutex_unlock(&mu);
}

void fusegate_got(int fd, ssize_t n)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (!on)
		return;
	if (n <= 0) {   /* an error (ENODEV at unmount): let the others see */
		unsigned long m = me;

		atomic_compare_exchange_strong(&owner, &m, 0);
		pthread_mutex_lock(&mu);
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);
		return;
	}
	if (atomic_load_explicit(&owner, memory_order_relaxed) == me) {
		atomic_store_explicit(&busy_ns, now_ns(), memory_order_relaxed);
		atomic_fetch_add_explicit(&served, 1, memory_order_relaxed);
	}
	/* Requests queued behind this one, twice in a row: several clients
	 * are waiting, another worker reads too.  (Once is no sign: a
	 * client's close or a dropped inode queues a RELEASE or FORGET it
	 * does not wait for, right before its next request.) */
	if (poll(&p, 1, 0) > 0 && (p.revents & POLLIN)) {
		if (++queued_streak >= 2) {
			queued_streak = 0;
			recruit();
		}
	} else {
		queued_streak = 0;
	}
}

void fusegate_slow(void)
{
	unsigned long m = me;

	if (!on || !m || !atomic_compare_exchange_strong(&owner, &m, 0))
		return;
	pthread_mutex_lock(&mu);
	pthread_cond_signal(&cv);   /* a waiter becomes the owner */
	pthread_mutex_unlock(&mu);
}
