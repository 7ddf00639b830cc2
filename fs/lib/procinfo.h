/*
 * procinfo — who is calling: the process behind a FUSE request.
 *
 * FUSE reports the calling thread id; operations are grouped per process
 * (thread group id + start time, which survives pid reuse).  Reading /proc
 * costs a few microseconds, so results are cached per tid for a short
 * time.  Thread-safe (one internal mutex).
 */
#ifndef GRACEFS_PROCINFO_H
#define GRACEFS_PROCINFO_H

#include <stdint.h>
#include <sys/types.h>
#include "lib/util.h"

struct caller {
	uint32_t uid, gid;          /* from the request */
	uint32_t pid;               /* thread group id; 0 when not visible */
	uint64_t pid_start;         /* start time in clock ticks since boot */
	char cmd[UTIL_CMD_MAX + 1]; /* sanitised basename of argv[0] */
	char cmdline[UTIL_CMDLINE_MAX];/* argv joined by spaces, non-printables as '?' */
};

/* Fill *c for request thread `tid`.  Never fails: an invisible process
 * (exited, other pid namespace) yields pid 0 and cmd "unknown". */
void procinfo_get(pid_t tid, uint32_t uid, uint32_t gid, struct caller *c);

/* Read one process directly (no cache), for tests.  0 or -errno. */
int procinfo_read(pid_t tid, struct caller *c);

#endif
