/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsmctl dek create|list|load|drop, and kek disable [--shred] with kek volumes: the DEK
 * registry and the kernel keyring. `dek load` asks the kernel (request_key(2)), so the key is
 * made by vhsm-request-key for the caller's uid exactly as any other program would get it;
 * vhsmctl never sees the DEK.
 */
#include <ctype.h>
#include <dirent.h>
#include <sys/stat.h>
#include <getopt.h>
#include <inttypes.h>
#include <keyutils.h>
#include <libcryptsetup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "client.h"
#include "crypttab.h"
#include "json-cleanup.h"
#include "json.h"
#include "keyring.h"
#include "luks-match.h"
#include "luks-withdraw.h"
#include "parse-util.h"
#include "shred-dm.h"
#include "text.h"
#include "vhsmctl.h"

#define LUKS_MAX_TOKENS 32

static int parse_u32_arg(const char *opt, const char *s, uint32_t max, uint32_t *ret)
{
	if (parse_uint32(s, 0, max, ret) < 0) {
		cli_error("invalid %s '%s'", opt, s);
		return -EINVAL;
	}
	return 0;
}

static bool args_count(int argc, int n)
{
	if (argc - optind != n) {
		cli_error("%s: expected %d argument%s, got %d", arg_verb, n,
			  n == 1 ? "" : "s", argc - optind);
		return false;
	}
	return true;
}

int verb_dek_create(int argc, char **argv)
{
	enum { O_KEK = 256, O_SIZE, O_TIMEOUT, O_ACL };
	static const struct option opts[] = {
		{ "kek", required_argument, NULL, O_KEK },
		{ "size", required_argument, NULL, O_SIZE },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "acl", required_argument, NULL, O_ACL },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *kek = NULL, *acl = NULL;
	uint32_t size = 0, timeout = UINT32_MAX;
	struct client_req req;
	struct client_reply rep;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case O_KEK: kek = optarg; break;
		case O_SIZE:
			if (parse_u32_arg("--size", optarg, 64, &size) < 0 || (size != 32 && size != 64)) {
				cli_error("--size must be 32 or 64");
				return EXIT_USAGE;
			}
			break;
		case O_TIMEOUT:
			if (parse_u32_arg("--timeout", optarg, KEYRING_MAX_TIMEOUT, &timeout) < 0)
				return EXIT_USAGE;
			break;
		case O_ACL: acl = optarg; break;
		case 'h':
			printf("Usage: vhsmctl dek create NAME --kek KEK [--size 32|64] [--timeout S]\n"
			       "         [--acl ACL]\n\n"
			       "Generates a random DEK inside vhsmd and stores it wrapped under KEK.\n"
			       "--size: bytes (default 64, for aes-xts-plain64 with 512-bit keys).\n"
			       "--timeout: seconds a loaded key lives (default 600, 0 = no expiry).\n"
			       "ACL: KIND:WHO:OPS[;...]; unwrap = may load it, read = may list it,\n"
			       "admin = may drop it (see vhsmctl(1)).\n");
			return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (!args_count(argc, 1))
		return EXIT_USAGE;
	if (!kek) {
		cli_error("dek create: --kek is required");
		return EXIT_USAGE;
	}
	if (client_begin(&req, VHSM_OP_DEK_CREATE) < 0)
		return EXIT_ERROR;
	vhsm_wire_add_str(&req.b, VHSM_TAG_NAME, argv[optind]);
	vhsm_wire_add_str(&req.b, VHSM_TAG_KEK, kek);
	if (size)
		vhsm_wire_add_u32(&req.b, VHSM_TAG_SIZE, size);
	if (timeout != UINT32_MAX)
		vhsm_wire_add_u32(&req.b, VHSM_TAG_TIMEOUT, timeout);
	if (acl)
		vhsm_wire_add_str(&req.b, VHSM_TAG_ACL, acl);
	r = client_call_checked(&req, "dek create", &rep);
	if (r != EXIT_OK)
		return r;
	if (vhsm_wire_get_u32(&rep.msg, VHSM_TAG_SIZE, &size) < 0)
		size = 0;
	if (arg_json) {
		_cleanup_(json_object_putp) json_object *o = json_object_new_object();

		if (o) {
			json_object_object_add(o, "name", json_object_new_string(argv[optind]));
			json_object_object_add(o, "size", json_object_new_int64(size));
			json_object_object_add(o, "kek", json_object_new_string(kek));
		}
		cli_print_json_object(o);
	} else
		printf("created DEK %s (%u bytes, wrapped under KEK %s)\n", argv[optind], size,
		       kek);
	client_reply_done(&rep);
	return EXIT_OK;
}

/* An integer member as decimal text in buf[24], "-" when absent or not an integer. */
static const char *member_int_text(json_object *o, const char *k, char buf[static 24])
{
	int64_t x;

	if (json_member_int64(o, NULL, k, INT64_MIN, INT64_MAX, &x, NULL, 0) < 0)
		return "-";
	snprintf(buf, 24, "%" PRId64, x);
	return buf;
}

static void fmt_dek_loaded(json_object *o)
{
	json_object *keys = NULL;

	if (json_member(o, NULL, "loaded", json_type_array, &keys, NULL, 0) < 0 ||
	    json_object_array_length(keys) == 0)
		printf(" no");
	for (size_t k = 0; keys && k < json_object_array_length(keys); k++) {
		json_object *e = json_object_array_get_idx(keys, k);
		char ring[24], uid[24];
		printf(" %" PRId64 " %s %s %s", cli_jint(e, "serial"),
		       member_int_text(e, "keyring", ring), member_int_text(e, "uid", uid),
		       cli_jstr(e, "expiry"));
	}
}

static void fmt_dek_list(json_object *arr)
{
	printf("%-24s %-16s %4s %7s  %s\n", "NAME", "KEK", "SIZE", "TIMEOUT", "LOADED (serial keyring uid expiry)");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *o = json_object_array_get_idx(arr, i);
		const char *name = json_member_present(o, "name") ? cli_jstr(o, "name") : "?";
		int64_t purge_after;
		/* A damaged registry file has only a name and a state. */
		if (!json_member_present(o, "kek") && json_member_present(o, "state")) {
			printf("%-24s %s\n", name, cli_jstr(o, "state"));
			continue;
		}
		printf("%-24s %-16s", name, cli_jstr(o, "kek"));
		printf(" %4" PRId64, cli_jint(o, "size"));
		printf(" %7" PRId64 " ", cli_jint(o, "timeout"));
		if (json_member_int64(o, NULL, "purge_after", INT64_MIN, INT64_MAX, &purge_after,
				      NULL, 0) == 0) {
			char t[32];
			time_t tt = (time_t)purge_after;
			struct tm tm;
			if (!gmtime_r(&tt, &tm) || !strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", &tm))
				snprintf(t, sizeof(t), "?");
			printf(" deleted, recoverable until %s\n", t);
			continue;
		}
		fmt_dek_loaded(o);
		putchar('\n');
	}
}

int verb_dek_list(int argc, char **argv)
{
	struct client_req req;
	struct client_reply rep;
	int r;

	r = cli_simple_opts_what(argc, argv, "dek list [--json]", "Lists the DEKs you may see, "
				 "and their keys in the kernel keyring.\n");
	if (r)
		return r < 0 ? EXIT_OK : r;
	if (!args_count(argc, 0))
		return EXIT_USAGE;
	if (client_begin(&req, VHSM_OP_DEK_LIST) < 0)
		return EXIT_ERROR;
	r = client_call_checked(&req, "dek list", &rep);
	if (r != EXIT_OK)
		return r;
	json_object *o = client_parse_json(&rep);
	if (arg_json || !o || !json_object_is_type(o, json_type_array))
		client_print_json(&rep);
	else
		fmt_dek_list(o);
	json_object_put(o);
	client_reply_done(&rep);
	cli_note_filtered("DEKs");
	return EXIT_OK;
}

/* "@u", "@s", "@us", "@p", "@t" or a keyring serial. */
static int parse_keyring(const char *s, key_serial_t *ret)
{
	static const struct {
		const char *name;
		key_serial_t id;
	} specials[] = {
		{ "@u", KEY_SPEC_USER_KEYRING },	 { "@s", KEY_SPEC_SESSION_KEYRING },
		{ "@us", KEY_SPEC_USER_SESSION_KEYRING }, { "@p", KEY_SPEC_PROCESS_KEYRING },
		{ "@t", KEY_SPEC_THREAD_KEYRING },
	};
	uint32_t v;

	for (size_t i = 0; i < ELEMENTSOF(specials); i++)
		if (strcmp(s, specials[i].name) == 0) {
			*ret = specials[i].id;
			return 0;
		}
	if (parse_u32_arg("--keyring", s, INT32_MAX, &v) < 0 || v == 0)
		return -EINVAL;
	*ret = (key_serial_t)v;
	return 0;
}

/* Asks vhsmd first, so that a refusal comes with its reason; returns the timeout to ask for. */
static int dek_load_check(const char *name, uint32_t timeout, uint32_t *ret_timeout)
{
	struct client_req req;
	struct client_reply rep;
	int r;

	if (client_begin(&req, VHSM_OP_DEK_LOAD) < 0)
		return EXIT_ERROR;
	vhsm_wire_add_str(&req.b, VHSM_TAG_NAME, name);
	if (timeout != UINT32_MAX)
		vhsm_wire_add_u32(&req.b, VHSM_TAG_TIMEOUT, timeout);
	r = client_call_checked(&req, "dek load", &rep);
	if (r != EXIT_OK)
		return r;
	if (vhsm_wire_get_u32(&rep.msg, VHSM_TAG_TIMEOUT, ret_timeout) < 0)
		*ret_timeout = 0;
	client_reply_done(&rep);
	return EXIT_OK;
}

int verb_dek_load(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "keyring", required_argument, NULL, 'k' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	key_serial_t ring = KEY_SPEC_USER_KEYRING, key;
	uint32_t timeout = UINT32_MAX, effective;
	char desc[128], name[96], callout[32] = "", msg[TEXT_KEY_NAME_ERR_MAX];
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case 'k':
			if (parse_keyring(optarg, &ring) < 0)
				return EXIT_USAGE;
			break;
		case 't':
			if (parse_u32_arg("--timeout", optarg, KEYRING_MAX_TIMEOUT, &timeout) < 0)
				return EXIT_USAGE;
			break;
		case 'h':
			printf("Usage: vhsmctl dek load NAME [--keyring @u|@s|@us|@p|@t|ID] [--timeout S]\n\n"
			       "Puts DEK NAME into the kernel keyring as logon key vhsm:NAME, through\n"
			       "request_key(2) and vhsm-request-key (default keyring @u). --timeout can\n"
			       "only shorten the DEK's timeout. The key cannot be read back.\n");
			return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (!args_count(argc, 1))
		return EXIT_USAGE;
	if (keyring_dek_description(argv[optind], desc, sizeof(desc)) < 0 ||
	    keyring_dek_name(desc, name, sizeof(name)) < 0) {
		cli_error("dek load: %s", text_key_name_error(msg, "DEK", argv[optind],
								   strlen(argv[optind])));
		return EXIT_USAGE;
	}
	r = dek_load_check(argv[optind], timeout, &effective);
	if (r != EXIT_OK)
		return r;
	if (timeout != UINT32_MAX)
		snprintf(callout, sizeof(callout), "timeout=%u", timeout);
	key = request_key(KEYRING_DEK_TYPE, desc, callout, ring);
	if (key < 0) {
		r = negative_errno();
		cli_error("dek load: the kernel refused key %s: %s (is vhsm-request-key configured in "
			  "/etc/request-key.d? see vhsm-kmod-check(8))", desc, strerror(-r));
		return r == -EKEYREJECTED || r == -ENOKEY || r == -EKEYREVOKED || r == -EACCES
			       ? EXIT_REJECTED
			       : EXIT_ERROR;
	}
	if (arg_json) {
		_cleanup_(json_object_putp) json_object *o = json_object_new_object();
		if (o) {
			json_object_object_add(o, "name", json_object_new_string(argv[optind]));
			json_object_object_add(o, "serial", json_object_new_int64(key));
			json_object_object_add(o, "timeout", json_object_new_int64(effective));
			cli_print_json_object(o);
		}
	} else
		printf("loaded DEK %s as logon key %s, serial %d (timeout %u s)\n", argv[optind],
		       desc, key, effective);
	return EXIT_OK;
}

int verb_dek_drop(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "delete", no_argument, NULL, 'd' },
		{ "retention-days", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct client_req req;
	struct client_reply rep;
	uint64_t flags = 0;
	uint32_t n = 0, days = 0;
	long rdays = -1;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		if (c == 'd') {
			flags |= VHSM_DEK_DROP_DELETE;
		} else if (c == 'r') {
			if (cli_parse_retention_days(optarg, &rdays))
				return EXIT_USAGE;
		} else if (c == 'h') {
			printf("Usage: vhsmctl dek drop NAME [--delete [--retention-days N]]\n\n"
			       "Revokes every key of DEK NAME in the kernel keyring. --delete also\n"
			       "deletes the DEK (root or the vhsm group only): loads are refused, and\n"
			       "it can be recovered (dek recover) for its retention, by default the\n"
			       "KEK's (7..3650 days; not shorter than a purge-protected KEK's), then\n"
			       "purged (dek purge).\n");
			return EXIT_OK;
		} else {
			return EXIT_USAGE;
		}
	}
	if (!args_count(argc, 1))
		return EXIT_USAGE;
	if (rdays >= 0 && !(flags & VHSM_DEK_DROP_DELETE)) {
		cli_error("dek drop: --retention-days needs --delete (see --help)");
		return EXIT_USAGE;
	}
	if (client_begin(&req, VHSM_OP_DEK_DROP) < 0)
		return EXIT_ERROR;
	vhsm_wire_add_str(&req.b, VHSM_TAG_NAME, argv[optind]);
	vhsm_wire_add_u64(&req.b, VHSM_TAG_FLAGS, flags);
	if (rdays >= 0)
		vhsm_wire_add_u32(&req.b, VHSM_TAG_DAYS, (uint32_t)rdays);
	r = client_call_checked(&req, "dek drop", &rep);
	if (r != EXIT_OK)
		return r;
	(void)vhsm_wire_get_u32(&rep.msg, VHSM_TAG_SIZE, &n);
	(void)vhsm_wire_get_u32(&rep.msg, VHSM_TAG_DAYS, &days);
	if (arg_json) {
		_cleanup_(json_object_putp) json_object *o = json_object_new_object();
		if (o) {
			bool del = flags & VHSM_DEK_DROP_DELETE;
			json_object_object_add(o, "name", json_object_new_string(argv[optind]));
			json_object_object_add(o, "revoked", json_object_new_int64(n));
			json_object_object_add(o, "deleted", json_object_new_boolean(del));
			if (del)
				json_object_object_add(o, "retention_days",
						       json_object_new_int64(days));
			cli_print_json_object(o);
		}
	} else {
		printf("DEK %s: %u key(s) revoked\n", argv[optind], n);
	}
	if (!arg_json && (flags & VHSM_DEK_DROP_DELETE))
		printf("DEK %s deleted: recoverable for %u days (vhsmctl dek recover %s), then "
		       "purged with vhsmctl dek purge\n", argv[optind], days, argv[optind]);
	client_reply_done(&rep);
	return EXIT_OK;
}

/* ---- LUKS volumes enrolled with a KEK ---- */

/* True when the LUKS2 header of cd has a vhsm token naming kek. */
static bool header_uses_kek(struct crypt_device *cd, const char *kek)
{
	const char *type = crypt_get_type(cd);

	if (!type || strcmp(type, CRYPT_LUKS2) != 0)
		return false;
	for (int id = 0; id < LUKS_MAX_TOKENS; id++) {
		const char *json;
		char name[128];
		if (crypt_token_json_get(cd, id, &json) < 0)
			continue;
		if (luks_token_kek(json, strlen(json), name, sizeof(name)) == 0 &&
		    strcmp(name, kek) == 0)
			return true;
	}
	return false;
}

#define VOLUMES_RECORDED_MAX 256u

/*
 * The LUKS UUIDs vhsmd recorded as unlocked by kek (kek show's "unlocked_volumes"), as the 32
 * lower-case hex digits a dm uuid carries; NULL-terminated, malloc'ed (an empty list when
 * there are none or vhsmd cannot say).
 */
static char **recorded_volumes(const char *kek)
{
	_cleanup_(json_object_putp) json_object *o = NULL;
	struct client_req req;
	struct client_reply rep;
	json_object *a;
	char **v = calloc(VOLUMES_RECORDED_MAX + 1, sizeof(char *));
	size_t n = 0;

	if (!v || client_begin(&req, VHSM_OP_KEK_SHOW) < 0)
		return v;
	vhsm_wire_add_str(&req.b, VHSM_TAG_NAME, kek);
	if (client_call(&req, &rep) < 0 || rep.err) {
		client_req_done(&req);
		client_reply_done(&rep);
		return v;
	}
	client_req_done(&req);
	o = client_parse_json(&rep);
	client_reply_done(&rep);
	if (json_member(o, NULL, "unlocked_volumes", json_type_array, &a, NULL, 0) < 0)
		return v;
	for (size_t i = 0; i < json_object_array_length(a) && n < VOLUMES_RECORDED_MAX; i++) {
		const char *u;
		char hex[33];
		size_t k = 0;
		if (json_member_string(json_object_array_get_idx(a, i), NULL, "uuid", 0, &u, NULL,
				       NULL, 0) < 0)
			continue;
		for (const char *p = u; *p && k < 32; p++)
			if (*p != '-')
				hex[k++] = (char)tolower((unsigned char)*p);
		hex[k] = 0;
		if (k == 32 && (v[n] = strdup(hex)))
			n++;
	}
	return v;
}

/* Whether the dm uuid "CRYPT-LUKS2-<32 hex>-<name>" is of a volume in recorded. */
static bool dm_uuid_recorded(const char *dm_uuid, char *const *recorded)
{
	if (strncmp(dm_uuid, "CRYPT-LUKS2-", 12) != 0 || strlen(dm_uuid) < 12 + 32)
		return false;
	for (char *const *r = recorded; r && *r; r++)
		if (strncasecmp(dm_uuid + 12, *r, 32) == 0)
			return true;
	return false;
}

/*
 * Calls fn for every active dm-crypt LUKS2 mapping (the kernel's list) whose header names kek
 * and is the header the mapping was opened with, or that vhsmd recorded as unlocked by kek
 * (recorded: its LUKS UUIDs, as recorded_volumes() gives them), so that a token removed from
 * the header hides no volume. A recorded mapping whose header cannot be read or is not the one
 * it was opened with goes to fn_dm (by name, the kernel's view only). Returns the number of
 * failures of fn and fn_dm plus the mappings that could not be judged.
 */
static int for_each_active_volume(const char *kek, char *const *recorded,
				  int (*fn)(struct crypt_device *cd, const char *name,
					    const char *kek),
				  int (*fn_dm)(const char *name, const char *kek))
{
	DIR *d = opendir("/sys/block");
	struct dirent *de;
	int failures = 0;

	while (d && (de = readdir(d))) {
		char path[512], name[256] = "", uuid[256] = "";
		FILE *f;
		if (strncmp(de->d_name, "dm-", 3) != 0)
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/dm/uuid", de->d_name);
		if (!(f = fopen(path, "re")))
			continue;
		if (!fgets(uuid, sizeof(uuid), f))
			uuid[0] = 0;
		fclose(f);
		if (strncmp(uuid, "CRYPT-LUKS2-", 12) != 0)
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/dm/name", de->d_name);
		if (!(f = fopen(path, "re")))
			continue;
		if (!fgets(name, sizeof(name), f))
			name[0] = 0;
		fclose(f);
		name[strcspn(name, "\n")] = 0;
		uuid[strcspn(uuid, "\n")] = 0;
		struct crypt_device *cd = NULL;
		if (!name[0])
			continue;
		/* The kernel's dm uuid says which volume is active; the header that says which
		 * KEK it uses is on a disk the host can edit. A header that cannot be read, or
		 * that is not the one the volume was opened with, is a volume we cannot judge:
		 * named, and counted as a failure. */
		bool rec = dm_uuid_recorded(uuid, recorded);
		if (crypt_init_by_name(&cd, name) < 0) {
			if (rec) {
				failures += fn_dm(name, kek) < 0;
				continue;
			}
			cli_error("volume %s: active LUKS2 mapping whose header cannot be read; check "
				  "it by hand", name);
			failures++;
			continue;
		}
		if (luks_header_matches_dm_uuid(crypt_get_uuid(cd), uuid) != 1) {
			if (rec) {
				failures += fn_dm(name, kek) < 0;
			} else {
				cli_error("volume %s: the header on disk (UUID %s) is not the one the "
					  "mapping was opened with (%s); check it by hand", name,
					  crypt_get_uuid(cd) ?: "none", uuid);
				failures++;
			}
		} else if ((rec || header_uses_kek(cd, kek)) && fn(cd, name, kek) < 0) {
			failures++;
		}
		crypt_free(cd);
	}
	if (d)
		closedir(d);
	return failures;
}

static int report_volume(const char *kek, const char *volume, const char *result)
{
	struct client_req req;
	struct client_reply rep;
	int r;

	if (client_begin(&req, VHSM_OP_KEK_SHRED_VOLUME) < 0)
		return -ENOMEM;
	vhsm_wire_add_str(&req.b, VHSM_TAG_NAME, kek);
	vhsm_wire_add_str(&req.b, VHSM_TAG_VOLUME, volume);
	vhsm_wire_add_str(&req.b, VHSM_TAG_MESSAGE, result);
	r = client_call_checked(&req, "audit of the suspended volume", &rep);
	if (r == EXIT_OK)
		client_reply_done(&rep);
	return r == EXIT_OK ? 0 : -EIO;
}

static json_object *shred_json; /* kek disable --shred --json: the volumes' results */

/* One volume's result of --shred: a line, or an item of shred_json. */
static void shred_said(const char *volume, const char *result, int r)
{
	if (!shred_json) {
		printf("volume %s: %s\n", volume, result);
		return;
	}
	json_object *o = json_object_new_object();
	if (!o)
		return;
	json_object_object_add(o, "volume", json_object_new_string(volume));
	json_object_object_add(o, "result", json_object_new_string(result));
	json_object_object_add(o, "ok", json_object_new_boolean(r >= 0));
	json_object_array_add(shred_json, o);
}

/* A recorded volume whose header cannot be used: suspend and "key wipe" through device-mapper,
 * as luksSuspend does. */
static int suspend_dm_volume(const char *name, const char *kek)
{
	char result[160];
	int r = shred_mapping(name);

	snprintf(result, sizeof(result), r < 0 ? "suspend and key wipe failed: %s"
		 : "suspended, key wiped (LUKS2 by vhsmd's record: header unreadable or replaced)",
		 strerror(-r));
	shred_said(name, result, r);
	if (report_volume(kek, name, result) < 0)
		r = r < 0 ? r : -EIO;
	return r;
}

/* luksSuspend: the kernel wipes the volume key; I/O blocks until luksResume. */
static int suspend_volume(struct crypt_device *cd, const char *name, const char *kek)
{
	char result[160];
	int r = crypt_suspend(cd, name);

	if (r < 0)
		snprintf(result, sizeof(result), "suspend failed: %s", strerror(-r));
	else
		snprintf(result, sizeof(result), "suspended (LUKS %s)", crypt_get_uuid(cd) ?: "?");
	shred_said(name, result, r);
	if (report_volume(kek, name, result) < 0)
		r = r < 0 ? r : -EIO;
	return r;
}

/* The names of the DEKs wrapped under kek (NULL-terminated, malloc'ed), from DEK_LIST. */
static char **deks_of_kek(const char *kek)
{
	struct client_req req;
	struct client_reply rep;
	char **v = calloc(1, sizeof(char *));
	size_t n = 0;

	if (!v || client_begin(&req, VHSM_OP_DEK_LIST) < 0 || client_call_checked(&req, "dek list", &rep) != EXIT_OK)
		return v;
	json_object *arr = client_parse_json(&rep), *o;
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
		const char *k, *name;
		o = json_object_array_get_idx(arr, i);
		if (json_member_string(o, NULL, "kek", 0, &k, NULL, NULL, 0) < 0 ||
		    json_member_string(o, NULL, "name", 0, &name, NULL, NULL, 0) < 0 ||
		    strcmp(k, kek) != 0)
			continue;
		char **nv = realloc(v, (n + 2) * sizeof(char *));
		if (!nv)
			break;
		v = nv;
		v[n] = strdup(name);
		if (!v[n])
			break;
		v[++n] = NULL;
	}
	json_object_put(arr);
	client_reply_done(&rep);
	return v;
}

static void free_strv(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

static void strv_freep(char ***v)
{
	free_strv(*v);
}

/* ---- what depends on a KEK: kek volumes, and kek delete/disable without --force ---- */

#define CRYPTTAB_DEFAULT "/etc/crypttab"

/* The volumes found so far; printed as they are found, or collected for --json. */
struct dependents {
	const char *kek;
	json_object *json; /* array, with --json */
	unsigned n;
	FILE *out;
	const char *refusal; /* said before the first one (delete/disable), or NULL */
};

static struct dependents *cur_deps; /* for the for_each_active_volume() callback */

static void add_dependent(struct dependents *d, const char *volume, const char *kind,
			  const char *device)
{
	if (d->n++ == 0 && d->refusal)
		cli_error("%s", d->refusal);
	if (d->json) {
		json_object *o = json_object_new_object();
		if (!o)
			return;
		json_object_object_add(o, "volume", json_object_new_string(volume));
		json_object_object_add(o, "kind", json_object_new_string(kind));
		json_object_object_add(o, "device", json_object_new_string(device));
		json_object_array_add(d->json, o);
		return;
	}
	fprintf(d->out, "%s%-24s %-10s %s\n", d->refusal ? "  " : "", volume, kind, device);
}

/* A volume vhsmd unlocked with the KEK whose header is unreadable or replaced. */
static int recorded_dependent(const char *name, const char *kek)
{
	(void)kek;
	add_dependent(cur_deps, name, "luks2", "unlocked by this KEK (vhsmd's record); header "
		      "unreadable or replaced");
	return 0;
}

static int open_luks_dependent(struct crypt_device *cd, const char *name, const char *kek)
{
	char dev[PATH_MAX + 64];

	(void)kek;
	snprintf(dev, sizeof(dev), "%s %s", crypt_get_device_name(cd) ?: "-",
		 crypt_get_uuid(cd) ?: "-");
	add_dependent(cur_deps, name, "luks2", dev);
	return 0;
}

static int plain_dependent(const char *volume, void *userdata)
{
	add_dependent(userdata, volume, "plain", "dm-crypt keyed by a DEK of the KEK");
	return 0;
}

static int crypttab_dependent(const struct crypttab_entry *e, void *userdata)
{
	struct dependents *d = userdata;
	struct crypt_device *cd = NULL;
	struct stat st;

	if (stat(e->device, &st) < 0) {
		cli_error("note: crypttab line %u (%s): %s not found; not checked", e->line, e->name,
			  e->device);
		return 0;
	}
	if (crypt_init(&cd, e->device) == 0 && crypt_load(cd, CRYPT_LUKS2, NULL) == 0 &&
	    header_uses_kek(cd, d->kek))
		add_dependent(d, e->name, "crypttab", e->device);
	crypt_free(cd);
	return 0;
}

/*
 * Finds what depends on kek: open LUKS2 volumes with a vhsm token of it, plain dm-crypt
 * mappings keyed by one of its DEKs (what --shred would suspend), and crypttab entries whose
 * device has a vhsm token of it. Returns 0, or an EXIT_* after saying what could not be looked
 * at.
 */
static int find_dependents(struct dependents *d, const char *crypttab)
{
	char **deks = deks_of_kek(d->kek), **recorded = recorded_volumes(d->kek);
	int r, ret = EXIT_OK;

	cur_deps = d;
	if (for_each_active_volume(d->kek, recorded, open_luks_dependent, recorded_dependent))
		ret = EXIT_ERROR;
	free_strv(recorded);
	r = deks ? plain_mappings_of_deks(deks, plain_dependent, d) : -ENOMEM;
	free_strv(deks);
	if (r < 0) {
		cli_error("cannot list device-mapper devices: %s", strerror(-r));
		ret = EXIT_ERROR;
	}
	r = crypttab_foreach(crypttab, crypttab_dependent, d);
	if (r < 0 && !(r == -ENOENT && strcmp(crypttab, CRYPTTAB_DEFAULT) == 0)) {
		cli_error("%s: %s", crypttab, strerror(-r));
		ret = EXIT_ERROR;
	}
	return ret;
}

/*
 * For kek delete and disable without --force: refuses when volumes depend on the KEK, listing
 * them. Returns EXIT_OK to go on, else the EXIT_* to exit with.
 */
int kek_check_dependents(const char *verb, const char *kek, const char *crypttab)
{
	char refusal[256];
	struct dependents d = { .kek = kek, .out = stderr, .refusal = refusal };
	int r;

	snprintf(refusal, sizeof(refusal),
		 "%s: volumes depend on KEK %s and could no longer be unlocked:", verb, kek);
	r = find_dependents(&d, crypttab);
	if (r != EXIT_OK || d.n == 0)
		return r;
	cli_error("%s: add --force to go ahead (vhsmctl kek volumes %s lists them)", verb, kek);
	return EXIT_REJECTED;
}

int verb_kek_volumes(int argc, char **argv)
{
	enum { O_CRYPTTAB = 256 };
	static const struct option opts[] = {
		{ "crypttab", required_argument, NULL, O_CRYPTTAB },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *crypttab = CRYPTTAB_DEFAULT;
	char kek_desc[128], kek[96], msg[TEXT_KEY_NAME_ERR_MAX];
	int c, found = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		if (c == 'h') {
			printf("Usage: vhsmctl kek volumes KEK [--crypttab FILE] [--json]\n"
			       "       vhsmctl kek volumes KEK DEVICE...\n\n"
			       "Lists what depends on KEK, one line each (VOLUME KIND DEVICE):\n"
			       "  luks2     an open LUKS2 volume with a vhsm token of KEK\n"
			       "  plain     a plain dm-crypt mapping keyed by one of its DEKs\n"
			       "  crypttab  a crypttab entry whose device has a vhsm token of KEK\n"
			       "The open volumes are what kek disable --shred suspends. With DEVICE...,\n"
			       "lists those of the given devices or header files whose header has a vhsm\n"
			       "token of KEK (exit status 1 when none has).\n");
			return EXIT_OK;
		}
		if (c == 'j') {
			arg_json = true;
			continue;
		}
		if (c == O_CRYPTTAB) {
			crypttab = optarg;
			continue;
		}
		return EXIT_USAGE;
	}
	if (argc - optind < 1) {
		cli_error("kek volumes: a KEK name is required");
		return EXIT_USAGE;
	}
	if (keyring_dek_description(argv[optind], kek_desc, sizeof(kek_desc)) < 0 ||
	    keyring_dek_name(kek_desc, kek, sizeof(kek)) < 0) {
		cli_error("kek volumes: %s", text_key_name_error(msg, "KEK", argv[optind],
								      strlen(argv[optind])));
		return EXIT_USAGE;
	}
	if (argc - optind == 1) {
		_cleanup_(json_object_putp) json_object *arr = arg_json ? json_object_new_array()
									: NULL;
		struct dependents d = { .kek = kek, .json = arr, .out = stdout };
		int r = find_dependents(&d, crypttab);

		if (arr && r == EXIT_OK)
			puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
								  JSON_C_TO_STRING_NOSLASHESCAPE));
		return r;
	}
	for (int i = optind + 1; i < argc; i++) {
		struct crypt_device *cd = NULL;
		if (crypt_init(&cd, argv[i]) < 0 || crypt_load(cd, CRYPT_LUKS2, NULL) < 0) {
			cli_error("kek volumes: %s is not a LUKS2 device", argv[i]);
		} else if (header_uses_kek(cd, kek)) {
			printf("%s %s\n", argv[i], crypt_get_uuid(cd) ?: "-");
			found++;
		}
		crypt_free(cd);
	}
	return found ? EXIT_OK : EXIT_REJECTED;
}

static const char *shred_kek; /* the KEK being shredded, for report_mapping() */

static int report_mapping(const char *volume, int result)
{
	char msg[160];

	if (result < 0)
		snprintf(msg, sizeof(msg), "suspend and key wipe failed: %s", strerror(-result));
	else
		snprintf(msg, sizeof(msg), "suspended, key wiped (plain dm-crypt)");
	shred_said(volume, msg, result);
	return report_volume(shred_kek, volume, msg);
}

/* ---- kek disable: the sealed copies in the tokens (luks-withdraw.c) ---- */

static json_object *withdrawn_json; /* kek disable --json: where copies were withdrawn */
static unsigned withdraw_failures;
static const char *withdraw_kek; /* for withdraw_crypttab() */

/* One header's result: a line, or an item of withdrawn_json. Returns r. */
static int withdrawn_said(const char *volume, const char *device, int r, const char *why)
{
	if (r < 0) {
		cli_error("kek disable: %s (%s): sealed KEK copy not withdrawn: %s", volume, device,
			  why);
		withdraw_failures++;
	}
	if (r == 0 || (r < 0 && !withdrawn_json))
		return r;
	if (!withdrawn_json) {
		printf("%s (%s): sealed KEK copy withdrawn from %d token(s); the initrd no longer "
		       "unlocks it\n", volume, device, r);
		return r;
	}
	json_object *o = json_object_new_object();
	if (!o)
		return r;
	json_object_object_add(o, "volume", json_object_new_string(volume));
	json_object_object_add(o, "device", json_object_new_string(device));
	json_object_object_add(o, "tokens", json_object_new_int(r < 0 ? 0 : r));
	if (r < 0)
		json_object_object_add(o, "error", json_object_new_string(why));
	json_object_array_add(withdrawn_json, o);
	return r;
}

static int withdraw_active(struct crypt_device *cd, const char *name, const char *kek)
{
	char why[200] = "";
	int r = luks_withdraw_copies(cd, kek, why, sizeof(why));

	return withdrawn_said(name, crypt_get_device_name(cd) ?: "-", r, why) < 0 ? -1 : 0;
}

static int withdraw_dm(const char *name, const char *kek)
{
	(void)kek;
	return withdrawn_said(name, "-", -ENOENT, "header unreadable or replaced") < 0 ? -1 : 0;
}

static int withdraw_crypttab(const struct crypttab_entry *e, void *userdata)
{
	char why[200] = "";
	struct stat st;

	(void)userdata;
	if (stat(e->device, &st) < 0)
		return 0; /* kek volumes notes it; nothing to rewrite */
	int r = luks_withdraw_copies_at(e->device, withdraw_kek, why, sizeof(why));
	/* Plain dm-crypt, swap, or a header this user cannot read (as kek volumes): skipped. */
	if (r != -ENOTBLK)
		(void)withdrawn_said(e->name, e->device, r, why);
	return 0;
}

/*
 * Withdraws the sealed copies of kek from the tokens of the given devices (header files too),
 * the open LUKS2 volumes enrolled with it and the crypttab entries whose device has its token.
 * Returns the number of headers that could not be rewritten.
 */
static unsigned withdraw_copies(const char *kek, char *const *devices, const char *crypttab)
{
	char why[200];
	int r;

	withdraw_failures = 0;
	for (char *const *d = devices; *d; d++) {
		why[0] = 0;
		r = luks_withdraw_copies_at(*d, kek, why, sizeof(why));
		(void)withdrawn_said(*d, *d, r, why);
	}
	withdraw_failures += (unsigned)for_each_active_volume(kek, NULL, withdraw_active,
							       withdraw_dm);
	withdraw_kek = kek;
	r = crypttab_foreach(crypttab, withdraw_crypttab, NULL);
	if (r < 0 && !(r == -ENOENT && strcmp(crypttab, CRYPTTAB_DEFAULT) == 0)) {
		cli_error("kek disable: %s: %s", crypttab, strerror(-r));
		withdraw_failures++;
	}
	return withdraw_failures;
}

int verb_kek_disable(int argc, char **argv)
{
	enum { O_CRYPTTAB = 256, O_FORCE };
	static const struct option opts[] = {
		{ "shred", no_argument, NULL, 's' },
		{ "force", no_argument, NULL, O_FORCE },
		{ "crypttab", required_argument, NULL, O_CRYPTTAB },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *crypttab = CRYPTTAB_DEFAULT;
	struct client_req req;
	struct client_reply rep;
	bool shred = false, force = false, already;
	uint32_t revoked = 0;
	char state[32];
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		if (c == 's') {
			shred = true;
		} else if (c == O_FORCE) {
			force = true;
		} else if (c == O_CRYPTTAB) {
			crypttab = optarg;
		} else if (c == 'j') {
			arg_json = true;
		} else if (c == 'h') {
			printf("Usage: vhsmctl kek disable NAME [DEVICE...] [--shred] [--force]\n"
			       "                          [--crypttab FILE] [--json]\n\n"
			       "Stops all use of a KEK. --shred also revokes every key of its DEKs in\n"
			       "the kernel keyring and suspends (luksSuspend) the active LUKS2 volumes\n"
			       "enrolled with it, which wipes their volume keys from the kernel.\n"
			       "Without --shred, when open or crypttab volumes depend on the KEK (see\n"
			       "vhsmctl kek volumes), they are listed and it is refused without --force.\n"
			       "The sealed KEK copy is withdrawn from the vhsm tokens of KEK in the open\n"
			       "LUKS2 volumes, the crypttab entries and each DEVICE (device or header\n"
			       "file), so that the initrd no longer unlocks them; after kek enable,\n"
			       "vhsmctl luks rewrap DEVICE puts a copy back.\n");
			return EXIT_OK;
		} else {
			return EXIT_USAGE;
		}
	}
	if (argc - optind < 1) {
		cli_error("kek disable: a KEK name is required");
		return EXIT_USAGE;
	}
	/* --shred is the decision to cut those volumes off; an already disabled KEK changes nothing. */
	r = force || shred ? -1 : kek_state(argv[optind], state, sizeof(state));
	if (r > 0)
		return r;
	if (r == 0 && strcmp(state, "enabled") == 0 &&
	    (r = kek_check_dependents("kek disable", argv[optind], crypttab)) != EXIT_OK)
		return r;
	/* Before the disable: what vhsmd recorded as unlocked by the KEK (a volume whose header
	 * no longer names it is still found). */
	_cleanup_(strv_freep) char **recorded = shred ? recorded_volumes(argv[optind]) : NULL;
	if (client_begin(&req, VHSM_OP_KEK_DISABLE) < 0)
		return EXIT_ERROR;
	vhsm_wire_add_str(&req.b, VHSM_TAG_NAME, argv[optind]);
	if (shred)
		vhsm_wire_add_u64(&req.b, VHSM_TAG_FLAGS, VHSM_KEK_DISABLE_SHRED);
	r = client_call(&req, &rep);
	client_req_done(&req);
	if (r < 0) {
		client_reply_done(&rep);
		return r == -EINVAL ? EXIT_USAGE : EXIT_ERROR;
	}
	already = rep.err == -EALREADY; /* only without --shred: the daemon shreds anyway */
	if (rep.err && !already) {
		r = client_refused(&rep, "kek disable");
		client_reply_done(&rep);
		return r;
	}
	(void)vhsm_wire_get_u32(&rep.msg, VHSM_TAG_SIZE, &revoked);
	client_reply_done(&rep);
	if (!arg_json)
		printf(already ? "KEK %s is already disabled\n" : "KEK %s disabled\n", argv[optind]);
	/* Disabled in the store: now the copies the initrd would use (also when it already
	 * was, so that a repeated disable reaches volumes enrolled or rewrapped since). */
	_cleanup_(json_object_putp) json_object *withdrawn = arg_json ? json_object_new_array()
									: NULL;
	withdrawn_json = withdrawn;
	unsigned wfail = withdraw_copies(argv[optind], argv + optind + 1, crypttab);
	withdrawn_json = NULL;
	if (arg_json && !shred) {
		_cleanup_(json_object_putp) json_object *o = json_object_new_object();

		if (o) {
			json_object_object_add(o, "name", json_object_new_string(argv[optind]));
			json_object_object_add(o, "changed", json_object_new_boolean(!already));
			json_object_object_add(o, "withdrawn", json_object_get(withdrawn));
			puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
								       JSON_C_TO_STRING_NOSLASHESCAPE));
		}
	}
	if (!shred)
		return wfail ? EXIT_ERROR : EXIT_OK;
	if (!arg_json)
		printf("%u DEK key(s) revoked in the kernel keyring\n", revoked);
	_cleanup_(json_object_putp) json_object *result = arg_json ? json_object_new_object() : NULL;
	shred_json = arg_json ? json_object_new_array() : NULL;
	if (result) {
		json_object_object_add(result, "name", json_object_new_string(argv[optind]));
		json_object_object_add(result, "changed", json_object_new_boolean(true));
		json_object_object_add(result, "revoked", json_object_new_int64(revoked));
		json_object_object_add(result, "volumes", shred_json);
		json_object_object_add(result, "withdrawn", json_object_get(withdrawn));
	} else if (shred_json) {
		shred_json = json_object_put(shred_json) ? NULL : NULL;
	}
	char **deks = deks_of_kek(argv[optind]);
	shred_kek = argv[optind];
	r = deks ? shred_plain_mappings(deks, report_mapping) : -ENOMEM;
	free_strv(deks);
	if (r < 0)
		cli_error("kek disable: cannot list device-mapper devices: %s", strerror(-r));
	int failed = for_each_active_volume(argv[optind], recorded, suspend_volume,
					    suspend_dm_volume) || r != 0 || wfail;
	shred_json = NULL; /* owned by result */
	cli_print_json_object(result);
	return failed ? EXIT_ERROR : EXIT_OK;
}
