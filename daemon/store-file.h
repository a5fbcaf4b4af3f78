/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store's files under the state directory (store-file.c): opened relative to its fd
 * (m->state_fd), written atomically and durably, and kept in step with the store manifest
 * (manifest.h): every write or removal of a sealed file is begun and committed there, and
 * every read is checked against it.
 */
#pragma once

#include "vhsmd.h"

/* "DIR/NAME.sealed" and the like: DIR (kek, exchange) + '/' + a key name + a short suffix. */
#define STORE_REL_MAX (16u + KEK_NAME_MAX + 16u)

/*
 * Creates the state directory and its kek/ and exchange/ directories (0700), removes the
 * temporaries of writes a crash interrupted, opens m->state_fd and makes m->manifest (loaded
 * at first use). 0 or -errno.
 */
int store_dirs_open(struct manager *m);

/*
 * The relative path dir/name+suffix of a store file into buf: 0, or -EINVAL when name is not
 * a valid key name (store_name_valid) or the result does not fit. Pure.
 */
int store_rel(const char *dir, const char *name, const char *suffix,
	      char buf[static STORE_REL_MAX]);

/* 1 when rel exists, 0 when not, or -errno. */
int store_file_exists(struct manager *m, const char *rel);

/*
 * Reads the sealed file rel (at most SEAL_BLOB_MAX bytes) and checks it against the manifest:
 * 0 with a malloc'ed copy, -ENOENT, -EKEYREJECTED (why: rolled back or replaced) or -errno.
 * Outputs are set only on success.
 */
int store_file_read(struct manager *m, const char *rel, uint8_t **ret_blob, size_t *ret_len,
		    char *why, size_t whylen);

/*
 * Writes blob as the sealed file rel: the manifest entry pending, the file atomically (create:
 * refusing an existing file with -EEXIST), the entry committed. 0, or -errno with why saying
 * "cannot update the store manifest" or "cannot write WHAT" (what NULL: the file's
 * path). A failed commit is only logged
 * at debug: the manifest on disk still accepts the new file, and the next start commits it.
 */
int store_file_write(struct manager *m, const char *rel, const uint8_t *blob, size_t len,
		     bool create, const char *what, char *why, size_t whylen);

/* Removes the sealed file rel durably, through the manifest as store_file_write(). 0 or -errno. */
int store_file_remove(struct manager *m, const char *rel);

/* Writes or removes a file that is not sealed and not in the manifest (exchange/KID.spent). */
int store_file_put_plain(struct manager *m, const char *rel, const void *data, size_t len);
int store_file_remove_plain(struct manager *m, const char *rel);
/* Reads such a file (at most max bytes): 0 with a malloc'ed copy, or -errno. */
int store_file_get_plain(struct manager *m, const char *rel, size_t max, uint8_t **ret_data,
			 size_t *ret_len);
