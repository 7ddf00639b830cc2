/*
 * fuseio — the daemon's FUSE device I/O (see fuseio.h).
 *
 * Threading: the session loop's workers call these concurrently, each on
 * its own request.  Shared: the flags the INIT request offered and whether
 * the first reply (the INIT reply: the kernel sends nothing else before it
 * is answered) has gone, and passthrough's state, all atomics.  A reply's
 * passthrough id goes from fuseio_reply_* to io_writev in a thread-local:
 * libfuse sends a reply on the thread that makes it.
 */
#include <errno.h>
#include <fcntl.h>   /* splice */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "daemon/fusegate.h"
#include "daemon/fuseinit.h"
#include "daemon/fuseio.h"
#include "lib/log.h"

/* fuseinit_pt's states, and two more */
enum {
	PT_ON = FUSEINIT_PT_ON,
	PT_OFF_OPTION = FUSEINIT_PT_OFF_OPTION,
	PT_OFF_VETO = FUSEINIT_PT_OFF_VETO,   /* veto_why */
	PT_OFF_KERNEL = FUSEINIT_PT_OFF_KERNEL,
	PT_PENDING,      /* before the INIT reply */
	PT_OFF_IOCTL,    /* FUSE_DEV_IOC_BACKING_OPEN failed: ioctl_err */
};

static atomic_bool first_read, first_sent;
static _Atomic uint64_t offered;      /* the INIT request's flags */
static atomic_int pt_state = PT_PENDING;
static bool pt_wanted;                /* set before the loop */
static const char *_Atomic veto_why;
static atomic_int ioctl_err;
static int dev_fd = -1;               /* the session's /dev/fuse fd */
static _Thread_local uint32_t reply_backing;

/* The INIT reply: ask for what libfuse cannot. */
static void raise_init(struct iovec *iov, int count)
{
	uint64_t flags = FUSE_HANDLE_KILLPRIV_V2;
	uint32_t depth = 0;
	int st = (int)fuseinit_passthrough_choice(pt_wanted, atomic_load(&veto_why) != NULL,
						  atomic_load(&offered));

	if (st == PT_ON) {
		flags |= FUSE_PASSTHROUGH;
		depth = FUSEINIT_STACK_DEPTH;
	}
	if (!fuseinit_raise(iov, count, flags, depth)) {
		st = st == PT_ON ? PT_OFF_KERNEL : st;   /* a reply we cannot extend */
		fuseinit_raise(iov, count, FUSE_HANDLE_KILLPRIV_V2, 0);
	}
	atomic_store(&pt_state, st);
	log_msg(LOG_DEBUG, "INIT: asked for FUSE_HANDLE_KILLPRIV_V2%s",
		st == PT_ON ? " and FUSE_PASSTHROUGH" : "");
	if (st != PT_OFF_OPTION) {
		char why[96];

		log_msg(st == PT_ON ? LOG_INFO : LOG_NOTICE, "passthrough: %s",
			fuseio_passthrough_status(why, sizeof(why)));
	}
}

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	(void)userdata;
	if (!atomic_load_explicit(&first_sent, memory_order_relaxed) &&
	    !atomic_exchange(&first_sent, true))
		raise_init(iov, count);
	else if (reply_backing)
		fuseinit_passthrough_reply(iov, count, reply_backing);
	return writev(fd, iov, count);
}

static ssize_t io_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t n;
	uint64_t f;
	int e;

	(void)userdata;
	fusegate_enter();
	n = read(fd, buf, len);
	e = errno;
	fusegate_got(fd, n);
	errno = e;
	/* the first request is INIT, read before splice is negotiated */
	if (n > 0 && !atomic_load_explicit(&first_read, memory_order_relaxed) &&
	    !atomic_exchange(&first_read, true) && fuseinit_offered(buf, (size_t)n, &f))
		atomic_store(&offered, f);
	return n;
}

static ssize_t io_splice(int fdin, off_t *offin, int fdout, off_t *offout, size_t len,
			 unsigned int flags, void *userdata)
{
	(void)userdata;
	return splice(fdin, offin, fdout, offout, len, flags);
}

/* A request spliced from the device (fdin) into the worker's pipe. */
static ssize_t io_splice_receive(int fdin, off_t *offin, int fdout, off_t *offout,
				 size_t len, unsigned int flags, void *userdata)
{
	ssize_t n;
	int e;

	(void)userdata;
	fusegate_enter();
	n = splice(fdin, offin, fdout, offout, len, flags);
	e = errno;
	fusegate_got(fdin, n);
	errno = e;
	return n;
}

int fuseio_attach(struct fuse_session *se, bool passthrough)
{
	static const struct fuse_custom_io io = {
		.writev = io_writev,
		.read = io_read,
		.splice_receive = io_splice_receive,
		.splice_send = io_splice,
	};

	pt_wanted = passthrough;
	dev_fd = fuse_session_fd(se);
	return fuse_session_custom_io(se, &io, dev_fd);
}

void fuseio_passthrough_veto(const char *why)
{
	atomic_store(&veto_why, why);
}

bool fuseio_passthrough_on(void)
{
	return atomic_load_explicit(&pt_state, memory_order_relaxed) == PT_ON;
}

int fuseio_backing_open(int fd)
{
	struct fuse_backing_map map = { .fd = fd };
	int id = ioctl(dev_fd, FUSE_DEV_IOC_BACKING_OPEN, &map);

	return id < 0 ? -errno : id == 0 ? -EIO : id;
}

void fuseio_backing_close(uint32_t id)
{
	if (ioctl(dev_fd, FUSE_DEV_IOC_BACKING_CLOSE, &id) < 0)
		log_msg(LOG_WARNING, "passthrough: cannot release backing file %u: %s",
			id, strerror(errno));
}

void fuseio_passthrough_failed(int err)
{
	int on = PT_ON;

	atomic_store(&ioctl_err, err);
	if (atomic_compare_exchange_strong(&pt_state, &on, PT_OFF_IOCTL)) {
		char why[96];

		log_msg(LOG_WARNING, "passthrough: %s", fuseio_passthrough_status(why, sizeof(why)));
	}
}

const char *fuseio_passthrough_status(char *buf, size_t size)
{
	switch (atomic_load(&pt_state)) {
	case PT_PENDING:
		snprintf(buf, size, "pending");
		break;
	case PT_ON:
		snprintf(buf, size, "on");
		break;
	case PT_OFF_OPTION:
		snprintf(buf, size, "off (-o passthrough=off)");
		break;
	case PT_OFF_VETO:
		snprintf(buf, size, "off (%s)", atomic_load(&veto_why));
		break;
	case PT_OFF_KERNEL:
		snprintf(buf, size, "off (the kernel does not offer FUSE_PASSTHROUGH)");
		break;
	default:
		snprintf(buf, size, "off (FUSE_DEV_IOC_BACKING_OPEN: %s)",
			 strerror(atomic_load(&ioctl_err)));
	}
	return buf;
}

int fuseio_reply_open(fuse_req_t req, const struct fuse_file_info *fi, uint32_t backing_id)
{
	int r;

	reply_backing = backing_id;
	r = fuse_reply_open(req, fi);
	reply_backing = 0;
	return r;
}

int fuseio_reply_create(fuse_req_t req, const struct fuse_entry_param *e,
			const struct fuse_file_info *fi, uint32_t backing_id)
{
	int r;

	reply_backing = backing_id;
	r = fuse_reply_create(req, e, fi);
	reply_backing = 0;
	return r;
}
