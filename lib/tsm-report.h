/* SPDX-License-Identifier: Apache-2.0 */
/*
 * configfs-tsm as a report source (the kernel's generic attestation report interface).
 * Library code; logs at debug level only.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "snp-abi.h"

#define TSM_REPORT_ROOT_DEFAULT "/sys/kernel/config/tsm/report"

/*
 * configfs-tsm report (Linux >= 6.7) below root (normally /sys/kernel/config/tsm/report):
 * a report (outblob) and the certificate table (auxblob, may be empty). Returns -ENOENT when
 * configfs-tsm is not there, -EOPNOTSUPP for another provider, -EAGAIN on a generation race.
 */
int snp_tsm_get_report(const char *root, const uint8_t report_data[static 64], uint32_t vmpl,
		       uint8_t ret_report[static SNP_REPORT_SIZE], uint8_t **ret_certs,
		       size_t *ret_certs_len) _wur_;

