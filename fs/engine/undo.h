/*
 * undo — restoring a whole operation to its original paths, on directory
 * fds in the backing store (no FUSE, no index).
 *
 * An op directory mirrors its scope: BACKING/<site>/.trash/<op>/<path> for
 * a site, BACKING/.gracefs/trash/<op>/<site> for deleted whole sites
 * (scope "").  Directories carrying TRASH_MIRROR_XATTR were created only to
 * hold deleted items (their live twin may still exist): the plan descends
 * through them and moves every other entry — a deleted item, whatever its
 * type — back with one rename.  A missing live parent is recreated with its
 * mirror's mode and owner.  A name taken at the target is never
 * overwritten: the item goes next to it as NAME.restored-<op>, then
 * NAME.restored-<op>-2, -3, …  Nothing is ever copied.
 *
 * A bulk undo restores many ops, newest first, so that the tree comes back
 * as it was before the first of them.  An undo_overlay carries what the
 * earlier ops of the same run put back: a plan made against it sees those
 * paths as present (a dry run, where nothing has moved yet) and merges a
 * deleted directory into a directory that the same run restored or
 * recreated — its entries go in one by one, a name taken there follows the
 * NAME.restored-<op> rule, and the emptied directory is removed from the
 * op — instead of restoring it next to it as NAME.restored-<op>.
 *
 * A directory the run put back under a new name (its own was taken by a
 * tree the tenant re-created meanwhile) is followed: an older op's items
 * below its original path go below the new name
 * (blog.restored-<op>/2024), never into the directory that holds the
 * original name now — a restore never writes into a directory that did
 * not exist when the op ran.  Such steps are UNDO_MOVEs whose `to`
 * differs from `from` (counted in follows / followed).
 *
 * Two exceptions.  A file the op preserved before truncating it
 * (TRASH_PRESERVED_XATTR naming the op; docs/overwrite.md) is the path's
 * state before the op, so it takes the path back from the live
 * non-directory there (UNDO_REPLACE): the two are swapped and the live
 * version stays in the op, in trash like any replaced target.  A file a
 * rename replaced (sed -i, mv over, rsync: TRASH_REPLACED_XATTR naming the
 * op and the replacement's inode) takes its path back from the live file
 * when that is still the replacement, the same inode (UNDO_REPLACE with
 * UNDO_F_TO_TRASH): swapped, and the replacement then goes into a new op
 * of its own (the caller's progress function does that: trash_restore.c),
 * so it stays restorable; when the live file changed since, the original
 * comes back next to it (UNDO_RENAME with UNDO_F_CHANGED).
 *
 * Threading: no shared state.  The daemon runs undo_execute under its
 * trash lock (the op must not change underneath) and then lets the engine
 * drop or recount the emptied op (trash_note_restore).
 */
#ifndef GRACEFS_UNDO_H
#define GRACEFS_UNDO_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#define UNDO_MAX_STEPS (1u << 24)   /* bound on one plan */
#define UNDO_SUFFIX_MAX 1000        /* NAME.restored-<op>-N tries */

enum undo_kind {
	UNDO_MKDIR,     /* recreate a missing live parent (its mirror's mode/owner) */
	UNDO_MOVE,      /* rename an item back to its original path (or below the
			 * new name of a parent the run renamed: a follow) */
	UNDO_RENAME,    /* the original name is taken: next to it, renamed */
	UNDO_MERGED,    /* a directory whose entries went into the directory the
			 * run restored at its path: remove it from the op once
			 * empty (after its entries' steps) */
	UNDO_REPLACE,   /* a file preserved before a truncation takes its path back
			 * from the live (truncated or rewritten) non-directory there,
			 * which stays in the op in its place (one RENAME_EXCHANGE);
			 * or a file a rename replaced takes its path back from that
			 * replacement (UNDO_F_TO_TRASH) */
};

/* undo_step.flags, for the rename-over rule (see the top of this file) */
#define UNDO_F_TO_TRASH   1u  /* UNDO_REPLACE: the live replacement (inode ino)
				* is swapped out and goes into a new op of its
				* own, made by the caller's progress function */
#define UNDO_F_TRASH_ONLY 2u  /* UNDO_REPLACE: the original is live already (an
				* undo interrupted after the swap): only the
				* replacement, in the op at from, goes to a new op */
#define UNDO_F_CHANGED    4u  /* UNDO_RENAME: a file a rename replaced whose
				* replacement changed since: next to it */

struct undo_step {
	enum undo_kind kind;
	char *from;     /* path inside the op dir (UNDO_MKDIR: the mirror's) */
	char *to;       /* path below the scope root (site dir, or BACKING) */
	mode_t mode;    /* type bits; directories (mirrors too) also permissions */
	uid_t uid;      /* owner of a directory (what UNDO_MKDIR sets) */
	gid_t gid;
	unsigned flags; /* UNDO_F_* */
	ino_t ino;      /* UNDO_F_TO_TRASH: the replacement's inode */
	ino_t self_ino; /* UNDO_F_TO_TRASH: the op's file's own inode (what a
			 * dry run's later, older ops see at to) */
};

/* A directory's times to put back once the steps are done: one the plan
 * recreates (UNDO_MKDIR), one the run itself put back that the op's
 * items go into, or one a deleted directory merges into.  Children come
 * before their parents (restoring a child changes its parent's mtime). */
struct undo_times {
	char *to;                /* below the scope root */
	struct timespec ts[2];   /* atime, mtime from before the op */
};

/* An embedded struct: undo_plan fills it, undo_plan_release frees it. */
struct undo_plan {
	char scope[NAME_MAX + 1];
	char op[NAME_MAX + 1];
	struct undo_step *steps;  /* in order: a parent's mkdir before its children */
	size_t n, cap;
	struct undo_times *times; /* set after every step, in this order */
	size_t ntimes, times_cap;
	size_t moves, renames, mkdirs, merges, replaces;
	size_t changed;   /* of renames: UNDO_F_CHANGED */
	size_t follows;   /* of moves: items that follow a parent the run put
			   * back under a new name (to differs from from) */
};

/* ---- overlays: what earlier ops of one bulk undo put back ---- */

struct undo_overlay;

/* 0 or -ENOMEM.  _free accepts NULL. */
int undo_overlay_new(struct undo_overlay **ov);
void undo_overlay_free(struct undo_overlay *ov);

/* Record that path (below the root of scope) holds what the run restored:
 * a directory (dir) or not.  src, for a dry run, is where a directory's
 * contents (or the file) are now, relative to the backing store (they
 * will be at path once restored); NULL when it is really there.  0 or -ENOMEM
 * (also when the overlay reached UNDO_MAX_STEPS entries). */
int undo_overlay_add(struct undo_overlay *ov, const char *scope, const char *path, bool dir,
		     const char *src);

/* Record every step of plan p as if executed (a dry run).  0 or -ENOMEM. */
int undo_overlay_note_plan(struct undo_overlay *ov, const struct undo_plan *p);

/* Record one executed step (from an undo_progress_fn: to is where the item
 * went).  0 or -ENOMEM. */
int undo_overlay_note_step(struct undo_overlay *ov, const char *scope,
			   const struct undo_step *s, const char *to);

size_t undo_overlay_count(const struct undo_overlay *ov);

/* The daemon's overlays of the bulk undo runs in progress, by run ID
 * (gracectl passes its plan token): UNDO_RUNS_MAX runs, a run unused for
 * UNDO_RUN_IDLE_S forgotten.  Not thread-safe: the caller serializes (the
 * engine's trash lock). */
#define UNDO_RUNS_MAX 8
#define UNDO_RUN_IDLE_S 3600
struct undo_runs;

/* The overlay of run `id` (created, with *runs itself, when missing; the
 * least recently used run goes when full), valid until the next call.
 * 0, -EINVAL (empty or over NAME_MAX) or -ENOMEM. */
int undo_runs_get(struct undo_runs **runs, const char *id, int64_t now_s,
		  struct undo_overlay **ov);
void undo_runs_free(struct undo_runs *runs);   /* NULL is fine */

/* Plan the restore of op `op` of `scope` ("" = deleted sites) under
 * backing_fd.  Reads only.  0, -ENOENT (no such op dir), -EINVAL (bad
 * names), -ENAMETOOLONG, -E2BIG (more than UNDO_MAX_STEPS), or -errno.
 * On error *p holds nothing to release. */
int undo_plan(int backing_fd, const char *scope, const char *op, struct undo_plan *p);

/* undo_plan against what the earlier ops of a run restored (ov may be
 * NULL: same as undo_plan).  ov is only read. */
int undo_plan_over(int backing_fd, const char *scope, const char *op,
		   const struct undo_overlay *ov, struct undo_plan *p);
/* undo_plan_over for an op of a site whose one item is a non-directory
 * at `path` below the op directory, of type `mode` (the index's hint,
 * index_put_hint), without reading the op's directories: what a bulk dry
 * run of many one-file ops (a script that ran rm once per file) needs,
 * when ~40,000 cold directory reads would be most of its time.  Only
 * the live tree is looked at.  Plans exactly what undo_plan_over plans
 * when the hint is true and the case is the plain one: every parent live,
 * the name free, nothing the run restored on the way (one UNDO_MOVE).
 * Returns 0 (*p filled), 1 (not that case: plan with undo_plan_over) or
 * -ENOMEM.  The execute always walks: a wrong hint can only make a dry
 * run's counts differ from the execute's, never move anything. */
int undo_plan_hint(int backing_fd, const char *scope, const char *op, const char *path,
		   mode_t mode, const struct undo_overlay *ov, struct undo_plan *p);
void undo_plan_release(struct undo_plan *p);

/* One step done (err 0) or failed (-errno).  `to` is where the item went
 * (it differs from step->to when a name was taken meanwhile); renamed says
 * it is not the original name.  A nonzero return stops the execution. */
typedef int (*undo_progress_fn)(void *arg, const struct undo_step *step, const char *to,
				bool renamed, int err);

struct undo_result {
	size_t moved, renamed, mkdirs, merged, failed;
	size_t replaced;   /* of moved: UNDO_REPLACE steps */
	size_t followed;   /* of moved: below a parent restored under a new name */
};

/* Carry out the plan with renameat2(RENAME_NOREPLACE), never following a
 * symlink; a failed step is reported and the others still run.  Then the
 * plan's directory times are set (a failure there is not an error: the
 * directory keeps the time of the restore).  res may
 * be NULL.  Returns 0 when every step succeeded, else the first -errno
 * (or the callback's nonzero value). */
int undo_execute(int backing_fd, const struct undo_plan *p, undo_progress_fn fn, void *arg,
		 struct undo_result *res);

/* undo_plan_over + undo_execute + undo_plan_release. */
int undo_op(int backing_fd, const char *scope, const char *op, const struct undo_overlay *ov,
	    undo_progress_fn fn, void *arg, struct undo_result *res);

#endif
