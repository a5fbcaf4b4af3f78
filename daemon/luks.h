/* SPDX-License-Identifier: Apache-2.0 */
/*
 * LUKS2 support in vhsmd: keyslot secrets for "vhsm" tokens (op-luks.c) and the per-volume
 * bindings served on the crypttab key socket (luks-bind.c). docs/boot-unlock.md.
 */
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include "luks-token.h"
#include "vhsmd.h"
#include "wrap.h"

/*
 * Unwraps a token's keyslot secret for LUKS UUID uuid (the rules are in op-luks.c). Returns 0
 * with LUKS_SECRET_SIZE bytes in fresh secmem and the wrapped key's header in ret_info, or
 * -EINVAL/-EBADMSG (malformed input; ret_info untouched), -EKEYREVOKED (KEK disabled or
 * deleted), -ENOKEY, -EKEYREJECTED (attestation, sealing or unwrapping refused) or -errno,
 * with why filled. Does not log or audit.
 */
int luks_unseal_secret(struct manager *m, const uint8_t *sealed, size_t sealed_len,
		       const uint8_t *wrapped, size_t wrapped_len, const char *uuid,
		       struct wrap_info *ret_info, uint8_t **ret_secret, char *why, size_t whylen);

/* Token material (public): a sealed KEK copy and the wrapped secret. */
struct luks_material {
	uint8_t sealed[LUKS_TOKEN_SEALED_MAX];
	size_t sealed_len;
	uint8_t wrapped[LUKS_TOKEN_WRAPPED_MAX];
	size_t wrapped_len;
};

/* Replaces the material of every binding of uuid (after a rewrap). 0 or -errno. */
int luks_bindings_update(struct manager *m, const char *uuid, const struct luks_material *mat);

/*
 * Serves one connection on the key socket (listening fd): root peers whose abstract address
 * names a bound volume get its keyslot passphrase and EOF; everyone else gets EOF only. Audits
 * each answer and refusal. Never fails the daemon.
 */
int luks_keysock_accept(struct manager *m, int listen_fd);

/*
 * The volume name from systemd-cryptsetup's abstract peer address
 * "\0<hex>/cryptsetup/<volume>" (len as getpeername() returned it). Returns 0 with the name
 * in volume, or -EBADMSG for any other address (including other mechanisms' variants such as
 * "/cryptsetup-tpm2/") or a name vhsmd does not accept. Pure.
 */
int luks_keysock_volume(const struct sockaddr_un *sa, socklen_t len, char *volume, size_t vlen);
