/*
 * brake — the mass-deletion brake's counts and braked set (see brake.h).
 * Runs being counted live in a flat array (at most BRAKE_RUNS_MAX), each
 * with the sites it removed something site-level in, as 64-bit name hashes
 * with the time of the latest removal (at most `limit`): site-level
 * removals are rare next to file operations, so linear searches are fine.
 * Threading: `lock` guards everything; nothing is called out under it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/brake.h"

#define NS 1000000000LL

struct seen {
	uint64_t site;   /* FNV-1a of the site name */
	int64_t ns;      /* latest site-level removal there */
};

struct counted {
	char run[UTIL_RUN_MAX];
	int64_t last_ns;
	unsigned n;
	struct seen *sites;   /* limit entries */
};

struct brake {
	pthread_mutex_t lock;
	struct brake_conf conf;
	struct counted runs[BRAKE_RUNS_MAX];
	unsigned nruns;
	char (*braked)[UTIL_RUN_MAX];   /* BRAKE_BRAKED_MAX entries */
	size_t nbraked;
	uint64_t trips;
};

static uint64_t fnv(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* A run ID as procinfo makes them: printable, no '/' or blank, not empty. */
static bool run_ok(const char *run)
{
	size_t n = run ? strnlen(run, UTIL_RUN_MAX) : 0;

	if (n == 0 || n >= UTIL_RUN_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (run[i] <= ' ' || run[i] > '~' || run[i] == '/')
			return false;
	return true;
}

int brake_parse(const char *s, unsigned *limit, int64_t *window_s)
{
	char *end;
	unsigned long n;

	if (!s)
		return -EINVAL;
	if (!strcmp(s, "off")) {
		*limit = 0;
		*window_s = 0;
		return 0;
	}
	if (*s < '1' || *s > '9')
		return -EINVAL;
	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno || *end != '/' || n > BRAKE_LIMIT_MAX || util_parse_duration(end + 1, window_s) < 0)
		return -EINVAL;
	*limit = (unsigned)n;
	return 0;
}

static ssize_t find_braked(const struct brake *b, const char *run)
{
	for (size_t i = 0; i < b->nbraked; i++)
		if (!strcmp(b->braked[i], run))
			return (ssize_t)i;
	return -1;
}

static bool add_braked(struct brake *b, const char *run)
{
	if (find_braked(b, run) >= 0)
		return true;
	if (b->nbraked >= BRAKE_BRAKED_MAX)
		return false;
	snprintf(b->braked[b->nbraked++], UTIL_RUN_MAX, "%s", run);
	return true;
}

/* Each run ID of state_fd/BRAKE_FILE (one a line; others skipped) to fn,
 * until it returns nonzero.  0 (no file: nothing), fn's value, or -errno. */
static int read_kept(int state_fd, int (*fn)(void *arg, const char *run), void *arg)
{
	char line[UTIL_RUN_MAX + 2];
	FILE *f;
	int fd, r = 0;

	if ((fd = openat(state_fd, BRAKE_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!(f = fdopen(fd, "r"))) {
		close(fd);
		return -errno;
	}
	while (!r && fgets(line, sizeof(line), f)) {
		size_t n = strlen(line);

		if (n && line[n - 1] == '\n')
			line[--n] = '\0';
		if (run_ok(line))
			r = fn(arg, line);
	}
	fclose(f);
	return r;
}

static int load_one(void *arg, const char *run)
{
	add_braked(arg, run);
	return 0;
}

static int is_run(void *arg, const char *run)
{
	return !strcmp(arg, run);
}

int brake_kept(int state_fd, const char *run)
{
	return run_ok(run) ? read_kept(state_fd, is_run, (void *)run) : 0;
}

/* Replace state_fd/BRAKE_FILE with the braked set.  Lock held. */
static int save(struct brake *b)
{
	static const char tmp[] = BRAKE_FILE ".tmp";
	FILE *f;
	int fd, r = 0;

	if (b->conf.state_fd < 0)
		return 0;
	fd = openat(b->conf.state_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		    0600);
	if (fd < 0)
		return -errno;
	if (!(f = fdopen(fd, "w"))) {
		r = -errno;
		close(fd);
		goto fail;
	}
	for (size_t i = 0; i < b->nbraked; i++)
		fprintf(f, "%s\n", b->braked[i]);
	if (fflush(f) != 0 || fsync(fileno(f)) < 0)
		r = -errno;
	if (fclose(f) != 0 && !r)
		r = -errno;
	if (!r && renameat(b->conf.state_fd, tmp, b->conf.state_fd, BRAKE_FILE) < 0)
		r = -errno;
	if (!r && fsync(b->conf.state_fd) < 0)
		r = -errno;
	if (!r)
		return 0;
fail:
	unlinkat(b->conf.state_fd, tmp, 0);
	return r;
}

int brake_new(struct brake **out, const struct brake_conf *conf)
{
	struct brake *b;
	int r = 0;

	*out = NULL;
	if (!conf || conf->limit > BRAKE_LIMIT_MAX || (conf->limit && conf->window_ns <= 0))
		return -EINVAL;
	if (!(b = calloc(1, sizeof(*b))) ||
	    !(b->braked = calloc(BRAKE_BRAKED_MAX, sizeof(*b->braked)))) {
		free(b);
		return -ENOMEM;
	}
	pthread_mutex_init(&b->lock, NULL);
	b->conf = *conf;
	if (conf->state_fd >= 0)
		r = read_kept(conf->state_fd, load_one, b);
	*out = b;
	return r;
}

void brake_free(struct brake *b)
{
	if (!b)
		return;
	for (unsigned i = 0; i < b->nruns; i++)
		free(b->runs[i].sites);
	free(b->braked);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

/* run's counts, made if needed: the run idle longest makes room. */
static struct counted *counted_of(struct brake *b, const char *run, int64_t now_ns)
{
	struct counted *c = NULL;

	for (unsigned i = 0; i < b->nruns; i++) {
		if (!strcmp(b->runs[i].run, run))
			return &b->runs[i];
		if (!c || b->runs[i].last_ns < c->last_ns)
			c = &b->runs[i];
	}
	if (b->nruns < BRAKE_RUNS_MAX) {
		c = &b->runs[b->nruns];
		if (!(c->sites = calloc(b->conf.limit, sizeof(*c->sites))))
			return NULL;
		b->nruns++;
	}
	snprintf(c->run, sizeof(c->run), "%s", run);
	c->n = 0;
	c->last_ns = now_ns;
	return c;
}

/* Drop the sites last seen before the window. */
static void expire(struct brake *b, struct counted *c, int64_t now_ns)
{
	unsigned k = 0;

	for (unsigned i = 0; i < c->n; i++)
		if (now_ns - c->sites[i].ns < b->conf.window_ns)
			c->sites[k++] = c->sites[i];
	c->n = k;
}

int brake_note(struct brake *b, const char *run, const char *site, int64_t now_ns,
	       unsigned *sites, int *err)
{
	struct counted *c;
	uint64_t h;
	unsigned i;
	int r = 0;

	if (sites)
		*sites = 0;
	if (err)
		*err = 0;
	if (!b || !run_ok(run) || !site || !*site)
		return 0;
	h = fnv(site);
	pthread_mutex_lock(&b->lock);
	if (!b->conf.limit || !(c = counted_of(b, run, now_ns)))
		goto out;
	c->last_ns = now_ns;
	expire(b, c, now_ns);
	for (i = 0; i < c->n && c->sites[i].site != h; i++)
		;
	if (i < c->n)
		c->sites[i].ns = now_ns;
	else if (c->n < b->conf.limit)
		c->sites[c->n++] = (struct seen){ h, now_ns };
	if (sites)
		*sites = c->n;
	if (c->n < b->conf.limit || find_braked(b, run) >= 0)
		goto out;
	r = 1;
	b->trips++;
	if (!add_braked(b, run)) {
		if (err)
			*err = -ENOSPC;   /* more braked runs than kept: held now, not later */
	} else {
		int e = save(b);

		if (err)
			*err = e;
	}
out:
	pthread_mutex_unlock(&b->lock);
	return r;
}

bool brake_is_braked(struct brake *b, const char *run)
{
	bool r;

	if (!b || !run || !*run)
		return false;
	pthread_mutex_lock(&b->lock);
	r = find_braked(b, run) >= 0;
	pthread_mutex_unlock(&b->lock);
	return r;
}

int brake_release(struct brake *b, const char *run)
{
	ssize_t i;

	if (!b || !run)
		return -ENOENT;
	pthread_mutex_lock(&b->lock);
	if ((i = find_braked(b, run)) >= 0) {
		memmove(b->braked[i], b->braked[i + 1], (b->nbraked - (size_t)i - 1) * UTIL_RUN_MAX);
		b->nbraked--;
	}
	for (unsigned k = 0; k < b->nruns; k++)
		if (!strcmp(b->runs[k].run, run))
			b->runs[k].n = 0;   /* counted again from zero */
	pthread_mutex_unlock(&b->lock);
	return i >= 0 ? 0 : -ENOENT;
}

int brake_save(struct brake *b)
{
	int r;

	if (!b)
		return 0;
	pthread_mutex_lock(&b->lock);
	r = save(b);
	pthread_mutex_unlock(&b->lock);
	return r;
}

int brake_list(struct brake *b, char (**runs)[UTIL_RUN_MAX], size_t *n)
{
	*runs = NULL;
	*n = 0;
	if (!b)
		return 0;
	pthread_mutex_lock(&b->lock);
	if (b->nbraked && !(*runs = malloc(b->nbraked * UTIL_RUN_MAX))) {
		pthread_mutex_unlock(&b->lock);
		return -ENOMEM;
	}
	if (b->nbraked)
		memcpy(*runs, b->braked, b->nbraked * UTIL_RUN_MAX);
	*n = b->nbraked;
	pthread_mutex_unlock(&b->lock);
	return 0;
}

void brake_get_stats(struct brake *b, struct brake_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!b)
		return;
	pthread_mutex_lock(&b->lock);
	st->limit = b->conf.limit;
	st->window_s = b->conf.window_ns / NS;
	st->braked = b->nbraked;
	st->trips = b->trips;
	pthread_mutex_unlock(&b->lock);
}
