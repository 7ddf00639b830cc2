/*
 * trash_reserve.c — the deletion reserve (issue 21): a few empty
 * directories made ahead of need in BACKING/.gracefs/reserve, so that a
 * deletion still works when the backing filesystem has no inode (or block,
 * or quota) left for the op directory and the mirrored parents every rm
 * needs.  One tenant filling the filesystem must not stop another tenant
 * deleting: on a plain filesystem rm needs no new inode, and through
 * gracefs it then needs none either.
 *
 * Taking one is a rename (no new inode, same filesystem: .gracefs and the
 * sites are in BACKING) over the name mkdir would have made, then the mode
 * mkdir would have given.  The sweeper refills the reserve after each pass
 * (trash_reserve_fill); when it is empty too, the deletion fails with the
 * mkdir's errno and nothing has moved (the caller made no other change yet),
 * and that is logged.
 *
 * Crash: a reserve entry is an empty directory owned by root, 0700 — the
 * same as a directory mkdir just made.  A crash after the rename and before
 * the chmod leaves what a crash right after that mkdir leaves (a .tmp-* op
 * directory removed by reconcile, or an empty mirror level in an op).
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/trash_int.h"
#include "lib/log.h"

#define RESERVE_DIR "reserve"

static int reserve_fd(struct trash *t)
{
	int r = sys.mkdirat(t->state_fd, RESERVE_DIR, 0700);

	if (r < 0 && errno != EEXIST)
		return -errno;
	return open_dir(t->state_fd, RESERVE_DIR);
}

static void entry_name(unsigned i, char *buf, size_t len)
{
	snprintf(buf, len, "d%03u", i);
}

unsigned trash_reserve_fill(struct trash *t)
{
	unsigned have = 0;
	int fd;

	if ((fd = reserve_fd(t)) < 0) {
		atomic_store(&t->reserve_n, 0);
		return 0;
	}
	for (unsigned i = 0; i < TRASH_RESERVE_DIRS; i++) {
		char name[16];

		entry_name(i, name, sizeof(name));
		if (sys.mkdirat(fd, name, 0700) == 0 || errno == EEXIST)
			have++;
	}
	close(fd);
	atomic_store(&t->reserve_n, have);
	if (have)
		atomic_store(&t->reserve_empty_said, false);
	if (have == TRASH_RESERVE_DIRS && atomic_exchange(&t->reserve_low, false))
		log_msg(LOG_NOTICE, "deletion reserve refilled (%u directories)", have);
	return have;
}

unsigned trash_reserve_count(struct trash *t)
{
	return atomic_load(&t->reserve_n);
}

/* One reserve entry renamed to dirfd/name with `mode`.  0 or -errno:
 * -ENOENT when the reserve is empty. */
static int take(struct trash *t, int dirfd, const char *name, mode_t mode)
{
	int fd = open_dir(t->state_fd, RESERVE_DIR), r = -ENOENT;

	if (fd < 0)
		return fd;   /* -ENOENT: never made (no room at mount either) */
	for (unsigned i = TRASH_RESERVE_DIRS; i-- > 0 && r == -ENOENT;) {
		char e[16];

		entry_name(i, e, sizeof(e));
		if (sys.renameat2(fd, e, dirfd, name, RENAME_NOREPLACE) == 0)
			r = fchmodat(dirfd, name, mode, 0) < 0 ? -errno : 0;
		else if (errno != ENOENT)
			r = -errno;
	}
	close(fd);
	if (r == 0) {
		unsigned n = atomic_load(&t->reserve_n);

		atomic_store(&t->reserve_n, n ? n - 1 : 0);
	}
	return r;
}

int trash_mkdir(struct trash *t, int dirfd, const char *name, mode_t mode)
{
	int e, r;

	if (sys.mkdirat(dirfd, name, mode) == 0)
		return 0;
	e = errno;
	if (e != ENOSPC && e != EDQUOT)
		return -e;
	r = take(t, dirfd, name, mode);
	if (r == 0) {
		if (!atomic_exchange(&t->reserve_low, true))
			log_msg(LOG_WARNING, "no room for a new directory in the backing store (%s): "
				"deletions take directories from the deletion reserve (%u left)",
				strerror(e), trash_reserve_count(t));
		t->counters.reserve_taken++;
		return 0;
	}
	if (r == -ENOENT) {
		t->counters.reserve_empty++;
		if (!atomic_exchange(&t->reserve_empty_said, true))
			log_msg(LOG_ERR, "no room for a new directory in the backing store (%s) and "
				"the deletion reserve is empty: deletions fail with that error, "
				"nothing is moved, until space comes back", strerror(e));
	}
	errno = e;
	return -e;
}

int trash_mkdir_open(struct trash *t, int dirfd, const char *name, mode_t mode, bool *created)
{
	int r = trash_mkdir(t, dirfd, name, mode);

	if (created)
		*created = r == 0;
	if (r < 0 && r != -EEXIST)
		return r;
	return open_dir(dirfd, name);
}
