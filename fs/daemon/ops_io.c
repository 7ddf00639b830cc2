/*
 * ops_io — open files (open, create, read, write, fsync, fallocate, copy
 * ranges, lseek) and directory listings, and statfs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "lib/log.h"
#include "daemon/dircache.h"
#include "daemon/fusegate.h"
#include "daemon/fuseio.h"
#include "daemon/passthru.h"
#include "daemon/inode.h"
#include "daemon/ops_int.h"
#include "lib/privs.h"
#include "daemon/wberr.h"
#include "daemon/wbtimes.h"

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
 * FLUSH round trip (locks are the kernel's; see gfs_ops) — except through
 * a trash name: its node id is not the one its live names write through
 * (inode.h, "Routes"), so reads there go to the backing file every time
 * (direct I/O) and never see stale data or sizes. */
static void set_open_flags(struct gfs *g, struct inode *ino, struct fuse_file_info *fi, int fd)
{
	struct where w;

	(void)g;
	inode_where(ino, &w);
	fi->fh = (uint64_t)fd;
	fi->keep_cache = !inode_trash_route(ino);
	fi->direct_io = in_trash(w.zone) && !w.detached;
	fi->noflush = 1;
}

/* Register an open file with its inode (see may_modify). 0 or -errno. */
static int track_open(fuse_req_t req, struct inode *ino, int fd)
{
	struct where w;
	int live;

	inode_where(ino, &w);
	if ((live = reached_live(G(req), ino, &w)) < 0)
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

/* The kernel leaves clearing setuid/setgid on write and truncate to the
 * daemon (FUSE_HANDLE_KILLPRIV_V2, fuseinit.h: it then stops asking for
 * security.capability before every write).  Like the VFS: a caller without
 * CAP_FSETID — for gracefs, any uid but root — clears S_ISUID, and S_ISGID
 * where group execute is set, of the regular file fd; root keeps them.
 * `security.capability` the backing filesystem clears itself on every
 * write.  notify: tell the kernel its cached mode is stale (a WRITE or
 * OPEN reply carries no attributes; a SETATTR reply does).  0 or -errno. */
int kill_setid(fuse_req_t req, fuse_ino_t ino, int fd, bool notify)
{
	struct stat st;
	mode_t m;

	if (fuse_req_ctx(req)->uid == 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    !(st.st_mode & (S_ISUID | S_ISGID)))
		return 0;   /* the common case: one fstat */
	m = st.st_mode & 07777 & ~S_ISUID;
	if ((m & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
		m &= ~S_ISGID;
	if (m != (st.st_mode & 07777) && fchmod(fd, m) < 0)
		return -errno;
	/* also when the mode stays: the write under the caller's fsuid may
	 * still clear a setgid bit without group execute (not in the group) */
	if (notify)   /* attributes only: takes no lock the caller holds */
		fuse_lowlevel_notify_inval_inode(G(req)->se, ino, -1, 0);
	return 0;
}

/* Which path the open file fd of ino takes (ptpolicy.h), after
 * set_open_flags: *backing 0, the daemon's; else the kernel's, through
 * that registration.  An open that meets passthrough files of the inode
 * must join them (the kernel refuses anything else): if it writes, the
 * file's bytes are preserved as by a truncation, and setid bits cleared
 * as by its first write.  0 or -errno. */
static int choose_path(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int fd,
		       uint32_t *backing)
{
	uid_t uid = fuse_req_ctx(req)->uid;
	struct stat st;
	struct where w;
	int r;

	*backing = 0;
	if (fstat(fd, &st) < 0)
		return -errno;
	inode_where(I(ino), &w);
	r = passthru_open(I(ino), fd, uid, ptpolicy_class(fi->flags, &st,
			  w.zone == Z_LIVE && !inode_trash_route(I(ino))), backing);
	if (r != PASSTHRU_PRESERVE)
		goto done;
	if (wants_write(fi->flags) && ((r = preserve_ino(req, I(ino), 0)) < 0 ||
				       (r = kill_setid(req, ino, fd, true)) < 0))
		return r;
	r = passthru_open(I(ino), fd, uid, PT_PRESERVED, backing);
done:
	if (r == 0 && *backing)
		fi->keep_cache = 0;   /* the kernel refuses it with FOPEN_PASSTHROUGH */
	return r;
}

/* Forget the open file fd of ino: RELEASE, or an open the kernel did not
 * take after all (its request was interrupted: no RELEASE will come). */
static void forget_open(fuse_req_t req, fuse_ino_t ino, int fd)
{
	char scope[NAME_MAX + 1], op[NAME_MAX + 1];
	int r;

	passthru_release(I(ino), fd);   /* before the fd number is free */
	fdcap_release(G(req)->fdcap, fd);
	wbtimes_forget(fd);
	if (G(req)->cr) {   /* a handle opened for writing: its opener changed the file */
		struct wguard_note note;
		struct caller opener;
		struct stat st;

		if (wguard_get(fd, &note, &opener) == 0 && fstat(fd, &st) == 0)
			created_note_changed(G(req)->cr, opener.run, &st);
	}
	wguard_forget(fd);
	wberr_take(ino);   /* close(2) reported it (the kernel keeps it too) */
	bool grown = inode_handle_close(I(ino), fd, scope, op);   /* before the fd number is free */

	close(fd);
	/* the last handle of a file deleted while open: what it wrote since
	 * is in the op, uncounted (issue 21) */
	if (grown && (r = trash_op_recount(G(req)->trash, scope, op)) < 0 && r != -ENOENT)
		log_msg(LOG_WARNING, "cannot recount op %s%s%s after its open file closed: %s",
			scope, *scope ? "/" : "", op, strerror(-r));
}

void gfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	uint32_t backing;
	uid_t uid = fuse_req_ctx(req)->uid;
	int r = wants_write(fi->flags) ? may_modify(req, I(ino), REACH_NEW, NULL) : 0, fd;

	if (r == 0 && defer_open(req, ino, fi))
		return;   /* O_TRUNC may copy: the copy pool runs it (ops_defer.c) */
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
	set_open_flags(G(req), I(ino), fi, fd);
	if ((r = track_open(req, I(ino), fd)) < 0 ||
	    ((fi->flags & O_TRUNC) && (r = kill_setid(req, ino, fd, true)) < 0) ||
	    (r = choose_path(req, ino, fi, fd, &backing)) < 0) {
		inode_handle_close(I(ino), fd, NULL, NULL);   /* nothing if it was not tracked */
		fdcap_release(G(req)->fdcap, fd);
		close(fd);
		fuse_reply_err(req, -r);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY) {   /* its WRITEs preserve in the opener's op */
		struct caller who;

		who_of(req, &who);
		guard_open(fd, &who, false);
	}
	own_times(G(req), fi, fd, NULL);
	if (fuseio_reply_open(req, fi, backing) != 0)
		forget_open(req, ino, fd);
}

void gfs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		mode_t mode, struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	struct caller who;
	uid_t uid = fuse_req_ctx(req)->uid;
	uint32_t backing = 0;
	int pfd, r = 0, fd = -1, kept = -1;

	if (defer_create(req, parent, name, mode, fi))
		return;   /* it meets a file with data: the copy pool runs it (ops_defer.c) */
	pfd = creation_dir(req, parent, name, false);

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
	set_open_flags(G(req), I(e.ino), fi, fd);
	if ((r = track_open(req, I(e.ino), fd)) < 0 ||
	    (r = choose_path(req, e.ino, fi, fd, &backing)) < 0) {
		inode_handle_close(I(e.ino), fd, NULL, NULL);   /* nothing if it was not tracked */
		inode_forget(I(e.ino), 1);
		goto out;
	}
	who_of(req, &who);
	note_created(req, &who, I(parent), name, &e.attr);
	if ((fi->flags & O_ACCMODE) != O_RDONLY)   /* made here, unless it was made meanwhile */
		guard_open(fd, &who, e.attr.st_size == 0);
	own_times(G(req), fi, fd, &e.attr);
	kept = fd;
	fd = -1;
out:
	dircache_put(I(parent), pfd);
	fdcap_release(G(req)->fdcap, fd);
	close_fd(&fd);
	if (r < 0)
		fuse_reply_err(req, -r);
	else if (fuseio_reply_create(req, &e, fi, backing) != 0)
		forget_open(req, e.ino, kept);   /* not taken: no RELEASE will come */
}

void gfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	      struct fuse_file_info *fi)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);

	fusegate_slow();   /* data I/O: other requests need not wait for it */
	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = (int)fi->fh;
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

void gfs_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in,
		   off_t off, struct fuse_file_info *fi)
{
	struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in)), mem;
	void *heap = NULL;
	ssize_t n;

	fusegate_slow();
	out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	out.buf[0].fd = (int)fi->fh;
	out.buf[0].pos = off;
	/* existing bytes preserved first (ops_guard.c), then setid cleared; a
	 * write that must copy the file first runs on the copy pool */
	if (defer_on_pool() || !G(req)->copyq)
		n = guard_write(req, ino, (int)fi->fh, off, fuse_buf_size(in), &in, &mem, &heap);
	else if ((n = guard_write_check(req, ino, (int)fi->fh, off, fuse_buf_size(in), &in,
					&mem, &heap)) > 0) {
		if (defer_write(req, ino, in, off, fi)) {
			free(heap);
			return;
		}
		n = guard_write(req, ino, (int)fi->fh, off, fuse_buf_size(in), &in, &mem, &heap);
	}
	if (n < 0 || (n = kill_setid(req, ino, (int)fi->fh, true)) < 0) {
		free(heap);
		fuse_reply_err(req, (int)-n);
		return;
	}
	/* as the uid that opened it (writeback requests may come as root): no
	 * tenant reaches the root reserve */
	uid_t fs = privs_fsuid_enter(fdcap_owner(G(req)->fdcap, (int)fi->fh,
						 fuse_req_ctx(req)->uid));
	n = fuse_buf_copy(&out, in, 0);
	privs_fsuid_leave(fs);
	free(heap);
	if (n >= 0)
		wbtimes_after_write((int)fi->fh);   /* the kernel's mtime stays */
	if ((n == -ENOSPC || n == -EDQUOT) && G(req)->writeback)
		ops_write_failed(G(req), ino, (int)fi->fh, (int)-n);   /* no caller waits */
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}

void gfs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	forget_open(req, ino, (int)fi->fh);
	fuse_reply_err(req, 0);
}

void gfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
	       struct fuse_file_info *fi)
{
	int fd = (int)fi->fh;

	fusegate_slow();
	int r = datasync ? fdatasync(fd) : fsync(fd);

	fuse_reply_err(req, r < 0 ? errno : 0);
}

void gfs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
		   off_t len, struct fuse_file_info *fi)
{
	int r;

	if (defer_fallocate(req, ino, mode, off, len, fi))
		return;   /* it may copy: the copy pool runs it (ops_defer.c) */
	fusegate_slow();
	r = mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE | FALLOC_FL_COLLAPSE_RANGE)
		? preserve_ino(req, I(ino), off) : 0;

	if (r < 0 || (r = kill_setid(req, ino, (int)fi->fh, true)) < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	uid_t fs = privs_fsuid_enter(fuse_req_ctx(req)->uid);
	r = fallocate((int)fi->fh, mode, off, len) < 0 ? errno : 0;
	privs_fsuid_leave(fs);
	fuse_reply_err(req, r);
}

void gfs_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			 struct fuse_file_info *fi_in, fuse_ino_t ino_out,
			 off_t off_out, struct fuse_file_info *fi_out,
			 size_t len, int flags)
{
	int k = 0;

	fusegate_slow();

	/* bytes that must be preserved first: the copy pool runs it */
	if (!defer_on_pool() && G(req)->copyq &&
	    (k = guard_write_check(req, ino_out, (int)fi_out->fh, off_out, len, NULL, NULL,
				   NULL)) > 0 &&
	    defer_copy_range(req, ino_in, off_in, fi_in, ino_out, off_out, fi_out, len, flags))
		return;
	if (k >= 0)
		k = guard_write(req, ino_out, (int)fi_out->fh, off_out, len, NULL, NULL, NULL);
	if (k < 0 || (k = kill_setid(req, ino_out, (int)fi_out->fh, true)) < 0) {
		fuse_reply_err(req, -k);
		return;
	}
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

/* SEEK_DATA and SEEK_HOLE.  With the writeback cache, written data may
 * still be dirty pages in the kernel only: the backing file would answer
 * ENXIO past its shorter end, or a hole where data is.  The daemon cannot
 * flush the kernel's pages, so it declines (ENOSYS): the kernel then
 * answers every lseek of the mount itself, from its own size — the whole
 * file is data, the one hole at its end (what a filesystem without hole
 * reporting says; sparse copies copy zeros). */
void gfs_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
	       struct fuse_file_info *fi)
{
	if (G(req)->writeback) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
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
bool dir_cacheable(struct gfs *g, struct inode *ino)
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

void gfs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
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
	/* A trash directory lists op directories: tens of thousands after a
	 * script that ran rm once per file, each a separate inode.  Their
	 * attributes with each name (READDIRPLUS) cost a lookup each — cold,
	 * a disk read each: `ls .trash` took 8x the backing directory's
	 * listing.  There, an entry gets its attributes only if the kernel
	 * already holds its inode (it was looked up and not forgotten: the
	 * caches are warm, the lookup costs no read); else its name and type
	 * only (nodeid 0: "no entry info", not a negative entry), and what is
	 * stat'ed afterwards is looked up then. */
	bool trashdir = d->kind == K_STRASH || d->kind == K_RTRASH;
	struct stat dst;

	if (!buf || (err = -dir_stream(req, ino, d)) != 0) {
		fuse_reply_err(req, buf ? err : ENOMEM);
		free(buf);
		return;
	}
	if (trashdir && plus && fstat(dirfd(d->dp), &dst) < 0)
		trashdir = false;   /* cannot tell: attributes for all, as elsewhere */
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
		if (name && d->kind == K_STRASH && !trash_entry_reaches(req, I(ino), dirfd(d->dp), name))
			name = NULL;   /* another tenant's op (trash_view=reach) */
		if (!name) {
			d->offset = d->entry->d_off;
			d->entry = NULL;
			continue;
		}
		if (plus && strcmp(name, ".") && strcmp(name, "..") &&
		    (!trashdir || inode_find(dst.st_dev, d->entry->d_ino))) {
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

void gfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		 struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

void gfs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

void gfs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dirh *d = (struct dirh *)(uintptr_t)fi->fh;

	if (d->dp) {
		fdcap_release(G(req)->fdcap, dirfd(d->dp));
		closedir(d->dp);
	}
	free(d);
	fuse_reply_err(req, 0);
}

void gfs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		  struct fuse_file_info *fi)
{
	struct dirh *d = (struct dirh *)(uintptr_t)fi->fh;

	fusegate_slow();
	int r = dir_stream(req, ino, d), fd;

	if (r == 0) {
		fd = dirfd(d->dp);
		r = (datasync ? fdatasync(fd) : fsync(fd)) < 0 ? -errno : 0;
	}
	fuse_reply_err(req, -r);
}

void gfs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	if (fstatvfs(G(req)->backing_fd, &sv) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &sv);
}
