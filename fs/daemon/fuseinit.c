/*
 * fuseinit — raise FUSE INIT reply flags (see fuseinit.h).
 */
#include <linux/fuse.h>
#include <stddef.h>

#include "daemon/fuseinit.h"

bool fuseinit_raise(struct iovec *iov, int count, uint32_t flags)
{
	const struct fuse_out_header *h;
	struct fuse_init_out *init;
	size_t total = 0;

	if (count < 2 || iov[0].iov_len != sizeof(*h) ||
	    iov[1].iov_len < offsetof(struct fuse_init_out, flags) + sizeof(init->flags))
		return false;
	for (int i = 0; i < count; i++)
		total += iov[i].iov_len;
	h = iov[0].iov_base;
	init = iov[1].iov_base;
	if (h->error != 0 || h->len != total || init->major != FUSE_KERNEL_VERSION)
		return false;
	init->flags |= flags;
	return true;
}
