/*
 * gctl_table — gracectl's tables: rows of text cells printed as aligned
 * columns, "key: value" lines, or JSON with a type per column.
 * Main thread only.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdarg.h>

#include "cli/cli.h"
#include "lib/jsonw.h"

/* ---- tables: aligned text or JSON ---- */


void table_add(struct table *t, ...)
{
	va_list ap;

	t->cells = xrealloc(t->cells, (t->nrows + 1) * (size_t)t->ncols * sizeof(char *));
	va_start(ap, t);
	for (int i = 0; i < t->ncols; i++) {
		const char *v = va_arg(ap, const char *);

		t->cells[t->nrows * (size_t)t->ncols + (size_t)i] = xstrdup(v ? v : "");
	}
	va_end(ap);
	t->nrows++;
}

const char *cell(const struct table *t, size_t row, int col)
{
	return t->cells[row * (size_t)t->ncols + (size_t)col];
}

static int sort_ncols;   /* table_sort's row width (qsort has no argument) */

static int cmp_rows(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;
	int c = 0;

	for (int i = 0; i < sort_ncols && !c; i++)
		c = strcmp(x[i], y[i]);
	return c;
}

/* Rows in order of their first column, then the next, … */
void table_sort(struct table *t)
{
	sort_ncols = t->ncols;
	if (t->nrows)
		qsort(t->cells, t->nrows, (size_t)t->ncols * sizeof(char *), cmp_rows);
}

void table_free(struct table *t)
{
	for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->nrows = 0;
}

/* A JSON string; bytes that are not UTF-8 become U+FFFD. */
void json_str(const char *s)
{
	jsonw_escape(stdout, s);
}

/* One cell as its column's type: n number (empty: null), b yes/no as a
 * boolean, S text (empty: null, a value that is absent), a a comma list
 * as an array of strings, s text. */
void json_value(const char *v, char type)
{
	if ((type == 'E' || type == 'S') && (!*v || (type == 'E' && !strncmp(v, "never", 5)))) {
		fputs("null", stdout);
	} else if (type == 'n') {
		fputs(*v ? v : "null", stdout);
	} else if (type == 'b') {
		fputs(!strcmp(v, "yes") ? "true" : "false", stdout);
	} else if (type == 'a') {
		putchar('[');
		for (const char *p = v; *p; ) {
			size_t n = strcspn(p, ",");
			printf("%s", p == v ? "" : ",");
			json_str(fmt("%.*s", (int)n, p));
			p += n + (p[n] == ',');
		}
		putchar(']');
	} else {
		json_str(v);
	}
}

void table_json_obj(const struct table *t, size_t row)
{
	putchar('{');
	for (int c = 0; c < t->ncols; c++) {
		printf("%s", c ? "," : "");
		json_str(t->cols[c]);
		putchar(':');
		json_value(cell(t, row, c), t->types[c]);
	}
	putchar('}');
}

void table_json(const struct table *t)
{
	putchar('[');
	for (size_t r = 0; r < t->nrows; r++) {
		printf("%s", r ? ",\n " : "");
		table_json_obj(t, r);
	}
	putchar(']');
}

/* Text cell: control bytes shown as '?', so one row stays one line. */
int plain_cell(const char *s, int width)
{
	int n = 0;

	for (; *s; s++, n++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
	for (; n < width; n++)
		putchar(' ');
	return n;
}

static void header(const char *col, int width)
{
	char up[64];
	size_t i;

	for (i = 0; col[i] && i + 1 < sizeof(up); i++)
		up[i] = col[i] >= 'a' && col[i] <= 'z' ? (char)(col[i] - 32) : col[i];
	up[i] = '\0';
	plain_cell(up, width);
}

void table_plain(const struct table *t)
{
	int w[32] = {0};

	for (int c = 0; c < t->ncols && c < 32; c++) {
		w[c] = (int)strlen(t->cols[c]);
		for (size_t r = 0; r < t->nrows; r++)
			if ((int)strlen(cell(t, r, c)) > w[c])
				w[c] = (int)strlen(cell(t, r, c));
	}
	for (size_t r = 0; r <= t->nrows; r++) {
		for (int c = 0; c < t->ncols; c++) {
			bool last = c == t->ncols - 1;

			if (r == 0)
				header(t->cols[c], last ? 0 : w[c]);
			else
				plain_cell(cell(t, r - 1, c), last ? 0 : w[c]);
			fputs(last ? "\n" : "  ", stdout);
		}
	}
}

/* One row as "key: value" lines. */
void table_vertical(const struct table *t, size_t row)
{
	for (int c = 0; c < t->ncols; c++) {
		printf("%-15s", fmt("%s:", t->cols[c]));
		plain_cell(cell(t, row, c), 0);
		putchar('\n');
	}
}

void table_print(const struct table *t, bool json)
{
	if (json) {
		table_json(t);
		putchar('\n');
	} else {
		table_plain(t);
	}
}
