/*
 * metrics — Prometheus text-format metrics file (see metrics.h).
 *
 * The whole text is built in memory first, then written in one go, so a
 * formatting problem can never leave a half-written file behind.
 * No shared state; one thread at a time per path.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/metrics.h"
#include "engine/sitedel.h"

#define STR_(x) #x
#define STR(x) STR_(x)
#define SITEDEL_MAX_STR STR(SITEDEL_MAX_SITES)

#define TMP_SUFFIX ".tmp"

/* A growing text buffer; `err` sticks at the first failure. */
struct text {
	char *p;
	size_t len, cap;
	int err;
};

static void text_reserve(struct text *t, size_t more)
{
	size_t cap;
	char *p;

	if (t->err)
		return;
	if (t->len + more < t->len) {
		t->err = -ENOMEM;
		return;
	}
	if (t->len + more <= t->cap)
		return;
	cap = t->cap ? t->cap : 4096;
	while (cap < t->len + more)
		cap *= 2;
	if (!(p = realloc(t->p, cap))) {
		t->err = -ENOMEM;
		return;
	}
	t->p = p;
	t->cap = cap;
}

static void text_add(struct text *t, const char *s, size_t n)
{
	text_reserve(t, n);
	if (t->err)
		return;
	memcpy(t->p + t->len, s, n);
	t->len += n;
}

__attribute__((format(printf, 2, 3)))
static void text_printf(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		t->err = t->err ? t->err : -EINVAL;
		return;
	}
	text_reserve(t, (size_t)n + 1);
	if (t->err)
		return;
	va_start(ap, fmt);
	vsnprintf(t->p + t->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid
 * (overlong forms, surrogates and code points above U+10FFFF included). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len, i;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/* A label value: \ " and newline escaped as the format requires; bytes
 * that are not UTF-8 (which Prometheus would reject) as the text \xNN. */
static void text_label_value(struct text *t, const char *val, size_t n)
{
	const unsigned char *s = (const unsigned char *)val;
	size_t i = 0, k;
	char hex[8];

	while (i < n) {
		if (s[i] == '\\')
			text_add(t, "\\\\", 2), i++;
		else if (s[i] == '"')
			text_add(t, "\\\"", 2), i++;
		else if (s[i] == '\n')
			text_add(t, "\\n", 2), i++;
		else if ((k = utf8_len(s + i, n - i)) > 0)
			text_add(t, val + i, k), i += k;
		else {
			snprintf(hex, sizeof(hex), "\\\\x%02x", s[i]);
			text_add(t, hex, strlen(hex));
			i++;
		}
	}
}

static void family(struct text *t, const char *name, const char *type, const char *help)
{
	text_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample_i64(struct text *t, const char *name, int64_t v)
{
	text_printf(t, "%s %" PRId64 "\n", name, v);
}

enum site_field { F_BYTES, F_ITEMS, F_OPS, F_OLDEST, F_NEXT_EXPIRY, F_TRASH_MAX };

/* `name{site="SITE"} ` — the root scope ("") as "/" */
static void site_label(struct text *t, const char *name, const char *site, size_t cap)
{
	size_t n = strnlen(site, cap);

	text_printf(t, "%s{site=\"", name);
	if (n == 0)
		text_add(t, "/", 1);
	else
		text_label_value(t, site, n);
}

static void site_samples(struct text *t, const char *name, const struct metrics *m,
			 enum site_field f)
{
	for (size_t i = 0; i < m->nsites; i++) {
		const struct metrics_site *s = &m->sites[i];
		int64_t v;

		if (f == F_OLDEST || f == F_NEXT_EXPIRY) {
			v = f == F_OLDEST ? s->oldest_s : s->next_expiry_s;
			if (v == 0)
				continue;   /* "none" is an absent series, not 1970 */
		}
		if (f == F_TRASH_MAX && s->trash_max == 0)
			continue;   /* no cap: no series */
		site_label(t, name, s->site, sizeof(s->site));
		switch (f) {
		case F_BYTES: text_printf(t, "\"} %" PRIu64 "\n", s->trash_bytes); break;
		case F_ITEMS: text_printf(t, "\"} %" PRIu64 "\n", s->trash_items); break;
		case F_OPS: text_printf(t, "\"} %" PRIu64 "\n", s->ops); break;
		case F_OLDEST: text_printf(t, "\"} %" PRId64 "\n", s->oldest_s); break;
		case F_NEXT_EXPIRY: text_printf(t, "\"} %" PRId64 "\n", s->next_expiry_s); break;
		case F_TRASH_MAX: text_printf(t, "\"} %" PRIu64 "\n", s->trash_max); break;
		}
	}
}

/* The shares, per site; the mount's own trash (whole deleted sites, scope
 * "", shown as "/") is one more scope in the eviction order but not a site, so it has
 * series of its own (root = true) and no site="/" (issue 19 item 1). */
static void share_samples(struct text *t, const char *name, const struct metrics *m,
			  bool ratio, bool root)
{
	for (size_t i = 0; i < m->nshares; i++) {
		const struct metrics_share *s = &m->shares[i];
		bool is_root = !s->site[0];   /* the root scope is "" */

		if (is_root != root)
			continue;
		if (root)
			text_printf(t, "%s", name);
		else
			site_label(t, name, s->site, sizeof(s->site));
		if (ratio)
			text_printf(t, "%s %.4f\n", root ? "" : "\"}",
				    s->share ? (double)s->bytes / (double)s->share : 0.0);
		else
			text_printf(t, "%s %" PRIu64 "\n", root ? "" : "\"}", s->share);
	}
}

static void sitedel_samples(struct text *t, const char *name, const struct metrics *m,
			    bool whole)
{
	for (size_t i = 0; i < m->nsitedel; i++) {
		const struct metrics_sitedel *s = &m->sitedel[i];

		site_label(t, name, s->site, sizeof(s->site));
		text_printf(t, "\"} %" PRIu64 "\n", whole ? s->whole : s->trees);
	}
}

static void render(struct text *t, const struct metrics *m)
{
	family(t, "gracefs_trash_bytes", "gauge",
	       "Bytes (allocated blocks) held in trash, per site (a site deleted whole "
	       "included); site=\"/\": operations that deleted several sites at once.");
	site_samples(t, "gracefs_trash_bytes", m, F_BYTES);
	family(t, "gracefs_trash_items", "gauge", "Deleted names held in trash, per site.");
	site_samples(t, "gracefs_trash_items", m, F_ITEMS);
	family(t, "gracefs_trash_ops", "gauge", "Delete operations held in trash, per site.");
	site_samples(t, "gracefs_trash_ops", m, F_OPS);
	family(t, "gracefs_trash_oldest_timestamp_seconds", "gauge",
	       "Unix time of the oldest deletion held in trash, per site (absent when empty).");
	site_samples(t, "gracefs_trash_oldest_timestamp_seconds", m, F_OLDEST);
	family(t, "gracefs_trash_next_expiry_timestamp_seconds", "gauge",
	       "Unix time at which the next operation expires, per site (absent when none).");
	site_samples(t, "gracefs_trash_next_expiry_timestamp_seconds", m, F_NEXT_EXPIRY);

	/* absent: a gauge not measured yet (no series rather than a false 0) */
	const struct { const char *name, *type, *help; int64_t v; bool absent; } scalars[] = {
		{ "gracefs_ops_created_total", "counter",
		  "Delete operations created since the daemon started.", (int64_t)m->ops_created },
		{ "gracefs_ops_restored_total", "counter",
		  "Restores out of trash since the daemon started.", (int64_t)m->ops_restored },
		{ "gracefs_ops_purged_total", "counter",
		  "Operations purged (expired or explicit) since the daemon started.",
		  (int64_t)m->ops_purged },
		{ "gracefs_index_errors_total", "counter",
		  "Failed writes to the trash index since the daemon started.",
		  (int64_t)m->index_errors },
		{ "gracefs_audit_errors_total", "counter",
		  "Failed writes to the audit log since the daemon started.",
		  (int64_t)m->audit_errors },
		{ "gracefs_overwrite_cloned_total", "counter",
		  "Files preserved as a clone before a truncation since the daemon started.",
		  (int64_t)m->overwrite_cloned },
		{ "gracefs_overwrite_copied_total", "counter",
		  "Files preserved as a copy before a truncation since the daemon started.",
		  (int64_t)m->overwrite_copied },
		{ "gracefs_overwrite_unpreserved_total", "counter",
		  "Files truncated without a copy (over preserve_max, no clone) since the daemon started.",
		  (int64_t)m->overwrite_unpreserved },
		{ "gracefs_overwrite_copies_running", "gauge",
		  "Preservation copies running now (at most preserve_per_uid per uid).",
		  (int64_t)m->overwrite_copying },
		{ "gracefs_overwrite_copies_waiting", "gauge",
		  "Preservation copies waiting now for a slot of their own uid.",
		  (int64_t)m->overwrite_waiting },
		{ "gracefs_overwrite_copy_waits_total", "counter",
		  "Preservation copies that waited for a slot of their uid since start.",
		  (int64_t)m->overwrite_waits },
		{ "gracefs_overwrite_copies_peak_per_uid", "gauge",
		  "Most preservation copies one uid had running at once since start.",
		  (int64_t)m->overwrite_peak_per_uid },
		{ "gracefs_sweeper_lag_seconds", "gauge",
		  "Age of the oldest overdue expiry (0 when the sweeper is up to date).",
		  m->sweeper_lag_s },
		{ "gracefs_clock_skew_seconds", "gauge",
		  "Wall-clock advance minus elapsed time since the sweeper started "
		  "(informational: expiry goes by elapsed time).", m->clock_skew_s },
		/* space (space.h, exclude_apply.h) */
		{ "gracefs_evicted_ops_total", "counter",
		  "Operations evicted for space (free-space floor or site trash_max) since start.",
		  (int64_t)m->evicted_ops },
		{ "gracefs_evicted_bytes_total", "counter",
		  "Recorded bytes of the operations evicted for space since start.",
		  (int64_t)m->evicted_bytes },
		{ "gracefs_excluded_items_total", "counter",
		  "Items removed directly, not moved to trash, by site exclusion patterns.",
		  (int64_t)m->excluded_items },
		{ "gracefs_excluded_bytes_total", "counter",
		  "Allocated bytes of the items removed directly by exclusion patterns.",
		  (int64_t)m->excluded_bytes },
		{ "gracefs_space_pressure", "gauge",
		  "1 while free space is below the floor and nothing more may be evicted.",
		  m->space_pressure ? 1 : 0 },
		{ "gracefs_backing_size_bytes", "gauge", "Size of the backing filesystem.",
		  (int64_t)m->backing_size_bytes, !m->space_known },
		{ "gracefs_backing_free_bytes", "gauge",
		  "Free space of the backing filesystem available to tenants (f_bavail).",
		  (int64_t)m->backing_free_bytes, !m->space_known },
		{ "gracefs_space_floor_bytes", "gauge",
		  "The free-space floor (min_free) in bytes; below it the sweeper evicts.",
		  (int64_t)m->space_floor_bytes, !m->space_known },
		{ "gracefs_evictable_ops", "gauge",
		  "Operations that could be evicted now (closed, unheld, past min_retention).",
		  (int64_t)m->evictable_ops, !m->space_known },
		{ "gracefs_evictable_bytes", "gauge",
		  "Recorded bytes of the operations that could be evicted now.",
		  (int64_t)m->evictable_bytes, !m->space_known },
		/* what the alert rules compare against (scripts/prometheus) */
		{ "gracefs_sweeper_last_pass_timestamp_seconds", "gauge",
		  "Unix time of the sweeper's last completed pass (absent before the first).",
		  m->sweeper_last_pass_s, m->sweeper_last_pass_s == 0 },
		{ "gracefs_sweeper_interval_seconds", "gauge",
		  "Longest time between two sweeper passes (-o sweep_interval).",
		  m->sweeper_interval_s },
		{ "gracefs_clock_jump_seconds", "gauge",
		  "Wall-clock skew worth a notice (-o clock_jump).", m->clock_jump_s },
		{ "gracefs_metrics_written_timestamp_seconds", "gauge",
		  "Unix time this file was written; the daemon rewrites it at least every 30 s.",
		  m->written_s },
		/* data path (kernel passthrough) */
		{ "gracefs_passthrough", "gauge",
		  "1 while the kernel reads and writes passthrough-opened files itself.",
		  m->passthrough_on ? 1 : 0, !m->passthrough_known },
		{ "gracefs_passthrough_opens_total", "counter",
		  "Files opened passthrough (the kernel does their I/O) since start.",
		  (int64_t)m->passthrough_opens, !m->passthrough_known },
		{ "gracefs_daemon_opens_total", "counter",
		  "Files opened on the daemon's data path since start.",
		  (int64_t)m->daemon_opens, !m->passthrough_known },
		{ "gracefs_passthrough_failures_total", "counter",
		  "Backing-file registrations that failed (the open fell back) since start.",
		  (int64_t)m->passthrough_failures, !m->passthrough_known },
		{ "gracefs_passthrough_backing_files", "gauge",
		  "Backing-file registrations held now (one per file open passthrough).",
		  (int64_t)m->passthrough_backing, !m->passthrough_known },
		/* the mass-deletion brake (brake.h) */
		{ "gracefs_brake_limit_sites", "gauge",
		  "Sites one run may remove site-level trees in within the brake window (0: off).",
		  m->brake_limit },
		{ "gracefs_brake_window_seconds", "gauge",
		  "The brake window (-o brake=N/DURATION).", m->brake_window_s },
		{ "gracefs_braked_runs", "gauge",
		  "Runs braked now: every op of each is held until gracectl release run:ID.",
		  (int64_t)m->braked_runs },
		{ "gracefs_brake_trips_total", "counter",
		  "Runs braked since the daemon started.", (int64_t)m->brake_trips },
	};
	/* which build wrote the file, and whether it still serves: a stopped
	 * daemon's last write says 0 (a crash leaves 1 and a stale file) */
	family(t, "gracefs_build_info", "gauge", "The gracefs version that writes this file (always 1).");
	text_printf(t, "gracefs_build_info{version=\"");
	text_label_value(t, GRACEFS_VERSION, strlen(GRACEFS_VERSION));
	text_printf(t, "\"} 1\n");
	family(t, "gracefs_up", "gauge",
	       "1 while the daemon serves the mount; 0 written as it stops cleanly.");
	sample_i64(t, "gracefs_up", m->down ? 0 : 1);
	for (size_t i = 0; i < sizeof(scalars) / sizeof(scalars[0]); i++) {
		if (scalars[i].absent)
			continue;
		family(t, scalars[i].name, scalars[i].type, scalars[i].help);
		sample_i64(t, scalars[i].name, scalars[i].v);
	}
	family(t, "gracefs_trash_max_bytes", "gauge",
	       "The site's trash cap (trash_max) in bytes, for sites with one.");
	site_samples(t, "gracefs_trash_max_bytes", m, F_TRASH_MAX);
	family(t, "gracefs_trash_share_bytes", "gauge",
	       "The site's share of trash in the fair eviction order: its trash_max, else an "
	       "equal share of all unheld trash (as of the sweeper's last full look).");
	share_samples(t, "gracefs_trash_share_bytes", m, false, false);
	family(t, "gracefs_trash_share_ratio", "gauge",
	       "The site's unheld trash over its share: above 1, its trash is evicted first "
	       "under space pressure (who caused the pressure).");
	share_samples(t, "gracefs_trash_share_ratio", m, true, false);
	family(t, "gracefs_root_trash_share_bytes", "gauge",
	       "The share of the mount's own trash (whole deleted sites) in the fair "
	       "eviction order, where it is one more scope.");
	share_samples(t, "gracefs_root_trash_share_bytes", m, false, true);
	family(t, "gracefs_root_trash_share_ratio", "gauge",
	       "The mount's own trash (whole deleted sites), unheld, over its share.");
	share_samples(t, "gracefs_root_trash_share_ratio", m, true, true);
	family(t, "gracefs_site_deletions_total", "counter",
	       "Whole sites deleted since the daemon started, per site name "
	       "(site=\"/other\" past " SITEDEL_MAX_STR " names).");
	sitedel_samples(t, "gracefs_site_deletions_total", m, true);
	family(t, "gracefs_site_tree_deletions_total", "counter",
	       "Directories directly under a site root deleted since the daemon started, per site "
	       "(site=\"/other\" past " SITEDEL_MAX_STR " names).");
	sitedel_samples(t, "gracefs_site_tree_deletions_total", m, false);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Steps: (1) render the text; (2) remove a stale <path>.tmp and create it
 * afresh (O_EXCL, so a symlink planted there is never followed); (3) write,
 * fchmod 0644, fsync, close; (4) rename over path.  A crash before (4)
 * leaves path untouched plus a stray .tmp, removed by the next call; after
 * (4) path is complete.  The directory is not fsynced: losing the rename in
 * a power cut only brings back the previous, complete file.
 */
int metrics_write(const char *path, const struct metrics *m)
{
	char tmp[PATH_MAX];
	struct text t = {0};
	int fd, r;

	if (!path || !*path || !m || (m->nsites && !m->sites) || (m->nsitedel && !m->sitedel) ||
	    (m->nshares && !m->shares))
		return -EINVAL;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s" TMP_SUFFIX, path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	render(&t, m);
	if (t.err) {
		r = t.err;
		goto out_text;
	}
	if (unlink(tmp) < 0 && errno != ENOENT) {
		r = -errno;
		goto out_text;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = -errno;
		goto out_text;
	}
	if ((r = write_all(fd, t.p, t.len)) < 0)
		goto out_tmp;
	if (fchmod(fd, 0644) < 0 || fsync(fd) < 0) {
		r = -errno;
		goto out_tmp;
	}
	if (close(fd) < 0) {
		fd = -1;
		r = -errno;
		goto out_tmp;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		r = -errno;
		goto out_tmp;
	}
	r = 0;
	goto out_text;
out_tmp:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
out_text:
	free(t.p);
	return r;
}
