/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Directories read relative to a directory fd (openat(2) + fdopendir(3)), so the state files'
 * walks name no path buffers and own their fd in one place. Library code; never logs.
 */
#pragma once

#include <dirent.h>
#include <stddef.h>

#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir);

/*
 * Opens path relative to dir_fd (AT_FDCWD for the working directory) as a directory stream,
 * close-on-exec. Returns 0 and sets *ret_dir, owned by the caller (closedir, or
 * _cleanup_(closedirp)); or -errno: -ENOENT when there is no such directory, -ENOTDIR when
 * path is not one. *ret_dir is untouched on failure.
 */
int dir_open_at(int dir_fd, const char *path, DIR **ret_dir) _wur_;

/*
 * Calls fn(name, stem_len, userdata) for each entry of the directory path (relative to dir_fd)
 * whose name is a stem of 1 .. stem_max bytes followed by suffix, in readdir order; the
 * caller checks the stem itself (name validity, hidden files). fn returns 0 to go on or
 * -errno to stop the walk. Returns 0 after the last entry, fn's -errno, or dir_open_at()'s
 * -errno before any call (-ENOENT: no such directory).
 */
int dir_for_each_suffix(int dir_fd, const char *path, const char *suffix, size_t stem_max,
			int (*fn)(const char *name, size_t stem_len, void *userdata),
			void *userdata) _wur_;
