/* SPDX-License-Identifier: Apache-2.0 */
/*
 * LUKS2 keyslot secrets (docs/boot-unlock.md). A volume's token carries a sealed copy of one
 * KEK version and the 64-byte keyslot secret wrapped under it with the context
 * "vhsm-luks2:<UUID>". Which key unwraps it:
 *   - the KEK store knows the KEK: the store decides. Only an enabled KEK unwraps; a disabled
 *     or deleted one refuses (EKEYREVOKED), so `kek disable` stops unlocks at once.
 *   - the store has no such KEK: refused (ENOKEY: purged, or from another machine), unless the
 *     daemon runs with --luks-standalone (an initrd, which has no store): then the token's own
 *     sealed copy is unsealed with this CVM's derived key.
 * The attestation gate applies on both paths. Only administrators (root, group vhsm) get a
 * secret; every release and refusal is audited by ops.c or the key socket.
 */
#include <dirent.h>
#include <json-c/json.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "kek-file.h"
#include "luks.h"
#include "luks-token.h"
#include "ops.h"
#include "secmem.h"
#include "store.h"
#include "wrap.h"
#include "volumes.h"

static const uint8_t *version_key(const struct kek_meta *meta, const uint8_t *keys, uint32_t v)
{
	for (uint32_t i = 0; i < meta->n_versions; i++)
		if (meta->versions[i].version == v)
			return keys + (size_t)i * KEK_KEY_SIZE;
	return NULL;
}

#define WHY(...) snprintf(why, whylen, __VA_ARGS__)

/* Unseals the store's KEK name, refusing one that is not enabled. */
static int store_kek(struct manager *m, const char *name, struct kek_meta *meta,
		     struct seal_params *params, uint8_t **keys, char *why, size_t whylen)
{
	int r = store_read_meta(m, name, meta, NULL);

	if (r == 0 && meta->state != KEK_ENABLED) { /* refuse before any firmware request */
		WHY("KEK %s is %s", name, kek_state_to_string(meta->state));
		return -EKEYREVOKED;
	}
	if (r < 0)
		return r;
	r = store_unseal(m, name, meta, params, NULL, keys, why, whylen);
	if (r < 0)
		return r;
	if (meta->state != KEK_ENABLED) {
		*keys = secmem_free(*keys);
		WHY("KEK %s is %s", name, kek_state_to_string(meta->state));
		return -EKEYREVOKED;
	}
	return 0;
}

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
	r = store_kek(m, wi.kek_name, &meta, &params, &keys, why, whylen);
	if (r == 0) {
		key = version_key(&meta, keys, wi.kek_version);
		if (!key) {
			WHY("KEK %s has no version %u", wi.kek_name, wi.kek_version);
			return -ENOKEY;
		}
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

/* Request fields shared by unlock, rewrap and bind. */
struct luks_req {
	const struct vhsm_wire_field *sealed, *wrapped;
	char uuid[LUKS_UUID_MAX + 1];
};

static int get_luks_req(struct op_ctx *c, struct luks_req *ret)
{
	ret->sealed = vhsm_wire_get(c->req, VHSM_TAG_SEALED_KEK);
	ret->wrapped = vhsm_wire_get(c->req, VHSM_TAG_WRAPPED_SECRET);
	if (!ret->sealed || !ret->wrapped || ret->sealed->len > LUKS_TOKEN_SEALED_MAX ||
	    ret->wrapped->len > LUKS_TOKEN_WRAPPED_MAX)
		return op_fail(c, -EINVAL, "SEALED_KEK and WRAPPED_SECRET (token blobs) are required");
	if (vhsm_wire_get_str(c->req, VHSM_TAG_UUID, ret->uuid, sizeof(ret->uuid)) < 0)
		return op_fail(c, -EINVAL, "a LUKS UUID of 1..%u characters is required",
			       LUKS_UUID_MAX);
	return 0;
}

static int unseal_req(struct op_ctx *c, const struct luks_req *lr, uint8_t **ret_secret)
{
	struct wrap_info wi;
	int r;

	r = luks_unseal_secret(c->m, lr->sealed->value, lr->sealed->len, lr->wrapped->value,
			       lr->wrapped->len, lr->uuid, &wi, ret_secret, c->why, sizeof(c->why));
	if (r == -EBADMSG || r == -EINVAL)
		return r;
	snprintf(c->key, sizeof(c->key), "%.64s", wi.kek_name);
	c->version = wi.kek_version;
	return r;
}

int op_luks_unlock(struct op_ctx *c)
{
	_cleanup_secmem_ uint8_t *secret = NULL;
	struct luks_req lr;
	int r = get_luks_req(c, &lr);

	if (r < 0)
		return r;
	r = unseal_req(c, &lr, &secret);
	if (r < 0)
		return r;
	(void)volumes_record(c->m, c->key, lr.uuid, NULL); /* for kek disable --shred */
	vhsm_wire_add_data(c->reply, VHSM_TAG_DATA, secret, LUKS_SECRET_SIZE);
	return 0;
}

/*
 * Wraps secret under the newest version of the enabled store KEK and seals a copy of that
 * version; adds SEALED_KEK, WRAPPED_SECRET, NAME, VERSION, PROFILE and POLICY_DIGEST to the
 * reply.
 */
static int make_token_material(struct op_ctx *c, const char *name, const char *uuid,
			       const uint8_t *secret, struct luks_material *ret)
{
	_cleanup_secmem_ uint8_t *keys = NULL;
	_cleanup_free_ uint8_t *sealed = NULL, *wrapped = NULL;
	struct kek_meta meta;
	struct seal_params params;
	char ctx[sizeof(LUKS_CONTEXT_PREFIX) + LUKS_UUID_MAX];
	size_t sealed_len, wrapped_len;
	uint32_t v;
	int r, ctx_len;

	snprintf(c->key, sizeof(c->key), "%s", name);
	r = store_kek(c->m, name, &meta, &params, &keys, c->why, sizeof(c->why));
	if (r == -ENOENT)
		return op_fail(c, -ENOKEY, "no KEK named %s", name);
	if (r < 0)
		return r;
	r = kek_file_verify(c->m, name, c->why, sizeof(c->why));
	if (r < 0)
		return r;
	v = meta.versions[meta.n_versions - 1].version;
	c->version = v;
	ctx_len = luks_token_context(uuid, ctx, sizeof(ctx));
	if (ctx_len < 0)
		return op_fail(c, -EINVAL, "invalid LUKS UUID");
	r = wrap_key(version_key(&meta, keys, v), WRAP_PURPOSE_LUKS, name, v, (const uint8_t *)ctx,
		     (size_t)ctx_len, secret, LUKS_SECRET_SIZE, &wrapped, &wrapped_len);
	if (r < 0)
		return op_fail(c, r, "wrapping failed: %s", strerror(-r));
	r = store_seal_copy(c->m, name, v, params.profile, version_key(&meta, keys, v), &sealed,
			    &sealed_len, c->why, sizeof(c->why));
	if (r < 0)
		return r;
	if (sealed_len > LUKS_TOKEN_SEALED_MAX || wrapped_len > LUKS_TOKEN_WRAPPED_MAX)
		return op_fail(c, -EMSGSIZE, "token material over its limits");
	vhsm_wire_add_data(c->reply, VHSM_TAG_SEALED_KEK, sealed, sealed_len);
	vhsm_wire_add_data(c->reply, VHSM_TAG_WRAPPED_SECRET, wrapped, wrapped_len);
	vhsm_wire_add_str(c->reply, VHSM_TAG_NAME, name);
	vhsm_wire_add_u32(c->reply, VHSM_TAG_VERSION, v);
	vhsm_wire_add_str(c->reply, VHSM_TAG_PROFILE, seal_profile_to_string(params.profile));
	vhsm_wire_add_data(c->reply, VHSM_TAG_POLICY_DIGEST, c->m->policy_digest, 32);
	if (ret) {
		memcpy(ret->sealed, sealed, sealed_len);
		ret->sealed_len = sealed_len;
		memcpy(ret->wrapped, wrapped, wrapped_len);
		ret->wrapped_len = wrapped_len;
	}
	return 0;
}

int op_luks_enroll(struct op_ctx *c)
{
	_cleanup_secmem_ uint8_t *secret = secmem_alloc(LUKS_SECRET_SIZE);
	char name[KEK_NAME_MAX + 1], uuid[LUKS_UUID_MAX + 1];
	int r;

	r = op_get_name(c, VHSM_TAG_NAME, name, sizeof(name));
	if (r < 0)
		return r;
	r = op_check_name(c, "KEK", name);
	if (r < 0)
		return r;
	if (vhsm_wire_get_str(c->req, VHSM_TAG_UUID, uuid, sizeof(uuid)) < 0)
		return op_fail(c, -EINVAL, "a LUKS UUID is required");
	if (!secret)
		return -ENOMEM;
	if (RAND_priv_bytes(secret, LUKS_SECRET_SIZE) != 1)
		return op_fail(c, -EIO, "no random bytes");
	r = make_token_material(c, name, uuid, secret, NULL);
	if (r < 0)
		return r;
	vhsm_wire_add_data(c->reply, VHSM_TAG_DATA, secret, LUKS_SECRET_SIZE);
	return 0;
}

int op_luks_rewrap(struct op_ctx *c)
{
	_cleanup_secmem_ uint8_t *secret = NULL;
	struct luks_req lr;
	int r = get_luks_req(c, &lr);

	if (r < 0)
		return r;
	/* Rewrapping needs the store (a standalone daemon has no newer version to move to). */
	if (c->m->luks_standalone)
		return op_fail(c, -EOPNOTSUPP, "rewrap needs a KEK store");
	r = unseal_req(c, &lr, &secret);
	if (r < 0)
		return r;
	struct luks_material mat;
	char name[KEK_NAME_MAX + 1];
	snprintf(name, sizeof(name), "%s", c->key);
	r = make_token_material(c, name, lr.uuid, secret, &mat);
	if (r < 0)
		return r;
	/* Bindings of this volume for the key socket follow the token. */
	r = luks_bindings_update(c->m, lr.uuid, &mat);
	if (r < 0)
		return op_fail(c, r, "token rewrapped, but its key-socket binding could not be "
			       "updated: %s", strerror(-r));
	return 0;
}
