/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Wrapping of DEKs and keyslot secrets under a KEK version (see wrap.h).
 *
 * Every wrap draws a fresh 32-byte salt, so every wrap has its own AES-256-GCM key and the
 * 96-bit random nonce is used exactly once under that key: the GCM nonce-reuse bound never
 * applies however many DEKs one KEK wraps. The context is hashed into the AAD, so a blob
 * moved to another device, volume or purpose does not unwrap.
 */
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "aead.h"
#include "algs.h"
#include "hkdf.h"
#include "log.h"
#include "secmem.h"
#include "text.h"
#include "wrap.h"

#define WRAP_MAGIC_V1 "VHW1"
#define WRAP_MAGIC_V2 "VHW2"
#define WRAP_MAGIC_LEN 4u
#define WRAP_ALG_HKDF_AES256GCM 1u
#define WRAP_SALT_LEN 32u
#define WRAP_NONCE_LEN 12u
#define WRAP_TAG_LEN 16u
#define WRAP_KEY_LEN 32u
#define WRAP_INFO_V1 "vhsm-wrap-v1"
#define WRAP_INFO_V2 "vhsm-wrap-v2"
/* Bytes of a v1 header besides the name: magic, alg, name_len, version, salt, nonce, ct_len;
 * v2 adds the purpose byte. */
#define WRAP_HEADER_FIXED (WRAP_MAGIC_LEN + 1u + 1u + 4u + WRAP_SALT_LEN + WRAP_NONCE_LEN + 4u)
#define WRAP_HEADER_FIXED_V2 (WRAP_HEADER_FIXED + 1u)

_Static_assert(WRAP_HEADER_FIXED_V2 + WRAP_NAME_MAX + WRAP_PLAINTEXT_MAX + WRAP_TAG_LEN <=
		       WRAP_BLOB_MAX,
	       "largest blob fits WRAP_BLOB_MAX");
_Static_assert(WRAP_KEY_LEN == AEAD_GCM_KEY_SIZE && WRAP_NONCE_LEN == AEAD_GCM_NONCE_SIZE &&
		       WRAP_TAG_LEN == AEAD_GCM_TAG_SIZE,
	       "the format's sizes are AES-256-GCM's");

/* ---- format ---- */

/* Where the parts of a well-formed blob are. */
struct wrap_layout {
	uint8_t format;
	enum wrap_purpose purpose; /* format 2 only */
	const uint8_t *name;
	size_t name_len;
	uint32_t kek_version;
	const uint8_t *salt, *nonce;
	size_t header_len; /* magic .. ct_len */
	size_t ct_len;
};

const char *wrap_purpose_to_string(enum wrap_purpose p)
{
	switch (p) {
	case WRAP_PURPOSE_GENERIC:
		return "generic wrapped key";
	case WRAP_PURPOSE_DEK:
		return "DEK";
	case WRAP_PURPOSE_LUKS:
		return "LUKS keyslot secret";
	default:
		return NULL;
	}
}

static bool has_prefix(const uint8_t *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && memcmp(s, prefix, n) == 0;
}

enum wrap_purpose wrap_context_purpose(const uint8_t *ctx, size_t ctx_len)
{
	if (ctx && has_prefix(ctx, ctx_len, WRAP_CONTEXT_DEK_PREFIX))
		return WRAP_PURPOSE_DEK;
	if (ctx && has_prefix(ctx, ctx_len, WRAP_CONTEXT_LUKS_PREFIX))
		return WRAP_PURPOSE_LUKS;
	return WRAP_PURPOSE_GENERIC;
}

/* Magic, and for format 2 the purpose byte. Returns the offset of name_len or -EBADMSG. */
static int wrap_magic_parse(const uint8_t *blob, struct wrap_layout *l)
{
	if (blob[WRAP_MAGIC_LEN] != WRAP_ALG_HKDF_AES256GCM)
		return -EBADMSG;
	if (memcmp(blob, WRAP_MAGIC_V1, WRAP_MAGIC_LEN) == 0) {
		l->format = 1;
		return WRAP_MAGIC_LEN + 1;
	}
	if (memcmp(blob, WRAP_MAGIC_V2, WRAP_MAGIC_LEN) != 0)
		return -EBADMSG;
	l->format = 2;
	l->purpose = blob[WRAP_MAGIC_LEN + 1];
	if (!wrap_purpose_to_string(l->purpose))
		return -EBADMSG;
	return WRAP_MAGIC_LEN + 2;
}

static int wrap_layout_parse(const uint8_t *blob, size_t len, struct wrap_layout *ret)
{
	struct wrap_layout l = {};
	size_t off;
	int r;

	if (!blob || len < WRAP_HEADER_FIXED + 1u + WRAP_TAG_LEN || len > WRAP_BLOB_MAX)
		return -EBADMSG;
	r = wrap_magic_parse(blob, &l);
	if (r < 0)
		return r;
	off = (size_t)r;
	l.name_len = blob[off];
	l.name = blob + off + 1;
	l.header_len = (l.format == 1 ? WRAP_HEADER_FIXED : WRAP_HEADER_FIXED_V2) + l.name_len;
	/* len >= WRAP_HEADER_FIXED + 17 was checked, so the name bytes exist only if this holds. */
	if (len < l.header_len + 1u + WRAP_TAG_LEN ||
	    !text_name_valid(l.name, l.name_len, WRAP_NAME_MAX))
		return -EBADMSG;
	off += 1u + l.name_len;
	l.kek_version = le32_get(blob + off);
	off += 4;
	l.salt = blob + off;
	off += WRAP_SALT_LEN;
	l.nonce = blob + off;
	off += WRAP_NONCE_LEN;
	l.ct_len = le32_get(blob + off);
	if (l.ct_len == 0 || l.ct_len > WRAP_PLAINTEXT_MAX ||
	    len != l.header_len + l.ct_len + WRAP_TAG_LEN)
		return -EBADMSG;
	*ret = l;
	return 0;
}

int wrap_parse(const uint8_t *blob, size_t len, struct wrap_info *ret)
{
	struct wrap_layout l;
	int r;

	r = wrap_layout_parse(blob, len, &l);
	if (r < 0)
		return r;
	memcpy(ret->kek_name, l.name, l.name_len);
	ret->kek_name[l.name_len] = '\0';
	ret->kek_version = l.kek_version;
	ret->plaintext_len = l.ct_len;
	ret->format = l.format;
	ret->purpose = l.format == 2 ? l.purpose : _WRAP_PURPOSE_INVALID;
	return 0;
}

/* SHA-256 of contexts (public data): one kept context instead of a new one per unwrap. */
static pthread_mutex_t ctx_md_lock = PTHREAD_MUTEX_INITIALIZER;
static EVP_MD_CTX *ctx_md; /* under ctx_md_lock */

/* AAD tail: SHA-256 of the context, so that any context length costs 32 bytes of AAD. */
static int wrap_context_hash(const uint8_t *ctx, size_t ctx_len, uint8_t ret[static 32])
{
	unsigned n = 0;
	bool ok;

	if (!algs_sha256())
		return vhsm_log_openssl(-EIO, "EVP_MD_fetch(SHA256)");
	(void)pthread_mutex_lock(&ctx_md_lock);
	if (!ctx_md)
		ctx_md = EVP_MD_CTX_new();
	ok = ctx_md && EVP_DigestInit_ex(ctx_md, algs_sha256(), NULL) == 1 &&
	     (ctx_len == 0 || EVP_DigestUpdate(ctx_md, ctx, ctx_len) == 1) &&
	     EVP_DigestFinal_ex(ctx_md, ret, &n) == 1 && n == 32;
	(void)pthread_mutex_unlock(&ctx_md_lock);
	if (!ok)
		return vhsm_log_openssl(-EIO, "SHA-256(context)");
	return 0;
}

/* Each format its own HKDF info: a v2 blob rewritten as v1 does not even share its key. */
static int wrap_derive_key(const uint8_t kek[static 32], const struct wrap_layout *l,
			   uint8_t ret[static WRAP_KEY_LEN])
{
	const char *info = l->format == 1 ? WRAP_INFO_V1 : WRAP_INFO_V2;

	return hkdf_sha256(kek, 32, l->salt, WRAP_SALT_LEN, (const uint8_t *)info, strlen(info),
			   ret, WRAP_KEY_LEN);
}

/* Writes the v2 header for purpose/name/version/ct_len with a fresh salt and nonce. Returns
 * 0 or -EIO. */
static int wrap_header_build(uint8_t *h, enum wrap_purpose purpose, const char *name,
			     size_t name_len, uint32_t version, size_t ct_len)
{
	size_t off = 0;

	memcpy(h, WRAP_MAGIC_V2, WRAP_MAGIC_LEN);
	off += WRAP_MAGIC_LEN;
	h[off++] = WRAP_ALG_HKDF_AES256GCM;
	h[off++] = (uint8_t)purpose;
	h[off++] = (uint8_t)name_len;
	memcpy(h + off, name, name_len);
	off += name_len;
	le32_put(h + off, version);
	off += 4;
	if (RAND_bytes(h + off, WRAP_SALT_LEN + WRAP_NONCE_LEN) != 1)
		return vhsm_log_openssl(-EIO, "RAND_bytes");
	off += WRAP_SALT_LEN + WRAP_NONCE_LEN;
	le32_put(h + off, (uint32_t)ct_len);
	return 0;
}

int wrap_key(const uint8_t kek[static 32], enum wrap_purpose purpose, const char *kek_name,
	     uint32_t kek_version, const uint8_t *ctx, size_t ctx_len, const uint8_t *pt,
	     size_t pt_len, uint8_t **ret_blob, size_t *ret_len)
{
	_cleanup_free_ uint8_t *blob = NULL;
	uint8_t key[WRAP_KEY_LEN], ctx_hash[32];
	CLEANUP_ERASE(key);
	struct wrap_layout l = {};
	size_t name_len, total;
	int r;

	if (!kek_name || !pt || pt_len == 0 || (!ctx && ctx_len > 0) ||
	    !wrap_purpose_to_string(purpose))
		return -EINVAL;
	/* Only the daemon's own DEK and LUKS code makes blobs with their contexts. */
	if (purpose == WRAP_PURPOSE_GENERIC &&
	    wrap_context_purpose(ctx, ctx_len) != WRAP_PURPOSE_GENERIC)
		return -EPERM;
	if (pt_len > WRAP_PLAINTEXT_MAX || ctx_len > WRAP_CONTEXT_MAX)
		return -EMSGSIZE;
	name_len = strnlen(kek_name, WRAP_NAME_MAX + 1);
	if (name_len > WRAP_NAME_MAX)
		return -EMSGSIZE;
	if (!text_name_valid((const uint8_t *)kek_name, name_len, WRAP_NAME_MAX))
		return -EINVAL;

	total = WRAP_HEADER_FIXED_V2 + name_len + pt_len + WRAP_TAG_LEN;
	blob = malloc(total);
	if (!blob)
		return -ENOMEM;
	r = wrap_header_build(blob, purpose, kek_name, name_len, kek_version, pt_len);
	/* Reading our own header back gives the same offsets unwrap_key() will use. */
	if (r >= 0)
		r = wrap_layout_parse(blob, total, &l);
	if (r >= 0)
		r = wrap_context_hash(ctx, ctx_len, ctx_hash);
	if (r >= 0)
		r = wrap_derive_key(kek, &l, key);
	if (r < 0)
		return r;
	r = aead_gcm_encrypt(key, l.nonce, blob, l.header_len, ctx_hash, sizeof(ctx_hash), pt,
			     pt_len, blob + l.header_len, blob + l.header_len + pt_len);
	if (r < 0)
		return r;
	*ret_blob = TAKE_PTR(blob);
	*ret_len = total;
	return 0;
}

/* The purpose a parsed blob was made for: its header's (v2), or its context's (v1). */
static enum wrap_purpose wrap_blob_purpose(const struct wrap_layout *l, const uint8_t *ctx,
					   size_t ctx_len)
{
	return l->format == 2 ? l->purpose : wrap_context_purpose(ctx, ctx_len);
}

int unwrap_key(const uint8_t kek[static 32], enum wrap_purpose purpose, const uint8_t *blob,
	       size_t len, const uint8_t *ctx, size_t ctx_len, uint8_t **ret_pt, size_t *ret_len)
{
	_cleanup_secmem_ uint8_t *pt = NULL;
	uint8_t key[WRAP_KEY_LEN], ctx_hash[32];
	CLEANUP_ERASE(key);
	struct wrap_layout l;
	int r;

	if (!ctx && ctx_len > 0)
		return -EINVAL;
	if (ctx_len > WRAP_CONTEXT_MAX)
		return -EMSGSIZE;
	r = wrap_layout_parse(blob, len, &l);
	if (r < 0)
		return r;
	if (wrap_blob_purpose(&l, ctx, ctx_len) != purpose)
		return -EMEDIUMTYPE;
	pt = secmem_alloc(l.ct_len);
	if (!pt)
		return negative_errno();
	r = wrap_context_hash(ctx, ctx_len, ctx_hash);
	if (r >= 0)
		r = wrap_derive_key(kek, &l, key);
	if (r < 0)
		return r;
	r = aead_gcm_decrypt(key, l.nonce, blob, l.header_len, ctx_hash, sizeof(ctx_hash),
			     blob + l.header_len, l.ct_len, pt, blob + l.header_len + l.ct_len);
	if (r < 0)
		return r;
	*ret_pt = TAKE_PTR(pt);
	*ret_len = l.ct_len;
	return 0;
}
