/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KEK metadata (kek-meta.c): the public, authenticated description of a KEK in its sealed
 * file's header, as strict JSON; and the one key-name rule as the daemon applies it. Pure.
 */
#pragma once

#include "vhsmd.h"

/* ---- names ---- */
/* The one key-name rule (text_key_name_valid in lib/text.h), for KEK, DEK and volume names. */
bool store_name_valid(const char *name);

/* ---- metadata JSON (public) ---- */
const char *kek_state_to_string(enum kek_state s);
int kek_meta_to_json(const struct kek_meta *meta, char **ret);
/*
 * Parses KEK metadata (strict: lib/json, every member typed and required, no other member).
 * 0, -EBADMSG with the reason naming the member in err (errlen bytes, may be 0), -EMSGSIZE,
 * -ENOMEM. ret is set only on success. Does not log.
 */
int kek_meta_parse(const char *json, size_t len, struct kek_meta *ret, char *err, size_t errlen);
/* kek_meta_parse() without the reason. */
int kek_meta_from_json(const char *json, size_t len, struct kek_meta *ret);
