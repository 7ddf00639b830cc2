/*
 * overwrite — truncation is undone like rm: before a live regular file
 * that holds data shrinks (open with O_TRUNC, truncate/ftruncate to a
 * smaller size, fallocate PUNCH_HOLE / ZERO_RANGE / COLLAPSE_RANGE), its
 * content is preserved in the caller's operation at its site-relative path
 * (`<site>/.trash/<op>/<path>`), like a deleted file.
 *
 * Reflink first: where the backing filesystem shares blocks (FICLONE: XFS
 * reflink=1, btrfs) the preserved file is a clone, O(1) and no data space.
 * Elsewhere the data is copied (copy_file_range, holes kept) up to
 * preserve_max bytes — the mount's `-o preserve_max=`, or the site's own
 * (sitepolicy.h); a larger file is truncated unpreserved, which the caller
 * must log and audit (OW_UNPRESERVED).  preserve_max 0: no copies, clones
 * still.  An op keeps each path's state from before it touched it: a file
 * the op already holds, or created while the op collects, is not preserved
 * again.  Plain C (engine layer): no FUSE; see docs/overwrite.md.
 *
 * Fairness (issue 21): at most copies_per_uid copies of one uid run at
 * once; a further copy of that uid waits on the uid's own condition until
 * one of them ends.  Other uids never wait for it, and no lock anybody else
 * takes is held while a copy runs (clones take no slot: they are O(1)).
 *
 * Threading: any thread.  The copy runs without any lock; only naming the
 * result takes the trash engine's lock (trash_preserve_commit).  The gate's
 * mutex is held only to count slots (never across a copy or a wait: the
 * wait releases it).  Counters are atomic.
 */
#ifndef GRACEFS_OVERWRITE_H
#define GRACEFS_OVERWRITE_H

#include <limits.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include "lib/procinfo.h"
#include "engine/trash.h"

#define OVERWRITE_DEFAULT_MAX (64LL << 20)   /* -o preserve_max default: 64M */
#define OVERWRITE_DEFAULT_PER_UID 2          /* -o preserve_per_uid default */
#define OVERWRITE_PER_UID_MAX 64

struct overwrite_conf {
	int backing_fd;          /* BACKING (borrowed) */
	struct trash *trash;     /* borrowed */
	int64_t preserve_max;    /* bytes a copy may take (sites may override); 0: none */
	unsigned copies_per_uid; /* copies of one uid running at once; 0: the default */
};

enum overwrite_how {
	OW_NOTHING,      /* no data would be lost (not a regular file, empty, not shrinking, not live) */
	OW_HELD,         /* the op already holds this path's earlier state (or created the file) */
	OW_CLONED,       /* preserved as a clone */
	OW_COPIED,       /* preserved as a copy */
	OW_UNPRESERVED,  /* over the copy limit and no clone: truncated without a copy */
};

struct overwrite_result {
	enum overwrite_how how;
	char op[NAME_MAX + 1];   /* OW_CLONED/OW_COPIED/OW_HELD: the op */
	uint64_t bytes;          /* the file's size */
	int64_t limit;           /* the copy limit that applied */
};

struct overwrite_counters {
	uint64_t cloned, copied, unpreserved;
	/* the copy gate: copies running now (all uids), copies waiting now,
	 * copies that had to wait since start, the most copies one uid had
	 * running at once since start, and the limit per uid */
	uint64_t copying, waiting, waits, peak_per_uid, per_uid;
};

struct overwrite;

/* 0, -ENOMEM. */
int overwrite_new(struct overwrite **out, const struct overwrite_conf *conf);
void overwrite_free(struct overwrite *ow);   /* NULL ok */

/*
 * The live file loc (a name in a site: loc->site set; srcfd open for
 * reading on it, st its fstat) is about to lose the bytes from offset keep
 * on (keep 0: all; a truncate to keep bytes, or a hole punched from keep).
 * Preserve its content first, in who's op.  res says what was done.
 * 0 means the truncation may go ahead; -errno (ENOSPC, EIO, …: nothing
 * kept) means it must fail with that errno, as a deletion whose move into
 * trash failed does.
 */
int overwrite_preserve(struct overwrite *ow, const struct caller *who,
		       const struct trash_loc *loc, int srcfd, const struct stat *st,
		       off_t keep, struct overwrite_result *res);

void overwrite_get_counters(struct overwrite *ow, struct overwrite_counters *c);

/* The copy gate on its own (overwrite_preserve takes it around a copy):
 * enter blocks while uid has copies_per_uid copies running, on uid's own
 * condition; leave frees the slot and wakes one waiter of that uid.  Every
 * enter is paired with one leave.  0, -ENOMEM (no slot record: the copy
 * does not run). */
int overwrite_gate_enter(struct overwrite *ow, uid_t uid);
void overwrite_gate_leave(struct overwrite *ow, uid_t uid);


#endif
