/*
 * gracefs — the daemon: checks its arguments, takes the backing store's
 * lock, reconciles the index with the backing store, mounts, and serves.
 *
 * Threading: single-threaded until the FUSE loop and the maintenance
 * thread start; everything before that is startup.
 *
 * Startup order (and why):
 *   1 validate BACKING/MOUNTPOINT, take BACKING/.gracefs/lock (one daemon
 *     per backing store);
 *   2 open the index and reconcile it with the backing store, in the
 *     foreground, so errors reach the operator's terminal and the mount is
 *     only offered once the index is right;
 *   3 close the index (LMDB must not cross fork), mount, daemonize;
 *   4 drop every capability the daemon does not use (privs.h; before any
 *     thread starts: capabilities are per thread), reopen the index
 *     through /proc/self/fd (MOUNTPOINT may cover BACKING), start the
 *     maintenance thread, serve.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "engine/clock.h"
#include "daemon/dircache.h"
#include "store/index.h"
#include "daemon/inode.h"
#include "daemon/fusegate.h"
#include "daemon/fuseio.h"
#include "lib/log.h"
#include "engine/overwrite.h"
#include "daemon/options.h"
#include "daemon/ops.h"
#include "lib/privs.h"
#include "engine/sweep.h"
#include "engine/trash.h"
#include "lib/util.h"

/* Print "gracefs: error: <message>[: <errno text>]"; returns -1. */
__attribute__((format(printf, 2, 3)))
static int fail(int err, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "gracefs: error: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (err)
		fprintf(stderr, ": %s", strerror(err));
	fputc('\n', stderr);
	return -1;
}

/* p inside q (strictly below it)? Both canonical. */
static bool is_below(const char *p, const char *q)
{
	size_t n = strlen(q);

	if (n == 1)   /* q is "/" */
		return strcmp(p, "/") != 0;
	return !strncmp(p, q, n) && p[n] == '/';
}

/* The mountinfo line of the mount at exactly `path` (the last, topmost
 * one): its filesystem type into fstype.  true when found. */
static bool mount_at(const char *path, char *fstype, size_t cap)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096], mp[PATH_MAX], type[256];
	bool found = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *dash = strstr(line, " - ");

		/* id parent maj:min root mountpoint ... - fstype source opts */
		if (!dash || sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1 ||
		    sscanf(dash + 3, "%255s", type) != 1)
			continue;
		/* mountinfo escapes space, tab, newline and backslash as \ooo */
		char *w = mp;
		for (const char *r = mp; *r; w++) {
			if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] && r[3]) {
				*w = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
				r += 4;
			} else {
				*w = *r++;
			}
		}
		*w = '\0';
		if (!strcmp(mp, path)) {
			snprintf(fstype, cap, "%s", type);
			found = true;
		}
	}
	fclose(f);
	return found;
}

/*
 * A gracefs killed with -9 leaves its mount behind, dead: every access
 * gives ENOTCONN.  Mounting over it would stack a second mount on a
 * mountpoint nothing can reach; a dead gracefs mount is detached lazily
 * (logged), anything else dead there is refused.
 */
static int clear_dead_mount(const char *mnt)
{
	char *abs = NULL, type[256];
	struct statfs sf;
	int r = 0;

	/* statfs always asks the daemon (stat may be answered from the
	 * kernel's attribute cache) */
	if (statfs(mnt, &sf) == 0 || errno != ENOTCONN)
		return 0;
	/* the mountpoint itself cannot be resolved: resolve its parent */
	char *copy = strdup(mnt), *slash, *parent;
	if (!copy)
		return fail(ENOMEM, "mountpoint '%s'", mnt);
	while ((slash = strrchr(copy, '/')) && slash != copy && !slash[1])
		*slash = '\0';   /* trailing slashes */
	slash = strrchr(copy, '/');
	parent = slash ? (slash == copy ? "/" : (*slash = '\0', copy)) : ".";
	char *rp = realpath(parent, NULL);
	const char *base = slash ? slash + 1 : copy;
	if (rp && asprintf(&abs, "%s%s%s", rp, strcmp(rp, "/") ? "/" : "", base) < 0)
		abs = NULL;
	free(rp);
	if (!abs || !mount_at(abs, type, sizeof(type)))
		r = fail(ENOTCONN, "mountpoint '%s'", mnt);
	else if (strcmp(type, "fuse.gracefs"))
		r = fail(0, "mountpoint '%s' is a dead %s mount; unmount it first", mnt, type);
	else if (umount2(abs, MNT_DETACH) < 0)
		r = fail(errno, "mountpoint '%s' is a dead gracefs mount and cannot be "
			 "unmounted", mnt);
	else
		fprintf(stderr, "gracefs: notice: lazily unmounted a dead gracefs mount at "
			"'%s' (its daemon had died)\n", abs);
	free(abs);
	free(copy);
	return r;
}

static int check_paths(const char *backing, const char *mnt, char **rb)
{
	char *rm;
	struct stat st;
	struct statvfs sv;

	if (!(*rb = realpath(backing, NULL)))
		return fail(errno, "backing '%s'", backing);
	if (stat(*rb, &st) < 0 || !S_ISDIR(st.st_mode))
		return fail(ENOTDIR, "backing '%s'", backing);
	if (access(*rb, W_OK) < 0)
		return fail(errno, "backing '%s' is not writable", backing);
	if (statvfs(*rb, &sv) == 0 && (sv.f_flag & ST_RDONLY))
		return fail(0, "backing '%s' is on a read-only filesystem", backing);
	if (!(rm = realpath(mnt, NULL)))
		return fail(errno, "mountpoint '%s'", mnt);
	/* the same directory, or one inside the other: serving it would make
	 * the daemon's own accesses to BACKING go through its own mount and
	 * deadlock (and unmount hang in D state) */
	int bad = !strcmp(rm, *rb) ? 3 : is_below(rm, *rb) ? 1 : is_below(*rb, rm) ? 2 : 0;
	char type[256];
	if (!bad && mount_at(rm, type, sizeof(type)) && !strcmp(type, "fuse.gracefs"))
		bad = 4;
	free(rm);
	if (bad == 3)
		return fail(0, "mountpoint '%s' is the backing store itself", mnt);
	if (bad == 4)
		return fail(0, "mountpoint '%s' is already a gracefs mount", mnt);
	if (bad == 1)
		return fail(0, "mountpoint '%s' is inside the backing store", mnt);
	if (bad == 2)
		return fail(0, "backing '%s' is inside the mountpoint", backing);
	return 0;
}

/* One gracefs per backing store: an flock()ed pid file. */
static int take_lock(int state_fd, const char *backing)
{
	char buf[32] = "";
	int fd = openat(state_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		return fail(errno, "cannot create lock in '%s'", backing);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		fprintf(stderr, "gracefs: error: backing '%s' is already served by another "
			"gracefs (pid %s)\n", backing, *buf ? buf : "?");
		close(fd);
		return -1;
	}
	return fd;
}

static void write_pid(int lock_fd)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());

	if (ftruncate(lock_fd, 0) == 0 && pwrite(lock_fd, buf, (size_t)n, 0) != n)
		log_msg(LOG_WARNING, "cannot write pid to lock file: %s", strerror(errno));
}

/* The finest timestamp the backing store keeps, in ns (1 for ext4 with
 * large inodes, xfs, btrfs; 1e9 for ext4 with 128-byte inodes): told to the
 * kernel, which then stamps cached writes (writeback) no finer than what
 * reaches the backing store.  1 when it cannot be probed. */
static unsigned probe_time_gran(int state_fd)
{
	static const char name[] = "timegran.probe";
	struct timespec ts[2] = { { 1, 123456789 }, { 1, 123456789 } };
	struct stat st;
	unsigned gran = 1;
	int fd = openat(state_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		return gran;
	if (futimens(fd, ts) == 0 && fstat(fd, &st) == 0) {
		/* the smallest power of ten that rounds 123456789 down to what stuck */
		while (gran < 1000000000u && 123456789L - 123456789L % (long)gran != st.st_mtim.tv_nsec)
			gran *= 10;
	}
	close(fd);
	unlinkat(state_fd, name, 0);
	return gran;
}

/* The backing store must give us file handles and trusted xattrs. */
static int check_backing_features(int backing_fd, int state_fd, const char *backing)
{
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + 128];
	} h = { .fh.handle_bytes = 128 };
	int mid;

	if (name_to_handle_at(backing_fd, TRASH_STATE_DIR, &h.fh, &mid, 0) < 0)
		return fail(errno, "backing '%s' does not support file handles", backing);
	if (fsetxattr(state_fd, "trusted.gracefs.probe", "1", 1, 0) < 0)
		return fail(errno, "backing '%s' does not support trusted xattrs", backing);
	fremovexattr(state_fd, "trusted.gracefs.probe");
	return 0;
}

static void on_closed(void *arg, const struct op_record *r)
{
	struct gfs *g = arg;

	if (!g->ctl) {   /* reconcile before the mount: audited by start_control */
		struct op_record *v = realloc(g->unaudited, (g->nunaudited + 1) * sizeof(*v));

		if (v) {
			g->unaudited = v;
			v[g->nunaudited++] = *r;
		}
	}
	control_audit_op(g->ctl, AUDIT_EV_DELETE, r);
	log_msg(LOG_INFO, "deleted op %s%s%s: %llu items, %llu bytes, uid %u pid %u (%s)",
		r->scope, *r->scope ? "/" : "", r->name, (unsigned long long)r->items,
		(unsigned long long)r->bytes, r->uid, r->pid, r->cmdline);
}

static void on_evicted(void *arg, const struct op_record *r, uint64_t removed,
		       const char *detail)
{
	struct gfs *g = arg;

	control_audit_swept(g->ctl, AUDIT_EV_EVICT, r, detail);
	log_msg(LOG_NOTICE, "evicted op %s%s%s: %llu entries, %llu bytes (%s)", r->scope,
		*r->scope ? "/" : "", r->name, (unsigned long long)removed,
		(unsigned long long)r->bytes, detail);
}

static int64_t after_sweep(void *arg, int64_t trusted_s)
{
	struct gfs *g = arg;

	return g->space ? space_pass(g->space, trusted_s) : 0;
}

static void on_purged(void *arg, const struct op_record *r, uint64_t removed)
{
	struct gfs *g = arg;

	struct sweep_status st = {0};

	if (space_resumed(g->space, r, removed))
		return;   /* an eviction a crash interrupted, reported as one */
	control_audit_swept(g->ctl, AUDIT_EV_EXPIRE, r, NULL);
	if (g->sweep)
		sweep_get_status(g->sweep, &st);
	char exp[32];

	util_format_utc(oprec_expiry(r), false, exp, sizeof(exp));   /* ISO, not epoch */
	log_msg(LOG_NOTICE, "purged op %s%s%s: %llu entries in %.3f s, expired %s", r->scope,
		*r->scope ? "/" : "", r->name, (unsigned long long)removed,
		st.last_purge_ns / 1e9, exp);
}

static void on_notice(void *arg, const char *msg)
{
	log_msg(LOG_WARNING, "%s", msg);
}

/* trash_conf.run_braked: before the control side is up, nothing is. */
static bool run_braked(void *arg, const char *run)
{
	struct gfs *g = arg;

	return control_run_braked(g->ctl, run);
}

static int open_engine(struct gfs *g, const struct gfs_opts *o)
{
	char path[64];
	struct trash_conf tc = {
		.retention_s = o->retention_s,
		.op_gap_ns = o->op_gap_s * 1000000000LL,
		.on_removed = ops_on_removed,
		.on_closed = on_closed,
		.on_relinked = ops_on_relinked,
		.on_undone = ops_on_undone,
		.run_braked = run_braked,
		.cb_arg = g,
	};
	int r;

	snprintf(path, sizeof(path), "/proc/self/fd/%d/index", g->state_fd);
	if ((r = index_open(&g->ix, path)) == -EIO) {
		/* corrupt: the index is only a cache of the backing store; keep the
		 * damaged copy for a post-mortem and rebuild (reconcile adopts) */
		char aside[64];

		snprintf(aside, sizeof(aside), "index.corrupt-%lld", (long long)time(NULL));
		log_msg(LOG_WARNING, "index: corrupt; moved to %s/.gracefs/%s, rebuilding from the "
			"backing store", o->backing, aside);
		if (renameat(g->state_fd, "index", g->state_fd, aside) == 0)
			r = index_open(&g->ix, path);
	}
	if (r < 0) {
		log_msg(LOG_ERR, "index: cannot open: %s", strerror(-r));
		return r;
	}
	if ((r = trash_open(&g->trash, g->backing_fd, g->ix, &tc)) < 0) {
		log_msg(LOG_ERR, "trash: cannot open: %s", strerror(-r));
		return r;
	}
	if ((r = created_new(&g->cr, g->ix)) < 0)
		return r;
	g->cr_keep_s = o->retention_s;
	struct overwrite_conf oc = { g->backing_fd, g->trash, o->preserve_max,
				     o->preserve_per_uid };
	if ((r = overwrite_new(&g->ow, &oc)) < 0)
		return r;
	g->va = (struct vattr_ctx){ .trash = g->trash, .backing_fd = g->backing_fd,
				    .retention_s = o->retention_s,
				    .min_retention_s = o->min_retention_s,
				    .trash_view_all = o->trash_view_all };
	return 0;
}

static int start_sweeper(struct gfs *g, const struct gfs_opts *o)
{
	struct sweep_conf sc = {
		.backing_fd = g->backing_fd,
		.interval_ns = o->sweep_s * 1000000000LL,
		.jump_ns = o->clock_jump_s * 1000000000LL,
		.on_purged = on_purged,
		.on_notice = on_notice,
		.after_pass = after_sweep,
		.cb_arg = g,
	};
	struct space_conf spc = {
		.backing_fd = g->backing_fd, .state_fd = g->state_fd, .floor = o->min_free,
		.min_age_s = o->min_retention_s,
		.recheck_ns = sc.interval_ns < 30000000000LL ? sc.interval_ns : 30000000000LL,
		.on_evicted = on_evicted, .on_notice = on_notice, .cb_arg = g,
	};
	int r = space_new(&g->space, g->trash, g->ix, &spc);

	if (r == 0)
		control_set_space(g->ctl, g->space);
	if (r == 0 && (r = sweep_new(&g->sweep, g->trash, g->ix, &sc)) == 0 &&
	    (r = sweep_start(g->sweep)) == 0) {
		g->va.sweep = g->sweep;
		control_set_sweep(g->ctl, g->sweep);
	}
	if (r < 0)
		log_msg(LOG_ERR, "sweeper: cannot start: %s", strerror(-r));
	return r;
}

static int start_control(struct gfs *g, const struct gfs_opts *o, const char *backing,
			 const char *mountpoint)
{
	struct control_conf cc = {
		.backing_fd = g->backing_fd, .state_fd = g->state_fd, .trash = g->trash,
		.ix = g->ix, .cr = g->cr, .ow = g->ow, .copyq = g->copyq, .backing = backing,
		.mountpoint = mountpoint,
		.retention_floor_s = o->min_retention_s,
		.op_gap_ns = o->op_gap_s * 1000000000LL,
		.sweep_interval_s = o->sweep_s, .clock_jump_s = o->clock_jump_s,
		.brake_limit = o->brake_limit, .brake_window_ns = o->brake_window_s * 1000000000LL,
	};

	int r = control_open(&g->ctl, &cc);

	for (size_t i = 0; r == 0 && i < g->nunaudited; i++)
		control_audit_op(g->ctl, AUDIT_EV_DELETE, &g->unaudited[i]);
	free(g->unaudited);
	g->unaudited = NULL;
	g->nunaudited = 0;
	return r;
}

static void close_engine(struct gfs *g)
{
	control_stop(g->ctl);   /* no gracectl request may reach a closing engine */
	space_stop(g->space);   /* an eviction in progress returns after its step */
	sweep_free(g->sweep);   /* then the sweeper: it uses the trash and the index */
	g->sweep = NULL;
	control_set_space(g->ctl, NULL);
	space_free(g->space);
	g->space = NULL;
	g->va.sweep = NULL;
	overwrite_free(g->ow);
	g->ow = NULL;
	trash_close(g->trash);
	g->trash = NULL;
	created_free(g->cr);   /* its last notes go to the index */
	g->cr = NULL;
	index_close(g->ix);
	g->ix = NULL;
}

static int max_stamp(const struct op_record *r, void *arg)
{
	if (r->last_el_ns > *(int64_t *)arg)
		*(int64_t *)arg = r->last_el_ns;
	return 0;
}

/* The trusted clock (clock.h) resumes from its saved value; if that was
 * lost, from the largest stamp of any op, never ahead of elapsed time. */
static bool clock_fresh;   /* main thread only, before serving */

static int open_clock(struct gfs *g, const char *backing)
{
	bool fresh = false;
	int r = clock_open(g->state_fd, &fresh);

	if (r < 0)
		return fail(-r, "cannot save the trusted clock in '%s/" TRASH_STATE_DIR "'",
			    backing);
	clock_fresh = fresh;
	return 0;
}

/* Step 2: make the index match the backing store before serving. */
static int reconcile(struct gfs *g)
{
	struct trash_stats st;
	int r = trash_reconcile(g->trash, &st);

	if (r == -EIO) {   /* a corrupt index: it is only a cache, rebuild it */
		log_msg(LOG_WARNING, "index: corrupt, rebuilding from the backing store");
		index_clear(g->ix);
		r = trash_reconcile(g->trash, &st);
	}
	if (r < 0) {
		log_msg(LOG_ERR, "index: reconcile failed: %s", strerror(-r));
		return r;
	}
	if (clock_fresh) {
		int64_t top = 0;

		index_foreach(g->ix, NULL, max_stamp, &top);
		clock_raise(top);
		log_msg(LOG_NOTICE, "trusted clock: no saved value; resuming at %llds, the latest "
			"deletion in the index", (long long)(top / 1000000000LL));
		clock_fresh = false;
	}
	if (st.adopted || st.dropped || st.recounted || st.collapsed || st.foreign)
		log_msg(LOG_NOTICE, "index reconciled: %llu adopted, %llu dropped, %llu recounted, "
			"%llu site deletions finished, %llu foreign entries left alone",
			(unsigned long long)st.adopted, (unsigned long long)st.dropped,
			(unsigned long long)st.recounted, (unsigned long long)st.collapsed,
			(unsigned long long)st.foreign);
	return 0;
}

/* Open files per uid (fdcap.h): the soft RLIMIT_NOFILE is raised to the
 * hard one (bounded), tenants share it less the reserve. */
static int start_fdcap(struct gfs *g, const struct gfs_opts *o)
{
	struct fdcap_limits lim;
	struct rlimit rl;
	int r;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur < rl.rlim_max && rl.rlim_cur < FDCAP_NOFILE_MAX) {
		rl.rlim_cur = rl.rlim_max < FDCAP_NOFILE_MAX ? rl.rlim_max : FDCAP_NOFILE_MAX;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	fdcap_limits(rl.rlim_cur < FDCAP_NOFILE_MAX ? (unsigned)rl.rlim_cur : FDCAP_NOFILE_MAX,
		     o->max_open_per_uid, &lim);
	if ((r = fdcap_new(&g->fdcap, &lim)) < 0) {
		log_msg(LOG_ERR, "fd caps: %s", strerror(-r));
		return r;
	}
	log_msg(LOG_INFO, "open files: %u per uid, %u for all tenants, %u of %u kept for root "
		"and gracefs", lim.per_uid, lim.pool, lim.reserve, lim.nofile);
	return 0;
}

static void on_hup(int sig)
{
	(void)sig;   /* nothing to reread yet; must not end the daemon */
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts co = {0};
	struct fuse_loop_config *lc = NULL;
	struct gfs_opts o;
	struct gfs g = { .backing_fd = -1, .state_fd = -1,
			 .maint_lock = PTHREAD_MUTEX_INITIALIZER,
			 .inval_lock = PTHREAD_MUTEX_INITIALIZER };
	char *rb = NULL, fsname[64 + PATH_MAX];
	int lock_fd = -1, ret = 1, loop_rc = 0;
	bool served = false;

	if (options_parse(&args, &o) < 0 || fuse_parse_cmdline(&args, &co) != 0) {
		ret = 2;
		goto out;
	}
	if (co.show_help) {
		options_usage(argv[0]);
		fuse_cmdline_help();
		fuse_lowlevel_help();
		ret = 0;
		goto out;
	}
	if (co.show_version) {
		printf("gracefs %s\n", GRACEFS_VERSION);
		fuse_lowlevel_version();
		ret = 0;
		goto out;
	}
	if (!o.backing || !co.mountpoint) {
		fprintf(stderr, "usage: %s [-f] [-o OPTIONS] BACKING MOUNTPOINT (see --help)\n", argv[0]);
		ret = 2;
		goto out;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "gracefs: error: must run as root (it serves files for every "
			"user and opens them by file handle)\n");
		goto out;
	}
	if (clear_dead_mount(co.mountpoint) < 0 || check_paths(o.backing, co.mountpoint, &rb) < 0)
		goto out;
	umask(0);   /* each request applies the caller's own umask */
	if ((g.backing_fd = open(rb, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		fail(errno, "backing '%s'", o.backing);
		goto out;
	}
	if (mkdirat(g.backing_fd, TRASH_STATE_DIR, 0700) < 0 && errno != EEXIST) {
		fail(errno, "cannot create state directory in '%s'", o.backing);
		goto out;
	}
	if ((g.state_fd = openat(g.backing_fd, TRASH_STATE_DIR,
				 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		fail(errno, "cannot open state directory in '%s'", o.backing);
		goto out;
	}
	g.time_gran = probe_time_gran(g.state_fd);
	if (check_backing_features(g.backing_fd, g.state_fd, o.backing) < 0 ||
	    (lock_fd = take_lock(g.state_fd, o.backing)) < 0 || open_clock(&g, o.backing) < 0)
		goto out;

	log_init("gracefs", true, co.debug);
	g.timeout = o.timeout;
	g.trash_visible = o.trash_visible;
	g.trash_view_all = o.trash_view_all;
	g.writeback = o.writeback;
	g.tick_ns = o.tick_ms * 1000000LL;
	g.metrics_path = o.metrics;
	if (open_engine(&g, &o) < 0 || reconcile(&g) < 0)
		goto out;
	close_engine(&g);

	snprintf(fsname, sizeof(fsname), "-ofsname=%s,subtype=gracefs,default_permissions,allow_other", rb);
	fuse_opt_add_arg(&args, fsname);
	if (!(g.se = fuse_session_new(&args, &gfs_ops, sizeof(gfs_ops), &g)))
		goto out;
	if (fuse_set_signal_handlers(g.se) != 0)
		goto out_session;
	struct sigaction hup = { .sa_handler = on_hup, .sa_flags = SA_RESTART };
	sigemptyset(&hup.sa_mask);
	sigaction(SIGHUP, &hup, NULL);   /* libfuse made SIGHUP exit the loop */
	if (fuse_session_mount(g.se, co.mountpoint) != 0)
		goto out_signals;
	if (fuseio_attach(g.se, o.passthrough) < 0)   /* before the loop: INIT is its first request */
		goto out_unmount;
	fuse_daemonize(co.foreground);
	log_init("gracefs", co.foreground, co.debug);
	write_pid(lock_fd);
	int pr = privs_drop();
	if (pr < 0) {
		log_msg(LOG_ERR, "cannot drop capabilities: %s", strerror(-pr));
		goto out_unmount;
	}
	dircache_init(256);   /* and RLIMIT_NOFILE / 16: dircache.h */
	if (start_fdcap(&g, &o) < 0 || ops_defer_start(&g, o.preserve_per_uid) < 0 ||
	    open_engine(&g, &o) < 0 || inode_table_init(g.backing_fd, trash_root_fd(g.trash)) < 0 ||
	    start_control(&g, &o, rb, co.mountpoint) < 0 ||
	    ops_maint_start(&g) < 0 || start_sweeper(&g, &o) < 0)
		goto out_unmount;
	{
		char rs[32];

		util_format_duration(o.retention_s, rs, sizeof(rs));
		log_msg(LOG_INFO, "serving %s at %s (retention %s)", rb, co.mountpoint, rs);
	}

	if (co.singlethread) {
		ret = fuse_session_loop(g.se);
	} else {
		lc = fuse_loop_cfg_create();
		fuse_loop_cfg_set_clone_fd(lc, co.clone_fd);
		if (co.max_threads > 0 && co.max_threads <= 100000)
			fuse_loop_cfg_set_max_threads(lc, co.max_threads);
		if (co.max_idle_threads <= 100000)   /* UINT_MAX: libfuse's default */
			fuse_loop_cfg_set_idle_threads(lc, co.max_idle_threads);
		fusegate_enable();   /* one worker reads while it is quick: fusegate.h */
		ret = fuse_session_loop_mt(g.se, lc);
	}
	loop_rc = ret;
	served = true;
	ret = ret < 0 ? 1 : 0;   /* > 0: stopped by SIGTERM/SIGINT, a clean exit */
out_unmount:
	ops_defer_stop(&g);   /* the requests it holds get their replies */
	ops_maint_stop(&g);
	if (served && g.metrics_path && control_write_metrics(g.ctl, g.metrics_path, false) < 0)
		log_msg(LOG_WARNING, "metrics: cannot write %s as it stops", g.metrics_path);
	close_engine(&g);   /* final op records, index synced */
	clock_close();      /* the trusted clock as of now */
	control_close(g.ctl);   /* after the engine: its last op records are audited */
	g.ctl = NULL;
	ops_defer_free(&g);
	fuse_session_unmount(g.se);
	/* an operator (or journalctl) sees when and why it stopped */
	if (served)
		log_msg(loop_rc < 0 ? LOG_ERR : LOG_NOTICE, "stopped serving %s at %s: %s%s", rb,
			co.mountpoint, loop_rc > 0 ? "signal " : loop_rc < 0 ? "error: " : "unmounted",
			loop_rc > 0 ? strsignal(loop_rc) : loop_rc < 0 ? strerror(-loop_rc) : "");
out_signals:
	fuse_remove_signal_handlers(g.se);
out_session:
	fuse_session_destroy(g.se);
out:
	if (lc)
		fuse_loop_cfg_destroy(lc);
	dircache_free();
	inode_table_free();
	fdcap_free(g.fdcap);
	if (lock_fd >= 0)
		close(lock_fd);
	if (g.state_fd >= 0)
		close(g.state_fd);
	if (g.backing_fd >= 0)
		close(g.backing_fd);
	free(rb);
	free(o.backing);
	free(o.metrics);
	free(co.mountpoint);
	fuse_opt_free_args(&args);
	return ret;
}
