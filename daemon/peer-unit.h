/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The systemd unit a connecting process runs in, for ACL entries "unit:NAME" and the audit: the
 * same answer as libsystemd's sd_pid_get_unit() (systemd 252), found with one read of
 * /proc/PID/cgroup. sd_peer_get_unit() reads that file and init's through stdio at every call
 * (about a fifth of vhsmd's CPU time for a request-key upcall); the cgroup mode and init's
 * cgroup (the root that paths are relative to, as in a container) do not change while vhsmd
 * runs and are read once.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * The unit of the cgroup file text[0..len) (the contents of /proc/PID/cgroup): the hierarchy
 * line "0::PATH" when unified (cgroup v2, or systemd's hierarchy in hybrid mode), else the
 * "name=systemd" line; PATH made relative to root (init's cgroup without "/init.scope", or
 * NULL for none); then the first path component after the slices that is a valid unit name
 * (a leading '_' unescaped) and no slice. 0 with the name in ret (retlen bytes), -ENXIO when
 * the path names no unit, -ENODATA without the line, -ENAMETOOLONG when it does not fit. Pure.
 */
int peer_unit_from_cgroup(const char *text, size_t len, bool unified, const char *root, char *ret,
			  size_t retlen);
/* Whether name is a valid plain or instance unit name (systemd's unit_name_is_valid()). */
bool peer_unit_name_valid(const char *name, size_t len);
/* The unit of process pid into ret (retlen bytes): 0, or -errno (-ESRCH: no such process).
 * The cgroup mode and root are determined at the first call. Does not log. */
int peer_unit_get(pid_t pid, char *ret, size_t retlen);
