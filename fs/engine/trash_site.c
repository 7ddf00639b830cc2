/*
 * trash_site.c — whole sites: deleting a site into the root trash
 * (collapse), re-keying ops when sites are renamed, dropping a scope.
 * Part of the trash engine (see trash.h for the contract, trash_int.h for
 * the shared state).  Threading: every function here runs under t->lock
 * unless it says otherwise.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "engine/sitepolicy.h"
#include "lib/sys.h"
#include "engine/trash_int.h"
#include "lib/util.h"

/* Close the open ops of scope and drop its index records (the site moved).
 * If into is given (the root op now holding the site), it takes over their
 * counts and their promises: it is held if any of them was, and it expires
 * no earlier than the last of them. */
void trash_scope_drop(struct trash *t, const char *scope, struct op_record *into)
{
	struct key_list l = {0};

	for (struct op *op = t->ops, *next; op; op = next) {
		next = op->next;
		if (!strcmp(op->rec.scope, scope))
			trash_op_close(t, op);
	}
	index_foreach(t->ix, scope, trash_collect, &l);
	for (size_t i = 0; i < l.n; i++) {
		const struct op_record *r = &l.v[i];

		index_del(t->ix, r->scope, r->name);
		if (!into)
			continue;
		into->items += r->items + 1;
		into->bytes += r->bytes;
		into->hold |= r->hold;   /* every reason to hold, kept */
		int64_t need = oprec_due(r) - into->last_el_ns / NS;   /* trusted clock */
		if (need > into->retention_s)
			into->retention_s = need;
	}
	free(l.v);
}

/* Move everything in op dir `oname` of the site at rfd/site back into the
 * site, give the site the times it had before that op (TRASH_TIMES_XATTR
 * of the op dir), then remove the op dir and the collapse marker on rfd.  Entries
 * that collide stay where they are (nothing is ever overwritten). */
int trash_collapse_finish(int rfd, const char *site, const char *oname)
{
	int sfd = open_dir(rfd, site), tfd = -1, ofd = -1, r = 0;
	DIR *d = NULL;
	struct dirent *de;

	if (sfd < 0 || (tfd = open_dir(sfd, TRASH_NAME)) < 0 ||
	    (ofd = open_dir(tfd, oname)) < 0) {
		r = -ENOENT;
		goto out;
	}
	if (!(d = fdopendir(ofd))) {
		r = -errno;
		goto out;
	}
	ofd = -1;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			sys.renameat2(dirfd(d), de->d_name, sfd, de->d_name, RENAME_NOREPLACE);
	}
	/* the site's own times from before the op emptied it (op dirs carry
	 * them: trash_op_dir_meta) */
	struct timespec ts[2];
	if (trash_times_load(dirfd(d), ts) == 0)
		futimens(sfd, ts);
	unlinkat(tfd, oname, AT_REMOVEDIR);
out:
	if (d)
		closedir(d);
	close_fd(&ofd);
	close_fd(&tfd);
	close_fd(&sfd);
	if (r == 0 || r == -ENOENT)
		fremovexattr(rfd, TRASH_COLLAPSE_XATTR);
	return r;
}

/*
 * rmdir of a site (`rm -rf MOUNT/site` ends here, after rm emptied it).
 * The caller's own op in the site holds everything rm just deleted; the
 * site goes to the root trash *with those items back in place*, so one mv
 * restores it whole.
 * Steps: 1 close the site's other open ops; 2 create root op R and write
 *        the collapse marker (name of the caller's op O) on R;
 *        3 rename site into R; 4 move O's entries back into R/site;
 *        5 rmdir O, remove the marker; 6 drop the site's index records.
 * Crash after 2: marker without R/site: reconcile removes the marker.
 * After 3 or 4: reconcile sees the marker and finishes 4-5.  After 5:
 * reconcile drops the records whose directories left with the site.
 */
int trash_delete_site(struct trash *t, const struct caller *who,
		       const struct trash_loc *loc, const struct stat *st)
{
	struct op *mine = NULL, *root;
	const char *site = loc->name;
	char marker[2 * NAME_MAX + 2];   /* "<site>/<op>": which collapse, exactly */
	int r, marker_len = 0;

	for (struct op *op = t->ops, *next; op; op = next) {
		next = op->next;
		if (strcmp(op->rec.scope, site))
			continue;
		if (trash_same_process(&op->rec, who)) {
			mine = op;
			trash_op_store(t, op);
		} else {
			trash_op_close(t, op);
		}
	}
	if ((r = trash_op_for(t, who, "", false, &root)) < 0)
		return r;
	if (mine && (marker_len = snprintf(marker, sizeof(marker), "%s/%s", site,
					   mine->rec.name)) > 0 &&
	    fsetxattr(root->dirfd, TRASH_COLLAPSE_XATTR, marker, (size_t)marker_len, 0) < 0)
		return -errno;
	r = trash_op_move(t, root, loc, st, MOVE_EXACT);
	if (r == -EEXIST) {   /* a site of that name is in this op already */
		if (mine)
			fremovexattr(root->dirfd, TRASH_COLLAPSE_XATTR);
		if ((r = trash_op_for(t, who, "", true, &root)) < 0)
			return r;
		if (mine && fsetxattr(root->dirfd, TRASH_COLLAPSE_XATTR, marker,
				      (size_t)marker_len, 0) < 0)
			return -errno;
		r = trash_op_move(t, root, loc, st, MOVE_EXACT);
	}
	if (r < 0) {
		if (mine)
			fremovexattr(root->dirfd, TRASH_COLLAPSE_XATTR);
		return r;
	}
	/* the deleted site keeps its promises: its retention and its hold */
	struct site_policy sp;
	int rfd = open_dir(root->dirfd, site);
	if (rfd >= 0) {
		int tfd = open_dir(rfd, TRASH_NAME);
		if (tfd >= 0) {
			char v[32];
			ssize_t n = fgetxattr(tfd, SITEPOLICY_RETENTION_XATTR, v, sizeof(v) - 1);
			sp.retention_s = n > 0 ? (v[n] = '\0', strtoll(v, NULL, 10)) : 0;
			sp.hold = fgetxattr(tfd, SITEPOLICY_HOLD_XATTR, v, sizeof(v)) > 0 && v[0] == '1';
			if (sp.retention_s > root->rec.retention_s)
				root->rec.retention_s = sp.retention_s;
			if (sp.hold)
				root->rec.hold |= OPREC_HOLD_LEGAL;
			close(tfd);
		}
		close(rfd);
	}
	if (mine) {
		for (struct op **pp = &t->ops; *pp; pp = &(*pp)->next) {
			if (*pp == mine) {
				*pp = mine->next;
				break;
			}
		}
		trash_collapse_finish(root->dirfd, site, mine->rec.name);
		/* the hard links it counted are in root's tree now */
		uint32_t held;
		if (index_tlop_get(t->ix, mine->rec.name, &held) == 0 && held) {
			index_tlop_add(t->ix, root->rec.name, (int32_t)held);
			index_tlop_add(t->ix, mine->rec.name, -(int32_t)held);
		}
		/* one rm -rf of a site is one op: the root op, which took mine over */
		if (t->counters.ops_created > 1)
			t->counters.ops_created--;
		root->rec.items += mine->rec.items;   /* its items are in the site again */
		root->rec.bytes += mine->rec.bytes;
		index_del(t->ix, site, mine->rec.name);
		trash_op_free(mine);
	}
	trash_scope_drop(t, site, &root->rec);
	/* stored now, not at the next tick: the holds and promises it took over
	 * must survive a crash right after this rmdir */
	if (trash_op_store(t, root) < 0)
		root->dirty = true;
	return 0;
}

/* After a rename at the mount root, sites changed names: re-key their ops. */
void trash_rename_rescope(struct trash *t, const struct trash_loc *src,
			   const struct trash_loc *dst, unsigned flags)
{
	if (!src->site)
		trash_scope_drop(t, src->name, NULL);
	if (!dst->site && (flags & RENAME_EXCHANGE))
		trash_scope_drop(t, dst->name, NULL);
	if (!dst->site)
		trash_scope_scan(t, dst->name, NULL);
	if (!src->site && (flags & RENAME_EXCHANGE))
		trash_scope_scan(t, src->name, NULL);
}
