/*
 * ops_xattr — extended attributes: the backing store's, the virtual
 * user.gracefs.* ones (vattr.h: holds, retention, op records), and
 * gracefs's own trusted.gracefs.*, which tenants never see.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "daemon/inode.h"
#include "store/opxattr.h"
#include "daemon/ops_int.h"
#include "engine/vattr.h"

static bool own_xattr(const char *name)
{
	return !strncmp(name, OWN_XATTR_PREFIX, strlen(OWN_XATTR_PREFIX));
}

/* Which virtual attributes an inode has (names are copied into w), as
 * the caller of req sees them. */
static void vattr_at_of(fuse_req_t req, struct inode *ino, struct where *w,
			struct vattr_at *at)
{
	at->uid = fuse_req_ctx(req)->uid;
	inode_where(ino, w);
	at->scope = w->scope;
	at->op = w->op;
	if (w->zone == Z_ROOT)
		at->target = VA_ROOT;
	else if (w->zone == Z_OPDIR)
		at->target = VA_OPDIR;
	else if (w->zone == Z_TRASHDIR)
		at->target = inode_kind(ino) == K_RTRASH ? VA_ROOT_TRASH : VA_SITE_TRASH;
	else
		at->target = VA_NONE;
}

static void reply_xattr(fuse_req_t req, const char *val, ssize_t len, size_t size)
{
	if (len < 0)
		fuse_reply_err(req, (int)-len);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)len);
	else if ((size_t)len > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, val, (size_t)len);
}

void gfs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct vattr_at at;
	struct pathref pr;
	struct where w;
	char *val = NULL;
	ssize_t len;

	if (own_xattr(name)) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	vattr_at_of(req, I(ino), &w, &at);
	if (at.target != VA_NONE && !strncmp(name, OPATTR_PREFIX, strlen(OPATTR_PREFIX)) &&
	    !vattr_may_read(&G(req)->va, &at, fuse_req_ctx(req)->uid)) {
		fuse_reply_err(req, EACCES);
		return;
	}
	if (at.target != VA_NONE) {
		char buf[OPREC_CMD_MAX + 512];

		len = vattr_get(&G(req)->va, &at, name, buf, size ? sizeof(buf) : 0);
		if (len != -ENODATA) {
			reply_xattr(req, buf, len, size);
			return;
		}
	}
	if ((len = pathref_get(I(ino), &pr)) < 0) {
		fuse_reply_err(req, (int)-len);
		return;
	}
	if (size && !(val = malloc(size)))
		len = -ENOMEM;
	else if ((len = (pr.nofollow ? lgetxattr : getxattr)(pr.path, name, val, size)) < 0)
		len = -errno;
	pathref_put(&pr);
	reply_xattr(req, val, len, size);
	free(val);
}

void gfs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct vattr_at at;
	struct pathref pr;
	struct where w;
	char *raw = NULL, *out = NULL;
	ssize_t len, olen = 0;
	size_t extra;

	vattr_at_of(req, I(ino), &w, &at);
	if (!vattr_may_read(&G(req)->va, &at, fuse_req_ctx(req)->uid))
		at.target = VA_NONE;   /* names not shown either */
	extra = vattr_list(&G(req)->va, &at, NULL, 0);
	if ((len = pathref_get(I(ino), &pr)) < 0) {
		fuse_reply_err(req, (int)-len);
		return;
	}
	len = (pr.nofollow ? llistxattr : listxattr)(pr.path, NULL, 0);
	if (len >= 0 && (raw = malloc((size_t)len + 1)) && (out = malloc((size_t)len + extra + 1)))
		len = (pr.nofollow ? llistxattr : listxattr)(pr.path, raw, (size_t)len);
	else if (len >= 0)
		len = -1, errno = ENOMEM;
	pathref_put(&pr);
	if (len < 0) {
		reply_xattr(req, NULL, -errno, size);
		goto out;
	}
	for (ssize_t off = 0; off < len; off += (ssize_t)strlen(raw + off) + 1) {
		if (own_xattr(raw + off))
			continue;
		memcpy(out + olen, raw + off, strlen(raw + off) + 1);
		olen += (ssize_t)strlen(raw + off) + 1;
	}
	if (extra)
		olen += (ssize_t)vattr_list(&G(req)->va, &at, out + olen, extra);
	reply_xattr(req, out, olen, size);
out:
	free(raw);
	free(out);
}

/* A hold, release or retention set through the mount
 * is on the record like the same act through gracectl. */
static void audit_vattr(fuse_req_t req, const struct vattr_at *at, const char *name,
			const char *value, size_t size)
{
	char detail[128];
	const char *key = name + strlen(OPATTR_PREFIX), *event = AUDIT_EV_SITE_SET;
	struct caller who;
	int n = (int)(size && value[size - 1] == '\n' ? size - 1 : size);

	if (!strcmp(key, "hold"))
		event = n == 1 && value[0] == '1' ? AUDIT_EV_HOLD : AUDIT_EV_RELEASE;
	snprintf(detail, sizeof(detail), "%s=%.*s (setfattr)", key, n > 64 ? 64 : n, value);
	who_of(req, &who);
	control_audit(G(req)->ctl, event, &who, at->scope, at->target == VA_OPDIR ? at->op : NULL,
		      "", detail);
}

static void change_xattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			 const char *value, size_t size, int flags, bool remove)
{
	struct vattr_at at;
	struct pathref pr;
	struct where w;
	int r;

	vattr_at_of(req, I(ino), &w, &at);
	if (!remove && at.target != VA_NONE) {
		r = vattr_set(&G(req)->va, &at, name, value, size, fuse_req_ctx(req)->uid);
		if (r == 0)
			audit_vattr(req, &at, name, value, size);
		if (r != -ENODATA) {
			fuse_reply_err(req, -r);
			return;
		}
	}
	r = own_xattr(name) ? -EPERM : may_modify(req, I(ino), REACH_PATH, NULL);
	if (!r && (r = pathref_get(I(ino), &pr)) == 0) {
		if (remove)
			r = (pr.nofollow ? lremovexattr : removexattr)(pr.path, name);
		else
			r = (pr.nofollow ? lsetxattr : setxattr)(pr.path, name, value, size, flags);
		r = r < 0 ? -errno : 0;
		pathref_put(&pr);
	}
	if (!r && G(req)->cr) {   /* undo run:ID --created: who changed it */
		struct caller who;
		struct stat st;
		int fd = inode_open(I(ino), O_PATH);

		if (fd >= 0 && fstat(fd, &st) == 0) {
			who_of(req, &who);
			created_note_changed(G(req)->cr, who.run, &st);
		}
		if (fd >= 0)
			close(fd);
	}
	fuse_reply_err(req, -r);
}

void gfs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		  const char *value, size_t size, int flags)
{
	change_xattr(req, ino, name, value, size, flags, false);
}

void gfs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	change_xattr(req, ino, name, NULL, 0, 0, true);
}
