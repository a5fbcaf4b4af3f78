/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KMIP TTLV codec (KMIP 1.x specification, section 9.1): every item is a 3-byte tag, a 1-byte
 * type, a 4-byte big-endian length of the value, then the value padded with zero bytes to a
 * multiple of 8. A Structure's value is a sequence of items.
 *
 * The parser is a pure function over untrusted bytes (a key manager's reply, fuzzed): it
 * accepts only canonical encodings (the fixed lengths of the fixed-size types, zero padding,
 * Boolean 0 or 1, Big Integer lengths in multiples of 8, well-formed UTF-8 without NUL in
 * Text Strings, tags in the standard 0x42xxxx or extension 0x54xxxx ranges) and refuses
 * nesting, item counts and sizes over the limits below. Items point into the parsed buffer;
 * nothing is allocated. Library code; never logs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define KMIP_TTLV_HEADER_SIZE 8
#define KMIP_TTLV_MAX_DEPTH 16      /* structures nested in one message, the outermost counted */
#define KMIP_TTLV_MAX_ITEMS 4096    /* items in one message */
#define KMIP_TTLV_MAX_MESSAGE 65536 /* bytes in one message (responses vhsm asks for are small) */

enum kmip_type {
	KMIP_TYPE_STRUCTURE = 0x01,
	KMIP_TYPE_INTEGER = 0x02,
	KMIP_TYPE_LONG_INTEGER = 0x03,
	KMIP_TYPE_BIG_INTEGER = 0x04,
	KMIP_TYPE_ENUMERATION = 0x05,
	KMIP_TYPE_BOOLEAN = 0x06,
	KMIP_TYPE_TEXT_STRING = 0x07,
	KMIP_TYPE_BYTE_STRING = 0x08,
	KMIP_TYPE_DATE_TIME = 0x09,
	KMIP_TYPE_INTERVAL = 0x0A,
};

/* One item; value points into the parsed buffer and holds len bytes (padding excluded). */
struct kmip_item {
	uint32_t tag;
	enum kmip_type type;
	uint32_t len;
	const uint8_t *value;
};

/*
 * Parses buf[0..len), which must hold exactly one item and nothing after it. Returns 0 and the
 * outermost item in *ret, -EBADMSG (malformed: truncated, bad tag or type, wrong length for the
 * type, non-zero padding, bad Boolean, bad UTF-8, lengths that do not add up) or -EMSGSIZE (a
 * limit above exceeded). *ret is set only on success.
 */
int kmip_ttlv_parse(const uint8_t *buf, size_t len, struct kmip_item *ret) _wur_;

/* Iteration over the items of a parsed Structure. */
struct kmip_iter {
	const uint8_t *p;
	const uint8_t *end;
};

/* Starts iterating s's items; s must be a Structure from kmip_ttlv_parse() (asserted). */
void kmip_iter_init(struct kmip_iter *it, const struct kmip_item *s);
/* Stores the next item in *ret and returns 1, or returns 0 at the end (*ret untouched). */
int kmip_iter_next(struct kmip_iter *it, struct kmip_item *ret);

/*
 * Finds the first item with tag in Structure s. Returns 0 and the item in *ret, -ENOENT when
 * there is none, or -EBADMSG when it is not of the given type (*ret untouched on failure).
 */
int kmip_find(const struct kmip_item *s, uint32_t tag, enum kmip_type type, struct kmip_item *ret);
/* Number of items with tag in Structure s. */
size_t kmip_count(const struct kmip_item *s, uint32_t tag);

/* Typed getters for the first item with tag in s: 0, -ENOENT or -EBADMSG (wrong type). */
int kmip_get_int(const struct kmip_item *s, uint32_t tag, int32_t *ret);
int kmip_get_long(const struct kmip_item *s, uint32_t tag, int64_t *ret);
int kmip_get_enum(const struct kmip_item *s, uint32_t tag, uint32_t *ret);
int kmip_get_bool(const struct kmip_item *s, uint32_t tag, bool *ret);
int kmip_get_datetime(const struct kmip_item *s, uint32_t tag, int64_t *ret);
int kmip_get_interval(const struct kmip_item *s, uint32_t tag, uint32_t *ret);
/* Copies a Text String into out with a terminating NUL; -EMSGSIZE if outlen is too small. */
int kmip_get_text(const struct kmip_item *s, uint32_t tag, char *out, size_t outlen);
/* Points *ret at a Byte String's bytes inside the parsed buffer. */
int kmip_get_bytes(const struct kmip_item *s, uint32_t tag, const uint8_t **ret, size_t *ret_len);

/* The value of a fixed-size item of the right type (no tag check); -EBADMSG for another type. */
int kmip_item_int(const struct kmip_item *it, int32_t *ret);
int kmip_item_long(const struct kmip_item *it, int64_t *ret);
int kmip_item_enum(const struct kmip_item *it, uint32_t *ret);

/*
 * Writer into caller-provided memory (secmem when a Byte String carries a key). Errors are
 * sticky: after the first failure every put is a no-op and kmip_writer_finish() returns it:
 * -ENOBUFS (buffer too small), -EMSGSIZE (over a limit above), -EINVAL (unbalanced
 * structures, a bad tag, a Big Integer length not a multiple of 8, text that is not UTF-8).
 */
struct kmip_writer {
	uint8_t *buf;
	size_t cap;
	size_t len;
	size_t open[KMIP_TTLV_MAX_DEPTH]; /* offsets of the open structures' headers */
	unsigned depth;
	size_t n_items;
	int error;
};

void kmip_writer_init(struct kmip_writer *w, uint8_t *buf, size_t cap);
void kmip_put_begin(struct kmip_writer *w, uint32_t tag); /* opens a Structure */
void kmip_put_end(struct kmip_writer *w);                 /* closes the innermost one */
void kmip_put_int(struct kmip_writer *w, uint32_t tag, int32_t v);
void kmip_put_long(struct kmip_writer *w, uint32_t tag, int64_t v);
void kmip_put_big(struct kmip_writer *w, uint32_t tag, const void *p, size_t n);
void kmip_put_enum(struct kmip_writer *w, uint32_t tag, uint32_t v);
void kmip_put_bool(struct kmip_writer *w, uint32_t tag, bool v);
void kmip_put_text(struct kmip_writer *w, uint32_t tag, const char *s, size_t n);
void kmip_put_bytes(struct kmip_writer *w, uint32_t tag, const void *p, size_t n);
void kmip_put_datetime(struct kmip_writer *w, uint32_t tag, int64_t t);
void kmip_put_interval(struct kmip_writer *w, uint32_t tag, uint32_t v);
/* Returns the encoded length (every structure closed) or the first error. */
int kmip_writer_finish(struct kmip_writer *w) _wur_;
