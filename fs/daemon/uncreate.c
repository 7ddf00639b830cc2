/*
 * uncreate — `undo run:ID --created` in the daemon (the ctl verb
 * "uncreate"): what a run created and nobody changed since goes into the
 * requesting gracectl's op of each site.  See uncreate.h.
 *
 * Threading: any control connection thread; the tracker and the trash
 * engine lock themselves.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>

#include "daemon/inode.h"
#include "daemon/uncreate.h"
#include "engine/trash.h"
#include "lib/log.h"

/* undo run:ID --created, in the daemon: plan against the live store, then
 * move each item to move (deepest first: a directory's contents before
 * it), each one as trash_uncreate describes its steps; a moved item's
 * record is dropped after the move (a crash between leaves a record a
 * later plan reports "gone"), and the kernel forgets its name.  Other
 * verdicts are reported as the plan found them. */
int uncreate_run(const struct control_conf *conf, const struct caller *who, const char *run,
		 uncreate_fn fn, void *fn_arg)
{
	struct created_plan p;
	size_t moved = 0, left = 0, failed = 0;
	int r;

	if (!conf->cr)
		return -ENOTCONN;
	created_flush(conf->cr);   /* what the run created up to now is planned too */
	if ((r = created_plan(conf->ix, conf->backing_fd, run, &p)) < 0) {
		created_plan_release(&p);
		return r;
	}
	for (size_t i = 0; i < p.n; i++) {
		struct created_item *it = &p.v[i];
		char why[96] = "", op[NAME_MAX + 1] = "";
		struct stat st;
		int v;

		if (it->v != CREATED_MOVE) {
			fn(fn_arg, it, it->v, it->why, NULL, 0);
			left++;
			continue;
		}
		v = trash_uncreate(conf->trash, who, conf->backing_fd, &it->rec, &st, why,
				   sizeof(why), op, sizeof(op));
		if (v == CREATED_MOVE) {
			it->v = CREATED_MOVE;
			if (S_ISDIR(st.st_mode) || st.st_nlink <= 1)
				inode_detach(st.st_dev, st.st_ino, false);
			if ((r = created_forget(conf->cr, run, it->rec.dev, it->rec.ino)) < 0)
				log_msg(LOG_WARNING, "cannot drop the record of %s/%s: %s (a later "
					"plan reports it gone)", it->rec.site, it->path, strerror(-r));
			moved++;
		} else if (v >= 0) {
			it->v = (enum created_verdict)v;   /* changed meanwhile: left */
			left++;
		} else {
			failed++;
		}
		fn(fn_arg, it, v < 0 ? 0 : v, why, op, v < 0 ? v : 0);
	}
	created_plan_release(&p);
	trash_uncreate_done(conf->trash);
	log_msg(failed ? LOG_WARNING : LOG_INFO, "undo of what run:%s created: %zu moved into "
		"trash, %zu left, %zu failed (by pid %u, %s)", run, moved, left, failed, who->pid,
		who->cmd);
	return 0;
}
