/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest's wall clock as the lifecycle checks use it. Under SEV-SNP the guest's time comes
 * from the host (kvmclock) unless the CVM runs with Secure TSC, so the checks are written to
 * fail safe (docs/SECURITY.md, "Guest clock"): a check that must not pass early compares
 * against the wall clock only (a clock moved backwards delays it), and a check that must not
 * pass late compares against the latest time the daemon has seen, a high-water mark that a
 * clock moved backwards does not lower.
 */
#pragma once

#include <stdint.h>

#include "vhsmd.h"

/* Loads the high-water mark from <state>/clock (absent: 0). Returns 0 or -errno; logs nothing. */
int clock_load(struct manager *m);

/*
 * Seconds since the epoch: time(NULL), or the test clock (--test-clock FILE, simulator only:
 * the number in FILE, read at every call). Raises the high-water mark and saves it when it
 * advanced (only lifecycle and BYOK operations read the clock). A test clock that cannot be
 * read counts as time(NULL).
 */
uint64_t clock_wall(struct manager *m);

/* max(clock_wall(), high-water mark): the latest time this daemon has seen. */
uint64_t clock_latest(struct manager *m);

/* Raises the high-water mark to t (an authenticated timestamp: sealed metadata). */
void clock_observe(struct manager *m, uint64_t t);
