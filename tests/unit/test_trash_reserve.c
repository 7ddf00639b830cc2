/*
 * test_trash_reserve — the deletion reserve (trash_reserve.c, issue 21
 * item 2): when mkdir fails with ENOSPC or EDQUOT, a deletion takes its op
 * directory and mirrored parents from the reserve and succeeds; with the
 * reserve empty it fails with the mkdir's errno and moves nothing; any
 * other mkdir error is not "no room" and takes nothing; the sweeper's fill
 * puts it back.  Faults come through sys.mkdirat.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine/trash.h"
#include "lib/sys.h"
#include "testutil.h"
#include "trash_fx.h"

static int mkdir_err;   /* what the faked mkdirat fails with */

/* As a full filesystem answers: an existing name is EEXIST still. */
static int fake_mkdirat(int dirfd, const char *path, mode_t mode)
{
	struct stat st;

	(void)mode;
	errno = fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 ? EEXIST : mkdir_err;
	return -1;
}

static void no_room(int err)
{
	mkdir_err = err;
	sys.mkdirat = fake_mkdirat;
}

/* One deletion with room, so the site's .trash exists; then its op closes. */
static void prime(struct fx *f)
{
	write_file(bp(f, "site/first"), "1");
	assert_int_equal(del(f, "", "first", false), 0);
	fake_now += GAP_NS + NS;
	assert_int_equal(trash_tick(f->t), 0);
}

static void next_process(struct fx *f)
{
	f->who.pid++;   /* a new op: every deletion needs a new op directory */
	f->who.pid_start++;
}

static void test_fill(void **state)
{
	struct fx *f = *state;
	struct stat st;
	char p[64];

	assert_int_equal(trash_reserve_fill(f->t), TRASH_RESERVE_DIRS);
	assert_int_equal(trash_reserve_count(f->t), TRASH_RESERVE_DIRS);
	assert_int_equal(nentries(bp(f, ".gracefs/reserve")), TRASH_RESERVE_DIRS);
	snprintf(p, sizeof(p), ".gracefs/reserve/d%03u", TRASH_RESERVE_DIRS - 1);
	assert_int_equal(stat(bp(f, p), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(st.st_uid, 0);
	/* filling a full reserve changes nothing */
	assert_int_equal(trash_reserve_fill(f->t), TRASH_RESERVE_DIRS);
	assert_int_equal(nentries(bp(f, ".gracefs/reserve")), TRASH_RESERVE_DIRS);
}

static void test_deletion_takes_from_reserve(void **state)
{
	struct fx *f = *state;
	struct trash_counters c;
	struct stat st, site;

	prime(f);
	assert_int_equal(trash_reserve_fill(f->t), TRASH_RESERVE_DIRS);
	assert_int_equal(mkdir(bp(f, "site/a"), 0750), 0);
	assert_int_equal(mkdir(bp(f, "site/a/b"), 0755), 0);
	write_file(bp(f, "site/a/b/x"), "data");
	write_file(bp(f, "site/top"), "top");
	next_process(f);
	no_room(ENOSPC);
	/* a top-level file: the op directory comes from the reserve */
	assert_int_equal(del(f, "", "top", false), 0);
	assert_int_equal(trash_reserve_count(f->t), TRASH_RESERVE_DIRS - 1);
	assert_true(find_below(bp(f, "site/.trash"), "top"));
	assert_int_equal(access(bp(f, "site/top"), F_OK), -1);
	/* a nested file in the same op: its mirrored parents a and a/b too */
	assert_int_equal(del(f, "a/b", "x", false), 0);
	assert_int_equal(trash_reserve_count(f->t), TRASH_RESERVE_DIRS - 3);
	assert_true(find_below(bp(f, "site/.trash"), "x"));
	assert_int_equal(access(bp(f, "site/a/b/x"), F_OK), -1);
	/* the taken directories look as mkdir would have made them: the
	 * mirror of a has a's mode; the op dir the site root's */
	assert_int_equal(stat(bp(f, "site/a"), &st), 0);
	assert_true(find_below(bp(f, "site/.trash"), "a"));
	{
		struct stat m;

		assert_int_equal(stat(find_got, &m), 0);
		assert_int_equal(m.st_mode & 07777, st.st_mode & 07777);
	}
	assert_int_equal(stat(bp(f, "site"), &site), 0);
	assert_true(find_below(bp(f, "site/.trash"), "top"));
	*strrchr(find_got, '/') = '\0';   /* the op directory */
	assert_int_equal(stat(find_got, &st), 0);
	assert_int_equal(st.st_mode & 07777, site.st_mode & 07777);
	assert_int_equal(st.st_uid, site.st_uid);
	trash_get_counters(f->t, &c);
	assert_int_equal(c.reserve_taken, 3);
	assert_int_equal(c.reserve_empty, 0);
	/* EDQUOT is "no room" too */
	write_file(bp(f, "site/q"), "q");
	next_process(f);
	no_room(EDQUOT);
	assert_int_equal(del(f, "", "q", false), 0);
	assert_int_equal(trash_reserve_count(f->t), TRASH_RESERVE_DIRS - 4);
	/* the sweeper's fill makes it whole again once there is room */
	faults_off();
	assert_int_equal(trash_reserve_fill(f->t), TRASH_RESERVE_DIRS);
	assert_int_equal(nentries(bp(f, ".gracefs/reserve")), TRASH_RESERVE_DIRS);
}

static void test_empty_reserve_fails_cleanly(void **state)
{
	struct fx *f = *state;
	struct trash_counters c;
	char name[32];

	prime(f);
	assert_int_equal(trash_reserve_fill(f->t), TRASH_RESERVE_DIRS);
	no_room(ENOSPC);
	for (unsigned i = 0; i < TRASH_RESERVE_DIRS; i++) {   /* one op dir each */
		char p[48];

		snprintf(name, sizeof(name), "f%u", i);
		snprintf(p, sizeof(p), "site/%s", name);
		write_file(bp(f, p), "x");   /* (writes need no mkdir) */
		next_process(f);
		assert_int_equal(del(f, "", name, false), 0);
	}
	assert_int_equal(trash_reserve_count(f->t), 0);
	faults_off();
	write_file(bp(f, "site/last"), "last");
	no_room(ENOSPC);
	next_process(f);
	assert_int_equal(del(f, "", "last", false), -ENOSPC);
	/* nothing moved: the file is where it was, no op dir left over */
	faults_off();
	assert_int_equal(access(bp(f, "site/last"), F_OK), 0);
	assert_false(find_below(bp(f, "site/.trash"), "last"));
	trash_get_counters(f->t, &c);
	assert_int_equal(c.reserve_taken, TRASH_RESERVE_DIRS);
	assert_true(c.reserve_empty >= 1);
	/* refilled, the same rm works without room for a mkdir */
	assert_int_equal(trash_reserve_fill(f->t), TRASH_RESERVE_DIRS);
	no_room(ENOSPC);
	assert_int_equal(del(f, "", "last", false), 0);
	faults_off();
	assert_true(find_below(bp(f, "site/.trash"), "last"));
}

static void test_other_errors_take_nothing(void **state)
{
	struct fx *f = *state;
	struct trash_counters c;

	prime(f);
	assert_int_equal(trash_reserve_fill(f->t), TRASH_RESERVE_DIRS);
	write_file(bp(f, "site/keep"), "k");
	next_process(f);
	no_room(EIO);
	assert_int_equal(del(f, "", "keep", false), -EIO);
	faults_off();
	assert_int_equal(access(bp(f, "site/keep"), F_OK), 0);
	assert_int_equal(trash_reserve_count(f->t), TRASH_RESERVE_DIRS);
	assert_int_equal(nentries(bp(f, ".gracefs/reserve")), TRASH_RESERVE_DIRS);
	trash_get_counters(f->t, &c);
	assert_int_equal(c.reserve_taken, 0);
	assert_int_equal(c.reserve_empty, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deletion_takes_from_reserve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_reserve_fails_cleanly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_errors_take_nothing, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
