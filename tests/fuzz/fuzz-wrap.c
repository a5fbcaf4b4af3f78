/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Wrapped-key fuzzer. Arbitrary bytes go to wrap_parse() and to unwrap_key() with a fixed KEK
 * and no context (the corpus holds blobs wrapped under it). The two must agree on what is
 * malformed; a blob that unwraps without a context must be refused with one.
 */
#include <stdlib.h>
#include <string.h>

#include "secmem.h"
#include "wrap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The valid seeds in tests/fuzz/corpus/wrap/ (valid-*) are wrapped under this KEK. */
static const uint8_t fuzz_kek[32] = {
	0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f,
	0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t ctx[] = "fuzz-context";
	struct wrap_info wi;
	uint8_t *pt = NULL;
	size_t pt_len = 0, name_len;
	int r, u;

	r = wrap_parse(data, size, &wi);
	if (r < 0 && r != -EBADMSG)
		abort();
	if (r == 0) {
		name_len = strnlen(wi.kek_name, sizeof(wi.kek_name));
		if (name_len == 0 || name_len > WRAP_NAME_MAX || strchr(wi.kek_name, '/') ||
		    wi.plaintext_len == 0 || wi.plaintext_len > WRAP_PLAINTEXT_MAX ||
		    4 + 1 + 1 + name_len + 4 + 32 + 12 + 4 + wi.plaintext_len + 16 != size)
			abort();
	}
	u = unwrap_key(fuzz_kek, WRAP_PURPOSE_GENERIC, data, size, NULL, 0, &pt, &pt_len);
	if (u == 0) {
		if (r != 0 || pt_len != wi.plaintext_len)
			abort();
		pt = secmem_free(pt);
		if (unwrap_key(fuzz_kek, WRAP_PURPOSE_GENERIC, data, size, ctx, sizeof(ctx) - 1,
			       &pt, &pt_len) != -EKEYREJECTED)
			abort();
	} else if ((u == -EBADMSG) != (r < 0) || (u != -EBADMSG && u != -EKEYREJECTED)) {
		abort();
	}
	return 0;
}
