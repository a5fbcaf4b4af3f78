/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KEK metadata <-> JSON. The JSON is the public, authenticated part of a sealed KEK file and
 * is also what `vhsmctl kek show --json` prints. Parsing is strict: it may read a damaged or
 * hostile file (listings read metadata before anything is unsealed).
 */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "acl.h"
#include "json.h"
#include "kek-meta.h"
#include "seal.h"
#include "text.h"

_Static_assert(KEK_NAME_MAX == TEXT_KEY_NAME_MAX, "one name rule");

static const char *const state_names[_KEK_STATE_MAX] = {
	[KEK_ENABLED] = "enabled",
	[KEK_DISABLED] = "disabled",
	[KEK_DELETED] = "deleted",
};

const char *kek_state_to_string(enum kek_state s)
{
	return s >= 0 && s < _KEK_STATE_MAX ? state_names[s] : "invalid";
}

static enum kek_state kek_state_from_string(const char *s)
{
	for (int i = 0; i < _KEK_STATE_MAX; i++)
		if (strcmp(s, state_names[i]) == 0)
			return i;
	return _KEK_STATE_INVALID;
}

int json_dispatch_kek_state(struct json_object *v, const char *path, const struct json_field *f,
			    void *p, char *err, size_t errlen)
{
	struct json_field sf = *f;
	enum kek_state st;
	const char *s;
	int r;

	sf.offset = 0;
	sf.min = 1;
	sf.max = 32;
	r = json_dispatch_string(v, path, &sf, (void *)&s, err, errlen);
	if (r < 0)
		return r;
	st = kek_state_from_string(s);
	if (st < 0)
		return json_fail(err, errlen, -EBADMSG, "%s: unknown state", path);
	*(enum kek_state *)p = st;
	return 0;
}

void key_lifecycle_to_json(json_object *o, const struct key_lifecycle *l)
{
	json_object_object_add(o, "state", json_object_new_string(kek_state_to_string(l->state)));
	json_object_object_add(o, "state_before_delete",
			       json_object_new_string(kek_state_to_string(l->state_before_delete)));
	json_object_object_add(o, "created", json_object_new_int64((int64_t)l->created));
	json_object_object_add(o, "updated", json_object_new_int64((int64_t)l->updated));
	json_object_object_add(o, "deleted_at", json_object_new_int64((int64_t)l->deleted_at));
	json_object_object_add(o, "retention_days", json_object_new_int64(l->retention_days));
	json_object_object_add(o, "purge_protection", json_object_new_boolean(l->purge_protection));
}

bool store_name_valid(const char *name)
{
	return text_key_name_valid(name);
}

int kek_meta_to_json(const struct kek_meta *meta, char **ret)
{
	json_object *o = json_object_new_object(), *vs = json_object_new_array();
	char *acl = NULL;
	int r;

	if (!o || !vs) {
		json_object_put(o);
		json_object_put(vs);
		return -ENOMEM;
	}
	json_object_object_add(o, "name", json_object_new_string(meta->name));
	key_lifecycle_to_json(o, &meta->life);
	json_object_object_add(o, "exportable", json_object_new_boolean(meta->exportable));
	json_object_object_add(o, "imported", json_object_new_boolean(meta->imported));
	json_object_object_add(o, "attest_each_use", json_object_new_boolean(meta->attest_each_use));
	for (uint32_t i = 0; i < meta->n_versions; i++) {
		json_object *v = json_object_new_object();
		json_object_object_add(v, "version", json_object_new_int64(meta->versions[i].version));
		json_object_object_add(v, "created",
				       json_object_new_int64((int64_t)meta->versions[i].created));
		if (meta->fleet)
			json_object_object_add(v, "kmip_uid",
					       json_object_new_string(meta->versions[i].kmip_uid));
		json_object_array_add(vs, v);
	}
	json_object_object_add(o, "versions", vs);
	/* Written only for pulled KEKs: a local KEK's metadata stays what it always was. */
	if (meta->fleet)
		json_object_object_add(o, "origin", json_object_new_string("fleet"));
	r = acl_format(meta->acl, meta->n_acl, &acl);
	if (r < 0) {
		json_object_put(o);
		return r;
	}
	json_object_object_add(o, "acl", json_object_new_string(acl));
	free(acl);
	*ret = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return *ret ? 0 : -ENOMEM;
}

/* The metadata's members as json_dispatch() leaves them; strings borrowed from the tree. */
struct meta_json {
	struct kek_meta m;
	const char *acl, *origin;
	struct json_object *versions;
	uint64_t version, created; /* one element of "versions" */
	char kmip_uid[KEK_KMIP_UID_MAX + 1];
};

#define META_FIELD(n, t, fn, mem, lo, hi)                                                         \
	{ n, t, fn, offsetof(struct meta_json, mem), JSON_MANDATORY, lo, hi }
static const struct json_field meta_table[] = {
	META_FIELD("name", json_type_string, json_dispatch_key_name, m.name, 0, 0),
	KEY_LIFECYCLE_JSON_FIELDS(struct meta_json, m.life),
	META_FIELD("exportable", json_type_boolean, json_dispatch_bool, m.exportable, 0, 0),
	META_FIELD("imported", json_type_boolean, json_dispatch_bool, m.imported, 0, 0),
	META_FIELD("attest_each_use", json_type_boolean, json_dispatch_bool, m.attest_each_use, 0,
		   0),
	META_FIELD("acl", json_type_string, json_dispatch_string, acl, 0, SEAL_META_MAX),
	META_FIELD("versions", json_type_array, json_dispatch_borrow, versions, 0, 0),
	/* Optional: "fleet" for a KEK pulled from the key manager; absent for a local one. */
	{ "origin", json_type_string, json_dispatch_string, offsetof(struct meta_json, origin), 0,
	  1, 16 },
	{}
};
static const struct json_field version_table[] = {
	META_FIELD("version", json_type_int, json_dispatch_uint64, version, 1, UINT32_MAX),
	META_FIELD("created", json_type_int, json_dispatch_uint64, created, 0, INT64_MAX),
	{ "kmip_uid", json_type_string, json_dispatch_strbuf, offsetof(struct meta_json, kmip_uid),
	  0, 1, KEK_KMIP_UID_MAX },
	{}
};

/* Versions are numbered 1..n in order, as kek_meta_to_json() writes them. */
static int parse_versions(struct meta_json *j, char *err, size_t errlen)
{
	size_t n = json_object_array_length(j->versions);
	char path[JSON_PATH_MAX];

	if (n == 0 || n > KEK_MAX_VERSIONS)
		return json_fail(err, errlen, -EBADMSG, "versions: %zu entries, not 1..%u", n,
				 KEK_MAX_VERSIONS);
	for (size_t i = 0; i < n; i++) {
		j->kmip_uid[0] = 0;
		int r = json_dispatch(json_object_array_get_idx(j->versions, i),
				      json_path(path, "versions", NULL, i), version_table, j, err,
				      errlen);
		if (r < 0)
			return r;
		if (j->version != i + 1)
			return json_fail(err, errlen, -EBADMSG, "%s.version: %zu expected", path,
					 i + 1);
		j->m.versions[i].version = (uint32_t)j->version;
		j->m.versions[i].created = j->created;
		/* A pulled KEK names the key manager's object of every version, a local one none. */
		if (!!j->kmip_uid[0] != j->m.fleet)
			return json_fail(err, errlen, -EBADMSG, "%s.kmip_uid: %s", path,
					 j->m.fleet ? "missing in a KEK from the key manager"
						    : "only a KEK from the key manager has one");
		memcpy(j->m.versions[i].kmip_uid, j->kmip_uid, sizeof(j->kmip_uid));
	}
	j->m.n_versions = (uint32_t)n;
	return 0;
}

int kek_meta_parse(const char *json, size_t len, struct kek_meta *ret, char *err, size_t errlen)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	_cleanup_free_ struct meta_json *j = calloc(1, sizeof(*j));
	int r;

	if (!j)
		return -ENOMEM;
	r = json_parse(json, len, SEAL_META_MAX, "KEK metadata", &o, err, errlen);
	if (r >= 0)
		r = json_dispatch(o, NULL, meta_table, j, err, errlen);
	if (r >= 0 && j->origin && strcmp(j->origin, "fleet") != 0)
		r = json_fail(err, errlen, -EBADMSG, "origin: '%s' is not \"fleet\"", j->origin);
	j->m.fleet = j->origin != NULL;
	if (r >= 0)
		r = parse_versions(j, err, errlen);
	if (r < 0)
		return r;
	if (acl_parse(j->acl, j->m.acl, &j->m.n_acl) < 0)
		return json_fail(err, errlen, -EBADMSG, "acl: not a valid access list");
	*ret = j->m;
	return 0;
}

int kek_meta_from_json(const char *json, size_t len, struct kek_meta *ret)
{
	return kek_meta_parse(json, len, ret, NULL, 0);
}
