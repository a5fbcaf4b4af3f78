/* SPDX-License-Identifier: Apache-2.0 */
/* vhsmctl: shared declarations of the verb table and the output helpers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "macro.h"

/* Exit statuses (documented in vhsmctl(1)). */
enum {
	EXIT_OK = 0,
	EXIT_REJECTED = 1, /* verification, policy or authorization refused */
	EXIT_USAGE = 2,    /* bad command line */
	EXIT_ERROR = 3,    /* I/O or internal error */
};

/* Global options (before the verb). */
extern const char *arg_socket;
extern bool arg_json;
extern bool arg_debug;
/* The verb running, for messages: "kek create". */
extern const char *arg_verb;
/* Set by a verb that printed its own --json result also on failure (no error object then). */
extern bool cli_json_result_printed;

/*
 * One row of vhsmctl's verb table: a noun ("kek") and a verb ("create"), or a noun that is a
 * verb of its own ("status": name NULL). The table in vhsmctl.c keeps each noun's rows together.
 */
struct verb {
	const char *group; /* "attestation" */
	const char *name;  /* "verify"; NULL for one-word verbs ("status") */
	int (*run)(int argc, char **argv); /* argv[0] is "GROUP NAME"; returns an EXIT_* */
	const char *summary;
};

/* The verbs, one file per noun (verb-NOUN.c); each parses its own options. */
int verb_status(int argc, char **argv);
int verb_kek_create(int argc, char **argv);
int verb_kek_list(int argc, char **argv);
int verb_kek_show(int argc, char **argv);
int verb_kek_rotate(int argc, char **argv);
int verb_kek_reseal(int argc, char **argv);
int verb_kek_disable(int argc, char **argv);
int verb_kek_enable(int argc, char **argv);
int verb_kek_delete(int argc, char **argv);
int verb_kek_recover(int argc, char **argv);
int verb_kek_purge(int argc, char **argv);
int verb_kek_acl(int argc, char **argv);
int verb_kek_volumes(int argc, char **argv);
int verb_kek_export_exchange_key(int argc, char **argv);
int verb_kek_import(int argc, char **argv);
int verb_kek_backup(int argc, char **argv);
int verb_dek_create(int argc, char **argv);
int verb_dek_list(int argc, char **argv);
int verb_dek_load(int argc, char **argv);
int verb_dek_drop(int argc, char **argv);
int verb_dek_recover(int argc, char **argv);
int verb_dek_purge(int argc, char **argv);
int verb_fleet_sync(int argc, char **argv);
int verb_fleet_shred(int argc, char **argv);
int verb_fleet_status(int argc, char **argv);
int verb_fleet_network(int argc, char **argv);
int verb_luks_enroll(int argc, char **argv);
int verb_luks_list(int argc, char **argv);
int verb_luks_remove(int argc, char **argv);
int verb_luks_rewrap(int argc, char **argv);
int verb_luks_unlock(int argc, char **argv);
int verb_wrap(int argc, char **argv);
int verb_unwrap(int argc, char **argv);
int verb_rewrap(int argc, char **argv);
int verb_unwrap_batch(int argc, char **argv);
int verb_audit(int argc, char **argv);
int verb_attestation_verify(int argc, char **argv);
int verb_attestation_show(int argc, char **argv);
int verb_attestation_report(int argc, char **argv);
int verb_attestation_hcl(int argc, char **argv);
int verb_policy_check(int argc, char **argv);
int verb_policy_show(int argc, char **argv);
int verb_key_create(int argc, char **argv);
int verb_key_list(int argc, char **argv);
int verb_key_show(int argc, char **argv);
int verb_key_sign(int argc, char **argv);
int verb_key_decrypt(int argc, char **argv);
int verb_key_disable(int argc, char **argv);
int verb_key_enable(int argc, char **argv);
int verb_key_delete(int argc, char **argv);
int verb_key_recover(int argc, char **argv);
int verb_key_purge(int argc, char **argv);
int verb_key_acl(int argc, char **argv);
int verb_key_cert(int argc, char **argv);
int verb_key_attest(int argc, char **argv);
int verb_platform(int argc, char **argv);
int verb_collateral_list(int argc, char **argv);
int verb_collateral_import(int argc, char **argv);
int verb_collateral_fetch(int argc, char **argv);
int verb_fleet_enroll(int argc, char **argv);
int verb_fleet_install_cert(int argc, char **argv);
int verb_fleet_show(int argc, char **argv);
int verb_fleet_check(int argc, char **argv);

/* Prints "vhsmctl: " + message to stderr. */
void cli_error(const char *fmt, ...) _printf_(1, 2);
/*
 * Text from outside (daemon replies, reports, certificates) escaped for the terminal
 * (lib/escape). The result lives in one of 8 rotating static buffers: valid for the next 7
 * calls, enough for the arguments of one printf.
 */
const char *cli_esc(const char *s);

/* Maps a negative errno from a library call to an EXIT_* and prints what failed. */
int cli_fail(int r, const char *what);

struct client_req;
struct json_object;

/*
 * Sends req (always released) and prints the reply's JSON: as it is with --json or when fmt is
 * NULL, else through fmt. Returns an EXIT_* after printing any failure.
 */
int cli_call_and_print(struct client_req *req, const char *what,
		       void (*fmt)(struct json_object *o));

/*
 * Sends vhsmd a STATUS request (status, platform, policy show) and receives the reply into
 * *ret_rep: EXIT_OK (the caller client_reply_done()s it), or the failure's EXIT_* after
 * printing it as "<what>: ...".
 */
struct client_reply;
int cli_call_status(const char *what, struct client_reply *ret_rep);

/*
 * A string (escaped for the terminal), integer or boolean member of a JSON reply, read through
 * lib/json's typed getters: "", 0 or false when absent or of another type.
 */
const char *cli_jstr(struct json_object *o, const char *k);
int64_t cli_jint(struct json_object *o, const char *k);
bool cli_jbool(struct json_object *o, const char *k);

/* Prints o (not a secret) pretty on stdout, as every --json result is. NULL: nothing. */
void cli_print_json_object(struct json_object *o);
/*
 * vhsmd's platform description p: on the vtpm platform, label then the SHA-256 of the vTPM's
 * AK ("vtpm_ak_sha256"), and a line telling the admin to hand it to the customer for their
 * policy's "vtpm_ak_digests". Prints nothing elsewhere.
 */
void cli_print_vtpm_ak(struct json_object *p, const char *label);

/* Formats seconds since the epoch as ISO 8601 UTC into buf; "-" for 0 or an invalid time. */
const char *cli_fmt_time(int64_t t, char *buf, size_t len);

/* Checks that the verb got min..max operands (argv from optind) after its options; says why when not. */
bool cli_args_count(int argc, int min, int max);

/*
 * Parses --help and --json of a verb without other options. Returns 0 to go on, -1 after
 * printing "Usage: vhsmctl USAGE", or EXIT_USAGE.
 */
int cli_simple_opts(int argc, char **argv, const char *usage);

/*
 * cli_simple_opts() with a description: --help prints "Usage: vhsmctl USAGE", a blank line
 * and what (NULL: nothing more). Returns as cli_simple_opts().
 */
int cli_simple_opts_what(int argc, char **argv, const char *usage, const char *what);

/*
 * Whether vhsmd will treat this process as an administrator (uid 0 or group "vhsm", as the
 * daemon decides from the peer's credentials). Administrators see every KEK and DEK.
 */
bool cli_caller_is_admin(void);

/*
 * For a non-administrator, says on stderr that a list of WHAT ("KEKs") is filtered by access
 * (not with --json).
 */
void cli_note_filtered(const char *what);

/*
 * For kek delete and disable without --force: when volumes depend on kek (open LUKS2 volumes
 * with a vhsm token of it, plain dm-crypt mappings keyed by its DEKs, entries of the crypttab
 * at path crypttab), lists them on stderr and returns EXIT_REJECTED; else EXIT_OK, or
 * EXIT_ERROR when they could not be looked for (said).
 */
int kek_check_dependents(const char *verb, const char *kek, const char *crypttab);

/*
 * The state of KEK name as vhsmd reports it ("enabled", ...) into buf. Returns 0, -errno when
 * vhsmd refused (not said), or EXIT_USAGE/EXIT_ERROR when it could not be asked (said).
 */
int kek_state(const char *name, char *buf, size_t len);

/* Parses --at values: "YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SSZ" or "@SECONDS". */
int cli_parse_time(const char *s, time_t *ret) _wur_;

/* Prints n bytes as lowercase hex (public data only) to a malloc'ed string. */
char *cli_hex(const uint8_t *p, size_t n);

/* --retention-days N (0..100000). Returns 0, or EXIT_USAGE after saying why. */
int cli_parse_retention_days(const char *s, long *ret);

/*
 * The options of a new KEK that kek create and kek import share: --profile, --exportable,
 * --purge-protection, --attest-each-use and --retention-days. A verb puts
 * KEK_NEW_OPTIONS in its getopt table, passes each option to kek_new_opt() and the result to
 * kek_new_opts_add().
 */
enum {
	O_KEK_PROFILE = 0x1000,
	O_KEK_EXPORT,
	O_KEK_PURGE,
	O_KEK_ATTEST,
	O_KEK_DAYS,
};
#define KEK_NEW_OPTIONS                                                        \
	{ "profile", required_argument, NULL, O_KEK_PROFILE },                 \
	{ "exportable", no_argument, NULL, O_KEK_EXPORT },                     \
	{ "purge-protection", no_argument, NULL, O_KEK_PURGE },                \
	{ "retention-days", required_argument, NULL, O_KEK_DAYS },             \
	{ "attest-each-use", no_argument, NULL, O_KEK_ATTEST }

struct kek_new_opts {
	const char *profile; /* NULL: the daemon's default */
	uint64_t flags;      /* VHSM_KEK_FLAG_* */
	long days;           /* retention; < 0: the daemon's default */
};
#define KEK_NEW_OPTS_INIT { .days = -1 }

/* Takes getopt's c: 1 when it was one of KEK_NEW_OPTIONS, 0 when not, EXIT_USAGE (> 1) for
 * a bad value (said on stderr). */
int kek_new_opt(int c, const char *arg, struct kek_new_opts *o);

/* Adds the options' PROFILE, FLAGS and DAYS fields to the request. */
void kek_new_opts_add(struct client_req *req, const struct kek_new_opts *o);
/*
 * What the chosen options do not protect, or NULL: the `author` profile's key can be derived
 * by any image on this chip whose ID block claims the same IDs. Static text.
 */
const char *kek_new_opts_warning(const struct kek_new_opts *o);
/*
 * Says the warning of the options, if any, once a KEK has been made with them: on stderr
 * ("warning: ..."), or with --json as the "warning" member of the printed result
 * {"kek":NAME,"version":N,"warning":TEXT}.
 */
void kek_new_opts_report(const struct kek_new_opts *o, const char *name, uint32_t version);
