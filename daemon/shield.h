/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The in-memory shield (shield.c): unsealed KEKs kept encrypted under a key derived from a
 * large random prekey in locked memory, as OpenSSH shields private keys, and unshielded into
 * secure memory only for one operation. Unsealing costs a firmware request; the shield spares
 * it on every later use. Its table grows with what it holds (at most SHIELD_MAX KEKs).
 */
#pragma once

#include "vhsmd.h"

#define SHIELD_MAX 1024u

struct shield;

/* A new, empty shield with a fresh prekey. 0 or -ENOMEM; *ret set only on success. */
int shield_new(struct shield **ret);
/* Drops every entry and the prekey. Accepts NULL; returns NULL. */
struct shield *shield_free(struct shield *s);
/* Drops every cached key (attestation failed, shutdown). Accepts NULL. */
void shield_clear(struct shield *s);
/* Drops the entry of KEK name, if any. */
void shield_forget(struct shield *s, const char *name);
/*
 * Keeps keys (len bytes) shielded for meta->name with the metadata, sealing parameters and
 * binding they were unsealed or written with, replacing a previous entry. 0, also when the
 * shield is full (then nothing is kept: the next use unseals again), or -ENOMEM / -EIO (the
 * entry is not kept). Never logs key material.
 */
int shield_put(struct shield *s, const struct kek_meta *meta, const struct seal_params *params,
	       const struct seal_binding *binding, const uint8_t *keys, size_t len);
/*
 * The entry of KEK name: 0 with copies of its metadata, parameters and binding and the keys in
 * fresh secmem (the caller frees), -ENOENT when not held, -ENOMEM, or -EIO when it no longer
 * decrypts (then it is dropped). Outputs are set only on success.
 */
int shield_get(struct shield *s, const char *name, struct kek_meta *ret_meta,
	       struct seal_params *ret_params, struct seal_binding *ret_binding,
	       uint8_t **ret_keys);
