/*
 * test_space — the sweeper's eviction pass (fs/engine/space.c) on a real backing
 * directory, index and trash engine with a fake wall clock: which ops go
 * for the floor and for a site cap, that holds and young ops stay, the
 * pressure notice (once), stopping, and the eviction journal across a
 * restart.  Ages are on the (fake) trusted elapsed clock.  The floor is a
 * size (1 PiB: always below it on any test machine, or 0: never), so the
 * real free space does not matter.
 * Needs root (trusted.* xattrs).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "store/index.h"
#include "engine/sitepolicy.h"
#include "engine/space.h"
#include "lib/sys.h"
#include "engine/trash.h"
#include "lib/util.h"
#include "testutil.h"

#pragma GCC diagnostic ignored "-Wformat-truncation"

#define NS INT64_C(1000000000)
#define T0S INT64_C(1893456000)   /* 2030-01-01T00:00:00Z */
#define E0S INT64_C(5000)         /* the trusted elapsed clock at T0S */
#define MIN_AGE 100
#define PiB (UINT64_C(1) << 50)

/* Both clocks advance together by off_ns (before clock_open the trusted
 * elapsed clock is sys.mono_ns). */
static int64_t off_ns;
static int64_t fake_wall(void) { return T0S * NS + off_ns; }
static int64_t fake_mono(void) { return E0S * NS + off_ns; }

struct fx {
	char tmp[64];
	int bfd, sfd;
	struct index *ix;
	struct trash *t;
	struct space *sp;
	int nevicted, nnotice;
	char evicted[8][NAME_MAX + 1], detail[8][160], notice[512];
};

static void on_evicted(void *arg, const struct op_record *r, uint64_t removed,
		       const char *detail)
{
	struct fx *f = arg;

	(void)removed;
	if (f->nevicted < 8) {
		snprintf(f->evicted[f->nevicted], sizeof(f->evicted[0]), "%s/%s", r->scope, r->name);
		snprintf(f->detail[f->nevicted], sizeof(f->detail[0]), "%s", detail);
	}
	f->nevicted++;
}

static void on_notice(void *arg, const char *msg)
{
	struct fx *f = arg;

	f->nnotice++;
	snprintf(f->notice, sizeof(f->notice), "%s", msg);
}

static void open_space(struct fx *f, uint64_t floor_bytes)
{
	struct space_conf c = {
		.backing_fd = f->bfd, .state_fd = f->sfd,
		.floor = { .pct = false, .value = floor_bytes }, .min_age_s = MIN_AGE,
		.step_budget = 2, .on_evicted = on_evicted, .on_notice = on_notice, .cb_arg = f,
	};

	assert_int_equal(space_new(&f->sp, f->t, f->ix, &c), 0);
}

static void open_all(struct fx *f)
{
	struct trash_conf tc = { .retention_s = 30 * 86400, .op_gap_ns = NS };
	char p[96];

	snprintf(p, sizeof(p), "%s/idx", f->tmp);
	assert_int_equal(index_open(&f->ix, p), 0);
	assert_int_equal(trash_open(&f->t, f->bfd, f->ix, &tc), 0);
	assert_int_equal(trash_reconcile(f->t, NULL), 0);
	f->sfd = openat(f->bfd, ".gracefs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->sfd >= 0);
}

static void close_all(struct fx *f)
{
	space_free(f->sp);
	trash_close(f->t);
	index_close(f->ix);
	close(f->sfd);
	f->sp = NULL;
	f->t = NULL;
	f->ix = NULL;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char p[96];

	assert_non_null(f);
	strcpy(f->tmp, "/tmp/gracefs-space-XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	snprintf(p, sizeof(p), "%s/b", f->tmp);
	assert_int_equal(mkdir(p, 0755), 0);
	f->bfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->bfd >= 0);
	assert_int_equal(mkdirat(f->bfd, "a", 0755), 0);
	assert_int_equal(mkdirat(f->bfd, "b", 0755), 0);
	sys_reset();
	off_ns = 0;
	sys.wall_ns = fake_wall;
	sys.mono_ns = fake_mono;
	open_all(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	close_all(f);
	sys_reset();
	close(f->bfd);
	assert_int_equal(nftw(f->tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
	free(f);
	return 0;
}

/* One op: site/name (a file of `kib` KiB) deleted by pid at T0 + at_s;
 * closed.  Its name into op. */
static void make_op(struct fx *f, const char *site, const char *name, int kib, int64_t at_s,
		    uint32_t pid, char *op)
{
	struct caller who = { .pid = pid, .pid_start = pid };
	struct relpath rel = {0};
	char buf[1024] = "x";
	int sfd = openat(f->bfd, site, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd;

	assert_true(sfd >= 0);
	fd = openat(sfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	for (int i = 0; i < kib; i++)
		assert_int_equal(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	fsync(fd);
	close(fd);
	strcpy(who.cmd, "rm");
	off_ns = at_s * NS;
	assert_int_equal(util_op_name(T0S + at_s, "rm", pid, 1, op, NAME_MAX + 1), 0);
	struct trash_loc loc = { .site = site, .rel = &rel, .dirfd = sfd, .name = name };
	assert_int_equal(trash_delete(f->t, &who, &loc, false, NULL), 0);
	close(sfd);
	trash_close_all(f->t);
}

static bool there(struct fx *f, const char *site, const char *op)
{
	char p[PATH_MAX];
	struct stat st;

	snprintf(p, sizeof(p), "%s/.trash/%s", site, op);
	return fstatat(f->bfd, p, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Below the floor: oldest first across sites; held (op or site) and young
 * ops stay; then the pressure is said once. */
static void test_floor(void **state)
{
	struct fx *f = *state;
	struct space_status st;
	char o1[NAME_MAX + 1], o2[NAME_MAX + 1], o3[NAME_MAX + 1], o4[NAME_MAX + 1],
	     o5[NAME_MAX + 1];

	make_op(f, "a", "one", 8, 0, 101, o1);
	make_op(f, "b", "two", 8, 10, 102, o2);     /* held */
	make_op(f, "a", "three", 8, 20, 103, o3);
	make_op(f, "b", "four", 8, 30, 104, o4);
	make_op(f, "a", "five", 8, 500, 105, o5);   /* young at T0 + 550 */
	assert_int_equal(trash_op_set_hold(f->t, "b", o2, true), 0);
	open_space(f, PiB);

	/* at T0 + 110 only o1 and o2 are old enough, and o2 is held */
	space_pass(f->sp, E0S + 110);
	assert_int_equal(f->nevicted, 1);
	assert_int_equal(strncmp(f->evicted[0], "a/", 2), 0);
	assert_string_equal(f->evicted[0] + 2, o1);
	assert_false(there(f, "a", o1));
	assert_true(there(f, "b", o2));
	assert_true(there(f, "a", o3));
	assert_non_null(strstr(f->detail[0], "reason=space free="));
	space_get_status(f->sp, &st);
	assert_true(st.known);
	assert_true(st.pressure);
	assert_int_equal(st.evicted_ops, 1);
	assert_int_equal(st.held, 1);
	assert_int_equal(f->nnotice, 1);
	assert_non_null(strstr(f->notice, "nothing more may be evicted: 1 op(s) held, 3 younger"));

	/* later: o3 and o4 go, oldest first; o5 is still young; the pressure
	 * is not said again */
	space_pass(f->sp, E0S + 550);
	assert_int_equal(f->nevicted, 3);
	assert_false(there(f, "a", o3));
	assert_false(there(f, "b", o4));
	assert_true(there(f, "a", o5));
	assert_true(there(f, "b", o2));
	assert_int_equal(f->nnotice, 1);

	/* a site hold protects what an op hold would */
	assert_int_equal(trash_op_set_hold(f->t, "b", o2, false), 0);
	assert_int_equal(sitepolicy_set_hold(f->bfd, "b", true), 0);
	space_pass(f->sp, E0S + 700);
	assert_true(there(f, "b", o2));
	assert_false(there(f, "a", o5));   /* old enough now */
	assert_int_equal(f->nevicted, 4);
	assert_int_equal(index_get(f->ix, "a", o5, &(struct op_record){0}), -ENOENT);
}

/* A cap trims its own site only, and not below what it must. */
static void test_cap(void **state)
{
	struct fx *f = *state;
	char o1[NAME_MAX + 1], o2[NAME_MAX + 1], o3[NAME_MAX + 1], ob[NAME_MAX + 1];

	make_op(f, "b", "old", 64, 0, 200, ob);
	make_op(f, "a", "x1", 64, 10, 201, o1);
	make_op(f, "a", "x2", 64, 20, 202, o2);
	make_op(f, "a", "x3", 64, 30, 203, o3);
	assert_int_equal(sitepolicy_set_trash_max(f->bfd, "a", 100 * 1024), 0);
	open_space(f, 0);   /* no floor */
	space_pass(f->sp, E0S + 1000);
	assert_int_equal(f->nevicted, 2);
	assert_false(there(f, "a", o1));
	assert_false(there(f, "a", o2));
	assert_true(there(f, "a", o3));
	assert_true(there(f, "b", ob));   /* older, but its site has no cap */
	assert_non_null(strstr(f->detail[0], "reason=trash_max trash_max=100K"));
	space_pass(f->sp, E0S + 1001);
	assert_int_equal(f->nevicted, 2);
}

/* space_stop: a pass evicts nothing more. */
static void test_stop(void **state)
{
	struct fx *f = *state;
	char o1[NAME_MAX + 1];

	make_op(f, "a", "one", 8, 0, 301, o1);
	open_space(f, PiB);
	space_stop(f->sp);
	space_pass(f->sp, E0S + 1000);
	assert_int_equal(f->nevicted, 0);
	assert_true(there(f, "a", o1));
}

/* The journal: an eviction a crash interrupted (op PURGING) is reported as
 * one when the sweeper finishes it; a stale journal is dropped. */
static void test_journal(void **state)
{
	struct fx *f = *state;
	struct op_record r;
	char o1[NAME_MAX + 1], o2[NAME_MAX + 1], buf[600];
	int fd;
	ssize_t n;

	make_op(f, "a", "one", 8, 0, 401, o1);
	make_op(f, "b", "two", 8, 0, 402, o2);
	/* "the crash": o1 journalled and PURGING */
	fd = openat(f->sfd, SPACE_JOURNAL, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	snprintf(buf, sizeof(buf), "a\n%s\n", o1);
	assert_int_equal(write(fd, buf, strlen(buf)), (ssize_t)strlen(buf));
	close(fd);
	assert_int_equal(trash_purge_begin(f->t, "a", o1), 0);
	open_space(f, 0);
	assert_int_equal(index_get(f->ix, "b", o2, &r), 0);
	assert_false(space_resumed(f->sp, &r, 1));   /* not the journalled one */
	assert_int_equal(index_get(f->ix, "a", o1, &r), 0);
	assert_true(space_resumed(f->sp, &r, 1));
	assert_int_equal(f->nevicted, 1);
	assert_non_null(strstr(f->detail[0], "resumed"));
	assert_false(space_resumed(f->sp, &r, 1));   /* once */
	fd = openat(f->sfd, SPACE_JOURNAL, O_RDONLY);
	n = pread(fd, buf, 10, 0);
	close(fd);
	assert_int_equal(n, 0);   /* cleared */
	space_free(f->sp);
	f->sp = NULL;

	/* a journal naming a closed op (the crash came before the purge began) */
	fd = openat(f->sfd, SPACE_JOURNAL, O_WRONLY | O_TRUNC);
	snprintf(buf, sizeof(buf), "b\n%s\n", o2);
	assert_int_equal(write(fd, buf, strlen(buf)), (ssize_t)strlen(buf));
	close(fd);
	open_space(f, 0);
	assert_int_equal(index_get(f->ix, "b", o2, &r), 0);
	assert_false(space_resumed(f->sp, &r, 1));
	fd = openat(f->sfd, SPACE_JOURNAL, O_RDONLY);
	assert_int_equal(pread(fd, buf, 10, 0), 0);
	close(fd);
	/* and a cut-short one is no journal either */
	space_free(f->sp);
	f->sp = NULL;
	fd = openat(f->sfd, SPACE_JOURNAL, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "a\n", 2), 2);
	close(fd);
	open_space(f, 0);
	assert_int_equal(index_get(f->ix, "a", o1, &r), 0);
	assert_false(space_resumed(f->sp, &r, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_floor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
