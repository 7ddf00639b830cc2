/*
 * sha256 — SHA-256 (FIPS 180-4), for the checksums of audit archives
 * (gracectl audit archive: each row's hash chain and the file's digest).
 * Not for secrets: nothing here is constant-time.
 *
 * Threading: one context per thread; no shared state.
 */
#ifndef GRACEFS_SHA256_H
#define GRACEFS_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32
#define SHA256_HEX (2 * SHA256_LEN + 1)   /* lowercase hex and its NUL */

struct sha256 {
	uint32_t h[8];
	uint64_t len;          /* bytes hashed so far */
	unsigned char buf[64];
	size_t fill;           /* bytes waiting in buf */
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t n);
/* The digest; s must be initialised again before reuse. */
void sha256_final(struct sha256 *s, unsigned char out[SHA256_LEN]);
/* The digest as lowercase hex, NUL-terminated. */
void sha256_final_hex(struct sha256 *s, char out[SHA256_HEX]);
/* The hex digest of one buffer. */
void sha256_hex(const void *data, size_t n, char out[SHA256_HEX]);

#endif
