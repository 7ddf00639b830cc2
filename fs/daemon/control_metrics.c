/*
 * control_metrics — the metrics file (control_write_metrics, control.h):
 * one snapshot of the engine, the sweeper, the eviction pass, the data
 * path, the copy gate and the brake, written atomically (metrics.h).
 * Threading: any thread (the maintenance thread, and main as it stops);
 * every source it reads locks itself.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/control.h"
#include "daemon/control_int.h"
#include "daemon/fuseio.h"
#include "daemon/passthru.h"
#include "engine/brake.h"
#include "engine/exclude_apply.h"
#include "engine/metrics.h"
#include "engine/overwrite.h"
#include "engine/sitedel.h"
#include "engine/sitepolicy.h"
#include "engine/space.h"
#include "engine/sweep.h"
#include "lib/sys.h"
#include "store/audit.h"
#include "store/layout.h"

static void datapath_metrics(struct metrics *m)
{
	struct passthru_counters pc;
	char st[160];

	passthru_get_counters(&pc);
	fuseio_passthrough_status(st, sizeof(st));
	m->passthrough_known = strcmp(st, "pending") != 0;
	m->passthrough_on = strcmp(st, "on") == 0;
	m->passthrough_opens = pc.opens;
	m->daemon_opens = pc.daemon;
	m->passthrough_failures = pc.failures;
	m->passthrough_backing = pc.backing;
}

struct site_acc {
	size_t n, cap;
	struct metrics_site *v;
};

static int add_site(void *arg, const char *scope, const struct trash_usage *u)
{
	struct site_acc *a = arg;

	if (a->n == a->cap) {
		size_t cap = a->cap ? 2 * a->cap : 64;
		struct metrics_site *v = realloc(a->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		a->v = v;
		a->cap = cap;
	}
	struct metrics_site *m = &a->v[a->n++];
	memset(m, 0, sizeof(*m));
	snprintf(m->site, sizeof(m->site), "%s", *scope ? scope : "/");
	m->trash_bytes = u->bytes;
	m->trash_items = u->items;
	m->ops = u->ops;
	m->oldest_s = u->oldest_ns / 1000000000;
	m->next_expiry_s = u->next_expiry_s;
	return 0;
}

/* The entry of site in a, added (zeroed) when missing; NULL: no memory. */
static struct metrics_site *acc_site(struct site_acc *a, const char *site)
{
	static const struct trash_usage none;

	for (size_t i = 0; i < a->n; i++)
		if (!strcmp(a->v[i].site, site))
			return &a->v[i];
	return add_site(a, site, &none) < 0 ? NULL : &a->v[a->n - 1];
}

/* Count usage u into entry m as well. */
static void site_merge(struct metrics_site *m, const struct trash_usage *u)
{
	int64_t oldest = u->oldest_ns / 1000000000;

	m->trash_bytes += u->bytes;
	m->trash_items += u->items;
	m->ops += u->ops;
	if (u->oldest_ns && (!m->oldest_s || oldest < m->oldest_s))
		m->oldest_s = oldest;
	if (u->next_expiry_s && (!m->next_expiry_s || u->next_expiry_s < m->next_expiry_s))
		m->next_expiry_s = u->next_expiry_s;
}

struct root_attr {
	struct control *c;
	struct site_acc *acc;
	struct trash_usage rest;   /* the root ops that stay under "/" */
	int err;
};

static int attr_root_op(const struct op_record *r, void *arg)
{
	struct root_attr *ra = arg;
	struct trash_usage one = {0};
	struct metrics_site *m;
	char sites[ROOT_SITES_MAX];

	if (layout_root_op_sites(ra->c->conf.backing_fd, r->name, sites, sizeof(sites)) != 1) {
		trash_usage_add(&ra->rest, r);
		return 0;
	}
	trash_usage_add(&one, r);
	if (!(m = acc_site(ra->acc, sites)))
		return ra->err = -ENOMEM;
	site_merge(m, &one);
	return 0;
}

/* A site deleted whole is that site's in the metrics too (issue 19): a
 * root op holding one site is counted under that site; one holding
 * several (rm -rf a b in one command) stays under site="/", since its
 * bytes are not known per site.  Sums over all series are unchanged. */
static int attribute_root_ops(struct control *c, struct site_acc *acc)
{
	struct root_attr ra = { .c = c, .acc = acc };
	size_t i;
	int r;

	for (i = 0; i < acc->n && strcmp(acc->v[i].site, "/"); i++)
		;
	if (i == acc->n)
		return 0;   /* no root op */
	if ((r = index_foreach(c->conf.ix, "", attr_root_op, &ra)) < 0 || ra.err)
		return r < 0 ? r : ra.err;
	acc->v[i].trash_bytes = acc->v[i].trash_items = acc->v[i].ops = 0;
	acc->v[i].oldest_s = acc->v[i].next_expiry_s = 0;
	site_merge(&acc->v[i], &ra.rest);
	if (!ra.rest.ops)
		acc->v[i] = acc->v[--acc->n];   /* no "/" series left */
	return 0;
}

/* Every site's share and unheld trash in the fair eviction order, as of
 * the sweeper's last full look (none before it). */
static int share_metrics(struct space *sp, struct metrics_share **out, size_t *n)
{
	struct space_share *v;
	size_t have = space_get_shares(sp, NULL, 0), got;

	*out = NULL;
	*n = 0;
	if (!have)
		return 0;
	if (!(v = calloc(have, sizeof(*v))))
		return -ENOMEM;
	got = space_get_shares(sp, v, have);   /* a new look may have changed the count */
	if (got > have)
		got = have;
	if (!(*out = calloc(got ? got : 1, sizeof(**out)))) {
		free(v);
		return -ENOMEM;
	}
	static_assert(sizeof(v->site) <= sizeof((*out)->site), "site names fit");
	for (size_t i = 0; i < got; i++) {
		memcpy((*out)[i].site, v[i].site, sizeof(v[i].site));
		(*out)[i].bytes = v[i].bytes;
		(*out)[i].share = v[i].share;
	}
	*n = got;
	free(v);
	return 0;
}

int control_write_metrics(struct control *c, const char *path, bool up)
{
	struct site_acc acc = {0};
	struct trash_counters tc;
	struct sweep_status st = {0};
	struct audit_stats as = {0};
	struct space_status sp = {0};
	struct exclusions_totals et;
	struct metrics m = {0};
	struct sitedel_count *sd = NULL;
	struct metrics_sitedel *msd = NULL;
	struct metrics_share *msh = NULL;
	struct brake_stats bs;
	size_t nsd = 0, nsh = 0;
	int r;

	if (!c || !path)
		return 0;
	if (c->space)
		space_get_status(c->space, &sp);
	exclusions_get_totals(c->excl, &et);
	trash_get_counters(c->conf.trash, &tc);
	if (c->sweep)
		sweep_get_status(c->sweep, &st);
	audit_get_stats(c->audit, &as);
	if ((r = trash_usage_all(c->conf.trash, add_site, &acc)) < 0 ||
	    (r = attribute_root_ops(c, &acc)) < 0)
		goto out;
	for (size_t i = 0; i < acc.n; i++) {   /* a held site expires nothing */
		struct site_policy p;

		if (!strcmp(acc.v[i].site, "/") ||
		    sitepolicy_get(c->conf.backing_fd, acc.v[i].site, &p) < 0)
			continue;
		if (p.hold)
			acc.v[i].next_expiry_s = 0;
		acc.v[i].trash_max = p.trash_max;
	}
	if (c->space && (r = share_metrics(c->space, &msh, &nsh)) < 0)
		goto out;
	brake_get_stats(c->brake, &bs);
	if ((r = sitedel_snapshot(c->sitedel, &sd, &nsd)) < 0)
		goto out;
	static_assert(sizeof(sd->site) == sizeof(((struct metrics_sitedel *)0)->site),
		      "site names of one size");
	if (nsd && !(msd = calloc(nsd, sizeof(*msd)))) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nsd; i++) {
		memcpy(msd[i].site, sd[i].site, sizeof(msd[i].site));
		msd[i].whole = sd[i].whole;
		msd[i].trees = sd[i].trees;
	}
	m = (struct metrics){
		.down = !up,
		.ops_created = tc.ops_created, .ops_restored = tc.restores,
		.ops_purged = tc.purged, .index_errors = tc.record_errors,
		.audit_errors = as.failures, .sweeper_lag_s = st.lag_s,
		.clock_skew_s = st.skew_s, .nsites = acc.n, .sites = acc.v,
		.space_known = sp.known, .backing_size_bytes = sp.total,
		.backing_free_bytes = sp.avail, .space_floor_bytes = sp.floor,
		.space_pressure = sp.pressure, .evictable_ops = sp.eligible_ops,
		.evictable_bytes = sp.eligible_bytes, .evicted_ops = sp.evicted_ops,
		.evicted_bytes = sp.evicted_bytes, .excluded_items = et.items,
		.excluded_bytes = et.bytes, .sweeper_last_pass_s = st.last_pass_s,
		.sweeper_interval_s = c->conf.sweep_interval_s,
		.clock_jump_s = c->conf.clock_jump_s, .written_s = sys.wall_ns() / 1000000000,
		.nsitedel = nsd, .sitedel = msd, .brake_limit = bs.limit,
		.brake_window_s = bs.window_s, .braked_runs = bs.braked, .brake_trips = bs.trips,
		.nshares = nsh, .shares = msh,
	};
	datapath_metrics(&m);
	if (c->conf.ow) {
		struct overwrite_counters oc;

		overwrite_get_counters(c->conf.ow, &oc);
		m.overwrite_cloned = oc.cloned;
		m.overwrite_copied = oc.copied;
		m.overwrite_unpreserved = oc.unpreserved;
		m.overwrite_copying = oc.copying;
		m.overwrite_waiting = oc.waiting;
		m.overwrite_waits = oc.waits;
		m.overwrite_peak_per_uid = oc.peak_per_uid;
	}
	r = metrics_write(path, &m);
out:
	free(msh);
	free(msd);
	free(sd);
	free(acc.v);
	return r;
}

