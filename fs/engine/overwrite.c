/*
 * overwrite — preserving a file's content before a truncation (see
 * overwrite.h for the contract, docs/overwrite.md for the decisions).
 *
 * Threading: ow->noclone_dev is a hint written and read with relaxed
 * atomics (a stale read costs one failed FICLONE); counters are atomic.
 * ow->gate_lock protects the gate's uid records (struct uid_gate) and is
 * held only to count: a waiting copy sleeps on its uid's condition (which
 * releases the mutex), a running copy holds no lock.  It is a leaf lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/privs.h"
#include "store/layout.h"
#include "engine/overwrite.h"
#include "engine/sitepolicy.h"

#define COPY_CHUNK (8LL << 20)

/* The copies of one uid that run or wait (exists while there is one). */
struct uid_gate {
	uid_t uid;
	unsigned running, waiting;
	pthread_cond_t turn;    /* signalled when one of running ends */
	struct uid_gate *next;
};

struct overwrite {
	struct overwrite_conf conf;
	/* the backing filesystem refused FICLONE (ext4, tmpfs): skip trying */
	uint64_t noclone_dev;   /* dev + 1; 0: unknown */
	struct overwrite_counters n;
	pthread_mutex_t gate_lock;
	struct uid_gate *gates;   /* gate_lock; few: only uids copying now */
};

int overwrite_new(struct overwrite **out, const struct overwrite_conf *conf)
{
	struct overwrite *ow = calloc(1, sizeof(*ow));

	if (!ow)
		return -ENOMEM;
	ow->conf = *conf;
	if (!ow->conf.copies_per_uid)
		ow->conf.copies_per_uid = OVERWRITE_DEFAULT_PER_UID;
	ow->n.per_uid = ow->conf.copies_per_uid;
	pthread_mutex_init(&ow->gate_lock, NULL);
	*out = ow;
	return 0;
}

void overwrite_free(struct overwrite *ow)
{
	if (!ow)
		return;
	for (struct uid_gate *g = ow->gates, *next; g; g = next) {
		next = g->next;   /* none left unless a copy is still running: a bug */
		pthread_cond_destroy(&g->turn);
		free(g);
	}
	pthread_mutex_destroy(&ow->gate_lock);
	free(ow);
}

static void count(uint64_t *c)
{
	__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

/* ---- the copy gate -------------------------------------------------------------- */

int overwrite_gate_enter(struct overwrite *ow, uid_t uid)
{
	struct uid_gate *g;
	bool waited = false;

	pthread_mutex_lock(&ow->gate_lock);
	for (g = ow->gates; g && g->uid != uid; g = g->next)
		;
	if (!g) {
		if (!(g = calloc(1, sizeof(*g)))) {
			pthread_mutex_unlock(&ow->gate_lock);
			return -ENOMEM;
		}
		g->uid = uid;
		pthread_cond_init(&g->turn, NULL);
		g->next = ow->gates;
		ow->gates = g;
	}
	while (g->running >= ow->conf.copies_per_uid) {
		if (!waited) {
			waited = true;
			count(&ow->n.waits);
		}
		g->waiting++;
		__atomic_fetch_add(&ow->n.waiting, 1, __ATOMIC_RELAXED);
		pthread_cond_wait(&g->turn, &ow->gate_lock);
		g->waiting--;
		__atomic_fetch_sub(&ow->n.waiting, 1, __ATOMIC_RELAXED);
	}
	g->running++;
	__atomic_fetch_add(&ow->n.copying, 1, __ATOMIC_RELAXED);
	if (g->running > ow->n.peak_per_uid)   /* written under gate_lock only */
		__atomic_store_n(&ow->n.peak_per_uid, g->running, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&ow->gate_lock);
	return 0;
}

void overwrite_gate_leave(struct overwrite *ow, uid_t uid)
{
	struct uid_gate **pp, *g;

	pthread_mutex_lock(&ow->gate_lock);
	for (pp = &ow->gates; (g = *pp) && g->uid != uid; pp = &g->next)
		;
	if (g) {
		g->running--;
		__atomic_fetch_sub(&ow->n.copying, 1, __ATOMIC_RELAXED);
		if (g->waiting) {
			pthread_cond_signal(&g->turn);
		} else if (!g->running) {
			*pp = g->next;
			pthread_cond_destroy(&g->turn);
			free(g);
		}
	}
	pthread_mutex_unlock(&ow->gate_lock);
}

void overwrite_get_counters(struct overwrite *ow, struct overwrite_counters *c)
{
	c->cloned = __atomic_load_n(&ow->n.cloned, __ATOMIC_RELAXED);
	c->copied = __atomic_load_n(&ow->n.copied, __ATOMIC_RELAXED);
	c->unpreserved = __atomic_load_n(&ow->n.unpreserved, __ATOMIC_RELAXED);
	c->copying = __atomic_load_n(&ow->n.copying, __ATOMIC_RELAXED);
	c->waiting = __atomic_load_n(&ow->n.waiting, __ATOMIC_RELAXED);
	c->waits = __atomic_load_n(&ow->n.waits, __ATOMIC_RELAXED);
	c->peak_per_uid = __atomic_load_n(&ow->n.peak_per_uid, __ATOMIC_RELAXED);
	c->per_uid = ow->n.per_uid;
}

/* ---- making the content ------------------------------------------------------- */

/* Copy src's data into dst (same length, holes kept).  0 or -errno. */
static int copy_data(int src, int dst, off_t size)
{
	off_t pos = 0;

	while (pos < size) {
		off_t data = lseek(src, pos, SEEK_DATA), hole;

		if (data < 0)
			break;   /* ENXIO: only a hole remains */
		if ((hole = lseek(src, data, SEEK_HOLE)) < 0)
			hole = size;
		if (hole > size)
			hole = size;
		for (off_t in = data, o = data; in < hole;) {
			ssize_t n = copy_file_range(src, &in, dst, &o,
						    (size_t)(hole - in < COPY_CHUNK ? hole - in : COPY_CHUNK), 0);

			if (n < 0)
				return -errno;
			if (n == 0)
				return -EIO;   /* the file shrank under us: not a faithful copy */
		}
		pos = hole;
	}
	return ftruncate(dst, size) < 0 ? -errno : 0;
}

/* The copy limit of loc's site: its own setting, else the mount's. */
static int64_t limit_of(struct overwrite *ow, const char *site)
{
	struct site_policy p;

	if (sitepolicy_get(ow->conf.backing_fd, site, &p) == 0 && p.preserve_max >= 0)
		return p.preserve_max;
	return ow->conf.preserve_max;
}

/* An unnamed file in the site's .trash (same filesystem as the data). */
static int tmpfile_in(struct overwrite *ow, const char *site)
{
	int sfd = openat(ow->conf.backing_fd, site, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int tfd, fd;

	if (sfd < 0)
		return -errno;
	tfd = layout_site_trash_open(sfd);
	close(sfd);
	if (tfd < 0)
		return tfd;
	fd = openat(tfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	fd = fd < 0 ? -errno : fd;
	close(tfd);
	return fd;
}

/* Clone or copy srcfd into tmpfd: OW_CLONED, OW_COPIED, OW_UNPRESERVED or -errno.
 * A copy runs in one of uid's slots of the gate. */
static int fill(struct overwrite *ow, uid_t uid, int tmpfd, int srcfd, const struct stat *st,
		int64_t limit)
{
	uint64_t dev1 = (uint64_t)st->st_dev + 1;
	off_t cost = st->st_blocks * 512 < st->st_size ? st->st_blocks * 512 : st->st_size;
	int r;

	if (__atomic_load_n(&ow->noclone_dev, __ATOMIC_RELAXED) != dev1) {
		if (ioctl(tmpfd, FICLONE, srcfd) == 0)   /* the whole file: cut to st's size */
			return ftruncate(tmpfd, st->st_size) < 0 ? -errno : OW_CLONED;
		if (errno == EOPNOTSUPP || errno == ENOTTY || errno == EXDEV)
			__atomic_store_n(&ow->noclone_dev, dev1, __ATOMIC_RELAXED);
	}
	if (cost > limit)
		return OW_UNPRESERVED;
	if ((r = overwrite_gate_enter(ow, uid)) < 0)
		return r;
	r = copy_data(srcfd, tmpfd, st->st_size);
	overwrite_gate_leave(ow, uid);
	return r < 0 ? r : OW_COPIED;
}

int overwrite_preserve(struct overwrite *ow, const struct caller *who,
		       const struct trash_loc *loc, int srcfd, const struct stat *st,
		       off_t keep, struct overwrite_result *res)
{
	int tmpfd = -1, r;

	*res = (struct overwrite_result){ .how = OW_NOTHING, .bytes = (uint64_t)st->st_size };
	/* new and empty files, growing, and anything but a live file: nothing to lose */
	if (!S_ISREG(st->st_mode) || st->st_size == 0 || keep >= st->st_size || !loc->site ||
	    !*loc->site)
		return 0;
	res->limit = limit_of(ow, loc->site);
	if ((r = trash_preserve_held(ow->conf.trash, who, loc, st, res->op, sizeof(res->op))) != 0) {
		if (r > 0)
			res->how = OW_HELD;
		return r < 0 ? r : 0;
	}
	if (__atomic_load_n(&ow->noclone_dev, __ATOMIC_RELAXED) == (uint64_t)st->st_dev + 1 &&
	    st->st_size > res->limit && st->st_blocks * 512 > res->limit) {
		res->how = OW_UNPRESERVED;   /* known in advance: no temp file at all */
		count(&ow->n.unpreserved);
		return 0;
	}
	if ((tmpfd = tmpfile_in(ow, loc->site)) < 0)
		return tmpfd;
	/* as the writer: ext4 grants its reserved blocks to fsuid 0 (privs.h) */
	uid_t fs = privs_fsuid_enter(who->uid);
	r = fill(ow, who->uid, tmpfd, srcfd, st, res->limit);
	privs_fsuid_leave(fs);
	if (r == OW_UNPRESERVED) {
		res->how = OW_UNPRESERVED;
		count(&ow->n.unpreserved);
		r = 0;
	} else if (r >= 0) {
		int how = r;

		r = trash_preserve_commit(ow->conf.trash, who, loc, tmpfd, srcfd, st, res->op,
					  sizeof(res->op));
		if (r == 0) {
			res->how = (enum overwrite_how)how;
			count(how == OW_CLONED ? &ow->n.cloned : &ow->n.copied);
		} else if (r > 0) {
			res->how = OW_HELD;   /* another thread of the caller was first */
			r = 0;
		}
	}
	close(tmpfd);
	return r;
}
