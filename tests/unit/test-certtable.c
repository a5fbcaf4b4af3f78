/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Certificate-table tests: the synthetic Turin table (vectors/certtable-synthetic-turin,
 * layout.txt gives the expected offsets) parses to the real certificates, each malformation
 * is refused on its own, and the builder reproduces the reference table byte for byte.
 */
#include <stdlib.h>
#include <string.h>

#include "certtable.h"
#include "snp-abi.h"
#include "test.h"

#define SYNTH "certtable-synthetic-turin/certs.bin"

/* From layout.txt. */
static const struct {
	enum snp_cert_kind kind;
	uint32_t off, len;
} synth_layout[] = {
	{ SNP_CERT_ARK, 0x0060, 0x0667 },
	{ SNP_CERT_ASK, 0x06c7, 0x068d },
	{ SNP_CERT_VCEK, 0x0d54, 0x0509 },
};
#define SYNTH_END (0x0d54 + 0x0509)

static const uint8_t guid_ark[16] = SNP_GUID_ARK;
static const uint8_t guid_vcek[16] = SNP_GUID_VCEK;

TEST(certtable_synthetic_turin)
{
	size_t len, vcek_len;
	_cleanup_free_ uint8_t *buf = test_read_file(test_vector(SYNTH), &len);
	_cleanup_free_ uint8_t *vcek = test_read_file(test_vector("turin-v5-oak/vcek.der"),
						      &vcek_len);
	struct certtable t;

	ASSERT_EQ(len, 8192);
	ASSERT_EQ(certtable_parse(buf, len, &t), 0);
	ASSERT_EQ(t.n_entries, 3);
	for (size_t i = 0; i < 3; i++) {
		ASSERT_EQ(t.entries[i].kind, synth_layout[i].kind);
		ASSERT_EQ(t.entries[i].data - buf, synth_layout[i].off);
		ASSERT_EQ(t.entries[i].len, synth_layout[i].len);
		ASSERT_MEMEQ(t.entries[i].guid, buf + i * SNP_CERT_ENTRY_SIZE, 16);
		/* DER SEQUENCE with a two-byte length covering the whole entry */
		ASSERT_EQ(t.entries[i].data[0], 0x30);
		ASSERT_EQ(t.entries[i].data[1], 0x82);
		ASSERT_EQ((t.entries[i].data[2] << 8 | t.entries[i].data[3]) + 4,
			  t.entries[i].len);
	}
	ASSERT_MEMEQ(t.entries[0].guid, guid_ark, 16);
	ASSERT_MEMEQ(t.entries[2].guid, guid_vcek, 16);

	const struct certtable_entry *e = certtable_find(&t, SNP_CERT_VCEK);
	ASSERT_TRUE(e == &t.entries[2]);
	ASSERT_EQ(e->len, vcek_len);
	ASSERT_MEMEQ(e->data, vcek, vcek_len);
	ASSERT_TRUE(certtable_find(&t, SNP_CERT_ARK) == &t.entries[0]);
	ASSERT_TRUE(certtable_find(&t, SNP_CERT_ASK) == &t.entries[1]);
	ASSERT_TRUE(certtable_find(&t, SNP_CERT_VLEK) == NULL);
	ASSERT_TRUE(certtable_find(&t, SNP_CERT_CRL) == NULL);
	ASSERT_TRUE(certtable_find(&t, SNP_CERT_OTHER) == NULL);
	ASSERT_TRUE(certtable_find(NULL, SNP_CERT_ARK) == NULL);

	/* configfs auxblob: truncated to the end of the last certificate, still complete. */
	ASSERT_EQ(certtable_parse(buf, SYNTH_END, &t), 0);
	ASSERT_EQ(t.n_entries, 3);
	ASSERT_EQ(certtable_parse(buf, SYNTH_END - 1, &t), -EBADMSG);
}

TEST(certtable_empty)
{
	static const uint8_t zero[4096];
	struct certtable t;

	memset(&t, 0xa5, sizeof(t));
	ASSERT_EQ(certtable_parse(NULL, 0, &t), 0);
	ASSERT_EQ(t.n_entries, 0);
	ASSERT_TRUE(certtable_find(&t, SNP_CERT_ARK) == NULL);
	memset(&t, 0xa5, sizeof(t));
	ASSERT_EQ(certtable_parse(zero, sizeof(zero), &t), 0);
	ASSERT_EQ(t.n_entries, 0);
	ASSERT_EQ(certtable_parse(zero, SNP_CERT_ENTRY_SIZE, &t), 0);
	ASSERT_EQ(t.n_entries, 0);
	ASSERT_EQ(certtable_parse(zero, 5, &t), 0);
	ASSERT_EQ(t.n_entries, 0);
	ASSERT_EQ(certtable_parse(NULL, 5, &t), -EINVAL);

	/* A terminator first and junk after it is an empty table too. */
	uint8_t junk[64] = {};
	junk[40] = 0x30;
	ASSERT_EQ(certtable_parse(junk, sizeof(junk), &t), 0);
	ASSERT_EQ(t.n_entries, 0);
	/* ... but non-zero bytes that fit no entry are not. */
	uint8_t shorty[10] = { 1 };
	ASSERT_EQ(certtable_parse(shorty, sizeof(shorty), &t), -EBADMSG);
}

/* Applies one edit to a copy of the (auxblob-sized) synthetic table and parses it. */
struct edit {
	const char *what;
	size_t at;      /* byte offset of the edit */
	uint32_t value; /* written as u32 LE at `at`, unless copy_from is set */
	int copy_from;  /* >= 0: copy 16 GUID bytes from this offset instead */
	size_t len;     /* buffer length to parse (0 = SYNTH_END) */
};

static int parse_edited(const uint8_t *orig, const struct edit *e, struct certtable *t)
{
	uint8_t buf[8192];

	memcpy(buf, orig, sizeof(buf));
	if (e->copy_from >= 0)
		memcpy(buf + e->at, buf + e->copy_from, 16);
	else if (e->at != SIZE_MAX)
		le32_put(buf + e->at, e->value);
	return certtable_parse(buf, e->len ? e->len : SYNTH_END, t);
}

TEST(certtable_malformed)
{
	/* Entry i: GUID at 24*i, offset at 24*i+16, length at 24*i+20. Terminator at 0x48. */
	static const struct edit edits[] = {
		{ "offset+length wraps u32", 16, 0xffffff00u, -1, 0 },
		{ "offset at u32 max", 40, UINT32_MAX, -1, 0 },
		{ "length at u32 max", 44, UINT32_MAX, -1, 0 },
		{ "last cert one byte past the end", 68, 0x050a, -1, 0 },
		{ "offset past the end", 64, SYNTH_END, -1, 0 },
		{ "offset into the table", 16, 0x0000, -1, 0 },
		{ "offset on the terminator", 40, 0x0048, -1, 0 },
		{ "offset one byte inside the table", 64, 0x005f, -1, 0 },
		{ "zero length", 20, 0, -1, 0 },
		{ "zero length on the last entry", 68, 0, -1, 0 },
		{ "duplicate ARK", 24, 0, 0, 0 },
		{ "duplicate VCEK", 0, 0, 48, 0 },
		{ "overlapping certificates", 40, 0x0060, -1, 0 },
		{ "overlap by one byte", 40, 0x06c6, -1, 0 },
		{ "zero GUID with an offset", 24, 0, 0x48, 0 },
		{ "terminator missing (table runs into ARK data)", 0x48, 0x01, -1, 0 },
		{ "truncated inside the table", SIZE_MAX, 0, -1, 0x40 },
		{ "truncated inside the terminator", SIZE_MAX, 0, -1, 0x5f },
	};
	size_t len;
	_cleanup_free_ uint8_t *orig = test_read_file(test_vector(SYNTH), &len);
	struct certtable t, sentinel;

	ASSERT_EQ(len, 8192);
	memset(&sentinel, 0x3c, sizeof(sentinel));
	for (size_t i = 0; i < ELEMENTSOF(edits); i++) {
		t = sentinel;
		int r = parse_edited(orig, &edits[i], &t);
		if (r != -EBADMSG)
			test_fail(__FILE__, __LINE__, "%s: got %d", edits[i].what, r);
		ASSERT_EQ(r, -EBADMSG);
		ASSERT_MEMEQ(&t, &sentinel, sizeof(t));
	}
	/* Control: adjacent certificates (no gap) and an unknown GUID are fine. */
	static const struct edit fine[] = {
		{ "ARK shortened by one", 20, 0x0666, -1, 0 },
		{ "unknown GUID", 5, 0x12345678, -1, 0 },
	};
	for (size_t i = 0; i < ELEMENTSOF(fine); i++)
		ASSERT_EQ(parse_edited(orig, &fine[i], &t), 0);
	ASSERT_EQ(t.entries[0].kind, SNP_CERT_OTHER);
	ASSERT_TRUE(certtable_find(&t, SNP_CERT_ARK) == NULL);
}

/* Writes n entries with GUID byte 0 = 0x40+i (unknown kinds) and 1-byte certificates. */
static size_t many_entries(uint8_t *buf, size_t cap, size_t n, bool dup_guid)
{
	size_t data = (n + 1) * SNP_CERT_ENTRY_SIZE;

	memset(buf, 0, cap);
	for (size_t i = 0; i < n; i++) {
		uint8_t *e = buf + i * SNP_CERT_ENTRY_SIZE;
		e[0] = dup_guid ? 0x40 : (uint8_t)(0x40 + i);
		e[15] = 0x01;
		le32_put(e + 16, (uint32_t)(data + i));
		le32_put(e + 20, 1);
		buf[data + i] = (uint8_t)(0x80 + i);
	}
	return data + n;
}

TEST(certtable_entry_limit)
{
	uint8_t buf[2048];
	struct certtable t;
	size_t len;

	len = many_entries(buf, sizeof(buf), CERTTABLE_MAX_ENTRIES, false);
	ASSERT_EQ(certtable_parse(buf, len, &t), 0);
	ASSERT_EQ(t.n_entries, CERTTABLE_MAX_ENTRIES);
	for (size_t i = 0; i < CERTTABLE_MAX_ENTRIES; i++) {
		ASSERT_EQ(t.entries[i].kind, SNP_CERT_OTHER);
		ASSERT_EQ(t.entries[i].len, 1);
		ASSERT_EQ(t.entries[i].data[0], 0x80 + i);
	}
	len = many_entries(buf, sizeof(buf), CERTTABLE_MAX_ENTRIES + 1, false);
	ASSERT_EQ(certtable_parse(buf, len, &t), -EBADMSG);
	/* An unknown GUID may repeat (only known kinds must be unambiguous). */
	len = many_entries(buf, sizeof(buf), 4, true);
	ASSERT_EQ(certtable_parse(buf, len, &t), 0);
	ASSERT_EQ(t.n_entries, 4);
}

TEST(certtable_offset_boundaries)
{
	/* One entry + terminator = 48 bytes; the data may start at 48, not at 47. */
	uint8_t buf[64] = SNP_GUID_ASK;
	struct certtable t;

	buf[48] = 0x30;
	buf[49] = 0x31;
	le32_put(buf + 20, 2);
	le32_put(buf + 16, 48);
	ASSERT_EQ(certtable_parse(buf, 50, &t), 0);
	ASSERT_EQ(t.n_entries, 1);
	ASSERT_EQ(t.entries[0].kind, SNP_CERT_ASK);
	ASSERT_TRUE(t.entries[0].data == buf + 48);
	ASSERT_EQ(certtable_parse(buf, 49, &t), -EBADMSG);
	le32_put(buf + 16, 47);
	ASSERT_EQ(certtable_parse(buf, 50, &t), -EBADMSG);
	/* Exactly to the end of the buffer, and one past it. */
	le32_put(buf + 16, 62);
	ASSERT_EQ(certtable_parse(buf, 64, &t), 0);
	le32_put(buf + 16, 63);
	ASSERT_EQ(certtable_parse(buf, 64, &t), -EBADMSG);
}

TEST(certtable_build_reproduces_synthetic)
{
	size_t len;
	_cleanup_free_ uint8_t *ref = test_read_file(test_vector(SYNTH), &len);
	_cleanup_free_ uint8_t *out = NULL;
	enum snp_cert_kind kinds[3];
	const uint8_t *ders[3];
	size_t lens[3], out_len = 0;
	struct certtable t;

	for (size_t i = 0; i < 3; i++) {
		kinds[i] = synth_layout[i].kind;
		ders[i] = ref + synth_layout[i].off;
		lens[i] = synth_layout[i].len;
	}
	ASSERT_EQ(certtable_build(kinds, ders, lens, 3, &out, &out_len), 0);
	ASSERT_EQ(out_len, len);
	ASSERT_MEMEQ(out, ref, len);
	ASSERT_EQ(certtable_parse(out, out_len, &t), 0);
	ASSERT_EQ(t.n_entries, 3);
}

TEST(certtable_build_roundtrip)
{
	static const enum snp_cert_kind order[] = { SNP_CERT_VLEK, SNP_CERT_CRL, SNP_CERT_ARK,
						    SNP_CERT_ASK, SNP_CERT_VCEK };
	static uint8_t blob[5][3000];
	const uint8_t *ders[5];
	size_t lens[5];

	for (size_t i = 0; i < 5; i++) {
		memset(blob[i], 0x11 * (int)(i + 1), sizeof(blob[i]));
		ders[i] = blob[i];
		lens[i] = 1 + i * 700;
	}
	for (size_t n = 0; n <= 5; n++) {
		_cleanup_free_ uint8_t *out = NULL;
		size_t out_len = 0, need = (n + 1) * SNP_CERT_ENTRY_SIZE;
		struct certtable t;

		for (size_t i = 0; i < n; i++)
			need += lens[i];
		ASSERT_EQ(certtable_build(order, ders, lens, n, &out, &out_len), 0);
		ASSERT_EQ(out_len % SNP_CERTS_PAGE, 0);
		ASSERT_GE(out_len, need);
		ASSERT_LT(out_len - need, SNP_CERTS_PAGE);
		ASSERT_TRUE(mem_is_zero(out + need, out_len - need));
		ASSERT_EQ(certtable_parse(out, out_len, &t), 0);
		ASSERT_EQ(t.n_entries, n);
		for (size_t i = 0; i < n; i++) {
			const struct certtable_entry *e = certtable_find(&t, order[i]);
			ASSERT_TRUE(e != NULL);
			ASSERT_EQ(e->len, lens[i]);
			ASSERT_MEMEQ(e->data, ders[i], lens[i]);
		}
	}

	/* Exactly one page: no extra padding page. */
	_cleanup_free_ uint8_t *page = NULL;
	size_t page_len = 0, exact = SNP_CERTS_PAGE - 2 * SNP_CERT_ENTRY_SIZE;
	static uint8_t big[SNP_CERTS_PAGE];
	const uint8_t *bp = big;
	enum snp_cert_kind vcek = SNP_CERT_VCEK;
	big[0] = 0x30;
	ASSERT_EQ(certtable_build(&vcek, &bp, &exact, 1, &page, &page_len), 0);
	ASSERT_EQ(page_len, SNP_CERTS_PAGE);
}

TEST(certtable_build_invalid)
{
	static const uint8_t der[4] = { 0x30, 0x02, 0x05, 0x00 };
	const uint8_t *ders[CERTTABLE_MAX_ENTRIES + 1];
	size_t lens[CERTTABLE_MAX_ENTRIES + 1];
	enum snp_cert_kind kinds[CERTTABLE_MAX_ENTRIES + 1];
	uint8_t *out = (uint8_t *)&lens; /* sentinel: must stay untouched */
	size_t out_len = 12345;

	for (size_t i = 0; i <= CERTTABLE_MAX_ENTRIES; i++) {
		ders[i] = der;
		lens[i] = sizeof(der);
		kinds[i] = (enum snp_cert_kind)(i % SNP_CERT_OTHER);
	}
	kinds[1] = SNP_CERT_OTHER;
	ASSERT_EQ(certtable_build(kinds + 1, ders, lens, 1, &out, &out_len), -EINVAL);
	kinds[1] = _SNP_CERT_KIND_INVALID;
	ASSERT_EQ(certtable_build(kinds + 1, ders, lens, 1, &out, &out_len), -EINVAL);
	kinds[1] = _SNP_CERT_KIND_MAX;
	ASSERT_EQ(certtable_build(kinds + 1, ders, lens, 1, &out, &out_len), -EINVAL);
	kinds[1] = SNP_CERT_ARK; /* kinds[0] is ARK too */
	ASSERT_EQ(certtable_build(kinds, ders, lens, 2, &out, &out_len), -EINVAL);
	kinds[1] = SNP_CERT_ASK;
	lens[1] = 0;
	ASSERT_EQ(certtable_build(kinds, ders, lens, 2, &out, &out_len), -EINVAL);
	lens[1] = sizeof(der);
	ders[1] = NULL;
	ASSERT_EQ(certtable_build(kinds, ders, lens, 2, &out, &out_len), -EINVAL);
	ders[1] = der;
	lens[1] = (size_t)UINT32_MAX + 1;
	ASSERT_EQ(certtable_build(kinds, ders, lens, 2, &out, &out_len), -EINVAL);
	lens[1] = UINT32_MAX - 10; /* fits alone, not after the table */
	ASSERT_EQ(certtable_build(kinds, ders, lens, 2, &out, &out_len), -EINVAL);
	lens[1] = sizeof(der);
	ASSERT_EQ(certtable_build(kinds, ders, lens, CERTTABLE_MAX_ENTRIES + 1, &out, &out_len),
		  -EINVAL);
	ASSERT_EQ(certtable_build(NULL, ders, lens, 1, &out, &out_len), -EINVAL);
	ASSERT_EQ(certtable_build(kinds, ders, lens, 2, NULL, &out_len), -EINVAL);
	ASSERT_TRUE(out == (uint8_t *)&lens);
	ASSERT_EQ(out_len, 12345);
}

TEST(certtable_kind_strings)
{
	ASSERT_STREQ(snp_cert_kind_to_string(SNP_CERT_ARK), "ark");
	ASSERT_STREQ(snp_cert_kind_to_string(SNP_CERT_ASK), "ask");
	ASSERT_STREQ(snp_cert_kind_to_string(SNP_CERT_VCEK), "vcek");
	ASSERT_STREQ(snp_cert_kind_to_string(SNP_CERT_VLEK), "vlek");
	ASSERT_STREQ(snp_cert_kind_to_string(SNP_CERT_CRL), "crl");
	ASSERT_STREQ(snp_cert_kind_to_string(SNP_CERT_OTHER), "other");
	ASSERT_TRUE(snp_cert_kind_to_string(_SNP_CERT_KIND_MAX) == NULL);
	ASSERT_TRUE(snp_cert_kind_to_string(_SNP_CERT_KIND_INVALID) == NULL);
}
