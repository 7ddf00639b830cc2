/*
 * test_procinfo — the caller's run, read from a fake /proc tree
 * (procinfo_set_root): the group leader, its stand-in when it is gone,
 * pid reuse, and the run's details.  Single-threaded cmocka tests.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/procinfo.h"
#include "lib/util.h"

#define BTIME 1796000000LL

static char root[64];

static void put(const char *rel, const char *data, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

/* A process: stat with ppid, pgrp, session and start ticks; cmdline
 * given with '|' for the NULs between arguments. */
static void proc(int pid, int ppid, int pgrp, int sid, unsigned long long start,
		 const char *argv)
{
	char rel[128], buf[1024];
	size_t n = strlen(argv) + 1;

	snprintf(rel, sizeof(rel), "%s/%d", root, pid);
	mkdir(rel, 0700);
	snprintf(rel, sizeof(rel), "%d/status", pid);
	snprintf(buf, sizeof(buf), "Name:\tx\nUmask:\t0022\nState:\tS\nTgid:\t%d\n", pid);
	put(rel, buf, strlen(buf));
	snprintf(rel, sizeof(rel), "%d/stat", pid);
	snprintf(buf, sizeof(buf), "%d (odd) name) S %d %d %d 0 -1 4194560 1 0 0 0 0 0 0 0 "
		 "20 0 1 0 %llu 1000 100\n", pid, ppid, pgrp, sid, start);
	put(rel, buf, strlen(buf));
	snprintf(rel, sizeof(rel), "%d/cmdline", pid);
	memcpy(buf, argv, n);
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '|')
			buf[i] = '\0';
	put(rel, buf, n);
	snprintf(rel, sizeof(rel), "%d/loginuid", pid);
	put(rel, "1001", 4);
	snprintf(rel, sizeof(rel), "%d/cgroup", pid);
	put(rel, "0::/user.slice/user-1001.slice/session-7.scope\n", 47);
}

static void gone(int pid)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s/%d", root, pid);
	assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/test_procinfo.XXXXXX");
	assert_non_null(mkdtemp(root));
	put("stat", "cpu 1 2 3\nbtime 1796000000\nprocesses 9\n", 39);
	/* sshd session (50) -> sudo (60) -> cleanup.sh leader (100) ->
	 * subshell (150) -> rm (200) */
	proc(50, 1, 50, 50, 100, "sshd: alice@pts/0");
	proc(60, 50, 60, 50, 200, "sudo|./cleanup.sh|acme");
	proc(100, 60, 100, 50, 5000, "/bin/sh|./cleanup.sh|acme");
	proc(150, 100, 100, 50, 6000, "/bin/sh|./cleanup.sh|acme");
	proc(200, 150, 100, 50, 7000, "rm|-rf|/srv/sites/acme/x");
	procinfo_set_root(root);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	procinfo_set_root(NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	return system(cmd);
}

static void expect_run(const char *want_cmd, int pid, unsigned long long start)
{
	struct caller c;
	char want[UTIL_RUN_MAX];
	long hz = sysconf(_SC_CLK_TCK);

	memset(&c, 0, sizeof(c));
	assert_int_equal(procinfo_read(200, &c), 0);
	assert_int_equal(c.pid, 200);
	assert_int_equal(c.pid_start, 7000);
	assert_string_equal(c.cmd, "rm");
	assert_string_equal(c.cmdline, "rm -rf /srv/sites/acme/x");
	assert_int_equal(c.run_pid, pid);
	assert_int_equal(c.run_start, start);
	assert_int_equal(util_op_name(BTIME + (int64_t)(start / (unsigned long long)hz),
				      want_cmd, (uint32_t)pid, 1, want, sizeof(want)), 0);
	assert_string_equal(c.run, want);
}

static void test_leader(void **state)
{
	struct caller c;
	struct run_info ri;

	(void)state;
	expect_run("cleanup.sh", 100, 5000);
	assert_int_equal(procinfo_read(200, &c), 0);
	assert_int_equal(procinfo_run_info(&c, &ri), 0);
	assert_int_equal(ri.sid, 50);
	assert_int_equal(ri.loginuid, 1001);
	assert_string_equal(ri.cmdline, "/bin/sh ./cleanup.sh acme");
	assert_string_equal(ri.chain, "sudo ./cleanup.sh acme\nsshd: alice@pts/0");
	assert_string_equal(ri.unit, "/user.slice/user-1001.slice/session-7.scope");
}

/* The leader is gone: the topmost live ancestor in its group stands in. */
static void test_leader_gone(void **state)
{
	(void)state;
	gone(100);
	expect_run("cleanup.sh", 150, 6000);
	gone(150);                 /* no ancestor left in the group: itself */
	expect_run("rm", 200, 7000);
}

/* The leader's pid now belongs to a process of another group (pid reuse):
 * it never joins the old run, and a new leader with the same pid but
 * another start time is another run. */
static void test_pid_reuse(void **state)
{
	struct caller a, b;

	(void)state;
	assert_int_equal(procinfo_read(200, &a), 0);
	proc(100, 1, 777, 777, 5000 + 100 * sysconf(_SC_CLK_TCK), "/usr/bin/other");
	expect_run("cleanup.sh", 150, 6000);
	proc(100, 60, 100, 50, 5000 + 100 * sysconf(_SC_CLK_TCK), "/bin/sh|./cleanup.sh|acme");
	assert_int_equal(procinfo_read(200, &b), 0);
	assert_int_equal(b.run_pid, a.run_pid);
	assert_true(b.run_start != a.run_start);
	assert_string_not_equal(b.run, a.run);
}

/* A run is named by the script an interpreter runs, not the interpreter;
 * inline code keeps the interpreter's name. */
static void test_script_name(void **state)
{
	(void)state;
	proc(100, 60, 100, 50, 5000, "bash|-x|/opt/jobs/nightly-clean|--all");
	expect_run("nightly-clean", 100, 5000);
	proc(100, 60, 100, 50, 5000, "/bin/sh|-c|rm -rf x");
	expect_run("sh", 100, 5000);
	proc(100, 60, 100, 50, 5000, "/usr/bin/python3.11|-u|purge.py");
	expect_run("purge.py", 100, 5000);
	proc(100, 60, 100, 50, 5000, "/usr/local/bin/cleanup|sh");
	expect_run("cleanup", 100, 5000);
}

/* A cut command line never splits a UTF-8 sequence; the chain stops at
 * eight parents. */
static void test_limits(void **state)
{
	struct caller c;
	struct run_info ri;
	char argv[600];

	(void)state;
	memset(argv, 'a', sizeof(argv));
	for (int i = PROCINFO_RUN_CMD_MAX - 3; i < PROCINFO_RUN_CMD_MAX + 6; i += 2)
		memcpy(argv + i, "\xc3\xa9", 2);
	argv[sizeof(argv) - 1] = '\0';
	proc(100, 60, 100, 50, 5000, argv);
	proc(60, 1001, 60, 50, 200, "sudo");
	for (int p = 1001; p < 1012; p++)
		proc(p, p + 1, p, 50, 10, "bash");
	assert_int_equal(procinfo_read(200, &c), 0);
	assert_int_equal(procinfo_run_info(&c, &ri), 0);
	assert_true(strlen(ri.cmdline) < PROCINFO_RUN_CMD_MAX);
	assert_true(strlen(ri.cmdline) >= PROCINFO_RUN_CMD_MAX - 3);
	assert_int_not_equal((unsigned char)ri.cmdline[strlen(ri.cmdline) - 1], 0xc3);
	assert_string_equal(ri.chain, "sudo\nbash\nbash\nbash\nbash\nbash\nbash\nbash");
}

/* A command line reads back as a shell would take it: arguments with
 * spaces, quotes or other special bytes are quoted (issue 19: a purge row's
 * reason could not be pasted back); a one-argument title stays as it is. */
static void test_quoting(void **state)
{
	struct caller c;

	(void)state;
	proc(200, 150, 100, 50, 7000, "gracectl|purge|op:s1/x|--reason|bad data, 'quoted'|--json||$HOME");
	assert_int_equal(procinfo_read(200, &c), 0);
	assert_string_equal(c.cmdline, "gracectl purge op:s1/x --reason 'bad data, '\\''quoted'\\''' "
			    "--json '' '$HOME'");
	proc(200, 150, 100, 50, 7000, "postgres: checkpointer");
	assert_int_equal(procinfo_read(200, &c), 0);
	assert_string_equal(c.cmdline, "postgres: checkpointer");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_leader, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leader_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pid_reuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_script_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quoting, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
