/* SPDX-License-Identifier: Apache-2.0 */
/* Unit-test runner: runs every registered TEST (filtered by argv[1] substring, if given). */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

static struct test_case *tests_head, **tests_tail = &tests_head;
static bool current_failed;
static char tmp_root[PATH_MAX];
static unsigned tmp_counter;

void test_register(struct test_case *tc)
{
	*tests_tail = tc;
	tests_tail = &tc->next;
}

void test_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "    %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	current_failed = true;
}

bool test_failed(void)
{
	return current_failed;
}

const char *test_vector(const char *rel)
{
	static char buf[PATH_MAX];
	const char *root = getenv("VHSM_VECTORS");

	snprintf(buf, sizeof(buf), "%s/%s", root ? root : "tests/vectors", rel);
	return buf;
}

const char *test_tmpdir(void)
{
	static char buf[PATH_MAX + 32];

	if (!tmp_root[0]) {
		snprintf(tmp_root, sizeof(tmp_root), "/tmp/vhsm-unit-XXXXXX");
		if (!mkdtemp(tmp_root)) {
			perror("mkdtemp");
			exit(2);
		}
	}
	snprintf(buf, sizeof(buf), "%s/t%u", tmp_root, ++tmp_counter);
	if (mkdir(buf, 0700) < 0) {
		perror("mkdir");
		exit(2);
	}
	return buf;
}

uint8_t *test_read_file(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t cap = 0, len = 0;

	if (!f) {
		fprintf(stderr, "cannot open test data %s: %s\n", path, strerror(errno));
		exit(2);
	}
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			buf = realloc(buf, cap + 1);
			if (!buf)
				abort();
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		if (n == 0)
			break;
		len += n;
	}
	fclose(f);
	buf[len] = 0;
	*ret_len = len;
	return buf;
}

static void rm_rf(const char *path)
{
	char cmd[PATH_MAX + 16];

	if (!path[0] || strncmp(path, "/tmp/vhsm-unit-", 15) != 0)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "warning: could not remove %s\n", path);
}

int main(int argc, char **argv)
{
	const char *filter = argc > 1 ? argv[1] : NULL;
	unsigned passed = 0, failed = 0;

	for (struct test_case *tc = tests_head; tc; tc = tc->next) {
		if (filter && !strstr(tc->name, filter))
			continue;
		current_failed = false;
		tc->fn();
		if (current_failed) {
			failed++;
			printf("FAIL %s (%s)\n", tc->name, tc->file);
		} else {
			passed++;
			printf("PASS %s\n", tc->name);
		}
		fflush(stdout);
	}
	rm_rf(tmp_root);
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
