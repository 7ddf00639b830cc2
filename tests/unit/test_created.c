/*
 * test_created — what runs created (undo run:ID --created): the record's
 * encoding (crrec), its LMDB table (index_created_*), the tracker that
 * batches notes (created.h), plans against a real temp backing store, and
 * the engine's move of one item (trash_uncreate).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine/created.h"
#include "engine/trash.h"
#include "lib/sys.h"
#include "store/crrec.h"
#include "store/index.h"
#include "testutil.h"

#define RUN_A "20261207T055122Z-cleanup.sh-4242"
#define RUN_B "20261207T055122Z-cron-77"

struct fx {
	char tmp[64], b[96], idx[96];
	int bfd;
	struct index *ix;
	struct created *cr;
	struct caller a, o;   /* a process of run A, one of run B */
};

#define bp(f, ...) tu_pathf((f)->b, __VA_ARGS__)

static int setup(void **state)
{
	static const char *const sites[] = { "site", NULL };
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->bfd = tu_backing(f->tmp, sizeof(f->tmp), f->b, sizeof(f->b), f->idx, sizeof(f->idx),
			    "cr", sites);
	assert_int_equal(index_open(&f->ix, f->idx), 0);
	assert_int_equal(created_new(&f->cr, f->ix), 0);
	f->a = (struct caller){ .uid = 0, .pid = 4243, .pid_start = 5 };
	strcpy(f->a.cmd, "openssl");
	strcpy(f->a.cmdline, "openssl enc");
	strcpy(f->a.run, RUN_A);
	f->o = f->a;
	f->o.pid = 77;
	strcpy(f->o.run, RUN_B);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	created_free(f->cr);
	index_close(f->ix);
	close(f->bfd);
	assert_int_equal(rm_tree(f->tmp), 0);
	free(f);
	return 0;
}

static void write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0640);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);
}

/* Create BACKING/site/<path> (a directory when it ends in '/') and note it
 * as created by who. */
static void make(struct fx *f, const struct caller *who, const char *path)
{
	char p[CRREC_PATH_MAX];
	size_t n = strlen(path);
	struct stat st;

	snprintf(p, sizeof(p), "%s", path);
	if (p[n - 1] == '/') {
		p[n - 1] = '\0';
		assert_int_equal(mkdir(bp(f, "site/%s", p), 0755), 0);
	} else {
		write_file(bp(f, "site/%s", p), "data\n");
	}
	assert_int_equal(lstat(bp(f, "site/%s", p), &st), 0);
	created_note(f->cr, who, "site", p, &st);
}

struct seen {
	unsigned n;
	char paths[16][NAME_MAX + 80];
	uint32_t flags[16];
};

static int seen_one(const struct created_rec *r, void *arg)
{
	struct seen *s = arg;

	if (s->n < 16) {
		snprintf(s->paths[s->n], sizeof(s->paths[0]), "%s/%s", r->site, r->path);
		s->flags[s->n] = r->flags;
	}
	s->n++;
	return 0;
}

/* ---- crrec ---- */

static void test_crrec_roundtrip(void **state)
{
	struct created_rec r = { .run = RUN_A, .dev = 0x801, .ino = 1234567, .mode = S_IFREG | 0640,
				 .flags = CRREC_FOREIGN, .born_ns = 17, .mtime_ns = -5,
				 .ctime_ns = INT64_C(1795784712000000001), .size = 99,
				 .site = "acme", .path = "wiki/2024/a.enc" }, d;
	unsigned char key[CRREC_KEY_MAX], val[CRREC_ENC_MAX];
	int kl = crrec_key(r.run, r.dev, r.ino, key), vl = crrec_encode(&r, val, sizeof(val));

	(void)state;
	assert_true(kl > 0 && vl > 0);
	assert_int_equal(crrec_decode(key, (size_t)kl, val, (size_t)vl, &d), 0);
	assert_string_equal(d.run, RUN_A);
	assert_true(d.dev == r.dev && d.ino == r.ino && d.mode == r.mode && d.flags == r.flags);
	assert_true(d.born_ns == 17 && d.mtime_ns == -5 && d.ctime_ns == r.ctime_ns && d.size == 99);
	assert_string_equal(d.site, "acme");
	assert_string_equal(d.path, "wiki/2024/a.enc");
	/* bad input: refused, never misread */
	assert_int_equal(crrec_decode(key, (size_t)kl, val, (size_t)vl - 1, &d), -EINVAL);
	val[0] = 9;
	assert_int_equal(crrec_decode(key, (size_t)kl, val, (size_t)vl, &d), -EINVAL);
	assert_int_equal(crrec_key("", 1, 1, key), -EINVAL);
	r.path = "";
	assert_int_equal(crrec_encode(&r, val, sizeof(val)), -EINVAL);
	r.path = "x";
	strcpy(r.site, "a/b");
	assert_int_equal(crrec_encode(&r, val, sizeof(val)), -EINVAL);
	strcpy(r.site, "acme");
	assert_int_equal(crrec_encode(&r, val, 10), -ENOBUFS);
}

/* ---- the index table ---- */

static void test_index_table(void **state)
{
	struct fx *f = *state;
	struct created_rec v[3] = {
		{ .run = RUN_A, .dev = 1, .ino = 10, .site = "s", .path = "a", .born_ns = 100 },
		{ .run = RUN_A, .dev = 1, .ino = 11, .site = "s", .path = "b", .born_ns = 300 },
		/* a run whose ID extends another's is another run */
		{ .run = RUN_A "1", .dev = 1, .ino = 12, .site = "s", .path = "c", .born_ns = 100 },
	};
	struct seen s = { 0 };
	uint64_t dropped;

	assert_int_equal(index_created_put(f->ix, v, 3), 0);
	assert_int_equal(index_created_foreach(f->ix, RUN_A, seen_one, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.paths[0], "s/a");
	assert_string_equal(s.paths[1], "s/b");
	memset(&s, 0, sizeof(s));
	assert_int_equal(index_created_foreach(f->ix, NULL, seen_one, &s), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(index_created_del(f->ix, RUN_A, 1, 10), 0);
	assert_int_equal(index_created_del(f->ix, RUN_A, 1, 10), -ENOENT);
	assert_int_equal(index_created_prune(f->ix, 200, &dropped), 0);
	assert_int_equal(dropped, 1);   /* c; b is newer */
	memset(&s, 0, sizeof(s));
	assert_int_equal(index_created_foreach(f->ix, NULL, seen_one, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.paths[0], "s/b");
	assert_int_equal(index_created_foreach(f->ix, "", seen_one, &s), -EINVAL);
}

/* ---- the tracker ---- */

static void test_tracker(void **state)
{
	struct fx *f = *state;
	struct seen s = { 0 };
	struct stat st;

	make(f, &f->a, "x.enc");
	make(f, &f->a, "y.enc");
	make(f, &f->a, "tmp");
	make(f, &(struct caller){ .pid = 1 }, "norun");   /* no run: nothing noted */
	assert_int_equal(lstat(bp(f, "site/norun"), &st), 0);
	assert_false(created_knows(f->cr, st.st_dev, st.st_ino));
	/* nothing reaches the index before a flush */
	assert_int_equal(index_created_foreach(f->ix, RUN_A, seen_one, &s), 0);
	assert_int_equal(s.n, 0);
	/* the run's own later write refreshes; another run's marks it */
	write_file(bp(f, "site/x.enc"), "more\n");
	assert_int_equal(lstat(bp(f, "site/x.enc"), &st), 0);
	created_note_changed(f->cr, RUN_A, &st);
	assert_int_equal(lstat(bp(f, "site/y.enc"), &st), 0);
	created_note_changed(f->cr, RUN_B, &st);
	/* the run renames its temporary file: it follows */
	assert_int_equal(rename(bp(f, "site/tmp"), bp(f, "site/final")), 0);
	assert_int_equal(lstat(bp(f, "site/final"), &st), 0);
	assert_true(created_knows(f->cr, st.st_dev, st.st_ino));   /* the rename path asks first */
	created_note_moved(f->cr, RUN_A, st.st_dev, st.st_ino, "site", "final", f->bfd,
			   "site/final");
	assert_int_equal(created_flush(f->cr), 0);
	assert_int_equal(index_created_foreach(f->ix, RUN_A, seen_one, &s), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(index_created_foreach(f->ix, RUN_B, seen_one, &(struct seen){ 0 }), 0);
	struct created_stats cs;
	created_get_stats(f->cr, &cs);
	assert_int_equal(cs.noted, 3);

	struct created_plan p;
	assert_int_equal(created_plan(f->ix, f->bfd, RUN_A, &p), 0);
	assert_int_equal(p.n, 3);
	for (size_t i = 0; i < p.n; i++) {
		const struct created_item *it = &p.v[i];

		if (!strcmp(it->path, "y.enc")) {
			assert_int_equal(it->v, CREATED_CHANGED);
			assert_non_null(strstr(it->why, "another run"));
		} else {
			assert_int_equal(it->v, CREATED_MOVE);   /* x.enc refreshed, final followed */
		}
	}
	created_plan_release(&p);
	/* forget drops the record */
	assert_int_equal(lstat(bp(f, "site/x.enc"), &st), 0);
	assert_int_equal(created_forget(f->cr, RUN_A, st.st_dev, st.st_ino), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(index_created_foreach(f->ix, RUN_A, seen_one, &s), 0);
	assert_int_equal(s.n, 2);
}

/* ---- plans ---- */

static enum created_verdict verdict(const struct created_plan *p, const char *path)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->v[i].path, path))
			return p->v[i].v;
	fail_msg("%s not in the plan", path);
	return CREATED_GONE;
}

static void test_plan(void **state)
{
	struct fx *f = *state;
	struct created_plan p;

	make(f, &f->a, "same");
	make(f, &f->a, "changed");
	make(f, &f->a, "removed");
	make(f, &f->a, "replaced");
	make(f, &f->a, "d/");
	make(f, &f->a, "d/inner");
	make(f, &f->a, "d/sub/");
	make(f, &f->a, "mixed/");
	make(f, &f->a, "mixed/mine");
	make(f, &f->o, "mixed/theirs");   /* another run's, in the run's directory */
	make(f, &f->a, "via/");
	make(f, &f->a, "via/f");
	make(f, &f->a, ".trashy");   /* only .trash itself is not live */
	assert_int_equal(created_flush(f->cr), 0);
	write_file(bp(f, "site/changed"), "x");   /* nobody told the tracker: times differ */
	assert_int_equal(unlink(bp(f, "site/removed")), 0);
	/* another inode at its path (the old one kept alive elsewhere, so its
	 * number cannot be reused: through the mount a deleted file lives on
	 * in trash the same way) */
	assert_int_equal(link(bp(f, "site/replaced"), bp(f, "site/.old")), 0);
	assert_int_equal(unlink(bp(f, "site/replaced")), 0);
	write_file(bp(f, "site/replaced"), "new inode\n");
	/* a symlink where the directory was: never followed */
	assert_int_equal(rename(bp(f, "site/via"), bp(f, "site/via2")), 0);
	assert_int_equal(symlink("via2", bp(f, "site/via")), 0);

	assert_int_equal(created_plan(f->ix, f->bfd, RUN_A, &p), 0);
	assert_int_equal(verdict(&p, "same"), CREATED_MOVE);
	assert_int_equal(verdict(&p, "changed"), CREATED_CHANGED);
	assert_int_equal(verdict(&p, "removed"), CREATED_GONE);
	assert_int_equal(verdict(&p, "replaced"), CREATED_GONE);
	assert_int_equal(verdict(&p, "d"), CREATED_MOVE);   /* all it holds moves */
	assert_int_equal(verdict(&p, "d/inner"), CREATED_MOVE);
	assert_int_equal(verdict(&p, "d/sub"), CREATED_MOVE);
	assert_int_equal(verdict(&p, "mixed"), CREATED_KEPT);
	assert_int_equal(verdict(&p, "mixed/mine"), CREATED_MOVE);
	assert_int_equal(verdict(&p, "via"), CREATED_GONE);
	assert_int_equal(verdict(&p, "via/f"), CREATED_GONE);
	assert_int_equal(verdict(&p, ".trashy"), CREATED_MOVE);
	assert_int_equal(p.n, 12);
	assert_int_equal(p.moves, 6);
	/* children come before their directory */
	for (size_t i = 0, d = SIZE_MAX; i < p.n; i++) {
		if (!strcmp(p.v[i].path, "d"))
			d = i;
		if (!strncmp(p.v[i].path, "d/", 2))
			assert_true(d == SIZE_MAX);
	}
	created_plan_release(&p);
}

/* ---- the engine's move ---- */

static void test_uncreate(void **state)
{
	struct fx *f = *state;
	struct trash_conf tc = { .retention_s = 86400, .op_gap_ns = 5 * INT64_C(1000000000) };
	struct caller ctl = { .uid = 0, .pid = 999, .pid_start = 1 };
	struct created_plan p;
	struct trash *t;
	struct stat st;
	char why[96], op[NAME_MAX + 1];
	int moved = 0;

	strcpy(ctl.cmd, "gracectl");
	strcpy(ctl.cmdline, "gracectl undo");
	assert_int_equal(trash_open(&t, f->bfd, f->ix, &tc), 0);
	make(f, &f->a, "a.enc");
	make(f, &f->a, "dir/");
	make(f, &f->a, "dir/b.enc");
	make(f, &f->a, "late");
	assert_int_equal(created_flush(f->cr), 0);
	assert_int_equal(created_plan(f->ix, f->bfd, RUN_A, &p), 0);
	write_file(bp(f, "site/late"), "changed after the plan\n");
	for (size_t i = 0; i < p.n; i++) {
		int v = trash_uncreate(t, &ctl, f->bfd, &p.v[i].rec, &st, why, sizeof(why), op,
				       sizeof(op));

		if (!strcmp(p.v[i].path, "late")) {
			assert_int_equal(v, CREATED_CHANGED);   /* checked again: left */
			continue;
		}
		assert_int_equal(v, CREATED_MOVE);
		assert_non_null(strstr(op, "-gracectl-999"));
		moved++;
	}
	assert_int_equal(moved, 3);
	assert_false(exists(bp(f, "site/a.enc")));
	assert_false(exists(bp(f, "site/dir")));
	assert_true(exists(bp(f, "site/late")));
	assert_content(bp(f, "site/.trash/%s/a.enc", op), "data\n");
	assert_content(bp(f, "site/.trash/%s/dir/b.enc", op), "data\n");
	created_plan_release(&p);
	trash_close(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crrec_roundtrip),
		cmocka_unit_test_setup_teardown(test_index_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tracker, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uncreate, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
