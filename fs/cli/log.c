/*
 * gctl_log — the audit log: gracectl log, and log --follow for shippers.
 *
 * --follow prints the matching rows, then polls the catalog every
 * FOLLOW_POLL_MS for rows with a larger seq and prints each as it comes
 * (with --json one object per line, flushed): a reader of the SQLite WAL
 * sees each committed row; it never takes a write lock, so it never slows
 * the daemon.  --after SEQ resumes after the last row a shipper saw.
 * Main thread only; SIGINT/SIGTERM end --follow with status 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/audit.h"
#include "cli/cli.h"
#include "lib/util.h"

#define FOLLOW_POLL_MS 200

static const char *const log_cols[] = { "seq", "time", "event", "site", "op", "path", "uid",
	"pid", "command", "detail", "run" };
#define LOG_TYPES "nssSSSnnSSS"

/* The events gracefs writes (audit.h); others are accepted when the log
 * has rows of them (newer daemons may write more). */
static const char *const events[] = { AUDIT_EV_DELETE, AUDIT_EV_RESTORE, AUDIT_EV_UNDO,
	AUDIT_EV_PURGE, AUDIT_EV_EXPIRE, AUDIT_EV_HOLD, AUDIT_EV_RELEASE, AUDIT_EV_SITE_ADD,
	AUDIT_EV_SITE_TRASH, AUDIT_EV_SITE_SET, AUDIT_EV_PROTECT, AUDIT_EV_UNPROTECT,
	AUDIT_EV_DENIED, AUDIT_EV_GAP, AUDIT_EV_EVICT, AUDIT_EV_EXCLUDE, AUDIT_EV_OVERWRITE,
	AUDIT_EV_UNPRESERVED, AUDIT_EV_BRAKE, AUDIT_EV_ARCHIVE };

struct log_out {
	struct table t;
	bool lines;          /* print each row now (--follow) */
	bool json;
	uint64_t last_seq;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = sig;
}

static int log_row(const struct audit_row *a, void *arg)
{
	struct log_out *o = arg;
	char ts[32];

	util_format_utc(a->ts_ns / NS, false, ts, sizeof(ts));
	table_add(&o->t, num(a->seq), ts, a->event, a->site, a->op, a->path,
		  a->uid >= 0 ? num((uint64_t)a->uid) : "", a->pid >= 0 ? num((uint64_t)a->pid) : "",
		  a->cmdline, a->detail, a->run && *a->run ? fmt("run:%s", a->run) : "");
	o->last_seq = a->seq;
	if (o->lines) {
		if (o->json) {
			table_json_obj(&o->t, 0);
			putchar('\n');
		} else {   /* one line per row: seq, time, event, then key=value */
			printf("%s %s %s", cell(&o->t, 0, 0), cell(&o->t, 0, 1), cell(&o->t, 0, 2));
			for (int c = 3; c < o->t.ncols; c++)
				if (*cell(&o->t, 0, c))
					printf(" %s=%s", log_cols[c], cell(&o->t, 0, c));
			putchar('\n');
		}
		table_free(&o->t);
	}
	return 0;
}

static int count_row(const struct audit_row *a, void *arg)
{
	(*(size_t *)arg)++;
	return 1;
}

static bool digits_only(const char *s)
{
	return *s && s[strspn(s, "0123456789")] == '\0' && strlen(s) < 20;
}

static int usage_log(void)
{
	return fail(EXIT_USAGE, "usage: log [--since T] [--until T] [--site S] [--op ID] "
		    "[--run ID] [--event E] [--limit N] [--after SEQ] [--follow]");
}

/* Poll for new rows until a signal (or the output goes away). */
static int follow(struct gctl *x, struct catalog_audit_filter *f, struct log_out *o)
{
	struct sigaction sa = { .sa_handler = on_signal };
	int r = 0;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	f->limit = 0;
	f->newest = false;
	while (!stop) {
		struct timespec ts = { 0, FOLLOW_POLL_MS * 1000000L };

		if (fflush(stdout) == EOF || ferror(stdout))
			return EXIT_FAILED;   /* the reader went away */
		nanosleep(&ts, NULL);
		if (!x->cat && (r = need_catalog(x, false)) != 0) {
			if (r != -ENOENT)
				return r;
			continue;   /* no catalog yet: the daemon creates it */
		}
		f->after_seq = o->last_seq;
		if ((r = catalog_audit_query(x->cat, f, log_row, o)) < 0)
			return fail(EXIT_FAILED, "audit log: %s", strerror(-r));
	}
	return EXIT_DONE;
}

int c_log(struct gctl *x, int argc, char **argv)
{
	struct log_out o = { .t = TABLE(log_cols, LOG_TYPES), .json = x->json };
	struct catalog_audit_filter f = {0};
	char site[NAME_MAX + 1], run[UTIL_RUN_MAX];
	bool follow_on = false;
	struct ctl_id id;
	int r;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *v;
		char msg[600];

		if (a[0] != '-')
			return fail(EXIT_USAGE, "unexpected argument '%s' (log takes options only: "
				    "--site S, --op op:ID, --run run:ID, --event E, …)", a);
		if (!strcmp(a, "--follow") || !strcmp(a, "-f")) {
			follow_on = true;
			continue;
		}
		if (i + 1 >= argc)
			return a[0] == '-' ? fail(EXIT_USAGE, "%s needs a value", a) : usage_log();
		v = argv[++i];
		if (!strcmp(a, "--since") || !strcmp(a, "--until")) {
			if (parse_time(v, a[2] == 's' ? &f.since_ns : &f.until_ns) < 0)
				return fail(EXIT_USAGE, "bad time '%s' (" TIME_FORMS ")", v);
		} else if (!strcmp(a, "--site")) {
			if ((r = known_site(x, v, site)))
				return r;
			f.site = site;
		} else if (!strcmp(a, "--op")) {
			/* op:NAME, op:SITE/NAME, or a bare op name */
			if (ctlcmd_parse_id(strchr(v, ':') ? v : fmt("op:%s", v), CTL_ID_OP, &id,
					    msg, sizeof(msg)) < 0)
				return id_fail(msg);
			f.op = id.name;
			if (id.scoped && *id.site)
				f.site = id.site;
		} else if (!strcmp(a, "--run")) {
			if ((r = run_arg(v, run)))
				return r;
			f.run = run;
		} else if (!strcmp(a, "--event")) {
			f.event = v;
		} else if (!strcmp(a, "--limit")) {
			if (!digits_only(v) || !(f.limit = strtoull(v, NULL, 10)))
				return fail(EXIT_USAGE, "bad limit '%s' (a number from 1)", v);
			f.newest = true;   /* an operator asks for the latest N */
		} else if (!strcmp(a, "--after")) {
			if (!digits_only(v))
				return fail(EXIT_USAGE, "bad seq '%s' (a row's seq number)", v);
			f.after_seq = strtoull(v, NULL, 10);
		} else {
			return fail(EXIT_USAGE, "unknown option '%s'", a);
		}
	}
	if ((r = need_catalog(x, false)) > 0)
		return r;
	if (f.event && !r) {
		size_t k = 0, n = 0;
		struct catalog_audit_filter e = { .event = f.event, .limit = 1 };

		while (k < ARRAY_SIZE(events) && strcmp(events[k], f.event))
			k++;
		if (k == ARRAY_SIZE(events) && catalog_audit_query(x->cat, &e, count_row, &n) >= 0 &&
		    !n) {
			fputs("gracectl: error: unknown event '", stderr);
			fputs(f.event, stderr);
			fputs("' (events:", stderr);
			for (k = 0; k < ARRAY_SIZE(events); k++)
				fprintf(stderr, " %s", events[k]);
			fputs(")\n", stderr);
			return EXIT_USAGE;
		}
	}
	o.last_seq = f.after_seq;
	o.lines = follow_on;
	if (!r && (r = catalog_audit_query(x->cat, &f, log_row, &o)) < 0)
		return fail(EXIT_FAILED, "audit log: %s", strerror(-r));
	if (follow_on)
		return follow(x, &f, &o);
	table_print(&o.t, x->json);
	table_free(&o.t);
	return EXIT_DONE;
}
