/*
 * test_auditarch — audit archive files: what auditarch_write writes reads
 * back with the same digest, and every kind of damage is found (a changed
 * byte, a dropped, repeated or reordered row, a cut end, another file).
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
#include <unistd.h>
#include <cmocka.h>

#include "store/auditarch.h"
#include "testutil.h"

static char tmp[] = "/tmp/gracefs-arch-XXXXXX";

/* The archive file as lines (at most 16), for damaging copies of it. */
static char lines[16][1024];
static int nlines;

static int check_lines(const int *order, int n, char *msg, size_t cap)
{
	char path[64];
	struct auditarch_info info;
	FILE *f;
	int fd, r;

	snprintf(path, sizeof(path), "%s/copy", tmp);
	assert_non_null(f = fopen(path, "w"));
	for (int i = 0; i < n; i++)
		fputs(lines[order[i]], f);
	fclose(f);
	assert_true((fd = open(path, O_RDONLY)) >= 0);
	r = auditarch_verify(fd, &info, msg, cap);
	close(fd);
	return r;
}

static void test_write_verify(void **state)
{
	struct catalog *c;
	struct catalog_archive_plan p;
	struct auditarch_info w, v;
	struct audit_row r[3];
	char path[64], msg[256];
	FILE *f;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(tmp));
	snprintf(path, sizeof(path), "%s/catalog.db", tmp);
	assert_int_equal(catalog_open(&c, path, false, NULL), 0);
	for (int i = 0; i < 3; i++) {
		r[i] = (struct audit_row)AUDIT_ROW_INIT;
		r[i].ts_ns = (i + 1) * 1000000000LL;
		r[i].event = "delete";
		r[i].site = "www";
		r[i].cmdline = "rm -rf 'a \"b\"'\n,\"chain\":\"x";   /* quotes, a newline */
		r[i].detail = i == 1 ? NULL : "items=1";
		r[i].uid = i;
	}
	assert_int_equal(catalog_audit_append_batch(c, r, 3), 0);
	assert_int_equal(catalog_audit_archive_plan(c, 3000000000LL, &p), 0);
	assert_int_equal(p.rows, 2);
	snprintf(path, sizeof(path), "%s/a.jsonl", tmp);
	assert_true((fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600)) >= 0);
	assert_int_equal(auditarch_write(c, &p, 3000000000LL, fd, &w), 0);
	assert_int_equal(w.rows, 2);
	lseek(fd, 0, SEEK_SET);
	assert_int_equal(auditarch_verify(fd, &v, msg, sizeof(msg)), 0);
	close(fd);
	assert_string_equal(v.sha256, w.sha256);
	assert_string_equal(v.chain, w.chain);
	assert_int_equal(v.first_seq, 1);
	assert_int_equal(v.last_seq, 2);
	assert_int_equal(v.rows, 2);
	assert_string_equal(v.prev_sha256, "");

	/* the lines: header, row 1, row 2, end */
	assert_non_null(f = fopen(path, "r"));
	while (nlines < 16 && fgets(lines[nlines], sizeof(lines[0]), f))
		nlines++;
	fclose(f);
	assert_int_equal(nlines, 4);
	assert_int_equal(check_lines((int[]){ 0, 1, 2, 3 }, 4, msg, sizeof(msg)), 0);
	assert_int_equal(check_lines((int[]){ 0, 2, 1, 3 }, 4, msg, sizeof(msg)), -EBADMSG);
	assert_int_equal(check_lines((int[]){ 0, 1, 3 }, 3, msg, sizeof(msg)), -EBADMSG);
	assert_int_equal(check_lines((int[]){ 0, 1, 1, 2, 3 }, 5, msg, sizeof(msg)), -EBADMSG);
	assert_int_equal(check_lines((int[]){ 0, 1, 2 }, 3, msg, sizeof(msg)), -EBADMSG);
	assert_non_null(strstr(msg, "no end line"));
	assert_int_equal(check_lines((int[]){ 1, 2, 3 }, 3, msg, sizeof(msg)), -EBADMSG);
	lines[2][30] ^= 1;   /* one bit of row 2 */
	assert_int_equal(check_lines((int[]){ 0, 1, 2, 3 }, 4, msg, sizeof(msg)), -EBADMSG);
	assert_non_null(strstr(msg, "line 3 (seq 2): altered"));
	/* the plan is stale once the rows are gone: nothing is written */
	p.rows = 3;
	snprintf(path, sizeof(path), "%s/b.jsonl", tmp);
	assert_true((fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600)) >= 0);
	assert_int_equal(auditarch_write(c, &p, 3000000000LL, fd, &w), -ESTALE);
	close(fd);
	catalog_close(c);
	assert_int_equal(rm_tree(tmp), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_verify),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
