/*
 * wbtimes — the kernel's mtime kept across late WRITEs (see wbtimes.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "daemon/wbtimes.h"

#define WB_BUCKETS 256

struct wb_ent {
	struct wb_ent *next;
	int fd;
	struct timespec mtime;
};

static struct {
	pthread_mutex_t lock;
	struct wb_ent *b[WB_BUCKETS];
	atomic_size_t n;   /* entries: 0 lets WRITEs skip the lock */
} wb = { .lock = PTHREAD_MUTEX_INITIALIZER };

static struct wb_ent **find(int fd)
{
	struct wb_ent **pp = &wb.b[(unsigned)fd % WB_BUCKETS];

	while (*pp && (*pp)->fd != fd)
		pp = &(*pp)->next;
	return pp;
}

/* Record mtime for fd (caller holds the lock). */
static void record(int fd, const struct timespec *mtime)
{
	struct wb_ent *e;

	if (!(e = *find(fd)) && (e = calloc(1, sizeof(*e)))) {
		e->fd = fd;
		e->next = wb.b[(unsigned)fd % WB_BUCKETS];
		wb.b[(unsigned)fd % WB_BUCKETS] = e;
		atomic_fetch_add(&wb.n, 1);
	}
	if (e)   /* no memory: a late WRITE's time stays (as without this) */
		e->mtime = *mtime;
}

void wbtimes_open(int fd, const struct timespec *mtime)
{
	pthread_mutex_lock(&wb.lock);
	record(fd, mtime);
	pthread_mutex_unlock(&wb.lock);
}

int wbtimes_futimens(int fd, const struct timespec ts[2])
{
	int r;

	if (ts[1].tv_nsec == UTIME_OMIT || ts[1].tv_nsec == UTIME_NOW)
		return futimens(fd, ts) < 0 ? -errno : 0;
	/* recorded and set under the lock: a WRITE finishing meanwhile puts
	 * back either this time or the one it replaces, never its own */
	pthread_mutex_lock(&wb.lock);
	record(fd, &ts[1]);
	r = futimens(fd, ts) < 0 ? -errno : 0;
	pthread_mutex_unlock(&wb.lock);
	return r;
}

int wbtimes_after_write(int fd)
{
	struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT } };
	struct wb_ent *e;
	int r = 0;

	if (atomic_load(&wb.n) == 0)
		return 0;
	/* under the lock: a SETATTR setting a newer time waits, so the
	 * last futimens on fd is always the newest recorded time */
	pthread_mutex_lock(&wb.lock);
	if ((e = *find(fd))) {
		ts[1] = e->mtime;
		if (futimens(fd, ts) < 0)
			r = -errno;
	}
	pthread_mutex_unlock(&wb.lock);
	return r;
}

void wbtimes_forget(int fd)
{
	struct wb_ent **pp, *e;

	if (atomic_load(&wb.n) == 0)
		return;
	pthread_mutex_lock(&wb.lock);
	if ((e = *(pp = find(fd)))) {
		*pp = e->next;
		free(e);
		atomic_fetch_sub(&wb.n, 1);
	}
	pthread_mutex_unlock(&wb.lock);
}
