/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsm-fleet: the fleet administrator's KMIP tool, run on an admin host (not in a CVM). It
 * manages the KEKs that CVMs pull from the customer's KMIP key manager, over mutually
 * authenticated TLS with the administrator's certificate:
 *   create NAME [--group G] [--no-activate]      a new AES-256 KEK made by the key manager
 *   register NAME [--group G] --key-file F|-     bring your own 32-byte key (never on argv)
 *   rotate NAME                                  a new key linked to NAME's newest active one
 *   activate ID · revoke ID [--compromised] · destroy ID
 *   list [--name N] [--group G] · show ID
 * docs/fleet.md, vhsm-fleet(1).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "escape.h"
#include "fileio.h"
#include "json-cleanup.h"
#include "kmip-client.h"
#include "kmip.h"
#include "openssl-util.h"
#include "parse-util.h"
#include "secmem.h"
#include "text.h"

enum { EXIT_OK = 0, EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_ERROR = 3 };
#define KEY_FILE_MAX 4096u
#define KEK_BYTES 32
#define MAX_LISTED 1000

DEFINE_TRIVIAL_CLEANUP_FUNC(struct kmip_client *, kmip_client_free);

static const char *arg_servers[KMIP_CLIENT_MAX_ENDPOINTS];
static size_t arg_n_servers;
static const char *arg_ca, *arg_cert, *arg_key, *arg_group, *arg_name, *arg_key_file, *arg_policy;
static int arg_timeout_ms;
static bool arg_json, arg_no_activate, arg_compromised;
/* CRYPTO_secure_malloc_init(): 1 locked, 2 allocated but not locked, 0 failed. */
static int secure_heap;

static void err(const char *fmt, ...) _printf_(1, 2);
static void err(const char *fmt, ...)
{
	char msg[TEXT_ESCAPE_MAX];
	va_list ap;

	/* Messages quote key manager replies, endpoints and names: escaped (lib/escape). */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "vhsm-fleet: %s\n", ESCAPED(msg));
}

/* Untrusted text from the key manager, escaped for the terminal (lib/escape). */
static void print_text(FILE *f, const char *s)
{
	fputs(ESCAPED(s), f);
}

struct session {
	struct kmip_client *client;
	uint8_t *buf; /* secure memory: Register requests carry a key */
	size_t cap;
};

static void session_done(struct session *s)
{
	s->client = kmip_client_free(s->client);
	s->buf = secmem_free(s->buf);
}

static int load_key(EVP_PKEY **ret)
{
	_cleanup_(BIO_freep) BIO *bio = NULL;
	uint8_t *pem = NULL;
	size_t len = 0;
	EVP_PKEY *k = NULL;
	int fd = open(arg_key, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0) {
		err("cannot open client key %s: %m", arg_key);
		return -errno;
	}
	r = fileio_read_fd_secret(fd, 64 * 1024, &pem, &len);
	close(fd);
	if (r < 0) {
		err("cannot read client key %s: %s", arg_key, strerror(-r));
		return r;
	}
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio)
		k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	secmem_free(pem);
	if (!k) {
		err("client key %s: not a PEM private key", arg_key);
		return -EINVAL;
	}
	*ret = k;
	return 0;
}

static int session_open(struct session *s)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
	struct kmip_tls_config cfg = { .ca_file = arg_ca, .cert_file = arg_cert,
				       .timeout_ms = arg_timeout_ms };
	char why[2048];
	int r;

	if (arg_n_servers == 0 || !arg_ca || !arg_cert || !arg_key) {
		err("--server, --ca, --cert and --key are needed (see vhsm-fleet --help)");
		return -EINVAL;
	}
	if (secure_heap != 1) {
		err("cannot lock OpenSSL's secure heap for the client key (RLIMIT_MEMLOCK?)");
		return -ENOMEM;
	}
	r = load_key(&key);
	if (r < 0)
		return r;
	cfg.key = key;
	s->cap = KMIP_TTLV_MAX_MESSAGE + KMIP_TTLV_HEADER_SIZE;
	s->buf = secmem_alloc(s->cap);
	if (!s->buf)
		return -ENOMEM;
	r = kmip_client_open(&cfg, arg_servers, arg_n_servers, &s->client, why, sizeof(why));
	if (r < 0)
		err("no key manager reachable: %s", why);
	return r;
}

/* Sends the request in w (built in s->buf) and parses the one response to op into *resp;
 * a refused operation is reported with the key manager's reason. */
static int call(struct session *s, struct kmip_writer *w, enum kmip_operation op,
		struct kmip_response *resp)
{
	int n = kmip_request_finish(w), r;

	if (n < 0) {
		err("request not built: %s", strerror(-n));
		return n;
	}
	/* The response is read into the same buffer: the request is sent by then. */
	r = kmip_client_call(s->client, s->buf, (size_t)n, s->buf, s->cap);
	secmem_wipe(s->buf + (r > 0 ? r : 0), s->cap - (size_t)(r > 0 ? r : 0));
	if (r < 0) {
		err("%s: %s", kmip_client_endpoint(s->client), strerror(-r));
		return r;
	}
	r = kmip_response_parse(s->buf, (size_t)r, op, resp);
	if (r < 0) {
		err("%s: malformed KMIP response", kmip_client_endpoint(s->client));
		return r;
	}
	if (resp->status != KMIP_STATUS_SUCCESS) {
		fprintf(stderr, "vhsm-fleet: the key manager refused (status %u, reason %u): ",
			resp->status, resp->reason);
		print_text(stderr, resp->message);
		fputc('\n', stderr);
		return -EPERM;
	}
	return 0;
}

static void request(struct session *s, struct kmip_writer *w, enum kmip_operation op)
{
	kmip_writer_init(w, s->buf, s->cap);
	kmip_request_begin(w, 1, 2, op);
}

static int response_uid(const struct kmip_response *resp, char *uid, size_t len)
{
	if (!resp->has_payload ||
	    kmip_get_text(&resp->payload, KMIP_TAG_UNIQUE_IDENTIFIER, uid, len) < 0) {
		err("the key manager's response names no object");
		return -EBADMSG;
	}
	return 0;
}

static int uid_op(struct session *s, enum kmip_operation op, const char *uid)
{
	struct kmip_writer w;
	struct kmip_response resp;

	request(s, &w, op);
	kmip_put_uid(&w, uid);
	if (op == KMIP_OP_REVOKE)
		kmip_put_revocation(&w, arg_compromised ? KMIP_REVOKE_KEY_COMPROMISE
							: KMIP_REVOKE_UNSPECIFIED,
				    time(NULL));
	return call(s, &w, op, &resp);
}

static void print_result(const char *action, const char *uid, const char *name)
{
	if (arg_json) {
		_cleanup_(json_object_putp) json_object *o = json_object_new_object();

		json_object_object_add(o, "result", json_object_new_string(action));
		json_object_object_add(o, "id", json_object_new_string(uid));
		if (name)
			json_object_object_add(o, "name", json_object_new_string(name));
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		return;
	}
	printf("%s %s", action, ESCAPED(uid));
	if (name)
		printf(" (%s)", ESCAPED(name));
	putchar('\n');
}

/* Creates (key NULL) or registers an AES-256 key named name, replacing replaces (or NULL). */
static int make_key(struct session *s, const char *name, const uint8_t *key,
		    const char *replaces, char *uid, size_t uidlen)
{
	struct kmip_writer w;
	struct kmip_response resp;
	enum kmip_operation op = key ? KMIP_OP_REGISTER : KMIP_OP_CREATE;
	int r;

	request(s, &w, op);
	kmip_put_aes_template(&w, KEK_BYTES * 8, name, arg_group, replaces, arg_policy);
	if (key)
		kmip_put_aes_key(&w, key, KEK_BYTES);
	r = call(s, &w, op, &resp);
	if (r < 0)
		return r;
	r = response_uid(&resp, uid, uidlen);
	if (r < 0 || arg_no_activate)
		return r;
	return uid_op(s, KMIP_OP_ACTIVATE, uid);
}

static bool name_ok(const char *name)
{
	if (text_name_valid((const uint8_t *)name, strlen(name), KMIP_MAX_TEXT))
		return true;
	err("invalid name: 1-%d characters of UTF-8 without control characters or '/'",
	    KMIP_MAX_TEXT);
	return false;
}

static int verb_create(struct session *s, const char *name)
{
	char uid[KMIP_MAX_TEXT + 1];
	int r = make_key(s, name, NULL, NULL, uid, sizeof(uid));

	if (r == 0)
		print_result(arg_no_activate ? "created" : "created and activated", uid, name);
	return r;
}

static int verb_register(struct session *s, const char *name)
{
	uint8_t *key = NULL;
	size_t len = 0;
	char uid[KMIP_MAX_TEXT + 1];
	int fd, r;

	if (!arg_key_file) {
		err("register: --key-file FILE (or - for standard input) is needed");
		return -EINVAL;
	}
	fd = strcmp(arg_key_file, "-") == 0 ? dup(STDIN_FILENO)
					    : open(arg_key_file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err("cannot open %s: %m", arg_key_file);
		return -errno;
	}
	r = fileio_read_fd_secret(fd, KEY_FILE_MAX, &key, &len);
	close(fd);
	if (r == 0 && len != KEK_BYTES) {
		err("register: the key must be exactly %d raw bytes, got %zu", KEK_BYTES, len);
		r = -EINVAL;
	}
	if (r == 0)
		r = make_key(s, name, key, NULL, uid, sizeof(uid));
	secmem_free(key);
	if (r == 0)
		print_result(arg_no_activate ? "registered" : "registered and activated", uid, name);
	return r;
}

/* Attributes of one object, for list, show and rotate. */
struct object {
	char uid[KMIP_MAX_TEXT + 1];
	char name[KMIP_MAX_TEXT + 1];
	char group[KMIP_MAX_TEXT + 1];
	char replaces[KMIP_MAX_TEXT + 1];
	uint32_t state;
	int32_t bits;
	int64_t initial;
};


static int get_object(struct session *s, const char *uid, struct object *ret)
{
	static const char *const attrs[] = { "Name", "State", "Object Group",
					     "Cryptographic Length", "Initial Date", "Link",
					     "Application Specific Information" };
	struct object o = {};
	struct kmip_writer w;
	struct kmip_response resp;
	struct kmip_item v;
	int r;

	request(s, &w, KMIP_OP_GET_ATTRIBUTES);
	kmip_put_uid(&w, uid);
	for (size_t i = 0; i < ELEMENTSOF(attrs); i++)
		kmip_put_attribute_name(&w, attrs[i]);
	r = call(s, &w, KMIP_OP_GET_ATTRIBUTES, &resp);
	if (r < 0)
		return r;
	if (!resp.has_payload)
		return -EBADMSG;
	snprintf(o.uid, sizeof(o.uid), "%s", uid);
	if (kmip_get_attribute(&resp.payload, "Name", 0, &v) == 0 &&
	    kmip_find(&v, KMIP_TAG_NAME_VALUE, KMIP_TYPE_TEXT_STRING, &v) == 0)
		kmip_attr_text(&v, o.name, sizeof(o.name));
	if (kmip_get_attribute(&resp.payload, "State", 0, &v) == 0)
		(void)kmip_item_enum(&v, &o.state);
	if (kmip_get_attribute(&resp.payload, "Object Group", 0, &v) == 0)
		kmip_attr_text(&v, o.group, sizeof(o.group));
	if (kmip_get_attribute(&resp.payload, "Cryptographic Length", 0, &v) == 0)
		(void)kmip_item_int(&v, &o.bits);
	if (kmip_get_attribute(&resp.payload, "Initial Date", 0, &v) == 0)
		(void)kmip_item_long(&v, &o.initial);
	kmip_get_replaced_object(&resp.payload, o.replaces, sizeof(o.replaces));
	*ret = o;
	return 0;
}

/* The identifiers of the objects matching --name/--group (or name), at most max. */
static int locate(struct session *s, const char *name, char (*uids)[KMIP_MAX_TEXT + 1],
		  size_t max, size_t *ret_n)
{
	struct kmip_writer w;
	struct kmip_response resp;
	struct kmip_iter it;
	struct kmip_item item;
	size_t n = 0;
	int r;

	request(s, &w, KMIP_OP_LOCATE);
	if (name)
		kmip_put_name_attribute(&w, name);
	if (arg_group)
		kmip_put_group_attribute(&w, arg_group);
	r = call(s, &w, KMIP_OP_LOCATE, &resp);
	if (r < 0)
		return r;
	if (resp.has_payload) {
		kmip_iter_init(&it, &resp.payload);
		while (kmip_iter_next(&it, &item) && n < max)
			if (item.tag == KMIP_TAG_UNIQUE_IDENTIFIER &&
			    item.type == KMIP_TYPE_TEXT_STRING && item.len <= KMIP_MAX_TEXT) {
				memcpy(uids[n], item.value, item.len);
				uids[n++][item.len] = 0;
			}
	}
	*ret_n = n;
	return 0;
}

static json_object *object_json(const struct object *o)
{
	json_object *j = json_object_new_object();

	json_object_object_add(j, "id", json_object_new_string(o->uid));
	json_object_object_add(j, "name", json_object_new_string(o->name));
	json_object_object_add(j, "state", json_object_new_string(kmip_state_to_string(o->state)));
	json_object_object_add(j, "group", o->group[0] ? json_object_new_string(o->group) : NULL);
	json_object_object_add(j, "bits", json_object_new_int(o->bits));
	json_object_object_add(j, "replaces",
			       o->replaces[0] ? json_object_new_string(o->replaces) : NULL);
	return j;
}

static void object_print(const struct object *o)
{
	printf("%-20s ", ESCAPED(o->uid));
	print_text(stdout, o->name[0] ? o->name : "-");
	printf("  %-12s %4d  ", kmip_state_to_string(o->state), o->bits);
	print_text(stdout, o->group[0] ? o->group : "-");
	if (o->replaces[0]) {
		fputs("  replaces ", stdout);
		print_text(stdout, o->replaces);
	}
	putchar('\n');
}

static int verb_list(struct session *s)
{
	_cleanup_free_ char(*uids)[KMIP_MAX_TEXT + 1] = calloc(MAX_LISTED, sizeof(*uids));
	_cleanup_(json_object_putp) json_object *arr = json_object_new_array();
	size_t n = 0;
	int r;

	if (!uids || !arr)
		return -ENOMEM;
	r = locate(s, arg_name, uids, MAX_LISTED, &n);
	if (r < 0)
		return r;
	if (!arg_json && n > 0)
		printf("%-20s %s  %-12s %4s  %s\n", "ID", "NAME", "STATE", "BITS", "GROUP");
	for (size_t i = 0; i < n; i++) {
		struct object o;

		r = get_object(s, uids[i], &o);
		if (r < 0)
			return r;
		if (arg_json)
			json_object_array_add(arr, object_json(&o));
		else
			object_print(&o);
	}
	if (arg_json)
		puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
	return 0;
}

static int verb_show(struct session *s, const char *uid)
{
	struct object o;
	int r = get_object(s, uid, &o);

	if (r < 0)
		return r;
	if (arg_json) {
		_cleanup_(json_object_putp) json_object *j = object_json(&o);

		puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
	} else {
		object_print(&o);
	}
	return 0;
}

/* The newest active object named name: the one no other active object of the name replaces. */
static int newest_active(struct session *s, const char *name, struct object *ret)
{
	_cleanup_free_ char(*uids)[KMIP_MAX_TEXT + 1] = calloc(MAX_LISTED, sizeof(*uids));
	_cleanup_free_ struct object *objs = calloc(MAX_LISTED, sizeof(*objs));
	size_t n = 0, active = 0, found = 0;
	int r;

	if (!uids || !objs)
		return -ENOMEM;
	r = locate(s, name, uids, MAX_LISTED, &n);
	for (size_t i = 0; r == 0 && i < n; i++) {
		r = get_object(s, uids[i], &objs[active]);
		if (r == 0 && objs[active].state == KMIP_STATE_ACTIVE)
			active++;
	}
	if (r < 0)
		return r;
	for (size_t i = 0; i < active; i++) {
		bool replaced = false;

		for (size_t j = 0; j < active; j++)
			replaced |= strcmp(objs[j].replaces, objs[i].uid) == 0;
		if (!replaced) {
			*ret = objs[i];
			found++;
		}
	}
	if (found != 1) {
		err("rotate: %s has %zu active keys that no newer key replaces; expected one",
		    name, found);
		return -ENOTUNIQ;
	}
	return 0;
}

static int verb_rotate(struct session *s, const char *name)
{
	struct object old;
	char uid[KMIP_MAX_TEXT + 1];
	int r = newest_active(s, name, &old);

	if (r < 0)
		return r;
	if (!arg_group && old.group[0])
		arg_group = old.group;
	r = make_key(s, name, NULL, old.uid, uid, sizeof(uid));
	if (r == 0)
		print_result("rotated", uid, name);
	return r;
}

static void help(void)
{
	printf("Usage: vhsm-fleet [OPTIONS] VERB [ARG]\n"
	       "Manage the KEKs that vhsm CVMs pull from a KMIP key manager.\n\n"
	       "Verbs:\n"
	       "  create NAME            a new AES-256 KEK, made by the key manager\n"
	       "  register NAME          your own 32-byte KEK (--key-file FILE, - for stdin)\n"
	       "  rotate NAME            a new key replacing NAME's newest active key\n"
	       "  activate ID            make a pre-active key usable\n"
	       "  revoke ID              deactivate (--compromised: compromised, CVMs shred)\n"
	       "  destroy ID             destroy a revoked or pre-active key\n"
	       "  list                   keys, filtered by --name and --group\n"
	       "  show ID                one key's attributes\n\n"
	       "Options:\n"
	       "  --server HOST:PORT     key manager endpoint; repeat for failover (max %d)\n"
	       "  --ca FILE              CA certificate(s) that sign the server's (pinned)\n"
	       "  --cert FILE            the administrator's client certificate\n"
	       "  --key FILE             its private key\n"
	       "  --timeout MS           per network step (default %d)\n"
	       "  --group G              object group (create, register, list)\n"
	       "  --policy P             the key manager's operation policy for new keys\n"
	       "                         (create, register, rotate; it must let the CVMs'\n"
	       "                         identities Locate, Get and GetAttributes)\n"
	       "  --name N               filter for list\n"
	       "  --no-activate          leave new keys pre-active\n"
	       "  --compromised          revoke as compromised\n"
	       "  --json                 JSON output\n"
	       "  --version, --help\n",
	       KMIP_CLIENT_MAX_ENDPOINTS, KMIP_CLIENT_TIMEOUT_MS_DEFAULT);
}

static int parse_timeout(const char *s)
{
	uint32_t v;

	if (parse_uint32(s, 100, 600000, &v) < 0) {
		err("--timeout: a number of milliseconds from 100 to 600000, not '%s'", s);
		return -EINVAL;
	}
	arg_timeout_ms = (int)v;
	return 0;
}

static int parse_args(int argc, char **argv)
{
	enum { O_SERVER = 0x100, O_CA, O_CERT, O_KEY, O_TIMEOUT, O_GROUP, O_NAME, O_KEYFILE,
	       O_NOACT, O_COMP, O_JSON, O_VERSION, O_POLICY };
	static const struct option opts[] = {
		{ "server", required_argument, NULL, O_SERVER },
		{ "ca", required_argument, NULL, O_CA },
		{ "cert", required_argument, NULL, O_CERT },
		{ "key", required_argument, NULL, O_KEY },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "group", required_argument, NULL, O_GROUP },
		{ "policy", required_argument, NULL, O_POLICY },
		{ "name", required_argument, NULL, O_NAME },
		{ "key-file", required_argument, NULL, O_KEYFILE },
		{ "no-activate", no_argument, NULL, O_NOACT },
		{ "compromised", no_argument, NULL, O_COMP },
		{ "json", no_argument, NULL, O_JSON },
		{ "version", no_argument, NULL, O_VERSION },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_SERVER:
			if (arg_n_servers == KMIP_CLIENT_MAX_ENDPOINTS) {
				err("at most %d --server options", KMIP_CLIENT_MAX_ENDPOINTS);
				return EXIT_USAGE;
			}
			arg_servers[arg_n_servers++] = optarg;
			break;
		case O_CA: arg_ca = optarg; break;
		case O_CERT: arg_cert = optarg; break;
		case O_KEY: arg_key = optarg; break;
		case O_TIMEOUT:
			if (parse_timeout(optarg) < 0)
				return EXIT_USAGE;
			break;
		case O_GROUP: arg_group = optarg; break;
		case O_POLICY: arg_policy = optarg; break;
		case O_NAME: arg_name = optarg; break;
		case O_KEYFILE: arg_key_file = optarg; break;
		case O_NOACT: arg_no_activate = true; break;
		case O_COMP: arg_compromised = true; break;
		case O_JSON: arg_json = true; break;
		case O_VERSION: printf("vhsm-fleet %s\n", VHSM_VERSION); return -1;
		case 'h': help(); return -1;
		default: return EXIT_USAGE;
		}
	}
	if ((arg_group && !name_ok(arg_group)) || (arg_name && !name_ok(arg_name)) ||
	    (arg_policy && !name_ok(arg_policy)))
		return EXIT_USAGE;
	return EXIT_OK;
}

struct verb {
	const char *name;
	bool takes_arg;
	int (*with_arg)(struct session *s, const char *arg);
	int (*without_arg)(struct session *s);
};

static int verb_activate(struct session *s, const char *uid)
{
	int r = uid_op(s, KMIP_OP_ACTIVATE, uid);

	if (r == 0)
		print_result("activated", uid, NULL);
	return r;
}

static int verb_revoke(struct session *s, const char *uid)
{
	int r = uid_op(s, KMIP_OP_REVOKE, uid);

	if (r == 0)
		print_result(arg_compromised ? "revoked as compromised" : "revoked", uid, NULL);
	return r;
}

static int verb_destroy(struct session *s, const char *uid)
{
	int r = uid_op(s, KMIP_OP_DESTROY, uid);

	if (r == 0)
		print_result("destroyed", uid, NULL);
	return r;
}

static const struct verb verbs[] = {
	{ "create", true, verb_create, NULL },     { "register", true, verb_register, NULL },
	{ "rotate", true, verb_rotate, NULL },     { "activate", true, verb_activate, NULL },
	{ "revoke", true, verb_revoke, NULL },     { "destroy", true, verb_destroy, NULL },
	{ "list", false, NULL, verb_list },        { "show", true, verb_show, NULL },
};

static int run_verb(const struct verb *v, const char *arg)
{
	struct session s = {};
	int r;

	if (v->takes_arg && (strcmp(v->name, "create") == 0 || strcmp(v->name, "register") == 0 ||
			     strcmp(v->name, "rotate") == 0) &&
	    !name_ok(arg))
		return EXIT_USAGE;
	r = session_open(&s);
	if (r == 0)
		r = v->takes_arg ? v->with_arg(&s, arg) : v->without_arg(&s);
	session_done(&s);
	if (r == -EINVAL)
		return EXIT_USAGE;
	return r == 0 ? EXIT_OK : r == -EPERM ? EXIT_REFUSED : EXIT_ERROR;
}

int main(int argc, char **argv)
{
	int r;

	(void)secmem_harden_process(); /* KEKs and the client key pass through this process */
	/* Private keys OpenSSL loads (the client key) go to its locked secure heap. */
	secure_heap = CRYPTO_secure_malloc_init(64 * 1024, 64);
	r = parse_args(argc, argv);
	if (r != EXIT_OK)
		return r < 0 ? EXIT_OK : r;
	if (optind >= argc) {
		help();
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
		const struct verb *v = &verbs[i];
		int want = v->takes_arg ? 2 : 1;

		if (strcmp(argv[optind], v->name) != 0)
			continue;
		if (argc - optind != want) {
			err("%s: %s (see vhsm-fleet --help)", v->name,
			    v->takes_arg ? "takes one argument" : "takes no argument");
			return EXIT_USAGE;
		}
		return run_verb(v, v->takes_arg ? argv[optind + 1] : NULL);
	}
	err("unknown verb '%s' (see vhsm-fleet --help)", argv[optind]);
	return EXIT_USAGE;
}
