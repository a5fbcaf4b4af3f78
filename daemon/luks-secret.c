/* SPDX-License-Identifier: Apache-2.0 */
/*
 * LUKS2 keyslot secrets, shared by the LUKS requests (op-luks.c) and the key socket
 * (luks-keysock.c); docs/boot-unlock.md. A volume's token carries a sealed copy of one
 * KEK version and the 64-byte keyslot secret wrapped under it with the context
 * "vhsm-luks2:<UUID>". Which key unwraps it:
 *   - the KEK store knows the KEK: the store decides. Only an enabled KEK unwraps; a disabled
 *     or deleted one refuses (EKEYREVOKED), so `kek disable` stops unlocks at once.
 *   - the store has no such KEK: refused (ENOKEY: purged, or from another machine), unless the
 *     daemon runs with --luks-standalone (an initrd, which has no store): then the token's own
 *     sealed copy is unsealed with this CVM's derived key. A token whose copy `kek disable`
 *     withdrew (none sent) is refused there (EKEYREVOKED).
 * The attestation gate applies on both paths. Only administrators (root, group vhsm) get a
 * secret (callers check); every release and refusal is audited by the caller.
 */
#include <stdio.h>
#include <string.h>

#include "luks-secret.h"
#include "luks-token.h"
#include "secmem.h"
#include "store-copy.h"
#include "store.h"

const uint8_t *luks_kek_version_key(const struct kek_meta *meta, const uint8_t *keys, uint32_t v)
{
	for (uint32_t i = 0; i < meta->n_versions; i++)
		if (meta->versions[i].version == v)
			return keys + (size_t)i * KEK_KEY_SIZE;
	return NULL;
}

#define WHY(...) snprintf(why, whylen, __VA_ARGS__)

int luks_kek_unseal(struct manager *m, const char *name, struct kek_meta *meta,
		    struct seal_params *params, uint8_t **keys, char *why, size_t whylen)
{
	_cleanup_secmem_ uint8_t *k = NULL;
	struct kek_meta md;
	struct seal_params p;
	int r = store_read_meta(m, name, &md, NULL);

	if (r == 0 && md.state != KEK_ENABLED) { /* refuse before any firmware request */
		WHY("KEK %s is %s", name, kek_state_to_string(md.state));
		return -EKEYREVOKED;
	}
	if (r < 0)
		return r;
	r = store_unseal(m, name, &md, &p, NULL, &k, why, whylen);
	if (r < 0)
		return r;
	if (md.state != KEK_ENABLED) {
		WHY("KEK %s is %s", name, kek_state_to_string(md.state));
		return -EKEYREVOKED;
	}
	*meta = md;
	*params = p;
	*keys = TAKE_PTR(k);
	return 0;
}

/* gcc 12's -fanalyzer reports the cleanup pointers below as uninitialised on early returns,
 * although each is initialised at its declaration: the false positive op-byok.c describes. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-use-of-uninitialized-value"
int luks_unseal_secret(struct manager *m, const uint8_t *sealed, size_t sealed_len,
		       const uint8_t *wrapped, size_t wrapped_len, const char *uuid,
		       struct wrap_info *ret_info, uint8_t **ret_secret, char *why, size_t whylen)
{
	_cleanup_secmem_ uint8_t *keys = NULL, *copy = NULL, *pt = NULL;
	const uint8_t *key = NULL;
	struct kek_meta meta;
	struct seal_params params;
	struct wrap_info wi;
	char ctx[sizeof(LUKS_CONTEXT_PREFIX) + LUKS_UUID_MAX];
	size_t pt_len;
	int r, ctx_len;

	ctx_len = luks_token_context(uuid, ctx, sizeof(ctx));
	if (ctx_len < 0) {
		WHY("invalid LUKS UUID");
		return -EINVAL;
	}
	if (wrap_parse(wrapped, wrapped_len, &wi) < 0 || wi.plaintext_len != LUKS_SECRET_SIZE ||
	    !store_name_valid(wi.kek_name)) {
		WHY("token does not hold a vhsm keyslot secret");
		return -EBADMSG;
	}
	*ret_info = wi;
	r = luks_kek_unseal(m, wi.kek_name, &meta, &params, &keys, why, whylen);
	if (r == 0) {
		key = luks_kek_version_key(&meta, keys, wi.kek_version);
		if (!key) {
			WHY("KEK %s has no version %u", wi.kek_name, wi.kek_version);
			return -ENOKEY;
		}
	} else if (r == -ENOENT && m->luks_standalone && sealed_len == 0) {
		WHY("the token's sealed copy of KEK %s was withdrawn (vhsmctl kek disable); only "
		    "a vhsmd whose store holds the enabled KEK unlocks it", wi.kek_name);
		return -EKEYREVOKED;
	} else if (r == -ENOENT && m->luks_standalone) {
		r = store_unseal_copy(m, sealed, sealed_len, wi.kek_name, wi.kek_version, &copy, why,
				      whylen);
		if (r < 0)
			return r;
		key = copy;
	} else if (r == -ENOENT) {
		WHY("no KEK named %s in the store (purged, or enrolled elsewhere); the token's "
		    "sealed copy is used only by vhsmd --luks-standalone", wi.kek_name);
		return -ENOKEY;
	} else {
		return r;
	}
	r = unwrap_key(key, WRAP_PURPOSE_LUKS, wrapped, wrapped_len, (const uint8_t *)ctx,
		       (size_t)ctx_len, &pt, &pt_len);
	if (r < 0 || pt_len != LUKS_SECRET_SIZE) {
		WHY("keyslot secret does not unwrap for volume %s (other volume or modified token)",
		    uuid);
		return -EKEYREJECTED;
	}
	*ret_secret = TAKE_PTR(pt);
	return 0;
}
#pragma GCC diagnostic pop
