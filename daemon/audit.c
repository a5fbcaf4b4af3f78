/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Audit trail: journald entries with a stable MESSAGE_ID per event type, and a hash-chained
 * append-only log in the state directory (format in audit.h and docs/audit.md).
 * Lifecycle operations and refusals are fdatasync'ed before the reply. Releases (successful
 * wrap, unwrap, rewrap, key pair sign and decrypt, the PKCS#11 KEK mechanisms and keyring
 * requests) are written before the reply too, and made durable as audit_durability says: by
 * their own fdatasync before the reply ("sync"), or by the group commit thread (audit-sync.h)
 * shortly after it ("group"), so that a power loss can lose at most the releases of one
 * fdatasync's window.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include <time.h>
#include <unistd.h>

#include "algs.h"
#include "audit-key.h"
#include "audit-record.h"
#include "audit-sync.h"
#include "audit.h"
#include "ct.h"
#include "fileio.h"
#include "hkdf.h"
#include "journal.h"
#include "json-cleanup.h"
#include "json.h"
#include "log.h"
#include "openssl-util.h"
#include "secmem.h"
#include "text.h"

#define AUDIT_LINE_MAX 4096u
#define AUDIT_FILE_MAX (AUDIT_SEGMENT_MAX + 1024u * 1024u)
#define HASH_HEX 64u

/* Escaped copies of what a record quotes from callers, the only form that is ever written. */
#define AUDIT_KEY_ESCAPED_MAX 257u
#define AUDIT_REASON_ESCAPED_MAX 1025u

#define AUDIT_JOURNAL_WINDOWS 64u

/* One journal quiet window: until when successes of (event, key) are in the chain only. */
struct journal_window {
	uint64_t until;                /* monotonic microseconds; 0: free */
	uint64_t skipped;              /* successes left out of the journal since its last entry */
	char event[24];
	char key[AUDIT_KEY_ESCAPED_MAX];
};

/* The chain's file names inside the state directory (audit.log.N, audit.log.broken.T). */
#define AUDIT_LOG_NAME "audit.log"
#define AUDIT_NAME_MAX 48u

struct audit {
	int fd;
	int dir_fd;                    /* the state directory: every file opened relative to it */
	char *dir;                     /* its path, for messages and records only */
	char *path;                    /* <dir>/audit.log, for messages and records only */
	uint64_t seq;
	uint64_t size;
	uint64_t segment_max;
	char prev[HASH_HEX + 1];
	struct snp_dev *dev;           /* derives the key; NULL: unkeyed (unit tests) */
	const struct attest_state *attest; /* vhsmd's report: the VMPL to derive at */
	bool ready;                    /* key derived and the current segment taken over */
	int key_error;                 /* why the key could not be derived yet, or 0 */
	uint8_t *key;                  /* secmem; NULL: unkeyed */
	char kid[AUDIT_KID_HEX + 1];
	/* Retention (audit.h): disk budget of the chain's segments, their maximum age, and what
	 * the last check found. */
	uint64_t budget;
	uint64_t max_age_sec;
	uint64_t disk_bytes;           /* the older segments' size */
	uint64_t first_seq;
	bool alert;
	/* Routine successes (see journal_skip) journaled at most once per AUDIT_JOURNAL_QUIET_USEC
	 * per event and key; keys beyond the table share the catch-all window. */
	struct journal_window quiet[AUDIT_JOURNAL_WINDOWS];
	struct journal_window quiet_rest;
	/* audit_hold(): routine records are collected here and written by one write(). */
	bool holding;
	char *held;
	size_t held_len;
	uint64_t held_seq, held_size;  /* chain state before the first held record */
	char held_prev[HASH_HEX + 1];
	/* How releases become durable (audit.h); the group commit thread once started. */
	enum audit_durability durability;
	struct audit_sync *sync;
	uint64_t synced_seq;           /* durable without the thread (sync mode, lifecycle) */
};

#define AUDIT_HOLD_MAX (64u * 1024u)

#define AUDIT_JOURNAL_QUIET_USEC 1000000ULL

static int audit_apply_retention(struct audit *a);

void audit_set_segment_max(struct audit *a, uint64_t bytes)
{
	a->segment_max = bytes;
}

void audit_set_retention(struct audit *a, uint64_t budget_bytes, uint64_t max_age_sec)
{
	bool ready = a->ready;

	if (budget_bytes)
		a->budget = budget_bytes;
	a->max_age_sec = max_age_sec;
	/* At least four segments fit in the budget, so pruning never takes the newest ones. */
	if (a->segment_max > a->budget / 4)
		a->segment_max = a->budget / 4;
	if (ready)
		(void)audit_apply_retention(a);
}

void audit_usage(const struct audit *a, struct audit_usage *ret)
{
	*ret = (struct audit_usage){ .bytes = a->disk_bytes + a->size, .budget = a->budget,
				     .max_age_sec = a->max_age_sec, .first_seq = a->first_seq,
				     .seq = a->seq, .alert = a->alert, .keyed = a->key != NULL };
	memcpy(ret->kid, a->kid, sizeof(ret->kid));
	ret->durability = a->durability;
	ret->durable_seq = a->synced_seq;
	if (a->sync) {
		uint64_t d = audit_sync_durable(a->sync);
		if (d > ret->durable_seq)
			ret->durable_seq = d;
	}
}

static const struct {
	const char *event;
	const char *message_id;
} message_ids[] = {
	{ "daemon.start", "29901693bd3e48a5a087103600986c7c" },
	{ "daemon.stop", "63de266be46a4f0fb2c8eefb39059ae3" },
	{ "attestation", "9f4c445ba6e74452bca7d3eaace4cb61" },
	{ "request.malformed", "4144235c2f034920ad09af4c6fc48852" },
	{ "status", "d692922e77b94f4883bd71bc234cd80f" },
	{ "attest.report", "c6fc5b615ff74b9e9286782cc19b104c" },
	{ "kek.create", "fe3696796c864b11b3b1556d43f12026" },
	{ "kek.import", "ce1b5f29be6b4d58addf30614895c61b" },
	{ "kek.list", "f295f630aea7493d9d8800fe52765294" },
	{ "kek.show", "cf326835c58743c58d8c7fbd3deb6fe9" },
	{ "kek.rotate", "a36e3d10ea854d9b81ed3f8f9fc73564" },
	{ "kek.reseal", "9bb3dbbadc584249987d1d20ab922f86" },
	{ "kek.disable", "33f6d329c75a4982b0d408bbea5ba3b0" },
	{ "kek.enable", "bd7e1ae7bd034388865d4bb851973a18" },
	{ "kek.delete", "0cb6081b81fc44ceb931bb03ca4b2674" },
	{ "kek.recover", "2a207e8a61c74c90983d0fee66e868a3" },
	{ "kek.purge", "7c1602c2e78b4dc1b8b810a0ea5e0721" },
	{ "kek.acl", "e1f207000120445c82f28d4429135898" },
	{ "kek.export-exchange-key", "87c56b1fac5241598baeee3e6910bdb7" },
	{ "kek.backup", "64b760a99f834c879b1c408a98c457d0" },
	{ "wrap", "2c9fd9a36688477f91f79f1e64cda28b" },
	{ "unwrap", "d42aae82bc4c4d29b8d6ac479d7bc0cb" },
	{ "rewrap", "22c51bd9ea0c4d9181b72dd58455e286" },
	{ "dek.create", "f915288634814439b7e02cafce8c1f79" },
	{ "dek.load", "1c662c883c934d3b911b2cbccbbe60be" },
	{ "dek.list", "0953143a9ec44c58b6eda8ec8c26b9a1" },
	{ "dek.drop", "b0de990dc7ea48e6bf7ca018514b7d9e" },
	{ "keyring.request", "1cdc72fb81234fa6810d63c2593c279b" },
	{ "kek.shred.volume", "5d0a3c1f9e2b4e6c8a7f21b4c3d9e810" },
	{ "luks.unlock", "951323431d8840dd89c16ee0e9b0caf8" },
	{ "luks.enroll", "78072107b55e4daca03b3b6afe3af666" },
	{ "luks.rewrap", "0bd5be219e994662abba597022d97d27" },
	{ "luks.bind", "55af54a575a34b17b75038500f4b6077" },
	{ "luks.unbind", "9c9bfaac3a0f4d8db91b89139f8ec0e9" },
	{ "luks.keysock", "1f45cacac0654b178c2999e974b2a6c7" },
	{ "audit.reset", "e40916a19ed64314a72ee73192addd64" },
	{ "audit.rotated", "14abd1345625422b8c07b001d401008d" },
	{ "audit.suppressed", "a5a6e9583427487fa4ffdfe4b8e0e9c8" },
	{ "audit.verify", "dc3f5956f1ed497b81545c5101002c0c" },
	{ "audit.keyed", "7d0c2f3e5a9b4c1d8e6f70a1b2c3d4e5" },
	{ "audit.pruned", "3b8e1f0a6c2d4e5f9a7b8c0d1e2f3a4b" },
	{ "audit.budget", "c5d4e3f2a1b04c9d8e7f6a5b4c3d2e1f" },
};

static const char *message_id_of(const char *event)
{
	for (size_t i = 0; i < ELEMENTSOF(message_ids); i++)
		if (strcmp(message_ids[i].event, event) == 0)
			return message_ids[i].message_id;
	return "00000000000000000000000000000000";
}

/*
 * The data plane: successful uses of a key that change no stored state (KEK wrap, unwrap and
 * rewrap; key pair sign and decrypt; the PKCS#11 KEK mechanisms). Chained before the reply,
 * durable as audit_durability says; held in batches, journaled at most once a second.
 */
static const char *const data_plane_events[] = {
	"wrap", "unwrap", "rewrap", "key.sign", "key.decrypt", "kek.wrap-kwp", "kek.unwrap-kwp",
	"kek.gcm-encrypt", "kek.gcm-decrypt",
};

static bool event_needs_sync(const char *event, int result)
{
	if (result != 0)
		return true;
	for (size_t i = 0; i < ELEMENTSOF(data_plane_events); i++)
		if (strcmp(event, data_plane_events[i]) == 0)
			return false;
	return true;
}

/* Releases of key material: durable as audit_durability says (audit.h). */
static bool event_is_release(const char *event, int result)
{
	return !event_needs_sync(event, result) ||
	       (result == 0 && strcmp(event, "keyring.request") == 0);
}

static const char *const durability_names[_AUDIT_DURABILITY_MAX] = {
	[AUDIT_DURABILITY_GROUP] = "group",
	[AUDIT_DURABILITY_SYNC] = "sync",
};

enum audit_durability audit_durability_from_string(const char *s)
{
	for (size_t i = 0; i < ELEMENTSOF(durability_names); i++)
		if (strcmp(s, durability_names[i]) == 0)
			return (enum audit_durability)i;
	return _AUDIT_DURABILITY_INVALID;
}

const char *audit_durability_to_string(enum audit_durability d)
{
	return d >= 0 && d < _AUDIT_DURABILITY_MAX ? durability_names[d] : NULL;
}

void audit_set_durability(struct audit *a, enum audit_durability d)
{
	a->durability = d;
}

/* Everything written so far is durable: the caller just ran fdatasync. */
static void audit_synced(struct audit *a)
{
	a->synced_seq = a->seq;
	if (a->sync)
		audit_sync_done(a->sync, a->seq);
}

/*
 * The releases written so far become durable: now (sync mode, or when the group commit thread
 * cannot run or failed before) or through the thread. 0 or -errno when the fdatasync failed.
 */
static int audit_make_durable(struct audit *a)
{
	int r;

	if (a->durability == AUDIT_DURABILITY_GROUP && !a->sync &&
	    audit_sync_new(a->fd, a->synced_seq, &a->sync) < 0)
		vhsm_log_debug("audit: no group commit thread, syncing each release");
	if (a->durability == AUDIT_DURABILITY_GROUP && a->sync) {
		r = audit_sync_take_error(a->sync);
		if (r == 0) {
			audit_sync_request(a->sync, a->seq);
			return 0;
		}
		log_msg(LOG_ERR, "audit: group commit fdatasync failed (%s); syncing now",
			strerror(-r));
	}
	if (fdatasync(a->fd) < 0)
		return negative_errno();
	audit_synced(a);
	return 0;
}

/* hash = SHA-256(prev || "\n" || record) as lowercase hex. */
static int chain_hash(const char *prev, const char *record, size_t len, char out[HASH_HEX + 1])
{
	uint8_t md[HKDF_SHA256_LEN];
	int r = hkdf_sha256_digest(prev, strlen(prev), "\n", 1, record, len, md);

	if (r < 0)
		return r;
	ct_hex_encode(out, md, sizeof(md));
	return 0;
}

/*
 * Splits a log line into the hashed record, its hash and its MAC: a line is the record's JSON
 * with ,"hash":"<64 hex>"} (unkeyed) or ,"hash":"<64 hex>","mac":"<64 hex>"} (keyed)
 * replacing its closing brace. mac is "" for an unkeyed line.
 */
static int split_line(const char *line, size_t len, char *record, size_t rec_cap,
		      char hash[HASH_HEX + 1], char mac[HASH_HEX + 1])
{
	static const char hash_head[] = ",\"hash\":\"", mac_head[] = "\",\"mac\":\"";
	size_t tail = sizeof(hash_head) - 1 + HASH_HEX + 2; /* + "\"}" */
	size_t keyed_tail = tail + sizeof(mac_head) - 1 + HASH_HEX;
	const char *s;

	mac[0] = 0;
	if (len >= keyed_tail + 2 &&
	    memcmp(line + len - 2 - HASH_HEX - (sizeof(mac_head) - 1), mac_head,
		   sizeof(mac_head) - 1) == 0) {
		memcpy(mac, line + len - 2 - HASH_HEX, HASH_HEX);
		mac[HASH_HEX] = 0;
		tail = keyed_tail;
	}
	if (len < tail + 2 || len - tail + 1 >= rec_cap)
		return -EBADMSG;
	s = line + len - tail;
	if (memcmp(s, hash_head, sizeof(hash_head) - 1) != 0 || memcmp(line + len - 2, "\"}", 2))
		return -EBADMSG;
	memcpy(hash, s + sizeof(hash_head) - 1, HASH_HEX);
	hash[HASH_HEX] = 0;
	if (strspn(hash, "0123456789abcdef") != HASH_HEX ||
	    (mac[0] && strspn(mac, "0123456789abcdef") != HASH_HEX))
		return -EBADMSG;
	memcpy(record, line, len - tail);
	record[len - tail] = '}';
	record[len - tail + 1] = 0;
	return 0;
}

/* A record's members as json_dispatch() leaves them; strings borrowed from the tree. */
struct record_json {
	uint64_t seq;
	const char *event, *prev;
	const char *kid;        /* starts a run under this key (audit-key.h) */
	uint64_t first_seq;     /* "audit.pruned": the anchor */
	const char *first_prev;
};

#define RECORD_FIELD(n, t, fn, fl, lo, hi) { n, t, fn, 0, fl, lo, hi }
#define RECORD_USED(n, t, fn, m, lo, hi)                                                          \
	{ n, t, fn, offsetof(struct record_json, m), JSON_MANDATORY, lo, hi }
/* Every member audit_append() writes; the chain covers the bytes, this the meaning. */
static const struct json_field record_table[] = {
	RECORD_USED("seq", json_type_int, json_dispatch_uint64, seq, 1, INT64_MAX),
	RECORD_USED("event", json_type_string, json_dispatch_string, event, 1, AUDIT_LINE_MAX),
	RECORD_USED("prev", json_type_string, json_dispatch_string, prev, HASH_HEX, HASH_HEX),
	RECORD_FIELD("time", json_type_int, json_dispatch_unused, JSON_MANDATORY, 0, 0),
	RECORD_FIELD("key", json_type_string, json_dispatch_unused, 0, 0, 0),
	RECORD_FIELD("version", json_type_int, json_dispatch_unused, 0, 0, 0),
	RECORD_FIELD("uid", json_type_int, json_dispatch_unused, 0, 0, 0),
	RECORD_FIELD("gid", json_type_int, json_dispatch_unused, 0, 0, 0),
	RECORD_FIELD("pid", json_type_int, json_dispatch_unused, 0, 0, 0),
	RECORD_FIELD("unit", json_type_string, json_dispatch_unused, 0, 0, 0),
	RECORD_FIELD("count", json_type_int, json_dispatch_unused, 0, 0, 0),
	RECORD_FIELD("result", json_type_string, json_dispatch_unused, JSON_MANDATORY, 0, 0),
	RECORD_FIELD("errno", json_type_string, json_dispatch_unused, 0, 0, 0),
	RECORD_FIELD("reason", json_type_string, json_dispatch_unused, 0, 0, 0),
	RECORD_FIELD("via_uid", json_type_int, json_dispatch_unused, 0, 0, 0),
	RECORD_FIELD("via_pid", json_type_int, json_dispatch_unused, 0, 0, 0),
	{ "kid", json_type_string, json_dispatch_string, offsetof(struct record_json, kid), 0,
	  AUDIT_KID_HEX, AUDIT_KID_HEX },
	{ "first_seq", json_type_int, json_dispatch_uint64, offsetof(struct record_json, first_seq),
	  0, 1, INT64_MAX },
	{ "first_prev", json_type_string, json_dispatch_string,
	  offsetof(struct record_json, first_prev), 0, HASH_HEX, HASH_HEX },
	{}
};

/* Parses one record (the line without its hash and MAC) into its members. */
static int record_parse(const char *record, json_object **ret_o, struct record_json *ret,
			char *err, size_t errlen)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	struct record_json j = {};
	int r;

	r = json_parse(record, strlen(record), AUDIT_LINE_MAX + 2, "record", &o, err, errlen);
	if (r < 0)
		return r;
	r = json_dispatch(o, NULL, record_table, &j, err, errlen);
	if (r < 0)
		return r;
	*ret = j;
	*ret_o = TAKE_PTR(o); /* the strings in j are borrowed from it */
	return 0;
}

/* What a walk over records has seen so far (one segment or the whole log). */
struct chain_state {
	const uint8_t *key;            /* NULL: offline, structure only */
	const char *kid;               /* id of key */
	bool started;
	uint64_t seq;                  /* last record */
	char prev[HASH_HEX + 1];       /* its hash */
	uint64_t first_seq;            /* first record walked */
	char first_prev[HASH_HEX + 1];
	char ctx_kid[AUDIT_KID_HEX + 1]; /* key of the records now: "" before any "kid" */
	uint64_t keyed_from;           /* first record of the newest run under key, 0: none */
	uint64_t pruned_first;         /* latest "audit.pruned": first kept record, 0: none */
	uint64_t pruned_seq;
	char pruned_prev[HASH_HEX + 1];
	uint64_t reset_seq;            /* an "audit.reset" record, 0: none */
	const char *file;              /* segment being walked, for messages */
	uint64_t line;
};

static int bad(struct chain_state *st, char *why, size_t whylen, const char *what)
{
	snprintf(why, whylen, "record %" PRIu64 "%s%s: %s", st->line, st->file ? " of " : "",
		 st->file ? st->file : "", what);
	return -EBADMSG;
}

/* The key context of a record: its "kid" switches it; its MAC is checked under our key. */
static int check_keying(struct chain_state *st, const struct record_json *j,
			const char hash[HASH_HEX + 1], const char *mac, char *why, size_t whylen)
{
	const char *kid = j->kid;
	uint64_t s = j->seq;
	char calc[HASH_HEX + 1];

	if (kid) {
		if (strlen(kid) != AUDIT_KID_HEX || !mac[0])
			return bad(st, why, whylen, "invalid key id");
		memcpy(st->ctx_kid, kid, AUDIT_KID_HEX + 1);
	}
	if (!mac[0]) {
		if (st->ctx_kid[0])
			return bad(st, why, whylen, "unkeyed record inside the keyed chain "
				   "(rewritten without this CVM's audit key?)");
		return 0;
	}
	if (!st->ctx_kid[0])
		return bad(st, why, whylen, "a MAC without a key id");
	if (!st->key || strcmp(st->ctx_kid, st->kid) != 0) {
		st->keyed_from = 0; /* under another CVM's key: structure only */
		return 0;
	}
	if (audit_key_mac(st->key, hash, HASH_HEX, calc) < 0)
		return -EIO;
	if (!ct_memeq(calc, mac, HASH_HEX))
		return bad(st, why, whylen, "MAC mismatch (record written or rewritten without "
			   "this CVM's audit key)");
	if (st->keyed_from == 0)
		st->keyed_from = s;
	return 0;
}

/* Checks one record against the walk so far and advances it. */
static int check_record(struct chain_state *st, const char *record, const char *hash,
			const char *mac, char *why, size_t whylen)
{
	_cleanup_(json_object_putp) json_object *o = NULL;
	char calc[HASH_HEX + 1], err[JSON_ERR_MAX] = "", w[JSON_ERR_MAX + 32];
	struct record_json j;
	const char *p, *ev;
	uint64_t s;
	int r;

	/* The strict layer checks every member's type and bounds (record_table): seq >= 1,
	 * prev and first_prev HASH_HEX long, kid AUDIT_KID_HEX long. */
	if (record_parse(record, &o, &j, err, sizeof(err)) < 0) {
		snprintf(w, sizeof(w), "not a valid record (%s)", err);
		return bad(st, why, whylen, w);
	}
	s = j.seq;
	p = j.prev;
	ev = j.event;
	if (!st->started) {
		/* A walk starts at the first record or at the start of a later segment. */
		if (s == 1 ? strspn(p, "0") != HASH_HEX
			   : !(ev && strcmp(ev, "audit.rotated") == 0) || s == 0)
			return bad(st, why, whylen, "the log does not start with its first record "
				   "or a segment start");
		st->first_seq = s;
		memcpy(st->first_prev, p, HASH_HEX + 1);
		memcpy(st->prev, p, HASH_HEX + 1);
		st->seq = s - 1;
		st->started = true;
	}
	if (s != st->seq + 1) {
		snprintf(w, sizeof(w), "sequence %" PRIu64 " (a record was deleted or reordered)", s);
		return bad(st, why, whylen, w);
	}
	if (strcmp(p, st->prev) != 0)
		return bad(st, why, whylen, "does not chain to the previous record (deleted, "
			   "reordered or edited)");
	r = chain_hash(st->prev, record, strlen(record), calc);
	if (r < 0)
		return r;
	if (strcmp(calc, hash) != 0)
		return bad(st, why, whylen, "hash mismatch (record edited)");
	r = check_keying(st, &j, hash, mac, why, whylen);
	if (r < 0)
		return r;
	if (ev && strcmp(ev, "audit.pruned") == 0) {
		if (j.first_seq == 0 || !j.first_prev)
			return bad(st, why, whylen, "invalid pruning record");
		st->pruned_first = j.first_seq;
		memcpy(st->pruned_prev, j.first_prev, HASH_HEX + 1);
		st->pruned_seq = s;
	}
	if (ev && strcmp(ev, "audit.reset") == 0)
		st->reset_seq = s;
	st->seq = s;
	memcpy(st->prev, hash, HASH_HEX + 1);
	return 0;
}

/* Walks the records of the segment file name (relative to dir_fd; dir names it in messages,
 * NULL when name says it all). */
static int walk_file(struct chain_state *st, int dir_fd, const char *dir, const char *name,
		     char *why, size_t whylen)
{
	_cleanup_free_ uint8_t *buf = NULL;
	char hash[HASH_HEX + 1], mac[HASH_HEX + 1];
	char record[AUDIT_LINE_MAX + 2];
	size_t len;
	int r;

	r = fileio_read_all_at(dir_fd, name, AUDIT_FILE_MAX, &buf, &len);
	if (r < 0) {
		snprintf(why, whylen, "cannot read %s%s%s: %s", dir ? dir : "", dir ? "/" : "",
			 name, strerror(-r));
		return r;
	}
	st->line = 0;
	for (char *line = (char *)buf, *nl; line < (char *)buf + len; line = nl + 1) {
		st->line++;
		nl = memchr(line, '\n', (size_t)((char *)buf + len - line));
		if (!nl)
			return bad(st, why, whylen, "truncated line");
		if (split_line(line, (size_t)(nl - line), record, sizeof(record), hash, mac) < 0)
			return bad(st, why, whylen, "malformed line");
		r = check_record(st, record, hash, mac, why, whylen);
		if (r < 0)
			return r;
	}
	return 0;
}

int audit_verify_file(const char *path, uint64_t *ret_records, char *why, size_t whylen)
{
	struct chain_state st = {};
	int r = walk_file(&st, AT_FDCWD, NULL, path, why, whylen);

	if (r < 0)
		return r;
	*ret_records = st.seq;
	return 0;
}

/*
 * Parses the first record of segment name in dir_fd (without verifying it) into *ret, whose
 * strings are borrowed from *ret_o (the caller puts it).
 */
static int first_record(int dir_fd, const char *name, json_object **ret_o,
			struct record_json *ret)
{
	char line[AUDIT_LINE_MAX + 256], record[AUDIT_LINE_MAX + 2], h[HASH_HEX + 1],
		m[HASH_HEX + 1], err[JSON_ERR_MAX];
	_cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;
	char *nl;

	if (fd < 0)
		return negative_errno();
	n = read(fd, line, sizeof(line) - 1);
	if (n < 0)
		return negative_errno();
	line[n] = 0;
	nl = strchr(line, '\n');
	if (!nl)
		return -ENODATA;
	*nl = 0;
	if (split_line(line, (size_t)(nl - line), record, sizeof(record), h, m) < 0 ||
	    record_parse(record, ret_o, ret, err, sizeof(err)) < 0)
		return -EBADMSG;
	return 0;
}

/* The seq and prev of a segment's first record: the pruning anchor. */
static int walk_first(struct chain_state *st, int dir_fd, const char *name)
{
	_cleanup_(json_object_putp) json_object *o = NULL;
	struct record_json j;
	int r = first_record(dir_fd, name, &o, &j);

	if (r < 0)
		return r;
	st->first_seq = j.seq;
	memcpy(st->first_prev, j.prev, HASH_HEX + 1); /* HASH_HEX long (record_table) */
	return 0;
}

/* The seq and event of a segment's first record. */
static int segment_start(int dir_fd, const char *name, uint64_t *ret_seq, bool *ret_rotated)
{
	_cleanup_(json_object_putp) json_object *o = NULL;
	struct record_json j;
	int r = first_record(dir_fd, name, &o, &j);

	if (r < 0)
		return r;
	*ret_seq = j.seq;
	*ret_rotated = strcmp(j.event, "audit.rotated") == 0;
	return 0;
}

#define AUDIT_SEGMENTS_MAX 4096u

/* The name of the segment that ends at record last: audit.log.<last>. */
static void segment_name(uint64_t last, char ret[static AUDIT_NAME_MAX])
{
	/* "audit.log." and 20 digits at most: always fits */
	(void)snprintf(ret, AUDIT_NAME_MAX, AUDIT_LOG_NAME ".%" PRIu64, last);
}

/* One segment of the chain on disk: file name, first seq, size and mtime. */
struct segment {
	char name[AUDIT_NAME_MAX];
	uint64_t first;
	uint64_t size;
	time_t mtime;
};

/*
 * The chain's segments, oldest first, found from audit.log back through each segment's
 * "audit.rotated" start (a segment ending at seq N is audit.log.N). Stops at seq 1, at a
 * reset, or at a segment that is gone (pruned or deleted: the verification decides).
 */
static int segments_list(int dir_fd, struct segment **ret, size_t *ret_n)
{
	_cleanup_free_ struct segment *v = calloc(AUDIT_SEGMENTS_MAX, sizeof(*v));
	size_t n = 0;
	struct stat sb;

	if (!v)
		return -ENOMEM;
	strcpy(v[0].name, AUDIT_LOG_NAME);
	for (;;) {
		struct segment *g = &v[n];
		bool rotated = false;
		if (fstatat(dir_fd, g->name, &sb, 0) < 0)
			break;
		g->size = (uint64_t)sb.st_size;
		g->mtime = sb.st_mtime;
		n++;
		if (segment_start(dir_fd, g->name, &g->first, &rotated) < 0 || !rotated ||
		    g->first <= 1 || n == AUDIT_SEGMENTS_MAX)
			break;
		segment_name(g->first - 1, v[n].name);
	}
	/* oldest first */
	for (size_t i = 0; i < n / 2; i++) {
		struct segment t = v[i];
		v[i] = v[n - 1 - i];
		v[n - 1 - i] = t;
	}
	*ret = TAKE_PTR(v);
	*ret_n = n;
	return 0;
}

static int audit_walk_all(const struct audit *a, struct chain_state *st, char *why,
			  size_t whylen)
{
	_cleanup_free_ struct segment *segs = NULL;
	size_t n = 0;
	int r;

	r = segments_list(a->dir_fd, &segs, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		st->file = i + 1 < n ? segs[i].name : NULL;
		r = walk_file(st, a->dir_fd, a->dir, segs[i].name, why, whylen);
		if (r < 0)
			return r;
	}
	st->file = NULL;
	return 0;
}

int audit_verify(const struct audit *a, struct audit_verify_result *ret, char *why,
		 size_t whylen)
{
	struct chain_state st = { .key = a->key, .kid = a->kid };
	int r;

	if (!a->ready) {
		snprintf(why, whylen, "the audit log is not open: %s",
			 a->key_error ? "the audit key cannot be derived yet" : "not readable");
		return a->key_error ? a->key_error : -EBADF;
	}
	r = audit_walk_all(a, &st, why, whylen);
	if (r < 0)
		return r;
	/* Records before the first kept one are only missing when pruning recorded it, in a
	 * record this CVM keyed (an attacker can neither write one nor move its numbers). */
	if (st.started && st.first_seq > 1 && st.reset_seq == 0) {
		bool anchored = st.pruned_first != 0 && st.first_seq <= st.pruned_first &&
				(st.first_seq != st.pruned_first ||
				 strcmp(st.first_prev, st.pruned_prev) == 0) &&
				(!a->key || (st.keyed_from && st.pruned_seq >= st.keyed_from));
		if (!anchored) {
			snprintf(why, whylen, "records 1..%" PRIu64 " are missing and no pruning by "
				 "the retention policy is recorded for them (segments deleted?)",
				 st.first_seq - 1);
			return -EBADMSG;
		}
	}
	if (a->key && st.started && st.keyed_from == 0) {
		snprintf(why, whylen, "the newest records (up to %" PRIu64 ") are not keyed with "
			 "this CVM's audit key (rewritten?)", st.seq);
		return -EBADMSG;
	}
	*ret = (struct audit_verify_result){
		.records = st.seq,
		.first_seq = st.started ? st.first_seq : 0,
		.keyed_from = st.keyed_from,
		.pruned = st.started && st.first_seq > 1 && st.reset_seq == 0,
		.reset_seq = st.reset_seq,
	};
	return 0;
}

static int audit_open_fd(struct audit *a)
{
	struct stat st;

	a->fd = openat(a->dir_fd, AUDIT_LOG_NAME, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
							   O_NOFOLLOW, 0600);
	if (a->fd < 0)
		return negative_errno();
	a->size = fstat(a->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	return 0;
}

static int audit_append(struct audit *a, const struct audit_record *rec, bool sync,
			char ret_hash[HASH_HEX + 1]);

/* The key id this state directory's log was last keyed with ("" when none). */
static void marker_read(const struct audit *a, char ret[AUDIT_KID_HEX + 1])
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = 0;

	ret[0] = 0;
	if (fileio_read_all_at(a->dir_fd, AUDIT_LOG_NAME ".kid", 64, &buf, &len) == 0 &&
	    len >= AUDIT_KID_HEX) {
		memcpy(ret, buf, AUDIT_KID_HEX);
		ret[AUDIT_KID_HEX] = 0;
	}
}

static int marker_write(const struct audit *a)
{
	char text[AUDIT_KID_HEX + 2];

	snprintf(text, sizeof(text), "%s\n", a->kid);
	return fileio_write_atomic_at(a->dir_fd, AUDIT_LOG_NAME ".kid", text, strlen(text), 0600);
}

/*
 * Verifies the current segment at start. Returns 0 (chain state taken over; *ret_unkeyed set
 * when its newest records are not under this CVM's key), or -EBADMSG/-EMSGSIZE with why, or
 * another -errno.
 */
static int audit_resume(struct audit *a, bool *ret_unkeyed, char *why, size_t whylen)
{
	struct chain_state st = { .key = a->key, .kid = a->kid };
	char marker[AUDIT_KID_HEX + 1];
	int r = walk_file(&st, a->dir_fd, a->dir, AUDIT_LOG_NAME, why, whylen);

	if (r < 0)
		return r;
	*ret_unkeyed = a->key && st.started && st.keyed_from == 0;
	if (*ret_unkeyed) {
		marker_read(a, marker);
		/* This CVM keyed this log before: a log that no longer ends under its key was
		 * replaced or rewritten, not left by an older version or another image. */
		if (strcmp(marker, a->kid) == 0) {
			snprintf(why, whylen, "the log no longer ends with records keyed by this CVM, "
				 "which keyed it before (replaced or rewritten)");
			return -EBADMSG;
		}
	}
	a->seq = st.seq;
	if (st.started)
		memcpy(a->prev, st.prev, sizeof(a->prev));
	return 0;
}

/* Keeps a log that does not verify as evidence; the new chain's first record names it. */
static int audit_set_aside(struct audit *a, char *moved, size_t movedlen)
{
	char name[AUDIT_NAME_MAX];
	long now = (long)time(NULL);

	/* "audit.log.broken." and a long's 20 characters at most: always fits */
	(void)snprintf(name, sizeof(name), AUDIT_LOG_NAME ".broken.%ld", now);
	if (renameat(a->dir_fd, AUDIT_LOG_NAME, a->dir_fd, name) < 0)
		return negative_errno();
	snprintf(moved, movedlen, "%s/%s", a->dir, name);
	memset(a->prev, '0', HASH_HEX);
	a->seq = 0;
	return 0;
}

/* The first record of this start, if the chain needs one: a reset or the keyed start. */
static int audit_open_record(struct audit *a, const char *moved, const char *why, bool unkeyed)
{
	char reason[4800], hash[HASH_HEX + 1];
	int r;

	if (moved[0]) {
		snprintf(reason, sizeof(reason), "previous log kept as %s: %s", moved, why);
		struct audit_record rec = { .event = "audit.reset", .result = -EBADMSG,
					    .reason = reason };
		r = audit_append(a, &rec, true, hash);
	} else if (unkeyed || (a->key && a->seq == 0)) {
		if (a->seq)
			snprintf(reason, sizeof(reason), "records up to %" PRIu64 " are unkeyed or "
				 "keyed by another image: verified by their structure only", a->seq);
		else
			snprintf(reason, sizeof(reason), "a new log");
		struct audit_record rec = { .event = "audit.keyed", .reason = reason };
		r = audit_append(a, &rec, true, hash);
	} else {
		return 0;
	}
	if (r >= 0 && a->key)
		r = marker_write(a);
	return r;
}

/*
 * Finishes opening: derives the key, verifies and continues the current segment (or sets it
 * aside), writes the start record and applies the retention. Until the key can be derived
 * (the firmware throttled or refused) nothing is chained: audit_log() retries here and fails,
 * so that operations that need a record are refused while the journal still has them.
 */
static int audit_ready(struct audit *a)
{
	char moved[4200] = "", why[512] = "";
	bool unkeyed = false;
	int r;

	if (a->ready)
		return 0;
	if (a->dev && !a->key) {
		/* After vhsmd's first report: it names the VMPL, and the attestation gets the
		 * firmware's first answer (and so any refusal to explain). */
		r = a->attest->report_valid ? audit_key_derive(a->dev, a->attest->report.vmpl,
								&a->key, a->kid)
					    : -ENOKEY;
		if (r < 0) {
			a->key_error = r;
			return r;
		}
		a->key_error = 0;
	}
	r = audit_resume(a, &unkeyed, why, sizeof(why));
	if (r == -EBADMSG || r == -EMSGSIZE) {
		/* A torn, edited or oversized log must not keep vhsmd from starting: keep it as
		 * evidence and begin a new chain whose first record says so. */
		r = audit_set_aside(a, moved, sizeof(moved));
		if (r < 0)
			return r;
	} else if (r < 0 && r != -ENOENT) {
		return r;
	}
	r = audit_open_fd(a);
	if (r < 0)
		return r;
	r = audit_open_record(a, moved, why, unkeyed);
	if (r < 0) {
		close(a->fd);
		a->fd = -EBADF;
		return r;
	}
	a->ready = true;
	(void)audit_apply_retention(a);
	return 0;
}

int audit_open(struct manager *m, struct audit **ret)
{
	_cleanup_(audit_freep) struct audit *a = calloc(1, sizeof(*a));
	int r;

	if (!a)
		return -ENOMEM;
	a->fd = -EBADF;
	a->dir_fd = -EBADF;
	a->dev = m->dev;
	a->attest = &m->attest;
	a->segment_max = AUDIT_SEGMENT_MAX;
	a->budget = AUDIT_BUDGET_DEFAULT;
	a->dir = strdup(m->state_dir);
	a->path = text_printf("%s/" AUDIT_LOG_NAME, m->state_dir);
	if (!a->dir || !a->path)
		return -ENOMEM;
	/* Its own fd (not manager's): readable, so that fsync() after pruning works on it. */
	a->dir_fd = open(m->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (a->dir_fd < 0)
		return negative_errno();
	memset(a->prev, '0', HASH_HEX);
	if (a->dev) {
		/* Keyed: taken over at the first record after vhsmd's first report; whether the
		 * log can be written is known now. */
		_cleanup_close_ int fd = openat(a->dir_fd, AUDIT_LOG_NAME, O_WRONLY | O_APPEND |
						 O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			return negative_errno();
		a->key_error = -ENOKEY;
	} else {
		r = audit_ready(a);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(a);
	return 0;
}

int audit_key_status(const struct audit *a)
{
	return a->ready ? 0 : a->key_error ? a->key_error : -EBADF;
}

struct audit *audit_free(struct audit *a)
{
	if (a) {
		/* The thread's last fdatasync covers what was asked for. */
		audit_sync_free(a->sync);
		if (a->fd >= 0)
			close(a->fd);
		if (a->dir_fd >= 0)
			close(a->dir_fd);
		free(a->dir);
		free(a->path);
		free(a->held);
		secmem_free(a->key);
		free(a);
	}
	return NULL;
}

/* Writes the held records; on failure cuts what was written and rewinds the chain to before
 * them, so the next record follows the last one on disk. */
static int audit_flush_held(struct audit *a)
{
	ssize_t w;
	int r;

	if (a->held_len == 0)
		return 0;
	w = write(a->fd, a->held, a->held_len);
	if (w == (ssize_t)a->held_len) {
		a->held_len = 0;
		return 0;
	}
	r = w < 0 ? negative_errno() : -ENOSPC;
	if (ftruncate(a->fd, (off_t)a->held_size) < 0)
		vhsm_log_debug("audit: cannot cut partial records: %m");
	a->seq = a->held_seq;
	a->size = a->held_size;
	memcpy(a->prev, a->held_prev, sizeof(a->prev));
	a->held_len = 0;
	return r;
}

void audit_hold(struct audit *a)
{
	if (!a->held)
		a->held = malloc(AUDIT_HOLD_MAX);
	a->holding = a->held != NULL;
}

int audit_release(struct audit *a)
{
	uint64_t seq = a->seq;
	int r;

	a->holding = false;
	r = audit_flush_held(a);
	if (r < 0 || seq == a->synced_seq)
		return r;
	return audit_make_durable(a);
}

/* The record of n bytes with hash is the chain's newest. */
static void audit_advance(struct audit *a, size_t n, const char hash[HASH_HEX + 1],
			  char ret_hash[HASH_HEX + 1])
{
	a->size += (uint64_t)n;
	a->seq++;
	memcpy(a->prev, hash, HASH_HEX + 1);
	memcpy(ret_hash, hash, HASH_HEX + 1);
}

static int audit_append(struct audit *a, const struct audit_record *rec, bool sync,
			char ret_hash[HASH_HEX + 1])
{
	char hash[HASH_HEX + 1], mac[HASH_HEX + 1] = "", js[AUDIT_LINE_MAX + 1];
	char line[AUDIT_LINE_MAX + 128];
	/* Records that begin a run under a key name it (audit-key.h). */
	bool names_kid = a->key && (strcmp(rec->event, "audit.keyed") == 0 ||
				    strcmp(rec->event, "audit.rotated") == 0 ||
				    strcmp(rec->event, "audit.reset") == 0);
	struct audit_record_chain ch = { .seq = a->seq + 1, .time = (int64_t)time(NULL),
					 .kid = names_kid ? a->kid : NULL, .prev = a->prev };
	int len, r;

	len = audit_record_format(rec, &ch, js, sizeof(js));
	if (len < 2)
		return -EMSGSIZE;
	r = chain_hash(a->prev, js, (size_t)len, hash);
	if (r < 0)
		return r;
	if (a->key) {
		r = audit_key_mac(a->key, hash, HASH_HEX, mac);
		if (r < 0)
			return r;
	}
	int n = mac[0] ? snprintf(line, sizeof(line), "%.*s,\"hash\":\"%s\",\"mac\":\"%s\"}\n",
				  len - 1, js, hash, mac)
		       : snprintf(line, sizeof(line), "%.*s,\"hash\":\"%s\"}\n", len - 1, js, hash);
	if (a->holding && !event_needs_sync(rec->event, rec->result) &&
	    (size_t)n <= AUDIT_HOLD_MAX) {
		if (a->held_len + (size_t)n > AUDIT_HOLD_MAX) {
			r = audit_flush_held(a);
			if (r < 0)
				return r;
		}
		if (a->held_len == 0) {
			a->held_seq = a->seq;
			a->held_size = a->size;
			memcpy(a->held_prev, a->prev, sizeof(a->prev));
		}
		memcpy(a->held + a->held_len, line, (size_t)n);
		a->held_len += (size_t)n;
		goto chained;
	}
	/* Records are written in chain order: what is held goes first. */
	r = audit_flush_held(a);
	if (r < 0)
		return r;
	ssize_t w = write(a->fd, line, (size_t)n);
	if (w != n) {
		/* Never leave a fragment: the next record would follow it and break the chain. */
		r = w < 0 ? negative_errno() : -ENOSPC;
		if (ftruncate(a->fd, (off_t)a->size) < 0)
			vhsm_log_debug("audit: cannot cut a partial record: %m");
		return r;
	}
	audit_advance(a, (size_t)n, hash, ret_hash);
	/* A record that fails to become durable was still written and chained: the chain goes
	 * on from it, and the caller refuses the operation. */
	if (sync) {
		if (fdatasync(a->fd) < 0)
			return negative_errno();
		audit_synced(a);
		return 0;
	}
	return event_is_release(rec->event, rec->result) ? audit_make_durable(a) : 0;
chained:
	audit_advance(a, (size_t)n, hash, ret_hash);
	return 0;
}

/* Starts a new segment once the current one is full (see audit.h). */
static int audit_rotate(struct audit *a)
{
	char name[AUDIT_NAME_MAX], hash[HASH_HEX + 1];
	_cleanup_free_ char *old = NULL;
	int r;

	r = audit_flush_held(a);
	if (r < 0)
		return r;
	segment_name(a->seq, name);
	old = text_printf("%s/%s", a->dir, name); /* the record names the full path */
	if (!old)
		return -ENOMEM;
	if (fdatasync(a->fd) < 0 || renameat(a->dir_fd, AUDIT_LOG_NAME, a->dir_fd, name) < 0)
		return negative_errno();
	audit_synced(a);
	close(a->fd);
	r = audit_open_fd(a);
	if (r < 0)
		return r;
	if (a->sync) {
		r = audit_sync_set_fd(a->sync, a->fd);
		if (r < 0)
			a->sync = audit_sync_free(a->sync); /* started again at the next release */
	}
	struct audit_record rec = { .event = "audit.rotated", .reason = old };
	r = audit_append(a, &rec, true, hash);
	if (r < 0)
		return r;
	(void)audit_apply_retention(a);
	return 0;
}

/*
 * How many of the oldest segments the budget and the age limit leave out (never the newest):
 * the older segments plus a full newest one must fit in the budget.
 */
static size_t prune_count(const struct audit *a, const struct segment *segs, size_t n,
			  uint64_t total)
{
	uint64_t newest = segs[n - 1].size > a->segment_max ? segs[n - 1].size : a->segment_max;
	uint64_t older = total - segs[n - 1].size;
	time_t now = time(NULL);
	size_t k = 0;

	while (k + 1 < n) {
		bool too_old = a->max_age_sec &&
			       (uint64_t)(now - segs[k].mtime) > a->max_age_sec;
		if (older + newest <= a->budget && !too_old)
			break;
		older -= segs[k].size;
		k++;
	}
	return k;
}

/*
 * Prunes segments oldest first beyond the budget or the age limit: first a durable
 * "audit.pruned" record names the first record kept and the hash it chains to (the anchor
 * that --verify starts from), then the files go. Above AUDIT_BUDGET_ALERT_PERCENT of the
 * budget the journal and status say so, once per segment.
 */
static int audit_apply_retention(struct audit *a)
{
	_cleanup_free_ struct segment *segs = NULL;
	uint64_t total = 0;
	size_t n = 0, k;
	int r;

	r = segments_list(a->dir_fd, &segs, &n);
	if (r < 0 || n == 0)
		return r;
	for (size_t i = 0; i < n; i++)
		total += segs[i].size;
	k = prune_count(a, segs, n, total);
	if (k > 0) {
		struct chain_state st = {};
		char reason[256], hash[HASH_HEX + 1];
		uint64_t freed = 0;
		/* the anchor: the first record of the first segment kept */
		if (walk_first(&st, a->dir_fd, segs[k].name) < 0)
			return -EBADMSG;
		for (size_t i = 0; i < k; i++)
			freed += segs[i].size;
		snprintf(reason, sizeof(reason), "retention: %zu segment(s), records %" PRIu64
			 "..%" PRIu64 ", %" PRIu64 " bytes pruned (budget %" PRIu64 " bytes%s)", k,
			 segs[0].first, st.first_seq - 1, freed, a->budget,
			 a->max_age_sec ? ", age limit" : "");
		struct audit_record rec = { .event = "audit.pruned", .reason = reason,
					    .first_seq = st.first_seq, .first_prev = st.first_prev };
		r = audit_append(a, &rec, true, hash);
		if (r < 0)
			return r;
		for (size_t i = 0; i < k; i++)
			if (unlinkat(a->dir_fd, segs[i].name, 0) < 0)
				vhsm_log_debug("audit: cannot prune %s/%s: %m", a->dir, segs[i].name);
		if (fsync(a->dir_fd) < 0)
			vhsm_log_debug("audit: cannot sync the state directory after pruning");
		total -= freed;
		sd_journal_send("MESSAGE=vhsm audit.pruned: %s", reason,
				"MESSAGE_ID=%s", message_id_of("audit.pruned"), "PRIORITY=5",
				"VHSM_EVENT=audit.pruned", NULL);
	}
	a->disk_bytes = total - segs[n - 1].size; /* the older segments; + a->size */
	a->first_seq = k < n ? segs[k].first : 1;
	if (a->first_seq == 0)
		a->first_seq = 1;
	/* Alert when the next full segment would reach the alert share of the budget, and from
	 * the first pruning on. */
	a->alert = a->first_seq > 1 ||
		   (a->disk_bytes + a->segment_max) * 100 >= a->budget * AUDIT_BUDGET_ALERT_PERCENT;
	if (a->alert)
		sd_journal_send("MESSAGE=vhsm audit.budget: the audit log uses %" PRIu64 " of its %"
				PRIu64 " byte budget; its oldest segments are pruned from now on "
				"(forward the journal or copy audit.log.* to keep them)",
				total, a->budget, "MESSAGE_ID=%s", message_id_of("audit.budget"),
				"PRIORITY=4", "VHSM_EVENT=audit.budget", NULL);
	return 0;
}

/*
 * The window of (event, key): its own, else a free one or one that expired with nothing left
 * to count, else the catch-all window (so that the journal stays bounded with many keys).
 */
static struct journal_window *journal_window(struct audit *a, const char *event, const char *key,
					     uint64_t now)
{
	struct journal_window *spare = NULL;

	key = key ? key : "";
	if (strlen(event) >= sizeof(a->quiet[0].event) || strlen(key) >= sizeof(a->quiet[0].key))
		return &a->quiet_rest;
	for (size_t i = 0; i < AUDIT_JOURNAL_WINDOWS; i++) {
		struct journal_window *w = &a->quiet[i];
		if (w->until && strcmp(w->event, event) == 0 && strcmp(w->key, key) == 0)
			return w;
		if (!spare && (w->until == 0 || (w->until <= now && w->skipped == 0)))
			spare = w;
	}
	if (!spare)
		return &a->quiet_rest;
	*spare = (struct journal_window){};
	strcpy(spare->event, event);
	strcpy(spare->key, key);
	return spare;
}

/*
 * A successful data-plane use that is in the chain goes to the journal only if none of the
 * same event and key did in the last second; the next journal entry of that event and key
 * counts the ones in between (VHSM_CHAIN_ONLY), so the journal shows each key's activity and
 * audit.log has every record. Returns true to skip.
 */
static bool journal_skip(struct audit *a, const struct audit_record *rec, bool chained,
			 uint64_t *ret_skipped)
{
	struct journal_window *w;
	struct timespec ts;
	uint64_t now;

	*ret_skipped = 0;
	if (!a || !chained || rec->result != 0 || event_needs_sync(rec->event, rec->result))
		return false;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return false;
	now = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	w = journal_window(a, rec->event, rec->key, now);
	if (now < w->until) {
		w->skipped += rec->count > 1 ? rec->count : 1;
		return true;
	}
	w->until = now + AUDIT_JOURNAL_QUIET_USEC;
	*ret_skipped = w->skipped;
	w->skipped = 0;
	return false;
}

static const char *escaped(const char *s, char *buf, size_t len)
{
	if (!s)
		return NULL;
	text_escape_bytes((const uint8_t *)s, strlen(s), buf, len);
	return buf;
}

static int audit_log_escaped(struct audit *a, const struct audit_record *rec);

int audit_log(struct audit *a, const struct audit_record *rec)
{
	char key[AUDIT_KEY_ESCAPED_MAX], reason[AUDIT_REASON_ESCAPED_MAX];
	struct audit_record e = *rec;

	/* Names and reasons may quote a request's bytes (an invalid name, a right-to-left
	 * override, control characters): the chain and the journal get them escaped only. */
	e.key = escaped(rec->key, key, sizeof(key));
	e.reason = escaped(rec->reason, reason, sizeof(reason));
	return audit_log_escaped(a, &e);
}

static int audit_log_escaped(struct audit *a, const struct audit_record *rec)
{
	char hash[HASH_HEX + 1] = "";
	const struct peer *p = rec->peer;
	uint64_t skipped;
	int r = -EBADF;

	if (a && !rec->journal_only) {
		r = audit_ready(a);
		if (r >= 0 && a->size >= a->segment_max)
			r = audit_rotate(a);
		if (r >= 0)
			r = audit_append(a, rec,
					 !event_is_release(rec->event, rec->result) ||
						 a->durability == AUDIT_DURABILITY_SYNC,
					 hash);
	} else if (rec->journal_only) {
		r = 0;
	}
	if (journal_skip(a, rec, r >= 0 && !rec->journal_only, &skipped))
		return r;
	sd_journal_send("MESSAGE=vhsm %s%s%s: %s%s%s", rec->event, rec->key ? " " : "",
			rec->key ? rec->key : "", rec->result == 0 ? "ok" : "refused",
			rec->reason ? ": " : "", rec->reason ? rec->reason : "",
			"MESSAGE_ID=%s", message_id_of(rec->event),
			"PRIORITY=%d", rec->result == 0 ? 6 : 4,
			"VHSM_EVENT=%s", rec->event,
			"VHSM_KEY=%s", rec->key ? rec->key : "",
			"VHSM_KEY_VERSION=%u", rec->version,
			"VHSM_CALLER_UID=%d", p ? (int)p->uid : -1,
			"VHSM_CALLER_PID=%d", p ? (int)p->pid : -1,
			"VHSM_CALLER_UNIT=%s", p && p->unit[0] ? p->unit : "",
			"VHSM_RESULT=%s", rec->result == 0 ? "ok" : "refused",
			"VHSM_REASON=%s", rec->reason ? rec->reason : "",
			"VHSM_AUDIT_SEQ=%" PRIu64, a ? a->seq : 0,
			"VHSM_AUDIT_HASH=%s", hash,
			"VHSM_COUNT=%u", rec->count > 1 ? rec->count : 1,
			"VHSM_CHAIN_ONLY=%" PRIu64, skipped, NULL);
	return r;
}
