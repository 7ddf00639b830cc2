/*
 * test_wbtimes — the kernel's mtime kept across late WRITEs (wbtimes.h),
 * on real files in a temp directory: a pwrite after the recorded time is
 * undone by wbtimes_after_write, the newest SETATTR time wins, forgotten
 * and unknown fds are left alone.
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
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/wbtimes.h"

static char path[64];

static int setup(void **state)
{
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/test_wbtimes.XXXXXX");
	if ((fd = mkstemp(path)) < 0)
		return -1;
	return close(fd);
}

static int teardown(void **state)
{
	(void)state;
	return unlink(path);
}

static struct timespec mtime_of(int fd)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	return st.st_mtim;
}

static void assert_mtime(int fd, time_t sec, long nsec)
{
	struct timespec t = mtime_of(fd);

	assert_int_equal(t.tv_sec, sec);
	assert_int_equal(t.tv_nsec, nsec);
}

static int open_rw(void)
{
	int fd = open(path, O_RDWR);

	assert_true(fd >= 0);
	return fd;
}

/* A WRITE after open puts back the time the kernel knew at open. */
static void test_open_time_kept(void **state)
{
	struct timespec old = { 1000000000, 123456789 }, ts[2] = { { .tv_nsec = UTIME_OMIT }, old };
	int fd = open_rw();

	(void)state;
	assert_int_equal(futimens(fd, ts), 0);
	wbtimes_open(fd, &old);
	assert_int_equal(pwrite(fd, "x", 1, 0), 1);
	assert_int_not_equal(mtime_of(fd).tv_sec, old.tv_sec);   /* pwrite stamped it */
	assert_int_equal(wbtimes_after_write(fd), 0);
	assert_mtime(fd, 1000000000, 123456789);
	wbtimes_forget(fd);
	close(fd);
}

/* The SETATTR's time replaces the open's, also for a WRITE that lands
 * after it (the race the module exists for). */
static void test_setattr_time_wins(void **state)
{
	struct timespec t1 = { 1100000000, 1 }, t2[2] = { { .tv_nsec = UTIME_OMIT }, { 1200000000, 2 } };
	int fd = open_rw();

	(void)state;
	wbtimes_open(fd, &t1);
	assert_int_equal(wbtimes_futimens(fd, t2), 0);
	assert_mtime(fd, 1200000000, 2);
	assert_int_equal(pwrite(fd, "y", 1, 1), 1);   /* the late WRITE */
	assert_int_equal(wbtimes_after_write(fd), 0);
	assert_mtime(fd, 1200000000, 2);
	wbtimes_forget(fd);
	close(fd);
}

/* UTIME_NOW is applied and not recorded; a forgotten or unknown fd is
 * left alone by later writes. */
static void test_now_and_forget(void **state)
{
	struct timespec t1 = { 1300000000, 3 };
	struct timespec now[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_NOW } };
	int fd = open_rw();
	struct timespec after;

	(void)state;
	assert_int_equal(wbtimes_futimens(fd, now), 0);
	assert_true(mtime_of(fd).tv_sec > 1300000000);
	assert_int_equal(pwrite(fd, "z", 1, 2), 1);
	after = mtime_of(fd);
	assert_int_equal(wbtimes_after_write(fd), 0);   /* nothing recorded */
	assert_int_equal(mtime_of(fd).tv_nsec, after.tv_nsec);

	wbtimes_open(fd, &t1);
	wbtimes_forget(fd);
	assert_int_equal(pwrite(fd, "w", 1, 3), 1);
	after = mtime_of(fd);
	assert_int_equal(wbtimes_after_write(fd), 0);
	assert_int_equal(mtime_of(fd).tv_sec, after.tv_sec);
	assert_int_equal(mtime_of(fd).tv_nsec, after.tv_nsec);
	close(fd);
}

/* Two fds of one file are tracked apart. */
static void test_per_fd(void **state)
{
	struct timespec a = { 1400000000, 4 }, b = { 1500000000, 5 };
	int fa = open_rw(), fb = open_rw();

	(void)state;
	wbtimes_open(fa, &a);
	wbtimes_open(fb, &b);
	assert_int_equal(wbtimes_after_write(fa), 0);
	assert_mtime(fa, 1400000000, 4);
	assert_int_equal(wbtimes_after_write(fb), 0);
	assert_mtime(fa, 1500000000, 5);
	wbtimes_forget(fa);
	wbtimes_forget(fb);
	close(fa);
	close(fb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_time_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_setattr_time_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_now_and_forget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_per_fd, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
