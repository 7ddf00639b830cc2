/*
 * ops — the FUSE low-level operations (see ops.h for the threading model):
 * here policy, lookups, attributes, the mount's start and the operation
 * table; names, I/O, xattrs and maintenance are in ops_*.c (ops_int.h).
 *
 * Every operation works on fds opened from file handles (inode.c) and the
 * *at() calls, never on absolute path strings, and never follows a symlink
 * in the backing store.  Policy lives in three small predicates:
 * may_create(), may_remove() and may_modify(); everything that destroys a
 * name is handed to the trash engine.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/dircache.h"
#include "daemon/fuseio.h"
#include "daemon/inode.h"
#include "daemon/ops_int.h"
#include "lib/procinfo.h"
#include "store/tlink.h"
#include "daemon/wberr.h"
#include "daemon/wbtimes.h"

/* ---- policy -------------------------------------------------------------- */

/* .trash at the root or a site root, and .gracefs at the root. */
bool is_reserved(struct inode *parent, const char *name)
{
	enum inode_kind k = inode_kind(parent);

	if (k == K_ROOT && !strcmp(name, TRASH_STATE_DIR))
		return true;
	return (k == K_ROOT || k == K_SITE) && !strcmp(name, TRASH_NAME);
}

bool in_trash(enum zone z)
{
	return z == Z_TRASHDIR || z == Z_OPDIR || z == Z_INTRASH;
}

/* May a new name (is_dir: a directory) appear in parent?  0 or -errno. */
int may_create(struct inode *parent, const char *name, bool is_dir)
{
	struct where w;

	if (is_reserved(parent, name))
		return strcmp(name, TRASH_NAME) ? -EPERM : -EEXIST;
	inode_where(parent, &w);
	if (in_trash(w.zone))
		return -EPERM;
	if (w.zone == Z_ROOT && !is_dir)
		return -EPERM;   /* the root holds sites only */
	return 0;
}


/* Links of a non-directory that are not in trash (tlink.h); directories:
 * st_nlink as it is.  shown: the count stat reports instead — the same,
 * except that an item whose every name is in trash, reached through one
 * of them, shows its names there (hard links intact in trash); only an
 * open file of a deleted name sees 0, as on a local filesystem. */
static nlink_t live_nlink(struct gfs *g, struct inode *ino, const struct where *w,
			  const struct stat *st, bool shown)
{
	struct tlink_key k;
	uint32_t in_trash = 0, live;
	bool tracked = false, named_live = w->zone == Z_LIVE || w->zone == Z_ROOT;

	if (S_ISDIR(st->st_mode) || (named_live && st->st_nlink == 1))
		return st->st_nlink;   /* no index read on the common path */
	if (g->ix && inode_tlink_key(ino, &k) == 0)
		tracked = index_tlink_get(g->ix, k.b, k.len, &in_trash) == 0;
	live = tlink_live(st->st_nlink, in_trash, tracked, named_live);
	return !live && shown && w->op[0] ? st->st_nlink : live;
}

static int stat_inode(struct inode *ino, struct fuse_file_info *fi, struct stat *st);

/* Was ino (at w) reached through a live name?  Outside trash: yes.
 * Through a trash name (a trash node id, attached below .trash or detached
 * by a purge): no, whatever other names the inode has.  The live node id
 * of an inode a delete detached: while a live name remains (a delete that
 * raced with another name's lookup).  1, 0 or -errno. */
int reached_live(struct gfs *g, struct inode *ino, const struct where *w)
{
	struct stat st;
	int r;

	if (!in_trash(w->zone))
		return 1;
	if (!w->detached || inode_trash_route(ino) || inode_is_dir(ino))
		return 0;
	if ((r = stat_inode(ino, NULL, &st)) < 0)
		return r;
	return live_nlink(g, ino, w, &st, false) > 0;
}

/* A name of st (its lstat from before) just went to trash: does its inode
 * keep a live name?  Then its live node id stays attached where it was:
 * the other names reach the same kernel inode, which must stay writable
 * (and preserved before a truncation) through them. */
bool live_after_remove(struct gfs *g, const struct stat *st)
{
	struct where w = { .zone = Z_INTRASH, .detached = true };
	struct inode *n;
	struct stat now;

	if (S_ISDIR(st->st_mode) || st->st_nlink <= 1 || !(n = inode_find(st->st_dev, st->st_ino)))
		return false;
	if (stat_inode(n, NULL, &now) < 0)
		return false;
	return live_nlink(g, n, &w, &now, false) > 0;
}

static pid_t tid_tgid(pid_t tid)
{
	struct caller c;

	procinfo_get(tid, 0, 0, &c);
	return (pid_t)c.pid;
}

/* May the contents or attributes of ino change?  0 or -errno.  The route
 * decides (inode.h, "Routes"): through a live name, yes.  Through a trash
 * name (a trash node id): never, for any request — open for writing,
 * O_TRUNC, SETATTR, xattrs, links in or out — whatever live names or open
 * files the item has; the kept item is read-only, and a live name shares
 * the inode only through its own node id.  A live node id whose every name
 * went to trash (detached by the delete) serves only what was open before:
 * writes and ftruncate through such a file (fi), and the metadata calls the
 * kernel sends without a file handle (fchmod, fchown, futimens, fsetxattr)
 * from a process that holds one.  Never a new open, never a link. */
int may_modify(fuse_req_t req, struct inode *ino, enum reach how,
	       struct fuse_file_info *fi)
{
	struct where w;
	int r;

	inode_where(ino, &w);
	if ((r = reached_live(G(req), ino, &w)) != 0)
		return r < 0 ? r : 0;
	if (!w.detached || inode_trash_route(ino))
		return -EPERM;   /* through a trash name */
	if (how == REACH_FD && fi)
		return inode_handle_live(ino, (int)fi->fh) ? 0 : -EPERM;
	if (how == REACH_PATH && !inode_is_dir(ino)) {
		struct caller who;

		who_of(req, &who);
		if (inode_handle_held(ino, (pid_t)who.pid, tid_tgid))
			return 0;
	}
	return -EPERM;
}

/* The caller of a request. */
void who_of(fuse_req_t req, struct caller *c)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	procinfo_get(ctx->pid, ctx->uid, ctx->gid, c);
}


/* ---- lookups --------------------------------------------------------------- */

/* How long the kernel keeps attributes: a file seen through a trash name
 * shares its inode with live names on another node id, whose writes the
 * kernel does not tell this one about: not at all. */
static double attr_timeout(struct gfs *g, const struct where *w, const struct stat *st)
{
	return !S_ISDIR(st->st_mode) && in_trash(w->zone) ? 0 : g->timeout;
}

static void fill_entry(struct gfs *g, struct fuse_entry_param *e, struct inode *n,
		       const struct stat *st)
{
	struct where w;

	memset(e, 0, sizeof(*e));
	e->ino = inode_nodeid(n);
	e->attr = *st;
	inode_where(n, &w);
	if (!S_ISDIR(st->st_mode))
		e->attr.st_nlink = live_nlink(g, n, &w, st, true);
	e->attr_timeout = attr_timeout(g, &w, st);
	e->entry_timeout = g->timeout;
}

/* lstat name in pfd and register it.  bname: backing name if different. */
static int lookup_at(struct gfs *g, struct inode *parent, int pfd, const char *name,
		     const char *bname, struct fuse_entry_param *e)
{
	struct stat st;
	struct inode *n;
	int r;

	if (fstatat(pfd, bname ? bname : name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if ((r = inode_lookup(parent, pfd, name, bname, &st, &n)) < 0)
		return r;
	fill_entry(g, e, n, &st);
	return 0;
}

bool trash_entry_reaches(fuse_req_t req, struct inode *dir, int dfd, const char *name)
{
	uid_t uid = fuse_req_ctx(req)->uid;
	struct where w;
	bool r;
	int fd;

	if (uid == 0 || G(req)->trash_view_all || inode_kind(dir) != K_STRASH ||
	    !strcmp(name, ".") || !strcmp(name, ".."))
		return true;
	inode_where(dir, &w);
	if (w.zone != Z_TRASHDIR)
		return true;
	if ((fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return false;   /* not an op directory: nothing a tenant needs */
	r = trash_op_reaches(G(req)->trash, w.scope, name, fd, uid);
	close(fd);
	return r;
}

/* Resolve name in parent, mapping the reserved names. */
int do_lookup(struct gfs *g, struct inode *parent, int pfd, const char *name,
	      struct fuse_entry_param *e)
{
	enum inode_kind k = inode_kind(parent);
	int r;

	if (k == K_ROOT && !strcmp(name, TRASH_STATE_DIR))
		return -ENOENT;
	if (k == K_ROOT && !strcmp(name, TRASH_NAME))
		return lookup_at(g, parent, g->state_fd, name, "trash", e);
	if (k == K_SITE && !strcmp(name, TRASH_NAME)) {
		struct where w;
		int tfd;

		inode_where(parent, &w);
		if (w.zone == Z_LIVE) {   /* created on first use */
			if ((tfd = layout_site_trash_open(pfd)) < 0)
				return tfd;
			close(tfd);
		}
	}
	r = lookup_at(g, parent, pfd, name, NULL, e);
	/* trash_view=reach: who may see an op is decided per caller, so the
	 * kernel must ask again for every caller (its dentries are shared) */
	if (r == 0 && k == K_STRASH && !g->trash_view_all)
		e->entry_timeout = 0;
	return r;
}

static void gfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int pfd = dircache_get(I(parent)), r;

	if (pfd < 0) {
		fuse_reply_err(req, -pfd);
		return;
	}
	r = trash_entry_reaches(req, I(parent), pfd, name)
		? do_lookup(G(req), I(parent), pfd, name, &e) : -ENOENT;
	dircache_put(I(parent), pfd);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_entry(req, &e);
}

static void gfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	inode_forget(I(ino), nlookup);
	fuse_reply_none(req);
}

static void gfs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *f)
{
	for (size_t i = 0; i < count; i++)
		inode_forget(I(f[i].ino), f[i].nlookup);
	fuse_reply_none(req);
}

/* ---- attributes ------------------------------------------------------------ */

static int stat_inode(struct inode *ino, struct fuse_file_info *fi, struct stat *st)
{
	int fd, r;

	if (fi && fi->fh)
		return fstat((int)fi->fh, st) < 0 ? -errno : 0;
	if ((fd = dircache_get(ino)) < 0)
		return fd;
	r = fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	dircache_put(ino, fd);
	return r;
}

/* changed: the caller changed ino's attributes (undo run:ID --created
 * follows the state a run left its items in, created.h). */
static void reply_attr_of(fuse_req_t req, struct inode *ino, struct fuse_file_info *fi,
			  bool changed)
{
	struct stat st;
	struct where w;
	int r = stat_inode(ino, fi, &st);

	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	if (changed && G(req)->cr) {
		struct caller who;

		who_of(req, &who);
		created_note_changed(G(req)->cr, who.run, &st);
	}
	inode_where(ino, &w);
	if (!S_ISDIR(st.st_mode))
		st.st_nlink = live_nlink(G(req), ino, &w, &st, true);
	fuse_reply_attr(req, &st, attr_timeout(G(req), &w, &st));
}

static void reply_attr(fuse_req_t req, struct inode *ino, struct fuse_file_info *fi)
{
	reply_attr_of(req, ino, fi, false);
}

static void gfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int err;

	/* through an open file: the kernel's question before a cached write(2)
	 * after a background WRITE to this inode found the disk full */
	if (fi && (err = wberr_take(ino))) {
		fuse_reply_err(req, err);
		return;
	}
	reply_attr(req, I(ino), fi);
}

int pathref_get(struct inode *ino, struct pathref *pr)
{
	char name[NAME_MAX + 1];

	pr->fd = pr->pfd = -1;
	pr->pinned = NULL;
	pr->nofollow = inode_is_symlink(ino);
	if (!pr->nofollow) {
		if ((pr->fd = inode_open(ino, O_PATH)) < 0)
			return pr->fd;
		snprintf(pr->path, sizeof(pr->path), "/proc/self/fd/%d", pr->fd);
		return 0;
	}
	if (inode_parent_name(ino, &pr->pinned, name, sizeof(name)) < 0 ||
	    (pr->pfd = inode_open(pr->pinned, O_PATH)) < 0) {
		inode_unpin(pr->pinned);
		pr->pinned = NULL;
		return -ESTALE;
	}
	snprintf(pr->path, sizeof(pr->path), "/proc/self/fd/%d/%s", pr->pfd, name);
	return 0;
}

void pathref_put(struct pathref *pr)
{
	close_fd(&pr->fd);
	close_fd(&pr->pfd);
	inode_unpin(pr->pinned);
	pr->pinned = NULL;
}

static int set_times(struct inode *ino, const struct stat *attr, int to_set,
		     struct fuse_file_info *fi)
{
	struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT } };
	struct pathref pr;
	int r;

	if (to_set & FUSE_SET_ATTR_ATIME_NOW)
		ts[0].tv_nsec = UTIME_NOW;
	else if (to_set & FUSE_SET_ATTR_ATIME)
		ts[0] = attr->st_atim;
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		ts[1].tv_nsec = UTIME_NOW;
	else if (to_set & FUSE_SET_ATTR_MTIME)
		ts[1] = attr->st_mtim;
	if (fi && fi->fh)   /* the writeback cache's times: wbtimes.h */
		return wbtimes_futimens((int)fi->fh, ts);
	if ((r = pathref_get(ino, &pr)) < 0)
		return r;
	r = utimensat(AT_FDCWD, pr.path, ts, pr.nofollow ? AT_SYMLINK_NOFOLLOW : 0) < 0
		? -errno : 0;
	pathref_put(&pr);
	return r;
}

static int do_setattr(fuse_req_t req, fuse_ino_t nodeid, const struct stat *attr,
		      int to_set, struct fuse_file_info *fi)
{
	struct inode *ino = I(nodeid);
	int fd = inode_open(ino, O_PATH), r = 0;

	if (fd < 0)
		return fd;
	if (to_set & FUSE_SET_ATTR_MODE) {
		char p[64];

		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		if ((fi && fi->fh ? fchmod((int)fi->fh, attr->st_mode)
				  : fchmodat(AT_FDCWD, p, attr->st_mode, 0)) < 0)
			r = -errno;
	}
	if (!r && (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))) {
		uid_t u = to_set & FUSE_SET_ATTR_UID ? attr->st_uid : (uid_t)-1;
		gid_t gr = to_set & FUSE_SET_ATTR_GID ? attr->st_gid : (gid_t)-1;

		if (fchownat(fd, "", u, gr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			r = -errno;
	}
	if (!r && (to_set & FUSE_SET_ATTR_SIZE)) {
		int wfd = fi && fi->fh ? (int)fi->fh : inode_open(ino, O_WRONLY);

		if (wfd < 0)
			r = wfd;
		else if (ftruncate(wfd, attr->st_size) < 0)
			r = -errno;
		else
			r = kill_setid(req, nodeid, wfd, false);   /* the reply has the new mode */
		if (wfd >= 0 && !(fi && fi->fh))
			close(wfd);
	}
	if (!r && (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
			     FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW)))
		r = set_times(ino, attr, to_set, fi);
	close(fd);
	return r;
}

void gfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			int to_set, struct fuse_file_info *fi)
{
	/* ftruncate comes with its file; fchmod, fchown, futimens without:
	 * may_modify tells them from path calls by the caller's open files */
	int r = may_modify(req, I(ino), fi ? REACH_FD : REACH_PATH, fi);

	if (!r && defer_setattr(req, ino, attr, to_set, fi))
		return;   /* it may copy: the copy pool runs it (ops_defer.c) */
	if (!r && (to_set & FUSE_SET_ATTR_SIZE))
		r = preserve_ino(req, I(ino), attr->st_size);
	if (!r && (to_set & FUSE_SET_ATTR_SIZE) && fi && fi->fh)
		guard_grow((int)fi->fh, attr->st_size);
	if (!r)
		r = do_setattr(req, ino, attr, to_set, fi);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		reply_attr_of(req, I(ino), fi, true);
}

static void gfs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[PATH_MAX + 1];
	int fd = inode_open(I(ino), O_PATH);
	ssize_t n;

	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	n = readlinkat(fd, "", buf, sizeof(buf));
	close(fd);
	if (n < 0 || n == sizeof(buf)) {
		fuse_reply_err(req, n < 0 ? errno : ENAMETOOLONG);
		return;
	}
	buf[n] = '\0';
	fuse_reply_readlink(req, buf);
}


/* ---- lifecycle -------------------------------------------------------------------------- */

static void gfs_init(void *userdata, struct fuse_conn_info *conn)
{
	struct gfs *g = userdata;
	unsigned want = FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE | FUSE_CAP_SPLICE_READ |
			FUSE_CAP_PARALLEL_DIROPS | FUSE_CAP_POSIX_ACL | FUSE_CAP_DONT_MASK |
			FUSE_CAP_READDIRPLUS | FUSE_CAP_ASYNC_DIO |
			FUSE_CAP_ATOMIC_O_TRUNC;   /* O_TRUNC reaches gfs_open: preserved first */

	if (g->writeback)
		want |= FUSE_CAP_WRITEBACK_CACHE;
	conn->want |= want & conn->capable;
	if (g->writeback && !(conn->capable & FUSE_CAP_WRITEBACK_CACHE))
		g->writeback = false;
	if (g->writeback)   /* fs/fuse/inode.c: FUSE_PASSTHROUGH is ignored with it */
		fuseio_passthrough_veto("-o writeback: the kernel has no passthrough with it");
	conn->time_gran = g->time_gran ? g->time_gran : 1;   /* cached mtimes as BACKING keeps them */
	/* READDIRPLUS for every page of a listing, not only the first (AUTO):
	 * rm -rf and du read a whole directory before they touch its entries,
	 * and each entry READDIRPLUS hands over costs no LOOKUP later.  With
	 * AUTO, `ls` of 20,000 trash ops is ~20 % faster but rm -rf of 20,000
	 * files ~7 % slower (docs/performance.md, issue 19). */
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
}

const struct fuse_lowlevel_ops gfs_ops = {
	.init = gfs_init,
	.lookup = gfs_lookup,
	.forget = gfs_forget,
	.forget_multi = gfs_forget_multi,
	.getattr = gfs_getattr,
	.setattr = gfs_setattr,
	.readlink = gfs_readlink,
	.mknod = gfs_mknod,
	.mkdir = gfs_mkdir,
	.symlink = gfs_symlink,
	.link = gfs_link,
	.unlink = gfs_unlink,
	.rmdir = gfs_rmdir,
	.rename = gfs_rename,
	.open = gfs_open,
	.create = gfs_create,
	.read = gfs_read,
	.write_buf = gfs_write_buf,
	/* no .flush: its ENOSYS makes the kernel stop sending FLUSH, a round
	 * trip per close(2) that has nothing to do here (locks are the kernel's,
	 * RELEASE closes the backing fd); with the writeback cache the kernel
	 * still writes dirty pages and times back before close(2) returns */
	.release = gfs_release,
	.fsync = gfs_fsync,
	.fallocate = gfs_fallocate,
	.copy_file_range = gfs_copy_file_range,
	.lseek = gfs_lseek,
	.opendir = gfs_opendir,
	.readdir = gfs_readdir,
	.readdirplus = gfs_readdirplus,
	.releasedir = gfs_releasedir,
	.fsyncdir = gfs_fsyncdir,
	.statfs = gfs_statfs,
	.setxattr = gfs_setxattr,
	.getxattr = gfs_getxattr,
	.listxattr = gfs_listxattr,
	.removexattr = gfs_removexattr,
};
