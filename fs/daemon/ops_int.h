/*
 * ops_int — what the FUSE operations share (private to ops*.c).
 *
 * The operations are split along what they act on: ops.c (policy, lookups,
 * attributes, lifecycle and the operation table), ops_names.c (creating,
 * deleting and renaming names; overwrite protection's hooks),
 * ops_io.c (open files and directory listings), ops_xattr.c (extended
 * attributes) and ops_maint.c (the maintenance thread, kernel
 * invalidations, metrics).  The FUSE layer uses the engine (trash,
 * overwrite, space) and never the reverse.
 */
#ifndef GRACEFS_OPS_INT_H
#define GRACEFS_OPS_INT_H

#include <unistd.h>

#include "daemon/inode.h"
#include "daemon/ops.h"
#include "daemon/wguard.h"

#define OWN_XATTR_PREFIX "trusted.gracefs."

static inline struct gfs *G(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static inline struct inode *I(fuse_ino_t ino)
{
	return inode_from_nodeid(ino);
}

static inline void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* The ways a change reaches an inode (see may_modify). */
enum reach {
	REACH_NEW,    /* a new open for writing, a new link */
	REACH_FD,     /* through the open file fi (ftruncate) */
	REACH_PATH,   /* no file handle: chmod, fchmod, setxattr, fsetxattr... */
};

/* A path that names ino for the calls that have no fd form usable with
 * O_PATH: "/proc/self/fd/N"; for a symlink its parent's fd + name, to be
 * used without following. */
struct pathref {
	int fd, pfd;
	struct inode *pinned;
	bool nofollow;
	char path[64 + NAME_MAX];
};

/* ---- ops.c: policy, lookups, attributes ---- */

/* Policy predicates (see each definition): reserved names, names in trash,
 * who may create a name or change an inode; the caller of a request. */
bool is_reserved(struct inode *parent, const char *name);
bool in_trash(enum zone z);
int may_create(struct inode *parent, const char *name, bool is_dir);
int reached_live(struct gfs *g, struct inode *ino, const struct where *w);
bool live_after_remove(struct gfs *g, const struct stat *st);
int may_modify(fuse_req_t req, struct inode *ino, enum reach how,
	       struct fuse_file_info *fi);
void who_of(fuse_req_t req, struct caller *c);
/* -o trash_view=reach (docs/isolation.md): may the caller of req see name,
 * an entry of dir (fd dfd)?  Only a site's .trash filters, and only for
 * non-root callers: an op they deleted or that holds an item they own. */
bool trash_entry_reaches(fuse_req_t req, struct inode *dir, int dfd, const char *name);
/* Lookups and /proc paths for the calls without an fd form. */
int do_lookup(struct gfs *g, struct inode *parent, int pfd, const char *name,
	      struct fuse_entry_param *e);
void gfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		 struct fuse_file_info *fi);
int pathref_get(struct inode *ino, struct pathref *pr);
void pathref_put(struct pathref *pr);

/* ---- ops_names.c ---- */

/* Creating names: give_to_caller makes the caller own a new name (gid from
 * a setgid parent); creation_dir opens the parent a new name goes in (its
 * fd, or -errno) after may_create. */
int give_to_caller(fuse_req_t req, int pfd, const char *name, mode_t mode);
int creation_dir(fuse_req_t req, fuse_ino_t parent, const char *name, bool is_dir);
/* Overwrite protection: preserve a file before a truncation to keep bytes
 * (keep -1: before existing bytes are overwritten), in who's op (NULL: the
 * request's caller; note: what was done, may be NULL), and remember a file
 * created in who's open op. */
int preserve_at(fuse_req_t req, struct inode *parent, int pfd, const char *name,
		int srcfd, off_t keep);
int preserve_at_as(fuse_req_t req, const struct caller *who, struct inode *parent, int pfd,
		   const char *name, int srcfd, off_t keep, off_t upto, struct wguard_note *note);
int preserve_ino(fuse_req_t req, struct inode *ino, off_t keep);
int preserve_ino_as(fuse_req_t req, const struct caller *who, struct inode *ino, off_t keep,
		    off_t upto, struct wguard_note *note);
void note_created(fuse_req_t req, const struct caller *who, struct inode *parent,
		  const char *name, const struct stat *st);
/* who created name (st) in parent: noted for undo run:ID --created. */
void record_created(struct gfs *g, const struct caller *who, struct inode *parent,
		    const char *name, const struct stat *st);
/* The operations (the table is in ops.c). */
void gfs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
	       mode_t mode, dev_t rdev);
void gfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void gfs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		 const char *name);
void gfs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
	      const char *newname);
void gfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void gfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void gfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		fuse_ino_t newparent, const char *newname, unsigned int flags);

/* ---- ops_io.c ---- */

/* May the kernel keep this directory's listing (FOPEN_CACHE_DIR)? */
bool dir_cacheable(struct gfs *g, struct inode *ino);
/* An unprivileged write or truncate clears setuid/setgid (see the definition). */
int kill_setid(fuse_req_t req, fuse_ino_t ino, int fd, bool notify);
void gfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void gfs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		mode_t mode, struct fuse_file_info *fi);
void gfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	      struct fuse_file_info *fi);
void gfs_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in,
		   off_t off, struct fuse_file_info *fi);
void gfs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void gfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
	       struct fuse_file_info *fi);
void gfs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
		   off_t len, struct fuse_file_info *fi);
void gfs_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			 struct fuse_file_info *fi_in, fuse_ino_t ino_out,
			 off_t off_out, struct fuse_file_info *fi_out,
			 size_t len, int flags);
void gfs_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
	       struct fuse_file_info *fi);
void gfs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void gfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		 struct fuse_file_info *fi);
void gfs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi);
void gfs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void gfs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		  struct fuse_file_info *fi);
void gfs_statfs(fuse_req_t req, fuse_ino_t ino);

/* ---- ops_guard.c ---- */

/* Overwrite protection of in-place writes (docs/overwrite.md): before a
 * WRITE (data: *in) or copy_file_range (in NULL: assumed to change every
 * byte) of len bytes at off through the open file fd of ino changes bytes
 * the file holds, preserve the file in its opener's op.  *in may be
 * replaced by a copy in memory (*heap, for the caller to free).  0: go
 * ahead; -errno: the request fails with it, the file unchanged. */
int guard_write(fuse_req_t req, fuse_ino_t ino, int fd, off_t off, size_t len,
		struct fuse_bufvec **in, struct fuse_bufvec *mem, void **heap);
/* The same, deciding only: 1 when guard_write would preserve (copy) the
 * file, 0 when the write may go ahead unguarded (what was decided is
 * noted as guard_write notes it), -errno. */
int guard_write_check(fuse_req_t req, fuse_ino_t ino, int fd, off_t off, size_t len,
		      struct fuse_bufvec **in, struct fuse_bufvec *mem, void **heap);
/* A handle was opened for writing by who (its WRITEs preserve in who's op;
 * own: who created the file with it, nothing to preserve). */
void guard_open(int fd, const struct caller *who, bool own);
/* An ftruncate through fd is about to set its size (growing: the handle's
 * own bytes from the old size on, as an append's). */
void guard_grow(int fd, off_t size);

/* ---- ops_defer.c ---- */

/* Hand a request that may copy a file before it acts to the copy pool
 * (ops_defer.c): true when handed over (the pool runs the handler again
 * and replies), false when the handler goes on here. */
bool defer_setattr(fuse_req_t req, fuse_ino_t ino, const struct stat *attr, int to_set,
		   const struct fuse_file_info *fi);
bool defer_open(fuse_req_t req, fuse_ino_t ino, const struct fuse_file_info *fi);
bool defer_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
		     const struct fuse_file_info *fi);
/* A WRITE whose guard would copy the file (guard_write_check said 1): its
 * data is copied and the pool runs gfs_write_buf again. */
bool defer_write(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in, off_t off,
		 const struct fuse_file_info *fi);
/* copy_file_range into bytes the guard must preserve first (guard_write_check
 * said 1), and CREATE with O_TRUNC of an existing file with data: the pool
 * runs the handler again. */
bool defer_copy_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
		      const struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
		      const struct fuse_file_info *fi_out, size_t len, int flags);
bool defer_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		  const struct fuse_file_info *fi);
/* Is this thread running a handed-over request? */
bool defer_on_pool(void);

/* ---- ops_xattr.c ---- */

void gfs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void gfs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void gfs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		  const char *value, size_t size, int flags);
void gfs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

/* ---- ops_maint.c ---- */

/* A background WRITE (writeback cache) to nodeid through fd failed with
 * ENOSPC or EDQUOT: the next write(2) to it fails so too (wberr.h). */
void ops_write_failed(struct gfs *g, fuse_ino_t nodeid, int fd, int err);
/* The kernel's entry for name in the live directory dirfd is stale: it is
 * dropped soon after (by the maintenance thread), never from a request. */
void ops_entry_stale(struct gfs *g, int dirfd, const char *name);

#endif
