/*
 * created — what runs CREATED through the mount, for `gracectl undo
 * run:ID --created` (docs/cli.md, "Undoing what a run created").
 *
 * The daemon notes every file, directory, symlink or node a visible
 * process creates in a live site (created_note), follows it when the
 * process's run renames it (created_note_moved), and refreshes the state
 * the run left it in when the run changes it — a write handle the run
 * opened is released, or it changes the item's attributes
 * (created_note_changed).  A change by a process of another run marks the
 * item CRREC_FOREIGN.  Notes go to a bounded table in memory
 * (CREATED_MEM_MAX items, a ring: the oldest clean one makes room) and
 * reach the index in batches: created_flush, from the maintenance tick,
 * stores every dirty note in one LMDB transaction.  No /proc read, no
 * catalog write, no extra syscall per created item: the daemon has the
 * path and stat of what it just created.
 *
 * Bounds: CREATED_RUN_MAX items per run (per daemon lifetime: a run that
 * creates more has the rest unrecorded, counted in created_stats) and
 * CREATED_TOTAL_MAX records in all; a record is ~60 bytes plus its path
 * in LMDB; records are pruned once older than the retention
 * (created_prune, hourly from the maintenance thread).
 *
 * A plan (created_plan) reads a run's records and checks each against the
 * live item — the same inode at the recorded path, and for a non-directory
 * the mtime, ctime and size the run left it with — and decides what moves.
 *
 * Threading: a tracker has one mutex (never held while calling into the
 * trash engine, never taken with the engine's lock held); a flush runs its
 * LMDB transaction under it.  Plans use no shared state.
 */
#ifndef GRACEFS_CREATED_H
#define GRACEFS_CREATED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include "lib/procinfo.h"
#include "store/crrec.h"
#include "store/index.h"

#define CREATED_MEM_MAX 16384     /* notes kept in memory (followed on rename/write) */
#define CREATED_RUN_MAX 1000000   /* items recorded per run */
#define CREATED_RUNS 64           /* runs whose counts are kept (least recent goes) */
/* Records in the index in all (~200 bytes each with LMDB's pages: ~2 GB):
 * the table shares the index's map with the op records, which must never
 * run out of room because of it.  Over it, notes are not stored. */
#define CREATED_TOTAL_MAX 10000000

struct created;

/* 0 or -ENOMEM.  ix is borrowed. */
int created_new(struct created **out, struct index *ix);
/* Flushes, then frees.  NULL is fine. */
void created_free(struct created *c);

/* who (with a run: else nothing is noted) created the item st at
 * site/path (site-relative, no leading '/'). */
void created_note(struct created *c, const struct caller *who, const char *site,
		  const char *path, const struct stat *st);
/* The item (st: its state now) was changed by a process of run `run`
 * ("" or NULL: unknown): the run's own change refreshes the note,
 * another's marks it CRREC_FOREIGN.  Items not in memory: nothing. */
void created_note_changed(struct created *c, const char *run, const struct stat *st);
/* Whether (dev, ino) is a noted item: a cheap test before the caller
 * builds a path for created_note_moved (a rename of anything else). */
bool created_knows(struct created *c, dev_t dev, ino_t ino);
/* A process of `run` renamed (dev, ino) to site/path (dirfd/name: its new
 * parent and name, to read its state, which a rename changes).  A known
 * item follows its new name (the run's own rename) or is marked
 * CRREC_FOREIGN (another run's). */
void created_note_moved(struct created *c, const char *run, dev_t dev, ino_t ino,
			const char *site, const char *path, int dirfd, const char *name);
/* An item left (moved into trash by undo --created): forget its note and
 * its record.  0 or -errno of the index. */
int created_forget(struct created *c, const char *run, uint64_t dev, uint64_t ino);

/* Store every dirty note (one transaction).  0 or -errno (the notes stay
 * dirty and are tried again). */
int created_flush(struct created *c);
/* Drop records created before before_ns.  0 or -errno. */
int created_prune(struct created *c, int64_t before_ns, uint64_t *dropped);

struct created_stats {
	uint64_t noted, unrecorded, flushes, flush_errors;
};
void created_get_stats(struct created *c, struct created_stats *s);

/* ---- plans ---- */

enum created_verdict {
	CREATED_MOVE,     /* as the run left it: goes to trash */
	CREATED_CHANGED,  /* changed since (another process, or times/size differ): left */
	CREATED_KEPT,     /* a directory that holds items that stay: left */
	CREATED_GONE,     /* no longer at its recorded path (removed, renamed away) */
};

struct created_item {
	struct created_rec rec;   /* rec.path points at path */
	char *path;
	enum created_verdict v;
	char why[96];
};

struct created_plan {
	struct created_item *v;   /* deepest first within a site: children before parents */
	size_t n;
	size_t moves, changed, kept, gone;
};

/* Plan run's created items against the live store under backing_fd.
 * Reads only.  0, -ENOMEM, or the index's -errno.  Release with
 * created_plan_release (also on error). */
int created_plan(struct index *ix, int backing_fd, const char *run, struct created_plan *p);
void created_plan_release(struct created_plan *p);
const char *created_verdict_name(enum created_verdict v);

/* Where r's item is now: *pfd (O_RDONLY directory, the caller closes it)
 * gets its parent, *name its last component (points into r->path), *st
 * its lstat.  No symlink is followed, no mount crossed, never into
 * .trash.  Then the verdict for a non-directory (a directory: CREATED_MOVE
 * when the same inode is there; its contents are the plan's business),
 * with why filled (may be NULL).  -errno only for failures that are not
 * "gone". */
int created_check(int backing_fd, const struct created_rec *r, int *pfd, const char **name,
		  struct stat *st, char *why, size_t cap);

#endif
