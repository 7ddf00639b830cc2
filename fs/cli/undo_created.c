/*
 * gctl_undo_created — `undo run:ID --created`: what the run created and
 * nobody changed since, listed by the dry run (its plan token covers
 * them) and moved by the daemon into an op of gracectl's own, before the
 * run's deletions are restored (docs/cli.md, "Undoing what a run
 * created").  Main thread only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "engine/created.h"

static const char *const cr_cols[] = { "site", "path", "type", "verdict", "why", "op" };

static const char *type_of(uint32_t mode)
{
	return S_ISDIR(mode) ? "dir" : S_ISLNK(mode) ? "symlink" : S_ISREG(mode) ? "file" :
	       "other";
}

int created_dry(struct gctl *x, const char *run, struct created_run *c)
{
	struct created_plan p;
	int r = created_plan(x->ix, x->backing_fd, run, &p);

	if (r < 0) {
		created_plan_release(&p);
		return fail(EXIT_FAILED, "cannot read what run:%s created: %s", run, strerror(-r));
	}
	c->t = (struct table)TABLE(cr_cols, "sssssS");
	for (size_t i = 0; i < p.n; i++) {
		const struct created_item *it = &p.v[i];

		table_add(&c->t, it->rec.site, it->path, type_of(it->rec.mode),
			  created_verdict_name(it->v), it->why, "");
	}
	c->n[0] = p.moves;
	c->n[1] = p.changed;
	c->n[2] = p.kept;
	c->n[3] = p.gone;
	c->planned = true;
	created_plan_release(&p);
	return 0;
}

char *created_body(const struct created_run *c, char *body, char token[CTLCMD_TOKEN_LEN + 1])
{
	size_t len = strlen(body), cap = len + 1;
	char *b = xstrdup(body);

	free(body);
	for (size_t i = 0; i < c->t.nrows; i++) {
		const char *line = fmt("created\t%s\t%s\t%s\t%s\n", cell(&c->t, i, 0),
				       cell(&c->t, i, 1), cell(&c->t, i, 2), cell(&c->t, i, 3));
		size_t l = strlen(line);

		if (len + l + 1 > cap) {
			cap = 2 * (len + l + 1);
			b = xrealloc(b, cap);
		}
		memcpy(b + len, line, l + 1);
		len += l;
	}
	ctlcmd_plan_token(b, token);
	return b;
}

void created_json(const struct created_run *c, bool executed)
{
	printf(",\"created\":{\"%s\":%zu,\"changed\":%zu,\"kept\":%zu,\"gone\":%zu,",
	       executed ? "moved" : "move", c->n[0], c->n[1], c->n[2], c->n[3]);
	if (executed)
		printf("\"failed\":%zu,", c->n[4]);
	fputs("\"list\":", stdout);
	table_json(&c->t);
	putchar('}');
}

void created_plain(const struct created_run *c, bool executed)
{
	if (!c->t.nrows) {
		printf("\n--created: the run created nothing through the mount that is recorded\n");
		return;
	}
	printf("\nwhat the run created (%s: into a new op of gracectl's own, one per site; "
	       "changed: another process changed it since, left; kept: a directory holding "
	       "items that stay, left; gone: no longer where the run left it):\n",
	       executed ? "moved" : "move");
	table_plain(&c->t);
	if (executed)
		printf("--created: %zu item(s) moved into trash, %zu changed since (left), %zu "
		       "kept, %zu gone, %zu failed\n", c->n[0], c->n[1], c->n[2], c->n[3], c->n[4]);
	else
		printf("--created: would move %zu item(s) the run created into trash; %zu changed "
		       "since (left), %zu kept, %zu gone\n", c->n[0], c->n[1], c->n[2], c->n[3]);
}

struct uncreate_call {
	struct created_run *c;
	struct table dry;   /* the dry run's rows, in the daemon's order */
};

/* The type the dry run found for row i (the daemon plans in the same
 * order; a mismatch, an item recorded since, shows no type). */
static const char *dry_type(const struct uncreate_call *u, size_t i, const char *site,
			    const char *path)
{
	if (i < u->dry.nrows && !strcmp(cell(&u->dry, i, 0), site) &&
	    !strcmp(cell(&u->dry, i, 1), path))
		return cell(&u->dry, i, 2);
	return "";
}

/* One line of the daemon's uncreate. */
static int uncreate_line(void *arg, const char *const *f, int n)
{
	struct uncreate_call *u = arg;
	struct created_run *c = u->c;
	bool moved;

	if (n >= 11 && !strcmp(f[0], "done")) {
		for (int i = 0; i < 5; i++)
			c->n[i] = strtoull(f[2 + 2 * i], NULL, 10);
		return 0;
	}
	if (n < 4)
		return 0;
	moved = !strcmp(f[0], "moved");
	table_add(&c->t, f[1], f[2], dry_type(u, c->t.nrows, f[1], f[2]), f[0],
		  moved ? "" : f[3], moved ? op_id(f[1], f[3]) : "");
	return 0;
}

int created_execute(struct gctl *x, const char *run, struct created_run *c)
{
	struct uncreate_call u = { c, c->t };
	char sock[PATH_MAX + 32], msg[600] = "";
	int r;

	c->t = (struct table)TABLE(cr_cols, "sssssS");
	memset(c->n, 0, sizeof(c->n));
	snprintf(sock, sizeof(sock), "%s/ctl.sock", x->state);
	r = call_daemon(sock, (const char *[]){ "uncreate", run }, 2, uncreate_line, &u, msg,
			sizeof(msg));
	table_free(&u.dry);
	c->executed = true;
	if (r < 0 && !c->n[4])
		return fail(EXIT_FAILED, "undo --created: %s", *msg ? msg : strerror(-r));
	if (r < 0)
		fprintf(stderr, "gracectl: error: %s\n", msg);
	return 0;
}
