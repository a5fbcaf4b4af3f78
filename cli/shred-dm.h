/* SPDX-License-Identifier: Apache-2.0 */
/* Suspending plain dm-crypt mappings keyed by vhsm DEKs (see shred-dm.c). */
#pragma once

/*
 * Suspends every active dm-crypt mapping whose table key is the logon key of one of deks
 * (NULL-terminated names) and wipes its key ("key wipe"). report(volume, 0 or -errno) is
 * called for each. Returns the number of failures (suspend, wipe or report), or -EIO when
 * device-mapper is there but cannot be listed. Needs CAP_SYS_ADMIN.
 */
int shred_plain_mappings(char *const *deks, int (*report)(const char *volume, int result));

/*
 * Suspends the active mapping name and wipes its key ("key wipe"), as luksSuspend does, through
 * device-mapper alone (no header needed). Returns 0 or -EIO. Needs CAP_SYS_ADMIN.
 */
int shred_mapping(const char *name);

/*
 * Calls fn(volume, userdata) for every active dm-crypt mapping whose table key is the logon key
 * of one of deks: what shred_plain_mappings() would suspend. Returns the number of fn's
 * negative returns, or -EIO when device-mapper is there but cannot be listed.
 */
int plain_mappings_of_deks(char *const *deks, int (*fn)(const char *volume, void *userdata),
			   void *userdata);
