/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Volume bindings and the crypttab key socket (docs/boot-unlock.md).
 *
 * systemd-cryptsetup reads a key file that is an AF_UNIX stream socket by connecting from the
 * abstract address "\0<random hex>/cryptsetup/<volume>" and reading until EOF. vhsmd cannot
 * read LUKS headers (it runs as user vhsm without device access), so `vhsmctl luks enroll
 * --volume NAME` records the token material for NAME in <state>/luks/NAME.json:
 *   {"volume":NAME,"uuid":UUID,"sealed_kek":B64,"wrapped_secret":B64}
 * The file is public (no secret in it) but lives in the daemon's private state directory.
 * A root peer connecting for a bound volume gets the keyslot passphrase (base64 of the secret,
 * no newline) under the same rules as LUKS_UNLOCK; anyone else gets EOF and an audit record.
 */
#include <dirent.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "audit.h"
#include "ct.h"
#include "fileio.h"
#include "json.h"
#include "log.h"
#include "luks.h"
#include "ops.h"
#include "secmem.h"
#include "store.h"
#include "volumes.h"

#define BINDING_FILE_MAX 8192u

static int binding_dir(struct manager *m, char *buf, size_t len)
{
	snprintf(buf, len, "%s/luks", m->state_dir);
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return negative_errno();
	return 0;
}

static int binding_write(struct manager *m, const char *volume, const char *uuid,
			 const uint8_t *sealed, size_t sealed_len, const uint8_t *wrapped,
			 size_t wrapped_len)
{
	_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
	_cleanup_free_ char *s = malloc(CT_BASE64_LEN(sealed_len) + 1);
	_cleanup_free_ char *w = malloc(CT_BASE64_LEN(wrapped_len) + 1);
	char path[4096];
	const char *text;
	int r;

	if (!o || !s || !w)
		return -ENOMEM;
	r = binding_dir(m, path, sizeof(path));
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
	snprintf(path, sizeof(path), "%s/luks/%s.json", m->state_dir, volume);
	return fileio_write_atomic(path, text, strlen(text), 0600);
}

struct binding {
	char uuid[LUKS_UUID_MAX + 1];
	struct luks_material mat;
};

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

static int binding_parse(const char *text, size_t len, const char *volume, struct binding *ret,
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

static int binding_read(struct manager *m, const char *volume, struct binding *ret)
{
	_cleanup_free_ uint8_t *data = NULL;
	char path[4096], err[JSON_ERR_MAX] = "";
	size_t len;
	int r;

	if (!store_name_valid(volume))
		return -EINVAL;
	snprintf(path, sizeof(path), "%s/luks/%s.json", m->state_dir, volume);
	r = fileio_read_all(path, BINDING_FILE_MAX, &data, &len);
	if (r < 0)
		return r;
	r = binding_parse((const char *)data, len, volume, ret, err, sizeof(err));
	if (r < 0)
		vhsm_log_debug("binding of volume %s: %s", volume, err);
	return r;
}

/* Calls fn for every bound volume whose UUID is uuid; stops at the first error. */
static int bindings_of(struct manager *m, const char *uuid,
		       int (*fn)(struct manager *m, const char *volume, const void *userdata),
		       const void *userdata, unsigned *ret_n)
{
	char path[4096];
	struct dirent *de;
	struct binding b;
	DIR *d;
	int r = 0;

	*ret_n = 0;
	r = binding_dir(m, path, sizeof(path));
	if (r < 0)
		return r;
	d = opendir(path);
	if (!d)
		return negative_errno();
	while (r >= 0 && (de = readdir(d))) {
		size_t l = strlen(de->d_name);
		char volume[KEK_NAME_MAX + 1];
		if (l <= 5 || l - 5 > KEK_NAME_MAX || strcmp(de->d_name + l - 5, ".json") != 0)
			continue;
		snprintf(volume, sizeof(volume), "%.*s", (int)(l - 5), de->d_name);
		if (binding_read(m, volume, &b) < 0 || strcmp(b.uuid, uuid) != 0)
			continue;
		r = fn(m, volume, userdata);
		if (r >= 0)
			(*ret_n)++;
	}
	closedir(d);
	return r;
}

static int update_one(struct manager *m, const char *volume, const void *userdata)
{
	const struct luks_material *mat = userdata;
	struct binding b;
	int r = binding_read(m, volume, &b);

	if (r < 0)
		return r;
	return binding_write(m, volume, b.uuid, mat->sealed, mat->sealed_len, mat->wrapped,
			     mat->wrapped_len);
}

int luks_bindings_update(struct manager *m, const char *uuid, const struct luks_material *mat)
{
	unsigned n;

	return bindings_of(m, uuid, update_one, mat, &n);
}

static int remove_one(struct manager *m, const char *volume, const void *userdata)
{
	char path[4096];

	(void)userdata;
	snprintf(path, sizeof(path), "%s/luks/%s.json", m->state_dir, volume);
	if (unlink(path) < 0)
		return negative_errno();
	return fileio_fsync_parent(path);
}

int op_luks_bind(struct op_ctx *c)
{
	_cleanup_secmem_ uint8_t *secret = NULL;
	const struct vhsm_wire_field *sealed, *wrapped;
	char volume[KEK_NAME_MAX + 1], uuid[LUKS_UUID_MAX + 1];
	struct wrap_info wi;
	int r;

	if (vhsm_wire_get_str(c->req, VHSM_TAG_VOLUME, volume, sizeof(volume)) < 0 ||
	    !store_name_valid(volume))
		return op_fail(c, -EINVAL, "volume names are 1..64 characters of A-Z a-z 0-9 _ . -");
	if (vhsm_wire_get_str(c->req, VHSM_TAG_UUID, uuid, sizeof(uuid)) < 0)
		return op_fail(c, -EINVAL, "a LUKS UUID is required");
	sealed = vhsm_wire_get(c->req, VHSM_TAG_SEALED_KEK);
	wrapped = vhsm_wire_get(c->req, VHSM_TAG_WRAPPED_SECRET);
	if (!sealed || !wrapped || sealed->len > LUKS_TOKEN_SEALED_MAX ||
	    wrapped->len > LUKS_TOKEN_WRAPPED_MAX)
		return op_fail(c, -EINVAL, "SEALED_KEK and WRAPPED_SECRET are required");
	/* Only material that unlocks now is recorded. */
	r = luks_unseal_secret(c->m, sealed->value, sealed->len, wrapped->value, wrapped->len, uuid,
			       &wi, &secret, c->why, sizeof(c->why));
	if (r < 0)
		return r;
	snprintf(c->key, sizeof(c->key), "%.64s", wi.kek_name);
	c->version = wi.kek_version;
	r = binding_write(c->m, volume, uuid, sealed->value, sealed->len, wrapped->value,
			  wrapped->len);
	if (r < 0)
		return op_fail(c, r, "cannot record the binding of %s: %s", volume, strerror(-r));
	return 0;
}

int op_luks_unbind(struct op_ctx *c)
{
	char uuid[LUKS_UUID_MAX + 1];
	unsigned n = 0;
	int r;

	if (vhsm_wire_get_str(c->req, VHSM_TAG_UUID, uuid, sizeof(uuid)) < 0)
		return op_fail(c, -EINVAL, "a LUKS UUID is required");
	r = bindings_of(c->m, uuid, remove_one, NULL, &n);
	if (r < 0)
		return op_fail(c, r, "cannot remove bindings: %s", strerror(-r));
	vhsm_wire_add_u32(c->reply, VHSM_TAG_SIZE, n);
	return 0;
}

/*
 * The volume from systemd-cryptsetup's abstract peer address "\0<hex>/cryptsetup/<volume>".
 * Returns 0, or -EBADMSG for any other address (other mechanisms' variants included).
 */
int luks_keysock_volume(const struct sockaddr_un *sa, socklen_t len, char *volume, size_t vlen)
{
	static const char mid[] = "/cryptsetup/";
	size_t off = offsetof(struct sockaddr_un, sun_path), n, i = 1;
	const char *p = sa->sun_path;

	if (len <= off + 1 || p[0] != '\0')
		return -EBADMSG;
	n = (size_t)len - off;
	while (i < n && ((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
		i++;
	if (i == 1 || n - i <= sizeof(mid) - 1 || memcmp(p + i, mid, sizeof(mid) - 1) != 0)
		return -EBADMSG;
	i += sizeof(mid) - 1;
	if (n - i >= vlen || memchr(p + i, '\0', n - i))
		return -EBADMSG;
	memcpy(volume, p + i, n - i);
	volume[n - i] = '\0';
	return store_name_valid(volume) ? 0 : -EBADMSG;
}

/* Answers one identified peer; returns 0 or -errno with why (for the audit record). */
static int keysock_answer(struct manager *m, int fd, const struct peer *p, const char *volume,
			  char *kek, size_t keklen, uint32_t *version, char *why, size_t whylen)
{
	_cleanup_secmem_ uint8_t *secret = NULL;
	_cleanup_secmem_ char *pass = NULL;
	struct binding b;
	struct wrap_info wi;
	int r;

	if (p->uid != 0) {
		snprintf(why, whylen, "volume %s: uid %u is not root", volume, (unsigned)p->uid);
		return -EPERM;
	}
	r = binding_read(m, volume, &b);
	if (r == -ENOENT) {
		snprintf(why, whylen, "volume %s is not bound (vhsmctl luks enroll --volume)", volume);
		return -ENOKEY;
	}
	if (r < 0) {
		snprintf(why, whylen, "binding of volume %s is unreadable", volume);
		return r;
	}
	r = luks_unseal_secret(m, b.mat.sealed, b.mat.sealed_len, b.mat.wrapped, b.mat.wrapped_len,
			       b.uuid, &wi, &secret, why, whylen);
	if (r == 0 || r == -EKEYREVOKED || r == -EKEYREJECTED || r == -ENOKEY) {
		snprintf(kek, keklen, "%.64s", wi.kek_name);
		*version = wi.kek_version;
	}
	if (r < 0)
		return r;
	pass = secmem_alloc(LUKS_PASSPHRASE_LEN + 1);
	if (!pass)
		return -ENOMEM;
	ct_base64_encode(pass, secret, LUKS_SECRET_SIZE);
	if (send(fd, pass, LUKS_PASSPHRASE_LEN, MSG_NOSIGNAL) != LUKS_PASSPHRASE_LEN) {
		r = negative_errno();
		snprintf(why, whylen, "volume %s: sending the key failed", volume);
		return r;
	}
	snprintf(why, whylen, "volume %s", volume);
	(void)volumes_record(m, kek, b.uuid, volume); /* for kek disable --shred */
	return 0;
}

int luks_keysock_accept(struct manager *m, int listen_fd)
{
	_cleanup_close_ int fd = -EBADF;
	struct sockaddr_un sa = {};
	socklen_t salen = sizeof(sa), clen = sizeof(struct ucred);
	struct ucred uc;
	struct peer p = {};
	char volume[KEK_NAME_MAX + 1] = "", kek[KEK_NAME_MAX + 1] = "", why[512] = "";
	uint32_t version = 0;
	int r;

	fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &clen) < 0 || clen != sizeof(uc))
		return 0;
	p.pid = uc.pid;
	p.uid = uc.uid;
	p.gid = uc.gid;
	p.admin = uc.uid == 0;
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &(struct timeval){ .tv_sec = 5 },
			 sizeof(struct timeval));
	if (getpeername(fd, (struct sockaddr *)&sa, &salen) < 0 ||
	    luks_keysock_volume(&sa, salen, volume, sizeof(volume)) < 0) {
		snprintf(why, sizeof(why), "peer address is not a systemd-cryptsetup key request");
		r = -EBADMSG;
	} else {
		m->request_seq++; /* a request of its own for attest.c's "each use" */
		r = keysock_answer(m, fd, &p, volume, kek, sizeof(kek), &version, why, sizeof(why));
	}
	struct audit_record rec = { .event = "luks.keysock", .key = kek[0] ? kek : NULL,
				    .version = version, .peer = &p, .result = r, .reason = why };
	(void)audit_log(m, &rec);
	(void)shutdown(fd, SHUT_RDWR);
	return 0;
}
