/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KEK store (format in store.h and docs/sealing.md) and the in-memory shield.
 *
 * Unsealing needs a guest request to the firmware (MSG_KEY_REQ), which on real hardware costs
 * milliseconds and is rate-limited by the host. So after the first unseal a KEK is kept
 * shielded: encrypted with AES-256-GCM under a key derived from a large random prekey in
 * locked memory (as OpenSSH shields private keys), and unshielded into secure memory only for
 * the duration of one operation.
 */
#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aead.h"
#include "algs.h"
#include "attest.h"
#include "fileio.h"
#include "kek-file.h"
#include "log.h"
#include "secmem.h"
#include "manifest.h"
#include "store.h"

#define SHIELD_PREKEY_SIZE 4096u
#define SHIELD_MAX 1024u

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
	size_t n;
	struct shield_entry e[SHIELD_MAX];
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
	memset(s->e, 0, sizeof(s->e));
	s->n = 0;
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
	unsigned len = 0;

	if (!algs_sha256() ||
	    !EVP_Digest(s->prekey, SHIELD_PREKEY_SIZE, key, &len, algs_sha256(), NULL))
		return vhsm_log_openssl(-EIO, "shield key");
	return 0;
}

static int shield_crypt(struct shield *s, bool enc, struct shield_entry *e, const uint8_t *in,
			uint8_t *out)
{
	/* The KEK name is bound as AAD: an entry cannot be served under another name. */
	const uint8_t *aad = (const uint8_t *)e->name;
	size_t aad_len = strlen(e->name);
	uint8_t key[AEAD_GCM_KEY_SIZE];
	int r;

	r = shield_key(s, key);
	if (r >= 0 && enc)
		r = aead_gcm_encrypt(key, e->nonce, aad, aad_len, NULL, 0, in, e->len, out, e->tag);
	else if (r >= 0)
		r = aead_gcm_decrypt(key, e->nonce, aad, aad_len, NULL, 0, in, e->len, out, e->tag);
	explicit_bzero(key, sizeof(key));
	return r;
}

static struct shield_entry *shield_find(struct shield *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->e[i].name, name) == 0)
			return &s->e[i];
	return NULL;
}

static void shield_forget(struct shield *s, const char *name)
{
	struct shield_entry *e = shield_find(s, name);

	if (!e)
		return;
	free(e->ct);
	*e = s->e[--s->n];
	memset(&s->e[s->n], 0, sizeof(s->e[0]));
}

static int shield_put(struct shield *s, const struct kek_meta *meta,
		      const struct seal_params *params, const struct seal_binding *binding,
		      const uint8_t *keys, size_t len)
{
	struct shield_entry *e;
	uint8_t *ct;

	shield_forget(s, meta->name);
	if (s->n >= SHIELD_MAX)
		return 0; /* not cached: the next use unseals again */
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
	if (shield_crypt(s, true, e, keys, ct) < 0) {
		free(ct);
		return -EIO;
	}
	e->ct = ct;
	s->n++;
	return 0;
}

static int shield_get(struct shield *s, const char *name, struct kek_meta *ret_meta,
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

/* ---- files ---- */

static void kek_path(struct manager *m, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/kek/%s.sealed", m->state_dir, name);
}

/* Temporaries of writes a crash interrupted (".NAME.tmp.*"): the target is intact (the
 * rename never happened), so they are only litter. */
static void store_remove_stale_temporaries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	while (d && (de = readdir(d)))
		if (de->d_name[0] == '.' && strstr(de->d_name, ".tmp."))
			(void)unlinkat(dirfd(d), de->d_name, 0);
	if (d)
		closedir(d);
}

int store_open(struct manager *m)
{
	char path[4096];

	if (mkdir(m->state_dir, 0700) < 0 && errno != EEXIST)
		return negative_errno();
	snprintf(path, sizeof(path), "%s/kek", m->state_dir);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return negative_errno();
	store_remove_stale_temporaries(path);
	snprintf(path, sizeof(path), "%s/exchange", m->state_dir);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return negative_errno();
	store_remove_stale_temporaries(path);
	m->state_fd = open(m->state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (m->state_fd < 0)
		return negative_errno();
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

int store_list(struct manager *m, char ***ret_names)
{
	char path[4096];
	DIR *d;
	struct dirent *de;
	char **v = NULL;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/kek", m->state_dir);
	d = opendir(path);
	if (!d)
		return negative_errno();
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l <= 7 || strcmp(de->d_name + l - 7, ".sealed") != 0)
			continue;
		char *name = strndup(de->d_name, l - 7);
		char **nv = realloc(v, (n + 2) * sizeof(char *));
		if (!name || !nv) {
			free(name);
			free(nv ? nv : v);
			closedir(d);
			if (nv)
				v = nv;
			return -ENOMEM;
		}
		v = nv;
		if (!store_name_valid(name)) {
			free(name);
			continue;
		}
		v[n++] = name;
		v[n] = NULL;
	}
	closedir(d);
	if (!v) {
		v = calloc(1, sizeof(char *));
		if (!v)
			return -ENOMEM;
	}
	qsort(v, n, sizeof(char *), cmp_str);
	*ret_names = v;
	return 0;
}

/* Reads a KEK's sealed file and checks it against the store manifest (-EKEYREJECTED). */
static int read_blob(struct manager *m, const char *name, uint8_t **ret, size_t *ret_len,
		     char *why, size_t whylen)
{
	_cleanup_free_ uint8_t *blob = NULL;
	char path[4096], rel[KEK_NAME_MAX + 24];
	size_t len;
	int r;

	if (!store_name_valid(name))
		return -EINVAL;
	kek_path(m, name, path, sizeof(path));
	r = fileio_read_all(path, SEAL_BLOB_MAX, &blob, &len);
	if (r < 0)
		return r;
	snprintf(rel, sizeof(rel), "kek/%s.sealed", name);
	r = manifest_check(m, rel, blob, len, why, whylen);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(blob);
	*ret_len = len;
	return 0;
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
	char why[512];
	size_t len;
	int r;

	r = read_blob(m, name, &blob, &len, why, sizeof(why));
	if (r < 0)
		return r;
	r = seal_parse_header(blob, len, &h);
	if (r < 0)
		return -EBADMSG;
	r = meta_from_header(&h, name, ret);
	if (r < 0)
		return r;
	if (ret_params)
		*ret_params = h.params;
	return 0;
}

static int derive_key(struct manager *m, const struct seal_params *p, uint8_t *key, char *why,
		      size_t whylen)
{
	struct snp_key_request kr;
	struct snp_status st = {};
	int r;

	seal_key_request(p, &kr);
	r = snp_dev_get_derived_key(m->dev, &kr, key, &st);
	if (r == -EREMOTEIO && p->vmpl < snp_dev_running_vmpl(m->dev))
		snprintf(why, whylen, "firmware refused the sealing key (status %s): sealed at VMPL "
			 "%u, this guest runs at VMPL %u and cannot derive a more privileged VMPL's key",
			 snp_fw_status_name(st.msg_status), p->vmpl, snp_dev_running_vmpl(m->dev));
	else if (r == -EREMOTEIO)
		snprintf(why, whylen, "firmware refused the sealing key (status %s): the TCB or "
			 "guest SVN the key was sealed at is above this CVM's (rollback?)",
			 snp_fw_status_name(st.msg_status));
	else if (r < 0)
		snprintf(why, whylen, "derived key request failed: %s", strerror(-r));
	return r == -EREMOTEIO ? -EKEYREJECTED : r;
}

/*
 * Seals pt under profile at the current attested state (the caller has passed the gate):
 * fills the blob's parameters and binding and returns a malloc'ed blob, or -errno with why
 * filled ("sealing WHAT failed").
 */
static int seal_now(struct manager *m, enum seal_profile profile, const char *label,
		    const void *meta, size_t meta_len, const uint8_t *pt, size_t pt_len,
		    const char *what, struct seal_params *ret_params,
		    struct seal_binding *ret_binding, uint8_t **ret_blob, size_t *ret_len,
		    char *why, size_t whylen)
{
	_cleanup_secmem_ uint8_t *dkey = NULL;
	int r;

	seal_params_from_report(profile, &m->attest.report, ret_params);
	seal_binding_from_report(&m->attest.report, m->policy_digest, ret_binding);
	dkey = secmem_alloc(32);
	if (!dkey)
		return -ENOMEM;
	r = derive_key(m, ret_params, dkey, why, whylen);
	if (r < 0)
		return r;
	r = seal_blob(dkey, ret_params, ret_binding, label, meta, meta_len, pt, pt_len, ret_blob,
		      ret_len);
	if (r < 0)
		snprintf(why, whylen, "sealing %s failed: %s", what, strerror(-r));
	return r;
}

/*
 * Unseals blob (header h, already parsed) with this CVM's derived key. A blob that does not
 * unseal is -EKEYREJECTED, with why explaining which sealed field differs or, without a
 * valid report, "WHAT does not unseal".
 */
static int unseal_now(struct manager *m, const struct seal_header *h, const uint8_t *blob,
		      size_t len, const char *what, uint8_t **ret_pt, size_t *ret_len, char *why,
		      size_t whylen)
{
	_cleanup_secmem_ uint8_t *dkey = NULL;
	int r;

	dkey = secmem_alloc(32);
	if (!dkey)
		return -ENOMEM;
	r = derive_key(m, &h->params, dkey, why, whylen);
	if (r < 0)
		return r;
	r = unseal_blob(dkey, blob, len, ret_pt, ret_len);
	if (r < 0) {
		if (m->attest.report_valid)
			seal_explain_failure(h, &m->attest.report, m->attest.product, why, whylen);
		else
			snprintf(why, whylen, "%s does not unseal", what);
		return -EKEYREJECTED;
	}
	return 0;
}

static int store_unseal_blob(struct manager *m, const char *name, struct kek_meta *ret_meta,
			     struct seal_params *ret_params, struct seal_binding *ret_binding,
			     uint8_t **ret_keys, char *why, size_t whylen)
{
	_cleanup_free_ uint8_t *blob = NULL;
	_cleanup_secmem_ uint8_t *pt = NULL;
	struct seal_header h;
	struct kek_meta meta;
	char what[KEK_NAME_MAX + 24];
	size_t len, pt_len;
	int r;

	if (shield_get(m->shield, name, ret_meta, ret_params, ret_binding, ret_keys) == 0)
		return 0;
	r = read_blob(m, name, &blob, &len, why, whylen);
	if (r < 0)
		return r;
	if (seal_parse_header(blob, len, &h) < 0 || meta_from_header(&h, name, &meta) < 0) {
		snprintf(why, whylen, "sealed file of KEK %s is damaged", name);
		return -EBADMSG;
	}
	snprintf(what, sizeof(what), "sealed KEK %s", name);
	r = unseal_now(m, &h, blob, len, what, &pt, &pt_len, why, whylen);
	if (r < 0)
		return r;
	if (pt_len != (size_t)meta.n_versions * KEK_KEY_SIZE) {
		snprintf(why, whylen, "sealed KEK %s has an inconsistent key count", name);
		return -EBADMSG;
	}
	(void)shield_put(m->shield, &meta, &h.params, &h.binding, pt, pt_len);
	(void)kek_file_mark(m, name, blob, len);
	*ret_meta = meta;
	*ret_params = h.params;
	*ret_binding = h.binding;
	*ret_keys = TAKE_PTR(pt);
	return 0;
}

int store_unseal(struct manager *m, const char *name, struct kek_meta *ret_meta,
		 struct seal_params *ret_params, struct seal_binding *ret_binding,
		 uint8_t **ret_keys, char *why, size_t whylen)
{
	struct seal_binding b;
	int r;

	r = attest_require(m, false, why, whylen);
	if (r < 0) {
		shield_clear(m->shield);
		return r;
	}
	r = store_unseal_blob(m, name, ret_meta, ret_params, &b, ret_keys, why, whylen);
	if (r < 0)
		return r;
	/* The KEK's own policy may demand a fresh attestation for every release. */
	if (ret_meta->attest_each_use) {
		r = attest_require(m, true, why, whylen);
		if (r < 0) {
			*ret_keys = secmem_free(*ret_keys);
			shield_clear(m->shield);
			return r;
		}
	}
	if (ret_binding)
		*ret_binding = b;
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
	char path[4096], rel[KEK_NAME_MAX + 24];
	size_t len, keys_len = (size_t)meta->n_versions * KEK_KEY_SIZE;
	int r;

	r = attest_require(m, false, why, whylen);
	if (r < 0)
		return r;
	r = kek_meta_to_json(meta, &json);
	if (r < 0)
		return r;
	r = seal_now(m, profile, meta->name, json, strlen(json), keys, keys_len, "the KEK", &params,
		     &binding, &blob, &len, why, whylen);
	if (r < 0)
		return r;
	kek_path(m, meta->name, path, sizeof(path));
	snprintf(rel, sizeof(rel), "kek/%s.sealed", meta->name);
	if (create && access(path, F_OK) == 0) {
		snprintf(why, whylen, "KEK %s already exists", meta->name);
		return -EEXIST;
	}
	/* Manifest first (pending), then the file, then the commit (manifest.h). */
	r = manifest_begin(m, rel, blob, len);
	if (r < 0) {
		snprintf(why, whylen, "cannot update the store manifest: %s", strerror(-r));
		return r;
	}
	manifest_test_crash("manifest-pending");
	r = create ? fileio_create_atomic(path, blob, len, 0600)
		   : fileio_write_atomic(path, blob, len, 0600);
	if (r >= 0) {
		manifest_test_crash("file-written");
		/* Not fatal: the manifest on disk still accepts the new file (pending), and the
		 * next start commits it. */
		if (manifest_commit(m, rel) < 0)
			vhsm_log_debug("store: cannot commit the manifest entry of %s", rel);
	}
	if (r < 0) {
		/* The write may have happened after all (a failed directory fsync comes after the
		 * rename): drop the cached copy so the next use reads what is on disk. */
		if (r != -EEXIST)
			shield_forget(m->shield, meta->name);
		snprintf(why, whylen, r == -EEXIST ? "KEK %s already exists" : "cannot write %s: %s",
			 meta->name, strerror(-r));
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
	char path[4096];

	if (!store_name_valid(name))
		return -EINVAL;
	char rel[KEK_NAME_MAX + 24];
	int r;

	kek_path(m, name, path, sizeof(path));
	snprintf(rel, sizeof(rel), "kek/%s.sealed", name);
	shield_forget(m->shield, name);
	kek_file_forget(m, name);
	r = manifest_begin(m, rel, NULL, 0);
	if (r < 0)
		return r;
	if (unlink(path) < 0)
		return negative_errno();
	r = fileio_fsync_parent(path);
	if (r < 0)
		return r;
	if (manifest_commit(m, rel) < 0)
		vhsm_log_debug("store: cannot commit the manifest entry of %s", rel);
	return 0;
}

/* ---- exchange keys (BYOK): sealed like KEKs, in <state>/exchange/ ---- */

static void exchange_path(struct manager *m, const char *name, const char *suffix, char *buf,
			  size_t len)
{
	snprintf(buf, len, "%s/exchange/%s%s", m->state_dir, name, suffix);
}

int store_exchange_write(struct manager *m, const char *kek, const char *meta_json,
			 const uint8_t *pt, size_t pt_len, char *why, size_t whylen)
{
	_cleanup_free_ uint8_t *blob = NULL;
	struct seal_params params;
	struct seal_binding binding;
	char path[4096], label[SEAL_LABEL_MAX + 1], rel[KEK_NAME_MAX + 24];
	size_t len;
	int r;

	if (!store_name_valid(kek))
		return -EINVAL;
	r = attest_require(m, false, why, whylen);
	if (r < 0)
		return r;
	/* Always the strict profile: an exchange key lives minutes to hours on this CVM. */
	snprintf(label, sizeof(label), "exchange:%s", kek);
	r = seal_now(m, SEAL_PROFILE_STRICT, label, meta_json, strlen(meta_json), pt, pt_len,
		     "the exchange key", &params, &binding, &blob, &len, why, whylen);
	if (r < 0)
		return r;
	exchange_path(m, kek, ".sealed", path, sizeof(path));
	snprintf(rel, sizeof(rel), "exchange/%s.sealed", kek);
	r = manifest_begin(m, rel, blob, len);
	if (r < 0) {
		snprintf(why, whylen, "cannot update the store manifest: %s", strerror(-r));
		return r;
	}
	r = fileio_write_atomic(path, blob, len, 0600);
	if (r < 0) {
		snprintf(why, whylen, "cannot write %s: %s", path, strerror(-r));
		return r;
	}
	if (manifest_commit(m, rel) < 0)
		vhsm_log_debug("store: cannot commit the manifest entry of %s", rel);
	return 0;
}

int store_exchange_read(struct manager *m, const char *kek, char **ret_meta, uint8_t **ret_pt,
			size_t *ret_len, char *why, size_t whylen)
{
	_cleanup_free_ uint8_t *blob = NULL;
	_cleanup_secmem_ uint8_t *pt = NULL;
	struct seal_header h;
	char path[4096], label[SEAL_LABEL_MAX + 1], rel[KEK_NAME_MAX + 24];
	size_t len, pt_len;
	int r;

	if (!store_name_valid(kek))
		return -EINVAL;
	exchange_path(m, kek, ".sealed", path, sizeof(path));
	r = fileio_read_all(path, SEAL_BLOB_MAX, &blob, &len);
	if (r < 0)
		return r;
	snprintf(rel, sizeof(rel), "exchange/%s.sealed", kek);
	r = manifest_check(m, rel, blob, len, why, whylen);
	if (r < 0)
		return r;
	snprintf(label, sizeof(label), "exchange:%s", kek);
	if (seal_parse_header(blob, len, &h) < 0 || strcmp(h.label, label) != 0) {
		snprintf(why, whylen, "sealed exchange key for %s is damaged", kek);
		return -EBADMSG;
	}
	r = attest_require(m, false, why, whylen);
	if (r < 0)
		return r;
	r = unseal_now(m, &h, blob, len, "the sealed exchange key", &pt, &pt_len, why, whylen);
	if (r < 0)
		return r;
	*ret_meta = strndup((const char *)h.meta, h.meta_len);
	if (!*ret_meta)
		return -ENOMEM;
	*ret_pt = TAKE_PTR(pt);
	*ret_len = pt_len;
	return 0;
}

/* Removes <state>/exchange/<name><suffix> durably. */
static int exchange_unlink(struct manager *m, const char *name, const char *suffix)
{
	char path[4096];

	if (!store_name_valid(name))
		return -EINVAL;
	exchange_path(m, name, suffix, path, sizeof(path));
	if (unlink(path) < 0)
		return negative_errno();
	return fileio_fsync_parent(path);
}

int store_exchange_remove(struct manager *m, const char *kek)
{
	char rel[KEK_NAME_MAX + 24];
	int r;

	if (!store_name_valid(kek))
		return -EINVAL;
	snprintf(rel, sizeof(rel), "exchange/%s.sealed", kek);
	r = manifest_begin(m, rel, NULL, 0);
	if (r < 0)
		return r;
	r = exchange_unlink(m, kek, ".sealed");
	if (r < 0)
		return r;
	if (manifest_commit(m, rel) < 0)
		vhsm_log_debug("store: cannot commit the manifest entry of %s", rel);
	return 0;
}

int store_exchange_mark(struct manager *m, const char *kid, const char *what)
{
	char path[4096];

	if (!store_name_valid(kid))
		return -EINVAL;
	exchange_path(m, kid, ".spent", path, sizeof(path));
	return fileio_write_atomic(path, what, strlen(what), 0600);
}

int store_exchange_unmark(struct manager *m, const char *kid)
{
	return exchange_unlink(m, kid, ".spent");
}

int store_exchange_spent(struct manager *m, const char *kid, char *buf, size_t len)
{
	_cleanup_free_ uint8_t *data = NULL;
	char path[4096];
	size_t n;

	if (!store_name_valid(kid))
		return -EINVAL;
	exchange_path(m, kid, ".spent", path, sizeof(path));
	if (fileio_read_all(path, 256, &data, &n) < 0)
		return 0;
	snprintf(buf, len, "%.*s", (int)n, (const char *)data);
	return 1;
}

/* ---- sealed copies of one KEK version ---- */

static int copy_meta(const char *name, uint32_t version, char *buf, size_t len)
{
	int n = snprintf(buf, len, "{\"kek\":\"%s\",\"kek_version\":%u,\"use\":\"luks2-token\"}",
			 name, version);

	return n > 0 && (size_t)n < len ? n : -EINVAL;
}

int store_seal_copy(struct manager *m, const char *name, uint32_t version,
		    enum seal_profile profile, const uint8_t key[static 32], uint8_t **ret_blob,
		    size_t *ret_len, char *why, size_t whylen)
{
	struct seal_params params;
	struct seal_binding binding;
	char meta[160];
	int r, n;

	if (!store_name_valid(name))
		return -EINVAL;
	n = copy_meta(name, version, meta, sizeof(meta));
	if (n < 0)
		return n;
	r = attest_require(m, false, why, whylen);
	if (r < 0)
		return r;
	return seal_now(m, profile, name, meta, (size_t)n, key, 32, "the KEK copy", &params,
			&binding, ret_blob, ret_len, why, whylen);
}

int store_unseal_copy(struct manager *m, const uint8_t *blob, size_t len, const char *name,
		      uint32_t version, uint8_t **ret_key, char *why, size_t whylen)
{
	_cleanup_secmem_ uint8_t *pt = NULL;
	struct seal_header h;
	char meta[160], what[KEK_NAME_MAX + 40];
	size_t pt_len;
	int r, n;

	n = copy_meta(name, version, meta, sizeof(meta));
	if (n < 0 || seal_parse_header(blob, len, &h) < 0 || strcmp(h.label, name) != 0 ||
	    h.meta_len != (size_t)n || memcmp(h.meta, meta, (size_t)n) != 0) {
		snprintf(why, whylen, "token's sealed copy is not one of KEK %s version %u", name,
			 version);
		return -EBADMSG;
	}
	r = attest_require(m, false, why, whylen);
	if (r < 0)
		return r;
	snprintf(what, sizeof(what), "token's sealed copy of KEK %s", name);
	r = unseal_now(m, &h, blob, len, what, &pt, &pt_len, why, whylen);
	if (r < 0)
		return r;
	if (pt_len != 32) {
		snprintf(why, whylen, "token's sealed copy of KEK %s has a bad length", name);
		return -EBADMSG;
	}
	*ret_key = TAKE_PTR(pt);
	return 0;
}
