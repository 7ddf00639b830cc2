/*
 * test_fairq — the fair per-key job pool (lib/fairq.h): one key's flood
 * runs per_key at a time and never delays another key's job; every job
 * runs exactly once, fairq_free included.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/fairq.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static bool open_gate;
static int ran[2], running[2], peak[2];

struct arg {
	int key;
	bool block;   /* wait until the test opens the gate */
};

static void job(void *p)
{
	struct arg *a = p;

	pthread_mutex_lock(&mu);
	if (++running[a->key] > peak[a->key])
		peak[a->key] = running[a->key];
	pthread_cond_broadcast(&cv);
	while (a->block && !open_gate)
		pthread_cond_wait(&cv, &mu);
	running[a->key]--;
	ran[a->key]++;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static void reset(void)
{
	open_gate = false;
	ran[0] = ran[1] = running[0] = running[1] = peak[0] = peak[1] = 0;
}

static void test_flood_does_not_delay_others(void **state)
{
	struct arg flood = { 0, true }, other = { 1, false };
	struct fairq_stats st;
	struct fairq *q;
	struct timespec until;

	(void)state;
	reset();
	assert_int_equal(fairq_new(&q, 4, 2), 0);
	for (int i = 0; i < 6; i++)
		assert_int_equal(fairq_submit(q, 1000, job, &flood), 0);
	assert_int_equal(fairq_submit(q, 2000, job, &other), 0);
	/* key 2000's job runs while key 1000's six are stuck (bounded wait) */
	pthread_mutex_lock(&mu);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 20;
	while (ran[1] < 1 && pthread_cond_timedwait(&cv, &mu, &until) != ETIMEDOUT)
		;
	assert_int_equal(ran[1], 1);
	assert_int_equal(ran[0], 0);
	/* two of key 1000's jobs run (the workers start when they start), never three */
	while (running[0] < 2 && pthread_cond_timedwait(&cv, &mu, &until) != ETIMEDOUT)
		;
	assert_int_equal(running[0], 2);
	pthread_mutex_unlock(&mu);
	fairq_get_stats(q, &st);
	assert_int_equal(st.peak_per_key, 2);   /* (running may still count key 2000's job) */
	assert_int_equal(st.queued, 4);
	assert_int_equal(st.submitted, 7);
	pthread_mutex_lock(&mu);
	open_gate = true;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	fairq_free(q);
	assert_int_equal(ran[0], 6);
	assert_int_equal(peak[0], 2);   /* never more than per_key of one key */
}

static void test_free_runs_the_queue(void **state)
{
	struct arg a = { 0, false };
	struct fairq *q;

	(void)state;
	reset();
	assert_int_equal(fairq_new(&q, 1, 1), 0);
	for (int i = 0; i < 50; i++)
		assert_int_equal(fairq_submit(q, (uint32_t)(i % 3), job, &a), 0);
	fairq_free(q);
	assert_int_equal(ran[0], 50);
	assert_int_equal(peak[0], 1);
	fairq_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flood_does_not_delay_others),
		cmocka_unit_test(test_free_runs_the_queue),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
