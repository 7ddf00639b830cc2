/*
 * test_util — durations, UTC timestamps, command sanitising and op names.
 * Pure functions; no I/O.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/util.h"

#define T0 INT64_C(1795784712)   /* 2026-11-27T13:05:12Z */

static int64_t dur(const char *s)
{
	int64_t v = -12345;

	assert_int_equal(util_parse_duration(s, &v), 0);
	return v;
}

static void test_parse_duration_units(void **state)
{
	(void)state;
	assert_int_equal(dur("90s"), 90);
	assert_int_equal(dur("15m"), 900);
	assert_int_equal(dur("12h"), 12 * 3600);
	assert_int_equal(dur("30d"), 30 * 86400);
	assert_int_equal(dur("2w"), 14 * 86400);
	assert_int_equal(dur("1d12h"), 36 * 3600);
	assert_int_equal(dur("1w2d3h4m5s"), 604800 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5);
	assert_int_equal(dur("0d1h"), 3600);
	/* exactly the 100-year limit is accepted */
	assert_int_equal(dur("36600d"), INT64_C(36600) * 86400);
}

static void test_parse_duration_rejects(void **state)
{
	static const char *const bad[] = {
		"", "0", "0s", "0d0h", "-5", "-5s", "5x", "1d5", "1d12", "s", "d5",
		" 5s", "5 s", "5s ", "+5", "1.5h", "5S", "5dd",
		"30", "1", "3600", "86400", "1h30",   /* no unit: refused */
	};
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t v = 777;

		if (util_parse_duration(bad[i], &v) != -EINVAL)
			fail_msg("\"%s\" not rejected with -EINVAL", bad[i]);
		assert_int_equal(v, 777);   /* output untouched */
	}
	assert_int_equal(util_parse_duration(NULL, &(int64_t){0}), -EINVAL);
}

static void test_parse_duration_range(void **state)
{
	static const char *const big[] = {
		"36601d", "36600d1s", "5300w", "3162240001s",
		"99999999999999999999", "99999999999999999999s", "9223372036854775807s",
		"1000000000000h", "1d9223372036854775807s",
	};
	(void)state;

	for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
		int64_t v = 777;

		if (util_parse_duration(big[i], &v) != -ERANGE)
			fail_msg("\"%s\" not rejected with -ERANGE", big[i]);
		assert_int_equal(v, 777);
	}
}

static void test_format_duration(void **state)
{
	static const struct { int64_t s; const char *want; } cases[] = {
		{ 30 * 86400, "30d" }, { 36 * 3600, "36h" }, { 90, "90s" },
		{ 14 * 86400, "2w" }, { 5400, "90m" }, { 3600, "1h" }, { 86400, "1d" },
		{ 1, "1s" }, { 61, "61s" }, { 604800 + 1, "604801s" },
	};
	char buf[32];
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		util_format_duration(cases[i].s, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].want);
	}
}

static void test_duration_roundtrip(void **state)
{
	static const int64_t vals[] = {
		1, 59, 60, 90, 3599, 3600, 5400, 86399, 86400, 129600, 604800,
		2592000, 31536000, INT64_C(3162240000), 1234567,
	};
	char buf[32];
	(void)state;

	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		util_format_duration(vals[i], buf, sizeof(buf));
		assert_int_equal(dur(buf), vals[i]);
	}
}

static void test_format_utc(void **state)
{
	char buf[21];
	(void)state;

	util_format_utc(T0, true, buf, sizeof(buf));
	assert_string_equal(buf, "20261127T130512Z");
	util_format_utc(T0, false, buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-27T13:05:12Z");
	util_format_utc(0, true, buf, sizeof(buf));
	assert_string_equal(buf, "19700101T000000Z");
	util_format_utc(0, false, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
	util_format_utc(INT64_C(951782400), false, buf, sizeof(buf));  /* leap day */
	assert_string_equal(buf, "2000-02-29T00:00:00Z");
}

static void test_parse_utc(void **state)
{
	int64_t v = 0;
	char buf[21];
	(void)state;

	assert_int_equal(util_parse_utc("20261127T130512Z", &v), 0);
	assert_int_equal(v, T0);
	v = 0;
	assert_int_equal(util_parse_utc("2026-11-27T13:05:12Z", &v), 0);
	assert_int_equal(v, T0);
	v = 0;
	assert_int_equal(util_parse_utc("2026-11-27", &v), 0);
	assert_int_equal(v, INT64_C(1795737600));   /* midnight UTC */
	assert_int_equal(util_parse_utc("19700101T000000Z", &v), 0);
	assert_int_equal(v, 0);

	/* round trips of both forms over a spread of times */
	for (int64_t s = 0; s < INT64_C(4000000000); s += INT64_C(98765431)) {
		util_format_utc(s, true, buf, sizeof(buf));
		assert_int_equal(util_parse_utc(buf, &v), 0);
		assert_int_equal(v, s);
		util_format_utc(s, false, buf, sizeof(buf));
		assert_int_equal(util_parse_utc(buf, &v), 0);
		assert_int_equal(v, s);
	}
}

static void test_parse_utc_rejects(void **state)
{
	static const char *const bad[] = {
		"", "hello", "2026-11-27T13:05:12", "20261127T130512",
		"20261127T130512Z ", "2026-11-27T13:05:12Zx", "2026-13-01",
		"2026-11-27 ", "20261127", "2026-11-27T13:05Z", "20261127 130512Z",
	};
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t v = 777;

		if (util_parse_utc(bad[i], &v) != -EINVAL)
			fail_msg("\"%s\" not rejected", bad[i]);
		assert_int_equal(v, 777);
	}
}

static void test_sanitize_cmd(void **state)
{
	char out[UTIL_CMD_MAX + 1];
	char longname[64];
	(void)state;

	util_sanitize_cmd("/usr/bin/rm", out, sizeof(out));
	assert_string_equal(out, "rm");
	util_sanitize_cmd("rm", out, sizeof(out));
	assert_string_equal(out, "rm");
	util_sanitize_cmd("my prog", out, sizeof(out));
	assert_string_equal(out, "my_prog");
	util_sanitize_cmd("/opt/x/caf\xc3\xa9", out, sizeof(out));
	assert_string_equal(out, "caf__");
	util_sanitize_cmd("a.b_c+d-e9Z", out, sizeof(out));
	assert_string_equal(out, "a.b_c+d-e9Z");
	util_sanitize_cmd("tab\there;$(x)", out, sizeof(out));
	assert_string_equal(out, "tab_here___x_");

	/* 40 characters: cut at 32 */
	memset(longname, 0, sizeof(longname));
	for (int i = 0; i < 40; i++)
		longname[i] = (char)('a' + i % 26);
	util_sanitize_cmd(longname, out, sizeof(out));
	assert_int_equal(strlen(out), UTIL_CMD_MAX);
	assert_memory_equal(out, longname, UTIL_CMD_MAX);

	util_sanitize_cmd("", out, sizeof(out));
	assert_string_equal(out, "unknown");
	util_sanitize_cmd(NULL, out, sizeof(out));
	assert_string_equal(out, "unknown");
	util_sanitize_cmd("/usr/bin/", out, sizeof(out));
	assert_string_equal(out, "unknown");
}

static void test_op_name(void **state)
{
	char buf[64];
	(void)state;

	assert_int_equal(util_op_name(T0, "rm", 4242, 1, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "20261127T130512Z-rm-4242");
	assert_int_equal(util_op_name(T0, "rm", 4242, 0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "20261127T130512Z-rm-4242");
	assert_int_equal(util_op_name(T0, "rm", 4242, 2, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "20261127T130512Z-rm-4242.2");
	assert_int_equal(util_op_name(0, "find", 0, 17, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "19700101T000000Z-find-0.17");

	/* exactly fits (24 chars + NUL), one byte short */
	assert_int_equal(util_op_name(T0, "rm", 4242, 1, buf, 25), 0);
	assert_int_equal(util_op_name(T0, "rm", 4242, 1, buf, 24), -ENAMETOOLONG);
	assert_int_equal(util_op_name(T0, "rm", 4242, 2, buf, 26), -ENAMETOOLONG);
}

static void test_op_name_roundtrip(void **state)
{
	static const struct { int64_t t; const char *cmd; uint32_t pid; unsigned n; } cases[] = {
		{ T0, "rm", 4242, 1 }, { T0, "rm", 4242, 2 }, { T0, "run-parts", 1, 3 },
		{ 0, "unknown", 0, 1 }, { T0 + 86399, "a.b_c+d", UINT32_MAX, 999 },
		{ INT64_C(4102444799), "x-", 7, 1 },
	};
	char buf[64];
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t t = -1;
		uint32_t pid = 12345;

		assert_int_equal(util_op_name(cases[i].t, cases[i].cmd, cases[i].pid,
					      cases[i].n, buf, sizeof(buf)), 0);
		if (!util_parse_op_name(buf, &t, &pid))
			fail_msg("\"%s\" not parsed", buf);
		assert_int_equal(t, cases[i].t);
		assert_int_equal(pid, cases[i].pid);
	}
}

static void test_parse_op_name_rejects(void **state)
{
	static const char *const bad[] = {
		"",
		"notanop",
		"20261327T130512Z-rm-1",        /* month 13 */
		"2026112XT130512Z-rm-1",
		"20261127T250512Z-rm-1",        /* hour 25 */
		"20261127X130512Z-rm-1",
		"2026-11-27T13:05:12Z-rm-1",    /* the ISO form is not an op name */
		"20261127T130512Z_rm-1",
		"20261127T130512Z-rm-",         /* missing pid */
		"20261127T130512Z-rmrmrm",      /* no pid separator */
		"20261127T130512Z-rm-12a",
		"20261127T130512Z-rm-4294967296",
		"20261127T130512Z-rm-42.1",     /* suffix < 2 */
		"20261127T130512Z-rm-42.0",
		"20261127T130512Z-rm-42.",
		"20261127T130512Z-rm-42.x",
		"20261127T130512Z-rm-42.2x",
		"20261127T130512Z--42",         /* empty command */
		"20261127T130512Z-r m-42",      /* bad command byte */
		"20261127T130512Z-r/m-42",
		".tmp-20261127T130512Z-rm-42",
	};
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t t = 5;
		uint32_t pid = 6;

		if (util_parse_op_name(bad[i], &t, &pid))
			fail_msg("\"%s\" accepted as an op name", bad[i]);
	}
}

/* Names util_op_name can never produce (sign or blank before a number):
 * not op names either. */
static void test_parse_op_name_noncanonical(void **state)
{
	static const char *const bad[] = {
		"20261127T130512Z-rm-+42",
		"20261127T130512Z-rm- 42",
		/* "...-rm-42.-1" is not here: it is the canonical name of
		 * command "rm-42." and pid 1 */
		"20261127T130512Z-rm-42.+3",
		"20261127T130512Z-rm-42. 3",
	};
	char accepted[512] = "";
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t t = 5;
		uint32_t pid = 6;

		if (util_parse_op_name(bad[i], &t, &pid)) {
			strcat(accepted, " \"");
			strcat(accepted, bad[i]);
			strcat(accepted, "\"");
		}
	}
	if (accepted[0])
		fail_msg("accepted as op names:%s", accepted);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_duration_units),
		cmocka_unit_test(test_parse_duration_rejects),
		cmocka_unit_test(test_parse_duration_range),
		cmocka_unit_test(test_format_duration),
		cmocka_unit_test(test_duration_roundtrip),
		cmocka_unit_test(test_format_utc),
		cmocka_unit_test(test_parse_utc),
		cmocka_unit_test(test_parse_utc_rejects),
		cmocka_unit_test(test_sanitize_cmd),
		cmocka_unit_test(test_op_name),
		cmocka_unit_test(test_op_name_roundtrip),
		cmocka_unit_test(test_parse_op_name_rejects),
		cmocka_unit_test(test_parse_op_name_noncanonical),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
