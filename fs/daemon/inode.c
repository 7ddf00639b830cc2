/*
 * inode — the inode table (see inode.h).
 * Threading: `table.lock` guards everything mutable here; lock order:
 * trash engine lock, then table lock (this file never calls out while
 * holding it).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/dircache.h"
#include "daemon/inode.h"

#define HANDLE_MAX 128

/* One open file of an inode (see inode_handle_open). */
struct ohandle {
	struct ohandle *next;
	int fd;        /* the backing fd: unique among open files */
	pid_t tid;     /* the thread that opened it */
	bool live;     /* the inode had a live name then */
};

struct inode {
	struct inode *hnext;
	dev_t dev;
	ino_t ino;
	mode_t type;             /* S_IFMT bits */
	uint64_t nlookup;        /* kernel references */
	uint32_t children;       /* entries whose parent is this one */
	enum inode_kind kind;
	bool trash;              /* reached through a trash name (hash key) */
	struct inode *parent;    /* NULL: root, or detached */
	char *name;
	struct file_handle *fh;  /* NULL for the root (uses the backing fd) */
	struct ohandle *open;    /* open files (the kernel holds a reference) */
	struct pt_inode pt;      /* passthrough bookkeeping: passthru.c's, its lock */
	/* deleted while open: the op that holds it, recounted when the last
	 * open file closes (inode_note_deleted_open); NULL otherwise */
	struct deleted_in { char scope[NAME_MAX + 1], op[NAME_MAX + 1]; } *deleted_in;
};

static struct {
	pthread_mutex_t lock;
	struct inode **buckets;
	size_t nbuckets, count;
	struct inode root;
	int backing_fd;
} table = { .lock = PTHREAD_MUTEX_INITIALIZER };

static size_t bucket_of(dev_t dev, ino_t ino)
{
	/* both routes of one inode share a bucket */
	uint64_t h = (uint64_t)ino * 0x9E3779B97F4A7C15ULL ^ (uint64_t)dev;

	return (size_t)(h ^ (h >> 29)) & (table.nbuckets - 1);
}

static void hash_insert(struct inode *n)
{
	size_t b = bucket_of(n->dev, n->ino);

	n->hnext = table.buckets[b];
	table.buckets[b] = n;
	table.count++;
}

static int hash_grow(void)
{
	struct inode **old = table.buckets;
	size_t oldn = table.nbuckets;
	struct inode **nb = calloc(oldn * 2, sizeof(*nb));

	if (!nb)
		return -ENOMEM;
	table.buckets = nb;
	table.nbuckets = oldn * 2;
	table.count = 0;
	for (size_t i = 0; i < oldn; i++) {
		for (struct inode *n = old[i], *next; n; n = next) {
			next = n->hnext;
			hash_insert(n);
		}
	}
	free(old);
	return 0;
}

static void hash_remove(struct inode *n)
{
	for (struct inode **pp = &table.buckets[bucket_of(n->dev, n->ino)]; *pp;
	     pp = &(*pp)->hnext) {
		if (*pp == n) {
			*pp = n->hnext;
			table.count--;
			return;
		}
	}
}

/* The entry of (dev, ino) on one route: through a trash name or not. */
static struct inode *hash_find(dev_t dev, ino_t ino, bool trash)
{
	for (struct inode *n = table.buckets[bucket_of(dev, ino)]; n; n = n->hnext)
		if (n->ino == ino && n->dev == dev && n->trash == trash)
			return n;
	return NULL;
}

/* The route a name in parent is reached by: below a .trash directory, a
 * trash route (its own node id, read-only: see docs/design.md). */
static bool trash_route(const struct inode *parent)
{
	return parent && parent != &table.root &&
	       (parent->trash || parent->kind == K_STRASH || parent->kind == K_RTRASH);
}

/* n moved under parent: its route follows, and so does its hash key.  If
 * the other route of its inode already has an entry, n stays unhashed: it
 * lives on only for the kernel's references (an alias). */
static void rekey(struct inode *n, struct inode *parent)
{
	bool trash = trash_route(parent);

	if (trash == n->trash)
		return;
	hash_remove(n);   /* (a no-op for an alias) */
	n->trash = trash;
	if (!hash_find(n->dev, n->ino, trash))
		hash_insert(n);
}

static bool is_root_stat(const struct stat *st)
{
	return st->st_ino == table.root.ino && st->st_dev == table.root.dev;
}

static void free_entry(struct inode *n)
{
	while (n->open) {
		struct ohandle *h = n->open;

		n->open = h->next;
		free(h);
	}
	free(n->deleted_in);
	free(n->name);
	free(n->fh);
	free(n);
}

/* Free entries nobody references any more, walking up the parents. */
static void release_if_unused(struct inode *n)
{
	while (n && n != &table.root && n->nlookup == 0 && n->children == 0) {
		struct inode *p = n->parent;

		hash_remove(n);
		dircache_forget(n);
		free_entry(n);
		if (p)
			p->children--;
		n = p;
	}
}

static void set_parent(struct inode *n, struct inode *parent, const char *name)
{
	struct inode *old = n->parent;
	char *copy = name ? strdup(name) : NULL;

	if (name && !copy)
		return;   /* keep the old link: stale name, never a crash */
	if (parent)
		parent->children++;
	n->parent = parent;
	free(n->name);
	n->name = copy;
	if (old) {
		old->children--;
		release_if_unused(old);
	}
}

static enum inode_kind kind_for(const struct inode *parent, const char *name, mode_t type)
{
	if (!parent || !S_ISDIR(type))
		return K_PLAIN;
	switch (parent->kind) {
	case K_ROOT:
		return strcmp(name, TRASH_NAME) ? K_SITE : K_RTRASH;
	case K_SITE:
		return strcmp(name, TRASH_NAME) ? K_PLAIN : K_STRASH;
	case K_STRASH:
	case K_RTRASH:
		return K_OPDIR;
	default:
		return K_PLAIN;
	}
}

int inode_table_init(int backing_fd, int root_trash_fd)
{
	struct stat st;

	if (fstat(backing_fd, &st) < 0)
		return -errno;
	table.backing_fd = backing_fd;
	table.nbuckets = 4096;
	if (!(table.buckets = calloc(table.nbuckets, sizeof(*table.buckets))))
		return -ENOMEM;
	table.root.dev = st.st_dev;
	table.root.ino = st.st_ino;
	table.root.type = S_IFDIR;
	table.root.kind = K_ROOT;
	table.root.nlookup = 2;
	hash_insert(&table.root);
	(void)root_trash_fd;
	return 0;
}

void inode_table_free(void)
{
	for (size_t i = 0; table.buckets && i < table.nbuckets; i++) {
		for (struct inode *n = table.buckets[i], *next; n; n = next) {
			next = n->hnext;
			if (n != &table.root)
				free_entry(n);
		}
	}
	free(table.buckets);
	table.buckets = NULL;
}

struct inode *inode_root(void)
{
	return &table.root;
}

uint64_t inode_nodeid(const struct inode *ino)
{
	return ino == &table.root ? 1 : (uint64_t)(uintptr_t)ino;
}

struct inode *inode_from_nodeid(uint64_t nodeid)
{
	return nodeid == 1 ? &table.root : (struct inode *)(uintptr_t)nodeid;
}

static bool same_handle(const struct file_handle *a, const struct file_handle *b)
{
	return a->handle_type == b->handle_type && a->handle_bytes == b->handle_bytes &&
	       !memcmp(a->f_handle, b->f_handle, a->handle_bytes);
}

int inode_lookup(struct inode *parent, int pfd, const char *name,
		 const char *bname, const struct stat *st, struct inode **out)
{
	struct inode *n, *old;
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + HANDLE_MAX];
	} h;
	int mount_id;
	bool trash;

	if (st->st_dev != table.root.dev)
		return -EXDEV;   /* never cross into another filesystem */
	if (is_root_stat(st))
		goto root;
	/* the handle tells a reused inode number from the inode we knew: it
	 * carries the generation */
	h.fh.handle_bytes = HANDLE_MAX;
	if (name_to_handle_at(pfd, bname ? bname : name, &h.fh, &mount_id, 0) < 0)
		return -errno;
	trash = trash_route(parent);
	pthread_mutex_lock(&table.lock);
	old = hash_find(st->st_dev, st->st_ino, trash);
	if (old && same_handle(old->fh, &h.fh)) {
		n = old;
		goto found;
	}
	pthread_mutex_unlock(&table.lock);

	if (!(n = calloc(1, sizeof(*n))) ||
	    !(n->fh = malloc(sizeof(struct file_handle) + h.fh.handle_bytes))) {
		free(n);
		return -ENOMEM;
	}
	memcpy(n->fh, &h.fh, sizeof(struct file_handle) + h.fh.handle_bytes);
	n->dev = st->st_dev;
	n->ino = st->st_ino;
	n->type = st->st_mode & S_IFMT;
	n->trash = trash;

	pthread_mutex_lock(&table.lock);
	old = hash_find(st->st_dev, st->st_ino, trash);
	if (old && same_handle(old->fh, n->fh)) {   /* inserted meanwhile */
		free(n->fh);
		free(n);
		n = old;
		goto found;
	}
	if (old)   /* a dead inode's number, reused: the old entry lives on
		    * only for the kernel's references, unhashed */
		hash_remove(old);
	if (table.count >= table.nbuckets)
		hash_grow();
	hash_insert(n);
found:
	n->nlookup++;
	if (n->parent != parent || !n->name || strcmp(n->name, name))
		set_parent(n, parent, name);
	n->kind = kind_for(parent, name, n->type);
	pthread_mutex_unlock(&table.lock);
	*out = n;
	return 0;
root:
	pthread_mutex_lock(&table.lock);
	table.root.nlookup++;
	pthread_mutex_unlock(&table.lock);
	*out = &table.root;
	return 0;
}

void inode_forget(struct inode *ino, uint64_t n)
{
	if (ino == &table.root)
		return;
	pthread_mutex_lock(&table.lock);
	ino->nlookup = n > ino->nlookup ? 0 : ino->nlookup - n;
	release_if_unused(ino);
	pthread_mutex_unlock(&table.lock);
}

int inode_open(struct inode *ino, int flags)
{
	int fd;

	if (ino == &table.root)
		fd = openat(table.backing_fd, ".", flags | O_CLOEXEC);
	else
		fd = open_by_handle_at(table.backing_fd, ino->fh, flags | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

struct inode *inode_find(dev_t dev, ino_t ino)
{
	struct inode *n;

	pthread_mutex_lock(&table.lock);
	if (!(n = hash_find(dev, ino, false)))
		n = hash_find(dev, ino, true);
	pthread_mutex_unlock(&table.lock);
	return n;
}

void inode_moved(dev_t dev, ino_t ino, bool from_trash, struct inode *parent,
		 const char *name)
{
	struct inode *n;

	pthread_mutex_lock(&table.lock);
	if ((n = hash_find(dev, ino, from_trash)) && n != &table.root) {
		set_parent(n, parent, name);
		n->kind = kind_for(parent, name, n->type);
		rekey(n, parent);
	}
	pthread_mutex_unlock(&table.lock);
}

void inode_detach(dev_t dev, ino_t ino, bool trash)
{
	struct inode *n;

	pthread_mutex_lock(&table.lock);
	if ((n = hash_find(dev, ino, trash)) && n != &table.root) {
		n->nlookup++;   /* keep n alive across set_parent */
		set_parent(n, NULL, NULL);
		n->kind = K_PLAIN;
		n->nlookup--;
		release_if_unused(n);
	}
	pthread_mutex_unlock(&table.lock);
}

void inode_where(struct inode *ino, struct where *w)
{
	const struct inode *site = NULL, *op = NULL, *n;

	memset(w, 0, sizeof(*w));
	pthread_mutex_lock(&table.lock);
	for (n = ino; n && n != &table.root; n = n->parent) {
		if (n->kind == K_OPDIR)
			op = n;   /* keeps the outermost */
		else if (n->kind == K_SITE)
			site = n;
	}
	if (ino == &table.root) {
		w->zone = Z_ROOT;
	} else if (!n) {
		w->zone = Z_INTRASH;   /* detached: it was deleted */
		w->detached = true;
	} else if (op) {
		const struct inode *tr = op->parent;

		w->zone = op == ino ? Z_OPDIR : Z_INTRASH;
		snprintf(w->op, sizeof(w->op), "%s", op->name ? op->name : "");
		if (tr && tr->kind == K_STRASH && tr->parent && tr->parent->name)
			snprintf(w->scope, sizeof(w->scope), "%s", tr->parent->name);
	} else if (ino->kind == K_STRASH || ino->kind == K_RTRASH) {
		w->zone = Z_TRASHDIR;
		if (ino->kind == K_STRASH && ino->parent && ino->parent->name)
			snprintf(w->scope, sizeof(w->scope), "%s", ino->parent->name);
	} else if (site) {
		w->zone = Z_LIVE;
		snprintf(w->site, sizeof(w->site), "%s", site->name ? site->name : "");
	} else {
		w->zone = Z_INTRASH;
	}
	pthread_mutex_unlock(&table.lock);
}

bool inode_trash_route(const struct inode *ino)
{
	return ino->trash;
}

enum inode_kind inode_kind(const struct inode *ino)
{
	return ino->kind;
}

bool inode_is_dir(const struct inode *ino)
{
	return S_ISDIR(ino->type);
}

bool inode_is_symlink(const struct inode *ino)
{
	return S_ISLNK(ino->type);
}

int inode_relpath(struct inode *dir, struct relpath *rp)
{
	int r = 0;

	rp->n = 0;
	rp->used = 0;
	pthread_mutex_lock(&table.lock);
	for (const struct inode *n = dir; n && n->kind != K_SITE && n != &table.root && !r;
	     n = n->parent)
		r = n->name ? relpath_push(rp, n->name) : -ENOENT;
	pthread_mutex_unlock(&table.lock);
	relpath_reverse(rp);
	return r;
}

int inode_relpath_piece(struct inode *dir, unsigned from, struct relpath *rp, bool *more)
{
	const struct inode **chain = NULL;
	unsigned depth = 0, i;
	int r = 0;

	rp->n = 0;
	rp->used = 0;
	*more = false;
	pthread_mutex_lock(&table.lock);
	for (const struct inode *n = dir; n && n->kind != K_SITE && n != &table.root; n = n->parent)
		depth++;
	if (!(chain = malloc((depth ? depth : 1) * sizeof(*chain)))) {
		r = -ENOMEM;
		goto out;
	}
	i = depth;
	for (const struct inode *n = dir; i > 0; n = n->parent)
		chain[--i] = n;   /* chain[0]: the level below the site root */
	for (i = from; i < depth && !r; i++) {
		if (!chain[i]->name)
			r = -ENOENT;
		else if (relpath_push(rp, chain[i]->name) < 0)
			break;   /* full: the rest is the next piece */
	}
	if (!r && i < depth && rp->n == 0)
		r = -ENAMETOOLONG;   /* cannot happen: one name always fits */
	*more = !r && i < depth;
out:
	pthread_mutex_unlock(&table.lock);
	free(chain);
	return r;
}

int inode_parent_name(struct inode *ino, struct inode **parent, char *name, size_t cap)
{
	int r = 0;

	pthread_mutex_lock(&table.lock);
	*parent = ino->parent;
	if (!ino->parent || !ino->name || strlen(ino->name) >= cap)
		r = -ENOENT;
	else
		strcpy(name, ino->name);
	if (*parent)
		(*parent)->children++;   /* pinned; see inode_unpin */
	pthread_mutex_unlock(&table.lock);
	return r;
}

void inode_unpin(struct inode *parent)
{
	if (!parent)
		return;
	pthread_mutex_lock(&table.lock);
	parent->children--;
	release_if_unused(parent);
	pthread_mutex_unlock(&table.lock);
}

int inode_tlink_key(const struct inode *ino, struct tlink_key *k)
{
	return ino == &table.root ? -EINVAL : tlink_key_of(ino->fh, k);
}

int inode_handle_open(struct inode *ino, int fd, pid_t tid, bool live)
{
	struct ohandle *h = malloc(sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->fd = fd;
	h->tid = tid;
	h->live = live;
	pthread_mutex_lock(&table.lock);
	h->next = ino->open;
	ino->open = h;
	pthread_mutex_unlock(&table.lock);
	return 0;
}

bool inode_handle_close(struct inode *ino, int fd, char *scope, char *op)
{
	struct ohandle *h = NULL;
	struct deleted_in *d = NULL;

	pthread_mutex_lock(&table.lock);
	for (struct ohandle **pp = &ino->open; *pp; pp = &(*pp)->next) {
		if ((*pp)->fd == fd) {
			h = *pp;
			*pp = h->next;
			break;
		}
	}
	if (h && !ino->open) {
		d = ino->deleted_in;
		ino->deleted_in = NULL;
	}
	pthread_mutex_unlock(&table.lock);
	free(h);
	if (d && scope && op) {
		memcpy(scope, d->scope, sizeof(d->scope));
		memcpy(op, d->op, sizeof(d->op));
	}
	free(d);
	return d && scope && op;
}

void inode_note_deleted_open(dev_t dev, ino_t ino, const char *scope, const char *op)
{
	struct inode *n;

	pthread_mutex_lock(&table.lock);
	if ((n = hash_find(dev, ino, false)) && n->open) {
		if (!n->deleted_in)
			n->deleted_in = malloc(sizeof(*n->deleted_in));
		if (n->deleted_in) {   /* without memory: counted at the next mount's reconcile */
			snprintf(n->deleted_in->scope, sizeof(n->deleted_in->scope), "%s", scope);
			snprintf(n->deleted_in->op, sizeof(n->deleted_in->op), "%s", op);
		}
	}
	pthread_mutex_unlock(&table.lock);
}

struct pt_inode *inode_pt(struct inode *ino)
{
	return &ino->pt;
}

bool inode_handle_live(struct inode *ino, int fd)
{
	bool live = false;

	pthread_mutex_lock(&table.lock);
	for (const struct ohandle *h = ino->open; h; h = h->next)
		if (h->fd == fd) {
			live = h->live;
			break;
		}
	pthread_mutex_unlock(&table.lock);
	return live;
}

#define HELD_MAX 64   /* openers looked at per check (bounds the /proc reads) */

bool inode_handle_held(struct inode *ino, pid_t tgid, pid_t (*tid_tgid)(pid_t tid))
{
	pid_t tids[HELD_MAX];
	size_t n = 0;

	if (tgid <= 0)
		return false;
	pthread_mutex_lock(&table.lock);
	for (const struct ohandle *h = ino->open; h && n < HELD_MAX; h = h->next)
		if (h->live)
			tids[n++] = h->tid;
	pthread_mutex_unlock(&table.lock);
	/* resolved outside the lock: reading /proc may take a while */
	for (size_t i = 0; i < n; i++)
		if (tids[i] == tgid || tid_tgid(tids[i]) == tgid)
			return true;
	return false;
}

ssize_t inode_dir_nodeids(uint64_t **out)
{
	size_t n = 0;
	uint64_t *ids;

	pthread_mutex_lock(&table.lock);
	if (!(ids = malloc((table.count + 1) * sizeof(*ids)))) {
		pthread_mutex_unlock(&table.lock);
		return -ENOMEM;
	}
	for (size_t b = 0; b < table.nbuckets; b++)
		for (struct inode *i = table.buckets[b]; i; i = i->hnext)
			if (S_ISDIR(i->type))
				ids[n++] = inode_nodeid(i);
	pthread_mutex_unlock(&table.lock);
	*out = ids;
	return (ssize_t)n;
}
