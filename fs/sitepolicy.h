/*
 * sitepolicy — a site's retention and legal hold.
 *
 * Kept as xattrs on the site's trash directory in the backing store
 * (BACKING/<site>/.trash: trusted.gracefs.retention, trusted.gracefs.hold),
 * so they travel with the site when it is moved to another node and need no
 * other store to be right.  No state, no locking: each call reads or writes
 * the xattrs (a few microseconds).
 */
#ifndef GRACEFS_SITEPOLICY_H
#define GRACEFS_SITEPOLICY_H

#include <stdbool.h>
#include <stdint.h>

#define SITEPOLICY_RETENTION_XATTR "trusted.gracefs.retention"
#define SITEPOLICY_HOLD_XATTR      "trusted.gracefs.hold"
#define SITEPOLICY_PRESERVE_XATTR  "trusted.gracefs.preserve_max"

struct site_policy {
	int64_t retention_s;   /* 0: the mount's default */
	bool hold;
	int64_t preserve_max;  /* bytes a truncation may copy (overwrite.h); -1: the mount's */
};

/* Read the policy of site (a top-level directory of backing_fd).  A site
 * without settings (or without a .trash yet) gets {0, false, -1}.  0 or -errno. */
int sitepolicy_get(int backing_fd, const char *site, struct site_policy *p);

/* Set the retention; 0 clears it.  A value below floor_s is refused with
 * -EINVAL (the runtime floor: no setting can make deletion unrecoverable
 * before anyone notices).  0 or -errno. */
int sitepolicy_set_retention(int backing_fd, const char *site, int64_t retention_s,
			     int64_t floor_s);
int sitepolicy_set_hold(int backing_fd, const char *site, bool hold);
/* Set the copy limit for truncations (0: no copies); -1 clears it (the
 * mount's applies).  Other negatives: -EINVAL.  0 or -errno. */
int sitepolicy_set_preserve_max(int backing_fd, const char *site, int64_t bytes);

#endif
