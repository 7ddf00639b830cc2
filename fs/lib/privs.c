/*
 * privs — capability drop and per-thread fsuid (see privs.h).  No libcap:
 * two syscalls (capset/capget) and prctl cover it, and the daemon's set is
 * fixed at build time.
 */
#include <errno.h>
#include <linux/capability.h>
#include <stdint.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/privs.h"

/* What the daemon does after start-up, and the capability it needs:
 *   chown new files to their creator, copy owners into trash  CHOWN
 *   read/write/list any tenant's files                        DAC_OVERRIDE
 *   open_by_handle_at (the inode table)                       DAC_READ_SEARCH
 *   chmod/utimens/xattrs on files it does not own             FOWNER
 *   keep setgid bits when copying metadata                    FSETID
 *   mknod of device nodes for root through the mount          MKNOD
 *   security.capability xattrs set by root through the mount  SETFCAP
 *   switch fsuid to the writing tenant and back               SETUID, SETGID
 *   trusted.gracefs.* xattrs, unmount at exit,                SYS_ADMIN
 *   FUSE_DEV_IOC_BACKING_OPEN (passthrough, fuseio.h)
 * Everything else goes, CAP_SYS_RESOURCE (reserved blocks, quotas, rlimits)
 * first of all. */
static const int keep[] = {
	CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID,
	CAP_MKNOD, CAP_SETFCAP, CAP_SETUID, CAP_SETGID, CAP_SYS_ADMIN,
};

static bool kept(int cap)
{
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (keep[i] == cap)
			return true;
	return false;
}

int privs_drop(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = {{0}};

	/* the bounding set first: dropping needs CAP_SETPCAP, itself dropped */
	for (int cap = 0; cap <= 63; cap++) {
		if (kept(cap) || prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 1)
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return -errno;
	}
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		d[keep[i] / 32].permitted |= 1u << (keep[i] % 32);
		d[keep[i] / 32].effective |= 1u << (keep[i] % 32);
	}
	return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}

bool privs_have(int cap)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (cap < 0 || cap > 63 || syscall(SYS_capget, &h, d) < 0)
		return false;
	return d[cap / 32].effective & (1u << (cap % 32));
}

uid_t privs_fsuid_enter(uid_t uid)
{
	return uid == 0 ? PRIVS_NO_SWITCH : (uid_t)setfsuid(uid);
}

void privs_fsuid_leave(uid_t prev)
{
	if (prev != PRIVS_NO_SWITCH)
		setfsuid(prev);
}
