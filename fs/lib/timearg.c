/*
 * timearg — command-line times (see timearg.h).  Pure; no state.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/timearg.h"
#include "lib/util.h"

/* n digits at *p into *v; advances *p.  false when they are not there. */
static bool digits(const char **p, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++, (*p)++) {
		if (!isdigit((unsigned char)**p))
			return false;
		*v = *v * 10 + (**p - '0');
	}
	return true;
}

static int64_t days_from_civil(int y, int m, int d)
{
	/* Howard Hinnant's algorithm: days since 1970-01-01, proleptic Gregorian */
	int64_t yy = y - (m <= 2), era = (yy >= 0 ? yy : yy - 399) / 400;
	int64_t yoe = yy - era * 400, doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

static bool valid_date(int y, int m, int d)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100) || y % 400 == 0;

	return y >= 1970 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 &&
	       d <= mdays[m - 1] + (m == 2 && leap);
}

/* YYYY-MM-DD[(T| )HH:MM[:SS[.frac]]][Z|±HH:MM|±HHMM] */
static int parse_iso(const char *p, int64_t *out)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, oh, om;
	bool has_time = false, zone = false;
	int64_t off = 0;

	if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
	    !digits(&p, 2, &d) || !valid_date(y, mo, d))
		return -EINVAL;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		has_time = true;
		if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
			return -EINVAL;
		if (*p == ':') {
			p++;
			if (!digits(&p, 2, &sec))
				return -EINVAL;
			if (*p == '.' || *p == ',') {
				if (!isdigit((unsigned char)*++p))
					return -EINVAL;
				while (isdigit((unsigned char)*p))
					p++;
			}
		}
		if (h > 23 || mi > 59 || sec > 60)
			return -EINVAL;
		if (*p == 'Z' || *p == 'z') {
			p++;
			zone = true;
		} else if (*p == '+' || *p == '-') {
			int sign = *p++ == '-' ? -1 : 1;

			if (!digits(&p, 2, &oh))
				return -EINVAL;
			if (*p == ':')
				p++;
			if (!digits(&p, 2, &om) || oh > 23 || om > 59)
				return -EINVAL;
			off = sign * (oh * 3600 + om * 60);
			zone = true;
		}
	}
	if (*p)
		return -EINVAL;
	if (zone) {
		*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + (sec > 59 ? 59 : sec)
		       - off;
		return 0;
	}
	/* no zone: local time, as date(1) reads it */
	{
		struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
				 .tm_hour = has_time ? h : 0, .tm_min = mi,
				 .tm_sec = sec > 59 ? 59 : sec, .tm_isdst = -1 };
		time_t t = mktime(&tm);

		if (t == (time_t)-1)
			return -EINVAL;
		*out = (int64_t)t;
	}
	return 0;
}

int timearg_parse(const char *s, int64_t now_s, int64_t *out_s)
{
	int64_t v;

	if (!s || !*s)
		return -EINVAL;
	if (!strcmp(s, "now")) {
		*out_s = now_s;
		return 0;
	}
	if (s[0] == '@') {
		char *end;

		if (!isdigit((unsigned char)s[1]))
			return -EINVAL;
		errno = 0;
		v = strtoll(s + 1, &end, 10);
		if (*end || errno)
			return -EINVAL;
		*out_s = v;
		return 0;
	}
	if (strlen(s) == 16 && s[8] == 'T' && util_parse_utc(s, &v) == 0) {
		*out_s = v;
		return 0;
	}
	if (isdigit((unsigned char)s[0]) && strlen(s) >= 10 && s[4] == '-')
		return parse_iso(s, out_s);
	/* a duration ago; a bare number is refused, like everywhere */
	if (s[0] == '-')
		s++;
	if (!isdigit((unsigned char)s[0]) || isdigit((unsigned char)s[strlen(s) - 1]) ||
	    util_parse_duration(s, &v) < 0)
		return -EINVAL;
	*out_s = now_s - v;
	return 0;
}
