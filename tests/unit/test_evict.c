/*
 * test_evict — the eviction policy (evict.h): floor parsing, which ops are
 * eligible, fair shares between sites, the margin, site caps, and the
 * counts of what could not be evicted.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "engine/evict.h"
#include "lib/util.h"

#define NS 1000000000LL
#define DAY 86400
#define MiB (UINT64_C(1) << 20)
#define NOW (1800000LL)   /* the trusted elapsed clock, seconds */

static struct evict_op op(const char *scope, const char *name, int64_t age_s, uint64_t bytes)
{
	return (struct evict_op){ .scope = scope, .name = name, .el_ns = (NOW - age_s) * NS,
				  .bytes = bytes, .state = OP_CLOSED };
}

static void test_parse_floor(void **state)
{
	struct evict_floor f;
	uint64_t b;
	char buf[32];

	(void)state;
	assert_int_equal(evict_parse_floor("10%", &f), 0);
	assert_true(f.pct);
	assert_int_equal(f.value, 10);
	assert_int_equal(evict_floor_bytes(&f, 1000 * MiB), 100 * MiB);
	assert_int_equal(evict_parse_floor("0%", &f), 0);
	assert_int_equal(evict_floor_bytes(&f, 1000 * MiB), 0);
	assert_int_equal(evict_parse_floor("512M", &f), 0);
	assert_false(f.pct);
	assert_int_equal(f.value, 512 * MiB);
	assert_int_equal(evict_floor_bytes(&f, 1), 512 * MiB);
	assert_int_equal(evict_parse_floor("20GiB", &f), 0);
	assert_int_equal(f.value, UINT64_C(20) << 30);
	assert_int_equal(evict_parse_floor("4096", &f), 0);
	assert_int_equal(f.value, 4096);
	evict_format_floor(&f, buf, sizeof(buf));
	assert_string_equal(buf, "4K");
	util_format_size(1536 * 1024, buf, sizeof(buf));
	assert_string_equal(buf, "1536K");
	util_format_size(4097, buf, sizeof(buf));
	assert_string_equal(buf, "4097");
	f = (struct evict_floor){ .pct = true, .value = 7 };
	evict_format_floor(&f, buf, sizeof(buf));
	assert_string_equal(buf, "7%");

	static const char *const bad[] = { "", "%", "100%", "150%", "-1%", "1.5%", "10x", "G",
					   "10 %", "-5", "10%%", " 10", "99999999999999999999" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (evict_parse_floor(bad[i], &f) == 0)
			fail_msg("min_free '%s' was accepted", bad[i]);
	assert_int_equal(util_parse_size("9000000P", &b), -ERANGE);
	/* no overflow in the percentage of a huge filesystem */
	f = (struct evict_floor){ .pct = true, .value = 99 };
	assert_int_equal(evict_floor_bytes(&f, UINT64_MAX), UINT64_MAX / 100 * 99 + UINT64_MAX % 100 * 99 / 100);
}

static void test_eligibility(void **state)
{
	struct evict_op o = op("s", "a", 2 * DAY, MiB);

	(void)state;
	assert_true(evict_eligible(&o, NOW, DAY));
	o.hold = true;
	assert_false(evict_eligible(&o, NOW, DAY));
	o.hold = false;
	o.site_held = true;
	assert_false(evict_eligible(&o, NOW, DAY));
	o.site_held = false;
	o.state = OP_OPEN;
	assert_false(evict_eligible(&o, NOW, DAY));
	o.state = OP_PURGING;
	assert_false(evict_eligible(&o, NOW, DAY));
	o = op("s", "a", DAY - 1, MiB);   /* one second too young */
	assert_false(evict_eligible(&o, NOW, DAY));
	o = op("s", "a", DAY, MiB);
	assert_true(evict_eligible(&o, NOW, DAY));
	/* a stamp inside a second is rounded up, as expiry rounds it */
	o.el_ns += 1;
	assert_false(evict_eligible(&o, NOW, DAY));
	assert_true(evict_eligible(&o, NOW + 1, DAY));
	/* a record from before the elapsed stamp (0) counts from the clock's start */
	o.el_ns = 0;
	assert_true(evict_eligible(&o, DAY, DAY));
	assert_false(evict_eligible(&o, DAY - 1, DAY));
}

/* The floor never takes a held, young or open op, stops at floor + margin,
 * and here stops early: once a (the churner) is down to what only its young
 * op holds, it is still over its share, so b — within its share — keeps its
 * op although it is old enough. */
static void test_floor_counts(void **state)
{
	struct evict_op ops[] = {
		op("b", "b-old", 9 * DAY, 10 * MiB),
		op("a", "a-young", 3600, 50 * MiB),      /* younger than min_age */
		op("a", "a-oldest", 10 * DAY, 10 * MiB),
		op("c", "c-held", 20 * DAY, 50 * MiB),   /* held: never, and not counted */
		op("a", "a-mid", 5 * DAY, 10 * MiB),
		op("b", "b-new", 2 * DAY, 10 * MiB),
		op("c", "c-open", 30 * DAY, 50 * MiB),   /* open: never, but counted */
	};
	struct evict_victim v[7];
	struct evict_plan p = { .v = v };
	struct evict_input in = { .ops = ops, .nops = 7, .now_s = NOW, .min_age_s = DAY,
				  .total = 1000 * MiB, .avail = 70 * MiB, .floor = 100 * MiB };

	(void)state;
	ops[3].hold = true;
	ops[6].state = OP_OPEN;
	/* usage a 70, b 20, c 50 (equal share 46.7): a's two old ops go; then
	 * a (50) is still over its share (40) with nothing eligible */
	assert_int_equal(evict_plan(&in, &p), 0);
	assert_true(p.below_floor);
	assert_true(p.short_of_floor);
	assert_int_equal(p.n, 2);
	assert_string_equal(ops[v[0].op].name, "a-oldest");
	assert_string_equal(ops[v[1].op].name, "a-mid");
	for (size_t i = 0; i < p.n; i++)
		assert_int_equal(v[i].reason, EVICT_SPACE);
	assert_string_equal(v[0].site.scope, "a");
	assert_int_equal(v[0].site.bytes, 70 * MiB);
	assert_int_equal(v[0].site.share, 140 * MiB / 3);
	assert_string_equal(v[0].other.scope, "c");   /* next in line: 50 against 46.7 */
	assert_int_equal(v[0].other.bytes, 50 * MiB);
	assert_string_equal(v[1].site.scope, "a");
	assert_int_equal(v[1].site.bytes, 60 * MiB);
	assert_string_equal(p.blocked_by.scope, "a");
	assert_int_equal(p.blocked_by.bytes, 50 * MiB);
	assert_int_equal(p.blocked_by.share, 40 * MiB);
	assert_int_equal(p.bytes, 20 * MiB);
	assert_int_equal(p.eligible_ops, 4);
	assert_int_equal(p.eligible_bytes, 40 * MiB);
	assert_int_equal(p.held, 1);
	assert_int_equal(p.young, 1);
	assert_int_equal(p.busy, 1);

	/* just at the floor: nothing to do */
	in.avail = 100 * MiB;
	assert_int_equal(evict_plan(&in, &p), 0);
	assert_false(p.below_floor);
	assert_int_equal(p.n, 0);
	assert_int_equal(p.eligible_ops, 4);   /* still reported */
	assert_null(p.blocked_by.scope);
	assert_string_equal(p.top.scope, "a");

	/* c's open op counts too: with a's young op empty, c (50 against 30)
	 * is over its share and blocks at once */
	ops[1].bytes = 0;
	in.avail = 10 * MiB;
	assert_int_equal(evict_plan(&in, &p), 0);
	assert_int_equal(p.n, 0);
	assert_string_equal(p.blocked_by.scope, "c");

	/* with both empty, a and b are level: the older op goes first, and
	 * they take turns */
	ops[6].bytes = 0;
	in.avail = 10 * MiB;
	assert_int_equal(evict_plan(&in, &p), 0);
	assert_int_equal(p.n, 4);
	assert_string_equal(ops[v[0].op].name, "a-oldest");
	assert_string_equal(ops[v[1].op].name, "b-old");
	assert_string_equal(ops[v[2].op].name, "a-mid");
	assert_string_equal(ops[v[3].op].name, "b-new");
	assert_null(p.blocked_by.scope);
	assert_true(p.short_of_floor);

	/* a site hold protects every op of the site */
	ops[0].site_held = ops[5].site_held = true;
	assert_int_equal(evict_plan(&in, &p), 0);
	assert_int_equal(p.n, 2);
	assert_int_equal(p.held, 3);
	for (size_t i = 0; i < p.n; i++)
		assert_string_equal(ops[v[i].op].scope, "a");
}

/* The churn: a deletes op after op, b deleted one op a while ago.
 * Oldest-first would take b's op second; fairly, a pays until it is down to
 * its share, and b keeps its op.  When a's remaining trash is young and
 * still over its share, b keeps it even below the floor. */
static void test_floor_fair(void **state)
{
	struct evict_op ops[] = {
		op("a", "a1", 600, 10 * MiB),
		op("b", "b1", 300, 20 * MiB),
		op("a", "a2", 200, 10 * MiB),
		op("a", "a3", 150, 10 * MiB),
		op("a", "a4", 120, 10 * MiB),
		op("a", "a5", 100, 10 * MiB),
	};
	struct evict_victim v[6];
	struct evict_plan p = { .v = v };
	struct evict_input in = { .ops = ops, .nops = 6, .now_s = NOW, .min_age_s = 60,
				  .total = 1000 * MiB, .avail = 0, .floor = 25 * MiB };

	(void)state;
	/* need 27.5 MiB: a (50 against 35) gives a1, a2, a3; b1 stays */
	assert_int_equal(evict_plan(&in, &p), 0);
	assert_int_equal(p.n, 3);
	assert_string_equal(ops[v[0].op].name, "a1");
	assert_string_equal(ops[v[1].op].name, "a2");
	assert_string_equal(ops[v[2].op].name, "a3");
	assert_string_equal(v[0].other.scope, "b");
	assert_int_equal(v[0].other.bytes, 20 * MiB);
	assert_int_equal(v[0].other.share, 35 * MiB);
	assert_false(p.short_of_floor);

	/* need 66 MiB, and a's last two ops are young and large: a is still
	 * over its share (60 against 40) with nothing eligible; b keeps b1 */
	ops[4] = op("a", "a4", 10, 30 * MiB);
	ops[5] = op("a", "a5", 5, 30 * MiB);
	in.floor = 60 * MiB;
	assert_int_equal(evict_plan(&in, &p), 0);
	assert_int_equal(p.n, 3);
	for (size_t i = 0; i < p.n; i++)
		assert_string_equal(ops[v[i].op].scope, "a");
	assert_string_equal(p.blocked_by.scope, "a");
	assert_int_equal(p.blocked_by.bytes, 60 * MiB);
	assert_int_equal(p.blocked_by.share, 40 * MiB);
	assert_true(p.short_of_floor);

	/* a cap is the site's share: b capped at 10 MiB is over it (20), a
	 * with an equal share is not (a's young 60 against (60 + 20) / 2) */
	struct evict_cap caps[] = { { "b", 100 * MiB } };
	in.caps = caps;
	in.ncaps = 1;
	ops[4].bytes = ops[5].bytes = 5 * MiB;   /* a 40 against 30: over */
	assert_int_equal(evict_plan(&in, &p), 0);
	assert_int_equal(p.n, 4);   /* a1 a2 a3, then b1 (20 of 100) */
	assert_string_equal(ops[v[3].op].name, "b1");
	assert_int_equal(v[3].site.share, 100 * MiB);
}

/* A tie in time is broken by scope, then name: the order is total. */
static void test_floor_ties(void **state)
{
	struct evict_op ops[] = { op("b", "x", 5 * DAY, MiB), op("a", "y", 5 * DAY, MiB),
				  op("a", "x", 5 * DAY, MiB) };
	struct evict_victim v[3];
	struct evict_plan p = { .v = v };
	struct evict_input in = { .ops = ops, .nops = 3, .now_s = NOW, .min_age_s = DAY,
				  .total = 100 * MiB, .avail = 0, .floor = 50 * MiB };

	(void)state;
	assert_int_equal(evict_plan(&in, &p), 0);
	assert_int_equal(p.n, 3);
	assert_string_equal(ops[v[0].op].scope, "a");
	assert_string_equal(ops[v[0].op].name, "x");
	assert_string_equal(ops[v[1].op].name, "y");
	assert_string_equal(ops[v[2].op].scope, "b");
}

/* A cap trims only its own site, oldest first, counting held and young ops
 * towards the usage but evicting only eligible ones. */
static void test_site_cap(void **state)
{
	struct evict_op ops[] = {
		op("a", "a1", 10 * DAY, 40 * MiB),
		op("a", "a2", 8 * DAY, 40 * MiB),
		op("a", "a3", 6 * DAY, 40 * MiB),
		op("a", "a-young", 60, 40 * MiB),
		op("b", "b1", 30 * DAY, 40 * MiB),
	};
	struct evict_cap caps[] = { { "a", 100 * MiB } };
	struct evict_victim v[5];
	struct evict_plan p = { .v = v };
	struct evict_input in = { .ops = ops, .nops = 5, .caps = caps, .ncaps = 1, .now_s = NOW,
				  .min_age_s = DAY, .total = 1000 * MiB, .avail = 900 * MiB,
				  .floor = 100 * MiB };

	(void)state;
	/* a holds 160 MiB, cap 100: a1 and a2 go (160 -> 80); b is untouched */
	assert_int_equal(evict_plan(&in, &p), 0);
	assert_false(p.below_floor);
	assert_int_equal(p.n, 2);
	assert_string_equal(ops[v[0].op].name, "a1");
	assert_string_equal(ops[v[1].op].name, "a2");
	assert_int_equal(v[0].reason, EVICT_CAP);

	/* a cap the site cannot meet: every eligible op of the site, no more */
	caps[0].max_bytes = 10 * MiB;
	assert_int_equal(evict_plan(&in, &p), 0);
	assert_int_equal(p.n, 3);

	/* cap and floor together: cap victims count towards the floor, the
	 * floor takes the oldest remaining op (b1 is older than a's ops) */
	caps[0].max_bytes = 100 * MiB;
	in.avail = 40 * MiB;   /* need 110 - 40 = 70: a1+a2 (cap) free 80 */
	assert_int_equal(evict_plan(&in, &p), 0);
	assert_int_equal(p.n, 2);
	in.avail = 20 * MiB;   /* need 90: a1+a2 = 80, then a3: a (80 against its
				* cap 100) is fuller than b (40 against 60) */
	assert_int_equal(evict_plan(&in, &p), 0);
	assert_int_equal(p.n, 3);
	assert_int_equal(v[0].reason, EVICT_CAP);   /* cap victims first */
	assert_int_equal(v[1].reason, EVICT_CAP);
	assert_string_equal(ops[v[2].op].name, "a3");
	assert_int_equal(v[2].reason, EVICT_SPACE);
	assert_int_equal(v[0].site.bytes, 160 * MiB);
	assert_int_equal(v[0].site.share, 100 * MiB);
}

/* Who holds more than its share (issue 21): every scope's usage and
 * share as the fair order sees them, held and purging ops left out. */
static void test_shares(void **state)
{
	struct evict_op ops[] = {
		op("churn", "a", 2 * DAY, 300 * MiB), op("churn", "b", 2 * DAY, 300 * MiB),
		op("quiet", "c", 2 * DAY, 100 * MiB), op("capped", "d", 2 * DAY, 200 * MiB),
		op("held", "e", 2 * DAY, 900 * MiB), op("", "f", 2 * DAY, 100 * MiB),
	};
	struct evict_cap caps[] = { { "capped", 50 * MiB } };
	struct evict_input in = { .ops = ops, .nops = 6, .caps = caps, .ncaps = 1, .now_s = NOW,
				  .min_age_s = DAY, .total = 100, .avail = 100, .floor = 10 };
	struct evict_figures f[6];
	size_t n = 99;

	ops[4].hold = true;   /* a hold is the operator's choice: no usage */
	assert_int_equal(evict_shares(&in, f, &n), 0);
	assert_int_equal(n, 5);   /* in name order: "", capped, churn, held, quiet */
	/* equal share: (100 + 200 + 600 + 100) / 4 scopes with usage = 250 MiB */
	assert_string_equal(f[0].scope, "");
	assert_int_equal(f[0].bytes, 100 * MiB);
	assert_int_equal(f[0].share, 250 * MiB);
	assert_string_equal(f[1].scope, "capped");
	assert_int_equal(f[1].share, 50 * MiB);   /* its cap */
	assert_string_equal(f[2].scope, "churn");
	assert_int_equal(f[2].bytes, 600 * MiB);
	assert_int_equal(f[2].share, 250 * MiB);
	assert_string_equal(f[3].scope, "held");
	assert_int_equal(f[3].bytes, 0);
	assert_string_equal(f[4].scope, "quiet");
	in.nops = 0;
	assert_int_equal(evict_shares(&in, f, &n), 0);
	assert_int_equal(n, 0);
}

static void test_empty(void **state)
{
	struct evict_victim v[1];
	struct evict_plan p = { .v = v };
	struct evict_input in = { .total = 100, .avail = 0, .floor = 10, .now_s = NOW };

	(void)state;
	assert_int_equal(evict_plan(&in, &p), 0);
	assert_int_equal(p.n, 0);
	assert_true(p.below_floor);
	assert_true(p.short_of_floor);
	assert_int_equal(evict_margin(1000), 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_floor),
		cmocka_unit_test(test_eligibility),
		cmocka_unit_test(test_floor_counts),
		cmocka_unit_test(test_floor_fair),
		cmocka_unit_test(test_floor_ties),
		cmocka_unit_test(test_site_cap),
		cmocka_unit_test(test_shares),
		cmocka_unit_test(test_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
