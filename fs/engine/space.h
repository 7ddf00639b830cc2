/*
 * space — keeps the trash from filling the disk: the sweeper's eviction
 * pass.  It measures the backing filesystem (fstatvfs f_bavail), asks the
 * policy (evict.h) what to evict for the free-space floor (-o min_free,
 * fairly between sites) and the sites' trash caps (trash_max), and purges those ops through the
 * trash engine (trash_purge_begin / trash_purge_step) in bounded steps,
 * checking the op's and its site's hold before every step.
 *
 * Crash safety: each eviction is journalled in BACKING/.gracefs/evicting
 * (written and fsynced before the purge starts, removed after it ended).
 * Steps: 1 journal; 2 purge_begin (op PURGING); 3 purge steps; 4 report
 * (audit "evict", log, counters); 5 drop the journal.  A kill -9 between
 * 1 and 2 leaves a journal naming a closed op: dropped at the next start,
 * the next pass decides afresh.  Between 2 and 4 the op is PURGING: the
 * sweeper finishes it first thing after the remount and space_resumed()
 * recognises it from the journal, so it is reported as an eviction.
 * Between 4 and 5 the journal names an op that is gone: dropped at start.
 *
 * Threading: space_pass runs on the sweeper thread only; space_stop,
 * space_resumed and space_get_status may be called from any thread
 * (s->lock guards the status, the counters and the journal's copy).
 */
#ifndef GRACEFS_SPACE_H
#define GRACEFS_SPACE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include "engine/evict.h"
#include "store/index.h"
#include "engine/trash.h"

#define SPACE_JOURNAL "evicting"   /* in BACKING/.gracefs */

struct space_conf {
	int backing_fd;            /* measured with fstatvfs; site policy */
	int state_fd;              /* BACKING/.gracefs: the journal */
	struct evict_floor floor;  /* -o min_free (default 10%) */
	int64_t min_age_s;         /* min_retention: younger ops are never evicted */
	int64_t recheck_ns;        /* longest time between full looks at the index (caps,
				    * status figures) while above the floor; default 30 s */
	unsigned step_budget;      /* entries per locked purge step (default 1024) */
	/* An op was evicted (why: EVICT_SPACE or EVICT_CAP; detail: a short
	 * "reason=… free=… floor=…" text for the audit).  Sweeper thread. */
	void (*on_evicted)(void *arg, const struct op_record *r, uint64_t removed,
			   const char *detail);
	/* Something the operator must hear about (pressure, failures). */
	void (*on_notice)(void *arg, const char *msg);
	void *cb_arg;
};

struct space_status {
	bool known;                  /* a pass has measured the filesystem */
	uint64_t total, avail;       /* backing filesystem, bytes */
	uint64_t floor;              /* the floor in bytes (0: disabled) */
	struct evict_floor min_free; /* as configured */
	uint64_t eligible_ops, eligible_bytes;   /* could be evicted now */
	uint64_t held, young, busy;  /* ops that could not */
	uint64_t evicted_ops, evicted_bytes;     /* since start */
	bool pressure;               /* below the floor and nothing more may go */
	/* the site with the most trash against its share ("/": whole deleted
	 * sites; "" when no trash), its unheld trash and share (evict.h) */
	char top_site[NAME_MAX + 1];
	uint64_t top_bytes, top_share;
	/* below the floor: the site over its share whose trash is all young or
	 * open, which keeps everyone else's from being evicted ("" if none) */
	char blocked_site[NAME_MAX + 1];
	uint64_t blocked_bytes, blocked_share;
	int last_error;              /* -errno of the last failed eviction, 0 if none */
};

struct space;

/* Reads (and settles) the journal: index ix tells whether its op is still
 * PURGING.  0 or -errno. */
int space_new(struct space **out, struct trash *t, struct index *ix,
	      const struct space_conf *conf);
void space_free(struct space *s);            /* NULL ok */

/* Make a running pass return after its current step (before the sweeper
 * is stopped).  Any thread. */
void space_stop(struct space *s);

/* One pass (sweeper thread): measure, plan, evict.  now_s is the
 * trusted elapsed clock (clock.h) in seconds, what ages are measured on.
 * Returns how soon (ns) it wants the next pass: 0 (the sweeper's own
 * cadence, sweep_interval) while above the floor, so an operator's long
 * sweep_interval is kept; seconds or less while below it. */
int64_t space_pass(struct space *s, int64_t now_s);

/* The sweeper finished purging r after a restart: if the journal says it
 * was an eviction, report it as one (on_evicted), drop the journal and
 * return true; else false (an expiry).  Any thread. */
bool space_resumed(struct space *s, const struct op_record *r, uint64_t removed);

void space_get_status(struct space *s, struct space_status *st);

/* One site's figures in the fair eviction order (evict_shares). */
struct space_share {
	char site[NAME_MAX + 1];   /* "": deleted whole sites (the root trash) */
	uint64_t bytes;            /* its unheld trash not being purged */
	uint64_t share;            /* its share: trash_max, else the equal share */
};
/* Every site's figures as of the last full look (before that look's
 * evictions): up to cap of them into out; returns how many there are
 * (0 before the first look).  Any thread. */
size_t space_get_shares(struct space *s, struct space_share *out, size_t cap);

#endif
