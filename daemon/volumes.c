/* SPDX-License-Identifier: Apache-2.0 */
/* The volumes each KEK unlocked, kept for kek disable --shred (see volumes.h). */
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dir-util.h"
#include "fileio.h"
#include "json.h"
#include "log.h"
#include "manifest.h"
#include "volumes.h"

#define VOLUME_FILE_MAX (8u * 1024u)
#define UUID_LEN 36u

/* "8-4-4-4-12" hex digits: also what makes it safe as a file name. */
static bool uuid_valid(const char *u)
{
	static const size_t dash[] = { 8, 13, 18, 23 };
	size_t d = 0;

	if (strlen(u) != UUID_LEN)
		return false;
	for (size_t i = 0; i < UUID_LEN; i++) {
		if (d < 4 && i == dash[d]) {
			if (u[i] != '-')
				return false;
			d++;
		} else if (!strchr("0123456789abcdefABCDEF", u[i]) || !u[i]) {
			return false;
		}
	}
	return true;
}

/* Reads the record of uuid (its text checked against the manifest): 0, -ENOENT, -EBADMSG,
 * or -EKEYREJECTED (not the file this CVM wrote last; *ret is still parsed). */
static int record_read(struct manager *m, const char *uuid, json_object **ret)
{
	_cleanup_free_ uint8_t *buf = NULL;
	char rel[64], why[256];
	json_object *o;
	size_t len;
	int r, k;

	snprintf(rel, sizeof(rel), "volumes/%s.json", uuid); /* uuid_valid(): it fits */
	r = fileio_read_all_at(m->state_fd, rel, VOLUME_FILE_MAX, &buf, &len);
	if (r < 0)
		return r == -EMSGSIZE ? -EBADMSG : r;
	k = manifest_check(m->manifest, rel, buf, len, why, sizeof(why));
	if (json_parse((const char *)buf, len, VOLUME_FILE_MAX, "volume record", &o, NULL, 0) < 0)
		return -EBADMSG;
	*ret = o;
	return k == -EKEYREJECTED ? k : 0;
}

/* Whether the record's "keks" array names kek. */
static bool record_has_kek(json_object *o, const char *kek)
{
	json_object *a;

	if (!json_object_object_get_ex(o, "keks", &a) || !json_object_is_type(a, json_type_array))
		return false;
	for (size_t i = 0; i < json_object_array_length(a); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(a, i)), kek) == 0)
			return true;
	return false;
}

static int record_write(struct manager *m, const char *uuid, const char *text)
{
	char rel[64];
	int r;

	if (mkdirat(m->state_fd, "volumes", 0700) < 0 && errno != EEXIST)
		return negative_errno();
	snprintf(rel, sizeof(rel), "volumes/%s.json", uuid); /* uuid_valid(): it fits */
	r = manifest_begin(m->manifest, rel, (const uint8_t *)text, strlen(text));
	if (r < 0)
		return r;
	r = fileio_write_atomic_at(m->state_fd, rel, text, strlen(text), 0600);
	if (r >= 0 && manifest_commit(m->manifest, rel) < 0)
		vhsm_log_debug("volumes: cannot commit the manifest entry of %s", rel);
	return r;
}

int volumes_record(struct manager *m, const char *kek, const char *uuid, const char *volume)
{
	_cleanup_(json_object_putp) json_object *old = NULL, *o = json_object_new_object();
	json_object *keks = json_object_new_array(), *a, *v;
	int r;

	if (!o || !keks) {
		json_object_put(keks);
		return -ENOMEM;
	}
	json_object_object_add(o, "keks", keks);
	if (!uuid_valid(uuid) || !kek || !kek[0])
		return -EINVAL;
	r = record_read(m, uuid, &old);
	bool volume_same = !volume || (old && json_object_object_get_ex(old, "volume", &v) &&
				       json_object_is_type(v, json_type_string) &&
				       strcmp(json_object_get_string(v), volume) == 0);
	if (r == 0 && record_has_kek(old, kek) && volume_same)
		return 0;
	/* The KEKs before (the latest VOLUMES_KEKS_MAX - 1 of them), then this one. */
	if (old && json_object_object_get_ex(old, "keks", &a) &&
	    json_object_is_type(a, json_type_array)) {
		size_t n = json_object_array_length(a), from = n >= VOLUMES_KEKS_MAX ? n - VOLUMES_KEKS_MAX + 1 : 0;
		for (size_t i = from; i < n; i++) {
			const char *k = json_object_get_string(json_object_array_get_idx(a, i));
			if (k && strcmp(k, kek) != 0)
				json_object_array_add(keks, json_object_new_string(k));
		}
	}
	json_object_array_add(keks, json_object_new_string(kek));
	json_object_object_add(o, "uuid", json_object_new_string(uuid));
	if (volume)
		json_object_object_add(o, "volume", json_object_new_string(volume));
	else if (old && json_object_object_get_ex(old, "volume", &v))
		json_object_object_add(o, "volume", json_object_get(v));
	return record_write(m, uuid, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
}

/* Adds the record of uuid to arr when it names kek. */
static void list_one(struct manager *m, const char *uuid, const char *kek, json_object *arr)
{
	_cleanup_(json_object_putp) json_object *o = NULL;
	json_object *e, *v;
	int r = record_read(m, uuid, &o);

	if ((r < 0 && r != -EKEYREJECTED) || !record_has_kek(o, kek))
		return;
	e = json_object_new_object();
	if (!e)
		return;
	json_object_object_add(e, "uuid", json_object_new_string(uuid));
	json_object_object_add(e, "volume", json_object_object_get_ex(o, "volume", &v) &&
					    json_object_is_type(v, json_type_string)
					    ? json_object_get(v) : NULL);
	json_object_object_add(e, "verified", json_object_new_boolean(r == 0));
	json_object_array_add(arr, e);
}

struct kek_walk {
	struct manager *m;
	const char *kek;
	json_object *arr;
};

/* Lists one volumes/UUID.json record when it names the walk's KEK. */
static int list_entry(const char *entry, size_t stem_len, void *userdata)
{
	const struct kek_walk *w = userdata;
	char uuid[UUID_LEN + 1];

	if (stem_len != UUID_LEN)
		return 0;
	memcpy(uuid, entry, UUID_LEN);
	uuid[UUID_LEN] = 0;
	if (uuid_valid(uuid))
		list_one(w->m, uuid, w->kek, w->arr);
	return 0;
}

int volumes_of_kek_json(struct manager *m, const char *kek, char **ret_text)
{
	_cleanup_(json_object_putp) json_object *arr = json_object_new_array();
	struct kek_walk w = { .m = m, .kek = kek, .arr = arr };
	int r;

	if (!arr)
		return -ENOMEM;
	r = dir_for_each_suffix(m->state_fd, "volumes", ".json", UUID_LEN, list_entry, &w);
	if (r < 0 && r != -ENOENT)
		return r;
	char *t = strdup(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
	if (!t)
		return -ENOMEM;
	*ret_text = t;
	return 0;
}
