/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The require_fresh_sync_s gate (docs/fleet.md): what the store asks before a KEK pulled from
 * the key manager is used. Kept apart from fleet.c, which updates it after each sync, so that
 * the store below the fleet service never calls up into it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

struct fleet_fresh {
	uint32_t require_s;      /* require_fresh_sync_s; 0: off */
	bool ok;                 /* passed once since vhsmd started: stays open */
	bool applying;           /* a sync's result is being applied to the store */
	uint64_t last_ok_mono;   /* CLOCK_MONOTONIC µs of the last successful sync; 0: none */
	const char *last_error;  /* the last sync's error, "" when none (owned by fleet.c) */
	sd_event_source *kick;   /* fleet.c's deferred "start a sync", enabled once per check */
};

/*
 * The gate for KEK kek: 0 when f is NULL (no fleet mode), the option is off, a sync succeeded
 * within it since vhsmd started (then the gate stays open), or a sync applies its result; else
 * asks fleet.c for a sync (f->kick) and returns -EKEYREJECTED with why.
 */
int fleet_fresh_check(struct fleet_fresh *f, const char *kek, char *why, size_t whylen);
