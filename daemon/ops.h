/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Request handling: the op table (ops.c), the handlers (op-*.c) and what they share
 * (op-common.c).
 */
#pragma once

#include "wire.h"
#include "vhsmd.h"

struct op_ctx {
	struct manager *m;
	const struct peer *peer;
	const struct vhsm_wire_msg *req;
	struct vhsm_wire_builder *reply;
	/* Filled by handlers for the audit record. */
	char key[KEK_NAME_MAX + 1];
	uint32_t version;
	uint8_t policy_digest[32]; /* policy the KEK was sealed under (kek show) */
	char why[512];
	/* Set by a handler that acts for another principal (KEYRING_REQUEST: the uid/gid the
	 * kernel names, accepted from root only): the audit record and the refusal cap are
	 * charged to it, and the record names the relaying peer as "via". */
	bool requester_set;
	struct peer requester;
};

typedef int (*op_handler)(struct op_ctx *c);

/* Handlers return 0, or a negative errno with c->why saying why (shown to the caller). On
 * success, a why set by the handler is recorded in the audit record as a detail. */
int op_status(struct op_ctx *c);
int op_attest_report(struct op_ctx *c);
int op_audit_verify(struct op_ctx *c);
int op_kek_create(struct op_ctx *c);
int op_kek_list(struct op_ctx *c);
int op_kek_show(struct op_ctx *c);
int op_kek_rotate(struct op_ctx *c);
int op_kek_reseal(struct op_ctx *c);
int op_kek_disable(struct op_ctx *c);
int op_kek_enable(struct op_ctx *c);
int op_kek_delete(struct op_ctx *c);
int op_kek_recover(struct op_ctx *c);
int op_kek_purge(struct op_ctx *c);
int op_kek_set_acl(struct op_ctx *c);
int op_kek_export_exchange_key(struct op_ctx *c);
int op_kek_import(struct op_ctx *c);
int op_kek_backup(struct op_ctx *c);
int op_wrap(struct op_ctx *c);
int op_unwrap(struct op_ctx *c);
int op_rewrap(struct op_ctx *c);
int op_unwrap_batch(struct op_ctx *c);
int op_dek_create(struct op_ctx *c);
int op_dek_list(struct op_ctx *c);
int op_dek_load(struct op_ctx *c);
int op_dek_drop(struct op_ctx *c);
int op_dek_recover(struct op_ctx *c);
int op_dek_purge(struct op_ctx *c);
int op_keyring_request(struct op_ctx *c);
int op_kek_shred_volume(struct op_ctx *c);
int op_luks_unlock(struct op_ctx *c);
int op_luks_enroll(struct op_ctx *c);
int op_luks_rewrap(struct op_ctx *c);
int op_luks_bind(struct op_ctx *c);
int op_luks_unbind(struct op_ctx *c);
/* Key pairs and the PKCS#11 AES operations under a KEK (op-key.c). */
int op_key_create(struct op_ctx *c);
int op_key_list(struct op_ctx *c);
int op_key_get(struct op_ctx *c);
int op_key_sign(struct op_ctx *c);
int op_key_decrypt(struct op_ctx *c);
int op_key_set_cert(struct op_ctx *c);
int op_key_disable(struct op_ctx *c);
int op_key_enable(struct op_ctx *c);
int op_key_delete(struct op_ctx *c);
int op_key_recover(struct op_ctx *c);
int op_key_purge(struct op_ctx *c);
int op_key_set_acl(struct op_ctx *c);
int op_key_attest(struct op_ctx *c);
int op_kek_wrap_kwp(struct op_ctx *c);
/* The fleet identity's attested enrollment (op-fleet.c). */
int op_fleet_enroll(struct op_ctx *c);
int op_fleet_install_cert(struct op_ctx *c);
int op_fleet_show(struct op_ctx *c);
int op_fleet_check(struct op_ctx *c);
int op_kek_unwrap_kwp(struct op_ctx *c);
int op_kek_gcm_encrypt(struct op_ctx *c);
int op_kek_gcm_decrypt(struct op_ctx *c);
/* Fleet mode (fleet.c). */
int op_fleet_sync(struct op_ctx *c);
int op_fleet_status(struct op_ctx *c);

/*
 * The status a handler's result r is answered with: -EAGAIN only when a limit declined the
 * request (limit_declined; the reply then carries VHSM_TAG_BUSY), any other -EAGAIN becomes
 * -EIO with why (the handler's message, may be "") saying so. Other results unchanged.
 */
int ops_status(int r, bool limit_declined, char *why, size_t whylen);

/*
 * The reply to a connection declined at accept (a limit): request id 0, status err (-EAGAIN,
 * then marked busy: VHSM_TAG_BUSY) and msg naming the limit, written into out. Returns its length or -errno.
 */
int ops_reply_declined(uint8_t *out, size_t cap, int err, const char *msg);

/* Helpers for handlers. */
/* Checks op against the (unauthenticated) ACL before any firmware request; 0 or -EPERM. */
int kek_precheck(struct op_ctx *c, const char *name, uint32_t op);
/*
 * The one refusal a non-administrator gets for KEK name and op, whether it does not exist or
 * the caller may not use it (-EPERM "uid U may not OP KEK NAME"): KEK names are no oracle.
 * kek_not_found() gives administrators "no KEK named NAME" with status r instead. Both
 * return the status via op_fail().
 */
int kek_refuse(struct op_ctx *c, const char *name, uint32_t op);
int kek_not_found(struct op_ctx *c, int r, const char *name, uint32_t op);
int op_get_name(struct op_ctx *c, uint16_t tag, char *out, size_t len);
int op_fail(struct op_ctx *c, int r, const char *fmt, ...) _printf_(3, 4);
/*
 * Checks name against the one key-name rule (text.h). Returns 0, or -EINVAL with the one
 * invalid-name message ("invalid KIND name 'X': names are ...") as the reply's reason; when
 * c->key holds name it is emptied, so that the audit record names no invalid key.
 */
int op_check_name(struct op_ctx *c, const char *kind, const char *name);
/*
 * Replies with the JSON array of entry(c, name, first) for each of names (NULL-terminated):
 * each entry a malloc'ed text that starts with "," unless first, "" to leave a name out, NULL
 * on ENOMEM. 0, -ENOMEM, or -E2BIG ("listing too large") past VHSM_WIRE_MAX_TEXT.
 */
int op_reply_list(struct op_ctx *c, char *const *names,
		  char *(*entry)(struct op_ctx *c, const char *name, bool first));
/* The request's KEK name (VHSM_TAG_NAME) into c->key, checked as op_check_name() does. */
int op_kek_name(struct op_ctx *c);
/*
 * Adds to c's reply fresh evidence binding SHA-512(data[0..len)) (attest-evidence.h): an SNP
 * report or, on the vtpm platform, an HCL report (VHSM_TAG_REPORT), and its certificate table
 * (VHSM_TAG_CERTS), after taking one report from the caller's budget (limits.h: the host
 * throttles guest requests). gated: the caller passed the attestation gate (an HCL report is
 * then verified whole). 0, or -errno with the reason in c->why.
 */
int op_reply_report(struct op_ctx *c, const uint8_t *data, size_t len, bool gated);
/* Records rec, capping refusals of unprivileged callers as op_audit() says; may set
 * rec->journal_only. Returns audit_log()'s result. */
struct audit_record;
int op_audit_record(struct manager *m, struct audit_record *rec);
/* Records one event as the dispatcher does for a request (refusals of unprivileged callers
 * rate-limited in the chain); returns audit_log()'s result. */
int op_audit(struct manager *m, const struct peer *p, const char *event, const char *key,
	     uint32_t version, int result, const char *reason, bool journal_only);

/*
 * Decodes one request (req_len bytes), authorizes, acts and audits it, and writes the reply
 * into out (out_cap bytes). Returns the reply's length, or -errno when not even an error
 * reply could be built (the caller then drops the connection).
 */
int ops_dispatch(struct manager *m, const struct peer *p, const uint8_t *req, size_t req_len,
		 uint8_t *out, size_t out_cap);
