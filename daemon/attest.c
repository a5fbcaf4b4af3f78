/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The attestation gate. A report is requested through the device layer (extended report, so
 * the host's certificates come with it; the VCEK may also come from --certs-dir), verified
 * with the same verifier vhsmctl offers to customers, and evaluated against the policy.
 */
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attest-state.h"
#include "attest-vtpm.h"
#include "attest.h"
#include "collateral.h"
#include "amd-cert.h"
#include "audit.h"
#include "certtable.h"
#include "limits.h"
#include "log.h"
#include "policy-file.h"

#define ATTEST_RETRY_USEC (2ULL * 1000000ULL)

static uint64_t now_usec(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000ULL;
}

static int report_request(struct manager *m, const uint8_t *nonce, size_t nonce_len,
			  uint8_t report[static SNP_REPORT_SIZE], uint8_t **ret_certs,
			  size_t *ret_certs_len, struct snp_status *st)
{
	uint8_t data[64];
	unsigned int dlen = 0;
	int r;

	/* REPORT_DATA binds the caller's nonce: SHA-512 fills the 64 bytes exactly. */
	if (!EVP_Digest(nonce, nonce_len, data, &dlen, EVP_sha512(), NULL) || dlen != 64)
		return vhsm_log_openssl(-EIO, "SHA-512");
	m->n_reports++;
	/* At the VMPL this guest runs at (an SVSM guest at VMPL 2): the firmware refuses a more
	 * privileged one, and the policy's "vmpl" rule then checks the report's. */
	r = snp_dev_get_ext_report(m->dev, data, snp_dev_running_vmpl(m->dev), report, ret_certs,
				   ret_certs_len, st);
	if (r < 0)
		vhsm_log_debug("report request failed: %s (status 0x%x fw 0x%x vmm 0x%x)",
			       strerror(-r), st->msg_status, st->fw_error, st->vmm_error);
	return r;
}

/* Verifies report + certificate table (+ configured extra roots) and evaluates the policy. */
static void attest_evaluate(struct manager *m, const uint8_t *report, const uint8_t *certs,
			    size_t certs_len, struct attest_state *a)
{
	struct certtable t = {};
	struct snp_verify_result vr;
	struct snp_policy_pins pins;
	const struct certtable_entry *vek, *ask, *ark;
	_cleanup_(collateral_done) struct collateral cached = {};

	if (certtable_parse(certs, certs_len, &t) < 0) {
		attest_add_finding(a, "certificate_table",
				   "the host's certificate table is malformed");
		return;
	}
	/* The report names the key that signed it; a host may offer both a VCEK and a VLEK. */
	amd_cert_pick_from_table(&t, snp_report_raw_signing_key(report, SNP_REPORT_SIZE), &vek, &ask,
				 &ark);
	struct snp_evidence ev = {
		.report = report, .report_len = SNP_REPORT_SIZE,
		.vek = vek ? vek->data : NULL, .vek_len = vek ? vek->len : 0,
		.ask = ask ? ask->data : NULL, .ask_len = ask ? ask->len : 0,
		.ark = ark ? ark->data : NULL, .ark_len = ark ? ark->len : 0,
	};
	/* What the host's table lacks, and the ARK's CRL, come from the collateral cache. */
	collateral_complete_evidence(m->collateral_dir, report, &ev, &cached, a->collateral,
			       sizeof(a->collateral));
	if (!ev.vek) {
		attest_add_finding(a, "no_vcek", "no VCEK or VLEK for the report's signing key in "
				   "the host's certificate table or the collateral cache (vhsmctl "
				   "collateral fetch)");
		return;
	}
	snp_policy_get_pins(m->policy, &pins);
	const struct snp_verify_opts vo = {
		.trust_roots = (const uint8_t *const *)m->trust_roots,
		.trust_root_lens = m->trust_root_lens,
		.n_trust_roots = m->n_trust_roots,
		.crl = cached.crl, .crl_len = cached.crl_len,
		.require_crl = pins.require_crl,
	};
	int r = snp_verify(&ev, &vo, &vr);
	for (int c = 0; c < _SNP_CHECK_MAX; c++)
		if (vr.state[c] == SNP_CHECK_FAIL)
			attest_add_finding(a, snp_check_name(c), vr.detail[c]);
	if (vr.report_parsed)
		attest_apply_policy(m, &vr.report, vr.product, a);
	a->ok = r == 0 && a->n_findings == 0 && vr.report_parsed;
}

/* Without a valid policy there is nothing to evaluate a report against: refuse, and say why. */
static int attest_no_policy(struct manager *m, struct attest_state *a)
{
	snprintf(a->error, sizeof(a->error), "policy file invalid: %s", m->policy_error);
	attest_add_finding(a, "policy", a->error);
	a->no_policy = true;
	m->attest = *a;
	struct audit_record rec = {
		.event = "attestation", .result = -EKEYREJECTED, .reason = a->error,
	};
	(void)audit_log(m->audit, &rec);
	return -EKEYREJECTED;
}

/* The gate on SNP: an extended report for a random nonce from the device, verified. */
static int attest_snp(struct manager *m, struct attest_state *a)
{
	uint8_t nonce[32], report[SNP_REPORT_SIZE] = {};
	_cleanup_free_ uint8_t *certs = NULL;
	struct snp_status st = {};
	size_t certs_len = 0;
	uint8_t want[64];
	unsigned int wl = 0;
	int r;

	snprintf(a->source, sizeof(a->source), "snp-report");
	if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
		snprintf(a->error, sizeof(a->error), "random number generator failed");
		attest_add_finding(a, "device", a->error);
		return vhsm_log_openssl(-EIO, "RAND_bytes");
	}
	r = report_request(m, nonce, sizeof(nonce), report, &certs, &certs_len, &st);
	if (r < 0) {
		attest_describe_device_error(m, "report request failed", r, &st, a->error,
					     sizeof(a->error));
		attest_add_finding(a, "device", a->error);
		return r;
	}
	attest_evaluate(m, report, certs, certs_len, a);
	/* The report must answer our nonce, or it may be a replayed or swapped one. */
	if (!EVP_Digest(nonce, sizeof(nonce), want, &wl, EVP_sha512(), NULL) || wl != 64 ||
	    CRYPTO_memcmp(want, report + SNP_R_REPORT_DATA, 64) != 0) {
		a->ok = false;
		attest_add_finding(a, "report_data",
				   "REPORT_DATA does not answer this request's nonce");
	}
	return 0;
}

int attest_now(struct manager *m)
{
	struct attest_state a = { .done = true, .product = _SNP_PRODUCT_INVALID };
	int r;

	a.at_usec = now_usec(CLOCK_REALTIME);
	a.mono_usec = now_usec(CLOCK_MONOTONIC);
	a.request_seq = m->request_seq;
	a.seq = m->attest.seq + 1;
	if (!m->policy)
		return attest_no_policy(m, &a);
	r = m->root ? attest_vtpm(m, &a) : attest_snp(m, &a);
	m->attest = a;
	struct audit_record rec = {
		.event = "attestation",
		.result = a.ok ? 0 : -EKEYREJECTED,
		.reason = a.ok ? NULL : a.error[0] ? a.error : a.failures,
	};
	(void)audit_log(m->audit, &rec);
	if (r < 0 && r != -EKEYREJECTED)
		return r;
	return a.ok ? 0 : -EKEYREJECTED;
}

/* Whether the last attestation counts as fresh for "each use": made during this request, or
 * no older than m->attest_fresh_usec. One attestation thus serves every KEK of a request. */
static bool attest_fresh(const struct manager *m, uint64_t age)
{
	return m->attest.done && ((m->request_seq != 0 && m->attest.request_seq == m->request_seq) ||
				  age <= m->attest_fresh_usec);
}

int attest_require(struct manager *m, bool fresh, char *why, size_t whylen)
{
	uint64_t now, age;
	int r;

	/* An edited policy file counts from the next request on, a broken one refuses it. */
	(void)policy_file_refresh(m);
	if (!m->policy) {
		snprintf(why, whylen, "policy file invalid: %s", m->policy_error);
		return -EKEYREJECTED;
	}
	now = now_usec(CLOCK_MONOTONIC);
	age = now - m->attest.mono_usec;

	/* A failed attestation is retried at most every ATTEST_RETRY_USEC: every attempt is a
	 * guest request, and flooding the host can end in throttling timeouts that disable the
	 * VMPCK for good (SNP-ABI "Driver behaviour"). A fresh one, for KEKs whose policy
	 * demands one for each use, is charged to the caller's and the global report budgets
	 * (limits.h), as ATTEST_REPORT is. */
	bool retry = !m->attest.ok && age >= ATTEST_RETRY_USEC;
	bool need_fresh = fresh && !attest_fresh(m, age);
	if (need_fresh && m->request_peer && m->limits) {
		r = limits_take_report(m->limits, m->request_peer, now, why, whylen);
		if (r < 0)
			return r;
	}
	if (need_fresh || !m->attest.done || retry || age >= m->attest_interval_usec) {
		r = attest_now(m);
		if (r < 0 && r != -EKEYREJECTED) {
			snprintf(why, whylen, "attestation failed: %s", m->attest.error);
			return r;
		}
	}
	if (!m->attest.ok) {
		/* A device failure names its cause, not only the "device" check. */
		snprintf(why, whylen, "attestation failed: %s", m->attest.error[0] ?
			 m->attest.error : m->attest.failures);
		return -EKEYREJECTED;
	}
	return 0;
}
