/*
 * errnotool — perform one filesystem syscall and report its outcome.
 *
 *   errnotool OP ARGS...
 *
 * Prints exactly one line on stdout: "OK" (optionally followed by a
 * result, e.g. "OK mode=100644 nlink=1 size=5"), or the errno name of the
 * failure ("ENOENT", "EPERM", ...).  Exit status is 0 either way, so shell
 * tests can compare outputs; 2 means a usage error (message on stderr).
 *
 * Used by the mount tests to compare gracefs against a plain directory
 * (tests/mount/parity.sh) and to check errno-exact refusals (immutable.sh).
 * Names and values in results are escaped: every byte outside 0x21..0x7e,
 * and the backslash, is written as \xHH, so one result is always one line.
 *
 * Single-threaded, no state.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <linux/falloc.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static const char *prog = "errnotool";

static void put_escaped(const void *buf, size_t len)
{
	const unsigned char *p = buf;

	for (size_t i = 0; i < len; i++) {
		if (p[i] > 0x20 && p[i] < 0x7f && p[i] != '\\')
			putchar(p[i]);
		else
			printf("\\x%02x", p[i]);
	}
}

static const char *errno_name(int e)
{
	static char buf[32];
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
	const char *n = strerrorname_np(e);

	if (n)
		return n;
#endif
	snprintf(buf, sizeof(buf), "E#%d", e);
	return buf;
}

/* Report the result of the syscall: rc < 0 means "failed with errno e". */
static int report(int rc, int e)
{
	if (rc < 0)
		printf("%s\n", errno_name(e));
	else
		printf("OK\n");
	return 0;
}

static void usage_exit(const char *why)
{
	fprintf(stderr, "%s: usage error: %s\n", prog, why);
	fprintf(stderr,
		"usage: %s OP ARGS...\n"
		"  unlink PATH | rmdir PATH | mkdir PATH MODE\n"
		"  rename A B | rename_noreplace A B | rename_exchange A B\n"
		"  link A B | symlink TARGET PATH | readlink PATH\n"
		"  open PATH FLAGS [MODE]   FLAGS: r,w,rw,creat,excl,trunc,append,directory,nofollow,path\n"
		"  write PATH DATA | read PATH\n"
		"  truncate PATH LEN | chmod PATH MODE | chown PATH UID GID | lchown PATH UID GID\n"
		"  utimens PATH [ATIME MTIME] | lutimens PATH [ATIME MTIME]   (now|omit|SEC[.FRAC])\n"
		"  setxattr PATH NAME VALUE [create|replace] | getxattr PATH NAME\n"
		"  removexattr PATH NAME | listxattr PATH [PREFIX]\n"
		"  mknod PATH fifo|sock|chr|blk [MAJ MIN]\n"
		"  fallocate PATH plain|keep|punch|zero OFF LEN\n"
		"  stat PATH [FIELDS] | lstat PATH [FIELDS]\n"
		"     FIELDS: comma list of mode,nlink,size,uid,gid,ino,blocks,rdev,atime,mtime\n"
		"  ls PATH\n"
		"  fd PATH FLAGS STEP...   one open file, then each STEP through it or this\n"
		"     process; prints one word per STEP (OK, OK:nlink=N, or the errno):\n"
		"     nlink | write:DATA | ftruncate:LEN | fchmod:MODE | fchown:UID:GID |\n"
		"     futimens | fsetxattr:NAME:VALUE | unlink:PATH | chmod:PATH:MODE |\n"
		"     chown:PATH:UID (and gid) | truncate:PATH:LEN | utime:PATH (now) |\n"
		"     setxattr:PATH:NAME (value 1) |\n"
		"     open:PATH:FLAGS | hold:FILE (create FILE, wait <= 60 s until it is gone)\n"
		"  freeze_on_fd PID SUBSTR SECONDS   SIGSTOP PID while it holds an unlinked\n"
		"     file whose path contains SUBSTR open (OK; ETIMEDOUT)\n", prog);
	exit(2);
}

static void need(int argc, int n, const char *op)
{
	if (argc != n) {
		char m[80];

		snprintf(m, sizeof(m), "wrong number of arguments for %s", op);
		usage_exit(m);
	}
}

static long long parse_num(const char *s, int base, const char *what)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, base);
	if (errno || end == s || *end) {
		char m[80];

		snprintf(m, sizeof(m), "bad %s: %s", what, s);
		usage_exit(m);
	}
	return v;
}

static mode_t parse_mode(const char *s)
{
	return (mode_t)parse_num(s, 8, "mode");
}

static int parse_open_flags(const char *spec)
{
	static const struct { const char *name; int flag; } tab[] = {
		{ "r", O_RDONLY }, { "w", O_WRONLY }, { "rw", O_RDWR },
		{ "creat", O_CREAT }, { "excl", O_EXCL }, { "trunc", O_TRUNC },
		{ "append", O_APPEND }, { "directory", O_DIRECTORY },
		{ "nofollow", O_NOFOLLOW }, { "path", O_PATH },
	};
	char buf[256], *tok, *save = NULL;
	int flags = O_CLOEXEC;

	if (strlen(spec) >= sizeof(buf))
		usage_exit("open flags too long");
	strcpy(buf, spec);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		size_t i;

		for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
			if (!strcmp(tok, tab[i].name))
				break;
		if (i == sizeof(tab) / sizeof(tab[0]))
			usage_exit("unknown open flag");
		flags |= tab[i].flag;
	}
	return flags;
}

/* now | omit | SEC[.FRAC] (FRAC: up to 9 digits) */
static struct timespec parse_time(const char *s)
{
	struct timespec ts = { 0, 0 };
	const char *dot;
	char sec[32];

	if (!strcmp(s, "now")) {
		ts.tv_nsec = UTIME_NOW;
		return ts;
	}
	if (!strcmp(s, "omit")) {
		ts.tv_nsec = UTIME_OMIT;
		return ts;
	}
	dot = strchr(s, '.');
	if (!dot) {
		ts.tv_sec = (time_t)parse_num(s, 10, "time");
		return ts;
	}
	if ((size_t)(dot - s) >= sizeof(sec) || strlen(dot + 1) > 9 || !dot[1])
		usage_exit("bad time");
	memcpy(sec, s, (size_t)(dot - s));
	sec[dot - s] = '\0';
	ts.tv_sec = (time_t)parse_num(sec, 10, "time");
	ts.tv_nsec = (long)parse_num(dot + 1, 10, "time fraction");
	for (size_t n = strlen(dot + 1); n < 9; n++)
		ts.tv_nsec *= 10;
	return ts;
}

static const char *type_name(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG: return "reg";
	case S_IFDIR: return "dir";
	case S_IFLNK: return "lnk";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "sock";
	case S_IFCHR: return "chr";
	case S_IFBLK: return "blk";
	default: return "unknown";
	}
}

/*
 * Print selected fields of st.  Default (fields == NULL): mode, nlink and,
 * for everything but directories, size (directory sizes are a property of
 * the backing filesystem's directory format, not of the namespace).
 */
static void print_stat(const struct stat *st, const char *fields)
{
	char buf[256], *tok, *save = NULL;

	if (!fields) {
		printf("OK type=%s mode=%o nlink=%lu", type_name(st->st_mode),
		       (unsigned)st->st_mode, (unsigned long)st->st_nlink);
		if (!S_ISDIR(st->st_mode))
			printf(" size=%lld", (long long)st->st_size);
		putchar('\n');
		return;
	}
	if (strlen(fields) >= sizeof(buf))
		usage_exit("stat fields too long");
	strcpy(buf, fields);
	printf("OK");
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "mode"))
			printf(" mode=%o", (unsigned)st->st_mode);
		else if (!strcmp(tok, "type"))
			printf(" type=%s", type_name(st->st_mode));
		else if (!strcmp(tok, "nlink"))
			printf(" nlink=%lu", (unsigned long)st->st_nlink);
		else if (!strcmp(tok, "size"))
			printf(" size=%lld", (long long)st->st_size);
		else if (!strcmp(tok, "uid"))
			printf(" uid=%u", (unsigned)st->st_uid);
		else if (!strcmp(tok, "gid"))
			printf(" gid=%u", (unsigned)st->st_gid);
		else if (!strcmp(tok, "ino"))
			printf(" ino=%llu", (unsigned long long)st->st_ino);
		else if (!strcmp(tok, "blocks"))
			printf(" blocks=%lld", (long long)st->st_blocks);
		else if (!strcmp(tok, "rdev"))
			printf(" rdev=%u:%u", major(st->st_rdev), minor(st->st_rdev));
		else if (!strcmp(tok, "atime"))
			printf(" atime=%lld.%09ld", (long long)st->st_atim.tv_sec,
			       st->st_atim.tv_nsec);
		else if (!strcmp(tok, "mtime"))
			printf(" mtime=%lld.%09ld", (long long)st->st_mtim.tv_sec,
			       st->st_mtim.tv_nsec);
		else
			usage_exit("unknown stat field");
	}
	putchar('\n');
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int do_ls(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;

	if (!d)
		return report(-1, errno);
	errno = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			names = realloc(names, cap * sizeof(*names));
			if (!names) {
				perror(prog);
				exit(2);
			}
		}
		names[n] = strdup(de->d_name);
		if (!names[n++]) {
			perror(prog);
			exit(2);
		}
	}
	if (errno) {
		int e = errno;

		closedir(d);
		return report(-1, e);
	}
	closedir(d);
	if (n)   /* names is NULL for an empty directory */
		qsort(names, n, sizeof(*names), cmp_str);
	printf("OK");
	for (size_t i = 0; i < n; i++) {
		putchar(' ');
		put_escaped(names[i], strlen(names[i]));
		free(names[i]);
	}
	putchar('\n');
	free(names);
	return 0;
}

static int do_listxattr(const char *path, const char *prefix)
{
	char buf[65536], *names[4096];
	ssize_t len = listxattr(path, buf, sizeof(buf));
	size_t n = 0;

	if (len < 0)
		return report(-1, errno);
	for (char *p = buf; p < buf + len && n < 4096; p += strlen(p) + 1)
		if (!prefix || !strncmp(p, prefix, strlen(prefix)))
			names[n++] = p;
	if (n)   /* names is NULL for an empty directory */
		qsort(names, n, sizeof(*names), cmp_str);
	printf("OK");
	for (size_t i = 0; i < n; i++) {
		putchar(' ');
		put_escaped(names[i], strlen(names[i]));
	}
	putchar('\n');
	return 0;
}

static int do_read(const char *path)
{
	unsigned char buf[65536];
	uint64_t h = 0xcbf29ce484222325ULL;   /* FNV-1a 64 */
	long long total = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return report(-1, errno);
	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < r; i++) {
			h ^= buf[i];
			h *= 0x100000001b3ULL;
		}
		total += r;
	}
	if (r < 0) {
		int e = errno;

		close(fd);
		return report(-1, e);
	}
	close(fd);
	printf("OK len=%lld fnv=%016llx\n", total, (unsigned long long)h);
	return 0;
}

static int do_write(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	size_t len = strlen(data), off = 0;

	if (fd < 0)
		return report(-1, errno);
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0) {
			int e = errno;

			close(fd);
			return report(-1, e);
		}
		off += (size_t)w;
	}
	if (close(fd) < 0)
		return report(-1, errno);
	return report(0, 0);
}

static int do_fallocate(const char *path, const char *how, off_t off, off_t len)
{
	int mode, fd, rc, e;

	if (!strcmp(how, "plain"))
		mode = 0;
	else if (!strcmp(how, "keep"))
		mode = FALLOC_FL_KEEP_SIZE;
	else if (!strcmp(how, "punch"))
		mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	else if (!strcmp(how, "zero"))
		mode = FALLOC_FL_ZERO_RANGE;
	else
		usage_exit("fallocate mode must be plain|keep|punch|zero");
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return report(-1, errno);
	rc = fallocate(fd, mode, off, len);
	e = errno;
	close(fd);
	return report(rc, e);
}

/* "a:b" -> a; *rest = "b" (NULL when there is no colon). */
static char *split(char *s, char **rest)
{
	char *c = strchr(s, ':');

	*rest = c ? c + 1 : NULL;
	if (c)
		*c = '\0';
	return s;
}

/* One STEP of the fd op: its outcome as one word. */
static void fd_step(int fd, char *step)
{
	char *arg, *arg2 = NULL, *name = split(step, &arg);
	struct stat st;
	int rc = 0;

	if (arg && strcmp(name, "write") && (arg2 = strrchr(arg, ':')))
		*arg2++ = '\0';
	if (!strcmp(name, "nlink")) {
		if ((rc = fstat(fd, &st)) == 0) {
			printf("OK:nlink=%lu", (unsigned long)st.st_nlink);
			return;
		}
	} else if (!strcmp(name, "write") && arg) {
		rc = write(fd, arg, strlen(arg)) == (ssize_t)strlen(arg) ? 0 : -1;
	} else if (!strcmp(name, "ftruncate") && arg) {
		rc = ftruncate(fd, (off_t)parse_num(arg, 10, "length"));
	} else if (!strcmp(name, "fchmod") && arg) {
		rc = fchmod(fd, parse_mode(arg));
	} else if (!strcmp(name, "fchown") && arg2) {
		rc = fchown(fd, (uid_t)parse_num(arg, 10, "uid"), (gid_t)parse_num(arg2, 10, "gid"));
	} else if (!strcmp(name, "futimens")) {
		rc = futimens(fd, NULL);
	} else if (!strcmp(name, "fsetxattr") && arg2) {
		rc = fsetxattr(fd, arg, arg2, strlen(arg2), 0);
	} else if (!strcmp(name, "unlink") && arg) {
		rc = unlink(arg);
	} else if (!strcmp(name, "chmod") && arg2) {
		rc = chmod(arg, parse_mode(arg2));
	} else if (!strcmp(name, "chown") && arg2) {
		rc = chown(arg, (uid_t)parse_num(arg2, 10, "uid"), (gid_t)parse_num(arg2, 10, "gid"));
	} else if (!strcmp(name, "truncate") && arg2) {
		rc = truncate(arg, (off_t)parse_num(arg2, 10, "length"));
	} else if (!strcmp(name, "utime") && arg) {
		rc = utimensat(AT_FDCWD, arg, NULL, 0);
	} else if (!strcmp(name, "setxattr") && arg2) {
		rc = setxattr(arg, arg2, "1", 1, 0);
	} else if (!strcmp(name, "open") && arg2) {
		int nfd = open(arg, parse_open_flags(arg2), 0644);

		rc = nfd < 0 ? -1 : close(nfd);
	} else if (!strcmp(name, "hold") && arg) {
		int mfd = open(arg, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

		if (mfd < 0 || close(mfd) < 0)
			rc = -1;
		for (int i = 0; !rc && i < 6000 && access(arg, F_OK) == 0; i++)
			usleep(10000);
		if (!rc && access(arg, F_OK) == 0) {
			rc = -1;
			errno = ETIMEDOUT;
		}
	} else {
		usage_exit("unknown fd STEP");
	}
	printf("%s", rc < 0 ? errno_name(errno) : "OK");
}

static int do_fd(int argc, char **argv)
{
	int fd;

	if (argc < 3)
		usage_exit("fd PATH FLAGS STEP...");
	fd = open(argv[1], parse_open_flags(argv[2]), 0644);
	if (fd < 0)
		return report(-1, errno);
	printf("OK");
	for (int i = 3; i < argc; i++) {
		putchar(' ');
		fd_step(fd, argv[i]);
		fflush(stdout);
	}
	putchar('\n');
	close(fd);
	return 0;
}

/* Does process pid have an fd whose link target contains sub? */
static bool has_fd_like(const char *pid, const char *sub)
{
	char dir[64], path[64 + NAME_MAX + 2], target[PATH_MAX];
	struct dirent *de;
	bool found = false;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%s/fd", pid);
	if (!(d = opendir(dir)))
		return false;
	while (!found && (de = readdir(d))) {
		ssize_t n;

		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			found = strstr(target, sub) && strstr(target, " (deleted)");
		}
	}
	closedir(d);
	return found;
}

/* freeze_on_fd PID SUBSTR SECONDS: poll PID's open files (no sleep) until
 * one is unlinked ("… (deleted)") and its path contains SUBSTR, SIGSTOP
 * PID, and print OK if it is still so while PID is stopped (else SIGCONT
 * and poll on).  ETIMEDOUT after SECONDS.  For catching a daemon in the
 * middle of a step that holds an unnamed file open (the crash tests). */
static int do_freeze_on_fd(int argc, char **argv)
{
	struct timespec t0, t;
	pid_t pid;

	if (argc != 4)
		usage_exit("freeze_on_fd PID SUBSTR SECONDS");
	pid = (pid_t)atoi(argv[1]);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (has_fd_like(argv[1], argv[2])) {
			kill(pid, SIGSTOP);
			if (has_fd_like(argv[1], argv[2])) {
				printf("OK\n");
				return 0;
			}
			kill(pid, SIGCONT);
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec >= atoi(argv[3]))
			return report(-1, ETIMEDOUT);
	}
}

int main(int argc, char **argv)
{
	const char *op;
	struct stat st;
	int rc;

	if (argc < 2)
		usage_exit("missing OP");
	op = argv[1];
	argc -= 1;
	argv += 1;   /* argv[0] is now OP, argv[1] the first argument */

	if (!strcmp(op, "unlink")) {
		need(argc, 2, op);
		rc = unlink(argv[1]);
	} else if (!strcmp(op, "rmdir")) {
		need(argc, 2, op);
		rc = rmdir(argv[1]);
	} else if (!strcmp(op, "mkdir")) {
		need(argc, 3, op);
		rc = mkdir(argv[1], parse_mode(argv[2]));
	} else if (!strcmp(op, "rename")) {
		need(argc, 3, op);
		rc = rename(argv[1], argv[2]);
	} else if (!strcmp(op, "rename_noreplace")) {
		need(argc, 3, op);
		rc = renameat2(AT_FDCWD, argv[1], AT_FDCWD, argv[2], RENAME_NOREPLACE);
	} else if (!strcmp(op, "rename_exchange")) {
		need(argc, 3, op);
		rc = renameat2(AT_FDCWD, argv[1], AT_FDCWD, argv[2], RENAME_EXCHANGE);
	} else if (!strcmp(op, "link")) {
		need(argc, 3, op);
		rc = linkat(AT_FDCWD, argv[1], AT_FDCWD, argv[2], 0);
	} else if (!strcmp(op, "symlink")) {
		need(argc, 3, op);
		rc = symlink(argv[1], argv[2]);
	} else if (!strcmp(op, "readlink")) {
		char buf[PATH_MAX + 1];
		ssize_t n;

		need(argc, 2, op);
		n = readlink(argv[1], buf, sizeof(buf));
		if (n < 0)
			return report(-1, errno);
		printf("OK ");
		put_escaped(buf, (size_t)n);
		putchar('\n');
		return 0;
	} else if (!strcmp(op, "open")) {
		int flags, fd;

		if (argc != 3 && argc != 4)
			usage_exit("open PATH FLAGS [MODE]");
		flags = parse_open_flags(argv[2]);
		fd = open(argv[1], flags, argc == 4 ? parse_mode(argv[3]) : 0644);
		if (fd < 0)
			return report(-1, errno);
		rc = close(fd);
	} else if (!strcmp(op, "write")) {
		need(argc, 3, op);
		return do_write(argv[1], argv[2]);
	} else if (!strcmp(op, "read")) {
		need(argc, 2, op);
		return do_read(argv[1]);
	} else if (!strcmp(op, "truncate")) {
		need(argc, 3, op);
		rc = truncate(argv[1], (off_t)parse_num(argv[2], 10, "length"));
	} else if (!strcmp(op, "chmod")) {
		need(argc, 3, op);
		rc = chmod(argv[1], parse_mode(argv[2]));
	} else if (!strcmp(op, "chown") || !strcmp(op, "lchown")) {
		uid_t u;
		gid_t g;

		need(argc, 4, op);
		u = (uid_t)parse_num(argv[2], 10, "uid");
		g = (gid_t)parse_num(argv[3], 10, "gid");
		rc = op[0] == 'l' ? lchown(argv[1], u, g) : chown(argv[1], u, g);
	} else if (!strcmp(op, "utimens") || !strcmp(op, "lutimens")) {
		struct timespec ts[2];

		if (argc != 2 && argc != 4)
			usage_exit("utimens PATH [ATIME MTIME]");
		if (argc == 4) {
			ts[0] = parse_time(argv[2]);
			ts[1] = parse_time(argv[3]);
		}
		rc = utimensat(AT_FDCWD, argv[1], argc == 4 ? ts : NULL,
			       op[0] == 'l' ? AT_SYMLINK_NOFOLLOW : 0);
	} else if (!strcmp(op, "setxattr")) {
		int flags = 0;

		if (argc != 4 && argc != 5)
			usage_exit("setxattr PATH NAME VALUE [create|replace]");
		if (argc == 5) {
			if (!strcmp(argv[4], "create"))
				flags = XATTR_CREATE;
			else if (!strcmp(argv[4], "replace"))
				flags = XATTR_REPLACE;
			else
				usage_exit("setxattr flag must be create|replace");
		}
		rc = setxattr(argv[1], argv[2], argv[3], strlen(argv[3]), flags);
	} else if (!strcmp(op, "getxattr")) {
		char buf[65536];
		ssize_t n;

		need(argc, 3, op);
		n = getxattr(argv[1], argv[2], buf, sizeof(buf));
		if (n < 0)
			return report(-1, errno);
		printf("OK ");
		put_escaped(buf, (size_t)n);
		putchar('\n');
		return 0;
	} else if (!strcmp(op, "removexattr")) {
		need(argc, 3, op);
		rc = removexattr(argv[1], argv[2]);
	} else if (!strcmp(op, "listxattr")) {
		if (argc != 2 && argc != 3)
			usage_exit("listxattr PATH [PREFIX]");
		return do_listxattr(argv[1], argc == 3 ? argv[2] : NULL);
	} else if (!strcmp(op, "mknod")) {
		mode_t type;
		dev_t dev = 0;

		if (argc != 3 && argc != 5)
			usage_exit("mknod PATH fifo|sock|chr|blk [MAJ MIN]");
		if (!strcmp(argv[2], "fifo"))
			type = S_IFIFO;
		else if (!strcmp(argv[2], "sock"))
			type = S_IFSOCK;
		else if (!strcmp(argv[2], "chr"))
			type = S_IFCHR;
		else if (!strcmp(argv[2], "blk"))
			type = S_IFBLK;
		else
			usage_exit("mknod type must be fifo|sock|chr|blk");
		if (argc == 5)
			dev = makedev((unsigned)parse_num(argv[3], 10, "major"),
				      (unsigned)parse_num(argv[4], 10, "minor"));
		rc = mknod(argv[1], type | 0644, dev);
	} else if (!strcmp(op, "fallocate")) {
		need(argc, 5, op);
		return do_fallocate(argv[1], argv[2],
				    (off_t)parse_num(argv[3], 10, "offset"),
				    (off_t)parse_num(argv[4], 10, "length"));
	} else if (!strcmp(op, "stat") || !strcmp(op, "lstat")) {
		if (argc != 2 && argc != 3)
			usage_exit("stat PATH [FIELDS]");
		rc = op[0] == 'l' ? lstat(argv[1], &st) : stat(argv[1], &st);
		if (rc < 0)
			return report(-1, errno);
		print_stat(&st, argc == 3 ? argv[2] : NULL);
		return 0;
	} else if (!strcmp(op, "ls")) {
		need(argc, 2, op);
		return do_ls(argv[1]);
	} else if (!strcmp(op, "fd")) {
		return do_fd(argc, argv);
	} else if (!strcmp(op, "freeze_on_fd")) {
		return do_freeze_on_fd(argc, argv);
	} else {
		usage_exit("unknown OP");
		return 2;
	}
	return report(rc, errno);
}
