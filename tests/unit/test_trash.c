/*
 * test_trash — the soft-delete engine on a real backing directory.
 *
 * Each test gets a fresh mkdtemp dir holding BACKING (b/, with one site
 * b/site) and an LMDB index (idx/), and an engine opened on them.  The wall
 * clock is faked through sys.wall_ns so op names are predictable; faults are
 * injected through sys.renameat2 / sys.mkdirat.  Needs root (trusted.*
 * xattrs, chown).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <linux/fs.h>
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

/* Paths are built into PATH_MAX buffers from short temp paths. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#define NS INT64_C(1000000000)
#define T0 (INT64_C(1795784712) * NS)    /* 2026-11-27T13:05:12Z */
#define GAP_NS (5 * NS)
#define RETENTION (30 * 86400)

/* ---- fixture ------------------------------------------------------------- */

static int64_t fake_now;
static int64_t fake_wall(void) { return fake_now; }

struct fx {
	char tmp[64];      /* mkdtemp dir, removed in teardown */
	char b[96];        /* BACKING */
	char idx[96];      /* index directory */
	int bfd;
	struct index *ix;
	struct trash *t;
	struct caller who;
	struct relpath rel;
	int removed_n;
	char removed[NAME_MAX + 1];
	ino_t removed_dir_ino;
};

static void on_removed(void *arg, int dirfd, const char *name)
{
	struct fx *f = arg;
	struct stat st;

	f->removed_n++;
	snprintf(f->removed, sizeof(f->removed), "%s", name);
	if (fstat(dirfd, &st) == 0)
		f->removed_dir_ino = st.st_ino;
}

static void open_engine(struct fx *f)
{
	struct trash_conf conf = {
		.retention_s = RETENTION, .op_gap_ns = GAP_NS,
		.on_removed = on_removed, .cb_arg = f,
	};

	assert_int_equal(trash_open(&f->t, f->bfd, f->ix, &conf), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char p[160];

	assert_non_null(f);
	strcpy(f->tmp, "/tmp/gracefs-tr-XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	snprintf(f->b, sizeof(f->b), "%s/b", f->tmp);
	snprintf(f->idx, sizeof(f->idx), "%s/idx", f->tmp);
	assert_int_equal(mkdir(f->b, 0755), 0);
	snprintf(p, sizeof(p), "%s/site", f->b);
	assert_int_equal(mkdir(p, 0755), 0);
	f->bfd = open(f->b, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->bfd >= 0);
	assert_int_equal(index_open(&f->ix, f->idx), 0);

	sys_reset();
	fake_now = T0;
	sys.wall_ns = fake_wall;
	sys.mono_ns = fake_wall;   /* op gaps are measured on the elapsed clock */

	f->who.uid = 0;
	f->who.gid = 0;
	f->who.pid = 4242;
	f->who.pid_start = 777;
	strcpy(f->who.cmd, "rm");
	strcpy(f->who.cmdline, "rm -rf x");
	open_engine(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	sys_reset();
	trash_close(f->t);
	index_close(f->ix);
	close(f->bfd);
	assert_int_equal(rm_tree(f->tmp), 0);
	free(f);
	return 0;
}

/* ---- helpers ------------------------------------------------------------- */

/* BACKING-relative path -> absolute path (rotating static buffers). */
static const char *bp(struct fx *f, const char *rel)
{
	static char bufs[8][PATH_MAX];
	static int i;
	char *b = bufs[i++ % 8];

	snprintf(b, PATH_MAX, "%s/%s", f->b, rel);
	return b;
}

static void opname(char *buf, int64_t ns, uint32_t pid, unsigned n)
{
	assert_int_equal(util_op_name(ns / NS, "rm", pid, n, buf, NAME_MAX + 1), 0);
}

static void write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);
}

static void write_big(const char *path, size_t n)
{
	char *buf = malloc(n);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_non_null(buf);
	assert_true(fd >= 0);
	memset(buf, 'x', n);
	assert_int_equal(write(fd, buf, n), (ssize_t)n);
	close(fd);
	free(buf);
}

static uint64_t alloc_of(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	return (uint64_t)st.st_blocks * 512;
}

/* Entries in a directory (without . and ..), -1 if it cannot be opened. */
static int nentries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void set_rel(struct fx *f, const char *path)
{
	char tmp[PATH_MAX];

	memset(&f->rel, 0, sizeof(f->rel));
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *save = NULL, *c = strtok_r(tmp, "/", &save); c;
	     c = strtok_r(NULL, "/", &save))
		assert_int_equal(relpath_push(&f->rel, c), 0);
}

/* Soft-delete site/dir/name ("" dir: the site root) as f->who. */
static int del_as(struct fx *f, const struct caller *who, const char *site,
		  const char *dir, const char *name, bool want_dir)
{
	char p[PATH_MAX];
	struct trash_loc loc;
	int fd, r;

	snprintf(p, sizeof(p), "%s/%s%s%s", f->b, site, *dir ? "/" : "", dir);
	fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		fail_msg("%s: %s", p, strerror(errno));
	set_rel(f, dir);
	loc = (struct trash_loc){ .site = site, .rel = &f->rel, .dirfd = fd, .name = name };
	r = trash_delete(f->t, who, &loc, want_dir, NULL);
	close(fd);
	return r;
}

static int del(struct fx *f, const char *dir, const char *name, bool want_dir)
{
	return del_as(f, &f->who, "site", dir, name, want_dir);
}

/* Delete a whole site (rmdir at the mount root). */
static int del_site(struct fx *f, const struct caller *who, const char *site)
{
	struct trash_loc loc;

	memset(&f->rel, 0, sizeof(f->rel));
	loc = (struct trash_loc){ .site = NULL, .rel = &f->rel, .dirfd = f->bfd, .name = site };
	return trash_delete(f->t, who, &loc, true, NULL);
}

/* trash_rename of site/<src> over site/<dst>, both in the same dir `dir`. */
static int ren(struct fx *f, const char *dir, const char *src, const char *dst,
	       unsigned flags)
{
	static struct relpath srel;
	char p[PATH_MAX];
	struct trash_loc s, d;
	int fd, r;

	snprintf(p, sizeof(p), "%s/site%s%s", f->b, *dir ? "/" : "", dir);
	fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	set_rel(f, dir);
	srel = f->rel;
	s = (struct trash_loc){ .site = "site", .rel = &srel, .dirfd = fd, .name = src };
	d = (struct trash_loc){ .site = "site", .rel = &f->rel, .dirfd = fd, .name = dst };
	r = trash_rename(f->t, &f->who, &s, &d, flags);
	close(fd);
	return r;
}

static void read_rec(const char *path, struct op_record *r)
{
	char buf[OPREC_ENC_MAX];
	ssize_t n = lgetxattr(path, OPREC_XATTR, buf, sizeof(buf));

	if (n <= 0)
		fail_msg("%s: no record (%s)", path, strerror(errno));
	assert_int_equal(oprec_decode(buf, (size_t)n, r), 0);
}

static void put_rec(const char *path, const struct op_record *r)
{
	char buf[OPREC_ENC_MAX];
	int n = oprec_encode(r, buf, sizeof(buf));

	assert_true(n > 0);
	assert_int_equal(lsetxattr(path, OPREC_XATTR, buf, (size_t)n, 0), 0);
}

static void count_path(const char *path, uint64_t *items, uint64_t *bytes)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY);
	int64_t ct;

	assert_true(fd >= 0);
	assert_int_equal(trash_count_tree(fd, items, bytes, &ct), 0);
	close(fd);
}

/* Search for a name anywhere below a directory. */
static const char *find_want;
static char find_got[PATH_MAX];
static int find_one(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st, (void)type;
	if (!strcmp(p + ftw->base, find_want)) {
		snprintf(find_got, sizeof(find_got), "%s", p);
		return 1;
	}
	return 0;
}

static bool find_below(const char *dir, const char *name)
{
	find_want = name;
	find_got[0] = '\0';
	return nftw(dir, find_one, 16, FTW_PHYS) == 1;
}

/* Fault injection: renameat2 calls number fail_at .. fail_at+fail_n-1
 * (0-based; fail_n < 0: all from fail_at on) fail with rename_errno. */
static int fail_at, fail_n, rename_errno, rename_calls;
static int fake_renameat2(int od, const char *op, int nd, const char *np, unsigned fl)
{
	int i = rename_calls++;

	if (i >= fail_at && (fail_n < 0 || i < fail_at + fail_n)) {
		errno = rename_errno;
		return -1;
	}
	return renameat2(od, op, nd, np, fl);
}

static void fail_renames(int at, int n, int err)
{
	fail_at = at;
	fail_n = n;
	rename_errno = err;
	rename_calls = 0;
	sys.renameat2 = fake_renameat2;
}

static int fake_mkdirat_eio(int dirfd, const char *path, mode_t mode)
{
	(void)dirfd, (void)path, (void)mode;
	errno = EIO;
	return -1;
}

static int count_index(struct index *ix, const char *scope);

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

/* ---- records ---------------------------------------------------------------- */

static int count_cb(const struct op_record *r, void *arg)
{
	(void)r;
	++*(int *)arg;
	return 0;
}

static int count_index(struct index *ix, const char *scope)
{
	int n = 0;

	assert_int_equal(index_foreach(ix, scope, count_cb, &n), 0);
	return n;
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
	sys_reset();
	sys.wall_ns = fake_wall;
	sys.mono_ns = fake_wall;   /* op gaps are measured on the elapsed clock */
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
	sys_reset();
	sys.wall_ns = fake_wall;
	sys.mono_ns = fake_wall;   /* op gaps are measured on the elapsed clock */
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
	sys_reset();
	sys.wall_ns = fake_wall;
	sys.mono_ns = fake_wall;   /* op gaps are measured on the elapsed clock */
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

/* ---- reconcile ------------------------------------------------------------ */

static void test_reconcile_adopt(void **state)
{
	struct fx *f = *state;
	const char *name = "20261127T120000Z-rm-99";
	char p[PATH_MAX];
	struct trash_stats st;
	struct op_record r, x;

	assert_int_equal(mkdir(bp(f, "site/.trash"), 0755), 0);
	snprintf(p, sizeof(p), "site/.trash/%s", name);
	assert_int_equal(mkdir(bp(f, p), 0755), 0);
	assert_int_equal(chown(bp(f, p), 1000, 1001), 0);
	snprintf(p, sizeof(p), "site/.trash/%s/x", name);
	write_file(bp(f, p), "x");
	assert_int_equal(index_get(f->ix, "site", name, &r), -ENOENT);

	assert_int_equal(trash_reconcile(f->t, &st), 0);
	assert_int_equal(st.adopted, 1);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(st.foreign, 0);
	assert_int_equal(index_get(f->ix, "site", name, &r), 0);
	assert_string_equal(r.scope, "site");
	assert_string_equal(r.name, name);
	assert_int_equal(r.pid, 99);
	assert_int_equal(r.uid, 1000);
	assert_int_equal(r.gid, 1001);
	assert_int_equal(r.items, 1);
	assert_int_equal(r.state, OP_CLOSED);
	assert_int_equal(r.first_ns, (T0 / NS - 3912) * NS);   /* 12:00:00 */
	assert_int_equal(r.retention_s, RETENTION);
	/* the record is written back to the directory */
	snprintf(p, sizeof(p), "site/.trash/%s", name);
	read_rec(bp(f, p), &x);
	assert_int_equal(x.items, 1);
	assert_string_equal(x.name, name);

	/* a second reconcile adopts nothing */
	assert_int_equal(trash_reconcile(f->t, &st), 0);
	assert_int_equal(st.adopted, 0);
	assert_int_equal(index_get(f->ix, "site", name, &r), 0);
}

static void test_reconcile_drop(void **state)
{
	struct fx *f = *state;
	char op[NAME_MAX + 1];
	struct trash_stats st;
	struct op_record r = { .uid = 1, .retention_s = 100, .state = OP_CLOSED,
			       .first_ns = T0, .last_ns = T0 };

	/* a real op */
	write_file(bp(f, "site/a"), "a");
	assert_int_equal(del(f, "", "a", false), 0);
	trash_close_all(f->t);
	opname(op, T0, 4242, 1);
	/* records without directories: in a site, a missing site, the root */
	strcpy(r.scope, "site");
	strcpy(r.name, "20261127T110000Z-rm-5");
	assert_int_equal(index_put(f->ix, &r), 0);
	strcpy(r.scope, "gone");
	assert_int_equal(index_put(f->ix, &r), 0);
	strcpy(r.scope, "");
	assert_int_equal(index_put(f->ix, &r), 0);

	assert_int_equal(trash_reconcile(f->t, &st), 0);
	assert_int_equal(st.dropped, 3);
	assert_int_equal(st.adopted, 0);
	assert_int_equal(index_get(f->ix, "site", "20261127T110000Z-rm-5", &r), -ENOENT);
	assert_int_equal(index_get(f->ix, "gone", "20261127T110000Z-rm-5", &r), -ENOENT);
	assert_int_equal(index_get(f->ix, "", "20261127T110000Z-rm-5", &r), -ENOENT);
	assert_int_equal(index_get(f->ix, "site", op, &r), 0);
	assert_int_equal(r.items, 1);
	assert_int_equal(count_index(f->ix, NULL), 1);
}

static void test_reconcile_tmp_and_foreign(void **state)
{
	struct fx *f = *state;
	struct trash_stats st;
	struct op_record r;

	assert_int_equal(mkdir(bp(f, "site/.trash"), 0755), 0);
	assert_int_equal(mkdir(bp(f, "site/.trash/.tmp-20261127T100000Z-rm-7"), 0755), 0);
	assert_int_equal(mkdir(bp(f, "site/.trash/notanop"), 0755), 0);
	write_file(bp(f, "site/.trash/notanop/keep"), "keep");
	assert_int_equal(mkdir(bp(f, ".gracefs/trash/.tmp-20261127T100000Z-rm-8"), 0755), 0);

	assert_int_equal(trash_reconcile(f->t, &st), 0);
	assert_false(exists(bp(f, "site/.trash/.tmp-20261127T100000Z-rm-7")));
	assert_false(exists(bp(f, ".gracefs/trash/.tmp-20261127T100000Z-rm-8")));
	assert_content(bp(f, "site/.trash/notanop/keep"), "keep");
	assert_int_equal(st.foreign, 1);
	assert_int_equal(st.adopted, 0);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(index_get(f->ix, "site", "notanop", &r), -ENOENT);
	assert_int_equal(index_get(f->ix, "site", "20261127T100000Z-rm-7", &r), -ENOENT);
	assert_int_equal(count_index(f->ix, NULL), 0);
	/* the foreign dir got no record either */
	char v[8];
	assert_int_equal(lgetxattr(bp(f, "site/.trash/notanop"), OPREC_XATTR, v, sizeof(v)), -1);
}

static void test_reconcile_open_recount(void **state)
{
	struct fx *f = *state;
	const char *name = "20261127T120000Z-rm-55";
	char p[PATH_MAX];
	struct trash_stats st;
	struct op_record r = { .uid = 0, .pid = 55, .retention_s = 1000,
			       .first_ns = T0, .last_ns = T0, .items = 99, .bytes = 1,
			       .state = OP_OPEN };
	uint64_t items, bytes;

	strcpy(r.scope, "site");
	strcpy(r.name, name);
	strcpy(r.cmdline, "rm -r y");
	assert_int_equal(mkdir(bp(f, "site/.trash"), 0755), 0);
	snprintf(p, sizeof(p), "site/.trash/%s", name);
	assert_int_equal(mkdir(bp(f, p), 0755), 0);
	snprintf(p, sizeof(p), "site/.trash/%s/y", name);
	assert_int_equal(mkdir(bp(f, p), 0755), 0);
	snprintf(p, sizeof(p), "site/.trash/%s/y/a", name);
	write_big(bp(f, p), 20000);
	snprintf(p, sizeof(p), "site/.trash/%s/b", name);
	write_file(bp(f, p), "b");
	snprintf(p, sizeof(p), "site/.trash/%s", name);
	put_rec(bp(f, p), &r);
	assert_int_equal(index_put(f->ix, &r), 0);
	count_path(bp(f, p), &items, &bytes);
	assert_int_equal(items, 3);

	assert_int_equal(trash_reconcile(f->t, &st), 0);
	assert_int_equal(st.recounted, 1);
	assert_int_equal(st.adopted, 0);
	assert_int_equal(index_get(f->ix, "site", name, &r), 0);
	assert_int_equal(r.items, 3);
	assert_int_equal(r.bytes, bytes);
	assert_int_equal(r.state, OP_CLOSED);
	assert_int_equal(r.retention_s, 1000);
	assert_string_equal(r.cmdline, "rm -r y");
	read_rec(bp(f, p), &r);
	assert_int_equal(r.items, 3);
	assert_int_equal(r.state, OP_CLOSED);
}

/* An op dir from before op dirs took their site root's metadata (01777,
 * listable by anyone) gets it at the next reconcile; its record is kept. */
static void test_reconcile_fixes_legacy_op_mode(void **state)
{
	struct fx *f = *state;
	const char *name = "20261127T120000Z-rm-77";
	char p[PATH_MAX];
	struct trash_stats st;
	struct op_record r;
	struct stat ost;

	assert_int_equal(chown(bp(f, "site"), 1234, 1235), 0);
	assert_int_equal(chmod(bp(f, "site"), 0711), 0);
	assert_int_equal(mkdir(bp(f, "site/.trash"), 0755), 0);
	snprintf(p, sizeof(p), "site/.trash/%s", name);
	assert_int_equal(mkdir(bp(f, p), 0755), 0);
	assert_int_equal(chown(bp(f, p), 1000, 1001), 0);
	assert_int_equal(chmod(bp(f, p), 01777), 0);
	snprintf(p, sizeof(p), "site/.trash/%s/x", name);
	write_file(bp(f, p), "x");

	assert_int_equal(trash_reconcile(f->t, &st), 0);
	snprintf(p, sizeof(p), "site/.trash/%s", name);
	assert_int_equal(lstat(bp(f, p), &ost), 0);
	assert_int_equal(ost.st_mode & 07777, 0711);
	assert_int_equal(ost.st_uid, 1234);
	assert_int_equal(ost.st_gid, 1235);
	assert_int_equal(index_get(f->ix, "site", name, &r), 0);
	assert_int_equal(r.uid, 1000);   /* the deleter, from the old owner */
	assert_int_equal(r.items, 1);
}

/* ---- restore -------------------------------------------------------------- */

/* trash_rename out of site/.trash/<op>/<in_op>/<name> to site/<to>, as the
 * FUSE layer does it: from_op set, rel the source dir's site path. */
static int restore_from(struct fx *f, const char *op, const char *in_op, const char *name,
			const char *to)
{
	static struct relpath srel, drel;
	char p[PATH_MAX], rp[PATH_MAX];
	struct trash_loc s, d;
	int sfd, dfd, r;

	snprintf(rp, sizeof(rp), ".trash/%s%s%s", op, *in_op ? "/" : "", in_op);
	snprintf(p, sizeof(p), "%s/site/%s", f->b, rp);
	sfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dfd = open(bp(f, "site"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(sfd >= 0 && dfd >= 0);
	set_rel(f, rp);
	srel = f->rel;
	memset(&drel, 0, sizeof(drel));
	s = (struct trash_loc){ .site = "", .rel = &srel, .dirfd = sfd, .name = name,
				.from_scope = "site", .from_op = op };
	d = (struct trash_loc){ .site = "site", .rel = &drel, .dirfd = dfd, .name = to };
	r = trash_rename(f->t, &f->who, &s, &d, 0);
	close(sfd);
	close(dfd);
	return r;
}

/* A measured restore settles by subtraction: the record ends up exactly
 * what a full recount gives, the emptied mirror chain goes, and the op
 * dir goes with its last item. */
static void test_restore_counted_matches_recount(void **state)
{
	struct fx *f = *state;
	char op[NAME_MAX + 1], p[PATH_MAX], name[16];
	struct op_record r;
	uint64_t items, bytes;
	int64_t ct;
	int ofd;

	assert_int_equal(mkdir(bp(f, "site/d"), 0755), 0);
	assert_int_equal(mkdir(bp(f, "site/d/e"), 0755), 0);
	for (int i = 0; i < 5; i++) {
		snprintf(p, sizeof(p), "site/d/e/f%d", i);
		write_file(bp(f, p), "data");
	}
	write_big(bp(f, "site/d/e/big"), 65536);
	write_file(bp(f, "site/x"), "x");
	assert_int_equal(mkdir(bp(f, "site/d/e/sub"), 0755), 0);
	write_file(bp(f, "site/d/e/sub/in"), "in");
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		assert_int_equal(del(f, "d/e", name, false), 0);
	}
	assert_int_equal(del(f, "d/e", "big", false), 0);
	assert_int_equal(del(f, "d/e/sub", "in", false), 0);
	assert_int_equal(del(f, "d/e", "sub", true), 0);
	assert_int_equal(del(f, "", "x", false), 0);
	opname(op, T0, 4242, 1);

	snprintf(p, sizeof(p), "site/.trash/%s", op);
	for (int step = 0; step < 4; step++) {
		if (step == 0) {
			assert_int_equal(restore_from(f, op, "d/e", "big", "big"), 0);
		} else if (step == 1) {
			assert_int_equal(restore_from(f, op, "d/e", "sub", "sub"), 0);
		} else if (step == 2) {
			for (int i = 0; i < 5; i++) {
				snprintf(name, sizeof(name), "f%d", i);
				assert_int_equal(restore_from(f, op, "d/e", name, name), 0);
			}
		} else {
			assert_int_equal(restore_from(f, op, "", "x", "x"), 0);
		}
		assert_int_equal(trash_tick(f->t), 0);
		if (step == 3)
			break;
		read_rec(bp(f, p), &r);
		ofd = open(bp(f, p), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		assert_true(ofd >= 0);
		assert_int_equal(trash_count_tree(ofd, &items, &bytes, &ct), 0);
		close(ofd);
		assert_int_equal(r.items, items);
		assert_int_equal(r.bytes, bytes);
		assert_int_equal(index_get(f->ix, "site", op, &r), 0);
		assert_int_equal(r.items, items);
		if (step == 2) {
			/* d/e emptied: the mirror chain is gone, only x is left */
			assert_int_equal(r.items, 1);
			char q[PATH_MAX];
			snprintf(q, sizeof(q), "%s/d", p);
			assert_false(exists(bp(f, q)));
		}
	}
	assert_false(exists(bp(f, p)));   /* the last item took the op dir */
	assert_int_equal(index_get(f->ix, "site", op, &r), -ENOENT);
	assert_true(exists(bp(f, "site/sub/in")));
	assert_true(exists(bp(f, "site/f4")));
}

static void test_restore_empties_op(void **state)
{
	struct fx *f = *state;
	char op[NAME_MAX + 1], p[PATH_MAX];
	struct op_record r;
	struct stat tst;

	write_file(bp(f, "site/a"), "a");
	write_file(bp(f, "site/b"), "b");
	assert_int_equal(del(f, "", "a", false), 0);
	assert_int_equal(del(f, "", "b", false), 0);
	opname(op, T0, 4242, 1);
	/* mv .trash/<op>/{a,b} back */
	snprintf(p, sizeof(p), "site/.trash/%s/a", op);
	assert_int_equal(rename(bp(f, p), bp(f, "site/a")), 0);
	snprintf(p, sizeof(p), "site/.trash/%s/b", op);
	assert_int_equal(rename(bp(f, p), bp(f, "site/b")), 0);
	trash_note_restore(f->t, "site", op);
	assert_int_equal(f->removed_n, 0);   /* only from the tick */
	assert_int_equal(trash_tick(f->t), 0);

	snprintf(p, sizeof(p), "site/.trash/%s", op);
	assert_false(exists(bp(f, p)));
	assert_int_equal(index_get(f->ix, "site", op, &r), -ENOENT);
	assert_int_equal(trash_op_get(f->t, "site", op, &r), -ENOENT);
	assert_int_equal(f->removed_n, 1);
	assert_string_equal(f->removed, op);
	assert_int_equal(lstat(bp(f, "site/.trash"), &tst), 0);
	assert_int_equal(f->removed_dir_ino, tst.st_ino);
	assert_content(bp(f, "site/a"), "a");
	/* the next deletion starts a fresh op */
	assert_int_equal(del(f, "", "a", false), 0);
	snprintf(p, sizeof(p), "site/.trash/%s/a", op);
	assert_content(bp(f, p), "a");
}

static void test_restore_partial(void **state)
{
	struct fx *f = *state;
	char op[NAME_MAX + 1], p[PATH_MAX];
	struct op_record r;
	uint64_t bbytes;

	write_file(bp(f, "site/a"), "a");
	write_big(bp(f, "site/b"), 30000);
	bbytes = alloc_of(bp(f, "site/b"));
	assert_int_equal(del(f, "", "a", false), 0);
	fake_now += NS;
	assert_int_equal(del(f, "", "b", false), 0);
	opname(op, T0, 4242, 1);
	snprintf(p, sizeof(p), "site/.trash/%s/a", op);
	assert_int_equal(rename(bp(f, p), bp(f, "site/a")), 0);
	fake_now += NS;
	trash_note_restore(f->t, "site", op);
	assert_int_equal(trash_tick(f->t), 0);
	assert_int_equal(f->removed_n, 0);

	snprintf(p, sizeof(p), "site/.trash/%s", op);
	assert_true(exists(bp(f, p)));
	assert_int_equal(index_get(f->ix, "site", op, &r), 0);
	assert_int_equal(r.items, 1);
	assert_int_equal(r.bytes, bbytes);
	assert_int_equal(r.state, OP_CLOSED);   /* a restore ends the op */
	assert_int_equal(r.last_ns, T0 + NS);   /* not a deletion */
	read_rec(bp(f, p), &r);
	assert_int_equal(r.items, 1);
	assert_int_equal(r.state, OP_CLOSED);
}

/* Restores leave mirror-only parents empty: the tick prunes them; a
 * directory that was deleted itself stays even when empty. */
static void test_restore_prunes_mirrors(void **state)
{
	struct fx *f = *state;
	char op[NAME_MAX + 1], p[PATH_MAX];
	struct op_record r;

	assert_int_equal(mkdir(bp(f, "site/d"), 0755), 0);
	assert_int_equal(mkdir(bp(f, "site/d/e"), 0755), 0);
	assert_int_equal(mkdir(bp(f, "site/keep"), 0755), 0);
	write_file(bp(f, "site/d/e/f1"), "f1");
	write_file(bp(f, "site/d/g"), "g");
	assert_int_equal(del(f, "d/e", "f1", false), 0);
	assert_int_equal(del(f, "d", "g", false), 0);
	assert_int_equal(del(f, "", "keep", true), 0);
	opname(op, T0, 4242, 1);

	snprintf(p, sizeof(p), "site/.trash/%s/d/e/f1", op);
	assert_int_equal(rename(bp(f, p), bp(f, "site/d/e/f1")), 0);
	trash_note_restore(f->t, "site", op);
	assert_int_equal(trash_tick(f->t), 0);
	snprintf(p, sizeof(p), "site/.trash/%s/d/e", op);
	assert_false(exists(bp(f, p)));
	snprintf(p, sizeof(p), "site/.trash/%s/d/g", op);
	assert_content(bp(f, p), "g");
	assert_int_equal(index_get(f->ix, "site", op, &r), 0);
	assert_int_equal(r.items, 2);   /* g and keep */

	snprintf(p, sizeof(p), "site/.trash/%s/d/g", op);
	assert_int_equal(rename(bp(f, p), bp(f, "site/d/g")), 0);
	trash_note_restore(f->t, "site", op);
	assert_int_equal(trash_tick(f->t), 0);
	snprintf(p, sizeof(p), "site/.trash/%s/d", op);
	assert_false(exists(bp(f, p)));
	snprintf(p, sizeof(p), "site/.trash/%s/keep", op);
	assert_true(exists(bp(f, p)));
	assert_int_equal(index_get(f->ix, "site", op, &r), 0);
	assert_int_equal(r.items, 1);
	assert_int_equal(f->removed_n, 0);

	snprintf(p, sizeof(p), "site/.trash/%s/keep", op);
	assert_int_equal(rename(bp(f, p), bp(f, "site/keep")), 0);
	trash_note_restore(f->t, "site", op);
	assert_int_equal(trash_tick(f->t), 0);
	snprintf(p, sizeof(p), "site/.trash/%s", op);
	assert_false(exists(bp(f, p)));
	assert_int_equal(index_get(f->ix, "site", op, &r), -ENOENT);
	assert_int_equal(f->removed_n, 1);
}

/* A mirror-only parent restored as a whole becomes a live directory; when
 * it is later deleted itself it is a real deleted item: counted, and never
 * pruned away by a restore of something else. */
static void test_restored_mirror_dir_deleted_again(void **state)
{
	struct fx *f = *state;
	char op[NAME_MAX + 1], p[PATH_MAX];
	struct op_record r;

	assert_int_equal(mkdir(bp(f, "site/d"), 0755), 0);
	write_file(bp(f, "site/d/f"), "f");
	write_file(bp(f, "site/x"), "x");
	assert_int_equal(del(f, "d", "f", false), 0);
	opname(op, T0, 4242, 1);
	/* mv .trash/<op>/d site/d2: the whole mirror dir, with f */
	snprintf(p, sizeof(p), "site/.trash/%s/d", op);
	assert_int_equal(rename(bp(f, p), bp(f, "site/d2")), 0);
	trash_note_restore(f->t, "site", op);
	assert_int_equal(trash_tick(f->t), 0);
	assert_content(bp(f, "site/d2/f"), "f");

	/* later: f moved out, the empty d2 removed, and x deleted */
	fake_now += 60 * NS;
	assert_int_equal(rename(bp(f, "site/d2/f"), bp(f, "site/f")), 0);
	assert_int_equal(del(f, "", "d2", true), 0);
	assert_int_equal(del(f, "", "x", false), 0);
	opname(op, T0 + 60 * NS, 4242, 1);
	trash_close_all(f->t);
	snprintf(p, sizeof(p), "site/.trash/%s", op);
	read_rec(bp(f, p), &r);
	assert_int_equal(r.items, 2);
	/* a recount (reconcile, restore) must agree with the record */
	uint64_t items, bytes;
	count_path(bp(f, p), &items, &bytes);

	/* restoring x must leave the deleted d2 in the trash */
	snprintf(p, sizeof(p), "site/.trash/%s/x", op);
	assert_int_equal(rename(bp(f, p), bp(f, "site/x")), 0);
	trash_note_restore(f->t, "site", op);
	assert_int_equal(trash_tick(f->t), 0);
	snprintf(p, sizeof(p), "site/.trash/%s/d2", op);
	bool gone = !exists(bp(f, p));
	if (gone || items != 2)
		fail_msg("recount %llu items (record 2)%s", (unsigned long long)items,
			 gone ? "; deleted dir d2 vanished from the trash after restoring x" : "");
}

/* A directory of an open op is restored (mv .trash/<op>/d site/back) and the
 * same process then deletes more from d before the next tick: that must go
 * to trash, not into the restored live directory. */
static void test_restore_dir_then_delete(void **state)
{
	struct fx *f = *state;
	char op[NAME_MAX + 1], p[PATH_MAX];

	assert_int_equal(mkdir(bp(f, "site/d"), 0755), 0);
	write_file(bp(f, "site/d/f1"), "1");
	write_file(bp(f, "site/d/f2"), "2");
	assert_int_equal(del(f, "d", "f1", false), 0);
	opname(op, T0, 4242, 1);
	snprintf(p, sizeof(p), "site/.trash/%s/d", op);
	assert_int_equal(rename(bp(f, p), bp(f, "site/back")), 0);
	trash_note_restore(f->t, "site", op);

	assert_int_equal(del(f, "d", "f2", false), 0);
	assert_false(exists(bp(f, "site/d/f2")));
	if (exists(bp(f, "site/back/f2")))
		fail_msg("deleted d/f2 landed in the live, restored dir site/back");
	assert_true(find_below(bp(f, "site/.trash"), "f2"));
	assert_content(find_got, "2");
}

/* The whole op dir of an open op is restored; the next deletion of the same
 * process must not land in the restored directory. */
static void test_restore_whole_op_then_delete(void **state)
{
	struct fx *f = *state;
	char op[NAME_MAX + 1], p[PATH_MAX];

	write_file(bp(f, "site/a"), "a");
	write_file(bp(f, "site/b"), "b");
	assert_int_equal(del(f, "", "a", false), 0);
	opname(op, T0, 4242, 1);
	snprintf(p, sizeof(p), "site/.trash/%s", op);
	assert_int_equal(rename(bp(f, p), bp(f, "site/restored")), 0);
	trash_note_restore(f->t, "site", op);

	assert_int_equal(del(f, "", "b", false), 0);
	assert_false(exists(bp(f, "site/b")));
	if (exists(bp(f, "site/restored/b")))
		fail_msg("deleted b landed in the live, restored dir site/restored");
	assert_true(find_below(bp(f, "site/.trash"), "b"));
}

/* The whole op dir of an open op is restored (ops.c strips its record
 * xattr, as it does for a mount-level mv): the next tick must not write the
 * record back onto the now live directory, and the op's record goes. */
static void test_restore_whole_op_record_not_rewritten(void **state)
{
	struct fx *f = *state;
	char op[NAME_MAX + 1], p[PATH_MAX];
	struct op_record r;

	write_file(bp(f, "site/a"), "a");
	assert_int_equal(del(f, "", "a", false), 0);
	opname(op, T0, 4242, 1);
	snprintf(p, sizeof(p), "site/.trash/%s", op);
	assert_int_equal(rename(bp(f, p), bp(f, "site/restored")), 0);
	assert_int_equal(lremovexattr(bp(f, "site/restored"), OPREC_XATTR), 0);
	trash_note_restore(f->t, "site", op);
	trash_tick(f->t);
	assert_int_equal(index_get(f->ix, "site", op, &r), -ENOENT);
	assert_content(bp(f, "site/restored/a"), "a");
	if (lgetxattr(bp(f, "site/restored"), OPREC_XATTR, NULL, 0) >= 0)
		fail_msg("op record written onto the restored live dir site/restored");
}

/* ---- counting -------------------------------------------------------------- */

static void test_count_tree(void **state)
{
	struct fx *f = *state;
	char c[PATH_MAX], o[PATH_MAX], p[PATH_MAX];
	uint64_t items = 1, bytes = 1, want = 0;
	int64_t ct = 0, want_ct = 0;
	const char *ents[] = { "f", "sub", "sub/g", "link", "flink", "sub/empty", "m/mf" };
	int fd;

	snprintf(c, sizeof(c), "%s/c", f->tmp);
	snprintf(o, sizeof(o), "%s/outside", f->tmp);
	assert_int_equal(mkdir(c, 0755), 0);
	assert_int_equal(mkdir(o, 0755), 0);
	for (int i = 0; i < 5; i++) {
		snprintf(p, sizeof(p), "%s/o%d", o, i);
		write_big(p, 8192);
	}
	snprintf(p, sizeof(p), "%s/big", o);
	write_big(p, 200000);
	snprintf(p, sizeof(p), "%s/f", c);
	write_big(p, 10000);
	snprintf(p, sizeof(p), "%s/sub", c);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/sub/g", c);
	write_big(p, 5000);
	snprintf(p, sizeof(p), "%s/sub/empty", c);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/link", c);
	assert_int_equal(symlink(o, p), 0);
	snprintf(p, sizeof(p), "%s/flink", c);
	assert_int_equal(symlink("../outside/big", p), 0);
	/* a mirror-only parent: its contents count, it does not */
	snprintf(p, sizeof(p), "%s/m", c);
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(setxattr(p, TRASH_MIRROR_XATTR, "", 0, 0), 0);
	snprintf(p, sizeof(p), "%s/m/mf", c);
	write_big(p, 3000);

	for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
		struct stat st;

		snprintf(p, sizeof(p), "%s/%s", c, ents[i]);
		assert_int_equal(lstat(p, &st), 0);
		want += (uint64_t)st.st_blocks * 512;
		int64_t t = (int64_t)st.st_ctim.tv_sec * NS + st.st_ctim.tv_nsec;
		if (t > want_ct)
			want_ct = t;
	}
	{
		struct stat st;

		snprintf(p, sizeof(p), "%s/m", c);
		assert_int_equal(lstat(p, &st), 0);
		int64_t t = (int64_t)st.st_ctim.tv_sec * NS + st.st_ctim.tv_nsec;
		if (t > want_ct)
			want_ct = t;
	}
	fd = open(c, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	assert_int_equal(trash_count_tree(fd, &items, &bytes, &ct), 0);
	assert_int_equal(items, 7);
	assert_int_equal(bytes, want);
	assert_true(bytes < 200000);
	assert_int_equal(ct, want_ct);
	/* the fd stays usable and a second count gives the same */
	assert_int_equal(trash_count_tree(fd, &items, &bytes, &ct), 0);
	assert_int_equal(items, 7);
	close(fd);

	/* an empty directory */
	snprintf(p, sizeof(p), "%s/sub/empty", c);
	fd = open(p, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	assert_int_equal(trash_count_tree(fd, &items, &bytes, &ct), 0);
	assert_int_equal(items, 0);
	assert_int_equal(bytes, 0);
	close(fd);
}

/* ---- hard links in trash (tlink.h) ----------------------------------------- */

/* Names of the inode at BACKING/rel held in trash; -1 without a record. */
static int64_t tl_count(struct fx *f, const char *rel)
{
	struct tlink_key k;
	uint32_t n;

	assert_int_equal(tlink_key_at(f->bfd, rel, &k), 0);
	return index_tlink_get(f->ix, k.b, k.len, &n) == 0 ? (int64_t)n : -1;
}

static void test_tlinks_delete_restore_purge(void **state)
{
	struct fx *f = *state;
	char op[NAME_MAX + 1], p[PATH_MAX];
	struct trash_loc src, dst;
	struct relpath none = {0};
	bool done = false;
	uint64_t removed = 0;
	uint32_t held;
	int ofd, sfd;

	write_file(bp(f, "site/one"), "1");
	assert_int_equal(del(f, "", "one", false), 0);   /* one link: no record */
	write_file(bp(f, "site/a"), "a");
	assert_int_equal(link(bp(f, "site/a"), bp(f, "site/b")), 0);
	assert_int_equal(del(f, "", "b", false), 0);
	opname(op, T0, 4242, 1);
	assert_int_equal(tl_count(f, "site/a"), 1);
	assert_int_equal(index_tlop_get(f->ix, op, &held), 0);
	assert_int_equal(held, 1);
	snprintf(p, sizeof(p), "site/.trash/%s/one", op);
	assert_int_equal(tl_count(f, p), -1);

	/* mv .trash/<op>/b b: uncounted, the record stays at 0 */
	snprintf(p, sizeof(p), "site/.trash/%s", op);
	ofd = open(bp(f, p), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	sfd = open(bp(f, "site"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(ofd >= 0 && sfd >= 0);
	src = (struct trash_loc){ .site = "", .rel = &none, .dirfd = ofd, .name = "b",
				  .from_scope = "site", .from_op = op };
	dst = (struct trash_loc){ .site = "site", .rel = &none, .dirfd = sfd, .name = "b" };
	assert_int_equal(trash_rename(f->t, &f->who, &src, &dst, 0), 0);
	close(ofd);
	close(sfd);
	assert_int_equal(tl_count(f, "site/a"), 0);
	assert_int_equal(index_tlop_get(f->ix, op, &held), 0);
	assert_int_equal(held, 0);

	/* deleted again, then purged: uncounted by the purge */
	fake_now += GAP_NS * 2;
	assert_int_equal(del(f, "", "b", false), 0);
	assert_int_equal(tl_count(f, "site/a"), 1);
	trash_close_all(f->t);
	opname(op, fake_now, 4242, 1);
	assert_int_equal(index_tlop_get(f->ix, op, &held), 0);
	assert_int_equal(held, 1);
	assert_int_equal(trash_purge_begin(f->t, "site", op), 0);
	while (!done)
		assert_int_equal(trash_purge_step(f->t, "site", op, 1, &done, &removed), 0);
	assert_int_equal(tl_count(f, "site/a"), 0);
	assert_int_equal(index_tlop_get(f->ix, op, &held), 0);
	assert_int_equal(held, 0);
	assert_content(bp(f, "site/a"), "a");
}

static void test_tlinks_rename_over(void **state)
{
	struct fx *f = *state;
	char op[NAME_MAX + 1];
	uint32_t held;

	write_file(bp(f, "site/x"), "x");
	assert_int_equal(del(f, "", "x", false), 0);   /* the op exists */
	opname(op, T0, 4242, 1);
	write_file(bp(f, "site/old"), "OLD");
	assert_int_equal(link(bp(f, "site/old"), bp(f, "site/twin")), 0);
	write_file(bp(f, "site/new"), "NEW");

	/* the rename fails: the trash link goes, and so does its count */
	fail_renames(0, -1, ENOSPC);
	assert_int_equal(ren(f, "", "new", "old", 0), -ENOSPC);
	assert_int_equal(tl_count(f, "site/twin"), 0);
	assert_int_equal(index_tlop_get(f->ix, op, &held), 0);
	assert_int_equal(held, 0);
	sys_reset();
	sys.wall_ns = fake_wall;
	sys.mono_ns = fake_wall;   /* op gaps are measured on the elapsed clock */
	/* it succeeds: old's name is in trash, twin lives on */
	assert_int_equal(ren(f, "", "new", "old", 0), 0);
	assert_int_equal(tl_count(f, "site/twin"), 1);
	assert_int_equal(index_tlop_get(f->ix, op, &held), 0);
	assert_int_equal(held, 1);
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
		T(test_reconcile_adopt),
		T(test_reconcile_drop),
		T(test_reconcile_tmp_and_foreign),
		T(test_reconcile_open_recount),
		T(test_reconcile_fixes_legacy_op_mode),
		T(test_restore_counted_matches_recount),
		T(test_restore_empties_op),
		T(test_restore_partial),
		T(test_restore_prunes_mirrors),
		T(test_restored_mirror_dir_deleted_again),
		T(test_restore_dir_then_delete),
		T(test_restore_whole_op_then_delete),
		T(test_restore_whole_op_record_not_rewritten),
		T(test_count_tree),
		T(test_tlinks_delete_restore_purge),
		T(test_tlinks_rename_over),
	};

	if (geteuid() != 0) {
		printf("1..0 # SKIP test_trash needs root (trusted.* xattrs, chown)\n");
		return 0;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
