/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsmctl fleet sync | status: KEKs pulled from the key manager by vhsmd (docs/fleet.md).
 * sync starts a sync in vhsmd and waits for its result (vhsmd does the network part on a
 * worker thread and keeps serving); status prints the last syncs' result; shred (root, started
 * by vhsmd-fleet-shred.path) suspends the volumes of the KEKs the last sync found compromised.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "escape.h"
#include "fleet-status.h"
#include "json.h"
#include "parse-util.h"
#include "vhsmctl.h"

#define SYNC_WAIT_DEFAULT_S 120u

/* A member's text, or NULL when it is absent, null or empty (vhsmd sends null for "none"):
 * unescaped, so print it through text_escape(). */
static const char *jtext(json_object *o, const char *k)
{
	const char *s;

	if (json_member_string(o, NULL, k, 0, &s, NULL, NULL, 0) < 0)
		return NULL;
	return s[0] ? s : NULL;
}

static void fmt_fleet(json_object *o)
{
	json_object *keks = NULL;
	char when[64], esc[4096];
	const char *err = jtext(o, "last_error"), *ep = jtext(o, "last_endpoint");
	const char *res = jtext(o, "last_result");

	printf("fleet sync: %s", res ? text_escape(res, esc, sizeof(esc)) : "none yet");
	if (ep)
		printf(" (key manager %s)", text_escape(ep, esc, sizeof(esc)));
	printf("\n");
	if (err)
		printf("last error: %s\n", text_escape(err, esc, sizeof(esc)));
	if (cli_jint(o, "last_ok_at"))
		printf("last successful sync: %s\n",
		       cli_fmt_time(cli_jint(o, "last_ok_at"), when, sizeof(when)));
	if (cli_jint(o, "failures"))
		printf("consecutive failures: %" PRId64 ", next attempt in %" PRId64 " s\n",
		       cli_jint(o, "failures"), cli_jint(o, "next_sync_in_s"));
	else
		printf("next sync in %" PRId64 " s (interval %" PRId64 " s)\n",
		       cli_jint(o, "next_sync_in_s"), cli_jint(o, "sync_interval_s"));
	if (json_member(o, NULL, "keks", json_type_array, &keks, NULL, 0) < 0)
		return;
	for (size_t i = 0; i < json_object_array_length(keks); i++) {
		json_object *k = json_object_array_get_idx(keks, i);
		char state[64];
		printf("  %-24s %-12s v%-3" PRId64 " ",
		       text_escape(jtext(k, "local") ?: "?", esc, sizeof(esc)),
		       text_escape(jtext(k, "kmip_state") ?: "?", state, sizeof(state)),
		       cli_jint(k, "versions"));
		printf("%s\n", text_escape(jtext(k, "action") ?: "", esc, sizeof(esc)));
	}
}

int cli_fleet_status(uint16_t op, const char *what, json_object **ret)
{
	struct client_req req;
	struct client_reply rep;
	int r;

	if (client_begin(&req, op) < 0)
		return EXIT_ERROR;
	r = client_call_checked(&req, what, &rep);
	if (r != EXIT_OK)
		return r;
	*ret = client_parse_json(&rep);
	client_reply_done(&rep);
	if (!*ret) {
		cli_error("%s: vhsmd's reply carries no status", what);
		return EXIT_ERROR;
	}
	return EXIT_OK;
}

/* The exit status of the last sync's result: ok: 0; partial (the key manager answered, some
 * KEKs could not be updated): 1; failed (no answer): 3; none yet: none_yet. */
static int finish(json_object *o, int none_yet)
{
	const char *res = jtext(o, "last_result");
	int r = !res ? none_yet : strcmp(res, "ok") == 0 ? EXIT_OK
		: strcmp(res, "partial") == 0 ? EXIT_REJECTED : EXIT_ERROR;

	if (arg_json) {
		cli_print_json_object(o);
		cli_json_result_printed = true;
	} else {
		fmt_fleet(o);
	}
	json_object_put(o);
	return r;
}

int verb_fleet_sync(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "wait", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	uint32_t wait_s = SYNC_WAIT_DEFAULT_S;
	json_object *o = NULL;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		if (c == 'j')
			arg_json = true;
		else if (c == 'w') {
			if (parse_uint32(optarg, 0, 3600, &wait_s) < 0) {
				cli_error("fleet sync: --wait wants 0..3600 seconds, got '%s'", optarg);
				return EXIT_USAGE;
			}
		} else if (c == 'h') {
			printf("Usage: vhsmctl fleet sync [--wait SEC] [--json]\n\n"
			       "Makes vhsmd sync its KEKs with the key manager now and waits (at most\n"
			       "SEC seconds, default %u; 0: do not wait) for the result: the KEKs\n"
			       "pulled, rotated, disabled, shredded or deleted. Exit 0 when the sync\n"
			       "succeeded, 1 when some KEKs could not be updated (each says why), 3\n"
			       "when no key manager answered (the reason is printed).\n",
			       SYNC_WAIT_DEFAULT_S);
			return EXIT_OK;
		} else
			return EXIT_USAGE;
	}
	if (!cli_args_count(argc, 0, 0))
		return EXIT_USAGE;
	r = cli_fleet_status(VHSM_OP_FLEET_SYNC, "fleet sync", &o);
	if (r != EXIT_OK)
		return r;
	/* The sync asked for is counted in "started": its result is in once "completed" is
	 * there too. */
	int64_t want = cli_jint(o, "started");
	struct timespec start, now, nap = { 0, 100 * 1000 * 1000 };
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (cli_jint(o, "completed") < want) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= (time_t)wait_s) {
			if (wait_s)
				cli_error("fleet sync: no result after %u s (vhsmd keeps trying; see "
					  "vhsmctl fleet status)", wait_s);
			json_object_put(o);
			return wait_s ? EXIT_ERROR : EXIT_OK;
		}
		nanosleep(&nap, NULL);
		json_object_put(o);
		o = NULL;
		r = cli_fleet_status(VHSM_OP_FLEET_STATUS, "fleet status", &o);
		if (r != EXIT_OK)
			return r;
	}
	return finish(o, EXIT_ERROR);
}

int verb_fleet_status(int argc, char **argv)
{
	json_object *o = NULL;
	int r = cli_simple_opts(argc, argv, "fleet status [--json]");

	if (r)
		return r < 0 ? EXIT_OK : r;
	if (!cli_args_count(argc, 0, 0))
		return EXIT_USAGE;
	r = cli_fleet_status(VHSM_OP_FLEET_STATUS, "fleet status", &o);
	if (r != EXIT_OK)
		return r;
	return finish(o, EXIT_OK);
}

/*
 * vhsmctl fleet shred: for each KEK the last sync marked "shred" (compromised on the key
 * manager), what vhsmd cannot do without device-mapper rights, through the same code as
 * `kek disable NAME --shred`: its DEK keys revoked again, the sealed copies withdrawn from the
 * tokens, its LUKS2 volumes suspended and its plain dm-crypt mappings key-wiped. With --json,
 * one kek disable object per KEK, one a line.
 */
int verb_fleet_shred(int argc, char **argv)
{
	json_object *o = NULL, *keks = NULL;
	unsigned n = 0;
	int r = cli_simple_opts_what(argc, argv, "fleet shred [--json]",
				     "Suspends the volumes of the KEKs vhsmd's last fleet sync found compromised\n"
				     "on the key manager (kek disable NAME --shred for each): run as root, by\n"
				     "vhsmd-fleet-shred.path when vhsmd records a newly compromised KEK.\n");
	int worst = EXIT_OK;

	if (r)
		return r < 0 ? EXIT_OK : r;
	if (!cli_args_count(argc, 0, 0))
		return EXIT_USAGE;
	r = cli_fleet_status(VHSM_OP_FLEET_STATUS, "fleet shred", &o);
	if (r != EXIT_OK)
		return r;
	if (json_member(o, NULL, "keks", json_type_array, &keks, NULL, 0) == 0) {
		for (size_t i = 0; i < json_object_array_length(keks); i++) {
			json_object *k = json_object_array_get_idx(keks, i);
			const char *name = jtext(k, "local");
			if (!name || !cli_jbool(k, "shred"))
				continue;
			char verb[] = "kek disable", nm[256], shred[] = "--shred", json[] = "--json";
			char *args[] = { verb, nm, shred, arg_json ? json : NULL, NULL };
			if (snprintf(nm, sizeof(nm), "%s", name) >= (int)sizeof(nm))
				continue; /* no KEK name is that long */
			if (!arg_json)
				printf("KEK %s is compromised on the key manager: shredding\n", name);
			fflush(stdout);
			optind = 0; /* a fresh getopt scan of kek disable's arguments */
			r = verb_kek_disable(arg_json ? 4 : 3, args);
			if (r != EXIT_OK && worst == EXIT_OK)
				worst = r;
			n++;
		}
	}
	json_object_put(o);
	if (!arg_json)
		printf("%u compromised KEK(s) shredded\n", n);
	cli_json_result_printed = true;
	return worst;
}
