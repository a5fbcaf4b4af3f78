/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DEK registry operations: dek create / list / load / drop, and KEYRING_REQUEST, the
 * request-key upcall that vhsm-request-key (running as root) makes on behalf of the uid/gid
 * the kernel names. The DEK's own ACL decides (op "unwrap" loads it, "read" lists it, "admin"
 * drops it); the KEK must be enabled and the attestation gate open.
 */
#include <grp.h>
#include <openssl/rand.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "acl.h"
#include "clock.h"
#include "dek.h"
#include "kek-file.h"
#include "keyring.h"
#include "ops.h"
#include "secmem.h"
#include "store.h"
#include "wrap.h"

/* Keys handed out since vhsmd started: which keyring and uid asked (the kernel does not
 * tell; after a restart listings show these as unknown). */
#define LOADED_SLOTS 64u
static struct loaded {
	int32_t serial;
	int32_t keyring;
	uint32_t uid;
} loaded[LOADED_SLOTS];
static unsigned loaded_next;

static void loaded_remember(int32_t serial, int32_t keyring, uint32_t uid)
{
	loaded[loaded_next++ % LOADED_SLOTS] = (struct loaded){ serial, keyring, uid };
}

static const struct loaded *loaded_find(int32_t serial)
{
	for (size_t i = 0; i < LOADED_SLOTS; i++)
		if (loaded[i].serial == serial)
			return &loaded[i];
	return NULL;
}

/* The one refusal of op (ACL_OP_UNWRAP = load, ACL_OP_ADMIN = drop) on DEK name for p,
 * also when it does not exist and p is no administrator: DEK names are no oracle. */
static int dek_refuse(struct op_ctx *c, const struct peer *p, const char *name, uint32_t op)
{
	if (op == ACL_OP_UNWRAP)
		return op_fail(c, -EKEYREJECTED, "uid %u gid %u may not load DEK %s",
			       (unsigned)p->uid, (unsigned)p->gid, name);
	return op_fail(c, -EPERM, "uid %u may not drop DEK %s", (unsigned)p->uid, name);
}

/* Reads the DEK named in the request's NAME field into d (c->key names it for the audit),
 * for op by p. */
static int dek_get(struct op_ctx *c, const struct peer *p, uint32_t op, struct dek *d)
{
	int r = op_get_name(c, VHSM_TAG_NAME, c->key, sizeof(c->key));

	if (r < 0)
		return r;
	r = op_check_name(c, "DEK", c->key);
	if (r < 0)
		return r;
	r = dek_read(DEK_STORE(c->m), c->key, d);
	if (r < 0 && !p->admin)
		return dek_refuse(c, p, c->key, op);
	if (r == -ENOENT)
		return op_fail(c, -ENOKEY, "no DEK named %s", c->key);
	if (r == -EKEYREJECTED)
		return op_fail(c, r, "DEK %s: dek/%s.dek is not the registry file this CVM wrote "
			       "last: refused as rolled back, replaced or modified (restore the "
			       "current file, or remove it to drop the DEK)", c->key, c->key);
	if (r < 0)
		return op_fail(c, -EBADMSG, "DEK %s: damaged registry file", c->key);
	return 0;
}

/* Unseals the enabled KEK kek and returns version's 32 bytes (secmem) in *ret_key. */
static int kek_key(struct op_ctx *c, const char *kek, uint32_t version, uint8_t **ret_key)
{
	_cleanup_secmem_ uint8_t *keys = NULL;
	struct kek_meta meta;
	struct seal_params p;
	int r = store_unseal(c->m, kek, &meta, &p, NULL, &keys, c->why, sizeof(c->why));

	if (r == -ENOENT)
		return op_fail(c, -ENOKEY, "no KEK named %s", kek);
	if (r < 0)
		return r;
	if (meta.state != KEK_ENABLED)
		return op_fail(c, -EKEYREVOKED, "KEK %s is %s", kek,
			       kek_state_to_string(meta.state));
	if (version == 0)
		version = meta.versions[meta.n_versions - 1].version;
	for (uint32_t i = 0; i < meta.n_versions; i++)
		if (meta.versions[i].version == version) {
			uint8_t *key = secmem_dup(keys + (size_t)i * KEK_KEY_SIZE, KEK_KEY_SIZE);
			c->version = version;
			if (!key)
				return -ENOMEM;
			*ret_key = key;
			return 0;
		}
	return op_fail(c, -ENOKEY, "KEK %s has no version %u", kek, version);
}

static int get_optional_u32(struct op_ctx *c, uint16_t tag, uint32_t *v)
{
	int r = vhsm_wire_get_u32(c->req, tag, v);

	return r == -ENOENT ? 0 : r;
}

int op_dek_create(struct op_ctx *c)
{
	_cleanup_secmem_ uint8_t *kek = NULL, *key = NULL;
	struct dek d = { .size = DEK_SIZE_DEFAULT, .timeout = DEK_TIMEOUT_DEFAULT };
	char acl[DEK_ACL_TEXT_MAX + 1] = "", ctx[DEK_ACL_TEXT_MAX + 512];
	_cleanup_free_ char *canon = NULL;
	int r, n;

	r = op_get_name(c, VHSM_TAG_NAME, c->key, sizeof(c->key));
	if (r < 0)
		return r;
	r = op_check_name(c, "DEK", c->key);
	if (r < 0)
		return r;
	strcpy(d.name, c->key);
	if (op_get_name(c, VHSM_TAG_KEK, d.kek, sizeof(d.kek)) < 0)
		return op_fail(c, -EINVAL, "a valid KEK name is required");
	r = op_check_name(c, "KEK", d.kek);
	if (r < 0)
		return r;
	if (get_optional_u32(c, VHSM_TAG_SIZE, &d.size) < 0 ||
	    get_optional_u32(c, VHSM_TAG_TIMEOUT, &d.timeout) < 0 ||
	    (vhsm_wire_get_str(c->req, VHSM_TAG_ACL, acl, sizeof(acl)) < 0 &&
	     vhsm_wire_get(c->req, VHSM_TAG_ACL)))
		return op_fail(c, -EINVAL, "invalid size, timeout or ACL field");
	if (d.size != 32 && d.size != 64)
		return op_fail(c, -EINVAL, "DEK size must be 32 or 64 bytes");
	if (d.timeout > KEYRING_MAX_TIMEOUT)
		return op_fail(c, -EINVAL, "timeout must be 0..%u seconds", KEYRING_MAX_TIMEOUT);
	if (acl_parse(acl, d.acl, &d.n_acl) < 0 || acl_format(d.acl, d.n_acl, &canon) < 0 ||
	    strlen(canon) > DEK_ACL_TEXT_MAX)
		return op_fail(c, -EINVAL, "invalid ACL '%s'", acl);
	strcpy(d.acl_text, canon);
	d.created = clock_wall(c->m);
	struct dek old = {};
	r = dek_read(DEK_STORE(c->m), d.name, &old);
	dek_done(&old);
	if (r != -ENOENT)
		return op_fail(c, -EEXIST, "DEK %s already exists%s", d.name,
			       old.deleted_at ? " (deleted; purge it first: vhsmctl dek purge)" : "");
	r = kek_key(c, d.kek, 0, &kek);
	if (r < 0)
		return r;
	/* A new DEK is a new wrap: not under a KEK whose sealed file would not bring it back. */
	r = kek_file_verify(c->m, d.kek, c->why, sizeof(c->why));
	if (r < 0)
		return r;
	key = secmem_alloc(d.size);
	if (!key)
		return -ENOMEM;
	if (RAND_priv_bytes(key, (int)d.size) != 1)
		return op_fail(c, -EIO, "random number generator failed");
	n = dek_context(&d, ctx, sizeof(ctx));
	if (n < 0)
		return op_fail(c, n, "DEK description too long");
	r = wrap_key(kek, WRAP_PURPOSE_DEK, d.kek, c->version, (const uint8_t *)ctx, (size_t)n, key,
		     d.size, &d.wrapped, &d.wrapped_len);
	if (r < 0)
		return op_fail(c, r, "wrapping failed: %s", strerror(-r));
	r = dek_create_file(DEK_STORE(c->m), &d);
	dek_done(&d);
	if (r == -EEXIST)
		return op_fail(c, r, "DEK %s already exists", c->key);
	if (r < 0)
		return op_fail(c, r, "cannot store DEK %s: %s", c->key, strerror(-r));
	vhsm_wire_add_u32(c->reply, VHSM_TAG_SIZE, d.size);
	return 0;
}

static json_object *dek_json(const struct dek *d)
{
	struct dek_key keys[DEK_MAX_LOADED];
	json_object *o = dek_meta_json(d), *arr = json_object_new_array();
	int n = dek_find_keys(d->name, keys, ELEMENTSOF(keys));

	if (!o || !arr) {
		json_object_put(o);
		json_object_put(arr);
		return NULL;
	}
	for (int i = 0; i < n; i++) {
		json_object *k = json_object_new_object();
		const struct loaded *l = loaded_find(keys[i].serial);
		json_object_object_add(k, "serial", json_object_new_int64(keys[i].serial));
		json_object_object_add(k, "keyring", l ? json_object_new_int64(l->keyring) : NULL);
		json_object_object_add(k, "uid", l ? json_object_new_int64(l->uid) : NULL);
		json_object_object_add(k, "expiry", json_object_new_string(keys[i].expiry));
		json_object_array_add(arr, k);
	}
	json_object_object_add(o, "loaded", arr);
	json_object_object_add(o, "state", json_object_new_string(d->deleted_at ? "deleted"
										 : "active"));
	if (d->deleted_at)
		json_object_object_add(o, "purge_after",
				       json_object_new_int64((int64_t)dek_retention_end(d)));
	return o;
}

int op_dek_list(struct op_ctx *c)
{
	char **names = NULL;
	json_object *arr = json_object_new_array();
	int r = dek_list_names(DEK_STORE(c->m), &names);

	if (r < 0 || !arr) {
		json_object_put(arr);
		return op_fail(c, r < 0 ? r : -ENOMEM, "cannot list the DEK registry");
	}
	for (char **n = names; *n; n++) {
		struct dek d = {};
		json_object *o;
		int k = dek_read(DEK_STORE(c->m), *n, &d);
		if (k < 0) {
			o = json_object_new_object();
			json_object_object_add(o, "name", json_object_new_string(*n));
			json_object_object_add(o, "state", json_object_new_string(
				k == -EKEYREJECTED ? "rolled-back" : "damaged"));
		} else if (dek_acl_allows(&d, c->peer, ACL_OP_READ | ACL_OP_UNWRAP)) {
			o = dek_json(&d);
		} else {
			o = NULL; /* not visible to this caller */
		}
		dek_done(&d);
		if (o)
			json_object_array_add(arr, o);
	}
	strv_free(names);
	const char *s = json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN);
	if (!s || strlen(s) > VHSM_WIRE_MAX_TEXT) {
		json_object_put(arr);
		return op_fail(c, -E2BIG, "listing too large");
	}
	vhsm_wire_add_str(c->reply, VHSM_TAG_JSON, s);
	json_object_put(arr);
	return 0;
}

/* The timeout a key gets: the DEK's, or a shorter one the requester asked for. */
static uint32_t effective_timeout(const struct dek *d, uint32_t requested)
{
	if (requested == UINT32_MAX || requested == 0)
		return d->timeout;
	if (d->timeout == 0 || requested < d->timeout)
		return requested;
	return d->timeout;
}

/* Checks that p may load d and that its KEK is enabled, without unsealing anything. */
static int may_load(struct op_ctx *c, const struct dek *d, const struct peer *p)
{
	struct kek_meta meta;
	int r;

	char until[32];

	if (!dek_acl_allows(d, p, ACL_OP_UNWRAP))
		return dek_refuse(c, p, d->name, ACL_OP_UNWRAP);
	if (d->deleted_at)
		return op_fail(c, -EKEYREVOKED, "DEK %s is deleted (an administrator can recover "
			       "it with vhsmctl dek recover %s until %s)", d->name, d->name,
			       clock_iso(dek_retention_end(d), until));
	r = store_read_meta(c->m, d->kek, &meta, NULL);
	if (r == -ENOENT)
		return op_fail(c, -ENOKEY, "KEK %s of DEK %s does not exist", d->kek, d->name);
	if (r < 0)
		return op_fail(c, -EBADMSG, "KEK %s of DEK %s is damaged", d->kek, d->name);
	if (meta.state != KEK_ENABLED)
		return op_fail(c, -EKEYREVOKED, "KEK %s of DEK %s is %s", d->kek, d->name,
			       kek_state_to_string(meta.state));
	return 0;
}

int op_dek_load(struct op_ctx *c)
{
	struct dek d = {};
	uint32_t requested = UINT32_MAX;
	int r = dek_get(c, c->peer, ACL_OP_UNWRAP, &d);

	if (r < 0)
		return r;
	if (get_optional_u32(c, VHSM_TAG_TIMEOUT, &requested) < 0)
		r = op_fail(c, -EINVAL, "invalid timeout");
	if (r >= 0)
		r = may_load(c, &d, c->peer);
	if (r >= 0) {
		vhsm_wire_add_u32(c->reply, VHSM_TAG_SIZE, d.size);
		vhsm_wire_add_u32(c->reply, VHSM_TAG_TIMEOUT, effective_timeout(&d, requested));
	}
	dek_done(&d);
	return r;
}

/*
 * What the DEK's KEK says about deleting it: its retention (the default for the DEK's) and
 * its purge protection. A KEK whose file cannot be read protects (fail safe); a purged one
 * no longer does.
 */
static void kek_deletion_terms(struct op_ctx *c, const struct dek *d, uint32_t *ret_days,
			       bool *ret_protected)
{
	struct kek_meta meta;
	int r = store_read_meta(c->m, d->kek, &meta, NULL);

	*ret_days = r >= 0 ? meta.retention_days : KEK_DEFAULT_RETENTION_DAYS;
	*ret_protected = r >= 0 ? meta.purge_protection : r != -ENOENT;
}

/* Marks d deleted (recoverable for its retention); loads are refused from now on. */
static int dek_soft_delete(struct op_ctx *c, struct dek *d)
{
	uint32_t days, kek_days;
	bool protect;
	char until[32];
	int r;

	if (d->deleted_at)
		return op_fail(c, -EALREADY, "DEK %s is already deleted", d->name);
	kek_deletion_terms(c, d, &kek_days, &protect);
	days = kek_days;
	if (vhsm_wire_get_u32(c->req, VHSM_TAG_DAYS, &days) < 0 && vhsm_wire_get(c->req, VHSM_TAG_DAYS))
		return op_fail(c, -EINVAL, "invalid retention");
	if (days < KEK_MIN_RETENTION_DAYS || days > KEK_MAX_RETENTION_DAYS)
		return op_fail(c, -EINVAL, "retention must be %u..%u days", KEK_MIN_RETENTION_DAYS,
			       KEK_MAX_RETENTION_DAYS);
	if (protect && days < kek_days)
		return op_fail(c, -EPERM, "purge protection of KEK %s: the retention of DEK %s "
			       "cannot be shorter than the KEK's %u days", d->kek, d->name, kek_days);
	d->deleted_at = clock_wall(c->m);
	d->retention_days = days;
	r = dek_replace_file(DEK_STORE(c->m), d);
	if (r < 0)
		return op_fail(c, r, "cannot delete DEK %s: %s", d->name, strerror(-r));
	vhsm_wire_add_u32(c->reply, VHSM_TAG_DAYS, days);
	snprintf(c->why, sizeof(c->why), "recoverable until %s",
		 clock_iso(dek_retention_end(d), until));
	return 0;
}

int op_dek_drop(struct op_ctx *c)
{
	_cleanup_(dek_done) struct dek d = {};
	uint64_t flags = 0;
	unsigned failed = 0;
	int r = dek_get(c, c->peer, ACL_OP_ADMIN, &d);

	if (r < 0)
		return r;
	bool allowed = dek_acl_allows(&d, c->peer, ACL_OP_ADMIN);
	if (!allowed)
		return dek_refuse(c, c->peer, c->key, ACL_OP_ADMIN);
	if (vhsm_wire_get_u64(c->req, VHSM_TAG_FLAGS, &flags) < 0 && vhsm_wire_get(c->req, VHSM_TAG_FLAGS))
		return op_fail(c, -EINVAL, "invalid flags");
	if (flags & ~VHSM_DEK_DROP_DELETE)
		return op_fail(c, -EINVAL, "unknown flags 0x%llx", (unsigned long long)flags);
	if ((flags & VHSM_DEK_DROP_DELETE) && !c->peer->admin)
		return op_fail(c, -EPERM, "deleting a DEK requires root or the vhsm group");
	r = dek_revoke_keys(c->key, &failed);
	if (r < 0)
		return op_fail(c, r, "cannot read /proc/keys: %s", strerror(-r));
	if (failed)
		return op_fail(c, -EACCES, "%u key(s) of DEK %s could not be revoked", failed, c->key);
	vhsm_wire_add_u32(c->reply, VHSM_TAG_SIZE, (uint32_t)r); /* number revoked */
	if (flags & VHSM_DEK_DROP_DELETE) {
		int k = dek_soft_delete(c, &d);
		if (k < 0)
			return k;
	}
	snprintf(c->why, sizeof(c->why), "%d key(s) revoked%s", r,
		 flags & VHSM_DEK_DROP_DELETE ? ", DEK deleted" : "");
	return 0;
}

int op_dek_recover(struct op_ctx *c)
{
	_cleanup_(dek_done) struct dek d = {};
	char until[32];
	int r = dek_get(c, c->peer, ACL_OP_ADMIN, &d);

	if (r < 0)
		return r;
	if (!d.deleted_at)
		return op_fail(c, -EALREADY, "DEK %s is not deleted", d.name);
	/* Against the latest time seen: a clock moved backwards does not reopen the window. */
	clock_observe(c->m, d.deleted_at);
	if (clock_latest(c->m) >= dek_retention_end(&d))
		return op_fail(c, -EKEYEXPIRED, "DEK %s: the %u-day retention ended %s; it can only "
			       "be purged", d.name, d.retention_days,
			       clock_iso(dek_retention_end(&d), until));
	d.deleted_at = 0;
	d.retention_days = 0;
	r = dek_replace_file(DEK_STORE(c->m), &d);
	if (r < 0)
		return op_fail(c, r, "cannot recover DEK %s: %s", d.name, strerror(-r));
	return 0;
}

int op_dek_purge(struct op_ctx *c)
{
	_cleanup_(dek_done) struct dek d = {};
	uint32_t kek_days;
	bool protect;
	char until[32];
	int r = dek_get(c, c->peer, ACL_OP_ADMIN, &d);

	if (r < 0)
		return r;
	if (!d.deleted_at)
		return op_fail(c, -EPERM, "DEK %s must be deleted (dek drop --delete) before it can "
			       "be purged", d.name);
	kek_deletion_terms(c, &d, &kek_days, &protect);
	if (protect && clock_wall(c->m) < dek_retention_end(&d))
		return op_fail(c, -EPERM, "purge protection of KEK %s: DEK %s can be purged from "
			       "%s (retention %u days)", d.kek, d.name,
			       clock_iso(dek_retention_end(&d), until), d.retention_days);
	if (protect) {
		char why[320];
		r = clock_check_purge(c->m, dek_retention_end(&d), why, sizeof(why));
		if (r < 0)
			return op_fail(c, r, "purge protection of KEK %s: DEK %s: %s", d.kek, d.name,
				       why);
	}
	r = dek_remove_file(DEK_STORE(c->m), d.name);
	if (r < 0)
		return op_fail(c, r, "cannot purge DEK %s: %s", d.name, strerror(-r));
	return 0;
}

/*
 * The identity the kernel named for a request-key upcall, with its groups from NSS, looked up
 * at every request (never cached: a changed group membership applies to the next request).
 * Supplementary groups only decide whether an ACL's gid entry or the admin group admits a
 * caller, and an administrator is admitted by every ACL (acl_entries_allow()): root and the
 * admin group as primary group need no lookup, which spares the common upcall (root's) the
 * reading of passwd and group through NSS.
 */
static void requester_peer(struct manager *m, uid_t uid, gid_t gid, struct peer *ret)
{
	struct peer p = { .uid = uid, .gid = gid };
	struct passwd pw, *res = NULL;
	char buf[4096];
	gid_t groups[ELEMENTSOF(p.groups)];
	int n = (int)ELEMENTSOF(groups);

	p.admin = uid == 0 || (m->admin_gid != (gid_t)-1 && gid == m->admin_gid);
	if (!p.admin && getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res &&
	    getgrouplist(res->pw_name, gid, groups, &n) >= 0 && n > 0) {
		p.n_groups = (size_t)n;
		memcpy(p.groups, groups, (size_t)n * sizeof(gid_t));
	}
	for (size_t i = 0; i < p.n_groups; i++)
		if (m->admin_gid != (gid_t)-1 && p.groups[i] == m->admin_gid)
			p.admin = true;
	*ret = p;
}

int op_keyring_request(struct op_ctx *c)
{
	_cleanup_secmem_ uint8_t *kek = NULL, *key = NULL;
	struct dek d = {};
	struct peer who;
	struct wrap_info info;
	uint32_t uid, gid, requested = UINT32_MAX;
	int32_t serial = 0, keyring = 0;
	char ctx[DEK_ACL_TEXT_MAX + 512];
	size_t len;
	int r, n;

	/* Only root may speak for another uid: the kernel runs the helper as root. */
	if (c->peer->uid != 0)
		return op_fail(c, -EPERM, "keyring requests are accepted from root only");
	if (vhsm_wire_get_u32(c->req, VHSM_TAG_UID, &uid) < 0 ||
	    vhsm_wire_get_u32(c->req, VHSM_TAG_GID, &gid) < 0 ||
	    vhsm_wire_get_i32(c->req, VHSM_TAG_SERIAL, &serial) < 0 || serial <= 0 ||
	    get_optional_u32(c, VHSM_TAG_TIMEOUT, &requested) < 0 ||
	    (vhsm_wire_get_i32(c->req, VHSM_TAG_KEYRING, &keyring) < 0 &&
	     vhsm_wire_get(c->req, VHSM_TAG_KEYRING)))
		return op_fail(c, -EINVAL, "a keyring request needs uid, gid and the key serial");
	/* From here on the request is the requester's: its refusals are charged to that uid. */
	requester_peer(c->m, (uid_t)uid, (gid_t)gid, &c->requester);
	c->requester.pid = c->peer->pid;
	c->requester_set = true;
	who = c->requester;
	r = dek_get(c, &who, ACL_OP_UNWRAP, &d);
	if (r < 0 && who.admin) {
		char why[sizeof(c->why)];
		snprintf(why, sizeof(why), "%s", c->why);
		return op_fail(c, r, "for uid %u: %s", uid, why);
	}
	if (r < 0)
		return r;
	r = may_load(c, &d, &who);
	if (r >= 0 && wrap_parse(d.wrapped, d.wrapped_len, &info) < 0)
		r = op_fail(c, -EBADMSG, "DEK %s: damaged wrapped key", d.name);
	if (r >= 0 && strcmp(info.kek_name, d.kek) != 0)
		r = op_fail(c, -EBADMSG, "DEK %s: wrapped under another KEK", d.name);
	if (r >= 0)
		r = kek_key(c, d.kek, info.kek_version, &kek);
	if (r >= 0) {
		n = dek_context(&d, ctx, sizeof(ctx));
		r = n < 0 ? -EKEYREJECTED
			  : unwrap_key(kek, WRAP_PURPOSE_DEK, d.wrapped, d.wrapped_len,
				       (const uint8_t *)ctx, (size_t)n, &key, &len);
		if (r < 0 || len != d.size)
			r = op_fail(c, -EKEYREJECTED, "DEK %s does not unwrap (edited registry file?)",
				    d.name);
	}
	if (r >= 0) {
		vhsm_wire_add_data(c->reply, VHSM_TAG_DATA, key, len);
		vhsm_wire_add_u32(c->reply, VHSM_TAG_TIMEOUT, effective_timeout(&d, requested));
		vhsm_wire_add_u32(c->reply, VHSM_TAG_GID, (uint32_t)getegid());
		loaded_remember(serial, keyring, uid);
		snprintf(c->why, sizeof(c->why), "key %d for uid %u gid %u", serial, uid, gid);
	}
	dek_done(&d);
	return r;
}
