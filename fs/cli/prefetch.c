/*
 * prefetch — warm the kernel's caches for the op directories a bulk undo
 * is about to read, several at a time.
 *
 * Planning an op (the dry run here, the execute in the daemon) reads its
 * op directory, the mirror directories in it (their entries, and the
 * xattr that says they are mirrors: on ext4 a block of its own) and the
 * inodes of what they hold: a few small reads, each waiting for the disk
 * when the caches are cold, one op after the other.  20,000 one-file ops
 * (a script that ran rm once per file) are 40,000 directories and 20,000
 * xattr blocks: ~9 s cold, one read at a time; with 16 readers in flight
 * the execute takes ~1.4 s (docs/performance.md).  A dry run plans such
 * ops from the index's hints and warms only the others.  These threads
 * walk the ops in the order the undo takes them, ahead of it, and only
 * read (openat, getdents, fstatat, fgetxattr: nothing written); what they
 * warm is shared with the daemon through the page cache.  Each
 * op is walked at most PREFETCH_ENTRIES entries deep: a large op costs
 * its own planning anyway, and the point is the many small ones.
 *
 * Threading: PREFETCH_THREADS workers share only the next-op counter and
 * the stop flag (atomics); the ops array must stay unchanged until
 * prefetch_stop returns.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "engine/trash.h"

#define PREFETCH_THREADS 16
#define PREFETCH_ENTRIES 64     /* entries read per op, at most */
#define PREFETCH_MIN_OPS 64     /* fewer ops: not worth the threads */
#define PREFETCH_PROBE 256      /* ops walked before judging the caches */
#define PREFETCH_SLOW_NS 40000  /* a walk this long waited for the disk */

struct prefetch {
	int backing_fd;
	const struct op_record *const *ops;
	size_t n;
	atomic_size_t next;
	atomic_size_t walked, slow;   /* ops walked, of which slow */
	atomic_bool stop;
	pthread_t t[PREFETCH_THREADS];
	int nthreads;
};

/* Read dirfd's entries and their inodes, subdirectories too, until
 * *budget entries were seen. */
static void walk(int dirfd, int *budget, unsigned depth)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while (*budget > 0 && (de = readdir(d))) {
		struct stat st;
		int sub;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		(*budget)--;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) ||
		    depth >= 16)
			continue;
		sub = openat(fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub >= 0) {
			/* the planner asks every subdirectory whether it is a
			 * mirror; the answer sits in an xattr block of its own */
			(void)fgetxattr(sub, TRASH_MIRROR_XATTR, NULL, 0);
			walk(sub, budget, depth + 1);
			close(sub);
		}
	}
	closedir(d);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int open_dir_nofollow(int dirfd, const char *name)
{
	return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* The trash directory of scope ("" = deleted whole sites), one component
 * at a time, never through a symlink.  A fd or -1. */
static int trash_dir(int backing_fd, const char *scope)
{
	int a = open_dir_nofollow(backing_fd, *scope ? scope : TRASH_STATE_DIR), b;

	if (a < 0)
		return -1;
	b = open_dir_nofollow(a, *scope ? TRASH_NAME : "trash");
	close(a);
	return b;
}

static void *worker(void *arg)
{
	struct prefetch *pf = arg;
	char scope[NAME_MAX + 2] = "/";   /* no scope is "/": none open yet */
	int tfd = -1;

	for (;;) {
		size_t i = atomic_fetch_add(&pf->next, 1);
		const struct op_record *r;
		int budget = PREFETCH_ENTRIES, fd;

		if (i >= pf->n || atomic_load(&pf->stop))
			break;
		r = pf->ops[i];
		if (strcmp(scope, r->scope)) {   /* a bulk undo takes a scope at a time */
			if (tfd >= 0)
				close(tfd);
			tfd = trash_dir(pf->backing_fd, r->scope);
			snprintf(scope, sizeof(scope), "%s", r->scope);
		}
		int64_t t0 = now_ns();
		if (tfd >= 0 && (fd = open_dir_nofollow(tfd, r->name)) >= 0) {
			walk(fd, &budget, 0);
			close(fd);
		}
		/* Warm caches (a dry run just before, a small tree): the walks
		 * only cost CPU the planning needs.  Give up when nearly all of
		 * the first PREFETCH_PROBE took no disk read. */
		bool was_slow = now_ns() - t0 > PREFETCH_SLOW_NS;

		atomic_fetch_add(&pf->slow, was_slow);
		if (atomic_fetch_add(&pf->walked, 1) + 1 == PREFETCH_PROBE &&
		    atomic_load(&pf->slow) < PREFETCH_PROBE / 8)
			atomic_store(&pf->stop, true);
	}
	if (tfd >= 0)
		close(tfd);
	return NULL;
}

struct prefetch *prefetch_start(int backing_fd, const struct op_record *const *ops, size_t n)
{
	struct prefetch *pf;

	if (n < PREFETCH_MIN_OPS || !(pf = calloc(1, sizeof(*pf))))
		return NULL;
	pf->backing_fd = backing_fd;
	pf->ops = ops;
	pf->n = n;
	atomic_init(&pf->next, 0);
	atomic_init(&pf->walked, 0);
	atomic_init(&pf->slow, 0);
	atomic_init(&pf->stop, false);
	while (pf->nthreads < PREFETCH_THREADS &&
	       pthread_create(&pf->t[pf->nthreads], NULL, worker, pf) == 0)
		pf->nthreads++;
	return pf;
}

void prefetch_stop(struct prefetch *pf)
{
	if (!pf)
		return;
	atomic_store(&pf->stop, true);
	while (pf->nthreads)
		pthread_join(pf->t[--pf->nthreads], NULL);
	free(pf);
}
