/*
 * ops_maint — the maintenance thread (trash ticks, control ticks, metrics)
 * and the kernel invalidations the trash engine's callbacks queue for it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "lib/log.h"
#include "lib/sys.h"
#include "daemon/ops_int.h"
#include "daemon/wberr.h"

struct inval {
	struct inval *next;
	dev_t dev;
	ino_t ino;
	bool attr_only;   /* the inode's attributes, not a name in it */
	char name[NAME_MAX + 1];
};

static void queue_inval(struct gfs *g, struct inval *iv)
{
	pthread_mutex_lock(&g->inval_lock);
	iv->next = g->inval;
	g->inval = iv;
	pthread_mutex_unlock(&g->inval_lock);
}

void ops_on_relinked(void *arg, dev_t dev, ino_t ino)
{
	struct inval *iv = calloc(1, sizeof(*iv));

	if (!iv)
		return;   /* the kernel's attributes expire by their timeout */
	iv->dev = dev;
	iv->ino = ino;
	iv->attr_only = true;
	queue_inval(arg, iv);
}

/* Have the maintenance thread send the queued invalidations now, not at
 * the next tick (never from a request: the kernel may hold the locks an
 * invalidation takes until the request is answered). */
static void wake_maint(struct gfs *g)
{
	pthread_mutex_lock(&g->maint_lock);
	pthread_cond_signal(&g->maint_cond);
	pthread_mutex_unlock(&g->maint_lock);
}

void ops_write_failed(struct gfs *g, fuse_ino_t nodeid, int fd, int err)
{
	struct stat st;

	wberr_note(nodeid, err);
	if (fstat(fd, &st) < 0)
		return;   /* the kernel asks again when its attributes expire */
	ops_on_relinked(g, st.st_dev, st.st_ino);
	wake_maint(g);
}

void ops_on_removed(void *arg, int dirfd, const char *name)
{
	struct gfs *g = arg;
	struct inval *iv = calloc(1, sizeof(*iv));
	struct stat st;

	if (!iv || fstat(dirfd, &st) < 0) {
		free(iv);
		return;   /* the kernel's entry expires by its timeout */
	}
	iv->dev = st.st_dev;
	iv->ino = st.st_ino;
	snprintf(iv->name, sizeof(iv->name), "%s", name);
	queue_inval(g, iv);
}

static void send_invalidations(struct gfs *g);

#define CREATED_PRUNE_EVERY_NS (3600 * 1000000000LL)

/* What runs created reaches the index once per tick, in one batch; records
 * older than the retention go once an hour (docs/cli.md, "Undoing what a
 * run created"). */
static void created_tick(struct gfs *g)
{
	static int64_t said_ns;
	static uint64_t unrecorded;   /* as last said (maintenance thread only) */
	int64_t mono = sys.mono_ns();
	struct created_stats cs;
	uint64_t dropped = 0;
	int r;

	if (!g->cr)
		return;
	created_get_stats(g->cr, &cs);
	if (cs.unrecorded > unrecorded) {   /* never silent: --created will not move them */
		log_msg(LOG_WARNING, "%" PRIu64 " creation(s) not recorded for undo --created "
			"(a run over %u items, over %u records in all, or no memory)",
			cs.unrecorded - unrecorded, (unsigned)CREATED_RUN_MAX,
			(unsigned)CREATED_TOTAL_MAX);
		unrecorded = cs.unrecorded;
	}
	if ((r = created_flush(g->cr)) < 0 && mono - said_ns > 60 * 1000000000LL) {
		said_ns = mono;
		log_msg(LOG_WARNING, "cannot record what runs created: %s (tried again)",
			strerror(-r));
	}
	if (g->cr_pruned_ns && mono - g->cr_pruned_ns < CREATED_PRUNE_EVERY_NS)
		return;
	g->cr_pruned_ns = mono;
	if ((r = created_prune(g->cr, sys.wall_ns() - g->cr_keep_s * 1000000000LL, &dropped)) < 0)
		log_msg(LOG_WARNING, "cannot prune the records of what runs created: %s",
			strerror(-r));
	else if (dropped)
		log_msg(LOG_INFO, "pruned %" PRIu64 " record(s) of what runs created (older than "
			"the retention)", dropped);
}

/* An undo put names back into live directories whose listings the kernel
 * may hold (dir_cacheable): drop every directory's cached listing and
 * attributes.  Undo is rare; the list is the directories the kernel knows.
 * Called after the engine lock is let go, before gracectl hears "done": the
 * entries the undo queued (a live name that now holds the preserved file,
 * UNDO_REPLACE) are dropped now, so the next open sees the restored file. */
void ops_on_undone(void *arg)
{
	struct gfs *g = arg;
	uint64_t *ids = NULL;
	ssize_t n;

	send_invalidations(g);
	if (!g->se || (n = inode_dir_nodeids(&ids)) < 0)
		return;
	for (ssize_t i = 0; i < n; i++)
		fuse_lowlevel_notify_inval_inode(g->se, ids[i], 0, 0);
	free(ids);
}

static void send_invalidations(struct gfs *g)
{
	struct inval *list;

	pthread_mutex_lock(&g->inval_lock);
	list = g->inval;
	g->inval = NULL;
	pthread_mutex_unlock(&g->inval_lock);
	while (list) {
		struct inval *iv = list;
		struct inode *parent = inode_find(iv->dev, iv->ino);

		list = iv->next;
		if (parent && g->se && iv->attr_only)
			fuse_lowlevel_notify_inval_inode(g->se, inode_nodeid(parent), -1, 0);
		else if (parent && g->se)
			fuse_lowlevel_notify_inval_entry(g->se, inode_nodeid(parent),
							 iv->name, strlen(iv->name));
		free(iv);
	}
}

/* The metrics file: within a second of a change (a sweeper pass is one),
 * and every 30 s anyway. */
static void write_metrics(struct gfs *g)
{
	static int64_t last_ns;
	static uint64_t last_sum = UINT64_MAX;
	struct trash_counters tc;
	struct sweep_status st = {0};
	struct space_status sp = {0};
	struct timespec now;
	int64_t ns;
	uint64_t sum;

	if (!g->metrics_path || !g->ctl)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ns = now.tv_sec * 1000000000LL + now.tv_nsec;
	trash_get_counters(g->trash, &tc);
	if (g->sweep)
		sweep_get_status(g->sweep, &st);
	struct overwrite_counters oc = {0};
	if (g->space)
		space_get_status(g->space, &sp);
	if (g->ow)
		overwrite_get_counters(g->ow, &oc);
	struct brake_stats bs;
	control_brake_stats(g->ctl, &bs);
	/* a sweeper pass counts as a change: the "sweeper not passing" alert
	 * reads its time (at most one write a second all the same); so do a
	 * brake and its release (the brake alert reads the braked runs) and
	 * an eviction (the trash gauges drop within the tick that evicted) */
	sum = tc.deletions + tc.restores + tc.purged + (uint64_t)st.skew_s + (uint64_t)sp.pressure +
	      oc.cloned + oc.copied + oc.unpreserved + (uint64_t)st.last_pass_s +
	      bs.braked + bs.trips + sp.evicted_ops + sp.evicted_bytes;
	if (ns - last_ns < 1000000000LL || (sum == last_sum && ns - last_ns < 30000000000LL))
		return;
	int r = control_write_metrics(g->ctl, g->metrics_path, true);
	if (r < 0)
		log_msg(LOG_WARNING, "metrics: cannot write %s: %s", g->metrics_path, strerror(-r));
	last_ns = ns;
	last_sum = sum;
}

static void *maint_main(void *arg)
{
	struct gfs *g = arg;

	pthread_mutex_lock(&g->maint_lock);
	while (!g->maint_stop) {
		struct timespec until;

		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += g->tick_ns % 1000000000;
		until.tv_sec += g->tick_ns / 1000000000 + until.tv_nsec / 1000000000;
		until.tv_nsec %= 1000000000;
		pthread_cond_timedwait(&g->maint_cond, &g->maint_lock, &until);
		if (g->maint_stop)
			break;
		pthread_mutex_unlock(&g->maint_lock);
		int r = trash_tick(g->trash);
		if (r < 0)
			log_msg(LOG_ERR, "index or trash record update failed: %s", strerror(-r));
		created_tick(g);
		send_invalidations(g);
		control_tick(g->ctl);
		write_metrics(g);
		pthread_mutex_lock(&g->maint_lock);
	}
	pthread_mutex_unlock(&g->maint_lock);
	return NULL;
}

int ops_maint_start(struct gfs *g)
{
	pthread_condattr_t ca;
	int r;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->maint_cond, &ca);
	pthread_condattr_destroy(&ca);
	g->maint_stop = false;
	if ((r = pthread_create(&g->maint, NULL, maint_main, g)) != 0)
		return -r;
	g->maint_running = true;
	return 0;
}

void ops_maint_stop(struct gfs *g)
{
	if (!g->maint_running)
		return;
	pthread_mutex_lock(&g->maint_lock);
	g->maint_stop = true;
	pthread_cond_signal(&g->maint_cond);
	pthread_mutex_unlock(&g->maint_lock);
	pthread_join(g->maint, NULL);
	g->maint_running = false;
	send_invalidations(g);
}

void ops_entry_stale(struct gfs *g, int dirfd, const char *name)
{
	ops_on_removed(g, dirfd, name);
	wake_maint(g);
}
