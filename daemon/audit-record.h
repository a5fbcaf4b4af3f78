/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One audit record's JSON (audit.h), written straight into a buffer: the bytes are those
 * json-c's json_object_to_json_string_ext(JSON_C_TO_STRING_PLAIN |
 * JSON_C_TO_STRING_NOSLASHESCAPE) makes of the same members in the same order (compared in
 * tests/unit/test-daemon.c), without building, printing and freeing an object tree per record.
 */
#pragma once

#include "audit.h"

struct audit_record_chain {
	uint64_t seq;       /* this record's sequence number */
	int64_t time;       /* seconds since the epoch */
	const char *kid;    /* the key id to name ("kid"), or NULL */
	const char *prev;   /* the previous record's hash */
};

/*
 * Writes rec's JSON ({"seq":...,"prev":"..."}) into out (cap bytes) and NUL-terminates it.
 * Returns its length, or -EMSGSIZE when it does not fit. Pure; does not log.
 */
int audit_record_format(const struct audit_record *rec, const struct audit_record_chain *ch,
			char *out, size_t cap);
