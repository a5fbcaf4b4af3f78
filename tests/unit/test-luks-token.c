/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: base64 (constant-time codec), LUKS2 "vhsm" token JSON, key-socket addresses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct.h"
#include "luks-token.h"
#include "../../daemon/luks-keysock.h"
#include "secmem.h"
#include "test.h"
#include "wrap.h"

TEST(base64_rfc4648_vectors)
{
	static const char *const in[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const out[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
					   "Zm9vYmFy" };
	char buf[16];
	uint8_t dec[8];

	for (size_t i = 0; i < 7; i++) {
		ct_base64_encode(buf, (const uint8_t *)in[i], strlen(in[i]));
		ASSERT_STREQ(buf, out[i]);
		ASSERT_EQ(ct_base64_decode(dec, sizeof(dec), out[i], strlen(out[i])),
			  (int)strlen(in[i]));
		ASSERT_MEMEQ(dec, in[i], strlen(in[i]));
	}
}

TEST(base64_all_bytes_roundtrip)
{
	uint8_t in[256], dec[256];
	char enc[CT_BASE64_LEN(256) + 1];

	for (size_t i = 0; i < 256; i++)
		in[i] = (uint8_t)i;
	for (size_t n = 0; n <= 256; n += 37) {
		ct_base64_encode(enc, in, n);
		ASSERT_EQ(strlen(enc), CT_BASE64_LEN(n));
		ASSERT_EQ(ct_base64_decode(dec, sizeof(dec), enc, strlen(enc)), (int)n);
		ASSERT_MEMEQ(dec, in, n);
	}
}

TEST(base64_rejects_noncanonical)
{
	static const char *const bad[] = { "Zg=", "Zh==", "Zm9=", "Z===", "Zg==Zg==", "Zm9v!", "Zm 9",
					   "=Zm9", "Zm8=\n", "Zm-v", "Zm_v", "====" };
	uint8_t dec[16] = { 1 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_LT(ct_base64_decode(dec, sizeof(dec), bad[i], strlen(bad[i])), 0);
	ASSERT_EQ(ct_base64_decode(dec, 2, "Zm9v", 4), -EMSGSIZE);
}

TEST(base64url_unpadded_vectors)
{
	static const char *const in[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const out[] = { "", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy" };
	static const uint8_t hi[] = { 0xfb, 0xff, 0xbf };
	char buf[16];
	uint8_t dec[8];

	for (size_t i = 0; i < 7; i++) {
		ASSERT_EQ(ct_base64url_encode(buf, (const uint8_t *)in[i], strlen(in[i])),
			  strlen(out[i]));
		ASSERT_STREQ(buf, out[i]);
		ASSERT_EQ(ct_base64_decode_full(dec, sizeof(dec), out[i], strlen(out[i]),
						CT_BASE64_URL_TOO | CT_BASE64_PAD_OPTIONAL),
			  (int)strlen(in[i]));
		ASSERT_MEMEQ(dec, in[i], strlen(in[i]));
	}
	/* Digits 62 and 63: '-' '_' in the URL-safe alphabet, '+' '/' in the standard one. */
	ct_base64_encode(buf, hi, sizeof(hi));
	ASSERT_STREQ(buf, "+/+/");
	ct_base64url_encode(buf, hi, sizeof(hi));
	ASSERT_STREQ(buf, "-_-_");
	ASSERT_EQ(ct_base64_decode_full(dec, sizeof(dec), "-_+/", 4, CT_BASE64_URL_TOO), 3);
	ASSERT_MEMEQ(dec, hi, sizeof(hi));
	/* Padded text is still read with padding optional. */
	ASSERT_EQ(ct_base64_decode_full(dec, sizeof(dec), "Zg==", 4, CT_BASE64_PAD_OPTIONAL), 1);
}

TEST(base64_decode_full_refuses)
{
	/* Liberties only where asked for: the URL alphabet and missing padding. */
	static const struct {
		const char *in;
		unsigned flags;
	} bad[] = {
		{ "-_-_", 0 }, { "Zg", 0 }, { "Zg", CT_BASE64_URL_TOO },
		{ "-_-_", CT_BASE64_PAD_OPTIONAL }, { "Z", CT_BASE64_PAD_OPTIONAL },
		{ "Zm9vY", CT_BASE64_PAD_OPTIONAL }, { "Zg=", CT_BASE64_PAD_OPTIONAL },
		{ "Zh", CT_BASE64_PAD_OPTIONAL }, { "Zm9", CT_BASE64_PAD_OPTIONAL },
		{ "Zm=v", CT_BASE64_PAD_OPTIONAL | CT_BASE64_URL_TOO },
		{ "Zm9v!", CT_BASE64_PAD_OPTIONAL | CT_BASE64_URL_TOO },
		{ "Zm.v", CT_BASE64_PAD_OPTIONAL | CT_BASE64_URL_TOO },
	};
	uint8_t dec[16];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_EQ(ct_base64_decode_full(dec, sizeof(dec), bad[i].in, strlen(bad[i].in),
						bad[i].flags),
			  -EBADMSG);
	ASSERT_EQ(ct_base64_decode_full(dec, 2, "Zm9v", 4, CT_BASE64_PAD_OPTIONAL), -EMSGSIZE);
	ASSERT_EQ(ct_base64_decode_full(dec, 1, "Zm8", 3, CT_BASE64_PAD_OPTIONAL), -EMSGSIZE);
}

/* A valid token for KEK "disk-kek" version 3, keyslot 1, with its JSON. */
static int make_token(struct luks_token *t, char **ret_json)
{
	static const uint8_t dkey[32] = { 0xd1, 0x4e, 7 }, kek[32] = { 0x4b, 0xe4 };
	static const uint8_t secret[64] = { 0x5e, 0xc2 };
	struct seal_params p = { .profile = SEAL_PROFILE_STRICT, .guest_svn = 1, .tcb_version = 7 };
	struct seal_binding b = { .guest_policy = 0x30000 };
	static const char meta[] = "{\"kek\":\"disk-kek\",\"kek_version\":3,\"use\":\"luks2-token\"}";
	uint8_t *blob = NULL;
	size_t len;
	int r;

	memset(t, 0, sizeof(*t));
	r = seal_blob(dkey, &p, &b, "disk-kek", (const uint8_t *)meta, strlen(meta), kek, 32, &blob,
		      &len);
	if (r < 0 || len > sizeof(t->sealed_kek))
		return -EIO;
	memcpy(t->sealed_kek, blob, len);
	t->sealed_kek_len = len;
	free(blob);
	r = wrap_key(kek, WRAP_PURPOSE_LUKS, "disk-kek", 3, (const uint8_t *)"vhsm-luks2:u", 12,
		     secret, 64, &blob, &len);
	if (r < 0 || len > sizeof(t->wrapped_secret))
		return -EIO;
	memcpy(t->wrapped_secret, blob, len);
	t->wrapped_secret_len = len;
	free(blob);
	t->keyslot = 1;
	snprintf(t->kek, sizeof(t->kek), "disk-kek");
	t->kek_version = 3;
	t->profile = SEAL_PROFILE_STRICT;
	memset(t->policy_digest, 0xab, 32);
	return luks_token_to_json(t, ret_json);
}

TEST(luks_token_roundtrip)
{
	struct luks_token t, u;
	char *json = NULL, why[256];

	ASSERT_OK(make_token(&t, &json));
	ASSERT_LT(strlen(json), 1500);
	ASSERT_EQ(luks_token_parse(json, strlen(json), &u, why, sizeof(why)), 0);
	ASSERT_EQ(u.keyslot, 1);
	ASSERT_STREQ(u.kek, "disk-kek");
	ASSERT_EQ(u.kek_version, 3);
	ASSERT_EQ(u.profile, SEAL_PROFILE_STRICT);
	ASSERT_MEMEQ(u.policy_digest, t.policy_digest, 32);
	ASSERT_EQ(u.sealed_kek_len, t.sealed_kek_len);
	ASSERT_MEMEQ(u.sealed_kek, t.sealed_kek, t.sealed_kek_len);
	ASSERT_EQ(u.wrapped_secret_len, t.wrapped_secret_len);
	ASSERT_MEMEQ(u.wrapped_secret, t.wrapped_secret, t.wrapped_secret_len);
	free(json);
}

/* Replaces the first occurrence of from by to in json; parses; expects -EBADMSG naming what. */
static bool rejects(const char *json, const char *from, const char *to, const char *what)
{
	char *buf = malloc(strlen(json) + strlen(to) + 1), why[256] = "";
	const char *at = strstr(json, from);
	struct luks_token t;
	bool ok;

	if (!buf || !at) {
		free(buf);
		fprintf(stderr, "    no '%s' in the token\n", from);
		return false;
	}
	sprintf(buf, "%.*s%s%s", (int)(at - json), json, to, at + strlen(from));
	ok = luks_token_parse(buf, strlen(buf), &t, why, sizeof(why)) == -EBADMSG &&
	     strstr(why, what) != NULL;
	if (!ok)
		fprintf(stderr, "    '%s' -> '%s': got '%s'\n", from, to, why);
	free(buf);
	return ok;
}

TEST(luks_token_rejects_each_field)
{
	struct luks_token t;
	char *json = NULL;

	ASSERT_OK(make_token(&t, &json));
	ASSERT_TRUE(rejects(json, "\"type\":\"vhsm\"", "\"type\":\"vhsm2\"", "type"));
	ASSERT_TRUE(rejects(json, "\"type\":\"vhsm\"", "\"type\":1", "type"));
	ASSERT_TRUE(rejects(json, "[\"1\"]", "[\"1\",\"2\"]", "keyslots"));
	ASSERT_TRUE(rejects(json, "[\"1\"]", "[\"01\"]", "keyslots"));
	ASSERT_TRUE(rejects(json, "[\"1\"]", "[\"32\"]", "keyslots"));
	ASSERT_TRUE(rejects(json, "[\"1\"]", "[1]", "keyslots"));
	ASSERT_TRUE(rejects(json, "[\"1\"]", "[]", "keyslots"));
	ASSERT_TRUE(rejects(json, "\"vhsm_version\":1", "\"vhsm_version\":2", "vhsm_version"));
	ASSERT_TRUE(rejects(json, "\"kek\":\"disk-kek\"", "\"kek\":\"other\"", "sealed_kek"));
	ASSERT_TRUE(rejects(json, "\"kek\":\"disk-kek\"", "\"kek\":\"-x\"", "kek"));
	ASSERT_TRUE(rejects(json, "\"kek\":\"disk-kek\"", "\"kek\":\"a/b\"", "kek"));
	ASSERT_TRUE(rejects(json, "\"kek\":\"disk-kek\"", "\"kek\":\"disk-kek\\u0000\"", "kek"));
	ASSERT_TRUE(rejects(json, "\"kek_version\":3", "\"kek_version\":4", "wrapped_secret"));
	ASSERT_TRUE(rejects(json, "\"kek_version\":3", "\"kek_version\":3.0", "kek_version"));
	ASSERT_TRUE(rejects(json, "\"kek_version\":3", "\"kek_version\":-3", "kek_version"));
	ASSERT_TRUE(rejects(json, "\"kek_version\":3", "\"kek_version\":\"3\"", "kek_version"));
	ASSERT_TRUE(rejects(json, "\"kek_version\":3", "\"kek_version\":0", "kek_version"));
	ASSERT_TRUE(rejects(json, "\"profile\":\"strict\"", "\"profile\":\"author\"", "sealed_kek"));
	ASSERT_TRUE(rejects(json, "\"profile\":\"strict\"", "\"profile\":\"lax\"", "profile"));
	ASSERT_TRUE(rejects(json, "\"policy_digest\":\"ab", "\"policy_digest\":\"zz", "policy_digest"));
	ASSERT_TRUE(rejects(json, "\"policy_digest\":\"ab", "\"policy_digest\":\"", "policy_digest"));
	ASSERT_TRUE(rejects(json, "\"sealed_kek\":\"", "\"sealed_kek\":\"AAAA", "sealed_kek"));
	ASSERT_TRUE(rejects(json, "\"wrapped_secret\":\"", "\"wrapped_secret\":\"A", "wrapped_secret"));
	ASSERT_TRUE(rejects(json, "\"type\"", "\"extra\":true,\"type\"", "unknown member"));
	ASSERT_TRUE(rejects(json, "\"vhsm_version\":1,", "", "missing"));
	ASSERT_TRUE(rejects(json, "{", "[{", "JSON"));
	ASSERT_TRUE(rejects(json, "{", "{}{", "JSON"));
	free(json);
}

/* kek disable withdraws the sealed copy: such a token parses and builds without the member;
 * an empty or damaged one is still refused. */
TEST(luks_token_without_sealed_copy)
{
	struct luks_token t, u;
	char *json = NULL, *json2 = NULL, why[256];

	ASSERT_OK(make_token(&t, &json));
	free(json);
	t.sealed_kek_len = 0;
	ASSERT_OK(luks_token_to_json(&t, &json));
	ASSERT_TRUE(strstr(json, "sealed_kek") == NULL);
	ASSERT_EQ(luks_token_parse(json, strlen(json), &u, why, sizeof(why)), 0);
	ASSERT_EQ(u.sealed_kek_len, 0);
	ASSERT_STREQ(u.kek, "disk-kek");
	ASSERT_EQ(u.wrapped_secret_len, t.wrapped_secret_len);
	ASSERT_MEMEQ(u.wrapped_secret, t.wrapped_secret, t.wrapped_secret_len);
	ASSERT_OK(luks_token_to_json(&u, &json2));
	ASSERT_STREQ(json2, json);
	ASSERT_TRUE(rejects(json, "\"wrapped_secret\"", "\"sealed_kek\":\"\",\"wrapped_secret\"",
			    "sealed_kek"));
	ASSERT_TRUE(rejects(json, "\"wrapped_secret\"", "\"sealed_kek\":\"AAAA\",\"wrapped_secret\"",
			    "sealed_kek"));
	ASSERT_TRUE(rejects(json, "\"wrapped_secret\"", "\"sealed_kek\":1,\"wrapped_secret\"",
			    "sealed_kek"));
	free(json);
	free(json2);
}

TEST(luks_token_rejects_size_and_garbage)
{
	struct luks_token t;
	char *big = malloc(LUKS_TOKEN_JSON_MAX + 2), why[128];

	ASSERT_TRUE(big != NULL);
	memset(big, ' ', LUKS_TOKEN_JSON_MAX + 1);
	big[0] = '{';
	big[LUKS_TOKEN_JSON_MAX] = '}';
	ASSERT_EQ(luks_token_parse(big, LUKS_TOKEN_JSON_MAX + 1, &t, why, sizeof(why)), -EMSGSIZE);
	free(big);
	ASSERT_EQ(luks_token_parse("", 0, &t, NULL, 0), -EBADMSG);
	ASSERT_EQ(luks_token_parse("null", 4, &t, NULL, 0), -EBADMSG);
	ASSERT_EQ(luks_token_parse("{\"type\":\"vhsm\"\0}", 16, &t, NULL, 0), -EBADMSG);
	ASSERT_EQ(luks_token_parse("{\"type\":\"vhsm\"}", 15, &t, why, sizeof(why)), -EBADMSG);
	ASSERT_TRUE(strstr(why, "missing") != NULL);
}

TEST(luks_token_context)
{
	char buf[96];

	ASSERT_EQ(luks_token_context("1234-ab", buf, sizeof(buf)), 18);
	ASSERT_STREQ(buf, "vhsm-luks2:1234-ab");
	ASSERT_EQ(luks_token_context("", buf, sizeof(buf)), -EINVAL);
	ASSERT_EQ(luks_token_context("a b", buf, sizeof(buf)), -EINVAL);
	ASSERT_EQ(luks_token_context("a/b", buf, sizeof(buf)), -EINVAL);
}

static int volume_of(const char *addr, size_t len, char *vol, size_t vlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memcpy(sa.sun_path, addr, len);
	return luks_keysock_volume(&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len),
				   vol, vlen);
}

TEST(luks_keysock_peer_address)
{
	char vol[65];

#define ADDR(s) s, sizeof(s) - 1
	ASSERT_EQ(volume_of(ADDR("\0" "6d2682570c4985c8/cryptsetup/data"), vol, sizeof(vol)), 0);
	ASSERT_STREQ(vol, "data");
	ASSERT_EQ(volume_of(ADDR("\0" "6d26/cryptsetup-tpm2/data"), vol, sizeof(vol)), -EBADMSG);
	ASSERT_EQ(volume_of(ADDR("\0" "/cryptsetup/data"), vol, sizeof(vol)), -EBADMSG);
	ASSERT_EQ(volume_of(ADDR("\0" "6d26/cryptsetup/"), vol, sizeof(vol)), -EBADMSG);
	ASSERT_EQ(volume_of(ADDR("\0" "6d26/cryptsetup/a/b"), vol, sizeof(vol)), -EBADMSG);
	ASSERT_EQ(volume_of(ADDR("\0" "6d26/cryptsetup/a\0b"), vol, sizeof(vol)), -EBADMSG);
	ASSERT_EQ(volume_of(ADDR("/run/x/cryptsetup/data"), vol, sizeof(vol)), -EBADMSG);
	ASSERT_EQ(volume_of(ADDR("\0" "XYZ/cryptsetup/data"), vol, sizeof(vol)), -EBADMSG);
	ASSERT_EQ(volume_of(ADDR(""), vol, sizeof(vol)), -EBADMSG);
#undef ADDR
}
