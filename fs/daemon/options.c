/*
 * options — parsing of gracefs's -o options (see options.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/options.h"
#include "engine/brake.h"
#include "engine/overwrite.h"
#include "lib/util.h"

struct raw {
	struct gfs_opts *o;
	char *retention, *op_gap, *tick_ms, *timeout, *min_retention, *clock_jump, *sweep, *metrics;
	char *max_open;
	char *min_free;
	char *preserve_max, *per_uid;
	char *passthrough;
	char *brake;
	char *trash_view;
	int trash_visible, writeback;
};

#define OPT(t, f) { t, offsetof(struct raw, f), 1 }
static const struct fuse_opt specs[] = {
	{ "retention=%s", offsetof(struct raw, retention), 0 },
	{ "op_gap=%s", offsetof(struct raw, op_gap), 0 },
	{ "min_retention=%s", offsetof(struct raw, min_retention), 0 },
	{ "clock_jump=%s", offsetof(struct raw, clock_jump), 0 },
	{ "sweep_interval=%s", offsetof(struct raw, sweep), 0 },
	{ "metrics=%s", offsetof(struct raw, metrics), 0 },
	{ "min_free=%s", offsetof(struct raw, min_free), 0 },
	{ "preserve_max=%s", offsetof(struct raw, preserve_max), 0 },
	{ "preserve_per_uid=%s", offsetof(struct raw, per_uid), 0 },
	{ "passthrough=%s", offsetof(struct raw, passthrough), 0 },
	{ "brake=%s", offsetof(struct raw, brake), 0 },
	{ "trash_view=%s", offsetof(struct raw, trash_view), 0 },
	{ "tick_ms=%s", offsetof(struct raw, tick_ms), 0 },
	{ "cache_timeout=%s", offsetof(struct raw, timeout), 0 },
	{ "max_open_per_uid=%s", offsetof(struct raw, max_open), 0 },
	OPT("trash_visible", trash_visible),
	OPT("writeback", writeback),
	{ "no_writeback", offsetof(struct raw, writeback), 0 },
	FUSE_OPT_END
};

/* Options an fstab line may carry that mean nothing to the daemon:
 * mount(8) normally drops them, but mount.fuse3 run by hand passes x-*,
 * comment= and defaults through, and libfuse would refuse them. */
static bool ignored_mount_opt(const char *arg)
{
	static const char *const names[] = { "defaults", "nofail", "_netdev", "auto",
		"noauto", "user", "nouser", "users", "owner", "group", "relatime" };

	if (!strncmp(arg, "x-", 2) || !strncmp(arg, "comment=", 8))
		return true;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(arg, names[i]))
			return true;
	return false;
}

static int proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct raw *r = data;

	if (key == FUSE_OPT_KEY_OPT && ignored_mount_opt(arg))
		return 0;   /* dropped */

	if (key == FUSE_OPT_KEY_NONOPT && !r->o->backing) {
		r->o->backing = strdup(arg);
		return 0;   /* consumed; the next one is the mountpoint */
	}
	return 1;
}

static int duration(const char *name, const char *val, int64_t *out)
{
	int r;

	if (!val)
		return 0;
	if ((r = util_parse_duration(val, out)) < 0) {
		fprintf(stderr, "gracefs: error: invalid %s '%s': %s (use e.g. 90s, 12h, 30d)\n",
			name, val, r == -ERANGE ? "too large" :
			"not a duration with a unit (s, m, h, d, w)");
		return -1;
	}
	return 0;
}

static int number(const char *name, const char *val, double min, double max, double *out)
{
	char *end;
	double v;

	if (!val)
		return 0;
	v = strtod(val, &end);
	if (end == val || *end || v < min || v > max) {
		fprintf(stderr, "gracefs: error: invalid %s '%s' (%g to %g)\n", name, val, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

int options_parse(struct fuse_args *args, struct gfs_opts *o)
{
	struct raw r = { .o = o };
	double tick = 200, max_open = 0, per_uid = OVERWRITE_DEFAULT_PER_UID;
	int rc = -1;

	*o = (struct gfs_opts){ .retention_s = 30 * 86400, .op_gap_s = 10,
				.min_retention_s = 86400, .clock_jump_s = 3600, .sweep_s = 60,
				.tick_ms = 200, .timeout = 3600,
				.min_free = { .pct = true, .value = 10 },
				.preserve_max = OVERWRITE_DEFAULT_MAX,
				.brake_limit = BRAKE_DEFAULT_LIMIT,
				.brake_window_s = BRAKE_DEFAULT_WINDOW_S };
	if (fuse_opt_parse(args, &r, specs, proc) < 0)
		goto out;
	if (duration("retention", r.retention, &o->retention_s) < 0 ||
	    duration("op_gap", r.op_gap, &o->op_gap_s) < 0 ||
	    duration("min_retention", r.min_retention, &o->min_retention_s) < 0 ||
	    duration("clock_jump", r.clock_jump, &o->clock_jump_s) < 0 ||
	    duration("sweep_interval", r.sweep, &o->sweep_s) < 0 ||
	    number("tick_ms", r.tick_ms, 10, 60000, &tick) < 0 ||
	    number("cache_timeout", r.timeout, 0, 86400 * 365, &o->timeout) < 0 ||
	    number("max_open_per_uid", r.max_open, 1, 1 << 30, &max_open) < 0 ||
	    number("preserve_per_uid", r.per_uid, 1, OVERWRITE_PER_UID_MAX, &per_uid) < 0)
		goto out;
	if (per_uid != (unsigned)per_uid) {
		fprintf(stderr, "gracefs: error: invalid preserve_per_uid '%s' (a whole number)\n",
			r.per_uid);
		goto out;
	}
	o->preserve_per_uid = (unsigned)per_uid;
	if (max_open != (unsigned)max_open) {
		fprintf(stderr, "gracefs: error: invalid max_open_per_uid '%s' (a whole number)\n",
			r.max_open);
		goto out;
	}
	if (o->retention_s < o->min_retention_s) {
		char a[32], b[32];

		util_format_duration(o->retention_s, a, sizeof(a));
		util_format_duration(o->min_retention_s, b, sizeof(b));
		fprintf(stderr, "gracefs: error: retention %s is below min_retention %s (lower the "
			"floor explicitly with -o min_retention=DURATION)\n", a, b);
		goto out;
	}
	uint64_t pmax;

	if (r.preserve_max && (util_parse_size(r.preserve_max, &pmax) < 0 ||
			       (o->preserve_max = (int64_t)pmax, false))) {
		fprintf(stderr, "gracefs: error: bad preserve_max '%s' (a size: 0, 4096, 64M, 1G)\n",
			r.preserve_max);
		goto out;
	}
	if (r.passthrough && strcmp(r.passthrough, "auto") && strcmp(r.passthrough, "off")) {
		fprintf(stderr, "gracefs: error: invalid passthrough '%s' (auto or off)\n",
			r.passthrough);
		goto out;
	}
	o->passthrough = !r.passthrough || !strcmp(r.passthrough, "auto");
	if (r.trash_view && strcmp(r.trash_view, "all") && strcmp(r.trash_view, "reach")) {
		fprintf(stderr, "gracefs: error: invalid trash_view '%s' (reach or all)\n",
			r.trash_view);
		goto out;
	}
	o->trash_view_all = r.trash_view && !strcmp(r.trash_view, "all");
	o->tick_ms = (int64_t)tick;
	o->max_open_per_uid = (unsigned)max_open;
	if (r.min_free && evict_parse_floor(r.min_free, &o->min_free) < 0) {
		fprintf(stderr, "gracefs: error: invalid min_free '%s' (a percentage below 100 "
			"or a size: 10%%, 0%%, 512M, 20G)\n", r.min_free);
		goto out;
	}
	if (r.brake && brake_parse(r.brake, &o->brake_limit, &o->brake_window_s) < 0) {
		fprintf(stderr, "gracefs: error: invalid brake '%s' (SITES/DURATION, e.g. 20/10m, "
			"SITES 1 to %d; or off)\n", r.brake, BRAKE_LIMIT_MAX);
		goto out;
	}
	if (r.metrics && r.metrics[0] != '/') {
		fprintf(stderr, "gracefs: error: metrics path '%s' must be absolute\n", r.metrics);
		goto out;
	}
	o->metrics = r.metrics;
	r.metrics = NULL;
	o->trash_visible = r.trash_visible;
	o->writeback = r.writeback;
	rc = 0;
out:
	free(r.retention);
	free(r.op_gap);
	free(r.tick_ms);
	free(r.timeout);
	free(r.min_retention);
	free(r.clock_jump);
	free(r.sweep);
	free(r.metrics);
	free(r.max_open);
	free(r.min_free);
	free(r.preserve_max);
	free(r.per_uid);
	free(r.passthrough);
	free(r.brake);
	free(r.trash_view);
	return rc;
}

void options_usage(const char *prog)
{
	printf("usage: %s [-f] [-o OPTIONS] BACKING MOUNTPOINT\n\n"
	       "Serve BACKING at MOUNTPOINT with soft delete: rm moves data into .trash,\n"
	       "mv out of .trash restores it.  Each top-level directory is a site.\n\n"
	       "gracefs options:\n"
	       "    -o retention=DURATION  keep deleted data this long (default 30d; 90s, 12h, 2w)\n"
	       "    -o op_gap=DURATION     idle time that ends a deleting operation (default 10s)\n"
	       "    -o min_retention=DUR   lowest retention, the mount's and every site's (24h)\n"
	       "    -o clock_jump=DUR      wall-clock skew worth a log notice (1h; expiry always\n"
	       "                           goes by elapsed time, never by the wall clock)\n"
	       "    -o sweep_interval=DUR  longest time between sweeper passes (default 60s)\n"
	       "    -o min_free=PCT|SIZE   free-space floor: below it the sweeper evicts the oldest\n"
	       "                           unheld ops past min_retention (default 10%%; 0%% disables)\n"
	       "    -o brake=N/DURATION    mass-deletion brake: a run that removes whole sites or\n"
	       "                           their top-level directories in N sites within DURATION\n"
	       "                           has all its ops held (default 20/10m; off)\n"
	       "    -o metrics=PATH        write Prometheus metrics to PATH (node_exporter textfile)\n"
	       "    -o preserve_max=SIZE   largest file a truncation copies into trash where the\n"
	       "                           backing store cannot clone (default 64M; 0: clones only)\n"
	       "    -o preserve_per_uid=N  preservation copies one uid runs at once; its others\n"
	       "                           wait, nobody else's do (default 2, 1 to 64)\n"
	       "    -o trash_visible       list .trash in readdir (default: reachable by name only)\n"
	       "    -o trash_view=reach|all  reach: a tenant sees in a site's .trash only the ops it\n"
	       "                           deleted or holding items it owns, and its own figures\n"
	       "                           in the .trash attributes; all: everyone's (default reach)\n"
	       "    -o cache_timeout=SECS  kernel entry/attribute cache time (default 3600)\n"
	       "    -o writeback           kernel writeback cache: write(2) returns once cached; on\n"
	       "                           a full disk the next write(2) fails (default off)\n"
	       "    -o passthrough=auto|off  auto: the kernel reads and writes open files itself\n"
	       "                           where it can (Linux 6.9+; not with -o writeback)\n"
	       "    -o tick_ms=N           maintenance interval in ms (default 200)\n"
	       "    -o max_open_per_uid=N  files one non-root uid may hold open through the mount\n"
	       "                           (default: a quarter of RLIMIT_NOFILE less a reserve)\n\n",
	       prog);
}
