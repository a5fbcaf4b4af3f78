/* SPDX-License-Identifier: Apache-2.0 */
/* lib/hcl-evidence on the genuine Azure HCL report: this vTPM's answer to the request's data or
 * not (other data, another AK, tampered claims), and the certificate table from the cache. */
#include <stdlib.h>
#include <string.h>

#include "amd-cert.h"
#include "certtable.h"
#include "collateral.h"
#include "hcl-evidence.h"
#include "hcl-report.h"
#include "test.h"

#define HCL_VEC "milan-v2-azure-hcl-trustee/orig/hcl-report.bin"

/* The vector's claims: its AK and its user-data (64 zero bytes). */
static void vector_claims(const uint8_t *buf, size_t len, struct hcl_claims *c)
{
	struct hcl_report h;

	if (hcl_report_parse(buf, len, &h) < 0 ||
	    hcl_claims_parse(h.claims, h.claims_len, c, NULL, 0) < 0)
		memset(c, 0, sizeof(*c));
}

TEST(hcl_evidence_answers)
{
	size_t len = 0;
	_cleanup_free_ uint8_t *buf = test_read_file(test_vector(HCL_VEC), &len);
	struct hcl_claims c;
	uint8_t data[HCL_USER_DATA_SIZE], ak[HCL_AK_SPKI_MAX];
	char why[256] = "";

	vector_claims(buf, len, &c);
	ASSERT_TRUE(c.have_user_data && c.ak_spki_len > 0);
	memcpy(data, c.user_data, sizeof(data));
	memcpy(ak, c.ak_spki, c.ak_spki_len);
	ASSERT_EQ(hcl_evidence_check(buf, len, ak, c.ak_spki_len, data, why, sizeof(why)), 0);

	/* Another request's data: the paravisor has not answered this one. */
	data[63] ^= 1;
	ASSERT_EQ(hcl_evidence_check(buf, len, ak, c.ak_spki_len, data, why, sizeof(why)),
		  -ESTALE);
	ASSERT_TRUE(strstr(why, "user-data is not this request's") != NULL);
	data[63] ^= 1;

	/* Another vTPM's AK (a byte of the key, or a shorter key). */
	ak[c.ak_spki_len - 1] ^= 1;
	ASSERT_EQ(hcl_evidence_check(buf, len, ak, c.ak_spki_len, data, why, sizeof(why)),
		  -EKEYREJECTED);
	ASSERT_TRUE(strstr(why, "another attestation key") != NULL);
	ak[c.ak_spki_len - 1] ^= 1;
	ASSERT_EQ(hcl_evidence_check(buf, len, ak, c.ak_spki_len - 1, data, why, sizeof(why)),
		  -EKEYREJECTED);

	/* Claims edited after the paravisor bound them (a byte of the JSON), a cut report, an
	 * SNP report alone: malformed or unbound. */
	buf[0x4D4 + 20] ^= 1;
	ASSERT_EQ(hcl_evidence_check(buf, len, ak, c.ak_spki_len, data, why, sizeof(why)),
		  -EBADMSG);
	buf[0x4D4 + 20] ^= 1;
	ASSERT_EQ(hcl_evidence_check(buf, 0x4D4 + 100, ak, c.ak_spki_len, data, why, sizeof(why)),
		  -EBADMSG);
	ASSERT_EQ(hcl_evidence_check(buf + 0x20, SNP_REPORT_SIZE, ak, c.ak_spki_len, data, why,
				     sizeof(why)), -EBADMSG);
}

/* The vector's certificate named file as DER. */
static uint8_t *vector_der(const char *file, size_t *ret_len)
{
	size_t len = 0;
	_cleanup_free_ uint8_t *pem = test_read_file(test_vector(file), &len);
	uint8_t *der = NULL;

	if (!pem || amd_cert_to_der(pem, len, &der, ret_len) < 0)
		return NULL;
	return der;
}

TEST(hcl_evidence_certificates_from_the_cache)
{
	static const char *const files[] = { "milan-v2-azure-hcl-trustee/vcek.pem",
					     "milan-v2-azure-hcl-trustee/ask.pem",
					     "milan-v2-azure-hcl-trustee/ark.pem" };
	static const enum snp_cert_kind kinds[] = { SNP_CERT_VCEK, SNP_CERT_ASK, SNP_CERT_ARK };
	size_t len = 0, tlen = 0;
	_cleanup_free_ uint8_t *buf = test_read_file(test_vector(HCL_VEC), &len);
	_cleanup_free_ uint8_t *table = NULL;
	const char *dir = test_tmpdir();
	struct certtable t;
	char err[256] = "";

	/* Nothing cached: an empty (valid) table, for the verifier to name what is missing. */
	ASSERT_EQ(hcl_evidence_certs(dir, buf, len, &table, &tlen), 0);
	ASSERT_EQ(certtable_parse(table, tlen, &t), 0);
	ASSERT_EQ(t.n_entries, 0);
	free(TAKE_PTR(table));

	for (size_t i = 0; i < 3; i++) {
		size_t l = 0;
		_cleanup_free_ uint8_t *der = vector_der(files[i], &l);
		ASSERT_TRUE(der != NULL);
		ASSERT_EQ(collateral_import(dir, der, l, NULL, err, sizeof(err)), 0);
	}
	ASSERT_EQ(hcl_evidence_certs(dir, buf, len, &table, &tlen), 0);
	ASSERT_EQ(tlen % 4096, 0);
	ASSERT_EQ(certtable_parse(table, tlen, &t), 0);
	ASSERT_EQ(t.n_entries, 3);
	for (size_t i = 0; i < 3; i++) {
		size_t l = 0;
		_cleanup_free_ uint8_t *der = vector_der(files[i], &l);
		const struct certtable_entry *e = certtable_find(&t, kinds[i]);
		ASSERT_TRUE(der != NULL && e != NULL);
		ASSERT_EQ(e->len, l);
		ASSERT_MEMEQ(e->data, der, l);
	}
	/* Not an HCL report: refused, nothing handed out. */
	free(TAKE_PTR(table));
	ASSERT_EQ(hcl_evidence_certs(dir, buf + 0x20, SNP_REPORT_SIZE, &table, &tlen), -EBADMSG);
	ASSERT_TRUE(table == NULL);
}
