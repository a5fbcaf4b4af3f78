/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fleet-bench: vhsm's KMIP client against a key manager, for bench/fleet/run.sh.
 *   fleet-bench --server H:P --ca F --cert F --key F (--name N | --group G) --mode M --reps R
 * Modes: cold (each pull on a new TLS connection: the daemon's pull, fleet_pull_run), warm
 * (Locate, GetAttributes, Get on one TLS session), sync (one pull of every key of the group).
 * Prints "ms_per_op cpu_ms_per_op ops" on stdout: wall and this process's CPU per pull.
 */
#include <errno.h>
#include <getopt.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "../../daemon/fleet.h"
#include "fileio.h"
#include "kmip-client.h"
#include "kmip.h"
#include "secmem.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static EVP_PKEY *load_key(const char *path)
{
	FILE *f = fopen(path, "re");
	EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;

	if (f)
		fclose(f);
	return k;
}

/* One warm pull on an open session: Locate by name, GetAttributes and Get of each object. */
static int warm_pull(struct kmip_client *c, uint8_t *buf, size_t cap, const char *name)
{
	struct kmip_writer w;
	struct kmip_response resp;
	struct kmip_iter it;
	struct kmip_item item;
	char uids[16][KMIP_MAX_TEXT + 1];
	size_t n = 0;
	int r;

	kmip_writer_init(&w, buf, cap);
	kmip_request_begin(&w, 1, 2, KMIP_OP_LOCATE);
	kmip_put_name_attribute(&w, name);
	r = kmip_request_finish(&w);
	if (r < 0 || (r = kmip_client_call(c, buf, (size_t)r, buf, cap)) < 0 ||
	    (r = kmip_response_parse(buf, (size_t)r, KMIP_OP_LOCATE, &resp)) < 0)
		return r;
	if (resp.status != KMIP_STATUS_SUCCESS || !resp.has_payload)
		return -EPERM;
	kmip_iter_init(&it, &resp.payload);
	while (kmip_iter_next(&it, &item) && n < 16)
		if (item.tag == KMIP_TAG_UNIQUE_IDENTIFIER && item.len <= KMIP_MAX_TEXT) {
			memcpy(uids[n], item.value, item.len);
			uids[n++][item.len] = 0;
		}
	for (size_t i = 0; i < n; i++) {
		static const enum kmip_operation ops[] = { KMIP_OP_GET_ATTRIBUTES, KMIP_OP_GET };
		for (size_t o = 0; o < 2; o++) {
			kmip_writer_init(&w, buf, cap);
			kmip_request_begin(&w, 1, 2, ops[o]);
			kmip_put_uid(&w, uids[i]);
			if (ops[o] == KMIP_OP_GET_ATTRIBUTES) {
				kmip_put_attribute_name(&w, "State");
				kmip_put_attribute_name(&w, "Name");
				kmip_put_attribute_name(&w, "Cryptographic Length");
			}
			r = kmip_request_finish(&w);
			if (r < 0 || (r = kmip_client_call(c, buf, (size_t)r, buf, cap)) < 0 ||
			    (r = kmip_response_parse(buf, (size_t)r, ops[o], &resp)) < 0)
				return r;
			if (resp.status != KMIP_STATUS_SUCCESS)
				return -EPERM;
		}
	}
	secmem_wipe(buf, cap);
	return n ? 0 : -ENOENT;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "server", required_argument, NULL, 's' }, { "ca", required_argument, NULL, 'c' },
		{ "cert", required_argument, NULL, 'C' },   { "key", required_argument, NULL, 'k' },
		{ "name", required_argument, NULL, 'n' },   { "group", required_argument, NULL, 'g' },
		{ "mode", required_argument, NULL, 'm' },   { "reps", required_argument, NULL, 'r' },
		{}
	};
	static struct fleet_config cfg;
	char *server = NULL, *ca = NULL;
	const char *cert = NULL, *keyfile = NULL, *name = NULL, *group = NULL, *mode = "cold";
	int reps = 20, c, ops = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
		switch (c) {
		case 's': server = optarg; break;
		case 'c': ca = optarg; break;
		case 'C': cert = optarg; break;
		case 'k': keyfile = optarg; break;
		case 'n': name = optarg; break;
		case 'g': group = optarg; break;
		case 'm': mode = optarg; break;
		case 'r': reps = atoi(optarg); break;
		default: return 2;
		}
	}
	EVP_PKEY *key = keyfile ? load_key(keyfile) : NULL;
	if (!server || !ca || !cert || !key || (!name && !group) || reps < 1) {
		fprintf(stderr, "fleet-bench: --server --ca --cert --key and --name or --group\n");
		return 2;
	}
	cfg.endpoints[0] = server;
	cfg.n_endpoints = 1;
	cfg.ca = ca;
	cfg.timeout_ms = 60000;
	cfg.n_maps = 1;
	snprintf(name ? cfg.maps[0].name : cfg.maps[0].group, KMIP_MAX_TEXT + 1, "%s",
		 name ? name : group);
	snprintf(cfg.maps[0].local, sizeof(cfg.maps[0].local), "bench");

	double t0 = now_ms(), c0 = cpu_ms();
	if (strcmp(mode, "warm") == 0) {
		struct kmip_tls_config tls = { .ca_file = ca, .cert_file = cert, .key = key,
					       .timeout_ms = 60000 };
		const char *eps[] = { server };
		struct kmip_client *cl = NULL;
		size_t cap = KMIP_TTLV_MAX_MESSAGE + KMIP_TTLV_HEADER_SIZE;
		uint8_t *buf = secmem_alloc(cap);
		char why[1024];
		if (!buf || kmip_client_open(&tls, eps, 1, &cl, why, sizeof(why)) < 0) {
			fprintf(stderr, "fleet-bench: %s\n", why);
			return 1;
		}
		if (warm_pull(cl, buf, cap, name) < 0) /* the handshake is not measured */
			return 1;
		t0 = now_ms();
		c0 = cpu_ms();
		for (int i = 0; i < reps; i++, ops++)
			if (warm_pull(cl, buf, cap, name) < 0) {
				fprintf(stderr, "fleet-bench: warm pull failed\n");
				return 1;
			}
		kmip_client_free(cl);
		secmem_free(buf);
	} else {
		for (int i = 0; i < reps; i++) {
			struct fleet_pull *p = fleet_pull_run(&cfg, key, cert, NULL, NULL);
			if (!p || p->result < 0) {
				fprintf(stderr, "fleet-bench: %s\n", p ? p->error : "out of memory");
				return 1;
			}
			ops += strcmp(mode, "sync") == 0 ? (int)p->n : 1;
			fleet_pull_free(p);
		}
	}
	double t = now_ms() - t0, cpu = cpu_ms() - c0;
	printf("%.3f %.3f %d\n", t / ops, cpu / ops, ops);
	EVP_PKEY_free(key);
	return 0;
}
