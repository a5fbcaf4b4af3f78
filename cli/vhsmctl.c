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

#include "ct.h"
#include "escape.h"
#include "log.h"
#include "vhsmctl.h"
#include "wire-client.h"

#ifndef VHSM_VERSION
#define VHSM_VERSION "0"
#endif

const char *arg_socket; /* --socket, else $VHSM_SOCKET, else the default */
bool arg_json;
bool arg_debug;

void cli_error(const char *fmt, ...)
{
	char msg[TEXT_ESCAPE_MAX];
	va_list ap;

	/* Messages quote daemon replies, file names and certificate fields: escape them all. */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
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
	char *e;

	if (s[0] == '@') {
		errno = 0;
		long long v = strtoll(s + 1, &e, 10);
		if (errno || e == s + 1 || *e || v <= 0)
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

/* The one verb table: each noun's rows together, in the order of --help. */
static const struct verb verbs[] = {
	{ "status", NULL, verb_status, "daemon, device and attestation status" },
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
	{ "kek", "volumes", verb_kek_volumes, "LUKS2 volumes enrolled with a KEK" },
	{ "kek", "export-exchange-key", verb_kek_export_exchange_key,
	  "attested RSA exchange key for a BYOK import" },
	{ "kek", "import", verb_kek_import, "import a KEK from a BYOK file" },
	{ "kek", "backup", verb_kek_backup, "escrow an exportable KEK to the customer's RSA key" },
	{ "dek", "create", verb_dek_create, "generate a DEK, stored wrapped under a KEK" },
	{ "dek", "list", verb_dek_list, "list DEKs and their keys in the kernel keyring" },
	{ "dek", "load", verb_dek_load, "put a DEK into the kernel keyring (logon vhsm:NAME)" },
	{ "dek", "drop", verb_dek_drop, "revoke a DEK's keys (--delete: soft-delete the DEK)" },
	{ "dek", "recover", verb_dek_recover, "undo dek drop --delete (within the retention)" },
	{ "dek", "purge", verb_dek_purge, "remove a deleted DEK for good" },
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
	{ "attestation", "verify", verb_attestation_verify,
	  "verify a report, its AMD chain and a policy" },
	{ "attestation", "show", verb_attestation_show, "decode a report" },
	{ "attestation", "report", verb_attestation_report, "fresh report from vhsmd for a nonce" },
	{ "policy", "check", verb_policy_check, "check a policy file offline, print it in effect" },
	{ "policy", "show", verb_policy_show, "the daemon's policy in force and its source" },
};

static void help(void)
{
	printf("Usage: vhsmctl [--socket PATH] [--json] [--debug] VERB ...\n\n"
	       "Manage and verify the vhsm virtual HSM of an SEV-SNP confidential VM.\n\n"
	       "Verbs:\n");
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
		const struct verb *v = &verbs[i];
		printf("  %-11s %-8s %s\n", v->group, v->name ? v->name : "", v->summary);
	}
	printf("\nGlobal options:\n"
	       "  --socket PATH  vhsmd socket (default $VHSM_SOCKET, else /run/vhsm/vhsmd.sock)\n"
	       "  --json         machine-readable output\n"
	       "  --debug        debug messages on stderr\n"
	       "  -h, --help     this help; VERB --help for a verb's options\n"
	       "  --version      print the version\n\n"
	       "Exit status: 0 success, 1 refused (verification/policy/permission),\n"
	       "2 usage error, 3 other error. See vhsmctl(1).\n");
}

static const struct verb *find_verb(const char *group, const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
		const struct verb *v = &verbs[i];
		if (strcmp(v->group, group) != 0)
			continue;
		if (!v->name || (name && strcmp(v->name, name) == 0))
			return v;
	}
	return NULL;
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
	char label[64];
	int c;

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
	v = find_verb(argv[optind], optind + 1 < argc ? argv[optind + 1] : NULL);
	if (!v) {
		cli_error("unknown verb '%s%s%s' (see vhsmctl --help)", argv[optind],
			  optind + 1 < argc ? " " : "", optind + 1 < argc ? argv[optind + 1] : "");
		return EXIT_USAGE;
	}
	snprintf(label, sizeof(label), "%s%s%s", v->group, v->name ? " " : "",
		 v->name ? v->name : "");
	/* The verb sees its own arguments; argv[0] names it for messages. */
	if (v->name)
		optind++;
	argv[optind] = label;
	argc -= optind;
	argv += optind;
	optind = 0; /* a fresh getopt scan for the verb's own options */
	return v->run(argc, argv);
}
