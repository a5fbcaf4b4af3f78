/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsmctl attestation report: fresh evidence from vhsmd for a nonce (an SNP report, or on the
 * vtpm platform an Azure HCL report), with its certificate table.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "ct.h"
#include "fileio.h"
#include "json-cleanup.h"
#include "vhsmctl.h"

int verb_attestation_report(int argc, char **argv)
{
	enum { O_NONCE = 256, O_OUT, O_CERTS };
	static const struct option opts[] = {
		{ "nonce", required_argument, NULL, O_NONCE },
		{ "out", required_argument, NULL, O_OUT },
		{ "certs-out", required_argument, NULL, O_CERTS },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *nonce_hex = NULL, *out = NULL, *certs_out = NULL;
	uint8_t nonce[64];
	size_t nonce_len = 32;
	struct client_req req;
	struct client_reply rep;
	int c, ret;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case O_NONCE: nonce_hex = optarg; break;
		case O_OUT: out = optarg; break;
		case O_CERTS: certs_out = optarg; break;
		case 'h':
			printf("Usage: vhsmctl attestation report [--nonce HEX] --out FILE "
			       "[--certs-out FILE]\n\n"
			       "Asks vhsmd for a fresh report binding SHA-512(nonce) (random nonce if\n"
			       "none is given) and its certificate table: an SNP report whose\n"
			       "REPORT_DATA it is (check it with attestation verify), or on the vtpm\n"
			       "platform the HCL report whose claims' user-data it is (attestation hcl\n"
			       "--file).\n");
			return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (!cli_args_count(argc, 0, 0))
		return EXIT_USAGE;
	if (!out) {
		cli_error("attestation report: --out FILE is required");
		return EXIT_USAGE;
	}
	if (nonce_hex) {
		size_t l = strlen(nonce_hex);
		if (l == 0 || l % 2 || l > 128 || ct_hex_decode(nonce, l / 2, nonce_hex, l) < 0) {
			cli_error("--nonce: 1 to 64 bytes in hex expected");
			return EXIT_USAGE;
		}
		nonce_len = l / 2;
	} else {
		FILE *f = fopen("/dev/urandom", "re");
		if (!f || fread(nonce, 1, nonce_len, f) != nonce_len) {
			if (f)
				fclose(f);
			return EXIT_ERROR;
		}
		fclose(f);
	}
	if (client_begin(&req, VHSM_OP_ATTEST_REPORT) < 0)
		return EXIT_ERROR;
	vhsm_wire_add_data(&req.b, VHSM_TAG_NONCE, nonce, nonce_len);
	ret = client_call_checked(&req, "attestation report", &rep);
	if (ret != EXIT_OK)
		return ret;
	const struct vhsm_wire_field *rf = vhsm_wire_get(&rep.msg, VHSM_TAG_REPORT);
	const struct vhsm_wire_field *cf = vhsm_wire_get(&rep.msg, VHSM_TAG_CERTS);
	ret = EXIT_OK;
	/* On the vtpm platform the evidence is the HCL report ("HCLA"), else an SNP report. */
	const char *format = rf && rf->len >= 4 && memcmp(rf->value, "HCLA", 4) == 0 ? "hcl" : "snp";
	if (!rf || fileio_write_atomic(out, rf->value, rf->len, 0644) < 0 ||
	    (certs_out && cf && fileio_write_atomic(certs_out, cf->value, cf->len, 0644) < 0)) {
		cli_error("attestation report: cannot write the output");
		ret = EXIT_ERROR;
	}
	client_reply_done(&rep);
	if (ret == EXIT_OK && arg_json) {
		_cleanup_(json_object_putp) json_object *o = json_object_new_object();

		if (o) {
			json_object_object_add(o, "report", json_object_new_string(out));
			json_object_object_add(o, "format", json_object_new_string(format));
			json_object_object_add(o, "certs", json_object_new_string(
								   certs_out && cf ? certs_out : ""));
		}
		cli_print_json_object(o);
	}
	return ret;
}
