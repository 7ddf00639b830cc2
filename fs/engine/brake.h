/*
 * brake — the mass-deletion brake: counts, per run (procinfo.h), the
 * distinct sites in which that run removed something site-level (a whole
 * site, or a directory directly under a site root) within a sliding
 * window.  When one run reaches `limit` sites within `window`, the run is
 * braked: every op of it, past and future, gets the brake's hold
 * (OPREC_HOLD_BRAKE), so nothing it deleted can expire or be evicted until
 * an operator releases the run.  Deletions themselves go on: they are soft.
 *
 * This module keeps the counts and the set of braked runs.  The set is
 * kept in BACKING/.gracefs/brakes (one run ID a line, replaced atomically:
 * tmp, fsync, rename), so it survives a crash and the daemon re-applies the
 * holds of every braked run at mount.  Holding and releasing the ops
 * themselves is the trash engine's (trash_run_set_brake); the caller
 * orders the two (docs/design.md, "The mass-deletion brake").
 *
 * Bounds: at most BRAKE_RUNS_MAX runs are counted at once (the one idle
 * longest makes room), each remembers at most `limit` sites; at most
 * BRAKE_BRAKED_MAX runs are braked at once.
 *
 * Threading: one internal mutex; every function may be called from any
 * thread.  It never calls out while holding it, so a caller may hold its
 * own locks (the trash engine's) while asking brake_is_braked.
 */
#ifndef GRACEFS_BRAKE_H
#define GRACEFS_BRAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/util.h"

#define BRAKE_FILE "brakes"
#define BRAKE_DEFAULT_LIMIT 20
#define BRAKE_DEFAULT_WINDOW_S 600
#define BRAKE_LIMIT_MAX 100000
#define BRAKE_RUNS_MAX 256
#define BRAKE_BRAKED_MAX 4096

struct brake_conf {
	unsigned limit;        /* sites per run within window_ns; 0: the brake is off */
	int64_t window_ns;     /* > 0 unless off */
	int state_fd;          /* BACKING/.gracefs (borrowed); -1: nothing is kept */
};

struct brake_stats {
	unsigned limit;        /* 0: off */
	int64_t window_s;
	size_t braked;         /* runs braked now */
	uint64_t trips;        /* runs braked since start */
};

struct brake;

/* Parse "N/DURATION" (N 1..BRAKE_LIMIT_MAX, DURATION as util_parse_duration)
 * or "off" (limit 0).  0 or -EINVAL. */
int brake_parse(const char *s, unsigned *limit, int64_t *window_s);

/* Start with the braked runs kept in state_fd/BRAKE_FILE (a missing file:
 * none; lines that are not run IDs are skipped).  Even with the brake off,
 * the kept runs stay braked until released.  0, -ENOMEM, -EINVAL (bad
 * conf), or the -errno of reading the file (*out is then still made, with
 * what could be read, and must be freed). */
int brake_new(struct brake **out, const struct brake_conf *conf);
void brake_free(struct brake *b);   /* NULL ok */

/* Run `run` removed something site-level in `site` at now_ns (a monotonic
 * clock).  Returns 1 when this removal braked the run (the first time it
 * reached the limit; the run is braked from now on, and kept: see *err),
 * 0 otherwise (off, below the limit, already braked, run or site empty).
 * *sites (may be NULL) gets the run's distinct sites within the window.
 * *err (may be NULL) gets 0, or the -errno of keeping the braked set
 * (the run is braked in memory all the same). */
int brake_note(struct brake *b, const char *run, const char *site, int64_t now_ns,
	       unsigned *sites, int *err);

/* Is run braked?  false for NULL b or an empty run. */
bool brake_is_braked(struct brake *b, const char *run);

/* Lift the brake on run in memory: no longer braked (ops created from now
 * on are not held), its count starts again from zero.  Not yet kept: the
 * caller clears the ops' holds, then calls brake_save, so a crash in
 * between leaves the run braked (held again at the next mount), never
 * released with holds it cannot find.  0 or -ENOENT (not braked). */
int brake_release(struct brake *b, const char *run);

/* Keep the braked set in state_fd/BRAKE_FILE now.  0 or -errno. */
int brake_save(struct brake *b);

/* A copy of the braked run IDs (malloc()ed, NULL when none; the caller
 * frees).  0 or -ENOMEM. */
int brake_list(struct brake *b, char (**runs)[UTIL_RUN_MAX], size_t *n);

void brake_get_stats(struct brake *b, struct brake_stats *st);

/* For readers without the daemon's object (gracectl): does state_fd's
 * BRAKE_FILE list run?  1 yes, 0 no (or no file), or -errno. */
int brake_kept(int state_fd, const char *run);

#endif
