/*
 * test_exclude — exclusion pattern parsing and matching (exclude.h):
 * unanchored basename globs, anchored paths, "**" components, and the
 * lists that are refused.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "engine/exclude_glob.h"

static bool m(const char *pat, const char *path)
{
	return exclude_match_one(pat, path);
}

static void test_basename_patterns(void **state)
{
	(void)state;
	assert_true(m("*.tmp", "x.tmp"));
	assert_true(m("*.tmp", "a/b/x.tmp"));
	assert_false(m("*.tmp", "x.tmp/keep.txt"));   /* never what is below a match */
	assert_false(m("*.tmp", "x.tmpl"));
	assert_true(m("*.tmp", ".hidden.tmp"));       /* '*' takes leading dots */
	assert_true(m("sess_?", "php/sess_a"));
	assert_false(m("sess_?", "php/sess_ab"));
	assert_true(m("[ab].log", "x/a.log"));
	assert_false(m("[ab].log", "x/c.log"));
	assert_true(m("\\*", "dir/*"));             /* escaped: a literal star */
	assert_false(m("\\*", "dir/x"));
	assert_false(m("*.tmp", ""));                  /* the site itself, never */
}

static void test_anchored_patterns(void **state)
{
	(void)state;
	assert_true(m("sessions/sess_*", "sessions/sess_1"));
	assert_false(m("sessions/sess_*", "a/sessions/sess_1"));   /* anchored */
	assert_false(m("sessions/sess_*", "sessions/x/sess_1"));   /* '*' never crosses '/' */
	assert_false(m("sessions/sess_*", "sessions"));
	assert_true(m("/x.tmp", "x.tmp"));
	assert_false(m("/x.tmp", "a/x.tmp"));
	assert_true(m("a/*/c", "a/b/c"));
	assert_false(m("a/*/c", "a/b/b/c"));
}

static void test_globstar(void **state)
{
	(void)state;
	assert_true(m("cache/**", "cache"));
	assert_true(m("cache/**", "cache/a"));
	assert_true(m("cache/**", "cache/a/b/c"));
	assert_false(m("cache/**", "cachex/a"));
	assert_false(m("cache/**", "x/cache/a"));
	assert_true(m("**/cache/**", "x/y/cache/a"));
	assert_true(m("**/cache/**", "cache"));
	assert_true(m("**/*.log", "a.log"));
	assert_true(m("**/*.log", "a/b/c.log"));
	assert_false(m("**/*.log", "a/b/c.log/d"));
	assert_true(m("a/**/b", "a/b"));
	assert_true(m("a/**/b", "a/x/y/b"));
	assert_false(m("a/**/b", "a/x/y/c"));
	assert_true(m("a/**/b/**/c", "a/1/b/2/3/c"));
	assert_false(m("a/**/b/**/c", "a/1/c/2/3/b"));
}

static void test_parse_and_set(void **state)
{
	struct exclude_set s;
	char msg[256], buf[EXCLUDE_LIST_MAX + 1];

	(void)state;
	assert_int_equal(exclude_parse("cache/**,*.tmp,sessions/sess_*", &s, msg, sizeof(msg)), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(exclude_match(&s, "cache/x/y"), "cache/**");
	assert_string_equal(exclude_match(&s, "a/b.tmp"), "*.tmp");
	assert_string_equal(exclude_match(&s, "sessions/sess_9"), "sessions/sess_*");
	assert_null(exclude_match(&s, "index.php"));
	assert_null(exclude_match(&s, "sessions"));
	assert_int_equal(exclude_format(&s, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "cache/**,*.tmp,sessions/sess_*");
	assert_int_equal(exclude_format(&s, buf, 5), -ENOBUFS);

	assert_int_equal(exclude_parse("", &s, msg, sizeof(msg)), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(exclude_parse("none", &s, msg, sizeof(msg)), 0);
	assert_int_equal(s.n, 0);
	assert_null(exclude_match(&s, "x"));
	assert_null(exclude_match(NULL, "x"));
}

static void test_refused(void **state)
{
	static const char *const bad[] = {
		"a,,b", "a,", ",a", "/", "*", "**", "**/*", "*/**", "/**", "**/**",
		"a/", "a//b", "./a", "a/../b", "a/**b", "x**", "a\tb", "a\nb",
	};
	struct exclude_set s;
	char msg[256], big[EXCLUDE_LIST_MAX + 8];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		msg[0] = '\0';
		s.n = 99;
		if (exclude_parse(bad[i], &s, msg, sizeof(msg)) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
		assert_int_equal(s.n, 0);      /* nothing half-parsed */
		assert_true(msg[0] != '\0');   /* and a reason */
	}
	/* a lone star is refused; slash-star (only the top level) is a choice */
	assert_int_equal(exclude_parse("/*", &s, msg, sizeof(msg)), 0);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(exclude_parse(big, &s, msg, sizeof(msg)), -EINVAL);
	/* more than EXCLUDE_MAX patterns */
	char many[EXCLUDE_LIST_MAX];
	size_t off = 0;
	for (int i = 0; i <= EXCLUDE_MAX; i++)
		off += (size_t)snprintf(many + off, sizeof(many) - off, "%sp%d", i ? "," : "", i);
	assert_int_equal(exclude_parse(many, &s, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "too many"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basename_patterns),
		cmocka_unit_test(test_anchored_patterns),
		cmocka_unit_test(test_globstar),
		cmocka_unit_test(test_parse_and_set),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
