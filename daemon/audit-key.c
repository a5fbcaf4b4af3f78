/* SPDX-License-Identifier: Apache-2.0 */
/* The audit chain key, derived from the SNP derived key (see audit-key.h). */
#include <string.h>

#include "audit-key.h"
#include "ct.h"
#include "hkdf.h"
#include "secmem.h"
#include "snp-abi.h"

static const char audit_key_info[] = "vhsm-audit-chain-v1";
static const char audit_kid_info[] = "vhsm-audit-key-id";

/* The audit chain's MAC: one per record, so on lib/hkdf.h's kept context (OpenSSL's one-shot
 * HMAC() fetches HMAC by name every call). */
static int hmac_sha256(const uint8_t key[static AUDIT_KEY_SIZE], const void *data, size_t len,
		       uint8_t out[static 32])
{
	return hkdf_hmac_sha256(key, AUDIT_KEY_SIZE, data, len, out);
}

int audit_key_mac(const uint8_t key[static AUDIT_KEY_SIZE], const char *data, size_t len,
		  char ret_hex[static 65])
{
	uint8_t md[32];
	CLEANUP_ERASE(md);
	int r = hmac_sha256(key, data, len, md);

	if (r < 0)
		return r;
	ct_hex_encode(ret_hex, md, sizeof(md));
	return 0;
}

int audit_key_derive(struct snp_dev *dev, uint32_t vmpl, uint8_t **ret_key,
		     char ret_kid[static AUDIT_KID_HEX + 1])
{
	return audit_key_derive_info(dev, vmpl, audit_key_info, ret_key, ret_kid);
}

int audit_key_derive_info(struct snp_dev *dev, uint32_t vmpl, const char *info,
			  uint8_t **ret_key, char ret_kid[static AUDIT_KID_HEX + 1])
{
	_cleanup_secmem_ uint8_t *dkey = secmem_alloc(32), *key = secmem_alloc(AUDIT_KEY_SIZE);
	struct snp_key_request kr = {
		.root_key_select = 0,
		.key_sel = 0,
		.field_select = SNP_FIELD_MEASUREMENT | SNP_FIELD_POLICY,
		.vmpl = vmpl,
	};
	struct snp_status st = {};
	uint8_t id[32];
	int r;

	if (!dkey || !key)
		return -ENOMEM;
	if (!dev)
		return -ENODEV;
	r = snp_dev_get_derived_key(dev, &kr, dkey, &st);
	if (r < 0)
		return r;
	r = hkdf_sha256(dkey, 32, NULL, 0, (const uint8_t *)info, strlen(info), key,
			AUDIT_KEY_SIZE);
	if (r < 0)
		return r;
	r = hmac_sha256(key, audit_kid_info, sizeof(audit_kid_info) - 1, id);
	if (r < 0)
		return r;
	ct_hex_encode(ret_kid, id, AUDIT_KID_HEX / 2);
	ret_kid[AUDIT_KID_HEX] = 0;
	*ret_key = TAKE_PTR(key);
	return 0;
}
