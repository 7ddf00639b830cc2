/*
 * audit — the audit writer: rows logged from any thread (FUSE handlers
 * included) are copied into a bounded in-memory queue and written to the
 * catalog by one writer thread in batched transactions, so no SQLite write
 * ever happens on a caller's thread.
 *
 * Faults: a batch that cannot be written (disk full, read-only, busy)
 * stays queued and is retried; the on_event hook hears of every failure.
 * While the queue is full, new rows are dropped and counted; the first
 * batch written after that starts with a "gap" row saying how many rows
 * were lost and between which times.  Nothing blocks the logging caller.
 *
 * Threading: audit_log, audit_flush and audit_stats may be called from any
 * thread; a->lock guards the queue and counters.  The writer thread calls
 * the sink and on_event without the lock.  audit_new/audit_free are not
 * concurrent with anything else.
 */
#ifndef GRACEFS_AUDIT_H
#define GRACEFS_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "store/catalog.h"
#include "store/oprec.h"

/* Events (audit.event).  Who emits which is listed in docs/design.md. */
#define AUDIT_EV_DELETE     "delete"      /* an op closed: items, bytes, first/last */
#define AUDIT_EV_RESTORE    "restore"     /* an item moved out of trash (path -> detail) */
#define AUDIT_EV_UNDO       "undo"        /* gracectl undo of a whole op */
#define AUDIT_EV_PURGE      "purge"       /* explicit early purge (detail: reason) */
#define AUDIT_EV_EXPIRE     "expire"      /* the sweeper purged an expired op */
#define AUDIT_EV_HOLD       "hold"
#define AUDIT_EV_RELEASE    "release"
#define AUDIT_EV_SITE_ADD   "site-add"
#define AUDIT_EV_SITE_TRASH "site-trash"
#define AUDIT_EV_SITE_SET   "site-set"    /* retention / kind change */
#define AUDIT_EV_PROTECT    "protect"
#define AUDIT_EV_UNPROTECT  "unprotect"
#define AUDIT_EV_DENIED     "denied"      /* refused: removal of a protected path, a
                                             * restore or purge of a held op */
#define AUDIT_EV_GAP        "gap"         /* rows lost while the log was unwritable */
#define AUDIT_EV_EVICT      "evict"       /* the sweeper purged an op for space (detail: reason) */
#define AUDIT_EV_EXCLUDE    "exclude"     /* items removed directly by an exclusion pattern:
                                            one row per process and site, with counts */
#define AUDIT_EV_OVERWRITE  "overwrite"   /* a file's content preserved before a truncation */
#define AUDIT_EV_UNPRESERVED "unpreserved" /* truncated without a copy: over preserve_max */
#define AUDIT_EV_ARCHIVE    "archive"     /* gracectl audit archive: the oldest rows moved
                                             to a file (detail: range, rows, sha256);
                                             written by the catalog itself */
#define AUDIT_EV_BRAKE      "brake"       /* a run crossed the mass-deletion brake: all
                                             its ops held (detail: run, counts, leader) */

struct audit;

struct audit_conf {
	size_t max_rows;        /* queue bound in rows (default 65536) */
	size_t max_bytes;       /* queue bound in bytes (default 32 MiB) */
	size_t batch_rows;      /* rows per transaction (default 256, at most 4096) */
	int64_t interval_ns;    /* longest a row waits before a write (default 100 ms) */
	int64_t retry_ns;       /* wait after a failed batch (default 1 s) */
	/* Writer thread: a batch failed (err < 0), or writing resumed after a
	 * failure (err == 0).  queued: rows waiting; lost: rows dropped so far
	 * in this outage (on resume: the count the gap row records). */
	void (*on_event)(void *arg, int err, uint64_t queued, uint64_t lost);
	void *cb_arg;
	/* Where batches go; NULL: catalog_audit_append_batch.  For tests. */
	int (*sink)(struct catalog *c, const struct audit_row *rows, size_t n);
};

struct audit_stats {
	uint64_t logged, written, dropped, failures, queued;
	int last_err;           /* -errno of the last failed batch, 0 if it succeeded */
};

/* Start the writer thread for catalog c (borrowed: close it after
 * audit_free).  conf NULL: defaults.  0 or -errno. */
int audit_new(struct audit **out, struct catalog *c, const struct audit_conf *conf);
/* Write what is queued (one final attempt), stop the thread, free.  Rows
 * that could not be written are reported to on_event and lost.  NULL ok. */
void audit_free(struct audit *a);

/* Copy row into the queue (strings are copied, cut at CATALOG_TEXT_MAX);
 * ts_ns 0 means now.  Never blocks on I/O, never fails: a row that does not
 * fit is dropped and counted.  NULL a is fine (no audit configured). */
void audit_log(struct audit *a, const struct audit_row *row);
/* Log an op-level event: site/op/uid/pid/cmdline from r; detail NULL gives
 * "items=N bytes=B first=<utc> last=<utc>". */
void audit_log_op(struct audit *a, const char *event, const struct op_record *r,
		  const char *detail);
/* The same, filed under site (a root op's deleted sites, comma-separated)
 * instead of r->scope. */
void audit_log_op_at(struct audit *a, const char *event, const struct op_record *r,
		     const char *site, const char *detail);

/* Wait until everything logged before the call is written (0) or a write
 * attempt made after the call failed (-errno; rows stay queued). */
int audit_flush(struct audit *a);
void audit_get_stats(struct audit *a, struct audit_stats *st);

#endif
