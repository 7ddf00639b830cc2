/*
 * timearg — the times an operator types on a command line (gracectl
 * --since/--until): absolute, local or relative.  Pure; no state.
 */
#ifndef GRACEFS_TIMEARG_H
#define GRACEFS_TIMEARG_H

#include <stdint.h>

/* Parse s into wall-clock seconds:
 *   2026-11-30T09:00:00+01:00   RFC 3339: Z or a ±HH:MM (±HHMM) offset;
 *   2026-11-30T08:00:00.250Z    fractions of a second are dropped; a
 *                               space may stand for the T
 *   20261130T080000Z            the compact form of op names
 *   2026-11-30 09:00[:00]       no zone: local time (TZ)
 *   2026-11-30                  local midnight
 *   @1795939200                 seconds since the epoch
 *   -2h, 2h, 1d12h              that long before now_s (a duration)
 *   now                         now_s
 * 0, or -EINVAL (nothing else is accepted: no trailing text, no bare
 * number, fields in range). */
int timearg_parse(const char *s, int64_t now_s, int64_t *out_s);

#endif
