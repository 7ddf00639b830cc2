/*
 * sys — the injectable table of clocks and fault-prone syscalls.
 *
 * The core reaches the wall clock, the monotonic clock and the syscalls that
 * tests must be able to fail on purpose (the move into trash, directory
 * creation for the trash mirror) through `sys`, like SQLite's aSyscall.
 * Tests overwrite members; production never changes them after start.
 * Not locked: written only before threads start.
 */
#ifndef GRACEFS_SYS_H
#define GRACEFS_SYS_H

#include <stdint.h>
#include <sys/types.h>

struct sys_table {
	int64_t (*wall_ns)(void);       /* CLOCK_REALTIME */
	int64_t (*mono_ns)(void);       /* CLOCK_BOOTTIME: advances across suspend */
	int (*renameat2)(int olddirfd, const char *oldpath, int newdirfd,
			 const char *newpath, unsigned int flags);
	int (*mkdirat)(int dirfd, const char *path, mode_t mode);
	int (*linkat)(int olddirfd, const char *oldpath, int newdirfd,
		      const char *newpath, int flags);
};

extern struct sys_table sys;

/* Restore the real functions (tests call it in teardown). */
void sys_reset(void);

#endif
