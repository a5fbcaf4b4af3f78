/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fleet enrollment requests (docs/fleet.md "Enrollment", docs/PROTOCOL.md): FLEET_ENROLL makes
 * (or keeps) the sealed fleet TLS key and returns a CSR with a fresh report binding its public
 * key, the caller's nonce and an expiry; FLEET_INSTALL_CERT puts the fleet CA's certificate
 * for that key in place; FLEET_SHOW describes both; FLEET_CHECK opens a KMIP connection with
 * the identity and runs a Locate.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "attest.h"
#include "clock.h"
#include "ct.h"
#include "fleet-identity.h"
#include "json.h"
#include "kmip-client.h"
#include "kmip.h"
#include "limits.h"
#include "openssl-util.h"
#include "ops.h"

#define FLEET_CHECK_TIMEOUT_MS 5000
#define FLEET_CHECK_BUF (16u * 1024u)

static int enroll_alg(struct op_ctx *c, enum keypair_alg *ret)
{
	char s[16];
	int r = vhsm_wire_get_str(c->req, VHSM_TAG_KEY_ALG, s, sizeof(s));
	enum keypair_alg a;

	if (r == -ENOENT) {
		*ret = _KEYPAIR_ALG_INVALID; /* the kept key's, or ec-p256 for a new one */
		return 0;
	}
	a = r < 0 ? _KEYPAIR_ALG_INVALID : keypair_alg_from_string(s);
	if (a != KEYPAIR_EC_P256 && a != KEYPAIR_RSA3072)
		return op_fail(c, -EINVAL, "the fleet key is ec-p256 or rsa3072");
	*ret = a;
	return 0;
}

/* The identity to enroll: the kept one (renamed if asked), or a new one. */
static int enroll_identity(struct op_ctx *c, const char *name, enum keypair_alg alg,
			   bool new_key, struct fleet_identity *id, EVP_PKEY **ret_key,
			   bool *ret_created)
{
	int r = fleet_identity_read(c->m, id, c->why, sizeof(c->why));

	if (r < 0 && r != -ENOKEY && !new_key)
		return r; /* damaged or rolled back: only --new-key replaces it */
	if (r == -ENOKEY || new_key) {
		if (!name[0] && r >= 0)
			name = id->name; /* a new key for the same identity */
		if (!name[0])
			return op_fail(c, -EINVAL, "a name (the certificate's CN) is required for a "
				       "new fleet identity");
		c->why[0] = 0;
		char cn[FLEET_NAME_MAX + 1];
		snprintf(cn, sizeof(cn), "%s", name);
		*ret_created = true;
		return fleet_identity_create(c->m, cn, alg < 0 ? KEYPAIR_EC_P256 : alg, id,
					     ret_key, c->why, sizeof(c->why));
	}
	if (alg >= 0 && alg != id->alg)
		return op_fail(c, -EINVAL, "the fleet key is %s: give --new-key to replace it with "
			       "a %s key", keypair_alg_to_string(id->alg), keypair_alg_to_string(alg));
	if (name[0] && strcmp(name, id->name) != 0) {
		r = fleet_identity_rename(c->m, name, c->why, sizeof(c->why));
		if (r < 0)
			return r;
	}
	*ret_created = false;
	return fleet_identity_open(c->m, id, ret_key, c->why, sizeof(c->why));
}

static int enroll_reply_json(struct op_ctx *c, const struct fleet_identity *id, bool created,
			     uint64_t expires)
{
	_cleanup_(json_object_putp) json_object *o = json_object_new_object();

	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "name", json_object_new_string(id->name));
	json_object_object_add(o, "key_alg", json_object_new_string(keypair_alg_to_string(id->alg)));
	json_object_object_add(o, "new_key", json_object_new_boolean(created));
	json_object_object_add(o, "expires", json_object_new_int64((int64_t)expires));
	vhsm_wire_add_str(c->reply, VHSM_TAG_JSON,
			  json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	return 0;
}

/* The report binding the identity's key, the nonce and the expiry, added to the reply. */
static int enroll_report(struct op_ctx *c, const struct fleet_identity *id, uint64_t expires)
{
	const struct vhsm_wire_field *nonce = vhsm_wire_get(c->req, VHSM_TAG_NONCE);
	uint8_t msg[FLEET_ENROLL_MSG_MAX];
	int n = fleet_enroll_message(id->spki, id->spki_len, nonce ? nonce->value : NULL,
				     nonce ? nonce->len : 0, expires, msg);

	if (n < 0)
		return op_fail(c, n, "enrollment message: %s", strerror(-n));
	return op_reply_report(c, msg, (size_t)n, true);
}

int op_fleet_enroll(struct op_ctx *c)
{
	const struct vhsm_wire_field *nonce = vhsm_wire_get(c->req, VHSM_TAG_NONCE);
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
	_cleanup_free_ uint8_t *csr = NULL;
	struct fleet_identity id;
	char name[FLEET_NAME_MAX + 1] = "";
	enum keypair_alg alg = _KEYPAIR_ALG_INVALID;
	uint64_t flags = 0, expires;
	size_t csr_len;
	bool created = false;
	int r = vhsm_wire_get_str(c->req, VHSM_TAG_NAME, name, sizeof(name));

	if ((r < 0 && r != -ENOENT) || (r >= 0 && !fleet_name_valid(name)))
		return op_fail(c, -EINVAL, "invalid fleet identity name: 1 to %u of A-Z a-z 0-9 . _ "
			       "- (not starting with . or -)", FLEET_NAME_MAX);
	if (nonce && nonce->len == 0)
		return op_fail(c, -EINVAL, "the nonce must be 1..%u bytes", FLEET_ENROLL_NONCE_MAX);
	(void)vhsm_wire_get_u64(c->req, VHSM_TAG_FLAGS, &flags);
	if (flags & ~VHSM_FLEET_ENROLL_NEW_KEY)
		return op_fail(c, -EINVAL, "unknown enrollment flags");
	r = enroll_alg(c, &alg);
	if (r < 0)
		return r;
	/* Only a CVM that passes its own gate enrolls (its report would pass nowhere). */
	r = attest_require(c->m, false, c->why, sizeof(c->why));
	if (r < 0)
		return r;
	r = enroll_identity(c, name, alg, flags & VHSM_FLEET_ENROLL_NEW_KEY, &id, &pkey, &created);
	if (r < 0)
		return r;
	snprintf(c->key, sizeof(c->key), "%s", id.name);
	r = fleet_csr_make(pkey, id.name, &csr, &csr_len);
	if (r < 0)
		return op_fail(c, r, "the certificate request could not be made");
	expires = clock_wall(c->m) + FLEET_ENROLL_TTL_SEC;
	r = enroll_report(c, &id, expires);
	if (r < 0)
		return r;
	vhsm_wire_add_data(c->reply, VHSM_TAG_CSR, csr, csr_len);
	vhsm_wire_add_u64(c->reply, VHSM_TAG_EXPIRES, expires);
	vhsm_wire_add_data(c->reply, VHSM_TAG_PUBKEY, id.spki, id.spki_len);
	snprintf(c->why, sizeof(c->why), "%s %s", keypair_alg_to_string(id.alg),
		 created ? "new key" : "key kept");
	return enroll_reply_json(c, &id, created, expires);
}

static json_object *cert_json(const struct fleet_cert_info *i, uint64_t now)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "subject", json_object_new_string(i->subject));
	json_object_object_add(o, "issuer", json_object_new_string(i->issuer));
	json_object_object_add(o, "serial", json_object_new_string(i->serial));
	json_object_object_add(o, "not_before", json_object_new_int64((int64_t)i->not_before));
	json_object_object_add(o, "not_after", json_object_new_int64((int64_t)i->not_after));
	json_object_object_add(o, "expired", json_object_new_boolean(now >= i->not_after));
	json_object_object_add(o, "renewal_due", json_object_new_boolean(i->renewal_due));
	return o;
}

/* The identity and its certificate (or null) as JSON into the reply. */
static int reply_identity(struct op_ctx *c, const struct fleet_identity *id,
			  const struct fleet_cert_info *cert)
{
	_cleanup_(json_object_putp) json_object *o = json_object_new_object();
	uint64_t now = clock_latest(c->m);
	uint8_t fp[32];
	char hex[65];
	unsigned int n = 0;

	if (!o || !EVP_Digest(id->spki, id->spki_len, fp, &n, EVP_sha256(), NULL))
		return -ENOMEM;
	ct_hex_encode(hex, fp, sizeof(fp));
	json_object_object_add(o, "enrolled", json_object_new_boolean(cert != NULL));
	json_object_object_add(o, "name", json_object_new_string(id->name));
	json_object_object_add(o, "key_alg", json_object_new_string(keypair_alg_to_string(id->alg)));
	json_object_object_add(o, "created", json_object_new_int64((int64_t)id->created));
	json_object_object_add(o, "spki_sha256", json_object_new_string(hex));
	json_object_object_add(o, "certificate", cert ? cert_json(cert, now) : NULL);
	json_object_object_add(o, "renewal_due", json_object_new_boolean(!cert || cert->renewal_due));
	vhsm_wire_add_str(c->reply, VHSM_TAG_JSON,
			  json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	return 0;
}

int op_fleet_install_cert(struct op_ctx *c)
{
	const struct vhsm_wire_field *chain = vhsm_wire_get(c->req, VHSM_TAG_CHAIN);
	const struct vhsm_wire_field *ca = vhsm_wire_get(c->req, VHSM_TAG_CA);
	struct fleet_identity id;
	struct fleet_cert_info info;
	int r;

	if (!chain || chain->len == 0)
		return op_fail(c, -EINVAL, "a certificate (PEM) is required");
	r = fleet_identity_read(c->m, &id, c->why, sizeof(c->why));
	if (r < 0)
		return r;
	snprintf(c->key, sizeof(c->key), "%s", id.name);
	r = fleet_cert_check(chain->value, chain->len, ca ? ca->value : NULL, ca ? ca->len : 0,
			     id.spki, id.spki_len, clock_latest(c->m), &info, c->why,
			     sizeof(c->why));
	if (r < 0)
		return r;
	r = fleet_identity_cert_write(c->m, chain->value, chain->len);
	if (r < 0)
		return op_fail(c, r, "cannot store the certificate: %s", strerror(-r));
	snprintf(c->why, sizeof(c->why), "serial %s", info.serial);
	return reply_identity(c, &id, &info);
}

int op_fleet_show(struct op_ctx *c)
{
	_cleanup_free_ uint8_t *pem = NULL;
	struct fleet_identity id;
	struct fleet_cert_info info;
	size_t len;
	int r = fleet_identity_read(c->m, &id, c->why, sizeof(c->why));

	if (r < 0)
		return r;
	snprintf(c->key, sizeof(c->key), "%s", id.name);
	r = fleet_identity_cert_read(c->m, &pem, &len);
	if (r == -ENOENT)
		return reply_identity(c, &id, NULL);
	if (r < 0)
		return op_fail(c, r, "cannot read the certificate: %s", strerror(-r));
	if (fleet_cert_key_matches(pem, len, id.spki, id.spki_len) < 0 ||
	    fleet_cert_info(pem, len, clock_latest(c->m), &info) < 0)
		return reply_identity(c, &id, NULL); /* another key's: not enrolled */
	return reply_identity(c, &id, &info);
}

static void memfd_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

/* The server CA into an anonymous file whose /proc path OpenSSL can open. */
static int ca_memfd(struct op_ctx *c, const struct vhsm_wire_field *ca, char *path, size_t len)
{
	int fd = memfd_create("vhsm-fleet-ca", MFD_CLOEXEC);

	if (fd < 0 || write(fd, ca->value, ca->len) != (ssize_t)ca->len) {
		if (fd >= 0)
			close(fd);
		return op_fail(c, -EIO, "cannot hold the server CA");
	}
	snprintf(path, len, "/proc/self/fd/%d", fd);
	return fd;
}

/* One Locate over the connection: the number of objects the key manager lets us see. */
static int check_locate(struct op_ctx *c, struct kmip_client *k, size_t *ret_n)
{
	_cleanup_free_ uint8_t *buf = malloc(FLEET_CHECK_BUF);
	struct kmip_writer w;
	struct kmip_response resp;
	struct kmip_iter it;
	struct kmip_item item;
	size_t n = 0;
	int r;

	if (!buf)
		return -ENOMEM;
	kmip_writer_init(&w, buf, FLEET_CHECK_BUF);
	kmip_request_begin(&w, 1, 2, KMIP_OP_LOCATE);
	r = kmip_request_finish(&w);
	if (r >= 0)
		r = kmip_client_call(k, buf, (size_t)r, buf, FLEET_CHECK_BUF);
	if (r >= 0)
		r = kmip_response_parse(buf, (size_t)r, KMIP_OP_LOCATE, &resp);
	if (r < 0)
		return op_fail(c, r, "Locate at %s failed: %s", kmip_client_endpoint(k),
			       strerror(-r));
	if (resp.status != KMIP_STATUS_SUCCESS)
		return op_fail(c, -EPERM, "the key manager refused Locate (status %u, reason %u)",
			       resp.status, resp.reason);
	if (resp.has_payload) {
		kmip_iter_init(&it, &resp.payload);
		while (kmip_iter_next(&it, &item))
			n += item.tag == KMIP_TAG_UNIQUE_IDENTIFIER;
	}
	*ret_n = n;
	return 0;
}

int op_fleet_check(struct op_ctx *c)
{
	const struct vhsm_wire_field *ca = vhsm_wire_get(c->req, VHSM_TAG_CA);
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
	_cleanup_(memfd_closep) int fd = -EBADF;
	struct kmip_client *k = NULL;
	char endpoint[VHSM_WIRE_MAX_STRING + 1], cert[4096], ca_path[64];
	const char *eps[1] = { endpoint };
	size_t n = 0;
	int r = vhsm_wire_get_str(c->req, VHSM_TAG_ENDPOINT, endpoint, sizeof(endpoint));

	if (r < 0 || !ca || ca->len == 0)
		return op_fail(c, -EINVAL, "an endpoint (host:port) and the server CA are required");
	r = fleet_identity_tls(c->m, &key, cert, sizeof(cert), c->why, sizeof(c->why));
	if (r < 0)
		return r;
	fd = ca_memfd(c, ca, ca_path, sizeof(ca_path));
	if (fd < 0)
		return fd;
	struct kmip_tls_config cfg = { .ca_file = ca_path, .cert_file = cert, .key = key,
				       .timeout_ms = FLEET_CHECK_TIMEOUT_MS };
	r = kmip_client_open(&cfg, eps, 1, &k, c->why, sizeof(c->why));
	if (r < 0)
		return r;
	r = check_locate(c, k, &n);
	kmip_client_free(k);
	if (r < 0)
		return r;
	_cleanup_(json_object_putp) json_object *o = json_object_new_object();
	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "endpoint", json_object_new_string(endpoint));
	json_object_object_add(o, "objects", json_object_new_int64((int64_t)n));
	vhsm_wire_add_str(c->reply, VHSM_TAG_JSON,
			  json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	return 0;
}
