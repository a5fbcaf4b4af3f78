/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Audit: every operation and every refusal goes to the journal (stable MESSAGE_ID per event
 * type, structured fields) and to a hash-chained, append-only log <state>/audit.log, one JSON
 * record per line: {"seq":N,"time":T,"event":E,...,"prev":H(N-1),"hash":H(N)} with
 * H(N) = SHA-256(H(N-1) || record without "hash"). A segment past AUDIT_SEGMENT_MAX is renamed
 * audit.log.<last seq> and the new file starts with an "audit.rotated" record that carries the
 * old segment's last hash as "prev" and continues the sequence; a log that does not verify at
 * start is kept aside and the new chain starts with an "audit.reset" record naming it.
 * A record with "count":N stands for N identical successful releases (consecutive items of
 * one UNWRAP_BATCH under the same KEK version, same caller, same second), or for a read-only
 * event (kek.show, dek.load) N successes of one uid on one key: this one and the N-1 before it
 * since the previous chained record of that uid, event and key (audit-coalesce.h); without
 * "count" a record is one event. "via_uid"/"via_pid" name the peer that relayed a request made
 * for "uid" (KEYRING_REQUEST from the request-key helper).
 */
#pragma once

#include "vhsmd.h"

struct audit;

struct audit_record {
	const char *event;   /* "kek.create", "unwrap", "attestation", ... */
	const char *key;     /* KEK or DEK name, may be NULL */
	uint32_t version;    /* 0 when not applicable */
	const struct peer *peer;
	int result;          /* 0 ok, negative errno refused/failed */
	const char *reason;  /* why it was refused, may be NULL */
	bool journal_only;   /* read-only or unauthenticated noise: journal, not the chain */
	uint32_t count;      /* > 1: this many identical successes (see the top of this file) */
	const struct peer *via; /* relayed for peer by this one (the request-key helper), or NULL */
};

int audit_open(struct manager *m, struct audit **ret);
struct audit *audit_free(struct audit *a);
/* Records one event in the journal and the chained log. Never fails the caller's operation
 * silently: returns -errno when the log could not be written (the caller refuses the op). */
int audit_log(struct manager *m, const struct audit_record *rec);

/*
 * Between audit_hold() and audit_release(), records that need no fdatasync (successful
 * wrap, unwrap, rewrap) are chained in memory and written with one write() at the release,
 * or earlier when a record that needs fdatasync comes, the buffer fills or the log rotates.
 * The caller releases before it replies, so nothing is handed out before its record is in
 * the file (page cache, as for single requests). audit_release() returns -errno when the
 * write failed; the held records are then cut off the file and the chain rewound, and the
 * caller must release nothing they cover.
 */
void audit_hold(struct audit *a);
int audit_release(struct audit *a);

/*
 * Verifies a chained log: returns 0 and the number of records, or -EBADMSG with the line
 * number and what is wrong (edited, deleted or reordered record, broken JSON) in why.
 */
int audit_verify_file(const char *path, uint64_t *ret_records, char *why, size_t whylen);

#define AUDIT_SEGMENT_MAX (64u * 1024u * 1024u)

/* Changes the segment size (tests). */
void audit_set_segment_max(struct audit *a, uint64_t bytes);
