/*
 * fdcap — per-uid accounting of the daemon's fds (see fdcap.h).
 *
 * Threading: c->lock guards everything.  Counts live in a small chained
 * hash of uids that hold fds (a uid leaves it when its count drops to 0);
 * owner[fd] remembers whom an fd was charged to, so a release needs only
 * the fd (another process may close what one opened).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "daemon/fdcap.h"

#define BUCKETS 256
#define NOBODY ((uid_t)-1)

struct slot {
	struct slot *next;
	uid_t uid;
	unsigned n;
};

struct fdcap {
	pthread_mutex_t lock;
	struct fdcap_limits lim;
	unsigned total;             /* charged to tenants, reservations included */
	uid_t *owner;               /* [lim.nofile] */
	struct slot *bucket[BUCKETS];
};

void fdcap_limits(unsigned nofile, unsigned per_uid, struct fdcap_limits *out)
{
	unsigned reserve = nofile / 8 > FDCAP_RESERVE_MIN ? nofile / 8 : FDCAP_RESERVE_MIN;

	out->nofile = nofile;
	out->reserve = reserve;
	out->pool = nofile > reserve ? nofile - reserve : 0;
	out->per_uid = per_uid ? per_uid : out->pool / 4 ? out->pool / 4 : 1;
	if (out->per_uid > out->pool)
		out->per_uid = out->pool;
}

int fdcap_new(struct fdcap **out, const struct fdcap_limits *lim)
{
	struct fdcap *c = calloc(1, sizeof(*c));

	if (!c || !(c->owner = malloc(((size_t)lim->nofile + 1) * sizeof(uid_t)))) {
		free(c);
		return -ENOMEM;
	}
	for (unsigned i = 0; i <= lim->nofile; i++)
		c->owner[i] = NOBODY;
	c->lim = *lim;
	pthread_mutex_init(&c->lock, NULL);
	*out = c;
	return 0;
}

void fdcap_free(struct fdcap *c)
{
	if (!c)
		return;
	for (unsigned b = 0; b < BUCKETS; b++)
		while (c->bucket[b]) {
			struct slot *s = c->bucket[b];

			c->bucket[b] = s->next;
			free(s);
		}
	pthread_mutex_destroy(&c->lock);
	free(c->owner);
	free(c);
}

static struct slot **find(struct fdcap *c, uid_t uid)
{
	struct slot **pp = &c->bucket[uid % BUCKETS];

	while (*pp && (*pp)->uid != uid)
		pp = &(*pp)->next;
	return pp;
}

/* Count one fd less for uid (under the lock). */
static void put(struct fdcap *c, uid_t uid)
{
	struct slot **pp = find(c, uid), *s = *pp;

	if (!s)
		return;
	c->total--;
	if (--s->n == 0) {
		*pp = s->next;
		free(s);
	}
}

int fdcap_take(struct fdcap *c, uid_t uid)
{
	struct slot **pp, *s;
	int r = 0;

	if (!c || uid == 0)
		return 0;
	pthread_mutex_lock(&c->lock);
	pp = find(c, uid);
	if (c->total >= c->lim.pool || (*pp && (*pp)->n >= c->lim.per_uid)) {
		r = -EMFILE;
	} else if (!(s = *pp) && !(s = *pp = calloc(1, sizeof(*s)))) {
		r = -ENOMEM;
	} else {
		s->uid = uid;
		s->n++;
		c->total++;
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

void fdcap_bind(struct fdcap *c, uid_t uid, int fd)
{
	if (!c || uid == 0)
		return;
	pthread_mutex_lock(&c->lock);
	if (fd < 0 || (unsigned)fd >= c->lim.nofile)
		put(c, uid);   /* failed, or an fd that cannot be tracked */
	else
		c->owner[fd] = uid;
	pthread_mutex_unlock(&c->lock);
}

uid_t fdcap_owner(struct fdcap *c, int fd, uid_t fallback)
{
	uid_t u;

	if (!c || fd < 0 || (unsigned)fd >= c->lim.nofile)
		return fallback;
	pthread_mutex_lock(&c->lock);
	u = c->owner[fd];
	pthread_mutex_unlock(&c->lock);
	return u == NOBODY ? fallback : u;
}

void fdcap_release(struct fdcap *c, int fd)
{
	if (!c || fd < 0 || (unsigned)fd >= c->lim.nofile)
		return;
	pthread_mutex_lock(&c->lock);
	if (c->owner[fd] != NOBODY) {
		put(c, c->owner[fd]);
		c->owner[fd] = NOBODY;
	}
	pthread_mutex_unlock(&c->lock);
}

unsigned fdcap_used(struct fdcap *c, uid_t uid)
{
	struct slot *s;
	unsigned n;

	pthread_mutex_lock(&c->lock);
	s = *find(c, uid);
	n = s ? s->n : 0;
	pthread_mutex_unlock(&c->lock);
	return n;
}

unsigned fdcap_used_total(struct fdcap *c)
{
	unsigned n;

	pthread_mutex_lock(&c->lock);
	n = c->total;
	pthread_mutex_unlock(&c->lock);
	return n;
}
