/*
 * clock — the trusted elapsed clock (see clock.h).
 *
 * File format, one line: "gracefs-clock 1 <ns> <check>\n" where check is
 * the FNV-1a hash of "<ns>" in hex: a torn or bit-flipped value is refused
 * rather than trusted (a larger value would purge early).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/clock.h"
#include "lib/sys.h"

#define TMP_FILE CLOCK_FILE ".tmp"

static struct {
	pthread_mutex_t lock;   /* serialises saves */
	int state_fd;           /* -1: not open */
	int64_t base_ns;        /* counter value at mono0 */
	int64_t mono0;
	bool open;
} clk = { PTHREAD_MUTEX_INITIALIZER, -1, 0, 0, false };

static uint32_t fnv1a(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

int clock_format(int64_t ns, char *buf, size_t cap)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%" PRId64, ns);
	int len = snprintf(buf, cap, "gracefs-clock 1 %s %08" PRIx32 "\n", num,
			   fnv1a(num, (size_t)n));

	return len < 0 || (size_t)len >= cap ? -ENOBUFS : len;
}

int clock_parse(const char *buf, size_t len, int64_t *ns)
{
	char line[96], num[24], chk[16], again[96];
	long long v;

	if (len == 0 || len >= sizeof(line))
		return -EINVAL;
	memcpy(line, buf, len);
	line[len] = '\0';
	if (sscanf(line, "gracefs-clock 1 %23[0-9] %15[0-9a-f]", num, chk) != 2)
		return -EINVAL;
	v = strtoll(num, NULL, 10);
	if (v < 0 || clock_format(v, again, sizeof(again)) != (int)len ||
	    memcmp(again, line, len))
		return -EINVAL;   /* bad check, leading zeros, trailing bytes */
	*ns = v;
	return 0;
}

int64_t clock_elapsed_ns(void)
{
	return clk.base_ns + (sys.mono_ns() - clk.mono0);
}

void clock_raise(int64_t ns)
{
	int64_t now = clock_elapsed_ns();

	if (ns > now)
		clk.base_ns += ns - now;
}

static int load(int fd, int64_t *ns)
{
	char buf[96];
	int f = openat(fd, CLOCK_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;

	if (f < 0)
		return -errno;
	n = read(f, buf, sizeof(buf));
	close(f);
	if (n < 0)
		return -errno;
	return clock_parse(buf, (size_t)n, ns);
}

/* No inode (or block) for clock.tmp: write the new value over the clock
 * file in place.  It needs no new inode, and no new block (the line only
 * grows by a digit now and then, within the file's one block).  A crash
 * in the middle leaves a torn file, refused by its check at the next start
 * like a torn clock.tmp rename would be: safe (see clock_save). */
static int save_in_place(const char *buf, int len)
{
	int f = openat(clk.state_fd, CLOCK_FILE, O_WRONLY | O_NOFOLLOW | O_CLOEXEC), r = 0;

	if (f < 0)
		return -errno;
	errno = EIO;
	if (pwrite(f, buf, (size_t)len, 0) != len || ftruncate(f, len) < 0)
		r = -errno;
	close(f);
	return r;
}

int clock_save(void)
{
	char buf[96];
	int len, f, r = 0;

	pthread_mutex_lock(&clk.lock);
	if (!clk.open)
		goto out;
	len = clock_format(clock_elapsed_ns(), buf, sizeof(buf));
	/* steps: 1 write clock.tmp; 2 rename it over clock.  A crash before 2
	 * leaves the old value (older: only later purging).  No fsync: every
	 * outcome of a power loss is safe -- the old value (purging later),
	 * the new one, or a torn file (refused by its check: the counter
	 * restarts from the largest stamp in the index) -- and an fsync per
	 * pass would queue behind every tenant's writeback. */
	f = openat(clk.state_fd, TMP_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
		   O_CLOEXEC, 0600);
	if (f < 0) {
		r = -errno;
	} else {
		errno = EIO;
		if (write(f, buf, (size_t)len) != len)
			r = -errno;
		close(f);
		if (!r && renameat(clk.state_fd, TMP_FILE, clk.state_fd, CLOCK_FILE) < 0)
			r = -errno;
	}
	/* a full filesystem (a tenant used up its inodes or blocks) must not
	 * stop the clock being saved: then in place */
	if (r == -ENOSPC || r == -EDQUOT) {
		if (f >= 0)
			unlinkat(clk.state_fd, TMP_FILE, 0);
		r = save_in_place(buf, len);
	}
out:
	pthread_mutex_unlock(&clk.lock);
	return r;
}

int clock_open(int state_fd, bool *fresh)
{
	int64_t ns = 0;
	bool lost = load(state_fd, &ns) < 0;

	if (lost)
		ns = 0;
	clk.state_fd = state_fd;
	clk.mono0 = sys.mono_ns();
	clk.base_ns = ns;   /* downtime counts as nothing */
	clk.open = true;
	if (fresh)
		*fresh = lost;
	return clock_save();
}

void clock_close(void)
{
	clock_save();
	pthread_mutex_lock(&clk.lock);
	clk.open = false;
	clk.state_fd = -1;
	pthread_mutex_unlock(&clk.lock);
}
