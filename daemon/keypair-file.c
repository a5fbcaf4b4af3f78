/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sealed key pair files, <state>/keypair/<name>.sealed (keypair.h): sealed with this CVM's
 * derived key exactly as KEK files are, and listed in the store manifest (keypair/NAME.sealed)
 * so that an older file put back is refused. The seal label is "keypair:NAME", so a KEK or
 * another key pair's file renamed into place does not pass.
 *
 * Unsealed private keys are cached (EVP_PKEY, private parts in OpenSSL's secure heap) by name
 * and SHA-256 of the sealed file they came from: a use reads and checks the file (manifest,
 * metadata, state) every time, but asks the firmware for the sealing key only when the file
 * changed. The cache is emptied whenever the attestation gate refuses.
 */
#include <dirent.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attest.h"
#include "fileio.h"
#include "keypair.h"
#include "log.h"
#include "manifest.h"
#include "secmem.h"
#include "store.h"
#include "store-seal.h"
#include "openssl-util.h"

#define KEYPAIR_CACHE_MAX 64u

static struct keypair_cache_entry {
	char name[KEK_NAME_MAX + 1];
	uint8_t digest[32]; /* SHA-256 of the sealed file the key came from */
	EVP_PKEY *pkey;
} cache[KEYPAIR_CACHE_MAX];

int keypair_secure_heap_init(void)
{
	if (CRYPTO_secure_malloc_initialized())
		return 1;
	int r = CRYPTO_secure_malloc_init(KEYPAIR_SECURE_HEAP, 32);
	return r == 1 ? 1 : r == 2 ? 0 : -ENOMEM;
}

void keypair_cache_clear(void)
{
	for (size_t i = 0; i < KEYPAIR_CACHE_MAX; i++) {
		EVP_PKEY_free(cache[i].pkey);
		cache[i] = (struct keypair_cache_entry){};
	}
}

static struct keypair_cache_entry *cache_find(const char *name)
{
	for (size_t i = 0; i < KEYPAIR_CACHE_MAX; i++)
		if (cache[i].pkey && strcmp(cache[i].name, name) == 0)
			return &cache[i];
	return NULL;
}

static void cache_forget(const char *name)
{
	struct keypair_cache_entry *e = cache_find(name);

	if (e) {
		EVP_PKEY_free(e->pkey);
		*e = (struct keypair_cache_entry){};
	}
}

/* Keeps a reference to pkey for name; a full cache drops its first entry. */
static void cache_put(const char *name, const uint8_t digest[static 32], EVP_PKEY *pkey)
{
	struct keypair_cache_entry *e = NULL;

	cache_forget(name);
	for (size_t i = 0; !e && i < KEYPAIR_CACHE_MAX; i++)
		if (!cache[i].pkey)
			e = &cache[i];
	if (!e) {
		e = &cache[0];
		EVP_PKEY_free(e->pkey);
	}
	if (!EVP_PKEY_up_ref(pkey)) {
		*e = (struct keypair_cache_entry){};
		return;
	}
	snprintf(e->name, sizeof(e->name), "%s", name);
	memcpy(e->digest, digest, 32);
	e->pkey = pkey;
}

static void keypair_path(struct manager *m, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/keypair/%s.sealed", m->state_dir, name);
}

static void keypair_rel(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "keypair/%s.sealed", name);
}

static void keypair_label(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "keypair:%s", name);
}

int keypair_store_list(struct manager *m, char ***ret_names)
{
	char path[4096];
	char **v = NULL;
	size_t n = 0;
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/keypair", m->state_dir);
	d = opendir(path);
	if (!d && errno != ENOENT)
		return negative_errno();
	v = calloc(1, sizeof(char *));
	while (v && d && (de = readdir(d))) {
		size_t l = strlen(de->d_name);
		char **nv;
		if (l <= 7 || strcmp(de->d_name + l - 7, ".sealed") != 0 || de->d_name[0] == '.')
			continue;
		nv = realloc(v, (n + 2) * sizeof(char *));
		if (!nv)
			break;
		v = nv;
		v[n] = strndup(de->d_name, l - 7);
		if (!v[n])
			break;
		if (!store_name_valid(v[n])) {
			free(v[n]);
			continue;
		}
		v[++n] = NULL;
	}
	if (d)
		closedir(d);
	if (!v || (n && !v[n - 1])) {
		strv_free(v);
		return -ENOMEM;
	}
	v[n] = NULL;
	for (size_t i = 1; i < n; i++) /* insertion sort: a few dozen names */
		for (size_t k = i; k > 0 && strcmp(v[k - 1], v[k]) > 0; k--) {
			char *t = v[k];
			v[k] = v[k - 1];
			v[k - 1] = t;
		}
	*ret_names = v;
	return 0;
}

/* Reads name's sealed file and checks it against the manifest and its label and metadata. */
static int read_file(struct manager *m, const char *name, uint8_t **ret_blob, size_t *ret_len,
		     struct seal_header *ret_h, struct keypair_meta *ret_meta, char *why,
		     size_t whylen)
{
	_cleanup_free_ uint8_t *blob = NULL;
	char path[4096], rel[KEK_NAME_MAX + 24], label[SEAL_LABEL_MAX + 1];
	struct seal_header h;
	size_t len;
	int r;

	if (!store_name_valid(name))
		return -EINVAL;
	keypair_path(m, name, path, sizeof(path));
	r = fileio_read_all(path, SEAL_BLOB_MAX, &blob, &len);
	if (r < 0)
		return r;
	keypair_rel(name, rel, sizeof(rel));
	r = manifest_check(m->manifest, rel, blob, len, why, whylen);
	if (r < 0)
		return r;
	keypair_label(name, label, sizeof(label));
	if (seal_parse_header(blob, len, &h) < 0 || strcmp(h.label, label) != 0 ||
	    keypair_meta_parse((const char *)h.meta, h.meta_len, ret_meta, NULL, 0) < 0 ||
	    strcmp(ret_meta->name, name) != 0) {
		snprintf(why, whylen, "sealed file of key pair %s is damaged", name);
		return -EBADMSG;
	}
	*ret_h = h;
	*ret_len = len;
	*ret_blob = TAKE_PTR(blob);
	return 0;
}

int keypair_store_read_meta(struct manager *m, const char *name, struct keypair_meta *ret,
			    char *why, size_t whylen)
{
	_cleanup_free_ uint8_t *blob = NULL;
	_cleanup_free_ struct keypair_meta *meta = malloc(sizeof(*meta));
	struct seal_header h;
	size_t len;
	int r;

	if (!meta)
		return -ENOMEM;
	r = read_file(m, name, &blob, &len, &h, meta, why, whylen);
	if (r < 0)
		return r;
	*ret = *meta;
	return 0;
}

static int seal_meta(struct manager *m, const struct keypair_meta *meta,
		     enum seal_profile profile, const uint8_t *der, size_t der_len,
		     uint8_t **ret_blob, size_t *ret_len, char *why, size_t whylen)
{
	_cleanup_free_ char *json = NULL;
	char label[SEAL_LABEL_MAX + 1], what[KEK_NAME_MAX + 16];
	struct seal_params params;
	struct seal_binding binding;
	int r;

	r = keypair_meta_to_json(meta, true, &json);
	if (r < 0)
		return r;
	keypair_label(meta->name, label, sizeof(label));
	snprintf(what, sizeof(what), "key pair %s", meta->name);
	return store_seal_now(m, profile, label, json, strlen(json), der, der_len, what, &params,
			      &binding, ret_blob, ret_len, why, whylen);
}

static int write_blob(struct manager *m, const char *name, const uint8_t *blob, size_t len,
		      bool create, char *why, size_t whylen)
{
	char path[4096], rel[KEK_NAME_MAX + 24];
	int r;

	snprintf(path, sizeof(path), "%s/keypair", m->state_dir);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return negative_errno();
	keypair_path(m, name, path, sizeof(path));
	keypair_rel(name, rel, sizeof(rel));
	if (create && access(path, F_OK) == 0) {
		snprintf(why, whylen, "key pair %s already exists", name);
		return -EEXIST;
	}
	r = manifest_begin(m->manifest, rel, blob, len);
	if (r < 0) {
		snprintf(why, whylen, "cannot update the store manifest: %s", strerror(-r));
		return r;
	}
	r = create ? fileio_create_atomic(path, blob, len, 0600)
		   : fileio_write_atomic(path, blob, len, 0600);
	cache_forget(name);
	if (r < 0) {
		snprintf(why, whylen, r == -EEXIST ? "key pair %s already exists"
						   : "cannot write key pair %s: %s",
			 name, strerror(-r));
		return r;
	}
	if (manifest_commit(m->manifest, rel) < 0)
		vhsm_log_debug("store: cannot commit the manifest entry of %s", rel);
	return 0;
}

int keypair_store_write(struct manager *m, const struct keypair_meta *meta,
			enum seal_profile profile, const uint8_t *der, size_t der_len, bool create,
			char *why, size_t whylen)
{
	_cleanup_free_ uint8_t *blob = NULL;
	size_t len;
	int r;

	r = attest_require(m, false, why, whylen);
	if (r < 0) {
		keypair_cache_clear();
		return r;
	}
	r = seal_meta(m, meta, profile, der, der_len, &blob, &len, why, whylen);
	if (r < 0)
		return r;
	return write_blob(m, meta->name, blob, len, create, why, whylen);
}

/* Unseals the private key of a file read by read_file(). */
static int unseal_der(struct manager *m, const struct seal_header *h, const uint8_t *blob,
		      size_t len, uint8_t **ret_der, size_t *ret_len, char *why, size_t whylen)
{
	char what[SEAL_LABEL_MAX + 20];

	snprintf(what, sizeof(what), "sealed key pair %s", h->label);
	return store_unseal_now(m, h, blob, len, what, ret_der, ret_len, why, whylen);
}

/* gcc 12's -fanalyzer reports the cleanup pointers below as uninitialised on early returns,
 * although each is initialised at its declaration: the false positive op-byok.c describes. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-use-of-uninitialized-value"
int keypair_store_update(struct manager *m, const struct keypair_meta *meta, char *why,
			 size_t whylen)
{
	_cleanup_free_ uint8_t *blob = NULL, *nblob = NULL;
	_cleanup_free_ struct keypair_meta *old = malloc(sizeof(*old));
	_cleanup_secmem_ uint8_t *der = NULL;
	struct seal_header h;
	size_t len, der_len, nlen;
	int r;

	if (!old)
		return -ENOMEM;
	r = attest_require(m, false, why, whylen);
	if (r < 0) {
		keypair_cache_clear();
		return r;
	}
	r = read_file(m, meta->name, &blob, &len, &h, old, why, whylen);
	if (r < 0)
		return r;
	r = unseal_der(m, &h, blob, len, &der, &der_len, why, whylen);
	if (r < 0)
		return r;
	r = seal_meta(m, meta, h.params.profile, der, der_len, &nblob, &nlen, why, whylen);
	if (r < 0)
		return r;
	return write_blob(m, meta->name, nblob, nlen, false, why, whylen);
}
#pragma GCC diagnostic pop

static int file_digest(const uint8_t *blob, size_t len, uint8_t out[static 32])
{
	unsigned int n = 0;

	return EVP_Digest(blob, len, out, &n, EVP_sha256(), NULL) && n == 32 ? 0 : -EIO;
}

/* gcc 12's -fanalyzer reports the cleanup pointers below as uninitialised on early returns,
 * although each is initialised at its declaration: the false positive op-byok.c describes. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-use-of-uninitialized-value"
int keypair_store_open(struct manager *m, const char *name, struct keypair_meta *ret_meta,
		       EVP_PKEY **ret_pkey, char *why, size_t whylen)
{
	_cleanup_free_ uint8_t *blob = NULL;
	_cleanup_free_ struct keypair_meta *meta = malloc(sizeof(*meta));
	_cleanup_secmem_ uint8_t *der = NULL;
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
	struct keypair_cache_entry *e;
	struct seal_header h;
	uint8_t digest[32];
	size_t len, der_len;
	int r;

	if (!meta)
		return -ENOMEM;
	r = attest_require(m, false, why, whylen);
	if (r < 0) {
		keypair_cache_clear();
		return r;
	}
	r = read_file(m, name, &blob, &len, &h, meta, why, whylen);
	if (r < 0)
		return r;
	r = file_digest(blob, len, digest);
	if (r < 0)
		return r;
	e = cache_find(name);
	if (e && CRYPTO_memcmp(e->digest, digest, 32) == 0 && EVP_PKEY_up_ref(e->pkey)) {
		pkey = e->pkey;
	} else {
		r = unseal_der(m, &h, blob, len, &der, &der_len, why, whylen);
		if (r < 0)
			return r;
		r = keypair_private_parse(der, der_len, &pkey);
		if (r < 0) {
			snprintf(why, whylen, "sealed key pair %s holds no valid private key", name);
			return r;
		}
		cache_put(name, digest, pkey);
	}
	*ret_meta = *meta;
	*ret_pkey = TAKE_PTR(pkey);
	return 0;
}
#pragma GCC diagnostic pop

int keypair_store_remove(struct manager *m, const char *name)
{
	char path[4096], rel[KEK_NAME_MAX + 24];
	int r;

	if (!store_name_valid(name))
		return -EINVAL;
	keypair_path(m, name, path, sizeof(path));
	keypair_rel(name, rel, sizeof(rel));
	cache_forget(name);
	r = manifest_begin(m->manifest, rel, NULL, 0);
	if (r < 0)
		return r;
	if (unlink(path) < 0)
		return negative_errno();
	r = fileio_fsync_parent(path);
	if (r < 0)
		return r;
	if (manifest_commit(m->manifest, rel) < 0)
		vhsm_log_debug("store: cannot commit the manifest entry of %s", rel);
	return 0;
}
