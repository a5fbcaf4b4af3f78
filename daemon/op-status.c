/* SPDX-License-Identifier: Apache-2.0 */
/* status, attestation report for a caller's nonce, audit log verification. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attest.h"
#include "platform.h"
#include "audit.h"
#include "ct.h"
#include "manifest.h"
#include "kek-file.h"
#include "limits.h"
#include "ops.h"
#include "policy-file.h"
#include "store.h"
#include "tpm2-hcl.h"

static void add_hex(json_object *o, const char *k, const uint8_t *p, size_t n)
{
	char buf[2 * 64 + 1];

	if (n > 64)
		return;
	ct_hex_encode(buf, p, n);
	json_object_object_add(o, k, json_object_new_string(buf));
}

static json_object *attest_json(const struct attest_state *a)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "done", json_object_new_boolean(a->done));
	json_object_object_add(o, "passed", json_object_new_boolean(a->ok));
	json_object_object_add(o, "time", json_object_new_int64((int64_t)(a->at_usec / 1000000)));
	json_object_object_add(o, "failures", json_object_new_string(a->failures));
	json_object_object_add(o, "error", json_object_new_string(a->error));
	json_object_object_add(o, "collateral", json_object_new_string(a->collateral));
	json_object_object_add(o, "source", json_object_new_string(a->source));
	json_object *f = json_object_new_array();
	for (size_t i = 0; f && i < a->n_findings; i++) {
		json_object *e = json_object_new_object();
		json_object_object_add(e, "check", json_object_new_string(a->findings[i].check));
		json_object_object_add(e, "detail", json_object_new_string(a->findings[i].detail));
		json_object_array_add(f, e);
	}
	json_object_object_add(o, "findings", f);
	if (a->report_valid) {
		struct snp_tcb t = {};
		char tcb[96];
		enum snp_product p = a->product >= 0 ? a->product : SNP_PRODUCT_MILAN;
		json_object_object_add(o, "product", json_object_new_string(
							     a->product >= 0 ? snp_product_to_string(p)
									     : "unknown"));
		add_hex(o, "measurement", a->report.measurement, sizeof(a->report.measurement));
		(void)snp_tcb_decode(a->report.reported_tcb, p, &t);
		if (p == SNP_PRODUCT_TURIN)
			snprintf(tcb, sizeof(tcb), "fmc=%u bl=%u tee=%u snp=%u ucode=%u", t.fmc,
				 t.bootloader, t.tee, t.snp, t.microcode);
		else
			snprintf(tcb, sizeof(tcb), "bl=%u tee=%u snp=%u ucode=%u", t.bootloader,
				 t.tee, t.snp, t.microcode);
		json_object_object_add(o, "reported_tcb", json_object_new_string(tcb));
		json_object_object_add(o, "debug", json_object_new_boolean(
							   a->report.policy & SNP_POLICY_DEBUG));
	}
	return o;
}

/* The Azure HCL report in the vTPM: null without a vTPM configured. */
static json_object *hcl_json(const char *tcti, const struct tpm2_hcl_probe *p)
{
	static const char *const persisted[] = {
		[HCL_TPM_PERSISTED_UNKNOWN] = "unknown",
		[HCL_TPM_PERSISTED_NO] = "no",
		[HCL_TPM_PERSISTED_YES] = "yes",
	};
	json_object *o;

	if (!tcti || !(o = json_object_new_object()))
		return NULL;
	json_object_object_add(o, "state", json_object_new_string(
						   tpm2_hcl_state_to_string(p->state)));
	json_object_object_add(o, "tpm_persisted", p->state == TPM2_HCL_PRESENT ?
				json_object_new_string(persisted[p->tpm_persisted]) : NULL);
	json_object_object_add(o, "detail", json_object_new_string(p->detail));
	return o;
}

/* What this CVM offers and what sealing protects against here (lib/platform). */
static json_object *platform_json(const struct manager *m)
{
	struct platform_facts f = { .simulated = snp_dev_is_simulated(m->dev),
				    .vtpm_root = m->root != NULL };
	struct snp_policy_pins pins = {};
	json_object *o = json_object_new_object();
	char sentence[512];
	static const uint8_t zero[64];

	platform_probe("/", &f);
	struct tpm2_hcl_probe hcl = { .state = TPM2_HCL_NO_TPM };
	if (m->tcti)
		tpm2_hcl_probe(m->tcti, &hcl);
	f.hcl_report = hcl.state == TPM2_HCL_PRESENT;
	/* The path vhsmd's device layer takes, not only what exists. */
	f.configfs_tsm = strcmp(snp_dev_report_path(m->dev), "configfs-tsm") == 0;
	if (m->policy)
		snp_policy_get_pins(m->policy, &pins);
	f.owner = pins.measurement_owner;
	if (m->attest.report_valid) {
		f.have_report = true;
		f.vmpl = m->attest.report.vmpl;
		f.vlek = snp_report_signing_key(&m->attest.report) == SNP_SIGNING_KEY_VLEK;
		f.chip_id_masked = memcmp(m->attest.report.chip_id, zero, sizeof(zero)) == 0;
	}
	if (!o)
		return NULL;
	json_object_object_add(o, "report_path", json_object_new_string(platform_report_path(&f)));
	json_object_object_add(o, "platform", json_object_new_string(m->root ? "vtpm" : "snp"));
	json_object_object_add(o, "sev_guest", json_object_new_boolean(f.sev_guest));
	json_object_object_add(o, "configfs_tsm", json_object_new_boolean(f.configfs_tsm));
	json_object_object_add(o, "vtpm", json_object_new_boolean(f.vtpm));
	json_object_object_add(o, "hcl_report", hcl_json(m->tcti, &hcl));
	/* On the vtpm platform evidence is an HCL report, which any CVM with the same paravisor
	 * can make: the customer's policy pins this VM's vTPM AK by this digest. */
	json_object_object_add(o, "vtpm_ak_sha256", m->root && hcl.state == TPM2_HCL_PRESENT ?
				json_object_new_string(hcl.ak_sha256) : NULL);
	json_object_object_add(o, "sysfs_vmpl", f.sysfs_vmpl >= 0 ?
				json_object_new_int64(f.sysfs_vmpl) : NULL);
	json_object_object_add(o, "vmpl", f.have_report ? json_object_new_int64(f.vmpl) : NULL);
	json_object_object_add(o, "signer", f.have_report ?
				json_object_new_string(f.vlek ? "vlek" : "vcek") : NULL);
	json_object_object_add(o, "chip_id_masked", f.have_report ?
				json_object_new_boolean(f.chip_id_masked) : NULL);
	json_object_object_add(o, "chip_key_masked", f.have_report ?
				json_object_new_boolean(m->attest.report.signer_info &
							SNP_SIGNER_MASK_CHIP_KEY) : NULL);
	json_object_object_add(o, "measurement_owner", json_object_new_string(
				f.owner == SNP_MEASUREMENT_OWNER_PROVIDER ? "provider" : "tenant"));
	json_object_object_add(o, "certificates", json_object_new_string(m->attest.collateral));
	json_object_object_add(o, "protection", json_object_new_string(
				platform_protection(&f, sentence, sizeof(sentence))));
	return o;
}

static json_object *audit_json(const struct audit *a)
{
	json_object *o = json_object_new_object();
	struct audit_usage u;

	audit_usage(a, &u);
	json_object_object_add(o, "bytes", json_object_new_int64((int64_t)u.bytes));
	json_object_object_add(o, "budget", json_object_new_int64((int64_t)u.budget));
	json_object_object_add(o, "max_age_days",
			       json_object_new_int64((int64_t)(u.max_age_sec / 86400u)));
	json_object_object_add(o, "first_seq", json_object_new_int64((int64_t)u.first_seq));
	json_object_object_add(o, "seq", json_object_new_int64((int64_t)u.seq));
	json_object_object_add(o, "alert", json_object_new_boolean(u.alert));
	json_object_object_add(o, "keyed", json_object_new_boolean(u.keyed));
	json_object_object_add(o, "open", json_object_new_boolean(audit_key_status(a) == 0));
	json_object_object_add(o, "kid", json_object_new_string(u.kid));
	json_object_object_add(o, "durability",
			       json_object_new_string(audit_durability_to_string(u.durability)));
	json_object_object_add(o, "durable_seq", json_object_new_int64((int64_t)u.durable_seq));
	return o;
}

/*
 * The policy in force and where it came from: "policy" is the file, or "(built-in default)"
 * when the default file does not exist; policy_error says why the file is invalid (then
 * nothing is released and policy_effective is null).
 */
static void add_policy(json_object *o, struct manager *m)
{
	json_object *eff = NULL;

	if (m->policy)
		add_hex(o, "policy_digest", m->policy_digest, sizeof(m->policy_digest));
	else
		json_object_object_add(o, "policy_digest", NULL);
	json_object_object_add(o, "policy", json_object_new_string(
						    m->policy_from_file || !m->policy ? m->policy_path
										: "(built-in default)"));
	json_object_object_add(o, "policy_file", json_object_new_string(m->policy_path));
	json_object_object_add(o, "policy_source", json_object_new_string(
							   !m->policy ? "none" : m->policy_from_file
										 ? "file"
										 : "built-in default"));
	json_object_object_add(o, "policy_valid", json_object_new_boolean(m->policy != NULL));
	json_object_object_add(o, "policy_error", json_object_new_string(m->policy_error));
	if (m->policy && snp_policy_to_json(m->policy, &eff) < 0)
		eff = NULL;
	json_object_object_add(o, "policy_effective", eff);
}

/*
 * KEKs whose sealed file is damaged, with what to do (administrators only: the names of
 * KEKs are not everyone's business). A KEK held in memory is compared with its file.
 */
static json_object *damaged_keks(struct manager *m, char **names)
{
	json_object *a = json_object_new_array();
	struct kek_meta meta;
	char why[1024];

	for (char **p = names; a && p && *p; p++) {
		int r = kek_file_verify(m, *p, why, sizeof(why));
		if (r >= 0 && store_read_meta(m, *p, &meta, NULL) >= 0)
			continue;
		if (r >= 0)
			snprintf(why, sizeof(why), "sealed file %s/kek/%s.sealed of KEK %s is "
				 "damaged: restore it from a backup or re-import the KEK (BYOK)",
				 m->state_dir, *p, *p);
		json_object *e = json_object_new_object();
		json_object_object_add(e, "name", json_object_new_string(*p));
		json_object_object_add(e, "in_memory", json_object_new_boolean(r < 0));
		json_object_object_add(e, "error", json_object_new_string(why));
		json_object_array_add(a, e);
	}
	return a;
}

int op_status(struct op_ctx *c)
{
	struct manager *m = c->m;
	json_object *o = json_object_new_object();
	char **names = NULL;
	size_t n = 0;

	if (!o)
		return -ENOMEM;
	/* Status shows the file as it is now: an edit is picked up here as on any request. */
	(void)policy_file_refresh(m);
	if (!m->attest.done)
		(void)attest_now(m);
	/* Administrators only: a count lets others probe for KEKs they cannot see. */
	if (c->peer->admin && store_list(m, &names) >= 0)
		for (char **p = names; *p; p++)
			n++;
	if (c->peer->admin)
		json_object_object_add(o, "damaged_keks", damaged_keks(m, names));
	strv_free(names);
	json_object_object_add(o, "version", json_object_new_string(VHSM_VERSION));
	json_object_object_add(o, "device", json_object_new_string(m->device_spec));
	json_object_object_add(o, "simulated", json_object_new_boolean(snp_dev_is_simulated(m->dev)));
	json_object_object_add(o, "locked_out", json_object_new_boolean(snp_dev_locked_out(m->dev)));
	json_object_object_add(o, "state_dir", json_object_new_string(m->state_dir));
	add_policy(o, m);
	json_object_object_add(o, "trust_roots", json_object_new_int64((int64_t)m->n_trust_roots));
	if (c->peer->admin)
		json_object_object_add(o, "keks", json_object_new_int64((int64_t)n));
	json_object_object_add(o, "requests", json_object_new_int64((int64_t)m->n_requests));
	/* Guest requests for reports, the ones the host throttles: for administrators. */
	if (c->peer->admin)
		json_object_object_add(o, "report_requests",
				       json_object_new_int64((int64_t)m->n_reports));
	json_object_object_add(o, "attestation", attest_json(&m->attest));
	json_object_object_add(o, "platform", platform_json(m));
	/* The audit log's size and sequence numbers count every operation: administrators only. */
	if (m->audit && c->peer->admin)
		json_object_object_add(o, "audit", audit_json(m->audit));
	/* Sealed files refused since start because the store manifest names another version. */
	json_object_object_add(o, "store_rollbacks",
			       json_object_new_int64(manifest_refusals(m->manifest)));
	vhsm_wire_add_str(c->reply, VHSM_TAG_JSON,
			  json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return 0;
}

int op_attest_report(struct op_ctx *c)
{
	const struct vhsm_wire_field *nonce = vhsm_wire_get(c->req, VHSM_TAG_NONCE);

	if (!nonce || nonce->len == 0 || nonce->len > 64)
		return op_fail(c, -EINVAL, "a nonce of 1..64 bytes is required");
	/* The report binds SHA-512(nonce), and vhsmd's own bindings are SHA-512 of messages
	 * starting with a "vhsm-" label, some short enough to be a nonce (a key attestation is
	 * 51 bytes, a fleet enrollment 62): that namespace is reserved to vhsmd. */
	if (nonce->len >= 5 && memcmp(nonce->value, "vhsm-", 5) == 0)
		return op_fail(c, -EINVAL, "a nonce starting with \"vhsm-\" is reserved for "
			       "vhsmd's own bindings (key attestation, fleet enrollment, BYOK)");
	/* Each report is a guest request, and the host throttles those: non-administrators
	 * draw from their own and the global budget (limits.h). */
	return op_reply_report(c, nonce->value, nonce->len, false);
}

int op_audit_verify(struct op_ctx *c)
{
	struct audit_verify_result v = {};
	char why[512] = "";
	json_object *o;
	int r;

	if (!c->m->audit)
		return op_fail(c, -EBADF, "the audit log is not open");
	r = audit_verify(c->m->audit, &v, why, sizeof(why));
	o = json_object_new_object();
	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "ok", json_object_new_boolean(r == 0));
	json_object_object_add(o, "records", json_object_new_int64((int64_t)v.records));
	json_object_object_add(o, "first_seq", json_object_new_int64((int64_t)v.first_seq));
	json_object_object_add(o, "pruned", json_object_new_boolean(v.pruned));
	json_object_object_add(o, "keyed_from", json_object_new_int64((int64_t)v.keyed_from));
	json_object_object_add(o, "reset_seq", json_object_new_int64((int64_t)v.reset_seq));
	json_object_object_add(o, "error", json_object_new_string(r == 0 ? "" : why));
	vhsm_wire_add_str(c->reply, VHSM_TAG_JSON,
			  json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	if (r < 0)
		return op_fail(c, r, "%s", why);
	return 0;
}
