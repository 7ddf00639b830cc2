/*
 * trash_int.h — the trash engine's shared state and helpers, for its own
 * files only (trash.c, trash_site.c, trash_restore.c, trash_scan.c, trash_reserve.c,
 * trash_purge.c).  Nothing outside the engine includes this.
 *
 * Lock: t->lock guards everything in struct trash and every mutation of
 * the backing store the engine makes.  Every trash_* function declared here
 * expects it held.
 */
#ifndef GRACEFS_TRASH_INT_H
#define GRACEFS_TRASH_INT_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "engine/clock.h"
#include "lib/sys.h"
#include "engine/trash.h"

#define NS 1000000000LL
#define TMP_PREFIX ".tmp-"
#define SYNC_EVERY_NS (2 * NS)
#define SETTLE_PER_LOCK 64          /* emptied ops settled per hold of the lock */
#define SETTLE_BACKLOG_MAX 65536    /* emptied ops left unsettled while an undo goes on */
#define SETTLE_QUIET_NS (NS / 20)   /* an undo this recent still goes on (a bulk
                                     * undo sends its next batch within ms) */

struct op {
	struct op *next;
	struct op_record rec;
	int dirfd;        /* the op directory (O_RDONLY|O_DIRECTORY) */
	bool dirty;       /* rec changed since last stored */
	/* mirror cache: trash twin of the last live parent directory */
	int cache_fd;
	size_t cache_len;
	char *cache_key;  /* components joined by '\0' */
	/* its one item while it has had only one (index_put_hint): the path
	 * below the op directory, NULL otherwise */
	char *sole;
	mode_t sole_mode;
	/* files created while the op collects (trash_note_created) */
	struct { dev_t dev; ino_t ino; } *born;
	unsigned nborn, capborn;
};

struct pending {
	struct pending *next;
	char scope[NAME_MAX + 1];
	char name[NAME_MAX + 1];
	/* counted: what left (measured before the move) and where it was in
	 * the op (path of its parent: components joined by '\0'), so settling
	 * subtracts and prunes that chain only; else a full recount */
	bool counted;
	uint64_t items, bytes;
	size_t path_len;
	char path[];
};

/* What a restore took out of an op (trash_restore_measure). */
struct restore_note {
	bool counted;
	uint64_t items, bytes;
	size_t path_len;
	char path[RELPATH_MAX_BYTES];
};

struct trash {
	pthread_mutex_t lock;
	atomic_uint waiters;  /* threads blocked in trash_lock (fairness, not guarded) */
	int backing_fd;     /* borrowed */
	int state_fd;       /* BACKING/.gracefs */
	int root_trash_fd;  /* BACKING/.gracefs/trash */
	dev_t dev;
	struct index *ix;   /* borrowed */
	struct trash_conf conf;
	struct op *ops;     /* open operations */
	struct pending *pending;
	size_t npending;               /* entries in pending */
	int64_t last_sync_ns;
	struct trash_counters counters;
	/* ops being undone (the lock is let go between undo steps): never
	 * purged meanwhile */
	struct { char scope[NAME_MAX + 1], name[NAME_MAX + 1]; bool used; } undoing[8];
	struct undo_runs *undo_runs;   /* bulk undo runs in progress (undo.h) */
	int64_t last_undo_ns;          /* sys.mono_ns() of the last op undone */
	/* files created by processes that had no op collecting: theirs to
	 * overwrite (trash_preserve.c; a ring, allocated on first use) */
	struct preborn { dev_t dev; ino_t ino; uint32_t uid, pid; uint64_t pid_start; } *preborn;
	unsigned npreborn;   /* entries written so far (the ring wraps) */
	/* the deletion reserve (trash_reserve.c): entries left as of the last
	 * fill, less those taken since; said low / said empty (log once) */
	atomic_uint reserve_n;
	atomic_bool reserve_low, reserve_empty_said;
};

/* A growable copy of index records (index_foreach with trash_collect). */
struct key_list {
	size_t n, cap;
	struct op_record *v;
};

enum move_how {
	MOVE_DELETE,  /* unlink/rmdir: a directory may merge into its mirror */
	MOVE_EXACT,   /* rename the victim itself; any existing name collides */
	MOVE_LINK,    /* hard-link a non-directory (rename-over keeps atomicity) */
};

static inline int open_dir(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

/* Open a subdirectory without crossing any mount point, bind mounts of
 * the same filesystem included (st_dev cannot tell those).  -EXDEV then. */
static inline int open_dir_here(int dirfd, const char *name)
{
	struct open_how how = {
		.flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
		.resolve = RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, dirfd, name, &how, sizeof(how));

	return fd < 0 ? -errno : fd;
}

static inline void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* A directory stream over a duplicate of dirfd (dirfd stays usable),
 * from its start.  NULL with errno set on failure. */
static inline DIR *dir_stream(int dirfd)
{
	int fd = dup(dirfd);
	DIR *d;

	if (fd < 0)
		return NULL;
	if (!(d = fdopendir(fd))) {
		int e = errno;

		close(fd);
		errno = e;
		return NULL;
	}
	rewinddir(d);
	return d;
}

/* mkdirat + open; EEXIST is fine as long as it is a directory. */
static inline int mkdir_open(int dirfd, const char *name, mode_t mode, bool *created)
{
	int r = sys.mkdirat(dirfd, name, mode);

	if (created)
		*created = r == 0;
	if (r < 0 && errno != EEXIST)
		return -errno;
	return open_dir(dirfd, name);
}

/* mkdirat, or when it fails with ENOSPC/EDQUOT a directory from the
 * deletion reserve renamed to dirfd/name (trash_reserve.c).  0 or -errno
 * (errno set too): the mkdir's error when the reserve is empty. */
int trash_mkdir(struct trash *t, int dirfd, const char *name, mode_t mode);
/* mkdir_open with the reserve. */
int trash_mkdir_open(struct trash *t, int dirfd, const char *name, mode_t mode, bool *created);

/* The engine lock.  pthread mutexes are not fair: a thread that unlocks
 * and locks again in a loop (purge and undo steps) would starve the FUSE
 * threads waiting for it on a fast machine.  trash_lock counts waiters, and
 * long maintenance calls trash_let_waiters_in between its steps, unlocked,
 * so they go first. */
static inline void trash_lock(struct trash *t)
{
	atomic_fetch_add(&t->waiters, 1);
	pthread_mutex_lock(&t->lock);
	atomic_fetch_sub(&t->waiters, 1);
}

static inline void trash_unlock(struct trash *t)
{
	pthread_mutex_unlock(&t->lock);
}

/* Has op stopped collecting deletions (idle for op_gap)?  Measured on the
 * trusted elapsed clock: a wall clock set back must not keep an op open
 * (and unpurgeable) until it catches up, nor one set forward close it. */
static inline bool trash_op_idle(const struct trash *t, const struct op *op)
{
	return clock_elapsed_ns() - op->rec.last_el_ns >= t->conf.op_gap_ns;
}

/* trash.c */
/* Unlocked: wait (at most ~2 ms) while other threads wait for the lock. */
void trash_let_waiters_in(struct trash *t);
int trash_scope_open(struct trash *t, const char *scope, bool create);
int trash_op_dir_meta(struct trash *t, const char *scope, int ofd);
int trash_dir_check_empty(int dirfd, const char *name, bool allow_trash);
int trash_copy_meta(int src, int dst);
int trash_op_store(struct trash *t, struct op *op);
int trash_rec_read(int dirfd, struct op_record *rec);
void trash_op_free(struct op *op);
int trash_op_close(struct trash *t, struct op *op);
bool trash_same_process(const struct op_record *r, const struct caller *who);
int trash_op_for(struct trash *t, const struct caller *who, const char *scope,
		 bool fresh, struct op **out);
/* trash_mirror.c */
int trash_op_mirror(struct trash *t, struct op *op, const char *site,
		    const struct relpath *rel);
/* The directory inside op where loc's entry goes. */
int trash_loc_mirror(struct trash *t, struct op *op, const struct trash_loc *loc);
/* An item (st) is in op now, at loc (NULL: somewhere a hint must not
 * name): its counts, times and hint (struct op, sole).  Under t->lock. */
void trash_op_count(struct op *op, const struct trash_loc *loc, const struct stat *st);
int trash_op_move(struct trash *t, struct op *op, const struct trash_loc *loc,
		  const struct stat *st, enum move_how how);
int trash_collect(const struct op_record *r, void *arg);
int trash_op_lookup(struct trash *t, const char *scope, const char *name,
		    struct op_record *out);

/* trash_site.c */
void trash_scope_drop(struct trash *t, const char *scope, struct op_record *into);
int trash_collapse_finish(int rfd, const char *site, const char *oname);
int trash_delete_site(struct trash *t, const struct caller *who,
		      const struct trash_loc *loc, const struct stat *st);
void trash_rename_rescope(struct trash *t, const struct trash_loc *src,
			  const struct trash_loc *dst, unsigned flags);

/* trash_purge.c */
int trash_may_leave_locked(struct trash *t, const char *scope, const char *name);

/* trash_restore.c */
void trash_note_restore_locked(struct trash *t, const char *scope, const char *name,
			       const struct restore_note *note);
void trash_restore_measure(const struct trash_loc *src, struct restore_note *note);
/*
 * Ops whose directories a restore emptied and removed, waiting to leave the
 * index in one LMDB transaction (index_drop_ops) instead of two each.
 * Order: the op directory is removed first (the backing store is the
 * truth), its index entry after, with the batch's others.  A crash between
 * leaves index entries of missing directories, which the next mount's
 * reconcile drops; the trash lock is never let go with a batch pending, so
 * no one else sees them meanwhile.  (Ops an undo emptied join a batch while
 * their directories still stay, to be settled later; the lock may be let
 * go mid-op with those pending: what anyone sees then, the entry and the
 * directory, still agree.)  Under t->lock.
 */
#define TRASH_DROP_BATCH 256
struct drop_batch {
	char scope[NAME_MAX + 1];
	char names[TRASH_DROP_BATCH][NAME_MAX + 1];
	size_t n;
};
/* Write the batch's removals to the index and empty it.  A failed batch
 * is retried op by op. */
void trash_drop_flush(struct trash *t, struct drop_batch *b);
/* b NULL: the index is updated at once. */
int trash_settle_restore(struct trash *t, const struct pending *p, struct drop_batch *b);

/* trash_scan.c */
bool trash_is_mirror(int dirfd, const char *opname);
int trash_recount(struct op_record *rec, int ofd);
int trash_count_entry(int dirfd, const char *name, uint64_t *items, uint64_t *bytes);
int trash_scope_scan(struct trash *t, const char *scope, struct trash_stats *st);

#endif
