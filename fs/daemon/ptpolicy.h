/*
 * ptpolicy — which opens the kernel may serve itself (FUSE passthrough),
 * as pure functions of the open and of the inode's open files
 * (docs/design.md "Data path"; passthru.c applies it).
 *
 * The rule: an open that cannot change bytes that exist goes passthrough
 * — read-only opens, and opens for writing of a file that is empty after
 * the open (made by it, or truncated by it after the truncation preserved
 * the bytes).  Everything else stays on the daemon path, where every write
 * is seen: an open for writing of a file with content (truncation and
 * in-place overwrite preservation), O_APPEND included (fcntl F_SETFL or
 * pwritev2 RWF_NOAPPEND drop the append on the kernel's side, and a
 * passthrough write would then land in place); every open of a file with
 * S_ISUID or S_ISGID (the kernel writes through a backing file with the
 * creds of whoever registered it: clearing the bits would not follow the
 * writer as on ext4); and every open reached through a trash name or of a
 * file without a live name (trash is read-only: passthrough is never
 * registered there).
 *
 * The kernel adds a constraint (fs/fuse/iomode.c): while an inode has a
 * passthrough file open, every open of it must be passthrough with the
 * same backing file, direct I/O or not (else the open fails with EIO);
 * while it has a file open through the page cache, no open may be
 * passthrough.  So an open that may go passthrough goes on the daemon
 * path while the inode has page-cache files open, and an open that would
 * stay on the daemon path but meets passthrough files open joins them
 * once nothing is lost by it: a writer after its file's bytes are
 * preserved (as a truncation preserves them) and S_ISUID/S_ISGID cleared
 * as its first write would; a reader (a trash name of a file still open
 * passthrough from before its rm included: trash stays read-only, its
 * writers are refused before) as it is.
 *
 * FUSE-free, no state, no locks.
 */
#ifndef GRACEFS_PTPOLICY_H
#define GRACEFS_PTPOLICY_H

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

enum pt_class {
	PT_NEVER,       /* not a regular file, setuid/setgid, or not live */
	PT_READ,        /* cannot write */
	PT_FRESH,       /* writes, to a file empty after the open */
	PT_CONTENT,     /* may overwrite bytes that exist */
	PT_PRESERVED,   /* PT_CONTENT or PT_NEVER, made safe to join (above) */
};

enum pt_decision {
	PTD_DAEMON,     /* the daemon path (today's) */
	PTD_REGISTER,   /* passthrough, with a new backing registration */
	PTD_JOIN,       /* passthrough, with the inode's registration */
	PTD_PRESERVE,   /* make it safe (above), then decide again as PT_PRESERVED */
};

/* Passthrough bookkeeping of one inode (one kernel node id). */
struct pt_inode {
	unsigned backing_id;   /* 0: none registered */
	unsigned passthru;     /* its files open passthrough */
	unsigned daemon;       /* its files open on the daemon path */
};

/* The class of an open with open(2) flags of the file st (the backing
 * file after the open, so after an O_TRUNC); live: reached through a live
 * name (not a trash route, not detached). */
enum pt_class ptpolicy_class(int flags, const struct stat *st, bool live);
/* What to do with an open of class c, s the inode's state, on a mount
 * where passthrough is (still) on. */
enum pt_decision ptpolicy_decide(enum pt_class c, const struct pt_inode *s, bool on);

#endif
