/*
 * fdcap — fair shares of the daemon's file descriptors among tenants.
 *
 * Every file or directory a user opens through the mount holds one fd of
 * the daemon until it is released.  Without a cap one tenant opening files
 * in a loop takes all of RLIMIT_NOFILE, and then root and every other
 * tenant get EMFILE.  fdcap charges each such fd to the uid that opened it:
 * a uid at its cap (`-o max_open_per_uid=N`), or all tenants together at
 * the pool (RLIMIT_NOFILE less a reserve), get EMFILE; root (uid 0) is
 * never capped, and the reserve stays for root and the daemon's own fds
 * (trash, index, catalog).  See docs/isolation.md.
 *
 * Use: fdcap_take(uid) before opening; fdcap_bind(uid, fd) after (fd < 0:
 * the open failed, the slot is given back); fdcap_release(fd) before the
 * fd is closed.  Threading: one internal mutex; any thread.
 */
#ifndef GRACEFS_FDCAP_H
#define GRACEFS_FDCAP_H

#include <stdbool.h>
#include <sys/types.h>

#define FDCAP_RESERVE_MIN 64
#define FDCAP_NOFILE_MAX (1u << 20)   /* bounds the fd->uid table (4 MiB) */

struct fdcap;

struct fdcap_limits {
	unsigned nofile;    /* fds the daemon may have (RLIMIT_NOFILE) */
	unsigned reserve;   /* kept for root and the daemon: never lent to tenants */
	unsigned pool;      /* nofile - reserve: all tenants together */
	unsigned per_uid;   /* one tenant */
};

/* The defaults for RLIMIT_NOFILE nofile: reserve max(64, nofile/8), pool
 * the rest, per uid a quarter of the pool (at least 1); per_uid != 0
 * overrides the share (clamped to the pool).  nofile too small to keep the
 * reserve gives a pool of 0: tenants get EMFILE, root works. */
void fdcap_limits(unsigned nofile, unsigned per_uid, struct fdcap_limits *out);

/* 0 or -ENOMEM.  Fds >= lim->nofile are never charged (they cannot exist). */
int fdcap_new(struct fdcap **out, const struct fdcap_limits *lim);
void fdcap_free(struct fdcap *c);   /* NULL ok */

/* Reserve one fd for uid: 0, or -EMFILE (uid at its cap, or the pool is
 * used up).  uid 0 always gets 0.  c NULL: no caps. */
int fdcap_take(struct fdcap *c, uid_t uid);
/* The open that fdcap_take reserved for finished: fd >= 0 is charged to
 * uid until fdcap_release(fd); fd < 0 gives the reservation back. */
void fdcap_bind(struct fdcap *c, uid_t uid, int fd);
/* The uid fd is charged to, or fallback when it is charged to none (root's
 * fds, or no caps). */
uid_t fdcap_owner(struct fdcap *c, int fd, uid_t fallback);
/* fd is being closed: uncharge whoever it was charged to (none: no-op). */
void fdcap_release(struct fdcap *c, int fd);

/* Fds currently charged to uid, and to all tenants. */
unsigned fdcap_used(struct fdcap *c, uid_t uid);
unsigned fdcap_used_total(struct fdcap *c);

#endif
