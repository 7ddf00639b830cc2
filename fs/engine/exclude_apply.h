/*
 * exclude_apply (symbols exclusions_*) — the daemon's side of site exclusion patterns (exclude_glob.h):
 * a cache of each site's parsed list, the direct removal of a matching
 * item instead of its move to trash, and the accounting of what was
 * removed that way.
 *
 * Accounting: direct removals are grouped like trash operations — one
 * process (pid + start time) in one site until it has been idle for
 * gap_ns — and each group is reported once (on_group: one audit row with
 * its counts, never one per file) when it goes idle, and at exclusions_free.
 * Totals since start feed the metrics.
 *
 * The cache: a site's list is read from its policy xattr on first use and
 * kept until exclusions_invalidate (the list was set, or the site was
 * created, deleted or restored).
 *
 * Threading: every function may be called from any thread (x->lock; the
 * removal itself runs outside it).  on_group is called without the lock.
 */
#ifndef GRACEFS_EXCLUSIONS_H
#define GRACEFS_EXCLUSIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include "lib/procinfo.h"
#include "engine/trash.h"

/* What one process removed directly in one site. */
struct exclusions_group {
	char site[NAME_MAX + 1];
	uint32_t uid, pid;
	uint64_t pid_start;
	char cmdline[OPREC_CMD_MAX];
	uint64_t items, bytes;          /* names removed; their allocated bytes */
	int64_t first_ns, last_ns;      /* wall clock */
	char pattern[128];              /* the pattern of the first match */
};

struct exclusions_conf {
	int backing_fd;
	int64_t gap_ns;                 /* idle time that ends a group (op_gap) */
	void (*on_group)(void *arg, const struct exclusions_group *g);
	void *cb_arg;
};

struct exclusions;

int exclusions_new(struct exclusions **out, const struct exclusions_conf *conf);
/* Reports every group still open, then frees.  NULL ok. */
void exclusions_free(struct exclusions *x);

/* If loc's entry (a name inside a site; never a site itself) matches its
 * site's patterns, remove it directly — unlinkat, or for want_dir an
 * rmdir that fails with ENOTEMPTY as rmdir(2) does: a directory is never
 * removed with anything still in it — count it, and set *removed.
 * Otherwise — and always when the entry is not who's (st_uid, root owns
 * everything): another tenant's file goes to trash whatever its name —
 * leave everything alone, *removed false.  st is the entry's lstat.  The caller has already refused protected paths.  0 or -errno
 * (the removal's error: nothing changed). */
int exclusions_remove(struct exclusions *x, const struct caller *who,
		      const struct trash_loc *loc, bool want_dir, const struct stat *st,
		      bool *removed);

/* rename(src, dst) where dst exists and matches its site's patterns: the
 * replaced dst is not preserved — a plain renameat2(flags 0), counted like
 * a removal (the victim's lstat in dst_st), if who owns it (as above).
 * Otherwise nothing, *done false.  Never for RENAME_EXCHANGE/NOREPLACE, a source in trash, or a
 * site at the root (the caller passes only a plain rename within sites).
 * 0 or -errno (the rename's error: nothing changed). */
int exclusions_rename(struct exclusions *x, const struct caller *who,
		      const struct trash_loc *src, const struct trash_loc *dst,
		      const struct stat *dst_st, bool *done);

/* The site's list changed, or the site came or went; NULL: every site. */
void exclusions_invalidate(struct exclusions *x, const char *site);

/* Report groups idle for gap_ns (call every tick). */
void exclusions_tick(struct exclusions *x);

struct exclusions_totals {
	uint64_t items, bytes;    /* removed directly since start */
};
void exclusions_get_totals(struct exclusions *x, struct exclusions_totals *t);

#endif
