/*
 * trash — the soft-delete engine: grouping deletions into operations, moving
 * victims into `.trash/<op>/<site-relative path>`, rename-over, whole-site
 * deletion, restore bookkeeping, and reconciliation of the index with the
 * backing store.  Plain C on directory fds; knows nothing about FUSE.
 *
 * Threading: every function takes the engine's one mutex (t->lock), so
 * deletions, renames that replace something, and maintenance are
 * serialised.  Reads, writes, lookups and plain renames never enter here.
 * The on_removed callback is only invoked from trash_tick(), never from a
 * deleting call, so the caller may use it to notify the kernel.
 *
 * Backing layout (see docs/design.md):
 *   BACKING/<site>/.trash/<op>/<path>   site trash
 *   BACKING/.gracefs/trash/<op>/<site>  deleted whole sites (scope "")
 */
#ifndef GRACEFS_TRASH_H
#define GRACEFS_TRASH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include "store/index.h"
#include "store/layout.h"
#include "store/oprec.h"
#include "lib/procinfo.h"
#include "engine/undo.h"

#define TRASH_COLLAPSE_XATTR "trusted.gracefs.collapse"
#define TRASH_MIRROR_XATTR   "trusted.gracefs.mirror"  /* parent made for a victim */
/* on a file preserved before a truncation (value: its op's name) */
#define TRASH_PRESERVED_XATTR "trusted.gracefs.preserved"
/* on a file an op holds because a rename replaced it (sed -i, mv over,
 * rsync): "<op> <inode of the replacement>", so undo can put it back over
 * that replacement (undo.h); on the restored file until the replacement is
 * in trash */
#define TRASH_REPLACED_XATTR "trusted.gracefs.replaced"
/* on a directory of an op (a mirror, or an op directory for its site
 * root): the atime and mtime the live directory had when the op first
 * touched it, "<sec>.<nsec> <sec>.<nsec>"; put back when the directory is
 * deleted itself or restored (deleting its children changed them) */
#define TRASH_TIMES_XATTR "trusted.gracefs.times"
#define RELPATH_MAX_DEPTH 2048
#define RELPATH_MAX_BYTES 16384

/* The site-relative path of a directory: comp[0] is a child of the site
 * root.  n == 0 is the site root itself. */
struct relpath {
	unsigned n;
	size_t used;
	const char *comp[RELPATH_MAX_DEPTH];
	char buf[RELPATH_MAX_BYTES];
};

/* Append a component (used while walking parents, innermost first, then
 * relpath_reverse).  0 or -ENAMETOOLONG. */
int relpath_push(struct relpath *p, const char *name);
void relpath_reverse(struct relpath *p);

/* Where a directory entry lives in the backing store. */
struct trash_loc {
	const char *site;          /* its site; NULL: the entry is a site (at the root) */
	const struct relpath *rel; /* site-relative path of dirfd (unused at root) */
	int dirfd;                 /* the parent directory */
	const char *name;          /* the entry */
	/* a rename source inside an op (a restore): that op, so the engine
	 * settles it under the same lock as the move */
	const char *from_scope, *from_op;
	/* dirfd deeper than a relpath holds (rel is NULL then): its path in
	 * pieces, from level `from` on (docs/isolation.md); NULL otherwise */
	int (*deep)(void *arg, unsigned from, struct relpath *rp, bool *more);
	void *deep_arg;
};

struct trash_conf {
	int64_t retention_s;  /* retention of new operations */
	int64_t op_gap_ns;    /* a process idle this long starts a new operation */
	/* A name vanished behind the kernel's back (op dir removed).  dirfd is
	 * its parent, valid only during the call.  Called from trash_tick. */
	void (*on_removed)(void *arg, int dirfd, const char *name);
	/* An op stopped collecting deletions: its final record (audit).
	 * Called with the engine's lock held: only queue work. */
	void (*on_closed)(void *arg, const struct op_record *r);
	/* A file's link count as shown changed behind the kernel's back (a
	 * hard link left trash by undo, or was purged).  Called with the
	 * engine's lock held: only queue work.  May be NULL. */
	void (*on_relinked)(void *arg, dev_t dev, ino_t ino);
	/* An undo moved names back into live directories behind the kernel's
	 * back.  Called after the engine's lock is released, in the thread
	 * that ran trash_undo (never a FUSE request): it may notify the kernel. */
	void (*on_undone)(void *arg);
	/* Is this run braked (brake.h)?  Its new ops start with the brake's
	 * hold.  Called with the engine's lock held: take no lock that is
	 * held while calling into the engine.  May be NULL. */
	bool (*run_braked)(void *arg, const char *run);
	void *cb_arg;
};

struct trash_stats {
	uint64_t adopted, dropped, recounted, collapsed, foreign;
};

struct trash;

/* Opens the engine on BACKING (fd), creating .gracefs/trash.  Takes no
 * ownership of backing_fd or ix.  0 or -errno. */
int trash_open(struct trash **out, int backing_fd, struct index *ix,
	       const struct trash_conf *conf);
/* Closes every open operation (final record written) and frees. NULL ok. */
void trash_close(struct trash *t);

/* fd (O_PATH) of BACKING/.gracefs/trash; owned by the engine. */
int trash_root_fd(const struct trash *t);

/* Soft-delete loc: unlink (want_dir false: EISDIR for a directory) or
 * rmdir (want_dir true: ENOTDIR, ENOTEMPTY as rmdir(2); a site root counts
 * as empty when it holds only .trash).  A site (loc->site == NULL) goes to
 * the root trash as a whole, with this caller's own deletions inside it put
 * back in place first.  st: the entry's lstat if the caller has it (NULL:
 * taken here).  On any failure nothing has moved.  0 or -errno. */
int trash_delete(struct trash *t, const struct caller *who,
		 const struct trash_loc *loc, bool want_dir, const struct stat *st);

/* renameat2(src, dst, flags) where a replaced dst goes to trash first
 * (RENAME_EXCHANGE and RENAME_NOREPLACE pass straight through).  The rename
 * itself is atomic for non-directories (the victim is hard-linked into the
 * trash before being replaced).  Keeps the index in step when sites move at
 * the root.  0 or -errno (nothing changed on error). */
int trash_rename(struct trash *t, const struct caller *who,
		 const struct trash_loc *src, const struct trash_loc *dst,
		 unsigned flags);

/* Something was moved out of op `name` of `scope` (trash_rename does this
 * itself for a source with from_op set): stop using its moved parts now;
 * recount it, or drop it when empty, at the next tick. */
void trash_note_restore(struct trash *t, const char *scope, const char *name);

/* Bytes written to a file after it was deleted, through a handle still
 * open, land in its op but were never counted (issue 21).  The daemon
 * calls this when the last such handle closes: count the op's tree again
 * and store the record (last_ns kept: a write is not a deletion).  An op
 * being purged is left alone.  0 or -errno. */
int trash_op_recount(struct trash *t, const char *scope, const char *name);
/* The op who is collecting deletions into in scope (right after a
 * trash_delete: the op that holds the victim).  0 or -ENOENT. */
int trash_open_op_of(struct trash *t, const struct caller *who, const char *scope,
		     char *name, size_t cap);

/* The record of an op: the open in-memory one, else the index, else the
 * op directory's xattr.  0 or -ENOENT. */
int trash_op_get(struct trash *t, const char *scope, const char *name,
		 struct op_record *out);

/* Restore a whole op to its original paths (undo.h), under the engine's
 * lock, let go every 1024 steps: an open op is closed first; a held one is
 * refused (-EPERM), a purging one too (-EBUSY).  The op is then settled like
 * any restore.  run (NULL or "": none) names the bulk undo this op belongs
 * to: the op is planned against what the run's earlier ops put back
 * (undo_runs_get).
 * 0 or -errno. */
int trash_undo(struct trash *t, const char *scope, const char *name, const char *run,
	       undo_progress_fn fn, void *arg, struct undo_result *res);
/* trash_undo of n ops of one scope in one call: one hold of the lock
 * (let go every few ops and every UNDO_STEPS_PER_LOCK steps) and one
 * on_undone at the end, instead of one each.  Op i's steps go to fn with
 * args[i]; its result to res[i] and its trash_undo return value to rc[i].
 * Each op is undone exactly as trash_undo would (its own hold check, its
 * own crash ordering, undo.c).  Returns 0. */
int trash_undo_many(struct trash *t, const char *scope, const char *const *names, size_t n,
		    const char *run, undo_progress_fn fn, void *const *args,
		    struct undo_result *res, int *rc);

/* May anything be moved out of op `name` of scope (restore by mv, undo)?
 * 0; -EPERM while the op or its site is under legal hold (a held item is
 * restored by copying it); -EBUSY while it is being purged (half gone).
 * A missing op is 0 (the caller's rename then fails on its own). */
int trash_may_leave(struct trash *t, const char *scope, const char *name);

/* Legal hold on one op (never purged while held): hold sets the
 * operator's reason (OPREC_HOLD_LEGAL); release clears every reason, the
 * brake's too (its run stays braked: new ops are still held).  0 or -errno. */
int trash_op_set_hold(struct trash *t, const char *scope, const char *name, bool hold);

/* The mass-deletion brake (brake.h): set (on) or clear its hold
 * (OPREC_HOLD_BRAKE) on every op of run, open or closed, leaving other
 * holds alone.  *n (may be NULL) gets how many ops changed (an op listed
 * twice, in memory and in the index, counts once: the second finds it
 * done).  0, -EINVAL (empty run), or the -errno of the first op that
 * could not be changed (the others are still tried). */
int trash_run_set_brake(struct trash *t, const char *run, bool on, size_t *n);

/* Start purging an op: refuses a held op (-EPERM) or one still open
 * (-EBUSY); marks it OP_PURGING.  0 or -errno. */
int trash_purge_begin(struct trash *t, const char *scope, const char *name);
/* Remove at most `budget` entries of a purging op (deepest first, never
 * following symlinks, -EXDEV on a mount inside it); *done when the op
 * directory and its record are gone.  *removed accumulates.  Each step
 * first re-checks the op's and its site's legal hold under the engine
 * lock: a hold placed during a purge stops it there with -EPERM (the op
 * stays PURGING and held; it resumes when released).  0 or -errno. */
int trash_purge_step(struct trash *t, const char *scope, const char *name,
		     unsigned budget, bool *done, uint64_t *removed);

struct trash_usage {
	uint64_t ops, items, bytes;
	int64_t oldest_ns;      /* first deletion of the oldest op; 0: none */
	int64_t next_expiry_s;  /* earliest expiry of an op not held; 0: none */
};
/* Trash usage of a scope (a site, or "" for deleted sites). 0 or -errno. */
int trash_usage(struct trash *t, const char *scope, struct trash_usage *u);
/* The same, counting only the ops uid deleted. */
int trash_usage_of_uid(struct trash *t, const char *scope, uid_t uid, struct trash_usage *u);
/* Count op record r into u (what trash_usage does for each op). */
void trash_usage_add(struct trash_usage *u, const struct op_record *r);

/* Trash usage of every scope that holds ops, in index order; fn gets
 * each scope once.  0, fn's nonzero value, or -errno. */
int trash_usage_all(struct trash *t,
		    int (*fn)(void *arg, const char *scope, const struct trash_usage *u),
		    void *arg);

struct trash_counters {
	uint64_t ops_created, deletions, restores, purged, record_errors;
	uint64_t preserved;   /* files preserved before a truncation */
	/* deletion reserve: directories taken (no room for a mkdir), and
	 * mkdirs that failed with the reserve empty too */
	uint64_t reserve_taken, reserve_empty;
};
void trash_get_counters(struct trash *t, struct trash_counters *c);

/* The deletion reserve (trash_reserve.c): TRASH_RESERVE_DIRS empty
 * directories in BACKING/.gracefs/reserve that a deletion takes for its op
 * directory or a mirrored parent when mkdir fails with ENOSPC or EDQUOT,
 * so one tenant exhausting inodes or blocks cannot stop another deleting.
 * fill: make the missing ones (the sweeper, after each pass; trash_open);
 * returns how many there are.  count: as of the last fill, less those
 * taken since.  Lock-free. */
#define TRASH_RESERVE_DIRS 32
unsigned trash_reserve_fill(struct trash *t);
unsigned trash_reserve_count(struct trash *t);

/* Periodic work (call every ~0.2-1 s from one thread): write dirty ops,
 * close idle ones, process restores.  0 or -errno of the first failure. */
int trash_tick(struct trash *t);
/* Store the records of open ops whose counts moved since their last store,
 * so readers of the index (gracectl's plans and listings) see what the
 * mount has done so far, not what the last tick wrote.  0 or -errno. */
int trash_store_open(struct trash *t);
/* Close every open op now (unmount, tests). */
void trash_close_all(struct trash *t);

/* At mount: make the index match the backing store.  Op dirs without
 * records are adopted (metadata from the dir when its xattr is lost), records
 * without dirs dropped, ops left open by a crash recounted and closed,
 * interrupted site collapses finished. 0 or -errno. */
int trash_reconcile(struct trash *t, struct trash_stats *st);

/* ---- overwrite protection (trash_preserve.c; overwrite.h drives it) ---- */

/* Does who's open op in loc's site (never created here) already hold
 * loc's path — its state from before the op touched it — or was the file
 * (st: its stat) created while that op collects?  Then a truncation or an
 * overwrite keeps nothing.  1 yes (the op's name to opname), 0 no, or
 * -errno. */
int trash_preserve_held(struct trash *t, const struct caller *who,
			const struct trash_loc *loc, const struct stat *st,
			char *opname, size_t cap);

/* Is opname still who's op collecting in scope?  (The note of a file an
 * op preserved already: later writes in that op cost this lookup, no
 * syscall.)  Takes the engine's lock; never blocks on I/O of its own. */
bool trash_preserve_current(struct trash *t, const struct caller *who, const char *scope,
			    const char *opname);

/* Name tmpfd — an O_TMPFILE on loc's filesystem holding the content of
 * srcfd, the live file loc (stat st) about to be truncated — as an item of
 * who's op at loc's site-relative path, with srcfd's owner, mode, xattrs
 * and times and TRASH_PRESERVED_XATTR; counted in the op like a deleted
 * item.  The op's name goes to opname.  0 preserved, 1 the op already held
 * that path (tmpfd left unnamed), or -errno (nothing named). */
int trash_preserve_commit(struct trash *t, const struct caller *who,
			  const struct trash_loc *loc, int tmpfd, int srcfd,
			  const struct stat *st, char *opname, size_t cap);

/* who created file (dev, ino) in scope: if who has an op collecting there,
 * a truncation or overwrite of that file in the op needs no preservation;
 * if it has none, the file is who's own for as long as who lives (the last
 * 4096 such files of all processes; bounded: a file not remembered is
 * preserved).  trash_preserve_held says 1 with an empty opname then. */
void trash_note_created(struct trash *t, const struct caller *who, const char *scope,
			dev_t dev, ino_t ino);

/* Record st's atime and mtime on directory fd as TRASH_TIMES_XATTR
 * (replace: false keeps one already there).  0 or -errno. */
int trash_times_save(int fd, const struct stat *st, bool replace);

/* The times TRASH_TIMES_XATTR holds on fd into ts[0] (atime), ts[1]
 * (mtime).  0, -ENODATA (none) or -EINVAL (malformed). */
int trash_times_load(int fd, struct timespec ts[2]);

/* ---- undo run:ID --created (trash_created.c; created.h plans it) ---- */

struct created_rec;
/* Move the item rec names — if it is still as its run left it
 * (created_check) — into who's op in rec's site, like an rm of it (a
 * directory only when empty: the plan moves its contents first).  st gets
 * its lstat, why the reason it stays, opname the op.  Returns
 * CREATED_MOVE (moved), another created_verdict (left: changed, kept, or
 * gone), or -errno (nothing moved).  The caller drops the record
 * (created_forget) and, once done with a batch, calls
 * trash_uncreate_done so the kernel drops what it cached. */
int trash_uncreate(struct trash *t, const struct caller *who, int backing_fd,
		   const struct created_rec *rec, struct stat *st, char *why, size_t cap,
		   char *opname, size_t opcap);
void trash_uncreate_done(struct trash *t);

/* Count the deleted entries (mirror-only parents excepted) and their
 * allocated bytes below dirfd (not following
 * symlinks, not crossing filesystems); max_ctime_ns gets the newest ctime.
 * 0 or -errno. */
int trash_count_tree(int dirfd, uint64_t *items, uint64_t *bytes,
		     int64_t *max_ctime_ns);

/* Is every deleted item inside the container dirfd (an op directory, or a
 * parent made only to hold victims of op `opname`, TRASH_MIRROR_XATTR)
 * owned by uid?  Mirror-only parents are looked through, not judged.
 * Read-only, takes no lock.  1 yes, 0 no, -ENOTDIR when dirfd is not a
 * container (a deleted directory itself), or -errno. */
int trash_container_owned(int dirfd, const char *opname, uid_t uid);

/* Does the op reach uid (-o trash_view=reach, docs/isolation.md)?  True
 * for root, for the op's deleter (its record), and for the owner of any
 * deleted item in it, found by looking through the mirror-only parents
 * of the op directory opfd (a deleted directory is judged by its own
 * owner), within TRASH_REACH_BUDGET entries: an op whose first
 * TRASH_REACH_BUDGET entries hold none of uid's items does not reach it.
 * Read-only; takes the engine's lock only to read the record. */
#define TRASH_REACH_BUDGET 256
bool trash_op_reaches(struct trash *t, const char *scope, const char *opname, int opfd,
		      uid_t uid);

#endif
