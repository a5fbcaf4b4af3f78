/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Collateral cache: the AMD certificates and CRLs that verify a report, kept in a directory so
 * that attestation never needs the network once they are cached. Entries:
 *   <dir>/<product>/vcek-<hwid hex>-<tcb 16 hex>.der   a VCEK (per chip and per TCB)
 *   <dir>/<product>/{ask,asvk,ark}.der                  the chain (KDS cert_chain)
 *   <dir>/<product>/crl.der                             the ARK's CRL (KDS .../crl); a CRL
 *                                                       never replaces a newer one
 * Every entry is filed by what the certificate itself says (product name, hwID and SPL
 * extensions, subject CN), never by what a caller or a file name claims, and every input is
 * untrusted: the cache only decides which bytes the verifier sees, the verifier decides
 * whether they are trusted. Sources: a GHCB certificate table (extended report, configfs-tsm
 * auxblob), DER or PEM files and bundles (AMD KDS responses), Azure THIM JSON and ACI's
 * host-amd-cert-base64. Library code; logs at debug level only.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "snp-report.h"

struct snp_evidence;

#define COLLATERAL_FILE_MAX (1024u * 1024u) /* largest file imported or read from the cache */

/* What a VCEK is filed under: product, hwID (CHIP_ID; 8 bytes on Turin) and TCB. */
struct collateral_id {
	enum snp_product product;
	size_t hwid_len;
	uint8_t hwid[64];
	uint64_t tcb; /* REPORTED_TCB, raw */
};

/*
 * The id a report's VCEK is filed under: product p (from the report's CPUID, or the caller's
 * guess for a version 2 report), CHIP_ID and REPORTED_TCB. -EINVAL for an invalid product.
 */
int collateral_id_from_report(const struct snp_report *r, enum snp_product p,
			      struct collateral_id *ret) _wur_;

/* The id a DER VCEK says it belongs to. -EBADMSG when it is no VCEK with the AMD extensions. */
int collateral_id_from_vcek(const uint8_t *der, size_t len, struct collateral_id *ret) _wur_;

/* What an import added: counts per kind (a file that repeats a cached entry counts too). */
struct collateral_added {
	unsigned vcek, ask, asvk, ark, crl;
};

/*
 * Imports one source into the cache at dir (created if missing, mode 0755; files 0644,
 * written atomically; NULL: parse and count only, write nothing): a certificate (DER or PEM), a PEM bundle, a CRL (DER or PEM), THIM JSON
 * ({"vcekCert", "certificateChain", ...}), the base64 of THIM JSON (ACI), or a GHCB
 * certificate table. The kind is detected. Nothing is written unless the whole source parses.
 * Returns 0 and counts in *ret_added (may be NULL), -EBADMSG for unrecognised or malformed
 * input (why in err), -EMSGSIZE past COLLATERAL_FILE_MAX, or -errno from the file system.
 */
int collateral_import(const char *dir, const uint8_t *buf, size_t len,
		      struct collateral_added *ret_added, char *err, size_t errlen) _wur_;

/* Same, for the GHCB certificate table of an extended report only (no detection). */
int collateral_import_certtable(const char *dir, const uint8_t *buf, size_t len,
				struct collateral_added *ret_added, char *err, size_t errlen) _wur_;

/* Cached collateral for one report (DER, malloc'ed; NULL when not cached). */
struct collateral {
	uint8_t *vek, *ask, *ark, *crl;
	size_t vek_len, ask_len, ark_len, crl_len;
};

/* Frees what c holds and zeroes it; c itself may be on the stack. Accepts NULL. */
void collateral_done(struct collateral *c);

/*
 * Looks up the cache for id: the VCEK (only when want_vcek), the ASK (ASVK when vlek), the ARK
 * and the CRL of that chain. Missing entries stay NULL. Returns 0, -ENOENT when the cache
 * directory does not exist, or -errno (a damaged entry is left to the verifier to refuse).
 */
int collateral_lookup(const char *dir, const struct collateral_id *id, bool want_vcek, bool vlek,
		      struct collateral *ret) _wur_;

/* One cache entry, as collateral_list() reports it. */
struct collateral_entry {
	enum snp_product product;
	const char *kind;   /* "vcek", "ask", "asvk", "ark", "crl" */
	const char *file;   /* name inside <dir>/<product> */
	char detail[192];   /* hwID/TCB for a VCEK, validity or next update otherwise */
};

/*
 * Calls fn for every entry in the cache, sorted by product and file name. Returns 0, -ENOENT
 * when dir does not exist, a negative value fn returned, or -errno.
 */
int collateral_list(const char *dir, int (*fn)(const struct collateral_entry *e, void *userdata),
		    void *userdata) _wur_;

/* The KDS URLs for id under base (e.g. "https://kdsintf.amd.com"): the VCEK, the chain and the
 * CRL of the VCEK (vlek=false) or VLEK chain. Return a malloc'ed string or NULL (ENOMEM). */
char *collateral_kds_vcek_url(const char *base, const struct collateral_id *id);
char *collateral_kds_chain_url(const char *base, enum snp_product p, bool vlek);
char *collateral_kds_crl_url(const char *base, enum snp_product p, bool vlek);

/*
 * Fetches from AMD KDS at base (e.g. "https://kdsintf.amd.com") into the cache at dir: the
 * chain (VLEK chain when vlek), the ARK's CRL, and unless vlek the VCEK for id, which must
 * then be cached under id (a VCEK for another chip or TCB is refused). Every answer goes
 * through collateral_import(). Returns 0 with counts, or -errno with the failing URL's reason
 * in why (-EBUSY: rate-limited).
 */
int collateral_fetch_kds(const char *dir, const char *base, const struct collateral_id *id,
			 bool vlek, struct collateral_added *ret_added, char *why,
			 size_t whylen) _wur_;

/* Fetches Azure THIM JSON from url (sent with "Metadata: true") into the cache at dir. */
int collateral_fetch_thim(const char *dir, const char *url, struct collateral_added *ret_added,
			  char *why, size_t whylen) _wur_;

#define COLLATERAL_DIR_DEFAULT "/var/lib/vhsm/collateral"
#define COLLATERAL_KDS_DEFAULT "https://kdsintf.amd.com"
#define COLLATERAL_THIM_DEFAULT "http://169.254.169.254/metadata/THIM/amd/certification"

/*
 * Completes ev (whose members from the host's table may be NULL) for report from the cache at
 * dir (NULL: no cache): the leaf when ev has none (a VCEK; VLEKs are not cached), the ASK or
 * ASVK and the ARK when ev has none, and the CRL into *ret_hold. *ret_hold owns every buffer
 * ev then points to: release it with collateral_done() after snp_verify(). summary gets one
 * line saying where the certificates and the CRL came from. Never fails: what is missing
 * stays missing, for the verifier to name. Logs at debug level only.
 */
void collateral_complete_evidence(const char *dir, const uint8_t report[static SNP_REPORT_SIZE],
				  struct snp_evidence *ev, struct collateral *ret_hold,
				  char *summary, size_t summary_len);
