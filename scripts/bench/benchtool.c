/* benchtool: the tight loops behind scripts/bench.sh, so that timing measures
 * the filesystem and not fork/exec of one process per file.
 *
 * Every subcommand prints its result on stdout (one line), diagnostics go to
 * stderr, and the exit status is non-zero on any error.  Times are taken with
 * CLOCK_MONOTONIC and printed in seconds.
 *
 *   benchtool create DIR NDIRS NFILES SIZE   mkdir DIR, NDIRS subdirs of NFILES
 *                                           files of SIZE bytes each -> seconds
 *   benchtool stat DIR                      walk DIR, lstat every entry
 *                                           -> "seconds regular_files"
 *   benchtool write FILE MIB                write MIB MiB sequentially (1 MiB
 *                                           blocks), fsync, close -> "seconds bytes"
 *   benchtool read FILE                     read FILE sequentially (1 MiB
 *                                           blocks) -> "seconds bytes"
 *   benchtool time CMD [ARG...]             run CMD (its stdout goes to our
 *                                           stderr) -> seconds; fails if CMD fails
 *
 * Built by scripts/bench.sh with: gcc -O2 -o benchtool benchtool.c
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BLOCK (1024 * 1024)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *path)
{
	fprintf(stderr, "benchtool: %s %s: %s\n", what, path ? path : "",
		strerror(errno));
	exit(1);
}

static long parse_num(const char *s, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 0) {
		fprintf(stderr, "benchtool: bad %s: %s\n", what, s);
		exit(2);
	}
	return v;
}

/* Non-zero, non-repeating-per-block data, so nothing can shortcut it. */
static void fill(unsigned char *buf, size_t len, uint64_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (unsigned char)(x | 1);
	}
}

static int cmd_create(const char *dir, long ndirs, long nfiles, long size)
{
	unsigned char *buf = malloc(size ? size : 1);
	char path[4096];
	double t0;

	if (!buf)
		die("malloc", NULL);
	fill(buf, size, 42);
	t0 = now();
	if (mkdir(dir, 0755) < 0)
		die("mkdir", dir);
	for (long d = 0; d < ndirs; d++) {
		snprintf(path, sizeof(path), "%s/d%04ld", dir, d);
		if (mkdir(path, 0755) < 0)
			die("mkdir", path);
		for (long f = 0; f < nfiles; f++) {
			snprintf(path, sizeof(path), "%s/d%04ld/f%05ld", dir, d, f);
			int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

			if (fd < 0)
				die("create", path);
			if (size && write(fd, buf, size) != size)
				die("write", path);
			if (close(fd) < 0)
				die("close", path);
		}
	}
	printf("%.6f\n", now() - t0);
	free(buf);
	return 0;
}

/* Depth-first walk with fstatat() on every entry, like find(1) does. */
static long walk(int dfd, const char *path)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	long files = 0;

	if (!d)
		die("fdopendir", path);
	while ((errno = 0, de = readdir(d))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			die("lstat", de->d_name);
		if (S_ISREG(st.st_mode)) {
			files++;
		} else if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub < 0)
				die("open", de->d_name);
			files += walk(sub, de->d_name);
		}
	}
	if (errno)
		die("readdir", path);
	closedir(d);
	return files;
}

static int cmd_stat(const char *dir)
{
	double t0 = now();
	struct stat st;
	int fd;
	long files;

	if (lstat(dir, &st) < 0)
		die("lstat", dir);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		die("open", dir);
	files = walk(fd, dir);
	printf("%.6f %ld\n", now() - t0, files);
	return 0;
}

static int cmd_write(const char *file, long mib)
{
	unsigned char *buf = malloc(BLOCK);
	double t0;
	int fd;

	if (!buf)
		die("malloc", NULL);
	fill(buf, BLOCK, 7);
	t0 = now();
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die("create", file);
	for (long i = 0; i < mib; i++) {
		size_t done = 0;

		buf[0] = (unsigned char)i;	/* every block differs */
		while (done < BLOCK) {
			ssize_t n = write(fd, buf + done, BLOCK - done);

			if (n < 0) {
				if (errno == EINTR)
					continue;
				die("write", file);
			}
			done += n;
		}
	}
	if (fsync(fd) < 0)
		die("fsync", file);
	if (close(fd) < 0)
		die("close", file);
	printf("%.6f %lld\n", now() - t0, (long long)mib * BLOCK);
	free(buf);
	return 0;
}

static int cmd_read(const char *file)
{
	unsigned char *buf = malloc(BLOCK);
	long long total = 0;
	double t0;
	int fd;

	if (!buf)
		die("malloc", NULL);
	t0 = now();
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open", file);
	for (;;) {
		ssize_t n = read(fd, buf, BLOCK);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("read", file);
		}
		if (n == 0)
			break;
		total += n;
	}
	close(fd);
	printf("%.6f %lld\n", now() - t0, total);
	free(buf);
	return 0;
}

static int cmd_time(char **argv)
{
	double t0 = now();
	pid_t pid;
	int status;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork", NULL);
	if (pid == 0) {
		dup2(STDERR_FILENO, STDOUT_FILENO);
		execvp(argv[0], argv);
		fprintf(stderr, "benchtool: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid", NULL);
	double t = now() - t0;

	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "benchtool: %s failed (status %d)\n", argv[0], status);
		return 1;
	}
	printf("%.6f\n", t);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: benchtool create DIR NDIRS NFILES SIZE\n"
		"       benchtool stat DIR\n"
		"       benchtool write FILE MIB\n"
		"       benchtool read FILE\n"
		"       benchtool time CMD [ARG...]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc < 3)
		usage();
	if (!strcmp(argv[1], "create") && argc == 6)
		return cmd_create(argv[2], parse_num(argv[3], "NDIRS"),
				  parse_num(argv[4], "NFILES"),
				  parse_num(argv[5], "SIZE"));
	if (!strcmp(argv[1], "stat") && argc == 3)
		return cmd_stat(argv[2]);
	if (!strcmp(argv[1], "write") && argc == 4)
		return cmd_write(argv[2], parse_num(argv[3], "MIB"));
	if (!strcmp(argv[1], "read") && argc == 3)
		return cmd_read(argv[2]);
	if (!strcmp(argv[1], "time"))
		return cmd_time(argv + 2);
	usage();
	return 2;
}
