/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Durable file I/O. Writes are atomic: a temporary file in the same directory, written,
 * fsync'ed, renamed over the target, then the directory fsync'ed; a crash leaves either the
 * old or the new content, never a mix. Library code; never logs.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

/*
 * Atomically replaces path with len bytes of data, file mode mode.
 * Returns 0 or -errno; on failure the previous file is untouched and no temporary is left,
 * except when the final directory fsync fails: the rename has happened by then.
 */
int fileio_write_atomic(const char *path, const void *data, size_t len, mode_t mode) _wur_;

/*
 * Like fileio_write_atomic(), but refuses with -EEXIST when path already exists
 * (link(2) of the temporary, so it never replaces a file created concurrently).
 */
int fileio_create_atomic(const char *path, const void *data, size_t len, mode_t mode) _wur_;

/*
 * Reads a whole file of at most max bytes into a malloc'ed buffer (NUL-terminated for
 * convenience; the NUL is not counted in *ret_len). Returns 0, -EMSGSIZE when the file is
 * larger than max, or -errno. Outputs are set only on success; the caller frees *ret_data.
 * Not for secrets (use fileio_read_fd_secret).
 */
int fileio_read_all(const char *path, size_t max, uint8_t **ret_data, size_t *ret_len) _wur_;

/*
 * The same relative to the directory fd dir_fd (an O_PATH fd will do; AT_FDCWD is the plain
 * function). path may name a subdirectory ("kek/NAME.sealed"); an absolute path ignores
 * dir_fd, as openat(2) does.
 */
int fileio_write_atomic_at(int dir_fd, const char *path, const void *data, size_t len,
			   mode_t mode) _wur_;
int fileio_create_atomic_at(int dir_fd, const char *path, const void *data, size_t len,
			    mode_t mode) _wur_;
int fileio_read_all_at(int dir_fd, const char *path, size_t max, uint8_t **ret_data,
		       size_t *ret_len) _wur_;

/*
 * Removes path (relative to dir_fd, as above) and fsync()s its directory, so the removal is
 * durable. Returns 0 or -errno (-ENOENT when there is no such file).
 */
int fileio_remove_at(int dir_fd, const char *path) _wur_;

/* Same as fileio_read_all() on an open fd ("-" style callers pass STDIN_FILENO). */
int fileio_read_fd(int fd, size_t max, uint8_t **ret_data, size_t *ret_len) _wur_;

/*
 * Reads at most max bytes from fd into secret memory (secmem). Returns 0, -EMSGSIZE, -errno.
 * The caller frees *ret_data with secmem_free().
 */
int fileio_read_fd_secret(int fd, size_t max, uint8_t **ret_data, size_t *ret_len) _wur_;

/* fsync()s the directory that contains path. Returns 0 or -errno. */
int fileio_fsync_parent(const char *path) _wur_;
