/* trash_fx.h — the shared fixture of the trash engine unit tests (trash_fx.c). */
#ifndef TRASH_FX_H
#define TRASH_FX_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "engine/trash.h"
#include "store/index.h"
#include "store/oprec.h"
#include "lib/procinfo.h"

#define NS INT64_C(1000000000)
#define T0 (INT64_C(1795784712) * NS)    /* 2026-11-27T13:05:12Z */
#define GAP_NS (5 * NS)
#define RETENTION (30 * 86400)

struct fx {
	char tmp[64];      /* mkdtemp dir, removed in teardown */
	char b[96];        /* BACKING */
	char idx[96];      /* index directory */
	int bfd;
	struct index *ix;
	struct trash *t;
	struct caller who;
	struct relpath rel;
	int removed_n;
	char removed[NAME_MAX + 1];
	ino_t removed_dir_ino;
};

extern int64_t fake_now;   /* the wall and elapsed clock the engine sees */

/* cmocka setup/teardown: a fresh mkdtemp BACKING (one site), index, engine. */
int setup(void **state);
int teardown(void **state);
void open_engine(struct fx *f);   /* (re)open the engine on f's store */

/* Paths, files and counts (see trash_fx.c for each). */
const char *bp(struct fx *f, const char *rel);
void opname(char *buf, int64_t ns, uint32_t pid, unsigned n);
void write_file(const char *path, const char *data);
void write_big(const char *path, size_t n);
uint64_t alloc_of(const char *path);
int nentries(const char *path);
void set_rel(struct fx *f, const char *path);

/* The engine's entry points as the FUSE layer calls them. */
int del_as(struct fx *f, const struct caller *who, const char *site, const char *dir, const char *name, bool want_dir);
int del(struct fx *f, const char *dir, const char *name, bool want_dir);
int del_site(struct fx *f, const struct caller *who, const char *site);
int ren(struct fx *f, const char *dir, const char *src, const char *dst, unsigned flags);

/* Op records, counting, searching. */
void read_rec(const char *path, struct op_record *r);
void put_rec(const char *path, const struct op_record *r);
void count_path(const char *path, uint64_t *items, uint64_t *bytes);
bool find_below(const char *dir, const char *name);
extern char find_got[PATH_MAX];   /* where find_below found it */

/* Fault injection through sys.*; faults_off() ends it, clock stays faked. */
void fail_renames(int at, int n, int err);
int fake_mkdirat_eio(int dirfd, const char *path, mode_t mode);
int count_index(struct index *ix, const char *scope);
extern int rename_calls;   /* renameat2 calls since fail_renames */
void faults_off(void);

#endif
