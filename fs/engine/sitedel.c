/*
 * sitedel — per-site counters of site-level deletions (see sitedel.h).
 * A flat array searched linearly: site-level deletions are rare next to
 * file operations (one per site or per top-level directory), and the array
 * never holds more than SITEDEL_MAX_SITES + 1 entries.
 * Threading: `lock` guards everything.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "engine/sitedel.h"

struct sitedel {
	pthread_mutex_t lock;
	size_t n, cap;              /* named entries (without the overflow one) */
	struct sitedel_count *v;
	struct sitedel_count other; /* SITEDEL_OTHER */
};

int sitedel_new(struct sitedel **out)
{
	struct sitedel *sd = calloc(1, sizeof(*sd));

	if (!sd)
		return -ENOMEM;
	pthread_mutex_init(&sd->lock, NULL);
	strcpy(sd->other.site, SITEDEL_OTHER);
	*out = sd;
	return 0;
}

void sitedel_free(struct sitedel *sd)
{
	if (!sd)
		return;
	pthread_mutex_destroy(&sd->lock);
	free(sd->v);
	free(sd);
}

/* The entry of site, made if there is room; the overflow entry otherwise. */
static struct sitedel_count *entry_of(struct sitedel *sd, const char *site)
{
	struct sitedel_count *e;

	for (size_t i = 0; i < sd->n; i++)
		if (!strcmp(sd->v[i].site, site))
			return &sd->v[i];
	if (sd->n >= SITEDEL_MAX_SITES)
		return &sd->other;
	if (sd->n == sd->cap) {
		size_t cap = sd->cap ? 2 * sd->cap : 32;

		if (!(e = realloc(sd->v, cap * sizeof(*e))))
			return &sd->other;
		sd->v = e;
		sd->cap = cap;
	}
	e = &sd->v[sd->n++];
	memset(e, 0, sizeof(*e));
	strcpy(e->site, site);
	return e;
}

static bool site_name_ok(const char *site)
{
	size_t len;

	return site && (len = strnlen(site, sizeof(((struct sitedel_count *)0)->site))) > 0 &&
	       len < sizeof(((struct sitedel_count *)0)->site);
}

void sitedel_touch(struct sitedel *sd, const char *site)
{
	if (!sd || !site_name_ok(site))
		return;
	pthread_mutex_lock(&sd->lock);
	entry_of(sd, site);
	pthread_mutex_unlock(&sd->lock);
}

void sitedel_note(struct sitedel *sd, const char *site, bool whole)
{
	struct sitedel_count *e;

	if (!sd || !site_name_ok(site))
		return;
	pthread_mutex_lock(&sd->lock);
	e = entry_of(sd, site);
	if (whole)
		e->whole++;
	else
		e->trees++;
	pthread_mutex_unlock(&sd->lock);
}

int sitedel_snapshot(struct sitedel *sd, struct sitedel_count **out, size_t *n)
{
	struct sitedel_count *v = NULL;
	size_t k;

	*out = NULL;
	*n = 0;
	if (!sd)
		return 0;
	pthread_mutex_lock(&sd->lock);
	k = sd->n + (sd->other.whole || sd->other.trees);
	if (k && !(v = malloc(k * sizeof(*v)))) {
		pthread_mutex_unlock(&sd->lock);
		return -ENOMEM;
	}
	if (sd->n)
		memcpy(v, sd->v, sd->n * sizeof(*v));
	if (k > sd->n)
		v[sd->n] = sd->other;
	pthread_mutex_unlock(&sd->lock);
	*out = v;
	*n = k;
	return 0;
}
