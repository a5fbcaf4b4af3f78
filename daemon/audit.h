/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Audit: every operation and every refusal goes to the journal (stable MESSAGE_ID per event
 * type, structured fields) and to a hash-chained, append-only log <state>/audit.log, one JSON
 * record per line: {"seq":N,"time":T,"event":E,...,"prev":H(N-1),"hash":H(N)} with
 * H(N) = SHA-256(H(N-1) || record without "hash"). A segment past AUDIT_SEGMENT_MAX is renamed
 * audit.log.<last seq> and the new file starts with an "audit.rotated" record that carries the
 * old segment's last hash as "prev" and continues the sequence; a log that does not verify at
 * start is kept aside and the new chain starts with an "audit.reset" record naming it.
 * Keyed lines end ,"hash":H,"mac":M} with M = HMAC-SHA256(audit key, H as hex) (audit-key.h);
 * "audit.keyed", "audit.rotated" and "audit.reset" records name the key's id ("kid"). Beyond
 * the disk budget the oldest segments are pruned after an "audit.pruned" record that names the
 * first kept record ("first_seq") and the hash it chains to ("first_prev").
 * A record with "count":N stands for N identical successful releases (consecutive items of
 * one UNWRAP_BATCH under the same KEK version, same caller, same second), or for a read-only
 * event (kek.show, dek.load) N successes of one uid on one key: this one and the N-1 before it
 * since the previous chained record of that uid, event and key (audit-coalesce.h); without
 * "count" a record is one event. "via_uid"/"via_pid" name the peer that relayed a request made
 * for "uid" (KEYRING_REQUEST from the request-key helper).
 */
#pragma once

#include "audit-record.h"
#include "vhsmd.h"

struct audit;

/*
 * Opens <state>/audit.log: derives the audit key from m->dev (none without a device: an
 * unkeyed log, for unit tests), verifies the current segment and continues its chain. A log
 * that does not verify, or that no longer ends under this CVM's key although this CVM keyed
 * it (<state>/audit.log.kid), is kept aside and the new chain starts with "audit.reset"; a log
 * that ends unkeyed or under another image's key continues with "audit.keyed". Applies the
 * retention. When the key cannot be derived yet (the firmware throttled or refused), returns 0
 * with the log not open: every audit_log() tries again, and until then chained records fail.
 * Returns -errno when the log cannot be read or written.
 */
int audit_open(struct manager *m, struct audit **ret);
/* 0 when the log is open and keyed, else why not (-EBUSY etc. from the key derivation). */
int audit_key_status(const struct audit *a);
struct audit *audit_free(struct audit *a);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct audit *, audit_free);
/*
 * Records one event in the journal and in a's chained log (a NULL while the log is not open:
 * the journal only, and a chained record fails with -EBADF). Never fails the caller's
 * operation silently: returns -errno when the log could not be written (the caller refuses
 * the op).
 */
int audit_log(struct audit *a, const struct audit_record *rec);

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
 * Verifies one segment file without the key (offline: structure, sequence, hash chain, and
 * that no unkeyed record follows a keyed one; MACs are not checked): returns 0 and the last
 * sequence number, or -EBADMSG with the record number and what is wrong (edited, deleted or
 * reordered record, broken JSON) in why.
 */
int audit_verify_file(const char *path, uint64_t *ret_records, char *why, size_t whylen);

struct audit_verify_result {
	uint64_t records;    /* sequence number of the newest record */
	uint64_t first_seq;  /* oldest record on disk (> 1: older ones pruned by policy) */
	uint64_t keyed_from; /* first record of the newest run whose MACs this CVM verified */
	bool pruned;
	uint64_t reset_seq;  /* an "audit.reset" record (the chain restarted at start), or 0 */
};

/*
 * Verifies the whole log as vhsmd sees it: every kept segment in order, the hash chain across
 * them, the MAC of every record under this CVM's key from the newest "kid" of this key on
 * (records before it: structure only), that the newest records are under this key, and that
 * records missing before the oldest segment were pruned by a recorded "audit.pruned" (written
 * under this key) that names the first kept record and its hash. Returns 0 and *ret, or
 * -EBADMSG with why.
 */
int audit_verify(const struct audit *a, struct audit_verify_result *ret, char *why,
		 size_t whylen);

#define AUDIT_SEGMENT_MAX (64u * 1024u * 1024u)
/* Default disk budget of the log's segments; the oldest are pruned beyond it. */
#define AUDIT_BUDGET_DEFAULT (1024ull * 1024u * 1024u)
#define AUDIT_BUDGET_MIN (64u * 1024u)
/* Above this share of the budget the journal and status warn that pruning is under way. */
#define AUDIT_BUDGET_ALERT_PERCENT 80u

/*
 * Sets the disk budget (0: keep the current one) and the maximum age of a segment in seconds
 * (0: no age limit), shrinks the segment size to a quarter of the budget if needed, and
 * prunes now.
 */
void audit_set_retention(struct audit *a, uint64_t budget_bytes, uint64_t max_age_sec);

/*
 * When a release (successful wrap, unwrap, rewrap, UNWRAP_BATCH items, keyring request) is
 * durable. Both write its record, chained, before the reply; lifecycle events and refusals are
 * always fdatasync'ed before the reply.
 *   group: one fdatasync of a group commit thread, shared by every release written while the
 *          previous one ran, starts as soon as the record is written; the reply does not wait.
 *          A power loss can lose the releases of that window (docs/SECURITY.md).
 *   sync:  each release (each batch) is fdatasync'ed before its reply.
 */
enum audit_durability {
	AUDIT_DURABILITY_GROUP,
	AUDIT_DURABILITY_SYNC,
	_AUDIT_DURABILITY_MAX,
	_AUDIT_DURABILITY_INVALID = -EINVAL,
};

/* "group" / "sync" to the enum, or _AUDIT_DURABILITY_INVALID; and back (NULL if invalid). */
enum audit_durability audit_durability_from_string(const char *s);
const char *audit_durability_to_string(enum audit_durability d);
/* Sets how releases become durable (default: group). */
void audit_set_durability(struct audit *a, enum audit_durability d);

struct audit_usage {
	uint64_t bytes, budget, max_age_sec;
	uint64_t first_seq, seq;
	uint64_t durable_seq; /* newest record known to have been fdatasync'ed */
	enum audit_durability durability;
	bool alert, keyed;
	char kid[17];
};
/* The log's disk use and retention as of the last rotation (for status). */
void audit_usage(const struct audit *a, struct audit_usage *ret);

/* Changes the segment size (tests). */
void audit_set_segment_max(struct audit *a, uint64_t bytes);
