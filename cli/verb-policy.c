/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsmctl policy check | show: the attestation policy file checked offline (before it is
 * installed or reloaded), and the policy vhsmd has in force with its source.
 */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "fileio.h"
#include "json-cleanup.h"
#include "json.h"
#include "policy.h"
#include "vhsmctl.h"

static void print_json(json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* One check result, human or --json; the exit status is the caller's. */
static void check_report(const char *file, const struct snp_policy *p, const char *err)
{
	_cleanup_(json_object_putp) json_object *o = json_object_new_object();
	json_object *eff = NULL;
	uint8_t d[32];
	_cleanup_free_ char *hex = NULL;

	if (p) {
		snp_policy_digest(p, d);
		hex = cli_hex(d, sizeof(d));
		if (snp_policy_to_json(p, &eff) < 0)
			eff = NULL;
	}
	if (!arg_json) {
		if (!p) {
			cli_error("policy %s: %s", file, err);
			return;
		}
		printf("policy %s: valid (sha256 %s)\neffective policy (defaults filled in):\n",
		       file, hex ? hex : "?");
		print_json(eff);
		json_object_put(eff);
		return;
	}
	json_object_object_add(o, "file", json_object_new_string(file));
	json_object_object_add(o, "valid", json_object_new_boolean(p != NULL));
	json_object_object_add(o, "error", p ? NULL : json_object_new_string(err));
	json_object_object_add(o, "digest", hex ? json_object_new_string(hex) : NULL);
	json_object_object_add(o, "policy", eff);
	print_json(o);
	cli_json_result_printed = true; /* the result says why, also when invalid */
}

int verb_policy_check(int argc, char **argv)
{
	_cleanup_(snp_policy_freep) struct snp_policy *p = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	char err[POLICY_ERR_MAX + 64] = "";
	size_t len;
	static const char what[] =
		"Parses an attestation policy file as vhsmd does and prints the\n"
		"effective policy (defaults filled in) and its digest. Exit 0 when\n"
		"valid, 1 when invalid (the error names the member), 3 when the\n"
		"file cannot be read.\n";
	int r = cli_simple_opts_what(argc, argv, "policy check [--json] FILE", what);

	if (r)
		return r < 0 ? EXIT_OK : r;
	if (argc - optind != 1) {
		cli_error("policy check: expected one FILE, got %d", argc - optind);
		return EXIT_USAGE;
	}
	const char *file = argv[optind];
	r = fileio_read_all(file, POLICY_MAX_SIZE, &buf, &len);
	if (r == -EMSGSIZE)
		snprintf(err, sizeof(err), "larger than the limit of %u bytes", POLICY_MAX_SIZE);
	else if (r < 0)
		snprintf(err, sizeof(err), "cannot read: %s", strerror(-r));
	else
		r = snp_policy_parse((const char *)buf, len, &p, err, sizeof(err));
	check_report(file, r < 0 ? NULL : p, err[0] ? err : strerror(-r));
	if (r < 0)
		return r == -EBADMSG || r == -EMSGSIZE ? EXIT_REJECTED : EXIT_ERROR;
	return EXIT_OK;
}

/* A string member as the daemon sent it (policy show prints it unescaped), "" when absent. */
static const char *member_raw(json_object *o, const char *k)
{
	const char *s;

	return json_member_string(o, NULL, k, 0, &s, NULL, NULL, 0) == 0 ? s : "";
}

static void show_text(json_object *o)
{
	json_object *eff = NULL;
	const char *src = member_raw(o, "policy_source"), *file = member_raw(o, "policy_file");

	if (!cli_jbool(o, "policy_valid")) {
		printf("policy file %s is INVALID: nothing is released\n", file);
		if (json_member_present(o, "policy_error"))
			printf("error: %s\n", member_raw(o, "policy_error"));
		return;
	}
	if (strcmp(src, "file") == 0)
		printf("policy in force: file %s\n", file);
	else
		printf("policy in force: %s (%s does not exist)\n", src, file);
	if (json_member_present(o, "policy_digest"))
		printf("sha256: %s\n", member_raw(o, "policy_digest"));
	if (json_member(o, NULL, "policy_effective", json_type_object, &eff, NULL, 0) == 0)
		print_json(eff);
}

int verb_policy_show(int argc, char **argv)
{
	static const char *const keys[] = { "policy_file", "policy_source", "policy_valid",
					    "policy_error", "policy_digest", "policy_effective" };
	struct client_reply rep;
	static const char what[] =
		"Prints the attestation policy vhsmd has in force and where it came\n"
		"from (the file, or the built-in default when the file is absent).\n"
		"Exit 1 when the daemon's policy file is invalid.\n";
	int r = cli_simple_opts_what(argc, argv, "policy show [--json]", what);

	if (r)
		return r < 0 ? EXIT_OK : r;
	if (argc != optind) {
		cli_error("policy show: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	r = cli_call_status("policy show", &rep);
	if (r != EXIT_OK)
		return r;
	_cleanup_(json_object_putp) json_object *o = client_parse_json(&rep);
	client_reply_done(&rep);
	if (!json_member_present(o, "policy_valid")) {
		cli_error("policy show: the daemon did not report its policy");
		return EXIT_ERROR;
	}
	_cleanup_(json_object_putp) json_object *out = json_object_new_object();
	for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
		json_object *v;
		if (json_member(o, NULL, keys[i], json_type_null, &v, NULL, 0) == 0)
			json_object_object_add(out, keys[i] + strlen("policy_"), json_object_get(v));
	}
	if (arg_json) {
		print_json(out);
		cli_json_result_printed = true;
	} else
		show_text(o);
	return cli_jbool(o, "policy_valid") ? EXIT_OK : EXIT_REJECTED;
}
