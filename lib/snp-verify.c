/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Attestation evidence verifier (see snp-verify.h). Every check is run when what it depends on
 * is available, and each records its own verdict, so a rejection always names its reasons.
 *
 * The chain is checked pairwise (ARK self-signature, ASK by ARK, VCEK by ASK) instead of with
 * X509_verify_cert(): KDS-issued VCEKs have serial 0 and no AKI, key usage or basic
 * constraints, so a path builder would need loosening in ways that are easy to get wrong, and
 * pairwise checks give every step its stable name. Trust comes only from the pinned ARK of the
 * product (amd-roots.c) or an ARK the caller passes in opts->trust_roots; a host-supplied ARK
 * is used only when it is byte-identical to one of those.
 */
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "amd-cert.h"
#include "log.h"
#include "openssl-util.h"
#include "snp-verify.h"

#define PSS_SALT_LEN 48 /* what AMD (and the simulator) sign with */
#define CN_MAX	     64

static const char *const check_names[_SNP_CHECK_MAX] = {
	[SNP_CHECK_REPORT_PARSE] = "report_parse",
	[SNP_CHECK_MBZ_FIELDS] = "mbz_fields",
	[SNP_CHECK_SIGNATURE_ALGO] = "signature_algo",
	[SNP_CHECK_PRODUCT] = "product",
	[SNP_CHECK_SIGNER_MATCH] = "signer_match",
	[SNP_CHECK_ARK_PINNED] = "ark_pinned",
	[SNP_CHECK_ARK_SELF] = "ark_self",
	[SNP_CHECK_ASK_BY_ARK] = "ask_by_ark",
	[SNP_CHECK_VEK_BY_ASK] = "vek_by_ask",
	[SNP_CHECK_CERT_VALIDITY] = "cert_validity",
	[SNP_CHECK_REPORT_SIG] = "report_sig",
	[SNP_CHECK_TCB_MATCH] = "tcb_match",
	[SNP_CHECK_HWID_MATCH] = "hwid_match",
	[SNP_CHECK_CRL] = "crl",
};

const char *snp_check_name(enum snp_check c)
{
	if ((int)c < 0 || c >= _SNP_CHECK_MAX)
		return NULL;
	return check_names[c];
}

const char *snp_verify_first_failure(const struct snp_verify_result *r)
{
	if (!r)
		return NULL;
	for (int c = 0; c < _SNP_CHECK_MAX; c++)
		if (r->state[c] == SNP_CHECK_FAIL)
			return check_names[c];
	return NULL;
}

/* Which intermediate the leaf must chain through: ASK for a VCEK, ASVK for a VLEK. */
enum chain_kind {
	CHAIN_VCEK,
	CHAIN_VLEK,
	_CHAIN_KIND_INVALID = -EINVAL,
};

/* Everything one snp_verify() call works on; certificates are owned here. */
struct verify {
	const struct snp_evidence *ev;
	const struct snp_verify_opts *opts;
	struct snp_verify_result *res;
	time_t at;
	enum chain_kind kind;
	X509 *leaf; /* NULL when it does not parse */
	bool ext_ok;
	struct amd_vek_ext ext;
	X509 *ask, *ark; /* the intermediate and root actually used, NULL when unusable */
};

static void verify_done(struct verify *v)
{
	X509_free(v->leaf);
	X509_free(v->ask);
	X509_free(v->ark);
	v->leaf = v->ask = v->ark = NULL;
}

_printf_(4, 5) static void check_set(struct verify *v, enum snp_check c, enum snp_check_state st,
				     const char *fmt, ...)
{
	va_list ap;

	v->res->state[c] = st;
	va_start(ap, fmt);
	vsnprintf(v->res->detail[c], sizeof(v->res->detail[c]), fmt, ap);
	va_end(ap);
}

static const char *leaf_name(const struct verify *v)
{
	return v->kind == CHAIN_VLEK ? "VLEK" : "VCEK";
}

static const char *ask_name(const struct verify *v)
{
	return v->kind == CHAIN_VLEK ? "ASVK" : "ASK";
}

/* ---- certificate helpers ---- */

/* Exactly one DER certificate filling the buffer; NULL otherwise. */
static X509 *x509_from_der(const uint8_t *der, size_t len)
{
	X509 *x = openssl_x509_from_der(der, len, AMD_CERT_MAX);

	if (!x)
		(void)vhsm_log_openssl(-EBADMSG, "certificate does not parse");
	return x;
}

static X509 *x509_pinned(enum snp_product p, enum amd_root_kind k)
{
	size_t len = 0;
	const uint8_t *der = amd_root_der(p, k, &len);

	return der ? x509_from_der(der, len) : NULL;
}

/*
 * The single commonName of a name, as printable ASCII. Several CNs, an empty or over-long
 * one, or one with control characters are refused rather than guessed at.
 */
static int name_cn(const X509_NAME *n, char *buf, size_t buflen)
{
	const ASN1_STRING *s;
	const unsigned char *d;
	int i, len;

	i = X509_NAME_get_index_by_NID(n, NID_commonName, -1);
	if (i < 0 || X509_NAME_get_index_by_NID(n, NID_commonName, i) >= 0)
		return -EBADMSG;
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i));
	len = ASN1_STRING_length(s);
	d = ASN1_STRING_get0_data(s);
	if (!d || len <= 0 || (size_t)len >= buflen)
		return -EBADMSG;
	for (int k = 0; k < len; k++)
		if (d[k] < 0x20 || d[k] > 0x7e)
			return -EBADMSG;
	memcpy(buf, d, (size_t)len);
	buf[len] = '\0';
	return 0;
}

static bool cn_is(const X509_NAME *n, const char *want)
{
	char cn[CN_MAX];

	return name_cn(n, cn, sizeof(cn)) == 0 && strcmp(cn, want) == 0;
}

/* A hash AlgorithmIdentifier for SHA-384, with absent or NULL parameters. */
static bool algor_is_sha384(const X509_ALGOR *a)
{
	const ASN1_OBJECT *obj;
	int ptype;

	if (!a)
		return false;
	X509_ALGOR_get0(&obj, &ptype, NULL, a);
	return OBJ_obj2nid(obj) == NID_sha384 && (ptype == V_ASN1_UNDEF || ptype == V_ASN1_NULL);
}

/* NULL when alg is RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48, trailer 1; else the reason. */
static const char *pss_check(const X509_ALGOR *alg)
{
	_cleanup_(RSA_PSS_PARAMS_freep) RSA_PSS_PARAMS *pss = NULL;
	_cleanup_(X509_ALGOR_freep) X509_ALGOR *mgf_md = NULL;
	const ASN1_OBJECT *obj;
	const void *pval;
	int ptype;
	int64_t v;

	X509_ALGOR_get0(&obj, &ptype, &pval, alg);
	if (OBJ_obj2nid(obj) != NID_rsassaPss)
		return "not signed with RSASSA-PSS";
	if (ptype != V_ASN1_SEQUENCE)
		return "RSASSA-PSS parameters missing";
	pss = ASN1_item_unpack(pval, ASN1_ITEM_rptr(RSA_PSS_PARAMS));
	if (!pss)
		return "RSASSA-PSS parameters malformed";
	if (!algor_is_sha384(pss->hashAlgorithm))
		return "PSS hash is not SHA-384";
	if (!pss->maskGenAlgorithm || OBJ_obj2nid(pss->maskGenAlgorithm->algorithm) != NID_mgf1)
		return "PSS mask generation is not MGF1";
	X509_ALGOR_get0(&obj, &ptype, &pval, pss->maskGenAlgorithm);
	if (ptype == V_ASN1_SEQUENCE)
		mgf_md = ASN1_item_unpack(pval, ASN1_ITEM_rptr(X509_ALGOR));
	if (!algor_is_sha384(mgf_md))
		return "PSS MGF1 hash is not SHA-384";
	if (!pss->saltLength || !ASN1_INTEGER_get_int64(&v, pss->saltLength) || v != PSS_SALT_LEN)
		return "PSS salt length is not 48";
	if (pss->trailerField && (!ASN1_INTEGER_get_int64(&v, pss->trailerField) || v != 1))
		return "PSS trailer field is not 1";
	return NULL;
}

/*
 * Checks that x names issuer as its issuer and carries its RSASSA-PSS signature. Returns NULL
 * on success, else a short reason. Drains OpenSSL errors to the debug log.
 */
static const char *cert_issued_by(X509 *x, X509 *issuer)
{
	const X509_ALGOR *alg = NULL;
	const char *why;
	EVP_PKEY *key;

	if (X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(issuer)) != 0)
		return "issuer name does not match";
	X509_get0_signature(NULL, &alg, x);
	why = pss_check(alg);
	if (!why)
		why = pss_check(X509_get0_tbs_sigalg(x));
	if (why) {
		(void)vhsm_log_openssl(-EBADMSG, why);
		return why;
	}
	key = X509_get0_pubkey(issuer);
	if (!key || !(EVP_PKEY_is_a(key, "RSA") || EVP_PKEY_is_a(key, "RSA-PSS"))) {
		(void)vhsm_log_openssl(-EBADMSG, "issuer key");
		return "issuer key is not RSA";
	}
	if (X509_verify(x, key) != 1) {
		(void)vhsm_log_openssl(-EBADMSG, "certificate signature");
		return "RSA-PSS signature does not verify";
	}
	return NULL;
}

/* True when x has basicConstraints cA=TRUE (not merely keyCertSign or a v1 root). */
static bool cert_is_ca(X509 *x)
{
	return X509_check_ca(x) == 1;
}

static bool key_is_p384(EVP_PKEY *key)
{
	char group[32];

	if (!key || !EVP_PKEY_is_a(key, "EC"))
		return false;
	if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
					    NULL))
		return false;
	return strcmp(group, SN_secp384r1) == 0;
}

/* ---- report_parse, mbz_fields, signature_algo ---- */

static bool check_report_parse(struct verify *v)
{
	const struct snp_evidence *ev = v->ev;
	int r;

	if (!ev->report) {
		check_set(v, SNP_CHECK_REPORT_PARSE, SNP_CHECK_FAIL, "no report");
		return false;
	}
	r = snp_report_parse(ev->report, ev->report_len, &v->res->report);
	if (r == -EMSGSIZE)
		check_set(v, SNP_CHECK_REPORT_PARSE, SNP_CHECK_FAIL, "length %zu, expected %u",
			  ev->report_len, SNP_REPORT_SIZE);
	else if (r == -EPROTONOSUPPORT)
		check_set(v, SNP_CHECK_REPORT_PARSE, SNP_CHECK_FAIL, "unsupported VERSION %u",
			  le32_get(ev->report + SNP_R_VERSION));
	else if (r < 0)
		check_set(v, SNP_CHECK_REPORT_PARSE, SNP_CHECK_FAIL, "malformed: %s", strerror(-r));
	if (r < 0)
		return false;
	v->res->report_parsed = true;
	v->res->signing_key = snp_report_signing_key(&v->res->report);
	check_set(v, SNP_CHECK_REPORT_PARSE, SNP_CHECK_PASS, "version %u", v->res->report.version);
	return true;
}

static void check_mbz(struct verify *v)
{
	const char *field = NULL;

	if (snp_report_check_reserved(v->ev->report, v->res->product, &field) < 0)
		check_set(v, SNP_CHECK_MBZ_FIELDS, SNP_CHECK_FAIL, "%s has a forbidden value",
			  field ? field : "a reserved field");
	else
		check_set(v, SNP_CHECK_MBZ_FIELDS, SNP_CHECK_PASS, "reserved fields as required");
}

static void check_signature_algo(struct verify *v)
{
	uint32_t a = v->res->report.signature_algo;

	if (a == 1)
		check_set(v, SNP_CHECK_SIGNATURE_ALGO, SNP_CHECK_PASS, "ECDSA P-384 with SHA-384");
	else
		check_set(v, SNP_CHECK_SIGNATURE_ALGO, SNP_CHECK_FAIL,
			  "SIGNATURE_ALGO %u, expected 1 (ECDSA P-384 with SHA-384)", a);
}

/* ---- product and signer ---- */

static enum snp_product product_from_kds_name(const char *s)
{
	for (int p = 0; p < _SNP_PRODUCT_MAX; p++)
		if (strcmp(s, snp_product_kds_name(p)) == 0)
			return p;
	return _SNP_PRODUCT_INVALID;
}

/*
 * The product the leaf claims: productName (up to the stepping, "Milan-B0" -> Milan) and the
 * issuer CN ("SEV-Milan", "SEV-VLEK-Milan"). Either may be missing; when both are there they
 * must agree. Fills why on failure.
 */
static enum snp_product product_from_leaf(const struct verify *v, char *why, size_t whylen)
{
	enum snp_product by_name = _SNP_PRODUCT_INVALID, by_issuer = _SNP_PRODUCT_INVALID;
	char buf[CN_MAX];

	if (!v->leaf) {
		snprintf(why, whylen, "the certificate does not parse");
		return _SNP_PRODUCT_INVALID;
	}
	if (v->ext_ok && v->ext.product_name[0]) {
		size_t n = strcspn(v->ext.product_name, "-");
		snprintf(buf, sizeof(buf), "%.*s", (int)n, v->ext.product_name);
		by_name = snp_product_from_string(buf);
		if (by_name < 0) {
			snprintf(why, whylen, "unknown productName \"%s\"", v->ext.product_name);
			return _SNP_PRODUCT_INVALID;
		}
	}
	if (name_cn(X509_get_issuer_name(v->leaf), buf, sizeof(buf)) == 0) {
		if (strncmp(buf, "SEV-VLEK-", 9) == 0)
			by_issuer = product_from_kds_name(buf + 9);
		else if (strncmp(buf, "SEV-", 4) == 0)
			by_issuer = product_from_kds_name(buf + 4);
	}
	if (by_name >= 0 && by_issuer >= 0 && by_name != by_issuer) {
		snprintf(why, whylen, "productName says %s, issuer says %s",
			 snp_product_to_string(by_name), snp_product_to_string(by_issuer));
		return _SNP_PRODUCT_INVALID;
	}
	if (by_name < 0 && by_issuer < 0) {
		snprintf(why, whylen, "the certificate names no known product");
		return _SNP_PRODUCT_INVALID;
	}
	return by_name >= 0 ? by_name : by_issuer;
}

static void check_product(struct verify *v)
{
	const struct snp_report *rep = &v->res->report;
	char why[96] = "";
	enum snp_product cert = product_from_leaf(v, why, sizeof(why));
	int cpuid = snp_report_product_from_cpuid(rep);

	if (cpuid >= 0) {
		/* CPUID is signed by the chip: it decides which AMD root the chain must reach. */
		v->res->product = cpuid;
		if (cert < 0)
			check_set(v, SNP_CHECK_PRODUCT, SNP_CHECK_FAIL, "CPUID says %s, but %s",
				  snp_product_to_string(cpuid), why);
		else if (cert != (enum snp_product)cpuid)
			check_set(v, SNP_CHECK_PRODUCT, SNP_CHECK_FAIL,
				  "CPUID says %s, the certificate says %s",
				  snp_product_to_string(cpuid), snp_product_to_string(cert));
		else
			check_set(v, SNP_CHECK_PRODUCT, SNP_CHECK_PASS,
				  "%s (CPUID and certificate agree)", snp_product_to_string(cpuid));
		return;
	}
	v->res->product = cert;
	if (cpuid != -ENODATA)
		check_set(v, SNP_CHECK_PRODUCT, SNP_CHECK_FAIL,
			  "unknown CPUID family 0x%02x model 0x%02x", rep->cpuid_fam_id,
			  rep->cpuid_mod_id);
	else if (cert < 0)
		check_set(v, SNP_CHECK_PRODUCT, SNP_CHECK_FAIL, "report v%u has no CPUID and %s",
			  rep->version, why);
	else
		check_set(v, SNP_CHECK_PRODUCT, SNP_CHECK_PASS,
			  "%s (from the certificate; report v%u has no CPUID)",
			  snp_product_to_string(cert), rep->version);
}

static void check_signer(struct verify *v)
{
	uint32_t sk = v->res->signing_key;
	const char *want;
	char cn[CN_MAX];

	if (sk == SNP_SIGNING_KEY_VCEK) {
		v->kind = CHAIN_VCEK;
		want = "SEV-VCEK";
	} else if (sk == SNP_SIGNING_KEY_VLEK) {
		v->kind = CHAIN_VLEK;
		want = "SEV-VLEK";
	} else {
		check_set(v, SNP_CHECK_SIGNER_MATCH, SNP_CHECK_FAIL,
			  "SIGNING_KEY %u is neither VCEK (0) nor VLEK (1)", sk);
		return;
	}
	if (!v->leaf) {
		check_set(v, SNP_CHECK_SIGNER_MATCH, SNP_CHECK_NOT_RUN, "no usable certificate");
		return;
	}
	if (name_cn(X509_get_subject_name(v->leaf), cn, sizeof(cn)) < 0)
		check_set(v, SNP_CHECK_SIGNER_MATCH, SNP_CHECK_FAIL,
			  "report signed by the %s, certificate subject has no single CN",
			  leaf_name(v));
	else if (strcmp(cn, want) != 0)
		check_set(v, SNP_CHECK_SIGNER_MATCH, SNP_CHECK_FAIL,
			  "report signed by the %s, certificate is \"%s\"", leaf_name(v), cn);
	else
		check_set(v, SNP_CHECK_SIGNER_MATCH, SNP_CHECK_PASS, "%s", want);
}

/* ---- the chain ---- */

static void load_intermediate(struct verify *v)
{
	const struct snp_evidence *ev = v->ev;

	if (ev->ask) {
		v->ask = x509_from_der(ev->ask, ev->ask_len);
		return;
	}
	v->ask = x509_pinned(v->res->product, v->kind == CHAIN_VLEK ? AMD_ROOT_ASVK : AMD_ROOT_ASK);
}

/* Quiet probe used to pick an ARK: does it sign the intermediate? */
static bool ark_signs_ask(X509 *ark, X509 *ask)
{
	return ask && !cert_issued_by(ask, ark);
}

static bool der_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	return a && b && alen == blen && memcmp(a, b, alen) == 0;
}

/* The candidate roots are the pinned ARK of the product and the caller's extra roots. */
static void select_ark(struct verify *v)
{
	const struct snp_evidence *ev = v->ev;
	const struct snp_verify_opts *o = v->opts;
	const char *pname = snp_product_kds_name(v->res->product);
	size_t plen = 0;
	const uint8_t *pinned = amd_root_der(v->res->product, AMD_ROOT_ARK, &plen);

	if (ev->ark && !der_equal(ev->ark, ev->ark_len, pinned, plen)) {
		for (size_t i = 0; o && i < o->n_trust_roots; i++) {
			if (!der_equal(ev->ark, ev->ark_len, o->trust_roots[i],
				       o->trust_root_lens[i]))
				continue;
			v->ark = x509_from_der(ev->ark, ev->ark_len);
			if (!v->ark)
				break;
			v->res->trusted_by_extra_root = true;
			check_set(v, SNP_CHECK_ARK_PINNED, SNP_CHECK_PASS,
				  "supplied ARK is extra trust root %zu (not an AMD root)", i);
			return;
		}
		check_set(v, SNP_CHECK_ARK_PINNED, SNP_CHECK_FAIL,
			  "supplied ARK is neither the pinned ARK-%s nor a trusted root", pname);
		return;
	}

	v->ark = x509_from_der(pinned, plen);
	if (!v->ark) {
		check_set(v, SNP_CHECK_ARK_PINNED, SNP_CHECK_FAIL, "pinned ARK-%s unusable", pname);
		return;
	}
	if (ev->ark || ark_signs_ask(v->ark, v->ask)) {
		check_set(v, SNP_CHECK_ARK_PINNED, SNP_CHECK_PASS, "pinned AMD ARK-%s%s", pname,
			  ev->ark ? " (supplied copy identical)" : "");
		return;
	}
	/* No ARK supplied and AMD's did not sign the intermediate: maybe an extra root did. */
	for (size_t i = 0; o && i < o->n_trust_roots; i++) {
		_cleanup_(X509_freep) X509 *cand =
			x509_from_der(o->trust_roots[i], o->trust_root_lens[i]);
		if (!cand || !ark_signs_ask(cand, v->ask))
			continue;
		X509_free(v->ark);
		v->ark = TAKE_PTR(cand);
		v->res->trusted_by_extra_root = true;
		check_set(v, SNP_CHECK_ARK_PINNED, SNP_CHECK_PASS,
			  "extra trust root %zu (not an AMD root)", i);
		return;
	}
	check_set(v, SNP_CHECK_ARK_PINNED, SNP_CHECK_PASS, "pinned AMD ARK-%s", pname);
}

static void check_ark_self(struct verify *v)
{
	const char *why;

	if (!v->ark) {
		check_set(v, SNP_CHECK_ARK_SELF, SNP_CHECK_NOT_RUN, "no trusted ARK");
		return;
	}
	why = cert_issued_by(v->ark, v->ark);
	if (!why && !cert_is_ca(v->ark))
		why = "ARK is not a CA";
	if (why)
		check_set(v, SNP_CHECK_ARK_SELF, SNP_CHECK_FAIL, "%s", why);
	else
		check_set(v, SNP_CHECK_ARK_SELF, SNP_CHECK_PASS, "self-signed, RSA-PSS SHA-384");
}

static void check_ask_by_ark(struct verify *v)
{
	const char *pname = snp_product_kds_name(v->res->product);
	const char *why = NULL;
	char want_ark[CN_MAX], want_ask[CN_MAX];

	if (!v->ask) {
		check_set(v, SNP_CHECK_ASK_BY_ARK, SNP_CHECK_FAIL, "%s does not parse",
			  ask_name(v));
		return;
	}
	if (!v->ark) {
		check_set(v, SNP_CHECK_ASK_BY_ARK, SNP_CHECK_NOT_RUN, "no trusted ARK");
		return;
	}
	snprintf(want_ark, sizeof(want_ark), "ARK-%s", pname);
	/* A VLEK must come through the ASVK and a VCEK through the ASK, never crosswise. */
	snprintf(want_ask, sizeof(want_ask), "%s%s", v->kind == CHAIN_VLEK ? "SEV-VLEK-" : "SEV-",
		 pname);
	if (!cn_is(X509_get_subject_name(v->ark), want_ark))
		check_set(v, SNP_CHECK_ASK_BY_ARK, SNP_CHECK_FAIL, "ARK subject CN is not %s",
			  want_ark);
	else if (!cn_is(X509_get_subject_name(v->ask), want_ask))
		check_set(v, SNP_CHECK_ASK_BY_ARK, SNP_CHECK_FAIL,
			  "%s subject CN is not %s (wrong intermediate for a %s)", ask_name(v),
			  want_ask, leaf_name(v));
	else if ((why = cert_issued_by(v->ask, v->ark)))
		check_set(v, SNP_CHECK_ASK_BY_ARK, SNP_CHECK_FAIL, "%s by ARK: %s", ask_name(v),
			  why);
	else if (!cert_is_ca(v->ask))
		check_set(v, SNP_CHECK_ASK_BY_ARK, SNP_CHECK_FAIL, "%s is not a CA", ask_name(v));
	else
		check_set(v, SNP_CHECK_ASK_BY_ARK, SNP_CHECK_PASS, "%s issued by %s", want_ask,
			  want_ark);
}

static void check_vek_by_ask(struct verify *v)
{
	const char *why;

	if (!v->leaf) {
		check_set(v, SNP_CHECK_VEK_BY_ASK, SNP_CHECK_FAIL, "%s does not parse",
			  leaf_name(v));
		return;
	}
	if (!v->ask) {
		check_set(v, SNP_CHECK_VEK_BY_ASK, SNP_CHECK_NOT_RUN, "no usable %s", ask_name(v));
		return;
	}
	why = cert_issued_by(v->leaf, v->ask);
	if (!why && !key_is_p384(X509_get0_pubkey(v->leaf)))
		why = "key is not ECDSA P-384";
	if (why)
		check_set(v, SNP_CHECK_VEK_BY_ASK, SNP_CHECK_FAIL, "%s by %s: %s", leaf_name(v),
			  ask_name(v), why);
	else
		check_set(v, SNP_CHECK_VEK_BY_ASK, SNP_CHECK_PASS, "%s issued by %s", leaf_name(v),
			  ask_name(v));
}

/* 0 when x is valid at t; otherwise -1 and a reason in why. */
static int cert_valid_at(X509 *x, const char *what, time_t t, char *why, size_t whylen)
{
	const ASN1_TIME *nb = X509_get0_notBefore(x), *na = X509_get0_notAfter(x);
	int b = ASN1_TIME_cmp_time_t(nb, t), a = ASN1_TIME_cmp_time_t(na, t);
	struct tm tm;
	char date[32] = "?";

	if (b == -2 || a == -2) {
		snprintf(why, whylen, "%s has a malformed validity", what);
		return -1;
	}
	if (b <= 0 && a >= 0)
		return 0;
	if (ASN1_TIME_to_tm(b > 0 ? nb : na, &tm))
		strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(why, whylen, "%s %s %s UTC", what, b > 0 ? "not valid before" : "expired", date);
	return -1;
}

static void check_validity(struct verify *v)
{
	X509 *certs[] = {v->ark, v->ask, v->leaf};
	const char *names[] = {"ARK", ask_name(v), leaf_name(v)};
	char why[SNP_CHECK_DETAIL_MAX];
	bool missing = false;

	for (size_t i = 0; i < ELEMENTSOF(certs); i++) {
		if (!certs[i]) {
			missing = true;
			continue;
		}
		if (cert_valid_at(certs[i], names[i], v->at, why, sizeof(why)) < 0) {
			check_set(v, SNP_CHECK_CERT_VALIDITY, SNP_CHECK_FAIL, "%s", why);
			return;
		}
	}
	if (missing) {
		check_set(v, SNP_CHECK_CERT_VALIDITY, SNP_CHECK_NOT_RUN,
			  "not every certificate is usable");
		return;
	}
	struct tm tm;
	char date[32] = "?";
	if (gmtime_r(&v->at, &tm))
		strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm);
	check_set(v, SNP_CHECK_CERT_VALIDITY, SNP_CHECK_PASS, "all valid at %s UTC", date);
}

/* One CRL, DER or PEM, filling the buffer (untrusted); NULL otherwise. */
static X509_CRL *crl_parse(const uint8_t *p, size_t n)
{
	const unsigned char *q = p;
	X509_CRL *crl;

	if (n == 0 || n > INT32_MAX)
		return NULL;
	if (n > 10 && memcmp(p, "-----BEGIN", 10) == 0) {
		_cleanup_(BIO_freep) BIO *bio = BIO_new_mem_buf(p, (int)n);
		return bio ? PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL) : NULL;
	}
	crl = d2i_X509_CRL(NULL, &q, (long)n);
	if (crl && q != p + n) {
		X509_CRL_free(crl);
		crl = NULL;
	}
	return crl;
}

/* NULL when the CRL is the ARK's, verifies under it and is current at t; else why not. */
static const char *crl_trusted(X509_CRL *crl, X509 *ark, time_t t)
{
	const ASN1_TIME *last = X509_CRL_get0_lastUpdate(crl), *next = X509_CRL_get0_nextUpdate(crl);

	if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ark)) != 0)
		return "the CRL's issuer is not the ARK";
	if (X509_CRL_verify(crl, X509_get0_pubkey(ark)) != 1)
		return "the CRL's signature does not verify with the ARK";
	if (!last || ASN1_TIME_cmp_time_t(last, t) > 0)
		return "the CRL is issued in the future";
	if (next && ASN1_TIME_cmp_time_t(next, t) < 0)
		return "the CRL is out of date (past its nextUpdate): fetch a current one";
	return NULL;
}

static void check_crl(struct verify *v)
{
	const struct snp_verify_opts *o = v->opts;
	X509_REVOKED *rev = NULL;
	const char *why;

	if (!o || !o->crl) {
		if (o && o->require_crl)
			check_set(v, SNP_CHECK_CRL, SNP_CHECK_FAIL, "no CRL given, and one is required");
		else
			check_set(v, SNP_CHECK_CRL, SNP_CHECK_NOT_APPLICABLE, "no CRL given");
		return;
	}
	if (!v->ark || !v->ask) {
		check_set(v, SNP_CHECK_CRL, SNP_CHECK_NOT_RUN, "no trusted ARK and usable %s",
			  ask_name(v));
		return;
	}
	_cleanup_(X509_CRL_freep) X509_CRL *crl = crl_parse(o->crl, o->crl_len);
	if (!crl) {
		check_set(v, SNP_CHECK_CRL, SNP_CHECK_FAIL, "the CRL does not parse");
		return;
	}
	why = crl_trusted(crl, v->ark, v->at);
	if (why) {
		check_set(v, SNP_CHECK_CRL, SNP_CHECK_FAIL, "%s", why);
		return;
	}
	if (X509_CRL_get0_by_serial(crl, &rev, X509_get0_serialNumber(v->ask)) == 1)
		check_set(v, SNP_CHECK_CRL, SNP_CHECK_FAIL, "the ARK's CRL revokes this %s",
			  ask_name(v));
	else /* an empty CRL has no list at all: sk_num() says -1 */
		check_set(v, SNP_CHECK_CRL, SNP_CHECK_PASS, "%s not revoked (%d CRL entries)",
			  ask_name(v), X509_CRL_get_REVOKED(crl)
			  ? sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)) : 0);
}

static void chain_not_run(struct verify *v, const char *why)
{
	for (int c = SNP_CHECK_ARK_PINNED; c <= SNP_CHECK_CERT_VALIDITY; c++)
		check_set(v, c, SNP_CHECK_NOT_RUN, "%s", why);
	if (!v->leaf)
		check_set(v, SNP_CHECK_VEK_BY_ASK, SNP_CHECK_FAIL, "certificate does not parse");
}

static void check_chain(struct verify *v)
{
	if (v->res->product < 0) {
		chain_not_run(v, "product unknown");
		return;
	}
	if (v->kind < 0) {
		chain_not_run(v, "signing key unknown");
		return;
	}
	load_intermediate(v);
	select_ark(v);
	if (v->res->state[SNP_CHECK_ARK_PINNED] != SNP_CHECK_PASS) {
		/* An untrusted ARK proves nothing; checks against it would only mislead. */
		X509_free(v->ark);
		v->ark = NULL;
	}
	check_ark_self(v);
	check_ask_by_ark(v);
	check_vek_by_ask(v);
	check_validity(v);
	check_crl(v);
}

/* ---- report signature, TCB, hwID ---- */

/* Verifies the ECDSA P-384/SHA-384 signature of raw (0x000-0x29F) with key. */
static int report_sig_verify(const uint8_t *raw, EVP_PKEY *key)
{
	_cleanup_(ECDSA_SIG_freep) ECDSA_SIG *sig = ECDSA_SIG_new();
	_cleanup_(BN_freep) BIGNUM *r = BN_lebin2bn(raw + SNP_R_SIG_R, SNP_SIG_COMPONENT_LEN, NULL);
	_cleanup_(BN_freep) BIGNUM *s = BN_lebin2bn(raw + SNP_R_SIG_S, SNP_SIG_COMPONENT_LEN, NULL);
	_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
	_cleanup_(openssl_freep) unsigned char *der = NULL;
	int der_len, ok;

	if (!sig || !r || !s || !md)
		return -ENOMEM;
	if (!ECDSA_SIG_set0(sig, r, s))
		return vhsm_log_openssl(-ENOMEM, "ECDSA_SIG_set0");
	r = s = NULL; /* owned by sig now */
	der_len = i2d_ECDSA_SIG(sig, &der);
	if (der_len <= 0)
		return vhsm_log_openssl(-ENOMEM, "i2d_ECDSA_SIG");
	if (EVP_DigestVerifyInit_ex(md, NULL, "SHA384", NULL, NULL, key, NULL) != 1)
		return vhsm_log_openssl(-EBADMSG, "EVP_DigestVerifyInit_ex");
	ok = EVP_DigestVerify(md, der, (size_t)der_len, raw, SNP_REPORT_SIGNED_LEN);
	if (ok != 1)
		return vhsm_log_openssl(-EBADMSG, "report signature");
	return 0;
}

static int check_report_sig(struct verify *v)
{
	const uint8_t *raw = v->ev->report;
	EVP_PKEY *key;
	int r;

	if (!v->leaf) {
		check_set(v, SNP_CHECK_REPORT_SIG, SNP_CHECK_NOT_RUN, "no usable certificate");
		return 0;
	}
	key = X509_get0_pubkey(v->leaf);
	if (!key_is_p384(key)) {
		ERR_clear_error();
		check_set(v, SNP_CHECK_REPORT_SIG, SNP_CHECK_FAIL,
			  "certificate key is not ECDSA P-384");
		return 0;
	}
	/* R and S are 48-byte numbers zero-extended to 72: anything above is not a signature. */
	if (!mem_is_zero(raw + SNP_R_SIG_R + SNP_P384_LEN, SNP_SIG_COMPONENT_LEN - SNP_P384_LEN) ||
	    !mem_is_zero(raw + SNP_R_SIG_S + SNP_P384_LEN, SNP_SIG_COMPONENT_LEN - SNP_P384_LEN)) {
		check_set(v, SNP_CHECK_REPORT_SIG, SNP_CHECK_FAIL,
			  "R or S has non-zero bytes above bit 383");
		return 0;
	}
	r = report_sig_verify(raw, key);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		check_set(v, SNP_CHECK_REPORT_SIG, SNP_CHECK_FAIL,
			  "ECDSA P-384 signature does not verify with the %s key", leaf_name(v));
	else
		check_set(v, SNP_CHECK_REPORT_SIG, SNP_CHECK_PASS, "signed by the %s",
			  leaf_name(v));
	return 0;
}

struct spl_cmp {
	const char *name;
	bool has;
	uint8_t cert, report;
};

static void check_tcb(struct verify *v)
{
	enum snp_product p = v->res->product;
	uint64_t raw = v->res->report.reported_tcb;
	struct snp_tcb t;

	if (p < 0 || !v->leaf) {
		check_set(v, SNP_CHECK_TCB_MATCH, SNP_CHECK_NOT_RUN,
			  p < 0 ? "product unknown" : "no usable certificate");
		return;
	}
	if (!v->ext_ok) {
		check_set(v, SNP_CHECK_TCB_MATCH, SNP_CHECK_FAIL, "AMD extensions are malformed");
		return;
	}
	if (snp_tcb_decode(raw, p, &t) < 0 || !snp_tcb_reserved_ok(raw, p)) {
		check_set(v, SNP_CHECK_TCB_MATCH, SNP_CHECK_FAIL,
			  "REPORTED_TCB 0x%016llx has non-zero reserved bytes",
			  (unsigned long long)raw);
		return;
	}
	const struct spl_cmp cmp[] = {
		{"blSPL", v->ext.has_bl, v->ext.bl_spl, t.bootloader},
		{"teeSPL", v->ext.has_tee, v->ext.tee_spl, t.tee},
		{"snpSPL", v->ext.has_snp, v->ext.snp_spl, t.snp},
		{"ucodeSPL", v->ext.has_ucode, v->ext.ucode_spl, t.microcode},
		/* Only Turin's TCB has an FMC byte (and only its VCEKs an fmcSPL). */
		{p == SNP_PRODUCT_TURIN ? "fmcSPL" : NULL, v->ext.has_fmc, v->ext.fmc_spl, t.fmc},
	};
	for (size_t i = 0; i < ELEMENTSOF(cmp); i++) {
		if (!cmp[i].name)
			continue;
		if (!cmp[i].has) {
			check_set(v, SNP_CHECK_TCB_MATCH, SNP_CHECK_FAIL, "%s extension missing",
				  cmp[i].name);
			return;
		}
		if (cmp[i].cert != cmp[i].report) {
			check_set(v, SNP_CHECK_TCB_MATCH, SNP_CHECK_FAIL,
				  "%s %u in the certificate, %u in REPORTED_TCB", cmp[i].name,
				  cmp[i].cert, cmp[i].report);
			return;
		}
	}
	if (p == SNP_PRODUCT_TURIN)
		check_set(v, SNP_CHECK_TCB_MATCH, SNP_CHECK_PASS,
			  "fmc=%u bl=%u tee=%u snp=%u ucode=%u", t.fmc, t.bootloader, t.tee, t.snp,
			  t.microcode);
	else
		check_set(v, SNP_CHECK_TCB_MATCH, SNP_CHECK_PASS, "bl=%u tee=%u snp=%u ucode=%u",
			  t.bootloader, t.tee, t.snp, t.microcode);
}

static void check_hwid(struct verify *v)
{
	const uint8_t *chip = v->res->report.chip_id;
	enum snp_product p = v->res->product;
	size_t want;

	if (v->kind == CHAIN_VLEK) {
		check_set(v, SNP_CHECK_HWID_MATCH, SNP_CHECK_NOT_APPLICABLE, "VLEK has no hwID");
		return;
	}
	if (v->kind < 0 || p < 0 || !v->leaf) {
		check_set(v, SNP_CHECK_HWID_MATCH, SNP_CHECK_NOT_RUN, "%s",
			  v->kind < 0 ? "signing key unknown"
			  : p < 0     ? "product unknown"
				      : "no usable certificate");
		return;
	}
	if (!v->ext_ok || v->ext.hwid_len == 0) {
		check_set(v, SNP_CHECK_HWID_MATCH, SNP_CHECK_FAIL, "VCEK has no valid hwID");
		return;
	}
	/* Turin VCEKs carry an 8-byte hwID; the rest of its CHIP_ID must be zero. */
	want = p == SNP_PRODUCT_TURIN ? 8 : 64;
	if (v->ext.hwid_len != want)
		check_set(v, SNP_CHECK_HWID_MATCH, SNP_CHECK_FAIL,
			  "hwID is %zu bytes, expected %zu", v->ext.hwid_len, want);
	else if (memcmp(v->ext.hwid, chip, want) != 0 || !mem_is_zero(chip + want, 64 - want))
		check_set(v, SNP_CHECK_HWID_MATCH, SNP_CHECK_FAIL, "CHIP_ID differs from hwID%s",
			  mem_is_zero(chip, 64) ? " (CHIP_ID is masked)" : "");
	else
		check_set(v, SNP_CHECK_HWID_MATCH, SNP_CHECK_PASS, "CHIP_ID == hwID (%zu bytes)",
			  want);
}

/* ---- entry point ---- */

static void load_leaf(struct verify *v)
{
	const struct snp_evidence *ev = v->ev;

	v->leaf = x509_from_der(ev->vek, ev->vek_len);
	if (v->leaf)
		v->ext_ok = amd_vek_ext_parse(ev->vek, ev->vek_len, &v->ext) == 0;
}

/*
 * Without a report only the certificates can be judged: the product and the chain kind come
 * from the leaf itself, and every check that needs the report is skipped.
 */
static void chain_without_report(struct verify *v)
{
	char why[96], cn[CN_MAX];

	for (int c = 0; c < _SNP_CHECK_MAX; c++)
		if (c != SNP_CHECK_REPORT_PARSE)
			check_set(v, c, SNP_CHECK_NOT_RUN, "report did not parse");
	load_leaf(v);
	if (v->leaf && name_cn(X509_get_subject_name(v->leaf), cn, sizeof(cn)) == 0)
		v->kind = strcmp(cn, "SEV-VCEK") == 0	? CHAIN_VCEK
			  : strcmp(cn, "SEV-VLEK") == 0 ? CHAIN_VLEK
							: _CHAIN_KIND_INVALID;
	v->res->product = product_from_leaf(v, why, sizeof(why));
	if (v->res->product >= 0 && v->kind >= 0)
		check_chain(v);
}

static int verify_run(struct verify *v)
{
	int r;

	if (!check_report_parse(v)) {
		chain_without_report(v);
		return 0;
	}
	load_leaf(v);
	check_product(v);
	check_mbz(v);
	check_signature_algo(v);
	check_signer(v);
	check_chain(v);
	r = check_report_sig(v);
	if (r < 0)
		return r;
	check_tcb(v);
	check_hwid(v);
	return 0;
}

int snp_verify(const struct snp_evidence *ev, const struct snp_verify_opts *opts,
	       struct snp_verify_result *ret)
{
	struct verify v = {
		.ev = ev,
		.opts = opts,
		.res = ret,
		.at = opts && opts->at ? opts->at : time(NULL),
		.kind = _CHAIN_KIND_INVALID,
	};
	int r;

	if (!ret)
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	ret->product = _SNP_PRODUCT_INVALID;
	ret->signing_key = SNP_SIGNING_KEY_NONE;
	if (!ev ||
	    (opts && opts->n_trust_roots > 0 && (!opts->trust_roots || !opts->trust_root_lens)))
		return -EINVAL;

	r = verify_run(&v);
	verify_done(&v);
	ERR_clear_error();
	if (r < 0)
		return r;
	for (int c = 0; c < _SNP_CHECK_MAX; c++) {
		if (ret->state[c] == SNP_CHECK_PASS)
			continue;
		if ((c == SNP_CHECK_HWID_MATCH || c == SNP_CHECK_CRL) &&
		    ret->state[c] == SNP_CHECK_NOT_APPLICABLE)
			continue;
		return -EKEYREJECTED;
	}
	return 0;
}
