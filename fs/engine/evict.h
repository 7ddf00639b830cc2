/*
 * evict — which trash operations to evict when space runs short: a pure
 * function over op records and free-space numbers (no I/O, no clock, no
 * locking), so every rule below is unit-tested on its own.
 *
 * Two triggers, one eligibility rule:
 *   - a site cap (trash_max): when a site's trash (every op of it, held and
 *     young ones included) is larger than its cap, evict that site's
 *     eligible ops, oldest first, until it fits;
 *   - the free-space floor: when avail < floor, evict until avail plus what
 *     the victims free reaches floor + margin (margin: a tenth of the
 *     floor, so one eviction run makes room for a while instead of
 *     trimming one op per pass), fairly between scopes (sites; "" — whole
 *     deleted sites — is one more scope):
 *       * a scope's usage is the bytes of its unheld ops that are not being
 *         purged (young and open ops count: they are the tenant's churn;
 *         held ones do not: a hold is the operator's choice);
 *       * its share is its trash_max where one is set, else an equal share
 *         of all scopes' usage (usage total / scopes with usage);
 *       * the next victim is the oldest eligible op of the scope whose
 *         usage is largest against its share (ties: the scope whose next op
 *         is oldest), and the figures are taken again after each victim;
 *       * a scope within its share loses nothing while another scope is
 *         over its share, even when that one has nothing eligible (young or
 *         open ops): the plan then stops there and names that scope
 *         (blocked_by), and the floor stays unmet (pressure) — one tenant's
 *         churn never evicts another's trash while its own is there.
 * Eligible: closed (never open or already purging), not held (op hold or
 * site hold), and whose last deletion is at least min_age_s old
 * (min_retention) on the trusted elapsed clock (clock.h), rounded as
 * expiry rounds (oprec_due): no wall-clock error makes an op evictable
 * early.  "Oldest" is the earliest such stamp (then scope, name).
 *
 * Byte counts are the ops' recorded allocated bytes: an estimate (hard
 * links shared with live files free nothing); the caller measures free
 * space again after each eviction and stops when it is back.
 */
#ifndef GRACEFS_EVICT_H
#define GRACEFS_EVICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "store/oprec.h"

/* -o min_free=: a percentage of the filesystem or a byte size. */
struct evict_floor {
	bool pct;          /* value is a percentage (0-99) */
	uint64_t value;    /* percent, or bytes */
};

/* "10%", "0%", "512M", "20G", "1T", "4096" (bytes), suffixes K M G T P
 * (powers of 1024; an optional trailing "B" or "iB").  0, or -EINVAL
 * (syntax, a percentage of 100 or more), -ERANGE (over 2^63). */
int evict_parse_floor(const char *s, struct evict_floor *f);
/* "10%" or the shortest exact size ("512M", "1536K", "4097"). */
void evict_format_floor(const struct evict_floor *f, char *buf, size_t cap);
/* For people: "812B", "46.5MiB", "1.2TiB" (rounded). */
void evict_format_approx(uint64_t bytes, char *buf, size_t cap);

/* The floor in bytes on a filesystem of `total` bytes, and the margin above
 * it that an eviction run aims for. */
uint64_t evict_floor_bytes(const struct evict_floor *f, uint64_t total);
uint64_t evict_margin(uint64_t floor_bytes);

/* One op as the policy sees it (the caller owns the strings). */
struct evict_op {
	const char *scope, *name;
	int64_t el_ns;             /* trusted elapsed clock at its last deletion
				    * (op_record.last_el_ns, clock.h) */
	uint64_t bytes;            /* recorded allocated bytes */
	uint32_t state;            /* enum op_state */
	bool hold;                 /* op under legal hold */
	bool site_held;            /* its site under legal hold */
};

/* A site with a trash_max. */
struct evict_cap {
	const char *scope;
	uint64_t max_bytes;
};

struct evict_input {
	const struct evict_op *ops;
	size_t nops;
	const struct evict_cap *caps;
	size_t ncaps;
	int64_t now_s;             /* trusted elapsed clock, seconds */
	int64_t min_age_s;         /* min_retention */
	uint64_t total, avail;     /* the backing filesystem, bytes */
	uint64_t floor;            /* bytes (evict_floor_bytes) */
};

enum evict_reason { EVICT_SPACE = 1, EVICT_CAP = 2 };

/* A scope's figures when a victim was chosen (for the audit): usage and
 * share in bytes (see above; for a cap victim the share is the cap). */
struct evict_figures {
	const char *scope;         /* NULL: none (no other scope has usage) */
	uint64_t bytes, share;
};

struct evict_victim {
	size_t op;                 /* index into input.ops */
	enum evict_reason reason;
	struct evict_figures site;   /* the victim's scope, before the victim went */
	struct evict_figures other;  /* the scope next in line (largest usage against
				      * its share among the others) */
};

struct evict_plan {
	struct evict_victim *v;    /* caller-provided, room for nops */
	size_t n;                  /* victims, in the order to evict them */
	uint64_t bytes;            /* their recorded bytes */
	/* what could be evicted now (every eligible op) */
	uint64_t eligible_ops, eligible_bytes;
	/* why the others cannot */
	uint64_t held, young, busy;
	bool below_floor;          /* avail < floor */
	bool short_of_floor;       /* even after these victims, still below the floor */
	/* the floor was not met because this scope is over its share with
	 * nothing eligible left (scope NULL: not blocked) */
	struct evict_figures blocked_by;
	/* the scope with the largest usage against its share, after the plan */
	struct evict_figures top;
};

/* Plan the evictions.  plan->v must have room for in->nops victims, which
 * come in the order to evict them: cap victims first (oldest first), then
 * the floor's in the fair order.  0, or -ENOMEM (scratch space). */
int evict_plan(const struct evict_input *in, struct evict_plan *plan);

/* Every scope's usage and share as the floor's fair order sees them now
 * (before any eviction): out must have room for in->nops entries; *n gets
 * the number of scopes, in name order (names point into in->ops).  What
 * an operator reads as "who holds more than its share" (metrics
 * gracefs_trash_share_ratio).  0, or -ENOMEM. */
int evict_shares(const struct evict_input *in, struct evict_figures *out, size_t *n);

/* Is this op eligible (closed, unheld, old enough)? */
bool evict_eligible(const struct evict_op *op, int64_t now_s, int64_t min_age_s);

#endif
