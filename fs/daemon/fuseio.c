/*
 * fuseio — the daemon's FUSE device I/O (see fuseio.h).
 *
 * Threading: the session loop's workers call these concurrently, each on
 * its own request; the only shared state is whether the first reply (the
 * INIT reply: the kernel sends nothing else before it is answered) has
 * gone, an atomic flag.
 */
#include <fcntl.h>   /* splice */
#include <linux/fuse.h>
#include <stdatomic.h>
#include <unistd.h>

#include "daemon/fuseinit.h"
#include "daemon/fuseio.h"
#include "lib/log.h"

static atomic_bool first_sent;

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	(void)userdata;
	if (!atomic_load_explicit(&first_sent, memory_order_relaxed) &&
	    !atomic_exchange(&first_sent, true) &&
	    fuseinit_raise(iov, count, FUSE_HANDLE_KILLPRIV_V2))
		log_msg(LOG_DEBUG, "INIT: asked for FUSE_HANDLE_KILLPRIV_V2");
	return writev(fd, iov, count);
}

static ssize_t io_read(int fd, void *buf, size_t len, void *userdata)
{
	(void)userdata;
	return read(fd, buf, len);
}

static ssize_t io_splice(int fdin, off_t *offin, int fdout, off_t *offout, size_t len,
			 unsigned int flags, void *userdata)
{
	(void)userdata;
	return splice(fdin, offin, fdout, offout, len, flags);
}

int fuseio_attach(struct fuse_session *se)
{
	static const struct fuse_custom_io io = {
		.writev = io_writev,
		.read = io_read,
		.splice_receive = io_splice,
		.splice_send = io_splice,
	};

	return fuse_session_custom_io(se, &io, fuse_session_fd(se));
}
