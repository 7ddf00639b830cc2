/*
 * log — stderr or syslog (see log.h).
 *
 * Under systemd (Type=simple, -f) stderr is a stream to the journal; the
 * journal reads a "<N>" prefix (sd-daemon(3)) as the line's priority, so
 * LOG_CRIT stays critical instead of becoming LOG_INFO.  The prefix is
 * written only when stderr really is that stream: JOURNAL_STREAM names
 * its device and inode ("DEV:INO"), and fstat(2) must agree — a stderr
 * redirected elsewhere by a child of the service gets plain lines.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"

static bool to_stderr = true;
static bool debug_on;
static bool journal;   /* stderr is the journal's stream: "<N>" prefixes */
static const char *prog = "gracefs";

bool log_stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	uintmax_t dev, ino;
	struct stat st;
	char end;

	if (!js || sscanf(js, "%ju:%ju%c", &dev, &ino, &end) != 2)
		return false;
	return fstat(STDERR_FILENO, &st) == 0 && (uintmax_t)st.st_dev == dev &&
	       (uintmax_t)st.st_ino == ino;
}

void log_init(const char *ident, bool foreground, bool debug)
{
	prog = ident;
	to_stderr = foreground;
	debug_on = debug;
	journal = foreground && log_stderr_is_journal();
	if (!foreground)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	if (level == LOG_DEBUG && !debug_on)
		return;
	va_start(ap, fmt);
	if (to_stderr) {
		/* one fprintf for the head: lines from threads stay whole */
		flockfile(stderr);
		if (journal)
			fprintf(stderr, "<%d>%s: ", LOG_PRI(level), prog);
		else
			fprintf(stderr, "%s: ", prog);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		funlockfile(stderr);
	} else {
		vsyslog(level, fmt, ap);
	}
	va_end(ap);
}
