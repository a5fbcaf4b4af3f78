/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsmctl key create|list|show|sign|decrypt|disable|enable|delete|recover|purge|acl|cert|
 * attest: asymmetric key pairs held by vhsmd (the private key never leaves it).
 * Data to sign or decrypt comes on stdin, results go to stdout (binary); decrypted data never
 * to a terminal.
 */
#include <getopt.h>
#include <inttypes.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "ct.h"
#include "evidence.h"
#include "fileio.h"
#include "json-cleanup.h"
#include "json.h"
#include "lifecycle.h"
#include "parse-util.h"
#include "secmem.h"
#include "vhsmctl.h"

#define KEY_IO_MAX (16u * 1024u)

/* ---- printing ---- */

static void fmt_key_line(json_object *k)
{
	json_object *u;
	char t[32], usage[32] = "";

	if (json_member(k, NULL, "usage", json_type_array, &u, NULL, 0) == 0)
		for (size_t i = 0; i < json_object_array_length(u); i++)
			snprintf(usage + strlen(usage), sizeof(usage) - strlen(usage), "%s%s",
				 i ? "," : "", cli_esc(json_object_get_string(
						       json_object_array_get_idx(u, i))));
	printf("%-24s %-8s %-13s %-9s %-20s %.16s\n", cli_jstr(k, "name"), cli_jstr(k, "alg"),
	       usage, cli_jstr(k, "state"), cli_fmt_time(cli_jint(k, "created"), t, sizeof(t)),
	       cli_jstr(k, "id"));
}

static void fmt_key_list(json_object *o)
{
	printf("%-24s %-8s %-13s %-9s %-20s %s\n", "NAME", "ALG", "USAGE", "STATE", "CREATED",
	       "ID");
	for (size_t i = 0; i < json_object_array_length(o); i++)
		fmt_key_line(json_object_array_get_idx(o, i));
}

static void fmt_key_show(json_object *k)
{
	char t[32];

	printf("name:             %s\n", cli_jstr(k, "name"));
	printf("id:               %s\n", cli_jstr(k, "id"));
	printf("algorithm:        %s\n", cli_jstr(k, "alg"));
	fmt_key_line(k); /* usage, as in the listing */
	printf("state:            %s\n", cli_jstr(k, "state"));
	printf("created:          %s\n", cli_fmt_time(cli_jint(k, "created"), t, sizeof(t)));
	printf("updated:          %s\n", cli_fmt_time(cli_jint(k, "updated"), t, sizeof(t)));
	if (cli_jint(k, "deleted_at"))
		printf("purge after:      %s (recoverable until then)\n",
		       cli_fmt_time(cli_jint(k, "deleted_at") + cli_jint(k, "retention_days") * 86400,
				    t, sizeof(t)));
	printf("retention:        %" PRId64 " days\n", cli_jint(k, "retention_days"));
	printf("purge protection: %s\n", cli_jbool(k, "purge_protection") ? "on" : "off");
	printf("acl:              %s\n", cli_jstr(k, "acl")[0] ? cli_jstr(k, "acl") : "(admins only)");
}

/* Writes a reply field to path (public data, 0644). */
static int write_field(const struct client_reply *rep, uint16_t tag, const char *path)
{
	const struct vhsm_wire_field *f = vhsm_wire_get(&rep->msg, tag);

	if (!path)
		return 0;
	if (!f || fileio_write_atomic(path, f->value, f->len, 0644) < 0) {
		cli_error("%s: cannot write %s", arg_verb, path);
		return EXIT_ERROR;
	}
	return 0;
}

/* Sends req and prints the key of the reply (KEY_CREATE, KEY_GET), writing its files. */
static int key_reply_print(struct client_req *req, const char *cert_out, const char *pub_out)
{
	_cleanup_(json_object_putp) json_object *o = NULL;
	struct client_reply rep;
	int r = client_call_checked(req, arg_verb, &rep);

	if (r != EXIT_OK)
		return r;
	r = write_field(&rep, VHSM_TAG_CERT, cert_out) ?: write_field(&rep, VHSM_TAG_PUBKEY, pub_out);
	o = client_parse_json(&rep);
	if (r == 0 && (arg_json || !o))
		client_print_json(&rep);
	else if (r == 0)
		fmt_key_show(o);
	client_reply_done(&rep);
	return r ? r : EXIT_OK;
}

/* ---- create, list, show ---- */

static int parse_usage(const char *s, uint64_t *flags)
{
	_cleanup_free_ char *copy = strdup(s);
	char *save = NULL;

	if (!copy)
		return EXIT_ERROR;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (strcmp(t, "sign") == 0)
			*flags |= VHSM_KEY_FLAG_SIGN;
		else if (strcmp(t, "decrypt") == 0)
			*flags |= VHSM_KEY_FLAG_DECRYPT;
		else {
			cli_error("key create: unknown usage '%s' (sign, decrypt)", t);
			return EXIT_USAGE;
		}
	}
	return 0;
}

int verb_key_create(int argc, char **argv)
{
	enum { O_ALG = 256, O_USAGE, O_ACL, O_PURGE, O_DAYS, O_PROFILE, O_CERT, O_PUB, O_JSON };
	static const struct option opts[] = {
		{ "alg", required_argument, NULL, O_ALG },
		{ "usage", required_argument, NULL, O_USAGE },
		{ "acl", required_argument, NULL, O_ACL },
		{ "purge-protection", no_argument, NULL, O_PURGE },
		{ "retention-days", required_argument, NULL, O_DAYS },
		{ "profile", required_argument, NULL, O_PROFILE },
		{ "cert-out", required_argument, NULL, O_CERT },
		{ "pubkey-out", required_argument, NULL, O_PUB },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *alg = NULL, *acl = NULL, *profile = NULL, *cert = NULL, *pub = NULL;
	uint64_t flags = 0;
	long days = -1;
	struct client_req req;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case O_ALG: alg = optarg; break;
		case O_USAGE:
			r = parse_usage(optarg, &flags);
			if (r)
				return r;
			break;
		case O_ACL: acl = optarg; break;
		case O_PURGE: flags |= VHSM_KEY_FLAG_PURGE_PROTECTION; break;
		case O_DAYS:
			r = cli_parse_retention_days(optarg, &days);
			if (r)
				return r;
			break;
		case O_PROFILE: profile = optarg; break;
		case O_CERT: cert = optarg; break;
		case O_PUB: pub = optarg; break;
		case O_JSON: arg_json = true; break;
		case 'h':
			printf("Usage: vhsmctl key create NAME --alg ALG --usage sign[,decrypt]\n"
			       "         [--acl ACL] [--purge-protection] [--retention-days N]\n"
			       "         [--profile strict|author|vtpm] [--cert-out FILE] [--pubkey-out FILE]\n"
			       "         [--json]\n\n"
			       "Generates a key pair inside vhsmd, sealed to this CVM and never\n"
			       "extractable. ALG: rsa2048 rsa3072 rsa4096 ec-p256 ec-p384 (decrypt:\n"
			       "RSA only). ACL: KIND:WHO:OPS[;...], OPS from sign decrypt read admin all.\n"
			       "The self-signed certificate (DER) and public key (DER SPKI) can be\n"
			       "written to files. The certificate carries an SNP report binding the key,\n"
			       "except on the vtpm platform: there use key attest for its evidence.\n");
			return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (!cli_args_count(argc, 1, 1))
		return EXIT_USAGE;
	if (!alg || !(flags & (VHSM_KEY_FLAG_SIGN | VHSM_KEY_FLAG_DECRYPT))) {
		cli_error("key create: --alg and --usage are required");
		return EXIT_USAGE;
	}
	if (client_begin(&req, VHSM_OP_KEY_CREATE) < 0)
		return EXIT_ERROR;
	vhsm_wire_add_str(&req.b, VHSM_TAG_NAME, argv[optind]);
	vhsm_wire_add_str(&req.b, VHSM_TAG_KEY_ALG, alg);
	vhsm_wire_add_u64(&req.b, VHSM_TAG_FLAGS, flags);
	if (acl)
		vhsm_wire_add_str(&req.b, VHSM_TAG_ACL, acl);
	if (days >= 0)
		vhsm_wire_add_u32(&req.b, VHSM_TAG_DAYS, (uint32_t)days);
	if (profile)
		vhsm_wire_add_str(&req.b, VHSM_TAG_PROFILE, profile);
	return key_reply_print(&req, cert, pub);
}

int verb_key_show(int argc, char **argv)
{
	enum { O_CERT = 256, O_PUB, O_JSON };
	static const struct option opts[] = {
		{ "cert-out", required_argument, NULL, O_CERT },
		{ "pubkey-out", required_argument, NULL, O_PUB },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *cert = NULL, *pub = NULL;
	struct client_req req;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case O_CERT: cert = optarg; break;
		case O_PUB: pub = optarg; break;
		case O_JSON: arg_json = true; break;
		case 'h':
			printf("Usage: vhsmctl key show NAME [--cert-out FILE] [--pubkey-out FILE] "
			       "[--json]\n");
			return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (!cli_args_count(argc, 1, 1))
		return EXIT_USAGE;
	if (client_begin(&req, VHSM_OP_KEY_GET) < 0)
		return EXIT_ERROR;
	vhsm_wire_add_str(&req.b, VHSM_TAG_NAME, argv[optind]);
	return key_reply_print(&req, cert, pub);
}

/* ---- sign, decrypt ---- */

static const struct {
	const char *name;
	uint32_t ckm;
} mechs[] = {
	{ "rsa-pkcs", 0x0001 },		   { "rsa-pkcs-oaep", 0x0009 },
	{ "rsa-pkcs-pss", 0x000d },	   { "sha256-rsa-pkcs", 0x0040 },
	{ "sha384-rsa-pkcs", 0x0041 },	   { "sha512-rsa-pkcs", 0x0042 },
	{ "sha256-rsa-pkcs-pss", 0x0043 }, { "sha384-rsa-pkcs-pss", 0x0044 },
	{ "sha512-rsa-pkcs-pss", 0x0045 }, { "ecdsa", 0x1041 },
	{ "ecdsa-sha256", 0x1044 },	   { "ecdsa-sha384", 0x1045 },
};

static const struct {
	const char *name;
	uint32_t ckm, mgf, len;
} hashes[] = {
	{ "sha1", 0x0220, 1, 20 },   { "sha224", 0x0255, 5, 28 }, { "sha256", 0x0250, 2, 32 },
	{ "sha384", 0x0260, 3, 48 }, { "sha512", 0x0270, 4, 64 },
};

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

struct mech_opts {
	const char *mech, *hash, *label;
	long salt;
};

/* MECH and MECH_PARAM from the options: 0 or EXIT_USAGE (said). */
static int add_mech(struct client_req *req, const struct mech_opts *o)
{
	uint8_t param[12 + 256];
	size_t i, h, plen = 0;
	uint32_t ckm;

	for (i = 0; i < ELEMENTSOF(mechs) && strcmp(mechs[i].name, o->mech); i++)
		;
	if (i == ELEMENTSOF(mechs)) {
		cli_error("%s: unknown mechanism '%s'", arg_verb, o->mech);
		return EXIT_USAGE;
	}
	ckm = mechs[i].ckm;
	for (h = 0; h < ELEMENTSOF(hashes) && strcmp(hashes[h].name, o->hash ?: "sha256"); h++)
		;
	if (h == ELEMENTSOF(hashes)) {
		cli_error("%s: unknown hash '%s'", arg_verb, o->hash);
		return EXIT_USAGE;
	}
	if (strstr(o->mech, "pss")) {
		put32(param, hashes[h].ckm);
		put32(param + 4, hashes[h].mgf);
		put32(param + 8, o->salt >= 0 ? (uint32_t)o->salt : hashes[h].len);
		plen = 12;
	} else if (ckm == 0x0009) {
		size_t l = o->label ? strlen(o->label) : 0;
		if (l > 256) {
			cli_error("%s: --label is at most 256 bytes", arg_verb);
			return EXIT_USAGE;
		}
		put32(param, hashes[h].ckm);
		put32(param + 4, hashes[h].mgf);
		put32(param + 8, l ? 1 : 0);
		memcpy(param + 12, o->label ?: "", l);
		plen = 12 + l;
	}
	vhsm_wire_add_u32(&req->b, VHSM_TAG_MECH, ckm);
	if (plen)
		vhsm_wire_add_data(&req->b, VHSM_TAG_MECH_PARAM, param, plen);
	return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return negative_errno();
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int key_crypt(int argc, char **argv, uint16_t op)
{
	enum { O_MECH = 256, O_HASH, O_SALT, O_LABEL };
	static const struct option opts[] = {
		{ "mech", required_argument, NULL, O_MECH },
		{ "hash", required_argument, NULL, O_HASH },
		{ "salt-len", required_argument, NULL, O_SALT },
		{ "label", required_argument, NULL, O_LABEL },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct mech_opts o = { .salt = -1 };
	_cleanup_secmem_ uint8_t *in = NULL;
	struct client_req req;
	struct client_reply rep;
	size_t in_len;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case O_MECH: o.mech = optarg; break;
		case O_HASH: o.hash = optarg; break;
		case O_SALT: {
			int64_t v;
			if (parse_int64(optarg, 0, 1024, &v) < 0) {
				cli_error("%s: invalid --salt-len '%s'", arg_verb, optarg);
				return EXIT_USAGE;
			}
			o.salt = (long)v;
			break;
		}
		case O_LABEL: o.label = optarg; break;
		case 'j': arg_json = true; break;
		case 'h':
			printf("Usage: vhsmctl key sign NAME --mech MECH [--hash H] [--salt-len N] "
			       "< data > signature\n"
			       "       vhsmctl key decrypt NAME --mech rsa-pkcs|rsa-pkcs-oaep [--hash H] "
			       "[--label S] < ciphertext > plaintext\n\n"
			       "MECH: rsa-pkcs rsa-pkcs-pss sha256|sha384|sha512-rsa-pkcs[-pss] ecdsa\n"
			       "ecdsa-sha256 ecdsa-sha384 (rsa-pkcs, rsa-pkcs-pss and ecdsa sign a hash or\n"
			       "DigestInfo the caller made). H (PSS, OAEP; MGF1 with the same hash): sha1\n"
			       "sha224 sha256 (default) sha384 sha512. ECDSA signatures are r||s.\n");
			return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (!cli_args_count(argc, 1, 1))
		return EXIT_USAGE;
	if (!o.mech) {
		cli_error("%s: --mech is required", arg_verb);
		return EXIT_USAGE;
	}
	if (isatty(STDIN_FILENO) || (op == VHSM_OP_KEY_DECRYPT && isatty(STDOUT_FILENO))) {
		cli_error("%s: reads standard input and writes binary to standard output; refusing "
			  "a terminal", arg_verb);
		return EXIT_USAGE;
	}
	r = fileio_read_fd_secret(STDIN_FILENO, KEY_IO_MAX, &in, &in_len);
	if (r < 0) {
		cli_error("%s: reading standard input: %s", arg_verb,
			  r == -EMSGSIZE ? "more than 16 KiB" : strerror(-r));
		return r == -EMSGSIZE ? EXIT_USAGE : EXIT_ERROR;
	}
	if (client_begin(&req, op) < 0)
		return EXIT_ERROR;
	vhsm_wire_add_str(&req.b, VHSM_TAG_NAME, argv[optind]);
	r = add_mech(&req, &o);
	if (r) {
		client_req_done(&req);
		return r;
	}
	vhsm_wire_add_data(&req.b, VHSM_TAG_DATA, in, in_len);
	r = client_call_checked(&req, arg_verb, &rep);
	if (r != EXIT_OK)
		return r;
	const struct vhsm_wire_field *out = vhsm_wire_get(&rep.msg, VHSM_TAG_DATA);
	if (!out || write_all(STDOUT_FILENO, out->value, out->len) < 0) {
		cli_error("%s: %s", arg_verb, out ? "writing standard output failed" : "no data");
		r = EXIT_ERROR;
	}
	client_reply_done(&rep);
	return r;
}

int verb_key_sign(int argc, char **argv)
{
	return key_crypt(argc, argv, VHSM_OP_KEY_SIGN);
}

int verb_key_decrypt(int argc, char **argv)
{
	return key_crypt(argc, argv, VHSM_OP_KEY_DECRYPT);
}

/* ---- lifecycle ---- */

enum key_action {
	KEY_DISABLED,
	KEY_ENABLED,
	KEY_DELETED,
	KEY_RECOVERED,
	KEY_PURGED,
	KEY_ACL_SET,
	KEY_CERT_STORED,
	_KEY_ACTION_MAX,
};

/* What a done action prints after "key pair NAME", and what EALREADY means (NULL: a refusal). */
static const char *const key_done[_KEY_ACTION_MAX] = {
	[KEY_DISABLED] = "disabled",
	[KEY_ENABLED] = "enabled",
	[KEY_DELETED] = "deleted (key recover undoes this)",
	[KEY_RECOVERED] = "recovered",
	[KEY_PURGED] = "purged: destroyed for good",
	[KEY_ACL_SET] = "ACL set",
	[KEY_CERT_STORED] = "certificate stored",
};
static const char *const key_already_text[_KEY_ACTION_MAX] = {
	[KEY_DISABLED] = "is already disabled",
	[KEY_ENABLED] = "is already enabled",
	[KEY_DELETED] = "is already deleted",
	[KEY_RECOVERED] = "is not deleted: nothing to recover",
};

static const char *key_already(int a)
{
	return a >= 0 && a < _KEY_ACTION_MAX ? key_already_text[a] : NULL;
}

static void print_key_action(int a, const char *name, json_object *o)
{
	(void)o;
	printf("key pair %s %s\n", cli_esc(name), key_done[a]);
}

/* --json: the key pair's JSON (or {} when nothing changed) with "name" and "changed". */
static void print_key_action_json(int a, const char *name, json_object *o, bool changed,
				  const char *warning)
{
	_cleanup_(json_object_putp) json_object *n = o ? NULL : json_object_new_object();
	json_object *out = o ?: n;

	(void)a;
	(void)warning;
	if (out && !json_member_present(out, "name"))
		json_object_object_add(out, "name", json_object_new_string(name));
	if (out)
		json_object_object_add(out, "changed", json_object_new_boolean(changed));
	cli_print_json_object(out);
}

/* The lifecycle verbs that take only NAME (and key acl), by action. */
static const struct lifecycle_verb key_verbs[_KEY_ACTION_MAX] = {
	[KEY_DISABLED] = { VHSM_OP_KEY_DISABLE, "key disable NAME [--json]" },
	[KEY_ENABLED] = { VHSM_OP_KEY_ENABLE, "key enable NAME [--json]" },
	[KEY_RECOVERED] = { VHSM_OP_KEY_RECOVER, "key recover NAME [--json]" },
	[KEY_PURGED] = { VHSM_OP_KEY_PURGE, "key purge NAME [--json]" },
	[KEY_ACL_SET] = { VHSM_OP_KEY_SET_ACL,
			  "key acl NAME [ACL] [--json]   (no ACL: admins only)" },
};

static const struct lifecycle_kind key_kind = {
	.noun = "key pair",
	.plural = "key pairs",
	.op_list = VHSM_OP_KEY_LIST,
	.verbs = key_verbs,
	.already = key_already,
	.print_done = print_key_action,
	.print_json = print_key_action_json,
	.warn_action = -1,
};

int verb_key_list(int argc, char **argv)
{
	return lifecycle_list(&key_kind, argc, argv, "key list [--json]", fmt_key_list);
}

int verb_key_disable(int argc, char **argv)
{
	return lifecycle_simple(&key_kind, argc, argv, KEY_DISABLED);
}

int verb_key_enable(int argc, char **argv)
{
	return lifecycle_simple(&key_kind, argc, argv, KEY_ENABLED);
}

int verb_key_recover(int argc, char **argv)
{
	return lifecycle_simple(&key_kind, argc, argv, KEY_RECOVERED);
}

int verb_key_purge(int argc, char **argv)
{
	return lifecycle_simple(&key_kind, argc, argv, KEY_PURGED);
}

int verb_key_delete(int argc, char **argv)
{
	enum { O_DAYS = 256 };
	static const struct option opts[] = {
		{ "retention-days", required_argument, NULL, O_DAYS },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct client_req req;
	long days = -1;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case O_DAYS:
			r = cli_parse_retention_days(optarg, &days);
			if (r)
				return r;
			break;
		case 'j': arg_json = true; break;
		case 'h':
			printf("Usage: vhsmctl key delete NAME [--retention-days N] [--json]\n\n"
			       "Soft delete: unusable, recoverable with key recover for the retention\n"
			       "(default the key pair's), purged with key purge.\n");
			return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (!cli_args_count(argc, 1, 1))
		return EXIT_USAGE;
	if (client_begin(&req, VHSM_OP_KEY_DELETE) < 0)
		return EXIT_ERROR;
	vhsm_wire_add_str(&req.b, VHSM_TAG_NAME, argv[optind]);
	if (days >= 0)
		vhsm_wire_add_u32(&req.b, VHSM_TAG_DAYS, (uint32_t)days);
	return lifecycle_call(&key_kind, &req, KEY_DELETED, argv[optind], NULL);
}

int verb_key_acl(int argc, char **argv)
{
	return lifecycle_acl(&key_kind, argc, argv, KEY_ACL_SET);
}

/* A certificate file, PEM or DER, as DER (malloc'ed). 0 or EXIT_* (said). */
static int read_cert(const char *path, uint8_t **ret, size_t *ret_len)
{
	_cleanup_free_ uint8_t *data = NULL;
	size_t len;
	int r = fileio_read_all(path, 64u * 1024u, &data, &len);

	if (r < 0) {
		cli_error("key cert: cannot read %s: %s", path, strerror(-r));
		return EXIT_USAGE;
	}
	if (len > 10 && memcmp(data, "-----BEGIN", 10) == 0) {
		BIO *b = BIO_new_mem_buf(data, (int)len);
		X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
		unsigned char *der = NULL;
		int n = x ? i2d_X509(x, &der) : -1;
		BIO_free(b);
		X509_free(x);
		if (n <= 0) {
			cli_error("key cert: %s is not a PEM certificate", path);
			return EXIT_USAGE;
		}
		free(data);
		data = malloc((size_t)n);
		if (data)
			memcpy(data, der, (size_t)n);
		OPENSSL_free(der);
		if (!data)
			return EXIT_ERROR;
		len = (size_t)n;
	}
	*ret = TAKE_PTR(data);
	*ret_len = len;
	return 0;
}

int verb_key_cert(int argc, char **argv)
{
	_cleanup_free_ uint8_t *cert = NULL;
	struct client_req req;
	size_t len;
	int r = cli_simple_opts(argc, argv, "key cert NAME FILE [--json]   (PEM or DER X.509; "
				"its public key must be the key pair's)");

	if (r)
		return r < 0 ? EXIT_OK : r;
	if (!cli_args_count(argc, 2, 2))
		return EXIT_USAGE;
	r = read_cert(argv[optind + 1], &cert, &len);
	if (r)
		return r;
	if (client_begin(&req, VHSM_OP_KEY_SET_CERT) < 0)
		return EXIT_ERROR;
	vhsm_wire_add_str(&req.b, VHSM_TAG_NAME, argv[optind]);
	vhsm_wire_add_data(&req.b, VHSM_TAG_CERT, cert, len);
	return lifecycle_call(&key_kind, &req, KEY_CERT_STORED, argv[optind], NULL);
}

/* ---- attest ---- */

/* The key attestation file (docs/pkcs11.md): what vhsm-byok verify-key checks. */
static int write_attestation(const struct client_reply *rep, const char *name,
			     const uint8_t *nonce, size_t nonce_len, const char *out)
{
	_cleanup_(json_object_putp) json_object *o = json_object_new_object();
	_cleanup_free_ char *nhex = cli_hex(nonce, nonce_len);

	if (!o || !nhex)
		return EXIT_ERROR;
	json_object_object_add(o, "format", json_object_new_string("vhsm-key-attestation-v1"));
	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "nonce", json_object_new_string(nhex));
	json_object_object_add(o, "spki",
			       cli_json_base64(vhsm_wire_get(&rep->msg, VHSM_TAG_PUBKEY)));
	json_object_object_add(o, "report",
			       cli_json_base64(vhsm_wire_get(&rep->msg, VHSM_TAG_REPORT)));
	json_object_object_add(o, "certs",
			       cli_json_base64(vhsm_wire_get(&rep->msg, VHSM_TAG_CERTS)));
	return cli_write_json_file(o, "key attest", out);
}

int verb_key_attest(int argc, char **argv)
{
	enum { O_NONCE = 256, O_OUT };
	static const struct option opts[] = {
		{ "nonce", required_argument, NULL, O_NONCE },
		{ "out", required_argument, NULL, O_OUT },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *nonce_hex = NULL, *out = NULL;
	uint8_t nonce[CLI_NONCE_MAX];
	size_t nonce_len = 0;
	struct client_req req;
	struct client_reply rep;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case O_NONCE: nonce_hex = optarg; break;
		case O_OUT: out = optarg; break;
		case 'j': arg_json = true; break;
		case 'h':
			printf("Usage: vhsmctl key attest NAME [--nonce HEX] --out FILE [--json]\n\n"
			       "A fresh report (SEV-SNP, or HCL on the vtpm platform) binding the key\n"
			       "pair's public key (and the nonce, 1..64 bytes), with its certificates,\n"
			       "as a JSON file for vhsm-byok verify-key on another machine.\n");
			return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (!cli_args_count(argc, 1, 1))
		return EXIT_USAGE;
	if (!out) {
		cli_error("key attest: --out FILE is required");
		return EXIT_USAGE;
	}
	if (nonce_hex && cli_parse_nonce("key attest", nonce_hex, nonce, &nonce_len) != EXIT_OK)
		return EXIT_USAGE;
	if (client_begin(&req, VHSM_OP_KEY_ATTEST) < 0)
		return EXIT_ERROR;
	vhsm_wire_add_str(&req.b, VHSM_TAG_NAME, argv[optind]);
	if (nonce_len)
		vhsm_wire_add_data(&req.b, VHSM_TAG_NONCE, nonce, nonce_len);
	r = client_call_checked(&req, "key attest", &rep);
	if (r != EXIT_OK)
		return r;
	r = write_attestation(&rep, argv[optind], nonce, nonce_len, out);
	client_reply_done(&rep);
	if (r == EXIT_OK && arg_json) {
		_cleanup_(json_object_putp) json_object *o = json_object_new_object();
		if (o)
			json_object_object_add(o, "attestation", json_object_new_string(out));
		cli_print_json_object(o);
	}
	return r;
}
