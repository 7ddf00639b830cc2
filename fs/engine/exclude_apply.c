/*
 * exclusions — cached site patterns, direct removal and its accounting
 * (see exclude_apply.h).
 * Threading: x->lock guards the cache, the groups and the totals.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/exclude_glob.h"
#include "engine/exclude_apply.h"
#include "engine/sitepolicy.h"
#include "lib/sys.h"

#define BUCKETS 64
#define MAX_GROUPS 256   /* open groups; the oldest is reported to make room */

struct site_entry {
	struct site_entry *next;
	char site[NAME_MAX + 1];
	struct exclude_set set;
};

struct group {
	struct group *next;
	struct exclusions_group g;
};

struct exclusions {
	struct exclusions_conf c;
	pthread_mutex_t lock;
	struct site_entry *bucket[BUCKETS];
	struct group *groups;
	unsigned ngroups;
	struct exclusions_totals totals;
};

static unsigned hash(const char *s)
{
	unsigned h = 5381;

	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h % BUCKETS;
}

/* The site's entry, loaded on first use.  Under x->lock. */
static const struct site_entry *site_get(struct exclusions *x, const char *site)
{
	unsigned b = hash(site);
	struct site_entry *e;
	char list[EXCLUDE_LIST_MAX + 2], msg[256];

	for (e = x->bucket[b]; e; e = e->next)
		if (!strcmp(e->site, site))
			return e;
	if (!(e = calloc(1, sizeof(*e))))
		return NULL;
	snprintf(e->site, sizeof(e->site), "%s", site);
	/* a list that cannot be read or parsed (set behind gracectl's back)
	 * excludes nothing: the safe direction is the trash */
	if (sitepolicy_get_exclude(x->c.backing_fd, site, list, sizeof(list)) < 0 ||
	    exclude_parse(list, &e->set, msg, sizeof(msg)) < 0)
		memset(&e->set, 0, sizeof(e->set));
	e->next = x->bucket[b];
	x->bucket[b] = e;
	return e;
}

/* "a/b/name": the site-relative path of loc's entry. 0 or -ENAMETOOLONG. */
static int rel_of(const struct trash_loc *loc, char *buf, size_t cap)
{
	size_t off = 0;

	for (unsigned i = 0; loc->rel && i <= loc->rel->n; i++) {
		const char *c = i < loc->rel->n ? loc->rel->comp[i] : loc->name;
		size_t n = strlen(c);

		if (off + n + 2 > cap)
			return -ENAMETOOLONG;
		memcpy(buf + off, c, n);
		off += n;
		buf[off++] = '/';
	}
	if (!off)
		return -EINVAL;
	buf[off - 1] = '\0';
	return 0;
}

static void report(struct exclusions *x, struct group *g)
{
	if (x->c.on_group)
		x->c.on_group(x->c.cb_arg, &g->g);
	free(g);
}

/* Count one removal in its group (created as needed); a group pushed out
 * by the bound is returned for reporting outside the lock.  Under x->lock. */
static struct group *count(struct exclusions *x, const struct caller *who, const char *site,
			   const char *pat, uint64_t bytes)
{
	struct group *g, **pp, *evicted = NULL;
	int64_t now = sys.wall_ns();

	x->totals.items++;
	x->totals.bytes += bytes;
	for (g = x->groups; g; g = g->next)
		if (g->g.pid == who->pid && g->g.pid_start == who->pid_start &&
		    g->g.uid == who->uid && !strcmp(g->g.site, site))
			break;
	if (!g) {
		if (x->ngroups >= MAX_GROUPS) {   /* the least recently used one */
			for (pp = &x->groups; (*pp)->next; pp = &(*pp)->next)
				;
			evicted = *pp;
			*pp = NULL;
			x->ngroups--;
		}
		if (!(g = calloc(1, sizeof(*g))))
			return evicted;
		snprintf(g->g.site, sizeof(g->g.site), "%s", site);
		g->g.uid = who->uid;
		g->g.pid = who->pid;
		g->g.pid_start = who->pid_start;
		snprintf(g->g.cmdline, sizeof(g->g.cmdline), "%s", who->cmdline);
		snprintf(g->g.pattern, sizeof(g->g.pattern), "%s", pat);
		g->g.first_ns = now;
		x->ngroups++;
	} else {   /* unlink to move it to the front */
		for (pp = &x->groups; *pp != g; pp = &(*pp)->next)
			;
		*pp = g->next;
	}
	g->next = x->groups;
	x->groups = g;
	g->g.items++;
	g->g.bytes += bytes;
	g->g.last_ns = now;
	return evicted;
}

/* Does loc's entry match its site's patterns?  The pattern into pat. */
static bool excluded(struct exclusions *x, const struct trash_loc *loc, char *pat, size_t cap)
{
	char rel[RELPATH_MAX_BYTES + NAME_MAX + 2];
	const struct site_entry *e;
	const char *m = NULL;

	if (!x || !loc->site || !*loc->site || rel_of(loc, rel, sizeof(rel)) < 0)
		return false;   /* a whole site, or a path too long to match: the trash */
	pthread_mutex_lock(&x->lock);
	if ((e = site_get(x, loc->site)) && (m = exclude_match(&e->set, rel)))
		snprintf(pat, cap, "%s", m);
	pthread_mutex_unlock(&x->lock);
	return m != NULL;
}

static void counted(struct exclusions *x, const struct caller *who, const char *site,
		    const char *pat, const struct stat *st)
{
	struct group *out;

	pthread_mutex_lock(&x->lock);
	out = count(x, who, site, pat, (uint64_t)st->st_blocks * 512);
	pthread_mutex_unlock(&x->lock);
	if (out)
		report(x, out);
}

/* An exclusion removes only what the deleter owns (root: everything).
 * Otherwise anyone who can rename in a shared directory could destroy
 * another tenant's file outright: rename it to `*.tmp`, then rm (issue
 * 21).  Everything else goes to trash as usual. */
static bool owns(const struct caller *who, const struct stat *st)
{
	return who->uid == 0 || st->st_uid == who->uid;
}

int exclusions_remove(struct exclusions *x, const struct caller *who,
		      const struct trash_loc *loc, bool want_dir, const struct stat *st,
		      bool *removed)
{
	char pat[EXCLUDE_LIST_MAX + 1];

	*removed = false;
	if (!owns(who, st) || !excluded(x, loc, pat, sizeof(pat)))
		return 0;
	if (S_ISDIR(st->st_mode) != want_dir)
		return want_dir ? -ENOTDIR : -EISDIR;
	/* a directory only when empty: never a recursive removal */
	if (unlinkat(loc->dirfd, loc->name, want_dir ? AT_REMOVEDIR : 0) < 0)
		return -errno;
	*removed = true;
	counted(x, who, loc->site, pat, st);
	return 0;
}

int exclusions_rename(struct exclusions *x, const struct caller *who,
		      const struct trash_loc *src, const struct trash_loc *dst,
		      const struct stat *dst_st, bool *done)
{
	char pat[EXCLUDE_LIST_MAX + 1];

	*done = false;
	if (!owns(who, dst_st) || !excluded(x, dst, pat, sizeof(pat)))
		return 0;
	/* the kernel's rules: a directory only over an empty one */
	if (sys.renameat2(src->dirfd, src->name, dst->dirfd, dst->name, 0) < 0)
		return -errno;
	*done = true;
	counted(x, who, dst->site, pat, dst_st);
	return 0;
}

void exclusions_tick(struct exclusions *x)
{
	struct group *idle = NULL, **pp;
	int64_t now = sys.wall_ns();

	if (!x)
		return;
	pthread_mutex_lock(&x->lock);
	for (pp = &x->groups; *pp; ) {
		struct group *g = *pp;

		if (now - g->g.last_ns >= x->c.gap_ns || now < g->g.last_ns) {
			*pp = g->next;
			g->next = idle;
			idle = g;
			x->ngroups--;
		} else {
			pp = &g->next;
		}
	}
	pthread_mutex_unlock(&x->lock);
	while (idle) {
		struct group *g = idle;

		idle = g->next;
		report(x, g);
	}
}

void exclusions_invalidate(struct exclusions *x, const char *site)
{
	if (!x)
		return;
	pthread_mutex_lock(&x->lock);
	for (unsigned b = 0; b < BUCKETS; b++) {
		for (struct site_entry **pp = &x->bucket[b]; *pp; ) {
			struct site_entry *e = *pp;

			if (!site || !strcmp(e->site, site)) {
				*pp = e->next;
				free(e);
			} else {
				pp = &e->next;
			}
		}
	}
	pthread_mutex_unlock(&x->lock);
}

void exclusions_get_totals(struct exclusions *x, struct exclusions_totals *t)
{
	memset(t, 0, sizeof(*t));
	if (!x)
		return;
	pthread_mutex_lock(&x->lock);
	*t = x->totals;
	pthread_mutex_unlock(&x->lock);
}

int exclusions_new(struct exclusions **out, const struct exclusions_conf *conf)
{
	struct exclusions *x = calloc(1, sizeof(*x));

	if (!x)
		return -ENOMEM;
	x->c = *conf;
	if (x->c.gap_ns <= 0)
		x->c.gap_ns = 10 * 1000000000LL;
	pthread_mutex_init(&x->lock, NULL);
	*out = x;
	return 0;
}

void exclusions_free(struct exclusions *x)
{
	if (!x)
		return;
	while (x->groups) {
		struct group *g = x->groups;

		x->groups = g->next;
		report(x, g);
	}
	exclusions_invalidate(x, NULL);
	pthread_mutex_destroy(&x->lock);
	free(x);
}
