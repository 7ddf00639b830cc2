/*
 * fairq — a small pool of worker threads that runs jobs fairly between
 * keys: at most per_key jobs of one key run at once, and a free worker
 * takes the next runnable key in round-robin order, the oldest job of that
 * key first.  One key's flood of jobs waits in its own queue; the jobs of
 * other keys go past it.  The daemon uses it (key: uid) so that a request
 * that may copy a large file never holds a FUSE worker thread while it
 * waits or copies (daemon/ops_defer.c).
 *
 * Workers start on demand, up to `threads`, and stay until fairq_free.
 *
 * Threading: any thread may submit; one mutex protects the queues and is
 * never held while a job runs (a leaf lock for the caller: jobs may submit
 * more jobs).
 */
#ifndef GRACEFS_FAIRQ_H
#define GRACEFS_FAIRQ_H

#include <stdint.h>

struct fairq;

typedef void fairq_fn(void *arg);

struct fairq_stats {
	uint64_t running;        /* jobs running now */
	uint64_t queued;         /* jobs waiting now */
	uint64_t submitted;      /* jobs accepted since start */
	uint64_t peak_per_key;   /* most jobs of one key running at once since start */
	uint64_t threads;        /* workers started */
};

/* threads >= 1, per_key >= 1 (0: 1).  0, -ENOMEM. */
int fairq_new(struct fairq **out, unsigned threads, unsigned per_key);

/* Run fn(arg) on a worker, after the jobs of key submitted before it.
 * 0 (fn will run exactly once, by fairq_free at the latest), -ENOMEM, or
 * -EAGAIN (no worker could be started and none runs: the caller runs it
 * itself), -ESHUTDOWN after fairq_free began. */
int fairq_submit(struct fairq *q, uint32_t key, fairq_fn *fn, void *arg);

void fairq_get_stats(struct fairq *q, struct fairq_stats *s);

/* Run every job still queued and join the workers; later submits fail
 * with -ESHUTDOWN, stats still work.  NULL ok.  Not from a job. */
void fairq_stop(struct fairq *q);
/* fairq_stop if not done yet, then free.  NULL ok.  Not from a job. */
void fairq_free(struct fairq *q);

#endif
