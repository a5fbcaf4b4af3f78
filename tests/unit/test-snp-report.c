/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Report parsing and must-be-zero tests on the genuine AMD-signed vectors. Expected field
 * values come from vectors/SOURCES.md ("Report facts"), not from our parser, so the offsets
 * are tested against independent data. Every reserved byte is then set, one at a time, on a
 * genuine report of each version and must be caught with the right field name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snp-report.h"
#include "test.h"

struct genuine {
	const char *path;
	uint32_t version;
	enum snp_product product;
	uint64_t policy;
	uint64_t platform_info;
	uint32_t signer_info;
	uint8_t fw_major, fw_minor, fw_build; /* current firmware */
	uint64_t reported_tcb;                /* raw, as little-endian u64 */
	uint8_t cpuid_fam, cpuid_mod, cpuid_step;
	uint32_t vmpl;
};

/* Vectors shipped in tests/vectors (test_vector paths). */
static const struct genuine genuine[] = {
	{ "genoa-v3-azure-trustee/report.bin", 3, SNP_PRODUCT_GENOA, 0x3001f, 0x24, 0, 1, 55, 40,
	  0x541700000000000aull, 0x19, 0x11, 0x01, 0 },
	{ "genoa-v3-siena-trustee/report.bin", 3, SNP_PRODUCT_GENOA, 0x30000, 0x25, 0, 1, 55, 40,
	  0x191700000000000aull, 0x19, 0xa0, 0x02, 0 },
	{ "genoa-v5-oak/report.bin", 5, SNP_PRODUCT_GENOA, 0x30000, 0x25, 0, 1, 55, 43,
	  0x541900000000000aull, 0x19, 0x11, 0x01, 0 },
	{ "milan-v2-azure-constellation/report.bin", 2, SNP_PRODUCT_MILAN, 0x3001f, 0x1, 0, 1, 51,
	  1, 0x5d06000000000002ull, 0, 0, 0, 0 },
	{ "milan-v2-azure-hcl-trustee/report.bin", 2, SNP_PRODUCT_MILAN, 0x3001f, 0x1, 0, 1, 52, 4,
	  0x7308000000000003ull, 0, 0, 0, 0 },
	{ "milan-v2-debug-gsg/report.bin", 2, SNP_PRODUCT_MILAN, 0xb0000, 0x1, 0, 1, 49, 3,
	  0x4405000000000002ull, 0, 0, 0, 0 },
	{ "milan-v2-trustee/report.bin", 2, SNP_PRODUCT_MILAN, 0x3001f, 0x1, 0, 1, 52, 4,
	  0x7308000000000003ull, 0, 0, 0, 0 },
	{ "milan-v2-virtee/report.bin", 2, SNP_PRODUCT_MILAN, 0x30000, 0x1, 0, 1, 52, 4,
	  0x7308000000000003ull, 0, 0, 0, 0 },
	{ "milan-v2-vlek-aws-constellation/report.bin", 2, SNP_PRODUCT_MILAN, 0x30000, 0x3, 0x4, 1,
	  54, 1, 0x730a000000000003ull, 0, 0, 0, 0 },
	{ "milan-v3-azure-trustee/report.bin", 3, SNP_PRODUCT_MILAN, 0x3001f, 0x25, 0, 1, 55, 29,
	  0xdb18000000000004ull, 0x19, 0x01, 0x01, 0 },
	{ "milan-v3-oak/report.bin", 3, SNP_PRODUCT_MILAN, 0x30000, 0x25, 0, 1, 55, 29,
	  0xdb18000000000004ull, 0x19, 0x01, 0x01, 0 },
	{ "milan-v3-vlek-aws-constellation/report.bin", 3, SNP_PRODUCT_MILAN, 0x30000, 0x27, 0x4, 1,
	  55, 29, 0xd918000000000004ull, 0x19, 0x01, 0x01, 0 },
	{ "turin-v5-oak/report.bin", 5, SNP_PRODUCT_TURIN, 0x30000, 0x67, 0, 1, 55, 61,
	  0x4700000002000100ull, 0x1a, 0x02, 0x01, 0 },
};

/*
 * The other genuine reports listed in SOURCES.md (same sources and SHA-256), kept in the fuzz
 * corpus; paths are relative to the source tree, where make check runs the tests.
 */
static const struct genuine genuine_corpus[] = {
	{ "tests/fuzz/corpus/report/genuine-genoa-v3-ms.bin", 3, SNP_PRODUCT_GENOA, 0x3001f, 0x27,
	  0, 1, 55, 40, 0x541700000000000aull, 0x19, 0x11, 0x01, 0 },
	{ "tests/fuzz/corpus/report/genuine-milan-v3-ms.bin", 3, SNP_PRODUCT_MILAN, 0x3001f, 0x25,
	  0, 1, 55, 29, 0xdb18000000000004ull, 0x19, 0x01, 0x01, 0 },
	{ "tests/fuzz/corpus/report/genuine-turin-v5-ms.bin", 5, SNP_PRODUCT_TURIN, 0x3001f, 0x65,
	  0, 1, 55, 65, 0x5100000004010101ull, 0x1a, 0x02, 0x01, 0 },
	{ "tests/fuzz/corpus/report/genuine-milan-v3-vlek-trustee.bin", 3, SNP_PRODUCT_MILAN,
	  0x30000, 0x27, 0x4, 1, 55, 29, 0xd918000000000004ull, 0x19, 0x01, 0x01, 1 },
	{ "tests/fuzz/corpus/report/genuine-milan-v2-vlek-constellation.bin", 2, SNP_PRODUCT_MILAN,
	  0x30000, 0x3, 0x4, 1, 54, 1, 0x730a000000000003ull, 0, 0, 0, 0 },
};

/* For helpers that return -1: records the failure with context, then returns. */
#define FAIL_RET(...)                                                                              \
	do {                                                                                       \
		test_fail(__FILE__, __LINE__, __VA_ARGS__);                                        \
		return -1;                                                                         \
	} while (0)

static const enum snp_product all_products[] = { SNP_PRODUCT_MILAN, SNP_PRODUCT_GENOA,
						 SNP_PRODUCT_TURIN };

/* Loads a report into buf; false (and a test failure) if it is missing or the wrong size. */
static bool load_report(const char *path, uint8_t buf[static SNP_REPORT_SIZE])
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f) {
		test_fail(__FILE__, __LINE__, "cannot open %s", path);
		return false;
	}
	n = fread(buf, 1, SNP_REPORT_SIZE, f);
	if (n != SNP_REPORT_SIZE || fgetc(f) != EOF) {
		test_fail(__FILE__, __LINE__, "%s is not %u bytes", path, SNP_REPORT_SIZE);
		fclose(f);
		return false;
	}
	fclose(f);
	return true;
}

static bool load_vector(const char *rel, uint8_t buf[static SNP_REPORT_SIZE])
{
	return load_report(test_vector(rel), buf);
}

static int check_genuine(const struct genuine *g, const char *path)
{
	uint8_t raw[SNP_REPORT_SIZE];
	struct snp_report r;
	const char *field = "untouched";

	if (!load_report(path, raw))
		return -1;
	if (snp_report_parse(raw, sizeof(raw), &r) != 0 || r.version != g->version ||
	    r.policy != g->policy || r.platform_info != g->platform_info ||
	    r.signer_info != g->signer_info || r.reported_tcb != g->reported_tcb ||
	    r.current_major != g->fw_major || r.current_minor != g->fw_minor ||
	    r.current_build != g->fw_build || r.signature_algo != 1 || r.vmpl != g->vmpl)
		FAIL_RET("%s: fields differ", path);
	if (r.has_cpuid != (g->version >= 3) || r.has_mit_vectors != (g->version >= 5) ||
	    r.cpuid_fam_id != g->cpuid_fam || r.cpuid_mod_id != g->cpuid_mod ||
	    r.cpuid_step != g->cpuid_step)
		FAIL_RET("%s: CPUID/version flags differ", path);
	if (memcmp(r.chip_id, raw + SNP_R_CHIP_ID, 64) != 0 ||
	    memcmp(r.measurement, raw + SNP_R_MEASUREMENT, 48) != 0 ||
	    memcmp(r.sig_r, raw + SNP_R_SIG_R, 72) != 0 ||
	    memcmp(r.sig_s, raw + SNP_R_SIG_S, 72) != 0)
		FAIL_RET("%s: byte arrays differ", path);
	if (snp_report_check_reserved(raw, g->product, &field) != 0 ||
	    snp_report_check_reserved(raw, _SNP_PRODUCT_INVALID, &field) != 0)
		FAIL_RET("%s: reserved check failed at %s", path, field);
	if (strcmp(field, "untouched") != 0)
		FAIL_RET("%s: ret_field set on success", path);
	if (snp_report_product_from_cpuid(&r) != (g->version >= 3 ? (int)g->product : -ENODATA))
		FAIL_RET("%s: wrong CPUID product", path);
	return 0;
}

TEST(report_parse_genuine)
{
	for (size_t i = 0; i < ELEMENTSOF(genuine); i++)
		ASSERT_EQ(check_genuine(&genuine[i], test_vector(genuine[i].path)), 0);
}

TEST(report_parse_genuine_corpus)
{
	for (size_t i = 0; i < ELEMENTSOF(genuine_corpus); i++)
		ASSERT_EQ(check_genuine(&genuine_corpus[i], genuine_corpus[i].path), 0);
}

TEST(report_parse_derived_negatives_still_parse)
{
	/* Their damage is in signed fields: parsing and the reserved check must not hide it. */
	static const char *const paths[] = { "neg-derived/reported-tcb-raised/report.bin",
					     "neg-derived/sig-r-bitflip/report.bin",
					     "neg-derived/turin-measurement-bitflip/report.bin" };
	uint8_t raw[SNP_REPORT_SIZE];
	struct snp_report r;

	for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
		ASSERT_TRUE(load_vector(paths[i], raw));
		ASSERT_EQ(snp_report_parse(raw, sizeof(raw), &r), 0);
		ASSERT_EQ(snp_report_check_reserved(raw, _SNP_PRODUCT_INVALID, NULL), 0);
	}
}

TEST(report_parse_wrong_length)
{
	static const char *const paths[] = { "neg-derived/truncated-1183/report.bin",
					     "unverified-lit/report_bad_sig_1185.bin",
					     "unverified-lit/report_truncated_793.bin" };
	struct snp_report r, sentinel;

	memset(&sentinel, 0xa5, sizeof(sentinel));
	for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
		size_t len;
		_cleanup_free_ uint8_t *b = test_read_file(test_vector(paths[i]), &len);

		ASSERT_NE(len, SNP_REPORT_SIZE);
		r = sentinel;
		ASSERT_EQ(snp_report_parse(b, len, &r), -EMSGSIZE);
		ASSERT_MEMEQ(&r, &sentinel, sizeof(r));
	}

	uint8_t big[SNP_REPORT_SIZE + 1];
	ASSERT_TRUE(load_vector("milan-v2-virtee/report.bin", big));
	big[SNP_REPORT_SIZE] = 0;
	ASSERT_EQ(snp_report_parse(big, sizeof(big), &r), -EMSGSIZE);
	ASSERT_EQ(snp_report_parse(big, SNP_REPORT_SIZE - 1, &r), -EMSGSIZE);
	ASSERT_EQ(snp_report_parse(big, 0, &r), -EMSGSIZE);
	ASSERT_EQ(snp_report_parse(big, SNP_REPORT_SIZE, &r), 0);
}

TEST(report_parse_versions)
{
	static const uint32_t bad[] = { 0, 1, 6, 7, 0x100, 0x02000000, UINT32_MAX };
	uint8_t raw[SNP_REPORT_SIZE];
	struct snp_report r, sentinel;
	const char *field = NULL;

	ASSERT_TRUE(load_vector("milan-v3-oak/report.bin", raw));
	memset(&sentinel, 0x5a, sizeof(sentinel));
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		le32_put(raw + SNP_R_VERSION, bad[i]);
		r = sentinel;
		ASSERT_EQ(snp_report_parse(raw, sizeof(raw), &r), -EPROTONOSUPPORT);
		ASSERT_MEMEQ(&r, &sentinel, sizeof(r));
		/* Without a known version there is no known layout to check. */
		ASSERT_EQ(snp_report_check_reserved(raw, SNP_PRODUCT_MILAN, &field), -EBADMSG);
		ASSERT_STREQ(field, "version");
	}

	/* v4 has no sample; it is parsed with the v3 layout (CPUID, no mitigation vectors). */
	le32_put(raw + SNP_R_VERSION, 4);
	le64_put(raw + SNP_R_LAUNCH_MIT_VECTOR, 0x3f);
	ASSERT_EQ(snp_report_parse(raw, sizeof(raw), &r), 0);
	ASSERT_EQ(r.version, 4);
	ASSERT_TRUE(r.has_cpuid);
	ASSERT_FALSE(r.has_mit_vectors);
	ASSERT_EQ(r.launch_mit_vector, 0);
	ASSERT_EQ(snp_report_product_from_cpuid(&r), SNP_PRODUCT_MILAN);
	ASSERT_EQ(snp_report_check_reserved(raw, SNP_PRODUCT_MILAN, &field), -EBADMSG);
	ASSERT_STREQ(field, "reserved_0x1f8");
	le64_put(raw + SNP_R_LAUNCH_MIT_VECTOR, 0);
	ASSERT_EQ(snp_report_check_reserved(raw, SNP_PRODUCT_MILAN, &field), 0);
}

TEST(report_parse_v2_ignores_cpuid_bytes)
{
	uint8_t raw[SNP_REPORT_SIZE];
	struct snp_report r;
	const char *field = NULL;

	ASSERT_TRUE(load_vector("milan-v2-virtee/report.bin", raw));
	raw[SNP_R_CPUID_FAM] = 0x19;
	raw[SNP_R_CPUID_MOD] = 0x01;
	ASSERT_EQ(snp_report_parse(raw, sizeof(raw), &r), 0);
	ASSERT_FALSE(r.has_cpuid);
	ASSERT_EQ(r.cpuid_fam_id, 0);
	ASSERT_EQ(r.cpuid_mod_id, 0);
	ASSERT_EQ(snp_report_product_from_cpuid(&r), -ENODATA);
	ASSERT_EQ(snp_report_check_reserved(raw, SNP_PRODUCT_MILAN, &field), -EBADMSG);
	ASSERT_STREQ(field, "reserved_0x188");
}

TEST(report_parse_v5_mit_vectors)
{
	uint8_t raw[SNP_REPORT_SIZE];
	struct snp_report r;

	ASSERT_TRUE(load_vector("genoa-v5-oak/report.bin", raw));
	ASSERT_EQ(snp_report_parse(raw, sizeof(raw), &r), 0);
	ASSERT_TRUE(r.has_mit_vectors);
	ASSERT_EQ(r.launch_mit_vector, 1);
	ASSERT_EQ(r.current_mit_vector, 1);
	ASSERT_EQ(r.committed_tcb, r.reported_tcb);
	ASSERT_EQ(r.launch_tcb, r.reported_tcb);
	/* Mitigation vectors are data, not reserved, on v5. */
	le64_put(raw + SNP_R_LAUNCH_MIT_VECTOR, UINT64_MAX);
	le64_put(raw + SNP_R_CURRENT_MIT_VECTOR, 0x3f);
	ASSERT_EQ(snp_report_parse(raw, sizeof(raw), &r), 0);
	ASSERT_EQ(r.launch_mit_vector, UINT64_MAX);
	ASSERT_EQ(r.current_mit_vector, 0x3f);
	ASSERT_EQ(snp_report_check_reserved(raw, SNP_PRODUCT_GENOA, NULL), 0);
}

TEST(report_parse_field_offsets)
{
	uint8_t raw[SNP_REPORT_SIZE];
	struct snp_report r;

	ASSERT_TRUE(load_vector("milan-v2-debug-gsg/report.bin", raw));
	ASSERT_EQ(snp_report_parse(raw, sizeof(raw), &r), 0);
	/* go-sev-guest's test VM: REPORT_DATA 01 02 03 04 05 00 ..., REPORT_ID_MA all ones. */
	static const uint8_t rd[8] = { 1, 2, 3, 4, 5, 0, 0, 0 };
	ASSERT_MEMEQ(r.report_data, rd, sizeof(rd));
	ASSERT_TRUE(mem_is_zero(r.report_data + 5, 59));
	for (size_t i = 0; i < sizeof(r.report_id_ma); i++)
		ASSERT_EQ(r.report_id_ma[i], 0xff);

	/* Distinct marker bytes in every field land in the right struct member. */
	for (size_t i = 0; i < SNP_R_SIGNATURE; i++)
		raw[i] = (uint8_t)(i * 7 + 1);
	le32_put(raw + SNP_R_VERSION, 5);
	ASSERT_EQ(snp_report_parse(raw, sizeof(raw), &r), 0);
	ASSERT_EQ(r.guest_svn, le32_get(raw + SNP_R_GUEST_SVN));
	ASSERT_EQ(r.policy, le64_get(raw + SNP_R_POLICY));
	ASSERT_MEMEQ(r.family_id, raw + SNP_R_FAMILY_ID, 16);
	ASSERT_MEMEQ(r.image_id, raw + SNP_R_IMAGE_ID, 16);
	ASSERT_EQ(r.vmpl, le32_get(raw + SNP_R_VMPL));
	ASSERT_EQ(r.signature_algo, le32_get(raw + SNP_R_SIGNATURE_ALGO));
	ASSERT_EQ(r.current_tcb, le64_get(raw + SNP_R_CURRENT_TCB));
	ASSERT_EQ(r.platform_info, le64_get(raw + SNP_R_PLATFORM_INFO));
	ASSERT_EQ(r.signer_info, le32_get(raw + SNP_R_SIGNER_INFO));
	ASSERT_MEMEQ(r.report_data, raw + SNP_R_REPORT_DATA, 64);
	ASSERT_MEMEQ(r.host_data, raw + SNP_R_HOST_DATA, 32);
	ASSERT_MEMEQ(r.id_key_digest, raw + SNP_R_ID_KEY_DIGEST, 48);
	ASSERT_MEMEQ(r.author_key_digest, raw + SNP_R_AUTHOR_KEY_DIGEST, 48);
	ASSERT_MEMEQ(r.report_id, raw + SNP_R_REPORT_ID, 32);
	ASSERT_MEMEQ(r.report_id_ma, raw + SNP_R_REPORT_ID_MA, 32);
	ASSERT_EQ(r.reported_tcb, le64_get(raw + SNP_R_REPORTED_TCB));
	ASSERT_EQ(r.cpuid_fam_id, raw[0x188]);
	ASSERT_EQ(r.cpuid_mod_id, raw[0x189]);
	ASSERT_EQ(r.cpuid_step, raw[0x18a]);
	ASSERT_MEMEQ(r.chip_id, raw + SNP_R_CHIP_ID, 64);
	ASSERT_EQ(r.committed_tcb, le64_get(raw + SNP_R_COMMITTED_TCB));
	ASSERT_EQ(r.current_build, raw[0x1e8]);
	ASSERT_EQ(r.current_minor, raw[0x1e9]);
	ASSERT_EQ(r.current_major, raw[0x1ea]);
	ASSERT_EQ(r.committed_build, raw[0x1ec]);
	ASSERT_EQ(r.committed_minor, raw[0x1ed]);
	ASSERT_EQ(r.committed_major, raw[0x1ee]);
	ASSERT_EQ(r.launch_tcb, le64_get(raw + SNP_R_LAUNCH_TCB));
	ASSERT_EQ(r.launch_mit_vector, le64_get(raw + 0x1f8));
	ASSERT_EQ(r.current_mit_vector, le64_get(raw + 0x200));
}

/* ---- must-be-zero areas ---- */

struct area {
	size_t from, to; /* inclusive */
	const char *name;
};

/*
 * Sets each byte of each area to a few values, one byte at a time, on a genuine report (with
 * VERSION rewritten to version) and expects -EBADMSG naming that area.
 */
static int areas_detected(const char *vec, uint32_t version, enum snp_product p,
			  const struct area *areas, size_t n)
{
	uint8_t raw[SNP_REPORT_SIZE];

	if (!load_vector(vec, raw))
		return -1;
	if (version != le32_get(raw))
		le32_put(raw + SNP_R_VERSION, version);
	if (snp_report_check_reserved(raw, p, NULL) != 0)
		FAIL_RET("%s: base report rejected", vec);
	for (size_t a = 0; a < n; a++)
		for (size_t i = areas[a].from; i <= areas[a].to; i++) {
			static const uint8_t vals[] = { 0x01, 0x80, 0xff };
			for (size_t v = 0; v < ELEMENTSOF(vals); v++) {
				const char *field = NULL;
				uint8_t saved = raw[i];
				int r;

				raw[i] = vals[v];
				r = snp_report_check_reserved(raw, p, &field);
				raw[i] = saved;
				if (r != -EBADMSG || !field || strcmp(field, areas[a].name) != 0)
					FAIL_RET("%s v%u: byte 0x%zx=0x%02x: r=%d field=%s "
						 "(want %s)",
						 vec, version, i, vals[v], r,
						 field ? field : "(null)", areas[a].name);
			}
		}
	return 0;
}

static const struct area common_areas[] = {
	{ 0x04c, 0x04f, "reserved_0x04c" }, { 0x1eb, 0x1eb, "reserved_0x1eb" },
	{ 0x1ef, 0x1ef, "reserved_0x1ef" }, { 0x2d0, 0x2e7, "sig_r_high" },
	{ 0x318, 0x32f, "sig_s_high" },     { 0x330, 0x49f, "signature_tail" },
};

TEST(report_reserved_v2)
{
	static const struct area v2[] = { { 0x188, 0x19f, "reserved_0x188" },
					  { 0x1f8, 0x29f, "reserved_0x1f8" } };

	ASSERT_EQ(areas_detected("milan-v2-virtee/report.bin", 2, SNP_PRODUCT_MILAN, common_areas,
				 ELEMENTSOF(common_areas)),
		  0);
	ASSERT_EQ(areas_detected("milan-v2-virtee/report.bin", 2, SNP_PRODUCT_MILAN, v2,
				 ELEMENTSOF(v2)),
		  0);
	/* Unknown product: the layout-independent areas are still checked. */
	ASSERT_EQ(areas_detected("milan-v2-vlek-aws-constellation/report.bin", 2,
				 _SNP_PRODUCT_INVALID, v2, ELEMENTSOF(v2)),
		  0);
}

TEST(report_reserved_v3_v4)
{
	static const struct area v3[] = { { 0x18b, 0x19f, "reserved_0x18b" },
					  { 0x1f8, 0x29f, "reserved_0x1f8" } };

	for (uint32_t v = 3; v <= 4; v++) {
		ASSERT_EQ(areas_detected("milan-v3-oak/report.bin", v, SNP_PRODUCT_MILAN,
					 common_areas, ELEMENTSOF(common_areas)),
			  0);
		ASSERT_EQ(areas_detected("milan-v3-oak/report.bin", v, SNP_PRODUCT_MILAN, v3,
					 ELEMENTSOF(v3)),
			  0);
		ASSERT_EQ(areas_detected("genoa-v3-siena-trustee/report.bin", v, SNP_PRODUCT_GENOA,
					 v3, ELEMENTSOF(v3)),
			  0);
	}
}

TEST(report_reserved_v5)
{
	static const struct area v5[] = { { 0x18b, 0x19f, "reserved_0x18b" },
					  { 0x208, 0x29f, "reserved_0x208" } };

	ASSERT_EQ(areas_detected("genoa-v5-oak/report.bin", 5, SNP_PRODUCT_GENOA, common_areas,
				 ELEMENTSOF(common_areas)),
		  0);
	ASSERT_EQ(areas_detected("genoa-v5-oak/report.bin", 5, SNP_PRODUCT_GENOA, v5,
				 ELEMENTSOF(v5)),
		  0);
	ASSERT_EQ(areas_detected("turin-v5-oak/report.bin", 5, SNP_PRODUCT_TURIN, common_areas,
				 ELEMENTSOF(common_areas)),
		  0);
	ASSERT_EQ(areas_detected("turin-v5-oak/report.bin", 5, SNP_PRODUCT_TURIN, v5,
				 ELEMENTSOF(v5)),
		  0);
}

TEST(report_reserved_signature_tail)
{
	/* Mirrors "sig-reserved-tail-nonzero": the edit keeps the signature valid. */
	uint8_t raw[SNP_REPORT_SIZE], orig[SNP_REPORT_SIZE];
	struct snp_report r, r0;
	const char *field = NULL;

	ASSERT_TRUE(load_vector("turin-v5-oak/report.bin", raw));
	memcpy(orig, raw, sizeof(raw));
	raw[0x330 + 0x40] = 0x01;
	ASSERT_EQ(snp_report_parse(orig, sizeof(orig), &r0), 0);
	ASSERT_EQ(snp_report_parse(raw, sizeof(raw), &r), 0);
	ASSERT_MEMEQ(&r, &r0, sizeof(r)); /* invisible in the parsed struct */
	ASSERT_EQ(snp_report_check_reserved(raw, SNP_PRODUCT_TURIN, &field), -EBADMSG);
	ASSERT_STREQ(field, "signature_tail");
	field = NULL;
	ASSERT_EQ(snp_report_check_reserved(raw, _SNP_PRODUCT_INVALID, &field), -EBADMSG);
	ASSERT_STREQ(field, "signature_tail");
	ASSERT_EQ(snp_report_check_reserved(orig, SNP_PRODUCT_TURIN, NULL), 0);
}

static int field_after(const char *vec, size_t off, uint64_t val, unsigned width,
		       enum snp_product p, const char *want)
{
	uint8_t raw[SNP_REPORT_SIZE];
	const char *field = NULL;
	int r;

	if (!load_vector(vec, raw))
		return -1;
	if (width == 8)
		le64_put(raw + off, val);
	else
		le32_put(raw + off, (uint32_t)val);
	r = snp_report_check_reserved(raw, p, &field);
	if (want ? (r != -EBADMSG || !field || strcmp(field, want) != 0) : r != 0)
		FAIL_RET("%s 0x%zx=0x%" PRIx64 ": r=%d field=%s", vec, off, val, r,
			 field ? field : "(null)");
	return 0;
}

TEST(report_reserved_policy)
{
	const char *v = "milan-v3-oak/report.bin";
	const enum snp_product m = SNP_PRODUCT_MILAN;

	ASSERT_EQ(field_after(v, SNP_R_POLICY, 0x10000, 8, m, "policy_bit17"), 0);
	ASSERT_EQ(field_after(v, SNP_R_POLICY, 0, 8, m, "policy_bit17"), 0);
	ASSERT_EQ(field_after(v, SNP_R_POLICY, 0x30000 | 1ull << 26, 8, m, "policy_reserved"), 0);
	ASSERT_EQ(field_after(v, SNP_R_POLICY, 0x30000 | 1ull << 63, 8, m, "policy_reserved"), 0);
	/* bit 17 wins over reserved bits: offset order, then bit order inside a field */
	ASSERT_EQ(field_after(v, SNP_R_POLICY, 1ull << 40, 8, m, "policy_bit17"), 0);
	/* Defined bits are policy decisions, not malformations: DEBUG, PAGE_SWAP_DISABLE, ... */
	ASSERT_EQ(field_after(v, SNP_R_POLICY, 0x3ffffff, 8, m, NULL), 0);
	ASSERT_EQ(field_after(v, SNP_R_POLICY, 0xb0000, 8, m, NULL), 0);
}

TEST(report_reserved_signer_info)
{
	const char *v = "milan-v2-vlek-aws-constellation/report.bin";
	const enum snp_product m = SNP_PRODUCT_MILAN;

	for (uint32_t key = 0; key < 8; key++) {
		bool ok = key == SNP_SIGNING_KEY_VCEK || key == SNP_SIGNING_KEY_VLEK ||
			  key == SNP_SIGNING_KEY_NONE;
		ASSERT_EQ(field_after(v, SNP_R_SIGNER_INFO, key << 2 | 3, 4, m,
				      ok ? NULL : "signing_key_reserved"),
			  0);
	}
	for (unsigned bit = 5; bit < 32; bit++)
		ASSERT_EQ(field_after(v, SNP_R_SIGNER_INFO, 1ull << bit | 4, 4, m,
				      "signer_info_reserved"),
			  0);
}

TEST(report_reserved_tcb)
{
	static const struct {
		size_t off;
		const char *name;
	} tcbs[] = {
		{ SNP_R_CURRENT_TCB, "current_tcb_reserved" },
		{ SNP_R_REPORTED_TCB, "reported_tcb_reserved" },
		{ SNP_R_COMMITTED_TCB, "committed_tcb_reserved" },
		{ SNP_R_LAUNCH_TCB, "launch_tcb_reserved" },
	};

	for (size_t t = 0; t < ELEMENTSOF(tcbs); t++) {
		size_t o = tcbs[t].off;
		struct area legacy = { o + 2, o + 5, tcbs[t].name };
		struct area turin = { o + 4, o + 6, tcbs[t].name };
		struct area common = { o + 4, o + 5, tcbs[t].name };

		ASSERT_EQ(areas_detected("milan-v2-virtee/report.bin", 2, SNP_PRODUCT_MILAN,
					 &legacy, 1),
			  0);
		ASSERT_EQ(areas_detected("genoa-v5-oak/report.bin", 5, SNP_PRODUCT_GENOA, &legacy,
					 1),
			  0);
		ASSERT_EQ(areas_detected("turin-v5-oak/report.bin", 5, SNP_PRODUCT_TURIN, &turin,
					 1),
			  0);
		ASSERT_EQ(areas_detected("milan-v3-oak/report.bin", 3, _SNP_PRODUCT_INVALID,
					 &common, 1),
			  0);
		ASSERT_EQ(areas_detected("turin-v5-oak/report.bin", 5, _SNP_PRODUCT_INVALID,
					 &common, 1),
			  0);
	}
	/* Turin's byte 2 (TEE) and 3 (SNP) are data, not reserved. */
	ASSERT_EQ(field_after("turin-v5-oak/report.bin", SNP_R_REPORTED_TCB, 0x4700000002ff0100ull,
			      8, SNP_PRODUCT_TURIN, NULL),
		  0);
	/* ... but the same raw value under the legacy layout has reserved bytes set. */
	ASSERT_EQ(field_after("genoa-v5-oak/report.bin", SNP_R_REPORTED_TCB, 0x4700000002ff0100ull,
			      8, SNP_PRODUCT_GENOA, "reported_tcb_reserved"),
		  0);
	/* Legacy byte 6 (SNP) is data; on Turin byte 6 is reserved. */
	ASSERT_EQ(field_after("genoa-v5-oak/report.bin", SNP_R_LAUNCH_TCB, 0x54ff00000000000aull, 8,
			      SNP_PRODUCT_GENOA, NULL),
		  0);
	ASSERT_FALSE(snp_tcb_reserved_ok(0x54ff00000000000aull, SNP_PRODUCT_TURIN));
}

TEST(report_reserved_chip_id_turin)
{
	struct area tail = { SNP_R_CHIP_ID + 8, SNP_R_CHIP_ID + 63, "chip_id_tail" };
	uint8_t raw[SNP_REPORT_SIZE];

	ASSERT_EQ(areas_detected("turin-v5-oak/report.bin", 5, SNP_PRODUCT_TURIN, &tail, 1), 0);
	/* Milan/Genoa use all 64 bytes: not reserved there. */
	ASSERT_TRUE(load_vector("genoa-v5-oak/report.bin", raw));
	ASSERT_FALSE(mem_is_zero(raw + SNP_R_CHIP_ID + 8, 56));
	ASSERT_EQ(snp_report_check_reserved(raw, SNP_PRODUCT_GENOA, NULL), 0);
	ASSERT_EQ(snp_report_check_reserved(raw, SNP_PRODUCT_MILAN, NULL), 0);
	ASSERT_EQ(snp_report_check_reserved(raw, SNP_PRODUCT_TURIN, NULL), -EBADMSG);
	/* Turin's first 8 bytes are its hwID. */
	ASSERT_TRUE(load_vector("turin-v5-oak/report.bin", raw));
	memset(raw + SNP_R_CHIP_ID, 0xff, 8);
	ASSERT_EQ(snp_report_check_reserved(raw, SNP_PRODUCT_TURIN, NULL), 0);
}

TEST(report_reserved_platform_info_not_checked)
{
	uint8_t raw[SNP_REPORT_SIZE];

	/* Real Turin firmware sets PLATFORM_INFO bit 6 (0x67): it must not be refused. */
	ASSERT_TRUE(load_vector("turin-v5-oak/report.bin", raw));
	ASSERT_TRUE(le64_get(raw + SNP_R_PLATFORM_INFO) & (1u << 6));
	ASSERT_EQ(snp_report_check_reserved(raw, SNP_PRODUCT_TURIN, NULL), 0);
	ASSERT_TRUE(load_vector("milan-v2-virtee/report.bin", raw));
	le64_put(raw + SNP_R_PLATFORM_INFO, 0x41);
	ASSERT_EQ(snp_report_check_reserved(raw, SNP_PRODUCT_MILAN, NULL), 0);
}

TEST(report_reserved_first_offender)
{
	uint8_t raw[SNP_REPORT_SIZE];
	const char *field = "untouched";

	ASSERT_TRUE(load_vector("milan-v3-oak/report.bin", raw));
	raw[0x49f] = 1;
	raw[0x04c] = 1;
	ASSERT_EQ(snp_report_check_reserved(raw, SNP_PRODUCT_MILAN, &field), -EBADMSG);
	ASSERT_STREQ(field, "reserved_0x04c");
	ASSERT_EQ(snp_report_check_reserved(raw, SNP_PRODUCT_MILAN, NULL), -EBADMSG);
}

/* ---- CPUID ---- */

static int cpuid_product(uint32_t version, uint8_t fam, uint8_t mod)
{
	uint8_t raw[SNP_REPORT_SIZE] = {};
	struct snp_report r;

	le32_put(raw + SNP_R_VERSION, version);
	raw[SNP_R_CPUID_FAM] = fam;
	raw[SNP_R_CPUID_MOD] = mod;
	if (snp_report_parse(raw, sizeof(raw), &r) < 0)
		return -999;
	return snp_report_product_from_cpuid(&r);
}

TEST(report_product_from_cpuid_ranges)
{
	for (unsigned m = 0x00; m <= 0x0f; m++)
		ASSERT_EQ(cpuid_product(3, 0x19, (uint8_t)m), SNP_PRODUCT_MILAN);
	for (unsigned m = 0x10; m <= 0x1f; m++)
		ASSERT_EQ(cpuid_product(5, 0x19, (uint8_t)m), SNP_PRODUCT_GENOA);
	for (unsigned m = 0xa0; m <= 0xaf; m++)
		ASSERT_EQ(cpuid_product(3, 0x19, (uint8_t)m), SNP_PRODUCT_GENOA);
	for (unsigned m = 0x00; m <= 0x11; m++)
		ASSERT_EQ(cpuid_product(5, 0x1a, (uint8_t)m), SNP_PRODUCT_TURIN);
	static const uint8_t bad19[] = { 0x20, 0x21, 0x30, 0x61, 0x9f, 0xb0, 0xff };
	for (size_t i = 0; i < ELEMENTSOF(bad19); i++)
		ASSERT_EQ(cpuid_product(3, 0x19, bad19[i]), -EPROTONOSUPPORT);
	static const uint8_t bad1a[] = { 0x12, 0x20, 0x50, 0x90, 0xc0, 0xff };
	for (size_t i = 0; i < ELEMENTSOF(bad1a); i++)
		ASSERT_EQ(cpuid_product(5, 0x1a, bad1a[i]), -EPROTONOSUPPORT);
	ASSERT_EQ(cpuid_product(3, 0x17, 0x31), -EPROTONOSUPPORT);
	ASSERT_EQ(cpuid_product(3, 0x00, 0x00), -EPROTONOSUPPORT);
	ASSERT_EQ(cpuid_product(3, 0x1b, 0x00), -EPROTONOSUPPORT);
	ASSERT_EQ(cpuid_product(4, 0x19, 0x11), SNP_PRODUCT_GENOA);
	/* v2 has no CPUID, whatever the reserved bytes hold. */
	ASSERT_EQ(cpuid_product(2, 0x19, 0x01), -ENODATA);
	ASSERT_EQ(cpuid_product(2, 0x00, 0x00), -ENODATA);
}

TEST(report_product_strings)
{
	ASSERT_STREQ(snp_product_to_string(SNP_PRODUCT_MILAN), "milan");
	ASSERT_STREQ(snp_product_to_string(SNP_PRODUCT_GENOA), "genoa");
	ASSERT_STREQ(snp_product_to_string(SNP_PRODUCT_TURIN), "turin");
	ASSERT_TRUE(snp_product_to_string(_SNP_PRODUCT_MAX) == NULL);
	ASSERT_TRUE(snp_product_to_string(_SNP_PRODUCT_INVALID) == NULL);
	ASSERT_STREQ(snp_product_kds_name(SNP_PRODUCT_MILAN), "Milan");
	ASSERT_STREQ(snp_product_kds_name(SNP_PRODUCT_GENOA), "Genoa");
	ASSERT_STREQ(snp_product_kds_name(SNP_PRODUCT_TURIN), "Turin");
	ASSERT_TRUE(snp_product_kds_name((enum snp_product)7) == NULL);
	ASSERT_EQ(snp_product_from_string("milan"), SNP_PRODUCT_MILAN);
	ASSERT_EQ(snp_product_from_string("Genoa"), SNP_PRODUCT_GENOA);
	ASSERT_EQ(snp_product_from_string("TURIN"), SNP_PRODUCT_TURIN);
	ASSERT_EQ(snp_product_from_string("Milan-B0"), _SNP_PRODUCT_INVALID);
	ASSERT_EQ(snp_product_from_string("siena"), _SNP_PRODUCT_INVALID);
	ASSERT_EQ(snp_product_from_string("turi"), _SNP_PRODUCT_INVALID);
	ASSERT_EQ(snp_product_from_string(""), _SNP_PRODUCT_INVALID);
	ASSERT_EQ(snp_product_from_string(NULL), _SNP_PRODUCT_INVALID);
	for (size_t i = 0; i < ELEMENTSOF(all_products); i++)
		ASSERT_EQ(snp_product_from_string(snp_product_to_string(all_products[i])),
			  all_products[i]);
}

/* ---- TCB ---- */

TEST(report_tcb_decode_vectors)
{
	uint8_t raw[SNP_REPORT_SIZE];
	struct snp_tcb t;

	/* SOURCES.md: turin-v5-oak fmc=0 bl=1 tee=0 snp=2 ucode=71 */
	ASSERT_TRUE(load_vector("turin-v5-oak/report.bin", raw));
	ASSERT_EQ(snp_tcb_decode(le64_get(raw + SNP_R_REPORTED_TCB), SNP_PRODUCT_TURIN, &t), 0);
	ASSERT_EQ(t.fmc, 0);
	ASSERT_EQ(t.bootloader, 1);
	ASSERT_EQ(t.tee, 0);
	ASSERT_EQ(t.snp, 2);
	ASSERT_EQ(t.microcode, 71);
	/* The legacy layout would read SNP from a reserved byte: pitfall 3. */
	ASSERT_EQ(snp_tcb_decode(le64_get(raw + SNP_R_REPORTED_TCB), SNP_PRODUCT_GENOA, &t), 0);
	ASSERT_EQ(t.snp, 0);

	/* genoa-v5-oak: bl=10 tee=0 snp=25 ucode=84 */
	ASSERT_TRUE(load_vector("genoa-v5-oak/report.bin", raw));
	ASSERT_EQ(snp_tcb_decode(le64_get(raw + SNP_R_REPORTED_TCB), SNP_PRODUCT_GENOA, &t), 0);
	ASSERT_EQ(t.fmc, 0);
	ASSERT_EQ(t.bootloader, 10);
	ASSERT_EQ(t.tee, 0);
	ASSERT_EQ(t.snp, 25);
	ASSERT_EQ(t.microcode, 84);

	/* milan-v2-virtee: bl=3 tee=0 snp=8 ucode=115 */
	ASSERT_TRUE(load_vector("milan-v2-virtee/report.bin", raw));
	ASSERT_EQ(snp_tcb_decode(le64_get(raw + SNP_R_REPORTED_TCB), SNP_PRODUCT_MILAN, &t), 0);
	ASSERT_EQ(t.bootloader, 3);
	ASSERT_EQ(t.tee, 0);
	ASSERT_EQ(t.snp, 8);
	ASSERT_EQ(t.microcode, 115);

	/* turin-v5-ms (SNP-ABI 3.1): 01 01 01 04 00 00 00 51 */
	ASSERT_EQ(snp_tcb_decode(0x5100000004010101ull, SNP_PRODUCT_TURIN, &t), 0);
	ASSERT_EQ(t.fmc, 1);
	ASSERT_EQ(t.bootloader, 1);
	ASSERT_EQ(t.tee, 1);
	ASSERT_EQ(t.snp, 4);
	ASSERT_EQ(t.microcode, 0x51);
}

TEST(report_tcb_roundtrip)
{
	static const struct snp_tcb samples[] = {
		{ 0, 0, 0, 0, 0 },     { 0, 1, 2, 3, 4 },         { 0, 10, 0, 25, 84 },
		{ 0, 255, 255, 255, 255 }, { 0, 0x80, 0x01, 0x7f, 0xfe },
	};
	struct snp_tcb t, sentinel = { 9, 9, 9, 9, 9 };

	for (size_t i = 0; i < ELEMENTSOF(samples); i++)
		for (size_t p = 0; p < ELEMENTSOF(all_products); p++) {
			struct snp_tcb in = samples[i];
			uint64_t raw;

			if (all_products[p] == SNP_PRODUCT_TURIN)
				in.fmc = (uint8_t)(i * 51);
			raw = snp_tcb_encode(&in, all_products[p]);
			ASSERT_TRUE(snp_tcb_reserved_ok(raw, all_products[p]));
			ASSERT_EQ(snp_tcb_decode(raw, all_products[p], &t), 0);
			ASSERT_MEMEQ(&t, &in, sizeof(t));
		}
	/* Exact encodings (independent of decode). */
	struct snp_tcb x = { 7, 1, 2, 3, 4 };
	ASSERT_EQ(snp_tcb_encode(&x, SNP_PRODUCT_TURIN), 0x0400000003020107ull);
	ASSERT_EQ(snp_tcb_encode(&x, SNP_PRODUCT_MILAN), 0x0403000000000201ull);
	ASSERT_EQ(snp_tcb_encode(&x, SNP_PRODUCT_GENOA), 0x0403000000000201ull);
	ASSERT_EQ(snp_tcb_encode(&x, _SNP_PRODUCT_INVALID), 0);
	t = sentinel;
	ASSERT_EQ(snp_tcb_decode(0x0403000000000201ull, _SNP_PRODUCT_INVALID, &t), -EINVAL);
	ASSERT_EQ(snp_tcb_decode(0x0403000000000201ull, _SNP_PRODUCT_MAX, &t), -EINVAL);
	ASSERT_MEMEQ(&t, &sentinel, sizeof(t));
}

TEST(report_tcb_reserved_ok)
{
	for (unsigned b = 0; b < 8; b++) {
		uint64_t raw = 0x5aull << (8 * b);
		bool legacy_rsvd = b >= 2 && b <= 5, turin_rsvd = b >= 4 && b <= 6;

		ASSERT_EQ(snp_tcb_reserved_ok(raw, SNP_PRODUCT_MILAN), !legacy_rsvd);
		ASSERT_EQ(snp_tcb_reserved_ok(raw, SNP_PRODUCT_GENOA), !legacy_rsvd);
		ASSERT_EQ(snp_tcb_reserved_ok(raw, SNP_PRODUCT_TURIN), !turin_rsvd);
		ASSERT_FALSE(snp_tcb_reserved_ok(raw, _SNP_PRODUCT_INVALID));
	}
	ASSERT_TRUE(snp_tcb_reserved_ok(0, SNP_PRODUCT_TURIN));
	ASSERT_FALSE(snp_tcb_reserved_ok(0, _SNP_PRODUCT_INVALID));
}

TEST(report_tcb_ge)
{
	struct snp_tcb base = { 2, 3, 4, 5, 6 };

	for (size_t p = 0; p < ELEMENTSOF(all_products); p++) {
		enum snp_product pr = all_products[p];
		ASSERT_TRUE(snp_tcb_ge(&base, &base, pr));
		for (int c = 1; c < 5; c++) {
			struct snp_tcb lo = base, hi = base;
			uint8_t *pl = (uint8_t *)&lo + c, *ph = (uint8_t *)&hi + c;
			(*pl)--;
			(*ph)++;
			ASSERT_FALSE(snp_tcb_ge(&lo, &base, pr));
			ASSERT_TRUE(snp_tcb_ge(&base, &lo, pr));
			ASSERT_TRUE(snp_tcb_ge(&hi, &base, pr));
			ASSERT_FALSE(snp_tcb_ge(&base, &hi, pr));
		}
		/* Mixed: one component higher does not make up for one lower. */
		struct snp_tcb mixed = base;
		mixed.snp = 200;
		mixed.microcode = 1;
		ASSERT_FALSE(snp_tcb_ge(&mixed, &base, pr));
	}
	/* FMC only counts on Turin. */
	struct snp_tcb nofmc = base;
	nofmc.fmc = 0;
	ASSERT_FALSE(snp_tcb_ge(&nofmc, &base, SNP_PRODUCT_TURIN));
	ASSERT_TRUE(snp_tcb_ge(&nofmc, &base, SNP_PRODUCT_MILAN));
	ASSERT_TRUE(snp_tcb_ge(&nofmc, &base, SNP_PRODUCT_GENOA));
	ASSERT_FALSE(snp_tcb_ge(&base, &base, _SNP_PRODUCT_INVALID));
}
