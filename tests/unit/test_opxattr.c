/*
 * test_opattr — op records rendered as user.gracefs.* xattrs.
 * Pure functions; no I/O.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <cmocka.h>

#include "store/opxattr.h"
#include "lib/util.h"

#define NS INT64_C(1000000000)

static const char *const all_names[] = {
	"op", "site", "uid", "gid", "pid", "command", "deleted", "last_deleted",
	"expires", "retention", "items", "bytes", "state", "hold", "run", "run_command",
};
#define NNAMES (sizeof(all_names) / sizeof(all_names[0]))

static void sample(struct op_record *r)
{
	memset(r, 0, sizeof(*r));
	strcpy(r->scope, "www.example.org");
	strcpy(r->name, "20261127T130512Z-rm-4242");
	r->uid = 1000;
	r->gid = 100;
	r->pid = 4242;
	r->pid_start = 123456789;
	r->first_ns = INT64_C(1795784712) * NS + 5;           /* 2026-11-27T13:05:12Z */
	r->last_ns = INT64_C(1795788312) * NS + 999999999;    /* 2026-11-27T14:05:12.999Z */
	r->retention_s = 30 * 86400;
	r->items = 17;
	r->bytes = 65536;
	r->state = OP_CLOSED;
	r->hold = 0;
	strcpy(r->cmdline, "rm -rf wp-content/uploads");
}

/* The value of attribute `short_name` as a NUL-terminated string. */
static const char *get(const struct op_record *r, const char *short_name)
{
	static char v[OPREC_CMD_MAX + 128];
	char name[64];
	ssize_t len, need;

	snprintf(name, sizeof(name), OPATTR_PREFIX "%s", short_name);
	need = opattr_get(r, name, NULL, 0);
	if (need < 0)
		fail_msg("%s: %zd", name, need);
	memset(v, 0x5a, sizeof(v));
	len = opattr_get(r, name, v, sizeof(v) - 1);
	assert_int_equal(len, need);
	assert_true((size_t)len < sizeof(v) - 1);
	assert_null(memchr(v, '\0', (size_t)len));   /* no NUL inside the value */
	v[len] = '\0';
	return v;
}

static void test_list(void **state)
{
	char buf[1024];
	size_t need = opattr_list(NULL, 0), expect = 0, off, n = 0;
	int seen[NNAMES] = {0};
	(void)state;

	for (size_t i = 0; i < NNAMES; i++)
		expect += strlen(OPATTR_PREFIX) + strlen(all_names[i]) + 1;
	assert_int_equal(need, expect);

	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(opattr_list(buf, sizeof(buf)), need);
	assert_int_equal(buf[need - 1], '\0');
	assert_int_equal((unsigned char)buf[need], 0x5a);   /* nothing past need */
	for (off = 0; off < need; off += strlen(buf + off) + 1, n++) {
		const char *nm = buf + off;
		size_t k;

		assert_memory_equal(nm, OPATTR_PREFIX, strlen(OPATTR_PREFIX));
		for (k = 0; k < NNAMES; k++)
			if (!strcmp(nm + strlen(OPATTR_PREFIX), all_names[k]))
				break;
		if (k == NNAMES)
			fail_msg("unexpected name %s", nm);
		seen[k]++;
	}
	assert_int_equal(off, need);
	assert_int_equal(n, NNAMES);
	for (size_t k = 0; k < NNAMES; k++)
		if (seen[k] != 1)
			fail_msg("%s listed %d times", all_names[k], seen[k]);

	/* exactly fits */
	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(opattr_list(buf, need), need);
	assert_int_equal(buf[need - 1], '\0');
}

static void test_list_small_cap(void **state)
{
	char buf[1024];
	size_t need = opattr_list(NULL, 0);
	(void)state;

	for (size_t cap = 0; cap < need; cap += (cap < 20 ? 1 : 37)) {
		memset(buf, 0x5a, sizeof(buf));
		assert_int_equal(opattr_list(buf, cap), need);
		for (size_t i = 0; i < sizeof(buf); i++)
			if ((unsigned char)buf[i] != 0x5a)
				fail_msg("cap %zu: byte %zu written", cap, i);
	}
	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(opattr_list(buf, need - 1), need);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal((unsigned char)buf[i], 0x5a);
}

static void test_every_listed_name_has_value(void **state)
{
	struct op_record r;
	char buf[1024];
	size_t need = opattr_list(buf, sizeof(buf));
	(void)state;

	sample(&r);
	strcpy(r.run, "20261207T055122Z-cleanup.sh-4242");   /* ops from before runs: "" */
	strcpy(r.runinfo.cmdline, "/bin/sh ./cleanup.sh");
	for (size_t off = 0; off < need; off += strlen(buf + off) + 1) {
		char v[2048];
		ssize_t len = opattr_get(&r, buf + off, v, sizeof(v));

		if (len <= 0)
			fail_msg("%s: %zd", buf + off, len);
	}
}

static void test_get_fields(void **state)
{
	struct op_record r;
	char want[32];
	(void)state;

	sample(&r);
	assert_string_equal(get(&r, "op"), "20261127T130512Z-rm-4242");
	assert_string_equal(get(&r, "site"), "www.example.org");
	assert_string_equal(get(&r, "uid"), "1000");
	assert_string_equal(get(&r, "gid"), "100");
	assert_string_equal(get(&r, "pid"), "4242");
	assert_string_equal(get(&r, "command"), "rm -rf wp-content/uploads");
	assert_string_equal(get(&r, "deleted"), "2026-11-27T13:05:12Z");
	assert_string_equal(get(&r, "last_deleted"), "2026-11-27T14:05:12Z");
	/* expires = last_ns / 1e9 + retention */
	assert_string_equal(get(&r, "expires"), "2026-12-27T14:05:12Z");
	util_format_utc(r.last_ns / NS + r.retention_s, false, want, sizeof(want));
	assert_string_equal(get(&r, "expires"), want);
	assert_string_equal(get(&r, "retention"), "30d");
	assert_string_equal(get(&r, "items"), "17");
	assert_string_equal(get(&r, "bytes"), "65536");
	assert_string_equal(get(&r, "state"), "closed");
	assert_string_equal(get(&r, "hold"), "0");
	assert_string_equal(get(&r, "run"), "");           /* an op from before runs */
	assert_string_equal(get(&r, "run_command"), "");
	strcpy(r.run, "20261207T055122Z-cleanup.sh-4242");
	strcpy(r.runinfo.cmdline, "/bin/sh ./cleanup.sh");
	assert_string_equal(get(&r, "run"), "run:20261207T055122Z-cleanup.sh-4242");
	assert_string_equal(get(&r, "run_command"), "/bin/sh ./cleanup.sh");
}

static void test_get_variants(void **state)
{
	struct op_record r;
	(void)state;

	sample(&r);
	r.state = OP_OPEN;
	assert_string_equal(get(&r, "state"), "open");
	r.state = OP_PURGING;
	assert_string_equal(get(&r, "state"), "purging");
	r.state = 0;
	assert_string_equal(get(&r, "state"), "unknown");
	r.state = 99;
	assert_string_equal(get(&r, "state"), "unknown");
	r.hold = 7;
	assert_string_equal(get(&r, "hold"), "1");
	r.hold = 0;
	r.retention_s = 36 * 3600;
	assert_string_equal(get(&r, "retention"), "36h");
	assert_string_equal(get(&r, "expires"), "2026-11-29T02:05:12Z");
	r.retention_s = 90;
	assert_string_equal(get(&r, "retention"), "90s");
	r.uid = UINT32_MAX;
	assert_string_equal(get(&r, "uid"), "4294967295");
	r.items = UINT64_MAX;
	assert_string_equal(get(&r, "items"), "18446744073709551615");
	r.scope[0] = '\0';   /* root scope: deleted sites */
	assert_string_equal(get(&r, "site"), "");
	r.cmdline[0] = '\0';
	assert_int_equal(opattr_get(&r, OPATTR_PREFIX "command", NULL, 0), 0);
}

static void test_get_unknown(void **state)
{
	static const char *const bad[] = {
		OPATTR_PREFIX "nope", OPATTR_PREFIX, OPATTR_PREFIX "opx",
		OPATTR_PREFIX "Op", "user.other", "trusted.gracefs.op", "op",
		"user.gracefs", "", "user.gracefs.op.x",
	};
	struct op_record r;
	char v[256];
	(void)state;

	sample(&r);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (opattr_get(&r, bad[i], v, sizeof(v)) != -ENODATA)
			fail_msg("\"%s\" not -ENODATA", bad[i]);
		assert_int_equal(opattr_get(&r, bad[i], NULL, 0), -ENODATA);
	}
}

static void test_get_cap(void **state)
{
	struct op_record r;
	char v[64];
	const char *nm = OPATTR_PREFIX "op";
	size_t len = strlen("20261127T130512Z-rm-4242");
	(void)state;

	sample(&r);
	assert_int_equal(opattr_get(&r, nm, NULL, 0), (ssize_t)len);
	/* too small by one: -ERANGE, nothing written */
	memset(v, 0x5a, sizeof(v));
	assert_int_equal(opattr_get(&r, nm, v, len - 1), -ERANGE);
	for (size_t i = 0; i < sizeof(v); i++)
		assert_int_equal((unsigned char)v[i], 0x5a);
	assert_int_equal(opattr_get(&r, nm, v, 1), -ERANGE);
	/* exactly the length: fits, no NUL written */
	assert_int_equal(opattr_get(&r, nm, v, len), (ssize_t)len);
	assert_memory_equal(v, "20261127T130512Z-rm-4242", len);
	assert_int_equal((unsigned char)v[len], 0x5a);

	/* the longest value: a full command line */
	memset(r.cmdline, 'c', sizeof(r.cmdline) - 1);
	r.cmdline[sizeof(r.cmdline) - 1] = '\0';
	assert_int_equal(opattr_get(&r, OPATTR_PREFIX "command", NULL, 0),
			 (ssize_t)(OPREC_CMD_MAX - 1));
	assert_int_equal(opattr_get(&r, OPATTR_PREFIX "command", v, sizeof(v)), -ERANGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_list_small_cap),
		cmocka_unit_test(test_every_listed_name_has_value),
		cmocka_unit_test(test_get_fields),
		cmocka_unit_test(test_get_variants),
		cmocka_unit_test(test_get_unknown),
		cmocka_unit_test(test_get_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
