/*
 * test_privs — the capability drop and the per-thread fsuid switch.  Each
 * test runs in a forked child (capabilities never come back), and skips
 * unless run as root.
 */
#include <errno.h>
#include <linux/capability.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/privs.h"

static int prctl_bounded(int cap)
{
	return prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1;
}

/* Run fn in a child; its exit status is the number of failed checks. */
static void in_child(int (*fn)(void))
{
	pid_t pid;
	int st;

	if (geteuid() != 0)
		skip();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn());
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static int drop_child(void)
{
	int bad = 0;
	struct rlimit rl;

	bad += privs_drop() != 0;
	bad += privs_have(CAP_SYS_RESOURCE);
	bad += privs_have(CAP_SYS_PTRACE);
	bad += privs_have(CAP_NET_ADMIN);
	bad += !privs_have(CAP_DAC_OVERRIDE);
	bad += !privs_have(CAP_DAC_READ_SEARCH);
	bad += !privs_have(CAP_SYS_ADMIN);
	bad += !privs_have(CAP_CHOWN);
	/* gone from the bounding set too: never coming back */
	bad += prctl_bounded(CAP_SYS_RESOURCE);
	/* without CAP_SYS_RESOURCE the hard limit cannot rise */
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_max != RLIM_INFINITY) {
		rl.rlim_max++;
		bad += setrlimit(RLIMIT_NOFILE, &rl) == 0;
	}
	return bad;
}

static void test_drop(void **state)
{
	(void)state;
	in_child(drop_child);
}

static int fsuid_child(void)
{
	int bad = 0;
	uid_t prev;

	bad += privs_drop() != 0;
	bad += privs_fsuid_enter(0) != PRIVS_NO_SWITCH;   /* root: no switch */
	prev = privs_fsuid_enter(2002);
	bad += prev != 0;
	bad += (uid_t)setfsuid((uid_t)-1) != 2002;       /* reads the fsuid */
	bad += privs_have(CAP_DAC_OVERRIDE);              /* fs caps off meanwhile */
	privs_fsuid_leave(prev);
	bad += (uid_t)setfsuid((uid_t)-1) != 0;
	bad += !privs_have(CAP_DAC_OVERRIDE);             /* and back */
	bad += !privs_have(CAP_CHOWN);
	privs_fsuid_leave(PRIVS_NO_SWITCH);               /* no-op */
	bad += (uid_t)setfsuid((uid_t)-1) != 0;
	return bad;
}

static void test_fsuid(void **state)
{
	(void)state;
	in_child(fsuid_child);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_drop),
		cmocka_unit_test(test_fsuid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
