/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsm-byok's verification of a CVM's evidence (see verify.h): the AMD chain and report
 * (lib/snp-verify), the customer's policy (lib/policy), and what vhsm-byok adds before it
 * gives a key away: the policy pins the guest's code, the report comes from vhsmd's VMPL,
 * the chain ends in an AMD root, REPORT_DATA binds the exchange key. Every result is an
 * out_check() line (byok/out.c).
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "amd-cert.h"
#include "certtable.h"
#include "collateral.h"
#include "ct.h"
#include "fileio.h"
#include "out.h"
#include "report-evidence.h"
#include "verify.h"

#define err(...) out_err(__VA_ARGS__)

static const char *state_name(enum snp_check_state s)
{
	return s == SNP_CHECK_PASS ? "pass" : s == SNP_CHECK_FAIL ? "fail"
		: s == SNP_CHECK_NOT_APPLICABLE ? "n/a" : "not-run";
}

void verified_done(struct verified *v)
{
	byok_bundle_done(&v->b);
	EVP_PKEY_free(v->pub);
	v->pub = NULL;
}

const char *verify_iso_time(uint64_t t, char buf[static 32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t > INT64_MAX || !gmtime_r(&tt, &tm) || !strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, 32, "@%llu", (unsigned long long)t);
	return buf;
}

int verify_load_policy(const char *path, struct snp_policy **ret)
{
	_cleanup_free_ uint8_t *buf = NULL;
	char e[POLICY_ERR_MAX] = "";
	size_t len;
	int r;

	r = fileio_read_all(path, POLICY_MAX_SIZE, &buf, &len);
	if (r < 0) {
		err("policy %s: %s", path, strerror(-r));
		return EXIT_ERROR;
	}
	r = snp_policy_parse((const char *)buf, len, ret, e, sizeof(e));
	if (r < 0) {
		err("policy %s: %s", path, e[0] ? e : strerror(-r));
		return EXIT_ERROR;
	}
	return EXIT_OK;
}

/*
 * Point 1 of what wrap guarantees: the policy pins the code of the guest that gets the key.
 * Without a pinned measurement (or ID/author key digest) any SNP guest, running anyone's
 * code, can bind its own key; where the provider owns the measurement, pinning it pins only
 * the provider's firmware. wrap/rewrap refuse unless --accept-any-guest; verify warns.
 * HCL evidence (hcl) always carries the provider's paravisor's measurement, whatever the
 * policy's measurement_owner says: pinning it refuses another paravisor, the guest's code is
 * not measured there, and the VM is named by the vTPM AK pin (check_vtpm_ak).
 */
static bool verify_pinning(const struct byok_verify_opts *o, const struct snp_policy *pol,
			   bool hcl)
{
	struct snp_policy_pins p;
	const char *why;

	snp_policy_get_pins(pol, &p);
	if (hcl && p.measurement) {
		out_check("pass", "pinning", "the policy pins the paravisor's measurement; the "
			  "guest's code is not measured on this platform: the vTPM AK pin names the VM");
		return true;
	}
	if (hcl)
		why = "the policy pins no paravisor measurement (measurements): any paravisor's "
		      "HCL evidence would pass";
	else if (p.measurement_owner == SNP_MEASUREMENT_OWNER_PROVIDER)
		why = "measurement_owner is \"provider\": MEASUREMENT and the ID/author keys pin "
		      "the provider's firmware, not the code that runs in it";
	else if (!p.measurement && !p.id_key && !p.author_key)
		why = "the policy pins no guest code (no measurements, id_key_digests or "
		      "author_key_digests): any SNP guest running anyone's code would pass";
	else {
		out_check("pass", "pinning", "the policy pins the guest's code (%s%s%s)",
			  p.measurement ? "measurement " : "", p.id_key ? "id_key " : "",
			  p.author_key ? "author_key" : "");
		return true;
	}
	if (!o->gives_key) {
		out_check("warn", "pinning", "%s", why);
		out_warn("%s; wrap refuses this policy without --accept-any-guest", why);
		return true;
	}
	if (!o->accept_any_guest) {
		out_check("fail", "pinning", "%s", why);
		err("refused: %s (--accept-any-guest gives the key to such a guest anyway)", why);
		return false;
	}
	out_check("warn", "pinning", "%s", why);
	out_warn("--accept-any-guest: giving the key away although %s", why);
	return true;
}

/*
 * The VMPL of the report: vhsmd's, 0 or the policy's "vmpl" on an SVSM. An HCL report is the
 * paravisor's, made at its VMPL (0) on the guest's behalf.
 */
static bool check_vmpl(const struct snp_policy *pol, const struct snp_verify_result *vr, bool hcl)
{
	struct snp_policy_pins p;
	uint32_t want;
	bool c;

	snp_policy_get_pins(pol, &p);
	want = p.has_vmpl ? p.vmpl : 0;
	c = vr->report_parsed && vr->report.vmpl == want;
	out_check(c ? "pass" : "fail", "vmpl", "report from VMPL %u, %s VMPL %u%s",
		  vr->report_parsed ? vr->report.vmpl : 0,
		  hcl ? "the paravisor reports at" : "vhsmd runs at", want,
		  p.has_vmpl ? " (policy \"vmpl\")" : hcl ? " (default)"
			     : " (default; set \"vmpl\" for an SVSM)");
	return c;
}

/* A chain ending in a --trust-root is a simulated or test CVM: giving it a key needs a flag. */
static bool check_test_root(const struct byok_verify_opts *o, const struct snp_verify_result *vr,
			    const char *prefix)
{
	if (!vr->trusted_by_extra_root)
		return true;
	out_check("note", "trust_root", "%schain ends in a --trust-root, NOT an AMD root "
		  "(simulated or test CVM)", prefix);
	if (!o->gives_key) {
		out_warn("%sthe chain ends in a --trust-root, NOT an AMD root", prefix);
		return true;
	}
	if (!o->allow_test_root) {
		out_check("fail", "trust_root", "refused without --allow-test-root");
		err("refused: %sthe chain ends in a --trust-root, not an AMD root; "
		    "--allow-test-root wraps for a simulated or test CVM", prefix);
		return false;
	}
	out_warn("--allow-test-root: %sthe chain ends in a --trust-root, NOT an AMD root: this "
		 "key goes to a simulated or test CVM", prefix);
	return true;
}

/*
 * The report member opened (lib/report-evidence): an SNP report, or an HCL report whose
 * layout, claims binding and user data are printed as checks. False (and a failed check)
 * when it does not open.
 */
static bool open_report(const uint8_t *report, size_t report_len, const char *prefix,
			struct report_evidence *re)
{
	struct report_evidence_error e = {};
	char name[48];
	bool hcl = report_len >= 4 && memcmp(report, "HCLA", 4) == 0;
	int r = report_evidence_open(report, report_len, re, &e);

	/* Every HCL step before the failed one (all of them on success) passed. */
	for (int s = REPORT_EVIDENCE_HCL_PARSE; hcl && s < _REPORT_EVIDENCE_STEP_MAX; s++) {
		if (r < 0 && (int)e.step == s)
			break;
		snprintf(name, sizeof(name), "%s%s", prefix, report_evidence_step_name(s));
		out_check("pass", name, "%s", s == REPORT_EVIDENCE_HCL_PARSE ? "an Azure HCL report"
			  : s == REPORT_EVIDENCE_CLAIMS ? "the claims name a vTPM AK"
			  : s == REPORT_EVIDENCE_BINDING ? "REPORT_DATA is the hash of the claims"
			  : "the claims' user-data is the evidence's binding");
	}
	if (r >= 0)
		return true;
	snprintf(name, sizeof(name), "%s%s", prefix, report_evidence_step_name(e.step));
	out_check("fail", name, "%s", e.detail);
	return false;
}

/*
 * An HCL report's SNP report is the paravisor's: its MEASUREMENT is the provider's code, the
 * same for every CVM with that paravisor. What ties the evidence to one VM is the vTPM's AK in
 * the claims, which the policy must pin ("vtpm_ak_digests"); refused without, whatever the
 * command (verify says the same as wrap: the evidence binds no particular VM).
 */
static bool check_vtpm_ak(const struct snp_policy *pol, const struct report_evidence *re,
			  const char *prefix)
{
	struct snp_policy_pins p;
	char hex[65], name[48];

	ct_hex_encode(hex, re->ak_sha256, sizeof(re->ak_sha256));
	snprintf(name, sizeof(name), "%sparavisor", prefix);
	out_check("note", name, "an HCL report: MEASUREMENT is the provider's paravisor, not the "
		  "guest OS; the vTPM AK in the claims identifies the VM");
	snprintf(name, sizeof(name), "%svtpm_instance", prefix);
	out_check("note", name, "vTPM AK sha256 %s vmUniqueId %s", hex,
		  re->claims.vm_unique_id[0] ? re->claims.vm_unique_id : "(none)");
	snprintf(name, sizeof(name), "%svtpm_ak", prefix);
	snp_policy_get_pins(pol, &p);
	if (snp_policy_allows_vtpm_ak(pol, re->ak_sha256)) {
		out_check("pass", name, "the policy's vtpm_ak_digests lists this VM's vTPM AK");
		return true;
	}
	if (p.vtpm_ak) {
		out_check("fail", name, "the claims' vTPM AK (sha256 %s) is not in the policy's "
			  "vtpm_ak_digests: evidence of another VM", hex);
		err("refused: %sthe HCL evidence comes from a VM whose vTPM AK (sha256 %s) the "
		    "policy's vtpm_ak_digests does not list", prefix, hex);
		return false;
	}
	out_check("fail", name, "the policy pins no vTPM AK (vtpm_ak_digests): any CVM with this "
		  "paravisor could make this evidence");
	err("refused: %sHCL evidence binds no particular VM unless the policy pins its vTPM "
	    "attestation key: verify sha256 %s out of band (inside the CVM, vhsmctl platform shows "
	    "it as vtpm_ak_sha256, vhsmctl attestation hcl as ak_sha256) and add it to the "
	    "policy's \"vtpm_ak_digests\"", prefix, hex);
	return false;
}

/* The AMD chain (from the certificate table, completed by the collateral cache) of one SNP
 * report, every verifier check printed. */
static bool check_chain(const struct byok_verify_opts *o, const uint8_t *report,
			const uint8_t *certs, size_t certs_len, const char *prefix,
			struct snp_verify_result *vr)
{
	struct certtable t = {};
	const struct certtable_entry *vek = NULL, *ask = NULL, *ark = NULL;
	char name[48];
	bool ok;

	if (!certs || certtable_parse(certs, certs_len, &t) < 0) {
		out_check("fail", "certificates", "%sno valid certificate table", prefix);
		return false;
	}
	amd_cert_pick_from_table(&t, snp_report_raw_signing_key(report, SNP_REPORT_SIZE), &vek,
				 &ask, &ark);
	struct snp_evidence ev = {
		.report = report, .report_len = SNP_REPORT_SIZE,
		.vek = vek ? vek->data : NULL, .vek_len = vek ? vek->len : 0,
		.ask = ask ? ask->data : NULL, .ask_len = ask ? ask->len : 0,
		.ark = ark ? ark->data : NULL, .ark_len = ark ? ark->len : 0,
	};
	/* The customer's own cache (vhsm-byok fetch-collateral) supplies what the bundle lacks
	 * and the ARK's CRL, unless --crl names one. */
	_cleanup_(collateral_done) struct collateral cached = {};
	if (o->collateral_dir) {
		char summary[192];
		collateral_complete_evidence(o->collateral_dir, report, &ev, &cached, summary,
					     sizeof(summary));
		out_say("%scollateral: %s", prefix, summary);
	}
	if (!ev.vek) {
		out_check("fail", "certificates", "%sno VCEK/VLEK in the certificate table%s", prefix,
			  o->collateral_dir ? " or the collateral cache" : "");
		return false;
	}
	const struct snp_verify_opts vo = {
		.trust_roots = o->trust_roots,
		.trust_root_lens = o->trust_root_lens,
		.n_trust_roots = o->n_trust_roots,
		.crl = o->crl ? o->crl : cached.crl,
		.crl_len = o->crl ? o->crl_len : cached.crl_len,
		.require_crl = o->require_crl,
	};
	ok = snp_verify(&ev, &vo, vr) == 0;
	for (int c = 0; c < _SNP_CHECK_MAX; c++) {
		snprintf(name, sizeof(name), "%s%s", prefix, snp_check_name(c));
		out_check(state_name(vr->state[c]), name, "%s", vr->detail[c]);
	}
	return ok;
}

bool verify_evidence(const struct byok_verify_opts *o, const uint8_t *report, size_t report_len,
		     const uint8_t *certs, size_t certs_len, const struct snp_policy *pol,
		     const char *prefix, struct verify_result *ret)
{
	struct snp_verify_result *vr = &ret->vr;
	struct snp_policy_result pr = {};
	struct report_evidence re;
	bool ok;

	*ret = (struct verify_result){};
	if (!open_report(report, report_len, prefix, &re))
		return false;
	ret->pinned = verify_pinning(o, pol, re.hcl);
	ok = ret->pinned;
	ok &= check_chain(o, re.snp_report, certs, certs_len, prefix, vr);
	ok &= check_test_root(o, vr, prefix);
	if (!vr->report_parsed)
		return false;
	if (snp_policy_eval(pol, &vr->report, vr->product, &pr) < 0)
		ok = false;
	for (size_t i = 0; i < pr.n; i++)
		out_check("fail", pr.v[i].rule, "%s", pr.v[i].detail);
	uint8_t d[32];
	char hex[65];
	snp_policy_digest(pol, d);
	ct_hex_encode(hex, d, sizeof(d));
	out_check(pr.n ? "fail" : "pass", "policy", "%s%s (sha256 %.16s...)", prefix,
		  pr.n ? "violated" : "satisfied", hex);
	ok &= check_vmpl(pol, vr, re.hcl);
	if (re.hcl)
		ok &= check_vtpm_ak(pol, &re, prefix);
	ret->opened = true;
	ret->hcl = re.hcl;
	memcpy(ret->bound, re.bound, sizeof(ret->bound));
	memcpy(ret->ak_sha256, re.ak_sha256, sizeof(ret->ak_sha256));
	snprintf(ret->vm_unique_id, sizeof(ret->vm_unique_id), "%s", re.claims.vm_unique_id);
	return ok;
}

bool verify_binds(const struct verify_result *r, const uint8_t want[static 64])
{
	return r->opened && r->vr.report_parsed && CRYPTO_memcmp(want, r->bound, 64) == 0;
}

/*
 * What identifies this CVM instance, for pinning on first contact: chip_id and host_data
 * (chip_ids, host_data); for HCL evidence also the vTPM AK digest (vtpm_ak_digests) and the
 * VM's vmUniqueId.
 */
static void report_instance(const struct verify_result *res)
{
	const struct snp_report *r = &res->vr.report;
	char chip[2 * sizeof(r->chip_id) + 1], host[2 * sizeof(r->host_data) + 1], ak[65];
	json_object *o = json_object_new_object();

	ct_hex_encode(chip, r->chip_id, sizeof(r->chip_id));
	ct_hex_encode(host, r->host_data, sizeof(r->host_data));
	ct_hex_encode(ak, res->ak_sha256, sizeof(res->ak_sha256));
	out_check("note", "instance", "chip_id %.32s... host_data %s", chip, host);
	if (o) {
		json_object_object_add(o, "chip_id", json_object_new_string(chip));
		json_object_object_add(o, "host_data", json_object_new_string(host));
		json_object_object_add(o, "evidence", json_object_new_string(res->hcl ? "hcl"
										      : "snp"));
		if (res->hcl) {
			json_object_object_add(o, "vtpm_ak_sha256", json_object_new_string(ak));
			json_object_object_add(o, "vm_unique_id",
					       json_object_new_string(res->vm_unique_id));
		}
	}
	out_set("instance", o);
}

/* The binding part: REPORT_DATA, kid, key type and size, lifetime, nonce, KEK name. */
static bool verify_binding(const struct byok_verify_opts *o, const struct byok_bundle *b,
			   const struct verify_result *res, EVP_PKEY *pub)
{
	char kid[BYOK_KID_MAX + 1] = "", t1[32], t2[32];
	uint8_t want[64];
	uint64_t now = (uint64_t)time(NULL);
	bool ok = true, c;

	c = byok_report_data(b->spki, b->spki_len, b->nonce, b->expires, b->kek, want) == 0 &&
	    verify_binds(res, want);
	out_check(c ? "pass" : "fail", "report_data", "%s %s",
		  res->hcl ? "the HCL claims' user-data" : "REPORT_DATA",
		  c ? "binds the public key, nonce, expiry and KEK name"
		    : "does not bind this public key, nonce, expiry and KEK name");
	ok &= c;
	c = byok_kid_from_spki(b->spki, b->spki_len, kid) == 0 && strcmp(kid, b->kid) == 0;
	out_check(c ? "pass" : "fail", "kid", "%s%s", b->kid, c ? "" : " does not name this public key");
	ok &= c;
	c = pub && EVP_PKEY_get_bits(pub) == (int)BYOK_RSA_BITS;
	out_check(c ? "pass" : "fail", "key", "RSA-%d, import only", pub ? EVP_PKEY_get_bits(pub) : 0);
	ok &= c;
	c = b->created <= now + 300 && now < b->expires && b->expires > b->created;
	out_check(c ? "pass" : "fail", "lifetime", "created %s, expires %s (%s)",
		  verify_iso_time(b->created, t1), verify_iso_time(b->expires, t2),
		  now >= b->expires ? "EXPIRED" : b->created > now + 300 ? "created in the future"
					      : "valid");
	ok &= c;
	if (o->nonce) {
		uint8_t n[BYOK_NONCE_SIZE];
		c = ct_hex_decode(n, sizeof(n), o->nonce, strlen(o->nonce)) == 0 &&
		    CRYPTO_memcmp(n, b->nonce, sizeof(n)) == 0;
		out_check(c ? "pass" : "fail", "nonce",
			  c ? "matches --nonce" : "differs from --nonce (replayed bundle?)");
		ok &= c;
	}
	if (o->expect_name) {
		c = strcmp(o->expect_name, b->kek) == 0;
		out_check(c ? "pass" : "fail", "kek_name", "the exchange key imports KEK %s%s%s",
			  b->kek, c ? "" : ", not --expect-name ", c ? "" : o->expect_name);
		ok &= c;
	}
	return ok;
}

static void bundle_json(const struct byok_bundle *b)
{
	char t[32];
	json_object *o = json_object_new_object();

	if (o) {
		json_object_object_add(o, "kid", json_object_new_string(b->kid));
		json_object_object_add(o, "kek", json_object_new_string(b->kek));
		json_object_object_add(o, "created", json_object_new_string(verify_iso_time(b->created, t)));
		json_object_object_add(o, "expires", json_object_new_string(verify_iso_time(b->expires, t)));
	}
	out_set("bundle", o);
}

/* Loads and verifies the bundle. EXIT_OK with v filled, EXIT_REJECTED, or an error exit. */
int verify_bundle(const struct byok_verify_opts *o, struct verified *v)
{
	_cleanup_(snp_policy_freep) struct snp_policy *pol = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	struct verify_result res = {};
	char e[160] = "";
	size_t len;
	int r;

	if (!o->bundle || !o->policy) {
		err("--bundle/BUNDLE and --policy FILE are required");
		return EXIT_USAGE;
	}
	if (verify_load_policy(o->policy, &pol) != EXIT_OK)
		return EXIT_ERROR;
	r = fileio_read_all(o->bundle, BYOK_JSON_MAX, &buf, &len);
	if (r < 0) {
		err("%s: %s", o->bundle, r == -EMSGSIZE ? "file too large" : strerror(-r));
		return EXIT_ERROR;
	}
	out_say("bundle %s", o->bundle);
	r = byok_bundle_parse((const char *)buf, len, &v->b, e, sizeof(e));
	out_check(r >= 0 ? "pass" : "fail", "bundle_parse", "%s", r >= 0 ? "well-formed" : e);
	if (r < 0) {
		out_say("result: REJECTED");
		err("the bundle is malformed: nothing was wrapped");
		return EXIT_REJECTED;
	}
	out_say("exchange key %s for KEK %s", v->b.kid, v->b.kek);
	bundle_json(&v->b);
	if (byok_pubkey_load(v->b.spki, v->b.spki_len, &v->pub) < 0)
		v->pub = NULL; /* reported by the "key" check */
	bool ok = verify_evidence(o, v->b.report, v->b.report_len, v->b.certs, v->b.certs_len, pol, "",
			      &res);
	v->test_root = res.vr.trusted_by_extra_root;
	if (res.opened)
		report_instance(&res);
	ok &= verify_binding(o, &v->b, &res, v->pub);
	out_say("result: %s", ok ? "VERIFIED" : "REJECTED");
	if (!ok)
		err("the exchange key's evidence does not verify: nothing was wrapped");
	return ok ? EXIT_OK : EXIT_REJECTED;
}
