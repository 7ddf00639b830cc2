/*
 * privs — the daemon's privileges after start-up.
 *
 * gracefs runs as root because it serves every user's files and opens them
 * by file handle, but it needs only a few of root's capabilities for that.
 * privs_drop() removes every other capability from the bounding, permitted,
 * effective, inheritable and ambient sets (CAP_SYS_RESOURCE above all: with
 * it, tenants writing through the mount would fill ext4's reserved blocks
 * and bypass disk quotas).  ext4 also grants its reserved blocks to fsuid 0
 * (resuid), so data writes on behalf of a tenant run with the tenant's
 * fsuid: privs_fsuid_enter/leave around them.  See docs/isolation.md.
 *
 * Threading: capabilities are per thread; privs_drop() must run before the
 * daemon starts any thread.  The fsuid switch is per thread (the raw
 * syscall, no glibc broadcast), so each request thread switches only
 * itself.
 */
#ifndef GRACEFS_PRIVS_H
#define GRACEFS_PRIVS_H

#include <stdbool.h>
#include <sys/types.h>

/* Keep only what the daemon uses; 0 or -errno (nothing is dropped then
 * unless the bounding set was already narrowed). */
int privs_drop(void);

/* Is capability cap (linux/capability.h number) in this thread's
 * effective set? */
bool privs_have(int cap);

#define PRIVS_NO_SWITCH ((uid_t)-1)

/* Run the calling thread's next filesystem accesses as uid (fsuid: block
 * allocation, reserved blocks); this also clears the thread's effective
 * filesystem capabilities until privs_fsuid_leave, so use it only around
 * I/O on an already open fd.  uid 0 changes nothing.  Returns what
 * privs_fsuid_leave needs (PRIVS_NO_SWITCH: nothing was changed). */
uid_t privs_fsuid_enter(uid_t uid);
void privs_fsuid_leave(uid_t prev);

#endif
