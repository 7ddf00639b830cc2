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

static char proc_root[256] = "/proc";
static _Atomic int64_t boot_s = -1;            /* btime of proc_root/stat; -1 unread */

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

/* Read <root>/<pid>/<file> into buf; pid 0 means <root>/<file>. */
static ssize_t read_proc(pid_t pid, const char *file, char *buf, size_t cap)
{
	char path[sizeof(proc_root) + 64];

	if (pid)
		snprintf(path, sizeof(path), "%s/%d/%s", proc_root, (int)pid, file);
	else
		snprintf(path, sizeof(path), "%s/%s", proc_root, file);
	return read_small(path, buf, cap);
}

static pid_t tgid_of(pid_t tid)
{
	char buf[512], *p;

	if (read_proc(tid, "status", buf, sizeof(buf)) < 0)
		return -1;
	p = strstr(buf, "\nTgid:");
	return p ? (pid_t)strtol(p + 6, NULL, 10) : -1;
}

struct pstat {
	pid_t ppid, pgrp, sid;
	uint64_t start;     /* clock ticks since boot */
};

/* Fields 4 (ppid), 5 (pgrp), 6 (session) and 22 (starttime) of stat,
 * counted after the ")" that ends comm.  0 or -errno. */
static int read_stat(pid_t pid, struct pstat *ps)
{
	char buf[1024], *p;
	ssize_t n;
	long long v[4];

	if ((n = read_proc(pid, "stat", buf, sizeof(buf))) < 0)
		return (int)n;
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %lld %lld %lld", &v[0], &v[1], &v[2]) != 3)
		return -EIO;
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (!p)
		return -EIO;
	ps->ppid = (pid_t)v[0];
	ps->pgrp = (pid_t)v[1];
	ps->sid = (pid_t)v[2];
	ps->start = strtoull(p + 1, NULL, 10);
	return 0;
}

/* Does arg need quoting to be pasted back into a shell as one word? */
static bool needs_quotes(const char *arg, size_t n)
{
	if (!n)
		return true;
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
			    "_@%+=:,./-", arg[i]) || !arg[i])
			return true;
	return false;
}

/* A process's command line, argv joined by spaces and quoted as a shell
 * reads it (an argument with a space, a quote or another special byte is
 * put in single quotes, ' as '\'' inside them), so a row's command can be
 * pasted back (a command line of one argument is a process title and is
 * left as it is); non-printables as '?'; cut to cap - 1 bytes (not inside a
 * UTF-8 sequence); comm for kernel threads and zombies.  *argv0 (may be
 * NULL, cap UTIL_CMD_MAX + 1) gets the sanitised command.  Returns the
 * length (0: unreadable). */
static size_t read_cmdline(pid_t pid, char *out, size_t cap, char *argv0)
{
	char buf[UTIL_CMDLINE_MAX], q[UTIL_CMDLINE_MAX];
	ssize_t n = read_proc(pid, "cmdline", buf, sizeof(buf));
	size_t k = 0;
	bool args = n > 0;   /* quote: argv as the kernel keeps it */

	if (n <= 0) {   /* kernel threads, zombies: fall back to comm */
		n = read_proc(pid, "comm", buf, sizeof(buf));
		if (n > 0 && buf[n - 1] == '\n')
			buf[--n] = '\0';
	}
	if (n <= 0) {
		buf[0] = '\0';
		n = 0;
	}
	if (n == (ssize_t)sizeof(buf))
		buf[--n] = '\0';
	if (argv0)
		util_sanitize_cmd(buf, argv0, UTIL_CMD_MAX + 1);
	while (n > 0 && buf[n - 1] == '\0')
		n--;
	for (ssize_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)buf[i];

		if (ch && (ch < 0x20 || ch == 0x7f))
			buf[i] = '?';
	}
	/* each argument, quoted where a shell would split or expand it; a
	 * single one is a title a process set for itself ("sshd: alice@pts/0")
	 * and stays as it is */
	if (args && !memchr(buf, '\0', (size_t)n))
		args = false;
	for (ssize_t i = 0; i <= n && k + 1 < sizeof(q); ) {
		size_t len = args ? strnlen(buf + i, (size_t)(n - i)) : (size_t)n;
		bool quote = args && needs_quotes(buf + i, len);

		if (i)
			q[k++] = ' ';
		if (quote && k + 1 < sizeof(q))
			q[k++] = '\'';
		for (size_t j = 0; j < len && k + 1 < sizeof(q); j++) {
			if (quote && buf[i + (ssize_t)j] == '\'') {
				if (k + 5 >= sizeof(q))
					break;
				memcpy(q + k, "'\\''", 4);
				k += 4;
			} else {
				q[k++] = buf[i + (ssize_t)j];
			}
		}
		if (quote && k + 1 < sizeof(q))
			q[k++] = '\'';
		i += (ssize_t)len + 1;
		if (!args)
			break;
	}
	if (k >= cap) {
		k = cap - 1;
		while (k > 0 && ((unsigned char)q[k] & 0xc0) == 0x80)
			k--;    /* do not split a UTF-8 sequence */
	}
	memcpy(out, q, k);
	out[k] = '\0';
	return k;
}

/* The command a run is named by: argv[0], or for an interpreter running
 * a script (`/bin/sh ./cleanup.sh`, `python3 -u job.py`) the script's
 * name; `sh -c '…'` stays "sh".  args: NUL-separated, n bytes. */
static void run_command(const char *args, size_t n, char *cmd)
{
	static const char *const interp[] = {
		"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "busybox", "python",
		"python2", "python3", "perl", "ruby", "php", "node", "lua", "tclsh",
	};
	const char *a = args, *end = args + n;

	util_sanitize_cmd(args, cmd, UTIL_CMD_MAX + 1);
	for (size_t i = 0; i < sizeof(interp) / sizeof(interp[0]); i++) {
		if (strcmp(cmd, interp[i]) &&
		    (strncmp(interp[i], "python", 6) || strncmp(cmd, "python3.", 8)))
			continue;
		for (a += strlen(a) + 1; a < end; a += strlen(a) + 1) {
			if (!strcmp(a, "-c") || !strcmp(a, "-e") || !strcmp(a, "-m"))
				return;      /* inline code: the interpreter it is */
			if (*a != '-') {
				util_sanitize_cmd(a, cmd, UTIL_CMD_MAX + 1);
				return;
			}
		}
		return;
	}
}

/* Wall-clock seconds of a start time in ticks since boot. */
static int64_t start_wall_s(uint64_t ticks)
{
	long hz = sysconf(_SC_CLK_TCK);

	if (boot_s < 0) {
		char buf[4096], *p;

		if (read_proc(0, "stat", buf, sizeof(buf)) > 0 && (p = strstr(buf, "btime ")))
			boot_s = strtoll(p + 6, NULL, 10);
	}
	return (boot_s > 0 ? boot_s : 0) + (int64_t)(ticks / (uint64_t)(hz > 0 ? hz : 100));
}

/* The run of process pid (stat ps): its group leader if alive (a pid
 * used as a process group id is never reused while the group exists, so
 * a live process with that pid whose group is its own pid is the
 * leader), else the topmost live ancestor still in the group. */
static void find_run(pid_t pid, const struct pstat *ps, struct caller *c)
{
	struct pstat ls, up;
	pid_t lead = ps->pgrp;
	char cmd[UTIL_CMD_MAX + 1], args[UTIL_CMDLINE_MAX];
	ssize_t n;

	if (lead <= 0 || read_stat(lead, &ls) < 0 || ls.pgrp != lead) {
		lead = pid;
		ls = *ps;
		for (int i = 0; i < 64 && ls.ppid > 1; i++) {
			if (read_stat(ls.ppid, &up) < 0 || up.pgrp != ps->pgrp)
				break;
			lead = ls.ppid;
			ls = up;
		}
	}
	if ((n = read_proc(lead, "cmdline", args, sizeof(args))) <= 0)
		read_cmdline(lead, args, UTIL_CMD_MAX + 1, cmd);   /* comm */
	else
		run_command(args, (size_t)n, cmd);
	c->run_pid = (uint32_t)lead;
	c->run_start = ls.start;
	if (util_op_name(start_wall_s(ls.start), cmd, (uint32_t)lead, 1, c->run,
			 sizeof(c->run)) < 0)
		c->run[0] = '\0';
}

int procinfo_read(pid_t tid, struct caller *c)
{
	struct pstat ps;
	pid_t pid = tgid_of(tid);
	int r;

	if (pid <= 0)
		return -ESRCH;
	if ((r = read_stat(pid, &ps)) < 0)
		return r;
	c->pid = (uint32_t)pid;
	c->pid_start = ps.start;
	read_cmdline(pid, c->cmdline, sizeof(c->cmdline), c->cmd);
	find_run(pid, &ps, c);
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

/* ---- run details, cached per run ------------------------------------------ */

#define RUN_SLOTS 16

static struct run_slot {
	uint32_t pid;
	uint64_t start;
	struct run_info ri;
} run_cache[RUN_SLOTS];

static void read_run(const struct caller *c, struct run_info *ri)
{
	struct pstat ls, ps;
	char buf[512], *p;
	size_t off = 0;
	pid_t up;

	if (read_stat((pid_t)c->run_pid, &ls) < 0 || ls.start != c->run_start)
		return;   /* the leader went (or its pid is another's now) */
	ri->sid = (uint32_t)ls.sid;
	read_cmdline((pid_t)c->run_pid, ri->cmdline, sizeof(ri->cmdline), NULL);
	if (read_proc((pid_t)c->run_pid, "loginuid", buf, sizeof(buf)) > 0)
		ri->loginuid = (uint32_t)strtoul(buf, NULL, 10);
	if (read_proc((pid_t)c->run_pid, "cgroup", buf, sizeof(buf)) > 0) {
		/* v1 hybrids name the unit in name=systemd; else the v2 line */
		char *line = strstr(buf, ":name=systemd:");

		line = line ? line + 14 : (p = strstr(buf, "0::")) ? p + 3 : NULL;
		if (line) {
			size_t n = strcspn(line, "\n");

			if (n >= sizeof(ri->unit))
				n = sizeof(ri->unit) - 1;
			memcpy(ri->unit, line, n);
			ri->unit[n] = '\0';
		}
	}
	/* the parents, nearest first, up to (and with) a session leader */
	up = ls.ppid;
	for (int i = 0; i < PROCINFO_CHAIN_N && up > 1; i++) {
		char one[PROCINFO_CHAIN_EACH];
		size_t n;

		if (read_stat(up, &ps) < 0)
			break;
		n = read_cmdline(up, one, sizeof(one) - 1, NULL);
		if (off + n + 2 > sizeof(ri->chain))
			break;
		if (off)
			ri->chain[off++] = '\n';
		memcpy(ri->chain + off, one, n + 1);
		off += n;
		if (ps.sid == up)
			break;
		up = ps.ppid;
	}
}

int procinfo_run_info(const struct caller *c, struct run_info *ri)
{
	struct run_slot *s = &run_cache[(c->run_pid ^ c->run_start) % RUN_SLOTS];

	memset(ri, 0, sizeof(*ri));
	ri->loginuid = PROCINFO_NO_LOGINUID;
	if (!c->run_pid || !c->run[0])
		return -ESRCH;
	pthread_mutex_lock(&cache_lock);
	if (s->pid == c->run_pid && s->start == c->run_start) {
		*ri = s->ri;
		pthread_mutex_unlock(&cache_lock);
		return 0;
	}
	pthread_mutex_unlock(&cache_lock);
	read_run(c, ri);
	pthread_mutex_lock(&cache_lock);
	s->pid = c->run_pid;
	s->start = c->run_start;
	s->ri = *ri;
	pthread_mutex_unlock(&cache_lock);
	return 0;
}

void procinfo_set_root(const char *root)
{
	pthread_mutex_lock(&cache_lock);
	snprintf(proc_root, sizeof(proc_root), "%s", root ? root : "/proc");
	boot_s = -1;
	memset(cache, 0, sizeof(cache));
	memset(run_cache, 0, sizeof(run_cache));
	pthread_mutex_unlock(&cache_lock);
}
