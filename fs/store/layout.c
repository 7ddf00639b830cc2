/*
 * layout — the backing store's fixed places (see layout.h).  Stateless,
 * any thread.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/layout.h"
#include "lib/sys.h"

int layout_site_trash_open(int site_fd)
{
	int r = sys.mkdirat(site_fd, TRASH_NAME, 0755), fd;
	bool created = r == 0;

	if (r < 0 && errno != EEXIST)
		return -errno;
	fd = openat(site_fd, TRASH_NAME, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* the calling thread carries some request's umask: set the mode */
	if (created && fchmod(fd, 0755) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* BACKING/.gracefs/trash/<op>, opened, or -errno. */
static int root_op_open(int backing_fd, const char *op)
{
	int s = openat(backing_fd, TRASH_STATE_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC),
	    t = s >= 0 ? openat(s, "trash", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1,
	    o = t >= 0 && *op && !strchr(op, '/') ?
		openat(t, op, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
	int err = o >= 0 ? 0 : errno ? -errno : -ENOENT;

	if (t >= 0)
		close(t);
	if (s >= 0)
		close(s);
	return o >= 0 ? o : err;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int layout_root_op_sites(int backing_fd, const char *op, char *buf, size_t cap)
{
	int o = root_op_open(backing_fd, op), err = 0;
	char **v = NULL;
	struct dirent *de;
	size_t n = 0, len = 0;
	DIR *d;

	if (cap)
		buf[0] = '\0';
	if (o < 0)
		return o;
	if (!(d = fdopendir(o))) {
		close(o);
		return -errno;
	}
	while (!err && (de = readdir(d))) {
		char **nv;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!(nv = realloc(v, (n + 1) * sizeof(*v))) || !(nv[n] = strdup(de->d_name)))
			err = -ENOMEM;
		else
			n++;
		v = nv ? nv : v;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_str);
	for (size_t i = 0; i < n; i++) {
		size_t w = strlen(v[i]);

		if (!err && len + w + 2 <= cap) {
			if (i)
				buf[len++] = ',';
			memcpy(buf + len, v[i], w + 1);
			len += w;
		}
		free(v[i]);
	}
	free(v);
	if (err && cap)
		buf[0] = '\0';
	return err ? err : (int)n;
}

bool layout_root_op_has(int backing_fd, const char *op, const char *site)
{
	struct stat st;
	int o = root_op_open(backing_fd, op);
	bool has = o >= 0 && fstatat(o, site, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);

	if (o >= 0)
		close(o);
	return has;
}

bool layout_site_in_list(const char *list, const char *site)
{
	size_t n = strlen(site);

	for (const char *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (!strncmp(p, site, n) && (p[n] == ',' || !p[n]))
			return true;
	return false;
}
