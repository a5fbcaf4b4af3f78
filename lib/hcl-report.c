/* SPDX-License-Identifier: Apache-2.0 */
/* Azure HCL report parser (see hcl-report.h). */
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

#include "hcl-report.h"
#include "json-cleanup.h"
#include "json.h"

#define HCL_SIGNATURE "HCLA"
#define HCL_REQUEST_TYPE_REPORT 2u
#define HCL_RUNTIME_VERSION 1u
#define HCL_REPORT_TYPE_SNP 2u
#define HCL_OFF_RUNTIME (HCL_HEADER_SIZE + SNP_REPORT_SIZE)

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

static int parse_header(const uint8_t *buf, size_t len, uint32_t *ret_version,
			uint32_t *ret_total)
{
	uint32_t version = le32_get(buf + 4), total = le32_get(buf + 8);

	if (memcmp(buf, HCL_SIGNATURE, 4) != 0 || (version != 1 && version != 2) ||
	    le32_get(buf + 12) != HCL_REQUEST_TYPE_REPORT || !all_zero(buf + 16, 16))
		return -EBADMSG;
	if (total < HCL_OFF_RUNTIME + HCL_RUNTIME_HEADER_SIZE || total > len)
		return -EBADMSG;
	*ret_version = version;
	*ret_total = total;
	return 0;
}

int hcl_report_parse(const uint8_t *buf, size_t len, struct hcl_report *ret)
{
	const uint8_t *rt = buf + HCL_OFF_RUNTIME;
	uint32_t version, total;
	char err[JSON_ERR_MAX];

	if (!buf || !ret)
		return -EINVAL;
	if (len > HCL_REPORT_MAX)
		return -EMSGSIZE;
	if (len < HCL_OFF_RUNTIME + HCL_RUNTIME_HEADER_SIZE || parse_header(buf, len, &version,
									     &total) < 0)
		return -EBADMSG;
	uint32_t data_size = le32_get(rt), hash = le32_get(rt + 12), claims = le32_get(rt + 16);
	if (le32_get(rt + 4) != HCL_RUNTIME_VERSION || le32_get(rt + 8) != HCL_REPORT_TYPE_SNP ||
	    hash < HCL_HASH_SHA256 || hash > HCL_HASH_SHA512 || claims == 0 ||
	    claims > HCL_REPORT_MAX || data_size != HCL_RUNTIME_HEADER_SIZE + claims ||
	    (size_t)HCL_OFF_RUNTIME + data_size != total || !all_zero(buf + total, len - total))
		return -EBADMSG;
	const char *c = (const char *)rt + HCL_RUNTIME_HEADER_SIZE;
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	if (json_parse(c, claims, HCL_REPORT_MAX, "HCL claims", &o, err, sizeof(err)) < 0)
		return -EBADMSG;
	*ret = (struct hcl_report){
		.version = version,
		.hash_type = (enum hcl_hash_type)hash,
		.snp_report = buf + HCL_HEADER_SIZE,
		.claims = c,
		.claims_len = claims,
	};
	return 0;
}

int hcl_report_check_binding(const struct hcl_report *h)
{
	const EVP_MD *md = h->hash_type == HCL_HASH_SHA256 ? EVP_sha256() :
			   h->hash_type == HCL_HASH_SHA384 ? EVP_sha384() :
			   EVP_sha512();
	const uint8_t *rd = h->snp_report + SNP_R_REPORT_DATA;
	uint8_t d[64];
	unsigned int n = 0;

	if (!EVP_Digest(h->claims, h->claims_len, d, &n, md, NULL) || n > 64)
		return -EIO;
	if (CRYPTO_memcmp(d, rd, n) != 0 || !all_zero(rd + n, 64 - n))
		return -EKEYREJECTED;
	return 0;
}
