/*
 * auditarch — writing and checking audit archive files (see auditarch.h
 * for the format).  No shared state.
 */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/jsonw.h"
#include "lib/util.h"
#include "store/auditarch.h"

#define NS 1000000000LL
#define CHAIN_KEY ",\"chain\":\""

struct writer {
	FILE *f;
	struct sha256 file;             /* digest of everything written */
	char chain[SHA256_HEX];
	uint64_t rows, last_seq;
	int err;
};

/* One line (without its "\n") into the file and its digest. */
static void put_line(struct writer *w, const char *line, size_t n)
{
	if (fwrite(line, 1, n, w->f) != n || fputc('\n', w->f) == EOF)
		w->err = -EIO;
	sha256_update(&w->file, line, n);
	sha256_update(&w->file, "\n", 1);
}

static const char *utc(int64_t ns, char *b, size_t cap)
{
	util_format_utc(ns / NS, false, b, cap);
	return b;
}

static void str_or_null(FILE *m, const char *key, const char *v)
{
	fprintf(m, ",\"%s\":", key);
	if (v)
		jsonw_escape(m, v);
	else
		fputs("null", m);
}

static void int_or_null(FILE *m, const char *key, int64_t v)
{
	if (v < 0)
		fprintf(m, ",\"%s\":null", key);
	else
		fprintf(m, ",\"%s\":%" PRId64, key, v);
}

/* A row's line: its fields, then its chain over them. */
static int row_line(const struct audit_row *a, void *arg)
{
	struct writer *w = arg;
	struct sha256 h;
	char *line = NULL, t[32];
	size_t n = 0;
	FILE *m;

	if (!strcmp(a->event, "archive"))
		return 0;   /* archive rows stay in the log: not archived */
	if (!(m = open_memstream(&line, &n)))
		return w->err = -ENOMEM;
	fprintf(m, "{\"seq\":%" PRIu64 ",\"ts_ns\":%" PRId64 ",\"time\":\"%s\"", a->seq, a->ts_ns,
		utc(a->ts_ns, t, sizeof(t)));
	str_or_null(m, "event", a->event);
	str_or_null(m, "site", a->site);
	str_or_null(m, "op", a->op);
	str_or_null(m, "path", a->path);
	int_or_null(m, "uid", a->uid);
	int_or_null(m, "pid", a->pid);
	str_or_null(m, "command", a->cmdline);
	str_or_null(m, "detail", a->detail);
	fputs(",\"run\":", m);   /* as gracectl log shows it */
	if (a->run && *a->run) {
		char run[8 + CATALOG_TEXT_MAX];

		snprintf(run, sizeof(run), "run:%s", a->run);
		jsonw_escape(m, run);
	} else {
		fputs("null", m);
	}
	fflush(m);
	sha256_init(&h);
	sha256_update(&h, w->chain, 64);
	sha256_update(&h, line, n);
	sha256_final_hex(&h, w->chain);
	fprintf(m, CHAIN_KEY "%s\"}", w->chain);
	if (fclose(m) != 0 || !line) {
		free(line);
		return w->err = -ENOMEM;
	}
	put_line(w, line, strlen(line));
	free(line);
	w->rows++;
	w->last_seq = a->seq;
	return w->err;
}

int auditarch_write(struct catalog *c, const struct catalog_archive_plan *p, int64_t before_ns,
		    int fd, struct auditarch_info *info)
{
	struct catalog_audit_filter f = { .after_seq = p->first_seq - 1, .until_seq = p->last_seq };
	struct writer w = {0};
	char *head = NULL, t1[32], t2[32], t3[32], *end = NULL;
	int dfd = dup(fd), r;

	*info = (struct auditarch_info){0};
	if (!p->rows)
		return -EINVAL;
	if (dfd < 0 || !(w.f = fdopen(dfd, "w"))) {
		r = -errno;
		if (dfd >= 0)
			close(dfd);
		return r;
	}
	sha256_init(&w.file);
	if (asprintf(&head, "{\"gracefs_audit_archive\":1,\"first_seq\":%" PRIu64 ",\"last_seq\":%"
		     PRIu64 ",\"rows\":%" PRIu64 ",\"oldest\":\"%s\",\"newest\":\"%s\",\"before\":"
		     "\"%s\",\"prev_sha256\":%s%s%s}", p->first_seq, p->last_seq, p->rows,
		     utc(p->oldest_ns, t1, sizeof(t1)), utc(p->newest_ns, t2, sizeof(t2)),
		     utc(before_ns, t3, sizeof(t3)), *p->prev_sha256 ? "\"" : "",
		     *p->prev_sha256 ? p->prev_sha256 : "null", *p->prev_sha256 ? "\"" : "") < 0) {
		fclose(w.f);
		return -ENOMEM;
	}
	sha256_hex(head, strlen(head), w.chain);
	put_line(&w, head, strlen(head));
	free(head);
	r = catalog_audit_query(c, &f, row_line, &w);
	if (!r && w.err)
		r = w.err;
	if (!r && (w.rows != p->rows || w.last_seq > p->last_seq))
		r = -ESTALE;
	if (!r && asprintf(&end, "{\"end\":true,\"rows\":%" PRIu64 ",\"last_seq\":%" PRIu64
			   ",\"chain\":\"%s\"}", w.rows, p->last_seq, w.chain) < 0)
		r = -ENOMEM;
	if (!r) {
		put_line(&w, end, strlen(end));
		r = w.err;
	}
	free(end);
	if (fflush(w.f) == EOF && !r)
		r = -errno;
	if (!r && fsync(fileno(w.f)) < 0)
		r = -errno;
	if (fclose(w.f) == EOF && !r)
		r = -EIO;
	if (r)
		return r;
	info->first_seq = p->first_seq;
	info->last_seq = p->last_seq;
	info->rows = w.rows;
	sha256_final_hex(&w.file, info->sha256);
	memcpy(info->chain, w.chain, SHA256_HEX);
	memcpy(info->prev_sha256, p->prev_sha256, SHA256_HEX);
	return 0;
}

/* The number after "key": in line, or -1. */
static int64_t num_of(const char *line, const char *key)
{
	char k[64];
	const char *p;

	snprintf(k, sizeof(k), "\"%s\":", key);
	if (!(p = strstr(line, k)))
		return -1;
	p += strlen(k);
	return *p >= '0' && *p <= '9' ? strtoll(p, NULL, 10) : -1;
}

/* The 64 hex digits after "key":" in line into out ("" if absent). */
static void hex_of(const char *line, const char *key, char out[SHA256_HEX])
{
	char k[64];
	const char *p;

	out[0] = '\0';
	snprintf(k, sizeof(k), "\"%s\":\"", key);
	if ((p = strstr(line, k)) && strspn(p + strlen(k), "0123456789abcdef") == 64) {
		memcpy(out, p + strlen(k), 64);
		out[64] = '\0';
	}
}

__attribute__((format(printf, 3, 4)))
static int bad(char *msg, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, cap, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

int auditarch_verify(int fd, struct auditarch_info *info, char *msg, size_t cap)
{
	struct sha256 file, h;
	char *line = NULL, chain[SHA256_HEX], got[SHA256_HEX];
	size_t lcap = 0;
	ssize_t n;
	uint64_t lineno = 0, rows = 0, last = 0;
	bool ended = false;
	int dfd = dup(fd), r = 0;
	FILE *f;

	*info = (struct auditarch_info){0};
	snprintf(msg, cap, "ok");
	if (dfd < 0 || !(f = fdopen(dfd, "r"))) {
		r = -errno;
		if (dfd >= 0)
			close(dfd);
		return r;
	}
	sha256_init(&file);
	while (!r && (n = getline(&line, &lcap, f)) > 0) {
		sha256_update(&file, line, (size_t)n);
		lineno++;
		if (line[n - 1] != '\n') {
			r = bad(msg, cap, "line %" PRIu64 ": cut short", lineno);
			break;
		}
		line[--n] = '\0';
		if (ended) {
			r = bad(msg, cap, "line %" PRIu64 ": after the end line", lineno);
		} else if (lineno == 1) {
			int64_t first = num_of(line, "first_seq"), lastn = num_of(line, "last_seq"),
				rn = num_of(line, "rows");

			if (strncmp(line, "{\"gracefs_audit_archive\":1,", 27) || first < 1 ||
			    lastn < first || rn < 1)
				r = bad(msg, cap, "not a gracefs audit archive (line 1)");
			info->first_seq = (uint64_t)first;
			info->last_seq = (uint64_t)lastn;
			info->rows = (uint64_t)rn;
			hex_of(line, "prev_sha256", info->prev_sha256);
			sha256_hex(line, (size_t)n, chain);
		} else if (!strncmp(line, "{\"end\":true,", 12)) {
			hex_of(line, "chain", got);
			if (num_of(line, "rows") != (int64_t)rows || rows != info->rows)
				r = bad(msg, cap, "%" PRIu64 " rows, the file says %" PRIu64, rows,
					info->rows);
			else if (strcmp(got, chain))
				r = bad(msg, cap, "line %" PRIu64 ": the end line's chain does not "
					"match", lineno);
			ended = true;
		} else {
			char *k = strstr(line, CHAIN_KEY);
			int64_t seq = num_of(line, "seq");

			while (k && strstr(k + 1, CHAIN_KEY))
				k = strstr(k + 1, CHAIN_KEY);   /* the last one is the chain */
			if (strncmp(line, "{\"seq\":", 7) || !k || seq < 1 ||
			    (uint64_t)seq < info->first_seq || (uint64_t)seq > info->last_seq ||
			    (uint64_t)seq <= last) {
				r = bad(msg, cap, "line %" PRIu64 ": not a row of this archive "
					"(or out of order)", lineno);
				break;
			}
			hex_of(k, "chain", got);
			sha256_init(&h);
			sha256_update(&h, chain, 64);
			sha256_update(&h, line, (size_t)(k - line));
			sha256_final_hex(&h, chain);
			if (strcmp(got, chain))
				r = bad(msg, cap, "line %" PRIu64 " (seq %" PRId64 "): altered (its "
					"chain does not match)", lineno, seq);
			last = (uint64_t)seq;
			rows++;
		}
	}
	if (!r && ferror(f))
		r = -EIO;
	if (!r && !lineno)
		r = bad(msg, cap, "empty file");
	if (!r && !ended)
		r = bad(msg, cap, "no end line: the file is cut short");
	free(line);
	fclose(f);
	sha256_final_hex(&file, info->sha256);
	memcpy(info->chain, chain, SHA256_HEX);
	return r;
}
