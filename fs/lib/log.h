/*
 * log — the daemon's messages: stderr in the foreground (with "<N>"
 * priority prefixes when that is the journal), syslog otherwise.
 * Lowercase, error first, with the path and the errno text (STYLE.md).
 * Thread-safe (stdio and syslog are).
 */
#ifndef GRACEFS_LOG_H
#define GRACEFS_LOG_H

#include <stdbool.h>
#include <syslog.h>

void log_init(const char *ident, bool foreground, bool debug);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Is stderr the systemd journal's stream (JOURNAL_STREAM=DEV:INO matches
 * fstat(2) of fd 2)?  Then foreground lines start with "<N>" (the syslog
 * priority, sd-daemon(3)). */
bool log_stderr_is_journal(void);

#endif
