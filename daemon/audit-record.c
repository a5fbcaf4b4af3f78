/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The audit record's JSON writer (audit-record.h). Strings are escaped as json-c escapes
 * them: '"', '\\', \b \f \n \r \t by name, other bytes below 0x20 as \u00xx (lowercase hex),
 * '/' and every other byte as is. A string ends at its first NUL, as json_object_new_string's.
 */
#include <errno.h>
#include <string.h>

#include "audit-record.h"

struct out {
	char *p;
	size_t len, cap;
	bool full;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->full || n >= o->cap - o->len) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void put_escaped(struct out *o, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;

	put(o, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		const char *e = NULL;
		char u[6];

		switch (c) {
		case '"': e = "\\\""; break;
		case '\\': e = "\\\\"; break;
		case '\b': e = "\\b"; break;
		case '\f': e = "\\f"; break;
		case '\n': e = "\\n"; break;
		case '\r': e = "\\r"; break;
		case '\t': e = "\\t"; break;
		default:
			if (c >= 0x20)
				continue;
			memcpy(u, "\\u00", 4);
			u[4] = hex[c >> 4];
			u[5] = hex[c & 0xf];
		}
		put(o, run, (size_t)(s - run));
		if (e)
			put(o, e, strlen(e));
		else
			put(o, u, sizeof(u));
		run = s + 1;
	}
	put(o, run, (size_t)(s - run));
	put(o, "\"", 1);
}

/* ,"name": or {"name": for the first member. */
static void put_name(struct out *o, const char *name)
{
	put(o, o->len == 0 ? "{\"" : ",\"", 2);
	put(o, name, strlen(name));
	put(o, "\":", 2);
}

static void put_str(struct out *o, const char *name, const char *v)
{
	if (!v)
		return;
	put_name(o, name);
	put_escaped(o, v);
}

/* v in decimal as "%" PRId64 prints it, without printf's format parsing (six numbers a
 * record, one record per release). */
static void put_int(struct out *o, const char *name, int64_t v)
{
	char b[20];
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
	size_t n = sizeof(b);

	do {
		b[--n] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	put_name(o, name);
	if (v < 0)
		put(o, "-", 1);
	put(o, b + n, sizeof(b) - n);
}

int audit_record_format(const struct audit_record *rec, const struct audit_record_chain *ch,
			char *out, size_t cap)
{
	struct out o = { .p = out, .cap = cap };

	if (cap == 0)
		return -EMSGSIZE;
	put_int(&o, "seq", (int64_t)ch->seq);
	put_int(&o, "time", ch->time);
	put_str(&o, "event", rec->event);
	put_str(&o, "key", rec->key);
	if (rec->version)
		put_int(&o, "version", rec->version);
	if (rec->peer) {
		put_int(&o, "uid", rec->peer->uid);
		put_int(&o, "gid", rec->peer->gid);
		put_int(&o, "pid", rec->peer->pid);
		if (rec->peer->unit[0])
			put_str(&o, "unit", rec->peer->unit);
	}
	if (rec->via) {
		put_int(&o, "via_uid", rec->via->uid);
		put_int(&o, "via_pid", rec->via->pid);
	}
	if (rec->count > 1)
		put_int(&o, "count", rec->count);
	put_str(&o, "result", rec->result == 0 ? "ok" : "refused");
	if (rec->result)
		put_str(&o, "errno", strerror(-rec->result));
	put_str(&o, "reason", rec->reason);
	if (rec->first_prev) {
		put_int(&o, "first_seq", (int64_t)rec->first_seq);
		put_str(&o, "first_prev", rec->first_prev);
	}
	put_str(&o, "kid", ch->kid);
	put_str(&o, "prev", ch->prev);
	put(&o, "}", 1);
	if (o.full)
		return -EMSGSIZE;
	out[o.len] = '\0';
	return (int)o.len;
}
