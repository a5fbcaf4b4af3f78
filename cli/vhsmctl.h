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

struct verb {
	const char *group; /* "attestation" */
	const char *name;  /* "verify"; NULL for one-word verbs ("status") */
	int (*run)(int argc, char **argv); /* argv[0] is "GROUP NAME"; returns an EXIT_* */
	const char *summary;
};

extern const struct verb verbs_attestation[];
extern const struct verb verbs_daemon[];
extern const size_t verbs_daemon_n;
extern const struct verb verbs_byok[];
extern const size_t verbs_byok_n;
extern const struct verb verbs_dek[];
extern const size_t verbs_dek_n;
int verb_kek_disable(int argc, char **argv);
extern const struct verb verbs_dek_deleted[];
extern const size_t verbs_dek_deleted_n;
extern const struct verb verbs_policy[];
extern const size_t verbs_policy_n;
extern const struct verb verbs_luks[];
extern const size_t verbs_luks_n;
int verb_attestation_show(int argc, char **argv);
extern const size_t verbs_attestation_n;

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

struct client_req;
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
