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
extern const struct verb verbs_luks[];
extern const size_t verbs_luks_n;
int verb_attestation_show(int argc, char **argv);
extern const size_t verbs_attestation_n;

/* Prints "vhsmctl: " + message to stderr. */
void cli_error(const char *fmt, ...) _printf_(1, 2);

/* Maps a negative errno from a library call to an EXIT_* and prints what failed. */
int cli_fail(int r, const char *what);

/* Parses --at values: "YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SSZ" or "@SECONDS". */
int cli_parse_time(const char *s, time_t *ret) _wur_;

/* Prints n bytes as lowercase hex (public data only) to a malloc'ed string. */
char *cli_hex(const uint8_t *p, size_t n);
