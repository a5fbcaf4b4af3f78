/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsm-byok: the customer's side of BYOK. Runs anywhere, needs no daemon.
 *   verify BUNDLE --policy F [--trust-root F]...     check a CVM's exchange-key evidence
 *   wrap --bundle B (--key-file F | --pkcs11-uri U) --out FILE
 *   rewrap --backup FILE --private-key F --bundle B --policy F --out FILE
 * wrap and rewrap verify first and refuse unless everything passes, including that the
 * policy pins the guest's code, that the report comes from the VMPL vhsmd runs at and that
 * the chain ends in an AMD root (docs/byok.md "What a successful wrap guarantees"). The
 * verifier and policy engine are vhsmd's own (lib/snp-verify, lib/policy). Every message
 * is escaped (byok/out.c); private keys live in OpenSSL's secure heap. vhsm-byok(1).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "amd-cert.h"
#include "byok.h"
#include "ct.h"
#include "fileio.h"
#include "log.h"
#include "openssl-util.h"
#include "out.h"
#include "pkcs11.h"
#include "policy.h"
#include "secmem.h"
#include "collateral.h"
#include "report-evidence.h"
#include "snp-report.h"
#include "snp-verify.h"
#include "fleet-sign.h"
#include "verify-key.h"
#include "verify.h"

#define MAX_TRUST_ROOTS 8
#define KEY_FILE_MAX 4096u
#define PRIVATE_KEY_MAX (64u * 1024u)
#define CRL_MAX (1024u * 1024u)

/* Options shared by the verbs. */
static const char *arg_bundle, *arg_policy, *arg_out, *arg_key_file, *arg_uri, *arg_backup,
	*arg_private_key, *arg_module, *arg_nonce, *arg_expect_name, *arg_backup_policy,
	*arg_expect_key;
static const char *arg_collateral_dir; /* --collateral-dir */
static const char *arg_ca_cert, *arg_ca_key; /* fleet-sign */
static uint64_t arg_lifetime = FLEET_SIGN_LIFETIME_DEFAULT_SEC;
static const char *arg_kds_url = COLLATERAL_KDS_DEFAULT;
static uint8_t *arg_crl; /* AMD's CRL for the ARK (--crl), checked by lib/snp-verify */
static size_t arg_crl_len;
static uint8_t *arg_roots[MAX_TRUST_ROOTS];
static size_t arg_root_lens[MAX_TRUST_ROOTS], arg_n_roots;
static bool arg_quiet, arg_oaep_sha1, arg_verbose, arg_json, arg_accept_any_guest,
	arg_allow_test_root, arg_exportable, arg_purge_protection, arg_attest_each_use,
	arg_accept_unauthenticated_backup, arg_require_crl;
/* What verify.c needs of the options (filled by run_verb()). */
static struct byok_verify_opts arg_verify;
/* CRYPTO_secure_malloc_init(): 1 locked, 2 allocated but not locked, 0 failed. */
static int secure_heap;

#define err(...) out_err(__VA_ARGS__)

static int write_byok(const struct byok_file *f)
{
	_cleanup_free_ char *json = NULL;
	int r = byok_file_format(f, "vhsm-byok " VHSM_VERSION, &json);

	if (r < 0 || fileio_write_atomic(arg_out, json, strlen(json), 0644) < 0) {
		err("cannot write %s", arg_out);
		return EXIT_ERROR;
	}
	out_say("wrote %s for exchange key %s (%s)", arg_out, f->kid, byok_enc_to_string(f->enc));
	out_set("out", json_object_new_string(arg_out));
	out_set("kid", json_object_new_string(f->kid));
	out_set("enc", json_object_new_string(byok_enc_to_string(f->enc)));
	return EXIT_OK;
}

static int read_key_file(uint8_t **ret, size_t *ret_len)
{
	int fd = strcmp(arg_key_file, "-") == 0 ? STDIN_FILENO
						: open(arg_key_file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	if (fd < 0) {
		err("%s: %s", arg_key_file, strerror(errno));
		return EXIT_ERROR;
	}
	r = fileio_read_fd_secret(fd, KEY_FILE_MAX, &buf, &len);
	if (fd != STDIN_FILENO)
		close(fd);
	if (r < 0) {
		err("%s: %s", arg_key_file, strerror(-r));
		return EXIT_ERROR;
	}
	if (len != BYOK_AES_KEY_SIZE) {
		err("%s: a KEK is a raw AES-256 key of 32 bytes, this is %zu", arg_key_file, len);
		secmem_free(buf);
		return EXIT_USAGE;
	}
	*ret = buf;
	*ret_len = len;
	return EXIT_OK;
}

static uint8_t customer_flags(void)
{
	return (arg_exportable ? BYOK_KEYSET_FLAG_EXPORTABLE : 0) |
	       (arg_purge_protection ? BYOK_KEYSET_FLAG_PURGE_PROTECTION : 0) |
	       (arg_attest_each_use ? BYOK_KEYSET_FLAG_ATTEST_EACH_USE : 0);
}

static void flags_json(uint8_t flags)
{
	out_set("exportable", json_object_new_boolean(flags & BYOK_KEYSET_FLAG_EXPORTABLE));
	out_set("purge_protection",
		json_object_new_boolean(flags & BYOK_KEYSET_FLAG_PURGE_PROTECTION));
	out_set("attest_each_use", json_object_new_boolean(flags & BYOK_KEYSET_FLAG_ATTEST_EACH_USE));
}

/*
 * The customer's decision travels inside the ciphertext: a key set naming the KEK, with its
 * flags (not exportable unless --exportable), one version created now. vhsmd enforces it
 * over the import options.
 */
static int wrap_key_file(const struct verified *v, struct byok_file *f)
{
	_cleanup_secmem_ uint8_t *key = NULL, *set = NULL;
	struct byok_keyset ks = { .flags = customer_flags(), .n = 1, .version = { 1 },
				  .created = { (uint64_t)time(NULL) } };
	size_t key_len, set_len;
	int ret = read_key_file(&key, &key_len);

	if (ret != EXIT_OK)
		return ret;
	strcpy(ks.name, v->b.kek);
	if (byok_keyset_encode(&ks, key, &set, &set_len) < 0 ||
	    byok_rsa_aes_wrap(v->pub, f->enc, set, set_len, &f->ciphertext, &f->ciphertext_len) < 0) {
		err("wrapping failed");
		return EXIT_ERROR;
	}
	out_say("KEK %s: %s%s%s", v->b.kek,
		ks.flags & BYOK_KEYSET_FLAG_EXPORTABLE ? "exportable" : "not exportable",
		ks.flags & BYOK_KEYSET_FLAG_PURGE_PROTECTION ? ", purge protection" : "",
		ks.flags & BYOK_KEYSET_FLAG_ATTEST_EACH_USE ? ", attest each use" : "");
	flags_json(ks.flags);
	return EXIT_OK;
}

/* The token wraps the bare key: no flags can travel with it (imports as not exportable). */
static int wrap_pkcs11(const struct verified *v, struct byok_file *f)
{
	struct p11uri u;
	char e[160] = "";
	struct p11_wrap_opts o = { .module = arg_module, .allow_oaep_sha1 = arg_oaep_sha1,
				   .verbose = arg_verbose };
	int r;

	if (customer_flags()) {
		err("--exportable, --purge-protection and --attest-each-use cannot travel with "
		    "--pkcs11-uri: the token wraps the bare key, which vhsmd imports as not "
		    "exportable");
		return EXIT_USAGE;
	}
	if (p11uri_parse(arg_uri, &u, e, sizeof(e)) < 0) {
		err("--pkcs11-uri: %s", e);
		return EXIT_USAGE;
	}
	if (u.module_name[0]) {
		err("--pkcs11-uri: module-name=%s is not supported (no module search path): give the "
		    "module's file with module-path= or --pkcs11-module", u.module_name);
		p11uri_done(&u);
		return EXIT_USAGE;
	}
	if (u.pin_value)
		out_warn("pin-value puts the PIN on the command line; use pin-source");
	r = p11_wrap_key(&u, &o, v->pub, &f->ciphertext, &f->ciphertext_len, &f->enc);
	p11uri_done(&u);
	if (r < 0)
		return r == -EOPNOTSUPP || r == -EACCES ? EXIT_REJECTED : EXIT_ERROR;
	flags_json(0);
	return EXIT_OK;
}

static int verb_wrap(void)
{
	struct verified v = {};
	struct byok_file f = { .kind = BYOK_KIND_IMPORT, .enc = BYOK_ENC_RSA_AES_KEY_WRAP_256 };
	int ret;

	if (!arg_out || !!arg_key_file == !!arg_uri) {
		err("wrap: --bundle, --policy, --out and one of --key-file/--pkcs11-uri are required");
		return EXIT_USAGE;
	}
	ret = verify_bundle(&arg_verify, &v);
	if (ret == EXIT_OK) {
		strcpy(f.kid, v.b.kid);
		strcpy(f.kek, v.b.kek);
		ret = arg_key_file ? wrap_key_file(&v, &f) : wrap_pkcs11(&v, &f);
	}
	if (ret == EXIT_OK)
		ret = write_byok(&f);
	byok_file_done(&f);
	verified_done(&v);
	return ret;
}

/* The private key goes into OpenSSL's secure heap (locked, MADV_DONTDUMP), never the heap. */
static int load_private_key(EVP_PKEY **ret)
{
	_cleanup_secmem_ uint8_t *buf = NULL;
	_cleanup_(BIO_freep) BIO *bio = NULL;
	EVP_PKEY *k;
	size_t len;
	int fd, r;

	if (secure_heap != 1) {
		err("cannot lock memory for the private key (OpenSSL secure heap; "
		    "RLIMIT_MEMLOCK too low?): refusing to load %s", arg_private_key);
		return EXIT_ERROR;
	}
	fd = open(arg_private_key, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		err("%s: %s", arg_private_key, strerror(errno));
		return EXIT_ERROR;
	}
	r = fileio_read_fd_secret(fd, PRIVATE_KEY_MAX, &buf, &len);
	close(fd);
	if (r < 0) {
		err("%s: %s", arg_private_key, strerror(-r));
		return EXIT_ERROR;
	}
	bio = BIO_new_mem_buf(buf, (int)len);
	/* No passphrase prompt: an encrypted key is refused (decrypt it into a pipe). */
	char empty[1] = "";
	k = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, empty) : NULL;
	if (!k) {
		err("%s: not an unencrypted PEM private key", arg_private_key);
		return EXIT_ERROR;
	}
	*ret = k;
	return EXIT_OK;
}

/*
 * The backup's evidence: a report, verified against the customer's policy (--backup-policy,
 * default --policy), whose REPORT_DATA binds this ciphertext, kid and KEK name. Anyone can
 * wrap a key set to the customer's public key; only the customer's vhsmd can attest it.
 */
static int verify_backup_evidence(const struct byok_file *f)
{
	_cleanup_(snp_policy_freep) struct snp_policy *pol = NULL;
	struct verify_result res = {};
	const char *path = arg_backup_policy ? arg_backup_policy : arg_policy;
	uint8_t want[64];
	bool ok, c;

	if (!f->report) {
		if (!arg_accept_unauthenticated_backup) {
			out_check("fail", "backup_evidence", "the backup carries no report (made by "
				  "an older vhsmd?)");
			err("refused: %s is not authenticated: anyone with the escrow public key can "
			    "make such a file (--accept-unauthenticated-backup restores it anyway)",
			    arg_backup);
			return EXIT_REJECTED;
		}
		out_check("warn", "backup_evidence", "none (--accept-unauthenticated-backup)");
		out_warn("--accept-unauthenticated-backup: %s is not authenticated; its keys may "
			 "be anyone's", arg_backup);
		return EXIT_OK;
	}
	if (verify_load_policy(path, &pol) != EXIT_OK)
		return EXIT_ERROR;
	out_say("backup %s (policy %s)", arg_backup, path);
	ok = verify_evidence(&arg_verify, f->report, f->report_len, f->certs, f->certs_len, pol,
			      "backup.", &res);
	c = f->kek[0] &&
	    byok_backup_report_data(f->ciphertext, f->ciphertext_len, f->kid, f->kek, want) == 0 &&
	    verify_binds(&res, want);
	out_check(c ? "pass" : "fail", "backup_binding", c
		  ? "the report binds this backup's ciphertext, escrow key and KEK name"
		  : "the report does not bind this backup (substituted or modified)");
	ok &= c;
	if (!ok)
		err("refused: the backup %s is not authenticated by a CVM the policy accepts",
		    arg_backup);
	return ok ? EXIT_OK : EXIT_REJECTED;
}

/* Opens the backup with the customer's private key: the key set in secmem. */
static int open_backup(EVP_PKEY *priv, uint8_t **ret, size_t *ret_len, struct byok_keyset *ks)
{
	_cleanup_free_ uint8_t *buf = NULL, *spki = NULL;
	struct byok_file f = {};
	char e[160] = "", fp[65], kid[BYOK_KID_MAX + 1];
	size_t len, n;
	int r, ret_code = EXIT_REJECTED;

	r = fileio_read_all(arg_backup, BYOK_JSON_MAX, &buf, &len);
	if (r < 0) {
		err("%s: %s", arg_backup, strerror(-r));
		return EXIT_ERROR;
	}
	r = byok_file_parse((const char *)buf, len, &f, e, sizeof(e));
	if (r < 0) {
		err("%s: not a BYOK backup: %s", arg_backup, e);
		return EXIT_REJECTED;
	}
	if (byok_pubkey_spki(priv, &spki, &n) < 0 || byok_spki_fingerprint(spki, n, fp) < 0) {
		ret_code = EXIT_ERROR;
		goto out;
	}
	snprintf(kid, sizeof(kid), "vhsm-bk-%.32s", fp);
	if (f.kind != BYOK_KIND_BACKUP)
		err("%s is not a backup (vhsm.kind)", arg_backup);
	else if (strcmp(f.kid, kid) != 0)
		err("%s is wrapped to key %s, not to this private key (%s)", arg_backup, f.kid, kid);
	else if ((ret_code = verify_backup_evidence(&f)) != EXIT_OK)
		;
	else if (byok_rsa_aes_unwrap(priv, f.enc, f.ciphertext, f.ciphertext_len, ret, ret_len) < 0) {
		err("%s does not unwrap with this private key (modified?)", arg_backup);
		ret_code = EXIT_REJECTED;
	} else if (byok_keyset_decode(*ret, *ret_len, ks) < 0) {
		err("%s: the key set inside is malformed", arg_backup);
		*ret = secmem_free(*ret);
		ret_code = EXIT_REJECTED;
	} else if (f.kek[0] && strcmp(f.kek, ks->name) != 0) {
		err("%s says KEK %s but holds KEK %s", arg_backup, f.kek, ks->name);
		*ret = secmem_free(*ret);
		ret_code = EXIT_REJECTED;
	} else
		ret_code = EXIT_OK;
out:
	byok_file_done(&f);
	return ret_code;
}

/* States what the restore brings back: name, versions with their creation, flags. */
static void report_restore(const struct byok_keyset *ks)
{
	json_object *vs = json_object_new_array();
	char t[32];

	out_say("restores KEK %s: %u version(s), %s%s%s, retention %u days", ks->name, ks->n,
		ks->flags & BYOK_KEYSET_FLAG_EXPORTABLE ? "exportable" : "not exportable",
		ks->flags & BYOK_KEYSET_FLAG_PURGE_PROTECTION ? ", purge protection" : "",
		ks->flags & BYOK_KEYSET_FLAG_ATTEST_EACH_USE ? ", attest each use" : "",
		ks->retention_days);
	for (uint32_t i = 0; i < ks->n; i++) {
		json_object *v = json_object_new_object();
		out_say("  version %u created %s", ks->version[i], verify_iso_time(ks->created[i], t));
		if (v && vs) {
			json_object_object_add(v, "version", json_object_new_int64(ks->version[i]));
			json_object_object_add(v, "created", json_object_new_string(t));
			json_object_array_add(vs, v);
		} else
			json_object_put(v);
	}
	out_set("kek", json_object_new_string(ks->name));
	out_set("versions", vs);
	out_set("retention_days", json_object_new_int64(ks->retention_days));
	flags_json(ks->flags);
}

static int verb_rewrap(void)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *priv = NULL;
	_cleanup_secmem_ uint8_t *set = NULL;
	struct verified v = {};
	struct byok_file f = { .kind = BYOK_KIND_IMPORT, .enc = BYOK_ENC_RSA_AES_KEY_WRAP_256 };
	struct byok_keyset ks;
	size_t set_len;
	int ret;

	if (!arg_backup || !arg_private_key || !arg_out) {
		err("rewrap: --backup, --private-key, --bundle, --policy and --out are required");
		return EXIT_USAGE;
	}
	ret = load_private_key(&priv);
	if (ret != EXIT_OK)
		return ret;
	ret = verify_bundle(&arg_verify, &v);
	if (ret == EXIT_OK)
		ret = open_backup(priv, &set, &set_len, &ks);
	if (ret == EXIT_OK && strcmp(ks.name, v.b.kek) != 0) {
		err("the backup holds KEK %s, the exchange key is for KEK %s", ks.name, v.b.kek);
		ret = EXIT_REJECTED;
	}
	if (ret == EXIT_OK) {
		report_restore(&ks);
		strcpy(f.kid, v.b.kid);
		strcpy(f.kek, v.b.kek);
		if (byok_rsa_aes_wrap(v.pub, f.enc, set, set_len, &f.ciphertext,
				      &f.ciphertext_len) < 0) {
			err("wrapping failed");
			ret = EXIT_ERROR;
		}
	}
	if (ret == EXIT_OK)
		ret = write_byok(&f);
	byok_file_done(&f);
	verified_done(&v);
	return ret;
}

/* fetch-collateral BUNDLE: the KDS collateral for the bundle's report into --collateral-dir. */
static int verb_fetch_collateral(int argc, char **argv)
{
	_cleanup_free_ uint8_t *buf = NULL;
	struct byok_bundle b = {};
	struct report_evidence re;
	struct snp_report rp;
	struct collateral_id id;
	struct collateral_added a = {};
	char why[512] = "";
	size_t len = 0;
	int p, r;

	if (optind + 1 >= argc || optind + 2 < argc || !arg_collateral_dir) {
		err("fetch-collateral: BUNDLE and --collateral-dir DIR are required");
		return EXIT_USAGE;
	}
	r = fileio_read_all(argv[optind + 1], BYOK_JSON_MAX, &buf, &len);
	if (r < 0) {
		err("%s: %s", argv[optind + 1], strerror(-r));
		return EXIT_ERROR;
	}
	r = byok_bundle_parse((const char *)buf, len, &b, why, sizeof(why));
	/* An HCL report's inner SNP report names the chip and TCB. */
	if (r >= 0 && (report_evidence_open(b.report, b.report_len, &re, NULL) < 0 ||
		       snp_report_parse(re.snp_report, SNP_REPORT_SIZE, &rp) < 0))
		r = -EBADMSG, snprintf(why, sizeof(why), "the bundle's report does not parse");
	p = r >= 0 ? snp_report_product_from_cpuid(&rp) : -EINVAL;
	if (r >= 0 && p < 0)
		r = -EBADMSG, snprintf(why, sizeof(why), "the report does not name its product "
				       "(version 2): import the chain with vhsmctl collateral import");
	if (r >= 0)
		r = collateral_id_from_report(&rp, p, &id);
	bool vlek = r >= 0 && snp_report_raw_signing_key(re.snp_report, SNP_REPORT_SIZE) ==
				      SNP_SIGNING_KEY_VLEK;
	byok_bundle_done(&b);
	if (r < 0) {
		err("fetch-collateral: %s", why);
		return EXIT_REJECTED;
	}
	r = collateral_fetch_kds(arg_collateral_dir, arg_kds_url, &id, vlek, &a, why, sizeof(why));
	if (r < 0) {
		err("fetch-collateral: %s", why);
		return r == -EBADMSG ? EXIT_REJECTED : EXIT_ERROR;
	}
	out_say("cached: %u VCEK, %u ASK, %u ASVK, %u ARK, %u CRL", a.vcek, a.ask, a.asvk, a.ark,
		a.crl);
	return EXIT_OK;
}

static void help(void)
{
	printf("Usage: vhsm-byok verify BUNDLE --policy FILE [--trust-root PEM]... [--nonce HEX]\n"
	       "                 [--expect-name KEK]\n"
	       "       vhsm-byok wrap --bundle BUNDLE --policy FILE [--trust-root PEM]...\n"
	       "                 [--nonce HEX] [--expect-name KEK] [--exportable]\n"
	       "                 [--purge-protection] [--attest-each-use]\n"
	       "                 (--key-file FILE|- | --pkcs11-uri URI [--pkcs11-module SO]\n"
	       "                 [--oaep-sha1]) --out FILE\n"
	       "       vhsm-byok rewrap --backup FILE --private-key PEM --bundle BUNDLE\n"
	       "                 --policy FILE [--backup-policy FILE] [--trust-root PEM]...\n"
	       "                 [--nonce HEX] [--expect-name KEK] --out FILE\n"
	       "       vhsm-byok verify-key FILE --policy FILE [--trust-root PEM]... [--nonce HEX]\n"
	       "                 [--expect-key PEM|DER]\n"
	       "       vhsm-byok fetch-collateral BUNDLE --collateral-dir DIR [--kds-url URL]\n"
	       "       vhsm-byok fleet-sign BUNDLE --policy FILE --ca-cert PEM --ca-key PEM\n"
	       "                 [--days N|--hours N] [--nonce HEX] [--trust-root PEM]...\n"
	       "                 --out CERT\n"
	       "       vhsm-byok --help | --version\n\n"
	       "The customer's side of BYOK for vhsm (docs/byok.md):\n"
	       "  verify  checks a CVM's exchange-key bundle: report signature, AMD chain,\n"
	       "          policy, VMPL, and that REPORT_DATA binds the key; prints every check\n"
	       "  wrap    verifies, then wraps a 32-byte KEK (file, or a PKCS#11 token without\n"
	       "          the key leaving it) with CKM_RSA_AES_KEY_WRAP into a BYOK file\n"
	       "  verify-key  checks a key attestation (`vhsmctl key attest`): the key pair was\n"
	       "          generated in and is held by a vhsmd whose CVM satisfies the policy\n"
	       "  rewrap  verifies a new CVM's bundle and the backup's own evidence, opens a\n"
	       "          backup made by `vhsmctl kek backup` with the customer's private key,\n"
	       "          says what it restores, and wraps it for that CVM\n"
	       "  fetch-collateral  caches the chain, the ARK's CRL and the VCEK for the\n"
	       "          bundle's chip and TCB from AMD KDS (the only verb that uses the\n"
	       "          network); verify, wrap and rewrap then use --collateral-dir offline\n"
	       "  fleet-sign  checks a fleet enrollment (`vhsmctl fleet enroll`): report, AMD\n"
	       "          chain, policy, freshness (expiry, --nonce), the CSR's signature and\n"
	       "          that REPORT_DATA binds it; only then issues a clientAuth certificate\n"
	       "          from the fleet CA (--ca-cert, --ca-key: mode 0600), default 1 day\n"
	       "On the vtpm platform (Azure paravisor CVMs) the report is the paravisor's HCL\n"
	       "report: every verb refuses it unless the policy's \"vtpm_ak_digests\" pins the\n"
	       "VM's vTPM attestation key (verify the digest out of band: vhsmctl platform)\n\n"
	       "  --nonce HEX       the nonce given to export-exchange-key (freshness)\n"
	       "  --expect-name KEK refuse unless the exchange key imports this KEK name\n"
	       "  --exportable      the customer allows `kek backup` of this KEK (default: never\n"
	       "                    leaves the CVM); --purge-protection, --attest-each-use too\n"
	       "  --backup-policy F the policy the CVM that made the backup must satisfy\n"
	       "  --trust-root PEM  also trust this ARK (the simulator's); repeatable\n"
	       "  --crl FILE        AMD's CRL for the ARK (KDS .../crl): refuse a revoked ASK/ASVK\n"
	       "  --require-crl     refuse without a CRL (--crl or in --collateral-dir)\n"
	       "  --collateral-dir DIR  cached AMD certificates and CRL (fetch-collateral):\n"
	       "                    fill in what the bundle lacks; the CRL unless --crl\n"
	       "  --kds-url URL     AMD KDS for fetch-collateral (default " COLLATERAL_KDS_DEFAULT ")\n"
	       "  --allow-test-root wrap/rewrap for a chain ending in a --trust-root (TEST ONLY)\n"
	       "  --accept-any-guest wrap/rewrap although the policy pins no guest code\n"
	       "  --accept-unauthenticated-backup  rewrap a backup without a report\n"
	       "  --json            one JSON object on standard output (checks, errors, results)\n"
	       "  --quiet           print errors and warnings only\n"
	       "  --verbose         print the PKCS#11 mechanisms used\n\n"
	       "Exit status: 0 success, 1 refused, 2 usage error, 3 other error.\n");
}

static int add_trust_root(const char *path)
{
	if (arg_n_roots >= MAX_TRUST_ROOTS) {
		err("at most %d --trust-root options", MAX_TRUST_ROOTS);
		return EXIT_USAGE;
	}
	if (amd_cert_load_file_role(path, AMD_CERT_ARK, &arg_roots[arg_n_roots],
				    &arg_root_lens[arg_n_roots]) < 0) {
		err("%s: not a certificate", path);
		return EXIT_ERROR;
	}
	arg_n_roots++;
	return EXIT_OK;
}

/* --days N / --hours N: the issued certificate's lifetime (1 hour .. 30 days). */
static int parse_lifetime(const char *s, uint64_t unit)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);

	if (errno || end == s || *end || s[0] == '-' || v == 0 ||
	    v > FLEET_SIGN_LIFETIME_MAX_SEC / unit) {
		err("--%s: 1 to %llu expected (a certificate lives at most 30 days)",
		    unit == 3600u ? "hours" : "days",
		    (unsigned long long)(FLEET_SIGN_LIFETIME_MAX_SEC / unit));
		return EXIT_USAGE;
	}
	arg_lifetime = v * unit;
	return EXIT_OK;
}

static int parse_args(int argc, char **argv)
{
	enum { O_BUNDLE = 256, O_POLICY, O_TRUST, O_OUT, O_KEY, O_URI, O_MODULE, O_SHA1,
	       O_BACKUP, O_PRIV, O_NONCE, O_QUIET, O_VERBOSE, O_JSON, O_ANY_GUEST, O_TEST_ROOT,
	       O_EXPORTABLE, O_PURGE, O_ATTEST, O_EXPECT_NAME, O_BACKUP_POLICY, O_UNAUTH, O_CRL,
	       O_REQUIRE_CRL, O_EXPECT_KEY, O_COLLATERAL, O_KDS, O_CA_CERT, O_CA_KEY, O_DAYS,
	       O_HOURS };
	static const struct option opts[] = {
		{ "bundle", required_argument, NULL, O_BUNDLE },
		{ "policy", required_argument, NULL, O_POLICY },
		{ "trust-root", required_argument, NULL, O_TRUST },
		{ "out", required_argument, NULL, O_OUT },
		{ "key-file", required_argument, NULL, O_KEY },
		{ "pkcs11-uri", required_argument, NULL, O_URI },
		{ "pkcs11-module", required_argument, NULL, O_MODULE },
		{ "oaep-sha1", no_argument, NULL, O_SHA1 },
		{ "backup", required_argument, NULL, O_BACKUP },
		{ "private-key", required_argument, NULL, O_PRIV },
		{ "nonce", required_argument, NULL, O_NONCE },
		{ "quiet", no_argument, NULL, O_QUIET },
		{ "verbose", no_argument, NULL, O_VERBOSE },
		{ "json", no_argument, NULL, O_JSON },
		{ "accept-any-guest", no_argument, NULL, O_ANY_GUEST },
		{ "allow-test-root", no_argument, NULL, O_TEST_ROOT },
		{ "exportable", no_argument, NULL, O_EXPORTABLE },
		{ "purge-protection", no_argument, NULL, O_PURGE },
		{ "attest-each-use", no_argument, NULL, O_ATTEST },
		{ "expect-name", required_argument, NULL, O_EXPECT_NAME },
		{ "backup-policy", required_argument, NULL, O_BACKUP_POLICY },
		{ "accept-unauthenticated-backup", no_argument, NULL, O_UNAUTH },
		{ "crl", required_argument, NULL, O_CRL },
		{ "require-crl", no_argument, NULL, O_REQUIRE_CRL },
		{ "expect-key", required_argument, NULL, O_EXPECT_KEY },
		{ "collateral-dir", required_argument, NULL, O_COLLATERAL },
		{ "kds-url", required_argument, NULL, O_KDS },
		{ "ca-cert", required_argument, NULL, O_CA_CERT },
		{ "ca-key", required_argument, NULL, O_CA_KEY },
		{ "days", required_argument, NULL, O_DAYS },
		{ "hours", required_argument, NULL, O_HOURS },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int c, r;

	opterr = 0; /* our own message, escaped and in the JSON output */
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) >= 0) {
		switch (c) {
		case O_BUNDLE: arg_bundle = optarg; break;
		case O_POLICY: arg_policy = optarg; break;
		case O_OUT: arg_out = optarg; break;
		case O_KEY: arg_key_file = optarg; break;
		case O_URI: arg_uri = optarg; break;
		case O_MODULE: arg_module = optarg; break;
		case O_SHA1: arg_oaep_sha1 = true; break;
		case O_BACKUP: arg_backup = optarg; break;
		case O_PRIV: arg_private_key = optarg; break;
		case O_NONCE: arg_nonce = optarg; break;
		case O_QUIET: arg_quiet = true; break;
		case O_VERBOSE: arg_verbose = true; break;
		case O_JSON: arg_json = true; break;
		case O_ANY_GUEST: arg_accept_any_guest = true; break;
		case O_TEST_ROOT: arg_allow_test_root = true; break;
		case O_EXPORTABLE: arg_exportable = true; break;
		case O_PURGE: arg_purge_protection = true; break;
		case O_ATTEST: arg_attest_each_use = true; break;
		case O_EXPECT_NAME: arg_expect_name = optarg; break;
		case O_BACKUP_POLICY: arg_backup_policy = optarg; break;
		case O_UNAUTH: arg_accept_unauthenticated_backup = true; break;
		case O_REQUIRE_CRL: arg_require_crl = true; break;
		case O_EXPECT_KEY: arg_expect_key = optarg; break;
		case O_COLLATERAL: arg_collateral_dir = optarg; break;
		case O_KDS: arg_kds_url = optarg; break;
		case O_CA_CERT: arg_ca_cert = optarg; break;
		case O_CA_KEY: arg_ca_key = optarg; break;
		case O_DAYS:
		case O_HOURS:
			if (parse_lifetime(optarg, c == O_DAYS ? 86400u : 3600u) != EXIT_OK)
				return EXIT_USAGE;
			break;
		case O_CRL:
			free(arg_crl);
			arg_crl = NULL;
			r = fileio_read_all(optarg, CRL_MAX, &arg_crl, &arg_crl_len);
			if (r < 0) {
				err("--crl %s: %s", optarg,
				    r == -EMSGSIZE ? "file too large" : strerror(-r));
				return EXIT_ERROR;
			}
			break;
		case O_TRUST:
			r = add_trust_root(optarg);
			if (r != EXIT_OK)
				return r;
			break;
		case 'h': help(); return -1;
		case ':':
			err("option '%s' needs an argument", argv[optind - 1]);
			return EXIT_USAGE;
		default:
			err("unknown option '%s' (see --help)", argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	return EXIT_OK;
}

/* The nonce of the verb: BYOK's are 32 bytes, fleet enrollment's 1 to 64. */
static int check_nonce_arg(const char *verb)
{
	size_t l = arg_nonce ? strlen(arg_nonce) : 0;

	if (!arg_nonce)
		return EXIT_OK;
	if (strcmp(verb, "fleet-sign") == 0) {
		if (l == 0 || l % 2 || l > 2 * FLEET_ENROLL_NONCE_MAX) {
			err("--nonce: 2 to %u hex digits expected", 2 * FLEET_ENROLL_NONCE_MAX);
			return EXIT_USAGE;
		}
	} else if (l != 2 * BYOK_NONCE_SIZE) {
		err("--nonce: %u hex digits expected", 2 * BYOK_NONCE_SIZE);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* Pre-scan for --json/--quiet, so that errors in the arguments are reported in that form. */
static void prescan_output_flags(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--json") == 0)
			arg_json = true;
		else if (strcmp(argv[i], "--quiet") == 0)
			arg_quiet = true;
	}
}

static int run_verb(const char *verb, int argc, char **argv)
{
	int r = parse_args(argc - 1, argv + 1);

	if (r == EXIT_OK)
		r = check_nonce_arg(verb);
	if (r != EXIT_OK)
		return r;
	arg_verify = (struct byok_verify_opts){
		.policy = arg_policy, .nonce = arg_nonce, .expect_name = arg_expect_name,
		.trust_roots = (const uint8_t *const *)arg_roots, .trust_root_lens = arg_root_lens,
		.n_trust_roots = arg_n_roots, .crl = arg_crl, .crl_len = arg_crl_len,
		.require_crl = arg_require_crl, .accept_any_guest = arg_accept_any_guest,
		.allow_test_root = arg_allow_test_root, .collateral_dir = arg_collateral_dir,
	};
	if (strcmp(verb, "fetch-collateral") == 0)
		return verb_fetch_collateral(argc, argv);
	if (strcmp(verb, "verify") == 0) {
		if (optind + 1 < argc) /* argv + 1: optind counts from the verb */
			arg_bundle = argv[optind + 1];
		arg_verify.bundle = arg_bundle;
		if (optind + 2 < argc) {
			err("verify: unexpected argument '%s'", argv[optind + 2]);
			return EXIT_USAGE;
		}
		struct verified v = {};
		r = verify_bundle(&arg_verify, &v);
		verified_done(&v);
		return r;
	}
	if (strcmp(verb, "verify-key") == 0) {
		if (optind + 2 < argc) {
			err("verify-key: unexpected argument '%s'", argv[optind + 2]);
			return EXIT_USAGE;
		}
		/* A statement about a key: as strict as giving one (pinning, real roots). */
		arg_verify.gives_key = true;
		return verify_key_attestation(&arg_verify, optind + 1 < argc ? argv[optind + 1] : NULL,
					      arg_expect_key);
	}
	if (strcmp(verb, "fleet-sign") == 0) {
		if (optind + 2 < argc) {
			err("fleet-sign: unexpected argument '%s'", argv[optind + 2]);
			return EXIT_USAGE;
		}
		/* A certificate is a grant, as a key is: pinning and real roots required. */
		arg_verify.gives_key = true;
		struct fleet_sign_opts s = {
			.bundle = optind + 1 < argc ? argv[optind + 1] : arg_bundle,
			.ca_cert = arg_ca_cert, .ca_key = arg_ca_key, .out = arg_out,
			.lifetime = arg_lifetime, .secure_heap = secure_heap == 1,
		};
		return fleet_sign(&arg_verify, &s);
	}
	if (optind + 1 < argc) {
		err("%s: unexpected argument '%s'", verb, argv[optind + 1]);
		return EXIT_USAGE;
	}
	arg_verify.gives_key = true;
	arg_verify.bundle = arg_bundle;
	if (strcmp(verb, "wrap") == 0)
		return verb_wrap();
	if (strcmp(verb, "rewrap") == 0 || strcmp(verb, "import-backup") == 0)
		return verb_rewrap();
	err("unknown verb '%s' (verify, verify-key, wrap, rewrap, fetch-collateral, fleet-sign)",
	    verb);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	const char *verb = argc >= 2 ? argv[1] : "";
	int r;

	/* Key material passes through this process: no core, no ptrace by the same user, and
	 * private keys in OpenSSL's locked, MADV_DONTDUMP secure heap. */
	if (secmem_harden_process() < 0)
		fprintf(stderr, "vhsm-byok: WARNING: cannot make the process non-dumpable\n");
	secure_heap = CRYPTO_secure_malloc_init(256u * 1024u, 32);
	prescan_output_flags(argc, argv);
	if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0) {
		help();
		return EXIT_OK;
	}
	if (strcmp(verb, "--version") == 0) {
		if (arg_json)
			printf("{\"program\":\"vhsm-byok\",\"version\":\"%s\"}\n", VHSM_VERSION);
		else
			printf("vhsm-byok %s\n", VHSM_VERSION);
		return EXIT_OK;
	}
	if (out_init(verb, arg_json, arg_quiet) < 0)
		return EXIT_ERROR;
	if (argc < 2 || verb[0] == '-') {
		if (!arg_json)
			help();
		err("a verb is required (verify, wrap, rewrap)");
		r = EXIT_USAGE;
	} else {
		r = run_verb(verb, argc, argv);
	}
	for (size_t i = 0; i < arg_n_roots; i++)
		free(arg_roots[i]);
	free(arg_crl);
	if (r < 0) /* --help */
		r = EXIT_OK;
	out_finish(r);
	CRYPTO_secure_malloc_done();
	return r;
}
