/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sealed-blob fuzzer. Arbitrary bytes go to the pure header parser and to unseal_blob() with a
 * fixed derived key (the corpus holds blobs sealed under it, so the success path is reached).
 * Both must refuse with their documented errnos or agree on a consistent blob; the parser
 * refuses exactly what unseal calls malformed.
 */
#include <stdlib.h>
#include <string.h>

#include "seal.h"
#include "secmem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The valid seeds in tests/fuzz/corpus/seal/ (valid-*) are sealed under this key. */
static const uint8_t fuzz_key[32] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};

static void check_header(const struct seal_header *h, const uint8_t *data, size_t size)
{
	size_t label_len = strnlen(h->label, sizeof(h->label));

	if (h->format != 1 || h->params.profile < 0 || h->params.profile >= _SEAL_PROFILE_MAX ||
	    label_len == 0 || label_len > SEAL_LABEL_MAX || strchr(h->label, '/') ||
	    h->meta_len > SEAL_META_MAX || h->ciphertext_len == 0 ||
	    h->ciphertext_len > SEAL_PLAINTEXT_MAX || h->header_len + h->ciphertext_len + 16 != size)
		abort();
	if (h->meta_len && (h->meta < data || h->meta + h->meta_len > data + h->header_len))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seal_header h;
	uint8_t *pt = NULL;
	size_t pt_len = 0;
	int r, u;

	r = seal_parse_header(data, size, &h);
	if (r < 0 && r != -EBADMSG && r != -EPROTONOSUPPORT)
		abort();
	if (r == 0)
		check_header(&h, data, size);
	u = unseal_blob(fuzz_key, data, size, &pt, &pt_len);
	if (u == 0) {
		if (r != 0 || pt_len != h.ciphertext_len)
			abort();
		secmem_free(pt);
	} else if (u == -EBADMSG) {
		if (r == 0)
			abort();
	} else if (u != -EKEYREJECTED || r != 0) {
		abort();
	}
	return 0;
}
