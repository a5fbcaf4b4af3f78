/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The audit chain key: only this CVM can derive it, so only this CVM can write records that
 * verify under it (docs/SECURITY.md, "Keyed audit chain").
 *
 *   derived = MSG_KEY_REQ(root VCEK, KEY_SEL 0, fields MEASUREMENT | GUEST_POLICY, the VMPL of
 *             vhsmd's own attestation report, guest SVN 0, TCB 0)
 *   key     = HKDF-SHA256(derived, no salt, info = "vhsm-audit-chain-v1")
 *   kid     = hex of the first 8 bytes of HMAC-SHA256(key, "vhsm-audit-key-id")
 *   mac(R)  = HMAC-SHA256(key, hash of R as its 64 hex digits)
 *
 * Guest SVN and TCB are not selected, so firmware updates keep the key; a new launch
 * measurement or guest policy gives another key (the chain then goes on under the new one).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "vhsmd.h"

#define AUDIT_KEY_SIZE 32u
#define AUDIT_KID_HEX 16u

/*
 * Derives the audit key of this CVM from dev at vmpl (the VMPL vhsmd runs at, from its
 * report). Returns 0 with the key in fresh secmem (caller frees with secmem_free) and its
 * id, or -errno (-EREMOTEIO: the firmware refused). Does not log.
 */
int audit_key_derive(struct snp_dev *dev, uint32_t vmpl, uint8_t **ret_key,
		     char ret_kid[static AUDIT_KID_HEX + 1]);

/* The same for another use of a CVM-bound key: info is its HKDF label (store manifest). */
int audit_key_derive_info(struct snp_dev *dev, uint32_t vmpl, const char *info,
			  uint8_t **ret_key, char ret_kid[static AUDIT_KID_HEX + 1]);

/* HMAC-SHA256(key, data) as 64 lowercase hex digits. 0 or -EIO. */
int audit_key_mac(const uint8_t key[static AUDIT_KEY_SIZE], const char *data, size_t len,
		  char ret_hex[static 65]);
