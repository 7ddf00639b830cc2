/*
 * verbs_undo — the undo verbs (see ctlcmd.h): undo of one op, the many ops
 * of one site in one request (undo-ops, gracectl's bulk undo), and the
 * removal of what a run created (uncreate).  Each streams a line per
 * exceptional step and audits every op it restored in the peer's name.
 *
 * Threading: no state of its own; see ctlcmd.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/verbs_int.h"

/* One op being undone: where its step lines and audit rows go. */
struct undo_ctx {
	struct req *rq;
	const char *scope, *op;
	size_t steps;          /* steps done, for the progress lines */
	bool announced;        /* undo-ops: its "op" line was sent */
};

/* Report the exceptional steps (mkdir, renamed, replaced, followed, failed);
 * moves are counted. */
static int undo_step_line(void *arg, const struct undo_step *s, const char *to, bool renamed,
			  int err)
{
	struct undo_ctx *u = arg;
	struct req *rq = u->rq;
	char detail[CATALOG_TEXT_MAX];
	/* in the root scope the items are whole sites: file them under their names */
	const char *site = *u->scope ? u->scope : s->from, *op = u->op;
	bool line = err || s->kind == UNDO_MKDIR || s->kind == UNDO_REPLACE || renamed ||
		    (s->kind == UNDO_MOVE && strcmp(s->from, to)) ||
		    (u->steps + 1) % CTLCMD_PROGRESS_STEPS == 0;

	if (line && !u->announced) {   /* undo-ops: say whose lines follow */
		ctl_emitf(rq->out, "op", op, NULL);
		u->announced = true;
	}
	if (err) {
		ctl_emitf(rq->out, "failed", s->from, ctl_errno_name(err), NULL);
		snprintf(detail, sizeof(detail), "failed: %s", strerror(-err));
		ctlv_audit(rq, AUDIT_EV_RESTORE, site, op, s->from, detail);
	} else if (s->kind == UNDO_MKDIR) {
		ctl_emitf(rq->out, "mkdir", to, NULL);
	} else if (s->kind == UNDO_REPLACE && !renamed) {
		ctl_emitf(rq->out, "replaced", s->from, to, NULL);
		ctlv_audit(rq, AUDIT_EV_RESTORE, site, op, s->from,
		      s->flags & (UNDO_F_TO_TRASH | UNDO_F_TRASH_ONLY) ?
		      "put back over the version that had replaced it by a rename (that "
		      "version moved to a new op in trash)" :
		      "replaced the truncated live version (kept in the op)");
	} else if (renamed && (s->flags & UNDO_F_CHANGED)) {
		/* replaced by a rename, and that replacement changed since */
		ctl_emitf(rq->out, "changed", s->from, to, NULL);
		snprintf(detail, sizeof(detail), "to=%s (a rename replaced it; the live file "
			 "changed since, so it stays)", to);
		ctlv_audit(rq, AUDIT_EV_RESTORE, site, op, s->from, detail);
	} else if (renamed) {
		ctl_emitf(rq->out, "renamed", s->from, to, NULL);
		snprintf(detail, sizeof(detail), "to=%s (original name taken)", to);
		ctlv_audit(rq, AUDIT_EV_RESTORE, site, op, s->from, detail);
		if (!*rq->argv[1] && !strchr(to, '/')) {
			/* a deleted site came back beside its re-created name: a new site */
			snprintf(detail, sizeof(detail), "restored site %s of op:/%s (its name "
				 "was taken)", s->from, op);
			ctlv_audit(rq, AUDIT_EV_SITE_ADD, to, NULL, NULL, detail);
		}
	} else if (s->kind == UNDO_MOVE && strcmp(s->from, to)) {
		/* its parent came back under a new name: it went there too */
		ctl_emitf(rq->out, "followed", s->from, to, NULL);
		snprintf(detail, sizeof(detail), "to=%s (follows its parent, restored under a "
			 "new name)", to);
		ctlv_audit(rq, AUDIT_EV_RESTORE, site, op, s->from, detail);
	} else if (!*u->scope) {
		ctlv_audit(rq, AUDIT_EV_RESTORE, site, op, NULL, "whole site");
	}
	if (++u->steps % CTLCMD_PROGRESS_STEPS == 0) {
		char n[24];

		snprintf(n, sizeof(n), "%zu", u->steps);
		ctl_emitf(rq->out, "progress", n, NULL);
	}
	return 0;   /* never stop half-way because the client went away */
}

/* After one op's undo (r: what undo_op returned): its undo audit row, and
 * in msg why it failed, if it did.  Returns r, or 0 when r is an error
 * that changed nothing worth reporting as such. */
static int undo_settled(struct req *rq, const char *scope, const char *op, int r,
			const struct undo_result *res, char *msg, size_t cap)
{
	char n[24], detail[160];

	*msg = '\0';
	if (r == -ENOENT && !res->moved && !res->renamed && !res->failed) {
		snprintf(msg, cap, "no op %s/%s in trash", scope, op);
		return r;
	}
	if ((r == -EPERM || r == -EBUSY) && !res->moved && !res->renamed && !res->failed) {
		snprintf(msg, cap, "op %s/%s %s: nothing was restored", scope, op, r == -EPERM ?
			 "is under legal hold (a held item is restored by copying it)" :
			 "is being purged");
		return r;
	}
	snprintf(n, sizeof(n), " replaced=%zu", res->replaced);
	snprintf(detail, sizeof(detail), "moved=%zu renamed=%zu mkdirs=%zu failed=%zu "
		 "merged=%zu%s%s", res->moved, res->renamed, res->mkdirs, res->failed, res->merged,
		 res->replaced ? n : "", r < 0 ? " (incomplete)" : "");
	ctlv_audit(rq, AUDIT_EV_UNDO, scope, op, NULL, detail);
	if (r < 0)
		snprintf(msg, cap, "%zu item(s) of %s/%s not restored (first error: %s)",
			 res->failed, scope, op, strerror(-r));
	return r;
}

/* The counts of one op's undo as the fields of a done/result line. */
static void emit_counts(struct req *rq, const char *head, const char *op, const char *status,
			const struct undo_result *res, const char *msg)
{
	char n[5][24];

	snprintf(n[0], sizeof(n[0]), "%zu", res->moved);
	snprintf(n[1], sizeof(n[1]), "%zu", res->renamed);
	snprintf(n[2], sizeof(n[2]), "%zu", res->mkdirs);
	snprintf(n[3], sizeof(n[3]), "%zu", res->failed);
	snprintf(n[4], sizeof(n[4]), "%zu", res->merged);
	if (op)
		ctl_emitf(rq->out, head, op, status, "moved", n[0], "renamed", n[1], "mkdirs",
			  n[2], "failed", n[3], "merged", n[4], msg, NULL);
	else
		ctl_emitf(rq->out, head, "moved", n[0], "renamed", n[1], "mkdirs", n[2],
			  "failed", n[3], "merged", n[4], NULL);
}

int ctlv_undo(struct req *rq)
{
	const struct ctlcmd_ops *o = rq->c->ops;
	const char *scope = rq->argv[1], *op = rq->argv[2];
	struct undo_result *res = &rq->res;
	struct undo_ctx u = { rq, scope, op, 0, true };
	char msg[sizeof(rq->sites) + 200];
	int r;

	if ((r = ctlv_check_op(rq, scope, op)) < 0)
		return r;
	if (!o || !o->undo_op)
		return ctlv_need_daemon(rq);
	ctlv_root_sites(rq, scope, op);
	r = o->undo_op(rq->c->arg, scope, op, rq->argc > 3 ? rq->argv[3] : NULL, undo_step_line,
		       &u, res);
	if (r == -ENOENT && !res->moved && !res->renamed && !res->failed)
		return undo_settled(rq, scope, op, r, res, rq->msg, rq->cap);
	if ((r == -EPERM || r == -EBUSY) && !res->moved && !res->renamed && !res->failed)
		return undo_settled(rq, scope, op, r, res, rq->msg, rq->cap);
	emit_counts(rq, "done", NULL, NULL, res, NULL);
	if (undo_settled(rq, scope, op, r, res, msg, sizeof(msg)) < 0)
		return ctlv_fail(rq, r, "%s", msg);
	return 0;
}

/* uncreate RUN: one line per created item, then the counts */
struct uncreate_counts {
	struct req *rq;
	size_t n[5];   /* moved changed kept gone failed */
};

static void uncreate_line(void *arg, const struct created_item *it, int verdict,
			  const char *why, const char *op, int err)
{
	struct uncreate_counts *u = arg;
	struct ctl_out *out = u->rq->out;

	if (err) {
		ctl_emitf(out, "failed", it->rec.site, it->path, ctl_errno_name(err), NULL);
		u->n[4]++;
	} else if (verdict == CREATED_MOVE) {
		ctl_emitf(out, "moved", it->rec.site, it->path, op, NULL);
		u->n[0]++;
	} else {
		ctl_emitf(out, created_verdict_name(verdict), it->rec.site, it->path, why, NULL);
		u->n[verdict == CREATED_CHANGED ? 1 : verdict == CREATED_KEPT ? 2 : 3]++;
	}
}

int ctlv_uncreate(struct req *rq)
{
	const struct ctlcmd_ops *o = rq->c->ops;
	struct uncreate_counts u = { rq, { 0 } };
	char n[5][24], detail[200 + NAME_MAX];
	struct ctl_id id;
	int r;

	if ((r = ctlv_wire_run(rq, rq->argv[1], &id)) < 0)
		return r;
	if (!o || !o->uncreate)
		return ctlv_need_daemon(rq);
	if ((r = o->uncreate(rq->c->arg, &rq->who, id.name, uncreate_line, &u)) < 0)
		return ctlv_fail(rq, r, "cannot plan what run:%s created: %s", id.name, strerror(-r));
	for (int i = 0; i < 5; i++)
		snprintf(n[i], sizeof(n[i]), "%zu", u.n[i]);
	ctl_emitf(rq->out, "done", "moved", n[0], "changed", n[1], "kept", n[2], "gone", n[3],
		  "failed", n[4], NULL);
	snprintf(detail, sizeof(detail), "run:%s --created: moved=%zu changed=%zu kept=%zu "
		 "gone=%zu failed=%zu", id.name, u.n[0], u.n[1], u.n[2], u.n[3], u.n[4]);
	ctlv_audit(rq, AUDIT_EV_UNDO, NULL, NULL, NULL, detail);
	return u.n[4] ? ctlv_fail(rq, -EIO, "%zu created item(s) of run:%s could not be moved",
			     u.n[4], id.name) : 0;
}

/* undo-ops SITE RUN OP…: many ops of one site in one request. */
int ctlv_undo_ops(struct req *rq)
{
	const struct ctlcmd_ops *o = rq->c->ops;
	const char *scope = rq->argv[1], *run = rq->argv[2];
	const char *const *ops = (const char *const *)rq->argv + 3;
	size_t n = (size_t)rq->argc - 3;
	struct undo_ctx *u = NULL;
	struct undo_result *res = NULL;
	void **args = NULL;
	int *rc = NULL, r;

	if (!*scope)
		return ctlv_fail(rq, -EINVAL, "undo-ops takes the ops of a site; undo whole deleted "
			    "sites one at a time");
	for (size_t i = 0; i < n; i++)
		if ((r = ctlv_check_op(rq, scope, ops[i])) < 0)
			return r;
	if (!o || !o->undo_ops)
		return ctlv_need_daemon(rq);
	u = calloc(n, sizeof(*u));
	res = calloc(n, sizeof(*res));
	args = calloc(n, sizeof(*args));
	rc = calloc(n, sizeof(*rc));
	if (!u || !res || !args || !rc) {
		r = ctlv_fail(rq, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		u[i] = (struct undo_ctx){ rq, scope, ops[i], 0, false };
		args[i] = &u[i];
	}
	r = o->undo_ops(rq->c->arg, scope, ops, n, *run ? run : NULL, undo_step_line,
			(void *const *)args, res, rc);
	if (r < 0) {
		r = ctlv_fail(rq, r, "undo of %zu ops of site %s: %s", n, scope, strerror(-r));
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		char msg[600];
		int e = undo_settled(rq, scope, ops[i], rc[i], &res[i], msg, sizeof(msg));

		emit_counts(rq, "result", ops[i], e < 0 ? ctl_errno_name(e) : "OK", &res[i], msg);
	}
out:
	free(u);
	free(res);
	free(args);
	free(rc);
	return r;
}
