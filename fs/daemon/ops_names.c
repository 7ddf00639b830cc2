/*
 * ops_names — creating, deleting and renaming names (mknod, mkdir,
 * symlink, link, unlink, rmdir, rename), and the hooks of overwrite
 * protection that preserve a file before a truncation.  Everything that
 * destroys a name goes to the trash engine.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <syslog.h>
#include <unistd.h>

#include "daemon/dircache.h"
#include "engine/exclude_glob.h"
#include "engine/sitepolicy.h"
#include "daemon/inode.h"
#include "lib/log.h"
#include "daemon/ops_int.h"
#include "lib/privs.h"

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
int give_to_caller(fuse_req_t req, int pfd, const char *name, mode_t mode)
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
int creation_dir(fuse_req_t req, fuse_ino_t parent, const char *name, bool is_dir)
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
	if (G(req)->cr) {   /* its run made it (undo run:ID --created) */
		struct caller who;

		who_of(req, &who);
		record_created(G(req), &who, I(parent), name, &e.attr);
	}
out:
	dircache_put(I(parent), pfd);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_entry(req, &e);
	return r;
}

void gfs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
	       mode_t mode, dev_t rdev)
{
	make_node(req, parent, name, mode, rdev, NULL);
}

void gfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
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
		control_audit(g->ctl, AUDIT_EV_SITE_ADD, &who, name, NULL, NULL, NULL);
	}
}

void gfs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		 const char *name)
{
	make_node(req, parent, name, S_IFLNK | 0777, 0, link);
}

void gfs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
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
			   const struct overwrite_result *res, int r, bool write)
{
	const char *what = write ? "overwrite" : "truncation";

	char rel[RELPATH_MAX_BYTES], detail[96], lim[32];

	if (!r && res->how != OW_CLONED && res->how != OW_COPIED && res->how != OW_UNPRESERVED)
		return 0;
	rel_string(loc->rel, loc->name, rel, sizeof(rel));
	if (r < 0) {
		log_msg(LOG_ERR, "cannot preserve %s/%s before %s, refused: %s", loc->site,
			rel, what, strerror(-r));
		return r;
	}
	if (res->how != OW_UNPRESERVED) {
		snprintf(detail, sizeof(detail), "bytes=%llu %s%s", (unsigned long long)res->bytes,
			 res->how == OW_CLONED ? "clone" : "copy", write ? " write" : "");
		control_audit(g->ctl, AUDIT_EV_OVERWRITE, who, loc->site, res->op, rel, detail);
		return 0;
	}
	util_format_size((uint64_t)res->limit, lim, sizeof(lim));
	snprintf(detail, sizeof(detail), "bytes=%llu preserve_max=%s%s",
		 (unsigned long long)res->bytes, lim, write ? " write" : "");
	if (control_protected(g->ctl, loc->site, rel)) {
		control_audit(g->ctl, AUDIT_EV_DENIED, who, loc->site, NULL, rel,
			      write ? "protected path: overwrite over preserve_max"
				    : "protected path: truncation over preserve_max");
		log_msg(LOG_NOTICE, "refused unpreserved %s of protected %s/%s (pid %u, %s)",
			what, loc->site, rel, who->pid, who->cmd);
		return -EPERM;
	}
	control_audit(g->ctl, AUDIT_EV_UNPRESERVED, who, loc->site, NULL, rel, detail);
	log_msg(LOG_WARNING, "%s %s/%s unpreserved (%s, no clone) by pid %u (%s)",
		write ? "overwriting" : "truncated", loc->site, rel, detail, who->pid, who->cmd);
	return 0;
}

/* Has the site's operator opted loc out of preservation (nopreserve=GLOB,
 * docs/overwrite.md)?  Then say so: an unpreserved audit row naming the
 * pattern and a log line (not counted as unpreserved: it was chosen).  A
 * protected path is preserved all the same.  An unreadable or bad list
 * opts nothing out. */
static bool nopreserve_skip(struct gfs *g, const struct caller *who, const struct trash_loc *loc,
			    bool write)
{
	char list[EXCLUDE_LIST_MAX + 2], rel[RELPATH_MAX_BYTES], detail[EXCLUDE_LIST_MAX + 32];
	struct exclude_set xs;
	const char *pat;

	if (sitepolicy_get_nopreserve(g->backing_fd, loc->site, list, sizeof(list)) < 0 || !*list ||
	    exclude_parse(list, &xs, NULL, 0) < 0)
		return false;
	rel_string(loc->rel, loc->name, rel, sizeof(rel));
	if (!(pat = exclude_match(&xs, rel)) || control_protected(g->ctl, loc->site, rel))
		return false;
	snprintf(detail, sizeof(detail), "nopreserve=%s%s", pat, write ? " write" : "");
	control_audit(g->ctl, AUDIT_EV_UNPRESERVED, who, loc->site, NULL, rel, detail);
	log_msg(LOG_INFO, "%s %s/%s unpreserved (%s) by pid %u (%s)",
		write ? "overwriting" : "truncated", loc->site, rel, detail, who->pid, who->cmd);
	return true;
}

/* What a preservation did, for the write guard's note (wguard.h). */
static void note_result(struct wguard_note *note, const struct trash_loc *loc,
			const struct overwrite_result *res)
{
	if (!note)
		return;
	memset(note, 0, sizeof(*note));
	if (res->how == OW_UNPRESERVED) {
		note->state = WG_UNPRESERVED;
	} else if (res->how == OW_HELD && !res->op[0]) {
		note->state = WG_OWN;   /* the writer created it (no op) */
	} else if (res->how != OW_NOTHING && res->op[0]) {
		note->state = WG_COVERED;
		snprintf(note->scope, sizeof(note->scope), "%s", loc->site);
		snprintf(note->op, sizeof(note->op), "%s", res->op);
	}
}

/* name in parent (pfd) is about to lose its bytes from keep on (a
 * truncation), or (keep -1) to have existing bytes overwritten: preserve
 * them in who's op first (who NULL: the request's caller).  srcfd: the
 * file, open for reading, or -1 (opened here).  upto >= 0: keep only the
 * file's first upto bytes (the rest the writer appended itself in this
 * op; wguard_append).  note (may be NULL): what
 * was done, for the write guard.  0: go ahead; -errno: the truncation or
 * write fails with it. */
int preserve_at_as(fuse_req_t req, const struct caller *who, struct inode *parent, int pfd,
		   const char *name, int srcfd, off_t keep, off_t upto, struct wguard_note *note)
{
	struct overwrite_result res = { .how = OW_NOTHING };
	struct relpath *rp = NULL;
	struct trash_loc loc;
	struct caller me;
	struct stat st;
	struct where w;
	int fd = srcfd, r;
	off_t k = keep < 0 ? 0 : keep;

	if (note)
		memset(note, 0, sizeof(*note));
	inode_where(parent, &w);
	if (w.zone != Z_LIVE)
		return 0;
	/* the type first: never open a device or FIFO just to look at it */
	if (fd < 0 && (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		       !S_ISREG(st.st_mode) || st.st_size <= k))
		return 0;   /* nothing to lose (a missing name: the caller reports it) */
	if (fd < 0 && (fd = openat(pfd, name, O_RDONLY | O_NOATIME | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if (!S_ISREG(st.st_mode) || st.st_size <= k)
		r = 0;
	else if ((r = loc_of(parent, &w, pfd, name, &rp, &loc)) == 0) {
		if (!who) {
			who_of(req, &me);
			who = &me;
		}
		if (upto >= 0 && upto < st.st_size)
			st.st_size = upto;
		if (nopreserve_skip(G(req), who, &loc, keep < 0)) {
			if (note)
				note->state = WG_SKIP;   /* once per handle */
			r = 0;
		} else {
			r = overwrite_preserve(G(req)->ow, who, &loc, fd, &st, k, &res);
			r = report_preserve(G(req), who, &loc, &res, r, keep < 0);
			if (r == 0)
				note_result(note, &loc, &res);
		}
	}
	free(rp);
	if (fd != srcfd)
		close(fd);
	return r;
}

/* name in pfd was ino's last known name; a file with other links may have
 * lost it since (ln f g; lookup g; rm g; : > f — the kernel reached f
 * through a cached dentry).  Find a current name of st in the same
 * directory (one readdir, only for hard-linked files whose name went);
 * none: keep the old one, the bytes are preserved under it all the same. */
static void current_name(int pfd, char *name, size_t cap, const struct stat *st)
{
	struct stat now;
	struct dirent *de;
	DIR *d;
	int fd;

	if (st->st_nlink <= 1 ||
	    (fstatat(pfd, name, &now, AT_SYMLINK_NOFOLLOW) == 0 && now.st_ino == st->st_ino))
		return;
	if ((fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return;
	if (!(d = fdopendir(fd))) {
		close(fd);
		return;
	}
	while ((de = readdir(d)))
		if (de->d_ino == st->st_ino && strlen(de->d_name) < cap &&
		    fstatat(pfd, de->d_name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
		    now.st_ino == st->st_ino && now.st_dev == st->st_dev) {
			strcpy(name, de->d_name);
			break;
		}
	closedir(d);
}

int preserve_at(fuse_req_t req, struct inode *parent, int pfd, const char *name,
		int srcfd, off_t keep)
{
	return preserve_at_as(req, NULL, parent, pfd, name, srcfd, keep, -1, NULL);
}

/* The same for an inode, through its last known name. */
int preserve_ino_as(fuse_req_t req, const struct caller *who, struct inode *ino, off_t keep,
		    off_t upto, struct wguard_note *note)
{
	char name[NAME_MAX + 1], proc[64];
	struct inode *parent = NULL;
	struct stat st;
	struct where w;
	int fd, rfd = -1, pfd, r = 0;

	if (note)
		memset(note, 0, sizeof(*note));
	inode_where(ino, &w);
	if (w.zone != Z_LIVE || inode_is_dir(ino) || inode_is_symlink(ino))
		return 0;   /* in trash or detached (an fd opened before rm): not live data */
	if ((fd = inode_open(ino, O_PATH)) < 0)
		return fd;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= (keep < 0 ? 0 : keep))
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
			current_name(pfd, name, sizeof(name), &st);
			r = preserve_at_as(req, who, parent, pfd, name, rfd, keep, upto, note);
			close(pfd);
		}
	}
	inode_unpin(parent);
out:
	close_fd(&rfd);
	close(fd);
	return r;
}

int preserve_ino(fuse_req_t req, struct inode *ino, off_t keep)
{
	return preserve_ino_as(req, NULL, ino, keep, -1, NULL);
}

/* The site-relative path of name in the live directory parent ("a/b/name").
 * 0, or -errno (too deep for a record: -ENAMETOOLONG). */
static int live_path(struct inode *parent, const char *name, char *buf, size_t cap)
{
	struct relpath *rp = malloc(sizeof(*rp));
	int r = rp ? inode_relpath(parent, rp) : -ENOMEM;

	if (r == 0) {
		rel_string(rp, name, buf, cap);
		if (strlen(buf) + 1 >= cap)
			r = -ENAMETOOLONG;
	}
	free(rp);
	return r;
}

/* who created name (st: its lstat) in the live directory parent: noted for
 * undo run:ID --created (created.h).  No syscall: the caller has st. */
void record_created(struct gfs *g, const struct caller *who, struct inode *parent,
		    const char *name, const struct stat *st)
{
	char path[CRREC_PATH_MAX];
	struct where w;

	if (!g->cr || !who->run[0])
		return;
	inode_where(parent, &w);
	if (w.zone == Z_LIVE && live_path(parent, name, path, sizeof(path)) == 0)
		created_note(g->cr, who, w.site, path, st);
}

/* A file was created: if its creator's op is collecting, a truncation of
 * it in that op keeps nothing (the op made it); and its run made it. */
void note_created(fuse_req_t req, const struct caller *who, struct inode *parent,
		  const char *name, const struct stat *st)
{
	struct where w;

	inode_where(parent, &w);
	if (w.zone != Z_LIVE)
		return;
	trash_note_created(G(req)->trash, who, w.site, st->st_dev, st->st_ino);
	record_created(G(req), who, parent, name, st);
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
		if (r == 0 && !gone && S_ISREG(st.st_mode)) {   /* written to after this? */
			char op[NAME_MAX + 1];

			if (trash_open_op_of(G(req)->trash, &who, loc.site, op, sizeof(op)) == 0)
				inode_note_deleted_open(st.st_dev, st.st_ino, loc.site, op);
		}
		if (r == 0) {
			if (!live_after_remove(G(req), &st))
				inode_detach(st.st_dev, st.st_ino, false);
			if (w.zone == Z_ROOT) {
				control_site_changed(G(req)->ctl, name, true);
				control_audit(G(req)->ctl, AUDIT_EV_SITE_TRASH, &who, name, NULL, "", NULL);
			}
			/* site-level: the site itself, or a tree directly under it
			 * (docs/operations.md, "Alerts") */
			if (w.zone == Z_ROOT)
				control_site_level_deleted(G(req)->ctl, &who, name, true);
			else if (dir && !gone && loc.site && loc.rel && loc.rel->n == 0)
				control_site_level_deleted(G(req)->ctl, &who, loc.site, false);
		}
	}
	free(rp);
	dircache_put(p, pfd);
	fuse_reply_err(req, -r);
}

void gfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	do_remove(req, parent, name, false);
}

void gfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
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

void gfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct gfs *g = G(req);
	struct inode *sp = I(parent), *dp = I(newparent);
	struct relpath *srp = NULL, *drp = NULL, *frp = NULL;
	struct trash_loc src, dst;
	struct stat sst, dst_st;
	struct where ws, wd;
	struct caller who;
	int sfd = -1, dfd = -1, r = 0, restored = -1;
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
	if (wd.zone == Z_ROOT && !had_dst && (in_trash(ws.zone) || strcmp(name, newname))) {
		/* a new site name: a deleted site restored by mv, or a site renamed */
		char d[2 * NAME_MAX + 64];

		if (in_trash(ws.zone))
			snprintf(d, sizeof(d), "restored %s of op:%s/%s", name, ws.scope,
				 src.from_op);
		else
			snprintf(d, sizeof(d), "renamed from site %s", name);
		control_audit(g->ctl, AUDIT_EV_SITE_ADD, &who, newname, NULL, NULL, d);
	}
	if (ws.zone == Z_ROOT && strcmp(name, newname))
		control_site_changed(g->ctl, name, true);

	/* an item a run created follows its new name (undo run:ID --created);
	 * the path is built only for a noted item, not for every rename */
	if (g->cr && !in_trash(ws.zone) && wd.zone == Z_LIVE && !(flags & RENAME_EXCHANGE) &&
	    created_knows(g->cr, sst.st_dev, sst.st_ino)) {
		char path[CRREC_PATH_MAX];

		if (live_path(dp, newname, path, sizeof(path)) == 0)
			created_note_moved(g->cr, who.run, sst.st_dev, sst.st_ino, wd.site, path,
					   dfd, newname);
	}
	/* the kernel moves the dentry it reached the source by: a restore
	 * moves the trash node id, which becomes live (inode.h, "Routes") */
	inode_moved(sst.st_dev, sst.st_ino, in_trash(ws.zone), dp, newname);
	if (in_trash(ws.zone) && !S_ISDIR(sst.st_mode) && sst.st_nlink > 1)
		relinked_now(g, sst.st_dev, sst.st_ino);
	if (had_dst && (dst_st.st_ino != sst.st_ino || dst_st.st_dev != sst.st_dev)) {
		if (flags & RENAME_EXCHANGE)
			inode_moved(dst_st.st_dev, dst_st.st_ino, false, sp, name);
		else if (!live_after_remove(g, &dst_st))
			inode_detach(dst_st.st_dev, dst_st.st_ino, false);
	}
	if (in_trash(ws.zone))   /* after the reply: see ops_entry_stale */
		restored = dfd;
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
	fuse_reply_err(req, -r);
	/* the restored name's dentry points at the node id it had in trash
	 * (or, an alias, a second one of a live inode): the kernel drops it
	 * and looks the name up afresh, on its live node id */
	if (restored >= 0)
		ops_entry_stale(g, restored, newname);
	close_fd(&dfd);
}
