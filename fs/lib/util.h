/*
 * util — small pure helpers: durations, UTC timestamps, op directory names.
 * No state, no locking.
 */
#ifndef GRACEFS_UTIL_H
#define GRACEFS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UTIL_CMD_MAX 32  /* bytes of sanitised command in an op name */
#define UTIL_CMDLINE_MAX 1024  /* a command line, printable, NUL-terminated */
#define UTIL_RUN_MAX 64  /* a run ID ("<utc>-<cmd>-<pid>") with its NUL */

/* "90s", "15m", "12h", "30d", "2w"; "1d12h" combines.  Every number needs
 * its unit: a bare "30" is -EINVAL (it once meant seconds).
 * 0, -EINVAL (syntax, no unit, zero or negative), -ERANGE (over 100 years). */
int util_parse_duration(const char *s, int64_t *out_s);
/* Shortest exact form: "30d", "36h", "90s". */
void util_format_duration(int64_t s, char *buf, size_t cap);

/* A size: digits and an optional binary unit K, M, G, T or P (any case,
 * optionally followed by B or iB: "64M", "1GiB", "4096").  0, -EINVAL, or
 * -ERANGE above INT64_MAX (what off_t and the xattrs hold). */
int util_parse_size(const char *s, uint64_t *out);
/* The shortest exact form util_parse_size reads back ("64M", "4097"). */
void util_format_size(uint64_t bytes, char *buf, size_t cap);

/* UTC time of wall-clock seconds: compact "20261127T130512Z" or ISO
 * "2026-11-27T13:05:12Z".  buf needs 21 bytes. */
void util_format_utc(int64_t wall_s, bool compact, char *buf, size_t cap);
/* Parses both forms above, and "2026-11-27" (midnight UTC). 0 or -EINVAL. */
int util_parse_utc(const char *s, int64_t *out_s);

/* basename(argv0) reduced to [A-Za-z0-9._+-] (others become '_'), at most
 * UTIL_CMD_MAX bytes; "unknown" when empty.  out needs UTIL_CMD_MAX + 1. */
void util_sanitize_cmd(const char *argv0, char *out, size_t cap);

/* Op directory name "<compact utc>-<cmd>-<pid>", plus ".<n>" when n > 1.
 * 0 or -ENAMETOOLONG. */
int util_op_name(int64_t wall_s, const char *cmd, uint32_t pid, unsigned n,
		 char *buf, size_t cap);
/* Is this an op directory name?  On true, fills the time and pid. */
bool util_parse_op_name(const char *name, int64_t *wall_s, uint32_t *pid);

#endif
