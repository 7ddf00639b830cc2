/*
 * test_audit — the batched audit writer against a real catalog in a
 * mkdtemp dir.  The sink is wrapped to count batches, check the thread
 * it runs on, and fail on demand (disk full).  test_threads logs from 4
 * threads.
 */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "store/audit.h"
#include "testutil.h"

struct fx {
	char tmp[32];
	struct catalog *c;
	struct audit *a;
	pthread_t main_thread;
	/* the sink's view */
	atomic_int fail_with;          /* nonzero: every batch fails with it */
	atomic_int batches, max_batch, off_thread;
	/* on_event's view */
	atomic_int events, last_err;
	atomic_ullong last_lost;
};

static struct fx *cur;   /* the sink and on_event have no arg of their own */

static int sink(struct catalog *c, const struct audit_row *rows, size_t n)
{
	int f = atomic_load(&cur->fail_with);

	if (!pthread_equal(pthread_self(), cur->main_thread))
		atomic_fetch_add(&cur->off_thread, 1);
	if (f)
		return f;
	atomic_fetch_add(&cur->batches, 1);
	if ((int)n > atomic_load(&cur->max_batch))
		atomic_store(&cur->max_batch, (int)n);
	return catalog_audit_append_batch(c, rows, n);
}

static void on_event(void *arg, int err, uint64_t queued, uint64_t lost)
{
	struct fx *f = arg;

	atomic_fetch_add(&f->events, 1);
	atomic_store(&f->last_err, err);
	atomic_store(&f->last_lost, lost);
}

static struct audit_conf conf(struct fx *f)
{
	return (struct audit_conf){ .batch_rows = 64, .interval_ns = 20000000,
				    .retry_ns = 10000000, .on_event = on_event, .cb_arg = f,
				    .sink = sink };
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char path[64];
	struct audit_conf ac;

	assert_non_null(f);
	strcpy(f->tmp, "/tmp/gracefs-aud-XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	snprintf(path, sizeof(path), "%s/catalog.db", f->tmp);
	assert_int_equal(catalog_open(&f->c, path, false, NULL), 0);
	f->main_thread = pthread_self();
	cur = f;
	ac = conf(f);
	assert_int_equal(audit_new(&f->a, f->c, &ac), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	audit_free(f->a);
	catalog_close(f->c);
	assert_int_equal(rm_tree(f->tmp), 0);
	free(f);
	return 0;
}

static void log_n(struct audit *a, int from, int n, const char *event)
{
	char detail[32];

	for (int i = from; i < from + n; i++) {
		struct audit_row r = AUDIT_ROW_INIT;

		snprintf(detail, sizeof(detail), "%d", i);
		r.ts_ns = 1000 + i;
		r.event = event;
		r.site = "www";
		r.detail = detail;
		audit_log(a, &r);
	}
}

struct seen {
	size_t n;
	int64_t details[20000];   /* detail as a number, -1 for a gap row */
	char gap[128];
};

static int see(const struct audit_row *r, void *arg)
{
	struct seen *s = arg;

	if (!strcmp(r->event, AUDIT_EV_GAP)) {
		snprintf(s->gap, sizeof(s->gap), "%s", r->detail);
		s->details[s->n++] = -1;
	} else if (s->n < 20000) {
		s->details[s->n++] = r->detail ? strtoll(r->detail, NULL, 10) : -2;
	}
	return 0;
}

static struct seen *read_all(struct fx *f)
{
	struct seen *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	assert_int_equal(catalog_audit_query(f->c, &(struct catalog_audit_filter){0}, see, s), 0);
	return s;
}

static void test_batched(void **state)
{
	struct fx *f = *state;
	struct audit_stats st;
	struct seen *s;

	log_n(f->a, 0, 1000, AUDIT_EV_DELETE);
	assert_int_equal(audit_flush(f->a), 0);
	s = read_all(f);
	assert_int_equal(s->n, 1000);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(s->details[i], i);   /* in order */
	assert_true(atomic_load(&f->max_batch) <= 64);
	assert_true(atomic_load(&f->batches) >= 1000 / 64);
	assert_int_equal(atomic_load(&f->off_thread), atomic_load(&f->batches));
	audit_get_stats(f->a, &st);
	assert_int_equal(st.logged, 1000);
	assert_int_equal(st.written, 1000);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(st.queued, 0);
	free(s);
}

/* Rows are written within the interval without anyone flushing. */
static void test_interval(void **state)
{
	struct fx *f = *state;
	struct seen *s = NULL;

	log_n(f->a, 0, 3, AUDIT_EV_HOLD);
	for (int i = 0; i < 200; i++) {   /* up to 2 s */
		free(s);
		s = read_all(f);
		if (s->n == 3)
			break;
		usleep(10000);
	}
	assert_int_equal(s->n, 3);
	assert_int_equal(atomic_load(&f->off_thread), atomic_load(&f->batches));
	free(s);
}

/* The disk fills: rows stay queued up to the bound, the rest are dropped
 * and counted; once writing works again a gap row comes first. */
static void test_full_then_gap(void **state)
{
	struct fx *f = *state;
	struct audit_conf ac = conf(f);
	struct audit_stats st;
	struct seen *s;

	audit_free(f->a);
	ac.max_rows = 10;
	assert_int_equal(audit_new(&f->a, f->c, &ac), 0);
	atomic_store(&f->fail_with, -ENOSPC);
	log_n(f->a, 0, 15, AUDIT_EV_DELETE);
	assert_int_equal(audit_flush(f->a), -ENOSPC);
	assert_true(atomic_load(&f->events) >= 1);
	assert_int_equal(atomic_load(&f->last_err), -ENOSPC);
	audit_get_stats(f->a, &st);
	assert_int_equal(st.queued, 10);
	assert_int_equal(st.dropped, 5);
	assert_int_equal(st.last_err, -ENOSPC);
	assert_true(st.failures >= 1);
	usleep(50000);   /* it keeps retrying meanwhile */
	audit_get_stats(f->a, &st);
	assert_true(st.failures >= 2);
	s = read_all(f);
	assert_int_equal(s->n, 0);
	free(s);

	log_n(f->a, 100, 1, AUDIT_EV_DELETE);   /* dropped too: the queue is full */
	atomic_store(&f->fail_with, 0);
	assert_int_equal(audit_flush(f->a), 0);
	assert_int_equal(atomic_load(&f->last_err), 0);       /* resumed */
	assert_int_equal(atomic_load(&f->last_lost), 6);
	s = read_all(f);
	assert_int_equal(s->n, 11);
	assert_int_equal(s->details[0], -1);
	assert_non_null(strstr(s->gap, "lost=6 "));
	assert_non_null(strstr(s->gap, "first=1970-01-01T00:00:00Z"));
	for (int i = 0; i < 10; i++)
		assert_int_equal(s->details[i + 1], i);
	audit_get_stats(f->a, &st);
	assert_int_equal(st.written, 10);
	assert_int_equal(st.last_err, 0);
	free(s);
}

/* audit_free writes what is queued. */
static void test_free_writes(void **state)
{
	struct fx *f = *state;
	struct audit_conf ac = conf(f);
	struct seen *s;

	audit_free(f->a);
	ac.interval_ns = 3600LL * 1000000000;   /* never by the timer */
	assert_int_equal(audit_new(&f->a, f->c, &ac), 0);
	log_n(f->a, 0, 5, AUDIT_EV_DELETE);
	audit_free(f->a);
	f->a = NULL;
	s = read_all(f);
	assert_int_equal(s->n, 5);
	free(s);
}

/* Rows still unwritable at audit_free are reported lost. */
static void test_free_reports_loss(void **state)
{
	struct fx *f = *state;

	atomic_store(&f->fail_with, -EROFS);
	log_n(f->a, 0, 7, AUDIT_EV_DELETE);
	audit_free(f->a);
	f->a = NULL;
	assert_int_equal(atomic_load(&f->last_err), -EROFS);
	assert_int_equal(atomic_load(&f->last_lost), 7);
}

static void test_edge_inputs(void **state)
{
	struct fx *f = *state;
	struct audit_row r = AUDIT_ROW_INIT;
	struct audit_stats st;
	struct seen *s;
	char *big = malloc(20000);

	audit_log(NULL, &r);                 /* no audit configured: a no-op */
	assert_int_equal(audit_flush(NULL), 0);
	audit_log(f->a, &r);                 /* no event: dropped and counted */
	assert_non_null(big);
	memset(big, 'p', 19999);
	big[19999] = '\0';
	r.event = AUDIT_EV_RESTORE;
	r.path = big;
	r.detail = "7";
	audit_log(f->a, &r);
	free(big);                           /* the row was copied */
	assert_int_equal(audit_flush(f->a), 0);
	audit_get_stats(f->a, &st);
	assert_int_equal(st.dropped, 1);
	s = read_all(f);
	assert_int_equal(s->n, 2);           /* the gap row, then ours */
	assert_int_equal(s->details[0], -1);
	assert_int_equal(s->details[1], 7);
	free(s);
}

static int check_op_row(const struct audit_row *r, void *arg)
{
	(void)arg;
	assert_string_equal(r->event, AUDIT_EV_DELETE);
	assert_string_equal(r->site, "www");
	assert_string_equal(r->op, "20261127T130512Z-rm-4242");
	assert_int_equal(r->uid, 1000);
	assert_int_equal(r->pid, 4242);
	assert_string_equal(r->cmdline, "rm -rf wiki");
	assert_string_equal(r->detail, "items=17 bytes=65536 first=2026-11-27T13:05:12Z "
			    "last=2026-11-27T13:05:13Z");
	assert_true(r->ts_ns > 0);
	return 0;
}

static void test_log_op(void **state)
{
	struct fx *f = *state;
	struct op_record rec = { .scope = "www", .name = "20261127T130512Z-rm-4242",
		.uid = 1000, .pid = 4242, .items = 17, .bytes = 65536,
		.first_ns = INT64_C(1795784712) * 1000000000,
		.last_ns = INT64_C(1795784713) * 1000000000, .cmdline = "rm -rf wiki" };

	audit_log_op(f->a, AUDIT_EV_DELETE, &rec, NULL);
	assert_int_equal(audit_flush(f->a), 0);
	assert_int_equal(catalog_audit_query(f->c, &(struct catalog_audit_filter){0},
					     check_op_row, NULL), 0);
}

struct worker {
	struct audit *a;
	int id;
};

static void *logger(void *arg)
{
	struct worker *w = arg;

	log_n(w->a, w->id * 10000, 2000, AUDIT_EV_DELETE);
	return NULL;
}

static void test_threads(void **state)
{
	struct fx *f = *state;
	struct worker w[4];
	pthread_t t[4];
	int64_t last[4] = { -1, -1, -1, -1 };
	struct seen *s;

	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ f->a, i };
		assert_int_equal(pthread_create(&t[i], NULL, logger, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(audit_flush(f->a), 0);
	s = read_all(f);
	assert_int_equal(s->n, 8000);
	for (size_t i = 0; i < s->n; i++) {   /* each thread's rows in its order */
		int id = (int)(s->details[i] / 10000);

		assert_true(s->details[i] > last[id]);
		last[id] = s->details[i];
	}
	free(s);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_batched),
		T(test_interval),
		T(test_full_then_gap),
		T(test_free_writes),
		T(test_free_reports_loss),
		T(test_edge_inputs),
		T(test_log_op),
		T(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
