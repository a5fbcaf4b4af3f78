/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one JSON layer: every file and message vhsm reads as JSON goes through json_parse() and
 * json_dispatch(). Parsing is strict and bounded: a size limit, a nesting limit, no NUL byte,
 * one JSON object and nothing after it but whitespace, valid UTF-8, no duplicate member names
 * (json-c would keep the last), no member name cut short at an escaped NUL, no single-quoted
 * strings and no raw control characters. A dispatch table then maps each member to a typed
 * field: unknown members, wrong types, out-of-range integers and missing mandatory members are
 * refused with the member's path named ("header.kid: expected a string").
 *
 * Secrets never pass through here (json-c frees without wiping): members that carry key
 * material hold it base64- or hex-encoded only where the format already did, and the caller
 * decodes them straight into secure memory.
 *
 * Errors: -EBADMSG (malformed or refused; the reason in err), -EMSGSIZE (over the size
 * limit), -ENOMEM, -EINVAL (programming error). err (errlen bytes, may be NULL when errlen is
 * 0) receives one line without a trailing newline; JSON_ERR_MAX holds every message. Library
 * code: never logs.
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json-cleanup.h"
#include "macro.h"

/* Deepest nesting any vhsm document uses is 3 ({"versions":[{...}]}); 8 leaves room. */
#define JSON_DEPTH_MAX 8
/* Most members in one object (the simulator state has more than 32, the policy 21). */
#define JSON_MEMBERS_MAX 64
#define JSON_ERR_MAX 256
/* Longest member path named in an error ("min_committed_tcb.microcode", "versions[31].created"). */
#define JSON_PATH_MAX 96

/*
 * Parses json[0..len) (not NUL-terminated; NULL only when len is 0) as one JSON object of at
 * most max_size bytes. what names the document in the one message that is not about JSON
 * syntax: "<what> must be a JSON object". Syntax errors say "truncated or malformed JSON at
 * offset N" (N counts bytes from 0). On success *ret owns the object (json_object_put).
 */
int json_parse(const char *json, size_t len, size_t max_size, const char *what,
	       struct json_object **ret, char *err, size_t errlen) _wur_;

struct json_field;

/*
 * A member handler: v is the member's value (already of the table's type unless that is
 * json_type_null, which means any), path its name for errors ("header.kid"), f the table row
 * and p userdata + f->offset. Returns 0 or a negative errno with err filled.
 */
typedef int (*json_dispatch_fn)(struct json_object *v, const char *path,
				const struct json_field *f, void *p, char *err, size_t errlen);

enum {
	JSON_MANDATORY = 1u << 0, /* refused when absent */
};

/*
 * One row of a dispatch table (the table ends with a row whose name is NULL). type is the
 * json-c type the value must have (json_type_null: any type, the handler decides). min and
 * max bound integers (json_dispatch_int64, _uint64, _uint32) and string lengths in bytes
 * (json_dispatch_string, _strbuf, where max is also the buffer's size minus one).
 */
struct json_field {
	const char *name;
	enum json_type type;
	json_dispatch_fn fn;
	size_t offset;
	unsigned flags;
	int64_t min, max;
};

/*
 * Walks object o: every member must have a row in table, the type the row names, and pass
 * its handler; every JSON_MANDATORY row must be present. path prefixes member names in errors
 * ("" or NULL at the top level, "header" for a nested object). Handlers run in the order the
 * members appear; a failed walk may have written some fields of userdata, so callers parse
 * into a temporary and publish it only on success.
 */
int json_dispatch(struct json_object *o, const char *path, const struct json_field table[],
		  void *userdata, char *err, size_t errlen) _wur_;

/* Handlers for struct json_field.fn; the field each one writes is named. */
/* const char *: borrowed from o (valid while o lives), min..max bytes, no NUL. */
int json_dispatch_string(struct json_object *v, const char *path, const struct json_field *f,
			 void *p, char *err, size_t errlen);
/* char[max + 1]: a copy, min..max bytes, no NUL. */
int json_dispatch_strbuf(struct json_object *v, const char *path, const struct json_field *f,
			 void *p, char *err, size_t errlen);
/* char[TEXT_KEY_NAME_MAX + 1]: a key name (text.h's one rule; min/max ignored);
 * refused with text_key_name_error()'s message. */
int json_dispatch_key_name(struct json_object *v, const char *path, const struct json_field *f,
			   void *p, char *err, size_t errlen);
/* int64_t in min..max. */
int json_dispatch_int64(struct json_object *v, const char *path, const struct json_field *f,
			void *p, char *err, size_t errlen);
/* uint64_t in min..max (min >= 0). */
int json_dispatch_uint64(struct json_object *v, const char *path, const struct json_field *f,
			 void *p, char *err, size_t errlen);
/* uint32_t in min..max (0 <= min, max <= UINT32_MAX). */
int json_dispatch_uint32(struct json_object *v, const char *path, const struct json_field *f,
			 void *p, char *err, size_t errlen);
/* bool. */
int json_dispatch_bool(struct json_object *v, const char *path, const struct json_field *f,
		       void *p, char *err, size_t errlen);
/* Nothing: a known member whose value (of the table's type) the caller does not need. */
int json_dispatch_unused(struct json_object *v, const char *path, const struct json_field *f,
			 void *p, char *err, size_t errlen);
/* struct json_object *: borrowed (for a nested object or list the caller walks itself). */
int json_dispatch_borrow(struct json_object *v, const char *path, const struct json_field *f,
			 void *p, char *err, size_t errlen);

/*
 * Formats an error into err like snprintf ("%s: ..." with the path first by convention) and
 * returns r. For handlers and callers that add their own checks after a dispatch.
 */
int json_fail(char *err, size_t errlen, int r, const char *fmt, ...) _printf_(4, 5);

/* Writes "<path>.<name>" or "<path>[<i>]" (name NULL) into out[JSON_PATH_MAX], shortened. */
const char *json_path(char out[static JSON_PATH_MAX], const char *path, const char *name,
		      size_t i);

/*
 * Typed getters for the few documents whose other members are not ours to know, so that a
 * table cannot list them: another token type's members in a LUKS2 token, the entries of a
 * daemon listing that grows with the daemon. o's member name, borrowed from o: returns 0 and
 * sets *ret; -ENOENT when o is not an object or has no such member (err untouched); -EBADMSG
 * with err naming the member ("<path>.<name>: expected a string") when it has another type.
 */
int json_member(struct json_object *o, const char *path, const char *name, enum json_type type,
		struct json_object **ret, char *err, size_t errlen) _wur_;

/*
 * A string member, as json_member(), also refused (-EBADMSG, named) when it holds a NUL byte
 * or is longer than max bytes (0: no limit). *ret borrowed from o; ret_len may be NULL.
 */
int json_member_string(struct json_object *o, const char *path, const char *name, size_t max,
		       const char **ret, size_t *ret_len, char *err, size_t errlen) _wur_;

/* An integer member in min..max, as json_member(); -EBADMSG (named) out of range. */
int json_member_int64(struct json_object *o, const char *path, const char *name, int64_t min,
		      int64_t max, int64_t *ret, char *err, size_t errlen) _wur_;

/* A boolean member, as json_member(). */
int json_member_bool(struct json_object *o, const char *path, const char *name, bool *ret,
		     char *err, size_t errlen) _wur_;

/* Whether o is an object with a member name of any type (JSON null included). */
bool json_member_present(struct json_object *o, const char *name);
