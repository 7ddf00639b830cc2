/*
 * opattr — render op records as xattrs (see opattr.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "store/opxattr.h"
#include "lib/util.h"

enum field { F_OP, F_SITE, F_UID, F_GID, F_PID, F_COMMAND, F_DELETED,
	     F_LAST, F_EXPIRES, F_RETENTION, F_ITEMS, F_BYTES, F_STATE, F_HOLD,
	     F_RUN, F_RUN_COMMAND };

static const char *const names[] = {
	[F_OP] = "op", [F_SITE] = "site", [F_UID] = "uid", [F_GID] = "gid",
	[F_PID] = "pid", [F_COMMAND] = "command", [F_DELETED] = "deleted",
	[F_LAST] = "last_deleted", [F_EXPIRES] = "expires",
	[F_RETENTION] = "retention", [F_ITEMS] = "items", [F_BYTES] = "bytes",
	[F_STATE] = "state", [F_HOLD] = "hold",
	[F_RUN] = "run", [F_RUN_COMMAND] = "run_command",
};
#define NFIELDS (sizeof(names) / sizeof(names[0]))

size_t opattr_list(char *buf, size_t cap)
{
	size_t need = 0;

	for (size_t i = 0; i < NFIELDS; i++)
		need += strlen(OPATTR_PREFIX) + strlen(names[i]) + 1;
	if (buf && need <= cap) {
		for (size_t i = 0, off = 0; i < NFIELDS; i++)
			off += (size_t)sprintf(buf + off, OPATTR_PREFIX "%s", names[i]) + 1;
	}
	return need;
}

static const char *state_name(uint32_t s)
{
	return s == OP_OPEN ? "open" : s == OP_CLOSED ? "closed" :
	       s == OP_PURGING ? "purging" : "unknown";
}

ssize_t opattr_get(const struct op_record *rec, const char *name, char *buf, size_t cap)
{
	char v[OPREC_CMD_MAX + 64];
	size_t i;

	if (strncmp(name, OPATTR_PREFIX, strlen(OPATTR_PREFIX)))
		return -ENODATA;
	name += strlen(OPATTR_PREFIX);
	for (i = 0; i < NFIELDS && strcmp(names[i], name); i++)
		;
	switch (i) {
	case F_OP:      snprintf(v, sizeof(v), "%s", rec->name); break;
	case F_SITE:    snprintf(v, sizeof(v), "%s", rec->scope); break;
	case F_UID:     snprintf(v, sizeof(v), "%" PRIu32, rec->uid); break;
	case F_GID:     snprintf(v, sizeof(v), "%" PRIu32, rec->gid); break;
	case F_PID:     snprintf(v, sizeof(v), "%" PRIu32, rec->pid); break;
	case F_COMMAND: snprintf(v, sizeof(v), "%s", rec->cmdline); break;
	case F_DELETED: util_format_utc(rec->first_ns / 1000000000, false, v, sizeof(v)); break;
	case F_LAST:    util_format_utc(rec->last_ns / 1000000000, false, v, sizeof(v)); break;
	case F_EXPIRES: util_format_utc(oprec_expiry(rec), false, v, sizeof(v)); break;
	case F_RETENTION: util_format_duration(rec->retention_s, v, sizeof(v)); break;
	case F_ITEMS:   snprintf(v, sizeof(v), "%" PRIu64, rec->items); break;
	case F_BYTES:   snprintf(v, sizeof(v), "%" PRIu64, rec->bytes); break;
	case F_STATE:   snprintf(v, sizeof(v), "%s", state_name(rec->state)); break;
	case F_HOLD:    snprintf(v, sizeof(v), "%u", rec->hold ? 1u : 0u); break;
	/* "run:ID" as gracectl takes it; empty for ops from before runs */
	case F_RUN:     snprintf(v, sizeof(v), "%s%s", rec->run[0] ? "run:" : "", rec->run); break;
	case F_RUN_COMMAND: snprintf(v, sizeof(v), "%s", rec->runinfo.cmdline); break;
	default:        return -ENODATA;
	}
	return opattr_value(v, buf, cap);
}

ssize_t opattr_value(const char *v, char *buf, size_t cap)
{
	size_t len = strlen(v);

	if (cap == 0)
		return (ssize_t)len;
	if (len > cap)
		return -ERANGE;
	memcpy(buf, v, len);
	return (ssize_t)len;
}
