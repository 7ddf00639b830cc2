/*
 * dircache — a small LRU of O_PATH fds of hot directories, on top of the
 * inode table's file handles.
 *
 * The inode table keeps handles, not fds, so any tree works within a small
 * RLIMIT_NOFILE; but every request on a directory (LOOKUP, CREATE, GETATTR
 * of the parent, unlink, rename) would then pay an open_by_handle_at and a
 * close.  This cache keeps a few directory fds open — a sixteenth of the
 * current RLIMIT_NOFILE, at most `max` (0 disables it) — and lends them out:
 * several threads may use one fd at once (the *at calls on an O_PATH fd are
 * thread-safe), and an fd is closed only when no borrower holds it.
 * Non-directories are opened and closed per call, as before.
 *
 * Threading: one mutex; lock order: inode table lock, then this one (the
 * table calls dircache_forget while freeing an entry).  Nothing here calls
 * into the table while holding the lock.
 */
#ifndef GRACEFS_DIRCACHE_H
#define GRACEFS_DIRCACHE_H

#include <stddef.h>

struct inode;

/* At most max fds cached (0: none).  Call before serving requests. */
void dircache_init(size_t max);
/* Close every cached fd (at exit, after the last request). */
void dircache_free(void);

/* An O_PATH fd of ino: borrowed from the cache for a directory, freshly
 * opened otherwise.  Give it back with dircache_put.  fd or -errno. */
int dircache_get(struct inode *ino);
/* Return what dircache_get gave (fd < 0 is ignored). */
void dircache_put(struct inode *ino, int fd);

/* ino is being freed: drop its entry (closed once its borrowers are done). */
void dircache_forget(const struct inode *ino);

/* Counters for tests and the performance notes. */
struct dircache_stats {
	size_t cached, hits, misses, evictions;
};
void dircache_get_stats(struct dircache_stats *st);

#endif
