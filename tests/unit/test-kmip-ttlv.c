/* SPDX-License-Identifier: Apache-2.0 */
/* KMIP TTLV codec and message layer: canonical encodings, limits, refusals. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ct.h"
#include "kmip.h"
#include "../fuzz/kmip-rebuild.h"
#include "test.h"

/* A KMIP 1.2 Get request for unique identifier "1", as PyKMIP 0.10 encodes it (120 bytes;
 * tests/integration/test-kmip-pykmip.sh re-derives it from PyKMIP at test time). */
static const char get_request_hex[] =
	"42007801000000704200770100000038420069010000002042006a0200000004000000010000000042006b"
	"0200000004000000020000000042000d0200000004000000010000000042000f010000002842005c050000"
	"00040000000a00000000420079010000001042009407000000013100000000000000";

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = strlen(hex) / 2;

	if (n > cap || ct_hex_decode(out, n, hex, 2 * n) < 0)
		abort();
	return n;
}

static int parse_hex(const char *hex)
{
	uint8_t b[512];
	size_t n = unhex(hex, b, sizeof(b));
	struct kmip_item it;

	return kmip_ttlv_parse(b, n, &it);
}

TEST(kmip_get_request_matches_reference)
{
	uint8_t ref[256], out[256];
	size_t n = unhex(get_request_hex, ref, sizeof(ref));
	struct kmip_writer w;

	kmip_writer_init(&w, out, sizeof(out));
	kmip_request_begin(&w, 1, 2, KMIP_OP_GET);
	kmip_put_uid(&w, "1");
	ASSERT_EQ(kmip_request_finish(&w), (int)n);
	ASSERT_EQ(n, 120);
	ASSERT_TRUE(memcmp(out, ref, n) == 0);
}

TEST(kmip_parse_and_find)
{
	uint8_t b[256];
	size_t n = unhex(get_request_hex, b, sizeof(b));
	struct kmip_item msg, hdr, item, payload;
	char uid[8];
	int32_t count;
	uint32_t op;

	ASSERT_EQ(kmip_ttlv_parse(b, n, &msg), 0);
	ASSERT_EQ(msg.tag, KMIP_TAG_REQUEST_MESSAGE);
	ASSERT_EQ(kmip_find(&msg, KMIP_TAG_REQUEST_HEADER, KMIP_TYPE_STRUCTURE, &hdr), 0);
	ASSERT_EQ(kmip_get_int(&hdr, KMIP_TAG_BATCH_COUNT, &count), 0);
	ASSERT_EQ(count, 1);
	ASSERT_EQ(kmip_find(&msg, KMIP_TAG_BATCH_ITEM, KMIP_TYPE_STRUCTURE, &item), 0);
	ASSERT_EQ(kmip_get_enum(&item, KMIP_TAG_OPERATION, &op), 0);
	ASSERT_EQ(op, KMIP_OP_GET);
	/* Wrong type asked for → EBADMSG; absent tag → ENOENT. */
	ASSERT_EQ(kmip_get_int(&item, KMIP_TAG_OPERATION, &count), -EBADMSG);
	ASSERT_EQ(kmip_get_int(&item, KMIP_TAG_STATE, &count), -ENOENT);
	ASSERT_EQ(kmip_find(&item, KMIP_TAG_REQUEST_PAYLOAD, KMIP_TYPE_STRUCTURE, &payload), 0);
	ASSERT_EQ(kmip_get_text(&payload, KMIP_TAG_UNIQUE_IDENTIFIER, uid, 1), -EMSGSIZE);
	ASSERT_EQ(kmip_get_text(&payload, KMIP_TAG_UNIQUE_IDENTIFIER, uid, sizeof(uid)), 0);
	ASSERT_STREQ(uid, "1");
}

TEST(kmip_every_truncation_refused)
{
	uint8_t b[256];
	size_t n = unhex(get_request_hex, b, sizeof(b));
	struct kmip_item it;

	for (size_t i = 0; i < n; i++)
		ASSERT_EQ(kmip_ttlv_parse(b, i, &it), -EBADMSG);
}

TEST(kmip_every_byte_flip_refused_or_canonical)
{
	uint8_t b[256], out[256];
	size_t n = unhex(get_request_hex, b, sizeof(b));
	unsigned parsed = 0, refused = 0;

	for (size_t i = 0; i < n; i++)
		for (unsigned bit = 0; bit < 8; bit++) {
			struct kmip_item it;
			struct kmip_writer w;
			int r;

			b[i] ^= (uint8_t)(1u << bit);
			r = kmip_ttlv_parse(b, n, &it);
			if (r == 0) {
				kmip_writer_init(&w, out, sizeof(out));
				kmip_rebuild(&w, &it);
				ASSERT_EQ(kmip_writer_finish(&w), (int)n);
				ASSERT_TRUE(memcmp(out, b, n) == 0);
				parsed++;
			} else {
				ASSERT_TRUE(r == -EBADMSG || r == -EMSGSIZE);
				refused++;
			}
			b[i] ^= (uint8_t)(1u << bit);
		}
	/* Flips in values (version numbers, the identifier's letter) still parse; flips in tags,
	 * types, lengths and padding do not. */
	ASSERT_TRUE(parsed > 0);
	ASSERT_TRUE(refused > parsed);
}

TEST(kmip_non_canonical_refused)
{
	/* An Integer with non-zero padding. */
	ASSERT_EQ(parse_hex("42006a02000000040000000100000001"), -EBADMSG);
	/* An Integer of length 8. */
	ASSERT_EQ(parse_hex("42006a02000000080000000000000001"), -EBADMSG);
	/* A Boolean of value 2. */
	ASSERT_EQ(parse_hex("42000006000000080000000000000002"), -EBADMSG);
	/* Type 0x0b is not a KMIP 1.x type; tag outside 0x42/0x54. */
	ASSERT_EQ(parse_hex("42006a0b000000040000000100000000"), -EBADMSG);
	ASSERT_EQ(parse_hex("43006a02000000040000000100000000"), -EBADMSG);
	/* A Text String with a NUL byte, two that are not UTF-8, one with non-zero padding;
	 * then the same string well formed. */
	ASSERT_EQ(parse_hex("42009407000000024100000000000000"), -EBADMSG);
	ASSERT_EQ(parse_hex("420094070000000241c0000000000000"), -EBADMSG);
	ASSERT_EQ(parse_hex("4200940700000001ff00000000000000"), -EBADMSG);
	ASSERT_EQ(parse_hex("42009407000000014100000000000001"), -EBADMSG);
	ASSERT_EQ(parse_hex("42009407000000014100000000000000"), 0);
	/* A Big Integer whose length is not a multiple of 8. */
	ASSERT_EQ(parse_hex("42000004000000040000000100000000"), -EBADMSG);
	/* A structure whose length does not cover whole items, and trailing bytes. */
	ASSERT_EQ(parse_hex("42007801000000084200"
				"6a02000000"),
		      -EBADMSG);
	ASSERT_EQ(parse_hex("42006a020000000400000001000000000000000000000000"), -EBADMSG);
	/* The well-formed Integer itself parses. */
	ASSERT_EQ(parse_hex("42006a02000000040000000100000000"), 0);
}

static size_t nested(uint8_t *b, size_t cap, unsigned depth)
{
	struct kmip_writer w;
	int n;

	kmip_writer_init(&w, b, cap);
	for (unsigned i = 0; i < depth; i++)
		kmip_put_begin(&w, KMIP_TAG_ATTRIBUTE);
	kmip_put_int(&w, KMIP_TAG_BATCH_COUNT, 1);
	for (unsigned i = 0; i < depth; i++)
		kmip_put_end(&w);
	n = kmip_writer_finish(&w);
	return n < 0 ? 0 : (size_t)n;
}

TEST(kmip_depth_limit)
{
	uint8_t b[1024];
	size_t n = nested(b, sizeof(b), KMIP_TTLV_MAX_DEPTH);
	struct kmip_item it;
	struct kmip_writer w;

	ASSERT_TRUE(n > 0);
	ASSERT_EQ(kmip_ttlv_parse(b, n, &it), 0);
	/* One level deeper: the writer refuses to open it, and the parser refuses it when built
	 * by hand (wrap the accepted message in one more structure). */
	ASSERT_EQ(nested(b, sizeof(b), KMIP_TTLV_MAX_DEPTH + 1), 0);
	kmip_writer_init(&w, b, sizeof(b));
	for (unsigned i = 0; i <= KMIP_TTLV_MAX_DEPTH; i++)
		kmip_put_begin(&w, KMIP_TAG_ATTRIBUTE);
	ASSERT_EQ(kmip_writer_finish(&w), -EMSGSIZE);
	n = nested(b + 8, sizeof(b) - 8, KMIP_TTLV_MAX_DEPTH);
	memcpy(b, "\x42\x00\x08\x01\x00\x00\x00\x00", 8);
	b[6] = (uint8_t)(n >> 8);
	b[7] = (uint8_t)n;
	ASSERT_EQ(kmip_ttlv_parse(b, n + 8, &it), -EMSGSIZE);
}

TEST(kmip_item_count_limit)
{
	size_t cap = 8 + (KMIP_TTLV_MAX_ITEMS + 1) * 16;
	_cleanup_free_ uint8_t *b = malloc(cap);
	struct kmip_writer w;
	struct kmip_item it;
	size_t body = KMIP_TTLV_MAX_ITEMS * 16;

	ASSERT_TRUE(b != NULL);
	/* The writer stops at the limit... */
	kmip_writer_init(&w, b, cap);
	kmip_put_begin(&w, KMIP_TAG_BATCH_ITEM);
	for (unsigned i = 0; i < KMIP_TTLV_MAX_ITEMS; i++)
		kmip_put_int(&w, KMIP_TAG_BATCH_COUNT, 1);
	kmip_put_end(&w);
	ASSERT_EQ(kmip_writer_finish(&w), -EMSGSIZE);
	/* ...and the parser refuses one structure holding the limit's worth of integers. */
	memcpy(b, "\x42\x00\x0f\x01", 4);
	b[4] = (uint8_t)(body >> 24);
	b[5] = (uint8_t)(body >> 16);
	b[6] = (uint8_t)(body >> 8);
	b[7] = (uint8_t)body;
	for (size_t i = 0; i < KMIP_TTLV_MAX_ITEMS; i++)
		memcpy(b + 8 + i * 16, "\x42\x00\x0d\x02\x00\x00\x00\x04\x00\x00\x00\x01\0\0\0\0", 16);
	ASSERT_EQ(kmip_ttlv_parse(b, 8 + body, &it), -EMSGSIZE);
}

TEST(kmip_writer_errors)
{
	uint8_t b[256];
	struct kmip_writer w;

	/* Every capacity short of the message gives ENOBUFS, never a partial success. */
	for (size_t cap = 0; cap < 120; cap++) {
		kmip_writer_init(&w, b, cap);
		kmip_request_begin(&w, 1, 2, KMIP_OP_GET);
		kmip_put_uid(&w, "1");
		ASSERT_EQ(kmip_request_finish(&w), -ENOBUFS);
	}
	kmip_writer_init(&w, b, sizeof(b));
	kmip_put_end(&w);
	ASSERT_EQ(kmip_writer_finish(&w), -EINVAL);
	kmip_writer_init(&w, b, sizeof(b));
	kmip_put_begin(&w, KMIP_TAG_ATTRIBUTE);
	ASSERT_EQ(kmip_writer_finish(&w), -EINVAL);
	kmip_writer_init(&w, b, sizeof(b));
	kmip_put_text(&w, KMIP_TAG_NAME_VALUE, "a\xc0", 2);
	ASSERT_EQ(kmip_writer_finish(&w), -EINVAL);
	kmip_writer_init(&w, b, sizeof(b));
	kmip_put_big(&w, KMIP_TAG_KEY_MATERIAL, "1234", 4);
	ASSERT_EQ(kmip_writer_finish(&w), -EINVAL);
	kmip_writer_init(&w, b, sizeof(b));
	kmip_put_int(&w, 0x430001, 1);
	ASSERT_EQ(kmip_writer_finish(&w), -EINVAL);
}

/* A Get response for a 256-bit AES key, built with the writer. */
static int get_response(uint8_t *b, size_t cap, uint32_t op, int32_t bits, size_t keylen,
			uint32_t format)
{
	static const uint8_t key[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	struct kmip_writer w;

	kmip_writer_init(&w, b, cap);
	kmip_put_begin(&w, KMIP_TAG_RESPONSE_MESSAGE);
	kmip_put_begin(&w, KMIP_TAG_RESPONSE_HEADER);
	kmip_put_begin(&w, KMIP_TAG_PROTOCOL_VERSION);
	kmip_put_int(&w, KMIP_TAG_PROTOCOL_VERSION_MAJOR, 1);
	kmip_put_int(&w, KMIP_TAG_PROTOCOL_VERSION_MINOR, 2);
	kmip_put_end(&w);
	kmip_put_datetime(&w, KMIP_TAG_TIME_STAMP, 1780000000);
	kmip_put_int(&w, KMIP_TAG_BATCH_COUNT, 1);
	kmip_put_end(&w);
	kmip_put_begin(&w, KMIP_TAG_BATCH_ITEM);
	kmip_put_enum(&w, KMIP_TAG_OPERATION, op);
	kmip_put_enum(&w, KMIP_TAG_RESULT_STATUS, KMIP_STATUS_SUCCESS);
	kmip_put_begin(&w, KMIP_TAG_RESPONSE_PAYLOAD);
	kmip_put_enum(&w, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_SYMMETRIC_KEY);
	kmip_put_uid(&w, "42");
	kmip_put_begin(&w, KMIP_TAG_SYMMETRIC_KEY);
	kmip_put_begin(&w, KMIP_TAG_KEY_BLOCK);
	kmip_put_enum(&w, KMIP_TAG_KEY_FORMAT_TYPE, format);
	kmip_put_begin(&w, KMIP_TAG_KEY_VALUE);
	kmip_put_bytes(&w, KMIP_TAG_KEY_MATERIAL, key, keylen);
	kmip_put_end(&w);
	kmip_put_enum(&w, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, KMIP_ALG_AES);
	kmip_put_int(&w, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, bits);
	kmip_put_end(&w);
	kmip_put_end(&w);
	kmip_put_end(&w);
	kmip_put_end(&w);
	kmip_put_end(&w);
	return kmip_writer_finish(&w);
}

TEST(kmip_get_response_key)
{
	uint8_t b[512];
	struct kmip_response r;
	const uint8_t *key;
	size_t len;
	uint32_t alg;
	int32_t bits;
	int n = get_response(b, sizeof(b), KMIP_OP_GET, 256, 32, KMIP_KEY_FORMAT_RAW);

	ASSERT_TRUE(n > 0);
	ASSERT_EQ(kmip_response_parse(b, (size_t)n, KMIP_OP_GET, &r), 0);
	ASSERT_EQ(r.status, KMIP_STATUS_SUCCESS);
	ASSERT_TRUE(r.has_payload);
	ASSERT_EQ(kmip_get_symmetric_key(&r.payload, &alg, &bits, &key, &len), 0);
	ASSERT_EQ(alg, KMIP_ALG_AES);
	ASSERT_EQ(bits, 256);
	ASSERT_EQ(len, 32);
	ASSERT_EQ(key[11], 12);
	ASSERT_TRUE(key > b && key + len < b + n);
	/* The answer to another operation, a length that disagrees with the key, another
	 * format: refused. */
	ASSERT_EQ(kmip_response_parse(b, (size_t)n, KMIP_OP_LOCATE, &r), -EBADMSG);
	n = get_response(b, sizeof(b), KMIP_OP_GET, 128, 32, KMIP_KEY_FORMAT_RAW);
	ASSERT_EQ(kmip_response_parse(b, (size_t)n, KMIP_OP_GET, &r), 0);
	ASSERT_EQ(kmip_get_symmetric_key(&r.payload, &alg, &bits, &key, &len), -EBADMSG);
	n = get_response(b, sizeof(b), KMIP_OP_GET, 256, 32, 2 /* opaque */);
	ASSERT_EQ(kmip_response_parse(b, (size_t)n, KMIP_OP_GET, &r), 0);
	ASSERT_EQ(kmip_get_symmetric_key(&r.payload, &alg, &bits, &key, &len), -EBADMSG);
}

TEST(kmip_response_refuses_requests_and_batches)
{
	uint8_t b[256];
	size_t n = unhex(get_request_hex, b, sizeof(b));
	struct kmip_response r;

	/* A request is not a response. */
	ASSERT_EQ(kmip_response_parse(b, n, KMIP_OP_GET, &r), -EBADMSG);
}

TEST(kmip_attributes_by_name_and_index)
{
	uint8_t b[512];
	struct kmip_writer w;
	struct kmip_item payload, v;
	uint32_t e;
	char text[16];
	int n;

	kmip_writer_init(&w, b, sizeof(b));
	kmip_put_begin(&w, KMIP_TAG_RESPONSE_PAYLOAD);
	kmip_put_uid(&w, "5");
	kmip_put_attr_enum(&w, "State", KMIP_STATE_ACTIVE);
	kmip_put_app_info_attribute(&w, "other", "x");
	kmip_put_app_info_attribute(&w, KMIP_VHSM_REPLACES_NAMESPACE, "4");
	kmip_put_end(&w);
	n = kmip_writer_finish(&w);
	ASSERT_GT(n, 0);
	ASSERT_EQ(kmip_ttlv_parse(b, (size_t)n, &payload), 0);
	ASSERT_EQ(kmip_get_attribute(&payload, "State", 0, &v), 0);
	ASSERT_EQ(kmip_item_enum(&v, &e), 0);
	ASSERT_EQ(e, KMIP_STATE_ACTIVE);
	ASSERT_STREQ(kmip_state_to_string(e), "active");
	ASSERT_STREQ(kmip_state_to_string(99), "unknown");
	ASSERT_EQ(kmip_get_attribute(&payload, "State", 1, &v), -ENOENT);
	ASSERT_EQ(kmip_get_attribute(&payload, "Stat", 0, &v), -ENOENT);
	ASSERT_EQ(kmip_get_attribute(&payload, "Application Specific Information", 1, &v), 0);
	ASSERT_EQ(kmip_get_text(&v, KMIP_TAG_APPLICATION_DATA, text, sizeof(text)), 0);
	ASSERT_STREQ(text, "4");
	/* An Attribute without a value is malformed. */
	kmip_writer_init(&w, b, sizeof(b));
	kmip_put_begin(&w, KMIP_TAG_RESPONSE_PAYLOAD);
	kmip_put_begin(&w, KMIP_TAG_ATTRIBUTE);
	kmip_put_attribute_name(&w, "State");
	kmip_put_end(&w);
	kmip_put_end(&w);
	n = kmip_writer_finish(&w);
	ASSERT_EQ(kmip_ttlv_parse(b, (size_t)n, &payload), 0);
	ASSERT_EQ(kmip_get_attribute(&payload, "State", 0, &v), -EBADMSG);
}
