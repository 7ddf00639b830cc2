/*
 * ctlcmd — the control verbs (see ctlcmd.h): one function per verb, found
 * through a table (the undo verbs are in verbs_undo.c).  Each verb checks all of its arguments before it
 * changes anything, then audits what it did in the name of the peer.
 *
 * Site retention and hold live in the site policy xattrs (sitepolicy.h,
 * the truth the sweeper reads); the catalog's columns mirror them for
 * listings and history, and are written second.
 *
 * Threading: no state of its own; see ctlcmd.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl/verbs.h"
#include "ctl/verbs_int.h"
#include "engine/evict.h"
#include "engine/exclude_glob.h"
#include "lib/procinfo.h"
#include "engine/overwrite.h"
#include "engine/sitepolicy.h"
#include "lib/sys.h"
#include "lib/util.h"
#include "store/auditarch.h"
#include "store/layout.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- typed IDs and tokens ---- */

static const char *kind_word(unsigned want)
{
	static const char *const words[8] = {
		"an ID", "site:…", "op:…", "site:… or op:…", "run:…", "site:… or run:…",
		"op:… or run:…", "site:…, op:… or run:…",
	};

	return words[want & 7];
}

static const char *kind_name(enum ctl_id_kind k)
{
	return k == CTL_ID_SITE ? "a site" : k == CTL_ID_OP ? "an op" : "a run";
}

static bool op_name_valid(const char *s)
{
	int64_t t;
	uint32_t pid;

	return strlen(s) <= NAME_MAX && util_parse_op_name(s, &t, &pid);
}

int ctlcmd_parse_id(const char *s, unsigned want, struct ctl_id *id, char *msg, size_t cap)
{
	const char *colon = strchr(s, ':'), *v, *slash;

	memset(id, 0, sizeof(*id));
	if (!colon) {   /* write it as each kind the command takes */
		static const char *const kinds[] = { "site", "op", "run" };
		size_t len = (size_t)snprintf(msg, cap, "untyped ID '%s': write", s);
		unsigned k = 0, total = __builtin_popcount(want & 7);

		for (unsigned i = 0; i < 3; i++)
			if (want & (1u << i) && len < cap)
				len += (size_t)snprintf(msg + len, cap - len, "%s %s:%s",
							!k++ ? "" : k == total ? " or" : ",",
							kinds[i], s);
		return -EINVAL;
	}
	v = colon + 1;
	if (!strncmp(s, "site:", 5)) {
		id->kind = CTL_ID_SITE;
	} else if (!strncmp(s, "op:", 3)) {
		id->kind = CTL_ID_OP;
	} else if (!strncmp(s, "run:", 4)) {
		id->kind = CTL_ID_RUN;
	} else {
		snprintf(msg, cap, "unknown ID kind '%.*s:' in '%s' (expected %s)",
			 (int)(colon - s), s, s, kind_word(want));
		return -EINVAL;
	}
	if (!(want & id->kind)) {
		snprintf(msg, cap, "'%s' is %s ID; this command takes %s", s,
			 kind_name(id->kind), kind_word(want));
		return -EINVAL;
	}
	if (id->kind == CTL_ID_RUN) {   /* an op name's form, without ".N" */
		if (strlen(v) >= UTIL_RUN_MAX || !op_name_valid(v) ||
		    strchr(strrchr(v, '-'), '.'))
			goto bad;
		strcpy(id->name, v);
		return 0;
	}
	if (id->kind == CTL_ID_SITE) {
		if (!catalog_site_id_valid(v))
			goto bad;
		strcpy(id->site, v);
		return 0;
	}
	if ((slash = strchr(v, '/'))) {
		size_t n = (size_t)(slash - v);

		if (n > NAME_MAX)
			goto bad;
		memcpy(id->site, v, n);
		id->site[n] = '\0';
		if (n && !catalog_site_id_valid(id->site))
			goto bad;
		id->scoped = true;
		v = slash + 1;
	}
	if (!op_name_valid(v))
		goto bad;
	strcpy(id->name, v);
	return 0;
bad:
	snprintf(msg, cap, "malformed ID '%s'", s);
	return -EINVAL;
}

void ctlcmd_plan_token(const char *body, char out[CTLCMD_TOKEN_LEN + 1])
{
	uint64_t h = UINT64_C(14695981039346656037);
	char hex[17];

	for (const unsigned char *p = (const unsigned char *)body; *p; p++)
		h = (h ^ *p) * UINT64_C(1099511628211);
	snprintf(hex, sizeof(hex), "%016" PRIx64, h);
	memcpy(out, hex, CTLCMD_TOKEN_LEN);
	out[CTLCMD_TOKEN_LEN] = '\0';
}

/* ---- requests (struct req: verbs_int.h) ---- */

int ctlv_fail(struct req *rq, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rq->msg, rq->cap, fmt, ap);
	va_end(ap);
	return err;
}

int ctlv_need_daemon(struct req *rq)
{
	return ctlv_fail(rq, -ENOTCONN, "%s needs the running daemon (none serves this backing store)",
		    rq->argv[0]);
}

/* The peer as a row's actor. */
void ctlv_peer_row(const struct req *rq, struct audit_row *row)
{
	row->uid = rq->peer->uid;
	row->pid = rq->peer->pid;
	row->cmdline = rq->who.cmdline;
	row->run = rq->who.run;
}

void ctlv_audit(struct req *rq, const char *event, const char *site, const char *op,
		  const char *path, const char *detail)
{
	struct audit_row row = AUDIT_ROW_INIT;

	row.event = event;
	/* a root op's rows are filed under the sites it holds */
	row.site = site && !*site && op && *rq->sites ? rq->sites : site;
	row.op = op;
	row.path = path;
	ctlv_peer_row(rq, &row);
	row.detail = detail;
	audit_log(rq->c->audit, &row);
}

/* A root op's deleted sites, for its audit rows (read while it exists). */
void ctlv_root_sites(struct req *rq, const char *scope, const char *op)
{
	if (!*scope)
		layout_root_op_sites(rq->c->backing_fd, op, rq->sites, sizeof(rq->sites));
}

/* Is scope/op a well-formed op address? */
int ctlv_check_op(struct req *rq, const char *scope, const char *op)
{
	if ((*scope && !catalog_site_id_valid(scope)) || !op_name_valid(op))
		return ctlv_fail(rq, -EINVAL, "malformed op '%s/%s'", scope, op);
	return 0;
}

/* The site must be a directory of the backing store. */
int ctlv_check_site(struct req *rq, const char *site)
{
	struct stat st;

	if (!catalog_site_id_valid(site))
		return ctlv_fail(rq, -EINVAL, "malformed site id '%s'", site);
	if (fstatat(rq->c->backing_fd, site, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
		return ctlv_fail(rq, -ENOENT, "unknown site '%s'", site);
	return 0;
}

/* The catalog row of an existing site directory, registered if missing. */
int ctlv_catalog_row(struct req *rq, const char *site, struct catalog_site *s)
{
	int r = catalog_site_get(rq->c->cat, site, s);

	if (r == -ENOENT) {
		memset(s, 0, sizeof(*s));
		snprintf(s->id, sizeof(s->id), "%s", site);
		strcpy(s->kind, "site");
		s->created_s = sys.wall_ns() / 1000000000;
		r = catalog_site_upsert(rq->c->cat, s);
	}
	return r < 0 ? ctlv_fail(rq, r, "catalog: site '%s': %s", site, strerror(-r)) : 0;
}

/* A bare run ID on the wire (no "run:"), checked like a typed one.
 * 0 or -EINVAL (the message in rq). */
int ctlv_wire_run(struct req *rq, const char *arg, struct ctl_id *id)
{
	char typed[8 + UTIL_RUN_MAX];

	if (strlen(arg) >= UTIL_RUN_MAX)
		return ctlv_fail(rq, -EINVAL, "malformed ID 'run:%.40s…'", arg);
	snprintf(typed, sizeof(typed), "run:%.*s", UTIL_RUN_MAX - 1, arg);
	return ctlcmd_parse_id(typed, CTL_ID_RUN, id, rq->msg, rq->cap) < 0 ? -EINVAL : 0;
}

/* ---- verbs ---- */

static int v_sync(struct req *rq)
{
	const struct ctlcmd_ops *o = rq->c->ops;
	int r;

	if (!o || !o->sync)
		return ctlv_need_daemon(rq);
	return (r = o->sync(rq->c->arg)) < 0 ? ctlv_fail(rq, r, "cannot store the open ops' "
						    "records: %s", strerror(-r)) : 0;
}

static int v_status(struct req *rq)
{
	const struct ctlcmd_ops *o = rq->c->ops;

	return o && o->status ? o->status(rq->c->arg, rq->out) : ctlv_need_daemon(rq);
}

/* release run RUN: the mass-deletion brake on RUN lifted */
static int release_run(struct req *rq)
{
	const struct ctlcmd_ops *o = rq->c->ops;
	char detail[64 + NAME_MAX], n[32];
	struct ctl_id cid;
	size_t ops = 0;
	int r;

	if ((r = ctlv_wire_run(rq, rq->argv[2], &cid)) < 0)
		return r;
	if (!o || !o->run_release)
		return ctlv_need_daemon(rq);
	if ((r = o->run_release(rq->c->arg, cid.name, &ops)) == -ENOENT) {
		ctl_emitf(rq->out, "unchanged", "not braked", NULL);
		return 0;
	}
	if (r < 0)
		return ctlv_fail(rq, r, "run %s: cannot release the brake: %s", cid.name, strerror(-r));
	snprintf(detail, sizeof(detail), "brake run=%s ops_released=%zu", cid.name, ops);
	ctlv_audit(rq, AUDIT_EV_RELEASE, NULL, NULL, NULL, detail);
	ctl_emitf(rq->out, "released", (snprintf(n, sizeof(n), "%zu", ops), n), NULL);
	return 0;
}

/* hold|release site SITE  /  hold|release op SCOPE OP  /  release run RUN */
static int v_hold(struct req *rq)
{
	const struct ctlcmd_ops *o = rq->c->ops;
	bool hold = !strcmp(rq->argv[0], "hold"), site = !strcmp(rq->argv[1], "site");
	const char *ev = hold ? AUDIT_EV_HOLD : AUDIT_EV_RELEASE;
	struct catalog_site s;
	int r;

	if (site && rq->argc == 3) {
		struct site_policy pol;

		if ((r = ctlv_check_site(rq, rq->argv[2])) < 0 || (r = ctlv_catalog_row(rq, rq->argv[2], &s)) < 0)
			return r;
		if (sitepolicy_get(rq->c->backing_fd, rq->argv[2], &pol) == 0 && pol.hold == hold) {
			/* nothing to do is done: no change, no audit row */
			ctl_emitf(rq->out, "unchanged", hold ? "held" : "not held", NULL);
			return 0;
		}
		if ((r = sitepolicy_set_hold(rq->c->backing_fd, rq->argv[2], hold)) < 0)
			return ctlv_fail(rq, r, "site '%s': cannot set hold: %s", rq->argv[2], strerror(-r));
		ctlv_audit(rq, ev, rq->argv[2], NULL, NULL, NULL);
		if ((r = catalog_site_set_hold(rq->c->cat, rq->argv[2], hold)) < 0)
			return ctlv_fail(rq, r, "hold set, but the catalog copy failed: %s", strerror(-r));
		return 0;
	}
	if (!hold && !strcmp(rq->argv[1], "run") && rq->argc == 3)
		return release_run(rq);
	if (strcmp(rq->argv[1], "op") || rq->argc != 4)
		return ctlv_fail(rq, -EINVAL, "usage: %s site SITE | %s op SCOPE OP%s", rq->argv[0],
			    rq->argv[0], hold ? "" : " | release run RUN");
	if ((r = ctlv_check_op(rq, rq->argv[2], rq->argv[3])) < 0)
		return r;
	if (!o || !o->op_hold)
		return ctlv_need_daemon(rq);
	ctlv_root_sites(rq, rq->argv[2], rq->argv[3]);
	if ((r = o->op_hold(rq->c->arg, rq->argv[2], rq->argv[3], hold)) < 0)
		return ctlv_fail(rq, r, "op %s/%s: %s", rq->argv[2], rq->argv[3], strerror(-r));
	ctlv_audit(rq, ev, rq->argv[2], rq->argv[3], NULL, NULL);
	return 0;
}

/* A "progress REMOVED" line after each purge step (a batch of entries). */
static void purge_step_line(void *arg, uint64_t removed)
{
	struct req *rq = arg;
	char n[24];

	rq->removed = removed;
	snprintf(n, sizeof(n), "%" PRIu64, removed);
	ctl_emitf(rq->out, "progress", n, NULL);
}

static int v_purge(struct req *rq)
{
	const struct ctlcmd_ops *o = rq->c->ops;
	const char *scope = rq->argv[1], *op = rq->argv[2], *reason = rq->argv[3];
	struct site_policy pol;
	struct op_record rec;
	char detail[CATALOG_TEXT_MAX], items[24], bytes[24];
	int r;

	if ((r = ctlv_check_op(rq, scope, op)) < 0)
		return r;
	if (!reason[strspn(reason, " \t")])
		return ctlv_fail(rq, -EINVAL, "purge needs a reason (it is recorded in the audit log)");
	if (*scope && sitepolicy_get(rq->c->backing_fd, scope, &pol) == 0 && pol.hold)
		return ctlv_fail(rq, -EPERM, "site '%s' is under legal hold", scope);
	if (!o || !o->purge)
		return ctlv_need_daemon(rq);
	ctlv_root_sites(rq, scope, op);
	if ((r = o->purge(rq->c->arg, scope, op, &rec, purge_step_line, rq)) < 0) {
		if (r == -EPERM) {   /* held before it began, or a hold stopped it */
			snprintf(detail, sizeof(detail), "purge refused: under legal hold after %"
				 PRIu64 " entries; reason=%s", rq->removed, reason);
			ctlv_audit(rq, AUDIT_EV_DENIED, scope, op, NULL, detail);
		}
		return ctlv_fail(rq, r, "op %s/%s: %s", scope, op, r == -EPERM ? "under legal hold" :
			    r == -EBUSY ? "still collecting deletions" : strerror(-r));
	}
	snprintf(items, sizeof(items), "%" PRIu64, rec.items);
	snprintf(bytes, sizeof(bytes), "%" PRIu64, rec.bytes);
	ctl_emitf(rq->out, "purged", items, bytes, NULL);
	snprintf(detail, sizeof(detail), "items=%s bytes=%s deleter_uid=%" PRIu32 " reason=%s",
		 items, bytes, rec.uid, reason);
	ctlv_audit(rq, AUDIT_EV_PURGE, scope, op, NULL, detail);
	return 0;
}

static int v_site_add(struct req *rq)
{
	struct catalog_site s = { .state = CATALOG_ACTIVE };
	int r;

	if ((r = ctlv_check_site(rq, rq->argv[1])) < 0)
		return r;
	if (!catalog_kind_valid(rq->argv[2]))
		return ctlv_fail(rq, -EINVAL, "malformed kind '%s' ([a-z0-9_-], at most %d)",
			    rq->argv[2], CATALOG_KIND_MAX);
	if (catalog_site_get(rq->c->cat, rq->argv[1], &s) == 0) {
		if (strcmp(s.kind, rq->argv[2]))
			return ctlv_fail(rq, -EEXIST, "site '%s' is already in the catalog, of kind '%s' "
				    "(change it with site set kind=%s)", rq->argv[1], s.kind,
				    rq->argv[2]);
		ctl_emitf(rq->out, "unchanged", "already in the catalog", NULL);
		return 0;   /* as asked already: done */
	}
	snprintf(s.id, sizeof(s.id), "%s", rq->argv[1]);
	snprintf(s.kind, sizeof(s.kind), "%s", rq->argv[2]);
	s.created_s = sys.wall_ns() / 1000000000;
	if ((r = catalog_site_upsert(rq->c->cat, &s)) < 0)
		return ctlv_fail(rq, r, "catalog: %s", strerror(-r));
	ctlv_audit(rq, AUDIT_EV_SITE_ADD, s.id, NULL, NULL, s.kind);
	return 0;
}

/* The space settings of site-set (space.h, exclusions.h): parsed into sp
 * by space_key, applied by space_apply once every key has been checked. */
struct space_set {
	int64_t trash_max;                   /* -1: unchanged; 0: no cap */
	bool exclude;                        /* list given */
	char list[EXCLUDE_LIST_MAX + 1];     /* canonical; "" clears */
	bool nopreserve;                     /* nopreserve list given */
	char nolist[EXCLUDE_LIST_MAX + 1];   /* canonical; "" clears */
};

/* 1: not a space key; 0: parsed; -EINVAL: bad value (message set). */
static int space_key(struct req *rq, const char *k, const char *v, struct space_set *sp)
{
	struct exclude_set xs;
	char msg[256];
	uint64_t b;

	if (!strcmp(k, "trash_max")) {
		if (!strcmp(v, "none"))
			b = 0;
		else if (util_parse_size(v, &b) < 0 || b > INT64_MAX)
			return ctlv_fail(rq, -EINVAL, "bad trash_max '%s' (a size: 512M, 20G; or none)", v);
		sp->trash_max = (int64_t)b;
		return 0;
	}
	if (!strcmp(k, "exclude")) {
		if (exclude_parse(v, &xs, msg, sizeof(msg)) < 0)
			return ctlv_fail(rq, -EINVAL, "%s", msg);
		exclude_format(&xs, sp->list, sizeof(sp->list));
		sp->exclude = true;
		return 0;
	}
	if (!strcmp(k, "nopreserve")) {   /* the same patterns, for overwrites */
		if (exclude_parse(v, &xs, msg, sizeof(msg)) < 0)
			return ctlv_fail(rq, -EINVAL, "%s", msg);
		exclude_format(&xs, sp->nolist, sizeof(sp->nolist));
		sp->nopreserve = true;
		return 0;
	}
	return 1;
}

static int space_apply(struct req *rq, const char *site, const struct space_set *sp)
{
	char detail[EXCLUDE_LIST_MAX + 16], size[32];
	int r;

	if (sp->trash_max >= 0) {
		if ((r = sitepolicy_set_trash_max(rq->c->backing_fd, site, (uint64_t)sp->trash_max)) < 0)
			return ctlv_fail(rq, r, "site '%s': cannot set trash_max: %s", site, strerror(-r));
		util_format_size((uint64_t)sp->trash_max, size, sizeof(size));
		snprintf(detail, sizeof(detail), "trash_max=%s", sp->trash_max ? size : "none");
		ctlv_audit(rq, AUDIT_EV_SITE_SET, site, NULL, NULL, detail);
	}
	if (sp->exclude) {
		if ((r = sitepolicy_set_exclude(rq->c->backing_fd, site, sp->list)) < 0)
			return ctlv_fail(rq, r, "site '%s': cannot set exclude: %s", site, strerror(-r));
		if (rq->c->ops && rq->c->ops->policy_changed)
			rq->c->ops->policy_changed(rq->c->arg, site);
		snprintf(detail, sizeof(detail), "exclude=%s", *sp->list ? sp->list : "none");
		ctlv_audit(rq, AUDIT_EV_SITE_SET, site, NULL, NULL, detail);
	}
	if (sp->nopreserve) {
		if ((r = sitepolicy_set_nopreserve(rq->c->backing_fd, site, sp->nolist)) < 0)
			return ctlv_fail(rq, r, "site '%s': cannot set nopreserve: %s", site, strerror(-r));
		snprintf(detail, sizeof(detail), "nopreserve=%s", *sp->nolist ? sp->nolist : "none");
		ctlv_audit(rq, AUDIT_EV_SITE_SET, site, NULL, NULL, detail);
	}
	return 0;
}

/* What a site-set asks for; parsed whole before anything is set. */
struct site_set_args {
	const char *kind;
	int64_t ret, pmax;   /* ret -1: not given; pmax -2: not given, -1: mount's */
	int hold;            /* -1: not given */
	struct space_set sp;
};

/* Parse and check every KEY VALUE of a site-set (the retention floor too):
 * 0, or -EINVAL with the message set.  Changes nothing. */
static int site_set_parse(struct req *rq, struct site_set_args *a)
{
	char dur[32];
	int r;

	*a = (struct site_set_args){ .ret = -1, .pmax = -2, .hold = -1, .sp = { .trash_max = -1 } };
	if ((rq->argc - 2) % 2)
		return ctlv_fail(rq, -EINVAL, "usage: site-set SITE KEY VALUE [KEY VALUE]…");
	if ((r = ctlv_check_site(rq, rq->argv[1])) < 0)
		return r;
	for (int i = 2; i < rq->argc; i += 2) {
		const char *k = rq->argv[i], *v = rq->argv[i + 1];

		for (int j = 2; j < i; j += 2)
			if (!strcmp(rq->argv[j], k))
				return ctlv_fail(rq, -EINVAL, "setting '%s' given twice", k);
		if (!strcmp(k, "retention")) {
			if (!strcmp(v, "default"))
				a->ret = 0;
			else if (util_parse_duration(v, &a->ret) < 0)
				return ctlv_fail(rq, -EINVAL, "bad retention '%s' (e.g. 30d, 12h)", v);
			if (a->ret && a->ret < rq->c->retention_floor_s) {
				util_format_duration(rq->c->retention_floor_s, dur, sizeof(dur));
				return ctlv_fail(rq, -EINVAL, "retention %s is below the floor of %s "
					    "(min_retention)", v, dur);
			}
		} else if (!strcmp(k, "hold")) {
			a->hold = !strcmp(v, "on") || !strcmp(v, "1") || !strcmp(v, "true") ? 1 :
				  !strcmp(v, "off") || !strcmp(v, "0") || !strcmp(v, "false") ? 0 : -2;
			if (a->hold == -2)
				return ctlv_fail(rq, -EINVAL, "bad hold '%s' (on or off)", v);
		} else if (!strcmp(k, "kind")) {
			a->kind = v;
			if (!catalog_kind_valid(v))
				return ctlv_fail(rq, -EINVAL, "malformed kind '%s' ([a-z0-9_-], at most %d)",
					    v, CATALOG_KIND_MAX);
		} else if (!strcmp(k, "preserve_max")) {
			uint64_t sz;

			if (strcmp(v, "default") ? util_parse_size(v, &sz) < 0 ||
						   (a->pmax = (int64_t)sz, 0)
						 : (a->pmax = -1, 0))
				return ctlv_fail(rq, -EINVAL, "bad preserve_max '%s' (a size: 0, 4096, "
					    "64M, 1G, or default)", v);
		} else if ((r = space_key(rq, k, v, &a->sp)) <= 0) {
			if (r < 0)
				return r;
		} else {
			return ctlv_fail(rq, -EINVAL, "unknown setting '%s' (retention, hold, kind, "
				    "preserve_max, trash_max, exclude, nopreserve)", k);
		}
	}
	return 0;
}

/* site-check SITE KEY VALUE…: would this site-set be accepted?  The dry
 * run of gracectl site set asks, so that it refuses what --execute would
 * (the retention floor is the daemon's). */
static int v_site_check(struct req *rq)
{
	struct site_set_args a;

	return site_set_parse(rq, &a);
}

/* site-set SITE KEY VALUE…: everything is parsed before anything is set. */
static int v_site_set(struct req *rq)
{
	const char *site = rq->argv[1];
	struct site_set_args a;
	struct catalog_site s;
	char detail[128], dur[32];
	int r;

	if ((r = site_set_parse(rq, &a)) < 0)
		return r;
	if ((r = ctlv_catalog_row(rq, site, &s)) < 0)
		return r;
	if (a.ret >= 0) {
		if ((r = sitepolicy_set_retention(rq->c->backing_fd, site, a.ret,
						  rq->c->retention_floor_s)) < 0)
			return ctlv_fail(rq, r, "site '%s': cannot set retention: %s", site, strerror(-r));
		if (a.ret)
			util_format_duration(a.ret, dur, sizeof(dur));
		snprintf(detail, sizeof(detail), "retention=%s", a.ret ? dur : "default");
		ctlv_audit(rq, AUDIT_EV_SITE_SET, site, NULL, NULL, detail);
		if ((r = catalog_site_set_retention(rq->c->cat, site, a.ret)) < 0)
			return ctlv_fail(rq, r, "retention set, but the catalog copy failed: %s", strerror(-r));
	}
	if (a.hold >= 0) {
		if ((r = sitepolicy_set_hold(rq->c->backing_fd, site, a.hold)) < 0)
			return ctlv_fail(rq, r, "site '%s': cannot set hold: %s", site, strerror(-r));
		ctlv_audit(rq, a.hold ? AUDIT_EV_HOLD : AUDIT_EV_RELEASE, site, NULL, NULL, NULL);
		if ((r = catalog_site_set_hold(rq->c->cat, site, a.hold)) < 0)
			return ctlv_fail(rq, r, "hold set, but the catalog copy failed: %s", strerror(-r));
	}
	if (a.pmax >= -1) {
		if ((r = sitepolicy_set_preserve_max(rq->c->backing_fd, site, a.pmax)) < 0)
			return ctlv_fail(rq, r, "site '%s': cannot set preserve_max: %s", site, strerror(-r));
		if (a.pmax >= 0)
			util_format_size((uint64_t)a.pmax, dur, sizeof(dur));
		snprintf(detail, sizeof(detail), "preserve_max=%s", a.pmax >= 0 ? dur : "default");
		ctlv_audit(rq, AUDIT_EV_SITE_SET, site, NULL, NULL, detail);
	}
	if (a.kind) {
		snprintf(s.kind, sizeof(s.kind), "%s", a.kind);
		if ((r = catalog_site_upsert(rq->c->cat, &s)) < 0)
			return ctlv_fail(rq, r, "catalog: %s", strerror(-r));
		snprintf(detail, sizeof(detail), "kind=%s", a.kind);
		ctlv_audit(rq, AUDIT_EV_SITE_SET, site, NULL, NULL, detail);
	}
	return space_apply(rq, site, &a.sp);
}

static int v_protect(struct req *rq)
{
	bool on = !strcmp(rq->argv[0], "protect");
	const char *site = rq->argv[1];
	char path[CATALOG_PATH_MAX];
	struct catalog_site s;
	int r;

	if ((r = catalog_path_normalize(rq->argv[2], path, sizeof(path))) < 0)
		return ctlv_fail(rq, r, "bad path '%s' (site-relative, no . or .., not in .trash)",
			    rq->argv[2]);
	if ((r = ctlv_check_site(rq, site)) < 0 || (r = ctlv_catalog_row(rq, site, &s)) < 0)
		return r;
	r = on ? catalog_protect(rq->c->cat, site, path) : catalog_unprotect(rq->c->cat, site, path);
	if (r == (on ? -EEXIST : -ENOENT)) {   /* already as asked: done, no audit row */
		ctl_emitf(rq->out, "unchanged", on ? "already protected" : "not protected", NULL);
		return 0;
	}
	if (r < 0)
		return ctlv_fail(rq, r, "site '%s' path '/%s': %s", site, path,
			    r == -EEXIST ? "already protected" : r == -ENOENT ? "not protected" :
			    strerror(-r));
	ctlv_audit(rq, on ? AUDIT_EV_PROTECT : AUDIT_EV_UNPROTECT, site, NULL, path, NULL);
	if (rq->c->ops && rq->c->ops->protected_changed)
		rq->c->ops->protected_changed(rq->c->arg);
	return 0;
}

/* A decimal number of at most 19 digits. */
static bool parse_u64(const char *s, uint64_t *v)
{
	if (!*s || s[strspn(s, "0123456789")] || strlen(s) > 19)
		return false;
	*v = strtoull(s, NULL, 10);
	return true;
}

/*
 * audit-archive PATH BEFORE_NS FIRST LAST ROWS SHA256: gracectl wrote (and
 * read back) the archive file PATH of the planned rows; the rows leave the
 * log only now, under an "archive" row (catalog.h).
 * Steps: 1 remove what an interrupted archive left (covered rows: they are
 *        in its file); 2 check the file at PATH is the one planned (chain,
 *        count, range and sha256); 3 append the archive row, which a
 *        trigger checks against the log; 4 remove the rows it covers, a
 *        chunk per transaction.
 * A crash before 3 leaves the log whole (the file is a copy); after 3,
 * step 1 of the next archive finishes 4.
 */
static int v_audit_archive(struct req *rq)
{
	struct catalog_archive_plan p = {0};
	struct auditarch_info info;
	struct audit_row rec = AUDIT_ROW_INIT;
	char detail[512], before[32], msg[256], n[2][24];
	const char *path = rq->argv[1], *sha = rq->argv[6];
	uint64_t seq = 0, before_ns;
	int fd, r;

	if (path[0] != '/' || !parse_u64(rq->argv[3], &p.first_seq) ||
	    !parse_u64(rq->argv[4], &p.last_seq) || !parse_u64(rq->argv[5], &p.rows) ||
	    !parse_u64(rq->argv[2], &before_ns) || strlen(sha) != 64)
		return ctlv_fail(rq, -EINVAL, "audit-archive: malformed arguments");
	if ((r = catalog_audit_archive_finish(rq->c->cat, NULL)) < 0)
		return ctlv_fail(rq, r, "catalog: %s", strerror(-r));
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return ctlv_fail(rq, -errno, "archive file '%s': %s", path, strerror(errno));
	r = auditarch_verify(fd, &info, msg, sizeof(msg));
	close(fd);
	if (r < 0)
		return ctlv_fail(rq, r, "archive file '%s': %s", path, r == -EBADMSG ? msg : strerror(-r));
	if (info.first_seq != p.first_seq || info.last_seq != p.last_seq || info.rows != p.rows ||
	    strcmp(info.sha256, sha))
		return ctlv_fail(rq, -EINVAL, "archive file '%s' does not hold the planned rows", path);
	util_format_utc((int64_t)(before_ns / 1000000000), false, before, sizeof(before));
	snprintf(detail, sizeof(detail), "first=%" PRIu64 " last=%" PRIu64 " rows=%" PRIu64
		 " sha256=%s chain=%s before=%s", p.first_seq, p.last_seq, p.rows, sha, info.chain,
		 before);
	rec.ts_ns = sys.wall_ns();
	rec.path = path;
	ctlv_peer_row(rq, &rec);
	rec.detail = detail;
	if ((r = catalog_audit_archive(rq->c->cat, &rec, &p, sha, &seq)) < 0)
		return ctlv_fail(rq, r, "%s", r == -ESTALE ? "the audit log changed since the archive "
			    "was planned (nothing was removed): run the dry run again" :
			    strerror(-r));
	snprintf(n[0], sizeof(n[0]), "%" PRIu64, seq);
	snprintf(n[1], sizeof(n[1]), "%" PRIu64, p.rows);
	ctl_emitf(rq->out, "archived", n[0], n[1], NULL);
	return 0;
}

/* audit-archive-finish: remove what an interrupted archive left (rows an
 * archive row covers: they are in its file).  Line "removed N". */
static int v_audit_archive_finish(struct req *rq)
{
	uint64_t n = 0;
	char b[24];
	int r;

	if ((r = catalog_audit_archive_finish(rq->c->cat, &n)) < 0)
		return ctlv_fail(rq, r, "catalog: %s", strerror(-r));
	snprintf(b, sizeof(b), "%" PRIu64, n);
	ctl_emitf(rq->out, "removed", b, NULL);
	return 0;
}

static const struct verb {
	const char *name;
	int min, max;            /* argc, the verb included */
	int (*fn)(struct req *rq);
} verbs[] = {
	{ "status",    1, 1,            v_status },
	{ "sync",      1, 1,            v_sync },
	{ "undo",      3, 4,            ctlv_undo },
	{ "uncreate",  2, 2,            ctlv_uncreate },
	{ "undo-ops",  4, CTL_ARGC_MAX, ctlv_undo_ops },
	{ "hold",      3, 4,            v_hold },
	{ "release",   3, 4,            v_hold },
	{ "purge",     4, 4,            v_purge },
	{ "site-add",  3, 3,            v_site_add },
	{ "site-set",  4, CTL_ARGC_MAX, v_site_set },
	{ "site-check", 4, CTL_ARGC_MAX, v_site_check },
	{ "protect",   3, 3,            v_protect },
	{ "audit-archive", 7, 7,        v_audit_archive },
	{ "audit-archive-finish", 1, 1, v_audit_archive_finish },
	{ "unprotect", 3, 3,            v_protect },
};

int ctlcmd_handle(void *arg, const struct ctl_peer *peer, char **argv, int argc,
		  struct ctl_out *out, char *msg, size_t msgcap)
{
	struct req *rq;
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(verbs); i++) {
		const struct verb *v = &verbs[i];

		if (strcmp(v->name, argv[0]))
			continue;
		if (argc < v->min || argc > v->max) {
			snprintf(msg, msgcap, "%s: wrong number of arguments", v->name);
			return -EINVAL;
		}
		if (!(rq = calloc(1, sizeof(*rq))))
			return -ENOMEM;
		*rq = (struct req){ arg, peer, argv, argc, out, msg, msgcap };
		if (procinfo_read(peer->pid, &rq->who) < 0)
			rq->who.cmdline[0] = '\0';
		r = v->fn(rq);
		/* The audit writer is asynchronous; the reply waits for the
		 * verb's rows so that the next command (`gracectl log`, a
		 * follower's --after) reads what this one did. */
		audit_flush(rq->c->audit);
		free(rq);
		return r;
	}
	snprintf(msg, msgcap, "unknown verb '%s'", argv[0]);
	return -EINVAL;
}
