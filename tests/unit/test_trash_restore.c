/*
 * test_trash_restore — the soft-delete engine on a real backing directory:
 * reconcile at open, restores out of ops, counting trees, hard links held
 * in trash.  The fixture is trash_fx.c (see test_trash.c).  Needs root.
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
	faults_off();
	/* it succeeds: old's name is in trash, twin lives on */
	assert_int_equal(ren(f, "", "new", "old", 0), 0);
	assert_int_equal(tl_count(f, "site/twin"), 1);
	assert_int_equal(index_tlop_get(f->ix, op, &held), 0);
	assert_int_equal(held, 1);
}


int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
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
		printf("1..0 # SKIP test_trash_restore needs root (trusted.* xattrs, chown)\n");
		return 0;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
