/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The KEK store: one sealed file per KEK in <state>/kek/<name>.sealed. The seal header's
 * metadata is the KEK's public description (JSON, authenticated); the sealed plaintext is the
 * key versions (32 bytes each). Every write is atomic and durable (fileio), so a crash leaves
 * either the old or the new file. Unsealed keys are kept only shielded in memory (shield).
 */
#pragma once

#include "vhsmd.h"

#define KEK_KEY_SIZE 32u

/* ---- in-memory shield: unsealed KEKs encrypted under a random in-RAM key ---- */
struct shield;
int shield_new(struct shield **ret);
struct shield *shield_free(struct shield *s);
/* Drops every cached key (attestation failed, shutdown). */
void shield_clear(struct shield *s);

/* ---- names ---- */
/* The one key-name rule (text_key_name_valid in lib/text.h), for KEK, DEK and volume names. */
bool store_name_valid(const char *name);

/* ---- metadata JSON (public) ---- */
const char *kek_state_to_string(enum kek_state s);
int kek_meta_to_json(const struct kek_meta *meta, char **ret);
/*
 * Parses KEK metadata (strict: lib/json, every member typed and required, no other member).
 * 0, -EBADMSG with the reason naming the member in err (errlen bytes, may be 0), -EMSGSIZE,
 * -ENOMEM. ret is set only on success. Does not log.
 */
int kek_meta_parse(const char *json, size_t len, struct kek_meta *ret, char *err, size_t errlen);
/* kek_meta_parse() without the reason. */
int kek_meta_from_json(const char *json, size_t len, struct kek_meta *ret);

/* ---- store ---- */
int store_open(struct manager *m);
/* Sorted list of KEK names (malloc'ed array of malloc'ed strings, NULL-terminated). */
int store_list(struct manager *m, char ***ret_names);
void strv_free(char **v);
/*
 * Reads the public, authenticated-but-not-yet-verified metadata (for listings). Returns 0,
 * -ENOENT, or -EBADMSG for a damaged file.
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

/* ---- BYOK exchange keys: <state>/exchange/<kek>.sealed (strict profile) ---- */
/*
 * Seals an exchange key's private key (pt, PKCS#8 DER) with its public metadata (JSON) for
 * the KEK name kek, replacing a pending one. 0 or -errno (why filled).
 */
int store_exchange_write(struct manager *m, const char *kek, const char *meta_json,
			 const uint8_t *pt, size_t pt_len, char *why, size_t whylen);
/*
 * Unseals the pending exchange key for kek: 0 with its metadata (malloc) and private key
 * (secmem), -ENOENT when none is pending, -EKEYREJECTED / -EBADMSG (why filled).
 */
int store_exchange_read(struct manager *m, const char *kek, char **ret_meta, uint8_t **ret_pt,
			size_t *ret_len, char *why, size_t whylen);
/* Destroys the pending exchange key for kek (durably). */
int store_exchange_remove(struct manager *m, const char *kek);
/* Records that exchange key kid is spent (used or expired): what is a short reason. */
int store_exchange_mark(struct manager *m, const char *kid, const char *what);
/* Withdraws the record of store_exchange_mark (an import that stored nothing). */
int store_exchange_unmark(struct manager *m, const char *kid);
/* 1 with the reason in buf when kid is spent, else 0. */
int store_exchange_spent(struct manager *m, const char *kid, char *buf, size_t len);
/* ---- sealed copies of one KEK version (LUKS2 tokens, docs/boot-unlock.md) ---- */
/*
 * Seals one KEK version key (32 bytes) for name/version under profile at the current
 * attested state (gate required). The blob's label is the KEK name, its metadata
 * {"kek":NAME,"kek_version":V,"use":"luks2-token"}. Returns 0 and a malloc'ed blob, or
 * -errno with why filled.
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
