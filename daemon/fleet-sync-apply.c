/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Applying a fleet pull to the KEK store (fleet.h), on the event loop. The key manager is the
 * source of truth (docs/fleet.md, "State mapping"):
 *   the versions of a KEK are the key manager's objects of its name, ordered by what each
 *   replaces (a Replaced Object link or vhsm-replaces); those ever activated (Active,
 *   Deactivated) are versions of the local KEK, Pre-Active ones are not usable yet;
 *   the newest one decides the state: Active → enabled, Deactivated → disabled,
 *   Destroyed or gone → soft-deleted (the local retention applies); a Compromised object
 *   anywhere → disabled and shredded (its DEKs' keys revoked in the kernel keyring).
 * A local copy that differs (re-enabled, a version missing) is rewritten to that state; one
 * the store manifest refuses as rolled back or replaced is rebuilt from the key manager when
 * it still unseals on this CVM as a KEK of origin fleet (rolled_back_fleet_kek()); a local KEK that did not come from the key manager is never overwritten. Every write
 * is the store's atomic, durable write: a crash leaves the old or the new file.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clock.h"
#include "dek.h"
#include "escape.h"
#include "fileio.h"
#include "fleet.h"
#include "journal.h"
#include "kek-meta.h"
#include "secmem.h"
#include "store-file.h"
#include "store-seal.h"
#include "store.h"

/*
 * Whether the file of KEK name, which the store manifest refused (an older file put back, or
 * another in its place), is a KEK of origin fleet sealed on this CVM: its metadata is believed
 * only once the file unseals here (the seal authenticates it), so that a forged or foreign
 * file never gets a local KEK's name overwritten. 1 yes, 0 no, or -errno.
 */
static int rolled_back_fleet_kek(struct manager *m, const char *name)
{
	_cleanup_free_ uint8_t *blob = NULL;
	_cleanup_secmem_ uint8_t *pt = NULL;
	struct seal_header h;
	struct kek_meta meta;
	char rel[STORE_REL_MAX], why[256];
	size_t len, pt_len;
	int r = store_rel("kek", name, ".sealed", rel);

	if (r < 0)
		return r;
	r = fileio_read_all_at(m->state_fd, rel, SEAL_BLOB_MAX, &blob, &len);
	if (r < 0)
		return r;
	if (seal_parse_header(blob, len, &h) < 0 ||
	    kek_meta_from_json((const char *)h.meta, h.meta_len, &meta) < 0 ||
	    strcmp(meta.name, name) != 0 || strcmp(h.label, name) != 0)
		return 0;
	r = store_unseal_now(m, &h, blob, len, "the refused local copy", &pt, &pt_len, why,
			     sizeof(why));
	return r < 0 ? 0 : meta.fleet;
}

enum desired { WANT_PENDING, WANT_ENABLED, WANT_DISABLED, WANT_SHRED, WANT_DELETED };

static bool compromised(uint32_t s)
{
	return s == KMIP_STATE_COMPROMISED || s == KMIP_STATE_DESTROYED_COMPROMISED;
}

static bool held(uint32_t s)
{
	return s == KMIP_STATE_ACTIVE || s == KMIP_STATE_DEACTIVATED;
}

/* Orders objs[0..n) (pointers) by replacement: an object comes after the one it replaces;
 * among candidates, shorter then smaller identifiers first (creation order on PyKMIP and
 * any key manager with counters). Objects in a replacement cycle are left out. Returns the
 * count ordered. */
static size_t order_chain(const struct fleet_object **objs, size_t n, const struct fleet_object **out)
{
	bool placed[FLEET_MAX_OBJECTS] = {};
	size_t k = 0;

	while (k < n) {
		ssize_t best = -1;
		for (size_t i = 0; i < n; i++) {
			if (placed[i])
				continue;
			bool ready = true;
			for (size_t j = 0; j < n; j++)
				if (!placed[j] && j != i && objs[i]->replaces[0] &&
				    strcmp(objs[j]->uid, objs[i]->replaces) == 0)
					ready = false;
			if (!ready)
				continue;
			if (best < 0 || strlen(objs[i]->uid) < strlen(objs[best]->uid) ||
			    (strlen(objs[i]->uid) == strlen(objs[best]->uid) &&
			     strcmp(objs[i]->uid, objs[best]->uid) < 0))
				best = (ssize_t)i;
		}
		if (best < 0)
			break;
		placed[best] = true;
		out[k++] = objs[best];
	}
	return k;
}

static enum desired desired_state(const struct fleet_object **chain, size_t n,
				  const struct fleet_object **ret_newest)
{
	const struct fleet_object *newest = NULL;

	*ret_newest = NULL;
	for (size_t i = 0; i < n; i++)
		if (compromised(chain[i]->state)) {
			*ret_newest = chain[i];
			return WANT_SHRED;
		}
	for (size_t i = n; i-- > 0;)
		if (chain[i]->state != KMIP_STATE_PRE_ACTIVE) {
			newest = chain[i];
			break;
		}
	*ret_newest = newest ? newest : n ? chain[n - 1] : NULL;
	if (!newest)
		return n ? WANT_PENDING : WANT_DELETED;
	switch (newest->state) {
	case KMIP_STATE_ACTIVE:
		return WANT_ENABLED;
	case KMIP_STATE_DEACTIVATED:
		return WANT_DISABLED;
	default:
		return WANT_DELETED;
	}
}

static int result_fail(struct fleet_kek_result *res, int r, const char *fmt, ...) _printf_(3, 4);
static int result_fail(struct fleet_kek_result *res, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res->action, sizeof(res->action), fmt, ap);
	va_end(ap);
	res->error = true;
	log_msg(LOG_WARNING, "fleet sync: KEK %s: %s", res->local, res->action);
	return r;
}

static int apply_one(struct manager *m, const char *local, const struct fleet_object **objs,
		     size_t n, struct fleet_kek_result *res)
{
	_cleanup_secmem_ uint8_t *keys = NULL;
	_cleanup_secmem_ uint8_t *nk = NULL;
	_cleanup_free_ const struct fleet_object **chain = calloc(n ? n : 1, sizeof(*chain));
	const struct fleet_object *newest;
	struct kek_meta meta = {};
	struct seal_params p = {};
	struct seal_binding b = {};
	char why[512] = "";
	bool create = false, changed = false, shred = false, rebuilt = false;
	uint32_t added = 0;
	int r;

	snprintf(res->local, sizeof(res->local), "%s", local);
	if (!chain)
		return -ENOMEM;
	size_t nc = order_chain(objs, n, chain);
	if (nc < n)
		return result_fail(res, -ELOOP, "the key manager's objects replace each other in "
				   "a cycle");
	enum desired want = desired_state(chain, nc, &newest);
	if (newest) {
		snprintf(res->uid, sizeof(res->uid), "%s", newest->uid);
		res->kmip_state = newest->state;
	}

	r = store_read_meta(m, local, &meta, &p);
	if (r == -EKEYREJECTED && rolled_back_fleet_kek(m, local) > 0) {
		/* Rebuilt as a new pull would make it, over the refused file: the versions are the
		 * key manager's objects in chain order, numbered as on every other CVM. */
		rebuilt = true;
		r = -ENOENT;
	}
	if (r == -ENOENT) {
		if (want == WANT_PENDING || want == WANT_DELETED || want == WANT_SHRED) {
			snprintf(res->action, sizeof(res->action), "%s",
				 want == WANT_PENDING ? "not usable yet (pre-active): not pulled"
				 : want == WANT_SHRED ? "compromised: not pulled"
						      : "absent on the key manager");
			return 0;
		}
		create = true;
		meta = (struct kek_meta){};
		snprintf(meta.name, sizeof(meta.name), "%s", local);
		meta.state = meta.state_before_delete = KEK_ENABLED;
		meta.created = meta.updated = clock_wall(m);
		meta.retention_days = KEK_DEFAULT_RETENTION_DAYS;
		meta.fleet = true;
	} else if (r == -EKEYREJECTED) {
		return result_fail(res, r, "the local copy is refused as rolled back or replaced "
				   "(store manifest) and is no fleet KEK sealed on this CVM: left "
				   "alone (put its current file back)");
	} else if (r < 0) {
		return result_fail(res, r, "cannot read the local KEK: %s", strerror(-r));
	} else if (!meta.fleet) {
		return result_fail(res, -EEXIST, "a local KEK of this name exists that did not come "
				   "from the key manager: left alone");
	} else {
		r = store_unseal(m, local, &meta, &p, &b, &keys, why, sizeof(why));
		if (r < 0)
			return result_fail(res, r, "cannot unseal the local copy: %s",
					   why[0] ? why : strerror(-r));
	}

	/* New versions: held objects in chain order that the local copy lacks. */
	nk = secmem_alloc((size_t)KEK_MAX_VERSIONS * KEK_KEY_SIZE);
	if (!nk)
		return -ENOMEM;
	if (keys)
		memcpy(nk, keys, (size_t)meta.n_versions * KEK_KEY_SIZE);
	for (size_t i = 0; i < nc && want != WANT_SHRED; i++) {
		const struct fleet_object *o = chain[i];
		bool have = false;
		if (!held(o->state))
			continue;
		for (uint32_t v = 0; v < meta.n_versions; v++)
			have = have || strcmp(meta.versions[v].kmip_uid, o->uid) == 0;
		if (have)
			continue;
		if (!o->key)
			return result_fail(res, -ENOKEY, "object %s was not fetched (held by another "
					   "local KEK?)", o->uid);
		if (meta.n_versions >= KEK_MAX_VERSIONS)
			return result_fail(res, -EMSGSIZE, "the maximum of %u versions is reached",
					   KEK_MAX_VERSIONS);
		uint32_t v = meta.n_versions;
		memcpy(nk + (size_t)v * KEK_KEY_SIZE, o->key, KEK_KEY_SIZE);
		meta.versions[v].version = v ? meta.versions[v - 1].version + 1 : 1;
		meta.versions[v].created = clock_wall(m);
		snprintf(meta.versions[v].kmip_uid, sizeof(meta.versions[v].kmip_uid), "%s", o->uid);
		meta.n_versions++;
		added++;
	}
	if (create && meta.n_versions == 0)
		return result_fail(res, -ENOKEY, "no usable key on the key manager");

	enum kek_state before = meta.state;
	switch (want) {
	case WANT_PENDING:
		break;
	case WANT_ENABLED:
		meta.state = KEK_ENABLED;
		break;
	case WANT_DISABLED:
	case WANT_SHRED:
		meta.state = KEK_DISABLED;
		/* At every sync that finds it compromised, also when it was disabled already (a
		 * Deactivated key compromised later): disabling revokes no keyring key, and
		 * revoking again is harmless. */
		shred = want == WANT_SHRED;
		break;
	case WANT_DELETED:
		if (meta.state != KEK_DELETED) {
			meta.state_before_delete = meta.state;
			meta.state = KEK_DELETED;
			meta.deleted_at = clock_wall(m);
		}
		break;
	}
	if (meta.state != KEK_DELETED && before == KEK_DELETED) {
		meta.deleted_at = 0;
		meta.state_before_delete = meta.state;
	}
	changed = create || added || meta.state != before;
	if (changed) {
		meta.updated = clock_wall(m);
		r = store_write(m, &meta, create ? SEAL_PROFILE_STRICT : p.profile, nk,
				create && !rebuilt, NULL, why, sizeof(why));
		if (r < 0)
			return result_fail(res, r, "cannot seal the KEK: %s", why[0] ? why : strerror(-r));
	}
	res->versions = meta.n_versions;
	if (shred) {
		unsigned failed = 0;
		r = dek_revoke_for_kek(DEK_STORE(m), local, &failed);
		res->shred = true;
		if (r < 0 || failed)
			return result_fail(res, r < 0 ? r : -EACCES, "compromised: disabled, but %s",
					   r < 0 ? strerror(-r) : "some keyring keys could not be revoked");
		snprintf(res->action, sizeof(res->action), "compromised: disabled and shredded (%d "
			 "keyring key(s) revoked)", r);
		if (changed || r > 0)
			log_msg(LOG_NOTICE, "fleet sync: KEK %s: %s", local, res->action);
		return 0;
	}
	res->shred = want == WANT_SHRED;
	if (rebuilt)
		snprintf(res->action, sizeof(res->action), "local copy rolled back or replaced: "
			 "rewritten from the key manager (%u version(s))%s", meta.n_versions,
			 meta.state == KEK_DISABLED ? ", disabled" : "");
	else if (create)
		snprintf(res->action, sizeof(res->action), "pulled (%u version(s))%s",
			 meta.n_versions, meta.state == KEK_DISABLED ? ", disabled" : "");
	else if (added)
		snprintf(res->action, sizeof(res->action), "rotated: %u new version(s)%s", added,
			 meta.state != before ? ", state corrected" : "");
	else if (meta.state != before)
		snprintf(res->action, sizeof(res->action), "%s (was %s)",
			 kek_state_to_string(meta.state), kek_state_to_string(before));
	else
		snprintf(res->action, sizeof(res->action), "%s",
			 want == WANT_PENDING ? "newest version not usable yet (pre-active)"
					      : "unchanged");
	if (changed)
		log_msg(LOG_NOTICE, "fleet sync: KEK %s: %s", local, res->action);
	return 0;
}

/*
 * <state>/fleet/shred: the KEKs this sync found compromised, one name a line. vhsmd has no
 * device-mapper rights; the root unit vhsmd-fleet-shred.path watches this file and runs
 * `vhsmctl fleet shred`, which suspends their volumes (docs/fleet.md). Rewritten only when the
 * set changes, so that the unit runs once per newly compromised KEK. Logs a failure.
 */
/* gcc 12's -fanalyzer reports the cleanup pointers below as uninitialised on early-return
 * paths, although each is initialised at its declaration: the false positive op-byok.c
 * describes. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-use-of-uninitialized-value"
static void record_shreds(struct manager *m, const struct fleet_kek_result *res, size_t n)
{
	_cleanup_free_ char *want = calloc(n + 1, KEK_NAME_MAX + 2);
	_cleanup_free_ uint8_t *have = NULL;
	size_t len = 0, have_len = 0;
	int r;

	if (!want)
		return;
	for (size_t i = 0; i < n; i++)
		if (res[i].shred)
			len += (size_t)sprintf(want + len, "%s\n", res[i].local);
	r = fileio_read_all_at(m->state_fd, FLEET_SHRED_FILE, (n + 1) * (KEK_NAME_MAX + 2), &have,
			       &have_len);
	if (r == -ENOENT && len == 0)
		return;
	if (r >= 0 && have_len == len && memcmp(have, want, len) == 0)
		return;
	/* fleet/ exists once an identity is enrolled; made here for a test identity. */
	if (mkdirat(m->state_fd, "fleet", 0700) < 0 && errno != EEXIST)
		vhsm_log_debug("fleet sync: cannot make %s/fleet: %m", m->state_dir);
	r = fileio_write_atomic_at(m->state_fd, FLEET_SHRED_FILE, want, len, 0600);
	if (r < 0)
		log_msg(LOG_ERR, "fleet sync: cannot write %s/%s (the volumes of compromised KEKs "
			"are not suspended by vhsmd-fleet-shred.path): %s", m->state_dir,
			FLEET_SHRED_FILE, strerror(-r));
}
#pragma GCC diagnostic pop

/* The local KEK name of object name under group mapping map: true when it is a valid one. */
static bool group_local(const struct fleet_map *map, const char *name, char local[KEK_NAME_MAX + 1])
{
	return snprintf(local, KEK_NAME_MAX + 1, "%s%s", map->prefix, name) <= (int)KEK_NAME_MAX &&
	       store_name_valid(local);
}

/* The results fleet_apply() reports for p: one per name mapping, one per distinct valid name
 * of a group mapping and one per object whose name makes no valid KEK name. */
static size_t results_needed(const struct fleet_config *cfg, const struct fleet_pull *p)
{
	size_t need = 0;

	for (size_t mi = 0; mi < cfg->n_maps; mi++) {
		if (cfg->maps[mi].name[0]) {
			need++;
			continue;
		}
		for (size_t i = 0; i < p->n; i++) {
			char local[KEK_NAME_MAX + 1];
			bool seen = false;
			if (p->objs[i].map != mi)
				continue;
			if (group_local(&cfg->maps[mi], p->objs[i].name, local))
				for (size_t j = 0; j < i && !seen; j++)
					seen = p->objs[j].map == mi &&
					       strcmp(p->objs[j].name, p->objs[i].name) == 0;
			need += !seen;
		}
	}
	return need;
}

/* A result for an object of a group mapping whose name makes no valid KEK name. */
static void result_bad_name(struct fleet_kek_result *res, const struct fleet_map *map,
			    const char *name)
{
	char esc[KMIP_MAX_TEXT * 4 + 1];

	*res = (struct fleet_kek_result){};
	/* The key manager's text: escaped wherever it goes. */
	text_escape(name, esc, sizeof(esc));
	snprintf(res->local, sizeof(res->local), "%s%.*s", map->prefix,
		 (int)(KEK_NAME_MAX - strlen(map->prefix)), esc);
	(void)result_fail(res, -EINVAL, "'%s%s' is not a valid KEK name", map->prefix, esc);
}

int fleet_apply(struct manager *m, const struct fleet_config *cfg, const struct fleet_pull *p,
		struct fleet_kek_result *ret, size_t max, size_t *ret_n)
{
	_cleanup_free_ const struct fleet_object **objs = NULL;
	size_t nres = 0;

	/* Checked before the store is touched: a sync applies all of a pull or none of it. */
	if (results_needed(cfg, p) > max)
		return -E2BIG;
	objs = calloc(p->n ? p->n : 1, sizeof(*objs));
	if (!objs)
		return -ENOMEM;
	for (size_t mi = 0; mi < cfg->n_maps; mi++) {
		const struct fleet_map *map = &cfg->maps[mi];
		bool done[FLEET_MAX_OBJECTS] = {};
		/* A name mapping is one local KEK; a group mapping one per name in the group. */
		for (size_t start = 0; start <= p->n; start++) {
			char local[KEK_NAME_MAX + 1];
			const char *name = NULL;
			size_t n = 0;
			if (map->name[0]) {
				if (start > 0)
					break;
				snprintf(local, sizeof(local), "%s", map->local);
			} else {
				if (start == p->n)
					break;
				if (done[start] || p->objs[start].map != mi)
					continue;
				name = p->objs[start].name;
				if (!group_local(map, name, local)) {
					done[start] = true;
					result_bad_name(&ret[nres++], map, name);
					continue;
				}
			}
			for (size_t i = 0; i < p->n; i++)
				if (p->objs[i].map == mi && !done[i] &&
				    (!name || strcmp(p->objs[i].name, name) == 0)) {
					objs[n++] = &p->objs[i];
					done[i] = true;
				}
			struct fleet_kek_result *res = &ret[nres++];
			*res = (struct fleet_kek_result){};
			int r = apply_one(m, local, objs, n, res);
			/* Every failure is the KEK's result (out of memory is not said there yet). */
			if (r < 0 && !res->error)
				(void)result_fail(res, r, "%s", strerror(-r));
		}
	}
	record_shreds(m, ret, nres);
	*ret_n = nres;
	return 0;
}
