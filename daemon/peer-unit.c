/* SPDX-License-Identifier: Apache-2.0 */
/* A process's systemd unit from its cgroup, as sd_pid_get_unit() finds it (see peer-unit.h). */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "macro.h"
#include "peer-unit.h"

#define UNIT_NAME_MAX 256u
#define CGROUP_FILE_MAX 8192u

static const char *const unit_types[] = {
	"service", "mount", "swap", "socket", "target", "device", "automount", "timer", "path",
	"slice", "scope",
};

bool peer_unit_name_valid(const char *name, size_t len)
{
	static const char ok[] = "@0123456789abcdefghijklmnopqrstuvwxyz"
				 "ABCDEFGHIJKLMNOPQRSTUVWXYZ:-_.\\";
	const char *dot = NULL, *at = NULL;
	bool type = false;

	if (len == 0 || len >= UNIT_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (name[i] == '.')
			dot = name + i;
	if (!dot || dot == name)
		return false;
	for (size_t i = 0; i < ELEMENTSOF(unit_types); i++)
		type = type || ((size_t)(name + len - dot - 1) == strlen(unit_types[i]) &&
				memcmp(dot + 1, unit_types[i], strlen(unit_types[i])) == 0);
	if (!type)
		return false;
	for (const char *c = name; c < dot; c++) {
		if (*c == '\0' || !strchr(ok, *c))
			return false;
		if (*c == '@' && !at)
			at = c;
	}
	/* Plain ("a.service") or instance ("a@b.service"); no template ("a@.service"). */
	return !at || (at != name && dot > at + 1);
}

/* Component c[0..n) with cgroup escaping undone (a leading '_'), as a NUL-terminated copy in
 * buf; false when it does not fit. */
static bool unescape(const char *c, size_t n, char buf[static UNIT_NAME_MAX])
{
	if (n > 0 && c[0] == '_')
		c++, n--;
	if (n >= UNIT_NAME_MAX)
		return false;
	memcpy(buf, c, n);
	buf[n] = '\0';
	return true;
}

static bool is_slice(const char *c, size_t n)
{
	char buf[UNIT_NAME_MAX];

	return n >= strlen("x.slice") && memcmp(c + n - 6, ".slice", 6) == 0 &&
	       unescape(c, n, buf) && peer_unit_name_valid(buf, strlen(buf));
}

/* The unit of a cgroup path (systemd's cg_path_get_unit()). */
static int unit_of_path(const char *p, char *ret, size_t retlen)
{
	char buf[UNIT_NAME_MAX];
	size_t n;

	for (;;) {
		p += strspn(p, "/");
		n = strcspn(p, "/");
		if (!is_slice(p, n))
			break;
		p += n;
	}
	if (n < 3 || !unescape(p, n, buf) || !peer_unit_name_valid(buf, strlen(buf)))
		return -ENXIO;
	n = strlen(buf);
	if (n >= 6 && strcmp(buf + n - 6, ".slice") == 0)
		return -ENXIO;
	if (n >= retlen)
		return -ENAMETOOLONG;
	memcpy(ret, buf, n + 1);
	return 0;
}

/* The path of systemd's hierarchy in cgroup file text (systemd's cg_pid_get_path()), into
 * ret as a string: 0, -ENODATA, -ENAMETOOLONG. */
static int hierarchy_path(const char *text, size_t len, bool unified, char *ret, size_t retlen)
{
	const char *end = text + len, *line, *nl, *e;

	for (line = text; line < end; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(end - line));
		if (!nl)
			nl = end;
		if (unified) {
			if ((size_t)(nl - line) < 3 || memcmp(line, "0:", 2) != 0)
				continue;
			e = memchr(line + 2, ':', (size_t)(nl - line - 2));
		} else {
			/* "N:CONTROLLER[,CONTROLLER...]:PATH" with "name=systemd" in the list */
			const char *c = memchr(line, ':', (size_t)(nl - line));
			e = c ? memchr(c + 1, ':', (size_t)(nl - c - 1)) : NULL;
			bool found = false;
			for (const char *t = c ? c + 1 : NULL; t && t < e;) {
				const char *comma = memchr(t, ',', (size_t)(e - t));
				size_t n = (size_t)((comma ? comma : e) - t);
				found = found || (n == 12 && memcmp(t, "name=systemd", 12) == 0);
				t = comma ? comma + 1 : NULL;
			}
			if (!found)
				continue;
		}
		if (!e)
			continue;
		size_t n = (size_t)(nl - e - 1);
		if (n >= retlen)
			return -ENAMETOOLONG;
		memcpy(ret, e + 1, n);
		ret[n] = '\0';
		/* A zombie's path carries this suffix. */
		if (n >= 10 && strcmp(ret + n - 10, " (deleted)") == 0)
			ret[n - 10] = '\0';
		return 0;
	}
	return -ENODATA;
}

int peer_unit_from_cgroup(const char *text, size_t len, bool unified, const char *root, char *ret,
			  size_t retlen)
{
	char path[CGROUP_FILE_MAX];
	const char *p = path;
	size_t rn = root ? strlen(root) : 0;
	int r = hierarchy_path(text, len, unified, path, sizeof(path));

	if (r < 0)
		return r;
	/* Relative to root (systemd's cg_shift_path()), component by component. */
	if (rn > 0 && root[0] == '/' && strncmp(path, root, rn) == 0 &&
	    (path[rn] == '/' || path[rn] == '\0' || root[rn - 1] == '/'))
		p = path + rn - (root[rn - 1] == '/');
	return unit_of_path(p, ret, retlen);
}

static struct {
	bool unified;
	char root[CGROUP_FILE_MAX];
	int error;
} mode;
static pthread_once_t mode_once = PTHREAD_ONCE_INIT;

static int read_cgroup_file(pid_t pid, char *buf, size_t size, size_t *ret_len)
{
	char path[64];
	_cleanup_close_ int fd = -EBADF;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : negative_errno();
	/* procfs hands the whole file to one read of a large enough buffer. */
	n = read(fd, buf, size);
	if (n < 0)
		return negative_errno();
	if ((size_t)n == size)
		return -EFBIG;
	*ret_len = (size_t)n;
	return 0;
}

/* The mode (systemd's cg_unified_cached()) and init's cgroup (cg_get_root_path()). */
static void mode_load(void)
{
	struct statfs fs;
	char text[CGROUP_FILE_MAX];
	size_t len, n;

	if (statfs("/sys/fs/cgroup/", &fs) < 0) {
		mode.error = negative_errno();
		return;
	}
	mode.unified = fs.f_type == CGROUP2_SUPER_MAGIC ||
		       (fs.f_type == TMPFS_MAGIC &&
			((statfs("/sys/fs/cgroup/unified/", &fs) == 0 &&
			  fs.f_type == CGROUP2_SUPER_MAGIC) ||
			 (statfs("/sys/fs/cgroup/systemd/", &fs) == 0 &&
			  fs.f_type == CGROUP2_SUPER_MAGIC)));
	mode.error = read_cgroup_file(1, text, sizeof(text), &len);
	if (mode.error >= 0)
		mode.error = hierarchy_path(text, len, mode.unified, mode.root, sizeof(mode.root));
	if (mode.error < 0)
		return;
	n = strlen(mode.root);
	static const char *const suffixes[] = { "/init.scope", "/system.slice", "/system" };
	for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
		size_t s = strlen(suffixes[i]);
		if (n >= s && strcmp(mode.root + n - s, suffixes[i]) == 0) {
			mode.root[n - s] = '\0';
			break;
		}
	}
}

int peer_unit_get(pid_t pid, char *ret, size_t retlen)
{
	char text[CGROUP_FILE_MAX];
	size_t len;
	int r;

	if (pid <= 0)
		return -ESRCH;
	(void)pthread_once(&mode_once, mode_load);
	if (mode.error < 0)
		return mode.error;
	r = read_cgroup_file(pid, text, sizeof(text), &len);
	if (r < 0)
		return r;
	return peer_unit_from_cgroup(text, len, mode.unified, mode.root, ret, retlen);
}
