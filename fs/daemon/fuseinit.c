/*
 * fuseinit — raise FUSE INIT reply flags, mark passthrough open replies
 * (see fuseinit.h).
 */
#include <stddef.h>
#include <string.h>

#include "daemon/fuseinit.h"

/* The u32 after flags2 in fuse_init_out: max_stack_depth since 7.40. */
#define STACK_DEPTH_OFF (offsetof(struct fuse_init_out, flags2) + sizeof(uint32_t))

bool fuseinit_offered(const void *buf, size_t len, uint64_t *offered)
{
	struct fuse_in_header h;
	struct fuse_init_in in = {0};
	size_t body;

	if (len < sizeof(h))
		return false;
	memcpy(&h, buf, sizeof(h));
	body = len - sizeof(h);
	if (h.opcode != FUSE_INIT || h.len != len ||
	    body < offsetof(struct fuse_init_in, flags) + sizeof(in.flags))
		return false;
	memcpy(&in, (const char *)buf + sizeof(h), body < sizeof(in) ? body : sizeof(in));
	if (in.major != FUSE_KERNEL_VERSION)
		return false;
	*offered = in.flags;
	if ((in.flags & FUSE_INIT_EXT) &&
	    body >= offsetof(struct fuse_init_in, flags2) + sizeof(in.flags2))
		*offered |= (uint64_t)in.flags2 << 32;
	return true;
}

enum fuseinit_pt fuseinit_passthrough_choice(bool wanted, bool vetoed, uint64_t offered)
{
	if (!wanted)
		return FUSEINIT_PT_OFF_OPTION;
	if (vetoed)
		return FUSEINIT_PT_OFF_VETO;
	return offered & FUSE_PASSTHROUGH ? FUSEINIT_PT_ON : FUSEINIT_PT_OFF_KERNEL;
}

bool fuseinit_raise(struct iovec *iov, int count, uint64_t flags, uint32_t stack_depth)
{
	const struct fuse_out_header *h;
	struct fuse_init_out *init;
	size_t total = 0, need = offsetof(struct fuse_init_out, flags) + sizeof(init->flags);

	if ((flags >> 32) || stack_depth)
		need = STACK_DEPTH_OFF + sizeof(uint32_t);
	if (count < 2 || iov[0].iov_len != sizeof(*h) || iov[1].iov_len < need)
		return false;
	for (int i = 0; i < count; i++)
		total += iov[i].iov_len;
	h = iov[0].iov_base;
	init = iov[1].iov_base;
	if (h->error != 0 || h->len != total || init->major != FUSE_KERNEL_VERSION)
		return false;
	init->flags |= (uint32_t)flags;
	if (flags >> 32) {
		init->flags |= FUSE_INIT_EXT;
		init->flags2 |= (uint32_t)(flags >> 32);
	}
	if (stack_depth)
		memcpy((char *)init + STACK_DEPTH_OFF, &stack_depth, sizeof(stack_depth));
	return true;
}

bool fuseinit_passthrough_reply(struct iovec *iov, int count, uint32_t backing_id)
{
	const struct fuse_out_header *h;
	struct fuse_open_out o;
	char *at;
	size_t total = 0;

	if (count != 2 || iov[0].iov_len != sizeof(*h) ||
	    (iov[1].iov_len != sizeof(o) &&
	     iov[1].iov_len != sizeof(struct fuse_entry_out) + sizeof(o)))
		return false;
	for (int i = 0; i < count; i++)
		total += iov[i].iov_len;
	h = iov[0].iov_base;
	if (h->error != 0 || h->len != total || backing_id == 0)
		return false;
	at = (char *)iov[1].iov_base + iov[1].iov_len - sizeof(o);   /* may be unaligned */
	memcpy(&o, at, sizeof(o));
	/* fs/fuse/iomode.c: FOPEN_PASSTHROUGH_MASK, anything else is EIO */
	o.open_flags &= FOPEN_DIRECT_IO | FOPEN_PARALLEL_DIRECT_WRITES | FOPEN_NOFLUSH;
	o.open_flags |= FOPEN_PASSTHROUGH;
	o.padding = backing_id;   /* backing_id since 7.40 */
	memcpy(at, &o, sizeof(o));
	return true;
}
