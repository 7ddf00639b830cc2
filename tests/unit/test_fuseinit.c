/*
 * test_fuseinit — the INIT reply's flags are raised (fuseinit.h) on a
 * successful INIT reply only: never on an error reply, a reply of another
 * request shaped alike, or inconsistent lengths.
 */
#include <errno.h>
#include <linux/fuse.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "daemon/fuseinit.h"

struct reply {
	struct fuse_out_header h;
	struct fuse_init_out init;
	struct iovec iov[2];
};

static void init_reply(struct reply *r)
{
	*r = (struct reply){
		.h = { .len = sizeof(r->h) + sizeof(r->init), .error = 0, .unique = 2 },
		.init = { .major = FUSE_KERNEL_VERSION, .minor = 36, .flags = FUSE_ASYNC_READ },
	};
	r->iov[0] = (struct iovec){ &r->h, sizeof(r->h) };
	r->iov[1] = (struct iovec){ &r->init, sizeof(r->init) };
}

static void test_raises(void **state)
{
	struct reply r;

	(void)state;
	init_reply(&r);
	assert_true(fuseinit_raise(r.iov, 2, FUSE_HANDLE_KILLPRIV_V2));
	assert_int_equal(r.init.flags, FUSE_ASYNC_READ | FUSE_HANDLE_KILLPRIV_V2);
	assert_int_equal(r.init.minor, 36);   /* nothing else touched */
}

static void test_leaves_others(void **state)
{
	struct reply r;

	(void)state;
	init_reply(&r);
	r.h.error = -ENOSYS;   /* an error reply */
	assert_false(fuseinit_raise(r.iov, 2, FUSE_HANDLE_KILLPRIV_V2));
	init_reply(&r);
	r.init.major = 8;      /* not protocol 7 */
	assert_false(fuseinit_raise(r.iov, 2, FUSE_HANDLE_KILLPRIV_V2));
	init_reply(&r);
	r.h.len += 1;          /* lengths disagree */
	assert_false(fuseinit_raise(r.iov, 2, FUSE_HANDLE_KILLPRIV_V2));
	init_reply(&r);
	r.iov[1].iov_len = 8;  /* too short to hold the flags */
	r.h.len = sizeof(r.h) + 8;
	assert_false(fuseinit_raise(r.iov, 2, FUSE_HANDLE_KILLPRIV_V2));
	init_reply(&r);
	r.h.len = sizeof(r.h);  /* header alone */
	assert_false(fuseinit_raise(r.iov, 1, FUSE_HANDLE_KILLPRIV_V2));
	assert_int_equal(r.init.flags, FUSE_ASYNC_READ);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_raises),
		cmocka_unit_test(test_leaves_others),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
