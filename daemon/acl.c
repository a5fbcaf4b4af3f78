/* SPDX-License-Identifier: Apache-2.0 */
/* Per-KEK access control lists: parsing, formatting and checks (format in acl.h). */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "parse-util.h"

#define ACL_TEXT_MAX 4096u

struct op_name {
	const char *name;
	uint32_t op;
};

/* "all" comes last in each table (acl_format() leaves it out). */
static const struct op_name kek_op_names[] = {
	{ "wrap", ACL_OP_WRAP },	 { "unwrap", ACL_OP_UNWRAP }, { "rewrap", ACL_OP_REWRAP },
	{ "read", ACL_OP_READ },	 { "admin", ACL_OP_ADMIN },   { "all", ACL_OP_ALL },
	{},
};

/* Key pairs (keypair.h): sign and decrypt take the bits of wrap and unwrap. */
static const struct op_name key_op_names[] = {
	{ "sign", ACL_OP_WRAP },	  { "decrypt", ACL_OP_UNWRAP }, { "read", ACL_OP_READ },
	{ "admin", ACL_OP_ADMIN },	  { "all", ACL_OP_WRAP | ACL_OP_UNWRAP | ACL_OP_READ | ACL_OP_ADMIN },
	{},
};

static const char *op_name_in(const struct op_name *t, uint32_t op)
{
	for (; t->name; t++)
		if (t->op == op)
			return t->name;
	return "?";
}

const char *acl_op_name(uint32_t op)
{
	return op_name_in(kek_op_names, op);
}

const char *acl_key_op_name(uint32_t op)
{
	return op_name_in(key_op_names, op);
}

static int parse_ops(const struct op_name *names, char *s, uint32_t *ret)
{
	uint32_t ops = 0;
	char *save = NULL;

	for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		const struct op_name *n;
		for (n = names; n->name; n++)
			if (strcmp(t, n->name) == 0)
				break;
		if (!n->name)
			return -EINVAL;
		ops |= n->op;
	}
	if (!ops)
		return -EINVAL;
	*ret = ops;
	return 0;
}

/* A uid or gid; (uid_t)-1 is "no id" to the kernel, never a caller. */
static int parse_id(const char *s, uint32_t *ret)
{
	return parse_uint32(s, 0, UINT32_MAX - 1, ret) < 0 ? -EINVAL : 0;
}

static int parse_entry(const struct op_name *names, char *s, struct acl_entry *e)
{
	char *kind = s, *who, *ops;

	who = strchr(kind, ':');
	if (!who)
		return -EINVAL;
	*who++ = 0;
	ops = strrchr(who, ':');
	if (!ops || ops == who)
		return -EINVAL;
	*ops++ = 0;
	memset(e, 0, sizeof(*e));
	if (parse_ops(names, ops, &e->ops) < 0)
		return -EINVAL;
	if (strcmp(kind, "uid") == 0) {
		e->kind = ACL_UID;
		return parse_id(who, &e->id);
	}
	if (strcmp(kind, "gid") == 0) {
		e->kind = ACL_GID;
		return parse_id(who, &e->id);
	}
	if (strcmp(kind, "user") == 0) {
		struct passwd *pw = getpwnam(who);
		if (!pw)
			return -ENOENT;
		e->kind = ACL_UID;
		e->id = pw->pw_uid;
		return 0;
	}
	if (strcmp(kind, "group") == 0) {
		struct group *gr = getgrnam(who);
		if (!gr)
			return -ENOENT;
		e->kind = ACL_GID;
		e->id = gr->gr_gid;
		return 0;
	}
	if (strcmp(kind, "unit") == 0) {
		size_t n = strlen(who);
		if (n == 0 || n >= sizeof(e->unit) || strpbrk(who, "/;, \t"))
			return -EINVAL;
		e->kind = ACL_UNIT;
		memcpy(e->unit, who, n + 1);
		return 0;
	}
	return -EINVAL;
}

static int parse_with(const struct op_name *names, const char *s, struct acl_entry *out,
		      size_t *ret_n)
{
	_cleanup_free_ char *copy = NULL;
	char *save = NULL;
	size_t n = 0;
	int r;

	if (strlen(s) > ACL_TEXT_MAX)
		return -EMSGSIZE;
	copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	for (char *t = strtok_r(copy, ";", &save); t; t = strtok_r(NULL, ";", &save)) {
		if (n >= KEK_MAX_ACL)
			return -EMSGSIZE;
		r = parse_entry(names, t, &out[n]);
		if (r < 0)
			return r;
		n++;
	}
	*ret_n = n;
	return 0;
}

int acl_parse(const char *s, struct acl_entry *out, size_t *ret_n)
{
	return parse_with(kek_op_names, s, out, ret_n);
}

int acl_parse_key(const char *s, struct acl_entry *out, size_t *ret_n)
{
	return parse_with(key_op_names, s, out, ret_n);
}

static int format_with(const struct op_name *names, const struct acl_entry *e, size_t n,
		       char **ret)
{
	char buf[ACL_TEXT_MAX + 256] = "";
	size_t off = 0;

	for (size_t i = 0; i < n && off < ACL_TEXT_MAX; i++) {
		if (e[i].kind == ACL_UNIT)
			off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%sunit:%s:",
						i ? ";" : "", e[i].unit);
		else
			off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s:%u:",
						i ? ";" : "", e[i].kind == ACL_UID ? "uid" : "gid",
						e[i].id);
		bool first = true;
		for (const struct op_name *k = names; k[1].name && off < ACL_TEXT_MAX; k++)
			if (e[i].ops & k->op) {
				off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s",
							first ? "" : ",", k->name);
				first = false;
			}
	}
	if (off >= ACL_TEXT_MAX)
		return -EMSGSIZE;
	*ret = strdup(buf);
	return *ret ? 0 : -ENOMEM;
}

int acl_format(const struct acl_entry *e, size_t n, char **ret)
{
	return format_with(kek_op_names, e, n, ret);
}

int acl_format_key(const struct acl_entry *e, size_t n, char **ret)
{
	return format_with(key_op_names, e, n, ret);
}

bool acl_allows(const struct kek_meta *m, const struct peer *p, uint32_t op)
{
	return acl_entries_allow(m->acl, m->n_acl, p, op);
}

bool acl_entries_allow(const struct acl_entry *acl, size_t n, const struct peer *p, uint32_t op)
{
	if (p->admin)
		return true;
	for (size_t i = 0; i < n; i++) {
		const struct acl_entry *e = &acl[i];
		bool in_group = e->kind == ACL_GID && e->id == p->gid;
		for (size_t g = 0; e->kind == ACL_GID && g < p->n_groups; g++)
			in_group = in_group || p->groups[g] == e->id;
		bool match = (e->kind == ACL_UID && e->id == p->uid) || in_group ||
			     (e->kind == ACL_UNIT && p->unit[0] && strcmp(e->unit, p->unit) == 0);
		if (match && (e->ops & op))
			return true;
	}
	return false;
}
