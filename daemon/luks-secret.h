/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The LUKS2 keyslot secret service (luks-secret.c), shared by the LUKS requests (op-luks.c)
 * and the crypttab key socket (luks-keysock.c). docs/boot-unlock.md.
 */
#pragma once

#include "vhsmd.h"
#include "wrap.h"

/*
 * Unwraps a token's keyslot secret for LUKS UUID uuid (the rules are in luks-secret.c).
 * Returns 0 with LUKS_SECRET_SIZE bytes in fresh secmem and the wrapped key's header in
 * ret_info, or -EINVAL/-EBADMSG (malformed input; ret_info untouched), -EKEYREVOKED (KEK
 * disabled or deleted), -ENOKEY, -EKEYREJECTED (attestation, sealing or unwrapping refused)
 * or -errno, with why filled. Does not log or audit.
 */
int luks_unseal_secret(struct manager *m, const uint8_t *sealed, size_t sealed_len,
		       const uint8_t *wrapped, size_t wrapped_len, const char *uuid,
		       struct wrap_info *ret_info, uint8_t **ret_secret, char *why, size_t whylen);

/*
 * Unseals the store's KEK name, refusing one that is not enabled (-EKEYREVOKED, checked
 * before any firmware request). 0 with meta, params and the keys (secmem, the caller frees),
 * or -ENOENT and store_unseal()'s errors, with why filled. Outputs are set only on success.
 */
int luks_kek_unseal(struct manager *m, const char *name, struct kek_meta *meta,
		    struct seal_params *params, uint8_t **keys, char *why, size_t whylen);

/* The key of version v among keys (as luks_kek_unseal() returns them), or NULL. */
const uint8_t *luks_kek_version_key(const struct kek_meta *meta, const uint8_t *keys,
				    uint32_t v);
