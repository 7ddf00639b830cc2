/*
 * passthru — backing registrations and bookkeeping of open files
 * (see passthru.h; the rule is ptpolicy.h's).
 *
 * Threading: `lock` guards every inode's pt_inode, the fd table and the
 * counters.  A registration is made and dropped under it, so two opens of
 * one inode never register twice, and the last release never drops a
 * registration an open is about to name in its reply.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/fuseio.h"
#include "daemon/passthru.h"
#include "lib/log.h"
#include "lib/privs.h"

enum { FD_NONE, FD_PASSTHRU, FD_DAEMON };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char *fds;   /* by backing fd number: FD_* */
static size_t nfds;
static struct passthru_counters counters;

static int fd_kind(int fd)
{
	return fd >= 0 && (size_t)fd < nfds ? fds[fd] : FD_NONE;
}

static int set_fd(int fd, int kind)
{
	if (fd < 0)
		return -EBADF;
	if ((size_t)fd >= nfds) {
		size_t n = (size_t)fd + 1 > nfds * 2 ? (size_t)fd + 64 : nfds * 2;
		unsigned char *p;

		if (kind == FD_NONE)
			return 0;
		if (!(p = realloc(fds, n)))
			return -ENOMEM;
		memset(p + nfds, FD_NONE, n - nfds);
		fds = p;
		nfds = n;
	}
	fds[fd] = (unsigned char)kind;
	return 0;
}

/* Register fd as uid (the kernel keeps these creds for its I/O: writes
 * are the writer's, for reserved blocks as on the daemon path).  The id,
 * or 0: the daemon path. */
static unsigned do_register(int fd, uid_t uid)
{
	static int logged_err;
	uid_t prev = privs_fsuid_enter(uid);
	int id = fuseio_backing_open(fd);

	privs_fsuid_leave(prev);
	if (id > 0)
		return (unsigned)id;
	counters.failures++;
	if (id == -EPERM) {   /* every later one would fail alike */
		fuseio_passthrough_failed(-id);
	} else if (logged_err != -id) {
		logged_err = -id;
		log_msg(LOG_WARNING, "passthrough: cannot register a backing file (%s):"
			" that open, and any alike, goes through the daemon", strerror(-id));
	}
	return 0;
}

int passthru_open(struct inode *ino, int fd, uid_t uid, enum pt_class c, uint32_t *backing_id)
{
	struct pt_inode *s = inode_pt(ino);
	int kind = FD_DAEMON, r;

	*backing_id = 0;
	pthread_mutex_lock(&lock);
	if ((r = set_fd(fd, FD_DAEMON)) < 0)
		goto out;   /* room for fd first: nothing below fails */
	switch (ptpolicy_decide(c, s, fuseio_passthrough_on())) {
	case PTD_PRESERVE:
		fds[fd] = FD_NONE;
		r = PASSTHRU_PRESERVE;
		goto out;
	case PTD_REGISTER:
		if ((s->backing_id = do_register(fd, uid)) == 0)
			break;   /* the daemon path */
		counters.backing++;
		/* fall through */
	case PTD_JOIN:
		kind = FD_PASSTHRU;
		*backing_id = s->backing_id;
		s->passthru++;
		counters.opens++;
		counters.preserved += c == PT_PRESERVED;
		break;
	case PTD_DAEMON:
		break;
	}
	if (kind == FD_DAEMON) {
		s->daemon++;
		counters.daemon++;
	}
	fds[fd] = (unsigned char)kind;
out:
	pthread_mutex_unlock(&lock);
	return r;
}

void passthru_release(struct inode *ino, int fd)
{
	struct pt_inode *s = inode_pt(ino);

	pthread_mutex_lock(&lock);
	switch (fd_kind(fd)) {
	case FD_PASSTHRU:
		if (s->passthru > 0 && --s->passthru == 0 && s->backing_id) {
			fuseio_backing_close(s->backing_id);
			s->backing_id = 0;
			counters.backing--;
		}
		break;
	case FD_DAEMON:
		if (s->daemon > 0)
			s->daemon--;
		break;
	}
	set_fd(fd, FD_NONE);
	pthread_mutex_unlock(&lock);
}

void passthru_get_counters(struct passthru_counters *out)
{
	pthread_mutex_lock(&lock);
	*out = counters;
	pthread_mutex_unlock(&lock);
}
