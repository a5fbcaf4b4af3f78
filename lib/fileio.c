/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Durable file I/O. An atomic write goes to a temporary in the target's directory (same file
 * system, so rename(2) is atomic), which is fsync'ed before the rename and the directory after
 * it: the rename is then known to be on disk, and a crash shows the old or the new content.
 * Reads are bounded by the caller's limit, never by st_size, which procfs, pipes and a file
 * growing under us all get wrong.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "secmem.h"

#define FILEIO_CHUNK 4096u
/* Keeps ".<base>.tmp.<16 hex>" within NAME_MAX; the temporary name only has to be unique. */
#define FILEIO_TMP_BASE_MAX 200
#define FILEIO_TMP_TRIES 16

/*
 * Splits path into a malloc'ed directory (".", "/" or the part before the last slash) and a
 * pointer to the base name inside path. -EINVAL for an empty path or one ending in '/'.
 */
static int path_split(const char *path, char **ret_dir, const char **ret_base)
{
	const char *slash, *base;
	char *dir;

	if (!path || !path[0])
		return -EINVAL;
	slash = strrchr(path, '/');
	base = slash ? slash + 1 : path;
	if (!base[0] || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return -EINVAL;
	if (!slash)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (!dir)
		return -ENOMEM;
	*ret_dir = dir;
	*ret_base = base;
	return 0;
}

/*
 * Opens the directory containing path (relative to dir_fd, or AT_FDCWD), for openat() and
 * fsync(). Returns the fd or -errno.
 */
static int open_parent(int dir_fd, const char *path, const char **ret_base)
{
	_cleanup_free_ char *dir = NULL;
	const char *base;
	int fd, r;

	r = path_split(path, &dir, &base);
	if (r < 0)
		return r;
	fd = openat(dir_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	if (ret_base)
		*ret_base = base;
	return fd;
}

int fileio_fsync_parent(const char *path)
{
	_cleanup_close_ int dfd = -EBADF;

	dfd = open_parent(AT_FDCWD, path, NULL);
	if (dfd < 0)
		return dfd;
	if (fsync(dfd) < 0)
		return negative_errno();
	return 0;
}

/* 64 bits for a temporary name. Uniqueness is enforced by O_EXCL, so weak randomness is fine. */
static uint64_t tmp_random(void)
{
	uint64_t v;
	struct timespec ts;

	/* GRND_INSECURE (5.6+) never blocks in early boot; older kernels reject it with EINVAL. */
	if (getrandom(&v, sizeof(v), GRND_INSECURE) == (ssize_t)sizeof(v))
		return v;
	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v))
		return v;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ ((uint64_t)gettid() << 16);
}

/* Creates .<base>.tmp.<random> in dfd; fills name (NAME_MAX + 1 bytes). Returns fd or -errno. */
static int tmp_create(int dfd, const char *base, char name[static NAME_MAX + 1])
{
	for (int i = 0; i < FILEIO_TMP_TRIES; i++) {
		int fd;

		snprintf(name, NAME_MAX + 1, ".%.*s.tmp.%016llx", FILEIO_TMP_BASE_MAX, base,
			 (unsigned long long)tmp_random());
		fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST)
			return negative_errno();
	}
	return -EEXIST;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Writes, sets the mode of and fsyncs the temporary, then closes it (close errors count). */
static int tmp_fill(int fd, const void *data, size_t len, mode_t mode)
{
	int r;

	/* fchmod, not the open mode, so that the umask does not change the result. */
	if (fchmod(fd, mode & 07777) < 0)
		r = negative_errno();
	else
		r = write_all(fd, data, len);
	if (r == 0 && fsync(fd) < 0)
		r = negative_errno();
	if (close(fd) < 0 && r == 0)
		r = negative_errno();
	return r;
}

/* Moves the temporary to base without ever replacing an existing file. */
static int tmp_link_noreplace(int dfd, const char *tmp, const char *base)
{
	if (renameat2(dfd, tmp, dfd, base, RENAME_NOREPLACE) == 0)
		return 0;
	/* Some file systems and old kernels lack RENAME_NOREPLACE; link(2) refuses as well. */
	if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
		return negative_errno();
	if (linkat(dfd, tmp, dfd, base, 0) < 0)
		return negative_errno();
	(void)unlinkat(dfd, tmp, 0);
	return 0;
}

static int write_atomic(int dir_fd, const char *path, const void *data, size_t len,
			mode_t mode, bool replace)
{
	_cleanup_close_ int dfd = -EBADF;
	char tmp[NAME_MAX + 1];
	const char *base;
	int fd, r;

	if (!data && len > 0)
		return -EINVAL;
	dfd = open_parent(dir_fd, path, &base);
	if (dfd < 0)
		return dfd;
	fd = tmp_create(dfd, base, tmp);
	if (fd < 0)
		return fd;
	r = tmp_fill(fd, data, len, mode);
	if (r == 0) {
		if (replace)
			r = renameat(dfd, tmp, dfd, base) < 0 ? negative_errno() : 0;
		else
			r = tmp_link_noreplace(dfd, tmp, base);
	}
	if (r < 0) {
		(void)unlinkat(dfd, tmp, 0);
		return r;
	}
	/* The new content is in place; this makes the directory entry itself durable. */
	if (fsync(dfd) < 0)
		return negative_errno();
	return 0;
}

int fileio_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	return write_atomic(AT_FDCWD, path, data, len, mode, true);
}

int fileio_create_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	return write_atomic(AT_FDCWD, path, data, len, mode, false);
}

int fileio_write_atomic_at(int dir_fd, const char *path, const void *data, size_t len,
			   mode_t mode)
{
	return write_atomic(dir_fd, path, data, len, mode, true);
}

int fileio_create_atomic_at(int dir_fd, const char *path, const void *data, size_t len,
			    mode_t mode)
{
	return write_atomic(dir_fd, path, data, len, mode, false);
}

int fileio_remove_at(int dir_fd, const char *path)
{
	_cleanup_close_ int dfd = -EBADF;
	const char *base;

	dfd = open_parent(dir_fd, path, &base);
	if (dfd < 0)
		return dfd;
	if (unlinkat(dfd, base, 0) < 0)
		return negative_errno();
	if (fsync(dfd) < 0)
		return negative_errno();
	return 0;
}

/* read(2) that retries on EINTR. Returns bytes read (0 at EOF) or -errno. */
static ssize_t read_retry(int fd, uint8_t *p, size_t n)
{
	for (;;) {
		ssize_t k = read(fd, p, n);

		if (k >= 0)
			return k;
		if (errno != EINTR)
			return negative_errno();
	}
}

/*
 * Buffer capacity to try next, when cap bytes (0 at first) are full: one chunk, then doubled,
 * but never more than limit + 1 (one byte past the limit tells that the input is too large).
 */
static size_t grow_cap(size_t cap, size_t limit)
{
	if (cap == 0)
		return limit < FILEIO_CHUNK ? limit + 1 : FILEIO_CHUNK;
	if (cap > limit / 2)
		return limit + 1;
	return cap * 2;
}

/* Replaces *buf (cap bytes, len used) by a secmem region of ncap bytes; the old one is wiped. */
static int secret_grow(uint8_t **buf, size_t len, size_t ncap)
{
	uint8_t *nbuf = secmem_alloc(ncap);

	if (!nbuf)
		return negative_errno();
	if (len > 0)
		memcpy(nbuf, *buf, len);
	secmem_free(*buf);
	*buf = nbuf;
	return 0;
}

/* Grows *buf (len bytes used) to ncap bytes and a NUL: plain memory, or secmem for secrets. */
static int buf_grow(uint8_t **buf, size_t len, size_t ncap, bool secret)
{
	uint8_t *nbuf;

	if (secret)
		return secret_grow(buf, len, ncap + 1);
	nbuf = realloc(*buf, ncap + 1);
	if (!nbuf)
		return -ENOMEM;
	*buf = nbuf;
	return 0;
}

/*
 * Reads fd to its end into *buf (NULL at first), grown as needed up to max content bytes, and
 * NUL-terminates it. Returns 0, -EMSGSIZE past max, or -errno; the caller frees *buf on every
 * path (free or secmem_free, as secret says).
 */
static int read_to_end(int fd, size_t max, bool secret, uint8_t **buf, size_t *ret_len)
{
	size_t cap = 0, len = 0;
	int r;

	for (;;) {
		ssize_t k;

		if (len == cap) {
			size_t ncap = grow_cap(cap, max);

			r = buf_grow(buf, len, ncap, secret);
			if (r < 0)
				return r;
			cap = ncap;
		}
		k = read_retry(fd, *buf + len, cap - len);
		if (k < 0)
			return (int)k;
		if (k == 0)
			break;
		len += (size_t)k;
		if (len > max)
			return -EMSGSIZE;
	}
	(*buf)[len] = 0;
	*ret_len = len;
	return 0;
}

int fileio_read_fd(int fd, size_t max, uint8_t **ret_data, size_t *ret_len)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	int r;

	if (fd < 0 || !ret_data || !ret_len)
		return -EINVAL;
	/* Keeps limit + 1 content bytes + the NUL representable. */
	if (max > SIZE_MAX - 2)
		max = SIZE_MAX - 2;
	r = read_to_end(fd, max, false, &buf, &len);
	if (r < 0)
		return r;
	*ret_data = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

int fileio_read_all(const char *path, size_t max, uint8_t **ret_data, size_t *ret_len)
{
	return fileio_read_all_at(AT_FDCWD, path, max, ret_data, ret_len);
}

int fileio_read_all_at(int dir_fd, const char *path, size_t max, uint8_t **ret_data,
		       size_t *ret_len)
{
	_cleanup_close_ int fd = -EBADF;

	if (!path || !ret_data || !ret_len)
		return -EINVAL;
	fd = openat(dir_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return negative_errno();
	return fileio_read_fd(fd, max, ret_data, ret_len);
}

int fileio_read_fd_secret(int fd, size_t max, uint8_t **ret_data, size_t *ret_len)
{
	_cleanup_secmem_ uint8_t *buf = NULL;
	size_t len;
	int r;

	if (fd < 0 || !ret_data || !ret_len)
		return -EINVAL;
	/* Content, one byte to detect overflow and the NUL must fit into one secmem region. */
	if (max > SECMEM_MAX - 2)
		max = SECMEM_MAX - 2;
	r = read_to_end(fd, max, true, &buf, &len);
	if (r < 0)
		return r;
	*ret_data = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}
