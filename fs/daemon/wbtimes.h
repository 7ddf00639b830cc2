/*
 * wbtimes — keeping the client's mtime in BACKING under the kernel's
 * writeback cache.
 *
 * With the writeback cache the kernel owns a regular file's mtime: it sets
 * it at write(2) and sends it in a SETATTR (through the open file) when it
 * writes the inode back, at the latest in close(2).  The dirty pages go
 * out as background WRITEs just before; the daemon serves requests on
 * several threads, so a WRITE can reach the backing file after that
 * SETATTR and its pwrite stamps the backing file with the daemon's clock.
 * And when the kernel does not change the time at all (a write within the
 * clock tick of the create), no SETATTR comes and the WRITE's stamp would
 * stay.  So the daemon remembers, per backing fd opened for writing, the
 * mtime the kernel knows — the file's at open, then the last one the kernel
 * set through it — and puts it back after every WRITE on that fd.
 * close(2) returns only after all WRITEs and the SETATTR completed, so from
 * then on BACKING — and a trash copy made by a later rm — has the mtime the
 * client saw.  ctime cannot be set; the backing ctime is the time of the
 * daemon's last change (never earlier than the mtime).
 *
 * Threading: one mutex; the common case (no recorded time) takes no lock.
 */
#ifndef GRACEFS_WBTIMES_H
#define GRACEFS_WBTIMES_H

#include <time.h>

/* fd was opened for writing; the kernel knows mtime as its time. */
void wbtimes_open(int fd, const struct timespec *mtime);
/* futimens(fd, ts) for a SETATTR through an open file; an explicit mtime
 * (ts[1]) is remembered for fd.  0 or -errno. */
int wbtimes_futimens(int fd, const struct timespec ts[2]);
/* A WRITE on fd completed: put the recorded mtime back, if any.
 * 0 or -errno (of futimens). */
int wbtimes_after_write(int fd);
/* fd is about to be closed (RELEASE). */
void wbtimes_forget(int fd);

#endif
