/*
 * wguard — per-handle notes of overwrite protection (see wguard.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/wguard.h"

#define WG_BUCKETS 256

struct wg_ent {
	struct wg_ent *next;
	int fd;
	struct caller who;
	struct wguard_note note;
};

static struct {
	pthread_mutex_t lock;
	struct wg_ent *b[WG_BUCKETS];
} wg = { .lock = PTHREAD_MUTEX_INITIALIZER };

static struct wg_ent **find(int fd)
{
	struct wg_ent **pp = &wg.b[(unsigned)fd % WG_BUCKETS];

	while (*pp && (*pp)->fd != fd)
		pp = &(*pp)->next;
	return pp;
}

int wguard_open(int fd, const struct caller *who)
{
	struct wg_ent *e, **pp;

	pthread_mutex_lock(&wg.lock);
	if (!(e = *(pp = find(fd)))) {
		if (!(e = calloc(1, sizeof(*e)))) {
			pthread_mutex_unlock(&wg.lock);
			return -ENOMEM;
		}
		e->fd = fd;
		e->next = wg.b[(unsigned)fd % WG_BUCKETS];
		wg.b[(unsigned)fd % WG_BUCKETS] = e;
	}
	e->who = *who;
	memset(&e->note, 0, sizeof(e->note));   /* WG_OPEN: a reused fd starts afresh */
	e->note.base = -1;
	pthread_mutex_unlock(&wg.lock);
	return 0;
}

int wguard_get(int fd, struct wguard_note *note, struct caller *who)
{
	struct wg_ent *e;

	pthread_mutex_lock(&wg.lock);
	if ((e = *find(fd))) {
		*note = e->note;
		if (who)
			*who = e->who;
	}
	pthread_mutex_unlock(&wg.lock);
	return e ? 0 : -ENOENT;
}

void wguard_set(int fd, const struct wguard_note *note)
{
	struct wg_ent *e;

	pthread_mutex_lock(&wg.lock);
	if ((e = *find(fd)))
		e->note = *note;
	pthread_mutex_unlock(&wg.lock);
}

void wguard_append(int fd, off_t size)
{
	struct wg_ent *e;

	pthread_mutex_lock(&wg.lock);
	if ((e = *find(fd)) && e->note.state == WG_OPEN && e->note.base < 0)
		e->note.base = size;
	pthread_mutex_unlock(&wg.lock);
}

void wguard_forget(int fd)
{
	struct wg_ent *e, **pp;

	pthread_mutex_lock(&wg.lock);
	if ((e = *(pp = find(fd))))
		*pp = e->next;
	pthread_mutex_unlock(&wg.lock);
	free(e);
}
