/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KMIP 1.x messages that vhsm's fleet client exchanges with a key manager, built and read
 * over the TTLV codec (kmip-ttlv.h): one request with one batch item, one response with one
 * batch item. Numbers are the KMIP 1.x specification's (section 9.1.3). Pure; library code,
 * never logs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kmip-ttlv.h"

enum {
	KMIP_TAG_ACTIVATION_DATE = 0x420001,
	KMIP_TAG_APPLICATION_DATA = 0x420002,
	KMIP_TAG_APPLICATION_NAMESPACE = 0x420003,
	KMIP_TAG_ATTRIBUTE = 0x420008,
	KMIP_TAG_ATTRIBUTE_INDEX = 0x420009,
	KMIP_TAG_ATTRIBUTE_NAME = 0x42000A,
	KMIP_TAG_ATTRIBUTE_VALUE = 0x42000B,
	KMIP_TAG_BATCH_COUNT = 0x42000D,
	KMIP_TAG_BATCH_ITEM = 0x42000F,
	KMIP_TAG_COMPROMISE_OCCURRENCE_DATE = 0x420021,
	KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM = 0x420028,
	KMIP_TAG_CRYPTOGRAPHIC_LENGTH = 0x42002A,
	KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK = 0x42002C,
	KMIP_TAG_KEY_BLOCK = 0x420040,
	KMIP_TAG_KEY_FORMAT_TYPE = 0x420042,
	KMIP_TAG_KEY_MATERIAL = 0x420043,
	KMIP_TAG_KEY_VALUE = 0x420045,
	KMIP_TAG_LINK = 0x42004A,
	KMIP_TAG_LINK_TYPE = 0x42004B,
	KMIP_TAG_LINKED_OBJECT_IDENTIFIER = 0x42004C,
	KMIP_TAG_MAXIMUM_ITEMS = 0x42004F,
	KMIP_TAG_NAME = 0x420053,
	KMIP_TAG_NAME_TYPE = 0x420054,
	KMIP_TAG_NAME_VALUE = 0x420055,
	KMIP_TAG_OBJECT_GROUP = 0x420056,
	KMIP_TAG_OBJECT_TYPE = 0x420057,
	KMIP_TAG_OPERATION = 0x42005C,
	KMIP_TAG_PROTOCOL_VERSION = 0x420069,
	KMIP_TAG_PROTOCOL_VERSION_MAJOR = 0x42006A,
	KMIP_TAG_PROTOCOL_VERSION_MINOR = 0x42006B,
	KMIP_TAG_REQUEST_HEADER = 0x420077,
	KMIP_TAG_REQUEST_MESSAGE = 0x420078,
	KMIP_TAG_REQUEST_PAYLOAD = 0x420079,
	KMIP_TAG_RESPONSE_HEADER = 0x42007A,
	KMIP_TAG_RESPONSE_MESSAGE = 0x42007B,
	KMIP_TAG_RESPONSE_PAYLOAD = 0x42007C,
	KMIP_TAG_RESULT_MESSAGE = 0x42007D,
	KMIP_TAG_RESULT_REASON = 0x42007E,
	KMIP_TAG_RESULT_STATUS = 0x42007F,
	KMIP_TAG_REVOCATION_REASON = 0x420081,
	KMIP_TAG_REVOCATION_REASON_CODE = 0x420082,
	KMIP_TAG_STATE = 0x42008D,
	KMIP_TAG_SYMMETRIC_KEY = 0x42008F,
	KMIP_TAG_TEMPLATE_ATTRIBUTE = 0x420091,
	KMIP_TAG_TIME_STAMP = 0x420092,
	KMIP_TAG_UNIQUE_IDENTIFIER = 0x420094,
};

enum kmip_operation {
	KMIP_OP_CREATE = 1,
	KMIP_OP_REGISTER = 3,
	KMIP_OP_LOCATE = 8,
	KMIP_OP_GET = 10,
	KMIP_OP_GET_ATTRIBUTES = 11,
	KMIP_OP_ACTIVATE = 18,
	KMIP_OP_REVOKE = 19,
	KMIP_OP_DESTROY = 20,
	KMIP_OP_QUERY = 24,
};

enum kmip_state {
	KMIP_STATE_PRE_ACTIVE = 1,
	KMIP_STATE_ACTIVE = 2,
	KMIP_STATE_DEACTIVATED = 3,
	KMIP_STATE_COMPROMISED = 4,
	KMIP_STATE_DESTROYED = 5,
	KMIP_STATE_DESTROYED_COMPROMISED = 6,
};

enum kmip_result_status {
	KMIP_STATUS_SUCCESS = 0,
	KMIP_STATUS_OPERATION_FAILED = 1,
	KMIP_STATUS_OPERATION_PENDING = 2,
	KMIP_STATUS_OPERATION_UNDONE = 3,
};

enum {
	KMIP_REASON_ITEM_NOT_FOUND = 1,
	KMIP_REASON_PERMISSION_DENIED = 12,
};

enum {
	KMIP_OBJECT_SYMMETRIC_KEY = 2,
	KMIP_ALG_AES = 3,
	KMIP_KEY_FORMAT_RAW = 1,
	KMIP_NAME_TYPE_TEXT = 1,
	KMIP_USAGE_ENCRYPT = 0x4,
	KMIP_USAGE_DECRYPT = 0x8,
	KMIP_USAGE_WRAP_KEY = 0x10,
	KMIP_USAGE_UNWRAP_KEY = 0x20,
	KMIP_LINK_REPLACEMENT_OBJECT = 262,
	KMIP_LINK_REPLACED_OBJECT = 263,
	KMIP_REVOKE_UNSPECIFIED = 1,
	KMIP_REVOKE_KEY_COMPROMISE = 2,
};

#define KMIP_MAX_TEXT 255 /* names, identifiers and result messages vhsm accepts */

/*
 * Starts a request message of protocol version major.minor with one batch item for op and
 * opens its RequestPayload; the caller adds the payload's items and calls
 * kmip_request_finish(), which closes the payload, the batch item and the message and returns
 * kmip_writer_finish().
 */
void kmip_request_begin(struct kmip_writer *w, int32_t major, int32_t minor,
			enum kmip_operation op);
int kmip_request_finish(struct kmip_writer *w) _wur_;

/* Payload items for the requests vhsm makes. */
void kmip_put_uid(struct kmip_writer *w, const char *uid);
/* An Attribute "Name" of type text with value name. */
void kmip_put_name_attribute(struct kmip_writer *w, const char *name);
/* An Attribute "Object Group" with value group. */
void kmip_put_group_attribute(struct kmip_writer *w, const char *group);
/* Attributes of the other value types, by attribute name ("Cryptographic Length", …). */
void kmip_put_attr_text(struct kmip_writer *w, const char *attr, const char *v);
void kmip_put_attr_int(struct kmip_writer *w, const char *attr, int32_t v);
void kmip_put_attr_enum(struct kmip_writer *w, const char *attr, uint32_t v);
/* An Attribute "Link" of link_type (KMIP_LINK_…) to the object uid. */
void kmip_put_link_attribute(struct kmip_writer *w, uint32_t link_type, const char *uid);
/* An Attribute "Application Specific Information" (namespace, data). */
void kmip_put_app_info_attribute(struct kmip_writer *w, const char *ns, const char *data);
/*
 * The namespace of the Application Specific Information that names the object a rotated key
 * replaces. KMIP's Link attribute is the standard place, but PyKMIP (the key manager of the
 * tests, and a common one) can neither store nor parse it, while every KMIP 1.x server keeps
 * Application Specific Information; readers accept either.
 */
#define KMIP_VHSM_REPLACES_NAMESPACE "vhsm-replaces"
/*
 * The attributes of an AES key of bits for encrypt/decrypt/wrap/unwrap named name, in group
 * (NULL: none), replacing the object replaces (NULL: none; recorded as Application Specific
 * Information, above), under the key manager's operation policy policy (NULL: its default;
 * PyKMIP's default lets only the creator use a key, so CVMs need another): the template of
 * Create and Register payloads, preceded by the Object Type.
 */
void kmip_put_aes_template(struct kmip_writer *w, int32_t bits, const char *name,
			   const char *group, const char *replaces, const char *policy);
/* A raw AES key for Register: key[0..len) (len * 8 bits). */
void kmip_put_aes_key(struct kmip_writer *w, const uint8_t *key, size_t len);
/* Revoke's reason: KMIP_REVOKE_… (with a compromise date of now for a compromise). */
void kmip_put_revocation(struct kmip_writer *w, uint32_t reason, int64_t now);
/* Attribute names asked for in a GetAttributes request. */
void kmip_put_attribute_name(struct kmip_writer *w, const char *attr);

/* The one batch item of a parsed response. */
struct kmip_response {
	int32_t major, minor;
	uint32_t operation;   /* 0 when the server left it out (allowed for failures) */
	uint32_t status;      /* enum kmip_result_status */
	uint32_t reason;      /* 0 when absent */
	char message[KMIP_MAX_TEXT + 1]; /* empty when absent; untrusted text, escape to print */
	bool has_payload;
	struct kmip_item payload; /* points into the parsed buffer */
};

/*
 * Parses a response message buf[0..len) with exactly one batch item answering op. Returns 0,
 * -EBADMSG (malformed, several batch items, another operation, a failure without a status,
 * a success without the payload op needs) or -EMSGSIZE (over the codec's limits). A failed
 * operation is a successful parse: look at ret->status. *ret is set only on success.
 */
int kmip_response_parse(const uint8_t *buf, size_t len, enum kmip_operation op,
			struct kmip_response *ret) _wur_;

/*
 * Reads a Get response payload holding a raw symmetric key: object type SymmetricKey, key
 * format Raw, the key bytes (pointing into the parsed buffer, which should be secure memory),
 * the algorithm and length in bits. Returns 0 or -EBADMSG (another object type or format,
 * lengths that disagree, missing members). Outputs are set only on success.
 */
int kmip_get_symmetric_key(const struct kmip_item *payload, uint32_t *ret_alg, int32_t *ret_bits,
			   const uint8_t **ret_key, size_t *ret_len) _wur_;

/*
 * Finds the index-th (0-based, in message order) Attribute named attr in a GetAttributes
 * response payload and returns its AttributeValue item in *ret: 0, -ENOENT, or -EBADMSG (an
 * Attribute without name or value).
 */
int kmip_get_attribute(const struct kmip_item *payload, const char *attr, unsigned index,
		       struct kmip_item *ret) _wur_;
/* An attribute value's text into out[0..len) (NUL-terminated); empty when the value is not a
 * Text String or does not fit. */
void kmip_attr_text(const struct kmip_item *v, char *out, size_t len);

/* The identifier of the object a key replaces, from a GetAttributes payload: its Replaced
 * Object link, or vhsm's Application Specific Information (namespace "vhsm-replaces") where
 * the key manager keeps no links. Empty when it names none. */
void kmip_get_replaced_object(const struct kmip_item *payload, char *out, size_t len);

/* Name and state text for printing ("active", "pre-active", …; "unknown" otherwise). */
const char *kmip_state_to_string(uint32_t state);
