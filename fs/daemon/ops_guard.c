/*
 * ops_guard — overwrite protection of in-place writes (SPEC "Overwriting",
 * docs/overwrite.md "In-place writes"): the first WRITE, copy_file_range
 * or mmap write-back through a handle that would change bytes the file
 * holds preserves the file's content first, in the op of the process that
 * opened the handle, exactly as a truncation does (preserve_ino_as).  The
 * handle's note (wguard.h) then makes every later WRITE in that op one
 * lookup.  Appends (writes at or past the size) and writes of the bytes
 * already there (the writeback cache sends the partial last page of an
 * append, holding the file's own bytes) preserve nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/ops_int.h"

#define CMP_CHUNK (64 * 1024)

void guard_open(int fd, const struct caller *who, bool own)
{
	struct wguard_note note = { .state = WG_OWN, .base = -1 };

	if (wguard_open(fd, who) == 0 && own)   /* no memory: WRITEs use their own caller */
		wguard_set(fd, &note);
}

/* Does fd hold exactly data at off (len bytes)?  A read error says no
 * (an fd opened write-only, say): the write is taken as changing bytes. */
static bool same_bytes(int fd, const char *data, off_t off, size_t len)
{
	char *buf = malloc(len < CMP_CHUNK ? len : CMP_CHUNK);
	bool same = buf != NULL;

	for (size_t done = 0; same && done < len;) {
		size_t want = len - done < CMP_CHUNK ? len - done : CMP_CHUNK;
		ssize_t n = pread(fd, buf, want, off + (off_t)done);

		same = n > 0 && memcmp(buf, data + done, (size_t)n) == 0;
		done += n > 0 ? (size_t)n : 0;
	}
	free(buf);
	return same;
}

/* The bytes of *in in memory (a spliced WRITE arrives in a pipe): NULL
 * when there is no memory for them. */
static const char *data_of(struct fuse_bufvec **in, struct fuse_bufvec *mem, void **heap)
{
	size_t n = fuse_buf_size(*in);

	if ((*in)->count == 1 && (*in)->idx == 0 && !((*in)->buf[0].flags & FUSE_BUF_IS_FD))
		return (const char *)(*in)->buf[0].mem + (*in)->off;
	if (!(*heap = malloc(n ? n : 1)))
		return NULL;
	*mem = (struct fuse_bufvec)FUSE_BUFVEC_INIT(n);
	mem->buf[0].mem = *heap;
	if (fuse_buf_copy(mem, *in, 0) != (ssize_t)n) {
		free(*heap);
		*heap = NULL;
		return NULL;
	}
	*mem = (struct fuse_bufvec)FUSE_BUFVEC_INIT(n);
	mem->buf[0].mem = *heap;
	*in = mem;
	return *heap;
}

/* guard_write, or (dry) only say whether it would preserve: 1. */
static int guard(fuse_req_t req, fuse_ino_t ino, int fd, off_t off, size_t len,
		 struct fuse_bufvec **in, struct fuse_bufvec *mem, void **heap, bool dry)
{
	struct wguard_note note;
	struct caller who;
	struct stat st;
	bool known = wguard_get(fd, &note, &who) == 0;
	const char *data;
	int r;

	if (known && note.state != WG_OPEN && note.state != WG_COVERED)
		return 0;   /* decided once for this handle (and reported when it was) */
	if (known && note.state == WG_COVERED) {
		if (trash_preserve_current(G(req)->trash, &who, note.scope, note.op))
			return 0;   /* the op holds the file's earlier state already */
		note = (struct wguard_note){ .state = WG_OPEN, .base = -1 };
		wguard_set(fd, &note);   /* that op closed: the next one starts afresh */
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || len == 0)
		return 0;
	if (off >= st.st_size) {   /* an append: no byte that existed changes */
		if (known)
			wguard_append(fd, st.st_size);
		return 0;
	}
	if (in) {
		size_t over = (size_t)(st.st_size - off) < len ? (size_t)(st.st_size - off) : len;

		if ((data = data_of(in, mem, heap)) && same_bytes(fd, data, off, over))
			return 0;
	}
	if (dry)
		return 1;
	if (!known)
		who_of(req, &who);
	r = preserve_ino_as(req, &who, I(ino), -1, known ? note.base : -1, &note);
	if (r == 0 && known && note.state != WG_OPEN) {
		note.base = -1;
		wguard_set(fd, &note);
	}
	return r;
}

int guard_write(fuse_req_t req, fuse_ino_t ino, int fd, off_t off, size_t len,
		struct fuse_bufvec **in, struct fuse_bufvec *mem, void **heap)
{
	return guard(req, ino, fd, off, len, in, mem, heap, false);
}

int guard_write_check(fuse_req_t req, fuse_ino_t ino, int fd, off_t off, size_t len,
		      struct fuse_bufvec **in, struct fuse_bufvec *mem, void **heap)
{
	return guard(req, ino, fd, off, len, in, mem, heap, true);
}

void guard_grow(int fd, off_t size)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && size > st.st_size)
		wguard_append(fd, st.st_size);
}
