/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key pair material (keypair.h): generation, the public key and KEY_ID, the private key's
 * sealed form (PKCS#8 DER), and the self-signed certificate with the attestation binding.
 * OpenSSL 3 EVP only. Never logs but OpenSSL's queue (vhsm_log_openssl, at debug).
 */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

#include "keyattest.h"
#include "keypair.h"
#include "log.h"
#include "secmem.h"
#include "openssl-util.h"

int keypair_generate(enum keypair_alg alg, EVP_PKEY **ret)
{
	EVP_PKEY *k = NULL;

	switch (alg) {
	case KEYPAIR_RSA2048:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		break;
	case KEYPAIR_RSA3072:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
		break;
	case KEYPAIR_RSA4096:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
		break;
	case KEYPAIR_EC_P256:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	case KEYPAIR_EC_P384:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
		break;
	default:
		return -EINVAL;
	}
	if (!k)
		return vhsm_log_openssl(-EIO, "key pair generation");
	*ret = k;
	return 0;
}

/* The bytes OpenSC hashes for CKA_ID: the RSA modulus or the EC point. */
static int public_bits(EVP_PKEY *pkey, uint8_t *buf, size_t cap, size_t *ret_len)
{
	if (EVP_PKEY_is_a(pkey, "RSA")) {
		_cleanup_(BN_freep) BIGNUM *n = NULL;
		if (!EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) ||
		    (size_t)BN_num_bytes(n) > cap)
			return -EIO;
		*ret_len = (size_t)BN_bn2bin(n, buf);
		return 0;
	}
	if (!EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, buf, cap, ret_len))
		return -EIO;
	return 0;
}

int keypair_set_public(struct keypair_meta *meta, EVP_PKEY *pkey)
{
	uint8_t bits[1024], *p = meta->spki;
	unsigned int n = 0;
	size_t len;
	int l = i2d_PUBKEY(pkey, NULL);

	if (l <= 0 || (size_t)l > sizeof(meta->spki))
		return l <= 0 ? vhsm_log_openssl(-EIO, "public key encoding") : -EMSGSIZE;
	if (i2d_PUBKEY(pkey, &p) != l)
		return vhsm_log_openssl(-EIO, "public key encoding");
	if (public_bits(pkey, bits, sizeof(bits), &len) < 0 ||
	    !EVP_Digest(bits, len, meta->id, &n, EVP_sha1(), NULL) || n != KEYPAIR_ID_SIZE)
		return vhsm_log_openssl(-EIO, "key id");
	meta->spki_len = (size_t)l;
	return 0;
}

int keypair_private_der(EVP_PKEY *pkey, uint8_t **ret_der, size_t *ret_len)
{
	_cleanup_(PKCS8_PRIV_KEY_INFO_freep) PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(pkey);
	_cleanup_secmem_ uint8_t *der = NULL;
	uint8_t *p;
	int n;

	if (!p8)
		return vhsm_log_openssl(-EIO, "private key encoding");
	n = i2d_PKCS8_PRIV_KEY_INFO(p8, NULL);
	if (n <= 0)
		return vhsm_log_openssl(-EIO, "private key encoding");
	der = secmem_alloc((size_t)n);
	if (!der)
		return -ENOMEM;
	p = der;
	if (i2d_PKCS8_PRIV_KEY_INFO(p8, &p) != n)
		return vhsm_log_openssl(-EIO, "private key encoding");
	*ret_der = TAKE_PTR(der);
	*ret_len = (size_t)n;
	return 0;
}

int keypair_private_parse(const uint8_t *der, size_t len, EVP_PKEY **ret)
{
	_cleanup_(PKCS8_PRIV_KEY_INFO_freep) PKCS8_PRIV_KEY_INFO *p8 = NULL;
	const uint8_t *p = der;
	EVP_PKEY *k;

	if (len > INT32_MAX)
		return -EBADMSG;
	p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
	if (!p8 || p != der + len)
		return vhsm_log_openssl(-EBADMSG, "private key decoding");
	k = EVP_PKCS82PKEY(p8);
	if (!k)
		return vhsm_log_openssl(-EBADMSG, "private key decoding");
	*ret = k;
	return 0;
}

static int add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;
	int ok;

	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!e)
		return -EIO;
	ok = X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok ? 0 : -EIO;
}

static int add_binding(X509 *x, const uint8_t *binding, size_t len)
{
	_cleanup_(ASN1_OBJECT_freep) ASN1_OBJECT *obj = OBJ_txt2obj(KEY_ATTEST_OID, 1);
	_cleanup_(ASN1_OCTET_STRING_freep) ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	_cleanup_(X509_EXTENSION_freep) X509_EXTENSION *e = NULL;

	if (!obj || !os || !ASN1_OCTET_STRING_set(os, binding, (int)len))
		return -EIO;
	e = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os);
	return e && X509_add_ext(x, e, -1) ? 0 : -EIO;
}

static int cert_fields(X509 *x, const struct keypair_meta *meta, EVP_PKEY *pkey, uint64_t now)
{
	X509_NAME *name = X509_get_subject_name(x);
	uint8_t serial[16];
	_cleanup_(BN_freep) BIGNUM *bn = NULL;

	if (RAND_bytes(serial, sizeof(serial)) != 1)
		return -EIO;
	serial[0] &= 0x7f; /* positive */
	serial[0] |= 0x40; /* and 16 bytes long */
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (!bn || !X509_set_version(x, 2) || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const uint8_t *)meta->name, -1,
					-1, 0) ||
	    !X509_set_issuer_name(x, name) || !ASN1_TIME_set(X509_getm_notBefore(x), (time_t)now) ||
	    /* RFC 5280 4.1.2.5: no well-defined expiration date */
	    !ASN1_TIME_set_string(X509_getm_notAfter(x), "99991231235959Z") ||
	    !X509_set_pubkey(x, pkey))
		return -EIO;
	if (add_ext(x, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(x, NID_subject_key_identifier, "hash") < 0)
		return -EIO;
	const char *ku = meta->usage == (KEYPAIR_USAGE_SIGN | KEYPAIR_USAGE_DECRYPT)
				 ? "critical,digitalSignature,keyEncipherment"
			 : meta->usage == KEYPAIR_USAGE_DECRYPT ? "critical,keyEncipherment"
								: "critical,digitalSignature";
	return add_ext(x, NID_key_usage, ku);
}

int keypair_make_cert(struct keypair_meta *meta, EVP_PKEY *pkey, uint64_t now,
		      const uint8_t *binding, size_t binding_len)
{
	_cleanup_(X509_freep) X509 *x = X509_new();
	const EVP_MD *md = meta->alg == KEYPAIR_EC_P384 ? EVP_sha384() : EVP_sha256();
	uint8_t *p = meta->cert;
	int n;

	if (!x || cert_fields(x, meta, pkey, now) < 0 ||
	    (binding && add_binding(x, binding, binding_len) < 0) || X509_sign(x, pkey, md) <= 0)
		return vhsm_log_openssl(-EIO, "certificate");
	n = i2d_X509(x, NULL);
	if (n <= 0 || (size_t)n > sizeof(meta->cert))
		return n <= 0 ? vhsm_log_openssl(-EIO, "certificate encoding") : -EMSGSIZE;
	if (i2d_X509(x, &p) != n)
		return vhsm_log_openssl(-EIO, "certificate encoding");
	meta->cert_len = (size_t)n;
	return 0;
}

int keypair_cert_matches(const struct keypair_meta *meta, const uint8_t *cert, size_t len,
			 char *why, size_t whylen)
{
	_cleanup_(X509_freep) X509 *x = openssl_x509_from_der(cert, len, INT32_MAX);
	uint8_t spki[KEYPAIR_SPKI_MAX], *q = spki;
	EVP_PKEY *pub;
	int n;

	if (!x) {
		(void)vhsm_log_openssl(-EBADMSG, "certificate decoding");
		snprintf(why, whylen, "not a DER X.509 certificate (%zu bytes)", len);
		return -EBADMSG;
	}
	pub = X509_get0_pubkey(x);
	n = pub ? i2d_PUBKEY(pub, NULL) : -1;
	if (n <= 0 || (size_t)n > sizeof(spki) || i2d_PUBKEY(pub, &q) != n ||
	    (size_t)n != meta->spki_len || memcmp(spki, meta->spki, meta->spki_len) != 0) {
		snprintf(why, whylen, "the certificate's public key is not key pair %s's",
			 meta->name);
		return -EKEYREJECTED;
	}
	return 0;
}
