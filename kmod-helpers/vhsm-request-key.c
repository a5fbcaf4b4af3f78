/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsm-request-key: request-key(8) handler for `logon` keys "vhsm:<dek>".
 *
 *   vhsm-request-key [--socket PATH] [--debug --description D [--callout C]] KEY UID GID DEST
 *
 * request-key.d/vhsm.conf runs it as root, in init's namespaces, with the authority to
 * instantiate KEY (the kernel's uninstantiated key) for the requester UID/GID. It asks vhsmd
 * (KEYRING_REQUEST) on the requester's behalf; vhsmd checks that uid/gid against the DEK's
 * ACL, the KEK and the attestation gate. On success the key gets the DEK as payload, the
 * DEK's timeout, root as owner, vhsmd's group and the vhsm permissions (lib/keyring.h); on
 * refusal it is rejected with a short timeout and the reason. Every exit goes through
 * finish(). --debug takes the description and callout from the command line, touches no
 * key and prints the outcome (for tests).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <keyutils.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "escape.h"
#include "keyring.h"
#include "parse-util.h"
#include "secmem.h"
#include "wire-client.h"
#include "wire.h"

#ifndef KEY_SPEC_REQUESTOR_KEYRING
#define KEY_SPEC_REQUESTOR_KEYRING -8 /* linux/keyctl.h: the destination of request_key(2) */
#endif

#define REQUEST_KEY_MESSAGE_MAX 4096u

static const char *arg_socket; /* --socket, else $VHSM_SOCKET, else the default */
static bool arg_debug;
static const char *arg_description;
static const char *arg_callout = "";

struct outcome {
	key_serial_t key;
	int err;                /* 0: instantiate; else the errno the requester gets */
	uint8_t *payload;       /* secmem */
	size_t len;
	uint32_t timeout;
	uint32_t gid;           /* vhsmd's group */
};

static void log_msg(int prio, const char *fmt, ...) _printf_(2, 3);
static void log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (arg_debug || isatty(STDERR_FILENO)) {
		fputs("vhsm-request-key: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	} else {
		/* syslog(3): the journal reads /dev/log, and the helper need not load libsystemd
		 * (and its compression and crypto libraries) at every upcall. */
		openlog("vhsm-request-key", LOG_PID, LOG_DAEMON);
		vsyslog(prio, fmt, ap);
	}
	va_end(ap);
}

/* The kernel's helper starts with whatever fds 0-2 are; make sure they are open. */
static void fds_safe(void)
{
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			_exit(3);
}

/*
 * Gives the still uninstantiated key the vhsm owner, group, permissions and timeout, then
 * instantiates it. The requester owns the key until the chown and holds every possessor
 * permission, so it could clear the timeout or strip our permissions; doing all of this
 * before the payload exists means such a race leaves at worst a key we reject, never a DEK
 * key without its timeout or that nobody but the requester can revoke.
 * The group is set twice: between the chown and the setperm the requester still has the
 * possessor's setattr, with which the kernel lets any possessor move the key into one of its
 * own groups (keyctl_chown_key asks for setattr, not ownership, to change the group); the
 * group's setattr in KEYRING_DEK_PERM would then be the requester's. After the setperm no
 * possessor has setattr, so the second chown puts vhsmd's group back for good, and the
 * timeout set after it stays.
 */
/* Whether /proc/keys shows an expiry for key: 1, 0 ("perm"), or -errno (-ENOENT: not seen). */
static int key_has_expiry(key_serial_t key)
{
	FILE *f = fopen("/proc/keys", "re");
	struct keyring_proc_key k;
	char line[1024];
	int r = -ENOENT;

	if (!f)
		return -errno;
	while (r == -ENOENT && fgets(line, sizeof(line), f))
		if (keyring_proc_parse_line(line, &k) == 0 && k.serial == key)
			r = strcmp(k.expiry, "perm") != 0;
	fclose(f);
	return r;
}

static int instantiate(const struct outcome *o)
{
	if (keyctl_chown(o->key, KEYRING_DEK_OWNER, o->gid) < 0 ||
	    keyctl_setperm(o->key, KEYRING_DEK_PERM) < 0 ||
	    keyctl_chown(o->key, KEYRING_DEK_OWNER, o->gid) < 0 ||
	    keyctl_set_timeout(o->key, o->timeout) < 0 ||
	    keyctl_instantiate(o->key, o->payload, o->len, 0) < 0)
		return negative_errno();
	if (o->timeout == 0)
		return 0;
	/* The kernel checks a set_timeout's permission before it locks the key: a requester's
	 * call that passed the check before our setperm can still clear the timeout after ours.
	 * Set it again as the owner, and if the key still has none, revoke it: a race may end in
	 * a refused key, never in a DEK key that outlives its timeout. */
	if (keyctl_set_timeout(o->key, o->timeout) == 0 && key_has_expiry(o->key) == 1)
		return 0;
	(void)keyctl_revoke(o->key);
	log_msg(LOG_WARNING, "key %d: its timeout was cleared while it was made: revoked", o->key);
	return 0;
}

/* The one exit: instantiates or rejects the key, logs, returns the exit status. */
static int finish(struct outcome *o, const char *reason)
{
	int r = 0;

	if (arg_debug) {
		if (o->err == 0)
			printf("instantiate %zu bytes timeout %u gid %u\n", o->len, o->timeout, o->gid);
		else
			printf("reject %s timeout %u: %s\n", strerror(o->err),
			       KEYRING_NEGATIVE_TIMEOUT, reason);
	} else if (o->err == 0) {
		r = instantiate(o);
		if (r < 0) {
			log_msg(LOG_ERR, "key %d: cannot instantiate: %s", o->key, strerror(-r));
			(void)keyctl_reject(o->key, KEYRING_NEGATIVE_TIMEOUT, (unsigned)-r, 0);
		}
	} else if (o->key > 0) {
		if (o->err == ENOKEY)
			r = keyctl_negate(o->key, KEYRING_NEGATIVE_TIMEOUT, 0);
		else
			r = keyctl_reject(o->key, KEYRING_NEGATIVE_TIMEOUT, (unsigned)o->err, 0);
		if (r < 0)
			log_msg(LOG_ERR, "key %d: cannot reject: %m", o->key);
	}
	if (o->err)
		log_msg(LOG_NOTICE, "key %d refused (%s): %s", o->key, strerror(o->err), reason);
	o->payload = secmem_free(o->payload);
	return o->err || r < 0 ? 1 : 0;
}

/* A keyring serial, or a negative KEY_SPEC_* value as request-key's %S gives it. */
static int parse_keyring(const char *s, int32_t *ret)
{
	int64_t v;

	if (parse_int64(s, INT32_MIN, INT32_MAX, &v) < 0)
		return -EINVAL;
	*ret = (int32_t)v;
	return 0;
}

static int parse_u32(const char *s, uint32_t *ret)
{
	return parse_uint32(s, 0, UINT32_MAX, ret) < 0 ? -EINVAL : 0;
}

/* Reads the key's description and checks it is ours and belongs to uid/gid. */
static int describe(key_serial_t key, uint32_t uid, uint32_t gid, char *name, size_t namelen,
		    const char **why)
{
	_cleanup_free_ char *d = NULL;
	struct keyring_key_desc k;
	const char *desc;

	if (arg_debug) {
		if (!arg_description)
			return *why = "--debug needs --description", -EINVAL;
		desc = arg_description;
	} else {
		if (keyctl_describe_alloc(key, &d) < 0)
			return *why = "cannot describe the key", negative_errno();
		/* The whole description, so that "vhsm:NAME\n<more>" is refused below. */
		if (keyring_describe_parse(d, &k) < 0 || strcmp(k.type, KEYRING_DEK_TYPE) != 0)
			return *why = "not a logon key", -EINVAL;
		if (k.uid != uid || k.gid != gid)
			return *why = "uid/gid differ from the key's owner", -EINVAL;
		desc = k.description;
	}
	/* Exactly "vhsm:" and a valid name: no byte after it (a newline, a space) passes. */
	if (keyring_dek_name(desc, name, namelen) < 0)
		return *why = "description is not vhsm:<DEK name>", -EINVAL;
	return 0;
}

static int read_callout(uint32_t *ret_timeout, const char **why)
{
	_cleanup_free_ void *buf = NULL;
	long n;

	if (arg_debug)
		n = (long)strlen(arg_callout), buf = strdup(arg_callout);
	else
		n = keyctl_read_alloc(KEY_SPEC_REQKEY_AUTH_KEY, &buf);
	if (n < 0 || !buf)
		return *why = "cannot read the callout information", -EIO;
	if (keyring_parse_callout(buf, (size_t)n, ret_timeout) < 0)
		return *why = "callout information is not empty or timeout=SECONDS", -EINVAL;
	return 0;
}

/* One KEYRING_REQUEST round trip through lib/wire-client; fills o on success, or returns
 * -errno with *why. */
static int ask_vhsmd(struct outcome *o, const char *name, uint32_t uid, uint32_t gid,
		     key_serial_t dest, uint32_t timeout, char *why, size_t whylen)
{
	_cleanup_vhsm_client_ struct vhsm_client *c = NULL;
	struct vhsm_wire_builder *b;
	const struct vhsm_wire_field *f;
	int r;

	/* Request and reply are small (a name, four integers; a DEK of at most 64 bytes and a
	 * message of at most 1 KiB): 4 KiB each of secure memory instead of the 64 KiB
	 * maximum saves locking and wiping about 30 pages at every upcall. */
	r = vhsm_client_new(arg_socket, REQUEST_KEY_MESSAGE_MAX, 0, &c);
	if (r < 0) {
		snprintf(why, whylen, "vhsmd at %s: %s", arg_socket, strerror(-r));
		return r == -ENOMEM ? r : -EINVAL;
	}
	b = vhsm_client_begin(c, VHSM_OP_KEYRING_REQUEST);
	vhsm_wire_add_str(b, VHSM_TAG_NAME, name);
	vhsm_wire_add_u32(b, VHSM_TAG_UID, uid);
	vhsm_wire_add_u32(b, VHSM_TAG_GID, gid);
	vhsm_wire_add_i32(b, VHSM_TAG_SERIAL, o->key);
	vhsm_wire_add_i32(b, VHSM_TAG_KEYRING, dest);
	if (timeout != UINT32_MAX)
		vhsm_wire_add_u32(b, VHSM_TAG_TIMEOUT, timeout);
	if (vhsm_wire_finish(b) < 0)
		return -EINVAL; /* the request could not be built */
	r = vhsm_client_call(c, vhsm_client_deadline(VHSM_CLIENT_TIMEOUT_MS));
	/* The daemon's text is escaped before it reaches the journal or a terminal (--debug). */
	if (r == -ETIMEDOUT || r == -EPROTO || r == -EMSGSIZE) {
		text_escape(c->error, why, whylen);
		return r == -ETIMEDOUT ? r : -EPROTO;
	}
	if (r < 0) {
		/* Not reachable (connect or send failed): the requester sees ECONNREFUSED. */
		snprintf(why, whylen, "vhsmd at %s: %s", arg_socket, strerror(-r));
		return -ECONNREFUSED;
	}
	if (c->status < 0) {
		text_escape(c->message[0] ? c->message : "refused by vhsmd", why, whylen);
		return c->status;
	}
	f = vhsm_wire_get(&c->msg, VHSM_TAG_DATA);
	if (c->msg.op != (VHSM_OP_KEYRING_REQUEST | VHSM_OP_REPLY_FLAG) || !f ||
	    (f->len != 32 && f->len != 64) ||
	    vhsm_wire_get_u32(&c->msg, VHSM_TAG_TIMEOUT, &o->timeout) < 0 ||
	    vhsm_wire_get_u32(&c->msg, VHSM_TAG_GID, &o->gid) < 0) {
		snprintf(why, whylen, "incomplete reply from vhsmd");
		return -EPROTO;
	}
	o->payload = secmem_dup(f->value, f->len);
	if (!o->payload)
		return -ENOMEM;
	o->len = f->len;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: vhsm-request-key [--socket PATH] KEY UID GID DEST_KEYRING\n"
		   "       vhsm-request-key --debug --description vhsm:NAME [--callout C] [--socket PATH]\n"
		   "                        KEY UID GID DEST_KEYRING\n"
		   "       vhsm-request-key --version | --help\n\n"
		   "request-key(8) handler for vhsm logon keys (see vhsm-request-key(8)).\n");
}

int main(int argc, char **argv)
{
	enum { O_SOCKET = 256, O_DEBUG, O_DESC, O_CALLOUT, O_VERSION };
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, O_SOCKET },
		{ "debug", no_argument, NULL, O_DEBUG },
		{ "description", required_argument, NULL, O_DESC },
		{ "callout", required_argument, NULL, O_CALLOUT },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{}
	};
	struct outcome o = { .err = EINVAL };
	uint32_t key, uid, gid, timeout;
	int32_t dest;
	char name[128], why[512] = "";
	const char *reason = NULL;
	int c, r;

	fds_safe();
	(void)secmem_harden_process();
	/* "+": options first; DEST may be a negative KEY_SPEC_* value. */
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) >= 0) {
		switch (c) {
		case O_SOCKET: arg_socket = optarg; break;
		case O_DEBUG: arg_debug = true; break;
		case O_DESC: arg_description = optarg; break;
		case O_CALLOUT: arg_callout = optarg; break;
		case 'h': usage(stdout); return 0;
		case O_VERSION: printf("vhsm-request-key %s\n", VHSM_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!arg_socket)
		arg_socket = vhsm_client_socket_default();
	if (argc - optind != 4 || parse_u32(argv[optind], &key) < 0 || key == 0 ||
	    key > INT32_MAX) {
		log_msg(LOG_ERR, "expected KEY UID GID DEST_KEYRING (see --help)");
		return 2; /* no key to reject: the kernel negates it when we exit */
	}
	o.key = (key_serial_t)key;
	if (parse_u32(argv[optind + 1], &uid) < 0 || parse_u32(argv[optind + 2], &gid) < 0 ||
	    parse_keyring(argv[optind + 3], &dest) < 0) {
		finish(&o, "bad UID, GID or DEST_KEYRING argument");
		return 2;
	}
	/* The destination keyring request_key(2) was given, when we may look it up (the
	 * requester's own keyrings need not be searchable by root); else %S as given. */
	if (!arg_debug) {
		key_serial_t ring = keyctl_get_keyring_ID(KEY_SPEC_REQUESTOR_KEYRING, 0);
		if (ring > 0)
			dest = ring;
	}
	r = describe(o.key, uid, gid, name, sizeof(name), &reason);
	if (r == 0)
		r = read_callout(&timeout, &reason);
	if (r < 0) {
		o.err = -r;
		return finish(&o, reason);
	}
	r = ask_vhsmd(&o, name, uid, gid, dest, timeout, why, sizeof(why));
	o.err = r < 0 ? -r : 0;
	return finish(&o, why);
}
