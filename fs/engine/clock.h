/*
 * clock — the trusted elapsed clock: what retention is measured on.
 *
 * A counter of nanoseconds that only ever advances by real elapsed time:
 * while the daemon runs it follows CLOCK_BOOTTIME (sys.mono_ns, so it
 * counts suspend and ignores every wall-clock step or slew); across a
 * restart it resumes from the value saved in BACKING/.gracefs/clock and
 * adds nothing for the downtime.  Each op is stamped with the counter at
 * its last deletion (op_record.last_el_ns) and is due when the counter has
 * advanced by its retention (oprec_due), so no wall-clock error, in either
 * direction, before or during the daemon's life, can make it expire early.
 * The price is that downtime does not count: an op deleted before a day of
 * downtime is purged a day later than its wall-clock expiry says.
 *
 * Saved with write-temp + rename (no fsync: see clock_save), periodically
 * (each sweeper pass) and at close.  A crash loses at most the time since the last save, which
 * only delays purging.  A missing or corrupt file starts the counter at 0;
 * the caller then raises it to the largest stamp in the index
 * (clock_raise), which is still never ahead of real elapsed time for any
 * op.
 *
 * One clock per process (like sys).  clock_open, clock_raise and
 * clock_close run before other threads start or after they stopped;
 * clock_elapsed_ns is lock-free and clock_save may be called from any
 * thread (an internal mutex).
 */
#ifndef GRACEFS_CLOCK_H
#define GRACEFS_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#define CLOCK_FILE "clock"

/* Load the counter from state_fd/CLOCK_FILE (the fd is borrowed until
 * clock_close) and save it back at once.  Returns 0 (*fresh = whether the
 * file was missing or unreadable, i.e. the counter restarted at 0), or
 * -errno when the file cannot be written. */
int clock_open(int state_fd, bool *fresh);

/* The counter now, ns.  Before clock_open: sys.mono_ns() itself. */
int64_t clock_elapsed_ns(void);

/* Advance the counter to at least ns (a stamp seen in the index). */
void clock_raise(int64_t ns);

/* Persist the counter now.  0 or -errno (nothing to do before open). */
int clock_save(void);

/* Save and forget the state directory. */
void clock_close(void);

/* Parse and format the file's one line.  Parse returns 0 or -EINVAL. */
int clock_parse(const char *buf, size_t len, int64_t *ns);
int clock_format(int64_t ns, char *buf, size_t cap);

#endif
