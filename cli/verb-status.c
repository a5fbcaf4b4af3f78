/* SPDX-License-Identifier: Apache-2.0 */
/* vhsmctl status: the daemon, its device and the last attestation. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

#include "client.h"
#include "json.h"
#include "vhsmctl.h"

static void fmt_status_attestation(json_object *o)
{
	json_object *a, *f;
	char t[32];

	if (json_member(o, NULL, "attestation", json_type_object, &a, NULL, 0) < 0)
		return;
	if (!cli_jbool(a, "done")) {
		printf("attestation: not yet run\n");
		return;
	}
	printf("attestation: %s at %s\n", cli_jbool(a, "passed") ? "PASSED" : "FAILED",
	       cli_fmt_time(cli_jint(a, "time"), t, sizeof(t)));
	/* Each failed check or rule with the value seen and the value required. */
	if (json_member(a, NULL, "findings", json_type_array, &f, NULL, 0) == 0 &&
	    json_object_array_length(f) > 0)
		for (size_t i = 0; i < json_object_array_length(f); i++) {
			json_object *e = json_object_array_get_idx(f, i);
			printf("  fail  %-28s %s\n", cli_jstr(e, "check"), cli_jstr(e, "detail"));
		}
	else if (!cli_jbool(a, "passed"))
		printf("  failing: %s %s\n", cli_jstr(a, "failures"), cli_jstr(a, "error"));
	if (cli_jstr(a, "product")[0])
		printf("  %s, measurement %.24s..., reported TCB %s\n", cli_jstr(a, "product"),
		       cli_jstr(a, "measurement"), cli_jstr(a, "reported_tcb"));
	if (cli_jstr(a, "collateral")[0])
		printf("  certificates: %s\n", cli_esc(cli_jstr(a, "collateral")));
}

static void fmt_status(json_object *o)
{
	json_object *a, *d;
	int64_t keks;

	printf("vhsmd %s, device %s%s%s\n", cli_jstr(o, "version"), cli_jstr(o, "device"),
	       cli_jbool(o, "simulated") ? " (SIMULATED: not AMD hardware)" : "",
	       cli_jbool(o, "locked_out") ? " (LOCKED OUT: VMPCK disabled, reboot the VM)" : "");
	printf("state dir %s, ", cli_jstr(o, "state_dir"));
	if (json_member_int64(o, NULL, "keks", INT64_MIN, INT64_MAX, &keks, NULL, 0) == 0)
		printf("%" PRId64 " KEKs, ", keks); /* administrators only */
	printf("%" PRId64 " requests served\n", cli_jint(o, "requests"));
	if (cli_jbool(o, "policy_valid"))
		printf("policy %s (sha256 %.16s...)\n", cli_jstr(o, "policy"),
		       cli_jstr(o, "policy_digest"));
	else
		printf("policy INVALID: %s\n  nothing is released until the file is fixed "
		       "(vhsmctl policy check; systemctl reload vhsmd)\n", cli_jstr(o, "policy_error"));
	if (cli_jint(o, "store_rollbacks"))
		printf("STORE ROLLBACK: %" PRId64 " sealed file(s) refused as rolled back or replaced "
		       "(see the journal)\n", cli_jint(o, "store_rollbacks"));
	if (json_member(o, NULL, "audit", json_type_object, &a, NULL, 0) == 0)
		printf("audit log: %" PRId64 " of %" PRId64 " bytes, records %" PRId64 "..%" PRId64
		       "%s%s; durability %s, synced to %" PRId64 "\n", cli_jint(a, "bytes"),
		       cli_jint(a, "budget"), cli_jint(a, "first_seq"), cli_jint(a, "seq"),
		       !cli_jbool(a, "open") ? ", NOT OPEN (no audit key yet)"
		       : cli_jbool(a, "keyed") ? ", keyed" : ", UNKEYED",
		       cli_jbool(a, "alert") ? " (ALERT: near the budget, oldest segments are pruned)"
					    : "",
		       cli_esc(cli_jstr(a, "durability")), cli_jint(a, "durable_seq"));
	fmt_status_attestation(o);
	if (json_member(o, NULL, "platform", json_type_object, &a, NULL, 0) == 0) {
		printf("platform: %s; %s\n", cli_esc(cli_jstr(a, "report_path")),
		       cli_esc(cli_jstr(a, "protection")));
		cli_print_vtpm_ak(a, "vTPM AK (SHA-256): ");
	}
	if (json_member(o, NULL, "damaged_keks", json_type_array, &d, NULL, 0) == 0)
		for (size_t i = 0; i < json_object_array_length(d); i++)
			printf("DAMAGED KEK %s: %s\n", cli_jstr(json_object_array_get_idx(d, i), "name"),
			       cli_jstr(json_object_array_get_idx(d, i), "error"));
}

/* The gate passes: a valid policy and a passing attestation (exit 1 otherwise). */
static bool status_gate_open(json_object *o)
{
	json_object *a;

	return cli_jbool(o, "policy_valid") &&
	       json_member(o, NULL, "attestation", json_type_object, &a, NULL, 0) == 0 &&
	       cli_jbool(a, "passed");
}

int verb_status(int argc, char **argv)
{
	struct client_reply rep;
	int r = cli_simple_opts(argc, argv, "status [--json]");

	if (r)
		return r < 0 ? EXIT_OK : r;
	if (!cli_args_count(argc, 0, 0))
		return EXIT_USAGE;
	r = cli_call_status("status", &rep);
	if (r != EXIT_OK)
		return r;
	json_object *o = client_parse_json(&rep);
	if (arg_json || !o)
		client_print_json(&rep);
	else
		fmt_status(o);
	cli_json_result_printed = arg_json; /* a closed gate is in the printed status */
	r = status_gate_open(o) ? EXIT_OK : EXIT_REJECTED;
	json_object_put(o);
	client_reply_done(&rep);
	return r;
}
