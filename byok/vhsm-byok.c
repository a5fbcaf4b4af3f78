/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsm-byok: the customer's side of BYOK. Runs anywhere, needs no daemon.
 *   verify BUNDLE --policy F [--trust-root F]...     check a CVM's exchange-key evidence
 *   wrap --bundle B (--key-file F | --pkcs11-uri U) --out FILE
 *   rewrap --backup FILE --private-key F --bundle B --policy F --out FILE
 * wrap and rewrap verify first and refuse unless everything passes. The verifier and policy
 * engine are vhsmd's own (lib/snp-verify, lib/policy). docs/byok.md, vhsm-byok(1).
 */
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
#include "certtable.h"
#include "ct.h"
#include "fileio.h"
#include "log.h"
#include "pkcs11.h"
#include "policy.h"
#include "secmem.h"
#include "snp-report.h"
#include "snp-verify.h"

enum { EXIT_OK = 0, EXIT_REJECTED = 1, EXIT_USAGE = 2, EXIT_ERROR = 3 };
#define MAX_TRUST_ROOTS 8
#define KEY_FILE_MAX 4096u
#define PRIVATE_KEY_MAX (64u * 1024u)

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(BIO *, BIO_free);

/* Options shared by the verbs. */
static const char *arg_bundle, *arg_policy, *arg_out, *arg_key_file, *arg_uri, *arg_backup,
	*arg_private_key, *arg_module, *arg_nonce;
static uint8_t *arg_roots[MAX_TRUST_ROOTS];
static size_t arg_root_lens[MAX_TRUST_ROOTS], arg_n_roots;
static bool arg_quiet, arg_oaep_sha1, arg_verbose;

static void err(const char *fmt, ...) _printf_(1, 2);
static void err(const char *fmt, ...)
{
	va_list ap;

	fputs("vhsm-byok: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* One line per check: "  pass  name  detail". Verify prints them; wrap with --quiet not. */
static void check(bool ok, const char *name, const char *fmt, ...) _printf_(3, 4);
static void check(bool ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (arg_quiet)
		return;
	printf("  %-8s %-18s ", ok ? "pass" : "fail", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static const char *state_name(enum snp_check_state s)
{
	return s == SNP_CHECK_PASS ? "pass" : s == SNP_CHECK_FAIL ? "fail"
		: s == SNP_CHECK_NOT_APPLICABLE ? "n/a" : "not-run";
}

struct verified {
	struct byok_bundle b;
	EVP_PKEY *pub;
};

static void verified_done(struct verified *v)
{
	byok_bundle_done(&v->b);
	EVP_PKEY_free(v->pub);
	v->pub = NULL;
}

static int load_policy(struct snp_policy **ret)
{
	_cleanup_free_ uint8_t *buf = NULL;
	char e[POLICY_ERR_MAX] = "";
	size_t len;
	int r;

	r = fileio_read_all(arg_policy, POLICY_MAX_SIZE, &buf, &len);
	if (r < 0) {
		err("policy %s: %s", arg_policy, strerror(-r));
		return EXIT_ERROR;
	}
	r = snp_policy_parse((const char *)buf, len, ret, e, sizeof(e));
	if (r < 0) {
		err("policy %s: %s", arg_policy, e[0] ? e : strerror(-r));
		return EXIT_ERROR;
	}
	return EXIT_OK;
}

/* The attestation part: report, chain (from the bundle's certificate table) and policy. */
static bool verify_report(const struct byok_bundle *b, const struct snp_policy *pol,
			  struct snp_verify_result *vr)
{
	struct certtable t = {};
	const struct certtable_entry *vek = NULL, *ask = NULL, *ark = NULL;
	struct snp_policy_result pr = {};
	bool ok;

	if (!b->certs || certtable_parse(b->certs, b->certs_len, &t) < 0) {
		check(false, "certificates", "no valid certificate table in the bundle");
		return false;
	}
	amd_cert_pick_from_table(&t, snp_report_raw_signing_key(b->report, b->report_len), &vek,
				 &ask, &ark);
	const struct snp_evidence ev = {
		.report = b->report, .report_len = b->report_len,
		.vek = vek ? vek->data : NULL, .vek_len = vek ? vek->len : 0,
		.ask = ask ? ask->data : NULL, .ask_len = ask ? ask->len : 0,
		.ark = ark ? ark->data : NULL, .ark_len = ark ? ark->len : 0,
	};
	const struct snp_verify_opts vo = {
		.trust_roots = (const uint8_t *const *)arg_roots,
		.trust_root_lens = arg_root_lens,
		.n_trust_roots = arg_n_roots,
	};
	if (!vek) {
		check(false, "certificates", "no VCEK/VLEK in the certificate table");
		return false;
	}
	ok = snp_verify(&ev, &vo, vr) == 0;
	for (int c = 0; c < _SNP_CHECK_MAX; c++)
		if (!arg_quiet)
			printf("  %-8s %-18s %s\n", state_name(vr->state[c]), snp_check_name(c),
			       vr->detail[c]);
	if (vr->trusted_by_extra_root && !arg_quiet)
		printf("  %-8s %-18s %s\n", "note", "trust_root",
		       "chain ends in a --trust-root, NOT an AMD root (simulated or test CVM)");
	if (!vr->report_parsed)
		return false;
	if (snp_policy_eval(pol, &vr->report, vr->product, &pr) < 0)
		ok = false;
	for (size_t i = 0; i < pr.n; i++)
		check(false, pr.v[i].rule, "%s", pr.v[i].detail);
	uint8_t d[32];
	char hex[65];
	snp_policy_digest(pol, d);
	ct_hex_encode(hex, d, sizeof(d));
	check(pr.n == 0, "policy", "%s (sha256 %.16s...)", pr.n ? "violated" : "satisfied", hex);
	return ok;
}

/* The binding part: REPORT_DATA, kid, key type and size, lifetime, nonce. */
static bool verify_binding(const struct byok_bundle *b, const struct snp_verify_result *vr,
			   EVP_PKEY *pub)
{
	char kid[BYOK_KID_MAX + 1] = "";
	uint8_t want[64];
	uint64_t now = (uint64_t)time(NULL);
	bool ok = true, c;

	c = vr->report_parsed &&
	    byok_report_data(b->spki, b->spki_len, b->nonce, b->expires, b->kek, want) == 0 &&
	    CRYPTO_memcmp(want, vr->report.report_data, 64) == 0;
	check(c, "report_data", c ? "binds the public key, nonce, expiry and KEK name"
				  : "does not bind this public key, nonce, expiry and KEK name");
	ok &= c;
	c = byok_kid_from_spki(b->spki, b->spki_len, kid) == 0 && strcmp(kid, b->kid) == 0;
	check(c, "kid", "%s%s", b->kid, c ? "" : " does not name this public key");
	ok &= c;
	c = pub && EVP_PKEY_get_bits(pub) == (int)BYOK_RSA_BITS;
	check(c, "key", "RSA-%d, import only", pub ? EVP_PKEY_get_bits(pub) : 0);
	ok &= c;
	c = b->created <= now + 300 && now < b->expires && b->expires > b->created;
	check(c, "lifetime", "expires %llu (%s)", (unsigned long long)b->expires,
	      now < b->expires ? "valid" : "EXPIRED");
	ok &= c;
	if (arg_nonce) {
		uint8_t n[BYOK_NONCE_SIZE];
		c = ct_hex_decode(n, sizeof(n), arg_nonce, strlen(arg_nonce)) == 0 &&
		    CRYPTO_memcmp(n, b->nonce, sizeof(n)) == 0;
		check(c, "nonce", c ? "matches --nonce" : "differs from --nonce (replayed bundle?)");
		ok &= c;
	}
	return ok;
}

/* Loads and verifies the bundle. EXIT_OK with v filled, EXIT_REJECTED, or an error exit. */
static int verify_bundle(struct verified *v)
{
	_cleanup_(snp_policy_freep) struct snp_policy *pol = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	struct snp_verify_result vr = {};
	char e[160] = "";
	size_t len;
	int r;

	if (!arg_bundle || !arg_policy) {
		err("--bundle/BUNDLE and --policy FILE are required");
		return EXIT_USAGE;
	}
	if (load_policy(&pol) != EXIT_OK)
		return EXIT_ERROR;
	r = fileio_read_all(arg_bundle, BYOK_JSON_MAX, &buf, &len);
	if (r < 0) {
		err("%s: %s", arg_bundle, r == -EMSGSIZE ? "file too large" : strerror(-r));
		return EXIT_ERROR;
	}
	if (!arg_quiet)
		printf("bundle %s\n", arg_bundle);
	r = byok_bundle_parse((const char *)buf, len, &v->b, e, sizeof(e));
	check(r >= 0, "bundle_parse", "%s", r >= 0 ? "well-formed" : e);
	if (r < 0)
		return EXIT_REJECTED;
	if (!arg_quiet)
		printf("exchange key %s for KEK %s\n", v->b.kid, v->b.kek);
	if (byok_pubkey_load(v->b.spki, v->b.spki_len, &v->pub) < 0)
		v->pub = NULL; /* reported by the "key" check */
	bool ok = verify_report(&v->b, pol, &vr);
	ok &= verify_binding(&v->b, &vr, v->pub);
	if (!arg_quiet)
		printf("result: %s\n", ok ? "VERIFIED" : "REJECTED");
	if (!ok)
		err("the exchange key's evidence does not verify: nothing was wrapped");
	return ok ? EXIT_OK : EXIT_REJECTED;
}

static int write_byok(const struct byok_file *f)
{
	_cleanup_free_ char *json = NULL;
	int r = byok_file_format(f, "vhsm-byok " VHSM_VERSION, &json);

	if (r < 0 || fileio_write_atomic(arg_out, json, strlen(json), 0644) < 0) {
		err("cannot write %s", arg_out);
		return EXIT_ERROR;
	}
	if (!arg_quiet)
		printf("wrote %s for exchange key %s (%s)\n", arg_out, f->kid,
		       byok_enc_to_string(f->enc));
	return EXIT_OK;
}

static int read_key_file(uint8_t **ret, size_t *ret_len)
{
	int fd = strcmp(arg_key_file, "-") == 0 ? STDIN_FILENO
						: open(arg_key_file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	int r;

	if (fd < 0) {
		err("%s: %s", arg_key_file, strerror(errno));
		return EXIT_ERROR;
	}
	r = fileio_read_fd_secret(fd, KEY_FILE_MAX, ret, ret_len);
	if (fd != STDIN_FILENO)
		close(fd);
	if (r < 0) {
		err("%s: %s", arg_key_file, strerror(-r));
		return EXIT_ERROR;
	}
	if (*ret_len != BYOK_AES_KEY_SIZE) {
		err("%s: a KEK is a raw AES-256 key of 32 bytes, this is %zu", arg_key_file,
		    *ret_len);
		*ret = secmem_free(*ret);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static int verb_wrap(void)
{
	struct verified v = {};
	struct byok_file f = { .kind = BYOK_KIND_IMPORT, .enc = BYOK_ENC_RSA_AES_KEY_WRAP_256 };
	_cleanup_secmem_ uint8_t *key = NULL;
	size_t key_len;
	int ret;

	if (!arg_out || !!arg_key_file == !!arg_uri) {
		err("wrap: --bundle, --policy, --out and one of --key-file/--pkcs11-uri are required");
		return EXIT_USAGE;
	}
	ret = verify_bundle(&v);
	if (ret != EXIT_OK)
		goto out;
	strcpy(f.kid, v.b.kid);
	strcpy(f.kek, v.b.kek);
	if (arg_key_file) {
		ret = read_key_file(&key, &key_len);
		if (ret == EXIT_OK && byok_rsa_aes_wrap(v.pub, f.enc, key, key_len, &f.ciphertext,
							&f.ciphertext_len) < 0) {
			err("wrapping failed");
			ret = EXIT_ERROR;
		}
	} else {
		struct p11uri u;
		char e[160] = "";
		struct p11_wrap_opts o = { .module = arg_module, .allow_oaep_sha1 = arg_oaep_sha1,
					   .verbose = arg_verbose };
		if (p11uri_parse(arg_uri, &u, e, sizeof(e)) < 0) {
			err("--pkcs11-uri: %s", e);
			ret = EXIT_USAGE;
			goto out;
		}
		if (u.pin_value)
			err("warning: pin-value puts the PIN on the command line; use pin-source");
		int r = p11_wrap_key(&u, &o, v.pub, &f.ciphertext, &f.ciphertext_len, &f.enc);
		p11uri_done(&u);
		if (r < 0)
			ret = r == -EOPNOTSUPP || r == -EACCES ? EXIT_REJECTED : EXIT_ERROR;
	}
	if (ret == EXIT_OK)
		ret = write_byok(&f);
out:
	byok_file_done(&f);
	verified_done(&v);
	return ret;
}

static int load_private_key(EVP_PKEY **ret)
{
	_cleanup_secmem_ uint8_t *buf = NULL;
	_cleanup_(BIO_freep) BIO *bio = NULL;
	size_t len;
	int fd = open(arg_private_key, O_RDONLY | O_CLOEXEC | O_NOCTTY), r;

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
	*ret = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, empty) : NULL;
	if (!*ret) {
		err("%s: not an unencrypted PEM private key", arg_private_key);
		return EXIT_ERROR;
	}
	return EXIT_OK;
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
	if (byok_pubkey_spki(priv, &spki, &n) < 0 || byok_spki_fingerprint(spki, n, fp) < 0)
		goto out;
	snprintf(kid, sizeof(kid), "vhsm-bk-%.32s", fp);
	if (f.kind != BYOK_KIND_BACKUP)
		err("%s is not a backup (vhsm.kind)", arg_backup);
	else if (strcmp(f.kid, kid) != 0)
		err("%s is wrapped to key %s, not to this private key (%s)", arg_backup, f.kid, kid);
	else if (byok_rsa_aes_unwrap(priv, f.enc, f.ciphertext, f.ciphertext_len, ret, ret_len) < 0)
		err("%s does not unwrap with this private key (modified?)", arg_backup);
	else if (byok_keyset_decode(*ret, *ret_len, ks) < 0) {
		err("%s: the key set inside is malformed", arg_backup);
		*ret = secmem_free(*ret);
	} else
		ret_code = EXIT_OK;
out:
	byok_file_done(&f);
	return ret_code;
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
	ret = verify_bundle(&v);
	if (ret == EXIT_OK)
		ret = open_backup(priv, &set, &set_len, &ks);
	if (ret == EXIT_OK && strcmp(ks.name, v.b.kek) != 0) {
		err("the backup holds KEK %s, the exchange key is for KEK %s", ks.name, v.b.kek);
		ret = EXIT_REJECTED;
	}
	if (ret == EXIT_OK) {
		strcpy(f.kid, v.b.kid);
		strcpy(f.kek, v.b.kek);
		if (byok_rsa_aes_wrap(v.pub, f.enc, set, set_len, &f.ciphertext,
				      &f.ciphertext_len) < 0) {
			err("wrapping failed");
			ret = EXIT_ERROR;
		}
	}
	if (ret == EXIT_OK) {
		if (!arg_quiet)
			printf("backup of KEK %s: %u version(s)\n", ks.name, ks.n);
		ret = write_byok(&f);
	}
	byok_file_done(&f);
	verified_done(&v);
	return ret;
}

static void help(void)
{
	printf("Usage: vhsm-byok verify BUNDLE --policy FILE [--trust-root PEM]... [--nonce HEX]\n"
	       "       vhsm-byok wrap --bundle BUNDLE --policy FILE [--trust-root PEM]...\n"
	       "                 (--key-file FILE|- | --pkcs11-uri URI [--pkcs11-module SO]\n"
	       "                 [--oaep-sha1]) --out FILE\n"
	       "       vhsm-byok rewrap --backup FILE --private-key PEM --bundle BUNDLE\n"
	       "                 --policy FILE [--trust-root PEM]... --out FILE\n\n"
	       "The customer's side of BYOK for vhsm (docs/byok.md):\n"
	       "  verify  checks a CVM's exchange-key bundle: report signature, AMD chain,\n"
	       "          policy, and that REPORT_DATA binds the key; prints every check\n"
	       "  wrap    verifies, then wraps a 32-byte KEK (file, or a PKCS#11 token without\n"
	       "          the key leaving it) with CKM_RSA_AES_KEY_WRAP into a BYOK file\n"
	       "  rewrap  verifies a new CVM's bundle, opens a backup made by `vhsmctl kek\n"
	       "          backup` with the customer's private key, and wraps it for that CVM\n\n"
	       "  --trust-root PEM  also trust this ARK (the simulator's); repeatable\n"
	       "  --nonce HEX       the nonce given to export-exchange-key (freshness)\n"
	       "  --quiet           print errors only\n"
	       "  --verbose         print the PKCS#11 mechanisms used\n\n"
	       "Exit status: 0 success, 1 refused, 2 usage error, 3 other error.\n");
}

static int parse_args(int argc, char **argv)
{
	enum { O_BUNDLE = 256, O_POLICY, O_TRUST, O_OUT, O_KEY, O_URI, O_MODULE, O_SHA1,
	       O_BACKUP, O_PRIV, O_NONCE, O_QUIET, O_VERBOSE };
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
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
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
		case O_TRUST:
			if (arg_n_roots >= MAX_TRUST_ROOTS) {
				err("at most %d --trust-root options", MAX_TRUST_ROOTS);
				return EXIT_USAGE;
			}
			if (amd_cert_load_file_role(optarg, AMD_CERT_ARK, &arg_roots[arg_n_roots],
						    &arg_root_lens[arg_n_roots]) < 0) {
				err("%s: not a certificate", optarg);
				return EXIT_ERROR;
			}
			arg_n_roots++;
			break;
		case 'h': help(); return -1;
		default: return EXIT_USAGE;
		}
	}
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	const char *verb;
	int r;

	(void)secmem_harden_process(); /* key material passes through this process */
	if (argc < 2) {
		help();
		return EXIT_USAGE;
	}
	verb = argv[1];
	if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0) {
		help();
		return EXIT_OK;
	}
	if (strcmp(verb, "--version") == 0) {
		printf("vhsm-byok %s\n", VHSM_VERSION);
		return EXIT_OK;
	}
	r = parse_args(argc - 1, argv + 1);
	if (r != EXIT_OK)
		goto out;
	if (strcmp(verb, "verify") == 0) {
		if (optind + 1 < argc) /* argv + 1: optind counts from the verb */
			arg_bundle = argv[optind + 1];
		if (optind + 2 < argc) {
			err("verify: unexpected argument '%s'", argv[optind + 2]);
			r = EXIT_USAGE;
			goto out;
		}
		struct verified v = {};
		r = verify_bundle(&v);
		verified_done(&v);
	} else if (optind + 1 < argc) {
		err("%s: unexpected argument '%s'", verb, argv[optind + 1]);
		r = EXIT_USAGE;
	} else if (strcmp(verb, "wrap") == 0) {
		r = verb_wrap();
	} else if (strcmp(verb, "rewrap") == 0 || strcmp(verb, "import-backup") == 0) {
		r = verb_rewrap();
	} else {
		err("unknown verb '%s' (verify, wrap, rewrap)", verb);
		r = EXIT_USAGE;
	}
out:
	for (size_t i = 0; i < arg_n_roots; i++)
		free(arg_roots[i]);
	return r < 0 ? EXIT_OK : r;
}
