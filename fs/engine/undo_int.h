/*
 * undo_int.h — the replace rule of undo (undo_replace.c), shared with the
 * planner and executor in undo.c.  Nothing outside those two includes it.
 * See undo.h for the rule itself; threading: none (fds and memory only).
 */
#ifndef GRACEFS_UNDO_INT_H
#define GRACEFS_UNDO_INT_H

#include <stdbool.h>
#include <sys/types.h>

/* Planning: does odir/name, an op entry of d_type `type` whose name is
 * taken in live, replace the live entry as the op's preserved copy of a
 * file it truncated (TRASH_PRESERVED_XATTR naming op; the live entry is
 * not a directory)? */
bool undo_replaces_live(int odir, int live, const char *name, unsigned type, const char *op);

enum undo_rover {
	UNDO_RO_NO,          /* not a file a rename of the op replaced */
	UNDO_RO_SWAP,        /* the live file is still its replacement */
	UNDO_RO_CHANGED,     /* the live file is not the replacement any more */
	UNDO_RO_TRASH_ONLY,  /* the live file is the original already: an undo
			      * stopped after the swap, before the replacement
			      * (odir/name) was in its new op */
};

/* Planning: is odir/name (whose name is taken in live) a file a rename of
 * op replaced (TRASH_REPLACED_XATTR)?  live_ino, when not 0, is the file
 * an earlier op of a dry-run bulk undo puts at that name (instead of what
 * is live now).  *ino gets the replacement's inode for UNDO_RO_SWAP and
 * UNDO_RO_TRASH_ONLY, *self the inode of odir/name for UNDO_RO_SWAP. */
enum undo_rover undo_renamed_over(int odir, int live, const char *name, unsigned type,
				  const char *op, ino_t live_ino, ino_t *ino, ino_t *self);

/* Is dirfd/name (not followed) inode ino? */
bool undo_is_inode(int dirfd, const char *name, ino_t ino);

/* Execution: swap src/sname (the op's version) with dst/dname (the live
 * one), one RENAME_EXCHANGE; the preserved marker leaves the restored
 * file (a rename-over marker stays: the caller removes it once the
 * replacement is in its new op).  The live name gone meanwhile: a plain
 * move.  0 or -errno. */
int undo_do_replace(int src, const char *sname, int dst, const char *dname);

#endif
