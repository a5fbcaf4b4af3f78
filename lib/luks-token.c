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
#include "json-cleanup.h"
#include "luks-token.h"
#include "text.h"
#include "wrap.h"

_Static_assert(LUKS_TOKEN_KEK_NAME_MAX == TEXT_KEY_NAME_MAX, "one name rule");

#define MEMBERS 9

static const char *const members[MEMBERS] = {
	"type", "keyslots", "vhsm_version", "kek", "kek_version",
	"profile", "policy_digest", "sealed_kek", "wrapped_secret",
};

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

/* The member's string value, or NULL when it is not a string. */
static const char *get_string(struct json_object *o, const char *key, size_t *ret_len)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	*ret_len = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

static int get_uint(struct json_object *o, const char *key, uint64_t max, uint64_t *ret)
{
	struct json_object *v;
	int64_t x;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return -EBADMSG;
	errno = 0;
	x = json_object_get_int64(v);
	if (errno || x < 0 || (uint64_t)x > max)
		return -EBADMSG;
	*ret = (uint64_t)x;
	return 0;
}

static int parse_keyslots(struct json_object *o, unsigned *ret)
{
	struct json_object *a, *e;
	const char *s;
	size_t n;

	if (!json_object_object_get_ex(o, "keyslots", &a) || !json_object_is_type(a, json_type_array) ||
	    json_object_array_length(a) != 1)
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

static int parse_b64(struct json_object *o, const char *key, uint8_t *out, size_t cap,
		     size_t *ret_len)
{
	size_t n;
	const char *s = get_string(o, key, &n);
	int r;

	if (!s || n == 0 || n > CT_BASE64_LEN(cap))
		return -EBADMSG;
	r = ct_base64_decode(out, cap, s, n);
	if (r <= 0)
		return -EBADMSG;
	*ret_len = (size_t)r;
	return 0;
}

static int parse_plain(struct json_object *o, struct luks_token *t, char *why, size_t whylen)
{
	const char *s;
	size_t n;
	uint64_t u;

	s = get_string(o, "type", &n);
	if (!s || n != strlen(LUKS_TOKEN_TYPE) || memcmp(s, LUKS_TOKEN_TYPE, n) != 0)
		return fail(why, whylen, -EBADMSG, "\"type\" is not \"vhsm\"");
	if (parse_keyslots(o, &t->keyslot) < 0)
		return fail(why, whylen, -EBADMSG, "\"keyslots\" must name exactly one keyslot 0..31");
	if (get_uint(o, "vhsm_version", UINT32_MAX, &u) < 0 || u != LUKS_TOKEN_VERSION)
		return fail(why, whylen, -EBADMSG, "\"vhsm_version\" must be %u", LUKS_TOKEN_VERSION);
	s = get_string(o, "kek", &n);
	if (!s || n > LUKS_TOKEN_KEK_NAME_MAX || strlen(s) != n || !luks_token_kek_name_valid(s))
		return fail(why, whylen, -EBADMSG, "\"kek\" is not a valid KEK name");
	memcpy(t->kek, s, n + 1);
	if (get_uint(o, "kek_version", INT32_MAX, &u) < 0 || u == 0)
		return fail(why, whylen, -EBADMSG, "\"kek_version\" must be 1..%d", INT32_MAX);
	t->kek_version = (uint32_t)u;
	s = get_string(o, "profile", &n);
	t->profile = s && strlen(s) == n ? seal_profile_from_string(s) : _SEAL_PROFILE_INVALID;
	if (t->profile < 0)
		return fail(why, whylen, -EBADMSG, "\"profile\" must be \"strict\" or \"author\"");
	s = get_string(o, "policy_digest", &n);
	if (!s || ct_hex_decode(t->policy_digest, sizeof(t->policy_digest), s, n) < 0)
		return fail(why, whylen, -EBADMSG, "\"policy_digest\" must be 64 hex digits");
	return 0;
}

/* The blobs must be well formed and agree with the plain members. */
static int parse_blobs(struct json_object *o, struct luks_token *t, char *why, size_t whylen)
{
	struct seal_header h;
	struct wrap_info wi;

	if (parse_b64(o, "sealed_kek", t->sealed_kek, sizeof(t->sealed_kek), &t->sealed_kek_len) < 0 ||
	    seal_parse_header(t->sealed_kek, t->sealed_kek_len, &h) < 0)
		return fail(why, whylen, -EBADMSG, "\"sealed_kek\" is not a sealed blob");
	if (strcmp(h.label, t->kek) != 0 || h.params.profile != t->profile ||
	    h.ciphertext_len != 32)
		return fail(why, whylen, -EBADMSG,
			    "\"sealed_kek\" does not hold one version of KEK %s (%s)", t->kek,
			    seal_profile_to_string(t->profile));
	if (parse_b64(o, "wrapped_secret", t->wrapped_secret, sizeof(t->wrapped_secret),
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

static int check_members(struct json_object *o, char *why, size_t whylen)
{
	json_object_object_foreach(o, key, val) {
		bool known = false;
		(void)val;
		for (size_t i = 0; i < MEMBERS; i++)
			known = known || strcmp(key, members[i]) == 0;
		if (!known)
			return fail(why, whylen, -EBADMSG, "unknown member \"%.32s\"", key);
	}
	for (size_t i = 0; i < MEMBERS; i++)
		if (!json_object_object_get_ex(o, members[i], NULL))
			return fail(why, whylen, -EBADMSG, "member \"%s\" is missing", members[i]);
	return 0;
}

int luks_token_parse(const char *json, size_t len, struct luks_token *ret, char *why,
		     size_t whylen)
{
	_cleanup_(json_tokener_freep) struct json_tokener *tok = NULL;
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	struct luks_token *t;
	int r;

	if (len > LUKS_TOKEN_JSON_MAX)
		return fail(why, whylen, -EMSGSIZE, "token JSON longer than %u bytes",
			    LUKS_TOKEN_JSON_MAX);
	if (memchr(json, '\0', len))
		return fail(why, whylen, -EBADMSG, "token JSON contains a NUL byte");
	tok = json_tokener_new_ex(8);
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, json, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len)
		return fail(why, whylen, -EBADMSG, "token is not one JSON document");
	if (!json_object_is_type(o, json_type_object))
		return fail(why, whylen, -EBADMSG, "token is not a JSON object");
	r = check_members(o, why, whylen);
	if (r < 0)
		return r;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	r = parse_plain(o, t, why, whylen);
	if (r >= 0)
		r = parse_blobs(o, t, why, whylen);
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
	    t->sealed_kek_len == 0 || t->sealed_kek_len > LUKS_TOKEN_SEALED_MAX ||
	    t->wrapped_secret_len == 0 || t->wrapped_secret_len > LUKS_TOKEN_WRAPPED_MAX) {
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
