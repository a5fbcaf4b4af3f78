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

/*
 * Reloads the file when it was created, removed, replaced or modified since it was last read
 * (device, inode, size, mtime, ctime). Cheap: one stat(2). Returns what policy_file_load()
 * returned, or 0/-errno for the unchanged policy's state.
 */
int policy_file_refresh(struct manager *m);
