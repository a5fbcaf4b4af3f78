/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one JSON layer (see json.h).
 *
 * Parsing is two passes over the same bytes. json-c builds the tree (strict mode, UTF-8
 * validated, nesting bounded) and a small lexical pass over the accepted text rejects what
 * json-c's strict mode still lets through: duplicate member names (json-c keeps the last one),
 * member names cut short at an escaped NUL ("allow_debug\u0000x" arrives as "allow_debug"),
 * single-quoted strings and raw control characters inside strings. The lexical pass keeps at
 * most JSON_MEMBERS_MAX names per object, so its work is linear in the input.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "parse-util.h"
#include "text.h"

int json_fail(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return r;
}

/* Copies an untrusted member name for a message: printable ASCII only, shortened. */
static void sanitize(char *out, size_t outlen, const char *s)
{
	size_t i, n = strlen(s), keep = outlen - 4;

	for (i = 0; i < n && i < keep; i++)
		out[i] = s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\' ? s[i] : '?';
	if (n > keep) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = 0;
}

const char *json_path(char out[static JSON_PATH_MAX], const char *path, const char *name,
		      size_t i)
{
	char n[48];

	if (!name) {
		snprintf(out, JSON_PATH_MAX, "%s[%zu]", path ? path : "", i);
		return out;
	}
	sanitize(n, sizeof(n), name);
	if (path && path[0])
		snprintf(out, JSON_PATH_MAX, "%s.%s", path, n);
	else
		snprintf(out, JSON_PATH_MAX, "%s", n);
	return out;
}

/* ---- lexical pass ---- */

struct scan_frame {
	bool object;
	const char *name; /* raw name of the member holding this object (NULL at the top) */
	size_t name_len;
	unsigned n_keys;
	const char *keys[JSON_MEMBERS_MAX]; /* raw member names (between the quotes) */
	size_t key_lens[JSON_MEMBERS_MAX];
};

/*
 * Decodes the next code unit of a raw (already validated) JSON string: an escape gives the
 * unit it stands for (\uXXXX: the 16-bit value), any other byte itself. Two member names are
 * the same if their units are; for the ASCII names every schema uses this is exact.
 */
static unsigned scan_unit(const char *s, size_t len, size_t *i)
{
	unsigned u = 0;
	char c = s[*i];

	if (c != '\\' || *i + 1 >= len) {
		(*i)++;
		return (unsigned char)c;
	}
	c = s[*i + 1];
	*i += 2;
	switch (c) {
	case 'b': return '\b';
	case 'f': return '\f';
	case 'n': return '\n';
	case 'r': return '\r';
	case 't': return '\t';
	case 'u':
		for (unsigned k = 0; k < 4 && *i < len; k++, (*i)++) {
			int d = parse_hex_digit(s[*i]);
			u = u << 4 | (unsigned)(d < 0 ? 0 : d);
		}
		return u;
	default: return (unsigned char)c; /* \" \\ \/ */
	}
}

static bool scan_key_has_nul(const char *s, size_t len)
{
	for (size_t i = 0; i < len;)
		if (scan_unit(s, len, &i) == 0)
			return true;
	return false;
}

static bool scan_key_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i = 0, j = 0;

	while (i < alen && j < blen)
		if (scan_unit(a, alen, &i) != scan_unit(b, blen, &j))
			return false;
	return i == alen && j == blen;
}

/* A raw member name (as written, escapes kept) for a message: bytes that are not printable
 * ASCII become '?', so no control or bidi character reaches a terminal or a log; shortened. */
static const char *raw_name(char *out, size_t outlen, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len && i + 1 < outlen; i++)
		out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	out[i] = 0;
	return out;
}

/* Records member name s[0..len) in the innermost object; rejects a NUL or a repeat. */
static int scan_key(struct scan_frame *f, const char *s, size_t len, size_t off, char *err,
		    size_t errlen)
{
	if (scan_key_has_nul(s, len))
		return json_fail(err, errlen, -EBADMSG, "member name with \\u0000 at offset %zu", off);
	for (unsigned i = 0; i < f->n_keys; i++) {
		char up[41], dup[41];

		if (!scan_key_eq(f->keys[i], f->key_lens[i], s, len))
			continue;
		raw_name(dup, sizeof(dup), s, len);
		if (f->name)
			return json_fail(err, errlen, -EBADMSG,
					 "%s.%s: duplicate member (offset %zu)",
					 raw_name(up, sizeof(up), f->name, f->name_len), dup, off);
		return json_fail(err, errlen, -EBADMSG, "%s: duplicate member (offset %zu)", dup,
				 off);
	}
	if (f->n_keys >= JSON_MEMBERS_MAX)
		return json_fail(err, errlen, -EBADMSG,
				 "more than %u members in one object (offset %zu)",
				 JSON_MEMBERS_MAX, off);
	f->keys[f->n_keys] = s;
	f->key_lens[f->n_keys++] = len;
	return 0;
}

/* Finds the closing quote of the string opening at s[i]; rejects raw control characters. */
static int scan_string(const char *s, size_t len, size_t i, size_t *ret_end, char *err,
		       size_t errlen)
{
	for (size_t j = i + 1; j < len; j++) {
		if ((unsigned char)s[j] < 0x20)
			return json_fail(err, errlen, -EBADMSG,
					 "raw control character in a string at offset %zu", j);
		if (s[j] == '\\')
			j++;
		else if (s[j] == '"') {
			*ret_end = j;
			return 0;
		}
	}
	return json_fail(err, errlen, -EBADMSG, "truncated or malformed JSON at offset %zu", len);
}

static bool is_json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void scan_open(struct scan_frame *frames, int depth, bool object)
{
	frames[depth] = (struct scan_frame){ .object = object };
	if (depth > 0 && frames[depth - 1].object && frames[depth - 1].n_keys > 0) {
		const struct scan_frame *up = &frames[depth - 1];

		frames[depth].name = up->keys[up->n_keys - 1];
		frames[depth].name_len = up->key_lens[up->n_keys - 1];
	}
}

static int scan_lexical(const char *s, size_t len, char *err, size_t errlen)
{
	_cleanup_free_ struct scan_frame *frames = NULL;
	int depth = -1;

	frames = calloc(JSON_DEPTH_MAX, sizeof(*frames));
	if (!frames)
		return json_fail(err, errlen, -ENOMEM, "out of memory");
	for (size_t i = 0; i < len; i++) {
		size_t end = 0, k;
		int r;

		switch (s[i]) {
		case '{':
		case '[':
			if (++depth >= JSON_DEPTH_MAX)
				return json_fail(err, errlen, -EBADMSG,
						 "nested more than %d deep at offset %zu",
						 JSON_DEPTH_MAX, i);
			scan_open(frames, depth, s[i] == '{');
			break;
		case '}':
		case ']':
			if (depth >= 0)
				depth--;
			break;
		case '\'':
			return json_fail(err, errlen, -EBADMSG, "single-quoted string at offset %zu",
					 i);
		case '"':
			r = scan_string(s, len, i, &end, err, errlen);
			if (r < 0)
				return r;
			for (k = end + 1; k < len && is_json_space(s[k]); k++)
				;
			if (depth >= 0 && frames[depth].object && k < len && s[k] == ':') {
				r = scan_key(&frames[depth], s + i + 1, end - i - 1, i, err,
					     errlen);
				if (r < 0)
					return r;
			}
			i = end;
			break;
		default:
			break;
		}
	}
	return 0;
}

/* ---- parse ---- */

static int parse_tokens(const char *json, size_t len, struct json_object **ret, char *err,
			size_t errlen)
{
	_cleanup_(json_tokener_freep) struct json_tokener *tok = NULL;
	struct json_object *o;
	enum json_tokener_error e;
	size_t end;

	/* json-c counts the levels it may open beyond the first. */
	tok = json_tokener_new_ex(JSON_DEPTH_MAX + 1);
	if (!tok)
		return json_fail(err, errlen, -ENOMEM, "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, json, (int)len);
	e = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (!o) {
		if (e == json_tokener_continue) /* the input ended inside the document */
			return json_fail(err, errlen, -EBADMSG,
					 "truncated or malformed JSON at offset %zu: unexpected end "
					 "of input", len);
		if (e == json_tokener_error_depth)
			return json_fail(err, errlen, -EBADMSG,
					 "nested more than %d deep at offset %zu", JSON_DEPTH_MAX,
					 end);
		return json_fail(err, errlen, -EBADMSG,
				 "truncated or malformed JSON at offset %zu: %s", end,
				 e == json_tokener_success ? "not an object" :
							     json_tokener_error_desc(e));
	}
	for (; end < len; end++)
		if (!is_json_space(json[end])) {
			json_object_put(o);
			return json_fail(err, errlen, -EBADMSG,
					 "truncated or malformed JSON at offset %zu: trailing data",
					 end);
		}
	*ret = o;
	return 0;
}

int json_parse(const char *json, size_t len, size_t max_size, const char *what,
	       struct json_object **ret, char *err, size_t errlen)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	const char *nul;
	size_t i;
	int r;

	if (err && errlen > 0)
		err[0] = 0;
	if (!ret || (!json && len > 0) || !what || max_size > INT32_MAX)
		return json_fail(err, errlen, -EINVAL, "invalid arguments");
	if (len > max_size)
		return json_fail(err, errlen, -EMSGSIZE, "%s is %zu bytes, more than the limit of %zu",
				 what, len, max_size);
	if (!json)
		json = "";
	nul = memchr(json, 0, len);
	if (nul)
		return json_fail(err, errlen, -EBADMSG, "NUL byte at offset %zu",
				 (size_t)(nul - json));
	/* json-c cannot tell a complete top-level literal ("null", "1") from a cut-off one at
	 * the end of the buffer; anything but an object is wrong anyway, so say that. */
	for (i = 0; i < len && is_json_space(json[i]); i++)
		;
	if (i < len && json[i] != '{')
		return json_fail(err, errlen, -EBADMSG, "%s must be a JSON object", what);
	r = parse_tokens(json, len, &o, err, errlen);
	if (r < 0)
		return r;
	if (!json_object_is_type(o, json_type_object))
		return json_fail(err, errlen, -EBADMSG, "%s must be a JSON object", what);
	r = scan_lexical(json, len, err, errlen);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(o);
	return 0;
}

/* ---- dispatch ---- */

static const char *type_expected(enum json_type t)
{
	switch (t) {
	case json_type_boolean: return "expected true or false";
	case json_type_int: return "expected an integer";
	case json_type_double: return "expected a number";
	case json_type_string: return "expected a string";
	case json_type_object: return "expected an object";
	case json_type_array: return "expected a list";
	case json_type_null: break;
	}
	return "unexpected type";
}

static const struct json_field *field_find(const struct json_field table[], const char *name)
{
	for (const struct json_field *f = table; f->name; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

int json_dispatch(struct json_object *o, const char *path, const struct json_field table[],
		  void *userdata, char *err, size_t errlen)
{
	char p[JSON_PATH_MAX];

	if (!json_object_is_type(o, json_type_object))
		return json_fail(err, errlen, -EBADMSG, "%s: expected an object",
				 path && path[0] ? path : "document");
	json_object_object_foreach(o, key, val) {
		const struct json_field *f = field_find(table, key);
		int r;

		json_path(p, path, key, 0);
		if (!f)
			return json_fail(err, errlen, -EBADMSG, "%s: unknown member", p);
		if (f->type != json_type_null && !json_object_is_type(val, f->type))
			return json_fail(err, errlen, -EBADMSG, "%s: %s", p,
					 type_expected(f->type));
		r = f->fn(val, p, f, (uint8_t *)userdata + f->offset, err, errlen);
		if (r < 0)
			return r;
	}
	for (const struct json_field *f = table; f->name; f++)
		if ((f->flags & JSON_MANDATORY) && !json_object_object_get_ex(o, f->name, NULL))
			return json_fail(err, errlen, -EBADMSG, "%s: missing",
					 json_path(p, path, f->name, 0));
	return 0;
}

/* ---- handlers ---- */

static int string_check(struct json_object *v, const char *path, const struct json_field *f,
			const char **ret, size_t *ret_len, char *err, size_t errlen)
{
	size_t n;

	if (!json_object_is_type(v, json_type_string))
		return json_fail(err, errlen, -EBADMSG, "%s: expected a string", path);
	n = (size_t)json_object_get_string_len(v);
	if (memchr(json_object_get_string(v), 0, n))
		return json_fail(err, errlen, -EBADMSG, "%s: contains a NUL character", path);
	if (f->max > 0 && n > (uint64_t)f->max)
		return json_fail(err, errlen, -EBADMSG, "%s: longer than %" PRId64 " bytes", path,
				 f->max);
	if (n < (uint64_t)(f->min > 0 ? f->min : 0))
		return json_fail(err, errlen, -EBADMSG, "%s: %s", path,
				 n == 0 ? "empty" : "too short");
	*ret = json_object_get_string(v);
	*ret_len = n;
	return 0;
}

int json_dispatch_string(struct json_object *v, const char *path, const struct json_field *f,
			 void *p, char *err, size_t errlen)
{
	const char *s;
	size_t n;
	int r = string_check(v, path, f, &s, &n, err, errlen);

	if (r < 0)
		return r;
	*(const char **)p = s;
	return 0;
}

int json_dispatch_strbuf(struct json_object *v, const char *path, const struct json_field *f,
			 void *p, char *err, size_t errlen)
{
	const char *s;
	size_t n;
	int r;

	if (f->max <= 0)
		return json_fail(err, errlen, -EINVAL, "%s: no buffer size", path);
	r = string_check(v, path, f, &s, &n, err, errlen);
	if (r < 0)
		return r;
	memcpy(p, s, n + 1);
	return 0;
}

int json_dispatch_key_name(struct json_object *v, const char *path, const struct json_field *f,
			   void *p, char *err, size_t errlen)
{
	char msg[TEXT_KEY_NAME_ERR_MAX];
	const char *s;
	size_t n;

	(void)f;
	if (!json_object_is_type(v, json_type_string))
		return json_fail(err, errlen, -EBADMSG, "%s: expected a string", path);
	s = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	if (!text_key_name_valid_n(s, n))
		return json_fail(err, errlen, -EBADMSG, "%s: %s", path,
				 text_key_name_error(msg, NULL, s, n));
	memcpy(p, s, n + 1);
	return 0;
}

/* The member as an integer in min..max; json-c clamps out-of-range numbers to INT64_MIN or
 * INT64_MAX (and UINT64_MAX values to INT64_MAX), which callers' ranges exclude. */
static int int_check(struct json_object *v, const char *path, int64_t min, int64_t max,
		     int64_t *ret, char *err, size_t errlen)
{
	int64_t x;

	if (!json_object_is_type(v, json_type_int))
		return json_fail(err, errlen, -EBADMSG, "%s: expected an integer", path);
	errno = 0;
	x = json_object_get_int64(v);
	if (errno != 0 || x < min || x > max ||
	    (x == INT64_MAX && json_object_get_uint64(v) != (uint64_t)INT64_MAX))
		return json_fail(err, errlen, -EBADMSG,
				 "%s: %s is out of range %" PRId64 "..%" PRId64, path,
				 json_object_get_string(v), min, max);
	*ret = x;
	return 0;
}

int json_dispatch_int64(struct json_object *v, const char *path, const struct json_field *f,
			void *p, char *err, size_t errlen)
{
	int64_t x;
	int r = int_check(v, path, f->min, f->max, &x, err, errlen);

	if (r < 0)
		return r;
	*(int64_t *)p = x;
	return 0;
}

int json_dispatch_uint64(struct json_object *v, const char *path, const struct json_field *f,
			 void *p, char *err, size_t errlen)
{
	int64_t x;
	int r = int_check(v, path, f->min < 0 ? 0 : f->min, f->max, &x, err, errlen);

	if (r < 0)
		return r;
	*(uint64_t *)p = (uint64_t)x;
	return 0;
}

int json_dispatch_uint32(struct json_object *v, const char *path, const struct json_field *f,
			 void *p, char *err, size_t errlen)
{
	int64_t x;
	int r = int_check(v, path, f->min < 0 ? 0 : f->min, f->max > UINT32_MAX ? UINT32_MAX : f->max,
			  &x, err, errlen);

	if (r < 0)
		return r;
	*(uint32_t *)p = (uint32_t)x;
	return 0;
}

int json_dispatch_bool(struct json_object *v, const char *path, const struct json_field *f,
		       void *p, char *err, size_t errlen)
{
	(void)f;
	if (!json_object_is_type(v, json_type_boolean))
		return json_fail(err, errlen, -EBADMSG, "%s: expected true or false", path);
	*(bool *)p = json_object_get_boolean(v);
	return 0;
}

int json_dispatch_borrow(struct json_object *v, const char *path, const struct json_field *f,
			 void *p, char *err, size_t errlen)
{
	(void)path, (void)f, (void)err, (void)errlen;
	*(struct json_object **)p = v;
	return 0;
}

int json_dispatch_unused(struct json_object *v, const char *path, const struct json_field *f,
			 void *p, char *err, size_t errlen)
{
	(void)v, (void)path, (void)f, (void)p, (void)err, (void)errlen;
	return 0;
}

/* ---- typed getters without a table ---- */

int json_member(struct json_object *o, const char *path, const char *name, enum json_type type,
		struct json_object **ret, char *err, size_t errlen)
{
	char p[JSON_PATH_MAX];
	struct json_object *v;

	if (!name || !ret)
		return -EINVAL;
	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, name, &v))
		return -ENOENT;
	if (type != json_type_null && !json_object_is_type(v, type))
		return json_fail(err, errlen, -EBADMSG, "%s: %s", json_path(p, path, name, 0),
				 type_expected(type));
	*ret = v;
	return 0;
}

int json_member_string(struct json_object *o, const char *path, const char *name, size_t max,
		       const char **ret, size_t *ret_len, char *err, size_t errlen)
{
	const struct json_field f = { .name = name, .type = json_type_string,
				      .max = max > INT64_MAX ? INT64_MAX : (int64_t)max };
	char p[JSON_PATH_MAX];
	struct json_object *v;
	const char *s;
	size_t n;
	int r;

	if (!ret)
		return -EINVAL;
	r = json_member(o, path, name, json_type_string, &v, err, errlen);
	if (r < 0)
		return r;
	r = string_check(v, json_path(p, path, name, 0), &f, &s, &n, err, errlen);
	if (r < 0)
		return r;
	*ret = s;
	if (ret_len)
		*ret_len = n;
	return 0;
}

int json_member_int64(struct json_object *o, const char *path, const char *name, int64_t min,
		      int64_t max, int64_t *ret, char *err, size_t errlen)
{
	char p[JSON_PATH_MAX];
	struct json_object *v;
	int64_t x;
	int r;

	if (!ret || min > max)
		return -EINVAL;
	r = json_member(o, path, name, json_type_int, &v, err, errlen);
	if (r < 0)
		return r;
	r = int_check(v, json_path(p, path, name, 0), min, max, &x, err, errlen);
	if (r < 0)
		return r;
	*ret = x;
	return 0;
}

int json_member_bool(struct json_object *o, const char *path, const char *name, bool *ret,
		     char *err, size_t errlen)
{
	struct json_object *v;
	int r;

	if (!ret)
		return -EINVAL;
	r = json_member(o, path, name, json_type_boolean, &v, err, errlen);
	if (r < 0)
		return r;
	*ret = json_object_get_boolean(v);
	return 0;
}

bool json_member_present(struct json_object *o, const char *name)
{
	struct json_object *v;

	return name && json_member(o, NULL, name, json_type_null, &v, NULL, 0) == 0;
}
