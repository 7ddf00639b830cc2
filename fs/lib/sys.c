/*
 * sys — real implementations behind the injectable table (see sys.h).
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/sys.h"

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t real_wall_ns(void) { return clock_ns(CLOCK_REALTIME); }
static int64_t real_mono_ns(void) { return clock_ns(CLOCK_BOOTTIME); }

static const struct sys_table real = {
	.wall_ns = real_wall_ns,
	.mono_ns = real_mono_ns,
	.renameat2 = renameat2,
	.mkdirat = mkdirat,
	.linkat = linkat,
};

struct sys_table sys = real;

void sys_reset(void)
{
	sys = real;
}
