/*
 * test_ctlcmd — typed IDs, plan tokens, and the control verbs run through
 * ctlcmd_handle with fake daemon hooks, a real catalog and audit writer
 * and a mkdtemp backing store (site policy needs root for trusted.*
 * xattrs; those tests skip otherwise).  Single-threaded apart from the
 * audit writer.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <cmocka.h>

#include "ctl/verbs.h"
#include "engine/sitepolicy.h"
#include "engine/trash.h"
#include "testutil.h"

#define OP "20261127T130512Z-rm-4242"

/* ---- typed IDs and tokens (pure) ---- */

static void id_ok(const char *s, unsigned want, enum ctl_id_kind k, bool scoped,
		  const char *site, const char *name)
{
	struct ctl_id id;
	char msg[256] = "";

	assert_int_equal(ctlcmd_parse_id(s, want, &id, msg, sizeof(msg)), 0);
	assert_int_equal(id.kind, k);
	assert_int_equal(id.scoped, scoped);
	assert_string_equal(id.site, site);
	assert_string_equal(id.name, name);
}

static void id_bad(const char *s, unsigned want, const char *says)
{
	struct ctl_id id;
	char msg[256] = "";

	assert_int_equal(ctlcmd_parse_id(s, want, &id, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, says));
}

static void test_parse_id(void **state)
{
	(void)state;
	id_ok("site:www.example.org", CTL_ID_SITE, CTL_ID_SITE, false, "www.example.org", "");
	id_ok("site:a:b", CTL_ID_SITE, CTL_ID_SITE, false, "a:b", "");
	id_ok("op:" OP, CTL_ID_OP, CTL_ID_OP, false, "", OP);
	id_ok("op:www/" OP, CTL_ID_OP, CTL_ID_OP, true, "www", OP);
	id_ok("op:/" OP, CTL_ID_OP, CTL_ID_OP, true, "", OP);
	id_ok("op:" OP ".2", CTL_ID_SITE | CTL_ID_OP, CTL_ID_OP, false, "", OP ".2");
	id_bad("www", CTL_ID_SITE, "untyped ID 'www': write site:www");
	id_bad("www", CTL_ID_SITE | CTL_ID_OP, "untyped ID 'www': write site:www or op:www");
	id_bad("www", CTL_ID_OP | CTL_ID_RUN, "untyped ID 'www': write op:www or run:www");
	id_bad("www", 7, "untyped ID 'www': write site:www, op:www or run:www");
	id_bad("site:www", CTL_ID_OP, "'site:www' is a site ID; this command takes op:");
	id_bad("op:" OP, CTL_ID_SITE, "is an op ID; this command takes site:");
	id_bad("app:1234", CTL_ID_SITE | CTL_ID_OP, "unknown ID kind 'app:'");
	id_bad("op:rm-4242", CTL_ID_OP, "malformed ID");
	id_bad("op:www/", CTL_ID_OP, "malformed ID");
	id_bad("op:../" OP, CTL_ID_OP, "malformed ID");
	id_bad("op:a/b/" OP, CTL_ID_OP, "malformed ID");
	id_bad("site:", CTL_ID_SITE, "malformed ID");
	id_bad("site:..", CTL_ID_SITE, "malformed ID");
	id_bad("site:.trash", CTL_ID_SITE, "malformed ID");
	id_bad("site:a/b", CTL_ID_SITE, "malformed ID");
	/* runs */
	id_ok("run:20261207T055122Z-cleanup.sh-4242", CTL_ID_OP | CTL_ID_RUN, CTL_ID_RUN,
	      false, "", "20261207T055122Z-cleanup.sh-4242");
	id_bad("run:20261207T055122Z-cleanup.sh-4242", CTL_ID_OP,
	       "is a run ID; this command takes op:");
	id_bad("op:" OP, CTL_ID_RUN, "is an op ID; this command takes run:");
	id_bad("site:www", CTL_ID_OP | CTL_ID_RUN, "this command takes op:… or run:…");
	id_bad("run:" OP ".2", CTL_ID_RUN, "malformed ID");
	id_bad("run:www/" OP, CTL_ID_RUN, "malformed ID");
	id_bad("run:cleanup.sh", CTL_ID_RUN, "malformed ID");
	id_bad("run:", CTL_ID_RUN, "malformed ID");
}

static void test_plan_token(void **state)
{
	char a[CTLCMD_TOKEN_LEN + 1], b[CTLCMD_TOKEN_LEN + 1];

	(void)state;
	ctlcmd_plan_token("undo\twww\t" OP "\t3\t4096\t1\t\n", a);
	ctlcmd_plan_token("undo\twww\t" OP "\t3\t4096\t1\t\n", b);
	assert_string_equal(a, b);
	assert_int_equal(strlen(a), CTLCMD_TOKEN_LEN);
	assert_int_equal(strspn(a, "0123456789abcdef"), CTLCMD_TOKEN_LEN);
	ctlcmd_plan_token("undo\twww\t" OP "\t3\t4097\t1\t\n", b);   /* one byte more */
	assert_string_not_equal(a, b);
	ctlcmd_plan_token("", b);
	assert_string_equal(b, "cbf29ce48422");   /* FNV-1a offset basis */
}

/* ---- the verbs ---- */

struct fx {
	char tmp[40];
	int fd;
	struct catalog *cat;
	struct audit *audit;
	struct ctlcmd_ctx ctx;
	struct ctl_out out;
	char lines[16][256];
	int nlines;
	/* what the fake daemon saw */
	int undo_calls, hold_calls, purge_calls, sync_calls, prot_changed, policy_changed;
	char last[2][NAME_MAX + 1];
	bool last_hold;
};

static int fake_undo(void *arg, const char *scope, const char *op, const char *run,
		     undo_progress_fn fn, void *fn_arg, struct undo_result *res)
{
	struct fx *f = arg;

	f->undo_calls++;
	return undo_op(f->fd, scope, op, NULL, fn, fn_arg, res);
}

static int fake_hold(void *arg, const char *scope, const char *op, bool hold)
{
	struct fx *f = arg;

	f->hold_calls++;
	snprintf(f->last[0], sizeof(f->last[0]), "%s", scope);
	snprintf(f->last[1], sizeof(f->last[1]), "%s", op);
	f->last_hold = hold;
	return strcmp(op, OP) ? -ENOENT : 0;
}

#define RUN_ID "20261207T055122Z-cleanup.sh-4242"

/* The brake on RUN_ID: released once with 25 ops; anything else not braked. */
static int fake_run_release(void *arg, const char *run, size_t *n)
{
	struct fx *f = arg;

	f->hold_calls++;
	snprintf(f->last[0], sizeof(f->last[0]), "%s", run);
	if (strcmp(run, RUN_ID) || f->last_hold)
		return -ENOENT;
	f->last_hold = true;   /* released: a second release finds nothing */
	*n = 25;
	return 0;
}

/* Removes its entries in four steps, as the sweeper's purge does. */
static int fake_purge(void *arg, const char *scope, const char *op, struct op_record *rec,
		      void (*fn)(void *, uint64_t), void *fn_arg)
{
	static const uint64_t steps[] = { 3000, 5000, 6000, 9000 };
	struct fx *f = arg;

	f->purge_calls++;
	memset(rec, 0, sizeof(*rec));
	rec->items = 5;
	rec->bytes = 4096;
	rec->uid = 1000;
	if (strstr(op, ".2"))
		return -EPERM;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		fn(fn_arg, steps[i]);
	return 0;
}

static int fake_sync(void *arg)
{
	struct fx *f = arg;

	return ++f->sync_calls == 2 ? -EIO : 0;
}

static void fake_changed(void *arg)
{
	((struct fx *)arg)->prot_changed++;
}

static int fake_status(void *arg, struct ctl_out *out)
{
	return ctl_emitf(out, "sweeper", "idle", NULL);
}

static void fake_policy_changed(void *arg, const char *site)
{
	struct fx *f = arg;

	assert_string_equal(site, "www");
	f->policy_changed++;
}

static const struct ctlcmd_ops fake_ops = {
	.undo_op = fake_undo, .op_hold = fake_hold, .purge = fake_purge, .sync = fake_sync,
	.run_release = fake_run_release,
	.protected_changed = fake_changed, .status = fake_status,
	.policy_changed = fake_policy_changed,
};

static int keep_line(void *arg, const char *const *fields, int n)
{
	struct fx *f = arg;
	char *l = f->lines[f->nlines % 16];

	l[0] = '\0';
	for (int i = 0; i < n; i++)
		snprintf(l + strlen(l), 256 - strlen(l), "%s%s", i ? " " : "", fields[i]);
	f->nlines++;
	return 0;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char path[80];

	assert_non_null(f);
	strcpy(f->tmp, "/tmp/gracefs-cmd-XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	f->fd = open(f->tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->fd >= 0);
	assert_int_equal(mkdirat(f->fd, "www", 0755), 0);
	snprintf(path, sizeof(path), "%s/catalog.db", f->tmp);
	assert_int_equal(catalog_open(&f->cat, path, false, NULL), 0);
	assert_int_equal(audit_new(&f->audit, f->cat, NULL), 0);
	f->ctx = (struct ctlcmd_ctx){ &fake_ops, f, f->fd, f->cat, f->audit, 86400 };
	ctl_out_callback(&f->out, keep_line, f);
	*state = f;
	return 0;
}

static int setup_root(void **state)
{
	struct fx *f;

	setup(state);
	f = *state;
	if (fsetxattr(f->fd, "trusted.gracefs.probe", "", 0, 0) < 0)
		skip();
	fremovexattr(f->fd, "trusted.gracefs.probe");
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	audit_free(f->audit);
	catalog_close(f->cat);
	close(f->fd);
	assert_int_equal(rm_tree(f->tmp), 0);
	free(f);
	return 0;
}

/* Run one request line (words separated by '|'); msg is kept in f. */
static char msg[600];

static int run(struct fx *f, const char *line)
{
	char buf[512], *argv[32];
	int argc = 0;
	struct ctl_peer peer = { 0, 0, getpid() };

	snprintf(buf, sizeof(buf), "%s", line);
	for (char *save, *w = strtok_r(buf, "|", &save); w; w = strtok_r(NULL, "|", &save))
		argv[argc++] = strcmp(w, "''") ? w : (char *)"";
	msg[0] = '\0';
	f->nlines = 0;
	return ctlcmd_handle(&f->ctx, &peer, argv, argc, &f->out, msg, sizeof(msg));
}

struct audit_seen {
	int n;
	char event[8][32], site[8][64], op[8][64], path[8][64], detail[8][128];
	int64_t uid, pid;
	bool cmdline;
};

static int see(const struct audit_row *r, void *arg)
{
	struct audit_seen *s = arg;

	if (s->n < 8) {
		snprintf(s->event[s->n], 32, "%s", r->event);
		snprintf(s->site[s->n], 64, "%s", r->site ? r->site : "-");
		snprintf(s->op[s->n], 64, "%s", r->op ? r->op : "-");
		snprintf(s->path[s->n], 64, "%s", r->path ? r->path : "-");
		snprintf(s->detail[s->n], 128, "%s", r->detail ? r->detail : "-");
		s->uid = r->uid;
		s->pid = r->pid;
		s->cmdline = r->cmdline && strstr(r->cmdline, "test_verbs");
	}
	s->n++;
	return 0;
}

static struct audit_seen audited(struct fx *f)
{
	struct audit_seen s = {0};

	assert_int_equal(audit_flush(f->audit), 0);
	assert_int_equal(catalog_audit_query(f->cat, &(struct catalog_audit_filter){0}, see, &s), 0);
	return s;
}

static void test_dispatch(void **state)
{
	struct fx *f = *state;

	assert_int_equal(run(f, "frobnicate"), -EINVAL);
	assert_string_equal(msg, "unknown verb 'frobnicate'");
	assert_int_equal(run(f, "undo|www"), -EINVAL);
	assert_int_equal(run(f, "status|extra"), -EINVAL);
	assert_int_equal(run(f, "status"), 0);
	assert_int_equal(f->nlines, 1);
	assert_string_equal(f->lines[0], "sweeper idle");
	/* without a daemon the engine verbs say so */
	f->ctx.ops = NULL;
	assert_int_equal(run(f, "status"), -ENOTCONN);
	assert_non_null(strstr(msg, "needs the running daemon"));
	assert_int_equal(run(f, "undo|www|" OP), -ENOTCONN);
	assert_int_equal(run(f, "hold|op|www|" OP), -ENOTCONN);
	assert_int_equal(run(f, "purge|www|" OP "|gdpr"), -ENOTCONN);
	assert_int_equal(run(f, "sync"), -ENOTCONN);
	assert_int_equal(audited(f).n, 0);
}

static void test_undo(void **state)
{
	struct fx *f = *state;
	struct audit_seen s;

	assert_int_equal(mkdirat(f->fd, "www/.trash", 0755), 0);
	assert_int_equal(mkdirat(f->fd, "www/.trash/" OP, 0755), 0);
	close(openat(f->fd, "www/.trash/" OP "/a", O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
	close(openat(f->fd, "www/.trash/" OP "/b", O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
	close(openat(f->fd, "www/b", O_CREAT | O_WRONLY | O_CLOEXEC, 0644));

	assert_int_equal(run(f, "undo|www|../etc"), -EINVAL);
	assert_int_equal(f->undo_calls, 0);
	assert_int_equal(run(f, "undo|www|" OP), 0);
	assert_int_equal(f->undo_calls, 1);
	assert_int_equal(f->nlines, 2);
	assert_string_equal(f->lines[0], "renamed b b.restored-" OP);
	assert_string_equal(f->lines[1], "done moved 1 renamed 1 mkdirs 0 failed 0 merged 0");
	assert_int_equal(faccessat(f->fd, "www/a", F_OK, AT_SYMLINK_NOFOLLOW), 0);
	s = audited(f);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.event[0], "restore");
	assert_string_equal(s.path[0], "b");
	assert_string_equal(s.detail[0], "to=b.restored-" OP " (original name taken)");
	assert_string_equal(s.event[1], "undo");
	assert_string_equal(s.site[1], "www");
	assert_string_equal(s.op[1], OP);
	assert_string_equal(s.detail[1], "moved=1 renamed=1 mkdirs=0 failed=0 merged=0");
	assert_int_equal(s.uid, 0);
	assert_int_equal(s.pid, getpid());
	assert_true(s.cmdline);
	/* an op that is not there */
	assert_int_equal(run(f, "undo|www|" OP ".2"), -ENOENT);
	assert_non_null(strstr(msg, "no op www/" OP ".2"));
	assert_int_equal(audited(f).n, 2);
}

/* Deleted whole sites come back under their own names in the audit. */
static void test_undo_root_scope(void **state)
{
	struct fx *f = *state;
	struct audit_seen s;

	assert_int_equal(mkdirat(f->fd, ".gracefs", 0700), 0);
	assert_int_equal(mkdirat(f->fd, ".gracefs/trash", 0700), 0);
	assert_int_equal(mkdirat(f->fd, ".gracefs/trash/" OP, 0700), 0);
	assert_int_equal(mkdirat(f->fd, ".gracefs/trash/" OP "/blog", 0755), 0);
	assert_int_equal(mkdirat(f->fd, ".gracefs/trash/" OP "/www", 0755), 0);
	assert_int_equal(run(f, "undo|''|" OP), 0);
	assert_string_equal(f->lines[0], "renamed www www.restored-" OP);
	assert_string_equal(f->lines[1], "done moved 1 renamed 1 mkdirs 0 failed 0 merged 0");
	assert_int_equal(faccessat(f->fd, "blog", F_OK, AT_SYMLINK_NOFOLLOW), 0);
	s = audited(f);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.event[0], "restore");
	assert_string_equal(s.site[0], "blog");
	assert_string_equal(s.detail[0], "whole site");
	assert_string_equal(s.site[1], "www");
	assert_string_equal(s.path[1], "www");
	/* www came back beside its re-created name: a new site, audited */
	assert_string_equal(s.event[2], "site-add");
	assert_string_equal(s.site[2], "www.restored-" OP);
	assert_string_equal(s.event[3], "undo");
	/* the op's own row names the sites it held (log --site finds it) */
	assert_string_equal(s.site[3], "blog,www");
}

/* release run RUN lifts the mass-deletion brake: one audit row; a run
 * not braked is "unchanged"; bad IDs and hold run are refused. */
static void test_release_run(void **state)
{
	struct fx *f = *state;
	struct audit_seen s;

	f->last_hold = false;
	assert_int_equal(run(f, "release|run|" RUN_ID), 0);
	assert_string_equal(f->last[0], RUN_ID);
	assert_int_equal(f->nlines, 1);
	assert_string_equal(f->lines[0], "released 25");
	s = audited(f);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.event[0], "release");
	assert_string_equal(s.detail[0], "brake run=" RUN_ID " ops_released=25");
	assert_int_equal(run(f, "release|run|" RUN_ID), 0);   /* again: nothing braked */
	assert_string_equal(f->lines[0], "unchanged not braked");
	assert_int_equal(audited(f).n, 1);
	f->hold_calls = 0;
	assert_int_equal(run(f, "release|run|cleanup.sh"), -EINVAL);   /* malformed */
	assert_int_equal(run(f, "release|run|" RUN_ID ".2"), -EINVAL);  /* an op name */
	assert_int_equal(run(f, "release|run|a/b"), -EINVAL);
	assert_int_equal(run(f, "hold|run|" RUN_ID), -EINVAL);   /* hold run is per op */
	assert_int_equal(f->hold_calls, 0);
	assert_int_equal(audited(f).n, 1);
	f->ctx.ops = NULL;
	assert_int_equal(run(f, "release|run|" RUN_ID), -ENOTCONN);
}

static void test_hold(void **state)
{
	struct fx *f = *state;
	struct site_policy pol;
	struct catalog_site cs;
	struct audit_seen s;

	assert_int_equal(run(f, "hold|site|nosuch"), -ENOENT);
	assert_int_equal(run(f, "hold|site|.."), -EINVAL);
	assert_int_equal(run(f, "hold|site|www"), 0);
	assert_int_equal(sitepolicy_get(f->fd, "www", &pol), 0);
	assert_true(pol.hold);
	assert_int_equal(catalog_site_get(f->cat, "www", &cs), 0);   /* registered */
	assert_true(cs.hold);
	assert_int_equal(run(f, "release|site|www"), 0);
	assert_int_equal(sitepolicy_get(f->fd, "www", &pol), 0);
	assert_false(pol.hold);
	assert_int_equal(run(f, "hold|op|www|" OP), 0);
	assert_int_equal(f->hold_calls, 1);
	assert_string_equal(f->last[0], "www");
	assert_true(f->last_hold);
	assert_int_equal(run(f, "release|op|''|" OP), 0);
	assert_string_equal(f->last[0], "");
	assert_false(f->last_hold);
	assert_int_equal(run(f, "hold|op|www|" OP ".3"), -ENOENT);
	assert_int_equal(run(f, "hold|app|www"), -EINVAL);
	assert_int_equal(run(f, "hold|op|www"), -EINVAL);
	s = audited(f);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.event[0], "hold");
	assert_string_equal(s.event[1], "release");
	assert_string_equal(s.event[2], "hold");
	assert_string_equal(s.op[2], OP);
	assert_string_equal(s.event[3], "release");
}

static void test_sync(void **state)
{
	struct fx *f = *state;

	assert_int_equal(run(f, "sync"), 0);
	assert_int_equal(f->sync_calls, 1);
	assert_int_equal(run(f, "sync"), -EIO);
	assert_non_null(strstr(msg, "records"));
	assert_int_equal(run(f, "sync|x"), -EINVAL);
	assert_int_equal(f->sync_calls, 2);
}

static void test_purge(void **state)
{
	struct fx *f = *state;
	struct audit_seen s;

	assert_int_equal(run(f, "purge|www|" OP "| "), -EINVAL);
	assert_non_null(strstr(msg, "reason"));
	assert_int_equal(f->purge_calls, 0);
	assert_int_equal(sitepolicy_set_hold(f->fd, "www", true), 0);
	assert_int_equal(run(f, "purge|www|" OP "|erasure request #12"), -EPERM);
	assert_non_null(strstr(msg, "legal hold"));
	assert_int_equal(f->purge_calls, 0);
	assert_int_equal(sitepolicy_set_hold(f->fd, "www", false), 0);
	assert_int_equal(run(f, "purge|www|" OP ".2|erasure request #12"), -EPERM);
	s = audited(f);   /* a hold that stops a purge is audited */
	assert_int_equal(s.n, 1);
	assert_string_equal(s.event[0], "denied");
	assert_string_equal(s.detail[0], "purge refused: under legal hold after 0 entries; "
			    "reason=erasure request #12");
	assert_int_equal(run(f, "purge|www|" OP "|erasure request #12"), 0);
	/* a progress line after each step */
	assert_string_equal(f->lines[0], "progress 3000");
	assert_string_equal(f->lines[3], "progress 9000");
	assert_string_equal(f->lines[4], "purged 5 4096");
	s = audited(f);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.event[1], "purge");
	assert_string_equal(s.detail[1], "items=5 bytes=4096 deleter_uid=1000 "
			    "reason=erasure request #12");
}

static void test_site_set(void **state)
{
	struct fx *f = *state;
	struct site_policy pol;
	struct catalog_site cs;
	struct audit_seen s;

	assert_int_equal(run(f, "site-set|www|retention|1h"), -EINVAL);
	assert_non_null(strstr(msg, "below the floor of 1d"));
	assert_int_equal(run(f, "site-set|www|retention|7d|bogus|1"), -EINVAL);
	assert_int_equal(run(f, "site-set|www|retention|7d|hold|maybe"), -EINVAL);
	assert_int_equal(run(f, "site-set|www|retention"), -EINVAL);
	assert_int_equal(run(f, "site-set|nosuch|retention|7d"), -ENOENT);
	assert_int_equal(sitepolicy_get(f->fd, "www", &pol), 0);
	assert_int_equal(pol.retention_s, 0);   /* nothing changed by any of those */
	assert_int_equal(audited(f).n, 0);

	assert_int_equal(run(f, "site-set|www|retention|7d|hold|on|kind|app"), 0);
	assert_int_equal(sitepolicy_get(f->fd, "www", &pol), 0);
	assert_int_equal(pol.retention_s, 7 * 86400);
	assert_true(pol.hold);
	assert_int_equal(catalog_site_get(f->cat, "www", &cs), 0);
	assert_int_equal(cs.retention_s, 7 * 86400);
	assert_true(cs.hold);
	assert_string_equal(cs.kind, "app");
	assert_int_equal(run(f, "site-set|www|retention|default"), 0);
	assert_int_equal(sitepolicy_get(f->fd, "www", &pol), 0);
	assert_int_equal(pol.retention_s, 0);
	s = audited(f);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.detail[0], "retention=1w");
	assert_string_equal(s.event[1], "hold");
	assert_string_equal(s.detail[2], "kind=app");
	assert_string_equal(s.detail[3], "retention=default");
}

/* trash_max and exclude: checked with the other keys before anything is
 * set, stored in the site policy, audited; the daemon's cache is told. */
static void test_site_set_space(void **state)
{
	struct fx *f = *state;
	struct site_policy pol;
	struct audit_seen s;
	char list[256];

	assert_int_equal(run(f, "site-set|www|trash_max|12q"), -EINVAL);
	assert_non_null(strstr(msg, "bad trash_max"));
	assert_int_equal(run(f, "site-set|www|exclude|**"), -EINVAL);
	assert_non_null(strstr(msg, "matches every item"));
	assert_int_equal(run(f, "site-set|www|exclude|a,,b"), -EINVAL);
	/* a bad exclude stops a good trash_max given with it */
	assert_int_equal(run(f, "site-set|www|trash_max|2G|exclude|x**"), -EINVAL);
	assert_int_equal(sitepolicy_get(f->fd, "www", &pol), 0);
	assert_int_equal(pol.trash_max, 0);
	assert_int_equal(audited(f).n, 0);
	assert_int_equal(f->prot_changed, 0);

	assert_int_equal(run(f, "site-set|www|trash_max|2G|exclude|cache/**,*.tmp"), 0);
	assert_int_equal(sitepolicy_get(f->fd, "www", &pol), 0);
	assert_int_equal(pol.trash_max, UINT64_C(2) << 30);
	assert_int_equal(sitepolicy_get_exclude(f->fd, "www", list, sizeof(list)), 0);
	assert_string_equal(list, "cache/**,*.tmp");
	assert_int_equal(f->policy_changed, 1);
	assert_int_equal(run(f, "site-set|www|trash_max|none|exclude|none"), 0);
	assert_int_equal(sitepolicy_get(f->fd, "www", &pol), 0);
	assert_int_equal(pol.trash_max, 0);
	assert_int_equal(sitepolicy_get_exclude(f->fd, "www", list, sizeof(list)), 0);
	assert_string_equal(list, "");
	s = audited(f);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.event[0], "site-set");
	assert_string_equal(s.detail[0], "trash_max=2G");
	assert_string_equal(s.detail[1], "exclude=cache/**,*.tmp");
	assert_string_equal(s.detail[2], "trash_max=none");
	assert_string_equal(s.detail[3], "exclude=none");

	/* nopreserve: parsed like exclude, stored on its own, audited */
	assert_int_equal(run(f, "site-set|www|nopreserve|*"), -EINVAL);
	assert_int_equal(run(f, "site-set|www|nopreserve|*.db,,x"), -EINVAL);
	assert_int_equal(run(f, "site-set|www|nopreserve|*.sqlite,db/*-wal"), 0);
	assert_int_equal(sitepolicy_get_nopreserve(f->fd, "www", list, sizeof(list)), 0);
	assert_string_equal(list, "*.sqlite,db/*-wal");
	assert_int_equal(sitepolicy_get_exclude(f->fd, "www", list, sizeof(list)), 0);
	assert_string_equal(list, "");
	assert_int_equal(run(f, "site-set|www|nopreserve|none"), 0);
	assert_int_equal(sitepolicy_get_nopreserve(f->fd, "www", list, sizeof(list)), 0);
	assert_string_equal(list, "");
	s = audited(f);
	assert_int_equal(s.n, 6);
	assert_string_equal(s.detail[4], "nopreserve=*.sqlite,db/*-wal");
	assert_string_equal(s.detail[5], "nopreserve=none");
}

static void test_site_add_protect(void **state)
{
	struct fx *f = *state;
	struct catalog_protected *l;
	struct catalog_site cs;
	struct audit_seen s;

	assert_int_equal(run(f, "site-add|nosuch|site"), -ENOENT);
	assert_int_equal(run(f, "site-add|www|Bad"), -EINVAL);
	assert_int_equal(run(f, "site-add|www|app"), 0);
	assert_int_equal(catalog_site_get(f->cat, "www", &cs), 0);
	assert_string_equal(cs.kind, "app");
	/* idempotent: the same again is done (no audit row); another kind is not */
	assert_int_equal(run(f, "site-add|www|app"), 0);
	assert_int_equal(run(f, "site-add|www|blog"), -EEXIST);
	assert_non_null(strstr(msg, "site set kind=blog"));

	assert_int_equal(run(f, "protect|www|../x"), -EINVAL);
	assert_int_equal(run(f, "protect|nosuch|x"), -ENOENT);
	assert_int_equal(run(f, "protect|www|/wiki/2024/"), 0);
	assert_int_equal(f->prot_changed, 1);
	assert_int_equal(run(f, "protect|www|wiki/2024"), 0);   /* already: done */
	assert_int_equal(f->prot_changed, 1);
	assert_int_equal(catalog_protected_list(f->cat, &l), 0);
	assert_true(catalog_path_is_protected(l, "www", "wiki/2024/jan"));
	catalog_protected_free(l);
	assert_int_equal(run(f, "unprotect|www|wiki/2024"), 0);
	assert_int_equal(run(f, "unprotect|www|wiki/2024"), 0);   /* not protected: done */
	assert_int_equal(f->prot_changed, 2);
	s = audited(f);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.event[0], "site-add");
	assert_string_equal(s.event[1], "protect");
	assert_string_equal(s.path[1], "wiki/2024");
	assert_string_equal(s.event[2], "unprotect");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define TR(fn) cmocka_unit_test_setup_teardown(fn, setup_root, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_id),
		cmocka_unit_test(test_plan_token),
		T(test_dispatch),
		T(test_undo),
		T(test_undo_root_scope),
		TR(test_hold),
		TR(test_release_run),
		TR(test_purge),
		TR(test_sync),
		TR(test_site_set),
		TR(test_site_set_space),
		T(test_site_add_protect),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
