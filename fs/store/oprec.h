/*
 * oprec — the record of one trash operation, and its portable encoding.
 *
 * An operation ("op") is everything one process deleted in one scope (a site,
 * or the mount root for whole-site deletions) until it paused.  The same
 * encoded bytes are stored in two places: as the value of the op's LMDB
 * index record, and as the xattr OPREC_XATTR on the op directory in the
 * backing store (the backing store is the truth; the index is rebuilt from
 * it).  Pure functions, no locking, no I/O.
 */
#ifndef GRACEFS_OPREC_H
#define GRACEFS_OPREC_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/procinfo.h"
#include "lib/util.h"

#define OPREC_XATTR    "trusted.gracefs.op"
#define OPREC_CMD_MAX  UTIL_CMDLINE_MAX   /* command line, printable, NUL-terminated */
#define OPREC_RUN_MAX  UTIL_RUN_MAX       /* run ID, NUL-terminated */
/* Longest encoding (version 3, every string at its maximum). */
#define OPREC_ENC_MAX  (97 + 2 * NAME_MAX + (OPREC_CMD_MAX - 1) + (OPREC_RUN_MAX - 1) + \
			(PROCINFO_RUN_CMD_MAX - 1) + (PROCINFO_CHAIN_MAX - 1) + \
			(PROCINFO_UNIT_MAX - 1))

/* Why an op is held (op_record.hold, a bit mask; any bit holds it: it is
 * never purged, expired or evicted, and restores copy).  Daemons before
 * the brake wrote 0 or 1 and treat any nonzero value as held. */
#define OPREC_HOLD_LEGAL 1u   /* an operator's legal hold (gracectl hold op:) */
#define OPREC_HOLD_BRAKE 2u   /* the mass-deletion brake held its run (brake.h) */

enum op_state {
	OP_OPEN = 1,     /* still collecting deletions */
	OP_CLOSED = 2,   /* grouping window over; counts are final */
	OP_PURGING = 3,  /* sweeper/purge started removing it: not restorable-complete */
};

struct op_record {
	char scope[NAME_MAX + 1];  /* site name; "" = mount root (deleted sites) */
	char name[NAME_MAX + 1];   /* op directory name, e.g. 20261127T130512Z-rm-4242 */
	uint32_t uid, gid;         /* deleting user */
	uint32_t pid;              /* deleting process (thread group id) */
	uint64_t pid_start;        /* its start time, clock ticks since boot */
	int64_t first_ns, last_ns; /* wall clock of first and last deletion */
	int64_t retention_s;       /* retention in force when deleted */
	int64_t last_el_ns;        /* trusted elapsed clock (clock.h) at the last
				    * deletion: what expiry is measured from */
	uint64_t items, bytes;     /* deleted names; bytes allocated (st_blocks*512) */
	uint32_t state;            /* enum op_state */
	uint32_t hold;             /* OPREC_HOLD_* bits: never purged while nonzero */
	char cmdline[OPREC_CMD_MAX];
	/* The run (procinfo.h) the deleting process belonged to when the op
	 * was created; run "" (and everything below zero) for ops from before
	 * runs were recorded (encoding versions 1 and 2) and for processes
	 * that were not visible. */
	char run[OPREC_RUN_MAX];   /* run ID, without the "run:" of typed IDs */
	uint64_t run_start;        /* leader start, clock ticks since boot: two
				    * runs whose IDs collide differ here */
	struct run_info runinfo;   /* leader command line, parents, session,
				    * login uid, cgroup */
};

/* Expiry in wall-clock seconds: last deletion plus retention.  For display
 * only: a wrong wall clock makes it wrong; purging goes by oprec_due(). */
int64_t oprec_expiry(const struct op_record *r);

/* When the op is due, on the trusted elapsed clock (clock.h), in seconds:
 * its stamp rounded up plus retention (saturating).  The op expires when
 * clock_elapsed_ns() / 1e9 >= oprec_due(). */
int64_t oprec_due(const struct op_record *r);

/* Encode into buf (cap bytes, OPREC_ENC_MAX always suffices): version 3
 * when the record has a run, else version 2 (byte for byte what gracefs
 * wrote before runs, so such records stay readable by older daemons).
 * Returns the encoded length, or -ENOBUFS, or -EINVAL: unterminated
 * strings, an empty name, '/' in scope, name or run, state outside
 * OP_OPEN..OP_PURGING (callers must always set it), hold > 255, run
 * details without a run ID. */
int oprec_encode(const struct op_record *r, void *buf, size_t cap);

/* Decode len bytes (version 3; version 2 from before runs: no run; or
 * version 1 from before the elapsed stamp: it reads as last_el_ns 0, i.e.
 * counted from the trusted clock's start).
 * Returns 0, or -EINVAL for a short, corrupt or unknown version encoding
 * (r is then zeroed). */
int oprec_decode(const void *buf, size_t len, struct op_record *r);

/* Index key of an op: "<scope>/<name>" (root scope gives "/<name>").
 * Returns the length, or -ENAMETOOLONG if cap is too small. */
int oprec_key(const char *scope, const char *name, char *buf, size_t cap);

#endif
