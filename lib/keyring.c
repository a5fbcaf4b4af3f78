/* SPDX-License-Identifier: Apache-2.0 */
/* Kernel keyring conventions and the /proc/keys parser (see keyring.h). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "keyring.h"
#include "text.h"

_Static_assert(KEYRING_DEK_NAME_MAX == TEXT_KEY_NAME_MAX, "one name rule");

int keyring_dek_description(const char *name, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, KEYRING_DEK_PREFIX "%s", name);

	if (n < 0 || (size_t)n >= outlen)
		return -ENAMETOOLONG;
	return 0;
}

int keyring_dek_name(const char *desc, char *out, size_t outlen)
{
	size_t pl = strlen(KEYRING_DEK_PREFIX), n;

	if (strncmp(desc, KEYRING_DEK_PREFIX, pl) != 0)
		return -EINVAL;
	n = strlen(desc + pl);
	if (n >= outlen || !text_key_name_valid_n(desc + pl, n))
		return -EINVAL;
	memcpy(out, desc + pl, n + 1);
	return 0;
}

/* Reads one space-delimited token of at most max - 1 bytes at *p, skipping leading spaces. */
static int token(const char **p, char *out, size_t max)
{
	const char *s = *p;
	size_t n = 0;

	while (*s == ' ')
		s++;
	while (s[n] && s[n] != ' ' && s[n] != '\n')
		n++;
	if (n == 0 || n >= max)
		return -EBADMSG;
	memcpy(out, s, n);
	out[n] = 0;
	*p = s + n;
	return 0;
}

static int hex32(const char *s, uint32_t *ret)
{
	uint32_t v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 8)
		return -EBADMSG;
	for (size_t i = 0; i < n; i++) {
		int d = s[i] >= '0' && s[i] <= '9' ? s[i] - '0'
			: s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 10
						     : -1;
		if (d < 0)
			return -EBADMSG;
		v = v << 4 | (uint32_t)d;
	}
	*ret = v;
	return 0;
}

static int dec32(const char *s, uint32_t *ret)
{
	uint64_t v = 0;

	if (!*s)
		return -EBADMSG;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EBADMSG;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return -EBADMSG;
	}
	*ret = (uint32_t)v;
	return 0;
}

/* Format (security/keys/proc.c): "%08x %s %5d %4s %08x %5d %5d %-9.9s " then the type's
 * describe(): for user/logon keys "<description>" and, when positive, ": <payload size>". */
int keyring_proc_parse_line(const char *line, struct keyring_proc_key *ret)
{
	struct keyring_proc_key k = {};
	char serial[16], usage[16], perm[16], uid[16], gid[16];
	const char *p = line;
	uint32_t s;
	size_t n;

	if (token(&p, serial, sizeof(serial)) < 0 || hex32(serial, &s) < 0 || s == 0 ||
	    s > INT32_MAX || token(&p, k.flags, sizeof(k.flags)) < 0 ||
	    token(&p, usage, sizeof(usage)) < 0 || token(&p, k.expiry, sizeof(k.expiry)) < 0 ||
	    token(&p, perm, sizeof(perm)) < 0 || hex32(perm, &k.perm) < 0 ||
	    token(&p, uid, sizeof(uid)) < 0 || dec32(uid, &k.uid) < 0 ||
	    token(&p, gid, sizeof(gid)) < 0 || dec32(gid, &k.gid) < 0 ||
	    token(&p, k.type, sizeof(k.type)) < 0)
		return -EBADMSG;
	k.serial = (int32_t)s;
	while (*p == ' ')
		p++;
	n = strcspn(p, "\n");
	if (n == 0 || n >= sizeof(k.description))
		return -EBADMSG;
	memcpy(k.description, p, n);
	k.description[n] = 0;
	if (strcmp(k.type, "logon") == 0 || strcmp(k.type, "user") == 0) {
		/* Strip ": <size>" of a positive key; descriptions may contain ": " themselves,
		 * so only a trailing all-digit size is removed. */
		char *c = strrchr(k.description, ':');
		if (c && c[1] == ' ' && c[2]) {
			uint32_t size;
			if (dec32(c + 2, &size) == 0)
				*c = 0;
		}
	}
	if (k.description[0] == 0) /* only ": <size>" after the type */
		return -EBADMSG;
	*ret = k;
	return 0;
}

/* Reads one ';'-terminated field of at most max - 1 bytes at *p. */
static int field(const char **p, char *out, size_t max)
{
	const char *e = strchr(*p, ';');
	size_t n = e ? (size_t)(e - *p) : 0;

	if (!e || n == 0 || n >= max)
		return -EBADMSG;
	memcpy(out, *p, n);
	out[n] = 0;
	*p = e + 1;
	return 0;
}

/* Format (security/keys/keyctl.c keyctl_describe_key): "%s;%d;%d;%08x;%s". */
int keyring_describe_parse(const char *s, struct keyring_key_desc *ret)
{
	struct keyring_key_desc k = {};
	char uid[16], gid[16], perm[16];
	const char *p = s;

	if (!s || field(&p, k.type, sizeof(k.type)) < 0 || field(&p, uid, sizeof(uid)) < 0 ||
	    dec32(uid, &k.uid) < 0 || field(&p, gid, sizeof(gid)) < 0 || dec32(gid, &k.gid) < 0 ||
	    field(&p, perm, sizeof(perm)) < 0 || strlen(perm) != 8 || hex32(perm, &k.perm) < 0)
		return -EBADMSG;
	k.description = p;
	*ret = k;
	return 0;
}

bool keyring_proc_key_live(const struct keyring_proc_key *k)
{
	return k->flags[0] == 'I' && !strpbrk(k->flags, "RDNi");
}

int keyring_parse_callout(const char *s, size_t len, uint32_t *ret_timeout)
{
	char buf[32];
	uint32_t t;

	if (len == 0) {
		*ret_timeout = UINT32_MAX;
		return 0;
	}
	if (len >= sizeof(buf) || memchr(s, 0, len))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = 0;
	if (strncmp(buf, "timeout=", 8) != 0 || dec32(buf + 8, &t) < 0 || t > KEYRING_MAX_TIMEOUT)
		return -EINVAL;
	*ret_timeout = t;
	return 0;
}
