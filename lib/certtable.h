/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GHCB certificate table (SNP_GET_EXT_REPORT buffer, configfs-tsm auxblob): 24-byte entries
 * {GUID[16], offset u32 LE, length u32 LE} ended by an all-zero entry, followed by DER
 * certificates; offsets count from the start of the buffer. GUIDs are in RFC 4122 order.
 * Pure functions over untrusted bytes; never log.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "macro.h"

enum snp_cert_kind {
	SNP_CERT_ARK,
	SNP_CERT_ASK, /* also used for the ASVK */
	SNP_CERT_VCEK,
	SNP_CERT_VLEK,
	SNP_CERT_CRL,
	SNP_CERT_OTHER,
	_SNP_CERT_KIND_MAX,
	_SNP_CERT_KIND_INVALID = -EINVAL,
};

const char *snp_cert_kind_to_string(enum snp_cert_kind k); /* "ark", "ask", "vcek", ... */

#define CERTTABLE_MAX_ENTRIES 32u

struct certtable_entry {
	uint8_t guid[16];
	enum snp_cert_kind kind;
	const uint8_t *data; /* points into the parsed buffer */
	size_t len;
};

struct certtable {
	size_t n_entries;
	struct certtable_entry entries[CERTTABLE_MAX_ENTRIES];
};

/*
 * Parses buf[0..len). An all-zero buffer (or len 0) is a valid empty table. Each entry's
 * offset+length must lie inside the buffer and after the table, the table must be terminated
 * within the buffer and have at most CERTTABLE_MAX_ENTRIES entries, and a known GUID may
 * appear only once. Returns 0 (entries point into buf, which must outlive *ret) or -EBADMSG.
 */
int certtable_parse(const uint8_t *buf, size_t len, struct certtable *ret) _wur_;

/* First entry of kind k, or NULL. */
const struct certtable_entry *certtable_find(const struct certtable *t, enum snp_cert_kind k);

/*
 * Builds a table with the given certificates (kinds + DER blobs), padded with zeros to a
 * multiple of 4096 bytes. Returns 0 with a malloc'ed buffer, or -EINVAL/-ENOMEM.
 */
int certtable_build(const enum snp_cert_kind *kinds, const uint8_t *const *ders,
		    const size_t *lens, size_t n, uint8_t **ret_buf, size_t *ret_len) _wur_;
