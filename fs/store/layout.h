/*
 * layout — where gracefs keeps things in the backing store.  The lowest
 * layer: plain directory-fd helpers, no state, used by the trash engine and
 * the site policy alike (neither includes the other for these).
 *
 *   BACKING/<site>/.trash/<op>/<path>   site trash
 *   BACKING/.gracefs/                   state: index, catalog, lock
 *   BACKING/.gracefs/trash/<op>/<site>  deleted whole sites
 */
#ifndef GRACEFS_LAYOUT_H
#define GRACEFS_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>

#define TRASH_NAME      ".trash"
#define TRASH_STATE_DIR ".gracefs"

/* Open (O_RDONLY directory, creating it with mode 0755 if missing) the
 * .trash of site dir site_fd.  Returns a new fd or -errno. */
int layout_site_trash_open(int site_fd);

/* The deleted sites a root-scope op holds: the entries of
 * BACKING/.gracefs/trash/<op>/, in name order, as a comma list in buf
 * ("" when the op is gone).  The one answer to "whose op is this?" for
 * every per-site view (ls, show, hold, undo, purge, audit, metrics).
 * Returns how many sites, or -errno (buf is then "").  Any thread. */
int layout_root_op_sites(int backing_fd, const char *op, char *buf, size_t cap);
/* Does root-scope op `op` hold deleted site `site`? */
bool layout_root_op_has(int backing_fd, const char *op, const char *site);
/* Is `site` one of the comma list `list` (as layout_root_op_sites gives)? */
bool layout_site_in_list(const char *list, const char *site);

#endif
