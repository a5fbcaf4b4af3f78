/* SPDX-License-Identifier: Apache-2.0 */
/* PKCS#11 URI subset (RFC 7512); see p11uri.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "p11uri.h"
#include "parse-util.h"
#include "secmem.h"

void p11uri_done(struct p11uri *u)
{
	if (u->pin_value)
		secmem_free(u->pin_value);
	u->pin_value = NULL;
}

/* Percent-decodes v[0..n) into out (cap bytes, NUL-terminated unless binary). */
static int pct_decode(const char *v, size_t n, uint8_t *out, size_t cap, size_t *ret_len)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)v[i];
		if (c == '%') {
			if (i + 2 >= n)
				return -EBADMSG;
			int h = parse_hex_digit(v[i + 1]), l = parse_hex_digit(v[i + 2]);
			if (h < 0 || l < 0)
				return -EBADMSG;
			c = h << 4 | l;
			i += 2;
		}
		if (o + 1 >= cap)
			return -EMSGSIZE;
		out[o++] = (uint8_t)c;
	}
	out[o] = 0;
	*ret_len = o;
	return 0;
}

static int set_text(char *dst, size_t cap, const char *v, size_t n)
{
	size_t len;
	int r = pct_decode(v, n, (uint8_t *)dst, cap, &len);

	if (r < 0)
		return r;
	return memchr(dst, 0, len) ? -EBADMSG : 0;
}

static int path_attr(struct p11uri *u, const char *k, size_t kl, const char *v, size_t vl)
{
#define IS(name) (kl == strlen(name) && memcmp(k, name, kl) == 0)
	if (IS("token"))
		return set_text(u->token, sizeof(u->token), v, vl);
	if (IS("manufacturer"))
		return set_text(u->manufacturer, sizeof(u->manufacturer), v, vl);
	if (IS("model"))
		return set_text(u->model, sizeof(u->model), v, vl);
	if (IS("serial"))
		return set_text(u->serial, sizeof(u->serial), v, vl);
	if (IS("object"))
		return set_text(u->object, sizeof(u->object), v, vl);
	if (IS("type"))
		return set_text(u->type, sizeof(u->type), v, vl);
	if (IS("id")) {
		uint8_t buf[P11URI_ID_MAX + 1];
		int r = pct_decode(v, vl, buf, sizeof(buf), &u->id_len);
		if (r < 0)
			return r;
		memcpy(u->id, buf, u->id_len);
		u->has_id = true;
		return 0;
	}
	return -ENOENT;
}

static int query_attr(struct p11uri *u, const char *k, size_t kl, const char *v, size_t vl)
{
	if (IS("module-path"))
		return set_text(u->module_path, sizeof(u->module_path), v, vl);
	if (IS("module-name"))
		return set_text(u->module_name, sizeof(u->module_name), v, vl);
	if (IS("pin-source"))
		return set_text(u->pin_source, sizeof(u->pin_source), v, vl);
	if (IS("pin-value")) {
		if (u->pin_value)
			return -EBADMSG;
		u->pin_value = secmem_alloc(P11URI_VALUE_MAX + 1);
		if (!u->pin_value)
			return -ENOMEM;
		return set_text(u->pin_value, P11URI_VALUE_MAX + 1, v, vl);
	}
	return -ENOENT;
#undef IS
}

/* Parses "k=v" items separated by sep in s[0..n). */
static int parse_list(struct p11uri *u, const char *s, size_t n, char sep, bool query,
		      char *err, size_t errlen)
{
	while (n > 0) {
		const char *end = memchr(s, sep, n);
		size_t il = end ? (size_t)(end - s) : n;
		const char *eq = memchr(s, '=', il);
		if (il > 0) {
			int r;
			if (!eq) {
				snprintf(err, errlen, "'%.*s' has no '='", (int)(il > 64 ? 64 : il), s);
				return -EBADMSG;
			}
			size_t kl = (size_t)(eq - s);
			r = query ? query_attr(u, s, kl, eq + 1, il - kl - 1)
				  : path_attr(u, s, kl, eq + 1, il - kl - 1);
			if (r < 0) {
				snprintf(err, errlen, "%s attribute '%.*s': %s", query ? "query" : "path",
					 (int)(kl > 64 ? 64 : kl), s,
					 r == -ENOENT ? "not supported" : "invalid value");
				return r == -ENOMEM ? r : -EBADMSG;
			}
		}
		if (!end)
			break;
		n -= il + 1;
		s = end + 1;
	}
	return 0;
}

int p11uri_parse(const char *uri, struct p11uri *ret, char *err, size_t errlen)
{
	struct p11uri u = {};
	size_t n = strlen(uri);
	const char *q;
	int r;

	if (n > P11URI_MAX || strncmp(uri, "pkcs11:", 7) != 0) {
		snprintf(err, errlen, "not a pkcs11: URI");
		return -EBADMSG;
	}
	uri += 7;
	n -= 7;
	q = memchr(uri, '?', n);
	r = parse_list(&u, uri, q ? (size_t)(q - uri) : n, ';', false, err, errlen);
	if (r >= 0 && q)
		r = parse_list(&u, q + 1, n - (size_t)(q - uri) - 1, '&', true, err, errlen);
	if (r >= 0 && u.type[0] && strcmp(u.type, "secret-key") != 0) {
		snprintf(err, errlen, "type must be secret-key");
		r = -EBADMSG;
	}
	if (r >= 0 && u.pin_value && u.pin_source[0]) {
		snprintf(err, errlen, "pin-value and pin-source are exclusive");
		r = -EBADMSG;
	}
	if (r < 0) {
		p11uri_done(&u);
		return r;
	}
	*ret = u;
	return 0;
}
