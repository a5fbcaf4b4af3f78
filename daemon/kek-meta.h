/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KEK metadata (kek-meta.c): the public, authenticated description of a KEK in its sealed
 * file's header, as strict JSON; and the one key-name rule as the daemon applies it. Pure.
 */
#pragma once

#include "json.h"
#include "vhsmd.h"

/* ---- names ---- */
/* The one key-name rule (text_key_name_valid in lib/text.h), for KEK, DEK and volume names. */
bool store_name_valid(const char *name);

/* ---- metadata JSON (public) ---- */
const char *kek_state_to_string(enum kek_state s);

/* Adds the lifecycle members (state ... purge_protection) of l to the JSON object o. */
void key_lifecycle_to_json(struct json_object *o, const struct key_lifecycle *l);
/* A json_dispatch() handler: an enum kek_state from its name ("enabled", ...). */
int json_dispatch_kek_state(struct json_object *v, const char *path, const struct json_field *f,
			    void *p, char *err, size_t errlen);
/* The dispatch rows of key_lifecycle_to_json()'s members, all mandatory, into the struct
 * key_lifecycle at member life of type. */
#define KEY_LIFECYCLE_JSON_FIELDS(type, life)                                                     \
	KEY_LIFECYCLE_FIELD(type, "state", json_type_string, json_dispatch_kek_state,            \
			    life.state, 0, 0),                                                    \
	KEY_LIFECYCLE_FIELD(type, "state_before_delete", json_type_string,                       \
			    json_dispatch_kek_state, life.state_before_delete, 0, 0),             \
	KEY_LIFECYCLE_FIELD(type, "created", json_type_int, json_dispatch_uint64, life.created,  \
			    0, INT64_MAX),                                                        \
	KEY_LIFECYCLE_FIELD(type, "updated", json_type_int, json_dispatch_uint64, life.updated,  \
			    0, INT64_MAX),                                                        \
	KEY_LIFECYCLE_FIELD(type, "deleted_at", json_type_int, json_dispatch_uint64,             \
			    life.deleted_at, 0, INT64_MAX),                                       \
	KEY_LIFECYCLE_FIELD(type, "retention_days", json_type_int, json_dispatch_uint32,         \
			    life.retention_days, KEK_MIN_RETENTION_DAYS, KEK_MAX_RETENTION_DAYS), \
	KEY_LIFECYCLE_FIELD(type, "purge_protection", json_type_boolean, json_dispatch_bool,     \
			    life.purge_protection, 0, 0)
#define KEY_LIFECYCLE_FIELD(type, n, t, fn, mem, lo, hi)                                          \
	{ n, t, fn, offsetof(type, mem), JSON_MANDATORY, lo, hi }

int kek_meta_to_json(const struct kek_meta *meta, char **ret);
/*
 * Parses KEK metadata (strict: lib/json, every member typed and required, no other member).
 * 0, -EBADMSG with the reason naming the member in err (errlen bytes, may be 0), -EMSGSIZE,
 * -ENOMEM. ret is set only on success. Does not log.
 */
int kek_meta_parse(const char *json, size_t len, struct kek_meta *ret, char *err, size_t errlen);
/* kek_meta_parse() without the reason. */
int kek_meta_from_json(const char *json, size_t len, struct kek_meta *ret);
