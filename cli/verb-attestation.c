/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsmctl attestation verify | show: offline verification and decoding of SNP reports.
 * Works without a daemon, with the same verifier and policy engine vhsmd uses.
 */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "amd-cert.h"
#include "certtable.h"
#include "fileio.h"
#include "json-cleanup.h"
#include "policy.h"
#include "snp-report.h"
#include "snp-verify.h"
#include "text.h"
#include "vhsmctl.h"

#define MAX_TRUST_ROOTS 8
#define REPORT_FILE_MAX (64u * 1024u)


struct verify_inputs {
	uint8_t *report;
	size_t report_len;
	uint8_t *vek, *ask, *ark;
	size_t vek_len, ask_len, ark_len;
	uint8_t *roots[MAX_TRUST_ROOTS];
	size_t root_lens[MAX_TRUST_ROOTS];
	size_t n_roots;
};

static void verify_inputs_done(struct verify_inputs *in)
{
	free(in->report);
	free(in->vek);
	free(in->ask);
	free(in->ark);
	for (size_t i = 0; i < in->n_roots; i++)
		free(in->roots[i]);
}

static int load_cert(const char *path, enum amd_cert_role role, uint8_t **slot, size_t *len)
{
	int r;

	free(*slot);
	*slot = NULL;
	r = amd_cert_load_file_role(path, role, slot, len);
	if (r < 0)
		cli_error("%s: %s", path, r == -EBADMSG ? "not an X.509 certificate" : strerror(-r));
	return r;
}

/* Loads the first existing file among names[] in dir into *slot (unless already set). */
static int load_from_dir(const char *dir, const char *const *names, enum amd_cert_role role,
			 uint8_t **slot, size_t *len)
{
	struct stat st;

	if (*slot)
		return 0;
	for (; *names; names++) {
		_cleanup_free_ char *path = text_printf("%s/%s", dir, *names);
		if (!path) {
			cli_error("%s: %s", dir, strerror(ENOMEM));
			return -ENOMEM;
		}
		if (stat(path, &st) == 0)
			return load_cert(path, role, slot, len);
	}
	return 0;
}

static int copy_der(const struct certtable_entry *e, uint8_t **slot, size_t *len)
{
	if (!e || *slot)
		return 0;
	*slot = malloc(e->len);
	if (!*slot)
		return -ENOMEM;
	memcpy(*slot, e->data, e->len);
	*len = e->len;
	return 0;
}

/* The report's SIGNING_KEY decides the leaf and intermediate when both kinds are offered. */
static uint32_t report_signing_key(const struct verify_inputs *in)
{
	return snp_report_raw_signing_key(in->report, in->report_len);
}

/* --certs FILE: a GHCB certificate table (SNP_GET_EXT_REPORT buffer / configfs auxblob). */
static int load_certtable_file(const char *path, struct verify_inputs *in)
{
	_cleanup_free_ uint8_t *buf = NULL;
	struct certtable t;
	size_t len;
	int r;

	r = fileio_read_all(path, 1024 * 1024, &buf, &len);
	if (r < 0) {
		cli_error("%s: %s", path, strerror(-r));
		return r;
	}
	r = certtable_parse(buf, len, &t);
	if (r < 0) {
		cli_error("%s: not a certificate directory or GHCB certificate table", path);
		return r;
	}
	const struct certtable_entry *leaf, *ask, *ark;
	amd_cert_pick_from_table(&t, report_signing_key(in), &leaf, &ask, &ark);
	if (copy_der(leaf, &in->vek, &in->vek_len) < 0 ||
	    copy_der(ask, &in->ask, &in->ask_len) < 0 ||
	    copy_der(ark, &in->ark, &in->ark_len) < 0)
		return -ENOMEM;
	return 0;
}

static int load_certs(const char *spec, struct verify_inputs *in)
{
	static const char *const vcek_first[] = { "vcek.der", "vcek.pem", "vcek.crt", "vcek.cer",
						  "vlek.der", "vlek.pem", "vlek.crt", NULL };
	static const char *const vlek_first[] = { "vlek.der", "vlek.pem", "vlek.crt", "vcek.der",
						  "vcek.pem", "vcek.crt", "vcek.cer", NULL };
	static const char *const ask[] = { "ask.pem", "ask.der", "cert_chain.pem", NULL };
	static const char *const asvk[] = { "asvk.pem", "asvk.der", "cert_chain.pem", "ask.pem",
					    NULL };
	static const char *const ark[] = { "ark.pem", "ark.der", "cert_chain.pem", NULL };
	static const char *const tables[] = { "certs.bin", "auxblob", NULL };
	/* The report says which key signed it: take that leaf and its intermediate first. */
	bool vlek = report_signing_key(in) == SNP_SIGNING_KEY_VLEK;
	struct stat st;
	int r;

	if (stat(spec, &st) < 0) {
		cli_error("%s: %s", spec, strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode))
		return load_certtable_file(spec, in);

	r = load_from_dir(spec, vlek ? vlek_first : vcek_first, AMD_CERT_LEAF, &in->vek,
			  &in->vek_len);
	if (r < 0)
		return r;
	if (!in->vek) {
		for (const char *const *t = tables; *t; t++) {
			_cleanup_free_ char *p = text_printf("%s/%s", spec, *t);
			if (!p) {
				cli_error("%s: %s", spec, strerror(ENOMEM));
				return -ENOMEM;
			}
			if (stat(p, &st) == 0)
				return load_certtable_file(p, in);
		}
	}
	r = load_from_dir(spec, vlek ? asvk : ask, AMD_CERT_INTERMEDIATE, &in->ask, &in->ask_len);
	if (r < 0)
		return r;
	return load_from_dir(spec, ark, AMD_CERT_ARK, &in->ark, &in->ark_len);
}

static int load_policy(const char *spec, struct snp_policy **ret)
{
	_cleanup_free_ uint8_t *buf = NULL;
	char err[POLICY_ERR_MAX] = "";
	size_t len;
	int r;

	if (strcmp(spec, "default") == 0)
		return snp_policy_new_default(ret);
	r = fileio_read_all(spec, POLICY_MAX_SIZE, &buf, &len);
	if (r < 0) {
		cli_error("policy %s: %s", spec, r == -EMSGSIZE ? "file too large" : strerror(-r));
		return r;
	}
	r = snp_policy_parse((const char *)buf, len, ret, err, sizeof(err));
	if (r < 0)
		cli_error("policy %s: %s", spec, err[0] ? err : strerror(-r));
	return r;
}

static const char *state_name(enum snp_check_state s)
{
	switch (s) {
	case SNP_CHECK_PASS:
		return "pass";
	case SNP_CHECK_FAIL:
		return "fail";
	case SNP_CHECK_NOT_APPLICABLE:
		return "n/a";
	default:
		return "not-run";
	}
}

static const char *signer_name(uint32_t k)
{
	return k == SNP_SIGNING_KEY_VCEK ? "vcek" : k == SNP_SIGNING_KEY_VLEK ? "vlek" : "other";
}

static void print_verify_text(const struct snp_verify_result *vr, const struct snp_policy *pol,
			      const struct snp_policy_result *pr, bool ok)
{
	printf("product: %s, signer: %s%s\n",
	       vr->product >= 0 ? snp_product_to_string(vr->product) : "unknown",
	       signer_name(vr->signing_key),
	       vr->trusted_by_extra_root ? " (chain ends in a --trust-root, NOT an AMD root)" : "");
	for (int c = 0; c < _SNP_CHECK_MAX; c++)
		printf("  %-8s %-15s %s\n", state_name(vr->state[c]), snp_check_name(c),
		       cli_esc(vr->detail[c]));
	if (pol) {
		uint8_t d[32];
		_cleanup_free_ char *hex = NULL;
		snp_policy_digest(pol, d);
		hex = cli_hex(d, sizeof(d));
		printf("policy (sha256 %s): %s\n", hex ? hex : "?",
		       !vr->report_parsed ? "not evaluated" : pr->n ? "violated" : "satisfied");
		for (size_t i = 0; i < pr->n; i++)
			printf("  %-8s %-15s %s\n", "fail", pr->v[i].rule, cli_esc(pr->v[i].detail));
	} else {
		printf("policy: none given (cryptographic and structural checks only)\n");
	}
	printf("result: %s\n", ok ? "VERIFIED" : "REJECTED");
}

static void print_verify_json(const struct snp_verify_result *vr, const struct snp_policy *pol,
			      const struct snp_policy_result *pr, bool ok)
{
	_cleanup_(json_object_putp) json_object *o = json_object_new_object();
	json_object *checks = json_object_new_array();

	json_object_object_add(o, "verified", json_object_new_boolean(ok));
	json_object_object_add(o, "product",
			       vr->product >= 0 ? json_object_new_string(
							  snp_product_to_string(vr->product))
						: NULL);
	json_object_object_add(o, "signing_key",
			       json_object_new_string(signer_name(vr->signing_key)));
	json_object_object_add(o, "trusted_by_extra_root",
			       json_object_new_boolean(vr->trusted_by_extra_root));
	for (int c = 0; c < _SNP_CHECK_MAX; c++) {
		json_object *e = json_object_new_object();
		json_object_object_add(e, "name", json_object_new_string(snp_check_name(c)));
		json_object_object_add(e, "result",
				       json_object_new_string(state_name(vr->state[c])));
		json_object_object_add(e, "detail", json_object_new_string(vr->detail[c]));
		json_object_array_add(checks, e);
	}
	json_object_object_add(o, "checks", checks);
	if (pol) {
		json_object *p = json_object_new_object(), *viol = json_object_new_array();
		uint8_t d[32];
		_cleanup_free_ char *hex = NULL;
		snp_policy_digest(pol, d);
		hex = cli_hex(d, sizeof(d));
		json_object_object_add(p, "digest", json_object_new_string(hex ? hex : ""));
		json_object_object_add(p, "evaluated",
				       json_object_new_boolean(vr->report_parsed));
		for (size_t i = 0; i < pr->n; i++) {
			json_object *e = json_object_new_object();
			json_object_object_add(e, "rule", json_object_new_string(pr->v[i].rule));
			json_object_object_add(e, "detail",
					       json_object_new_string(pr->v[i].detail));
			json_object_array_add(viol, e);
		}
		json_object_object_add(p, "violations", viol);
		json_object_object_add(o, "policy", p);
	}
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
}

static void verify_help(void)
{
	printf("Usage: vhsmctl attestation verify --report FILE\n"
	       "         [--vcek F --ask F --ark F | --certs DIR|TABLE] [--policy F|default]\n"
	       "         [--trust-root F]... [--at TIME] [--json]\n\n"
	       "Verifies an SEV-SNP attestation report: structure, signature, the certificate\n"
	       "chain VCEK->ASK->ARK (VLEK->ASVK->ARK) up to the AMD root pinned for the\n"
	       "product, TCB and chip ID bindings, and, with --policy, the attestation policy.\n\n"
	       "  --report FILE     raw 1184-byte ATTESTATION_REPORT\n"
	       "  --vcek/--vlek F   leaf certificate (PEM or DER)\n"
	       "  --ask/--asvk F    intermediate (default: the pinned AMD copy)\n"
	       "  --ark F           root; must equal the pinned AMD ARK or a --trust-root\n"
	       "  --certs DIR|FILE  directory with vcek.der|vcek.pem|vlek.pem, ask.pem|asvk.pem,\n"
	       "                    ark.pem, or a GHCB certificate table (certs.bin/auxblob)\n"
	       "  --policy F        policy JSON (see docs/policy.md); 'default' = built-in\n"
	       "                    default (debug and migration agent refused)\n"
	       "  --trust-root F    also trust this ARK (e.g. the simulator's); repeatable\n"
	       "  --at TIME         check certificate validity at TIME (YYYY-MM-DD,\n"
	       "                    YYYY-MM-DDTHH:MM:SSZ or @EPOCH) instead of now\n"
	       "  --json            JSON output\n\n"
	       "Exit status: 0 verified, 1 rejected, 2 usage error, 3 cannot read input.\n");
}

static int verify_parse_args(int argc, char **argv, struct verify_inputs *in,
			     const char **ret_policy, time_t *ret_at)
{
	enum { O_REPORT = 256, O_VCEK, O_ASK, O_ARK, O_CERTS, O_POLICY, O_TRUST, O_AT, O_JSON };
	static const struct option opts[] = {
		{ "report", required_argument, NULL, O_REPORT },
		{ "vcek", required_argument, NULL, O_VCEK },
		{ "vlek", required_argument, NULL, O_VCEK },
		{ "ask", required_argument, NULL, O_ASK },
		{ "asvk", required_argument, NULL, O_ASK },
		{ "ark", required_argument, NULL, O_ARK },
		{ "certs", required_argument, NULL, O_CERTS },
		{ "policy", required_argument, NULL, O_POLICY },
		{ "trust-root", required_argument, NULL, O_TRUST },
		{ "at", required_argument, NULL, O_AT },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *report = NULL, *certs = NULL;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		r = 0;
		switch (c) {
		case O_REPORT:
			report = optarg;
			break;
		case O_VCEK:
			r = load_cert(optarg, AMD_CERT_LEAF, &in->vek, &in->vek_len);
			break;
		case O_ASK:
			r = load_cert(optarg, AMD_CERT_INTERMEDIATE, &in->ask, &in->ask_len);
			break;
		case O_ARK:
			r = load_cert(optarg, AMD_CERT_ARK, &in->ark, &in->ark_len);
			break;
		case O_CERTS:
			certs = optarg;
			break;
		case O_POLICY:
			*ret_policy = optarg;
			break;
		case O_TRUST:
			if (in->n_roots >= MAX_TRUST_ROOTS) {
				cli_error("at most %d --trust-root options", MAX_TRUST_ROOTS);
				return EXIT_USAGE;
			}
			r = load_cert(optarg, AMD_CERT_ARK, &in->roots[in->n_roots],
				      &in->root_lens[in->n_roots]);
			if (r >= 0)
				in->n_roots++;
			break;
		case O_AT:
			if (cli_parse_time(optarg, ret_at) < 0) {
				cli_error("--at: cannot parse time '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case O_JSON:
			arg_json = true;
			break;
		case 'h':
			verify_help();
			return -1;
		default:
			return EXIT_USAGE;
		}
		if (r < 0)
			return EXIT_ERROR;
	}
	if (optind < argc) {
		cli_error("unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (!report) {
		cli_error("--report FILE is required");
		return EXIT_USAGE;
	}
	r = fileio_read_all(report, REPORT_FILE_MAX, &in->report, &in->report_len);
	if (r < 0) {
		cli_error("%s: %s", report, r == -EMSGSIZE ? "file too large" : strerror(-r));
		return EXIT_ERROR;
	}
	if (certs && load_certs(certs, in) < 0)
		return EXIT_ERROR;
	if (!in->vek) {
		cli_error("no VCEK/VLEK certificate: give --vcek or --certs");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

int verb_attestation_verify(int argc, char **argv)
{
	_cleanup_(snp_policy_freep) struct snp_policy *pol = NULL;
	struct verify_inputs in = {};
	struct snp_verify_result vr;
	struct snp_policy_result pr = {};
	const char *policy = NULL;
	time_t at = 0;
	int r, ret;

	ret = verify_parse_args(argc, argv, &in, &policy, &at);
	if (ret != EXIT_OK)
		goto out;
	if (policy && load_policy(policy, &pol) < 0) {
		ret = EXIT_ERROR;
		goto out;
	}

	const struct snp_evidence ev = {
		.report = in.report, .report_len = in.report_len,
		.vek = in.vek, .vek_len = in.vek_len,
		.ask = in.ask, .ask_len = in.ask_len,
		.ark = in.ark, .ark_len = in.ark_len,
	};
	const struct snp_verify_opts vo = {
		.trust_roots = (const uint8_t *const *)in.roots,
		.trust_root_lens = in.root_lens,
		.n_trust_roots = in.n_roots,
		.at = at,
	};
	r = snp_verify(&ev, &vo, &vr);
	if (r < 0 && r != -EKEYREJECTED) {
		ret = cli_fail(r, "verification could not run");
		goto out;
	}
	bool ok = r == 0;
	if (pol && vr.report_parsed) {
		/* An unknown product fails the policy's "product" rule too. */
		if (snp_policy_eval(pol, &vr.report, vr.product, &pr) < 0)
			ok = false;
	} else if (pol) {
		ok = false;
	}
	if (arg_json) {
		print_verify_json(&vr, pol, &pr, ok);
		cli_json_result_printed = true;
	} else
		print_verify_text(&vr, pol, &pr, ok);
	ret = ok ? EXIT_OK : EXIT_REJECTED;
out:
	verify_inputs_done(&in);
	return ret < 0 ? EXIT_OK : ret;
}
