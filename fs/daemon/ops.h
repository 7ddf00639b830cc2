/*
 * ops — the FUSE low-level operations of gracefs, and the daemon context
 * they share.  Only this layer and main include FUSE headers.
 *
 * Threading: libfuse's multi-threaded loop calls the ops concurrently.
 * Shared state lives in the inode table (its own lock) and the trash
 * engine (its own lock); lock order: trash, then inode table, then the
 * invalidation queue.  One maintenance thread runs trash_tick and sends
 * the kernel cache invalidations it asks for.
 */
#ifndef GRACEFS_OPS_H
#define GRACEFS_OPS_H

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include "daemon/control.h"
#include "daemon/fdcap.h"
#include "store/index.h"
#include "engine/created.h"
#include "engine/space.h"
#include "engine/overwrite.h"
#include "engine/sweep.h"
#include "engine/trash.h"
#include "engine/vattr.h"

struct inval;

struct gfs {
	int backing_fd;            /* BACKING, O_RDONLY|O_DIRECTORY */
	int state_fd;              /* BACKING/.gracefs */
	struct index *ix;
	struct trash *trash;
	struct created *cr;         /* what runs create (created.h); may be NULL */
	int64_t cr_keep_s;         /* its records are kept this long (the retention) */
	int64_t cr_pruned_ns;      /* monotonic time of the last prune */
	struct overwrite *ow;      /* truncations preserve first (overwrite.h) */
	struct sweep *sweep;
	struct space *space;       /* eviction for space (the sweeper's) */
	struct control *ctl;       /* catalog, audit, protected paths; may be NULL */
	/* ops closed before ctl was open (the pre-mount reconcile): audited
	 * once it is (main thread only) */
	struct op_record *unaudited;
	size_t nunaudited;
	struct vattr_ctx va;       /* virtual user.gracefs.* attributes */
	struct fdcap *fdcap;       /* per-uid open-file caps; NULL: none */
	struct fairq *copyq;       /* requests that may copy (ops_defer.c); NULL: none */
	struct fuse_session *se;
	double timeout;            /* entry/attr cache seconds */
	bool trash_visible;
	bool trash_view_all;        /* -o trash_view=all (default reach: docs/isolation.md) */
	bool writeback;
	unsigned time_gran;          /* ns: the backing store's timestamp granularity */
	/* maintenance thread */
	pthread_t maint;
	bool maint_running;
	pthread_mutex_t maint_lock;
	pthread_cond_t maint_cond;
	bool maint_stop;
	int64_t tick_ns;
	const char *metrics_path;  /* NULL: no metrics file */
	/* invalidations queued by trash callbacks, sent by maintenance */
	pthread_mutex_t inval_lock;
	struct inval *inval;
};

extern const struct fuse_lowlevel_ops gfs_ops;

/* The trash engine's on_removed callback (arg is the struct gfs). */
void ops_on_removed(void *arg, int dirfd, const char *name);
/* The trash engine's on_undone callback: cached directory listings are
 * dropped (see dir_cacheable in ops_io.c). */
void ops_on_undone(void *arg);

/* The trash engine's on_relinked callback: the kernel's attributes of
 * that inode (if it knows it) are dropped by the maintenance thread. */
void ops_on_relinked(void *arg, dev_t dev, ino_t ino);

/* Start / stop / free the copy pool (ops_defer.c): per_uid requests of
 * one uid at a time.  Stop after the session loop ended (it runs what is
 * queued, while the engine and control are still open); free after
 * control_close (status reads its counters).  0 or -ENOMEM. */
int ops_defer_start(struct gfs *g, unsigned per_uid);
void ops_defer_stop(struct gfs *g);
void ops_defer_free(struct gfs *g);

/* Start / stop the maintenance thread.  0 or -errno. */
int ops_maint_start(struct gfs *g);
void ops_maint_stop(struct gfs *g);

#endif
