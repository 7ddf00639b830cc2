/*
 * layout — the backing store's fixed places (see layout.h).  Stateless,
 * any thread.
 */
#include <errno.h>
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
