/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsmctl fleet network [--install | --output FILE] [--json]: the vhsmd.service drop-in that
 * opens the network to the fleet's key managers and to nothing else. The shipped unit keeps
 * vhsmd off the network (PrivateNetwork=yes, RestrictAddressFamilies=AF_UNIX, IPAddressDeny=any),
 * which makes every fleet sync fail; the drop-in lifts the first two and allows exactly the
 * endpoints' addresses (IPAddressDeny=any stays). The endpoints are those of the configuration
 * vhsmd runs with (its fleet status). A host name is resolved here and its addresses listed,
 * with the resolvers of /etc/resolv.conf, since vhsmd resolves the name again at each sync.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "escape.h"
#include "fileio.h"
#include "fleet-status.h"
#include "json-cleanup.h"
#include "json.h"
#include "kmip-endpoint.h"
#include "macro.h"
#include "vhsmctl.h"
#include "vhsm/wire.h"

#define DROPIN_DIR "/etc/systemd/system/vhsmd.service.d"
#define DROPIN_PATH DROPIN_DIR "/50-vhsm-fleet-network.conf"
#define RESOLV_CONF "/etc/resolv.conf"
#define ALLOW_MAX 64
#define ENDPOINTS_MAX 16

struct allow {
	char addr[ALLOW_MAX][INET6_ADDRSTRLEN];
	size_t n;
	bool names; /* an endpoint is a host name: vhsmd needs the resolvers too */
};

static int allow_add(struct allow *a, const char *addr)
{
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->addr[i], addr) == 0)
			return 0;
	if (a->n == ALLOW_MAX)
		return -E2BIG;
	snprintf(a->addr[a->n++], sizeof(a->addr[0]), "%s", addr);
	return 0;
}

/* Adds host's addresses: itself when it is one, else what it resolves to now. */
static int allow_host(struct allow *a, const char *host, char *why, size_t whylen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST };
	struct addrinfo *res = NULL;
	char text[INET6_ADDRSTRLEN];
	int r;

	r = getaddrinfo(host, NULL, &hints, &res);
	if (r == EAI_NONAME) {
		a->names = true;
		hints.ai_flags = 0;
		r = getaddrinfo(host, NULL, &hints, &res);
	}
	if (r != 0) {
		snprintf(why, whylen, "%s does not resolve: %s", host, gai_strerror(r));
		return -EHOSTUNREACH;
	}
	for (struct addrinfo *ai = res; ai && r == 0; ai = ai->ai_next) {
		const void *in = ai->ai_family == AF_INET6
			? (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
			: (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;
		if (inet_ntop(ai->ai_family, in, text, sizeof(text)))
			r = allow_add(a, text);
	}
	freeaddrinfo(res);
	if (r < 0)
		snprintf(why, whylen, "more than %d addresses to allow", ALLOW_MAX);
	return r;
}

/* The "nameserver ADDRESS" lines of /etc/resolv.conf (resolv.conf(5)). */
static int allow_resolvers(struct allow *a, json_object *list, char *why, size_t whylen)
{
	FILE *f = fopen(RESOLV_CONF, "re");
	char line[512], addr[INET6_ADDRSTRLEN + 1];
	unsigned char buf[sizeof(struct in6_addr)];
	int r = 0;

	if (!f) {
		snprintf(why, whylen, "endpoints are host names, but %s: %s", RESOLV_CONF,
			 strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, " nameserver %46s", addr) != 1)
			continue;
		if (inet_pton(AF_INET, addr, buf) != 1 && inet_pton(AF_INET6, addr, buf) != 1)
			continue;
		r = allow_add(a, addr);
		if (r < 0) {
			snprintf(why, whylen, "more than %d addresses to allow", ALLOW_MAX);
			break;
		}
		json_object_array_add(list, json_object_new_string(addr));
	}
	fclose(f);
	return r;
}

/* The drop-in's text for the endpoints (JSON array of strings) into out (free()). */
static int dropin_text(json_object *eps, json_object *resolvers, char **ret, char *why,
		       size_t whylen)
{
	struct allow a = {};
	_cleanup_free_ char *text = NULL;
	size_t size = 0, n = json_object_array_length(eps);
	struct kmip_endpoint ep;
	FILE *f;
	int r;

	if (n == 0 || n > ENDPOINTS_MAX) {
		snprintf(why, whylen, "vhsmd's fleet status names %zu endpoints", n);
		return -EBADMSG;
	}
	for (size_t i = 0; i < n; i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(eps, i));
		if (!s || kmip_endpoint_parse(s, &ep) < 0) {
			snprintf(why, whylen, "vhsmd's fleet status has a bad endpoint");
			return -EBADMSG;
		}
		r = allow_host(&a, ep.host, why, whylen);
		if (r < 0)
			return r;
	}
	if (a.names) {
		r = allow_resolvers(&a, resolvers, why, whylen);
		if (r < 0)
			return r;
	}
	f = open_memstream(&text, &size);
	if (!f)
		return -ENOMEM;
	fprintf(f, "# Written by `vhsmctl fleet network`: vhsmd reaches the key managers of its\n"
		   "# fleet configuration (");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%s", i ? ", " : "",
			json_object_get_string(json_object_array_get_idx(eps, i)));
	fprintf(f, ")%s and nothing else: IPAddressDeny=any of vhsmd.service stays.\n",
		a.names ? " and the resolvers of " RESOLV_CONF : "");
	if (a.names)
		fprintf(f, "# Host names were resolved when this was written: run it again when\n"
			   "# their addresses change.\n");
	fprintf(f, "[Service]\nPrivateNetwork=no\nRestrictAddressFamilies=AF_UNIX AF_INET AF_INET6\n"
		   "IPAddressAllow=");
	for (size_t i = 0; i < a.n; i++)
		fprintf(f, "%s%s", i ? " " : "", a.addr[i]);
	fprintf(f, "\n");
	if (fclose(f) != 0)
		return -ENOMEM;
	*ret = TAKE_PTR(text);
	return 0;
}

static int write_dropin(const char *path, const char *text)
{
	if (strcmp(path, DROPIN_PATH) == 0 && mkdir(DROPIN_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	return fileio_write_atomic(path, text, strlen(text), 0644);
}

static void help(void)
{
	printf("Usage: vhsmctl fleet network [--install | --output FILE] [--json]\n\n"
	       "The vhsmd.service drop-in that lets vhsmd reach the key managers of its fleet\n"
	       "configuration and nothing else. The shipped unit keeps vhsmd off the network,\n"
	       "so fleet syncs fail until this drop-in is in place. Prints it; with --install\n"
	       "writes it to %s (root;\n"
	       "then: systemctl daemon-reload && systemctl restart vhsmd.service), with\n"
	       "--output to FILE. Host names are resolved now, and the resolvers of\n"
	       "%s allowed too: run it again when the endpoints or their\n"
	       "addresses change.\n", DROPIN_PATH, RESOLV_CONF);
}

int verb_fleet_network(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "install", no_argument, NULL, 'i' },
		{ "output", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	_cleanup_(json_object_putp) json_object *st = NULL, *resolvers = json_object_new_array();
	_cleanup_free_ char *text = NULL;
	json_object *eps = NULL;
	const char *out = NULL;
	char why[512];
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		if (c == 'i' || c == 'o') {
			if (out) {
				cli_error("fleet network: --install and --output are one choice");
				return EXIT_USAGE;
			}
			out = c == 'i' ? DROPIN_PATH : optarg;
		} else if (c == 'j') {
			arg_json = true;
		} else {
			if (c == 'h')
				help();
			return c == 'h' ? EXIT_OK : EXIT_USAGE;
		}
	}
	if (!cli_args_count(argc, 0, 0))
		return EXIT_USAGE;
	r = cli_fleet_status(VHSM_OP_FLEET_STATUS, "fleet network", &st);
	if (r != EXIT_OK)
		return r;
	if (json_member(st, NULL, "endpoints", json_type_array, &eps, why, sizeof(why)) < 0) {
		cli_error("fleet network: vhsmd's fleet status: %s", why);
		return EXIT_ERROR;
	}
	r = dropin_text(eps, resolvers, &text, why, sizeof(why));
	if (r < 0) {
		cli_error("fleet network: %s", r == -ENOMEM ? strerror(ENOMEM) : why);
		return EXIT_ERROR;
	}
	if (out) {
		r = write_dropin(out, text);
		if (r < 0) {
			cli_error("fleet network: %s: %s", out, strerror(-r));
			return EXIT_ERROR;
		}
	}
	if (arg_json) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "endpoints", json_object_get(eps));
		json_object_object_add(o, "resolvers", json_object_get(resolvers));
		json_object_object_add(o, "dropin", json_object_new_string(text));
		json_object_object_add(o, "written", out ? json_object_new_string(out) : NULL);
		cli_print_json_object(o);
		json_object_put(o);
		return EXIT_OK;
	}
	if (!out) {
		fputs(text, stdout);
		return EXIT_OK;
	}
	printf("written: %s\n", text_escape(out, why, sizeof(why)));
	if (strcmp(out, DROPIN_PATH) == 0)
		printf("now: systemctl daemon-reload && systemctl restart vhsmd.service\n");
	return EXIT_OK;
}
