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
#include "store.h"
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
	json_object_object_add(o, "state", json_object_new_string(kek_state_to_string(meta->state)));
	json_object_object_add(o, "state_before_delete",
			       json_object_new_string(kek_state_to_string(meta->state_before_delete)));
	json_object_object_add(o, "created", json_object_new_int64((int64_t)meta->created));
	json_object_object_add(o, "updated", json_object_new_int64((int64_t)meta->updated));
	json_object_object_add(o, "deleted_at", json_object_new_int64((int64_t)meta->deleted_at));
	json_object_object_add(o, "retention_days", json_object_new_int64(meta->retention_days));
	json_object_object_add(o, "purge_protection", json_object_new_boolean(meta->purge_protection));
	json_object_object_add(o, "exportable", json_object_new_boolean(meta->exportable));
	json_object_object_add(o, "imported", json_object_new_boolean(meta->imported));
	json_object_object_add(o, "attest_each_use", json_object_new_boolean(meta->attest_each_use));
	for (uint32_t i = 0; i < meta->n_versions; i++) {
		json_object *v = json_object_new_object();
		json_object_object_add(v, "version", json_object_new_int64(meta->versions[i].version));
		json_object_object_add(v, "created",
				       json_object_new_int64((int64_t)meta->versions[i].created));
		json_object_array_add(vs, v);
	}
	json_object_object_add(o, "versions", vs);
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

static int get_u64(json_object *o, const char *k, uint64_t max, uint64_t *ret)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_int))
		return -EBADMSG;
	int64_t x = json_object_get_int64(v);
	if (x < 0 || (uint64_t)x > max)
		return -EBADMSG;
	*ret = (uint64_t)x;
	return 0;
}

static int get_bool(json_object *o, const char *k, bool *ret)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_boolean))
		return -EBADMSG;
	*ret = json_object_get_boolean(v);
	return 0;
}

static int get_str(json_object *o, const char *k, const char **ret)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
		return -EBADMSG;
	*ret = json_object_get_string(v);
	return 0;
}

static int parse_versions(json_object *o, struct kek_meta *m)
{
	json_object *vs;
	size_t n;

	if (!json_object_object_get_ex(o, "versions", &vs) || !json_object_is_type(vs, json_type_array))
		return -EBADMSG;
	n = json_object_array_length(vs);
	if (n == 0 || n > KEK_MAX_VERSIONS)
		return -EBADMSG;
	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(vs, i);
		uint64_t ver, created;
		if (!json_object_is_type(v, json_type_object) ||
		    get_u64(v, "version", UINT32_MAX, &ver) < 0 ||
		    get_u64(v, "created", INT64_MAX, &created) < 0 || ver != i + 1)
			return -EBADMSG;
		m->versions[i].version = (uint32_t)ver;
		m->versions[i].created = created;
	}
	m->n_versions = (uint32_t)n;
	return 0;
}

int kek_meta_from_json(const char *json, size_t len, struct kek_meta *ret)
{
	struct kek_meta m = {};
	json_tokener *tok = json_tokener_new();
	json_object *o = NULL;
	const char *name, *state, *before, *acl;
	uint64_t days;
	int r = -EBADMSG;

	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	if (len > 0 && memchr(json, 0, len) == NULL)
		o = json_tokener_parse_ex(tok, json, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    tok->char_offset != (int)len || !json_object_is_type(o, json_type_object))
		goto out;
	if (get_str(o, "name", &name) < 0 || !store_name_valid(name) ||
	    get_str(o, "state", &state) < 0 || get_str(o, "state_before_delete", &before) < 0 ||
	    get_u64(o, "created", INT64_MAX, &m.created) < 0 ||
	    get_u64(o, "updated", INT64_MAX, &m.updated) < 0 ||
	    get_u64(o, "deleted_at", INT64_MAX, &m.deleted_at) < 0 ||
	    get_u64(o, "retention_days", KEK_MAX_RETENTION_DAYS, &days) < 0 ||
	    get_bool(o, "purge_protection", &m.purge_protection) < 0 ||
	    get_bool(o, "exportable", &m.exportable) < 0 ||
	    get_bool(o, "imported", &m.imported) < 0 ||
	    get_bool(o, "attest_each_use", &m.attest_each_use) < 0 || get_str(o, "acl", &acl) < 0 ||
	    parse_versions(o, &m) < 0)
		goto out;
	m.state = kek_state_from_string(state);
	m.state_before_delete = kek_state_from_string(before);
	if (m.state < 0 || m.state_before_delete < 0 || days < KEK_MIN_RETENTION_DAYS)
		goto out;
	m.retention_days = (uint32_t)days;
	strcpy(m.name, name);
	if (acl_parse(acl, m.acl, &m.n_acl) < 0)
		goto out;
	*ret = m;
	r = 0;
out:
	json_object_put(o);
	json_tokener_free(tok);
	return r;
}
