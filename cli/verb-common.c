/* SPDX-License-Identifier: Apache-2.0 */
/* vhsmctl: what the verbs served by vhsmd share: calling, printing JSON replies, argument counts. */
#include <getopt.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "json.h"
#include "vhsmctl.h"

/* Runs a request that returns JSON, printing it (pretty with --json, else via fmt). */
int cli_call_and_print(struct client_req *req, const char *what,
		       void (*fmt)(json_object *o))
{
	struct client_reply rep;
	int r = client_call_checked(req, what, &rep);

	if (r != EXIT_OK)
		return r;
	json_object *o = client_parse_json(&rep);
	if (arg_json || !fmt || !o)
		client_print_json(&rep);
	else
		fmt(o);
	json_object_put(o);
	client_reply_done(&rep);
	return EXIT_OK;
}

int cli_call_status(const char *what, struct client_reply *ret_rep)
{
	struct client_req req;

	if (client_begin(&req, VHSM_OP_STATUS) < 0)
		return EXIT_ERROR;
	return client_call_checked(&req, what, ret_rep);
}

const char *cli_jstr(json_object *o, const char *k)
{
	const char *s;

	/* Daemon-provided text reaches the terminal escaped. */
	return json_member_string(o, NULL, k, 0, &s, NULL, NULL, 0) == 0 ? cli_esc(s) : "";
}

int64_t cli_jint(json_object *o, const char *k)
{
	int64_t x;

	return json_member_int64(o, NULL, k, INT64_MIN, INT64_MAX, &x, NULL, 0) == 0 ? x : 0;
}

bool cli_jbool(json_object *o, const char *k)
{
	bool b;

	return json_member_bool(o, NULL, k, &b, NULL, 0) == 0 && b;
}

const char *cli_fmt_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || !gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "-");
	return buf;
}

bool cli_args_count(int argc, int min, int max)
{
	int n = argc - optind;

	if (n < min || n > max) {
		cli_error("%s: expected %d%s argument%s, got %d", arg_verb, min,
			  max > min ? " or more" : "", max == 1 ? "" : "s", n);
		return false;
	}
	return true;
}

/* Parses only --help / --json for verbs without options; returns -1 after printing help. */
int cli_simple_opts_what(int argc, char **argv, const char *usage, const char *what)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		if (c == 'j') {
			arg_json = true;
		} else if (c == 'h') {
			printf("Usage: vhsmctl %s\n", usage);
			if (what)
				printf("\n%s", what);
			return -1;
		} else {
			return EXIT_USAGE;
		}
	}
	return 0;
}

int cli_simple_opts(int argc, char **argv, const char *usage)
{
	return cli_simple_opts_what(argc, argv, usage, NULL);
}

bool cli_caller_is_admin(void)
{
	struct group *g = getgrnam("vhsm");
	gid_t groups[256];
	int n;

	if (geteuid() == 0)
		return true;
	if (!g)
		return false;
	if (getegid() == g->gr_gid)
		return true;
	n = getgroups(ELEMENTSOF(groups), groups);
	for (int i = 0; i < n; i++)
		if (groups[i] == g->gr_gid)
			return true;
	return false;
}

void cli_note_filtered(const char *what)
{
	/* Not with --json: the array is the whole answer, and stdout and stderr are often joined. */
	if (!arg_json && !cli_caller_is_admin())
		cli_error("note: not an administrator (root or group vhsm): the list shows only the "
			  "%s your ACL entries let you see", what);
}

void cli_print_vtpm_ak(json_object *p, const char *label)
{
	const char *ak;

	if (json_member_string(p, NULL, "vtpm_ak_sha256", 64, &ak, NULL, NULL, 0) < 0)
		return;
	printf("%s%s\n", label, cli_esc(ak));
	printf("%*s(give it to the customer for their policy's \"vtpm_ak_digests\": it names "
	       "this VM's evidence)\n", (int)strlen(label), "");
}

void cli_print_json_object(json_object *o)
{
	if (o)
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							       JSON_C_TO_STRING_NOSLASHESCAPE));
}
