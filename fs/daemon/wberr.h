/*
 * wberr — a full disk under the writeback cache fails write(2), not only
 * fsync and close.
 *
 * With the writeback cache, write(2) fills the page cache and returns; the
 * kernel sends the data later as background WRITEs, so a WRITE that finds
 * the backing store full fails where no caller sees it (the kernel records
 * the error for fsync and close).  A program that never checks those — a
 * tenant's `dd` to a full disk — would write forever.  So when a WRITE
 * fails with ENOSPC or EDQUOT the daemon notes the inode here and has the
 * kernel drop its cached attributes (ops_maint.c); the kernel then asks for
 * them (GETATTR through the open file) at the next write(2) to that inode,
 * and the daemon answers that once with the error, which write(2) returns.
 * What the failed WRITE carried is lost as it would be on a local
 * filesystem's full disk; fsync and close report it too.
 *
 * Threading: one mutex; the common case (nothing noted) takes no lock.
 */
#ifndef GRACEFS_WBERR_H
#define GRACEFS_WBERR_H

#include <stdint.h>

/* A background WRITE to nodeid failed with err (ENOSPC or EDQUOT). */
void wberr_note(uint64_t nodeid, int err);
/* The error noted for nodeid, forgotten as it is returned; 0: none.
 * Also called at RELEASE: an error close(2) reported is not kept for a
 * later open of the same file. */
int wberr_take(uint64_t nodeid);

#endif
