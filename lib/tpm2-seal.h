/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sealing a secret to the (v)TPM: a TPM2 sealed data object (KEYEDHASH, no user auth) under
 * the storage root key that the owner hierarchy's seed re-creates from the TCG template
 * (ECC P-256, so nothing needs to be persisted in the TPM), readable only through a policy
 * session whose PolicyPCR matches the PCR values at sealing time.
 *
 * Which PCRs: TPM2_SEAL_PCRS_DEFAULT is PCR 7 alone, the Secure Boot policy (the state of
 * Secure Boot and the PK/KEK/db/dbx it enforces): it changes when Secure Boot is turned off
 * or its keys change, and not when a kernel or initrd signed by the same keys is updated.
 * PCRs 0-6 measure firmware and boot-loader code and change with every firmware or boot
 * loader update, which a cloud provider applies on its own schedule (on Azure the UEFI
 * firmware comes with the paravisor): sealing to them would lose the KEK at such an update.
 *
 * The blob: "VTPS", format 1 (16-bit), the PCR mask (32-bit, SHA-256 bank), then the
 * object's TPM2B_PUBLIC and TPM2B_PRIVATE as the TPM marshals them. The TPM protects the
 * private part (encrypted and integrity-protected under the storage root key): another TPM,
 * or this TPM after its owner seed changed, cannot load it. Library code; never logs.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "macro.h"

struct tpm2;

#define TPM2_SEAL_PCRS_DEFAULT (1u << 7)
#define TPM2_SEAL_SECRET_MAX 128u
#define TPM2_SEAL_BLOB_MAX 1024u

/*
 * Seals secret[0..len) (1..TPM2_SEAL_SECRET_MAX bytes) to the PCRs in pcr_mask (bits 0-23,
 * not 0) at their current values. Returns 0 with a malloc'ed blob (no secret in it), or
 * -EINVAL, -EACCES (the owner hierarchy needs a password), -EIO.
 */
int tpm2_seal(struct tpm2 *t, uint32_t pcr_mask, const uint8_t *secret, size_t len,
	      uint8_t **ret_blob, size_t *ret_len) _wur_;

/*
 * Unseals blob: 0 with the secret in fresh secmem (secmem_free), -EBADMSG for a malformed
 * blob, -EKEYREJECTED when this TPM cannot load it (another TPM, a changed owner seed, a
 * modified blob) or a sealed PCR has another value now, -EIO.
 */
int tpm2_unseal(struct tpm2 *t, const uint8_t *blob, size_t len, uint8_t **ret_secret,
		size_t *ret_len) _wur_;
