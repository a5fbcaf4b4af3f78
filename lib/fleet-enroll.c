/* SPDX-License-Identifier: Apache-2.0 */
/* Attested fleet enrollment (fleet-enroll.h): the report binding, the CSR, the certificate. */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet-enroll.h"
#include "openssl-util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(X509_REQ *, X509_REQ_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(X509_STORE *, X509_STORE_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(X509_STORE_CTX *, X509_STORE_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EXTENDED_KEY_USAGE *, EXTENDED_KEY_USAGE_free);

static inline void x509_stack_freep(STACK_OF(X509) **s)
{
	sk_X509_pop_free(*s, X509_free);
}

int fleet_enroll_message(const uint8_t *spki, size_t spki_len, const uint8_t *nonce,
			 size_t nonce_len, uint64_t expires,
			 uint8_t out[static FLEET_ENROLL_MSG_MAX])
{
	size_t off = sizeof(FLEET_ENROLL_LABEL); /* with its NUL: the separator */
	unsigned int n = 0;

	if (nonce_len > FLEET_ENROLL_NONCE_MAX)
		return -EMSGSIZE;
	memcpy(out, FLEET_ENROLL_LABEL, off);
	if (!EVP_Digest(spki, spki_len, out + off, &n, EVP_sha256(), NULL) || n != 32)
		return -EIO;
	off += 32;
	out[off++] = (uint8_t)nonce_len;
	if (nonce_len)
		memcpy(out + off, nonce, nonce_len);
	off += nonce_len;
	for (int i = 7; i >= 0; i--)
		out[off++] = (uint8_t)(expires >> (8 * i));
	return (int)off;
}

int fleet_enroll_report_data(const uint8_t *spki, size_t spki_len, const uint8_t *nonce,
			     size_t nonce_len, uint64_t expires, uint8_t ret[static 64])
{
	uint8_t msg[FLEET_ENROLL_MSG_MAX];
	unsigned int n = 0;
	int len = fleet_enroll_message(spki, spki_len, nonce, nonce_len, expires, msg);

	if (len < 0)
		return len;
	if (!EVP_Digest(msg, (size_t)len, ret, &n, EVP_sha512(), NULL) || n != 64)
		return -EIO;
	return 0;
}

bool fleet_name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > FLEET_NAME_MAX || name[0] == '.' || name[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

int fleet_csr_make(EVP_PKEY *pkey, const char *cn, uint8_t **ret_der, size_t *ret_len)
{
	_cleanup_(X509_REQ_freep) X509_REQ *req = NULL;
	uint8_t *der = NULL;
	X509_NAME *subj;
	int n;

	if (!fleet_name_valid(cn))
		return -EINVAL;
	req = X509_REQ_new();
	if (!req)
		return -ENOMEM;
	subj = X509_REQ_get_subject_name(req);
	if (!X509_REQ_set_version(req, 0) ||
	    !X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
					-1, 0) ||
	    !X509_REQ_set_pubkey(req, pkey) || X509_REQ_sign(req, pkey, EVP_sha256()) <= 0)
		return -EIO;
	n = i2d_X509_REQ(req, &der);
	if (n <= 0)
		return -EIO;
	*ret_der = malloc((size_t)n);
	if (!*ret_der) {
		OPENSSL_free(der);
		return -ENOMEM;
	}
	memcpy(*ret_der, der, (size_t)n);
	OPENSSL_free(der);
	*ret_len = (size_t)n;
	return 0;
}

/* The one CN of name into buf: 0, or -EBADMSG (none, several, not a valid identity name). */
static int name_cn(const X509_NAME *name, char *buf, size_t len)
{
	int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	ASN1_STRING *s;
	unsigned char *u = NULL;
	int n;

	if (i < 0 || X509_NAME_get_index_by_NID(name, NID_commonName, i) >= 0)
		return -EBADMSG;
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
	n = s ? ASN1_STRING_to_UTF8(&u, s) : -1;
	if (n <= 0 || (size_t)n >= len || memchr(u, 0, (size_t)n)) {
		OPENSSL_free(u);
		return -EBADMSG;
	}
	memcpy(buf, u, (size_t)n);
	buf[n] = 0;
	OPENSSL_free(u);
	return fleet_name_valid(buf) ? 0 : -EBADMSG;
}

static X509_REQ *csr_decode(const uint8_t *buf, size_t len)
{
	_cleanup_(BIO_freep) BIO *b = NULL;
	const uint8_t *p = buf;
	X509_REQ *req;

	if (len == 0 || len > 2 * FLEET_CSR_MAX)
		return NULL;
	req = d2i_X509_REQ(NULL, &p, (long)len);
	if (req && p != buf + len) {
		X509_REQ_free(req);
		return NULL;
	}
	if (req)
		return req;
	b = BIO_new_mem_buf(buf, (int)len);
	return b ? PEM_read_bio_X509_REQ(b, NULL, NULL, NULL) : NULL;
}

int fleet_csr_parse(const uint8_t *buf, size_t len, X509_REQ **ret_req, char *ret_cn,
		    size_t cnlen, uint8_t **ret_spki, size_t *ret_spki_len, char *why,
		    size_t whylen)
{
	_cleanup_(X509_REQ_freep) X509_REQ *req = csr_decode(buf, len);
	char cn[FLEET_NAME_MAX + 1];
	uint8_t *der = NULL;
	EVP_PKEY *pub;
	int n;

	ERR_clear_error();
	if (!req) {
		snprintf(why, whylen, "the CSR is not a PKCS#10 certificate request");
		return -EBADMSG;
	}
	if (name_cn(X509_REQ_get_subject_name(req), cn, sizeof(cn)) < 0 || strlen(cn) >= cnlen) {
		snprintf(why, whylen, "the CSR's subject has no single valid CN (1..%u of "
			 "[A-Za-z0-9._-])", FLEET_NAME_MAX);
		return -EBADMSG;
	}
	pub = X509_REQ_get0_pubkey(req);
	if (!pub || X509_REQ_verify(req, pub) != 1) {
		ERR_clear_error();
		snprintf(why, whylen, "the CSR's self-signature does not verify (tampered request)");
		return -EKEYREJECTED;
	}
	n = i2d_PUBKEY(pub, &der);
	if (n <= 0) {
		snprintf(why, whylen, "the CSR's public key does not encode");
		return -EBADMSG;
	}
	*ret_spki = malloc((size_t)n);
	if (!*ret_spki) {
		OPENSSL_free(der);
		return -ENOMEM;
	}
	memcpy(*ret_spki, der, (size_t)n);
	OPENSSL_free(der);
	*ret_spki_len = (size_t)n;
	strcpy(ret_cn, cn);
	*ret_req = TAKE_PTR(req);
	return 0;
}

/* Reads every certificate of a PEM text: 0 with at least one, or -EBADMSG. */
static int pem_certs(const uint8_t *pem, size_t len, STACK_OF(X509) **ret)
{
	_cleanup_(x509_stack_freep) STACK_OF(X509) *s = sk_X509_new_null();
	_cleanup_(BIO_freep) BIO *b = NULL;
	X509 *x;

	if (!s)
		return -ENOMEM;
	if (len == 0 || len > FLEET_CHAIN_MAX)
		return -EBADMSG;
	b = BIO_new_mem_buf(pem, (int)len);
	if (!b)
		return -ENOMEM;
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
		if (sk_X509_num(s) >= (int)FLEET_CHAIN_CERTS_MAX || !sk_X509_push(s, x)) {
			X509_free(x);
			ERR_clear_error();
			return -EBADMSG;
		}
	}
	ERR_clear_error();
	if (sk_X509_num(s) == 0)
		return -EBADMSG;
	*ret = TAKE_PTR(s);
	return 0;
}

static uint64_t asn1_time_unix(const ASN1_TIME *t)
{
	struct tm tm = {};

	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return 0;
	int64_t s = (int64_t)timegm(&tm);
	return s < 0 ? 0 : (uint64_t)s;
}

static void leaf_info(X509 *x, uint64_t now, struct fleet_cert_info *i)
{
	const ASN1_INTEGER *sn = X509_get0_serialNumber(x);
	_cleanup_(BN_freep) BIGNUM *bn = sn ? ASN1_INTEGER_to_BN(sn, NULL) : NULL;
	char *hex = bn ? BN_bn2hex(bn) : NULL;

	*i = (struct fleet_cert_info){};
	X509_NAME_oneline(X509_get_subject_name(x), i->subject, sizeof(i->subject));
	X509_NAME_oneline(X509_get_issuer_name(x), i->issuer, sizeof(i->issuer));
	snprintf(i->serial, sizeof(i->serial), "%s", hex ? hex : "");
	OPENSSL_free(hex);
	i->not_before = asn1_time_unix(X509_get0_notBefore(x));
	i->not_after = asn1_time_unix(X509_get0_notAfter(x));
	uint64_t life = i->not_after > i->not_before ? i->not_after - i->not_before : 0;
	i->renewal_due = now >= i->not_after || i->not_after - now < life / FLEET_RENEW_FRACTION;
}

int fleet_cert_info(const uint8_t *chain, size_t chain_len, uint64_t now,
		    struct fleet_cert_info *ret)
{
	_cleanup_(x509_stack_freep) STACK_OF(X509) *s = NULL;
	int r = pem_certs(chain, chain_len, &s);

	if (r < 0)
		return r;
	leaf_info(sk_X509_value(s, 0), now, ret);
	return 0;
}

static bool leaf_key_is(X509 *leaf, const uint8_t *spki, size_t spki_len)
{
	_cleanup_(openssl_freep) uint8_t *der = NULL;
	EVP_PKEY *pub = X509_get0_pubkey(leaf);
	int n = pub ? i2d_PUBKEY(pub, &der) : -1;

	return n > 0 && (size_t)n == spki_len && CRYPTO_memcmp(der, spki, spki_len) == 0;
}

int fleet_cert_key_matches(const uint8_t *chain, size_t chain_len, const uint8_t *spki,
			   size_t spki_len)
{
	_cleanup_(x509_stack_freep) STACK_OF(X509) *s = NULL;
	int r = pem_certs(chain, chain_len, &s);

	if (r < 0)
		return r;
	return leaf_key_is(sk_X509_value(s, 0), spki, spki_len) ? 0 : -EKEYREJECTED;
}

static bool leaf_has_client_auth(X509 *x)
{
	_cleanup_(EXTENDED_KEY_USAGE_freep) EXTENDED_KEY_USAGE *eku =
		X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);

	for (int i = 0; eku && i < sk_ASN1_OBJECT_num(eku); i++)
		if (OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i)) == NID_client_auth)
			return true;
	return false;
}

/* The leaf's own checks: key, usage, not a CA, lifetime. */
static int leaf_check(X509 *leaf, const uint8_t *spki, size_t spki_len, uint64_t now,
		      char *why, size_t whylen)
{
	uint64_t nb = asn1_time_unix(X509_get0_notBefore(leaf));
	uint64_t na = asn1_time_unix(X509_get0_notAfter(leaf));

	if (!leaf_key_is(leaf, spki, spki_len)) {
		snprintf(why, whylen, "the certificate is for another public key than this "
			 "CVM's fleet key (issued for another enrollment)");
		return -EKEYREJECTED;
	}
	if (!leaf_has_client_auth(leaf)) {
		snprintf(why, whylen, "the certificate lacks the clientAuth extended key usage");
		return -EKEYREJECTED;
	}
	if (X509_check_ca(leaf) != 0) {
		snprintf(why, whylen, "the certificate is a CA certificate, not a client identity");
		return -EKEYREJECTED;
	}
	if (now < nb || now >= na) {
		snprintf(why, whylen, now < nb ? "the certificate is not valid yet"
					       : "the certificate has expired (enroll again)");
		return -EKEYEXPIRED;
	}
	return 0;
}

static bool self_signed(X509 *x)
{
	return X509_check_issued(x, x) == X509_V_OK;
}

/* Path validation of the leaf to a self-signed certificate of anchors, at now. */
static int chain_verify(STACK_OF(X509) *chain, STACK_OF(X509) *anchors, uint64_t now,
			char *why, size_t whylen)
{
	_cleanup_(X509_STORE_freep) X509_STORE *st = X509_STORE_new();
	_cleanup_(X509_STORE_CTX_freep) X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	size_t n_anchors = 0;
	int ok;

	if (!st || !ctx)
		return -ENOMEM;
	for (int i = 0; i < sk_X509_num(anchors); i++) {
		X509 *a = sk_X509_value(anchors, i);
		if (self_signed(a) && X509_check_ca(a) == 1 && X509_STORE_add_cert(st, a))
			n_anchors++;
	}
	ERR_clear_error();
	if (n_anchors == 0) {
		snprintf(why, whylen, "no CA to check the certificate against: give the fleet CA "
			 "(--ca FILE) or include it at the end of the chain");
		return -EKEYREJECTED;
	}
	if (!X509_STORE_CTX_init(ctx, st, sk_X509_value(chain, 0), chain))
		return -ENOMEM;
	X509_STORE_CTX_set_time(ctx, 0, (time_t)now);
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
	ok = X509_verify_cert(ctx);
	ERR_clear_error();
	if (ok != 1) {
		int e = X509_STORE_CTX_get_error(ctx);
		snprintf(why, whylen, "the certificate does not chain to the fleet CA: %s",
			 X509_verify_cert_error_string(e));
		return e == X509_V_ERR_CERT_HAS_EXPIRED ? -EKEYEXPIRED : -EKEYREJECTED;
	}
	return 0;
}

int fleet_cert_check(const uint8_t *chain, size_t chain_len, const uint8_t *ca, size_t ca_len,
		     const uint8_t *spki, size_t spki_len, uint64_t now,
		     struct fleet_cert_info *ret, char *why, size_t whylen)
{
	_cleanup_(x509_stack_freep) STACK_OF(X509) *s = NULL, *anchors = NULL;
	X509 *leaf;
	int r = pem_certs(chain, chain_len, &s);

	if (r < 0) {
		snprintf(why, whylen, "the certificate file is not a PEM certificate chain of 1 "
			 "to %u certificates", FLEET_CHAIN_CERTS_MAX);
		return r;
	}
	if (ca && pem_certs(ca, ca_len, &anchors) < 0) {
		snprintf(why, whylen, "the CA file is not a PEM certificate");
		return -EBADMSG;
	}
	leaf = sk_X509_value(s, 0);
	r = leaf_check(leaf, spki, spki_len, now, why, whylen);
	if (r < 0)
		return r;
	if (!anchors && sk_X509_num(s) > 1) {
		X509 *last = sk_X509_value(s, sk_X509_num(s) - 1);
		anchors = sk_X509_new_null();
		if (!anchors || !X509_up_ref(last) || !sk_X509_push(anchors, last))
			return -ENOMEM;
	}
	r = chain_verify(s, anchors, now, why, whylen);
	if (r < 0)
		return r;
	leaf_info(leaf, now, ret);
	return 0;
}
