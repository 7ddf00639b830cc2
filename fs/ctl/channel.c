/*
 * ctl — the control socket, server and client (see ctl.h for the protocol).
 *
 * Threading: the accept thread starts one detached thread per connection;
 * srv->lock guards srv->active and srv->serving only; everything else in
 * the server is written before the accept thread starts and read-only
 * until stop.
 * ctl_server_stop wakes the accept thread through a pipe, joins it, then
 * waits for the connection threads to finish.  Every fd is close-on-exec;
 * sends use MSG_NOSIGNAL.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl/channel.h"

#define OUTBUF_CAP (2 * CTL_LINE_MAX)

struct ctl_server {
	int lfd, stop_pipe[2];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	ctl_handler_fn fn;
	void *arg;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t idle;
	unsigned active;        /* connection threads running (lock) */
	unsigned serving;       /* of those, not yet answered (lock): the limit */
};

struct conn {
	struct ctl_server *srv;
	int fd;
};

/* ---- errno names ---- */

const char *ctl_errno_name(int err)
{
	const char *n = strerrorname_np(err < 0 ? -err : err);

	return n ? n : "EIO";
}

int ctl_errno_value(const char *name)
{
	for (int e = 1; e < 4096; e++) {
		const char *n = strerrorname_np(e);

		if (n && !strcmp(n, name))
			return e;
	}
	return EIO;
}

/* ---- words and lines ---- */

/* Append the escaped word w to out (len used of cap).  0 or -E2BIG. */
static int escape(const char *w, char *out, size_t *len, size_t cap)
{
	for (; *w; w++) {
		char e = *w == '\\' ? '\\' : *w == '\t' ? 't' : *w == '\n' ? 'n' : 0;

		if (*len + 2 >= cap)
			return -E2BIG;
		if (e)
			out[(*len)++] = '\\';
		out[(*len)++] = e ? e : *w;
	}
	return 0;
}

/* Join words escaped and TAB-separated into out, with a final '\n'.
 * Returns the length or -E2BIG. */
static int join(const char *const *words, int n, char *out, size_t cap)
{
	size_t len = 0;

	for (int i = 0; i < n; i++) {
		if (i) {
			if (len + 2 >= cap)
				return -E2BIG;
			out[len++] = '\t';
		}
		if (escape(words[i], out, &len, cap) < 0)
			return -E2BIG;
	}
	out[len++] = '\n';
	return (int)len;
}

/* Split line in place into unescaped words.  Returns the count,
 * -E2BIG (more than max) or -EPROTO (bad escape). */
static int split(char *line, char **argv, int max)
{
	int n = 0;
	char *w = line, *d = line;

	for (;;) {
		if (n == max)
			return -E2BIG;
		argv[n++] = d;
		for (; *w && *w != '\t'; w++) {
			if (*w != '\\') {
				*d++ = *w;
				continue;
			}
			w++;
			if (*w != '\\' && *w != 't' && *w != 'n')
				return -EPROTO;
			*d++ = *w == 't' ? '\t' : *w == 'n' ? '\n' : '\\';
		}
		if (!*w) {
			*d = '\0';
			return n;
		}
		*d++ = '\0';
		w++;
	}
}

struct reader {
	int fd;
	char *buf;        /* CTL_LINE_MAX + 1 bytes */
	size_t off, len;
};

/* Next line, NUL-terminated without its '\n', in *line (NULL at a clean
 * EOF).  0, -E2BIG (line too long), -EPROTO (EOF inside a line), -errno. */
static int read_line(struct reader *r, char **line)
{
	*line = NULL;
	for (;;) {
		char *nl = memchr(r->buf + r->off, '\n', r->len - r->off);
		ssize_t got;

		if (nl) {
			*nl = '\0';
			*line = r->buf + r->off;
			r->off = (size_t)(nl - r->buf) + 1;
			return 0;
		}
		memmove(r->buf, r->buf + r->off, r->len - r->off);
		r->len -= r->off;
		r->off = 0;
		if (r->len >= CTL_LINE_MAX)
			return -E2BIG;
		got = read(r->fd, r->buf + r->len, CTL_LINE_MAX - r->len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (got == 0)
			return r->len ? -EPROTO : 0;
		r->len += (size_t)got;
	}
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* ---- output of handlers ---- */

void ctl_out_callback(struct ctl_out *o, ctl_line_fn fn, void *arg)
{
	*o = (struct ctl_out){ .fd = -1, .fn = fn, .arg = arg };
}

static int out_flush(struct ctl_out *o)
{
	if (!o->err && o->len)
		o->err = write_all(o->fd, o->buf, o->len);
	o->len = 0;
	return o->err;
}

int ctl_emit(struct ctl_out *o, const char *const *fields, int n)
{
	char *line;
	int len;

	if (o->fd < 0)
		return o->fn ? o->fn(o->arg, fields, n) : 0;
	if (o->err)
		return o->err;
	if (o->len + CTL_LINE_MAX > OUTBUF_CAP && out_flush(o) < 0)
		return o->err;
	line = o->buf + o->len;
	line[0] = '+';
	len = join(fields, n, line + 1, CTL_LINE_MAX - 1);
	if (len < 0)
		return len;   /* this line only: too long to send */
	o->len += (size_t)len + 1;
	return 0;
}

int ctl_emitf(struct ctl_out *o, ...)
{
	const char *f[32];
	int n = 0;
	va_list ap;

	va_start(ap, o);
	for (const char *s; n < 32 && (s = va_arg(ap, const char *)); )
		f[n++] = s;
	va_end(ap);
	return ctl_emit(o, f, n);
}

/* ---- server ---- */

/* Serve the request on fd; its final line goes to fin.  false: no final
 * line (the client left, or cannot be written to). */
static bool serve_one(struct ctl_server *srv, int fd, char *inbuf, char *outbuf, char *fin,
		      size_t fincap)
{
	struct timeval tv = { CTL_IO_TIMEOUT_S, 0 };
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct ctl_peer peer;
	struct reader rd = { fd, inbuf, 0, 0 };
	struct ctl_out out = { .fd = fd, .buf = outbuf };
	char msg[512] = "", *line, *argv[CTL_ARGC_MAX];
	int argc = 0, rc;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0)
		return false;
	peer = (struct ctl_peer){ cred.uid, cred.gid, cred.pid };
	if (peer.uid != 0) {
		rc = -EPERM;
		snprintf(msg, sizeof(msg), "the control socket is for root only");
	} else if ((rc = read_line(&rd, &line)) < 0 || !line) {
		if (!line && !rc)
			return false;   /* connected and left */
		snprintf(msg, sizeof(msg), "bad request: %s", rc == -E2BIG ?
			 "line too long" : strerror(-rc));
	} else if ((argc = split(line, argv, CTL_ARGC_MAX)) < 0) {
		rc = argc == -E2BIG ? -E2BIG : -EINVAL;
		snprintf(msg, sizeof(msg), "bad request: %s", rc == -E2BIG ?
			 "too many words" : "bad escape");
	} else if (!argv[0][0]) {
		rc = -EINVAL;
		snprintf(msg, sizeof(msg), "bad request: empty");
	} else {
		rc = srv->fn(srv->arg, &peer, argv, argc, &out, msg, sizeof(msg));
	}
	if (out_flush(&out) < 0)
		return false;   /* the client is gone */
	if (rc == 0) {
		snprintf(fin, fincap, "OK\n");
	} else {
		for (char *p = msg; *p; p++)
			if (*p == '\n' || *p == '\r')
				*p = ' ';
		snprintf(fin, fincap, "ERR %s %s\n", ctl_errno_name(rc),
			 *msg ? msg : strerror(-rc));
	}
	return true;
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	struct ctl_server *srv = c->srv;
	char *in = malloc(CTL_LINE_MAX + 1), *out = malloc(OUTBUF_CAP), fin[600];
	bool answer = true;

	if (in && out)
		answer = serve_one(srv, c->fd, in, out, fin, sizeof(fin));
	else
		snprintf(fin, sizeof(fin), "ERR ENOMEM out of memory\n");
	/* the slot is free once the request is done: a client that read the
	 * final line may connect again at once, before this thread is gone */
	pthread_mutex_lock(&srv->lock);
	srv->serving--;
	pthread_mutex_unlock(&srv->lock);
	if (answer)
		write_all(c->fd, fin, strlen(fin));
	free(in);
	free(out);
	close(c->fd);
	free(c);
	pthread_mutex_lock(&srv->lock);
	if (!--srv->active)
		pthread_cond_broadcast(&srv->idle);
	pthread_mutex_unlock(&srv->lock);
	return NULL;
}

/* Hand a new connection to its own thread, or refuse it. */
static void dispatch(struct ctl_server *srv, int fd)
{
	static const char busy[] = "ERR EBUSY " CTL_BUSY_MSG "\n";
	struct conn *c = malloc(sizeof(*c));
	pthread_attr_t at;
	pthread_t t;
	bool ok = false;

	pthread_mutex_lock(&srv->lock);
	if (c && srv->serving < CTL_CONN_MAX) {
		*c = (struct conn){ srv, fd };
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		ok = pthread_create(&t, &at, conn_main, c) == 0;
		pthread_attr_destroy(&at);
		srv->active += ok;
		srv->serving += ok;
	}
	pthread_mutex_unlock(&srv->lock);
	if (!ok) {
		write_all(fd, busy, sizeof(busy) - 1);
		close(fd);
		free(c);
	}
}

static void *serve(void *arg)
{
	struct ctl_server *srv = arg;
	struct pollfd p[2] = { { srv->lfd, POLLIN, 0 }, { srv->stop_pipe[0], POLLIN, 0 } };

	for (;;) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		int fd = accept4(srv->lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd >= 0)
			dispatch(srv, fd);
	}
	return NULL;
}

static int make_addr(const char *path, struct sockaddr_un *a)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(a->sun_path))
		return -ENAMETOOLONG;
	strcpy(a->sun_path, path);
	return 0;
}

/* A socket file at path: someone listening (-EADDRINUSE), stale (removed),
 * or not a socket (-EEXIST). */
static int clear_stale(const struct sockaddr_un *a)
{
	struct stat st;
	int fd, r;

	if (lstat(a->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	r = connect(fd, (const struct sockaddr *)a, sizeof(*a)) == 0 ? -EADDRINUSE : 0;
	close(fd);
	if (!r && unlink(a->sun_path) < 0 && errno != ENOENT)
		r = -errno;
	return r;
}

int ctl_server_start(struct ctl_server **out, const char *path, ctl_handler_fn fn, void *arg)
{
	struct ctl_server *srv;
	struct sockaddr_un a;
	int r;

	*out = NULL;
	if ((r = make_addr(path, &a)) < 0)
		return r;
	if (!(srv = calloc(1, sizeof(*srv))))
		return -ENOMEM;
	srv->lfd = srv->stop_pipe[0] = srv->stop_pipe[1] = -1;
	srv->fn = fn;
	srv->arg = arg;
	strcpy(srv->path, path);
	pthread_mutex_init(&srv->lock, NULL);
	pthread_cond_init(&srv->idle, NULL);
	if ((r = clear_stale(&a)) < 0)
		goto fail;
	if (pipe2(srv->stop_pipe, O_CLOEXEC) < 0 ||
	    (srv->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(srv->lfd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		r = -errno;
		goto fail;
	}
	/* the directory is 0700 already; SO_PEERCRED is the real check */
	if (chmod(path, 0600) < 0 || listen(srv->lfd, 16) < 0 ||
	    (r = -pthread_create(&srv->thread, NULL, serve, srv)) < 0) {
		r = r < 0 ? r : -errno;
		unlink(path);
		goto fail;
	}
	*out = srv;
	return 0;
fail:
	if (srv->lfd >= 0)
		close(srv->lfd);
	if (srv->stop_pipe[0] >= 0) {
		close(srv->stop_pipe[0]);
		close(srv->stop_pipe[1]);
	}
	pthread_cond_destroy(&srv->idle);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
	return r;
}

void ctl_server_stop(struct ctl_server *srv)
{
	if (!srv)
		return;
	if (write(srv->stop_pipe[1], "x", 1) < 0) {
		/* a pipe with room cannot fail; nothing else to try */
	}
	pthread_join(srv->thread, NULL);
	unlink(srv->path);
	close(srv->lfd);
	pthread_mutex_lock(&srv->lock);
	while (srv->active)
		pthread_cond_wait(&srv->idle, &srv->lock);
	pthread_mutex_unlock(&srv->lock);
	close(srv->stop_pipe[0]);
	close(srv->stop_pipe[1]);
	pthread_cond_destroy(&srv->idle);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
}

/* ---- client ---- */

static int parse_err(char *line, char *err, size_t errcap)
{
	char *name = line + 4, *msg = strchr(name, ' ');

	if (msg)
		*msg++ = '\0';
	if (err && errcap)
		snprintf(err, errcap, "%s", msg ? msg : "");
	return -ctl_errno_value(name);
}

int ctl_call(const char *path, const char *const *argv, int argc, ctl_line_fn fn, void *arg,
	     char *err, size_t errcap)
{
	struct sockaddr_un a;
	struct reader rd = { -1, NULL, 0, 0 };
	char *fields[CTL_ARGC_MAX], *line;
	int len, r;

	if (err && errcap)
		err[0] = '\0';
	if (argc < 1 || argc > CTL_ARGC_MAX)
		return -EINVAL;
	if ((r = make_addr(path, &a)) < 0)
		return r;
	if (!(rd.buf = malloc(CTL_LINE_MAX + 1)))
		return -ENOMEM;
	if ((len = join(argv, argc, rd.buf, CTL_LINE_MAX)) < 0) {
		r = -EINVAL;
		goto out;
	}
	if ((rd.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		r = -errno;
		goto out;
	}
	if (connect(rd.fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		r = errno == ENOENT || errno == ECONNREFUSED ? -ECONNREFUSED : -errno;
		goto out;
	}
	/* a server that refuses at once may close before reading: its answer
	 * is still there to read */
	r = write_all(rd.fd, rd.buf, (size_t)len);
	if (r < 0 && r != -EPIPE && r != -ECONNRESET)
		goto out;
	shutdown(rd.fd, SHUT_WR);
	for (;;) {
		int n;

		if ((r = read_line(&rd, &line)) < 0 || !line) {
			r = r < 0 ? r : -EPROTO;   /* EOF before the final line */
			break;
		}
		if (line[0] == '+') {
			if ((n = split(line + 1, fields, CTL_ARGC_MAX)) < 0) {
				r = -EPROTO;
				break;
			}
			if (fn && (r = fn(arg, (const char *const *)fields, n)) != 0)
				break;
		} else if (!strcmp(line, "OK")) {
			r = 0;
			break;
		} else if (!strncmp(line, "ERR ", 4)) {
			r = parse_err(line, err, errcap);
			break;
		} else {
			r = -EPROTO;
			break;
		}
	}
out:
	if (rd.fd >= 0)
		close(rd.fd);
	free(rd.buf);
	return r;
}
