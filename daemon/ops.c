/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The request table: for each operation, its audit event, who may call it and its handler.
 * Every request goes decode -> authorize -> act -> reply -> audit; malformed requests get an
 * error reply and the daemon keeps serving.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "log.h"
#include "ops.h"

enum op_access {
	OP_ANYONE,  /* further checks (per-KEK ACL) in the handler */
	OP_ADMIN,   /* root or the vhsm group */
};

static const struct op_desc {
	uint16_t op;
	const char *event;
	enum op_access access;
	op_handler fn;
} op_table[] = {
	{ VHSM_OP_STATUS, "status", OP_ANYONE, op_status },
	{ VHSM_OP_ATTEST_REPORT, "attest.report", OP_ANYONE, op_attest_report },
	{ VHSM_OP_AUDIT_VERIFY, "audit.verify", OP_ADMIN, op_audit_verify },
	{ VHSM_OP_KEK_CREATE, "kek.create", OP_ADMIN, op_kek_create },
	{ VHSM_OP_KEK_LIST, "kek.list", OP_ANYONE, op_kek_list },
	{ VHSM_OP_KEK_SHOW, "kek.show", OP_ANYONE, op_kek_show },
	{ VHSM_OP_KEK_ROTATE, "kek.rotate", OP_ANYONE, op_kek_rotate },
	{ VHSM_OP_KEK_RESEAL, "kek.reseal", OP_ANYONE, op_kek_reseal },
	{ VHSM_OP_KEK_DISABLE, "kek.disable", OP_ANYONE, op_kek_disable },
	{ VHSM_OP_KEK_ENABLE, "kek.enable", OP_ANYONE, op_kek_enable },
	{ VHSM_OP_KEK_DELETE, "kek.delete", OP_ANYONE, op_kek_delete },
	{ VHSM_OP_KEK_RECOVER, "kek.recover", OP_ANYONE, op_kek_recover },
	{ VHSM_OP_KEK_PURGE, "kek.purge", OP_ANYONE, op_kek_purge },
	{ VHSM_OP_KEK_SET_ACL, "kek.acl", OP_ANYONE, op_kek_set_acl },
	{ VHSM_OP_WRAP, "wrap", OP_ANYONE, op_wrap },
	{ VHSM_OP_UNWRAP, "unwrap", OP_ANYONE, op_unwrap },
	{ VHSM_OP_REWRAP, "rewrap", OP_ANYONE, op_rewrap },
};

int op_fail(struct op_ctx *c, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	return r;
}

int op_get_name(struct op_ctx *c, uint16_t tag, char *out, size_t len)
{
	int r = vhsm_wire_get_str(c->req, tag, out, len);

	if (r == -ENOENT)
		return op_fail(c, -EINVAL, "a key name is required");
	if (r < 0)
		return op_fail(c, -EINVAL, "invalid key name");
	return 0;
}

static int reply_error(uint8_t *out, size_t cap, uint16_t op, uint32_t id, int err,
		       const char *msg)
{
	struct vhsm_wire_builder b;

	vhsm_wire_begin(&b, out, cap, (uint16_t)(op | VHSM_OP_REPLY_FLAG), id);
	vhsm_wire_add_i32(&b, VHSM_TAG_ERRNO, -err);
	if (msg && msg[0])
		vhsm_wire_add_str(&b, VHSM_TAG_MESSAGE, msg);
	return vhsm_wire_finish(&b);
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
					    .result = r < 0 ? r : -EBADMSG, .reason = why };
		(void)audit_log(m, &rec);
		uint32_t id = req_len >= VHSM_WIRE_HEADER_SIZE ? le32_get(req + 8) : 0;
		return reply_error(out, out_cap, 0, id, r < 0 ? r : -EBADMSG, why);
	}
	for (size_t i = 0; i < ELEMENTSOF(op_table); i++)
		if (op_table[i].op == msg.op)
			d = &op_table[i];
	if (!d) {
		struct audit_record rec = { .event = "request.malformed", .peer = p,
					    .result = -EOPNOTSUPP, .reason = "unsupported operation" };
		(void)audit_log(m, &rec);
		return reply_error(out, out_cap, msg.op, msg.id, -EOPNOTSUPP,
				   "operation not supported");
	}

	vhsm_wire_begin(&b, out, out_cap, (uint16_t)(msg.op | VHSM_OP_REPLY_FLAG), msg.id);
	vhsm_wire_add_i32(&b, VHSM_TAG_ERRNO, 0);
	if (d->access == OP_ADMIN && !p->admin)
		r = op_fail(&c, -EPERM, "%s requires root or the vhsm group", d->event);
	else
		r = d->fn(&c);

	struct audit_record rec = { .event = d->event, .key = c.key[0] ? c.key : NULL,
				    .version = c.version, .peer = p, .result = r < 0 ? r : 0,
				    .reason = r < 0 ? c.why : NULL };
	int ar = audit_log(m, &rec);
	if (r >= 0 && ar < 0 && strcmp(d->event, "status") != 0) {
		/* An operation that cannot be audited is not performed as far as the caller
		 * knows; lifecycle changes already written stay (they are durable). */
		r = op_fail(&c, ar, "audit log write failed: %s", strerror(-ar));
	}
	if (r < 0) {
		explicit_bzero(out, out_cap); /* the reply may already hold key material */
		return reply_error(out, out_cap, msg.op, msg.id, r,
				   c.why[0] ? c.why : strerror(-r));
	}
	r = vhsm_wire_finish(&b);
	if (r < 0) {
		explicit_bzero(out, out_cap);
		return reply_error(out, out_cap, msg.op, msg.id, r, "reply too large");
	}
	return r;
}
