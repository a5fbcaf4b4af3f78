/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Wire codec (include/vhsm/wire.h, docs/PROTOCOL.md). The decoder trusts nothing: every
 * length is checked against what is left before it is used, so no offset arithmetic can
 * overflow, and it never reads past len. The builder applies the decoder's rules to what it
 * writes, so a message that finishes without error always decodes. Neither keeps a copy of a
 * value: decoded fields are views into the caller's buffer and the builder writes only into
 * the caller's buffer (secret memory when the message carries keys).
 */
#include <string.h>

#include "text.h"
#include "wire.h"

_Static_assert(_VHSM_TAG_MAX <= 128, "the duplicate-tag bitmap holds 128 tags");
_Static_assert(VHSM_WIRE_MAX_MESSAGE <= INT32_MAX, "finish returns the length as an int");

#define WIRE_NONCE_MAX 64u
#define WIRE_KEY_ID_MAX 64u
#define WIRE_CERT_MAX (16u * 1024u)
#define WIRE_MECH_PARAM_MAX 1024u
#define WIRE_CSR_MAX (8u * 1024u)  /* fleet-enroll.h FLEET_CSR_MAX */
#define WIRE_PEM_MAX (16u * 1024u) /* fleet-enroll.h FLEET_CHAIN_MAX */
#define WIRE_GCM_IV_MAX 12u

static const struct tag_info {
	bool known;
	enum vhsm_wire_type type;
	uint32_t max; /* a tighter bound than the type's, or 0 */
} tag_table[_VHSM_TAG_MAX] = {
	[VHSM_TAG_ERRNO] = { true, VHSM_WIRE_I32, 0 },
	[VHSM_TAG_MESSAGE] = { true, VHSM_WIRE_TEXT, 0 },
	[VHSM_TAG_NAME] = { true, VHSM_WIRE_STRING, 0 },
	[VHSM_TAG_VERSION] = { true, VHSM_WIRE_U32, 0 },
	[VHSM_TAG_DATA] = { true, VHSM_WIRE_DATA, 0 },
	[VHSM_TAG_CONTEXT] = { true, VHSM_WIRE_DATA, 0 },
	[VHSM_TAG_JSON] = { true, VHSM_WIRE_TEXT, 0 },
	[VHSM_TAG_NONCE] = { true, VHSM_WIRE_DATA, WIRE_NONCE_MAX },
	[VHSM_TAG_REPORT] = { true, VHSM_WIRE_DATA, 0 },
	[VHSM_TAG_CERTS] = { true, VHSM_WIRE_DATA, 0 },
	[VHSM_TAG_FLAGS] = { true, VHSM_WIRE_U64, 0 },
	[VHSM_TAG_DAYS] = { true, VHSM_WIRE_U32, 0 },
	[VHSM_TAG_PROFILE] = { true, VHSM_WIRE_STRING, 0 },
	[VHSM_TAG_UID] = { true, VHSM_WIRE_U32, 0 },
	[VHSM_TAG_GID] = { true, VHSM_WIRE_U32, 0 },
	[VHSM_TAG_KEYRING] = { true, VHSM_WIRE_I32, 0 },
	[VHSM_TAG_TIMEOUT] = { true, VHSM_WIRE_U32, 0 },
	[VHSM_TAG_SIZE] = { true, VHSM_WIRE_U32, 0 },
	[VHSM_TAG_ACL] = { true, VHSM_WIRE_TEXT, 0 },
	[VHSM_TAG_KEK] = { true, VHSM_WIRE_STRING, 0 },
	[VHSM_TAG_SERIAL] = { true, VHSM_WIRE_I32, 0 },
	[VHSM_TAG_PUBKEY] = { true, VHSM_WIRE_DATA, 0 },
	[VHSM_TAG_TOKEN] = { true, VHSM_WIRE_DATA, 0 },
	[VHSM_TAG_VOLUME] = { true, VHSM_WIRE_STRING, 0 },
	[VHSM_TAG_BUSY] = { true, VHSM_WIRE_U32, 0 },
	[VHSM_TAG_SEALED_KEK] = { true, VHSM_WIRE_DATA, 0 },
	[VHSM_TAG_WRAPPED_SECRET] = { true, VHSM_WIRE_DATA, 0 },
	[VHSM_TAG_POLICY_DIGEST] = { true, VHSM_WIRE_DATA, 0 },
	[VHSM_TAG_UUID] = { true, VHSM_WIRE_STRING, 0 },
	[VHSM_TAG_KID] = { true, VHSM_WIRE_STRING, 0 },
	[VHSM_TAG_BYOK] = { true, VHSM_WIRE_TEXT, 0 },
	[VHSM_TAG_BATCH] = { true, VHSM_WIRE_DATA, 0 },
	[VHSM_TAG_KEY_ALG] = { true, VHSM_WIRE_STRING, 0 },
	[VHSM_TAG_KEY_ID] = { true, VHSM_WIRE_DATA, WIRE_KEY_ID_MAX },
	[VHSM_TAG_CERT] = { true, VHSM_WIRE_DATA, WIRE_CERT_MAX },
	[VHSM_TAG_MECH] = { true, VHSM_WIRE_U32, 0 },
	[VHSM_TAG_MECH_PARAM] = { true, VHSM_WIRE_DATA, WIRE_MECH_PARAM_MAX },
	[VHSM_TAG_CSR] = { true, VHSM_WIRE_DATA, WIRE_CSR_MAX },
	[VHSM_TAG_EXPIRES] = { true, VHSM_WIRE_U64, 0 },
	[VHSM_TAG_CHAIN] = { true, VHSM_WIRE_DATA, WIRE_PEM_MAX },
	[VHSM_TAG_CA] = { true, VHSM_WIRE_DATA, WIRE_PEM_MAX },
	[VHSM_TAG_ENDPOINT] = { true, VHSM_WIRE_STRING, 0 },
	[VHSM_TAG_GCM_IV] = { true, VHSM_WIRE_DATA, WIRE_GCM_IV_MAX },
};

enum vhsm_wire_type vhsm_wire_tag_type(uint16_t tag)
{
	if (tag >= _VHSM_TAG_MAX || !tag_table[tag].known)
		return _VHSM_WIRE_TYPE_INVALID;
	return tag_table[tag].type;
}

static uint16_t le16_get(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void le16_put(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* Bytes of zero padding after a value of n bytes. */
static size_t wire_padding(size_t n)
{
	return (4 - (n & 3)) & 3;
}

/*
 * Checks a value of n bytes for tag against its type: -EBADMSG for a wrong fixed size, an
 * empty or invalid STRING or a NUL in TEXT, -EMSGSIZE over the length limit.
 */
static int wire_value_check(uint16_t tag, const uint8_t *v, size_t n)
{
	switch (vhsm_wire_tag_type(tag)) {
	case VHSM_WIRE_U32:
	case VHSM_WIRE_I32:
		return n == 4 ? 0 : -EBADMSG;
	case VHSM_WIRE_U64:
		return n == 8 ? 0 : -EBADMSG;
	case VHSM_WIRE_STRING:
		if (n == 0)
			return -EBADMSG;
		if (n > VHSM_WIRE_MAX_STRING)
			return -EMSGSIZE;
		/* Names end up in file names, log lines and terminals: see text.h. */
		return text_name_valid(v, n, VHSM_WIRE_MAX_STRING) ? 0 : -EBADMSG;
	case VHSM_WIRE_TEXT:
		if (n > VHSM_WIRE_MAX_TEXT)
			return -EMSGSIZE;
		return n == 0 || !memchr(v, 0, n) ? 0 : -EBADMSG;
	case VHSM_WIRE_DATA:
		if (n > (tag_table[tag].max ? tag_table[tag].max : VHSM_WIRE_MAX_DATA))
			return -EMSGSIZE;
		return 0;
	default:
		return -EBADMSG;
	}
}

/* Decodes the field at *off (< len) and advances *off past its padding. */
static int wire_decode_field(const uint8_t *buf, size_t len, size_t *off,
			     struct vhsm_wire_field *ret)
{
	const uint8_t *p = buf + *off;
	size_t left = len - *off, pad;
	uint16_t tag;
	uint32_t n;
	int r;

	if (left < VHSM_WIRE_FIELD_HEADER_SIZE)
		return -EBADMSG;
	tag = le16_get(p);
	n = le32_get(p + 4);
	if (le16_get(p + 2) != 0)
		return -EBADMSG;
	if (vhsm_wire_tag_type(tag) < 0)
		return -EBADMSG;
	left -= VHSM_WIRE_FIELD_HEADER_SIZE;
	p += VHSM_WIRE_FIELD_HEADER_SIZE;
	/* Compare against what is left instead of adding to the offset: no overflow. */
	if (n > left)
		return -EBADMSG;
	pad = wire_padding(n);
	if (pad > left - n || !mem_is_zero(p + n, pad))
		return -EBADMSG;
	r = wire_value_check(tag, p, n);
	if (r < 0)
		return r;
	*ret = (struct vhsm_wire_field){ .tag = tag, .len = n, .value = p };
	*off += VHSM_WIRE_FIELD_HEADER_SIZE + n + pad;
	return 0;
}

static int wire_decode_header(const uint8_t *buf, size_t len, struct vhsm_wire_msg *m)
{
	if (len < VHSM_WIRE_HEADER_SIZE)
		return -EBADMSG;
	if (len > VHSM_WIRE_MAX_MESSAGE)
		return -EMSGSIZE;
	if (le32_get(buf) != VHSM_WIRE_MAGIC)
		return -EBADMSG;
	if (le16_get(buf + 4) != VHSM_WIRE_VERSION)
		return -EPROTONOSUPPORT;
	if (le32_get(buf + 12) != len)
		return -EBADMSG;
	m->op = le16_get(buf + 6);
	m->id = le32_get(buf + 8);
	/* 0x8000 (a reply to a request whose op could not be read) is fine; 0 is not. */
	if (m->op == 0)
		return -EBADMSG;
	return 0;
}

int vhsm_wire_decode(const uint8_t *buf, size_t len, struct vhsm_wire_msg *ret)
{
	struct vhsm_wire_msg m = {};
	uint64_t seen[2] = {};
	size_t off = VHSM_WIRE_HEADER_SIZE;
	int r;

	r = wire_decode_header(buf, len, &m);
	if (r < 0)
		return r;
	while (off < len) {
		/* The field count limit comes first so that it is reachable at all: 64 fields
		 * without a duplicate cannot exist with today's tags. */
		if (m.n_fields >= VHSM_WIRE_MAX_FIELDS)
			return -EMSGSIZE;
		r = wire_decode_field(buf, len, &off, &m.fields[m.n_fields]);
		if (r < 0)
			return r;
		m.n_fields++;
	}
	for (size_t i = 0; i < m.n_fields; i++) {
		uint16_t t = m.fields[i].tag; /* < _VHSM_TAG_MAX <= 128: decode checked it */
		uint64_t bit = UINT64_C(1) << (t % 64u);

		if (seen[t / 64u] & bit)
			return -EBADMSG;
		seen[t / 64u] |= bit;
	}
	*ret = m;
	return 0;
}

const struct vhsm_wire_field *vhsm_wire_get(const struct vhsm_wire_msg *m, uint16_t tag)
{
	size_t n = m->n_fields < VHSM_WIRE_MAX_FIELDS ? m->n_fields : VHSM_WIRE_MAX_FIELDS;

	for (size_t i = 0; i < n; i++)
		if (m->fields[i].tag == tag)
			return &m->fields[i];
	return NULL;
}

/* The value of a fixed-size field; the tag's type is checked even when the field is absent. */
static int wire_get_fixed(const struct vhsm_wire_msg *m, uint16_t tag, enum vhsm_wire_type type,
			  uint32_t size, const uint8_t **ret)
{
	const struct vhsm_wire_field *f;

	if (vhsm_wire_tag_type(tag) != type)
		return -EBADMSG;
	f = vhsm_wire_get(m, tag);
	if (!f)
		return -ENOENT;
	if (f->len != size || !f->value)
		return -EBADMSG;
	*ret = f->value;
	return 0;
}

int vhsm_wire_get_u32(const struct vhsm_wire_msg *m, uint16_t tag, uint32_t *ret)
{
	const uint8_t *v;
	int r = wire_get_fixed(m, tag, VHSM_WIRE_U32, 4, &v);

	if (r < 0)
		return r;
	*ret = le32_get(v);
	return 0;
}

int vhsm_wire_get_u64(const struct vhsm_wire_msg *m, uint16_t tag, uint64_t *ret)
{
	const uint8_t *v;
	int r = wire_get_fixed(m, tag, VHSM_WIRE_U64, 8, &v);

	if (r < 0)
		return r;
	*ret = le64_get(v);
	return 0;
}

int vhsm_wire_get_i32(const struct vhsm_wire_msg *m, uint16_t tag, int32_t *ret)
{
	const uint8_t *v;
	int r = wire_get_fixed(m, tag, VHSM_WIRE_I32, 4, &v);

	if (r < 0)
		return r;
	*ret = (int32_t)le32_get(v); /* two's complement, as gcc and clang define it */
	return 0;
}

int vhsm_wire_get_str(const struct vhsm_wire_msg *m, uint16_t tag, char *out, size_t outlen)
{
	enum vhsm_wire_type t = vhsm_wire_tag_type(tag);
	const struct vhsm_wire_field *f;

	if (t != VHSM_WIRE_STRING && t != VHSM_WIRE_TEXT)
		return -EBADMSG;
	f = vhsm_wire_get(m, tag);
	if (!f)
		return -ENOENT;
	if (f->len > 0 && (!f->value || memchr(f->value, 0, f->len)))
		return -EBADMSG;
	if (f->len >= outlen)
		return -EMSGSIZE;
	if (f->len > 0)
		memcpy(out, f->value, f->len);
	out[f->len] = 0;
	return 0;
}

/* Records the first error and wipes what was written: it may hold key material, and a
 * zeroed buffer can never pass for a message. */
static void wire_builder_fail(struct vhsm_wire_builder *b, int r)
{
	if (b->buf && b->len > 0)
		explicit_bzero(b->buf, b->len);
	b->len = 0;
	b->error = r;
}

void vhsm_wire_begin(struct vhsm_wire_builder *b, uint8_t *buf, size_t cap, uint16_t op,
		     uint32_t id)
{
	*b = (struct vhsm_wire_builder){ .buf = buf, .cap = cap };
	if (!buf || op == 0) {
		b->error = -EINVAL;
		return;
	}
	if (cap < VHSM_WIRE_HEADER_SIZE) {
		b->error = -ENOBUFS;
		return;
	}
	le32_put(buf, VHSM_WIRE_MAGIC);
	le16_put(buf + 4, VHSM_WIRE_VERSION);
	le16_put(buf + 6, op);
	le32_put(buf + 8, id);
	le32_put(buf + 12, 0); /* patched by finish; 0 never decodes */
	b->len = VHSM_WIRE_HEADER_SIZE;
}

/* Whether tag was already written (the fields in buf are our own, hence well-formed). */
static bool wire_builder_has(const struct vhsm_wire_builder *b, uint16_t tag)
{
	size_t off = VHSM_WIRE_HEADER_SIZE;

	while (off + VHSM_WIRE_FIELD_HEADER_SIZE <= b->len) {
		uint32_t n = le32_get(b->buf + off + 4);

		if (le16_get(b->buf + off) == tag)
			return true;
		off += VHSM_WIRE_FIELD_HEADER_SIZE + n + wire_padding(n);
	}
	return false;
}

static int wire_builder_put(struct vhsm_wire_builder *b, uint16_t tag, const void *p, size_t n)
{
	size_t need;
	uint8_t *w;
	int r;

	if (n > 0 && !p)
		return -EINVAL;
	if (b->n_fields >= VHSM_WIRE_MAX_FIELDS)
		return -EMSGSIZE;
	if (wire_builder_has(b, tag))
		return -EINVAL;
	r = wire_value_check(tag, p, n);
	if (r < 0) /* the caller passed a bad value (EINVAL) or one over a limit (EMSGSIZE) */
		return r == -EBADMSG ? -EINVAL : r;
	/* n <= VHSM_WIRE_MAX_TEXT now, and b->len <= min(cap, MAX_MESSAGE): no overflow. */
	need = VHSM_WIRE_FIELD_HEADER_SIZE + n + wire_padding(n);
	if (need > VHSM_WIRE_MAX_MESSAGE - b->len)
		return -EMSGSIZE;
	if (need > b->cap - b->len)
		return -ENOBUFS;
	w = b->buf + b->len;
	le16_put(w, tag);
	le16_put(w + 2, 0);
	le32_put(w + 4, (uint32_t)n);
	if (n > 0)
		memcpy(w + VHSM_WIRE_FIELD_HEADER_SIZE, p, n);
	memset(w + VHSM_WIRE_FIELD_HEADER_SIZE + n, 0, wire_padding(n));
	b->len += need;
	b->n_fields++;
	return 0;
}

/* Adds a field after checking that tag has one of the types the caller's function writes. */
static void wire_builder_add(struct vhsm_wire_builder *b, uint16_t tag, unsigned type_mask,
			     const void *p, size_t n)
{
	enum vhsm_wire_type t = vhsm_wire_tag_type(tag);
	int r;

	if (b->error)
		return;
	if (!b->buf || b->len < VHSM_WIRE_HEADER_SIZE || b->len > b->cap)
		r = -EINVAL; /* not begun */
	else if (t < 0 || !(type_mask & 1u << t))
		r = -EINVAL;
	else
		r = wire_builder_put(b, tag, p, n);
	if (r < 0)
		wire_builder_fail(b, r);
}

void vhsm_wire_add_u32(struct vhsm_wire_builder *b, uint16_t tag, uint32_t v)
{
	uint8_t w[4];

	le32_put(w, v);
	wire_builder_add(b, tag, 1u << VHSM_WIRE_U32, w, sizeof(w));
}

void vhsm_wire_add_u64(struct vhsm_wire_builder *b, uint16_t tag, uint64_t v)
{
	uint8_t w[8];

	le64_put(w, v);
	wire_builder_add(b, tag, 1u << VHSM_WIRE_U64, w, sizeof(w));
}

void vhsm_wire_add_i32(struct vhsm_wire_builder *b, uint16_t tag, int32_t v)
{
	uint8_t w[4];

	le32_put(w, (uint32_t)v);
	wire_builder_add(b, tag, 1u << VHSM_WIRE_I32, w, sizeof(w));
}

void vhsm_wire_add_str(struct vhsm_wire_builder *b, uint16_t tag, const char *s)
{
	if (!s) {
		if (!b->error)
			wire_builder_fail(b, -EINVAL);
		return;
	}
	/* Bounded: one byte over the largest limit is enough to report EMSGSIZE. */
	wire_builder_add(b, tag, 1u << VHSM_WIRE_STRING | 1u << VHSM_WIRE_TEXT, s,
			 strnlen(s, VHSM_WIRE_MAX_TEXT + 1));
}

void vhsm_wire_add_data(struct vhsm_wire_builder *b, uint16_t tag, const void *p, size_t n)
{
	/* STRING and TEXT too, for values that are not NUL-terminated (views of a decoded
	 * message); their content rules apply all the same. */
	const unsigned types = 1u << VHSM_WIRE_STRING | 1u << VHSM_WIRE_TEXT | 1u << VHSM_WIRE_DATA;

	wire_builder_add(b, tag, types, p, n);
}

int vhsm_wire_finish(struct vhsm_wire_builder *b)
{
	if (b->error)
		return b->error;
	if (!b->buf || b->len < VHSM_WIRE_HEADER_SIZE || b->len > b->cap)
		return -EINVAL;
	le32_put(b->buf + 12, (uint32_t)b->len);
	return (int)b->len;
}

/* ---- UNWRAP_BATCH items ---- */

static int batch_put(uint8_t *buf, size_t cap, size_t *off, const uint8_t *a, size_t a_len,
		     size_t len_bytes, const uint8_t *b, size_t b_len)
{
	size_t need = len_bytes + a_len + (b ? 2 + b_len : 0);

	if (!buf || !off || *off > cap || (!a && a_len > 0) || a_len > UINT16_MAX ||
	    b_len > UINT16_MAX)
		return -EINVAL;
	if (need > cap - *off)
		return -EMSGSIZE;
	return 0;
}

int vhsm_batch_put_request(uint8_t *buf, size_t cap, size_t *off, const uint8_t *blob,
			   size_t blob_len, const uint8_t *ctx, size_t ctx_len)
{
	static const uint8_t empty[1];
	int r;

	if (!blob || blob_len == 0 || (!ctx && ctx_len > 0))
		return -EINVAL;
	r = batch_put(buf, cap, off, blob, blob_len, 2, ctx ? ctx : empty, ctx_len);
	if (r < 0)
		return r;
	le16_put(buf + *off, (uint16_t)blob_len);
	memcpy(buf + *off + 2, blob, blob_len);
	*off += 2 + blob_len;
	le16_put(buf + *off, (uint16_t)ctx_len);
	if (ctx_len)
		memcpy(buf + *off + 2, ctx, ctx_len);
	*off += 2 + ctx_len;
	return 0;
}

int vhsm_batch_put_reply(uint8_t *buf, size_t cap, size_t *off, int err, const uint8_t *pt,
			 size_t len)
{
	int r;

	if (err > 0 || (err < 0 && len > 0))
		return -EINVAL;
	r = batch_put(buf, cap, off, pt, len, 6, NULL, 0);
	if (r < 0)
		return r;
	le32_put(buf + *off, (uint32_t)-err);
	le16_put(buf + *off + 4, (uint16_t)len);
	if (len)
		memcpy(buf + *off + 6, pt, len);
	*off += 6 + len;
	return 0;
}

/* A le16 length and that many bytes at the cursor; -EBADMSG when they are not all there. */
static int batch_take16(struct vhsm_batch_cursor *c, const uint8_t **ret, size_t *ret_len)
{
	size_t n;

	if (c->left < 2)
		return -EBADMSG;
	n = le16_get(c->p);
	if (n > c->left - 2)
		return -EBADMSG;
	*ret = c->p + 2;
	*ret_len = n;
	c->p += 2 + n;
	c->left -= 2 + n;
	return 0;
}

int vhsm_batch_next_request(struct vhsm_batch_cursor *c, const uint8_t **ret_blob,
			    size_t *ret_blob_len, const uint8_t **ret_ctx, size_t *ret_ctx_len)
{
	const uint8_t *blob, *ctx;
	size_t blob_len, ctx_len;

	if (c->left == 0)
		return 0;
	if (batch_take16(c, &blob, &blob_len) < 0 || blob_len == 0 ||
	    batch_take16(c, &ctx, &ctx_len) < 0)
		return -EBADMSG;
	*ret_blob = blob;
	*ret_blob_len = blob_len;
	*ret_ctx = ctx;
	*ret_ctx_len = ctx_len;
	return 1;
}

int vhsm_batch_next_reply(struct vhsm_batch_cursor *c, int *ret_err, const uint8_t **ret_pt,
			  size_t *ret_len)
{
	const uint8_t *pt;
	uint32_t e;
	size_t len;

	if (c->left == 0)
		return 0;
	if (c->left < 4)
		return -EBADMSG;
	e = le32_get(c->p);
	if (e > 4095)
		return -EBADMSG;
	c->p += 4;
	c->left -= 4;
	if (batch_take16(c, &pt, &len) < 0 || (e != 0 && len != 0))
		return -EBADMSG;
	*ret_err = -(int)e;
	*ret_pt = pt;
	*ret_len = len;
	return 1;
}
