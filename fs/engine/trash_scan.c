/*
 * trash_scan.c — counting op trees and reconciling the index with the
 * backing store at mount.
 * Part of the trash engine (see trash.h for the contract, trash_int.h for
 * the shared state).  Threading: every function here runs under t->lock
 * unless it says otherwise.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "engine/clock.h"
#include "engine/sitepolicy.h"
#include "lib/sys.h"
#include "store/tlink.h"
#include "engine/trash_int.h"
#include "lib/util.h"

/* ---- counting ------------------------------------------------------------ */

/* Is dirfd a parent made by op `opname` only to hold victims?  (The marker
 * names its op, so a mirror dir restored and deleted again elsewhere is
 * never mistaken for one.)  opname NULL: any marker counts. */
bool trash_is_mirror(int dirfd, const char *opname)
{
	char v[NAME_MAX + 1];
	ssize_t n = fgetxattr(dirfd, TRASH_MIRROR_XATTR, v, sizeof(v) - 1);

	if (n < 0)
		return false;
	v[n] = '\0';
	return !opname || !strcmp(v, opname);
}

static int count_tree(int dirfd, dev_t dev, const char *opname, unsigned depth,
		      uint64_t *items, uint64_t *bytes, int64_t *max_ctime)
{
	DIR *d = dir_stream(dirfd);
	struct dirent *de;
	int r = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)) && !r) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		int64_t ct = (int64_t)st.st_ctim.tv_sec * NS + st.st_ctim.tv_nsec;
		if (ct > *max_ctime)
			*max_ctime = ct;
		bool mirror = false;
		if (S_ISDIR(st.st_mode) && st.st_dev == dev && depth < 4096) {
			int sub = open_dir_here(dirfd, de->d_name);

			if (sub >= 0) {
				mirror = trash_is_mirror(sub, opname);
				r = count_tree(sub, dev, opname, depth + 1, items, bytes, max_ctime);
				close(sub);
			}
		}
		if (!mirror) {   /* mirror-only parents were never deleted */
			(*items)++;
			*bytes += (uint64_t)st.st_blocks * 512;
		}
	}
	closedir(d);
	return r;
}

static int count_op(int dirfd, const char *opname, uint64_t *items, uint64_t *bytes,
		    int64_t *max_ctime_ns)
{
	struct stat st;

	*items = *bytes = 0;
	*max_ctime_ns = 0;
	if (fstat(dirfd, &st) < 0)
		return -errno;
	return count_tree(dirfd, st.st_dev, opname, 0, items, bytes, max_ctime_ns);
}

int trash_count_tree(int dirfd, uint64_t *items, uint64_t *bytes,
		     int64_t *max_ctime_ns)
{
	struct op_record rec;
	char buf[OPREC_ENC_MAX];
	ssize_t len = fgetxattr(dirfd, OPREC_XATTR, buf, sizeof(buf));
	bool named = len > 0 && oprec_decode(buf, (size_t)len, &rec) == 0;

	return count_op(dirfd, named ? rec.name : NULL, items, bytes, max_ctime_ns);
}

/* Walk the container dirfd: descend into mirror-only parents of op
 * `opname`, and check the owner of everything else (a deleted item). */
static int owned_walk(int dirfd, dev_t dev, const char *opname, uid_t uid, unsigned depth)
{
	DIR *d = dir_stream(dirfd);
	struct dirent *de;
	int r = 1;

	if (!d)
		return -errno;
	while (r == 1 && (de = readdir(d))) {
		struct stat st;
		int sub;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = -errno;
			break;
		}
		if (S_ISDIR(st.st_mode) && st.st_dev == dev &&
		    (sub = open_dir_here(dirfd, de->d_name)) >= 0) {
			bool mirror = trash_is_mirror(sub, opname);

			if (mirror)
				r = depth >= RELPATH_MAX_DEPTH ? 0
					: owned_walk(sub, dev, opname, uid, depth + 1);
			close(sub);
			if (mirror)
				continue;
		}
		if (st.st_uid != uid)
			r = 0;
	}
	closedir(d);
	return r;
}

int trash_container_owned(int dirfd, const char *opname, uid_t uid)
{
	struct stat st;

	if (fgetxattr(dirfd, OPREC_XATTR, NULL, 0) < 0 && !trash_is_mirror(dirfd, opname))
		return -ENOTDIR;   /* a deleted directory: judged by its own owner */
	if (fstat(dirfd, &st) < 0)
		return -errno;
	return owned_walk(dirfd, st.st_dev, opname, uid, 0);
}

/* Walk the container dirfd (as owned_walk) for any deleted item owned by
 * uid; *budget entries at most in all.  1 found, 0 not (or budget spent). */
static int reach_walk(int dirfd, dev_t dev, const char *opname, uid_t uid, unsigned depth,
		      unsigned *budget)
{
	DIR *d = dir_stream(dirfd);
	struct dirent *de;
	int r = 0;

	if (!d)
		return 0;
	while (r == 0 && *budget && (de = readdir(d))) {
		struct stat st;
		int sub;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		(*budget)--;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode) && st.st_dev == dev &&
		    (sub = open_dir_here(dirfd, de->d_name)) >= 0) {
			bool mirror = trash_is_mirror(sub, opname);

			if (mirror && depth < RELPATH_MAX_DEPTH)
				r = reach_walk(sub, dev, opname, uid, depth + 1, budget);
			close(sub);
			if (mirror)
				continue;
		}
		r = st.st_uid == uid;
	}
	closedir(d);
	return r;
}

bool trash_op_reaches(struct trash *t, const char *scope, const char *opname, int opfd,
		      uid_t uid)
{
	struct op_record rec;
	unsigned budget = TRASH_REACH_BUDGET;
	struct stat st;

	if (uid == 0 || (trash_op_get(t, scope, opname, &rec) == 0 && rec.uid == uid))
		return true;
	if (fstat(opfd, &st) < 0 || !S_ISDIR(st.st_mode))
		return false;
	return reach_walk(opfd, st.st_dev, opname, uid, 0, &budget) == 1;
}

/* The items and bytes one entry of an op counts for: itself unless it is a
 * mirror-only parent, and everything deleted below it. */
int trash_count_entry(int dirfd, const char *name, uint64_t *items, uint64_t *bytes)
{
	struct stat st;
	int64_t ct = 0;
	int sub, r = 0;
	bool mirror = false;

	*items = *bytes = 0;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode) && (sub = open_dir_here(dirfd, name)) >= 0) {
		mirror = trash_is_mirror(sub, NULL);
		r = count_tree(sub, st.st_dev, NULL, 1, items, bytes, &ct);
		close(sub);
	}
	if (!mirror) {
		(*items)++;
		*bytes += (uint64_t)st.st_blocks * 512;
	}
	return r;
}

int trash_recount(struct op_record *rec, int ofd)
{
	int64_t max_ct;
	int r = count_op(ofd, rec->name, &rec->items, &rec->bytes, &max_ct);

	if (r == 0 && max_ct > rec->last_ns)
		rec->last_ns = max_ct;
	return r;
}

/* ---- reconcile ------------------------------------------------------------ */

/* Adopt one op directory of scope: read or rebuild its record, repair
 * what a crash left open, and put it in the index. */
static void scan_one(struct trash *t, const char *scope, int tfd,
		     const char *name, struct trash_stats *st)
{
	struct op_record rec, old;
	char marker[2 * NAME_MAX + 2];
	int ofd = open_dir(tfd, name), r;
	bool rebuilt = false;
	ssize_t ml;

	if (ofd < 0) {
		if (st)
			st->foreign++;
		return;
	}
	if (trash_rec_read(ofd, &rec) < 0) {
		struct stat dst;
		int64_t wall_s;
		uint32_t pid;

		if (!util_parse_op_name(name, &wall_s, &pid) || fstat(ofd, &dst) < 0) {
			if (st)
				st->foreign++;   /* never ours: never touched */
			close(ofd);
			return;
		}
		memset(&rec, 0, sizeof(rec));
		rec.uid = dst.st_uid;
		rec.gid = dst.st_gid;
		rec.pid = pid;
		rec.first_ns = rec.last_ns = wall_s * NS;
		rec.retention_s = t->conf.retention_s;
		rebuilt = true;
	}
	snprintf(rec.scope, sizeof(rec.scope), "%s", scope);
	snprintf(rec.name, sizeof(rec.name), "%s", name);

	/* an op dir made before op dirs took their site root's metadata
	 * (01777: any tenant could list it) gets it now (docs/isolation.md) */
	struct stat ost;
	if (fstat(ofd, &ost) == 0 && (ost.st_mode & 07777) == 01777)
		trash_op_dir_meta(t, scope, ofd);

	ml = fgetxattr(ofd, TRASH_COLLAPSE_XATTR, marker, sizeof(marker) - 1);
	if (ml > 0) {
		marker[ml] = '\0';
		char *slash = strchr(marker, '/');   /* "<site>/<op>" */
		if (slash) {
			*slash = '\0';
			trash_collapse_finish(ofd, marker, slash + 1);
		}
		fremovexattr(ofd, TRASH_COLLAPSE_XATTR);
		rebuilt = true;
		if (st)
			st->collapsed++;
	}
	bool was_open = rec.state == OP_OPEN;   /* a crash ended it: never reported */

	if (rebuilt || was_open) {
		/* deletions after the record was last stored (or no record):
		 * their time on the trusted clock is unknown, so count from now */
		int64_t now = clock_elapsed_ns();
		if (rec.last_el_ns < now)
			rec.last_el_ns = now;
		trash_recount(&rec, ofd);
		if (rec.state != OP_PURGING)
			rec.state = OP_CLOSED;
		char buf[OPREC_ENC_MAX];
		int len = oprec_encode(&rec, buf, sizeof(buf));
		if (len > 0)
			fsetxattr(ofd, OPREC_XATTR, buf, (size_t)len, 0);
		if (st)
			st->recounted++;
	}
	close(ofd);
	r = index_get(t->ix, scope, name, &old);
	if (r == -ENOENT && st)
		st->adopted++;
	index_put(t->ix, &rec);
	/* the reconcile (st) closed it, after its record: its delete row (with
	 * its run) is written now, as trash_op_close would have.  Not in the
	 * rescan of a site that came back: an op of it may still be open. */
	if (st && was_open && rec.state == OP_CLOSED && t->conf.on_closed)
		t->conf.on_closed(t->conf.cb_arg, &rec);
}

int trash_scope_scan(struct trash *t, const char *scope, struct trash_stats *st)
{
	int tfd = trash_scope_open(t, scope, false);
	DIR *d;
	struct dirent *de;

	if (tfd == -ENOENT)
		return 0;
	if (tfd < 0)
		return tfd;
	if (!(d = fdopendir(tfd))) {
		close(tfd);
		return -errno;
	}
	while ((de = readdir(d))) {
		const char *name = de->d_name;

		if (!strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		if (!strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX))) {
			/* step 1-2 of op_create interrupted: it holds nothing */
			if (unlinkat(tfd, name, AT_REMOVEDIR) == 0)
				continue;
			if (sys.renameat2(tfd, name, tfd, name + strlen(TMP_PREFIX),
					  RENAME_NOREPLACE) < 0)
				continue;
			name += strlen(TMP_PREFIX);
		}
		scan_one(t, scope, tfd, name, st);
	}
	closedir(d);
	return 0;
}

int trash_reconcile(struct trash *t, struct trash_stats *st)
{
	struct key_list l = {0};
	DIR *d;
	struct dirent *de;
	int fd, r = 0;

	if (st)
		memset(st, 0, sizeof(*st));
	trash_lock(t);
	if ((fd = openat(t->backing_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    !(d = fdopendir(fd))) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		goto out;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' && (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
					      !strcmp(de->d_name, TRASH_STATE_DIR)))
			continue;
		if (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN)
			trash_scope_scan(t, de->d_name, st);
	}
	closedir(d);
	trash_scope_scan(t, "", st);

	/* records whose directory is gone */
	if ((r = index_foreach(t->ix, NULL, trash_collect, &l)) < 0)
		goto out;
	for (size_t i = 0; i < l.n; i++) {
		int tfd = trash_scope_open(t, l.v[i].scope, false);
		struct stat sst;
		bool gone = tfd < 0 || fstatat(tfd, l.v[i].name, &sst, AT_SYMLINK_NOFOLLOW) < 0;

		if (tfd >= 0)
			close(tfd);
		if (gone) {
			index_del(t->ix, l.v[i].scope, l.v[i].name);
			if (st)
				st->dropped++;
		}
	}
	tlink_prune(t->ix, t->backing_fd, NULL);   /* counts of inodes that are gone */
	r = index_sync(t->ix);
out:
	free(l.v);
	trash_unlock(t);
	return r;
}

/* ---- growth after deletion ----------------------------------------------- */

int trash_op_recount(struct trash *t, const char *scope, const char *name)
{
	struct op_record rec;
	char buf[OPREC_ENC_MAX];
	int tfd, ofd, len, r;
	int64_t keep_last;

	trash_lock(t);
	for (struct op *op = t->ops; op; op = op->next) {
		if (strcmp(op->rec.scope, scope) || strcmp(op->rec.name, name))
			continue;
		keep_last = op->rec.last_ns;
		r = trash_recount(&op->rec, op->dirfd);
		op->rec.last_ns = keep_last;   /* a write is not a deletion */
		op->dirty = true;              /* stored at the next tick */
		trash_unlock(t);
		return r;
	}
	if ((tfd = trash_scope_open(t, scope, false)) < 0) {
		trash_unlock(t);
		return tfd;
	}
	ofd = open_dir(tfd, name);
	close(tfd);
	if (ofd < 0 || (r = trash_rec_read(ofd, &rec)) < 0) {
		r = ofd < 0 ? ofd : r;
		goto out;
	}
	snprintf(rec.scope, sizeof(rec.scope), "%s", scope);
	snprintf(rec.name, sizeof(rec.name), "%s", name);
	if (rec.state == OP_PURGING)
		goto out;   /* going anyway: its counts are the purge's */
	keep_last = rec.last_ns;
	if ((r = trash_recount(&rec, ofd)) < 0)
		goto out;
	rec.last_ns = keep_last;
	if ((len = oprec_encode(&rec, buf, sizeof(buf))) < 0)
		r = len;
	else if (fsetxattr(ofd, OPREC_XATTR, buf, (size_t)len, 0) < 0)
		r = -errno;
	else
		r = index_put(t->ix, &rec);
out:
	if (ofd >= 0)
		close(ofd);
	trash_unlock(t);
	return r;
}

int trash_open_op_of(struct trash *t, const struct caller *who, const char *scope,
		     char *name, size_t cap)
{
	int r = -ENOENT;

	trash_lock(t);
	for (struct op *op = t->ops; op; op = op->next)
		if (!strcmp(op->rec.scope, scope) && trash_same_process(&op->rec, who)) {
			snprintf(name, cap, "%s", op->rec.name);
			r = 0;
			break;
		}
	trash_unlock(t);
	return r;
}
