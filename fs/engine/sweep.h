/*
 * sweep — the sweeper: purges expired operations in the background.
 *
 * One thread sleeps until the next expiry in the index (or the interval,
 * whichever is first), then purges every due op that is not held (op hold
 * or site hold), in bounded steps through trash_purge_step() so deletions
 * through the mount wait at most one step and nothing else waits at all.
 * Ops left PURGING (by a crash, or by a hold placed mid-purge that was
 * released since) are finished first, unless held.
 *
 * Clock safety: "due" is measured on the trusted elapsed clock (clock.h),
 * never on the wall clock, so no wall-clock step, slew or wrong setting
 * makes anything expire early; there is nothing to confirm.  Each pass
 * saves that clock.  The wall clock is only watched: when it disagrees with
 * elapsed time since the sweeper started by more than jump_ns (more again
 * since the last notice), the operator gets a notice.
 *
 * Threading: sweep_pass() runs on the sweeper thread (or a test's); the
 * status calls may come from any thread (one mutex).
 */
#ifndef GRACEFS_SWEEP_H
#define GRACEFS_SWEEP_H

#include <stdbool.h>
#include <stdint.h>
#include "store/index.h"
#include "engine/trash.h"

struct sweep_conf {
	int backing_fd;        /* for site holds */
	int64_t interval_ns;   /* longest sleep between passes */
	int64_t jump_ns;       /* wall-clock disagreement worth a notice */
	unsigned step_budget;  /* entries removed per locked step */
	/* called after an op is fully purged (audit, metrics); any thread */
	void (*on_purged)(void *arg, const struct op_record *r, uint64_t removed);
	/* a message worth the operator's attention (clock skew, failures) */
	void (*on_notice)(void *arg, const char *msg);
	/* after each pass's expiries: the free-space pass (space.h), given the
	 * trusted elapsed clock in seconds (clock.h); returns how soon (ns) it
	 * wants the next pass.  NULL: none */
	int64_t (*after_pass)(void *arg, int64_t trusted_s);
	void *cb_arg;
};

struct sweep_status {
	int64_t elapsed_s;      /* the trusted elapsed clock at the last pass */
	int64_t skew_s;         /* wall-clock advance minus elapsed time since
				 * the first pass (informational only) */
	uint64_t purged_ops, purged_entries;
	int64_t last_purge_ns;  /* how long the last completed purge took */
	int64_t lag_s;          /* oldest due, unheld op not yet purged: now - expiry */
	int last_error;         /* -errno of the last failed purge, 0 if none */
	int64_t last_pass_s;    /* wall clock (s) when the last pass ended; 0: none yet
				 * (for the operator's "is it passing" alert only) */
};

struct sweep;

int sweep_new(struct sweep **out, struct trash *t, struct index *ix,
	      const struct sweep_conf *conf);
void sweep_free(struct sweep *s);          /* stops the thread; NULL ok */

int sweep_start(struct sweep *s);          /* 0 or -errno */
void sweep_stop(struct sweep *s);
void sweep_kick(struct sweep *s);          /* run a pass now */

/* One pass: save the trusted clock, then purge what is due on it.
 * Returns how long to sleep before the next pass (ns). */
int64_t sweep_pass(struct sweep *s);

void sweep_get_status(struct sweep *s, struct sweep_status *st);

#endif
