/* SPDX-License-Identifier: Apache-2.0 */
/* Directory walks relative to a directory fd (see dir-util.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "dir-util.h"

int dir_open_at(int dir_fd, const char *path, DIR **ret_dir)
{
	DIR *d;
	int fd;

	if (!path || !ret_dir)
		return -EINVAL;
	fd = openat(dir_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	d = fdopendir(fd);
	if (!d) {
		int r = negative_errno();

		close(fd);
		return r;
	}
	*ret_dir = d;
	return 0;
}

int dir_for_each_suffix(int dir_fd, const char *path, const char *suffix, size_t stem_max,
			int (*fn)(const char *name, size_t stem_len, void *userdata),
			void *userdata)
{
	_cleanup_(closedirp) DIR *d = NULL;
	size_t sl = suffix ? strlen(suffix) : 0;
	struct dirent *de;
	int r;

	if (!suffix || !fn)
		return -EINVAL;
	r = dir_open_at(dir_fd, path, &d);
	if (r < 0)
		return r;
	if (!d) /* dir_open_at() sets it on success; said for the analyzer */
		return -EIO;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);

		if (n <= sl || n - sl > stem_max || strcmp(de->d_name + n - sl, suffix) != 0)
			continue;
		r = fn(de->d_name, n - sl, userdata);
		if (r < 0)
			return r;
	}
	return 0;
}
