/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Wire codec for include/vhsm/wire.h: a bounded message builder and a strict decoder.
 * Decoding is a pure function over untrusted bytes (fuzzed): it validates the header, every
 * field's tag, type, length and padding, field count, duplicate tags, and that the lengths add
 * up exactly. Library code; never logs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "vhsm/wire.h"

enum vhsm_wire_type {
	VHSM_WIRE_U32,    /* 4 bytes */
	VHSM_WIRE_U64,    /* 8 bytes */
	VHSM_WIRE_I32,    /* 4 bytes, signed */
	VHSM_WIRE_STRING, /* 1..VHSM_WIRE_MAX_STRING bytes, printable UTF-8, no NUL, no '/' */
	VHSM_WIRE_TEXT,   /* 0..VHSM_WIRE_MAX_TEXT bytes, no NUL */
	VHSM_WIRE_DATA,   /* 0..VHSM_WIRE_MAX_DATA bytes, binary */
	_VHSM_WIRE_TYPE_MAX,
	_VHSM_WIRE_TYPE_INVALID = -EINVAL,
};

/* Type of a tag, or _VHSM_WIRE_TYPE_INVALID for an unknown tag. */
enum vhsm_wire_type vhsm_wire_tag_type(uint16_t tag);

/* A decoded field: value points into the decoded buffer. */
struct vhsm_wire_field {
	uint16_t tag;
	uint32_t len;
	const uint8_t *value;
};

struct vhsm_wire_msg {
	uint16_t op; /* including VHSM_OP_REPLY_FLAG for replies */
	uint32_t id;
	size_t n_fields;
	struct vhsm_wire_field fields[VHSM_WIRE_MAX_FIELDS];
};

/*
 * Decodes buf[0..len). Returns 0, -EBADMSG (malformed: bad magic, lengths, padding, unknown
 * tag, wrong type length, invalid string, duplicate tag), -EMSGSIZE (over a limit) or
 * -EPROTONOSUPPORT (other protocol version). *ret points into buf.
 */
int vhsm_wire_decode(const uint8_t *buf, size_t len, struct vhsm_wire_msg *ret) _wur_;

/* Field lookup helpers; return -ENOENT when absent, -EBADMSG on a type mismatch. */
const struct vhsm_wire_field *vhsm_wire_get(const struct vhsm_wire_msg *m, uint16_t tag);
int vhsm_wire_get_u32(const struct vhsm_wire_msg *m, uint16_t tag, uint32_t *ret);
int vhsm_wire_get_u64(const struct vhsm_wire_msg *m, uint16_t tag, uint64_t *ret);
int vhsm_wire_get_i32(const struct vhsm_wire_msg *m, uint16_t tag, int32_t *ret);
/* Copies a STRING/TEXT field into out (NUL-terminated); -EMSGSIZE if outlen is too small. */
int vhsm_wire_get_str(const struct vhsm_wire_msg *m, uint16_t tag, char *out, size_t outlen);

/*
 * Builder writing into caller-provided memory (use secmem when the message carries secrets).
 * Errors are sticky: after the first failure every add is a no-op and finish returns it.
 */
struct vhsm_wire_builder {
	uint8_t *buf;
	size_t cap;
	size_t len;
	size_t n_fields;
	int error;
};

void vhsm_wire_begin(struct vhsm_wire_builder *b, uint8_t *buf, size_t cap, uint16_t op,
		     uint32_t id);
void vhsm_wire_add_u32(struct vhsm_wire_builder *b, uint16_t tag, uint32_t v);
void vhsm_wire_add_u64(struct vhsm_wire_builder *b, uint16_t tag, uint64_t v);
void vhsm_wire_add_i32(struct vhsm_wire_builder *b, uint16_t tag, int32_t v);
void vhsm_wire_add_str(struct vhsm_wire_builder *b, uint16_t tag, const char *s);
void vhsm_wire_add_data(struct vhsm_wire_builder *b, uint16_t tag, const void *p, size_t n);
/* Writes the total length into the header. Returns the message length or a negative errno. */
int vhsm_wire_finish(struct vhsm_wire_builder *b) _wur_;

/*
 * UNWRAP_BATCH items, carried in one VHSM_TAG_BATCH field (docs/PROTOCOL.md). A request item
 * is le16 blob length, blob (1.. bytes), le16 context length, context; a reply item is le32
 * errno (0 or positive), le16 length, plaintext (empty when errno is not 0). Items follow each
 * other with no padding; the field holds at most VHSM_BATCH_MAX of them.
 */
#define VHSM_BATCH_MAX 128u

struct vhsm_batch_cursor {
	const uint8_t *p;
	size_t left;
};

/* Appends one item at buf + *off (cap bytes in all) and advances *off. 0, -EINVAL, -EMSGSIZE. */
int vhsm_batch_put_request(uint8_t *buf, size_t cap, size_t *off, const uint8_t *blob,
			   size_t blob_len, const uint8_t *ctx, size_t ctx_len);
/* err is 0 or -errno; a failed item has no plaintext (len 0). */
int vhsm_batch_put_reply(uint8_t *buf, size_t cap, size_t *off, int err, const uint8_t *pt,
			 size_t len);

/* Next item from the cursor: 1 with the outputs pointing into the field, 0 at the end,
 * -EBADMSG when the bytes left are not a whole item. */
int vhsm_batch_next_request(struct vhsm_batch_cursor *c, const uint8_t **ret_blob,
			    size_t *ret_blob_len, const uint8_t **ret_ctx, size_t *ret_ctx_len);
int vhsm_batch_next_reply(struct vhsm_batch_cursor *c, int *ret_err, const uint8_t **ret_pt,
			  size_t *ret_len);
