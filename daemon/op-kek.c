/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KEK lifecycle: create, list, show, rotate, reseal, disable/enable, delete (soft), recover,
 * purge, ACL. Key Vault semantics: rotation adds a version and older versions keep
 * unwrapping; delete is soft for the retention period; purge protection, once on, stays on
 * and forbids purging before the retention has passed.
 */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acl.h"
#include "attest.h"
#include "clock.h"
#include "ct.h"
#include "dek.h"
#include "ops.h"
#include "platform.h"
#include "secmem.h"
#include "store-seal.h"
#include "store.h"
#include "text.h"
#include "volumes.h"

/* An optional request field: -ENOENT (absent) is success. */
static int optional(int r)
{
	return r == -ENOENT ? 0 : r;
}

/* When a soft-deleted KEK's retention ends (recover refused, purge allowed from then on). */
static uint64_t retention_end(const struct kek_meta *meta)
{
	return meta->deleted_at + (uint64_t)meta->retention_days * 86400u;
}

/* Loads and unseals a KEK named in the request, checking the caller's right to op. Outputs
 * are set only on success. */
static int kek_open(struct op_ctx *c, uint32_t op, struct kek_meta *ret_meta,
		    struct seal_params *ret_params, uint8_t **ret_keys)
{
	_cleanup_secmem_ uint8_t *keys = NULL;
	/* store_unseal() fills them on success; {} so that no path copies out indeterminate
	 * bytes in gcc's analyzer's view. */
	struct kek_meta meta = {};
	struct seal_params params = {};
	struct seal_binding b = {};
	int r = op_kek_name(c);

	if (r < 0)
		return r;
	r = kek_precheck(c, c->key, op);
	if (r < 0)
		return r;
	r = store_unseal(c->m, c->key, &meta, &params, &b, &keys, c->why, sizeof(c->why));
	if (r == -ENOENT)
		return kek_not_found(c, -ENOENT, c->key, op);
	if (r < 0)
		return r;
	if (!acl_allows(&meta, c->peer, op))
		return kek_refuse(c, c->key, op);
	c->version = meta.versions[meta.n_versions - 1].version;
	memcpy(c->policy_digest, b.policy_digest, sizeof(c->policy_digest));
	*ret_meta = meta;
	*ret_params = params;
	*ret_keys = TAKE_PTR(keys);
	return 0;
}

static int reply_meta(struct op_ctx *c, const struct kek_meta *meta, const struct seal_params *p,
		      bool verified)
{
	_cleanup_free_ char *json = NULL, *out = NULL, *vols = NULL;
	int r = kek_meta_to_json(meta, &json);

	if (r < 0)
		return r;
	if (volumes_of_kek_json(c->m, meta->name, &vols) < 0)
		vols = NULL; /* "null": the record could not be read */
	/* Add what is not part of the stored metadata: sealing profile, pinned TCB, trust. */
	char sealed_pd[65], current_pd[65];

	ct_hex_encode(sealed_pd, c->policy_digest, sizeof(c->policy_digest));
	ct_hex_encode(current_pd, c->m->policy_digest, sizeof(c->m->policy_digest));
	/* The TCB as a hex string: a u64 does not survive JSON consumers that use doubles. */
	out = text_printf("{\"kek\":%s,\"profile\":\"%s\",\"sealed_tcb\":\"0x%016llx\","
			  "\"guest_svn\":%u,\"policy_digest\":\"%s\",\"current_policy_digest\":\"%s\","
			  "\"verified\":%s,\"unlocked_volumes\":%s}", json,
			  seal_profile_to_string(p->profile), (unsigned long long)p->tcb_version,
			  p->guest_svn, sealed_pd, current_pd, verified ? "true" : "false",
			  vols ? vols : "null");
	if (!out)
		return -ENOMEM;
	vhsm_wire_add_str(c->reply, VHSM_TAG_JSON, out);
	return 0;
}

int op_kek_create(struct op_ctx *c)
{
	_cleanup_secmem_ uint8_t *key = NULL;
	struct kek_meta meta = {};
	char profile[16], acl[4096] = "";
	uint64_t flags = 0;
	uint32_t days = KEK_DEFAULT_RETENTION_DAYS;
	enum seal_profile prof;
	int r;

	snprintf(profile, sizeof(profile), "%s", store_profile_default(c->m));
	r = op_kek_name(c);
	if (r < 0)
		return r;
	/* Optional fields: absent is fine, present and invalid is an error (never a silent
	 * default: an ACL or profile dropped on the floor would weaken the key). */
	if (optional(vhsm_wire_get_str(c->req, VHSM_TAG_PROFILE, profile, sizeof(profile))) < 0 ||
	    optional(vhsm_wire_get_u64(c->req, VHSM_TAG_FLAGS, &flags)) < 0 ||
	    optional(vhsm_wire_get_u32(c->req, VHSM_TAG_DAYS, &days)) < 0 ||
	    optional(vhsm_wire_get_str(c->req, VHSM_TAG_ACL, acl, sizeof(acl))) < 0)
		return op_fail(c, -EINVAL, "invalid profile, flags, retention or ACL field");
	if (flags & ~(VHSM_KEK_FLAG_EXPORTABLE | VHSM_KEK_FLAG_PURGE_PROTECTION | VHSM_KEK_FLAG_ATTEST_EACH_USE))
		return op_fail(c, -EINVAL, "unknown flags 0x%llx", (unsigned long long)flags);
	prof = seal_profile_from_string(profile);
	if (prof < 0)
		return op_fail(c, -EINVAL, "unknown sealing profile '%s' (strict, author, vtpm)", profile);
	r = store_profile_allowed(c->m, prof, c->why, sizeof(c->why));
	if (r < 0)
		return r;
	if (days < KEK_MIN_RETENTION_DAYS || days > KEK_MAX_RETENTION_DAYS)
		return op_fail(c, -EINVAL, "retention must be %u..%u days", KEK_MIN_RETENTION_DAYS,
			       KEK_MAX_RETENTION_DAYS);
	/* strict and author seal to the derived key: where the provider owns the measurement it
	 * can derive it too. The policy decides between a warning and a refusal. The vtpm
	 * profile's key is the vTPM's, which no launch measurement derives. */
	struct snp_policy_pins pins = {};
	if (c->m->policy)
		snp_policy_get_pins(c->m->policy, &pins);
	bool provider = pins.measurement_owner == SNP_MEASUREMENT_OWNER_PROVIDER &&
			!seal_profile_uses_tpm(prof);
	if (provider && pins.refuse_provider_measured_seal)
		return op_fail(c, -EKEYREJECTED, "refused by the policy (provider_measured_sealing: "
			       "refuse): %s", PLATFORM_PROVIDER_SEAL_WARNING);
	r = acl_parse(acl, meta.acl, &meta.n_acl);
	if (r < 0)
		return op_fail(c, -EINVAL, "invalid ACL '%s'", acl);
	strcpy(meta.name, c->key);
	meta.state = meta.state_before_delete = KEK_ENABLED;
	meta.created = meta.updated = clock_wall(c->m);
	meta.retention_days = days;
	meta.purge_protection = flags & VHSM_KEK_FLAG_PURGE_PROTECTION;
	meta.exportable = flags & VHSM_KEK_FLAG_EXPORTABLE;
	meta.attest_each_use = flags & VHSM_KEK_FLAG_ATTEST_EACH_USE;
	meta.n_versions = 1;
	meta.versions[0].version = 1;
	meta.versions[0].created = meta.created;
	key = secmem_alloc(KEK_KEY_SIZE);
	if (!key)
		return -ENOMEM;
	if (RAND_priv_bytes(key, KEK_KEY_SIZE) != 1)
		return op_fail(c, -EIO, "random number generator failed");
	r = store_write(c->m, &meta, prof, key, true, NULL, c->why, sizeof(c->why));
	if (r < 0)
		return r;
	c->version = 1;
	vhsm_wire_add_u32(c->reply, VHSM_TAG_VERSION, 1);
	if (provider)
		vhsm_wire_add_str(c->reply, VHSM_TAG_MESSAGE, PLATFORM_PROVIDER_SEAL_WARNING);
	return 0;
}

/* One KEK's entry in the listing: its metadata and profile, a damaged marker, or "" when the
 * caller may not see it. NULL on ENOMEM. */
static char *kek_list_entry(struct op_ctx *c, const char *name, bool first)
{
	struct kek_meta meta = {};
	struct seal_params p = {};
	char *json, *e;

	if (store_read_meta(c->m, name, &meta, &p) < 0)
		return text_printf("%s{\"kek\":{\"name\":\"%s\",\"state\":\"damaged\"}}",
				   first ? "" : ",", name);
	if (!c->peer->admin && !acl_allows(&meta, c->peer, ACL_OP_READ))
		return strdup(""); /* not visible to this caller */
	if (kek_meta_to_json(&meta, &json) < 0)
		return NULL;
	e = text_printf("%s{\"kek\":%s,\"profile\":\"%s\"}", first ? "" : ",", json,
			seal_profile_to_string(p.profile));
	free(json);
	return e;
}

int op_kek_list(struct op_ctx *c)
{
	char **names = NULL;
	int r = store_list(c->m, &names);

	if (r < 0)
		return op_fail(c, r, "cannot list the KEK store: %s", strerror(-r));
	r = op_reply_list(c, names, kek_list_entry);
	strv_free(names);
	return r;
}

int op_kek_show(struct op_ctx *c)
{
	_cleanup_secmem_ uint8_t *keys = NULL;
	struct kek_meta meta = {};
	struct seal_params p = {};
	int r = kek_open(c, ACL_OP_READ, &meta, &p, &keys);

	if (r < 0)
		return r;
	return reply_meta(c, &meta, &p, true);
}

/*
 * Common tail of every lifecycle change: reseal the (changed) metadata and keys.
 * gcc 12's -fanalyzer does not follow the KEK metadata that kek_open() copies out of
 * store_unseal() (another file) and reports meta->versions[n_versions - 1] as uninitialised
 * in each caller; every caller passes metadata that kek_open() returned with 0, whose
 * n_versions is at least 1 (kek-meta.c refuses a KEK without versions). A false positive of
 * that release, suppressed for this function only.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-use-of-uninitialized-value"
static int kek_commit(struct op_ctx *c, struct kek_meta *meta, const struct seal_params *p,
		      const uint8_t *keys)
{
	struct seal_params now;

	meta->updated = clock_wall(c->m);
	int r = store_write(c->m, meta, p->profile, keys, false, &now, c->why, sizeof(c->why));
	if (r < 0)
		return r;
	vhsm_wire_add_u32(c->reply, VHSM_TAG_VERSION, meta->versions[meta->n_versions - 1].version);
	/* Re-sealed just now, under the policy in force now. */
	memcpy(c->policy_digest, c->m->policy_digest, sizeof(c->policy_digest));
	return reply_meta(c, meta, &now, true);
}
#pragma GCC diagnostic pop

int op_kek_rotate(struct op_ctx *c)
{
	_cleanup_secmem_ uint8_t *keys = NULL, *nk = NULL;
	struct kek_meta meta = {};
	struct seal_params p = {};
	int r = kek_open(c, ACL_OP_ADMIN, &meta, &p, &keys);

	if (r < 0)
		return r;
	if (meta.state != KEK_ENABLED)
		return op_fail(c, -EKEYREVOKED, "KEK %s is %s", c->key,
			       kek_state_to_string(meta.state));
	if (meta.fleet)
		return op_fail(c, -EPERM, "KEK %s comes from the key manager: rotate it there "
			       "(vhsm-fleet rotate); the next sync adds the version", c->key);
	if (meta.n_versions >= KEK_MAX_VERSIONS)
		return op_fail(c, -EMSGSIZE, "KEK %s has the maximum of %u versions", c->key,
			       KEK_MAX_VERSIONS);
	nk = secmem_alloc((size_t)(meta.n_versions + 1) * KEK_KEY_SIZE);
	if (!nk)
		return -ENOMEM;
	memcpy(nk, keys, (size_t)meta.n_versions * KEK_KEY_SIZE);
	if (RAND_priv_bytes(nk + (size_t)meta.n_versions * KEK_KEY_SIZE, KEK_KEY_SIZE) != 1)
		return op_fail(c, -EIO, "random number generator failed");
	meta.versions[meta.n_versions].version = meta.versions[meta.n_versions - 1].version + 1;
	meta.versions[meta.n_versions].created = clock_wall(c->m);
	meta.n_versions++;
	c->version = meta.versions[meta.n_versions - 1].version;
	return kek_commit(c, &meta, &p, nk);
}

int op_kek_reseal(struct op_ctx *c)
{
	_cleanup_secmem_ uint8_t *keys = NULL;
	struct kek_meta meta = {};
	struct seal_params p = {};
	char why[sizeof(c->why)];
	int r;

	r = kek_open(c, ACL_OP_ADMIN, &meta, &p, &keys);
	if (r < 0)
		return r;
	/* A fresh attestation (only for callers allowed to reseal): resealing pins the TCB this
	 * CVM runs at now. */
	r = attest_require(c->m, true, why, sizeof(why));
	if (r < 0)
		return op_fail(c, r, "%s", why);
	return kek_commit(c, &meta, &p, keys);
}

static int kek_set_state(struct op_ctx *c, enum kek_state from, enum kek_state to)
{
	_cleanup_secmem_ uint8_t *keys = NULL;
	struct kek_meta meta = {};
	struct seal_params p = {};
	int r = kek_open(c, ACL_OP_ADMIN, &meta, &p, &keys);

	if (r < 0)
		return r;
	if (meta.state == KEK_DELETED)
		return op_fail(c, -EKEYREVOKED, "KEK %s is deleted (recover it first)", c->key);
	if (meta.state != from)
		return op_fail(c, -EALREADY, "KEK %s is %s", c->key,
			       kek_state_to_string(meta.state));
	meta.state = to;
	return kek_commit(c, &meta, &p, keys);
}

/*
 * --shred: after the KEK is disabled (or when it already was), every key of its DEKs that
 * vhsmd handed to the kernel keyring is revoked. vhsmd can revoke them whoever requested them:
 * they are owned by root, in vhsmd's group, with setattr for that group (lib/keyring.h).
 * Suspending the LUKS volumes needs device-mapper rights vhsmd does not have; vhsmctl does it
 * and reports each volume with KEK_SHRED_VOLUME.
 */
int op_kek_disable(struct op_ctx *c)
{
	uint64_t flags = 0;
	unsigned failed = 0;
	int r;

	if (vhsm_wire_get_u64(c->req, VHSM_TAG_FLAGS, &flags) < 0 && vhsm_wire_get(c->req, VHSM_TAG_FLAGS))
		return op_fail(c, -EINVAL, "invalid flags");
	if (flags & ~VHSM_KEK_DISABLE_SHRED)
		return op_fail(c, -EINVAL, "unknown flags 0x%llx", (unsigned long long)flags);
	r = kek_set_state(c, KEK_ENABLED, KEK_DISABLED);
	if (!(flags & VHSM_KEK_DISABLE_SHRED) || (r < 0 && r != -EALREADY))
		return r;
	if (r == -EALREADY) /* already disabled: shredding again is what the caller asked */
		c->why[0] = 0;
	r = dek_revoke_for_kek(DEK_STORE(c->m), c->key, &failed);
	if (r < 0)
		return op_fail(c, r, "KEK %s disabled, but its DEKs' keys were not revoked: %s",
			       c->key, strerror(-r));
	if (failed)
		return op_fail(c, -EACCES, "KEK %s disabled; %d key(s) revoked, %u could not be",
			       c->key, r, failed);
	vhsm_wire_add_u32(c->reply, VHSM_TAG_SIZE, (uint32_t)r); /* keys revoked */
	snprintf(c->why, sizeof(c->why), "shred: %d key(s) revoked", r);
	return 0;
}

int op_kek_shred_volume(struct op_ctx *c)
{
	char volume[VHSM_WIRE_MAX_STRING + 1], result[VHSM_WIRE_MAX_STRING + 1] = "";
	int r = op_get_name(c, VHSM_TAG_NAME, c->key, sizeof(c->key));

	if (r < 0)
		return r;
	if (vhsm_wire_get_str(c->req, VHSM_TAG_VOLUME, volume, sizeof(volume)) < 0 ||
	    !text_name_valid((const uint8_t *)volume, strlen(volume), VHSM_WIRE_MAX_STRING))
		return op_fail(c, -EINVAL, "a volume name is required");
	if (vhsm_wire_get_str(c->req, VHSM_TAG_MESSAGE, result, sizeof(result)) < 0 ||
	    !text_name_valid((const uint8_t *)result, strlen(result), VHSM_WIRE_MAX_STRING))
		return op_fail(c, -EINVAL, "a result is required");
	snprintf(c->why, sizeof(c->why), "volume %.200s: %.250s", volume, result);
	return 0;
}

int op_kek_enable(struct op_ctx *c)
{
	return kek_set_state(c, KEK_DISABLED, KEK_ENABLED);
}

int op_kek_delete(struct op_ctx *c)
{
	_cleanup_secmem_ uint8_t *keys = NULL;
	struct kek_meta meta = {};
	struct seal_params p = {};
	uint32_t days = 0;
	int r = kek_open(c, ACL_OP_ADMIN, &meta, &p, &keys);

	if (r < 0)
		return r;
	if (meta.state == KEK_DELETED)
		return op_fail(c, -EALREADY, "KEK %s is already deleted", c->key);
	if (vhsm_wire_get_u32(c->req, VHSM_TAG_DAYS, &days) == 0) {
		if (days < KEK_MIN_RETENTION_DAYS || days > KEK_MAX_RETENTION_DAYS)
			return op_fail(c, -EINVAL, "retention must be %u..%u days",
				       KEK_MIN_RETENTION_DAYS, KEK_MAX_RETENTION_DAYS);
		if (meta.purge_protection && days < meta.retention_days)
			return op_fail(c, -EPERM, "purge protection: retention cannot be shortened");
		meta.retention_days = days;
	}
	meta.state_before_delete = meta.state;
	meta.state = KEK_DELETED;
	meta.deleted_at = clock_wall(c->m);
	return kek_commit(c, &meta, &p, keys);
}

int op_kek_recover(struct op_ctx *c)
{
	_cleanup_secmem_ uint8_t *keys = NULL;
	struct kek_meta meta = {};
	struct seal_params p = {};
	int r = kek_open(c, ACL_OP_ADMIN, &meta, &p, &keys);

	if (r < 0)
		return r;
	if (meta.state != KEK_DELETED)
		return op_fail(c, -EALREADY, "KEK %s is not deleted", c->key);
	/* Against the latest time seen: a clock moved backwards does not reopen the window (and
	 * the KEK's authenticated timestamps bound that time from below). */
	clock_observe(c->m, meta.updated);
	if (clock_latest(c->m) >= retention_end(&meta))
		return op_fail(c, -EKEYEXPIRED, "KEK %s: the %u-day retention has passed; it can "
			       "only be purged", c->key, meta.retention_days);
	meta.state = meta.state_before_delete;
	meta.deleted_at = 0;
	return kek_commit(c, &meta, &p, keys);
}

int op_kek_purge(struct op_ctx *c)
{
	_cleanup_secmem_ uint8_t *keys = NULL;
	struct kek_meta meta = {};
	struct seal_params p = {};
	int r = kek_open(c, ACL_OP_ADMIN, &meta, &p, &keys);

	if (r < 0)
		return r;
	if (meta.state != KEK_DELETED)
		return op_fail(c, -EPERM, "KEK %s must be deleted before it can be purged", c->key);
	/* Against the wall clock (a clock moved backwards delays the purge) less its lead over
	 * the boot-time clock (a clock moved forwards brings no purge forward): docs/SECURITY.md,
	 * "Guest clock". */
	uint64_t until = retention_end(&meta);
	char when[32], why[320];
	if (meta.purge_protection && clock_wall(c->m) < until)
		return op_fail(c, -EPERM, "purge protection: KEK %s can be purged from %s "
			       "(retention %u days)", c->key, clock_iso(until, when),
			       meta.retention_days);
	if (meta.purge_protection && (r = clock_check_purge(c->m, until, why, sizeof(why))) < 0)
		return op_fail(c, r, "purge protection: KEK %s: %s", c->key, why);
	r = store_remove(c->m, c->key);
	if (r < 0)
		return op_fail(c, r, "cannot remove KEK %s: %s", c->key, strerror(-r));
	return 0;
}

int op_kek_set_acl(struct op_ctx *c)
{
	_cleanup_secmem_ uint8_t *keys = NULL;
	struct kek_meta meta = {};
	struct seal_params p = {};
	char acl[4096];
	int r = kek_open(c, ACL_OP_ADMIN, &meta, &p, &keys);

	if (r < 0)
		return r;
	r = vhsm_wire_get_str(c->req, VHSM_TAG_ACL, acl, sizeof(acl));
	if (r == -ENOENT)
		acl[0] = 0; /* clears the ACL */
	else if (r < 0)
		return op_fail(c, -EINVAL, "invalid ACL");
	r = acl_parse(acl, meta.acl, &meta.n_acl);
	if (r < 0)
		return op_fail(c, -EINVAL, "invalid ACL '%s': %s", acl, strerror(-r));
	return kek_commit(c, &meta, &p, keys);
}
