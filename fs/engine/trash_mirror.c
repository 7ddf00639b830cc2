/*
 * trash_mirror — the mirror of live parents inside an op (see trash_int.h):
 * the op's copy of the directories above a deleted entry, so that the
 * entry keeps its path in the trash and an undo knows where it goes back;
 * and the move of one entry into its op.
 *
 * Threading: under t->lock, as every mutation of trash.c.  Crash ordering:
 * as in trash.c, each multi-step mutation lists its steps and what a kill
 * -9 between them leaves (trash_op_move).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "engine/clock.h"
#include "lib/sys.h"
#include "store/tlink.h"
#include "engine/trash_int.h"
#include "lib/util.h"

/* ---- the mirror of live parents inside an op ----------------------------- */

static bool cache_matches(const struct op *op, const struct relpath *rel)
{
	size_t off = 0;

	if (op->cache_fd < 0)
		return false;
	for (unsigned i = 0; i < rel->n; i++) {
		size_t len = strlen(rel->comp[i]) + 1;

		if (off + len > op->cache_len || memcmp(op->cache_key + off, rel->comp[i], len))
			return false;
		off += len;
	}
	return off == op->cache_len;
}

static void cache_set(struct op *op, const struct relpath *rel, int fd)
{
	size_t len = 0;

	close_fd(&op->cache_fd);
	free(op->cache_key);
	op->cache_key = NULL;
	for (unsigned i = 0; i < rel->n; i++)
		len += strlen(rel->comp[i]) + 1;
	if (!(op->cache_key = malloc(len + 1))) {
		close(fd);
		return;
	}
	op->cache_len = 0;
	for (unsigned i = 0; i < rel->n; i++) {
		size_t l = strlen(rel->comp[i]) + 1;

		memcpy(op->cache_key + op->cache_len, rel->comp[i], l);
		op->cache_len += l;
	}
	op->cache_fd = fd;
}

/*
 * The directory inside op that mirrors site/rel, creating missing levels
 * with the live directories' owner, mode, xattrs and times.  Returns a fd
 * owned by the op cache (do not close), -EEXIST when a level exists as a
 * non-directory (the caller starts a fresh op), or -errno.
 * Crash: a half-built mirror is empty directories inside the op, harmless.
 */
/* Walk live and twin down rel's levels, creating missing twins. */
static int mirror_levels(struct trash *t, struct op *op, const struct relpath *rel,
			 int *livep, int *twinp)
{
	int live = *livep, twin = *twinp, r = 0;

	for (unsigned i = 0; i < rel->n && !r; i++) {
		int nlive = open_dir(live, rel->comp[i]), ntwin;
		bool created;

		if (nlive < 0) {
			r = nlive;
			break;
		}
		ntwin = trash_mkdir_open(t, twin, rel->comp[i], 0700, &created);
		if (ntwin == -ENOTDIR || ntwin == -ELOOP)
			ntwin = -EEXIST;
		if (ntwin >= 0 && created) {
			/* a parent made to hold victims: not itself deleted, not
			 * counted.  Its live twin's times are kept as they are
			 * now, before this op changed them (TRASH_TIMES_XATTR). */
			struct stat lst;

			r = trash_copy_meta(nlive, ntwin);
			/* best effort: without it the directory comes back with
			 * the time of the rm, never is a deletion refused */
			if (!r && fstat(nlive, &lst) == 0)
				trash_times_save(ntwin, &lst, true);
			if (!r && fsetxattr(ntwin, TRASH_MIRROR_XATTR, op->rec.name,
					    strlen(op->rec.name), 0) < 0)
				r = -errno;
		} else if (ntwin < 0) {
			r = ntwin;
		}
		close(live);
		close(twin);
		live = nlive;
		twin = ntwin;
	}
	*livep = live;
	*twinp = twin;
	return r;
}

int trash_op_mirror(struct trash *t, struct op *op, const char *site,
		     const struct relpath *rel)
{
	int live = -1, twin = -1, r = 0;

	if (!rel || !rel->n)
		return op->dirfd;
	if (cache_matches(op, rel))
		return op->cache_fd;
	if ((live = open_dir(t->backing_fd, site)) < 0)
		return live;
	if ((twin = dup(op->dirfd)) < 0) {
		r = -errno;
		goto out;
	}
	r = mirror_levels(t, op, rel, &live, &twin);
	if (!r) {
		cache_set(op, rel, twin);
		twin = -1;
		r = op->cache_fd >= 0 ? op->cache_fd : -ENOMEM;
	}
out:
	close_fd(&live);
	close_fd(&twin);
	return r;
}

/*
 * The mirror of a parent deeper than one relpath holds: walked in pieces
 * of at most RELPATH_MAX_DEPTH levels (loc->deep hands them out), so any
 * depth a tenant can create can be deleted.  The fd goes into the op
 * cache under a key that never matches (deep deletions are rare; each
 * walks its chain again).  Crash: as trash_op_mirror.
 */
static int op_mirror_deep(struct trash *t, struct op *op, const char *site,
			  const struct trash_loc *loc)
{
	struct relpath *rp = malloc(sizeof(*rp));
	int live = -1, twin = -1, r = 0;
	unsigned from = 0;
	bool more = true;

	if (!rp)
		return -ENOMEM;
	if ((live = open_dir(t->backing_fd, site)) < 0 || (twin = dup(op->dirfd)) < 0) {
		r = live < 0 ? live : -errno;
		goto out;
	}
	while (!r && more && (r = loc->deep(loc->deep_arg, from, rp, &more)) == 0) {
		r = mirror_levels(t, op, rp, &live, &twin);
		from += rp->n;
	}
	if (!r) {
		close_fd(&op->cache_fd);
		free(op->cache_key);
		op->cache_key = NULL;
		op->cache_len = 0;
		op->cache_fd = twin;
		twin = -1;
		r = op->cache_fd;
	}
out:
	close_fd(&live);
	close_fd(&twin);
	free(rp);
	return r;
}

void trash_op_count(struct op *op, const struct trash_loc *loc, const struct stat *st)
{
	size_t len = 0;

	op->rec.items++;
	op->rec.bytes += (uint64_t)st->st_blocks * 512;
	op->rec.last_ns = sys.wall_ns();
	op->rec.last_el_ns = clock_elapsed_ns();   /* retention counts from here */
	op->dirty = true;
	/* the path of an op's first item while it is its only one: a file
	 * (not a directory: planning one needs its tree) of a site, at a
	 * depth a relpath holds.  Any second item ends it for good. */
	free(op->sole);
	op->sole = NULL;
	if (op->rec.items != 1 || !loc || S_ISDIR(st->st_mode) || !loc->site || !loc->rel ||
	    !(op->sole = malloc(loc->rel->used + strlen(loc->name) + 1)))
		return;
	for (unsigned i = 0; i < loc->rel->n; i++)
		len += (size_t)sprintf(op->sole + len, "%s/", loc->rel->comp[i]);
	strcpy(op->sole + len, loc->name);
	op->sole_mode = st->st_mode;
}

/* The directory inside op where loc's entry goes. */
int trash_loc_mirror(struct trash *t, struct op *op, const struct trash_loc *loc)
{
	const char *site = loc->site ? loc->site : "";

	return loc->deep ? op_mirror_deep(t, op, site, loc) : trash_op_mirror(t, op, site, loc->rel);
}

/*
 * Move (or link) one entry into op.  -EEXIST means the name is taken inside
 * this op; the caller retries with a fresh op.
 * Steps for a directory whose mirror already exists (its children were
 * deleted first, as rm -r does): 1 copy its metadata onto the mirror;
 * 2 rmdir the now-empty live directory.  Crash between 1 and 2: the empty
 * live directory remains, its twin is in trash: nothing is lost.
 * A non-directory with other links is first counted in the trash-link
 * table (tlink.h: 1 count, 2 move; a crash between leaves the count one
 * high, which only makes it look deleted sooner).
 */
int trash_op_move(struct trash *t, struct op *op, const struct trash_loc *loc,
		   const struct stat *st, enum move_how how)
{
	int tfd = trash_loc_mirror(t, op, loc), r;
	bool counted = false;
	struct stat tst;

	if (tfd < 0)
		return tfd;
	if ((r = tlink_enter(t->ix, op->rec.name, loc->dirfd, loc->name, st, &counted)) < 0)
		return r;   /* refused rather than leave a deleted link uncounted */
	if (how == MOVE_LINK) {
		r = sys.linkat(loc->dirfd, loc->name, tfd, loc->name, 0);
	} else if (S_ISDIR(st->st_mode) &&
		   fstatat(tfd, loc->name, &tst, AT_SYMLINK_NOFOLLOW) == 0) {
		if (how == MOVE_EXACT || !S_ISDIR(tst.st_mode))
			return -EEXIST;
		int src = open_dir(loc->dirfd, loc->name), dst = open_dir(tfd, loc->name);
		struct timespec ts[2];
		r = src < 0 ? src : dst < 0 ? dst : trash_copy_meta(src, dst);
		/* its times from before this op deleted its children (best
		 * effort: the rmdir goes on without them) */
		if (r == 0 && trash_times_load(dst, ts) == 0)
			futimens(dst, ts);
		if (r == 0) {   /* deleted itself now */
			fremovexattr(dst, TRASH_MIRROR_XATTR);
			fremovexattr(dst, TRASH_TIMES_XATTR);
		}
		close_fd(&src);
		close_fd(&dst);
		if (r < 0)
			return r;
		r = unlinkat(loc->dirfd, loc->name, AT_REMOVEDIR);
	} else {
		r = sys.renameat2(loc->dirfd, loc->name, tfd, loc->name, RENAME_NOREPLACE);
		if (r == 0 && S_ISDIR(st->st_mode)) {
			/* a restored mirror dir deleted again is a real victim now */
			int v = open_dir(tfd, loc->name);

			if (v >= 0) {
				fremovexattr(v, TRASH_MIRROR_XATTR);
				fremovexattr(v, TRASH_TIMES_XATTR);
				close(v);
			}
		}
	}
	if (r < 0) {
		r = -errno;
		tlink_enter_undo(t->ix, op->rec.name, loc->dirfd, loc->name, counted);
		return r;
	}
	trash_op_count(op, loc, st);
	t->counters.deletions++;
	return 0;
}
