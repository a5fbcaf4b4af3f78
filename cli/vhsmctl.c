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

static const struct {
	const struct verb *v;
	const size_t *n;
} verb_tables[] = {
	{ verbs_attestation, &verbs_attestation_n },
	{ verbs_daemon, &verbs_daemon_n },
	{ verbs_byok, &verbs_byok_n },
	{ verbs_dek, &verbs_dek_n },
	{ verbs_dek_deleted, &verbs_dek_deleted_n },
	{ verbs_luks, &verbs_luks_n },
	{ verbs_policy, &verbs_policy_n },
};

static void help(void)
{
	printf("Usage: vhsmctl [--socket PATH] [--json] [--debug] VERB ...\n\n"
	       "Manage and verify the vhsm virtual HSM of an SEV-SNP confidential VM.\n\n"
	       "Verbs:\n");
	for (size_t t = 0; t < ELEMENTSOF(verb_tables); t++)
		for (size_t i = 0; i < *verb_tables[t].n; i++) {
			const struct verb *v = &verb_tables[t].v[i];
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
	for (size_t t = 0; t < ELEMENTSOF(verb_tables); t++)
		for (size_t i = 0; i < *verb_tables[t].n; i++) {
			const struct verb *v = &verb_tables[t].v[i];
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
