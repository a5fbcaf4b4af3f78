/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sealing to this confidential VM with the SNP derived key (see seal.h and docs/sealing.md).
 *
 * Blob format 1 (integers little-endian; L = label length, M = meta length):
 *
 *   0x000   8  magic "VHSMSEAL"
 *   0x008   2  format (1)
 *   0x00A   1  profile (0 strict, 1 author, 2 vtpm)
 *   0x00B   4  vmpl            \
 *   0x00F   4  guest_svn        > MSG_KEY_REQ parameters
 *   0x013   8  tcb_version     /  (the pinned TCB)
 *   0x01B  48  measurement     \
 *   0x04B  16  family_id        |
 *   0x05B  16  image_id         > binding summary (explanations only)
 *   0x06B  32  SHA-256(CHIP_ID) |
 *   0x08B   8  guest_policy     |
 *   0x093  32  policy_digest   /
 *   0x0B3   1  L (1..255)
 *   0x0B4   L  label
 *   +L      4  M (0..SEAL_META_MAX)
 *   +4      M  meta
 *   vtpm only:  +M  2  T (1..SEAL_TPM_OBJECT_MAX)
 *               +2  T  the TPM object sealing the key (lib/tpm2-seal's blob)
 *   +M (+2+T) 32  salt
 *   +32    12  nonce
 *   +12     4  ciphertext length C (1..SEAL_PLAINTEXT_MAX)
 *   = header_len = 0xE8 + L + M (+ 2 + T): everything above is the GCM AAD and part of the HKDF info
 *   then C bytes of ciphertext and a 16-byte tag; the blob is exactly header_len + C + 16.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "aead.h"
#include "algs.h"
#include "hkdf.h"
#include "log.h"
#include "seal.h"
#include "secmem.h"
#include "text.h"

#define SEAL_MAGIC "VHSMSEAL"
#define SEAL_MAGIC_LEN 8u
#define SEAL_FORMAT 1u
#define SEAL_SALT_LEN 32u
#define SEAL_NONCE_LEN 12u
#define SEAL_TAG_LEN 16u
#define SEAL_KEY_LEN 32u
#define SEAL_INFO "vhsm-seal-v1"
#define SEAL_INFO_LEN (sizeof(SEAL_INFO) - 1)
#define SEAL_VMPL_MAX 3u

/* Offsets of the fixed part. */
enum {
	SEAL_OFF_FORMAT = 0x08,
	SEAL_OFF_PROFILE = 0x0a,
	SEAL_OFF_VMPL = 0x0b,
	SEAL_OFF_GUEST_SVN = 0x0f,
	SEAL_OFF_TCB = 0x13,
	SEAL_OFF_MEASUREMENT = 0x1b,
	SEAL_OFF_FAMILY_ID = 0x4b,
	SEAL_OFF_IMAGE_ID = 0x5b,
	SEAL_OFF_CHIP_HASH = 0x6b,
	SEAL_OFF_GUEST_POLICY = 0x8b,
	SEAL_OFF_POLICY_DIGEST = 0x93,
	SEAL_OFF_LABEL_LEN = 0xb3,
	SEAL_OFF_LABEL = 0xb4,
};
/* After the label: meta length, then after meta: salt, nonce, ciphertext length. */
#define SEAL_TAIL_LEN (SEAL_SALT_LEN + SEAL_NONCE_LEN + 4u)
#define SEAL_HEADER_FIXED (SEAL_OFF_LABEL + 4u + SEAL_TAIL_LEN) /* 0xE8 */

_Static_assert(SEAL_HEADER_FIXED == 0xe8, "fixed header size");
_Static_assert(SEAL_KEY_LEN == AEAD_GCM_KEY_SIZE && SEAL_NONCE_LEN == AEAD_GCM_NONCE_SIZE &&
		       SEAL_TAG_LEN == AEAD_GCM_TAG_SIZE,
	       "the format's sizes are AES-256-GCM's");
_Static_assert(SEAL_HEADER_FIXED + SEAL_LABEL_MAX + SEAL_META_MAX + 2u + SEAL_TPM_OBJECT_MAX +
			       SEAL_PLAINTEXT_MAX + SEAL_TAG_LEN <= SEAL_BLOB_MAX,
	       "largest blob fits SEAL_BLOB_MAX");

static uint16_t seal_le16_get(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static const char *const seal_profile_names[_SEAL_PROFILE_MAX] = {
	[SEAL_PROFILE_STRICT] = "strict",
	[SEAL_PROFILE_AUTHOR] = "author",
	[SEAL_PROFILE_VTPM] = "vtpm",
};

const char *seal_profile_to_string(enum seal_profile p)
{
	if (p < 0 || p >= _SEAL_PROFILE_MAX)
		return NULL;
	return seal_profile_names[p];
}

enum seal_profile seal_profile_from_string(const char *s)
{
	if (!s)
		return _SEAL_PROFILE_INVALID;
	for (int p = 0; p < _SEAL_PROFILE_MAX; p++)
		if (strcmp(s, seal_profile_names[p]) == 0)
			return (enum seal_profile)p;
	return _SEAL_PROFILE_INVALID;
}

uint64_t seal_profile_field_select(enum seal_profile p)
{
	/* Both pin guest SVN and TCB so that a rollback of either derives another key. */
	const uint64_t common = SNP_FIELD_POLICY | SNP_FIELD_GUEST_SVN | SNP_FIELD_TCB_VERSION;

	switch (p) {
	case SEAL_PROFILE_STRICT:
		return common | SNP_FIELD_MEASUREMENT;
	case SEAL_PROFILE_AUTHOR:
		return common | SNP_FIELD_FAMILY_ID | SNP_FIELD_IMAGE_ID;
	default:
		return 0;
	}
}

bool seal_profile_uses_tpm(enum seal_profile p)
{
	return p == SEAL_PROFILE_VTPM;
}

void seal_params_from_report(enum seal_profile p, const struct snp_report *r,
			     struct seal_params *ret)
{
	*ret = (struct seal_params){
		.profile = p,
		.vmpl = r->vmpl,
		.guest_svn = r->guest_svn,
		.tcb_version = r->committed_tcb,
	};
}

void seal_key_request(const struct seal_params *p, struct snp_key_request *ret)
{
	*ret = (struct snp_key_request){
		.root_key_select = 0,
		.key_sel = 0,
		.field_select = seal_profile_field_select(p->profile),
		.vmpl = p->vmpl,
		.guest_svn = p->guest_svn,
		.tcb_version = p->tcb_version,
	};
}

static int sha256(const uint8_t *in, size_t len, uint8_t ret[static 32])
{
	if (!algs_sha256() || EVP_Digest(in, len, ret, NULL, algs_sha256(), NULL) != 1)
		return vhsm_log_openssl(-EIO, "SHA-256");
	ERR_clear_error();
	return 0;
}

void seal_binding_from_report(const struct snp_report *r, const uint8_t policy_digest[static 32],
			      struct seal_binding *ret)
{
	struct seal_binding b = { .guest_policy = r->policy };

	memcpy(b.measurement, r->measurement, sizeof(b.measurement));
	memcpy(b.family_id, r->family_id, sizeof(b.family_id));
	memcpy(b.image_id, r->image_id, sizeof(b.image_id));
	memcpy(b.policy_digest, policy_digest, sizeof(b.policy_digest));
	/* Cannot fail short of a broken libcrypto; the hash only feeds explanations. */
	if (sha256(r->chip_id, sizeof(r->chip_id), b.chip_id_sha256) < 0)
		memset(b.chip_id_sha256, 0, sizeof(b.chip_id_sha256));
	*ret = b;
}

/* ---- header ---- */

/* The fixed-size part: key request parameters and binding. blob holds SEAL_HEADER_FIXED. */
static int seal_parse_fixed(const uint8_t *blob, struct seal_header *h)
{
	uint8_t profile = blob[SEAL_OFF_PROFILE];

	if (profile >= _SEAL_PROFILE_MAX)
		return -EBADMSG;
	h->params.profile = (enum seal_profile)profile;
	h->params.vmpl = le32_get(blob + SEAL_OFF_VMPL);
	h->params.guest_svn = le32_get(blob + SEAL_OFF_GUEST_SVN);
	h->params.tcb_version = le64_get(blob + SEAL_OFF_TCB);
	if (h->params.vmpl > SEAL_VMPL_MAX)
		return -EBADMSG;
	memcpy(h->binding.measurement, blob + SEAL_OFF_MEASUREMENT, 48);
	memcpy(h->binding.family_id, blob + SEAL_OFF_FAMILY_ID, 16);
	memcpy(h->binding.image_id, blob + SEAL_OFF_IMAGE_ID, 16);
	memcpy(h->binding.chip_id_sha256, blob + SEAL_OFF_CHIP_HASH, 32);
	h->binding.guest_policy = le64_get(blob + SEAL_OFF_GUEST_POLICY);
	memcpy(h->binding.policy_digest, blob + SEAL_OFF_POLICY_DIGEST, 32);
	return 0;
}

/* Parses the header; also hands out where salt and nonce are. Pure. */
static int seal_header_parse(const uint8_t *blob, size_t len, struct seal_header *ret,
			     const uint8_t **ret_salt, const uint8_t **ret_nonce)
{
	struct seal_header h = { .format = SEAL_FORMAT };
	size_t label_len, off;
	int r;

	if (!blob || len < SEAL_OFF_PROFILE || len > SEAL_BLOB_MAX ||
	    memcmp(blob, SEAL_MAGIC, SEAL_MAGIC_LEN) != 0)
		return -EBADMSG;
	if (blob[SEAL_OFF_FORMAT] != SEAL_FORMAT || blob[SEAL_OFF_FORMAT + 1] != 0)
		return -EPROTONOSUPPORT;
	/* The smallest blob: empty meta, one-byte label and plaintext. */
	if (len < SEAL_HEADER_FIXED + 1u + 1u + SEAL_TAG_LEN)
		return -EBADMSG;

	r = seal_parse_fixed(blob, &h);
	if (r < 0)
		return r;

	/*
	 * Every length below is bounded (255, SEAL_META_MAX, SEAL_PLAINTEXT_MAX) far below
	 * SIZE_MAX, so the sums cannot overflow; each is checked against len before it is read.
	 */
	label_len = blob[SEAL_OFF_LABEL_LEN];
	off = SEAL_OFF_LABEL + label_len;
	if (len < off + 4u || !text_name_valid(blob + SEAL_OFF_LABEL, label_len, SEAL_LABEL_MAX))
		return -EBADMSG;
	memcpy(h.label, blob + SEAL_OFF_LABEL, label_len);
	h.label[label_len] = '\0';

	h.meta_len = le32_get(blob + off);
	off += 4;
	if (h.meta_len > SEAL_META_MAX || len < off + h.meta_len + SEAL_TAIL_LEN)
		return -EBADMSG;
	h.meta = h.meta_len ? blob + off : NULL;
	off += h.meta_len;
	if (seal_profile_uses_tpm(h.params.profile)) {
		if (len < off + 2u)
			return -EBADMSG;
		h.tpm_object_len = seal_le16_get(blob + off);
		off += 2;
		if (h.tpm_object_len == 0 || h.tpm_object_len > SEAL_TPM_OBJECT_MAX ||
		    len < off + h.tpm_object_len + SEAL_TAIL_LEN)
			return -EBADMSG;
		h.tpm_object = blob + off;
		off += h.tpm_object_len;
	}

	h.header_len = off + SEAL_TAIL_LEN;
	h.ciphertext_len = le32_get(blob + h.header_len - 4);
	if (h.ciphertext_len == 0 || h.ciphertext_len > SEAL_PLAINTEXT_MAX ||
	    len != h.header_len + h.ciphertext_len + SEAL_TAG_LEN)
		return -EBADMSG;

	if (ret_salt)
		*ret_salt = blob + off;
	if (ret_nonce)
		*ret_nonce = blob + off + SEAL_SALT_LEN;
	*ret = h;
	return 0;
}

int seal_parse_header(const uint8_t *blob, size_t len, struct seal_header *ret)
{
	return seal_header_parse(blob, len, ret, NULL, NULL);
}

/* What goes into a header besides the parameters and binding. */
struct seal_parts {
	const char *label;
	size_t label_len;
	const uint8_t *meta;
	size_t meta_len;
	const uint8_t *tpm_obj; /* vtpm only */
	size_t tpm_obj_len;
	size_t pt_len;
};

/* Writes the header (with a fresh salt and nonce) into h, which has room for header_len. */
static int seal_header_build(uint8_t *h, const struct seal_params *p, const struct seal_binding *b,
			     const struct seal_parts *x)
{
	size_t off;

	memcpy(h, SEAL_MAGIC, SEAL_MAGIC_LEN);
	h[SEAL_OFF_FORMAT] = SEAL_FORMAT;
	h[SEAL_OFF_FORMAT + 1] = 0;
	h[SEAL_OFF_PROFILE] = (uint8_t)p->profile;
	le32_put(h + SEAL_OFF_VMPL, p->vmpl);
	le32_put(h + SEAL_OFF_GUEST_SVN, p->guest_svn);
	le64_put(h + SEAL_OFF_TCB, p->tcb_version);
	memcpy(h + SEAL_OFF_MEASUREMENT, b->measurement, 48);
	memcpy(h + SEAL_OFF_FAMILY_ID, b->family_id, 16);
	memcpy(h + SEAL_OFF_IMAGE_ID, b->image_id, 16);
	memcpy(h + SEAL_OFF_CHIP_HASH, b->chip_id_sha256, 32);
	le64_put(h + SEAL_OFF_GUEST_POLICY, b->guest_policy);
	memcpy(h + SEAL_OFF_POLICY_DIGEST, b->policy_digest, 32);
	h[SEAL_OFF_LABEL_LEN] = (uint8_t)x->label_len;
	memcpy(h + SEAL_OFF_LABEL, x->label, x->label_len);
	off = SEAL_OFF_LABEL + x->label_len;
	le32_put(h + off, (uint32_t)x->meta_len);
	off += 4;
	if (x->meta_len)
		memcpy(h + off, x->meta, x->meta_len);
	off += x->meta_len;
	if (x->tpm_obj_len) {
		h[off] = (uint8_t)x->tpm_obj_len;
		h[off + 1] = (uint8_t)(x->tpm_obj_len >> 8);
		memcpy(h + off + 2, x->tpm_obj, x->tpm_obj_len);
		off += 2 + x->tpm_obj_len;
	}
	if (RAND_bytes(h + off, SEAL_SALT_LEN + SEAL_NONCE_LEN) != 1)
		return vhsm_log_openssl(-EIO, "RAND_bytes");
	off += SEAL_SALT_LEN + SEAL_NONCE_LEN;
	le32_put(h + off, (uint32_t)x->pt_len);
	return 0;
}

/* ---- crypto ---- */

/* seal key = HKDF-SHA256(derived key, salt, "vhsm-seal-v1" || header). */
static int seal_derive_key(const uint8_t derived_key[static 32], const uint8_t *header,
			   size_t header_len, const uint8_t *salt, uint8_t ret[static SEAL_KEY_LEN])
{
	_cleanup_free_ uint8_t *info = NULL;

	/* The header is public: the info buffer needs no wiping. */
	info = malloc(SEAL_INFO_LEN + header_len);
	if (!info)
		return -ENOMEM;
	memcpy(info, SEAL_INFO, SEAL_INFO_LEN);
	memcpy(info + SEAL_INFO_LEN, header, header_len);
	return hkdf_sha256(derived_key, 32, salt, SEAL_SALT_LEN, info, SEAL_INFO_LEN + header_len,
			   ret, SEAL_KEY_LEN);
}

/* Checks seal_blob()'s inputs and fills x->label_len. Returns 0, -EINVAL or -EMSGSIZE. */
static int seal_check_args(const struct seal_params *p, const struct seal_binding *b,
			   const uint8_t *pt, struct seal_parts *x)
{
	size_t label_len;

	if (!p || !b || !x->label || (!x->meta && x->meta_len > 0) || !pt || x->pt_len == 0)
		return -EINVAL;
	if (p->profile < 0 || p->profile >= _SEAL_PROFILE_MAX || p->vmpl > SEAL_VMPL_MAX)
		return -EINVAL;
	/* The vtpm profile, and only it, carries the TPM object: never a blob without it. */
	if (seal_profile_uses_tpm(p->profile) != (x->tpm_obj_len > 0) ||
	    (x->tpm_obj_len && !x->tpm_obj))
		return -EINVAL;
	if (x->meta_len > SEAL_META_MAX || x->pt_len > SEAL_PLAINTEXT_MAX ||
	    x->tpm_obj_len > SEAL_TPM_OBJECT_MAX)
		return -EMSGSIZE;
	label_len = strnlen(x->label, SEAL_LABEL_MAX + 1);
	if (label_len > SEAL_LABEL_MAX)
		return -EMSGSIZE;
	if (!text_name_valid((const uint8_t *)x->label, label_len, SEAL_LABEL_MAX))
		return -EINVAL;
	x->label_len = label_len;
	return 0;
}

static int seal_blob_parts(const uint8_t derived_key[static 32], const struct seal_params *p,
			   const struct seal_binding *b, struct seal_parts *x, const uint8_t *pt,
			   uint8_t **ret_blob, size_t *ret_len)
{
	_cleanup_free_ uint8_t *blob = NULL;
	const uint8_t *salt = NULL, *nonce = NULL;
	uint8_t key[SEAL_KEY_LEN];
	CLEANUP_ERASE(key);
	struct seal_header h;
	size_t total, pt_len = x->pt_len;
	int r;

	r = seal_check_args(p, b, pt, x);
	if (r < 0)
		return r;
	total = SEAL_HEADER_FIXED + x->label_len + x->meta_len +
		(x->tpm_obj_len ? 2u + x->tpm_obj_len : 0u) + pt_len + SEAL_TAG_LEN;
	blob = malloc(total);
	if (!blob)
		return -ENOMEM;
	r = seal_header_build(blob, p, b, x);
	/* Reading our own header back yields exactly the offsets unseal_blob() will use. */
	if (r >= 0)
		r = seal_header_parse(blob, total, &h, &salt, &nonce);
	if (r >= 0)
		r = seal_derive_key(derived_key, blob, h.header_len, salt, key);
	if (r < 0)
		return r;
	r = aead_gcm_encrypt(key, nonce, blob, h.header_len, NULL, 0, pt, pt_len,
			     blob + h.header_len, blob + h.header_len + pt_len);
	if (r < 0)
		return r;
	*ret_blob = TAKE_PTR(blob);
	*ret_len = total;
	return 0;
}

int seal_blob(const uint8_t derived_key[static 32], const struct seal_params *p,
	      const struct seal_binding *b, const char *label, const uint8_t *meta,
	      size_t meta_len, const uint8_t *pt, size_t pt_len, uint8_t **ret_blob,
	      size_t *ret_len)
{
	struct seal_parts x = { .label = label, .meta = meta, .meta_len = meta_len,
				.pt_len = pt_len };

	return seal_blob_parts(derived_key, p, b, &x, pt, ret_blob, ret_len);
}

int seal_blob_vtpm(const uint8_t key[static 32], const struct seal_params *p,
		   const struct seal_binding *b, const uint8_t *tpm_obj, size_t obj_len,
		   const char *label, const uint8_t *meta, size_t meta_len, const uint8_t *pt,
		   size_t pt_len, uint8_t **ret_blob, size_t *ret_len)
{
	struct seal_parts x = { .label = label, .meta = meta, .meta_len = meta_len,
				.tpm_obj = tpm_obj, .tpm_obj_len = obj_len, .pt_len = pt_len };

	if (!tpm_obj || obj_len == 0)
		return -EINVAL;
	return seal_blob_parts(key, p, b, &x, pt, ret_blob, ret_len);
}

int unseal_blob(const uint8_t derived_key[static 32], const uint8_t *blob, size_t len,
		uint8_t **ret_pt, size_t *ret_len)
{
	_cleanup_secmem_ uint8_t *pt = NULL;
	const uint8_t *salt, *nonce;
	uint8_t key[SEAL_KEY_LEN];
	CLEANUP_ERASE(key);
	struct seal_header h;
	int r;

	/* Whatever is wrong with the header (including an unknown format) is "malformed" here. */
	if (seal_header_parse(blob, len, &h, &salt, &nonce) < 0)
		return -EBADMSG;
	pt = secmem_alloc(h.ciphertext_len);
	if (!pt)
		return negative_errno();
	r = seal_derive_key(derived_key, blob, h.header_len, salt, key);
	if (r < 0)
		return r;
	r = aead_gcm_decrypt(key, nonce, blob, h.header_len, NULL, 0, blob + h.header_len,
			     h.ciphertext_len, pt, blob + h.header_len + h.ciphertext_len);
	if (r < 0)
		return r;
	*ret_pt = TAKE_PTR(pt);
	*ret_len = h.ciphertext_len;
	return 0;
}

/* ---- explanations ---- */

/* A bounded string being appended to; reasons are separated by "; ". */
struct seal_why {
	char *buf;
	size_t len, pos;
	unsigned n;
};

/* Moves past k bytes snprintf() reported, stopping at the end of a truncated buffer. */
static void seal_why_advance(struct seal_why *w, int k)
{
	if (k < 0)
		return;
	w->pos = (size_t)k >= w->len - w->pos ? w->len - 1 : w->pos + (size_t)k;
}

_printf_(2, 3) static void seal_why_add(struct seal_why *w, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (w->pos + 1 >= w->len)
		return;
	if (w->n++ > 0) {
		k = snprintf(w->buf + w->pos, w->len - w->pos, "; ");
		seal_why_advance(w, k);
	}
	va_start(ap, fmt);
	k = vsnprintf(w->buf + w->pos, w->len - w->pos, fmt, ap);
	va_end(ap);
	seal_why_advance(w, k);
}

/* Lowercase hex of public data (identifiers, hash prefixes). */
static char *hex(char *out, const uint8_t *in, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * n] = '\0';
	return out;
}

static void tcb_format(char *out, size_t len, const struct snp_tcb *t, enum snp_product prod)
{
	if (prod == SNP_PRODUCT_TURIN)
		snprintf(out, len, "fmc=%u bl=%u tee=%u snp=%u ucode=%u", t->fmc, t->bootloader,
			 t->tee, t->snp, t->microcode);
	else
		snprintf(out, len, "bl=%u tee=%u snp=%u ucode=%u", t->bootloader, t->tee, t->snp,
			 t->microcode);
}

#define SEAL_HEX_PREFIX 8u /* bytes of a measurement shown */

/* The fields the profile binds the key to: measurement, or family and image ID. */
static void seal_explain_identity(struct seal_why *w, const struct seal_header *h,
				  const struct snp_report *cur)
{
	char a[2 * 16 + 1], b[2 * 16 + 1];

	if (h->params.profile == SEAL_PROFILE_STRICT &&
	    memcmp(h->binding.measurement, cur->measurement, 48) != 0)
		seal_why_add(w, "sealed to measurement %s..., this CVM runs %s...",
			     hex(a, h->binding.measurement, SEAL_HEX_PREFIX),
			     hex(b, cur->measurement, SEAL_HEX_PREFIX));
	if (h->params.profile != SEAL_PROFILE_AUTHOR)
		return;
	if (memcmp(h->binding.family_id, cur->family_id, 16) != 0)
		seal_why_add(w, "sealed to family ID %s, this CVM has %s",
			     hex(a, h->binding.family_id, 16), hex(b, cur->family_id, 16));
	if (memcmp(h->binding.image_id, cur->image_id, 16) != 0)
		seal_why_add(w, "sealed to image ID %s, this CVM has %s",
			     hex(a, h->binding.image_id, 16), hex(b, cur->image_id, 16));
}

/* A committed TCB below the pinned one in any component cannot derive the key. */
static void seal_explain_tcb(struct seal_why *w, const struct seal_header *h,
			     const struct snp_report *cur, enum snp_product prod)
{
	struct snp_tcb pinned, now;
	char a[64], b[64];

	if (snp_tcb_decode(h->params.tcb_version, prod, &pinned) < 0 ||
	    snp_tcb_decode(cur->committed_tcb, prod, &now) < 0) {
		if (h->params.tcb_version != cur->committed_tcb)
			seal_why_add(w, "sealed at TCB 0x%016" PRIx64 ", committed TCB is 0x%016"
				     PRIx64 " (unknown product)",
				     h->params.tcb_version, cur->committed_tcb);
		return;
	}
	if (snp_tcb_ge(&now, &pinned, prod))
		return;
	tcb_format(a, sizeof(a), &pinned, prod);
	tcb_format(b, sizeof(b), &now, prod);
	seal_why_add(w, "TCB rollback: sealed at TCB %s, committed TCB is %s", a, b);
}

int seal_explain_failure(const struct seal_header *h, const struct snp_report *current,
			 enum snp_product prod, char *buf, size_t len)
{
	struct seal_why w = { .buf = buf, .len = len };
	uint8_t chip_hash[32];

	if (!buf || len == 0)
		return 0;
	buf[0] = '\0';
	/* The vTPM's refusals are explained where it answers (the daemon's vtpm sealing). */
	if (seal_profile_uses_tpm(h->params.profile)) {
		seal_why_add(&w, "the sealed blob was modified (its vTPM object unsealed)");
		return 0;
	}
	if (sha256(current->chip_id, sizeof(current->chip_id), chip_hash) >= 0 &&
	    memcmp(chip_hash, h->binding.chip_id_sha256, sizeof(chip_hash)) != 0)
		seal_why_add(&w, "sealed on another chip (host change): restore from escrow");
	seal_explain_identity(&w, h, current);
	seal_explain_tcb(&w, h, current, prod);
	if (current->guest_svn < h->params.guest_svn)
		seal_why_add(&w, "sealed at guest SVN %" PRIu32 ", this CVM launched with %" PRIu32,
			     h->params.guest_svn, current->guest_svn);
	if (current->policy != h->binding.guest_policy)
		seal_why_add(&w, "sealed under guest policy 0x%" PRIx64 ", this CVM runs 0x%" PRIx64,
			     h->binding.guest_policy, current->policy);
	if (w.n == 0)
		seal_why_add(&w, "the sealed blob was modified or the derived key differs");
	return 0;
}
