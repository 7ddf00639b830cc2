/*
 * fairq — fair per-key job pool (see fairq.h).
 *
 * Threading: q->lock protects everything below it; a job runs without it.
 * Workers sleep on q->work; fairq_free wakes them all and joins them once
 * no job is queued or running.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "lib/fairq.h"

struct job {
	fairq_fn *fn;
	void *arg;
	struct job *next;
};

/* A key with jobs queued or running (freed when it has neither). */
struct key {
	uint32_t key;
	unsigned running;
	struct job *head, **tail;
	struct key *next;
};

struct fairq {
	pthread_mutex_t lock;
	pthread_cond_t work;       /* a job may have become runnable, or stop */
	unsigned max_threads, per_key;
	bool stop;
	struct key *keys;          /* keys with jobs queued or running, any order */
	uint32_t rr;               /* the key served last: the next one is after it */
	bool rr_set;
	pthread_t *threads;
	unsigned nthreads, idle;
	struct fairq_stats st;
};

int fairq_new(struct fairq **out, unsigned threads, unsigned per_key)
{
	struct fairq *q = calloc(1, sizeof(*q));

	if (!q || !(q->threads = calloc(threads ? threads : 1, sizeof(*q->threads)))) {
		free(q);
		return -ENOMEM;
	}
	q->max_threads = threads ? threads : 1;
	q->per_key = per_key ? per_key : 1;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->work, NULL);
	*out = q;
	return 0;
}

/* The next runnable key after the one served last, in key order (then
 * round again from the smallest), or NULL. */
static struct key *next_key(struct fairq *q)
{
	struct key *first = NULL, *after = NULL;

	for (struct key *k = q->keys; k; k = k->next) {
		if (!k->head || k->running >= q->per_key)
			continue;
		if (!first || k->key < first->key)
			first = k;
		if (q->rr_set && k->key > q->rr && (!after || k->key < after->key))
			after = k;
	}
	return after ? after : first;
}

static void drop_key_if_done(struct fairq *q, struct key *k)
{
	if (k->head || k->running)
		return;
	for (struct key **pp = &q->keys; *pp; pp = &(*pp)->next)
		if (*pp == k) {
			*pp = k->next;
			free(k);
			return;
		}
}

static void *worker(void *p)
{
	struct fairq *q = p;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		struct key *k = next_key(q);
		struct job *j;

		if (!k) {
			if (q->stop && !q->keys)
				break;
			q->idle++;
			pthread_cond_wait(&q->work, &q->lock);
			q->idle--;
			continue;
		}
		j = k->head;
		if (!(k->head = j->next))
			k->tail = &k->head;
		k->running++;
		q->rr = k->key;
		q->rr_set = true;
		q->st.queued--;
		q->st.running++;
		if (k->running > q->st.peak_per_key)
			q->st.peak_per_key = k->running;
		pthread_mutex_unlock(&q->lock);
		j->fn(j->arg);
		free(j);
		pthread_mutex_lock(&q->lock);
		k->running--;
		q->st.running--;
		drop_key_if_done(q, k);
		pthread_cond_broadcast(&q->work);   /* k may be runnable again; fairq_free waits */
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

int fairq_submit(struct fairq *q, uint32_t key, fairq_fn *fn, void *arg)
{
	struct job *j = malloc(sizeof(*j));
	struct key *k;
	int r = 0;

	if (!j)
		return -ENOMEM;
	*j = (struct job){ .fn = fn, .arg = arg };
	pthread_mutex_lock(&q->lock);
	if (q->stop) {
		r = -ESHUTDOWN;
		goto out;
	}
	/* a worker for it: an idle one, or a new one while under the limit */
	if (q->idle <= q->st.queued && q->nthreads < q->max_threads) {
		int e = pthread_create(&q->threads[q->nthreads], NULL, worker, q);

		if (e == 0)
			q->nthreads++;
		else if (!q->nthreads) {
			r = -EAGAIN;
			goto out;
		}
	}
	for (k = q->keys; k && k->key != key; k = k->next)
		;
	if (!k) {
		if (!(k = calloc(1, sizeof(*k)))) {
			r = -ENOMEM;
			goto out;
		}
		k->key = key;
		k->tail = &k->head;
		k->next = q->keys;
		q->keys = k;
	}
	*k->tail = j;
	k->tail = &j->next;
	j = NULL;
	q->st.queued++;
	q->st.submitted++;
	pthread_cond_signal(&q->work);
out:
	pthread_mutex_unlock(&q->lock);
	free(j);
	return r;
}

void fairq_get_stats(struct fairq *q, struct fairq_stats *s)
{
	pthread_mutex_lock(&q->lock);
	*s = q->st;
	s->threads = q->nthreads;
	pthread_mutex_unlock(&q->lock);
}

void fairq_stop(struct fairq *q)
{
	unsigned n;

	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	q->stop = true;
	pthread_cond_broadcast(&q->work);
	n = q->nthreads;   /* no new worker starts once stop is set */
	pthread_mutex_unlock(&q->lock);
	for (unsigned i = 0; i < n; i++)
		if (q->threads[i]) {
			pthread_join(q->threads[i], NULL);
			q->threads[i] = 0;
		}
}

void fairq_free(struct fairq *q)
{
	if (!q)
		return;
	fairq_stop(q);
	pthread_cond_destroy(&q->work);
	pthread_mutex_destroy(&q->lock);
	free(q->threads);
	free(q);
}
