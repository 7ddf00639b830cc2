/*
 * gctl_store — which backing store gracectl works on.
 *
 *   -b DIR       DIR is a backing store (it has .gracefs/), or the
 *                mountpoint of a gracefs mount (its backing store is the
 *                mount's source: gracefs mounts with fsname=BACKING and
 *                subtype gracefs, so /proc/self/mounts shows
 *                "BACKING MOUNTPOINT fuse.gracefs …")
 *   --state DIR  BACKING/.gracefs
 *   neither      the only gracefs mount in /proc/self/mounts, else the
 *                BACKING= of the only /etc/gracefs/NAME.conf; else a usage
 *                error that lists the candidates
 *
 * GRACECTL_MOUNTS and GRACECTL_CONF_DIR replace /proc/self/mounts and
 * /etc/gracefs (for tests).  Main thread only.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "engine/trash.h"

#define MOUNTS_MAX 64

/* Undo the octal escapes of /proc/self/mounts (\040 for a space, …). */
static void unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

struct mnt {
	char src[PATH_MAX], dir[PATH_MAX];
};

/* The gracefs mounts: up to max of them into v; their number. */
static size_t gracefs_mounts(struct mnt *v, size_t max)
{
	const char *path = getenv("GRACECTL_MOUNTS");
	FILE *f = fopen(path && *path ? path : "/proc/self/mounts", "re");
	char line[2 * PATH_MAX + 256];
	size_t n = 0;

	while (f && fgets(line, sizeof(line), f)) {
		char *save, *src = strtok_r(line, " ", &save), *dir = strtok_r(NULL, " ", &save),
		     *type = strtok_r(NULL, " ", &save);

		if (!src || !dir || !type || strcmp(type, "fuse.gracefs"))
			continue;
		if (n < max) {
			unescape(src);
			unescape(dir);
			snprintf(v[n].src, sizeof(v[n].src), "%s", src);
			snprintf(v[n].dir, sizeof(v[n].dir), "%s", dir);
		}
		n++;
	}
	if (f)
		fclose(f);
	return n;
}

/* BACKING= of a /etc/gracefs/NAME.conf (a systemd EnvironmentFile). */
static bool conf_backing(const char *conf, char *out, size_t cap)
{
	FILE *f = fopen(conf, "re");
	char line[PATH_MAX + 64];
	bool found = false;

	while (f && !found && fgets(line, sizeof(line), f)) {
		char *v = line + strspn(line, " \t");

		if (strncmp(v, "BACKING=", 8))
			continue;
		v += 8;
		v[strcspn(v, "\r\n")] = '\0';
		if (*v == '"' || *v == '\'') {   /* BACKING="/srv/backing" */
			char q = *v++, *end = strrchr(v, q);

			if (end)
				*end = '\0';
		}
		found = *v != '\0';
		snprintf(out, cap, "%s", v);
	}
	if (f)
		fclose(f);
	return found;
}

/* Open dir as the backing store (is_state: dir is BACKING/.gracefs). */
static int open_store(struct gctl *x, const char *dir, bool is_state)
{
	char *real = realpath(dir, NULL);
	struct stat st;

	if (!real)
		return fail(EXIT_USAGE, "'%s': %s", dir, strerror(errno));
	if (is_state)
		*strrchr(real, '/') = '\0';
	snprintf(x->backing, sizeof(x->backing), "%s", *real ? real : "/");
	free(real);
	snprintf(x->state, sizeof(x->state), "%s/" TRASH_STATE_DIR,
		 strcmp(x->backing, "/") ? x->backing : "");
	if ((x->backing_fd = open(x->backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return fail(EXIT_USAGE, "'%s': %s", x->backing, strerror(errno));
	if (fstatat(x->backing_fd, TRASH_STATE_DIR, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISDIR(st.st_mode)) {
		close(x->backing_fd);
		x->backing_fd = -1;
		return fail(EXIT_USAGE, "'%s' is not a gracefs backing store (no %s) nor a gracefs "
			    "mountpoint", x->backing, TRASH_STATE_DIR);
	}
	return 0;
}

int store_open(struct gctl *x, const char *dir, bool is_state)
{
	struct mnt m[MOUNTS_MAX];
	size_t n = gracefs_mounts(m, MOUNTS_MAX);
	char *real;
	glob_t g;
	int r;

	if (dir) {
		/* a mountpoint: never look inside it (the mount hides .gracefs) */
		if (!is_state && (real = realpath(dir, NULL))) {
			for (size_t i = 0; i < n && i < MOUNTS_MAX; i++) {
				if (!strcmp(m[i].dir, real)) {
					free(real);
					return open_store(x, m[i].src, false);
				}
			}
			free(real);
		}
		return open_store(x, dir, is_state);
	}
	if (n == 1)
		return open_store(x, m[0].src, false);
	if (n > 1) {
		fputs("gracectl: error: which backing store? more than one gracefs is mounted; "
		      "give -b with one of:\n", stderr);
		for (size_t i = 0; i < n && i < MOUNTS_MAX; i++)
			fprintf(stderr, "  -b %s   (mounted on %s)\n", m[i].src, m[i].dir);
		return EXIT_USAGE;
	}
	{
		const char *cd = getenv("GRACECTL_CONF_DIR");
		char pat[PATH_MAX], b[PATH_MAX];

		snprintf(pat, sizeof(pat), "%s/*.conf", cd && *cd ? cd : "/etc/gracefs");
		if (glob(pat, 0, NULL, &g) != 0)
			g.gl_pathc = 0;
		if (g.gl_pathc == 1 && conf_backing(g.gl_pathv[0], b, sizeof(b))) {
			globfree(&g);
			return open_store(x, b, false);
		}
		if (g.gl_pathc > 1) {
			fputs("gracectl: error: which backing store? nothing is mounted and there "
			      "are several configurations; give -b with one of:\n", stderr);
			for (size_t i = 0; i < g.gl_pathc; i++)
				if (conf_backing(g.gl_pathv[i], b, sizeof(b)))
					fprintf(stderr, "  -b %s   (%s)\n", b, g.gl_pathv[i]);
			globfree(&g);
			return EXIT_USAGE;
		}
		if (g.gl_pathc)
			globfree(&g);
	}
	r = fail(EXIT_USAGE, "which backing store? no gracefs is mounted and no %s/*.conf "
		 "names one: give -b BACKING or -b MOUNTPOINT", "/etc/gracefs");
	return r;
}
