/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store's files (store-file.h): every path is relative to the state directory's fd, and
 * every sealed file goes through the manifest (pending, file, commit) so that a file put back
 * from an older state is refused.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dir-util.h"
#include "fileio.h"
#include "kek-meta.h"
#include "log.h"
#include "manifest.h"
#include "store-file.h"

/* Temporaries of writes a crash interrupted (".NAME.tmp.*"): the target is intact (the
 * rename never happened), so they are only litter. */
static void remove_stale_temporaries(DIR *d)
{
	struct dirent *de;

	while ((de = readdir(d)))
		if (de->d_name[0] == '.' && strstr(de->d_name, ".tmp."))
			(void)unlinkat(dirfd(d), de->d_name, 0);
}

/* Creates <state>/dir (0700) and clears its stale temporaries. */
static int store_subdir_open(struct manager *m, const char *dir)
{
	_cleanup_(closedirp) DIR *d = NULL;

	if (mkdirat(m->state_fd, dir, 0700) < 0 && errno != EEXIST)
		return negative_errno();
	if (dir_open_at(m->state_fd, dir, &d) >= 0)
		remove_stale_temporaries(d);
	return 0;
}

int store_dirs_open(struct manager *m)
{
	int r;

	if (mkdir(m->state_dir, 0700) < 0 && errno != EEXIST)
		return negative_errno();
	if (m->state_fd < 0) {
		m->state_fd = open(m->state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (m->state_fd < 0)
			return negative_errno();
	}
	if (!m->manifest) {
		struct manifest_env env = { .dir_fd = m->state_fd, .dev = m->dev,
					    .attest = &m->attest, .clock_boot = &m->clock_boot,
					    .clock_start = &m->clock_start };
		r = manifest_new(&env, &m->manifest);
		if (r < 0)
			return r;
	}
	r = store_subdir_open(m, "kek");
	if (r < 0)
		return r;
	return store_subdir_open(m, "exchange");
}

int store_rel(const char *dir, const char *name, const char *suffix,
	      char buf[static STORE_REL_MAX])
{
	int n;

	if (!store_name_valid(name))
		return -EINVAL;
	n = snprintf(buf, STORE_REL_MAX, "%s/%s%s", dir, name, suffix);
	return n > 0 && (size_t)n < STORE_REL_MAX ? 0 : -EINVAL;
}

int store_file_exists(struct manager *m, const char *rel)
{
	if (faccessat(m->state_fd, rel, F_OK, 0) == 0)
		return 1;
	return errno == ENOENT ? 0 : negative_errno();
}

int store_file_read(struct manager *m, const char *rel, uint8_t **ret_blob, size_t *ret_len,
		    char *why, size_t whylen)
{
	_cleanup_free_ uint8_t *blob = NULL;
	size_t len;
	int r;

	r = fileio_read_all_at(m->state_fd, rel, SEAL_BLOB_MAX, &blob, &len);
	if (r < 0)
		return r;
	r = manifest_check(m->manifest, rel, blob, len, why, whylen);
	if (r < 0)
		return r;
	*ret_blob = TAKE_PTR(blob);
	*ret_len = len;
	return 0;
}

int store_file_write(struct manager *m, const char *rel, const uint8_t *blob, size_t len,
		     bool create, const char *what, char *why, size_t whylen)
{
	int r;

	/* Manifest first (pending), then the file, then the commit (manifest.h). */
	r = manifest_begin(m->manifest, rel, blob, len);
	if (r < 0) {
		snprintf(why, whylen, "cannot update the store manifest: %s", strerror(-r));
		return r;
	}
	manifest_test_crash("manifest-pending");
	r = create ? fileio_create_atomic_at(m->state_fd, rel, blob, len, 0600)
		   : fileio_write_atomic_at(m->state_fd, rel, blob, len, 0600);
	if (r < 0) {
		if (what)
			snprintf(why, whylen, "cannot write %s: %s", what, strerror(-r));
		else
			snprintf(why, whylen, "cannot write %s/%s: %s", m->state_dir, rel,
				 strerror(-r));
		return r;
	}
	manifest_test_crash("file-written");
	if (manifest_commit(m->manifest, rel) < 0)
		vhsm_log_debug("store: cannot commit the manifest entry of %s", rel);
	return 0;
}

int store_file_remove(struct manager *m, const char *rel)
{
	int r;

	r = manifest_begin(m->manifest, rel, NULL, 0);
	if (r < 0)
		return r;
	r = fileio_remove_at(m->state_fd, rel);
	if (r < 0)
		return r;
	if (manifest_commit(m->manifest, rel) < 0)
		vhsm_log_debug("store: cannot commit the manifest entry of %s", rel);
	return 0;
}

int store_file_put_plain(struct manager *m, const char *rel, const void *data, size_t len)
{
	return fileio_write_atomic_at(m->state_fd, rel, data, len, 0600);
}

int store_file_remove_plain(struct manager *m, const char *rel)
{
	return fileio_remove_at(m->state_fd, rel);
}

int store_file_get_plain(struct manager *m, const char *rel, size_t max, uint8_t **ret_data,
			 size_t *ret_len)
{
	return fileio_read_all_at(m->state_fd, rel, max, ret_data, ret_len);
}
