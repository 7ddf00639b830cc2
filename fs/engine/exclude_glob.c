/*
 * exclude — exclusion patterns of a site (see exclude.h).  Matching is
 * fnmatch(3) per path component, with "**" matching any run of
 * components; the classic single-backtrack wildcard walk, over components
 * instead of characters, keeps it O(pattern * path) for any number of "**".
 */
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "engine/exclude_glob.h"

/* Length of the component at s (up to '/' or the end). */
static size_t comp_len(const char *s)
{
	return strcspn(s, "/");
}

/* The component after the one at s (the terminating NUL at the last). */
static const char *comp_next(const char *s)
{
	s += comp_len(s);
	return *s == '/' ? s + 1 : s;
}

static bool is_globstar(const char *p)
{
	return p[0] == '*' && p[1] == '*' && (p[2] == '/' || p[2] == '\0');
}

static bool comp_match(const char *p, const char *s)
{
	char pb[EXCLUDE_LIST_MAX + 1], sb[PATH_MAX];
	size_t pl = comp_len(p), sl = comp_len(s);

	if (pl >= sizeof(pb) || sl >= sizeof(sb))
		return false;
	memcpy(pb, p, pl);
	pb[pl] = '\0';
	memcpy(sb, s, sl);
	sb[sl] = '\0';
	return fnmatch(pb, sb, 0) == 0;
}

/* Whole-path match of component lists; "**" matches zero or more. */
static bool match_anchored(const char *p, const char *s)
{
	const char *star_p = NULL, *star_s = NULL;

	for (;;) {
		if (*p && is_globstar(p)) {
			star_p = p = comp_next(p);
			star_s = s;
			continue;
		}
		if (!*p && !*s)
			return true;
		if (*p && *s && comp_match(p, s)) {
			p = comp_next(p);
			s = comp_next(s);
			continue;
		}
		if (star_p && *star_s) {   /* let the last "**" take one more component */
			s = star_s = comp_next(star_s);
			p = star_p;
			continue;
		}
		return false;
	}
}

bool exclude_match_one(const char *pat, const char *relpath)
{
	const char *base;

	if (!*relpath)
		return false;   /* the site itself is never excluded */
	if (!strchr(pat, '/')) {   /* the last component, at any depth */
		base = strrchr(relpath, '/');
		return comp_match(pat, base ? base + 1 : relpath);
	}
	if (*pat == '/')
		pat++;
	return match_anchored(pat, relpath);
}

const char *exclude_match(const struct exclude_set *set, const char *relpath)
{
	for (unsigned i = 0; set && i < set->n; i++)
		if (exclude_match_one(set->pat[i], relpath))
			return set->pat[i];
	return NULL;
}

/* Would pat match every item?  Every component "*" or "**", with a "**"
 * among them (or the bare unanchored "*"). */
static bool matches_everything(const char *pat)
{
	bool star2 = false;

	if (!strcmp(pat, "*"))
		return true;
	if (*pat == '/')
		pat++;
	for (const char *c = pat; *c; c = comp_next(c)) {
		size_t n = comp_len(c);

		if (n == 2 && !strncmp(c, "**", 2))
			star2 = true;
		else if (n != 1 || *c != '*')
			return false;
	}
	return star2;
}

static int check_pattern(const char *pat, char *msg, size_t cap)
{
	const char *body = *pat == '/' ? pat + 1 : pat;

	if (!*body) {
		snprintf(msg, cap, "empty exclude pattern");
		return -EINVAL;
	}
	for (const unsigned char *c = (const unsigned char *)pat; *c; c++) {
		if (*c < 0x20 || *c == 0x7f) {
			snprintf(msg, cap, "control character in exclude pattern '%s'", pat);
			return -EINVAL;
		}
	}
	if (body[strlen(body) - 1] == '/') {
		snprintf(msg, cap, "exclude pattern '%s' ends in '/' (write DIR/** for what is "
			 "inside a directory)", pat);
		return -EINVAL;
	}
	for (const char *c = body; *c; c = comp_next(c)) {
		size_t n = comp_len(c);

		if (n == 0 || (n == 1 && *c == '.') || (n == 2 && !strncmp(c, "..", 2))) {
			snprintf(msg, cap, "exclude pattern '%s' has an empty, '.' or '..' component",
				 pat);
			return -EINVAL;
		}
		if (!is_globstar(c) && memmem(c, n, "**", 2)) {
			snprintf(msg, cap, "exclude pattern '%s': '**' must be a whole path component",
				 pat);
			return -EINVAL;
		}
	}
	if (matches_everything(pat)) {
		snprintf(msg, cap, "exclude pattern '%s' matches every item: that would switch the "
			 "trash off for the whole site", pat);
		return -EINVAL;
	}
	return 0;
}

int exclude_parse(const char *list, struct exclude_set *set, char *msg, size_t cap)
{
	size_t len = strlen(list);
	char *p;

	memset(set, 0, sizeof(*set));
	if (!*list || !strcmp(list, "none"))
		return 0;
	if (len > EXCLUDE_LIST_MAX) {
		snprintf(msg, cap, "exclude list too long (%zu bytes, at most %d)", len,
			 EXCLUDE_LIST_MAX);
		return -EINVAL;
	}
	memcpy(set->buf, list, len + 1);
	for (p = set->buf;;) {
		char *comma = strchr(p, ',');
		int r;

		if (comma)
			*comma = '\0';
		if (set->n == EXCLUDE_MAX) {
			snprintf(msg, cap, "too many exclude patterns (at most %d)", EXCLUDE_MAX);
			goto bad;
		}
		if ((r = check_pattern(p, msg, cap)) < 0)
			goto bad;
		set->pat[set->n++] = p;
		if (!comma)
			return 0;
		p = comma + 1;
	}
bad:
	memset(set, 0, sizeof(*set));
	return -EINVAL;
}

int exclude_format(const struct exclude_set *set, char *buf, size_t cap)
{
	size_t off = 0;

	if (!cap)
		return -ENOBUFS;
	buf[0] = '\0';
	for (unsigned i = 0; i < set->n; i++) {
		int n = snprintf(buf + off, cap - off, "%s%s", i ? "," : "", set->pat[i]);

		if (n < 0 || (size_t)n >= cap - off) {
			buf[0] = '\0';
			return -ENOBUFS;
		}
		off += (size_t)n;
	}
	return 0;
}
