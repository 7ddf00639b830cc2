/*
 * test_trash — the soft-delete engine on a real backing directory: deleting
 * (unlink, rmdir, rm -r, rename over, whole sites), grouping into ops, op
 * records, faults, the brake's hold.  Restores, reconcile, counting and
 * hard links are in test_trash_restore.c; the fixture is trash_fx.c (a
 * fresh BACKING with one site and an LMDB index per test, a faked clock,
 * faults through sys.*).  Needs root (trusted.* xattrs, chown).
 */
#include <dirent.h>
#include <errno.h>
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
#include "store/oprec.h"
#include "lib/procinfo.h"
#include "lib/sys.h"
#include "store/tlink.h"
#include "engine/trash.h"
#include "lib/util.h"
#include "testutil.h"
#include "trash_fx.h"

/* Paths are built into PATH_MAX buffers from short temp paths. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

/* ---- relpath ------------------------------------------------------------- */

static void test_relpath(void **state)
{
	struct fx *f = *state;
	struct relpath *p = &f->rel;
	char big[300];

	memset(p, 0, sizeof(*p));
	assert_int_equal(relpath_push(p, "c"), 0);
	assert_int_equal(relpath_push(p, "bb"), 0);
	assert_int_equal(relpath_push(p, "a"), 0);
	relpath_reverse(p);
	assert_int_equal(p->n, 3);
	assert_string_equal(p->comp[0], "a");
	assert_string_equal(p->comp[1], "bb");
	assert_string_equal(p->comp[2], "c");

	memset(p, 0, sizeof(*p));
	memset(big, 'n', 255);
	big[255] = '\0';
	int r = 0;
	unsigned i;
	for (i = 0; i < 1000 && !r; i++)
		r = relpath_push(p, big);
	assert_int_equal(r, -ENAMETOOLONG);
	assert_int_equal(p->n, RELPATH_MAX_BYTES / 256);
	assert_true(p->used <= RELPATH_MAX_BYTES);
}

/* ---- delete ---------------------------------------------------------------- */

static void test_unlink_moves_file(void **state)
{
	struct fx *f = *state;
	char op[NAME_MAX + 1], p[PATH_MAX];
	ino_t ino;

	assert_int_equal(mkdir(bp(f, "site/d"), 0755), 0);
	write_file(bp(f, "site/d/f"), "hello");
	ino = ino_of(bp(f, "site/d/f"));

	assert_int_equal(del(f, "d", "f", false), 0);
	opname(op, T0, 4242, 1);
	snprintf(p, sizeof(p), "site/.trash/%s/d/f", op);
	assert_false(exists(bp(f, "site/d/f")));
	assert_true(exists(bp(f, "site/d")));
	assert_int_equal(ino_of(bp(f, p)), ino);
	assert_content(bp(f, p), "hello");
	/* the op dir is the only thing in the site's trash */
	assert_int_equal(nentries(bp(f, "site/.trash")), 1);
	/* and a deletion at the site root lands at the op's top */
	write_file(bp(f, "site/top"), "T");
	assert_int_equal(del(f, "", "top", false), 0);
	snprintf(p, sizeof(p), "site/.trash/%s/top", op);
	assert_content(bp(f, p), "T");
	assert_int_equal(nentries(bp(f, "site/.trash")), 1);
}

static void test_unlink_symlink_and_fifo(void **state)
{
	struct fx *f = *state;
	char op[NAME_MAX + 1], p[PATH_MAX];
	char target[64];
	struct stat st;

	assert_int_equal(symlink("/etc/passwd", bp(f, "site/ln")), 0);
	assert_int_equal(mkfifo(bp(f, "site/fifo"), 0600), 0);
	assert_int_equal(del(f, "", "ln", false), 0);
	assert_int_equal(del(f, "", "fifo", false), 0);
	opname(op, T0, 4242, 1);
	snprintf(p, sizeof(p), "site/.trash/%s/ln", op);
	ssize_t n = readlink(bp(f, p), target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = '\0';
	assert_string_equal(target, "/etc/passwd");
	snprintf(p, sizeof(p), "site/.trash/%s/fifo", op);
	assert_int_equal(lstat(bp(f, p), &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_false(exists(bp(f, "site/ln")));
}

static void test_mirror_parent_meta(void **state)
{
	struct fx *f = *state;
	char op[NAME_MAX + 1], p[PATH_MAX], v[32];
	struct stat st;
	ssize_t n;

	assert_int_equal(mkdir(bp(f, "site/a"), 0755), 0);
	assert_int_equal(mkdir(bp(f, "site/a/b"), 0755), 0);
	write_file(bp(f, "site/a/b/f"), "data");
	assert_int_equal(chown(bp(f, "site/a"), 1000, 1000), 0);
	assert_int_equal(chmod(bp(f, "site/a"), 0750), 0);
	assert_int_equal(setxattr(bp(f, "site/a"), "user.x", "hello", 5, 0), 0);
	assert_int_equal(setxattr(bp(f, "site/a"), "trusted.gracefs.collapse", "zz", 2, 0), 0);
	assert_int_equal(chown(bp(f, "site/a/b"), 1001, 1002), 0);
	assert_int_equal(chmod(bp(f, "site/a/b"), 02705), 0);
	assert_int_equal(setxattr(bp(f, "site/a/b"), "user.y", "yy", 2, 0), 0);

	assert_int_equal(del(f, "a/b", "f", false), 0);
	opname(op, T0, 4242, 1);

	snprintf(p, sizeof(p), "site/.trash/%s/a", op);
	assert_int_equal(lstat(bp(f, p), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 1000);
	assert_int_equal(st.st_mode & 07777, 0750);
	n = lgetxattr(bp(f, p), "user.x", v, sizeof(v));
	assert_int_equal(n, 5);
	assert_memory_equal(v, "hello", 5);
	/* the engine's own xattrs are never copied; the mirror is marked */
	assert_int_equal(lgetxattr(bp(f, p), "trusted.gracefs.collapse", v, sizeof(v)), -1);
	assert_true(lgetxattr(bp(f, p), TRASH_MIRROR_XATTR, NULL, 0) >= 0);

	snprintf(p, sizeof(p), "site/.trash/%s/a/b", op);
	assert_int_equal(lstat(bp(f, p), &st), 0);
	assert_int_equal(st.st_uid, 1001);
	assert_int_equal(st.st_gid, 1002);
	assert_int_equal(st.st_mode & 07777, 02705);
	n = lgetxattr(bp(f, p), "user.y", v, sizeof(v));
	assert_int_equal(n, 2);
	assert_memory_equal(v, "yy", 2);
	snprintf(p, sizeof(p), "site/.trash/%s/a/b/f", op);
	assert_content(bp(f, p), "data");
	/* live parents untouched */
	assert_int_equal(lstat(bp(f, "site/a"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(nentries(bp(f, "site/a/b")), 0);
}

static void test_rmdir_nonempty(void **state)
{
	struct fx *f = *state;

	assert_int_equal(mkdir(bp(f, "site/d"), 0755), 0);
	write_file(bp(f, "site/d/f"), "x");
	assert_int_equal(del(f, "", "d", true), -ENOTEMPTY);
	assert_content(bp(f, "site/d/f"), "x");
	/* nothing moved, no op created */
	assert_true(nentries(bp(f, "site/.trash")) <= 0);
	assert_int_equal(count_index(f->ix, NULL), 0);
	/* a directory holding only a ".trash" below the site root is not empty */
	assert_int_equal(unlink(bp(f, "site/d/f")), 0);
	assert_int_equal(mkdir(bp(f, "site/d/.trash"), 0755), 0);
	assert_int_equal(del(f, "", "d", true), -ENOTEMPTY);
	assert_true(exists(bp(f, "site/d/.trash")));
}

static void test_type_errors(void **state)
{
	struct fx *f = *state;

	assert_int_equal(mkdir(bp(f, "site/d"), 0755), 0);
	write_file(bp(f, "site/f"), "x");
	assert_int_equal(del(f, "", "d", false), -EISDIR);
	assert_int_equal(del(f, "", "f", true), -ENOTDIR);
	assert_int_equal(del(f, "", "missing", false), -ENOENT);
	assert_int_equal(del(f, "", "missing", true), -ENOENT);
	assert_true(exists(bp(f, "site/d")));
	assert_content(bp(f, "site/f"), "x");
	assert_true(nentries(bp(f, "site/.trash")) <= 0);
}

static void test_rm_r_order(void **state)
{
	struct fx *f = *state;
	char op[NAME_MAX + 1], p[PATH_MAX];
	struct stat st;
	ino_t gino;

	assert_int_equal(mkdir(bp(f, "site/w"), 0755), 0);
	assert_int_equal(mkdir(bp(f, "site/w/sub"), 0755), 0);
	write_file(bp(f, "site/w/f1"), "one");
	write_file(bp(f, "site/w/f2"), "two");
	write_file(bp(f, "site/w/sub/g"), "gee");
	gino = ino_of(bp(f, "site/w/sub/g"));
	assert_int_equal(chown(bp(f, "site/w"), 1000, 1000), 0);
	assert_int_equal(chmod(bp(f, "site/w"), 0751), 0);
	assert_int_equal(setxattr(bp(f, "site/w"), "user.tag", "w", 1, 0), 0);

	/* rm -r w: depth first, files before their directory */
	assert_int_equal(del(f, "w/sub", "g", false), 0);
	assert_int_equal(del(f, "w", "sub", true), 0);
	assert_int_equal(del(f, "w", "f1", false), 0);
	assert_int_equal(del(f, "w", "f2", false), 0);
	/* a late change of the live dir's mode is what the trash keeps */
	assert_int_equal(chmod(bp(f, "site/w"), 0711), 0);
	assert_int_equal(del(f, "", "w", true), 0);

	assert_false(exists(bp(f, "site/w")));
	assert_int_equal(nentries(bp(f, "site")), 1);   /* only .trash */
	opname(op, T0, 4242, 1);
	assert_int_equal(nentries(bp(f, "site/.trash")), 1);
	snprintf(p, sizeof(p), "site/.trash/%s/w", op);
	assert_int_equal(lstat(bp(f, p), &st), 0);
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_mode & 07777, 0711);
	assert_int_equal(nentries(bp(f, p)), 3);
	/* w and w/sub were deleted themselves: no longer mirror-only */
	assert_int_equal(lgetxattr(bp(f, p), TRASH_MIRROR_XATTR, NULL, 0), -1);
	snprintf(p, sizeof(p), "site/.trash/%s/w/sub", op);
	assert_int_equal(lgetxattr(bp(f, p), TRASH_MIRROR_XATTR, NULL, 0), -1);
	snprintf(p, sizeof(p), "site/.trash/%s/w/f1", op);
	assert_content(bp(f, p), "one");
	snprintf(p, sizeof(p), "site/.trash/%s/w/f2", op);
	assert_content(bp(f, p), "two");
	snprintf(p, sizeof(p), "site/.trash/%s/w/sub/g", op);
	assert_content(bp(f, p), "gee");
	assert_int_equal(ino_of(bp(f, p)), gino);
	snprintf(p, sizeof(p), "site/.trash/%s", op);
	assert_int_equal(nentries(bp(f, p)), 1);
}

/* After rm -r, the op's item/byte counts match what is in the op dir
 * (what trash_count_tree and reconcile's recount see). */
static void test_rm_r_counts(void **state)
{
	struct fx *f = *state;
	char op[NAME_MAX + 1], p[PATH_MAX];
	struct op_record r;
	uint64_t items, bytes;

	assert_int_equal(mkdir(bp(f, "site/w"), 0755), 0);
	assert_int_equal(mkdir(bp(f, "site/w/sub"), 0755), 0);
	write_file(bp(f, "site/w/f1"), "one");
	write_file(bp(f, "site/w/sub/g"), "gee");
	assert_int_equal(del(f, "w/sub", "g", false), 0);
	assert_int_equal(del(f, "w", "sub", true), 0);
	assert_int_equal(del(f, "w", "f1", false), 0);
	assert_int_equal(del(f, "", "w", true), 0);
	trash_close_all(f->t);

	opname(op, T0, 4242, 1);
	snprintf(p, sizeof(p), "site/.trash/%s", op);
	count_path(bp(f, p), &items, &bytes);
	assert_int_equal(items, 4);   /* w, w/f1, w/sub, w/sub/g */
	read_rec(bp(f, p), &r);
	assert_int_equal(r.items, items);
	assert_int_equal(r.bytes, bytes);
}

/* ---- grouping ------------------------------------------------------------ */

static void test_group_same_process(void **state)
{
	struct fx *f = *state;
	char op[NAME_MAX + 1], p[PATH_MAX];

	for (int i = 0; i < 5; i++) {
		char name[8];

		snprintf(name, sizeof(name), "f%d", i);
		snprintf(p, sizeof(p), "site/%s", name);
		write_file(bp(f, p), name);
		assert_int_equal(del(f, "", name, false), 0);
		fake_now += GAP_NS - NS;   /* pauses shorter than the gap */
	}
	opname(op, T0, 4242, 1);
	assert_int_equal(nentries(bp(f, "site/.trash")), 1);
	snprintf(p, sizeof(p), "site/.trash/%s", op);
	assert_int_equal(nentries(bp(f, p)), 5);
	snprintf(p, sizeof(p), "site/.trash/%s/f4", op);
	assert_content(bp(f, p), "f4");
}

static void test_group_other_process(void **state)
{
	struct fx *f = *state;
	struct caller other = f->who, restarted = f->who, user = f->who;
	char op[NAME_MAX + 1], p[PATH_MAX];

	other.pid = 4243;
	restarted.pid_start = 778;   /* same pid, a different process */
	user.uid = 1000;
	for (const char *n = "abcd"; *n; n++) {
		char name[2] = { *n, 0 };

		snprintf(p, sizeof(p), "site/%s", name);
		write_file(bp(f, p), name);
	}
	assert_int_equal(del_as(f, &f->who, "site", "", "a", false), 0);
	assert_int_equal(del_as(f, &other, "site", "", "b", false), 0);
	assert_int_equal(nentries(bp(f, "site/.trash")), 2);
	opname(op, T0, 4242, 1);
	snprintf(p, sizeof(p), "site/.trash/%s/a", op);
	assert_content(bp(f, p), "a");
	opname(op, T0, 4243, 1);
	snprintf(p, sizeof(p), "site/.trash/%s/b", op);
	assert_content(bp(f, p), "b");

	/* same pid but another start time: a new op (the name is taken, so .2) */
	assert_int_equal(del_as(f, &restarted, "site", "", "c", false), 0);
	assert_int_equal(nentries(bp(f, "site/.trash")), 3);
	opname(op, T0, 4242, 2);
	snprintf(p, sizeof(p), "site/.trash/%s/c", op);
	assert_content(bp(f, p), "c");

	/* same pid, another uid: another op too */
	assert_int_equal(del_as(f, &user, "site", "", "d", false), 0);
	assert_int_equal(nentries(bp(f, "site/.trash")), 4);
}

static void test_group_gap(void **state)
{
	struct fx *f = *state;
	char op[NAME_MAX + 1], p[PATH_MAX];
	struct op_record r;

	write_file(bp(f, "site/a"), "a");
	write_file(bp(f, "site/b"), "b");
	assert_int_equal(del(f, "", "a", false), 0);
	fake_now += GAP_NS + 3 * NS;   /* idle longer than the gap */
	assert_int_equal(del(f, "", "b", false), 0);
	assert_int_equal(nentries(bp(f, "site/.trash")), 2);
	opname(op, T0 + GAP_NS + 3 * NS, 4242, 1);
	snprintf(p, sizeof(p), "site/.trash/%s/b", op);
	assert_content(bp(f, p), "b");
	/* the first op was closed when the second began */
	opname(op, T0, 4242, 1);
	snprintf(p, sizeof(p), "site/.trash/%s", op);
	read_rec(bp(f, p), &r);
	assert_int_equal(r.state, OP_CLOSED);
	assert_int_equal(r.items, 1);
}

static void test_group_per_site(void **state)
{
	struct fx *f = *state;
	char op[NAME_MAX + 1], p[PATH_MAX];

	assert_int_equal(mkdir(bp(f, "other"), 0755), 0);
	write_file(bp(f, "site/a"), "a");
	write_file(bp(f, "other/a"), "A");
	assert_int_equal(del_as(f, &f->who, "site", "", "a", false), 0);
	assert_int_equal(del_as(f, &f->who, "other", "", "a", false), 0);
	opname(op, T0, 4242, 1);
	snprintf(p, sizeof(p), "site/.trash/%s/a", op);
	assert_content(bp(f, p), "a");
	snprintf(p, sizeof(p), "other/.trash/%s/a", op);
	assert_content(bp(f, p), "A");
}

static void test_collision_fresh_op(void **state)
{
	struct fx *f = *state;
	char op[NAME_MAX + 1], p[PATH_MAX];
	struct op_record r;

	write_file(bp(f, "site/a"), "first");
	assert_int_equal(del(f, "", "a", false), 0);
	write_file(bp(f, "site/a"), "second");
	assert_int_equal(del(f, "", "a", false), 0);
	assert_false(exists(bp(f, "site/a")));
	assert_int_equal(nentries(bp(f, "site/.trash")), 2);
	opname(op, T0, 4242, 1);
	snprintf(p, sizeof(p), "site/.trash/%s/a", op);
	assert_content(bp(f, p), "first");
	/* the first op was closed with its final record */
	snprintf(p, sizeof(p), "site/.trash/%s", op);
	read_rec(bp(f, p), &r);
	assert_int_equal(r.state, OP_CLOSED);
	opname(op, T0, 4242, 2);
	snprintf(p, sizeof(p), "site/.trash/%s/a", op);
	assert_content(bp(f, p), "second");

	/* a third time: .3 */
	write_file(bp(f, "site/a"), "third");
	assert_int_equal(del(f, "", "a", false), 0);
	opname(op, T0, 4242, 3);
	snprintf(p, sizeof(p), "site/.trash/%s/a", op);
	assert_content(bp(f, p), "third");
	/* no temporary directories left behind */
	assert_int_equal(nentries(bp(f, "site/.trash")), 3);
}

static void test_record_tick(void **state)
{
	struct fx *f = *state;
	char op[NAME_MAX + 1], p[PATH_MAX];
	struct op_record r, ir;
	struct stat st;
	uint64_t bytes;

	f->who.uid = 1000;
	f->who.gid = 1001;
	assert_int_equal(chown(bp(f, "site"), 1234, 1235), 0);
	assert_int_equal(chmod(bp(f, "site"), 0711), 0);
	write_big(bp(f, "site/f"), 10000);
	write_file(bp(f, "site/g"), "g");
	bytes = alloc_of(bp(f, "site/f")) + alloc_of(bp(f, "site/g"));
	assert_int_equal(del(f, "", "f", false), 0);
	fake_now += NS;
	assert_int_equal(del(f, "", "g", false), 0);
	opname(op, T0, 4242, 1);
	snprintf(p, sizeof(p), "site/.trash/%s", op);

	/* the op dir never exists without its record */
	read_rec(bp(f, p), &r);
	assert_int_equal(r.state, OP_OPEN);
	/* it stands for the site root: the root's owner and mode, not the
	 * deleter's (docs/isolation.md); the record says who deleted */
	assert_int_equal(lstat(bp(f, p), &st), 0);
	assert_int_equal(st.st_uid, 1234);
	assert_int_equal(st.st_gid, 1235);
	assert_int_equal(st.st_mode & 07777, 0711);
	assert_int_equal(r.uid, 1000);
	assert_int_equal(r.gid, 1001);

	/* a tick inside the gap writes the counts, op stays open */
	assert_int_equal(trash_tick(f->t), 0);
	read_rec(bp(f, p), &r);
	assert_string_equal(r.scope, "site");
	assert_string_equal(r.name, op);
	assert_int_equal(r.state, OP_OPEN);
	assert_int_equal(r.items, 2);
	assert_int_equal(r.bytes, bytes);
	assert_int_equal(r.uid, 1000);
	assert_int_equal(r.gid, 1001);
	assert_int_equal(r.pid, 4242);
	assert_int_equal(r.pid_start, 777);
	assert_int_equal(r.first_ns, T0);
	assert_int_equal(r.last_ns, T0 + NS);
	assert_int_equal(r.retention_s, RETENTION);
	assert_string_equal(r.cmdline, "rm -rf x");
	assert_int_equal(index_get(f->ix, "site", op, &ir), 0);
	assert_int_equal(ir.items, 2);
	assert_int_equal(ir.state, OP_OPEN);

	/* after the gap the tick closes it */
	fake_now += GAP_NS;
	assert_int_equal(trash_tick(f->t), 0);
	read_rec(bp(f, p), &r);
	assert_int_equal(r.state, OP_CLOSED);
	assert_int_equal(r.items, 2);
	assert_int_equal(index_get(f->ix, "site", op, &ir), 0);
	assert_int_equal(ir.state, OP_CLOSED);
	assert_int_equal(oprec_expiry(&ir), (T0 + NS) / NS + RETENTION);
	/* a later deletion starts a new op */
	write_file(bp(f, "site/h"), "h");
	assert_int_equal(del(f, "", "h", false), 0);
	assert_int_equal(nentries(bp(f, "site/.trash")), 2);
}

static void test_record_close_all(void **state)
{
	struct fx *f = *state;
	char op[NAME_MAX + 1], p[PATH_MAX];
	struct op_record r, ir;
	uint64_t items, bytes;

	assert_int_equal(mkdir(bp(f, "site/d"), 0755), 0);
	write_big(bp(f, "site/d/f"), 50000);
	assert_int_equal(del(f, "d", "f", false), 0);
	trash_close_all(f->t);
	opname(op, T0, 4242, 1);
	snprintf(p, sizeof(p), "site/.trash/%s", op);
	read_rec(bp(f, p), &r);
	assert_int_equal(r.state, OP_CLOSED);
	count_path(bp(f, p), &items, &bytes);
	assert_int_equal(items, 1);   /* f; the mirror of d was never deleted */
	assert_int_equal(r.items, items);
	assert_int_equal(r.bytes, bytes);
	assert_int_equal(index_get(f->ix, "site", op, &ir), 0);
	assert_memory_equal(&ir, &r, sizeof(r));
	snprintf(p, sizeof(p), "site/.trash/%s/d", op);
	assert_true(lgetxattr(bp(f, p), TRASH_MIRROR_XATTR, NULL, 0) >= 0);
}

/* The record of an op that has held one file carries a hint naming it
 * (index_put_hint); a second item retires it, a directory never has one. */
static void test_record_hint(void **state)
{
	struct fx *f = *state;
	struct caller other = f->who;
	char op[NAME_MAX + 1], op2[NAME_MAX + 1], path[PATH_MAX];
	struct op_record ir;
	mode_t mode = 0;

	assert_int_equal(mkdir(bp(f, "site/d"), 0755), 0);
	assert_int_equal(mkdir(bp(f, "site/d/e"), 0755), 0);
	write_file(bp(f, "site/d/e/f"), "f");
	write_file(bp(f, "site/d/g"), "g");
	assert_int_equal(del(f, "d/e", "f", false), 0);
	assert_int_equal(trash_tick(f->t), 0);
	opname(op, T0, 4242, 1);
	assert_int_equal(index_get(f->ix, "site", op, &ir), 0);
	assert_int_equal(index_hint_get(f->ix, &ir, path, sizeof(path), &mode), 0);
	assert_string_equal(path, "d/e/f");
	assert_true(S_ISREG(mode));
	/* a second item in the same op: the stored hint no longer counts */
	fake_now += NS;
	assert_int_equal(del(f, "d", "g", false), 0);
	assert_int_equal(trash_tick(f->t), 0);
	assert_int_equal(index_get(f->ix, "site", op, &ir), 0);
	assert_int_equal(ir.items, 2);
	assert_int_equal(index_hint_get(f->ix, &ir, path, sizeof(path), &mode), -ENOENT);
	ir.items = 1;   /* as if one had left again: last_ns still tells */
	assert_int_equal(index_hint_get(f->ix, &ir, path, sizeof(path), &mode), -ENOENT);
	/* a directory alone (another process, another op): no hint */
	other.pid = 4343;
	assert_int_equal(mkdir(bp(f, "site/x"), 0755), 0);
	assert_int_equal(del_as(f, &other, "site", "", "x", true), 0);
	trash_close_all(f->t);
	opname(op2, T0 + NS, 4343, 1);
	assert_int_equal(index_get(f->ix, "site", op2, &ir), 0);
	assert_int_equal(ir.items, 1);
	assert_int_equal(index_hint_get(f->ix, &ir, path, sizeof(path), &mode), -ENOENT);
}

static void test_op_get(void **state)
{
	struct fx *f = *state;
	char op[NAME_MAX + 1], p[PATH_MAX];
	struct op_record r;

	write_file(bp(f, "site/a"), "a");
	assert_int_equal(del(f, "", "a", false), 0);
	opname(op, T0, 4242, 1);
	/* open op: the in-memory record */
	assert_int_equal(trash_op_get(f->t, "site", op, &r), 0);
	assert_int_equal(r.items, 1);
	assert_int_equal(r.state, OP_OPEN);
	trash_close_all(f->t);
	/* closed: from the index */
	assert_int_equal(trash_op_get(f->t, "site", op, &r), 0);
	assert_int_equal(r.state, OP_CLOSED);
	/* index lost: from the directory's xattr */
	assert_int_equal(index_del(f->ix, "site", op), 0);
	memset(&r, 0, sizeof(r));
	assert_int_equal(trash_op_get(f->t, "site", op, &r), 0);
	assert_int_equal(r.items, 1);
	assert_string_equal(r.name, op);
	/* unknown */
	assert_int_equal(trash_op_get(f->t, "site", "20261127T130512Z-rm-1", &r), -ENOENT);
	assert_int_equal(trash_op_get(f->t, "nosite", op, &r), -ENOENT);
	snprintf(p, sizeof(p), "site/.trash/%s", op);
	assert_true(exists(bp(f, p)));
}

/* ---- faults -------------------------------------------------------------- */

static void test_fault_rename_enospc(void **state)
{
	struct fx *f = *state;
	char op[NAME_MAX + 1], p[PATH_MAX];

	write_file(bp(f, "site/a"), "aaa");
	write_file(bp(f, "site/b"), "bbb");
	assert_int_equal(mkdir(bp(f, "site/d"), 0755), 0);
	write_file(bp(f, "site/d/c"), "ccc");

	/* no op yet: creating it fails */
	fail_renames(0, -1, ENOSPC);
	assert_int_equal(del(f, "", "a", false), -ENOSPC);
	assert_true(rename_calls > 0);
	assert_content(bp(f, "site/a"), "aaa");
	assert_true(nentries(bp(f, "site/.trash")) <= 0);   /* no .tmp-* left */
	assert_int_equal(count_index(f->ix, NULL), 0);

	/* an open op: the move itself fails */
	faults_off();
	assert_int_equal(del(f, "", "b", false), 0);
	fail_renames(0, -1, ENOSPC);
	assert_int_equal(del(f, "", "a", false), -ENOSPC);
	assert_content(bp(f, "site/a"), "aaa");
	assert_int_equal(del(f, "d", "c", false), -ENOSPC);
	assert_content(bp(f, "site/d/c"), "ccc");
	opname(op, T0, 4242, 1);
	snprintf(p, sizeof(p), "site/.trash/%s/a", op);
	assert_false(exists(bp(f, p)));
	snprintf(p, sizeof(p), "site/.trash/%s/d/c", op);
	assert_false(exists(bp(f, p)));
	snprintf(p, sizeof(p), "site/.trash/%s/b", op);
	assert_content(bp(f, p), "bbb");

	/* and it works again once the fault is gone */
	faults_off();
	assert_int_equal(del(f, "", "a", false), 0);
	assert_false(exists(bp(f, "site/a")));
}

static void test_fault_mkdir_eio(void **state)
{
	struct fx *f = *state;
	char op[NAME_MAX + 1], p[PATH_MAX];

	write_file(bp(f, "site/a"), "aaa");
	write_file(bp(f, "site/b"), "bbb");
	assert_int_equal(mkdir(bp(f, "site/d"), 0755), 0);
	write_file(bp(f, "site/d/c"), "ccc");

	sys.mkdirat = fake_mkdirat_eio;
	assert_int_equal(del(f, "", "a", false), -EIO);
	assert_content(bp(f, "site/a"), "aaa");
	assert_false(exists(bp(f, "site/.trash")));
	assert_int_equal(count_index(f->ix, NULL), 0);

	/* with an open op, creating the mirror of d fails */
	sys.mkdirat = mkdirat;
	assert_int_equal(del(f, "", "b", false), 0);
	sys.mkdirat = fake_mkdirat_eio;
	assert_int_equal(del(f, "d", "c", false), -EIO);
	assert_content(bp(f, "site/d/c"), "ccc");
	opname(op, T0, 4242, 1);
	snprintf(p, sizeof(p), "site/.trash/%s/d", op);
	assert_false(exists(bp(f, p)));
	/* rmdir of an empty dir below d: also nothing moved */
	assert_int_equal(mkdir(bp(f, "site/d/e"), 0755), 0);
	assert_int_equal(del(f, "d", "e", true), -EIO);
	assert_true(exists(bp(f, "site/d/e")));
	assert_false(exists(bp(f, p)));
}

/* ---- rename over ------------------------------------------------------------ */

static void test_rename_over_file(void **state)
{
	struct fx *f = *state;
	char op[NAME_MAX + 1], p[PATH_MAX];
	ino_t old_ino, new_ino;

	write_file(bp(f, "site/old"), "OLD");
	write_file(bp(f, "site/new"), "NEW");
	old_ino = ino_of(bp(f, "site/old"));
	new_ino = ino_of(bp(f, "site/new"));
	assert_int_equal(ren(f, "", "new", "old", 0), 0);
	assert_false(exists(bp(f, "site/new")));
	assert_content(bp(f, "site/old"), "NEW");
	assert_int_equal(ino_of(bp(f, "site/old")), new_ino);
	opname(op, T0, 4242, 1);
	snprintf(p, sizeof(p), "site/.trash/%s/old", op);
	assert_content(bp(f, p), "OLD");
	assert_int_equal(ino_of(bp(f, p)), old_ino);
	struct stat st;
	assert_int_equal(lstat(bp(f, p), &st), 0);
	assert_int_equal(st.st_nlink, 1);   /* the trash holds the only name */

	/* again, in a subdirectory: the old target lands in its mirror */
	assert_int_equal(mkdir(bp(f, "site/d"), 0755), 0);
	write_file(bp(f, "site/d/x"), "X1");
	write_file(bp(f, "site/d/y"), "Y");
	assert_int_equal(ren(f, "d", "y", "x", 0), 0);
	snprintf(p, sizeof(p), "site/.trash/%s/d/x", op);
	assert_content(bp(f, p), "X1");
	assert_content(bp(f, "site/d/x"), "Y");

	/* replacing "old" a second time in the same op: a fresh op */
	write_file(bp(f, "site/new"), "NEWER");
	assert_int_equal(ren(f, "", "new", "old", 0), 0);
	assert_content(bp(f, "site/old"), "NEWER");
	opname(op, T0, 4242, 2);
	snprintf(p, sizeof(p), "site/.trash/%s/old", op);
	assert_content(bp(f, p), "NEW");
}

static void test_rename_plain_and_flags(void **state)
{
	struct fx *f = *state;

	write_file(bp(f, "site/a"), "A");
	write_file(bp(f, "site/b"), "B");
	/* nothing to replace */
	assert_int_equal(ren(f, "", "a", "c", 0), 0);
	assert_content(bp(f, "site/c"), "A");
	assert_false(exists(bp(f, "site/a")));
	/* NOREPLACE over an existing target */
	assert_int_equal(ren(f, "", "c", "b", RENAME_NOREPLACE), -EEXIST);
	assert_content(bp(f, "site/c"), "A");
	assert_content(bp(f, "site/b"), "B");
	/* EXCHANGE swaps, nothing goes to trash */
	assert_int_equal(ren(f, "", "c", "b", RENAME_EXCHANGE), 0);
	assert_content(bp(f, "site/c"), "B");
	assert_content(bp(f, "site/b"), "A");
	assert_true(nentries(bp(f, "site/.trash")) <= 0);
	/* missing source */
	assert_int_equal(ren(f, "", "nope", "b", 0), -ENOENT);
	assert_content(bp(f, "site/b"), "A");
}

static void test_rename_same_inode(void **state)
{
	struct fx *f = *state;

	write_file(bp(f, "site/a"), "same");
	assert_int_equal(link(bp(f, "site/a"), bp(f, "site/b")), 0);
	assert_int_equal(ren(f, "", "a", "b", 0), 0);
	assert_content(bp(f, "site/a"), "same");
	assert_content(bp(f, "site/b"), "same");
	assert_int_equal(ino_of(bp(f, "site/a")), ino_of(bp(f, "site/b")));
	assert_true(nentries(bp(f, "site/.trash")) <= 0);
}

static void test_rename_type_errors(void **state)
{
	struct fx *f = *state;

	assert_int_equal(mkdir(bp(f, "site/s"), 0755), 0);
	write_file(bp(f, "site/s/sf"), "sf");
	assert_int_equal(mkdir(bp(f, "site/d"), 0755), 0);
	write_file(bp(f, "site/d/df"), "df");
	write_file(bp(f, "site/file"), "file");

	assert_int_equal(ren(f, "", "s", "d", 0), -ENOTEMPTY);
	assert_content(bp(f, "site/s/sf"), "sf");
	assert_content(bp(f, "site/d/df"), "df");
	assert_int_equal(ren(f, "", "file", "d", 0), -EISDIR);
	assert_content(bp(f, "site/file"), "file");
	assert_int_equal(nentries(bp(f, "site/d")), 1);
	assert_int_equal(ren(f, "", "s", "file", 0), -ENOTDIR);
	assert_content(bp(f, "site/file"), "file");
	assert_int_equal(nentries(bp(f, "site/s")), 1);
	assert_true(nentries(bp(f, "site/.trash")) <= 0);
	assert_int_equal(count_index(f->ix, NULL), 0);
}

static void test_rename_dir_over_empty_dir(void **state)
{
	struct fx *f = *state;
	char op[NAME_MAX + 1], p[PATH_MAX];
	struct stat st;

	assert_int_equal(mkdir(bp(f, "site/s"), 0755), 0);
	write_file(bp(f, "site/s/sf"), "sf");
	assert_int_equal(mkdir(bp(f, "site/d"), 0700), 0);
	assert_int_equal(chown(bp(f, "site/d"), 1000, 1000), 0);
	ino_t dino = ino_of(bp(f, "site/d"));
	assert_int_equal(ren(f, "", "s", "d", 0), 0);
	assert_false(exists(bp(f, "site/s")));
	assert_content(bp(f, "site/d/sf"), "sf");
	opname(op, T0, 4242, 1);
	snprintf(p, sizeof(p), "site/.trash/%s/d", op);
	assert_int_equal(lstat(bp(f, p), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_ino, dino);   /* the victim itself, moved */
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(nentries(bp(f, p)), 0);
}

/* The rename after linking the victim into trash fails: nothing changed. */
static void test_rename_over_fault_rollback(void **state)
{
	struct fx *f = *state;
	char op[NAME_MAX + 1], p[PATH_MAX];

	write_file(bp(f, "site/x"), "x");
	assert_int_equal(del(f, "", "x", false), 0);   /* the op exists */
	write_file(bp(f, "site/old"), "OLD");
	write_file(bp(f, "site/new"), "NEW");
	ino_t old_ino = ino_of(bp(f, "site/old"));

	fail_renames(0, -1, ENOSPC);
	assert_int_equal(ren(f, "", "new", "old", 0), -ENOSPC);
	assert_content(bp(f, "site/old"), "OLD");
	assert_content(bp(f, "site/new"), "NEW");
	assert_int_equal(ino_of(bp(f, "site/old")), old_ino);
	struct stat st;
	assert_int_equal(lstat(bp(f, "site/old"), &st), 0);
	assert_int_equal(st.st_nlink, 1);   /* the trash link was removed */
	opname(op, T0, 4242, 1);
	snprintf(p, sizeof(p), "site/.trash/%s/old", op);
	assert_false(exists(bp(f, p)));
	snprintf(p, sizeof(p), "site/.trash/%s", op);
	assert_int_equal(nentries(bp(f, p)), 1);
}

/* ... and the op's counts do not keep the rolled-back victim. */
static void test_rename_over_fault_counts(void **state)
{
	struct fx *f = *state;
	char op[NAME_MAX + 1], p[PATH_MAX];
	struct op_record r;
	uint64_t items, bytes;

	write_file(bp(f, "site/x"), "x");
	assert_int_equal(del(f, "", "x", false), 0);
	write_big(bp(f, "site/old"), 100000);
	write_file(bp(f, "site/new"), "NEW");
	fail_renames(0, -1, ENOSPC);
	assert_int_equal(ren(f, "", "new", "old", 0), -ENOSPC);
	faults_off();
	trash_close_all(f->t);
	opname(op, T0, 4242, 1);
	snprintf(p, sizeof(p), "site/.trash/%s", op);
	count_path(bp(f, p), &items, &bytes);
	read_rec(bp(f, p), &r);
	assert_int_equal(r.items, items);
	assert_int_equal(r.bytes, bytes);
}

/* Directory victim: moved to trash, then the rename fails: moved back. */
static void test_rename_dir_over_fault_rollback(void **state)
{
	struct fx *f = *state;
	char op[NAME_MAX + 1], p[PATH_MAX];

	write_file(bp(f, "site/x"), "x");
	assert_int_equal(del(f, "", "x", false), 0);
	assert_int_equal(mkdir(bp(f, "site/s"), 0755), 0);
	write_file(bp(f, "site/s/sf"), "sf");
	assert_int_equal(mkdir(bp(f, "site/d"), 0755), 0);
	ino_t dino = ino_of(bp(f, "site/d"));

	fail_renames(1, 1, EIO);   /* the move into trash works, the rename not */
	assert_int_equal(ren(f, "", "s", "d", 0), -EIO);
	assert_int_equal(rename_calls, 3);   /* into trash, rename, back */
	assert_int_equal(ino_of(bp(f, "site/d")), dino);
	assert_content(bp(f, "site/s/sf"), "sf");
	opname(op, T0, 4242, 1);
	snprintf(p, sizeof(p), "site/.trash/%s/d", op);
	assert_false(exists(bp(f, p)));
}

/* ---- whole sites -------------------------------------------------------------- */

static void test_delete_site(void **state)
{
	struct fx *f = *state;
	char op[NAME_MAX + 1], p[PATH_MAX], v[64];
	struct op_record r;

	assert_int_equal(mkdir(bp(f, "s2"), 0750), 0);
	assert_int_equal(mkdir(bp(f, "s2/d"), 0755), 0);
	write_file(bp(f, "s2/f1"), "one");
	write_file(bp(f, "s2/d/g"), "gee");
	ino_t gino = ino_of(bp(f, "s2/d/g"));

	/* rm -rf MOUNT/s2 */
	assert_int_equal(del_as(f, &f->who, "s2", "d", "g", false), 0);
	assert_int_equal(del_as(f, &f->who, "s2", "", "d", true), 0);
	assert_int_equal(del_as(f, &f->who, "s2", "", "f1", false), 0);
	assert_int_equal(count_index(f->ix, "s2"), 1);
	assert_int_equal(del_site(f, &f->who, "s2"), 0);

	assert_false(exists(bp(f, "s2")));
	opname(op, T0, 4242, 1);
	assert_int_equal(nentries(bp(f, ".gracefs/trash")), 1);
	snprintf(p, sizeof(p), ".gracefs/trash/%s/s2/f1", op);
	assert_content(bp(f, p), "one");
	snprintf(p, sizeof(p), ".gracefs/trash/%s/s2/d/g", op);
	assert_content(bp(f, p), "gee");
	assert_int_equal(ino_of(bp(f, p)), gino);
	/* the site's own trash holds nothing any more */
	snprintf(p, sizeof(p), ".gracefs/trash/%s/s2/.trash", op);
	assert_true(nentries(bp(f, p)) <= 0);
	snprintf(p, sizeof(p), ".gracefs/trash/%s/s2", op);
	struct stat st;
	assert_int_equal(lstat(bp(f, p), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	/* no collapse marker left, the site's records gone, root op recorded */
	snprintf(p, sizeof(p), ".gracefs/trash/%s", op);
	assert_int_equal(lgetxattr(bp(f, p), TRASH_COLLAPSE_XATTR, v, sizeof(v)), -1);
	assert_int_equal(count_index(f->ix, "s2"), 0);
	trash_close_all(f->t);
	read_rec(bp(f, p), &r);
	assert_string_equal(r.scope, "");
	assert_string_equal(r.name, op);
	assert_int_equal(r.state, OP_CLOSED);
	assert_int_equal(index_get(f->ix, "", op, &r), 0);
	/* the untouched site is still there */
	assert_true(exists(bp(f, "site")));
}

/* The root op's counts cover the site's contents put back into it. */
static void test_delete_site_counts(void **state)
{
	struct fx *f = *state;
	char op[NAME_MAX + 1], p[PATH_MAX];
	struct op_record r;

	assert_int_equal(mkdir(bp(f, "s2"), 0755), 0);
	assert_int_equal(mkdir(bp(f, "s2/d"), 0755), 0);
	write_file(bp(f, "s2/f1"), "one");
	write_file(bp(f, "s2/d/g"), "gee");
	assert_int_equal(del_as(f, &f->who, "s2", "d", "g", false), 0);
	assert_int_equal(del_as(f, &f->who, "s2", "", "d", true), 0);
	assert_int_equal(del_as(f, &f->who, "s2", "", "f1", false), 0);
	assert_int_equal(del_site(f, &f->who, "s2"), 0);
	trash_close_all(f->t);
	opname(op, T0, 4242, 1);
	snprintf(p, sizeof(p), ".gracefs/trash/%s", op);
	read_rec(bp(f, p), &r);
	/* s2, s2/f1, s2/d, s2/d/g at least */
	if (r.items < 4)
		fail_msg("root op records %llu items, holds s2 + 3 entries",
			 (unsigned long long)r.items);
}

static void test_delete_site_other_process(void **state)
{
	struct fx *f = *state;
	struct caller other = f->who;
	char op[NAME_MAX + 1], sop[NAME_MAX + 1], p[PATH_MAX];

	other.pid = 99;
	assert_int_equal(mkdir(bp(f, "s2"), 0755), 0);
	write_file(bp(f, "s2/f1"), "one");
	assert_int_equal(del_site(f, &f->who, "s2"), -ENOTEMPTY);
	assert_content(bp(f, "s2/f1"), "one");
	/* another process emptied it: its op stays in the site's trash */
	assert_int_equal(del_as(f, &other, "s2", "", "f1", false), 0);
	assert_int_equal(del_site(f, &f->who, "s2"), 0);
	assert_false(exists(bp(f, "s2")));
	opname(op, T0, 4242, 1);
	opname(sop, T0, 99, 1);
	snprintf(p, sizeof(p), ".gracefs/trash/%s/s2/.trash/%s/f1", op, sop);
	assert_content(bp(f, p), "one");
	snprintf(p, sizeof(p), ".gracefs/trash/%s/s2/f1", op);
	assert_false(exists(bp(f, p)));
	assert_int_equal(count_index(f->ix, "s2"), 0);
}

/* ---- the brake's hold on a whole run (trash_run_set_brake) ---- */

static bool braked_yes(void *arg, const char *run)
{
	return !strcmp(arg, run);
}

static uint32_t hold_of(struct fx *f, const char *scope, const char *name)
{
	struct op_record r;

	assert_int_equal(trash_op_get(f->t, scope, name, &r), 0);
	return r.hold;
}

static void test_run_brake(void **state)
{
	struct fx *f = *state;
	struct caller run = f->who, other = f->who;
	char a[NAME_MAX + 1], b[NAME_MAX + 1], c[NAME_MAX + 1], d[NAME_MAX + 1], e[NAME_MAX + 1];
	size_t n;

	/* the test process's own run: op records carry it */
	assert_int_equal(procinfo_read(getpid(), &run), 0);
	assert_true(run.run[0] != '\0');
	run.uid = run.gid = 0;
	other.run[0] = '\0';
	write_file(bp(f, "site/f0"), "0");
	write_file(bp(f, "site/f1"), "1");
	write_file(bp(f, "site/f2"), "2");
	write_file(bp(f, "site/f3"), "3");
	assert_int_equal(del_as(f, &run, "site", "", "f0", false), 0);       /* op a, closed */
	run.pid_start++;                                                  /* another process */
	assert_int_equal(del_as(f, &run, "site", "", "f1", false), 0);       /* op b, closed */
	trash_close_all(f->t);
	assert_int_equal(del_as(f, &run, "site", "", "f2", false), 0);       /* op c, open */
	assert_int_equal(del_as(f, &other, "site", "", "f3", false), 0);     /* d: no run */
	/* names: the same command, pid and second, told apart by their ".N" */
	assert_int_equal(util_op_name(T0 / NS, run.cmd, run.pid, 1, a, sizeof(a)), 0);
	assert_int_equal(util_op_name(T0 / NS, run.cmd, run.pid, 2, b, sizeof(b)), 0);
	assert_int_equal(util_op_name(T0 / NS, run.cmd, run.pid, 3, c, sizeof(c)), 0);
	opname(d, T0, other.pid, 1);
	assert_int_equal(hold_of(f, "site", a), 0);

	assert_int_equal(trash_run_set_brake(f->t, run.run, true, &n), 0);
	assert_int_equal(n, 3);   /* a, b (index) and c (open): each once */
	assert_int_equal(hold_of(f, "site", a), OPREC_HOLD_BRAKE);
	assert_int_equal(hold_of(f, "site", b), OPREC_HOLD_BRAKE);
	assert_int_equal(hold_of(f, "site", c), OPREC_HOLD_BRAKE);
	assert_int_equal(hold_of(f, "site", d), 0);   /* another run's op */
	assert_int_equal(trash_purge_begin(f->t, "site", a), -EPERM);
	assert_int_equal(trash_run_set_brake(f->t, run.run, true, &n), 0);
	assert_int_equal(n, 0);   /* already held */

	/* the operator's hold and the brake's are kept apart */
	assert_int_equal(trash_op_set_hold(f->t, "site", a, true), 0);
	assert_int_equal(hold_of(f, "site", a), OPREC_HOLD_LEGAL | OPREC_HOLD_BRAKE);
	assert_int_equal(trash_run_set_brake(f->t, run.run, false, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(hold_of(f, "site", a), OPREC_HOLD_LEGAL);   /* stays the operator's */
	assert_int_equal(hold_of(f, "site", b), 0);
	/* ... and an operator's release lifts both */
	assert_int_equal(trash_run_set_brake(f->t, run.run, true, NULL), 0);
	assert_int_equal(trash_op_set_hold(f->t, "site", a, false), 0);
	assert_int_equal(hold_of(f, "site", a), 0);
	assert_int_equal(trash_run_set_brake(f->t, "", true, NULL), -EINVAL);

	/* a braked run's new op is held from its first record on */
	trash_close(f->t);
	struct trash_conf conf = { .retention_s = RETENTION, .op_gap_ns = GAP_NS,
				   .run_braked = braked_yes, .cb_arg = run.run };
	assert_int_equal(trash_open(&f->t, f->bfd, f->ix, &conf), 0);
	fake_now += 60 * NS;
	write_file(bp(f, "site/f4"), "4");
	assert_int_equal(del_as(f, &run, "site", "", "f4", false), 0);
	assert_int_equal(util_op_name(fake_now / NS, run.cmd, run.pid, 1, e, sizeof(e)), 0);
	assert_int_equal(hold_of(f, "site", e), OPREC_HOLD_BRAKE);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_relpath),
		T(test_unlink_moves_file),
		T(test_unlink_symlink_and_fifo),
		T(test_mirror_parent_meta),
		T(test_rmdir_nonempty),
		T(test_type_errors),
		T(test_rm_r_order),
		T(test_rm_r_counts),
		T(test_group_same_process),
		T(test_group_other_process),
		T(test_run_brake),
		T(test_group_gap),
		T(test_group_per_site),
		T(test_collision_fresh_op),
		T(test_record_tick),
		T(test_record_close_all),
		T(test_record_hint),
		T(test_op_get),
		T(test_fault_rename_enospc),
		T(test_fault_mkdir_eio),
		T(test_rename_over_file),
		T(test_rename_plain_and_flags),
		T(test_rename_same_inode),
		T(test_rename_type_errors),
		T(test_rename_dir_over_empty_dir),
		T(test_rename_over_fault_rollback),
		T(test_rename_over_fault_counts),
		T(test_rename_dir_over_fault_rollback),
		T(test_delete_site),
		T(test_delete_site_counts),
		T(test_delete_site_other_process),
	};

	if (geteuid() != 0) {
		printf("1..0 # SKIP test_trash needs root (trusted.* xattrs, chown)\n");
		return 0;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
