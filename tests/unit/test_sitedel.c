/*
 * test_sitedel — per-site counters of site-level deletions: whole sites and
 * trees counted apart, first-seen order, the bound on distinct sites (the
 * rest under "/other"), names that are not site names ignored, and counts
 * from many threads at once.  cmocka; the threads test uses pthreads.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/sitedel.h"

static const struct sitedel_count *find(const struct sitedel_count *v, size_t n,
					const char *site)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].site, site))
			return &v[i];
	return NULL;
}

static void test_counts(void **state)
{
	struct sitedel *sd;
	struct sitedel_count *v;
	size_t n;

	(void)state;
	assert_int_equal(sitedel_new(&sd), 0);
	assert_int_equal(sitedel_snapshot(sd, &v, &n), 0);
	assert_int_equal(n, 0);
	assert_null(v);
	sitedel_note(sd, "wiki", false);
	sitedel_note(sd, "acme", true);
	sitedel_note(sd, "wiki", false);
	sitedel_note(sd, "wiki", true);
	sitedel_note(sd, "", true);        /* not a site name: ignored */
	sitedel_note(sd, NULL, true);
	char longname[300];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	sitedel_note(sd, longname, true);
	sitedel_note(NULL, "wiki", true);  /* no table: nothing */
	sitedel_touch(sd, "quiet");        /* a series at 0 before any deletion */
	sitedel_touch(sd, "acme");         /* ... that never resets a count */
	sitedel_touch(sd, "");
	assert_int_equal(sitedel_snapshot(sd, &v, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[2].site, "quiet");
	assert_int_equal(v[2].whole + v[2].trees, 0);
	assert_string_equal(v[0].site, "wiki");   /* first seen first */
	assert_int_equal(v[0].trees, 2);
	assert_int_equal(v[0].whole, 1);
	assert_string_equal(v[1].site, "acme");
	assert_int_equal(v[1].whole, 1);
	assert_int_equal(v[1].trees, 0);
	free(v);
	sitedel_free(sd);
	sitedel_free(NULL);
}

static void test_bounded(void **state)
{
	struct sitedel *sd;
	struct sitedel_count *v;
	char name[32];
	size_t n;

	(void)state;
	assert_int_equal(sitedel_new(&sd), 0);
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < SITEDEL_MAX_SITES + 10; i++) {
			snprintf(name, sizeof(name), "site%d", i);
			sitedel_note(sd, name, i % 2);
		}
	assert_int_equal(sitedel_snapshot(sd, &v, &n), 0);
	assert_int_equal(n, SITEDEL_MAX_SITES + 1);   /* never more series than that */
	assert_string_equal(v[n - 1].site, SITEDEL_OTHER);
	assert_int_equal(v[n - 1].whole + v[n - 1].trees, 2 * 10);
	const struct sitedel_count *e = find(v, n, "site4095");
	assert_non_null(e);
	assert_int_equal(e->whole, 2);
	assert_null(find(v, n, "site4096"));   /* counted under /other */
	free(v);
	sitedel_touch(sd, "late");              /* no room: no entry, nothing counted */
	assert_int_equal(sitedel_snapshot(sd, &v, &n), 0);
	assert_int_equal(n, SITEDEL_MAX_SITES + 1);
	assert_int_equal(v[n - 1].whole + v[n - 1].trees, 2 * 10);
	free(v);
	sitedel_free(sd);
}

#define THREADS 4
#define PER_THREAD 5000

static void *noter(void *arg)
{
	struct sitedel *sd = arg;
	char name[16];

	for (int i = 0; i < PER_THREAD; i++) {
		snprintf(name, sizeof(name), "s%d", i % 16);
		sitedel_note(sd, name, i % 3 == 0);
	}
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t th[THREADS];
	struct sitedel *sd;
	struct sitedel_count *v;
	uint64_t sum = 0;
	size_t n;

	(void)state;
	assert_int_equal(sitedel_new(&sd), 0);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, noter, sd), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(sitedel_snapshot(sd, &v, &n), 0);
	assert_int_equal(n, 16);
	for (size_t i = 0; i < n; i++)
		sum += v[i].whole + v[i].trees;
	assert_int_equal(sum, THREADS * PER_THREAD);   /* nothing lost to a race */
	free(v);
	sitedel_free(sd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
