/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AMD certificate helpers (see amd-cert.h): PEM/DER loading and the AMD extensions of
 * VCEK/VLEK certificates. Everything here reads untrusted bytes; DER must be consumed exactly
 * (no trailing data) and every extension value is decoded with OpenSSL's strict DER decoders.
 * The pinned roots themselves live in the generated amd-roots.c.
 */
#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "amd-cert.h"
#include "certtable.h"
#include "fileio.h"
#include "log.h"
#include "openssl-util.h"

/* Whether certificate x plays role (by its subject CN, as AMD names them). */
static bool cert_has_role(X509 *x, enum amd_cert_role role)
{
	char cn[64] = "";

	if (role == AMD_CERT_ANY)
		return true;
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
				      sizeof(cn)) <= 0)
		return false;
	bool leaf = strcmp(cn, "SEV-VCEK") == 0 || strcmp(cn, "SEV-VLEK") == 0;
	switch (role) {
	case AMD_CERT_ARK:
		return strncmp(cn, "ARK-", 4) == 0;
	case AMD_CERT_INTERMEDIATE:
		return strncmp(cn, "SEV-", 4) == 0 && !leaf;
	case AMD_CERT_LEAF:
		return leaf;
	default:
		return false;
	}
}

#define PEM_MAX_BLOCKS 16

/*
 * The "CERTIFICATE" PEM block of buf that plays role (KDS chain files and host bundles hold
 * several), else the first one, base64-decoded (OpenSSL allocation). A certificate in the
 * wrong role then fails a named verifier check instead of failing to load.
 */
static int pem_to_der(const uint8_t *buf, size_t len, enum amd_cert_role role,
		      unsigned char **ret, long *ret_len)
{
	_cleanup_(BIO_freep) BIO *bio = BIO_new_mem_buf(buf, (int)len);
	unsigned char *first = NULL;
	long first_len = 0;

	if (!bio)
		return -ENOMEM;
	for (unsigned n = 0; n < PEM_MAX_BLOCKS; n++) {
		char *name = NULL, *header = NULL;
		unsigned char *data = NULL;
		long dlen = 0;

		if (!PEM_read_bio(bio, &name, &header, &data, &dlen))
			break;
		bool cert = strcmp(name, PEM_STRING_X509) == 0 ||
			    strcmp(name, PEM_STRING_X509_OLD) == 0;
		OPENSSL_free(name);
		OPENSSL_free(header);
		if (!cert) {
			OPENSSL_free(data);
			continue;
		}
		_cleanup_(X509_freep) X509 *x = openssl_x509_from_der(data, (size_t)dlen, AMD_CERT_MAX);
		if (x && cert_has_role(x, role)) {
			OPENSSL_free(first);
			*ret = data;
			*ret_len = dlen;
			ERR_clear_error();
			return 0;
		}
		if (!first) {
			first = data;
			first_len = dlen;
		} else {
			OPENSSL_free(data);
		}
	}
	ERR_clear_error(); /* PEM_read_bio's end-of-input "no start line" */
	if (!first)
		return vhsm_log_openssl(-EBADMSG, "no PEM certificate");
	*ret = first;
	*ret_len = first_len;
	return 0;
}

int amd_cert_to_der_role(const uint8_t *buf, size_t len, enum amd_cert_role role,
			 uint8_t **ret_der, size_t *ret_len)
{
	_cleanup_(openssl_freep) unsigned char *pem_der = NULL;
	const uint8_t *der = buf;
	size_t der_len = len;
	uint8_t *copy;
	int r;

	if (!buf || !ret_der || !ret_len)
		return -EINVAL;
	if (len > AMD_CERT_MAX)
		return -EMSGSIZE;
	if (len == 0)
		return -EBADMSG;
	/* DER certificates start with a SEQUENCE tag; PEM is text. */
	if (buf[0] != 0x30) {
		long l = 0;
		r = pem_to_der(buf, len, role, &pem_der, &l);
		if (r < 0)
			return r;
		der = pem_der;
		der_len = (size_t)l;
	}

	X509 *x = openssl_x509_from_der(der, der_len, AMD_CERT_MAX);
	if (!x)
		return vhsm_log_openssl(-EBADMSG, "certificate does not parse as DER X.509");
	X509_free(x);
	ERR_clear_error();

	copy = malloc(der_len);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, der, der_len);
	*ret_der = copy;
	*ret_len = der_len;
	return 0;
}

bool amd_cert_is_asvk(const uint8_t *der, size_t len)
{
	_cleanup_(X509_freep) X509 *x = openssl_x509_from_der(der, len, AMD_CERT_MAX);
	char cn[64] = "";

	ERR_clear_error();
	if (!x || X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
					    sizeof(cn)) <= 0)
		return false;
	return strncmp(cn, "SEV-VLEK-", 9) == 0;
}

void amd_cert_pick_from_table(const struct certtable *t, uint32_t signing_key,
			      const struct certtable_entry **ret_vek,
			      const struct certtable_entry **ret_ask,
			      const struct certtable_entry **ret_ark)
{
	bool vlek = signing_key == SNP_SIGNING_KEY_VLEK;
	const struct certtable_entry *vek, *ask;

	vek = certtable_find(t, vlek ? SNP_CERT_VLEK : SNP_CERT_VCEK);
	if (!vek)
		vek = certtable_find(t, vlek ? SNP_CERT_VCEK : SNP_CERT_VLEK);
	ask = certtable_find(t, SNP_CERT_ASK);
	if (ask && amd_cert_is_asvk(ask->data, ask->len) != vlek)
		ask = NULL;
	*ret_vek = vek;
	*ret_ask = ask;
	*ret_ark = certtable_find(t, SNP_CERT_ARK);
}

int amd_cert_to_der(const uint8_t *buf, size_t len, uint8_t **ret_der, size_t *ret_len)
{
	return amd_cert_to_der_role(buf, len, AMD_CERT_ANY, ret_der, ret_len);
}

int amd_cert_load_file_role(const char *path, enum amd_cert_role role, uint8_t **ret_der,
			    size_t *ret_len)
{
	_cleanup_free_ uint8_t *data = NULL;
	size_t len = 0;
	int r;

	if (!path || !ret_der || !ret_len)
		return -EINVAL;
	r = fileio_read_all(path, AMD_CERT_MAX, &data, &len);
	if (r < 0)
		return r;
	return amd_cert_to_der_role(data, len, role, ret_der, ret_len);
}

int amd_cert_load_file(const char *path, uint8_t **ret_der, size_t *ret_len)
{
	return amd_cert_load_file_role(path, AMD_CERT_ANY, ret_der, ret_len);
}

/* ---- AMD extensions ---- */

/* Decodes a DER INTEGER that fills the whole buffer (OpenSSL rejects non-minimal forms). */
static int der_integer(const uint8_t *p, size_t len, int64_t *ret)
{
	const unsigned char *q = p;
	_cleanup_(ASN1_INTEGER_freep) ASN1_INTEGER *i = NULL;
	int64_t v;

	if (len == 0 || len > 16)
		return -EBADMSG;
	i = d2i_ASN1_INTEGER(NULL, &q, (long)len);
	if (!i || q != p + len || !ASN1_INTEGER_get_int64(&v, i))
		return -EBADMSG;
	*ret = v;
	return 0;
}

static int der_spl(const uint8_t *p, size_t len, uint8_t *ret)
{
	int64_t v;

	if (der_integer(p, len, &v) < 0 || v < 0 || v > 255)
		return -EBADMSG;
	*ret = (uint8_t)v;
	return 0;
}

/* A DER IA5String filling the buffer, printable ASCII only, copied NUL-terminated. */
static int der_ia5(const uint8_t *p, size_t len, char *out, size_t outlen)
{
	const unsigned char *q = p;
	_cleanup_(ASN1_IA5STRING_freep) ASN1_IA5STRING *s = NULL;
	const unsigned char *d;
	int n;

	s = d2i_ASN1_IA5STRING(NULL, &q, (long)len);
	if (!s || q != p + len)
		return -EBADMSG;
	n = ASN1_STRING_length(s);
	d = ASN1_STRING_get0_data(s);
	if (n <= 0 || (size_t)n >= outlen)
		return -EBADMSG;
	for (int k = 0; k < n; k++)
		if (d[k] < 0x20 || d[k] > 0x7e)
			return -EBADMSG;
	memcpy(out, d, (size_t)n);
	out[n] = '\0';
	return 0;
}

/*
 * KDS puts the hwID bytes directly into extnValue; some tools wrap them in an OCTET STRING.
 * A raw value of the two real sizes (64, Turin 8) is taken as is, so a raw hwID that happens
 * to start with 04 40 is never mistaken for a wrapped one.
 */
static int hwid_decode(const uint8_t *p, size_t len, struct amd_vek_ext *ext)
{
	if (len != 64 && len != 8 && len >= 2 && p[0] == 0x04 && p[1] < 0x80 &&
	    (size_t)p[1] == len - 2) {
		p += 2;
		len -= 2;
	}
	if (len == 0 || len > AMD_HWID_MAX)
		return -EBADMSG;
	memcpy(ext->hwid, p, len);
	ext->hwid_len = len;
	return 0;
}

enum amd_ext_id {
	EXT_STRUCT_VERSION,
	EXT_PRODUCT_NAME,
	EXT_BL,
	EXT_TEE,
	EXT_SNP,
	EXT_SPL4,
	EXT_SPL5,
	EXT_SPL6,
	EXT_SPL7,
	EXT_UCODE,
	EXT_FMC,
	EXT_HWID,
	EXT_CSP_ID,
	_EXT_MAX,
};

static const char *const amd_ext_suffix[_EXT_MAX] = {
	[EXT_STRUCT_VERSION] = "1", [EXT_PRODUCT_NAME] = "2", [EXT_BL] = "3.1",
	[EXT_TEE] = "3.2",	    [EXT_SNP] = "3.3",	      [EXT_SPL4] = "3.4",
	[EXT_SPL5] = "3.5",	    [EXT_SPL6] = "3.6",	      [EXT_SPL7] = "3.7",
	[EXT_UCODE] = "3.8",	    [EXT_FMC] = "3.9",	      [EXT_HWID] = "4",
	[EXT_CSP_ID] = "5",
};

static int amd_ext_decode(enum amd_ext_id id, const uint8_t *p, size_t len, struct amd_vek_ext *ext)
{
	uint8_t reserved;

	switch (id) {
	case EXT_STRUCT_VERSION:
		ext->has_struct_version = true;
		return der_integer(p, len, &ext->struct_version);
	case EXT_PRODUCT_NAME:
		return der_ia5(p, len, ext->product_name, sizeof(ext->product_name));
	case EXT_BL:
		ext->has_bl = true;
		return der_spl(p, len, &ext->bl_spl);
	case EXT_TEE:
		ext->has_tee = true;
		return der_spl(p, len, &ext->tee_spl);
	case EXT_SNP:
		ext->has_snp = true;
		return der_spl(p, len, &ext->snp_spl);
	case EXT_SPL4:
	case EXT_SPL5:
	case EXT_SPL6:
	case EXT_SPL7:
		/* Reserved SPLs: not reported, but still required to be well formed. */
		return der_spl(p, len, &reserved);
	case EXT_UCODE:
		ext->has_ucode = true;
		return der_spl(p, len, &ext->ucode_spl);
	case EXT_FMC:
		ext->has_fmc = true;
		return der_spl(p, len, &ext->fmc_spl);
	case EXT_HWID:
		return hwid_decode(p, len, ext);
	case EXT_CSP_ID:
		return der_ia5(p, len, ext->csp_id, sizeof(ext->csp_id));
	case _EXT_MAX:
		break;
	}
	return -EINVAL;
}

/* Which AMD extension an OID is; -ENOENT for anything else (ignored by the caller). */
static int amd_ext_identify(const ASN1_OBJECT *obj)
{
	const size_t plen = strlen(AMD_OID_PREFIX);
	char txt[80];
	int n;

	n = OBJ_obj2txt(txt, sizeof(txt), obj, 1);
	if (n <= 0 || (size_t)n >= sizeof(txt) || strncmp(txt, AMD_OID_PREFIX, plen) != 0)
		return -ENOENT;
	for (int id = 0; id < _EXT_MAX; id++)
		if (strcmp(txt + plen, amd_ext_suffix[id]) == 0)
			return id;
	return -ENOENT;
}

static int amd_exts_decode(const X509 *x, struct amd_vek_ext *ext)
{
	unsigned seen = 0;
	int n, r;

	n = X509_get_ext_count(x);
	for (int i = 0; i < n; i++) {
		X509_EXTENSION *e = X509_get_ext(x, i);
		int id = amd_ext_identify(X509_EXTENSION_get_object(e));
		if (id < 0)
			continue;
		/* A second copy of an extension could say something else: refuse. */
		if (seen & (1u << id)) {
			vhsm_log_debug("AMD extension %s%s appears twice", AMD_OID_PREFIX,
				       amd_ext_suffix[id]);
			return -EBADMSG;
		}
		seen |= 1u << id;
		const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(e);
		int vlen = ASN1_STRING_length(v);
		r = vlen < 0 ? -EBADMSG
			     : amd_ext_decode(id, ASN1_STRING_get0_data(v), (size_t)vlen, ext);
		if (r < 0) {
			vhsm_log_debug("AMD extension %s%s is malformed", AMD_OID_PREFIX,
				       amd_ext_suffix[id]);
			return r;
		}
	}
	return 0;
}

int amd_vek_ext_parse(const uint8_t *der, size_t len, struct amd_vek_ext *ret)
{
	_cleanup_(X509_freep) X509 *x = NULL;
	struct amd_vek_ext ext = {};
	int r;

	if (!der || !ret)
		return -EINVAL;
	x = openssl_x509_from_der(der, len, AMD_CERT_MAX);
	if (!x)
		return vhsm_log_openssl(-EBADMSG, "VCEK/VLEK does not parse");
	r = amd_exts_decode(x, &ext);
	if (r < 0)
		return vhsm_log_openssl(r, "AMD extensions");
	ERR_clear_error();
	*ret = ext;
	return 0;
}
