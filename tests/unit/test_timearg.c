/*
 * test_timearg — the command-line time parser: RFC 3339 with offsets,
 * local time, @EPOCH, relative durations, and everything it refuses.
 * Single-threaded; sets TZ.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <cmocka.h>

#include "lib/timearg.h"

#define NOW INT64_C(1796029200)   /* 2026-11-30T09:00:00Z */

static int64_t parse(const char *s)
{
	int64_t v = -1;

	assert_int_equal(timearg_parse(s, NOW, &v), 0);
	return v;
}

static void test_rfc3339(void **state)
{
	assert_int_equal(parse("2026-11-30T09:00:00Z"), NOW);
	assert_int_equal(parse("2026-11-30t09:00:00z"), NOW);
	assert_int_equal(parse("2026-11-30T10:00:00+01:00"), NOW);
	assert_int_equal(parse("2026-11-30T10:00:00+0100"), NOW);
	assert_int_equal(parse("2026-11-30T04:30:00-04:30"), NOW);
	assert_int_equal(parse("2026-11-30 09:00:00Z"), NOW);
	assert_int_equal(parse("2026-11-30T09:00:00.999Z"), NOW);
	assert_int_equal(parse("2026-11-30T09:00Z"), NOW);
	assert_int_equal(parse("2024-02-29T00:00:00Z"), INT64_C(1709164800));
	assert_int_equal(parse("20261130T090000Z"), NOW);   /* op-name form */
}

static void test_local(void **state)
{
	setenv("TZ", "Europe/Berlin", 1);   /* UTC+1 in November */
	tzset();
	assert_int_equal(parse("2026-11-30 10:00"), NOW);
	assert_int_equal(parse("2026-11-30T10:00:00"), NOW);
	assert_int_equal(parse("2026-11-30"), NOW - 10 * 3600);
	setenv("TZ", "UTC", 1);
	tzset();
	assert_int_equal(parse("2026-11-30 09:00"), NOW);
}

static void test_epoch_relative(void **state)
{
	assert_int_equal(parse("@1796029200"), NOW);
	assert_int_equal(parse("@0"), 0);
	assert_int_equal(parse("-2h"), NOW - 7200);
	assert_int_equal(parse("2h"), NOW - 7200);
	assert_int_equal(parse("1d12h"), NOW - 36 * 3600);
	assert_int_equal(parse("now"), NOW);
}

static void test_refused(void **state)
{
	static const char *const bad[] = { "", "90", "-90", "@", "@x", "@12x", "yesterday",
		"2026-13-01", "2026-02-30", "2026-11-31", "2026-11-30T24:00:00Z",
		"2026-11-30T09:60:00Z", "2026-11-30T09:00:00+24:00", "2026-11-30T09:00:00Zjunk",
		"2026-11-30T09", "2026-11-30T09:00:00.Z", "2026-11-30 09:00 trailing",
		"26-11-30", "2h junk", "h", "-", "1969-12-31T00:00:00Z" };
	int64_t v;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = timearg_parse(bad[i], NOW, &v);

		if (r != -EINVAL)
			fail_msg("'%s' accepted (%d)", bad[i], r);
	}
	assert_int_equal(timearg_parse(NULL, NOW, &v), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_local),
		cmocka_unit_test(test_epoch_relative),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
