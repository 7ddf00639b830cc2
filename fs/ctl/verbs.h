/*
 * verbs (symbols ctlcmd_*) — the verbs of the control channel, and what gracectl and the
 * daemon share about them: typed IDs and dry-run plan tokens.
 *
 * The daemon passes ctlcmd_handle to ctl_server_start with a ctlcmd_ctx
 * whose ops reach into its trash engine; gracectl runs the same handler
 * in-process (ops NULL) when no daemon serves the backing store, so the
 * verbs that only touch the catalog and the site policy have one
 * implementation.  Verbs that need the engine answer -ENOTCONN there.
 *
 * Wire verbs (one request line; IDs already resolved by gracectl):
 *   status
 *   undo      SCOPE OP [RUN]      lines: mkdir TO | renamed FROM TO |
 *                                        failed FROM ENAME | progress STEPS |
 *                                        done moved N renamed N mkdirs N
 *                                        failed N merged N
 *             RUN (gracectl: the plan token) ties the ops of one bulk undo
 *             together: each is planned against what the run's earlier
 *             ops put back (undo.h, overlays)
 *   undo-ops  SITE RUN OP…        the ops of one site, in this order, as
 *                                 if each had its own undo request, in one
 *                                 round trip, one hold of the trash lock
 *                                 and one audit transaction (a bulk undo
 *                                 of many small ops: issue 19).  At most
 *                                 CTL_ARGC_MAX - 3 ops; RUN may be "".
 *                                 Lines: "op OP" before the step lines of
 *                                 that op (the undo lines above), then per
 *                                 op, in order: result OP OK|ENAME moved N
 *                                 renamed N mkdirs N failed N merged N MSG
 *                                 (MSG: why, when not OK).  The request
 *                                 itself is OK unless its arguments are bad.
 *   hold      site SITE | op SCOPE OP        (release: the same; release of
 *                                          an op lifts the brake's hold too)
 *   uncreate  RUN              undo run:ID --created: what RUN created and
 *                              nobody changed since goes into the peer's op
 *                              of each site (created.h); lines, one per
 *                              item: moved SITE PATH OP | changed SITE PATH
 *                              WHY | kept SITE PATH WHY | gone SITE PATH WHY
 *                              | failed SITE PATH ENAME; then done moved N
 *                              changed N kept N gone N failed N
 *   release   run RUN          lift the mass-deletion brake on RUN (brake.h):
 *                              line "released OPS", or "unchanged not braked"
 *   purge     SCOPE OP REASON      line: purged ITEMS BYTES
 *   site-add  SITE KIND
 *   site-set  SITE KEY VALUE [KEY VALUE]…  keys: retention (duration or
 *                                          "default"), hold (on/off), kind,
 *                                          trash_max (size or "none"),
 *                                          exclude (GLOB,… or "none")
 *   protect   SITE PATH            (unprotect: the same)
 *   audit-archive PATH BEFORE_NS FIRST LAST ROWS SHA256
 *                                  the audit rows FIRST..LAST (ROWS of them)
 *                                  are in archive file PATH (absolute, its
 *                                  digest SHA256): checked, then they leave
 *                                  the log under an "archive" row (catalog.h);
 *                                  line "archived SEQ ROWS".  Its own audit
 *                                  row is that archive row.
 *   audit-archive-finish           remove the rows an interrupted archive's
 *                                  row covers (they are in its file): line
 *                                  "removed N"
 * A verb that finds things already as asked (hold of a held site, a
 * second protect, site-add of a cataloged site of that kind) succeeds
 * with the line "unchanged WHY" and appends no audit row.
 * SCOPE "" is the root scope (deleted whole sites).  Every verb that
 * changes something appends an audit row naming the peer (uid, pid,
 * command line).
 *
 * Threading: ctlcmd_handle runs on the ctl server's connection threads,
 * several at once (gracectl undoes up to 4 ops in parallel); it keeps no
 * state of its own, and the ops callbacks must be thread-safe too.  The
 * parsing and token helpers are pure.
 */
#ifndef GRACEFS_CTLCMD_H
#define GRACEFS_CTLCMD_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "store/audit.h"
#include "store/catalog.h"
#include "ctl/channel.h"
#include "store/oprec.h"
#include "engine/created.h"
#include "engine/undo.h"

#define CTLCMD_TOKEN_LEN 12
#define CTLCMD_PROGRESS_STEPS 4096   /* undo: a progress line this often */
#define CTLCMD_RETENTION_FLOOR_S (24 * 3600)   /* default runtime floor */

/* ---- typed IDs ---- */

enum ctl_id_kind { CTL_ID_SITE = 1, CTL_ID_OP = 2, CTL_ID_RUN = 4 };

struct ctl_id {
	enum ctl_id_kind kind;
	bool scoped;               /* op:SITE/NAME or op:/NAME (root scope) */
	char site[NAME_MAX + 1];   /* site:NAME; op: the scope when scoped */
	char name[NAME_MAX + 1];   /* op: the op directory name; run: the run ID */
};

/* Parse "site:NAME", "op:NAME", "op:SITE/NAME", "op:/NAME" or "run:ID"
 * (ID: "<utc>-<cmd>-<pid>", procinfo.h).  want is a mask of the kinds
 * this command takes.  0, or -EINVAL with a one-line
 * message in msg (untyped, unknown kind, wrong kind, malformed name). */
int ctlcmd_parse_id(const char *s, unsigned want, struct ctl_id *id, char *msg, size_t cap);

/* The token of a canonical plan body: the first CTLCMD_TOKEN_LEN hex
 * digits of its 64-bit FNV-1a hash (guards against acting on a plan other
 * than the one reviewed; not a secret). */
void ctlcmd_plan_token(const char *body, char out[CTLCMD_TOKEN_LEN + 1]);

/* ---- the handler ---- */

/* What the daemon provides; any member may be NULL (the verb then answers
 * -ENOTCONN, "needs the running daemon").  arg is ctlcmd_ctx.arg. */
struct ctlcmd_ops {
	/* Restore a whole op: take the trash lock, undo_op(), drop the lock,
	 * trash_note_restore(); invalidate the kernel's view of each target
	 * if needed.  Pass fn/fn_arg through to undo_op.  0 or -errno. */
	int (*undo_op)(void *arg, const char *scope, const char *op, const char *run,
		       undo_progress_fn fn, void *fn_arg, struct undo_result *res);
	/* The same for n ops of one site (trash_undo_many): op i's steps go
	 * to fn with fn_args[i], its result to res[i], its return to rc[i].
	 * Returns 0 or -errno (nothing was done). */
	int (*undo_ops)(void *arg, const char *scope, const char *const *ops, size_t n,
			const char *run, undo_progress_fn fn, void *const *fn_args,
			struct undo_result *res, int *rc);
	/* trash_op_set_hold. 0, -ENOENT, or -errno. */
	int (*op_hold)(void *arg, const char *scope, const char *op, bool hold);
	/* undo run:ID --created: move run's created items that nobody changed
	 * since into who's ops (created_plan, then trash_uncreate for each
	 * item to move, deepest first); fn gets every item with its verdict
	 * (CREATED_*), the op it went to (moved) and err (-errno: failed).
	 * 0 or -errno (the plan could not be read). */
	int (*uncreate)(void *arg, const struct caller *who, const char *run,
			void (*fn)(void *fn_arg, const struct created_item *it, int verdict,
				   const char *why, const char *op, int err),
			void *fn_arg);
	/* Lift the brake on run (control_brake_release): *n gets the ops
	 * released.  0, -ENOENT (not braked), or -errno. */
	int (*run_release)(void *arg, const char *run, size_t *n);
	/* Purge an op now, as the sweeper does (trash_purge_begin, then steps
	 * until done), calling fn(fn_arg, entries removed so far) after each
	 * step.  *rec gets its record as it was.  0, -ENOENT, -EPERM (held),
	 * -EBUSY (still open), or -errno. */
	int (*purge)(void *arg, const char *scope, const char *op, struct op_record *rec,
		     void (*fn)(void *fn_arg, uint64_t removed), void *fn_arg);
	/* Store the open ops' records in the index now (trash_store_open), so
	 * a plan read from the index right after an rm counts what it did. */
	int (*sync)(void *arg);
	/* The catalog's protected paths changed: reload the in-memory copy. */
	void (*protected_changed)(void *arg);
	/* A site's exclusion list changed: drop the daemon's cached copy. */
	void (*policy_changed)(void *arg, const char *site);
	/* Emit "KEY VALUE" lines: mountpoint, sweeper state, interlocks, … */
	int (*status)(void *arg, struct ctl_out *out);
};

struct ctlcmd_ctx {
	const struct ctlcmd_ops *ops;  /* NULL: in-process, no daemon */
	void *arg;
	int backing_fd;                /* BACKING (site policy xattrs) */
	struct catalog *cat;
	struct audit *audit;           /* NULL: nothing is audited (tests) */
	int64_t retention_floor_s;     /* a site's retention may not go below */
};

/* A ctl_handler_fn; arg is a struct ctlcmd_ctx. */
int ctlcmd_handle(void *arg, const struct ctl_peer *peer, char **argv, int argc,
		  struct ctl_out *out, char *msg, size_t msgcap);

#endif
