/*
 * procinfo — who is calling: the process behind a FUSE request, and the
 * run (job) it belongs to.
 *
 * FUSE reports the calling thread id; operations are grouped per process
 * (thread group id + start time, which survives pid reuse).  Reading /proc
 * costs a few microseconds, so results are cached per tid for a short
 * time.  Thread-safe (one internal mutex per cache).
 *
 * A run is the job that started the process: its process group, keyed by
 * the group leader's pid AND start time.  When the leader is gone, the
 * topmost live ancestor still in the group stands in (the process itself
 * when it has no such ancestor).  The run ID is
 * "<leader start, compact UTC>-<leader command>-<leader pid>", the form of
 * an op name (util_op_name), e.g. 20261207T055122Z-cleanup.sh-4242.  The
 * run's details (struct run_info: command line, parent chain, session,
 * login uid, cgroup) are read only when an op is created, and cached per
 * run.
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
	/* the run: "" / 0 when the process is not visible */
	uint32_t run_pid;           /* run leader (or stand-in) pid */
	uint64_t run_start;         /* its start time, clock ticks since boot */
	char run[UTIL_RUN_MAX];     /* run ID, without the "run:" of typed IDs */
};

#define PROCINFO_RUN_CMD_MAX 256   /* leader's command line, cut */
#define PROCINFO_CHAIN_N 8         /* parent command lines kept */
#define PROCINFO_CHAIN_EACH 96     /* each cut to this many bytes */
#define PROCINFO_CHAIN_MAX (PROCINFO_CHAIN_N * PROCINFO_CHAIN_EACH)
#define PROCINFO_UNIT_MAX 192      /* cgroup path, cut */
#define PROCINFO_NO_LOGINUID UINT32_MAX

/* What a run records once: strings NUL-terminated, printable. */
struct run_info {
	uint32_t sid;                          /* session id of the leader */
	uint32_t loginuid;                     /* PROCINFO_NO_LOGINUID: unset */
	char cmdline[PROCINFO_RUN_CMD_MAX];    /* the leader's command line */
	char chain[PROCINFO_CHAIN_MAX];        /* the leader's parents' command
						* lines, nearest first, one per
						* line ('\n'), up to and including
						* a session leader, at most 8 */
	char unit[PROCINFO_UNIT_MAX];          /* cgroup path (cron.service, an
						* ssh session scope) */
};

/* Fill *c for request thread `tid`.  Never fails: an invisible process
 * (exited, other pid namespace) yields pid 0 and cmd "unknown". */
void procinfo_get(pid_t tid, uint32_t uid, uint32_t gid, struct caller *c);

/* Read one process directly (no cache), for tests.  0 or -errno. */
int procinfo_read(pid_t tid, struct caller *c);

/* The details of c's run (c filled by procinfo_get/read with a run).
 * Cached per run (leader pid + start time); a leader that is gone leaves
 * what could still be read.  0, or -ESRCH (no run, *ri zeroed with
 * loginuid unset). */
int procinfo_run_info(const struct caller *c, struct run_info *ri);

/* Tests only: read "<root>/<pid>/..." instead of /proc (NULL: /proc), and
 * drop the caches. */
void procinfo_set_root(const char *root);

#endif
