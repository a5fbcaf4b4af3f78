/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The KEK store: one sealed file per KEK in <state>/kek/<name>.sealed. The seal header's
 * metadata is the KEK's public description (JSON, authenticated); the sealed plaintext is the
 * key versions (32 bytes each). Every write is atomic and durable (store-file.h), so a crash
 * leaves either the old or the new file. Unsealed keys are kept only shielded in memory
 * (shield.h). Exchange keys and sealed copies: store-exchange.h, store-copy.h.
 */
#pragma once

#include "kek-meta.h"
#include "vhsmd.h"

#define KEK_KEY_SIZE 32u

/* ---- store ---- */
/* Opens the state directory (store_dirs_open) and creates the shield. 0 or -errno. */
int store_open(struct manager *m);
/* Sorted list of KEK names (malloc'ed array of malloc'ed strings, NULL-terminated). */
int store_list(struct manager *m, char ***ret_names);
/*
 * Sorted list of the valid NAMEs of <state>/DIR/NAME.sealed (as store_list); a missing DIR is an
 * empty list when missing_ok, else -ENOENT.
 */
int store_list_dir(struct manager *m, const char *dir, bool missing_ok, char ***ret_names);
void strv_free(char **v);
/*
 * Reads the public, authenticated-but-not-yet-verified metadata (for listings). Returns 0,
 * -ENOENT, -EKEYREJECTED (refused by the manifest), or -EBADMSG for a damaged file. Outputs
 * are set only on success.
 */
int store_read_meta(struct manager *m, const char *name, struct kek_meta *ret,
		    struct seal_params *ret_params);
/*
 * Unseals a KEK: requires the attestation gate, asks the device for the derived key of the
 * blob's parameters, verifies the blob and that its metadata names this KEK. Returns 0 with
 * the keys (n_versions * 32 bytes) in fresh secmem, or -ENOENT, -EKEYREJECTED (with why),
 * -EBADMSG, -errno. Served from the shield cache when possible. ret_binding (may be NULL)
 * gets what the blob was sealed to, including the attestation policy digest in force then.
 * A KEK whose metadata asks for attestation on every use gets a fresh attestation here.
 * Outputs are set only on success.
 */
int store_unseal(struct manager *m, const char *name, struct kek_meta *ret_meta,
		 struct seal_params *ret_params, struct seal_binding *ret_binding,
		 uint8_t **ret_keys, char *why, size_t whylen);
/*
 * Seals meta + keys for the current attested state (params from the gate's last report,
 * with profile) and writes the file atomically; create=true refuses an existing KEK
 * (-EEXIST). Updates the shield cache. Returns 0 and the sealing parameters used (if
 * ret_params), or -errno (why filled on refusal).
 */
int store_write(struct manager *m, const struct kek_meta *meta, enum seal_profile profile,
		const uint8_t *keys, bool create, struct seal_params *ret_params, char *why,
		size_t whylen);
/* Removes the KEK's file durably (purge). */
int store_remove(struct manager *m, const char *name);
