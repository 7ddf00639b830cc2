/*
 * ops — the FUSE low-level operations (see ops.h for the threading model).
 *
 * Every operation works on fds opened from file handles (inode.c) and the
 * *at() calls, never on absolute path strings, and never follows a symlink
 * in the backing store.  Policy lives in three small predicates:
 * may_create(), may_remove() and may_modify(); everything that destroys a
 * name is handed to the trash engine.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "dircache.h"
#include "inode.h"
#include "log.h"
#include "opattr.h"
#include "ops.h"
#include "privs.h"
#include "procinfo.h"
#include "tlink.h"
#include "vattr.h"
#include "wbtimes.h"

#define OWN_XATTR_PREFIX "trusted.gracefs."

static struct gfs *G(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct inode *I(fuse_ino_t ino)
{
	return inode_from_nodeid(ino);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* ---- policy -------------------------------------------------------------- */

/* .trash at the root or a site root, and .gracefs at the root. */
static bool is_reserved(struct inode *parent, const char *name)
{
	enum inode_kind k = inode_kind(parent);

	if (k == K_ROOT && !strcmp(name, TRASH_STATE_DIR))
		return true;
	return (k == K_ROOT || k == K_SITE) && !strcmp(name, TRASH_NAME);
}

static bool in_trash(enum zone z)
{
	return z == Z_TRASHDIR || z == Z_OPDIR || z == Z_INTRASH;
}

/* May a new name (is_dir: a directory) appear in parent?  0 or -errno. */
static int may_create(struct inode *parent, const char *name, bool is_dir)
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

static void who_of(fuse_req_t req, struct caller *c);

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

/* Does ino still have a live name?  Directories: only outside trash. */
static int has_live_name(struct gfs *g, struct inode *ino, const struct where *w)
{
	struct stat st;
	int r;

	if (!in_trash(w->zone))
		return 1;
	if (inode_is_dir(ino))
		return 0;
	if ((r = stat_inode(ino, NULL, &st)) < 0)
		return r;
	return live_nlink(g, ino, w, &st, false) > 0;
}

static pid_t tid_tgid(pid_t tid)
{
	struct caller c;

	procinfo_get(tid, 0, 0, &c);
	return (pid_t)c.pid;
}

/* The ways a change reaches an inode (see may_modify). */
enum reach {
	REACH_NEW,    /* a new open for writing, a new link */
	REACH_FD,     /* through the open file fi (ftruncate) */
	REACH_PATH,   /* no file handle: chmod, fchmod, setxattr, fsetxattr... */
};

/* May the contents or attributes of ino change?  0 or -errno.
 * Outside trash: yes.  A directory in trash: never.  A non-directory while
 * it has a live link: yes, through any of its names (one inode: the trash
 * cannot freeze data that a live name shares).  Once its every name is in
 * trash, only what a file opened before that can do: writes and ftruncate
 * through that file (fi), and the metadata calls the kernel sends without a
 * file handle (fchmod, fchown, futimens, fsetxattr) when they come from a
 * process that holds such a file open.  Never a new open, never a link. */
static int may_modify(fuse_req_t req, struct inode *ino, enum reach how,
		      struct fuse_file_info *fi)
{
	struct where w;
	int r;

	inode_where(ino, &w);
	if ((r = has_live_name(G(req), ino, &w)) != 0)
		return r < 0 ? r : 0;
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
static void who_of(fuse_req_t req, struct caller *c)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	procinfo_get(ctx->pid, ctx->uid, ctx->gid, c);
}

static int preserve_ino(fuse_req_t req, struct inode *ino, off_t keep);
static int preserve_at(fuse_req_t req, struct inode *parent, int pfd, const char *name,
		       int srcfd, off_t keep);
static void note_created(fuse_req_t req, struct inode *parent, int fd);

/* ---- lookups --------------------------------------------------------------- */

static void fill_entry(struct gfs *g, struct fuse_entry_param *e, struct inode *n,
		       const struct stat *st)
{
	memset(e, 0, sizeof(*e));
	e->ino = inode_nodeid(n);
	e->attr = *st;
	if (!S_ISDIR(st->st_mode)) {
		struct where w;

		inode_where(n, &w);
		e->attr.st_nlink = live_nlink(g, n, &w, st, true);
	}
	e->attr_timeout = g->timeout;
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

/* Resolve name in parent, mapping the reserved names. */
static int do_lookup(struct gfs *g, struct inode *parent, int pfd, const char *name,
		     struct fuse_entry_param *e)
{
	enum inode_kind k = inode_kind(parent);

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
	return lookup_at(g, parent, pfd, name, NULL, e);
}

static void gfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int pfd = dircache_get(I(parent)), r;

	if (pfd < 0) {
		fuse_reply_err(req, -pfd);
		return;
	}
	r = do_lookup(G(req), I(parent), pfd, name, &e);
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

static void reply_attr(fuse_req_t req, struct inode *ino, struct fuse_file_info *fi)
{
	struct stat st;
	int r = stat_inode(ino, fi, &st);

	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		struct where w;

		inode_where(ino, &w);
		st.st_nlink = live_nlink(G(req), ino, &w, &st, true);
	}
	fuse_reply_attr(req, &st, G(req)->timeout);
}

static void gfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	reply_attr(req, I(ino), fi);
}

/* A path that names ino for the calls that have no fd form usable with
 * O_PATH: "/proc/self/fd/N"; for a symlink its parent's fd + name, to be
 * used without following. */
struct pathref {
	int fd, pfd;
	struct inode *pinned;
	bool nofollow;
	char path[64 + NAME_MAX];
};

static int pathref_get(struct inode *ino, struct pathref *pr)
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

static void pathref_put(struct pathref *pr)
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

static int do_setattr(struct inode *ino, const struct stat *attr, int to_set,
		      struct fuse_file_info *fi)
{
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
		if (wfd >= 0 && !(fi && fi->fh))
			close(wfd);
	}
	if (!r && (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
			     FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW)))
		r = set_times(ino, attr, to_set, fi);
	close(fd);
	return r;
}

static void gfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			int to_set, struct fuse_file_info *fi)
{
	/* ftruncate comes with its file; fchmod, fchown, futimens without:
	 * may_modify tells them from path calls by the caller's open files */
	int r = may_modify(req, I(ino), fi ? REACH_FD : REACH_PATH, fi);

	if (!r && (to_set & FUSE_SET_ATTR_SIZE))
		r = preserve_ino(req, I(ino), attr->st_size);
	if (!r)
		r = do_setattr(I(ino), attr, to_set, fi);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		reply_attr(req, I(ino), fi);
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

/* ---- creating names ---------------------------------------------------------- */

/* Apply the caller's umask in this thread only (the backing filesystem
 * then applies it or the parent's default ACL, as a local fs would). */
static void thread_umask(fuse_req_t req)
{
	static __thread bool unshared;
	static __thread mode_t last = (mode_t)-1;   /* this thread's umask */
	mode_t m;

	if (!unshared)
		unshared = unshare(CLONE_FS) == 0;
	m = unshared ? fuse_req_ctx(req)->umask : 022;
	if (m != last)   /* a syscall per creation only when it changes */
		umask(m);
	last = unshared ? m : (mode_t)-1;
}

/* Hand a new name to its creator: the caller's uid, and gid unless the
 * parent's setgid bit already chose it.  chown clears setuid/setgid, so
 * a mode asking for them is applied again (as the caller's umask allows). */
static int give_to_caller(fuse_req_t req, int pfd, const char *name, mode_t mode)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct stat pst;
	gid_t gid = ctx->gid;

	if (ctx->uid == 0 && ctx->gid == 0)
		return 0;   /* the daemon's own ids: nothing to change */
	if (fstatat(pfd, "", &pst, AT_EMPTY_PATH) == 0 && (pst.st_mode & S_ISGID))
		gid = (gid_t)-1;
	if (fchownat(pfd, name, ctx->uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISLNK(mode) && (mode & (S_ISUID | S_ISGID)) &&
	    fchmodat(pfd, name, mode & ~ctx->umask & 07777, 0) < 0)
		return -errno;
	return 0;
}

/* The start of every creation: policy, the parent's fd (from dircache:
 * give it back with dircache_put), the caller's umask in this thread.
 * Returns the parent fd or -errno. */
static int creation_dir(fuse_req_t req, fuse_ino_t parent, const char *name, bool is_dir)
{
	int r = may_create(I(parent), name, is_dir);

	if (r < 0)
		return r;
	if ((r = dircache_get(I(parent))) >= 0)
		thread_umask(req);
	return r;
}

/* mknod, mkdir, symlink: one shape.  Returns what it replied (0/-errno). */
static int make_node(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev, const char *link)
{
	struct fuse_entry_param e;
	int pfd = creation_dir(req, parent, name, S_ISDIR(mode)), r = 0;

	if (pfd < 0) {
		r = pfd;
		goto out;
	}
	if (link)
		r = symlinkat(link, pfd, name);
	else if (S_ISDIR(mode))
		r = mkdirat(pfd, name, mode & 07777);
	else
		r = mknodat(pfd, name, mode, rdev);
	if (r < 0) {
		r = -errno;
		goto out;
	}
	if ((r = give_to_caller(req, pfd, name, mode)) < 0 ||
	    (r = do_lookup(G(req), I(parent), pfd, name, &e)) < 0) {
		unlinkat(pfd, name, S_ISDIR(mode) ? AT_REMOVEDIR : 0);  /* ours, just made */
		goto out;
	}
out:
	dircache_put(I(parent), pfd);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_entry(req, &e);
	return r;
}

static void gfs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, dev_t rdev)
{
	make_node(req, parent, name, mode, rdev, NULL);
}

static void gfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct gfs *g = G(req);   /* req is gone once make_node replied */
	bool site = inode_kind(I(parent)) == K_ROOT && g->ctl;
	struct caller who;
	struct stat st;

	if (site)
		who_of(req, &who);
	if (make_node(req, parent, name, S_IFDIR | mode, 0, NULL) < 0)
		return;
	if (site && fstatat(g->backing_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode)) {
		control_site_changed(g->ctl, name, false);
		control_audit(g->ctl, AUDIT_EV_SITE_ADD, &who, name, NULL, "", NULL);
	}
}

static void gfs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			const char *name)
{
	make_node(req, parent, name, S_IFLNK | 0777, 0, link);
}

static void gfs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		     const char *newname)
{
	struct fuse_entry_param e;
	int r = may_create(I(newparent), newname, false), fd = -1, pfd = -1;

	/* out of trash only while it has a live name (then it is that live
	 * file); a deleted file is restored with mv, which shares no inode */
	if (!r)
		r = may_modify(req, I(ino), REACH_NEW, NULL);
	if (r < 0)
		goto out;
	if ((fd = inode_open(I(ino), O_PATH)) < 0 ||
	    (pfd = inode_open(I(newparent), O_PATH)) < 0) {
		r = fd < 0 ? fd : pfd;
		goto out;
	}
	if (linkat(fd, "", pfd, newname, AT_EMPTY_PATH) < 0)
		r = -errno;
	else
		r = do_lookup(G(req), I(newparent), pfd, newname, &e);
out:
	close_fd(&fd);
	close_fd(&pfd);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_entry(req, &e);
}

/* ---- deleting and renaming ------------------------------------------------------ */

static int deep_piece(void *arg, unsigned from, struct relpath *rp, bool *more)
{
	return inode_relpath_piece(arg, from, rp, more);
}

/* The trash location of name in parent (a Z_ROOT or Z_LIVE directory).
 * A parent too deep for a relpath gets its path in pieces (loc->deep). */
static int loc_of(struct inode *parent, const struct where *w, int pfd,
		  const char *name, struct relpath **rp, struct trash_loc *loc)
{
	int r;

	loc->dirfd = pfd;
	loc->name = name;
	loc->rel = NULL;
	loc->from_scope = loc->from_op = NULL;
	loc->deep = NULL;
	loc->deep_arg = NULL;
	loc->site = w->zone == Z_ROOT ? NULL : w->site;
	*rp = NULL;
	if (w->zone != Z_LIVE)
		return 0;
	if (!(*rp = malloc(sizeof(**rp))))
		return -ENOMEM;
	loc->rel = *rp;
	if ((r = inode_relpath(parent, *rp)) == -ENAMETOOLONG) {
		loc->rel = NULL;
		loc->deep = deep_piece;
		loc->deep_arg = parent;
		r = 0;
	}
	return r;
}

/* "a/b/name" from a relpath and a name ("" + name at the site root). */
static void rel_string(const struct relpath *rp, const char *name, char *buf, size_t cap)
{
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned i = 0; rp && i < rp->n && off < cap; i++)
		off += (size_t)snprintf(buf + off, cap - off, "%s/", rp->comp[i]);
	if (off < cap)
		snprintf(buf + off, cap - off, "%s", name);
}

/* Removing or renaming away loc's entry would take a protected path:
 * refuse (EPERM) and say so in the audit log. */
static int check_protected(struct gfs *g, const struct caller *who, const struct trash_loc *loc)
{
	char rel[RELPATH_MAX_BYTES];
	const char *site = loc->site ? loc->site : loc->name;

	if (loc->deep)
		return 0;   /* deeper than any path the catalog can protect */
	if (loc->site)
		rel_string(loc->rel, loc->name, rel, sizeof(rel));
	else
		rel[0] = '\0';   /* a whole site */
	if (!control_protected(g->ctl, site, rel))
		return 0;
	control_audit(g->ctl, AUDIT_EV_DENIED, who, site, NULL, rel, "protected path");
	log_msg(LOG_NOTICE, "refused removal of protected %s/%s (pid %u, %s)", site, rel,
		who->pid, who->cmd);
	return -EPERM;
}

/* ---- overwrite protection (overwrite.h) ------------------------------------------- */

/* Say what a preservation did: audit and log what the module reports.  An
 * unpreserved truncation of a protected path is refused instead (EPERM). */
static int report_preserve(struct gfs *g, const struct caller *who, const struct trash_loc *loc,
			   const struct overwrite_result *res, int r)
{
	char rel[RELPATH_MAX_BYTES], detail[96], lim[32];

	if (!r && res->how != OW_CLONED && res->how != OW_COPIED && res->how != OW_UNPRESERVED)
		return 0;
	rel_string(loc->rel, loc->name, rel, sizeof(rel));
	if (r < 0) {
		log_msg(LOG_ERR, "cannot preserve %s/%s before truncation, refused: %s", loc->site,
			rel, strerror(-r));
		return r;
	}
	if (res->how != OW_UNPRESERVED) {
		snprintf(detail, sizeof(detail), "bytes=%llu %s", (unsigned long long)res->bytes,
			 res->how == OW_CLONED ? "clone" : "copy");
		control_audit(g->ctl, AUDIT_EV_OVERWRITE, who, loc->site, res->op, rel, detail);
		return 0;
	}
	util_format_size((uint64_t)res->limit, lim, sizeof(lim));
	snprintf(detail, sizeof(detail), "bytes=%llu preserve_max=%s",
		 (unsigned long long)res->bytes, lim);
	if (control_protected(g->ctl, loc->site, rel)) {
		control_audit(g->ctl, AUDIT_EV_DENIED, who, loc->site, NULL, rel,
			      "protected path: truncation over preserve_max");
		log_msg(LOG_NOTICE, "refused unpreserved truncation of protected %s/%s (pid %u, %s)",
			loc->site, rel, who->pid, who->cmd);
		return -EPERM;
	}
	control_audit(g->ctl, AUDIT_EV_UNPRESERVED, who, loc->site, NULL, rel, detail);
	log_msg(LOG_WARNING, "truncated %s/%s unpreserved (%s, no clone) by pid %u (%s)",
		loc->site, rel, detail, who->pid, who->cmd);
	return 0;
}

/* name in parent (pfd) is about to lose its bytes from keep on: preserve
 * them in the caller's op first.  srcfd: the file, open for reading, or -1
 * (opened here).  0: go ahead; -errno: the truncation fails with it. */
static int preserve_at(fuse_req_t req, struct inode *parent, int pfd, const char *name,
		       int srcfd, off_t keep)
{
	struct overwrite_result res;
	struct relpath *rp = NULL;
	struct trash_loc loc;
	struct caller who;
	struct stat st;
	struct where w;
	int fd = srcfd, r;

	inode_where(parent, &w);
	if (w.zone != Z_LIVE)
		return 0;
	/* the type first: never open a device or FIFO just to look at it */
	if (fd < 0 && (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		       !S_ISREG(st.st_mode) || st.st_size <= keep))
		return 0;   /* nothing to lose (a missing name: the caller reports it) */
	if (fd < 0 && (fd = openat(pfd, name, O_RDONLY | O_NOATIME | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if (!S_ISREG(st.st_mode) || st.st_size <= keep)
		r = 0;
	else if ((r = loc_of(parent, &w, pfd, name, &rp, &loc)) == 0) {
		who_of(req, &who);
		r = overwrite_preserve(G(req)->ow, &who, &loc, fd, &st, keep, &res);
		r = report_preserve(G(req), &who, &loc, &res, r);
	}
	free(rp);
	if (fd != srcfd)
		close(fd);
	return r;
}

/* The same for an inode, through its last known name. */
static int preserve_ino(fuse_req_t req, struct inode *ino, off_t keep)
{
	char name[NAME_MAX + 1], proc[64];
	struct inode *parent = NULL;
	struct stat st;
	struct where w;
	int fd, rfd = -1, pfd, r = 0;

	inode_where(ino, &w);
	if (w.zone != Z_LIVE || inode_is_dir(ino) || inode_is_symlink(ino))
		return 0;   /* in trash or detached (an fd opened before rm): not live data */
	if ((fd = inode_open(ino, O_PATH)) < 0)
		return fd;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= keep)
		goto out;   /* the type first: never open a device or FIFO to read it */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if ((rfd = open(proc, O_RDONLY | O_NOATIME | O_CLOEXEC)) < 0) {
		r = -errno;
		goto out;
	}
	if (inode_parent_name(ino, &parent, name, sizeof(name)) == 0 && parent) {
		if ((pfd = inode_open(parent, O_PATH)) < 0) {
			r = pfd;
		} else {
			r = preserve_at(req, parent, pfd, name, rfd, keep);
			close(pfd);
		}
	}
	inode_unpin(parent);
out:
	close_fd(&rfd);
	close(fd);
	return r;
}

/* A file was created: if its creator's op is collecting, a truncation of
 * it in that op keeps nothing (the op made it). */
static void note_created(fuse_req_t req, struct inode *parent, int fd)
{
	struct caller who;
	struct stat st;
	struct where w;

	inode_where(parent, &w);
	if (w.zone != Z_LIVE || fstat(fd, &st) < 0)
		return;
	who_of(req, &who);
	trash_note_created(G(req)->trash, &who, w.site, st.st_dev, st.st_ino);
}

static void do_remove(fuse_req_t req, fuse_ino_t parent, const char *name, bool dir)
{
	struct inode *p = I(parent);
	struct relpath *rp = NULL;
	struct trash_loc loc;
	struct caller who;
	struct stat st;
	struct where w;
	int pfd = -1, r = 0;
	bool gone = false;   /* removed directly by a site exclusion */

	inode_where(p, &w);
	if (is_reserved(p, name) || in_trash(w.zone) || (w.zone == Z_ROOT && !dir))
		r = -EPERM;
	else if ((pfd = dircache_get(p)) < 0)
		r = pfd;
	else if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		r = -errno;
	else if ((r = loc_of(p, &w, pfd, name, &rp, &loc)) == 0) {
		who_of(req, &who);
		if ((r = check_protected(G(req), &who, &loc)) == 0 &&
		    (r = control_remove_excluded(G(req)->ctl, &who, &loc, dir, &st, &gone)) == 0 &&
		    !gone)
			r = trash_delete(G(req)->trash, &who, &loc, dir, &st);
		if (r == 0) {
			inode_detach(st.st_dev, st.st_ino);
			if (w.zone == Z_ROOT) {
				control_site_changed(G(req)->ctl, name, true);
				control_audit(G(req)->ctl, AUDIT_EV_SITE_TRASH, &who, name, NULL, "", NULL);
			}
		}
	}
	free(rp);
	dircache_put(p, pfd);
	fuse_reply_err(req, -r);
}

static void gfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	do_remove(req, parent, name, false);
}

static void gfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	do_remove(req, parent, name, true);
}

/* A container (an op directory, or a parent made only to hold victims)
 * moves only for those who may restore everything inside it. */
static int may_move_container(int sfd, const char *name, const char *op, uid_t uid)
{
	int fd = openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), r;

	if (fd < 0)
		return -errno;
	r = trash_container_owned(fd, op, uid);
	close(fd);
	return r < 0 ? r : r ? 0 : -EPERM;
}

/* A restored hard link counts again: the kernel's cached link count is
 * dropped now, not at the next tick (attributes only: this takes no lock
 * the pending rename holds). */
static void relinked_now(struct gfs *g, dev_t dev, ino_t ino)
{
	struct inode *n = inode_find(dev, ino);

	if (n && g->se)
		fuse_lowlevel_notify_inval_inode(g->se, inode_nodeid(n), -1, 0);
}

/* Restoring out of trash: root, the deleting uid, or the item's owner; out
 * of the root trash (whole sites) root alone (docs/isolation.md); never out
 * of a held op or site, nor out of a half-purged op.  (The engine checks
 * both again under its lock in trash_rename.) */
static int may_restore(struct gfs *g, fuse_req_t req, const struct where *ws,
		       int sfd, const char *name, const struct stat *st)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct op_record rec;
	const char *op = ws->zone == Z_TRASHDIR ? name : ws->op;

	int r = trash_op_get(g->trash, ws->scope, op, &rec), frozen;

	if ((frozen = trash_may_leave(g->trash, ws->scope, op)) == -EPERM) {
		struct caller who;   /* legal hold: a copy restores, mv does not */

		who_of(req, &who);
		control_audit(g->ctl, AUDIT_EV_DENIED, &who, ws->scope, op, name, "legal hold");
		log_msg(LOG_NOTICE, "refused restore of %s from held op %s%s%s (pid %u, %s)", name,
			ws->scope, *ws->scope ? "/" : "", op, who.pid, who.cmd);
	}
	if (frozen < 0)
		return frozen;   /* held (EPERM) or half purged (EBUSY) */
	if (ws->zone == Z_TRASHDIR && r == 0 && rec.state == OP_OPEN)
		return -EBUSY;   /* still collecting deletions: its dir is in use */
	if (ctx->uid == 0)
		return 0;
	if (!*ws->scope)
		return -EPERM;
	if (r == 0 && rec.uid == ctx->uid)
		return 0;   /* everything in an op is its deleter's to restore */
	if (S_ISDIR(st->st_mode) && (r = may_move_container(sfd, name, op, ctx->uid)) != -ENOTDIR)
		return r;
	return ctx->uid == st->st_uid ? 0 : -EPERM;
}

static void gfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		       fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct gfs *g = G(req);
	struct inode *sp = I(parent), *dp = I(newparent);
	struct relpath *srp = NULL, *drp = NULL, *frp = NULL;
	struct trash_loc src, dst;
	struct stat sst, dst_st;
	struct where ws, wd;
	struct caller who;
	int sfd = -1, dfd = -1, r = 0;
	bool had_dst, gone = false;   /* gone: dst excluded, replaced unpreserved */

	inode_where(sp, &ws);
	inode_where(dp, &wd);
	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE))
		r = -EINVAL;
	else if (is_reserved(sp, name) || is_reserved(dp, newname) || in_trash(wd.zone))
		r = -EPERM;
	else if ((ws.zone == Z_ROOT) != (wd.zone == Z_ROOT) &&
		 (ws.zone == Z_ROOT || (flags & RENAME_EXCHANGE)))
		r = -EPERM;   /* a site is renamed at the root, never nested */
	else if (in_trash(ws.zone) && (flags & RENAME_EXCHANGE))
		r = -EPERM;
	if (r)
		goto out;
	if ((sfd = inode_open(sp, O_PATH)) < 0 || (dfd = inode_open(dp, O_PATH)) < 0) {
		r = sfd < 0 ? sfd : dfd;
		goto out;
	}
	if (fstatat(sfd, name, &sst, AT_SYMLINK_NOFOLLOW) < 0) {
		r = -errno;
		goto out;
	}
	if (wd.zone == Z_ROOT && !S_ISDIR(sst.st_mode))
		r = -EPERM;
	else if (ws.zone == Z_INTRASH && !ws.op[0])
		r = -EPERM;   /* detached: its trash name is not known here */
	else if (in_trash(ws.zone))
		r = may_restore(g, req, &ws, sfd, name, &sst);
	if (r)
		goto out;
	had_dst = fstatat(dfd, newname, &dst_st, AT_SYMLINK_NOFOLLOW) == 0;
	if ((r = loc_of(sp, &ws, sfd, name, &srp, &src)) < 0 ||
	    (r = loc_of(dp, &wd, dfd, newname, &drp, &dst)) < 0)
		goto out;
	if (in_trash(ws.zone)) {
		src.site = "";   /* not at the root: no site moves */
		src.from_scope = ws.scope;
		src.from_op = ws.zone == Z_TRASHDIR ? name : ws.op;
		/* where in the op: the engine settles only what moved */
		if ((frp = malloc(sizeof(*frp))) && inode_relpath(sp, frp) == 0)
			src.rel = frp;
	}
	who_of(req, &who);
	/* a protected path may not leave its place: not by mv, not by a swap,
	 * and nothing may be renamed over it */
	if (!in_trash(ws.zone) && (r = check_protected(g, &who, &src)) < 0)
		goto out;
	if (had_dst && !(flags & RENAME_NOREPLACE) && (r = check_protected(g, &who, &dst)) < 0)
		goto out;
	if (had_dst && !flags && !in_trash(ws.zone) && wd.zone == Z_LIVE &&
	    (dst_st.st_ino != sst.st_ino || dst_st.st_dev != sst.st_dev) &&
	    (r = control_rename_excluded(g->ctl, &who, &src, &dst, &dst_st, &gone)) < 0)
		goto out;
	if (!gone && (r = trash_rename(g->trash, &who, &src, &dst, flags)) < 0)
		goto out;
	if (in_trash(ws.zone)) {
		char to[RELPATH_MAX_BYTES + 4] = "to=", from[RELPATH_MAX_BYTES];

		/* the source as the site sees it: .trash/<op>/<path> */
		if (src.rel)
			rel_string(src.rel, name, from, sizeof(from));
		else
			snprintf(from, sizeof(from), "%s", name);
		rel_string(dst.rel, newname, to + 3, sizeof(to) - 3);
		control_audit(g->ctl, AUDIT_EV_RESTORE, &who, ws.scope, src.from_op, from,
			      to);
		log_msg(LOG_INFO, "restored %s from op %s%s%s to %s/%s by uid %u (%s)", name,
			ws.scope, *ws.scope ? "/" : "", src.from_op, wd.site, to + 3, who.uid,
			who.cmd);
	}
	if (wd.zone == Z_ROOT)
		control_site_changed(g->ctl, newname, false);
	if (ws.zone == Z_ROOT && strcmp(name, newname))
		control_site_changed(g->ctl, name, true);

	inode_moved(sst.st_dev, sst.st_ino, dp, newname);
	if (in_trash(ws.zone) && !S_ISDIR(sst.st_mode) && sst.st_nlink > 1)
		relinked_now(g, sst.st_dev, sst.st_ino);
	if (had_dst && (dst_st.st_ino != sst.st_ino || dst_st.st_dev != sst.st_dev)) {
		if (flags & RENAME_EXCHANGE)
			inode_moved(dst_st.st_dev, dst_st.st_ino, sp, name);
		else
			inode_detach(dst_st.st_dev, dst_st.st_ino);
	}
	if (in_trash(ws.zone) && S_ISDIR(sst.st_mode)) {
		/* live again: our markers must not follow it */
		int fd = openat(dfd, newname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (fd >= 0) {
			fremovexattr(fd, OPREC_XATTR);
			fremovexattr(fd, TRASH_MIRROR_XATTR);
			close(fd);
		}
	}
out:
	free(srp);
	free(drp);
	free(frp);
	close_fd(&sfd);
	close_fd(&dfd);
	fuse_reply_err(req, -r);
}

/* ---- files ------------------------------------------------------------------------ */

static int backing_flags(struct gfs *g, int flags)
{
	flags &= ~(O_CREAT | O_EXCL | O_NOCTTY | O_DIRECT);
	if (g->writeback) {
		/* the kernel may read to fill pages, and does appends itself */
		if ((flags & O_ACCMODE) == O_WRONLY)
			flags = (flags & ~O_ACCMODE) | O_RDWR;
		flags &= ~O_APPEND;
	}
	return flags | O_NOFOLLOW | O_CLOEXEC;
}

/* The backing fd lives in the file handle: an open file keeps working
 * after rm moved it into trash.  Nothing else changes a file's data behind
 * the kernel, so its page cache is kept across opens, and close() needs no
 * FLUSH round trip (locks are the kernel's; see gfs_ops). */
static void set_open_flags(struct gfs *g, struct fuse_file_info *fi, int fd)
{
	(void)g;
	fi->fh = (uint64_t)fd;
	fi->keep_cache = 1;
	fi->noflush = 1;
}

/* Register an open file with its inode (see may_modify). 0 or -errno. */
static int track_open(fuse_req_t req, struct inode *ino, int fd)
{
	struct where w;
	int live;

	inode_where(ino, &w);
	if ((live = has_live_name(G(req), ino, &w)) < 0)
		return live;
	return inode_handle_open(ino, fd, fuse_req_ctx(req)->pid, live > 0);
}

static bool wants_write(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

/* With the writeback cache the kernel keeps the mtime it knew at open (st:
 * the backing file's lstat if the caller has it) until it sends its own:
 * WRITEs through fd must not move it (wbtimes.h). */
static void own_times(struct gfs *g, struct fuse_file_info *fi, int fd, const struct stat *st)
{
	struct stat own;

	if (!g->writeback || !wants_write(fi->flags))
		return;
	if (!st && fstat(fd, &own) == 0)
		st = &own;
	if (st)
		wbtimes_open(fd, &st->st_mtim);
}

static void gfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	uid_t uid = fuse_req_ctx(req)->uid;
	int r = wants_write(fi->flags) ? may_modify(req, I(ino), REACH_NEW, NULL) : 0, fd;

	if (r < 0 || (r = fdcap_take(G(req)->fdcap, uid)) < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	if ((fi->flags & O_TRUNC) && (r = preserve_ino(req, I(ino), 0)) < 0) {
		fdcap_bind(G(req)->fdcap, uid, -1);   /* give the reservation back */
		fuse_reply_err(req, -r);
		return;
	}
	fd = inode_open(I(ino), backing_flags(G(req), fi->flags));
	fdcap_bind(G(req)->fdcap, uid, fd);
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	if ((r = track_open(req, I(ino), fd)) < 0) {
		fdcap_release(G(req)->fdcap, fd);
		close(fd);
		fuse_reply_err(req, -r);
		return;
	}
	set_open_flags(G(req), fi, fd);
	own_times(G(req), fi, fd, NULL);
	fuse_reply_open(req, fi);
}

static void gfs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		       mode_t mode, struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	uid_t uid = fuse_req_ctx(req)->uid;
	int pfd = creation_dir(req, parent, name, false), r = 0, fd = -1;

	if (pfd < 0 || (r = fdcap_take(G(req)->fdcap, uid)) < 0) {
		r = pfd < 0 ? pfd : r;
		goto out;
	}
	if ((fi->flags & O_TRUNC) && !(fi->flags & O_EXCL) &&
	    (r = preserve_at(req, I(parent), pfd, name, -1, 0)) < 0) {
		fdcap_bind(G(req)->fdcap, uid, -1);   /* give the reservation back */
		goto out;   /* it exists after all (made meanwhile) and holds data */
	}
	fd = openat(pfd, name, backing_flags(G(req), fi->flags) | O_CREAT | (fi->flags & O_EXCL),
		    mode & 07777);
	fdcap_bind(G(req)->fdcap, uid, fd < 0 ? -1 : fd);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	if ((r = give_to_caller(req, pfd, name, S_IFREG | mode)) < 0 ||
	    (r = do_lookup(G(req), I(parent), pfd, name, &e)) < 0)
		goto out;
	if ((r = track_open(req, I(e.ino), fd)) < 0) {
		inode_forget(I(e.ino), 1);
		goto out;
	}
	note_created(req, I(parent), fd);
	set_open_flags(G(req), fi, fd);
	own_times(G(req), fi, fd, &e.attr);
	fd = -1;
out:
	dircache_put(I(parent), pfd);
	fdcap_release(G(req)->fdcap, fd);
	close_fd(&fd);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_create(req, &e, fi);
}

static void gfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);

	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = (int)fi->fh;
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

static void gfs_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in,
			  off_t off, struct fuse_file_info *fi)
{
	struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in));
	ssize_t n;

	out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	out.buf[0].fd = (int)fi->fh;
	out.buf[0].pos = off;
	/* as the uid that opened it (writeback requests may come as root): no
	 * tenant reaches the root reserve */
	uid_t fs = privs_fsuid_enter(fdcap_owner(G(req)->fdcap, (int)fi->fh,
						 fuse_req_ctx(req)->uid));
	n = fuse_buf_copy(&out, in, 0);
	privs_fsuid_leave(fs);
	if (n >= 0)
		wbtimes_after_write((int)fi->fh);   /* the kernel's mtime stays */
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}

static void gfs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fdcap_release(G(req)->fdcap, (int)fi->fh);
	wbtimes_forget((int)fi->fh);
	inode_handle_close(I(ino), (int)fi->fh);   /* before the fd number is free */
	close((int)fi->fh);
	fuse_reply_err(req, 0);
}

static void gfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		      struct fuse_file_info *fi)
{
	int fd = (int)fi->fh;
	int r = datasync ? fdatasync(fd) : fsync(fd);

	fuse_reply_err(req, r < 0 ? errno : 0);
}

static void gfs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
			  off_t len, struct fuse_file_info *fi)
{
	int r = mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE | FALLOC_FL_COLLAPSE_RANGE)
		? preserve_ino(req, I(ino), off) : 0;

	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	uid_t fs = privs_fsuid_enter(fuse_req_ctx(req)->uid);
	r = fallocate((int)fi->fh, mode, off, len) < 0 ? errno : 0;
	privs_fsuid_leave(fs);
	fuse_reply_err(req, r);
}

static void gfs_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
				struct fuse_file_info *fi_in, fuse_ino_t ino_out,
				off_t off_out, struct fuse_file_info *fi_out,
				size_t len, int flags)
{
	uid_t fs = privs_fsuid_enter(fuse_req_ctx(req)->uid);
	ssize_t n = copy_file_range((int)fi_in->fh, &off_in, (int)fi_out->fh, &off_out,
				    len, (unsigned)flags);
	int e = errno;

	privs_fsuid_leave(fs);
	errno = e;

	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_write(req, (size_t)n);
}

static void gfs_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		      struct fuse_file_info *fi)
{
	off_t r = lseek((int)fi->fh, off, whence);

	if (r < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_lseek(req, r);
}

/* ---- directories ---------------------------------------------------------------------- */

struct dirh {
	DIR *dp;                 /* NULL until the first readdir (dir_stream) */
	struct dirent *entry;
	off_t offset;
	enum inode_kind kind;
};

/* May the kernel keep this directory's listing (FOPEN_CACHE_DIR)?  Live
 * directories change only through the kernel, which then drops the cache
 * itself, or by an undo, after which ops_on_undone invalidates them.  The
 * root (sites come and go with gracectl), the trash (ops appear and vanish
 * behind the kernel) and a site root that lists .trash (created on first
 * use) are read afresh on every open. */
static bool dir_cacheable(struct gfs *g, struct inode *ino)
{
	struct where w;

	if (g->timeout <= 0)
		return false;
	inode_where(ino, &w);
	return w.zone == Z_LIVE && !(inode_kind(ino) == K_SITE && g->trash_visible);
}

/* The directory stream, opened on first use: a cached listing is served
 * by the kernel without any READDIR, so its OPENDIR costs no syscall. */
static int dir_stream(fuse_req_t req, fuse_ino_t ino, struct dirh *d)
{
	uid_t uid = fuse_req_ctx(req)->uid;
	int fd, r;

	if (d->dp)
		return 0;
	if ((r = fdcap_take(G(req)->fdcap, uid)) < 0)
		return r;   /* this uid holds its share of the daemon's fds */
	fd = inode_open(I(ino), O_RDONLY | O_DIRECTORY);
	fdcap_bind(G(req)->fdcap, uid, fd < 0 ? -1 : fd);
	if (fd < 0)
		return fd;
	if (!(d->dp = fdopendir(fd))) {
		int e = errno;

		fdcap_release(G(req)->fdcap, fd);
		close(fd);
		return -e;
	}
	return 0;
}

static void gfs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dirh *d = calloc(1, sizeof(*d));
	int r = d ? 0 : -ENOMEM;

	if (d && dir_cacheable(G(req), I(ino))) {
		fi->cache_readdir = 1;
		fi->keep_cache = 1;
	} else if (d) {
		r = dir_stream(req, ino, d);   /* errors at opendir(3), as before */
	}
	if (r < 0) {
		free(d);
		fuse_reply_err(req, -r);
		return;
	}
	d->kind = inode_kind(I(ino));
	fi->fh = (uint64_t)(uintptr_t)d;
	fuse_reply_open(req, fi);
}

/* The name readdir shows for a backing entry: NULL to hide it. */
static const char *shown_name(struct gfs *g, enum inode_kind k, const char *name)
{
	if (k == K_ROOT && !strcmp(name, TRASH_STATE_DIR))
		return g->trash_visible ? TRASH_NAME : NULL;
	if (k == K_ROOT && !strcmp(name, TRASH_NAME))
		return NULL;   /* a stray backing entry would shadow the root trash */
	if (k == K_SITE && !strcmp(name, TRASH_NAME) && !g->trash_visible)
		return NULL;
	return name;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct gfs *g = G(req);
	struct dirh *d = (struct dirh *)(uintptr_t)fi->fh;
	char *buf = calloc(1, size), *p = buf;
	size_t rem = size;
	int err = 0;

	if (!buf || (err = -dir_stream(req, ino, d)) != 0) {
		fuse_reply_err(req, buf ? err : ENOMEM);
		free(buf);
		return;
	}
	if (off != d->offset) {
		seekdir(d->dp, off);
		d->entry = NULL;
		d->offset = off;
	}
	for (;;) {
		struct fuse_entry_param e = {0};
		const char *name;
		size_t len;

		if (!d->entry) {
			errno = 0;
			if (!(d->entry = readdir(d->dp))) {
				err = errno;
				break;
			}
		}
		name = shown_name(g, d->kind, d->entry->d_name);
		if (!name) {
			d->offset = d->entry->d_off;
			d->entry = NULL;
			continue;
		}
		if (plus && strcmp(name, ".") && strcmp(name, "..")) {
			int r = do_lookup(g, I(ino), dirfd(d->dp), name, &e);

			if (r < 0) {   /* vanished meanwhile: skip it */
				d->offset = d->entry->d_off;
				d->entry = NULL;
				continue;
			}
			len = fuse_add_direntry_plus(req, p, rem, name, &e, d->entry->d_off);
		} else {
			struct stat st = { .st_ino = d->entry->d_ino,
					   .st_mode = (mode_t)d->entry->d_type << 12 };

			e.attr = st;
			len = plus ? fuse_add_direntry_plus(req, p, rem, name, &e, d->entry->d_off)
				   : fuse_add_direntry(req, p, rem, name, &st, d->entry->d_off);
		}
		if (len > rem) {
			if (e.ino)
				inode_forget(I(e.ino), 1);
			break;
		}
		p += len;
		rem -= len;
		d->offset = d->entry->d_off;
		d->entry = NULL;
	}
	if (err && rem == size)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, size - rem);
	free(buf);
}

static void gfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

static void gfs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			    struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

static void gfs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dirh *d = (struct dirh *)(uintptr_t)fi->fh;

	if (d->dp) {
		fdcap_release(G(req)->fdcap, dirfd(d->dp));
		closedir(d->dp);
	}
	free(d);
	fuse_reply_err(req, 0);
}

static void gfs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			 struct fuse_file_info *fi)
{
	struct dirh *d = (struct dirh *)(uintptr_t)fi->fh;
	int r = dir_stream(req, ino, d), fd;

	if (r == 0) {
		fd = dirfd(d->dp);
		r = (datasync ? fdatasync(fd) : fsync(fd)) < 0 ? -errno : 0;
	}
	fuse_reply_err(req, -r);
}

static void gfs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	if (fstatvfs(G(req)->backing_fd, &sv) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &sv);
}

/* ---- extended attributes --------------------------------------------------------------- */

static bool own_xattr(const char *name)
{
	return !strncmp(name, OWN_XATTR_PREFIX, strlen(OWN_XATTR_PREFIX));
}

/* Which virtual attributes an inode has (names are copied into w). */
static void vattr_at_of(struct inode *ino, struct where *w, struct vattr_at *at)
{
	inode_where(ino, w);
	at->scope = w->scope;
	at->op = w->op;
	if (w->zone == Z_ROOT)
		at->target = VA_ROOT;
	else if (w->zone == Z_OPDIR)
		at->target = VA_OPDIR;
	else if (w->zone == Z_TRASHDIR)
		at->target = inode_kind(ino) == K_RTRASH ? VA_ROOT_TRASH : VA_SITE_TRASH;
	else
		at->target = VA_NONE;
}

static void reply_xattr(fuse_req_t req, const char *val, ssize_t len, size_t size)
{
	if (len < 0)
		fuse_reply_err(req, (int)-len);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)len);
	else if ((size_t)len > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, val, (size_t)len);
}

static void gfs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct vattr_at at;
	struct pathref pr;
	struct where w;
	char *val = NULL;
	ssize_t len;

	if (own_xattr(name)) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	vattr_at_of(I(ino), &w, &at);
	if (at.target != VA_NONE && !strncmp(name, OPATTR_PREFIX, strlen(OPATTR_PREFIX)) &&
	    !vattr_may_read(&G(req)->va, &at, fuse_req_ctx(req)->uid)) {
		fuse_reply_err(req, EACCES);
		return;
	}
	if (at.target != VA_NONE) {
		char buf[OPREC_CMD_MAX + 512];

		len = vattr_get(&G(req)->va, &at, name, buf, size ? sizeof(buf) : 0);
		if (len != -ENODATA) {
			reply_xattr(req, buf, len, size);
			return;
		}
	}
	if ((len = pathref_get(I(ino), &pr)) < 0) {
		fuse_reply_err(req, (int)-len);
		return;
	}
	if (size && !(val = malloc(size)))
		len = -ENOMEM;
	else if ((len = (pr.nofollow ? lgetxattr : getxattr)(pr.path, name, val, size)) < 0)
		len = -errno;
	pathref_put(&pr);
	reply_xattr(req, val, len, size);
	free(val);
}

static void gfs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct vattr_at at;
	struct pathref pr;
	struct where w;
	char *raw = NULL, *out = NULL;
	ssize_t len, olen = 0;
	size_t extra;

	vattr_at_of(I(ino), &w, &at);
	if (!vattr_may_read(&G(req)->va, &at, fuse_req_ctx(req)->uid))
		at.target = VA_NONE;   /* names not shown either */
	extra = vattr_list(&G(req)->va, &at, NULL, 0);
	if ((len = pathref_get(I(ino), &pr)) < 0) {
		fuse_reply_err(req, (int)-len);
		return;
	}
	len = (pr.nofollow ? llistxattr : listxattr)(pr.path, NULL, 0);
	if (len >= 0 && (raw = malloc((size_t)len + 1)) && (out = malloc((size_t)len + extra + 1)))
		len = (pr.nofollow ? llistxattr : listxattr)(pr.path, raw, (size_t)len);
	else if (len >= 0)
		len = -1, errno = ENOMEM;
	pathref_put(&pr);
	if (len < 0) {
		reply_xattr(req, NULL, -errno, size);
		goto out;
	}
	for (ssize_t off = 0; off < len; off += (ssize_t)strlen(raw + off) + 1) {
		if (own_xattr(raw + off))
			continue;
		memcpy(out + olen, raw + off, strlen(raw + off) + 1);
		olen += (ssize_t)strlen(raw + off) + 1;
	}
	if (extra)
		olen += (ssize_t)vattr_list(&G(req)->va, &at, out + olen, extra);
	reply_xattr(req, out, olen, size);
out:
	free(raw);
	free(out);
}

/* A hold, release or retention set through the mount
 * is on the record like the same act through gracectl. */
static void audit_vattr(fuse_req_t req, const struct vattr_at *at, const char *name,
			const char *value, size_t size)
{
	char detail[128];
	const char *key = name + strlen(OPATTR_PREFIX), *event = AUDIT_EV_SITE_SET;
	struct caller who;
	int n = (int)(size && value[size - 1] == '\n' ? size - 1 : size);

	if (!strcmp(key, "hold"))
		event = n == 1 && value[0] == '1' ? AUDIT_EV_HOLD : AUDIT_EV_RELEASE;
	snprintf(detail, sizeof(detail), "%s=%.*s (setfattr)", key, n > 64 ? 64 : n, value);
	who_of(req, &who);
	control_audit(G(req)->ctl, event, &who, at->scope, at->target == VA_OPDIR ? at->op : NULL,
		      "", detail);
}

static void change_xattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			 const char *value, size_t size, int flags, bool remove)
{
	struct vattr_at at;
	struct pathref pr;
	struct where w;
	int r;

	vattr_at_of(I(ino), &w, &at);
	if (!remove && at.target != VA_NONE) {
		r = vattr_set(&G(req)->va, &at, name, value, size, fuse_req_ctx(req)->uid);
		if (r == 0)
			audit_vattr(req, &at, name, value, size);
		if (r != -ENODATA) {
			fuse_reply_err(req, -r);
			return;
		}
	}
	r = own_xattr(name) ? -EPERM : may_modify(req, I(ino), REACH_PATH, NULL);
	if (!r && (r = pathref_get(I(ino), &pr)) == 0) {
		if (remove)
			r = (pr.nofollow ? lremovexattr : removexattr)(pr.path, name);
		else
			r = (pr.nofollow ? lsetxattr : setxattr)(pr.path, name, value, size, flags);
		r = r < 0 ? -errno : 0;
		pathref_put(&pr);
	}
	fuse_reply_err(req, -r);
}

static void gfs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			 const char *value, size_t size, int flags)
{
	change_xattr(req, ino, name, value, size, flags, false);
}

static void gfs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	change_xattr(req, ino, name, NULL, 0, 0, true);
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
	conn->time_gran = g->time_gran ? g->time_gran : 1;   /* cached mtimes as BACKING keeps them */
	/* readdirplus only where it pays: the kernel asks when it will stat */
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

/* ---- maintenance thread and kernel invalidations ------------------------------------------ */

struct inval {
	struct inval *next;
	dev_t dev;
	ino_t ino;
	bool attr_only;   /* the inode's attributes, not a name in it */
	char name[NAME_MAX + 1];
};

static void queue_inval(struct gfs *g, struct inval *iv)
{
	pthread_mutex_lock(&g->inval_lock);
	iv->next = g->inval;
	g->inval = iv;
	pthread_mutex_unlock(&g->inval_lock);
}

void ops_on_relinked(void *arg, dev_t dev, ino_t ino)
{
	struct inval *iv = calloc(1, sizeof(*iv));

	if (!iv)
		return;   /* the kernel's attributes expire by their timeout */
	iv->dev = dev;
	iv->ino = ino;
	iv->attr_only = true;
	queue_inval(arg, iv);
}

void ops_on_removed(void *arg, int dirfd, const char *name)
{
	struct gfs *g = arg;
	struct inval *iv = calloc(1, sizeof(*iv));
	struct stat st;

	if (!iv || fstat(dirfd, &st) < 0) {
		free(iv);
		return;   /* the kernel's entry expires by its timeout */
	}
	iv->dev = st.st_dev;
	iv->ino = st.st_ino;
	snprintf(iv->name, sizeof(iv->name), "%s", name);
	queue_inval(g, iv);
}

static void send_invalidations(struct gfs *g);

/* An undo put names back into live directories whose listings the kernel
 * may hold (dir_cacheable): drop every directory's cached listing and
 * attributes.  Undo is rare; the list is the directories the kernel knows.
 * Called after the engine lock is let go, before gracectl hears "done": the
 * entries the undo queued (a live name that now holds the preserved file,
 * UNDO_REPLACE) are dropped now, so the next open sees the restored file. */
void ops_on_undone(void *arg)
{
	struct gfs *g = arg;
	uint64_t *ids = NULL;
	ssize_t n;

	send_invalidations(g);
	if (!g->se || (n = inode_dir_nodeids(&ids)) < 0)
		return;
	for (ssize_t i = 0; i < n; i++)
		fuse_lowlevel_notify_inval_inode(g->se, ids[i], 0, 0);
	free(ids);
}

static void send_invalidations(struct gfs *g)
{
	struct inval *list;

	pthread_mutex_lock(&g->inval_lock);
	list = g->inval;
	g->inval = NULL;
	pthread_mutex_unlock(&g->inval_lock);
	while (list) {
		struct inval *iv = list;
		struct inode *parent = inode_find(iv->dev, iv->ino);

		list = iv->next;
		if (parent && g->se && iv->attr_only)
			fuse_lowlevel_notify_inval_inode(g->se, inode_nodeid(parent), -1, 0);
		else if (parent && g->se)
			fuse_lowlevel_notify_inval_entry(g->se, inode_nodeid(parent),
							 iv->name, strlen(iv->name));
		free(iv);
	}
}

/* The metrics file: within a second of a change, and every 30 s anyway. */
static void write_metrics(struct gfs *g)
{
	static int64_t last_ns;
	static uint64_t last_sum = UINT64_MAX;
	struct trash_counters tc;
	struct sweep_status st = {0};
	struct space_status sp = {0};
	struct timespec now;
	int64_t ns;
	uint64_t sum;

	if (!g->metrics_path || !g->ctl)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ns = now.tv_sec * 1000000000LL + now.tv_nsec;
	trash_get_counters(g->trash, &tc);
	if (g->sweep)
		sweep_get_status(g->sweep, &st);
	struct overwrite_counters oc = {0};
	if (g->space)
		space_get_status(g->space, &sp);
	if (g->ow)
		overwrite_get_counters(g->ow, &oc);
	sum = tc.deletions + tc.restores + tc.purged + (uint64_t)st.skew_s + (uint64_t)sp.pressure +
	      oc.cloned + oc.copied + oc.unpreserved;
	if (ns - last_ns < 1000000000LL || (sum == last_sum && ns - last_ns < 30000000000LL))
		return;
	int r = control_write_metrics(g->ctl, g->metrics_path);
	if (r < 0)
		log_msg(LOG_WARNING, "metrics: cannot write %s: %s", g->metrics_path, strerror(-r));
	last_ns = ns;
	last_sum = sum;
}

static void *maint_main(void *arg)
{
	struct gfs *g = arg;

	pthread_mutex_lock(&g->maint_lock);
	while (!g->maint_stop) {
		struct timespec until;

		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += g->tick_ns % 1000000000;
		until.tv_sec += g->tick_ns / 1000000000 + until.tv_nsec / 1000000000;
		until.tv_nsec %= 1000000000;
		pthread_cond_timedwait(&g->maint_cond, &g->maint_lock, &until);
		if (g->maint_stop)
			break;
		pthread_mutex_unlock(&g->maint_lock);
		int r = trash_tick(g->trash);
		if (r < 0)
			log_msg(LOG_ERR, "index or trash record update failed: %s", strerror(-r));
		send_invalidations(g);
		control_tick(g->ctl);
		write_metrics(g);
		pthread_mutex_lock(&g->maint_lock);
	}
	pthread_mutex_unlock(&g->maint_lock);
	return NULL;
}

int ops_maint_start(struct gfs *g)
{
	pthread_condattr_t ca;
	int r;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->maint_cond, &ca);
	pthread_condattr_destroy(&ca);
	g->maint_stop = false;
	if ((r = pthread_create(&g->maint, NULL, maint_main, g)) != 0)
		return -r;
	g->maint_running = true;
	return 0;
}

void ops_maint_stop(struct gfs *g)
{
	if (!g->maint_running)
		return;
	pthread_mutex_lock(&g->maint_lock);
	g->maint_stop = true;
	pthread_cond_signal(&g->maint_cond);
	pthread_mutex_unlock(&g->maint_lock);
	pthread_join(g->maint, NULL);
	g->maint_running = false;
	send_invalidations(g);
}
