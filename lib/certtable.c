/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GHCB certificate table (SNP-ABI.md section 5). The table comes from the host, so the parser
 * checks every offset and length in 64-bit arithmetic against the buffer, refuses data that
 * overlaps the table or another entry, and refuses ambiguity (a known GUID twice). The builder
 * writes only tables the parser accepts.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "certtable.h"
#include "snp-abi.h"

_Static_assert(SNP_CERT_ENTRY_SIZE == 24, "GHCB cert table entry size");

#define ENTRY_GUID_LEN 16u
#define ENTRY_OFF_OFFSET 16u
#define ENTRY_LEN_OFFSET 20u

static const struct {
	uint8_t guid[ENTRY_GUID_LEN];
	const char *name;
} cert_kinds[_SNP_CERT_KIND_MAX] = {
	[SNP_CERT_ARK] = { SNP_GUID_ARK, "ark" },
	[SNP_CERT_ASK] = { SNP_GUID_ASK, "ask" },
	[SNP_CERT_VCEK] = { SNP_GUID_VCEK, "vcek" },
	[SNP_CERT_VLEK] = { SNP_GUID_VLEK, "vlek" },
	[SNP_CERT_CRL] = { SNP_GUID_CRL, "crl" },
	[SNP_CERT_OTHER] = { {}, "other" }, /* no GUID of its own */
};

const char *snp_cert_kind_to_string(enum snp_cert_kind k)
{
	if (k < 0 || k >= _SNP_CERT_KIND_MAX)
		return NULL;
	return cert_kinds[k].name;
}

static enum snp_cert_kind kind_from_guid(const uint8_t guid[static ENTRY_GUID_LEN])
{
	for (int k = 0; k < SNP_CERT_OTHER; k++)
		if (memcmp(guid, cert_kinds[k].guid, ENTRY_GUID_LEN) == 0)
			return k;
	return SNP_CERT_OTHER;
}

/* True when [a_off, a_off+a_len) and [b_off, b_off+b_len) share a byte (lengths > 0). */
static bool ranges_overlap(uint64_t a_off, uint64_t a_len, uint64_t b_off, uint64_t b_len)
{
	return a_off < b_off + b_len && b_off < a_off + a_len;
}

/*
 * Counts the entries before the all-zero terminator. -EBADMSG when the terminator is not
 * within buf or more than CERTTABLE_MAX_ENTRIES entries precede it.
 */
static int table_count(const uint8_t *buf, size_t len, size_t *ret_n)
{
	for (size_t i = 0; i <= CERTTABLE_MAX_ENTRIES; i++) {
		const uint8_t *e;

		if (len / SNP_CERT_ENTRY_SIZE <= i)
			return -EBADMSG; /* unterminated */
		e = buf + i * SNP_CERT_ENTRY_SIZE;
		if (mem_is_zero(e, SNP_CERT_ENTRY_SIZE)) {
			*ret_n = i;
			return 0;
		}
	}
	return -EBADMSG; /* too many entries */
}

/* Checks one entry against the buffer and the entries before it, and fills *ret. */
static int entry_parse(const uint8_t *buf, size_t len, size_t table_end,
		       const struct certtable *t, size_t i, struct certtable_entry *ret)
{
	const uint8_t *e = buf + i * SNP_CERT_ENTRY_SIZE;
	uint64_t off = le32_get(e + ENTRY_OFF_OFFSET), n = le32_get(e + ENTRY_LEN_OFFSET);
	enum snp_cert_kind kind;

	/* A zero GUID only ends the table; with an offset or length it is malformed. */
	if (mem_is_zero(e, ENTRY_GUID_LEN) || n == 0)
		return -EBADMSG;
	/* u32 + u32 cannot overflow u64; the data must lie after the table, inside buf. */
	if (off < table_end || off + n > (uint64_t)len)
		return -EBADMSG;
	kind = kind_from_guid(e);
	for (size_t j = 0; j < i; j++) {
		const struct certtable_entry *o = &t->entries[j];
		uint64_t o_off = (uint64_t)(o->data - buf);

		if (kind != SNP_CERT_OTHER && o->kind == kind)
			return -EBADMSG;
		if (ranges_overlap(off, n, o_off, o->len))
			return -EBADMSG;
	}
	memcpy(ret->guid, e, ENTRY_GUID_LEN);
	ret->kind = kind;
	ret->data = buf + off;
	ret->len = (size_t)n;
	return 0;
}

int certtable_parse(const uint8_t *buf, size_t len, struct certtable *ret)
{
	struct certtable t = {};
	size_t n, table_end;
	int r;

	if (!ret || (!buf && len > 0))
		return -EINVAL;
	/* No certificates: the driver hands back a zeroed buffer, configfs an empty one. */
	if (len == 0 || mem_is_zero(buf, len)) {
		*ret = t;
		return 0;
	}
	r = table_count(buf, len, &n);
	if (r < 0)
		return r;
	table_end = (n + 1) * SNP_CERT_ENTRY_SIZE;
	for (size_t i = 0; i < n; i++) {
		r = entry_parse(buf, len, table_end, &t, i, &t.entries[i]);
		if (r < 0)
			return r;
		t.n_entries = i + 1;
	}
	*ret = t;
	return 0;
}

const struct certtable_entry *certtable_find(const struct certtable *t, enum snp_cert_kind k)
{
	if (!t)
		return NULL;
	for (size_t i = 0; i < t->n_entries && i < CERTTABLE_MAX_ENTRIES; i++)
		if (t->entries[i].kind == k)
			return &t->entries[i];
	return NULL;
}

/* Validates the builder's input and returns the unpadded size through *ret_size. */
static int build_check(const enum snp_cert_kind *kinds, const uint8_t *const *ders,
		       const size_t *lens, size_t n, uint64_t *ret_size)
{
	uint64_t size = (uint64_t)(n + 1) * SNP_CERT_ENTRY_SIZE;
	unsigned seen = 0;

	if (n > CERTTABLE_MAX_ENTRIES || (n > 0 && (!kinds || !ders || !lens)))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		/* OTHER has no GUID to write; a kind twice would not parse back. */
		if (kinds[i] < 0 || kinds[i] >= SNP_CERT_OTHER || (seen & (1u << kinds[i])))
			return -EINVAL;
		seen |= 1u << kinds[i];
		if (!ders[i] || lens[i] == 0 || lens[i] > UINT32_MAX)
			return -EINVAL;
		size += lens[i];
		/* Every offset and length must fit the table's u32 fields. */
		if (size > UINT32_MAX)
			return -EINVAL;
	}
	*ret_size = size;
	return 0;
}

int certtable_build(const enum snp_cert_kind *kinds, const uint8_t *const *ders,
		    const size_t *lens, size_t n, uint8_t **ret_buf, size_t *ret_len)
{
	uint64_t size, off;
	uint8_t *buf;
	int r;

	if (!ret_buf || !ret_len)
		return -EINVAL;
	r = build_check(kinds, ders, lens, n, &size);
	if (r < 0)
		return r;
	/* The guest's buffer is in pages (SNP_GET_EXT_REPORT); no overflow: size <= 2^32. */
	size = (size + SNP_CERTS_PAGE - 1) / SNP_CERTS_PAGE * SNP_CERTS_PAGE;
	if ((size_t)size != size)
		return -EINVAL;
	buf = calloc(1, (size_t)size);
	if (!buf)
		return -ENOMEM;
	off = (uint64_t)(n + 1) * SNP_CERT_ENTRY_SIZE; /* entries, then the zero terminator */
	for (size_t i = 0; i < n; i++) {
		uint8_t *e = buf + i * SNP_CERT_ENTRY_SIZE;

		memcpy(e, cert_kinds[kinds[i]].guid, ENTRY_GUID_LEN);
		le32_put(e + ENTRY_OFF_OFFSET, (uint32_t)off);
		le32_put(e + ENTRY_LEN_OFFSET, (uint32_t)lens[i]);
		memcpy(buf + off, ders[i], lens[i]);
		off += lens[i];
	}
	*ret_buf = buf;
	*ret_len = (size_t)size;
	return 0;
}
