/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsm-byok: loading the evidence files vhsmctl writes (the enrollment bundle of fleet enroll,
 * the key attestation file of key attest). Both are one strict JSON object with a "format"
 * member and the same three pieces of evidence: a nonce (hex, may be empty), a report and the
 * host's certificates (base64). Errors go through out.h, naming the file.
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "report-evidence.h"

/* The largest nonce either file binds (lib/fleet-enroll, lib/keyattest). */
#define EVIDENCE_NONCE_MAX 64u
/* The "report" member's base64: an SNP report or an HCL report (lib/report-evidence). */
#define EVIDENCE_REPORT_B64_MAX (4u * ((REPORT_EVIDENCE_MAX + 2u) / 3u))
/* A whole file: the report's and the certificates' base64 (48 KiB) and a little more. */
#define EVIDENCE_FILE_MAX (160u * 1024u)

struct evidence {
	uint8_t nonce[EVIDENCE_NONCE_MAX];
	size_t nonce_len;
	uint8_t *report; /* an SNP or HCL report (malloc; evidence_done() frees) */
	size_t report_len;
	uint8_t *certs;  /* malloc; evidence_done() frees */
	size_t certs_len;
};

/*
 * Reads path (at most max bytes) and parses it (what names the document: "a key attestation")
 * through table into f; *format, a member table wrote, must then equal want. f's strings are
 * borrowed from *ret_o (the caller puts it). Returns EXIT_OK; EXIT_ERROR after "PATH: <errno>"
 * when the file cannot be read; EXIT_REJECTED after "PATH: <member>: <reason>".
 */
int evidence_parse(const char *path, size_t max, const char *what,
		   const struct json_field table[], void *f, const char *const *format,
		   const char *want, struct json_object **ret_o);

/*
 * Decodes the nonce (hex), report (base64 of an SNP report or an HCL report: lib/report-evidence
 * opens it later) and certs (base64) members into e (e->report and e->certs allocated here,
 * also on failure: evidence_done()). Returns EXIT_OK; EXIT_REJECTED after "PATH: <member>:
 * <reason>"; EXIT_ERROR on ENOMEM.
 */
int evidence_decode(const char *path, const char *nonce, const char *report, const char *certs,
		    struct evidence *e);

/* Whether hex (the verifier's --nonce) decodes to e's nonce; constant time in the nonce. */
bool evidence_nonce_is(const struct evidence *e, const char *hex);

/* Frees e->report and e->certs and empties e. */
void evidence_done(struct evidence *e);
