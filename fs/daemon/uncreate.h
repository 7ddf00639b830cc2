/*
 * uncreate — `undo run:ID --created` in the daemon: plan against the live
 * store (created_plan), then move each item to move, deepest first, as
 * trash_uncreate describes its steps; drop a moved item's record after the
 * move and let the kernel forget its name.
 */
#ifndef GRACEFS_UNCREATE_H
#define GRACEFS_UNCREATE_H

#include "daemon/control.h"
#include "engine/created.h"
#include "lib/procinfo.h"

/* One item: its verdict (CREATED_*), why it stays, the op it went to
 * (moved), err (-errno: it could not be moved). */
typedef void (*uncreate_fn)(void *fn_arg, const struct created_item *it, int verdict,
			    const char *why, const char *op, int err);

/* Move what run created into who's ops (conf: trash, ix, cr, backing_fd).
 * 0, -ENOTCONN (no tracker), or the plan's -errno (nothing moved). */
int uncreate_run(const struct control_conf *conf, const struct caller *who, const char *run,
		 uncreate_fn fn, void *fn_arg);

#endif
