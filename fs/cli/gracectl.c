/*
 * gracectl — the operator's CLI for a gracefs backing store.
 *
 *   gracectl -b BACKING [--json] COMMAND …      (or --state BACKING/.gracefs)
 *
 * Read-only commands read the LMDB index, the SQLite catalog and the
 * backing store directly.  Mutations go through the daemon's control
 * socket; when no daemon serves the store, the ones that only touch the
 * catalog and site policy run the same handlers in-process (ctlcmd) while
 * holding the daemon's lock, and the others (undo, purge, op holds) say
 * that they need the daemon.  Destructive and bulk commands are dry runs
 * unless given --execute; a bulk run needs the token its dry run printed.
 *
 * Exit status: 0 done, 1 failed, 2 bad usage or a bad/unknown ID (nothing
 * was changed).  Single-threaded, except: undo --execute restores up to
 * UNDO_WORKERS ops at once (workers share only struct undo_run, under its
 * lock, and never use fmt()'s static buffers), and the in-process audit
 * writer thread.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "store/audit.h"
#include "cli/cli.h"
#include "lib/timearg.h"
#include "store/catalog.h"
#include "ctl/channel.h"
#include "ctl/verbs.h"
#include "store/index.h"
#include "engine/sitepolicy.h"
#include "lib/sys.h"
#include "engine/trash.h"
#include "engine/undo.h"
#include "lib/util.h"

const char *const change_cols[] = { "id", "changed", "note" };

/* ---- small helpers ---- */

__attribute__((format(printf, 2, 3)))
int fail(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("gracectl: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

void *xrealloc(void *p, size_t n)
{
	if (!(p = realloc(p, n ? n : 1))) {
		fputs("gracectl: error: out of memory\n", stderr);
		exit(EXIT_FAILED);
	}
	return p;
}

char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(xrealloc(NULL, n), s, n);
}

/* printf into one of a ring of static buffers (values for table cells). */
__attribute__((format(printf, 1, 2)))
const char *fmt(const char *f, ...)
{
	static char ring[16][2 * NAME_MAX + 64];
	static unsigned i;
	char *b = ring[i++ % 16];
	va_list ap;

	va_start(ap, f);
	vsnprintf(b, sizeof(ring[0]), f, ap);
	va_end(ap);
	return b;
}

const char *utc(int64_t wall_s)
{
	char b[32];

	if (!wall_s)
		return "";
	util_format_utc(wall_s, false, b, sizeof(b));
	return fmt("%s", b);
}

const char *num(uint64_t v) { return fmt("%" PRIu64, v); }
const char *yes(bool b) { return b ? "yes" : "no"; }
int64_t now_s(void) { return sys.wall_ns() / NS; }

const char *op_id(const char *scope, const char *name)
{
	return fmt("op:%s/%s", scope, name);
}

/* A command-line time (timearg.h: RFC 3339, local, @EPOCH, -2h) in ns.
 * 0 or -EINVAL. */
int parse_time(const char *s, int64_t *ns)
{
	int64_t v;

	if (timearg_parse(s, now_s(), &v) < 0)
		return -EINVAL;
	*ns = v * NS;
	return 0;
}

/* A uid given as a number or a user name.  0 or -EINVAL. */
int parse_uid(const char *s, int64_t *uid)
{
	struct passwd *pw;
	char *end;

	errno = 0;
	*uid = strtoll(s, &end, 10);
	if (*s && !*end && !errno && *uid >= 0 && *uid <= UINT32_MAX)
		return 0;
	if (*s && (pw = getpwnam(s))) {
		*uid = pw->pw_uid;
		return 0;
	}
	return -EINVAL;
}

/* The command word of an op name: between the timestamp and the pid. */
const char *op_cmd(const char *name)
{
	const char *dash = strrchr(name, '-');

	if (strlen(name) < 18 || !dash || dash < name + 17)
		return "";
	return fmt("%.*s", (int)(dash - name - 17), name + 17);
}

int open_in(int dirfd, const char *name)
{
	return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* A stream over directory dirfd (which stays open and the caller's). */
DIR *dir_at(int dirfd)
{
	int fd = dup(dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (!d && fd >= 0)
		close(fd);
	if (d)
		rewinddir(d);
	return d;
}


/* ---- opening the store ---- */

int need_index(struct gctl *x)
{
	int r;

	if (x->ix)
		return 0;
	if ((r = index_open(&x->ix, fmt("%s/index", x->state))) < 0)
		return fail(EXIT_FAILED, "index '%s/index': %s", x->state, strerror(-r));
	return 0;
}

/* need_index, after a running daemon stored its open ops' records: a dry
 * run right after an rm must count what it did, or its token would change
 * as soon as the next tick stores them.  No daemon: the index is all. */
int need_counts(struct gctl *x)
{
	char msg[600];

	call_daemon(fmt("%s/ctl.sock", x->state), (const char *[]){ "sync" }, 1, NULL, NULL,
		    msg, sizeof(msg));
	return need_index(x);
}

/* Open the catalog (read-only unless rw).  -ENOENT (read-only, none yet)
 * is returned quietly; other failures print and give EXIT_FAILED. */
int need_catalog(struct gctl *x, bool rw)
{
	const char *path = fmt("%s/catalog.db", x->state);
	int found, r;

	if (x->cat && (x->cat_rw || !rw))
		return 0;
	catalog_close(x->cat);
	x->cat = NULL;
	r = catalog_open(&x->cat, path, !rw, &found);
	x->cat_rw = rw;
	if (r == -ENOENT && !rw)
		return -ENOENT;
	if (r == -EPROTO)
		return fail(EXIT_FAILED, "catalog '%s' has schema version %d, this gracectl "
			    "knows %d: %s", path, found, CATALOG_SCHEMA_VERSION,
			    found > CATALOG_SCHEMA_VERSION ? "upgrade gracectl" :
			    "start the daemon once to migrate it");
	if (r < 0)
		return fail(EXIT_FAILED, "catalog '%s': %s", path, strerror(-r));
	return 0;
}

/* Is a daemon serving the store (its lock is held)? */
bool daemon_holds_lock(struct gctl *x)
{
	int fd = openat(x->backing_fd, TRASH_STATE_DIR "/lock", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	bool held = false;

	if (fd >= 0) {
		held = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
		close(fd);
	}
	return held;
}

/* Does a daemon answer on the control socket? */
bool daemon_answers(struct gctl *x)
{
	return ctl_call(fmt("%s/ctl.sock", x->state), (const char *[]){ "status" }, 1, NULL,
			NULL, NULL, 0) != -ECONNREFUSED;
}

/* ---- typed IDs ---- */

struct hits {
	const char *name;
	struct op_record first;
	size_t n;
	char scopes[128];
};

static int hit(const struct op_record *r, void *arg)
{
	struct hits *h = arg;

	if (strcmp(r->name, h->name))
		return 0;
	if (!h->n++)
		h->first = *r;
	if (strlen(h->scopes) + strlen(r->scope) + 4 < sizeof(h->scopes))
		snprintf(h->scopes + strlen(h->scopes), sizeof(h->scopes) - strlen(h->scopes),
			 "%s%s", h->n > 1 ? ", " : "", *r->scope ? r->scope : "/");
	return 0;
}

/* Resolve "op:…" to its record.  0 or an exit status (message printed). */
int resolve_op(struct gctl *x, const char *arg, struct op_record *rec)
{
	struct ctl_id id;
	struct hits h = { .name = id.name };
	char msg[600];
	int r;

	if (ctlcmd_parse_id(arg, CTL_ID_OP, &id, msg, sizeof(msg)) < 0)
		return id_fail(msg);
	if ((r = need_index(x)))
		return r;
	if (id.scoped) {
		r = index_get(x->ix, id.site, id.name, rec);
		if (r == -ENOENT)
			return id_fail(fmt("unknown op '%s'", arg));
		return r < 0 ? fail(EXIT_FAILED, "index: %s", strerror(-r)) : 0;
	}
	h.name = id.name;
	if ((r = index_foreach(x->ix, NULL, hit, &h)) < 0)
		return fail(EXIT_FAILED, "index: %s", strerror(-r));
	if (!h.n)
		return id_fail(fmt("unknown op '%s'", arg));
	if (h.n > 1)
		return fail(EXIT_USAGE, "op '%s' exists in %zu sites (%s): write op:SITE/%s",
			    arg, h.n, h.scopes, id.name);
	*rec = h.first;
	return 0;
}

/* A site given as "site:NAME" or plain NAME (never another kind). */
int site_arg(const char *s, char *out)
{
	struct ctl_id id;
	char msg[600];

	if (strchr(s, ':')) {
		if (ctlcmd_parse_id(s, CTL_ID_SITE, &id, msg, sizeof(msg)) < 0)
			return id_fail(msg);
		s = id.site;
	} else if (!catalog_site_id_valid(s)) {
		return id_fail(fmt("malformed site '%s'", s));
	}
	strcpy(out, s);
	return 0;
}

static int any_op(const struct op_record *r, void *arg)
{
	*(bool *)arg = true;
	return 1;   /* one is enough */
}

/* Is there anything of site s: its directory, a catalog row, ops in its
 * trash, or the site itself among the deleted ones? */
static bool site_known(struct gctl *x, const char *s)
{
	struct catalog_site cs;
	struct stat st;
	struct dirent *de;
	bool found = fstatat(x->backing_fd, s, &st, AT_SYMLINK_NOFOLLOW) == 0;
	int tfd;
	DIR *d;

	if (!found && need_catalog(x, false) == 0)
		found = catalog_site_get(x->cat, s, &cs) == 0;
	if (!found && need_index(x) == 0)
		index_foreach(x->ix, s, any_op, &found);
	if (!found && (tfd = root_trash_open(x->backing_fd)) >= 0) {
		for (d = dir_at(tfd); d && !found && (de = readdir(d)); ) {
			int o = de->d_name[0] != '.' ? open_in(tfd, de->d_name) : -1;

			found = o >= 0 && fstatat(o, s, &st, AT_SYMLINK_NOFOLLOW) == 0;
			if (o >= 0)
				close(o);
		}
		if (d)
			closedir(d);
		close(tfd);
	}
	return found;
}

int known_site(struct gctl *x, const char *s, char *out)
{
	int r = site_arg(s, out);

	if (!r && !site_known(x, out))
		r = id_fail(fmt("unknown site '%s'", s));
	return r;
}

/* A typed "site:NAME" naming a site directory of the backing store (the
 * site commands): any other kind, or an unknown site, is a usage error. */
int site_id(struct gctl *x, const char *s, char *out)
{
	struct stat st;
	int r;

	if (!strchr(s, ':'))
		return id_fail(fmt("untyped ID '%s': write site:%s", s, s));
	if ((r = site_arg(s, out)))
		return r;
	if (fstatat(x->backing_fd, out, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
		return id_fail(fmt("unknown site '%s'", s));
	return 0;
}

/* ---- mutations: through the daemon, else in-process ---- */

/* ctl_call, waiting (up to ~20 s) while the daemon is serving CTL_CONN_MAX
 * requests already: it refused before reading ours, so nothing ran. */
int call_daemon(const char *sock, const char *const *argv, int argc, ctl_line_fn fn,
		       void *arg, char *msg, size_t cap)
{
	for (unsigned i = 0;; i++) {
		int r = ctl_call(sock, argv, argc, fn, arg, msg, cap);

		if (r != -EBUSY || strcmp(msg, CTL_BUSY_MSG) || i == 100)
			return r;
		usleep(20000 * (i < 10 ? i + 1 : 10));
	}
}

int print_line(void *arg, const char *const *f, int n)
{
	for (int i = 0; i < n; i++)
		printf("%s%s", i ? " " : "", f[i]);
	putchar('\n');
	return 0;
}

static void audit_problem(void *arg, int err, uint64_t queued, uint64_t lost)
{
	if (err)
		fprintf(stderr, "gracectl: warning: audit log not written: %s\n", strerror(-err));
}

/* No daemon: take its lock and run the verb here. */
static int run_local(struct gctl *x, const char *const *argv, int argc, ctl_line_fn fn,
		     void *arg, char *msg, size_t cap)
{
	struct audit_conf ac = { .on_event = audit_problem };
	struct ctl_peer me = { geteuid(), getegid(), getpid() };
	struct ctlcmd_ctx c = { NULL, NULL, x->backing_fd, NULL, NULL, CTLCMD_RETENTION_FLOOR_S };
	struct ctl_out out;
	char *v[CTL_ARGC_MAX];
	int r;

	if (x->lock_fd < 0) {
		x->lock_fd = openat(x->backing_fd, TRASH_STATE_DIR "/lock",
				    O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (x->lock_fd < 0 || flock(x->lock_fd, LOCK_EX | LOCK_NB) < 0) {
			snprintf(msg, cap, "a daemon serves this backing store but its control "
				 "socket does not answer");
			return -EBUSY;
		}
	}
	if (need_catalog(x, true))
		return snprintf(msg, cap, "cannot open the catalog"), -EIO;
	c.cat = x->cat;
	if ((r = audit_new(&c.audit, x->cat, &ac)) < 0)
		return snprintf(msg, cap, "audit: %s", strerror(-r)), r;
	for (int i = 0; i < argc; i++)
		v[i] = (char *)argv[i];
	ctl_out_callback(&out, fn, arg);
	r = ctlcmd_handle(&c, &me, v, argc, &out, msg, cap);
	audit_flush(c.audit);
	audit_free(c.audit);
	return r;
}

/* Run one verb; prints the error.  0 or -errno. */
int mutate_msg(struct gctl *x, const char *const *argv, int argc, ctl_line_fn fn, void *arg,
	       char *msg, size_t cap)
{
	int r = call_daemon(fmt("%s/ctl.sock", x->state), argv, argc, fn, arg, msg, cap);

	return r == -ECONNREFUSED ? run_local(x, argv, argc, fn, arg, msg, cap) : r;
}

int mutate(struct gctl *x, const char *const *argv, int argc, ctl_line_fn fn, void *arg)
{
	char msg[600] = "";
	int r = mutate_msg(x, argv, argc, fn, arg, msg, sizeof(msg));

	if (r < 0)
		fail(EXIT_FAILED, "%s: %s", argv[0], *msg ? msg : strerror(-r));
	return r;
}

/* ---- what a mutation did: text or one JSON object per command ---- */

void changes_init(struct changes *c, const char *command)
{
	*c = (struct changes){ .command = command, .t = TABLE(change_cols, "sbS") };
}

/* A daemon line of a mutation: "unchanged WHY" is noted, others shown. */
static int change_line(void *arg, const char *const *f, int n)
{
	struct changes *c = arg;

	if (n >= 1 && !strcmp(f[0], "unchanged")) {
		c->unchanged = true;
		snprintf(c->why, sizeof(c->why), "%s", n > 1 ? f[1] : "");
	} else if (!c->json) {
		print_line(NULL, f, n);
	}
	return 0;
}

int change(struct gctl *x, struct changes *c, const char *id, const char *const *argv,
	   int argc)
{
	int r;

	c->json = x->json;
	c->unchanged = false;
	c->why[0] = '\0';
	if ((r = mutate(x, argv, argc, change_line, c)) < 0)
		return r;
	table_add(&c->t, id, yes(!c->unchanged), c->unchanged ? c->why : "");
	if (!x->json)
		printf("%s: %s%s%s%s\n", c->command, id, c->unchanged ? " (unchanged: " : "",
		       c->why, c->unchanged ? ")" : "");
	return 0;
}

int changes_done(struct gctl *x, struct changes *c, int r)
{
	if (x->json) {
		fputs("{\"command\":", stdout);
		json_str(c->command);
		printf(",\"ok\":%s,\"results\":", r == EXIT_DONE ? "true" : "false");
		table_json(&c->t);
		puts("}");
	}
	table_free(&c->t);
	return r;
}


/* ---- main ---- */

#define OP_FORMS "op:NAME, op:SITE/NAME or op:/NAME (a deleted site)"
#define HOLD_FORMS "site:NAME, " OP_FORMS " (several at once), or one run:ID"

static const struct cmd cmds[] = {
	{ "ls",      c_ls,     "ls [SITE] [--run ID]", " --run= ",
	  "one site (NAME or site:NAME; a deleted whole site is still its name) and --run run:ID" },
	{ "show",    c_show,   "show op:ID | show run:ID", " ",
	  OP_FORMS ", or run:ID (a site's ops: gracectl ls SITE)" },
	{ "find",    c_find,   "find [--site SITE] [--run ID] PATTERN", " --site= --run= ",
	  "a name or path PATTERN, --site site:NAME and --run run:ID" },
	{ "runs",    c_runs,   "runs", " ", "no argument (show run:ID shows one)" },
	{ "undo",    c_undo,   "undo op:ID… | undo run:ID [--site S | --created] | "
			       "undo --since T [--until T] [--uid U] [--command C] [--script NAME] "
			       "[--site S[,S…]]… [--exclude-site S[,S…]]… [--exclude-op op:ID[,…]]… "
			       "[--execute [TOKEN]]",
	  " --since= --until= --uid= --command= --script= --site= --exclude-site= --exclude-op= "
	  "--created --execute? ",
	  OP_FORMS " (several at once), one run:ID, or a selection: --since T [--until T] "
	  "[--uid U] [--command C] [--script NAME] [--site S] [--exclude-site S] "
	  "[--exclude-op op:ID] (a site's ops: undo --since T --site S)" },
	{ "hold",    c_hold,   "hold site:ID|op:ID… | hold run:ID [--execute TOKEN]", " --execute? ",
	  HOLD_FORMS },
	{ "release", c_hold,   "release site:ID|op:ID… | release run:ID [--execute TOKEN]",
	  " --execute? ", HOLD_FORMS },
	{ "purge",   c_purge,  "purge op:ID --reason TEXT [--execute TOKEN]",
	  " --reason= --execute? ", "one " OP_FORMS " with --reason TEXT" },
	{ "site",    c_site,   "site ls|add|set|protect|unprotect …", NULL, NULL },
	{ "status",  c_status, "status", " ", "no argument" },
	{ "log",     c_log,    "log [--since T] [--until T] [--site S] [--op ID] [--run ID] [--event E] "
			       "[--limit N] [--after SEQ] [--follow]",
	  " --since= --until= --site= --op= --run= --event= --limit= --after= --follow -f ",
	  "--site NAME|site:NAME, --op " OP_FORMS " (or a bare op name), --run run:ID" },
	{ "audit",   c_audit,  "audit archive --before T --to FILE [--execute TOKEN] | "
			       "audit verify FILE", NULL, NULL },
};

static void usage(FILE *to)
{
	fputs("usage: gracectl [-b BACKING|MOUNTPOINT | --state BACKING/.gracefs] [--json] "
	      "[--progress] COMMAND …\n"
	      "(options may also follow the command; without -b: the only gracefs mount, or "
	      "the only /etc/gracefs/*.conf)\ncommands:\n", to);
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
		fprintf(to, "  %s\n", cmds[i].usage);
	for (size_t i = 0; i < n_site_cmds; i++)
		fprintf(to, "  %s\n", site_cmds[i].usage);
	fputs("IDs are typed: site:NAME, op:NAME or op:SITE/NAME (op:/NAME: a deleted site),\n"
	      "run:ID (the job that deleted: gracectl runs).\n"
	      "undo, purge and hold/release of a run are dry runs unless given --execute.\n", to);
}

/* --help after a command: that command's usage; else the whole of it. */
static void verb_usage(const char *verb)
{
	for (size_t i = 0; verb && i < ARRAY_SIZE(cmds); i++)
		if (!strcmp(cmds[i].name, verb) && strcmp(verb, "site")) {
			printf("usage: gracectl %s\n", cmds[i].usage);
			return;
		}
	if (verb && !strcmp(verb, "site")) {
		for (size_t i = 0; i < n_site_cmds; i++)
			printf("%s gracectl %s\n", i ? "      " : "usage:", site_cmds[i].usage);
		return;
	}
	usage(stdout);
}

static const struct cmd *running;   /* the command being run, for id_fail */

int id_fail(const char *msg)
{
	if (!running || !running->forms)
		return fail(EXIT_USAGE, "%s", msg);
	/* a subcommand ("site set"): its usage starts with the command's name */
	return fail(EXIT_USAGE, "%s (%s%s%s takes %s)", msg,
		    strncmp(running->usage, running->name, strlen(running->name)) ?
		    fmt("%.*s", (int)strcspn(running->usage, " "), running->usage) : "",
		    strncmp(running->usage, running->name, strlen(running->name)) ? " " : "",
		    running->name, running->forms);
}

/* Does spec (struct cmd.opts) know option a?  '=' a value, '?' an
 * optional token, ' ' a flag; 0 when unknown. */
static char opt_kind(const char *spec, const char *a)
{
	size_t n = strcspn(a, "=");
	const char *p = spec;

	while ((p = strstr(p, fmt(" %.*s", (int)n, a)))) {
		char k = p[n + 1];

		if (k == ' ' || k == '=' || k == '?')
			return k == '=' || k == '?' ? k : a[n] == '=' ? 0 : ' ';
		p += n + 1;
	}
	return 0;
}

/* Options of command c anywhere on its line: each is checked (unknown:
 * exit status 2) and moved, with its value, after the positionals, whose
 * order is kept; "--" ends them.  -1 to go on, else an exit status. */
static int check_opts(const struct cmd *c, int argc, char **argv)
{
	char **pos = xrealloc(NULL, (size_t)(argc + 1) * sizeof(*pos));
	char **opt = xrealloc(NULL, (size_t)(argc + 1) * sizeof(*opt));
	int np = 0, no = 0, r = -1;
	bool ended = false;

	for (int i = 0; i < argc && r < 0; i++) {
		const char *a = argv[i];
		char k;

		if (ended || a[0] != '-' || !a[1]) {
			pos[np++] = argv[i];
		} else if (!strcmp(a, "--")) {
			ended = true;
		} else if (!(k = opt_kind(c->opts, a))) {
			r = fail(EXIT_USAGE, "unknown option '%s' (usage: gracectl %s)", a, c->usage);
		} else {
			opt[no++] = argv[i];
			if (strchr(a, '='))
				continue;   /* --opt=VALUE */
			if (k == '=' && i + 1 < argc)
				opt[no++] = argv[++i];
			else if (k == '=')
				r = fail(EXIT_USAGE, "%s needs a value (usage: gracectl %s)", a, c->usage);
			else if (k == '?' && i + 1 < argc && strlen(argv[i + 1]) == CTLCMD_TOKEN_LEN &&
				 strspn(argv[i + 1], "0123456789abcdef") == CTLCMD_TOKEN_LEN)
				opt[no++] = argv[++i];
		}
	}
	if (r < 0) {
		memcpy(argv, pos, (size_t)np * sizeof(*pos));
		memcpy(argv + np, opt, (size_t)no * sizeof(*opt));
		argv[np + no] = NULL;
	}
	free(pos);
	free(opt);
	return r;
}

int dispatch(struct gctl *x, const struct cmd *c, size_t n, const char *what,
		    int argc, char **argv)
{
	int r;

	if (argc < 1)
		return fail(EXIT_USAGE, "%s: which command? (see --help)", what);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(c[i].name, argv[0]))
			continue;
		/* "--" is dropped: the positionals are first from now on */
		if (c[i].opts && (r = check_opts(&c[i], argc - 1, argv + 1)) >= 0)
			return r;
		if (c[i].opts)
			for (int j = 1; j < argc; j++)
				if (!argv[j]) {
					argc = j;
					break;
				}
		running = &c[i];
		return c[i].fn(x, argc - 1, argv + 1);
	}
	return fail(EXIT_USAGE, "unknown %s command '%s' (see --help)", what, argv[0]);
}

/* Take the global options out of argv, wherever they are (before or
 * after the command: `gracectl ls --json`); "--" ends them.  Returns
 * -1 to go on, else an exit status (help, version, a bad option). */
static int global_options(struct gctl *x, int *argc, char **argv, const char **store,
			  bool *is_state)
{
	int j = 1;
	bool verb = false, ended = false;

	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i];
		bool state = !strcmp(a, "--state");

		if (ended || a[0] != '-') {
			verb = true;
			argv[j++] = argv[i];
		} else if (!strcmp(a, "--")) {
			ended = true;
		} else if (!strcmp(a, "--json")) {
			x->json = true;
		} else if (!strcmp(a, "--progress") || !strcmp(a, "--no-progress")) {
			x->progress = a[2] == 'p' ? 1 : -1;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			verb_usage(verb ? argv[1] : NULL);
			return EXIT_DONE;
		} else if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
			printf("gracectl %s\n", GRACEFS_VERSION);
			return EXIT_DONE;
		} else if (state || !strcmp(a, "-b") || !strcmp(a, "--backing")) {
			if (i + 1 >= *argc)
				return fail(EXIT_USAGE, "%s needs a directory", a);
			*store = argv[++i];
			*is_state = state;
		} else if (!strncmp(a, "--backing=", 10) || !strncmp(a, "--state=", 8)) {
			*store = strchr(a, '=') + 1;
			*is_state = a[2] == 's';
		} else if (!verb) {
			return fail(EXIT_USAGE, "unknown option '%s' (see --help)", a);
		} else {
			argv[j++] = argv[i];   /* the command's own option */
		}
	}
	*argc = j;
	argv[j] = NULL;
	return -1;
}

int main(int argc, char **argv)
{
	struct gctl x = { .backing_fd = -1, .lock_fd = -1 };
	const char *store = NULL;
	bool is_state = false;
	int r = global_options(&x, &argc, argv, &store, &is_state);

	if (r >= 0)
		return r;
	if (argc < 2)
		return fail(EXIT_USAGE, "which command? (see --help)");
	if (!strcmp(argv[1], "help"))
		return usage(stdout), EXIT_DONE;
	r = store_open(&x, store, is_state);
	if (!r && !strcmp(argv[1], "__complete"))
		r = c_complete(&x, argc - 2, argv + 2);
	else if (!r)
		r = dispatch(&x, cmds, ARRAY_SIZE(cmds), "gracectl", argc - 1, argv + 1);
	fflush(stdout);
	index_close(x.ix);
	catalog_close(x.cat);
	if (x.lock_fd >= 0)
		close(x.lock_fd);
	if (x.backing_fd >= 0)
		close(x.backing_fd);
	return r;
}
