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
			    const char *what, const char *done)
{
	struct client_req req;
	struct client_reply rep;
	int r;

	r = cli_simple_opts_what(argc, argv, usage, what);
	if (r)
		return r < 0 ? EXIT_OK : r;
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
				"dek recover NAME",
				"Undoes dek drop --delete within the DEK's retention: it can be\n"
				"loaded again. Root or the vhsm group only.\n",
				"recovered");
}

int verb_dek_purge(int argc, char **argv)
{
	return dek_deleted_verb(argc, argv, VHSM_OP_DEK_PURGE,
				"dek purge NAME",
				"Removes a deleted DEK from the registry for good. Refused before the\n"
				"retention ends when its KEK has purge protection. Root or the vhsm\n"
				"group only.\n",
				"purged");
}
