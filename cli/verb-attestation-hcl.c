/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsmctl attestation hcl: verifies the Azure HCL report in the vTPM (NV 0x01400001) or a
 * file: the HCLA layout, the runtime claims bound by REPORT_DATA, the SNP report and its AMD
 * chain (the VCEK from the collateral cache, filled from THIM), the claims' AK against the
 * vTPM's AK (0x81000003), and with --fresh a nonce written to the user-data index 0x01400002
 * that the paravisor's new report must carry (lib/hcl-attest, lib/tpm2-nv).
 */
#include <getopt.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "amd-cert.h"
#include "collateral.h"
#include "fileio.h"
#include "hcl-attest.h"
#include "hcl-report.h"
#include "json-cleanup.h"
#include "tpm2-hcl.h"
#include "tpm2-nv.h"
#include "vhsmctl.h"

#define MAX_TRUST_ROOTS 4
#define WAIT_DEFAULT_SEC 10
#define WAIT_MAX_SEC 300

struct hcl_inputs {
	const char *tcti, *file, *collateral_dir;
	bool fresh, require_persisted;
	long wait_sec;
	time_t at;
	uint8_t *roots[MAX_TRUST_ROOTS];
	size_t root_lens[MAX_TRUST_ROOTS];
	size_t n_roots;
};

static void hcl_inputs_done(struct hcl_inputs *in)
{
	for (size_t i = 0; i < in->n_roots; i++)
		free(in->roots[i]);
}

static void hcl_help(void)
{
	printf("Usage: vhsmctl attestation hcl [--tcti TCTI | --file FILE] [--fresh [--wait SEC]]\n"
	       "         [--require-persisted] [--collateral-dir DIR] [--trust-root F]... [--at TIME]\n"
	       "         [--json]\n\n"
	       "Verifies the Azure paravisor's HCL report: the report layout, the runtime claims\n"
	       "bound by the SNP report's REPORT_DATA, the SNP report and its AMD certificate chain\n"
	       "(the VCEK from the collateral cache: vhsmctl collateral import of Azure THIM JSON),\n"
	       "and, read from the vTPM, that the claims name this vTPM's attestation key\n"
	       "(persistent handle 0x81000003).\n\n"
	       "  --tcti TCTI         the vTPM (default %s; e.g. swtpm:path=SOCKET)\n"
	       "  --file FILE         verify a saved HCL report instead (no AK check)\n"
	       "  --fresh             write a random nonce to NV 0x01400002 first and require the\n"
	       "                      new report's user-data to carry it (not stale, not replayed)\n"
	       "  --wait SEC          how long to wait for the paravisor's new report (default %d)\n"
	       "  --require-persisted refuse unless the claims say tpm-persisted: true (what\n"
	       "                      sealing to the vTPM needs)\n"
	       "  --collateral-dir D  collateral cache (default %s)\n"
	       "  --trust-root F      also trust this ARK (e.g. the simulator's); repeatable\n"
	       "  --at TIME           check certificate validity at TIME\n"
	       "  --json              JSON output\n\n"
	       "Exit status: 0 verified, 1 rejected, 2 usage error, 3 cannot read input.\n",
	       TPM2_TCTI_DEFAULT, WAIT_DEFAULT_SEC, COLLATERAL_DIR_DEFAULT);
}

static int parse_args(int argc, char **argv, struct hcl_inputs *in)
{
	enum { O_TCTI = 256, O_FILE, O_FRESH, O_WAIT, O_COLLATERAL, O_TRUST, O_AT, O_JSON,
	       O_PERSISTED };
	static const struct option opts[] = {
		{ "tcti", required_argument, NULL, O_TCTI },
		{ "file", required_argument, NULL, O_FILE },
		{ "fresh", no_argument, NULL, O_FRESH },
		{ "wait", required_argument, NULL, O_WAIT },
		{ "require-persisted", no_argument, NULL, O_PERSISTED },
		{ "collateral-dir", required_argument, NULL, O_COLLATERAL },
		{ "trust-root", required_argument, NULL, O_TRUST },
		{ "at", required_argument, NULL, O_AT },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	char *end;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case O_TCTI: in->tcti = optarg; break;
		case O_FILE: in->file = optarg; break;
		case O_FRESH: in->fresh = true; break;
		case O_PERSISTED: in->require_persisted = true; break;
		case O_COLLATERAL: in->collateral_dir = optarg; break;
		case O_JSON: arg_json = true; break;
		case O_WAIT:
			in->wait_sec = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || in->wait_sec < 1 ||
			    in->wait_sec > WAIT_MAX_SEC) {
				cli_error("--wait: expected 1 to %d seconds", WAIT_MAX_SEC);
				return EXIT_USAGE;
			}
			break;
		case O_TRUST:
			if (in->n_roots >= MAX_TRUST_ROOTS) {
				cli_error("at most %d --trust-root options", MAX_TRUST_ROOTS);
				return EXIT_USAGE;
			}
			r = amd_cert_load_file_role(optarg, AMD_CERT_ARK, &in->roots[in->n_roots],
						    &in->root_lens[in->n_roots]);
			if (r < 0) {
				cli_error("%s: %s", optarg, r == -EBADMSG ?
					  "not an X.509 certificate" : strerror(-r));
				return EXIT_ERROR;
			}
			in->n_roots++;
			break;
		case O_AT:
			if (cli_parse_time(optarg, &in->at) < 0) {
				cli_error("--at: cannot parse time '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			hcl_help();
			return -1;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cli_error("unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (in->file && (in->tcti || in->fresh)) {
		cli_error("--file verifies a saved report: --tcti and --fresh need the vTPM");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static const char *persisted_name(enum hcl_tpm_persisted p)
{
	return p == HCL_TPM_PERSISTED_YES ? "yes" : p == HCL_TPM_PERSISTED_NO ? "no" : "unknown";
}

static const char *tri(int v)
{
	return v < 0 ? "unknown" : v ? "yes" : "no";
}

/* The AK's SHA-256 fingerprint (of its DER SubjectPublicKeyInfo), hex. */
static char *ak_fingerprint(const struct hcl_claims *c)
{
	uint8_t d[32];
	unsigned n = 0;

	if (c->ak_spki_len == 0 || !EVP_Digest(c->ak_spki, c->ak_spki_len, d, &n, EVP_sha256(),
						NULL))
		return NULL;
	return cli_hex(d, n);
}

/* The claims' user-data (the 64 bytes the report binds for vhsmd's evidence), hex; NULL when
 * absent. */
static char *user_data_hex(const struct hcl_claims *c)
{
	return c->have_user_data ? cli_hex(c->user_data, sizeof(c->user_data)) : NULL;
}

/* Which optional checks were asked for. */
struct hcl_asked {
	bool ak, nonce, persisted;
};

static const char *check_state(const struct hcl_verify_result *res, int c,
			       const struct hcl_asked *a)
{
	if (res->passed[c])
		return (c == HCL_CHECK_AK && !a->ak) || (c == HCL_CHECK_USER_DATA && !a->nonce) ||
			       (c == HCL_CHECK_PERSISTED && !a->persisted) ? "n/a" : "pass";
	return res->failed == c ? "fail" : "not-run";
}

static void print_text(const struct hcl_verify_result *res, const struct hcl_asked *a,
		       const char *source)
{
	bool claims = res->passed[HCL_CHECK_CLAIMS];
	_cleanup_free_ char *fp = claims ? ak_fingerprint(&res->claims) : NULL;
	_cleanup_free_ char *ud = claims ? user_data_hex(&res->claims) : NULL;

	printf("HCL report: %s (version %u)\n", source, res->version);
	for (int c = 0; c < _HCL_CHECK_MAX; c++)
		printf("  %-8s %-15s %s\n", check_state(res, c, a), hcl_check_name(c),
		       res->failed == c ? cli_esc(res->detail) : "");
	if (res->collateral[0])
		printf("certificates: %s\n", cli_esc(res->collateral));
	if (claims) {
		printf("AK (sha256 of SPKI): %s\n", fp ? fp : "?");
		printf("tpm-persisted: %s, secure-boot: %s, tpm-enabled: %s, vmUniqueId: %s\n",
		       persisted_name(res->claims.tpm_persisted), tri(res->claims.secure_boot),
		       tri(res->claims.tpm_enabled),
		       res->claims.vm_unique_id[0] ? cli_esc(res->claims.vm_unique_id) : "none");
		printf("user-data: %s\n", ud ? ud : "none");
	}
	printf("result: %s\n", res->failed < 0 ? "VERIFIED" : "REJECTED");
}

static void print_json(const struct hcl_verify_result *res, const struct hcl_asked *a,
		       const char *source)
{
	_cleanup_(json_object_putp) json_object *o = json_object_new_object();
	json_object *checks = json_object_new_array();
	bool claims = res->passed[HCL_CHECK_CLAIMS];
	_cleanup_free_ char *fp = claims ? ak_fingerprint(&res->claims) : NULL;
	_cleanup_free_ char *ud = claims ? user_data_hex(&res->claims) : NULL;

	json_object_object_add(o, "verified", json_object_new_boolean(res->failed < 0));
	json_object_object_add(o, "source", json_object_new_string(source));
	json_object_object_add(o, "version", json_object_new_int64(res->version));
	for (int c = 0; c < _HCL_CHECK_MAX; c++) {
		json_object *e = json_object_new_object();
		json_object_object_add(e, "name", json_object_new_string(hcl_check_name(c)));
		json_object_object_add(e, "result", json_object_new_string(
							    check_state(res, c, a)));
		json_object_object_add(e, "detail", json_object_new_string(
							    res->failed == c ? res->detail : ""));
		json_object_array_add(checks, e);
	}
	json_object_object_add(o, "checks", checks);
	json_object_object_add(o, "certificates", json_object_new_string(res->collateral));
	if (claims) {
		json_object *cl = json_object_new_object();
		json_object_object_add(cl, "ak_sha256", json_object_new_string(fp ? fp : ""));
		json_object_object_add(cl, "tpm_persisted", json_object_new_string(
						persisted_name(res->claims.tpm_persisted)));
		json_object_object_add(cl, "secure_boot",
				       json_object_new_string(tri(res->claims.secure_boot)));
		json_object_object_add(cl, "tpm_enabled",
				       json_object_new_string(tri(res->claims.tpm_enabled)));
		json_object_object_add(cl, "vm_unique_id",
				       json_object_new_string(res->claims.vm_unique_id));
		json_object_object_add(cl, "user_data", json_object_new_string(ud ? ud : ""));
		json_object_object_add(o, "claims", cl);
	}
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
}

static int run(struct hcl_inputs *in)
{
	_cleanup_(tpm2_closep) struct tpm2 *t = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	uint8_t ak[HCL_AK_SPKI_MAX], nonce[HCL_USER_DATA_SIZE];
	char why[256];
	size_t len = 0;
	int ak_len = -1, r;

	if (in->file) {
		r = fileio_read_all(in->file, HCL_REPORT_MAX, &buf, &len);
		if (r < 0) {
			cli_error("%s: %s", in->file, r == -EMSGSIZE ? "larger than an HCL report" :
				  strerror(-r));
			return EXIT_ERROR;
		}
	} else {
		r = tpm2_open(in->tcti, &t);
		if (r < 0) {
			cli_error("no TPM at %s", in->tcti ? in->tcti : TPM2_TCTI_DEFAULT);
			return EXIT_ERROR;
		}
		if (in->fresh) {
			if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
				cli_error("cannot draw a nonce");
				return EXIT_ERROR;
			}
			r = tpm2_hcl_read_fresh(t, nonce,
						(uint64_t)(in->wait_sec ?: WAIT_DEFAULT_SEC) * 1000u,
						&buf, &len, why, sizeof(why));
		} else {
			r = tpm2_hcl_read(t, &buf, &len, why, sizeof(why));
		}
		if (r < 0) {
			cli_error("%s", why);
			return EXIT_ERROR;
		}
		ak_len = tpm2_public_spki(t, TPM2_HCL_AK_HANDLE, ak, sizeof(ak));
		if (ak_len < 0) {
			cli_error("cannot read the vTPM's attestation key at 0x%08x: %s",
				  TPM2_HCL_AK_HANDLE, ak_len == -ENOENT ? "not persisted" :
				  strerror(-ak_len));
			return EXIT_ERROR;
		}
	}

	struct hcl_verify_opts o = {
		.collateral_dir = in->collateral_dir ?: COLLATERAL_DIR_DEFAULT,
		.snp = {
			.trust_roots = (const uint8_t *const *)in->roots,
			.trust_root_lens = in->root_lens,
			.n_trust_roots = in->n_roots,
			.at = in->at,
		},
		.expect_ak_spki = ak_len > 0 ? ak : NULL,
		.expect_ak_spki_len = ak_len > 0 ? (size_t)ak_len : 0,
		.expect_user_data = in->fresh ? nonce : NULL,
		.require_tpm_persisted = in->require_persisted,
	};
	struct hcl_verify_result res;
	r = hcl_verify(buf, len, &o, &res);
	if (r == -ENOMEM)
		return cli_fail(r, "verification could not run");
	const char *source = in->file ? "file" : "vTPM NV 0x01400001";
	const struct hcl_asked asked = { ak_len > 0, in->fresh, in->require_persisted };
	if (arg_json) {
		print_json(&res, &asked, source);
		cli_json_result_printed = true;
	} else {
		print_text(&res, &asked, source);
	}
	if (r < 0 && !arg_json)
		cli_error("HCL report rejected: %s: %s", hcl_check_name(res.failed),
			  cli_esc(res.detail));
	return r < 0 ? EXIT_REJECTED : EXIT_OK;
}

int verb_attestation_hcl(int argc, char **argv)
{
	struct hcl_inputs in = {};
	int ret = parse_args(argc, argv, &in);

	if (ret == EXIT_OK)
		ret = run(&in);
	hcl_inputs_done(&in);
	return ret < 0 ? EXIT_OK : ret;
}
