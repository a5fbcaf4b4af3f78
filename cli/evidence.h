/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsmctl: the evidence files vhsmd's attested replies are written to for checking on another
 * machine (key attest: the key attestation file; fleet enroll: the enrollment bundle). Print
 * their own errors on stderr.
 */
#pragma once

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

/* The largest nonce a verb binds into a report (REPORT_DATA carries it hashed). */
#define CLI_NONCE_MAX 64u

/*
 * Decodes --nonce's hex (1..CLI_NONCE_MAX bytes) into nonce. Returns EXIT_OK and sets
 * *ret_len, or EXIT_USAGE after saying "<what>: --nonce: 1 to 64 bytes in hex expected".
 */
int cli_parse_nonce(const char *what, const char *hex, uint8_t nonce[static CLI_NONCE_MAX],
		    size_t *ret_len);

/* A reply field as a base64 JSON string (a new reference): "" when f is NULL or on ENOMEM. */
json_object *cli_json_base64(const struct vhsm_wire_field *f);

/*
 * Writes o as pretty JSON to path (atomically, mode 0644). Returns EXIT_OK, or EXIT_ERROR
 * after saying "<what>: cannot write <path>".
 */
int cli_write_json_file(json_object *o, const char *what, const char *path);
