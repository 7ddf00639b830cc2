/*
 * undo_replace — the replace rule of undo (undo.h, undo_int.h): an op's
 * version of a file takes its path back from the live one when the op
 * preserved it before truncating it, or when a rename of the op replaced
 * it and the live file is still that replacement.
 *
 * Crash ordering: the swap is one renameat2(RENAME_EXCHANGE): a crash
 * leaves each version whole in one place (a preserved marker left on the
 * restored file is inert: its value names this op, which no longer holds
 * that file; a rename-over marker left there lets the next undo finish
 * moving the replacement, see trash_restore.c).
 *
 * Threading: none; every function works on its own fds and memory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "lib/sys.h"
#include "engine/trash.h"
#include "engine/undo_int.h"

/* The marker xattr `key` of dirfd/name (not followed) into val, a
 * string.  false when there is none. */
static bool read_mark(int dirfd, const char *name, const char *key, char *val, size_t cap)
{
	char path[64 + NAME_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dirfd, name);
	if ((n = lgetxattr(path, key, val, cap - 1)) < 0)
		return false;
	val[n] = '\0';
	return true;
}

/* Does odir/name carry the preserved-before-truncation marker of op? */
static bool preserved_by(int odir, const char *name, const char *op)
{
	char val[NAME_MAX + 1];

	return read_mark(odir, name, TRASH_PRESERVED_XATTR, val, sizeof(val)) && !strcmp(val, op);
}

/* Everything but these two exceptions keeps the rename rule (an item
 * never overwrites what is there). */
bool undo_replaces_live(int odir, int live, const char *name, unsigned type, const char *op)
{
	struct stat lst;

	if (type != DT_REG && type != DT_UNKNOWN)
		return false;
	if (fstatat(live, name, &lst, AT_SYMLINK_NOFOLLOW) < 0 || S_ISDIR(lst.st_mode))
		return false;
	return preserved_by(odir, name, op);
}

/* Does dirfd/name carry the rename-over marker of op?  Its replacement's
 * inode into *ino. */
static bool replaced_mark(int dirfd, const char *name, const char *op, ino_t *ino)
{
	char val[NAME_MAX + 32], *sp;
	unsigned long long i;

	if (!read_mark(dirfd, name, TRASH_REPLACED_XATTR, val, sizeof(val)) ||
	    !(sp = strrchr(val, ' ')) || sscanf(sp + 1, "%llu", &i) != 1)
		return false;
	*sp = '\0';
	*ino = (ino_t)i;
	return !strcmp(val, op);
}

enum undo_rover undo_renamed_over(int odir, int live, const char *name, unsigned type,
				  const char *op, ino_t live_ino, ino_t *ino, ino_t *self)
{
	struct stat lst, ost;
	ino_t r;

	if (type != DT_REG && type != DT_UNKNOWN)
		return UNDO_RO_NO;
	if (live_ino)   /* what the dry run's earlier ops put there */
		lst = (struct stat){ .st_mode = S_IFREG, .st_ino = live_ino };
	else if (fstatat(live, name, &lst, AT_SYMLINK_NOFOLLOW) < 0)
		return UNDO_RO_NO;
	if (replaced_mark(odir, name, op, &r)) {
		if (!S_ISREG(lst.st_mode) || lst.st_ino != r)
			return UNDO_RO_CHANGED;
		*ino = r;
		if (fstatat(odir, name, &ost, AT_SYMLINK_NOFOLLOW) == 0)
			*self = ost.st_ino;
		return UNDO_RO_SWAP;
	}
	if (live_ino)
		return UNDO_RO_NO;
	/* the live original still names the op and the entry's inode */
	if (S_ISREG(lst.st_mode) && replaced_mark(live, name, op, &r) &&
	    fstatat(odir, name, &ost, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(ost.st_mode) &&
	    ost.st_ino == r) {
		*ino = ost.st_ino;
		return UNDO_RO_TRASH_ONLY;
	}
	return UNDO_RO_NO;
}

bool undo_is_inode(int dirfd, const char *name, ino_t ino)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_ino == ino;
}

int undo_do_replace(int src, const char *sname, int dst, const char *dname)
{
	char path[64 + NAME_MAX];

	if (sys.renameat2(src, sname, dst, dname, RENAME_EXCHANGE) < 0 &&
	    (errno != ENOENT || sys.renameat2(src, sname, dst, dname, RENAME_NOREPLACE) < 0))
		return -errno;
	snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dst, dname);
	lremovexattr(path, TRASH_PRESERVED_XATTR);
	return 0;
}
