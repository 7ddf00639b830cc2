/*
 * test_fuseinit — the INIT reply's flags are raised (fuseinit.h) on a
 * successful INIT reply only: never on an error reply, a reply of another
 * request shaped alike, or inconsistent lengths.  Passthrough: the offer
 * is read from the INIT request, asked for only when offered (a kernel
 * without it gets today's reply), and OPEN/CREATE replies carry the
 * backing id.
 */
#include <errno.h>
#include <linux/fuse.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
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

struct request {
	struct fuse_in_header h;
	struct fuse_init_in in;
};

/* An INIT request as Linux 6.9+ sends it; flags2 as given. */
static void init_request(struct request *q, uint32_t flags, uint32_t flags2)
{
	*q = (struct request){
		.h = { .len = sizeof(*q), .opcode = FUSE_INIT, .unique = 2 },
		.in = { .major = FUSE_KERNEL_VERSION, .minor = 44, .flags = flags, .flags2 = flags2 },
	};
}

static void test_raises(void **state)
{
	struct reply r;

	(void)state;
	init_reply(&r);
	assert_true(fuseinit_raise(r.iov, 2, FUSE_HANDLE_KILLPRIV_V2, 0));
	assert_int_equal(r.init.flags, FUSE_ASYNC_READ | FUSE_HANDLE_KILLPRIV_V2);
	assert_int_equal(r.init.minor, 36);   /* nothing else touched */
	assert_int_equal(r.init.flags2, 0);
	assert_int_equal(r.init.unused[0], 0);
}

static void test_leaves_others(void **state)
{
	struct reply r;

	(void)state;
	init_reply(&r);
	r.h.error = -ENOSYS;   /* an error reply */
	assert_false(fuseinit_raise(r.iov, 2, FUSE_HANDLE_KILLPRIV_V2, 0));
	init_reply(&r);
	r.init.major = 8;      /* not protocol 7 */
	assert_false(fuseinit_raise(r.iov, 2, FUSE_HANDLE_KILLPRIV_V2, 0));
	init_reply(&r);
	r.h.len += 1;          /* lengths disagree */
	assert_false(fuseinit_raise(r.iov, 2, FUSE_HANDLE_KILLPRIV_V2, 0));
	init_reply(&r);
	r.iov[1].iov_len = 8;  /* too short to hold the flags */
	r.h.len = sizeof(r.h) + 8;
	assert_false(fuseinit_raise(r.iov, 2, FUSE_HANDLE_KILLPRIV_V2, 0));
	init_reply(&r);
	r.h.len = sizeof(r.h);  /* header alone */
	assert_false(fuseinit_raise(r.iov, 1, FUSE_HANDLE_KILLPRIV_V2, 0));
	assert_int_equal(r.init.flags, FUSE_ASYNC_READ);
}

static void test_offered(void **state)
{
	struct request q;
	uint64_t f = 0;

	(void)state;
	init_request(&q, FUSE_ASYNC_READ | FUSE_INIT_EXT, (uint32_t)(FUSE_PASSTHROUGH >> 32));
	assert_true(fuseinit_offered(&q, sizeof(q), &f));
	assert_true(f & FUSE_PASSTHROUGH);
	assert_true(f & FUSE_ASYNC_READ);
	/* flags2 counts only with FUSE_INIT_EXT */
	init_request(&q, FUSE_ASYNC_READ, (uint32_t)(FUSE_PASSTHROUGH >> 32));
	assert_true(fuseinit_offered(&q, sizeof(q), &f));
	assert_false(f & FUSE_PASSTHROUGH);
	/* a pre-7.36 request: no flags2 at all */
	init_request(&q, FUSE_ASYNC_READ | FUSE_INIT_EXT, 0);
	q.h.len = sizeof(q.h) + 16;
	assert_true(fuseinit_offered(&q, sizeof(q.h) + 16, &f));
	assert_int_equal(f, FUSE_ASYNC_READ | FUSE_INIT_EXT);
	/* not an INIT, or lengths that disagree */
	init_request(&q, FUSE_INIT_EXT, 0xffffffff);
	q.h.opcode = FUSE_OPEN;
	f = 0;
	assert_false(fuseinit_offered(&q, sizeof(q), &f));
	init_request(&q, FUSE_INIT_EXT, 0xffffffff);
	assert_false(fuseinit_offered(&q, sizeof(q) - 1, &f));
	assert_false(fuseinit_offered(&q, 8, &f));
	assert_int_equal(f, 0);
}

static void test_asks_for_passthrough(void **state)
{
	struct reply r;

	(void)state;
	init_reply(&r);
	assert_true(fuseinit_raise(r.iov, 2, FUSE_HANDLE_KILLPRIV_V2 | FUSE_PASSTHROUGH,
				   FUSEINIT_STACK_DEPTH));
	assert_int_equal(r.init.flags, FUSE_ASYNC_READ | FUSE_HANDLE_KILLPRIV_V2 | FUSE_INIT_EXT);
	assert_int_equal(r.init.flags2, FUSE_PASSTHROUGH >> 32);
	assert_int_equal(r.init.unused[0], 1);   /* max_stack_depth */
	/* a reply too short for flags2 (protocol before 7.23) stays as it is */
	init_reply(&r);
	r.iov[1].iov_len = 24;
	r.h.len = sizeof(r.h) + 24;
	assert_false(fuseinit_raise(r.iov, 2, FUSE_PASSTHROUGH, 1));
	assert_int_equal(r.init.flags, FUSE_ASYNC_READ);
}

/* The whole INIT exchange as fuseio does it, for each kernel and option. */
static uint32_t exchange(uint32_t flags2_offered, bool wanted, bool vetoed,
			 enum fuseinit_pt *choice, struct reply *r)
{
	struct request q;
	uint64_t offered = 0, ask = FUSE_HANDLE_KILLPRIV_V2;

	init_request(&q, FUSE_ASYNC_READ | FUSE_INIT_EXT, flags2_offered);
	assert_true(fuseinit_offered(&q, sizeof(q), &offered));
	*choice = fuseinit_passthrough_choice(wanted, vetoed, offered);
	if (*choice == FUSEINIT_PT_ON)
		ask |= FUSE_PASSTHROUGH;
	init_reply(r);
	assert_true(fuseinit_raise(r->iov, 2, ask, *choice == FUSEINIT_PT_ON ? 1 : 0));
	return r->init.flags2;
}

static void test_fallbacks(void **state)
{
	uint32_t pt = (uint32_t)(FUSE_PASSTHROUGH >> 32);
	enum fuseinit_pt c;
	struct reply r;

	(void)state;
	assert_int_equal(exchange(pt, true, false, &c, &r), pt);
	assert_int_equal(c, FUSEINIT_PT_ON);
	/* a kernel that does not offer it (before 6.9, or without
	 * CONFIG_FUSE_PASSTHROUGH): today's reply */
	assert_int_equal(exchange(0, true, false, &c, &r), 0);
	assert_int_equal(c, FUSEINIT_PT_OFF_KERNEL);
	assert_int_equal(r.init.unused[0], 0);
	assert_int_equal(r.init.flags, FUSE_ASYNC_READ | FUSE_HANDLE_KILLPRIV_V2);
	/* -o passthrough=off, and -o writeback */
	assert_int_equal(exchange(pt, false, false, &c, &r), 0);
	assert_int_equal(c, FUSEINIT_PT_OFF_OPTION);
	assert_int_equal(exchange(pt, true, true, &c, &r), 0);
	assert_int_equal(c, FUSEINIT_PT_OFF_VETO);
}

static void test_open_reply(void **state)
{
	struct {
		struct fuse_out_header h;
		struct fuse_open_out o;
	} op = { .h = { .len = sizeof(op), .unique = 9 }, .o = { .fh = 7, .open_flags = FOPEN_KEEP_CACHE | FOPEN_NOFLUSH } };
	struct {
		struct fuse_out_header h;
		char body[sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out)];
	} cr = { .h = { .len = sizeof(cr), .unique = 10 } };
	struct iovec iov[2] = { { &op.h, sizeof(op.h) }, { &op.o, sizeof(op.o) } };
	struct fuse_open_out o;

	(void)state;
	assert_true(fuseinit_passthrough_reply(iov, 2, 3));
	/* the kernel refuses FOPEN_KEEP_CACHE beside it (EIO at open) */
	assert_int_equal(op.o.open_flags, FOPEN_NOFLUSH | FOPEN_PASSTHROUGH);
	assert_int_equal(op.o.padding, 3);   /* backing_id */
	assert_int_equal(op.o.fh, 7);
	/* CREATE: the open part follows the entry */
	memset(cr.body, 0xa5, sizeof(struct fuse_entry_out));
	memset(cr.body + sizeof(struct fuse_entry_out), 0, sizeof(o));
	iov[0] = (struct iovec){ &cr.h, sizeof(cr.h) };
	iov[1] = (struct iovec){ cr.body, sizeof(cr.body) };
	assert_true(fuseinit_passthrough_reply(iov, 2, 5));
	memcpy(&o, cr.body + sizeof(struct fuse_entry_out), sizeof(o));
	assert_int_equal(o.open_flags, FOPEN_PASSTHROUGH);
	assert_int_equal(o.padding, 5);
	assert_int_equal((unsigned char)cr.body[sizeof(struct fuse_entry_out) - 1], 0xa5);
	/* an error reply, another size, id 0: untouched */
	op.o.open_flags = 0;
	op.o.padding = 0;
	iov[0] = (struct iovec){ &op.h, sizeof(op.h) };
	iov[1] = (struct iovec){ &op.o, sizeof(op.o) };
	assert_false(fuseinit_passthrough_reply(iov, 2, 0));
	op.h.error = -EIO;
	assert_false(fuseinit_passthrough_reply(iov, 2, 3));
	op.h.error = 0;
	iov[1].iov_len = 8;
	op.h.len = sizeof(op.h) + 8;
	assert_false(fuseinit_passthrough_reply(iov, 2, 3));
	assert_int_equal(op.o.open_flags, 0);
	assert_int_equal(op.o.padding, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_raises),
		cmocka_unit_test(test_leaves_others),
		cmocka_unit_test(test_offered),
		cmocka_unit_test(test_asks_for_passthrough),
		cmocka_unit_test(test_fallbacks),
		cmocka_unit_test(test_open_reply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
