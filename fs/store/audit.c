/*
 * audit — the batched audit writer (see audit.h for the contract).
 *
 * Threading: a->lock guards everything below it in struct audit.  The
 * queue is a ring of pointers: callers append at the tail, only the writer
 * removes from the head, and it removes a batch only after the batch was
 * written, so rows stay in place (and keep their order) while the writer
 * works on them unlocked.  Waits use CLOCK_MONOTONIC.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/audit.h"
#include "lib/sys.h"
#include "lib/util.h"

#define NS 1000000000LL
#define BATCH_MAX 4096

/* A queued row: the row, with its strings copied into data[]. */
struct qrow {
	struct audit_row row;
	size_t size;
	char data[];
};

struct audit {
	struct catalog *cat;
	struct audit_conf conf;
	pthread_t thread;
	struct audit_row *batch;       /* writer only: batch_rows + 1 (gap) */
	pthread_mutex_t lock;
	pthread_cond_t wake, done;
	struct qrow **ring;            /* conf.max_rows slots */
	size_t head, n, bytes;
	uint64_t lost;                 /* dropped since the last gap row */
	int64_t lost_first_ns, lost_last_ns;
	bool failing, stop;
	uint64_t flush_req, flush_done;/* flush generations */
	int flush_rc;
	struct audit_stats st;
};

static int64_t mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

static int wait_until(struct audit *a, int64_t deadline_ns)
{
	struct timespec ts = { deadline_ns / NS, deadline_ns % NS };

	return pthread_cond_timedwait(&a->wake, &a->lock, &ts);
}

/* ---- logging (any thread) ---- */

static size_t slen(const char *s)
{
	return s ? strnlen(s, CATALOG_TEXT_MAX) + 1 : 0;
}

/* Copy s (cut at CATALOG_TEXT_MAX) to *p; returns the copy or NULL. */
static const char *put(char **p, const char *s)
{
	size_t n = slen(s);
	char *d = *p;

	if (!n)
		return NULL;
	memcpy(d, s, n - 1);
	d[n - 1] = '\0';
	*p += n;
	return d;
}

static struct qrow *qrow_new(const struct audit_row *r)
{
	size_t size = slen(r->event) + slen(r->site) + slen(r->op) + slen(r->path) +
		      slen(r->cmdline) + slen(r->detail) + slen(r->run);
	struct qrow *q = malloc(sizeof(*q) + size);
	char *p;

	if (!q)
		return NULL;
	p = q->data;
	q->size = sizeof(*q) + size;
	q->row = *r;
	q->row.seq = 0;
	q->row.ts_ns = r->ts_ns ? r->ts_ns : sys.wall_ns();
	q->row.event = put(&p, r->event);
	q->row.site = put(&p, r->site);
	q->row.op = put(&p, r->op);
	q->row.path = put(&p, r->path);
	q->row.cmdline = put(&p, r->cmdline);
	q->row.detail = put(&p, r->detail);
	q->row.run = put(&p, r->run);
	return q;
}

void audit_log(struct audit *a, const struct audit_row *row)
{
	struct qrow *q;

	if (!a)
		return;
	q = row->event ? qrow_new(row) : NULL;
	pthread_mutex_lock(&a->lock);
	a->st.logged++;
	if (!q || a->n == a->conf.max_rows || a->bytes + q->size > a->conf.max_bytes) {
		int64_t ts = q ? q->row.ts_ns : sys.wall_ns();

		if (!a->lost++)
			a->lost_first_ns = ts;
		a->lost_last_ns = ts;
		a->st.dropped++;
		free(q);
		if (a->lost == 1 && !a->n)
			pthread_cond_signal(&a->wake);
	} else {
		a->ring[(a->head + a->n++) % a->conf.max_rows] = q;
		a->bytes += q->size;
		if (a->n == 1 || a->n == a->conf.batch_rows)
			pthread_cond_signal(&a->wake);
	}
	pthread_mutex_unlock(&a->lock);
}

void audit_log_op(struct audit *a, const char *event, const struct op_record *r,
		  const char *detail)
{
	audit_log_op_at(a, event, r, r->scope, detail);
}

void audit_log_op_at(struct audit *a, const char *event, const struct op_record *r,
		     const char *site, const char *detail)
{
	char buf[160], first[24], last[24];
	struct audit_row row = AUDIT_ROW_INIT;

	if (!detail) {
		util_format_utc(r->first_ns / NS, false, first, sizeof(first));
		util_format_utc(r->last_ns / NS, false, last, sizeof(last));
		snprintf(buf, sizeof(buf), "items=%" PRIu64 " bytes=%" PRIu64 " first=%s last=%s",
			 r->items, r->bytes, first, last);
		detail = buf;
	}
	row.event = event;
	row.site = site;
	row.op = r->name;
	row.uid = r->uid;
	row.pid = r->pid;
	row.cmdline = r->cmdline;
	row.detail = detail;
	row.run = r->run;
	audit_log(a, &row);
}

/* ---- the writer thread ---- */

/* Fill a->batch with a gap row (if rows were lost) and up to batch_rows
 * queued rows.  Returns the count; *rows_taken the queued ones. */
static size_t take_batch(struct audit *a, char *gap, size_t gapcap, size_t *rows_taken)
{
	size_t k = 0, take = a->n < a->conf.batch_rows ? a->n : a->conf.batch_rows;

	if (a->lost) {
		char first[24], last[24];
		struct audit_row g = AUDIT_ROW_INIT;

		util_format_utc(a->lost_first_ns / NS, false, first, sizeof(first));
		util_format_utc(a->lost_last_ns / NS, false, last, sizeof(last));
		snprintf(gap, gapcap, "lost=%" PRIu64 " first=%s last=%s", a->lost, first, last);
		g.ts_ns = sys.wall_ns();
		g.event = AUDIT_EV_GAP;
		g.detail = gap;
		a->batch[k++] = g;
	}
	for (size_t i = 0; i < take; i++)
		a->batch[k++] = a->ring[(a->head + i) % a->conf.max_rows]->row;
	*rows_taken = take;
	return k;
}

static void pop(struct audit *a, size_t k)
{
	for (size_t i = 0; i < k; i++) {
		struct qrow *q = a->ring[a->head];

		a->bytes -= q->size;
		free(q);
		a->head = (a->head + 1) % a->conf.max_rows;
		a->n--;
	}
}

static void notify(struct audit *a, int err, uint64_t lost)
{
	uint64_t queued = a->n;

	if (!a->conf.on_event)
		return;
	pthread_mutex_unlock(&a->lock);
	a->conf.on_event(a->conf.cb_arg, err, queued, lost);
	pthread_mutex_lock(&a->lock);
}

/* One write attempt of one batch (a->lock held, dropped during the write). */
static int write_batch(struct audit *a)
{
	char gap[128];
	size_t taken, k = take_batch(a, gap, sizeof(gap), &taken);
	uint64_t lost = a->lost;
	int rc;

	pthread_mutex_unlock(&a->lock);
	rc = a->conf.sink(a->cat, a->batch, k);
	pthread_mutex_lock(&a->lock);
	if (rc < 0) {
		a->st.failures++;
		a->st.last_err = rc;
		a->failing = true;
		notify(a, rc, a->lost);
		return rc;
	}
	pop(a, taken);
	a->st.written += taken;
	a->st.last_err = 0;
	a->lost -= lost;   /* rows dropped during the write go into the next gap row */
	if (a->failing) {
		a->failing = false;
		notify(a, 0, lost);
	}
	return 0;
}

static bool drained(const struct audit *a)
{
	return !a->n && !a->lost;
}

static void *writer(void *arg)
{
	struct audit *a = arg;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		int64_t deadline = mono_now() + (a->failing ? a->conf.retry_ns : a->conf.interval_ns);
		uint64_t want;
		int rc = 0;

		/* sleep until: stop, a flush, a full batch, or the deadline */
		while (!a->stop && a->flush_req == a->flush_done) {
			if (drained(a)) {
				pthread_cond_wait(&a->wake, &a->lock);
				deadline = mono_now() + a->conf.interval_ns;
			} else if ((!a->failing && a->n >= a->conf.batch_rows) ||
				   wait_until(a, deadline) == ETIMEDOUT) {
				break;
			}
		}
		want = a->flush_req;
		if (!drained(a))
			rc = write_batch(a);
		if (want != a->flush_done && (rc < 0 || drained(a))) {
			a->flush_done = want;
			a->flush_rc = rc;
			pthread_cond_broadcast(&a->done);
		}
		if (a->stop && (rc < 0 || drained(a)))
			break;
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

/* ---- lifecycle ---- */

int audit_new(struct audit **out, struct catalog *c, const struct audit_conf *conf)
{
	struct audit *a = calloc(1, sizeof(*a));
	pthread_condattr_t ca;
	int r;

	*out = NULL;
	if (!a)
		return -ENOMEM;
	if (conf)
		a->conf = *conf;
	if (!a->conf.max_rows)
		a->conf.max_rows = 65536;
	if (!a->conf.max_bytes)
		a->conf.max_bytes = 32u << 20;
	if (!a->conf.batch_rows)
		a->conf.batch_rows = 256;
	if (a->conf.batch_rows > BATCH_MAX)
		a->conf.batch_rows = BATCH_MAX;
	if (a->conf.interval_ns <= 0)
		a->conf.interval_ns = NS / 10;
	if (a->conf.retry_ns <= 0)
		a->conf.retry_ns = NS;
	if (!a->conf.sink)
		a->conf.sink = catalog_audit_append_batch;
	a->cat = c;
	a->ring = calloc(a->conf.max_rows, sizeof(*a->ring));
	a->batch = calloc(a->conf.batch_rows + 1, sizeof(*a->batch));
	if (!a->ring || !a->batch) {
		r = -ENOMEM;
		goto free;
	}
	pthread_mutex_init(&a->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&a->done, NULL);
	if ((r = -pthread_create(&a->thread, NULL, writer, a)) < 0) {
		pthread_cond_destroy(&a->wake);
		pthread_cond_destroy(&a->done);
		pthread_mutex_destroy(&a->lock);
		goto free;
	}
	*out = a;
	return 0;
free:
	free(a->ring);
	free(a->batch);
	free(a);
	return r;
}

void audit_free(struct audit *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	a->stop = true;
	pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->thread, NULL);
	if ((a->n || a->lost) && a->conf.on_event)
		a->conf.on_event(a->conf.cb_arg, a->st.last_err ? a->st.last_err : -EIO, 0,
				 a->lost + a->n);
	pop(a, a->n);
	pthread_cond_destroy(&a->wake);
	pthread_cond_destroy(&a->done);
	pthread_mutex_destroy(&a->lock);
	free(a->ring);
	free(a->batch);
	free(a);
}

int audit_flush(struct audit *a)
{
	uint64_t gen;
	int rc;

	if (!a)
		return 0;
	pthread_mutex_lock(&a->lock);
	gen = ++a->flush_req;
	pthread_cond_signal(&a->wake);
	while (a->flush_done < gen)
		pthread_cond_wait(&a->done, &a->lock);
	rc = a->flush_rc;
	pthread_mutex_unlock(&a->lock);
	return rc;
}

void audit_get_stats(struct audit *a, struct audit_stats *st)
{
	pthread_mutex_lock(&a->lock);
	*st = a->st;
	st->queued = a->n;
	pthread_mutex_unlock(&a->lock);
}
