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
 * Not handed over: CREATE with O_TRUNC (the kernel sends OPEN for a name it
 * knows; a CREATE meets an existing file only when another client made it
 * meanwhile), and the first in-place WRITE of a handle (its data lives in
 * the worker's buffer): both still copy in a FUSE worker, bounded by the
 * copy gate.
 *
 * Threading: on_pool is per thread; the pool is g->copyq.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/ops_int.h"
#include "lib/fairq.h"

static __thread bool on_pool;   /* this thread runs a handed-over request */

enum kind { D_SETATTR, D_OPEN, D_FALLOCATE };

struct deferred {
	enum kind kind;
	fuse_req_t req;
	fuse_ino_t ino;
	struct stat attr;              /* setattr */
	int to_set;
	int mode;                      /* fallocate */
	off_t off, len;
	bool has_fi;
	struct fuse_file_info fi;
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
				     const struct fuse_file_info *fi)
{
	struct deferred *d;

	if (on_pool || !G(req)->copyq || !(d = calloc(1, sizeof(*d))))
		return NULL;
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
	    !may_copy(ino, attr->st_size) || !(d = new_deferred(req, D_SETATTR, ino, fi)))
		return false;
	d->attr = *attr;
	d->to_set = to_set;
	return hand_over(d);
}

bool defer_open(fuse_req_t req, fuse_ino_t ino, const struct fuse_file_info *fi)
{
	struct deferred *d;

	if (on_pool || !(fi->flags & O_TRUNC) || !G(req)->copyq || !may_copy(ino, 0) ||
	    !(d = new_deferred(req, D_OPEN, ino, fi)))
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
	    !(d = new_deferred(req, D_FALLOCATE, ino, fi)))
		return false;
	d->mode = mode;
	d->off = off;
	d->len = len;
	return hand_over(d);
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
