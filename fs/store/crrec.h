/*
 * crrec — the record of one file or directory a run CREATED through the
 * mount, and its encoding (the value of an LMDB "created" entry, index.h).
 *
 * `gracectl undo run:ID --created` moves what a run created and nobody
 * changed since into an op of its own (docs/cli.md, "Undoing what a run
 * created").  A record names the item by its inode (dev, ino) and where it
 * was last seen (site and site-relative path), and keeps the state the run
 * left it in (type, mtime, ctime, size: at creation, refreshed when a
 * handle the run wrote through is released) so that a change by anybody
 * else since can be told.  Pure functions, no locking, no I/O.
 */
#ifndef GRACEFS_CRREC_H
#define GRACEFS_CRREC_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/util.h"

#define CRREC_PATH_MAX 4096   /* site-relative path, NUL included; deeper: not recorded */
/* key: run, NUL, be64 dev, be64 ino */
#define CRREC_KEY_MAX (UTIL_RUN_MAX + 16)
#define CRREC_ENC_MAX (41 + NAME_MAX + 1 + CRREC_PATH_MAX)

/* flags */
#define CRREC_FOREIGN 1u   /* a process of another run wrote it after the run
			    * created it: changed since, whatever its times say */

struct created_rec {
	char run[UTIL_RUN_MAX];    /* the creating process's run (no "run:") */
	uint64_t dev, ino;
	uint32_t mode;             /* st_mode at creation (type bits matter) */
	uint32_t flags;            /* CRREC_* */
	int64_t born_ns;           /* wall clock of the creation */
	int64_t mtime_ns, ctime_ns;/* as the run left it */
	uint64_t size;
	char site[NAME_MAX + 1];
	const char *path;          /* site-relative ("dir/name"); encode: the
				    * caller's string; decode: points into the
				    * encoded bytes (valid as long as they are) */
};

/* Key of (run, dev, ino) into buf (CRREC_KEY_MAX).  Returns its length,
 * or -EINVAL for an empty or over-long run. */
int crrec_key(const char *run, uint64_t dev, uint64_t ino, unsigned char *buf);

/* Encode r's value into buf (cap bytes; CRREC_ENC_MAX suffices).  Returns
 * the length, -EINVAL (empty site or path, '/' in site, path too long),
 * or -ENOBUFS. */
int crrec_encode(const struct created_rec *r, unsigned char *buf, size_t cap);

/* Decode key and value into r (r->path points into val).  0 or -EINVAL. */
int crrec_decode(const void *key, size_t klen, const void *val, size_t vlen,
		 struct created_rec *r);

#endif
