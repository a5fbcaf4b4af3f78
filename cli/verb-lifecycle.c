/* SPDX-License-Identifier: Apache-2.0 */
/* The lifecycle verbs KEKs and key pairs share (see lifecycle.h). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "json-cleanup.h"
#include "lifecycle.h"
#include "vhsmctl.h"

int lifecycle_call(const struct lifecycle_kind *k, struct client_req *req, int action,
		   const char *name, const char *warning)
{
	_cleanup_(json_object_putp) json_object *o = NULL;
	const char *already_what = k->already(action);
	struct client_reply rep;
	bool already;
	int r = client_call(req, &rep);

	client_req_done(req);
	if (r < 0) {
		client_reply_done(&rep);
		return r == -EINVAL ? EXIT_USAGE : EXIT_ERROR;
	}
	already = rep.err == -EALREADY && already_what;
	if (rep.err && !already) {
		r = client_refused(&rep, arg_verb);
		client_reply_done(&rep);
		return r;
	}
	o = already ? NULL : client_parse_json(&rep);
	/* vhsmd's own warning about a new object (the provider owns the measurement) comes
	 * first: it is about every object on this platform, the options' about this one. */
	char daemon_warning[sizeof(rep.message)] = "";
	if (!already && action == k->warn_action && rep.message[0])
		snprintf(daemon_warning, sizeof(daemon_warning), "%s%s%s", cli_esc(rep.message),
			 warning ? "; " : "", warning ? warning : "");
	if (daemon_warning[0])
		warning = daemon_warning;
	client_reply_done(&rep);
	if (arg_json)
		k->print_json(action, name, o, !already, warning);
	else if (already)
		printf("%s %s %s\n", k->noun, cli_esc(name), already_what);
	else
		k->print_done(action, name, o);
	if (warning && !arg_json)
		fprintf(stderr, "vhsmctl: warning: %s\n", warning);
	return EXIT_OK;
}

int lifecycle_simple(const struct lifecycle_kind *k, int argc, char **argv, int action)
{
	const struct lifecycle_verb *v = &k->verbs[action];
	struct client_req req;
	int r = cli_simple_opts(argc, argv, v->usage);

	if (r)
		return r < 0 ? EXIT_OK : r;
	if (!cli_args_count(argc, 1, 1))
		return EXIT_USAGE;
	if (client_begin(&req, v->op) < 0)
		return EXIT_ERROR;
	vhsm_wire_add_str(&req.b, VHSM_TAG_NAME, argv[optind]);
	return lifecycle_call(k, &req, action, argv[optind], NULL);
}

int lifecycle_acl(const struct lifecycle_kind *k, int argc, char **argv, int action)
{
	const struct lifecycle_verb *v = &k->verbs[action];
	struct client_req req;
	int r = cli_simple_opts(argc, argv, v->usage);

	if (r)
		return r < 0 ? EXIT_OK : r;
	if (!cli_args_count(argc, 1, 2))
		return EXIT_USAGE;
	if (client_begin(&req, v->op) < 0)
		return EXIT_ERROR;
	vhsm_wire_add_str(&req.b, VHSM_TAG_NAME, argv[optind]);
	if (optind + 1 < argc && argv[optind + 1][0])
		vhsm_wire_add_str(&req.b, VHSM_TAG_ACL, argv[optind + 1]);
	return lifecycle_call(k, &req, action, argv[optind], NULL);
}

int lifecycle_list(const struct lifecycle_kind *k, int argc, char **argv, const char *usage,
		   void (*fmt)(struct json_object *o))
{
	struct client_req req;
	int r = cli_simple_opts(argc, argv, usage);

	if (r)
		return r < 0 ? EXIT_OK : r;
	if (!cli_args_count(argc, 0, 0))
		return EXIT_USAGE;
	if (client_begin(&req, k->op_list) < 0)
		return EXIT_ERROR;
	r = cli_call_and_print(&req, arg_verb, fmt);
	if (r == EXIT_OK)
		cli_note_filtered(k->plural);
	return r;
}
