/*
 * channel (symbols ctl_*) — the control channel between gracectl and the daemon: a unix stream
 * socket (the daemon's is BACKING/.gracefs/ctl.sock, mode 0600, in a 0700
 * directory) that only root may use (checked with SO_PEERCRED).
 *
 * Protocol, one request per connection:
 *   request   one line: words separated by TAB
 *   response  zero or more data lines "+" word TAB word …,
 *             then exactly one final line: "OK" or "ERR <ENAME> <message>"
 * In words, backslash, TAB and newline are escaped as \\ \t \n, so any
 * byte string without NUL travels (paths included).  Lines are at most
 * CTL_LINE_MAX bytes, requests at most CTL_ARGC_MAX words.
 *
 * Threading: the server runs one accept thread, which serves each
 * connection on a thread of its own, at most CTL_CONN_MAX requests at once
 * (more are answered "ERR EBUSY " CTL_BUSY_MSG before their request is
 * read: retrying is safe); so the handler runs on several threads at once
 * and must be thread-safe.  A stuck client times out after CTL_IO_TIMEOUT_S.
 * Clients are plain blocking calls, usable from any thread.
 */
#ifndef GRACEFS_CTL_H
#define GRACEFS_CTL_H

#include <stddef.h>
#include <sys/types.h>

#define CTL_LINE_MAX (64 * 1024)
#define CTL_ARGC_MAX 256
#define CTL_IO_TIMEOUT_S 10
#define CTL_CONN_MAX 8
#define CTL_BUSY_MSG "too many control connections"

struct ctl_peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
};

/* Where a handler's data lines go: the socket, or a callback (in-process
 * use of the same handlers, e.g. gracectl without a daemon). */
typedef int (*ctl_line_fn)(void *arg, const char *const *fields, int n);
struct ctl_out {
	int fd;                 /* socket; -1: use fn */
	ctl_line_fn fn;
	void *arg;
	char *buf;              /* socket output buffer */
	size_t len;
	int err;                /* first write error, sticky */
};

/* An out that hands each line to fn (fields as given). */
void ctl_out_callback(struct ctl_out *o, ctl_line_fn fn, void *arg);
/* Emit one data line of n fields.  0 or -errno (the client went away);
 * a handler should stop its work on an error. */
int ctl_emit(struct ctl_out *o, const char *const *fields, int n);
/* Same, fields given as arguments, terminated by NULL. */
int ctl_emitf(struct ctl_out *o, ...) __attribute__((sentinel));

/* A request handler: argv[0] is the verb.  Returns 0 (the server answers
 * OK) or -errno, with msg (msgcap bytes, starts empty) saying why; an
 * empty msg becomes strerror. */
typedef int (*ctl_handler_fn)(void *arg, const struct ctl_peer *peer, char **argv, int argc,
			      struct ctl_out *out, char *msg, size_t msgcap);

struct ctl_server;

/* Listen on path (a stale socket file there is replaced; a live one gives
 * -EADDRINUSE) and start the accept thread.  0, -ENAMETOOLONG, or -errno. */
int ctl_server_start(struct ctl_server **out, const char *path, ctl_handler_fn fn, void *arg);
/* Stop accepting, unlink the socket, wait for the requests in progress,
 * free.  NULL is fine. */
void ctl_server_stop(struct ctl_server *srv);

/* Send one request and read the response: fn (may be NULL) gets each data
 * line's unescaped fields.  Returns 0 on OK, the server's -errno on ERR
 * (err gets its message), -ECONNREFUSED when nobody listens (no socket
 * file, or a stale one; servers never answer ECONNREFUSED themselves),
 * -EPROTO for a malformed response, -EINVAL for bad argv (NUL-free words,
 * 1..CTL_ARGC_MAX of them, fitting a line), a nonzero value returned by fn
 * (the call is abandoned), or another -errno. */
int ctl_call(const char *path, const char *const *argv, int argc, ctl_line_fn fn, void *arg,
	     char *err, size_t errcap);

/* errno <-> "ENOENT"; unknown names give EIO, unknown numbers "EIO". */
const char *ctl_errno_name(int err);
int ctl_errno_value(const char *name);

#endif
