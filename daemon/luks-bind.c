/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Volume bindings for the crypttab key socket (docs/boot-unlock.md).
 *
 * systemd-cryptsetup reads a key file that is an AF_UNIX stream socket by connecting from the
 * abstract address "\0<random hex>/cryptsetup/<volume>" and reading until EOF. vhsmd cannot
 * read LUKS headers (it runs as user vhsm without device access), so `vhsmctl luks enroll
 * --volume NAME` records the token material for NAME in <state>/luks/NAME.json:
 *   {"volume":NAME,"uuid":UUID,"sealed_kek":B64,"wrapped_secret":B64}
 * The file is public (no secret in it) but lives in the daemon's private state directory.
 * The key socket (luks-keysock.c) answers from these files; LUKS_BIND, LUKS_UNBIND and
 * LUKS_REWRAP (op-luks.c) write them.
 */
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ct.h"
#include "dir-util.h"
#include "fileio.h"
#include "json.h"
#include "kek-meta.h"
#include "log.h"
#include "luks-bind.h"
#include "store-file.h"

#define BINDING_FILE_MAX 8192u

/* Creates <state>/luks (0700) when it is not there. */
static int binding_dir(struct manager *m)
{
	if (mkdirat(m->state_fd, "luks", 0700) < 0 && errno != EEXIST)
		return negative_errno();
	return 0;
}

int luks_binding_write(struct manager *m, const char *volume, const char *uuid,
		       const uint8_t *sealed, size_t sealed_len, const uint8_t *wrapped,
		       size_t wrapped_len)
{
	_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
	_cleanup_free_ char *s = malloc(CT_BASE64_LEN(sealed_len) + 1);
	_cleanup_free_ char *w = malloc(CT_BASE64_LEN(wrapped_len) + 1);
	char rel[STORE_REL_MAX];
	const char *text;
	int r;

	if (!o || !s || !w)
		return -ENOMEM;
	r = store_rel("luks", volume, ".json", rel);
	if (r < 0)
		return r;
	r = binding_dir(m);
	if (r < 0)
		return r;
	ct_base64_encode(s, sealed, sealed_len);
	ct_base64_encode(w, wrapped, wrapped_len);
	json_object_object_add(o, "volume", json_object_new_string(volume));
	json_object_object_add(o, "uuid", json_object_new_string(uuid));
	json_object_object_add(o, "sealed_kek", json_object_new_string(s));
	json_object_object_add(o, "wrapped_secret", json_object_new_string(w));
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	if (!text)
		return -ENOMEM;
	return fileio_write_atomic_at(m->state_fd, rel, text, strlen(text), 0600);
}

/* The binding file's members as json_dispatch() leaves them; strings borrowed from the tree. */
struct binding_json {
	char volume[KEK_NAME_MAX + 1];
	char uuid[LUKS_UUID_MAX + 1];
	const char *sealed_kek, *wrapped_secret;
};

#define BINDING_FIELD(n, fn, m, lo, hi)                                                           \
	{ n, json_type_string, fn, offsetof(struct binding_json, m), JSON_MANDATORY, lo, hi }
static const struct json_field binding_table[] = {
	BINDING_FIELD("volume", json_dispatch_key_name, volume, 0, 0),
	BINDING_FIELD("uuid", json_dispatch_strbuf, uuid, 1, LUKS_UUID_MAX),
	BINDING_FIELD("sealed_kek", json_dispatch_string, sealed_kek, 1,
		      CT_BASE64_LEN(LUKS_TOKEN_SEALED_MAX)),
	BINDING_FIELD("wrapped_secret", json_dispatch_string, wrapped_secret, 1,
		      CT_BASE64_LEN(LUKS_TOKEN_WRAPPED_MAX)),
	{}
};

static int b64_member(const char *s, const char *key, uint8_t *out, size_t cap,
		      size_t *ret_len, char *err, size_t errlen)
{
	int r = ct_base64_decode(out, cap, s, strlen(s));

	if (r <= 0)
		return json_fail(err, errlen, -EBADMSG, "%s: not base64 of a blob", key);
	*ret_len = (size_t)r;
	return 0;
}

static int binding_parse(const char *text, size_t len, const char *volume, struct luks_binding *ret,
			 char *err, size_t errlen)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	struct binding_json j = {};
	int r;

	r = json_parse(text, len, BINDING_FILE_MAX, "binding file", &o, err, errlen);
	if (r < 0)
		return r;
	r = json_dispatch(o, NULL, binding_table, &j, err, errlen);
	if (r < 0)
		return r;
	if (strcmp(j.volume, volume) != 0) /* a file renamed to pose as another volume */
		return json_fail(err, errlen, -EBADMSG, "volume: '%s', not the file's name",
				 j.volume);
	memcpy(ret->uuid, j.uuid, sizeof(ret->uuid));
	r = b64_member(j.sealed_kek, "sealed_kek", ret->mat.sealed, sizeof(ret->mat.sealed),
		       &ret->mat.sealed_len, err, errlen);
	if (r < 0)
		return r;
	return b64_member(j.wrapped_secret, "wrapped_secret", ret->mat.wrapped,
			  sizeof(ret->mat.wrapped), &ret->mat.wrapped_len, err, errlen);
}

int luks_binding_read(struct manager *m, const char *volume, struct luks_binding *ret)
{
	_cleanup_free_ uint8_t *data = NULL;
	char rel[STORE_REL_MAX], err[JSON_ERR_MAX] = "";
	size_t len;
	int r;

	r = store_rel("luks", volume, ".json", rel);
	if (r < 0)
		return r;
	r = fileio_read_all_at(m->state_fd, rel, BINDING_FILE_MAX, &data, &len);
	if (r < 0)
		return r;
	r = binding_parse((const char *)data, len, volume, ret, err, sizeof(err));
	if (r < 0)
		vhsm_log_debug("binding of volume %s: %s", volume, err);
	return r;
}

struct binding_walk {
	struct manager *m;
	const char *uuid;
	int (*fn)(struct manager *m, const char *volume, const void *userdata);
	const void *userdata;
	unsigned n;
};

/* Calls the walk's fn for luks/VOLUME.json when it binds the walk's UUID. */
static int binding_one(const char *entry, size_t stem_len, void *userdata)
{
	struct binding_walk *w = userdata;
	char volume[KEK_NAME_MAX + 1];
	struct luks_binding b;
	int r;

	snprintf(volume, sizeof(volume), "%.*s", (int)stem_len, entry);
	if (luks_binding_read(w->m, volume, &b) < 0 || strcmp(b.uuid, w->uuid) != 0)
		return 0;
	r = w->fn(w->m, volume, w->userdata);
	if (r >= 0)
		w->n++;
	return r < 0 ? r : 0;
}

/* Calls fn for every bound volume whose UUID is uuid; stops at the first error. */
static int bindings_of(struct manager *m, const char *uuid,
		       int (*fn)(struct manager *m, const char *volume, const void *userdata),
		       const void *userdata, unsigned *ret_n)
{
	struct binding_walk w = { .m = m, .uuid = uuid, .fn = fn, .userdata = userdata };
	int r;

	*ret_n = 0;
	r = binding_dir(m);
	if (r < 0)
		return r;
	r = dir_for_each_suffix(m->state_fd, "luks", ".json", KEK_NAME_MAX, binding_one, &w);
	*ret_n = w.n;
	return r;
}

static int update_one(struct manager *m, const char *volume, const void *userdata)
{
	const struct luks_material *mat = userdata;
	struct luks_binding b;
	int r = luks_binding_read(m, volume, &b);

	if (r < 0)
		return r;
	return luks_binding_write(m, volume, b.uuid, mat->sealed, mat->sealed_len, mat->wrapped,
			     mat->wrapped_len);
}

int luks_bindings_update(struct manager *m, const char *uuid, const struct luks_material *mat)
{
	unsigned n;

	return bindings_of(m, uuid, update_one, mat, &n);
}

static int remove_one(struct manager *m, const char *volume, const void *userdata)
{
	char rel[STORE_REL_MAX];
	int r;

	(void)userdata;
	r = store_rel("luks", volume, ".json", rel);
	if (r < 0)
		return r;
	return fileio_remove_at(m->state_fd, rel);
}

int luks_bindings_remove(struct manager *m, const char *uuid, unsigned *ret_n)
{
	unsigned n = 0;
	int r = bindings_of(m, uuid, remove_one, NULL, &n);

	if (r < 0)
		return r;
	*ret_n = n;
	return 0;
}
