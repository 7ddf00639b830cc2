/*
 * fuseinit — what gracefs adds to the FUSE protocol messages libfuse 3.14
 * builds: INIT reply flags it cannot negotiate, and the passthrough fields
 * of OPEN and CREATE replies.
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
 * Kernel passthrough (Linux 6.9, protocol 7.40; docs/design.md "Data
 * path"): the kernel offers FUSE_PASSTHROUGH in the INIT request's flags2;
 * the reply accepts it with the flag and a max_stack_depth (the u32 after
 * flags2, `unused[0]` in 7.38 headers).  An OPEN or CREATE reply then
 * names a backing file registered with FUSE_DEV_IOC_BACKING_OPEN: open
 * flag FOPEN_PASSTHROUGH, its id in fuse_open_out's `padding`.
 *
 * Plain C on the kernel's <linux/fuse.h>; no state, no locks.
 */
#ifndef GRACEFS_FUSEINIT_H
#define GRACEFS_FUSEINIT_H

#include <linux/fuse.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/uio.h>

/* ---- what Debian 12's <linux/fuse.h> (7.38) and libfuse 3.14 lack ---- */
/* All from Linux 6.9's include/uapi/linux/fuse.h (protocol 7.40). */
#ifndef FUSE_PASSTHROUGH
#define FUSE_PASSTHROUGH (1ULL << 37)   /* INIT flag (flags2 bit 5) */
#endif
#ifndef FOPEN_PASSTHROUGH
#define FOPEN_PASSTHROUGH (1 << 7)      /* open_flags of an OPEN/CREATE reply */
#endif
#ifndef FUSE_DEV_IOC_BACKING_OPEN
struct fuse_backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};
#define FUSE_DEV_IOC_BACKING_OPEN _IOW(FUSE_DEV_IOC_MAGIC, 1, struct fuse_backing_map)
#define FUSE_DEV_IOC_BACKING_CLOSE _IOW(FUSE_DEV_IOC_MAGIC, 2, uint32_t)
#endif
/* gracefs stacks on a plain filesystem: one level (the kernel's limit is
 * FILESYSTEM_MAX_STACK_DEPTH, 2). */
#define FUSEINIT_STACK_DEPTH 1u

/* Passthrough on a connection: asked for, or not and why. */
enum fuseinit_pt {
	FUSEINIT_PT_ON,
	FUSEINIT_PT_OFF_OPTION,   /* -o passthrough=off */
	FUSEINIT_PT_OFF_VETO,     /* the daemon's own reason (-o writeback) */
	FUSEINIT_PT_OFF_KERNEL,   /* the INIT request does not offer FUSE_PASSTHROUGH */
};

/* Whether to ask for passthrough: wanted (the option), vetoed (a reason
 * not to), offered (fuseinit_offered's flags; 0 if none was read). */
enum fuseinit_pt fuseinit_passthrough_choice(bool wanted, bool vetoed, uint64_t offered);

/* If buf[0..len) is an INIT request of protocol 7.x, store the flags the
 * kernel offers (flags, and flags2 shifted up 32 when FUSE_INIT_EXT is
 * set) in *offered and return true; anything else: false. */
bool fuseinit_offered(const void *buf, size_t len, uint64_t *offered);

/* If iov[0..count) is a successful INIT reply (out header, then a
 * fuse_init_out of protocol 7.x, lengths consistent), OR flags into it —
 * bits 32..63 into flags2, with FUSE_INIT_EXT — set max_stack_depth when
 * stack_depth is not 0, and return true.  Anything else, or a reply too
 * short for what is asked (flags2 needs protocol 7.36's full size), is
 * left alone (false). */
bool fuseinit_raise(struct iovec *iov, int count, uint64_t flags, uint32_t stack_depth);

/* If iov[0..count) is a successful OPEN reply (fuse_open_out) or CREATE
 * reply (fuse_entry_out then fuse_open_out), mark it FOPEN_PASSTHROUGH
 * with backing_id, drop the open flags the kernel refuses beside it
 * (FOPEN_KEEP_CACHE, ...) and return true; anything else is left alone
 * (false). */
bool fuseinit_passthrough_reply(struct iovec *iov, int count, uint32_t backing_id);

#endif
