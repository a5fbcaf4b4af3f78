/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The firmware side of the guest messages: MSG_REPORT_REQ and MSG_KEY_REQ, checked the way
 * the SEV-SNP firmware checks them (SNP-ABI sections 1.3-1.6, 2.4) and answered with the
 * exact response layouts. A refused message is not an error here: it is a response with
 * STATUS != 0, which the driver hands back with ioctl success.
 */
#include <assert.h>

#include <openssl/err.h>

#include "log.h"
#include "sim.h"

#define KEY_SEL_VLEK_OR_VCEK 0u
#define KEY_SEL_VCEK 1u
#define KEY_SEL_VLEK 2u

#define REPORT_KEY_SEL_MASK 0x3u
#define KEY_ROOT_VMRK (1u << 0)
#define KEY_SEL_SHIFT 1
#define KEY_SEL_MASK (0x3u << KEY_SEL_SHIFT)
#define KEY_ROOT_RSVD_MASK (~0x7u)

#define DERIVED_KEY_LABEL "vhsm-snp-sim derived key v1"

/*
 * Resolves KEY_SEL to the key the firmware would use. The simulator has no VLEK, so 0 means
 * the VCEK, 2 names an absent key and 3 is reserved. Returns SNP_FW_* status.
 */
static uint32_t key_sel_check(uint32_t key_sel)
{
	switch (key_sel) {
	case KEY_SEL_VLEK_OR_VCEK:
	case KEY_SEL_VCEK:
		return SNP_FW_SUCCESS;
	case KEY_SEL_VLEK:
		return SNP_FW_INVALID_KEY;
	default:
		return SNP_FW_INVALID_PARAM;
	}
}

static uint32_t report_req_check(const struct sim_state *s, const struct snp_report_req *req)
{
	if (req->vmpl < s->vmpck_vmpl || req->vmpl > SIM_VMPL_MAX)
		return SNP_FW_INVALID_PARAM;
	if ((req->key_sel & ~REPORT_KEY_SEL_MASK) || !mem_is_zero(req->rsvd, sizeof(req->rsvd)))
		return SNP_FW_INVALID_PARAM;
	return key_sel_check(req->key_sel & REPORT_KEY_SEL_MASK);
}

static void report_build(const struct sim_state *s, const struct snp_report_req *req,
			 uint8_t r[static SNP_REPORT_SIZE])
{
	struct snp_tcb reported = sim_state_reported_tcb(s);
	uint32_t signer = SNP_SIGNING_KEY_VCEK << SNP_SIGNER_SIGNING_KEY_SHIFT;

	memset(r, 0, SNP_REPORT_SIZE);
	le32_put(r + SNP_R_VERSION, s->report_version);
	le32_put(r + SNP_R_GUEST_SVN, s->guest_svn);
	le64_put(r + SNP_R_POLICY, s->policy);
	memcpy(r + SNP_R_FAMILY_ID, s->family_id, sizeof(s->family_id));
	memcpy(r + SNP_R_IMAGE_ID, s->image_id, sizeof(s->image_id));
	le32_put(r + SNP_R_VMPL, req->vmpl);
	le32_put(r + SNP_R_SIGNATURE_ALGO, 1); /* ECDSA P-384 with SHA-384 */
	le64_put(r + SNP_R_CURRENT_TCB, snp_tcb_encode(&s->current_tcb, s->product));
	le64_put(r + SNP_R_PLATFORM_INFO, s->platform_info);
	if (s->author_key_en)
		signer |= SNP_SIGNER_AUTHOR_KEY_EN;
	le32_put(r + SNP_R_SIGNER_INFO, signer);
	memcpy(r + SNP_R_REPORT_DATA, req->user_data, sizeof(req->user_data));
	memcpy(r + SNP_R_MEASUREMENT, s->measurement, sizeof(s->measurement));
	memcpy(r + SNP_R_HOST_DATA, s->host_data, sizeof(s->host_data));
	memcpy(r + SNP_R_ID_KEY_DIGEST, s->id_key_digest, sizeof(s->id_key_digest));
	if (s->author_key_en)
		memcpy(r + SNP_R_AUTHOR_KEY_DIGEST, s->author_key_digest,
		       sizeof(s->author_key_digest));
	memcpy(r + SNP_R_REPORT_ID, s->report_id, sizeof(s->report_id));
	memcpy(r + SNP_R_REPORT_ID_MA, s->report_id_ma, sizeof(s->report_id_ma));
	le64_put(r + SNP_R_REPORTED_TCB, snp_tcb_encode(&reported, s->product));
	if (s->report_version >= 3) {
		r[SNP_R_CPUID_FAM] = s->cpuid_fam;
		r[SNP_R_CPUID_MOD] = s->cpuid_mod;
		r[SNP_R_CPUID_STEP] = s->cpuid_step;
	}
	/* Turin's CHIP_ID is 8 bytes; the state keeps the rest zero (sim_state_validate). */
	memcpy(r + SNP_R_CHIP_ID, s->chip_id, sizeof(s->chip_id));
	le64_put(r + SNP_R_COMMITTED_TCB, snp_tcb_encode(&s->committed_tcb, s->product));
	r[SNP_R_CURRENT_BUILD] = s->fw_current.build;
	r[SNP_R_CURRENT_MINOR] = s->fw_current.minor;
	r[SNP_R_CURRENT_MAJOR] = s->fw_current.major;
	r[SNP_R_COMMITTED_BUILD] = s->fw_committed.build;
	r[SNP_R_COMMITTED_MINOR] = s->fw_committed.minor;
	r[SNP_R_COMMITTED_MAJOR] = s->fw_committed.major;
	le64_put(r + SNP_R_LAUNCH_TCB, snp_tcb_encode(&s->launch_tcb, s->product));
	if (s->report_version >= 5) {
		le64_put(r + SNP_R_LAUNCH_MIT_VECTOR, s->launch_mit_vector);
		le64_put(r + SNP_R_CURRENT_MIT_VECTOR, s->current_mit_vector);
	}
}

/* ECDSA P-384 over SHA-384 of bytes 0x000-0x29F; R and S little-endian, zero-extended. */
static int report_sign(EVP_PKEY *key, uint8_t r[static SNP_REPORT_SIZE])
{
	_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
	_cleanup_(ECDSA_SIG_freep) ECDSA_SIG *sig = NULL;
	const BIGNUM *sr, *ss;
	uint8_t der[128];
	const uint8_t *p = der;
	size_t len = sizeof(der);

	if (!md || EVP_DigestSignInit_ex(md, NULL, "SHA384", NULL, NULL, key, NULL) <= 0 ||
	    EVP_DigestSign(md, der, &len, r, SNP_REPORT_SIGNED_LEN) <= 0)
		return vhsm_log_openssl(-EIO, "sim: signing the report");
	sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
	if (!sig)
		return vhsm_log_openssl(-EIO, "sim: decoding the report signature");
	ECDSA_SIG_get0(sig, &sr, &ss);
	memset(r + SNP_R_SIGNATURE, 0, SNP_REPORT_SIZE - SNP_R_SIGNATURE);
	if (BN_bn2lebinpad(sr, r + SNP_R_SIG_R, SNP_P384_LEN) != SNP_P384_LEN ||
	    BN_bn2lebinpad(ss, r + SNP_R_SIG_S, SNP_P384_LEN) != SNP_P384_LEN)
		return vhsm_log_openssl(-EIO, "sim: encoding the report signature");
	return 0;
}

int sim_fw_report(const struct sim_state *s, EVP_PKEY *vcek_key, const struct snp_report_req *req,
		  struct snp_report_resp *resp)
{
	uint32_t status;
	int r;

	if (!s || !req || !resp)
		return -EINVAL;
	memset(resp, 0, sizeof(*resp));
	status = report_req_check(s, req);
	if (status != SNP_FW_SUCCESS) {
		resp->status = status;
		return 0;
	}
	if (!vcek_key)
		return -EINVAL;
	report_build(s, req, resp->report);
	r = report_sign(vcek_key, resp->report);
	if (r < 0) {
		memset(resp, 0, sizeof(*resp));
		return r;
	}
	resp->status = SNP_FW_SUCCESS;
	resp->report_size = SNP_REPORT_SIZE;
	return 0;
}

/* The requested TCB must not exceed the committed TCB in any component. */
static bool key_tcb_ok(const struct sim_state *s, uint64_t raw)
{
	struct snp_tcb t;

	if (!snp_tcb_reserved_ok(raw, s->product) || snp_tcb_decode(raw, s->product, &t) < 0)
		return false;
	return snp_tcb_ge(&s->committed_tcb, &t, s->product);
}

static uint32_t key_req_check(const struct sim_state *s, const struct snp_derived_key_req *req)
{
	uint32_t status;

	if ((req->root_key_select & KEY_ROOT_RSVD_MASK) || req->rsvd != 0 ||
	    (req->guest_field_select & ~SNP_FIELD_VALID_MASK))
		return SNP_FW_INVALID_PARAM;
	/* VMRK: only with a migration agent, which the simulator does not have. */
	if (req->root_key_select & KEY_ROOT_VMRK)
		return SNP_FW_INVALID_PARAM;
	status = key_sel_check((req->root_key_select & KEY_SEL_MASK) >> KEY_SEL_SHIFT);
	if (status != SNP_FW_SUCCESS)
		return status;
	if (req->vmpl < s->vmpck_vmpl || req->vmpl > SIM_VMPL_MAX)
		return SNP_FW_INVALID_PARAM;
	if (req->guest_svn > s->guest_svn || !key_tcb_ok(s, req->tcb_version))
		return SNP_FW_INVALID_PARAM;
	return SNP_FW_SUCCESS;
}

/* Appends n bytes to buf (capacity cap) at *pos. */
static void info_add(uint8_t *buf, size_t cap, size_t *pos, const void *p, size_t n)
{
	assert(*pos + n <= cap);
	memcpy(buf + *pos, p, n);
	*pos += n;
}

/*
 * info = label || root (0 = VCEK) || vmpl || field_select || the selected fields in a fixed
 * order. KEY_SEL 0 and 1 both resolve to the VCEK here, so they derive the same key, as on a
 * chip without a VLEK. Fields that are not selected never enter the KDF.
 */
static size_t key_info(const struct sim_state *s, const struct snp_derived_key_req *req,
		       uint8_t *info, size_t cap)
{
	uint64_t sel = req->guest_field_select;
	uint8_t b8[8], root = 0;
	size_t pos = 0;

	info_add(info, cap, &pos, DERIVED_KEY_LABEL, sizeof(DERIVED_KEY_LABEL));
	info_add(info, cap, &pos, &root, 1);
	le32_put(b8, req->vmpl);
	info_add(info, cap, &pos, b8, 4);
	le64_put(b8, sel);
	info_add(info, cap, &pos, b8, 8);
	if (sel & SNP_FIELD_POLICY) {
		le64_put(b8, s->policy);
		info_add(info, cap, &pos, b8, 8);
	}
	if (sel & SNP_FIELD_IMAGE_ID)
		info_add(info, cap, &pos, s->image_id, sizeof(s->image_id));
	if (sel & SNP_FIELD_FAMILY_ID)
		info_add(info, cap, &pos, s->family_id, sizeof(s->family_id));
	if (sel & SNP_FIELD_MEASUREMENT)
		info_add(info, cap, &pos, s->measurement, sizeof(s->measurement));
	if (sel & SNP_FIELD_GUEST_SVN) {
		le32_put(b8, req->guest_svn);
		info_add(info, cap, &pos, b8, 4);
	}
	if (sel & SNP_FIELD_TCB_VERSION) {
		le64_put(b8, req->tcb_version);
		info_add(info, cap, &pos, b8, 8);
	}
	return pos;
}

int sim_fw_derived_key(const struct sim_state *s, const struct snp_derived_key_req *req,
		       struct snp_derived_key_resp *resp)
{
	uint8_t info[256];
	uint32_t status;
	size_t len;
	int r;

	if (!s || !req || !resp)
		return -EINVAL;
	memset(resp, 0, sizeof(*resp));
	status = key_req_check(s, req);
	if (status != SNP_FW_SUCCESS) {
		resp->status = status;
		return 0;
	}
	len = key_info(s, req, info, sizeof(info));
	r = sim_hkdf("SHA256", s->chip_secret, sizeof(s->chip_secret), NULL, 0, info, len,
		     resp->key, sizeof(resp->key));
	explicit_bzero(info, sizeof(info));
	if (r < 0) {
		explicit_bzero(resp, sizeof(*resp));
		return r;
	}
	resp->status = SNP_FW_SUCCESS;
	return 0;
}
