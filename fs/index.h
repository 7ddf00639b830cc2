/*
 * index — the LMDB index of trash operations.
 *
 * Two databases in one environment under the state directory:
 *   "ops"    key "<scope>/<name>"              -> oprec encoding
 *   "expiry" key be64(expiry_s, sign bit flipped)  -> "<scope>/<name>"
 *            (expiry_s is oprec_due(): trusted elapsed clock, clock.h)
 *            (MDB_DUPSORT: one key per second, the op keys as its values;
 *            a full op key could pass LMDB's 511-byte key limit)
 * index_put keeps both in step in one transaction.
 *
 * Durability is group commit: the environment is opened MDB_NOSYNC, so a
 * commit is a write into the page cache (a kill -9 of the daemon loses
 * nothing); index_sync() makes everything committed so far durable and is
 * called by the daemon periodically and at unmount.  A power loss can lose
 * the last interval, which reconciliation with the backing store repairs.
 *
 * Thread safety: all functions may be called from any thread concurrently
 * (LMDB serialises writers; readers use MDB_NOTLS read transactions).
 */
#ifndef GRACEFS_INDEX_H
#define GRACEFS_INDEX_H

#include <stdint.h>
#include "oprec.h"

struct index;

/* Open or create the index in directory `dir` (created 0700 if missing).
 * Returns 0 or -errno (corrupt file: -EIO after logging nothing; the caller
 * decides to rebuild).  *out is owned by the caller; free with index_close. */
int index_open(struct index **out, const char *dir);
void index_close(struct index *ix);          /* syncs; NULL is fine */

/* Insert or replace one record (and its expiry entry). 0 or -errno. */
int index_put(struct index *ix, const struct op_record *r);
/* 0, -ENOENT, or -errno. */
int index_get(struct index *ix, const char *scope, const char *name,
	      struct op_record *out);
/* Remove record and expiry entry. 0, -ENOENT, or -errno. */
int index_del(struct index *ix, const char *scope, const char *name);
/* Drop everything (used before a full rebuild). 0 or -errno. */
int index_clear(struct index *ix);
/* Flush to disk durably (mdb_env_sync(force)). 0 or -errno. */
int index_sync(struct index *ix);

/* Callback: return 0 to continue, anything else stops and is returned. */
typedef int (*index_fn)(const struct op_record *r, void *arg);

/* All records in key order (scope, then name).  scope NULL = all scopes,
 * else only that scope.  Returns 0, the callback's nonzero value, or -errno.
 * The callback must not call index_put/del on the same index (it runs
 * inside a read transaction); collect first, then modify. */
int index_foreach(struct index *ix, const char *scope, index_fn fn, void *arg);
/* Records with expiry <= until_s, earliest first. */
int index_foreach_expired(struct index *ix, int64_t until_s, index_fn fn, void *arg);
/* Earliest expiry among records, -ENOENT when empty. */
int index_next_expiry(struct index *ix, int64_t *expiry_s);
/* Number of records. */
int index_count(struct index *ix, uint64_t *n);

/* The one mapping of LMDB return codes to -errno (default -EIO). */
int index_errno(int mdb_rc);

#endif
