/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The request table: for each operation, its audit event, who may call it and its handler.
 * Every request goes decode -> authorize -> act -> reply -> audit; malformed requests get an
 * error reply and the daemon keeps serving.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "audit-coalesce.h"
#include "audit.h"
#include "limits.h"
#include "log.h"
#include "ops.h"
#include "text.h"

enum op_access {
	OP_ANYONE,  /* further checks (per-KEK ACL) in the handler */
	OP_ADMIN,   /* root or the vhsm group */
};

/* Read-only operations are audited in the journal only: anyone may call them, and in the
 * chained log they would only let an unprivileged caller grow it. Read-only successes on one
 * key (AUDIT_COALESCE) are chained once per principal, key and minute with their count
 * (audit-coalesce.h); their refusals are chained like any other. */
enum op_audit { AUDIT_CHAIN, AUDIT_JOURNAL, AUDIT_COALESCE };

static const struct op_desc {
	uint16_t op;
	const char *event;
	enum op_access access;
	op_handler fn;
	enum op_audit audit;
} op_table[] = {
	{ VHSM_OP_STATUS, "status", OP_ANYONE, op_status, AUDIT_JOURNAL },
	{ VHSM_OP_ATTEST_REPORT, "attest.report", OP_ANYONE, op_attest_report, AUDIT_JOURNAL },
	{ VHSM_OP_AUDIT_VERIFY, "audit.verify", OP_ADMIN, op_audit_verify, AUDIT_CHAIN },
	{ VHSM_OP_KEK_CREATE, "kek.create", OP_ADMIN, op_kek_create, AUDIT_CHAIN },
	{ VHSM_OP_KEK_LIST, "kek.list", OP_ANYONE, op_kek_list, AUDIT_JOURNAL },
	{ VHSM_OP_KEK_SHOW, "kek.show", OP_ANYONE, op_kek_show, AUDIT_COALESCE },
	{ VHSM_OP_KEK_ROTATE, "kek.rotate", OP_ANYONE, op_kek_rotate, AUDIT_CHAIN },
	{ VHSM_OP_KEK_RESEAL, "kek.reseal", OP_ANYONE, op_kek_reseal, AUDIT_CHAIN },
	{ VHSM_OP_KEK_DISABLE, "kek.disable", OP_ANYONE, op_kek_disable, AUDIT_CHAIN },
	{ VHSM_OP_KEK_ENABLE, "kek.enable", OP_ANYONE, op_kek_enable, AUDIT_CHAIN },
	{ VHSM_OP_KEK_DELETE, "kek.delete", OP_ANYONE, op_kek_delete, AUDIT_CHAIN },
	{ VHSM_OP_KEK_RECOVER, "kek.recover", OP_ANYONE, op_kek_recover, AUDIT_CHAIN },
	{ VHSM_OP_KEK_PURGE, "kek.purge", OP_ANYONE, op_kek_purge, AUDIT_CHAIN },
	{ VHSM_OP_KEK_SET_ACL, "kek.acl", OP_ANYONE, op_kek_set_acl, AUDIT_CHAIN },
	{ VHSM_OP_KEK_EXPORT_EXCHANGE_KEY, "kek.export-exchange-key", OP_ADMIN,
	  op_kek_export_exchange_key, AUDIT_CHAIN },
	{ VHSM_OP_KEK_IMPORT, "kek.import", OP_ADMIN, op_kek_import, AUDIT_CHAIN },
	{ VHSM_OP_KEK_BACKUP, "kek.backup", OP_ADMIN, op_kek_backup, AUDIT_CHAIN },
	{ VHSM_OP_WRAP, "wrap", OP_ANYONE, op_wrap, AUDIT_CHAIN },
	{ VHSM_OP_UNWRAP, "unwrap", OP_ANYONE, op_unwrap, AUDIT_CHAIN },
	{ VHSM_OP_REWRAP, "rewrap", OP_ANYONE, op_rewrap, AUDIT_CHAIN },
	/* The items are in chained "unwrap" records (op-wrap.c); the batch itself only in the
	 * journal. */
	{ VHSM_OP_UNWRAP_BATCH, "unwrap.batch", OP_ANYONE, op_unwrap_batch, AUDIT_JOURNAL },
	{ VHSM_OP_DEK_CREATE, "dek.create", OP_ADMIN, op_dek_create, AUDIT_CHAIN },
	{ VHSM_OP_DEK_LIST, "dek.list", OP_ANYONE, op_dek_list, AUDIT_JOURNAL },
	{ VHSM_OP_DEK_LOAD, "dek.load", OP_ANYONE, op_dek_load, AUDIT_COALESCE },
	{ VHSM_OP_DEK_DROP, "dek.drop", OP_ANYONE, op_dek_drop, AUDIT_CHAIN },
	{ VHSM_OP_DEK_RECOVER, "dek.recover", OP_ADMIN, op_dek_recover, AUDIT_CHAIN },
	{ VHSM_OP_DEK_PURGE, "dek.purge", OP_ADMIN, op_dek_purge, AUDIT_CHAIN },
	{ VHSM_OP_KEYRING_REQUEST, "keyring.request", OP_ANYONE, op_keyring_request, AUDIT_CHAIN },
	{ VHSM_OP_KEK_SHRED_VOLUME, "kek.shred.volume", OP_ADMIN, op_kek_shred_volume, AUDIT_CHAIN },
	{ VHSM_OP_LUKS_UNLOCK, "luks.unlock", OP_ADMIN, op_luks_unlock, AUDIT_CHAIN },
	{ VHSM_OP_LUKS_ENROLL, "luks.enroll", OP_ADMIN, op_luks_enroll, AUDIT_CHAIN },
	{ VHSM_OP_LUKS_REWRAP, "luks.rewrap", OP_ADMIN, op_luks_rewrap, AUDIT_CHAIN },
	{ VHSM_OP_LUKS_BIND, "luks.bind", OP_ADMIN, op_luks_bind, AUDIT_CHAIN },
	{ VHSM_OP_LUKS_UNBIND, "luks.unbind", OP_ADMIN, op_luks_unbind, AUDIT_CHAIN },
	{ VHSM_OP_KEY_CREATE, "key.create", OP_ADMIN, op_key_create, AUDIT_CHAIN },
	{ VHSM_OP_KEY_LIST, "key.list", OP_ANYONE, op_key_list, AUDIT_JOURNAL },
	{ VHSM_OP_KEY_GET, "key.get", OP_ANYONE, op_key_get, AUDIT_COALESCE },
	{ VHSM_OP_KEY_SIGN, "key.sign", OP_ANYONE, op_key_sign, AUDIT_CHAIN },
	{ VHSM_OP_KEY_DECRYPT, "key.decrypt", OP_ANYONE, op_key_decrypt, AUDIT_CHAIN },
	{ VHSM_OP_KEY_SET_CERT, "key.cert", OP_ANYONE, op_key_set_cert, AUDIT_CHAIN },
	{ VHSM_OP_KEY_DISABLE, "key.disable", OP_ANYONE, op_key_disable, AUDIT_CHAIN },
	{ VHSM_OP_KEY_ENABLE, "key.enable", OP_ANYONE, op_key_enable, AUDIT_CHAIN },
	{ VHSM_OP_KEY_DELETE, "key.delete", OP_ANYONE, op_key_delete, AUDIT_CHAIN },
	{ VHSM_OP_KEY_RECOVER, "key.recover", OP_ANYONE, op_key_recover, AUDIT_CHAIN },
	{ VHSM_OP_KEY_PURGE, "key.purge", OP_ANYONE, op_key_purge, AUDIT_CHAIN },
	{ VHSM_OP_KEY_SET_ACL, "key.acl", OP_ANYONE, op_key_set_acl, AUDIT_CHAIN },
	{ VHSM_OP_KEY_ATTEST, "key.attest", OP_ANYONE, op_key_attest, AUDIT_COALESCE },
	{ VHSM_OP_KEK_WRAP_KWP, "kek.wrap-kwp", OP_ANYONE, op_kek_wrap_kwp, AUDIT_CHAIN },
	{ VHSM_OP_KEK_UNWRAP_KWP, "kek.unwrap-kwp", OP_ANYONE, op_kek_unwrap_kwp, AUDIT_CHAIN },
	{ VHSM_OP_KEK_GCM_ENCRYPT, "kek.gcm-encrypt", OP_ANYONE, op_kek_gcm_encrypt, AUDIT_CHAIN },
	{ VHSM_OP_KEK_GCM_DECRYPT, "kek.gcm-decrypt", OP_ANYONE, op_kek_gcm_decrypt, AUDIT_CHAIN },
	{ VHSM_OP_FLEET_ENROLL, "fleet.enroll", OP_ADMIN, op_fleet_enroll, AUDIT_CHAIN },
	{ VHSM_OP_FLEET_INSTALL_CERT, "fleet.install-cert", OP_ADMIN, op_fleet_install_cert,
	  AUDIT_CHAIN },
	{ VHSM_OP_FLEET_SHOW, "fleet.show", OP_ANYONE, op_fleet_show, AUDIT_JOURNAL },
	{ VHSM_OP_FLEET_CHECK, "fleet.check", OP_ADMIN, op_fleet_check, AUDIT_JOURNAL },
	{ VHSM_OP_FLEET_SYNC, "fleet.sync", OP_ADMIN, op_fleet_sync, AUDIT_CHAIN },
	{ VHSM_OP_FLEET_STATUS, "fleet.status", OP_ADMIN, op_fleet_status, AUDIT_JOURNAL },
};

/* The audit record of a dispatched request: charged to the principal the request acts for. */
static int op_audit_dispatched(struct op_ctx *c, const struct op_desc *d, int r)
{
	const struct peer *p = c->requester_set ? &c->requester : c->peer;
	struct audit_record rec = { .event = d->event, .key = c->key[0] ? c->key : NULL,
				    .version = c->version, .peer = p, .result = r < 0 ? r : 0,
				    .reason = c->why[0] ? c->why : NULL,
				    .journal_only = d->audit == AUDIT_JOURNAL,
				    .via = c->requester_set ? c->peer : NULL };
	uint64_t now;

	if (d->audit == AUDIT_COALESCE && r >= 0 &&
	    sd_event_now(c->m->event, CLOCK_MONOTONIC, &now) >= 0)
		rec.journal_only = !audit_coalesce_admit(p, d->event, rec.key, now / 1000000u,
							 &rec.count);
	return op_audit_record(c->m, &rec);
}

/*
 * A refusal's message may quote the request (a name): the caller gets it escaped too. busy
 * marks a decline by a limit (VHSM_TAG_BUSY): the one reply a client may retry.
 */
static int reply_error(uint8_t *out, size_t cap, uint16_t op, uint32_t id, int err,
		       const char *msg, bool busy)
{
	struct vhsm_wire_builder b;
	char e[TEXT_ESCAPE_SIZE(sizeof(((struct op_ctx *)0)->why))];

	vhsm_wire_begin(&b, out, cap, (uint16_t)(op | VHSM_OP_REPLY_FLAG), id);
	vhsm_wire_add_i32(&b, VHSM_TAG_ERRNO, -err);
	if (msg && msg[0]) {
		text_escape_bytes((const uint8_t *)msg, strlen(msg), e, sizeof(e));
		vhsm_wire_add_str(&b, VHSM_TAG_MESSAGE, e);
	}
	if (busy)
		vhsm_wire_add_u32(&b, VHSM_TAG_BUSY, 1);
	return vhsm_wire_finish(&b);
}

int ops_status(int r, bool limit_declined, char *why, size_t whylen)
{
	char was[512];

	/* EAGAIN tells a client "not acted on, retry": only a limit's decline may say that. Any
	 * other EAGAIN (a library call deep inside, the report source changing under a read)
	 * may come after something was done: it is an I/O error. */
	if (r != -EAGAIN || limit_declined)
		return r;
	snprintf(was, sizeof(was), "%s", why[0] ? why : strerror(EAGAIN));
	/* The reason is for people: its first 400 bytes and the note fit any op_ctx why. */
	snprintf(why, whylen, "%.400s (temporary failure inside vhsmd, not a limit)", was);
	return -EIO;
}

int ops_reply_declined(uint8_t *out, size_t cap, int err, const char *msg)
{
	return reply_error(out, cap, 0, 0, err, msg, err == -EAGAIN);
}

int ops_dispatch(struct manager *m, const struct peer *p, const uint8_t *req, size_t req_len,
		 uint8_t *out, size_t out_cap)
{
	struct vhsm_wire_msg msg;
	struct vhsm_wire_builder b;
	struct op_ctx c = { .m = m, .peer = p, .req = &msg, .reply = &b };
	const struct op_desc *d = NULL;
	int r;

	r = vhsm_wire_decode(req, req_len, &msg);
	if (r < 0 || (msg.op & VHSM_OP_REPLY_FLAG)) {
		const char *why = r == -EMSGSIZE	    ? "request too large"
				  : r == -EPROTONOSUPPORT ? "unsupported protocol version"
							  : "malformed request";
		struct audit_record rec = { .event = "request.malformed", .peer = p,
					    .result = r < 0 ? r : -EBADMSG, .reason = why,
					    .journal_only = true };
		(void)audit_log(m->audit, &rec);
		uint32_t id = req_len >= VHSM_WIRE_HEADER_SIZE ? le32_get(req + 8) : 0;
		return reply_error(out, out_cap, 0, id, r < 0 ? r : -EBADMSG, why, false);
	}
	for (size_t i = 0; i < ELEMENTSOF(op_table); i++)
		if (op_table[i].op == msg.op)
			d = &op_table[i];
	if (!d) {
		struct audit_record rec = { .event = "request.malformed", .peer = p,
					    .result = -EOPNOTSUPP, .reason = "unsupported operation",
					    .journal_only = true };
		(void)audit_log(m->audit, &rec);
		return reply_error(out, out_cap, msg.op, msg.id, -EOPNOTSUPP,
				   "operation not supported", false);
	}

	vhsm_wire_begin(&b, out, out_cap, (uint16_t)(msg.op | VHSM_OP_REPLY_FLAG), msg.id);
	vhsm_wire_add_i32(&b, VHSM_TAG_ERRNO, 0);
	m->request_seq++;
	m->request_peer = p; /* charged for fresh attestations (attest.c) */
	unsigned declined = limits_declined(m->limits);
	if (d->access == OP_ADMIN && !p->admin)
		r = op_fail(&c, -EPERM, "%s requires root or the vhsm group", d->event);
	else
		r = d->fn(&c);
	m->request_peer = NULL;
	bool busy = r == -EAGAIN && limits_declined(m->limits) != declined;
	r = ops_status(r, busy, c.why, sizeof(c.why));

	int ar = op_audit_dispatched(&c, d, r);
	bool journal_only = d->audit == AUDIT_JOURNAL;
	if (r >= 0 && ar < 0 && !journal_only) {
		/* An operation that cannot be audited is not performed as far as the caller
		 * knows; lifecycle changes already written stay (they are durable). */
		r = op_fail(&c, ar, "audit log write failed: %s", strerror(-ar));
	}
	if (r < 0) {
		explicit_bzero(out, out_cap); /* the reply may already hold key material */
		return reply_error(out, out_cap, msg.op, msg.id, r,
				   c.why[0] ? c.why : strerror(-r), busy);
	}
	r = vhsm_wire_finish(&b);
	if (r < 0) {
		explicit_bzero(out, out_cap);
		return reply_error(out, out_cap, msg.op, msg.id, r, "reply too large", false);
	}
	return r;
}
