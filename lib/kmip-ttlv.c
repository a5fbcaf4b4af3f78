/* SPDX-License-Identifier: Apache-2.0 */
/* KMIP TTLV codec: strict bounded parser and sticky-error writer (kmip-ttlv.h). */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "kmip-ttlv.h"
#include "text.h"

static uint32_t be32_get(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t be64_get(const uint8_t *p)
{
	return (uint64_t)be32_get(p) << 32 | be32_get(p + 4);
}

static void be32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void be64_put(uint8_t *p, uint64_t v)
{
	be32_put(p, (uint32_t)(v >> 32));
	be32_put(p + 4, (uint32_t)v);
}

static size_t padded(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

static bool tag_valid(uint32_t tag)
{
	return (tag >> 16) == 0x42 || (tag >> 16) == 0x54;
}

static bool text_valid(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t k = text_utf8_decode(s + i, n - i, NULL);

		if (k == 0 || s[i] == 0)
			return false;
		i += k;
	}
	return true;
}

/* The value length a fixed-size type must have, or 0 for the variable-length types. */
static uint32_t fixed_len(enum kmip_type type)
{
	switch (type) {
	case KMIP_TYPE_INTEGER:
	case KMIP_TYPE_ENUMERATION:
	case KMIP_TYPE_INTERVAL:
		return 4;
	case KMIP_TYPE_LONG_INTEGER:
	case KMIP_TYPE_BOOLEAN:
	case KMIP_TYPE_DATE_TIME:
		return 8;
	default:
		return 0;
	}
}

static bool value_valid(enum kmip_type type, const uint8_t *v, uint32_t len)
{
	switch (type) {
	case KMIP_TYPE_INTEGER:
	case KMIP_TYPE_ENUMERATION:
	case KMIP_TYPE_INTERVAL:
	case KMIP_TYPE_LONG_INTEGER:
	case KMIP_TYPE_DATE_TIME:
		return len == fixed_len(type);
	case KMIP_TYPE_BOOLEAN:
		return len == 8 && be64_get(v) <= 1;
	case KMIP_TYPE_BIG_INTEGER:
		return len > 0 && len % 8 == 0;
	case KMIP_TYPE_TEXT_STRING:
		return text_valid(v, len);
	case KMIP_TYPE_BYTE_STRING:
	case KMIP_TYPE_STRUCTURE:
		return true;
	default:
		return false;
	}
}

struct parse_state {
	size_t n_items;
};

/* Reads the item header at p[0..left) into *ret without checking the value. */
static int read_header(const uint8_t *p, size_t left, struct kmip_item *ret, size_t *ret_size)
{
	uint32_t tag, len;
	uint8_t type;
	size_t size;

	if (left < KMIP_TTLV_HEADER_SIZE)
		return -EBADMSG;
	tag = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
	type = p[3];
	len = be32_get(p + 4);
	if (!tag_valid(tag) || type < KMIP_TYPE_STRUCTURE || type > KMIP_TYPE_INTERVAL)
		return -EBADMSG;
	if (len > KMIP_TTLV_MAX_MESSAGE)
		return -EMSGSIZE;
	size = KMIP_TTLV_HEADER_SIZE + padded(len);
	if (size > left)
		return -EBADMSG;
	*ret = (struct kmip_item){ .tag = tag, .type = type, .len = len, .value = p + 8 };
	*ret_size = size;
	return 0;
}

static int parse_item(struct parse_state *st, const uint8_t *p, size_t left, unsigned depth,
		      struct kmip_item *ret, size_t *ret_size);

static int parse_children(struct parse_state *st, const struct kmip_item *s, unsigned depth)
{
	const uint8_t *p = s->value;
	size_t left = s->len;

	if (depth > KMIP_TTLV_MAX_DEPTH)
		return -EMSGSIZE;
	if (left % 8 != 0)
		return -EBADMSG;
	while (left > 0) {
		struct kmip_item child;
		size_t size;
		int r = parse_item(st, p, left, depth + 1, &child, &size);

		if (r < 0)
			return r;
		p += size;
		left -= size;
	}
	return 0;
}

static int parse_item(struct parse_state *st, const uint8_t *p, size_t left, unsigned depth,
		      struct kmip_item *ret, size_t *ret_size)
{
	struct kmip_item it;
	size_t size;
	int r;

	if (++st->n_items > KMIP_TTLV_MAX_ITEMS)
		return -EMSGSIZE;
	r = read_header(p, left, &it, &size);
	if (r < 0)
		return r;
	if (!value_valid(it.type, it.value, it.len))
		return -EBADMSG;
	for (size_t i = KMIP_TTLV_HEADER_SIZE + it.len; i < size; i++)
		if (p[i] != 0)
			return -EBADMSG;
	if (it.type == KMIP_TYPE_STRUCTURE) {
		r = parse_children(st, &it, depth);
		if (r < 0)
			return r;
	}
	*ret = it;
	*ret_size = size;
	return 0;
}

int kmip_ttlv_parse(const uint8_t *buf, size_t len, struct kmip_item *ret)
{
	struct parse_state st = {};
	struct kmip_item it;
	size_t size;
	int r;

	if (len > KMIP_TTLV_MAX_MESSAGE + KMIP_TTLV_HEADER_SIZE)
		return -EMSGSIZE;
	r = parse_item(&st, buf, len, 1, &it, &size);
	if (r < 0)
		return r;
	if (size != len)
		return -EBADMSG;
	*ret = it;
	return 0;
}

void kmip_iter_init(struct kmip_iter *it, const struct kmip_item *s)
{
	assert(s->type == KMIP_TYPE_STRUCTURE);
	it->p = s->value;
	it->end = s->value + s->len;
}

int kmip_iter_next(struct kmip_iter *it, struct kmip_item *ret)
{
	struct kmip_item item;
	size_t size;

	/* The structure was validated by kmip_ttlv_parse(); the header is re-read with bounds. */
	if (it->p >= it->end || read_header(it->p, (size_t)(it->end - it->p), &item, &size) < 0)
		return 0;
	it->p += size;
	*ret = item;
	return 1;
}

int kmip_find(const struct kmip_item *s, uint32_t tag, enum kmip_type type, struct kmip_item *ret)
{
	struct kmip_iter it;
	struct kmip_item item;

	if (s->type != KMIP_TYPE_STRUCTURE)
		return -EBADMSG;
	kmip_iter_init(&it, s);
	while (kmip_iter_next(&it, &item))
		if (item.tag == tag) {
			if (item.type != type)
				return -EBADMSG;
			*ret = item;
			return 0;
		}
	return -ENOENT;
}

size_t kmip_count(const struct kmip_item *s, uint32_t tag)
{
	struct kmip_iter it;
	struct kmip_item item;
	size_t n = 0;

	if (s->type != KMIP_TYPE_STRUCTURE)
		return 0;
	kmip_iter_init(&it, s);
	while (kmip_iter_next(&it, &item))
		n += item.tag == tag;
	return n;
}

int kmip_item_int(const struct kmip_item *it, int32_t *ret)
{
	if (it->type != KMIP_TYPE_INTEGER || it->len != 4)
		return -EBADMSG;
	*ret = (int32_t)be32_get(it->value);
	return 0;
}

int kmip_item_long(const struct kmip_item *it, int64_t *ret)
{
	if ((it->type != KMIP_TYPE_LONG_INTEGER && it->type != KMIP_TYPE_DATE_TIME) || it->len != 8)
		return -EBADMSG;
	*ret = (int64_t)be64_get(it->value);
	return 0;
}

int kmip_item_enum(const struct kmip_item *it, uint32_t *ret)
{
	if ((it->type != KMIP_TYPE_ENUMERATION && it->type != KMIP_TYPE_INTERVAL) || it->len != 4)
		return -EBADMSG;
	*ret = be32_get(it->value);
	return 0;
}

int kmip_get_int(const struct kmip_item *s, uint32_t tag, int32_t *ret)
{
	struct kmip_item it;
	int r = kmip_find(s, tag, KMIP_TYPE_INTEGER, &it);

	return r < 0 ? r : kmip_item_int(&it, ret);
}

int kmip_get_long(const struct kmip_item *s, uint32_t tag, int64_t *ret)
{
	struct kmip_item it;
	int r = kmip_find(s, tag, KMIP_TYPE_LONG_INTEGER, &it);

	return r < 0 ? r : kmip_item_long(&it, ret);
}

int kmip_get_datetime(const struct kmip_item *s, uint32_t tag, int64_t *ret)
{
	struct kmip_item it;
	int r = kmip_find(s, tag, KMIP_TYPE_DATE_TIME, &it);

	return r < 0 ? r : kmip_item_long(&it, ret);
}

int kmip_get_enum(const struct kmip_item *s, uint32_t tag, uint32_t *ret)
{
	struct kmip_item it;
	int r = kmip_find(s, tag, KMIP_TYPE_ENUMERATION, &it);

	return r < 0 ? r : kmip_item_enum(&it, ret);
}

int kmip_get_interval(const struct kmip_item *s, uint32_t tag, uint32_t *ret)
{
	struct kmip_item it;
	int r = kmip_find(s, tag, KMIP_TYPE_INTERVAL, &it);

	return r < 0 ? r : kmip_item_enum(&it, ret);
}

int kmip_get_bool(const struct kmip_item *s, uint32_t tag, bool *ret)
{
	struct kmip_item it;
	int r = kmip_find(s, tag, KMIP_TYPE_BOOLEAN, &it);

	if (r < 0)
		return r;
	*ret = be64_get(it.value) != 0;
	return 0;
}

int kmip_get_text(const struct kmip_item *s, uint32_t tag, char *out, size_t outlen)
{
	struct kmip_item it;
	int r = kmip_find(s, tag, KMIP_TYPE_TEXT_STRING, &it);

	if (r < 0)
		return r;
	if (it.len >= outlen)
		return -EMSGSIZE;
	memcpy(out, it.value, it.len);
	out[it.len] = 0;
	return 0;
}

int kmip_get_bytes(const struct kmip_item *s, uint32_t tag, const uint8_t **ret, size_t *ret_len)
{
	struct kmip_item it;
	int r = kmip_find(s, tag, KMIP_TYPE_BYTE_STRING, &it);

	if (r < 0)
		return r;
	*ret = it.value;
	*ret_len = it.len;
	return 0;
}

/* ---- writer ---- */

void kmip_writer_init(struct kmip_writer *w, uint8_t *buf, size_t cap)
{
	*w = (struct kmip_writer){ .buf = buf, .cap = cap };
}

static void put_fail(struct kmip_writer *w, int err)
{
	if (w->error == 0)
		w->error = err;
}

/* Appends a header and len value bytes (copied from v, or zero when v is NULL), zero-padded. */
static void put_item(struct kmip_writer *w, uint32_t tag, enum kmip_type type, const void *v,
		     size_t len)
{
	size_t size = KMIP_TTLV_HEADER_SIZE + padded(len);
	uint8_t *p;

	if (w->error)
		return;
	if (!tag_valid(tag) || tag > 0xFFFFFF)
		return put_fail(w, -EINVAL);
	if (len > KMIP_TTLV_MAX_MESSAGE || ++w->n_items > KMIP_TTLV_MAX_ITEMS)
		return put_fail(w, -EMSGSIZE);
	if (size > w->cap - w->len)
		return put_fail(w, -ENOBUFS);
	p = w->buf + w->len;
	p[0] = (uint8_t)(tag >> 16);
	p[1] = (uint8_t)(tag >> 8);
	p[2] = (uint8_t)tag;
	p[3] = (uint8_t)type;
	be32_put(p + 4, (uint32_t)len);
	memset(p + 8, 0, padded(len));
	if (v && len)
		memcpy(p + 8, v, len);
	w->len += size;
}

void kmip_put_begin(struct kmip_writer *w, uint32_t tag)
{
	size_t at = w->len;

	if (w->error)
		return;
	if (w->depth >= KMIP_TTLV_MAX_DEPTH)
		return put_fail(w, -EMSGSIZE);
	put_item(w, tag, KMIP_TYPE_STRUCTURE, NULL, 0);
	if (!w->error)
		w->open[w->depth++] = at;
}

void kmip_put_end(struct kmip_writer *w)
{
	size_t at, len;

	if (w->error)
		return;
	if (w->depth == 0)
		return put_fail(w, -EINVAL);
	at = w->open[--w->depth];
	len = w->len - at - KMIP_TTLV_HEADER_SIZE;
	if (len > KMIP_TTLV_MAX_MESSAGE)
		return put_fail(w, -EMSGSIZE);
	be32_put(w->buf + at + 4, (uint32_t)len);
}

void kmip_put_int(struct kmip_writer *w, uint32_t tag, int32_t v)
{
	uint8_t b[4];

	be32_put(b, (uint32_t)v);
	put_item(w, tag, KMIP_TYPE_INTEGER, b, sizeof(b));
}

void kmip_put_long(struct kmip_writer *w, uint32_t tag, int64_t v)
{
	uint8_t b[8];

	be64_put(b, (uint64_t)v);
	put_item(w, tag, KMIP_TYPE_LONG_INTEGER, b, sizeof(b));
}

void kmip_put_big(struct kmip_writer *w, uint32_t tag, const void *p, size_t n)
{
	if (n == 0 || n % 8 != 0)
		return put_fail(w, -EINVAL);
	put_item(w, tag, KMIP_TYPE_BIG_INTEGER, p, n);
}

void kmip_put_enum(struct kmip_writer *w, uint32_t tag, uint32_t v)
{
	uint8_t b[4];

	be32_put(b, v);
	put_item(w, tag, KMIP_TYPE_ENUMERATION, b, sizeof(b));
}

void kmip_put_bool(struct kmip_writer *w, uint32_t tag, bool v)
{
	uint8_t b[8] = { [7] = v ? 1 : 0 };

	put_item(w, tag, KMIP_TYPE_BOOLEAN, b, sizeof(b));
}

void kmip_put_text(struct kmip_writer *w, uint32_t tag, const char *s, size_t n)
{
	if (!text_valid((const uint8_t *)s, n))
		return put_fail(w, -EINVAL);
	put_item(w, tag, KMIP_TYPE_TEXT_STRING, s, n);
}

void kmip_put_bytes(struct kmip_writer *w, uint32_t tag, const void *p, size_t n)
{
	put_item(w, tag, KMIP_TYPE_BYTE_STRING, p, n);
}

void kmip_put_datetime(struct kmip_writer *w, uint32_t tag, int64_t t)
{
	uint8_t b[8];

	be64_put(b, (uint64_t)t);
	put_item(w, tag, KMIP_TYPE_DATE_TIME, b, sizeof(b));
}

void kmip_put_interval(struct kmip_writer *w, uint32_t tag, uint32_t v)
{
	uint8_t b[4];

	be32_put(b, v);
	put_item(w, tag, KMIP_TYPE_INTERVAL, b, sizeof(b));
}

int kmip_writer_finish(struct kmip_writer *w)
{
	if (w->error)
		return w->error;
	if (w->depth != 0 || w->len == 0)
		return -EINVAL;
	if (w->len > KMIP_TTLV_MAX_MESSAGE + KMIP_TTLV_HEADER_SIZE)
		return -EMSGSIZE;
	return (int)w->len;
}
