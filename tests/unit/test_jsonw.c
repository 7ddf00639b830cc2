/*
 * test_jsonw — the JSON writer: commas, nesting, real types, and strings
 * that stay valid JSON whatever bytes they hold.  Single-threaded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "lib/jsonw.h"

static char *buf;
static size_t len;

static struct jsonw *start(void)
{
	static struct jsonw w;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	jsonw_init(&w, f);
	return &w;
}

static const char *finish(struct jsonw *w)
{
	fclose(w->f);
	return buf;
}

static void test_types(void **state)
{
	struct jsonw *w = start();

	jsonw_obj(w);
	jsonw_key(w, "n");
	jsonw_u64(w, UINT64_MAX);
	jsonw_key(w, "i");
	jsonw_i64(w, -5);
	jsonw_key(w, "b");
	jsonw_bool(w, false);
	jsonw_key(w, "z");
	jsonw_null(w);
	jsonw_key(w, "s");
	jsonw_str(w, NULL);
	jsonw_key(w, "a");
	jsonw_arr(w);
	jsonw_str(w, "x");
	jsonw_arr(w);
	jsonw_arr_end(w);
	jsonw_obj(w);
	jsonw_obj_end(w);
	jsonw_u64(w, 1);
	jsonw_arr_end(w);
	jsonw_obj_end(w);
	assert_string_equal(finish(w), "{\"n\":18446744073709551615,\"i\":-5,\"b\":false,"
			    "\"z\":null,\"s\":null,\"a\":[\"x\",[],{},1]}");
	free(buf);
}

static void test_strings(void **state)
{
	struct jsonw *w = start();

	jsonw_arr(w);
	jsonw_str(w, "q\"b\\n\nt\tc\x01\x7f");
	jsonw_str(w, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");   /* valid UTF-8 stays */
	jsonw_str(w, "bad\xff\xc3(\xed\xa0\x80\xc0\xaf");          /* invalid: U+FFFD */
	jsonw_arr_end(w);
	assert_string_equal(finish(w), "[\"q\\\"b\\\\n\\nt\\tc\\u0001\\u007f\","
			    "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\","
			    "\"bad\\ufffd\\ufffd(\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"]");
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
