/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The worker's network part of a fleet sync (fleet.h): Locate → GetAttributes → Get against
 * the key manager over mutual TLS. It runs on the worker thread and touches no daemon state:
 * everything it learns goes into the struct fleet_pull it returns, keys in secure memory.
 * PyKMIP answers Get on a revoked key, so the state read here decides, never Get's success.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"
#include "kmip-client.h"
#include "kmip.h"
#include "secmem.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct kmip_client *, kmip_client_free);

struct session {
	struct kmip_client *client;
	uint8_t *buf; /* secmem: responses carry keys */
	size_t cap;
	struct fleet_pull *p;
};

static int pull_fail(struct fleet_pull *p, int r, const char *fmt, ...) _printf_(3, 4);
static int pull_fail(struct fleet_pull *p, int r, const char *fmt, ...)
{
	va_list ap;

	if (p->result == 0) {
		va_start(ap, fmt);
		vsnprintf(p->error, sizeof(p->error), fmt, ap);
		va_end(ap);
		p->result = r;
	}
	return r;
}

/* A refusal's text from the key manager, with anything but printable ASCII replaced. */
static void clean_text(char *s)
{
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e)
			*s = '?';
}

static int call(struct session *s, struct kmip_writer *w, enum kmip_operation op,
		const char *what, struct kmip_response *resp)
{
	int n = kmip_request_finish(w), r;

	if (n < 0)
		return pull_fail(s->p, n, "%s: request not built: %s", what, strerror(-n));
	r = kmip_client_call(s->client, s->buf, (size_t)n, s->buf, s->cap);
	if (r < 0)
		return pull_fail(s->p, r, "%s: %s: %s", kmip_client_endpoint(s->client), what,
				 strerror(-r));
	r = kmip_response_parse(s->buf, (size_t)r, op, resp);
	if (r < 0)
		return pull_fail(s->p, r, "%s: %s: malformed KMIP response",
				 kmip_client_endpoint(s->client), what);
	return 0;
}

static void request(struct session *s, struct kmip_writer *w, enum kmip_operation op)
{
	kmip_writer_init(w, s->buf, s->cap);
	kmip_request_begin(w, 1, 2, op);
}

static int locate(struct session *s, const struct fleet_map *map, size_t mi)
{
	struct kmip_writer w;
	struct kmip_response resp;
	struct kmip_iter it;
	struct kmip_item item;
	struct fleet_pull *p = s->p;
	int r;

	request(s, &w, KMIP_OP_LOCATE);
	if (map->name[0])
		kmip_put_name_attribute(&w, map->name);
	else
		kmip_put_group_attribute(&w, map->group);
	r = call(s, &w, KMIP_OP_LOCATE, "Locate", &resp);
	if (r < 0)
		return r;
	if (resp.status != KMIP_STATUS_SUCCESS) {
		clean_text(resp.message);
		return pull_fail(p, -EPERM, "%s: Locate %s '%s' refused (reason %u): %s",
				 kmip_client_endpoint(s->client), map->name[0] ? "name" : "group",
				 map->name[0] ? map->name : map->group, resp.reason, resp.message);
	}
	if (!resp.has_payload)
		return 0;
	kmip_iter_init(&it, &resp.payload);
	while (kmip_iter_next(&it, &item)) {
		if (item.tag != KMIP_TAG_UNIQUE_IDENTIFIER)
			continue;
		if (item.type != KMIP_TYPE_TEXT_STRING || item.len == 0 ||
		    item.len > KEK_KMIP_UID_MAX)
			return pull_fail(p, -EBADMSG, "%s: an object identifier longer than %u bytes",
					 kmip_client_endpoint(s->client), KEK_KMIP_UID_MAX);
		if (p->n >= FLEET_MAX_OBJECTS)
			return pull_fail(p, -E2BIG, "more than %u objects mapped", FLEET_MAX_OBJECTS);
		for (uint32_t i = 0; i < item.len; i++)
			if (item.value[i] < 0x20 || item.value[i] == 0x7f)
				return pull_fail(p, -EBADMSG, "%s: an object identifier with control "
						 "characters", kmip_client_endpoint(s->client));
		struct fleet_object *o = &p->objs[p->n++];
		memcpy(o->uid, item.value, item.len);
		o->uid[item.len] = 0;
		o->map = mi;
	}
	return 0;
}

static int get_attributes(struct session *s, struct fleet_object *o)
{
	static const char *const attrs[] = { "Name", "State", "Cryptographic Algorithm",
					     "Cryptographic Length", "Link",
					     "Application Specific Information" };
	struct kmip_writer w;
	struct kmip_response resp;
	struct kmip_item v;
	int r;

	request(s, &w, KMIP_OP_GET_ATTRIBUTES);
	kmip_put_uid(&w, o->uid);
	for (size_t i = 0; i < ELEMENTSOF(attrs); i++)
		kmip_put_attribute_name(&w, attrs[i]);
	r = call(s, &w, KMIP_OP_GET_ATTRIBUTES, "GetAttributes", &resp);
	if (r < 0)
		return r;
	if (resp.status != KMIP_STATUS_SUCCESS) {
		/* Gone between Locate and GetAttributes: as if never located. */
		if (resp.reason == KMIP_REASON_ITEM_NOT_FOUND) {
			o->state = KMIP_STATE_DESTROYED;
			return 0;
		}
		clean_text(resp.message);
		return pull_fail(s->p, -EPERM, "%s: GetAttributes %s refused (reason %u): %s",
				 kmip_client_endpoint(s->client), o->uid, resp.reason, resp.message);
	}
	if (!resp.has_payload || kmip_get_attribute(&resp.payload, "State", 0, &v) < 0 ||
	    kmip_item_enum(&v, &o->state) < 0)
		return pull_fail(s->p, -EBADMSG, "%s: object %s has no State",
				 kmip_client_endpoint(s->client), o->uid);
	if (kmip_get_attribute(&resp.payload, "Name", 0, &v) == 0 &&
	    kmip_find(&v, KMIP_TAG_NAME_VALUE, KMIP_TYPE_TEXT_STRING, &v) == 0)
		kmip_attr_text(&v, o->name, sizeof(o->name));
	if (kmip_get_attribute(&resp.payload, "Cryptographic Algorithm", 0, &v) == 0)
		(void)kmip_item_enum(&v, &o->alg);
	if (kmip_get_attribute(&resp.payload, "Cryptographic Length", 0, &v) == 0)
		(void)kmip_item_int(&v, &o->bits);
	kmip_get_replaced_object(&resp.payload, o->replaces, sizeof(o->replaces));
	return 0;
}

static int get_key(struct session *s, struct fleet_object *o)
{
	struct kmip_writer w;
	struct kmip_response resp;
	const uint8_t *key;
	size_t len;
	uint32_t alg;
	int32_t bits;
	int r;

	request(s, &w, KMIP_OP_GET);
	kmip_put_uid(&w, o->uid);
	r = call(s, &w, KMIP_OP_GET, "Get", &resp);
	if (r < 0)
		return r;
	if (resp.status != KMIP_STATUS_SUCCESS) {
		clean_text(resp.message);
		return pull_fail(s->p, -EPERM, "%s: Get %s refused (reason %u): %s",
				 kmip_client_endpoint(s->client), o->uid, resp.reason, resp.message);
	}
	if (!resp.has_payload ||
	    kmip_get_symmetric_key(&resp.payload, &alg, &bits, &key, &len) < 0)
		return pull_fail(s->p, -EBADMSG, "%s: Get %s: not a raw symmetric key",
				 kmip_client_endpoint(s->client), o->uid);
	if (alg != KMIP_ALG_AES || bits != 256 || len != 32)
		return pull_fail(s->p, -EMEDIUMTYPE, "%s: object %s is not an AES-256 key "
				 "(algorithm %u, %d bits)", kmip_client_endpoint(s->client), o->uid,
				 alg, bits);
	o->key = secmem_alloc(32);
	if (!o->key)
		return pull_fail(s->p, -ENOMEM, "out of locked memory");
	memcpy(o->key, key, 32);
	s->p->n_gets++;
	return 0;
}

static bool usable_state(uint32_t state)
{
	/* Ever activated: Active keys wrap and unwrap, Deactivated ones still unwrap (KMIP
	 * lets them decrypt); Compromised ones are shredded, so never fetched. */
	return state == KMIP_STATE_ACTIVE || state == KMIP_STATE_DEACTIVATED;
}

static bool in_strv(char *const *v, const char *s)
{
	for (; v && *v; v++)
		if (strcmp(*v, s) == 0)
			return true;
	return false;
}

/* The object's local KEK is a local one: its key is never needed. */
static bool name_taken(const struct fleet_config *cfg, const struct fleet_object *o,
		       char *const *local_only)
{
	const struct fleet_map *map = &cfg->maps[o->map];
	char local[KEK_NAME_MAX + 1];

	if (map->name[0])
		return in_strv(local_only, map->local);
	if (snprintf(local, sizeof(local), "%s%.*s", map->prefix, (int)KEK_NAME_MAX, o->name) >=
	    (int)sizeof(local))
		return false; /* not a KEK name: the sync reports it */
	return in_strv(local_only, local);
}

struct fleet_pull *fleet_pull_run(const struct fleet_config *cfg, EVP_PKEY *key,
				  const char *cert_path, char *const *known, char *const *local_only)
{
	struct kmip_tls_config tls = { .ca_file = cfg->ca, .cert_file = cert_path, .key = key,
				       .timeout_ms = (int)cfg->timeout_ms };
	struct fleet_pull *p = calloc(1, sizeof(*p));
	struct session s = { .p = p };
	char why[2048];
	int r;

	if (!p)
		return NULL;
	p->objs = calloc(FLEET_MAX_OBJECTS, sizeof(*p->objs));
	s.cap = KMIP_TTLV_MAX_MESSAGE + KMIP_TTLV_HEADER_SIZE;
	s.buf = secmem_alloc(s.cap);
	if (!p->objs || !s.buf) {
		pull_fail(p, -ENOMEM, "out of memory");
		goto out;
	}
	r = kmip_client_open(&tls, (const char *const *)cfg->endpoints, cfg->n_endpoints, &s.client,
			     why, sizeof(why));
	if (r < 0) {
		pull_fail(p, r, "no key manager reachable: %s", why);
		goto out;
	}
	snprintf(p->endpoint, sizeof(p->endpoint), "%s", kmip_client_endpoint(s.client));
	for (size_t i = 0; i < cfg->n_maps; i++)
		if (locate(&s, &cfg->maps[i], i) < 0)
			goto out;
	for (size_t i = 0; i < p->n; i++) {
		struct fleet_object *o = &p->objs[i];
		if (get_attributes(&s, o) < 0)
			goto out;
		if (usable_state(o->state) && !in_strv(known, o->uid) &&
		    !name_taken(cfg, o, local_only) && get_key(&s, o) < 0)
			goto out;
	}
out:
	s.client = kmip_client_free(s.client);
	secmem_free(s.buf);
	return p;
}

struct fleet_pull *fleet_pull_free(struct fleet_pull *p)
{
	if (!p)
		return NULL;
	for (size_t i = 0; p->objs && i < p->n; i++)
		secmem_free(p->objs[i].key);
	free(p->objs);
	free(p);
	return NULL;
}
