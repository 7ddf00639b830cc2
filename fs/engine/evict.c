/*
 * evict — the eviction policy (see evict.h).  Pure: no I/O, no clock.
 */
#include <errno.h>
#include <inttypes.h>
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

int evict_plan(const struct evict_input *in, struct evict_plan *plan)
{
	struct key *k = NULL;
	unsigned char *chosen = NULL;   /* per op: 0, or its enum evict_reason */
	size_t nk = 0;
	uint64_t freed = 0;

	plan->n = 0;
	plan->bytes = plan->eligible_ops = plan->eligible_bytes = 0;
	plan->held = plan->young = plan->busy = 0;
	plan->below_floor = in->avail < in->floor;
	plan->short_of_floor = false;
	if (in->nops && (!(k = malloc(in->nops * sizeof(*k))) ||
			 !(chosen = calloc(in->nops, sizeof(*chosen))))) {
		free(k);
		return -ENOMEM;
	}
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
		k[nk++] = (struct key){ i, o->el_ns, o->scope, o->name };
		plan->eligible_ops++;
		plan->eligible_bytes += o->bytes;
	}
	if (nk > 1)
		qsort(k, nk, sizeof(*k), cmp_key);

	/* site caps: usage counts every op of the site, eligible or not */
	for (size_t c = 0; c < in->ncaps; c++) {
		uint64_t used = 0;

		for (size_t i = 0; i < in->nops; i++)
			if (!strcmp(in->ops[i].scope, in->caps[c].scope))
				used += in->ops[i].bytes;
		for (size_t j = 0; j < nk && used > in->caps[c].max_bytes; j++) {
			const struct evict_op *o = &in->ops[k[j].op];

			if (chosen[k[j].op] || strcmp(o->scope, in->caps[c].scope))
				continue;
			chosen[k[j].op] = EVICT_CAP;
			plan->n++;
			used -= o->bytes < used ? o->bytes : used;
			freed += o->bytes;
		}
	}

	/* the floor, across all scopes */
	if (plan->below_floor) {
		uint64_t target = in->floor + evict_margin(in->floor);

		for (size_t j = 0; j < nk && in->avail + freed < target; j++) {
			if (chosen[k[j].op])
				continue;
			chosen[k[j].op] = EVICT_SPACE;
			plan->n++;
			freed += in->ops[k[j].op].bytes;
		}
		plan->short_of_floor = in->avail + plan->eligible_bytes < in->floor;
	}

	/* one order for the caller: oldest first, whatever the reason */
	plan->n = 0;
	for (size_t j = 0; j < nk; j++)
		if (chosen[k[j].op])
			plan->v[plan->n++] = (struct evict_victim){ k[j].op, chosen[k[j].op] };
	plan->bytes = freed;
	free(k);
	free(chosen);
	return 0;
}
