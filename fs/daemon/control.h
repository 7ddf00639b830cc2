/*
 * control — the daemon's operator surface: the SQLite catalog, the audit
 * writer, the in-memory copy of protected paths, and the control socket
 * serving gracectl (its verbs in ctl/verbs.c, their engine side here).
 *
 * Threading: control_protected() and the audit helpers are called from
 * FUSE handlers on any thread; the protected list is swapped under a
 * rwlock.  The control socket runs its own threads (ctl.c).
 */
#ifndef GRACEFS_CONTROL_H
#define GRACEFS_CONTROL_H

#include "engine/created.h"
#include <stdbool.h>
#include "store/audit.h"
#include "lib/procinfo.h"
#include "engine/brake.h"
#include "engine/space.h"
#include "engine/sweep.h"
#include "engine/trash.h"

struct control;
struct overwrite;

struct control_conf {
	int backing_fd, state_fd;
	struct trash *trash;
	struct index *ix;
	struct created *cr;                 /* what runs created (created.h) */
	struct overwrite *ow;               /* its counters go to metrics; may be NULL */
	struct fairq *copyq;                /* the copy pool (ops_defer.c), status; may be NULL */
	const char *backing, *mountpoint;   /* for status */
	int64_t retention_floor_s;
	int64_t op_gap_ns;                  /* groups direct (excluded) removals */
	int64_t sweep_interval_s, clock_jump_s;   /* exported for the alert rules */
	unsigned brake_limit;               /* -o brake: sites per run; 0: off */
	int64_t brake_window_ns;            /* ... within this long */
};

/* Open the catalog (BACKING/.gracefs/catalog.db), start the audit writer,
 * register the sites found at the top of BACKING, load the protected
 * paths and start the control socket.  0 or -errno (a one-line reason is
 * logged). */
int control_open(struct control **out, const struct control_conf *conf);
/* Stop serving gracectl (before the trash engine closes).  NULL ok. */
void control_stop(struct control *c);
/* Stop the socket, write what the audit queue holds, close.  NULL ok. */
void control_close(struct control *c);
/* The sweeper appears after the engine; status reports it. */
void control_set_sweep(struct control *c, struct sweep *sw);
/* The eviction pass (space.h), for status and metrics; NULL: gone. */
void control_set_space(struct control *c, struct space *sp);

/* Is removing (or renaming away) relpath of site refused because it is, or
 * contains, a protected path?  relpath "" is the whole site. */
bool control_protected(struct control *c, const char *site, const char *relpath);

/* Audit rows for what the mount does (queued, never blocking). */
void control_audit_op(struct control *c, const char *event, const struct op_record *r);
void control_audit_op_detail(struct control *c, const char *event, const struct op_record *r,
			     const char *detail);
void control_audit(struct control *c, const char *event, const struct caller *who,
		   const char *site, const char *op, const char *path, const char *detail);
/* A row for what the sweeper did to op r (expire, evict): the actor is the
 * sweeper (uid and pid of the daemon, command CONTROL_SWEEPER_ACTOR), and
 * the op's deleter is kept in the detail's deleter_uid=, deleter_pid=,
 * deleter_run= and, last (it may hold spaces), deleter_command=. */
#define CONTROL_SWEEPER_ACTOR "gracefs-sweeper"
void control_audit_swept(struct control *c, const char *event, const struct op_record *r,
			 const char *detail);
/* who's site-level deletion went to trash: the site itself (whole) or a
 * directory directly under it.  Counted per site for the metrics, and per
 * run for the mass-deletion brake: the deletion that crosses it holds
 * every op of who's run (logged at warning, audit row "brake"). */
void control_site_level_deleted(struct control *c, const struct caller *who, const char *site,
				bool whole);
/* The brake's limit and counts (brake_get_stats); zeros for NULL c. */
void control_brake_stats(struct control *c, struct brake_stats *st);
/* Is run braked?  (trash_conf.run_braked: takes only the brake's lock.) */
bool control_run_braked(struct control *c, const char *run);
/* Release the brake on run: its ops' brake holds are cleared (other
 * holds stay), its count starts again.  *n gets the ops released.  The
 * caller (the release verb) writes the audit row.  0, -ENOENT (run not
 * braked and no op of it held by the brake), or -errno. */
int control_brake_release(struct control *c, const char *run, size_t *n);
/* Write the Prometheus text file (atomically: tmp + rename); up false:
 * the last write as the daemon stops (gracefs_up 0).  0 or -errno. */
int control_write_metrics(struct control *c, const char *path, bool up);

/* Site exclusions (engine/exclude_apply.h): remove loc's entry directly if its site
 * excludes it (*removed), else leave it for the trash.  0 or -errno. */
int control_remove_excluded(struct control *c, const struct caller *who,
			    const struct trash_loc *loc, bool want_dir, const struct stat *st,
			    bool *removed);
/* The same for a rename over an existing dst (plain renames within sites
 * only): *done when dst was excluded and the rename made without
 * preserving it.  0 or -errno. */
int control_rename_excluded(struct control *c, const struct caller *who,
			    const struct trash_loc *src, const struct trash_loc *dst,
			    const struct stat *dst_st, bool *done);
/* Periodic work (maintenance thread): reports idle exclusion groups. */
void control_tick(struct control *c);

/* A site appeared (mkdir at the root, restore) or went to trash. */
void control_site_changed(struct control *c, const char *site, bool trashed);

#endif
