/*
 * gctl_audit — gracectl audit archive|verify: moving the oldest rows of
 * the append-only audit log into a checked file, and checking such a file
 * later (docs/operations.md, "Audit log growth and archiving").
 *
 * archive is a dry run unless given --execute TOKEN.  With it:
 *   1 FILE.part is created (never over anything) and the planned rows are
 *     written to it (auditarch.h: JSON lines, a SHA-256 chain) and fsynced;
 *   2 it is read back and checked (chain, count, digest);
 *   3 it is renamed to FILE (never over an existing one), the directory
 *     fsynced;
 *   4 the daemon (or this process, with none running) checks FILE again
 *     and only then removes the rows under an "archive" row (verbs.h).
 * A crash before 4 leaves the log whole and at most a stray FILE.part or
 * FILE: the log is what counts; remove them and run the dry run again.
 * Main thread only.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/sys.h"
#include "store/auditarch.h"

#define ARCHIVE_USAGE "audit archive --before T --to FILE [--execute TOKEN] | audit verify FILE"

struct archived {
	uint64_t seq, rows;
};

static int archived_line(void *arg, const char *const *f, int n)
{
	struct archived *a = arg;

	if (n >= 3 && !strcmp(f[0], "archived")) {
		a->seq = strtoull(f[1], NULL, 10);
		a->rows = strtoull(f[2], NULL, 10);
	}
	return 0;
}

/* FILE made absolute (its directory must exist): the daemon reads it. */
static int abs_path(const char *file, char out[PATH_MAX])
{
	char dir[PATH_MAX], base[PATH_MAX], real[PATH_MAX];

	if (strlen(file) >= PATH_MAX || !*file)
		return -ENAMETOOLONG;
	snprintf(dir, sizeof(dir), "%s", file);
	snprintf(base, sizeof(base), "%s", file);
	if (!realpath(dirname(dir), real))
		return -errno;
	if (!strcmp(basename(base), ".") || !strcmp(basename(base), "..") ||
	    file[strlen(file) - 1] == '/')
		return -EISDIR;
	if ((size_t)snprintf(out, PATH_MAX, "%s/%s", strcmp(real, "/") ? real : "",
			     basename(base)) >= PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

/* Steps 1-3: FILE written, read back, in place.  0 or an exit status. */
static int write_file(struct gctl *x, const struct catalog_archive_plan *p, int64_t before_ns,
		      const char *path, struct auditarch_info *info)
{
	char part[PATH_MAX + 8], dir[PATH_MAX], msg[256];
	struct auditarch_info back;
	int fd, dfd, r;

	snprintf(part, sizeof(part), "%s.part", path);
	if ((fd = open(part, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
		return fail(EXIT_FAILED, "cannot create '%s': %s", part, strerror(errno));
	if ((r = auditarch_write(x->cat, p, before_ns, fd, info)) < 0) {
		close(fd);
		unlink(part);
		return r == -ESTALE ? fail(EXIT_FAILED, "the audit log changed since the dry run: "
					   "run it again (nothing was changed)") :
		       fail(EXIT_FAILED, "writing '%s': %s (nothing was changed)", part,
			    strerror(-r));
	}
	lseek(fd, 0, SEEK_SET);
	r = auditarch_verify(fd, &back, msg, sizeof(msg));
	close(fd);
	if (r < 0 || strcmp(back.sha256, info->sha256) || back.rows != p->rows) {
		unlink(part);
		return fail(EXIT_FAILED, "'%s' does not read back as written (%s): nothing was "
			    "changed", part, r == -EBADMSG ? msg : r < 0 ? strerror(-r) : "digest");
	}
	if (sys.renameat2(AT_FDCWD, part, AT_FDCWD, path, RENAME_NOREPLACE) < 0) {
		r = errno;
		unlink(part);
		return fail(EXIT_FAILED, "cannot rename '%s' to '%s': %s (nothing was changed)",
			    part, path, strerror(r));
	}
	snprintf(dir, sizeof(dir), "%s", path);
	if ((dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

static int removed_line(void *arg, const char *const *f, int n)
{
	if (n >= 2 && !strcmp(f[0], "removed"))
		*(uint64_t *)arg = strtoull(f[1], NULL, 10);
	return 0;
}

/* Nothing new to archive, but an interrupted archive left rows its
 * archive row covers: a dry run, then --execute TOKEN removes them. */
static int finish(struct gctl *x, const struct catalog_archive_plan *p, const char *token,
		  const char *body, bool execute, const char *given)
{
	uint64_t removed = 0;
	int r;

	if (!execute) {
		store_plan(x, token, body);
		if (x->json)
			printf("{\"dry_run\":true,\"token\":\"%s\",\"rows\":0,\"leftover\":%" PRIu64
			       "}\n", token, p->leftover);
		else
			printf("dry run: an earlier archive was interrupted: %" PRIu64 " row(s) it "
			       "holds (in its file) are still in the log; --execute removes them\n"
			       "plan token: %s\nto act, run the same command with --execute %s\n",
			       p->leftover, token, token);
		return EXIT_DONE;
	}
	if ((r = check_token(x, given, token, true, true)))
		return r;
	if (mutate(x, (const char *[]){ "audit-archive-finish" }, 1, removed_line, &removed) < 0)
		return EXIT_FAILED;
	if (x->json)
		printf("{\"executed\":true,\"rows\":0,\"leftover_removed\":%" PRIu64 "}\n", removed);
	else
		printf("finished an interrupted archive: %" PRIu64 " row(s) removed\n", removed);
	return EXIT_DONE;
}

static int archive(struct gctl *x, int argc, char **argv)
{
	struct catalog_archive_plan p;
	struct auditarch_info info;
	struct archived done = {0};
	const char *given, *before = NULL, *to = NULL;
	bool execute = take_execute(&argc, argv, &given);
	char path[PATH_MAX], token[CTLCMD_TOKEN_LEN + 1], body[PATH_MAX + 160], t[3][32];
	char args[5][32];
	struct stat st;
	int64_t before_ns;
	int r;

	for (int i = 0; i < argc; i++) {
		const char **v = !strcmp(argv[i], "--before") ? &before :
				 !strcmp(argv[i], "--to") ? &to : NULL;

		if (!v)
			return fail(EXIT_USAGE, "%s '%s' (usage: %s)", argv[i][0] == '-' ?
				    "unknown option" : "unexpected argument", argv[i], ARCHIVE_USAGE);
		if (i + 1 >= argc)
			return fail(EXIT_USAGE, "%s needs a value", argv[i]);
		*v = argv[++i];
	}
	if (!before || !to)
		return fail(EXIT_USAGE, "usage: %s", ARCHIVE_USAGE);
	if (parse_time(before, &before_ns) < 0)
		return fail(EXIT_USAGE, "bad time '%s' (" TIME_FORMS ")", before);
	if (before_ns > now_s() * NS)
		return fail(EXIT_USAGE, "--before %s is in the future: only past rows are archived",
			    before);
	if ((r = abs_path(to, path)) < 0)
		return fail(EXIT_USAGE, "--to '%s': %s", to, strerror(-r));
	if (fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return fail(EXIT_USAGE, "'%s' exists: an archive is never written over a file", path);
	if ((r = need_catalog(x, false)) != 0)
		return r == -ENOENT ? fail(EXIT_FAILED, "no catalog yet: nothing to archive") : r;
	if ((r = catalog_audit_archive_plan(x->cat, before_ns, &p)) < 0)
		return fail(EXIT_FAILED, "audit log: %s", strerror(-r));
	/* the token stands for the rows and the file (not for the time as
	 * given: --before -90d names the same rows a second later) */
	snprintf(body, sizeof(body), "audit-archive\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%s\n",
		 p.first_seq, p.last_seq, p.rows, path);
	ctlcmd_plan_token(body, token);
	util_format_utc(before_ns / NS, false, t[0], sizeof(t[0]));
	util_format_utc(p.oldest_ns / NS, false, t[1], sizeof(t[1]));
	util_format_utc(p.newest_ns / NS, false, t[2], sizeof(t[2]));
	if (!p.rows && p.leftover) {   /* only an interrupted archive to finish */
		snprintf(body, sizeof(body), "audit-archive-finish\t%" PRIu64 "\n", p.leftover);
		ctlcmd_plan_token(body, token);
		return finish(x, &p, token, body, execute, given);
	}
	if (!p.rows) {
		if (x->json)
			printf("{\"dry_run\":%s,\"rows\":0,\"before\":\"%s\",\"to\":null,"
			       "\"leftover\":%" PRIu64 "}\n", execute ? "false" : "true", t[0],
			       p.leftover);
		else
			printf("nothing to archive: no audit row before %s\n", t[0]);
		return EXIT_DONE;
	}
	if (!execute) {
		store_plan(x, token, body);
		if (x->json) {
			printf("{\"dry_run\":true,\"token\":\"%s\",\"rows\":%" PRIu64 ",\"first_seq\":%"
			       PRIu64 ",\"last_seq\":%" PRIu64 ",\"oldest\":\"%s\",\"newest\":\"%s\","
			       "\"before\":\"%s\",\"to\":", token, p.rows, p.first_seq, p.last_seq,
			       t[1], t[2], t[0]);
			json_str(path);
			printf(",\"prev_sha256\":");
			json_value(p.prev_sha256, 'S');
			printf(",\"leftover\":%" PRIu64 "}\n", p.leftover);
		} else {
			printf("dry run: would archive %" PRIu64 " audit row(s), seq %" PRIu64 "..%"
			       PRIu64 " (%s .. %s, everything before %s), to %s, then remove them "
			       "from the log under an \"archive\" row with their range, count and the "
			       "file's sha256\n", p.rows, p.first_seq, p.last_seq, t[1], t[2], t[0],
			       path);
			if (p.leftover)
				printf("an earlier archive was interrupted: %" PRIu64 " row(s) it holds "
				       "are still in the log and go first\n", p.leftover);
			printf("plan token: %s\nto act, run the same command with --execute %s\n",
			       token, token);
		}
		return EXIT_DONE;
	}
	if ((r = check_token(x, given, token, true, true)))
		return r;
	if ((r = write_file(x, &p, before_ns, path, &info)))
		return r;
	snprintf(args[0], sizeof(args[0]), "%" PRId64, before_ns);
	snprintf(args[1], sizeof(args[1]), "%" PRIu64, p.first_seq);
	snprintf(args[2], sizeof(args[2]), "%" PRIu64, p.last_seq);
	snprintf(args[3], sizeof(args[3]), "%" PRIu64, p.rows);
	if (mutate(x, (const char *[]){ "audit-archive", path, args[0], args[1], args[2], args[3],
				       info.sha256 }, 7, archived_line, &done) < 0) {
		fprintf(stderr, "gracectl: the log is unchanged; '%s' is a copy of its rows and can "
			"be removed\n", path);
		return EXIT_FAILED;
	}
	if (x->json) {
		printf("{\"executed\":true,\"rows\":%" PRIu64 ",\"first_seq\":%" PRIu64 ",\"last_seq\":%"
		       PRIu64 ",\"to\":", p.rows, p.first_seq, p.last_seq);
		json_str(path);
		printf(",\"sha256\":\"%s\",\"archive_seq\":%" PRIu64 "}\n", info.sha256, done.seq);
	} else {
		printf("archived %" PRIu64 " audit row(s), seq %" PRIu64 "..%" PRIu64 ", to %s\n"
		       "sha256 %s; recorded by the archive row seq %" PRIu64 " (gracectl log --event "
		       "archive)\n", p.rows, p.first_seq, p.last_seq, path, info.sha256, done.seq);
	}
	return EXIT_DONE;
}

struct recorded {
	const char *sha;
	uint64_t seq;
	char time[32];
};

static int find_archive_row(const struct audit_row *a, void *arg)
{
	struct recorded *rec = arg;
	const char *s = a->detail ? strstr(a->detail, "sha256=") : NULL;

	if (s && !strncmp(s + 7, rec->sha, 64)) {
		rec->seq = a->seq;
		util_format_utc(a->ts_ns / NS, false, rec->time, sizeof(rec->time));
	}
	return 0;
}

static int verify(struct gctl *x, int argc, char **argv)
{
	struct auditarch_info info;
	struct recorded rec = {0};
	char msg[256];
	int fd, r;

	if (argc != 1 || argv[0][0] == '-')
		return fail(EXIT_USAGE, argc == 1 ? "unknown option '%s' (usage: audit verify FILE)" :
			    "usage: audit verify FILE%s", argc == 1 ? argv[0] : "");
	if ((fd = open(argv[0], O_RDONLY | O_CLOEXEC)) < 0)
		return fail(EXIT_FAILED, "'%s': %s", argv[0], strerror(errno));
	r = auditarch_verify(fd, &info, msg, sizeof(msg));
	close(fd);
	if (r < 0 && r != -EBADMSG)
		return fail(EXIT_FAILED, "'%s': %s", argv[0], strerror(-r));
	rec.sha = info.sha256;
	if (r == 0 && need_catalog(x, false) == 0)
		catalog_audit_query(x->cat, &(struct catalog_audit_filter){ .event = "archive" },
				    find_archive_row, &rec);
	if (x->json) {
		printf("{\"file\":");
		json_str(argv[0]);
		printf(",\"ok\":%s,\"problem\":", r ? "false" : "true");
		json_value(r ? msg : "", 'S');
		printf(",\"rows\":%" PRIu64 ",\"first_seq\":%" PRIu64 ",\"last_seq\":%" PRIu64
		       ",\"sha256\":\"%s\",\"prev_sha256\":", info.rows, info.first_seq, info.last_seq,
		       info.sha256);
		json_value(info.prev_sha256, 'S');
		printf(",\"archive_seq\":");
		json_value(rec.seq ? num(rec.seq) : "", 'n');
		puts("}");
	} else if (r) {
		printf("%s: BAD: %s\n", argv[0], msg);
	} else {
		printf("%s: ok: %" PRIu64 " row(s), seq %" PRIu64 "..%" PRIu64 ", sha256 %s\n",
		       argv[0], info.rows, info.first_seq, info.last_seq, info.sha256);
		if (rec.seq)
			printf("recorded by archive row seq %" PRIu64 " of this log (%s)\n", rec.seq,
			       rec.time);
		else
			printf("not recorded by any archive row of this log\n");
	}
	return r ? EXIT_FAILED : EXIT_DONE;
}

int c_audit(struct gctl *x, int argc, char **argv)
{
	static const struct cmd sub[] = {
		{ "archive", archive, "audit archive --before T --to FILE [--execute TOKEN]",
		  " --before= --to= --execute? ", NULL },
		{ "verify",  verify,  "audit verify FILE", " ", NULL },
	};

	return dispatch(x, sub, ARRAY_SIZE(sub), "audit", argc, argv);
}
