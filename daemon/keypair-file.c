/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sealed key pair files, <state>/keypair/<name>.sealed (keypair.h): sealed with this CVM's
 * derived key exactly as KEK files are, and listed in the store manifest (keypair/NAME.sealed)
 * so that an older file put back is refused. The seal label is "keypair:NAME", so a KEK or
 * another key pair's file renamed into place does not pass.
 *
 * Each key pair's parsed metadata and unsealed private key (EVP_PKEY, private parts in
 * OpenSSL's secure heap, with what keypair_sign() and keypair_decrypt() keep for it) are
 * cached by name and SHA-256 of the sealed file they came from: a
 * use reads the file once and checks it against the store manifest every time, but parses the
 * metadata only when the file's bytes changed and asks the firmware for the sealing key only
 * when they changed since the last unseal. Every write and removal forgets the entry; the
 * cache is emptied whenever the attestation gate refuses.
 */
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "algs.h"
#include "attest.h"
#include "fileio.h"
#include "keypair.h"
#include "keypair-crypto.h"
#include "log.h"
#include "manifest.h"
#include "secmem.h"
#include "store.h"
#include "store-file.h"
#include "store-seal.h"
#include "openssl-util.h"

#define KEYPAIR_CACHE_MAX 64u

static struct keypair_cache_entry {
	char name[KEK_NAME_MAX + 1];
	uint8_t digest[32];         /* SHA-256 of the sealed file both came from */
	struct keypair_meta *meta;  /* its metadata, parsed and checked (NULL: free entry) */
	EVP_PKEY *pkey;             /* its private key once unsealed, or NULL */
	struct keypair_kept *kept;  /* keypair_sign()/keypair_decrypt() state for pkey */
} cache[KEYPAIR_CACHE_MAX];

int keypair_secure_heap_init(void)
{
	if (CRYPTO_secure_malloc_initialized())
		return 1;
	int r = CRYPTO_secure_malloc_init(KEYPAIR_SECURE_HEAP, 32);
	return r == 1 ? 1 : r == 2 ? 0 : -ENOMEM;
}

static void cache_drop(struct keypair_cache_entry *e)
{
	keypair_kept_free(e->kept);
	EVP_PKEY_free(e->pkey);
	free(e->meta);
	*e = (struct keypair_cache_entry){};
}

void keypair_cache_clear(void)
{
	for (size_t i = 0; i < KEYPAIR_CACHE_MAX; i++)
		cache_drop(&cache[i]);
}

static struct keypair_cache_entry *cache_find(const char *name)
{
	for (size_t i = 0; i < KEYPAIR_CACHE_MAX; i++)
		if (cache[i].meta && strcmp(cache[i].name, name) == 0)
			return &cache[i];
	return NULL;
}

/* name's entry when it came from the file whose SHA-256 is digest, else NULL. */
static struct keypair_cache_entry *cache_match(const char *name, const uint8_t digest[static 32])
{
	struct keypair_cache_entry *e = cache_find(name);

	return e && CRYPTO_memcmp(e->digest, digest, 32) == 0 ? e : NULL;
}

static void cache_forget(const char *name)
{
	struct keypair_cache_entry *e = cache_find(name);

	if (e)
		cache_drop(e);
}

/* Keeps a copy of meta for name's file (digest); a full cache drops its first entry. */
static struct keypair_cache_entry *cache_put(const char *name, const uint8_t digest[static 32],
					     const struct keypair_meta *meta)
{
	struct keypair_cache_entry *e = NULL;
	struct keypair_meta *copy = malloc(sizeof(*copy));

	cache_forget(name);
	if (!copy)
		return NULL;
	for (size_t i = 0; !e && i < KEYPAIR_CACHE_MAX; i++)
		if (!cache[i].meta)
			e = &cache[i];
	if (!e) {
		e = &cache[0];
		cache_drop(e);
	}
	*copy = *meta;
	snprintf(e->name, sizeof(e->name), "%s", name);
	memcpy(e->digest, digest, 32);
	e->meta = copy;
	return e;
}

/* "keypair/NAME.sealed", relative to the state directory: -EINVAL for an invalid name. */
static int keypair_rel(const char *name, char buf[static STORE_REL_MAX])
{
	return store_rel("keypair", name, ".sealed", buf);
}

static void keypair_label(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "keypair:%s", name);
}

int keypair_store_list(struct manager *m, char ***ret_names)
{
	return store_list_dir(m, "keypair", true, ret_names);
}

static int file_digest(const uint8_t *blob, size_t len, uint8_t out[static 32])
{
	unsigned int n = 0;
	const EVP_MD *md = algs_sha256();

	return md && EVP_Digest(blob, len, out, &n, md, NULL) && n == 32 ? 0 : -EIO;
}

/* Reads name's sealed file (at most SEAL_BLOB_MAX bytes). */
static int read_blob(struct manager *m, const char *name, uint8_t **ret_blob, size_t *ret_len)
{
	char rel[STORE_REL_MAX];

	if (keypair_rel(name, rel) < 0)
		return -EINVAL;
	return fileio_read_all_at(m->state_fd, rel, SEAL_BLOB_MAX, ret_blob, ret_len);
}

/* Checks name's sealed file against the manifest and its label and metadata. */
static int check_file(struct manager *m, const char *name, const uint8_t *blob, size_t len,
		      struct seal_header *ret_h, struct keypair_meta *ret_meta, char *why,
		      size_t whylen)
{
	char rel[STORE_REL_MAX], label[SEAL_LABEL_MAX + 1];
	int r;

	if (keypair_rel(name, rel) < 0)
		return -EINVAL;
	r = manifest_check(m->manifest, rel, blob, len, why, whylen);
	if (r < 0)
		return r;
	keypair_label(name, label, sizeof(label));
	if (seal_parse_header(blob, len, ret_h) < 0 || strcmp(ret_h->label, label) != 0 ||
	    keypair_meta_parse((const char *)ret_h->meta, ret_h->meta_len, ret_meta, NULL, 0) < 0 ||
	    strcmp(ret_meta->name, name) != 0) {
		snprintf(why, whylen, "sealed file of key pair %s is damaged", name);
		return -EBADMSG;
	}
	return 0;
}

/* Reads name's sealed file and checks it (check_file()). */
static int read_file(struct manager *m, const char *name, uint8_t **ret_blob, size_t *ret_len,
		     struct seal_header *ret_h, struct keypair_meta *ret_meta, char *why,
		     size_t whylen)
{
	_cleanup_free_ uint8_t *blob = NULL;
	size_t len;
	int r = read_blob(m, name, &blob, &len);

	if (r < 0)
		return r;
	r = check_file(m, name, blob, len, ret_h, ret_meta, why, whylen);
	if (r < 0)
		return r;
	*ret_len = len;
	*ret_blob = TAKE_PTR(blob);
	return 0;
}

/*
 * Reads name's sealed file once and checks it against the store manifest on every call;
 * returns the cache entry of its exact bytes, whose metadata check_file() parsed and checked
 * the first time those bytes were read (the same bytes give the same metadata). The file stays
 * in *ret_blob for an unseal.
 */
/* gcc 12's -fanalyzer reports cache_put()'s copy of the metadata as leaked here: it is kept in
 * the static cache array through the entry pointer, and freed by cache_drop()/cache_forget(). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
static int read_cached(struct manager *m, const char *name, uint8_t **ret_blob, size_t *ret_len,
		       struct keypair_cache_entry **ret_e, char *why, size_t whylen)
{
	_cleanup_free_ uint8_t *blob = NULL;
	_cleanup_free_ struct keypair_meta *meta = NULL;
	char rel[STORE_REL_MAX];
	struct keypair_cache_entry *e;
	struct seal_header h;
	uint8_t digest[32];
	size_t len;
	int r = read_blob(m, name, &blob, &len);

	if (r >= 0)
		r = file_digest(blob, len, digest);
	if (r < 0)
		return r;
	e = cache_match(name, digest);
	if (e) {
		if (keypair_rel(name, rel) < 0)
			return -EINVAL;
		r = manifest_check(m->manifest, rel, blob, len, why, whylen);
		if (r < 0)
			return r;
	} else {
		meta = malloc(sizeof(*meta));
		if (!meta)
			return -ENOMEM;
		r = check_file(m, name, blob, len, &h, meta, why, whylen);
		if (r < 0)
			return r;
		e = cache_put(name, digest, meta);
		if (!e)
			return -ENOMEM;
	}
	*ret_e = e;
	*ret_len = len;
	*ret_blob = TAKE_PTR(blob);
	return 0;
}
#pragma GCC diagnostic pop

int keypair_store_read_meta(struct manager *m, const char *name, struct keypair_meta *ret,
			    char *why, size_t whylen)
{
	_cleanup_free_ uint8_t *blob = NULL;
	struct keypair_cache_entry *e;
	size_t len;
	int r = read_cached(m, name, &blob, &len, &e, why, whylen);

	if (r < 0)
		return r;
	*ret = *e->meta;
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
	char rel[STORE_REL_MAX], what[KEK_NAME_MAX + 16];
	int r;

	if (keypair_rel(name, rel) < 0)
		return -EINVAL;
	if (mkdirat(m->state_fd, "keypair", 0700) < 0 && errno != EEXIST)
		return negative_errno();
	r = create ? store_file_exists(m, rel) : 0;
	if (r < 0)
		return r;
	if (r > 0) {
		snprintf(why, whylen, "key pair %s already exists", name);
		return -EEXIST;
	}
	snprintf(what, sizeof(what), "key pair %s", name);
	r = store_file_write(m, rel, blob, len, create, what, why, whylen);
	cache_forget(name);
	if (r == -EEXIST)
		snprintf(why, whylen, "key pair %s already exists", name);
	return r;
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

/* gcc 12's -fanalyzer reports the cleanup pointers below as uninitialised on early returns,
 * although each is initialised at its declaration: the false positive op-byok.c describes. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-use-of-uninitialized-value"
int keypair_store_open(struct manager *m, const char *name,
		       int (*check)(const struct keypair_meta *meta, void *userdata), void *userdata,
		       struct keypair_meta *ret_meta, EVP_PKEY **ret_pkey,
		       struct keypair_kept **ret_kept, char *why, size_t whylen)
{
	_cleanup_free_ uint8_t *blob = NULL;
	_cleanup_secmem_ uint8_t *der = NULL;
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
	struct keypair_cache_entry *e;
	struct seal_header h;
	size_t len, der_len;
	int r;

	r = read_cached(m, name, &blob, &len, &e, why, whylen);
	if (r < 0)
		return r;
	r = check ? check(e->meta, userdata) : 0;
	if (r < 0)
		return r;
	r = attest_require(m, false, why, whylen);
	if (r < 0) {
		keypair_cache_clear();
		return r;
	}
	if (!e->pkey) {
		/* The entry came from these bytes: the header parses as check_file() found. */
		if (seal_parse_header(blob, len, &h) < 0)
			return -EBADMSG;
		r = unseal_der(m, &h, blob, len, &der, &der_len, why, whylen);
		if (r < 0)
			return r;
		r = keypair_private_parse(der, der_len, &e->pkey);
		if (r < 0) {
			snprintf(why, whylen, "sealed key pair %s holds no valid private key", name);
			return r;
		}
	}
	if (!e->kept && !(e->kept = keypair_kept_new()))
		return -ENOMEM;
	if (!EVP_PKEY_up_ref(e->pkey))
		return -ENOMEM;
	pkey = e->pkey;
	*ret_meta = *e->meta;
	*ret_pkey = TAKE_PTR(pkey);
	if (ret_kept)
		*ret_kept = e->kept;
	return 0;
}
#pragma GCC diagnostic pop

int keypair_store_remove(struct manager *m, const char *name)
{
	char rel[STORE_REL_MAX];

	if (keypair_rel(name, rel) < 0)
		return -EINVAL;
	cache_forget(name);
	return store_file_remove(m, rel);
}
