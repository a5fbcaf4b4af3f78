/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Directory walks relative to a directory fd: which entries reach the callback (suffix, stem
 * length bounds), that a callback's error stops the walk and is returned, and the errors of a
 * missing directory or a file in its place.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dir-util.h"
#include "test.h"

struct seen {
	char names[8][64];
	size_t stems[8];
	int n;
	int stop_after; /* 0: never stop */
};

static int record(const char *name, size_t stem_len, void *userdata)
{
	struct seen *s = userdata;

	if (s->n >= 8)
		return -E2BIG;
	snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name);
	s->stems[s->n] = stem_len;
	s->n++;
	return s->stop_after && s->n >= s->stop_after ? -ECANCELED : 0;
}

static bool seen_has(const struct seen *s, const char *name, size_t stem)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->names[i], name) == 0)
			return s->stems[i] == stem;
	return false;
}

static void touch_at(int dir_fd, const char *name)
{
	int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

	ASSERT_TRUE(fd >= 0);
	close(fd);
}

/* A fresh directory "d" under the test's temporary directory; *ret_fd is its parent's fd. */
static void walk_fixture(int *ret_fd)
{
	int fd = open(test_tmpdir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int d;

	*ret_fd = fd;
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(mkdirat(fd, "d", 0700), 0);
	d = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_TRUE(d >= 0);
	touch_at(d, "a.sealed");
	touch_at(d, "longer-name.sealed");
	touch_at(d, ".sealed");
	touch_at(d, "b.sealed.tmp.123");
	touch_at(d, "c.json");
	touch_at(d, "sealed");
	ASSERT_EQ(mkdirat(fd, "d/sub.sealed", 0700), 0);
	close(d);
}

TEST(dir_for_each_suffix_matching_entries_only)
{
	int fd;
	struct seen s = {};

	walk_fixture(&fd);
	ASSERT_EQ(dir_for_each_suffix(fd, "d", ".sealed", SIZE_MAX, record, &s), 0);
	ASSERT_EQ(s.n, 3);
	ASSERT_TRUE(seen_has(&s, "a.sealed", 1));
	ASSERT_TRUE(seen_has(&s, "longer-name.sealed", 11));
	ASSERT_TRUE(seen_has(&s, "sub.sealed", 3));

	/* stem_max bounds the stem: "longer-name" (11 bytes) is past 3 */
	memset(&s, 0, sizeof(s));
	ASSERT_EQ(dir_for_each_suffix(fd, "d", ".sealed", 3, record, &s), 0);
	ASSERT_EQ(s.n, 2);
	ASSERT_TRUE(seen_has(&s, "a.sealed", 1));
	ASSERT_TRUE(seen_has(&s, "sub.sealed", 3));
	ASSERT_TRUE(!seen_has(&s, "longer-name.sealed", 11));
	close(fd);
}

TEST(dir_for_each_suffix_callback_error_stops)
{
	int fd;
	struct seen s = { .stop_after = 1 };

	walk_fixture(&fd);
	ASSERT_EQ(dir_for_each_suffix(fd, "d", ".sealed", SIZE_MAX, record, &s), -ECANCELED);
	ASSERT_EQ(s.n, 1);
	close(fd);
}

TEST(dir_open_at_refusals)
{
	int fd;
	struct seen s = {};
	DIR *d = (DIR *)&s; /* untouched on failure */

	walk_fixture(&fd);
	ASSERT_EQ(dir_for_each_suffix(fd, "missing", ".sealed", SIZE_MAX, record, &s), -ENOENT);
	ASSERT_EQ(dir_for_each_suffix(fd, "d/c.json", ".sealed", SIZE_MAX, record, &s), -ENOTDIR);
	ASSERT_EQ(s.n, 0);
	ASSERT_EQ(dir_open_at(fd, "missing", &d), -ENOENT);
	ASSERT_EQ(dir_open_at(fd, "d/c.json", &d), -ENOTDIR);
	ASSERT_TRUE(d == (DIR *)&s);
	ASSERT_EQ(dir_open_at(fd, "d", &d), 0);
	ASSERT_TRUE(d != (DIR *)&s);
	closedir(d);
	close(fd);
}
