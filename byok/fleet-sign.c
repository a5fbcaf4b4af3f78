/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsm-byok fleet-sign (fleet-sign.h). The bundle is `vhsmctl fleet enroll`'s:
 * {"format":"vhsm-fleet-enrollment-v1", "name", "key_alg", "nonce" (hex, may be empty),
 * "expires" (Unix time), "csr" (PEM), "report", "certs" (base64)}; REPORT_DATA is
 * lib/fleet-enroll's binding of the CSR's public key, the nonce and the expiry. vhsmd makes
 * the key inside and has no operation that exports it, so a policy that pins vhsmd's code
 * makes the report a statement that the key is held by such a CVM.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ct.h"
#include "evidence.h"
#include "fileio.h"
#include "fleet-enroll.h"
#include "fleet-sign.h"
#include "json.h"
#include "openssl-util.h"
#include "out.h"
#include "secmem.h"
#include "snp-abi.h"

#define err(...) out_err(__VA_ARGS__)
#define BUNDLE_MAX EVIDENCE_FILE_MAX
#define CA_FILE_MAX (64u * 1024u)
/* A certificate is valid from a little before now: the relying party's clock may lag. */
#define FLEET_SIGN_BACKDATE_SEC 300

DEFINE_TRIVIAL_CLEANUP_FUNC(X509_REQ *, X509_REQ_free);

struct bundle_json {
	const char *format, *name, *key_alg, *nonce, *csr, *report, *certs;
	int64_t expires;
};

static const struct json_field bundle_table[] = {
	{ "format", json_type_string, json_dispatch_string, offsetof(struct bundle_json, format),
	  JSON_MANDATORY, 1, 64 },
	{ "name", json_type_string, json_dispatch_string, offsetof(struct bundle_json, name),
	  JSON_MANDATORY, 1, FLEET_NAME_MAX },
	{ "key_alg", json_type_string, json_dispatch_string, offsetof(struct bundle_json, key_alg),
	  JSON_MANDATORY, 1, 16 },
	{ "nonce", json_type_string, json_dispatch_string, offsetof(struct bundle_json, nonce),
	  JSON_MANDATORY, 0, 2 * FLEET_ENROLL_NONCE_MAX },
	{ "expires", json_type_int, json_dispatch_int64, offsetof(struct bundle_json, expires),
	  JSON_MANDATORY, 1, INT64_MAX },
	{ "csr", json_type_string, json_dispatch_string, offsetof(struct bundle_json, csr),
	  JSON_MANDATORY, 1, 2 * FLEET_CSR_MAX },
	{ "report", json_type_string, json_dispatch_string, offsetof(struct bundle_json, report),
	  JSON_MANDATORY, 4, EVIDENCE_REPORT_B64_MAX },
	{ "certs", json_type_string, json_dispatch_string, offsetof(struct bundle_json, certs),
	  JSON_MANDATORY, 0, 48 * 1024 },
	{}
};

struct enrollment {
	char name[FLEET_NAME_MAX + 1];
	uint64_t expires;
	char *csr;        /* PEM, malloc */
	struct evidence ev;
};

_Static_assert(FLEET_ENROLL_NONCE_MAX <= EVIDENCE_NONCE_MAX, "the bundle's nonce fits");

static void enrollment_done(struct enrollment *e)
{
	free(e->csr);
	evidence_done(&e->ev);
	*e = (struct enrollment){};
}

static int load(const char *path, struct enrollment *e)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	struct bundle_json f = {};
	int r = evidence_parse(path, BUNDLE_MAX, "an enrollment bundle", bundle_table, &f,
			       &f.format, "vhsm-fleet-enrollment-v1", &o);

	if (r != EXIT_OK)
		return r;
	snprintf(e->name, sizeof(e->name), "%s", f.name);
	e->expires = (uint64_t)f.expires;
	e->csr = strdup(f.csr);
	if (!e->csr)
		return EXIT_ERROR;
	return evidence_decode(path, f.nonce, f.report, f.certs, &e->ev);
}

/* Freshness: the expiry is not passed (and not implausibly far), the nonce is the one given. */
static bool check_fresh(const struct byok_verify_opts *o, const struct enrollment *e,
			uint64_t now)
{
	char t[32];
	bool c;

	c = now < e->expires && e->expires - now <= FLEET_ENROLL_TTL_MAX_SEC;
	out_check(c ? "pass" : "fail", "expiry", c ? "the enrollment is valid until %s"
		  : now >= e->expires ? "stale report: the enrollment expired at %s (enroll again)"
				      : "the enrollment's expiry %s is more than a day away",
		  verify_iso_time(e->expires, t));
	if (!o->nonce) {
		out_check("warn", "nonce", "no --nonce: freshness rests on the expiry alone");
		return c;
	}
	bool n = evidence_nonce_is(&e->ev, o->nonce);
	out_check(n ? "pass" : "fail", "nonce", n ? "the enrollment binds the given nonce"
		  : "stale report: the enrollment's nonce is not the one given (replayed?)");
	return c && n;
}

/* The CSR: parses, its self-signature verifies, its CN is the bundle's name. */
static bool check_csr(const struct enrollment *e, X509_REQ **ret, uint8_t **ret_spki,
		      size_t *ret_spki_len)
{
	char cn[FLEET_NAME_MAX + 1], why[256];
	int r = fleet_csr_parse((const uint8_t *)e->csr, strlen(e->csr), ret, cn, sizeof(cn),
				ret_spki, ret_spki_len, why, sizeof(why));

	out_check(r >= 0 ? "pass" : "fail", "csr_signature", "%s",
		  r >= 0 ? "the CSR's self-signature verifies" : why);
	if (r < 0)
		return false;
	bool c = strcmp(cn, e->name) == 0;
	out_check(c ? "pass" : "fail", "csr_name", c ? "the CSR names %s" : "the CSR names %s, "
		  "not the bundle's %s", cn, e->name);
	return c;
}

static bool check_binding(const struct enrollment *e, const uint8_t *spki, size_t spki_len,
			  const struct verify_result *res)
{
	uint8_t want[64];
	bool c = spki &&
		 fleet_enroll_report_data(spki, spki_len, e->ev.nonce, e->ev.nonce_len, e->expires,
					  want) == 0 &&
		 verify_binds(res, want);

	out_check(c ? "pass" : "fail", "binding", c
		  ? "%s binds the CSR's public key, the nonce and the expiry"
		  : "the report does not bind this CSR (its key, nonce or expiry was substituted)",
		  res->hcl ? "the HCL claims' user-data" : "REPORT_DATA");
	return c;
}

/* "debug, measurement": the failed verifier checks and policy rules, for the refusal. */
static void failed_names(const struct verify_result *res, const struct snp_policy *pol,
			 char *buf, size_t len)
{
	const struct snp_verify_result *vr = &res->vr;
	struct snp_policy_result pr = {};
	size_t off = 0;

	buf[0] = 0;
	for (int c = 0; c < _SNP_CHECK_MAX; c++)
		if (vr->state[c] == SNP_CHECK_FAIL && off < len)
			off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? ", " : "",
						snp_check_name(c));
	if (vr->report_parsed)
		(void)snp_policy_eval(pol, &vr->report, vr->product, &pr);
	for (size_t i = 0; i < pr.n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? ", " : "", pr.v[i].rule);
	if (res->hcl && !snp_policy_allows_vtpm_ak(pol, res->ak_sha256) && off < len)
		off += (size_t)snprintf(buf + off, len - off, "%svtpm_ak (the policy does not pin "
					"this VM's vTPM attestation key)", off ? ", " : "");
}

/* The CA key: a regular file only we (or root) can read, into OpenSSL's secure heap. */
static int load_ca_key(const struct fleet_sign_opts *s, EVP_PKEY **ret)
{
	_cleanup_secmem_ uint8_t *buf = NULL;
	_cleanup_(BIO_freep) BIO *bio = NULL;
	struct stat st;
	size_t len;
	int fd, r;

	if (!s->secure_heap) {
		err("cannot lock memory for the CA key (OpenSSL secure heap; RLIMIT_MEMLOCK too "
		    "low?): refusing to load %s", s->ca_key);
		return EXIT_ERROR;
	}
	fd = open(s->ca_key, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	if (fd < 0) {
		err("--ca-key %s: %s", s->ca_key, strerror(errno));
		return EXIT_ERROR;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 0077) ||
	    (st.st_uid != geteuid() && st.st_uid != 0)) {
		err("--ca-key %s: must be a regular file owned by you or root and not accessible "
		    "to group or others (mode %04o: chmod 600)", s->ca_key,
		    (unsigned)(st.st_mode & 07777));
		close(fd);
		return EXIT_REJECTED;
	}
	r = fileio_read_fd_secret(fd, CA_FILE_MAX, &buf, &len);
	close(fd);
	if (r < 0) {
		err("--ca-key %s: %s", s->ca_key, strerror(-r));
		return EXIT_ERROR;
	}
	bio = BIO_new_mem_buf(buf, (int)len);
	char empty[1] = "";
	*ret = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, empty) : NULL;
	ERR_clear_error();
	if (!*ret) {
		err("--ca-key %s: not an unencrypted PEM private key", s->ca_key);
		return EXIT_ERROR;
	}
	return EXIT_OK;
}

static int load_ca(const struct fleet_sign_opts *s, X509 **ret_cert, EVP_PKEY **ret_key)
{
	_cleanup_(X509_freep) X509 *ca = NULL;
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
	FILE *f = fopen(s->ca_cert, "re");
	int r;

	if (f) {
		ca = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	ERR_clear_error();
	if (!ca || X509_check_ca(ca) < 1) {
		err("--ca-cert %s: %s", s->ca_cert, !f ? strerror(errno)
			: !ca ? "not a PEM certificate" : "not a CA certificate");
		return EXIT_ERROR;
	}
	r = load_ca_key(s, &key);
	if (r != EXIT_OK)
		return r;
	if (X509_check_private_key(ca, key) != 1) {
		ERR_clear_error();
		err("--ca-key %s is not the key of --ca-cert %s", s->ca_key, s->ca_cert);
		return EXIT_ERROR;
	}
	*ret_cert = TAKE_PTR(ca);
	*ret_key = TAKE_PTR(key);
	return EXIT_OK;
}

static bool add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	bool ok = e && X509_add_ext(x, e, -1);

	X509_EXTENSION_free(e);
	return ok;
}

/* A random positive 127-bit serial. */
static bool set_serial(X509 *x)
{
	_cleanup_(BN_freep) BIGNUM *bn = BN_new();
	uint8_t b[16];

	if (!bn || RAND_bytes(b, sizeof(b)) != 1)
		return false;
	b[0] &= 0x7f;
	b[0] |= 0x40; /* a full-length serial */
	return BN_bin2bn(b, sizeof(b), bn) && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
}

/* The subject: the CSR's CN alone (nothing else the request names is copied). */
static bool set_subject(X509 *x, const char *cn)
{
	_cleanup_(X509_NAME_freep) X509_NAME *n = X509_NAME_new();

	return n &&
	       X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
					  -1, 0) &&
	       X509_set_subject_name(x, n);
}

/* The leaf: CN from the CSR, its key, clientAuth, digitalSignature, no CA, lifetime. */
static X509 *issue(X509_REQ *req, const char *cn, X509 *ca, EVP_PKEY *ca_key, uint64_t now,
		   uint64_t lifetime)
{
	_cleanup_(X509_freep) X509 *x = X509_new();
	time_t t = (time_t)now;
	X509V3_CTX ctx;

	if (!x || !X509_set_version(x, 2) || !set_serial(x) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(ca)) || !set_subject(x, cn) ||
	    !X509_set_pubkey(x, X509_REQ_get0_pubkey(req)) ||
	    !X509_time_adj_ex(X509_getm_notBefore(x), 0, -FLEET_SIGN_BACKDATE_SEC, &t) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), 0, (long)lifetime, &t))
		return NULL;
	X509V3_set_ctx(&ctx, ca, x, NULL, NULL, 0);
	if (!add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") ||
	    !add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature") ||
	    !add_ext(x, &ctx, NID_ext_key_usage, "clientAuth") ||
	    !add_ext(x, &ctx, NID_subject_key_identifier, "hash") ||
	    /* A CA without a subject key identifier gets none referred to. */
	    (X509_get0_subject_key_id(ca) &&
	     !add_ext(x, &ctx, NID_authority_key_identifier, "keyid")) ||
	    X509_sign(x, ca_key, EVP_sha256()) <= 0)
		return NULL;
	return TAKE_PTR(x);
}

static int write_cert(const struct fleet_sign_opts *s, X509 *leaf, X509 *ca)
{
	_cleanup_(BIO_freep) BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n;

	if (!b || !PEM_write_bio_X509(b, leaf) || !PEM_write_bio_X509(b, ca) ||
	    (n = BIO_get_mem_data(b, &p)) <= 0 || fileio_write_atomic(s->out, p, (size_t)n, 0644) < 0) {
		err("cannot write %s", s->out);
		return EXIT_ERROR;
	}
	return EXIT_OK;
}

/* Every check of the bundle, each printed; true when all passed. why names the failures. */
static bool check_all(const struct byok_verify_opts *o, const struct enrollment *e,
		      const struct snp_policy *pol, X509_REQ **req, uint8_t **spki,
		      size_t *spki_len, char *why, size_t whylen)
{
	struct verify_result res = {};
	uint64_t now = (uint64_t)time(NULL);
	bool ev = verify_evidence(o, e->ev.report, e->ev.report_len, e->ev.certs, e->ev.certs_len,
				  pol, "", &res);
	bool pin = !res.opened || res.pinned;
	bool fresh = check_fresh(o, e, now);
	bool csr = check_csr(e, req, spki, spki_len);
	bool bind = check_binding(e, *spki, *spki_len, &res);
	size_t off;

	failed_names(&res, pol, why, whylen);
	off = strlen(why);
#define NAME(c, s) if (!(c) && off < whylen) \
		off += (size_t)snprintf(why + off, whylen - off, "%s%s", off ? ", " : "", s)
	NAME(pin, "pinning (the policy pins no guest code)");
	NAME(fresh, "stale report (expiry or nonce)");
	NAME(csr, "CSR (tampered signature or another name)");
	NAME(bind, "the report does not bind this CSR");
#undef NAME
	if (!ev && off == strlen(why) && off < whylen) /* e.g. no certificate table */
		snprintf(why + off, whylen - off, "%sthe report's evidence", off ? ", " : "");
	return pin && ev && fresh && csr && bind;
}

/* gcc 12's -fanalyzer reports the cleanup pointers below as uninitialised on early returns,
 * although each is initialised at its declaration: the false positive op-byok.c describes. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-use-of-uninitialized-value"
int fleet_sign(const struct byok_verify_opts *o, const struct fleet_sign_opts *s)
{
	_cleanup_(snp_policy_freep) struct snp_policy *pol = NULL;
	_cleanup_(X509_REQ_freep) X509_REQ *req = NULL;
	_cleanup_(X509_freep) X509 *ca = NULL, *leaf = NULL;
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *ca_key = NULL;
	_cleanup_free_ uint8_t *spki = NULL;
	struct enrollment e = {};
	size_t spki_len = 0;
	char why[512], t[32];
	int r;

	if (!s->bundle || !o->policy || !s->ca_cert || !s->ca_key || !s->out) {
		err("fleet-sign BUNDLE --policy FILE --ca-cert PEM --ca-key PEM --out FILE is "
		    "required");
		return EXIT_USAGE;
	}
	r = load_ca(s, &ca, &ca_key); /* before any check: a misconfigured CA is no refusal */
	if (r == EXIT_OK)
		r = verify_load_policy(o->policy, &pol);
	if (r == EXIT_OK)
		r = load(s->bundle, &e);
	if (r != EXIT_OK) {
		enrollment_done(&e);
		return r;
	}
	out_say("fleet identity %s, enrollment expires %s", e.name, verify_iso_time(e.expires, t));
	bool ok = check_all(o, &e, pol, &req, &spki, &spki_len, why, sizeof(why));
	char cn[FLEET_NAME_MAX + 1];
	snprintf(cn, sizeof(cn), "%s", e.name);
	enrollment_done(&e);
	if (!ok) {
		err("refused: %s", why);
		return EXIT_REJECTED;
	}
	/* check_csr() made sure the CSR's one CN is the bundle's name. */
	leaf = issue(req, cn, ca, ca_key, (uint64_t)time(NULL), s->lifetime);
	if (!leaf) {
		ERR_clear_error();
		err("issuing the certificate failed");
		return EXIT_ERROR;
	}
	r = write_cert(s, leaf, ca);
	if (r != EXIT_OK)
		return r;
	out_say("issued %s: clientAuth certificate for %s, valid until %s", s->out,
		X509_NAME_oneline(X509_get_subject_name(leaf), why, sizeof(why)),
		verify_iso_time((uint64_t)time(NULL) + s->lifetime, t));
	out_set("out", json_object_new_string(s->out));
	out_set("not_after", json_object_new_int64((int64_t)time(NULL) + (int64_t)s->lifetime));
	return EXIT_OK;
}
#pragma GCC diagnostic pop
