/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsmctl kek create|list|show|rotate|reseal|enable|delete|recover|purge|acl: the KEK lifecycle
 * in vhsmd, and the new-KEK options kek create shares with kek import.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "json-cleanup.h"
#include "json.h"
#include "lifecycle.h"
#include "parse-util.h"
#include "vhsmctl.h"

static void fmt_kek_line(json_object *e)
{
	json_object *k, *vs;
	char t[32];

	if (json_member(e, NULL, "kek", json_type_object, &k, NULL, 0) < 0)
		return;
	size_t nv = json_member(k, NULL, "versions", json_type_array, &vs, NULL, 0) == 0
			    ? json_object_array_length(vs) : 0;
	printf("%-24s %-9s %4zu  %-7s %-20s %s\n", cli_jstr(k, "name"), cli_jstr(k, "state"), nv,
	       cli_jstr(e, "profile"), cli_fmt_time(cli_jint(k, "created"), t, sizeof(t)),
	       cli_jbool(k, "purge_protection") ? "yes" : "no");
}

static void fmt_kek_list(json_object *o)
{
	printf("%-24s %-9s %4s  %-7s %-20s %s\n", "NAME", "STATE", "VERS", "PROFILE", "CREATED",
	       "PURGE-PROTECTION");
	for (size_t i = 0; i < json_object_array_length(o); i++)
		fmt_kek_line(json_object_array_get_idx(o, i));
}

static void fmt_kek_show(json_object *o)
{
	json_object *k, *vs;
	char t[32];

	if (json_member(o, NULL, "kek", json_type_object, &k, NULL, 0) < 0)
		return;
	printf("name:             %s\n", cli_jstr(k, "name"));
	printf("state:            %s\n", cli_jstr(k, "state"));
	printf("profile:          %s (sealed at TCB %s, guest SVN %" PRId64 ")\n",
	       cli_jstr(o, "profile"), cli_jstr(o, "sealed_tcb"), cli_jint(o, "guest_svn"));
	printf("created:          %s\n", cli_fmt_time(cli_jint(k, "created"), t, sizeof(t)));
	printf("updated:          %s\n", cli_fmt_time(cli_jint(k, "updated"), t, sizeof(t)));
	if (cli_jint(k, "deleted_at")) {
		printf("deleted:          %s\n", cli_fmt_time(cli_jint(k, "deleted_at"), t, sizeof(t)));
		printf("purge after:      %s (recoverable until then)\n",
		       cli_fmt_time(cli_jint(k, "deleted_at") + cli_jint(k, "retention_days") * 86400,
				    t, sizeof(t)));
	}
	printf("retention:        %" PRId64 " days\n", cli_jint(k, "retention_days"));
	printf("purge protection: %s\n", cli_jbool(k, "purge_protection") ? "on" : "off");
	printf("exportable:       %s\n", cli_jbool(k, "exportable") ? "yes" : "no");
	printf("attestation:      %s\n", cli_jbool(k, "attest_each_use") ? "fresh for every use"
									: "gate (interval)");
	printf("sealed under policy sha256 %.16s...%s\n", cli_jstr(o, "policy_digest"),
	       strcmp(cli_jstr(o, "policy_digest"), cli_jstr(o, "current_policy_digest")) == 0
		       ? "" : " (differs from the policy in force; reseal to update)");
	printf("acl:              %s\n", cli_jstr(k, "acl")[0] ? cli_jstr(k, "acl") : "(admins only)");
	if (json_member(k, NULL, "versions", json_type_array, &vs, NULL, 0) == 0)
		for (size_t i = 0; i < json_object_array_length(vs); i++) {
			json_object *v = json_object_array_get_idx(vs, i);
			printf("version %-8" PRId64 " created %s\n", cli_jint(v, "version"),
			       cli_fmt_time(cli_jint(v, "created"), t, sizeof(t)));
		}
}

int cli_parse_retention_days(const char *s, long *ret)
{
	uint64_t v;

	if (parse_uint64(s, 0, 100000, &v) < 0) {
		cli_error("invalid --retention-days '%s'", s);
		return EXIT_USAGE;
	}
	*ret = (long)v;
	return 0;
}

int kek_new_opt(int c, const char *arg, struct kek_new_opts *o)
{
	switch (c) {
	case O_KEK_PROFILE: o->profile = arg; return 1;
	case O_KEK_EXPORT: o->flags |= VHSM_KEK_FLAG_EXPORTABLE; return 1;
	case O_KEK_PURGE: o->flags |= VHSM_KEK_FLAG_PURGE_PROTECTION; return 1;
	case O_KEK_ATTEST: o->flags |= VHSM_KEK_FLAG_ATTEST_EACH_USE; return 1;
	case O_KEK_DAYS: return cli_parse_retention_days(arg, &o->days) ?: 1;
	default: return 0;
	}
}

void kek_new_opts_add(struct client_req *req, const struct kek_new_opts *o)
{
	if (o->profile)
		vhsm_wire_add_str(&req->b, VHSM_TAG_PROFILE, o->profile);
	vhsm_wire_add_u64(&req->b, VHSM_TAG_FLAGS, o->flags);
	if (o->days >= 0)
		vhsm_wire_add_u32(&req->b, VHSM_TAG_DAYS, (uint32_t)o->days);
}

const char *kek_new_opts_warning(const struct kek_new_opts *o)
{
	if (!o->profile || strcmp(o->profile, "author") != 0)
		return NULL;
	return "profile 'author' protects the KEK only against use on another chip: any image "
	       "launched on this chip with an ID block that claims the same family ID, image ID "
	       "and guest policy derives the same sealing key without running vhsmd or its "
	       "attestation gate, so pinning ID or author key digests in the policy does not help; "
	       "use 'strict' (see docs/sealing.md)";
}

void kek_new_opts_report(const struct kek_new_opts *o, const char *name, uint32_t version)
{
	const char *w = kek_new_opts_warning(o);
	json_object *j;

	if (!w)
		return;
	if (!arg_json) {
		fprintf(stderr, "vhsmctl: warning: %s\n", w);
		return;
	}
	j = json_object_new_object();
	if (!j)
		return;
	json_object_object_add(j, "kek", json_object_new_string(name));
	json_object_object_add(j, "version", json_object_new_int64(version));
	json_object_object_add(j, "warning", json_object_new_string(w));
	puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(j);
}

static int kek_simple(int argc, char **argv, uint16_t op, const char *usage,
		      void (*fmt)(json_object *o))
{
	struct client_req req;
	int r = cli_simple_opts(argc, argv, usage);

	if (r)
		return r < 0 ? EXIT_OK : r;
	if (!cli_args_count(argc, 1, 1))
		return EXIT_USAGE;
	if (client_begin(&req, op) < 0)
		return EXIT_ERROR;
	vhsm_wire_add_str(&req.b, VHSM_TAG_NAME, argv[optind]);
	return cli_call_and_print(&req, arg_verb, fmt);
}

int verb_kek_show(int argc, char **argv)
{
	return kek_simple(argc, argv, VHSM_OP_KEK_SHOW, "kek show NAME [--json]", fmt_kek_show);
}

enum kek_action {
	KEK_CREATED,
	KEK_ROTATED,
	KEK_RESEALED,
	KEK_ENABLED,
	KEK_DELETED,
	KEK_RECOVERED,
	KEK_PURGED,
	KEK_ACL_SET,
};

/* What "already" means for an action the daemon answered with EALREADY. */
static const char *kek_already(int a)
{
	static const char *const already[] = {
		[KEK_ENABLED] = "is already enabled",
		[KEK_DELETED] = "is already deleted",
		[KEK_RECOVERED] = "is not deleted: nothing to recover",
	};

	return a >= 0 && (size_t)a < ELEMENTSOF(already) ? already[a] : NULL;
}

/* The one line of text a lifecycle verb prints about what it did. */
static void print_kek_action(int a, const char *name, json_object *o)
{
	json_object *k = NULL, *vs;
	char t[32];
	size_t nv;

	if (json_member(o, NULL, "kek", json_type_object, &k, NULL, 0) < 0)
		k = NULL;
	nv = json_member(k, NULL, "versions", json_type_array, &vs, NULL, 0) == 0
		     ? json_object_array_length(vs) : 0;
	switch (a) {
	case KEK_CREATED: printf("KEK %s created (version 1)\n", name); break;
	case KEK_ROTATED: printf("KEK %s rotated: version %zu wraps from now on\n", name, nv); break;
	case KEK_RESEALED:
		printf("KEK %s resealed to the current TCB %s\n", name, cli_jstr(o, "sealed_tcb"));
		break;
	case KEK_ENABLED: printf("KEK %s enabled\n", name); break;
	case KEK_DELETED:
		printf("KEK %s deleted; vhsmctl kek recover can undo this until %s\n", name,
		       cli_fmt_time(cli_jint(k, "deleted_at") +
					    cli_jint(k, "retention_days") * 86400, t, sizeof(t)));
		break;
	case KEK_RECOVERED:
		printf("KEK %s recovered (%s)\n", name, cli_jstr(k, "state"));
		break;
	case KEK_PURGED: printf("KEK %s purged\n", name); break;
	case KEK_ACL_SET:
		printf("KEK %s ACL set: %s\n", name,
		       cli_jstr(k, "acl")[0] ? cli_jstr(k, "acl") : "(admins only)");
		break;
	}
}

/*
 * --json: the daemon's KEK object with "changed" added; {"name", "changed"} without one. A new
 * KEK adds "kek" (its name) and "version", and the options' warning, if any, as "warning".
 */
static void print_kek_action_json(int a, const char *name, json_object *o, bool changed,
				  const char *warning)
{
	_cleanup_(json_object_putp) json_object *n = o ? NULL : json_object_new_object();
	json_object *out = o ?: n;

	if (!out)
		return;
	if (!o)
		json_object_object_add(out, "name", json_object_new_string(name));
	json_object_object_add(out, "changed", json_object_new_boolean(changed));
	if (a == KEK_CREATED) {
		json_object_object_add(out, "kek", json_object_new_string(name));
		json_object_object_add(out, "version", json_object_new_int64(1));
	}
	if (warning)
		json_object_object_add(out, "warning", json_object_new_string(warning));
	puts(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PRETTY |
							 JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* The lifecycle verbs that take only NAME (and kek acl), by action. */
static const struct lifecycle_verb kek_verbs[] = {
	[KEK_ROTATED] = { VHSM_OP_KEK_ROTATE, "kek rotate NAME [--json]" },
	[KEK_RESEALED] = { VHSM_OP_KEK_RESEAL, "kek reseal NAME [--json]" },
	[KEK_ENABLED] = { VHSM_OP_KEK_ENABLE, "kek enable NAME [--json]" },
	[KEK_RECOVERED] = { VHSM_OP_KEK_RECOVER, "kek recover NAME [--json]" },
	[KEK_PURGED] = { VHSM_OP_KEK_PURGE, "kek purge NAME [--json]" },
	[KEK_ACL_SET] = { VHSM_OP_KEK_SET_ACL, "kek acl NAME [ACL]\n\n"
						"Replaces the KEK's ACL (no ACL: admins only). "
						"ACL: KIND:WHO:OPS[;...]" },
};

static const struct lifecycle_kind kek_kind = {
	.noun = "KEK",
	.plural = "KEKs",
	.op_list = VHSM_OP_KEK_LIST,
	.verbs = kek_verbs,
	.already = kek_already,
	.print_done = print_kek_action,
	.print_json = print_kek_action_json,
	.warn_action = KEK_CREATED,
};

int verb_kek_list(int argc, char **argv)
{
	return lifecycle_list(&kek_kind, argc, argv, "kek list [--json]", fmt_kek_list);
}

int verb_kek_create(int argc, char **argv)
{
	enum { O_ACL = 256, O_JSON };
	static const struct option opts[] = {
		KEK_NEW_OPTIONS,
		{ "acl", required_argument, NULL, O_ACL },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct kek_new_opts o = KEK_NEW_OPTS_INIT;
	const char *acl = NULL;
	struct client_req req;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		r = kek_new_opt(c, optarg, &o);
		if (r > 1)
			return r;
		if (r == 1)
			continue;
		switch (c) {
		case O_ACL: acl = optarg; break;
		case O_JSON: arg_json = true; break;
		case 'h':
			printf("Usage: vhsmctl kek create NAME [--profile strict|author|vtpm] [--exportable]\n"
			       "         [--purge-protection] [--retention-days N] [--acl ACL]\n"
			       "         [--attest-each-use]\n\n"
			       "Generates a new AES-256 KEK inside vhsmd and seals it to this CVM.\n"
			       "--attest-each-use: a fresh attestation before every use of the KEK.\n"
			       "Profiles: strict (measurement; default) or author (family/image ID:\n"
			       "survives re-measured updates, but protects only against another chip:\n"
			       "any image on this chip claiming those IDs derives the key without\n"
			       "vhsmd's attestation gate; see docs/sealing.md), or vtpm (Azure\n"
			       "paravisor CVMs: sealed by the vTPM to PCR 7; needs an HCL report whose\n"
			       "claims say tpm-persisted: true; see docs/platforms.md).\n"
			       "ACL: KIND:WHO:OPS[;...], KIND uid|gid|user|group|unit,\n"
			       "OPS wrap,unwrap,rewrap,read,admin,all (see vhsmctl(1)).\n");
			return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (!cli_args_count(argc, 1, 1))
		return EXIT_USAGE;
	if (client_begin(&req, VHSM_OP_KEK_CREATE) < 0)
		return EXIT_ERROR;
	vhsm_wire_add_str(&req.b, VHSM_TAG_NAME, argv[optind]);
	kek_new_opts_add(&req, &o);
	if (acl)
		vhsm_wire_add_str(&req.b, VHSM_TAG_ACL, acl);
	return lifecycle_call(&kek_kind, &req, KEK_CREATED, argv[optind],
			      kek_new_opts_warning(&o));
}

int verb_kek_rotate(int argc, char **argv)
{
	return lifecycle_simple(&kek_kind, argc, argv, KEK_ROTATED);
}
int verb_kek_reseal(int argc, char **argv)
{
	return lifecycle_simple(&kek_kind, argc, argv, KEK_RESEALED);
}
int verb_kek_enable(int argc, char **argv)
{
	return lifecycle_simple(&kek_kind, argc, argv, KEK_ENABLED);
}
int verb_kek_recover(int argc, char **argv)
{
	return lifecycle_simple(&kek_kind, argc, argv, KEK_RECOVERED);
}
int verb_kek_purge(int argc, char **argv)
{
	return lifecycle_simple(&kek_kind, argc, argv, KEK_PURGED);
}

int kek_state(const char *name, char *buf, size_t len)
{
	_cleanup_(json_object_putp) json_object *o = NULL;
	struct client_req req;
	struct client_reply rep;
	json_object *k;
	int r;

	if (client_begin(&req, VHSM_OP_KEK_SHOW) < 0)
		return -ENOMEM;
	vhsm_wire_add_str(&req.b, VHSM_TAG_NAME, name);
	r = client_call(&req, &rep);
	client_req_done(&req);
	if (r < 0) { /* said by client_call() */
		client_reply_done(&rep);
		return r == -EINVAL ? EXIT_USAGE : EXIT_ERROR;
	}
	if (rep.err) {
		r = rep.err;
		client_reply_done(&rep);
		return r;
	}
	o = client_parse_json(&rep);
	client_reply_done(&rep);
	if (json_member(o, NULL, "kek", json_type_object, &k, NULL, 0) < 0)
		return -EBADMSG;
	snprintf(buf, len, "%s", cli_jstr(k, "state"));
	return 0;
}

int verb_kek_delete(int argc, char **argv)
{
	enum { O_CRYPTTAB = 256, O_FORCE };
	static const struct option opts[] = {
		{ "retention-days", required_argument, NULL, 'd' },
		{ "force", no_argument, NULL, O_FORCE },
		{ "crypttab", required_argument, NULL, O_CRYPTTAB },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *crypttab = "/etc/crypttab";
	struct client_req req;
	bool force = false;
	char state[32];
	long days = -1;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		if (c == 'd') {
			if (cli_parse_retention_days(optarg, &days))
				return EXIT_USAGE;
		} else if (c == 'j') {
			arg_json = true;
		} else if (c == O_FORCE) {
			force = true;
		} else if (c == O_CRYPTTAB) {
			crypttab = optarg;
		} else if (c == 'h') {
			printf("Usage: vhsmctl kek delete NAME [--retention-days N] [--force]\n"
			       "         [--crypttab FILE]\n\n"
			       "Soft-deletes a KEK: it stops working and can be recovered until the\n"
			       "retention period (default 90 days, minimum 7) has passed. When open or\n"
			       "crypttab volumes depend on the KEK (see vhsmctl kek volumes), they are\n"
			       "listed and the delete is refused without --force.\n");
			return EXIT_OK;
		} else {
			return EXIT_USAGE;
		}
	}
	if (!cli_args_count(argc, 1, 1))
		return EXIT_USAGE;
	/* A KEK already deleted gets "already deleted" from the daemon, not a list. */
	r = force ? -1 : kek_state(argv[optind], state, sizeof(state));
	if (r > 0)
		return r;
	if (r == 0 && strcmp(state, "deleted") != 0 &&
	    (r = kek_check_dependents("kek delete", argv[optind], crypttab)) != EXIT_OK)
		return r;
	if (client_begin(&req, VHSM_OP_KEK_DELETE) < 0)
		return EXIT_ERROR;
	vhsm_wire_add_str(&req.b, VHSM_TAG_NAME, argv[optind]);
	if (days >= 0)
		vhsm_wire_add_u32(&req.b, VHSM_TAG_DAYS, (uint32_t)days);
	return lifecycle_call(&kek_kind, &req, KEK_DELETED, argv[optind], NULL);
}

int verb_kek_acl(int argc, char **argv)
{
	return lifecycle_acl(&kek_kind, argc, argv, KEK_ACL_SET);
}
