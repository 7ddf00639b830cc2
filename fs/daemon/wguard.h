/*
 * wguard — the note overwrite protection keeps per open file handle
 * (backing fd opened for writing): who opened it, and the op that already
 * holds the file's state from before it (docs/overwrite.md, "In-place
 * writes").
 *
 * A WRITE below a file's size preserves the file first, in the op of the
 * process that opened the handle — with the writeback cache or through a
 * shared mmap the kernel sends WRITEs as nobody in particular, so the
 * opener is the only caller the daemon can name.  Once the file is
 * preserved (or found held) in op X, the handle is noted "covered in X":
 * every later WRITE costs one lookup here and one in the trash engine
 * (trash_preserve_current: is X still the opener's collecting op?), no
 * syscall.  When X closes, the next overwriting WRITE preserves again, into
 * the opener's next op.
 *
 * FUSE-free (unit-tested).  Threading: one mutex around the table; callers
 * get copies, never pointers into it.
 */
#ifndef GRACEFS_WGUARD_H
#define GRACEFS_WGUARD_H

#include <limits.h>
#include <stdbool.h>
#include "lib/procinfo.h"

enum wguard_state {
	WG_OPEN,         /* nothing known yet: the next overwrite checks */
	WG_COVERED,      /* preserved or held in op (scope/op) */
	WG_UNPRESERVED,  /* over preserve_max, no clone: reported once per handle */
	WG_SKIP,         /* nopreserve: the site's operator opted the file out */
	WG_OWN,          /* the opener created the file: nothing of it predates it */
};

struct wguard_note {
	enum wguard_state state;
	char scope[NAME_MAX + 1];   /* WG_COVERED: the op's site */
	char op[NAME_MAX + 1];      /* WG_COVERED: the op's name */
	off_t base;                 /* size before this handle's first append; -1 none */
};

/* fd was opened for writing by who.  0 or -ENOMEM (then the handle is
 * guarded as its WRITE's own caller: wguard_get says -ENOENT). */
int wguard_open(int fd, const struct caller *who);
/* The note of fd, and (who non-NULL) its opener.  0 or -ENOENT. */
int wguard_get(int fd, struct wguard_note *note, struct caller *who);
/* Record what the last check found for fd (no-op for an unknown fd). */
void wguard_set(int fd, const struct wguard_note *note);
/* An append (or a growing ftruncate) through fd found the file size bytes
 * long: while fd's note is WG_OPEN, the first one is the size the file had
 * before the handle grew it (what a preservation keeps: the handle's own
 * appended bytes predate nothing). */
void wguard_append(int fd, off_t size);
/* fd is about to be closed (RELEASE). */
void wguard_forget(int fd);

#endif
