/*
 * gctl_site — site commands (ls, add, set, protect, unprotect) and trash
 * usage per site (shared with status).  Main thread only.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "engine/evict.h"
#include "engine/exclude_glob.h"
#include "engine/sitepolicy.h"
#include "lib/util.h"

/* ---- sites ---- */

/* Index order keeps each scope's ops together: one run per scope. */
static int usage_add(const struct op_record *r, void *arg)
{
	struct usages *u = arg;
	struct usage *s = u->n ? &u->v[u->n - 1] : NULL;

	if (!s || strcmp(s->scope, r->scope)) {
		u->v = xrealloc(u->v, (u->n + 1) * sizeof(*u->v));
		s = memset(&u->v[u->n++], 0, sizeof(*s));
		strcpy(s->scope, r->scope);
	}
	s->ops++;
	s->items += r->items;
	s->bytes += r->bytes;
	if (!s->oldest_s || r->first_ns / NS < s->oldest_s)
		s->oldest_s = r->first_ns / NS;
	if (!r->hold && (!s->next_expiry_s || oprec_expiry(r) < s->next_expiry_s))
		s->next_expiry_s = oprec_expiry(r);
	return 0;
}

static int cmp_usage(const void *a, const void *b)
{
	return strcmp(((const struct usage *)a)->scope, ((const struct usage *)b)->scope);
}

int load_usage(struct gctl *x, struct usages *u)
{
	int r = need_index(x);

	*u = (struct usages){0};
	if (!r && (r = index_foreach(x->ix, NULL, usage_add, u)) < 0) {
		free(u->v);
		return fail(EXIT_FAILED, "index: %s", strerror(-r));
	}
	if (u->n)
		qsort(u->v, u->n, sizeof(*u->v), cmp_usage);
	for (size_t i = 0; i < u->n; i++)
		if ((u->v[i].held = site_held(x->backing_fd, u->v[i].scope)))
			u->v[i].next_expiry_s = 0;   /* a held site expires nothing */
	return r;
}

const struct usage *usage_of(const struct usages *u, const char *scope)
{
	struct usage key;

	snprintf(key.scope, sizeof(key.scope), "%s", scope);
	return u->n ? bsearch(&key, u->v, u->n, sizeof(*u->v), cmp_usage) : NULL;
}

const char *const usage_cols[] = { "site", "ops", "items", "bytes", "oldest",
	"next_expiry" };

const char *usage_expiry(const struct usage *us)
{
	if (us->held || (us->ops && !us->next_expiry_s))
		return HELD_NEVER;
	return utc(us->next_expiry_s);
}

void usage_rows(struct table *t, const struct usages *u)
{
	for (size_t i = 0; i < u->n; i++)
		table_add(t, *u->v[i].scope ? u->v[i].scope : "/", num(u->v[i].ops),
			  num(u->v[i].items), num(u->v[i].bytes), utc(u->v[i].oldest_s),
			  usage_expiry(&u->v[i]));
}

struct names {
	char **v;
	size_t n;
};

static void names_add(struct names *n, const char *s)
{
	n->v = xrealloc(n->v, (n->n + 1) * sizeof(*n->v));
	n->v[n->n++] = xstrdup(s);
}

static int site_name_cb(const struct catalog_site *s, void *arg)
{
	names_add(arg, s->id);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The site directories of the backing store, appended to n. */
static void site_dirs(struct gctl *x, struct names *n)
{
	struct dirent *de;
	DIR *d;

	for (d = dir_at(x->backing_fd); d && (de = readdir(d)); ) {
		struct stat st;

		if (catalog_site_id_valid(de->d_name) &&
		    fstatat(x->backing_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode))
			names_add(n, de->d_name);
	}
	if (d)
		closedir(d);
}

static void names_free(struct names *n)
{
	while (n->n)
		free(n->v[--n->n]);
	free(n->v);
}

/* "site  exclude" rows for every site with exclusion patterns. */
void exclusion_rows(struct gctl *x, struct table *t)
{
	struct names names = {0};
	char excl[EXCLUDE_LIST_MAX + 2];

	site_dirs(x, &names);
	if (names.n)
		qsort(names.v, names.n, sizeof(*names.v), cmp_str);
	for (size_t i = 0; i < names.n; i++)
		if (sitepolicy_get_exclude(x->backing_fd, names.v[i], excl, sizeof(excl)) == 0 &&
		    *excl)
			table_add(t, names.v[i], excl);
	names_free(&names);
}

static int site_ls(struct gctl *x, int argc, char **argv)
{
	static const char *const cols[] = { "site", "kind", "state", "created", "retention",
		"hold", "ops", "items", "bytes", "oldest", "next_expiry", "protected", "trash_max",
		"exclude", "nopreserve" };
	struct table t = TABLE(cols, "sSsSsbnnnSEaSSS");   /* unset: null */
	struct catalog_protected *prot = NULL;
	struct names names = {0};
	struct usages u;
	bool have_cat;
	int r;

	(void)argv;
	if (argc)
		return fail(EXIT_USAGE, "usage: site ls (it takes no argument; one site's trash: "
			    "gracectl ls SITE)");
	have_cat = need_catalog(x, false) == 0;
	if ((r = load_usage(x, &u)))
		return r;
	site_dirs(x, &names);
	if (have_cat) {
		catalog_site_list(x->cat, site_name_cb, &names);
		catalog_protected_list(x->cat, &prot);
	}
	if (names.n)
		qsort(names.v, names.n, sizeof(*names.v), cmp_str);
	for (size_t i = 0; i < names.n; i++) {
		struct catalog_site cs = { .kind = "" };
		struct site_policy pol = {0};
		const struct usage *us = usage_of(&u, names.v[i]);
		char ret[32] = "default", plist[1024] = "", tmax[32] = "", excl[EXCLUDE_LIST_MAX + 2];
		char nopr[EXCLUDE_LIST_MAX + 2];
		bool in_cat;

		if (i && !strcmp(names.v[i], names.v[i - 1]))
			continue;   /* both a directory and in the catalog */
		in_cat = have_cat && catalog_site_get(x->cat, names.v[i], &cs) == 0;
		sitepolicy_get(x->backing_fd, names.v[i], &pol);
		if (pol.retention_s)
			util_format_duration(pol.retention_s, ret, sizeof(ret));
		if (pol.trash_max)
			util_format_size(pol.trash_max, tmax, sizeof(tmax));
		if (sitepolicy_get_exclude(x->backing_fd, names.v[i], excl, sizeof(excl)) < 0)
			snprintf(excl, sizeof(excl), "?");
		if (sitepolicy_get_nopreserve(x->backing_fd, names.v[i], nopr, sizeof(nopr)) < 0)
			snprintf(nopr, sizeof(nopr), "?");
		for (size_t k = 0, len = 0; prot && k < prot->n; k++)
			if (!strcmp(prot->v[k].site, names.v[i]) &&
			    len + strlen(prot->v[k].path) + 3 < sizeof(plist))
				len += (size_t)snprintf(plist + len, sizeof(plist) - len, "%s/%s",
							len ? "," : "", prot->v[k].path);
		table_add(&t, names.v[i], in_cat ? cs.kind : "",
			  in_cat ? catalog_state_name(cs.state) : "uncataloged",
			  in_cat ? utc(cs.created_s) : "", ret, yes(pol.hold),
			  num(us ? us->ops : 0), num(us ? us->items : 0), num(us ? us->bytes : 0),
			  us ? utc(us->oldest_s) : "", us ? usage_expiry(us) : pol.hold ? HELD_NEVER : "", plist, tmax,
			  excl, nopr);
	}
	table_print(&t, x->json);
	table_free(&t);
	catalog_protected_free(prot);
	names_free(&names);
	free(u.v);
	return EXIT_DONE;
}

static int site_add(struct gctl *x, int argc, char **argv)
{
	struct changes c;
	char site[NAME_MAX + 1];
	const char *kind = argc == 2 ? argv[1] : "site";
	int r;

	if (argc < 1 || argc > 2)
		return fail(EXIT_USAGE, "usage: site add site:ID [KIND|kind=KIND]");
	if ((r = site_id(x, argv[0], site)))
		return r;
	if (!strncmp(kind, "kind=", 5))
		kind += 5;
	changes_init(&c, "site add");
	r = change(x, &c, argv[0], (const char *[]){ "site-add", site, kind }, 3);
	return changes_done(x, &c, r < 0 ? EXIT_FAILED : EXIT_DONE);
}

/* trash_max, exclude and nopreserve make data leave without its retention
 * (eviction, direct deletion, overwrites not preserved): setting any is a
 * dry run first, like lowering a retention.  The values are checked here so the dry run is about a
 * setting that can be made. */
struct space_dry {
	bool any;
	uint64_t cap;                          /* trash_max given (0: not given) */
	char exclude[EXCLUDE_LIST_MAX + 1];    /* canonical list given ("": not given) */
	char nopreserve[EXCLUDE_LIST_MAX + 1]; /* the same for nopreserve */
};

/* Note a trash_max, exclude or nopreserve value in *d.  0 (also for other keys and
 * "none"), or -1 for a bad value (the error is printed). */
static int space_key_dry(const char *k, const char *v, struct space_dry *d)
{
	struct exclude_set xs;
	char msg[256];

	if (!strcmp(v, "none"))
		return 0;
	if (!strcmp(k, "trash_max")) {
		if (util_parse_size(v, &d->cap) < 0 || d->cap > INT64_MAX) {
			fail(EXIT_USAGE, "bad trash_max '%s' (a size: 512M, 20G; or none)", v);
			return -1;
		}
		d->any = d->cap > 0;
	} else if (!strcmp(k, "exclude") || !strcmp(k, "nopreserve")) {
		char *to = !strcmp(k, "exclude") ? d->exclude : d->nopreserve;

		if (exclude_parse(v, &xs, msg, sizeof(msg)) < 0) {
			fail(EXIT_USAGE, "%s", msg);
			return -1;
		}
		exclude_format(&xs, to, sizeof(d->exclude));
		d->any = d->any || *to;
	}
	return 0;
}

static void space_dry_print(const struct space_dry *d, const char *site, uint64_t ops,
			    uint64_t bytes)
{
	char cap[32];

	if (d->cap) {
		util_format_size(d->cap, cap, sizeof(cap));
		printf("dry run: would cap the trash of site '%s' at %s; it holds %" PRIu64
		       " bytes in %" PRIu64 " op(s) now. While it holds more, the sweeper evicts "
		       "its oldest operations past min_retention (not held ones).\n", site, cap,
		       bytes, ops);
	}
	if (*d->exclude)
		printf("dry run: would delete items of site '%s' matching %s directly, not to "
		       "trash (unlink, rmdir of empty directories, rename over them): they could "
		       "not be restored.\n", site, d->exclude);
	if (*d->nopreserve)
		printf("dry run: would let files of site '%s' matching %s be overwritten and "
		       "truncated without keeping their content first (audited as unpreserved): "
		       "undo could not bring those changes back.\n", site, d->nopreserve);
}

static int no_lines(void *arg, const char *const *f, int n)
{
	(void)arg, (void)f, (void)n;
	return 0;
}

/* Would the daemon accept this site-set (v, n: its arguments)?  It checks
 * what only it knows (the retention floor) and everything else, changing
 * nothing: a dry run must refuse what --execute would.  0, or an exit
 * status (2 for a bad setting; the message is printed). */
static int site_set_check(struct gctl *x, const char **v, int n)
{
	char msg[600] = "";
	const char *verb = v[0];
	int r;

	v[0] = "site-check";
	r = mutate_msg(x, v, n, no_lines, NULL, msg, sizeof(msg));
	v[0] = verb;
	if (r < 0)
		return fail(r == -EINVAL ? EXIT_USAGE : EXIT_FAILED, "site set: %s",
			    *msg ? msg : strerror(-r));
	return 0;
}

/* site set site:ID key=value…  (lowering retention is a dry run first) */
static int site_set(struct gctl *x, int argc, char **argv)
{
	struct changes c;
	const char *v[CTL_ARGC_MAX] = { "site-set" }, *given, *newret = NULL;
	bool execute = take_execute(&argc, argv, &given), lowers = false;
	char site[NAME_MAX + 1], cur[32] = "the mount's default", keys[CTL_ARGC_MAX / 2][16];
	struct site_policy pol;
	struct space_dry sdry = {0};
	int n = 2, r;
	int64_t nr = 0;

	if (argc < 2 || argc > CTL_ARGC_MAX / 2)
		return fail(EXIT_USAGE, "usage: site set site:ID retention=DURATION|default "
			    "hold=on|off kind=KIND preserve_max=SIZE|default trash_max=SIZE|none "
			    "exclude=GLOB,…|none nopreserve=GLOB,…|none… "
			    "[--execute]");
	if ((r = site_id(x, argv[0], site)))
		return r;
	v[1] = site;
	for (int i = 1; i < argc; i++) {
		char *eq = strchr(argv[i], '=');

		if (!eq || eq - argv[i] >= (int)sizeof(keys[0]))
			return fail(EXIT_USAGE, "expected KEY=VALUE, got '%s'", argv[i]);
		/* argv stays as it is: /proc/self/cmdline goes into the audit */
		snprintf(keys[i], sizeof(keys[i]), "%.*s", (int)(eq - argv[i]), argv[i]);
		v[n++] = keys[i];
		v[n++] = eq + 1;
		if (space_key_dry(keys[i], eq + 1, &sdry) < 0)
			return EXIT_USAGE;
		if (strcmp(keys[i], "retention"))
			continue;
		newret = eq + 1;
		if (strcmp(newret, "default") && util_parse_duration(newret, &nr) < 0)
			return fail(EXIT_USAGE, "bad retention '%s' (e.g. 30d, 12h)", newret);
		if (sitepolicy_get(x->backing_fd, site, &pol) < 0)
			return id_fail(fmt("unknown site '%s'", argv[0]));
		if (pol.retention_s)
			util_format_duration(pol.retention_s, cur, sizeof(cur));
		/* "default", or from the (unknown here) default, may be lower */
		lowers = !nr || !pol.retention_s || nr < pol.retention_s;
	}
	if ((r = site_set_check(x, v, n)))
		return r;
	if ((lowers || sdry.any) && !execute) {
		struct usages u;
		const struct usage *us;

		if ((r = load_usage(x, &u)))
			return r;
		us = usage_of(&u, site);
		if (lowers)
			printf("dry run: would set the retention of site '%s' from %s to %s.\n"
			       "It applies to operations deleted from now on; the %" PRIu64 " op(s) "
			       "(%" PRIu64 " bytes) in its trash keep the retention they were "
			       "deleted with.\n", site, cur, nr ? newret : "the mount's default",
			       us ? us->ops : 0, us ? us->bytes : 0);
		space_dry_print(&sdry, site, us ? us->ops : 0, us ? us->bytes : 0);
		puts("to act, run the same command with --execute");
		free(u.v);
		return EXIT_DONE;
	}
	changes_init(&c, "site set");
	r = change(x, &c, argv[0], v, n);
	return changes_done(x, &c, r < 0 ? EXIT_FAILED : EXIT_DONE);
}

static int site_protect(struct gctl *x, int argc, char **argv)
{
	struct changes c;
	const char *verb = argv[-1];
	char site[NAME_MAX + 1];
	int r;

	if (argc != 2)
		return fail(EXIT_USAGE, "usage: site %s site:ID PATH", verb);
	if ((r = site_id(x, argv[0], site)))
		return r;
	changes_init(&c, fmt("site %s", verb));
	r = change(x, &c, fmt("%s %s", argv[0], argv[1]), (const char *[]){ verb, site, argv[1] },
		   3);
	return changes_done(x, &c, r < 0 ? EXIT_FAILED : EXIT_DONE);
}

const struct cmd site_cmds[] = {
	{ "ls",        site_ls,      "site ls", " ", "no argument" },
	{ "add",       site_add,     "site add site:ID [KIND]", " ", "one site:NAME (a directory "
				     "of the backing store) and a KIND" },
	{ "set",       site_set,     "site set site:ID retention=DURATION|default hold=on|off "
				     "kind=KIND preserve_max=SIZE trash_max=SIZE|none "
				     "exclude=GLOB,…|none nopreserve=GLOB,…|none [--execute]",
	  " --execute? ", "one site:NAME (a directory of the backing store) and KEY=VALUE…" },
	{ "protect",   site_protect, "site protect site:ID PATH", " ",
	  "one site:NAME and a site-relative PATH" },
	{ "unprotect", site_protect, "site unprotect site:ID PATH", " ",
	  "one site:NAME and a site-relative PATH" },
};
const size_t n_site_cmds = ARRAY_SIZE(site_cmds);

int c_site(struct gctl *x, int argc, char **argv)
{
	return dispatch(x, site_cmds, n_site_cmds, "site", argc, argv);
}
