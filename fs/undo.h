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
 * One exception (docs/overwrite.md): a file the op preserved before
 * truncating it (TRASH_PRESERVED_XATTR naming the op) is the path's state
 * before the op, so it takes the path back from the live non-directory
 * there (UNDO_REPLACE): the two are swapped and the live version stays in
 * the op, in trash like any replaced target.
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

#define UNDO_MAX_STEPS (1u << 24)   /* bound on one plan */
#define UNDO_SUFFIX_MAX 1000        /* NAME.restored-<op>-N tries */

enum undo_kind {
	UNDO_MKDIR,     /* recreate a missing live parent (its mirror's mode/owner) */
	UNDO_MOVE,      /* rename an item back to its original path */
	UNDO_RENAME,    /* the original name is taken: next to it, renamed */
	UNDO_REPLACE,   /* a file preserved before a truncation takes its path back
			 * from the live (truncated or rewritten) non-directory there,
			 * which stays in the op in its place (one RENAME_EXCHANGE) */
};

struct undo_step {
	enum undo_kind kind;
	char *from;     /* path inside the op dir (UNDO_MKDIR: the mirror's) */
	char *to;       /* path below the scope root (site dir, or BACKING) */
	mode_t mode;    /* type bits; directories (mirrors too) also permissions */
	uid_t uid;      /* owner of a directory (what UNDO_MKDIR sets) */
	gid_t gid;
};

/* An embedded struct: undo_plan fills it, undo_plan_release frees it. */
struct undo_plan {
	char scope[NAME_MAX + 1];
	char op[NAME_MAX + 1];
	struct undo_step *steps;  /* in order: a parent's mkdir before its children */
	size_t n, cap;
	size_t moves, renames, mkdirs, replaces;
};

/* Plan the restore of op `op` of `scope` ("" = deleted sites) under
 * backing_fd.  Reads only.  0, -ENOENT (no such op dir), -EINVAL (bad
 * names), -ENAMETOOLONG, -E2BIG (more than UNDO_MAX_STEPS), or -errno.
 * On error *p holds nothing to release. */
int undo_plan(int backing_fd, const char *scope, const char *op, struct undo_plan *p);
void undo_plan_release(struct undo_plan *p);

/* One step done (err 0) or failed (-errno).  `to` is where the item went
 * (it differs from step->to when a name was taken meanwhile); renamed says
 * it is not the original name.  A nonzero return stops the execution. */
typedef int (*undo_progress_fn)(void *arg, const struct undo_step *step, const char *to,
				bool renamed, int err);

struct undo_result {
	size_t moved, renamed, mkdirs, failed;
	size_t replaced;   /* of moved: UNDO_REPLACE steps */
};

/* Carry out the plan with renameat2(RENAME_NOREPLACE), never following a
 * symlink; a failed step is reported and the others still run.  res may
 * be NULL.  Returns 0 when every step succeeded, else the first -errno
 * (or the callback's nonzero value). */
int undo_execute(int backing_fd, const struct undo_plan *p, undo_progress_fn fn, void *arg,
		 struct undo_result *res);

/* undo_plan + undo_execute + undo_plan_release. */
int undo_op(int backing_fd, const char *scope, const char *op, undo_progress_fn fn, void *arg,
	    struct undo_result *res);

#endif
