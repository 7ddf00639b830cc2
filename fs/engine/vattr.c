/*
 * vattr — virtual user.gracefs.* attributes (see vattr.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "store/opxattr.h"
#include "engine/sitepolicy.h"
#include "lib/util.h"
#include "engine/vattr.h"

static const char *const root_names[] = { "sweeper", "purged_ops", NULL };
static const char *const trash_names[] = {
	"trash_bytes", "trash_items", "ops", "oldest", "next_expiry", "retention", "hold", NULL
};

static const char *const *names_of(enum vattr_target t)
{
	return t == VA_ROOT ? root_names : t == VA_SITE_TRASH || t == VA_ROOT_TRASH
		? trash_names : NULL;
}

size_t vattr_list(const struct vattr_ctx *c, const struct vattr_at *at, char *buf, size_t cap)
{
	const char *const *n = names_of(at->target);
	size_t need = 0;

	if (at->target == VA_OPDIR)
		return opattr_list(buf, cap);
	for (size_t i = 0; n && n[i]; i++)
		need += strlen(OPATTR_PREFIX) + strlen(n[i]) + 1;
	if (buf && need <= cap)
		for (size_t i = 0, off = 0; n && n[i]; i++)
			off += (size_t)sprintf(buf + off, OPATTR_PREFIX "%s", n[i]) + 1;
	return need;
}

static void fmt_time(int64_t s, char *v, size_t cap)
{
	if (s)
		util_format_utc(s, false, v, cap);
	else
		snprintf(v, cap, "none");
}

/* Render into v; 0 or -ENODATA. */
static int render(const struct vattr_ctx *c, const struct vattr_at *at, const char *key,
		  char *v, size_t cap)
{
	if (at->target == VA_ROOT) {
		struct sweep_status st = {0};

		if (c->sweep)
			sweep_get_status(c->sweep, &st);
		if (!strcmp(key, "sweeper")) {
			if (!c->sweep)
				snprintf(v, cap, "off");
			else
				snprintf(v, cap, "running; elapsed %" PRId64 "s, wall clock skew %+"
					 PRId64 "s (expiry goes by elapsed time)", st.elapsed_s,
					 st.skew_s);
		} else if (!strcmp(key, "purged_ops")) {
			snprintf(v, cap, "%" PRIu64, st.purged_ops);
		} else {
			return -ENODATA;
		}
		return 0;
	}

	struct trash_usage u;
	struct site_policy p = {0};

	/* a tenant's figures are its own (trash_view=reach): other tenants'
	 * deletions, sizes and expiries are theirs */
	if ((at->target == VA_SITE_TRASH && at->uid != 0 && !c->trash_view_all
	     ? trash_usage_of_uid(c->trash, at->scope, at->uid, &u)
	     : trash_usage(c->trash, at->scope, &u)) < 0)
		memset(&u, 0, sizeof(u));
	if (*at->scope)
		sitepolicy_get(c->backing_fd, at->scope, &p);
	if (!strcmp(key, "trash_bytes"))
		snprintf(v, cap, "%" PRIu64, u.bytes);
	else if (!strcmp(key, "trash_items"))
		snprintf(v, cap, "%" PRIu64, u.items);
	else if (!strcmp(key, "ops"))
		snprintf(v, cap, "%" PRIu64, u.ops);
	else if (!strcmp(key, "oldest"))
		fmt_time(u.oldest_ns / 1000000000, v, cap);
	else if (!strcmp(key, "next_expiry"))
		fmt_time(p.hold ? 0 : u.next_expiry_s, v, cap);   /* held: nothing expires */
	else if (!strcmp(key, "retention"))
		util_format_duration(p.retention_s ? p.retention_s : c->retention_s, v, cap);
	else if (!strcmp(key, "hold"))
		snprintf(v, cap, "%d", p.hold ? 1 : 0);
	else
		return -ENODATA;
	return 0;
}

bool vattr_may_read(const struct vattr_ctx *c, const struct vattr_at *at, uid_t uid)
{
	struct op_record rec;

	if (uid == 0)
		return true;
	if (at->target == VA_ROOT_TRASH || (at->target == VA_OPDIR && !*at->scope))
		return false;
	if (at->target != VA_OPDIR)
		return true;
	return trash_op_get(c->trash, at->scope, at->op, &rec) == 0 && rec.uid == uid;
}

ssize_t vattr_get(const struct vattr_ctx *c, const struct vattr_at *at, const char *name,
		  char *buf, size_t cap)
{
	char v[512];
	int r;

	if (at->target == VA_NONE || strncmp(name, OPATTR_PREFIX, strlen(OPATTR_PREFIX)))
		return -ENODATA;
	if (at->target == VA_OPDIR) {
		struct op_record rec;

		if (trash_op_get(c->trash, at->scope, at->op, &rec) < 0)
			return -ENODATA;
		return opattr_get(&rec, name, buf, cap);
	}
	if ((r = render(c, at, name + strlen(OPATTR_PREFIX), v, sizeof(v))) < 0)
		return r;
	return opattr_value(v, buf, cap);
}

/* "1"/"0" (a trailing newline from echo is fine). */
static int parse_bool(const char *s, size_t n, bool *out)
{
	if (n && s[n - 1] == '\n')
		n--;
	if (n == 1 && (s[0] == '0' || s[0] == '1')) {
		*out = s[0] == '1';
		return 0;
	}
	return -EINVAL;
}

int vattr_set(const struct vattr_ctx *c, const struct vattr_at *at, const char *name,
	      const char *value, size_t size, uid_t uid)
{
	const char *key = name + strlen(OPATTR_PREFIX);
	char v[64];
	bool on;

	if (at->target == VA_NONE || strncmp(name, OPATTR_PREFIX, strlen(OPATTR_PREFIX)))
		return -ENODATA;
	if (uid != 0)
		return -EPERM;
	if (!strcmp(key, "hold") && parse_bool(value, size, &on) < 0)
		return -EINVAL;
	if (at->target == VA_OPDIR && !strcmp(key, "hold"))
		return trash_op_set_hold(c->trash, at->scope, at->op, on);
	if (at->target == VA_SITE_TRASH && !strcmp(key, "hold"))
		return sitepolicy_set_hold(c->backing_fd, at->scope, on);
	if (at->target == VA_SITE_TRASH && !strcmp(key, "retention")) {
		int64_t secs;

		if (size >= sizeof(v))
			return -EINVAL;
		memcpy(v, value, size);
		v[size] = '\0';
		v[strcspn(v, "\n")] = '\0';
		if (!strcmp(v, "default"))
			secs = 0;
		else if (util_parse_duration(v, &secs) < 0)
			return -EINVAL;
		return sitepolicy_set_retention(c->backing_fd, at->scope, secs, c->min_retention_s);
	}
	return -EPERM;   /* the rest is read-only */
}
