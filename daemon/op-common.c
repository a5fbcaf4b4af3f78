/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What request handlers share: failing with a reason, names from the request, the audit of
 * refusals (capped per principal), the KEK access checks made before any firmware request and
 * the reply carrying a fresh report (attestation report, key attest, fleet enroll).
 * The request table (ops.c) calls the handlers; handlers call only this, never back into it.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acl.h"
#include "attest-evidence.h"
#include "attest.h"
#include "audit.h"
#include "limits.h"
#include "ops.h"
#include "store.h"
#include "text.h"

/*
 * Refusals of unprivileged callers go to the chained log, but at most LIMITS_REFUSALS_PER_MINUTE
 * per principal (limits.h) and minute; beyond that they go to the journal only, and the next
 * chained record of that caller says how many were left out. Keeps local users from flooding
 * the state directory. Minutes of the monotonic clock: setting the wall clock back does not
 * reopen a window.
 */
static bool refusal_chain(struct manager *m, const struct peer *p, unsigned *ret_suppressed)
{
	struct timespec ts;

	*ret_suppressed = 0;
	if (p->admin || !m->limits)
		return true;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return limits_refusal_chain(m->limits, p, (uint64_t)ts.tv_sec / 60, ret_suppressed);
}

int op_reply_list(struct op_ctx *c, char *const *names,
		  char *(*entry)(struct op_ctx *c, const char *name, bool first))
{
	size_t cap = 4096, len = 1;
	_cleanup_free_ char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	buf[0] = '[';
	for (char *const *n = names; *n; n++) {
		_cleanup_free_ char *e = entry(c, *n, len == 1);
		size_t el;
		if (!e)
			return -ENOMEM;
		el = strlen(e);
		if (len + el + 2 > VHSM_WIRE_MAX_TEXT)
			return op_fail(c, -E2BIG, "listing too large");
		if (len + el + 2 > cap) {
			char *nb = realloc(buf, cap = len + el + 4096);
			if (!nb)
				return -ENOMEM;
			buf = nb;
		}
		memcpy(buf + len, e, el);
		len += el;
	}
	memcpy(buf + len, "]", 2);
	vhsm_wire_add_str(c->reply, VHSM_TAG_JSON, buf);
	return 0;
}

int op_kek_name(struct op_ctx *c)
{
	int r = op_get_name(c, VHSM_TAG_NAME, c->key, sizeof(c->key));

	if (r < 0)
		return r;
	return op_check_name(c, "KEK", c->key);
}

int op_reply_report(struct op_ctx *c, const uint8_t *data, size_t len, bool gated)
{
	_cleanup_(attest_evidence_done) struct attest_evidence e = {};
	struct timespec now;
	char why[512] = "";
	int r;

	clock_gettime(CLOCK_MONOTONIC, &now);
	r = limits_take_report(c->m->limits, c->peer,
			       (uint64_t)now.tv_sec * 1000000ULL + (uint64_t)now.tv_nsec / 1000ULL,
			       c->why, sizeof(c->why));
	if (r < 0)
		return r;
	r = attest_evidence_for_message(c->m, data, len, gated, &e, why, sizeof(why));
	if (r < 0)
		return op_fail(c, r, "report request failed: %s", why);
	vhsm_wire_add_data(c->reply, VHSM_TAG_REPORT, e.report, e.report_len);
	vhsm_wire_add_data(c->reply, VHSM_TAG_CERTS, e.certs, e.certs_len);
	return 0;
}

int op_audit_record(struct manager *m, struct audit_record *rec)
{
	const struct peer *p = rec->peer;
	unsigned suppressed = 0;

	if (rec->result < 0 && !rec->journal_only && !refusal_chain(m, p, &suppressed))
		rec->journal_only = true;
	if (suppressed) {
		char note[96];
		snprintf(note, sizeof(note), "%u refusals of uid %u in the last minute in the journal only",
			 suppressed, (unsigned)p->uid);
		struct audit_record sup = { .event = "audit.suppressed", .peer = p,
					    .result = -EPERM, .reason = note };
		(void)audit_log(m->audit, &sup);
	}
	return audit_log(m->audit, rec);
}

int op_audit(struct manager *m, const struct peer *p, const char *event, const char *key,
	     uint32_t version, int result, const char *reason, bool journal_only)
{
	struct audit_record rec = { .event = event, .key = key, .version = version, .peer = p,
				    .result = result, .reason = reason,
				    .journal_only = journal_only };

	return op_audit_record(m, &rec);
}

int op_fail(struct op_ctx *c, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	return r;
}

int op_check_name(struct op_ctx *c, const char *kind, const char *name)
{
	char msg[TEXT_KEY_NAME_ERR_MAX];

	if (text_key_name_valid(name))
		return 0;
	(void)op_fail(c, -EINVAL, "%s", text_key_name_error(msg, kind, name, strlen(name)));
	/* Checked before anything records it: an invalid name is no record's key (the reason
	 * quotes it escaped). */
	if (name == c->key || strcmp(name, c->key) == 0)
		c->key[0] = 0;
	return -EINVAL;
}

int op_get_name(struct op_ctx *c, uint16_t tag, char *out, size_t len)
{
	int r = vhsm_wire_get_str(c->req, tag, out, len);

	if (r == -ENOENT)
		return op_fail(c, -EINVAL, "a key name is required");
	if (r < 0) { /* too long for any name, or with a NUL: the one message, escaped */
		const struct vhsm_wire_field *f = vhsm_wire_get(c->req, tag);
		char msg[TEXT_KEY_NAME_ERR_MAX];

		return op_fail(c, -EINVAL, "%s",
			       text_key_name_error(msg, tag == VHSM_TAG_KEK ? "KEK" : NULL,
						   f ? (const char *)f->value : NULL, f ? f->len : 0));
	}
	return 0;
}

/* Both return their status themselves, so that the callers' "r < 0" is evident to the
 * analyzer too. */
int kek_refuse(struct op_ctx *c, const char *name, uint32_t op)
{
	(void)op_fail(c, -EPERM, "uid %u may not %s KEK %s", (unsigned)c->peer->uid,
		      acl_op_name(op), name);
	return -EPERM;
}

int kek_not_found(struct op_ctx *c, int r, const char *name, uint32_t op)
{
	assert(r < 0);
	if (!c->peer->admin)
		return kek_refuse(c, name, op);
	(void)op_fail(c, r, "no KEK named %s", name);
	return r;
}

/*
 * Refuses callers the KEK's ACL does not admit before anything asks the firmware: unsealing
 * costs a guest request, and unauthorized callers must not be able to make vhsmd send them
 * (throttling can end in a VMPCK lockout). The metadata read here is not yet authenticated;
 * the ACL is checked again on the unsealed, authenticated copy.
 */
static int kek_precheck_file(struct op_ctx *c, const char *name, uint32_t op)
{
	struct kek_meta meta;
	int r = store_read_meta(c->m, name, &meta, NULL);

	/* Absent, damaged or not permitted: one answer, so names are no oracle. */
	if (r < 0 || !acl_allows(&meta, c->peer, op))
		return kek_refuse(c, name, op);
	return 0;
}

int kek_precheck(struct op_ctx *c, const char *name, uint32_t op)
{
	/* The metadata (about 6 KiB, zeroed on entry by the hardening flags) lives in a function
	 * of its own that administrators, who skip the check, never enter. */
	return c->peer->admin ? 0 : kek_precheck_file(c, name, op);
}
