/*
 * fuseinit — raise FUSE INIT reply flags that libfuse 3.14 cannot negotiate.
 *
 * libfuse 3.14 builds the INIT reply from the capabilities it knows; the
 * kernel (5.11 and later) also offers FUSE_HANDLE_KILLPRIV_V2, which makes
 * the superblock SB_NOSEC: the kernel then asks for `security.capability`
 * (a GETXATTR round trip) before the first write(2) to an inode only, where
 * without it it asks before every write(2) — 2.5 requests per file of a
 * tar -x.  The daemon's FUSE device I/O (fuseio.c) passes the INIT reply
 * through fuseinit_raise on its way to the kernel.
 *
 * What the flag promises and how gracefs keeps it (docs/design.md): the
 * server clears setuid/setgid on write and truncate by an unprivileged
 * caller (kill_setid in ops_io.c), and `security.capability` on every
 * write (the backing filesystem does that itself); chown goes through
 * fchownat, which clears them as on any filesystem.
 *
 * Plain C on the kernel's <linux/fuse.h>; no state, no locks.
 */
#ifndef GRACEFS_FUSEINIT_H
#define GRACEFS_FUSEINIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

/* If iov[0..count) is a successful INIT reply (out header, then a
 * fuse_init_out of protocol 7.x, lengths consistent), OR flags into its
 * flags field and return true; anything else is left alone (false). */
bool fuseinit_raise(struct iovec *iov, int count, uint32_t flags);

#endif
