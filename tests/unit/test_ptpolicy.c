/*
 * test_ptpolicy — which opens go passthrough (daemon/ptpolicy.h): opens
 * that cannot change existing bytes do; a write open of a file with
 * content (O_APPEND too), any open of a setuid/setgid file and any open
 * not through a live name stay on the daemon path; the kernel's
 * one-mode-per-inode rule decides the rest.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "daemon/ptpolicy.h"

static struct stat file(mode_t mode, off_t size)
{
	return (struct stat){ .st_mode = S_IFREG | mode, .st_size = size };
}

static void test_class(void **state)
{
	struct stat full = file(0644, 10), empty = file(0644, 0), suid = file(04755, 10),
		    sgid = file(02755, 0), dir = { .st_mode = S_IFDIR | 0755 };

	(void)state;
	assert_int_equal(ptpolicy_class(O_RDONLY, &full, true), PT_READ);
	assert_int_equal(ptpolicy_class(O_RDONLY | O_TRUNC, &empty, true), PT_READ);
	assert_int_equal(ptpolicy_class(O_WRONLY, &empty, true), PT_FRESH);
	assert_int_equal(ptpolicy_class(O_RDWR | O_CREAT, &empty, true), PT_FRESH);
	assert_int_equal(ptpolicy_class(O_WRONLY | O_TRUNC, &empty, true), PT_FRESH);
	/* appends can be turned into overwrites (F_SETFL, RWF_NOAPPEND) */
	assert_int_equal(ptpolicy_class(O_WRONLY | O_APPEND, &full, true), PT_CONTENT);
	assert_int_equal(ptpolicy_class(O_WRONLY, &full, true), PT_CONTENT);
	assert_int_equal(ptpolicy_class(O_RDWR, &full, true), PT_CONTENT);
	assert_int_equal(ptpolicy_class(O_RDONLY, &suid, true), PT_NEVER);
	assert_int_equal(ptpolicy_class(O_WRONLY, &sgid, true), PT_NEVER);
	assert_int_equal(ptpolicy_class(O_RDONLY, &dir, true), PT_NEVER);
	/* trash names and files without a live name: never registered */
	assert_int_equal(ptpolicy_class(O_RDONLY, &full, false), PT_NEVER);
	assert_int_equal(ptpolicy_class(O_WRONLY, &empty, false), PT_NEVER);
}

static void test_decide(void **state)
{
	struct pt_inode idle = {0}, pt = { .backing_id = 4, .passthru = 1 },
			daemon = { .daemon = 2 };

	(void)state;
	/* nothing open: what may go passthrough registers */
	assert_int_equal(ptpolicy_decide(PT_READ, &idle, true), PTD_REGISTER);
	assert_int_equal(ptpolicy_decide(PT_FRESH, &idle, true), PTD_REGISTER);
	assert_int_equal(ptpolicy_decide(PT_CONTENT, &idle, true), PTD_DAEMON);
	assert_int_equal(ptpolicy_decide(PT_NEVER, &idle, true), PTD_DAEMON);
	assert_int_equal(ptpolicy_decide(PT_PRESERVED, &idle, true), PTD_DAEMON);
	/* passthrough off: the daemon path */
	assert_int_equal(ptpolicy_decide(PT_READ, &idle, false), PTD_DAEMON);
	/* daemon-path files open: the kernel takes no passthrough open */
	assert_int_equal(ptpolicy_decide(PT_READ, &daemon, true), PTD_DAEMON);
	assert_int_equal(ptpolicy_decide(PT_FRESH, &daemon, true), PTD_DAEMON);
	/* passthrough files open: every open joins, a writer of content
	 * once its bytes are preserved */
	assert_int_equal(ptpolicy_decide(PT_READ, &pt, true), PTD_JOIN);
	assert_int_equal(ptpolicy_decide(PT_FRESH, &pt, true), PTD_JOIN);
	assert_int_equal(ptpolicy_decide(PT_CONTENT, &pt, true), PTD_PRESERVE);
	assert_int_equal(ptpolicy_decide(PT_NEVER, &pt, true), PTD_PRESERVE);
	assert_int_equal(ptpolicy_decide(PT_PRESERVED, &pt, true), PTD_JOIN);
	assert_int_equal(ptpolicy_decide(PT_READ, &pt, false), PTD_JOIN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_class),
		cmocka_unit_test(test_decide),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
