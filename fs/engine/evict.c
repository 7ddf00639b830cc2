/*
 * evict — the eviction policy (see evict.h).  Pure: no I/O, no clock.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "engine/evict.h"

#define NS 1000000000LL

static const char units[] = "KMGTP";

int evict_parse_floor(const char *s, struct evict_floor *f)
{
	size_t n = strlen(s);
	uint64_t v;
	int r;

	if (n > 1 && s[n - 1] == '%') {
		char num[16];

		if (n - 1 >= sizeof(num))
			return -EINVAL;
		memcpy(num, s, n - 1);
		num[n - 1] = '\0';
		if (strspn(num, "0123456789") != n - 1 || (r = util_parse_size(num, &v)) < 0)
			return -EINVAL;
		if (v >= 100)
			return -EINVAL;
		*f = (struct evict_floor){ .pct = true, .value = v };
		return 0;
	}
	if ((r = util_parse_size(s, &v)) < 0)
		return r;
	*f = (struct evict_floor){ .pct = false, .value = v };
	return 0;
}

void evict_format_approx(uint64_t bytes, char *buf, size_t cap)
{
	double v = (double)bytes;
	int u = -1;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, cap, "%" PRIu64 "B", bytes);
	else
		snprintf(buf, cap, "%.1f%ciB", v, units[u]);
}

void evict_format_floor(const struct evict_floor *f, char *buf, size_t cap)
{
	if (f->pct)
		snprintf(buf, cap, "%" PRIu64 "%%", f->value);
	else
		util_format_size(f->value, buf, cap);
}

uint64_t evict_floor_bytes(const struct evict_floor *f, uint64_t total)
{
	if (!f->pct)
		return f->value;
	return total / 100 * f->value + total % 100 * f->value / 100;
}

uint64_t evict_margin(uint64_t floor_bytes)
{
	return floor_bytes / 10;
}

/* The stamp in whole seconds, rounded up as oprec_due() rounds it. */
static int64_t stamp_s(const struct evict_op *o)
{
	return o->el_ns <= 0 ? 0 : (o->el_ns + NS - 1) / NS;
}

bool evict_eligible(const struct evict_op *op, int64_t now_s, int64_t min_age_s)
{
	return op->state == OP_CLOSED && !op->hold && !op->site_held &&
	       now_s - stamp_s(op) >= min_age_s;
}

/* Sort keys copied next to the op indices (qsort has no context). */
struct key {
	size_t op;
	int64_t el_ns;
	const char *scope, *name;
};

static int cmp_key(const void *a, const void *b)
{
	const struct key *x = a, *y = b;
	int c;

	if (x->el_ns != y->el_ns)
		return x->el_ns < y->el_ns ? -1 : 1;
	if ((c = strcmp(x->scope, y->scope)))
		return c;
	return strcmp(x->name, y->name);
}

/* One scope as the fair floor sees it. */
struct scope {
	const char *name;
	uint64_t used;           /* unheld bytes not being purged, minus victims */
	uint64_t cap;            /* trash_max, 0: none */
	size_t first, end, next; /* its eligible ops: order[first..end), next unchosen */
};

static int cmp_scope_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static uint64_t share_of(const struct scope *s, uint64_t equal)
{
	uint64_t v = s->cap ? s->cap : equal;

	return v ? v : 1;
}

/* Usage against share: is a's larger than b's? */
static int cmp_ratio(const struct scope *a, uint64_t sa, const struct scope *b, uint64_t sb)
{
	unsigned __int128 x = (unsigned __int128)a->used * sb, y = (unsigned __int128)b->used * sa;

	return x > y ? 1 : x < y ? -1 : 0;
}

static struct evict_figures figures(const struct scope *s, uint64_t equal)
{
	if (!s)
		return (struct evict_figures){0};
	return (struct evict_figures){ s->name, s->used, share_of(s, equal) };
}

/* The scope with usage whose usage against share is largest, other than
 * `skip` (NULL when none). */
static struct scope *top_scope(struct scope *sc, size_t n, const struct scope *skip,
			       uint64_t equal)
{
	struct scope *best = NULL;

	for (size_t i = 0; i < n; i++)
		if (&sc[i] != skip && sc[i].used &&
		    (!best || cmp_ratio(&sc[i], share_of(&sc[i], equal), best,
					share_of(best, equal)) > 0))
			best = &sc[i];
	return best;
}

/* The equal share: usage total over the scopes that have usage. */
static uint64_t equal_share(const struct scope *sc, size_t n)
{
	uint64_t total = 0, with = 0;

	for (size_t i = 0; i < n; i++)
		if (sc[i].used) {
			total += sc[i].used;
			with++;
		}
	return with ? total / with : 0;
}

struct work {
	const struct evict_input *in;
	struct key *k;           /* eligible ops, oldest first */
	size_t nk;
	unsigned char *chosen;   /* per op: 0, or its enum evict_reason */
	struct scope *sc;
	size_t nsc;
	size_t *op_scope;        /* per op: index into sc */
	size_t *order;           /* positions in k, grouped by scope, oldest first */
};

static void work_free(struct work *w)
{
	free(w->k);
	free(w->chosen);
	free(w->sc);
	free(w->op_scope);
	free(w->order);
}

/* The scopes, each op's scope, usage, caps and per-scope eligible lists. */
static int build_scopes(struct work *w)
{
	const struct evict_input *in = w->in;
	const char **names;
	size_t n = 0;

	if (!(names = malloc(in->nops * sizeof(*names))))
		return -ENOMEM;
	for (size_t i = 0; i < in->nops; i++)
		names[i] = in->ops[i].scope;
	qsort(names, in->nops, sizeof(*names), cmp_scope_name);
	for (size_t i = 0; i < in->nops; i++)
		if (!n || strcmp(names[n - 1], names[i]))
			names[n++] = names[i];
	if (!(w->sc = calloc(n, sizeof(*w->sc))) ||
	    !(w->op_scope = malloc(in->nops * sizeof(*w->op_scope))) ||
	    !(w->order = malloc((w->nk ? w->nk : 1) * sizeof(*w->order)))) {
		free(names);
		return -ENOMEM;
	}
	w->nsc = n;
	for (size_t i = 0; i < n; i++)
		w->sc[i].name = names[i];
	free(names);
	for (size_t i = 0; i < in->nops; i++) {
		const struct evict_op *o = &in->ops[i];
		size_t lo = 0, hi = n;

		while (lo < hi) {   /* the scope's index: every op's scope is in sc */
			size_t mid = (lo + hi) / 2;
			int c = strcmp(o->scope, w->sc[mid].name);

			if (!c) {
				lo = mid;
				break;
			}
			if (c < 0)
				hi = mid;
			else
				lo = mid + 1;
		}
		w->op_scope[i] = lo;
		if (!o->hold && !o->site_held && o->state != OP_PURGING)
			w->sc[w->op_scope[i]].used += o->bytes;
	}
	for (size_t c = 0; c < in->ncaps; c++)
		for (size_t i = 0; i < n; i++)
			if (!strcmp(w->sc[i].name, in->caps[c].scope))
				w->sc[i].cap = in->caps[c].max_bytes;
	/* counting sort of the eligible ops by scope, keeping time order */
	for (size_t j = 0; j < w->nk; j++)
		w->sc[w->op_scope[w->k[j].op]].end++;
	for (size_t i = 0, at = 0; i < n; i++) {
		size_t cnt = w->sc[i].end;

		w->sc[i].first = w->sc[i].next = at;
		w->sc[i].end = at;
		at += cnt;
	}
	for (size_t j = 0; j < w->nk; j++)
		w->order[w->sc[w->op_scope[w->k[j].op]].end++] = j;
	return 0;
}

/* The op (index into in->ops) the scope would give next, or SIZE_MAX. */
static size_t next_op(struct work *w, struct scope *s)
{
	while (s->next < s->end && w->chosen[w->k[w->order[s->next]].op])
		s->next++;
	return s->next < s->end ? w->k[w->order[s->next]].op : SIZE_MAX;
}

static void evict_caps(struct work *w, struct evict_plan *plan, uint64_t *freed)
{
	const struct evict_input *in = w->in;

	for (size_t c = 0; c < in->ncaps; c++) {
		uint64_t used = 0;

		for (size_t i = 0; i < in->nops; i++)
			if (!strcmp(in->ops[i].scope, in->caps[c].scope))
				used += in->ops[i].bytes;
		for (size_t j = 0; j < w->nk && used > in->caps[c].max_bytes; j++) {
			size_t i = w->k[j].op;
			const struct evict_op *o = &in->ops[i];
			struct scope *s = &w->sc[w->op_scope[i]];

			if (w->chosen[i] || strcmp(o->scope, in->caps[c].scope))
				continue;
			w->chosen[i] = EVICT_CAP;
			plan->v[plan->n++] = (struct evict_victim){
				i, EVICT_CAP, { s->name, used, in->caps[c].max_bytes }, {0} };
			used -= o->bytes < used ? o->bytes : used;
			s->used -= o->bytes < s->used ? o->bytes : s->used;
			*freed += o->bytes;
		}
	}
}

/* The floor, fairly (evict.h). */
static void evict_floor(struct work *w, struct evict_plan *plan, uint64_t *freed)
{
	const struct evict_input *in = w->in;
	uint64_t target = in->floor + evict_margin(in->floor);

	while (in->avail + *freed < target) {
		uint64_t eq = equal_share(w->sc, w->nsc);
		struct scope *best = NULL, *top;
		size_t best_op = SIZE_MAX, best_pos = 0;

		for (size_t i = 0; i < w->nsc; i++) {
			struct scope *s = &w->sc[i];
			size_t op = next_op(w, s);
			int c;

			if (op == SIZE_MAX)
				continue;
			c = best ? cmp_ratio(s, share_of(s, eq), best, share_of(best, eq)) : 1;
			if (c > 0 || (c == 0 && w->order[s->next] < best_pos)) {
				best = s;
				best_op = op;
				best_pos = w->order[s->next];
			}
		}
		if (!best)
			break;
		top = top_scope(w->sc, w->nsc, NULL, eq);
		if (best->used <= share_of(best, eq) && top && top->used > share_of(top, eq)) {
			plan->blocked_by = figures(top, eq);
			break;
		}
		w->chosen[best_op] = EVICT_SPACE;
		plan->v[plan->n++] = (struct evict_victim){
			best_op, EVICT_SPACE, figures(best, eq),
			figures(top_scope(w->sc, w->nsc, best, eq), eq) };
		best->used -= in->ops[best_op].bytes < best->used ? in->ops[best_op].bytes : best->used;
		*freed += in->ops[best_op].bytes;
	}
}

int evict_plan(const struct evict_input *in, struct evict_plan *plan)
{
	struct work w = { .in = in };
	uint64_t freed = 0;

	plan->n = 0;
	plan->bytes = plan->eligible_ops = plan->eligible_bytes = 0;
	plan->held = plan->young = plan->busy = 0;
	plan->below_floor = in->avail < in->floor;
	plan->short_of_floor = false;
	plan->blocked_by = plan->top = (struct evict_figures){0};
	if (!in->nops) {
		plan->short_of_floor = plan->below_floor;
		return 0;
	}
	if (!(w.k = malloc(in->nops * sizeof(*w.k))) ||
	    !(w.chosen = calloc(in->nops, sizeof(*w.chosen))))
		goto nomem;
	for (size_t i = 0; i < in->nops; i++) {
		const struct evict_op *o = &in->ops[i];

		if (!evict_eligible(o, in->now_s, in->min_age_s)) {
			if (o->state != OP_CLOSED)
				plan->busy++;
			else if (o->hold || o->site_held)
				plan->held++;
			else
				plan->young++;
			continue;
		}
		w.k[w.nk++] = (struct key){ i, o->el_ns, o->scope, o->name };
		plan->eligible_ops++;
		plan->eligible_bytes += o->bytes;
	}
	if (w.nk > 1)
		qsort(w.k, w.nk, sizeof(*w.k), cmp_key);
	if (build_scopes(&w) < 0)
		goto nomem;
	evict_caps(&w, plan, &freed);
	if (plan->below_floor) {
		evict_floor(&w, plan, &freed);
		plan->short_of_floor = in->avail + freed < in->floor;
	}
	uint64_t eq = equal_share(w.sc, w.nsc);

	plan->top = figures(top_scope(w.sc, w.nsc, NULL, eq), eq);
	plan->bytes = freed;
	work_free(&w);
	return 0;
nomem:
	work_free(&w);
	return -ENOMEM;
}

int evict_shares(const struct evict_input *in, struct evict_figures *out, size_t *n)
{
	struct work w = { .in = in };
	uint64_t eq;

	*n = 0;
	if (!in->nops)
		return 0;
	if (build_scopes(&w) < 0) {
		work_free(&w);
		return -ENOMEM;
	}
	eq = equal_share(w.sc, w.nsc);
	for (size_t i = 0; i < w.nsc; i++)
		out[(*n)++] = figures(&w.sc[i], eq);
	work_free(&w);
	return 0;
}
