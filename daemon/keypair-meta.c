/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key pair metadata <-> JSON: the public, authenticated part of a sealed key pair file, and
 * what KEY_LIST / KEY_GET reply. Parsing is strict: listings read it before anything is
 * unsealed, from a file that may be damaged or hostile.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "ct.h"
#include "json.h"
#include "keypair.h"
#include "seal.h"
#include "store.h"

static const char *const alg_names[_KEYPAIR_ALG_MAX] = {
	[KEYPAIR_RSA2048] = "rsa2048", [KEYPAIR_RSA3072] = "rsa3072",
	[KEYPAIR_RSA4096] = "rsa4096", [KEYPAIR_EC_P256] = "ec-p256",
	[KEYPAIR_EC_P384] = "ec-p384",
};

const char *keypair_alg_to_string(enum keypair_alg a)
{
	return a >= 0 && a < _KEYPAIR_ALG_MAX ? alg_names[a] : "invalid";
}

enum keypair_alg keypair_alg_from_string(const char *s)
{
	for (int i = 0; i < _KEYPAIR_ALG_MAX; i++)
		if (strcmp(s, alg_names[i]) == 0)
			return i;
	return _KEYPAIR_ALG_INVALID;
}

bool keypair_alg_is_rsa(enum keypair_alg a)
{
	return a == KEYPAIR_RSA2048 || a == KEYPAIR_RSA3072 || a == KEYPAIR_RSA4096;
}

static json_object *b64_string(const uint8_t *p, size_t n)
{
	_cleanup_free_ char *s = malloc(CT_BASE64_LEN(n) + 1);

	if (!s)
		return NULL;
	ct_base64_encode(s, p, n);
	return json_object_new_string(s);
}

static json_object *usage_array(uint32_t usage)
{
	json_object *a = json_object_new_array();

	if (a && (usage & KEYPAIR_USAGE_SIGN))
		json_object_array_add(a, json_object_new_string("sign"));
	if (a && (usage & KEYPAIR_USAGE_DECRYPT))
		json_object_array_add(a, json_object_new_string("decrypt"));
	return a;
}

int keypair_meta_to_json(const struct keypair_meta *meta, bool full, char **ret)
{
	_cleanup_(json_object_putp) json_object *o = json_object_new_object();
	_cleanup_free_ char *acl = NULL;
	char id[2 * KEYPAIR_ID_SIZE + 1];
	int r;

	if (!o)
		return -ENOMEM;
	r = acl_format_key(meta->acl, meta->n_acl, &acl);
	if (r < 0)
		return r;
	ct_hex_encode(id, meta->id, sizeof(meta->id));
	json_object_object_add(o, "name", json_object_new_string(meta->name));
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "alg", json_object_new_string(keypair_alg_to_string(meta->alg)));
	json_object_object_add(o, "usage", usage_array(meta->usage));
	key_lifecycle_to_json(o, &meta->life);
	json_object_object_add(o, "acl", json_object_new_string(acl));
	if (full) {
		json_object_object_add(o, "spki", b64_string(meta->spki, meta->spki_len));
		json_object_object_add(o, "cert", b64_string(meta->cert, meta->cert_len));
	}
	*ret = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
	return *ret ? 0 : -ENOMEM;
}

struct meta_json {
	struct keypair_meta m;
	const char *id, *alg, *acl, *spki, *cert;
	struct json_object *usage;
};

#define META_FIELD(n, t, fn, mem, lo, hi)                                                         \
	{ n, t, fn, offsetof(struct meta_json, mem), JSON_MANDATORY, lo, hi }
static const struct json_field meta_table[] = {
	META_FIELD("name", json_type_string, json_dispatch_key_name, m.name, 0, 0),
	META_FIELD("id", json_type_string, json_dispatch_string, id, 2 * KEYPAIR_ID_SIZE,
		   2 * KEYPAIR_ID_SIZE),
	META_FIELD("alg", json_type_string, json_dispatch_string, alg, 1, 32),
	META_FIELD("usage", json_type_array, json_dispatch_borrow, usage, 0, 0),
	KEY_LIFECYCLE_JSON_FIELDS(struct meta_json, m.life),
	META_FIELD("acl", json_type_string, json_dispatch_string, acl, 0, SEAL_META_MAX),
	META_FIELD("spki", json_type_string, json_dispatch_string, spki, 4,
		   CT_BASE64_LEN(KEYPAIR_SPKI_MAX)),
	META_FIELD("cert", json_type_string, json_dispatch_string, cert, 4,
		   CT_BASE64_LEN(KEYPAIR_CERT_MAX)),
	{}
};

static int parse_usage(struct meta_json *j, char *err, size_t errlen)
{
	size_t n = json_object_array_length(j->usage);

	for (size_t i = 0; i < n; i++) {
		const char *u = json_object_get_string(json_object_array_get_idx(j->usage, i));
		uint32_t bit = !u ? 0 : strcmp(u, "sign") == 0 ? KEYPAIR_USAGE_SIGN
				     : strcmp(u, "decrypt") == 0 ? KEYPAIR_USAGE_DECRYPT : 0;
		if (!bit || (j->m.usage & bit))
			return json_fail(err, errlen, -EBADMSG, "usage[%zu]: not sign or decrypt, "
					 "or repeated", i);
		j->m.usage |= bit;
	}
	if (!j->m.usage)
		return json_fail(err, errlen, -EBADMSG, "usage: empty");
	return 0;
}

static int parse_blobs(struct meta_json *j, char *err, size_t errlen)
{
	int n;

	if (ct_hex_decode(j->m.id, sizeof(j->m.id), j->id, strlen(j->id)) < 0)
		return json_fail(err, errlen, -EBADMSG, "id: not %u hex bytes", KEYPAIR_ID_SIZE);
	n = ct_base64_decode(j->m.spki, sizeof(j->m.spki), j->spki, strlen(j->spki));
	if (n <= 0)
		return json_fail(err, errlen, -EBADMSG, "spki: not base64 of at most %u bytes",
				 KEYPAIR_SPKI_MAX);
	j->m.spki_len = (size_t)n;
	n = ct_base64_decode(j->m.cert, sizeof(j->m.cert), j->cert, strlen(j->cert));
	if (n <= 0)
		return json_fail(err, errlen, -EBADMSG, "cert: not base64 of at most %u bytes",
				 KEYPAIR_CERT_MAX);
	j->m.cert_len = (size_t)n;
	return 0;
}

int keypair_meta_parse(const char *json, size_t len, struct keypair_meta *ret, char *err,
		       size_t errlen)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	_cleanup_free_ struct meta_json *j = calloc(1, sizeof(*j));
	int r;

	if (!j)
		return -ENOMEM;
	r = json_parse(json, len, SEAL_META_MAX, "key pair metadata", &o, err, errlen);
	if (r >= 0)
		r = json_dispatch(o, NULL, meta_table, j, err, errlen);
	if (r >= 0)
		r = parse_usage(j, err, errlen);
	if (r >= 0)
		r = parse_blobs(j, err, errlen);
	if (r < 0)
		return r;
	j->m.alg = keypair_alg_from_string(j->alg);
	if (j->m.alg < 0)
		return json_fail(err, errlen, -EBADMSG, "alg: unknown algorithm");
	if ((j->m.usage & KEYPAIR_USAGE_DECRYPT) && !keypair_alg_is_rsa(j->m.alg))
		return json_fail(err, errlen, -EBADMSG, "usage: decrypt needs an RSA key");
	if (acl_parse_key(j->acl, j->m.acl, &j->m.n_acl) < 0)
		return json_fail(err, errlen, -EBADMSG, "acl: not a valid access list");
	*ret = j->m;
	return 0;
}
