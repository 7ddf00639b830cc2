/*
 * test_ctl — the control socket: a real server on a socket in a mkdtemp
 * dir, real clients (one forked as an unprivileged user, several on
 * threads at once).  The server's threads run alongside the test's.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "ctl/channel.h"
#include "testutil.h"

struct fx {
	char tmp[32];
	char path[64];
	struct ctl_server *srv;
	int calls;
	struct ctl_peer peer;
};

/* echo: every word back as its own line; "fail ERRNO MSG"; "many N";
 * "sleep MS" */
static int handler(void *arg, const struct ctl_peer *peer, char **argv, int argc,
		   struct ctl_out *out, char *msg, size_t cap)
{
	struct fx *f = arg;

	if (!strcmp(argv[0], "sleep")) {   /* runs on several threads: touches nothing */
		usleep((useconds_t)atoi(argv[1]) * 1000);
		return 0;
	}
	f->calls++;
	f->peer = *peer;
	if (!strcmp(argv[0], "fail")) {
		if (argc > 2)
			snprintf(msg, cap, "%s", argv[2]);
		return -atoi(argv[1]);
	}
	if (!strcmp(argv[0], "many")) {
		char n[16];

		for (int i = 0; i < atoi(argv[1]); i++) {
			snprintf(n, sizeof(n), "%d", i);
			if (ctl_emitf(out, "line", n, NULL) < 0)
				return -EPIPE;
		}
		return 0;
	}
	for (int i = 0; i < argc; i++)
		if (ctl_emit(out, (const char *const *)&argv[i], 1) < 0)
			return -EPIPE;
	return 0;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->tmp, "/tmp/gracefs-ctl-XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	snprintf(f->path, sizeof(f->path), "%s/ctl.sock", f->tmp);
	assert_int_equal(ctl_server_start(&f->srv, f->path, handler, f), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	ctl_server_stop(f->srv);
	assert_int_equal(rm_tree(f->tmp), 0);
	free(f);
	return 0;
}

struct got {
	int n;
	char line[8][256];
	int stop_after;
};

static int collect(void *arg, const char *const *fields, int n)
{
	struct got *g = arg;

	if (g->n < 8) {
		g->line[g->n][0] = '\0';
		for (int i = 0; i < n; i++)
			snprintf(g->line[g->n] + strlen(g->line[g->n]),
				 sizeof(g->line[0]) - strlen(g->line[g->n]), "%s%s", i ? "|" : "",
				 fields[i]);
	}
	g->n++;
	return g->stop_after && g->n >= g->stop_after ? 99 : 0;
}

static void test_roundtrip(void **state)
{
	struct fx *f = *state;
	const char *argv[] = { "echo", "tab\there", "new\nline", "back\\slash", "", "ünï" };
	struct got g = {0};
	char err[64] = "x";
	struct stat st;

	assert_int_equal(ctl_call(f->path, argv, 6, collect, &g, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(g.n, 6);
	for (int i = 0; i < 6; i++)
		assert_string_equal(g.line[i], argv[i]);
	assert_int_equal(f->peer.uid, getuid());
	assert_int_equal(f->peer.pid, getpid());
	assert_int_equal(stat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	/* no callback: lines are read and dropped */
	assert_int_equal(ctl_call(f->path, argv, 2, NULL, NULL, NULL, 0), 0);
}

static void test_errors(void **state)
{
	struct fx *f = *state;
	const char *a1[] = { "fail", "2", "no such op www/x" };
	const char *a2[] = { "fail", "28" };
	const char *a3[] = { "fail", "1", "two\nlines" };
	char err[128];

	assert_int_equal(ctl_call(f->path, a1, 3, NULL, NULL, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "no such op www/x");
	assert_int_equal(ctl_call(f->path, a2, 2, NULL, NULL, err, sizeof(err)), -ENOSPC);
	assert_string_equal(err, strerror(ENOSPC));
	assert_int_equal(ctl_call(f->path, a3, 3, NULL, NULL, err, sizeof(err)), -EPERM);
	assert_string_equal(err, "two lines");
}

static void test_many_lines(void **state)
{
	struct fx *f = *state;
	const char *argv[] = { "many", "100000" };
	struct got g = {0};

	assert_int_equal(ctl_call(f->path, argv, 2, collect, &g, NULL, 0), 0);
	assert_int_equal(g.n, 100000);
	assert_string_equal(g.line[7], "line|7");
}

/* A callback that stops the call; the server carries on with the next. */
static void test_client_stops(void **state)
{
	struct fx *f = *state;
	const char *argv[] = { "many", "100000" }, *e[] = { "echo" };
	struct got g = { .stop_after = 3 };

	assert_int_equal(ctl_call(f->path, argv, 2, collect, &g, NULL, 0), 99);
	assert_int_equal(g.n, 3);
	g = (struct got){0};
	assert_int_equal(ctl_call(f->path, e, 1, collect, &g, NULL, 0), 0);
	assert_int_equal(g.n, 1);
}

static void test_bad_requests(void **state)
{
	struct fx *f = *state;
	const char *argv[CTL_ARGC_MAX + 1];
	char *big = malloc(CTL_LINE_MAX + 10), buf[256] = "";
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd, calls = f->calls;
	ssize_t n, got = 0;

	for (int i = 0; i <= CTL_ARGC_MAX; i++)
		argv[i] = "w";
	assert_int_equal(ctl_call(f->path, argv, CTL_ARGC_MAX + 1, NULL, NULL, NULL, 0), -EINVAL);
	assert_int_equal(ctl_call(f->path, argv, 0, NULL, NULL, NULL, 0), -EINVAL);
	assert_int_equal(ctl_call(f->path, argv, CTL_ARGC_MAX, NULL, NULL, NULL, 0), 0);
	assert_non_null(big);
	memset(big, 'x', CTL_LINE_MAX + 9);
	big[CTL_LINE_MAX + 9] = '\0';
	argv[0] = "echo";
	argv[1] = big;
	assert_int_equal(ctl_call(f->path, argv, 2, NULL, NULL, NULL, 0), -EINVAL);

	/* a raw client sending an endless line gets ERR E2BIG */
	strcpy(a.sun_path, f->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(write(fd, big, CTL_LINE_MAX + 9), CTL_LINE_MAX + 9);
	while ((n = read(fd, buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
		got += n;
	buf[got] = '\0';
	assert_int_equal(strncmp(buf, "ERR E2BIG ", 10), 0);
	close(fd);
	/* and one with a bad escape gets EINVAL */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(write(fd, "echo\\q\n", 7), 7);
	got = 0;
	while ((n = read(fd, buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
		got += n;
	buf[got] = '\0';
	assert_int_equal(strncmp(buf, "ERR EINVAL ", 11), 0);
	close(fd);
	assert_int_equal(f->calls, calls + 1);   /* only the valid request ran */
	free(big);
}

static void test_not_root(void **state)
{
	struct fx *f = *state;
	int status, calls = f->calls;
	pid_t pid;

	if (geteuid() != 0)
		skip();
	/* open the file modes up, so that only the SO_PEERCRED check is left */
	assert_int_equal(chmod(f->tmp, 0711), 0);
	assert_int_equal(chmod(f->path, 0666), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		const char *argv[] = { "echo", "x" };
		char err[128];

		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(10);
		int r = ctl_call(f->path, argv, 2, NULL, NULL, err, sizeof(err));

		if (r != -EPERM || !strstr(err, "root"))
			fprintf(stderr, "# child: %d %s\n", r, err);
		_exit(r == -EPERM && strstr(err, "root") ? 0 : 11);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(f->calls, calls);
}

static void test_no_server(void **state)
{
	struct fx *f = *state;
	const char *argv[] = { "echo" };
	char path[80], longp[200];
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct ctl_server *s2;
	int fd;

	snprintf(path, sizeof(path), "%s/none.sock", f->tmp);
	assert_int_equal(ctl_call(path, argv, 1, NULL, NULL, NULL, 0), -ECONNREFUSED);
	/* a stale socket file: refused, and a new server replaces it */
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	close(fd);
	assert_int_equal(ctl_call(path, argv, 1, NULL, NULL, NULL, 0), -ECONNREFUSED);
	assert_int_equal(ctl_server_start(&s2, path, handler, f), 0);
	assert_int_equal(ctl_call(path, argv, 1, NULL, NULL, NULL, 0), 0);
	ctl_server_stop(s2);
	assert_int_equal(access(path, F_OK), -1);   /* stop unlinks */
	/* a live server is not replaced; a non-socket is not removed */
	assert_int_equal(ctl_server_start(&s2, f->path, handler, f), -EADDRINUSE);
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	close(fd);
	assert_int_equal(ctl_server_start(&s2, path, handler, f), -EEXIST);
	memset(longp, 'p', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(ctl_server_start(&s2, longp, handler, f), -ENAMETOOLONG);
	assert_int_equal(ctl_call(longp, argv, 1, NULL, NULL, NULL, 0), -ENAMETOOLONG);
}

static void *sleeper(void *arg)
{
	const char *argv[] = { "sleep", "400" };

	return (void *)(intptr_t)ctl_call(arg, argv, 2, NULL, NULL, NULL, 0);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Connections are served side by side, up to CTL_CONN_MAX; more get EBUSY. */
static void test_concurrent(void **state)
{
	struct fx *f = *state;
	const char *argv[] = { "echo" };
	pthread_t t[CTL_CONN_MAX];
	int64_t t0 = now_ms();
	char err[128];
	void *ret;

	for (int i = 0; i < CTL_CONN_MAX; i++)
		assert_int_equal(pthread_create(&t[i], NULL, sleeper, f->path), 0);
	usleep(150000);
	assert_int_equal(ctl_call(f->path, argv, 1, NULL, NULL, err, sizeof(err)), -EBUSY);
	assert_string_equal(err, CTL_BUSY_MSG);
	for (int i = 0; i < CTL_CONN_MAX; i++) {
		pthread_join(t[i], &ret);
		assert_int_equal((intptr_t)ret, 0);
	}
	assert_true(now_ms() - t0 < 2 * 400);   /* not one after another */
	assert_int_equal(ctl_call(f->path, argv, 1, NULL, NULL, NULL, 0), 0);
}

/* A slot is free as soon as its request is answered: with all but one
 * taken, one client calling back to back is never refused (the thread of
 * its previous call may not have exited yet). */
static void test_back_to_back(void **state)
{
	struct fx *f = *state;
	const char *argv[] = { "echo" };
	pthread_t t[CTL_CONN_MAX - 1];
	char err[128];
	void *ret;

	for (int i = 0; i < CTL_CONN_MAX - 1; i++)
		assert_int_equal(pthread_create(&t[i], NULL, sleeper, f->path), 0);
	usleep(100000);
	for (int i = 0; i < 300; i++) {
		int r = ctl_call(f->path, argv, 1, NULL, NULL, err, sizeof(err));

		if (r)
			fail_msg("call %d: %d (%s)", i, r, err);
	}
	for (int i = 0; i < CTL_CONN_MAX - 1; i++) {
		pthread_join(t[i], &ret);
		assert_int_equal((intptr_t)ret, 0);
	}
}

static void test_callback_out(void **state)
{
	struct ctl_out o;
	struct got g = {0};

	(void)state;
	ctl_out_callback(&o, collect, &g);
	assert_int_equal(ctl_emitf(&o, "a", "b\tc", NULL), 0);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.line[0], "a|b\tc");
}

static void test_errno_names(void **state)
{
	(void)state;
	assert_string_equal(ctl_errno_name(-ENOENT), "ENOENT");
	assert_string_equal(ctl_errno_name(ENOTCONN), "ENOTCONN");
	assert_string_equal(ctl_errno_name(99999), "EIO");
	assert_int_equal(ctl_errno_value("EPERM"), EPERM);
	assert_int_equal(ctl_errno_value("E2BIG"), E2BIG);
	assert_int_equal(ctl_errno_value("EBOGUS"), EIO);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_roundtrip),
		T(test_errors),
		T(test_many_lines),
		T(test_client_stops),
		T(test_bad_requests),
		T(test_not_root),
		T(test_concurrent),
		T(test_back_to_back),
		T(test_no_server),
		cmocka_unit_test(test_callback_out),
		cmocka_unit_test(test_errno_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
