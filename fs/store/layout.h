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

#define TRASH_NAME      ".trash"
#define TRASH_STATE_DIR ".gracefs"

/* Open (O_RDONLY directory, creating it with mode 0755 if missing) the
 * .trash of site dir site_fd.  Returns a new fd or -errno. */
int layout_site_trash_open(int site_fd);

#endif
