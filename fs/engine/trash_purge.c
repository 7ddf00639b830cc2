/*
 * trash_purge.c — legal holds on ops, purging (bounded steps), usage and
 * counters.
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
#include "store/tlink.h"
#include "engine/trash_int.h"
#include "lib/util.h"

/* ---- holds, usage, purging ------------------------------------------------ */

/* Change a closed or open op's record under the lock: fn edits it, or
 * returns 1 when there is nothing to change (nothing is written, and
 * op_update returns 1 too).  0 or -errno otherwise. */
static int op_update(struct trash *t, const char *scope, const char *name,
		     int (*fn)(struct op_record *r, void *arg), void *arg)
{
	struct op_record rec;
	char buf[OPREC_ENC_MAX];
	int tfd, ofd, r, len;

	for (struct op *op = t->ops; op; op = op->next) {
		if (!strcmp(op->rec.scope, scope) && !strcmp(op->rec.name, name)) {
			if ((r = fn(&op->rec, arg)) != 0)
				return r;   /* 1: unchanged, nothing to store */
			return trash_op_store(t, op);
		}
	}
	if ((tfd = trash_scope_open(t, scope, false)) < 0)
		return tfd;
	ofd = open_dir(tfd, name);
	close(tfd);
	if (ofd < 0)
		return ofd;
	r = trash_rec_read(ofd, &rec);
	if (r == 0) {
		snprintf(rec.scope, sizeof(rec.scope), "%s", scope);
		snprintf(rec.name, sizeof(rec.name), "%s", name);
		r = fn(&rec, arg);
	}
	if (r == 1) {   /* unchanged */
		close(ofd);
		return 1;
	}
	if (r == 0 && (len = oprec_encode(&rec, buf, sizeof(buf))) < 0)
		r = len;
	if (r == 0 && fsetxattr(ofd, OPREC_XATTR, buf, (size_t)len, 0) < 0)
		r = -errno;
	close(ofd);
	return r ? r : index_put(t->ix, &rec);
}

struct hold_bit {
	uint32_t bit;
	bool on;
};

/* Set or clear reasons to hold (OPREC_HOLD_* bits), leaving the others. */
static int set_hold(struct op_record *r, void *arg)
{
	const struct hold_bit *h = arg;
	uint32_t now = h->on ? r->hold | h->bit : r->hold & ~h->bit;

	if (now == r->hold)
		return 1;
	r->hold = now;
	return 0;
}

int trash_op_set_hold(struct trash *t, const char *scope, const char *name, bool hold)
{
	/* a hold is the operator's; a release lifts every reason, the brake's
	 * too: the operator has looked at this op */
	struct hold_bit h = { hold ? OPREC_HOLD_LEGAL : OPREC_HOLD_LEGAL | OPREC_HOLD_BRAKE, hold };
	int r;

	trash_lock(t);
	r = op_update(t, scope, name, set_hold, &h);
	trash_unlock(t);
	return r > 0 ? 0 : r;
}

/* The keys of a run's ops that need the change (records are large: keep
 * only their keys). */
struct run_keys {
	const char *run;
	struct hold_bit h;
	size_t n, cap;
	struct { char scope[NAME_MAX + 1], name[NAME_MAX + 1]; } *v;
};

static int add_key(struct run_keys *k, const char *scope, const char *name)
{
	if (k->n == k->cap) {
		size_t cap = k->cap ? 2 * k->cap : 16;
		void *v = realloc(k->v, cap * sizeof(*k->v));

		if (!v)
			return -ENOMEM;
		k->v = v;
		k->cap = cap;
	}
	snprintf(k->v[k->n].scope, sizeof(k->v[k->n].scope), "%s", scope);
	snprintf(k->v[k->n].name, sizeof(k->v[k->n].name), "%s", name);
	k->n++;
	return 0;
}

static int run_key(const struct op_record *r, void *arg)
{
	struct run_keys *k = arg;

	if (strcmp(r->run, k->run) || ((r->hold & k->h.bit) != 0) == k->h.on)
		return 0;
	return add_key(k, r->scope, r->name);
}

/*
 * Every op of run, open (in memory) or in the index: the brake's hold on
 * or off.  One op at a time, each as trash_op_set_hold does (xattr, then
 * index): a crash part way leaves some ops changed and some not; the
 * caller makes that safe (brake.h: the braked set is kept before holding
 * and after releasing, and holds are re-applied at mount).
 */
int trash_run_set_brake(struct trash *t, const char *run, bool on, size_t *n)
{
	struct run_keys k = { .run = run, .h = { OPREC_HOLD_BRAKE, on } };
	int r = 0, e;

	if (n)
		*n = 0;
	if (!run || !*run)
		return -EINVAL;
	trash_lock(t);
	for (struct op *op = t->ops; op && r == 0; op = op->next)
		if (!strcmp(op->rec.run, run) && ((op->rec.hold & OPREC_HOLD_BRAKE) != 0) != on)
			r = add_key(&k, op->rec.scope, op->rec.name);
	if (r == 0 && (r = index_foreach(t->ix, NULL, run_key, &k)) > 0)
		r = -EIO;
	for (size_t i = 0; i < k.n; i++) {
		/* an op gone meanwhile (purged, restored away) needs nothing */
		if ((e = op_update(t, k.v[i].scope, k.v[i].name, set_hold, &k.h)) == 0) {
			if (n)
				(*n)++;
		} else if (e < 0 && e != -ENOENT && !r) {
			r = e;
		}
	}
	trash_unlock(t);
	free(k.v);
	return r;
}

/* Legal hold on an op record or on its site.  Root-scope ops (deleted
 * sites) carry their sites' holds in their own record (trash_scope_drop). */
static bool held(struct trash *t, const struct op_record *r, const char *scope)
{
	struct site_policy p;

	return (r && r->hold) ||
	       (*scope && sitepolicy_get(t->backing_fd, scope, &p) == 0 && p.hold);
}

int trash_may_leave_locked(struct trash *t, const char *scope, const char *name)
{
	struct op_record rec;
	bool known = trash_op_lookup(t, scope, name, &rec) == 0;

	if (held(t, known ? &rec : NULL, scope))
		return -EPERM;   /* legal hold freezes: restore is a copy */
	if (known && rec.state == OP_PURGING)
		return -EBUSY;   /* half gone: never restored as if complete */
	return 0;
}

int trash_may_leave(struct trash *t, const char *scope, const char *name)
{
	int r;

	trash_lock(t);
	r = trash_may_leave_locked(t, scope, name);
	trash_unlock(t);
	return r;
}

static int begin_purge(struct op_record *r, void *arg)
{
	if (r->hold)
		return -EPERM;   /* legal hold: never purged */
	r->state = OP_PURGING;
	return 0;
}

/*
 * Purging an op.  Steps: 1 record state PURGING (xattr, then index);
 * 2 remove its tree in bounded steps, deepest entries first; 3 rmdir the
 * op dir; 4 drop the index record.  Crash after 1 or during 2: the op is
 * still PURGING in its xattr; reconcile keeps that state and the sweeper
 * resumes.  After 3: reconcile drops the record.  Each step restarts from
 * the op directory and holds no fd across steps, so an item restored
 * (moved out) between steps is never touched -- though nothing can be:
 * a PURGING op refuses every restore (trash_may_leave).  Each step first
 * re-reads the op's and the site's hold: a hold placed meanwhile stops the
 * purge, leaving the op PURGING and held (nothing leaves it, nothing more
 * is removed; after a release the sweeper finishes it).
 */
int trash_purge_begin(struct trash *t, const char *scope, const char *name)
{
	int r = 0;

	trash_lock(t);
	for (struct op *op = t->ops; op; op = op->next)
		if (!strcmp(op->rec.scope, scope) && !strcmp(op->rec.name, name))
			r = -EBUSY;   /* still collecting deletions */
	for (int i = 0; i < 8; i++)
		if (t->undoing[i].used && !strcmp(t->undoing[i].scope, scope) &&
		    !strcmp(t->undoing[i].name, name))
			r = -EBUSY;   /* being restored right now */
	if (!r && held(t, NULL, scope))
		r = -EPERM;   /* the site is under legal hold */
	if (!r)
		r = op_update(t, scope, name, begin_purge, NULL);
	trash_unlock(t);
	return r;
}

/* Remove up to *budget entries below dirfd, deepest first.  Never follows
 * symlinks; a directory on another filesystem stops it with -EXDEV.
 * ix: the index while the op holds counted names (else NULL): a purged
 * name of a multi-link file is uncounted (1 key, 2 unlink, 3 count -1;
 * see tlink.c) and rl->fn told. */
struct relinked {
	const char *op;
	void (*fn)(void *arg, dev_t dev, ino_t ino);
	void *arg;
};

static int purge_some(int dirfd, dev_t dev, unsigned depth, unsigned *budget,
		      uint64_t *removed, struct index *ix, const struct relinked *relinked)
{
	DIR *d = dir_stream(dirfd);
	struct dirent *de;
	int r = 0;

	if (!d)
		return -errno;
	while (*budget && !r && (de = readdir(d))) {
		struct stat st = { .st_mode = S_IFREG };

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		/* the entry type saves a stat per file; directories need one
		 * (their device), and so does a filesystem without d_type */
		if ((de->d_type == DT_DIR || de->d_type == DT_UNKNOWN || ix) &&
		    fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		struct tlink_key k;
		bool counted = ix && !S_ISDIR(st.st_mode) && st.st_nlink > 1 &&
			       tlink_key_at(dirfd, de->d_name, &k) == 0;
		if (S_ISDIR(st.st_mode)) {
			int sub;

			if (st.st_dev != dev || depth > 4096) {
				r = -EXDEV;   /* a mount inside trash: refuse, never walk */
				break;
			}
			if ((sub = open_dir_here(dirfd, de->d_name)) < 0) {
				r = sub;   /* -EXDEV for a bind mount of this fs */
				break;
			}
			r = purge_some(sub, dev, depth + 1, budget, removed, ix, relinked);
			close(sub);
			if (r || !*budget)
				break;
		}
		if (unlinkat(dirfd, de->d_name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0) {
			r = -errno;
			break;
		}
		if (counted) {
			tlink_purged(ix, relinked->op, &k);
			if (relinked->fn)
				relinked->fn(relinked->arg, st.st_dev, st.st_ino);
		}
		(*budget)--;
		(*removed)++;
	}
	closedir(d);
	return r;
}

int trash_purge_step(struct trash *t, const char *scope, const char *name,
		     unsigned budget, bool *done, uint64_t *removed)
{
	struct op_record rec;
	int tfd, ofd, r;

	*done = false;
	trash_lock(t);
	/* a hold placed since the last step stops the purge here */
	if (held(t, index_get(t->ix, scope, name, &rec) == 0 ? &rec : NULL, scope)) {
		r = -EPERM;
		goto out;
	}
	if ((tfd = trash_scope_open(t, scope, false)) < 0) {
		r = tfd == -ENOENT ? 0 : tfd;
		*done = tfd == -ENOENT;
		goto out;
	}
	if ((ofd = open_dir(tfd, name)) < 0) {
		*done = ofd == -ENOENT;
		r = *done ? index_del(t->ix, scope, name) : ofd;
		if (r == -ENOENT)
			r = 0;
		close(tfd);
		goto out;
	}
	struct relinked rl = { name, t->conf.on_relinked, t->conf.cb_arg };
	r = purge_some(ofd, t->dev, 0, &budget, removed,
		       tlink_op_holds(t->ix, name) ? t->ix : NULL, &rl);
	close(ofd);
	if (!r && budget) {   /* the tree is empty: the op goes */
		if (unlinkat(tfd, name, AT_REMOVEDIR) < 0) {
			r = -errno;
		} else {
			*done = true;
			t->counters.purged++;
			index_tlop_add(t->ix, name, -(int32_t)INT32_MAX);   /* none left */
			r = index_del(t->ix, scope, name);
			if (r == -ENOENT)
				r = 0;
			if (t->conf.on_removed)
				t->conf.on_removed(t->conf.cb_arg, tfd, name);
		}
	}
	close(tfd);
out:
	trash_unlock(t);
	trash_let_waiters_in(t);   /* callers loop: FUSE threads and holds go first */
	return r;
}

void trash_usage_add(struct trash_usage *u, const struct op_record *r)
{
	int64_t exp = oprec_expiry(r);

	u->ops++;
	u->items += r->items;
	u->bytes += r->bytes;
	if (!u->oldest_ns || r->first_ns < u->oldest_ns)
		u->oldest_ns = r->first_ns;
	if (!r->hold && (!u->next_expiry_s || exp < u->next_expiry_s))
		u->next_expiry_s = exp;
}

struct usage_walk {
	struct trash *t;
	struct trash_usage *u;
	int64_t uid;   /* -1: every op */
};

static int usage_of_closed(const struct op_record *r, void *arg)
{
	struct usage_walk *w = arg;

	if (w->uid >= 0 && r->uid != (uint32_t)w->uid)
		return 0;
	for (struct op *op = w->t->ops; op; op = op->next)
		if (!strcmp(op->rec.scope, r->scope) && !strcmp(op->rec.name, r->name))
			return 0;   /* open: counted from memory, which is newer */
	trash_usage_add(w->u, r);
	return 0;
}

struct usage_all {
	struct trash *t;
	char scope[NAME_MAX + 1];
	struct trash_usage u;
	bool have;
	int (*fn)(void *arg, const char *scope, const struct trash_usage *u);
	void *arg;
};

static int usage_all_step(const struct op_record *r, void *arg)
{
	struct usage_all *a = arg;
	int rc = 0;

	if (a->have && strcmp(a->scope, r->scope)) {   /* records come grouped by scope */
		rc = a->fn(a->arg, a->scope, &a->u);
		a->have = false;
	}
	if (!a->have) {
		memset(&a->u, 0, sizeof(a->u));
		snprintf(a->scope, sizeof(a->scope), "%s", r->scope);
		a->have = true;
	}
	trash_usage_add(&a->u, r);
	return rc;
}

int trash_usage_all(struct trash *t,
		    int (*fn)(void *arg, const char *scope, const struct trash_usage *u),
		    void *arg)
{
	struct usage_all a = { .t = t, .fn = fn, .arg = arg };
	int r;

	trash_lock(t);
	for (struct op *op = t->ops; op; op = op->next)
		if (op->dirty)
			trash_op_store(t, op);   /* the index is current for this walk */
	r = index_foreach(t->ix, NULL, usage_all_step, &a);
	trash_unlock(t);
	if (r == 0 && a.have)
		r = fn(arg, a.scope, &a.u);
	return r;
}

void trash_get_counters(struct trash *t, struct trash_counters *c)
{
	trash_lock(t);
	*c = t->counters;
	trash_unlock(t);
}

static int usage_by(struct trash *t, const char *scope, int64_t uid, struct trash_usage *u)
{
	struct usage_walk w = { t, u, uid };
	int r;

	memset(u, 0, sizeof(*u));
	trash_lock(t);
	for (struct op *op = t->ops; op; op = op->next)
		if (!strcmp(op->rec.scope, scope) && (uid < 0 || op->rec.uid == (uint32_t)uid))
			trash_usage_add(u, &op->rec);
	r = index_foreach(t->ix, scope, usage_of_closed, &w);
	trash_unlock(t);
	return r < 0 ? r : 0;
}

int trash_usage(struct trash *t, const char *scope, struct trash_usage *u)
{
	return usage_by(t, scope, -1, u);
}

int trash_usage_of_uid(struct trash *t, const char *scope, uid_t uid, struct trash_usage *u)
{
	return usage_by(t, scope, uid, u);
}
