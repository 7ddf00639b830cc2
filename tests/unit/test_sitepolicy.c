/*
 * test_sitepolicy — a site's retention and hold as xattrs on
 * BACKING/<site>/.trash, against a real mkdtemp directory.  Needs root
 * (trusted.* xattrs).
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
#include <sys/xattr.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine/sitepolicy.h"
#include "engine/trash.h"
#include "testutil.h"

#pragma GCC diagnostic ignored "-Wformat-truncation"

#define DAY INT64_C(86400)

struct fx {
	char tmp[64];
	int bfd;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char p[128];

	assert_non_null(f);
	strcpy(f->tmp, "/tmp/gracefs-sp-XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	snprintf(p, sizeof(p), "%s/site", f->tmp);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/other", f->tmp);
	assert_int_equal(mkdir(p, 0755), 0);
	f->bfd = open(f->tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->bfd >= 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	close(f->bfd);
	assert_int_equal(nftw(f->tmp, rm_one, 8, FTW_DEPTH | FTW_PHYS), 0);
	free(f);
	return 0;
}

static const char *path(struct fx *f, const char *rel)
{
	static char bufs[4][PATH_MAX];
	static int i;
	char *b = bufs[i++ % 4];

	snprintf(b, PATH_MAX, "%s/%s", f->tmp, rel);
	return b;
}

/* The raw xattr on a path, "" with ENODATA as "<none>". */
static const char *raw(const char *p, const char *name)
{
	static char v[64];
	ssize_t n = lgetxattr(p, name, v, sizeof(v) - 1);

	if (n < 0)
		return errno == ENODATA ? "<none>" : strerror(errno);
	v[n] = '\0';
	return v;
}

static void test_defaults(void **state)
{
	struct fx *f = *state;
	struct site_policy p = { .retention_s = 42, .hold = true };

	/* no .trash yet: defaults, and get does not create it */
	assert_int_equal(sitepolicy_get(f->bfd, "site", &p), 0);
	assert_int_equal(p.retention_s, 0);
	assert_false(p.hold);
	assert_false(exists(path(f, "site/.trash")));

	/* a .trash without settings */
	assert_int_equal(mkdir(path(f, "site/.trash"), 0755), 0);
	p = (struct site_policy){ .retention_s = 42, .hold = true };
	assert_int_equal(sitepolicy_get(f->bfd, "site", &p), 0);
	assert_int_equal(p.retention_s, 0);
	assert_false(p.hold);
}

static void test_retention(void **state)
{
	struct fx *f = *state;
	struct site_policy p;

	assert_int_equal(sitepolicy_set_retention(f->bfd, "site", 2 * DAY, DAY), 0);
	assert_true(exists(path(f, "site/.trash")));   /* created for the setting */
	assert_string_equal(raw(path(f, "site/.trash"), SITEPOLICY_RETENTION_XATTR), "172800");
	assert_int_equal(sitepolicy_get(f->bfd, "site", &p), 0);
	assert_int_equal(p.retention_s, 2 * DAY);
	assert_false(p.hold);

	/* the other site is independent */
	assert_int_equal(sitepolicy_get(f->bfd, "other", &p), 0);
	assert_int_equal(p.retention_s, 0);

	/* change it; exactly the floor is allowed */
	assert_int_equal(sitepolicy_set_retention(f->bfd, "site", 90 * DAY, DAY), 0);
	assert_int_equal(sitepolicy_get(f->bfd, "site", &p), 0);
	assert_int_equal(p.retention_s, 90 * DAY);
	assert_int_equal(sitepolicy_set_retention(f->bfd, "site", DAY, DAY), 0);
	assert_int_equal(sitepolicy_get(f->bfd, "site", &p), 0);
	assert_int_equal(p.retention_s, DAY);

	/* 0 clears: the xattr goes, the mount's default applies again */
	assert_int_equal(sitepolicy_set_retention(f->bfd, "site", 0, DAY), 0);
	assert_string_equal(raw(path(f, "site/.trash"), SITEPOLICY_RETENTION_XATTR), "<none>");
	assert_int_equal(sitepolicy_get(f->bfd, "site", &p), 0);
	assert_int_equal(p.retention_s, 0);
	/* clearing what is not set is fine */
	assert_int_equal(sitepolicy_set_retention(f->bfd, "site", 0, DAY), 0);
	assert_int_equal(sitepolicy_set_retention(f->bfd, "other", 0, DAY), 0);

	/* floor 0: anything positive */
	assert_int_equal(sitepolicy_set_retention(f->bfd, "site", 1, 0), 0);
	assert_int_equal(sitepolicy_get(f->bfd, "site", &p), 0);
	assert_int_equal(p.retention_s, 1);
}

static void test_floor(void **state)
{
	struct fx *f = *state;
	struct site_policy p;

	assert_int_equal(sitepolicy_set_retention(f->bfd, "site", 3 * DAY, DAY), 0);
	assert_int_equal(sitepolicy_set_retention(f->bfd, "site", DAY - 1, DAY), -EINVAL);
	assert_int_equal(sitepolicy_set_retention(f->bfd, "site", 1, DAY), -EINVAL);
	assert_int_equal(sitepolicy_set_retention(f->bfd, "site", -1, DAY), -EINVAL);
	assert_int_equal(sitepolicy_set_retention(f->bfd, "site", -1, 0), -EINVAL);
	assert_int_equal(sitepolicy_set_retention(f->bfd, "site", INT64_MIN, 0), -EINVAL);
	assert_int_equal(sitepolicy_get(f->bfd, "site", &p), 0);
	assert_int_equal(p.retention_s, 3 * DAY);   /* unchanged */

	/* a refused setting on a fresh site creates nothing */
	assert_int_equal(sitepolicy_set_retention(f->bfd, "other", 60, DAY), -EINVAL);
	assert_false(exists(path(f, "other/.trash")));
}

static void test_hold(void **state)
{
	struct fx *f = *state;
	struct site_policy p;

	assert_int_equal(sitepolicy_set_hold(f->bfd, "site", true), 0);
	assert_string_equal(raw(path(f, "site/.trash"), SITEPOLICY_HOLD_XATTR), "1");
	assert_int_equal(sitepolicy_get(f->bfd, "site", &p), 0);
	assert_true(p.hold);
	assert_int_equal(p.retention_s, 0);
	assert_int_equal(sitepolicy_get(f->bfd, "other", &p), 0);
	assert_false(p.hold);

	/* hold and retention are independent */
	assert_int_equal(sitepolicy_set_retention(f->bfd, "site", 7 * DAY, DAY), 0);
	assert_int_equal(sitepolicy_get(f->bfd, "site", &p), 0);
	assert_true(p.hold);
	assert_int_equal(p.retention_s, 7 * DAY);
	assert_int_equal(sitepolicy_set_hold(f->bfd, "site", true), 0);   /* idempotent */

	assert_int_equal(sitepolicy_set_hold(f->bfd, "site", false), 0);
	assert_string_equal(raw(path(f, "site/.trash"), SITEPOLICY_HOLD_XATTR), "<none>");
	assert_int_equal(sitepolicy_get(f->bfd, "site", &p), 0);
	assert_false(p.hold);
	assert_int_equal(p.retention_s, 7 * DAY);
	assert_int_equal(sitepolicy_set_hold(f->bfd, "site", false), 0);
}

/* trash_max and the exclusion list sit next to hold and retention. */
static void test_space_settings(void **state)
{
	struct fx *f = *state;
	struct site_policy p;
	char list[64];

	assert_int_equal(sitepolicy_get_exclude(f->bfd, "site", list, sizeof(list)), 0);
	assert_string_equal(list, "");   /* no .trash yet: nothing excluded */
	assert_int_equal(sitepolicy_set_trash_max(f->bfd, "site", UINT64_C(3) << 20), 0);
	assert_string_equal(raw(path(f, "site/.trash"), SITEPOLICY_TRASH_MAX_XATTR), "3145728");
	assert_int_equal(sitepolicy_get(f->bfd, "site", &p), 0);
	assert_int_equal(p.trash_max, UINT64_C(3) << 20);
	assert_false(p.hold);
	assert_int_equal(sitepolicy_set_trash_max(f->bfd, "site", UINT64_MAX), -EINVAL);
	assert_int_equal(sitepolicy_set_trash_max(f->bfd, "site", 0), 0);
	assert_string_equal(raw(path(f, "site/.trash"), SITEPOLICY_TRASH_MAX_XATTR), "<none>");

	assert_int_equal(sitepolicy_set_exclude(f->bfd, "site", "*.tmp,cache/**"), 0);
	assert_int_equal(sitepolicy_get_exclude(f->bfd, "site", list, sizeof(list)), 0);
	assert_string_equal(list, "*.tmp,cache/**");
	assert_int_equal(sitepolicy_get_exclude(f->bfd, "site", list, 5), -ERANGE);
	assert_int_equal(sitepolicy_set_exclude(f->bfd, "site", ""), 0);
	assert_int_equal(sitepolicy_get_exclude(f->bfd, "site", list, sizeof(list)), 0);
	assert_string_equal(list, "");
	assert_int_equal(sitepolicy_set_exclude(f->bfd, "site", ""), 0);   /* idempotent */
	assert_int_equal(sitepolicy_set_exclude(f->bfd, "../x", "a"), -EINVAL);

	/* nopreserve: its own xattr, the same rules */
	assert_int_equal(sitepolicy_set_exclude(f->bfd, "site", "*.tmp"), 0);
	assert_int_equal(sitepolicy_set_nopreserve(f->bfd, "site", "*.sqlite,*-wal"), 0);
	assert_string_equal(raw(path(f, "site/.trash"), SITEPOLICY_NOPRESERVE_XATTR),
			    "*.sqlite,*-wal");
	assert_int_equal(sitepolicy_get_nopreserve(f->bfd, "site", list, sizeof(list)), 0);
	assert_string_equal(list, "*.sqlite,*-wal");
	assert_int_equal(sitepolicy_get_exclude(f->bfd, "site", list, sizeof(list)), 0);
	assert_string_equal(list, "*.tmp");   /* untouched */
	assert_int_equal(sitepolicy_set_nopreserve(f->bfd, "site", ""), 0);
	assert_int_equal(sitepolicy_get_nopreserve(f->bfd, "site", list, sizeof(list)), 0);
	assert_string_equal(list, "");
	assert_int_equal(sitepolicy_get_nopreserve(f->bfd, "nosuch", list, sizeof(list)), 0);
	assert_string_equal(list, "");
}

/* Values written by someone else: "0" is no hold; garbage reads as unset. */
static void test_foreign_values(void **state)
{
	struct fx *f = *state;
	struct site_policy p;

	assert_int_equal(mkdir(path(f, "site/.trash"), 0755), 0);
	assert_int_equal(setxattr(path(f, "site/.trash"), SITEPOLICY_HOLD_XATTR, "0", 1, 0), 0);
	assert_int_equal(setxattr(path(f, "site/.trash"), SITEPOLICY_RETENTION_XATTR, "abc", 3, 0), 0);
	assert_int_equal(sitepolicy_get(f->bfd, "site", &p), 0);
	assert_false(p.hold);
	assert_int_equal(p.retention_s, 0);
}

static void test_bad_sites(void **state)
{
	struct fx *f = *state;
	struct site_policy p;
	static const char *const bad[] = { "", ".", "..", "a/b", "site/", "/site", NULL };

	for (int i = 0; bad[i]; i++) {
		assert_int_equal(sitepolicy_set_hold(f->bfd, bad[i], true), -EINVAL);
		assert_int_equal(sitepolicy_set_retention(f->bfd, bad[i], 2 * DAY, DAY), -EINVAL);
		assert_int_equal(sitepolicy_get(f->bfd, bad[i], &p), -EINVAL);
	}
	/* a site that does not exist is not created */
	assert_true(sitepolicy_set_hold(f->bfd, "nosuch", true) < 0);
	assert_false(exists(path(f, "nosuch")));
	/* a regular file where a site would be */
	close(open(path(f, "file"), O_CREAT | O_WRONLY, 0644));
	assert_int_equal(sitepolicy_set_hold(f->bfd, "file", true), -ENOTDIR);
}

/* Symlinks are never followed: neither a site that is one, nor a .trash. */
static void test_symlinks(void **state)
{
	struct fx *f = *state;
	struct site_policy p;

	assert_int_equal(symlink("site", path(f, "lnk")), 0);
	assert_true(sitepolicy_set_hold(f->bfd, "lnk", true) < 0);
	assert_true(sitepolicy_set_retention(f->bfd, "lnk", 2 * DAY, DAY) < 0);
	assert_false(exists(path(f, "site/.trash")));

	assert_int_equal(mkdir(path(f, "elsewhere"), 0755), 0);
	assert_int_equal(symlink("../elsewhere", path(f, "other/.trash")), 0);
	assert_true(sitepolicy_set_hold(f->bfd, "other", true) < 0);
	assert_string_equal(raw(path(f, "elsewhere"), SITEPOLICY_HOLD_XATTR), "<none>");
	assert_int_equal(setxattr(path(f, "elsewhere"), SITEPOLICY_HOLD_XATTR, "1", 1, 0), 0);
	p.hold = false;
	sitepolicy_get(f->bfd, "other", &p);
	assert_false(p.hold);   /* the target's xattr is not the site's */
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_defaults),
		T(test_retention),
		T(test_floor),
		T(test_hold),
		T(test_space_settings),
		T(test_foreign_values),
		T(test_bad_sites),
		T(test_symlinks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
