/* SPDX-License-Identifier: Apache-2.0 */
/* vhsmctl audit --verify: vhsmd checks the hash chain and keyed MACs of its audit log. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>

#include "client.h"
#include "vhsmctl.h"

static void fmt_audit(json_object *o)
{
	int64_t first = cli_jint(o, "first_seq"), keyed = cli_jint(o, "keyed_from");

	printf("audit log: records %" PRId64 "..%" PRId64 ", hash chain intact\n", first,
	       cli_jint(o, "records"));
	if (cli_jbool(o, "pruned"))
		printf("records before %" PRId64 " were pruned by the retention policy (the chain "
		       "verifies from the recorded anchor)\n", first);
	if (keyed > first)
		printf("records %" PRId64 "..%" PRId64 " verified by their structure only (unkeyed "
		       "or keyed by another image); from %" PRId64 " on keyed by this CVM\n",
		       first, keyed - 1, keyed);
	else if (keyed)
		printf("every record keyed by this CVM\n");
	if (cli_jint(o, "reset_seq"))
		printf("the chain was restarted at record %" PRId64 " because the previous log did "
		       "not verify (see that record's reason)\n", cli_jint(o, "reset_seq"));
}

int verb_audit(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "verify", no_argument, NULL, 'v' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	bool verify = false;
	struct client_req req;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		if (c == 'v')
			verify = true;
		else if (c == 'j')
			arg_json = true;
		else if (c == 'h') {
			printf("Usage: vhsmctl audit --verify [--json]\n\n"
			       "Verifies vhsmd's audit log: the hash chain across every kept segment,\n"
			       "the MAC of each record under this CVM's audit key, and that records\n"
			       "missing at the start were pruned by the retention policy. An edited,\n"
			       "deleted or reordered record is reported with its position.\n");
			return EXIT_OK;
		} else
			return EXIT_USAGE;
	}
	if (!verify) {
		cli_error("audit: use --verify (read records with journalctl "
			  "VHSM_EVENT= or from the log in the state directory)");
		return EXIT_USAGE;
	}
	if (!cli_args_count(argc, 0, 0))
		return EXIT_USAGE;
	if (client_begin(&req, VHSM_OP_AUDIT_VERIFY) < 0)
		return EXIT_ERROR;
	return cli_call_and_print(&req, "audit verification", fmt_audit);
}
