/*
 * vattr — the virtual user.gracefs.* attributes through which the mount
 * shows and takes trash state:
 *   op dir      record (see store/opxattr.h); settable by root: hold
 *   site .trash trash_bytes, trash_items, ops, oldest, next_expiry,
 *               retention, hold; settable by root: retention, hold.
 *               For a non-root caller (at->uid) the first five count
 *               only the ops that caller deleted, unless trash_view_all
 *               (docs/isolation.md)
 *   root .trash the same for deleted whole sites (read-only)
 *   mount root  sweeper, purged_ops (read-only)
 * No FUSE here; the op layer says which kind of directory a request is on.
 * Threading: stateless; the trash engine and sweeper lock themselves.
 */
#ifndef GRACEFS_VATTR_H
#define GRACEFS_VATTR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "engine/sweep.h"
#include "engine/trash.h"

enum vattr_target { VA_NONE, VA_ROOT, VA_SITE_TRASH, VA_ROOT_TRASH, VA_OPDIR };

struct vattr_ctx {
	struct trash *trash;
	struct sweep *sweep;       /* may be NULL */
	int backing_fd;
	int64_t retention_s;       /* the mount's default */
	int64_t min_retention_s;   /* floor for a site's runtime setting */
	bool trash_view_all;       /* -o trash_view=all: a site trash's figures are
				    * everyone's for everyone (default: reach) */
};

struct vattr_at {
	enum vattr_target target;
	const char *scope;         /* site ("" = root trash) for trash/op targets */
	const char *op;            /* VA_OPDIR: op name */
	uid_t uid;                 /* the caller (0: root, sees everything) */
};

/* NUL-separated names for listxattr; returns the length needed, copies
 * only when it fits. */
size_t vattr_list(const struct vattr_ctx *c, const struct vattr_at *at, char *buf, size_t cap);
/* Value of a virtual attribute: its length, -ENODATA when `name` is not
 * one (pass through to the backing store), -ERANGE when cap is too small
 * (cap 0 asks for the length). */
ssize_t vattr_get(const struct vattr_ctx *c, const struct vattr_at *at, const char *name,
		  char *buf, size_t cap);
/* May uid read the virtual attributes of at?  An op's record (command
 * line, uids, counts) is its deleter's and root's; the root trash (whole
 * deleted sites) root's alone; the rest is anyone's.  Others get EACCES on
 * a read and do not see the names in a listing (docs/isolation.md). */
bool vattr_may_read(const struct vattr_ctx *c, const struct vattr_at *at, uid_t uid);
/* Set one: 0, -ENODATA (not virtual), -EPERM (not root, or read-only),
 * -EINVAL (bad value, retention below the floor). */
int vattr_set(const struct vattr_ctx *c, const struct vattr_at *at, const char *name,
	      const char *value, size_t size, uid_t uid);

#endif
