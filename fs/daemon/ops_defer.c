/*
 * ops_defer — requests that may copy a file before they act (a truncation:
 * setattr to a smaller size, open with O_TRUNC, fallocate punching a hole)
 * run on the copy pool (lib/fairq.h, keyed by the caller's uid) instead of
 * the FUSE worker that read them.  A preservation copy of 60 MB then never
 * holds one of libfuse's worker threads — neither while it copies nor
 * while it waits for a slot of its uid (overwrite.h's copy gate) — so
 * another tenant's unlink finds a free worker, and one tenant's dozen
 * parallel truncations run preserve_per_uid at a time while the others
 * wait in that tenant's own queue (issue 21).
 *
 * A request is handed over only when a copy is possible (a live regular
 * file that holds bytes past what is kept); the handler then runs again on
 * the pool thread, with its arguments copied (libfuse's live only until the
 * handler returns), and replies from there.  Without a pool (startup, a
 * failed thread start) it runs where it is, as before.
 *
 * An in-place WRITE that must preserve the file first (ops_guard.c decides,
 * without copying) is handed over too, with a copy of its data (libfuse's
 * buffer, or pipe, is the worker's).
 *
 * So are copy_file_range into existing bytes (the same decision) and a
 * CREATE with O_TRUNC that meets an existing file with data (the kernel
 * sends OPEN for a name it knows; a CREATE meets one only when the name
 * appeared meanwhile).  No preservation copy runs in a FUSE worker while
 * the pool is up.
 *
 * The pool's threads run at a lower CPU and I/O priority (nice +10, best
 * effort level 7): a copy is bulk work, and on a small machine two copies
 * would otherwise take both cores from the requests of everybody else.
 *
 * Threading: on_pool and lowered are per thread; the pool is g->copyq.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "daemon/dircache.h"
#include "daemon/ops_int.h"
#include "lib/fairq.h"

#define COPY_NICE 10
#define IOPRIO_CLASS_BE 2
#define IOPRIO_PRIO_VALUE(class, data) (((class) << 13) | (data))
#define IOPRIO_WHO_PROCESS 1

static __thread bool on_pool;   /* this thread runs a handed-over request */
static __thread bool lowered;   /* this pool thread's priority is lowered */

/* Bulk work: this thread yields the CPU and the disk to requests.  (Best
 * effort: a failure leaves the priority as it was.) */
static void lower_priority(void)
{
	pid_t tid = (pid_t)syscall(SYS_gettid);

	lowered = true;
	setpriority(PRIO_PROCESS, (id_t)tid, COPY_NICE);
	syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, tid, IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, 7));
}

enum kind { D_SETATTR, D_OPEN, D_FALLOCATE, D_WRITE, D_COPY_RANGE, D_CREATE };

struct deferred {
	enum kind kind;
	fuse_req_t req;
	fuse_ino_t ino;
	struct stat attr;              /* setattr */
	int to_set;
	int mode;                      /* fallocate, create */
	off_t off, len;
	bool has_fi;
	struct fuse_file_info fi;
	/* copy_file_range: the source (ino, off, fi: the target), len, flags */
	fuse_ino_t ino_in;
	off_t off_in;
	struct fuse_file_info fi_in;
	int flags;
	size_t size;                   /* write: data[size]; create: the name */
	char data[];
};

/* Could preserving ino before keeping keep bytes copy anything? */
static bool may_copy(fuse_ino_t ino, off_t keep)
{
	struct inode *i = I(ino);
	struct stat st;
	struct where w;
	int fd;
	bool r;

	inode_where(i, &w);
	if (w.zone != Z_LIVE || inode_is_dir(i) || inode_is_symlink(i))
		return false;
	if ((fd = inode_open(i, O_PATH)) < 0)
		return false;   /* the handler reports it */
	r = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > (keep < 0 ? 0 : keep);
	close(fd);
	return r;
}

static void run(void *arg)
{
	struct deferred *d = arg;
	struct fuse_file_info *fi = d->has_fi ? &d->fi : NULL;

	if (!lowered)
		lower_priority();
	on_pool = true;
	switch (d->kind) {
	case D_SETATTR:
		gfs_setattr(d->req, d->ino, &d->attr, d->to_set, fi);
		break;
	case D_OPEN:
		gfs_open(d->req, d->ino, &d->fi);
		break;
	case D_FALLOCATE:
		gfs_fallocate(d->req, d->ino, d->mode, d->off, d->len, &d->fi);
		break;
	case D_COPY_RANGE:
		gfs_copy_file_range(d->req, d->ino_in, d->off_in, &d->fi_in, d->ino, d->off,
				    &d->fi, (size_t)d->len, d->flags);
		break;
	case D_CREATE:
		gfs_create(d->req, d->ino, d->data, (mode_t)d->mode, &d->fi);
		break;
	case D_WRITE: {
		struct fuse_bufvec in = FUSE_BUFVEC_INIT(d->size);

		in.buf[0].mem = d->data;
		gfs_write_buf(d->req, d->ino, &in, d->off, &d->fi);
		break;
	}
	}
	on_pool = false;
	free(d);
}

/* Hand d over (true: the pool replies) or not (false: run it here). */
static bool hand_over(struct deferred *d)
{
	struct gfs *g = G(d->req);

	if (!g->copyq ||
	    fairq_submit(g->copyq, (uint32_t)fuse_req_ctx(d->req)->uid, run, d) < 0) {
		free(d);
		return false;
	}
	return true;
}

static struct deferred *new_deferred(fuse_req_t req, enum kind kind, fuse_ino_t ino,
				     const struct fuse_file_info *fi, size_t size)
{
	struct deferred *d;

	if (on_pool || !G(req)->copyq || !(d = calloc(1, sizeof(*d) + size)))
		return NULL;
	d->size = size;
	d->kind = kind;
	d->req = req;
	d->ino = ino;
	if ((d->has_fi = fi != NULL))
		d->fi = *fi;
	return d;
}

bool defer_setattr(fuse_req_t req, fuse_ino_t ino, const struct stat *attr, int to_set,
		   const struct fuse_file_info *fi)
{
	struct deferred *d;

	if (on_pool || !(to_set & FUSE_SET_ATTR_SIZE) || !G(req)->copyq ||
	    !may_copy(ino, attr->st_size) || !(d = new_deferred(req, D_SETATTR, ino, fi, 0)))
		return false;
	d->attr = *attr;
	d->to_set = to_set;
	return hand_over(d);
}

bool defer_open(fuse_req_t req, fuse_ino_t ino, const struct fuse_file_info *fi)
{
	struct deferred *d;

	if (on_pool || !(fi->flags & O_TRUNC) || !G(req)->copyq || !may_copy(ino, 0) ||
	    !(d = new_deferred(req, D_OPEN, ino, fi, 0)))
		return false;
	return hand_over(d);
}

bool defer_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
		     const struct fuse_file_info *fi)
{
	struct deferred *d;

	if (on_pool ||
	    !(mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE | FALLOC_FL_COLLAPSE_RANGE)) ||
	    !G(req)->copyq || !may_copy(ino, off) ||
	    !(d = new_deferred(req, D_FALLOCATE, ino, fi, 0)))
		return false;
	d->mode = mode;
	d->off = off;
	d->len = len;
	return hand_over(d);
}

bool defer_write(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in, off_t off,
		 const struct fuse_file_info *fi)
{
	size_t n = fuse_buf_size(in);
	struct deferred *d = new_deferred(req, D_WRITE, ino, fi, n);
	struct fuse_bufvec mem = FUSE_BUFVEC_INIT(n);

	if (!d)
		return false;
	mem.buf[0].mem = d->data;
	if (fuse_buf_copy(&mem, in, 0) != (ssize_t)n) {
		free(d);
		return false;   /* the worker writes it, as before */
	}
	d->off = off;
	return hand_over(d);
}

bool defer_copy_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
		      const struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
		      const struct fuse_file_info *fi_out, size_t len, int flags)
{
	struct deferred *d = new_deferred(req, D_COPY_RANGE, ino_out, fi_out, 0);

	if (!d)
		return false;
	d->off = off_out;
	d->len = (off_t)len;
	d->ino_in = ino_in;
	d->off_in = off_in;
	d->fi_in = *fi_in;
	d->flags = flags;
	return hand_over(d);
}

bool defer_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		  const struct fuse_file_info *fi)
{
	struct deferred *d;
	struct stat st;
	size_t n = strlen(name) + 1;
	int pfd;
	bool data;

	if (on_pool || !G(req)->copyq || !(fi->flags & O_TRUNC) || (fi->flags & O_EXCL))
		return false;
	if ((pfd = dircache_get(I(parent))) < 0)
		return false;   /* the handler reports it */
	data = fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
	       st.st_size > 0;
	dircache_put(I(parent), pfd);
	if (!data || !(d = new_deferred(req, D_CREATE, parent, fi, n)))
		return false;   /* a new name, or nothing to copy: no hand-over */
	memcpy(d->data, name, n);
	d->mode = (int)mode;
	return hand_over(d);
}

bool defer_on_pool(void)
{
	return on_pool;
}

int ops_defer_start(struct gfs *g, unsigned per_uid)
{
	unsigned threads = 4 * (per_uid ? per_uid : 1);

	return fairq_new(&g->copyq, threads > 64 ? 64 : threads, per_uid);
}

void ops_defer_stop(struct gfs *g)
{
	fairq_stop(g->copyq);   /* runs what is queued: every request gets its reply */
}

void ops_defer_free(struct gfs *g)
{
	fairq_free(g->copyq);
	g->copyq = NULL;
}
