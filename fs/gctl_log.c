/*
 * gctl_log — the audit log: gracectl log.  Main thread only.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gctl.h"
#include "util.h"

static int log_row(const struct audit_row *a, void *arg)
{
	char ts[32];

	util_format_utc(a->ts_ns / NS, false, ts, sizeof(ts));
	table_add(arg, num(a->seq), ts, a->event, a->site, a->op, a->path,
		  a->uid >= 0 ? num((uint64_t)a->uid) : "", a->pid >= 0 ? num((uint64_t)a->pid) : "",
		  a->cmdline, a->detail);
	return 0;
}

int c_log(struct gctl *x, int argc, char **argv)
{
	static const char *const cols[] = { "seq", "time", "event", "site", "op", "path", "uid",
		"pid", "command", "detail" };
	struct table t = TABLE(cols, "nssSSSnnSS");
	struct catalog_audit_filter f = {0};
	char site[NAME_MAX + 1];
	struct ctl_id id;
	int r;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[++i] : NULL;
		char msg[600], *end;

		if (!v)
			return fail(EXIT_USAGE, "usage: log [--since T] [--until T] [--site S] "
				    "[--op ID] [--event E] [--limit N]");
		if (!strcmp(a, "--since") || !strcmp(a, "--until")) {
			if (parse_time(v, a[2] == 's' ? &f.since_ns : &f.until_ns) < 0)
				return fail(EXIT_USAGE, "bad time '%s' (" TIME_FORMS ")", v);
		} else if (!strcmp(a, "--site")) {
			if ((r = site_arg(v, site)))
				return r;
			f.site = site;
		} else if (!strcmp(a, "--op")) {
			/* op:NAME, op:SITE/NAME, or a bare op name */
			if (ctlcmd_parse_id(strchr(v, ':') ? v : fmt("op:%s", v), CTL_ID_OP, &id,
					    msg, sizeof(msg)) < 0)
				return fail(EXIT_USAGE, "%s", msg);
			f.op = id.name;
			if (id.scoped && *id.site)
				f.site = id.site;
		} else if (!strcmp(a, "--event")) {
			f.event = v;
		} else if (!strcmp(a, "--limit")) {
			f.limit = strtoull(v, &end, 10);
			f.newest = true;   /* an operator asks for the latest N */
			if (*end || !f.limit)
				return fail(EXIT_USAGE, "bad limit '%s'", v);
		} else {
			return fail(EXIT_USAGE, "unknown option '%s'", a);
		}
	}
	if ((r = need_catalog(x, false)) > 0)
		return r;
	if (!r && (r = catalog_audit_query(x->cat, &f, log_row, &t)) < 0)
		return fail(EXIT_FAILED, "audit log: %s", strerror(-r));
	table_print(&t, x->json);
	table_free(&t);
	return EXIT_DONE;
}
