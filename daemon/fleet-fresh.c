/* SPDX-License-Identifier: Apache-2.0 */
/* The require_fresh_sync_s gate (see fleet-fresh.h). */
#include <errno.h>
#include <stdio.h>

#include "clock.h"
#include "fleet-fresh.h"

int fleet_fresh_check(struct fleet_fresh *f, const char *kek, char *why, size_t whylen)
{
	const char *error;

	if (!f || !f->require_s || f->ok || f->applying)
		return 0;
	if (f->last_ok_mono && clock_mono_usec() - f->last_ok_mono <= (uint64_t)f->require_s * 1000000u) {
		f->ok = true;
		return 0;
	}
	if (f->kick)
		(void)sd_event_source_set_enabled(f->kick, SD_EVENT_ONESHOT);
	error = f->last_error ? f->last_error : "";
	snprintf(why, whylen, "KEK %s is from the key manager and no sync within "
		 "require_fresh_sync_s=%u s has succeeded since vhsmd started%s%s", kek,
		 f->require_s, error[0] ? ": " : " (one is running)", error);
	return -EKEYREJECTED;
}
