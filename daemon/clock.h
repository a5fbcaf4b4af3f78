/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest's wall clock as the lifecycle checks use it. Under SEV-SNP the guest's time comes
 * from the host (kvmclock) unless the CVM runs with Secure TSC, so the checks are written to
 * fail safe (docs/SECURITY.md, "Guest clock"): a check that must not pass early compares
 * against the wall clock only (a clock moved backwards delays it), and a check that must not
 * pass late compares against the latest time the daemon has seen, a high-water mark that a
 * clock moved backwards does not lower. A check that must not pass early (purge protection)
 * also discounts a wall clock moved forwards: the wall clock's lead over CLOCK_BOOTTIME since
 * the earliest anchor of this boot (vhsmd's first start in this boot, kept in the store
 * manifest; without one, this start) is taken off, so only time the boot-time clock also saw counts.
 */
#pragma once

#include <stdint.h>

#include "vhsmd.h"

/*
 * Loads the high-water mark from <state>/clock (absent: 0) and sets the start anchor. Returns 0
 * or -errno; logs nothing.
 */
int clock_load(struct manager *m);

/*
 * Seconds since the epoch: time(NULL), or the test clock (--test-clock FILE, simulator only:
 * "WALL [BOOT]" in FILE, read at every call; BOOT, when given, stands for CLOCK_BOOTTIME). Raises the high-water mark and saves it when it
 * advanced (only lifecycle and BYOK operations read the clock). A test clock that cannot be
 * read counts as time(NULL).
 */
uint64_t clock_wall(struct manager *m);

/* max(clock_wall(), high-water mark): the latest time this daemon has seen. */
uint64_t clock_latest(struct manager *m);

/* Raises the high-water mark to t (an authenticated timestamp: sealed metadata). */
void clock_observe(struct manager *m, uint64_t t);

/* Microseconds of CLOCK_MONOTONIC (intervals within this run: timers, freshness). */
uint64_t clock_mono_usec(void);

/* Seconds of CLOCK_BOOTTIME (or the test clock's BOOT). */
uint64_t clock_boottime(struct manager *m);

/*
 * Seconds the wall clock is ahead of CLOCK_BOOTTIME since the earliest anchor of this boot (0
 * when it is not): a clock moved forwards by the host, or stepped by NTP. Sets *ret_since (may be NULL) to the
 * wall-clock time of the anchor it is measured from.
 */
uint64_t clock_forward_jump(struct manager *m, uint64_t *ret_since);

/* clock_wall() minus clock_forward_jump(): for checks that must not pass early. */
uint64_t clock_trusted(struct manager *m);

/* Takes a (same-boot) anchor read from the store manifest into *a (the manager's clock_boot),
 * if it is earlier than the one held there. */
void clock_anchor_merge(struct clock_anchor *a, uint64_t wall, uint64_t boot);

/* The earliest anchor of this boot, to persist: the restored one, else vhsmd's start. */
struct clock_anchor clock_anchor_of_boot(const struct manager *m);

/* t as "YYYY-MM-DDTHH:MM:SSZ" in buf (returned). */
const char *clock_iso(uint64_t t, char buf[static 32]);

/*
 * For purge protection ending at until, once the wall clock has reached it: 0 when the
 * boot-time clock confirms the time passed, else -EPERM with why (the wall clock's lead and
 * from when the purge is possible on time that the boot-time clock saw). Logs nothing.
 */
int clock_check_purge(struct manager *m, uint64_t until, char *why, size_t whylen);
