/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Wire decoder fuzzer. Arbitrary bytes are either refused with one of the documented errnos
 * or decode; a decoded message is rebuilt field by field with the builder, which must give
 * back the input byte for byte (the encoding is canonical) and decode to the same fields.
 * The same rebuild into a buffer one byte short must fail with ENOBUFS.
 */
#include <stdlib.h>
#include <string.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out[VHSM_WIRE_MAX_MESSAGE];
static char str[VHSM_WIRE_MAX_TEXT + 1];
static struct vhsm_wire_msg m, m2;

static int rebuild(const struct vhsm_wire_msg *msg, size_t cap)
{
	struct vhsm_wire_builder b;

	vhsm_wire_begin(&b, out, cap, msg->op, msg->id);
	for (size_t i = 0; i < msg->n_fields; i++) {
		const struct vhsm_wire_field *f = &msg->fields[i];

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
		case VHSM_WIRE_STRING:
		case VHSM_WIRE_TEXT:
			memcpy(str, f->value, f->len);
			str[f->len] = 0;
			vhsm_wire_add_str(&b, f->tag, str);
			break;
		case VHSM_WIRE_DATA:
			vhsm_wire_add_data(&b, f->tag, f->value, f->len);
			break;
		default:
			abort();
		}
	}
	return vhsm_wire_finish(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int r = vhsm_wire_decode(data, size, &m);

	if (r < 0) {
		if (r != -EBADMSG && r != -EMSGSIZE && r != -EPROTONOSUPPORT)
			abort();
		return 0;
	}
	if (rebuild(&m, sizeof(out)) != (int)size || memcmp(out, data, size) != 0)
		abort();
	if (vhsm_wire_decode(out, size, &m2) < 0 || m2.op != m.op || m2.id != m.id ||
	    m2.n_fields != m.n_fields)
		abort();
	for (size_t i = 0; i < m.n_fields; i++) {
		const struct vhsm_wire_field *a = &m.fields[i], *b = &m2.fields[i];

		if (a->tag != b->tag || a->len != b->len || memcmp(a->value, b->value, a->len) ||
		    vhsm_wire_get(&m, a->tag) != a)
			abort();
	}
	if (size > VHSM_WIRE_HEADER_SIZE && rebuild(&m, size - 1) != -ENOBUFS)
		abort();
	return 0;
}
