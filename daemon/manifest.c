/* SPDX-License-Identifier: Apache-2.0 */
/* The store manifest: generation and digest of every sealed KEK, exchange key and DEK file (see
 * manifest.h). */
#include <fcntl.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "algs.h"
#include "audit-key.h"
#include "clock.h"
#include "ct.h"
#include "dir-util.h"
#include "fileio.h"
#include "json.h"
#include "manifest.h"
#include "secmem.h"
#include "text.h"

#define MANIFEST_MAX_ENTRIES 4096u
#define MANIFEST_FILE_MAX (2u * 1024u * 1024u)
#define DIGEST_HEX 64u
/* 1: sealed KEK and exchange key files; 2: also the DEK registry (dek/NAME.dek) and the
 * volumes each KEK unlocked (volumes/UUID.json). */
#define MANIFEST_FORMAT 2

struct entry {
	char rel[KEK_NAME_MAX + 24];
	uint64_t gen;
	char digest[DIGEST_HEX + 1];
	char prev[DIGEST_HEX + 1]; /* pending: the digest before ("" = no file before) */
	bool pending;
	bool removing;             /* pending removal */
};

struct manifest {
	struct manifest_env env;
	bool loaded;
	uint8_t *key; /* secmem */
	char kid[AUDIT_KID_HEX + 1];
	struct entry *v;
	size_t n;
	int format; /* as read */
	bool anchor_stale; /* the clock anchor read is not of this boot (or there is none) */
	unsigned refusals;
};

static const char manifest_info[] = "vhsm-store-manifest-v1";

int manifest_new(const struct manifest_env *env, struct manifest **ret)
{
	struct manifest *mf = calloc(1, sizeof(*mf));

	if (!mf)
		return -ENOMEM;
	mf->env = *env;
	*ret = mf;
	return 0;
}

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

static const char manifest_file[] = "store.manifest";

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

/* This boot's id ("" when unknown: then no anchor is kept across starts). */
static void boot_id(char out[40])
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;

	out[0] = 0;
	if (fileio_read_all("/proc/sys/kernel/random/boot_id", 64, &buf, &len) < 0 || len < 36)
		return;
	memcpy(out, buf, 36);
	out[36] = 0;
}

/* The earliest clock anchor of this boot (clock.h), so a restart still sees a clock moved
 * forwards since then. */
static json_object *anchor_json(const struct manifest *mf)
{
	struct clock_anchor a = mf->env.clock_boot->set ? *mf->env.clock_boot : *mf->env.clock_start;
	json_object *j = json_object_new_object();
	char id[40];

	boot_id(id);
	if (!j || !a.set || !id[0])
		return j;
	json_object_object_add(j, "boot_id", json_object_new_string(id));
	json_object_object_add(j, "wall", json_object_new_int64((int64_t)a.wall));
	json_object_object_add(j, "boot", json_object_new_int64((int64_t)a.boot));
	return j;
}

/* The clock anchor's members as json_dispatch() leaves them (UINT64_MAX: absent). */
struct anchor_json {
	const char *boot_id;
	uint64_t wall, boot;
};
static const struct json_field anchor_table[] = {
	{ "boot_id", json_type_string, json_dispatch_string,
	  offsetof(struct anchor_json, boot_id), 0, 1, 64 },
	{ "wall", json_type_int, json_dispatch_uint64, offsetof(struct anchor_json, wall), 0, 0,
	  INT64_MAX },
	{ "boot", json_type_int, json_dispatch_uint64, offsetof(struct anchor_json, boot), 0, 0,
	  INT64_MAX },
	{}
};

/* Takes the anchor of the verified manifest (o: its "clock", may be NULL) when it is of this
 * boot. An anchor that is absent, partial or of another boot leaves the one held. */
static void anchor_parse(struct manifest *mf, json_object *o)
{
	struct anchor_json a = { .wall = UINT64_MAX, .boot = UINT64_MAX };
	char cur[40];

	boot_id(cur);
	mf->anchor_stale = true;
	if (!o || json_dispatch(o, "clock", anchor_table, &a, NULL, 0) < 0 || !a.boot_id ||
	    a.wall == UINT64_MAX || a.boot == UINT64_MAX || !cur[0] || strcmp(a.boot_id, cur) != 0)
		return;
	clock_anchor_merge(mf->env.clock_boot, a.wall, a.boot);
	mf->anchor_stale = false;
}

/* Serializes the entries and appends "\n" + HMAC(key, json) as hex. */
static int manifest_write(struct manifest *mf)
{
	_cleanup_(json_object_putp) json_object *o = json_object_new_object();
	json_object *arr = json_object_new_array();
	_cleanup_free_ char *text = NULL;
	char mac[65];
	int r;

	if (!o || !arr)
		return -ENOMEM;
	json_object_object_add(o, "format", json_object_new_int(MANIFEST_FORMAT));
	json_object_object_add(o, "kid", json_object_new_string(mf->kid));
	json_object_object_add(o, "files", arr);
	json_object_object_add(o, "clock", anchor_json(mf));
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
	return fileio_write_atomic_at(mf->env.dir_fd, manifest_file, text, strlen(text), 0600);
}

/* One entry's members as json_dispatch() leaves them (strings borrowed from the tree). */
struct entry_json {
	const char *file, *sha256, *prev;
	uint64_t gen;
	bool pending, removing;
};
#define ENTRY_FIELD(n, t, fn, mem, flags, lo, hi)                                                 \
	{ n, t, fn, offsetof(struct entry_json, mem), flags, lo, hi }
static const struct json_field entry_table[] = {
	ENTRY_FIELD("file", json_type_string, json_dispatch_string, file, JSON_MANDATORY, 1,
		    KEK_NAME_MAX + 23),
	ENTRY_FIELD("gen", json_type_int, json_dispatch_uint64, gen, JSON_MANDATORY, 0, INT64_MAX),
	ENTRY_FIELD("sha256", json_type_string, json_dispatch_string, sha256, JSON_MANDATORY, 0,
		    DIGEST_HEX),
	ENTRY_FIELD("pending", json_type_boolean, json_dispatch_bool, pending, 0, 0, 0),
	ENTRY_FIELD("removing", json_type_boolean, json_dispatch_bool, removing, 0, 0, 0),
	ENTRY_FIELD("prev", json_type_string, json_dispatch_string, prev, 0, 0, DIGEST_HEX),
	{}
};

/* A SHA-256 as the manifest writes it: 64 lowercase hex digits, or "" (no file). */
static bool digest_valid(const char *s)
{
	size_t n = strlen(s);

	return (n == DIGEST_HEX || n == 0) && strspn(s, "0123456789abcdef") == n;
}

/* Parses entry i (j) of the verified manifest. */
static int entry_parse(struct manifest *mf, json_object *j, size_t i)
{
	struct entry_json ej = {};
	char path[JSON_PATH_MAX];
	struct entry *e;

	if (json_dispatch(j, json_path(path, "files", NULL, i), entry_table, &ej, NULL, 0) < 0 ||
	    !digest_valid(ej.sha256) || (ej.pending && (!ej.prev || !digest_valid(ej.prev))) ||
	    !(e = entry_add(mf, ej.file)))
		return -EBADMSG;
	e->gen = ej.gen;
	e->pending = ej.pending;
	e->removing = ej.removing;
	strcpy(e->digest, ej.sha256);
	if (ej.pending)
		strcpy(e->prev, ej.prev);
	return 0;
}

/* The manifest's members as json_dispatch() leaves them (borrowed from the tree). */
struct manifest_json {
	const char *kid;
	int64_t format;
	json_object *files, *clock;
};
static const struct json_field manifest_table[] = {
	{ "format", json_type_int, json_dispatch_int64, offsetof(struct manifest_json, format),
	  JSON_MANDATORY, INT32_MIN, INT32_MAX },
	{ "kid", json_type_string, json_dispatch_string, offsetof(struct manifest_json, kid),
	  JSON_MANDATORY, 1, 128 },
	{ "files", json_type_array, json_dispatch_borrow, offsetof(struct manifest_json, files),
	  JSON_MANDATORY, 0, 0 },
	{ "clock", json_type_object, json_dispatch_borrow, offsetof(struct manifest_json, clock),
	  0, 0, 0 },
	{}
};

/*
 * Reads and verifies the manifest: 0, -ENOENT (none), -EXDEV (made under another key: another
 * launch image), -EKEYREJECTED (does not verify), -EBADMSG.
 */
static int manifest_read(struct manifest *mf)
{
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_(json_object_putp) json_object *o = NULL;
	struct manifest_json mj = {};
	char mac[65];
	size_t len;
	char *nl;
	int r;

	r = fileio_read_all_at(mf->env.dir_fd, manifest_file, MANIFEST_FILE_MAX, &buf, &len);
	if (r < 0)
		return r;
	/* "<json>\n<64 hex of the MAC>\n" */
	nl = len > 66 ? memchr(buf, '\n', len) : NULL;
	if (!nl || (uint8_t *)nl + 1 + 64 + 1 != buf + len || buf[len - 1] != '\n')
		return -EKEYREJECTED;
	*nl = 0;
	/* Strict and bounded before anything is believed; the members are trusted only once the
	 * MAC over the whole text verifies. */
	if (json_parse((const char *)buf, (size_t)(nl - (char *)buf), MANIFEST_FILE_MAX,
		       "store manifest", &o, NULL, 0) < 0 ||
	    json_dispatch(o, NULL, manifest_table, &mj, NULL, 0) < 0)
		return -EKEYREJECTED;
	if (strcmp(mj.kid, mf->kid) != 0)
		return -EXDEV;
	r = audit_key_mac(mf->key, (const char *)buf, strlen((const char *)buf), mac);
	if (r < 0)
		return r;
	if (!ct_memeq(mac, nl + 1, 64) || strlen((const char *)buf) != (size_t)(nl - (char *)buf))
		return -EKEYREJECTED;
	if (mj.format < 1 || mj.format > MANIFEST_FORMAT)
		return -EBADMSG;
	mf->format = (int)mj.format;
	for (size_t i = 0; i < json_object_array_length(mj.files); i++) {
		r = entry_parse(mf, json_object_array_get_idx(mj.files, i), i);
		if (r < 0)
			return r;
	}
	anchor_parse(mf, mj.clock);
	return 0;
}

/* The digest of rel on disk: 0, -ENOENT, or -errno. */
static int file_digest(const struct manifest *mf, const char *rel, char out[DIGEST_HEX + 1])
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	int r;

	r = fileio_read_all_at(mf->env.dir_fd, rel, SEAL_BLOB_MAX, &buf, &len);
	if (r < 0)
		return r;
	return sha256_hex(buf, len, out);
}

struct adopt_walk {
	struct manifest *mf;
	const char *dir;
};

/* Adds one DIR/NAME<suffix> file (unless hidden or listed already) as it is now. */
static int adopt_one(const char *entry, size_t stem_len, void *userdata)
{
	const struct adopt_walk *w = userdata;
	char rel[KEK_NAME_MAX + 24];
	struct entry *e;

	(void)stem_len;
	if (entry[0] == '.')
		return 0;
	if ((size_t)snprintf(rel, sizeof(rel), "%s/%s", w->dir, entry) >= sizeof(rel) ||
	    entry_find(w->mf, rel))
		return 0;
	e = entry_add(w->mf, rel);
	if (!e)
		return -E2BIG;
	e->gen = 1;
	return file_digest(w->mf, rel, e->digest);
}

/* Adds every DIR/NAME<suffix> file (not listed yet) as it is now. */
static int manifest_adopt_dir(struct manifest *mf, const char *dir, const char *suffix)
{
	struct adopt_walk w = { .mf = mf, .dir = dir };
	int r = dir_for_each_suffix(mf->env.dir_fd, dir, suffix, KEK_NAME_MAX, adopt_one, &w);

	return r == -ENOENT ? 0 : r;
}

/* Adds every sealed KEK, exchange key, key pair and fleet identity file as it is now (a new
 * manifest: trust on first use). */
static int manifest_adopt(struct manifest *mf)
{
	int r = manifest_adopt_dir(mf, "kek", ".sealed");

	if (r >= 0)
		r = manifest_adopt_dir(mf, "exchange", ".sealed");
	if (r >= 0)
		r = manifest_adopt_dir(mf, "keypair", ".sealed");
	if (r >= 0)
		r = manifest_adopt_dir(mf, "fleet", ".sealed");
	if (r >= 0)
		r = manifest_adopt_dir(mf, "dek", ".dek");
	if (r >= 0)
		r = manifest_adopt_dir(mf, "volumes", ".json");
	return r < 0 ? r : manifest_write(mf);
}

/*
 * A manifest of format 1 did not list the DEK registry: its files are recorded as they are now
 * (trust on first use, once, as for a new manifest); the KEK entries keep their generations.
 */
static int manifest_upgrade(struct manifest *mf)
{
	int r;

	if (mf->format >= MANIFEST_FORMAT)
		return mf->anchor_stale ? manifest_write(mf) : 0; /* this boot's first anchor */
	sd_journal_send("MESSAGE=vhsm store manifest: format %d; recording the DEK registry and "
			"volume files as they are now", mf->format, "PRIORITY=%d", LOG_NOTICE, NULL);
	r = manifest_adopt_dir(mf, "dek", ".dek");
	if (r >= 0)
		r = manifest_adopt_dir(mf, "volumes", ".json");
	if (r >= 0)
		mf->format = MANIFEST_FORMAT;
	return r < 0 ? r : manifest_write(mf);
}

/* A crash between the manifest and the file: whichever digest is on disk is the state. */
static int manifest_settle(struct manifest *mf)
{
	bool changed = false;

	for (size_t i = 0; i < mf->n; i++) {
		struct entry *e = &mf->v[i];
		char d[DIGEST_HEX + 1] = "";
		if (!e->pending)
			continue;
		int r = file_digest(mf, e->rel, d);
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
	return changed ? manifest_write(mf) : 0;
}

/* Drops what a failed load left (the next use loads again). */
static void manifest_unload(struct manifest *mf)
{
	mf->key = secmem_free(mf->key);
	free(mf->v);
	mf->v = NULL;
	mf->n = 0;
	mf->format = 0;
	mf->anchor_stale = false;
}

/* 1 when loaded, 0 when there is no manifest (NULL, or no SNP device: unit tests), -ENOKEY
 * before the first verified report, or -errno. */
static int manifest_load(struct manifest *mf)
{
	int r;

	if (!mf || !mf->env.dev)
		return 0;
	if (mf->loaded)
		return 1;
	if (!mf->env.attest->report_valid)
		return -ENOKEY;
	mf->v = calloc(MANIFEST_MAX_ENTRIES, sizeof(*mf->v));
	if (!mf->v)
		return -ENOMEM;
	r = audit_key_derive_info(mf->env.dev, mf->env.attest->report.vmpl, manifest_info,
				  &mf->key, mf->kid);
	if (r >= 0)
		r = manifest_read(mf);
	if (r == -ENOENT || r == -EXDEV) {
		sd_journal_send("MESSAGE=vhsm store manifest: %s; recording the %s sealed files as "
				"they are now", r == -ENOENT ? "none yet" :
				"made by another launch image", "current",
				"PRIORITY=%d", r == -ENOENT ? LOG_NOTICE : LOG_WARNING, NULL);
		mf->n = 0;
		r = manifest_adopt(mf);
	} else if (r == 0) {
		r = manifest_settle(mf);
		if (r >= 0)
			r = manifest_upgrade(mf);
	}
	if (r < 0) {
		manifest_unload(mf);
		return r;
	}
	mf->loaded = true;
	return 1;
}

int manifest_check(struct manifest *mf, const char *rel, const uint8_t *blob, size_t len,
		   char *why, size_t whylen)
{
	char d[DIGEST_HEX + 1];
	struct entry *e;
	int r = manifest_load(mf);

	if (r == -EKEYREJECTED || r == -EBADMSG) {
		snprintf(why, whylen, "the store manifest does not verify (edited or replaced): "
			 "sealed files are not used");
		sd_journal_send("MESSAGE=vhsm store manifest: %s", why, "PRIORITY=%d", LOG_ERR, NULL);
		return -EKEYREJECTED;
	}
	if (r <= 0)
		return r == -ENOKEY ? 0 : r; /* before the first report the gate refuses anyway */
	r = sha256_hex(blob, len, d);
	if (r < 0)
		return r;
	e = entry_find(mf, rel);
	if (e && (strcmp(d, e->digest) == 0 || (e->pending && strcmp(d, e->prev) == 0)))
		return 0;
	mf->refusals++;
	snprintf(why, whylen, "%s is not the sealed file this CVM wrote last: refused as rolled "
		 "back, replaced or modified (the store manifest %s)", rel,
		 e ? "names another generation" : "does not list it: deleted or purged");
	sd_journal_send("MESSAGE=vhsm store: %s", why, "PRIORITY=%d", LOG_ERR,
			"VHSM_EVENT=store.rollback", "VHSM_FILE=%s", rel, NULL);
	return -EKEYREJECTED;
}

int manifest_begin(struct manifest *mf, const char *rel, const uint8_t *blob, size_t len)
{
	struct entry *e;
	int r = manifest_load(mf);

	if (r <= 0)
		return r == -ENOKEY ? 0 : r;
	size_t n_before = mf->n;
	struct entry saved = {};
	e = entry_find(mf, rel);
	if (!e) {
		if (!blob)
			return 0;
		if (!(e = entry_add(mf, rel)))
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
	r = manifest_write(mf);
	if (r < 0) {
		/* Not on disk: the file is not touched, so nothing changed. */
		if (mf->n > n_before)
			mf->n = n_before;
		else
			*e = saved;
	}
	return r;
}

int manifest_commit(struct manifest *mf, const char *rel)
{
	struct entry *e;

	if (!mf || !mf->loaded)
		return 0;
	e = entry_find(mf, rel);
	if (!e)
		return 0;
	if (e->removing)
		*e = mf->v[--mf->n];
	else
		e->pending = false;
	return manifest_write(mf);
}

unsigned manifest_refusals(const struct manifest *mf)
{
	return mf ? mf->refusals : 0;
}
