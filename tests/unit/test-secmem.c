/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Secret memory tests. What the kernel does with our mappings (guard pages, locking, dump and
 * fork flags, unmapping) is read back from /proc/self/maps and smaps and mincore(2); anything
 * that must crash (overruns, foreign pointers) or change process state runs in a forked child.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "secmem.h"
#include "test.h"

static size_t ps(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

static uintptr_t page_down(const void *p)
{
	return (uintptr_t)p / ps() * ps();
}

/*
 * Finds the mapping containing addr in /proc/self/smaps; copies its permissions ("rw-p") and
 * its VmFlags line. Returns false when addr is not mapped. Only a mapping's first line has the
 * "lo-hi perms" form; "Size:", "Rss:" and the rest do not parse as two hex numbers.
 */
static bool smaps_lookup(uintptr_t addr, char perms[static 5], char *vmflags, size_t flen)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	bool in = false, found = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char p[5];

		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, p) == 3) {
			in = addr >= lo && addr < hi;
			if (in)
				memcpy(perms, p, 5);
		} else if (in && strncmp(line, "VmFlags:", 8) == 0) {
			snprintf(vmflags, flen, "%s", line + 8);
			found = true;
			break;
		}
	}
	fclose(f);
	return found;
}

static bool has_flag(const char *vmflags, const char *flag)
{
	char want[8];

	snprintf(want, sizeof(want), " %s", flag);
	for (const char *s = vmflags; (s = strstr(s, want)); s++)
		if (s[3] == ' ' || s[3] == '\n' || s[3] == '\0')
			return true;
	return false;
}

/* Runs fn(arg) in a child with stderr on /dev/null; returns the raw wait status. */
static int run_child(void (*fn)(void *), void *arg)
{
	int status = 0;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		/* Crashes are expected here; a sanitizer's report about them is noise. */
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (null >= 0)
			dup2(null, STDERR_FILENO);
		fn(arg);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

static bool died(int status)
{
	return WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0);
}

/* CLEANUP_ERASE wipes its variable when the scope ends, on an early exit from it too. */
static void erase_in_scope(uint8_t (*buf)[32], bool leave_early)
{
	for (int i = 0; i < 1; i++) {
		CLEANUP_ERASE(*buf);
		if (leave_early)
			break;
		(*buf)[0] = 0x55;
	}
}

TEST(cleanup_erase_wipes_on_every_exit)
{
	uint8_t buf[32];

	memset(buf, 0xaa, sizeof(buf));
	{
		CLEANUP_ERASE(buf);
		ASSERT_EQ(buf[31], 0xaa);
	}
	ASSERT_TRUE(mem_is_zero(buf, sizeof(buf)));
	memset(buf, 0xaa, sizeof(buf));
	erase_in_scope(&buf, true);
	ASSERT_TRUE(mem_is_zero(buf, sizeof(buf)));
	memset(buf, 0xaa, sizeof(buf));
	erase_in_scope(&buf, false);
	ASSERT_TRUE(mem_is_zero(buf, sizeof(buf)));
}

TEST(secmem_alloc_free_roundtrip)
{
	static const size_t sizes[] = { 1, 15, 16, 17, 100, 4000, 4064, 4096, 4097, 100000 };

	for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
		uint8_t *p = secmem_alloc(sizes[i]);

		ASSERT_TRUE(p != NULL);
		ASSERT_EQ((uintptr_t)p % 16, 0);
		ASSERT_EQ(secmem_size(p), sizes[i]);
		ASSERT_TRUE(mem_is_zero(p, sizes[i]));
		memset(p, 0xa5, sizes[i]);
		ASSERT_EQ(p[sizes[i] - 1], 0xa5);
		/* The data ends at the page boundary, up to the 16-byte alignment. */
		ASSERT_EQ(((uintptr_t)p + (sizes[i] + 15) / 16 * 16) % ps(), 0);
		ASSERT_TRUE(secmem_free(p) == NULL);
	}
}

TEST(secmem_bad_sizes)
{
	errno = 0;
	ASSERT_TRUE(secmem_alloc(0) == NULL);
	ASSERT_EQ(errno, EINVAL);
	errno = 0;
	ASSERT_TRUE(secmem_alloc(SECMEM_MAX + 1) == NULL);
	ASSERT_EQ(errno, EINVAL);
	errno = 0;
	ASSERT_TRUE(secmem_alloc(SIZE_MAX) == NULL);
	ASSERT_EQ(errno, EINVAL);
	errno = 0;
	ASSERT_TRUE(secmem_dup("x", 0) == NULL);
	ASSERT_EQ(errno, EINVAL);
}

TEST(secmem_max_size)
{
	struct rlimit rl;
	uint8_t *p;

	ASSERT_EQ(getrlimit(RLIMIT_MEMLOCK, &rl), 0);
	if (geteuid() != 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 2 * SECMEM_MAX) {
		printf("    skipped: RLIMIT_MEMLOCK too low to lock SECMEM_MAX\n");
		return;
	}
	p = secmem_alloc(SECMEM_MAX);
	ASSERT_TRUE(p != NULL);
	ASSERT_EQ(secmem_size(p), SECMEM_MAX);
	p[0] = 1;
	p[SECMEM_MAX - 1] = 2;
	ASSERT_TRUE(mem_is_zero(p + 1, SECMEM_MAX - 2));
	secmem_free(p);
}

TEST(secmem_null_and_wipe)
{
	uint8_t buf[48];

	ASSERT_TRUE(secmem_free(NULL) == NULL);
	ASSERT_EQ(secmem_size(NULL), 0);
	memset(buf, 0x77, sizeof(buf));
	secmem_wipe(buf + 8, 32);
	ASSERT_TRUE(mem_is_zero(buf + 8, 32));
	ASSERT_EQ(buf[7], 0x77);
	ASSERT_EQ(buf[40], 0x77);
	secmem_wipe(NULL, 0);
}

TEST(secmem_dup_copies)
{
	uint8_t src[333];
	uint8_t *p;

	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 7 + 1);
	p = secmem_dup(src, sizeof(src));
	ASSERT_TRUE(p != NULL);
	ASSERT_TRUE(p != src);
	ASSERT_EQ(secmem_size(p), sizeof(src));
	ASSERT_MEMEQ(p, src, sizeof(src));
	secmem_free(p);
}

TEST(secmem_mapping_flags)
{
	char perms[5] = "", flags[512] = "";
	uint8_t *p = secmem_alloc(100);
	uintptr_t first, last;
	bool ok;

	ASSERT_TRUE(p != NULL);
	first = page_down(p);
	last = page_down(p + 99);

	ok = smaps_lookup((uintptr_t)p, perms, flags, sizeof(flags));
	ASSERT_TRUE(ok);
	ASSERT_STREQ(perms, "rw-p");
	ASSERT_TRUE(has_flag(flags, "lo")); /* mlock'ed */
	ASSERT_TRUE(has_flag(flags, "dd")); /* MADV_DONTDUMP */
	ASSERT_TRUE(has_flag(flags, "wf")); /* MADV_WIPEONFORK: every SNP guest kernel has it */

	/* Inaccessible pages on both sides of the data pages. */
	ASSERT_TRUE(smaps_lookup(first - 1, perms, flags, sizeof(flags)));
	ASSERT_STREQ(perms, "---p");
	ASSERT_TRUE(smaps_lookup(last + ps(), perms, flags, sizeof(flags)));
	ASSERT_STREQ(perms, "---p");
	secmem_free(p);
}

TEST(secmem_free_unmaps)
{
	unsigned char vec[4];
	uint8_t *p = secmem_alloc(5000);
	uintptr_t first;

	ASSERT_TRUE(p != NULL);
	first = page_down(p) - ps(); /* leading guard page */
	ASSERT_EQ(mincore((void *)first, 4 * ps(), vec), 0);
	secmem_free(p);
	/* Nothing of the mapping is left: mincore() fails on unmapped ranges. */
	errno = 0;
	ASSERT_EQ(mincore((void *)first, ps(), vec), -1);
	ASSERT_EQ(errno, ENOMEM);
	errno = 0;
	ASSERT_EQ(mincore((void *)(first + 3 * ps()), ps(), vec), -1);
	ASSERT_EQ(errno, ENOMEM);
}

static void child_write(void *arg)
{
	/* Without ASan's SEGV handler the child simply dies of the signal, without a report. */
	signal(SIGSEGV, SIG_DFL);
	*(volatile uint8_t *)arg = 1;
}

TEST(secmem_guard_overrun_faults)
{
	uint8_t *p = secmem_alloc(64);
	int status;

	ASSERT_TRUE(p != NULL);
	/* Control: writing the last byte is fine, so a crash below is the guard page's doing. */
	status = run_child(child_write, p + 63);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	status = run_child(child_write, p + 64);
	ASSERT_TRUE(died(status));
	ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);

	/* Underrun below the header page hits the leading guard page. */
	status = run_child(child_write, (uint8_t *)page_down(p) - 1);
	ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
	secmem_free(p);
}

TEST(secmem_guard_overrun_faults_page_sized)
{
	uint8_t *p = secmem_alloc(8192);
	int status;

	ASSERT_TRUE(p != NULL);
	status = run_child(child_write, p + 8191);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	status = run_child(child_write, p + 8192);
	ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
	secmem_free(p);
}

static void child_check_wiped(void *arg)
{
	uint8_t *p = arg;

	/* MADV_WIPEONFORK: the child gets zero pages, and may still free the pointer. */
	if (!mem_is_zero(p, 32))
		_exit(1);
	secmem_free(p);
	_exit(0);
}

TEST(secmem_wiped_in_fork_child)
{
	uint8_t *p = secmem_alloc(32);
	int status;

	ASSERT_TRUE(p != NULL);
	memset(p, 0x5a, 32);
	status = run_child(child_check_wiped, p);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
	/* The parent's copy is untouched. */
	ASSERT_EQ(p[0], 0x5a);
	ASSERT_EQ(p[31], 0x5a);
	ASSERT_EQ(secmem_size(p), 32);
	secmem_free(p);
}

/*
 * The bad frees allocate in the child itself: memory inherited across fork() reads as zero
 * there (MADV_WIPEONFORK), which is not what these tests are about.
 */
static void child_free_offset(void *arg)
{
	uint8_t *p = secmem_alloc(64);

	if (!p)
		_exit(20);
	memset(p, 1, 64);
	secmem_free(p + (uintptr_t)arg);
}

static void child_corrupt_and_free(void *arg)
{
	uint8_t *p = secmem_alloc(64);

	(void)arg;
	if (!p)
		_exit(20);
	*(uint8_t *)page_down(p) ^= 1; /* first byte of the header */
	secmem_free(p);
}

static void child_free(void *arg)
{
	secmem_free(arg);
}

TEST(secmem_free_foreign_aborts)
{
	uint8_t *heap;
	int status;

	/* Control: a proper free in the same setting exits normally. */
	status = run_child(child_free_offset, (void *)0);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* A pointer into the middle of an allocation. */
	status = run_child(child_free_offset, (void *)16);
	ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	/* An unaligned pointer. */
	status = run_child(child_free_offset, (void *)1);
	ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	/* A damaged header. */
	status = run_child(child_corrupt_and_free, NULL);
	ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);

	/* A malloc() pointer: abort, or a fault or ASan report on reading around it. */
	heap = malloc(64);
	ASSERT_TRUE(heap != NULL);
	memset(heap, 1, 64);
	status = run_child(child_free, heap);
	free(heap);
	ASSERT_TRUE(died(status));
}

static void child_mlock_denied(void *arg)
{
	struct rlimit zero = { 0, 0 };
	uint8_t *p;

	(void)arg;
	if (setrlimit(RLIMIT_MEMLOCK, &zero) < 0)
		_exit(10);
	/* root locks regardless of the limit (CAP_IPC_LOCK); nobody does not. */
	if (geteuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
		_exit(11);
	errno = 0;
	p = secmem_alloc(100);
	if (p)
		_exit(12);
	if (errno != EPERM && errno != ENOMEM)
		_exit(13);
	_exit(0);
}

TEST(secmem_mlock_failure_fails)
{
	int status = run_child(child_mlock_denied, NULL);

	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
}

static void child_harden(void *arg)
{
	struct rlimit rl;

	(void)arg;
	if (secmem_harden_process() != 0)
		_exit(1);
	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
		_exit(2);
	if (getrlimit(RLIMIT_CORE, &rl) < 0 || rl.rlim_cur != 0 || rl.rlim_max != 0)
		_exit(3);
	_exit(0);
}

TEST(secmem_harden_process)
{
	int status = run_child(child_harden, NULL);

	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
}

static void *thread_churn(void *arg)
{
	uintptr_t id = (uintptr_t)arg;

	for (size_t i = 0; i < 200; i++) {
		size_t n = 1 + (i * 37 + id * 101) % 6000;
		uint8_t *p = secmem_alloc(n);

		if (!p || secmem_size(p) != n || !mem_is_zero(p, n))
			return (void *)1;
		memset(p, (int)id, n);
		if (p[n - 1] != (uint8_t)id)
			return (void *)1;
		secmem_free(p);
	}
	return NULL;
}

TEST(secmem_threads)
{
	pthread_t t[4];
	void *res;
	int bad = 0;

	for (uintptr_t i = 0; i < ELEMENTSOF(t); i++)
		ASSERT_EQ(pthread_create(&t[i], NULL, thread_churn, (void *)(i + 1)), 0);
	for (size_t i = 0; i < ELEMENTSOF(t); i++) {
		ASSERT_EQ(pthread_join(t[i], &res), 0);
		bad += res != NULL;
	}
	ASSERT_EQ(bad, 0);
}

TEST(secmem_pool_reuses_wiped_locked_pages)
{
	char perms[5] = "", flags[512] = "";
	uint8_t *p, *q, *big, *third;
	uintptr_t page;

	ASSERT_EQ(secmem_pool_enable(SECMEM_POOL_MAX + 1), -EINVAL);
	ASSERT_EQ(secmem_pool_enable(2), 0);
	ASSERT_EQ(secmem_pool_count(), 0u);
	p = secmem_alloc(64);
	ASSERT_TRUE(p != NULL);
	memset(p, 0xa5, 64);
	page = page_down(p);
	secmem_free(p);
	ASSERT_EQ(secmem_pool_count(), 1u);

	/* Still mapped, locked and marked while pooled, and wiped: the header page reads zero. */
	ASSERT_TRUE(smaps_lookup(page, perms, flags, sizeof(flags)));
	ASSERT_STREQ(perms, "rw-p");
	ASSERT_TRUE(has_flag(flags, "lo"));
	ASSERT_TRUE(has_flag(flags, "dd"));
	ASSERT_TRUE(has_flag(flags, "wf"));
	for (size_t i = 0; i < ps(); i++)
		ASSERT_EQ(((const uint8_t *)page)[i], 0);

	/* The next allocation of the same page count gets it back, zeroed, with a fresh header. */
	q = secmem_alloc(100);
	ASSERT_TRUE(q != NULL);
	ASSERT_EQ(page_down(q), page);
	ASSERT_EQ(secmem_pool_count(), 0u);
	ASSERT_EQ(secmem_size(q), 100u);
	for (size_t i = 0; i < 100; i++)
		ASSERT_EQ(q[i], 0);
	/* Guard pages are still in place around a reused mapping. */
	ASSERT_TRUE(smaps_lookup(page - 1, perms, flags, sizeof(flags)));
	ASSERT_STREQ(perms, "---p");
	ASSERT_TRUE(smaps_lookup(page + ps(), perms, flags, sizeof(flags)));
	ASSERT_STREQ(perms, "---p");

	/* Larger mappings are never pooled: freeing one unmaps it. */
	big = secmem_alloc(8 * ps());
	ASSERT_TRUE(big != NULL);
	secmem_free(big);
	ASSERT_EQ(secmem_pool_count(), 0u);

	/* The pool holds at most its capacity; disabling it unmaps what it held. */
	p = secmem_alloc(10);
	big = secmem_alloc(20);
	ASSERT_TRUE(p != NULL && big != NULL);
	third = secmem_alloc(30);
	ASSERT_TRUE(third != NULL);
	secmem_free(p);
	secmem_free(big);
	secmem_free(third);
	secmem_free(q);
	ASSERT_EQ(secmem_pool_count(), 2u);
	ASSERT_EQ(secmem_pool_enable(0), 0);
	ASSERT_EQ(secmem_pool_count(), 0u);
}

static void child_pool_empty(void *arg)
{
	uint8_t *p;

	(void)arg;
	if (secmem_pool_count() != 0)
		_exit(21);
	p = secmem_alloc(64); /* a fresh mapping, locked in this process */
	if (!p)
		_exit(22);
	secmem_free(p);
	if (secmem_pool_count() != 0) /* and the child's pool is off */
		_exit(23);
}

TEST(secmem_pool_empty_in_fork_child)
{
	uint8_t *p;
	int status;

	ASSERT_EQ(secmem_pool_enable(4), 0);
	p = secmem_alloc(64);
	ASSERT_TRUE(p != NULL);
	secmem_free(p);
	ASSERT_EQ(secmem_pool_count(), 1u);
	status = run_child(child_pool_empty, NULL);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
	ASSERT_EQ(secmem_pool_count(), 1u);
	ASSERT_EQ(secmem_pool_enable(0), 0);
}

/* Fills *k with a pattern and fails: the wipe must not depend on reaching a manual one. */
static int erase_on_error_path(uint8_t (*k)[24])
{
	CLEANUP_ERASE(*k);

	memset(*k, 0xa5, sizeof(*k));
	if ((*k)[0] == 0xa5)
		return -EIO;
	return 0;
}

struct erase_pair {
	uint64_t a;
	uint8_t b[13];
};

TEST(secmem_cleanup_erase)
{
	uint8_t key[24], guard_after[8];
	struct erase_pair s;

	memset(guard_after, 0x5a, sizeof(guard_after));
	{
		CLEANUP_ERASE(key);
		memset(key, 0xff, sizeof(key));
		ASSERT_EQ(key[23], 0xff);
	}
	ASSERT_TRUE(mem_is_zero(key, sizeof(key)));

	ASSERT_EQ(erase_on_error_path(&key), -EIO);
	ASSERT_TRUE(mem_is_zero(key, sizeof(key)));

	/* A struct is erased whole, and only it: its neighbour keeps its bytes. */
	{
		CLEANUP_ERASE(s);
		s.a = UINT64_MAX;
		memset(s.b, 0x11, sizeof(s.b));
	}
	ASSERT_TRUE(mem_is_zero(&s, sizeof(s)));
	for (size_t i = 0; i < sizeof(guard_after); i++)
		ASSERT_EQ(guard_after[i], 0x5a);
}
