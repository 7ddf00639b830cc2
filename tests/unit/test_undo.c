/*
 * test_undo — planning and executing whole-op restores on real directory
 * trees in a mkdtemp backing store (needs root for trusted.* xattrs and
 * chown; skips otherwise).  Single-threaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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

#include "lib/sys.h"
#include "engine/trash.h"
#include "engine/undo.h"
#include "testutil.h"

#define OP "20261127T130512Z-rm-4242"
#define SITE_TRASH "www/.trash/" OP

struct fx {
	char tmp[40];
	int fd;              /* the backing store */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->tmp, "/tmp/gracefs-undo-XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	f->fd = open(f->tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->fd >= 0);
	if (fsetxattr(f->fd, "trusted.gracefs.probe", "", 0, 0) < 0) {
		close(f->fd);
		rmdir(f->tmp);
		free(f);
		skip();   /* not root, or no trusted xattrs here */
	}
	fremovexattr(f->fd, "trusted.gracefs.probe");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	sys_reset();
	close(f->fd);
	assert_int_equal(rm_tree(f->tmp), 0);
	free(f);
	return 0;
}

/* mkdir -p of every parent of rel. */
static void parents(struct fx *f, const char *rel)
{
	char p[512];

	snprintf(p, sizeof(p), "%s", rel);
	for (char *s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdirat(f->fd, p, 0755) < 0)
			assert_int_equal(errno, EEXIST);
		*s = '/';
	}
}

static void put(struct fx *f, const char *rel, const char *content)
{
	int fd;

	parents(f, rel);
	fd = openat(f->fd, rel, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
}

static void dir(struct fx *f, const char *rel)
{
	parents(f, rel);
	assert_int_equal(mkdirat(f->fd, rel, 0755), 0);
}

/* A mirror directory: made for deleted children, with a live twin's meta. */
static void mirror(struct fx *f, const char *rel, mode_t mode, uid_t uid, gid_t gid)
{
	int fd;

	dir(f, rel);
	fd = openat(f->fd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(fsetxattr(fd, TRASH_MIRROR_XATTR, "", 0, 0), 0);
	assert_int_equal(fchown(fd, uid, gid), 0);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static const char *get(struct fx *f, const char *rel)
{
	static char buf[256];
	int fd = openat(f->fd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static bool exists_at(struct fx *f, const char *rel)
{
	struct stat st;

	return fstatat(f->fd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static void step_is(const struct undo_plan *p, size_t i, enum undo_kind k, const char *from,
		    const char *to)
{
	assert_true(i < p->n);
	assert_int_equal(p->steps[i].kind, k);
	assert_string_equal(p->steps[i].from, from);
	assert_string_equal(p->steps[i].to, to);
}

struct log {
	int calls, renamed, failed;
	char last_to[256];
};

static int progress(void *arg, const struct undo_step *s, const char *to, bool renamed, int err)
{
	struct log *l = arg;

	(void)s;
	l->calls++;
	l->renamed += renamed && s->kind != UNDO_MKDIR;
	l->failed += err != 0;
	snprintf(l->last_to, sizeof(l->last_to), "%s", to);
	return 0;
}

/* rm wiki/2024 and a.txt, wiki still live: two moves, no new parents. */
static void test_simple(void **state)
{
	struct fx *f = *state;
	struct undo_plan p;
	struct undo_result res;
	struct log l = {0};
	struct stat before, after;

	dir(f, "www/wiki");
	put(f, SITE_TRASH "/a.txt", "A");
	mirror(f, SITE_TRASH "/wiki", 0755, 0, 0);
	put(f, SITE_TRASH "/wiki/2024/jan/x.md", "X");
	put(f, SITE_TRASH "/wiki/f", "F");
	assert_int_equal(fstatat(f->fd, SITE_TRASH "/wiki/2024/jan/x.md", &before, 0), 0);

	assert_int_equal(undo_plan(f->fd, "www", OP, &p), 0);
	assert_int_equal(p.n, 3);
	step_is(&p, 0, UNDO_MOVE, "a.txt", "a.txt");
	step_is(&p, 1, UNDO_MOVE, "wiki/2024", "wiki/2024");   /* one rename for the tree */
	step_is(&p, 2, UNDO_MOVE, "wiki/f", "wiki/f");
	assert_int_equal(p.moves, 3);
	assert_int_equal(p.renames + p.mkdirs, 0);
	assert_true(S_ISDIR(p.steps[1].mode));
	assert_false(exists_at(f, "www/a.txt"));   /* planning changes nothing */

	assert_int_equal(undo_execute(f->fd, &p, progress, &l, &res), 0);
	undo_plan_release(&p);
	assert_int_equal(res.moved, 3);
	assert_int_equal(res.renamed + res.failed + res.mkdirs, 0);
	assert_int_equal(l.calls, 3);
	assert_string_equal(get(f, "www/a.txt"), "A");
	assert_string_equal(get(f, "www/wiki/2024/jan/x.md"), "X");
	assert_string_equal(get(f, "www/wiki/f"), "F");
	/* nothing was copied: the same inode */
	assert_int_equal(fstatat(f->fd, "www/wiki/2024/jan/x.md", &after, 0), 0);
	assert_int_equal(before.st_ino, after.st_ino);
	/* the op holds only its emptied mirror now */
	assert_true(exists_at(f, SITE_TRASH "/wiki"));
	assert_false(exists_at(f, SITE_TRASH "/a.txt"));
	assert_false(exists_at(f, SITE_TRASH "/wiki/f"));
	/* a second plan finds nothing left to move */
	assert_int_equal(undo_plan(f->fd, "www", OP, &p), 0);
	assert_int_equal(p.n, 0);
	undo_plan_release(&p);
}

/* rm -r of a/b/c's children after a/b went away: parents recreated with
 * their mirrors' mode and owner. */
static void test_missing_parents(void **state)
{
	struct fx *f = *state;
	struct undo_plan p;
	struct undo_result res;
	struct stat st;

	dir(f, "www");
	mirror(f, SITE_TRASH "/a", 0750, 1234, 5678);
	mirror(f, SITE_TRASH "/a/b", 0700, 4321, 8765);
	put(f, SITE_TRASH "/a/b/c", "C");

	assert_int_equal(undo_plan(f->fd, "www", OP, &p), 0);
	assert_int_equal(p.n, 3);
	step_is(&p, 0, UNDO_MKDIR, "a", "a");
	step_is(&p, 1, UNDO_MKDIR, "a/b", "a/b");
	step_is(&p, 2, UNDO_MOVE, "a/b/c", "a/b/c");
	assert_int_equal(undo_execute(f->fd, &p, NULL, NULL, &res), 0);
	undo_plan_release(&p);
	assert_int_equal(res.mkdirs, 2);
	assert_int_equal(res.moved, 1);
	assert_int_equal(fstatat(f->fd, "www/a", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(st.st_uid, 1234);
	assert_int_equal(st.st_gid, 5678);
	assert_int_equal(fstatat(f->fd, "www/a/b", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(st.st_uid, 4321);
	assert_string_equal(get(f, "www/a/b/c"), "C");
}

/* A taken name is never overwritten: NAME.restored-<op>, then -2. */
static void test_conflicts(void **state)
{
	struct fx *f = *state;
	struct undo_plan p;
	struct undo_result res;

	put(f, "www/a.txt", "live");
	put(f, "www/b.txt", "live b");
	put(f, "www/b.txt.restored-" OP, "older restore");
	put(f, "www/wiki", "a file where a directory was");
	put(f, SITE_TRASH "/a.txt", "deleted");
	put(f, SITE_TRASH "/b.txt", "deleted b");
	mirror(f, SITE_TRASH "/wiki", 0711, 0, 0);
	put(f, SITE_TRASH "/wiki/page", "P");

	assert_int_equal(undo_plan(f->fd, "www", OP, &p), 0);
	assert_int_equal(p.n, 4);
	step_is(&p, 0, UNDO_RENAME, "a.txt", "a.txt.restored-" OP);
	step_is(&p, 1, UNDO_RENAME, "b.txt", "b.txt.restored-" OP "-2");
	step_is(&p, 2, UNDO_MKDIR, "wiki", "wiki.restored-" OP);
	step_is(&p, 3, UNDO_MOVE, "wiki/page", "wiki.restored-" OP "/page");
	assert_int_equal(p.renames, 2);
	assert_int_equal(undo_execute(f->fd, &p, NULL, NULL, &res), 0);
	undo_plan_release(&p);
	assert_int_equal(res.renamed, 2);
	assert_string_equal(get(f, "www/a.txt"), "live");
	assert_string_equal(get(f, "www/a.txt.restored-" OP), "deleted");
	assert_string_equal(get(f, "www/b.txt.restored-" OP), "older restore");
	assert_string_equal(get(f, "www/b.txt.restored-" OP "-2"), "deleted b");
	assert_string_equal(get(f, "www/wiki"), "a file where a directory was");
	assert_string_equal(get(f, "www/wiki.restored-" OP "/page"), "P");
}

/* An op directory of many entries is checked against one listing of its
 * live twin (opened O_PATH by the walk): the listing must be real, or
 * taken names and live directories go unseen. */
static void test_many_entries(void **state)
{
	struct fx *f = *state;
	struct undo_plan p;
	struct undo_result res;
	char rel[128], live[128];
	int renames = 0;

	put(f, "www/docs/page7", "live page 7");
	dir(f, "www/docs/sub");
	mirror(f, SITE_TRASH "/docs", 0755, 0, 0);
	for (int i = 0; i < 40; i++) {
		snprintf(rel, sizeof(rel), SITE_TRASH "/docs/page%d", i);
		put(f, rel, "deleted");
	}
	mirror(f, SITE_TRASH "/docs/sub", 0755, 0, 0);
	put(f, SITE_TRASH "/docs/sub/x", "deleted x");

	assert_int_equal(undo_plan(f->fd, "www", OP, &p), 0);
	assert_int_equal(p.mkdirs, 0);        /* docs and docs/sub are live */
	assert_int_equal(p.renames, 1);       /* page7 is taken */
	assert_int_equal(p.moves, 40);        /* 39 pages and sub/x */
	for (size_t i = 0; i < p.n; i++)
		if (p.steps[i].kind == UNDO_RENAME) {
			step_is(&p, i, UNDO_RENAME, "docs/page7", "docs/page7.restored-" OP);
			renames++;
		}
	assert_int_equal(renames, 1);
	assert_int_equal(undo_execute(f->fd, &p, NULL, NULL, &res), 0);
	undo_plan_release(&p);
	assert_int_equal(res.moved, 40);
	assert_int_equal(res.renamed, 1);
	assert_int_equal(res.mkdirs, 0);
	assert_string_equal(get(f, "www/docs/page7"), "live page 7");
	assert_string_equal(get(f, "www/docs/page7.restored-" OP), "deleted");
	assert_string_equal(get(f, "www/docs/sub/x"), "deleted x");
	for (int i = 0; i < 40; i++) {
		snprintf(live, sizeof(live), "www/docs/page%d", i);
		assert_true(exists_at(f, live));
	}
}

/* The target appears between plan and execution: renamed, not replaced. */
static void test_race(void **state)
{
	struct fx *f = *state;
	struct undo_plan p;
	struct undo_result res;
	struct log l = {0};

	dir(f, "www");
	put(f, SITE_TRASH "/a.txt", "deleted");
	assert_int_equal(undo_plan(f->fd, "www", OP, &p), 0);
	step_is(&p, 0, UNDO_MOVE, "a.txt", "a.txt");
	put(f, "www/a.txt", "new");
	assert_int_equal(undo_execute(f->fd, &p, progress, &l, &res), 0);
	undo_plan_release(&p);
	assert_int_equal(res.renamed, 1);
	assert_int_equal(l.renamed, 1);
	assert_string_equal(l.last_to, "a.txt.restored-" OP);
	assert_string_equal(get(f, "www/a.txt"), "new");
	assert_string_equal(get(f, "www/a.txt.restored-" OP), "deleted");
}

/* Symlinks are moved as links; a live symlink in a parent's place is a
 * taken name, never a way out of the site. */
static void test_symlinks(void **state)
{
	struct fx *f = *state;
	struct undo_plan p;
	char target[64];
	ssize_t n;

	dir(f, "outside");
	dir(f, "www");
	assert_int_equal(symlinkat("../../outside", f->fd, "www/wiki"), 0);
	mirror(f, SITE_TRASH "/wiki", 0755, 0, 0);
	put(f, SITE_TRASH "/wiki/x", "X");
	parents(f, SITE_TRASH "/l");
	assert_int_equal(symlinkat("/etc/passwd", f->fd, SITE_TRASH "/l"), 0);

	assert_int_equal(undo_plan(f->fd, "www", OP, &p), 0);
	assert_int_equal(p.n, 3);
	step_is(&p, 0, UNDO_MOVE, "l", "l");
	assert_true(S_ISLNK(p.steps[0].mode));
	step_is(&p, 1, UNDO_MKDIR, "wiki", "wiki.restored-" OP);
	assert_int_equal(undo_execute(f->fd, &p, NULL, NULL, NULL), 0);
	undo_plan_release(&p);
	n = readlinkat(f->fd, "www/l", target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = '\0';
	assert_string_equal(target, "/etc/passwd");
	assert_false(exists_at(f, "outside/x"));
	assert_string_equal(get(f, "www/wiki.restored-" OP "/x"), "X");
}

/* A deleted whole site goes back to BACKING/<site>. */
static void test_root_scope(void **state)
{
	struct fx *f = *state;
	struct undo_plan p;
	struct undo_result res;

	put(f, ".gracefs/trash/" OP "/blog/index.html", "I");
	put(f, ".gracefs/trash/" OP "/shop/cart", "C");
	dir(f, "shop");   /* recreated meanwhile */
	assert_int_equal(undo_plan(f->fd, "", OP, &p), 0);
	assert_int_equal(p.n, 2);
	step_is(&p, 0, UNDO_MOVE, "blog", "blog");
	step_is(&p, 1, UNDO_RENAME, "shop", "shop.restored-" OP);
	assert_int_equal(undo_execute(f->fd, &p, NULL, NULL, &res), 0);
	undo_plan_release(&p);
	assert_string_equal(get(f, "blog/index.html"), "I");
	assert_string_equal(get(f, "shop.restored-" OP "/cart"), "C");
	assert_true(exists_at(f, "shop"));
}

static void test_bad_input(void **state)
{
	struct fx *f = *state;
	struct undo_plan p;
	int r;

	dir(f, "www/.trash");
	assert_int_equal(undo_plan(f->fd, "www", OP, &p), -ENOENT);
	assert_int_equal(undo_plan(f->fd, "nosite", OP, &p), -ENOENT);
	assert_int_equal(undo_plan(f->fd, "www", "../../etc", &p), -EINVAL);
	assert_int_equal(undo_plan(f->fd, "..", OP, &p), -EINVAL);
	assert_int_equal(undo_plan(f->fd, "a/b", OP, &p), -EINVAL);
	assert_int_equal(undo_plan(f->fd, "www", "", &p), -EINVAL);
	assert_int_equal(undo_op(f->fd, "www", OP, NULL, NULL, NULL, NULL), -ENOENT);
	/* an op dir that is a symlink is not followed */
	dir(f, "elsewhere");
	assert_int_equal(symlinkat("../../elsewhere", f->fd, SITE_TRASH), 0);
	r = undo_plan(f->fd, "www", OP, &p);
	assert_true(r == -ENOTDIR || r == -ELOOP);
}

/* A reserved name at the top of an op is never restored. */
static void test_reserved(void **state)
{
	struct fx *f = *state;
	struct undo_plan p;

	put(f, SITE_TRASH "/.trash/x", "X");
	put(f, SITE_TRASH "/ok", "O");
	assert_int_equal(undo_plan(f->fd, "www", OP, &p), 0);
	assert_int_equal(p.n, 1);
	step_is(&p, 0, UNDO_MOVE, "ok", "ok");
	undo_plan_release(&p);
}

static int fail_second(int od, const char *o, int nd, const char *n, unsigned flags)
{
	static int calls;

	if (++calls == 2) {
		calls = 0;
		errno = EIO;
		return -1;
	}
	return renameat2(od, o, nd, n, flags);
}

/* A failing step is reported; the others still run. */
static void test_failure(void **state)
{
	struct fx *f = *state;
	struct undo_result res;
	struct log l = {0};

	dir(f, "www");
	put(f, SITE_TRASH "/a", "A");
	put(f, SITE_TRASH "/b", "B");
	put(f, SITE_TRASH "/c", "C");
	sys.renameat2 = fail_second;
	assert_int_equal(undo_op(f->fd, "www", OP, NULL, progress, &l, &res), -EIO);
	assert_int_equal(res.moved, 2);
	assert_int_equal(res.failed, 1);
	assert_int_equal(l.failed, 1);
	assert_string_equal(get(f, "www/a"), "A");
	assert_false(exists_at(f, "www/b"));
	assert_string_equal(get(f, SITE_TRASH "/b"), "B");   /* still in trash, whole */
	assert_string_equal(get(f, "www/c"), "C");
}

/* The progress callback can stop the run. */
static int stop_now(void *arg, const struct undo_step *s, const char *to, bool renamed, int err)
{
	(void)arg, (void)s, (void)to, (void)renamed, (void)err;
	return -ECANCELED;
}

static void test_stop(void **state)
{
	struct fx *f = *state;
	struct undo_result res;

	dir(f, "www");
	put(f, SITE_TRASH "/a", "A");
	put(f, SITE_TRASH "/b", "B");
	assert_int_equal(undo_op(f->fd, "www", OP, NULL, stop_now, NULL, &res), -ECANCELED);
	assert_int_equal(res.moved, 1);
	assert_true(exists_at(f, SITE_TRASH "/b"));
}


#define OP2 "20261127T130600Z-rm-4243"   /* a newer op of the same run */
#define SITE_TRASH2 "www/.trash/" OP2

/* Undo OP2 (newer) then OP with one run's overlay; with dry set, plan
 * both first against a simulated overlay.  The totals of both ops. */
static struct undo_result run_two(struct fx *f, bool dry, struct undo_plan *sim)
{
	struct undo_overlay *ov;
	struct undo_result sum = {0}, res;
	const char *ops[] = { OP2, OP };

	assert_int_equal(undo_overlay_new(&ov), 0);
	for (int i = 0; i < 2; i++) {
		struct undo_plan p;

		assert_int_equal(undo_plan_over(f->fd, "www", ops[i], ov, &p), 0);
		if (dry) {
			assert_int_equal(undo_overlay_note_plan(ov, &p), 0);
			sim[i] = p;
			continue;
		}
		for (size_t k = 0; k < p.n; k++)   /* what the daemon notes per step */
			if (p.steps[k].kind != UNDO_RENAME)
				assert_int_equal(undo_overlay_note_step(ov, "www", &p.steps[k],
									p.steps[k].to), 0);
		assert_int_equal(undo_execute(f->fd, &p, NULL, NULL, &res), 0);
		sum.moved += res.moved;
		sum.renamed += res.renamed;
		sum.mkdirs += res.mkdirs;
		sum.merged += res.merged;
		undo_plan_release(&p);
	}
	undo_overlay_free(ov);
	return sum;
}

/* rm -rf blog/2024; rm -rf blog — newest first gives one blog tree, and
 * the dry run (simulated overlay) predicts the execution step for step. */
static void test_run_two_passes(void **state)
{
	struct fx *f = *state;
	struct undo_plan sim[2];
	struct undo_result res;

	dir(f, "www");
	mirror(f, SITE_TRASH "/blog", 0755, 0, 0);
	put(f, SITE_TRASH "/blog/2024/a.md", "A");
	put(f, SITE_TRASH2 "/blog/2025/b.md", "B");   /* blog itself, as one item */

	run_two(f, true, sim);
	assert_int_equal(sim[0].n, 1);
	step_is(&sim[0], 0, UNDO_MOVE, "blog", "blog");
	/* the older op descends into the blog the newer one will restore */
	assert_int_equal(sim[1].n, 1);
	step_is(&sim[1], 0, UNDO_MOVE, "blog/2024", "blog/2024");
	undo_plan_release(&sim[0]);
	undo_plan_release(&sim[1]);

	res = run_two(f, false, NULL);
	assert_int_equal(res.moved, 2);
	assert_int_equal(res.renamed + res.merged + res.mkdirs, 0);
	assert_string_equal(get(f, "www/blog/2024/a.md"), "A");
	assert_string_equal(get(f, "www/blog/2025/b.md"), "B");
	assert_false(exists_at(f, "www/blog.restored-" OP));
}

/* x deleted, recreated, deleted again: the older x merges into the x the
 * run restored; a name taken inside it follows the .restored rule; a
 * live file that was not restored by the run is never merged into. */
static void test_run_merge(void **state)
{
	struct fx *f = *state;
	struct undo_plan sim[2];
	struct undo_result res;

	put(f, SITE_TRASH "/x/old.txt", "old");
	put(f, SITE_TRASH "/x/same.txt", "old same");
	put(f, SITE_TRASH2 "/x/new.txt", "new");
	put(f, SITE_TRASH2 "/x/same.txt", "new same");
	put(f, "www/y", "live y");           /* taken by live data */
	dir(f, SITE_TRASH "/y");
	put(f, SITE_TRASH "/y/inside", "I");

	run_two(f, true, sim);
	assert_int_equal(sim[0].n, 1);
	step_is(&sim[0], 0, UNDO_MOVE, "x", "x");
	assert_int_equal(sim[1].n, 4);
	step_is(&sim[1], 0, UNDO_MOVE, "x/old.txt", "x/old.txt");
	step_is(&sim[1], 1, UNDO_RENAME, "x/same.txt", "x/same.txt.restored-" OP);
	step_is(&sim[1], 2, UNDO_MERGED, "x", "x");
	step_is(&sim[1], 3, UNDO_RENAME, "y", "y.restored-" OP);
	undo_plan_release(&sim[0]);
	undo_plan_release(&sim[1]);

	res = run_two(f, false, NULL);
	assert_int_equal(res.moved, 2);
	assert_int_equal(res.renamed, 2);
	assert_int_equal(res.merged, 1);
	assert_string_equal(get(f, "www/x/old.txt"), "old");
	assert_string_equal(get(f, "www/x/new.txt"), "new");
	assert_string_equal(get(f, "www/x/same.txt"), "new same");
	assert_string_equal(get(f, "www/x/same.txt.restored-" OP), "old same");
	assert_string_equal(get(f, "www/y"), "live y");
	assert_string_equal(get(f, "www/y.restored-" OP "/inside"), "I");
	assert_false(exists_at(f, SITE_TRASH "/x"));   /* the emptied dir left the op */
}

/* Without an overlay (a lone undo, or after a daemon restart) nothing is
 * merged: a directory's name taken by a directory is restored next to it. */
static void test_no_run_no_merge(void **state)
{
	struct fx *f = *state;
	struct undo_plan p;

	put(f, "www/x/new.txt", "new");
	put(f, SITE_TRASH "/x/old.txt", "old");
	assert_int_equal(undo_plan(f->fd, "www", OP, &p), 0);
	assert_int_equal(p.n, 1);
	step_is(&p, 0, UNDO_RENAME, "x", "x.restored-" OP);
	undo_plan_release(&p);
}

/* The run registry: one overlay per ID, the least recently used goes. */
static void test_runs(void **state)
{
	struct undo_runs *runs = NULL;
	struct undo_overlay *a, *b, *again;
	char id[16];

	assert_int_equal(undo_runs_get(&runs, "", 1, &a), -EINVAL);
	assert_int_equal(undo_runs_get(&runs, "aaa", 1, &a), 0);
	assert_int_equal(undo_overlay_add(a, "www", "x", true, NULL), 0);
	assert_int_equal(undo_runs_get(&runs, "bbb", 2, &b), 0);
	assert_ptr_not_equal(a, b);
	assert_int_equal(undo_runs_get(&runs, "aaa", 3, &again), 0);
	assert_ptr_equal(a, again);
	assert_int_equal(undo_overlay_count(again), 1);
	for (int i = 0; i < UNDO_RUNS_MAX; i++) {   /* fill up: aaa (used at 3) stays longest */
		snprintf(id, sizeof(id), "r%d", i);
		assert_int_equal(undo_runs_get(&runs, id, 10 + i, &b), 0);
	}
	assert_int_equal(undo_runs_get(&runs, "aaa", 100, &again), 0);
	assert_int_equal(undo_overlay_count(again), 0);   /* evicted: a new, empty one */
	assert_int_equal(undo_runs_get(&runs, "late", 100 + UNDO_RUN_IDLE_S + 1, &b), 0);
	undo_runs_free(runs);
	undo_runs_free(NULL);
}

/* Directory times: a recreated parent gets its mirror's recorded times,
 * children before parents; a live parent the undo did not restore keeps
 * the time of the restore; a malformed record is ignored. */
static void test_times(void **state)
{
	struct fx *f = *state;
	struct undo_plan p;
	struct stat st;
	int fd;

	dir(f, "www/live");
	mirror(f, SITE_TRASH "/a", 0755, 0, 0);
	mirror(f, SITE_TRASH "/a/b", 0755, 0, 0);
	put(f, SITE_TRASH "/a/b/c", "C");
	put(f, SITE_TRASH "/a/d", "D");
	mirror(f, SITE_TRASH "/live", 0755, 0, 0);
	put(f, SITE_TRASH "/live/e", "E");
	const char *const rec[][2] = { { SITE_TRASH "/a", "100.500000000 200.000000007" },
				       { SITE_TRASH "/a/b", "300.000000000 400.250000000" },
				       { SITE_TRASH "/live", "500.000000000 600.000000000" } };
	for (size_t i = 0; i < 3; i++) {
		fd = openat(f->fd, rec[i][0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		assert_true(fd >= 0);
		assert_int_equal(fsetxattr(fd, TRASH_TIMES_XATTR, rec[i][1], strlen(rec[i][1]), 0), 0);
		close(fd);
	}
	assert_int_equal(undo_plan(f->fd, "www", OP, &p), 0);
	assert_int_equal(p.ntimes, 2);   /* the live one is not touched */
	assert_string_equal(p.times[0].to, "a/b");   /* child first */
	assert_string_equal(p.times[1].to, "a");
	assert_int_equal(undo_execute(f->fd, &p, NULL, NULL, NULL), 0);
	undo_plan_release(&p);
	assert_int_equal(fstatat(f->fd, "www/a", &st, 0), 0);
	assert_int_equal(st.st_atim.tv_sec, 100);
	assert_int_equal(st.st_atim.tv_nsec, 500000000);
	assert_int_equal(st.st_mtim.tv_sec, 200);
	assert_int_equal(st.st_mtim.tv_nsec, 7);
	assert_int_equal(fstatat(f->fd, "www/a/b", &st, 0), 0);
	assert_int_equal(st.st_mtim.tv_sec, 400);
	assert_int_equal(fstatat(f->fd, "www/live", &st, 0), 0);
	assert_true(st.st_mtim.tv_sec > 600);
}

/* A file a rename of the op replaced (TRASH_REPLACED_XATTR): swapped back
 * while the live file is that replacement; next to it once it changed;
 * only the replacement left to move after an interrupted undo. */
static void mark(struct fx *f, const char *rel, const char *op, ino_t ino)
{
	char v[128], path[600];
	int n = snprintf(v, sizeof(v), "%s %llu", op, (unsigned long long)ino);

	snprintf(path, sizeof(path), "%s/%s", f->tmp, rel);
	assert_int_equal(lsetxattr(path, TRASH_REPLACED_XATTR, v, (size_t)n, 0), 0);
}

static ino_t ino_at(struct fx *f, const char *rel)
{
	struct stat st;

	assert_int_equal(fstatat(f->fd, rel, &st, AT_SYMLINK_NOFOLLOW), 0);
	return st.st_ino;
}

static void test_rename_over(void **state)
{
	struct fx *f = *state;
	struct undo_plan p;
	struct undo_result res;

	put(f, "www/a.conf", "new");
	put(f, SITE_TRASH "/a.conf", "orig");
	mark(f, SITE_TRASH "/a.conf", OP, ino_at(f, "www/a.conf"));
	put(f, "www/k.conf", "three");
	put(f, SITE_TRASH "/k.conf", "one");
	mark(f, SITE_TRASH "/k.conf", OP, ino_at(f, "www/k.conf") + 1);   /* changed since */
	put(f, "www/m.conf", "mine");
	put(f, SITE_TRASH "/m.conf", "other op's");
	mark(f, SITE_TRASH "/m.conf", "20261127T000000Z-sed-1", ino_at(f, "www/m.conf"));

	assert_int_equal(undo_plan(f->fd, "www", OP, &p), 0);
	assert_int_equal(p.n, 3);
	step_is(&p, 0, UNDO_REPLACE, "a.conf", "a.conf");
	assert_int_equal(p.steps[0].flags, UNDO_F_TO_TRASH);
	assert_int_equal(p.steps[0].ino, ino_at(f, "www/a.conf"));
	step_is(&p, 1, UNDO_RENAME, "k.conf", "k.conf.restored-" OP);
	assert_int_equal(p.steps[1].flags, UNDO_F_CHANGED);
	step_is(&p, 2, UNDO_RENAME, "m.conf", "m.conf.restored-" OP);   /* not this op's */
	assert_int_equal(p.steps[2].flags, 0);
	assert_int_equal(p.replaces, 1);
	assert_int_equal(p.renames, 2);
	assert_int_equal(p.changed, 1);
	assert_int_equal(undo_execute(f->fd, &p, NULL, NULL, &res), 0);
	undo_plan_release(&p);
	assert_int_equal(res.replaced, 1);
	assert_int_equal(res.moved, 1);
	assert_int_equal(res.renamed, 2);
	/* swapped: the original live, the replacement in the op (the engine
	 * moves it to an op of its own); the marker stays until then */
	assert_string_equal(get(f, "www/a.conf"), "orig");
	assert_string_equal(get(f, SITE_TRASH "/a.conf"), "new");
	assert_string_equal(get(f, "www/k.conf"), "three");
	assert_string_equal(get(f, "www/k.conf.restored-" OP), "one");

	/* as after a crash before the replacement left the op: planned again,
	 * only the replacement goes (UNDO_F_TRASH_ONLY), the original stays */
	assert_int_equal(undo_plan(f->fd, "www", OP, &p), 0);
	assert_int_equal(p.n, 1);
	step_is(&p, 0, UNDO_REPLACE, "a.conf", "a.conf");
	assert_int_equal(p.steps[0].flags, UNDO_F_TRASH_ONLY);
	assert_int_equal(undo_execute(f->fd, &p, NULL, NULL, &res), 0);
	undo_plan_release(&p);
	assert_int_equal(res.replaced, 1);
	assert_string_equal(get(f, "www/a.conf"), "orig");
	assert_string_equal(get(f, SITE_TRASH "/a.conf"), "new");   /* nothing moved here */
}

/* Two plans are the same plan: same steps, same times, same counts. */
static void same_plan(const struct undo_plan *a, const struct undo_plan *b)
{
	assert_string_equal(a->scope, b->scope);
	assert_string_equal(a->op, b->op);
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		step_is(b, i, a->steps[i].kind, a->steps[i].from, a->steps[i].to);
		assert_int_equal(a->steps[i].mode, b->steps[i].mode);
		assert_int_equal(a->steps[i].flags, b->steps[i].flags);
	}
	assert_int_equal(a->ntimes, b->ntimes);
	assert_int_equal(a->moves, b->moves);
	assert_int_equal(a->renames, b->renames);
	assert_int_equal(a->mkdirs, b->mkdirs);
	assert_int_equal(a->follows, b->follows);
}

/* An op of one file planned from its hint: where it takes the case, the
 * same plan as the walk; every other case left to the walk (1). */
static void test_hint(void **state)
{
	struct fx *f = *state;
	struct undo_plan walk, hint;
	struct undo_overlay *ov;

	mirror(f, SITE_TRASH "/d1", 0755, 0, 0);
	mirror(f, SITE_TRASH "/d1/d2", 0755, 0, 0);
	put(f, SITE_TRASH "/d1/d2/f", "deleted");
	dir(f, "www/d1/d2");
	/* the plain case: parents live, name free */
	assert_int_equal(undo_plan_over(f->fd, "www", OP, NULL, &walk), 0);
	assert_int_equal(undo_plan_hint(f->fd, "www", OP, "d1/d2/f", S_IFREG | 0644, NULL, &hint),
			 0);
	same_plan(&walk, &hint);
	step_is(&hint, 0, UNDO_MOVE, "d1/d2/f", "d1/d2/f");
	assert_int_equal(hint.steps[0].mode, S_IFREG);   /* type only, as the walk */
	undo_plan_release(&hint);
	undo_plan_release(&walk);

	/* an earlier op of the run restores something on the way: the walk */
	assert_int_equal(undo_overlay_new(&ov), 0);
	assert_int_equal(undo_overlay_add(ov, "www", "d1/d2", true, NULL), 0);
	assert_int_equal(undo_plan_hint(f->fd, "www", OP, "d1/d2/f", S_IFREG, ov, &hint), 1);
	undo_overlay_free(ov);
	assert_int_equal(undo_overlay_new(&ov), 0);
	assert_int_equal(undo_overlay_add(ov, "www", "d1/d2/f", false, "x"), 0);
	assert_int_equal(undo_plan_hint(f->fd, "www", OP, "d1/d2/f", S_IFREG, ov, &hint), 1);
	undo_overlay_free(ov);
	/* a directory item, a root op, bad names, a reserved top name */
	assert_int_equal(undo_plan_hint(f->fd, "www", OP, "d1/d2/f", S_IFDIR, NULL, &hint), 1);
	assert_int_equal(undo_plan_hint(f->fd, "", OP, "www", S_IFREG, NULL, &hint), 1);
	assert_int_equal(undo_plan_hint(f->fd, "www", OP, "d1/../f", S_IFREG, NULL, &hint), 1);
	assert_int_equal(undo_plan_hint(f->fd, "www", OP, "d1//f", S_IFREG, NULL, &hint), 1);
	assert_int_equal(undo_plan_hint(f->fd, "www", OP, "", S_IFREG, NULL, &hint), 1);
	assert_int_equal(undo_plan_hint(f->fd, "www", OP, ".trash/f", S_IFREG, NULL, &hint), 1);
	assert_int_equal(undo_plan_hint(f->fd, "w/w", OP, "f", S_IFREG, NULL, &hint), 1);
	assert_int_equal(undo_plan_hint(f->fd, "nosite", OP, "f", S_IFREG, NULL, &hint), 1);
	/* the name is taken: the walk plans the rename */
	put(f, "www/d1/d2/f", "new");
	assert_int_equal(undo_plan_hint(f->fd, "www", OP, "d1/d2/f", S_IFREG, NULL, &hint), 1);
	assert_int_equal(unlinkat(f->fd, "www/d1/d2/f", 0), 0);
	/* a parent is a file, a symlink, or missing: the walk */
	assert_int_equal(unlinkat(f->fd, "www/d1/d2", AT_REMOVEDIR), 0);
	put(f, "www/d1/d2", "file");
	assert_int_equal(undo_plan_hint(f->fd, "www", OP, "d1/d2/f", S_IFREG, NULL, &hint), 1);
	assert_int_equal(unlinkat(f->fd, "www/d1/d2", 0), 0);
	assert_int_equal(symlinkat("/tmp", f->fd, "www/d1/d2"), 0);
	assert_int_equal(undo_plan_hint(f->fd, "www", OP, "d1/d2/f", S_IFREG, NULL, &hint), 1);
	assert_int_equal(unlinkat(f->fd, "www/d1/d2", 0), 0);
	assert_int_equal(undo_plan_hint(f->fd, "www", OP, "d1/d2/f", S_IFREG, NULL, &hint), 1);
	/* nothing was read of the op: a hint naming what is not there is
	 * planned as it says (the execute walks, and moves what is there) */
	dir(f, "www/d1/d2");
	assert_int_equal(undo_plan_hint(f->fd, "www", OP, "d1/d2/g", S_IFLNK, NULL, &hint), 0);
	step_is(&hint, 0, UNDO_MOVE, "d1/d2/g", "d1/d2/g");
	assert_int_equal(hint.steps[0].mode, S_IFLNK);
	undo_plan_release(&hint);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_simple),
		T(test_missing_parents),
		T(test_conflicts),
		T(test_many_entries),
		T(test_race),
		T(test_symlinks),
		T(test_root_scope),
		T(test_bad_input),
		T(test_reserved),
		T(test_failure),
		T(test_stop),
		T(test_run_two_passes),
		T(test_run_merge),
		T(test_no_run_no_merge),
		T(test_times),
		T(test_rename_over),
		T(test_hint),
		cmocka_unit_test(test_runs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
