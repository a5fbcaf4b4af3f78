/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Coalescing of read-only successes (kek.show, dek.load) in the chained audit log: per
 * principal (uid), event and key, at most one chained record per AUDIT_COALESCE_SEC. The
 * successes in between go to the journal only and are counted; the next chained record of the
 * same principal, event and key carries "count" = itself plus those, and vhsmd's stop writes
 * one record per principal with successes still uncounted. Keeps an unprivileged caller from
 * growing the fsync'ed chain with requests that change nothing.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "vhsmd.h"

#define AUDIT_COALESCE_SEC 60u
#define AUDIT_COALESCE_SLOTS 256u

/*
 * Decides for one read-only success of peer p: returns true when it goes to the chain, with
 * *ret_count the number of successes the record stands for (>= 1); false when it is counted
 * and goes to the journal only. now_sec is a monotonic clock in seconds. When the table is full
 * of open windows the success is chained (never lost). Does not log.
 */
bool audit_coalesce_admit(const struct peer *p, const char *event, const char *key,
			  uint64_t now_sec, uint32_t *ret_count);

/*
 * Writes one chained record for every window with uncounted successes and empties the
 * table (vhsmd calls it before "daemon.stop"). Returns 0 or the first audit_log() error.
 */
int audit_coalesce_flush(struct manager *m);
