/*
 * sitepolicy — a site's retention, legal hold, trash cap, exclusions and
 * overwrite opt-outs.
 *
 * Kept as xattrs on the site's trash directory in the backing store
 * (BACKING/<site>/.trash: trusted.gracefs.retention, .hold, .trash_max,
 * .exclude, .nopreserve, .preserve_max),
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
#define SITEPOLICY_TRASH_MAX_XATTR "trusted.gracefs.trash_max"  /* bytes (space.h) */
#define SITEPOLICY_EXCLUDE_XATTR   "trusted.gracefs.exclude"    /* GLOB,… (exclude.h) */
#define SITEPOLICY_PRESERVE_XATTR  "trusted.gracefs.preserve_max"
#define SITEPOLICY_NOPRESERVE_XATTR "trusted.gracefs.nopreserve" /* GLOB,… (exclude_glob.h) */

struct site_policy {
	int64_t retention_s;   /* 0: the mount's default */
	bool hold;
	uint64_t trash_max;    /* bytes of trash the site may hold; 0: no cap */
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
/* Cap the site's trash (bytes; 0 clears).  0 or -errno. */
int sitepolicy_set_trash_max(int backing_fd, const char *site, uint64_t bytes);

/* The site's exclusion list as stored, NUL-terminated ("" when none or no
 * .trash yet).  0, -ERANGE (longer than cap - 1), or -errno.  The value is
 * not validated here: callers parse it (exclude_parse). */
int sitepolicy_get_exclude(int backing_fd, const char *site, char *buf, size_t cap);
/* Store list ("" clears).  Callers validate it first.  0 or -errno. */
int sitepolicy_set_exclude(int backing_fd, const char *site, const char *list);
/* The same for the nopreserve list: files whose site-relative path
 * matches are truncated and overwritten without preserving their content
 * first (docs/overwrite.md "nopreserve"). */
int sitepolicy_get_nopreserve(int backing_fd, const char *site, char *buf, size_t cap);
int sitepolicy_set_nopreserve(int backing_fd, const char *site, const char *list);
/* Set the copy limit for truncations (0: no copies); -1 clears it (the
 * mount's applies).  Other negatives: -EINVAL.  0 or -errno. */
int sitepolicy_set_preserve_max(int backing_fd, const char *site, int64_t bytes);

#endif
