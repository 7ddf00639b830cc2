/*
 * auditarch — the file an audit archive writes (gracectl audit archive):
 * the oldest rows of the audit log as JSON lines, chained by SHA-256, so
 * that a missing, reordered or altered row shows, and the whole file's
 * digest is what the catalog's "archive" row records (catalog.h).
 *
 * Format (one JSON object per line, UTF-8, "\n" after each):
 *   {"gracefs_audit_archive":1,"first_seq":F,"last_seq":L,"rows":N,
 *    "oldest":"UTC","newest":"UTC","before":"UTC","prev_sha256":"HEX"|null}
 *   {"seq":S,"ts_ns":T,"time":"UTC","event":…,"site":…,"op":…,"path":…,
 *    "uid":…,"pid":…,"command":…,"detail":…,"run":…,"chain":"HEX"}   N times
 *   {"end":true,"rows":N,"last_seq":L,"chain":"HEX"}
 * A row's chain is sha256(previous chain, 64 hex digits, then the row's
 * line up to its ',"chain":' ); the first row's previous chain is the
 * sha256 of the header line.  The end line repeats the last chain.
 * prev_sha256 is the digest of the archive before this one (its "archive"
 * row says so too), linking the files of one log.
 *
 * Threading: no shared state; one call per file at a time.
 */
#ifndef GRACEFS_AUDITARCH_H
#define GRACEFS_AUDITARCH_H

#include <stdint.h>
#include "lib/sha256.h"
#include "store/catalog.h"

struct auditarch_info {
	uint64_t first_seq, last_seq, rows;
	char sha256[SHA256_HEX];        /* of the whole file */
	char chain[SHA256_HEX];         /* the last row's chain */
	char prev_sha256[SHA256_HEX];   /* "" when null */
};

/* Write the rows of plan p (read from c, archive rows left out) to fd,
 * which must be empty; before_ns is recorded in the header.  Fills *info
 * from what was written.  0, -ESTALE (the log does not hold the planned
 * rows any more), or -errno. */
int auditarch_write(struct catalog *c, const struct catalog_archive_plan *p, int64_t before_ns,
		    int fd, struct auditarch_info *info);

/* Read an archive file from fd (at its start) and check its chain, its
 * row count and seq order against its header and end line.  Fills *info.
 * 0, -EBADMSG (not an archive, or altered: msg says where), or -errno. */
int auditarch_verify(int fd, struct auditarch_info *info, char *msg, size_t cap);

#endif
