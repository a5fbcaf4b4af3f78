/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for snp-verify: every genuine AMD vector verifies with every check passing; the derived
 * and cross-product negatives fail exactly the checks they should; a test-made CA (trusted via
 * opts.trust_roots) exercises the checks genuine data cannot reach; and exhaustive mutation of
 * a genuine report and VCEK is rejected.
 */
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "amd-cert.h"
#include "snp-verify.h"
#include "test.h"

#define T_2020_01_01 ((time_t)1577836800)
#define T_2024_01_01 ((time_t)1704067200)
#define T_2025_06_01 ((time_t)1748736000)
#define T_2026_01_01 ((time_t)1767225600) /* inside the validity of every VCEK in vectors/ */
#define T_2027_01_01 ((time_t)1798761600)

/* ---- evidence loading ---- */

struct evidence {
	uint8_t *report, *vek, *ask, *ark;
	size_t report_len, vek_len, ask_len, ark_len;
};

static void evidence_done(struct evidence *e)
{
	free(e->report);
	free(e->vek);
	free(e->ask);
	free(e->ark);
	memset(e, 0, sizeof(*e));
}

static int load_cert(const char *dir, const char *name, uint8_t **der, size_t *len)
{
	char rel[256];

	if (!name)
		return 0;
	snprintf(rel, sizeof(rel), "%s/%s", dir, name);
	return amd_cert_load_file(test_vector(rel), der, len);
}

static int evidence_load(struct evidence *e, const char *dir, const char *vek, const char *ask,
			 const char *ark)
{
	char rel[256];
	int r;

	memset(e, 0, sizeof(*e));
	snprintf(rel, sizeof(rel), "%s/report.bin", dir);
	e->report = test_read_file(test_vector(rel), &e->report_len);
	r = load_cert(dir, vek, &e->vek, &e->vek_len);
	if (r >= 0)
		r = load_cert(dir, ask, &e->ask, &e->ask_len);
	if (r >= 0)
		r = load_cert(dir, ark, &e->ark, &e->ark_len);
	if (r < 0)
		evidence_done(e);
	return r;
}

static struct snp_evidence evidence_view(const struct evidence *e)
{
	return (struct snp_evidence){
		.report = e->report,
		.report_len = e->report_len,
		.vek = e->vek,
		.vek_len = e->vek_len,
		.ask = e->ask,
		.ask_len = e->ask_len,
		.ark = e->ark,
		.ark_len = e->ark_len,
	};
}

static int run(const struct evidence *e, time_t at, struct snp_verify_result *res)
{
	const struct snp_evidence ev = evidence_view(e);
	const struct snp_verify_opts o = {.at = at};

	return snp_verify(&ev, &o, res);
}

static const char *state_str(enum snp_check_state s)
{
	switch (s) {
	case SNP_CHECK_PASS:
		return "PASS";
	case SNP_CHECK_FAIL:
		return "FAIL";
	case SNP_CHECK_NOT_RUN:
		return "NOT_RUN";
	case SNP_CHECK_NOT_APPLICABLE:
		return "N/A";
	}
	return "?";
}

/*
 * True when exactly the checks in fail_mask failed and every other check passed (hwid_match may
 * be not-applicable when na_hwid). Prints the differences.
 */
static bool only_failed(const char *what, const struct snp_verify_result *r, unsigned fail_mask,
			bool na_hwid)
{
	bool ok = true;

	for (int c = 0; c < _SNP_CHECK_MAX; c++) {
		enum snp_check_state want = (fail_mask & (1u << c)) ? SNP_CHECK_FAIL
					    : ((c == SNP_CHECK_HWID_MATCH && na_hwid) ||
					       c == SNP_CHECK_CRL) /* no CRL given */
						    ? SNP_CHECK_NOT_APPLICABLE
						    : SNP_CHECK_PASS;
		if (r->state[c] != want) {
			fprintf(stderr, "    %s: %s is %s (want %s): %s\n", what, snp_check_name(c),
				state_str(r->state[c]), state_str(want), r->detail[c]);
			ok = false;
		}
	}
	return ok;
}

#define BIT(c) (1u << (c))

/* ---- names ---- */

TEST(verify_check_names)
{
	static const char *const want[] = {
		"report_parse", "mbz_fields", "signature_algo", "product",    "signer_match",
		"ark_pinned",	"ark_self",   "ask_by_ark",	"vek_by_ask", "cert_validity",
		"report_sig",	"tcb_match",  "hwid_match", "crl",
	};

	ASSERT_EQ(ELEMENTSOF(want), _SNP_CHECK_MAX);
	for (int c = 0; c < _SNP_CHECK_MAX; c++)
		ASSERT_STREQ(snp_check_name(c), want[c]);
	ASSERT_TRUE(snp_check_name(_SNP_CHECK_MAX) == NULL);
	ASSERT_TRUE(snp_check_name(_SNP_CHECK_INVALID) == NULL);

	struct snp_verify_result r = {};
	ASSERT_TRUE(snp_verify_first_failure(&r) == NULL);
	r.state[SNP_CHECK_TCB_MATCH] = SNP_CHECK_FAIL;
	r.state[SNP_CHECK_HWID_MATCH] = SNP_CHECK_FAIL;
	ASSERT_STREQ(snp_verify_first_failure(&r), "tcb_match");
}

TEST(verify_bad_args)
{
	struct snp_verify_result r;
	const struct snp_evidence ev = {};
	const struct snp_verify_opts o = {.n_trust_roots = 1};

	ASSERT_EQ(snp_verify(NULL, NULL, &r), -EINVAL);
	ASSERT_EQ(snp_verify(&ev, NULL, NULL), -EINVAL);
	ASSERT_EQ(snp_verify(&ev, &o, &r), -EINVAL);
	/* no report at all is evidence that fails, not a programming error */
	ASSERT_EQ(snp_verify(&ev, NULL, &r), -EKEYREJECTED);
	ASSERT_EQ(r.state[SNP_CHECK_REPORT_PARSE], SNP_CHECK_FAIL);
	ASSERT_FALSE(r.report_parsed);
}

/* ---- genuine vectors ---- */

struct vec {
	const char *dir, *vek, *ask;
	enum snp_product product;
	bool vlek;
	time_t at;
};

static const struct vec genuine[] = {
	{"genoa-v3-azure-trustee", "vcek.pem", "ask.pem", SNP_PRODUCT_GENOA, false, T_2026_01_01},
	{"genoa-v3-siena-trustee", "vcek.der", "ask.pem", SNP_PRODUCT_GENOA, false, T_2026_01_01},
	{"genoa-v5-oak", "vcek.der", "ask.pem", SNP_PRODUCT_GENOA, false, T_2026_01_01},
	{"milan-v2-azure-constellation", "vcek.der", "ask.pem", SNP_PRODUCT_MILAN, false,
	 T_2026_01_01},
	{"milan-v2-azure-constellation", "vcek-thim.pem", "ask.pem", SNP_PRODUCT_MILAN, false,
	 T_2026_01_01},
	{"milan-v2-azure-hcl-trustee", "vcek.pem", "ask.pem", SNP_PRODUCT_MILAN, false,
	 T_2026_01_01},
	/* launched with POLICY.DEBUG=1: cryptographically valid, refused by policy elsewhere */
	{"milan-v2-debug-gsg", "vcek.der", "ask.pem", SNP_PRODUCT_MILAN, false, T_2026_01_01},
	{"milan-v2-trustee", "vcek.der", "ask.pem", SNP_PRODUCT_MILAN, false, T_2026_01_01},
	{"milan-v2-virtee", "vcek.der", "ask.pem", SNP_PRODUCT_MILAN, false, T_2026_01_01},
	{"milan-v2-vlek-aws-constellation", "vlek.pem", "asvk.pem", SNP_PRODUCT_MILAN, true,
	 T_2024_01_01},
	{"milan-v3-azure-trustee", "vcek.der", "ask.pem", SNP_PRODUCT_MILAN, false, T_2026_01_01},
	{"milan-v3-oak", "vcek.der", "ask.pem", SNP_PRODUCT_MILAN, false, T_2026_01_01},
	{"milan-v3-vlek-aws-constellation", "vlek.pem", "asvk.pem", SNP_PRODUCT_MILAN, true,
	 T_2025_06_01},
	{"turin-v5-oak", "vcek.der", "ask.pem", SNP_PRODUCT_TURIN, false, T_2026_01_01},
};

static bool genuine_ok(const struct vec *v, const struct evidence *e, const char *how)
{
	struct snp_verify_result res;
	char what[160];
	int r = run(e, v->at, &res);

	snprintf(what, sizeof(what), "%s/%s (%s)", v->dir, v->vek, how);
	if (r != 0 || !only_failed(what, &res, 0, v->vlek) || res.product != v->product ||
	    res.signing_key != (v->vlek ? SNP_SIGNING_KEY_VLEK : SNP_SIGNING_KEY_VCEK) ||
	    res.trusted_by_extra_root || !res.report_parsed) {
		fprintf(stderr, "    %s: r=%d product=%d\n", what, r, res.product);
		return false;
	}
	return true;
}

TEST(verify_genuine_vectors)
{
	for (size_t i = 0; i < ELEMENTSOF(genuine); i++) {
		const struct vec *v = &genuine[i];
		struct evidence e;

		ASSERT_OK(evidence_load(&e, v->dir, v->vek, v->ask, "ark.pem"));
		bool full = genuine_ok(v, &e, "host ASK and ARK");
		/* without host certificates the pinned copies are used */
		free(e.ask);
		free(e.ark);
		e.ask = e.ark = NULL;
		e.ask_len = e.ark_len = 0;
		bool pinned = genuine_ok(v, &e, "pinned ASK and ARK");
		evidence_done(&e);
		ASSERT_TRUE(full);
		ASSERT_TRUE(pinned);
	}
}

TEST(verify_genuine_details)
{
	struct evidence e;
	struct snp_verify_result r;

	ASSERT_OK(evidence_load(&e, "turin-v5-oak", "vcek.der", NULL, NULL));
	int rc = run(&e, T_2026_01_01, &r);
	evidence_done(&e);
	ASSERT_EQ(rc, 0);
	ASSERT_STREQ(r.detail[SNP_CHECK_TCB_MATCH], "fmc=0 bl=1 tee=0 snp=2 ucode=71");
	ASSERT_STREQ(r.detail[SNP_CHECK_HWID_MATCH], "CHIP_ID == hwID (8 bytes)");
	ASSERT_EQ(r.report.version, 5);
}

TEST(verify_vlek_expired)
{
	for (size_t i = 0; i < ELEMENTSOF(genuine); i++) {
		const struct vec *v = &genuine[i];
		struct snp_verify_result now, later, early;
		struct evidence e;

		if (!v->vlek)
			continue;
		ASSERT_OK(evidence_load(&e, v->dir, v->vek, v->ask, "ark.pem"));
		/* both VLEKs here expired (1-year validity) before this test was written */
		int r0 = run(&e, 0, &now);
		int r1 = run(&e, T_2027_01_01, &later);
		int r2 = run(&e, T_2020_01_01, &early);
		evidence_done(&e);
		ASSERT_EQ(r0, -EKEYREJECTED);
		ASSERT_EQ(r1, -EKEYREJECTED);
		ASSERT_EQ(r2, -EKEYREJECTED);
		ASSERT_TRUE(only_failed(v->dir, &now, BIT(SNP_CHECK_CERT_VALIDITY), true));
		ASSERT_TRUE(only_failed(v->dir, &later, BIT(SNP_CHECK_CERT_VALIDITY), true));
		ASSERT_TRUE(only_failed(v->dir, &early, BIT(SNP_CHECK_CERT_VALIDITY), true));
		ASSERT_TRUE(strstr(now.detail[SNP_CHECK_CERT_VALIDITY], "VLEK expired") != NULL);
		ASSERT_TRUE(strstr(early.detail[SNP_CHECK_CERT_VALIDITY], "not valid before"));
	}
}

/* ---- derived negatives ---- */

static int run_dir(const char *dir, const char *vek, time_t at, struct snp_verify_result *res)
{
	struct evidence e;
	int r = evidence_load(&e, dir, vek, "ask.pem", "ark.pem");

	if (r < 0)
		return -999;
	r = run(&e, at, res);
	evidence_done(&e);
	return r;
}

TEST(verify_neg_sig_r_bitflip)
{
	struct snp_verify_result r;

	ASSERT_EQ(run_dir("neg-derived/sig-r-bitflip", "vcek.der", T_2026_01_01, &r),
		  -EKEYREJECTED);
	ASSERT_TRUE(only_failed("sig-r-bitflip", &r, BIT(SNP_CHECK_REPORT_SIG), false));
	ASSERT_STREQ(snp_verify_first_failure(&r), "report_sig");
}

TEST(verify_neg_turin_measurement_bitflip)
{
	struct snp_verify_result r;

	ASSERT_EQ(run_dir("neg-derived/turin-measurement-bitflip", "vcek.der", T_2026_01_01, &r),
		  -EKEYREJECTED);
	ASSERT_TRUE(only_failed("turin-measurement", &r, BIT(SNP_CHECK_REPORT_SIG), false));
}

TEST(verify_neg_reported_tcb_raised)
{
	struct snp_verify_result r;

	ASSERT_EQ(run_dir("neg-derived/reported-tcb-raised", "vcek.der", T_2026_01_01, &r),
		  -EKEYREJECTED);
	ASSERT_TRUE(only_failed("tcb-raised", &r,
				BIT(SNP_CHECK_REPORT_SIG) | BIT(SNP_CHECK_TCB_MATCH), false));
	ASSERT_STREQ(r.detail[SNP_CHECK_TCB_MATCH],
		     "snpSPL 25 in the certificate, 26 in REPORTED_TCB");
}

TEST(verify_neg_truncated)
{
	struct evidence e;
	struct snp_verify_result r;

	ASSERT_OK(evidence_load(&e, "neg-derived/truncated-1183", "vcek.pem", NULL, NULL));
	ASSERT_EQ(e.report_len, 1183);
	int rc = run(&e, T_2027_01_01, &r);
	evidence_done(&e);
	ASSERT_EQ(rc, -EKEYREJECTED);
	ASSERT_EQ(r.state[SNP_CHECK_REPORT_PARSE], SNP_CHECK_FAIL);
	ASSERT_STREQ(r.detail[SNP_CHECK_REPORT_PARSE], "length 1183, expected 1184");
	ASSERT_FALSE(r.report_parsed);
	ASSERT_STREQ(snp_verify_first_failure(&r), "report_parse");
	/* the certificates are still judged, with the product and kind the leaf names */
	ASSERT_EQ(r.product, SNP_PRODUCT_MILAN);
	for (int c = SNP_CHECK_ARK_PINNED; c <= SNP_CHECK_CERT_VALIDITY; c++)
		ASSERT_EQ(r.state[c], SNP_CHECK_PASS);
	static const enum snp_check report_checks[] = {
		SNP_CHECK_MBZ_FIELDS,	SNP_CHECK_SIGNATURE_ALGO, SNP_CHECK_PRODUCT,
		SNP_CHECK_SIGNER_MATCH, SNP_CHECK_REPORT_SIG,	  SNP_CHECK_TCB_MATCH,
		SNP_CHECK_HWID_MATCH,
	};
	for (size_t i = 0; i < ELEMENTSOF(report_checks); i++)
		ASSERT_EQ(r.state[report_checks[i]], SNP_CHECK_NOT_RUN);
}

TEST(verify_neg_hwid_encoding_badsig)
{
	static const char *const certs[] = {"vcek-hwid-raw-badsig.der",
					    "vcek-hwid-octetstring-badsig.der"};

	for (size_t i = 0; i < ELEMENTSOF(certs); i++) {
		struct evidence e;
		struct snp_verify_result r;
		uint8_t *vek = NULL;
		size_t vek_len = 0;

		ASSERT_OK(load_cert("neg-vcek-hwid-encoding-trustee", certs[i], &vek, &vek_len));
		ASSERT_OK(evidence_load(&e, "milan-v2-virtee", NULL, NULL, NULL));
		e.vek = vek;
		e.vek_len = vek_len;
		int rc = run(&e, T_2026_01_01, &r);
		evidence_done(&e);
		ASSERT_EQ(rc, -EKEYREJECTED);
		ASSERT_EQ(r.state[SNP_CHECK_VEK_BY_ASK], SNP_CHECK_FAIL);
		ASSERT_TRUE(strstr(r.detail[SNP_CHECK_VEK_BY_ASK], "does not verify") != NULL);
		ASSERT_EQ(r.state[SNP_CHECK_ASK_BY_ARK], SNP_CHECK_PASS);
	}
}

/* ---- cross-product and mix-ups ---- */

static int swap_cert(uint8_t **slot, size_t *len, const char *rel)
{
	free(*slot);
	*slot = NULL;
	return amd_cert_load_file(test_vector(rel), slot, len);
}

TEST(verify_cross_product_ark)
{
	struct evidence e;
	struct snp_verify_result r;

	ASSERT_OK(evidence_load(&e, "milan-v3-oak", "vcek.der", "ask.pem", "ark.pem"));
	ASSERT_OK(swap_cert(&e.ark, &e.ark_len, "amd-roots/genoa/ark.pem"));
	int rc = run(&e, T_2026_01_01, &r);
	evidence_done(&e);
	ASSERT_EQ(rc, -EKEYREJECTED);
	ASSERT_EQ(r.state[SNP_CHECK_ARK_PINNED], SNP_CHECK_FAIL);
	ASSERT_EQ(r.state[SNP_CHECK_ARK_SELF], SNP_CHECK_NOT_RUN);
	ASSERT_EQ(r.state[SNP_CHECK_ASK_BY_ARK], SNP_CHECK_NOT_RUN);
	ASSERT_EQ(r.state[SNP_CHECK_REPORT_SIG], SNP_CHECK_PASS);
	ASSERT_STREQ(snp_verify_first_failure(&r), "ark_pinned");
}

TEST(verify_cross_product_chain)
{
	struct evidence e;
	struct snp_verify_result r;

	/* a Genoa report with the whole (self-consistent) Milan chain as host certificates */
	ASSERT_OK(evidence_load(&e, "genoa-v5-oak", "vcek.der", NULL, NULL));
	ASSERT_OK(swap_cert(&e.ask, &e.ask_len, "amd-roots/milan/ask.pem"));
	ASSERT_OK(swap_cert(&e.ark, &e.ark_len, "amd-roots/milan/ark.pem"));
	int rc = run(&e, T_2026_01_01, &r);
	evidence_done(&e);
	ASSERT_EQ(rc, -EKEYREJECTED);
	ASSERT_EQ(r.state[SNP_CHECK_ARK_PINNED], SNP_CHECK_FAIL);
	ASSERT_EQ(r.state[SNP_CHECK_VEK_BY_ASK], SNP_CHECK_FAIL);
}

TEST(verify_host_ark_not_trusted)
{
	struct evidence e;
	struct snp_verify_result r;

	/* the ASK offered as "ARK": a host-supplied root is never trusted by itself */
	ASSERT_OK(evidence_load(&e, "milan-v2-virtee", "vcek.der", "ask.pem", "ask.pem"));
	int rc = run(&e, T_2026_01_01, &r);
	evidence_done(&e);
	ASSERT_EQ(rc, -EKEYREJECTED);
	ASSERT_EQ(r.state[SNP_CHECK_ARK_PINNED], SNP_CHECK_FAIL);
}

TEST(verify_vlek_through_ask)
{
	struct evidence e;
	struct snp_verify_result r;

	ASSERT_OK(evidence_load(&e, "milan-v3-vlek-aws-constellation", "vlek.pem", NULL, NULL));
	ASSERT_OK(swap_cert(&e.ask, &e.ask_len, "amd-roots/milan/ask.pem"));
	int rc = run(&e, T_2025_06_01, &r);
	evidence_done(&e);
	ASSERT_EQ(rc, -EKEYREJECTED);
	ASSERT_EQ(r.state[SNP_CHECK_ASK_BY_ARK], SNP_CHECK_FAIL);
	ASSERT_TRUE(strstr(r.detail[SNP_CHECK_ASK_BY_ARK], "SEV-VLEK-Milan") != NULL);
	ASSERT_EQ(r.state[SNP_CHECK_VEK_BY_ASK], SNP_CHECK_FAIL);
	ASSERT_EQ(r.state[SNP_CHECK_REPORT_SIG], SNP_CHECK_PASS);
}

TEST(verify_vcek_through_asvk)
{
	struct evidence e;
	struct snp_verify_result r;

	ASSERT_OK(evidence_load(&e, "milan-v3-oak", "vcek.der", NULL, NULL));
	ASSERT_OK(swap_cert(&e.ask, &e.ask_len, "amd-roots/milan/asvk.pem"));
	int rc = run(&e, T_2026_01_01, &r);
	evidence_done(&e);
	ASSERT_EQ(rc, -EKEYREJECTED);
	ASSERT_EQ(r.state[SNP_CHECK_ASK_BY_ARK], SNP_CHECK_FAIL);
	ASSERT_EQ(r.state[SNP_CHECK_VEK_BY_ASK], SNP_CHECK_FAIL);
}

TEST(verify_other_chips_vcek)
{
	struct evidence e;
	struct snp_verify_result r;

	/* same product, firmware and TCB: only the chip differs */
	ASSERT_OK(evidence_load(&e, "milan-v2-virtee", NULL, NULL, NULL));
	ASSERT_OK(swap_cert(&e.vek, &e.vek_len, "milan-v2-trustee/vcek.der"));
	int rc = run(&e, T_2026_01_01, &r);
	evidence_done(&e);
	ASSERT_EQ(rc, -EKEYREJECTED);
	ASSERT_TRUE(only_failed("other chip", &r,
				BIT(SNP_CHECK_REPORT_SIG) | BIT(SNP_CHECK_HWID_MATCH), false));
}

TEST(verify_vlek_report_with_vcek)
{
	struct evidence e;
	struct snp_verify_result r;

	ASSERT_OK(evidence_load(&e, "milan-v3-vlek-aws-constellation", NULL, NULL, NULL));
	ASSERT_OK(swap_cert(&e.vek, &e.vek_len, "milan-v3-oak/vcek.der"));
	int rc = run(&e, T_2026_01_01, &r);
	evidence_done(&e);
	ASSERT_EQ(rc, -EKEYREJECTED);
	ASSERT_EQ(r.state[SNP_CHECK_SIGNER_MATCH], SNP_CHECK_FAIL);
	ASSERT_EQ(r.state[SNP_CHECK_REPORT_SIG], SNP_CHECK_FAIL);
}

TEST(verify_turin_report_with_milan_vcek)
{
	struct evidence e;
	struct snp_verify_result r;

	ASSERT_OK(evidence_load(&e, "turin-v5-oak", NULL, NULL, NULL));
	ASSERT_OK(swap_cert(&e.vek, &e.vek_len, "milan-v3-oak/vcek.der"));
	int rc = run(&e, T_2026_01_01, &r);
	evidence_done(&e);
	ASSERT_EQ(rc, -EKEYREJECTED);
	ASSERT_EQ(r.state[SNP_CHECK_PRODUCT], SNP_CHECK_FAIL);
	ASSERT_EQ(r.product, SNP_PRODUCT_TURIN); /* CPUID decides */
	ASSERT_EQ(r.state[SNP_CHECK_VEK_BY_ASK], SNP_CHECK_FAIL);
}

TEST(verify_garbage_certificates)
{
	struct evidence e;
	struct snp_verify_result r;
	uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x00};

	ASSERT_OK(evidence_load(&e, "milan-v3-oak", "vcek.der", NULL, NULL));
	const struct snp_evidence good = evidence_view(&e);
	struct snp_evidence ev = good;
	const struct snp_verify_opts o = {.at = T_2026_01_01};

	ev.vek = junk;
	ev.vek_len = sizeof(junk);
	int r1 = snp_verify(&ev, &o, &r);
	enum snp_check_state vek1 = r.state[SNP_CHECK_VEK_BY_ASK];
	ev = good;
	ev.ask = junk;
	ev.ask_len = sizeof(junk);
	int r2 = snp_verify(&ev, &o, &r);
	enum snp_check_state ask2 = r.state[SNP_CHECK_ASK_BY_ARK];
	ev = good;
	ev.vek = NULL;
	ev.vek_len = 0;
	int r3 = snp_verify(&ev, &o, &r);
	evidence_done(&e);
	ASSERT_EQ(r1, -EKEYREJECTED);
	ASSERT_EQ(vek1, SNP_CHECK_FAIL);
	ASSERT_EQ(r2, -EKEYREJECTED);
	ASSERT_EQ(ask2, SNP_CHECK_FAIL);
	ASSERT_EQ(r3, -EKEYREJECTED);
	ASSERT_EQ(r.state[SNP_CHECK_VEK_BY_ASK], SNP_CHECK_FAIL);
}

/* ---- a test-made CA, trusted through opts.trust_roots ---- */

struct synth {
	/* knobs; zero means "like AMD" */
	const char *ark_cn, *ask_cn, *leaf_cn, *product_name;
	bool ask_pkcs1, ask_not_ca;
	int leaf_salt;
	const char *leaf_md, *leaf_curve;
	long leaf_not_after_days;
	int snp_spl_delta;
	bool omit_ucode, hwid_other;
	/* outputs: DER certificates and the leaf key */
	uint8_t *ark, *ask, *vek;
	size_t ark_len, ask_len, vek_len;
	EVP_PKEY *leaf_key;
};

static EVP_PKEY *synth_ark_key, *synth_ask_key;

__attribute__((destructor)) static void synth_keys_free(void)
{
	EVP_PKEY_free(synth_ark_key);
	EVP_PKEY_free(synth_ask_key);
}

static void synth_done(struct synth *s)
{
	free(s->ark);
	free(s->ask);
	free(s->vek);
	EVP_PKEY_free(s->leaf_key);
	s->ark = s->ask = s->vek = NULL;
	s->leaf_key = NULL;
}

static bool name_set(X509 *x, const char *cn, bool issuer_too)
{
	X509_NAME *n = X509_NAME_new();
	bool ok = n &&
		  X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
					     (const unsigned char *)"vhsm unit test", -1, -1, 0) &&
		  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
					     -1, 0) &&
		  X509_set_subject_name(x, n) && (!issuer_too || X509_set_issuer_name(x, n));
	X509_NAME_free(n);
	return ok;
}

static X509 *synth_cert(const char *cn, X509 *issuer, EVP_PKEY *pub, long days)
{
	X509 *x = X509_new();

	if (!x || !X509_set_version(x, 2) || !name_set(x, cn, !issuer) ||
	    (issuer && !X509_set_issuer_name(x, X509_get_subject_name(issuer))) ||
	    !X509_set_pubkey(x, pub) || !X509_gmtime_adj(X509_getm_notBefore(x), -86400) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL)) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static bool synth_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;
	bool ok;

	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	ok = e && X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok;
}

static bool synth_raw_ext(X509 *x, const char *suffix, const uint8_t *val, size_t len)
{
	char txt[64];
	ASN1_OBJECT *obj;
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *e = NULL;
	bool ok;

	snprintf(txt, sizeof(txt), "%s%s", AMD_OID_PREFIX, suffix);
	obj = OBJ_txt2obj(txt, 1);
	ok = obj && os && ASN1_OCTET_STRING_set(os, val, (int)len) &&
	     (e = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os)) && X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(obj);
	return ok;
}

static bool synth_sign(X509 *x, EVP_PKEY *key, const char *md, int salt, bool pkcs1)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	bool ok = ctx && EVP_DigestSignInit_ex(ctx, &pctx, md, NULL, NULL, key, NULL) > 0 &&
		  (pkcs1 || (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
			     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt) > 0 &&
			     EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, md, NULL) > 0)) &&
		  X509_sign_ctx(x, ctx) > 0;

	EVP_MD_CTX_free(ctx);
	return ok;
}

static bool to_der(X509 *x, uint8_t **ret, size_t *ret_len)
{
	unsigned char *der = NULL;
	int len = x ? i2d_X509(x, &der) : -1;

	if (len <= 0)
		return false;
	*ret = malloc((size_t)len);
	memcpy(*ret, der, (size_t)len);
	*ret_len = (size_t)len;
	OPENSSL_free(der);
	return true;
}

static bool spl_ext(X509 *x, const char *suffix, uint8_t v)
{
	/* INTEGER, with a leading zero byte when the top bit is set */
	const uint8_t small[] = {0x02, 0x01, v}, big[] = {0x02, 0x02, 0x00, v};

	return v & 0x80 ? synth_raw_ext(x, suffix, big, sizeof(big))
			: synth_raw_ext(x, suffix, small, sizeof(small));
}

/* A Milan chain ARK -> ASK -> VCEK for the TCB and CHIP_ID of report. */
static bool synth_build(struct synth *s, const uint8_t *report)
{
	X509 *ark = NULL, *ask = NULL, *leaf = NULL;
	uint8_t name[34] = {0x16};
	const char *pn = s->product_name ? s->product_name : "Milan-B0";
	uint8_t hwid[64];
	bool ok;

	if (!synth_ark_key)
		synth_ark_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	if (!synth_ask_key)
		synth_ask_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	s->leaf_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", s->leaf_curve ? s->leaf_curve : "P-384");
	if (!synth_ark_key || !synth_ask_key || !s->leaf_key)
		return false;

	ark = synth_cert(s->ark_cn ? s->ark_cn : "ARK-Milan", NULL, synth_ark_key, 3650);
	ok = ark && synth_ext(ark, NULL, NID_basic_constraints, "critical,CA:TRUE") &&
	     synth_ext(ark, NULL, NID_key_usage, "critical,keyCertSign,cRLSign") &&
	     synth_sign(ark, synth_ark_key, "SHA384", 48, false);
	ask = ok ? synth_cert(s->ask_cn ? s->ask_cn : "SEV-Milan", ark, synth_ask_key, 3650) : NULL;
	ok = ask &&
	     (s->ask_not_ca ||
	      synth_ext(ask, ark, NID_basic_constraints, "critical,CA:TRUE,pathlen:0")) &&
	     synth_sign(ask, synth_ark_key, "SHA384", 48, s->ask_pkcs1);
	leaf = ok ? synth_cert(s->leaf_cn ? s->leaf_cn : "SEV-VCEK", ask, s->leaf_key,
			       s->leaf_not_after_days ? s->leaf_not_after_days : 365)
		  : NULL;
	/* SPLs from REPORTED_TCB (legacy layout: BL byte 0, TEE 1, SNP 6, ucode 7) */
	const uint8_t *tcb = report + 0x180;
	name[1] = (uint8_t)strlen(pn);
	memcpy(name + 2, pn, name[1]);
	memcpy(hwid, report + 0x1A0, 64);
	if (s->hwid_other)
		hwid[17] ^= 1;
	ok = leaf && synth_raw_ext(leaf, "1", (const uint8_t[]){0x02, 0x01, 0x00}, 3) &&
	     synth_raw_ext(leaf, "2", name, (size_t)name[1] + 2) && spl_ext(leaf, "3.1", tcb[0]) &&
	     spl_ext(leaf, "3.2", tcb[1]) &&
	     spl_ext(leaf, "3.3", (uint8_t)(tcb[6] + s->snp_spl_delta)) &&
	     (s->omit_ucode || spl_ext(leaf, "3.8", tcb[7])) &&
	     synth_raw_ext(leaf, "4", hwid, 64) &&
	     synth_sign(leaf, synth_ask_key, s->leaf_md ? s->leaf_md : "SHA384",
			s->leaf_salt ? s->leaf_salt : 48, false);
	ok = ok && to_der(ark, &s->ark, &s->ark_len) && to_der(ask, &s->ask, &s->ask_len) &&
	     to_der(leaf, &s->vek, &s->vek_len);
	X509_free(ark);
	X509_free(ask);
	X509_free(leaf);
	return ok;
}

/* Signs report bytes 0x000-0x29F like the firmware: R and S little-endian, zero-extended. */
static bool sign_report(uint8_t *report, EVP_PKEY *key)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char der[160];
	size_t der_len = sizeof(der);
	const unsigned char *p = der;
	ECDSA_SIG *sig = NULL;
	bool ok = md && EVP_DigestSignInit_ex(md, NULL, "SHA384", NULL, NULL, key, NULL) > 0 &&
		  EVP_DigestSign(md, der, &der_len, report, 0x2A0) > 0 &&
		  (sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len));

	memset(report + 0x2A0, 0, 0x4A0 - 0x2A0);
	ok = ok && BN_bn2lebinpad(ECDSA_SIG_get0_r(sig), report + 0x2A0, 72) == 72 &&
	     BN_bn2lebinpad(ECDSA_SIG_get0_s(sig), report + 0x2E8, 72) == 72;
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(md);
	return ok;
}

/* A v3 Milan report (milan-v3-oak) with edit() applied, re-signed by the synthetic VCEK. */
static int synth_verify(struct synth *s, void (*edit)(uint8_t *report), bool with_root,
			bool with_ark, struct snp_verify_result *res)
{
	size_t len = 0;
	uint8_t *report = test_read_file(test_vector("milan-v3-oak/report.bin"), &len);
	int r = -999;

	if (synth_build(s, report)) {
		if (edit)
			edit(report);
		if (sign_report(report, s->leaf_key)) {
			const uint8_t *roots[] = {s->ark};
			const size_t lens[] = {s->ark_len};
			const struct snp_evidence ev = {
				.report = report,
				.report_len = len,
				.vek = s->vek,
				.vek_len = s->vek_len,
				.ask = s->ask,
				.ask_len = s->ask_len,
				.ark = with_ark ? s->ark : NULL,
				.ark_len = with_ark ? s->ark_len : 0,
			};
			const struct snp_verify_opts o = {
				.trust_roots = roots,
				.trust_root_lens = lens,
				.n_trust_roots = with_root ? 1 : 0,
				.at = time(NULL),
			};
			r = snp_verify(&ev, &o, res);
		}
	}
	free(report);
	synth_done(s);
	ERR_clear_error();
	return r;
}

TEST(verify_synth_trust_root)
{
	struct synth s = {};
	struct snp_verify_result r;

	ASSERT_EQ(synth_verify(&s, NULL, true, true, &r), 0);
	ASSERT_TRUE(only_failed("synth", &r, 0, false));
	ASSERT_TRUE(r.trusted_by_extra_root);
	ASSERT_TRUE(strstr(r.detail[SNP_CHECK_ARK_PINNED], "not an AMD root") != NULL);
	/* no ARK supplied: the extra root that signed the ASK is found */
	ASSERT_EQ(synth_verify(&s, NULL, true, false, &r), 0);
	ASSERT_TRUE(r.trusted_by_extra_root);
}

TEST(verify_synth_untrusted)
{
	struct synth s = {};
	struct snp_verify_result r;

	ASSERT_EQ(synth_verify(&s, NULL, false, true, &r), -EKEYREJECTED);
	ASSERT_EQ(r.state[SNP_CHECK_ARK_PINNED], SNP_CHECK_FAIL);
	ASSERT_FALSE(r.trusted_by_extra_root);
	/* no ARK and no extra root: AMD's ARK is used, and it did not sign this ASK */
	ASSERT_EQ(synth_verify(&s, NULL, false, false, &r), -EKEYREJECTED);
	ASSERT_EQ(r.state[SNP_CHECK_ARK_PINNED], SNP_CHECK_PASS);
	ASSERT_EQ(r.state[SNP_CHECK_ASK_BY_ARK], SNP_CHECK_FAIL);
	ASSERT_FALSE(r.trusted_by_extra_root);
}

static void edit_cpuid_genoa(uint8_t *rep)
{
	rep[0x189] = 0x11;
}

static void edit_cpuid_unknown(uint8_t *rep)
{
	rep[0x188] = 0x17;
}

static void edit_sig_algo(uint8_t *rep)
{
	rep[0x34] = 2;
}

static void edit_signing_key_reserved(uint8_t *rep)
{
	rep[0x48] = 2 << 2;
}

static void edit_mask_chip(uint8_t *rep)
{
	rep[0x48] |= 2;
	memset(rep + 0x1A0, 0, 64);
}

static void edit_v2(uint8_t *rep)
{
	rep[0] = 2;
	memset(rep + 0x188, 0, 3);
}

TEST(verify_synth_report_fields)
{
	struct synth s = {};
	struct snp_verify_result r;

	/* CPUID says Genoa, the chain says Milan */
	ASSERT_EQ(synth_verify(&s, edit_cpuid_genoa, true, true, &r), -EKEYREJECTED);
	ASSERT_EQ(r.state[SNP_CHECK_PRODUCT], SNP_CHECK_FAIL);
	ASSERT_EQ(r.product, SNP_PRODUCT_GENOA);
	ASSERT_EQ(r.state[SNP_CHECK_ASK_BY_ARK], SNP_CHECK_FAIL); /* ARK-Milan is not ARK-Genoa */

	ASSERT_EQ(synth_verify(&s, edit_cpuid_unknown, true, true, &r), -EKEYREJECTED);
	ASSERT_EQ(r.state[SNP_CHECK_PRODUCT], SNP_CHECK_FAIL);

	ASSERT_EQ(synth_verify(&s, edit_sig_algo, true, true, &r), -EKEYREJECTED);
	ASSERT_TRUE(only_failed("sig algo", &r, BIT(SNP_CHECK_SIGNATURE_ALGO), false));

	ASSERT_EQ(synth_verify(&s, edit_signing_key_reserved, true, true, &r), -EKEYREJECTED);
	ASSERT_EQ(r.state[SNP_CHECK_SIGNER_MATCH], SNP_CHECK_FAIL);

	ASSERT_EQ(synth_verify(&s, edit_mask_chip, true, true, &r), -EKEYREJECTED);
	ASSERT_TRUE(only_failed("mask chip", &r, BIT(SNP_CHECK_HWID_MATCH), false));
	ASSERT_TRUE(strstr(r.detail[SNP_CHECK_HWID_MATCH], "masked") != NULL);

	/* a v2 report takes its product from the certificate */
	ASSERT_EQ(synth_verify(&s, edit_v2, true, true, &r), 0);
	ASSERT_EQ(r.product, SNP_PRODUCT_MILAN);
}

TEST(verify_synth_product_from_cert)
{
	struct synth s = {.product_name = "Genoa"};
	struct snp_verify_result r;

	/* v2: productName and issuer CN disagree */
	ASSERT_EQ(synth_verify(&s, edit_v2, true, true, &r), -EKEYREJECTED);
	ASSERT_EQ(r.state[SNP_CHECK_PRODUCT], SNP_CHECK_FAIL);

	s = (struct synth){.product_name = "Venice"};
	ASSERT_EQ(synth_verify(&s, NULL, true, true, &r), -EKEYREJECTED);
	ASSERT_EQ(r.state[SNP_CHECK_PRODUCT], SNP_CHECK_FAIL);

	s = (struct synth){.product_name = "Milan-B1"}; /* the stepping is ignored */
	ASSERT_EQ(synth_verify(&s, NULL, true, true, &r), 0);
}

TEST(verify_synth_cert_signatures)
{
	struct synth s = {.ask_pkcs1 = true};
	struct snp_verify_result r;

	ASSERT_EQ(synth_verify(&s, NULL, true, true, &r), -EKEYREJECTED);
	ASSERT_TRUE(only_failed("pkcs1", &r, BIT(SNP_CHECK_ASK_BY_ARK), false));
	ASSERT_TRUE(strstr(r.detail[SNP_CHECK_ASK_BY_ARK], "RSASSA-PSS") != NULL);

	s = (struct synth){.leaf_salt = 32};
	ASSERT_EQ(synth_verify(&s, NULL, true, true, &r), -EKEYREJECTED);
	ASSERT_TRUE(only_failed("salt", &r, BIT(SNP_CHECK_VEK_BY_ASK), false));
	ASSERT_TRUE(strstr(r.detail[SNP_CHECK_VEK_BY_ASK], "salt") != NULL);

	s = (struct synth){.leaf_md = "SHA256"};
	ASSERT_EQ(synth_verify(&s, NULL, true, true, &r), -EKEYREJECTED);
	ASSERT_TRUE(only_failed("sha256", &r, BIT(SNP_CHECK_VEK_BY_ASK), false));
	ASSERT_TRUE(strstr(r.detail[SNP_CHECK_VEK_BY_ASK], "SHA-384") != NULL);

	s = (struct synth){.ask_not_ca = true};
	ASSERT_EQ(synth_verify(&s, NULL, true, true, &r), -EKEYREJECTED);
	ASSERT_TRUE(only_failed("not ca", &r, BIT(SNP_CHECK_ASK_BY_ARK), false));

	s = (struct synth){.ark_cn = "ARK-Milan2"};
	ASSERT_EQ(synth_verify(&s, NULL, true, true, &r), -EKEYREJECTED);
	ASSERT_TRUE(only_failed("ark cn", &r, BIT(SNP_CHECK_ASK_BY_ARK), false));

	s = (struct synth){.leaf_curve = "P-256"};
	ASSERT_EQ(synth_verify(&s, NULL, true, true, &r), -EKEYREJECTED);
	ASSERT_EQ(r.state[SNP_CHECK_VEK_BY_ASK], SNP_CHECK_FAIL);
	ASSERT_EQ(r.state[SNP_CHECK_REPORT_SIG], SNP_CHECK_FAIL);
}

TEST(verify_synth_leaf_contents)
{
	struct synth s = {.snp_spl_delta = 1};
	struct snp_verify_result r;

	ASSERT_EQ(synth_verify(&s, NULL, true, true, &r), -EKEYREJECTED);
	ASSERT_TRUE(only_failed("snp spl", &r, BIT(SNP_CHECK_TCB_MATCH), false));

	s = (struct synth){.omit_ucode = true};
	ASSERT_EQ(synth_verify(&s, NULL, true, true, &r), -EKEYREJECTED);
	ASSERT_TRUE(only_failed("no ucode", &r, BIT(SNP_CHECK_TCB_MATCH), false));
	ASSERT_STREQ(r.detail[SNP_CHECK_TCB_MATCH], "ucodeSPL extension missing");

	s = (struct synth){.hwid_other = true};
	ASSERT_EQ(synth_verify(&s, NULL, true, true, &r), -EKEYREJECTED);
	ASSERT_TRUE(only_failed("hwid", &r, BIT(SNP_CHECK_HWID_MATCH), false));

	s = (struct synth){.leaf_cn = "SEV-VLEK"};
	ASSERT_EQ(synth_verify(&s, NULL, true, true, &r), -EKEYREJECTED);
	ASSERT_TRUE(only_failed("cn", &r, BIT(SNP_CHECK_SIGNER_MATCH), false));

	s = (struct synth){.leaf_not_after_days = -1};
	ASSERT_EQ(synth_verify(&s, NULL, true, true, &r), -EKEYREJECTED);
	ASSERT_TRUE(only_failed("expired", &r, BIT(SNP_CHECK_CERT_VALIDITY), false));
}

/* ---- mutation: every bit, byte and length ---- */

struct mut {
	struct evidence e;
	struct snp_evidence ev;
	struct snp_verify_opts o;
	uint8_t *report, *vek; /* mutable copies */
};

static bool mut_init(struct mut *m)
{
	memset(m, 0, sizeof(*m));
	if (evidence_load(&m->e, "milan-v3-oak", "vcek.der", "ask.pem", "ark.pem") < 0)
		return false;
	m->ev = evidence_view(&m->e);
	m->o.at = T_2026_01_01;
	return true;
}

static void mut_done(struct mut *m)
{
	evidence_done(&m->e);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

TEST(verify_mutation_report_bits)
{
	struct mut m;
	struct snp_verify_result r;
	size_t accepted = 0, n = 0;
	double t0 = now_s();

	ASSERT_TRUE(mut_init(&m));
	ASSERT_EQ(snp_verify(&m.ev, &m.o, &r), 0); /* the unmodified report verifies */
	for (size_t bit = 0; bit < SNP_REPORT_SIGNED_LEN * 8; bit++, n++) {
		m.e.report[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		/* VERSION flips may make the report unparseable instead */
		if (snp_verify(&m.ev, &m.o, &r) != -EKEYREJECTED ||
		    (r.state[SNP_CHECK_REPORT_SIG] != SNP_CHECK_FAIL &&
		     r.state[SNP_CHECK_REPORT_PARSE] != SNP_CHECK_FAIL)) {
			if (accepted++ < 5)
				fprintf(stderr, "    bit %zu not rejected by report_sig\n", bit);
		}
		m.e.report[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	mut_done(&m);
	fprintf(stderr, "    %zu bit flips in %.2f s\n", n, now_s() - t0);
	ASSERT_EQ(n, 5376);
	ASSERT_EQ(accepted, 0);
}

TEST(verify_mutation_unsigned_tail)
{
	struct mut m;
	struct snp_verify_result r;
	size_t accepted = 0;

	ASSERT_TRUE(mut_init(&m));
	for (size_t i = SNP_R_SIG_RSVD; i < SNP_REPORT_SIZE; i++) {
		m.e.report[i] ^= 0xff;
		if (snp_verify(&m.ev, &m.o, &r) != -EKEYREJECTED ||
		    !only_failed("tail", &r, BIT(SNP_CHECK_MBZ_FIELDS), false))
			accepted++;
		m.e.report[i] ^= 0xff;
	}
	mut_done(&m);
	ASSERT_EQ(accepted, 0);
}

TEST(verify_mutation_signature_bytes)
{
	struct mut m;
	struct snp_verify_result r;
	size_t accepted = 0;

	ASSERT_TRUE(mut_init(&m));
	for (size_t i = SNP_R_SIG_R; i < SNP_R_SIG_RSVD; i++) {
		m.e.report[i] ^= 0xff;
		if (snp_verify(&m.ev, &m.o, &r) != -EKEYREJECTED ||
		    r.state[SNP_CHECK_REPORT_SIG] != SNP_CHECK_FAIL)
			accepted++;
		m.e.report[i] ^= 0xff;
	}
	mut_done(&m);
	ASSERT_EQ(accepted, 0);
}

TEST(verify_mutation_vcek_bytes)
{
	struct mut m;
	struct snp_verify_result r;
	size_t accepted = 0;

	ASSERT_TRUE(mut_init(&m));
	for (size_t i = 0; i < m.e.vek_len; i++) {
		m.e.vek[i] ^= 0xff;
		if (snp_verify(&m.ev, &m.o, &r) != -EKEYREJECTED) {
			if (accepted++ < 5)
				fprintf(stderr, "    VCEK byte %zu flip accepted\n", i);
		}
		m.e.vek[i] ^= 0xff;
	}
	mut_done(&m);
	ASSERT_EQ(accepted, 0);
}

TEST(verify_mutation_truncation)
{
	struct mut m;
	struct snp_verify_result r;
	size_t accepted = 0;
	uint8_t *longer;

	ASSERT_TRUE(mut_init(&m));
	for (size_t len = 0; len < SNP_REPORT_SIZE; len++) {
		m.ev.report_len = len;
		if (snp_verify(&m.ev, &m.o, &r) != -EKEYREJECTED ||
		    r.state[SNP_CHECK_REPORT_PARSE] != SNP_CHECK_FAIL)
			accepted++;
	}
	/* and one byte too many */
	longer = calloc(1, SNP_REPORT_SIZE + 1);
	ASSERT_TRUE(longer != NULL);
	memcpy(longer, m.e.report, SNP_REPORT_SIZE);
	m.ev.report = longer;
	m.ev.report_len = SNP_REPORT_SIZE + 1;
	int rl = snp_verify(&m.ev, &m.o, &r);
	free(longer);
	mut_done(&m);
	ASSERT_EQ(accepted, 0);
	ASSERT_EQ(rl, -EKEYREJECTED);
	ASSERT_EQ(r.state[SNP_CHECK_REPORT_PARSE], SNP_CHECK_FAIL);
}
