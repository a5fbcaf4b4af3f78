/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Durable file I/O tests: content and mode after atomic writes, refusals that must leave the old
 * file and no temporary behind, and bounded reads from files, procfs, /dev/null and pipes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "secmem.h"
#include "test.h"

/* Number of entries in dir (without . and ..); -1 on error. */
static int dir_count(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void path_join(char *buf, size_t size, const char *dir, const char *name)
{
	snprintf(buf, size, "%s/%s", dir, name);
}

/* True when path holds exactly the string s. */
static bool file_is(const char *path, const char *s)
{
	uint8_t *data = NULL;
	size_t len = 0;
	bool ok;

	if (fileio_read_all(path, 1 << 20, &data, &len) < 0)
		return false;
	ok = len == strlen(s) && memcmp(data, s, len) == 0;
	free(data);
	return ok;
}

static mode_t file_mode(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return (mode_t)-1;
	return st.st_mode & 07777;
}

TEST(fileio_write_read_roundtrip)
{
	const char *dir = test_tmpdir();
	char path[PATH_MAX];
	uint8_t *data = NULL;
	size_t len = 0;
	mode_t old_umask;
	int r;

	path_join(path, sizeof(path), dir, "state.json");
	/* The requested mode wins over the umask. */
	old_umask = umask(0077);
	r = fileio_write_atomic(path, "hello\0world", 11, 0644);
	umask(old_umask);
	ASSERT_EQ(r, 0);
	ASSERT_EQ(file_mode(path), 0644);
	ASSERT_EQ(dir_count(dir), 1); /* no temporary left */

	ASSERT_EQ(fileio_read_all(path, 11, &data, &len), 0);
	ASSERT_EQ(len, 11);
	ASSERT_MEMEQ(data, "hello\0world", 11);
	ASSERT_EQ(data[11], 0); /* NUL terminated */
	free(data);
}

TEST(fileio_overwrite_sets_mode)
{
	const char *dir = test_tmpdir();
	char path[PATH_MAX];

	path_join(path, sizeof(path), dir, "k");
	ASSERT_EQ(fileio_write_atomic(path, "one", 3, 0600), 0);
	ASSERT_EQ(fileio_write_atomic(path, "second", 6, 0600), 0);
	ASSERT_TRUE(file_is(path, "second"));
	ASSERT_EQ(file_mode(path), 0600);
	ASSERT_EQ(fileio_write_atomic(path, "3", 1, 0640), 0);
	ASSERT_TRUE(file_is(path, "3"));
	ASSERT_EQ(file_mode(path), 0640);
	ASSERT_EQ(fileio_write_atomic(path, NULL, 0, 0600), 0);
	ASSERT_TRUE(file_is(path, ""));
	ASSERT_EQ(dir_count(dir), 1);
}

TEST(fileio_write_parent_not_dir)
{
	const char *dir = test_tmpdir();
	char file[PATH_MAX], path[PATH_MAX + 8];

	path_join(file, sizeof(file), dir, "plain");
	ASSERT_EQ(fileio_write_atomic(file, "x", 1, 0600), 0);
	snprintf(path, sizeof(path), "%s/sub", file);
	ASSERT_EQ(fileio_write_atomic(path, "y", 1, 0600), -ENOTDIR);
	ASSERT_EQ(fileio_create_atomic(path, "y", 1, 0600), -ENOTDIR);
	ASSERT_EQ(fileio_fsync_parent(path), -ENOTDIR);
	ASSERT_EQ(dir_count(dir), 1);
	ASSERT_TRUE(file_is(file, "x"));

	path_join(path, sizeof(path), dir, "missing/sub");
	ASSERT_EQ(fileio_write_atomic(path, "y", 1, 0600), -ENOENT);
	ASSERT_EQ(dir_count(dir), 1);
}

TEST(fileio_write_failure_removes_temp)
{
	const char *dir = test_tmpdir();
	char path[PATH_MAX], inner[PATH_MAX + 8];

	/* The temporary is written, then rename() over a non-empty directory fails. */
	path_join(path, sizeof(path), dir, "target");
	ASSERT_EQ(mkdir(path, 0700), 0);
	snprintf(inner, sizeof(inner), "%s/keep", path);
	ASSERT_EQ(fileio_write_atomic(inner, "old", 3, 0600), 0);
	ASSERT_LT(fileio_write_atomic(path, "new", 3, 0600), 0);
	ASSERT_EQ(dir_count(dir), 1);
	ASSERT_TRUE(file_is(inner, "old"));
}

TEST(fileio_write_bad_paths)
{
	const char *dir = test_tmpdir();
	char path[PATH_MAX];

	ASSERT_EQ(fileio_write_atomic("", "x", 1, 0600), -EINVAL);
	path_join(path, sizeof(path), dir, "");
	ASSERT_EQ(fileio_write_atomic(path, "x", 1, 0600), -EINVAL);
	path_join(path, sizeof(path), dir, "..");
	ASSERT_EQ(fileio_write_atomic(path, "x", 1, 0600), -EINVAL);
	path_join(path, sizeof(path), dir, "x");
	ASSERT_EQ(fileio_write_atomic(path, NULL, 1, 0600), -EINVAL);
	ASSERT_EQ(dir_count(dir), 0);
}

TEST(fileio_write_relative_path)
{
	const char *dir = test_tmpdir();
	char path[PATH_MAX];
	int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;

	ASSERT_GE(cwd, 0);
	if (chdir(dir) < 0) {
		close(cwd);
		ASSERT_TRUE(false);
	}
	r = fileio_write_atomic("rel", "r", 1, 0600);
	if (fchdir(cwd) < 0)
		abort(); /* every later test would run in the wrong directory */
	close(cwd);
	ASSERT_EQ(r, 0);
	path_join(path, sizeof(path), dir, "rel");
	ASSERT_TRUE(file_is(path, "r"));
	ASSERT_EQ(dir_count(dir), 1);
}

TEST(fileio_write_replaces_symlink_not_target)
{
	const char *dir = test_tmpdir();
	char path[PATH_MAX], other[PATH_MAX];

	path_join(other, sizeof(other), dir, "other");
	path_join(path, sizeof(path), dir, "link");
	ASSERT_EQ(fileio_write_atomic(other, "other", 5, 0600), 0);
	ASSERT_EQ(symlink(other, path), 0);
	ASSERT_EQ(fileio_write_atomic(path, "mine", 4, 0600), 0);
	ASSERT_TRUE(file_is(other, "other"));
	ASSERT_TRUE(file_is(path, "mine"));
	ASSERT_EQ(file_mode(path), 0600); /* a regular file now, not the link */
	ASSERT_EQ(dir_count(dir), 2);
}

TEST(fileio_create_refuses_existing)
{
	const char *dir = test_tmpdir();
	char path[PATH_MAX], link[PATH_MAX];

	path_join(path, sizeof(path), dir, "new");
	ASSERT_EQ(fileio_create_atomic(path, "first", 5, 0640), 0);
	ASSERT_TRUE(file_is(path, "first"));
	ASSERT_EQ(file_mode(path), 0640);
	ASSERT_EQ(fileio_create_atomic(path, "second", 6, 0600), -EEXIST);
	ASSERT_TRUE(file_is(path, "first"));
	ASSERT_EQ(file_mode(path), 0640);
	ASSERT_EQ(dir_count(dir), 1);

	/* A dangling symlink exists too: it is neither followed nor replaced. */
	path_join(link, sizeof(link), dir, "dangling");
	ASSERT_EQ(symlink("/nonexistent/vhsm-test", link), 0);
	ASSERT_EQ(fileio_create_atomic(link, "x", 1, 0600), -EEXIST);
	ASSERT_EQ(dir_count(dir), 2);
	ASSERT_EQ(access("/nonexistent/vhsm-test", F_OK), -1);
}

/* The *_at functions resolve relative paths against the directory fd, not the working directory. */
TEST(fileio_at_dir_fd)
{
	const char *dir = test_tmpdir();
	char sub[PATH_MAX], path[PATH_MAX + 16];
	uint8_t *data = NULL;
	size_t len = 0;
	int dfd;

	path_join(sub, sizeof(sub), dir, "kek");
	ASSERT_EQ(mkdir(sub, 0700), 0);
	dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	ASSERT_TRUE(dfd >= 0);
	ASSERT_EQ(fileio_create_atomic_at(dfd, "kek/a.sealed", "one", 3, 0600), 0);
	ASSERT_EQ(fileio_create_atomic_at(dfd, "kek/a.sealed", "two", 3, 0600), -EEXIST);
	path_join(path, sizeof(path), sub, "a.sealed");
	ASSERT_TRUE(file_is(path, "one"));
	ASSERT_EQ(file_mode(path), 0600);
	ASSERT_EQ(fileio_write_atomic_at(dfd, "kek/a.sealed", "three", 5, 0640), 0);
	ASSERT_TRUE(file_is(path, "three"));
	ASSERT_EQ(fileio_read_all_at(dfd, "kek/a.sealed", 16, &data, &len), 0);
	ASSERT_EQ(len, 5u);
	ASSERT_TRUE(memcmp(data, "three", 5) == 0);
	free(data);
	data = NULL;
	ASSERT_EQ(fileio_read_all_at(dfd, "kek/a.sealed", 4, &data, &len), -EMSGSIZE);
	ASSERT_TRUE(data == NULL);
	/* Not resolved against the working directory. */
	ASSERT_EQ(access("kek/a.sealed", F_OK), -1);
	ASSERT_EQ(fileio_read_all_at(dfd, "kek/none", 16, &data, &len), -ENOENT);
	ASSERT_EQ(fileio_write_atomic_at(dfd, "nodir/x", "x", 1, 0600), -ENOENT);
	ASSERT_EQ(fileio_remove_at(dfd, "kek/a.sealed"), 0);
	ASSERT_EQ(access(path, F_OK), -1);
	ASSERT_EQ(fileio_remove_at(dfd, "kek/a.sealed"), -ENOENT);
	ASSERT_EQ(fileio_remove_at(dfd, ""), -EINVAL);
	ASSERT_EQ(dir_count(sub), 0);
	close(dfd);
}

TEST(fileio_read_all_bounds)
{
	const char *dir = test_tmpdir();
	char path[PATH_MAX];
	uint8_t content[3 * 4096 + 5];
	static uint8_t sentinel[] = "sentinel";
	uint8_t *data = sentinel;
	size_t len = 4242;

	for (size_t i = 0; i < sizeof(content); i++)
		content[i] = (uint8_t)(i % 251);
	path_join(path, sizeof(path), dir, "big");
	ASSERT_EQ(fileio_write_atomic(path, content, sizeof(content), 0600), 0);

	/* One byte over the limit: refused, outputs untouched. */
	ASSERT_EQ(fileio_read_all(path, sizeof(content) - 1, &data, &len), -EMSGSIZE);
	ASSERT_STREQ((const char *)data, "sentinel");
	ASSERT_EQ(len, 4242);
	ASSERT_EQ(fileio_read_all(path, 0, &data, &len), -EMSGSIZE);
	ASSERT_EQ(fileio_read_all(path, 100, &data, &len), -EMSGSIZE);

	/* Exactly the limit, and a generous one. */
	ASSERT_EQ(fileio_read_all(path, sizeof(content), &data, &len), 0);
	ASSERT_EQ(len, sizeof(content));
	ASSERT_MEMEQ(data, content, sizeof(content));
	ASSERT_EQ(data[len], 0);
	free(data);
	ASSERT_EQ(fileio_read_all(path, SIZE_MAX, &data, &len), 0);
	ASSERT_EQ(len, sizeof(content));
	free(data);
}

TEST(fileio_read_special_files)
{
	uint8_t *data = NULL;
	size_t len = 99;

	ASSERT_EQ(fileio_read_all("/dev/null", 16, &data, &len), 0);
	ASSERT_EQ(len, 0);
	ASSERT_TRUE(data != NULL);
	ASSERT_EQ(data[0], 0);
	free(data);

	/* st_size is 0 here, yet there is content: the read must not trust it. */
	ASSERT_EQ(fileio_read_all("/proc/self/status", 1 << 20, &data, &len), 0);
	ASSERT_GT(len, 0);
	ASSERT_TRUE(strstr((const char *)data, "Pid:") != NULL);
	free(data);
	ASSERT_EQ(fileio_read_all("/proc/self/status", 10, &data, &len), -EMSGSIZE);

	ASSERT_EQ(fileio_read_all("/nonexistent/vhsm", 16, &data, &len), -ENOENT);
	ASSERT_EQ(fileio_read_all("/", 16, &data, &len), -EISDIR);
}

/* A pipe holding n pattern bytes, write end closed. Returns the read end or -1. */
static int pipe_with(size_t n)
{
	int p[2];
	uint8_t buf[1000];

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	for (size_t off = 0; off < n;) {
		size_t k = n - off < sizeof(buf) ? n - off : sizeof(buf);

		for (size_t i = 0; i < k; i++)
			buf[i] = (uint8_t)((off + i) * 7);
		if (write(p[1], buf, k) != (ssize_t)k) {
			close(p[0]);
			close(p[1]);
			return -1;
		}
		off += k;
	}
	close(p[1]);
	return p[0];
}

TEST(fileio_read_fd_pipe)
{
	int fd = pipe_with(10000);
	uint8_t *data = NULL;
	size_t len = 0;
	int r;

	ASSERT_GE(fd, 0);
	r = fileio_read_fd(fd, 10000, &data, &len);
	close(fd);
	ASSERT_EQ(r, 0);
	ASSERT_EQ(len, 10000);
	for (size_t i = 0; i < len; i++)
		if (data[i] != (uint8_t)(i * 7)) {
			free(data);
			ASSERT_TRUE(false);
		}
	free(data);

	fd = pipe_with(10000);
	ASSERT_GE(fd, 0);
	r = fileio_read_fd(fd, 9999, &data, &len);
	close(fd);
	ASSERT_EQ(r, -EMSGSIZE);
	ASSERT_EQ(fileio_read_fd(-1, 10, &data, &len), -EINVAL);
}

TEST(fileio_read_fd_secret_pipe)
{
	static uint8_t sentinel[] = "sentinel";
	/* Larger than the first chunk, so the secret buffer has to grow (and copy) twice. */
	int fd = pipe_with(10000);
	uint8_t *data = NULL;
	size_t len = 0;
	bool same = true;
	int r;

	ASSERT_GE(fd, 0);
	r = fileio_read_fd_secret(fd, 20000, &data, &len);
	close(fd);
	ASSERT_EQ(r, 0);
	ASSERT_EQ(len, 10000);
	ASSERT_GE(secmem_size(data), 10001);
	for (size_t i = 0; i < len; i++)
		same &= data[i] == (uint8_t)(i * 7);
	same &= data[len] == 0;
	secmem_free(data);
	ASSERT_TRUE(same);

	data = sentinel;
	len = 4242;
	fd = pipe_with(10000);
	ASSERT_GE(fd, 0);
	r = fileio_read_fd_secret(fd, 9999, &data, &len);
	close(fd);
	ASSERT_EQ(r, -EMSGSIZE);
	ASSERT_STREQ((const char *)data, "sentinel");
	ASSERT_EQ(len, 4242);
}

TEST(fileio_read_fd_secret_small)
{
	int fd = pipe_with(0);
	uint8_t *data = NULL;
	size_t len = 1;
	int r;

	ASSERT_GE(fd, 0);
	r = fileio_read_fd_secret(fd, 64, &data, &len);
	close(fd);
	ASSERT_EQ(r, 0);
	ASSERT_EQ(len, 0);
	ASSERT_EQ(data[0], 0);
	secmem_free(data);

	fd = pipe_with(32);
	ASSERT_GE(fd, 0);
	r = fileio_read_fd_secret(fd, 32, &data, &len);
	close(fd);
	ASSERT_EQ(r, 0);
	ASSERT_EQ(len, 32);
	secmem_free(data);

	fd = pipe_with(33);
	ASSERT_GE(fd, 0);
	r = fileio_read_fd_secret(fd, 32, &data, &len);
	close(fd);
	ASSERT_EQ(r, -EMSGSIZE);
}

TEST(fileio_fsync_parent)
{
	const char *dir = test_tmpdir();
	char path[PATH_MAX];

	path_join(path, sizeof(path), dir, "not-yet-there");
	ASSERT_EQ(fileio_fsync_parent(path), 0);
	ASSERT_EQ(fileio_fsync_parent("relative-name"), 0);
	ASSERT_EQ(fileio_fsync_parent("/etc"), 0);
	path_join(path, sizeof(path), dir, "no/such");
	ASSERT_EQ(fileio_fsync_parent(path), -ENOENT);
	ASSERT_EQ(fileio_fsync_parent(""), -EINVAL);
}
