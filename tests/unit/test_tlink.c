/*
 * test_tlink — names of an inode held in trash: the live-count rule, keys
 * from file handles, and the enter/leave/prune bookkeeping, on real files
 * in a mkdtemp dir with a real index.  Tests run one at a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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

#include "testutil.h"
#include "store/tlink.h"

struct fx {
	char tmp[32];
	char idx[64];
	int dfd;
	struct index *ix;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->tmp, "/tmp/gracefs-tl-XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	snprintf(f->idx, sizeof(f->idx), "%s/idx", f->tmp);
	assert_int_equal(index_open(&f->ix, f->idx), 0);
	f->dfd = open(f->tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->dfd >= 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	index_close(f->ix);
	close(f->dfd);
	assert_int_equal(rm_tree(f->tmp), 0);
	free(f);
	return 0;
}

static void mkfile(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	close(fd);
}

/* name goes to trash in op1: counted (it has other links) */
static void enter(struct fx *f, const char *name)
{
	struct stat st;
	bool counted;

	assert_int_equal(fstatat(f->dfd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(tlink_enter(f->ix, "op1", f->dfd, name, &st, &counted), 0);
	assert_true(counted);
}

static uint32_t count_of(struct fx *f, const char *name, int *rc)
{
	struct tlink_key k;
	uint32_t n = 0;

	assert_int_equal(tlink_key_at(f->dfd, name, &k), 0);
	*rc = index_tlink_get(f->ix, k.b, k.len, &n);
	return n;
}

static void test_live_rule(void **state)
{
	(void)state;
	/* untracked: all live through a live name, none otherwise */
	assert_int_equal(tlink_live(1, 0, false, true), 1);
	assert_int_equal(tlink_live(3, 0, false, true), 3);
	assert_int_equal(tlink_live(1, 0, false, false), 0);
	assert_int_equal(tlink_live(2, 0, false, false), 0);
	/* tracked: links minus names in trash */
	assert_int_equal(tlink_live(2, 1, true, true), 1);    /* ln a b; rm b; stat a */
	assert_int_equal(tlink_live(2, 1, true, false), 1);   /* ... through an fd */
	assert_int_equal(tlink_live(2, 2, true, false), 0);   /* every name in trash */
	assert_int_equal(tlink_live(1, 0, true, false), 1);   /* restored or purged twin */
	/* a count too high never shows a live name as 0, never underflows */
	assert_int_equal(tlink_live(2, 3, true, true), 1);
	assert_int_equal(tlink_live(2, 3, true, false), 0);
	assert_int_equal(tlink_live(UINT64_MAX, 0, false, true), UINT32_MAX);
}

static void test_keys(void **state)
{
	struct fx *f = *state;
	struct tlink_key a, b, c, d;

	mkfile(f->dfd, "a");
	assert_int_equal(linkat(f->dfd, "a", f->dfd, "b", 0), 0);
	mkfile(f->dfd, "c");
	assert_int_equal(symlinkat("a", f->dfd, "s"), 0);
	assert_int_equal(tlink_key_at(f->dfd, "a", &a), 0);
	assert_int_equal(tlink_key_at(f->dfd, "b", &b), 0);
	assert_int_equal(tlink_key_at(f->dfd, "c", &c), 0);
	assert_int_equal(tlink_key_at(f->dfd, "s", &d), 0);   /* the link itself */
	assert_true(a.len > 8 && a.len == b.len && !memcmp(a.b, b.b, a.len));
	assert_true(a.len != c.len || memcmp(a.b, c.b, a.len));
	assert_true(a.len != d.len || memcmp(a.b, d.b, a.len));
	assert_int_equal(tlink_key_at(f->dfd, "missing", &a), -ENOENT);

	struct file_handle *big = calloc(1, sizeof(*big) + TLINK_HANDLE_MAX + 1);
	assert_non_null(big);
	big->handle_bytes = TLINK_HANDLE_MAX + 1;
	assert_int_equal(tlink_key_of(big, &a), -EINVAL);
	free(big);
}

static void test_enter_leave(void **state)
{
	struct fx *f = *state;
	struct stat st;
	bool counted;
	int rc;

	mkfile(f->dfd, "one");
	mkfile(f->dfd, "a");
	assert_int_equal(linkat(f->dfd, "a", f->dfd, "b", 0), 0);
	assert_int_equal(mkdirat(f->dfd, "dir", 0755), 0);

	/* one link, or a directory: nothing recorded */
	assert_int_equal(fstatat(f->dfd, "one", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(tlink_enter(f->ix, "op1", f->dfd, "one", &st, &counted), 0);
	assert_false(counted);
	assert_int_equal(fstatat(f->dfd, "dir", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(tlink_enter(f->ix, "op1", f->dfd, "dir", &st, &counted), 0);
	assert_false(counted);
	assert_false(tlink_op_holds(f->ix, "op1"));

	/* a name of a two-link file goes to trash: counted */
	assert_int_equal(fstatat(f->dfd, "b", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(tlink_enter(f->ix, "op1", f->dfd, "b", &st, &counted), 0);
	assert_true(counted);
	assert_true(tlink_op_holds(f->ix, "op1"));
	assert_false(tlink_op_holds(f->ix, "op2"));
	/* another op's restore does nothing */
	assert_int_equal(tlink_leave(f->ix, "op2", f->dfd, "b", NULL, NULL), 0);
	assert_int_equal(count_of(f, "a", &rc), 1);
	assert_int_equal(rc, 0);
	/* the move failed: taken back, the record stays at 0 */
	tlink_enter_undo(f->ix, "op1", f->dfd, "b", counted);
	assert_int_equal(count_of(f, "a", &rc), 0);
	assert_int_equal(rc, 0);
	assert_false(tlink_op_holds(f->ix, "op1"));

	/* counted again, then it leaves trash (as a file) */
	assert_int_equal(tlink_enter(f->ix, "op1", f->dfd, "b", &st, &counted), 0);
	assert_int_equal(count_of(f, "a", &rc), 1);
	assert_int_equal(tlink_leave(f->ix, "op1", f->dfd, "b", NULL, NULL), 0);
	assert_int_equal(count_of(f, "a", &rc), 0);
	assert_false(tlink_op_holds(f->ix, "op1"));
	/* leaving twice takes nothing more */
	assert_int_equal(tlink_leave(f->ix, "op1", f->dfd, "b", NULL, NULL), 0);
	assert_int_equal(count_of(f, "a", &rc), 0);
	assert_int_equal(rc, 0);

	/* purged: the inode's and the op's counts go */
	struct tlink_key k;
	assert_int_equal(tlink_enter(f->ix, "op1", f->dfd, "b", &st, &counted), 0);
	assert_int_equal(tlink_key_at(f->dfd, "b", &k), 0);
	tlink_purged(f->ix, "op1", &k);
	assert_int_equal(count_of(f, "a", &rc), 0);
	assert_false(tlink_op_holds(f->ix, "op1"));
}

static int changed_calls;
static ino_t changed_ino;

static void on_changed(void *arg, dev_t dev, ino_t ino)
{
	(void)dev;
	assert_ptr_equal(arg, &changed_calls);
	changed_calls++;
	changed_ino = ino;
}

static void test_leave_tree(void **state)
{
	struct fx *f = *state;
	struct stat tst;
	int rc;

	/* d/sub/f has a twin outside d; d/l is a symlink to the twin's dir */
	assert_int_equal(mkdirat(f->dfd, "d", 0755), 0);
	assert_int_equal(mkdirat(f->dfd, "d/sub", 0755), 0);
	mkfile(f->dfd, "d/sub/f");
	assert_int_equal(linkat(f->dfd, "d/sub/f", f->dfd, "twin", 0), 0);
	assert_int_equal(mkdirat(f->dfd, "out", 0755), 0);
	mkfile(f->dfd, "out/g");
	assert_int_equal(linkat(f->dfd, "out/g", f->dfd, "gtwin", 0), 0);
	assert_int_equal(symlinkat("../out", f->dfd, "d/l"), 0);
	/* d/.trash (a restored site's own trash) stays trash */
	assert_int_equal(mkdirat(f->dfd, "d/.trash", 0755), 0);
	mkfile(f->dfd, "d/.trash/t");
	assert_int_equal(linkat(f->dfd, "d/.trash/t", f->dfd, "ttwin", 0), 0);
	enter(f, "ttwin");
	enter(f, "twin");
	enter(f, "gtwin");
	assert_int_equal(count_of(f, "twin", &rc), 1);

	/* the tree d leaves trash: f inside it is uncounted, g (only reached
	 * through the symlink) is not */
	changed_calls = 0;
	assert_int_equal(tlink_leave(f->ix, "op1", f->dfd, "d", on_changed, &changed_calls), 0);
	assert_int_equal(count_of(f, "twin", &rc), 0);
	assert_int_equal(count_of(f, "gtwin", &rc), 1);
	assert_int_equal(count_of(f, "ttwin", &rc), 1);
	assert_int_equal(changed_calls, 1);
	assert_int_equal(fstatat(f->dfd, "twin", &tst, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(changed_ino, tst.st_ino);

	/* a path with several components, resolved without symlinks */
	assert_int_equal(tlink_leave(f->ix, "op1", f->dfd, "d/l/g", NULL, NULL), -ELOOP);
	assert_int_equal(count_of(f, "gtwin", &rc), 1);
	assert_int_equal(tlink_leave(f->ix, "op1", f->dfd, "out/g", NULL, NULL), 0);
	assert_int_equal(count_of(f, "gtwin", &rc), 0);
}

static void test_prune(void **state)
{
	struct fx *f = *state;
	struct tlink_key k;
	uint64_t dropped = 9, n;
	int rc;

	mkfile(f->dfd, "keep");
	assert_int_equal(linkat(f->dfd, "keep", f->dfd, "keep2", 0), 0);
	mkfile(f->dfd, "gone");
	assert_int_equal(linkat(f->dfd, "gone", f->dfd, "gone2", 0), 0);
	enter(f, "keep2");
	enter(f, "gone2");
	assert_int_equal(tlink_key_at(f->dfd, "gone", &k), 0);
	assert_int_equal(unlinkat(f->dfd, "gone", 0), 0);
	assert_int_equal(unlinkat(f->dfd, "gone2", 0), 0);
	assert_int_equal(index_tlink_add(f->ix, "junk", 4, 1, NULL), 0);   /* not a handle */

	if (geteuid() != 0) {
		skip();   /* open_by_handle_at needs CAP_DAC_READ_SEARCH */
		return;
	}
	rc = tlink_prune(f->ix, f->dfd, &dropped);
	assert_int_equal(rc, 0);
	assert_int_equal(dropped, 2);   /* the gone inode and the junk key */
	assert_int_equal(index_tlink_count(f->ix, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(count_of(f, "keep", &rc), 1);
	assert_int_equal(rc, 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_live_rule),
		T(test_keys),
		T(test_enter_leave),
		T(test_leave_tree),
		T(test_prune),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
