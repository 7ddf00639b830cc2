/*
 * created — what runs created through the mount: the tracker that batches
 * notes into the index, and plans of what `undo run:ID --created` moves
 * (created.h for the contract).
 *
 * Threading: struct created has one mutex (c->lock) around everything in
 * it; plans and created_check share nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "engine/created.h"
#include "lib/sys.h"

#define NO_SLOT (-1)

struct note {
	struct created_rec rec;   /* rec.path points at path */
	char *path;
	bool used, dirty;
	int hnext;                /* next slot in the same hash bucket */
};

struct run_count {
	char run[UTIL_RUN_MAX];
	uint64_t n;
	uint64_t last;            /* use stamp (c->stamp) */
};

struct created {
	pthread_mutex_t lock;
	struct index *ix;
	struct note *ring;        /* CREATED_MEM_MAX slots; head: the next to take */
	unsigned head;
	int *bucket;              /* CREATED_MEM_MAX * 2 heads of slot chains */
	unsigned ndirty;
	struct run_count runs[CREATED_RUNS];
	uint64_t stamp;
	struct created_stats stats;
};

#define NBUCKET (2u * CREATED_MEM_MAX)

static int64_t ts_ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000LL + t->tv_nsec;
}

static unsigned hash(uint64_t dev, uint64_t ino)
{
	uint64_t h = (ino ^ (dev << 32 | dev >> 32)) * UINT64_C(0x9E3779B97F4A7C15);

	return (unsigned)(h >> 40) % NBUCKET;
}

int created_new(struct created **out, struct index *ix)
{
	struct created *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (!c || !(c->ring = calloc(CREATED_MEM_MAX, sizeof(*c->ring))) ||
	    !(c->bucket = malloc(NBUCKET * sizeof(*c->bucket)))) {
		if (c)
			free(c->ring);
		free(c);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < NBUCKET; i++)
		c->bucket[i] = NO_SLOT;
	pthread_mutex_init(&c->lock, NULL);
	c->ix = ix;
	*out = c;
	return 0;
}

void created_free(struct created *c)
{
	if (!c)
		return;
	created_flush(c);
	for (unsigned i = 0; i < CREATED_MEM_MAX; i++)
		free(c->ring[i].path);
	pthread_mutex_destroy(&c->lock);
	free(c->ring);
	free(c->bucket);
	free(c);
}

static struct note *find(struct created *c, uint64_t dev, uint64_t ino)
{
	for (int i = c->bucket[hash(dev, ino)]; i != NO_SLOT; i = c->ring[i].hnext)
		if (c->ring[i].rec.ino == ino && c->ring[i].rec.dev == dev)
			return &c->ring[i];
	return NULL;
}

static void unhash(struct created *c, int slot)
{
	struct note *n = &c->ring[slot];
	int *pp = &c->bucket[hash(n->rec.dev, n->rec.ino)];

	while (*pp != NO_SLOT && *pp != slot)
		pp = &c->ring[*pp].hnext;
	if (*pp == slot)
		*pp = n->hnext;
}

/* Store the dirty notes.  Under c->lock. */
static int flush_locked(struct created *c)
{
	struct created_rec *v;
	uint64_t total = 0;
	size_t n = 0;
	int r;

	if (!c->ndirty)
		return 0;
	if (index_created_count(c->ix, &total) == 0 && total >= CREATED_TOTAL_MAX) {
		/* full: the op records must keep their room; these stay unknown
		 * (an item whose later change is not stored reads as changed) */
		c->stats.unrecorded += c->ndirty;
		for (unsigned i = 0; i < CREATED_MEM_MAX; i++)
			c->ring[i].dirty = false;
		c->ndirty = 0;
		return 0;
	}
	if (!(v = malloc(c->ndirty * sizeof(*v))))
		return -ENOMEM;
	for (unsigned i = 0; i < CREATED_MEM_MAX && n < c->ndirty; i++)
		if (c->ring[i].used && c->ring[i].dirty)
			v[n++] = c->ring[i].rec;
	r = index_created_put(c->ix, v, n);
	free(v);
	c->stats.flushes++;
	if (r < 0 && r != -EINVAL) {
		c->stats.flush_errors++;
		return r;
	}
	for (unsigned i = 0; i < CREATED_MEM_MAX; i++)
		c->ring[i].dirty = false;
	c->ndirty = 0;
	return 0;
}

int created_flush(struct created *c)
{
	int r;

	pthread_mutex_lock(&c->lock);
	r = flush_locked(c);
	pthread_mutex_unlock(&c->lock);
	return r;
}

static void set_dirty(struct created *c, struct note *n)
{
	if (!n->dirty)
		c->ndirty++;
	n->dirty = true;
}

static void set_state(struct created_rec *r, const struct stat *st)
{
	r->mtime_ns = ts_ns(&st->st_mtim);
	r->ctime_ns = ts_ns(&st->st_ctim);
	r->size = (uint64_t)st->st_size;
}

/* Count one more item of run; false when it is over CREATED_RUN_MAX. */
static bool run_take(struct created *c, const char *run)
{
	struct run_count *old = &c->runs[0];

	c->stamp++;
	for (unsigned i = 0; i < CREATED_RUNS; i++) {
		struct run_count *rc = &c->runs[i];

		if (!strcmp(rc->run, run)) {
			rc->last = c->stamp;
			return rc->n < CREATED_RUN_MAX ? (rc->n++, true) : false;
		}
		if (rc->last < old->last)
			old = rc;
	}
	snprintf(old->run, sizeof(old->run), "%s", run);
	old->n = 1;
	old->last = c->stamp;
	return true;
}

void created_note(struct created *c, const struct caller *who, const char *site,
		  const char *path, const struct stat *st)
{
	struct note *n;
	char *dup;
	int slot;

	if (!c || !who->run[0] || !site || !*site || strlen(path) >= CRREC_PATH_MAX ||
	    strlen(site) > NAME_MAX || !(dup = strdup(path)))
		return;
	pthread_mutex_lock(&c->lock);
	if (!run_take(c, who->run)) {
		c->stats.unrecorded++;
		free(dup);
		goto out;
	}
	if ((n = find(c, (uint64_t)st->st_dev, (uint64_t)st->st_ino))) {
		slot = (int)(n - c->ring);   /* the inode number came back: a new item */
		unhash(c, slot);
	} else {
		slot = (int)c->head;
		n = &c->ring[slot];
		if (n->used && n->dirty && flush_locked(c) < 0) {
			/* cannot store the oldest: this one goes unrecorded */
			c->stats.unrecorded++;
			free(dup);
			goto out;
		}
		if (n->used)
			unhash(c, slot);
		c->head = (c->head + 1) % CREATED_MEM_MAX;
	}
	free(n->path);
	if (n->used && n->dirty)
		c->ndirty--;
	*n = (struct note){ .used = true, .path = dup };
	snprintf(n->rec.run, sizeof(n->rec.run), "%s", who->run);
	snprintf(n->rec.site, sizeof(n->rec.site), "%s", site);
	n->rec.path = dup;
	n->rec.dev = (uint64_t)st->st_dev;
	n->rec.ino = (uint64_t)st->st_ino;
	n->rec.mode = st->st_mode;
	n->rec.born_ns = sys.wall_ns();
	set_state(&n->rec, st);
	n->hnext = c->bucket[hash(n->rec.dev, n->rec.ino)];
	c->bucket[hash(n->rec.dev, n->rec.ino)] = slot;
	set_dirty(c, n);
	c->stats.noted++;
out:
	pthread_mutex_unlock(&c->lock);
}

void created_note_changed(struct created *c, const char *run, const struct stat *st)
{
	struct note *n;

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	if ((n = find(c, (uint64_t)st->st_dev, (uint64_t)st->st_ino))) {
		if (run && !strcmp(run, n->rec.run))
			set_state(&n->rec, st);
		else
			n->rec.flags |= CRREC_FOREIGN;
		set_dirty(c, n);
	}
	pthread_mutex_unlock(&c->lock);
}

bool created_knows(struct created *c, dev_t dev, ino_t ino)
{
	bool known;

	if (!c)
		return false;
	pthread_mutex_lock(&c->lock);
	known = find(c, (uint64_t)dev, (uint64_t)ino) != NULL;
	pthread_mutex_unlock(&c->lock);
	return known;
}

void created_note_moved(struct created *c, const char *run, dev_t dev, ino_t ino,
			const char *site, const char *path, int dirfd, const char *name)
{
	struct note *n;
	struct stat st;
	char *dup;

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	if ((n = find(c, (uint64_t)dev, (uint64_t)ino))) {
		if (!run || strcmp(run, n->rec.run)) {
			n->rec.flags |= CRREC_FOREIGN;
		} else if (site && *site && strlen(site) <= NAME_MAX &&
			   strlen(path) < CRREC_PATH_MAX && (dup = strdup(path))) {
			free(n->path);
			n->path = dup;
			n->rec.path = dup;
			snprintf(n->rec.site, sizeof(n->rec.site), "%s", site);
			if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    (uint64_t)st.st_ino == n->rec.ino)
				set_state(&n->rec, &st);
		}
		set_dirty(c, n);
	}
	pthread_mutex_unlock(&c->lock);
}

int created_forget(struct created *c, const char *run, uint64_t dev, uint64_t ino)
{
	struct note *n;
	int r;

	pthread_mutex_lock(&c->lock);
	if ((n = find(c, dev, ino)) && !strcmp(n->rec.run, run)) {
		int slot = (int)(n - c->ring);

		unhash(c, slot);
		if (n->dirty)
			c->ndirty--;
		free(n->path);
		*n = (struct note){ .used = false };
	}
	r = index_created_del(c->ix, run, dev, ino);
	pthread_mutex_unlock(&c->lock);
	return r == -ENOENT ? 0 : r;
}

int created_prune(struct created *c, int64_t before_ns, uint64_t *dropped)
{
	int r;

	pthread_mutex_lock(&c->lock);
	if ((r = flush_locked(c)) == 0)
		r = index_created_prune(c->ix, before_ns, dropped);
	pthread_mutex_unlock(&c->lock);
	return r;
}

void created_get_stats(struct created *c, struct created_stats *s)
{
	pthread_mutex_lock(&c->lock);
	*s = c->stats;
	pthread_mutex_unlock(&c->lock);
}

/* ---- checks and plans ---- */

const char *created_verdict_name(enum created_verdict v)
{
	switch (v) {
	case CREATED_MOVE:
		return "move";
	case CREATED_CHANGED:
		return "changed";
	case CREATED_KEPT:
		return "kept";
	default:
		return "gone";
	}
}

static int open_beneath(int dirfd, const char *path)
{
	struct open_how how = {
		.flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS |
			   RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));

	return fd < 0 ? -errno : fd;
}

#define GONE(...) (snprintf(why, cap, __VA_ARGS__), CREATED_GONE)

int created_check(int backing_fd, const struct created_rec *r, int *pfd, const char **name,
		  struct stat *st, char *why, size_t cap)
{
	char tmp[96], parent[CRREC_PATH_MAX];
	const char *slash = strrchr(r->path, '/');
	int sfd;

	if (!why) {
		why = tmp;
		cap = sizeof(tmp);
	}
	*why = '\0';
	*pfd = -1;
	*name = slash ? slash + 1 : r->path;
	if (!strcmp(r->site, ".") || !strcmp(r->site, "..") || r->site[0] == '.' ||
	    !strcmp(r->path, ".trash") || !strncmp(r->path, ".trash/", 7) || !**name)
		return GONE("not a live path");
	if ((sfd = open_beneath(backing_fd, r->site)) < 0)
		return GONE("its site is gone");
	if (!slash) {
		*pfd = sfd;
	} else {
		snprintf(parent, sizeof(parent), "%.*s", (int)(slash - r->path), r->path);
		*pfd = open_beneath(sfd, parent);
		close(sfd);
		if (*pfd < 0) {
			*pfd = -1;
			return GONE("its directory is gone");
		}
	}
	if (fstatat(*pfd, *name, st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT)
			return -errno;
		return GONE("removed or renamed since");
	}
	if ((uint64_t)st->st_ino != r->ino || (uint64_t)st->st_dev != r->dev)
		return GONE("its name holds another item now");
	if ((st->st_mode & S_IFMT) != (r->mode & S_IFMT))
		return GONE("its name holds another item now");
	if (S_ISDIR(st->st_mode))
		return CREATED_MOVE;
	if (r->flags & CRREC_FOREIGN) {
		snprintf(why, cap, "changed by a process of another run");
		return CREATED_CHANGED;
	}
	if (ts_ns(&st->st_ctim) != r->ctime_ns || ts_ns(&st->st_mtim) != r->mtime_ns ||
	    (uint64_t)st->st_size != r->size) {
		snprintf(why, cap, "changed since the run left it (%s)",
			 (uint64_t)st->st_size != r->size ? "size" :
			 ts_ns(&st->st_mtim) != r->mtime_ns ? "mtime" : "ctime");
		return CREATED_CHANGED;
	}
	return CREATED_MOVE;
}

struct collect {
	struct created_plan *p;
	size_t cap;
	int err;
};

static int collect_one(const struct created_rec *r, void *arg)
{
	struct collect *k = arg;
	struct created_plan *p = k->p;
	struct created_item *it;

	if (p->n == k->cap) {
		size_t cap = k->cap ? 2 * k->cap : 64;
		void *v = realloc(p->v, cap * sizeof(*p->v));

		if (!v)
			return k->err = -ENOMEM;
		p->v = v;
		k->cap = cap;
	}
	it = &p->v[p->n];
	memset(it, 0, sizeof(*it));
	it->rec = *r;
	if (!(it->path = strdup(r->path)))
		return k->err = -ENOMEM;
	it->rec.path = it->path;
	p->n++;
	return 0;
}

static unsigned depth(const char *path)
{
	unsigned d = 0;

	for (; *path; path++)
		d += *path == '/';
	return d;
}

/* Site, then deepest first, then path. */
static int cmp_item(const void *a, const void *b)
{
	const struct created_item *x = a, *y = b;
	int c = strcmp(x->rec.site, y->rec.site);
	unsigned dx, dy;

	if (c)
		return c;
	dx = depth(x->path);
	dy = depth(y->path);
	if (dx != dy)
		return dx > dy ? -1 : 1;
	return strcmp(x->path, y->path);
}

/* (site, path) order, for the lookups of judge_dir. */
static int cmp_path(const void *a, const void *b)
{
	const struct created_item *x = *(const struct created_item *const *)a,
				  *y = *(const struct created_item *const *)b;
	int c = strcmp(x->rec.site, y->rec.site);

	return c ? c : strcmp(x->path, y->path);
}

/* Does the plan move site/dir/name?  (Items deeper than dir are decided.) */
static bool moves(struct created_item **bypath, size_t n, const char *site, const char *dir,
		  const char *name)
{
	struct created_item key = { .path = NULL }, *kp = &key, **hit;
	char path[CRREC_PATH_MAX];
	size_t lo, hi;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return false;
	snprintf(key.rec.site, sizeof(key.rec.site), "%s", site);
	key.path = path;
	if (!(hit = bsearch(&kp, bypath, n, sizeof(*bypath), cmp_path)))
		return false;
	lo = hi = (size_t)(hit - bypath);   /* the same path may be recorded twice */
	while (lo > 0 && !cmp_path(&bypath[lo - 1], &kp))
		lo--;
	while (hi + 1 < n && !cmp_path(&bypath[hi + 1], &kp))
		hi++;
	for (size_t i = lo; i <= hi; i++)
		if (bypath[i]->v == CREATED_MOVE)
			return true;
	return false;
}

/* A directory moves when everything in it moves too. */
static void judge_dir(struct created_item **bypath, size_t n, struct created_item *it, int dfd)
{
	int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	size_t stay = 0;
	char first[64] = "";

	if (!d) {
		if (fd >= 0)
			close(fd);
		it->v = CREATED_KEPT;
		snprintf(it->why, sizeof(it->why), "cannot be read: %s", strerror(errno));
		return;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!moves(bypath, n, it->rec.site, it->path, de->d_name) && !stay++)
			snprintf(first, sizeof(first), "%.60s", de->d_name);
	}
	closedir(d);
	if (stay) {
		it->v = CREATED_KEPT;
		snprintf(it->why, sizeof(it->why), "holds %zu item(s) that stay (%s%s)", stay,
			 first, stay > 1 ? ", …" : "");
	}
}

int created_plan(struct index *ix, int backing_fd, const char *run, struct created_plan *p)
{
	struct collect k = { p, 0, 0 };
	struct created_item **bypath = NULL;
	int r;

	memset(p, 0, sizeof(*p));
	r = index_created_foreach(ix, run, collect_one, &k);
	if (k.err)
		return k.err;
	if (r < 0)
		return r;
	if (p->n)
		qsort(p->v, p->n, sizeof(*p->v), cmp_item);
	if (p->n && !(bypath = malloc(p->n * sizeof(*bypath))))
		return -ENOMEM;
	for (size_t i = 0; i < p->n; i++) {
		p->v[i].v = CREATED_GONE;   /* undecided: moves nothing */
		bypath[i] = &p->v[i];
	}
	if (p->n)
		qsort(bypath, p->n, sizeof(*bypath), cmp_path);
	for (size_t i = 0; i < p->n; i++) {
		struct created_item *it = &p->v[i];
		const char *name;
		struct stat st;
		int pfd, v = created_check(backing_fd, &it->rec, &pfd, &name, &st, it->why,
					   sizeof(it->why));

		if (v < 0) {
			it->v = CREATED_KEPT;
			snprintf(it->why, sizeof(it->why), "cannot be checked: %s", strerror(-v));
		} else {
			it->v = (enum created_verdict)v;
		}
		if (it->v == CREATED_MOVE && S_ISDIR(st.st_mode)) {
			int dfd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (dfd < 0) {
				it->v = CREATED_GONE;
				snprintf(it->why, sizeof(it->why), "removed or renamed since");
			} else {
				judge_dir(bypath, p->n, it, dfd);
				close(dfd);
			}
		}
		if (pfd >= 0)
			close(pfd);
		p->moves += it->v == CREATED_MOVE;
		p->changed += it->v == CREATED_CHANGED;
		p->kept += it->v == CREATED_KEPT;
		p->gone += it->v == CREATED_GONE;
	}
	free(bypath);
	return 0;
}

void created_plan_release(struct created_plan *p)
{
	for (size_t i = 0; p->v && i < p->n; i++)
		free(p->v[i].path);
	free(p->v);
	memset(p, 0, sizeof(*p));
}
