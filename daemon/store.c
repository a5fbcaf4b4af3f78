/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The KEK files (format in store.h and docs/sealing.md): <state>/kek/NAME.sealed, read and
 * written through store-file.c (manifest, state directory fd) and sealed by store-seal.c.
 * Unsealing needs a guest request to the firmware (MSG_KEY_REQ), which on real hardware costs
 * milliseconds and is rate-limited by the host, so after the first unseal a KEK is kept in the
 * shield (shield.h) and served from there.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attest.h"
#include "dir-util.h"
#include "kek-file.h"
#include "log.h"
#include "fleet-fresh.h"
#include "secmem.h"
#include "shield.h"
#include "store-file.h"
#include "store-seal.h"
#include "store.h"

int store_open(struct manager *m)
{
	int r = store_dirs_open(m);

	if (r < 0)
		return r;
	return shield_new(&m->shield);
}

void strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends name (taken) to the NULL-terminated array *v of *n names. 0 or -ENOMEM. */
static int strv_push(char ***v, size_t *n, char *name)
{
	char **nv = realloc(*v, (*n + 2) * sizeof(char *));

	if (!nv) {
		free(name);
		return -ENOMEM;
	}
	nv[(*n)++] = name;
	nv[*n] = NULL;
	*v = nv;
	return 0;
}

struct name_list {
	char **v;
	size_t n;
};

/*
 * Adds one <state>/DIR/NAME.sealed entry's NAME, when valid, to the list. 0 or -ENOMEM.
 * gcc 12's -fanalyzer loses each name once strv_push() has stored it through realloc() and
 * reports it leaked; strv_push() owns it from the call (freed there on failure, else by
 * strv_free() or the caller). A false positive of that release, suppressed here only.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
static int list_one(const char *entry, size_t stem_len, void *userdata)
{
	struct name_list *l = userdata;
	char *name = strndup(entry, stem_len);

	if (!name)
		return -ENOMEM;
	if (!store_name_valid(name)) {
		free(name);
		return 0;
	}
	return strv_push(&l->v, &l->n, name);
}
#pragma GCC diagnostic pop

int store_list_dir(struct manager *m, const char *dir, bool missing_ok, char ***ret_names)
{
	struct name_list l = {};
	int r = dir_for_each_suffix(m->state_fd, dir, ".sealed", SIZE_MAX, list_one, &l);

	if (r == -ENOENT && missing_ok)
		r = 0;
	if (r >= 0 && !l.v && !(l.v = calloc(1, sizeof(char *))))
		r = -ENOMEM;
	if (r < 0) {
		strv_free(l.v);
		return r;
	}
	qsort(l.v, l.n, sizeof(char *), cmp_str);
	*ret_names = l.v;
	return 0;
}

int store_list(struct manager *m, char ***ret_names)
{
	return store_list_dir(m, "kek", false, ret_names);
}

/* Reads a KEK's sealed file and checks it against the store manifest (-EKEYREJECTED). */
static int read_blob(struct manager *m, const char *name, uint8_t **ret, size_t *ret_len,
		     char *why, size_t whylen)
{
	char rel[STORE_REL_MAX];
	int r;

	r = store_rel("kek", name, ".sealed", rel);
	if (r < 0)
		return r;
	return store_file_read(m, rel, ret, ret_len, why, whylen);
}

static int meta_from_header(const struct seal_header *h, const char *name, struct kek_meta *ret)
{
	struct kek_meta meta;

	if (kek_meta_from_json((const char *)h->meta, h->meta_len, &meta) < 0)
		return -EBADMSG;
	if (strcmp(meta.name, name) != 0 || strcmp(h->label, name) != 0)
		return -EBADMSG; /* a file renamed to pose as another KEK */
	*ret = meta;
	return 0;
}

int store_read_meta(struct manager *m, const char *name, struct kek_meta *ret,
		    struct seal_params *ret_params)
{
	_cleanup_free_ uint8_t *blob = NULL;
	struct seal_header h;
	struct kek_meta meta;
	char why[512];
	size_t len;
	int r;

	r = read_blob(m, name, &blob, &len, why, sizeof(why));
	if (r < 0)
		return r;
	r = seal_parse_header(blob, len, &h);
	if (r < 0)
		return -EBADMSG;
	r = meta_from_header(&h, name, &meta);
	if (r < 0)
		return r;
	*ret = meta;
	if (ret_params)
		*ret_params = h.params;
	return 0;
}

/* A KEK unsealed, as store_unseal() hands it out. */
struct kek_unsealed {
	struct kek_meta meta;
	struct seal_params params;
	struct seal_binding binding;
	uint8_t *keys; /* secmem, n_versions * KEK_KEY_SIZE */
};

static void kek_unsealed_done(struct kek_unsealed *k)
{
	k->keys = secmem_free(k->keys);
}

/* The KEK from the shield, or unsealed from its file (and then shielded): 0 or -errno. */
static int kek_load(struct manager *m, const char *name, struct kek_unsealed *k, char *why,
		    size_t whylen)
{
	_cleanup_free_ uint8_t *blob = NULL;
	_cleanup_secmem_ uint8_t *pt = NULL;
	struct seal_header h;
	char what[KEK_NAME_MAX + 24];
	size_t len, pt_len;
	int r;

	if (shield_get(m->shield, name, &k->meta, &k->params, &k->binding, &k->keys) == 0)
		return 0;
	r = read_blob(m, name, &blob, &len, why, whylen);
	if (r < 0)
		return r;
	if (seal_parse_header(blob, len, &h) < 0 || meta_from_header(&h, name, &k->meta) < 0) {
		snprintf(why, whylen, "sealed file of KEK %s is damaged", name);
		return -EBADMSG;
	}
	snprintf(what, sizeof(what), "sealed KEK %s", name);
	r = store_unseal_now(m, &h, blob, len, what, &pt, &pt_len, why, whylen);
	if (r < 0)
		return r;
	if (pt_len != (size_t)k->meta.n_versions * KEK_KEY_SIZE) {
		snprintf(why, whylen, "sealed KEK %s has an inconsistent key count", name);
		return -EBADMSG;
	}
	(void)shield_put(m->shield, &k->meta, &h.params, &h.binding, pt, pt_len);
	(void)kek_file_mark(m, name, blob, len);
	k->params = h.params;
	k->binding = h.binding;
	k->keys = TAKE_PTR(pt);
	return 0;
}

int store_unseal(struct manager *m, const char *name, struct kek_meta *ret_meta,
		 struct seal_params *ret_params, struct seal_binding *ret_binding,
		 uint8_t **ret_keys, char *why, size_t whylen)
{
	_cleanup_(kek_unsealed_done) struct kek_unsealed k = {};
	int r;

	r = attest_require(m, false, why, whylen);
	if (r < 0) {
		shield_clear(m->shield);
		return r;
	}
	r = kek_load(m, name, &k, why, whylen);
	if (r < 0)
		return r;
	/* A KEK from the key manager may demand a recent sync before its first use. */
	if (k.meta.fleet) {
		r = fleet_fresh_check(m->fleet_fresh, name, why, whylen);
		if (r < 0)
			return r;
	}
	/* The KEK's own policy may demand a fresh attestation for every release. */
	if (k.meta.attest_each_use) {
		r = attest_require(m, true, why, whylen);
		if (r < 0) {
			shield_clear(m->shield);
			return r;
		}
	}
	*ret_meta = k.meta;
	*ret_params = k.params;
	if (ret_binding)
		*ret_binding = k.binding;
	*ret_keys = TAKE_PTR(k.keys);
	return 0;
}

/*
 * gcc 12's analyzer loses the ciphertext shield_put() keeps in the shield's table and reports
 * it as leaked at the end of the next function; shield_forget()/shield_clear() free it.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
int store_write(struct manager *m, const struct kek_meta *meta, enum seal_profile profile,
		const uint8_t *keys, bool create, struct seal_params *ret_params, char *why,
		size_t whylen)
{
	_cleanup_free_ uint8_t *blob = NULL;
	_cleanup_free_ char *json = NULL;
	struct seal_params params;
	struct seal_binding binding;
	char rel[STORE_REL_MAX];
	size_t len, keys_len = (size_t)meta->n_versions * KEK_KEY_SIZE;
	int r;

	r = store_rel("kek", meta->name, ".sealed", rel);
	if (r < 0)
		return r;
	r = attest_require(m, false, why, whylen);
	if (r < 0)
		return r;
	r = kek_meta_to_json(meta, &json);
	if (r < 0)
		return r;
	r = store_seal_now(m, profile, meta->name, json, strlen(json), keys, keys_len, "the KEK",
			   &params, &binding, &blob, &len, why, whylen);
	if (r < 0)
		return r;
	if (create && store_file_exists(m, rel) > 0) {
		snprintf(why, whylen, "KEK %s already exists", meta->name);
		return -EEXIST;
	}
	r = store_file_write(m, rel, blob, len, create, meta->name, why, whylen);
	if (r == -EEXIST) {
		snprintf(why, whylen, "KEK %s already exists", meta->name);
		return r;
	}
	if (r < 0) {
		/* The write may have happened after all (a failed directory fsync comes after the
		 * rename): drop the cached copy so the next use reads what is on disk. */
		shield_forget(m->shield, meta->name);
		return r;
	}
	(void)shield_put(m->shield, meta, &params, &binding, keys, keys_len);
	(void)kek_file_mark(m, meta->name, blob, len);
	if (ret_params)
		*ret_params = params;
	return 0;
}
#pragma GCC diagnostic pop

int store_remove(struct manager *m, const char *name)
{
	char rel[STORE_REL_MAX];
	int r;

	r = store_rel("kek", name, ".sealed", rel);
	if (r < 0)
		return r;
	shield_forget(m->shield, name);
	kek_file_forget(m, name);
	return store_file_remove(m, rel);
}
