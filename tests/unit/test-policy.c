/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Attestation policy: strict parsing (every malformed member is refused and named), the
 * canonical digest, and rule evaluation on real AMD-signed reports from the vectors.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-cleanup.h"
#include "json.h"
#include "policy.h"
#include "snp-report.h"
#include "test.h"

/* MEASUREMENT of genoa-v5-oak, turin-v5-oak and milan-v3-oak. */
#define M_GENOA                                                                                    \
	"c57729018b0a6fb90dc17bb138b0aa35e4401004283ff4a2"                                         \
	"c24d3739ff3750f52384370e77b7032862a08c440a9bc4dc"
#define M_TURIN                                                                                    \
	"f924dd18f168df60fbea937f0b086284d51b1b376de872ba"                                         \
	"c43694f61134d57967c318018de7335503023dbb50dee624"
#define M_MILAN                                                                                    \
	"195b01b74976a1faba13bd85eaf787958f0a46e6dddd45c5"                                         \
	"bdbf8673522777842b8057ae5d866b75416efb62012deaa3"
/* ID_KEY_DIGEST, FAMILY_ID and IMAGE_ID of milan-v2-trustee (launched with an ID block). */
#define IDKEY_TRUSTEE                                                                              \
	"0356215882a825279a85b300b0b742931d113bf7e32dde2e"                                         \
	"50ffde7ec743ca491ecdd7f336dc28a6e0b2bb57af7a44a3"
#define FAMILY_01 "01000000000000000000000000000000"
#define IMAGE_02 "02000000000000000000000000000000"
#define Z32 "00000000000000000000000000000000"
#define Z64 Z32 Z32
#define Z96 Z64 Z32
#define Z128 Z64 Z64

static int parse(const char *json, struct snp_policy **ret)
{
	char err[POLICY_ERR_MAX] = "";
	int r = snp_policy_parse(json, strlen(json), ret, err, sizeof(err));

	if (r < 0)
		fprintf(stderr, "    policy refused: %s\n", err);
	return r;
}

static int load_report(const char *dir, struct snp_report *ret)
{
	char rel[256];
	size_t len;
	uint8_t *buf;
	int r;

	snprintf(rel, sizeof(rel), "%s/report.bin", dir);
	buf = test_read_file(test_vector(rel), &len);
	r = snp_report_parse(buf, len, ret);
	free(buf);
	return r;
}

/* The violated rule names, comma-separated, in evaluation order. */
static const char *rules(const struct snp_policy_result *res)
{
	static char buf[1024];

	buf[0] = 0;
	for (size_t i = 0; i < res->n; i++) {
		if (i > 0)
			strcat(buf, ",");
		strcat(buf, res->v[i].rule);
	}
	return buf;
}

/* Parses json and evaluates it against the report in dir; returns the rules violated. */
static const char *eval_json(const char *json, const char *dir, enum snp_product prod,
			     struct snp_policy_result *res)
{
	_cleanup_(snp_policy_freep) struct snp_policy *p = NULL;
	struct snp_report rep;
	int r;

	res->n = 0;
	if (parse(json, &p) < 0 || load_report(dir, &rep) < 0)
		return "(setup failed)";
	r = snp_policy_eval(p, &rep, prod, res);
	if ((r == 0) != (res->n == 0) || (r < 0 && r != -EKEYREJECTED))
		return "(bad return value)";
	return rules(res);
}

static void digest_of(const char *json, uint8_t out[static 32])
{
	_cleanup_(snp_policy_freep) struct snp_policy *p = NULL;

	memset(out, 0, 32);
	if (parse(json, &p) == 0)
		snp_policy_digest(p, out);
}

/* A report that satisfies the default policy and every constraint of "full" below. */
static void synthetic_report(struct snp_report *r)
{
	*r = (struct snp_report){
		.version = 3,
		.guest_svn = 7,
		.policy = SNP_POLICY_SMT | SNP_POLICY_RSVD_MBO,
		.vmpl = 0,
		.signature_algo = 1,
		.platform_info = SNP_PLATFORM_SMT_EN,
		.reported_tcb = 0x5400000000000003ull | (8ull << 48),
		.committed_tcb = 0x5400000000000003ull | (8ull << 48),
		.current_major = 1, .current_minor = 55, .current_build = 40,
	};
	memset(r->measurement, 0xaa, sizeof(r->measurement));
	memset(r->host_data, 0xbb, sizeof(r->host_data));
	memset(r->report_id_ma, 0xff, sizeof(r->report_id_ma));
}

static char *read_text(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (!f)
		return NULL;
	buf = calloc(1, POLICY_MAX_SIZE + 2);
	n = buf ? fread(buf, 1, POLICY_MAX_SIZE + 1, f) : 0;
	fclose(f);
	*ret_len = n;
	return buf;
}

TEST(policy_parse_empty_object_is_default)
{
	_cleanup_(snp_policy_freep) struct snp_policy *p = NULL, *d = NULL;
	struct snp_policy_result res;
	struct snp_report rep;
	uint8_t dp[32], dd[32];

	ASSERT_EQ(parse("{}", &p), 0);
	ASSERT_EQ(snp_policy_new_default(&d), 0);
	snp_policy_digest(p, dp);
	snp_policy_digest(d, dd);
	ASSERT_MEMEQ(dp, dd, 32);

	synthetic_report(&rep);
	ASSERT_EQ(snp_policy_eval(p, &rep, SNP_PRODUCT_MILAN, &res), 0);
	ASSERT_EQ(res.n, 0);
	/* Defaults: debug and migration agent refused; SMT, VLEK, multi-socket allowed. */
	rep.policy |= SNP_POLICY_DEBUG | SNP_POLICY_MIGRATE_MA;
	rep.signer_info = SNP_SIGNING_KEY_VLEK << SNP_SIGNER_SIGNING_KEY_SHIFT;
	ASSERT_EQ(snp_policy_eval(p, &rep, SNP_PRODUCT_TURIN, &res), -EKEYREJECTED);
	ASSERT_STREQ(rules(&res), "debug,migration_agent");
}

TEST(policy_parse_full_example)
{
	static const char full[] =
		"{\"version\":1,\"allow_debug\":false,\"allow_migration_agent\":false,"
		"\"allow_smt\":true,\"require_single_socket\":false,\"allow_vlek\":true,"
		"\"products\":[\"milan\",\"Genoa\"],\"min_report_version\":3,"
		"\"min_tcb\":{\"bootloader\":3,\"tee\":0,\"snp\":8,\"microcode\":84,\"fmc\":0},"
		"\"min_committed_tcb\":{\"bootloader\":3,\"snp\":8},\"min_guest_svn\":7,"
		"\"min_abi\":{\"major\":1,\"minor\":55},\"vmpl\":0,"
		"\"measurements\":[\"" M_GENOA "\",\"" Z64 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"],"
		"\"host_data\":[\"" Z32 "00000000000000000000000000000001\"],"
		"\"id_key_digests\":[\"" Z96 "\"],\"author_key_digests\":[\"" Z96 "\"],"
		"\"family_ids\":[\"" Z32 "\"],\"image_ids\":[\"" Z32 "\"],"
		"\"chip_ids\":[\"" Z128 "\"],\"report_data\":\"" Z128 "\"}";
	_cleanup_(snp_policy_freep) struct snp_policy *p = NULL;
	struct snp_policy_result res;
	struct snp_report rep;

	ASSERT_EQ(parse(full, &p), 0);
	synthetic_report(&rep);
	/* Only the values the synthetic report does not carry are reported. */
	ASSERT_EQ(snp_policy_eval(p, &rep, SNP_PRODUCT_GENOA, &res), -EKEYREJECTED);
	ASSERT_STREQ(rules(&res), "measurement,host_data");
	memset(rep.measurement, 0, 32);
	memset(rep.host_data, 0, 31);
	rep.host_data[31] = 1;
	ASSERT_EQ(snp_policy_eval(p, &rep, SNP_PRODUCT_GENOA, &res), 0);
	ASSERT_EQ(snp_policy_eval(p, &rep, SNP_PRODUCT_TURIN, &res), -EKEYREJECTED);
	ASSERT_STREQ(rules(&res), "product,min_tcb.bootloader,min_tcb.snp,"
				  "min_committed_tcb.bootloader,min_committed_tcb.snp");
}

TEST(policy_parse_docs_examples)
{
	_cleanup_(snp_policy_freep) struct snp_policy *def = NULL, *file = NULL, *strict = NULL;
	struct snp_policy_result res;
	struct snp_report rep;
	char err[POLICY_ERR_MAX];
	uint8_t d1[32], d2[32];
	size_t len;
	char *text;
	int r;

	text = read_text("docs/examples/policy-default.json", &len);
	ASSERT_TRUE(text);
	r = snp_policy_parse(text, len, &file, err, sizeof(err));
	free(text);
	ASSERT_EQ(r, 0);
	ASSERT_EQ(snp_policy_new_default(&def), 0);
	snp_policy_digest(def, d1);
	snp_policy_digest(file, d2);
	ASSERT_MEMEQ(d1, d2, 32);

	text = read_text("docs/examples/policy-strict-example.json", &len);
	ASSERT_TRUE(text);
	r = snp_policy_parse(text, len, &strict, err, sizeof(err));
	free(text);
	ASSERT_EQ(r, 0);
	/* The strict example pins genoa-v5-oak exactly and refuses everything else. */
	ASSERT_EQ(load_report("genoa-v5-oak", &rep), 0);
	ASSERT_EQ(snp_policy_eval(strict, &rep, SNP_PRODUCT_GENOA, &res), 0);
	ASSERT_EQ(load_report("genoa-v3-azure-trustee", &rep), 0);
	ASSERT_EQ(snp_policy_eval(strict, &rep, SNP_PRODUCT_GENOA, &res), -EKEYREJECTED);
	ASSERT_STREQ(rules(&res), "min_tcb.snp,min_committed_tcb.snp,measurement");
	ASSERT_EQ(load_report("milan-v3-vlek-aws-constellation", &rep), 0);
	ASSERT_EQ(snp_policy_eval(strict, &rep, SNP_PRODUCT_MILAN, &res), -EKEYREJECTED);
	ASSERT_STREQ(rules(&res), "vlek,product,min_tcb.bootloader,min_tcb.snp,"
				  "min_committed_tcb.bootloader,min_committed_tcb.snp,measurement");
}

static const struct malformed {
	const char *json;
	const char *err; /* expected prefix of the error message */
} malformed[] = {
	{ "", "truncated or malformed JSON at offset 0: unexpected end of input" },
	{ "   ", "truncated or malformed JSON at offset 3: unexpected end of input" },
	{ "{", "truncated or malformed JSON at offset 1: unexpected end of input" },
	{ "{\"vmpl\":", "truncated or malformed JSON at offset 8: unexpected end of input" },
	{ "[]", "policy must be a JSON object" },
	{ "null", "policy must be a JSON object" },
	{ "\"x\"", "policy must be a JSON object" },
	{ "{} x", "truncated or malformed JSON at offset " },
	{ "{}{}", "truncated or malformed JSON at offset " },
	{ "{\"vmpl\":0,}", "truncated or malformed JSON at offset " },
	{ "{\"vmpl\":0 /* c */}", "truncated or malformed JSON at offset " },
	{ "{vmpl:0}", "truncated or malformed JSON at offset " },
	{ "{\"products\":[\"\xff\"]}", "truncated or malformed JSON at offset " },
	{ "\xef\xbb\xbf{}", "policy must be a JSON object" },
	{ "{\"vmpl\":0}\xef\xbb\xbf", "truncated or malformed JSON at offset 10" },
	{ "{\"vmpl\":0,\"x\":\"\xc3\"}", "truncated or malformed JSON at offset " },
	{ "{'vmpl':0}", "single-quoted string" },
	{ "{\"version\":2}", "version: " },
	{ "{\"version\":\"1\"}", "version: " },
	{ "{\"version\":1.0}", "version: " },
	{ "{\"foo\":1}", "foo: unknown member" },
	{ "{\"Allow_debug\":true}", "Allow_debug: unknown member" },
	{ "{\"allow_debug\":1}", "allow_debug: expected true or false" },
	{ "{\"allow_debug\":\"false\"}", "allow_debug: expected true or false" },
	{ "{\"allow_migration_agent\":null}", "allow_migration_agent: " },
	{ "{\"allow_smt\":[]}", "allow_smt: " },
	{ "{\"require_single_socket\":0}", "require_single_socket: " },
	{ "{\"allow_vlek\":{}}", "allow_vlek: " },
	{ "{\"products\":\"milan\"}", "products: " },
	{ "{\"products\":[]}", "products: empty list" },
	{ "{\"products\":[\"milan\",\"venice\"]}", "products[1]: unknown product \"venice\"" },
	{ "{\"products\":[\"milan\",\"MILAN\"]}", "products[1]: duplicate" },
	{ "{\"products\":[\"milan\\u0000\"]}", "products[0]: unknown product" },
	{ "{\"products\":[\"milan-b0\"]}", "products[0]: unknown product" },
	{ "{\"products\":[3]}", "products[0]: expected a string" },
	{ "{\"min_report_version\":1}", "min_report_version: 1 is out of range 2..5" },
	{ "{\"min_report_version\":6}", "min_report_version: 6 is out of range 2..5" },
	{ "{\"min_report_version\":\"3\"}", "min_report_version: expected an integer" },
	{ "{\"min_tcb\":{\"snp\":256}}", "min_tcb.snp: 256 is out of range 0..255" },
	{ "{\"min_tcb\":{\"snp\":-1}}", "min_tcb.snp: -1 is out of range" },
	{ "{\"min_tcb\":{\"tee\":1.0}}", "min_tcb.tee: expected an integer" },
	{ "{\"min_tcb\":{\"bootloader\":1e1}}", "min_tcb.bootloader: expected an integer" },
	{ "{\"min_tcb\":{\"microcode\":NaN}}", "min_tcb.microcode: expected an integer" },
	{ "{\"min_tcb\":{\"fmc\":true}}", "min_tcb.fmc: expected an integer" },
	{ "{\"min_tcb\":{\"spl4\":0}}", "min_tcb.spl4: unknown member" },
	{ "{\"min_tcb\":[8]}", "min_tcb: expected an object" },
	{ "{\"min_tcb\":8}", "min_tcb: expected an object" },
	{ "{\"min_committed_tcb\":{\"snp\":\"8\"}}", "min_committed_tcb.snp: expected an integer" },
	{ "{\"min_committed_tcb\":{\"SNP\":8}}", "min_committed_tcb.SNP: unknown member" },
	{ "{\"min_guest_svn\":4294967296}", "min_guest_svn: 4294967296 is out of range" },
	{ "{\"min_guest_svn\":-1}", "min_guest_svn: -1 is out of range" },
	{ "{\"min_guest_svn\":99999999999999999999999}", "min_guest_svn: " },
	{ "{\"min_guest_svn\":-99999999999999999999999}", "min_guest_svn: " },
	{ "{\"min_abi\":\"1.51\"}", "min_abi: expected an object" },
	{ "{\"min_abi\":{\"major\":256}}", "min_abi.major: 256 is out of range" },
	{ "{\"min_abi\":{\"minor\":-1}}", "min_abi.minor: -1 is out of range" },
	{ "{\"min_abi\":{\"major\":1,\"build\":2}}", "min_abi.build: unknown member" },
	{ "{\"vmpl\":4}", "vmpl: 4 is out of range 0..3" },
	{ "{\"vmpl\":-1}", "vmpl: -1 is out of range 0..3" },
	{ "{\"vmpl\":false}", "vmpl: expected an integer" },
	{ "{\"vmpl\":Infinity}", "vmpl: expected an integer" },
	{ "{\"measurements\":\"" M_GENOA "\"}", "measurements: expected a list" },
	{ "{\"measurements\":[]}", "measurements: empty list" },
	{ "{\"measurements\":[\"" M_GENOA "\",\"" M_TURIN "\",\"" Z64 "\"]}",
	  "measurements[2]: expected 96 hex digits, got 64" },
	{ "{\"measurements\":[\"" M_GENOA "0\"]}",
	  "measurements[0]: expected 96 hex digits, got 97" },
	{ "{\"measurements\":[\"" Z64 Z32 "g\"]}",
	  "measurements[0]: expected 96 hex digits, got 97" },
	{ "{\"measurements\":[\"" Z64 "000000000000000000000000000000g0\"]}",
	  "measurements[0]: non-hex character at position 94" },
	{ "{\"measurements\":[\" " Z64 "0000000000000000000000000000000\"]}",
	  "measurements[0]: non-hex character at position 0" },
	{ "{\"measurements\":[\"0x" Z64 "000000000000000000000000000000\"]}",
	  "measurements[0]: non-hex character at position 1" },
	{ "{\"measurements\":[\"" Z64 "\\u0030000000000000000000000000000\"]}",
	  "measurements[0]: expected 96 hex digits" },
	{ "{\"measurements\":[null]}", "measurements[0]: expected a string" },
	{ "{\"measurements\":[[\"" M_GENOA "\"]]}", "measurements[0]: expected a string" },
	{ "{\"measurements\":[\"" M_MILAN "\",\"" M_GENOA "\",\"" M_MILAN "\"]}",
	  "measurements[2]: duplicate of measurements[0]" },
	{ "{\"measurements\":[\"" Z96 "\",\"" Z64 "0000000000000000000000000000000A\",\"" Z64
	  "0000000000000000000000000000000a\"]}", "measurements[2]: duplicate of measurements[1]" },
	{ "{\"host_data\":[\"" Z32 "0000000000000000000000000000000\"]}",
	  "host_data[0]: expected 64 hex digits, got 63" },
	{ "{\"host_data\":[\"" Z96 "\"]}", "host_data[0]: expected 64 hex digits, got 96" },
	{ "{\"id_key_digests\":[\"" Z64 "\"]}", "id_key_digests[0]: expected 96 hex digits" },
	{ "{\"author_key_digests\":[\"" Z128 "\"]}", "author_key_digests[0]: expected 96 hex" },
	{ "{\"family_ids\":[\"" Z32 "0\"]}", "family_ids[0]: expected 32 hex digits, got 33" },
	{ "{\"image_ids\":[\"" Z32 "\",\"" Z32 "\"]}", "image_ids[1]: duplicate of image_ids[0]" },
	{ "{\"image_ids\":{}}", "image_ids: expected a list" },
	{ "{\"chip_ids\":[\"0000000000000000\"]}", "chip_ids[0]: expected 128 hex digits, got 16" },
	{ "{\"report_data\":[\"" Z128 "\"]}", "report_data: expected a string of 128 hex digits" },
	{ "{\"report_data\":\"" Z64 "\"}", "report_data: expected 128 hex digits, got 64" },
	{ "{\"allow_debug\":false,\"allow_debug\":true}", "allow_debug: duplicate member" },
	{ "{\"allow_debug\":true,\"vmpl\":0,\"allow_debug\":false}",
	  "allow_debug: duplicate member" },
	{ "{\"allow_debug\":false,\"allow\\u005fdebug\":true}",
	  "allow\\u005fdebug: duplicate member" },
	{ "{\"min_tcb\":{\"snp\":9,\"snp\":1}}", "min_tcb.snp: duplicate member" },
	{ "{\"min_abi\":{\"major\":1,\"major\":1}}", "min_abi.major: duplicate member" },
	{ "{\"allow_debug\\u0000x\":true}", "member name with \\u0000" },
	{ "{\"vmpl\":0,'vmpl':1}", "single-quoted string" },
	{ "{\"allow_debug\":false,\"allow_debug\":false}", "allow_debug: duplicate member" },
};

TEST(policy_parse_malformed)
{
	for (size_t i = 0; i < ELEMENTSOF(malformed); i++) {
		struct snp_policy *p = NULL;
		char err[POLICY_ERR_MAX] = "unset";
		const char *j = malformed[i].json;
		int r = snp_policy_parse(j, strlen(j), &p, err, sizeof(err));

		if (r != -EBADMSG || p ||
		    strncmp(err, malformed[i].err, strlen(malformed[i].err)) != 0) {
			snp_policy_free(p);
			test_fail(__FILE__, __LINE__,
				  "case %zu %s: r=%d err=\"%s\", expected \"%s\"", i, j, r, err,
				  malformed[i].err);
			return;
		}
	}
}

TEST(policy_parse_err_buffer_optional)
{
	struct snp_policy *p = NULL;
	char small[8];

	/* No err buffer, and a tiny one: the reason is truncated, never overrun. */
	ASSERT_EQ(snp_policy_parse("{\"vmpl\":9}", 10, &p, NULL, 0), -EBADMSG);
	ASSERT_EQ(snp_policy_parse("{\"vmpl\":9}", 10, &p, small, sizeof(small)), -EBADMSG);
	ASSERT_STREQ(small, "vmpl: 9");
	ASSERT_TRUE(p == NULL);
	ASSERT_EQ(snp_policy_parse("{}", 2, NULL, NULL, 0), -EINVAL);
}

TEST(policy_parse_nul_and_whitespace)
{
	_cleanup_(snp_policy_freep) struct snp_policy *p = NULL;
	struct snp_policy *q = NULL;
	char err[POLICY_ERR_MAX];
	static const char with_nul[] = "{\"vmpl\":0}\0";
	static const char inner_nul[] = "{\"vmpl\"\0:0}";

	ASSERT_EQ(snp_policy_parse(with_nul, sizeof(with_nul) - 1, &q, err, sizeof(err)),
		  -EBADMSG);
	ASSERT_STREQ(err, "NUL byte at offset 10");
	ASSERT_EQ(snp_policy_parse(inner_nul, sizeof(inner_nul) - 1, &q, err, sizeof(err)),
		  -EBADMSG);
	ASSERT_STREQ(err, "NUL byte at offset 7");
	ASSERT_TRUE(q == NULL);
	/* Only JSON whitespace may surround the object; a form feed may not. */
	ASSERT_EQ(parse(" \r\n\t{ \"vmpl\" :\n0 }\n\n", &p), 0);
	ASSERT_EQ(snp_policy_parse("{}\f", 3, &q, err, sizeof(err)), -EBADMSG);
	/* A raw control character inside a string is not JSON, even where json-c allows it. */
	ASSERT_EQ(snp_policy_parse("{\"allow_debug\t\":true}", 21, &q, err, sizeof(err)),
		  -EBADMSG);
	ASSERT_TRUE(q == NULL);
}

TEST(policy_parse_size_limits)
{
	_cleanup_free_ char *big = malloc(POLICY_MAX_SIZE + 1);
	_cleanup_(snp_policy_freep) struct snp_policy *p = NULL;
	struct snp_policy *q = NULL;
	char err[POLICY_ERR_MAX];

	ASSERT_TRUE(big);
	memset(big, ' ', POLICY_MAX_SIZE + 1);
	memcpy(big, "{}", 2);
	/* Exactly the limit parses; one byte more is refused before parsing. */
	ASSERT_EQ(snp_policy_parse(big, POLICY_MAX_SIZE, &p, err, sizeof(err)), 0);
	ASSERT_EQ(snp_policy_parse(big, POLICY_MAX_SIZE + 1, &q, err, sizeof(err)), -EMSGSIZE);
	ASSERT_TRUE(strstr(err, "65537") != NULL);
	ASSERT_TRUE(q == NULL);
}

/* A list member with n distinct entries of size bytes (entry i = i as big-endian hex). */
static char *make_list(const char *member, size_t n, size_t size)
{
	size_t cap = 64 + n * (2 * size + 3);
	char *s = malloc(cap), *q = s;

	if (!s)
		return NULL;
	q += sprintf(q, "{\"%s\":[", member);
	for (size_t i = 0; i < n; i++) {
		*q++ = '"';
		for (size_t k = 0; k < 2 * size - 4; k++)
			*q++ = '0';
		q += sprintf(q, "%04zx\"%s", i, i + 1 < n ? "," : "");
	}
	strcpy(q, "]}");
	return s;
}

TEST(policy_parse_list_limits)
{
	_cleanup_(snp_policy_freep) struct snp_policy *p = NULL;
	struct snp_policy *q = NULL;
	_cleanup_free_ char *ok = make_list("measurements", POLICY_MAX_LIST, 48);
	_cleanup_free_ char *over = make_list("chip_ids", POLICY_MAX_LIST + 1, 64);
	char err[POLICY_ERR_MAX];
	struct snp_policy_result res;
	struct snp_report rep;

	ASSERT_TRUE(ok && over);
	ASSERT_EQ(parse(ok, &p), 0);
	ASSERT_EQ(snp_policy_parse(over, strlen(over), &q, err, sizeof(err)), -EBADMSG);
	ASSERT_STREQ(err, "chip_ids: 257 entries, more than the limit of 256");
	/* The last entry of a full list still matches. */
	synthetic_report(&rep);
	memset(rep.measurement, 0, sizeof(rep.measurement));
	rep.measurement[46] = 0x00;
	rep.measurement[47] = 0xff;
	ASSERT_EQ(snp_policy_eval(p, &rep, SNP_PRODUCT_MILAN, &res), 0);
	rep.measurement[46] = 0x01;
	rep.measurement[47] = 0x00;
	ASSERT_EQ(snp_policy_eval(p, &rep, SNP_PRODUCT_MILAN, &res), -EKEYREJECTED);
	ASSERT_STREQ(rules(&res), "measurement");
}

TEST(policy_digest_canonical)
{
	static const char a[] =
		"{\"version\":1,\"allow_debug\":false,\"products\":[\"genoa\",\"milan\"],"
		"\"min_tcb\":{\"snp\":8,\"bootloader\":3},\"vmpl\":0,"
		"\"measurements\":[\"" M_GENOA "\",\"" M_TURIN "\"]}";
	/* Same policy: other member and list order, whitespace, hex and product case, version
	 * omitted, defaults spelled out. */
	static const char b[] =
		"\n{ \"measurements\" : [ \"F924DD18F168DF60FBEA937F0B086284D51B1B376DE872"
		"BAC43694F61134D57967C318018DE7335503023DBB50DEE624\",\n  \"" M_GENOA "\" ],\n"
		"  \"vmpl\": 0, \"allow_smt\": true, \"allow_vlek\": true,\n"
		"  \"allow_debug\": false,\n"
		"  \"min_tcb\": {\"tee\": 0, \"bootloader\": 3, \"snp\": 8, \"fmc\": 0},\n"
		"  \"products\": [\"MILAN\", \"Genoa\"], \"min_report_version\": 2,\n"
		"  \"min_guest_svn\": 0, \"min_abi\": {\"minor\": 0}, \"min_committed_tcb\": {},\n"
		"  \"require_single_socket\": false, \"allow_migration_agent\": false }\n";
	uint8_t da[32], db[32], zero[32] = {};

	digest_of(a, da);
	digest_of(b, db);
	ASSERT_MEMNE(da, zero, 32);
	ASSERT_MEMEQ(da, db, 32);
}

TEST(policy_digest_semantic_changes)
{
#define BASE_MEMBERS                                                                               \
	"\"products\":[\"genoa\",\"milan\"],\"min_tcb\":{\"snp\":8},\"vmpl\":0,"                   \
	"\"measurements\":[\"" M_GENOA "\",\"" M_TURIN "\"]"
	static const char *const variants[] = {
		"{" BASE_MEMBERS "}",
		"{" BASE_MEMBERS ",\"allow_debug\":true}",
		"{" BASE_MEMBERS ",\"allow_migration_agent\":true}",
		"{" BASE_MEMBERS ",\"allow_smt\":false}",
		"{" BASE_MEMBERS ",\"require_single_socket\":true}",
		"{" BASE_MEMBERS ",\"allow_vlek\":false}",
		"{" BASE_MEMBERS ",\"min_report_version\":3}",
		"{" BASE_MEMBERS ",\"min_committed_tcb\":{\"snp\":8}}",
		"{" BASE_MEMBERS ",\"min_guest_svn\":1}",
		"{" BASE_MEMBERS ",\"min_guest_svn\":4294967295}",
		"{" BASE_MEMBERS ",\"min_abi\":{\"major\":1}}",
		"{" BASE_MEMBERS ",\"min_abi\":{\"minor\":1}}",
		"{" BASE_MEMBERS ",\"host_data\":[\"" Z64 "\"]}",
		"{" BASE_MEMBERS ",\"id_key_digests\":[\"" M_GENOA "\"]}",
		"{" BASE_MEMBERS ",\"author_key_digests\":[\"" M_GENOA "\"]}",
		"{" BASE_MEMBERS ",\"family_ids\":[\"" Z32 "\"]}",
		"{" BASE_MEMBERS ",\"image_ids\":[\"" Z32 "\"]}",
		"{" BASE_MEMBERS ",\"chip_ids\":[\"" Z128 "\"]}",
		"{" BASE_MEMBERS ",\"report_data\":\"" Z128 "\"}",
		"{\"products\":[\"genoa\"],\"min_tcb\":{\"snp\":8},\"vmpl\":0,"
		"\"measurements\":[\"" M_GENOA "\",\"" M_TURIN "\"]}",
		"{\"products\":[\"genoa\",\"milan\",\"turin\"],\"min_tcb\":{\"snp\":8},\"vmpl\":0,"
		"\"measurements\":[\"" M_GENOA "\",\"" M_TURIN "\"]}",
		"{\"min_tcb\":{\"snp\":8},\"vmpl\":0,"
		"\"measurements\":[\"" M_GENOA "\",\"" M_TURIN "\"]}",
		"{\"products\":[\"genoa\",\"milan\"],\"min_tcb\":{\"snp\":9},\"vmpl\":0,"
		"\"measurements\":[\"" M_GENOA "\",\"" M_TURIN "\"]}",
		"{\"products\":[\"genoa\",\"milan\"],\"min_tcb\":{\"tee\":8},\"vmpl\":0,"
		"\"measurements\":[\"" M_GENOA "\",\"" M_TURIN "\"]}",
		"{\"products\":[\"genoa\",\"milan\"],\"min_tcb\":{\"snp\":8,\"fmc\":1},\"vmpl\":0,"
		"\"measurements\":[\"" M_GENOA "\",\"" M_TURIN "\"]}",
		"{\"products\":[\"genoa\",\"milan\"],\"min_tcb\":{\"snp\":8,\"microcode\":1},"
		"\"vmpl\":0,"
		"\"measurements\":[\"" M_GENOA "\",\"" M_TURIN "\"]}",
		"{\"products\":[\"genoa\",\"milan\"],\"min_tcb\":{\"snp\":8,\"bootloader\":1},"
		"\"vmpl\":0,"
		"\"measurements\":[\"" M_GENOA "\",\"" M_TURIN "\"]}",
		"{\"products\":[\"genoa\",\"milan\"],\"min_committed_tcb\":{\"snp\":8},\"vmpl\":0,"
		"\"measurements\":[\"" M_GENOA "\",\"" M_TURIN "\"]}",
		"{\"products\":[\"genoa\",\"milan\"],\"min_tcb\":{\"snp\":8},\"vmpl\":1,"
		"\"measurements\":[\"" M_GENOA "\",\"" M_TURIN "\"]}",
		"{\"products\":[\"genoa\",\"milan\"],\"min_tcb\":{\"snp\":8},"
		"\"measurements\":[\"" M_GENOA "\",\"" M_TURIN "\"]}",
		"{\"products\":[\"genoa\",\"milan\"],\"min_tcb\":{\"snp\":8},\"vmpl\":0,"
		"\"measurements\":[\"" M_GENOA "\"]}",
		"{\"products\":[\"genoa\",\"milan\"],\"min_tcb\":{\"snp\":8},\"vmpl\":0,"
		"\"measurements\":[\"" M_GENOA "\",\"" M_TURIN "\",\"" M_MILAN "\"]}",
		/* One bit of one entry flipped (the last digit 4 -> 5). */
		"{\"products\":[\"genoa\",\"milan\"],\"min_tcb\":{\"snp\":8},\"vmpl\":0,"
		"\"measurements\":[\"" M_GENOA "\",\"f924dd18f168df60fbea937f0b086284d51b1b37"
		"6de872bac43694f61134d57967c318018de7335503023dbb50dee625\"]}",
		/* The same 48 bytes moved from measurements to id_key_digests. */
		"{\"products\":[\"genoa\",\"milan\"],\"min_tcb\":{\"snp\":8},\"vmpl\":0,"
		"\"measurements\":[\"" M_GENOA "\"],\"id_key_digests\":[\"" M_TURIN "\"]}",
		"{\"family_ids\":[\"" Z32 "\"]}",
		"{\"image_ids\":[\"" Z32 "\"]}",
		"{}",
	};
	uint8_t d[ELEMENTSOF(variants)][32];

	for (size_t i = 0; i < ELEMENTSOF(variants); i++) {
		_cleanup_(snp_policy_freep) struct snp_policy *p = NULL;

		ASSERT_EQ(parse(variants[i], &p), 0);
		snp_policy_digest(p, d[i]);
		for (size_t j = 0; j < i; j++)
			if (memcmp(d[i], d[j], 32) == 0) {
				test_fail(__FILE__, __LINE__, "variants %zu and %zu share a digest",
					  j, i);
				return;
			}
	}
#undef BASE_MEMBERS
}

static const struct genuine {
	const char *dir;
	enum snp_product product;
} genuine[] = {
	{ "genoa-v3-azure-trustee", SNP_PRODUCT_GENOA },
	{ "genoa-v3-siena-trustee", SNP_PRODUCT_GENOA },
	{ "genoa-v5-oak", SNP_PRODUCT_GENOA },
	{ "milan-v2-azure-constellation", SNP_PRODUCT_MILAN },
	{ "milan-v2-azure-hcl-trustee", SNP_PRODUCT_MILAN },
	{ "milan-v2-debug-gsg", SNP_PRODUCT_MILAN },
	{ "milan-v2-trustee", SNP_PRODUCT_MILAN },
	{ "milan-v2-virtee", SNP_PRODUCT_MILAN },
	{ "milan-v2-vlek-aws-constellation", SNP_PRODUCT_MILAN },
	{ "milan-v3-azure-trustee", SNP_PRODUCT_MILAN },
	{ "milan-v3-oak", SNP_PRODUCT_MILAN },
	{ "milan-v3-vlek-aws-constellation", SNP_PRODUCT_MILAN },
	{ "turin-v5-oak", SNP_PRODUCT_TURIN },
};

TEST(policy_eval_default_on_vectors)
{
	_cleanup_(snp_policy_freep) struct snp_policy *p = NULL;
	struct snp_policy_result res;

	ASSERT_EQ(snp_policy_new_default(&p), 0);
	for (size_t i = 0; i < ELEMENTSOF(genuine); i++) {
		bool debug = strcmp(genuine[i].dir, "milan-v2-debug-gsg") == 0;
		struct snp_report rep;
		int r;

		ASSERT_EQ(load_report(genuine[i].dir, &rep), 0);
		if (rep.has_cpuid)
			ASSERT_EQ(snp_report_product_from_cpuid(&rep), (int)genuine[i].product);
		r = snp_policy_eval(p, &rep, genuine[i].product, &res);
		if (r != (debug ? -EKEYREJECTED : 0) ||
		    strcmp(rules(&res), debug ? "debug" : "") != 0) {
			test_fail(__FILE__, __LINE__, "%s: r=%d rules \"%s\"", genuine[i].dir, r,
				  rules(&res));
			return;
		}
	}
	/* Allowing debug is the only thing that makes the debug vector pass. */
	ASSERT_STREQ(eval_json("{\"allow_debug\":true}", "milan-v2-debug-gsg", SNP_PRODUCT_MILAN,
			       &res), "");
	ASSERT_STREQ(eval_json("{}", "milan-v2-debug-gsg", SNP_PRODUCT_MILAN, &res), "debug");
	ASSERT_STREQ(res.v[0].detail, "POLICY.DEBUG=1 (guest memory readable by the host)");
}

struct tcb_case {
	const char *name;
	unsigned real;
};

/* For each component: min = real passes, min = real + 1 fails naming exactly that component. */
static bool check_min_tcb(const char *dir, enum snp_product prod, const char *member,
			  const char *field, const struct tcb_case *c, size_t n)
{
	struct snp_policy_result res;
	char json[256], want[64], detail[64];

	for (size_t i = 0; i < n; i++) {
		const char *got;

		snprintf(json, sizeof(json), "{\"%s\":{\"%s\":%u}}", member, c[i].name, c[i].real);
		got = eval_json(json, dir, prod, &res);
		if (strcmp(got, "") != 0) {
			test_fail(__FILE__, __LINE__, "%s %s: got \"%s\"", dir, json, got);
			return false;
		}
		snprintf(json, sizeof(json), "{\"%s\":{\"%s\":%u}}", member, c[i].name,
			 c[i].real + 1);
		snprintf(want, sizeof(want), "%s.%s", member, c[i].name);
		snprintf(detail, sizeof(detail), "%s %s=%u < %u", field, c[i].name, c[i].real,
			 c[i].real + 1);
		got = eval_json(json, dir, prod, &res);
		if (strcmp(got, want) != 0 || strcmp(res.v[0].detail, detail) != 0) {
			test_fail(__FILE__, __LINE__, "%s %s: got \"%s\" (%s)", dir, json, got,
				  res.n ? res.v[0].detail : "");
			return false;
		}
	}
	return true;
}

TEST(policy_eval_min_tcb_genoa)
{
	static const struct tcb_case c[] = {
		{ "bootloader", 10 }, { "tee", 0 }, { "snp", 25 }, { "microcode", 84 },
	};
	struct snp_policy_result res;

	ASSERT_TRUE(check_min_tcb("genoa-v5-oak", SNP_PRODUCT_GENOA, "min_tcb", "REPORTED_TCB", c,
				  ELEMENTSOF(c)));
	ASSERT_TRUE(check_min_tcb("genoa-v5-oak", SNP_PRODUCT_GENOA, "min_committed_tcb",
				  "COMMITTED_TCB", c, ELEMENTSOF(c)));
	/* All at once, exactly the real TCB: passes. FMC does not exist on Genoa: ignored. */
	ASSERT_STREQ(eval_json("{\"min_tcb\":{\"bootloader\":10,\"tee\":0,\"snp\":25,"
			       "\"microcode\":84,\"fmc\":255}}", "genoa-v5-oak", SNP_PRODUCT_GENOA,
			       &res), "");
	ASSERT_STREQ(eval_json("{\"min_tcb\":{\"bootloader\":11,\"tee\":1,\"snp\":26,"
			       "\"microcode\":85}}", "genoa-v5-oak", SNP_PRODUCT_GENOA, &res),
		     "min_tcb.bootloader,min_tcb.tee,min_tcb.snp,min_tcb.microcode");
}

TEST(policy_eval_min_tcb_turin)
{
	static const struct tcb_case c[] = {
		{ "fmc", 0 }, { "bootloader", 1 }, { "tee", 0 }, { "snp", 2 }, { "microcode", 71 },
	};
	struct snp_policy_result res;

	ASSERT_TRUE(check_min_tcb("turin-v5-oak", SNP_PRODUCT_TURIN, "min_tcb", "REPORTED_TCB", c,
				  ELEMENTSOF(c)));
	ASSERT_TRUE(check_min_tcb("turin-v5-oak", SNP_PRODUCT_TURIN, "min_committed_tcb",
				  "COMMITTED_TCB", c, ELEMENTSOF(c)));
	/* Decoded with the legacy layout the same bytes would give bl=0 snp=0: the Turin
	 * layout is what makes these pass. */
	ASSERT_STREQ(eval_json("{\"min_tcb\":{\"bootloader\":1,\"snp\":2,\"microcode\":71}}",
			       "turin-v5-oak", SNP_PRODUCT_TURIN, &res), "");
	ASSERT_STREQ(eval_json("{\"min_tcb\":{\"bootloader\":1,\"snp\":2}}", "turin-v5-oak",
			       SNP_PRODUCT_MILAN, &res), "min_tcb.bootloader,min_tcb.snp");
}

TEST(policy_eval_reported_vs_committed)
{
	struct snp_policy_result res;

	/* milan-v2-vlek-aws-constellation: REPORTED_TCB microcode 0x73, COMMITTED 0xa9. */
	ASSERT_STREQ(eval_json("{\"min_committed_tcb\":{\"microcode\":169}}",
			       "milan-v2-vlek-aws-constellation", SNP_PRODUCT_MILAN, &res), "");
	ASSERT_STREQ(eval_json("{\"min_tcb\":{\"microcode\":169}}",
			       "milan-v2-vlek-aws-constellation", SNP_PRODUCT_MILAN, &res),
		     "min_tcb.microcode");
	ASSERT_STREQ(res.v[0].detail, "REPORTED_TCB microcode=115 < 169");
}

TEST(policy_eval_measurements)
{
	struct snp_policy_result res;

	ASSERT_STREQ(eval_json("{\"measurements\":[\"" M_GENOA "\"]}", "genoa-v5-oak",
			       SNP_PRODUCT_GENOA, &res), "");
	ASSERT_STREQ(eval_json("{\"measurements\":[\"" M_MILAN "\",\"" M_TURIN "\",\"" M_GENOA
			       "\"]}", "genoa-v5-oak", SNP_PRODUCT_GENOA, &res), "");
	ASSERT_STREQ(eval_json("{\"measurements\":[\"" M_MILAN "\",\"" M_TURIN "\"]}",
			       "genoa-v5-oak", SNP_PRODUCT_GENOA, &res), "measurement");
	ASSERT_STREQ(res.v[0].detail, "MEASUREMENT " M_GENOA " not allowed");
	/* A staged rollover lists the old and the new image; either one passes. */
	ASSERT_STREQ(eval_json("{\"measurements\":[\"" M_MILAN "\",\"" M_TURIN "\"]}",
			       "turin-v5-oak", SNP_PRODUCT_TURIN, &res), "");
	ASSERT_STREQ(eval_json("{\"measurements\":[\"" M_MILAN "\",\"" M_TURIN "\"]}",
			       "milan-v3-oak", SNP_PRODUCT_MILAN, &res), "");
	/* One flipped bit of the real value is not the real value. */
	ASSERT_STREQ(eval_json("{\"measurements\":[\"d57729018b0a6fb90dc17bb138b0aa35e44010042"
			       "83ff4a2c24d3739ff3750f52384370e77b7032862a08c440a9bc4dc\"]}",
			       "genoa-v5-oak", SNP_PRODUCT_GENOA, &res), "measurement");
}

TEST(policy_eval_vlek)
{
	struct snp_policy_result res;

	ASSERT_STREQ(eval_json("{\"allow_vlek\":false}", "milan-v3-vlek-aws-constellation",
			       SNP_PRODUCT_MILAN, &res), "vlek");
	ASSERT_STREQ(eval_json("{\"allow_vlek\":false}", "milan-v2-vlek-aws-constellation",
			       SNP_PRODUCT_MILAN, &res), "vlek");
	ASSERT_STREQ(eval_json("{\"allow_vlek\":false}", "milan-v3-oak", SNP_PRODUCT_MILAN, &res),
		     "");
	ASSERT_STREQ(eval_json("{\"allow_vlek\":true}", "milan-v3-vlek-aws-constellation",
			       SNP_PRODUCT_MILAN, &res), "");
}

TEST(policy_eval_vector_values)
{
	struct snp_policy_result res;

	/* genoa-v3-azure-trustee: SMT disabled, GUEST_SVN 65547, firmware 1.55.40, ABI minor
	 * 0x1f in POLICY; milan-v2-trustee: ID block present. */
	ASSERT_STREQ(eval_json("{\"allow_smt\":false,\"min_guest_svn\":65547,\"vmpl\":0,"
			       "\"min_abi\":{\"major\":1,\"minor\":55},\"min_report_version\":3}",
			       "genoa-v3-azure-trustee", SNP_PRODUCT_GENOA, &res), "");
	ASSERT_STREQ(eval_json("{\"allow_smt\":false,\"min_guest_svn\":65548,\"vmpl\":1,"
			       "\"min_abi\":{\"major\":1,\"minor\":56},\"min_report_version\":4}",
			       "genoa-v3-azure-trustee", SNP_PRODUCT_GENOA, &res),
		     "report_version,guest_svn,abi_version,vmpl");
	ASSERT_STREQ(res.v[0].detail, "report version 3 < 4");
	ASSERT_STREQ(res.v[1].detail, "GUEST_SVN 65547 < 65548");
	ASSERT_STREQ(res.v[2].detail, "firmware 1.55 (build 40) < 1.56");
	ASSERT_STREQ(res.v[3].detail, "VMPL 0 != 1");
	ASSERT_STREQ(eval_json("{\"allow_smt\":false}", "genoa-v5-oak", SNP_PRODUCT_GENOA, &res),
		     "smt");
	ASSERT_STREQ(eval_json("{\"require_single_socket\":true}", "genoa-v5-oak",
			       SNP_PRODUCT_GENOA, &res), "single_socket");
	ASSERT_STREQ(eval_json("{\"id_key_digests\":[\"" IDKEY_TRUSTEE "\"],"
			       "\"family_ids\":[\"" FAMILY_01 "\"],"
			       "\"image_ids\":[\"" IMAGE_02 "\"],"
			       "\"author_key_digests\":[\"" Z96 "\"],\"host_data\":[\"" Z64 "\"]}",
			       "milan-v2-trustee", SNP_PRODUCT_MILAN, &res), "");
	ASSERT_STREQ(eval_json("{\"id_key_digests\":[\"" IDKEY_TRUSTEE "\"],"
			       "\"family_ids\":[\"" FAMILY_01 "\"],"
			       "\"image_ids\":[\"" IMAGE_02 "\"]}",
			       "milan-v2-virtee", SNP_PRODUCT_MILAN, &res),
		     "id_key_digest,family_id,image_id");
	ASSERT_STREQ(res.v[1].detail, "FAMILY_ID " Z32 " not allowed");
}

TEST(policy_eval_multiple_violations)
{
	struct snp_policy_result res;

	/* The debug vector (Milan FW 1.49, TCB bl=2 tee=0 snp=5 ucode=68) against a policy it
	 * breaks in several independent ways: every rule is reported, in a fixed order. */
	ASSERT_STREQ(eval_json("{\"allow_smt\":false,\"products\":[\"genoa\",\"turin\"],"
			       "\"min_tcb\":{\"snp\":8,\"microcode\":115},\"min_abi\":{\"major\":1,"
			       "\"minor\":51},\"measurements\":[\"" M_MILAN "\"],\"report_data\":\""
			       Z128 "\"}", "milan-v2-debug-gsg", SNP_PRODUCT_MILAN, &res),
		     "debug,smt,product,min_tcb.snp,min_tcb.microcode,abi_version,measurement,"
		     "report_data");
	ASSERT_STREQ(res.v[2].detail, "product milan not allowed");
	ASSERT_STREQ(res.v[3].detail, "REPORTED_TCB snp=5 < 8");
	ASSERT_STREQ(res.v[7].detail, "REPORT_DATA 0102030405" Z32 "0000000000000000000000"
				      Z64 " differs");
}

TEST(policy_eval_synthetic_rules)
{
	_cleanup_(snp_policy_freep) struct snp_policy *p = NULL;
	struct snp_policy_result res;
	struct snp_report rep;

	ASSERT_EQ(parse("{\"allow_migration_agent\":false,\"require_single_socket\":true,"
			"\"chip_ids\":[\"" Z128 "\"],\"report_data\":\"" Z128 "\"}", &p), 0);
	synthetic_report(&rep);
	rep.policy |= SNP_POLICY_SINGLE_SOCKET;
	ASSERT_EQ(snp_policy_eval(p, &rep, SNP_PRODUCT_GENOA, &res), 0);
	rep.policy |= SNP_POLICY_MIGRATE_MA;
	rep.chip_id[63] = 1;
	rep.report_data[0] = 1;
	ASSERT_EQ(snp_policy_eval(p, &rep, SNP_PRODUCT_GENOA, &res), -EKEYREJECTED);
	ASSERT_STREQ(rules(&res), "migration_agent,chip_id,report_data");
	ASSERT_STREQ(res.v[1].detail, "CHIP_ID " Z64 Z32 "000000000000000000000000000000"
				      "01 not allowed");
	rep.policy &= ~(SNP_POLICY_SINGLE_SOCKET | SNP_POLICY_MIGRATE_MA);
	ASSERT_EQ(snp_policy_eval(p, &rep, SNP_PRODUCT_GENOA, &res), -EKEYREJECTED);
	ASSERT_STREQ(rules(&res), "single_socket,chip_id,report_data");
	/* Without a product the TCB layout is unknown: refused, whatever the policy says. */
	ASSERT_EQ(snp_policy_eval(p, &rep, _SNP_PRODUCT_INVALID, &res), -EKEYREJECTED);
	ASSERT_STREQ(rules(&res), "single_socket,product,chip_id,report_data");
	ASSERT_EQ(snp_policy_eval(p, &rep, _SNP_PRODUCT_MAX, &res), -EKEYREJECTED);
	ASSERT_STREQ(res.v[1].rule, "product");
	ASSERT_EQ(snp_policy_eval(NULL, &rep, SNP_PRODUCT_GENOA, &res), -EINVAL);
	ASSERT_EQ(snp_policy_eval(p, NULL, SNP_PRODUCT_GENOA, &res), -EINVAL);
}

TEST(policy_eval_every_rule_at_once)
{
	static const char *const all[] = {
		"debug", "migration_agent", "smt", "single_socket", "vlek", "product",
		"report_version", "min_tcb.fmc", "min_tcb.bootloader", "min_tcb.tee", "min_tcb.snp",
		"min_tcb.microcode", "min_committed_tcb.fmc", "min_committed_tcb.bootloader",
		"min_committed_tcb.tee", "min_committed_tcb.snp", "min_committed_tcb.microcode",
		"guest_svn", "abi_version", "vmpl", "measurement", "host_data", "id_key_digest",
		"author_key_digest", "family_id", "image_id", "chip_id", "report_data",
	};
	static const char json[] =
		"{\"allow_smt\":false,\"require_single_socket\":true,\"allow_vlek\":false,"
		"\"products\":[\"milan\"],\"min_report_version\":5,"
		"\"min_tcb\":{\"fmc\":1,\"bootloader\":1,\"tee\":1,\"snp\":1,\"microcode\":1},"
		"\"min_committed_tcb\":{\"fmc\":1,\"bootloader\":1,\"tee\":1,\"snp\":1,"
		"\"microcode\":1},\"min_guest_svn\":1,\"min_abi\":{\"major\":1},\"vmpl\":1,"
		"\"measurements\":[\"" M_GENOA "\"],\"host_data\":[\"" Z32 Z32 "\"],"
		"\"id_key_digests\":[\"" M_GENOA "\"],\"author_key_digests\":[\"" M_GENOA "\"],"
		"\"family_ids\":[\"" FAMILY_01 "\"],\"image_ids\":[\"" IMAGE_02 "\"],"
		"\"chip_ids\":[\"" Z128 "\"],\"report_data\":\"" Z128 "\"}";
	_cleanup_(snp_policy_freep) struct snp_policy *p = NULL;
	struct snp_policy_result res;
	struct snp_report rep = {
		.version = 2,
		.policy = SNP_POLICY_RSVD_MBO | SNP_POLICY_DEBUG | SNP_POLICY_MIGRATE_MA,
		.platform_info = SNP_PLATFORM_SMT_EN,
		.signer_info = SNP_SIGNING_KEY_VLEK << SNP_SIGNER_SIGNING_KEY_SHIFT,
		.vmpl = 2,
	};

	memset(rep.host_data, 1, sizeof(rep.host_data));
	memset(rep.chip_id, 1, sizeof(rep.chip_id));
	memset(rep.report_data, 1, sizeof(rep.report_data));
	ASSERT_EQ(parse(json, &p), 0);
	ASSERT_EQ(snp_policy_eval(p, &rep, SNP_PRODUCT_TURIN, &res), -EKEYREJECTED);
	ASSERT_EQ(res.n, ELEMENTSOF(all));
	ASSERT_LE(res.n, POLICY_MAX_VIOLATIONS);
	for (size_t i = 0; i < res.n; i++) {
		ASSERT_STREQ(res.v[i].rule, all[i]);
		ASSERT_TRUE(res.v[i].detail[0] != 0);
		ASSERT_TRUE(memchr(res.v[i].detail, 0, sizeof(res.v[i].detail)) != NULL);
	}
}

TEST(policy_digest_pinned)
{
	/* The canonical form is part of the sealed-blob format: a policy must digest the same
	 * in every release. Values recomputed independently from docs/policy.md. */
	static const uint8_t def[32] = {
		0x6e, 0x55, 0xcc, 0x8e, 0x20, 0x54, 0x1b, 0x67, 0x11, 0x3b, 0x63, 0x80, 0xc0, 0x4b,
		0xda, 0x90, 0x99, 0x91, 0xf4, 0x4c, 0xa4, 0x19, 0xba, 0x03, 0x92, 0x2e, 0x18, 0x35,
		0x39, 0x27, 0xe9, 0x20,
	};
	static const uint8_t strict[32] = {
		0xfc, 0x93, 0x1d, 0x3b, 0xd8, 0x48, 0x51, 0x93, 0x78, 0x37, 0x59, 0x09, 0x4f, 0xc4,
		0x1f, 0xea, 0xea, 0x35, 0xc3, 0x9c, 0x71, 0x38, 0x9a, 0x6d, 0xbc, 0xea, 0x54, 0x5f,
		0x4a, 0x61, 0xed, 0x62,
	};
	_cleanup_(snp_policy_freep) struct snp_policy *p = NULL;
	uint8_t d[32];

	ASSERT_EQ(snp_policy_new_default(&p), 0);
	snp_policy_digest(p, d);
	ASSERT_MEMEQ(d, def, 32);
	digest_of("{\"allow_vlek\":false,\"products\":[\"genoa\"],\"min_report_version\":3,"
		  "\"min_tcb\":{\"bootloader\":10,\"tee\":0,\"snp\":25,\"microcode\":84},"
		  "\"min_committed_tcb\":{\"bootloader\":10,\"snp\":25,\"microcode\":84},"
		  "\"min_abi\":{\"major\":1,\"minor\":55},\"vmpl\":0,"
		  "\"measurements\":[\"" M_GENOA "\"]}", d);
	ASSERT_MEMEQ(d, strict, 32);
}

TEST(policy_measurement_owner_and_pins)
{
	_cleanup_(snp_policy_freep) struct snp_policy *p = NULL, *q = NULL, *e = NULL;
	struct snp_policy_pins pins;
	uint8_t d0[32], d1[32], d2[32];

	/* The default policy pins nothing: the BYOK tool must not wrap to it. */
	ASSERT_EQ(parse("{}", &e), 0);
	snp_policy_get_pins(e, &pins);
	ASSERT_FALSE(pins.measurement || pins.id_key || pins.author_key || pins.host_data ||
		     pins.chip_id || pins.has_vmpl);
	ASSERT_EQ(pins.measurement_owner, SNP_MEASUREMENT_OWNER_TENANT);

	ASSERT_EQ(parse("{\"measurements\":[\"" M_GENOA "\"],\"vmpl\":2,\"host_data\":[\"" Z64
			"\"]}", &p), 0);
	snp_policy_get_pins(p, &pins);
	ASSERT_TRUE(pins.measurement && pins.host_data && pins.has_vmpl);
	ASSERT_FALSE(pins.id_key || pins.author_key || pins.chip_id);
	ASSERT_EQ(pins.vmpl, 2);

	ASSERT_EQ(parse("{\"measurements\":[\"" M_GENOA "\"],\"measurement_owner\":\"provider\"}",
			&q), 0);
	snp_policy_get_pins(q, &pins);
	ASSERT_EQ(pins.measurement_owner, SNP_MEASUREMENT_OWNER_PROVIDER);

	/* "tenant" is the default and digests alike; "provider" is another policy. */
	digest_of("{\"measurements\":[\"" M_GENOA "\"]}", d0);
	digest_of("{\"measurements\":[\"" M_GENOA "\"],\"measurement_owner\":\"tenant\"}", d1);
	digest_of("{\"measurements\":[\"" M_GENOA "\"],\"measurement_owner\":\"provider\"}", d2);
	ASSERT_MEMEQ(d0, d1, 32);
	ASSERT_MEMNE(d0, d2, 32);

	struct snp_policy *bad = NULL;
	ASSERT_EQ(parse("{\"measurement_owner\":\"cloud\"}", &bad), -EBADMSG);
	ASSERT_EQ(parse("{\"measurement_owner\":1}", &bad), -EBADMSG);
	ASSERT_TRUE(bad == NULL);
}

static void roundtrip(const char *json);

TEST(policy_require_crl_and_provider_sealing)
{
	_cleanup_(snp_policy_freep) struct snp_policy *p = NULL, *d = NULL;
	struct snp_policy_pins pins;
	uint8_t d0[32], d1[32], d2[32], d3[32], d4[32];

	ASSERT_EQ(parse("{}", &d), 0);
	snp_policy_get_pins(d, &pins);
	ASSERT_FALSE(pins.require_crl || pins.refuse_provider_measured_seal);
	ASSERT_EQ(parse("{\"require_crl\":true,\"provider_measured_sealing\":\"refuse\"}", &p), 0);
	snp_policy_get_pins(p, &pins);
	ASSERT_TRUE(pins.require_crl && pins.refuse_provider_measured_seal);

	/* Defaults digest as the policy without the member (sealed blobs keep their digest);
	 * the non-defaults are other policies. */
	digest_of("{}", d0);
	digest_of("{\"require_crl\":false,\"provider_measured_sealing\":\"warn\"}", d1);
	digest_of("{\"require_crl\":true}", d2);
	digest_of("{\"provider_measured_sealing\":\"refuse\"}", d3);
	digest_of("{\"require_crl\":true,\"provider_measured_sealing\":\"refuse\"}", d4);
	ASSERT_MEMEQ(d0, d1, 32);
	ASSERT_MEMNE(d0, d2, 32);
	ASSERT_MEMNE(d0, d3, 32);
	ASSERT_MEMNE(d2, d3, 32);
	ASSERT_MEMNE(d2, d4, 32);
	roundtrip("{\"require_crl\":true,\"provider_measured_sealing\":\"refuse\"}");

	struct snp_policy *bad = NULL;
	ASSERT_EQ(parse("{\"require_crl\":1}", &bad), -EBADMSG);
	ASSERT_EQ(parse("{\"provider_measured_sealing\":\"maybe\"}", &bad), -EBADMSG);
	ASSERT_EQ(parse("{\"provider_measured_sealing\":true}", &bad), -EBADMSG);
	ASSERT_TRUE(bad == NULL);
}

/* The effective policy printed by `vhsmctl policy check` parses back to the same policy. */
static void roundtrip(const char *json)
{
	_cleanup_(snp_policy_freep) struct snp_policy *p = NULL, *q = NULL;
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	uint8_t dp[32], dq[32];
	const char *s;

	ASSERT_EQ(parse(json, &p), 0);
	ASSERT_EQ(snp_policy_to_json(p, &o), 0);
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	ASSERT_EQ(parse(s, &q), 0);
	snp_policy_digest(p, dp);
	snp_policy_digest(q, dq);
	ASSERT_MEMEQ(dp, dq, 32);
}

#define AK_11 "1111111111111111111111111111111111111111111111111111111111111111"
#define AK_22 "2222222222222222222222222222222222222222222222222222222222222222"

TEST(policy_vtpm_ak_digests)
{
	_cleanup_(snp_policy_freep) struct snp_policy *p = NULL, *d = NULL;
	struct snp_policy_pins pins;
	uint8_t ak[32], d0[32], d1[32], d2[32], d3[32];
	/* {"vtpm_ak_digests": [AK_22, AK_11]}, recomputed independently from docs/policy.md */
	static const uint8_t pinned[32] = {
		0xb5, 0xe7, 0x64, 0xbc, 0x1a, 0xa8, 0x4b, 0xa7, 0x3c, 0xf0, 0xc4, 0xdc, 0xc3, 0x19,
		0xb3, 0xd4, 0x7f, 0xd0, 0x04, 0x45, 0xee, 0x3b, 0xc6, 0x6a, 0x49, 0x6e, 0x8b, 0xeb,
		0xb2, 0x48, 0x35, 0x04,
	};

	ASSERT_EQ(parse("{}", &d), 0);
	snp_policy_get_pins(d, &pins);
	ASSERT_FALSE(pins.vtpm_ak);
	memset(ak, 0x11, sizeof(ak));
	ASSERT_FALSE(snp_policy_allows_vtpm_ak(d, ak));
	ASSERT_EQ(parse("{\"vtpm_ak_digests\":[\"" AK_22 "\",\"" AK_11 "\"]}", &p), 0);
	snp_policy_get_pins(p, &pins);
	ASSERT_TRUE(pins.vtpm_ak);
	ASSERT_FALSE(pins.measurement || pins.id_key || pins.author_key || pins.chip_id);
	ASSERT_TRUE(snp_policy_allows_vtpm_ak(p, ak));
	memset(ak, 0x22, sizeof(ak));
	ASSERT_TRUE(snp_policy_allows_vtpm_ak(p, ak));
	ak[31] ^= 0x01;
	ASSERT_FALSE(snp_policy_allows_vtpm_ak(p, ak));

	/* No report rule: any report passes what the member alone asks. */
	size_t len = 0;
	_cleanup_free_ uint8_t *buf = test_read_file(test_vector("milan-v2-trustee/report.bin"),
						     &len);
	struct snp_report r;
	struct snp_policy_result res;
	ASSERT_EQ(snp_report_parse(buf, len, &r), 0);
	ASSERT_EQ(snp_policy_eval(p, &r, SNP_PRODUCT_MILAN, &res), 0);

	/* In the digest, order-independent; without it, policies keep their digest. */
	snp_policy_digest(p, d0);
	ASSERT_MEMEQ(d0, pinned, 32);
	digest_of("{\"vtpm_ak_digests\":[\"" AK_11 "\",\"" AK_22 "\"]}", d1);
	ASSERT_MEMEQ(d0, d1, 32);
	digest_of("{\"vtpm_ak_digests\":[\"" AK_11 "\"]}", d2);
	ASSERT_MEMNE(d1, d2, 32);
	snp_policy_digest(d, d3);
	ASSERT_MEMNE(d2, d3, 32);
	/* The same bytes as a host_data pin are another policy. */
	digest_of("{\"host_data\":[\"" AK_11 "\"]}", d1);
	ASSERT_MEMNE(d1, d2, 32);
	roundtrip("{\"vtpm_ak_digests\":[\"" AK_22 "\",\"" AK_11 "\"],\"measurements\":[\""
		  M_GENOA "\"]}");

	/* Strict: wrong length, not hex, not a list, empty, duplicates. */
	static const struct { const char *json, *why; } bad[] = {
		{ "{\"vtpm_ak_digests\":[\"11\"]}", "vtpm_ak_digests[0]" },
		{ "{\"vtpm_ak_digests\":[\"" AK_11 "00\"]}", "vtpm_ak_digests[0]" },
		{ "{\"vtpm_ak_digests\":[\"" AK_11 "\",\"zz" AK_11 "\"]}", "vtpm_ak_digests[1]" },
		{ "{\"vtpm_ak_digests\":\"" AK_11 "\"}", "64-digit hex" },
		{ "{\"vtpm_ak_digests\":[]}", "empty list" },
		{ "{\"vtpm_ak_digests\":[\"" AK_11 "\",\"" AK_11 "\"]}", "duplicate" },
		{ "{\"vtpm_ak_digests\":[1]}", "vtpm_ak_digests[0]" },
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		struct snp_policy *q = NULL;
		char err[POLICY_ERR_MAX] = "";

		if (snp_policy_parse(bad[i].json, strlen(bad[i].json), &q, err, sizeof(err)) !=
			    -EBADMSG || !strstr(err, bad[i].why) || q)
			test_fail(__FILE__, __LINE__, "bad %zu: '%s'", i, err);
		snp_policy_free(q);
	}
}

TEST(policy_to_json_roundtrip)
{
	_cleanup_(snp_policy_freep) struct snp_policy *d = NULL;
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	bool b;

	roundtrip("{}");
	roundtrip("{\"measurements\":[\"" M_GENOA "\"],\"measurement_owner\":\"provider\"}");
	roundtrip("{\"allow_vlek\":false,\"products\":[\"genoa\",\"milan\"],\"min_report_version\":3,"
		  "\"min_tcb\":{\"bootloader\":10,\"tee\":0,\"snp\":25,\"microcode\":84},"
		  "\"min_committed_tcb\":{\"fmc\":1,\"snp\":25,\"microcode\":84},\"allow_smt\":false,"
		  "\"min_abi\":{\"major\":1,\"minor\":55},\"vmpl\":2,\"min_guest_svn\":9,"
		  "\"require_single_socket\":true,\"allow_debug\":true,"
		  "\"measurements\":[\"" M_GENOA "\",\"" M_MILAN "\"],\"host_data\":[\"" Z64 "\"],"
		  "\"family_ids\":[\"" FAMILY_01 "\"],\"image_ids\":[\"" IMAGE_02 "\"],"
		  "\"id_key_digests\":[\"" IDKEY_TRUSTEE "\"],\"author_key_digests\":[\"" Z96 "\"],"
		  "\"chip_ids\":[\"" Z128 "\"],\"report_data\":\"" Z128 "\"}");
	/* Defaults are spelled out: an empty file prints what it means. */
	ASSERT_EQ(snp_policy_new_default(&d), 0);
	ASSERT_EQ(snp_policy_to_json(d, &o), 0);
	ASSERT_EQ(json_member_bool(o, NULL, "allow_debug", &b, NULL, 0), 0);
	ASSERT_FALSE(b);
	ASSERT_EQ(json_member_bool(o, NULL, "allow_smt", &b, NULL, 0), 0);
	ASSERT_TRUE(b);
	ASSERT_FALSE(json_member_present(o, "measurements"));
	ASSERT_EQ(snp_policy_to_json(NULL, &o), -EINVAL);
}
