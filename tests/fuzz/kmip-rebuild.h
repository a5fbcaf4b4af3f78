/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rebuilds a parsed KMIP TTLV item with the writer, item by item (shared by the TTLV fuzzer
 * and the KMIP test tool). The encoding is canonical, so a parsed message rebuilds to the
 * same bytes.
 */
#pragma once

#include "kmip-ttlv.h"

static inline uint64_t kmip_rebuild_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static inline void kmip_rebuild(struct kmip_writer *w, const struct kmip_item *it)
{
	int32_t i32;
	int64_t i64;
	uint32_t u32;

	switch (it->type) {
	case KMIP_TYPE_STRUCTURE: {
		struct kmip_iter iter;
		struct kmip_item child;

		kmip_put_begin(w, it->tag);
		kmip_iter_init(&iter, it);
		while (kmip_iter_next(&iter, &child))
			kmip_rebuild(w, &child);
		kmip_put_end(w);
		break;
	}
	case KMIP_TYPE_INTEGER:
		if (kmip_item_int(it, &i32) == 0)
			kmip_put_int(w, it->tag, i32);
		break;
	case KMIP_TYPE_LONG_INTEGER:
		if (kmip_item_long(it, &i64) == 0)
			kmip_put_long(w, it->tag, i64);
		break;
	case KMIP_TYPE_DATE_TIME:
		if (kmip_item_long(it, &i64) == 0)
			kmip_put_datetime(w, it->tag, i64);
		break;
	case KMIP_TYPE_ENUMERATION:
		if (kmip_item_enum(it, &u32) == 0)
			kmip_put_enum(w, it->tag, u32);
		break;
	case KMIP_TYPE_INTERVAL:
		if (kmip_item_enum(it, &u32) == 0)
			kmip_put_interval(w, it->tag, u32);
		break;
	case KMIP_TYPE_BOOLEAN:
		kmip_put_bool(w, it->tag, kmip_rebuild_be64(it->value) != 0);
		break;
	case KMIP_TYPE_BIG_INTEGER:
		kmip_put_big(w, it->tag, it->value, it->len);
		break;
	case KMIP_TYPE_TEXT_STRING:
		kmip_put_text(w, it->tag, (const char *)it->value, it->len);
		break;
	case KMIP_TYPE_BYTE_STRING:
		kmip_put_bytes(w, it->tag, it->value, it->len);
		break;
	}
}
