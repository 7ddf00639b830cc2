/*
 * fusegate — which worker of the multithreaded session loop reads the next
 * FUSE request.
 *
 * libfuse's loop lets every idle worker block in read() on /dev/fuse, and
 * the kernel wakes them in turn: a client doing one request at a time
 * (create, rm -rf, tar -x) is served by a different thread each time, a
 * sleeping one, woken across CPUs.  A single-threaded loop (-s) is 1.5-3x
 * faster on those workloads but makes every request wait behind a slow
 * one (an fsync, a preservation copy) — a tenant's lookup waited 350 ms
 * behind another's 1 GiB fsync (docs/performance.md).  The gate gets both:
 *
 *   - one worker, the owner, keeps reading while its requests are quick:
 *     it comes straight back to the device, with no hand-off;
 *   - a handler about to take long calls fusegate_slow(): the owner role
 *     passes to a waiting worker, which reads the next request meanwhile;
 *   - when more requests are queued than the owner is serving (several
 *     clients), a waiting worker is woken to read one (parallelism as
 *     before);
 *   - a waiting worker takes the owner role over by itself when the owner
 *     has been on one request for FUSEGATE_STEAL_MS (a lock held
 *     elsewhere, a slow disk): a waiting worker looks every 10 ms while
 *     requests come, every 100 ms when idle, so every request is read
 *     within about that whatever the owner does.
 *
 * The gate only decides who calls read(); two workers reading at once is
 * what libfuse does anyway, so a lost race costs a hand-off, never a
 * request.  Off (every worker reads, libfuse's behaviour) unless
 * fusegate_enable() was called: -s has one thread and needs no gate.
 *
 * Threading: fusegate_enter/fusegate_got run on each worker around its
 * device read, fusegate_slow on the handler's thread; the owner's fast
 * path is two atomics and a clock read, the rest is under one mutex.
 * Workers are cancelled in fusegate_enter's wait when the loop ends
 * (libfuse's pthread_cancel): the wait is a cancellation point and
 * cleans up after itself.
 */
#ifndef GRACEFS_FUSEGATE_H
#define GRACEFS_FUSEGATE_H

#include <stdbool.h>
#include <sys/types.h>

/* A waiting worker takes over from an owner this long on one request. */
#define FUSEGATE_STEAL_MS 2

/* Turn the gate on (before the multithreaded loop starts). */
void fusegate_enable(void);
bool fusegate_enabled(void);
/* Change FUSEGATE_STEAL_MS (the unit test does). */
void fusegate_set_steal_ms(int ms);
/* Before a worker reads the device: returns when it may read. */
void fusegate_enter(void);
/* After its read of device fd returned n (a request if > 0). */
void fusegate_got(int fd, ssize_t n);
/* From a request handler about to take long: let another worker read. */
void fusegate_slow(void);

#endif
