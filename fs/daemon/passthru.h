/*
 * passthru — kernel passthrough of open files (Linux 6.9+): which opens go
 * passthrough (ptpolicy.h), the backing file registrations (one per inode
 * while it has passthrough files open: the kernel wants the same one for
 * all of them), and the counters for status and metrics.
 *
 * Use: on open, after the backing fd is open, passthru_open gives the
 * backing id to put in the reply (0: the daemon path), or asks to make the
 * open safe to join passthrough files first (PASSTHRU_PRESERVE); on
 * RELEASE, or if the open is not answered after all, passthru_release.
 *
 * Threading: any FUSE worker; one mutex guards the bookkeeping (the
 * registration ioctl runs under it: a few microseconds).
 */
#ifndef GRACEFS_PASSTHRU_H
#define GRACEFS_PASSTHRU_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/inode.h"
#include "daemon/ptpolicy.h"

/* Returned by passthru_open: preserve the file's bytes and clear its
 * setid bits if the open writes (ptpolicy.h), then call again with
 * PT_PRESERVED. */
#define PASSTHRU_PRESERVE 1

struct passthru_counters {
	uint64_t opens;      /* files opened passthrough */
	uint64_t daemon;     /* regular files opened on the daemon path */
	uint64_t failures;   /* registrations that failed (each fell back) */
	uint64_t preserved;  /* opens made safe to join passthrough files */
	uint64_t backing;    /* registrations held now */
};

/* Decide for an open of ino through backing fd (of class c, by uid): 0
 * with *backing_id set (0: the daemon path; else put it in the reply),
 * PASSTHRU_PRESERVE (nothing recorded), or -ENOMEM.  A registration is
 * made with uid's fsuid; one that fails falls back to the daemon path
 * (EPERM turns passthrough off for the mount: fuseio_passthrough_failed). */
int passthru_open(struct inode *ino, int fd, uid_t uid, enum pt_class c, uint32_t *backing_id);
/* The open fd of ino (from passthru_open) is closed or was never
 * answered: drop it from the bookkeeping, and the registration with its
 * last passthrough file. */
void passthru_release(struct inode *ino, int fd);
void passthru_get_counters(struct passthru_counters *out);

#endif
