/*
 * jsonw — a small streaming JSON writer with real types: strings (always
 * valid UTF-8: other bytes become U+FFFD), numbers, booleans, null,
 * objects and arrays; commas placed by the writer.  For gracectl's --json.
 *
 * Threading: one writer per thread; no shared state.
 */
#ifndef GRACEFS_JSONW_H
#define GRACEFS_JSONW_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSONW_DEPTH 16   /* nesting beyond this is not written */

struct jsonw {
	FILE *f;
	int depth;
	bool more[JSONW_DEPTH + 1];   /* a value was written at this depth */
	bool after_key;
};

void jsonw_init(struct jsonw *w, FILE *f);
void jsonw_obj(struct jsonw *w);       /* { */
void jsonw_obj_end(struct jsonw *w);   /* } */
void jsonw_arr(struct jsonw *w);       /* [ */
void jsonw_arr_end(struct jsonw *w);   /* ] */
void jsonw_key(struct jsonw *w, const char *k);
void jsonw_str(struct jsonw *w, const char *s);   /* NULL: null */
void jsonw_u64(struct jsonw *w, uint64_t v);
void jsonw_i64(struct jsonw *w, int64_t v);
void jsonw_bool(struct jsonw *w, bool v);
void jsonw_null(struct jsonw *w);

/* Write s to f as a JSON string literal (quotes included). */
void jsonw_escape(FILE *f, const char *s);

#endif
