/*
 * metrics — the daemon's metrics as a Prometheus text-format file, for
 * node_exporter's textfile collector (point its --collector.textfile.directory
 * at the directory and give the file a ".prom" name).
 *
 * The caller fills a struct metrics snapshot (counters since start, gauges
 * from the trash engine) and hands it to metrics_write, which replaces the
 * file atomically: readers see the old file or the new one, never a mix.
 * Plain C, no FUSE, no state.  One writer per path: calls for different
 * paths may run concurrently; two writers of the same path (e.g. two daemons
 * configured with one file) would share its ".tmp" file and are a
 * configuration error.
 *
 * Exposed families (label "site" on the per-site ones):
 *   gracefs_build_info{version} (always 1), gracefs_up (0 in the last
 *   write of a daemon that stops cleanly)                            gauge
 *   gracefs_trash_bytes, gracefs_trash_items, gracefs_trash_ops       gauge
 *   gracefs_trash_oldest_timestamp_seconds                            gauge
 *   gracefs_trash_next_expiry_timestamp_seconds                       gauge
 *   gracefs_ops_created_total, gracefs_ops_restored_total,
 *   gracefs_ops_purged_total, gracefs_index_errors_total,
 *   gracefs_audit_errors_total, gracefs_overwrite_cloned_total,
 *   gracefs_overwrite_copied_total,
 *   gracefs_overwrite_unpreserved_total,
 *   gracefs_overwrite_copy_waits_total                                counter
 *   gracefs_overwrite_copies_running, gracefs_overwrite_copies_waiting,
 *   gracefs_overwrite_copies_peak_per_uid                             gauge
 *   gracefs_sweeper_lag_seconds, gracefs_clock_skew_seconds           gauge
 *   gracefs_evicted_ops_total, gracefs_evicted_bytes_total,
 *   gracefs_excluded_items_total, gracefs_excluded_bytes_total        counter
 *   gracefs_space_pressure, gracefs_backing_size_bytes,
 *   gracefs_backing_free_bytes, gracefs_space_floor_bytes,
 *   gracefs_evictable_ops, gracefs_evictable_bytes                    gauge
 *     (the backing/floor/evictable gauges only once measured)
 *   gracefs_trash_max_bytes (per site, only sites with a cap)         gauge
 *   gracefs_site_deletions_total, gracefs_site_tree_deletions_total
 *     (per site: whole sites and directories directly under a site
 *     deleted; at most SITEDEL_MAX_SITES + 1 series, sitedel.h)       counter
 *   gracefs_trash_share_bytes, gracefs_trash_share_ratio (per site in
 *     the fair eviction order, evict.h: its share, and its unheld trash
 *     over that share; only after the sweeper's first full look)     gauge
 *   gracefs_sweeper_last_pass_timestamp_seconds (once a pass ran),
 *   gracefs_sweeper_interval_seconds, gracefs_clock_jump_seconds,
 *   gracefs_metrics_written_timestamp_seconds                         gauge
 * No label but "site", whose values are bounded by the sites of the node:
 * no op or run IDs as labels.
 */
#ifndef GRACEFS_METRICS_H
#define GRACEFS_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Trash usage of one scope. */
struct metrics_site {
	/* Site name (NUL-terminated; any bytes).  "/" (or "") stands for the
	 * mount root's trash, which holds deleted whole sites.  Bytes that are
	 * not valid UTF-8 are written as the four characters \xNN. */
	char site[256];
	uint64_t trash_bytes;    /* allocated bytes held in trash */
	uint64_t trash_items;    /* deleted names held in trash */
	uint64_t ops;            /* operations held in trash */
	int64_t oldest_s;        /* wall-clock s of the oldest deletion; 0: none (not written) */
	int64_t next_expiry_s;   /* wall-clock s of the next expiry; 0: none (not written) */
	uint64_t trash_max;      /* the site's trash cap in bytes; 0: none (not written) */
};

/* Site-level deletions of one site (sitedel.h; same site name rules). */
struct metrics_sitedel {
	char site[256];
	uint64_t whole;          /* the site itself deleted */
	uint64_t trees;          /* directories directly under it deleted */
};

/* One site in the fair eviction order (space.h space_get_shares; same
 * site name rules, "/" for the scope of whole deleted sites). */
struct metrics_share {
	char site[256];
	uint64_t bytes;          /* its unheld trash */
	uint64_t share;          /* its share (trash_max, else the equal share); > 0 */
};

/* One snapshot.  The caller owns everything; metrics_write only reads. */
struct metrics {
	int down;                /* the daemon's last write as it stops: gracefs_up 0 */
	uint64_t ops_created;    /* counters since the daemon started */
	uint64_t ops_restored;
	uint64_t ops_purged;
	uint64_t index_errors;   /* failed index writes/syncs */
	uint64_t audit_errors;   /* failed audit log writes */
	uint64_t overwrite_cloned, overwrite_copied;  /* truncations preserved (overwrite.h) */
	uint64_t overwrite_unpreserved;               /* truncated over preserve_max */
	uint64_t overwrite_copying, overwrite_waiting;   /* copy gate (overwrite.h): gauges */
	uint64_t overwrite_waits;                        /* ... copies that waited: counter */
	uint64_t overwrite_peak_per_uid;                 /* ... most of one uid at once: gauge */
	int64_t sweeper_lag_s;   /* now minus the oldest overdue expiry; 0: up to date */
	int64_t clock_skew_s;    /* wall-clock advance minus elapsed time since start */
	/* space (space.h): the gauges only once space_known */
	int space_known;
	uint64_t backing_size_bytes, backing_free_bytes, space_floor_bytes;
	int space_pressure;      /* below the floor and nothing more may be evicted */
	uint64_t evictable_ops, evictable_bytes;
	uint64_t evicted_ops, evicted_bytes;      /* counters since start */
	uint64_t excluded_items, excluded_bytes;  /* removed directly (exclusions) */
	int64_t sweeper_last_pass_s;   /* wall-clock s of the last pass; 0: none yet (not written) */
	int64_t sweeper_interval_s;    /* longest time between passes (-o sweep_interval) */
	int64_t clock_jump_s;          /* -o clock_jump: skew worth a notice */
	int64_t written_s;             /* wall-clock s of this snapshot */
	/* data path (daemon/passthru.h): the gauges only once passthrough_known */
	int passthrough_known;
	int passthrough_on;                  /* 1: the kernel serves passthrough opens */
	uint64_t passthrough_opens, daemon_opens;   /* counters since start */
	uint64_t passthrough_failures;       /* registrations that fell back */
	uint64_t passthrough_backing;        /* registrations held now */
	int64_t brake_limit;           /* -o brake: sites per run (0: off) */
	int64_t brake_window_s;        /* ... within this long */
	uint64_t braked_runs;          /* runs braked now (gauge) */
	uint64_t brake_trips;          /* runs braked since start (counter) */
	size_t nsites;
	struct metrics_site *sites;   /* nsites entries, written in this order */
	size_t nsitedel;
	struct metrics_sitedel *sitedel;   /* nsitedel entries, written in this order */
	size_t nshares;
	struct metrics_share *shares;      /* nshares entries (none before the first look) */
};

/* Write m to `path` in the Prometheus text exposition format (version
 * 0.0.4), atomically: the text goes to "<path>.tmp" in the same directory
 * (a stale one is removed first), which is fsync()ed, made mode 0644 and
 * renamed over path.  On failure the temporary file is removed and path is
 * left as it was.
 * Returns 0, -EINVAL (NULL argument, or sites/sitedel/shares NULL with a count > 0),
 * -ENAMETOOLONG (path too long for the ".tmp" suffix), -ENOMEM, or the
 * -errno of the failing unlink/open/write/fsync/rename (e.g. -ENOENT for a
 * missing directory, -EACCES, -ENOSPC). */
int metrics_write(const char *path, const struct metrics *m);

#endif
