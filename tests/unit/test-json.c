/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one JSON layer: the strict parser's refusals (each with its offset or member named) and
 * the dispatch table's typed fields, unknown and missing members, ranges and key names.
 */
#include <string.h>

#include "json.h"
#include "test.h"
#include "text.h"

static int parse(const char *s, size_t max, char *err)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	int r = json_parse(s, strlen(s), max, "doc", &o, err, JSON_ERR_MAX);

	if (r < 0 && o)
		return -EIO; /* an output on failure */
	return r;
}

TEST(json_parse_refusals)
{
	static const struct {
		const char *json, *err;
	} bad[] = {
		{ "", "truncated or malformed JSON at offset 0: unexpected end of input" },
		{ "{\"a\":", "truncated or malformed JSON at offset 5: unexpected end of input" },
		{ "{\"a\":\"xy", "truncated or malformed JSON at offset 8" },
		{ "{\"a\":1,}", "truncated or malformed JSON at offset 7" },
		{ "{\"a\":1} x", "truncated or malformed JSON at offset 8" },
		{ "{}{}", "truncated or malformed JSON at offset 2" },
		{ "{\"a\":tru}", "truncated or malformed JSON at offset " },
		{ "{\"a\":\"\xc3\"}", "truncated or malformed JSON at offset " },
		{ "[1]", "doc must be a JSON object" },
		{ "null", "doc must be a JSON object" },
		{ "{\"a\":1,\"a\":2}", "a: duplicate member (offset 7)" },
		{ "{\"o\":{\"b\":1,\"\\u0062\":2}}", "o.\\u0062: duplicate member" },
		{ "{\"a\\u0000b\":1}", "member name with \\u0000 at offset 1" },
		/* Raw member names in the message: printable ASCII only (bidi and C1 controls). */
		{ "{\"\xe2\x80\xae\":1,\"\xe2\x80\xae\":2}", "???: duplicate member (offset 9)" },
		{ "{\"\xc2\x9b\":{\"b\":1,\"b\":2}}", "??.b: duplicate member" },
		{ "{\"a\":'x'}", "truncated or malformed JSON at offset " },
		{ "{\"a\":[[[[[[[[1]]]]]]]]}", "nested more than 8 deep" },
	};
	char err[JSON_ERR_MAX];

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		err[0] = 0;
		ASSERT_EQ(parse(bad[i].json, 4096, err), -EBADMSG);
		if (strncmp(err, bad[i].err, strlen(bad[i].err)) != 0) {
			test_fail(__FILE__, __LINE__, "case %zu: got \"%s\", expected \"%s\"", i,
				  err, bad[i].err);
			return;
		}
	}
	ASSERT_EQ(json_parse("{\"a\":1}\0", 8, 64, "doc", &(struct json_object *){ NULL }, err,
			     sizeof(err)), -EBADMSG);
	ASSERT_STREQ(err, "NUL byte at offset 7");
	ASSERT_EQ(parse("{\"a\":\"0123456789\"}", 10, err), -EMSGSIZE);
	ASSERT_STREQ(err, "doc is 18 bytes, more than the limit of 10");
}

TEST(json_parse_accepts)
{
	char err[JSON_ERR_MAX];
	char many[JSON_MEMBERS_MAX * 8 + 32];
	size_t n = 0;

	ASSERT_EQ(parse(" {\"a\":[1,{\"a\":2}],\"b\":{\"a\":3}}\r\n\t ", 4096, err), 0);
	ASSERT_EQ(parse("{\"a\":[[[[[[[1]]]]]]]}", 4096, err), 0); /* 8 deep */
	/* JSON_MEMBERS_MAX members in one object, and one more refused */
	n += (size_t)sprintf(many + n, "{");
	for (unsigned i = 0; i < JSON_MEMBERS_MAX; i++)
		n += (size_t)sprintf(many + n, "%s\"m%u\":1", i ? "," : "", i);
	sprintf(many + n, "}");
	ASSERT_EQ(parse(many, sizeof(many), err), 0);
	sprintf(many + n, ",\"x\":1}");
	ASSERT_EQ(parse(many, sizeof(many), err), -EBADMSG);
	ASSERT_TRUE(strstr(err, "more than 64 members") != NULL);
}

struct rec {
	const char *s;
	char name[TEXT_KEY_NAME_MAX + 1];
	char buf[8];
	int64_t i;
	uint64_t u;
	uint32_t u32;
	bool b;
	struct json_object *list;
};

static const struct json_field rec_table[] = {
	{ "s", json_type_string, json_dispatch_string, offsetof(struct rec, s), JSON_MANDATORY, 1, 16 },
	{ "name", json_type_string, json_dispatch_key_name, offsetof(struct rec, name), 0, 0, 0 },
	{ "buf", json_type_string, json_dispatch_strbuf, offsetof(struct rec, buf), 0, 0, 7 },
	{ "i", json_type_int, json_dispatch_int64, offsetof(struct rec, i), 0, -5, 5 },
	{ "u", json_type_int, json_dispatch_uint64, offsetof(struct rec, u), 0, 0, INT64_MAX },
	{ "u32", json_type_int, json_dispatch_uint32, offsetof(struct rec, u32), 0, 1, UINT32_MAX },
	{ "b", json_type_boolean, json_dispatch_bool, offsetof(struct rec, b), 0, 0, 0 },
	{ "list", json_type_array, json_dispatch_borrow, offsetof(struct rec, list), 0, 0, 0 },
	{}
};

static int dispatch(const char *s, struct rec *r, char *err)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	int k = json_parse(s, strlen(s), 4096, "doc", &o, err, JSON_ERR_MAX);

	if (k < 0)
		return k;
	*r = (struct rec){};
	k = json_dispatch(o, "top", rec_table, r, err, JSON_ERR_MAX);
	r->s = NULL; /* borrowed from o */
	r->list = NULL;
	return k;
}

TEST(json_dispatch_fields)
{
	char err[JSON_ERR_MAX];
	struct rec r;

	ASSERT_EQ(dispatch("{\"s\":\"x\",\"name\":\"disk-kek.1\",\"buf\":\"1234567\",\"i\":-5,"
			   "\"u\":9223372036854775807,\"u32\":4294967295,\"b\":true,\"list\":[]}",
			   &r, err), 0);
	ASSERT_STREQ(r.name, "disk-kek.1");
	ASSERT_STREQ(r.buf, "1234567");
	ASSERT_EQ(r.i, -5);
	ASSERT_EQ(r.u, (uint64_t)INT64_MAX);
	ASSERT_EQ(r.u32, UINT32_MAX);
	ASSERT_TRUE(r.b);
}

TEST(json_dispatch_refusals)
{
	static const struct {
		const char *json, *err;
	} bad[] = {
		{ "{}", "top.s: missing" },
		{ "{\"s\":1}", "top.s: expected a string" },
		{ "{\"s\":\"\"}", "top.s: empty" },
		{ "{\"s\":\"01234567890123456\"}", "top.s: longer than 16 bytes" },
		{ "{\"s\":\"a\\u0000b\"}", "top.s: contains a NUL character" },
		{ "{\"s\":\"x\",\"t\":1}", "top.t: unknown member" },
		{ "{\"s\":\"x\",\"t\\u001b[2J\":1}", "top.t?[2J: unknown member" },
		{ "{\"s\":\"x\",\"buf\":\"12345678\"}", "top.buf: longer than 7 bytes" },
		{ "{\"s\":\"x\",\"i\":6}", "top.i: 6 is out of range -5..5" },
		{ "{\"s\":\"x\",\"i\":1.0}", "top.i: expected an integer" },
		{ "{\"s\":\"x\",\"i\":\"1\"}", "top.i: expected an integer" },
		{ "{\"s\":\"x\",\"u\":-1}", "top.u: -1 is out of range 0..9223372036854775807" },
		{ "{\"s\":\"x\",\"u\":9223372036854775808}", "top.u: 9223372036854775808 is out of" },
		{ "{\"s\":\"x\",\"u\":99999999999999999999999}", "top.u: " },
		{ "{\"s\":\"x\",\"u32\":0}", "top.u32: 0 is out of range 1..4294967295" },
		{ "{\"s\":\"x\",\"u32\":4294967296}", "top.u32: 4294967296 is out of range" },
		{ "{\"s\":\"x\",\"b\":1}", "top.b: expected true or false" },
		{ "{\"s\":\"x\",\"b\":null}", "top.b: expected true or false" },
		{ "{\"s\":\"x\",\"list\":{}}", "top.list: expected a list" },
		{ "{\"s\":\"x\",\"name\":\"-x\"}", "top.name: invalid name '-x': " TEXT_KEY_NAME_RULE },
		{ "{\"s\":\"x\",\"name\":\"a/b\"}", "top.name: invalid name 'a/b': " },
		{ "{\"s\":\"x\",\"name\":\"a\\nb\"}", "top.name: invalid name 'a\\x0ab': " },
		{ "{\"s\":\"x\",\"name\":\"a\\u202eb\"}", "top.name: invalid name 'a\\xe2\\x80\\xaeb'" },
		{ "{\"s\":\"x\",\"name\":7}", "top.name: expected a string" },
	};
	char err[JSON_ERR_MAX];
	struct rec r;

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		err[0] = 0;
		ASSERT_EQ(dispatch(bad[i].json, &r, err), -EBADMSG);
		if (strncmp(err, bad[i].err, strlen(bad[i].err)) != 0) {
			test_fail(__FILE__, __LINE__, "case %zu: got \"%s\", expected \"%s\"", i,
				  err, bad[i].err);
			return;
		}
	}
}

TEST(json_member_typed_getters)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	char err[JSON_ERR_MAX] = "";
	struct json_object *v = NULL;
	const char *s = "untouched";
	size_t n = 99;
	static const char doc[] = "{\"type\":\"vhsm\",\"n\":3,\"nul\":\"a\\u0000b\",\"long\":\"abcdef\","
				  "\"other\":{\"x\":1}}";

	ASSERT_EQ(json_parse(doc, strlen(doc), 4096, "doc", &o, err, sizeof(err)), 0);
	ASSERT_EQ(json_member_string(o, NULL, "type", 0, &s, &n, err, sizeof(err)), 0);
	ASSERT_STREQ(s, "vhsm");
	ASSERT_EQ(n, 4);
	ASSERT_EQ(json_member_string(o, "", "long", 6, &s, NULL, err, sizeof(err)), 0);
	ASSERT_STREQ(s, "abcdef");
	ASSERT_EQ(json_member(o, NULL, "other", json_type_object, &v, err, sizeof(err)), 0);
	ASSERT_TRUE(json_object_is_type(v, json_type_object));

	/* refusals name the member and leave the outputs alone */
	s = "untouched";
	n = 99;
	ASSERT_EQ(json_member_string(o, NULL, "n", 0, &s, &n, err, sizeof(err)), -EBADMSG);
	ASSERT_STREQ(err, "n: expected a string");
	ASSERT_EQ(json_member_string(o, "token", "n", 0, &s, &n, err, sizeof(err)), -EBADMSG);
	ASSERT_STREQ(err, "token.n: expected a string");
	ASSERT_EQ(json_member_string(o, NULL, "nul", 0, &s, &n, err, sizeof(err)), -EBADMSG);
	ASSERT_STREQ(err, "nul: contains a NUL character");
	ASSERT_EQ(json_member_string(o, NULL, "long", 5, &s, &n, err, sizeof(err)), -EBADMSG);
	ASSERT_STREQ(err, "long: longer than 5 bytes");
	ASSERT_EQ(json_member(o, NULL, "type", json_type_int, &v, err, sizeof(err)), -EBADMSG);
	ASSERT_STREQ(err, "type: expected an integer");
	err[0] = 0;
	ASSERT_EQ(json_member_string(o, NULL, "absent", 0, &s, &n, err, sizeof(err)), -ENOENT);
	ASSERT_EQ(json_member_string(NULL, NULL, "type", 0, &s, &n, err, sizeof(err)), -ENOENT);
	ASSERT_STREQ(err, "");
	ASSERT_STREQ(s, "untouched");
	ASSERT_EQ(n, 99);
}

TEST(json_member_int64_bool_present)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	char err[JSON_ERR_MAX] = "";
	int64_t x = 7;
	bool b = false;
	static const char doc[] = "{\"n\":-3,\"big\":18446744073709551615,\"t\":true,"
				  "\"f\":false,\"s\":\"1\",\"z\":null}";

	ASSERT_EQ(json_parse(doc, strlen(doc), 4096, "doc", &o, err, sizeof(err)), 0);
	ASSERT_EQ(json_member_int64(o, NULL, "n", INT64_MIN, INT64_MAX, &x, err, sizeof(err)), 0);
	ASSERT_EQ(x, -3);
	ASSERT_EQ(json_member_bool(o, NULL, "t", &b, err, sizeof(err)), 0);
	ASSERT_TRUE(b);
	ASSERT_EQ(json_member_bool(o, NULL, "f", &b, err, sizeof(err)), 0);
	ASSERT_FALSE(b);
	ASSERT_TRUE(json_member_present(o, "z"));
	ASSERT_TRUE(json_member_present(o, "s"));
	ASSERT_FALSE(json_member_present(o, "absent"));
	ASSERT_FALSE(json_member_present(NULL, "n"));

	/* refusals name the member and leave the outputs alone */
	x = 7;
	b = true;
	ASSERT_EQ(json_member_int64(o, NULL, "n", 0, 10, &x, err, sizeof(err)), -EBADMSG);
	ASSERT_STREQ(err, "n: -3 is out of range 0..10");
	ASSERT_EQ(json_member_int64(o, "st", "big", INT64_MIN, INT64_MAX, &x, err, sizeof(err)),
		  -EBADMSG);
	ASSERT_TRUE(strncmp(err, "st.big: 18446744073709551615 is out of range", 44) == 0);
	ASSERT_EQ(json_member_int64(o, NULL, "s", INT64_MIN, INT64_MAX, &x, err, sizeof(err)),
		  -EBADMSG);
	ASSERT_STREQ(err, "s: expected an integer");
	ASSERT_EQ(json_member_int64(o, NULL, "t", INT64_MIN, INT64_MAX, &x, err, sizeof(err)),
		  -EBADMSG);
	ASSERT_EQ(json_member_bool(o, "a", "n", &b, err, sizeof(err)), -EBADMSG);
	ASSERT_STREQ(err, "a.n: expected true or false");
	ASSERT_EQ(json_member_bool(o, NULL, "z", &b, err, sizeof(err)), -EBADMSG);
	err[0] = 0;
	ASSERT_EQ(json_member_int64(o, NULL, "absent", 0, 1, &x, err, sizeof(err)), -ENOENT);
	ASSERT_EQ(json_member_bool(NULL, NULL, "t", &b, err, sizeof(err)), -ENOENT);
	ASSERT_STREQ(err, "");
	ASSERT_EQ(x, 7);
	ASSERT_TRUE(b);
	ASSERT_EQ(json_member_int64(o, NULL, "n", 1, 0, &x, err, sizeof(err)), -EINVAL);
}
