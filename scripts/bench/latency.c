/* latency: the timing helper behind scripts/bench_sweep.sh (sweeper benchmark).
 *
 * Every subcommand prints its result on stdout (one line), diagnostics go to
 * stderr, and the exit status is non-zero on any error.  All clocks are
 * CLOCK_MONOTONIC.  --release DIR first sets user.gracefs.hold=0 on DIR (a
 * site's .trash seen through the mount) and starts the clock right there, so
 * "time since release" has no fork/exec in it.
 *
 *   latency wait [--release DIR] GONE TIMEOUT
 *       poll (every 2 ms, lstat) until path GONE no longer exists
 *       -> seconds from the start (the release) until it was gone
 *
 *   latency stat [--release DIR] [--until-gone GONE] [--raw FILE]
 *                ROOT NDIRS NFILES SECS
 *       lstat() random files ROOT/dNNNN/fNNNNN (the layout of
 *       `benchtool create ROOT NDIRS NFILES`), one call at a time in a tight
 *       loop, timing each call; stops after SECS seconds, or (--until-gone)
 *       as soon as GONE no longer exists (checked every 5 ms), or on
 *       SIGINT/SIGTERM.  Any failing lstat is an error (live files must
 *       never go away).
 *       -> "samples p50_us p99_us p999_us max_us mean_us elapsed_s gone_s"
 *          (gone_s: seconds from the start until GONE was seen gone, -1 if
 *          it was not); --raw FILE also writes every sample (binary
 *          struct { int64 t_ns since start; uint32 latency_ns; pad }).
 *
 *   latency pct FILE FROM_S TO_S
 *       percentiles of the samples in FILE (from `stat --raw`) that started
 *       in [FROM_S, TO_S] seconds after the start
 *       -> "samples p50_us p99_us p999_us max_us mean_us"
 *
 * Built by scripts/bench_sweep.sh with: gcc -O2 -o latency latency.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

struct sample {
	int64_t t_ns;        /* start of the call, since the start of the run */
	uint32_t lat_ns;
	uint32_t pad;
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what, const char *path)
{
	fprintf(stderr, "latency: %s %s: %s\n", what, path ? path : "", strerror(errno));
	exit(1);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: latency wait [--release DIR] GONE TIMEOUT\n"
		"       latency stat [--release DIR] [--until-gone GONE] [--raw FILE] ROOT NDIRS NFILES SECS\n"
		"       latency pct FILE FROM_S TO_S\n");
	exit(2);
}

static double parse_double(const char *s, const char *what)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || end == s) {
		fprintf(stderr, "latency: bad %s: %s\n", what, s);
		exit(2);
	}
	return v;
}

static long parse_long(const char *s, const char *what)
{
	double v = parse_double(s, what);

	if (v < 1 || v != (long)v) {
		fprintf(stderr, "latency: bad %s: %s\n", what, s);
		exit(2);
	}
	return (long)v;
}

static void release_hold(const char *dir)
{
	if (dir && setxattr(dir, "user.gracefs.hold", "0", 1, 0) < 0)
		die("setxattr user.gracefs.hold=0", dir);
}

static int gone(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == 0)
		return 0;
	if (errno != ENOENT)
		die("lstat", path);
	return 1;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* nearest-rank percentile of sorted v[0..n) */
static double pct_us(const uint32_t *v, size_t n, double p)
{
	size_t k = (size_t)(p / 100.0 * (double)n + 0.999999);

	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1] / 1000.0;
}

/* prints "n p50 p99 p999 max mean" (no newline); sorts v */
static void print_stats(uint32_t *v, size_t n)
{
	double sum = 0;

	if (!n) {
		printf("0 nan nan nan nan nan");
		return;
	}
	qsort(v, n, sizeof(*v), cmp_u32);
	for (size_t i = 0; i < n; i++)
		sum += v[i];
	printf("%zu %.1f %.1f %.1f %.1f %.1f", n, pct_us(v, n, 50), pct_us(v, n, 99),
	       pct_us(v, n, 99.9), v[n - 1] / 1000.0, sum / (double)n / 1000.0);
}

static int cmd_wait(int argc, char **argv)
{
	const char *rel = NULL;
	int i = 0;

	if (i + 1 < argc && !strcmp(argv[i], "--release")) {
		rel = argv[i + 1];
		i += 2;
	}
	if (argc - i != 2)
		usage();
	const char *path = argv[i];
	double timeout = parse_double(argv[i + 1], "timeout");
	struct timespec nap = { 0, 2000000 };

	int64_t t0 = now_ns();
	release_hold(rel);
	while (!gone(path)) {
		if ((now_ns() - t0) / 1e9 > timeout) {
			fprintf(stderr, "latency: %s still there after %.0f s\n", path, timeout);
			return 1;
		}
		nanosleep(&nap, NULL);
	}
	printf("%.6f\n", (now_ns() - t0) / 1e9);
	return 0;
}

static int cmd_stat(int argc, char **argv)
{
	const char *rel = NULL, *until = NULL, *raw = NULL;
	int i = 0;

	while (i + 1 < argc && !strncmp(argv[i], "--", 2)) {
		if (!strcmp(argv[i], "--release"))
			rel = argv[i + 1];
		else if (!strcmp(argv[i], "--until-gone"))
			until = argv[i + 1];
		else if (!strcmp(argv[i], "--raw"))
			raw = argv[i + 1];
		else
			usage();
		i += 2;
	}
	if (argc - i != 4)
		usage();
	const char *root = argv[i];
	long ndirs = parse_long(argv[i + 1], "ndirs");
	long nfiles = parse_long(argv[i + 2], "nfiles");
	double secs = parse_double(argv[i + 3], "seconds");
	int64_t limit = (int64_t)(secs * 1e9);

	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	/* all paths up front: the loop does nothing but time lstat() */
	size_t npaths = (size_t)ndirs * (size_t)nfiles;
	char **paths = malloc(npaths * sizeof(*paths));

	if (!paths)
		die("malloc", NULL);
	for (long d = 0; d < ndirs; d++)
		for (long f = 0; f < nfiles; f++)
			if (asprintf(&paths[d * nfiles + f], "%s/d%04ld/f%05ld", root, d, f) < 0)
				die("asprintf", NULL);

	size_t n = 0, cap = 1 << 20;
	struct sample *s = malloc(cap * sizeof(*s));
	uint64_t x = 0x9E3779B97F4A7C15ULL;   /* xorshift64, fixed seed */
	int64_t t0, t, t1, next_check = 0, gone_ns = -1;
	struct stat st;

	if (!s)
		die("malloc", NULL);
	t0 = now_ns();
	release_hold(rel);
	for (t = now_ns(); !stop_flag && t - t0 < limit; t = t1) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		const char *p = paths[x % npaths];

		if (lstat(p, &st) < 0)
			die("lstat", p);
		t1 = now_ns();
		if (n == cap) {
			struct sample *ns = realloc(s, 2 * cap * sizeof(*s));

			if (!ns)
				die("realloc", NULL);
			s = ns;
			cap *= 2;
		}
		s[n].t_ns = t - t0;
		s[n].lat_ns = (uint32_t)(t1 - t > UINT32_MAX ? UINT32_MAX : t1 - t);
		s[n].pad = 0;
		n++;
		if (until && t1 >= next_check) {
			next_check = t1 + 5000000;
			if (gone(until)) {
				gone_ns = now_ns() - t0;
				break;
			}
		}
	}
	int64_t elapsed = now_ns() - t0;

	if (raw) {
		FILE *f = fopen(raw, "w");

		if (!f || fwrite(s, sizeof(*s), n, f) != n || fclose(f) != 0)
			die("write", raw);
	}
	uint32_t *v = malloc((n ? n : 1) * sizeof(*v));

	if (!v)
		die("malloc", NULL);
	for (size_t k = 0; k < n; k++)
		v[k] = s[k].lat_ns;
	print_stats(v, n);
	printf(" %.6f %.6f\n", elapsed / 1e9, gone_ns < 0 ? -1.0 : gone_ns / 1e9);
	if (until && gone_ns < 0 && !stop_flag) {
		fprintf(stderr, "latency: %s still there after %.0f s\n", until, secs);
		return 1;
	}
	return 0;
}

static int cmd_pct(int argc, char **argv)
{
	if (argc != 3)
		usage();
	const char *file = argv[0];
	double from = parse_double(argv[1], "from"), to = parse_double(argv[2], "to");
	FILE *f = fopen(file, "r");
	struct stat st;

	if (!f || fstat(fileno(f), &st) < 0)
		die("open", file);
	size_t total = (size_t)st.st_size / sizeof(struct sample), n = 0;
	struct sample *s = malloc((total ? total : 1) * sizeof(*s));
	uint32_t *v = malloc((total ? total : 1) * sizeof(*v));

	if (!s || !v)
		die("malloc", NULL);
	if (fread(s, sizeof(*s), total, f) != total)
		die("read", file);
	fclose(f);
	for (size_t k = 0; k < total; k++)
		if (s[k].t_ns >= (int64_t)(from * 1e9) && s[k].t_ns <= (int64_t)(to * 1e9))
			v[n++] = s[k].lat_ns;
	print_stats(v, n);
	printf("\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "wait"))
		return cmd_wait(argc - 2, argv + 2);
	if (!strcmp(argv[1], "stat"))
		return cmd_stat(argc - 2, argv + 2);
	if (!strcmp(argv[1], "pct"))
		return cmd_pct(argc - 2, argv + 2);
	usage();
	return 2;
}
