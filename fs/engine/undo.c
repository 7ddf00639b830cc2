/*
 * undo — plan and carry out the restore of a whole op (see undo.h).
 *
 * Crash ordering: each step is one mkdirat or one renameat2 in the backing
 * store.  A crash between steps leaves some items restored and the rest in
 * the op, every item whole in exactly one place; running the undo again
 * plans only what is still in the op.  Recreated parents are empty
 * directories at worst.  The emptied mirror directories stay in the op
 * until the trash engine prunes them.  A merged directory (see undo.h) is
 * removed from the op only once its entries are out; a crash before that
 * leaves it in the op with what was not yet moved, and the next undo —
 * which no longer knows the run — restores the rest next to the live
 * directory as NAME.restored-<op>.  Directory times are set after every
 * step (one utimensat each); a crash before leaves restore-time mtimes.
 * A rename-over's replacement is moved into its new op by the caller after
 * the swap (trash_restore.c, undo_displace, has that crash order).
 *
 * Threading: none; every function works on its own fds and memory.
 */
#include <dirent.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "lib/sys.h"
#include "engine/trash.h"
#include "engine/undo.h"
#include "engine/undo_int.h"

#define PATH_BYTES RELPATH_MAX_BYTES
#define LIVE_LIST_MIN 32          /* op entries from which the live dir is listed */
#define LIVE_LIST_MAX (1u << 20)  /* a larger live dir is looked up name by name */

static int open_dir(int dirfd, const char *name, int flags)
{
	int fd = openat(dirfd, name, flags | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static bool valid_name(const char *s)
{
	size_t n = strnlen(s, NAME_MAX + 1);

	return n > 0 && n <= NAME_MAX && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

/* The scope root (site dir or BACKING) and the op dir, as new fds. */
static int open_scope(int backing_fd, const char *scope, const char *op, int *root, int *opdir)
{
	int t;

	*root = *opdir = -1;
	if ((*scope && !valid_name(scope)) || !valid_name(op))
		return -EINVAL;
	*root = open_dir(backing_fd, *scope ? scope : ".", O_PATH);
	if (*root < 0)
		return *root;
	t = open_dir(*root, *scope ? TRASH_NAME : TRASH_STATE_DIR, O_PATH);
	if (t >= 0 && !*scope) {   /* BACKING/.gracefs/trash, one level at a time */
		int t2 = open_dir(t, "trash", O_PATH);

		close(t);
		t = t2;
	}
	if (t >= 0) {
		*opdir = open_dir(t, op, O_RDONLY);
		close(t);
	} else {
		*opdir = t;
	}
	if (*opdir < 0) {
		int r = *opdir;

		close(*root);
		*root = *opdir = -1;
		return r;
	}
	return 0;
}

static bool exists_at(int dirfd, const char *name)
{
	struct stat st;

	return dirfd >= 0 && (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ||
			      errno != ENOENT);
}

/* NAME.restored-<op>[-k] for try k (1-based) into out.  0 or -ENAMETOOLONG. */
static int suffixed(const char *name, const char *op, unsigned k, char *out, size_t cap)
{
	int n = k == 1 ? snprintf(out, cap, "%s.restored-%s", name, op)
		       : snprintf(out, cap, "%s.restored-%s-%u", name, op, k);

	return n < 0 || (size_t)n >= cap || n > NAME_MAX ? -ENAMETOOLONG : 0;
}

/* A free NAME.restored-<op>[-k] in dirfd.  0, -ENAMETOOLONG or -EEXIST. */
static int free_name(int dirfd, const char *name, const char *op, char *out, size_t cap)
{
	for (unsigned k = 1; k <= UNDO_SUFFIX_MAX; k++) {
		int r = suffixed(name, op, k, out, cap);

		if (r < 0)
			return r;
		if (!exists_at(dirfd, out))
			return 0;
	}
	return -EEXIST;
}

/* ---- overlays ---- */

struct ov_entry {
	char *key;     /* scope '\1' path */
	char *src;     /* dry run: where a directory's contents (or a file) are now */
	bool dir;
	ino_t ino;     /* dry run: the file a rename-over's undo puts there (0: see src) */
};

struct undo_overlay {
	struct ov_entry *v;   /* open addressing, cap a power of two */
	size_t n, cap;
};

static uint64_t ov_hash(const char *scope, const char *path)
{
	uint64_t h = UINT64_C(1469598103934665603);

	for (const char *p = scope; *p; p++)
		h = (h ^ (unsigned char)*p) * UINT64_C(1099511628211);
	h = (h ^ 1) * UINT64_C(1099511628211);
	for (const char *p = path; *p; p++)
		h = (h ^ (unsigned char)*p) * UINT64_C(1099511628211);
	return h;
}

static bool ov_key_is(const char *key, const char *scope, const char *path)
{
	size_t n = strlen(scope);

	return !strncmp(key, scope, n) && key[n] == '\1' && !strcmp(key + n + 1, path);
}

static struct ov_entry *ov_slot(const struct undo_overlay *ov, const char *scope,
				const char *path)
{
	size_t i = ov_hash(scope, path) & (ov->cap - 1);

	while (ov->v[i].key && !ov_key_is(ov->v[i].key, scope, path))
		i = (i + 1) & (ov->cap - 1);
	return &ov->v[i];
}

int undo_overlay_new(struct undo_overlay **ov)
{
	*ov = calloc(1, sizeof(**ov));
	if (*ov && !((*ov)->v = calloc(64, sizeof(*(*ov)->v)))) {
		free(*ov);
		*ov = NULL;
	}
	if (!*ov)
		return -ENOMEM;
	(*ov)->cap = 64;
	return 0;
}

void undo_overlay_free(struct undo_overlay *ov)
{
	if (!ov)
		return;
	for (size_t i = 0; i < ov->cap; i++) {
		free(ov->v[i].key);
		free(ov->v[i].src);
	}
	free(ov->v);
	free(ov);
}

size_t undo_overlay_count(const struct undo_overlay *ov)
{
	return ov ? ov->n : 0;
}

static int ov_grow(struct undo_overlay *ov)
{
	struct undo_overlay big = { calloc(2 * ov->cap, sizeof(*ov->v)), 0, 2 * ov->cap };

	if (!big.v)
		return -ENOMEM;
	for (size_t i = 0; i < ov->cap; i++) {
		char *k = ov->v[i].key, *sep;
		size_t j;

		if (!k)
			continue;
		sep = strchr(k, '\1');
		*sep = '\0';
		j = ov_hash(k, sep + 1) & (big.cap - 1);
		*sep = '\1';
		while (big.v[j].key)
			j = (j + 1) & (big.cap - 1);
		big.v[j] = ov->v[i];
	}
	free(ov->v);
	ov->v = big.v;
	ov->cap = big.cap;
	return 0;
}

int undo_overlay_add(struct undo_overlay *ov, const char *scope, const char *path, bool dir,
		     const char *src)
{
	struct ov_entry *e;
	char *key, *copy = NULL;

	if (ov->n >= UNDO_MAX_STEPS)
		return -ENOMEM;
	if (2 * (ov->n + 1) > ov->cap && ov_grow(ov) < 0)
		return -ENOMEM;
	if (src && !(copy = strdup(src)))
		return -ENOMEM;
	e = ov_slot(ov, scope, path);
	if (e->key) {   /* seen again: the latest wins */
		free(e->src);
		e->src = copy;
		e->dir = dir;
		e->ino = 0;
		return 0;
	}
	if (asprintf(&key, "%s\1%s", scope, path) < 0) {
		free(copy);
		return -ENOMEM;
	}
	*e = (struct ov_entry){ key, copy, dir, 0 };
	ov->n++;
	return 0;
}

static const struct ov_entry *ov_get(const struct undo_overlay *ov, const char *scope,
				     const char *path)
{
	const struct ov_entry *e = ov && ov->n ? ov_slot(ov, scope, path) : NULL;

	return e && e->key ? e : NULL;
}

/* Did the run put path there: it, or a directory above it, is recorded? */
static bool ov_in_run(const struct undo_overlay *ov, const char *scope, const char *path)
{
	char buf[PATH_BYTES];
	char *slash;

	if (!ov || !ov->n)
		return false;
	snprintf(buf, sizeof(buf), "%s", path);
	for (;;) {
		const struct ov_entry *e = ov_get(ov, scope, buf);

		if (e)
			return e->dir || !strcmp(buf, path);
		if (!(slash = strrchr(buf, '/')))
			return false;
		*slash = '\0';
	}
}

/* Redirects: a directory the run put back under another name (its name
 * was taken: NAME.restored-<op>, or below such a one).  Kept under the
 * scope with '\2' appended, so they never answer ov_get's "what is at
 * this path".  Older ops of the run follow their parent there instead of
 * writing into what now holds the original name (a tenant's new tree). */
#define REDIR_SCOPE_MAX (NAME_MAX + 2)

static int ov_redirect_add(struct undo_overlay *ov, const char *scope, const char *from,
			   const char *to)
{
	char rs[REDIR_SCOPE_MAX + 1];

	snprintf(rs, sizeof(rs), "%s\2", scope);
	return undo_overlay_add(ov, rs, from, true, to);
}

/* Where the run put the directory whose original path is `from`, or NULL. */
static const char *ov_redirect(const struct undo_overlay *ov, const char *scope,
			       const char *from)
{
	char rs[REDIR_SCOPE_MAX + 1];
	const struct ov_entry *e;

	if (!ov || !ov->n)
		return NULL;
	snprintf(rs, sizeof(rs), "%s\2", scope);
	e = ov_get(ov, rs, from);
	return e ? e->src : NULL;
}

struct undo_runs {
	struct {
		char id[NAME_MAX + 1];
		int64_t used_s;
		struct undo_overlay *ov;
	} v[UNDO_RUNS_MAX];
};

int undo_runs_get(struct undo_runs **runs, const char *id, int64_t now_s,
		  struct undo_overlay **ov)
{
	struct undo_runs *u;
	int k = -1, r;

	if (!*id || strlen(id) > NAME_MAX)
		return -EINVAL;
	if (!*runs && !(*runs = calloc(1, sizeof(**runs))))
		return -ENOMEM;
	u = *runs;
	for (int i = 0; i < UNDO_RUNS_MAX; i++) {
		if (u->v[i].ov && now_s - u->v[i].used_s > UNDO_RUN_IDLE_S) {
			undo_overlay_free(u->v[i].ov);
			u->v[i].ov = NULL;
		}
		if (u->v[i].ov && !strcmp(u->v[i].id, id)) {
			u->v[i].used_s = now_s;
			*ov = u->v[i].ov;
			return 0;
		}
		if (k < 0 || !u->v[i].ov || (u->v[k].ov && u->v[i].used_s < u->v[k].used_s))
			k = u->v[i].ov && k >= 0 && !u->v[k].ov ? k : i;
	}
	undo_overlay_free(u->v[k].ov);
	u->v[k].ov = NULL;
	if ((r = undo_overlay_new(&u->v[k].ov)) < 0)
		return r;
	snprintf(u->v[k].id, sizeof(u->v[k].id), "%s", id);
	u->v[k].used_s = now_s;
	*ov = u->v[k].ov;
	return 0;
}

void undo_runs_free(struct undo_runs *runs)
{
	for (int i = 0; runs && i < UNDO_RUNS_MAX; i++)
		undo_overlay_free(runs->v[i].ov);
	free(runs);
}

/* Where the op's items are, relative to the backing store. */
static int op_root(const char *scope, const char *op, char *buf, size_t cap)
{
	int n = *scope ? snprintf(buf, cap, "%s/%s/%s", scope, TRASH_NAME, op)
		       : snprintf(buf, cap, "%s/trash/%s", TRASH_STATE_DIR, op);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int undo_overlay_note_plan(struct undo_overlay *ov, const struct undo_plan *p)
{
	char root[PATH_BYTES], src[2 * PATH_BYTES];
	int r = op_root(p->scope, p->op, root, sizeof(root));

	for (size_t i = 0; i < p->n && !r; i++) {
		const struct undo_step *s = &p->steps[i];
		bool dir = S_ISDIR(s->mode);

		if (s->kind == UNDO_MERGED)
			continue;
		snprintf(src, sizeof(src), "%s/%s", root, s->from);
		r = undo_overlay_add(ov, p->scope, s->to, dir, s->kind != UNDO_MKDIR ? src : NULL);
		/* a file put back over its replacement: an older op's
		 * rename-over of that file sees it there (a chain of sed -i) */
		if (!r && s->kind == UNDO_REPLACE && s->self_ino)
			ov_slot(ov, p->scope, s->to)->ino = s->self_ino;
		if (!r && dir && strcmp(s->from, s->to))
			r = ov_redirect_add(ov, p->scope, s->from, s->to);
	}
	return r;
}

int undo_overlay_note_step(struct undo_overlay *ov, const char *scope,
			   const struct undo_step *s, const char *to)
{
	int r;

	/* only directories matter once things are really in place */
	if (s->kind == UNDO_MERGED || !S_ISDIR(s->mode))
		return 0;
	r = undo_overlay_add(ov, scope, to, true, NULL);
	if (!r && strcmp(s->from, to))
		r = ov_redirect_add(ov, scope, s->from, to);
	return r;
}

/* ---- planning ---- */

struct walk {
	struct undo_plan *p;
	const struct undo_overlay *ov;
	int backing_fd;
	char from[PATH_BYTES], to[PATH_BYTES];
	dev_t dev;
};

static int add_step(struct undo_plan *p, enum undo_kind kind, const char *from, const char *to,
		    const struct stat *st)
{
	struct undo_step *s;

	if (p->n == p->cap) {
		size_t ncap = p->cap ? 2 * p->cap : 64;
		void *nv;

		if (p->n >= UNDO_MAX_STEPS)
			return -E2BIG;
		if (!(nv = realloc(p->steps, ncap * sizeof(*p->steps))))
			return -ENOMEM;
		p->steps = nv;
		p->cap = ncap;
	}
	s = &p->steps[p->n];
	*s = (struct undo_step){ kind, strdup(from), strdup(to), st->st_mode, st->st_uid, st->st_gid };
	if (!s->from || !s->to) {
		free(s->from);
		free(s->to);
		return -ENOMEM;
	}
	p->n++;
	*(kind == UNDO_MKDIR ? &p->mkdirs : kind == UNDO_MOVE ? &p->moves :
	  kind == UNDO_MERGED ? &p->merges : kind == UNDO_REPLACE ? &p->replaces :
	  &p->renames) += 1;
	p->follows += kind == UNDO_MOVE && strcmp(from, to);
	return 0;
}

/* Set to's times to ts once the steps are done (struct undo_times). */
static int add_times(struct undo_plan *p, const char *to, const struct timespec ts[2])
{
	if (p->ntimes == p->times_cap) {
		size_t ncap = p->times_cap ? 2 * p->times_cap : 16;
		void *nv;

		if (p->ntimes >= UNDO_MAX_STEPS)
			return -E2BIG;
		if (!(nv = realloc(p->times, ncap * sizeof(*p->times))))
			return -ENOMEM;
		p->times = nv;
		p->times_cap = ncap;
	}
	if (!(p->times[p->ntimes].to = strdup(to)))
		return -ENOMEM;
	p->times[p->ntimes].ts[0] = ts[0];
	p->times[p->ntimes++].ts[1] = ts[1];
	return 0;
}

/* Append "/name" (or "name" at the top) to buf at len.  New length or
 * -ENAMETOOLONG. */
static int push(char *buf, size_t len, const char *name)
{
	int n = snprintf(buf + len, PATH_BYTES - len, "%s%s", len ? "/" : "", name);

	return n < 0 || len + (size_t)n >= PATH_BYTES ? -ENAMETOOLONG : (int)(len + (size_t)n);
}

/* A directory's entries (. and .. left out), sorted by name; each string
 * is its d_type byte followed by the name. */
struct dirlist {
	char **v;
	size_t n;
};

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a + 1, *(char *const *)b + 1);
}

static void list_free(struct dirlist *l)
{
	while (l->n)
		free(l->v[--l->n]);
	free(l->v);
	l->v = NULL;
}

/* List fd, a directory we opened for reading and have not read yet (it
 * is left at its end); more than max entries gives -E2BIG.  0 or -errno
 * — a failed read is an error, never a short listing.  getdents64 on the
 * fd itself: no DIR (its fstat and fcntls) and no second open, for the
 * tens of thousands of small op directories of a bulk undo. */
static int list_fd(int fd, size_t max, struct dirlist *l)
{
	char buf[16384] __attribute__((aligned(8)));
	size_t cap = 0;
	ssize_t got;
	int r = 0;

	*l = (struct dirlist){0};
	while (!r && (got = getdents64(fd, buf, sizeof(buf))) != 0) {
		if (got < 0) {
			r = -errno;
			break;
		}
		for (ssize_t off = 0; off < got && !r;) {
			const struct dirent64 *de = (const struct dirent64 *)(buf + off);
			size_t len = strlen(de->d_name);

			off += de->d_reclen;
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if (l->n == cap) {
				void *nv = cap >= max ? NULL :
					   realloc(l->v, (cap ? 2 * cap : 32) * sizeof(*l->v));

				if (!nv) {
					r = cap >= max ? -E2BIG : -ENOMEM;
					break;
				}
				l->v = nv;
				cap = cap ? 2 * cap : 32;
			}
			if (!(l->v[l->n] = malloc(len + 2))) {
				r = -ENOMEM;
				break;
			}
			l->v[l->n][0] = (char)de->d_type;
			memcpy(l->v[l->n++] + 1, de->d_name, len + 1);
		}
	}
	if (r < 0)
		list_free(l);
	else if (l->n)
		qsort(l->v, l->n, sizeof(*l->v), cmp_names);
	return r;
}

/* List dirfd (an O_PATH fd will do: the directory is opened anew for
 * reading).  As list_fd. */
static int list_dir(int dirfd, size_t max, struct dirlist *l)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;

	*l = (struct dirlist){0};
	if (fd < 0)
		return -errno;
	r = list_fd(fd, max, l);
	close(fd);
	return r;
}

static bool list_has(const struct dirlist *l, const char *name)
{
	char key[NAME_MAX + 2], *k = key;

	snprintf(key + 1, sizeof(key) - 1, "%s", name);
	return l->n && bsearch(&k, l->v, l->n, sizeof(*l->v), cmp_names);
}

static int walk_dir(struct walk *w, int odir, int live, size_t flen, size_t tlen, unsigned depth);

/* One entry of op directory odir (its d_type: type), whose live twin
 * directory is live (-1: missing, to be created; in a dry run, the
 * directory an earlier op of the run will restore there), listed in lv
 * (NULL: look names up one by one). */
static int walk_entry(struct walk *w, int odir, int live, const struct dirlist *lv,
		      size_t flen, size_t tlen, unsigned depth, const char *name, unsigned type)
{
	char alt[NAME_MAX + 1];
	struct stat st = { .st_mode = DTTOIF(type), .st_dev = w->dev }, lst;
	const struct ov_entry *ove;
	const char *redir, *base;
	int sub = -1, nf, nt, r;
	bool mirror = false, lpresent, present, tdir, merge, taken, replace = false;
	enum undo_rover ro = UNDO_RO_NO;
	ino_t rino = 0, self = 0, oino = 0;

	/* a non-directory is moved as it is: its type is all the plan needs */
	if ((type == DT_DIR || type == DT_UNKNOWN) &&
	    fstatat(odir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode) && st.st_dev == w->dev) {
		if ((sub = open_dir(odir, name, O_RDONLY)) < 0)
			return sub;
		mirror = fgetxattr(sub, TRASH_MIRROR_XATTR, NULL, 0) >= 0;
	}
	if ((nf = push(w->from, flen, name)) < 0 || (nt = push(w->to, tlen, name)) < 0) {
		r = -ENAMETOOLONG;
		goto out;
	}
	/* the run put this directory back under another name (its own was
	 * taken): follow it there, never into what holds the name now */
	if (sub >= 0 && (redir = ov_redirect(w->ov, w->p->scope, w->from)) &&
	    (base = strrchr(redir, '/') ? strrchr(redir, '/') + 1 : redir) - redir ==
	    (ptrdiff_t)(tlen ? tlen + 1 : 0) && !strncmp(redir, w->to, tlen) && valid_name(base)) {
		name = base;
		nt = push(w->to, tlen, name);
	}
	/* what is at the target: live, or put there by an earlier op of the run */
	ove = ov_get(w->ov, w->p->scope, w->to);
	/* one lookup for both questions (is it there, is it a directory) */
	r = live < 0 || (lv && !list_has(lv, name)) ? -ENOENT :
	    fstatat(live, name, &lst, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
	lpresent = live >= 0 && (lv ? list_has(lv, name) : r != -ENOENT);
	present = lpresent || ove;
	tdir = lpresent ? r == 0 && S_ISDIR(lst.st_mode) : ove && ove->dir;
	/* a deleted directory meets one the run itself put back: merge */
	merge = !mirror && sub >= 0 && present && tdir && ov_in_run(w->ov, w->p->scope, w->to);
	taken = present && !((mirror || merge) && tdir);
	/* the op's preserved copy of a file it truncated takes its path back */
	if (taken && lpresent && !mirror && !merge &&
	    undo_replaces_live(odir, live, name, type, w->p->op))
		taken = false, replace = true;
	/* a file a rename replaced takes its path back from its replacement
	 * (in a dry run, maybe the file an earlier op of the run puts there) */
	if (taken && !lpresent && ove && !ove->dir && !ove->ino && ove->src &&
	    fstatat(w->backing_fd, ove->src, &lst, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(lst.st_mode))
		oino = lst.st_ino;
	else if (ove && !ove->dir)
		oino = ove->ino;
	if (taken && (lpresent || oino) && !mirror && !merge && !replace &&
	    (ro = undo_renamed_over(odir, live, name, type, w->p->op, oino,
				     &rino, &self)) != UNDO_RO_NO &&
	    ro != UNDO_RO_CHANGED)
		taken = false, replace = true;
	if (taken) {
		if ((r = free_name(live, name, w->p->op, alt, sizeof(alt))) < 0)
			goto out;
		if ((nt = push(w->to, tlen, alt)) < 0) {
			r = -ENAMETOOLONG;
			goto out;
		}
	}
	if (!mirror && !merge) {
		r = add_step(w->p, replace ? UNDO_REPLACE : taken ? UNDO_RENAME : UNDO_MOVE,
			     w->from, w->to, &st);
		if (!r && ro != UNDO_RO_NO) {
			struct undo_step *s = &w->p->steps[w->p->n - 1];

			s->flags = ro == UNDO_RO_SWAP ? UNDO_F_TO_TRASH : ro == UNDO_RO_TRASH_ONLY ?
				   UNDO_F_TRASH_ONLY : UNDO_F_CHANGED;
			s->ino = rino;
			s->self_ino = self;
			w->p->changed += ro == UNDO_RO_CHANGED;
		}
	} else if (present && !taken) {   /* the twin exists (or will): descend into both */
		bool twin = lpresent || (ove && ove->src);
		int lsub = lpresent ? open_dir(live, name, O_PATH) :
			   twin ? open_dir(w->backing_fd, ove->src, O_PATH) : -1;
		struct timespec ts[2] = { st.st_atim, st.st_mtim };

		r = twin && lsub < 0 ? lsub : walk_dir(w, sub, lsub, (size_t)nf, (size_t)nt,
							depth + 1);
		if (lsub >= 0)
			close(lsub);
		w->from[nf] = w->to[nt] = '\0';
		if (!r && merge)
			r = add_step(w->p, UNDO_MERGED, w->from, w->to, &st);
		/* the twin is the run's own: it gets the times from before the
		 * op (a merged directory's are its own); a live directory the
		 * run did not restore keeps the time of the restore */
		if (!r && (merge || (mirror && ov_in_run(w->ov, w->p->scope, w->to) &&
				     trash_times_load(sub, ts) == 0)))
			r = add_times(w->p, w->to, ts);
	} else if (!(r = add_step(w->p, UNDO_MKDIR, w->from, w->to, &st))) {
		struct timespec ts[2];

		r = walk_dir(w, sub, -1, (size_t)nf, (size_t)nt, depth + 1);
		w->from[nf] = w->to[nt] = '\0';
		if (!r && trash_times_load(sub, ts) == 0)
			r = add_times(w->p, w->to, ts);
	}
out:
	if (sub >= 0)
		close(sub);
	return r;
}

static int walk_dir(struct walk *w, int odir, int live, size_t flen, size_t tlen, unsigned depth)
{
	struct dirlist ol, lv = {0};
	bool listed = false;
	int r;

	if (depth >= RELPATH_MAX_DEPTH)
		return -ENAMETOOLONG;
	/* odir is always a directory opened for reading just for this walk */
	if ((r = list_fd(odir, UNDO_MAX_STEPS, &ol)) < 0)
		return r;
	/* many items into one live directory: one listing beats a lookup each */
	if (live >= 0 && ol.n > LIVE_LIST_MIN)
		listed = list_dir(live, LIVE_LIST_MAX, &lv) == 0;
	for (size_t i = 0; i < ol.n && !r; i++) {
		const char *name = ol.v[i] + 1;
		/* never restore over the reserved names of a scope root */
		bool reserved = depth == 0 && (!strcmp(name, TRASH_NAME) ||
					       (!*w->p->scope && !strcmp(name, TRASH_STATE_DIR)));
		if (!reserved)
			r = walk_entry(w, odir, live, listed ? &lv : NULL, flen, tlen, depth, name,
				       (unsigned char)ol.v[i][0]);
	}
	list_free(&ol);
	list_free(&lv);
	return r;
}

int undo_plan(int backing_fd, const char *scope, const char *op, struct undo_plan *p)
{
	return undo_plan_over(backing_fd, scope, op, NULL, p);
}

int undo_plan_over(int backing_fd, const char *scope, const char *op,
		   const struct undo_overlay *ov, struct undo_plan *p)
{
	struct walk *w;
	struct stat st;
	int root, opdir, r;

	memset(p, 0, sizeof(*p));
	if ((r = open_scope(backing_fd, scope, op, &root, &opdir)) < 0)
		return r;
	if (!(w = malloc(sizeof(*w)))) {
		r = -ENOMEM;
		goto out;
	}
	snprintf(p->scope, sizeof(p->scope), "%s", scope);
	snprintf(p->op, sizeof(p->op), "%s", op);
	w->p = p;
	w->ov = ov;
	w->backing_fd = backing_fd;
	w->from[0] = w->to[0] = '\0';
	r = fstat(opdir, &st) < 0 ? -errno : 0;
	w->dev = st.st_dev;
	if (!r)
		r = walk_dir(w, opdir, root, 0, 0, 0);
	free(w);
	if (r < 0)
		undo_plan_release(p);
out:
	close(root);
	close(opdir);
	return r;
}

/* The walk above, cut down to the one case a hint may take (undo.h):
 * every directory on the way is live, nothing the run restored is on it,
 * the name is free.  Anything else: 1, and the caller walks. */
int undo_plan_hint(int backing_fd, const char *scope, const char *op, const char *path,
		   mode_t mode, const struct undo_overlay *ov, struct undo_plan *p)
{
	char pre[PATH_BYTES];
	size_t len = strlen(path);
	unsigned depth = 0;
	struct stat st;
	int root, r = 0;

	memset(p, 0, sizeof(*p));
	if (!*scope || !valid_name(scope) || !valid_name(op) || S_ISDIR(mode) || !len ||
	    len >= sizeof(pre) || (root = open_dir(backing_fd, scope, O_PATH)) < 0)
		return 1;
	memcpy(pre, path, len + 1);
	for (char *c = pre, *slash; !r; c = slash + 1) {
		if ((slash = strchr(c, '/')))
			*slash = '\0';
		/* a reserved name at the top, a path deeper than the walk goes,
		 * something of the run's on the way, a twin that is missing or
		 * not a directory, a taken name: the walk decides those */
		if (!valid_name(c) || ++depth >= RELPATH_MAX_DEPTH ||
		    (depth == 1 && !strcmp(c, TRASH_NAME)) ||
		    ov_get(ov, scope, pre) || ov_redirect(ov, scope, pre) ||
		    (fstatat(root, pre, &st, AT_SYMLINK_NOFOLLOW) == 0 ?
		     !slash || !S_ISDIR(st.st_mode) : errno != ENOENT || slash))
			r = 1;
		if (!slash)
			break;
		*slash = '/';
	}
	close(root);
	if (r)
		return r;
	snprintf(p->scope, sizeof(p->scope), "%s", scope);
	snprintf(p->op, sizeof(p->op), "%s", op);
	/* as the walk: a non-directory's step has its type only */
	st = (struct stat){ .st_mode = mode & S_IFMT };
	if ((r = add_step(p, UNDO_MOVE, path, path, &st)) < 0)
		undo_plan_release(p);
	return r;
}

void undo_plan_release(struct undo_plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->steps[i].from);
		free(p->steps[i].to);
	}
	free(p->steps);
	for (size_t i = 0; i < p->ntimes; i++)
		free(p->times[i].to);
	free(p->times);
	memset(p, 0, sizeof(*p));
}

/* ---- execution ---- */

/* The last parent directory opened below a base fd, by path. */
struct dircache {
	int fd;
	char path[PATH_BYTES];
};

/* Open the parent of `path` below base (cached); *leaf gets the last
 * component.  Returns a fd owned by the cache, or -errno. */
static int parent_of(struct dircache *c, int base, const char *path, const char **leaf)
{
	const char *slash = strrchr(path, '/');
	size_t dlen = slash ? (size_t)(slash - path) : 0;
	char buf[PATH_BYTES], *save, *comp;
	int fd;

	*leaf = slash ? slash + 1 : path;
	if (c->fd >= 0 && strlen(c->path) == dlen && !strncmp(c->path, path, dlen))
		return c->fd;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if ((fd = open_dir(base, ".", O_PATH)) < 0)
		return fd;
	memcpy(buf, path, dlen);
	buf[dlen] = '\0';
	for (comp = strtok_r(buf, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		int nfd = open_dir(fd, comp, O_PATH);

		close(fd);
		if ((fd = nfd) < 0)
			return fd;
	}
	memcpy(c->path, path, dlen);
	c->path[dlen] = '\0';
	return c->fd = fd;
}

static int do_mkdir(int parent, const char *name, const struct undo_step *s)
{
	struct stat st;
	int fd, r = 0;

	if (sys.mkdirat(parent, name, 0700) < 0) {
		r = -errno;
		/* made meanwhile (or by an earlier, interrupted undo): use it */
		return r == -EEXIST && fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		       S_ISDIR(st.st_mode) ? 0 : r;
	}
	if ((fd = open_dir(parent, name, O_RDONLY)) < 0)
		return fd;
	if (fchown(fd, s->uid, s->gid) < 0 || fchmod(fd, s->mode & 07777) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* Rename src/sname to dst/<original name>, or next to it when taken.
 * final gets the name used. */
static int do_move(int src, const char *sname, int dst, const char *dname, const char *op,
		   char *final, size_t cap, bool *renamed)
{
	snprintf(final, cap, "%s", dname);
	*renamed = strcmp(sname, dname) != 0;
	if (!*renamed && sys.renameat2(src, sname, dst, dname, RENAME_NOREPLACE) == 0)
		return 0;
	if (!*renamed && errno != EEXIST)
		return -errno;
	*renamed = true;
	for (unsigned k = 1; k <= UNDO_SUFFIX_MAX; k++) {
		int r = suffixed(sname, op, k, final, cap);

		if (r < 0)
			return r;
		if (sys.renameat2(src, sname, dst, final, RENAME_NOREPLACE) == 0)
			return 0;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

int undo_execute(int backing_fd, const struct undo_plan *p, undo_progress_fn fn, void *arg,
		 struct undo_result *res)
{
	struct dircache *src = malloc(sizeof(*src)), *dst = malloc(sizeof(*dst));
	struct undo_result tmp = {0};
	char final[PATH_BYTES], name[NAME_MAX + 1];
	int root = -1, opdir = -1, first = 0, r;

	if (!res)
		res = &tmp;
	*res = (struct undo_result){0};
	if (src)
		src->fd = -1;
	if (dst)
		dst->fd = -1;
	if (!src || !dst) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = open_scope(backing_fd, p->scope, p->op, &root, &opdir)) < 0)
		goto out;
	for (size_t i = 0; i < p->n; i++) {
		const struct undo_step *s = &p->steps[i];
		const char *dleaf, *sleaf;
		int dfd = parent_of(dst, root, s->to, &dleaf), sfd;
		bool renamed = s->kind == UNDO_RENAME;

		snprintf(final, sizeof(final), "%s", s->to);
		if (dfd < 0) {
			r = dfd;
		} else if (s->kind == UNDO_MKDIR) {
			r = do_mkdir(dfd, dleaf, s);
		} else if (s->kind == UNDO_MERGED) {
			/* its entries are out (or failed and stay, counted) */
			sfd = parent_of(src, opdir, s->from, &sleaf);
			r = sfd < 0 ? sfd : unlinkat(sfd, sleaf, AT_REMOVEDIR) < 0 &&
			    errno != ENOTEMPTY && errno != EEXIST && errno != ENOENT ? -errno : 0;
		} else if ((sfd = parent_of(src, opdir, s->from, &sleaf)) < 0) {
			r = sfd;
		} else if (s->kind == UNDO_REPLACE && (s->flags & UNDO_F_TRASH_ONLY)) {
			r = 0;   /* the original is live: the caller moves the replacement */
		} else if (s->kind == UNDO_REPLACE && !((s->flags & UNDO_F_TO_TRASH) &&
							!undo_is_inode(dfd, dleaf, s->ino))) {
			r = undo_do_replace(sfd, sleaf, dfd, dleaf);
		} else {
			/* (a replacement that changed since the plan: next to it) */
			r = do_move(sfd, sleaf, dfd, dleaf, p->op, name, sizeof(name), &renamed);
			/* the directory part of final is s->to's */
			snprintf(final + (dleaf - s->to), sizeof(final) - (size_t)(dleaf - s->to),
				 "%s", name);
		}
		if (r < 0) {
			res->failed++;
			first = first ? first : r;
		} else {
			*(s->kind == UNDO_MKDIR ? &res->mkdirs : s->kind == UNDO_MERGED ?
			  &res->merged : renamed ? &res->renamed : &res->moved) += 1;
			res->replaced += s->kind == UNDO_REPLACE && !renamed;
			res->followed += !renamed && s->kind == UNDO_MOVE && strcmp(s->from, final);
		}
		if (fn && (r = fn(arg, s, final, renamed, r)) != 0) {
			first = r;
			break;
		}
	}
	/* directory times last, children before parents (plan order) */
	for (size_t i = 0; i < p->ntimes; i++) {
		const char *leaf;
		int dfd = parent_of(dst, root, p->times[i].to, &leaf);

		if (dfd >= 0)
			utimensat(dfd, leaf, p->times[i].ts, AT_SYMLINK_NOFOLLOW);
	}
	r = first;
out:
	if (src && src->fd >= 0)
		close(src->fd);
	if (dst && dst->fd >= 0)
		close(dst->fd);
	free(src);
	free(dst);
	if (root >= 0)
		close(root);
	if (opdir >= 0)
		close(opdir);
	return r;
}

int undo_op(int backing_fd, const char *scope, const char *op, const struct undo_overlay *ov,
	    undo_progress_fn fn, void *arg, struct undo_result *res)
{
	struct undo_plan p;
	int r = undo_plan_over(backing_fd, scope, op, ov, &p);

	if (r < 0)
		return r;
	r = undo_execute(backing_fd, &p, fn, arg, res);
	undo_plan_release(&p);
	return r;
}
