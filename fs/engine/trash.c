/*
 * trash — the soft-delete engine (see trash.h for the contract).
 *
 * Threading: one mutex, t->lock, guards the list of open operations, the
 * pending-restore list and every mutation this file makes in the backing
 * store.  It is never held while calling back into the FUSE layer except
 * for on_removed, which only queues work.
 *
 * Crash ordering.  Every multi-step mutation below lists its steps and what
 * a kill -9 between two of them leaves behind; trash_reconcile() (run at
 * every mount) repairs each of those states.  The backing store is the
 * truth; the index is written after the move succeeded and can always be
 * rebuilt from the op directories' xattrs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "engine/clock.h"
#include "engine/sitepolicy.h"
#include "lib/sys.h"
#include "store/tlink.h"
#include "engine/trash_int.h"
#include "lib/util.h"


/* ---- relpath ---------------------------------------------------------- */

int relpath_push(struct relpath *p, const char *name)
{
	size_t len = strlen(name) + 1;

	if (p->n >= RELPATH_MAX_DEPTH || p->used + len > sizeof(p->buf))
		return -ENAMETOOLONG;
	memcpy(p->buf + p->used, name, len);
	p->comp[p->n++] = p->buf + p->used;
	p->used += len;
	return 0;
}

void relpath_reverse(struct relpath *p)
{
	for (unsigned i = 0; i < p->n / 2; i++) {
		const char *tmp = p->comp[i];

		p->comp[i] = p->comp[p->n - 1 - i];
		p->comp[p->n - 1 - i] = tmp;
	}
}

/* The trash directory of a scope: a site's .trash, or the root trash. */
int trash_scope_open(struct trash *t, const char *scope, bool create)
{
	int sfd, fd;

	if (!*scope)
		return (fd = dup(t->root_trash_fd)) < 0 ? -errno : fd;
	sfd = open_dir(t->backing_fd, scope);
	if (sfd < 0)
		return sfd;
	fd = create ? layout_site_trash_open(sfd) : open_dir(sfd, TRASH_NAME);
	close(sfd);
	return fd;
}

/* Non-empty -> -ENOTEMPTY.  A site root may hold its .trash. */
int trash_dir_check_empty(int dirfd, const char *name, bool allow_trash)
{
	int fd = open_dir(dirfd, name), r = 0;
	DIR *d;
	struct dirent *de;

	if (fd < 0)
		return fd;
	if (!(d = fdopendir(fd))) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (allow_trash && !strcmp(de->d_name, TRASH_NAME))
			continue;
		r = -ENOTEMPTY;
		break;
	}
	closedir(d);
	return r;
}

/* Copy owner, mode, xattrs (ACLs included, our own excepted) and times. */
#define XATTR_BUF (64 * 1024)   /* XATTR_SIZE_MAX and XATTR_LIST_MAX */

int trash_copy_meta(int src, int dst)
{
	struct stat st;
	char *names = malloc(XATTR_BUF), *val = malloc(XATTR_BUF);
	ssize_t len;
	int r = 0;

	if (!names || !val) {
		r = -ENOMEM;
		goto out;
	}
	if (fstat(src, &st) < 0 || fchown(dst, st.st_uid, st.st_gid) < 0 ||
	    fchmod(dst, st.st_mode & 07777) < 0) {
		r = -errno;
		goto out;
	}
	len = flistxattr(src, names, XATTR_BUF);
	for (ssize_t off = 0; len > 0 && off < len && !r; off += (ssize_t)strlen(names + off) + 1) {
		const char *n = names + off;
		ssize_t vlen;

		if (!strncmp(n, "trusted.gracefs.", 16))
			continue;
		vlen = fgetxattr(src, n, val, XATTR_BUF);
		if (vlen >= 0 && fsetxattr(dst, n, val, (size_t)vlen, 0) < 0 && errno != ENOTSUP)
			r = -errno;
	}
	struct timespec ts[2] = { st.st_atim, st.st_mtim };
	if (!r && futimens(dst, ts) < 0)
		r = -errno;
out:
	free(names);
	free(val);
	return r;
}

int trash_times_save(int fd, const struct stat *st, bool replace)
{
	char v[64];
	int n = snprintf(v, sizeof(v), "%lld.%09ld %lld.%09ld", (long long)st->st_atim.tv_sec,
			 st->st_atim.tv_nsec, (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec);

	if (fsetxattr(fd, TRASH_TIMES_XATTR, v, (size_t)n, replace ? 0 : XATTR_CREATE) < 0 &&
	    (replace || errno != EEXIST))
		return -errno;
	return 0;
}

int trash_times_load(int fd, struct timespec ts[2])
{
	char v[64];
	long long s[2];
	long ns[2];
	ssize_t n = fgetxattr(fd, TRASH_TIMES_XATTR, v, sizeof(v) - 1);

	if (n < 0)
		return errno == ENODATA ? -ENODATA : -errno;
	v[n] = '\0';
	if (sscanf(v, "%lld.%ld %lld.%ld", &s[0], &ns[0], &s[1], &ns[1]) != 4)
		return -EINVAL;
	for (int i = 0; i < 2; i++) {
		if (ns[i] < 0 || ns[i] > 999999999)
			return -EINVAL;
		ts[i] = (struct timespec){ .tv_sec = (time_t)s[i], .tv_nsec = ns[i] };
	}
	return 0;
}

/* ---- op records --------------------------------------------------------- */

/* Write an op's record to its directory (the truth) and to the index. */
int trash_op_store(struct trash *t, struct op *op)
{
	char buf[OPREC_ENC_MAX];
	int len = oprec_encode(&op->rec, buf, sizeof(buf));

	if (len < 0)
		return len;
	if (fsetxattr(op->dirfd, OPREC_XATTR, buf, (size_t)len, 0) < 0)
		return -errno;
	op->dirty = false;
	return index_put_hint(t->ix, &op->rec, op->rec.items == 1 ? op->sole : NULL,
			      op->sole_mode);
}

int trash_rec_read(int dirfd, struct op_record *rec)
{
	char buf[OPREC_ENC_MAX];
	ssize_t len = fgetxattr(dirfd, OPREC_XATTR, buf, sizeof(buf));

	if (len < 0)
		return -errno;
	return oprec_decode(buf, (size_t)len, rec);
}

void trash_op_free(struct op *op)
{
	if (!op)
		return;
	close_fd(&op->dirfd);
	close_fd(&op->cache_fd);
	free(op->cache_key);
	free(op->sole);
	free(op->born);
	free(op);
}

/* Unlink op from the open list, store its final record, free it. */
int trash_op_close(struct trash *t, struct op *op)
{
	int r;

	for (struct op **pp = &t->ops; *pp; pp = &(*pp)->next) {
		if (*pp == op) {
			*pp = op->next;
			break;
		}
	}
	op->rec.state = OP_CLOSED;
	r = trash_op_store(t, op);
	if (t->conf.on_closed)
		t->conf.on_closed(t->conf.cb_arg, &op->rec);
	trash_op_free(op);
	return r;
}

bool trash_same_process(const struct op_record *r, const struct caller *who)
{
	if (r->uid != who->uid)
		return false;
	if (!who->pid)   /* invisible process: group by uid alone */
		return r->pid == 0;
	return r->pid == who->pid && r->pid_start == who->pid_start;
}

/*
 * The op directory stands for the site root its items came from: it takes
 * the root's owner, group, mode, ACLs and xattrs (so a 0711 site's trash is
 * as unlistable as the site, and only those who could move an item at its
 * live place can move it out; gracefs's may_restore narrows that further).
 * Ops of the root trash (whole sites) are root's alone: 0700.
 */
int trash_op_dir_meta(struct trash *t, const char *scope, int ofd)
{
	int sfd, r;

	if (!*scope)
		return fchown(ofd, 0, 0) < 0 || fchmod(ofd, 0700) < 0 ? -errno : 0;
	if ((sfd = open_dir(t->backing_fd, scope)) < 0)
		return sfd;
	r = trash_copy_meta(sfd, ofd);
	close(sfd);
	return r;
}

/*
 * Create a new op directory for `who` in `scope`.
 * Steps: 1 mkdir .tmp-<name> (0700); 2 owner/mode/ACL of the site root
 *        (trash_op_dir_meta), its times (TRASH_TIMES_XATTR) + record
 *        xattr (state OPEN);
 *        3 rename to <name>; 4 index_put.
 * Crash after 1 or 2: a .tmp-* directory, removed by reconcile (it holds
 * nothing: items are only moved in after step 3).  After 3: the op exists
 * with its record; the missing index entry is adopted by reconcile.
 */
static int op_create(struct trash *t, const struct caller *who,
		     const char *scope, struct op **out)
{
	int64_t now = sys.wall_ns();
	struct op *op = calloc(1, sizeof(*op));
	char tmp[NAME_MAX + 8], buf[OPREC_ENC_MAX];
	int tfd, r = -EEXIST, len;

	if (!op)
		return -ENOMEM;
	op->dirfd = op->cache_fd = -1;
	snprintf(op->rec.scope, sizeof(op->rec.scope), "%s", scope);
	op->rec.uid = who->uid;
	op->rec.gid = who->gid;
	op->rec.pid = who->pid;
	op->rec.pid_start = who->pid_start;
	op->rec.first_ns = op->rec.last_ns = now;
	op->rec.last_el_ns = clock_elapsed_ns();
	op->rec.retention_s = t->conf.retention_s;
	if (*scope) {   /* a site's own retention overrides the mount's */
		struct site_policy sp;

		if (sitepolicy_get(t->backing_fd, scope, &sp) == 0 && sp.retention_s > 0)
			op->rec.retention_s = sp.retention_s;
	}
	op->rec.state = OP_OPEN;
	snprintf(op->rec.cmdline, sizeof(op->rec.cmdline), "%s", who->cmdline);
	/* the run: read from /proc once per run (procinfo caches it), here
	 * where an op starts, never per deleted file */
	if (who->run[0] && procinfo_run_info(who, &op->rec.runinfo) == 0) {
		memcpy(op->rec.run, who->run, sizeof(op->rec.run));
		op->rec.run_start = who->run_start;
	} else {
		memset(&op->rec.runinfo, 0, sizeof(op->rec.runinfo));
	}
	/* a braked run's ops are held from their first record on */
	if (op->rec.run[0] && t->conf.run_braked && t->conf.run_braked(t->conf.cb_arg, op->rec.run))
		op->rec.hold |= OPREC_HOLD_BRAKE;

	/* the site root's times before this op changed anything in it (its
	 * .trash may be made now): a whole-site deletion puts them back on
	 * the site (trash_collapse_finish) */
	struct stat sst;
	bool site_times = *scope && fstatat(t->backing_fd, scope, &sst, AT_SYMLINK_NOFOLLOW) == 0;
	if ((tfd = trash_scope_open(t, scope, true)) < 0) {
		trash_op_free(op);
		return tfd;
	}
	for (unsigned n = 1; n < 1000 && r == -EEXIST; n++) {
		if ((r = util_op_name(now / NS, who->cmd, who->pid, n, op->rec.name,
				      sizeof(op->rec.name))) < 0)
			break;
		snprintf(tmp, sizeof(tmp), TMP_PREFIX "%s", op->rec.name);
		if ((r = trash_mkdir(t, tfd, tmp, 0700)) < 0)
			continue;
		op->dirfd = open_dir(tfd, tmp);
		len = oprec_encode(&op->rec, buf, sizeof(buf));
		r = op->dirfd < 0 ? op->dirfd : len < 0 ? len : 0;
		if (!r)
			r = trash_op_dir_meta(t, scope, op->dirfd);
		if (!r && site_times)   /* best effort, as for mirrors */
			trash_times_save(op->dirfd, &sst, true);
		if (!r && (fsetxattr(op->dirfd, OPREC_XATTR, buf, (size_t)len, 0) < 0 ||
			   sys.renameat2(tfd, tmp, tfd, op->rec.name, RENAME_NOREPLACE) < 0))
			r = -errno;
		if (r) {
			close_fd(&op->dirfd);
			unlinkat(tfd, tmp, AT_REMOVEDIR);
		}
	}
	close(tfd);
	if (r) {
		trash_op_free(op);
		return r;
	}
	op->dirty = index_put(t->ix, &op->rec) < 0;  /* retried by tick */
	t->counters.ops_created++;
	op->next = t->ops;
	t->ops = op;
	*out = op;
	return 0;
}

#define OPEN_OPS_MAX 128   /* each holds up to two fds until it closes */

/* The open op of `who` in `scope`, or a new one (always new if fresh:
 * the current one is closed first).  At most OPEN_OPS_MAX ops stay open:
 * `find -exec rm {} \;` starts a process per file, and each would
 * otherwise keep its fds for op_gap; the least recently used closes. */
int trash_op_for(struct trash *t, const struct caller *who, const char *scope,
		  bool fresh, struct op **out)
{
	struct op *lru = NULL;
	unsigned n = 0;

	for (struct op *op = t->ops; op; op = op->next, n++)
		if (!lru || op->rec.last_ns < lru->rec.last_ns)
			lru = op;

	for (struct op *op = t->ops; op; op = op->next) {
		if (strcmp(op->rec.scope, scope) || !trash_same_process(&op->rec, who))
			continue;
		if (!fresh && !trash_op_idle(t, op)) {
			*out = op;
			return 0;
		}
		trash_op_close(t, op);
		return op_create(t, who, scope, out);
	}
	if (n >= OPEN_OPS_MAX)
		trash_op_close(t, lru);
	return op_create(t, who, scope, out);
}

/* op_get + op_move, with one retry in a fresh op on a name collision. */
static int move_to_trash(struct trash *t, const struct caller *who,
			 const struct trash_loc *loc, const struct stat *st,
			 enum move_how how, struct op **used)
{
	const char *scope = loc->site ? loc->site : "";
	int r = -EEXIST;

	for (int attempt = 0; attempt < 2 && r == -EEXIST; attempt++) {
		struct op *op;

		if ((r = trash_op_for(t, who, scope, attempt > 0, &op)) < 0)
			return r;
		r = trash_op_move(t, op, loc, st, how);
		if (used)
			*used = op;
	}
	return r;
}

/* ---- public entry points ------------------------------------------------- */

int trash_delete(struct trash *t, const struct caller *who,
		 const struct trash_loc *loc, bool want_dir, const struct stat *given)
{
	struct stat st;
	int r;

	if (given)
		st = *given;   /* one lstat per unlink, not two */
	else if (fstatat(loc->dirfd, loc->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!!S_ISDIR(st.st_mode) != want_dir)
		return want_dir ? -ENOTDIR : -EISDIR;
	if (want_dir && (r = trash_dir_check_empty(loc->dirfd, loc->name, !loc->site)) < 0)
		return r;
	trash_lock(t);
	if (!loc->site)
		r = trash_delete_site(t, who, loc, &st);
	else
		r = move_to_trash(t, who, loc, &st, MOVE_DELETE, NULL);
	trash_unlock(t);
	return r;
}

/* The victim of a rename-over, now only in op's trash, learns what replaced
 * it (TRASH_REPLACED_XATTR): undo puts it back over that file.  Only a
 * regular file with no other link replaced by a regular file: the marker
 * is on the inode, which must not be live anywhere else. */
static void mark_replaced(struct trash *t, struct op *op, const struct trash_loc *dst,
			  const struct stat *dst_st, const struct stat *src_st)
{
	char path[64 + NAME_MAX], v[NAME_MAX + 32];
	int tfd, n;

	if (!S_ISREG(dst_st->st_mode) || !S_ISREG(src_st->st_mode) || dst_st->st_nlink != 1 ||
	    (tfd = trash_loc_mirror(t, op, dst)) < 0)
		return;
	n = snprintf(v, sizeof(v), "%s %llu", op->rec.name, (unsigned long long)src_st->st_ino);
	snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", tfd, dst->name);
	lsetxattr(path, TRASH_REPLACED_XATTR, v, (size_t)n, 0);   /* none: undo renames */
}

/*
 * rename over an existing dst.
 * Non-directory victim: 1 link dst into the trash; 2 rename src over dst
 * (atomic for readers); 3 mark the victim in trash with what replaced it
 * (mark_replaced).  Crash between 1 and 2: dst is both live and in trash
 * (one inode, two names): nothing lost.  Between 2 and 3: the victim is in
 * trash unmarked, and undo restores it next to the replacement
 * (NAME.restored-<op>) instead of over it.  If 2 fails, the trash link is
 * removed again (the live name still holds the data).
 * Directory victim (empty) or a link that cannot be made: 1 move dst into
 * trash; 2 rename src to dst.  Crash between: dst is in trash, src live:
 * nothing lost.  If 2 fails, dst is moved back.
 */
static int rename_over(struct trash *t, const struct caller *who,
		       const struct trash_loc *src, const struct trash_loc *dst,
		       const struct stat *dst_st, const struct stat *src_st)
{
	struct op *op = NULL;
	int r = -1;

	if (!S_ISDIR(dst_st->st_mode)) {
		r = move_to_trash(t, who, dst, dst_st, MOVE_LINK, &op);
		if (r == 0) {
			if (sys.renameat2(src->dirfd, src->name, dst->dirfd, dst->name, 0) == 0) {
				mark_replaced(t, op, dst, dst_st, src_st);
				return 0;
			}
			r = -errno;
			/* the link made in step 1 goes again, then its count */
			struct tlink_key k;
			bool counted = dst_st->st_nlink > 1 &&
				       tlink_key_at(dst->dirfd, dst->name, &k) == 0;
			unlinkat(trash_loc_mirror(t, op, dst), dst->name, 0);
			if (counted)
				tlink_purged(t->ix, op->rec.name, &k);
			op->rec.items--;
			op->rec.bytes -= (uint64_t)dst_st->st_blocks * 512;
			return r;
		}
	}
	if ((r = move_to_trash(t, who, dst, dst_st, MOVE_EXACT, &op)) < 0)
		return r;
	if (sys.renameat2(src->dirfd, src->name, dst->dirfd, dst->name, RENAME_NOREPLACE) == 0) {
		if (!dst->site)   /* a whole site replaced: its ops now live inside op */
			trash_scope_drop(t, dst->name, &op->rec);
		return 0;
	}
	r = -errno;
	int tfd = trash_loc_mirror(t, op, dst);
	if (tfd >= 0)
		sys.renameat2(tfd, dst->name, dst->dirfd, dst->name, RENAME_NOREPLACE);
	op->rec.items--;
	op->rec.bytes -= (uint64_t)dst_st->st_blocks * 512;
	return r;
}

int trash_rename(struct trash *t, const struct caller *who,
		 const struct trash_loc *src, const struct trash_loc *dst,
		 unsigned flags)
{
	struct stat sst, dst_st;
	struct restore_note *note = NULL;
	int r = -EAGAIN;

	/* a restore: measure what leaves the op now, outside the lock (trash
	 * content never changes), so settling it is O(what moved) */
	if (src->from_op && (note = malloc(sizeof(*note))))
		trash_restore_measure(src, note);
	trash_lock(t);
	if (src->from_op && (r = trash_may_leave_locked(t, src->from_scope, src->from_op)) == 0)
		r = -EAGAIN;   /* not held, not half purged: go on */
	for (int tries = 0; tries < 3 && r == -EAGAIN; tries++) {
		if ((flags & RENAME_EXCHANGE) ||
		    fstatat(dst->dirfd, dst->name, &dst_st, AT_SYMLINK_NOFOLLOW) < 0) {
			/* nothing to replace (or a swap): plain rename, but
			 * never silently over a target that appeared meanwhile */
			unsigned f = flags & RENAME_EXCHANGE ? flags : flags | RENAME_NOREPLACE;
			r = sys.renameat2(src->dirfd, src->name, dst->dirfd, dst->name, f) < 0
				? -errno : 0;
			if (r == -EEXIST && !(flags & RENAME_NOREPLACE))
				r = -EAGAIN;
			continue;
		}
		if (flags & RENAME_NOREPLACE) {
			r = -EEXIST;
		} else if (fstatat(src->dirfd, src->name, &sst, AT_SYMLINK_NOFOLLOW) < 0) {
			r = -errno;
		} else if (sst.st_dev == dst_st.st_dev && sst.st_ino == dst_st.st_ino) {
			r = 0;   /* same file: rename(2) does nothing */
		} else if (S_ISDIR(sst.st_mode) && !S_ISDIR(dst_st.st_mode)) {
			r = -ENOTDIR;
		} else if (!S_ISDIR(sst.st_mode) && S_ISDIR(dst_st.st_mode)) {
			r = -EISDIR;
		} else if (S_ISDIR(dst_st.st_mode) &&
			   (r = trash_dir_check_empty(dst->dirfd, dst->name, !dst->site)) < 0) {
			/* r set */
		} else {
			r = rename_over(t, who, src, dst, &dst_st, &sst);
		}
	}
	if (r == 0 && (!src->site || !dst->site))
		trash_rename_rescope(t, src, dst, flags);
	if (r == 0 && src->from_op) {
		tlink_leave(t->ix, src->from_op, dst->dirfd, dst->name, t->conf.on_relinked,
			    t->conf.cb_arg);   /* after the move: see tlink.c */
		trash_note_restore_locked(t, src->from_scope, src->from_op, note);
	}
	trash_unlock(t);
	free(note);
	return r == -EAGAIN ? -EBUSY : r;
}

int trash_op_lookup(struct trash *t, const char *scope, const char *name,
		    struct op_record *out)
{
	int r = -ENOENT;

	for (struct op *op = t->ops; op; op = op->next) {
		if (!strcmp(op->rec.scope, scope) && !strcmp(op->rec.name, name)) {
			*out = op->rec;
			r = 0;
			break;
		}
	}
	if (r)
		r = index_get(t->ix, scope, name, out);
	if (r) {
		int tfd = trash_scope_open(t, scope, false), ofd;

		if (tfd >= 0 && (ofd = open_dir(tfd, name)) >= 0) {
			r = trash_rec_read(ofd, out) < 0 ? -ENOENT : 0;
			close(ofd);
		}
		if (tfd >= 0)
			close(tfd);
	}
	return r;
}

int trash_op_get(struct trash *t, const char *scope, const char *name,
		 struct op_record *out)
{
	int r;

	trash_lock(t);
	r = trash_op_lookup(t, scope, name, out);
	trash_unlock(t);
	return r;
}

int trash_tick(struct trash *t)
{
	int64_t mono = sys.mono_ns();
	int first = 0, r;
	struct pending *p;

	trash_lock(t);
	for (struct op *op = t->ops, *next; op; op = next) {
		next = op->next;
		if (trash_op_idle(t, op))
			r = trash_op_close(t, op);
		else
			r = op->dirty ? trash_op_store(t, op) : 0;
		if (r && !first)
			first = r;
	}
	/* A bulk undo leaves thousands of emptied ops.  Settle them in
	 * batches, each batch's index removals in one transaction, letting
	 * the FUSE threads in between batches (never with a batch pending).
	 * While an undo is still going on, settle none (unless the backlog
	 * grows past SETTLE_BACKLOG_MAX): each costs two rmdirs (op and
	 * mirror directories, a discard each where the filesystem discards
	 * online) under the lock, ten times an undo's rename, and the undo
	 * waits for the lock.  They settle once it is over. */
	bool undoing = t->last_undo_ns && mono - t->last_undo_ns < SETTLE_QUIET_NS;
	struct drop_batch *b = t->pending ? malloc(sizeof(*b)) : NULL;
	size_t settled = 0;

	if (b)
		b->n = 0;
	while ((p = t->pending) && (!undoing || t->npending > SETTLE_BACKLOG_MAX)) {
		t->pending = p->next;
		t->npending--;
		r = trash_settle_restore(t, p, b);
		if (r && !first)
			first = r;
		free(p);
		if (++settled % SETTLE_PER_LOCK == 0 && t->pending) {
			if (b)
				trash_drop_flush(t, b);
			trash_unlock(t);
			trash_let_waiters_in(t);
			trash_lock(t);
		}
	}
	if (b) {
		trash_drop_flush(t, b);
		free(b);
	}
	if (first)
		t->counters.record_errors++;
	trash_unlock(t);
	if (mono - t->last_sync_ns >= SYNC_EVERY_NS) {
		t->last_sync_ns = mono;
		r = index_sync(t->ix);
		if (r && !first)
			first = r;
	}
	return first;
}

int trash_store_open(struct trash *t)
{
	int first = 0, r;

	trash_lock(t);
	for (struct op *op = t->ops; op; op = op->next)
		if (op->dirty && (r = trash_op_store(t, op)) < 0 && !first)
			first = r;
	trash_unlock(t);
	return first;
}

void trash_close_all(struct trash *t)
{
	trash_lock(t);
	while (t->ops)
		trash_op_close(t, t->ops);
	trash_unlock(t);
	index_sync(t->ix);
}

int trash_collect(const struct op_record *r, void *arg)
{
	struct key_list *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct op_record *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *r;
	return 0;
}

void trash_let_waiters_in(struct trash *t)
{
	struct timespec ts = { 0, 100000 };

	for (int i = 0; i < 20 && atomic_load(&t->waiters); i++)
		nanosleep(&ts, NULL);
}

/* ---- lifecycle ------------------------------------------------------------ */

int trash_open(struct trash **out, int backing_fd, struct index *ix,
	       const struct trash_conf *conf)
{
	struct trash *t = calloc(1, sizeof(*t));
	struct stat st;
	int r;

	if (!t)
		return -ENOMEM;
	t->state_fd = t->root_trash_fd = -1;
	t->backing_fd = backing_fd;
	t->ix = ix;
	t->conf = *conf;
	pthread_mutex_init(&t->lock, NULL);
	if ((r = mkdir_open(backing_fd, TRASH_STATE_DIR, 0700, NULL)) < 0)
		goto fail;
	t->state_fd = r;
	if ((r = mkdir_open(t->state_fd, "trash", 0700, NULL)) < 0)
		goto fail;
	t->root_trash_fd = r;
	/* deleted whole sites are the operator's: root only, also when an
	 * older gracefs made it 0755 */
	if (fchown(r, 0, 0) < 0 || fchmod(r, 0700) < 0) {
		r = -errno;
		goto fail;
	}
	if (fstat(backing_fd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	t->dev = st.st_dev;
	trash_reserve_fill(t);   /* best effort: the sweeper refills it */
	*out = t;
	return 0;
fail:
	trash_close(t);
	return r;
}

void trash_close(struct trash *t)
{
	if (!t)
		return;
	trash_close_all(t);
	while (t->pending) {
		struct pending *p = t->pending;

		t->pending = p->next;
		free(p);
	}
	t->npending = 0;
	close_fd(&t->root_trash_fd);
	close_fd(&t->state_fd);
	pthread_mutex_destroy(&t->lock);
	undo_runs_free(t->undo_runs);
	free(t->preborn);
	free(t);
}

int trash_root_fd(const struct trash *t)
{
	return t->root_trash_fd;
}
