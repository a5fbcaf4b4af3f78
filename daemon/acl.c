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

static const struct {
	const char *name;
	uint32_t op;
} op_names[] = {
	{ "wrap", ACL_OP_WRAP },	 { "unwrap", ACL_OP_UNWRAP }, { "rewrap", ACL_OP_REWRAP },
	{ "read", ACL_OP_READ },	 { "admin", ACL_OP_ADMIN },   { "all", ACL_OP_ALL },
};

const char *acl_op_name(uint32_t op)
{
	for (size_t i = 0; i < ELEMENTSOF(op_names); i++)
		if (op_names[i].op == op)
			return op_names[i].name;
	return "?";
}

static int parse_ops(char *s, uint32_t *ret)
{
	uint32_t ops = 0;
	char *save = NULL;

	for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		size_t i;
		for (i = 0; i < ELEMENTSOF(op_names); i++)
			if (strcmp(t, op_names[i].name) == 0)
				break;
		if (i == ELEMENTSOF(op_names))
			return -EINVAL;
		ops |= op_names[i].op;
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

static int parse_entry(char *s, struct acl_entry *e)
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
	if (parse_ops(ops, &e->ops) < 0)
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

int acl_parse(const char *s, struct acl_entry *out, size_t *ret_n)
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
		r = parse_entry(t, &out[n]);
		if (r < 0)
			return r;
		n++;
	}
	*ret_n = n;
	return 0;
}

int acl_format(const struct acl_entry *e, size_t n, char **ret)
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
		for (size_t k = 0; k < ELEMENTSOF(op_names) - 1 && off < ACL_TEXT_MAX; k++)
			if (e[i].ops & op_names[k].op) {
				off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s",
							first ? "" : ",", op_names[k].name);
				first = false;
			}
	}
	if (off >= ACL_TEXT_MAX)
		return -EMSGSIZE;
	*ret = strdup(buf);
	return *ret ? 0 : -ENOMEM;
}

bool acl_allows(const struct kek_meta *m, const struct peer *p, uint32_t op)
{
	if (p->admin)
		return true;
	for (size_t i = 0; i < m->n_acl; i++) {
		const struct acl_entry *e = &m->acl[i];
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
