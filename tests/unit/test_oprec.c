/*
 * test_oprec — encoding, expiry and key of op records.
 * Single-threaded cmocka tests; no I/O.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "store/oprec.h"

static struct op_record zero;

static void sample(struct op_record *r)
{
	memset(r, 0, sizeof(*r));
	strcpy(r->scope, "www.example.org");
	strcpy(r->name, "20261127T130512Z-rm-4242");
	r->uid = 1000;
	r->gid = 100;
	r->pid = 4242;
	r->pid_start = 123456789;
	r->first_ns = INT64_C(1795784712) * 1000000000 + 5;
	r->last_ns = r->first_ns + 999999999;
	r->retention_s = 30 * 86400;
	r->items = 17;
	r->bytes = 65536;
	r->state = OP_CLOSED;
	r->hold = 0;
	strcpy(r->cmdline, "rm -rf wp-content/uploads");
}

/* Encode r, decode it into a 0xAA-filled record, compare whole structs. */
static int roundtrip(const struct op_record *r)
{
	unsigned char buf[OPREC_ENC_MAX];
	struct op_record out;
	int n = oprec_encode(r, buf, sizeof(buf));

	assert_true(n > 0);
	memset(&out, 0xAA, sizeof(out));
	assert_int_equal(oprec_decode(buf, (size_t)n, &out), 0);
	assert_memory_equal(&out, r, sizeof(out));
	return n;
}

static void expect_reject(const void *buf, size_t len);

static void test_roundtrip_basic(void **state)
{
	(void)state;
	struct op_record r;

	sample(&r);
	roundtrip(&r);
	memset(r.scope, 0, sizeof(r.scope));      /* root scope */
	memset(r.cmdline, 0, sizeof(r.cmdline));
	r.state = OP_OPEN;
	r.hold = 1;
	roundtrip(&r);
}

static void test_roundtrip_max(void **state)
{
	(void)state;
	struct op_record r;

	memset(&r, 0, sizeof(r));
	memset(r.scope, 's', NAME_MAX);
	memset(r.name, 'n', NAME_MAX);
	for (int i = 0; i < OPREC_CMD_MAX - 1; i++)
		r.cmdline[i] = (char)(' ' + i % 95);
	r.uid = r.gid = r.pid = UINT32_MAX;
	r.pid_start = r.items = r.bytes = UINT64_MAX;
	r.first_ns = INT64_MIN;
	r.last_ns = INT64_MAX;
	r.retention_s = INT64_MIN;
	r.state = OP_PURGING;
	r.hold = 255;
	assert_int_equal(roundtrip(&r), OPREC_ENC_MAX - (97 - 75) - (OPREC_RUN_MAX - 1) -
			 (PROCINFO_RUN_CMD_MAX - 1) - (PROCINFO_CHAIN_MAX - 1) -
			 (PROCINFO_UNIT_MAX - 1));
	memset(r.run, 'r', OPREC_RUN_MAX - 1);
	memset(r.runinfo.cmdline, 'c', PROCINFO_RUN_CMD_MAX - 1);
	memset(r.runinfo.chain, '\n', PROCINFO_CHAIN_MAX - 1);
	memset(r.runinfo.unit, '/', PROCINFO_UNIT_MAX - 1);
	r.run_start = UINT64_MAX;
	r.runinfo.sid = r.runinfo.loginuid = UINT32_MAX;
	assert_int_equal(roundtrip(&r), OPREC_ENC_MAX);
}

/* A record with a run is version 3; the run's fields come back; without
 * a run the encoding is version 2, byte for byte as before runs. */
static void sample_run(struct op_record *r)
{
	sample(r);
	strcpy(r->run, "20261207T055122Z-cleanup.sh-4242");
	r->run_start = 987654;
	r->runinfo.sid = 4242;
	r->runinfo.loginuid = 1001;
	strcpy(r->runinfo.cmdline, "/bin/sh ./cleanup.sh acme");
	strcpy(r->runinfo.chain, "sudo ./cleanup.sh acme\n-bash\nsshd: alice@pts/0");
	strcpy(r->runinfo.unit, "/user.slice/user-1001.slice/session-7.scope");
}

static void test_run_v3(void **state)
{
	(void)state;
	unsigned char buf[OPREC_ENC_MAX];
	struct op_record r, plain;
	int n;

	sample_run(&r);
	n = roundtrip(&r);
	assert_int_equal(oprec_encode(&r, buf, sizeof(buf)), n);
	assert_int_equal(buf[0], 3);
	assert_int_equal(buf[91], strlen(r.run));
	assert_memory_equal(buf + 97 + strlen(r.scope) + strlen(r.name) + strlen(r.cmdline),
			    r.run, strlen(r.run));
	sample(&plain);
	assert_int_equal(oprec_encode(&plain, buf, sizeof(buf)), n - 22 - (int)(strlen(r.run) +
			 strlen(r.runinfo.cmdline) + strlen(r.runinfo.chain) +
			 strlen(r.runinfo.unit)));
	assert_int_equal(buf[0], 2);
	/* run details without a run ID, a '/' in the ID: refused */
	plain.runinfo.sid = 1;
	assert_int_equal(oprec_encode(&plain, buf, sizeof(buf)), -EINVAL);
	sample_run(&r);
	strcpy(r.run, "a/b");
	assert_int_equal(oprec_encode(&r, buf, sizeof(buf)), -EINVAL);
	/* a version 3 header on a record without a run ID: rejected */
	sample_run(&r);
	n = oprec_encode(&r, buf, sizeof(buf));
	buf[91] = 0;
	expect_reject(buf, (size_t)n);
	n = oprec_encode(&r, buf, sizeof(buf));
	buf[n - 1] = '\0';                     /* NUL in the cgroup */
	expect_reject(buf, (size_t)n);
	n = oprec_encode(&r, buf, sizeof(buf));
	for (int len = 0; len < n; len++)
		expect_reject(buf, (size_t)len);
}

static void test_encode_rejects(void **state)
{
	(void)state;
	unsigned char buf[OPREC_ENC_MAX];
	struct op_record r;
	int n;

	sample(&r);
	memset(r.scope, 'x', sizeof(r.scope));          /* unterminated */
	assert_int_equal(oprec_encode(&r, buf, sizeof(buf)), -EINVAL);
	sample(&r);
	memset(r.name, 'x', sizeof(r.name));
	assert_int_equal(oprec_encode(&r, buf, sizeof(buf)), -EINVAL);
	sample(&r);
	memset(r.cmdline, 'x', sizeof(r.cmdline));
	assert_int_equal(oprec_encode(&r, buf, sizeof(buf)), -EINVAL);
	sample(&r);
	r.name[0] = '\0';                               /* empty name */
	assert_int_equal(oprec_encode(&r, buf, sizeof(buf)), -EINVAL);
	sample(&r);
	strcpy(r.name, "a/b");
	assert_int_equal(oprec_encode(&r, buf, sizeof(buf)), -EINVAL);
	sample(&r);
	strcpy(r.scope, "a/b");
	assert_int_equal(oprec_encode(&r, buf, sizeof(buf)), -EINVAL);
	sample(&r);
	r.state = 0;
	assert_int_equal(oprec_encode(&r, buf, sizeof(buf)), -EINVAL);
	r.state = OP_PURGING + 1;
	assert_int_equal(oprec_encode(&r, buf, sizeof(buf)), -EINVAL);
	sample(&r);
	r.hold = 256;
	assert_int_equal(oprec_encode(&r, buf, sizeof(buf)), -EINVAL);

	sample(&r);
	n = oprec_encode(&r, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(oprec_encode(&r, buf, (size_t)n), n);
	assert_int_equal(oprec_encode(&r, buf, (size_t)n - 1), -ENOBUFS);
	assert_int_equal(oprec_encode(&r, buf, 0), -ENOBUFS);
}

static void expect_reject(const void *buf, size_t len)
{
	struct op_record out;

	memset(&out, 0xAA, sizeof(out));
	assert_int_equal(oprec_decode(buf, len, &out), -EINVAL);
	assert_memory_equal(&out, &zero, sizeof(out));
}

/* The layout is a wire format: pin it byte for byte. */
static const unsigned char layout_v1[] = {
		1, OP_OPEN, 7, 1, 2, 3, 0,               /* ver state hold lens */
		4, 3, 2, 1, 8, 7, 6, 5, 0xff, 0, 0, 0,   /* uid gid pid */
		1, 0, 0, 0, 0, 0, 0, 0,                  /* pid_start */
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  /* first_ns -1 */
		0, 1, 0, 0, 0, 0, 0, 0x80,               /* last_ns */
		2, 0, 0, 0, 0, 0, 0, 0,                  /* retention_s */
		3, 0, 0, 0, 0, 0, 0, 0,                  /* items */
		0, 0, 0, 0, 0, 0, 0, 1,                  /* bytes */
		's', 'o', 'p', 'r', 'm', ' ',
};

static const struct op_record layout_rec = { .scope = "s", .name = "op", .cmdline = "rm ",
		.uid = 0x01020304, .gid = 0x05060708, .pid = 255, .pid_start = 1,
		.first_ns = -1, .last_ns = (int64_t)(UINT64_C(0x8000000000000100)),
		.retention_s = 2, .items = 3, .bytes = UINT64_C(1) << 56,
		.state = OP_OPEN, .hold = 7 };

/* Version 2 is version 1 with last_el_ns after bytes (offset 67). */
static void test_layout(void **state)
{
	(void)state;
	unsigned char want[sizeof(layout_v1) + 8], buf[OPREC_ENC_MAX];
	static const unsigned char el[8] = { 0x10, 0x32, 0x54, 0x76, 0, 0, 0, 0x01 };
	struct op_record r = layout_rec;

	r.last_el_ns = (int64_t)UINT64_C(0x0100000076543210);
	memcpy(want, layout_v1, 67);
	want[0] = 2;
	memcpy(want + 67, el, 8);
	memcpy(want + 75, layout_v1 + 67, sizeof(layout_v1) - 67);
	assert_int_equal(oprec_encode(&r, buf, sizeof(buf)), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
}

/* Records written before the stamp existed still decode: stamp 0, i.e.
 * retention counted from the trusted clock's start (late, never early). */
static void test_decode_v1(void **state)
{
	(void)state;
	struct op_record r;
	unsigned char bad[sizeof(layout_v1) + 8];

	assert_int_equal(oprec_decode(layout_v1, sizeof(layout_v1), &r), 0);
	assert_memory_equal(&r, &layout_rec, sizeof(r));
	assert_int_equal(r.last_el_ns, 0);
	assert_int_equal(oprec_due(&r), 2);
	/* a v1 header with v2's length is rejected */
	memcpy(bad, layout_v1, sizeof(layout_v1));
	memset(bad + sizeof(layout_v1), 'x', 8);
	expect_reject(bad, sizeof(bad));
}

static void test_decode_truncated(void **state)
{
	(void)state;
	unsigned char buf[OPREC_ENC_MAX + 1];
	struct op_record r;
	int n;

	sample(&r);
	n = oprec_encode(&r, buf, sizeof(buf));
	for (int len = 0; len < n; len++)
		expect_reject(buf, (size_t)len);
	buf[n] = 'x';                                  /* trailing byte */
	expect_reject(buf, (size_t)n + 1);
	expect_reject(NULL, 0);
}

static void test_decode_corrupt(void **state)
{
	(void)state;
	unsigned char buf[OPREC_ENC_MAX], bad[OPREC_ENC_MAX];
	struct op_record r;
	size_t n;

	sample(&r);
	n = (size_t)oprec_encode(&r, buf, sizeof(buf));
#define MUTATE(off, val) do { memcpy(bad, buf, n); bad[off] = (val); \
		expect_reject(bad, n); } while (0)
	MUTATE(0, 0);                 /* version */
	MUTATE(0, 4);
	MUTATE(1, 0);                 /* state */
	MUTATE(1, OP_PURGING + 1);
	MUTATE(3, buf[3] + 1);        /* scope length disagrees with total */
	MUTATE(4, buf[4] - 1);
	MUTATE(5, buf[5] + 1);        /* cmdline length */
	MUTATE(6, 1);
	MUTATE(75, '/');              /* '/' in scope */
	MUTATE(75 + buf[3], '/');     /* '/' in name */
	MUTATE(75 + buf[3], '\0');    /* NUL in name */
	MUTATE(n - 1, '\0');          /* NUL in cmdline */
#undef MUTATE
	/* empty name: move its byte to the scope */
	memcpy(bad, buf, n);
	bad[3] = (unsigned char)(buf[3] + buf[4]);
	bad[4] = 0;
	expect_reject(bad, n);
	/* oversized lengths consistent with the total */
	memset(bad, 'a', sizeof(bad));
	memcpy(bad, buf, 75);
	bad[3] = 0;
	bad[4] = 1;
	bad[5] = OPREC_CMD_MAX & 0xff;
	bad[6] = OPREC_CMD_MAX >> 8;
	expect_reject(bad, 75 + 1 + OPREC_CMD_MAX);
}

/* Any decodable buffer is canonical: it re-encodes to the same bytes, and its
 * strings are terminated.  Checked for every single-bit flip and for random
 * garbage. */
static void check_any(const unsigned char *buf, size_t len)
{
	unsigned char again[OPREC_ENC_MAX];
	struct op_record out;

	memset(&out, 0xAA, sizeof(out));
	if (oprec_decode(buf, len, &out)) {
		assert_memory_equal(&out, &zero, sizeof(out));
		return;
	}
	assert_true(strnlen(out.scope, sizeof(out.scope)) < sizeof(out.scope));
	assert_true(strnlen(out.name, sizeof(out.name)) < sizeof(out.name));
	assert_true(strnlen(out.cmdline, sizeof(out.cmdline)) < sizeof(out.cmdline));
	assert_true(strnlen(out.run, sizeof(out.run)) < sizeof(out.run));
	if (buf[0] == 1)
		return;   /* version 1 re-encodes as version 2 */
	assert_int_equal(oprec_encode(&out, again, sizeof(again)), (int)len);
	assert_memory_equal(again, buf, len);
}

static void test_decode_fuzz(void **state)
{
	(void)state;
	unsigned char buf[OPREC_ENC_MAX], bad[OPREC_ENC_MAX];
	struct op_record r;
	size_t n;

	for (int v = 0; v < 2; v++) {
		if (v)
			sample_run(&r);
		else
			sample(&r);
		n = (size_t)oprec_encode(&r, buf, sizeof(buf));
		for (size_t bit = 0; bit < 8 * n; bit++) {
			memcpy(bad, buf, n);
			bad[bit / 8] ^= (unsigned char)(1u << (bit % 8));
			check_any(bad, n);
		}
	}
	srand(42);
	for (int i = 0; i < 20000; i++) {
		size_t len = (size_t)rand() % sizeof(bad);

		for (size_t j = 0; j < len; j++)
			bad[j] = (unsigned char)rand();
		if (i % 2) {              /* plausible header, random rest */
			bad[0] = (unsigned char)(1 + i % 3);
			bad[1] = OP_OPEN;
		}
		check_any(bad, len);
	}
}

static void test_expiry(void **state)
{
	(void)state;
	struct op_record r = { 0 };

	r.last_ns = INT64_C(1700000000) * 1000000000 + 999999999;
	r.retention_s = 86400;
	assert_int_equal(oprec_expiry(&r), 1700086400);
	r.last_ns = -1;                          /* floor, not truncation */
	r.retention_s = 10;
	assert_int_equal(oprec_expiry(&r), 9);
	r.last_ns = -1000000000;
	assert_int_equal(oprec_expiry(&r), 9);
	r.last_ns = INT64_MAX;                   /* saturates, no overflow */
	r.retention_s = INT64_MAX;
	assert_true(oprec_expiry(&r) == INT64_MAX);
	r.last_ns = INT64_MIN;
	r.retention_s = INT64_MIN;
	assert_true(oprec_expiry(&r) == INT64_MIN);
}

/* Due on the trusted clock: the stamp rounds up (never a second early),
 * the wall clock plays no part. */
static void test_due(void **state)
{
	(void)state;
	struct op_record r = { .last_ns = INT64_C(1) << 62, .retention_s = 100 };

	assert_int_equal(oprec_due(&r), 100);
	r.last_el_ns = 5 * INT64_C(1000000000);
	assert_int_equal(oprec_due(&r), 105);
	r.last_el_ns++;
	assert_int_equal(oprec_due(&r), 106);
	r.last_el_ns = INT64_MAX;
	r.retention_s = INT64_MAX;
	assert_true(oprec_due(&r) == INT64_MAX);
}

static void test_key(void **state)
{
	(void)state;
	char buf[2 * (NAME_MAX + 1)], scope[NAME_MAX + 1], name[NAME_MAX + 1];

	assert_int_equal(oprec_key("site", "op1", buf, sizeof(buf)), 8);
	assert_string_equal(buf, "site/op1");
	assert_int_equal(oprec_key("", "op1", buf, sizeof(buf)), 4);
	assert_string_equal(buf, "/op1");
	assert_int_equal(oprec_key("site", "op1", buf, 9), 8);   /* exact fit */
	assert_string_equal(buf, "site/op1");
	assert_int_equal(oprec_key("site", "op1", buf, 8), -ENAMETOOLONG);
	assert_int_equal(oprec_key("", "", buf, 1), -ENAMETOOLONG);
	assert_int_equal(oprec_key("a", "b", buf, 0), -ENAMETOOLONG);

	memset(scope, 's', NAME_MAX);
	scope[NAME_MAX] = '\0';
	memset(name, 'n', NAME_MAX);
	name[NAME_MAX] = '\0';
	assert_int_equal(oprec_key(scope, name, buf, sizeof(buf)), 2 * NAME_MAX + 1);
	assert_int_equal(buf[NAME_MAX], '/');
	assert_int_equal(strlen(buf), 2 * NAME_MAX + 1);
	assert_int_equal(oprec_key(scope, name, buf, sizeof(buf) - 1), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_basic),
		cmocka_unit_test(test_roundtrip_max),
		cmocka_unit_test(test_run_v3),
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_decode_v1),
		cmocka_unit_test(test_encode_rejects),
		cmocka_unit_test(test_decode_truncated),
		cmocka_unit_test(test_decode_corrupt),
		cmocka_unit_test(test_decode_fuzz),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_due),
		cmocka_unit_test(test_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
