/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsmctl luks enroll|list|remove|rewrap|unlock: LUKS2 volumes whose keyslot secret vhsmd
 * keeps (docs/boot-unlock.md). The header is changed through libcryptsetup; the volume key
 * never leaves this process, and the keyslot secret only goes into libcryptsetup (or, with an
 * explicit --print-key, to a stdout that is not a terminal).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <getopt.h>
#include <libcryptsetup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "client.h"
#include "ct.h"
#include "fileio.h"
#include "json-cleanup.h"
#include "luks-token.h"
#include "parse-util.h"
#include "secmem.h"
#include "text.h"
#include "vhsmctl.h"

#define UNLOCK_KEY_MAX (64u * 1024u)

static inline void crypt_freep(struct crypt_device **cd)
{
	if (*cd)
		crypt_free(*cd);
}

/* Opens DEVICE and loads its LUKS2 header. Returns 0 or an EXIT_* after printing why. */
static int luks_open(const char *device, struct crypt_device **ret)
{
	struct crypt_device *cd = NULL;
	struct stat st;
	int r;

	if (stat(device, &st) < 0) {
		r = negative_errno();
		if (r == -ENOENT)
			cli_error("%s: not found", device);
		else
			cli_error("%s: %s", device, strerror(-r));
		return EXIT_ERROR;
	}
	r = crypt_init(&cd, device);
	if (r < 0) {
		cli_error("%s: %s", device, strerror(-r));
		return EXIT_ERROR;
	}
	r = crypt_load(cd, CRYPT_LUKS2, NULL);
	if (r < 0) {
		if (crypt_load(cd, CRYPT_LUKS1, NULL) == 0)
			cli_error("%s is a LUKS1 volume; vhsm tokens need LUKS2. Convert it with "
				  "'cryptsetup convert --type luks2 %s' (back up the header first: "
				  "cryptsetup luksHeaderBackup)", device, device);
		else
			cli_error("%s is not a LUKS2 volume: %s", device,
				  r == -EINVAL ? "no LUKS header" : strerror(-r));
		crypt_free(cd);
		return EXIT_REJECTED;
	}
	*ret = cd;
	return 0;
}

/* Reads the unlock passphrase from a file ("-" = stdin) or, without one, from the terminal. */
static int read_unlock_key(const char *file, uint8_t **ret, size_t *ret_len)
{
	struct termios old, quiet;
	_cleanup_close_ int fd = -EBADF;
	int r;

	if (file) {
		fd = strcmp(file, "-") == 0 ? dup(STDIN_FILENO) : open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return negative_errno();
		return fileio_read_fd_secret(fd, UNLOCK_KEY_MAX, ret, ret_len);
	}
	fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || tcgetattr(fd, &old) < 0)
		return -ENOTTY;
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	/* Echo off before the prompt: what is typed after it is neither shown nor flushed. */
	(void)tcsetattr(fd, TCSAFLUSH, &quiet);
	(void)!write(fd, "Current passphrase for the volume: ", 35);
	uint8_t *buf = secmem_alloc(1024);
	size_t n = 0;
	r = buf ? 0 : -ENOMEM;
	while (r == 0 && n < 1024) {
		ssize_t k = read(fd, buf + n, 1);
		if (k <= 0 || buf[n] == '\n')
			break;
		n++;
	}
	(void)tcsetattr(fd, TCSAFLUSH, &old);
	(void)!write(fd, "\n", 1);
	if (r < 0)
		return r;
	*ret = buf;
	*ret_len = n;
	return 0;
}

/* The vhsm token ids of cd (at most 32). */
static int vhsm_tokens(struct crypt_device *cd, int ids[32])
{
	int n = 0;

	for (int i = 0; i < 32; i++) {
		const char *type = NULL;
		if (crypt_token_status(cd, i, &type) == CRYPT_TOKEN_EXTERNAL_UNKNOWN ||
		    crypt_token_status(cd, i, &type) == CRYPT_TOKEN_EXTERNAL)
			if (type && strcmp(type, LUKS_TOKEN_TYPE) == 0)
				ids[n++] = i;
	}
	return n;
}

/* Parses token id of cd into *t. 0 or -EBADMSG (printed). */
static int read_token(struct crypt_device *cd, int id, struct luks_token *t)
{
	const char *json = NULL;
	char why[256];

	if (crypt_token_json_get(cd, id, &json) < 0 || !json ||
	    luks_token_parse(json, strlen(json), t, why, sizeof(why)) < 0) {
		cli_error("token %d: %s", id, json ? why : "unreadable");
		return -EBADMSG;
	}
	return 0;
}

/* --json: {KEY: VAL, ...} of integers and strings, added to arr (or printed when arr is NULL). */
static void json_item(json_object *arr, const char *k1, int64_t v1, const char *k2, int64_t v2,
		      const char *ks, const char *vs)
{
	json_object *o = json_object_new_object();

	if (!o)
		return;
	json_object_object_add(o, k1, json_object_new_int64(v1));
	if (k2)
		json_object_object_add(o, k2, json_object_new_int64(v2));
	if (ks)
		json_object_object_add(o, ks, json_object_new_string(vs));
	if (arr) {
		json_object_array_add(arr, o);
		return;
	}
	cli_print_json_object(o);
	json_object_put(o);
}

/* ---- daemon requests ---- */

/* Reply material for a token (enroll and rewrap). */
static int material_from_reply(const struct client_reply *rep, struct luks_token *t)
{
	const struct vhsm_wire_field *s = vhsm_wire_get(&rep->msg, VHSM_TAG_SEALED_KEK);
	const struct vhsm_wire_field *w = vhsm_wire_get(&rep->msg, VHSM_TAG_WRAPPED_SECRET);
	const struct vhsm_wire_field *d = vhsm_wire_get(&rep->msg, VHSM_TAG_POLICY_DIGEST);
	char profile[16];

	if (!s || !w || !d || s->len > sizeof(t->sealed_kek) || w->len > sizeof(t->wrapped_secret) ||
	    d->len != 32 || vhsm_wire_get_u32(&rep->msg, VHSM_TAG_VERSION, &t->kek_version) < 0 ||
	    vhsm_wire_get_str(&rep->msg, VHSM_TAG_NAME, t->kek, sizeof(t->kek)) < 0 ||
	    vhsm_wire_get_str(&rep->msg, VHSM_TAG_PROFILE, profile, sizeof(profile)) < 0)
		return -EPROTO;
	memcpy(t->sealed_kek, s->value, s->len);
	t->sealed_kek_len = s->len;
	memcpy(t->wrapped_secret, w->value, w->len);
	t->wrapped_secret_len = w->len;
	memcpy(t->policy_digest, d->value, 32);
	t->profile = seal_profile_from_string(profile);
	return t->profile < 0 ? -EPROTO : 0;
}

/* Sends req; on success leaves the reply in rep (caller releases). Returns an EXIT_*. */
static int call(struct client_req *req, const char *what, struct client_reply *rep)
{
	int r = client_call(req, rep);

	client_req_done(req);
	if (r < 0) {
		client_reply_done(rep);
		return EXIT_ERROR;
	}
	if (rep->err) {
		r = client_refused(rep, what);
		client_reply_done(rep);
		return r;
	}
	return EXIT_OK;
}

static void add_material(struct client_req *req, const struct luks_token *t, const char *uuid)
{
	vhsm_wire_add_data(&req->b, VHSM_TAG_SEALED_KEK, t->sealed_kek, t->sealed_kek_len);
	vhsm_wire_add_data(&req->b, VHSM_TAG_WRAPPED_SECRET, t->wrapped_secret,
			   t->wrapped_secret_len);
	vhsm_wire_add_str(&req->b, VHSM_TAG_UUID, uuid);
}

/* Gets the keyslot passphrase of token t (secmem, NUL-terminated). Returns an EXIT_*. */
static int fetch_passphrase(const struct luks_token *t, const char *uuid, char **ret)
{
	struct client_req req;
	struct client_reply rep;
	const struct vhsm_wire_field *f;
	int r;

	if (client_begin(&req, VHSM_OP_LUKS_UNLOCK) < 0)
		return EXIT_ERROR;
	add_material(&req, t, uuid);
	r = call(&req, "unlock", &rep);
	if (r != EXIT_OK)
		return r;
	f = vhsm_wire_get(&rep.msg, VHSM_TAG_DATA);
	char *pass = secmem_alloc(LUKS_PASSPHRASE_LEN + 1);
	if (!f || f->len != LUKS_SECRET_SIZE || !pass) {
		secmem_free(pass);
		client_reply_done(&rep);
		cli_error("malformed reply from vhsmd");
		return EXIT_ERROR;
	}
	ct_base64_encode(pass, f->value, LUKS_SECRET_SIZE);
	client_reply_done(&rep);
	*ret = pass;
	return EXIT_OK;
}

static int bind_volume(const char *volume, const struct luks_token *t, const char *uuid)
{
	struct client_req req;
	struct client_reply rep;
	int r;

	if (client_begin(&req, VHSM_OP_LUKS_BIND) < 0)
		return EXIT_ERROR;
	vhsm_wire_add_str(&req.b, VHSM_TAG_VOLUME, volume);
	add_material(&req, t, uuid);
	r = call(&req, "bind", &rep);
	if (r == EXIT_OK)
		client_reply_done(&rep);
	return r;
}

/* ---- enroll ---- */

struct enroll_args {
	const char *device, *kek, *key_file, *wipe, *volume;
	uint32_t token_timeout; /* seconds; 0: not set */
	bool force;
};

/* Adds the keyslot and the token; on failure removes the keyslot again. Returns an EXIT_*. */
static int enroll_slot(struct crypt_device *cd, const uint8_t *vk, size_t vk_len,
		       struct luks_token *t, const char *pass, int *ret_token)
{
	struct crypt_pbkdf_type pbkdf = {
		.type = CRYPT_KDF_PBKDF2, .hash = "sha512", .iterations = 1000,
		.flags = CRYPT_PBKDF_NO_BENCHMARK,
	};
	_cleanup_free_ char *json = NULL;
	int slot, tok, r;

	r = crypt_set_pbkdf_type(cd, &pbkdf);
	if (r < 0)
		return cli_fail(r, "setting PBKDF2-SHA512");
	slot = crypt_keyslot_add_by_volume_key(cd, CRYPT_ANY_SLOT, (const char *)vk, vk_len, pass,
					       LUKS_PASSPHRASE_LEN);
	if (slot < 0)
		return cli_fail(slot, "adding a keyslot");
	t->keyslot = (unsigned)slot;
	r = luks_token_to_json(t, &json);
	tok = r < 0 ? r : crypt_token_json_set(cd, CRYPT_ANY_TOKEN, json);
	if (tok < 0) {
		(void)crypt_keyslot_destroy(cd, slot);
		return cli_fail(tok, "writing the vhsm token");
	}
	*ret_token = tok;
	return EXIT_OK;
}

/* Gets the volume key with the admin's passphrase. Returns an EXIT_*. */
/* Tries of the passphrase prompt, as cryptsetup's --tries default. */
#define PASSPHRASE_TRIES 3

/* One try: reads the unlock key and gets the volume key with it. Returns an EXIT_*. */
static int try_volume_key(struct crypt_device *cd, const char *key_file, uint8_t *vk,
			  size_t *vk_len)
{
	_cleanup_secmem_ uint8_t *pass = NULL;
	size_t pass_len;
	int r = read_unlock_key(key_file, &pass, &pass_len);

	if (r == -ENOTTY) {
		cli_error("no terminal for the passphrase prompt: use --unlock-key-file");
		return EXIT_USAGE;
	}
	if (r < 0)
		return cli_fail(r, "reading the unlock key");
	r = crypt_volume_key_get(cd, CRYPT_ANY_SLOT, (char *)vk, vk_len, (const char *)pass,
				 pass_len);
	return r < 0 ? EXIT_REJECTED : EXIT_OK;
}

/* Gets the volume key with the admin's passphrase (3 tries on a terminal). Returns an EXIT_*. */
static int get_volume_key(struct crypt_device *cd, const char *key_file, uint8_t **ret,
			  size_t *ret_len)
{
	size_t vk_max = (size_t)crypt_get_volume_key_size(cd), vk_len = vk_max;
	_cleanup_secmem_ uint8_t *vk = secmem_alloc(vk_max ? vk_max : 1);
	int r = EXIT_REJECTED;

	if (!vk)
		return EXIT_ERROR;
	for (int i = 0; i < (key_file ? 1 : PASSPHRASE_TRIES) && r == EXIT_REJECTED; i++) {
		vk_len = vk_max;
		r = try_volume_key(cd, key_file, vk, &vk_len);
		if (r == EXIT_REJECTED && !key_file && i + 1 < PASSPHRASE_TRIES)
			cli_error("no keyslot opens with this passphrase; try again");
	}
	if (r == EXIT_REJECTED && key_file)
		cli_error("the unlock key opens no keyslot of this volume");
	else if (r == EXIT_REJECTED)
		cli_error("the passphrase opens no keyslot of this volume (%d tries)",
			  PASSPHRASE_TRIES);
	if (r != EXIT_OK)
		return r;
	*ret = TAKE_PTR(vk);
	*ret_len = vk_len;
	return EXIT_OK;
}

static int do_wipe(struct crypt_device *cd, const char *spec, unsigned keep_slot);
static int parse_wipe(struct crypt_device *cd, const char *spec, uint32_t *ret);
static uint32_t slots_of_tokens(struct crypt_device *cd, const char *type);

/* The keyslots in use, as a bit mask. */
static uint32_t active_slots(struct crypt_device *cd)
{
	uint32_t used = 0;

	for (int s = 0; s < 32; s++)
		if (crypt_keyslot_status(cd, s) >= CRYPT_SLOT_ACTIVE)
			used |= 1u << s;
	return used;
}

/*
 * --wipe-slot must leave a way in that does not depend on vhsmd: a passphrase or recovery
 * keyslot. Without one, losing this CVM's KEK (a new measurement under the strict profile, a
 * purged KEK, a lost VM) loses the volume. Returns EXIT_OK, or EXIT_REJECTED after saying why.
 */
static int check_wipe_keeps_recovery(struct crypt_device *cd, const char *spec, uint32_t wipe)
{
	uint32_t left = active_slots(cd) & ~wipe & ~slots_of_tokens(cd, LUKS_TOKEN_TYPE);

	if (left)
		return EXIT_OK;
	cli_error("luks enroll: --wipe-slot=%s would leave only vhsm keyslots: the volume could then "
		  "be opened only through vhsmd on this CVM, and losing the KEK would lose the data. "
		  "Keep a passphrase or recovery keyslot, or add --force", spec);
	return EXIT_REJECTED;
}

/* Warns when the volume already has a vhsm token for the KEK that wipe does not remove. */
static void warn_same_kek(struct crypt_device *cd, const char *kek, uint32_t wipe)
{
	struct luks_token t;
	int ids[32], n = vhsm_tokens(cd, ids);

	for (int i = 0; i < n; i++) {
		if (read_token(cd, ids[i], &t) < 0 || strcmp(t.kek, kek) != 0 ||
		    (wipe & (1u << t.keyslot)))
			continue;
		cli_error("warning: the volume already has vhsm token %d for KEK %s (keyslot %u); "
			  "adding another. To replace it: --wipe-slot=vhsm, or vhsmctl luks remove "
			  "--token %d", ids[i], kek, t.keyslot, ids[i]);
	}
}

static int enroll_run(const struct enroll_args *a)
{
	_cleanup_(crypt_freep) struct crypt_device *cd = NULL;
	_cleanup_secmem_ uint8_t *vk = NULL;
	_cleanup_secmem_ char *pass = NULL;
	struct client_req req;
	struct client_reply rep;
	struct luks_token t = {};
	const struct vhsm_wire_field *f;
	size_t vk_len;
	int r, tok;

	r = luks_open(a->device, &cd);
	if (r)
		return r;
	uint32_t mask = 0;
	if (a->wipe && parse_wipe(cd, a->wipe, &mask) < 0) {
		cli_error("--wipe-slot: expected all, password, recovery, vhsm or slot numbers 0..31");
		return EXIT_USAGE;
	}
	if (a->wipe && !a->force && (r = check_wipe_keeps_recovery(cd, a->wipe, mask)))
		return r;
	warn_same_kek(cd, a->kek, mask);
	r = get_volume_key(cd, a->key_file, &vk, &vk_len);
	if (r)
		return r;
	if (client_begin(&req, VHSM_OP_LUKS_ENROLL) < 0)
		return EXIT_ERROR;
	vhsm_wire_add_str(&req.b, VHSM_TAG_NAME, a->kek);
	vhsm_wire_add_str(&req.b, VHSM_TAG_UUID, crypt_get_uuid(cd));
	r = call(&req, "enroll", &rep);
	if (r)
		return r;
	f = vhsm_wire_get(&rep.msg, VHSM_TAG_DATA);
	pass = secmem_alloc(LUKS_PASSPHRASE_LEN + 1);
	if (!pass || !f || f->len != LUKS_SECRET_SIZE || material_from_reply(&rep, &t) < 0) {
		client_reply_done(&rep);
		cli_error("malformed reply from vhsmd");
		return EXIT_ERROR;
	}
	ct_base64_encode(pass, f->value, LUKS_SECRET_SIZE);
	client_reply_done(&rep);
	t.token_timeout = a->token_timeout;
	r = enroll_slot(cd, vk, vk_len, &t, pass, &tok);
	if (r)
		return r;
	if (!arg_json)
		printf("Enrolled keyslot %u with vhsm token %d (KEK %s version %u, %s).\n",
		       t.keyslot, tok, t.kek, t.kek_version, seal_profile_to_string(t.profile));
	if (a->volume) {
		r = bind_volume(a->volume, &t, crypt_get_uuid(cd));
		if (r)
			return r;
		if (!arg_json)
			printf("Volume %s bound for the key socket.\n", a->volume);
	}
	r = a->wipe ? do_wipe(cd, a->wipe, t.keyslot) : EXIT_OK;
	if (r == EXIT_OK && arg_json) {
		_cleanup_(json_object_putp) json_object *o = json_object_new_object();

		if (o) {
			json_object_object_add(o, "keyslot", json_object_new_int64(t.keyslot));
			json_object_object_add(o, "token", json_object_new_int64(tok));
			json_object_object_add(o, "kek", json_object_new_string(t.kek));
			json_object_object_add(o, "kek_version", json_object_new_int64(t.kek_version));
			json_object_object_add(o, "profile", json_object_new_string(
								     seal_profile_to_string(t.profile)));
			json_object_object_add(o, "volume", json_object_new_string(a->volume ?: ""));
		}
		cli_print_json_object(o);
	}
	return r;
}

int verb_luks_enroll(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kek", required_argument, NULL, 'k' },
		{ "unlock-key-file", required_argument, NULL, 'f' },
		{ "wipe-slot", required_argument, NULL, 'w' },
		{ "volume", required_argument, NULL, 'v' },
		{ "token-timeout", required_argument, NULL, 't' },
		{ "force", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct enroll_args a = {};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case 'k': a.kek = optarg; break;
		case 'f': a.key_file = optarg; break;
		case 'w': a.wipe = optarg; break;
		case 'v': a.volume = optarg; break;
		case 't':
			if (parse_uint32(optarg, 1, LUKS_TOKEN_TIMEOUT_MAX, &a.token_timeout) < 0) {
				cli_error("luks enroll: --token-timeout: expected 1..%u seconds",
					  LUKS_TOKEN_TIMEOUT_MAX);
				return EXIT_USAGE;
			}
			break;
		case 'F': a.force = true; break;
		case 'h':
			printf("Usage: vhsmctl luks enroll DEVICE --kek NAME [--unlock-key-file FILE|-]\n"
			       "       [--wipe-slot=all|password|recovery|vhsm|N,...] [--force]\n"
			       "       [--volume NAME] [--token-timeout SECONDS]\n"
			       "Adds a keyslot with a random 64-byte secret that vhsmd keeps under the KEK,\n"
			       "and a LUKS2 token of type vhsm. Without --unlock-key-file the current\n"
			       "passphrase is asked on the terminal (3 tries). --volume NAME also binds\n"
			       "the volume to the crypttab key socket (/run/vhsm/luks-key.sock) under that\n"
			       "name. --wipe-slot that would leave no passphrase or recovery keyslot is\n"
			       "refused without --force.\n"
			       "--token-timeout SECONDS (1..%u) is how long the token plugin waits for\n"
			       "vhsmd when it unlocks this volume (default 60, or VHSM_TOKEN_TIMEOUT).\n",
			       LUKS_TOKEN_TIMEOUT_MAX);
			return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (argc - optind != 1 || !a.kek) {
		cli_error("luks enroll: DEVICE and --kek NAME are required");
		return EXIT_USAGE;
	}
	if (!luks_token_kek_name_valid(a.kek) || (a.volume && !luks_token_kek_name_valid(a.volume))) {
		char msg[TEXT_KEY_NAME_ERR_MAX];
		const char *bad = luks_token_kek_name_valid(a.kek) ? a.volume : a.kek;

		cli_error("luks enroll: %s",
			  text_key_name_error(msg, bad == a.kek ? "KEK" : "volume", bad, strlen(bad)));
		return EXIT_USAGE;
	}
	a.device = argv[optind];
	return enroll_run(&a);
}

/* ---- wiping other slots (enroll --wipe-slot) ---- */

/* Keyslots claimed by tokens of type (or, with type NULL, by any token), as a bit mask. */
static uint32_t slots_of_tokens(struct crypt_device *cd, const char *type)
{
	uint32_t mask = 0;

	for (int i = 0; i < 32; i++) {
		const char *tt = NULL;
		crypt_token_info ti = crypt_token_status(cd, i, &tt);
		if (ti == CRYPT_TOKEN_INACTIVE || ti == CRYPT_TOKEN_INVALID || !tt)
			continue;
		if (type && strcmp(type, tt) != 0)
			continue;
		for (int s = 0; s < 32; s++)
			if (crypt_token_is_assigned(cd, i, s) == 0)
				mask |= 1u << s;
	}
	return mask;
}

static int parse_wipe(struct crypt_device *cd, const char *spec, uint32_t *ret)
{
	_cleanup_free_ char *copy = strdup(spec);
	uint32_t used = 0, mask = 0;
	char *save = NULL;

	if (!copy)
		return -ENOMEM;
	for (int s = 0; s < 32; s++)
		if (crypt_keyslot_status(cd, s) >= CRYPT_SLOT_ACTIVE)
			used |= 1u << s;
	for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		if (strcmp(w, "all") == 0)
			mask |= used;
		else if (strcmp(w, "password") == 0)
			mask |= used & ~slots_of_tokens(cd, NULL);
		else if (strcmp(w, "recovery") == 0)
			mask |= slots_of_tokens(cd, "systemd-recovery");
		else if (strcmp(w, "vhsm") == 0)
			mask |= slots_of_tokens(cd, LUKS_TOKEN_TYPE);
		else {
			uint32_t v;
			if (parse_uint32(w, 0, 31, &v) < 0)
				return -EINVAL;
			mask |= 1u << v;
		}
	}
	*ret = mask & used;
	return 0;
}

static int do_wipe(struct crypt_device *cd, const char *spec, unsigned keep_slot)
{
	uint32_t mask;
	int r = parse_wipe(cd, spec, &mask);

	if (r < 0) {
		cli_error("--wipe-slot: expected all, password, recovery, vhsm or slot numbers");
		return EXIT_USAGE;
	}
	mask &= ~(1u << keep_slot); /* never the slot just enrolled */
	for (int i = 0; i < 32; i++) {
		/* Tokens whose every keyslot goes away go too. */
		const char *tt = NULL;
		crypt_token_info ti = crypt_token_status(cd, i, &tt);
		bool all = ti != CRYPT_TOKEN_INACTIVE && ti != CRYPT_TOKEN_INVALID, any = false;
		for (int s = 0; all && s < 32; s++)
			if (crypt_token_is_assigned(cd, i, s) == 0) {
				any = true;
				all = mask & (1u << s);
			}
		if (all && any)
			(void)crypt_token_json_set(cd, i, NULL);
	}
	for (int s = 0; s < 32; s++)
		if (mask & (1u << s)) {
			r = crypt_keyslot_destroy(cd, s);
			if (r < 0)
				return cli_fail(r, "wiping a keyslot");
			if (!arg_json)
				printf("Wiped keyslot %d.\n", s);
		}
	return EXIT_OK;
}

/* ---- list ---- */

int verb_luks_list(int argc, char **argv)
{
	_cleanup_(crypt_freep) struct crypt_device *cd = NULL;
	struct luks_token t;
	char digest[65];
	int ids[32], n, r;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("Usage: vhsmctl [--json] luks list DEVICE\n");
		return EXIT_OK;
	}
	if (argc != 2) {
		cli_error("luks list: expected DEVICE");
		return EXIT_USAGE;
	}
	r = luks_open(argv[1], &cd);
	if (r)
		return r;
	n = vhsm_tokens(cd, ids);
	if (!arg_json)
		printf("%-5s %-4s %-24s %-7s %-7s %s\n", "TOKEN", "SLOT", "KEK", "VERSION", "PROFILE",
		       "POLICY");
	else
		printf("[");
	for (int i = 0; i < n; i++) {
		if (read_token(cd, ids[i], &t) < 0)
			continue;
		ct_hex_encode(digest, t.policy_digest, 32);
		if (arg_json)
			printf("%s{\"token\":%d,\"keyslot\":%u,\"kek\":\"%s\",\"kek_version\":%u,"
			       "\"profile\":\"%s\",\"policy_digest\":\"%s\"}", i ? "," : "", ids[i],
			       t.keyslot, t.kek, t.kek_version, seal_profile_to_string(t.profile),
			       digest);
		else
			printf("%-5d %-4u %-24s %-7u %-7s %.16s...\n", ids[i], t.keyslot, t.kek,
			       t.kek_version, seal_profile_to_string(t.profile), digest);
	}
	if (arg_json)
		printf("]\n");
	return EXIT_OK;
}

/* ---- remove ---- */

static int unbind_uuid(const char *uuid)
{
	struct client_req req;
	struct client_reply rep;
	int r;

	if (client_begin(&req, VHSM_OP_LUKS_UNBIND) < 0)
		return EXIT_ERROR;
	vhsm_wire_add_str(&req.b, VHSM_TAG_UUID, uuid);
	r = call(&req, "unbind", &rep);
	if (r == EXIT_OK)
		client_reply_done(&rep);
	return r;
}

int verb_luks_remove(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "token", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	_cleanup_(crypt_freep) struct crypt_device *cd = NULL;
	_cleanup_(json_object_putp) json_object *arr = NULL;
	struct luks_token t;
	int ids[32], n, c, r, only = -1, removed = 0, used = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		if (c == 't') {
			uint32_t v;
			if (parse_uint32(optarg, 0, 31, &v) < 0) {
				cli_error("--token: expected 0..31");
				return EXIT_USAGE;
			}
			only = (int)v;
		} else if (c == 'h') {
			printf("Usage: vhsmctl luks remove DEVICE [--token ID]\n"
			       "Removes the vhsm tokens (or one) and their keyslots, and the volume's\n"
			       "key-socket bindings. Refuses to remove the last keyslot.\n");
			return EXIT_OK;
		} else {
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		cli_error("luks remove: expected DEVICE");
		return EXIT_USAGE;
	}
	if (arg_json && !(arr = json_object_new_array()))
		return EXIT_ERROR;
	r = luks_open(argv[optind], &cd);
	if (r)
		return r;
	n = vhsm_tokens(cd, ids);
	for (int s = 0; s < 32; s++)
		used += crypt_keyslot_status(cd, s) >= CRYPT_SLOT_ACTIVE;
	for (int i = 0; i < n; i++) {
		if (only >= 0 && ids[i] != only)
			continue;
		if (read_token(cd, ids[i], &t) < 0)
			return EXIT_REJECTED;
		if (crypt_keyslot_status(cd, (int)t.keyslot) >= CRYPT_SLOT_ACTIVE && used <= 1) {
			cli_error("keyslot %u is the volume's last keyslot: not removed", t.keyslot);
			return EXIT_REJECTED;
		}
		r = crypt_token_json_set(cd, ids[i], NULL);
		if (r >= 0 && crypt_keyslot_status(cd, (int)t.keyslot) >= CRYPT_SLOT_ACTIVE) {
			r = crypt_keyslot_destroy(cd, (int)t.keyslot);
			used--;
		}
		if (r < 0)
			return cli_fail(r, "removing the token");
		if (arr)
			json_item(arr, "token", ids[i], "keyslot", t.keyslot, NULL, NULL);
		else
			printf("Removed vhsm token %d and keyslot %u.\n", ids[i], t.keyslot);
		removed++;
	}
	if (!removed) {
		cli_error("no vhsm token%s on %s", only >= 0 ? " with that id" : "", argv[optind]);
		return EXIT_REJECTED;
	}
	if (vhsm_tokens(cd, ids) == 0 && unbind_uuid(crypt_get_uuid(cd)) != EXIT_OK)
		cli_error("warning: the volume's key-socket bindings may remain in vhsmd");
	cli_print_json_object(arr);
	return EXIT_OK;
}

/* ---- rewrap ---- */

static int rewrap_one(struct crypt_device *cd, int id, json_object *arr)
{
	_cleanup_free_ char *json = NULL;
	struct client_req req;
	struct client_reply rep;
	struct luks_token t, nt;
	int r;

	if (read_token(cd, id, &t) < 0)
		return EXIT_REJECTED;
	if (client_begin(&req, VHSM_OP_LUKS_REWRAP) < 0)
		return EXIT_ERROR;
	add_material(&req, &t, crypt_get_uuid(cd));
	r = call(&req, "rewrap", &rep);
	if (r)
		return r;
	nt = t;
	r = material_from_reply(&rep, &nt);
	client_reply_done(&rep);
	if (r < 0) {
		cli_error("malformed reply from vhsmd");
		return EXIT_ERROR;
	}
	r = luks_token_to_json(&nt, &json);
	if (r >= 0)
		r = crypt_token_json_set(cd, id, json);
	if (r < 0)
		return cli_fail(r, "writing the token");
	if (arr)
		json_item(arr, "token", id, "kek_version", nt.kek_version, "kek", t.kek);
	else
		printf("Token %d: KEK %s version %u -> %u (%s).\n", id, t.kek, t.kek_version,
		       nt.kek_version, seal_profile_to_string(nt.profile));
	return EXIT_OK;
}

int verb_luks_rewrap(int argc, char **argv)
{
	_cleanup_(crypt_freep) struct crypt_device *cd = NULL;
	_cleanup_(json_object_putp) json_object *arr = NULL;
	int ids[32], n, r, ret = EXIT_OK;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("Usage: vhsmctl luks rewrap DEVICE\n"
		       "Moves every vhsm token to its KEK's newest version and current sealing\n"
		       "(after kek rotate or kek reseal). The keyslots and the volume key stay.\n");
		return EXIT_OK;
	}
	if (argc != 2) {
		cli_error("luks rewrap: expected DEVICE");
		return EXIT_USAGE;
	}
	r = luks_open(argv[1], &cd);
	if (r)
		return r;
	n = vhsm_tokens(cd, ids);
	if (n == 0) {
		cli_error("no vhsm token on %s", argv[1]);
		return EXIT_REJECTED;
	}
	if (arg_json && !(arr = json_object_new_array()))
		return EXIT_ERROR;
	for (int i = 0; i < n; i++) {
		r = rewrap_one(cd, ids[i], arr);
		if (r)
			ret = r;
	}
	if (ret == EXIT_OK)
		cli_print_json_object(arr);
	return ret;
}

/* ---- unlock ---- */

struct unlock_args {
	const char *device, *name;
	bool test, print_key;
};

static void mapping_exists(const char *name)
{
	cli_error("luks unlock: /dev/mapper/%s already exists; is the volume already open? "
		  "(cryptsetup status %s)", name, name);
}

static int unlock_with(struct crypt_device *cd, const struct unlock_args *a,
		       const struct luks_token *t, const char *pass)
{
	int r;

	if (a->print_key) {
		/* write(2), not stdio: no copy of the secret stays in a libc buffer. */
		for (size_t done = 0; done < LUKS_PASSPHRASE_LEN;) {
			ssize_t n = write(STDOUT_FILENO, pass + done, LUKS_PASSPHRASE_LEN - done);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return cli_fail(n < 0 ? negative_errno() : -EIO, "writing the key");
			done += (size_t)n;
		}
		return EXIT_OK;
	}
	r = crypt_activate_by_passphrase(cd, a->test ? NULL : a->name, (int)t->keyslot, pass,
					 LUKS_PASSPHRASE_LEN, 0);
	if (r == -EEXIST) {
		mapping_exists(a->name);
		return EXIT_REJECTED;
	}
	if (r < 0) {
		cli_error("keyslot %u: %s", t->keyslot, strerror(-r));
		return r == -EPERM ? EXIT_REJECTED : EXIT_ERROR;
	}
	if (arg_json)
		json_item(NULL, "keyslot", r, NULL, 0, "activated", a->test ? "" : a->name);
	else if (a->test)
		printf("Key slot %d unlocked (test only, nothing activated).\n", r);
	else
		printf("Activated %s with key slot %d.\n", a->name, r);
	return EXIT_OK;
}

static int unlock_run(const struct unlock_args *a)
{
	_cleanup_(crypt_freep) struct crypt_device *cd = NULL;
	struct luks_token t;
	int ids[32], n, r, ret = EXIT_REJECTED;

	/* Before asking vhsmd: a mapping of that name is one clear message, not a failed unlock. */
	if (a->name && !strchr(a->name, '/')) {
		char node[PATH_MAX];
		struct stat st;

		snprintf(node, sizeof(node), "/dev/mapper/%s", a->name);
		if (lstat(node, &st) == 0) {
			mapping_exists(a->name);
			return EXIT_REJECTED;
		}
	}
	r = luks_open(a->device, &cd);
	if (r)
		return r;
	n = vhsm_tokens(cd, ids);
	if (n == 0) {
		cli_error("no vhsm token on %s", a->device);
		return EXIT_REJECTED;
	}
	for (int i = 0; i < n && ret != EXIT_OK; i++) {
		_cleanup_secmem_ char *pass = NULL;
		if (read_token(cd, ids[i], &t) < 0)
			continue;
		ret = fetch_passphrase(&t, crypt_get_uuid(cd), &pass);
		if (ret == EXIT_OK)
			ret = unlock_with(cd, a, &t, pass);
	}
	return ret;
}

int verb_luks_unlock(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "test", no_argument, NULL, 't' },
		{ "print-key", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct unlock_args a = {};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case 't': a.test = true; break;
		case 'p': a.print_key = true; break;
		case 'h':
			printf("Usage: vhsmctl luks unlock DEVICE NAME      activate as /dev/mapper/NAME\n"
			       "       vhsmctl luks unlock --test DEVICE      check only (no device-mapper)\n"
			       "       vhsmctl luks unlock --print-key DEVICE  keyslot passphrase to stdout\n"
			       "--print-key refuses a terminal: pipe it, e.g. into\n"
			       "cryptsetup open --key-file - DEVICE NAME.\n");
			return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (a.test && a.print_key) {
		cli_error("luks unlock: --test and --print-key exclude each other");
		return EXIT_USAGE;
	}
	if (argc - optind != ((a.test || a.print_key) ? 1 : 2)) {
		cli_error("luks unlock: expected DEVICE NAME, or --test/--print-key DEVICE");
		return EXIT_USAGE;
	}
	if (a.print_key && isatty(STDOUT_FILENO)) {
		cli_error("luks unlock --print-key: stdout is a terminal; pipe it instead");
		return EXIT_USAGE;
	}
	a.device = argv[optind];
	a.name = a.test || a.print_key ? NULL : argv[optind + 1];
	return unlock_run(&a);
}
