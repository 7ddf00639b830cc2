/*
 * control — catalog, audit, protected paths and the control socket of the
 * running daemon (see control.h); the metrics file is control_metrics.c,
 * the state both share control_int.h.
 * Threading: `prot_lock` guards the protected list; everything else is
 * set before the socket starts and read-only after.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include <syslog.h>
#include <unistd.h>

#include "store/catalog.h"
#include "daemon/control.h"
#include "daemon/control_int.h"
#include "daemon/fuseio.h"
#include "daemon/uncreate.h"
#include "daemon/passthru.h"
#include "ctl/channel.h"
#include "ctl/verbs.h"
#include "engine/exclude_apply.h"
#include "lib/fairq.h"
#include "lib/log.h"
#include "engine/metrics.h"
#include "engine/overwrite.h"
#include "engine/sitepolicy.h"
#include "engine/sitedel.h"
#include "engine/brake.h"
#include "lib/sys.h"
#include "store/layout.h"


/* ---- whose is a root op ----------------------------------------------------- */

/* The deleted sites of each root op, remembered while its directory
 * exists (at start and at each of its audit rows), so that the rows of
 * its expiry or eviction, written once the directory is gone, still name
 * the sites: `log --site X` finds the purge of X's data. */

/* Into buf: op's sites as they are now, else as last seen (forgotten
 * then: the op is gone).  "" when never seen. */
static void root_sites(struct control *c, const char *op, char *buf, size_t cap)
{
	int n = layout_root_op_sites(c->conf.backing_fd, op, buf, cap);
	size_t i;

	pthread_mutex_lock(&c->roots_lock);
	for (i = 0; i < c->nroots && strcmp(c->roots[i].op, op); i++)
		;
	if (n > 0) {
		if (i == c->nroots) {
			struct root_sites *v = realloc(c->roots, (i + 1) * sizeof(*v));

			if (v) {
				c->roots = v;
				snprintf(v[i].op, sizeof(v[i].op), "%s", op);
				c->nroots++;
			}
		}
		if (i < c->nroots)
			snprintf(c->roots[i].sites, sizeof(c->roots[i].sites), "%s", buf);
	} else if (i < c->nroots) {
		snprintf(buf, cap, "%s", c->roots[i].sites);
		c->roots[i] = c->roots[--c->nroots];
	}
	pthread_mutex_unlock(&c->roots_lock);
}

/* Remember every root op's sites (at start: they may expire later). */
static void root_sites_load(struct control *c)
{
	int s = openat(c->conf.backing_fd, TRASH_STATE_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC),
	    t = s >= 0 ? openat(s, "trash", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	DIR *d = t >= 0 ? fdopendir(t) : NULL;
	struct dirent *de;
	char buf[ROOT_SITES_MAX];

	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.')
			root_sites(c, de->d_name, buf, sizeof(buf));
	if (d)
		closedir(d);
	else if (t >= 0)
		close(t);
	if (s >= 0)
		close(s);
}

/* ---- engine side of the control verbs ------------------------------------ */

struct site_undo {
	struct control *c;
	undo_progress_fn fn;
	void *arg;
};

/* A whole site came back: the catalog says it is active again. */
static int site_back(void *arg, const struct undo_step *step, const char *to, bool renamed,
		     int err)
{
	struct site_undo *u = arg;

	if (!err && step->kind != UNDO_MKDIR && !strchr(to, '/'))
		control_site_changed(u->c, to, false);
	return u->fn ? u->fn(u->arg, step, to, renamed, err) : 0;
}

static int do_undo(void *arg, const char *scope, const char *op, const char *run,
		   undo_progress_fn fn, void *fn_arg, struct undo_result *res)
{
	struct control *c = arg;
	struct site_undo u = { c, fn, fn_arg };
	int r = trash_undo(c->conf.trash, scope, op, run, *scope ? fn : site_back,
			   *scope ? fn_arg : &u, res);

	/* one line per undo, like the one per mv restore */
	if (r != -ENOENT || res->moved || res->renamed)
		log_msg(r < 0 ? LOG_WARNING : LOG_INFO, "undo of op %s%s%s: %zu restored, %zu "
			"next to a taken name, %zu merged, %zu parents recreated, %zu failed%s%s",
			scope, *scope ? "/" : "", op, res->moved, res->renamed, res->merged,
			res->mkdirs, res->failed, r < 0 ? ": " : "", r < 0 ? strerror(-r) : "");
	return r;
}

static int do_uncreate(void *arg, const struct caller *who, const char *run,
		       void (*fn)(void *fn_arg, const struct created_item *it, int verdict,
				  const char *why, const char *op, int err),
		       void *fn_arg)
{
	struct control *c = arg;

	return uncreate_run(&c->conf, who, run, fn, fn_arg);
}

static int do_undo_ops(void *arg, const char *scope, const char *const *ops, size_t n,
		       const char *run, undo_progress_fn fn, void *const *fn_args,
		       struct undo_result *res, int *rc)
{
	struct control *c = arg;
	int r = trash_undo_many(c->conf.trash, scope, ops, n, run, fn, fn_args, res, rc);

	size_t moved = 0, failed = 0;

	for (size_t i = 0; i < n && r == 0; i++) {
		moved += res[i].moved + res[i].renamed;
		failed += rc[i] < 0 && rc[i] != -ENOENT;
	}
	if (r == 0)
		log_msg(failed ? LOG_WARNING : LOG_INFO, "undo of %zu ops of site %s in one batch: "
			"%zu item(s) restored, %zu op(s) failed", n, scope, moved, failed);
	/* and one line per op, as for `undo` */
	for (size_t i = 0; i < n && r == 0; i++)
		if (rc[i] != -ENOENT || res[i].moved || res[i].renamed)
			log_msg(rc[i] < 0 ? LOG_WARNING : LOG_INFO, "undo of op %s/%s: %zu "
				"restored, %zu next to a taken name, %zu merged, %zu parents "
				"recreated, %zu failed%s%s", scope, ops[i], res[i].moved,
				res[i].renamed, res[i].merged, res[i].mkdirs, res[i].failed,
				rc[i] < 0 ? ": " : "", rc[i] < 0 ? strerror(-rc[i]) : "");
	return r;
}

static int do_hold(void *arg, const char *scope, const char *op, bool hold)
{
	struct control *c = arg;

	return trash_op_set_hold(c->conf.trash, scope, op, hold);
}

static int do_run_release(void *arg, const char *run, size_t *n)
{
	return control_brake_release(arg, run, n);
}

static int do_purge(void *arg, const char *scope, const char *op, struct op_record *rec,
		    void (*fn)(void *fn_arg, uint64_t removed), void *fn_arg)
{
	struct control *c = arg;
	uint64_t removed = 0;
	bool done = false;
	int r;

	if ((r = trash_op_get(c->conf.trash, scope, op, rec)) < 0)
		return r;
	if ((r = trash_purge_begin(c->conf.trash, scope, op)) < 0)
		return r;
	while (!done && r == 0) {
		r = trash_purge_step(c->conf.trash, scope, op, 1024, &done, &removed);
		if (fn)
			fn(fn_arg, removed);
	}
	if (r == -EPERM)
		log_msg(LOG_NOTICE, "purge of op %s%s%s stopped by a legal hold after %llu entries; "
			"it stays, half purged, until released", scope, *scope ? "/" : "", op,
			(unsigned long long)removed);
	if (done)
		log_msg(LOG_NOTICE, "purged op %s%s%s on request: %llu entries", scope,
			*scope ? "/" : "", op, (unsigned long long)removed);
	return r;
}

static int do_sync(void *arg)
{
	struct control *c = arg;

	int r = c->conf.cr ? created_flush(c->conf.cr) : 0;   /* plans read it */

	return r ? r : trash_store_open(c->conf.trash);
}

static void load_protected(struct control *c)
{
	struct catalog_protected *l = NULL, *old;

	if (catalog_protected_list(c->cat, &l) < 0) {
		log_msg(LOG_ERR, "catalog: cannot load protected paths; keeping the old list");
		return;
	}
	pthread_rwlock_wrlock(&c->prot_lock);
	old = c->prot;
	c->prot = l;
	pthread_rwlock_unlock(&c->prot_lock);
	catalog_protected_free(old);
}

static void do_protected_changed(void *arg)
{
	load_protected(arg);
}

/* Free space, the floor, what could be evicted now, and what exclusions
 * removed directly: "KEY VALUE" lines, numbers in bytes. */
static void space_status_lines(struct control *c, struct ctl_out *out)
{
	struct space_status sp = {0};
	struct exclusions_totals et;
	struct trash_counters tc;
	char n[32];

	if (c->space)
		space_get_status(c->space, &sp);
	exclusions_get_totals(c->excl, &et);
	trash_get_counters(c->conf.trash, &tc);
	const struct { const char *key; uint64_t v; bool have; } *l, lines[] = {
		{ "space_total_bytes", sp.total, sp.known },
		{ "space_free_bytes", sp.avail, sp.known },
		{ "space_floor_bytes", sp.floor, sp.known },
		{ "space_pressure", sp.pressure, sp.known },
		{ "evictable_ops", sp.eligible_ops, sp.known },
		{ "evictable_bytes", sp.eligible_bytes, sp.known },
		{ "evicted_ops", sp.evicted_ops, true },
		{ "evicted_bytes", sp.evicted_bytes, true },
		{ "excluded_items", et.items, true },
		{ "excluded_bytes", et.bytes, true },
		/* deletions when mkdir had no room (docs/operations.md) */
		{ "deletion_reserve", trash_reserve_count(c->conf.trash), true },
		{ "deletion_reserve_taken", tc.reserve_taken, true },
		{ "deletion_reserve_empty", tc.reserve_empty, true },
	};

	if (c->space) {
		evict_format_floor(&sp.min_free, n, sizeof(n));
		ctl_emitf(out, "min_free", n, (char *)NULL);
	}
	for (l = lines; l < lines + sizeof(lines) / sizeof(lines[0]); l++) {
		snprintf(n, sizeof(n), "%" PRIu64, l->v);
		ctl_emitf(out, l->key, l->have ? n : "unknown", (char *)NULL);
	}
	/* who holds the most trash against its share, and who keeps the
	 * others' from being evicted (docs/operations.md) */
	const struct { const char *key, *site; uint64_t bytes, share; } *f, figs[] = {
		{ "space_top_site", sp.top_site, sp.top_bytes, sp.top_share },
		{ "space_blocked_by", sp.blocked_site, sp.blocked_bytes, sp.blocked_share },
	};
	for (f = figs; c->space && sp.known && f < figs + 2; f++) {
		char k[64], b[32], sh[32];

		if (!*f->site)
			continue;
		ctl_emitf(out, f->key, f->site, (char *)NULL);
		snprintf(k, sizeof(k), "%s_bytes", f->key);
		ctl_emitf(out, k, (snprintf(b, sizeof(b), "%" PRIu64, f->bytes), b), (char *)NULL);
		snprintf(k, sizeof(k), "%s_share_bytes", f->key);
		ctl_emitf(out, k, (snprintf(sh, sizeof(sh), "%" PRIu64, f->share), sh), (char *)NULL);
	}
}

/* The data path (passthru.h): passthrough's state and why, its counters. */
static void datapath_lines(struct ctl_out *out)
{
	struct passthru_counters pc;
	char a[160];

	passthru_get_counters(&pc);
	ctl_emitf(out, "passthrough", fuseio_passthrough_status(a, sizeof(a)), (char *)NULL);
	snprintf(a, sizeof(a), "passthrough=%" PRIu64 " daemon=%" PRIu64 " preserved=%" PRIu64
		 " failures=%" PRIu64 " backing_files=%" PRIu64,
		 pc.opens, pc.daemon, pc.preserved, pc.failures, pc.backing);
	ctl_emitf(out, "opens", a, (char *)NULL);
}

/* "copies running=2 waiting=0 per_uid=2 peak_per_uid=2 waits=0 copied=12
 * queued=4 handed=12": the preservation copy gate (overwrite.h) and the
 * copy pool's requests (ops_defer.c: queued now, handed over since start). */
static void copies_status_line(struct control *c, struct ctl_out *out)
{
	struct overwrite_counters oc;
	struct fairq_stats fs = {0};
	char a[200];

	if (!c->conf.ow)
		return;
	overwrite_get_counters(c->conf.ow, &oc);
	if (c->conf.copyq)
		fairq_get_stats(c->conf.copyq, &fs);
	snprintf(a, sizeof(a), "running=%" PRIu64 " waiting=%" PRIu64 " per_uid=%" PRIu64
		 " peak_per_uid=%" PRIu64 " waits=%" PRIu64 " copied=%" PRIu64 " queued=%" PRIu64
		 " handed=%" PRIu64, oc.copying, oc.waiting, oc.per_uid, oc.peak_per_uid, oc.waits,
		 oc.copied, fs.queued, fs.submitted);
	ctl_emitf(out, "copies", a, (char *)NULL);
}

/* "brake 20/10m braked=1 trips=1" (or "off ..."): the runs themselves are
 * in the audit log (gracectl log --event brake). */
static void brake_status_line(struct control *c, struct ctl_out *out)
{
	struct brake_stats bs;
	char win[32], a[96];

	brake_get_stats(c->brake, &bs);
	util_format_duration(bs.window_s, win, sizeof(win));
	if (bs.limit)
		snprintf(a, sizeof(a), "%u/%s braked=%zu trips=%" PRIu64, bs.limit, win, bs.braked,
			 bs.trips);
	else
		snprintf(a, sizeof(a), "off braked=%zu trips=%" PRIu64, bs.braked, bs.trips);
	ctl_emitf(out, "brake", a, (char *)NULL);
}

static void do_policy_changed(void *arg, const char *site)
{
	struct control *c = arg;

	exclusions_invalidate(c->excl, site);
}

static int do_status(void *arg, struct ctl_out *out)
{
	struct control *c = arg;
	struct sweep_status st = {0};
	struct audit_stats as = {0};
	char n[32], a[96];
	uint64_t count = 0;

	ctl_emitf(out, "mountpoint", c->conf.mountpoint, (char *)NULL);   /* gracectl knows BACKING */
	ctl_emitf(out, "pid", (snprintf(n, sizeof(n), "%d", (int)getpid()), n), (char *)NULL);
	index_count(c->conf.ix, &count);
	ctl_emitf(out, "ops", (snprintf(n, sizeof(n), "%" PRIu64, count), n), (char *)NULL);
	if (c->sweep) {
		sweep_get_status(c->sweep, &st);
		ctl_emitf(out, "sweeper", "running", (char *)NULL);
		snprintf(a, sizeof(a), "%" PRId64, st.elapsed_s);
		ctl_emitf(out, "elapsed_s", a, (char *)NULL);   /* the trusted clock */
		snprintf(a, sizeof(a), "%" PRId64, st.skew_s);
		ctl_emitf(out, "clock_skew_s", a, (char *)NULL);
		snprintf(a, sizeof(a), "%" PRIu64, st.purged_ops);
		ctl_emitf(out, "purged_ops", a, (char *)NULL);
		snprintf(a, sizeof(a), "%" PRId64, st.lag_s);
		ctl_emitf(out, "sweeper_lag_s", a, (char *)NULL);
	}
	space_status_lines(c, out);
	datapath_lines(out);
	copies_status_line(c, out);
	brake_status_line(c, out);
	if (c->conf.cr) {   /* what runs created (undo run:ID --created) */
		struct created_stats cs;

		created_get_stats(c->conf.cr, &cs);
		snprintf(a, sizeof(a), "noted=%" PRIu64 " unrecorded=%" PRIu64 " flushes=%" PRIu64
			 " flush_errors=%" PRIu64, cs.noted, cs.unrecorded, cs.flushes,
			 cs.flush_errors);
		ctl_emitf(out, "created", a, (char *)NULL);
	}
	audit_get_stats(c->audit, &as);
	snprintf(a, sizeof(a), "written=%" PRIu64 " queued=%" PRIu64 " dropped=%" PRIu64
		 " failures=%" PRIu64, as.written, as.queued, as.dropped, as.failures);
	ctl_emitf(out, "audit", a, (char *)NULL);
	return 0;
}

static const struct ctlcmd_ops engine_ops = {
	.undo_op = do_undo,
	.uncreate = do_uncreate,
	.undo_ops = do_undo_ops,
	.op_hold = do_hold,
	.run_release = do_run_release,
	.purge = do_purge,
	.sync = do_sync,
	.protected_changed = do_protected_changed,
	.policy_changed = do_policy_changed,
	.status = do_status,
};

/* ---- audit ------------------------------------------------------------------ */

static void on_audit_event(void *arg, int err, uint64_t queued, uint64_t lost)
{
	static int64_t last_ns;   /* the writer thread is the only caller */
	int64_t now = sys.mono_ns();

	if (err < 0) {
		if (last_ns && now - last_ns < 60 * 1000000000LL)
			return;   /* loud once a minute, not once a retry */
		last_ns = now;
		log_msg(LOG_CRIT, "audit: cannot write the audit log: %s (%" PRIu64 " rows waiting, "
			"%" PRIu64 " lost so far); deletions stay soft and continue",
			strerror(-err), queued, lost);
	} else {
		last_ns = 0;
		if (lost)
			log_msg(LOG_WARNING, "audit: writing again; %" PRIu64 " rows were lost, a "
				"gap row records it", lost);
		else
			log_msg(LOG_WARNING, "audit: writing again; nothing was lost");
	}
}

void control_audit_op(struct control *c, const char *event, const struct op_record *r)
{
	control_audit_op_detail(c, event, r, NULL);
}

void control_audit_op_detail(struct control *c, const char *event, const struct op_record *r,
			     const char *detail)
{
	char sites[ROOT_SITES_MAX];

	if (!c)
		return;
	if (*r->scope)
		audit_log_op(c->audit, event, r, detail);
	else {
		root_sites(c, r->name, sites, sizeof(sites));
		audit_log_op_at(c->audit, event, r, sites, detail);
	}
}

void control_audit_swept(struct control *c, const char *event, const struct op_record *r,
			 const char *detail)
{
	struct audit_row row = AUDIT_ROW_INIT;
	char sites[ROOT_SITES_MAX], d[CATALOG_TEXT_MAX], first[24], last[24];

	if (!c)
		return;
	util_format_utc(r->first_ns / 1000000000, false, first, sizeof(first));
	util_format_utc(r->last_ns / 1000000000, false, last, sizeof(last));
	snprintf(d, sizeof(d), "%s%sitems=%" PRIu64 " bytes=%" PRIu64 " first=%s last=%s "
		 "deleter_uid=%u deleter_pid=%u deleter_run=%s%s deleter_command=%s",
		 detail ? detail : "", detail ? " " : "", r->items, r->bytes, first, last, r->uid,
		 r->pid, *r->run ? "run:" : "", *r->run ? r->run : "-", r->cmdline);
	if (!*r->scope)
		root_sites(c, r->name, sites, sizeof(sites));
	row.event = event;
	row.site = *r->scope ? r->scope : sites;
	row.op = r->name;
	row.uid = (int64_t)geteuid();
	row.pid = (int64_t)getpid();
	row.cmdline = CONTROL_SWEEPER_ACTOR;
	row.detail = d;
	audit_log(c->audit, &row);
}

/* One exclusion group went idle: one audit row and one log line for all
 * it removed directly. */
static void on_excluded(void *arg, const struct exclusions_group *g)
{
	struct control *c = arg;
	struct audit_row row = AUDIT_ROW_INIT;
	char detail[256];

	snprintf(detail, sizeof(detail), "items=%" PRIu64 " bytes=%" PRIu64 " pattern=%s",
		 g->items, g->bytes, g->pattern);
	row.event = AUDIT_EV_EXCLUDE;
	row.site = g->site;
	row.uid = g->uid;
	row.pid = g->pid;
	row.cmdline = g->cmdline;
	row.detail = detail;
	audit_log(c->audit, &row);
	log_msg(LOG_INFO, "removed %" PRIu64 " excluded item(s), %" PRIu64 " bytes, in site %s "
		"directly (not to trash): uid %u pid %u (%s)", g->items, g->bytes, g->site,
		g->uid, g->pid, g->cmdline);
}

int control_remove_excluded(struct control *c, const struct caller *who,
			    const struct trash_loc *loc, bool want_dir, const struct stat *st,
			    bool *removed)
{
	*removed = false;
	return c ? exclusions_remove(c->excl, who, loc, want_dir, st, removed) : 0;
}

int control_rename_excluded(struct control *c, const struct caller *who,
			    const struct trash_loc *src, const struct trash_loc *dst,
			    const struct stat *dst_st, bool *done)
{
	*done = false;
	return c ? exclusions_rename(c->excl, who, src, dst, dst_st, done) : 0;
}

void control_tick(struct control *c)
{
	if (c)
		exclusions_tick(c->excl);
}

void control_audit(struct control *c, const char *event, const struct caller *who,
		   const char *site, const char *op, const char *path, const char *detail)
{
	struct audit_row row = AUDIT_ROW_INIT;

	if (!c)
		return;
	row.event = event;
	row.site = site;
	row.op = op;
	row.path = path;
	row.detail = detail;
	if (who) {
		row.uid = who->uid;
		row.pid = who->pid;
		row.cmdline = who->cmdline;
		row.run = who->run;
	}
	audit_log(c->audit, &row);
}

/* ---- sites and protected paths ------------------------------------------------ */

void control_site_changed(struct control *c, const char *site, bool trashed)
{
	struct catalog_site s = {0};

	if (!c || !catalog_site_id_valid(site))
		return;
	sitedel_touch(c->sitedel, site);   /* its deletion counters exist from now on, at 0 */
	exclusions_invalidate(c->excl, site);   /* a new site of the same name starts clean */
	/* catalog writes are small and rare (site creation/deletion) */
	if (catalog_site_get(c->cat, site, &s) < 0) {
		snprintf(s.id, sizeof(s.id), "%s", site);
		snprintf(s.kind, sizeof(s.kind), "site");
		s.created_s = sys.wall_ns() / 1000000000;
	}
	s.state = trashed ? CATALOG_TRASHED : CATALOG_ACTIVE;
	if (catalog_site_upsert(c->cat, &s) < 0)
		log_msg(LOG_WARNING, "catalog: cannot record site %s", site);
}

bool control_protected(struct control *c, const char *site, const char *relpath)
{
	bool p;

	if (!c)
		return false;
	pthread_rwlock_rdlock(&c->prot_lock);
	p = c->prot && c->prot->n && catalog_path_covers_protected(c->prot, site, relpath);
	pthread_rwlock_unlock(&c->prot_lock);
	return p;
}

/* Every top-level directory of BACKING is a site of the catalog. */
static void register_sites(struct control *c)
{
	int fd = openat(c->conf.backing_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d))) {
		struct catalog_site s;

		if (de->d_name[0] == '.' || !catalog_site_id_valid(de->d_name) ||
		    (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN))
			continue;
		if (catalog_site_get(c->cat, de->d_name, &s) < 0 || s.state != CATALOG_ACTIVE)
			control_site_changed(c, de->d_name, false);
		else
			sitedel_touch(c->sitedel, de->d_name);
	}
	closedir(d);
}

/* ---- the mass-deletion brake (brake.h; docs/design.md, "The mass-deletion
 * brake") --------------------------------------------------------------------- */

/* The brake row: one per braked run (and one more if the daemon restarted
 * before its holds were all placed). */
static void audit_brake(struct control *c, const struct caller *who, const char *run,
			const char *site, unsigned sites, size_t ops, const char *leader,
			const char *note)
{
	struct audit_row row = AUDIT_ROW_INIT;
	char win[32], detail[160 + PROCINFO_RUN_CMD_MAX];
	struct brake_stats bs;

	brake_get_stats(c->brake, &bs);
	util_format_duration(bs.window_s, win, sizeof(win));
	snprintf(detail, sizeof(detail), "run=%s sites=%u limit=%u/%s ops_held=%zu%s%s leader=%s",
		 run, sites, bs.limit, bs.limit ? win : "off", ops, note ? " " : "", note ? note : "",
		 leader && *leader ? leader : "unknown");
	row.event = AUDIT_EV_BRAKE;
	row.site = site;
	row.run = run;   /* gracectl log --run ID finds it */
	row.detail = detail;
	if (who) {
		row.uid = who->uid;
		row.pid = who->pid;
		row.cmdline = who->cmdline;
	}
	audit_log(c->audit, &row);
}

/*
 * A run just crossed the brake (brake_note kept it in the braked set
 * first).  Steps: 1 the braked set is kept (done: from now on the run's
 * new ops are created held); 2 hold every op the run already has;
 * 3 log and audit.  A crash after 1 leaves the run braked in the kept set:
 * the next mount holds its ops again (control_open) and says so.
 */
static void brake_trip(struct control *c, const struct caller *who, const char *site,
		       unsigned sites, int kept)
{
	struct run_info ri;
	size_t n = 0;
	int r = trash_run_set_brake(c->conf.trash, who->run, true, &n);
	char win[32];
	struct brake_stats bs;

	if (procinfo_run_info(who, &ri) < 0)
		ri.cmdline[0] = '\0';
	brake_get_stats(c->brake, &bs);
	util_format_duration(bs.window_s, win, sizeof(win));
	log_msg(LOG_WARNING, "brake: run %s (%s) removed whole sites or their top-level "
		"directories in %u sites within %s (latest: %s, by pid %u %s); held its %zu ops: "
		"nothing it deleted expires or is evicted until gracectl release run:%s%s%s%s%s",
		who->run, *ri.cmdline ? ri.cmdline : who->cmd, sites, win, site, who->pid, who->cmd,
		n, who->run, r < 0 ? "; some ops could not be held: " : "",
		r < 0 ? strerror(-r) : "", kept < 0 ? "; the braked run could not be kept for a "
		"restart: " : "", kept < 0 ? strerror(-kept) : "");
	audit_brake(c, who, who->run, site, sites, n, ri.cmdline, NULL);
}

void control_site_level_deleted(struct control *c, const struct caller *who, const char *site,
				bool whole)
{
	unsigned sites;
	int kept;

	if (!c)
		return;
	sitedel_note(c->sitedel, site, whole);
	if (who && brake_note(c->brake, who->run, site, sys.mono_ns(), &sites, &kept) == 1)
		brake_trip(c, who, site, sites, kept);
}

void control_brake_stats(struct control *c, struct brake_stats *st)
{
	brake_get_stats(c ? c->brake : NULL, st);
}

bool control_run_braked(struct control *c, const char *run)
{
	return c && brake_is_braked(c->brake, run);
}

int control_brake_release(struct control *c, const char *run, size_t *n)
{
	bool was;
	int r, kept;

	*n = 0;
	if (!c)
		return -ENOTCONN;
	/* Steps: 1 no longer braked in memory (new ops are not held); 2 clear
	 * the brake's hold on every op of the run; 3 keep the braked set.  A
	 * crash before 3 leaves the run braked on disk: the next mount holds
	 * its ops again, and a second release finishes the job. */
	was = brake_release(c->brake, run) == 0;
	r = trash_run_set_brake(c->conf.trash, run, false, n);
	kept = was ? brake_save(c->brake) : 0;
	if (!was && *n == 0)
		return r < 0 ? r : -ENOENT;
	log_msg(LOG_NOTICE, "brake: run %s released: %zu ops no longer held by the brake%s%s", run,
		*n, kept < 0 ? "; the release could not be kept for a restart: " : "",
		kept < 0 ? strerror(-kept) : "");
	return r < 0 ? r : kept;
}

/* At mount: the runs braked before the restart are held again (a crash
 * may have stopped their holds part way). */
static void brake_resume(struct control *c)
{
	char (*runs)[UTIL_RUN_MAX];
	size_t nr;

	if (brake_list(c->brake, &runs, &nr) < 0)
		return;
	for (size_t i = 0; i < nr; i++) {
		size_t n = 0;
		int r = trash_run_set_brake(c->conf.trash, runs[i], true, &n);

		log_msg(LOG_WARNING, "brake: run %s is still braked (gracectl release run:%s)%s%s",
			runs[i], runs[i], r < 0 ? "; holding its ops failed: " : "",
			r < 0 ? strerror(-r) : "");
		if (n)   /* the holds a crash interrupted, finished now */
			audit_brake(c, NULL, runs[i], NULL, 0, n, NULL, "resumed=restart");
	}
	free(runs);
}

/* ---- lifecycle ------------------------------------------------------------------ */

int control_open(struct control **out, const struct control_conf *conf)
{
	struct control *c = calloc(1, sizeof(*c));
	struct audit_conf ac = { .on_event = on_audit_event };
	char path[128];
	int r, found = 0;

	if (!c)
		return -ENOMEM;
	c->conf = *conf;
	pthread_rwlock_init(&c->prot_lock, NULL);
	pthread_mutex_init(&c->roots_lock, NULL);
	snprintf(path, sizeof(path), "/proc/self/fd/%d/catalog.db", conf->state_fd);
	if ((r = catalog_open(&c->cat, path, false, &found)) < 0) {
		if (r == -EPROTO)
			log_msg(LOG_ERR, "catalog: schema version %d is newer than this gracefs (%d)",
				found, CATALOG_SCHEMA_VERSION);
		else
			log_msg(LOG_ERR, "catalog: cannot open %s/.gracefs/catalog.db: %s",
				conf->backing, strerror(-r));
		goto fail;
	}
	ac.cb_arg = c;
	if ((r = audit_new(&c->audit, c->cat, &ac)) < 0) {
		log_msg(LOG_ERR, "audit: cannot start: %s", strerror(-r));
		goto fail;
	}
	struct exclusions_conf xc = { .backing_fd = conf->backing_fd, .gap_ns = conf->op_gap_ns,
				      .on_group = on_excluded, .cb_arg = c };
	if ((r = exclusions_new(&c->excl, &xc)) < 0 || (r = sitedel_new(&c->sitedel)) < 0)
		goto fail;
	struct brake_conf bc = { .limit = conf->brake_limit, .window_ns = conf->brake_window_ns,
				 .state_fd = conf->state_fd };
	if ((r = brake_new(&c->brake, &bc)) < 0) {
		if (!c->brake)
			goto fail;
		log_msg(LOG_ERR, "brake: cannot read %s/.gracefs/" BRAKE_FILE ": %s (runs braked "
			"before are not held again)", conf->backing, strerror(-r));
	}
	brake_resume(c);
	register_sites(c);
	load_protected(c);
	root_sites_load(c);
	c->ctx = (struct ctlcmd_ctx){ .ops = &engine_ops, .arg = c, .backing_fd = conf->backing_fd,
				      .cat = c->cat, .audit = c->audit,
				      .retention_floor_s = conf->retention_floor_s };
	snprintf(path, sizeof(path), "/proc/self/fd/%d/ctl.sock", conf->state_fd);
	if ((r = ctl_server_start(&c->srv, path, ctlcmd_handle, &c->ctx)) < 0) {
		log_msg(LOG_ERR, "control socket: cannot start: %s", strerror(-r));
		goto fail;
	}
	*out = c;
	return 0;
fail:
	control_close(c);
	return r;
}

void control_set_sweep(struct control *c, struct sweep *sw)
{
	if (c)
		c->sweep = sw;
}

void control_set_space(struct control *c, struct space *sp)
{
	if (c)
		c->space = sp;
}

void control_stop(struct control *c)
{
	if (c) {
		ctl_server_stop(c->srv);
		c->srv = NULL;
	}
}

void control_close(struct control *c)
{
	if (!c)
		return;
	control_stop(c);
	exclusions_free(c->excl);   /* its open groups are audited */
	c->excl = NULL;
	sitedel_free(c->sitedel);
	brake_free(c->brake);
	if (c->audit && audit_flush(c->audit) < 0)
		log_msg(LOG_ERR, "audit: rows still queued at unmount could not be written");
	audit_free(c->audit);
	catalog_close(c->cat);
	catalog_protected_free(c->prot);
	pthread_rwlock_destroy(&c->prot_lock);
	pthread_mutex_destroy(&c->roots_lock);
	free(c->roots);
	free(c);
}
