/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsm-bench: micro-benchmarks of the library's hot paths, their physical floor, and the
 * daemon, CLI and PKCS#11 peer rows (bench/bench-*.c, measured with bench/harness.c).
 * Driven by bench/run.sh, which prepares a simulated CVM and a running daemon and passes their
 * paths. Prints one "name: value unit" line per result on stdout; progress and errors go to
 * stderr. Every result is checked (verification passes, unsealed and unwrapped bytes are the
 * originals, every daemon reply is ERRNO 0 with the right key); any wrong answer aborts the
 * run with exit status 1, so a fast but broken build never produces numbers.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "amd-cert.h"
#include "bench.h"
#include "fileio.h"
#include "hkdf.h"
#include "policy.h"
#include "seal.h"
#include "secmem.h"
#include "snp-dev.h"
#include "snp-report.h"
#include "snp-verify.h"
#include "wrap.h"

#define VERIFY_AT 1767225600      /* 2026-01-01: validity is checked at a fixed time */
#define BENCH_DEK_LEN 64u
#define BENCH_KEK_NAME "bench-kek"

static const char *arg_vectors;   /* directory with report.bin, vcek.der, ask.pem, ark.pem */
static const char *arg_sim_state; /* simulator state for the derived-key benchmark */
static const char *arg_socket;    /* vhsmd socket for the daemon benchmarks */
static const char *arg_wrapped;   /* a DEK wrapped by that daemon */
static const char *arg_dek;       /* the DEK itself */
static const char *arg_context = "";
static const char *arg_vhsmctl;   /* vhsmctl binary for the CLI latency */
static const char *arg_softhsm2;  /* libsofthsm2.so for the PKCS#11 peer */
static const char *arg_luks_image;  /* --token-open: image, token type, TPM device */
static const char *arg_token_type;
static const char *arg_tpm2_device;
static const char *arg_load;      /* --load: only this daemon load (profiling) */
static double arg_seconds = 10.0;
static int arg_daemon_pid;        /* vhsmd's pid: its CPU time per unwrap */
static const char *arg_floor_dir; /* the single UNWRAP floor's audit file goes here */

/* ---- report verification and policy ---- */

struct verify_ctx {
	uint8_t *report, *vek, *ask, *ark;
	struct snp_evidence ev;
	struct snp_verify_opts opts;
	struct snp_verify_result res;
	struct snp_policy *policy;
};

static void verify_ctx_done(struct verify_ctx *c)
{
	free(c->report);
	free(c->vek);
	free(c->ask);
	free(c->ark);
	c->policy = snp_policy_free(c->policy);
}

static int load_cert(const char *dir, const char *name, uint8_t **ret, size_t *ret_len)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return amd_cert_load_file(path, ret, ret_len);
}

static int verify_ctx_load(struct verify_ctx *c, const char *dir)
{
	char path[4096];
	int r;

	snprintf(path, sizeof(path), "%s/report.bin", dir);
	r = fileio_read_all(path, 64 * 1024, &c->report, &c->ev.report_len);
	if (r >= 0)
		r = load_cert(dir, "vcek.der", &c->vek, &c->ev.vek_len);
	if (r >= 0)
		r = load_cert(dir, "ask.pem", &c->ask, &c->ev.ask_len);
	if (r >= 0)
		r = load_cert(dir, "ark.pem", &c->ark, &c->ev.ark_len);
	if (r >= 0)
		r = snp_policy_new_default(&c->policy);
	if (r < 0) {
		bench_fail("cannot load the vector in %s: %s", dir, strerror(-r));
		return r;
	}
	c->ev.report = c->report;
	c->ev.vek = c->vek;
	c->ev.ask = c->ask;
	c->ev.ark = c->ark;
	c->opts.at = VERIFY_AT;
	return 0;
}

/* The full verifier: parse, reserved fields, ARK pinning, chain, report signature, TCB. */
static int verify_once(void *ctx)
{
	struct verify_ctx *c = ctx;
	int r = snp_verify(&c->ev, &c->opts, &c->res);

	if (r == -EKEYREJECTED)
		bench_fail("the vector does not verify: %s", snp_verify_first_failure(&c->res));
	return r;
}

static int policy_once(void *ctx)
{
	struct verify_ctx *c = ctx;
	struct snp_policy_result pr;
	int r = snp_policy_eval(c->policy, &c->res.report, c->res.product, &pr);

	if (r == -EKEYREJECTED)
		bench_fail("the default policy refuses the vector: %s", pr.n ? pr.v[0].rule : "?");
	return r;
}

/* ---- sealing, derived key, wrapping ---- */

struct crypt_ctx {
	uint8_t *key;           /* secmem: derived key (seal) or KEK (wrap) */
	uint8_t *key2;          /* secmem: the same key derived again */
	struct seal_params params;
	struct seal_binding binding;
	uint8_t payload[BENCH_DEK_LEN];
	uint8_t *wrapped;       /* for unwrap */
	size_t wrapped_len;
	struct snp_dev *dev;    /* derived key through the simulator */
	struct snp_key_request kreq;
};

static void crypt_ctx_done(struct crypt_ctx *c)
{
	c->key = secmem_free(c->key);
	c->key2 = secmem_free(c->key2);
	free(c->wrapped);
	c->wrapped = NULL;
	c->dev = snp_dev_close(c->dev);
}

static const char bench_meta[] =
	"{\"name\":\"" BENCH_KEK_NAME "\",\"state\":\"enabled\",\"versions\":[{\"version\":1}]}";

static int seal_unseal_once(void *ctx)
{
	struct crypt_ctx *c = ctx;
	_cleanup_free_ uint8_t *blob = NULL;
	_cleanup_secmem_ uint8_t *pt = NULL;
	size_t len, pt_len;
	int r;

	r = seal_blob(c->key, &c->params, &c->binding, BENCH_KEK_NAME,
		      (const uint8_t *)bench_meta, sizeof(bench_meta) - 1, c->payload,
		      sizeof(c->payload), &blob, &len);
	if (r < 0)
		return r;
	r = unseal_blob(c->key, blob, len, &pt, &pt_len);
	if (r < 0)
		return r;
	if (pt_len != sizeof(c->payload) || CRYPTO_memcmp(pt, c->payload, pt_len) != 0) {
		bench_fail("unseal returned other bytes");
		return -EBADMSG;
	}
	return 0;
}

/*
 * MSG_KEY_REQ through the device layer and the simulator (which stat()s its state file per
 * request); the key must equal the first one derived. No allocation in the timed path.
 */
static int derive_once(void *ctx)
{
	struct crypt_ctx *c = ctx;
	struct snp_status st;
	int r;

	r = snp_dev_get_derived_key(c->dev, &c->kreq, c->key2, &st);
	if (r < 0)
		return r;
	if (CRYPTO_memcmp(c->key2, c->key, 32) != 0) {
		bench_fail("the simulator derived another key for the same request");
		return -EBADMSG;
	}
	return 0;
}

static const char bench_context[] = "bench-volume";

/* What every unseal, unwrap and daemon request buffer pays: a locked, guarded mapping. */
static int secmem_once(void *ctx)
{
	uint8_t *p = secmem_alloc(BENCH_DEK_LEN);

	(void)ctx;
	if (!p)
		return -ENOMEM;
	p[0] = 1;
	secmem_free(p);
	return 0;
}

static int wrap_once(void *ctx)
{
	struct crypt_ctx *c = ctx;
	_cleanup_free_ uint8_t *blob = NULL;
	size_t len;
	int r;

	r = wrap_key(c->key, WRAP_PURPOSE_GENERIC, BENCH_KEK_NAME, 1,
		     (const uint8_t *)bench_context, sizeof(bench_context) - 1, c->payload,
		     sizeof(c->payload), &blob, &len);
	if (r >= 0 && len <= sizeof(c->payload))
		r = -EBADMSG;
	return r;
}

/* What unwrap_key() derives per blob: HKDF-SHA256 of the KEK, a 32-byte salt, 12-byte info. */
static int hkdf_once(void *ctx)
{
	struct crypt_ctx *c = ctx;
	uint8_t out[32];
	int r = hkdf_sha256(c->key, 32, c->payload, 32, (const uint8_t *)"vhsm-wrap-v2", 12, out,
			    sizeof(out));

	explicit_bzero(out, sizeof(out));
	return r;
}

static int unwrap_once(void *ctx)
{
	struct crypt_ctx *c = ctx;
	_cleanup_secmem_ uint8_t *pt = NULL;
	size_t len;
	int r;

	r = unwrap_key(c->key, WRAP_PURPOSE_GENERIC, c->wrapped, c->wrapped_len,
		       (const uint8_t *)bench_context, sizeof(bench_context) - 1, &pt, &len);
	if (r < 0)
		return r;
	if (len != sizeof(c->payload) || CRYPTO_memcmp(pt, c->payload, len) != 0) {
		bench_fail("unwrap returned other bytes");
		return -EBADMSG;
	}
	return 0;
}

static int crypt_ctx_init(struct crypt_ctx *c, const struct verify_ctx *v)
{
	uint8_t digest[32];

	c->key = secmem_alloc(32);
	c->key2 = secmem_alloc(32);
	if (!c->key || !c->key2)
		return -ENOMEM;
	/* A fixed key: the cost does not depend on its value, and runs stay comparable. */
	for (unsigned i = 0; i < 32; i++)
		c->key[i] = (uint8_t)(0xa5 ^ i);
	for (unsigned i = 0; i < sizeof(c->payload); i++)
		c->payload[i] = (uint8_t)(i * 7 + 1);
	snp_policy_digest(v->policy, digest);
	seal_params_from_report(SEAL_PROFILE_STRICT, &v->res.report, &c->params);
	seal_binding_from_report(&v->res.report, digest, &c->binding);
	return wrap_key(c->key, WRAP_PURPOSE_GENERIC, BENCH_KEK_NAME, 1,
			(const uint8_t *)bench_context, sizeof(bench_context) - 1, c->payload,
			sizeof(c->payload), &c->wrapped, &c->wrapped_len);
}

/* Opens the simulator like vhsmd does and derives the strict-profile key of its report. */
static int derive_init(struct crypt_ctx *c, const char *state)
{
	uint8_t data[64] = {}, raw[SNP_REPORT_SIZE];
	struct snp_report rep;
	struct seal_params p;
	struct snp_status st;
	char spec[4096];
	int r;

	snprintf(spec, sizeof(spec), "sim:%s", state);
	r = snp_dev_open(spec, &c->dev);
	if (r >= 0)
		r = snp_dev_get_report(c->dev, data, 0, 0, raw, &st);
	if (r >= 0)
		r = snp_report_parse(raw, sizeof(raw), &rep);
	if (r < 0) {
		bench_fail("simulator %s: %s", state, strerror(-r));
		return r;
	}
	seal_params_from_report(SEAL_PROFILE_STRICT, &rep, &p);
	seal_key_request(&p, &c->kreq);
	r = snp_dev_get_derived_key(c->dev, &c->kreq, c->key, &st);
	if (r < 0)
		bench_fail("simulator key request: %s (status %s)", strerror(-r),
			   snp_fw_status_name(st.msg_status));
	return r;
}

static int run_micro(void)
{
	struct verify_ctx v = {};
	struct crypt_ctx c = {};
	int r;

	r = verify_ctx_load(&v, arg_vectors);
	if (r >= 0)
		r = micro_run("report_verify_us_median", verify_once, &v, NULL);
	if (r >= 0)
		r = micro_run("policy_eval_us_median", policy_once, &v, NULL);
	if (r >= 0)
		r = crypt_ctx_init(&c, &v);
	if (r >= 0)
		r = micro_run("seal_unseal_us_median", seal_unseal_once, &c, NULL);
	if (r >= 0)
		r = micro_run("wrap_us_median", wrap_once, &c, NULL);
	if (r >= 0)
		r = micro_run("unwrap_us_median", unwrap_once, &c, NULL);
	if (r >= 0)
		r = micro_run("hkdf_sha256_us_median", hkdf_once, &c, NULL);
	if (r >= 0)
		r = micro_run("secmem_alloc_free_us_median", secmem_once, NULL, NULL);
	if (r >= 0)
		r = bench_kwp();
	if (r >= 0 && arg_sim_state) {
		r = derive_init(&c, arg_sim_state);
		if (r >= 0)
			r = micro_run("derived_key_sim_us_median", derive_once, &c, NULL);
	}
	crypt_ctx_done(&c);
	verify_ctx_done(&v);
	return r;
}

/* ---- main ---- */

static void help(void)
{
	printf("Usage: vhsm-bench [--quick] [--vectors DIR] [--sim-state FILE]\n"
	       "                  [--socket PATH --wrapped FILE --dek FILE [--context S]\n"
	       "                   [--vhsmctl PATH]]\n"
	       "                  [--softhsm2 MODULE]\n\n"
	       "Benchmarks of vhsm; normally run by bench/run.sh (make bench).\n"
	       "  --vectors DIR     report.bin, vcek.der, ask.pem, ark.pem of a genuine report\n"
	       "  --sim-state FILE  simulator state for the derived-key benchmark\n"
	       "  --socket PATH     running vhsmd; --wrapped is a DEK it wrapped with --context,\n"
	       "                    --dek the DEK itself\n"
	       "  --vhsmctl PATH    also time `vhsmctl unwrap` (process spawn included)\n"
	       "  --daemon-pid PID  that daemon's pid: also its CPU time per unwrap\n"
	       "  --floor-dir DIR   the single UNWRAP floor writes its audit records to a file\n"
	       "                    here (use the daemon's state file system; default: the\n"
	       "                    directory of --wrapped)\n"
	       "  --softhsm2 PATH   also time SoftHSM2's C_UnwrapKey (SOFTHSM2_CONF set)\n"
	       "  --token-open IMAGE --token-type TYPE [--tpm2-device DEV]\n"
	       "                    only check that a TYPE token opens IMAGE (exit 0), as\n"
	       "                    cryptsetup open --test-passphrase --token-only does\n"
	       "  --load unwrap|batch [--seconds N]\n"
	       "                    only that load on --socket, one client, N s (default 10):\n"
	       "                    for profiling vhsmd\n"
	       "  --load floor [--seconds N] [--floor-dir DIR] [--context S]\n"
	       "                    only the single UNWRAP's floor, in this process, N s\n"
	       "  --quick           few iterations, 0.5 s daemon runs (smoke test)\n");
}

static int parse_argv(int argc, char **argv)
{
	enum { O_VEC = 256, O_SIM, O_SOCK, O_WRAPPED, O_DEK, O_CTX, O_CTL, O_QUICK, O_P11, O_LUKS, O_TTYPE,
	       O_TPM2, O_LOAD, O_SECONDS, O_PID, O_FLOOR_DIR };
	static const struct option opts[] = {
		{ "vectors", required_argument, NULL, O_VEC },
		{ "sim-state", required_argument, NULL, O_SIM },
		{ "socket", required_argument, NULL, O_SOCK },
		{ "wrapped", required_argument, NULL, O_WRAPPED },
		{ "dek", required_argument, NULL, O_DEK },
		{ "context", required_argument, NULL, O_CTX },
		{ "vhsmctl", required_argument, NULL, O_CTL },
		{ "quick", no_argument, NULL, O_QUICK },
		{ "softhsm2", required_argument, NULL, O_P11 },
		{ "token-open", required_argument, NULL, O_LUKS },
		{ "token-type", required_argument, NULL, O_TTYPE },
		{ "tpm2-device", required_argument, NULL, O_TPM2 },
		{ "load", required_argument, NULL, O_LOAD },
		{ "seconds", required_argument, NULL, O_SECONDS },
		{ "daemon-pid", required_argument, NULL, O_PID },
		{ "floor-dir", required_argument, NULL, O_FLOOR_DIR },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case O_VEC: arg_vectors = optarg; break;
		case O_SIM: arg_sim_state = optarg; break;
		case O_SOCK: arg_socket = optarg; break;
		case O_WRAPPED: arg_wrapped = optarg; break;
		case O_DEK: arg_dek = optarg; break;
		case O_CTX: arg_context = optarg; break;
		case O_CTL: arg_vhsmctl = optarg; break;
		case O_QUICK: arg_quick = true; break;
		case O_P11: arg_softhsm2 = optarg; break;
		case O_LUKS: arg_luks_image = optarg; break;
		case O_TTYPE: arg_token_type = optarg; break;
		case O_TPM2: arg_tpm2_device = optarg; break;
		case O_LOAD: arg_load = optarg; break;
		case O_FLOOR_DIR: arg_floor_dir = optarg; break;
		case O_PID:
			arg_daemon_pid = (int)strtol(optarg, &end, 10);
			if (*end || arg_daemon_pid <= 0) {
				fprintf(stderr, "vhsm-bench: --daemon-pid takes a pid\n");
				return -EINVAL;
			}
			break;
		case O_SECONDS:
			arg_seconds = strtod(optarg, &end);
			if (*end || !(arg_seconds > 0 && arg_seconds <= 3600)) {
				fprintf(stderr, "vhsm-bench: --seconds takes 0 < N <= 3600\n");
				return -EINVAL;
			}
			break;
		case 'h': help(); return 0;
		default: return -EINVAL;
		}
	}
	if (optind < argc || (arg_socket && (!arg_wrapped || !arg_dek)) ||
	    (!arg_socket && arg_vhsmctl) || (arg_sim_state && !arg_vectors) ||
	    !arg_luks_image != !arg_token_type ||
	    (arg_load && !arg_socket && strcmp(arg_load, "floor") != 0) ||
	    (arg_floor_dir && !arg_socket && !arg_load)) {
		fprintf(stderr, "vhsm-bench: invalid arguments (see --help)\n");
		return -EINVAL;
	}
	return 1;
}

/* The single UNWRAP's floor in --floor-dir, or else beside --wrapped. */
static int unwrap_floor_open(struct unwrap_floor **ret)
{
	const char *slash = arg_wrapped ? strrchr(arg_wrapped, '/') : NULL;
	_cleanup_free_ char *dir = NULL;

	if (arg_floor_dir)
		return unwrap_floor_new(arg_floor_dir, arg_context, ret);
	if (!slash)
		return unwrap_floor_new(".", arg_context, ret);
	/* "/x" is in "/". */
	dir = strndup(arg_wrapped, slash == arg_wrapped ? 1 : (size_t)(slash - arg_wrapped));
	if (!dir)
		return -ENOMEM;
	return unwrap_floor_new(dir, arg_context, ret);
}

static int run_all(void)
{
	struct bench_daemon d = { .socket = arg_socket, .wrapped = arg_wrapped, .dek = arg_dek,
				  .context = arg_context, .vhsmctl = arg_vhsmctl,
				  .daemon_pid = arg_daemon_pid };
	int r = 0;

	if (arg_vectors)
		r = run_micro();
	if (r >= 0)
		r = bench_floor(&d.floor_item_us);
	if (r >= 0 && arg_socket)
		r = unwrap_floor_open(&d.unwrap_floor);
	if (r >= 0 && arg_softhsm2)
		r = bench_softhsm2_open(arg_softhsm2, &d.softhsm2);
	if (r >= 0 && arg_socket)
		r = bench_daemon_run(&d);
	else if (r >= 0 && d.softhsm2) {
		double ops;

		r = bench_softhsm2_sample(d.softhsm2, arg_quick ? 0.5 : 3.0, &ops);
		if (r >= 0)
			result("softhsm2_unwrap_ops_per_s", ops, "ops/s");
	}
	bench_softhsm2_close(d.softhsm2);
	unwrap_floor_free(d.unwrap_floor);
	return r;
}

/* --load floor: only the single UNWRAP's floor, for profiling it. */
static int run_floor_load(void)
{
	struct unwrap_floor *f = NULL;
	double us;
	int r = unwrap_floor_open(&f);

	if (r >= 0)
		r = unwrap_floor_sample(f, arg_seconds, &us);
	if (r >= 0)
		result("unwrap_floor_request_cpu_us_mean", us, "us");
	unwrap_floor_free(f);
	return r;
}

int main(int argc, char **argv)
{
	int r = parse_argv(argc, argv);

	if (r <= 0)
		return r < 0 ? 2 : 0;
	if (arg_luks_image)
		return bench_luks_token_open(arg_luks_image, arg_token_type, arg_tpm2_device) < 0;
	if (arg_load && strcmp(arg_load, "floor") == 0)
		return run_floor_load() < 0;
	if (arg_load) {
		struct bench_daemon d = { .socket = arg_socket, .wrapped = arg_wrapped,
					  .dek = arg_dek, .context = arg_context };

		return bench_daemon_load(&d, arg_load, arg_seconds) < 0;
	}
	return run_all() < 0 ? 1 : 0;
}
