/*
 * testutil — helpers the unit tests share: files on real temp directories.
 * Header-only (static inline) so each test links only what it uses.
 */
#ifndef GRACEFS_TESTUTIL_H
#define GRACEFS_TESTUTIL_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static inline void assert_content(const char *path, const char *want)
{
	char buf[4096];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		fail_msg("%s: cannot open (%s)", path, strerror(errno));
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n >= 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

static inline bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static inline int rm_one(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st, (void)type, (void)ftw;
	return remove(p);
}

static inline ino_t ino_of(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		fail_msg("%s: %s", path, strerror(errno));
	return st.st_ino;
}

/* rm -rf path (no symlink is followed). */
static inline int rm_tree(const char *path)
{
	return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* base/<printf fmt> in one of 8 rotating static buffers (so a few can be
 * used in one expression). */
__attribute__((format(printf, 2, 3)))
static inline const char *tu_pathf(const char *base, const char *fmt, ...)
{
	static char bufs[8][PATH_MAX];
	static int i;
	char *b = bufs[i++ % 8], rel[PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	if (snprintf(b, PATH_MAX, "%s/%s", base, rel) >= PATH_MAX)
		fail_msg("path too long: %s/%s", base, rel);
	return b;
}

/* A fresh temp directory tmp (from the template "/tmp/gracefs-<tag>-XXXXXX")
 * holding BACKING = tmp/b with the given top-level directories (sites,
 * NULL-terminated); idx gets tmp/idx (not created).  Buffers are
 * PATH_MAX-safe for their size.  Returns BACKING's O_RDONLY fd. */
static inline int tu_backing(char *tmp, size_t tcap, char *b, size_t bcap, char *idx,
			     size_t icap, const char *tag, const char *const *sites)
{
	char p[PATH_MAX];
	int fd;

	snprintf(tmp, tcap, "/tmp/gracefs-%s-XXXXXX", tag);
	assert_non_null(mkdtemp(tmp));
	snprintf(b, bcap, "%s/b", tmp);
	snprintf(idx, icap, "%s/idx", tmp);
	assert_int_equal(mkdir(b, 0755), 0);
	for (; sites && *sites; sites++) {
		snprintf(p, sizeof(p), "%s/%s", b, *sites);
		assert_int_equal(mkdir(p, 0755), 0);
	}
	fd = open(b, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

#endif
