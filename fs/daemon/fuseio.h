/*
 * fuseio — the daemon's FUSE device I/O: the plain read/writev/splice
 * libfuse would do itself, with what libfuse 3.14 cannot do (fuseinit.h):
 * the INIT reply's flags raised, and kernel passthrough — the INIT
 * request's offer read, FUSE_PASSTHROUGH asked for, backing files
 * registered on the device and named in OPEN/CREATE replies.
 *
 * Passthrough's state (for logs, `gracectl status` and metrics): pending
 * until the INIT reply is sent, then on, or off with the reason — the
 * option, the writeback cache (the kernel refuses passthrough with it),
 * a kernel that does not offer it, or a failed FUSE_DEV_IOC_BACKING_OPEN
 * (fuseio_passthrough_failed).  Each reason is logged once.
 *
 * Threading: the session loop's workers call all of this concurrently;
 * the state is atomics, the passthrough id of a reply being sent is the
 * calling thread's own.
 */
#ifndef GRACEFS_FUSEIO_H
#define GRACEFS_FUSEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <fuse_lowlevel.h>

/* Take over se's device I/O, after fuse_session_mount and before the
 * session loop (the INIT request is the loop's first); passthrough: ask
 * for it if the kernel offers it (-o passthrough=auto).  0 or -errno. */
int fuseio_attach(struct fuse_session *se, bool passthrough);

/* From the init callback (before the INIT reply): do not ask for
 * passthrough, because why ("writeback cache"). */
void fuseio_passthrough_veto(const char *why);
/* Was passthrough asked for and not given up since? */
bool fuseio_passthrough_on(void);
/* Register the backing file fd (FUSE_DEV_IOC_BACKING_OPEN on the
 * session's device fd; the kernel keeps the calling thread's creds for
 * the I/O it does on it): its id (> 0) or -errno. */
int fuseio_backing_open(int fd);
/* Drop a registration (files the kernel opened with it keep working). */
void fuseio_backing_close(uint32_t id);
/* BACKING_OPEN failed with err in a way every later one would too
 * (EPERM: no passthrough on this connection, or no CAP_SYS_ADMIN): turn
 * passthrough off for the rest of the mount, logged once. */
void fuseio_passthrough_failed(int err);
/* "on", "pending", or "off (why)" into buf. */
const char *fuseio_passthrough_status(char *buf, size_t size);

/* fuse_reply_open / fuse_reply_create, the reply marked passthrough with
 * backing_id (0: a plain reply). */
int fuseio_reply_open(fuse_req_t req, const struct fuse_file_info *fi, uint32_t backing_id);
int fuseio_reply_create(fuse_req_t req, const struct fuse_entry_param *e,
			const struct fuse_file_info *fi, uint32_t backing_id);

#endif
