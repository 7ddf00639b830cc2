/*
 * test_clock — the trusted elapsed clock (fs/engine/clock.c) with a fake boot
 * clock: it follows the boot clock while "running", resumes from its file
 * across a "restart" without counting the downtime, refuses a corrupt file,
 * and never goes backwards.  A temp directory stands for BACKING/.gracefs.
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

#include "engine/clock.h"
#include "lib/sys.h"
#include "testutil.h"

#define NS INT64_C(1000000000)

static int64_t fake_mono_v, fake_wall_v;
static int64_t fake_mono(void) { return fake_mono_v; }
static int64_t fake_wall(void) { return fake_wall_v; }

struct fx {
	char dir[64];
	int fd;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->dir, "/tmp/gracefs-clock-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->fd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->fd >= 0);
	sys_reset();
	fake_mono_v = 777 * NS;          /* boot clock: arbitrary start */
	fake_wall_v = INT64_C(1893456000) * NS;
	sys.mono_ns = fake_mono;
	sys.wall_ns = fake_wall;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	clock_close();
	sys_reset();
	close(f->fd);
	assert_int_equal(nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS), 0);
	free(f);
	return 0;
}

static void write_clock_file(struct fx *f, const char *text)
{
	int fd = openat(f->fd, CLOCK_FILE, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static int64_t saved(struct fx *f)
{
	char buf[128];
	int fd = openat(f->fd, CLOCK_FILE, O_RDONLY);
	ssize_t n;
	int64_t v = -1;

	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	assert_true(n > 0);
	assert_int_equal(clock_parse(buf, (size_t)n, &v), 0);
	return v;
}

static void test_format_parse(void **state)
{
	(void)state;
	char buf[96];
	int64_t v = -1;
	int n = clock_format(INT64_C(123456789012), buf, sizeof(buf));

	assert_true(n > 0);
	assert_int_equal(clock_parse(buf, (size_t)n, &v), 0);
	assert_int_equal(v, INT64_C(123456789012));
	assert_int_equal(clock_format(0, buf, 8), -ENOBUFS);

	/* a changed digit, a missing newline, trailing bytes, a bad check */
	n = clock_format(5 * NS, buf, sizeof(buf));
	buf[16] = buf[16] == '9' ? '8' : '9';
	assert_int_equal(clock_parse(buf, (size_t)n, &v), -EINVAL);
	n = clock_format(5 * NS, buf, sizeof(buf));
	assert_int_equal(clock_parse(buf, (size_t)n - 1, &v), -EINVAL);
	buf[n] = 'x';
	assert_int_equal(clock_parse(buf, (size_t)n + 1, &v), -EINVAL);
	assert_int_equal(clock_parse("gracefs-clock 1 5000000000 00000000\n", 36, &v), -EINVAL);
	assert_int_equal(clock_parse("", 0, &v), -EINVAL);
	assert_int_equal(clock_parse("gracefs-clock 1 -5 0\n", 21, &v), -EINVAL);
	assert_int_equal(v, INT64_C(123456789012));   /* untouched by failures */
}

/* Running: follows the boot clock only.  Restart: resumes from the file,
 * the downtime (and any wall-clock movement) counts as nothing. */
static void test_resume_without_downtime(void **state)
{
	struct fx *f = *state;
	bool fresh = false;

	assert_int_equal(clock_open(f->fd, &fresh), 0);
	assert_true(fresh);                       /* no file yet */
	assert_int_equal(clock_elapsed_ns(), 0);
	fake_mono_v += 100 * NS;
	fake_wall_v += 86400 * NS;                /* a wall-clock jump: ignored */
	assert_int_equal(clock_elapsed_ns(), 100 * NS);
	assert_int_equal(clock_save(), 0);
	assert_int_equal(saved(f), 100 * NS);
	fake_mono_v += 5 * NS;
	clock_close();                            /* saves: 105 s */
	assert_int_equal(saved(f), 105 * NS);

	/* "reboot": the boot clock starts over, a day of downtime passed */
	fake_mono_v = 3 * NS;
	fake_wall_v += 86400 * NS;
	assert_int_equal(clock_open(f->fd, &fresh), 0);
	assert_false(fresh);
	assert_int_equal(clock_elapsed_ns(), 105 * NS);
	fake_mono_v += 10 * NS;
	assert_int_equal(clock_elapsed_ns(), 115 * NS);
}

/* A crash loses the unsaved time: the clock resumes behind, never ahead. */
static void test_crash_resumes_behind(void **state)
{
	struct fx *f = *state;

	assert_int_equal(clock_open(f->fd, NULL), 0);
	fake_mono_v += 50 * NS;
	assert_int_equal(clock_save(), 0);
	fake_mono_v += 30 * NS;                   /* never saved: "kill -9" */
	assert_int_equal(clock_open(f->fd, NULL), 0);
	assert_int_equal(clock_elapsed_ns(), 50 * NS);
}

/* A corrupt file is not trusted (a larger value would purge early): the
 * clock restarts at 0, fresh, and clock_raise lifts it to a known stamp. */
static void test_corrupt_and_raise(void **state)
{
	struct fx *f = *state;
	bool fresh = false;

	write_clock_file(f, "gracefs-clock 1 999999999999999 deadbeef\n");
	assert_int_equal(clock_open(f->fd, &fresh), 0);
	assert_true(fresh);
	assert_int_equal(clock_elapsed_ns(), 0);
	clock_raise(40 * NS);
	assert_int_equal(clock_elapsed_ns(), 40 * NS);
	clock_raise(10 * NS);                     /* never backwards */
	assert_int_equal(clock_elapsed_ns(), 40 * NS);
	fake_mono_v += NS;
	assert_int_equal(clock_elapsed_ns(), 41 * NS);
	assert_int_equal(clock_save(), 0);
	assert_int_equal(saved(f), 41 * NS);      /* rewritten sound */

	write_clock_file(f, "garbage");
	assert_int_equal(clock_open(f->fd, &fresh), 0);
	assert_true(fresh);
}

/* An unwritable state directory is reported, not ignored. */
static void test_unwritable(void **state)
{
	struct fx *f = *state;
	int fd = open("/proc", O_RDONLY | O_DIRECTORY);

	(void)f;
	assert_true(fd >= 0);
	assert_true(clock_open(fd, NULL) < 0);
	clock_close();
	close(fd);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_format_parse),
		T(test_resume_without_downtime),
		T(test_crash_resumes_behind),
		T(test_corrupt_and_raise),
		T(test_unwritable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
