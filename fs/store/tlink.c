/*
 * tlink — names of an inode held in trash (see tlink.h for the contract).
 *
 * Crash ordering.  Entering trash: 1 count +1 in the index; 2 the move.
 * A kill -9 between them leaves a count one too high: the file looks as if
 * one more of its names were deleted (lower link count), never the other
 * way round.  Leaving trash (restore, undo): 1 the move; 2 count -1.  A
 * kill -9 between leaves the count one too high again.  Purging
 * (trash_purge.c): 1 key of the name; 2 unlink; 3 count -1: one too high
 * again.  Records of inodes that are gone are dropped at mount
 * (tlink_prune); a count too high for a live inode stays until its trash
 * names are restored or purged.
 *
 * Threading: none of its own.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "store/layout.h"
#include "store/tlink.h"

#define TLINK_DEPTH_MAX 4096

int tlink_key_of(const struct file_handle *fh, struct tlink_key *k)
{
	uint32_t t = (uint32_t)fh->handle_type, n = fh->handle_bytes;

	if (n > TLINK_HANDLE_MAX)
		return -EINVAL;
	for (int i = 0; i < 4; i++) {
		k->b[i] = (unsigned char)(t >> (24 - 8 * i));
		k->b[4 + i] = (unsigned char)(n >> (24 - 8 * i));
	}
	memcpy(k->b + 8, fh->f_handle, n);
	k->len = 8 + n;
	return 0;
}

int tlink_key_at(int dirfd, const char *name, struct tlink_key *k)
{
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + TLINK_HANDLE_MAX];
	} h;
	int mount_id;

	h.fh.handle_bytes = TLINK_HANDLE_MAX;
	if (name_to_handle_at(dirfd, name, &h.fh, &mount_id, *name ? 0 : AT_EMPTY_PATH) < 0)
		return -errno;
	return tlink_key_of(&h.fh, k);
}

uint32_t tlink_live(uint64_t nlink, uint32_t in_trash, bool tracked, bool named_live)
{
	uint64_t live;

	if (!tracked)
		return named_live ? (uint32_t)(nlink > UINT32_MAX ? UINT32_MAX : nlink) : 0;
	live = nlink > in_trash ? nlink - in_trash : 0;
	if (named_live && live == 0)
		live = 1;   /* a count one too high (see the crash ordering) */
	return live > UINT32_MAX ? UINT32_MAX : (uint32_t)live;
}

int tlink_enter(struct index *ix, const char *op, int dirfd, const char *name,
		const struct stat *st, bool *counted)
{
	struct tlink_key k;
	int r;

	*counted = false;
	if (!ix || S_ISDIR(st->st_mode) || st->st_nlink < 2)
		return 0;
	/* the op first: an op counted too high only costs a walk */
	if ((r = tlink_key_at(dirfd, name, &k)) < 0 || (r = index_tlop_add(ix, op, 1)) < 0)
		return r;
	if ((r = index_tlink_add(ix, k.b, k.len, 1, NULL)) < 0) {
		index_tlop_add(ix, op, -1);
		return r;
	}
	*counted = true;
	return 0;
}

void tlink_enter_undo(struct index *ix, const char *op, int dirfd, const char *name,
		      bool counted)
{
	struct tlink_key k;

	if (counted && tlink_key_at(dirfd, name, &k) == 0) {
		index_tlink_add(ix, k.b, k.len, -1, NULL);
		index_tlop_add(ix, op, -1);
	}
}

bool tlink_op_holds(struct index *ix, const char *op)
{
	uint32_t n;

	return ix && index_tlop_get(ix, op, &n) == 0 && n > 0;
}

void tlink_purged(struct index *ix, const char *op, const struct tlink_key *k)
{
	index_tlink_add(ix, k->b, k->len, -1, NULL);
	index_tlop_add(ix, op, -1);
}

struct leave {
	struct index *ix;
	const char *op;
	tlink_changed_fn changed;
	void *arg;
};

static int leave_one(const struct leave *l, int dirfd, const char *name, const struct stat *st)
{
	struct tlink_key k;
	uint32_t in_trash;
	int r = tlink_key_at(dirfd, name, &k);

	if (r < 0 || (r = index_tlink_get(l->ix, k.b, k.len, &in_trash)) < 0 || !in_trash)
		return r == -ENOENT ? 0 : r;
	if ((r = index_tlink_add(l->ix, k.b, k.len, -1, NULL)) < 0)
		return r;
	index_tlop_add(l->ix, l->op, -1);
	if (l->changed)
		l->changed(l->arg, st->st_dev, st->st_ino);
	return 0;
}

static int open_sub(int dirfd, const char *name)
{
	struct open_how how = {
		.flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
		.resolve = RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, dirfd, name, &how, sizeof(how));

	return fd < 0 ? -errno : fd;
}

/* Uncount the multi-link non-directories below dirfd. */
static int leave_tree(const struct leave *l, int dirfd, unsigned depth)
{
	int fd = dup(dirfd), r = 0;
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return -errno;
	if (!(d = fdopendir(fd))) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		/* a restored site brings its .trash back: still trash.  (Below a
		 * site root .trash is an ordinary name; skipping it then only
		 * leaves a count too high.) */
		if (depth == 0 && S_ISDIR(st.st_mode) && !strcmp(de->d_name, TRASH_NAME))
			continue;
		if (S_ISDIR(st.st_mode)) {
			int sub = depth < TLINK_DEPTH_MAX ? open_sub(dirfd, de->d_name) : -ELOOP;

			if (sub >= 0) {
				leave_tree(l, sub, depth + 1);
				close(sub);
			} else if (!r) {
				r = sub;
			}
		} else if (st.st_nlink > 1) {
			leave_one(l, dirfd, de->d_name, &st);
		}
	}
	closedir(d);
	return r;
}

static int leave_at(const struct leave *l, int dirfd, const char *name)
{
	struct stat st;
	int r, sub;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return st.st_nlink > 1 ? leave_one(l, dirfd, name, &st) : 0;
	if ((sub = open_sub(dirfd, name)) < 0)
		return sub;
	r = leave_tree(l, sub, 0);
	close(sub);
	return r;
}

int tlink_leave(struct index *ix, const char *op, int dirfd, const char *path,
		tlink_changed_fn changed, void *arg)
{
	const struct leave l = { ix, op, changed, arg };
	const char *slash = strrchr(path, '/');
	char *parent;
	int pfd, r;

	if (!tlink_op_holds(ix, op))
		return 0;   /* no counted name in that op: nothing to do (the usual case) */
	if (!slash)
		return leave_at(&l, dirfd, path);
	if (!(parent = strndup(path, (size_t)(slash - path))))
		return -ENOMEM;
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS |
			   RESOLVE_NO_MAGICLINKS,
	};
	pfd = (int)syscall(SYS_openat2, dirfd, parent, &how, sizeof(how));
	r = pfd < 0 ? -errno : leave_at(&l, pfd, slash + 1);
	if (pfd >= 0)
		close(pfd);
	free(parent);
	return r;
}

struct prune {
	int backing_fd;
	struct tlink_key *stale;
	size_t n, cap;
};

static int prune_check(const void *key, size_t klen, uint32_t n, void *arg)
{
	struct prune *p = arg;
	const unsigned char *b = key;
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + TLINK_HANDLE_MAX];
	} h;
	uint32_t bytes = 0;
	int fd;

	(void)n;
	if (klen >= 8)
		bytes = (uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];
	if (klen >= 8 && bytes <= TLINK_HANDLE_MAX && klen == 8 + bytes) {
		h.fh.handle_type = (int)((uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
					 (uint32_t)b[2] << 8 | b[3]);
		h.fh.handle_bytes = bytes;
		memcpy(h.fh.f_handle, b + 8, bytes);
		fd = open_by_handle_at(p->backing_fd, &h.fh, O_PATH | O_CLOEXEC);
		if (fd >= 0) {
			close(fd);
			return 0;
		}
		if (errno != ESTALE && errno != ENOENT)
			return 0;   /* cannot tell: keep it */
	}
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 16;
		struct tlink_key *v = realloc(p->stale, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->stale = v;
		p->cap = cap;
	}
	if (klen > sizeof(p->stale[p->n].b))
		return 0;
	memcpy(p->stale[p->n].b, key, klen);
	p->stale[p->n++].len = klen;
	return 0;
}

int tlink_prune(struct index *ix, int backing_fd, uint64_t *dropped)
{
	struct prune p = { .backing_fd = backing_fd };
	int r = index_tlink_foreach(ix, prune_check, &p);

	if (dropped)
		*dropped = 0;
	for (size_t i = 0; r == 0 && i < p.n; i++) {
		if ((r = index_tlink_del(ix, p.stale[i].b, p.stale[i].len)) == 0 && dropped)
			(*dropped)++;
	}
	free(p.stale);
	return r;
}
