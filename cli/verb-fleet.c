/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsmctl fleet enroll|install-cert|show|check: this CVM's fleet identity for the KMIP key
 * manager (docs/fleet.md "Enrollment"). The private key never leaves vhsmd; what passes here
 * is public: the CSR, the report, the certificates.
 */
#include <getopt.h>
#include <json-c/json.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "ct.h"
#include "evidence.h"
#include "fileio.h"
#include "json-cleanup.h"
#include "json.h"
#include "fleet-enroll.h"
#include "vhsmctl.h"

/* The CSR as PEM text (malloc'ed), or NULL. */
static char *csr_pem(const struct vhsm_wire_field *f)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s = NULL, *p;
	long n;

	if (f && b && PEM_write_bio(b, "CERTIFICATE REQUEST", "", f->value, (long)f->len) > 0 &&
	    (n = BIO_get_mem_data(b, &p)) > 0)
		s = strndup(p, (size_t)n);
	BIO_free(b);
	return s;
}

/* The enrollment bundle (docs/fleet.md): what vhsm-byok fleet-sign checks. */
static int write_bundle(const struct client_reply *rep, const char *nonce_hex, const char *out,
			json_object **ret_info)
{
	_cleanup_(json_object_putp) json_object *o = json_object_new_object();
	_cleanup_(json_object_putp) json_object *info = client_parse_json(rep);
	_cleanup_free_ char *csr = csr_pem(vhsm_wire_get(&rep->msg, VHSM_TAG_CSR));
	uint64_t expires = 0;

	if (!o || !info || !csr || vhsm_wire_get_u64(&rep->msg, VHSM_TAG_EXPIRES, &expires) < 0) {
		cli_error("fleet enroll: vhsmd's reply lacks the CSR, expiry or description");
		return EXIT_ERROR;
	}
	json_object_object_add(o, "format", json_object_new_string("vhsm-fleet-enrollment-v1"));
	json_object_object_add(o, "name", json_object_new_string(cli_jstr(info, "name")));
	json_object_object_add(o, "key_alg", json_object_new_string(cli_jstr(info, "key_alg")));
	json_object_object_add(o, "nonce", json_object_new_string(nonce_hex ? nonce_hex : ""));
	json_object_object_add(o, "expires", json_object_new_int64((int64_t)expires));
	json_object_object_add(o, "csr", json_object_new_string(csr));
	json_object_object_add(o, "report",
			       cli_json_base64(vhsm_wire_get(&rep->msg, VHSM_TAG_REPORT)));
	json_object_object_add(o, "certs",
			       cli_json_base64(vhsm_wire_get(&rep->msg, VHSM_TAG_CERTS)));
	if (cli_write_json_file(o, "fleet enroll", out) != EXIT_OK)
		return EXIT_ERROR;
	*ret_info = TAKE_PTR(info);
	return EXIT_OK;
}

static void enroll_help(void)
{
	printf("Usage: vhsmctl fleet enroll [--name CN] [--nonce HEX] [--key-alg ec-p256|rsa3072]\n"
	       "                            [--new-key] --out FILE [--json]\n\n"
	       "Makes vhsmd's fleet TLS key (sealed, never exported) on first use, or keeps it,\n"
	       "and writes an enrollment bundle: a certificate request for CN, and a fresh\n"
	       "report (SEV-SNP, or HCL on the vtpm platform) binding the request's public\n"
	       "key, the nonce (1..64 bytes, from the fleet CA's operator) and an expiry,\n"
	       "with its certificates. The fleet CA signs it with vhsm-byok fleet-sign;\n"
	       "install the certificate with vhsmctl fleet install-cert. --new-key replaces\n"
	       "the key (the old certificate is removed).\n");
}

_Static_assert(FLEET_ENROLL_NONCE_MAX == CLI_NONCE_MAX, "fleet enroll's nonce is --nonce's");

int verb_fleet_enroll(int argc, char **argv)
{
	enum { O_NONCE = 256, O_OUT, O_NAME, O_ALG, O_NEW };
	static const struct option opts[] = {
		{ "nonce", required_argument, NULL, O_NONCE },
		{ "out", required_argument, NULL, O_OUT },
		{ "name", required_argument, NULL, O_NAME },
		{ "key-alg", required_argument, NULL, O_ALG },
		{ "new-key", no_argument, NULL, O_NEW },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	_cleanup_(json_object_putp) json_object *info = NULL;
	const char *nonce_hex = NULL, *out = NULL, *name = NULL, *alg = NULL;
	uint8_t nonce[FLEET_ENROLL_NONCE_MAX];
	size_t nonce_len = 0;
	bool new_key = false;
	struct client_req req;
	struct client_reply rep;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case O_NONCE: nonce_hex = optarg; break;
		case O_OUT: out = optarg; break;
		case O_NAME: name = optarg; break;
		case O_ALG: alg = optarg; break;
		case O_NEW: new_key = true; break;
		case 'j': arg_json = true; break;
		case 'h': enroll_help(); return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (!cli_args_count(argc, 0, 0))
		return EXIT_USAGE;
	if (!out) {
		cli_error("fleet enroll: --out FILE is required");
		return EXIT_USAGE;
	}
	if (name && !fleet_name_valid(name)) {
		cli_error("fleet enroll: --name: 1 to %u of A-Z a-z 0-9 . _ - (not starting with . "
			  "or -)", FLEET_NAME_MAX);
		return EXIT_USAGE;
	}
	if (alg && strcmp(alg, "ec-p256") != 0 && strcmp(alg, "rsa3072") != 0) {
		cli_error("fleet enroll: --key-alg: ec-p256 or rsa3072");
		return EXIT_USAGE;
	}
	if (nonce_hex && cli_parse_nonce("fleet enroll", nonce_hex, nonce, &nonce_len) != EXIT_OK)
		return EXIT_USAGE;
	if (client_begin(&req, VHSM_OP_FLEET_ENROLL) < 0)
		return EXIT_ERROR;
	/* An RSA-3072 key takes seconds to generate on a loaded machine. */
	req.timeout_ms = CLIENT_KEYGEN_TIMEOUT_MS;
	if (name)
		vhsm_wire_add_str(&req.b, VHSM_TAG_NAME, name);
	if (alg)
		vhsm_wire_add_str(&req.b, VHSM_TAG_KEY_ALG, alg);
	if (nonce_len)
		vhsm_wire_add_data(&req.b, VHSM_TAG_NONCE, nonce, nonce_len);
	if (new_key)
		vhsm_wire_add_u64(&req.b, VHSM_TAG_FLAGS, VHSM_FLEET_ENROLL_NEW_KEY);
	r = client_call_checked(&req, "fleet enroll", &rep);
	if (r != EXIT_OK)
		return r;
	r = write_bundle(&rep, nonce_hex, out, &info);
	client_reply_done(&rep);
	if (r != EXIT_OK)
		return r;
	json_object_object_add(info, "bundle", json_object_new_string(out));
	if (arg_json) {
		cli_print_json_object(info);
		return EXIT_OK;
	}
	char t[32];
	printf("fleet identity %s (%s, %s): enrollment bundle %s, to be signed before %s\n",
	       cli_jstr(info, "name"), cli_jstr(info, "key_alg"),
	       cli_jbool(info, "new_key") ? "new key" : "key kept",
	       out, cli_fmt_time(cli_jint(info, "expires"), t, sizeof(t)));
	return EXIT_OK;
}

static void print_identity(json_object *o)
{
	json_object *cert;
	char a[32], b[32];

	if (json_member(o, NULL, "certificate", json_type_object, &cert, NULL, 0) < 0)
		cert = NULL;

	printf("name:        %s\n", cli_jstr(o, "name"));
	printf("key:         %s (sha256 of the public key %s)\n", cli_jstr(o, "key_alg"),
	       cli_jstr(o, "spki_sha256"));
	if (!cert) {
		printf("certificate: none installed (vhsmctl fleet enroll, then install-cert)\n");
		return;
	}
	printf("subject:     %s\n", cli_jstr(cert, "subject"));
	printf("issuer:      %s\n", cli_jstr(cert, "issuer"));
	printf("serial:      %s\n", cli_jstr(cert, "serial"));
	printf("valid:       %s .. %s%s\n", cli_fmt_time(cli_jint(cert, "not_before"), a, sizeof(a)),
	       cli_fmt_time(cli_jint(cert, "not_after"), b, sizeof(b)),
	       cli_jbool(cert, "expired") ? " (expired)" : "");
	printf("renewal due: %s\n",
	       cli_jbool(o, "renewal_due")
		       ? "yes (enroll again: a fresh attestation)"
		       : "no");
}

static int read_pem(const char *path, uint8_t **ret, size_t *ret_len)
{
	int r = fileio_read_all(path, FLEET_CHAIN_MAX, ret, ret_len);

	if (r < 0) {
		cli_error("%s: %s", path, r == -EMSGSIZE ? "larger than 16 KiB" : strerror(-r));
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

int verb_fleet_install_cert(int argc, char **argv)
{
	enum { O_CA = 256 };
	static const struct option opts[] = {
		{ "ca", required_argument, NULL, O_CA },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	_cleanup_free_ uint8_t *chain = NULL, *ca = NULL;
	const char *ca_path = NULL;
	size_t chain_len, ca_len = 0;
	struct client_req req;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case O_CA: ca_path = optarg; break;
		case 'j': arg_json = true; break;
		case 'h':
			printf("Usage: vhsmctl fleet install-cert FILE [--ca CA.pem] [--json]\n\n"
			       "Installs the fleet CA's certificate (PEM, the leaf first, then any\n"
			       "intermediates and optionally the CA) for vhsmd's fleet key. vhsmd checks\n"
			       "that it carries the sealed key's public key and clientAuth, is no CA, is\n"
			       "valid now and chains to --ca (or to the CA at the end of FILE), and stores\n"
			       "it atomically in its state directory.\n");
			return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (!cli_args_count(argc, 1, 1))
		return EXIT_USAGE;
	r = read_pem(argv[optind], &chain, &chain_len);
	if (r == EXIT_OK && ca_path)
		r = read_pem(ca_path, &ca, &ca_len);
	if (r != EXIT_OK)
		return r;
	if (client_begin(&req, VHSM_OP_FLEET_INSTALL_CERT) < 0)
		return EXIT_ERROR;
	vhsm_wire_add_data(&req.b, VHSM_TAG_CHAIN, chain, chain_len);
	if (ca)
		vhsm_wire_add_data(&req.b, VHSM_TAG_CA, ca, ca_len);
	return cli_call_and_print(&req, "fleet install-cert", print_identity);
}

int verb_fleet_show(int argc, char **argv)
{
	struct client_req req;
	int r = cli_simple_opts_what(argc, argv, "fleet show [--json]",
				     "This CVM's fleet identity: its name (CN), key type, and the\n"
				     "installed certificate's subject, issuer, validity and whether\n"
				     "renewal (a fresh enrollment) is due.");

	if (r != 0)
		return r < 0 ? EXIT_OK : r;
	if (!cli_args_count(argc, 0, 0))
		return EXIT_USAGE;
	if (client_begin(&req, VHSM_OP_FLEET_SHOW) < 0)
		return EXIT_ERROR;
	return cli_call_and_print(&req, "fleet show", print_identity);
}

static void print_check(json_object *o)
{
	printf("%s: mutual TLS with the fleet identity and a KMIP Locate succeeded (%lld "
	       "objects visible)\n", cli_jstr(o, "endpoint"), (long long)cli_jint(o, "objects"));
}

int verb_fleet_check(int argc, char **argv)
{
	enum { O_ENDPOINT = 256, O_CA };
	static const struct option opts[] = {
		{ "endpoint", required_argument, NULL, O_ENDPOINT },
		{ "server-ca", required_argument, NULL, O_CA },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	_cleanup_free_ uint8_t *ca = NULL;
	const char *endpoint = NULL, *ca_path = NULL;
	size_t ca_len;
	struct client_req req;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case O_ENDPOINT: endpoint = optarg; break;
		case O_CA: ca_path = optarg; break;
		case 'j': arg_json = true; break;
		case 'h':
			printf("Usage: vhsmctl fleet check --endpoint HOST:PORT --server-ca FILE "
			       "[--json]\n\n"
			       "vhsmd connects to the KMIP key manager with its fleet identity (mutual\n"
			       "TLS, the server checked against --server-ca and HOST) and runs a Locate.\n");
			return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (!cli_args_count(argc, 0, 0))
		return EXIT_USAGE;
	if (!endpoint || !ca_path || strlen(endpoint) > VHSM_WIRE_MAX_STRING) {
		cli_error("fleet check: --endpoint HOST:PORT and --server-ca FILE are required");
		return EXIT_USAGE;
	}
	r = read_pem(ca_path, &ca, &ca_len);
	if (r != EXIT_OK)
		return r;
	if (client_begin(&req, VHSM_OP_FLEET_CHECK) < 0)
		return EXIT_ERROR;
	vhsm_wire_add_str(&req.b, VHSM_TAG_ENDPOINT, endpoint);
	vhsm_wire_add_data(&req.b, VHSM_TAG_CA, ca, ca_len);
	return cli_call_and_print(&req, "fleet check", print_check);
}
