/*
 * sitedel — counts site-level deletions per site: whole sites (`rm -rf
 * MOUNT/SITE`) and site-level trees (a directory directly under a site
 * root, `rm -rf MOUNT/SITE/DIR`).  These are what a script gone wrong
 * removes site after site; the metrics export them per site and the alert
 * rules (scripts/prometheus/gracefs.rules.yml) watch their rate.
 *
 * Cardinality is bounded: at most SITEDEL_MAX_SITES distinct site names get
 * their own entry for the life of the daemon; deletions in further sites are
 * counted under the name SITEDEL_OTHER ("/other", which no site can be
 * called: a site name never holds a '/').
 *
 * Threading: one mutex; every call may come from any thread.
 */
#ifndef GRACEFS_SITEDEL_H
#define GRACEFS_SITEDEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SITEDEL_MAX_SITES 4096
#define SITEDEL_OTHER "/other"

struct sitedel_count {
	char site[256];       /* NUL-terminated site name, or SITEDEL_OTHER */
	uint64_t whole;       /* the site itself deleted */
	uint64_t trees;       /* directories directly under it deleted */
};

struct sitedel;

/* 0, -ENOMEM. */
int sitedel_new(struct sitedel **out);
void sitedel_free(struct sitedel *sd);   /* NULL ok */

/* One site-level deletion in `site` (non-empty, at most 255 bytes; longer
 * or empty names are ignored): whole true for the site itself, false for a
 * directory directly under it.  Never fails: when no entry can be made the
 * deletion is counted under SITEDEL_OTHER.  NULL sd: nothing. */
void sitedel_note(struct sitedel *sd, const char *site, bool whole);

/* Make site's entry (both counts 0) if it has none yet, so its series
 * exist before the first deletion: Prometheus's increase() cannot see a
 * counter's first sample, only a rise after it.  Same name rules and
 * bound as sitedel_note; never counts anything under SITEDEL_OTHER. */
void sitedel_touch(struct sitedel *sd, const char *site);

/* A copy of every entry, in the order the sites were first seen (the
 * SITEDEL_OTHER entry, once used, last).  *out is malloc()ed (NULL when
 * empty), the caller frees it.  0 or -ENOMEM. */
int sitedel_snapshot(struct sitedel *sd, struct sitedel_count **out, size_t *n);

#endif
