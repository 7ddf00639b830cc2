/*
 * util — durations, UTC timestamps and op names (see util.h).
 */
#include <ctype.h>
#include <inttypes.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/util.h"

#define MAX_DURATION_S (100LL * 366 * 86400)

static const struct unit {
	char c;
	int64_t s;
} units[] = { {'w', 604800}, {'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1} };

static int64_t unit_seconds(char c)
{
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (units[i].c == c)
			return units[i].s;
	return 0;
}

int util_parse_duration(const char *s, int64_t *out_s)
{
	int64_t total = 0;

	if (!s || !*s)
		return -EINVAL;
	while (*s) {
		char *end;
		int64_t mult;

		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		errno = 0;
		long long v = strtoll(s, &end, 10);
		if (errno || v > MAX_DURATION_S)
			return -ERANGE;
		/* a unit is required: a bare "30" (seconds? days?) in an
		 * fstab line must not make a 30-second purger */
		mult = unit_seconds(*end);
		if (!mult)
			return -EINVAL;
		end++;
		if (v > (MAX_DURATION_S - total) / mult)
			return -ERANGE;
		total += v * mult;
		s = end;
	}
	if (total <= 0)
		return -EINVAL;
	*out_s = total;
	return 0;
}

void util_format_duration(int64_t s, char *buf, size_t cap)
{
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (s % units[i].s == 0) {
			snprintf(buf, cap, "%lld%c", (long long)(s / units[i].s), units[i].c);
			return;
		}
	}
}

void util_format_utc(int64_t wall_s, bool compact, char *buf, size_t cap)
{
	time_t t = (time_t)wall_s;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, cap, compact ? "%Y%m%dT%H%M%SZ" : "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int util_parse_utc(const char *s, int64_t *out_s)
{
	static const char *const fmts[] = {
		"%Y%m%dT%H%M%SZ", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d"
	};

	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		struct tm tm = {0};
		const char *end = strptime(s, fmts[i], &tm);

		if (end && !*end) {
			*out_s = (int64_t)timegm(&tm);
			return 0;
		}
	}
	return -EINVAL;
}

void util_sanitize_cmd(const char *argv0, char *out, size_t cap)
{
	const char *base = argv0 ? strrchr(argv0, '/') : NULL;
	size_t n = 0;

	base = base ? base + 1 : (argv0 ? argv0 : "");
	for (; *base && n < UTIL_CMD_MAX && n + 1 < cap; base++) {
		unsigned char c = (unsigned char)*base;

		out[n++] = (isalnum(c) && c < 0x80) || strchr("._+-", c) ? (char)c : '_';
	}
	out[n] = '\0';
	if (!n)
		snprintf(out, cap, "unknown");
}

int util_op_name(int64_t wall_s, const char *cmd, uint32_t pid, unsigned n,
		 char *buf, size_t cap)
{
	char ts[24];
	int len;

	util_format_utc(wall_s, true, ts, sizeof(ts));
	if (n > 1)
		len = snprintf(buf, cap, "%s-%s-%u.%u", ts, cmd, pid, n);
	else
		len = snprintf(buf, cap, "%s-%s-%u", ts, cmd, pid);
	return len < 0 || (size_t)len >= cap ? -ENAMETOOLONG : 0;
}

bool util_parse_op_name(const char *name, int64_t *wall_s, uint32_t *pid)
{
	char ts[17];
	const char *dash, *p;
	char *end;

	if (strlen(name) < 20 || name[16] != '-')
		return false;
	memcpy(ts, name, 16);
	ts[16] = '\0';
	if (util_parse_utc(ts, wall_s) < 0 || ts[8] != 'T')
		return false;
	dash = strrchr(name + 17, '-');
	if (!dash || dash == name + 17)
		return false;
	for (p = name + 17; p < dash; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._+-", *p))
			return false;
	if (!isdigit((unsigned char)dash[1]))
		return false;   /* digits only: no sign, no blank */
	errno = 0;
	unsigned long v = strtoul(dash + 1, &end, 10);
	if (errno || v > UINT32_MAX)
		return false;
	if (*end == '.') {   /* collision suffix */
		char *end2;
		if (!isdigit((unsigned char)end[1]))
			return false;
		unsigned long k = strtoul(end + 1, &end2, 10);
		if (k < 2 || k > 100000)
			return false;
		end = end2;
	}
	if (*end)
		return false;
	*pid = (uint32_t)v;
	return true;
}

static const char size_units[] = "KMGTP";

int util_parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s, *u;
	int shift = 0;

	if (!s || *p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (uint64_t)INT64_MAX / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (*p && (u = strchr(size_units, *p & ~0x20))) {
		shift = 10 * (int)(u - size_units + 1);
		p++;
		if (p[0] == 'i' && p[1] == 'B')
			p += 2;
		else if (*p == 'B')
			p++;
	} else if (*p == 'B') {
		p++;
	}
	if (*p)
		return -EINVAL;
	if (v > ((uint64_t)INT64_MAX >> shift))
		return -ERANGE;
	*out = v << shift;
	return 0;
}

void util_format_size(uint64_t bytes, char *buf, size_t cap)
{
	int u = 0;

	while (u < 5 && bytes && bytes % 1024 == 0) {
		bytes /= 1024;
		u++;
	}
	if (u)
		snprintf(buf, cap, "%" PRIu64 "%c", bytes, size_units[u - 1]);
	else
		snprintf(buf, cap, "%" PRIu64, bytes);
}
