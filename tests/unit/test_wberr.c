/*
 * test_wberr — a background WRITE's ENOSPC reaches the next write(2)
 * (wberr.h): noted per inode, returned once, the latest error wins, other
 * inodes untouched, and a full table drops the oldest.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "daemon/wberr.h"

static void test_once(void **state)
{
	(void)state;
	assert_int_equal(wberr_take(7), 0);
	wberr_note(7, ENOSPC);
	assert_int_equal(wberr_take(8), 0);          /* another inode */
	assert_int_equal(wberr_take(7), ENOSPC);
	assert_int_equal(wberr_take(7), 0);          /* returned once */
}

static void test_latest_wins(void **state)
{
	(void)state;
	wberr_note(9, ENOSPC);
	wberr_note(9, EDQUOT);
	wberr_note(10, ENOSPC);
	assert_int_equal(wberr_take(9), EDQUOT);
	assert_int_equal(wberr_take(9), 0);
	assert_int_equal(wberr_take(10), ENOSPC);
}

static void test_full_table(void **state)
{
	(void)state;
	for (uint64_t i = 1; i <= 1025; i++)   /* one more than the table */
		wberr_note(1000 + i, ENOSPC);
	assert_int_equal(wberr_take(1001), 0);       /* the oldest went */
	assert_int_equal(wberr_take(1002), ENOSPC);
	assert_int_equal(wberr_take(2025), ENOSPC);
	for (uint64_t i = 3; i <= 1024; i++)
		assert_int_equal(wberr_take(1000 + i), ENOSPC);
	assert_int_equal(wberr_take(1500), 0);       /* empty again */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_once),
		cmocka_unit_test(test_latest_wins),
		cmocka_unit_test(test_full_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
