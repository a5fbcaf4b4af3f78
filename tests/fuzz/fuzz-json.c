/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON layer fuzzer. Arbitrary bytes are either refused by json_parse() with a documented
 * errno and a reason, or give an object; an object must serialise and parse again (no
 * duplicate or cut-off member survives), and a dispatch over it with a table of every handler
 * type either fills the fields or names a member.
 */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct rec {
	const char *s;
	char name[TEXT_KEY_NAME_MAX + 1];
	char buf[16];
	int64_t i;
	uint64_t u;
	uint32_t u32;
	bool b;
	struct json_object *o;
};

static const struct json_field table[] = {
	{ "s", json_type_string, json_dispatch_string, offsetof(struct rec, s), 0, 1, 64 },
	{ "name", json_type_string, json_dispatch_key_name, offsetof(struct rec, name), 0, 0, 0 },
	{ "buf", json_type_string, json_dispatch_strbuf, offsetof(struct rec, buf), 0, 0, 15 },
	{ "i", json_type_int, json_dispatch_int64, offsetof(struct rec, i), 0, -100, 100 },
	{ "u", json_type_int, json_dispatch_uint64, offsetof(struct rec, u), 0, 0, INT64_MAX },
	{ "u32", json_type_int, json_dispatch_uint32, offsetof(struct rec, u32), 0, 0, UINT32_MAX },
	{ "b", json_type_boolean, json_dispatch_bool, offsetof(struct rec, b), 0, 0, 0 },
	{ "o", json_type_object, json_dispatch_borrow, offsetof(struct rec, o), 0, 0, 0 },
	{ "x", json_type_null, json_dispatch_unused, 0, 0, 0, 0 },
	{}
};

static void check_dispatch(struct json_object *o)
{
	struct rec r = {};
	char err[JSON_ERR_MAX] = "";
	int k = json_dispatch(o, NULL, table, &r, err, sizeof(err));

	if (k < 0) {
		if (k != -EBADMSG || !err[0])
			abort();
		return;
	}
	if ((r.s && (strlen(r.s) == 0 || strlen(r.s) > 64)) ||
	    (r.name[0] && !text_key_name_valid(r.name)) || strlen(r.buf) > 15 || r.i < -100 ||
	    r.i > 100 || r.u > INT64_MAX)
		abort();
	if (r.o && json_dispatch(r.o, "o", table, &r, err, sizeof(err)) == -EBADMSG && !err[0])
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL, *again = NULL;
	char err[JSON_ERR_MAX] = "";
	const char *s;
	int r = json_parse((const char *)data, size, 4096, "input", &o, err, sizeof(err));

	if (r < 0) {
		if ((r != -EBADMSG && r != -EMSGSIZE && r != -ENOMEM) || o || !err[0] ||
		    !memchr(err, 0, sizeof(err)))
			abort();
		return 0;
	}
	if (!json_object_is_type(o, json_type_object))
		abort();
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	if (!s || json_parse(s, strlen(s), 1u << 20, "again", &again, err, sizeof(err)) < 0 ||
	    json_object_object_length(again) != json_object_object_length(o))
		abort();
	check_dispatch(o);
	return 0;
}
