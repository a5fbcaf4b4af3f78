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
#include "kek-file.h"
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

/* The context prefix that marks purpose p (DEK, LUKS), without the DEK one's newline. */
static const char *reserved_prefix(enum wrap_purpose p)
{
	return p == WRAP_PURPOSE_DEK ? "vhsm-dek-v1" : WRAP_CONTEXT_LUKS_PREFIX;
}

/* UNWRAP of a blob made for a DEK or a LUKS keyslot: refused, whatever the caller's ACL. */
static int purpose_refusal(struct op_ctx *c, const struct wrap_info *info, const uint8_t *ctx,
			   size_t ctx_len)
{
	enum wrap_purpose p =
		info->format == 2 ? info->purpose : wrap_context_purpose(ctx, ctx_len);

	return op_fail(c, -EPERM, "input is a %s, not a generic wrapped key: only %s releases it",
		       wrap_purpose_to_string(p),
		       p == WRAP_PURPOSE_DEK ? "the keyring request for its DEK" : "LUKS unlock");
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

/* Refuses meta's KEK (named name) for op when the caller's ACL lacks op or it is not enabled. */
static int kek_usable(struct op_ctx *c, const char *name, uint32_t op,
		      const struct kek_meta *meta)
{
	if (!acl_allows(meta, c->peer, op))
		return kek_refuse(c, name, op);
	if (meta->state != KEK_ENABLED)
		return op_fail(c, -EKEYREVOKED, "KEK %s is %s", name,
			       kek_state_to_string(meta->state));
	return 0;
}

/* Unseals the KEK named by name for op, refusing one that is not enabled. */
static int open_enabled(struct op_ctx *c, const char *name, uint32_t op, struct kek_meta *meta,
			uint8_t **keys)
{
	struct seal_params p;
	int r;

	snprintf(c->key, sizeof(c->key), "%s", name);
	r = op_check_name(c, "KEK", name);
	if (r < 0)
		return r;
	r = kek_precheck(c, name, op);
	if (r < 0)
		return r;
	r = store_unseal(c->m, name, meta, &p, NULL, keys, c->why, sizeof(c->why));
	if (r == -ENOENT)
		return kek_not_found(c, -ENOKEY, name, op);
	if (r < 0)
		return r;
	return kek_usable(c, name, op, meta);
}

static int do_wrap(struct op_ctx *c, const struct kek_meta *meta, const uint8_t *keys,
		   const uint8_t *ctx, size_t ctx_len, const uint8_t *pt, size_t pt_len)
{
	_cleanup_free_ uint8_t *blob = NULL;
	uint32_t v = meta->versions[meta->n_versions - 1].version;
	size_t len;
	int r;

	/* Nothing is wrapped under a KEK whose sealed file would not bring it back. */
	r = kek_file_verify(c->m, meta->name, c->why, sizeof(c->why));
	if (r < 0)
		return r;
	r = wrap_key(kek_version_key(meta, keys, v), WRAP_PURPOSE_GENERIC, meta->name, v, ctx,
		     ctx_len, pt, pt_len, &blob, &len);
	if (r == -EPERM)
		return op_fail(c, -EPERM, "a context starting with \"%s\" is reserved for %s blobs",
			       reserved_prefix(wrap_context_purpose(ctx, ctx_len)),
			       wrap_purpose_to_string(wrap_context_purpose(ctx, ctx_len)));
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

/*
 * A KEK opened for unwrapping: its metadata and unsealed versions (secure memory). An
 * UNWRAP_BATCH keeps the KEK of one item open for the next items that name it, so that the
 * shield is decrypted once per batch and KEK instead of once per item. Nothing that decides
 * whether an item may be unwrapped changes during one request (the daemon serves one at a
 * time), and the ACL and state checks still run for every item. That holds for a KEK whose
 * policy demands an attestation for every use too: "each use" means an attestation made
 * during the request (or no older than --attest-fresh-ms, attest.c), and the one made when
 * the KEK was opened serves every item of the request.
 */
struct kek_open {
	char name[KEK_NAME_MAX + 1];
	struct kek_meta meta;
	uint8_t *keys;
};

static void kek_open_done(struct kek_open *k)
{
	k->keys = secmem_free(k->keys);
	k->name[0] = '\0';
}

/* Opens the KEK name for op into k, or reuses k when it holds that KEK already. */
static int kek_open_for(struct op_ctx *c, const char *name, uint32_t op, struct kek_open *k)
{
	if (k->keys && strcmp(k->name, name) == 0) {
		memcpy(c->key, k->name, sizeof(c->key));
		return kek_usable(c, name, op, &k->meta);
	}
	kek_open_done(k);
	int r = open_enabled(c, name, op, &k->meta, &k->keys);
	if (r < 0) {
		kek_open_done(k);
		return r;
	}
	memcpy(k->name, c->key, sizeof(k->name)); /* open_enabled() put the valid name there */
	return 0;
}

/* Unwraps blob under ctx for op with the KEK it names (opened into k), checking the KEK's ACL
 * and state. */
static int unwrap_blob(struct op_ctx *c, uint32_t op, const uint8_t *blob, size_t blob_len,
		       const uint8_t *ctx, size_t ctx_len, struct kek_open *k, uint8_t **ret_pt,
		       size_t *ret_len)
{
	struct wrap_info info;
	const uint8_t *key;
	int r;

	if (wrap_parse(blob, blob_len, &info) < 0)
		return op_fail(c, -EBADMSG, "input is not a vhsm wrapped key");
	if (ctx_len > WRAP_CONTEXT_MAX)
		return op_fail(c, -EMSGSIZE, "context longer than %u bytes", WRAP_CONTEXT_MAX);
	r = kek_open_for(c, info.kek_name, op, k);
	if (r < 0)
		return r;
	c->version = info.kek_version;
	key = kek_version_key(&k->meta, k->keys, info.kek_version);
	if (!key)
		return op_fail(c, -ENOKEY, "KEK %s has no version %u", info.kek_name,
			       info.kek_version);
	r = unwrap_key(key, WRAP_PURPOSE_GENERIC, blob, blob_len, ctx, ctx_len, ret_pt, ret_len);
	if (r == -EMEDIUMTYPE)
		return purpose_refusal(c, &info, ctx, ctx_len);
	if (r == -EKEYREJECTED || r == -EBADMSG)
		return op_fail(c, -EKEYREJECTED, "unwrap failed: wrong context or modified input");
	if (r < 0)
		return op_fail(c, r, "unwrap failed: %s", strerror(-r));
	return 0;
}

/* Parses a wrapped blob from the request and unwraps it (for unwrap and rewrap). */
static int unwrap_request(struct op_ctx *c, uint32_t op, struct kek_open *k, uint8_t **ret_pt,
			  size_t *ret_len)
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
	return unwrap_blob(c, op, data->value, data->len, ctx, ctx_len, k, ret_pt, ret_len);
}

int op_unwrap(struct op_ctx *c)
{
	_cleanup_secmem_ uint8_t *pt = NULL;
	struct kek_open k = {};
	size_t len;
	int r = unwrap_request(c, ACL_OP_UNWRAP, &k, &pt, &len);

	if (r >= 0) {
		vhsm_wire_add_data(c->reply, VHSM_TAG_DATA, pt, len);
		vhsm_wire_add_str(c->reply, VHSM_TAG_NAME, k.meta.name);
		vhsm_wire_add_u32(c->reply, VHSM_TAG_VERSION, c->version);
	}
	kek_open_done(&k);
	return r;
}

int op_rewrap(struct op_ctx *c)
{
	_cleanup_secmem_ uint8_t *pt = NULL;
	struct kek_open k = {};
	const uint8_t *ctx;
	size_t len, ctx_len;
	int r = unwrap_request(c, ACL_OP_REWRAP, &k, &pt, &len);

	if (r >= 0)
		r = get_context(c, &ctx, &ctx_len);
	if (r >= 0)
		r = do_wrap(c, &k.meta, k.keys, ctx, ctx_len, pt, len);
	kek_open_done(&k);
	return r;
}

/*
 * Audit records of a batch: consecutive items released under the same KEK version make one
 * "unwrap" record with "count" (they share the caller, the KEK, the version and the result,
 * so one record with their number says exactly what one record each would), and a refused
 * item has a record of its own, in item order.
 */
struct batch_run {
	char key[KEK_NAME_MAX + 1];
	uint32_t version;
	unsigned first, count; /* items first..first+count-1 (1-based) */
};

static int batch_run_flush(struct op_ctx *c, struct batch_run *run, unsigned n)
{
	char why[64];
	struct audit_record rec = { .event = "unwrap", .key = run->key, .version = run->version,
				    .peer = c->peer, .reason = why, .count = run->count };

	if (run->count == 0)
		return 0;
	if (run->count == 1)
		snprintf(why, sizeof(why), "batch item %u of %u", run->first, n);
	else
		snprintf(why, sizeof(why), "batch items %u-%u of %u", run->first,
			 run->first + run->count - 1, n);
	run->count = 0;
	return audit_log(c->m->audit, &rec);
}

/*
 * One batch item (index i of n, 1-based): unwrapped and appended to the reply items, its
 * release counted in run (or its refusal audited). Returns 1 when released, 0 when refused,
 * and < 0 only when the batch must fail as a whole: an audit record could not be written
 * (*audit_failed is then set), or the reply could not take the item.
 */
static int batch_item(struct op_ctx *c, struct kek_open *k, struct batch_run *run, unsigned i,
		      unsigned n, const uint8_t *blob, size_t blob_len, const uint8_t *ctx,
		      size_t ctx_len, uint8_t *out, size_t cap, size_t *off, bool *audit_failed)
{
	_cleanup_secmem_ uint8_t *pt = NULL;
	struct op_ctx ic = { .m = c->m, .peer = c->peer, .req = c->req };
	char why[sizeof(ic.why) + 32];
	size_t len = 0;
	int r, ar;

	r = unwrap_blob(&ic, ACL_OP_UNWRAP, blob, blob_len, ctx, ctx_len, k, &pt, &len);
	if (r >= 0 && 6 + len > cap - *off)
		r = op_fail(&ic, -EMSGSIZE, "no room left in the batch reply");
	if (r >= 0) {
		if (run->count > 0 && (strcmp(run->key, ic.key) != 0 || run->version != ic.version)) {
			ar = batch_run_flush(c, run, n);
			if (ar < 0) {
				*audit_failed = true;
				return ar;
			}
		}
		if (run->count == 0) {
			memcpy(run->key, ic.key, sizeof(run->key));
			run->version = ic.version;
			run->first = i;
		}
		run->count++;
		r = vhsm_batch_put_reply(out, cap, off, 0, pt, len);
		return r < 0 ? r : 1;
	}
	/* The records stay in item order: the run before this item goes first. */
	ar = batch_run_flush(c, run, n);
	if (ar >= 0) {
		snprintf(why, sizeof(why), "batch item %u of %u: %s", i, n, ic.why);
		ar = op_audit(c->m, c->peer, "unwrap", ic.key[0] ? ic.key : NULL, ic.version, r,
			      why, false);
	}
	if (ar < 0) {
		*audit_failed = true;
		return ar;
	}
	r = vhsm_batch_put_reply(out, cap, off, r, NULL, 0);
	return r < 0 ? r : 0;
}

int op_unwrap_batch(struct op_ctx *c)
{
	const struct vhsm_wire_field *f = vhsm_wire_get(c->req, VHSM_TAG_BATCH);
	uint8_t *out = c->m->batch;
	struct vhsm_batch_cursor cur;
	const uint8_t *blob, *ctx;
	struct kek_open k = {};
	struct batch_run run = {};
	size_t blob_len, ctx_len, off = 0;
	unsigned n = 0, released = 0;
	bool audit_failed = false;
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
	 * slot. The audit records are written together before the reply goes out; if any
	 * cannot be written, no item of the batch is released. */
	if (c->m->audit)
		audit_hold(c->m->audit);
	cur = (struct vhsm_batch_cursor){ .p = f->value, .left = f->len };
	for (unsigned i = 0; r >= 0 && i < n; i++) {
		(void)vhsm_batch_next_request(&cur, &blob, &blob_len, &ctx, &ctx_len);
		r = batch_item(c, &k, &run, i + 1, n, blob, blob_len, ctx, ctx_len, out,
			       VHSM_WIRE_MAX_DATA - 6 * (size_t)(n - i - 1), &off, &audit_failed);
		if (r > 0)
			released++;
	}
	kek_open_done(&k);
	if (r >= 0) {
		r = batch_run_flush(c, &run, n);
		audit_failed = r < 0;
	}
	int ar = c->m->audit ? audit_release(c->m->audit) : 0;
	if (r < 0 || ar < 0) {
		explicit_bzero(out, off);
		if (audit_failed || ar < 0)
			return op_fail(c, ar < 0 ? ar : r, "audit log write failed: %s",
				       strerror(ar < 0 ? -ar : -r));
		return op_fail(c, r, "batch reply: %s", strerror(-r));
	}
	vhsm_wire_add_data(c->reply, VHSM_TAG_BATCH, out, off);
	explicit_bzero(out, off);
	snprintf(c->why, sizeof(c->why), "%u items, %u released", n, released);
	return 0;
}
