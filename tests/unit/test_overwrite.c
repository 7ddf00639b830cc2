/*
 * test_overwrite — preserving a file before a truncation (overwrite.h,
 * trash_preserve.c) and the undo rule that puts it back (undo.c
 * UNDO_REPLACE), on a real backing directory with a real trash engine.
 *
 * Each test gets a fresh mkdtemp dir holding BACKING (b/, with the site
 * b/site and the directory b/site/d) and an LMDB index.  The wall clock is
 * faked so op names are predictable; faults come through sys.linkat.
 * Needs root (trusted.* xattrs, chown).  Whether the temp filesystem can
 * clone decides OW_CLONED vs OW_COPIED; the tests accept either where the
 * content is what matters and force the copy path where the limit is
 * tested.
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
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
#include "engine/overwrite.h"
#include "engine/sitepolicy.h"
#include "lib/sys.h"
#include "engine/trash.h"
#include "engine/undo.h"
#include "lib/util.h"
#include "testutil.h"

#pragma GCC diagnostic ignored "-Wformat-truncation"

#define NS INT64_C(1000000000)
#define T0 (INT64_C(1795784712) * NS)    /* 2026-11-27T13:05:12Z */
#define GAP_NS (5 * NS)

static int64_t fake_now;
static int64_t fake_wall(void) { return fake_now; }

struct fx {
	char tmp[64], b[96], idx[96];
	int bfd, dfd;               /* BACKING, BACKING/site/d */
	struct index *ix;
	struct trash *t;
	struct overwrite *ow;
	struct caller who;
	struct relpath rel;         /* "d" */
	char op[NAME_MAX + 1];      /* the op the first preservation uses */
};

static void open_ow(struct fx *f, int64_t max)
{
	struct overwrite_conf oc = { f->bfd, f->t, max };

	overwrite_free(f->ow);
	f->ow = NULL;
	assert_int_equal(overwrite_new(&f->ow, &oc), 0);
}

/* BACKING-relative path, printf-style. */
#define bp(f, ...) tu_pathf((f)->b, __VA_ARGS__)

static int setup(void **state)
{
	static const char *const sites[] = { "site", "site/d", NULL };
	struct fx *f = calloc(1, sizeof(*f));
	struct trash_conf tc = { .retention_s = 86400, .op_gap_ns = GAP_NS };

	assert_non_null(f);
	f->bfd = tu_backing(f->tmp, sizeof(f->tmp), f->b, sizeof(f->b), f->idx, sizeof(f->idx),
			    "ow", sites);
	f->dfd = openat(f->bfd, "site/d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->dfd >= 0);
	assert_int_equal(chmod(bp(f, "site/d"), 0750), 0);
	assert_int_equal(index_open(&f->ix, f->idx), 0);
	sys_reset();
	fake_now = T0;
	sys.wall_ns = fake_wall;
	sys.mono_ns = fake_wall;   /* op gaps are measured on the elapsed clock */
	f->who = (struct caller){ .uid = 0, .gid = 0, .pid = 4242, .pid_start = 777 };
	strcpy(f->who.cmd, "deploy");
	strcpy(f->who.cmdline, "deploy --all");
	assert_int_equal(trash_open(&f->t, f->bfd, f->ix, &tc), 0);
	open_ow(f, OVERWRITE_DEFAULT_MAX);
	assert_int_equal(relpath_push(&f->rel, "d"), 0);
	assert_int_equal(util_op_name(T0 / NS, "deploy", 4242, 1, f->op, sizeof(f->op)), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	sys_reset();
	overwrite_free(f->ow);
	trash_close(f->t);
	index_close(f->ix);
	close(f->dfd);
	close(f->bfd);
	assert_int_equal(rm_tree(f->tmp), 0);
	free(f);
	return 0;
}

/* ---- helpers ------------------------------------------------------------- */

static void write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);
}

/* overwrite_preserve on site/d/name with keep; the result's how. */
static int preserve(struct fx *f, const char *name, off_t keep, struct overwrite_result *res,
		    int *err)
{
	struct trash_loc loc = { .site = "site", .rel = &f->rel, .dirfd = f->dfd, .name = name };
	struct stat st;
	int fd = openat(f->dfd, name, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	*err = overwrite_preserve(f->ow, &f->who, &loc, fd, &st, keep, res);
	close(fd);
	return (int)res->how;
}

static int preserve_ok(struct fx *f, const char *name, off_t keep)
{
	struct overwrite_result res;
	int err, how = preserve(f, name, keep, &res, &err);

	assert_int_equal(err, 0);
	return how;
}

static struct op_record op_rec(struct fx *f, const char *op)
{
	struct op_record r;

	assert_int_equal(trash_op_get(f->t, "site", op, &r), 0);
	return r;
}

/* ---- sizes ----------------------------------------------------------------- */

/* preserve_max is an int64 (-1: the mount's): util_parse_size into it */
static int parse_size_i64(const char *s, int64_t *v)
{
	uint64_t u;
	int r = util_parse_size(s, &u);

	if (r == 0)
		*v = (int64_t)u;
	return r;
}

static void test_parse_size(void **state)
{
	int64_t v;
	char buf[32];

	(void)state;
	assert_int_equal(parse_size_i64("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_size_i64("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(parse_size_i64("64M", &v), 0);
	assert_int_equal(v, 64LL << 20);
	assert_int_equal(parse_size_i64("1GiB", &v), 0);
	assert_int_equal(v, 1LL << 30);
	assert_int_equal(parse_size_i64("2k", &v), 0);
	assert_int_equal(v, 2048);
	assert_int_equal(parse_size_i64("3TB", &v), 0);
	assert_int_equal(v, 3LL << 40);
	assert_int_equal(parse_size_i64("", &v), -EINVAL);
	assert_int_equal(parse_size_i64("-1", &v), -EINVAL);
	assert_int_equal(parse_size_i64("12X", &v), -EINVAL);
	assert_int_equal(parse_size_i64("12MM", &v), -EINVAL);
	assert_int_equal(parse_size_i64("M", &v), -EINVAL);
	assert_int_equal(parse_size_i64(" 1", &v), -EINVAL);
	assert_int_equal(parse_size_i64("99999999999T", &v), -ERANGE);
	assert_int_equal(parse_size_i64("99999999999999999999", &v), -ERANGE);
	util_format_size((uint64_t)64LL << 20, buf, sizeof(buf));
	assert_string_equal(buf, "64M");
	util_format_size((uint64_t)1000, buf, sizeof(buf));
	assert_string_equal(buf, "1000");
	util_format_size((uint64_t)0, buf, sizeof(buf));
	assert_string_equal(buf, "0");
	util_format_size((uint64_t)3LL << 40, buf, sizeof(buf));
	assert_string_equal(buf, "3T");
}

/* ---- preserving --------------------------------------------------------------- */

/* The content, owner, mode, times and xattrs are kept at the site-relative
 * path in the op, with the marker; the op counts it. */
static void test_preserve_keeps_everything(void **state)
{
	struct fx *f = *state;
	struct timespec ts[2] = { { 1000000000, 5 }, { 1100000000, 7 } };
	const char *live = bp(f, "site/d/f");
	char val[64];
	struct stat a, b;
	int how;

	write_file(live, "first version\n");
	assert_int_equal(chown(live, 1234, 5678), 0);
	assert_int_equal(chmod(live, 0604), 0);
	assert_int_equal(setxattr(live, "user.tag", "blue", 4, 0), 0);
	assert_int_equal(utimensat(AT_FDCWD, live, ts, 0), 0);
	how = preserve_ok(f, "f", 0);
	assert_true(how == OW_COPIED || how == OW_CLONED);

	const char *kept = bp(f, "site/.trash/%s/d/f", f->op);
	assert_int_equal(lstat(live, &a), 0);
	assert_int_equal(lstat(kept, &b), 0);   /* before reading it (atime) */
	assert_content(kept, "first version\n");
	assert_true(a.st_ino != b.st_ino);   /* a new file, not a link */
	assert_int_equal(b.st_uid, 1234);
	assert_int_equal(b.st_gid, 5678);
	assert_int_equal(b.st_mode & 07777, 0604);
	assert_int_equal(b.st_mtim.tv_sec, 1100000000);
	assert_int_equal(b.st_mtim.tv_nsec, 7);
	assert_int_equal(b.st_atim.tv_sec, 1000000000);
	assert_int_equal(getxattr(kept, "user.tag", val, sizeof(val)), 4);
	assert_memory_equal(val, "blue", 4);
	ssize_t n = getxattr(kept, TRASH_PRESERVED_XATTR, val, sizeof(val));
	assert_int_equal(n, (ssize_t)strlen(f->op));
	assert_memory_equal(val, f->op, (size_t)n);
	/* the mirror parent is the live directory's twin */
	assert_int_equal(lstat(bp(f, "site/.trash/%s/d", f->op), &b), 0);
	assert_int_equal(b.st_mode & 07777, 0750);

	struct op_record r = op_rec(f, f->op);
	assert_int_equal(r.items, 1);
	assert_true(r.bytes > 0);
	assert_content(live, "first version\n");   /* the live file is untouched */

	struct trash_counters tc;
	trash_get_counters(f->t, &tc);
	assert_int_equal(tc.preserved, 1);
	struct overwrite_counters oc;
	overwrite_get_counters(f->ow, &oc);
	assert_int_equal(oc.cloned + oc.copied, 1);
	assert_int_equal(oc.unpreserved, 0);
}

/* Nothing to lose: empty, not shrinking, not a regular file. */
static void test_nothing_to_lose(void **state)
{
	struct fx *f = *state;

	write_file(bp(f, "site/d/empty"), "");
	write_file(bp(f, "site/d/data"), "12345");
	assert_int_equal(preserve_ok(f, "empty", 0), OW_NOTHING);
	assert_int_equal(preserve_ok(f, "data", 5), OW_NOTHING);    /* truncate to its size */
	assert_int_equal(preserve_ok(f, "data", 100), OW_NOTHING);  /* growing */
	assert_false(exists(bp(f, "site/.trash/%s", f->op)));       /* no op was made */
	int how = preserve_ok(f, "data", 4);   /* shrinking by one byte */
	assert_true(how == OW_COPIED || how == OW_CLONED);
}

/* Twice truncated in one op: the first state stays, once. */
static void test_twice_is_once(void **state)
{
	struct fx *f = *state;
	const char *live = bp(f, "site/d/f");

	write_file(live, "original");
	assert_int_not_equal(preserve_ok(f, "f", 0), OW_HELD);
	write_file(live, "second");
	fake_now += NS;
	assert_int_equal(preserve_ok(f, "f", 0), OW_HELD);
	assert_content(bp(f, "site/.trash/%s/d/f", f->op), "original");
	assert_int_equal(op_rec(f, f->op).items, 1);
	/* once the op is over (op_gap), a new op keeps the then-current state */
	fake_now += GAP_NS + NS;
	int how = preserve_ok(f, "f", 0);
	assert_true(how == OW_COPIED || how == OW_CLONED);
}

/* A deletion after a truncation in the same op does not touch the
 * preserved first state: the later version goes to a new op. */
static void test_truncated_then_deleted(void **state)
{
	struct fx *f = *state;
	struct trash_loc loc = { .site = "site", .rel = &f->rel, .dirfd = f->dfd, .name = "f" };
	char op2[NAME_MAX + 1];

	write_file(bp(f, "site/d/f"), "original");
	preserve_ok(f, "f", 0);
	write_file(bp(f, "site/d/f"), "later");
	assert_int_equal(trash_delete(f->t, &f->who, &loc, false, NULL), 0);
	assert_content(bp(f, "site/.trash/%s/d/f", f->op), "original");
	assert_int_equal(util_op_name(T0 / NS, "deploy", 4242, 2, op2, sizeof(op2)), 0);
	assert_content(bp(f, "site/.trash/%s/d/f", op2), "later");
	assert_false(exists(bp(f, "site/d/f")));
}

/* A file created while the op collects is the op's own: not preserved. */
static void test_created_in_op(void **state)
{
	struct fx *f = *state;
	struct stat st;

	struct overwrite_result res;
	int err;

	/* made by a process with no op open: its own file while it lives, no
	 * op opened for it (another process preserves it: below) */
	write_file(bp(f, "site/d/before"), "x");
	assert_int_equal(stat(bp(f, "site/d/before"), &st), 0);
	trash_note_created(f->t, &f->who, "site", st.st_dev, st.st_ino);
	assert_int_equal(preserve(f, "before", 0, &res, &err), OW_HELD);
	assert_int_equal(err, 0);
	assert_string_equal(res.op, "");
	assert_false(exists(bp(f, "site/.trash/%s", f->op)));
	write_file(bp(f, "site/d/other"), "y");
	assert_int_not_equal(preserve_ok(f, "other", 0), OW_HELD);    /* opens the op */
	write_file(bp(f, "site/d/new"), "made by the op");
	assert_int_equal(stat(bp(f, "site/d/new"), &st), 0);
	trash_note_created(f->t, &f->who, "site", st.st_dev, st.st_ino);
	assert_int_equal(preserve_ok(f, "new", 0), OW_HELD);
	assert_false(exists(bp(f, "site/.trash/%s/d/new", f->op)));
	/* another process's op does not know either */
	f->who.pid = 99;
	int how = preserve_ok(f, "new", 0);
	assert_true(how == OW_COPIED || how == OW_CLONED);
	how = preserve_ok(f, "before", 0);
	assert_true(how == OW_COPIED || how == OW_CLONED);
}

/* Over the limit without a clone: unpreserved, counted, nothing in trash. */
static void test_over_limit(void **state)
{
	struct fx *f = *state;
	struct overwrite_result res;
	int err, how;

	write_file(bp(f, "site/d/big"), "0123456789");
	open_ow(f, 4);
	how = preserve(f, "big", 0, &res, &err);
	assert_int_equal(err, 0);
	if (how == OW_CLONED)
		skip();   /* this filesystem clones: the limit does not apply */
	assert_int_equal(how, OW_UNPRESERVED);
	assert_int_equal(res.limit, 4);
	assert_int_equal(res.bytes, 10);
	assert_false(exists(bp(f, "site/.trash/%s/d/big", f->op)));
	/* the second time the filesystem is known: no temp file at all */
	assert_int_equal(preserve(f, "big", 0, &res, &err), OW_UNPRESERVED);
	struct overwrite_counters oc;
	overwrite_get_counters(f->ow, &oc);
	assert_int_equal(oc.unpreserved, 2);
	/* preserve_max 0: no copies at all; a smaller file is copied under 4 */
	write_file(bp(f, "site/d/small"), "abc");
	assert_int_equal(preserve_ok(f, "small", 0), OW_COPIED);
	open_ow(f, 0);
	write_file(bp(f, "site/d/tiny"), "a");
	assert_int_equal(preserve_ok(f, "tiny", 0), OW_UNPRESERVED);
}

/* A site's own preserve_max wins over the mount's; "default" clears it. */
static void test_site_limit(void **state)
{
	struct fx *f = *state;
	struct site_policy p;
	int how;

	assert_int_equal(sitepolicy_get(f->bfd, "site", &p), 0);
	assert_int_equal(p.preserve_max, -1);
	assert_int_equal(sitepolicy_set_preserve_max(f->bfd, "site", 0), 0);
	assert_int_equal(sitepolicy_get(f->bfd, "site", &p), 0);
	assert_int_equal(p.preserve_max, 0);
	write_file(bp(f, "site/d/f"), "data");
	how = preserve_ok(f, "f", 0);
	if (how == OW_CLONED)
		skip();
	assert_int_equal(how, OW_UNPRESERVED);
	assert_int_equal(sitepolicy_set_preserve_max(f->bfd, "site", 1 << 20), 0);
	open_ow(f, 0);   /* the mount's limit: none; the site's allows the copy */
	write_file(bp(f, "site/d/f2"), "data");
	assert_int_equal(preserve_ok(f, "f2", 0), OW_COPIED);
	assert_int_equal(sitepolicy_set_preserve_max(f->bfd, "site", -1), 0);
	assert_int_equal(sitepolicy_get(f->bfd, "site", &p), 0);
	assert_int_equal(p.preserve_max, -1);
	assert_int_equal(sitepolicy_set_preserve_max(f->bfd, "site", -2), -EINVAL);
	assert_int_equal(sitepolicy_set_preserve_max(f->bfd, "../x", 5), -EINVAL);
}

/* A copy keeps holes: a 4 MiB file with 8 KiB of data stays small. */
static void test_copy_keeps_holes(void **state)
{
	struct fx *f = *state;
	const char *live = bp(f, "site/d/sparse");
	int fd = open(live, O_WRONLY | O_CREAT, 0644);
	struct stat st;

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "head", 4, 0), 4);
	assert_int_equal(pwrite(fd, "tail", 4, (4 << 20) - 4), 4);
	close(fd);
	assert_int_not_equal(preserve_ok(f, "sparse", 0), OW_UNPRESERVED);
	const char *kept = bp(f, "site/.trash/%s/d/sparse", f->op);
	assert_int_equal(stat(kept, &st), 0);
	assert_int_equal(st.st_size, 4 << 20);
	assert_true(st.st_blocks * 512 < (1 << 20));
	char buf[4];
	fd = open(kept, O_RDONLY);
	assert_int_equal(pread(fd, buf, 4, (4 << 20) - 4), 4);
	assert_memory_equal(buf, "tail", 4);
	assert_int_equal(pread(fd, buf, 4, 1 << 20), 4);
	assert_memory_equal(buf, "\0\0\0\0", 4);
	close(fd);
}

static int fail_linkat(int a, const char *b, int c, const char *d, int e)
{
	(void)a, (void)b, (void)c, (void)d, (void)e;
	errno = ENOSPC;
	return -1;
}

/* A failed preservation reports its errno (the truncation must fail) and
 * leaves nothing named in trash. */
static void test_failure_keeps_nothing(void **state)
{
	struct fx *f = *state;
	struct overwrite_result res;
	int err;

	write_file(bp(f, "site/d/f"), "data");
	sys.linkat = fail_linkat;
	preserve(f, "f", 0, &res, &err);
	assert_int_equal(err, -ENOSPC);
	assert_false(exists(bp(f, "site/.trash/%s/d/f", f->op)));
	assert_int_equal(op_rec(f, f->op).items, 0);
	sys.linkat = linkat;
	assert_int_not_equal(preserve_ok(f, "f", 0), OW_UNPRESERVED);
	assert_content(bp(f, "site/.trash/%s/d/f", f->op), "data");
}

/* ---- undo (the replace rule) ------------------------------------------------- */

/* undo puts the preserved file back over the truncated live one, which
 * stays in the op; a deleted item whose name is taken still goes next to
 * it; a second undo does not swap back. */
static void test_undo_replaces_truncated(void **state)
{
	struct fx *f = *state;
	struct trash_loc loc = { .site = "site", .rel = &f->rel, .dirfd = f->dfd, .name = "g" };
	struct undo_result res;
	struct undo_plan p;
	char val[8];

	write_file(bp(f, "site/d/f"), "before");
	preserve_ok(f, "f", 0);
	write_file(bp(f, "site/d/f"), "after");          /* the truncation + new content */
	write_file(bp(f, "site/d/g"), "deleted");
	assert_int_equal(trash_delete(f->t, &f->who, &loc, false, NULL), 0);
	write_file(bp(f, "site/d/g"), "recreated");
	trash_close_all(f->t);

	assert_int_equal(undo_plan(f->bfd, "site", f->op, &p), 0);
	assert_int_equal(p.replaces, 1);
	assert_int_equal(p.renames, 1);
	undo_plan_release(&p);
	assert_int_equal(undo_op(f->bfd, "site", f->op, NULL, NULL, NULL, &res), 0);
	assert_int_equal(res.replaced, 1);
	assert_int_equal(res.moved, 1);
	assert_int_equal(res.renamed, 1);
	assert_content(bp(f, "site/d/f"), "before");
	assert_content(bp(f, "site/.trash/%s/d/f", f->op), "after");
	assert_int_equal(getxattr(bp(f, "site/d/f"), TRASH_PRESERVED_XATTR, val, sizeof(val)), -1);
	assert_content(bp(f, "site/d/g"), "recreated");
	assert_content(bp(f, "site/d/g.restored-%s", f->op), "deleted");

	/* the displaced version is an ordinary item: it never swaps back */
	assert_int_equal(undo_plan(f->bfd, "site", f->op, &p), 0);
	assert_int_equal(p.replaces, 0);
	assert_int_equal(p.renames, 1);
	undo_plan_release(&p);
}

/* The live path gone (deleted later, elsewhere): a plain move; a live
 * directory there: the rename rule. */
static void test_undo_replace_edges(void **state)
{
	struct fx *f = *state;
	struct undo_result res;

	write_file(bp(f, "site/d/gone"), "kept");
	write_file(bp(f, "site/d/dir"), "kept too");
	preserve_ok(f, "gone", 0);
	preserve_ok(f, "dir", 0);
	trash_close_all(f->t);
	assert_int_equal(unlink(bp(f, "site/d/gone")), 0);
	assert_int_equal(unlink(bp(f, "site/d/dir")), 0);
	assert_int_equal(mkdir(bp(f, "site/d/dir"), 0755), 0);
	assert_int_equal(undo_op(f->bfd, "site", f->op, NULL, NULL, NULL, &res), 0);
	assert_int_equal(res.replaced, 0);
	assert_content(bp(f, "site/d/gone"), "kept");
	assert_content(bp(f, "site/d/dir.restored-%s", f->op), "kept too");
}

/* ---- the copy gate (issue 21): N copies per uid, the others wait on their uid ---- */

struct gate_arg {
	struct overwrite *ow;
	uid_t uid;
	int entered;   /* atomic: set once enter returned */
};

static void *gate_enter_thread(void *p)
{
	struct gate_arg *a = p;

	assert_int_equal(overwrite_gate_enter(a->ow, a->uid), 0);
	__atomic_store_n(&a->entered, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Poll (bounded) until cond holds; the threads run on a loaded machine. */
#define WAIT_FOR(cond) do { \
	for (int i_ = 0; i_ < 5000 && !(cond); i_++) \
		usleep(1000); \
	assert_true(cond); \
} while (0)

static void test_copy_gate(void **state)
{
	struct fx *f = *state;
	struct overwrite_conf oc = { f->bfd, f->t, OVERWRITE_DEFAULT_MAX, 2 };
	struct overwrite_counters c;
	struct gate_arg third = { .uid = 1001 }, other = { .uid = 1002 };
	pthread_t t3, to;

	overwrite_free(f->ow);
	assert_int_equal(overwrite_new(&f->ow, &oc), 0);
	third.ow = other.ow = f->ow;
	assert_int_equal(overwrite_gate_enter(f->ow, 1001), 0);
	assert_int_equal(overwrite_gate_enter(f->ow, 1001), 0);
	/* uid 1001's third copy waits ... */
	assert_int_equal(pthread_create(&t3, NULL, gate_enter_thread, &third), 0);
	overwrite_get_counters(f->ow, &c);
	WAIT_FOR((overwrite_get_counters(f->ow, &c), c.waiting == 1));
	assert_int_equal(c.copying, 2);
	assert_int_equal(c.waits, 1);
	assert_false(__atomic_load_n(&third.entered, __ATOMIC_ACQUIRE));
	/* ... another uid does not */
	assert_int_equal(pthread_create(&to, NULL, gate_enter_thread, &other), 0);
	assert_int_equal(pthread_join(to, NULL), 0);
	assert_true(other.entered);
	assert_false(__atomic_load_n(&third.entered, __ATOMIC_ACQUIRE));
	/* one of 1001's copies ends: the waiting one runs */
	overwrite_gate_leave(f->ow, 1001);
	assert_int_equal(pthread_join(t3, NULL), 0);
	assert_true(third.entered);
	overwrite_get_counters(f->ow, &c);
	assert_int_equal(c.copying, 3);   /* 1001: 2, 1002: 1 */
	assert_int_equal(c.waiting, 0);
	assert_int_equal(c.peak_per_uid, 2);
	assert_int_equal(c.per_uid, 2);
	overwrite_gate_leave(f->ow, 1001);
	overwrite_gate_leave(f->ow, 1001);
	overwrite_gate_leave(f->ow, 1002);
	overwrite_get_counters(f->ow, &c);
	assert_int_equal(c.copying, 0);
	/* the default limit */
	oc.copies_per_uid = 0;
	overwrite_free(f->ow);
	assert_int_equal(overwrite_new(&f->ow, &oc), 0);
	overwrite_get_counters(f->ow, &c);
	assert_int_equal(c.per_uid, OVERWRITE_DEFAULT_PER_UID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test_setup_teardown(test_preserve_keeps_everything, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nothing_to_lose, setup, teardown),
		cmocka_unit_test_setup_teardown(test_twice_is_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_then_deleted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_created_in_op, setup, teardown),
		cmocka_unit_test_setup_teardown(test_over_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_site_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_keeps_holes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_keeps_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_undo_replaces_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_undo_replace_edges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_gate, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
