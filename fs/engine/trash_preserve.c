/*
 * trash_preserve.c — the trash engine's side of overwrite protection: the
 * preserved content of a file about to be truncated becomes an item of the
 * caller's operation, at the file's site-relative path, exactly like a
 * deleted file.  The content itself is made by overwrite.c (clone or copy)
 * into an unnamed O_TMPFILE before the engine's lock is taken; here it only
 * gets its metadata and its name.  Part of the trash engine (trash.h for the
 * contract, trash_int.h for the shared state).
 *
 * Threading: every function takes t->lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "lib/sys.h"
#include "engine/trash_int.h"

#define BORN_MAX 4096      /* files remembered per op as created in it */
#define PREBORN_MAX 4096   /* files remembered as created by a process with no op */

/* The open op of who in scope, if it is still collecting (never creates). */
static struct op *open_op_of(struct trash *t, const struct caller *who, const char *scope)
{

	for (struct op *op = t->ops; op; op = op->next)
		if (!strcmp(op->rec.scope, scope) && trash_same_process(&op->rec, who))
			return trash_op_idle(t, op) ? NULL : op;
	return NULL;
}

static bool born_in(const struct op *op, dev_t dev, ino_t ino)
{
	for (unsigned i = 0; i < op->nborn; i++)
		if (op->born[i].ino == ino && op->born[i].dev == dev)
			return true;
	return false;
}

/* Did who create (dev, ino) while it had no op collecting?  (A process's
 * own new file: rewriting it destroys nothing that predates the process.) */
static bool preborn_of(const struct trash *t, const struct caller *who, dev_t dev, ino_t ino)
{
	unsigned n = t->npreborn < PREBORN_MAX ? t->npreborn : PREBORN_MAX;

	if (!who->pid)
		return false;   /* an invisible process: nobody to tell apart */
	for (unsigned i = 0; i < n && t->preborn; i++) {
		const struct preborn *b = &t->preborn[i];

		if (b->ino == ino && b->dev == dev && b->pid == who->pid &&
		    b->pid_start == who->pid_start && b->uid == who->uid)
			return true;
	}
	return false;
}

/* Does op hold loc's path already?  (Its mirror parents are made on the way:
 * the caller is about to need them.) */
static int op_holds(struct trash *t, struct op *op, const struct trash_loc *loc)
{
	struct stat st;
	int tfd = trash_op_mirror(t, op, loc->site, loc->rel);

	if (tfd < 0)
		return tfd;
	if (fstatat(tfd, loc->name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	return errno == ENOENT ? 0 : -errno;
}

int trash_preserve_held(struct trash *t, const struct caller *who,
			const struct trash_loc *loc, const struct stat *st,
			char *opname, size_t cap)
{
	struct op *op;
	int r = 0;

	trash_lock(t);
	if (preborn_of(t, who, st->st_dev, st->st_ino)) {
		r = 1;   /* the caller's own file: no op needed, none named */
		if (cap)
			opname[0] = '\0';
	} else if ((op = open_op_of(t, who, loc->site))) {
		if (born_in(op, st->st_dev, st->st_ino))
			r = 1;
		else if ((r = op_holds(t, op, loc)) == -EEXIST)
			r = 0;   /* a non-directory where a parent belongs: commit starts a new op */
		if (r > 0)
			snprintf(opname, cap, "%s", op->rec.name);
	}
	trash_unlock(t);
	return r;
}

bool trash_preserve_current(struct trash *t, const struct caller *who, const char *scope,
			    const char *opname)
{
	struct op *op;
	bool r;

	trash_lock(t);
	r = (op = open_op_of(t, who, scope)) && !strcmp(op->rec.name, opname);
	trash_unlock(t);
	return r;
}

void trash_note_created(struct trash *t, const struct caller *who, const char *scope,
			dev_t dev, ino_t ino)
{
	struct op *op;

	trash_lock(t);
	if (!(op = open_op_of(t, who, scope)) && who->pid) {
		if (!t->preborn && !(t->preborn = calloc(PREBORN_MAX, sizeof(*t->preborn))))
			goto out;   /* not remembered: a later overwrite preserves */
		t->preborn[t->npreborn++ % PREBORN_MAX] = (struct preborn){
			.dev = dev, .ino = ino, .uid = who->uid, .pid = who->pid,
			.pid_start = who->pid_start };
		if (t->npreborn == 2 * PREBORN_MAX)
			t->npreborn = PREBORN_MAX;   /* keeps "full" and the ring position */
	} else if (op && op->nborn < BORN_MAX) {
		if (op->nborn == op->capborn) {
			unsigned cap = op->capborn ? 2 * op->capborn : 16;
			void *v = realloc(op->born, cap * sizeof(*op->born));

			if (!v)
				goto out;   /* not remembered: a later truncation preserves */
			op->born = v;
			op->capborn = cap;
		}
		op->born[op->nborn].dev = dev;
		op->born[op->nborn++].ino = ino;
	}
out:
	trash_unlock(t);
}

/* Give tmpfd its name in op: metadata and marker first, then the link. */
static int link_into(struct trash *t, struct op *op, const struct trash_loc *loc,
		     int tmpfd, int srcfd, const struct stat *st)
{
	/* the times from before the copy read the file (atime) */
	struct timespec ts[2] = { st->st_atim, st->st_mtim };
	char proc[64];
	int tfd = trash_op_mirror(t, op, loc->site, loc->rel), r;

	if (tfd < 0)
		return tfd;
	if ((r = trash_copy_meta(srcfd, tmpfd)) < 0)
		return r;
	if (futimens(tmpfd, ts) < 0)
		return -errno;
	if (fsetxattr(tmpfd, TRASH_PRESERVED_XATTR, op->rec.name, strlen(op->rec.name), 0) < 0)
		return -errno;
	if (sys.linkat(tmpfd, "", tfd, loc->name, AT_EMPTY_PATH) == 0)
		return 0;
	if (errno != ENOENT && errno != EPERM)
		return -errno;
	/* without CAP_DAC_READ_SEARCH: the /proc link of the open file */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", tmpfd);
	return sys.linkat(AT_FDCWD, proc, tfd, loc->name, AT_SYMLINK_FOLLOW) < 0 ? -errno : 0;
}

/*
 * Steps: 1 (before the lock, overwrite.c) an unnamed O_TMPFILE in the
 * site's .trash gets the content; 2 its owner, mode, xattrs, times and the
 * preserved marker; 3 linkat to its site-relative path in the op; 4 the
 * op's counts, in memory.  A crash before 3 leaves nothing (an O_TMPFILE
 * has no name); after 3, a complete item in the op whose counts the
 * reconcile of an op left open recomputes.  The live file is truncated
 * only after this returned 0.
 */
int trash_preserve_commit(struct trash *t, const struct caller *who,
			  const struct trash_loc *loc, int tmpfd, int srcfd,
			  const struct stat *st, char *opname, size_t cap)
{
	struct op *op;
	int r = -EEXIST;

	trash_lock(t);
	for (int attempt = 0; attempt < 2 && r == -EEXIST; attempt++) {
		if ((r = trash_op_for(t, who, loc->site, attempt > 0, &op)) < 0)
			break;
		r = born_in(op, st->st_dev, st->st_ino) || preborn_of(t, who, st->st_dev, st->st_ino)
			? 1 : op_holds(t, op, loc);
		if (r == 0 && (r = link_into(t, op, loc, tmpfd, srcfd, st)) == 0) {
			/* no hint: its undo replaces the live file (walked) */
			trash_op_count(op, NULL, st);
			t->counters.preserved++;
		}
		if (r >= 0)
			snprintf(opname, cap, "%s", op->rec.name);
	}
	trash_unlock(t);
	return r;
}
