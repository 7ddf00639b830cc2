/*
 * verbs_int — what the control verbs' files share (fs/ctl/verbs.c, the
 * table and most verbs; fs/ctl/verbs_undo.c, the undo verbs): the request
 * a verb works on and the helpers every verb uses.  Not for other layers.
 */
#ifndef GRACEFS_CTL_VERBS_INT_H
#define GRACEFS_CTL_VERBS_INT_H

#include "ctl/verbs.h"

struct req {
	const struct ctlcmd_ctx *c;
	const struct ctl_peer *peer;
	char **argv;
	int argc;
	struct ctl_out *out;
	char *msg;
	size_t cap;
	struct caller who;     /* the peer process, for the audit */
	struct undo_result res;
	uint64_t removed;      /* purge: entries removed so far */
	char sites[1024];      /* a root op's deleted sites, read before it acts */
};

/* Put the message for the peer in rq->msg; returns err. */
__attribute__((format(printf, 3, 4)))
int ctlv_fail(struct req *rq, int err, const char *fmt, ...);
/* The verb needs the running daemon, and none serves: -ENOTCONN. */
int ctlv_need_daemon(struct req *rq);
/* The peer as a row's actor. */
void ctlv_peer_row(const struct req *rq, struct audit_row *row);
/* One audit row in the peer's name (a root op's rows are filed under the
 * sites it holds, read by ctlv_root_sites). */
void ctlv_audit(struct req *rq, const char *event, const char *site, const char *op,
		const char *path, const char *detail);
/* A root op's deleted sites, for its audit rows (read while it exists). */
void ctlv_root_sites(struct req *rq, const char *scope, const char *op);
/* Is scope/op a well-formed op address?  0 or -EINVAL (message set). */
int ctlv_check_op(struct req *rq, const char *scope, const char *op);
/* The site must be a directory of the backing store.  0 or -errno. */
int ctlv_check_site(struct req *rq, const char *site);
/* The catalog row of an existing site directory, registered if missing. */
int ctlv_catalog_row(struct req *rq, const char *site, struct catalog_site *s);

/* A bare run ID on the wire (no "run:"), checked like a typed one.
 * 0 or -EINVAL (the message in rq). */
int ctlv_wire_run(struct req *rq, const char *arg, struct ctl_id *id);

/* verbs_undo.c: undo SCOPE OP [RUN], uncreate RUN, undo-ops SCOPE RUN OP... */
int ctlv_undo(struct req *rq);
int ctlv_uncreate(struct req *rq);
int ctlv_undo_ops(struct req *rq);

#endif
