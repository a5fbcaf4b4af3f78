/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The (v)TPM through ESAPI, for what the Azure vTPM profile needs: NV indices (the HCL report
 * at 0x01400001, the user data at 0x01400002) and the public part of a persistent key (the
 * AK at 0x81000003). The TPM is reached through a TCTI configuration string as tpm2-tools
 * take it ("device:/dev/tpmrm0", "swtpm:path=SOCKET"). Everything read from the TPM is
 * untrusted: the caller verifies it (lib/hcl-attest). Library code; never logs (the TSS's
 * own logging is silenced).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define TPM2_HCL_REPORT_INDEX 0x01400001u
#define TPM2_HCL_USER_DATA_INDEX 0x01400002u
#define TPM2_HCL_AK_HANDLE 0x81000003u
#define TPM2_TCTI_DEFAULT "device:/dev/tpmrm0"
#define TPM2_NV_READ_MAX (64u * 1024u)

struct tpm2;

/*
 * Connects to the TPM named by tcti (NULL: TPM2_TCTI_DEFAULT). Returns 0, -ENODEV when no
 * TPM answers there, or -errno.
 */
int tpm2_open(const char *tcti, struct tpm2 **ret) _wur_;
struct tpm2 *tpm2_close(struct tpm2 *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct tpm2 *, tpm2_close);

/* For the other lib/tpm2-*.c files: the ESAPI context of t, and a TSS2_RC as an errno
 * (-ENOENT bad handle, -EACCES authorization, -EKEYREJECTED policy or integrity failure,
 * -EMSGSIZE, -EIO). */
struct ESYS_CONTEXT;
struct ESYS_CONTEXT *tpm2_esys(struct tpm2 *t);
int tpm2_rc_errno(uint32_t rc);

/*
 * Reads NV index idx whole (owner authorization with the empty password, as Azure's indices
 * take it), up to TPM2_NV_READ_MAX bytes, into a malloc'ed buffer. Returns 0, -ENOENT when
 * the index is not defined, -EMSGSIZE when it is larger, -EACCES when the TPM refuses, -EIO.
 */
int tpm2_nv_read(struct tpm2 *t, uint32_t idx, uint8_t **ret, size_t *ret_len) _wur_;

/*
 * Writes data[0..len) at offset 0 of NV index idx (owner authorization), defining the index
 * with len bytes first when it does not exist. Returns 0, -EMSGSIZE when the index is smaller
 * than len, -EACCES, -EIO.
 */
int tpm2_nv_write(struct tpm2 *t, uint32_t idx, const uint8_t *data, size_t len) _wur_;

/*
 * The public key of the persistent RSA object at handle as DER SubjectPublicKeyInfo into
 * out[0..cap). Returns the length, -ENOENT when nothing is persisted there, -EOPNOTSUPP for a
 * key that is not RSA, -EMSGSIZE, -EIO.
 */
int tpm2_public_spki(struct tpm2 *t, uint32_t handle, uint8_t *out, size_t cap) _wur_;
