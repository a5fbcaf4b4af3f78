/* SPDX-License-Identifier: Apache-2.0 */
/*
 * LUKS2 "vhsm" token JSON (format in luks-token.h and docs/boot-unlock.md). The JSON comes
 * from a disk header anyone with write access to the device may have edited, so every member
 * is checked for presence, type and length, unknown members are refused, and the two blobs are
 * parsed (not decrypted) and cross-checked with the plain members.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct.h"
#include "json.h"
#include "luks-token.h"
#include "text.h"
#include "wrap.h"

_Static_assert(LUKS_TOKEN_KEK_NAME_MAX == TEXT_KEY_NAME_MAX, "one name rule");

static int fail(char *why, size_t whylen, int r, const char *fmt, ...) _printf_(4, 5);
static int fail(char *why, size_t whylen, int r, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return r;
}

bool luks_token_kek_name_valid(const char *name)
{
	return text_key_name_valid(name);
}

int luks_token_context(const char *uuid, char *buf, size_t buflen)
{
	size_t n = strnlen(uuid, LUKS_UUID_MAX + 1);

	if (n == 0 || n > LUKS_UUID_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (uuid[i] <= ' ' || uuid[i] > '~' || uuid[i] == '/')
			return -EINVAL;
	if (snprintf(buf, buflen, "%s%s", LUKS_CONTEXT_PREFIX, uuid) >= (int)buflen)
		return -EINVAL;
	return (int)strlen(buf);
}

/* The token's members as json_dispatch() leaves them; strings borrowed from the tree. */
struct token_json {
	const char *type, *profile, *policy_digest, *sealed_kek, *wrapped_secret;
	char kek[LUKS_TOKEN_KEK_NAME_MAX + 1];
	struct json_object *keyslots;
	uint32_t vhsm_version, kek_version;
	uint32_t token_timeout; /* optional: 0 when absent */
};

#define TOKEN_FIELD(n, t, fn, m, lo, hi)                                                          \
	{ n, t, fn, offsetof(struct token_json, m), JSON_MANDATORY, lo, hi }
static const struct json_field token_table[] = {
	TOKEN_FIELD("type", json_type_string, json_dispatch_string, type, 1, 16),
	TOKEN_FIELD("keyslots", json_type_array, json_dispatch_borrow, keyslots, 0, 0),
	TOKEN_FIELD("vhsm_version", json_type_int, json_dispatch_uint32, vhsm_version, 0,
		    UINT32_MAX),
	TOKEN_FIELD("kek", json_type_string, json_dispatch_key_name, kek, 0, 0),
	TOKEN_FIELD("kek_version", json_type_int, json_dispatch_uint32, kek_version, 1, INT32_MAX),
	TOKEN_FIELD("profile", json_type_string, json_dispatch_string, profile, 1, 16),
	TOKEN_FIELD("policy_digest", json_type_string, json_dispatch_string, policy_digest, 64, 64),
	/* Optional: vhsmctl kek disable withdraws it (luks-token.h). */
	{ "sealed_kek", json_type_string, json_dispatch_string,
	  offsetof(struct token_json, sealed_kek), 0, 1, CT_BASE64_LEN(LUKS_TOKEN_SEALED_MAX) },
	TOKEN_FIELD("wrapped_secret", json_type_string, json_dispatch_string, wrapped_secret, 1,
		    CT_BASE64_LEN(LUKS_TOKEN_WRAPPED_MAX)),
	{ "token_timeout", json_type_int, json_dispatch_uint32,
	  offsetof(struct token_json, token_timeout), 0, 1, LUKS_TOKEN_TIMEOUT_MAX },
	{}
};

static int parse_keyslots(struct json_object *a, unsigned *ret)
{
	struct json_object *e;
	const char *s;
	size_t n;

	if (json_object_array_length(a) != 1)
		return -EBADMSG;
	e = json_object_array_get_idx(a, 0);
	if (!json_object_is_type(e, json_type_string))
		return -EBADMSG;
	s = json_object_get_string(e);
	n = (size_t)json_object_get_string_len(e);
	/* "0".."31" without leading zeros (LUKS2 has at most 32 keyslots). */
	if (n < 1 || n > 2 || s[0] < '0' || s[0] > '9' || (n == 2 && (s[0] == '0' || s[1] < '0' ||
								     s[1] > '9')))
		return -EBADMSG;
	*ret = (unsigned)(n == 1 ? s[0] - '0' : (s[0] - '0') * 10 + (s[1] - '0'));
	return *ret < 32 ? 0 : -EBADMSG;
}

static int parse_b64(const char *s, uint8_t *out, size_t cap, size_t *ret_len)
{
	size_t n = strlen(s);
	int r;

	if (n == 0 || n > CT_BASE64_LEN(cap))
		return -EBADMSG;
	r = ct_base64_decode(out, cap, s, n);
	if (r <= 0)
		return -EBADMSG;
	*ret_len = (size_t)r;
	return 0;
}

static int parse_plain(const struct token_json *j, struct luks_token *t, char *why,
		       size_t whylen)
{
	if (strcmp(j->type, LUKS_TOKEN_TYPE) != 0)
		return fail(why, whylen, -EBADMSG, "\"type\" is not \"vhsm\"");
	if (parse_keyslots(j->keyslots, &t->keyslot) < 0)
		return fail(why, whylen, -EBADMSG, "\"keyslots\" must name exactly one keyslot 0..31");
	if (j->vhsm_version != LUKS_TOKEN_VERSION)
		return fail(why, whylen, -EBADMSG, "\"vhsm_version\" must be %u", LUKS_TOKEN_VERSION);
	memcpy(t->kek, j->kek, sizeof(t->kek));
	t->kek_version = j->kek_version;
	t->profile = seal_profile_from_string(j->profile);
	if (t->profile < 0)
		return fail(why, whylen, -EBADMSG, "\"profile\" must be \"strict\" or \"author\"");
	if (ct_hex_decode(t->policy_digest, sizeof(t->policy_digest), j->policy_digest,
			  strlen(j->policy_digest)) < 0)
		return fail(why, whylen, -EBADMSG, "\"policy_digest\" must be 64 hex digits");
	t->token_timeout = j->token_timeout;
	return 0;
}

/* The sealed copy, when present, must be a sealed blob of one version of the token's KEK. */
static int parse_sealed(const struct token_json *j, struct luks_token *t, char *why,
			size_t whylen)
{
	struct seal_header h;

	t->sealed_kek_len = 0;
	if (!j->sealed_kek) /* withdrawn: only a daemon whose store holds the KEK unlocks */
		return 0;
	if (parse_b64(j->sealed_kek, t->sealed_kek, sizeof(t->sealed_kek), &t->sealed_kek_len) < 0 ||
	    seal_parse_header(t->sealed_kek, t->sealed_kek_len, &h) < 0)
		return fail(why, whylen, -EBADMSG, "\"sealed_kek\" is not a sealed blob");
	if (strcmp(h.label, t->kek) != 0 || h.params.profile != t->profile ||
	    h.ciphertext_len != 32)
		return fail(why, whylen, -EBADMSG,
			    "\"sealed_kek\" does not hold one version of KEK %s (%s)", t->kek,
			    seal_profile_to_string(t->profile));
	return 0;
}

/* The blobs must be well formed and agree with the plain members. */
static int parse_blobs(const struct token_json *j, struct luks_token *t, char *why,
		       size_t whylen)
{
	struct wrap_info wi;
	int r = parse_sealed(j, t, why, whylen);

	if (r < 0)
		return r;
	if (parse_b64(j->wrapped_secret, t->wrapped_secret, sizeof(t->wrapped_secret),
		      &t->wrapped_secret_len) < 0 ||
	    wrap_parse(t->wrapped_secret, t->wrapped_secret_len, &wi) < 0)
		return fail(why, whylen, -EBADMSG, "\"wrapped_secret\" is not a wrapped key");
	if (strcmp(wi.kek_name, t->kek) != 0 || wi.kek_version != t->kek_version ||
	    wi.plaintext_len != LUKS_SECRET_SIZE)
		return fail(why, whylen, -EBADMSG,
			    "\"wrapped_secret\" is not a %u-byte secret under %s version %u",
			    LUKS_SECRET_SIZE, t->kek, t->kek_version);
	return 0;
}

int luks_token_parse(const char *json, size_t len, struct luks_token *ret, char *why,
		     size_t whylen)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	struct token_json j = {};
	struct luks_token *t;
	int r;

	r = json_parse(json, len, LUKS_TOKEN_JSON_MAX, "token", &o, why, whylen);
	if (r < 0)
		return r;
	r = json_dispatch(o, NULL, token_table, &j, why, whylen);
	if (r < 0)
		return r;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	r = parse_plain(&j, t, why, whylen);
	if (r >= 0)
		r = parse_blobs(&j, t, why, whylen);
	if (r >= 0)
		*ret = *t;
	free(t);
	return r;
}

static int add_b64(struct json_object *o, const char *key, const uint8_t *p, size_t n)
{
	_cleanup_free_ char *s = malloc(CT_BASE64_LEN(n) + 1);

	if (!s)
		return -ENOMEM;
	ct_base64_encode(s, p, n);
	return json_object_object_add(o, key, json_object_new_string(s)) < 0 ? -ENOMEM : 0;
}

int luks_token_to_json(const struct luks_token *t, char **ret)
{
	_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
	struct json_object *slots = json_object_new_array();
	char slot[4], digest[65];
	const char *s;
	int r = 0;

	if (!o || !slots) {
		json_object_put(slots);
		return -ENOMEM;
	}
	if (t->keyslot >= 32 || !luks_token_kek_name_valid(t->kek) || t->kek_version == 0 ||
	    t->kek_version > INT32_MAX || !seal_profile_to_string(t->profile) ||
	    t->sealed_kek_len > LUKS_TOKEN_SEALED_MAX ||
	    t->wrapped_secret_len == 0 || t->wrapped_secret_len > LUKS_TOKEN_WRAPPED_MAX ||
	    t->token_timeout > LUKS_TOKEN_TIMEOUT_MAX) {
		json_object_put(slots);
		return -EINVAL;
	}
	snprintf(slot, sizeof(slot), "%u", t->keyslot);
	ct_hex_encode(digest, t->policy_digest, sizeof(t->policy_digest));
	json_object_array_add(slots, json_object_new_string(slot));
	json_object_object_add(o, "type", json_object_new_string(LUKS_TOKEN_TYPE));
	json_object_object_add(o, "keyslots", slots);
	json_object_object_add(o, "vhsm_version", json_object_new_int(LUKS_TOKEN_VERSION));
	json_object_object_add(o, "kek", json_object_new_string(t->kek));
	json_object_object_add(o, "kek_version", json_object_new_int64(t->kek_version));
	json_object_object_add(o, "profile",
			       json_object_new_string(seal_profile_to_string(t->profile)));
	json_object_object_add(o, "policy_digest", json_object_new_string(digest));
	if (t->token_timeout)
		json_object_object_add(o, "token_timeout", json_object_new_int64(t->token_timeout));
	if (t->sealed_kek_len)
		r = add_b64(o, "sealed_kek", t->sealed_kek, t->sealed_kek_len);
	if (r >= 0)
		r = add_b64(o, "wrapped_secret", t->wrapped_secret, t->wrapped_secret_len);
	if (r < 0)
		return r;
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!s)
		return -ENOMEM;
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}
