/* SPDX-License-Identifier: Apache-2.0 */
/* The fleet identity (fleet-identity.h): its sealed key and installed certificate. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "attest.h"
#include "clock.h"
#include "ct.h"
#include "fileio.h"
#include "fleet-identity.h"
#include "json.h"
#include "log.h"
#include "manifest.h"
#include "openssl-util.h"
#include "secmem.h"
#include "seal.h"
#include "store-seal.h"

#define FLEET_META_MAX 4096u

struct meta_json {
	char name[FLEET_NAME_MAX + 1];
	char alg[16];
	uint64_t created;
	const char *spki;
};

static const struct json_field meta_table[] = {
	{ "name", json_type_string, json_dispatch_strbuf, offsetof(struct meta_json, name),
	  JSON_MANDATORY, 1, FLEET_NAME_MAX },
	{ "alg", json_type_string, json_dispatch_strbuf, offsetof(struct meta_json, alg),
	  JSON_MANDATORY, 1, 15 },
	{ "created", json_type_int, json_dispatch_uint64, offsetof(struct meta_json, created),
	  JSON_MANDATORY, 0, INT64_MAX },
	{ "spki", json_type_string, json_dispatch_string, offsetof(struct meta_json, spki),
	  JSON_MANDATORY, 4, CT_BASE64_LEN(KEYPAIR_SPKI_MAX) },
	{}
};

static int meta_to_json(const struct fleet_identity *id, char **ret)
{
	_cleanup_(json_object_putp) json_object *o = json_object_new_object();
	_cleanup_free_ char *b = malloc(CT_BASE64_LEN(id->spki_len) + 1);

	if (!o || !b)
		return -ENOMEM;
	ct_base64_encode(b, id->spki, id->spki_len);
	json_object_object_add(o, "name", json_object_new_string(id->name));
	json_object_object_add(o, "alg", json_object_new_string(keypair_alg_to_string(id->alg)));
	json_object_object_add(o, "created", json_object_new_int64((int64_t)id->created));
	json_object_object_add(o, "spki", json_object_new_string(b));
	*ret = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	return *ret ? 0 : -ENOMEM;
}

static int meta_parse(const uint8_t *json, size_t len, struct fleet_identity *ret)
{
	_cleanup_(json_object_putp) json_object *o = NULL;
	struct meta_json j = {};
	struct fleet_identity id = {};
	char err[JSON_ERR_MAX];
	int n;

	if (json_parse((const char *)json, len, FLEET_META_MAX, "fleet identity", &o, err,
		       sizeof(err)) < 0 ||
	    json_dispatch(o, NULL, meta_table, &j, err, sizeof(err)) < 0)
		return -EBADMSG;
	id.alg = keypair_alg_from_string(j.alg);
	if (!fleet_name_valid(j.name) || (id.alg != KEYPAIR_EC_P256 && id.alg != KEYPAIR_RSA3072))
		return -EBADMSG;
	n = ct_base64_decode(id.spki, sizeof(id.spki), j.spki, strlen(j.spki));
	if (n <= 0)
		return -EBADMSG;
	id.spki_len = (size_t)n;
	strcpy(id.name, j.name);
	id.created = j.created;
	*ret = id;
	return 0;
}

/* Reads the sealed file and checks it against the manifest, its label and its metadata. */
static int read_sealed(struct manager *m, uint8_t **ret_blob, size_t *ret_len,
		       struct seal_header *ret_h, struct fleet_identity *ret_id, char *why,
		       size_t whylen)
{
	_cleanup_free_ uint8_t *blob = NULL;
	struct seal_header h;
	size_t len;
	int r = fileio_read_all_at(m->state_fd, FLEET_IDENTITY_SEALED, SEAL_BLOB_MAX, &blob, &len);

	if (r == -ENOENT) {
		snprintf(why, whylen, "no fleet identity: enroll first (vhsmctl fleet enroll)");
		return -ENOKEY;
	}
	if (r < 0) {
		snprintf(why, whylen, "cannot read the fleet identity: %s", strerror(-r));
		return r;
	}
	r = manifest_check(m->manifest, FLEET_IDENTITY_SEALED, blob, len, why, whylen);
	if (r < 0)
		return r;
	if (seal_parse_header(blob, len, &h) < 0 || strcmp(h.label, FLEET_IDENTITY_LABEL) != 0 ||
	    meta_parse(h.meta, h.meta_len, ret_id) < 0) {
		snprintf(why, whylen, "the sealed fleet identity is damaged");
		return -EBADMSG;
	}
	*ret_h = h;
	*ret_len = len;
	*ret_blob = TAKE_PTR(blob);
	return 0;
}

int fleet_identity_read(struct manager *m, struct fleet_identity *ret, char *why, size_t whylen)
{
	_cleanup_free_ uint8_t *blob = NULL;
	struct seal_header h;
	size_t len;

	return read_sealed(m, &blob, &len, &h, ret, why, whylen);
}

/* gcc 12's -fanalyzer reports the cleanup pointers below as uninitialised on early returns,
 * although each is initialised at its declaration: the false positive op-byok.c describes. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-use-of-uninitialized-value"
/* Seals der under id's metadata and writes the file through the manifest. */
static int write_sealed(struct manager *m, const struct fleet_identity *id,
			enum seal_profile profile, const uint8_t *der, size_t der_len,
			char *why, size_t whylen)
{
	_cleanup_free_ uint8_t *blob = NULL;
	_cleanup_free_ char *json = NULL;
	struct seal_params params;
	struct seal_binding binding;
	size_t len;
	int r = meta_to_json(id, &json);

	if (r < 0)
		return r;
	r = store_seal_now(m, profile, FLEET_IDENTITY_LABEL, json, strlen(json), der, der_len,
			   "the fleet identity", &params, &binding, &blob, &len, why, whylen);
	if (r < 0)
		return r;
	if (mkdirat(m->state_fd, "fleet", 0700) < 0 && errno != EEXIST)
		return negative_errno();
	r = manifest_begin(m->manifest, FLEET_IDENTITY_SEALED, blob, len);
	if (r < 0) {
		snprintf(why, whylen, "cannot update the store manifest: %s", strerror(-r));
		return r;
	}
	r = fileio_write_atomic_at(m->state_fd, FLEET_IDENTITY_SEALED, blob, len, 0600);
	if (r < 0) {
		snprintf(why, whylen, "cannot write the fleet identity: %s", strerror(-r));
		return r;
	}
	if (manifest_commit(m->manifest, FLEET_IDENTITY_SEALED) < 0)
		vhsm_log_debug("store: cannot commit the manifest entry of %s",
			       FLEET_IDENTITY_SEALED);
	return 0;
}

int fleet_identity_create(struct manager *m, const char *name, enum keypair_alg alg,
			  struct fleet_identity *ret, EVP_PKEY **ret_key, char *why,
			  size_t whylen)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
	_cleanup_secmem_ uint8_t *der = NULL;
	_cleanup_(openssl_freep) uint8_t *spki = NULL;
	struct fleet_identity id = { .alg = alg };
	size_t der_len;
	int n, r;

	if (!fleet_name_valid(name) || (alg != KEYPAIR_EC_P256 && alg != KEYPAIR_RSA3072))
		return -EINVAL;
	r = attest_require(m, false, why, whylen);
	if (r < 0)
		return r;
	r = keypair_generate(alg, &pkey);
	if (r >= 0)
		r = keypair_private_der(pkey, &der, &der_len);
	n = r >= 0 ? i2d_PUBKEY(pkey, &spki) : -1;
	if (n <= 0 || (size_t)n > sizeof(id.spki)) {
		snprintf(why, whylen, "fleet key generation failed");
		return r < 0 ? r : -EIO;
	}
	memcpy(id.spki, spki, (size_t)n);
	id.spki_len = (size_t)n;
	strcpy(id.name, name);
	id.created = clock_wall(m);
	r = write_sealed(m, &id, SEAL_PROFILE_STRICT, der, der_len, why, whylen);
	if (r < 0)
		return r;
	/* The old certificate names the old key: it can never be used again. */
	r = fileio_remove_at(m->state_fd, FLEET_IDENTITY_CERT);
	if (r < 0 && r != -ENOENT)
		vhsm_log_debug("fleet: cannot remove the old certificate: %s", strerror(-r));
	*ret = id;
	*ret_key = TAKE_PTR(pkey);
	return 0;
}

/* Unseals the identity's private key (PKCS#8 DER in secmem). */
static int unseal(struct manager *m, struct fleet_identity *ret_id, uint8_t **ret_der,
		  size_t *ret_len, enum seal_profile *ret_profile, char *why, size_t whylen)
{
	_cleanup_free_ uint8_t *blob = NULL;
	struct seal_header h;
	size_t len;
	int r = attest_require(m, false, why, whylen);

	if (r < 0)
		return r;
	r = read_sealed(m, &blob, &len, &h, ret_id, why, whylen);
	if (r < 0)
		return r;
	*ret_profile = h.params.profile;
	return store_unseal_now(m, &h, blob, len, "the sealed fleet identity", ret_der, ret_len,
				why, whylen);
}

int fleet_identity_open(struct manager *m, struct fleet_identity *ret, EVP_PKEY **ret_key,
			char *why, size_t whylen)
{
	_cleanup_secmem_ uint8_t *der = NULL;
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
	_cleanup_(openssl_freep) uint8_t *spki = NULL;
	struct fleet_identity id;
	enum seal_profile profile;
	size_t der_len;
	int n, r = unseal(m, &id, &der, &der_len, &profile, why, whylen);

	if (r < 0)
		return r;
	r = keypair_private_parse(der, der_len, &pkey);
	n = r >= 0 ? i2d_PUBKEY(pkey, &spki) : -1;
	/* The metadata's public key is the sealed key's: a file put together from two is not
	 * an identity. */
	if (n <= 0 || (size_t)n != id.spki_len || CRYPTO_memcmp(spki, id.spki, id.spki_len)) {
		snprintf(why, whylen, "the sealed fleet identity holds no valid private key");
		return -EBADMSG;
	}
	*ret = id;
	*ret_key = TAKE_PTR(pkey);
	return 0;
}

int fleet_identity_rename(struct manager *m, const char *name, char *why, size_t whylen)
{
	_cleanup_secmem_ uint8_t *der = NULL;
	struct fleet_identity id;
	enum seal_profile profile;
	size_t der_len;
	int r;

	if (!fleet_name_valid(name))
		return -EINVAL;
	r = unseal(m, &id, &der, &der_len, &profile, why, whylen);
	if (r < 0)
		return r;
	if (strcmp(id.name, name) == 0)
		return 0;
	strcpy(id.name, name);
	return write_sealed(m, &id, profile, der, der_len, why, whylen);
}

int fleet_identity_cert_write(struct manager *m, const uint8_t *pem, size_t len)
{
	if (mkdirat(m->state_fd, "fleet", 0700) < 0 && errno != EEXIST)
		return negative_errno();
	return fileio_write_atomic_at(m->state_fd, FLEET_IDENTITY_CERT, pem, len, 0644);
}

int fleet_identity_cert_read(struct manager *m, uint8_t **ret, size_t *ret_len)
{
	return fileio_read_all_at(m->state_fd, FLEET_IDENTITY_CERT, FLEET_CHAIN_MAX, ret, ret_len);
}

int fleet_identity_tls(struct manager *m, EVP_PKEY **ret_key, char *ret_cert_path, size_t len,
		       char *why, size_t whylen)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
	_cleanup_free_ uint8_t *pem = NULL;
	struct fleet_identity id;
	struct fleet_cert_info info;
	char date[32];
	size_t pem_len;
	int n, r = fleet_identity_read(m, &id, why, whylen);

	if (r == -ENOKEY)
		snprintf(why, whylen, "no fleet identity enrolled (vhsmctl fleet enroll)");
	if (r < 0)
		return r;
	r = fleet_identity_cert_read(m, &pem, &pem_len);
	if (r == -ENOENT) {
		snprintf(why, whylen, "no fleet identity enrolled: the key of %s has no certificate "
			 "installed (vhsmctl fleet install-cert)", id.name);
		return -ENOKEY;
	}
	if (r < 0) {
		snprintf(why, whylen, "cannot read the fleet certificate %s: %s",
			 FLEET_IDENTITY_CERT, strerror(-r));
		return r;
	}
	/* The chain was verified at installation; here: still this key's, still valid. */
	if (fleet_cert_info(pem, pem_len, clock_latest(m), &info) < 0) {
		snprintf(why, whylen, "the fleet certificate %s is not a PEM certificate chain "
			 "(install the certificate again)", FLEET_IDENTITY_CERT);
		return -EBADMSG;
	}
	if (clock_latest(m) >= info.not_after) {
		snprintf(why, whylen, "the fleet certificate has expired: enroll again (a fresh "
			 "attestation) and install the new certificate (expired %s)",
			 clock_iso(info.not_after, date));
		return -EKEYEXPIRED;
	}
	/* A certificate file replaced behind install-cert's back: another key's is refused here,
	 * before the key is unsealed or any connection is made. */
	if (fleet_cert_key_matches(pem, pem_len, id.spki, id.spki_len) < 0) {
		snprintf(why, whylen, "the installed fleet certificate (%s) is not for the sealed "
			 "key of %s: install the certificate issued for its enrollment, or enroll "
			 "again", FLEET_IDENTITY_CERT, id.name);
		return -EKEYREJECTED;
	}
	r = fleet_identity_open(m, &id, &pkey, why, whylen);
	if (r < 0)
		return r;
	/* The TLS client opens the certificate by name: through the state directory's fd, as
	 * every other state file, so it is the file just checked against the key whatever
	 * happens to the state directory's path meanwhile. */
	n = snprintf(NULL, 0, "/proc/self/fd/%d/%s", m->state_fd, FLEET_IDENTITY_CERT);
	if (n < 0 || (size_t)n >= len) {
		snprintf(why, whylen, "no room for the fleet certificate's path");
		return -ENAMETOOLONG;
	}
	snprintf(ret_cert_path, len, "/proc/self/fd/%d/%s", m->state_fd, FLEET_IDENTITY_CERT);
	*ret_key = TAKE_PTR(pkey);
	return 0;
}
#pragma GCC diagnostic pop
