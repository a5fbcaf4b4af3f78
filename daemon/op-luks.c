/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The LUKS2 requests (docs/boot-unlock.md): UNLOCK, ENROLL and REWRAP of a token's keyslot
 * secret, and BIND/UNBIND of a volume for the crypttab key socket. Which key unwraps a token
 * is decided by luks-secret.c. Administrators only (ops.c); every release and refusal is
 * audited by ops.c.
 */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kek-file.h"
#include "luks-bind.h"
#include "luks-secret.h"
#include "luks-token.h"
#include "ops.h"
#include "secmem.h"
#include "store-copy.h"
#include "store.h"
#include "wrap.h"
#include "volumes.h"

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
	r = luks_kek_unseal(c->m, name, &meta, &params, &keys, c->why, sizeof(c->why));
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
	r = wrap_key(luks_kek_version_key(&meta, keys, v), WRAP_PURPOSE_LUKS, name, v, (const uint8_t *)ctx,
		     (size_t)ctx_len, secret, LUKS_SECRET_SIZE, &wrapped, &wrapped_len);
	if (r < 0)
		return op_fail(c, r, "wrapping failed: %s", strerror(-r));
	r = store_seal_copy(c->m, name, v, params.profile, luks_kek_version_key(&meta, keys, v), &sealed,
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

int op_luks_bind(struct op_ctx *c)
{
	_cleanup_secmem_ uint8_t *secret = NULL;
	const struct vhsm_wire_field *sealed, *wrapped;
	char volume[KEK_NAME_MAX + 1], uuid[LUKS_UUID_MAX + 1];
	struct wrap_info wi;
	int r;

	if (vhsm_wire_get_str(c->req, VHSM_TAG_VOLUME, volume, sizeof(volume)) < 0 ||
	    !store_name_valid(volume))
		return op_fail(c, -EINVAL, "volume names are 1..64 characters of A-Z a-z 0-9 _ . -");
	if (vhsm_wire_get_str(c->req, VHSM_TAG_UUID, uuid, sizeof(uuid)) < 0)
		return op_fail(c, -EINVAL, "a LUKS UUID is required");
	sealed = vhsm_wire_get(c->req, VHSM_TAG_SEALED_KEK);
	wrapped = vhsm_wire_get(c->req, VHSM_TAG_WRAPPED_SECRET);
	if (!sealed || !wrapped || sealed->len > LUKS_TOKEN_SEALED_MAX ||
	    wrapped->len > LUKS_TOKEN_WRAPPED_MAX)
		return op_fail(c, -EINVAL, "SEALED_KEK and WRAPPED_SECRET are required");
	if (sealed->len == 0) /* a binding file always carries the sealed copy */
		return op_fail(c, -EINVAL, "the token's sealed KEK copy was withdrawn by kek "
			       "disable: vhsmctl luks rewrap the volume first");
	/* Only material that unlocks now is recorded. */
	r = luks_unseal_secret(c->m, sealed->value, sealed->len, wrapped->value, wrapped->len, uuid,
			       &wi, &secret, c->why, sizeof(c->why));
	if (r < 0)
		return r;
	snprintf(c->key, sizeof(c->key), "%.64s", wi.kek_name);
	c->version = wi.kek_version;
	r = luks_binding_write(c->m, volume, uuid, sealed->value, sealed->len, wrapped->value,
			  wrapped->len);
	if (r < 0)
		return op_fail(c, r, "cannot record the binding of %s: %s", volume, strerror(-r));
	return 0;
}

int op_luks_unbind(struct op_ctx *c)
{
	char uuid[LUKS_UUID_MAX + 1];
	unsigned n = 0;
	int r;

	if (vhsm_wire_get_str(c->req, VHSM_TAG_UUID, uuid, sizeof(uuid)) < 0)
		return op_fail(c, -EINVAL, "a LUKS UUID is required");
	r = luks_bindings_remove(c->m, uuid, &n);
	if (r < 0)
		return op_fail(c, r, "cannot remove bindings: %s", strerror(-r));
	vhsm_wire_add_u32(c->reply, VHSM_TAG_SIZE, n);
	return 0;
}
