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

/* A record's members; the strings and the list are borrowed from root. */
struct volume_record {
	json_object *root;
	json_object *keks;             /* list of strings (checked in record_parse) */
	const char *uuid;
	const char *volume;            /* NULL: not named */
};

static void volume_record_done(struct volume_record *v)
{
	json_object_put(v->root);
	*v = (struct volume_record){};
}

static const struct json_field volume_record_table[] = {
	{ "keks", json_type_array, json_dispatch_borrow, offsetof(struct volume_record, keks),
	  JSON_MANDATORY, 0, 0 },
	{ "uuid", json_type_string, json_dispatch_string, offsetof(struct volume_record, uuid),
	  JSON_MANDATORY, UUID_LEN, UUID_LEN },
	{ "volume", json_type_string, json_dispatch_string, offsetof(struct volume_record, volume),
	  0, 1, VOLUME_FILE_MAX },
	{}
};

/* Parses a record's text with the strict layer (member named in why). 0 or -EBADMSG. */
static int record_parse(const uint8_t *buf, size_t len, struct volume_record *ret, char *why,
			size_t whylen)
{
	_cleanup_(json_object_putp) json_object *o = NULL;
	struct volume_record v = {};
	int r;

	r = json_parse((const char *)buf, len, VOLUME_FILE_MAX, "volume record", &o, why, whylen);
	if (r < 0)
		return -EBADMSG;
	r = json_dispatch(o, NULL, volume_record_table, &v, why, whylen);
	if (r < 0)
		return -EBADMSG;
	for (size_t i = 0; i < json_object_array_length(v.keks); i++) {
		json_object *k = json_object_array_get_idx(v.keks, i);
		if (!json_object_is_type(k, json_type_string))
			return json_fail(why, whylen, -EBADMSG, "keks[%zu]: expected a string", i);
	}
	v.root = TAKE_PTR(o);
	*ret = v;
	return 0;
}

/* Reads the record of uuid (its text checked against the manifest): 0, -ENOENT, -EBADMSG,
 * or -EKEYREJECTED (not the file this CVM wrote last; *ret is still parsed). */
static int record_read(struct manager *m, const char *uuid, struct volume_record *ret)
{
	_cleanup_free_ uint8_t *buf = NULL;
	char rel[64], why[256];
	size_t len;
	int r, k;

	snprintf(rel, sizeof(rel), "volumes/%s.json", uuid); /* uuid_valid(): it fits */
	r = fileio_read_all_at(m->state_fd, rel, VOLUME_FILE_MAX, &buf, &len);
	if (r < 0)
		return r == -EMSGSIZE ? -EBADMSG : r;
	k = manifest_check(m->manifest, rel, buf, len, why, sizeof(why));
	r = record_parse(buf, len, ret, why, sizeof(why));
	if (r < 0) {
		vhsm_log_debug("volumes: %s: %s", rel, why);
		return r;
	}
	return k == -EKEYREJECTED ? k : 0;
}

/* Whether the record's "keks" list names kek. */
static bool record_has_kek(const struct volume_record *v, const char *kek)
{
	for (size_t i = 0; v->keks && i < json_object_array_length(v->keks); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(v->keks, i)), kek) == 0)
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
	_cleanup_(volume_record_done) struct volume_record old = {};
	_cleanup_(json_object_putp) json_object *o = json_object_new_object();
	json_object *keks = json_object_new_array();
	int r;

	if (!o || !keks) {
		json_object_put(keks);
		return -ENOMEM;
	}
	json_object_object_add(o, "keks", keks);
	if (!uuid_valid(uuid) || !kek || !kek[0])
		return -EINVAL;
	r = record_read(m, uuid, &old);
	bool volume_same = !volume || (old.volume && strcmp(old.volume, volume) == 0);
	if (r == 0 && record_has_kek(&old, kek) && volume_same)
		return 0;
	/* The KEKs before (the latest VOLUMES_KEKS_MAX - 1 of them), then this one. */
	if (old.keks) {
		size_t n = json_object_array_length(old.keks),
		       from = n >= VOLUMES_KEKS_MAX ? n - VOLUMES_KEKS_MAX + 1 : 0;
		for (size_t i = from; i < n; i++) {
			const char *k = json_object_get_string(json_object_array_get_idx(old.keks, i));
			if (strcmp(k, kek) != 0)
				json_object_array_add(keks, json_object_new_string(k));
		}
	}
	json_object_array_add(keks, json_object_new_string(kek));
	json_object_object_add(o, "uuid", json_object_new_string(uuid));
	if (volume)
		json_object_object_add(o, "volume", json_object_new_string(volume));
	else if (old.volume)
		json_object_object_add(o, "volume", json_object_new_string(old.volume));
	return record_write(m, uuid, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
}

/* Adds the record of uuid to arr when it names kek. */
static void list_one(struct manager *m, const char *uuid, const char *kek, json_object *arr)
{
	_cleanup_(volume_record_done) struct volume_record v = {};
	json_object *e;
	int r = record_read(m, uuid, &v);

	if ((r < 0 && r != -EKEYREJECTED) || !record_has_kek(&v, kek))
		return;
	e = json_object_new_object();
	if (!e)
		return;
	json_object_object_add(e, "uuid", json_object_new_string(uuid));
	json_object_object_add(e, "volume", v.volume ? json_object_new_string(v.volume) : NULL);
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
