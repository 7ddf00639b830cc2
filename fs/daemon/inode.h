/*
 * inode — the daemon's table of inodes the kernel knows about.
 *
 * Each entry is keyed by the backing (st_dev, st_ino) and its route, and
 * holds a file
 * handle (name_to_handle_at), not an open fd: fds are opened per operation
 * with open_by_handle_at(), so a tree of any size works within a small
 * RLIMIT_NOFILE.  Each entry also remembers its last known parent and name,
 * which gives the zone (live site, trash, ...) and the site-relative path
 * needed to mirror a victim's parents in the trash.
 *
 * Routes: a name looked up below a .trash directory gets an entry, and so
 * a node id, of its own, distinct from the one its live names share (the
 * kernel sees one inode per node id).  A request on a trash node id reached
 * the item through a trash name whatever other names it has, and a request
 * on the live node id through a live name or an fd opened through one: the
 * route decides what may change (may_modify), never a guess about the
 * caller.  A rename moves an entry to its new route; if that route already
 * has an entry for the inode, the moved one lives on unhashed, for the
 * kernel's references only (an alias).
 *
 * Threading: one mutex guards the hash, lookup counts, parent/name links
 * and the open-file lists.
 * Entries are freed when the kernel forgot them and no child points at
 * them.  Handles and dev/ino/type never change after insertion.
 */
#ifndef GRACEFS_INODE_H
#define GRACEFS_INODE_H

#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include "store/tlink.h"
#include "engine/trash.h"
#include "daemon/ptpolicy.h"

enum inode_kind {
	K_PLAIN,   /* anything else */
	K_ROOT,    /* the mount root = BACKING */
	K_SITE,    /* a directory at the mount root */
	K_STRASH,  /* <site>/.trash */
	K_RTRASH,  /* /.trash (BACKING/.gracefs/trash) */
	K_OPDIR,   /* an operation directory inside either trash */
};

enum zone {
	Z_ROOT,      /* the mount root */
	Z_LIVE,      /* a site root or anything below it, outside .trash */
	Z_TRASHDIR,  /* a .trash directory itself */
	Z_OPDIR,     /* an operation directory */
	Z_INTRASH,   /* below an operation directory, or detached by a delete */
};

struct inode;

/* Where an inode is, computed from its parent chain. */
struct where {
	enum zone zone;
	char site[NAME_MAX + 1];   /* Z_LIVE: the site's name */
	char scope[NAME_MAX + 1];  /* in trash: scope of the outermost op */
	char op[NAME_MAX + 1];     /* in trash: name of the outermost op */
	bool detached;             /* Z_INTRASH: no parent chain (deleted) */
};

/* Create the table with the root (BACKING, fd borrowed) and the root trash
 * directory.  0 or -errno. */
int inode_table_init(int backing_fd, int root_trash_fd);
void inode_table_free(void);

struct inode *inode_root(void);
uint64_t inode_nodeid(const struct inode *ino);
struct inode *inode_from_nodeid(uint64_t nodeid);

/* Register a kernel reference to name in parent, whose lstat is st; the
 * backing entry is bname (NULL: name) in directory pfd (O_PATH ok).  Finds
 * or inserts the entry, bumps its lookup count and records (parent, name).
 * 0 or -errno (-EXDEV for another filesystem). */
int inode_lookup(struct inode *parent, int pfd, const char *name,
		 const char *bname, const struct stat *st, struct inode **out);
/* The kernel forgot n references. */
void inode_forget(struct inode *ino, uint64_t n);

/* Open the backing inode (open_by_handle_at; flags get O_CLOEXEC).
 * Returns a fd or -errno. */
int inode_open(struct inode *ino, int flags);

/* Find by backing identity: the live route's entry, else the trash
 * route's (NULL if the kernel does not know it). */
struct inode *inode_find(dev_t dev, ino_t ino);
/* The entry of (dev, ino) on one route (from_trash: the trash route) was
 * renamed to (parent, name); its route is now parent's. */
void inode_moved(dev_t dev, ino_t ino, bool from_trash, struct inode *parent,
		 const char *name);
/* The entry of (dev, ino) on one route lost its name (deleted). */
void inode_detach(dev_t dev, ino_t ino, bool trash);
/* Was ino reached through a trash name (see Routes above)? */
bool inode_trash_route(const struct inode *ino);

void inode_where(struct inode *ino, struct where *w);
enum inode_kind inode_kind(const struct inode *ino);
bool inode_is_dir(const struct inode *ino);
bool inode_is_symlink(const struct inode *ino);
/* Key of the inode in the trash-link table (tlink.h).  0 or -errno
 * (-EINVAL for the root). */
int inode_tlink_key(const struct inode *ino, struct tlink_key *k);

/* Open files.  Every backing fd handed to the kernel as a file handle is
 * registered with the thread that opened it (tid) and whether the inode
 * still had a live name then (live); inode_handle_close forgets it.  The
 * kernel sends fchmod, fchown, futimens and fsetxattr without the file
 * handle: inode_handle_held tells whether tgid (a thread group id) has an
 * fd of ino open that was opened while it had a live name, resolving each
 * opener's tid with tid_tgid (which returns 0 when unknown).  -ENOMEM or 0. */
int inode_handle_open(struct inode *ino, int fd, pid_t tid, bool live);
/* Forget fd.  True when it was the last open file of an inode deleted
 * while open (inode_note_deleted_open), with that op's scope and name
 * (NAME_MAX + 1 bytes each; NULL: not wanted): bytes written after the
 * deletion are in that op, uncounted, and the caller recounts it. */
bool inode_handle_close(struct inode *ino, int fd, char *scope, char *op);
/* The live inode dev/ino was just deleted into op `op` of `scope`: if it
 * has open files, remember the op for inode_handle_close. */
void inode_note_deleted_open(dev_t dev, ino_t ino, const char *scope, const char *op);
/* Was fd (an open file of ino) opened while ino had a live name? */
bool inode_handle_live(struct inode *ino, int fd);
/* The inode's passthrough bookkeeping (ptpolicy.h), kept for passthru.c
 * under its own lock; alive while the kernel holds the inode. */
struct pt_inode *inode_pt(struct inode *ino);
bool inode_handle_held(struct inode *ino, pid_t tgid, pid_t (*tid_tgid)(pid_t tid));

/* Site-relative path of a Z_LIVE directory into *rp. 0 or -ENAMETOOLONG. */
int inode_relpath(struct inode *dir, struct relpath *rp);
/* A piece of the site-relative path of a Z_LIVE directory too deep for one
 * relpath: the components from level `from` (0: below the site root) on,
 * as many as fit; *more when levels remain after them.  0 or -errno. */
int inode_relpath_piece(struct inode *dir, unsigned from, struct relpath *rp, bool *more);
/* Copy the current parent and name of ino; the parent (NULL when
 * detached) is pinned until inode_unpin.  0 or -ENOENT (no name known). */
int inode_parent_name(struct inode *ino, struct inode **parent, char *name, size_t cap);
void inode_unpin(struct inode *parent);

/* Node ids of every directory the kernel knows, for a bulk invalidation
 * (a node id the kernel has forgotten meanwhile is harmless to it).
 * *out is malloc'ed.  The count, or -errno. */
ssize_t inode_dir_nodeids(uint64_t **out);

#endif
