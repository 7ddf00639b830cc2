/*
 * test_fdcap — per-uid fd caps: defaults, EMFILE for the capped uid only,
 * the pool and its reserve, root exempt, release by fd, concurrency.
 * No I/O (fd numbers are only numbers here).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "daemon/fdcap.h"

static struct fdcap *mk(unsigned nofile, unsigned per_uid)
{
	struct fdcap_limits lim;
	struct fdcap *c = NULL;

	fdcap_limits(nofile, per_uid, &lim);
	assert_int_equal(fdcap_new(&c, &lim), 0);
	return c;
}

static int open_as(struct fdcap *c, uid_t uid, int fd)
{
	int r = fdcap_take(c, uid);

	if (r == 0)
		fdcap_bind(c, uid, fd);
	return r;
}

static void test_defaults(void **state)
{
	struct fdcap_limits l;

	(void)state;
	fdcap_limits(20000, 0, &l);
	assert_int_equal(l.reserve, 2500);
	assert_int_equal(l.pool, 17500);
	assert_int_equal(l.per_uid, 4375);
	fdcap_limits(1024, 0, &l);
	assert_int_equal(l.reserve, 128);
	assert_int_equal(l.per_uid, 224);
	fdcap_limits(100, 0, &l);          /* the reserve has a floor */
	assert_int_equal(l.reserve, 64);
	assert_int_equal(l.pool, 36);
	fdcap_limits(20000, 50, &l);       /* the option */
	assert_int_equal(l.per_uid, 50);
	fdcap_limits(1000, 999999, &l);    /* never more than the pool */
	assert_int_equal(l.per_uid, l.pool);
	fdcap_limits(10, 0, &l);           /* no room for tenants at all */
	assert_int_equal(l.pool, 0);
	assert_int_equal(l.per_uid, 0);
}

static void test_cap_is_per_uid(void **state)
{
	struct fdcap *c = mk(1000, 5);
	int fd = 10;

	(void)state;
	for (int i = 0; i < 5; i++)
		assert_int_equal(open_as(c, 1001, fd++), 0);
	assert_int_equal(fdcap_take(c, 1001), -EMFILE);
	assert_int_equal(fdcap_used(c, 1001), 5);
	/* another tenant and root are not affected */
	assert_int_equal(open_as(c, 1002, fd++), 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(fdcap_take(c, 0), 0);
	assert_int_equal(fdcap_used_total(c), 6);
	/* closing one gives the slot back, to that uid */
	fdcap_release(c, 10);
	assert_int_equal(fdcap_used(c, 1001), 4);
	assert_int_equal(open_as(c, 1001, 10), 0);
	assert_int_equal(fdcap_take(c, 1001), -EMFILE);
	fdcap_free(c);
}

static void test_pool_keeps_reserve(void **state)
{
	struct fdcap *c = mk(200, 0);   /* reserve 64, pool 136, per uid 34 */
	int fd = 3, ok = 0;

	(void)state;
	for (uid_t u = 1000; u < 1010; u++)
		for (int i = 0; i < 40; i++)
			if (open_as(c, u, fd) == 0) {
				ok++;
				fd++;
			}
	assert_int_equal(ok, 136);     /* four tenants filled the pool */
	assert_int_equal(fdcap_used(c, 1000), 34);
	assert_int_equal(fdcap_used(c, 1004), 0);
	assert_int_equal(fdcap_take(c, 1004), -EMFILE);
	assert_int_equal(fdcap_take(c, 0), 0);   /* root still opens */
	fdcap_release(c, 3);
	assert_int_equal(open_as(c, 1004, 3), 0);
	fdcap_free(c);
}

static void test_failed_open_and_release(void **state)
{
	struct fdcap *c = mk(1000, 2);

	(void)state;
	assert_int_equal(fdcap_take(c, 7), 0);
	fdcap_bind(c, 7, -1);               /* the open failed */
	assert_int_equal(fdcap_used(c, 7), 0);
	assert_int_equal(fdcap_used_total(c), 0);
	assert_int_equal(open_as(c, 7, 5000), 0);   /* beyond nofile: not kept */
	assert_int_equal(fdcap_used(c, 7), 0);
	fdcap_release(c, 42);               /* never charged: no-op */
	fdcap_release(c, -1);
	fdcap_release(c, 99999);
	assert_int_equal(open_as(c, 7, 42), 0);
	fdcap_release(c, 42);
	fdcap_release(c, 42);               /* twice: counted once */
	assert_int_equal(fdcap_used_total(c), 0);
	fdcap_free(NULL);
	assert_int_equal(fdcap_take(NULL, 7), 0);   /* no caps configured */
	fdcap_free(c);
}

struct worker { struct fdcap *c; uid_t uid; int base; };

static void *churn(void *arg)
{
	struct worker *w = arg;

	for (int round = 0; round < 2000; round++) {
		int fd = w->base + round % 10;

		if (open_as(w->c, w->uid, fd) == 0)
			fdcap_release(w->c, fd);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct fdcap *c = mk(4096, 10);
	pthread_t th[4];
	struct worker w[4];

	(void)state;
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ c, (uid_t)(2000 + i % 2), 100 + 10 * i };
		assert_int_equal(pthread_create(&th[i], NULL, churn, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(fdcap_used_total(c), 0);
	assert_int_equal(fdcap_used(c, 2000), 0);
	fdcap_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_cap_is_per_uid),
		cmocka_unit_test(test_pool_keeps_reserve),
		cmocka_unit_test(test_failed_open_and_release),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
