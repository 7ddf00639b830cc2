/*
 * tlink — hard links and trash: how many of an inode's names are held in
 * trash, and so how many live links it has (what stat shows, and whether
 * it may still change).
 *
 * The count lives in the index's "tlinks" table (index.h), keyed by the
 * inode's file handle (inode number + generation: a reused inode number
 * never inherits a count).  Only non-directories that had other links
 * when a name of theirs went to trash are recorded; an inode with one link
 * needs no record (its one name is live or in trash, as the caller knows).
 * A record whose count went back to 0 stays: the inode is known, and all
 * its links are live (the caller's view of where it is may be stale).
 * The trash engine keeps the counts in step: tlink_enter before a name
 * moves in, tlink_leave after a name or a tree moved out (restore, undo) or
 * was purged.  Every step errs towards counting too many names in trash,
 * which only ever makes a file look deleted sooner, never makes a deleted
 * file changeable (see docs/design.md, "Open files and hard links in
 * trash").
 *
 * Threading: no state of its own; the index is thread-safe.
 */
#ifndef GRACEFS_TLINK_H
#define GRACEFS_TLINK_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include "store/index.h"

#define TLINK_HANDLE_MAX 128   /* f_handle bytes accepted */

struct tlink_key {
	size_t len;
	unsigned char b[8 + TLINK_HANDLE_MAX];
};

/* The key of a file handle.  0 or -EINVAL (handle too large). */
int tlink_key_of(const struct file_handle *fh, struct tlink_key *k);
/* The key of the entry name in dirfd (not following a final symlink;
 * name "" = dirfd itself).  0 or -errno. */
int tlink_key_at(int dirfd, const char *name, struct tlink_key *k);

/*
 * The live link count of a non-directory: st_nlink of its backing inode
 * (nlink), minus its names held in trash (in_trash, from the table).
 * tracked: the table has a record for it (even at 0).  named_live: the caller reached
 * it through a live name (it certainly has one).  Rules: a tracked inode
 * has nlink - in_trash (at least 1 when named_live); an untracked one
 * reached through a live name has all its links live, one reached through
 * trash or by an open file of a deleted name has none (all its names went
 * to trash together, or it had only one).
 */
uint32_t tlink_live(uint64_t nlink, uint32_t in_trash, bool tracked, bool named_live);

/* A name of the non-directory st (its lstat) at dirfd/name is about to
 * move into op `op`: count it (for the inode and for the op) when the inode
 * has other links.  Sets *counted (for tlink_enter_undo).  0 or -errno
 * (the caller then refuses the deletion: a name in trash never goes
 * uncounted). */
int tlink_enter(struct index *ix, const char *op, int dirfd, const char *name,
		const struct stat *st, bool *counted);
/* The move counted by tlink_enter failed: take the counts back. */
void tlink_enter_undo(struct index *ix, const char *op, int dirfd, const char *name,
		      bool counted);

/* Does op hold counted names?  (false on errors: callers skip work) */
bool tlink_op_holds(struct index *ix, const char *op);
/* A counted name of op was purged (after the unlink): uncount it, for key
 * and for the op. */
void tlink_purged(struct index *ix, const char *op, const struct tlink_key *k);

/* An inode's count changed (its link count as shown changes). */
typedef void (*tlink_changed_fn)(void *arg, dev_t dev, ino_t ino);

/* dirfd/path (a file or a whole tree; path may have several components,
 * resolved without following symlinks) left op `op`: uncount every name in
 * it whose inode has a record, calling changed (may be NULL) for each.
 * Does nothing unless the op holds counted names (so a restore stays O(1)
 * in the usual case); never follows symlinks or crosses filesystems.  Best
 * effort: 0 or -errno. */
int tlink_leave(struct index *ix, const char *op, int dirfd, const char *path,
		tlink_changed_fn changed, void *arg);

/* Drop records whose inode no longer exists (its handle is stale).
 * backing_fd: any fd on the backing filesystem.  *dropped (may be NULL)
 * counts them.  0 or -errno. */
int tlink_prune(struct index *ix, int backing_fd, uint64_t *dropped);

#endif
