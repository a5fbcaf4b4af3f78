/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsmctl platform: what this confidential VM offers (report path, VMPL, signer, masked chip
 * ID, vTPM and its Azure HCL report, where certificates come from) and what the sealing
 * protects against here, as vhsmd sees it (lib/platform, lib/tpm2-hcl; docs/platforms.md).
 */
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "json-cleanup.h"
#include "json.h"
#include "vhsmctl.h"

/* A JSON member as text: the string, the integer, yes/no, or "unknown" for null/absent. */
static const char *member_text(json_object *o, const char *k, char *buf, size_t len)
{
	const char *s;
	int64_t x;
	bool b;

	if (json_member_bool(o, NULL, k, &b, NULL, 0) == 0)
		return b ? "yes" : "no";
	if (json_member_int64(o, NULL, k, INT64_MIN, INT64_MAX, &x, NULL, 0) == 0)
		snprintf(buf, len, "%" PRId64, x);
	else if (json_member_string(o, NULL, k, 0, &s, NULL, NULL, 0) == 0)
		snprintf(buf, len, "%s", s);
	else
		return "unknown";
	return cli_esc(buf);
}

/* The Azure HCL report in the vTPM, as vhsmd found it (null: no vTPM configured). */
static void print_hcl(json_object *p)
{
	char a[256], b[256], c[256];
	json_object *h;

	if (json_member(p, NULL, "hcl_report", json_type_object, &h, NULL, 0) < 0) {
		printf("HCL report:        not probed (no vTPM configured in vhsmd)\n");
		return;
	}
	const char *state = member_text(h, "state", a, sizeof(a));
	if (strcmp(state, "present") == 0)
		printf("HCL report:        present, claims bound, tpm-persisted: %s (verify it: "
		       "vhsmctl attestation hcl)\n", member_text(h, "tpm_persisted", b, sizeof(b)));
	else
		printf("HCL report:        %s (%s)\n", state, member_text(h, "detail", c, sizeof(c)));
}

static void print_platform(json_object *p)
{
	char a[256], b[256], c[256];

	printf("report path:       %s\n", member_text(p, "report_path", a, sizeof(a)));
	printf("VMPL:              %s (report), %s (sysfs)\n", member_text(p, "vmpl", a, sizeof(a)),
	       member_text(p, "sysfs_vmpl", b, sizeof(b)));
	printf("signer:            %s, CHIP_ID masked: %s, chip key masked: %s\n",
	       member_text(p, "signer", a, sizeof(a)), member_text(p, "chip_id_masked", b, sizeof(b)),
	       member_text(p, "chip_key_masked", c, sizeof(c)));
	printf("vTPM:              %s (/dev/tpmrm0)\n", member_text(p, "vtpm", a, sizeof(a)));
	print_hcl(p);
	cli_print_vtpm_ak(p, "vTPM AK (SHA-256): ");
	printf("certificates:      %s\n", member_text(p, "certificates", a, sizeof(a)));
	printf("measurement owner: %s (policy)\n", member_text(p, "measurement_owner", a, sizeof(a)));
	printf("protection:        %s\n", member_text(p, "protection", a, sizeof(a)));
}

int verb_platform(int argc, char **argv)
{
	struct client_reply rep;
	json_object *p;
	int r = cli_simple_opts(argc, argv, "platform [--json]");

	if (r)
		return r < 0 ? EXIT_OK : r;
	if (!cli_args_count(argc, 0, 0))
		return EXIT_USAGE;
	r = cli_call_status("platform", &rep);
	if (r != EXIT_OK)
		return r;
	_cleanup_(json_object_putp) json_object *o = client_parse_json(&rep);
	client_reply_done(&rep);
	if (json_member(o, NULL, "platform", json_type_object, &p, NULL, 0) < 0) {
		cli_error("platform: vhsmd's status has no platform description");
		return EXIT_ERROR;
	}
	if (arg_json)
		cli_print_json_object(p);
	else
		print_platform(p);
	return EXIT_OK;
}
