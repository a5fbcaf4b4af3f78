/* SPDX-License-Identifier: Apache-2.0 */
/* Attestation from an Azure HCL report (see hcl-attest.h). */
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "collateral.h"
#include "ct.h"
#include "hcl-attest.h"
#include "hcl-report.h"
#include "json-cleanup.h"
#include "json.h"
#include "openssl-util.h"

#define RSA_MODULUS_MAX 512u /* 4096 bits */

static const char *const check_names[_HCL_CHECK_MAX] = {
	[HCL_CHECK_PARSE] = "hcl_parse",
	[HCL_CHECK_CLAIMS] = "claims",
	[HCL_CHECK_BINDING] = "claims_binding",
	[HCL_CHECK_SNP] = "snp_report",
	[HCL_CHECK_AK] = "ak_match",
	[HCL_CHECK_USER_DATA] = "user_data",
	[HCL_CHECK_PERSISTED] = "tpm_persisted",
};

const char *hcl_check_name(enum hcl_check c)
{
	return (unsigned)c < _HCL_CHECK_MAX ? check_names[c] : NULL;
}

static int fail(char *err, size_t errlen, const char *msg)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", msg);
	return -EBADMSG;
}

/* A base64url JWK member (no padding) decoded into out; returns the length or -EBADMSG. */
static int jwk_bytes(json_object *jwk, const char *name, uint8_t *out, size_t cap)
{
	const char *s;
	size_t len;

	if (json_member_string(jwk, NULL, name, 0, &s, &len, NULL, 0) < 0)
		return -EBADMSG;
	int n = ct_base64_decode_full(out, cap, s, len, CT_BASE64_URL_TOO | CT_BASE64_PAD_OPTIONAL);
	return n <= 0 ? -EBADMSG : n;
}

/* The RSA public key (n, e big-endian) as DER SubjectPublicKeyInfo into c->ak_spki. */
static int rsa_spki(const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len,
		    struct hcl_claims *c)
{
	int len = openssl_rsa_spki(n, n_len, e, e_len, c->ak_spki, sizeof(c->ak_spki));

	if (len < 0)
		return -EBADMSG;
	c->ak_spki_len = (size_t)len;
	return 0;
}

/* The "HCLAkPub" JWK among "keys". */
static int parse_ak(json_object *root, struct hcl_claims *c, char *err, size_t errlen)
{
	json_object *keys;
	uint8_t n[RSA_MODULUS_MAX], e[8];

	if (json_member(root, NULL, "keys", json_type_array, &keys, NULL, 0) < 0)
		return fail(err, errlen, "the claims have no \"keys\" array");
	size_t nk = json_object_array_length(keys);
	for (size_t i = 0; i < nk; i++) {
		json_object *k = json_object_array_get_idx(keys, i);
		const char *kid, *kty;
		if (json_member_string(k, NULL, "kid", 0, &kid, NULL, NULL, 0) < 0 ||
		    strcmp(kid, "HCLAkPub") != 0)
			continue;
		if (json_member_string(k, NULL, "kty", 0, &kty, NULL, NULL, 0) < 0 ||
		    strcmp(kty, "RSA") != 0)
			return fail(err, errlen, "the claims' HCLAkPub is not an RSA key");
		int nl = jwk_bytes(k, "n", n, sizeof(n)), el = jwk_bytes(k, "e", e, sizeof(e));
		if (nl < 256 || el < 1 || rsa_spki(n, (size_t)nl, e, (size_t)el, c) < 0)
			return fail(err, errlen, "the claims' HCLAkPub is not a valid RSA key of "
				    "2048 to 4096 bits");
		return 0;
	}
	return fail(err, errlen, "the claims name no attestation key (no \"HCLAkPub\" in "
		    "\"keys\")");
}

/* A boolean member of vm-configuration: 1, 0, -1 when absent, -EBADMSG when not boolean. */
static int vm_bool(json_object *vm, const char *name)
{
	bool b;
	int r = json_member_bool(vm, NULL, name, &b, NULL, 0);

	if (r == -ENOENT)
		return -1;
	if (r < 0)
		return -EBADMSG;
	return b ? 1 : 0;
}

static int parse_vm_configuration(json_object *root, struct hcl_claims *c, char *err,
				  size_t errlen)
{
	json_object *vm;
	const char *id;
	int r;

	if (json_member(root, NULL, "vm-configuration", json_type_object, &vm, NULL, 0) < 0)
		return fail(err, errlen, "the claims have no \"vm-configuration\" object");
	int persisted = vm_bool(vm, "tpm-persisted");
	c->secure_boot = vm_bool(vm, "secure-boot");
	c->tpm_enabled = vm_bool(vm, "tpm-enabled");
	if (persisted == -EBADMSG || c->secure_boot == -EBADMSG || c->tpm_enabled == -EBADMSG)
		return fail(err, errlen, "a \"vm-configuration\" flag is not a boolean");
	c->tpm_persisted = persisted < 0 ? HCL_TPM_PERSISTED_UNKNOWN :
			   persisted ? HCL_TPM_PERSISTED_YES : HCL_TPM_PERSISTED_NO;
	r = json_member_string(vm, NULL, "vmUniqueId", sizeof(c->vm_unique_id) - 1, &id, NULL,
			       NULL, 0);
	if (r < 0 && r != -ENOENT)
		return fail(err, errlen, "\"vmUniqueId\" is not a short string");
	if (r == 0)
		snprintf(c->vm_unique_id, sizeof(c->vm_unique_id), "%s", id);
	return 0;
}

int hcl_claims_parse(const char *claims, size_t len, struct hcl_claims *ret, char *err,
		     size_t errlen)
{
	_cleanup_(json_object_putp) json_object *root = NULL;
	struct hcl_claims c = { .secure_boot = -1, .tpm_enabled = -1 };
	const char *ud;
	size_t ud_len;
	char jerr[JSON_ERR_MAX];
	int r;

	if (!claims || !ret)
		return -EINVAL;
	if (json_parse(claims, len, HCL_REPORT_MAX, "HCL claims", &root, jerr, sizeof(jerr)) < 0)
		return fail(err, errlen, jerr);
	r = parse_ak(root, &c, err, errlen);
	if (r < 0)
		return r;
	r = parse_vm_configuration(root, &c, err, errlen);
	if (r < 0)
		return r;
	r = json_member_string(root, NULL, "user-data", 0, &ud, &ud_len, NULL, 0);
	if (r != -ENOENT) {
		if (r < 0 || ct_hex_decode(c.user_data, sizeof(c.user_data), ud, ud_len) < 0)
			return fail(err, errlen, "\"user-data\" is not 128 hex digits");
		c.have_user_data = true;
	}
	*ret = c;
	return 0;
}

static int reject(struct hcl_verify_result *res, enum hcl_check c, int r, const char *why)
{
	res->failed = (int)c;
	snprintf(res->detail, sizeof(res->detail), "%s", why);
	return r;
}

int hcl_verify(const uint8_t *buf, size_t len, const struct hcl_verify_opts *o,
	       struct hcl_verify_result *ret)
{
	struct hcl_report h;
	char err[256];
	int r;

	*ret = (struct hcl_verify_result){ .failed = -1 };
	r = hcl_report_parse(buf, len, &h);
	if (r < 0)
		return reject(ret, HCL_CHECK_PARSE, -EBADMSG, r == -EMSGSIZE ?
			      "the HCL report is larger than 64 KiB" :
			      "not an HCL report (HCLA header, sizes or claims malformed)");
	ret->version = h.version;
	ret->passed[HCL_CHECK_PARSE] = true;
	r = hcl_claims_parse(h.claims, h.claims_len, &ret->claims, err, sizeof(err));
	if (r < 0)
		return reject(ret, HCL_CHECK_CLAIMS, -EBADMSG, err);
	ret->passed[HCL_CHECK_CLAIMS] = true;
	r = hcl_report_check_binding(&h);
	if (r == -ENOMEM || r == -EIO)
		return reject(ret, HCL_CHECK_BINDING, -ENOMEM, "cannot hash the claims");
	if (r < 0)
		return reject(ret, HCL_CHECK_BINDING, -EKEYREJECTED, "REPORT_DATA is not the hash "
			      "of the claims: the claims were changed or belong to another report");
	ret->passed[HCL_CHECK_BINDING] = true;

	/* The SNP report and its chain: the VCEK comes from the collateral cache. */
	_cleanup_(collateral_done) struct collateral hold = {};
	struct snp_evidence ev = { .report = h.snp_report, .report_len = SNP_REPORT_SIZE };
	collateral_complete_evidence(o ? o->collateral_dir : NULL, h.snp_report, &ev, &hold,
				     ret->collateral, sizeof(ret->collateral));
	if (!ev.vek)
		return reject(ret, HCL_CHECK_SNP, -EKEYREJECTED, "no VCEK for the report's chip "
			      "and TCB in the collateral cache (vhsmctl collateral import of THIM "
			      "JSON, or collateral fetch)");
	struct snp_verify_opts vo = o ? o->snp : (struct snp_verify_opts){};
	if (!vo.crl && hold.crl) {
		vo.crl = hold.crl;
		vo.crl_len = hold.crl_len;
	}
	r = snp_verify(&ev, &vo, &ret->snp);
	if (r == -EKEYREJECTED) {
		int c = 0;
		while (c < _SNP_CHECK_MAX && ret->snp.state[c] != SNP_CHECK_FAIL)
			c++;
		if (c == _SNP_CHECK_MAX)
			snprintf(err, sizeof(err), "the SNP report does not verify");
		else
			snprintf(err, sizeof(err), "the SNP report does not verify: %s failed%s%.180s",
				 snp_check_name(c), ret->snp.detail[c][0] ? ": " : "",
				 ret->snp.detail[c]);
		return reject(ret, HCL_CHECK_SNP, r, err);
	}
	if (r < 0)
		return reject(ret, HCL_CHECK_SNP, r, "cannot verify the SNP report");
	ret->passed[HCL_CHECK_SNP] = true;

	if (o && o->expect_ak_spki &&
	    (o->expect_ak_spki_len != ret->claims.ak_spki_len ||
	     CRYPTO_memcmp(o->expect_ak_spki, ret->claims.ak_spki, ret->claims.ak_spki_len) != 0))
		return reject(ret, HCL_CHECK_AK, -EKEYREJECTED, "the claims name another "
			      "attestation key than this vTPM's: the report is not from this VM");
	ret->passed[HCL_CHECK_AK] = true;
	if (o && o->expect_user_data &&
	    (!ret->claims.have_user_data ||
	     CRYPTO_memcmp(o->expect_user_data, ret->claims.user_data, HCL_USER_DATA_SIZE) != 0))
		return reject(ret, HCL_CHECK_USER_DATA, -EKEYREJECTED, "the claims' user data is "
			      "not the nonce written: the report is stale or replayed");
	ret->passed[HCL_CHECK_USER_DATA] = true;
	if (o && o->require_tpm_persisted && ret->claims.tpm_persisted != HCL_TPM_PERSISTED_YES)
		return reject(ret, HCL_CHECK_PERSISTED, -EKEYREJECTED,
			      ret->claims.tpm_persisted == HCL_TPM_PERSISTED_NO ?
			      "the claims say tpm-persisted: false: the vTPM's state (and anything "
			      "sealed to it) is dropped on reboot" :
			      "the claims do not say whether the vTPM's state persists "
			      "(no tpm-persisted)");
	ret->passed[HCL_CHECK_PERSISTED] = true;
	return 0;
}
