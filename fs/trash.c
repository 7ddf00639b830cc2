/*
 * trash — the soft-delete engine (see trash.h for the contract).
 *
 * Threading: one mutex, t->lock, guards the list of open operations, the
 * pending-restore list and every mutation this file makes in the backing
 * store.  It is never held while calling back into the FUSE layer except
 * for on_removed, which only queues work.
 *
 * Crash ordering.  Every multi-step mutation below lists its steps and what
 * a kill -9 between two of them leaves behind; trash_reconcile() (run at
 * every mount) repairs each of those states.  The backing store is the
 * truth; the index is written after the move succeeded and can always be
 * rebuilt from the op directories' xattrs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "sitepolicy.h"
#include "sys.h"
#include "trash.h"
#include "util.h"

#define NS 1000000000LL
#define TMP_PREFIX ".tmp-"
#define SYNC_EVERY_NS (2 * NS)

struct op {
	struct op *next;
	struct op_record rec;
	int dirfd;        /* the op directory (O_RDONLY|O_DIRECTORY) */
	bool dirty;       /* rec changed since last stored */
	/* mirror cache: trash twin of the last live parent directory */
	int cache_fd;
	size_t cache_len;
	char *cache_key;  /* components joined by '\0' */
};

struct pending {
	struct pending *next;
	char scope[NAME_MAX + 1];
	char name[NAME_MAX + 1];
};

struct trash {
	pthread_mutex_t lock;
	int backing_fd;     /* borrowed */
	int state_fd;       /* BACKING/.gracefs */
	int root_trash_fd;  /* BACKING/.gracefs/trash */
	dev_t dev;
	struct index *ix;   /* borrowed */
	struct trash_conf conf;
	struct op *ops;     /* open operations */
	struct pending *pending;
	int64_t last_sync_ns;
	struct trash_counters counters;
	/* ops being undone (the lock is let go between undo steps): never
	 * purged meanwhile */
	struct { char scope[NAME_MAX + 1], name[NAME_MAX + 1]; bool used; } undoing[8];
};

/* ---- relpath ---------------------------------------------------------- */

int relpath_push(struct relpath *p, const char *name)
{
	size_t len = strlen(name) + 1;

	if (p->n >= RELPATH_MAX_DEPTH || p->used + len > sizeof(p->buf))
		return -ENAMETOOLONG;
	memcpy(p->buf + p->used, name, len);
	p->comp[p->n++] = p->buf + p->used;
	p->used += len;
	return 0;
}

void relpath_reverse(struct relpath *p)
{
	for (unsigned i = 0; i < p->n / 2; i++) {
		const char *tmp = p->comp[i];

		p->comp[i] = p->comp[p->n - 1 - i];
		p->comp[p->n - 1 - i] = tmp;
	}
}

/* ---- small fd helpers ------------------------------------------------- */

static int open_dir(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

/* Open a subdirectory without crossing any mount point, bind mounts of
 * the same filesystem included (st_dev cannot tell those).  -EXDEV then. */
static int open_dir_here(int dirfd, const char *name)
{
	struct open_how how = {
		.flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
		.resolve = RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, dirfd, name, &how, sizeof(how));

	return fd < 0 ? -errno : fd;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* A directory stream over a duplicate of dirfd (dirfd stays usable),
 * from its start.  NULL with errno set on failure. */
static DIR *dir_stream(int dirfd)
{
	int fd = dup(dirfd);
	DIR *d;

	if (fd < 0)
		return NULL;
	if (!(d = fdopendir(fd))) {
		int e = errno;

		close(fd);
		errno = e;
		return NULL;
	}
	rewinddir(d);
	return d;
}

/* mkdirat + open; EEXIST is fine as long as it is a directory. */
static int mkdir_open(int dirfd, const char *name, mode_t mode, bool *created)
{
	int r = sys.mkdirat(dirfd, name, mode);

	if (created)
		*created = r == 0;
	if (r < 0 && errno != EEXIST)
		return -errno;
	return open_dir(dirfd, name);
}

int trash_site_trash_open(int site_fd)
{
	bool created;
	int fd = mkdir_open(site_fd, TRASH_NAME, 0755, &created);

	/* the calling thread carries some request's umask: set the mode */
	if (fd >= 0 && created && fchmod(fd, 0755) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* The trash directory of a scope: a site's .trash, or the root trash. */
static int scope_trash_open(struct trash *t, const char *scope, bool create)
{
	int sfd, fd;

	if (!*scope)
		return (fd = dup(t->root_trash_fd)) < 0 ? -errno : fd;
	sfd = open_dir(t->backing_fd, scope);
	if (sfd < 0)
		return sfd;
	fd = create ? trash_site_trash_open(sfd) : open_dir(sfd, TRASH_NAME);
	close(sfd);
	return fd;
}

/* Non-empty -> -ENOTEMPTY.  A site root may hold its .trash. */
static int dir_check_empty(int dirfd, const char *name, bool allow_trash)
{
	int fd = open_dir(dirfd, name), r = 0;
	DIR *d;
	struct dirent *de;

	if (fd < 0)
		return fd;
	if (!(d = fdopendir(fd))) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (allow_trash && !strcmp(de->d_name, TRASH_NAME))
			continue;
		r = -ENOTEMPTY;
		break;
	}
	closedir(d);
	return r;
}

/* Copy owner, mode, xattrs (ACLs included, our own excepted) and times. */
#define XATTR_BUF (64 * 1024)   /* XATTR_SIZE_MAX and XATTR_LIST_MAX */

static int copy_meta(int src, int dst)
{
	struct stat st;
	char *names = malloc(XATTR_BUF), *val = malloc(XATTR_BUF);
	ssize_t len;
	int r = 0;

	if (!names || !val) {
		r = -ENOMEM;
		goto out;
	}
	if (fstat(src, &st) < 0 || fchown(dst, st.st_uid, st.st_gid) < 0 ||
	    fchmod(dst, st.st_mode & 07777) < 0) {
		r = -errno;
		goto out;
	}
	len = flistxattr(src, names, XATTR_BUF);
	for (ssize_t off = 0; len > 0 && off < len && !r; off += (ssize_t)strlen(names + off) + 1) {
		const char *n = names + off;
		ssize_t vlen;

		if (!strncmp(n, "trusted.gracefs.", 16))
			continue;
		vlen = fgetxattr(src, n, val, XATTR_BUF);
		if (vlen >= 0 && fsetxattr(dst, n, val, (size_t)vlen, 0) < 0 && errno != ENOTSUP)
			r = -errno;
	}
	struct timespec ts[2] = { st.st_atim, st.st_mtim };
	if (!r && futimens(dst, ts) < 0)
		r = -errno;
out:
	free(names);
	free(val);
	return r;
}

/* ---- op records --------------------------------------------------------- */

/* Write an op's record to its directory (the truth) and to the index. */
static int op_store(struct trash *t, struct op *op)
{
	char buf[OPREC_ENC_MAX];
	int len = oprec_encode(&op->rec, buf, sizeof(buf));

	if (len < 0)
		return len;
	if (fsetxattr(op->dirfd, OPREC_XATTR, buf, (size_t)len, 0) < 0)
		return -errno;
	op->dirty = false;
	return index_put(t->ix, &op->rec);
}

static int rec_read_xattr(int dirfd, struct op_record *rec)
{
	char buf[OPREC_ENC_MAX];
	ssize_t len = fgetxattr(dirfd, OPREC_XATTR, buf, sizeof(buf));

	if (len < 0)
		return -errno;
	return oprec_decode(buf, (size_t)len, rec);
}

static void op_free(struct op *op)
{
	if (!op)
		return;
	close_fd(&op->dirfd);
	close_fd(&op->cache_fd);
	free(op->cache_key);
	free(op);
}

/* Unlink op from the open list, store its final record, free it. */
static int op_close(struct trash *t, struct op *op)
{
	int r;

	for (struct op **pp = &t->ops; *pp; pp = &(*pp)->next) {
		if (*pp == op) {
			*pp = op->next;
			break;
		}
	}
	op->rec.state = OP_CLOSED;
	r = op_store(t, op);
	if (t->conf.on_closed)
		t->conf.on_closed(t->conf.cb_arg, &op->rec);
	op_free(op);
	return r;
}

static bool same_process(const struct op_record *r, const struct caller *who)
{
	if (r->uid != who->uid)
		return false;
	if (!who->pid)   /* invisible process: group by uid alone */
		return r->pid == 0;
	return r->pid == who->pid && r->pid_start == who->pid_start;
}

/*
 * Create a new op directory for `who` in `scope`.
 * Steps: 1 mkdir .tmp-<name>; 2 chown + record xattr (state OPEN);
 *        3 rename to <name>; 4 index_put.
 * Crash after 1 or 2: a .tmp-* directory, removed by reconcile (it holds
 * nothing: items are only moved in after step 3).  After 3: the op exists
 * with its record; the missing index entry is adopted by reconcile.
 */
static int op_create(struct trash *t, const struct caller *who,
		     const char *scope, struct op **out)
{
	int64_t now = sys.wall_ns();
	struct op *op = calloc(1, sizeof(*op));
	char tmp[NAME_MAX + 8], buf[OPREC_ENC_MAX];
	int tfd, r = -EEXIST, len;

	if (!op)
		return -ENOMEM;
	op->dirfd = op->cache_fd = -1;
	snprintf(op->rec.scope, sizeof(op->rec.scope), "%s", scope);
	op->rec.uid = who->uid;
	op->rec.gid = who->gid;
	op->rec.pid = who->pid;
	op->rec.pid_start = who->pid_start;
	op->rec.first_ns = op->rec.last_ns = now;
	op->rec.retention_s = t->conf.retention_s;
	if (*scope) {   /* a site's own retention overrides the mount's */
		struct site_policy sp;

		if (sitepolicy_get(t->backing_fd, scope, &sp) == 0 && sp.retention_s > 0)
			op->rec.retention_s = sp.retention_s;
	}
	op->rec.state = OP_OPEN;
	snprintf(op->rec.cmdline, sizeof(op->rec.cmdline), "%s", who->cmdline);

	if ((tfd = scope_trash_open(t, scope, true)) < 0) {
		op_free(op);
		return tfd;
	}
	for (unsigned n = 1; n < 1000 && r == -EEXIST; n++) {
		if ((r = util_op_name(now / NS, who->cmd, who->pid, n, op->rec.name,
				      sizeof(op->rec.name))) < 0)
			break;
		snprintf(tmp, sizeof(tmp), TMP_PREFIX "%s", op->rec.name);
		if (sys.mkdirat(tfd, tmp, 0755) < 0) {
			r = -errno;
			continue;
		}
		op->dirfd = open_dir(tfd, tmp);
		len = oprec_encode(&op->rec, buf, sizeof(buf));
		r = op->dirfd < 0 ? op->dirfd : len < 0 ? len : 0;
		/* 1777: the kernel lets the deleter (owner) and each item's
		 * owner move items out; gracefs refuses everything else */
		if (!r && (fchown(op->dirfd, who->uid, who->gid) < 0 ||
			   fchmod(op->dirfd, 01777) < 0 ||
			   fsetxattr(op->dirfd, OPREC_XATTR, buf, (size_t)len, 0) < 0 ||
			   sys.renameat2(tfd, tmp, tfd, op->rec.name, RENAME_NOREPLACE) < 0))
			r = -errno;
		if (r) {
			close_fd(&op->dirfd);
			unlinkat(tfd, tmp, AT_REMOVEDIR);
		}
	}
	close(tfd);
	if (r) {
		op_free(op);
		return r;
	}
	op->dirty = index_put(t->ix, &op->rec) < 0;  /* retried by tick */
	t->counters.ops_created++;
	op->next = t->ops;
	t->ops = op;
	*out = op;
	return 0;
}

#define OPEN_OPS_MAX 128   /* each holds up to two fds until it closes */

/* The open op of `who` in `scope`, or a new one (always new if fresh:
 * the current one is closed first).  At most OPEN_OPS_MAX ops stay open:
 * `find -exec rm {} \;` starts a process per file, and each would
 * otherwise keep its fds for op_gap; the least recently used closes. */
static int op_get(struct trash *t, const struct caller *who, const char *scope,
		  bool fresh, struct op **out)
{
	int64_t now = sys.wall_ns();
	struct op *lru = NULL;
	unsigned n = 0;

	for (struct op *op = t->ops; op; op = op->next, n++)
		if (!lru || op->rec.last_ns < lru->rec.last_ns)
			lru = op;

	for (struct op *op = t->ops; op; op = op->next) {
		if (strcmp(op->rec.scope, scope) || !same_process(&op->rec, who))
			continue;
		if (!fresh && now - op->rec.last_ns < t->conf.op_gap_ns) {
			*out = op;
			return 0;
		}
		op_close(t, op);
		return op_create(t, who, scope, out);
	}
	if (n >= OPEN_OPS_MAX)
		op_close(t, lru);
	return op_create(t, who, scope, out);
}

/* ---- the mirror of live parents inside an op ----------------------------- */

static bool cache_matches(const struct op *op, const struct relpath *rel)
{
	size_t off = 0;

	if (op->cache_fd < 0)
		return false;
	for (unsigned i = 0; i < rel->n; i++) {
		size_t len = strlen(rel->comp[i]) + 1;

		if (off + len > op->cache_len || memcmp(op->cache_key + off, rel->comp[i], len))
			return false;
		off += len;
	}
	return off == op->cache_len;
}

static void cache_set(struct op *op, const struct relpath *rel, int fd)
{
	size_t len = 0;

	close_fd(&op->cache_fd);
	free(op->cache_key);
	op->cache_key = NULL;
	for (unsigned i = 0; i < rel->n; i++)
		len += strlen(rel->comp[i]) + 1;
	if (!(op->cache_key = malloc(len + 1))) {
		close(fd);
		return;
	}
	op->cache_len = 0;
	for (unsigned i = 0; i < rel->n; i++) {
		size_t l = strlen(rel->comp[i]) + 1;

		memcpy(op->cache_key + op->cache_len, rel->comp[i], l);
		op->cache_len += l;
	}
	op->cache_fd = fd;
}

/*
 * The directory inside op that mirrors site/rel, creating missing levels
 * with the live directories' owner, mode, xattrs and times.  Returns a fd
 * owned by the op cache (do not close), -EEXIST when a level exists as a
 * non-directory (the caller starts a fresh op), or -errno.
 * Crash: a half-built mirror is empty directories inside the op, harmless.
 */
static int op_mirror(struct trash *t, struct op *op, const char *site,
		     const struct relpath *rel)
{
	int live = -1, twin = -1, r = 0;

	if (!rel || !rel->n)
		return op->dirfd;
	if (cache_matches(op, rel))
		return op->cache_fd;
	if ((live = open_dir(t->backing_fd, site)) < 0)
		return live;
	if ((twin = dup(op->dirfd)) < 0) {
		r = -errno;
		goto out;
	}
	for (unsigned i = 0; i < rel->n && !r; i++) {
		int nlive = open_dir(live, rel->comp[i]), ntwin;
		bool created;

		if (nlive < 0) {
			r = nlive;
			break;
		}
		ntwin = mkdir_open(twin, rel->comp[i], 0700, &created);
		if (ntwin == -ENOTDIR || ntwin == -ELOOP)
			ntwin = -EEXIST;
		if (ntwin >= 0 && created) {
			/* a parent made to hold victims: not itself deleted, not counted */
			r = copy_meta(nlive, ntwin);
			if (!r && fsetxattr(ntwin, TRASH_MIRROR_XATTR, op->rec.name,
					    strlen(op->rec.name), 0) < 0)
				r = -errno;
		} else if (ntwin < 0) {
			r = ntwin;
		}
		close(live);
		close(twin);
		live = nlive;
		twin = ntwin;
	}
	if (!r) {
		cache_set(op, rel, twin);
		twin = -1;
		r = op->cache_fd >= 0 ? op->cache_fd : -ENOMEM;
	}
out:
	close_fd(&live);
	close_fd(&twin);
	return r;
}

enum move_how {
	MOVE_DELETE,  /* unlink/rmdir: a directory may merge into its mirror */
	MOVE_EXACT,   /* rename the victim itself; any existing name collides */
	MOVE_LINK,    /* hard-link a non-directory (rename-over keeps atomicity) */
};

/*
 * Move (or link) one entry into op.  -EEXIST means the name is taken inside
 * this op; the caller retries with a fresh op.
 * Steps for a directory whose mirror already exists (its children were
 * deleted first, as rm -r does): 1 copy its metadata onto the mirror;
 * 2 rmdir the now-empty live directory.  Crash between 1 and 2: the empty
 * live directory remains, its twin is in trash: nothing is lost.
 */
static int op_move(struct trash *t, struct op *op, const struct trash_loc *loc,
		   const struct stat *st, enum move_how how)
{
	const char *site = loc->site ? loc->site : "";
	int tfd = op_mirror(t, op, site, loc->rel), r;
	struct stat tst;

	if (tfd < 0)
		return tfd;
	if (how == MOVE_LINK) {
		r = sys.linkat(loc->dirfd, loc->name, tfd, loc->name, 0);
	} else if (S_ISDIR(st->st_mode) &&
		   fstatat(tfd, loc->name, &tst, AT_SYMLINK_NOFOLLOW) == 0) {
		if (how == MOVE_EXACT || !S_ISDIR(tst.st_mode))
			return -EEXIST;
		int src = open_dir(loc->dirfd, loc->name), dst = open_dir(tfd, loc->name);
		r = src < 0 ? src : dst < 0 ? dst : copy_meta(src, dst);
		if (r == 0)
			fremovexattr(dst, TRASH_MIRROR_XATTR);   /* deleted itself now */
		close_fd(&src);
		close_fd(&dst);
		if (r < 0)
			return r;
		r = unlinkat(loc->dirfd, loc->name, AT_REMOVEDIR);
	} else {
		r = sys.renameat2(loc->dirfd, loc->name, tfd, loc->name, RENAME_NOREPLACE);
		if (r == 0 && S_ISDIR(st->st_mode)) {
			/* a restored mirror dir deleted again is a real victim now */
			int v = open_dir(tfd, loc->name);

			if (v >= 0) {
				fremovexattr(v, TRASH_MIRROR_XATTR);
				close(v);
			}
		}
	}
	if (r < 0)
		return -errno;
	op->rec.items++;
	op->rec.bytes += (uint64_t)st->st_blocks * 512;
	op->rec.last_ns = sys.wall_ns();
	op->dirty = true;
	t->counters.deletions++;
	return 0;
}

/* op_get + op_move, with one retry in a fresh op on a name collision. */
static int move_to_trash(struct trash *t, const struct caller *who,
			 const struct trash_loc *loc, const struct stat *st,
			 enum move_how how, struct op **used)
{
	const char *scope = loc->site ? loc->site : "";
	int r = -EEXIST;

	for (int attempt = 0; attempt < 2 && r == -EEXIST; attempt++) {
		struct op *op;

		if ((r = op_get(t, who, scope, attempt > 0, &op)) < 0)
			return r;
		r = op_move(t, op, loc, st, how);
		if (used)
			*used = op;
	}
	return r;
}

/* ---- scopes: adopting and dropping the ops of a site ---------------------- */

struct key_list {
	size_t n, cap;
	struct op_record *v;
};

static int collect(const struct op_record *r, void *arg)
{
	struct key_list *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct op_record *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *r;
	return 0;
}

/* Close the open ops of scope and drop its index records (the site moved).
 * If into is given (the root op now holding the site), it takes over their
 * counts and their promises: it is held if any of them was, and it expires
 * no earlier than the last of them. */
static void scope_drop(struct trash *t, const char *scope, struct op_record *into)
{
	struct key_list l = {0};

	for (struct op *op = t->ops, *next; op; op = next) {
		next = op->next;
		if (!strcmp(op->rec.scope, scope))
			op_close(t, op);
	}
	index_foreach(t->ix, scope, collect, &l);
	for (size_t i = 0; i < l.n; i++) {
		const struct op_record *r = &l.v[i];

		index_del(t->ix, r->scope, r->name);
		if (!into)
			continue;
		into->items += r->items + 1;
		into->bytes += r->bytes;
		if (r->hold)
			into->hold = 1;
		int64_t need = oprec_expiry(r) - into->last_ns / NS;
		if (need > into->retention_s)
			into->retention_s = need;
	}
	free(l.v);
}

/* Move everything in op dir `oname` of the site at rfd/site back into the
 * site, then remove the op dir and the collapse marker on rfd.  Entries
 * that collide stay where they are (nothing is ever overwritten). */
static int collapse_finish(int rfd, const char *site, const char *oname)
{
	int sfd = open_dir(rfd, site), tfd = -1, ofd = -1, r = 0;
	DIR *d = NULL;
	struct dirent *de;

	if (sfd < 0 || (tfd = open_dir(sfd, TRASH_NAME)) < 0 ||
	    (ofd = open_dir(tfd, oname)) < 0) {
		r = -ENOENT;
		goto out;
	}
	if (!(d = fdopendir(ofd))) {
		r = -errno;
		goto out;
	}
	ofd = -1;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			sys.renameat2(dirfd(d), de->d_name, sfd, de->d_name, RENAME_NOREPLACE);
	}
	unlinkat(tfd, oname, AT_REMOVEDIR);
out:
	if (d)
		closedir(d);
	close_fd(&ofd);
	close_fd(&tfd);
	close_fd(&sfd);
	if (r == 0 || r == -ENOENT)
		fremovexattr(rfd, TRASH_COLLAPSE_XATTR);
	return r;
}

static int scope_scan(struct trash *t, const char *scope, struct trash_stats *st);
static void note_restore(struct trash *t, const char *scope, const char *name);

/*
 * rmdir of a site (`rm -rf MOUNT/site` ends here, after rm emptied it).
 * The caller's own op in the site holds everything rm just deleted; the
 * site goes to the root trash *with those items back in place*, so one mv
 * restores it whole.
 * Steps: 1 close the site's other open ops; 2 create root op R and write
 *        the collapse marker (name of the caller's op O) on R;
 *        3 rename site into R; 4 move O's entries back into R/site;
 *        5 rmdir O, remove the marker; 6 drop the site's index records.
 * Crash after 2: marker without R/site: reconcile removes the marker.
 * After 3 or 4: reconcile sees the marker and finishes 4-5.  After 5:
 * reconcile drops the records whose directories left with the site.
 */
static int delete_site(struct trash *t, const struct caller *who,
		       const struct trash_loc *loc, const struct stat *st)
{
	struct op *mine = NULL, *root;
	const char *site = loc->name;
	char marker[2 * NAME_MAX + 2];   /* "<site>/<op>": which collapse, exactly */
	int r, marker_len = 0;

	for (struct op *op = t->ops, *next; op; op = next) {
		next = op->next;
		if (strcmp(op->rec.scope, site))
			continue;
		if (same_process(&op->rec, who)) {
			mine = op;
			op_store(t, op);
		} else {
			op_close(t, op);
		}
	}
	if ((r = op_get(t, who, "", false, &root)) < 0)
		return r;
	if (mine && (marker_len = snprintf(marker, sizeof(marker), "%s/%s", site,
					   mine->rec.name)) > 0 &&
	    fsetxattr(root->dirfd, TRASH_COLLAPSE_XATTR, marker, (size_t)marker_len, 0) < 0)
		return -errno;
	r = op_move(t, root, loc, st, MOVE_EXACT);
	if (r == -EEXIST) {   /* a site of that name is in this op already */
		if (mine)
			fremovexattr(root->dirfd, TRASH_COLLAPSE_XATTR);
		if ((r = op_get(t, who, "", true, &root)) < 0)
			return r;
		if (mine && fsetxattr(root->dirfd, TRASH_COLLAPSE_XATTR, marker,
				      (size_t)marker_len, 0) < 0)
			return -errno;
		r = op_move(t, root, loc, st, MOVE_EXACT);
	}
	if (r < 0) {
		if (mine)
			fremovexattr(root->dirfd, TRASH_COLLAPSE_XATTR);
		return r;
	}
	/* the deleted site keeps its promises: its retention and its hold */
	struct site_policy sp;
	int rfd = open_dir(root->dirfd, site);
	if (rfd >= 0) {
		int tfd = open_dir(rfd, TRASH_NAME);
		if (tfd >= 0) {
			char v[32];
			ssize_t n = fgetxattr(tfd, SITEPOLICY_RETENTION_XATTR, v, sizeof(v) - 1);
			sp.retention_s = n > 0 ? (v[n] = '\0', strtoll(v, NULL, 10)) : 0;
			sp.hold = fgetxattr(tfd, SITEPOLICY_HOLD_XATTR, v, sizeof(v)) > 0 && v[0] == '1';
			if (sp.retention_s > root->rec.retention_s)
				root->rec.retention_s = sp.retention_s;
			if (sp.hold)
				root->rec.hold = 1;
			close(tfd);
		}
		close(rfd);
	}
	if (mine) {
		for (struct op **pp = &t->ops; *pp; pp = &(*pp)->next) {
			if (*pp == mine) {
				*pp = mine->next;
				break;
			}
		}
		collapse_finish(root->dirfd, site, mine->rec.name);
		root->rec.items += mine->rec.items;   /* its items are in the site again */
		root->rec.bytes += mine->rec.bytes;
		index_del(t->ix, site, mine->rec.name);
		op_free(mine);
	}
	scope_drop(t, site, &root->rec);
	/* stored now, not at the next tick: the holds and promises it took over
	 * must survive a crash right after this rmdir */
	if (op_store(t, root) < 0)
		root->dirty = true;
	return 0;
}

/* ---- public entry points ------------------------------------------------- */

int trash_delete(struct trash *t, const struct caller *who,
		 const struct trash_loc *loc, bool want_dir, const struct stat *given)
{
	struct stat st;
	int r;

	if (given)
		st = *given;   /* one lstat per unlink, not two */
	else if (fstatat(loc->dirfd, loc->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!!S_ISDIR(st.st_mode) != want_dir)
		return want_dir ? -ENOTDIR : -EISDIR;
	if (want_dir && (r = dir_check_empty(loc->dirfd, loc->name, !loc->site)) < 0)
		return r;
	pthread_mutex_lock(&t->lock);
	if (!loc->site)
		r = delete_site(t, who, loc, &st);
	else
		r = move_to_trash(t, who, loc, &st, MOVE_DELETE, NULL);
	pthread_mutex_unlock(&t->lock);
	return r;
}

/* After a rename at the mount root, sites changed names: re-key their ops. */
static void rename_rescope(struct trash *t, const struct trash_loc *src,
			   const struct trash_loc *dst, unsigned flags)
{
	if (!src->site)
		scope_drop(t, src->name, NULL);
	if (!dst->site && (flags & RENAME_EXCHANGE))
		scope_drop(t, dst->name, NULL);
	if (!dst->site)
		scope_scan(t, dst->name, NULL);
	if (!src->site && (flags & RENAME_EXCHANGE))
		scope_scan(t, src->name, NULL);
}

/*
 * rename over an existing dst.
 * Non-directory victim: 1 link dst into the trash; 2 rename src over dst
 * (atomic for readers).  Crash between: dst is both live and in trash
 * (one inode, two names): nothing lost.  If 2 fails, the trash link is
 * removed again (the live name still holds the data).
 * Directory victim (empty) or a link that cannot be made: 1 move dst into
 * trash; 2 rename src to dst.  Crash between: dst is in trash, src live:
 * nothing lost.  If 2 fails, dst is moved back.
 */
static int rename_over(struct trash *t, const struct caller *who,
		       const struct trash_loc *src, const struct trash_loc *dst,
		       const struct stat *dst_st)
{
	struct op *op = NULL;
	int r = -1;

	if (!S_ISDIR(dst_st->st_mode)) {
		r = move_to_trash(t, who, dst, dst_st, MOVE_LINK, &op);
		if (r == 0) {
			if (sys.renameat2(src->dirfd, src->name, dst->dirfd, dst->name, 0) == 0)
				return 0;
			r = -errno;
			unlinkat(op_mirror(t, op, dst->site ? dst->site : "", dst->rel),
				 dst->name, 0);
			op->rec.items--;
			op->rec.bytes -= (uint64_t)dst_st->st_blocks * 512;
			return r;
		}
	}
	if ((r = move_to_trash(t, who, dst, dst_st, MOVE_EXACT, &op)) < 0)
		return r;
	if (sys.renameat2(src->dirfd, src->name, dst->dirfd, dst->name, RENAME_NOREPLACE) == 0) {
		if (!dst->site)   /* a whole site replaced: its ops now live inside op */
			scope_drop(t, dst->name, &op->rec);
		return 0;
	}
	r = -errno;
	int tfd = op_mirror(t, op, dst->site ? dst->site : "", dst->rel);
	if (tfd >= 0)
		sys.renameat2(tfd, dst->name, dst->dirfd, dst->name, RENAME_NOREPLACE);
	op->rec.items--;
	op->rec.bytes -= (uint64_t)dst_st->st_blocks * 512;
	return r;
}

int trash_rename(struct trash *t, const struct caller *who,
		 const struct trash_loc *src, const struct trash_loc *dst,
		 unsigned flags)
{
	struct stat sst, dst_st;
	int r = -EAGAIN;

	pthread_mutex_lock(&t->lock);
	for (int tries = 0; tries < 3 && r == -EAGAIN; tries++) {
		if ((flags & RENAME_EXCHANGE) ||
		    fstatat(dst->dirfd, dst->name, &dst_st, AT_SYMLINK_NOFOLLOW) < 0) {
			/* nothing to replace (or a swap): plain rename, but
			 * never silently over a target that appeared meanwhile */
			unsigned f = flags & RENAME_EXCHANGE ? flags : flags | RENAME_NOREPLACE;
			r = sys.renameat2(src->dirfd, src->name, dst->dirfd, dst->name, f) < 0
				? -errno : 0;
			if (r == -EEXIST && !(flags & RENAME_NOREPLACE))
				r = -EAGAIN;
			continue;
		}
		if (flags & RENAME_NOREPLACE) {
			r = -EEXIST;
		} else if (fstatat(src->dirfd, src->name, &sst, AT_SYMLINK_NOFOLLOW) < 0) {
			r = -errno;
		} else if (sst.st_dev == dst_st.st_dev && sst.st_ino == dst_st.st_ino) {
			r = 0;   /* same file: rename(2) does nothing */
		} else if (S_ISDIR(sst.st_mode) && !S_ISDIR(dst_st.st_mode)) {
			r = -ENOTDIR;
		} else if (!S_ISDIR(sst.st_mode) && S_ISDIR(dst_st.st_mode)) {
			r = -EISDIR;
		} else if (S_ISDIR(dst_st.st_mode) &&
			   (r = dir_check_empty(dst->dirfd, dst->name, !dst->site)) < 0) {
			/* r set */
		} else {
			r = rename_over(t, who, src, dst, &dst_st);
		}
	}
	if (r == 0 && (!src->site || !dst->site))
		rename_rescope(t, src, dst, flags);
	if (r == 0 && src->from_op)
		note_restore(t, src->from_scope, src->from_op);
	pthread_mutex_unlock(&t->lock);
	return r == -EAGAIN ? -EBUSY : r;
}

/*
 * Something left op `name` of `scope` (a restore).  If that op is still
 * open, its cached mirror fd may now be a live directory, and if the whole
 * op dir was moved out its dirfd is live: forget the cache, and drop an op
 * whose directory is no longer in the trash without writing to it.  The
 * recount (or removal when empty) waits for the next tick.
 */
static void note_restore(struct trash *t, const char *scope, const char *name)
{
	struct pending *p = calloc(1, sizeof(*p));

	for (struct op *op = t->ops; op; op = op->next) {
		struct stat a, b;
		int tfd;

		if (strcmp(op->rec.scope, scope) || strcmp(op->rec.name, name))
			continue;
		close_fd(&op->cache_fd);
		tfd = scope_trash_open(t, scope, false);
		bool in_place = tfd >= 0 && fstatat(tfd, name, &a, AT_SYMLINK_NOFOLLOW) == 0 &&
				fstat(op->dirfd, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev;
		if (tfd >= 0)
			close(tfd);
		if (!in_place) {
			for (struct op **pp = &t->ops; *pp; pp = &(*pp)->next)
				if (*pp == op) {
					*pp = op->next;
					break;
				}
			index_del(t->ix, scope, name);
			op_free(op);
		}
		break;
	}
	t->counters.restores++;
	if (!p)
		return;   /* counts stay high until the next mount's reconcile */
	snprintf(p->scope, sizeof(p->scope), "%s", scope);
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->next = t->pending;
	t->pending = p;
}

void trash_note_restore(struct trash *t, const char *scope, const char *name)
{
	pthread_mutex_lock(&t->lock);
	note_restore(t, scope, name);
	pthread_mutex_unlock(&t->lock);
}

int trash_op_get(struct trash *t, const char *scope, const char *name,
		 struct op_record *out)
{
	int r = -ENOENT;

	pthread_mutex_lock(&t->lock);
	for (struct op *op = t->ops; op; op = op->next) {
		if (!strcmp(op->rec.scope, scope) && !strcmp(op->rec.name, name)) {
			*out = op->rec;
			r = 0;
			break;
		}
	}
	if (r)
		r = index_get(t->ix, scope, name, out);
	if (r) {
		int tfd = scope_trash_open(t, scope, false), ofd;

		if (tfd >= 0 && (ofd = open_dir(tfd, name)) >= 0) {
			r = rec_read_xattr(ofd, out) < 0 ? -ENOENT : 0;
			close(ofd);
		}
		if (tfd >= 0)
			close(tfd);
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

/* ---- counting ------------------------------------------------------------ */

/* Is dirfd a parent made by op `opname` only to hold victims?  (The marker
 * names its op, so a mirror dir restored and deleted again elsewhere is
 * never mistaken for one.)  opname NULL: any marker counts. */
static bool is_mirror(int dirfd, const char *opname)
{
	char v[NAME_MAX + 1];
	ssize_t n = fgetxattr(dirfd, TRASH_MIRROR_XATTR, v, sizeof(v) - 1);

	if (n < 0)
		return false;
	v[n] = '\0';
	return !opname || !strcmp(v, opname);
}

static int count_tree(int dirfd, dev_t dev, const char *opname, unsigned depth,
		      uint64_t *items, uint64_t *bytes, int64_t *max_ctime)
{
	DIR *d = dir_stream(dirfd);
	struct dirent *de;
	int r = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)) && !r) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		int64_t ct = (int64_t)st.st_ctim.tv_sec * NS + st.st_ctim.tv_nsec;
		if (ct > *max_ctime)
			*max_ctime = ct;
		bool mirror = false;
		if (S_ISDIR(st.st_mode) && st.st_dev == dev && depth < 4096) {
			int sub = open_dir_here(dirfd, de->d_name);

			if (sub >= 0) {
				mirror = is_mirror(sub, opname);
				r = count_tree(sub, dev, opname, depth + 1, items, bytes, max_ctime);
				close(sub);
			}
		}
		if (!mirror) {   /* mirror-only parents were never deleted */
			(*items)++;
			*bytes += (uint64_t)st.st_blocks * 512;
		}
	}
	closedir(d);
	return r;
}

static int count_op(int dirfd, const char *opname, uint64_t *items, uint64_t *bytes,
		    int64_t *max_ctime_ns)
{
	struct stat st;

	*items = *bytes = 0;
	*max_ctime_ns = 0;
	if (fstat(dirfd, &st) < 0)
		return -errno;
	return count_tree(dirfd, st.st_dev, opname, 0, items, bytes, max_ctime_ns);
}

int trash_count_tree(int dirfd, uint64_t *items, uint64_t *bytes,
		     int64_t *max_ctime_ns)
{
	struct op_record rec;
	char buf[OPREC_ENC_MAX];
	ssize_t len = fgetxattr(dirfd, OPREC_XATTR, buf, sizeof(buf));
	bool named = len > 0 && oprec_decode(buf, (size_t)len, &rec) == 0;

	return count_op(dirfd, named ? rec.name : NULL, items, bytes, max_ctime_ns);
}

static int recount(struct op_record *rec, int ofd)
{
	int64_t max_ct;
	int r = count_op(ofd, rec->name, &rec->items, &rec->bytes, &max_ct);

	if (r == 0 && max_ct > rec->last_ns)
		rec->last_ns = max_ct;
	return r;
}

/* ---- reconcile ------------------------------------------------------------ */

/* Adopt one op directory of scope: read or rebuild its record, repair
 * what a crash left open, and put it in the index. */
static void scan_one(struct trash *t, const char *scope, int tfd,
		     const char *name, struct trash_stats *st)
{
	struct op_record rec, old;
	char marker[2 * NAME_MAX + 2];
	int ofd = open_dir(tfd, name), r;
	bool rebuilt = false;
	ssize_t ml;

	if (ofd < 0) {
		if (st)
			st->foreign++;
		return;
	}
	if (rec_read_xattr(ofd, &rec) < 0) {
		struct stat dst;
		int64_t wall_s;
		uint32_t pid;

		if (!util_parse_op_name(name, &wall_s, &pid) || fstat(ofd, &dst) < 0) {
			if (st)
				st->foreign++;   /* never ours: never touched */
			close(ofd);
			return;
		}
		memset(&rec, 0, sizeof(rec));
		rec.uid = dst.st_uid;
		rec.gid = dst.st_gid;
		rec.pid = pid;
		rec.first_ns = rec.last_ns = wall_s * NS;
		rec.retention_s = t->conf.retention_s;
		rebuilt = true;
	}
	snprintf(rec.scope, sizeof(rec.scope), "%s", scope);
	snprintf(rec.name, sizeof(rec.name), "%s", name);

	ml = fgetxattr(ofd, TRASH_COLLAPSE_XATTR, marker, sizeof(marker) - 1);
	if (ml > 0) {
		marker[ml] = '\0';
		char *slash = strchr(marker, '/');   /* "<site>/<op>" */
		if (slash) {
			*slash = '\0';
			collapse_finish(ofd, marker, slash + 1);
		}
		fremovexattr(ofd, TRASH_COLLAPSE_XATTR);
		rebuilt = true;
		if (st)
			st->collapsed++;
	}
	if (rebuilt || rec.state == OP_OPEN) {
		recount(&rec, ofd);
		if (rec.state != OP_PURGING)
			rec.state = OP_CLOSED;
		char buf[OPREC_ENC_MAX];
		int len = oprec_encode(&rec, buf, sizeof(buf));
		if (len > 0)
			fsetxattr(ofd, OPREC_XATTR, buf, (size_t)len, 0);
		if (st)
			st->recounted++;
	}
	close(ofd);
	r = index_get(t->ix, scope, name, &old);
	if (r == -ENOENT && st)
		st->adopted++;
	index_put(t->ix, &rec);
}

static int scope_scan(struct trash *t, const char *scope, struct trash_stats *st)
{
	int tfd = scope_trash_open(t, scope, false);
	DIR *d;
	struct dirent *de;

	if (tfd == -ENOENT)
		return 0;
	if (tfd < 0)
		return tfd;
	if (!(d = fdopendir(tfd))) {
		close(tfd);
		return -errno;
	}
	while ((de = readdir(d))) {
		const char *name = de->d_name;

		if (!strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		if (!strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX))) {
			/* step 1-2 of op_create interrupted: it holds nothing */
			if (unlinkat(tfd, name, AT_REMOVEDIR) == 0)
				continue;
			if (sys.renameat2(tfd, name, tfd, name + strlen(TMP_PREFIX),
					  RENAME_NOREPLACE) < 0)
				continue;
			name += strlen(TMP_PREFIX);
		}
		scan_one(t, scope, tfd, name, st);
	}
	closedir(d);
	return 0;
}

int trash_reconcile(struct trash *t, struct trash_stats *st)
{
	struct key_list l = {0};
	DIR *d;
	struct dirent *de;
	int fd, r = 0;

	if (st)
		memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&t->lock);
	if ((fd = openat(t->backing_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    !(d = fdopendir(fd))) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		goto out;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' && (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
					      !strcmp(de->d_name, TRASH_STATE_DIR)))
			continue;
		if (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN)
			scope_scan(t, de->d_name, st);
	}
	closedir(d);
	scope_scan(t, "", st);

	/* records whose directory is gone */
	if ((r = index_foreach(t->ix, NULL, collect, &l)) < 0)
		goto out;
	for (size_t i = 0; i < l.n; i++) {
		int tfd = scope_trash_open(t, l.v[i].scope, false);
		struct stat sst;
		bool gone = tfd < 0 || fstatat(tfd, l.v[i].name, &sst, AT_SYMLINK_NOFOLLOW) < 0;

		if (tfd >= 0)
			close(tfd);
		if (gone) {
			index_del(t->ix, l.v[i].scope, l.v[i].name);
			if (st)
				st->dropped++;
		}
	}
	r = index_sync(t->ix);
out:
	free(l.v);
	pthread_mutex_unlock(&t->lock);
	return r;
}

/* ---- maintenance ---------------------------------------------------------- */

/* Remove the mirror-only directories (parents created for deleted items,
 * never deleted themselves) that a restore left empty, deepest first. */
static void prune_mirrors(int dirfd, dev_t dev, const char *opname, unsigned depth)
{
	DIR *d = dir_stream(dirfd);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		struct stat st;
		int sub;

		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    st.st_dev != dev || depth > 4096 || (sub = open_dir_here(dirfd, de->d_name)) < 0)
			continue;
		prune_mirrors(sub, dev, opname, depth + 1);
		bool mirror = is_mirror(sub, opname);
		close(sub);
		if (mirror)
			unlinkat(dirfd, de->d_name, AT_REMOVEDIR);   /* fails unless empty */
	}
	closedir(d);
}

/* An op lost items to a restore: drop it if empty, else recount it. */
static int settle_restore(struct trash *t, const struct pending *p)
{
	struct op_record rec;
	int tfd = scope_trash_open(t, p->scope, false), ofd, r = 0;

	if (tfd < 0)
		return tfd == -ENOENT ? 0 : tfd;
	for (struct op *op = t->ops; op; op = op->next) {
		if (!strcmp(op->rec.scope, p->scope) && !strcmp(op->rec.name, p->name)) {
			op_close(t, op);   /* restoring ends an operation */
			break;
		}
	}
	if ((ofd = open_dir(tfd, p->name)) < 0) {
		index_del(t->ix, p->scope, p->name);
		goto out;
	}
	prune_mirrors(ofd, t->dev, p->name, 0);
	if (unlinkat(tfd, p->name, AT_REMOVEDIR) == 0) {
		index_del(t->ix, p->scope, p->name);
		if (t->conf.on_removed)
			t->conf.on_removed(t->conf.cb_arg, tfd, p->name);
	} else if (rec_read_xattr(ofd, &rec) == 0) {
		snprintf(rec.scope, sizeof(rec.scope), "%s", p->scope);
		snprintf(rec.name, sizeof(rec.name), "%s", p->name);
		int64_t keep_last = rec.last_ns;
		recount(&rec, ofd);
		rec.last_ns = keep_last;   /* a restore is not a deletion */
		char buf[OPREC_ENC_MAX];
		int len = oprec_encode(&rec, buf, sizeof(buf));
		if (len > 0 && fsetxattr(ofd, OPREC_XATTR, buf, (size_t)len, 0) < 0)
			r = -errno;
		if (!r)
			r = index_put(t->ix, &rec);
	}
	close(ofd);
out:
	close(tfd);
	return r;
}

int trash_tick(struct trash *t)
{
	int64_t now = sys.wall_ns(), mono = sys.mono_ns();
	int first = 0, r;
	struct pending *p;

	pthread_mutex_lock(&t->lock);
	for (struct op *op = t->ops, *next; op; op = next) {
		next = op->next;
		if (now - op->rec.last_ns >= t->conf.op_gap_ns)
			r = op_close(t, op);
		else
			r = op->dirty ? op_store(t, op) : 0;
		if (r && !first)
			first = r;
	}
	while ((p = t->pending)) {
		t->pending = p->next;
		r = settle_restore(t, p);
		if (r && !first)
			first = r;
		free(p);
	}
	if (first)
		t->counters.record_errors++;
	pthread_mutex_unlock(&t->lock);
	if (mono - t->last_sync_ns >= SYNC_EVERY_NS) {
		t->last_sync_ns = mono;
		r = index_sync(t->ix);
		if (r && !first)
			first = r;
	}
	return first;
}

void trash_close_all(struct trash *t)
{
	pthread_mutex_lock(&t->lock);
	while (t->ops)
		op_close(t, t->ops);
	pthread_mutex_unlock(&t->lock);
	index_sync(t->ix);
}

#define UNDO_STEPS_PER_LOCK 1024

struct undo_wrap {
	struct trash *t;
	const char *scope;
	size_t steps;
	undo_progress_fn fn;
	void *arg;
};

/* After each undo step: a whole site restored gets its own ops back; and
 * every UNDO_STEPS_PER_LOCK steps the engine's lock is let go for a moment,
 * so a long undo never stalls deletions elsewhere for long.  (Each step is
 * a rename with RENAME_NOREPLACE: whatever happened meanwhile, nothing is
 * overwritten; at worst an item lands where a concurrent mv put its
 * parent.) */
static int undo_step_done(void *arg, const struct undo_step *step, const char *to,
			  bool renamed, int err)
{
	struct undo_wrap *w = arg;

	if (!*w->scope && !err && step->kind != UNDO_MKDIR && !strchr(to, '/'))
		scope_scan(w->t, to, NULL);
	if (++w->steps % UNDO_STEPS_PER_LOCK == 0) {
		pthread_mutex_unlock(&w->t->lock);
		sched_yield();
		pthread_mutex_lock(&w->t->lock);
	}
	return w->fn ? w->fn(w->arg, step, to, renamed, err) : 0;
}

int trash_undo(struct trash *t, const char *scope, const char *name,
	       undo_progress_fn fn, void *arg, struct undo_result *res)
{
	struct undo_wrap w = { .t = t, .scope = scope, .fn = fn, .arg = arg };
	struct op_record rec;
	int r, slot = -1;

	pthread_mutex_lock(&t->lock);
	for (int i = 0; i < 8 && slot < 0; i++) {
		if (!t->undoing[i].used) {
			slot = i;
			t->undoing[i].used = true;
			snprintf(t->undoing[i].scope, sizeof(t->undoing[i].scope), "%s", scope);
			snprintf(t->undoing[i].name, sizeof(t->undoing[i].name), "%s", name);
		}
	}
	if (slot < 0) {
		pthread_mutex_unlock(&t->lock);
		return -EBUSY;   /* more concurrent undos than gracectl ever runs */
	}
	for (struct op *op = t->ops; op; op = op->next) {
		if (!strcmp(op->rec.scope, scope) && !strcmp(op->rec.name, name)) {
			op_close(t, op);
			break;
		}
	}
	r = index_get(t->ix, scope, name, &rec);
	if (r == 0 && rec.state == OP_PURGING)
		r = -EBUSY;   /* half gone: never restored as if complete */
	if (r == 0 || r == -ENOENT)
		r = undo_op(t->backing_fd, scope, name, undo_step_done, &w, res);
	if (r != -ENOENT)
		note_restore(t, scope, name);
	t->undoing[slot].used = false;
	pthread_mutex_unlock(&t->lock);
	return r;
}

/* ---- holds, usage, purging ------------------------------------------------ */

/* Change a closed or open op's record under the lock: fn edits it. */
static int op_update(struct trash *t, const char *scope, const char *name,
		     int (*fn)(struct op_record *r, void *arg), void *arg)
{
	struct op_record rec;
	char buf[OPREC_ENC_MAX];
	int tfd, ofd, r, len;

	for (struct op *op = t->ops; op; op = op->next) {
		if (!strcmp(op->rec.scope, scope) && !strcmp(op->rec.name, name)) {
			if ((r = fn(&op->rec, arg)) < 0)
				return r;
			return op_store(t, op);
		}
	}
	if ((tfd = scope_trash_open(t, scope, false)) < 0)
		return tfd;
	ofd = open_dir(tfd, name);
	close(tfd);
	if (ofd < 0)
		return ofd;
	r = rec_read_xattr(ofd, &rec);
	if (r == 0) {
		snprintf(rec.scope, sizeof(rec.scope), "%s", scope);
		snprintf(rec.name, sizeof(rec.name), "%s", name);
		r = fn(&rec, arg);
	}
	if (r == 0 && (len = oprec_encode(&rec, buf, sizeof(buf))) < 0)
		r = len;
	if (r == 0 && fsetxattr(ofd, OPREC_XATTR, buf, (size_t)len, 0) < 0)
		r = -errno;
	close(ofd);
	return r ? r : index_put(t->ix, &rec);
}

static int set_hold(struct op_record *r, void *arg)
{
	r->hold = *(bool *)arg;
	return 0;
}

int trash_op_set_hold(struct trash *t, const char *scope, const char *name, bool hold)
{
	int r;

	pthread_mutex_lock(&t->lock);
	r = op_update(t, scope, name, set_hold, &hold);
	pthread_mutex_unlock(&t->lock);
	return r;
}

static int begin_purge(struct op_record *r, void *arg)
{
	if (r->hold)
		return -EPERM;   /* legal hold: never purged */
	r->state = OP_PURGING;
	return 0;
}

/*
 * Purging an op.  Steps: 1 record state PURGING (xattr, then index);
 * 2 remove its tree in bounded steps, deepest entries first; 3 rmdir the
 * op dir; 4 drop the index record.  Crash after 1 or during 2: the op is
 * still PURGING in its xattr; reconcile keeps that state and the sweeper
 * resumes.  After 3: reconcile drops the record.  Each step restarts from
 * the op directory and holds no fd across steps, so an item restored
 * (moved out) between steps is never touched.
 */
int trash_purge_begin(struct trash *t, const char *scope, const char *name)
{
	int r = 0;

	pthread_mutex_lock(&t->lock);
	for (struct op *op = t->ops; op; op = op->next)
		if (!strcmp(op->rec.scope, scope) && !strcmp(op->rec.name, name))
			r = -EBUSY;   /* still collecting deletions */
	for (int i = 0; i < 8; i++)
		if (t->undoing[i].used && !strcmp(t->undoing[i].scope, scope) &&
		    !strcmp(t->undoing[i].name, name))
			r = -EBUSY;   /* being restored right now */
	if (!r)
		r = op_update(t, scope, name, begin_purge, NULL);
	pthread_mutex_unlock(&t->lock);
	return r;
}

/* Remove up to *budget entries below dirfd, deepest first.  Never follows
 * symlinks; a directory on another filesystem stops it with -EXDEV. */
static int purge_some(int dirfd, dev_t dev, unsigned depth, unsigned *budget,
		      uint64_t *removed)
{
	DIR *d = dir_stream(dirfd);
	struct dirent *de;
	int r = 0;

	if (!d)
		return -errno;
	while (*budget && !r && (de = readdir(d))) {
		struct stat st = { .st_mode = S_IFREG };

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		/* the entry type saves a stat per file; directories need one
		 * (their device), and so does a filesystem without d_type */
		if ((de->d_type == DT_DIR || de->d_type == DT_UNKNOWN) &&
		    fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			int sub;

			if (st.st_dev != dev || depth > 4096) {
				r = -EXDEV;   /* a mount inside trash: refuse, never walk */
				break;
			}
			if ((sub = open_dir_here(dirfd, de->d_name)) < 0) {
				r = sub;   /* -EXDEV for a bind mount of this fs */
				break;
			}
			r = purge_some(sub, dev, depth + 1, budget, removed);
			close(sub);
			if (r || !*budget)
				break;
		}
		if (unlinkat(dirfd, de->d_name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0) {
			r = -errno;
			break;
		}
		(*budget)--;
		(*removed)++;
	}
	closedir(d);
	return r;
}

int trash_purge_step(struct trash *t, const char *scope, const char *name,
		     unsigned budget, bool *done, uint64_t *removed)
{
	int tfd, ofd, r;

	*done = false;
	pthread_mutex_lock(&t->lock);
	if ((tfd = scope_trash_open(t, scope, false)) < 0) {
		r = tfd == -ENOENT ? 0 : tfd;
		*done = tfd == -ENOENT;
		goto out;
	}
	if ((ofd = open_dir(tfd, name)) < 0) {
		*done = ofd == -ENOENT;
		r = *done ? index_del(t->ix, scope, name) : ofd;
		if (r == -ENOENT)
			r = 0;
		close(tfd);
		goto out;
	}
	r = purge_some(ofd, t->dev, 0, &budget, removed);
	close(ofd);
	if (!r && budget) {   /* the tree is empty: the op goes */
		if (unlinkat(tfd, name, AT_REMOVEDIR) < 0) {
			r = -errno;
		} else {
			*done = true;
			t->counters.purged++;
			r = index_del(t->ix, scope, name);
			if (r == -ENOENT)
				r = 0;
			if (t->conf.on_removed)
				t->conf.on_removed(t->conf.cb_arg, tfd, name);
		}
	}
	close(tfd);
out:
	pthread_mutex_unlock(&t->lock);
	return r;
}

static void add_usage(struct trash_usage *u, const struct op_record *r)
{
	int64_t exp = oprec_expiry(r);

	u->ops++;
	u->items += r->items;
	u->bytes += r->bytes;
	if (!u->oldest_ns || r->first_ns < u->oldest_ns)
		u->oldest_ns = r->first_ns;
	if (!r->hold && (!u->next_expiry_s || exp < u->next_expiry_s))
		u->next_expiry_s = exp;
}

struct usage_walk {
	struct trash *t;
	struct trash_usage *u;
};

static int usage_of_closed(const struct op_record *r, void *arg)
{
	struct usage_walk *w = arg;

	for (struct op *op = w->t->ops; op; op = op->next)
		if (!strcmp(op->rec.scope, r->scope) && !strcmp(op->rec.name, r->name))
			return 0;   /* open: counted from memory, which is newer */
	add_usage(w->u, r);
	return 0;
}

struct usage_all {
	struct trash *t;
	char scope[NAME_MAX + 1];
	struct trash_usage u;
	bool have;
	int (*fn)(void *arg, const char *scope, const struct trash_usage *u);
	void *arg;
};

static int usage_all_step(const struct op_record *r, void *arg)
{
	struct usage_all *a = arg;
	int rc = 0;

	if (a->have && strcmp(a->scope, r->scope)) {   /* records come grouped by scope */
		rc = a->fn(a->arg, a->scope, &a->u);
		a->have = false;
	}
	if (!a->have) {
		memset(&a->u, 0, sizeof(a->u));
		snprintf(a->scope, sizeof(a->scope), "%s", r->scope);
		a->have = true;
	}
	add_usage(&a->u, r);
	return rc;
}

int trash_usage_all(struct trash *t,
		    int (*fn)(void *arg, const char *scope, const struct trash_usage *u),
		    void *arg)
{
	struct usage_all a = { .t = t, .fn = fn, .arg = arg };
	int r;

	pthread_mutex_lock(&t->lock);
	for (struct op *op = t->ops; op; op = op->next)
		if (op->dirty)
			op_store(t, op);   /* the index is current for this walk */
	r = index_foreach(t->ix, NULL, usage_all_step, &a);
	pthread_mutex_unlock(&t->lock);
	if (r == 0 && a.have)
		r = fn(arg, a.scope, &a.u);
	return r;
}

void trash_get_counters(struct trash *t, struct trash_counters *c)
{
	pthread_mutex_lock(&t->lock);
	*c = t->counters;
	pthread_mutex_unlock(&t->lock);
}

int trash_usage(struct trash *t, const char *scope, struct trash_usage *u)
{
	struct usage_walk w = { t, u };
	int r;

	memset(u, 0, sizeof(*u));
	pthread_mutex_lock(&t->lock);
	for (struct op *op = t->ops; op; op = op->next)
		if (!strcmp(op->rec.scope, scope))
			add_usage(u, &op->rec);
	r = index_foreach(t->ix, scope, usage_of_closed, &w);
	pthread_mutex_unlock(&t->lock);
	return r < 0 ? r : 0;
}

/* ---- lifecycle ------------------------------------------------------------ */

int trash_open(struct trash **out, int backing_fd, struct index *ix,
	       const struct trash_conf *conf)
{
	struct trash *t = calloc(1, sizeof(*t));
	struct stat st;
	int r;

	if (!t)
		return -ENOMEM;
	t->state_fd = t->root_trash_fd = -1;
	t->backing_fd = backing_fd;
	t->ix = ix;
	t->conf = *conf;
	pthread_mutex_init(&t->lock, NULL);
	if ((r = mkdir_open(backing_fd, TRASH_STATE_DIR, 0700, NULL)) < 0)
		goto fail;
	t->state_fd = r;
	if ((r = mkdir_open(t->state_fd, "trash", 0755, NULL)) < 0)
		goto fail;
	t->root_trash_fd = r;
	if (fstat(backing_fd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	t->dev = st.st_dev;
	*out = t;
	return 0;
fail:
	trash_close(t);
	return r;
}

void trash_close(struct trash *t)
{
	if (!t)
		return;
	trash_close_all(t);
	while (t->pending) {
		struct pending *p = t->pending;

		t->pending = p->next;
		free(p);
	}
	close_fd(&t->root_trash_fd);
	close_fd(&t->state_fd);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

int trash_root_fd(const struct trash *t)
{
	return t->root_trash_fd;
}
