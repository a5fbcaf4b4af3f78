/* SPDX-License-Identifier: Apache-2.0 */
/* KMIP request builders and response readers (kmip.h). */
#include <errno.h>
#include <string.h>

#include "kmip.h"

void kmip_request_begin(struct kmip_writer *w, int32_t major, int32_t minor,
			enum kmip_operation op)
{
	kmip_put_begin(w, KMIP_TAG_REQUEST_MESSAGE);
	kmip_put_begin(w, KMIP_TAG_REQUEST_HEADER);
	kmip_put_begin(w, KMIP_TAG_PROTOCOL_VERSION);
	kmip_put_int(w, KMIP_TAG_PROTOCOL_VERSION_MAJOR, major);
	kmip_put_int(w, KMIP_TAG_PROTOCOL_VERSION_MINOR, minor);
	kmip_put_end(w);
	kmip_put_int(w, KMIP_TAG_BATCH_COUNT, 1);
	kmip_put_end(w);
	kmip_put_begin(w, KMIP_TAG_BATCH_ITEM);
	kmip_put_enum(w, KMIP_TAG_OPERATION, op);
	kmip_put_begin(w, KMIP_TAG_REQUEST_PAYLOAD);
}

int kmip_request_finish(struct kmip_writer *w)
{
	kmip_put_end(w); /* payload */
	kmip_put_end(w); /* batch item */
	kmip_put_end(w); /* message */
	return kmip_writer_finish(w);
}

void kmip_put_uid(struct kmip_writer *w, const char *uid)
{
	kmip_put_text(w, KMIP_TAG_UNIQUE_IDENTIFIER, uid, strlen(uid));
}

static void put_attribute_name(struct kmip_writer *w, const char *attr)
{
	kmip_put_text(w, KMIP_TAG_ATTRIBUTE_NAME, attr, strlen(attr));
}

void kmip_put_name_attribute(struct kmip_writer *w, const char *name)
{
	kmip_put_begin(w, KMIP_TAG_ATTRIBUTE);
	put_attribute_name(w, "Name");
	kmip_put_begin(w, KMIP_TAG_ATTRIBUTE_VALUE);
	kmip_put_text(w, KMIP_TAG_NAME_VALUE, name, strlen(name));
	kmip_put_enum(w, KMIP_TAG_NAME_TYPE, KMIP_NAME_TYPE_TEXT);
	kmip_put_end(w);
	kmip_put_end(w);
}

void kmip_put_group_attribute(struct kmip_writer *w, const char *group)
{
	kmip_put_begin(w, KMIP_TAG_ATTRIBUTE);
	put_attribute_name(w, "Object Group");
	kmip_put_text(w, KMIP_TAG_ATTRIBUTE_VALUE, group, strlen(group));
	kmip_put_end(w);
}

void kmip_put_attr_text(struct kmip_writer *w, const char *attr, const char *v)
{
	kmip_put_begin(w, KMIP_TAG_ATTRIBUTE);
	put_attribute_name(w, attr);
	kmip_put_text(w, KMIP_TAG_ATTRIBUTE_VALUE, v, strlen(v));
	kmip_put_end(w);
}

void kmip_put_attr_int(struct kmip_writer *w, const char *attr, int32_t v)
{
	kmip_put_begin(w, KMIP_TAG_ATTRIBUTE);
	put_attribute_name(w, attr);
	kmip_put_int(w, KMIP_TAG_ATTRIBUTE_VALUE, v);
	kmip_put_end(w);
}

void kmip_put_attr_enum(struct kmip_writer *w, const char *attr, uint32_t v)
{
	kmip_put_begin(w, KMIP_TAG_ATTRIBUTE);
	put_attribute_name(w, attr);
	kmip_put_enum(w, KMIP_TAG_ATTRIBUTE_VALUE, v);
	kmip_put_end(w);
}

void kmip_put_link_attribute(struct kmip_writer *w, uint32_t link_type, const char *uid)
{
	kmip_put_begin(w, KMIP_TAG_ATTRIBUTE);
	put_attribute_name(w, "Link");
	kmip_put_begin(w, KMIP_TAG_ATTRIBUTE_VALUE);
	kmip_put_enum(w, KMIP_TAG_LINK_TYPE, link_type);
	kmip_put_text(w, KMIP_TAG_LINKED_OBJECT_IDENTIFIER, uid, strlen(uid));
	kmip_put_end(w);
	kmip_put_end(w);
}

void kmip_put_app_info_attribute(struct kmip_writer *w, const char *ns, const char *data)
{
	kmip_put_begin(w, KMIP_TAG_ATTRIBUTE);
	put_attribute_name(w, "Application Specific Information");
	kmip_put_begin(w, KMIP_TAG_ATTRIBUTE_VALUE);
	kmip_put_text(w, KMIP_TAG_APPLICATION_NAMESPACE, ns, strlen(ns));
	kmip_put_text(w, KMIP_TAG_APPLICATION_DATA, data, strlen(data));
	kmip_put_end(w);
	kmip_put_end(w);
}

void kmip_put_aes_template(struct kmip_writer *w, int32_t bits, const char *name,
			   const char *group, const char *replaces, const char *policy)
{
	kmip_put_enum(w, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_SYMMETRIC_KEY);
	kmip_put_begin(w, KMIP_TAG_TEMPLATE_ATTRIBUTE);
	kmip_put_attr_enum(w, "Cryptographic Algorithm", KMIP_ALG_AES);
	kmip_put_attr_int(w, "Cryptographic Length", bits);
	kmip_put_attr_int(w, "Cryptographic Usage Mask",
			  KMIP_USAGE_ENCRYPT | KMIP_USAGE_DECRYPT | KMIP_USAGE_WRAP_KEY |
				  KMIP_USAGE_UNWRAP_KEY);
	kmip_put_name_attribute(w, name);
	if (group)
		kmip_put_group_attribute(w, group);
	if (replaces)
		kmip_put_app_info_attribute(w, KMIP_VHSM_REPLACES_NAMESPACE, replaces);
	if (policy)
		kmip_put_attr_text(w, "Operation Policy Name", policy);
	kmip_put_end(w);
}

void kmip_put_aes_key(struct kmip_writer *w, const uint8_t *key, size_t len)
{
	kmip_put_begin(w, KMIP_TAG_SYMMETRIC_KEY);
	kmip_put_begin(w, KMIP_TAG_KEY_BLOCK);
	kmip_put_enum(w, KMIP_TAG_KEY_FORMAT_TYPE, KMIP_KEY_FORMAT_RAW);
	kmip_put_begin(w, KMIP_TAG_KEY_VALUE);
	kmip_put_bytes(w, KMIP_TAG_KEY_MATERIAL, key, len);
	kmip_put_end(w);
	kmip_put_enum(w, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, KMIP_ALG_AES);
	kmip_put_int(w, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, (int32_t)(len * 8));
	kmip_put_end(w);
	kmip_put_end(w);
}

void kmip_put_revocation(struct kmip_writer *w, uint32_t reason, int64_t now)
{
	kmip_put_begin(w, KMIP_TAG_REVOCATION_REASON);
	kmip_put_enum(w, KMIP_TAG_REVOCATION_REASON_CODE, reason);
	kmip_put_end(w);
	if (reason == KMIP_REVOKE_KEY_COMPROMISE)
		kmip_put_datetime(w, KMIP_TAG_COMPROMISE_OCCURRENCE_DATE, now);
}

void kmip_put_attribute_name(struct kmip_writer *w, const char *attr)
{
	put_attribute_name(w, attr);
}

static int read_header(const struct kmip_item *msg, struct kmip_response *r)
{
	struct kmip_item hdr, ver;
	int32_t count;
	int64_t stamp;

	if (kmip_find(msg, KMIP_TAG_RESPONSE_HEADER, KMIP_TYPE_STRUCTURE, &hdr) < 0 ||
	    kmip_count(msg, KMIP_TAG_RESPONSE_HEADER) != 1 ||
	    kmip_find(&hdr, KMIP_TAG_PROTOCOL_VERSION, KMIP_TYPE_STRUCTURE, &ver) < 0 ||
	    kmip_get_int(&ver, KMIP_TAG_PROTOCOL_VERSION_MAJOR, &r->major) < 0 ||
	    kmip_get_int(&ver, KMIP_TAG_PROTOCOL_VERSION_MINOR, &r->minor) < 0 ||
	    kmip_get_datetime(&hdr, KMIP_TAG_TIME_STAMP, &stamp) < 0 ||
	    kmip_get_int(&hdr, KMIP_TAG_BATCH_COUNT, &count) < 0)
		return -EBADMSG;
	if (count != 1 || kmip_count(msg, KMIP_TAG_BATCH_ITEM) != 1)
		return -EBADMSG;
	return 0;
}

static int read_batch_item(const struct kmip_item *item, enum kmip_operation op,
			   struct kmip_response *r)
{
	int k;

	k = kmip_get_enum(item, KMIP_TAG_OPERATION, &r->operation);
	if (k == -ENOENT)
		r->operation = 0;
	else if (k < 0 || r->operation != (uint32_t)op)
		return -EBADMSG;
	if (kmip_get_enum(item, KMIP_TAG_RESULT_STATUS, &r->status) < 0)
		return -EBADMSG;
	k = kmip_get_enum(item, KMIP_TAG_RESULT_REASON, &r->reason);
	if (k == -ENOENT)
		r->reason = 0;
	else if (k < 0)
		return -EBADMSG;
	k = kmip_get_text(item, KMIP_TAG_RESULT_MESSAGE, r->message, sizeof(r->message));
	if (k == -ENOENT)
		r->message[0] = 0;
	else if (k < 0)
		return -EBADMSG;
	k = kmip_find(item, KMIP_TAG_RESPONSE_PAYLOAD, KMIP_TYPE_STRUCTURE, &r->payload);
	if (k < 0 && k != -ENOENT)
		return -EBADMSG;
	r->has_payload = k == 0;
	/* A success must name its operation; only a failure may leave it out. */
	if (r->status == KMIP_STATUS_SUCCESS && r->operation == 0)
		return -EBADMSG;
	return 0;
}

int kmip_response_parse(const uint8_t *buf, size_t len, enum kmip_operation op,
			struct kmip_response *ret)
{
	struct kmip_response r = {};
	struct kmip_item msg, item;
	int k;

	k = kmip_ttlv_parse(buf, len, &msg);
	if (k < 0)
		return k;
	if (msg.tag != KMIP_TAG_RESPONSE_MESSAGE || msg.type != KMIP_TYPE_STRUCTURE)
		return -EBADMSG;
	k = read_header(&msg, &r);
	if (k < 0)
		return k;
	if (kmip_find(&msg, KMIP_TAG_BATCH_ITEM, KMIP_TYPE_STRUCTURE, &item) < 0)
		return -EBADMSG;
	k = read_batch_item(&item, op, &r);
	if (k < 0)
		return k;
	*ret = r;
	return 0;
}

int kmip_get_symmetric_key(const struct kmip_item *payload, uint32_t *ret_alg, int32_t *ret_bits,
			   const uint8_t **ret_key, size_t *ret_len)
{
	struct kmip_item sym, block, value;
	uint32_t type, format, alg;
	const uint8_t *key;
	size_t len;
	int32_t bits;

	if (kmip_get_enum(payload, KMIP_TAG_OBJECT_TYPE, &type) < 0 ||
	    type != KMIP_OBJECT_SYMMETRIC_KEY ||
	    kmip_find(payload, KMIP_TAG_SYMMETRIC_KEY, KMIP_TYPE_STRUCTURE, &sym) < 0 ||
	    kmip_find(&sym, KMIP_TAG_KEY_BLOCK, KMIP_TYPE_STRUCTURE, &block) < 0 ||
	    kmip_get_enum(&block, KMIP_TAG_KEY_FORMAT_TYPE, &format) < 0 ||
	    format != KMIP_KEY_FORMAT_RAW ||
	    kmip_find(&block, KMIP_TAG_KEY_VALUE, KMIP_TYPE_STRUCTURE, &value) < 0 ||
	    kmip_get_bytes(&value, KMIP_TAG_KEY_MATERIAL, &key, &len) < 0 ||
	    kmip_get_enum(&block, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, &alg) < 0 ||
	    kmip_get_int(&block, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, &bits) < 0)
		return -EBADMSG;
	if (bits <= 0 || (size_t)bits != len * 8)
		return -EBADMSG;
	*ret_alg = alg;
	*ret_bits = bits;
	*ret_key = key;
	*ret_len = len;
	return 0;
}

/* The AttributeValue of an Attribute structure, which need not be of one fixed type. */
static int attribute_value(const struct kmip_item *attribute, struct kmip_item *ret)
{
	struct kmip_iter it;
	struct kmip_item item;

	kmip_iter_init(&it, attribute);
	while (kmip_iter_next(&it, &item))
		if (item.tag == KMIP_TAG_ATTRIBUTE_VALUE) {
			*ret = item;
			return 0;
		}
	return -EBADMSG;
}

int kmip_get_attribute(const struct kmip_item *payload, const char *attr, unsigned index,
		       struct kmip_item *ret)
{
	struct kmip_iter it;
	struct kmip_item item, name;
	size_t alen = strlen(attr);

	if (payload->type != KMIP_TYPE_STRUCTURE)
		return -EBADMSG;
	kmip_iter_init(&it, payload);
	while (kmip_iter_next(&it, &item)) {
		if (item.tag != KMIP_TAG_ATTRIBUTE)
			continue;
		if (item.type != KMIP_TYPE_STRUCTURE ||
		    kmip_find(&item, KMIP_TAG_ATTRIBUTE_NAME, KMIP_TYPE_TEXT_STRING, &name) < 0)
			return -EBADMSG;
		if (name.len != alen || memcmp(name.value, attr, alen) != 0 || index-- > 0)
			continue;
		return attribute_value(&item, ret);
	}
	return -ENOENT;
}

void kmip_attr_text(const struct kmip_item *v, char *out, size_t len)
{
	out[0] = 0;
	if (v->type == KMIP_TYPE_TEXT_STRING && v->len < len) {
		memcpy(out, v->value, v->len);
		out[v->len] = 0;
	}
}

void kmip_get_replaced_object(const struct kmip_item *payload, char *out, size_t len)
{
	struct kmip_item v;
	char ns[KMIP_MAX_TEXT + 1];
	uint32_t type;

	for (unsigned i = 0; kmip_get_attribute(payload, "Link", i, &v) == 0; i++)
		if (kmip_get_enum(&v, KMIP_TAG_LINK_TYPE, &type) == 0 &&
		    type == KMIP_LINK_REPLACED_OBJECT &&
		    kmip_get_text(&v, KMIP_TAG_LINKED_OBJECT_IDENTIFIER, out, len) == 0)
			return;
	for (unsigned i = 0;
	     kmip_get_attribute(payload, "Application Specific Information", i, &v) == 0; i++)
		if (kmip_get_text(&v, KMIP_TAG_APPLICATION_NAMESPACE, ns, sizeof(ns)) == 0 &&
		    strcmp(ns, KMIP_VHSM_REPLACES_NAMESPACE) == 0 &&
		    kmip_get_text(&v, KMIP_TAG_APPLICATION_DATA, out, len) == 0)
			return;
	out[0] = 0;
}

const char *kmip_state_to_string(uint32_t state)
{
	static const char *const names[] = {
		[KMIP_STATE_PRE_ACTIVE] = "pre-active",
		[KMIP_STATE_ACTIVE] = "active",
		[KMIP_STATE_DEACTIVATED] = "deactivated",
		[KMIP_STATE_COMPROMISED] = "compromised",
		[KMIP_STATE_DESTROYED] = "destroyed",
		[KMIP_STATE_DESTROYED_COMPROMISED] = "destroyed-compromised",
	};

	return state < ELEMENTSOF(names) && names[state] ? names[state] : "unknown";
}
