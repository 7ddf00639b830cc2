/*
 * test_fusegate — which worker reads the next FUSE request
 * (daemon/fusegate.h).  Two worker threads, A and B, each run the calls
 * the test sends them (enter = "may I read the device?", got = "my read
 * returned", slow); the device is a pipe: empty = nothing queued, with
 * bytes = requests queued.  Every wait is bounded; nothing sleeps for a
 * fixed time except to show that something does NOT happen.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/fusegate.h"

enum cmd { NONE, ENTER, GOT, GOT_ERR, SLOW, QUIT };

struct worker {
	pthread_t t;
	_Atomic int cmd;        /* set by the test, cleared by the worker when done */
	atomic_int entered;     /* fusegate_enter calls that returned */
	int fd;                 /* the "device" for GOT */
};

static struct worker A, B;
static int empty_rd, queued_rd;   /* pipes: one empty, one with bytes in it */

static void *run(void *arg)
{
	struct worker *w = arg;

	for (;;) {
		int c = atomic_load(&w->cmd);

		switch (c) {
		case NONE:
			usleep(200);
			continue;
		case ENTER:
			fusegate_enter();
			atomic_fetch_add(&w->entered, 1);
			break;
		case GOT:
			fusegate_got(w->fd, 1);
			break;
		case GOT_ERR:
			fusegate_got(w->fd, -1);
			break;
		case SLOW:
			fusegate_slow();
			break;
		case QUIT:
			return NULL;
		}
		atomic_store(&w->cmd, NONE);
	}
}

static bool wait_for(atomic_int *v, int want, int ms)
{
	for (int i = 0; i < ms; i++) {
		if (atomic_load(v) >= want)
			return true;
		usleep(1000);
	}
	return atomic_load(v) >= want;
}

/* Send a call that returns at once and wait for it to be done. */
static void call(struct worker *w, int c)
{
	atomic_store(&w->cmd, c);
	for (int i = 0; i < 5000 && atomic_load(&w->cmd) != NONE; i++)
		usleep(1000);
	assert_int_equal(atomic_load(&w->cmd), NONE);
}

static void test_gate(void **state)
{
	int p[2], q[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(pipe(q), 0);
	assert_int_equal(write(q[1], "x", 1), 1);
	empty_rd = p[0];
	queued_rd = q[0];
	A.fd = B.fd = empty_rd;
	assert_false(fusegate_enabled());
	fusegate_enable();
	assert_true(fusegate_enabled());
	pthread_create(&A.t, NULL, run, &A);
	pthread_create(&B.t, NULL, run, &B);

	/* A is first: it owns the device and comes back to it at once */
	call(&A, ENTER);
	assert_int_equal(atomic_load(&A.entered), 1);
	call(&A, GOT);
	call(&A, ENTER);
	assert_int_equal(atomic_load(&A.entered), 2);

	/* B waits while A reads (A is "in read()", not busy) */
	atomic_store(&B.cmd, ENTER);
	usleep(100 * 1000);
	assert_int_equal(atomic_load(&B.entered), 0);

	/* A's request will take long: B reads meanwhile (no take-over by
	 * time in this part of the test: only the hand-off) */
	fusegate_set_steal_ms(600000);
	call(&A, GOT);
	call(&A, SLOW);
	assert_true(wait_for(&B.entered, 1, 5000));
	call(&A, NONE);

	/* B owns the device now; A, back from its slow request, waits */
	atomic_store(&A.cmd, ENTER);
	usleep(100 * 1000);
	assert_int_equal(atomic_load(&A.entered), 2);

	/* B takes a request and gets stuck on it: A takes over by itself */
	fusegate_set_steal_ms(FUSEGATE_STEAL_MS);
	call(&B, GOT);
	assert_true(wait_for(&A.entered, 3, 5000));

	/* A's read fails (unmount): the device is nobody's, B reads at once */
	fusegate_set_steal_ms(600000);
	call(&A, GOT_ERR);
	call(&B, ENTER);
	assert_int_equal(atomic_load(&B.entered), 2);

	/* B owns it; with requests queued behind two of B's in a row, A
	 * (waiting) is asked to read one too, B still the owner */
	atomic_store(&A.cmd, ENTER);
	usleep(50 * 1000);
	assert_int_equal(atomic_load(&A.entered), 3);
	B.fd = queued_rd;
	call(&B, GOT);
	call(&B, ENTER);
	assert_int_equal(atomic_load(&B.entered), 3);
	call(&B, GOT);
	assert_true(wait_for(&A.entered, 4, 5000));
	call(&B, ENTER);   /* still the owner: straight back */
	assert_int_equal(atomic_load(&B.entered), 4);

	call(&B, GOT_ERR);   /* the device is nobody's again */
	fusegate_set_steal_ms(FUSEGATE_STEAL_MS);
	atomic_store(&A.cmd, QUIT);
	atomic_store(&B.cmd, QUIT);
	pthread_join(A.t, NULL);
	pthread_join(B.t, NULL);
}

/* A worker cancelled in the wait (libfuse ends its loop so) leaves the
 * gate usable. */
static void *enter_only(void *arg)
{
	(void)arg;
	fusegate_enter();
	return NULL;
}

static void test_cancel(void **state)
{
	pthread_t t;
	void *res;

	(void)state;
	fusegate_enter();   /* nobody owns the device after test_gate: now this thread */
	pthread_create(&t, NULL, enter_only, NULL);
	usleep(50 * 1000);
	pthread_cancel(t);
	pthread_join(t, &res);
	assert_ptr_equal(res, PTHREAD_CANCELED);
	fusegate_enter();   /* still the owner, and the gate's lock is free */
	fusegate_slow();
	pthread_create(&t, NULL, enter_only, NULL);   /* nobody owns it: returns */
	pthread_join(t, &res);
	assert_null(res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gate),
		cmocka_unit_test(test_cancel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
