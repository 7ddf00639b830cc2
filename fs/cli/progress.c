/*
 * gctl_progress — "items done/total, rate, ETA" on stderr for long runs
 * (undo, purge): redrawn in place on a terminal, or one line every few
 * seconds when forced with --progress onto a pipe or a file.  Never on
 * stdout, so --json output stays one document.
 *
 * Threading: the caller serializes (undo holds its run's lock).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

#define REDRAW_NS (200 * 1000000LL)        /* terminal */
#define LINE_NS (5 * 1000000000LL)         /* pipe or file */

struct progress {
	const char *what;
	uint64_t total, done;
	int64_t start_ns, last_ns;
	bool tty, drawn;
};

static int64_t mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NS + ts.tv_nsec;
}

struct progress *progress_new(const char *what, uint64_t total, int mode)
{
	bool tty = isatty(STDERR_FILENO);
	struct progress *pg;

	if (mode < 0 || (mode == 0 && !tty))
		return NULL;
	pg = xrealloc(NULL, sizeof(*pg));
	*pg = (struct progress){ what, total, 0, mono(), 0, tty, false };
	pg->last_ns = pg->start_ns;
	return pg;
}

/* "1:02:03", "2:03" or "3s". */
static void hms(uint64_t s, char *buf, size_t cap)
{
	if (s >= 3600)
		snprintf(buf, cap, "%u:%02u:%02u", (unsigned)(s / 3600), (unsigned)(s / 60 % 60),
			 (unsigned)(s % 60));
	else if (s >= 60)
		snprintf(buf, cap, "%u:%02u", (unsigned)(s / 60), (unsigned)(s % 60));
	else
		snprintf(buf, cap, "%us", (unsigned)s);
}

void progress_show(struct progress *pg, bool force)
{
	int64_t now;
	double secs, rate;
	char eta[32] = "?";
	uint64_t done;

	if (!pg)
		return;
	now = mono();
	if (!force && now - pg->last_ns < (pg->tty ? REDRAW_NS : LINE_NS))
		return;
	pg->last_ns = now;
	done = pg->done < pg->total ? pg->done : pg->total;
	secs = (double)(now - pg->start_ns) / NS;
	rate = secs > 0 ? (double)done / secs : 0;
	if (rate > 0)
		hms((uint64_t)((double)(pg->total - done) / rate + 0.5), eta, sizeof(eta));
	fprintf(stderr, "%s%s: %llu/%llu items (%u%%), %.0f/s, ETA %s%s", pg->tty ? "\r" : "",
		pg->what, (unsigned long long)done, (unsigned long long)pg->total,
		pg->total ? (unsigned)(100 * done / pg->total) : 100, rate, eta,
		pg->tty ? "\033[K" : "\n");
	fflush(stderr);
	pg->drawn = pg->tty;
}

void progress_add(struct progress *pg, uint64_t n)
{
	if (!pg)
		return;
	pg->done += n;
	progress_show(pg, false);
}

void progress_clear(struct progress *pg)
{
	if (pg && pg->drawn) {
		fputs("\r\033[K", stderr);
		pg->drawn = false;
	}
}

void progress_free(struct progress *pg)
{
	if (!pg)
		return;
	pg->done = pg->total;
	progress_show(pg, true);
	if (pg->tty)
		fputc('\n', stderr);
	free(pg);
}

void progress_abort(struct progress *pg)
{
	progress_clear(pg);
	free(pg);
}
