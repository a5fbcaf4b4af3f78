/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The object table: what vhsmd's KEY_LIST, KEY_GET and KEK_LIST show the caller, as PKCS#11
 * objects (a private key, a public key and a certificate per key pair, a secret key per KEK),
 * plus the session secret keys C_UnwrapKey made. A handle is its slot's index + 1 plus
 * P11_OBJECTS_MAX times the number of times the slot was reused, and stays the same object's
 * while the module is initialised: a refresh updates entries in place by (kind, name) and marks
 * the ones vhsmd no longer lists as gone; the slot of a destroyed session object is reused
 * under a new handle, so a process may unwrap and destroy keys for as long as it runs.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct.h"
#include "json.h"
#include "p11.h"
#include "secmem.h"
#include "text.h"
#include "wire-client.h"

static struct p11_object **objects;
static size_t n_objects;
static size_t n_dropped; /* slots of destroyed session objects, free for reuse */

static size_t slot_of(CK_OBJECT_HANDLE h)
{
	return (size_t)((h - 1) % P11_OBJECTS_MAX);
}

/* A fresh object, not yet in the table. */
static struct p11_object *object_new(enum p11_obj_kind kind, const char *name)
{
	struct p11_object *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->kind = kind;
	snprintf(o->name, sizeof(o->name), "%s", name);
	o->enabled = true;
	return o;
}

static struct p11_object *object_free(struct p11_object *o)
{
	if (!o)
		return NULL;
	free(o->spki);
	free(o->cert);
	secmem_free(o->secret);
	free(o);
	return NULL;
}

/* Parses a JSON array reply (json_parse() takes objects only: wrap it as one member). */
static json_object *parse_array(const struct vhsm_wire_msg *m)
{
	static const char pre[] = "{\"v\":", post[] = "}";
	const struct vhsm_wire_field *f = vhsm_wire_get(m, VHSM_TAG_JSON);
	_cleanup_(json_object_putp) json_object *o = NULL;
	_cleanup_free_ char *buf = NULL;
	json_object *v;

	if (!f || f->len > VHSM_WIRE_MAX_TEXT)
		return NULL;
	buf = malloc(sizeof(pre) - 1 + f->len + sizeof(post));
	if (!buf)
		return NULL;
	memcpy(buf, pre, sizeof(pre) - 1);
	memcpy(buf + sizeof(pre) - 1, f->value, f->len);
	memcpy(buf + sizeof(pre) - 1 + f->len, post, sizeof(post));
	if (json_parse(buf, sizeof(pre) - 1 + f->len + sizeof(post) - 1, VHSM_WIRE_MAX_TEXT + 8,
		       "listing", &o, NULL, 0) < 0 ||
	    json_member(o, NULL, "v", json_type_array, &v, NULL, 0) < 0)
		return NULL;
	return json_object_get(v);
}

/* A listing entry's string member (lib/json's typed getter), or NULL: the daemon's listings
 * grow members the module does not know, so a table cannot list them. */
static const char *member_str(json_object *o, const char *name)
{
	const char *s;

	return json_member_string(o, NULL, name, 0, &s, NULL, NULL, 0) < 0 ? NULL : s;
}

/* "rsa3072" → RSA 3072 bits; "ec-p256" → EC 256. */
static int parse_alg(const char *alg, struct p11_object *o)
{
	static const struct {
		const char *name;
		enum p11_key_type type;
		unsigned bits;
	} algs[] = {
		{ "rsa2048", P11_KEY_RSA, 2048 }, { "rsa3072", P11_KEY_RSA, 3072 },
		{ "rsa4096", P11_KEY_RSA, 4096 }, { "ec-p256", P11_KEY_EC, 256 },
		{ "ec-p384", P11_KEY_EC, 384 },
	};

	for (size_t i = 0; alg && i < ELEMENTSOF(algs); i++)
		if (strcmp(alg, algs[i].name) == 0) {
			o->type = algs[i].type;
			o->bits = algs[i].bits;
			return 0;
		}
	return -EBADMSG;
}

static void parse_usage(json_object *e, struct p11_object *o)
{
	json_object *u;

	if (json_member(e, NULL, "usage", json_type_array, &u, NULL, 0) < 0)
		return;
	for (size_t i = 0; i < json_object_array_length(u); i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(u, i));
		o->can_sign |= s && strcmp(s, "sign") == 0;
		o->can_decrypt |= s && strcmp(s, "decrypt") == 0;
	}
}

/* KEY_GET: the key pair's id, public key and certificate into o. */
static int key_get(struct vhsm_client *c, struct p11_object *o)
{
	const struct vhsm_wire_field *id, *pk, *cert;
	int r;

	vhsm_wire_add_str(vhsm_client_begin(c, VHSM_OP_KEY_GET), VHSM_TAG_NAME, o->name);
	r = p11_call(c, VHSM_OP_KEY_GET, VHSM_CLIENT_TIMEOUT_MS);
	if (r < 0)
		return r;
	id = vhsm_wire_get(&c->msg, VHSM_TAG_KEY_ID);
	pk = vhsm_wire_get(&c->msg, VHSM_TAG_PUBKEY);
	cert = vhsm_wire_get(&c->msg, VHSM_TAG_CERT);
	if (!id || id->len == 0 || id->len > sizeof(o->id) || !pk || pk->len == 0)
		return -EPROTO;
	memcpy(o->id, id->value, id->len);
	o->id_len = id->len;
	o->spki = malloc(pk->len);
	if (!o->spki)
		return -ENOMEM;
	memcpy(o->spki, pk->value, pk->len);
	o->spki_len = pk->len;
	if (cert && cert->len > 0) {
		o->cert = malloc(cert->len);
		if (!o->cert)
			return -ENOMEM;
		memcpy(o->cert, cert->value, cert->len);
		o->cert_len = cert->len;
	}
	return 0;
}

/* Key pairs: one private-key entry each (public key and certificate derive from it). */
static int list_keys(struct vhsm_client *c, struct p11_object ***list, size_t *n)
{
	_cleanup_(json_object_putp) json_object *a = NULL;
	size_t len;
	int r;

	vhsm_client_begin(c, VHSM_OP_KEY_LIST);
	r = p11_call(c, VHSM_OP_KEY_LIST, VHSM_CLIENT_TIMEOUT_MS);
	if (r == -EOPNOTSUPP)
		return 0; /* a vhsmd without key pairs: its KEKs still show */
	if (r < 0)
		return r;
	a = parse_array(&c->msg);
	if (!a)
		return -EPROTO;
	len = json_object_array_length(a);
	for (size_t i = 0; i < len && *n < P11_OBJECTS_MAX / 4; i++) {
		json_object *e = json_object_array_get_idx(a, i);
		const char *name = member_str(e, "name"), *state = member_str(e, "state");
		struct p11_object *o;
		if (!name || !text_key_name_valid(name) || !state || strcmp(state, "deleted") == 0)
			continue;
		o = object_new(P11_OBJ_PRIVATE, name);
		if (!o)
			return -ENOMEM;
		(*list)[(*n)++] = o;
		o->enabled = strcmp(state, "enabled") == 0;
		if (parse_alg(member_str(e, "alg"), o) < 0)
			return -EPROTO;
		parse_usage(e, o);
		r = key_get(c, o);
		if (r == -ENOENT || r == -EPERM) {
			object_free(o); /* deleted or refused meanwhile */
			(*n)--;
			continue;
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/* KEKs the caller may see: AES-256 secret keys, CKA_ID = the name's bytes. */
static int list_keks(struct vhsm_client *c, struct p11_object ***list, size_t *n)
{
	_cleanup_(json_object_putp) json_object *a = NULL;
	size_t len;
	int r;

	vhsm_client_begin(c, VHSM_OP_KEK_LIST);
	r = p11_call(c, VHSM_OP_KEK_LIST, VHSM_CLIENT_TIMEOUT_MS);
	if (r < 0)
		return r;
	a = parse_array(&c->msg);
	if (!a)
		return -EPROTO;
	len = json_object_array_length(a);
	for (size_t i = 0; i < len && *n < P11_OBJECTS_MAX / 2; i++) {
		json_object *k, *e = json_object_array_get_idx(a, i);
		const char *name, *state;
		struct p11_object *o;
		if (json_member(e, NULL, "kek", json_type_object, &k, NULL, 0) < 0)
			continue;
		name = member_str(k, "name");
		state = member_str(k, "state");
		if (!name || !text_key_name_valid(name) || !state ||
		    (strcmp(state, "enabled") != 0 && strcmp(state, "disabled") != 0))
			continue;
		o = object_new(P11_OBJ_KEK, name);
		if (!o)
			return -ENOMEM;
		o->type = P11_KEY_AES;
		o->bits = 256;
		o->enabled = strcmp(state, "enabled") == 0;
		o->id_len = strlen(name) < sizeof(o->id) ? strlen(name) : sizeof(o->id);
		memcpy(o->id, name, o->id_len);
		(*list)[(*n)++] = o;
	}
	return 0;
}

/* Module lock held: the entry of the same kind and name, or NULL. */
static struct p11_object *table_find(enum p11_obj_kind kind, const char *name)
{
	for (size_t i = 0; i < n_objects; i++)
		if (objects[i]->kind == kind && objects[i]->session == 0 &&
		    strcmp(objects[i]->name, name) == 0)
			return objects[i];
	return NULL;
}

/* Module lock held: appends o (taking it) and returns its handle, 0 when the table is full. */
static CK_OBJECT_HANDLE table_add(struct p11_object *o)
{
	struct p11_object **t;

	for (size_t i = 0; n_dropped && i < n_objects; i++)
		if (objects[i]->session && objects[i]->gone) {
			o->handle = objects[i]->handle + P11_OBJECTS_MAX;
			object_free(objects[i]);
			objects[i] = o;
			n_dropped--;
			return o->handle;
		}
	if (n_objects >= P11_OBJECTS_MAX)
		return 0;
	t = realloc(objects, (n_objects + 1) * sizeof(*t));
	if (!t)
		return 0;
	objects = t;
	objects[n_objects++] = o;
	o->handle = n_objects;
	return o->handle;
}

/* Module lock held: puts one fresh entry (taking it) into the table, updating in place. */
static void table_publish(struct p11_object *o)
{
	struct p11_object *old = table_find(o->kind, o->name);

	if (!old) {
		if (table_add(o) == 0)
			object_free(o);
		return;
	}
	o->handle = old->handle;
	objects[slot_of(old->handle)] = o;
	object_free(old);
}

/* Module lock held: derives the public-key and certificate entries of a private key. */
static void publish_pair(const struct p11_object *priv)
{
	for (int k = P11_OBJ_PUBLIC; k <= P11_OBJ_CERT; k++) {
		struct p11_object *o;
		if (k == P11_OBJ_CERT && !priv->cert)
			continue;
		o = object_new((enum p11_obj_kind)k, priv->name);
		if (!o)
			continue;
		*o = *priv;
		o->kind = (enum p11_obj_kind)k;
		o->spki = malloc(priv->spki_len);
		o->cert = priv->cert ? malloc(priv->cert_len) : NULL;
		if (!o->spki || (priv->cert && !o->cert)) {
			object_free(o);
			continue;
		}
		memcpy(o->spki, priv->spki, priv->spki_len);
		if (priv->cert)
			memcpy(o->cert, priv->cert, priv->cert_len);
		table_publish(o);
	}
}

CK_RV p11_objects_refresh(struct vhsm_client *c)
{
	_cleanup_free_ struct p11_object **list = calloc(P11_OBJECTS_MAX, sizeof(*list));
	size_t n = 0;
	int r;

	if (!list)
		return CKR_HOST_MEMORY;
	r = list_keys(c, &list, &n);
	if (r == 0)
		r = list_keks(c, &list, &n);
	if (r < 0) {
		for (size_t i = 0; i < n; i++)
			object_free(list[i]);
		return p11_rv_from_errno(r);
	}
	p11_lock();
	for (size_t i = 0; i < n_objects; i++)
		if (objects[i]->session == 0)
			objects[i]->gone = true;
	for (size_t i = 0; i < n; i++) {
		if (list[i]->kind == P11_OBJ_PRIVATE)
			publish_pair(list[i]);
		table_publish(list[i]);
	}
	p11_unlock();
	return CKR_OK;
}

CK_RV p11_objects_update(void)
{
	struct vhsm_client *c = NULL;
	int r = p11_conn_get(&c);
	CK_RV rv = r < 0 ? p11_rv_from_errno(r) : p11_objects_refresh(c);

	p11_conn_put(c);
	return rv;
}

struct p11_object *p11_object_find(CK_OBJECT_HANDLE h)
{
	struct p11_object *o;

	if (h == 0 || slot_of(h) >= n_objects)
		return NULL;
	o = objects[slot_of(h)];
	return o->handle == h && !o->gone ? o : NULL;
}

CK_RV p11_objects_visible(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE **ret, size_t *ret_n)
{
	CK_OBJECT_HANDLE *v = calloc(n_objects + 1, sizeof(*v));
	size_t n = 0;

	if (!v)
		return CKR_HOST_MEMORY;
	for (size_t i = 0; i < n_objects; i++) {
		const struct p11_object *o = objects[i];
		bool private = o->kind == P11_OBJ_PRIVATE || o->kind == P11_OBJ_KEK ||
			       o->kind == P11_OBJ_SESSION_SECRET;
		if (o->gone || (o->session && o->session != session) ||
		    (private && !p11_logged_in()))
			continue;
		v[n++] = o->handle;
	}
	*ret = v;
	*ret_n = n;
	return CKR_OK;
}

CK_RV p11_object_add_secret(CK_SESSION_HANDLE session, uint8_t *secret, size_t len,
			    const char *label, bool sensitive, bool extractable,
			    CK_OBJECT_HANDLE *ret)
{
	struct p11_object *o = object_new(P11_OBJ_SESSION_SECRET, label);
	CK_OBJECT_HANDLE h;

	if (!o) {
		secmem_free(secret);
		return CKR_HOST_MEMORY;
	}
	o->session = session;
	o->type = P11_KEY_AES;
	o->bits = (unsigned)len * 8;
	o->secret = secret;
	o->secret_len = len;
	o->sensitive = sensitive;
	o->extractable = extractable;
	h = table_add(o);
	if (h == 0) {
		object_free(o);
		return CKR_DEVICE_MEMORY;
	}
	*ret = h;
	return CKR_OK;
}

void p11_object_drop(struct p11_object *o)
{
	if (o->session && !o->gone)
		n_dropped++;
	o->gone = true;
	if (o->secret)
		o->secret = secmem_free(o->secret);
}

void p11_objects_drop_session(CK_SESSION_HANDLE session)
{
	for (size_t i = 0; i < n_objects; i++)
		if (objects[i]->session && (session == 0 || objects[i]->session == session))
			p11_object_drop(objects[i]);
}

void p11_objects_free(bool abandon)
{
	for (size_t i = 0; i < n_objects; i++)
		if (!abandon)
			object_free(objects[i]);
	if (!abandon)
		free(objects);
	objects = NULL;
	n_objects = 0;
	n_dropped = 0;
}
