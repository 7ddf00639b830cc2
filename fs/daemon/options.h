/*
 * options — gracefs's own mount options and usage text.  The standard FUSE
 * options pass through to libfuse.  Single-threaded (startup only).
 */
#ifndef GRACEFS_OPTIONS_H
#define GRACEFS_OPTIONS_H

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stdint.h>
#include "engine/evict.h"

struct gfs_opts {
	char *backing;          /* first non-option argument */
	char *metrics;          /* -o metrics=PATH: Prometheus textfile */
	int64_t retention_s;    /* -o retention= (default 30d) */
	int64_t op_gap_s;       /* -o op_gap= (default 10s) */
	int64_t min_retention_s;/* -o min_retention= floor for every retention (default 24h) */
	int64_t clock_jump_s;   /* -o clock_jump= wall-clock skew worth a notice (1h) */
	int64_t sweep_s;        /* -o sweep_interval= longest sweeper sleep (default 60s) */
	int64_t tick_ms;        /* -o tick_ms= maintenance interval (default 200) */
	struct evict_floor min_free; /* -o min_free= free-space floor (default 10%) */
	double timeout;         /* -o cache_timeout= seconds (default 3600) */
	int64_t preserve_max;   /* -o preserve_max= bytes a truncation may copy (64M) */
	unsigned preserve_per_uid; /* -o preserve_per_uid= copies of one uid at once (2) */
	bool trash_visible;     /* -o trash_visible */
	bool trash_view_all;    /* -o trash_view=all|reach (default reach) */
	bool writeback;         /* kernel writeback cache (-o writeback; default off) */
	bool passthrough;       /* -o passthrough=auto (default) | off */
	unsigned max_open_per_uid; /* -o max_open_per_uid= (0: fair share, fdcap.h) */
	unsigned brake_limit;   /* -o brake=N/DURATION: sites per run (20; 0: off) */
	int64_t brake_window_s; /* ... within this long (10m) */
};

/* Parse gracefs options out of args (leaving libfuse's in place).
 * 0, or -1 after printing a one-line error. */
int options_parse(struct fuse_args *args, struct gfs_opts *o);
void options_usage(const char *prog);

#endif
