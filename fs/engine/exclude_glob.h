/*
 * exclude_glob (symbols exclude_*) — a site's exclusion patterns: items whose site-relative path
 * matches are deleted directly instead of moved to the trash (caches,
 * session and temp files that would otherwise bury real deletions).
 *
 * A list is GLOB[,GLOB…] (at most EXCLUDE_MAX patterns, EXCLUDE_LIST_MAX
 * bytes in all).  Each GLOB is matched against the path of the item being
 * deleted, relative to its site, '/'-separated, no leading '/':
 *   - a GLOB without '/' matches the item's last component, at any depth
 *     ("*.tmp" matches "x.tmp" and "a/b/x.tmp");
 *   - a GLOB with a '/' is anchored at the site root and matches the whole
 *     path component by component; one leading '/' only anchors
 *     ("/x.tmp" matches "x.tmp" but not "a/x.tmp");
 *   - within a component, fnmatch(3) rules with no flags: '*' and '?' never
 *     cross a '/', '*' matches leading dots too, [...] classes, '\' escapes;
 *   - "**" as a whole component matches zero or more components: "cache"
 *     followed by a "**" component matches "cache", "cache/a" and
 *     "cache/a/b"; "**" inside a longer component is refused.
 * A match never extends to what is below a matched directory: each item is
 * matched on its own path, and a matched directory is removed directly only
 * when it is empty (rmdir), so no non-matching file is ever destroyed.
 *
 * Pure functions, no state, no locking.
 */
#ifndef GRACEFS_EXCLUDE_H
#define GRACEFS_EXCLUDE_H

#include <stdbool.h>
#include <stddef.h>

#define EXCLUDE_MAX      32     /* patterns per site */
#define EXCLUDE_LIST_MAX 1024   /* bytes of the comma-separated list */

struct exclude_set {
	unsigned n;
	const char *pat[EXCLUDE_MAX];   /* point into buf; NUL-terminated */
	char buf[EXCLUDE_LIST_MAX + 1];
};

/* Parse "GLOB[,GLOB…]" ("" or "none": no patterns) into *set.  0, or
 * -EINVAL with a one-line reason in msg: empty pattern (",," or a trailing
 * ','), too many or too long, a control character, an empty, "." or ".."
 * component, a trailing '/', "**" inside a component, or a pattern that
 * would match every item ("*", "**", or only "*" and "**" components):
 * that is not an exclusion but switching the trash off. */
int exclude_parse(const char *list, struct exclude_set *set, char *msg, size_t cap);

/* Does one pattern (as accepted by exclude_parse) match relpath? */
bool exclude_match_one(const char *pat, const char *relpath);

/* Does any pattern of set match relpath?  Returns the pattern, or NULL. */
const char *exclude_match(const struct exclude_set *set, const char *relpath);

/* The canonical list "a,b,c" ("" when empty) into buf.  0 or -ENOBUFS. */
int exclude_format(const struct exclude_set *set, char *buf, size_t cap);

#endif
