/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The platform root on a CVM without an SNP guest device but with a vTPM that holds an Azure
 * HCL report (docs/platforms.md, "vtpm platform"). Everything vhsmd derives from the SNP
 * derived key (the audit chain key, the store manifest key, the strict and author sealing
 * keys of exchange keys, LUKS2 token copies, key pairs and the fleet identity) keeps its one
 * code path: the root is an SNP device transport (lib/snp-dev) that answers MSG_KEY_REQ
 * with HKDF-SHA256 over a 32-byte root secret, the request's 32 bytes as the info, so that
 * each use gets its own key. Report requests are refused (-EOPNOTSUPP): on this platform the
 * attestation gate reads fresh HCL reports instead (attest-vtpm.c).
 *
 * The root secret is random, sealed with lib/tpm2-seal to PCR 7 under this vTPM's storage
 * root key, and kept in STATE-DIR/platform-root.vtpm ("VHSMROOT", format byte, the sealed
 * object). It is unsealed for each key request and wiped after it. It is created only after
 * the gate verified the HCL report whole with a fresh nonce (tpm-persisted true, the claims'
 * AK this vTPM's), only when the store holds nothing sealed yet, never over an existing
 * file, and atomically (a crash leaves either no root or the whole one).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "snp-dev.h"

struct tpm2;
struct root_vtpm;

#define ROOT_VTPM_FILE "platform-root.vtpm"
#define ROOT_VTPM_SECRET_SIZE 32u
#define ROOT_VTPM_DEVICE_PREFIX "vtpm:"

/*
 * Opens the root for the vTPM at tcti and the state directory state_dir (neither is touched
 * yet) as an SNP device. On success *ret_dev owns the root; *ret_root is a borrowed pointer
 * valid until snp_dev_close(*ret_dev). Returns 0 or -ENOMEM. Does not log.
 */
int root_vtpm_open(const char *tcti, const char *state_dir, struct snp_dev **ret_dev,
		   struct root_vtpm **ret_root) _wur_;

/*
 * Makes the root usable with the open vTPM t: reads the root file, creating it first when
 * absent and the store is empty (the caller has just verified this vTPM's HCL report), and
 * unseals it once. Returns 0; -ENOKEY (the file is missing but the store holds sealed data:
 * no new root), -EKEYREJECTED (this vTPM does not unseal it: another vTPM's, a reset vTPM, or
 * PCR 7 changed), -EBADMSG (not a root file) or another -errno, with why naming the cause.
 * Until it succeeded, key requests fail with -ENOKEY. Does not log.
 */
int root_vtpm_ensure(struct root_vtpm *root, struct tpm2 *t, char *why, size_t whylen) _wur_;

/*
 * The key for one MSG_KEY_REQ: HKDF-SHA256(secret, salt "vhsm-platform-root-v1", info = the
 * request's 32 bytes as the firmware receives them). Writes ret_key only on success; 0 or
 * -EIO. Pure; does not log.
 */
int root_vtpm_kdf(const uint8_t secret[static ROOT_VTPM_SECRET_SIZE],
		  const struct snp_derived_key_req *req, uint8_t ret_key[static 32]) _wur_;

/*
 * Whether the state directory dfd holds anything sealed or keyed under a root: 1 with the
 * first such entry's name in what, 0 when it holds only key-free entries (the root file, the
 * collateral cache, the clock, empty kek/, exchange/ and keypair/ directories, an empty
 * audit.log, temporary files of atomic writes), or -errno. Fails closed: anything else counts.
 */
int root_vtpm_store_has_data(int dfd, char *what, size_t whatlen) _wur_;

/* Why the last key request or root_vtpm_ensure() failed ("" when none did). */
const char *root_vtpm_error(const struct root_vtpm *root);

/* Whether the root file was created by this process (for the audit record and the journal). */
bool root_vtpm_created(const struct root_vtpm *root);

/* The TCTI of the root's vTPM. */
const char *root_vtpm_tcti(const struct root_vtpm *root);
