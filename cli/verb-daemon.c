/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsmctl verbs served by vhsmd: status, kek *, wrap/unwrap/rewrap, audit, attestation report.
 * Key material moves only through stdin/stdout and secure memory, never argv.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "ct.h"
#include "fileio.h"
#include "secmem.h"
#include "vhsmctl.h"
#include "wrap.h"

/* Runs a request that returns JSON, printing it (pretty with --json, else via fmt). */
static int call_and_print(struct client_req *req, const char *what,
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

static const char *jstr(json_object *o, const char *k)
{
	json_object *v;

	/* Daemon-provided text reaches the terminal escaped. */
	return json_object_object_get_ex(o, k, &v) ? cli_esc(json_object_get_string(v)) : "";
}

static int64_t jint(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

static const char *fmt_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || !gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "-");
	return buf;
}

static bool no_extra_args(int argc, char **argv, int min, int max)
{
	int n = argc - optind;

	if (n < min || n > max) {
		cli_error("%s: expected %d%s argument%s, got %d (see --help)", argv[0], min,
			  max > min ? " or more" : "", max == 1 ? "" : "s", n);
		return false;
	}
	return true;
}

/* Parses only --help / --json for verbs without options; returns -1 after printing help. */
static int simple_opts(int argc, char **argv, const char *usage)
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
			return -1;
		} else {
			return EXIT_USAGE;
		}
	}
	return 0;
}

/* ---- status ---- */

static void fmt_status_attestation(json_object *o)
{
	json_object *a, *f;
	char t[32];

	if (!json_object_object_get_ex(o, "attestation", &a))
		return;
	if (!jint(a, "done")) {
		printf("attestation: not yet run\n");
		return;
	}
	printf("attestation: %s at %s\n", jint(a, "passed") ? "PASSED" : "FAILED",
	       fmt_time(jint(a, "time"), t, sizeof(t)));
	/* Each failed check or rule with the value seen and the value required. */
	if (json_object_object_get_ex(a, "findings", &f) && json_object_array_length(f) > 0)
		for (size_t i = 0; i < json_object_array_length(f); i++) {
			json_object *e = json_object_array_get_idx(f, i);
			printf("  fail  %-28s %s\n", jstr(e, "check"), jstr(e, "detail"));
		}
	else if (!jint(a, "passed"))
		printf("  failing: %s %s\n", jstr(a, "failures"), jstr(a, "error"));
	if (jstr(a, "product")[0])
		printf("  %s, measurement %.24s..., reported TCB %s\n", jstr(a, "product"),
		       jstr(a, "measurement"), jstr(a, "reported_tcb"));
}

static void fmt_status(json_object *o)
{
	json_object *a;

	printf("vhsmd %s, device %s%s%s\n", jstr(o, "version"), jstr(o, "device"),
	       jint(o, "simulated") ? " (SIMULATED: not AMD hardware)" : "",
	       jint(o, "locked_out") ? " (LOCKED OUT: VMPCK disabled, reboot the VM)" : "");
	printf("state dir %s, ", jstr(o, "state_dir"));
	if (json_object_object_get_ex(o, "keks", &a)) /* administrators only */
		printf("%" PRId64 " KEKs, ", jint(o, "keks"));
	printf("%" PRId64 " requests served\n", jint(o, "requests"));
	if (jint(o, "policy_valid"))
		printf("policy %s (sha256 %.16s...)\n", jstr(o, "policy"),
		       jstr(o, "policy_digest"));
	else
		printf("policy INVALID: %s\n  nothing is released until the file is fixed "
		       "(vhsmctl policy check; systemctl reload vhsmd)\n", jstr(o, "policy_error"));
	if (jint(o, "store_rollbacks"))
		printf("STORE ROLLBACK: %" PRId64 " sealed file(s) refused as rolled back or replaced "
		       "(see the journal)\n", jint(o, "store_rollbacks"));
	if (json_object_object_get_ex(o, "audit", &a))
		printf("audit log: %" PRId64 " of %" PRId64 " bytes, records %" PRId64 "..%" PRId64
		       "%s%s\n", jint(a, "bytes"), jint(a, "budget"), jint(a, "first_seq"),
		       jint(a, "seq"), !jint(a, "open") ? ", NOT OPEN (no audit key yet)" : jint(a, "keyed") ? ", keyed" : ", UNKEYED",
		       jint(a, "alert") ? " (ALERT: near the budget, oldest segments are pruned)"
					: "");
	fmt_status_attestation(o);
	json_object *d;
	if (json_object_object_get_ex(o, "damaged_keks", &d))
		for (size_t i = 0; i < json_object_array_length(d); i++)
			printf("DAMAGED KEK %s: %s\n", jstr(json_object_array_get_idx(d, i), "name"),
			       jstr(json_object_array_get_idx(d, i), "error"));
}

/* The gate passes: a valid policy and a passing attestation (exit 1 otherwise). */
static bool status_gate_open(json_object *o)
{
	json_object *a;

	return o && jint(o, "policy_valid") && json_object_object_get_ex(o, "attestation", &a) &&
	       jint(a, "passed");
}

static int verb_status(int argc, char **argv)
{
	struct client_req req;
	struct client_reply rep;
	int r = simple_opts(argc, argv, "status [--json]");

	if (r)
		return r < 0 ? EXIT_OK : r;
	if (!no_extra_args(argc, argv, 0, 0))
		return EXIT_USAGE;
	if (client_begin(&req, VHSM_OP_STATUS) < 0)
		return EXIT_ERROR;
	r = client_call_checked(&req, "status", &rep);
	if (r != EXIT_OK)
		return r;
	json_object *o = client_parse_json(&rep);
	if (arg_json || !o)
		client_print_json(&rep);
	else
		fmt_status(o);
	r = status_gate_open(o) ? EXIT_OK : EXIT_REJECTED;
	json_object_put(o);
	client_reply_done(&rep);
	return r;
}

/* ---- kek ---- */

static void fmt_kek_line(json_object *e)
{
	json_object *k, *vs;
	char t[32];

	if (!json_object_object_get_ex(e, "kek", &k))
		return;
	size_t nv = json_object_object_get_ex(k, "versions", &vs) ? json_object_array_length(vs) : 0;
	printf("%-24s %-9s %4zu  %-7s %-20s %s\n", jstr(k, "name"), jstr(k, "state"), nv,
	       jstr(e, "profile"), fmt_time(jint(k, "created"), t, sizeof(t)),
	       jint(k, "purge_protection") ? "yes" : "no");
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

	if (!json_object_object_get_ex(o, "kek", &k))
		return;
	printf("name:             %s\n", jstr(k, "name"));
	printf("state:            %s\n", jstr(k, "state"));
	printf("profile:          %s (sealed at TCB %s, guest SVN %" PRId64 ")\n",
	       jstr(o, "profile"), jstr(o, "sealed_tcb"), jint(o, "guest_svn"));
	printf("created:          %s\n", fmt_time(jint(k, "created"), t, sizeof(t)));
	printf("updated:          %s\n", fmt_time(jint(k, "updated"), t, sizeof(t)));
	if (jint(k, "deleted_at"))
		printf("deleted:          %s\n", fmt_time(jint(k, "deleted_at"), t, sizeof(t)));
	printf("retention:        %" PRId64 " days\n", jint(k, "retention_days"));
	printf("purge protection: %s\n", jint(k, "purge_protection") ? "on" : "off");
	printf("exportable:       %s\n", jint(k, "exportable") ? "yes" : "no");
	printf("attestation:      %s\n", jint(k, "attest_each_use") ? "fresh for every use"
									: "gate (interval)");
	printf("sealed under policy sha256 %.16s...%s\n", jstr(o, "policy_digest"),
	       strcmp(jstr(o, "policy_digest"), jstr(o, "current_policy_digest")) == 0
		       ? "" : " (differs from the policy in force; reseal to update)");
	printf("acl:              %s\n", jstr(k, "acl")[0] ? jstr(k, "acl") : "(admins only)");
	if (json_object_object_get_ex(k, "versions", &vs))
		for (size_t i = 0; i < json_object_array_length(vs); i++) {
			json_object *v = json_object_array_get_idx(vs, i);
			printf("version %-8" PRId64 " created %s\n", jint(v, "version"),
			       fmt_time(jint(v, "created"), t, sizeof(t)));
		}
}

int cli_parse_retention_days(const char *s, long *ret)
{
	char *e;
	long v = strtol(s, &e, 10);

	if (*e || e == s || v < 0 || v > 100000) {
		cli_error("invalid --retention-days '%s'", s);
		return EXIT_USAGE;
	}
	*ret = v;
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

static int kek_create(int argc, char **argv)
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
			printf("Usage: vhsmctl kek create NAME [--profile strict|author] [--exportable]\n"
			       "         [--purge-protection] [--retention-days N] [--acl ACL]\n"
			       "         [--attest-each-use]\n\n"
			       "Generates a new AES-256 KEK inside vhsmd and seals it to this CVM.\n"
			       "--attest-each-use: a fresh attestation before every use of the KEK.\n"
			       "Profiles: strict (measurement; default) or author (family/image ID:\n"
			       "survives re-measured updates, but protects only against another chip:\n"
			       "any image on this chip claiming those IDs derives the key without\n"
			       "vhsmd's attestation gate; see docs/sealing.md).\n"
			       "ACL: KIND:WHO:OPS[;...], KIND uid|gid|user|group|unit,\n"
			       "OPS wrap,unwrap,rewrap,read,admin,all (see vhsmctl(1)).\n");
			return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (!no_extra_args(argc, argv, 1, 1))
		return EXIT_USAGE;
	if (client_begin(&req, VHSM_OP_KEK_CREATE) < 0)
		return EXIT_ERROR;
	vhsm_wire_add_str(&req.b, VHSM_TAG_NAME, argv[optind]);
	kek_new_opts_add(&req, &o);
	if (acl)
		vhsm_wire_add_str(&req.b, VHSM_TAG_ACL, acl);
	r = call_and_print(&req, "kek create", NULL);
	if (r == EXIT_OK && !arg_json)
		printf("created KEK %s (version 1)\n", argv[optind]);
	if (r == EXIT_OK)
		kek_new_opts_report(&o, argv[optind], 1);
	return r;
}

static int kek_simple(int argc, char **argv, uint16_t op, const char *usage,
		      void (*fmt)(json_object *o))
{
	struct client_req req;
	int r = simple_opts(argc, argv, usage);

	if (r)
		return r < 0 ? EXIT_OK : r;
	if (!no_extra_args(argc, argv, 1, 1))
		return EXIT_USAGE;
	if (client_begin(&req, op) < 0)
		return EXIT_ERROR;
	vhsm_wire_add_str(&req.b, VHSM_TAG_NAME, argv[optind]);
	return call_and_print(&req, argv[0], fmt);
}

static int kek_list(int argc, char **argv)
{
	struct client_req req;
	int r = simple_opts(argc, argv, "kek list [--json]");

	if (r)
		return r < 0 ? EXIT_OK : r;
	if (!no_extra_args(argc, argv, 0, 0))
		return EXIT_USAGE;
	if (client_begin(&req, VHSM_OP_KEK_LIST) < 0)
		return EXIT_ERROR;
	return call_and_print(&req, "kek list", fmt_kek_list);
}

static int kek_show(int argc, char **argv)
{
	return kek_simple(argc, argv, VHSM_OP_KEK_SHOW, "kek show NAME [--json]", fmt_kek_show);
}
static int kek_rotate(int argc, char **argv)
{
	return kek_simple(argc, argv, VHSM_OP_KEK_ROTATE, "kek rotate NAME", fmt_kek_show);
}
static int kek_reseal(int argc, char **argv)
{
	return kek_simple(argc, argv, VHSM_OP_KEK_RESEAL, "kek reseal NAME", fmt_kek_show);
}
static int kek_enable(int argc, char **argv)
{
	return kek_simple(argc, argv, VHSM_OP_KEK_ENABLE, "kek enable NAME", fmt_kek_show);
}
static int kek_recover(int argc, char **argv)
{
	return kek_simple(argc, argv, VHSM_OP_KEK_RECOVER, "kek recover NAME", fmt_kek_show);
}

static int kek_purge(int argc, char **argv)
{
	int r = kek_simple(argc, argv, VHSM_OP_KEK_PURGE, "kek purge NAME", NULL);

	if (r == EXIT_OK && optind < argc && !arg_json)
		printf("purged KEK %s\n", argv[optind]);
	return r;
}

static int kek_delete(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "retention-days", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct client_req req;
	long days = -1;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		if (c == 'd') {
			if (cli_parse_retention_days(optarg, &days))
				return EXIT_USAGE;
		} else if (c == 'j') {
			arg_json = true;
		} else if (c == 'h') {
			printf("Usage: vhsmctl kek delete NAME [--retention-days N]\n\n"
			       "Soft-deletes a KEK: it stops working and can be recovered until the\n"
			       "retention period (default 90 days, minimum 7) has passed.\n");
			return EXIT_OK;
		} else {
			return EXIT_USAGE;
		}
	}
	if (!no_extra_args(argc, argv, 1, 1))
		return EXIT_USAGE;
	if (client_begin(&req, VHSM_OP_KEK_DELETE) < 0)
		return EXIT_ERROR;
	vhsm_wire_add_str(&req.b, VHSM_TAG_NAME, argv[optind]);
	if (days >= 0)
		vhsm_wire_add_u32(&req.b, VHSM_TAG_DAYS, (uint32_t)days);
	return call_and_print(&req, "kek delete", fmt_kek_show);
}

static int kek_acl(int argc, char **argv)
{
	struct client_req req;
	int r = simple_opts(argc, argv, "kek acl NAME [ACL]\n\n"
			    "Replaces the KEK's ACL (no ACL: admins only). ACL: KIND:WHO:OPS[;...]");

	if (r)
		return r < 0 ? EXIT_OK : r;
	if (!no_extra_args(argc, argv, 1, 2))
		return EXIT_USAGE;
	if (client_begin(&req, VHSM_OP_KEK_SET_ACL) < 0)
		return EXIT_ERROR;
	vhsm_wire_add_str(&req.b, VHSM_TAG_NAME, argv[optind]);
	if (optind + 1 < argc && argv[optind + 1][0])
		vhsm_wire_add_str(&req.b, VHSM_TAG_ACL, argv[optind + 1]);
	return call_and_print(&req, "kek acl", fmt_kek_show);
}

/* ---- wrap / unwrap / rewrap: stdin -> stdout ---- */

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int crypt_verb(int argc, char **argv, uint16_t op)
{
	enum { O_KEK = 256, O_CTX };
	static const struct option opts[] = {
		{ "kek", required_argument, NULL, O_KEK },
		{ "context", required_argument, NULL, O_CTX },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	_cleanup_secmem_ uint8_t *in = NULL;
	const char *kek = NULL, *ctx = NULL;
	struct client_req req;
	struct client_reply rep;
	size_t in_len;
	int c, r, ret;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case O_KEK: kek = optarg; break;
		case O_CTX: ctx = optarg; break;
		case 'h':
			printf("Usage: vhsmctl wrap --kek NAME [--context S] < key > wrapped\n"
			       "       vhsmctl unwrap [--context S] < wrapped > key\n"
			       "       vhsmctl rewrap [--context S] < wrapped > wrapped-newest\n\n"
			       "Binary-safe on stdin/stdout. The context (not secret) is bound to the\n"
			       "wrapped key and must be given again to unwrap it.\n");
			return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (!no_extra_args(argc, argv, 0, 0))
		return EXIT_USAGE;
	if (op == VHSM_OP_WRAP && !kek) {
		cli_error("wrap: --kek NAME is required");
		return EXIT_USAGE;
	}
	if (op != VHSM_OP_WRAP && kek) {
		cli_error("%s: the wrapped key names its KEK; --kek is not used", argv[0]);
		return EXIT_USAGE;
	}
	if (isatty(STDIN_FILENO)) {
		cli_error("%s: reads the key from standard input; refusing a terminal", argv[0]);
		return EXIT_USAGE;
	}
	r = fileio_read_fd_secret(STDIN_FILENO, op == VHSM_OP_WRAP ? WRAP_PLAINTEXT_MAX : WRAP_BLOB_MAX,
				  &in, &in_len);
	if (r < 0) {
		cli_error("%s: reading standard input: %s", argv[0],
			  r == -EMSGSIZE ? "input too large" : strerror(-r));
		return EXIT_ERROR;
	}
	if (in_len == 0) {
		cli_error("%s: standard input is empty", argv[0]);
		return EXIT_USAGE;
	}
	if (client_begin(&req, op) < 0)
		return EXIT_ERROR;
	if (kek)
		vhsm_wire_add_str(&req.b, VHSM_TAG_NAME, kek);
	if (ctx)
		vhsm_wire_add_data(&req.b, VHSM_TAG_CONTEXT, ctx, strlen(ctx));
	vhsm_wire_add_data(&req.b, VHSM_TAG_DATA, in, in_len);
	ret = client_call_checked(&req, argv[0], &rep);
	if (ret != EXIT_OK)
		return ret;
	const struct vhsm_wire_field *out = vhsm_wire_get(&rep.msg, VHSM_TAG_DATA);
	ret = EXIT_OK;
	if (!out) {
		cli_error("%s: reply has no data", argv[0]);
		ret = EXIT_ERROR;
	} else if (write_all(STDOUT_FILENO, out->value, out->len) < 0) {
		cli_error("%s: writing standard output failed", argv[0]);
		ret = EXIT_ERROR;
	}
	client_reply_done(&rep);
	return ret;
}

static int verb_wrap(int argc, char **argv)
{
	return crypt_verb(argc, argv, VHSM_OP_WRAP);
}
static int verb_unwrap(int argc, char **argv)
{
	(void)secmem_harden_process(); /* the plaintext key passes through this process */
	return crypt_verb(argc, argv, VHSM_OP_UNWRAP);
}
static int verb_rewrap(int argc, char **argv)
{
	return crypt_verb(argc, argv, VHSM_OP_REWRAP);
}

/* ---- unwrap-batch ---- */

/* The key of the i-th FILE goes to DIR/<i>.key; a refused item has no file. */
static int batch_write_key(const char *dir, unsigned i, const uint8_t *key, size_t len)
{
	char path[4096];

	if ((size_t)snprintf(path, sizeof(path), "%s/%u.key", dir, i) >= sizeof(path))
		return -ENAMETOOLONG;
	return fileio_write_atomic(path, key, len, 0600);
}

static int verb_unwrap_batch(int argc, char **argv)
{
	enum { O_CTX = 256, O_OUT };
	static const struct option opts[] = {
		{ "context", required_argument, NULL, O_CTX },
		{ "out-dir", required_argument, NULL, O_OUT },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	_cleanup_secmem_ uint8_t *items = NULL;
	const char *ctx = "", *dir = NULL;
	struct vhsm_batch_cursor cur;
	struct client_req req;
	struct client_reply rep;
	const uint8_t *pt;
	size_t off = 0, len;
	unsigned n, i = 0;
	int c, r, e, ret;

	(void)secmem_harden_process(); /* the plaintext keys pass through this process */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case O_CTX: ctx = optarg; break;
		case O_OUT: dir = optarg; break;
		case 'h':
			printf("Usage: vhsmctl unwrap-batch --out-dir DIR [--context S] WRAPPED...\n\n"
			       "Unwraps up to %u wrapped keys in one request. The key of the N-th file\n"
			       "(from 1) is written to DIR/N.key (mode 0600); one line per file on\n"
			       "standard output says \"N FILE ok\" or \"N FILE refused: reason\".\n"
			       "Exit status 0 when every key was unwrapped, 1 when any was refused.\n",
			       VHSM_BATCH_MAX);
			return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	n = (unsigned)(argc - optind);
	if (!dir || n == 0 || n > VHSM_BATCH_MAX) {
		cli_error("unwrap-batch: --out-dir DIR and 1..%u wrapped files are required",
			  VHSM_BATCH_MAX);
		return EXIT_USAGE;
	}
	items = secmem_alloc(VHSM_WIRE_MAX_DATA);
	if (!items)
		return EXIT_ERROR;
	for (int a = optind; a < argc; a++) {
		_cleanup_free_ uint8_t *blob = NULL;
		size_t blob_len;

		r = fileio_read_all(argv[a], WRAP_BLOB_MAX, &blob, &blob_len);
		if (r >= 0 && blob_len == 0)
			r = -EBADMSG;
		if (r >= 0)
			r = vhsm_batch_put_request(items, VHSM_WIRE_MAX_DATA, &off, blob, blob_len,
						   (const uint8_t *)ctx, strlen(ctx));
		if (r < 0) {
			cli_error("unwrap-batch: %s: %s", argv[a],
				  r == -EMSGSIZE ? "the batch is too large" : strerror(-r));
			return r == -EBADMSG ? EXIT_USAGE : EXIT_ERROR;
		}
	}
	if (client_begin(&req, VHSM_OP_UNWRAP_BATCH) < 0)
		return EXIT_ERROR;
	vhsm_wire_add_data(&req.b, VHSM_TAG_BATCH, items, off);
	ret = client_call_checked(&req, "unwrap-batch", &rep);
	if (ret != EXIT_OK)
		return ret;
	const struct vhsm_wire_field *f = vhsm_wire_get(&rep.msg, VHSM_TAG_BATCH);
	if (!f) {
		cli_error("unwrap-batch: reply has no items");
		client_reply_done(&rep);
		return EXIT_ERROR;
	}
	cur = (struct vhsm_batch_cursor){ .p = f->value, .left = f->len };
	while (ret != EXIT_ERROR && (r = vhsm_batch_next_reply(&cur, &e, &pt, &len)) > 0) {
		const char *file;

		if (i >= n) {
			i++; /* more items than files */
			break;
		}
		file = argv[optind + (int)i++];
		if (e < 0) {
			printf("%u %s refused: %s\n", i, file, strerror(-e));
			ret = EXIT_REJECTED;
		} else if ((r = batch_write_key(dir, i, pt, len)) < 0) {
			cli_error("unwrap-batch: writing key %u to %s: %s", i, dir, strerror(-r));
			ret = EXIT_ERROR;
		} else
			printf("%u %s ok\n", i, file);
	}
	if (ret != EXIT_ERROR && (r < 0 || i != n)) {
		cli_error("unwrap-batch: the reply has %u items for %u files", i, n);
		ret = EXIT_ERROR;
	}
	client_reply_done(&rep);
	return ret;
}

/* ---- audit ---- */

static void fmt_audit(json_object *o)
{
	int64_t first = jint(o, "first_seq"), keyed = jint(o, "keyed_from");

	printf("audit log: records %" PRId64 "..%" PRId64 ", hash chain intact\n", first,
	       jint(o, "records"));
	if (jint(o, "pruned"))
		printf("records before %" PRId64 " were pruned by the retention policy (the chain "
		       "verifies from the recorded anchor)\n", first);
	if (keyed > first)
		printf("records %" PRId64 "..%" PRId64 " verified by their structure only (unkeyed "
		       "or keyed by another image); from %" PRId64 " on keyed by this CVM\n",
		       first, keyed - 1, keyed);
	else if (keyed)
		printf("every record keyed by this CVM\n");
	if (jint(o, "reset_seq"))
		printf("the chain was restarted at record %" PRId64 " because the previous log did "
		       "not verify (see that record's reason)\n", jint(o, "reset_seq"));
}

static int verb_audit(int argc, char **argv)
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
	if (!no_extra_args(argc, argv, 0, 0))
		return EXIT_USAGE;
	if (client_begin(&req, VHSM_OP_AUDIT_VERIFY) < 0)
		return EXIT_ERROR;
	return call_and_print(&req, "audit verification", fmt_audit);
}

/* ---- attestation report (from the daemon) ---- */

static int verb_attestation_report(int argc, char **argv)
{
	enum { O_NONCE = 256, O_OUT, O_CERTS };
	static const struct option opts[] = {
		{ "nonce", required_argument, NULL, O_NONCE },
		{ "out", required_argument, NULL, O_OUT },
		{ "certs-out", required_argument, NULL, O_CERTS },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *nonce_hex = NULL, *out = NULL, *certs_out = NULL;
	uint8_t nonce[64];
	size_t nonce_len = 32;
	struct client_req req;
	struct client_reply rep;
	int c, ret;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case O_NONCE: nonce_hex = optarg; break;
		case O_OUT: out = optarg; break;
		case O_CERTS: certs_out = optarg; break;
		case 'h':
			printf("Usage: vhsmctl attestation report [--nonce HEX] --out FILE "
			       "[--certs-out FILE]\n\n"
			       "Asks vhsmd for a fresh report with REPORT_DATA = SHA-512(nonce)\n"
			       "(random nonce if none is given) and the host's certificate table.\n");
			return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (!no_extra_args(argc, argv, 0, 0))
		return EXIT_USAGE;
	if (!out) {
		cli_error("attestation report: --out FILE is required");
		return EXIT_USAGE;
	}
	if (nonce_hex) {
		size_t l = strlen(nonce_hex);
		if (l == 0 || l % 2 || l > 128 || ct_hex_decode(nonce, l / 2, nonce_hex, l) < 0) {
			cli_error("--nonce: 1 to 64 bytes in hex expected");
			return EXIT_USAGE;
		}
		nonce_len = l / 2;
	} else {
		FILE *f = fopen("/dev/urandom", "re");
		if (!f || fread(nonce, 1, nonce_len, f) != nonce_len) {
			if (f)
				fclose(f);
			return EXIT_ERROR;
		}
		fclose(f);
	}
	if (client_begin(&req, VHSM_OP_ATTEST_REPORT) < 0)
		return EXIT_ERROR;
	vhsm_wire_add_data(&req.b, VHSM_TAG_NONCE, nonce, nonce_len);
	ret = client_call_checked(&req, "attestation report", &rep);
	if (ret != EXIT_OK)
		return ret;
	const struct vhsm_wire_field *rf = vhsm_wire_get(&rep.msg, VHSM_TAG_REPORT);
	const struct vhsm_wire_field *cf = vhsm_wire_get(&rep.msg, VHSM_TAG_CERTS);
	ret = EXIT_OK;
	if (!rf || fileio_write_atomic(out, rf->value, rf->len, 0644) < 0 ||
	    (certs_out && cf && fileio_write_atomic(certs_out, cf->value, cf->len, 0644) < 0)) {
		cli_error("attestation report: cannot write the output");
		ret = EXIT_ERROR;
	}
	client_reply_done(&rep);
	return ret;
}

const struct verb verbs_daemon[] = {
	{ "status", NULL, verb_status, "daemon, device and attestation status" },
	{ "attestation", "report", verb_attestation_report, "fresh report from vhsmd for a nonce" },
	{ "kek", "create", kek_create, "generate and seal a new KEK" },
	{ "kek", "list", kek_list, "list KEKs" },
	{ "kek", "show", kek_show, "show one KEK" },
	{ "kek", "rotate", kek_rotate, "add a new version (old versions still unwrap)" },
	{ "kek", "reseal", kek_reseal, "re-seal to the current TCB (after a firmware update)" },
	{ "kek", "disable", verb_kek_disable, "stop using a KEK (--shred: revoke and suspend)" },
	{ "kek", "enable", kek_enable, "re-enable a disabled KEK" },
	{ "kek", "delete", kek_delete, "soft-delete (recoverable for the retention period)" },
	{ "kek", "recover", kek_recover, "undo a soft delete" },
	{ "kek", "purge", kek_purge, "destroy a deleted KEK for good" },
	{ "kek", "acl", kek_acl, "set who may use a KEK" },
	{ "wrap", NULL, verb_wrap, "wrap a key from stdin under a KEK" },
	{ "unwrap", NULL, verb_unwrap, "unwrap a wrapped key from stdin" },
	{ "unwrap-batch", NULL, verb_unwrap_batch, "unwrap many wrapped keys in one request" },
	{ "rewrap", NULL, verb_rewrap, "move a wrapped key to the newest KEK version" },
	{ "audit", NULL, verb_audit, "verify the audit log" },
};
const size_t verbs_daemon_n = ELEMENTSOF(verbs_daemon);
