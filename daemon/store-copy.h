/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sealed copies of one KEK version (store-copy.c), carried in LUKS2 tokens
 * (docs/boot-unlock.md). Not files: the blob travels with the token.
 */
#pragma once

#include "vhsmd.h"

/*
 * Seals one KEK version key (32 bytes) for name/version under profile at the current
 * attested state (gate required). The blob's label is the KEK name, its metadata
 * {"kek":NAME,"kek_version":V,"use":"luks2-token"}. Returns 0 and a malloc'ed blob, or
 * -errno with why filled. Outputs are set only on success.
 */
int store_seal_copy(struct manager *m, const char *name, uint32_t version,
		    enum seal_profile profile, const uint8_t key[static 32], uint8_t **ret_blob,
		    size_t *ret_len, char *why, size_t whylen);
/*
 * Unseals a copy made by store_seal_copy (gate required). Checks that it is a copy of
 * name/version. Returns 0 and the key in fresh secmem (32 bytes), or -EBADMSG (not such a
 * copy), -EKEYREJECTED (another CVM, measurement, TCB, or modified; why explains) or -errno.
 */
int store_unseal_copy(struct manager *m, const uint8_t *blob, size_t len, const char *name,
		      uint32_t version, uint8_t **ret_key, char *why, size_t whylen);
