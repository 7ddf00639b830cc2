/*
 * trash_fx — the fixture and helpers test_trash and test_trash_restore share:
 * a fresh BACKING with one site and an LMDB index per test, an engine on
 * them, a faked wall clock, fault injection through sys.*.
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
#include "trash_fx.h"

/* ---- fixture ------------------------------------------------------------- */

int64_t fake_now;
static int64_t fake_wall(void) { return fake_now; }


static void on_removed(void *arg, int dirfd, const char *name)
{
	struct fx *f = arg;
	struct stat st;

	f->removed_n++;
	snprintf(f->removed, sizeof(f->removed), "%s", name);
	if (fstat(dirfd, &st) == 0)
		f->removed_dir_ino = st.st_ino;
}

void open_engine(struct fx *f)
{
	struct trash_conf conf = {
		.retention_s = RETENTION, .op_gap_ns = GAP_NS,
		.on_removed = on_removed, .cb_arg = f,
	};

	assert_int_equal(trash_open(&f->t, f->bfd, f->ix, &conf), 0);
}

int setup(void **state)
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

	fake_now = T0;
	faults_off();

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

int teardown(void **state)
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
const char *bp(struct fx *f, const char *rel)
{
	static char bufs[8][PATH_MAX];
	static int i;
	char *b = bufs[i++ % 8];

	snprintf(b, PATH_MAX, "%s/%s", f->b, rel);
	return b;
}

void opname(char *buf, int64_t ns, uint32_t pid, unsigned n)
{
	assert_int_equal(util_op_name(ns / NS, "rm", pid, n, buf, NAME_MAX + 1), 0);
}

void write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);
}

void write_big(const char *path, size_t n)
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

uint64_t alloc_of(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	return (uint64_t)st.st_blocks * 512;
}

/* Entries in a directory (without . and ..), -1 if it cannot be opened. */
int nentries(const char *path)
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

void set_rel(struct fx *f, const char *path)
{
	char tmp[PATH_MAX];

	memset(&f->rel, 0, sizeof(f->rel));
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *save = NULL, *c = strtok_r(tmp, "/", &save); c;
	     c = strtok_r(NULL, "/", &save))
		assert_int_equal(relpath_push(&f->rel, c), 0);
}

/* Soft-delete site/dir/name ("" dir: the site root) as f->who. */
int del_as(struct fx *f, const struct caller *who, const char *site,
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

int del(struct fx *f, const char *dir, const char *name, bool want_dir)
{
	return del_as(f, &f->who, "site", dir, name, want_dir);
}

/* Delete a whole site (rmdir at the mount root). */
int del_site(struct fx *f, const struct caller *who, const char *site)
{
	struct trash_loc loc;

	memset(&f->rel, 0, sizeof(f->rel));
	loc = (struct trash_loc){ .site = NULL, .rel = &f->rel, .dirfd = f->bfd, .name = site };
	return trash_delete(f->t, who, &loc, true, NULL);
}

/* trash_rename of site/<src> over site/<dst>, both in the same dir `dir`. */
int ren(struct fx *f, const char *dir, const char *src, const char *dst,
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

void read_rec(const char *path, struct op_record *r)
{
	char buf[OPREC_ENC_MAX];
	ssize_t n = lgetxattr(path, OPREC_XATTR, buf, sizeof(buf));

	if (n <= 0)
		fail_msg("%s: no record (%s)", path, strerror(errno));
	assert_int_equal(oprec_decode(buf, (size_t)n, r), 0);
}

void put_rec(const char *path, const struct op_record *r)
{
	char buf[OPREC_ENC_MAX];
	int n = oprec_encode(r, buf, sizeof(buf));

	assert_true(n > 0);
	assert_int_equal(lsetxattr(path, OPREC_XATTR, buf, (size_t)n, 0), 0);
}

void count_path(const char *path, uint64_t *items, uint64_t *bytes)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY);
	int64_t ct;

	assert_true(fd >= 0);
	assert_int_equal(trash_count_tree(fd, items, bytes, &ct), 0);
	close(fd);
}

/* Search for a name anywhere below a directory. */
static const char *find_want;
char find_got[PATH_MAX];
static int find_one(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st, (void)type;
	if (!strcmp(p + ftw->base, find_want)) {
		snprintf(find_got, sizeof(find_got), "%s", p);
		return 1;
	}
	return 0;
}

bool find_below(const char *dir, const char *name)
{
	find_want = name;
	find_got[0] = '\0';
	return nftw(dir, find_one, 16, FTW_PHYS) == 1;
}

/* Fault injection: renameat2 calls number fail_at .. fail_at+fail_n-1
 * (0-based; fail_n < 0: all from fail_at on) fail with rename_errno. */
static int fail_at, fail_n, rename_errno;
int rename_calls;
static int fake_renameat2(int od, const char *op, int nd, const char *np, unsigned fl)
{
	int i = rename_calls++;

	if (i >= fail_at && (fail_n < 0 || i < fail_at + fail_n)) {
		errno = rename_errno;
		return -1;
	}
	return renameat2(od, op, nd, np, fl);
}

void fail_renames(int at, int n, int err)
{
	fail_at = at;
	fail_n = n;
	rename_errno = err;
	rename_calls = 0;
	sys.renameat2 = fake_renameat2;
}

int fake_mkdirat_eio(int dirfd, const char *path, mode_t mode)
{
	(void)dirfd, (void)path, (void)mode;
	errno = EIO;
	return -1;
}

int count_index(struct index *ix, const char *scope);


static int count_cb(const struct op_record *r, void *arg)
{
	(void)r;
	++*(int *)arg;
	return 0;
}

int count_index(struct index *ix, const char *scope)
{
	int n = 0;

	assert_int_equal(index_foreach(ix, scope, count_cb, &n), 0);
	return n;
}


/* Faults off, the faked clock back (sys_reset restores the real one). */
void faults_off(void)
{
	sys_reset();
	sys.wall_ns = fake_wall;
	sys.mono_ns = fake_wall;   /* op gaps are measured on the elapsed clock */
}
