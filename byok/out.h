/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsm-byok's output: every line a human reads passes through text_escape() (bundle member
 * names, certificate fields and file contents are untrusted), and with --json everything is
 * also collected into one JSON object printed at exit (checks, warnings, errors, results).
 * Secrets never reach these functions.
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>

#include "macro.h"

/* Starts collecting (json: one object on stdout at the end; quiet: errors and warnings only). */
int out_init(const char *verb, bool json, bool quiet);
/* An error: stderr ("vhsm-byok: ..."), and the "errors" array. */
void out_err(const char *fmt, ...) _printf_(1, 2);
/* A warning that --quiet does not hide: stderr ("vhsm-byok: WARNING: ..."), "warnings". */
void out_warn(const char *fmt, ...) _printf_(1, 2);
/* One check line "  state  name  detail" (stdout unless quiet/json) and a "checks" entry. */
void out_check(const char *state, const char *name, const char *fmt, ...) _printf_(3, 4);
/* An informational line on stdout (unless quiet/json). */
void out_say(const char *fmt, ...) _printf_(1, 2);
/* Sets member key of the result object (takes the reference of val). */
void out_set(const char *key, json_object *val);
/* Prints the JSON object (with "result" and "exit" from exit_code) when --json; frees. */
void out_finish(int exit_code);
