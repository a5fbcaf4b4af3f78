/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The in-memory shield (shield.h). Each entry's keys are AES-256-GCM encrypted under
 * SHA-256 of the prekey, with a counter nonce and the KEK name as AAD; the ciphertext is not
 * secret and lives in ordinary memory. The table holds exactly the entries in use: it grows
 * by doubling and a clear frees it, so an idle daemon keeps no table at all.
 */
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "aead.h"
#include "hkdf.h"
#include "log.h"
#include "secmem.h"
#include "shield.h"

#define SHIELD_PREKEY_SIZE 4096u

struct shield_entry {
	char name[KEK_NAME_MAX + 1];
	struct kek_meta meta;
	struct seal_params params;
	struct seal_binding binding;
	uint8_t nonce[AEAD_GCM_NONCE_SIZE];
	uint8_t tag[AEAD_GCM_TAG_SIZE];
	size_t len;
	uint8_t *ct; /* malloc'ed: ciphertext is not secret */
};

struct shield {
	uint8_t *prekey; /* secmem */
	size_t n, cap;
	struct shield_entry *e; /* cap entries, n in use */
	uint64_t counter;
};

int shield_new(struct shield **ret)
{
	struct shield *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->prekey = secmem_alloc(SHIELD_PREKEY_SIZE);
	if (!s->prekey || RAND_priv_bytes(s->prekey, SHIELD_PREKEY_SIZE) != 1) {
		secmem_free(s->prekey);
		free(s);
		return -ENOMEM;
	}
	*ret = s;
	return 0;
}

void shield_clear(struct shield *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->e[i].ct);
	free(s->e);
	s->e = NULL;
	s->n = s->cap = 0;
}

struct shield *shield_free(struct shield *s)
{
	if (s) {
		shield_clear(s);
		secmem_free(s->prekey);
		free(s);
	}
	return NULL;
}

static int shield_key(struct shield *s, uint8_t key[static 32])
{
	return hkdf_sha256_digest(s->prekey, SHIELD_PREKEY_SIZE, NULL, 0, NULL, 0, key);
}

static int shield_crypt(struct shield *s, bool enc, struct shield_entry *e, const uint8_t *in,
			uint8_t *out)
{
	/* The KEK name is bound as AAD: an entry cannot be served under another name. */
	const uint8_t *aad = (const uint8_t *)e->name;
	size_t aad_len = strlen(e->name);
	uint8_t key[AEAD_GCM_KEY_SIZE];
	CLEANUP_ERASE(key);
	int r;

	r = shield_key(s, key);
	if (r < 0)
		return r;
	if (enc)
		return aead_gcm_encrypt(key, e->nonce, aad, aad_len, NULL, 0, in, e->len, out,
					e->tag);
	return aead_gcm_decrypt(key, e->nonce, aad, aad_len, NULL, 0, in, e->len, out, e->tag);
}

static struct shield_entry *shield_find(struct shield *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->e[i].name, name) == 0)
			return &s->e[i];
	return NULL;
}

void shield_forget(struct shield *s, const char *name)
{
	struct shield_entry *e = shield_find(s, name);

	if (!e)
		return;
	free(e->ct);
	*e = s->e[--s->n];
	memset(&s->e[s->n], 0, sizeof(s->e[0]));
}

/* Room for one more entry: 0, 1 when the shield is full (SHIELD_MAX), or -ENOMEM. */
static int shield_reserve(struct shield *s)
{
	struct shield_entry *ne;
	size_t ncap;

	if (s->n < s->cap)
		return 0;
	if (s->n >= SHIELD_MAX)
		return 1;
	ncap = s->cap ? s->cap * 2 : 8;
	if (ncap > SHIELD_MAX)
		ncap = SHIELD_MAX;
	ne = reallocarray(s->e, ncap, sizeof(*ne));
	if (!ne)
		return -ENOMEM;
	s->e = ne;
	s->cap = ncap;
	return 0;
}

int shield_put(struct shield *s, const struct kek_meta *meta, const struct seal_params *params,
	       const struct seal_binding *binding, const uint8_t *keys, size_t len)
{
	_cleanup_free_ uint8_t *ct = NULL;
	struct shield_entry *e;
	int r;

	shield_forget(s, meta->name);
	r = shield_reserve(s);
	if (r != 0)
		return r < 0 ? r : 0; /* full: not cached, the next use unseals again */
	e = &s->e[s->n];
	memset(e, 0, sizeof(*e));
	strcpy(e->name, meta->name);
	e->meta = *meta;
	e->params = *params;
	e->binding = *binding;
	e->len = len;
	/* Unique nonce per entry under the one shield key: a counter, never reused. */
	s->counter++;
	memcpy(e->nonce, &s->counter, sizeof(s->counter));
	ct = malloc(len);
	if (!ct)
		return -ENOMEM;
	if (shield_crypt(s, true, e, keys, ct) < 0)
		return -EIO;
	e->ct = TAKE_PTR(ct);
	s->n++;
	return 0;
}

int shield_get(struct shield *s, const char *name, struct kek_meta *ret_meta,
	       struct seal_params *ret_params, struct seal_binding *ret_binding,
	       uint8_t **ret_keys)
{
	struct shield_entry *e = shield_find(s, name);
	uint8_t *keys;

	if (!e)
		return -ENOENT;
	keys = secmem_alloc(e->len);
	if (!keys)
		return -ENOMEM;
	if (shield_crypt(s, false, e, e->ct, keys) < 0) {
		secmem_free(keys);
		shield_forget(s, name);
		return -EIO;
	}
	*ret_meta = e->meta;
	*ret_params = e->params;
	*ret_binding = e->binding;
	*ret_keys = keys;
	return 0;
}
