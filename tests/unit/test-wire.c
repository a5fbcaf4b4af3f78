/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Wire codec tests. Messages for the decoder are written by hand (raw_*), independently of
 * the builder, so that the exact byte layout of docs/PROTOCOL.md is what is tested; every
 * decoder rule is broken one at a time on an otherwise valid message.
 */
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "wire.h"

/* ---- hand-written messages ---- */
struct raw {
	uint8_t b[VHSM_WIRE_MAX_MESSAGE + 64];
	size_t len;
};

static struct raw raw_msg;
static uint8_t big[VHSM_WIRE_MAX_MESSAGE + 4096];
static uint8_t big2[VHSM_WIRE_MAX_MESSAGE + 4096];
static char text[VHSM_WIRE_MAX_TEXT + 2];

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static struct raw *raw_begin_ex(uint32_t magic, uint16_t version, uint16_t op)
{
	struct raw *r = &raw_msg;

	memset(r->b, 0, sizeof(r->b));
	le32_put(r->b, magic);
	put16(r->b + 4, version);
	put16(r->b + 6, op);
	le32_put(r->b + 8, 0x01020304);
	r->len = VHSM_WIRE_HEADER_SIZE;
	return r;
}

static struct raw *raw_begin(void)
{
	return raw_begin_ex(VHSM_WIRE_MAGIC, VHSM_WIRE_VERSION, VHSM_OP_STATUS);
}

/* A field header declaring len, then n value bytes and pad padding bytes of value padv. */
static void raw_field_ex(struct raw *r, uint16_t tag, uint16_t reserved, uint32_t len,
			 const void *v, size_t n, size_t pad, uint8_t padv)
{
	uint8_t *w = r->b + r->len;

	put16(w, tag);
	put16(w + 2, reserved);
	le32_put(w + 4, len);
	if (n)
		memcpy(w + 8, v, n);
	memset(w + 8 + n, padv, pad);
	r->len += 8 + n + pad;
}

static void raw_field(struct raw *r, uint16_t tag, const void *v, size_t n)
{
	raw_field_ex(r, tag, 0, (uint32_t)n, v, n, (4 - n % 4) % 4, 0);
}

static void raw_u32(struct raw *r, uint16_t tag, uint32_t v)
{
	uint8_t w[4];

	le32_put(w, v);
	raw_field(r, tag, w, 4);
}

/* Writes the header length (= the bytes written) and decodes. */
static int raw_decode(struct raw *r, struct vhsm_wire_msg *m)
{
	struct vhsm_wire_msg tmp;

	le32_put(r->b + 12, (uint32_t)r->len);
	return vhsm_wire_decode(r->b, r->len, m ? m : &tmp);
}

static int decode_name(const char *s, size_t n)
{
	struct raw *r = raw_begin();

	raw_field(r, VHSM_TAG_NAME, s, n);
	return raw_decode(r, NULL);
}

static int build_name(const char *s)
{
	struct vhsm_wire_builder b;
	uint8_t buf[512];

	vhsm_wire_begin(&b, buf, sizeof(buf), VHSM_OP_KEK_SHOW, 1);
	vhsm_wire_add_str(&b, VHSM_TAG_NAME, s);
	return vhsm_wire_finish(&b);
}

/* Re-encodes a decoded message with the builder (views are not NUL-terminated: add_data). */
static int reencode(const struct vhsm_wire_msg *m, uint8_t *out, size_t cap)
{
	struct vhsm_wire_builder b;

	vhsm_wire_begin(&b, out, cap, m->op, m->id);
	for (size_t i = 0; i < m->n_fields; i++) {
		const struct vhsm_wire_field *f = &m->fields[i];

		switch (vhsm_wire_tag_type(f->tag)) {
		case VHSM_WIRE_U32:
			vhsm_wire_add_u32(&b, f->tag, le32_get(f->value));
			break;
		case VHSM_WIRE_U64:
			vhsm_wire_add_u64(&b, f->tag, le64_get(f->value));
			break;
		case VHSM_WIRE_I32:
			vhsm_wire_add_i32(&b, f->tag, (int32_t)le32_get(f->value));
			break;
		default:
			vhsm_wire_add_data(&b, f->tag, f->value, f->len);
			break;
		}
	}
	return vhsm_wire_finish(&b);
}

/* A message with every tag, values of varied lengths (every padding size). */
/* Tag numbers are allocated in ranges, so the known tags have gaps: count them. */
static size_t known_tags(void)
{
	size_t n = 0;

	for (uint16_t t = 1; t < _VHSM_TAG_MAX; t++)
		n += vhsm_wire_tag_type(t) != _VHSM_WIRE_TYPE_INVALID;
	return n;
}

static int build_every_tag(uint8_t *buf, size_t cap)
{
	struct vhsm_wire_builder b;

	vhsm_wire_begin(&b, buf, cap, VHSM_OP_REPLY_FLAG | VHSM_OP_UNWRAP, 0xfeedf00d);
	for (uint16_t t = 1; t < _VHSM_TAG_MAX; t++) {
		uint8_t d[64];
		char s[64];

		if (vhsm_wire_tag_type(t) == _VHSM_WIRE_TYPE_INVALID)
			continue; /* gaps between the number ranges of op families */
		for (size_t i = 0; i < sizeof(d); i++)
			d[i] = (uint8_t)(t * 31 + i);
		switch (vhsm_wire_tag_type(t)) {
		case VHSM_WIRE_U32:
			vhsm_wire_add_u32(&b, t, 0x01020300u + t);
			break;
		case VHSM_WIRE_U64:
			vhsm_wire_add_u64(&b, t, UINT64_C(0x8877665544332211) + t);
			break;
		case VHSM_WIRE_I32:
			vhsm_wire_add_i32(&b, t, -(int32_t)t);
			break;
		case VHSM_WIRE_STRING:
			snprintf(s, sizeof(s), "n\xc3\xa4me-%u%.*s", t, t % 4, "xyz");
			vhsm_wire_add_str(&b, t, s);
			break;
		case VHSM_WIRE_TEXT:
			snprintf(s, sizeof(s), "{\"path\":\"/a/b\",\"t\":%u}%.*s", t, t % 4, "   ");
			vhsm_wire_add_str(&b, t, s);
			break;
		case VHSM_WIRE_DATA:
			vhsm_wire_add_data(&b, t, d,
					   t == VHSM_TAG_NONCE ? 64 : (size_t)(t % 7) * 3);
			break;
		default:
			break; /* an unallocated number */
		}
	}
	return vhsm_wire_finish(&b);
}

static bool is_decode_errno(int r)
{
	return r == -EBADMSG || r == -EMSGSIZE || r == -EPROTONOSUPPORT;
}

/* ---- types, layout, round trips ---- */

TEST(wire_tag_types)
{
	static const struct {
		uint16_t tag;
		enum vhsm_wire_type type;
	} want[] = {
		{ VHSM_TAG_ERRNO, VHSM_WIRE_I32 },      { VHSM_TAG_MESSAGE, VHSM_WIRE_TEXT },
		{ VHSM_TAG_NAME, VHSM_WIRE_STRING },    { VHSM_TAG_VERSION, VHSM_WIRE_U32 },
		{ VHSM_TAG_DATA, VHSM_WIRE_DATA },      { VHSM_TAG_CONTEXT, VHSM_WIRE_DATA },
		{ VHSM_TAG_JSON, VHSM_WIRE_TEXT },      { VHSM_TAG_NONCE, VHSM_WIRE_DATA },
		{ VHSM_TAG_REPORT, VHSM_WIRE_DATA },    { VHSM_TAG_CERTS, VHSM_WIRE_DATA },
		{ VHSM_TAG_FLAGS, VHSM_WIRE_U64 },      { VHSM_TAG_DAYS, VHSM_WIRE_U32 },
		{ VHSM_TAG_PROFILE, VHSM_WIRE_STRING }, { VHSM_TAG_UID, VHSM_WIRE_U32 },
		{ VHSM_TAG_GID, VHSM_WIRE_U32 },        { VHSM_TAG_KEYRING, VHSM_WIRE_I32 },
		{ VHSM_TAG_TIMEOUT, VHSM_WIRE_U32 },    { VHSM_TAG_SIZE, VHSM_WIRE_U32 },
		{ VHSM_TAG_ACL, VHSM_WIRE_TEXT },       { VHSM_TAG_KEK, VHSM_WIRE_STRING },
		{ VHSM_TAG_SERIAL, VHSM_WIRE_I32 },     { VHSM_TAG_PUBKEY, VHSM_WIRE_DATA },
		{ VHSM_TAG_TOKEN, VHSM_WIRE_DATA },     { VHSM_TAG_VOLUME, VHSM_WIRE_STRING },
		{ VHSM_TAG_BUSY, VHSM_WIRE_U32 },
		{ VHSM_TAG_SEALED_KEK, VHSM_WIRE_DATA }, { VHSM_TAG_WRAPPED_SECRET, VHSM_WIRE_DATA },
		{ VHSM_TAG_POLICY_DIGEST, VHSM_WIRE_DATA }, { VHSM_TAG_UUID, VHSM_WIRE_STRING },
		{ VHSM_TAG_KID, VHSM_WIRE_STRING },     { VHSM_TAG_BYOK, VHSM_WIRE_TEXT },
		{ VHSM_TAG_BATCH, VHSM_WIRE_DATA },
		{ VHSM_TAG_KEY_ALG, VHSM_WIRE_STRING }, { VHSM_TAG_KEY_ID, VHSM_WIRE_DATA },
		{ VHSM_TAG_CERT, VHSM_WIRE_DATA },      { VHSM_TAG_MECH, VHSM_WIRE_U32 },
		{ VHSM_TAG_MECH_PARAM, VHSM_WIRE_DATA },
		{ VHSM_TAG_CSR, VHSM_WIRE_DATA },       { VHSM_TAG_EXPIRES, VHSM_WIRE_U64 },
		{ VHSM_TAG_CHAIN, VHSM_WIRE_DATA },     { VHSM_TAG_CA, VHSM_WIRE_DATA },
		{ VHSM_TAG_ENDPOINT, VHSM_WIRE_STRING },
		{ VHSM_TAG_GCM_IV, VHSM_WIRE_DATA },
	};

	ASSERT_EQ(ELEMENTSOF(want), known_tags());
	for (size_t i = 0; i < ELEMENTSOF(want); i++)
		ASSERT_EQ(vhsm_wire_tag_type(want[i].tag), want[i].type);
	ASSERT_EQ(vhsm_wire_tag_type(0), _VHSM_WIRE_TYPE_INVALID);
	ASSERT_EQ(vhsm_wire_tag_type(_VHSM_TAG_MAX), _VHSM_WIRE_TYPE_INVALID);
	ASSERT_EQ(vhsm_wire_tag_type(0xffff), _VHSM_WIRE_TYPE_INVALID);
}

TEST(wire_layout_exact_bytes)
{
	static const uint8_t want[] = {
		'V', 'H', 'S', 'M', 0x01, 0x00, 0x20, 0x00, 0x44, 0x33, 0x22, 0x11, 0x30, 0, 0, 0,
		0x04, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0xdd, 0xcc, 0xbb, 0xaa,
		0x03, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 'a', 'b', 0x00, 0x00,
		0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	struct vhsm_wire_builder b;
	uint8_t buf[128];

	memset(buf, 0xee, sizeof(buf));
	vhsm_wire_begin(&b, buf, sizeof(buf), VHSM_OP_WRAP, 0x11223344);
	vhsm_wire_add_u32(&b, VHSM_TAG_VERSION, 0xaabbccdd);
	vhsm_wire_add_str(&b, VHSM_TAG_NAME, "ab");
	vhsm_wire_add_data(&b, VHSM_TAG_DATA, NULL, 0);
	ASSERT_EQ(vhsm_wire_finish(&b), sizeof(want));
	ASSERT_MEMEQ(buf, want, sizeof(want));
	ASSERT_EQ(buf[sizeof(want)], 0xee); /* nothing written past the message */
}

TEST(wire_empty_message)
{
	struct vhsm_wire_msg m;
	struct raw *r = raw_begin_ex(VHSM_WIRE_MAGIC, 1, VHSM_OP_KEK_LIST);
	struct vhsm_wire_builder b;
	uint8_t buf[16];

	ASSERT_EQ(raw_decode(r, &m), 0);
	ASSERT_EQ(m.op, VHSM_OP_KEK_LIST);
	ASSERT_EQ(m.id, 0x01020304);
	ASSERT_EQ(m.n_fields, 0);
	ASSERT_TRUE(vhsm_wire_get(&m, VHSM_TAG_NAME) == NULL);
	/* the builder fits an empty message into exactly 16 bytes */
	vhsm_wire_begin(&b, buf, sizeof(buf), VHSM_OP_KEK_LIST, 0x01020304);
	ASSERT_EQ(vhsm_wire_finish(&b), 16);
	ASSERT_MEMEQ(buf, r->b, 16);
}

TEST(wire_roundtrip_types)
{
	static const uint8_t secret[5] = { 0, 1, 2, 0xff, 0 };
	struct vhsm_wire_builder b;
	struct vhsm_wire_msg m;
	uint8_t buf[1024];
	uint32_t u32;
	uint64_t u64;
	int32_t i32;
	char s[64];
	int len;

	vhsm_wire_begin(&b, buf, sizeof(buf), VHSM_OP_KEYRING_REQUEST, 0xffffffff);
	vhsm_wire_add_u32(&b, VHSM_TAG_UID, 0xffffffff);
	vhsm_wire_add_u32(&b, VHSM_TAG_GID, 0);
	vhsm_wire_add_u64(&b, VHSM_TAG_FLAGS, UINT64_C(0x8000000000000001));
	vhsm_wire_add_i32(&b, VHSM_TAG_KEYRING, -4);
	vhsm_wire_add_i32(&b, VHSM_TAG_SERIAL, INT32_MIN);
	vhsm_wire_add_str(&b, VHSM_TAG_NAME, "disk-\xe2\x82\xac");
	vhsm_wire_add_str(&b, VHSM_TAG_MESSAGE, "");
	vhsm_wire_add_str(&b, VHSM_TAG_ACL, "uid:1000:wrap;unit:a/b.service:all\n");
	vhsm_wire_add_data(&b, VHSM_TAG_DATA, secret, sizeof(secret));
	vhsm_wire_add_data(&b, VHSM_TAG_CONTEXT, NULL, 0);
	len = vhsm_wire_finish(&b);
	ASSERT_GT(len, 16);
	ASSERT_EQ(len % 4, 0);
	ASSERT_EQ(vhsm_wire_decode(buf, (size_t)len, &m), 0);
	ASSERT_EQ(m.op, VHSM_OP_KEYRING_REQUEST);
	ASSERT_EQ(m.id, 0xffffffff);
	ASSERT_EQ(m.n_fields, 10);
	ASSERT_EQ(vhsm_wire_get_u32(&m, VHSM_TAG_UID, &u32), 0);
	ASSERT_EQ(u32, 0xffffffff);
	ASSERT_EQ(vhsm_wire_get_u32(&m, VHSM_TAG_GID, &u32), 0);
	ASSERT_EQ(u32, 0);
	ASSERT_EQ(vhsm_wire_get_u64(&m, VHSM_TAG_FLAGS, &u64), 0);
	ASSERT_TRUE(u64 == UINT64_C(0x8000000000000001));
	ASSERT_EQ(vhsm_wire_get_i32(&m, VHSM_TAG_KEYRING, &i32), 0);
	ASSERT_EQ(i32, -4);
	ASSERT_EQ(vhsm_wire_get_i32(&m, VHSM_TAG_SERIAL, &i32), 0);
	ASSERT_EQ(i32, INT32_MIN);
	ASSERT_EQ(vhsm_wire_get_str(&m, VHSM_TAG_NAME, s, sizeof(s)), 0);
	ASSERT_STREQ(s, "disk-\xe2\x82\xac");
	ASSERT_EQ(vhsm_wire_get_str(&m, VHSM_TAG_MESSAGE, s, sizeof(s)), 0);
	ASSERT_STREQ(s, "");
	ASSERT_EQ(vhsm_wire_get_str(&m, VHSM_TAG_ACL, s, sizeof(s)), 0);
	ASSERT_STREQ(s, "uid:1000:wrap;unit:a/b.service:all\n");

	const struct vhsm_wire_field *f = vhsm_wire_get(&m, VHSM_TAG_DATA);
	ASSERT_TRUE(f != NULL);
	ASSERT_EQ(f->len, sizeof(secret));
	ASSERT_MEMEQ(f->value, secret, sizeof(secret));
	/* a view into the buffer, no copy: the field after the header and padding follows */
	ASSERT_TRUE(f->value > buf && f->value + f->len <= buf + len);
	ASSERT_EQ(le32_get(f->value - 4), sizeof(secret));
	f = vhsm_wire_get(&m, VHSM_TAG_CONTEXT);
	ASSERT_TRUE(f != NULL);
	ASSERT_EQ(f->len, 0);
}

TEST(wire_every_tag)
{
	static uint8_t again[4096];
	struct vhsm_wire_msg m;
	uint8_t buf[4096];
	int len = build_every_tag(buf, sizeof(buf));

	ASSERT_OK(len);
	ASSERT_EQ(vhsm_wire_decode(buf, (size_t)len, &m), 0);
	ASSERT_EQ(m.op, VHSM_OP_REPLY_FLAG | VHSM_OP_UNWRAP);
	ASSERT_EQ(m.id, 0xfeedf00d);
	ASSERT_EQ(m.n_fields, known_tags());
	for (uint16_t t = 1, i = 0; t < _VHSM_TAG_MAX; t++) {
		const struct vhsm_wire_field *f = vhsm_wire_get(&m, t);

		if (vhsm_wire_tag_type(t) == _VHSM_WIRE_TYPE_INVALID) {
			ASSERT_TRUE(f == NULL);
			continue;
		}
		ASSERT_TRUE(f != NULL);
		ASSERT_EQ(f->tag, t);
		ASSERT_TRUE(f == &m.fields[i++]); /* order kept */
	}
	uint32_t v;
	ASSERT_EQ(vhsm_wire_get_u32(&m, VHSM_TAG_SIZE, &v), 0);
	ASSERT_EQ(v, 0x01020300u + VHSM_TAG_SIZE);
	ASSERT_EQ(vhsm_wire_get(&m, VHSM_TAG_NONCE)->len, 64);
	/* the encoding is canonical: decoding and re-encoding gives the same bytes */
	ASSERT_EQ(reencode(&m, again, sizeof(again)), len);
	ASSERT_MEMEQ(again, buf, (size_t)len);
}

/* ---- decoder rules, one at a time ---- */

TEST(wire_decode_length_bounds)
{
	struct vhsm_wire_msg m;
	struct raw *r = raw_begin();

	le32_put(r->b + 12, 16);
	for (size_t n = 0; n < 16; n++)
		ASSERT_EQ(vhsm_wire_decode(r->b, n, &m), -EBADMSG);
	ASSERT_EQ(vhsm_wire_decode(r->b, 16, &m), 0);
	/* over the limit: refused on the length alone, before reading anything */
	ASSERT_EQ(vhsm_wire_decode(r->b, VHSM_WIRE_MAX_MESSAGE + 1, &m), -EMSGSIZE);
	ASSERT_EQ(vhsm_wire_decode(r->b, SIZE_MAX, &m), -EMSGSIZE);
}

TEST(wire_decode_header_fields)
{
	struct vhsm_wire_msg m;
	struct raw *r;
	static const uint16_t bad_versions[] = { 0, 2, 0x100, 0xffff };

	r = raw_begin_ex(VHSM_WIRE_MAGIC ^ 0x20, 1, VHSM_OP_STATUS); /* "vHSM" */
	ASSERT_EQ(raw_decode(r, &m), -EBADMSG);
	r = raw_begin_ex(0, 1, VHSM_OP_STATUS);
	ASSERT_EQ(raw_decode(r, &m), -EBADMSG);
	for (size_t i = 0; i < ELEMENTSOF(bad_versions); i++) {
		r = raw_begin_ex(VHSM_WIRE_MAGIC, bad_versions[i], VHSM_OP_STATUS);
		ASSERT_EQ(raw_decode(r, &m), -EPROTONOSUPPORT);
	}
	r = raw_begin_ex(VHSM_WIRE_MAGIC, 1, 0);
	ASSERT_EQ(raw_decode(r, &m), -EBADMSG);
	/* every other op value is structurally fine (the daemon refuses unknown ops itself) */
	r = raw_begin_ex(VHSM_WIRE_MAGIC, 1, VHSM_OP_REPLY_FLAG);
	ASSERT_EQ(raw_decode(r, &m), 0);
	ASSERT_EQ(m.op, VHSM_OP_REPLY_FLAG);
	r = raw_begin_ex(VHSM_WIRE_MAGIC, 1, 0xffff);
	ASSERT_EQ(raw_decode(r, &m), 0);
	ASSERT_EQ(m.op, 0xffff);
}

TEST(wire_decode_header_length_mismatch)
{
	static const uint32_t bad[] = { 0, 15, 16, 24, 27, 29, 32, 0x10000, 0xffffffff };
	struct vhsm_wire_msg m;
	struct raw *r = raw_begin();

	raw_u32(r, VHSM_TAG_VERSION, 1);
	ASSERT_EQ(raw_decode(r, &m), 0);
	ASSERT_EQ(r->len, 28);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		le32_put(r->b + 12, bad[i]);
		ASSERT_EQ(vhsm_wire_decode(r->b, 28, &m), -EBADMSG);
	}
	/* a datagram cut short (header says 28, 24 arrived) */
	le32_put(r->b + 12, 28);
	ASSERT_EQ(vhsm_wire_decode(r->b, 24, &m), -EBADMSG);
}

TEST(wire_decode_trailing_bytes)
{
	struct raw *r = raw_begin();

	raw_u32(r, VHSM_TAG_VERSION, 1);
	r->len += 4; /* zero bytes after the last field, counted in the header */
	ASSERT_EQ(raw_decode(r, NULL), -EBADMSG);
	r->len += 3;
	ASSERT_EQ(raw_decode(r, NULL), -EBADMSG);
	r->len += 1; /* 8 zero bytes: a field header with tag 0 */
	ASSERT_EQ(raw_decode(r, NULL), -EBADMSG);
	r = raw_begin();
	r->len += 1; /* one stray byte after the header */
	ASSERT_EQ(raw_decode(r, NULL), -EBADMSG);
}

TEST(wire_decode_reserved_nonzero)
{
	static const uint16_t bad[] = { 1, 0x100, 0x8000, 0xffff };
	uint8_t v[4] = { 1, 0, 0, 0 };

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		struct raw *r = raw_begin();

		raw_field_ex(r, VHSM_TAG_VERSION, bad[i], 4, v, 4, 0, 0);
		ASSERT_EQ(raw_decode(r, NULL), -EBADMSG);
	}
}

TEST(wire_decode_unknown_tag)
{
	static const uint16_t bad[] = { 0, 26, 31, _VHSM_TAG_MAX, 63, 127, 128, 0x8003, 0xffff };

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		struct raw *r = raw_begin();

		raw_u32(r, bad[i], 0);
		ASSERT_EQ(raw_decode(r, NULL), -EBADMSG);
	}
}

TEST(wire_decode_fixed_sizes)
{
	static const uint8_t v[16];
	static const struct {
		uint16_t tag;
		size_t n;
	} bad[] = {
		{ VHSM_TAG_VERSION, 0 }, { VHSM_TAG_VERSION, 3 }, { VHSM_TAG_VERSION, 5 },
		{ VHSM_TAG_VERSION, 8 }, { VHSM_TAG_ERRNO, 2 },   { VHSM_TAG_ERRNO, 8 },
		{ VHSM_TAG_FLAGS, 4 },   { VHSM_TAG_FLAGS, 7 },   { VHSM_TAG_FLAGS, 12 },
	};

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		struct raw *r = raw_begin();

		raw_field(r, bad[i].tag, v, bad[i].n);
		ASSERT_EQ(raw_decode(r, NULL), -EBADMSG);
	}
	struct raw *r = raw_begin();
	raw_field(r, VHSM_TAG_FLAGS, v, 8);
	raw_field(r, VHSM_TAG_ERRNO, v, 4);
	ASSERT_EQ(raw_decode(r, NULL), 0);
}

TEST(wire_decode_value_past_end)
{
	/* declared lengths beyond the message, including ones where length + padding wraps */
	static const uint32_t bad[] = { 5, 8, 9, 0x10000, 0x7fffffff, 0xfffffffc, 0xfffffffd,
					0xffffffff };
	uint8_t v[4] = { 1, 2, 3, 4 };

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		struct raw *r = raw_begin();

		raw_field_ex(r, VHSM_TAG_DATA, 0, bad[i], v, 4, 0, 0);
		ASSERT_EQ(raw_decode(r, NULL), -EBADMSG);
	}
	/* a field header cut short */
	struct raw *r = raw_begin();
	raw_field_ex(r, VHSM_TAG_DATA, 0, 0, NULL, 0, 0, 0);
	r->len -= 4;
	ASSERT_EQ(raw_decode(r, NULL), -EBADMSG);
}

TEST(wire_decode_padding)
{
	uint8_t v[5] = { 1, 2, 3, 4, 5 };
	struct raw *r;

	for (size_t n = 1; n <= 3; n++) {
		/* padding missing at the end of the message */
		r = raw_begin();
		raw_field_ex(r, VHSM_TAG_DATA, 0, (uint32_t)n, v, n, 0, 0);
		ASSERT_EQ(raw_decode(r, NULL), -EBADMSG);
		/* padding not zero */
		for (size_t pad = 1; pad <= 4 - n; pad++) {
			r = raw_begin();
			raw_field_ex(r, VHSM_TAG_DATA, 0, (uint32_t)n, v, n, 4 - n, 0);
			r->b[r->len - pad] = 0x80;
			ASSERT_EQ(raw_decode(r, NULL), -EBADMSG);
		}
		/* correct padding */
		r = raw_begin();
		raw_field(r, VHSM_TAG_DATA, v, n);
		ASSERT_EQ(raw_decode(r, NULL), 0);
	}
	/* padding missing between two fields shifts the next header: rejected */
	r = raw_begin();
	raw_field_ex(r, VHSM_TAG_DATA, 0, 5, v, 5, 0, 0);
	raw_u32(r, VHSM_TAG_VERSION, 1);
	ASSERT_EQ(raw_decode(r, NULL), -EBADMSG);
	/* an aligned value has no padding: 4 extra zero bytes are trailing garbage */
	r = raw_begin();
	raw_field_ex(r, VHSM_TAG_DATA, 0, 4, v, 4, 4, 0);
	ASSERT_EQ(raw_decode(r, NULL), -EBADMSG);
}

TEST(wire_decode_duplicate_tag)
{
	struct raw *r = raw_begin();

	raw_u32(r, VHSM_TAG_VERSION, 1);
	raw_field(r, VHSM_TAG_NAME, "a", 1);
	ASSERT_EQ(raw_decode(r, NULL), 0);
	raw_u32(r, VHSM_TAG_VERSION, 1); /* same value, still a duplicate */
	ASSERT_EQ(raw_decode(r, NULL), -EBADMSG);
	r = raw_begin();
	raw_field(r, VHSM_TAG_DATA, NULL, 0);
	raw_field(r, VHSM_TAG_DATA, NULL, 0);
	ASSERT_EQ(raw_decode(r, NULL), -EBADMSG);
}

/* Tags from 64 on have their own half of the bitmap: MECH (67) is no duplicate of NAME (3),
 * and a second MECH is one. */
TEST(wire_decode_duplicate_tag_above_63)
{
	struct raw *r = raw_begin();

	raw_field(r, VHSM_TAG_NAME, "a", 1);
	raw_u32(r, VHSM_TAG_MECH, 1);
	ASSERT_EQ(raw_decode(r, NULL), 0);
	raw_u32(r, VHSM_TAG_MECH, 1);
	ASSERT_EQ(raw_decode(r, NULL), -EBADMSG);
	r = raw_begin();
	raw_field(r, VHSM_TAG_KEY_ID, "id", 2);
	raw_field(r, VHSM_TAG_KEY_ID, "id", 2);
	ASSERT_EQ(raw_decode(r, NULL), -EBADMSG);
}

/* The bounds of the key pair tags: KEY_ID <= 64, CERT <= 16 KiB, MECH_PARAM <= 1 KiB. */
TEST(wire_decode_key_tag_bounds)
{
	static uint8_t v[16 * 1024 + 1];
	struct raw *r = raw_begin();

	raw_field(r, VHSM_TAG_KEY_ID, v, 64);
	raw_field(r, VHSM_TAG_MECH_PARAM, v, 1024);
	ASSERT_EQ(raw_decode(r, NULL), 0);
	r = raw_begin();
	raw_field(r, VHSM_TAG_KEY_ID, v, 65);
	ASSERT_EQ(raw_decode(r, NULL), -EMSGSIZE);
	r = raw_begin();
	raw_field(r, VHSM_TAG_MECH_PARAM, v, 1025);
	ASSERT_EQ(raw_decode(r, NULL), -EMSGSIZE);
	r = raw_begin();
	raw_field(r, VHSM_TAG_CERT, v, 16 * 1024);
	ASSERT_EQ(raw_decode(r, NULL), 0);
	r = raw_begin();
	raw_field(r, VHSM_TAG_CERT, v, 16 * 1024 + 1);
	ASSERT_EQ(raw_decode(r, NULL), -EMSGSIZE);
}

/* The bounds of the fleet enrollment tags: CSR <= 8 KiB, CHAIN and CA <= 16 KiB each. */
TEST(wire_decode_fleet_tag_bounds)
{
	static uint8_t v[16 * 1024 + 1];
	static const struct {
		uint16_t tag;
		size_t max;
	} b[] = { { VHSM_TAG_CSR, 8 * 1024 }, { VHSM_TAG_CHAIN, 16 * 1024 },
		  { VHSM_TAG_CA, 16 * 1024 } };

	for (size_t i = 0; i < ELEMENTSOF(b); i++) {
		struct raw *r = raw_begin();
		raw_field(r, b[i].tag, v, b[i].max);
		ASSERT_EQ(raw_decode(r, NULL), 0);
		r = raw_begin();
		raw_field(r, b[i].tag, v, b[i].max + 1);
		ASSERT_EQ(raw_decode(r, NULL), -EMSGSIZE);
	}
}

/* GCM_IV (the IV vhsmd chose) is DATA of at most 12 bytes. */
TEST(wire_decode_gcm_iv_bound)
{
	static const uint8_t v[13];
	struct raw *r = raw_begin();

	ASSERT_EQ(vhsm_wire_tag_type(VHSM_TAG_GCM_IV), VHSM_WIRE_DATA);
	raw_field(r, VHSM_TAG_GCM_IV, v, 12);
	ASSERT_EQ(raw_decode(r, NULL), 0);
	r = raw_begin();
	raw_field(r, VHSM_TAG_GCM_IV, v, 13);
	ASSERT_EQ(raw_decode(r, NULL), -EMSGSIZE);
}

TEST(wire_decode_too_many_fields)
{
	struct raw *r = raw_begin();

	/* 64 fields are within the limit (and rejected only as duplicates), 65 are over it */
	for (unsigned i = 0; i < VHSM_WIRE_MAX_FIELDS; i++)
		raw_field(r, VHSM_TAG_DATA, NULL, 0);
	ASSERT_EQ(raw_decode(r, NULL), -EBADMSG);
	raw_field(r, VHSM_TAG_DATA, NULL, 0);
	ASSERT_EQ(raw_decode(r, NULL), -EMSGSIZE);
}

TEST(wire_decode_string_rules)
{
	char s[VHSM_WIRE_MAX_STRING + 1];

	ASSERT_EQ(decode_name("k", 1), 0);
	ASSERT_EQ(decode_name("", 0), -EBADMSG);
	memset(s, 'a', sizeof(s));
	ASSERT_EQ(decode_name(s, VHSM_WIRE_MAX_STRING), 0);
	ASSERT_EQ(decode_name(s, VHSM_WIRE_MAX_STRING + 1), -EMSGSIZE);
	ASSERT_EQ(decode_name("a\0b", 3), -EBADMSG);
	ASSERT_EQ(decode_name("a\0", 2), -EBADMSG);
	ASSERT_EQ(decode_name("a/b", 3), -EBADMSG);
	ASSERT_EQ(decode_name("..", 2), 0); /* '.' is fine; the daemon's name rules are stricter */
	/* PROFILE, KEK, VOLUME are strings too */
	static const uint16_t tags[] = { VHSM_TAG_PROFILE, VHSM_TAG_KEK, VHSM_TAG_VOLUME };
	for (size_t i = 0; i < ELEMENTSOF(tags); i++) {
		struct raw *r = raw_begin();
		raw_field(r, tags[i], "x/y", 3);
		ASSERT_EQ(raw_decode(r, NULL), -EBADMSG);
		r = raw_begin();
		raw_field(r, tags[i], "", 0);
		ASSERT_EQ(raw_decode(r, NULL), -EBADMSG);
	}
}

static const char *const utf8_good[] = {
	"plain-ASCII_1.0",
	"\xc2\xa0",         /* U+00A0, first code point after C1 */
	"caf\xc3\xa9",      /* U+00E9 */
	"\xe2\x82\xac",     /* U+20AC */
	"\xed\x9f\xbf",     /* U+D7FF, just below the surrogates */
	"\xee\x80\x80",     /* U+E000, just above */
	"\xef\xbf\xbd",     /* U+FFFD */
	"\xf0\x9f\x98\x80", /* U+1F600 */
	"\xf4\x8f\xbf\xbf", /* U+10FFFF, the last code point */
	"\xe6\x97\xa5\xe6\x9c\xac",
};

static const char *const utf8_bad[] = {
	"\xc0\xaf",             /* overlong '/' */
	"\xc1\xbf",             /* overlong U+007F */
	"\xe0\x80\xaf",         /* overlong, 3 bytes */
	"\xe0\x9f\xbf",         /* overlong U+07FF */
	"\xf0\x80\x80\xaf",     /* overlong, 4 bytes */
	"\xf0\x8f\xbf\xbf",     /* overlong U+FFFF */
	"\xed\xa0\x80",         /* U+D800 surrogate */
	"\xed\xbf\xbf",         /* U+DFFF surrogate */
	"\xf4\x90\x80\x80",     /* U+110000 */
	"\xf5\x80\x80\x80",     /* lead byte beyond U+10FFFF */
	"\xf8\x88\x80\x80\x80", /* 5-byte form */
	"\xfe",
	"\xff",
	"\x80",           /* lone continuation byte */
	"a\xbf",          /* continuation without a lead */
	"\xe2\x82",       /* truncated */
	"ok\xf0\x9f\x98", /* truncated at the end */
	"\xe2\x28\xa1",   /* bad continuation */
	"\xc3(",          /* bad continuation */
	"\xc3\xc3",       /* a lead byte where a continuation byte belongs */
	"\xe2\x82\xe2\x82\xac",
	"\x01",           /* C0 control */
	"\x1f",
	"a\nb",
	"\t",
	"\x1b[31m",
	"\x7f",       /* DEL */
	"\xc2\x80",   /* U+0080, C1 control */
	"\xc2\x85",   /* U+0085 NEL */
	"\xc2\x9f",   /* U+009F */
	"dir/",
	"/",
};

TEST(wire_utf8_validator)
{
	for (size_t i = 0; i < ELEMENTSOF(utf8_good); i++) {
		const char *s = utf8_good[i];

		if (decode_name(s, strlen(s)) != 0 || build_name(s) < 0)
			test_fail(__FILE__, __LINE__, "valid string %zu refused", i);
	}
	for (size_t i = 0; i < ELEMENTSOF(utf8_bad); i++) {
		const char *s = utf8_bad[i];
		int r1 = decode_name(s, strlen(s)), r2 = build_name(s);

		if (r1 != -EBADMSG || r2 != -EINVAL)
			test_fail(__FILE__, __LINE__, "invalid string %zu: decode %d, build %d", i,
				  r1, r2);
	}
	ASSERT_FALSE(test_failed());
}

TEST(wire_decode_text_rules)
{
	struct vhsm_wire_msg m;
	struct raw *r;

	memset(text, 'j', sizeof(text));
	r = raw_begin();
	raw_field(r, VHSM_TAG_JSON, text, VHSM_WIRE_MAX_TEXT);
	ASSERT_EQ(raw_decode(r, &m), 0);
	ASSERT_EQ(m.fields[0].len, VHSM_WIRE_MAX_TEXT);
	r = raw_begin();
	raw_field(r, VHSM_TAG_JSON, text, VHSM_WIRE_MAX_TEXT + 1);
	ASSERT_EQ(raw_decode(r, NULL), -EMSGSIZE);
	r = raw_begin();
	raw_field(r, VHSM_TAG_MESSAGE, "bad\0news", 8);
	ASSERT_EQ(raw_decode(r, NULL), -EBADMSG);
	/* TEXT may be empty and carries '/', newlines and bytes that are not UTF-8 */
	r = raw_begin();
	raw_field(r, VHSM_TAG_MESSAGE, "", 0);
	raw_field(r, VHSM_TAG_ACL, "unit:a/b:all\n\xff", 14);
	ASSERT_EQ(raw_decode(r, NULL), 0);
}

TEST(wire_decode_data_limits)
{
	struct raw *r;

	memset(big, 0xa5, VHSM_WIRE_MAX_DATA + 1);
	r = raw_begin();
	raw_field(r, VHSM_TAG_DATA, big, VHSM_WIRE_MAX_DATA);
	ASSERT_EQ(raw_decode(r, NULL), 0);
	r = raw_begin();
	raw_field(r, VHSM_TAG_TOKEN, big, VHSM_WIRE_MAX_DATA + 1);
	ASSERT_EQ(raw_decode(r, NULL), -EMSGSIZE);
	/* NONCE has its own, tighter limit */
	r = raw_begin();
	raw_field(r, VHSM_TAG_NONCE, big, 64);
	ASSERT_EQ(raw_decode(r, NULL), 0);
	r = raw_begin();
	raw_field(r, VHSM_TAG_NONCE, big, 65);
	ASSERT_EQ(raw_decode(r, NULL), -EMSGSIZE);
}

TEST(wire_decode_failure_leaves_ret)
{
	struct vhsm_wire_msg m, orig;
	struct raw *r = raw_begin();

	memset(&m, 0x5a, sizeof(m));
	orig = m;
	raw_u32(r, VHSM_TAG_VERSION, 1);
	raw_field(r, VHSM_TAG_NAME, "a/", 2); /* the first field is fine, the second is not */
	ASSERT_EQ(raw_decode(r, &m), -EBADMSG);
	ASSERT_MEMEQ(&m, &orig, sizeof(m));
}

/* ---- the message size limit ---- */

/* MESSAGE of VHSM_WIRE_MAX_TEXT plus DATA of data_len. */
static int build_large(uint8_t *buf, size_t cap, size_t data_len)
{
	struct vhsm_wire_builder b;

	memset(text, 't', VHSM_WIRE_MAX_TEXT);
	text[VHSM_WIRE_MAX_TEXT] = 0;
	memset(big2, 0x3c, data_len);
	vhsm_wire_begin(&b, buf, cap, VHSM_OP_REPLY_FLAG | VHSM_OP_STATUS, 7);
	vhsm_wire_add_str(&b, VHSM_TAG_MESSAGE, text);
	vhsm_wire_add_data(&b, VHSM_TAG_DATA, big2, data_len);
	return vhsm_wire_finish(&b);
}

TEST(wire_max_message)
{
	const size_t fill = VHSM_WIRE_MAX_MESSAGE - 16 - 8 - VHSM_WIRE_MAX_TEXT - 8;
	struct vhsm_wire_msg m;

	ASSERT_EQ(fill, 16352);
	ASSERT_EQ(build_large(big, VHSM_WIRE_MAX_MESSAGE, fill), VHSM_WIRE_MAX_MESSAGE);
	ASSERT_EQ(vhsm_wire_decode(big, VHSM_WIRE_MAX_MESSAGE, &m), 0);
	ASSERT_EQ(m.n_fields, 2);
	ASSERT_EQ(m.fields[1].len, fill);
	/* one byte more on the wire: refused whatever the header says */
	le32_put(big + 12, VHSM_WIRE_MAX_MESSAGE + 1);
	ASSERT_EQ(vhsm_wire_decode(big, VHSM_WIRE_MAX_MESSAGE + 1, &m), -EMSGSIZE);
	/* the builder refuses to exceed the protocol limit even with a larger buffer ... */
	ASSERT_EQ(build_large(big, sizeof(big), fill + 1), -EMSGSIZE);
	ASSERT_EQ(build_large(big, VHSM_WIRE_MAX_MESSAGE, fill + 1), -EMSGSIZE);
	/* ... and reports a buffer that is merely too small as ENOBUFS */
	ASSERT_EQ(build_large(big, VHSM_WIRE_MAX_MESSAGE - 4, fill), -ENOBUFS);
}

/* ---- builder ---- */

TEST(wire_builder_overflow)
{
	static const uint8_t key[40] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 };
	struct vhsm_wire_builder b;
	struct vhsm_wire_msg m;
	uint8_t buf[64] = {};

	vhsm_wire_begin(&b, buf, sizeof(buf), VHSM_OP_UNWRAP, 9);
	vhsm_wire_add_data(&b, VHSM_TAG_DATA, key, 16);   /* 40 bytes so far */
	vhsm_wire_add_data(&b, VHSM_TAG_CONTEXT, key, 40); /* 88 would not fit */
	ASSERT_EQ(b.error, -ENOBUFS);
	ASSERT_EQ(b.len, 0);
	/* sticky: a field that would fit is not added */
	vhsm_wire_add_u32(&b, VHSM_TAG_VERSION, 1);
	ASSERT_EQ(b.len, 0);
	ASSERT_EQ(vhsm_wire_finish(&b), -ENOBUFS);
	ASSERT_EQ(vhsm_wire_finish(&b), -ENOBUFS);
	/* nothing usable is left behind: the partial message (and the key) are wiped */
	ASSERT_TRUE(mem_is_zero(buf, sizeof(buf)));
	ASSERT_EQ(vhsm_wire_decode(buf, 40, &m), -EBADMSG);
	ASSERT_EQ(vhsm_wire_decode(buf, 16, &m), -EBADMSG);
	/* a buffer smaller than the header */
	vhsm_wire_begin(&b, buf, 15, VHSM_OP_STATUS, 1);
	ASSERT_EQ(vhsm_wire_finish(&b), -ENOBUFS);
	/* exactly enough room */
	vhsm_wire_begin(&b, buf, 40, VHSM_OP_UNWRAP, 9);
	vhsm_wire_add_data(&b, VHSM_TAG_DATA, key, 16);
	ASSERT_EQ(vhsm_wire_finish(&b), 40);
	ASSERT_EQ(vhsm_wire_decode(buf, 40, &m), 0);
}

TEST(wire_builder_rejects)
{
	struct vhsm_wire_builder b;
	uint8_t buf[1024], nonce[65] = {};
	char s[VHSM_WIRE_MAX_STRING + 2];

	vhsm_wire_begin(&b, buf, sizeof(buf), 0, 1);
	ASSERT_EQ(vhsm_wire_finish(&b), -EINVAL);
	vhsm_wire_begin(&b, NULL, 100, VHSM_OP_STATUS, 1);
	vhsm_wire_add_u32(&b, VHSM_TAG_VERSION, 1);
	ASSERT_EQ(vhsm_wire_finish(&b), -EINVAL);

	vhsm_wire_begin(&b, buf, sizeof(buf), VHSM_OP_STATUS, 1);
	vhsm_wire_add_u32(&b, 0, 1); /* unknown tag */
	ASSERT_EQ(vhsm_wire_finish(&b), -EINVAL);
	vhsm_wire_begin(&b, buf, sizeof(buf), VHSM_OP_STATUS, 1);
	vhsm_wire_add_data(&b, _VHSM_TAG_MAX, "x", 1);
	ASSERT_EQ(vhsm_wire_finish(&b), -EINVAL);
	/* wrong type for the tag */
	vhsm_wire_begin(&b, buf, sizeof(buf), VHSM_OP_STATUS, 1);
	vhsm_wire_add_u32(&b, VHSM_TAG_NAME, 1);
	ASSERT_EQ(vhsm_wire_finish(&b), -EINVAL);
	vhsm_wire_begin(&b, buf, sizeof(buf), VHSM_OP_STATUS, 1);
	vhsm_wire_add_u64(&b, VHSM_TAG_VERSION, 1);
	ASSERT_EQ(vhsm_wire_finish(&b), -EINVAL);
	vhsm_wire_begin(&b, buf, sizeof(buf), VHSM_OP_STATUS, 1);
	vhsm_wire_add_i32(&b, VHSM_TAG_UID, 1);
	ASSERT_EQ(vhsm_wire_finish(&b), -EINVAL);
	vhsm_wire_begin(&b, buf, sizeof(buf), VHSM_OP_STATUS, 1);
	vhsm_wire_add_str(&b, VHSM_TAG_DATA, "raw");
	ASSERT_EQ(vhsm_wire_finish(&b), -EINVAL);
	vhsm_wire_begin(&b, buf, sizeof(buf), VHSM_OP_STATUS, 1);
	vhsm_wire_add_data(&b, VHSM_TAG_VERSION, "1234", 4);
	ASSERT_EQ(vhsm_wire_finish(&b), -EINVAL);
	/* duplicate */
	vhsm_wire_begin(&b, buf, sizeof(buf), VHSM_OP_STATUS, 1);
	vhsm_wire_add_u32(&b, VHSM_TAG_VERSION, 1);
	vhsm_wire_add_str(&b, VHSM_TAG_NAME, "k");
	vhsm_wire_add_u32(&b, VHSM_TAG_VERSION, 2);
	ASSERT_EQ(vhsm_wire_finish(&b), -EINVAL);
	/* values */
	vhsm_wire_begin(&b, buf, sizeof(buf), VHSM_OP_STATUS, 1);
	vhsm_wire_add_str(&b, VHSM_TAG_NAME, NULL);
	ASSERT_EQ(vhsm_wire_finish(&b), -EINVAL);
	vhsm_wire_begin(&b, buf, sizeof(buf), VHSM_OP_STATUS, 1);
	vhsm_wire_add_data(&b, VHSM_TAG_DATA, NULL, 1);
	ASSERT_EQ(vhsm_wire_finish(&b), -EINVAL);
	ASSERT_EQ(build_name(""), -EINVAL);
	ASSERT_EQ(build_name("a/b"), -EINVAL);
	memset(s, 'n', sizeof(s));
	s[VHSM_WIRE_MAX_STRING] = 0;
	ASSERT_OK(build_name(s));
	s[VHSM_WIRE_MAX_STRING] = 'n';
	s[VHSM_WIRE_MAX_STRING + 1] = 0;
	ASSERT_EQ(build_name(s), -EMSGSIZE);
	vhsm_wire_begin(&b, buf, sizeof(buf), VHSM_OP_STATUS, 1);
	vhsm_wire_add_data(&b, VHSM_TAG_NAME, "a\0b", 3); /* views are checked like strings */
	ASSERT_EQ(vhsm_wire_finish(&b), -EINVAL);
	vhsm_wire_begin(&b, buf, sizeof(buf), VHSM_OP_STATUS, 1);
	vhsm_wire_add_data(&b, VHSM_TAG_JSON, "{}\0", 3);
	ASSERT_EQ(vhsm_wire_finish(&b), -EINVAL);
	vhsm_wire_begin(&b, buf, sizeof(buf), VHSM_OP_STATUS, 1);
	vhsm_wire_add_data(&b, VHSM_TAG_NONCE, nonce, sizeof(nonce));
	ASSERT_EQ(vhsm_wire_finish(&b), -EMSGSIZE);
	/* an unterminated TEXT longer than the limit is measured with a bound */
	memset(text, 'x', sizeof(text));
	vhsm_wire_begin(&b, big, sizeof(big), VHSM_OP_STATUS, 1);
	vhsm_wire_add_data(&b, VHSM_TAG_MESSAGE, text, VHSM_WIRE_MAX_TEXT + 1);
	ASSERT_EQ(vhsm_wire_finish(&b), -EMSGSIZE);
	text[VHSM_WIRE_MAX_TEXT + 1] = 0;
	vhsm_wire_begin(&b, big, sizeof(big), VHSM_OP_STATUS, 1);
	vhsm_wire_add_str(&b, VHSM_TAG_MESSAGE, text);
	ASSERT_EQ(vhsm_wire_finish(&b), -EMSGSIZE);
}

TEST(wire_builder_add_data_views)
{
	struct vhsm_wire_builder b;
	struct vhsm_wire_msg m;
	uint8_t buf[256];
	char s[16];
	int len;

	/* STRING/TEXT from a buffer that is not NUL-terminated, e.g. a field of another message */
	vhsm_wire_begin(&b, buf, sizeof(buf), VHSM_OP_LUKS_UNLOCK, 3);
	vhsm_wire_add_data(&b, VHSM_TAG_VOLUME, "luks-1234XXXX", 9);
	vhsm_wire_add_data(&b, VHSM_TAG_MESSAGE, "okXX", 2);
	len = vhsm_wire_finish(&b);
	ASSERT_OK(len);
	ASSERT_EQ(vhsm_wire_decode(buf, (size_t)len, &m), 0);
	ASSERT_EQ(vhsm_wire_get_str(&m, VHSM_TAG_VOLUME, s, sizeof(s)), 0);
	ASSERT_STREQ(s, "luks-1234");
	ASSERT_EQ(vhsm_wire_get_str(&m, VHSM_TAG_MESSAGE, s, sizeof(s)), 0);
	ASSERT_STREQ(s, "ok");
	/* a sequence cut by the value's length is truncated, whatever bytes follow in memory */
	vhsm_wire_begin(&b, buf, sizeof(buf), VHSM_OP_LUKS_UNLOCK, 3);
	vhsm_wire_add_data(&b, VHSM_TAG_VOLUME, "\xe2\x82\xac", 2);
	ASSERT_EQ(vhsm_wire_finish(&b), -EINVAL);
	vhsm_wire_begin(&b, buf, sizeof(buf), VHSM_OP_LUKS_UNLOCK, 3);
	vhsm_wire_add_data(&b, VHSM_TAG_VOLUME, "\xe2\x82\xac", 3);
	ASSERT_OK(vhsm_wire_finish(&b));
}

/* ---- field access ---- */

TEST(wire_get_helpers)
{
	struct vhsm_wire_builder b;
	struct vhsm_wire_msg m;
	uint8_t buf[256];
	uint32_t u32 = 0xdeadbeef;
	uint64_t u64 = 42;
	int32_t i32 = 42;
	char s[8];
	int len;

	vhsm_wire_begin(&b, buf, sizeof(buf), VHSM_OP_KEK_CREATE, 1);
	vhsm_wire_add_str(&b, VHSM_TAG_NAME, "abc");
	vhsm_wire_add_u32(&b, VHSM_TAG_DAYS, 30);
	vhsm_wire_add_u64(&b, VHSM_TAG_FLAGS, 3);
	vhsm_wire_add_i32(&b, VHSM_TAG_KEYRING, -3);
	vhsm_wire_add_data(&b, VHSM_TAG_DATA, "xyz", 3);
	len = vhsm_wire_finish(&b);
	ASSERT_OK(len);
	ASSERT_EQ(vhsm_wire_decode(buf, (size_t)len, &m), 0);

	/* absent */
	ASSERT_EQ(vhsm_wire_get_u32(&m, VHSM_TAG_VERSION, &u32), -ENOENT);
	ASSERT_EQ(vhsm_wire_get_i32(&m, VHSM_TAG_SERIAL, &i32), -ENOENT);
	ASSERT_EQ(vhsm_wire_get_str(&m, VHSM_TAG_PROFILE, s, sizeof(s)), -ENOENT);
	ASSERT_EQ(vhsm_wire_get_str(&m, VHSM_TAG_JSON, s, sizeof(s)), -ENOENT);
	ASSERT_TRUE(vhsm_wire_get(&m, VHSM_TAG_VERSION) == NULL);
	ASSERT_EQ(u32, 0xdeadbeef);
	ASSERT_EQ(i32, 42);
	/* type mismatch, present or not */
	ASSERT_EQ(vhsm_wire_get_u32(&m, VHSM_TAG_NAME, &u32), -EBADMSG);
	ASSERT_EQ(vhsm_wire_get_u32(&m, VHSM_TAG_FLAGS, &u32), -EBADMSG);
	ASSERT_EQ(vhsm_wire_get_u32(&m, VHSM_TAG_KEYRING, &u32), -EBADMSG);
	ASSERT_EQ(vhsm_wire_get_u64(&m, VHSM_TAG_DAYS, &u64), -EBADMSG);
	ASSERT_EQ(vhsm_wire_get_i32(&m, VHSM_TAG_DAYS, &i32), -EBADMSG);
	ASSERT_EQ(vhsm_wire_get_str(&m, VHSM_TAG_DATA, s, sizeof(s)), -EBADMSG);
	ASSERT_EQ(vhsm_wire_get_str(&m, VHSM_TAG_DAYS, s, sizeof(s)), -EBADMSG);
	ASSERT_EQ(vhsm_wire_get_u32(&m, VHSM_TAG_UID, &u32), -ENOENT);
	ASSERT_EQ(vhsm_wire_get_u32(&m, 0xffff, &u32), -EBADMSG);
	ASSERT_EQ(u32, 0xdeadbeef);
	/* present */
	ASSERT_EQ(vhsm_wire_get_u32(&m, VHSM_TAG_DAYS, &u32), 0);
	ASSERT_EQ(u32, 30);
	ASSERT_EQ(vhsm_wire_get_u64(&m, VHSM_TAG_FLAGS, &u64), 0);
	ASSERT_EQ(u64, 3);
	ASSERT_EQ(vhsm_wire_get_i32(&m, VHSM_TAG_KEYRING, &i32), 0);
	ASSERT_EQ(i32, -3);
	/* output size: "abc" needs 4 bytes */
	memcpy(s, "XXXXXXX", 8);
	ASSERT_EQ(vhsm_wire_get_str(&m, VHSM_TAG_NAME, s, 0), -EMSGSIZE);
	ASSERT_EQ(vhsm_wire_get_str(&m, VHSM_TAG_NAME, s, 3), -EMSGSIZE);
	ASSERT_STREQ(s, "XXXXXXX");
	ASSERT_EQ(vhsm_wire_get_str(&m, VHSM_TAG_NAME, s, 4), 0);
	ASSERT_STREQ(s, "abc");
}

/* ---- robustness ---- */

TEST(wire_decode_bitflips)
{
	static uint8_t msg[4096], mut[4096], again[4096];
	struct vhsm_wire_msg m;
	unsigned accepted = 0, rejected = 0;
	int len = build_every_tag(msg, sizeof(msg));

	ASSERT_OK(len);
	for (size_t i = 0; i < (size_t)len; i++)
		for (unsigned bit = 0; bit < 8; bit++) {
			memcpy(mut, msg, (size_t)len);
			mut[i] ^= (uint8_t)(1u << bit);
			int r = vhsm_wire_decode(mut, (size_t)len, &m);
			if (r < 0) {
				ASSERT_TRUE(is_decode_errno(r));
				rejected++;
				continue;
			}
			/* whatever is accepted is canonical: it re-encodes to the same bytes */
			accepted++;
			ASSERT_EQ(reencode(&m, again, sizeof(again)), len);
			ASSERT_MEMEQ(again, mut, (size_t)len);
		}
	/* flips in values (DATA, id, integers) pass, flips in structure do not */
	ASSERT_GT(accepted, 100);
	ASSERT_GT(rejected, 100);
}

TEST(wire_decode_truncations)
{
	static uint8_t msg[4096];
	struct vhsm_wire_msg m, full;
	int len = build_every_tag(msg, sizeof(msg));
	size_t boundary = VHSM_WIRE_HEADER_SIZE, next = 0;

	ASSERT_OK(len);
	ASSERT_EQ(vhsm_wire_decode(msg, (size_t)len, &full), 0);
	/* cut anywhere with the original header length: always refused */
	for (size_t n = 0; n < (size_t)len; n++)
		ASSERT_EQ(vhsm_wire_decode(msg, n, &m), -EBADMSG);
	/* cut with a matching header length: valid exactly at field boundaries */
	for (size_t n = VHSM_WIRE_HEADER_SIZE; n < (size_t)len; n++) {
		le32_put(msg + 12, (uint32_t)n);
		int r = vhsm_wire_decode(msg, n, &m);
		if (n == boundary) {
			ASSERT_EQ(r, 0);
			ASSERT_EQ(m.n_fields, next);
			uint32_t flen = full.fields[next].len;
			boundary += 8 + flen + (4 - flen % 4) % 4;
			next++;
		} else {
			ASSERT_EQ(r, -EBADMSG);
		}
	}
	ASSERT_EQ(next, full.n_fields);
	ASSERT_EQ(boundary, (size_t)len);
}

/* ---- UNWRAP_BATCH items ---- */

TEST(wire_batch_request_roundtrip)
{
	static const uint8_t blob1[] = { 1, 2, 3 }, blob2[] = { 9 }, ctx1[] = { 'v', 'o', 'l' };
	uint8_t buf[64];
	size_t off = 0, bl, cl;
	const uint8_t *b, *c;
	struct vhsm_batch_cursor cur;

	ASSERT_EQ(vhsm_batch_put_request(buf, sizeof(buf), &off, blob1, 3, ctx1, 3), 0);
	ASSERT_EQ(vhsm_batch_put_request(buf, sizeof(buf), &off, blob2, 1, NULL, 0), 0);
	ASSERT_EQ(off, 2u + 3 + 2 + 3 + 2 + 1 + 2);
	/* Invalid items and items that do not fit change nothing. */
	ASSERT_EQ(vhsm_batch_put_request(buf, sizeof(buf), &off, blob1, 0, NULL, 0), -EINVAL);
	ASSERT_EQ(vhsm_batch_put_request(buf, sizeof(buf), &off, NULL, 3, NULL, 0), -EINVAL);
	ASSERT_EQ(vhsm_batch_put_request(buf, sizeof(buf), &off, blob1, 3, NULL, 2), -EINVAL);
	ASSERT_EQ(vhsm_batch_put_request(buf, off + 6, &off, blob1, 3, NULL, 0), -EMSGSIZE);
	ASSERT_EQ(off, 15u);

	cur = (struct vhsm_batch_cursor){ .p = buf, .left = off };
	ASSERT_EQ(vhsm_batch_next_request(&cur, &b, &bl, &c, &cl), 1);
	ASSERT_EQ(bl, 3u);
	ASSERT_EQ(memcmp(b, blob1, 3), 0);
	ASSERT_EQ(cl, 3u);
	ASSERT_EQ(memcmp(c, ctx1, 3), 0);
	ASSERT_EQ(vhsm_batch_next_request(&cur, &b, &bl, &c, &cl), 1);
	ASSERT_EQ(bl, 1u);
	ASSERT_EQ(b[0], 9);
	ASSERT_EQ(cl, 0u);
	ASSERT_EQ(vhsm_batch_next_request(&cur, &b, &bl, &c, &cl), 0);
}

TEST(wire_batch_request_truncated_or_empty_items_rejected)
{
	static const uint8_t blob[] = { 1, 2, 3 }, ctx[] = { 7, 7 };
	uint8_t buf[32];
	size_t off = 0, bl, cl;
	const uint8_t *b, *c;
	struct vhsm_batch_cursor cur;

	ASSERT_EQ(vhsm_batch_put_request(buf, sizeof(buf), &off, blob, 3, ctx, 2), 0);
	/* Every proper prefix is a truncated item. */
	for (size_t n = 1; n < off; n++) {
		cur = (struct vhsm_batch_cursor){ .p = buf, .left = n };
		ASSERT_EQ(vhsm_batch_next_request(&cur, &b, &bl, &c, &cl), -EBADMSG);
	}
	/* A blob length beyond the field. */
	buf[0] = 0xff;
	cur = (struct vhsm_batch_cursor){ .p = buf, .left = off };
	ASSERT_EQ(vhsm_batch_next_request(&cur, &b, &bl, &c, &cl), -EBADMSG);
	/* An empty blob. */
	static const uint8_t empty_blob[] = { 0, 0, 0, 0 };
	cur = (struct vhsm_batch_cursor){ .p = empty_blob, .left = sizeof(empty_blob) };
	ASSERT_EQ(vhsm_batch_next_request(&cur, &b, &bl, &c, &cl), -EBADMSG);
}

TEST(wire_batch_reply_roundtrip_and_rejects)
{
	static const uint8_t dek[] = { 0xaa, 0xbb };
	uint8_t buf[32];
	size_t off = 0, len;
	const uint8_t *pt;
	int e;
	struct vhsm_batch_cursor cur;

	ASSERT_EQ(vhsm_batch_put_reply(buf, sizeof(buf), &off, 0, dek, 2), 0);
	ASSERT_EQ(vhsm_batch_put_reply(buf, sizeof(buf), &off, -EKEYREJECTED, NULL, 0), 0);
	ASSERT_EQ(vhsm_batch_put_reply(buf, sizeof(buf), &off, -EPERM, dek, 2), -EINVAL);
	ASSERT_EQ(vhsm_batch_put_reply(buf, sizeof(buf), &off, EPERM, NULL, 0), -EINVAL);
	ASSERT_EQ(off, 8u + 6u);

	cur = (struct vhsm_batch_cursor){ .p = buf, .left = off };
	ASSERT_EQ(vhsm_batch_next_reply(&cur, &e, &pt, &len), 1);
	ASSERT_EQ(e, 0);
	ASSERT_EQ(len, 2u);
	ASSERT_EQ(memcmp(pt, dek, 2), 0);
	ASSERT_EQ(vhsm_batch_next_reply(&cur, &e, &pt, &len), 1);
	ASSERT_EQ(e, -EKEYREJECTED);
	ASSERT_EQ(len, 0u);
	ASSERT_EQ(vhsm_batch_next_reply(&cur, &e, &pt, &len), 0);

	/* A failed item carrying bytes, an errno out of range, and a short item. */
	static const uint8_t bad_failed[] = { 1, 0, 0, 0, 1, 0, 0x55 };
	cur = (struct vhsm_batch_cursor){ .p = bad_failed, .left = sizeof(bad_failed) };
	ASSERT_EQ(vhsm_batch_next_reply(&cur, &e, &pt, &len), -EBADMSG);
	static const uint8_t bad_errno[] = { 0, 0x10, 0, 0, 0, 0 };
	cur = (struct vhsm_batch_cursor){ .p = bad_errno, .left = sizeof(bad_errno) };
	ASSERT_EQ(vhsm_batch_next_reply(&cur, &e, &pt, &len), -EBADMSG);
	cur = (struct vhsm_batch_cursor){ .p = buf, .left = 5 };
	ASSERT_EQ(vhsm_batch_next_reply(&cur, &e, &pt, &len), -EBADMSG);
}
