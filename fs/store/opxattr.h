/*
 * opxattr (symbols opattr_*) — an operation's record shown as user.gracefs.* extended
 * attributes on its directory (what `getfattr -d .trash/<op>` prints).
 * Pure functions, no locking.
 */
#ifndef GRACEFS_OPATTR_H
#define GRACEFS_OPATTR_H

#include <stddef.h>
#include <sys/types.h>
#include "store/oprec.h"

#define OPATTR_PREFIX "user.gracefs."

/* The attribute names, NUL-separated as listxattr(2) returns them.
 * Returns the length needed; copies only when it fits in cap. */
size_t opattr_list(char *buf, size_t cap);

/* Render attribute `name` of rec into buf (no NUL).  Returns the length,
 * -ENODATA for an unknown name, -ERANGE when cap is too small (cap 0 asks
 * for the length). */
ssize_t opattr_get(const struct op_record *rec, const char *name, char *buf, size_t cap);

/* Copy a rendered value out as getxattr(2) does: its length; -ERANGE
 * when cap is too small; cap 0 asks for the length only. */
ssize_t opattr_value(const char *v, char *buf, size_t cap);

#endif
