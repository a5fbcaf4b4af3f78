/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsmctl: the administrator's and customer's command line. Global options, verb dispatch
 * and small shared helpers; each verb family lives in verb-*.c.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ct.h"
#include "escape.h"
#include "json-cleanup.h"
#include "log.h"
#include "parse-util.h"
#include "vhsmctl.h"
#include "wire-client.h"

#ifndef VHSM_VERSION
#define VHSM_VERSION "0"
#endif

const char *arg_socket; /* --socket, else $VHSM_SOCKET, else the default */
bool arg_json;
bool arg_debug;
const char *arg_verb = "vhsmctl";
bool cli_json_result_printed;

/* The first error said, for the --json error object. */
static char first_error[TEXT_ESCAPE_MAX];

void cli_error(const char *fmt, ...)
{
	char msg[TEXT_ESCAPE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!first_error[0])
		memcpy(first_error, msg, sizeof(first_error));
	/* Messages quote daemon replies, file names and certificate fields: escape them all. */
	fprintf(stderr, "vhsmctl: %s\n", ESCAPED(msg));
}

const char *cli_esc(const char *s)
{
	static char ring[8][TEXT_ESCAPE_MAX];
	static unsigned next;

	return text_escape(s, ring[next++ % 8], TEXT_ESCAPE_MAX);
}

int cli_fail(int r, const char *what)
{
	cli_error("%s: %s", what, strerror(-r));
	return EXIT_ERROR;
}

int cli_parse_time(const char *s, time_t *ret)
{
	struct tm tm = {};
	const char *end;

	if (s[0] == '@') {
		uint64_t v;
		if (parse_uint64(s + 1, 1, INT64_MAX, &v) < 0)
			return -EINVAL;
		*ret = (time_t)v;
		return 0;
	}
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, "%Y-%m-%d", &tm);
		if (!end || *end)
			return -EINVAL;
	}
	/* 0 would mean "now" to the verifier: refuse the epoch itself and anything before. */
	time_t t = timegm(&tm);
	if (t <= 0)
		return -EINVAL;
	*ret = t;
	return 0;
}

char *cli_hex(const uint8_t *p, size_t n)
{
	char *s = malloc(2 * n + 1);

	if (s)
		ct_hex_encode(s, p, n);
	return s;
}

static void debug_sink(void *userdata, const char *msg)
{
	(void)userdata;
	fprintf(stderr, "debug: %s\n", msg);
}

/*
 * The one verb table: each noun's rows together, in the order of --help. A row without run
 * describes its noun; a row without name is a noun that is its own verb.
 */
static const struct verb verbs[] = {
	{ "status", NULL, verb_status, "daemon, device and attestation status" },
	{ "platform", NULL, verb_platform, "what this CVM offers and what sealing protects here" },
	{ "kek", NULL, NULL, "key-encryption keys sealed to this CVM" },
	{ "kek", "create", verb_kek_create, "generate and seal a new KEK" },
	{ "kek", "list", verb_kek_list, "list KEKs" },
	{ "kek", "show", verb_kek_show, "show one KEK" },
	{ "kek", "rotate", verb_kek_rotate, "add a new version (old versions still unwrap)" },
	{ "kek", "reseal", verb_kek_reseal, "re-seal to the current TCB (after a firmware update)" },
	{ "kek", "disable", verb_kek_disable, "stop using a KEK (--shred: revoke and suspend)" },
	{ "kek", "enable", verb_kek_enable, "re-enable a disabled KEK" },
	{ "kek", "delete", verb_kek_delete, "soft-delete (recoverable for the retention period)" },
	{ "kek", "recover", verb_kek_recover, "undo a soft delete" },
	{ "kek", "purge", verb_kek_purge, "destroy a deleted KEK for good" },
	{ "kek", "acl", verb_kek_acl, "set who may use a KEK" },
	{ "kek", "volumes", verb_kek_volumes, "volumes that depend on a KEK (what --shred would touch)" },
	{ "kek", "export-exchange-key", verb_kek_export_exchange_key,
	  "attested RSA exchange key for a BYOK import" },
	{ "kek", "import", verb_kek_import, "import a KEK from a BYOK file" },
	{ "kek", "backup", verb_kek_backup, "escrow an exportable KEK to the customer's RSA key" },
	{ "dek", NULL, NULL, "data-encryption keys for the kernel keyring" },
	{ "dek", "create", verb_dek_create, "generate a DEK, stored wrapped under a KEK" },
	{ "dek", "list", verb_dek_list, "list DEKs and their keys in the kernel keyring" },
	{ "dek", "load", verb_dek_load, "put a DEK into the kernel keyring (logon vhsm:NAME)" },
	{ "dek", "drop", verb_dek_drop, "revoke a DEK's keys (--delete: soft-delete the DEK)" },
	{ "dek", "recover", verb_dek_recover, "undo dek drop --delete (within the retention)" },
	{ "dek", "purge", verb_dek_purge, "remove a deleted DEK for good" },
	{ "key", NULL, NULL, "key pairs held by vhsmd (PKCS#11 keys)" },
	{ "key", "create", verb_key_create, "generate a sealed, non-extractable key pair" },
	{ "key", "list", verb_key_list, "list key pairs" },
	{ "key", "show", verb_key_show, "show one key pair (--cert-out, --pubkey-out)" },
	{ "key", "sign", verb_key_sign, "sign stdin with a key pair" },
	{ "key", "decrypt", verb_key_decrypt, "decrypt stdin with an RSA key pair" },
	{ "key", "disable", verb_key_disable, "stop using a key pair" },
	{ "key", "enable", verb_key_enable, "re-enable a disabled key pair" },
	{ "key", "delete", verb_key_delete, "soft-delete (recoverable for the retention period)" },
	{ "key", "recover", verb_key_recover, "undo a soft delete" },
	{ "key", "purge", verb_key_purge, "destroy a deleted key pair for good" },
	{ "key", "acl", verb_key_acl, "set who may use a key pair" },
	{ "key", "cert", verb_key_cert, "store a certificate for a key pair" },
	{ "key", "attest", verb_key_attest, "fresh report binding the public key" },
	{ "luks", NULL, NULL, "LUKS2 volumes unlocked through vhsmd" },
	{ "luks", "enroll", verb_luks_enroll, "add a vhsm keyslot and token to a LUKS2 volume" },
	{ "luks", "list", verb_luks_list, "list a volume's vhsm tokens" },
	{ "luks", "remove", verb_luks_remove, "remove vhsm tokens and their keyslots" },
	{ "luks", "rewrap", verb_luks_rewrap, "move tokens to the KEK's newest version" },
	{ "luks", "unlock", verb_luks_unlock, "unlock a volume through vhsmd (no plugin needed)" },
	{ "wrap", NULL, verb_wrap, "wrap a key from stdin under a KEK" },
	{ "unwrap", NULL, verb_unwrap, "unwrap a wrapped key from stdin" },
	{ "unwrap-batch", NULL, verb_unwrap_batch, "unwrap many wrapped keys in one request" },
	{ "rewrap", NULL, verb_rewrap, "move a wrapped key to the newest KEK version" },
	{ "audit", NULL, verb_audit, "verify the audit log" },
	{ "attestation", NULL, NULL, "SEV-SNP attestation reports" },
	{ "attestation", "verify", verb_attestation_verify,
	  "verify a report, its AMD chain and a policy" },
	{ "attestation", "show", verb_attestation_show, "decode a report" },
	{ "attestation", "report", verb_attestation_report, "fresh report from vhsmd for a nonce" },
	{ "attestation", "hcl", verb_attestation_hcl,
	  "verify the Azure paravisor's HCL report in the vTPM" },
	{ "policy", NULL, NULL, "the attestation policy: checked offline, or the one in force" },
	{ "policy", "check", verb_policy_check, "check a policy file offline, print it in effect" },
	{ "policy", "show", verb_policy_show, "the daemon's policy in force and its source" },
	{ "collateral", NULL, NULL, "cached AMD certificates and CRLs (no network at boot)" },
	{ "collateral", "list", verb_collateral_list, "list the cached certificates and CRLs" },
	{ "collateral", "import", verb_collateral_import,
	  "cache certificates, CRLs or THIM JSON from files" },
	{ "collateral", "fetch", verb_collateral_fetch, "fetch this CVM's collateral (AMD KDS, THIM)" },
	{ "fleet", NULL, NULL, "this CVM's attested identity for the fleet's KMIP key manager" },
	{ "fleet", "enroll", verb_fleet_enroll, "CSR + report binding the sealed fleet key" },
	{ "fleet", "install-cert", verb_fleet_install_cert, "install the fleet CA's certificate" },
	{ "fleet", "show", verb_fleet_show, "the fleet identity and its certificate" },
	{ "fleet", "check", verb_fleet_check, "mutual TLS and a KMIP Locate with the identity" },
	{ "fleet", "sync", verb_fleet_sync, "sync KEKs with the key manager now and wait" },
	{ "fleet", "status", verb_fleet_status, "the last syncs: result, KEKs, next attempt" },
	{ "fleet", "shred", verb_fleet_shred, "suspend the volumes of compromised fleet KEKs (root)" },
	{ "fleet", "network", verb_fleet_network,
	  "the vhsmd.service drop-in that lets vhsmd reach the key managers" },
};

static void help(void)
{
	printf("Usage: vhsmctl [--socket PATH] [--json] [--debug] NOUN [VERB] ...\n\n"
	       "Manage and verify the vhsm virtual HSM of an SEV-SNP confidential VM.\n\n"
	       "Commands:\n");
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
		if (!verbs[i].name)
			printf("  %-13s %s\n", verbs[i].group, verbs[i].summary);
	printf("  %-13s %s\n", "help [NOUN]", "this help, or a noun's verbs");
	printf("\nGlobal options:\n"
	       "  --socket PATH  vhsmd socket (default $VHSM_SOCKET, else /run/vhsm/vhsmd.sock)\n"
	       "  --json         machine-readable output, also for errors\n"
	       "  --debug        debug messages on stderr\n"
	       "  -h, --help     this help\n"
	       "  --version      print the version\n\n"
	       "vhsmctl NOUN --help lists a noun's verbs, vhsmctl NOUN VERB --help a verb's options.\n"
	       "Exit status: 0 success, 1 refused (verification/policy/permission),\n"
	       "2 usage error, 3 other error. See vhsmctl(1).\n");
}

/* The row describing a noun (or the noun's own verb); NULL for an unknown noun. */
static const struct verb *find_noun(const char *noun)
{
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
		if (!verbs[i].name && strcmp(verbs[i].group, noun) == 0)
			return &verbs[i];
	return NULL;
}

static void noun_help(FILE *f, const struct verb *n)
{
	fprintf(f, "Usage: vhsmctl %s VERB [OPTIONS] ...\n\n%s.\n\nVerbs:\n", n->group,
		n->summary);
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
		if (verbs[i].name && strcmp(verbs[i].group, n->group) == 0)
			fprintf(f, "  %-20s %s\n", verbs[i].name, verbs[i].summary);
	fprintf(f, "\nvhsmctl %s VERB --help shows a verb's options.\n", n->group);
}

static const struct verb *find_verb(const char *noun, const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
		if (verbs[i].name && strcmp(verbs[i].group, noun) == 0 &&
		    strcmp(verbs[i].name, name) == 0)
			return &verbs[i];
	return NULL;
}

static bool is_help(const char *a)
{
	return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

/*
 * Finds what argv[0..argc) names: a one-word verb, a noun's verb, or help. Returns the verb
 * with *ret_consumed the words it took, or NULL with *ret_exit the status to exit with (after
 * printing help or saying why).
 */
static const struct verb *resolve(int argc, char **argv, int *ret_consumed, int *ret_exit)
{
	const struct verb *n, *v;

	if (strcmp(argv[0], "help") == 0) {
		if (argc < 2) {
			help();
			*ret_exit = EXIT_OK;
			return NULL;
		}
		n = find_noun(argv[1]);
		if (n && n->run && argc == 2) {
			*ret_consumed = 2;
			return n; /* the verb's own --help follows */
		}
		if (n && argc == 2) {
			noun_help(stdout, n);
			*ret_exit = EXIT_OK;
			return NULL;
		}
		if (n && argc == 3 && (v = find_verb(argv[1], argv[2]))) {
			*ret_consumed = 3;
			return v;
		}
		cli_error("help: unknown command '%s%s%s' (see vhsmctl --help)", argv[1],
			  argc > 2 ? " " : "", argc > 2 ? argv[2] : "");
		*ret_exit = EXIT_USAGE;
		return NULL;
	}
	n = find_noun(argv[0]);
	if (!n) {
		cli_error("unknown command '%s' (see vhsmctl --help)", argv[0]);
		*ret_exit = EXIT_USAGE;
		return NULL;
	}
	if (n->run) {
		*ret_consumed = 1;
		return n;
	}
	if (argc < 2 || is_help(argv[1])) {
		noun_help(argc < 2 ? stderr : stdout, n);
		if (argc < 2)
			cli_error("%s: a verb is needed (see vhsmctl %s --help)", n->group, n->group);
		*ret_exit = argc < 2 ? EXIT_USAGE : EXIT_OK;
		return NULL;
	}
	v = find_verb(argv[0], argv[1]);
	if (!v) {
		cli_error("%s: unknown verb '%s' (see vhsmctl %s --help)", n->group, argv[1],
			  n->group);
		*ret_exit = EXIT_USAGE;
		return NULL;
	}
	*ret_consumed = 2;
	return v;
}

/* With --json, a failure is also an object on stdout: {"error": MESSAGE, "exit_status": N}. */
static void json_error(int status)
{
	_cleanup_(json_object_putp) json_object *o = json_object_new_object();

	if (!o)
		return;
	json_object_object_add(o, "error", json_object_new_string(
		first_error[0] ? first_error : "invalid option or missing option value"));
	json_object_object_add(o, "exit_status", json_object_new_int(status));
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* Runs the verb on its own arguments, with the hint and --json error object of a failure. */
static int run_verb(const struct verb *v, int argc, char **argv)
{
	static char label[64];
	bool help_asked = false;
	int r;

	snprintf(label, sizeof(label), "%s%s%s", v->group, v->name ? " " : "",
		 v->name ? v->name : "");
	arg_verb = label;
	/* getopt names argv[0] in its messages: "vhsmctl: unrecognized option ..." */
	static char prog[] = "vhsmctl";
	argv[0] = prog;
	/* --json is every verb's option: taken here, up to "--", so each verb need not list it. */
	int n = 1;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			while (i < argc)
				argv[n++] = argv[i++];
			break;
		}
		if (strcmp(argv[i], "--json") == 0) {
			arg_json = true;
			continue;
		}
		help_asked |= is_help(argv[i]);
		argv[n++] = argv[i];
	}
	argv[n] = NULL;
	argc = n;
	optind = 0; /* a fresh getopt scan for the verb's own options */
	r = v->run(argc, argv);
	if (r == EXIT_USAGE && !help_asked) {
		/* getopt said what was wrong, but not to cli_error() */
		if (!first_error[0])
			snprintf(first_error, sizeof(first_error),
				 "%s: invalid option or missing option value", label);
		fprintf(stderr, "vhsmctl: see vhsmctl %s --help\n", label);
	}
	if (r != EXIT_OK && arg_json && !cli_json_result_printed)
		json_error(r);
	return r;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{}
	};
	const struct verb *v;
	int c, r, consumed;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) >= 0) {
		switch (c) {
		case 's':
			arg_socket = optarg;
			break;
		case 'j':
			arg_json = true;
			break;
		case 'd':
			arg_debug = true;
			break;
		case 'h':
			help();
			return EXIT_OK;
		case 'V':
			printf("vhsmctl %s\n", VHSM_VERSION);
			return EXIT_OK;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		help();
		return EXIT_USAGE;
	}
	if (!arg_socket)
		arg_socket = vhsm_client_socket_default();
	if (arg_debug)
		vhsm_log_set_sink(debug_sink, NULL);
	v = resolve(argc - optind, argv + optind, &consumed, &r);
	if (!v) {
		if (r != EXIT_OK && arg_json)
			json_error(r);
		return r;
	}
	/* The verb sees its own arguments from argv[1]; "help NOUN VERB" means VERB --help. */
	if (strcmp(argv[optind], "help") == 0) {
		static char help_opt[] = "--help";
		char *hv[] = { argv[0], help_opt, NULL };
		return run_verb(v, 2, hv);
	}
	optind += consumed - 1;
	return run_verb(v, argc - optind, argv + optind);
}
