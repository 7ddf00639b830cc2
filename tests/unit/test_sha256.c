/*
 * test_sha256 — SHA-256 against the FIPS 180-4 / NIST example vectors, and
 * the same digest whatever the chunking of the input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/sha256.h"

static void test_vectors(void **state)
{
	char hex[SHA256_HEX];
	struct sha256 s;
	char *a = malloc(1000000);

	(void)state;
	sha256_hex("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	sha256_hex("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, hex);
	assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	/* a million 'a', fed in uneven pieces */
	assert_non_null(a);
	memset(a, 'a', 1000000);
	sha256_init(&s);
	for (size_t off = 0, step = 1; off < 1000000; off += step, step = step * 7 % 997 + 1)
		sha256_update(&s, a + off, off + step > 1000000 ? 1000000 - off : step);
	sha256_final_hex(&s, hex);
	assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
