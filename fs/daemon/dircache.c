/*
 * dircache — the directory fd LRU (see dircache.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "daemon/dircache.h"
#include "daemon/inode.h"

#define DC_BUCKETS 512

struct dc_ent {
	const struct inode *key;   /* NULL once forgotten (on the dead list) */
	int fd;
	unsigned users;            /* borrowers holding fd */
	struct dc_ent *hnext;      /* hash chain, or the dead list */
	struct dc_ent *prev, *next;   /* LRU, most recent first */
};

static struct {
	pthread_mutex_t lock;
	struct dc_ent *b[DC_BUCKETS];
	struct dc_ent lru;         /* sentinel */
	struct dc_ent *dead;       /* forgotten while borrowed */
	size_t n, max;
	struct dircache_stats st;
} dc = { .lock = PTHREAD_MUTEX_INITIALIZER, .lru = { .prev = &dc.lru, .next = &dc.lru } };

static size_t slot(const struct inode *key)
{
	uint64_t h = (uint64_t)(uintptr_t)key * 0x9E3779B97F4A7C15ULL;

	return (size_t)(h >> 40) % DC_BUCKETS;
}

static struct dc_ent **find(const struct inode *key)
{
	struct dc_ent **pp = &dc.b[slot(key)];

	while (*pp && (*pp)->key != key)
		pp = &(*pp)->hnext;
	return pp;
}

static void lru_unlink(struct dc_ent *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
}

static void lru_front(struct dc_ent *e)
{
	e->next = dc.lru.next;
	e->prev = &dc.lru;
	dc.lru.next->prev = e;
	dc.lru.next = e;
}

/* Take e out of the hash and the LRU (caller holds the lock). */
static void unhash(struct dc_ent *e)
{
	struct dc_ent **pp = find(e->key);

	if (*pp == e)
		*pp = e->hnext;
	lru_unlink(e);
	dc.n--;
}

/* Make room: close the least recently used idle entry.  false: all busy. */
static bool evict_one(void)
{
	for (struct dc_ent *e = dc.lru.prev; e != &dc.lru; e = e->prev) {
		if (e->users)
			continue;
		unhash(e);
		close(e->fd);
		free(e);
		dc.st.evictions++;
		return true;
	}
	return false;
}

void dircache_init(size_t max)
{
	pthread_mutex_lock(&dc.lock);
	dc.max = max;
	pthread_mutex_unlock(&dc.lock);
}

/* The bound now: a sixteenth of the open-file limit (which an operator
 * may lower on the running daemon, e.g. prlimit), at most max.  Read on
 * every miss, which costs a syscall anyway. */
static size_t current_cap(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return dc.max;
	return rl.rlim_cur / 16 < dc.max ? (size_t)(rl.rlim_cur / 16) : dc.max;
}

void dircache_free(void)
{
	pthread_mutex_lock(&dc.lock);
	while (dc.lru.next != &dc.lru) {
		struct dc_ent *e = dc.lru.next;

		unhash(e);
		close(e->fd);
		free(e);
	}
	dc.max = 0;
	pthread_mutex_unlock(&dc.lock);
}

int dircache_get(struct inode *ino)
{
	struct dc_ent *e;
	size_t cap;
	int fd;

	if (!inode_is_dir(ino))
		return inode_open(ino, O_PATH);
	pthread_mutex_lock(&dc.lock);
	if ((e = *find(ino))) {
		e->users++;
		lru_unlink(e);
		lru_front(e);
		dc.st.hits++;
		fd = e->fd;
		pthread_mutex_unlock(&dc.lock);
		return fd;
	}
	dc.st.misses++;
	pthread_mutex_unlock(&dc.lock);

	if ((fd = inode_open(ino, O_PATH)) < 0)
		return fd;
	cap = current_cap();
	pthread_mutex_lock(&dc.lock);
	while (dc.n > cap && evict_one())
		;
	/* cached meanwhile by another thread, no room, or no memory: this fd
	 * stays the caller's own and dircache_put closes it */
	if (!*find(ino) && cap && (dc.n < cap || evict_one()) &&
	    (e = calloc(1, sizeof(*e)))) {
		e->key = ino;
		e->fd = fd;
		e->users = 1;
		e->hnext = dc.b[slot(ino)];
		dc.b[slot(ino)] = e;
		lru_front(e);
		dc.n++;
	}
	pthread_mutex_unlock(&dc.lock);
	return fd;
}

void dircache_put(struct inode *ino, int fd)
{
	struct dc_ent *e, **pp;

	if (fd < 0)
		return;
	if (!inode_is_dir(ino)) {
		close(fd);
		return;
	}
	pthread_mutex_lock(&dc.lock);
	if ((e = *find(ino)) && e->fd == fd) {
		e->users--;
		pthread_mutex_unlock(&dc.lock);
		return;
	}
	for (pp = &dc.dead; *pp && (*pp)->fd != fd; pp = &(*pp)->hnext)
		;
	if ((e = *pp) && --e->users == 0) {
		*pp = e->hnext;
		free(e);
		e = NULL;   /* fd closed below: its last borrower is done */
	}
	pthread_mutex_unlock(&dc.lock);
	if (!e)
		close(fd);   /* our own fd, or a forgotten entry's last user */
}

void dircache_forget(const struct inode *ino)
{
	struct dc_ent *e;

	pthread_mutex_lock(&dc.lock);
	if ((e = *find(ino))) {
		unhash(e);
		if (e->users) {
			e->key = NULL;
			e->hnext = dc.dead;
			dc.dead = e;
		} else {
			close(e->fd);
			free(e);
		}
	}
	pthread_mutex_unlock(&dc.lock);
}

void dircache_get_stats(struct dircache_stats *st)
{
	pthread_mutex_lock(&dc.lock);
	*st = dc.st;
	st->cached = dc.n;
	pthread_mutex_unlock(&dc.lock);
}
