/* SPDX-License-Identifier: Apache-2.0 */
/* vhsmctl dek recover | purge: undo a `dek drop --delete`, or end a deleted DEK for good. */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>

#include "client.h"
#include "json-cleanup.h"
#include "vhsmctl.h"

/* One NAME, --help and --json; sends op and prints done (or the daemon's refusal). */
static int dek_deleted_verb(int argc, char **argv, uint16_t op, const char *usage,
			    const char *done)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct client_req req;
	struct client_reply rep;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		if (c == 'j') {
			arg_json = true;
		} else if (c == 'h') {
			fputs(usage, stdout);
			return EXIT_OK;
		} else {
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		cli_error("%s: expected 1 argument, got %d", arg_verb, argc - optind);
		return EXIT_USAGE;
	}
	if (client_begin(&req, op) < 0)
		return EXIT_ERROR;
	vhsm_wire_add_str(&req.b, VHSM_TAG_NAME, argv[optind]);
	r = client_call_checked(&req, arg_verb, &rep);
	if (r != EXIT_OK)
		return r;
	if (arg_json) {
		_cleanup_(json_object_putp) json_object *o = json_object_new_object();
		if (o) {
			json_object_object_add(o, "name", json_object_new_string(argv[optind]));
			json_object_object_add(o, "result", json_object_new_string(done));
			json_object_object_add(o, "changed", json_object_new_boolean(true));
			cli_print_json_object(o);
		}
	} else
		printf("DEK %s %s\n", argv[optind], done);
	client_reply_done(&rep);
	return EXIT_OK;
}

int verb_dek_recover(int argc, char **argv)
{
	return dek_deleted_verb(argc, argv, VHSM_OP_DEK_RECOVER,
				"Usage: vhsmctl dek recover NAME\n\n"
				"Undoes dek drop --delete within the DEK's retention: it can be\n"
				"loaded again. Root or the vhsm group only.\n",
				"recovered");
}

int verb_dek_purge(int argc, char **argv)
{
	return dek_deleted_verb(argc, argv, VHSM_OP_DEK_PURGE,
				"Usage: vhsmctl dek purge NAME\n\n"
				"Removes a deleted DEK from the registry for good. Refused before the\n"
				"retention ends when its KEK has purge protection. Root or the vhsm\n"
				"group only.\n",
				"purged");
}
