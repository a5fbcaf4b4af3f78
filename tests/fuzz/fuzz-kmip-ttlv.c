/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KMIP TTLV parser fuzzer. Arbitrary bytes are either refused with -EBADMSG or -EMSGSIZE or
 * parse; a parsed message is rebuilt item by item with the writer, which must give back the
 * input byte for byte (only canonical encodings parse). The same rebuild into a buffer one
 * byte short must fail with -ENOBUFS. The response, key and attribute readers run over what
 * parses and must point only into the input.
 */
#include <stdlib.h>
#include <string.h>

#include "kmip.h"
#include "kmip-rebuild.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out[KMIP_TTLV_MAX_MESSAGE + KMIP_TTLV_HEADER_SIZE];

static int rebuild(const struct kmip_item *root, size_t cap)
{
	struct kmip_writer w;

	kmip_writer_init(&w, out, cap);
	kmip_rebuild(&w, root);
	return kmip_writer_finish(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kmip_item root;
	struct kmip_response resp;
	int r = kmip_ttlv_parse(data, size, &root);

	if (r < 0) {
		if (r != -EBADMSG && r != -EMSGSIZE)
			abort();
		return 0;
	}
	if (rebuild(&root, sizeof(out)) != (int)size || memcmp(out, data, size) != 0)
		abort();
	if (rebuild(&root, size - 1) != -ENOBUFS)
		abort();
	r = kmip_response_parse(data, size, KMIP_OP_GET, &resp);
	if (r == 0 && resp.has_payload) {
		struct kmip_item v;

		for (unsigned i = 0; i < 4; i++) {
			int k = kmip_get_attribute(&resp.payload, "State", i, &v);

			if (k == 0 && (v.value < data || v.value + v.len > data + size))
				abort();
			if (k < 0 && k != -ENOENT && k != -EBADMSG)
				abort();
		}
	}
	if (r == 0 && resp.has_payload) {
		uint32_t alg;
		int32_t bits;
		const uint8_t *key;
		size_t len;

		if (kmip_get_symmetric_key(&resp.payload, &alg, &bits, &key, &len) == 0 &&
		    (key < data || key + len > data + size || (size_t)bits != len * 8))
			abort();
	} else if (r < 0 && r != -EBADMSG && r != -EMSGSIZE) {
		abort();
	}
	return 0;
}
