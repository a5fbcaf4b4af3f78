/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One audit record's JSON (audit.h), written straight into a buffer: the bytes are those
 * json-c's json_object_to_json_string_ext(JSON_C_TO_STRING_PLAIN |
 * JSON_C_TO_STRING_NOSLASHESCAPE) makes of the same members in the same order (compared in
 * tests/unit/test-daemon.c), without building, printing and freeing an object tree per record.
 */
#pragma once

#include "vhsmd.h"

/* One event to record (audit.h says how it is chained and journaled). */
struct audit_record {
	const char *event;   /* "kek.create", "unwrap", "attestation", ... */
	const char *key;     /* KEK or DEK name, may be NULL */
	uint32_t version;    /* 0 when not applicable */
	const struct peer *peer;
	int result;          /* 0 ok, negative errno refused/failed */
	const char *reason;  /* why it was refused, may be NULL */
	bool journal_only;   /* read-only or unauthenticated noise: journal, not the chain */
	uint32_t count;      /* > 1: this many identical successes (see the top of audit.h) */
	const struct peer *via; /* relayed for peer by this one (the request-key helper), or NULL */
	uint64_t first_seq;     /* "audit.pruned": the first record kept ... */
	const char *first_prev; /* ... and the hash it chains to */
};

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
