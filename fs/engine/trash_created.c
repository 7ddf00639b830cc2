/*
 * trash_created.c — the trash engine's side of `undo run:ID --created`:
 * one item a run created goes into the caller's op, like an rm of it
 * (created.h plans which; docs/cli.md, "Undoing what a run created").
 * Part of the trash engine (trash.h for the contract, trash_int.h for the
 * shared state).
 *
 * Threading: trash_delete takes t->lock; the check before it does not
 * (see the steps below for the window that leaves).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/created.h"
#include "engine/trash_int.h"

/*
 * Steps for one item: 1 created_check: the same inode at the recorded
 * path, as the run left it; 2 trash_delete into who's op in the item's
 * site (the engine's own order: the op directory with its record first,
 * then the rename into it; counts in memory until the next tick); 3 (the
 * caller) the created record is dropped (created_forget).
 * A crash between 1 and 2 moved nothing.  Between 2 and 3: the item is in
 * the op, which the reconcile of an op left open recounts and closes; the
 * record stays and a later plan reports it "gone" — nothing lost, nothing
 * moved twice.  A change by another process between 1 and 2 (a window of
 * one lstat and a rename) is not seen: the item then is in trash, one mv
 * or `undo op:` away.
 */
int trash_uncreate(struct trash *t, const struct caller *who, int backing_fd,
		   const struct created_rec *rec, struct stat *st, char *why, size_t cap,
		   char *opname, size_t opcap)
{
	struct relpath *rp = NULL;
	struct trash_loc loc = { 0 };
	const char *name;
	char *dup = NULL;
	int pfd = -1, v, r;

	if ((v = created_check(backing_fd, rec, &pfd, &name, st, why, cap)) != CREATED_MOVE) {
		r = v;
		goto out;
	}
	if (!(rp = calloc(1, sizeof(*rp))) || !(dup = strdup(rec->path))) {
		r = -ENOMEM;
		goto out;
	}
	/* the parent's components: the path up to its last '/' */
	dup[name - rec->path] = '\0';
	for (char *save = NULL, *w = strtok_r(dup, "/", &save); w; w = strtok_r(NULL, "/", &save))
		if ((r = relpath_push(rp, w)) < 0)
			goto out;
	loc.site = rec->site;
	loc.rel = rp;
	loc.dirfd = pfd;
	loc.name = name;
	if ((r = trash_delete(t, who, &loc, S_ISDIR(st->st_mode), st)) < 0) {
		if (r == -ENOTEMPTY) {
			snprintf(why, cap, "holds items that stay");
			r = CREATED_KEPT;
		}
		goto out;
	}
	if (t->conf.on_removed)
		t->conf.on_removed(t->conf.cb_arg, pfd, name);
	if (trash_open_op_of(t, who, rec->site, opname, opcap) < 0)
		snprintf(opname, opcap, "?");
	r = CREATED_MOVE;
out:
	free(dup);
	free(rp);
	if (pfd >= 0)
		close(pfd);
	return r;
}

void trash_uncreate_done(struct trash *t)
{
	if (t->conf.on_undone)
		t->conf.on_undone(t->conf.cb_arg);
}
