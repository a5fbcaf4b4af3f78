/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The peer's unit (daemon/peer-unit.c), which ACL entries "unit:NAME" match: the same answer as
 * libsystemd's sd_pid_get_unit() for system services, instances, scopes, user sessions and
 * containers; nothing for slices, templates, the root, invalid names or a missing hierarchy
 * line; and, for every process on this machine and for a child moved into cgroups named like
 * services, instances, templates, user managers and slices, exactly what sd_pid_get_unit() says.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <systemd/sd-login.h>

#include "macro.h"
#include "../../daemon/peer-unit.h"
#include "test.h"

static void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

/* The unit of a cgroup v2 file "0::PATH", relative to root; "" when there is none. */
static const char *unit_v2(const char *path, const char *root)
{
	static char out[128];
	char text[512];
	int n = snprintf(text, sizeof(text), "0::%s\n", path);

	if (peer_unit_from_cgroup(text, (size_t)n, true, root, out, sizeof(out)) < 0)
		out[0] = '\0';
	return out;
}

TEST(peer_unit_system_and_user)
{
	ASSERT_STREQ(unit_v2("/system.slice/ssh.service", ""), "ssh.service");
	ASSERT_STREQ(unit_v2("/system.slice/system-systemd\\x2dcryptsetup.slice/"
			     "systemd-cryptsetup@data.service", ""),
		     "systemd-cryptsetup@data.service");
	/* A service's own sub-cgroups still belong to it. */
	ASSERT_STREQ(unit_v2("/system.slice/foo.service/payload", ""), "foo.service");
	ASSERT_STREQ(unit_v2("/user.slice/user-1000.slice/session-3.scope", ""), "session-3.scope");
	/* A user's units are the system unit user@1000.service to sd_pid_get_unit(). */
	ASSERT_STREQ(unit_v2("/user.slice/user-1000.slice/user@1000.service/app.slice/x.service",
			     ""),
		     "user@1000.service");
	ASSERT_STREQ(unit_v2("/init.scope", ""), "init.scope");
	/* A leading '_' escapes a name that would clash with the kernel's own files. */
	ASSERT_STREQ(unit_v2("/system.slice/_cpu.service", ""), "cpu.service");
}

TEST(peer_unit_none)
{
	ASSERT_STREQ(unit_v2("/", ""), "");
	ASSERT_STREQ(unit_v2("/system.slice", ""), "");
	ASSERT_STREQ(unit_v2("/user.slice/user-1000.slice", ""), "");
	ASSERT_STREQ(unit_v2("/system.slice/getty@.service", ""), ""); /* a template */
	ASSERT_STREQ(unit_v2("/system.slice/@x.service", ""), "");
	ASSERT_STREQ(unit_v2("/system.slice/foo.bar", ""), "");     /* no unit type */
	ASSERT_STREQ(unit_v2("/system.slice/fo o.service", ""), ""); /* invalid character */
	ASSERT_STREQ(unit_v2("/system.slice/.service", ""), "");
	ASSERT_STREQ(unit_v2("/payload", ""), "");
	ASSERT_STREQ(unit_v2("/a.service/b.service", "/a.service"), "b.service");
}

TEST(peer_unit_container_root)
{
	/* Paths are relative to init's cgroup: inside a container, its own. */
	ASSERT_STREQ(unit_v2("/docker/abc/system.slice/vhsmd.service", "/docker/abc"),
		     "vhsmd.service");
	ASSERT_STREQ(unit_v2("/docker/abc", "/docker/abc"), "");
	/* Component by component: /docker/abcd is not under /docker/abc. */
	ASSERT_STREQ(unit_v2("/docker/abcd/system.slice/x.service", "/docker/abc"), "");
	ASSERT_STREQ(unit_v2("/system.slice/x.service", "/"), "x.service");
}

TEST(peer_unit_hierarchy_lines)
{
	static const char legacy[] = "12:cpu,cpuacct:/system.slice/a.service\n"
				     "1:name=systemd:/system.slice/b.service\n"
				     "0::/system.slice/c.service\n";
	static const char zombie[] = "0::/system.slice/z.service (deleted)\n";
	char out[128];

	ASSERT_OK(peer_unit_from_cgroup(legacy, strlen(legacy), false, "", out, sizeof(out)));
	ASSERT_STREQ(out, "b.service");
	ASSERT_OK(peer_unit_from_cgroup(legacy, strlen(legacy), true, "", out, sizeof(out)));
	ASSERT_STREQ(out, "c.service");
	ASSERT_OK(peer_unit_from_cgroup(zombie, strlen(zombie), true, "", out, sizeof(out)));
	ASSERT_STREQ(out, "z.service");
	ASSERT_EQ(peer_unit_from_cgroup("1:cpu:/x.service\n", 17, true, "", out, sizeof(out)),
		  -ENODATA);
	ASSERT_EQ(peer_unit_from_cgroup("1:cpu:/x.service\n", 17, false, "", out, sizeof(out)),
		  -ENODATA);
	/* A name longer than the caller's buffer is refused, not cut to another unit's name. */
	ASSERT_EQ(peer_unit_from_cgroup("0::/abcdefgh.service\n", 21, true, "", out, 8),
		  -ENAMETOOLONG);
}

TEST(peer_unit_name_rules)
{
	ASSERT_TRUE(peer_unit_name_valid("a.service", 9));
	ASSERT_TRUE(peer_unit_name_valid("a@b@c.service", 13));
	ASSERT_TRUE(peer_unit_name_valid("x-y_z:1\\x2d.scope", 17));
	ASSERT_FALSE(peer_unit_name_valid("a@.service", 10));
	ASSERT_FALSE(peer_unit_name_valid("a.servic", 8));
	ASSERT_FALSE(peer_unit_name_valid("a/b.service", 11));
	ASSERT_FALSE(peer_unit_name_valid("a\nb.service", 11));
}

/* Every process here: our answer is sd_pid_get_unit()'s (both "none" counts as equal). */
TEST(peer_unit_matches_libsystemd)
{
	_cleanup_(closedirp) DIR *d = opendir("/proc");
	struct dirent *e;
	unsigned compared = 0;

	ASSERT_TRUE(d != NULL);
	while ((e = readdir(d))) {
		char *end, ours[256] = "";
		_cleanup_free_ char *theirs = NULL;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		int a = peer_unit_get((pid_t)pid, ours, sizeof(ours));
		int b = sd_pid_get_unit((pid_t)pid, &theirs);
		if (a == -ESRCH || b == -ESRCH)
			continue; /* gone meanwhile */
		if (b < 0)
			ASSERT_TRUE(a < 0);
		else
			ASSERT_STREQ(ours, theirs);
		compared++;
	}
	ASSERT_GT(compared, 0u);
}

/* Moves a paused child into DIR/sub (made here) and compares both answers for it. */
static void compare_in_cgroup(const char *dir, const char *sub)
{
	char path[512], procs[600], ours[256] = "";
	_cleanup_free_ char *theirs = NULL;
	pid_t pid;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	ASSERT_TRUE(mkdir(path, 0755) == 0 || errno == EEXIST);
	pid = fork();
	ASSERT_TRUE(pid >= 0);
	if (pid == 0) {
		pause();
		_exit(0);
	}
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", path);
	f = fopen(procs, "we");
	bool moved = f && fprintf(f, "%d\n", (int)pid) > 0;
	if (f)
		moved = fclose(f) == 0 && moved;
	int a = moved ? peer_unit_get(pid, ours, sizeof(ours)) : -EIO;
	int b = moved ? sd_pid_get_unit(pid, &theirs) : -EIO;
	kill(pid, SIGKILL);
	(void)waitpid(pid, NULL, 0);
	ASSERT_TRUE(moved);
	if (b < 0)
		ASSERT_TRUE(a < 0);
	else
		ASSERT_STREQ(ours, theirs);
}

TEST(peer_unit_matches_libsystemd_in_cgroups)
{
	static const char *const subs[] = {
		"x.service", "x.service/payload", "y.slice", "y.slice/z.scope", "i@inst.service",
		"t@.service", "user@5.service", "user@5.service/app.slice",
		"user@5.service/app.slice/u.service", "_cpu.service", "bad name.service",
	};
	char dir[256];
	struct stat st;

	/* systemd's own hierarchy: the unified one in hybrid mode, else the cgroup2 root. */
	const char *base = stat("/sys/fs/cgroup/unified/cgroup.procs", &st) == 0 ?
				   "/sys/fs/cgroup/unified" : "/sys/fs/cgroup";
	snprintf(dir, sizeof(dir), "%s/vhsm-unit-%d.slice", base, (int)getpid());
	if (mkdir(dir, 0755) < 0) {
		printf("    (skipped: cannot make a cgroup under %s: %s)\n", base, strerror(errno));
		return;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]) && !test_failed(); i++)
		compare_in_cgroup(dir, subs[i]);
	/* Children first: the directories go in reverse order of creation. */
	for (size_t i = sizeof(subs) / sizeof(subs[0]); i > 0; i--) {
		char path[512];
		snprintf(path, sizeof(path), "%s/%s", dir, subs[i - 1]);
		(void)rmdir(path);
	}
	ASSERT_EQ(rmdir(dir), 0);
}
