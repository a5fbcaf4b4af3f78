/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Audit trail: journald entries with a stable MESSAGE_ID per event type, and a hash-chained
 * append-only log in the state directory (format in audit.h and docs/audit.md).
 * Lifecycle operations and refusals are fdatasync'ed before the reply; successful data-plane
 * operations (wrap, unwrap, rewrap) are written without a sync so that they stay cheap: they
 * also reach the journal, and a power loss can lose at most the last such records.
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
#include "audit.h"
#include "ct.h"
#include "fileio.h"
#include "json.h"
#include "log.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_MD_CTX *, EVP_MD_CTX_free);

#define AUDIT_LINE_MAX 4096u
#define AUDIT_FILE_MAX (AUDIT_SEGMENT_MAX + 1024u * 1024u)
#define HASH_HEX 64u

struct audit {
	int fd;
	char *path;
	uint64_t seq;
	uint64_t size;
	uint64_t segment_max;
	char prev[HASH_HEX + 1];
	/* Routine successes (see audit_log) journaled at most once per AUDIT_JOURNAL_QUIET_USEC. */
	uint64_t journal_quiet_until;
	uint64_t journal_skipped;
	/* audit_hold(): routine records are collected here and written by one write(). */
	bool holding;
	char *held;
	size_t held_len;
	uint64_t held_seq, held_size;  /* chain state before the first held record */
	char held_prev[HASH_HEX + 1];
};

#define AUDIT_HOLD_MAX (64u * 1024u)

#define AUDIT_JOURNAL_QUIET_USEC 1000000ULL

void audit_set_segment_max(struct audit *a, uint64_t bytes)
{
	a->segment_max = bytes;
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
	{ "audit.verify", "dc3f5956f1ed497b81545c5101002c0c" },};

static const char *message_id_of(const char *event)
{
	for (size_t i = 0; i < ELEMENTSOF(message_ids); i++)
		if (strcmp(message_ids[i].event, event) == 0)
			return message_ids[i].message_id;
	return "00000000000000000000000000000000";
}

static bool event_needs_sync(const char *event, int result)
{
	return result != 0 || (strcmp(event, "wrap") != 0 && strcmp(event, "unwrap") != 0 &&
			       strcmp(event, "rewrap") != 0);
}

/* hash = SHA-256(prev || "\n" || record) as lowercase hex. */
static int chain_hash(const char *prev, const char *record, size_t len, char out[HASH_HEX + 1])
{
	_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t md[32];
	unsigned mdlen = 0;

	if (!ctx || !algs_sha256() || !EVP_DigestInit_ex(ctx, algs_sha256(), NULL) ||
	    !EVP_DigestUpdate(ctx, prev, strlen(prev)) || !EVP_DigestUpdate(ctx, "\n", 1) ||
	    !EVP_DigestUpdate(ctx, record, len) || !EVP_DigestFinal_ex(ctx, md, &mdlen))
		return vhsm_log_openssl(-EIO, "SHA-256");
	ct_hex_encode(out, md, sizeof(md));
	return 0;
}

/*
 * Splits a log line into the hashed record and its hash: a line is the record's JSON with
 * ,"hash":"<64 hex>"} replacing its closing brace.
 */
static int split_line(const char *line, size_t len, char *record, size_t rec_cap,
		      char hash[HASH_HEX + 1])
{
	static const char suffix_head[] = ",\"hash\":\"";
	size_t tail = sizeof(suffix_head) - 1 + HASH_HEX + 2; /* + "\"}" */

	if (len < tail + 2 || len - tail + 1 >= rec_cap)
		return -EBADMSG;
	const char *s = line + len - tail;
	if (memcmp(s, suffix_head, sizeof(suffix_head) - 1) != 0 || memcmp(line + len - 2, "\"}", 2))
		return -EBADMSG;
	memcpy(hash, s + sizeof(suffix_head) - 1, HASH_HEX);
	hash[HASH_HEX] = 0;
	memcpy(record, line, len - tail);
	record[len - tail] = '}';
	record[len - tail + 1] = 0;
	return 0;
}

/* A record's members as json_dispatch() leaves them; strings borrowed from the tree. */
struct record_json {
	uint64_t seq;
	const char *event, *prev;
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
	{}
};

/* Parses one record (the line without its hash) into seq, prev and whether it is a rotation. */
static int record_parse(const char *record, uint64_t *ret_seq, char ret_prev[HASH_HEX + 1],
			bool *ret_rotated, char *err, size_t errlen)
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
	*ret_seq = j.seq;
	memcpy(ret_prev, j.prev, HASH_HEX + 1);
	*ret_rotated = strcmp(j.event, "audit.rotated") == 0;
	return 0;
}

static int audit_verify_chain(const char *path, uint64_t *ret_records,
			      char ret_last[HASH_HEX + 1], char *why, size_t whylen)
{
	_cleanup_free_ uint8_t *buf = NULL;
	char prev[HASH_HEX + 1], hash[HASH_HEX + 1], calc[HASH_HEX + 1];
	char record[AUDIT_LINE_MAX + 2];
	uint64_t n = 0, first = 0;
	size_t len;
	int r;

	memset(prev, '0', HASH_HEX);
	prev[HASH_HEX] = 0;
	r = fileio_read_all(path, AUDIT_FILE_MAX, &buf, &len);
	if (r < 0) {
		snprintf(why, whylen, "cannot read %s: %s", path, strerror(-r));
		return r;
	}
	for (char *line = (char *)buf, *nl; line < (char *)buf + len; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)((char *)buf + len - line));
		if (!nl) {
			snprintf(why, whylen, "record %" PRIu64 ": truncated line", n + 1);
			return -EBADMSG;
		}
		if (split_line(line, (size_t)(nl - line), record, sizeof(record), hash) < 0) {
			snprintf(why, whylen, "record %" PRIu64 ": malformed line", n + 1);
			return -EBADMSG;
		}
		char rprev[HASH_HEX + 1], err[JSON_ERR_MAX] = "";
		uint64_t s;
		bool rotated;

		if (record_parse(record, &s, rprev, &rotated, err, sizeof(err)) < 0) {
			snprintf(why, whylen, "record %" PRIu64 ": not a valid record (%s)", n + 1,
				 err);
			return -EBADMSG;
		}
		/* A rotated segment continues the sequence and the chain of the previous one. */
		if (n == 0 && rotated && s > 1) {
			first = s - 1;
			memcpy(prev, rprev, HASH_HEX);
		}
		bool prev_ok = strcmp(rprev, prev) == 0;
		if (s != first + n + 1) {
			snprintf(why, whylen, "record %" PRIu64 ": sequence %" PRIu64
				 " (a record was deleted or reordered)", n + 1, s);
			return -EBADMSG;
		}
		if (!prev_ok) {
			snprintf(why, whylen, "record %" PRIu64 ": does not chain to the previous "
				 "record (deleted, reordered or edited)", n + 1);
			return -EBADMSG;
		}
		r = chain_hash(prev, record, strlen(record), calc);
		if (r < 0)
			return r;
		if (strcmp(calc, hash) != 0) {
			snprintf(why, whylen, "record %" PRIu64 ": hash mismatch (record edited)",
				 n + 1);
			return -EBADMSG;
		}
		memcpy(prev, hash, sizeof(prev));
		n++;
	}
	*ret_records = first + n;
	if (ret_last)
		memcpy(ret_last, prev, sizeof(prev));
	return 0;
}

int audit_verify_file(const char *path, uint64_t *ret_records, char *why, size_t whylen)
{
	return audit_verify_chain(path, ret_records, NULL, why, whylen);
}

static int audit_open_fd(struct audit *a)
{
	struct stat st;

	a->fd = open(a->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (a->fd < 0)
		return negative_errno();
	a->size = fstat(a->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	return 0;
}

static int audit_append(struct audit *a, const struct audit_record *rec, bool sync,
			char ret_hash[HASH_HEX + 1]);

int audit_open(struct manager *m, struct audit **ret)
{
	_cleanup_free_ struct audit *a = calloc(1, sizeof(*a));
	char moved[4200] = "", why[256] = "";
	uint64_t n = 0;
	int r;

	if (!a)
		return -ENOMEM;
	a->fd = -EBADF;
	a->segment_max = AUDIT_SEGMENT_MAX;
	if (asprintf(&a->path, "%s/audit.log", m->state_dir) < 0) {
		a->path = NULL;
		return -ENOMEM;
	}
	memset(a->prev, '0', HASH_HEX);
	r = audit_verify_chain(a->path, &n, a->prev, why, sizeof(why));
	if (r == 0) {
		a->seq = n;
	} else if (r == -EBADMSG || r == -EMSGSIZE) {
		/* A torn, edited or oversized log must not keep vhsmd from starting: keep it as
		 * evidence and begin a new chain whose first record says so. */
		snprintf(moved, sizeof(moved), "%s.broken.%ld", a->path, (long)time(NULL));
		if (rename(a->path, moved) < 0) {
			free(a->path);
			return negative_errno();
		}
		memset(a->prev, '0', HASH_HEX);
		a->seq = 0;
	} else if (r != -ENOENT) {
		free(a->path);
		return r;
	}
	r = audit_open_fd(a);
	if (r < 0) {
		free(a->path);
		return r;
	}
	if (moved[0]) {
		char reason[4600], hash[HASH_HEX + 1];
		snprintf(reason, sizeof(reason), "previous log kept as %s: %s", moved, why);
		struct audit_record rec = { .event = "audit.reset", .result = -EBADMSG,
					    .reason = reason };
		(void)audit_append(a, &rec, true, hash);
	}
	*ret = TAKE_PTR(a);
	return 0;
}

struct audit *audit_free(struct audit *a)
{
	if (a) {
		if (a->fd >= 0)
			close(a->fd);
		free(a->path);
		free(a->held);
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
	a->holding = false;
	return audit_flush_held(a);
}

static void add_str(json_object *o, const char *k, const char *v)
{
	if (v)
		json_object_object_add(o, k, json_object_new_string(v));
}

static int audit_append(struct audit *a, const struct audit_record *rec, bool sync,
			char ret_hash[HASH_HEX + 1])
{
	json_object *o = json_object_new_object();
	char hash[HASH_HEX + 1], line[AUDIT_LINE_MAX + 128];
	const char *js;
	int r;

	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "seq", json_object_new_int64((int64_t)(a->seq + 1)));
	json_object_object_add(o, "time", json_object_new_int64((int64_t)time(NULL)));
	add_str(o, "event", rec->event);
	add_str(o, "key", rec->key);
	if (rec->version)
		json_object_object_add(o, "version", json_object_new_int64(rec->version));
	if (rec->peer) {
		json_object_object_add(o, "uid", json_object_new_int64(rec->peer->uid));
		json_object_object_add(o, "gid", json_object_new_int64(rec->peer->gid));
		json_object_object_add(o, "pid", json_object_new_int64(rec->peer->pid));
		if (rec->peer->unit[0])
			add_str(o, "unit", rec->peer->unit);
	}
	if (rec->via) {
		json_object_object_add(o, "via_uid", json_object_new_int64(rec->via->uid));
		json_object_object_add(o, "via_pid", json_object_new_int64(rec->via->pid));
	}
	if (rec->count > 1)
		json_object_object_add(o, "count", json_object_new_int64(rec->count));
	add_str(o, "result", rec->result == 0 ? "ok" : "refused");
	if (rec->result)
		add_str(o, "errno", strerror(-rec->result));
	add_str(o, "reason", rec->reason);
	add_str(o, "prev", a->prev);
	js = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						       JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t len = strlen(js);
	if (len > AUDIT_LINE_MAX || len < 2) {
		json_object_put(o);
		return -EMSGSIZE;
	}
	r = chain_hash(a->prev, js, len, hash);
	if (r < 0) {
		json_object_put(o);
		return r;
	}
	int n = snprintf(line, sizeof(line), "%.*s,\"hash\":\"%s\"}\n", (int)(len - 1), js, hash);
	json_object_put(o);
	if (a->holding && !sync && (size_t)n <= AUDIT_HOLD_MAX) {
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
	if (sync && fdatasync(a->fd) < 0)
		return negative_errno();
chained:
	a->size += (uint64_t)n;
	a->seq++;
	memcpy(a->prev, hash, sizeof(hash));
	memcpy(ret_hash, hash, sizeof(hash));
	return 0;
}

/* Starts a new segment once the current one is full (see audit.h). */
static int audit_rotate(struct audit *a)
{
	char old[4200], hash[HASH_HEX + 1];
	int r;

	r = audit_flush_held(a);
	if (r < 0)
		return r;
	snprintf(old, sizeof(old), "%s.%llu", a->path, (unsigned long long)a->seq);
	if (fdatasync(a->fd) < 0 || rename(a->path, old) < 0)
		return negative_errno();
	close(a->fd);
	r = audit_open_fd(a);
	if (r < 0)
		return r;
	struct audit_record rec = { .event = "audit.rotated", .reason = old };
	return audit_append(a, &rec, true, hash);
}

/*
 * A successful wrap, unwrap or rewrap that is in the chain goes to the journal only if none did
 * in the last second; the next journal entry counts the ones in between (VHSM_CHAIN_ONLY), so
 * the journal shows the activity and audit.log has every record. Returns true to skip.
 */
static bool journal_skip(struct manager *m, const struct audit_record *rec, bool chained,
			 uint64_t *ret_skipped)
{
	struct audit *a = m->audit;
	uint64_t now;

	*ret_skipped = 0;
	if (!a || !chained || rec->result != 0 || event_needs_sync(rec->event, rec->result))
		return false;
	if (sd_event_now(m->event, CLOCK_MONOTONIC, &now) < 0)
		return false;
	if (now < a->journal_quiet_until) {
		a->journal_skipped += rec->count > 1 ? rec->count : 1;
		return true;
	}
	a->journal_quiet_until = now + AUDIT_JOURNAL_QUIET_USEC;
	*ret_skipped = a->journal_skipped;
	a->journal_skipped = 0;
	return false;
}

int audit_log(struct manager *m, const struct audit_record *rec)
{
	char hash[HASH_HEX + 1] = "";
	const struct peer *p = rec->peer;
	uint64_t skipped;
	int r = -EBADF;

	if (m->audit && !rec->journal_only) {
		r = 0;
		if (m->audit->size >= m->audit->segment_max)
			r = audit_rotate(m->audit);
		if (r >= 0)
			r = audit_append(m->audit, rec, event_needs_sync(rec->event, rec->result),
					 hash);
	} else if (rec->journal_only) {
		r = 0;
	}
	if (journal_skip(m, rec, r >= 0 && !rec->journal_only, &skipped))
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
			"VHSM_AUDIT_SEQ=%" PRIu64, m->audit ? m->audit->seq : 0,
			"VHSM_AUDIT_HASH=%s", hash,
			"VHSM_COUNT=%u", rec->count > 1 ? rec->count : 1,
			"VHSM_CHAIN_ONLY=%" PRIu64, skipped, NULL);
	return r;
}
