/*
 * log — stderr or syslog (see log.h).
 */
#include <stdarg.h>
#include <stdio.h>

#include "log.h"

static bool to_stderr = true;
static bool debug_on;
static const char *prog = "gracefs";

void log_init(const char *ident, bool foreground, bool debug)
{
	prog = ident;
	to_stderr = foreground;
	debug_on = debug;
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
		fprintf(stderr, "%s: ", prog);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	} else {
		vsyslog(level, fmt, ap);
	}
	va_end(ap);
}
