/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsmctl kek export-exchange-key | import | backup: the CVM side of BYOK (docs/byok.md).
 * The customer side (verify the evidence, wrap, re-wrap a backup) is vhsm-byok(1).
 */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "byok.h"
#include "client.h"
#include "ct.h"
#include "fileio.h"
#include "json-cleanup.h"
#include "parse-util.h"
#include "vhsmctl.h"

#define PUBKEY_FILE_MAX (16u * 1024u)

static bool one_name(int argc)
{
	if (argc - optind != 1) {
		cli_error("%s: expected 1 argument (the KEK name), got %d", arg_verb,
			  argc - optind);
		return false;
	}
	return true;
}

/* With --json and --out: the result as an object (name, what was written, its key id, file). */
static void print_written_json(const char *name, const char *kind, const char *kid,
			       const char *out)
{
	_cleanup_(json_object_putp) json_object *o = json_object_new_object();

	if (!o)
		return;
	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "written", json_object_new_string(kind));
	json_object_object_add(o, "kid", kid[0] ? json_object_new_string(kid) : NULL);
	json_object_object_add(o, "file", json_object_new_string(out));
	cli_print_json_object(o);
}

/*
 * Sends req and writes the reply's BYOK text to out (or stdout: the BYOK JSON is then the
 * result, also with --json). name is the KEK's, note what is written.
 */
static int call_write_byok(struct client_req *req, const char *what, const char *name,
			   const char *out, const char *note)
{
	struct client_reply rep;
	int r = client_call(req, &rep), ret = EXIT_OK;

	client_req_done(req);
	if (r < 0) {
		client_reply_done(&rep);
		return EXIT_ERROR;
	}
	if (rep.err) {
		ret = client_refused(&rep, what);
		client_reply_done(&rep);
		return ret;
	}
	const struct vhsm_wire_field *f = vhsm_wire_get(&rep.msg, VHSM_TAG_BYOK);
	char kid[BYOK_KID_MAX + 1] = "";
	(void)vhsm_wire_get_str(&rep.msg, VHSM_TAG_KID, kid, sizeof(kid));
	if (!f) {
		cli_error("%s: the reply carries no JSON", what);
		ret = EXIT_ERROR;
	} else if (out) {
		if (fileio_write_atomic(out, f->value, f->len, 0644) < 0) {
			cli_error("%s: cannot write %s", what, out);
			ret = EXIT_ERROR;
		} else if (!arg_json) {
			fprintf(stderr, "%s%s%s written to %s\n", note, kid[0] ? " " : "", kid, out);
		} else {
			print_written_json(name, note, kid, out);
		}
	} else {
		fwrite(f->value, 1, f->len, stdout);
		fputc('\n', stdout);
	}
	client_reply_done(&rep);
	return ret;
}

int verb_kek_export_exchange_key(int argc, char **argv)
{
	enum { O_OUT = 256, O_NONCE, O_TTL };
	static const struct option opts[] = {
		{ "out", required_argument, NULL, O_OUT },
		{ "nonce", required_argument, NULL, O_NONCE },
		{ "ttl", required_argument, NULL, O_TTL },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *out = NULL, *nonce_hex = NULL;
	uint8_t nonce[BYOK_NONCE_SIZE];
	long ttl = -1;
	struct client_req req;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case O_OUT: out = optarg; break;
		case O_NONCE: nonce_hex = optarg; break;
		case O_TTL: {
			int64_t v;
			if (parse_int64(optarg, 1, 7 * 86400, &v) < 0) {
				cli_error("--ttl: 1 to 604800 seconds expected");
				return EXIT_USAGE;
			}
			ttl = (long)v;
			break;
		}
		case 'h':
			printf("Usage: vhsmctl kek export-exchange-key NAME [--out FILE] "
			       "[--nonce HEX] [--ttl SECONDS]\n\n"
			       "Generates an RSA-3072 exchange key inside vhsmd for importing KEK NAME\n"
			       "(import only, single use, expires after --ttl, default 3600 s) and\n"
			       "writes its evidence bundle: the public key, fresh evidence binding it\n"
			       "(an SNP report, or on the vtpm platform an HCL report; docs/byok.md)\n"
			       "and the certificate table.\n"
			       "--nonce: 32 bytes in hex from the customer (default: random).\n"
			       "Verify and wrap with vhsm-byok(1); import with kek import.\n");
			return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (!one_name(argc))
		return EXIT_USAGE;
	if (nonce_hex && ct_hex_decode(nonce, sizeof(nonce), nonce_hex, strlen(nonce_hex)) < 0) {
		cli_error("--nonce: 64 hex digits expected");
		return EXIT_USAGE;
	}
	if (client_begin(&req, VHSM_OP_KEK_EXPORT_EXCHANGE_KEY) < 0)
		return EXIT_ERROR;
	req.timeout_ms = CLIENT_KEYGEN_TIMEOUT_MS;
	vhsm_wire_add_str(&req.b, VHSM_TAG_NAME, argv[optind]);
	if (nonce_hex)
		vhsm_wire_add_data(&req.b, VHSM_TAG_NONCE, nonce, sizeof(nonce));
	if (ttl > 0)
		vhsm_wire_add_u32(&req.b, VHSM_TAG_TIMEOUT, (uint32_t)ttl);
	return call_write_byok(&req, "kek export-exchange-key", argv[optind], out, "exchange key");
}

/* kek import --json: name, changed, kek, version and the options' warning (as kek create). */
static void print_imported_json(const char *name, uint32_t version, const char *warning)
{
	_cleanup_(json_object_putp) json_object *o = json_object_new_object();

	if (!o)
		return;
	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "changed", json_object_new_boolean(true));
	json_object_object_add(o, "kek", json_object_new_string(name));
	json_object_object_add(o, "version", json_object_new_int64(version));
	if (warning)
		json_object_object_add(o, "warning", json_object_new_string(warning));
	cli_print_json_object(o);
}

int verb_kek_import(int argc, char **argv)
{
	enum { O_BYOK = 256 };
	static const struct option opts[] = {
		{ "byok", required_argument, NULL, O_BYOK },
		KEK_NEW_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	_cleanup_free_ uint8_t *text = NULL;
	struct kek_new_opts o = KEK_NEW_OPTS_INIT;
	const char *byok = NULL;
	size_t len;
	struct client_req req;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		r = kek_new_opt(c, optarg, &o);
		if (r > 1)
			return r;
		if (r == 1)
			continue;
		switch (c) {
		case O_BYOK: byok = optarg; break;
		case 'h':
			printf("Usage: vhsmctl kek import NAME --byok FILE [--profile strict|author|vtpm]\n"
			       "         [--exportable] [--purge-protection] [--retention-days N]\n"
			       "         [--attest-each-use]\n\n"
			       "Imports a KEK from a BYOK file made by vhsm-byok wrap (or rewrap, for a\n"
			       "backup) for the exchange key pending for NAME. vhsmd unwraps it inside,\n"
			       "seals it and destroys the exchange key. A restored backup keeps its\n"
			       "versions and flags; the options apply to a single imported key.\n");
			return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (!one_name(argc))
		return EXIT_USAGE;
	if (!byok) {
		cli_error("kek import: --byok FILE is required");
		return EXIT_USAGE;
	}
	r = fileio_read_all(byok, BYOK_JSON_MAX, &text, &len);
	if (r < 0) {
		cli_error("%s: %s", byok, r == -EMSGSIZE ? "file too large" : strerror(-r));
		return EXIT_ERROR;
	}
	if (len == 0 || memchr(text, 0, len)) {
		cli_error("%s: not a BYOK file", byok);
		return EXIT_REJECTED;
	}
	if (client_begin(&req, VHSM_OP_KEK_IMPORT) < 0)
		return EXIT_ERROR;
	vhsm_wire_add_str(&req.b, VHSM_TAG_NAME, argv[optind]);
	vhsm_wire_add_str(&req.b, VHSM_TAG_BYOK, (const char *)text);
	kek_new_opts_add(&req, &o);

	struct client_reply rep;
	r = client_call(&req, &rep);
	client_req_done(&req);
	if (r < 0) {
		client_reply_done(&rep);
		return EXIT_ERROR;
	}
	uint32_t version = 0;
	if (rep.err)
		r = client_refused(&rep, "kek import");
	else if (vhsm_wire_get_u32(&rep.msg, VHSM_TAG_VERSION, &version) == 0 && arg_json)
		print_imported_json(argv[optind], version, kek_new_opts_warning(&o));
	else if (version) {
		printf("imported KEK %s (newest version %u)\n", argv[optind], version);
		kek_new_opts_report(&o, argv[optind], version);
	}
	client_reply_done(&rep);
	return r < 0 ? EXIT_ERROR : r;
}

int verb_kek_backup(int argc, char **argv)
{
	enum { O_TO = 256, O_OUT };
	static const struct option opts[] = {
		{ "to", required_argument, NULL, O_TO },
		{ "out", required_argument, NULL, O_OUT },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	_cleanup_free_ uint8_t *pem = NULL;
	const char *to = NULL, *out = NULL;
	struct client_req req;
	size_t len;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case O_TO: to = optarg; break;
		case O_OUT: out = optarg; break;
		case 'h':
			printf("Usage: vhsmctl kek backup NAME --to PUBKEY.pem [--out FILE]\n\n"
			       "Escrow: wraps every version and the flags of an exportable KEK to the\n"
			       "customer's RSA public key (>= 3072 bits) in the BYOK format. Only the\n"
			       "holder of the private key can re-import it, into a CVM whose evidence\n"
			       "they verified (vhsm-byok rewrap). KEKs not created --exportable never\n"
			       "leave the CVM.\n");
			return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (!one_name(argc))
		return EXIT_USAGE;
	if (!to) {
		cli_error("kek backup: --to PUBKEY.pem is required");
		return EXIT_USAGE;
	}
	r = fileio_read_all(to, PUBKEY_FILE_MAX, &pem, &len);
	if (r < 0) {
		cli_error("%s: %s", to, r == -EMSGSIZE ? "file too large" : strerror(-r));
		return EXIT_ERROR;
	}
	if (client_begin(&req, VHSM_OP_KEK_BACKUP) < 0)
		return EXIT_ERROR;
	vhsm_wire_add_str(&req.b, VHSM_TAG_NAME, argv[optind]);
	vhsm_wire_add_data(&req.b, VHSM_TAG_PUBKEY, pem, len);
	return call_write_byok(&req, "kek backup", argv[optind], out, "backup");
}
