/*
 * sitepolicy — per-site retention, hold, trash cap and exclusions as xattrs
 * (see sitepolicy.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "engine/sitepolicy.h"
#include "store/layout.h"

static int site_trash(int backing_fd, const char *site, bool create)
{
	int sfd, fd;

	if (!*site || strchr(site, '/') || !strcmp(site, ".") || !strcmp(site, ".."))
		return -EINVAL;
	sfd = openat(backing_fd, site, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0)
		return -errno;
	if (create) {
		fd = layout_site_trash_open(sfd);
	} else {
		fd = openat(sfd, TRASH_NAME, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		fd = fd < 0 ? -errno : fd;
	}
	close(sfd);
	return fd;
}

static int64_t read_num_or(int fd, const char *name, int64_t unset)
{
	char buf[32];
	ssize_t n = fgetxattr(fd, name, buf, sizeof(buf) - 1);

	if (n <= 0)
		return unset;
	buf[n] = '\0';
	return strtoll(buf, NULL, 10);
}

int sitepolicy_get(int backing_fd, const char *site, struct site_policy *p)
{
	int fd = site_trash(backing_fd, site, false);

	p->retention_s = 0;
	p->hold = false;
	p->trash_max = 0;
	p->preserve_max = -1;
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	p->retention_s = read_num_or(fd, SITEPOLICY_RETENTION_XATTR, 0);
	p->hold = read_num_or(fd, SITEPOLICY_HOLD_XATTR, 0) != 0;
	int64_t max = read_num_or(fd, SITEPOLICY_TRASH_MAX_XATTR, 0);
	p->trash_max = max > 0 ? (uint64_t)max : 0;
	p->preserve_max = read_num_or(fd, SITEPOLICY_PRESERVE_XATTR, -1);
	if (p->preserve_max < -1)
		p->preserve_max = -1;
	close(fd);
	return 0;
}

/* v == clear removes the xattr. */
static int set_num(int backing_fd, const char *site, const char *name, int64_t v,
		   int64_t clear)
{
	char buf[32];
	int fd = site_trash(backing_fd, site, true), r = 0;

	if (fd < 0)
		return fd;
	if (v == clear) {
		if (fremovexattr(fd, name) < 0 && errno != ENODATA)
			r = -errno;
	} else {
		int n = snprintf(buf, sizeof(buf), "%" PRId64, v);

		if (fsetxattr(fd, name, buf, (size_t)n, 0) < 0)
			r = -errno;
	}
	close(fd);
	return r;
}

int sitepolicy_set_retention(int backing_fd, const char *site, int64_t retention_s,
			     int64_t floor_s)
{
	if (retention_s < 0 || (retention_s > 0 && retention_s < floor_s))
		return -EINVAL;
	return set_num(backing_fd, site, SITEPOLICY_RETENTION_XATTR, retention_s, 0);
}

int sitepolicy_set_hold(int backing_fd, const char *site, bool hold)
{
	return set_num(backing_fd, site, SITEPOLICY_HOLD_XATTR, hold ? 1 : 0, 0);
}

int sitepolicy_set_preserve_max(int backing_fd, const char *site, int64_t bytes)
{
	if (bytes < -1)
		return -EINVAL;
	return set_num(backing_fd, site, SITEPOLICY_PRESERVE_XATTR, bytes, -1);
}

int sitepolicy_set_trash_max(int backing_fd, const char *site, uint64_t bytes)
{
	if (bytes > INT64_MAX)
		return -EINVAL;
	return set_num(backing_fd, site, SITEPOLICY_TRASH_MAX_XATTR, (int64_t)bytes, 0);
}

/* A list xattr (exclude, nopreserve) of site's .trash: see the header. */
static int get_list(int backing_fd, const char *site, const char *xattr, char *buf, size_t cap)
{
	int fd = site_trash(backing_fd, site, false);
	ssize_t n;

	if (!cap)
		return -ERANGE;
	buf[0] = '\0';
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	n = fgetxattr(fd, xattr, buf, cap - 1);
	if (n < 0) {
		int e = errno;

		close(fd);
		buf[0] = '\0';
		return e == ENODATA ? 0 : -e;
	}
	close(fd);
	buf[n] = '\0';
	return 0;
}

static int set_list(int backing_fd, const char *site, const char *xattr, const char *list)
{
	int fd = site_trash(backing_fd, site, true), r = 0;

	if (fd < 0)
		return fd;
	if (!*list) {
		if (fremovexattr(fd, xattr) < 0 && errno != ENODATA)
			r = -errno;
	} else if (fsetxattr(fd, xattr, list, strlen(list), 0) < 0) {
		r = -errno;
	}
	close(fd);
	return r;
}

int sitepolicy_get_exclude(int backing_fd, const char *site, char *buf, size_t cap)
{
	return get_list(backing_fd, site, SITEPOLICY_EXCLUDE_XATTR, buf, cap);
}

int sitepolicy_set_exclude(int backing_fd, const char *site, const char *list)
{
	return set_list(backing_fd, site, SITEPOLICY_EXCLUDE_XATTR, list);
}

int sitepolicy_get_nopreserve(int backing_fd, const char *site, char *buf, size_t cap)
{
	return get_list(backing_fd, site, SITEPOLICY_NOPRESERVE_XATTR, buf, cap);
}

int sitepolicy_set_nopreserve(int backing_fd, const char *site, const char *list)
{
	return set_list(backing_fd, site, SITEPOLICY_NOPRESERVE_XATTR, list);
}
