/* SPDX-License-Identifier: Apache-2.0 */
/* lib/hcl-report: the genuine Azure HCL report parses, binds its claims and verifies; every
 * tampering fails. */
#include <string.h>

#include "amd-cert.h"
#include "hcl-report.h"
#include "snp-verify.h"
#include "test.h"

#define HCL_VEC "milan-v2-azure-hcl-trustee/orig/hcl-report.bin"

static int verify_embedded(const struct hcl_report *h)
{
	size_t vl = 0;
	_cleanup_free_ uint8_t *pem = test_read_file(
		test_vector("milan-v2-azure-hcl-trustee/vcek.pem"), &vl);
	_cleanup_free_ uint8_t *vcek = NULL;
	size_t vcek_len = 0;
	struct snp_verify_result vr;

	if (amd_cert_to_der(pem, vl, &vcek, &vcek_len) < 0)
		return -EIO;
	const struct snp_evidence ev = {
		.report = h->snp_report, .report_len = SNP_REPORT_SIZE,
		.vek = vcek, .vek_len = vcek_len,
	};
	/* the vector's VCEK is valid until 2030 */
	const struct snp_verify_opts vo = { .at = 1735689600 };
	return snp_verify(&ev, &vo, &vr);
}

TEST(hcl_genuine_report)
{
	size_t len = 0;
	_cleanup_free_ uint8_t *buf = test_read_file(test_vector(HCL_VEC), &len);
	struct hcl_report h;

	ASSERT_EQ(len, 2600);
	ASSERT_EQ(hcl_report_parse(buf, len, &h), 0);
	ASSERT_EQ(h.version, 1);
	ASSERT_EQ(h.hash_type, HCL_HASH_SHA256);
	ASSERT_EQ(h.claims_len, 1110);
	ASSERT_TRUE(memcmp(h.claims, "{\"keys\":[", 9) == 0);
	ASSERT_TRUE(h.snp_report == buf + 0x20);
	ASSERT_EQ(hcl_report_check_binding(&h), 0);
	ASSERT_EQ(verify_embedded(&h), 0);
}

TEST(hcl_tampered_reports_fail)
{
	size_t len = 0;
	_cleanup_free_ uint8_t *buf = test_read_file(test_vector(HCL_VEC), &len);
	struct hcl_report h;

	/* A changed claim (e.g. another AK, "tpm-persisted" flipped) breaks the binding. */
	uint8_t *claims = buf + 0x4D4;
	claims[100] ^= 0x01;
	ASSERT_EQ(hcl_report_parse(buf, len, &h), 0);
	ASSERT_EQ(hcl_report_check_binding(&h), -EKEYREJECTED);
	claims[100] ^= 0x01;
	/* A changed REPORT_DATA binds, but the AMD signature no longer verifies. */
	buf[0x20 + 0x50] ^= 0x80;
	ASSERT_EQ(hcl_report_parse(buf, len, &h), 0);
	ASSERT_EQ(hcl_report_check_binding(&h), -EKEYREJECTED);
	ASSERT_EQ(verify_embedded(&h), -EKEYREJECTED);
	buf[0x20 + 0x50] ^= 0x80;
	/* The measurement changed: the signature fails. */
	buf[0x20 + 0x90] ^= 0x01;
	ASSERT_EQ(hcl_report_parse(buf, len, &h), 0);
	ASSERT_EQ(verify_embedded(&h), -EKEYREJECTED);
	buf[0x20 + 0x90] ^= 0x01;
	ASSERT_EQ(hcl_report_parse(buf, len, &h), 0);
	ASSERT_EQ(verify_embedded(&h), 0);
}

TEST(hcl_malformed_reports_refused)
{
	size_t len = 0;
	_cleanup_free_ uint8_t *buf = test_read_file(test_vector(HCL_VEC), &len);
	struct hcl_report h;
	/* offset, xor: signature, version, total size, request type, reserved, runtime size,
	 * runtime version, report type, hash type, claims size, padding, claims JSON */
	static const struct { size_t off; uint8_t x; } flips[] = {
		{ 0x000, 0x01 }, { 0x004, 0x04 }, { 0x008, 0x01 }, { 0x00C, 0x01 }, { 0x014, 0x01 },
		{ 0x4C0, 0x01 }, { 0x4C4, 0x02 }, { 0x4C8, 0x01 }, { 0x4CC, 0x04 }, { 0x4D0, 0x01 },
		{ 2599, 0x01 }, { 0x4D4, 0x01 },
	};

	for (size_t i = 0; i < ELEMENTSOF(flips); i++) {
		buf[flips[i].off] ^= flips[i].x;
		if (hcl_report_parse(buf, len, &h) != -EBADMSG)
			test_fail(__FILE__, __LINE__, "flip at 0x%zx accepted", flips[i].off);
		buf[flips[i].off] ^= flips[i].x;
	}
	ASSERT_EQ(hcl_report_parse(buf, len, &h), 0);
	/* Truncated anywhere before the end of the claims. */
	for (size_t n = 0; n < 0x4D4 + 1110; n += 37)
		if (hcl_report_parse(buf, n, &h) != -EBADMSG)
			test_fail(__FILE__, __LINE__, "truncation to %zu accepted", n);
	/* Without the zero padding it still parses (a report read to its own size). */
	ASSERT_EQ(hcl_report_parse(buf, 0x4D4 + 1110, &h), 0);
	ASSERT_EQ(hcl_report_parse(buf, HCL_REPORT_MAX + 1, &h), -EMSGSIZE);
}
