/* SPDX-License-Identifier: Apache-2.0 */
/* The store manifest: generation and digest of every sealed KEK file (see manifest.h). */
#include <dirent.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "algs.h"
#include "audit-key.h"
#include "ct.h"
#include "fileio.h"
#include "json-cleanup.h"
#include "manifest.h"
#include "secmem.h"
#include "store.h"
#include "text.h"

#define MANIFEST_MAX_ENTRIES 4096u
#define MANIFEST_FILE_MAX (2u * 1024u * 1024u)
#define DIGEST_HEX 64u

struct entry {
	char rel[KEK_NAME_MAX + 24];
	uint64_t gen;
	char digest[DIGEST_HEX + 1];
	char prev[DIGEST_HEX + 1]; /* pending: the digest before ("" = no file before) */
	bool pending;
	bool removing;             /* pending removal */
};

struct manifest {
	uint8_t *key; /* secmem */
	char kid[AUDIT_KID_HEX + 1];
	struct entry *v;
	size_t n;
	unsigned refusals;
};

static const char manifest_info[] = "vhsm-store-manifest-v1";

struct manifest *manifest_free(struct manifest *mf)
{
	if (mf) {
		secmem_free(mf->key);
		free(mf->v);
		free(mf);
	}
	return NULL;
}

void manifest_test_crash(const char *point)
{
	const char *e = getenv("VHSMD_TEST_CRASH");

	if (e && strcmp(e, point) == 0)
		raise(SIGKILL);
}

static int sha256_hex(const uint8_t *p, size_t n, char out[DIGEST_HEX + 1])
{
	uint8_t md[32];

	if (!algs_sha256() || EVP_Digest(p, n, md, NULL, algs_sha256(), NULL) != 1)
		return -EIO;
	ct_hex_encode(out, md, sizeof(md));
	return 0;
}

static void manifest_path(const struct manager *m, char *buf, size_t len)
{
	snprintf(buf, len, "%s/store.manifest", m->state_dir);
}

static struct entry *entry_find(struct manifest *mf, const char *rel)
{
	for (size_t i = 0; i < mf->n; i++)
		if (strcmp(mf->v[i].rel, rel) == 0)
			return &mf->v[i];
	return NULL;
}

static struct entry *entry_add(struct manifest *mf, const char *rel)
{
	if (mf->n >= MANIFEST_MAX_ENTRIES || strlen(rel) >= sizeof(mf->v[0].rel))
		return NULL;
	struct entry *e = &mf->v[mf->n++];
	*e = (struct entry){};
	strcpy(e->rel, rel);
	return e;
}

/* Serializes the entries and appends "\n" + HMAC(key, json) as hex. */
static int manifest_write(struct manager *m, struct manifest *mf)
{
	_cleanup_(json_object_putp) json_object *o = json_object_new_object();
	json_object *arr = json_object_new_array();
	_cleanup_free_ char *text = NULL;
	char path[4200], mac[65];
	int r;

	if (!o || !arr)
		return -ENOMEM;
	json_object_object_add(o, "format", json_object_new_int(1));
	json_object_object_add(o, "kid", json_object_new_string(mf->kid));
	json_object_object_add(o, "files", arr);
	for (size_t i = 0; i < mf->n; i++) {
		const struct entry *e = &mf->v[i];
		json_object *j = json_object_new_object();
		json_object_object_add(j, "file", json_object_new_string(e->rel));
		json_object_object_add(j, "gen", json_object_new_int64((int64_t)e->gen));
		json_object_object_add(j, "sha256", json_object_new_string(e->digest));
		if (e->pending) {
			json_object_object_add(j, "pending", json_object_new_boolean(true));
			json_object_object_add(j, "removing", json_object_new_boolean(e->removing));
			json_object_object_add(j, "prev", json_object_new_string(e->prev));
		}
		json_object_array_add(arr, j);
	}
	const char *js = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	r = audit_key_mac(mf->key, js, strlen(js), mac);
	if (r < 0)
		return r;
	text = text_printf("%s\n%s\n", js, mac);
	if (!text)
		return -ENOMEM;
	manifest_path(m, path, sizeof(path));
	return fileio_write_atomic(path, text, strlen(text), 0600);
}

static bool jstr_hex(json_object *o, const char *k, char *out, size_t hexlen, bool empty_ok)
{
	json_object *v;
	const char *s;

	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
		return false;
	s = json_object_get_string(v);
	if (!(strlen(s) == hexlen || (empty_ok && s[0] == 0)) ||
	    strspn(s, "0123456789abcdef") != strlen(s))
		return false;
	strcpy(out, s);
	return true;
}

/* Parses one entry of the verified manifest. */
static int entry_parse(struct manifest *mf, json_object *j)
{
	json_object *f, *g, *p, *rm;
	struct entry *e;

	if (!json_object_object_get_ex(j, "file", &f) || !json_object_is_type(f, json_type_string) ||
	    !json_object_object_get_ex(j, "gen", &g) || !json_object_is_type(g, json_type_int) ||
	    !(e = entry_add(mf, json_object_get_string(f))))
		return -EBADMSG;
	e->gen = (uint64_t)json_object_get_int64(g);
	e->pending = json_object_object_get_ex(j, "pending", &p) && json_object_get_boolean(p);
	e->removing = json_object_object_get_ex(j, "removing", &rm) && json_object_get_boolean(rm);
	if (!jstr_hex(j, "sha256", e->digest, DIGEST_HEX, true) ||
	    (e->pending && !jstr_hex(j, "prev", e->prev, DIGEST_HEX, true)))
		return -EBADMSG;
	return 0;
}

/*
 * Reads and verifies the manifest: 0, -ENOENT (none), -EXDEV (made under another key: another
 * launch image), -EKEYREJECTED (does not verify), -EBADMSG.
 */
static int manifest_read(struct manager *m, struct manifest *mf)
{
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_(json_object_putp) json_object *o = NULL;
	json_object *arr, *kid;
	char path[4200], mac[65];
	size_t len;
	char *nl;
	int r;

	manifest_path(m, path, sizeof(path));
	r = fileio_read_all(path, MANIFEST_FILE_MAX, &buf, &len);
	if (r < 0)
		return r;
	/* "<json>\n<64 hex of the MAC>\n" */
	nl = len > 66 ? memchr(buf, '\n', len) : NULL;
	if (!nl || (uint8_t *)nl + 1 + 64 + 1 != buf + len || buf[len - 1] != '\n')
		return -EKEYREJECTED;
	*nl = 0;
	if (!(o = json_tokener_parse((const char *)buf)) ||
	    !json_object_object_get_ex(o, "kid", &kid) || !json_object_is_type(kid, json_type_string))
		return -EKEYREJECTED;
	if (strcmp(json_object_get_string(kid), mf->kid) != 0)
		return -EXDEV;
	r = audit_key_mac(mf->key, (const char *)buf, strlen((const char *)buf), mac);
	if (r < 0)
		return r;
	if (!ct_memeq(mac, nl + 1, 64) || strlen((const char *)buf) != (size_t)(nl - (char *)buf))
		return -EKEYREJECTED;
	if (!json_object_object_get_ex(o, "files", &arr) || !json_object_is_type(arr, json_type_array))
		return -EBADMSG;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		r = entry_parse(mf, json_object_array_get_idx(arr, i));
		if (r < 0)
			return r;
	}
	return 0;
}

/* The digest of rel on disk: 0, -ENOENT, or -errno. */
static int file_digest(struct manager *m, const char *rel, char out[DIGEST_HEX + 1])
{
	_cleanup_free_ uint8_t *buf = NULL;
	char path[4200];
	size_t len;
	int r;

	snprintf(path, sizeof(path), "%s/%s", m->state_dir, rel);
	r = fileio_read_all(path, SEAL_BLOB_MAX, &buf, &len);
	if (r < 0)
		return r;
	return sha256_hex(buf, len, out);
}

/* Adds every DIR/NAME.sealed file as it is now. */
static int manifest_adopt_dir(struct manager *m, struct manifest *mf, const char *dir)
{
	char path[4200], rel[KEK_NAME_MAX + 24];
	struct dirent *de;
	DIR *d;
	int r = 0;

	snprintf(path, sizeof(path), "%s/%s", m->state_dir, dir);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : negative_errno();
	while (r >= 0 && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		struct entry *e;
		if (n <= 7 || strcmp(de->d_name + n - 7, ".sealed") != 0 || de->d_name[0] == '.' ||
		    n - 7 > KEK_NAME_MAX)
			continue;
		if ((size_t)snprintf(rel, sizeof(rel), "%s/%.*s", dir, KEK_NAME_MAX + 7, de->d_name) >=
		    sizeof(rel))
			continue;
		e = entry_add(mf, rel);
		r = e ? file_digest(m, rel, e->digest) : -E2BIG;
		if (e)
			e->gen = 1;
	}
	closedir(d);
	return r;
}

/* Adds every sealed KEK, exchange key and key pair file as it is now (a new manifest: trust on first use). */
static int manifest_adopt(struct manager *m, struct manifest *mf)
{
	int r = manifest_adopt_dir(m, mf, "kek");

	if (r >= 0)
		r = manifest_adopt_dir(m, mf, "exchange");
	if (r >= 0)
		r = manifest_adopt_dir(m, mf, "keypair");
	return r < 0 ? r : manifest_write(m, mf);
}

/* A crash between the manifest and the file: whichever digest is on disk is the state. */
static int manifest_settle(struct manager *m, struct manifest *mf)
{
	bool changed = false;

	for (size_t i = 0; i < mf->n; i++) {
		struct entry *e = &mf->v[i];
		char d[DIGEST_HEX + 1] = "";
		if (!e->pending)
			continue;
		int r = file_digest(m, e->rel, d);
		if (r < 0 && r != -ENOENT)
			return r;
		if (strcmp(d, e->digest) != 0 && strcmp(d, e->prev) != 0)
			continue; /* neither: refused when used */
		if (d[0] == 0) { /* no file: the removal happened or the creation did not */
			mf->v[i--] = mf->v[--mf->n];
		} else {
			if (strcmp(d, e->digest) != 0)
				e->gen--;
			strcpy(e->digest, d);
			e->pending = e->removing = false;
		}
		changed = true;
	}
	return changed ? manifest_write(m, mf) : 0;
}

static int manifest_load(struct manager *m)
{
	_cleanup_(manifest_freep) struct manifest *mf = NULL;
	int r;

	if (m->manifest || !m->dev)
		return 0;
	if (!m->attest.report_valid)
		return -ENOKEY;
	mf = calloc(1, sizeof(*mf));
	if (!mf || !(mf->v = calloc(MANIFEST_MAX_ENTRIES, sizeof(*mf->v))))
		return -ENOMEM;
	r = audit_key_derive_info(m->dev, m->attest.report.vmpl, manifest_info, &mf->key, mf->kid);
	if (r < 0)
		return r;
	r = manifest_read(m, mf);
	if (r == -ENOENT || r == -EXDEV) {
		sd_journal_send("MESSAGE=vhsm store manifest: %s; recording the %s sealed files as "
				"they are now", r == -ENOENT ? "none yet" :
				"made by another launch image", "current",
				"PRIORITY=%d", r == -ENOENT ? 5 : 4, NULL);
		mf->n = 0;
		r = manifest_adopt(m, mf);
	} else if (r == 0) {
		r = manifest_settle(m, mf);
	}
	if (r < 0)
		return r;
	m->manifest = TAKE_PTR(mf);
	return 0;
}

int manifest_check(struct manager *m, const char *rel, const uint8_t *blob, size_t len,
		   char *why, size_t whylen)
{
	char d[DIGEST_HEX + 1];
	struct entry *e;
	int r = manifest_load(m);

	if (r == -EKEYREJECTED || r == -EBADMSG) {
		snprintf(why, whylen, "the store manifest does not verify (edited or replaced): "
			 "sealed files are not used");
		sd_journal_send("MESSAGE=vhsm store manifest: %s", why, "PRIORITY=3", NULL);
		return -EKEYREJECTED;
	}
	if (r < 0 || !m->manifest)
		return r == -ENOKEY ? 0 : r; /* before the first report the gate refuses anyway */
	r = sha256_hex(blob, len, d);
	if (r < 0)
		return r;
	e = entry_find(m->manifest, rel);
	if (e && (strcmp(d, e->digest) == 0 || (e->pending && strcmp(d, e->prev) == 0)))
		return 0;
	m->manifest->refusals++;
	snprintf(why, whylen, "%s is not the sealed file this CVM wrote last: refused as rolled "
		 "back, replaced or modified (the store manifest %s)", rel,
		 e ? "names another generation" : "does not list it: deleted or purged");
	sd_journal_send("MESSAGE=vhsm store: %s", why, "PRIORITY=3", "VHSM_EVENT=store.rollback",
			"VHSM_FILE=%s", rel, NULL);
	return -EKEYREJECTED;
}

int manifest_begin(struct manager *m, const char *rel, const uint8_t *blob, size_t len)
{
	struct entry *e;
	int r = manifest_load(m);

	if (r < 0)
		return r == -ENOKEY ? 0 : r;
	if (!m->manifest)
		return 0;
	size_t n_before = m->manifest->n;
	struct entry saved = {};
	e = entry_find(m->manifest, rel);
	if (!e) {
		if (!blob)
			return 0;
		if (!(e = entry_add(m->manifest, rel)))
			return -E2BIG;
	} else {
		saved = *e;
		strcpy(e->prev, e->digest);
	}
	e->pending = true;
	e->removing = !blob;
	e->gen++;
	if (blob) {
		r = sha256_hex(blob, len, e->digest);
		if (r < 0)
			return r;
	} else {
		e->digest[0] = 0;
	}
	r = manifest_write(m, m->manifest);
	if (r < 0) {
		/* Not on disk: the file is not touched, so nothing changed. */
		if (m->manifest->n > n_before)
			m->manifest->n = n_before;
		else
			*e = saved;
	}
	return r;
}

int manifest_commit(struct manager *m, const char *rel)
{
	struct entry *e;

	if (!m->manifest)
		return 0;
	e = entry_find(m->manifest, rel);
	if (!e)
		return 0;
	if (e->removing)
		*e = m->manifest->v[--m->manifest->n];
	else
		e->pending = false;
	return manifest_write(m, m->manifest);
}

unsigned manifest_refusals(const struct manager *m)
{
	return m->manifest ? m->manifest->refusals : 0;
}
