/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsmd's evidence on the vtpm platform (docs/PROTOCOL.md "Evidence"): the paravisor's HCL
 * report whose claims' user-data is the 64 bytes a request binds, and the certificate table
 * vhsmd adds to it from its collateral cache (Azure hosts give none). Pure functions over
 * untrusted bytes and the cache; never log.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "hcl-attest.h"
#include "macro.h"

/*
 * Whether the HCL report buf[0..len) is this vTPM's answer to data: the layout, the claims
 * bound by the SNP report's REPORT_DATA, their user-data equal to data, their AK equal to
 * ak[0..ak_len) (this vTPM's). Not the SNP report's chain (hcl_verify). Returns 0, -EBADMSG
 * (malformed or claims not bound), -ESTALE (the user-data is other data: the paravisor has not
 * answered this request), or -EKEYREJECTED (another AK: another VM's report); why names it.
 */
int hcl_evidence_check(const uint8_t *buf, size_t len, const uint8_t *ak, size_t ak_len,
		       const uint8_t data[static HCL_USER_DATA_SIZE], char *why,
		       size_t whylen) _wur_;

/*
 * A GHCB certificate table for the SNP report inside the HCL report buf[0..len): its VCEK (or
 * VLEK), ASK and ARK from the collateral cache at dir (NULL: none), as far as cached; an
 * empty table when none is. Returns 0 with a malloc'ed table in *ret, -EBADMSG when buf is not
 * an HCL report, or -ENOMEM.
 */
int hcl_evidence_certs(const char *dir, const uint8_t *buf, size_t len, uint8_t **ret,
		       size_t *ret_len) _wur_;
