/*
 * test_vattr — the virtual user.gracefs.* attributes, on a real trash
 * engine (mkdtemp BACKING with sites "site" and "other", LMDB index) and a
 * sweeper that is not started, with fake clocks.  Needs root (trusted.*
 * xattrs, chown).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <cmocka.h>

#include "store/index.h"
#include "store/opxattr.h"
#include "engine/sitepolicy.h"
#include "engine/sweep.h"
#include "lib/sys.h"
#include "engine/trash.h"
#include "lib/util.h"
#include "engine/vattr.h"
#include "testutil.h"

#pragma GCC diagnostic ignored "-Wformat-truncation"

#define NS INT64_C(1000000000)
#define T0S INT64_C(1893456000)           /* 2030-01-01T00:00:00Z */
#define T0 (T0S * NS)
#define RETENTION 100
#define FLOOR 86400
#define P OPATTR_PREFIX

static int64_t fake_wall_v, fake_mono_v;
static int64_t fake_wall(void) { return fake_wall_v; }
static int64_t fake_mono(void) { return fake_mono_v; }

struct fx {
	char tmp[64];
	char b[96];
	char idx[96];
	int bfd;
	struct index *ix;
	struct trash *t;
	struct sweep *s;
	struct vattr_ctx c;
	struct relpath rel;
	char op[NAME_MAX + 1];    /* one closed op in "site": dir d with 3 files */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct trash_conf tc = { .retention_s = RETENTION, .op_gap_ns = NS };
	struct sweep_conf sc = { .interval_ns = 3600 * NS, .jump_ns = 3600 * NS };
	char p[160];

	assert_non_null(f);
	strcpy(f->tmp, "/tmp/gracefs-va-XXXXXX");
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
	fake_wall_v = T0;
	fake_mono_v = 1000 * NS;
	sys.wall_ns = fake_wall;
	sys.mono_ns = fake_mono;

	assert_int_equal(index_open(&f->ix, f->idx), 0);
	assert_int_equal(trash_open(&f->t, f->bfd, f->ix, &tc), 0);
	sc.backing_fd = f->bfd;
	assert_int_equal(sweep_new(&f->s, f->t, f->ix, &sc), 0);
	f->c = (struct vattr_ctx){ .trash = f->t, .sweep = f->s, .backing_fd = f->bfd,
				   .retention_s = RETENTION, .min_retention_s = FLOOR };
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	sweep_free(f->s);
	trash_close(f->t);
	index_close(f->ix);
	sys_reset();
	close(f->bfd);
	assert_int_equal(rm_tree(f->tmp), 0);
	free(f);
	return 0;
}

static const char *bp(struct fx *f, const char *rel)
{
	static char bufs[4][PATH_MAX];
	static int i;
	char *b = bufs[i++ % 4];

	snprintf(b, PATH_MAX, "%s/%s", f->b, rel);
	return b;
}

static void write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);
}

static int del(struct fx *f, const struct caller *who, const char *dir,
	       const char *name, bool want_dir)
{
	char p[PATH_MAX];
	struct trash_loc loc;
	int fd, r;

	snprintf(p, sizeof(p), "%s/site%s%s", f->b, *dir ? "/" : "", dir);
	fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	memset(&f->rel, 0, sizeof(f->rel));
	if (*dir)
		assert_int_equal(relpath_push(&f->rel, dir), 0);
	loc = (struct trash_loc){ .site = "site", .rel = &f->rel, .dirfd = fd, .name = name };
	r = trash_delete(f->t, who, &loc, want_dir, NULL);
	close(fd);
	return r;
}

/* rm -r site/d (3 files) as pid of uid at the current time; op gets its name. */
static void make_op_as(struct fx *f, const char *d, uint32_t pid, uid_t uid, char *op)
{
	struct caller who = { .uid = uid, .gid = uid, .pid = pid, .pid_start = 9 };
	char p[64];

	strcpy(who.cmd, "rm");
	strcpy(who.cmdline, "rm -r d");
	snprintf(p, sizeof(p), "site/%s", d);
	assert_int_equal(mkdir(bp(f, p), 0755), 0);
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "site/%s/f%d", d, i);
		write_file(bp(f, p), "some data");
	}
	assert_int_equal(util_op_name(fake_wall_v / NS, "rm", pid, 1, op, NAME_MAX + 1), 0);
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "f%d", i);
		assert_int_equal(del(f, &who, d, p, false), 0);
	}
	assert_int_equal(del(f, &who, "", d, true), 0);
}

static void make_op(struct fx *f, const char *d, uint32_t pid, char *op)
{
	make_op_as(f, d, pid, 1000, op);
}

static void close_ops(struct fx *f)
{
	fake_wall_v += 2 * NS;
	fake_mono_v += 2 * NS;
	assert_int_equal(trash_tick(f->t), 0);
}

/* vattr_get into a NUL-terminated static buffer; error names as text. */
static const char *get(struct fx *f, const struct vattr_at *at, const char *name)
{
	static char v[2048];
	ssize_t n = vattr_get(&f->c, at, name, v, sizeof(v) - 1);

	if (n < 0)
		snprintf(v, sizeof(v), "<%s>", n == -ENODATA ? "ENODATA" : n == -ERANGE
			 ? "ERANGE" : strerror((int)-n));
	else
		v[n] = '\0';
	return v;
}

static int set(struct fx *f, const struct vattr_at *at, const char *name,
	       const char *value, uid_t uid)
{
	return vattr_set(&f->c, at, name, value, strlen(value), uid);
}

static const struct vattr_at AT_ROOT = { VA_ROOT, "", NULL };
static const struct vattr_at AT_SITE = { VA_SITE_TRASH, "site", NULL };
static const struct vattr_at AT_OTHER = { VA_SITE_TRASH, "other", NULL };
static const struct vattr_at AT_RTRASH = { VA_ROOT_TRASH, "", NULL };
static const struct vattr_at AT_NONE = { VA_NONE, "site", NULL };

/* ---- list ------------------------------------------------------------------ */

/* The names, NUL-separated, joined with ',' for comparison. */
static const char *list(struct fx *f, const struct vattr_at *at)
{
	static char buf[1024], out[1024];
	size_t need = vattr_list(&f->c, at, NULL, 0), n;

	assert_true(need < sizeof(buf));
	n = vattr_list(&f->c, at, buf, sizeof(buf));
	assert_int_equal(n, need);
	if (need)
		assert_int_equal(buf[need - 1], '\0');
	for (size_t i = 0; i < need; i++)
		out[i] = buf[i] ? buf[i] : ',';
	out[need ? need - 1 : 0] = '\0';
	return out;
}

static void test_list(void **state)
{
	struct fx *f = *state;
	struct vattr_at at_op = { VA_OPDIR, "site", "whatever" };
	char small[8] = "xxxxxxx", want[1024] = "";
	size_t need;

	assert_string_equal(list(f, &AT_SITE),
		P "trash_bytes," P "trash_items," P "ops," P "oldest," P "next_expiry,"
		P "retention," P "hold");
	assert_string_equal(list(f, &AT_RTRASH), list(f, &AT_SITE));
	assert_string_equal(list(f, &AT_ROOT), P "sweeper," P "purged_ops");
	assert_int_equal(vattr_list(&f->c, &AT_NONE, NULL, 0), 0);

	/* op dirs: the op record's names */
	need = opattr_list(want, sizeof(want));
	assert_int_equal(vattr_list(&f->c, &at_op, NULL, 0), need);
	for (size_t i = 0; i + 1 < need; i++)
		if (!want[i])
			want[i] = ',';
	assert_string_equal(list(f, &at_op), want);
	assert_non_null(strstr(want, P "hold"));
	assert_non_null(strstr(want, P "expires"));
	assert_non_null(strstr(want, P "state"));

	/* too small: the size is returned, nothing copied */
	need = vattr_list(&f->c, &AT_SITE, small, sizeof(small));
	assert_true(need > sizeof(small));
	assert_string_equal(small, "xxxxxxx");
}

/* ---- get ------------------------------------------------------------------- */

static void test_get_site_trash(void **state)
{
	struct fx *f = *state;
	char want[64];
	struct trash_usage u;

	/* empty trash */
	assert_string_equal(get(f, &AT_SITE, P "ops"), "0");
	assert_string_equal(get(f, &AT_SITE, P "trash_items"), "0");
	assert_string_equal(get(f, &AT_SITE, P "trash_bytes"), "0");
	assert_string_equal(get(f, &AT_SITE, P "oldest"), "none");
	assert_string_equal(get(f, &AT_SITE, P "next_expiry"), "none");
	assert_string_equal(get(f, &AT_SITE, P "retention"), "100s");
	assert_string_equal(get(f, &AT_SITE, P "hold"), "0");

	make_op(f, "d", 4242, f->op);
	/* open ops count already */
	assert_string_equal(get(f, &AT_SITE, P "ops"), "1");
	assert_string_equal(get(f, &AT_SITE, P "trash_items"), "4");
	close_ops(f);
	assert_int_equal(trash_usage(f->t, "site", &u), 0);
	assert_string_equal(get(f, &AT_SITE, P "ops"), "1");
	assert_string_equal(get(f, &AT_SITE, P "trash_items"), "4");
	snprintf(want, sizeof(want), "%llu", (unsigned long long)u.bytes);
	assert_true(u.bytes > 0);
	assert_string_equal(get(f, &AT_SITE, P "trash_bytes"), want);
	util_format_utc(T0S, false, want, sizeof(want));
	assert_string_equal(get(f, &AT_SITE, P "oldest"), want);
	assert_string_equal(want, "2030-01-01T00:00:00Z");
	util_format_utc(T0S + RETENTION, false, want, sizeof(want));
	assert_string_equal(get(f, &AT_SITE, P "next_expiry"), want);

	/* the other site's trash is its own */
	assert_string_equal(get(f, &AT_OTHER, P "ops"), "0");
	assert_string_equal(get(f, &AT_OTHER, P "next_expiry"), "none");
	/* the root trash (deleted sites): empty, mount default */
	assert_string_equal(get(f, &AT_RTRASH, P "ops"), "0");
	assert_string_equal(get(f, &AT_RTRASH, P "retention"), "100s");
	assert_string_equal(get(f, &AT_RTRASH, P "hold"), "0");
}

/* trash_view=reach (issue 21): a non-root caller's figures are the ops it
 * deleted; an op reaches its deleter and the owner of an item in it. */
static void test_site_trash_own_figures(void **state)
{
	struct fx *f = *state;
	struct vattr_at alice = AT_SITE, carol = AT_SITE;
	char op2[NAME_MAX + 1], p[PATH_MAX];
	int ofd;

	alice.uid = 1000;
	carol.uid = 3000;
	make_op(f, "d", 4242, f->op);   /* uid 1000 */
	fake_wall_v += NS;
	make_op_as(f, "e", 4343, 2000, op2);
	close_ops(f);
	assert_string_equal(get(f, &AT_SITE, P "ops"), "2");   /* root: everyone's */
	assert_string_equal(get(f, &AT_SITE, P "trash_items"), "8");
	assert_string_equal(get(f, &alice, P "ops"), "1");
	assert_string_equal(get(f, &alice, P "trash_items"), "4");
	assert_string_equal(get(f, &carol, P "ops"), "0");
	assert_string_equal(get(f, &carol, P "trash_bytes"), "0");
	assert_string_equal(get(f, &carol, P "oldest"), "none");
	assert_string_equal(get(f, &carol, P "next_expiry"), "none");
	assert_string_equal(get(f, &carol, P "retention"), "100s");   /* the site's */
	f->c.trash_view_all = true;
	assert_string_equal(get(f, &carol, P "ops"), "2");
	f->c.trash_view_all = false;

	snprintf(p, sizeof(p), "%s/site/.trash/%s", f->b, f->op);
	ofd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(ofd >= 0);
	assert_true(trash_op_reaches(f->t, "site", f->op, ofd, 0));      /* root */
	assert_true(trash_op_reaches(f->t, "site", f->op, ofd, 1000));   /* the deleter */
	assert_false(trash_op_reaches(f->t, "site", f->op, ofd, 3000));
	/* the owner of the deleted directory (its contents go with it) */
	snprintf(p, sizeof(p), "%s/site/.trash/%s/d", f->b, f->op);
	assert_int_equal(chown(p, 3000, 3000), 0);
	assert_true(trash_op_reaches(f->t, "site", f->op, ofd, 3000));
	/* a file deep in a deleted directory is not looked at */
	assert_int_equal(chown(p, 0, 0), 0);
	snprintf(p, sizeof(p), "%s/site/.trash/%s/d/f0", f->b, f->op);
	assert_int_equal(chown(p, 3000, 3000), 0);
	assert_false(trash_op_reaches(f->t, "site", f->op, ofd, 3000));
	close(ofd);
}

static void test_get_errors(void **state)
{
	struct fx *f = *state;
	struct vattr_at at_op = { VA_OPDIR, "site", NULL };
	char buf[4];

	make_op(f, "d", 4242, f->op);
	at_op.op = f->op;
	assert_string_equal(get(f, &AT_SITE, P "bogus"), "<ENODATA>");
	assert_string_equal(get(f, &AT_SITE, "user.other"), "<ENODATA>");
	assert_string_equal(get(f, &AT_SITE, "trusted.gracefs.retention"), "<ENODATA>");
	assert_string_equal(get(f, &AT_SITE, P), "<ENODATA>");
	assert_string_equal(get(f, &AT_ROOT, P "ops"), "<ENODATA>");   /* not on the root */
	assert_string_equal(get(f, &AT_ROOT, P "bogus"), "<ENODATA>");
	assert_string_equal(get(f, &AT_NONE, P "ops"), "<ENODATA>");
	assert_string_equal(get(f, &at_op, P "bogus"), "<ENODATA>");
	assert_string_equal(get(f, &at_op, P "ops"), "<ENODATA>");
	at_op.op = "20300101T000000Z-rm-1";   /* no such op */
	assert_string_equal(get(f, &at_op, P "hold"), "<ENODATA>");

	/* sizes: 0 asks, too small is ERANGE */
	assert_int_equal(vattr_get(&f->c, &AT_SITE, P "retention", NULL, 0), 4);   /* "100s" */
	assert_int_equal(vattr_get(&f->c, &AT_SITE, P "retention", buf, 3), -ERANGE);
	assert_int_equal(vattr_get(&f->c, &AT_SITE, P "retention", buf, 4), 4);
	assert_memory_equal(buf, "100s", 4);
	assert_true(vattr_get(&f->c, &AT_ROOT, P "sweeper", NULL, 0) > 7);    /* "running; …" */
	assert_int_equal(vattr_get(&f->c, &AT_ROOT, P "sweeper", buf, 4), -ERANGE);
	at_op.op = f->op;
	assert_int_equal(vattr_get(&f->c, &at_op, P "hold", NULL, 0), 1);
	assert_int_equal(vattr_get(&f->c, &at_op, P "op", buf, 3), -ERANGE);
}

static void test_get_opdir(void **state)
{
	struct fx *f = *state;
	struct vattr_at at_op = { VA_OPDIR, "site", NULL };
	char want[64];

	make_op(f, "d", 4242, f->op);
	at_op.op = f->op;
	assert_string_equal(get(f, &at_op, P "op"), f->op);
	assert_string_equal(get(f, &at_op, P "site"), "site");
	assert_string_equal(get(f, &at_op, P "state"), "open");
	assert_string_equal(get(f, &at_op, P "hold"), "0");
	assert_string_equal(get(f, &at_op, P "retention"), "100s");
	assert_string_equal(get(f, &at_op, P "uid"), "1000");
	assert_string_equal(get(f, &at_op, P "items"), "4");
	util_format_utc(T0S + RETENTION, false, want, sizeof(want));
	assert_string_equal(get(f, &at_op, P "expires"), want);
	close_ops(f);
	assert_string_equal(get(f, &at_op, P "state"), "closed");
	assert_int_equal(trash_purge_begin(f->t, "site", f->op), 0);
	assert_string_equal(get(f, &at_op, P "state"), "purging");
}

/* ---- set ------------------------------------------------------------------- */

static void test_set_not_root(void **state)
{
	struct fx *f = *state;
	struct vattr_at at_op = { VA_OPDIR, "site", NULL };
	struct site_policy p;
	struct op_record r;

	make_op(f, "d", 4242, f->op);
	close_ops(f);
	at_op.op = f->op;
	/* uid 1000 deleted the op: even it may not hold or release */
	assert_int_equal(set(f, &at_op, P "hold", "1", 1000), -EPERM);
	assert_int_equal(set(f, &at_op, P "hold", "1", 65534), -EPERM);
	assert_int_equal(set(f, &AT_SITE, P "hold", "1", 1000), -EPERM);
	assert_int_equal(set(f, &AT_SITE, P "retention", "2d", 1000), -EPERM);
	assert_int_equal(set(f, &AT_SITE, P "retention", "bogus", 1000), -EPERM);
	assert_int_equal(set(f, &AT_ROOT, P "confirm_clock", "1", 1000), -EPERM);
	assert_int_equal(trash_op_get(f->t, "site", f->op, &r), 0);
	assert_int_equal(r.hold, 0);
	assert_int_equal(sitepolicy_get(f->bfd, "site", &p), 0);
	assert_false(p.hold);
	assert_int_equal(p.retention_s, 0);
	/* non-virtual names are not vattr's business, for anyone */
	assert_int_equal(set(f, &AT_SITE, "user.comment", "x", 1000), -ENODATA);
	assert_int_equal(set(f, &AT_SITE, "user.comment", "x", 0), -ENODATA);
	assert_int_equal(set(f, &AT_NONE, P "hold", "1", 0), -ENODATA);
}

static void test_set_op_hold(void **state)
{
	struct fx *f = *state;
	struct vattr_at at_op = { VA_OPDIR, "site", NULL };
	struct op_record r;

	make_op(f, "d", 4242, f->op);
	close_ops(f);
	at_op.op = f->op;
	assert_int_equal(set(f, &at_op, P "hold", "1", 0), 0);
	assert_string_equal(get(f, &at_op, P "hold"), "1");
	assert_int_equal(index_get(f->ix, "site", f->op, &r), 0);
	assert_int_equal(r.hold, 1);
	/* a held op is left out of next_expiry */
	assert_string_equal(get(f, &AT_SITE, P "next_expiry"), "none");
	assert_string_equal(get(f, &AT_SITE, P "ops"), "1");
	assert_int_equal(trash_purge_begin(f->t, "site", f->op), -EPERM);

	/* bad values change nothing */
	static const char *const bad[] = { "", "2", "yes", "on", "11", "01", "-1", " 1", "1\n\n", NULL };
	for (int i = 0; bad[i]; i++) {
		assert_int_equal(set(f, &at_op, P "hold", bad[i], 0), -EINVAL);
		assert_string_equal(get(f, &at_op, P "hold"), "1");
	}
	assert_int_equal(set(f, &at_op, P "hold", "0\n", 0), 0);   /* echo's newline */
	assert_string_equal(get(f, &at_op, P "hold"), "0");
	assert_int_equal(set(f, &at_op, P "hold", "1\n", 0), 0);
	assert_string_equal(get(f, &at_op, P "hold"), "1");
	assert_int_equal(set(f, &at_op, P "hold", "0", 0), 0);
	assert_int_equal(trash_purge_begin(f->t, "site", f->op), 0);

	/* the rest of an op's record is read-only */
	assert_int_equal(set(f, &at_op, P "retention", "30d", 0), -EPERM);
	assert_int_equal(set(f, &at_op, P "expires", "2040-01-01", 0), -EPERM);
	assert_int_equal(set(f, &at_op, P "state", "closed", 0), -EPERM);
	assert_int_equal(set(f, &at_op, P "bogus", "1", 0), -EPERM);

	/* an op that does not exist */
	at_op.op = "20300101T000000Z-rm-1";
	assert_true(set(f, &at_op, P "hold", "1", 0) < 0);
}

/* A hold set through vattr on an op that is still open. */
static void test_set_op_hold_open(void **state)
{
	struct fx *f = *state;
	struct vattr_at at_op = { VA_OPDIR, "site", NULL };
	struct op_record r;

	make_op(f, "d", 4242, f->op);
	at_op.op = f->op;
	assert_int_equal(set(f, &at_op, P "hold", "1", 0), 0);
	assert_string_equal(get(f, &at_op, P "hold"), "1");
	close_ops(f);
	assert_int_equal(index_get(f->ix, "site", f->op, &r), 0);
	assert_int_equal(r.hold, 1);
	assert_int_equal(r.state, OP_CLOSED);
}

static void test_set_site(void **state)
{
	struct fx *f = *state;
	struct site_policy p;
	char op2[NAME_MAX + 1], want[64];
	struct vattr_at at_op2 = { VA_OPDIR, "site", op2 };

	assert_int_equal(set(f, &AT_SITE, P "hold", "1", 0), 0);
	assert_string_equal(get(f, &AT_SITE, P "hold"), "1");
	assert_string_equal(get(f, &AT_OTHER, P "hold"), "0");
	assert_int_equal(sitepolicy_get(f->bfd, "site", &p), 0);
	assert_true(p.hold);
	assert_int_equal(set(f, &AT_SITE, P "hold", "maybe", 0), -EINVAL);
	assert_string_equal(get(f, &AT_SITE, P "hold"), "1");
	assert_int_equal(set(f, &AT_SITE, P "hold", "0", 0), 0);
	assert_string_equal(get(f, &AT_SITE, P "hold"), "0");

	/* retention */
	assert_int_equal(set(f, &AT_SITE, P "retention", "2d", 0), 0);
	assert_string_equal(get(f, &AT_SITE, P "retention"), "2d");
	assert_int_equal(sitepolicy_get(f->bfd, "site", &p), 0);
	assert_int_equal(p.retention_s, 2 * 86400);
	assert_string_equal(get(f, &AT_OTHER, P "retention"), "100s");
	assert_int_equal(set(f, &AT_SITE, P "retention", "36h\n", 0), 0);
	assert_string_equal(get(f, &AT_SITE, P "retention"), "36h");
	assert_int_equal(set(f, &AT_SITE, P "retention", "24h", 0), 0);   /* the floor */
	assert_string_equal(get(f, &AT_SITE, P "retention"), "1d");

	/* below the floor, garbage, zero: EINVAL and unchanged */
	static const char *const bad[] = { "23h", "1s", "2s", "0", "-1d", "", "soon", "2x",
		"1d junk", "99999999999999999999d",
		"0123456789012345678901234567890123456789012345678901234567890123456789", NULL };
	for (int i = 0; bad[i]; i++) {
		if (set(f, &AT_SITE, P "retention", bad[i], 0) != -EINVAL)
			fail_msg("retention '%s' was not refused with EINVAL", bad[i]);
		assert_string_equal(get(f, &AT_SITE, P "retention"), "1d");
	}

	/* new ops carry the site's retention; "default" clears it */
	assert_int_equal(set(f, &AT_SITE, P "retention", "2d", 0), 0);
	make_op(f, "e", 4243, op2);
	assert_string_equal(get(f, &at_op2, P "retention"), "2d");
	util_format_utc(T0S + 2 * 86400, false, want, sizeof(want));
	assert_string_equal(get(f, &at_op2, P "expires"), want);
	assert_int_equal(set(f, &AT_SITE, P "retention", "default", 0), 0);
	assert_string_equal(get(f, &AT_SITE, P "retention"), "100s");
	assert_int_equal(sitepolicy_get(f->bfd, "site", &p), 0);
	assert_int_equal(p.retention_s, 0);
	assert_string_equal(get(f, &at_op2, P "retention"), "2d");   /* kept its promise */
	assert_int_equal(set(f, &AT_SITE, P "retention", "default\n", 0), 0);

	/* read-only names on the site trash */
	assert_int_equal(set(f, &AT_SITE, P "trash_bytes", "0", 0), -EPERM);
	assert_int_equal(set(f, &AT_SITE, P "ops", "0", 0), -EPERM);
	assert_int_equal(set(f, &AT_SITE, P "next_expiry", "none", 0), -EPERM);
	assert_int_equal(set(f, &AT_SITE, P "confirm_clock", "1", 0), -EPERM);
	/* the root trash has no policy of its own */
	assert_int_equal(set(f, &AT_RTRASH, P "hold", "1", 0), -EPERM);
	assert_int_equal(set(f, &AT_RTRASH, P "retention", "2d", 0), -EPERM);
	/* the mount root takes nothing */
	assert_int_equal(set(f, &AT_ROOT, P "hold", "1", 0), -EPERM);
	assert_int_equal(set(f, &AT_ROOT, P "sweeper", "off", 0), -EPERM);
}

/* The floor follows the mount option. */
static void test_set_floor_option(void **state)
{
	struct fx *f = *state;

	f->c.min_retention_s = 3600;
	assert_int_equal(set(f, &AT_SITE, P "retention", "2h", 0), 0);
	assert_int_equal(set(f, &AT_SITE, P "retention", "59m", 0), -EINVAL);
	/* a bare number has no unit: refused, whatever it would mean */
	assert_int_equal(set(f, &AT_SITE, P "retention", "86400", 0), -EINVAL);
	assert_int_equal(set(f, &AT_SITE, P "retention", "30", 0), -EINVAL);
	assert_string_equal(get(f, &AT_SITE, P "retention"), "2h");
	f->c.min_retention_s = 0;
	assert_int_equal(set(f, &AT_SITE, P "retention", "2s", 0), 0);
	assert_string_equal(get(f, &AT_SITE, P "retention"), "2s");
}

/* ---- the mount root ------------------------------------------------------- */

static void test_root(void **state)
{
	struct fx *f = *state;
	char op2[NAME_MAX + 1];

	assert_memory_equal(get(f, &AT_ROOT, P "sweeper"), "running", 7);
	assert_string_equal(get(f, &AT_ROOT, P "purged_ops"), "0");

	make_op(f, "d", 4242, f->op);           /* due 100 s after it */
	fake_wall_v += 50 * NS;
	fake_mono_v += 50 * NS;
	make_op(f, "e", 4243, op2);             /* due 50 s later */
	close_ops(f);
	fake_wall_v += 48 * NS;
	fake_mono_v += 48 * NS;                 /* 100 s elapsed since d */
	sweep_pass(f->s);
	assert_string_equal(get(f, &AT_ROOT, P "purged_ops"), "1");

	fake_wall_v += 7200 * NS;               /* the wall clock jumps: no effect */
	fake_mono_v += NS;
	sweep_pass(f->s);
	assert_string_equal(get(f, &AT_ROOT, P "purged_ops"), "1");
	assert_non_null(strstr(get(f, &AT_ROOT, P "sweeper"), "skew +7199s"));
	/* there is no interlock left to confirm: read-only, root or not */
	assert_int_equal(set(f, &AT_ROOT, P "confirm_clock", "1", 0), -EPERM);
	assert_int_equal(set(f, &AT_ROOT, P "confirm_clock", "1", 1000), -EPERM);
	fake_wall_v += 49 * NS;
	fake_mono_v += 49 * NS;                 /* e: 100 s elapsed */
	sweep_pass(f->s);
	assert_string_equal(get(f, &AT_ROOT, P "purged_ops"), "2");
	assert_string_equal(get(f, &AT_SITE, P "ops"), "0");
	assert_int_equal(set(f, &AT_SITE, P "confirm_clock", "1", 0), -EPERM);
}

static void test_no_sweeper(void **state)
{
	struct fx *f = *state;

	f->c.sweep = NULL;
	assert_string_equal(get(f, &AT_ROOT, P "sweeper"), "off");
	assert_string_equal(get(f, &AT_ROOT, P "purged_ops"), "0");
	assert_int_equal(set(f, &AT_ROOT, P "confirm_clock", "1", 0), -EPERM);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_list),
		T(test_get_site_trash),
		T(test_site_trash_own_figures),
		T(test_get_errors),
		T(test_get_opdir),
		T(test_set_not_root),
		T(test_set_op_hold),
		T(test_set_op_hold_open),
		T(test_set_site),
		T(test_set_floor_option),
		T(test_root),
		T(test_no_sweeper),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
