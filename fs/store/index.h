/*
 * index — the LMDB index of trash operations.
 *
 * Three databases in one environment under the state directory:
 *   "ops"    key "<scope>/<name>"              -> oprec encoding
 *   "expiry" key be64(expiry_s, sign bit flipped)  -> "<scope>/<name>"
 *            (expiry_s is oprec_due(): trusted elapsed clock, clock.h)
 *            (MDB_DUPSORT: one key per second, the op keys as its values;
 *            a full op key could pass LMDB's 511-byte key limit)
 *   "tlinks" key an inode's file handle (tlink.h) -> be32 count of its
 *            names held in trash (only inodes that had other links when a
 *            name of theirs was deleted; see docs/design.md "Open files
 *            and hard links in trash")
 *   "tlops"  key an op's name -> be32 count of the names counted in
 *            "tlinks" that it holds (so restores of other ops skip work)
 *   "created" key run NUL be64(dev) be64(ino) -> what a run created
 *            (store/crrec.h; written in batches by engine/created.c)
 * index_put keeps "ops" and "expiry" in step in one transaction.
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

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "store/crrec.h"
#include "store/oprec.h"

struct index;

/* Open or create the index in directory `dir` (created 0700 if missing).
 * Returns 0 or -errno (corrupt file: -EIO after logging nothing; the caller
 * decides to rebuild).  *out is owned by the caller; free with index_close. */
int index_open(struct index **out, const char *dir);
void index_close(struct index *ix);          /* syncs; NULL is fine */

/* Insert or replace one record (and its expiry entry). 0 or -errno. */
int index_put(struct index *ix, const struct op_record *r);
/* Longest hint path (index_put_hint), NUL included: the relpath limit. */
#define INDEX_HINT_MAX 4096
/* index_put, and in the same transaction a hint: the path (below the op
 * directory) and type of the op's one item, path NULL for none.  Not the
 * truth of anything — the op directory is — but what lets a bulk dry run
 * plan an op of one file without reading the op's directories (engine/
 * undo.h, undo_plan_hint).  A hint is stored with the record's last_ns
 * and counts only while the record still has that last_ns and one item:
 * every later deletion into the op moves last_ns, so a hint that is not
 * rewritten (or removed) simply stops counting.  It is removed with its
 * record (index_del, index_drop_ops, index_clear).  0 or -errno. */
int index_put_hint(struct index *ix, const struct op_record *r, const char *path, mode_t mode);
/* r's hint, if it still counts (see above): path (cap bytes) and mode.
 * 0, -ENOENT (none, or it does not count), or -errno. */
int index_hint_get(struct index *ix, const struct op_record *r, char *path, size_t cap,
		   mode_t *mode);
/* 0, -ENOENT, or -errno. */
int index_get(struct index *ix, const char *scope, const char *name,
	      struct op_record *out);
/* Remove record and expiry entry. 0, -ENOENT, or -errno. */
int index_del(struct index *ix, const char *scope, const char *name);
/* Forget n ops of scope whose directories are gone, in one write
 * transaction: each record, its expiry entry and its tlop count (the
 * index_tlop_* table).  A name with no record is skipped.  0 or -errno
 * (then nothing changed). */
int index_drop_ops(struct index *ix, const char *scope, const char *const *names, size_t n);
/* Drop every op record (used before a full rebuild from the op
 * directories); the tlinks table is kept (it cannot be rebuilt from
 * them).  0 or -errno. */
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

/* ---- the trash-link table ("tlinks") ----
 * Keys are opaque bytes of 1..INDEX_TLINK_KEY_MAX (tlink.h builds them from
 * file handles).  A record stays when its count drops to 0: it then says
 * "every link of this inode is live" (the inode is known), which differs
 * from having no record; index_tlink_del removes it. */
#define INDEX_TLINK_KEY_MAX 256

/* Count of key into *n (0 when there is no record): 0, -ENOENT (no
 * record), -EINVAL (bad key length), -EIO (undecodable value), or -errno. */
int index_tlink_get(struct index *ix, const void *key, size_t klen, uint32_t *n);
/* Add delta (may be negative) to key's count, clamped to 0..UINT32_MAX
 * (creating the record for a positive delta; a negative delta on a key
 * without a record changes nothing).  *now (may be NULL) gets the new
 * count.  0, -EINVAL (bad key length), or -errno. */
int index_tlink_add(struct index *ix, const void *key, size_t klen, int32_t delta,
		    uint32_t *now);
/* Remove key's record.  0, -ENOENT, -EINVAL, or -errno. */
int index_tlink_del(struct index *ix, const void *key, size_t klen);
/* Every record, in key order: fn(key, klen, count, arg); 0 to continue.
 * Same rules as index_foreach (collect, then modify).  Returns 0, fn's
 * nonzero value, or -errno. */
int index_tlink_foreach(struct index *ix,
			int (*fn)(const void *key, size_t klen, uint32_t n, void *arg),
			void *arg);
/* Number of records.  0 or -errno. */
int index_tlink_count(struct index *ix, uint64_t *n);

/* Per op (by its name alone, which survives a site's rename): how many
 * counted names it holds.  get: 0 with *n = 0 when there is no record.
 * add: clamped at 0, the record removed at 0.  0 or -errno (-EINVAL for an
 * empty or over-long name). */
int index_tlop_get(struct index *ix, const char *op, uint32_t *n);
int index_tlop_add(struct index *ix, const char *op, int32_t delta);

/* ---- what runs created ("created", crrec.h) ----
 * Not the truth of anything: a record is a claim checked against the live
 * item before anything acts on it (docs/cli.md, "Undoing what a run
 * created"); a lost record only means an item is not moved. */

/* Insert or replace n records in one transaction.  0, or the first
 * -errno (a record that does not encode is skipped: -EINVAL after the
 * others are stored). */
int index_created_put(struct index *ix, const struct created_rec *v, size_t n);
/* Number of records.  0 or -errno. */
int index_created_count(struct index *ix, uint64_t *n);
/* 0, -ENOENT, or -errno. */
int index_created_del(struct index *ix, const char *run, uint64_t dev, uint64_t ino);
/* Every record of run (NULL: of every run), in key order; r->path is
 * valid during the call only.  Same rules as index_foreach.  0, fn's
 * nonzero value, -EINVAL (bad run), or -errno. */
int index_created_foreach(struct index *ix, const char *run,
			  int (*fn)(const struct created_rec *r, void *arg), void *arg);
/* Drop every record created before before_ns (wall clock), and any that
 * does not decode; *dropped gets how many.  0 or -errno. */
int index_created_prune(struct index *ix, int64_t before_ns, uint64_t *dropped);

/* The one mapping of LMDB return codes to -errno (default -EIO). */
int index_errno(int mdb_rc);

#endif
