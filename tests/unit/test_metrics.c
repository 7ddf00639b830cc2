/*
 * test_metrics — the Prometheus text file written by metrics_write: every
 * line parsed back by a strict reader of the exposition format, label
 * escaping, non-UTF-8 site names, atomic replacement, errors.
 * Single-threaded cmocka tests in a temporary directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine/metrics.h"

/* ------------------------------------------------------------------------
 * A strict reader of the text format, enough for what metrics_write emits. */

#define MAX_SAMPLES 40000
#define MAX_FAMILIES 64

struct sample {
	char name[128];
	bool has_site;
	char site[1024];          /* unescaped label value */
	size_t site_len;
	char value[64];
};

struct family {
	char name[128];
	char type[16];
	bool help, type_seen, samples_seen;
};

struct parsed {
	char *text;               /* the whole file */
	size_t nsamples, nfamilies;
	struct sample *s;
	struct family f[MAX_FAMILIES];
};

static bool name_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
	       (!first && c >= '0' && c <= '9');
}

/* Reads a metric name at *p into out; advances *p. */
static void read_name(const char **p, char *out, size_t cap)
{
	size_t n = 0;

	assert_true(name_char(**p, true));
	while (name_char(**p, n == 0)) {
		assert_true(n + 1 < cap);
		out[n++] = *(*p)++;
	}
	out[n] = '\0';
}

static struct family *family_of(struct parsed *ps, const char *name, bool create)
{
	for (size_t i = 0; i < ps->nfamilies; i++)
		if (!strcmp(ps->f[i].name, name))
			return &ps->f[i];
	if (!create)
		return NULL;
	assert_true(ps->nfamilies < MAX_FAMILIES);
	struct family *f = &ps->f[ps->nfamilies++];
	memset(f, 0, sizeof(*f));
	strcpy(f->name, name);
	return f;
}

static void parse_comment(struct parsed *ps, const char *line)
{
	const char *p = line + 2;
	char name[128];
	struct family *f;

	if (!strncmp(line, "# HELP ", 7)) {
		p = line + 7;
		read_name(&p, name, sizeof(name));
		assert_int_equal(*p, ' ');
		assert_true(strlen(p + 1) > 0);
		f = family_of(ps, name, true);
		assert_false(f->help);           /* one HELP per family */
		assert_false(f->type_seen);      /* HELP comes first */
		f->help = true;
	} else if (!strncmp(line, "# TYPE ", 7)) {
		p = line + 7;
		read_name(&p, name, sizeof(name));
		assert_int_equal(*p, ' ');
		p++;
		assert_true(!strcmp(p, "gauge") || !strcmp(p, "counter"));
		f = family_of(ps, name, true);
		assert_false(f->type_seen);
		assert_false(f->samples_seen);   /* TYPE before any sample */
		f->type_seen = true;
		strcpy(f->type, p);
	} else {
		fail_msg("unexpected comment line: %s", line);
	}
}

static void parse_sample(struct parsed *ps, const char *line)
{
	const char *p = line;
	struct sample *s;
	struct family *f;
	char *end;

	assert_true(ps->nsamples < MAX_SAMPLES);
	s = &ps->s[ps->nsamples++];
	memset(s, 0, sizeof(*s));
	read_name(&p, s->name, sizeof(s->name));
	if (*p == '{' && !strncmp(p + 1, "version=\"", 9)) {   /* gracefs_build_info */
		assert_string_equal(s->name, "gracefs_build_info");
		p = strchr(p + 10, '"');
		assert_non_null(p);
		assert_memory_equal(p, "\"} 1", 4);
		p += 2;
	} else if (*p == '{') {
		p++;
		assert_memory_equal(p, "site=\"", 6);
		p += 6;
		s->has_site = true;
		while (*p != '"') {
			char c = *p++;

			assert_true(c != '\0' && c != '\n');
			if (c == '\\') {
				c = *p++;
				if (c == 'n')
					c = '\n';
				else
					assert_true(c == '\\' || c == '"');
			}
			assert_true(s->site_len + 1 < sizeof(s->site));
			s->site[s->site_len++] = c;
		}
		p++;
		assert_int_equal(*p, '}');
		p++;
	}
	assert_int_equal(*p, ' ');
	p++;
	assert_true(strlen(p) < sizeof(s->value));
	strcpy(s->value, p);
	errno = 0;
	(void)strtod(s->value, &end);
	assert_true(end != s->value && *end == '\0' && errno == 0);
	f = family_of(ps, s->name, false);
	assert_non_null(f);                      /* every sample has a family */
	assert_true(f->help && f->type_seen);
	f->samples_seen = true;
	/* a family's samples are contiguous: the previous line belongs to it */
	if (ps->nsamples > 1 && strcmp(ps->s[ps->nsamples - 2].name, s->name))
		assert_true(f == &ps->f[ps->nfamilies - 1]);
}

static void parse_file(const char *path, struct parsed *ps)
{
	FILE *fp = fopen(path, "re");
	size_t cap = 1 << 16, len = 0, n;
	char *line, *nl;

	assert_non_null(fp);
	memset(ps, 0, sizeof(*ps));
	ps->s = calloc(MAX_SAMPLES, sizeof(*ps->s));
	assert_non_null(ps->s);
	ps->text = malloc(cap + 1);
	while ((n = fread(ps->text + len, 1, cap - len, fp)) > 0) {
		len += n;
		if (len == cap) {
			cap *= 2;
			ps->text = realloc(ps->text, cap + 1);
			assert_non_null(ps->text);
		}
	}
	fclose(fp);
	ps->text[len] = '\0';
	assert_true(len > 0);
	assert_int_equal(ps->text[len - 1], '\n');      /* ends with a newline */
	assert_int_equal(strlen(ps->text), len);         /* no NUL bytes */
	char *copy = strdup(ps->text);
	for (line = copy; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		*nl = '\0';
		assert_true(*line != '\0');                  /* no blank lines */
		if (line[0] == '#')
			parse_comment(ps, line);
		else
			parse_sample(ps, line);
	}
	free(copy);
}

static void parsed_free(struct parsed *ps)
{
	free(ps->s);
	free(ps->text);
}

/* The value of sample name{site} (site NULL: no label); NULL if absent. */
static const char *value_of(const struct parsed *ps, const char *name, const char *site,
			    size_t site_len)
{
	const char *found = NULL;

	for (size_t i = 0; i < ps->nsamples; i++) {
		const struct sample *s = &ps->s[i];

		if (strcmp(s->name, name) || s->has_site != (site != NULL))
			continue;
		if (site && (s->site_len != site_len || memcmp(s->site, site, site_len)))
			continue;
		assert_null(found);                      /* no duplicate series */
		found = s->value;
	}
	return found;
}

static const char *value(const struct parsed *ps, const char *name, const char *site)
{
	return value_of(ps, name, site, site ? strlen(site) : 0);
}

/* ------------------------------------------------------------------------
 * Fixture: a temporary directory and a file path in it. */

struct fx {
	char dir[64];
	char path[128];
	char tmp[160];
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	strcpy(fx->dir, "/tmp/test_metrics.XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/gracefs.prom", fx->dir);
	snprintf(fx->tmp, sizeof(fx->tmp), "%s.tmp", fx->path);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	if (system(cmd) != 0)
		return -1;
	free(fx);
	return 0;
}

static void site_set(struct metrics_site *s, const char *name, uint64_t bytes,
		     uint64_t items, uint64_t ops, int64_t oldest, int64_t next)
{
	memset(s, 0, sizeof(*s));
	strcpy(s->site, name);
	s->trash_bytes = bytes;
	s->trash_items = items;
	s->ops = ops;
	s->oldest_s = oldest;
	s->next_expiry_s = next;
}

static const char *const families[] = {
	"gracefs_trash_bytes", "gracefs_trash_items", "gracefs_trash_ops",
	"gracefs_trash_oldest_timestamp_seconds",
	"gracefs_trash_next_expiry_timestamp_seconds",
	"gracefs_build_info", "gracefs_up",
	"gracefs_ops_created_total", "gracefs_ops_restored_total",
	"gracefs_ops_purged_total", "gracefs_index_errors_total",
	"gracefs_audit_errors_total", "gracefs_overwrite_cloned_total",
	"gracefs_overwrite_copied_total", "gracefs_overwrite_unpreserved_total",
	"gracefs_overwrite_copies_running", "gracefs_overwrite_copies_waiting",
	"gracefs_overwrite_copy_waits_total", "gracefs_overwrite_copies_peak_per_uid",
	"gracefs_sweeper_lag_seconds", "gracefs_clock_skew_seconds",
	/* space (always there) */
	"gracefs_evicted_ops_total", "gracefs_evicted_bytes_total",
	"gracefs_excluded_items_total", "gracefs_excluded_bytes_total",
	"gracefs_space_pressure",
	/* what the alert rules compare against */
	"gracefs_sweeper_interval_seconds", "gracefs_clock_jump_seconds",
	"gracefs_metrics_written_timestamp_seconds",
	/* the mass-deletion brake */
	"gracefs_brake_limit_sites", "gracefs_brake_window_seconds", "gracefs_braked_runs",
	"gracefs_brake_trips_total",
	/* per site, written only where there is something to say */
	"gracefs_trash_max_bytes", "gracefs_trash_share_bytes", "gracefs_trash_share_ratio",
	"gracefs_root_trash_share_bytes", "gracefs_root_trash_share_ratio",
	"gracefs_site_deletions_total",
	"gracefs_site_tree_deletions_total",
};
#define SCALARS 28   /* samples without a site label when space is not known */

/* ------------------------------------------------------------------------ */

static void test_all_families(void **state)
{
	struct fx *fx = *state;
	struct metrics_site sites[3];
	struct metrics m = {
		.ops_created = 12, .ops_restored = 3, .ops_purged = 7,
		.index_errors = 1, .audit_errors = 0, .sweeper_lag_s = 42,
		.clock_skew_s = -5, .nsites = 3, .sites = sites,
		.overwrite_cloned = 4, .overwrite_copied = 5, .overwrite_unpreserved = 6,
		.overwrite_copying = 2, .overwrite_waiting = 3, .overwrite_waits = 9,
		.overwrite_peak_per_uid = 2,
	};
	struct parsed ps;

	site_set(&sites[0], "acme-shop", 1234567, 89, 2, 1795784712, 1798376712);
	site_set(&sites[1], "wiki", UINT64_MAX, 0, 0, 0, 0);
	site_set(&sites[2], "", 4096, 1, 1, 1795784000, 1798376000);  /* root scope */
	assert_int_equal(metrics_write(fx->path, &m), 0);
	parse_file(fx->path, &ps);

	assert_int_equal(ps.nfamilies, sizeof(families) / sizeof(families[0]));
	for (size_t i = 0; i < ps.nfamilies; i++) {
		assert_string_equal(ps.f[i].name, families[i]);
		assert_string_equal(ps.f[i].type,
				    strstr(families[i], "_total") ? "counter" : "gauge");
	}
	assert_string_equal(value(&ps, "gracefs_trash_bytes", "acme-shop"), "1234567");
	assert_string_equal(value(&ps, "gracefs_trash_items", "acme-shop"), "89");
	assert_string_equal(value(&ps, "gracefs_trash_ops", "acme-shop"), "2");
	assert_string_equal(value(&ps, "gracefs_trash_oldest_timestamp_seconds", "acme-shop"),
			    "1795784712");
	assert_string_equal(value(&ps, "gracefs_trash_next_expiry_timestamp_seconds",
				  "acme-shop"), "1798376712");
	assert_string_equal(value(&ps, "gracefs_trash_bytes", "wiki"), "18446744073709551615");
	assert_string_equal(value(&ps, "gracefs_trash_items", "wiki"), "0");
	/* "no deletion" / "nothing to expire" are absent series, not 0 */
	assert_null(value(&ps, "gracefs_trash_oldest_timestamp_seconds", "wiki"));
	assert_null(value(&ps, "gracefs_trash_next_expiry_timestamp_seconds", "wiki"));
	/* the root scope is labelled "/", never an empty (= missing) label */
	assert_string_equal(value(&ps, "gracefs_trash_bytes", "/"), "4096");
	assert_null(value(&ps, "gracefs_trash_bytes", ""));
	assert_string_equal(value(&ps, "gracefs_ops_created_total", NULL), "12");
	assert_string_equal(value(&ps, "gracefs_ops_restored_total", NULL), "3");
	assert_string_equal(value(&ps, "gracefs_ops_purged_total", NULL), "7");
	assert_string_equal(value(&ps, "gracefs_index_errors_total", NULL), "1");
	assert_string_equal(value(&ps, "gracefs_audit_errors_total", NULL), "0");
	assert_string_equal(value(&ps, "gracefs_overwrite_cloned_total", NULL), "4");
	assert_string_equal(value(&ps, "gracefs_overwrite_copied_total", NULL), "5");
	assert_string_equal(value(&ps, "gracefs_overwrite_unpreserved_total", NULL), "6");
	assert_string_equal(value(&ps, "gracefs_overwrite_copies_running", NULL), "2");
	assert_string_equal(value(&ps, "gracefs_overwrite_copies_waiting", NULL), "3");
	assert_string_equal(value(&ps, "gracefs_overwrite_copy_waits_total", NULL), "9");
	assert_string_equal(value(&ps, "gracefs_overwrite_copies_peak_per_uid", NULL), "2");
	assert_string_equal(value(&ps, "gracefs_sweeper_lag_seconds", NULL), "42");
	assert_string_equal(value(&ps, "gracefs_clock_skew_seconds", NULL), "-5");
	/* 3 sites x 3 + 2 timestamps x 2 + the scalars */
	assert_int_equal(ps.nsamples, 9 + 4 + SCALARS);
	/* exact text of a few lines */
	assert_non_null(strstr(ps.text, "\ngracefs_trash_bytes{site=\"acme-shop\"} 1234567\n"));
	assert_non_null(strstr(ps.text, "# TYPE gracefs_ops_purged_total counter\n"
				       "gracefs_ops_purged_total 7\n"));
	assert_int_equal(strncmp(ps.text, "# HELP gracefs_trash_bytes ", 27), 0);
	parsed_free(&ps);
}

/* The space series: counters always, the filesystem gauges once measured. */
static void test_space(void **state)
{
	struct fx *fx = *state;
	struct metrics m = { .evicted_ops = 3, .evicted_bytes = 12288, .excluded_items = 9,
			     .excluded_bytes = 4096, .space_pressure = 7,
			     .backing_size_bytes = UINT64_C(1) << 40,
			     .backing_free_bytes = 1000, .space_floor_bytes = 2000,
			     .evictable_ops = 4, .evictable_bytes = 5000 };
	struct parsed ps;

	assert_int_equal(metrics_write(fx->path, &m), 0);
	parse_file(fx->path, &ps);
	assert_string_equal(value(&ps, "gracefs_evicted_ops_total", NULL), "3");
	assert_string_equal(value(&ps, "gracefs_evicted_bytes_total", NULL), "12288");
	assert_string_equal(value(&ps, "gracefs_excluded_items_total", NULL), "9");
	assert_string_equal(value(&ps, "gracefs_excluded_bytes_total", NULL), "4096");
	assert_string_equal(value(&ps, "gracefs_space_pressure", NULL), "1");
	assert_null(value(&ps, "gracefs_backing_free_bytes", NULL));   /* not measured yet */
	assert_null(value(&ps, "gracefs_evictable_ops", NULL));
	parsed_free(&ps);

	m.space_known = 1;
	assert_int_equal(metrics_write(fx->path, &m), 0);
	parse_file(fx->path, &ps);
	assert_int_equal(ps.nsamples, SCALARS + 5);
	assert_string_equal(value(&ps, "gracefs_backing_size_bytes", NULL), "1099511627776");
	assert_string_equal(value(&ps, "gracefs_backing_free_bytes", NULL), "1000");
	assert_string_equal(value(&ps, "gracefs_space_floor_bytes", NULL), "2000");
	assert_string_equal(value(&ps, "gracefs_evictable_ops", NULL), "4");
	assert_string_equal(value(&ps, "gracefs_evictable_bytes", NULL), "5000");
	parsed_free(&ps);
}

/* The series the alert rules need: caps, site-level deletions, the
 * sweeper's last pass, the configured thresholds, the write time. */
static void test_alert_inputs(void **state)
{
	struct fx *fx = *state;
	struct metrics_site sites[2];
	struct metrics_sitedel del[3] = {
		{ .site = "acme-shop", .whole = 1, .trees = 0 },
		{ .site = "wi\"ki", .whole = 0, .trees = 7 },
		{ .site = "/other", .whole = 2, .trees = 3 },
	};
	struct metrics_share sh[2] = {
		{ .site = "", .bytes = 100, .share = 400 },          /* whole deleted sites */
		{ .site = "churn", .bytes = 1000, .share = 400 },    /* 2.5 times its share */
	};
	struct metrics m = { .nsites = 2, .sites = sites, .nsitedel = 3, .sitedel = del,
			     .nshares = 2, .shares = sh,
			     .sweeper_last_pass_s = 1795784712, .sweeper_interval_s = 60,
			     .clock_jump_s = 3600, .written_s = 1795784715, .brake_limit = 20,
			     .brake_window_s = 600, .braked_runs = 1, .brake_trips = 2 };
	struct parsed ps;

	site_set(&sites[0], "acme-shop", 100, 1, 1, 0, 0);
	site_set(&sites[1], "capped", 200, 2, 1, 0, 0);
	sites[1].trash_max = 1 << 20;
	assert_int_equal(metrics_write(fx->path, &m), 0);
	parse_file(fx->path, &ps);
	assert_string_equal(value(&ps, "gracefs_trash_max_bytes", "capped"), "1048576");
	assert_null(value(&ps, "gracefs_trash_max_bytes", "acme-shop"));   /* no cap: no series */
	assert_string_equal(value(&ps, "gracefs_site_deletions_total", "acme-shop"), "1");
	assert_string_equal(value(&ps, "gracefs_site_tree_deletions_total", "acme-shop"), "0");
	assert_string_equal(value(&ps, "gracefs_site_tree_deletions_total", "wi\"ki"), "7");
	assert_string_equal(value(&ps, "gracefs_site_deletions_total", "/other"), "2");
	assert_string_equal(value(&ps, "gracefs_site_tree_deletions_total", "/other"), "3");
	assert_string_equal(value(&ps, "gracefs_sweeper_last_pass_timestamp_seconds", NULL),
			    "1795784712");
	assert_string_equal(value(&ps, "gracefs_sweeper_interval_seconds", NULL), "60");
	assert_string_equal(value(&ps, "gracefs_clock_jump_seconds", NULL), "3600");
	assert_string_equal(value(&ps, "gracefs_metrics_written_timestamp_seconds", NULL),
			    "1795784715");
	assert_string_equal(value(&ps, "gracefs_brake_limit_sites", NULL), "20");
	assert_string_equal(value(&ps, "gracefs_brake_window_seconds", NULL), "600");
	assert_string_equal(value(&ps, "gracefs_braked_runs", NULL), "1");
	assert_string_equal(value(&ps, "gracefs_brake_trips_total", NULL), "2");
	/* who caused the pressure: each site's share and its trash over it */
	assert_string_equal(value(&ps, "gracefs_trash_share_bytes", "churn"), "400");
	assert_string_equal(value(&ps, "gracefs_trash_share_ratio", "churn"), "2.5000");
	/* the mount's own trash: series of its own, never site="/" */
	assert_null(value(&ps, "gracefs_trash_share_ratio", "/"));
	assert_string_equal(value(&ps, "gracefs_root_trash_share_ratio", NULL), "0.2500");
	/* 2 sites x 3, one cap, 2 x 2 share series, 3 x 2 deletion series, the
	 * scalars and the last pass */
	assert_int_equal(ps.nsamples, 6 + 1 + 4 + 6 + SCALARS + 1);
	assert_non_null(strstr(ps.text, "# TYPE gracefs_site_deletions_total counter\n"
				       "gracefs_site_deletions_total{site=\"acme-shop\"} 1\n"));
	parsed_free(&ps);

	m.sitedel = NULL;   /* a count without its array */
	assert_int_equal(metrics_write(fx->path, &m), -EINVAL);
	m.sitedel = del;
	m.shares = NULL;
	assert_int_equal(metrics_write(fx->path, &m), -EINVAL);
}

/* The data path: absent until the INIT reply said whether passthrough
 * is on, then a gauge and its counters. */
static void test_passthrough(void **state)
{
	struct fx *fx = *state;
	struct metrics m = { .passthrough_on = 1, .passthrough_opens = 7, .daemon_opens = 2,
			     .passthrough_failures = 1, .passthrough_backing = 3 };
	struct parsed ps;

	assert_int_equal(metrics_write(fx->path, &m), 0);
	parse_file(fx->path, &ps);
	assert_int_equal(ps.nsamples, SCALARS);
	assert_null(value(&ps, "gracefs_passthrough", NULL));
	parsed_free(&ps);

	m.passthrough_known = 1;
	assert_int_equal(metrics_write(fx->path, &m), 0);
	parse_file(fx->path, &ps);
	assert_int_equal(ps.nsamples, SCALARS + 5);
	assert_string_equal(value(&ps, "gracefs_passthrough", NULL), "1");
	assert_string_equal(value(&ps, "gracefs_passthrough_opens_total", NULL), "7");
	assert_string_equal(value(&ps, "gracefs_daemon_opens_total", NULL), "2");
	assert_string_equal(value(&ps, "gracefs_passthrough_failures_total", NULL), "1");
	assert_string_equal(value(&ps, "gracefs_passthrough_backing_files", NULL), "3");
	parsed_free(&ps);
}

static void test_no_sites(void **state)
{
	struct fx *fx = *state;
	struct metrics m = {0};
	struct parsed ps;

	assert_int_equal(metrics_write(fx->path, &m), 0);
	parse_file(fx->path, &ps);
	assert_int_equal(ps.nfamilies, sizeof(families) / sizeof(families[0]));
	assert_int_equal(ps.nsamples, SCALARS);
	assert_string_equal(value(&ps, "gracefs_clock_skew_seconds", NULL), "0");
	assert_string_equal(value(&ps, "gracefs_up", NULL), "1");
	assert_non_null(strstr(ps.text, "gracefs_build_info{version=\"" GRACEFS_VERSION "\"} 1\n"));
	parsed_free(&ps);
	m.down = 1;   /* the last write of a daemon that stops */
	assert_int_equal(metrics_write(fx->path, &m), 0);
	parse_file(fx->path, &ps);
	assert_string_equal(value(&ps, "gracefs_up", NULL), "0");
	assert_string_equal(value(&ps, "gracefs_sweeper_lag_seconds", NULL), "0");
	parsed_free(&ps);
}

static void test_label_escaping(void **state)
{
	struct fx *fx = *state;
	static const char *const names[] = {
		"back\\slash", "dq\"uote", "new\nline", "\\\"\n\\\\", "tab\there",
		"sp ace}{=,", "caf\xc3\xa9-\xe6\x97\xa5\xe6\x9c\xac-\xf0\x9f\x93\x81",
	};
	enum { N = sizeof(names) / sizeof(names[0]) };
	struct metrics_site sites[N];
	struct metrics m = { .nsites = N, .sites = sites };
	struct parsed ps;

	for (size_t i = 0; i < N; i++)
		site_set(&sites[i], names[i], 100 + i, i, 1, 0, 0);
	assert_int_equal(metrics_write(fx->path, &m), 0);
	parse_file(fx->path, &ps);
	for (size_t i = 0; i < N; i++) {
		char want[16];

		snprintf(want, sizeof(want), "%zu", 100 + i);
		assert_non_null(value(&ps, "gracefs_trash_bytes", names[i]));
		assert_string_equal(value(&ps, "gracefs_trash_bytes", names[i]), want);
	}
	/* the raw escapes, as the format spells them */
	assert_non_null(strstr(ps.text, "{site=\"back\\\\slash\"} 100\n"));
	assert_non_null(strstr(ps.text, "{site=\"dq\\\"uote\"} 101\n"));
	assert_non_null(strstr(ps.text, "{site=\"new\\nline\"} 102\n"));
	assert_non_null(strstr(ps.text, "{site=\"\\\\\\\"\\n\\\\\\\\\"} 103\n"));
	assert_non_null(strstr(ps.text, "{site=\"tab\there\"} 104\n"));
	assert_non_null(strstr(ps.text, "{site=\"caf\xc3\xa9-\xe6\x97\xa5"));
	parsed_free(&ps);
}

static void test_not_utf8(void **state)
{
	struct fx *fx = *state;
	static const struct { const char *name, *shown; } cases[] = {
		{ "bad\xff", "bad\\xff" },
		{ "trunc\xc3", "trunc\\xc3" },
		{ "overlong\xc0\xaf", "overlong\\xc0\\xaf" },
		{ "surrogate\xed\xa0\x80", "surrogate\\xed\\xa0\\x80" },
		{ "toobig\xf4\x90\x80\x80", "toobig\\xf4\\x90\\x80\\x80" },
		{ "mixed\x80\xc3\xa9", "mixed\\x80\xc3\xa9" },
	};
	enum { N = sizeof(cases) / sizeof(cases[0]) };
	struct metrics_site sites[N];
	struct metrics m = { .nsites = N, .sites = sites };
	struct parsed ps;

	for (size_t i = 0; i < N; i++)
		site_set(&sites[i], cases[i].name, i, i, 1, 0, 0);
	assert_int_equal(metrics_write(fx->path, &m), 0);
	parse_file(fx->path, &ps);
	for (size_t i = 0; i < N; i++)
		assert_non_null(value(&ps, "gracefs_trash_ops", cases[i].shown));
	/* on disk, the backslash of \xNN is itself escaped */
	assert_non_null(strstr(ps.text, "{site=\"bad\\\\xff\"}"));
	/* the whole file is valid UTF-8 now: no byte >= 0x80 outside sequences */
	for (const unsigned char *p = (const unsigned char *)ps.text; *p; p++)
		assert_true(*p != 0xff && *p != 0xc0 && *p != 0xed && *p != 0xf4);
	parsed_free(&ps);
}

static void test_full_name_length(void **state)
{
	struct fx *fx = *state;
	struct metrics_site s;
	struct metrics m = { .nsites = 1, .sites = &s };
	struct parsed ps;
	char want[256];

	/* 255 bytes and no terminator inside the array: strnlen bounds it */
	memset(&s, 0, sizeof(s));
	memset(s.site, 'x', sizeof(s.site));
	s.trash_bytes = 1;
	memset(want, 'x', 256);
	assert_int_equal(metrics_write(fx->path, &m), 0);
	parse_file(fx->path, &ps);
	assert_string_equal(value_of(&ps, "gracefs_trash_bytes", want, 256), "1");
	parsed_free(&ps);
}

static void test_atomic_replace(void **state)
{
	struct fx *fx = *state;
	struct metrics m = { .ops_created = 1 };
	struct parsed ps;
	struct stat a, b;
	char buf[8192];
	ssize_t n;
	int fd;
	mode_t old = umask(077);

	assert_int_equal(metrics_write(fx->path, &m), 0);
	assert_int_equal(stat(fx->path, &a), 0);
	assert_int_equal(a.st_mode & 07777, 0644);   /* readable by node_exporter */
	fd = open(fx->path, O_RDONLY | O_CLOEXEC);   /* a reader mid-scrape */
	assert_true(fd >= 0);

	m.ops_created = 2;
	assert_int_equal(metrics_write(fx->path, &m), 0);
	assert_int_equal(stat(fx->path, &b), 0);
	assert_true(a.st_ino != b.st_ino);           /* replaced by rename */
	assert_int_equal(b.st_mode & 07777, 0644);
	assert_int_equal(access(fx->tmp, F_OK), -1); /* no temporary left */
	assert_int_equal(errno, ENOENT);

	/* the old reader still sees the complete old file */
	n = read(fd, buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "\ngracefs_ops_created_total 1\n"));
	assert_non_null(strstr(buf, "\ngracefs_clock_skew_seconds 0\n"));
	close(fd);
	parse_file(fx->path, &ps);
	assert_string_equal(value(&ps, "gracefs_ops_created_total", NULL), "2");
	parsed_free(&ps);
	umask(old);
}

static void test_stale_tmp(void **state)
{
	struct fx *fx = *state;
	struct metrics m = { .ops_purged = 9 };
	char victim[160], buf[16] = "";
	struct parsed ps;
	int fd;

	/* a leftover regular .tmp from a crash */
	fd = open(fx->tmp, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "garbage", 7), 7);
	close(fd);
	assert_int_equal(metrics_write(fx->path, &m), 0);
	parse_file(fx->path, &ps);
	assert_string_equal(value(&ps, "gracefs_ops_purged_total", NULL), "9");
	parsed_free(&ps);

	/* a symlink planted as .tmp is removed, never followed */
	snprintf(victim, sizeof(victim), "%s/victim", fx->dir);
	fd = open(victim, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "keep", 4), 4);
	close(fd);
	assert_int_equal(symlink(victim, fx->tmp), 0);
	assert_int_equal(metrics_write(fx->path, &m), 0);
	fd = open(victim, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 4);
	close(fd);
	assert_string_equal(buf, "keep");
	assert_int_equal(access(fx->tmp, F_OK), -1);
}

static void test_errors(void **state)
{
	struct fx *fx = *state;
	struct metrics m = { .ops_created = 1 };
	struct metrics bad = { .nsites = 1, .sites = NULL };
	char path[PATH_MAX + 16], sub[160];
	struct parsed ps;

	assert_int_equal(metrics_write(NULL, &m), -EINVAL);
	assert_int_equal(metrics_write(fx->path, NULL), -EINVAL);
	assert_int_equal(metrics_write("", &m), -EINVAL);
	assert_int_equal(metrics_write(fx->path, &bad), -EINVAL);

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[PATH_MAX - 2] = '\0';        /* fits, but not with ".tmp" */
	assert_int_equal(metrics_write(path, &m), -ENAMETOOLONG);

	snprintf(path, sizeof(path), "%s/missing/gracefs.prom", fx->dir);
	assert_int_equal(metrics_write(path, &m), -ENOENT);

	/* rename fails (target is a non-empty directory): old target intact,
	 * temporary removed */
	snprintf(sub, sizeof(sub), "%s/inner", fx->path);
	assert_int_equal(mkdir(fx->path, 0755), 0);
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_int_equal(metrics_write(fx->path, &m), -EISDIR);
	assert_int_equal(access(sub, F_OK), 0);
	assert_int_equal(access(fx->tmp, F_OK), -1);
	assert_int_equal(rmdir(sub), 0);
	assert_int_equal(rmdir(fx->path), 0);

	/* and then it works */
	assert_int_equal(metrics_write(fx->path, &m), 0);
	parse_file(fx->path, &ps);
	assert_string_equal(value(&ps, "gracefs_ops_created_total", NULL), "1");
	parsed_free(&ps);
}

static void test_many_sites(void **state)
{
	struct fx *fx = *state;
	enum { N = 5000 };
	struct metrics_site *sites = calloc(N, sizeof(*sites));
	struct metrics m = { .nsites = N };
	struct parsed ps;
	char name[32];

	assert_non_null(sites);
	m.sites = sites;
	for (size_t i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "site-%05zu", i);
		site_set(&sites[i], name, i * 4096, i, 1, 1795784712 + (int64_t)i, 0);
	}
	assert_int_equal(metrics_write(fx->path, &m), 0);
	parse_file(fx->path, &ps);
	assert_int_equal(ps.nsamples, 4 * N + SCALARS);
	assert_string_equal(value(&ps, "gracefs_trash_bytes", "site-04999"), "20475904");
	assert_string_equal(value(&ps, "gracefs_trash_oldest_timestamp_seconds", "site-00007"),
			    "1795784719");
	parsed_free(&ps);
	free(sites);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_all_families, setup, teardown),
		cmocka_unit_test_setup_teardown(test_space, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alert_inputs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_passthrough, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_sites, setup, teardown),
		cmocka_unit_test_setup_teardown(test_label_escaping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_utf8, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_name_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic_replace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_tmp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_sites, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
