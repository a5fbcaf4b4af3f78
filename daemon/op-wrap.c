/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wrap / unwrap / rewrap of DEKs under a KEK. The wrapped form names the KEK and its version
 * (lib/wrap.h); rewrap moves a wrapped DEK to the newest version without the plaintext ever
 * leaving the daemon.
 */
#include <stdio.h>
#include <string.h>

#include "acl.h"
#include "audit.h"
#include "ops.h"
#include "secmem.h"
#include "store.h"
#include "wrap.h"

static const uint8_t *kek_version_key(const struct kek_meta *meta, const uint8_t *keys,
				      uint32_t version)
{
	for (uint32_t i = 0; i < meta->n_versions; i++)
		if (meta->versions[i].version == version)
			return keys + (size_t)i * KEK_KEY_SIZE;
	return NULL;
}

static int get_context(struct op_ctx *c, const uint8_t **ret, size_t *ret_len)
{
	const struct vhsm_wire_field *f = vhsm_wire_get(c->req, VHSM_TAG_CONTEXT);

	*ret = NULL;
	*ret_len = 0;
	if (!f)
		return 0;
	if (f->len > WRAP_CONTEXT_MAX)
		return op_fail(c, -EMSGSIZE, "context longer than %u bytes", WRAP_CONTEXT_MAX);
	*ret = f->value;
	*ret_len = f->len;
	return 0;
}

/* Unseals the KEK named by name for op, refusing one that is not enabled. */
static int open_enabled(struct op_ctx *c, const char *name, uint32_t op, struct kek_meta *meta,
			uint8_t **keys)
{
	struct seal_params p;
	int r;

	snprintf(c->key, sizeof(c->key), "%s", name);
	if (!store_name_valid(name))
		return op_fail(c, -EINVAL, "invalid KEK name");
	r = kek_precheck(c, name, op);
	if (r == -ENOENT)
		return op_fail(c, -ENOKEY, "no KEK named %s", name);
	if (r < 0)
		return r;
	r = store_unseal(c->m, name, meta, &p, NULL, keys, c->why, sizeof(c->why));
	if (r == -ENOENT)
		return op_fail(c, -ENOKEY, "no KEK named %s", name);
	if (r < 0)
		return r;
	if (!acl_allows(meta, c->peer, op))
		return op_fail(c, -EPERM, "uid %u may not %s with KEK %s", (unsigned)c->peer->uid,
			       acl_op_name(op), name);
	if (meta->state != KEK_ENABLED)
		return op_fail(c, -EKEYREVOKED, "KEK %s is %s", name,
			       kek_state_to_string(meta->state));
	return 0;
}

static int do_wrap(struct op_ctx *c, const struct kek_meta *meta, const uint8_t *keys,
		   const uint8_t *ctx, size_t ctx_len, const uint8_t *pt, size_t pt_len)
{
	_cleanup_free_ uint8_t *blob = NULL;
	uint32_t v = meta->versions[meta->n_versions - 1].version;
	size_t len;
	int r;

	r = wrap_key(kek_version_key(meta, keys, v), meta->name, v, ctx, ctx_len, pt, pt_len,
		     &blob, &len);
	if (r < 0)
		return op_fail(c, r, "wrapping failed: %s", strerror(-r));
	c->version = v;
	vhsm_wire_add_data(c->reply, VHSM_TAG_DATA, blob, len);
	vhsm_wire_add_str(c->reply, VHSM_TAG_NAME, meta->name);
	vhsm_wire_add_u32(c->reply, VHSM_TAG_VERSION, v);
	return 0;
}

int op_wrap(struct op_ctx *c)
{
	_cleanup_secmem_ uint8_t *keys = NULL;
	const struct vhsm_wire_field *data;
	struct kek_meta meta;
	char name[KEK_NAME_MAX + 1];
	const uint8_t *ctx;
	size_t ctx_len;
	int r;

	r = op_get_name(c, VHSM_TAG_NAME, name, sizeof(name));
	if (r < 0)
		return r;
	data = vhsm_wire_get(c->req, VHSM_TAG_DATA);
	if (!data || data->len == 0 || data->len > WRAP_PLAINTEXT_MAX)
		return op_fail(c, -EINVAL, "the key to wrap must be 1..%u bytes", WRAP_PLAINTEXT_MAX);
	r = get_context(c, &ctx, &ctx_len);
	if (r < 0)
		return r;
	r = open_enabled(c, name, ACL_OP_WRAP, &meta, &keys);
	if (r < 0)
		return r;
	return do_wrap(c, &meta, keys, ctx, ctx_len, data->value, data->len);
}

/* Unwraps blob under ctx for op, checking the KEK's ACL and state. */
static int unwrap_blob(struct op_ctx *c, uint32_t op, const uint8_t *blob, size_t blob_len,
		       const uint8_t *ctx, size_t ctx_len, struct kek_meta *meta, uint8_t **keys,
		       uint8_t **ret_pt, size_t *ret_len)
{
	struct wrap_info info;
	const uint8_t *key;
	int r;

	if (wrap_parse(blob, blob_len, &info) < 0)
		return op_fail(c, -EBADMSG, "input is not a vhsm wrapped key");
	if (ctx_len > WRAP_CONTEXT_MAX)
		return op_fail(c, -EMSGSIZE, "context longer than %u bytes", WRAP_CONTEXT_MAX);
	r = open_enabled(c, info.kek_name, op, meta, keys);
	if (r < 0)
		return r;
	c->version = info.kek_version;
	key = kek_version_key(meta, *keys, info.kek_version);
	if (!key)
		return op_fail(c, -ENOKEY, "KEK %s has no version %u", info.kek_name,
			       info.kek_version);
	r = unwrap_key(key, blob, blob_len, ctx, ctx_len, ret_pt, ret_len);
	if (r == -EKEYREJECTED || r == -EBADMSG)
		return op_fail(c, -EKEYREJECTED, "unwrap failed: wrong context or modified input");
	if (r < 0)
		return op_fail(c, r, "unwrap failed: %s", strerror(-r));
	return 0;
}

/* Parses a wrapped blob from the request and unwraps it (for unwrap and rewrap). */
static int unwrap_request(struct op_ctx *c, uint32_t op, struct kek_meta *meta, uint8_t **keys,
			  uint8_t **ret_pt, size_t *ret_len)
{
	const struct vhsm_wire_field *data = vhsm_wire_get(c->req, VHSM_TAG_DATA);
	const uint8_t *ctx;
	size_t ctx_len;
	int r;

	if (!data)
		return op_fail(c, -EBADMSG, "input is not a vhsm wrapped key");
	r = get_context(c, &ctx, &ctx_len);
	if (r < 0)
		return r;
	return unwrap_blob(c, op, data->value, data->len, ctx, ctx_len, meta, keys, ret_pt,
			   ret_len);
}

int op_unwrap(struct op_ctx *c)
{
	_cleanup_secmem_ uint8_t *keys = NULL, *pt = NULL;
	struct kek_meta meta;
	size_t len;
	int r = unwrap_request(c, ACL_OP_UNWRAP, &meta, &keys, &pt, &len);

	if (r < 0)
		return r;
	vhsm_wire_add_data(c->reply, VHSM_TAG_DATA, pt, len);
	vhsm_wire_add_str(c->reply, VHSM_TAG_NAME, meta.name);
	vhsm_wire_add_u32(c->reply, VHSM_TAG_VERSION, c->version);
	return 0;
}

int op_rewrap(struct op_ctx *c)
{
	_cleanup_secmem_ uint8_t *keys = NULL, *pt = NULL;
	struct kek_meta meta;
	const uint8_t *ctx;
	size_t len, ctx_len;
	int r = unwrap_request(c, ACL_OP_REWRAP, &meta, &keys, &pt, &len);

	if (r < 0)
		return r;
	r = get_context(c, &ctx, &ctx_len);
	if (r < 0)
		return r;
	return do_wrap(c, &meta, keys, ctx, ctx_len, pt, len);
}

/*
 * One batch item: unwrapped, audited as an "unwrap" of its own, then appended to the reply
 * items. Only a failure to append (which the caller checks space for first) is returned.
 */
static int batch_item(struct op_ctx *c, const uint8_t *blob, size_t blob_len, const uint8_t *ctx,
		      size_t ctx_len, uint8_t *out, size_t cap, size_t *off, unsigned *released)
{
	_cleanup_secmem_ uint8_t *keys = NULL, *pt = NULL;
	struct op_ctx ic = { .m = c->m, .peer = c->peer, .req = c->req };
	struct kek_meta meta;
	size_t len = 0;
	int r, ar;

	r = unwrap_blob(&ic, ACL_OP_UNWRAP, blob, blob_len, ctx, ctx_len, &meta, &keys, &pt, &len);
	if (r >= 0 && 6 + len > cap - *off)
		r = op_fail(&ic, -EMSGSIZE, "no room left in the batch reply");
	ar = op_audit(c->m, c->peer, "unwrap", ic.key[0] ? ic.key : NULL, ic.version,
		      r < 0 ? r : 0, ic.why[0] ? ic.why : NULL, false);
	if (r >= 0 && ar < 0)
		r = ar; /* not audited, not released */
	if (r < 0)
		return vhsm_batch_put_reply(out, cap, off, r, NULL, 0);
	(*released)++;
	return vhsm_batch_put_reply(out, cap, off, 0, pt, len);
}

int op_unwrap_batch(struct op_ctx *c)
{
	const struct vhsm_wire_field *f = vhsm_wire_get(c->req, VHSM_TAG_BATCH);
	uint8_t *out = c->m->batch;
	struct vhsm_batch_cursor cur;
	const uint8_t *blob, *ctx;
	size_t blob_len, ctx_len, off = 0;
	unsigned n = 0, released = 0;
	int r;

	if (!f)
		return op_fail(c, -EINVAL, "no batch");
	/* The whole batch is checked before any item is unwrapped: bad framing fails it all. */
	cur = (struct vhsm_batch_cursor){ .p = f->value, .left = f->len };
	while ((r = vhsm_batch_next_request(&cur, &blob, &blob_len, &ctx, &ctx_len)) > 0)
		if (++n > VHSM_BATCH_MAX)
			return op_fail(c, -EMSGSIZE, "more than %u items", VHSM_BATCH_MAX);
	if (r < 0)
		return op_fail(c, -EBADMSG, "malformed batch (item %u)", n + 1);
	if (n == 0)
		return op_fail(c, -EINVAL, "empty batch");

	/* The items go to the manager's secure buffer (wiped over the length used before
	 * returning). Room for every item's errno and length is kept, so each failure has its
	 * slot. */
	/* The items' audit records are written together before the reply goes out. */
	if (c->m->audit)
		audit_hold(c->m->audit);
	cur = (struct vhsm_batch_cursor){ .p = f->value, .left = f->len };
	for (unsigned i = 0; r >= 0 && i < n; i++) {
		(void)vhsm_batch_next_request(&cur, &blob, &blob_len, &ctx, &ctx_len);
		r = batch_item(c, blob, blob_len, ctx, ctx_len, out,
			       VHSM_WIRE_MAX_DATA - 6 * (size_t)(n - i - 1), &off, &released);
	}
	int ar = c->m->audit ? audit_release(c->m->audit) : 0;
	if (r < 0 || ar < 0) {
		explicit_bzero(out, off);
		if (r < 0)
			return op_fail(c, r, "batch reply: %s", strerror(-r));
		return op_fail(c, ar, "audit log write failed: %s", strerror(-ar));
	}
	vhsm_wire_add_data(c->reply, VHSM_TAG_BATCH, out, off);
	explicit_bzero(out, off);
	snprintf(c->why, sizeof(c->why), "%u items, %u released", n, released);
	return 0;
}
