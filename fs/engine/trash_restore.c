/*
 * trash_restore.c — settling an op after something was moved out of it
 * (restore), pruning mirror parents, and undo of a whole op.
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
#include "lib/log.h"
#include "lib/sys.h"
#include "store/tlink.h"
#include "engine/trash_int.h"
#include "lib/util.h"

/*
 * Something left op `name` of `scope` (a restore).  If that op is still
 * open, its cached mirror fd may now be a live directory, and if the whole
 * op dir was moved out its dirfd is live: forget the cache, and drop an op
 * whose directory is no longer in the trash without writing to it.  The
 * recount (or removal when empty) waits for the next tick.
 */
/* Is name the only entry of the op directory opfd (O_PATH)?  Reads at
 * most a few entries, however large the op. */
static bool only_entry(int opfd, const char *name)
{
	int fd = openat(opfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	bool other = false, seen = false;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	while (!other && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (strcmp(de->d_name, name))
			other = true;
		else
			seen = true;
	}
	closedir(d);
	return seen && !other;
}

void trash_restore_measure(const struct trash_loc *src, struct restore_note *note)
{
	const struct relpath *rel = src->rel;   /* .trash/<op>/<path in op> */

	note->counted = false;
	note->path_len = 0;
	if (!rel || rel->n < 2 || strcmp(rel->comp[1], src->from_op))
		return;   /* settled by a full recount */
	/* The op's only entry leaves: the op will be empty, and the recount
	 * that settles it costs nothing.  Walking what leaves would cost the
	 * mv of a whole tree ~3 µs per entry. */
	if (rel->n == 2 && only_entry(src->dirfd, src->name))
		return;
	if (trash_count_entry(src->dirfd, src->name, &note->items, &note->bytes) < 0)
		return;
	for (unsigned i = 2; i < rel->n; i++) {
		size_t len = strlen(rel->comp[i]) + 1;

		memcpy(note->path + note->path_len, rel->comp[i], len);
		note->path_len += len;
	}
	note->counted = true;
}

void trash_note_restore_locked(struct trash *t, const char *scope, const char *name,
			       const struct restore_note *note)
{
	size_t plen = note && note->counted ? note->path_len : 0;
	struct pending *p = calloc(1, sizeof(*p) + plen);

	for (struct op *op = t->ops; op; op = op->next) {
		struct stat a, b;
		int tfd;

		if (strcmp(op->rec.scope, scope) || strcmp(op->rec.name, name))
			continue;
		close_fd(&op->cache_fd);
		tfd = trash_scope_open(t, scope, false);
		bool in_place = tfd >= 0 && fstatat(tfd, name, &a, AT_SYMLINK_NOFOLLOW) == 0 &&
				fstat(op->dirfd, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev;
		if (tfd >= 0)
			close(tfd);
		if (!in_place) {
			for (struct op **pp = &t->ops; *pp; pp = &(*pp)->next)
				if (*pp == op) {
					*pp = op->next;
					break;
				}
			index_del(t->ix, scope, name);
			trash_op_free(op);
		}
		break;
	}
	t->counters.restores++;
	if (!p)
		return;   /* counts stay high until the next mount's reconcile */
	snprintf(p->scope, sizeof(p->scope), "%s", scope);
	snprintf(p->name, sizeof(p->name), "%s", name);
	if (note && note->counted) {
		p->counted = true;
		p->items = note->items;
		p->bytes = note->bytes;
		p->path_len = plen;
		memcpy(p->path, note->path, plen);
	}
	p->next = t->pending;
	t->pending = p;
	t->npending++;
}

void trash_note_restore(struct trash *t, const char *scope, const char *name)
{
	trash_lock(t);
	trash_note_restore_locked(t, scope, name, NULL);
	trash_unlock(t);
}

/* ---- maintenance ---------------------------------------------------------- */

/* Remove the mirror-only directories (parents created for deleted items,
 * never deleted themselves) that a restore left empty, deepest first. */
static void prune_mirrors(int dirfd, dev_t dev, const char *opname, unsigned depth)
{
	DIR *d = dir_stream(dirfd);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		struct stat st;
		int sub;

		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    st.st_dev != dev || depth > 4096 || (sub = open_dir_here(dirfd, de->d_name)) < 0)
			continue;
		prune_mirrors(sub, dev, opname, depth + 1);
		bool mirror = trash_is_mirror(sub, opname);
		close(sub);
		if (mirror)
			unlinkat(dirfd, de->d_name, AT_REMOVEDIR);   /* fails unless empty */
	}
	closedir(d);
}

/* The mirror-only parents along p's path (where the restored item was)
 * that it left empty, deepest first; stops at the first that stays.
 * Re-walks from the op dir for each level, so at most depth fds are open
 * at once, one at a time. */
static void prune_chain(int ofd, const struct pending *p)
{
	const char *comp[RELPATH_MAX_DEPTH];
	unsigned n = 0;

	for (size_t off = 0; off < p->path_len && n < RELPATH_MAX_DEPTH;
	     off += strlen(p->path + off) + 1)
		comp[n++] = p->path + off;
	while (n > 0) {
		int dfd = dup(ofd), child, r;

		for (unsigned i = 0; dfd >= 0 && i + 1 < n; i++) {
			int next = open_dir_here(dfd, comp[i]);

			close(dfd);
			dfd = next;
		}
		if (dfd < 0)
			return;
		child = open_dir_here(dfd, comp[n - 1]);
		r = child >= 0 && trash_is_mirror(child, p->name) ? 0 : -1;
		close_fd(&child);
		if (r == 0)
			r = unlinkat(dfd, comp[n - 1], AT_REMOVEDIR);   /* fails unless empty */
		close(dfd);
		if (r < 0)
			return;
		n--;
	}
}

/* An op lost items to a restore: drop it if empty, else recount it (or,
 * when the restore was measured, subtract what left: no walk of the op,
 * so a restore from a huge op never holds the lock for long). */
void trash_drop_flush(struct trash *t, struct drop_batch *b)
{
	const char *names[TRASH_DROP_BATCH];

	for (size_t i = 0; i < b->n; i++)
		names[i] = b->names[i];
	if (b->n && index_drop_ops(t->ix, b->scope, names, b->n) < 0)
		for (size_t i = 0; i < b->n; i++) {   /* one by one: each that can go goes */
			index_del(t->ix, b->scope, names[i]);
			index_tlop_add(t->ix, names[i], -INT32_MAX);
		}
	b->n = 0;
}

/* Op `name` of scope is gone from the backing store: forget it in the
 * index (through b: batched, see struct drop_batch; or at once). */
static void drop_op(struct trash *t, struct drop_batch *b, const char *scope, const char *name)
{
	if (!b) {
		index_del(t->ix, scope, name);
		index_tlop_add(t->ix, name, -INT32_MAX);   /* it holds nothing now */
		return;
	}
	if (b->n && (b->n == TRASH_DROP_BATCH || strcmp(b->scope, scope)))
		trash_drop_flush(t, b);
	if (!b->n)
		snprintf(b->scope, sizeof(b->scope), "%s", scope);
	snprintf(b->names[b->n++], sizeof(b->names[0]), "%s", name);
}

int trash_settle_restore(struct trash *t, const struct pending *p, struct drop_batch *b)
{
	struct op_record rec;
	int tfd = trash_scope_open(t, p->scope, false), ofd, r = 0;

	if (tfd < 0)
		return tfd == -ENOENT ? 0 : tfd;
	for (struct op *op = t->ops; op; op = op->next) {
		if (!strcmp(op->rec.scope, p->scope) && !strcmp(op->rec.name, p->name)) {
			trash_op_close(t, op);   /* restoring ends an operation */
			break;
		}
	}
	if ((ofd = open_dir(tfd, p->name)) < 0) {
		drop_op(t, b, p->scope, p->name);
		goto out;
	}
	if (p->counted)
		prune_chain(ofd, p);
	else
		prune_mirrors(ofd, t->dev, p->name, 0);
	if (unlinkat(tfd, p->name, AT_REMOVEDIR) == 0) {
		drop_op(t, b, p->scope, p->name);
		if (t->conf.on_removed)
			t->conf.on_removed(t->conf.cb_arg, tfd, p->name);
	} else if (trash_rec_read(ofd, &rec) == 0) {
		snprintf(rec.scope, sizeof(rec.scope), "%s", p->scope);
		snprintf(rec.name, sizeof(rec.name), "%s", p->name);
		int64_t keep_last = rec.last_ns;
		if (p->counted) {
			rec.items -= p->items < rec.items ? p->items : rec.items;
			rec.bytes -= p->bytes < rec.bytes ? p->bytes : rec.bytes;
		} else {
			trash_recount(&rec, ofd);
		}
		rec.last_ns = keep_last;   /* a restore is not a deletion */
		char buf[OPREC_ENC_MAX];
		int len = oprec_encode(&rec, buf, sizeof(buf));
		if (len > 0 && fsetxattr(ofd, OPREC_XATTR, buf, (size_t)len, 0) < 0)
			r = -errno;
		if (!r)
			r = index_put(t->ix, &rec);
	}
	close(ofd);
out:
	close(tfd);
	return r;
}

#define UNDO_STEPS_PER_LOCK 1024

struct undo_wrap {
	struct trash *t;
	struct undo_overlay *ov;   /* the run's, or NULL */
	const char *scope, *name;
	size_t steps;
	undo_progress_fn fn;
	void *arg;
	struct caller who;         /* whose op the replacements go to */
	char newop[NAME_MAX + 1];  /* that op, once made ("" before) */
};

/* Open the directory part of path (a '/'-separated path below dirfd, its
 * last component left out) without following symlinks or leaving dirfd's
 * filesystem; *leaf gets the last component.  A fd or -errno. */
static int open_parent(int dirfd, const char *path, const char **leaf)
{
	const char *slash = strrchr(path, '/');
	char dir[RELPATH_MAX_BYTES];

	*leaf = slash ? slash + 1 : path;
	if (!slash)
		return open_dir_here(dirfd, ".");
	if ((size_t)(slash - path) >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	return open_dir_here(dirfd, dir);
}

/*
 * After an UNDO_REPLACE of a rename-over (UNDO_F_TO_TRASH or _TRASH_ONLY,
 * undo.h): the replacement, now in the undone op at step->from, goes into
 * a new op of this undo at the path it was live at, so it stays
 * restorable; then the marker leaves the restored original.
 * Steps: 1 swap original and replacement (undo_execute: one
 * RENAME_EXCHANGE, so the path always holds one of them); 2 mirror parents
 * in the new op, one rename of the replacement into it; 3 remove
 * TRASH_REPLACED_XATTR from the live original.
 * Crash between 1 and 2: the original is live (still marked) and the
 * replacement in the undone op: nothing lost, and the next undo of that op
 * sees the marker and does 2 and 3 (UNDO_F_TRASH_ONLY).  Between 2 and 3:
 * an inert marker on the live file (tenants never see trusted.gracefs.*;
 * undo reads it only against the op it names, which holds no replacement
 * now).  If 2 fails the replacement stays in the undone op, in trash.
 */
static void undo_displace(struct undo_wrap *w, const struct undo_step *step, const char *to)
{
	struct trash *t = w->t;
	struct relpath *rp = calloc(1, sizeof(*rp));
	char dir[RELPATH_MAX_BYTES], path[64 + NAME_MAX], *save, *comp;
	const char *leaf, *tleaf;
	int tfd = trash_scope_open(t, w->scope, false), ofd = -1, pfd = -1, sfd = -1, lfd = -1;
	int r = -ENOMEM;
	struct stat st;
	struct op *op;

	if (!rp || tfd < 0)
		goto out;
	if ((ofd = open_dir(tfd, w->name)) < 0 || (pfd = open_parent(ofd, step->from, &leaf)) < 0) {
		r = ofd < 0 ? ofd : pfd;
		goto out;
	}
	if (fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_ino != step->ino) {
		r = -ENOENT;   /* not the replacement (the live name was gone): nothing to do */
		goto out;
	}
	/* the new op mirrors the live parents of `to` */
	snprintf(dir, sizeof(dir), "%s", to);
	tleaf = strrchr(dir, '/');
	r = 0;
	if (tleaf) {
		dir[tleaf - dir] = '\0';
		for (comp = strtok_r(dir, "/", &save); comp && !r; comp = strtok_r(NULL, "/", &save))
			r = relpath_push(rp, comp);
	}
	if (r < 0)
		goto out;
	struct trash_loc loc = { .site = w->scope, .rel = rp, .dirfd = pfd, .name = leaf };
	r = -EEXIST;
	for (int attempt = 0; attempt < 2 && r == -EEXIST; attempt++) {
		if ((r = trash_op_for(t, &w->who, w->scope, !w->newop[0] || attempt, &op)) < 0)
			break;
		snprintf(w->newop, sizeof(w->newop), "%s", op->rec.name);
		r = trash_op_move(t, op, &loc, &st, MOVE_EXACT);
	}
	if (r < 0)
		goto out;
	if ((sfd = open_dir(t->backing_fd, w->scope)) >= 0 &&
	    (lfd = open_parent(sfd, to, &tleaf)) >= 0) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", lfd, tleaf);
		lremovexattr(path, TRASH_REPLACED_XATTR);
	}
out:
	if (r < 0 && r != -ENOENT)
		log_msg(LOG_WARNING, "undo of op %s/%s: the version that replaced %s stays in "
			"that op: %s", w->scope, w->name, to, strerror(-r));
	close_fd(&lfd);
	close_fd(&sfd);
	close_fd(&pfd);
	close_fd(&ofd);
	if (tfd >= 0)
		close(tfd);
	free(rp);
}

/* After each undo step: a whole site restored gets its own ops back; and
 * every UNDO_STEPS_PER_LOCK steps the engine's lock is let go for a moment,
 * so a long undo never stalls deletions elsewhere for long.  (Each step is
 * a rename with RENAME_NOREPLACE: whatever happened meanwhile, nothing is
 * overwritten; at worst an item lands where a concurrent mv put its
 * parent.) */
/* A live name now holds another file (UNDO_REPLACE): the kernel's cached
 * entry must go.  `to` is below the scope's site directory. */
static void undo_replaced(struct trash *t, const char *scope, const char *to)
{
	char buf[RELPATH_MAX_BYTES], *save, *comp, *next;
	int fd = *scope ? open_dir(t->backing_fd, scope) : -1;

	if (fd < 0 || !t->conf.on_removed || snprintf(buf, sizeof(buf), "%s", to) >= (int)sizeof(buf))
		goto out;
	for (comp = strtok_r(buf, "/", &save); comp && fd >= 0; comp = next) {
		if (!(next = strtok_r(NULL, "/", &save))) {
			t->conf.on_removed(t->conf.cb_arg, fd, comp);
			break;
		}
		int sub = open_dir(fd, comp);
		close(fd);
		fd = sub;
	}
out:
	if (fd >= 0)
		close(fd);
}

static int undo_step_done(void *arg, const struct undo_step *step, const char *to,
			  bool renamed, int err)
{
	struct undo_wrap *w = arg;

	if (!err && step->kind == UNDO_REPLACE && !renamed && *w->scope &&
	    (step->flags & (UNDO_F_TO_TRASH | UNDO_F_TRASH_ONLY)))
		undo_displace(w, step, to);
	if (!err && step->kind == UNDO_REPLACE)
		undo_replaced(w->t, w->scope, to);

	if (!*w->scope && !err && step->kind != UNDO_MKDIR && !strchr(to, '/'))
		trash_scope_scan(w->t, to, NULL);
	if (w->ov && !err)   /* no memory: later ops restore next to it instead */
		undo_overlay_note_step(w->ov, w->scope, step, to);
	if (!err && step->kind != UNDO_MKDIR && tlink_op_holds(w->t->ix, w->name)) {
		/* hard links it brought back are live again (tlink.h) */
		int root = *w->scope ? open_dir(w->t->backing_fd, w->scope) : -1;

		if (!*w->scope || root >= 0)
			tlink_leave(w->t->ix, w->name, *w->scope ? root : w->t->backing_fd, to,
				    w->t->conf.on_relinked, w->t->conf.cb_arg);
		close_fd(&root);
	}
	if (++w->steps % UNDO_STEPS_PER_LOCK == 0) {
		trash_unlock(w->t);
		trash_let_waiters_in(w->t);
		trash_lock(w->t);
		/* a hold placed meanwhile stops the undo here */
		if (trash_may_leave_locked(w->t, w->scope, w->name) == -EPERM)
			return -EPERM;
	}
	return w->fn ? w->fn(w->arg, step, to, renamed, err) : 0;
}

/* Undo one op under t->lock (let go every UNDO_STEPS_PER_LOCK steps);
 * an op it empties is dropped from the index through b (NULL: at once). */
static int undo_locked(struct trash *t, struct drop_batch *b, const char *scope,
		       const char *name, const char *run, undo_progress_fn fn, void *arg,
		       struct undo_result *res)
{
	struct undo_wrap w = { .t = t, .scope = scope, .name = name, .fn = fn, .arg = arg,
			       .who = { .uid = 0, .gid = 0, .pid = (uint32_t)getpid() } };
	int r, slot = -1;

	/* the versions it takes paths back from (rename-over) go to an op of
	 * their own: "<time>-undo-<daemon pid>", root's */
	snprintf(w.who.cmd, sizeof(w.who.cmd), "undo");
	snprintf(w.who.cmdline, sizeof(w.who.cmdline), "gracectl undo op:%s/%s (the versions "
		 "that had replaced its files)", scope, name);
	for (int i = 0; i < 8 && slot < 0; i++) {
		if (!t->undoing[i].used) {
			slot = i;
			t->undoing[i].used = true;
			snprintf(t->undoing[i].scope, sizeof(t->undoing[i].scope), "%s", scope);
			snprintf(t->undoing[i].name, sizeof(t->undoing[i].name), "%s", name);
		}
	}
	if (slot < 0)
		return -EBUSY;   /* more concurrent undos than gracectl ever runs */
	for (struct op *op = t->ops; op; op = op->next) {
		if (!strcmp(op->rec.scope, scope) && !strcmp(op->rec.name, name)) {
			trash_op_close(t, op);
			break;
		}
	}
	/* held: frozen (-EPERM); purging: half gone (-EBUSY) */
	if ((r = trash_may_leave_locked(t, scope, name)) == 0) {
		if (run && *run &&
		    undo_runs_get(&t->undo_runs, run, sys.mono_ns() / 1000000000, &w.ov) < 0)
			w.ov = NULL;   /* plans as a lone undo: restores next to, never over */
		r = undo_op(t->backing_fd, scope, name, w.ov, undo_step_done, &w, res);
		t->last_undo_ns = sys.mono_ns();
		if (r != -ENOENT)
			trash_note_restore_locked(t, scope, name, NULL);
		/* Emptied (every step succeeded; the op was closed, so out of
		 * t->ops, above): it leaves the index now, through b, so
		 * `gracectl ls` right after `undo --execute` no longer lists it.
		 * Its directory, holding at most mirror directories, waits for
		 * the settle (trash_tick), which writes a recounted record back
		 * if anything was left in it after all. */
		if (r == 0)
			drop_op(t, b, scope, name);
		for (struct op *op = t->ops; w.newop[0] && op; op = op->next) {
			if (!strcmp(op->rec.scope, scope) && !strcmp(op->rec.name, w.newop)) {
				trash_op_close(t, op);   /* this undo is done replacing */
				break;
			}
		}
	}
	t->undoing[slot].used = false;
	return r;
}

int trash_undo(struct trash *t, const char *scope, const char *name, const char *run,
	       undo_progress_fn fn, void *arg, struct undo_result *res)
{
	int r;

	trash_lock(t);
	r = undo_locked(t, NULL, scope, name, run, fn, arg, res);
	trash_unlock(t);
	if (r != -ENOENT && t->conf.on_undone)
		t->conf.on_undone(t->conf.cb_arg);
	return r;
}

/* Ops of a batch undone between two lets-go of the lock (each op's steps
 * count too: undo_step_done lets go every UNDO_STEPS_PER_LOCK steps). */
#define UNDO_OPS_PER_LOCK 64

int trash_undo_many(struct trash *t, const char *scope, const char *const *names, size_t n,
		    const char *run, undo_progress_fn fn, void *const *args,
		    struct undo_result *res, int *rc)
{
	struct drop_batch *b = malloc(sizeof(*b));   /* NULL: dropped one by one */
	bool any = false;

	if (b)
		b->n = 0;
	trash_lock(t);
	for (size_t i = 0; i < n; i++) {
		if (i && i % UNDO_OPS_PER_LOCK == 0) {
			if (b)
				trash_drop_flush(t, b);
			trash_unlock(t);
			trash_let_waiters_in(t);
			trash_lock(t);
		}
		memset(&res[i], 0, sizeof(res[i]));
		rc[i] = undo_locked(t, b, scope, names[i], run, fn, args[i], &res[i]);
		any |= rc[i] != -ENOENT;
	}
	if (b)
		trash_drop_flush(t, b);
	trash_unlock(t);
	free(b);
	if (any && t->conf.on_undone)
		t->conf.on_undone(t->conf.cb_arg);
	return 0;
}
