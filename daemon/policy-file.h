/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The attestation policy file of vhsmd. A file that cannot be read or parsed does not stop
 * the daemon: it fails closed (m->policy is NULL, the gate releases nothing and names the
 * error) and the corrected file is picked up on reload (SIGHUP) or on the next request after
 * the file changed.
 */
#pragma once

#include "vhsmd.h"

/*
 * Reads m->policy_path now and makes it the policy in force, or, when it is invalid, records
 * the error and drops the policy (fail closed). A missing default file means the built-in
 * default; a missing --policy file is an error. Logs a change of state once (journal or
 * stderr). When the policy in force changed, the last attestation no longer counts.
 * Returns 0 (valid policy in force), -ENOMEM, or the -errno of the invalid file.
 */
int policy_file_load(struct manager *m);

/* Without a word from the watch, the file is still checked at least this often. */
#define POLICY_RECHECK_USEC 1000000u

/*
 * Watches m->policy_path's directory (inotify, on m->event, before any connection) so that
 * policy_file_refresh() needs no stat(2) while nothing touched the file. Without a watch (a
 * relative path, a symbolic link in the path, no inotify) every refresh stats the file, as
 * always. Failures are logged at debug only.
 */
void policy_file_watch(struct manager *m);

/*
 * Reloads the file when it was created, removed, replaced or modified since it was last read
 * (device, inode, size, mtime, ctime). With a watch, one stat(2) only after the watch saw the
 * file's name change (or lost track) or POLICY_RECHECK_USEC after the last one; without, one
 * stat(2) every call. Returns what policy_file_load() returned, or 0/-errno for the unchanged
 * policy's state.
 */
int policy_file_refresh(struct manager *m);
