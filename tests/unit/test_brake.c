/*
 * test_brake — the mass-deletion brake's counts and braked set: parsing of
 * -o brake, distinct sites per run within a sliding window, one trip per
 * run, runs counted apart, release (count from zero, kept only on
 * brake_save), the kept file across a restart and what a reader without
 * the daemon sees, off, and the bound on counted runs.  cmocka; a temp
 * directory stands in for BACKING/.gracefs.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine/brake.h"
#include "testutil.h"

#define NS INT64_C(1000000000)
#define RUN "20261207T055122Z-cleanup.sh-4242"
#define RUN2 "20261207T055200Z-other.sh-4343"

struct fx {
	char tmp[64];
	int fd;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->tmp, "/tmp/gracefs-brake-XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	f->fd = open(f->tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->fd >= 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	close(f->fd);
	assert_int_equal(rm_tree(f->tmp), 0);
	free(f);
	return 0;
}

static struct brake *open_brake(struct fx *f, unsigned limit, int64_t window_s)
{
	struct brake_conf c = { limit, window_s * NS, f->fd };
	struct brake *b;

	assert_int_equal(brake_new(&b, &c), 0);
	return b;
}

/* note NAME in site "s<i>" for i in [from, to) at time t (seconds) */
static int note_range(struct brake *b, const char *run, int from, int to, int64_t t)
{
	int trips = 0;

	for (int i = from; i < to; i++) {
		char site[16];

		snprintf(site, sizeof(site), "s%d", i);
		trips += brake_note(b, run, site, t * NS, NULL, NULL);
	}
	return trips;
}

static void test_parse(void **state)
{
	unsigned n;
	int64_t w;

	(void)state;
	assert_int_equal(brake_parse("20/10m", &n, &w), 0);
	assert_int_equal(n, 20);
	assert_int_equal(w, 600);
	assert_int_equal(brake_parse("1/1h30m", &n, &w), 0);
	assert_int_equal(w, 5400);
	assert_int_equal(brake_parse("off", &n, &w), 0);
	assert_int_equal(n, 0);
	const char *bad[] = { "", "20", "20/", "/10m", "0/10m", "-1/10m", "20/10", "20/0s",
			      "100001/1m", "20 /10m", "020/10m", "x/10m", "20/10m ", "OFF", NULL };
	for (int i = 0; bad[i]; i++) {
		n = 7;
		assert_int_equal(brake_parse(bad[i], &n, &w), -EINVAL);
		assert_int_equal(n, 7);   /* nothing changed */
	}
	assert_int_equal(brake_parse(NULL, &n, &w), -EINVAL);
}

static void test_trips_at_limit_distinct_sites(void **state)
{
	struct fx *f = *state;
	struct brake *b = open_brake(f, 20, 600);
	struct brake_stats st;
	unsigned sites;
	int err = 1;

	assert_int_equal(note_range(b, RUN, 0, 19, 100), 0);
	/* the same sites again (rm -rf SITE: its top dirs, then itself) */
	assert_int_equal(note_range(b, RUN, 0, 19, 101), 0);
	assert_false(brake_is_braked(b, RUN));
	assert_int_equal(brake_note(b, RUN, "s19", 102 * NS, &sites, &err), 1);
	assert_int_equal(sites, 20);
	assert_int_equal(err, 0);
	assert_true(brake_is_braked(b, RUN));
	assert_false(brake_is_braked(b, RUN2));
	assert_false(brake_is_braked(b, ""));
	/* one trip per run: the 21st site changes nothing */
	assert_int_equal(note_range(b, RUN, 20, 30, 103), 0);
	brake_get_stats(b, &st);
	assert_int_equal(st.limit, 20);
	assert_int_equal(st.window_s, 600);
	assert_int_equal(st.braked, 1);
	assert_int_equal(st.trips, 1);
	/* another run is counted on its own */
	assert_int_equal(note_range(b, RUN2, 0, 19, 104), 0);
	assert_false(brake_is_braked(b, RUN2));
	/* no run (a process gracefs could not see) or no site: not counted */
	assert_int_equal(note_range(b, "", 0, 30, 105), 0);
	assert_int_equal(brake_note(b, RUN2, "", 105 * NS, NULL, NULL), 0);
	assert_int_equal(brake_note(b, "bad run", "x", 105 * NS, NULL, NULL), 0);
	brake_free(b);
}

static void test_window_slides(void **state)
{
	struct fx *f = *state;
	struct brake *b = open_brake(f, 5, 60);
	unsigned sites;

	assert_int_equal(note_range(b, RUN, 0, 4, 0), 0);      /* 4 sites at t=0 */
	assert_int_equal(brake_note(b, RUN, "s9", 60 * NS, &sites, NULL), 0);
	assert_int_equal(sites, 1);   /* the first 4 fell out of the window */
	assert_int_equal(note_range(b, RUN, 0, 3, 90), 0);
	assert_int_equal(brake_note(b, RUN, "s3", 119 * NS, &sites, NULL), 1);
	assert_int_equal(sites, 5);   /* s9 at 60, s0-s2 at 90, s3 at 119 */
	brake_free(b);
}

static void test_kept_and_release(void **state)
{
	struct fx *f = *state;
	struct brake *b = open_brake(f, 3, 600);
	char (*runs)[UTIL_RUN_MAX];
	size_t n;

	assert_int_equal(brake_kept(f->fd, RUN), 0);   /* no file yet */
	assert_int_equal(note_range(b, RUN, 0, 3, 1), 1);
	assert_int_equal(brake_kept(f->fd, RUN), 1);   /* kept as it trips */
	assert_int_equal(brake_kept(f->fd, RUN2), 0);
	brake_free(b);

	/* a restart: still braked, even with the brake off now */
	b = open_brake(f, 0, 0);
	assert_true(brake_is_braked(b, RUN));
	assert_int_equal(brake_list(b, &runs, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(runs[0], RUN);
	free(runs);
	assert_int_equal(note_range(b, RUN2, 0, 50, 1), 0);   /* off: nothing counted */

	/* release: in memory at once, on disk only with brake_save */
	assert_int_equal(brake_release(b, RUN), 0);
	assert_false(brake_is_braked(b, RUN));
	assert_int_equal(brake_kept(f->fd, RUN), 1);
	assert_int_equal(brake_save(b), 0);
	assert_int_equal(brake_kept(f->fd, RUN), 0);
	assert_int_equal(brake_release(b, RUN), -ENOENT);
	brake_free(b);
	b = open_brake(f, 3, 600);
	assert_false(brake_is_braked(b, RUN));
	brake_free(b);
}

static void test_release_counts_again(void **state)
{
	struct fx *f = *state;
	struct brake *b = open_brake(f, 3, 600);

	assert_int_equal(note_range(b, RUN, 0, 3, 1), 1);
	assert_int_equal(brake_release(b, RUN), 0);
	/* the same sites do not trip it again at once: counted from zero */
	assert_int_equal(note_range(b, RUN, 0, 2, 2), 0);
	assert_int_equal(brake_note(b, RUN, "s7", 3 * NS, NULL, NULL), 1);
	brake_free(b);
}

static void test_kept_file_junk(void **state)
{
	struct fx *f = *state;
	struct brake *b;
	FILE *fp;
	char p[128];

	snprintf(p, sizeof(p), "%s/" BRAKE_FILE, f->tmp);
	assert_non_null(fp = fopen(p, "w"));
	fputs("not a/run\n\n" RUN "\n" RUN "\nwith space\n" RUN2, fp);   /* no final newline */
	fclose(fp);
	b = open_brake(f, 20, 600);
	assert_true(brake_is_braked(b, RUN));
	assert_true(brake_is_braked(b, RUN2));
	assert_false(brake_is_braked(b, "not a/run"));
	struct brake_stats st;
	brake_get_stats(b, &st);
	assert_int_equal(st.braked, 2);   /* the duplicate once */
	assert_int_equal(st.trips, 0);    /* braked before this start */
	brake_free(b);
}

static void test_bad_conf(void **state)
{
	struct fx *f = *state;
	struct brake_conf c = { 20, 0, f->fd };
	struct brake *b;

	assert_int_equal(brake_new(&b, &c), -EINVAL);   /* a limit needs a window */
	c = (struct brake_conf){ BRAKE_LIMIT_MAX + 1, NS, f->fd };
	assert_int_equal(brake_new(&b, &c), -EINVAL);
	/* no state dir: works, keeps nothing */
	c = (struct brake_conf){ 1, NS, -1 };
	assert_int_equal(brake_new(&b, &c), 0);
	assert_int_equal(brake_note(b, RUN, "x", NS, NULL, NULL), 1);
	assert_true(brake_is_braked(b, RUN));
	brake_free(b);
	brake_free(NULL);
	assert_false(brake_is_braked(NULL, RUN));
}

/* More runs than are counted at once: the one idle longest makes room,
 * and a busy run keeps its count. */
static void test_run_bound(void **state)
{
	struct fx *f = *state;
	struct brake *b = open_brake(f, 3, 600);
	char run[UTIL_RUN_MAX];

	assert_int_equal(note_range(b, RUN, 0, 2, 1), 0);
	for (int i = 0; i < BRAKE_RUNS_MAX + 10; i++) {
		snprintf(run, sizeof(run), "20261207T000000Z-r-%d", i);
		assert_int_equal(brake_note(b, run, "x", (2 + i) * NS, NULL, NULL), 0);
		/* RUN stays the busiest */
		assert_int_equal(brake_note(b, RUN, "s0", (2 + i) * NS, NULL, NULL), 0);
	}
	assert_int_equal(brake_note(b, RUN, "s2", 400 * NS, NULL, NULL), 1);
	brake_free(b);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		T(test_trips_at_limit_distinct_sites),
		T(test_window_slides),
		T(test_kept_and_release),
		T(test_release_counts_again),
		T(test_kept_file_junk),
		T(test_bad_conf),
		T(test_run_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
