/*
 * test_sweep — the sweeper (fs/engine/sweep.c) and purging (trash_purge_*) on a
 * real backing directory with fake clocks.
 *
 * Each test gets a fresh mkdtemp dir holding BACKING (b/, sites b/site and
 * b/other) and an LMDB index (idx/), a trash engine (retention 100 s, op gap
 * 1 s) and a sweeper that is not started: the tests call sweep_pass()
 * themselves (one test runs the thread).  sys.wall_ns and sys.mono_ns are
 * fakes moved by advance(); ops are made with trash_delete() as a FUSE
 * unlink/rmdir would.  Needs root (trusted.* xattrs, chown; the
 * foreign-filesystem tests also mount, and skip when they cannot).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "store/index.h"
#include "store/oprec.h"
#include "engine/sitepolicy.h"
#include "engine/sweep.h"
#include "lib/sys.h"
#include "engine/trash.h"
#include "lib/util.h"
#include "testutil.h"

/* Paths are built into PATH_MAX buffers from short temp paths. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#define NS INT64_C(1000000000)
#define T0S INT64_C(1893456000)           /* 2030-01-01T00:00:00Z */
#define T0 (T0S * NS)
#define M0 (INT64_C(5000) * NS)           /* boot-clock start */
#define RETENTION 100
#define GAP_NS NS
#define INTERVAL_NS (3600 * NS)
#define JUMP_NS (3600 * NS)

/* ---- fake clocks -------------------------------------------------------- */

/* atomic: the thread test reads them from the sweeper thread */
static _Atomic int64_t fake_wall_v, fake_mono_v;
static int64_t fake_wall(void) { return atomic_load(&fake_wall_v); }
static int64_t fake_mono(void) { return atomic_load(&fake_mono_v); }

/* Move the wall clock by dw and the boot clock by dm (ns). */
static void advance(int64_t dw, int64_t dm)
{
	atomic_fetch_add(&fake_wall_v, dw);
	atomic_fetch_add(&fake_mono_v, dm);
}

/* Both clocks to T0 + s (as far as the wall clock is concerned). */
static void advance_to(int64_t s_after_t0)
{
	int64_t d = T0 + s_after_t0 * NS - fake_wall();

	assert_true(d >= 0);
	advance(d, d);
}

/* ---- fixture ------------------------------------------------------------ */

struct fx {
	char tmp[64];
	char b[96];
	char idx[96];
	int bfd;
	struct index *ix;
	struct trash *t;
	struct sweep *s;
	struct relpath rel;
	char mounted[PATH_MAX];   /* a mount to undo in teardown */
	/* callbacks */
	_Atomic int npurged;
	char purged[16][NAME_MAX + 1];
	uint64_t purged_removed[16];
	int nnotice;
	char notice[512];
};

static void on_purged(void *arg, const struct op_record *r, uint64_t removed)
{
	struct fx *f = arg;
	int i = atomic_fetch_add(&f->npurged, 1);

	if (i < 16) {
		snprintf(f->purged[i], sizeof(f->purged[i]), "%s", r->name);
		f->purged_removed[i] = removed;
	}
}

static void on_notice(void *arg, const char *msg)
{
	struct fx *f = arg;

	f->nnotice++;
	snprintf(f->notice, sizeof(f->notice), "%s", msg);
}

static void open_engine(struct fx *f)
{
	struct trash_conf tc = { .retention_s = RETENTION, .op_gap_ns = GAP_NS };
	struct sweep_conf sc = {
		.backing_fd = f->bfd, .interval_ns = INTERVAL_NS, .jump_ns = JUMP_NS,
		.step_budget = 4, .on_purged = on_purged, .on_notice = on_notice,
		.cb_arg = f,
	};

	assert_int_equal(index_open(&f->ix, f->idx), 0);
	assert_int_equal(trash_open(&f->t, f->bfd, f->ix, &tc), 0);
	assert_int_equal(trash_reconcile(f->t, NULL), 0);
	assert_int_equal(sweep_new(&f->s, f->t, f->ix, &sc), 0);
}

static void close_engine(struct fx *f)
{
	sweep_free(f->s);
	trash_close(f->t);
	index_close(f->ix);
	f->s = NULL;
	f->t = NULL;
	f->ix = NULL;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char p[160];

	assert_non_null(f);
	strcpy(f->tmp, "/tmp/gracefs-sw-XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	snprintf(f->b, sizeof(f->b), "%s/b", f->tmp);
	snprintf(f->idx, sizeof(f->idx), "%s/idx", f->tmp);
	assert_int_equal(mkdir(f->b, 0755), 0);
	snprintf(p, sizeof(p), "%s/site", f->b);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/other", f->b);
	assert_int_equal(mkdir(p, 0755), 0);
	f->bfd = open(f->b, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->bfd >= 0);

	sys_reset();
	atomic_store(&fake_wall_v, T0);
	atomic_store(&fake_mono_v, M0);
	sys.wall_ns = fake_wall;
	sys.mono_ns = fake_mono;
	open_engine(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	close_engine(f);
	sys_reset();
	if (f->mounted[0])
		umount2(f->mounted, MNT_DETACH);
	close(f->bfd);
	assert_int_equal(nftw(f->tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT), 0);
	free(f);
	return 0;
}

/* ---- helpers ------------------------------------------------------------ */

/* BACKING-relative path, printf-style (rotating static buffers). */
#define bp(f, ...) tu_pathf((f)->b, __VA_ARGS__)

static struct caller who_pid(uint32_t pid)
{
	struct caller c = { .uid = 0, .gid = 0, .pid = pid, .pid_start = 1000 + pid };

	strcpy(c.cmd, "rm");
	snprintf(c.cmdline, sizeof(c.cmdline), "rm -rf tree-of-%u", pid);
	return c;
}

/* The name of the op that pid's first deletion at wall time ns creates. */
static void opname(char *buf, int64_t ns, uint32_t pid)
{
	assert_int_equal(util_op_name(ns / NS, "rm", pid, 1, buf, NAME_MAX + 1), 0);
}

static void write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		fail_msg("%s: %s", path, strerror(errno));
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);
}

static int count_one_n;
static int count_one(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
	(void)p, (void)st, (void)type;
	if (ftw->level > 0)
		count_one_n++;
	return 0;
}

/* Entries below path (recursively, not counting path itself); -1: missing. */
static int tree_count(const char *path)
{
	if (!exists(path))
		return -1;
	count_one_n = 0;
	assert_int_equal(nftw(path, count_one, 16, FTW_PHYS | FTW_MOUNT), 0);
	return count_one_n;
}

static void set_rel(struct fx *f, const char *dir)
{
	char tmp[PATH_MAX];

	memset(&f->rel, 0, sizeof(f->rel));
	snprintf(tmp, sizeof(tmp), "%s", dir);
	for (char *save = NULL, *c = strtok_r(tmp, "/", &save); c;
	     c = strtok_r(NULL, "/", &save))
		assert_int_equal(relpath_push(&f->rel, c), 0);
}

/* Soft-delete BACKING/site/dir/name ("" dir: the site root). */
static int del(struct fx *f, const struct caller *who, const char *site,
	       const char *dir, const char *name, bool want_dir)
{
	struct trash_loc loc;
	const char *p = bp(f, "%s%s%s", site, *dir ? "/" : "", dir);
	int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;

	if (fd < 0)
		fail_msg("%s: %s", p, strerror(errno));
	set_rel(f, dir);
	loc = (struct trash_loc){ .site = site, .rel = &f->rel, .dirfd = fd, .name = name };
	r = trash_delete(f->t, who, &loc, want_dir, NULL);
	close(fd);
	return r;
}

/* Make site/dir with n files (content "<dir>/f<i>") and rm -r it as pid at
 * the current fake time; the op's name goes to op.  Entries in the op: n
 * files plus dir. */
static void make_op(struct fx *f, const char *site, const char *dir, int n,
		    uint32_t pid, char *op)
{
	struct caller who = who_pid(pid);
	char name[32], data[64];

	assert_int_equal(mkdir(bp(f, "%s/%s", site, dir), 0755), 0);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		snprintf(data, sizeof(data), "%s/f%d", dir, i);
		write_file(bp(f, "%s/%s/%s", site, dir, name), data);
	}
	opname(op, fake_wall(), pid);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		assert_int_equal(del(f, &who, site, dir, name, false), 0);
	}
	assert_int_equal(del(f, &who, site, "", dir, true), 0);
	assert_true(exists(bp(f, "%s/.trash/%s/%s", site, op, dir)));
	assert_false(exists(bp(f, "%s/%s", site, dir)));
}

static bool in_index(struct fx *f, const char *scope, const char *op)
{
	struct op_record r;
	int rc = index_get(f->ix, scope, op, &r);

	assert_true(rc == 0 || rc == -ENOENT);
	return rc == 0;
}

static bool op_present(struct fx *f, const char *site, const char *op)
{
	return exists(bp(f, "%s/.trash/%s", site, op));
}

/* Gone from the backing store and from the index. */
static void assert_purged(struct fx *f, const char *site, const char *op)
{
	if (op_present(f, site, op))
		fail_msg("op %s/%s still in the backing store", site, op);
	if (in_index(f, site, op))
		fail_msg("op %s/%s still in the index", site, op);
}

static void assert_kept(struct fx *f, const char *site, const char *op)
{
	if (!op_present(f, site, op))
		fail_msg("op %s/%s was purged from the backing store", site, op);
	if (!in_index(f, site, op))
		fail_msg("op %s/%s lost its index record", site, op);
}

static void status(struct fx *f, struct sweep_status *st)
{
	memset(st, 0xa5, sizeof(*st));
	sweep_get_status(f->s, st);
}

static void tick(struct fx *f)
{
	assert_int_equal(trash_tick(f->t), 0);
}

/* ---- expiry --------------------------------------------------------------- */

/* Nothing goes before its expiry; at expiry the op leaves the backing store
 * and the index; the sleep returned is the time to the next expiry. */
static void test_purge_at_expiry(void **state)
{
	struct fx *f = *state;
	struct sweep_status st;
	struct trash_usage u;
	struct op_record r;
	char op[NAME_MAX + 1];
	int64_t sleep_ns;

	make_op(f, "site", "tree", 6, 101, op);
	advance(2 * NS, 2 * NS);
	tick(f);   /* op_gap passed: closed */
	assert_int_equal(index_get(f->ix, "site", op, &r), 0);
	assert_int_equal(r.state, OP_CLOSED);
	assert_int_equal(r.retention_s, RETENTION);
	assert_int_equal(oprec_expiry(&r), T0S + RETENTION);
	assert_int_equal(r.items, 7);

	assert_int_equal(trash_usage(f->t, "site", &u), 0);
	assert_int_equal(u.ops, 1);
	assert_int_equal(u.items, 7);
	assert_true(u.bytes > 0);
	assert_int_equal(u.next_expiry_s, T0S + RETENTION);
	assert_int_equal(u.oldest_ns, T0);

	sleep_ns = sweep_pass(f->s);
	assert_kept(f, "site", op);
	/* sleeps until the expiry (98 s away), not the 1 h interval */
	assert_true(sleep_ns > 97 * NS && sleep_ns <= 98 * NS);

	advance_to(RETENTION - 1);
	sweep_pass(f->s);
	assert_kept(f, "site", op);
	assert_int_equal(tree_count(bp(f, "site/.trash/%s", op)), 7);
	assert_int_equal(f->npurged, 0);

	advance_to(RETENTION);
	sweep_pass(f->s);
	assert_purged(f, "site", op);
	assert_int_equal(f->npurged, 1);
	assert_string_equal(f->purged[0], op);
	assert_int_equal(f->purged_removed[0], 7);
	status(f, &st);
	assert_int_equal(st.purged_ops, 1);
	assert_int_equal(st.purged_entries, 7);
	assert_int_equal(st.last_error, 0);
	assert_int_equal(st.lag_s, 0);
	/* the pass's end on the wall clock, for the "sweeper not passing" alert */
	assert_int_equal(st.last_pass_s, fake_wall() / NS);

	assert_int_equal(trash_usage(f->t, "site", &u), 0);
	assert_int_equal(u.ops, 0);
	assert_int_equal(u.items, 0);
	assert_int_equal(u.bytes, 0);
	assert_int_equal(u.next_expiry_s, 0);
	assert_int_equal(trash_op_get(f->t, "site", op, &r), -ENOENT);

	/* an empty index: the interval */
	assert_int_equal(sweep_pass(f->s), INTERVAL_NS);
	assert_int_equal(f->npurged, 1);
}

/* An op still open (its process may go on deleting) is never purged, even
 * past its expiry; once closed by the tick it goes. */
static void test_open_op_not_purged(void **state)
{
	struct fx *f = *state;
	struct op_record r;
	char op[NAME_MAX + 1];

	make_op(f, "site", "tree", 3, 102, op);
	/* past its expiry, but no tick ran: the op is still open */
	advance((RETENTION + 10) * NS, (RETENTION + 10) * NS);
	assert_int_equal(trash_op_get(f->t, "site", op, &r), 0);
	assert_int_equal(r.state, OP_OPEN);
	assert_int_equal(trash_purge_begin(f->t, "site", op), -EBUSY);
	sweep_pass(f->s);
	assert_kept(f, "site", op);
	assert_int_equal(tree_count(bp(f, "site/.trash/%s", op)), 4);
	assert_int_equal(f->npurged, 0);

	tick(f);
	assert_int_equal(trash_op_get(f->t, "site", op, &r), 0);
	assert_int_equal(r.state, OP_CLOSED);
	sweep_pass(f->s);
	assert_purged(f, "site", op);
	assert_int_equal(f->npurged, 1);
}

/* Earliest expiry first; a later op waits for its own time. */
static void test_order(void **state)
{
	struct fx *f = *state;
	char a[NAME_MAX + 1], b[NAME_MAX + 1], c[NAME_MAX + 1], d[NAME_MAX + 1];

	make_op(f, "site", "a", 2, 201, a);     /* expires T0+100 */
	advance_to(10);
	make_op(f, "other", "b", 2, 202, b);    /* T0+110 */
	advance_to(20);
	make_op(f, "site", "c", 2, 203, c);     /* T0+120 */
	advance_to(50);
	make_op(f, "site", "d", 2, 204, d);     /* T0+150 */
	advance_to(52);
	tick(f);

	advance_to(105);
	sweep_pass(f->s);
	assert_purged(f, "site", a);
	assert_kept(f, "other", b);
	assert_kept(f, "site", c);
	assert_kept(f, "site", d);
	assert_int_equal(f->npurged, 1);

	advance_to(125);
	sweep_pass(f->s);
	assert_purged(f, "other", b);
	assert_purged(f, "site", c);
	assert_kept(f, "site", d);
	assert_int_equal(f->npurged, 3);
	assert_string_equal(f->purged[0], a);
	assert_string_equal(f->purged[1], b);   /* earliest first */
	assert_string_equal(f->purged[2], c);

	advance_to(149);
	sweep_pass(f->s);
	assert_kept(f, "site", d);
	advance_to(150);
	sweep_pass(f->s);
	assert_purged(f, "site", d);
	assert_int_equal(f->npurged, 4);
}

/* An op keeps the retention in force when it was deleted: the site's own
 * retention overrides the mount's for new ops; changing it later changes
 * no existing op's expiry. */
static void test_retention_inherited(void **state)
{
	struct fx *f = *state;
	char a[NAME_MAX + 1], b[NAME_MAX + 1], c[NAME_MAX + 1];
	struct op_record r;

	make_op(f, "site", "a", 2, 301, a);                 /* mount default: 100 s */
	assert_int_equal(sitepolicy_set_retention(f->bfd, "site", 1000, 0), 0);
	advance_to(1);
	make_op(f, "site", "b", 2, 302, b);                 /* 1000 s */
	make_op(f, "other", "c", 2, 303, c);                /* other site: 100 s */
	assert_int_equal(sitepolicy_set_retention(f->bfd, "site", 10, 0), 0);   /* lowered */
	advance_to(3);
	tick(f);
	assert_int_equal(index_get(f->ix, "site", a, &r), 0);
	assert_int_equal(r.retention_s, RETENTION);
	assert_int_equal(index_get(f->ix, "site", b, &r), 0);
	assert_int_equal(r.retention_s, 1000);
	assert_int_equal(oprec_expiry(&r), T0S + 1 + 1000);
	assert_int_equal(index_get(f->ix, "other", c, &r), 0);
	assert_int_equal(r.retention_s, RETENTION);

	advance_to(20);   /* past the lowered 10 s, before anything's promise */
	sweep_pass(f->s);
	assert_kept(f, "site", a);
	assert_kept(f, "site", b);
	assert_kept(f, "other", c);

	advance_to(200);
	sweep_pass(f->s);
	assert_purged(f, "site", a);
	assert_purged(f, "other", c);
	assert_kept(f, "site", b);   /* lowering did not shorten its promise */

	advance_to(1001);
	sweep_pass(f->s);
	assert_purged(f, "site", b);
}

/* ---- legal hold ----------------------------------------------------------- */

static void test_op_hold(void **state)
{
	struct fx *f = *state;
	char a[NAME_MAX + 1], b[NAME_MAX + 1];
	struct trash_usage u;
	struct op_record r;

	make_op(f, "site", "a", 3, 401, a);
	make_op(f, "site", "b", 3, 402, b);
	advance_to(2);
	tick(f);
	assert_int_equal(trash_op_set_hold(f->t, "site", a, true), 0);
	assert_int_equal(index_get(f->ix, "site", a, &r), 0);
	assert_int_equal(r.hold, 1);
	assert_int_equal(trash_op_get(f->t, "site", a, &r), 0);
	assert_int_equal(r.hold, 1);

	/* ten years later */
	advance(INT64_C(10) * 365 * 86400 * NS, INT64_C(10) * 365 * 86400 * NS);
	sweep_pass(f->s);
	assert_kept(f, "site", a);
	assert_int_equal(tree_count(bp(f, "site/.trash/%s", a)), 4);
	assert_purged(f, "site", b);   /* its neighbour went */
	assert_int_equal(trash_purge_begin(f->t, "site", a), -EPERM);
	sweep_pass(f->s);
	assert_kept(f, "site", a);
	assert_int_equal(trash_usage(f->t, "site", &u), 0);
	assert_int_equal(u.ops, 1);
	assert_int_equal(u.next_expiry_s, 0);   /* a held op expires never */

	assert_int_equal(trash_op_set_hold(f->t, "site", a, false), 0);
	sweep_pass(f->s);
	assert_purged(f, "site", a);
	assert_int_equal(f->npurged, 2);
}

/* A hold set while the op is still open is kept when it closes. */
static void test_op_hold_while_open(void **state)
{
	struct fx *f = *state;
	char a[NAME_MAX + 1];
	struct op_record r;

	make_op(f, "site", "a", 2, 403, a);
	assert_int_equal(trash_op_set_hold(f->t, "site", a, true), 0);
	advance_to(5);
	tick(f);
	assert_int_equal(index_get(f->ix, "site", a, &r), 0);
	assert_int_equal(r.state, OP_CLOSED);
	assert_int_equal(r.hold, 1);
	advance_to(100000);
	sweep_pass(f->s);
	assert_kept(f, "site", a);
	/* and survives a restart */
	close_engine(f);
	open_engine(f);
	sweep_pass(f->s);
	assert_kept(f, "site", a);
	assert_int_equal(index_get(f->ix, "site", a, &r), 0);
	assert_int_equal(r.hold, 1);
}

static void test_site_hold(void **state)
{
	struct fx *f = *state;
	char a[NAME_MAX + 1], b[NAME_MAX + 1], c[NAME_MAX + 1];
	struct site_policy p;

	make_op(f, "site", "a", 3, 501, a);
	make_op(f, "other", "b", 3, 502, b);
	advance_to(2);
	tick(f);
	assert_int_equal(sitepolicy_set_hold(f->bfd, "site", true), 0);
	assert_int_equal(sitepolicy_get(f->bfd, "site", &p), 0);
	assert_true(p.hold);

	advance(INT64_C(10) * 365 * 86400 * NS, INT64_C(10) * 365 * 86400 * NS);
	sweep_pass(f->s);
	assert_kept(f, "site", a);
	assert_purged(f, "other", b);   /* other sites are not held */

	/* an op deleted while the site is held is held too */
	make_op(f, "site", "c", 1, 503, c);
	advance(200 * NS, 200 * NS);
	tick(f);
	sweep_pass(f->s);
	assert_kept(f, "site", a);
	assert_kept(f, "site", c);

	assert_int_equal(sitepolicy_set_hold(f->bfd, "site", false), 0);
	sweep_pass(f->s);
	assert_purged(f, "site", a);
	assert_purged(f, "site", c);
	assert_int_equal(f->npurged, 3);
}

/* ---- clock safety --------------------------------------------------------- */

/* Expiry goes by the trusted elapsed clock (here: the fake boot clock, as
 * no clock file is open).  Wall clock 3 h ahead already when the op is
 * made and when the sweeper starts: nothing goes before 100 s of elapsed
 * time, then it does.  The wall clock only earns a notice. */
static void test_clock_ahead_from_start(void **state)
{
	struct fx *f = *state;
	char a[NAME_MAX + 1];
	struct sweep_status st;

	advance(3 * 3600 * NS, 0);               /* wrong before anything ran */
	make_op(f, "site", "a", 2, 601, a);
	advance(2 * NS, 2 * NS);
	tick(f);
	sweep_pass(f->s);
	advance(3 * 3600 * NS, NS);              /* and it jumps again */
	sweep_pass(f->s);
	assert_kept(f, "site", a);
	status(f, &st);
	assert_true(st.skew_s >= 3 * 3600 - 2 && st.skew_s <= 3 * 3600);
	assert_int_equal(st.elapsed_s, (M0 + 3 * NS) / NS);
	assert_true(f->nnotice >= 1);
	assert_non_null(strstr(f->notice, "elapsed time"));

	advance(96 * NS, 96 * NS);               /* 99 s elapsed */
	sweep_pass(f->s);
	assert_kept(f, "site", a);
	advance(NS, NS);                         /* 100 s */
	sweep_pass(f->s);
	assert_purged(f, "site", a);
}

/* Op "a" of site, deleted now by pid and closed 2 s later. */
static void make_closed_op(struct fx *f, uint32_t pid, char *op)
{
	make_op(f, "site", "a", 1, pid, op);
	advance(2 * NS, 2 * NS);
	tick(f);
}

/* Move the wall clock by dw and the boot clock by dm, run a pass, and
 * check whether op is gone. */
static void pass_after(struct fx *f, int64_t dw, int64_t dm, const char *op, bool gone)
{
	advance(dw, dm);
	sweep_pass(f->s);
	if (gone)
		assert_purged(f, "site", op);
	else
		assert_kept(f, "site", op);
}

/* Creeping: +50 min of wall clock per second of real time, forever.  No
 * single step is large; nothing is purged before 100 s elapsed anyway. */
static void test_clock_creeping(void **state)
{
	struct fx *f = *state;
	char a[NAME_MAX + 1];

	make_closed_op(f, 611, a);
	for (int i = 2; i < RETENTION - 1; i++)
		pass_after(f, 3000 * NS, NS, a, false);
	assert_int_equal(f->npurged, 0);         /* 99 s elapsed, ~3 days of wall */
	pass_after(f, 3000 * NS, NS, a, true);
}

/* Deleted while the wall clock was 2 h behind, then the clock is set
 * right (a +2 h step): still 100 s of elapsed time, not 0. */
static void test_clock_behind_then_fixed(void **state)
{
	struct fx *f = *state;
	char a[NAME_MAX + 1];

	advance(-2 * 3600 * NS, 0);
	make_closed_op(f, 621, a);
	pass_after(f, 0, 0, a, false);
	pass_after(f, 2 * 3600 * NS + 10 * NS, 10 * NS, a, false);   /* corrected */
	pass_after(f, 88 * NS, 88 * NS, a, true);                    /* 100 s elapsed */
}

/* A backward jump (a day) delays nothing: elapsed time still counts. */
static void test_clock_backward(void **state)
{
	struct fx *f = *state;
	char a[NAME_MAX + 1];

	make_closed_op(f, 631, a);
	pass_after(f, -86400 * NS, NS, a, false);
	pass_after(f, 97 * NS, 97 * NS, a, true);   /* 100 s elapsed */
}

/* Ops are stamped on the trusted clock; a deletion re-stamps its op. */
static void test_clock_stamp(void **state)
{
	struct fx *f = *state;
	char a[NAME_MAX + 1];
	struct op_record r;

	make_op(f, "site", "a", 1, 641, a);
	advance(2 * NS, 2 * NS);
	tick(f);
	assert_int_equal(index_get(f->ix, "site", a, &r), 0);
	assert_int_equal(r.last_el_ns, M0);
	assert_int_equal(oprec_due(&r), M0 / NS + RETENTION);
	assert_int_equal(oprec_expiry(&r), T0S + RETENTION);   /* for display */
}

/* ---- legal hold during a purge ------------------------------------------ */

/* A hold placed on the op (or its site) while it is being purged stops the
 * purge at the next step; the op stays PURGING and held, nothing leaves
 * it, the sweeper leaves it alone; after the release it is finished. */
static void hold_mid_purge(struct fx *f, bool site)
{
	char a[NAME_MAX + 1];
	struct undo_result res = {0};
	uint64_t removed = 0;
	bool done = false;
	struct op_record r;

	make_op(f, "site", "a", 10, 651, a);     /* 11 entries */
	advance_to(3);
	tick(f);
	advance_to(RETENTION + 5);
	assert_int_equal(trash_may_leave(f->t, "site", a), 0);
	assert_int_equal(trash_purge_begin(f->t, "site", a), 0);
	assert_int_equal(trash_purge_step(f->t, "site", a, 3, &done, &removed), 0);
	assert_int_equal(removed, 3);
	/* half purged: not restorable */
	assert_int_equal(trash_may_leave(f->t, "site", a), -EBUSY);
	assert_int_equal(trash_undo(f->t, "site", a, NULL, NULL, NULL, &res), -EBUSY);

	if (site)
		assert_int_equal(sitepolicy_set_hold(f->bfd, "site", true), 0);
	else
		assert_int_equal(trash_op_set_hold(f->t, "site", a, true), 0);
	assert_int_equal(trash_purge_step(f->t, "site", a, 3, &done, &removed), -EPERM);
	assert_false(done);
	assert_int_equal(removed, 3);
	assert_int_equal(tree_count(bp(f, "site/.trash/%s", a)), 8);
	assert_int_equal(trash_may_leave(f->t, "site", a), -EPERM);   /* held wins */
	assert_int_equal(trash_undo(f->t, "site", a, NULL, NULL, NULL, &res), -EPERM);
	assert_int_equal(res.moved, 0);
	sweep_pass(f->s);
	sweep_pass(f->s);
	assert_kept(f, "site", a);
	assert_int_equal(tree_count(bp(f, "site/.trash/%s", a)), 8);
	assert_int_equal(index_get(f->ix, "site", a, &r), 0);
	assert_int_equal(r.state, OP_PURGING);
	assert_int_equal(trash_purge_begin(f->t, "site", a), -EPERM);

	if (site)
		assert_int_equal(sitepolicy_set_hold(f->bfd, "site", false), 0);
	else
		assert_int_equal(trash_op_set_hold(f->t, "site", a, false), 0);
	sweep_pass(f->s);
	assert_purged(f, "site", a);
	assert_int_equal(f->npurged, 1);
}

static void test_op_hold_stops_purge(void **state)
{
	hold_mid_purge(*state, false);
}

static void test_site_hold_stops_purge(void **state)
{
	hold_mid_purge(*state, true);
}

/* A held op refuses to be undone; a held site too. */
static void test_hold_refuses_undo(void **state)
{
	struct fx *f = *state;
	char a[NAME_MAX + 1];
	struct undo_result res = {0};

	make_op(f, "site", "a", 2, 661, a);
	advance_to(3);
	tick(f);
	assert_int_equal(sitepolicy_set_hold(f->bfd, "site", true), 0);
	assert_int_equal(trash_may_leave(f->t, "site", a), -EPERM);
	assert_int_equal(trash_undo(f->t, "site", a, NULL, NULL, NULL, &res), -EPERM);
	assert_int_equal(res.moved, 0);
	assert_false(exists(bp(f, "site/a")));
	assert_int_equal(sitepolicy_set_hold(f->bfd, "site", false), 0);
	assert_int_equal(trash_undo(f->t, "site", a, NULL, NULL, NULL, &res), 0);
	assert_true(exists(bp(f, "site/a/f1")));
}

/* ---- crash resume --------------------------------------------------------- */

/* PURGING survives a restart half done; the next sweeper finishes it first,
 * counting it once. */
static void test_resume_after_crash(void **state)
{
	struct fx *f = *state;
	char a[NAME_MAX + 1], b[NAME_MAX + 1];
	struct sweep_status st;
	struct op_record r;
	uint64_t removed = 0;
	bool done = true;
	char buf[OPREC_ENC_MAX];
	ssize_t len;

	make_op(f, "site", "a", 10, 701, a);     /* 11 entries */
	make_op(f, "site", "b", 2, 702, b);
	advance_to(3);
	tick(f);
	advance_to(RETENTION + 5);
	assert_int_equal(trash_purge_begin(f->t, "site", a), 0);
	assert_int_equal(index_get(f->ix, "site", a, &r), 0);
	assert_int_equal(r.state, OP_PURGING);
	len = getxattr(bp(f, "site/.trash/%s", a), OPREC_XATTR, buf, sizeof(buf));
	assert_true(len > 0);
	assert_int_equal(oprec_decode(buf, (size_t)len, &r), 0);
	assert_int_equal(r.state, OP_PURGING);   /* the truth says so too */

	assert_int_equal(trash_purge_step(f->t, "site", a, 3, &done, &removed), 0);
	assert_false(done);
	assert_int_equal(removed, 3);
	assert_int_equal(tree_count(bp(f, "site/.trash/%s", a)), 11 - 3);

	/* restart: engine and index closed and reopened, reconcile run */
	close_engine(f);
	open_engine(f);
	assert_int_equal(index_get(f->ix, "site", a, &r), 0);
	assert_int_equal(r.state, OP_PURGING);
	assert_int_equal(trash_op_get(f->t, "site", a, &r), 0);
	assert_int_equal(r.state, OP_PURGING);   /* never shown as complete */
	assert_int_equal(tree_count(bp(f, "site/.trash/%s", a)), 8);

	sweep_pass(f->s);
	assert_purged(f, "site", a);
	assert_purged(f, "site", b);             /* due as well */
	for (int i = 0; i < f->npurged && i < 16; i++)
		print_message("# purged #%d: %s (%llu entries)\n", i, f->purged[i],
			      (unsigned long long)f->purged_removed[i]);
	assert_int_equal(f->npurged, 2);         /* each op reported once */
	assert_string_equal(f->purged[0], a);    /* the half-purged one first */
	status(f, &st);
	assert_int_equal(st.purged_ops, 2);
	assert_int_equal(st.purged_entries, 8 + 3);
	assert_int_equal(st.last_error, 0);
}

/* An operator's purge (before expiry) interrupted by a crash is finished by
 * the next sweeper's first pass, although the op is not yet due. */
static void test_resume_not_yet_due(void **state)
{
	struct fx *f = *state;
	char a[NAME_MAX + 1], b[NAME_MAX + 1];
	uint64_t removed = 0;
	bool done;

	make_op(f, "site", "a", 10, 711, a);
	make_op(f, "site", "b", 2, 712, b);
	advance_to(3);
	tick(f);
	assert_int_equal(trash_purge_begin(f->t, "site", a), 0);
	assert_int_equal(trash_purge_step(f->t, "site", a, 3, &done, &removed), 0);
	assert_false(done);

	close_engine(f);
	open_engine(f);
	sweep_pass(f->s);
	assert_purged(f, "site", a);
	assert_kept(f, "site", b);               /* not due: untouched */
	assert_int_equal(tree_count(bp(f, "site/.trash/%s", b)), 3);
	assert_int_equal(f->npurged, 1);
}

/* A crash after the op directory was removed but before its record was
 * dropped: reconcile drops it, nothing else happens. */
static void test_resume_dir_already_gone(void **state)
{
	struct fx *f = *state;
	char a[NAME_MAX + 1];
	uint64_t removed = 0;
	bool done = false;

	make_op(f, "site", "a", 2, 721, a);
	advance_to(3);
	tick(f);
	assert_int_equal(trash_purge_begin(f->t, "site", a), 0);
	/* remove the tree behind the engine's back, keep the record */
	assert_int_equal(nftw(bp(f, "site/.trash/%s", a), rm_one, 8, FTW_DEPTH | FTW_PHYS), 0);
	assert_true(in_index(f, "site", a));
	assert_int_equal(trash_purge_step(f->t, "site", a, 3, &done, &removed), 0);
	assert_true(done);
	assert_int_equal(removed, 0);
	assert_purged(f, "site", a);
}

/* ---- purge safety ----------------------------------------------------------- */

/* Between two steps something is restored (moved out of the op): the rest
 * of the purge never touches it; another op is not involved at all. */
static void test_restore_between_steps(void **state)
{
	struct fx *f = *state;
	char a[NAME_MAX + 1], y[NAME_MAX + 1], from[PATH_MAX];
	uint64_t removed = 0;
	bool done = false;
	int steps = 0, k = -1;

	make_op(f, "site", "x", 8, 801, a);
	make_op(f, "site", "y", 8, 802, y);
	advance_to(RETENTION + 10);
	tick(f);
	assert_int_equal(trash_purge_begin(f->t, "site", y), 0);
	assert_int_equal(trash_purge_step(f->t, "site", y, 3, &done, &removed), 0);
	assert_false(done);
	assert_int_equal(removed, 3);
	assert_int_equal(tree_count(bp(f, "site/.trash/%s", y)), 9 - 3);
	/* restore a file the first step left */
	for (int i = 0; i < 8 && k < 0; i++)
		if (exists(bp(f, "site/.trash/%s/y/f%d", y, i)))
			k = i;
	assert_true(k >= 0);
	snprintf(from, sizeof(from), "%s", bp(f, "site/.trash/%s/y/f%d", y, k));
	assert_int_equal(rename(from, bp(f, "site/restored")), 0);
	trash_note_restore(f->t, "site", y);
	while (!done && steps++ < 100)
		assert_int_equal(trash_purge_step(f->t, "site", y, 3, &done, &removed), 0);
	assert_true(done);
	assert_purged(f, "site", y);
	assert_int_equal(removed, 9 - 1);
	{
		char want[32];

		snprintf(want, sizeof(want), "y/f%d", k);
		assert_content(bp(f, "site/restored"), want);
		tick(f);   /* the pending restore finds the op gone: harmless */
		assert_purged(f, "site", y);
		assert_content(bp(f, "site/restored"), want);
	}
	assert_kept(f, "site", a);
	assert_int_equal(tree_count(bp(f, "site/.trash/%s", a)), 9);
}

/* A whole directory restored out of a purging op survives with its content. */
static void test_restore_dir_between_steps(void **state)
{
	struct fx *f = *state;
	char a[NAME_MAX + 1];
	struct caller who = who_pid(811);
	uint64_t removed = 0;
	bool done = false;
	const char *whole = NULL;
	int steps = 0;

	/* one op holding p/ and q/, 6 files each */
	assert_int_equal(mkdir(bp(f, "site/p"), 0755), 0);
	assert_int_equal(mkdir(bp(f, "site/q"), 0755), 0);
	for (int i = 0; i < 6; i++) {
		write_file(bp(f, "site/p/f%d", i), "p-data");
		write_file(bp(f, "site/q/f%d", i), "q-data");
	}
	opname(a, fake_wall(), 811);
	for (int i = 0; i < 6; i++) {
		char n[16];

		snprintf(n, sizeof(n), "f%d", i);
		assert_int_equal(del(f, &who, "site", "p", n, false), 0);
		assert_int_equal(del(f, &who, "site", "q", n, false), 0);
	}
	assert_int_equal(del(f, &who, "site", "", "p", true), 0);
	assert_int_equal(del(f, &who, "site", "", "q", true), 0);
	advance_to(RETENTION + 5);
	tick(f);
	assert_int_equal(trash_purge_begin(f->t, "site", a), 0);
	assert_int_equal(trash_purge_step(f->t, "site", a, 3, &done, &removed), 0);
	assert_false(done);
	/* deepest first, one directory at a time: one of p/q is still whole */
	if (tree_count(bp(f, "site/.trash/%s/p", a)) == 6)
		whole = "p";
	else if (tree_count(bp(f, "site/.trash/%s/q", a)) == 6)
		whole = "q";
	assert_non_null(whole);
	assert_int_equal(rename(bp(f, "site/.trash/%s/%s", a, whole), bp(f, "site/back")), 0);
	trash_note_restore(f->t, "site", a);
	while (!done && steps++ < 100)
		assert_int_equal(trash_purge_step(f->t, "site", a, 3, &done, &removed), 0);
	assert_true(done);
	assert_purged(f, "site", a);
	assert_int_equal(tree_count(bp(f, "site/back")), 6);
	for (int i = 0; i < 6; i++)
		assert_content(bp(f, "site/back/f%d", i), *whole == 'p' ? "p-data" : "q-data");
	/* removed counts what the purge removed, nothing restored */
	assert_int_equal(removed, 13 - 6);
}

/* Symlinks in an op are removed, never followed. */
static void test_symlinks_not_followed(void **state)
{
	struct fx *f = *state;
	struct caller who = who_pid(821);
	char a[NAME_MAX + 1];

	assert_int_equal(mkdir(bp(f, "other/precious"), 0755), 0);
	write_file(bp(f, "other/precious/keep"), "keep me");
	assert_int_equal(mkdir(bp(f, "site/l"), 0755), 0);
	assert_int_equal(symlink(bp(f, "other/precious"), bp(f, "site/l/abs")), 0);
	assert_int_equal(symlink("../../../other/precious", bp(f, "site/l/rel")), 0);
	assert_int_equal(symlink(bp(f, "other/precious/keep"), bp(f, "site/l/file")), 0);
	opname(a, fake_wall(), 821);
	assert_int_equal(del(f, &who, "site", "l", "abs", false), 0);
	assert_int_equal(del(f, &who, "site", "l", "rel", false), 0);
	assert_int_equal(del(f, &who, "site", "l", "file", false), 0);
	assert_int_equal(del(f, &who, "site", "", "l", true), 0);
	advance_to(RETENTION + 5);
	tick(f);
	sweep_pass(f->s);
	assert_purged(f, "site", a);
	assert_content(bp(f, "other/precious/keep"), "keep me");
	assert_int_equal(tree_count(bp(f, "other/precious")), 1);
}

/* Mount NAME at target (tmpfs, or a bind of src); false when not allowed. */
static bool try_mount(struct fx *f, const char *src, const char *target)
{
	int r = src ? mount(src, target, NULL, MS_BIND, NULL)
		    : mount("gracefs-test", target, "tmpfs", 0, "size=1m");

	if (r < 0)
		return false;
	snprintf(f->mounted, sizeof(f->mounted), "%s", target);
	return true;
}

/* A different filesystem mounted inside an op: the purge refuses (-EXDEV)
 * and never walks into it; once it is unmounted, the purge completes. */
static void test_foreign_fs_refused(void **state)
{
	struct fx *f = *state;
	struct caller who = who_pid(901);
	struct sweep_status st;
	char a[NAME_MAX + 1], m[PATH_MAX];
	uint64_t removed = 0;
	bool done = false;
	int r = 0, steps = 0;

	assert_int_equal(mkdir(bp(f, "site/t"), 0755), 0);
	assert_int_equal(mkdir(bp(f, "site/t/m"), 0755), 0);
	write_file(bp(f, "site/t/f"), "plain");
	opname(a, fake_wall(), 901);
	assert_int_equal(del(f, &who, "site", "t", "m", true), 0);
	assert_int_equal(del(f, &who, "site", "t", "f", false), 0);
	assert_int_equal(del(f, &who, "site", "", "t", true), 0);
	advance_to(3);
	tick(f);
	snprintf(m, sizeof(m), "%s", bp(f, "site/.trash/%s/t/m", a));
	if (!try_mount(f, NULL, m))
		skip();
	write_file(bp(f, "site/.trash/%s/t/m/precious", a), "on tmpfs");

	/* the primitive itself */
	assert_int_equal(trash_purge_begin(f->t, "site", a), 0);
	while (!r && !done && steps++ < 100)
		r = trash_purge_step(f->t, "site", a, 1, &done, &removed);
	assert_int_equal(r, -EXDEV);
	assert_false(done);
	assert_content(bp(f, "site/.trash/%s/t/m/precious", a), "on tmpfs");
	assert_true(in_index(f, "site", a));

	/* through the sweeper: refused, reported, no busy loop */
	advance_to(RETENTION + 5);
	assert_int_equal(sweep_pass(f->s), INTERVAL_NS);
	status(f, &st);
	assert_int_equal(st.last_error, -EXDEV);
	assert_true(st.lag_s >= 5);
	assert_int_equal(st.purged_ops, 0);
	assert_non_null(strstr(f->notice, a));
	assert_content(bp(f, "site/.trash/%s/t/m/precious", a), "on tmpfs");
	assert_kept(f, "site", a);

	assert_int_equal(umount2(m, 0), 0);
	f->mounted[0] = '\0';
	assert_false(exists(bp(f, "site/.trash/%s/t/m/precious", a)));
	sweep_pass(f->s);
	assert_purged(f, "site", a);
	assert_int_equal(f->npurged, 1);
}

/* The same with a bind mount of a directory of the SAME filesystem (another
 * site's live data): st_dev does not tell it apart, yet it is a mount and
 * must not be walked (issue 3: "a bind mount inside an op dir is refused,
 * not walked"). */
static void test_bind_mount_refused(void **state)
{
	struct fx *f = *state;
	struct caller who = who_pid(911);
	char a[NAME_MAX + 1], m[PATH_MAX];
	uint64_t removed = 0;
	bool done = false;
	int r = 0, steps = 0;

	assert_int_equal(mkdir(bp(f, "other/live"), 0755), 0);
	for (int i = 0; i < 5; i++)
		write_file(bp(f, "other/live/f%d", i), "other site's live data");
	assert_int_equal(mkdir(bp(f, "site/t"), 0755), 0);
	assert_int_equal(mkdir(bp(f, "site/t/m"), 0755), 0);
	opname(a, fake_wall(), 911);
	assert_int_equal(del(f, &who, "site", "t", "m", true), 0);
	assert_int_equal(del(f, &who, "site", "", "t", true), 0);
	advance_to(RETENTION + 5);
	tick(f);
	snprintf(m, sizeof(m), "%s", bp(f, "site/.trash/%s/t/m", a));
	if (!try_mount(f, bp(f, "other/live"), m))
		skip();

	assert_int_equal(trash_purge_begin(f->t, "site", a), 0);
	while (!r && !done && steps++ < 100)
		r = trash_purge_step(f->t, "site", a, 2, &done, &removed);
	print_message("# purge of an op holding a same-fs bind mount: %s after %d steps, "
		      "%llu removed, %d of 5 files of other/live left\n",
		      r ? strerror(-r) : "no error", steps, (unsigned long long)removed,
		      tree_count(bp(f, "other/live")));
	/* whatever the error, the other site's files must all be there */
	assert_int_equal(tree_count(bp(f, "other/live")), 5);
	for (int i = 0; i < 5; i++)
		assert_content(bp(f, "other/live/f%d", i), "other site's live data");
	assert_int_equal(r, -EXDEV);
	assert_false(done);
}

/* ---- deleted whole sites (root scope) ------------------------------------- */

/* rmdir of a whole site as pid (the site holds nothing but its .trash). */
static void delete_site(struct fx *f, const char *site, uint32_t pid, char *op)
{
	struct caller who = who_pid(pid);
	struct trash_loc loc = { .site = NULL, .rel = NULL, .dirfd = f->bfd, .name = site };

	opname(op, fake_wall(), pid);
	assert_int_equal(trash_delete(f->t, &who, &loc, true, NULL), 0);
	assert_false(exists(bp(f, "%s", site)));
	assert_true(exists(bp(f, ".gracefs/trash/%s/%s", op, site)));
}

static bool root_op_present(struct fx *f, const char *op)
{
	return exists(bp(f, ".gracefs/trash/%s", op));
}

/* Deleted sites expire like any op; a site's hold goes with it. */
static void test_deleted_sites(void **state)
{
	struct fx *f = *state;
	char r1[NAME_MAX + 1], r2[NAME_MAX + 1];
	struct op_record r;

	assert_int_equal(mkdir(bp(f, "plain"), 0755), 0);
	assert_int_equal(mkdir(bp(f, "heldsite"), 0755), 0);
	assert_int_equal(sitepolicy_set_hold(f->bfd, "heldsite", true), 0);
	delete_site(f, "plain", 1101, r1);
	delete_site(f, "heldsite", 1102, r2);
	advance_to(3);
	tick(f);
	assert_int_equal(index_get(f->ix, "", r1, &r), 0);
	assert_int_equal(r.hold, 0);
	assert_int_equal(index_get(f->ix, "", r2, &r), 0);
	assert_int_equal(r.hold, 1);

	advance_to(RETENTION + 1000);
	sweep_pass(f->s);
	assert_false(root_op_present(f, r1));
	assert_false(in_index(f, "", r1));
	assert_true(root_op_present(f, r2));
	assert_true(in_index(f, "", r2));
	assert_true(exists(bp(f, ".gracefs/trash/%s/heldsite/.trash", r2)));

	assert_int_equal(trash_op_set_hold(f->t, "", r2, false), 0);
	sweep_pass(f->s);
	assert_false(root_op_present(f, r2));
	assert_false(in_index(f, "", r2));
	assert_int_equal(f->npurged, 2);
}

/* A site holding a held op (or one promised a longer retention) is deleted
 * whole: its trash goes inside the root op.  Purging the root op at the
 * mount's retention would destroy the held op: the promise and the hold
 * must survive the move. */
static void test_deleted_site_keeps_inner_promises(void **state)
{
	struct fx *f = *state;
	char held[NAME_MAX + 1], longer[NAME_MAX + 1], root[NAME_MAX + 1];

	assert_int_equal(mkdir(bp(f, "gone"), 0755), 0);
	make_op(f, "gone", "h", 2, 1201, held);
	assert_int_equal(sitepolicy_set_retention(f->bfd, "gone", 5000, 0), 0);
	make_op(f, "gone", "l", 2, 1202, longer);          /* promised T0+5000 */
	assert_int_equal(sitepolicy_set_retention(f->bfd, "gone", 0, 0), 0);
	advance_to(3);
	tick(f);
	assert_int_equal(trash_op_set_hold(f->t, "gone", held, true), 0);
	delete_site(f, "gone", 1203, root);
	advance_to(6);
	tick(f);

	advance_to(RETENTION + 100);                       /* the root op is due */
	sweep_pass(f->s);
	if (!exists(bp(f, ".gracefs/trash/%s/gone/.trash/%s/h/f0", root, held)))
		fail_msg("a held op inside a deleted site was purged with it");
	if (!exists(bp(f, ".gracefs/trash/%s/gone/.trash/%s/l/f0", root, longer)))
		fail_msg("an op promised 5000 s inside a deleted site was purged after %d s",
			 RETENTION + 100);
}

/* More due ops than one pass handles: the next pass follows soon, not
 * after the whole interval. */
static void test_many_due(void **state)
{
	struct fx *f = *state;
	enum { N = 4100 };
	struct caller who;
	char name[32];
	uint64_t n;
	int64_t sleep_ns;

	for (uint32_t i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "e%u", i);
		assert_int_equal(mkdir(bp(f, "site/%s", name), 0755), 0);
		who = who_pid(20000 + i);
		assert_int_equal(del(f, &who, "site", "", name, true), 0);
	}
	advance_to(3);
	tick(f);
	assert_int_equal(index_count(f->ix, &n), 0);
	assert_int_equal(n, N);
	advance_to(RETENTION + 10);
	sleep_ns = sweep_pass(f->s);
	assert_int_equal(index_count(f->ix, &n), 0);
	if (n > 0) {
		if (sleep_ns >= INTERVAL_NS)
			fail_msg("%llu due ops left after a pass, yet it sleeps the whole "
				 "interval (%lld s)", (unsigned long long)n,
				 (long long)(sleep_ns / NS));
		sweep_pass(f->s);
		assert_int_equal(index_count(f->ix, &n), 0);
	}
	assert_int_equal(n, 0);
	assert_int_equal(f->npurged, N);
}

/* ---- the thread ------------------------------------------------------------ */

static void test_thread(void **state)
{
	struct fx *f = *state;
	char a[NAME_MAX + 1];
	struct timespec ms10 = { 0, 10 * 1000 * 1000 };
	int i;

	make_op(f, "site", "a", 20, 1001, a);
	advance_to(3);
	tick(f);
	assert_int_equal(sweep_start(f->s), 0);
	nanosleep(&ms10, NULL);
	nanosleep(&ms10, NULL);
	assert_kept(f, "site", a);      /* first pass ran: nothing due */
	advance_to(RETENTION + 1);
	sweep_kick(f->s);
	for (i = 0; i < 500 && atomic_load(&f->npurged) == 0; i++)
		nanosleep(&ms10, NULL);
	assert_int_equal(atomic_load(&f->npurged), 1);
	sweep_stop(f->s);
	assert_purged(f, "site", a);
	sweep_stop(f->s);               /* twice is fine */
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_purge_at_expiry),
		T(test_open_op_not_purged),
		T(test_order),
		T(test_retention_inherited),
		T(test_op_hold),
		T(test_op_hold_while_open),
		T(test_site_hold),
		T(test_clock_ahead_from_start),
		T(test_clock_creeping),
		T(test_clock_behind_then_fixed),
		T(test_clock_backward),
		T(test_clock_stamp),
		T(test_op_hold_stops_purge),
		T(test_site_hold_stops_purge),
		T(test_hold_refuses_undo),
		T(test_resume_after_crash),
		T(test_resume_not_yet_due),
		T(test_resume_dir_already_gone),
		T(test_restore_between_steps),
		T(test_restore_dir_between_steps),
		T(test_symlinks_not_followed),
		T(test_foreign_fs_refused),
		T(test_bind_mount_refused),
		T(test_deleted_sites),
		T(test_deleted_site_keeps_inner_promises),
		T(test_many_due),
		T(test_thread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
