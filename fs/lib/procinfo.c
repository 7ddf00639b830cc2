/*
 * procinfo — identify the calling process from /proc (see procinfo.h).
 * Threading: a small direct-mapped cache guarded by one mutex.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/procinfo.h"
#include "lib/sys.h"

#define CACHE_SLOTS 64
#define CACHE_TTL_NS 1000000000LL   /* pid reuse within 1 s is not a concern */

static struct slot {
	pid_t tid;
	int64_t at_ns;
	struct caller c;
} cache[CACHE_SLOTS];
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static ssize_t read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, cap - 1);
	if (n < 0)
		n = -errno;
	else
		buf[n] = '\0';
	close(fd);
	return n;
}

static pid_t tgid_of(pid_t tid)
{
	char path[64], buf[512], *p;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	if (read_small(path, buf, sizeof(buf)) < 0)
		return -1;
	p = strstr(buf, "\nTgid:");
	return p ? (pid_t)strtol(p + 6, NULL, 10) : -1;
}

int procinfo_read(pid_t tid, struct caller *c)
{
	char path[64], buf[UTIL_CMDLINE_MAX], *p;
	pid_t pid = tgid_of(tid);
	ssize_t n;

	if (pid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((n = read_small(path, buf, sizeof(buf))) < 0)
		return (int)n;
	/* field 22 (starttime) counted after the ")" that ends comm */
	p = strrchr(buf, ')');
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (!p)
		return -EIO;
	c->pid = (uint32_t)pid;
	c->pid_start = strtoull(p + 1, NULL, 10);

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	n = read_small(path, buf, sizeof(buf));
	if (n <= 0) {   /* kernel threads, zombies: fall back to comm */
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
		n = read_small(path, buf, sizeof(buf));
		if (n > 0 && buf[n - 1] == '\n')
			buf[--n] = '\0';
	}
	if (n <= 0) {
		buf[0] = '\0';
		n = 0;
	}
	util_sanitize_cmd(buf, c->cmd, sizeof(c->cmd));
	for (ssize_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)buf[i];

		if (ch == '\0')
			buf[i] = i + 1 < n ? ' ' : '\0';
		else if (ch < 0x20 || ch == 0x7f)
			buf[i] = '?';
	}
	while (n > 0 && buf[n - 1] == '\0')
		n--;
	memcpy(c->cmdline, buf, (size_t)n);
	c->cmdline[n] = '\0';
	return 0;
}

void procinfo_get(pid_t tid, uint32_t uid, uint32_t gid, struct caller *c)
{
	struct slot *s = &cache[(unsigned)tid % CACHE_SLOTS];
	int64_t now = sys.mono_ns();

	pthread_mutex_lock(&cache_lock);
	if (tid > 0 && s->tid == tid && now - s->at_ns < CACHE_TTL_NS) {
		*c = s->c;
		pthread_mutex_unlock(&cache_lock);
		goto ids;
	}
	pthread_mutex_unlock(&cache_lock);

	memset(c, 0, sizeof(*c));
	if (tid <= 0 || procinfo_read(tid, c) < 0) {
		memset(c, 0, sizeof(*c));
		snprintf(c->cmd, sizeof(c->cmd), "unknown");
	} else {
		pthread_mutex_lock(&cache_lock);
		s->tid = tid;
		s->at_ns = now;
		s->c = *c;
		pthread_mutex_unlock(&cache_lock);
	}
ids:
	c->uid = uid;
	c->gid = gid;
}
