/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsmctl collateral list | import | fetch: the cache of AMD certificates and CRLs that
 * vhsmd verifies its reports with (lib/collateral), so that boot never needs the network.
 */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "collateral.h"
#include "fileio.h"
#include "hcl-report.h"
#include "json-cleanup.h"
#include "snp-report.h"
#include "vhsmctl.h"

static const char *arg_dir = COLLATERAL_DIR_DEFAULT;

static void print_added(const char *what, const struct collateral_added *a)
{
	if (arg_json)
		return;
	printf("%s: %u VCEK, %u ASK, %u ASVK, %u ARK, %u CRL\n", cli_esc(what), a->vcek, a->ask,
	       a->asvk, a->ark, a->crl);
}

static json_object *added_json(const struct collateral_added *a)
{
	json_object *o = json_object_new_object();

	if (o) {
		json_object_object_add(o, "vcek", json_object_new_int(a->vcek));
		json_object_object_add(o, "ask", json_object_new_int(a->ask));
		json_object_object_add(o, "asvk", json_object_new_int(a->asvk));
		json_object_object_add(o, "ark", json_object_new_int(a->ark));
		json_object_object_add(o, "crl", json_object_new_int(a->crl));
	}
	return o;
}

static int list_one(const struct collateral_entry *e, void *userdata)
{
	json_object *arr = userdata;

	if (arr) {
		json_object *o = json_object_new_object();
		if (!o)
			return -ENOMEM;
		json_object_object_add(o, "product",
				       json_object_new_string(snp_product_to_string(e->product)));
		json_object_object_add(o, "kind", json_object_new_string(e->kind));
		json_object_object_add(o, "file", json_object_new_string(e->file));
		json_object_object_add(o, "detail", json_object_new_string(e->detail));
		json_object_array_add(arr, o);
		return 0;
	}
	printf("%-6s %-5s %s\n       %s\n", snp_product_to_string(e->product), e->kind,
	       cli_esc(e->file), cli_esc(e->detail));
	return 0;
}

/* Parses --dir, --help and --json (the options every collateral verb has) plus extra. */
static int dir_opt(int c)
{
	switch (c) {
	case 'd': arg_dir = optarg; return 0;
	case 'j': arg_json = true; return 0;
	default: return EXIT_USAGE;
	}
}

int verb_collateral_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	_cleanup_(json_object_putp) json_object *arr = NULL;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		if (c == 'h') {
			printf("Usage: vhsmctl collateral list [--dir DIR]\n\n"
			       "Lists the cached AMD certificates and CRLs (default directory\n"
			       COLLATERAL_DIR_DEFAULT ").\n");
			return EXIT_OK;
		}
		if (dir_opt(c))
			return EXIT_USAGE;
	}
	if (!cli_args_count(argc, 0, 0))
		return EXIT_USAGE;
	if (arg_json && !(arr = json_object_new_array()))
		return EXIT_ERROR;
	r = collateral_list(arg_dir, list_one, arr);
	if (r == -ENOENT) {
		if (!arg_json)
			printf("no collateral cached in %s\n", cli_esc(arg_dir));
		r = 0;
	}
	if (r < 0)
		return cli_fail(r, "collateral list");
	if (arg_json)
		cli_print_json_object(arr);
	return EXIT_OK;
}

int verb_collateral_import(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct collateral_added sum = {};
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		if (c == 'h') {
			printf("Usage: vhsmctl collateral import [--dir DIR] FILE...\n\n"
			       "Caches AMD certificates and CRLs from files (- for standard input):\n"
			       "DER or PEM certificates and bundles (AMD KDS vcek, cert_chain, crl),\n"
			       "Azure THIM JSON, ACI's host-amd-cert-base64, or a certificate table\n"
			       "(vhsmctl attestation report --certs-out). Each entry is filed by what\n"
			       "its certificate says; a source that does not parse changes nothing.\n");
			return EXIT_OK;
		}
		if (dir_opt(c))
			return EXIT_USAGE;
	}
	if (!cli_args_count(argc, 1, 64))
		return EXIT_USAGE;
	for (int i = optind; i < argc; i++) {
		_cleanup_free_ uint8_t *buf = NULL;
		struct collateral_added a = {};
		char why[256] = "";
		size_t len = 0;

		r = strcmp(argv[i], "-") == 0 ?
			    fileio_read_fd(0, COLLATERAL_FILE_MAX, &buf, &len) :
			    fileio_read_all(argv[i], COLLATERAL_FILE_MAX, &buf, &len);
		if (r >= 0)
			r = collateral_import(arg_dir, buf, len, &a, why, sizeof(why));
		if (r < 0) {
			cli_error("collateral import: %s: %s", cli_esc(argv[i]),
				  cli_esc(why[0] ? why : strerror(-r)));
			return r == -EBADMSG || r == -EMSGSIZE ? EXIT_REJECTED : EXIT_ERROR;
		}
		print_added(argv[i], &a);
		sum.vcek += a.vcek, sum.ask += a.ask, sum.asvk += a.asvk, sum.ark += a.ark,
			sum.crl += a.crl;
	}
	if (arg_json) {
		_cleanup_(json_object_putp) json_object *o = added_json(&sum);
		cli_print_json_object(o);
	}
	return EXIT_OK;
}

/* The SNP report in evidence: an SNP report itself, or the one inside an Azure HCL report
 * (what vhsmd gives on the vtpm platform). 0, or -EBADMSG when buf is neither. */
static int snp_report_of(const uint8_t *buf, size_t len, uint8_t ret[static SNP_REPORT_SIZE])
{
	struct hcl_report h;

	if (len == SNP_REPORT_SIZE) {
		memcpy(ret, buf, SNP_REPORT_SIZE);
		return 0;
	}
	if (hcl_report_parse(buf, len, &h) < 0)
		return -EBADMSG;
	memcpy(ret, h.snp_report, SNP_REPORT_SIZE);
	return 0;
}

/* A report (and its certificate table) from vhsmd, for the id to fetch by. */
static int report_from_daemon(uint8_t report[static SNP_REPORT_SIZE], uint8_t **ret_certs,
			      size_t *ret_certs_len)
{
	struct client_req req;
	struct client_reply rep;
	uint8_t nonce[32] = {};
	int ret;

	if (client_begin(&req, VHSM_OP_ATTEST_REPORT) < 0)
		return EXIT_ERROR;
	vhsm_wire_add_data(&req.b, VHSM_TAG_NONCE, nonce, sizeof(nonce));
	ret = client_call_checked(&req, "collateral fetch", &rep);
	if (ret != EXIT_OK)
		return ret;
	const struct vhsm_wire_field *rf = vhsm_wire_get(&rep.msg, VHSM_TAG_REPORT);
	const struct vhsm_wire_field *cf = vhsm_wire_get(&rep.msg, VHSM_TAG_CERTS);
	ret = EXIT_ERROR;
	if (rf && snp_report_of(rf->value, rf->len, report) == 0) {
		*ret_certs = cf && cf->len ? malloc(cf->len) : NULL;
		*ret_certs_len = *ret_certs ? cf->len : 0;
		if (*ret_certs)
			memcpy(*ret_certs, cf->value, cf->len);
		ret = EXIT_OK;
	} else {
		cli_error("collateral fetch: vhsmd's reply has no SNP or HCL report");
	}
	client_reply_done(&rep);
	return ret;
}

struct fetch_args {
	const char *report, *kds, *thim;
	enum snp_product product;
};

/* The report's id: product from its CPUID fields, else --product (version 2 reports). */
static int report_id(const uint8_t *raw, enum snp_product guess, struct collateral_id *ret,
		     bool *ret_vlek)
{
	struct snp_report rp;
	int p;

	if (snp_report_parse(raw, SNP_REPORT_SIZE, &rp) < 0) {
		cli_error("collateral fetch: the report does not parse");
		return EXIT_REJECTED;
	}
	p = snp_report_product_from_cpuid(&rp);
	if (p < 0)
		p = guess;
	if (p < 0) {
		cli_error("collateral fetch: the report does not name its product: give --product");
		return EXIT_USAGE;
	}
	*ret_vlek = snp_report_raw_signing_key(raw, SNP_REPORT_SIZE) == SNP_SIGNING_KEY_VLEK;
	return collateral_id_from_report(&rp, p, ret) < 0 ? EXIT_ERROR : EXIT_OK;
}

static int fetch_run(const struct fetch_args *fa)
{
	uint8_t report[SNP_REPORT_SIZE];
	_cleanup_free_ uint8_t *raw = NULL, *certs = NULL;
	struct collateral_added a = {}, t = {};
	struct collateral_id id;
	size_t len = 0, certs_len = 0;
	char why[512] = "";
	bool vlek = false;
	int r;

	if (fa->report) {
		r = fileio_read_all(fa->report, HCL_REPORT_MAX, &raw, &len);
		if (r < 0 || snp_report_of(raw, len, report) < 0) {
			cli_error("collateral fetch: --report %s: %s", cli_esc(fa->report),
				  r < 0 ? strerror(-r) :
				  "neither a 1184-byte SNP report nor an Azure HCL report");
			return EXIT_USAGE;
		}
	} else if ((r = report_from_daemon(report, &certs, &certs_len)) != EXIT_OK) {
		return r;
	}
	r = report_id(report, fa->product, &id, &vlek);
	if (r != EXIT_OK)
		return r;
	/* What the host supplied with the report is cached first (and may be all there is). */
	if (certs && collateral_import_certtable(arg_dir, certs, certs_len, &t, why,
						 sizeof(why)) >= 0)
		print_added("host certificate table", &t);
	r = fa->thim ? collateral_fetch_thim(arg_dir, fa->thim, &a, why, sizeof(why)) :
		       collateral_fetch_kds(arg_dir, fa->kds, &id, vlek, &a, why, sizeof(why));
	if (r < 0) {
		cli_error("collateral fetch: %s", cli_esc(why[0] ? why : strerror(-r)));
		return r == -EBADMSG ? EXIT_REJECTED : EXIT_ERROR;
	}
	print_added(fa->thim ? fa->thim : fa->kds, &a);
	if (arg_json) {
		_cleanup_(json_object_putp) json_object *o = json_object_new_object();
		if (o) {
			json_object_object_add(o, "source", json_object_new_string(
								    fa->thim ? "thim" : "kds"));
			json_object_object_add(o, "host_table", added_json(&t));
			json_object_object_add(o, "fetched", added_json(&a));
		}
		cli_print_json_object(o);
	}
	return EXIT_OK;
}

int verb_collateral_fetch(int argc, char **argv)
{
	enum { O_REPORT = 256, O_KDS, O_THIM, O_PRODUCT };
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "report", required_argument, NULL, O_REPORT },
		{ "kds-url", required_argument, NULL, O_KDS },
		{ "thim", optional_argument, NULL, O_THIM },
		{ "product", required_argument, NULL, O_PRODUCT },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct fetch_args fa = { .kds = COLLATERAL_KDS_DEFAULT, .product = _SNP_PRODUCT_INVALID };
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case O_REPORT: fa.report = optarg; break;
		case O_KDS: fa.kds = optarg; break;
		case O_THIM: fa.thim = optarg ? optarg : COLLATERAL_THIM_DEFAULT; break;
		case O_PRODUCT:
			fa.product = snp_product_from_string(optarg);
			if (fa.product < 0) {
				cli_error("--product: milan, genoa or turin expected");
				return EXIT_USAGE;
			}
			break;
		case 'h':
			printf("Usage: vhsmctl collateral fetch [--dir DIR] [--report FILE]\n"
			       "                [--product P] [--kds-url URL | --thim[=URL]]\n\n"
			       "Caches what verifies this CVM's reports: the host's certificate table,\n"
			       "then the chain, the ARK's CRL and the VCEK for this chip and TCB from\n"
			       "AMD KDS (default " COLLATERAL_KDS_DEFAULT "), or Azure THIM JSON.\n"
			       "Without --report, vhsmd is asked for a report (on the vtpm platform an\n"
			       "HCL report: the chip and TCB come from the SNP report inside it);\n"
			       "--report takes an SNP report or an HCL report file. Needs the network\n"
			       "once; vhsmd then reads the cache at every attestation.\n");
			return EXIT_OK;
		default:
			if (dir_opt(c))
				return EXIT_USAGE;
		}
	}
	if (!cli_args_count(argc, 0, 0))
		return EXIT_USAGE;
	return fetch_run(&fa);
}
