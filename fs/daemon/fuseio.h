/*
 * fuseio — the daemon's FUSE device I/O: the plain read/writev/splice
 * libfuse would do itself, with one addition, the INIT reply's flags
 * raised by fuseinit_raise (fuseinit.h).
 */
#ifndef GRACEFS_FUSEIO_H
#define GRACEFS_FUSEIO_H

#include <fuse_lowlevel.h>

/* Take over se's device I/O, after fuse_session_mount and before the
 * session loop (the INIT request is the loop's first).  0 or -errno. */
int fuseio_attach(struct fuse_session *se);

#endif
