/*
 * test_wguard — the per-handle notes of in-place write protection
 * (wguard.h): an fd opened for writing starts WG_OPEN with its opener, a
 * recorded decision is returned as a copy, the first append fixes the
 * size to cut the preserved file at (and only while the note is open),
 * a reused fd number starts afresh, unknown and forgotten fds say ENOENT.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "daemon/wguard.h"

static struct caller who(uint32_t uid, uint32_t pid)
{
	struct caller c = { .uid = uid, .gid = uid, .pid = pid, .pid_start = 7 };

	strcpy(c.cmd, "writer");
	return c;
}

static void test_open_get_set(void **state)
{
	struct caller a = who(1000, 41), got;
	struct wguard_note n, cov = { .state = WG_COVERED, .base = -1 };

	(void)state;
	assert_int_equal(wguard_get(900, &n, NULL), -ENOENT);
	assert_int_equal(wguard_open(900, &a), 0);
	assert_int_equal(wguard_get(900, &n, &got), 0);
	assert_int_equal(n.state, WG_OPEN);
	assert_int_equal(n.base, -1);
	assert_int_equal(got.uid, 1000);
	assert_int_equal(got.pid, 41);
	strcpy(cov.scope, "s1");
	strcpy(cov.op, "20261207T000000Z-dd-41");
	wguard_set(900, &cov);
	assert_int_equal(wguard_get(900, &n, NULL), 0);
	assert_int_equal(n.state, WG_COVERED);
	assert_string_equal(n.scope, "s1");
	assert_string_equal(n.op, "20261207T000000Z-dd-41");
	/* another fd (same bucket or not) is its own */
	assert_int_equal(wguard_get(900 + 256, &n, NULL), -ENOENT);
	wguard_set(900 + 256, &cov);   /* unknown: nothing recorded */
	assert_int_equal(wguard_get(900 + 256, &n, NULL), -ENOENT);
	wguard_forget(900);
	assert_int_equal(wguard_get(900, &n, NULL), -ENOENT);
	wguard_forget(900);   /* twice: harmless */
}

static void test_append_base(void **state)
{
	struct caller a = who(0, 50);
	struct wguard_note n;

	(void)state;
	assert_int_equal(wguard_open(901, &a), 0);
	wguard_append(901, 4096);   /* the first append: the size before it */
	wguard_append(901, 8192);   /* later ones: still the first */
	assert_int_equal(wguard_get(901, &n, NULL), 0);
	assert_int_equal(n.base, 4096);
	/* once a decision is recorded, appends no longer move it */
	n.state = WG_UNPRESERVED;
	n.base = -1;
	wguard_set(901, &n);
	wguard_append(901, 100);
	assert_int_equal(wguard_get(901, &n, NULL), 0);
	assert_int_equal(n.base, -1);
	wguard_append(12345, 1);   /* unknown fd: ignored */
	wguard_forget(901);
}

static void test_reused_fd(void **state)
{
	struct caller a = who(1000, 60), b = who(2000, 61), got;
	struct wguard_note n = { .state = WG_OWN, .base = 10 };

	(void)state;
	assert_int_equal(wguard_open(902, &a), 0);
	wguard_set(902, &n);
	/* RELEASE missed (or the fd reopened): the new opener starts afresh */
	assert_int_equal(wguard_open(902, &b), 0);
	assert_int_equal(wguard_get(902, &n, &got), 0);
	assert_int_equal(n.state, WG_OPEN);
	assert_int_equal(n.base, -1);
	assert_int_equal(got.uid, 2000);
	wguard_forget(902);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_get_set),
		cmocka_unit_test(test_append_base),
		cmocka_unit_test(test_reused_fd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
