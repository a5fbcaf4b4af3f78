/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Secret memory. Every allocation is its own anonymous mapping:
 *
 *   [guard page, PROT_NONE][header | slack | user data][guard page, PROT_NONE]
 *                           \_______ data pages ______/
 *
 * The user data ends as close to the trailing guard page as 16-byte alignment allows, so a
 * linear overrun faults at once. The header sits at the start of the data pages; from a user
 * pointer it is found by rounding (p - header size) down to a page, which is exact because
 * the slack between header and data is always less than one page. The data pages are locked,
 * excluded from core dumps and wiped in forked children.
 *
 * By default nothing is global: every free wipes, unlocks and unmaps. A long-running program
 * that allocates and frees small secrets per request (vhsmd) may enable a pool with
 * secmem_pool_enable(): up to that many released mappings are wiped and kept, still locked,
 * guard-paged and marked, and handed out again, which saves the mmap/mlock/munmap system calls
 * and the TLB shootdown of munmap. The pool is guarded by a mutex and emptied in a forked child
 * (whose copies are wiped by MADV_WIPEONFORK and not locked).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "secmem.h"

#define SECMEM_ALIGN 16u
#define SECMEM_MAGIC UINT64_C(0x5648534d53454321) /* "VHSMSEC!" */

struct secmem_header {
	uint64_t magic; /* SECMEM_MAGIC ^ address of the header: a copied header does not pass */
	uint64_t size;	/* as given to secmem_alloc() */
	uint64_t map_len; /* whole mapping, guard pages included */
	uint64_t offset;  /* user pointer - header address */
};

_Static_assert(sizeof(struct secmem_header) % SECMEM_ALIGN == 0, "header keeps alignment");

static size_t page_size(void)
{
	long ps = sysconf(_SC_PAGESIZE);

	return ps > 0 ? (size_t)ps : 4096;
}

static size_t round_up(size_t n, size_t to)
{
	return (n + to - 1) / to * to;
}

/*
 * mlock(2) and munlock(2) as raw system calls: the sanitizer runtimes intercept the libc
 * wrappers and turn them into no-ops, and an ASan build must lock (and fail) like any other.
 */
static int secmem_mlock(void *p, size_t n)
{
	return (int)syscall(SYS_mlock, p, n);
}

static int secmem_munlock(void *p, size_t n)
{
	return (int)syscall(SYS_munlock, p, n);
}

/*
 * The pool: data pages of released mappings, wiped, still locked and marked, with their guard
 * pages around them. Only mappings of at most SECMEM_POOL_DATA_MAX data bytes are kept.
 */
#define SECMEM_POOL_DATA_MAX (4u * 4096u)
struct secmem_pooled {
	uint8_t *data;
	size_t data_len;
};
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct secmem_pooled pool[SECMEM_POOL_MAX];
static unsigned pool_n, pool_cap;

static void pool_unmap(const struct secmem_pooled *e, bool unlock)
{
	size_t ps = page_size();

	if (unlock)
		(void)secmem_munlock(e->data, e->data_len);
	(void)munmap(e->data - ps, e->data_len + 2 * ps);
}

/* In a forked child the pooled pages are zero (MADV_WIPEONFORK) and not locked: drop them. */
static void pool_atfork_child(void)
{
	pthread_mutex_init(&pool_lock, NULL);
	for (unsigned i = 0; i < pool_n; i++)
		pool_unmap(&pool[i], false);
	pool_n = 0;
	pool_cap = 0;
}

static void pool_register_atfork(void)
{
	(void)pthread_atfork(NULL, NULL, pool_atfork_child);
}

int secmem_pool_enable(unsigned n)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	if (n > SECMEM_POOL_MAX)
		return -EINVAL;
	pthread_once(&once, pool_register_atfork);
	pthread_mutex_lock(&pool_lock);
	while (pool_n > n)
		pool_unmap(&pool[--pool_n], true);
	pool_cap = n;
	pthread_mutex_unlock(&pool_lock);
	return 0;
}

unsigned secmem_pool_count(void)
{
	unsigned n;

	pthread_mutex_lock(&pool_lock);
	n = pool_n;
	pthread_mutex_unlock(&pool_lock);
	return n;
}

/* A pooled mapping with data_len data bytes, or NULL. Its pages are zero and locked. */
static uint8_t *pool_take(size_t data_len)
{
	uint8_t *data = NULL;

	if (data_len > SECMEM_POOL_DATA_MAX)
		return NULL;
	pthread_mutex_lock(&pool_lock);
	for (unsigned i = pool_n; i > 0; i--)
		if (pool[i - 1].data_len == data_len) {
			data = pool[i - 1].data;
			pool[i - 1] = pool[--pool_n];
			break;
		}
	pthread_mutex_unlock(&pool_lock);
	return data;
}

/* Keeps wiped data pages for reuse; false when the pool is off or full (the caller unmaps). */
static bool pool_put(uint8_t *data, size_t data_len)
{
	bool kept = false;

	if (data_len > SECMEM_POOL_DATA_MAX)
		return false;
	pthread_mutex_lock(&pool_lock);
	if (pool_n < pool_cap) {
		pool[pool_n++] = (struct secmem_pooled){ .data = data, .data_len = data_len };
		kept = true;
	}
	pthread_mutex_unlock(&pool_lock);
	return kept;
}

static uint64_t header_magic(const struct secmem_header *h)
{
	return SECMEM_MAGIC ^ (uint64_t)(uintptr_t)h;
}

/* Locks and marks the data pages; on failure returns -errno and leaves unmapping to the caller. */
static int secmem_protect(uint8_t *data, size_t data_len)
{
	if (mprotect(data, data_len, PROT_READ | PROT_WRITE) < 0)
		return negative_errno();
	/* Locked before anything is written, so no secret ever reaches swap. */
	if (secmem_mlock(data, data_len) < 0)
		return negative_errno();
	if (madvise(data, data_len, MADV_DONTDUMP) < 0)
		return negative_errno();
	/* MADV_WIPEONFORK is Linux 4.14+; older kernels say EINVAL and we go without. */
	if (madvise(data, data_len, MADV_WIPEONFORK) < 0 && errno != EINVAL)
		return negative_errno();
	return 0;
}

void *secmem_alloc(size_t size)
{
	size_t ps = page_size(), data_len, map_len;
	struct secmem_header *h;
	uint8_t *map, *data;
	int r;

	if (size == 0 || size > SECMEM_MAX) {
		errno = EINVAL;
		return NULL;
	}
	data_len = round_up(sizeof(*h) + round_up(size, SECMEM_ALIGN), ps);
	map_len = data_len + 2 * ps;

	data = pool_take(data_len);
	if (data)
		goto header;

	/* Everything starts inaccessible; only the data pages are opened up. */
	map = mmap(NULL, map_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return NULL;
	data = map + ps;
	r = secmem_protect(data, data_len);
	if (r < 0) {
		munmap(map, map_len);
		errno = -r;
		return NULL;
	}

header:
	h = (struct secmem_header *)data;
	h->magic = header_magic(h);
	h->size = size;
	h->map_len = map_len;
	h->offset = data_len - round_up(size, SECMEM_ALIGN);
	return data + h->offset;
}

/* The header of p; abort()s when p was not returned by secmem_alloc() or the header is damaged. */
static struct secmem_header *secmem_header_of(const void *p)
{
	size_t ps = page_size();
	uintptr_t u = (uintptr_t)p;
	struct secmem_header *h;

	if (u % SECMEM_ALIGN != 0 || u < ps + sizeof(*h))
		abort();
	h = (struct secmem_header *)((u - sizeof(*h)) / ps * ps);
	if (h->magic != header_magic(h) || h->offset < sizeof(*h) || h->offset - sizeof(*h) >= ps ||
	    u - (uintptr_t)h != h->offset || h->size == 0 || h->size > SECMEM_MAX ||
	    h->map_len != round_up(h->offset + round_up(h->size, SECMEM_ALIGN), ps) + 2 * ps)
		abort();
	return h;
}

/*
 * In a child forked after the allocation, MADV_WIPEONFORK hands the child zero pages: the
 * header is gone along with the secret. Such a pointer is recognised by everything from the
 * page start up to p being zero; there is nothing left to wipe, and without the header the
 * mapping size is unknown, so the child keeps the (empty) mapping until it exits.
 */
static bool secmem_wiped_by_fork(const void *p)
{
	size_t ps = page_size();
	uintptr_t u = (uintptr_t)p;
	uintptr_t start;

	if (u % SECMEM_ALIGN != 0 || u < ps + sizeof(struct secmem_header))
		return false;
	start = (u - sizeof(struct secmem_header)) / ps * ps;
	return mem_is_zero((const void *)start, u - start);
}

void *secmem_free(void *p)
{
	struct secmem_header *h;
	size_t ps, data_len, map_len;

	if (!p)
		return NULL;
	if (secmem_wiped_by_fork(p))
		return NULL;
	h = secmem_header_of(p);
	ps = page_size();
	map_len = h->map_len;
	data_len = map_len - 2 * ps;

	explicit_bzero(h, data_len);
	if (pool_put((uint8_t *)h, data_len))
		return NULL;
	(void)secmem_munlock(h, data_len);
	if (munmap((uint8_t *)h - ps, map_len) < 0)
		abort(); /* our own mapping: failure means memory corruption */
	return NULL;
}

size_t secmem_size(const void *p)
{
	if (!p)
		return 0;
	return secmem_header_of(p)->size;
}

void *secmem_dup(const void *src, size_t n)
{
	void *p = secmem_alloc(n);

	if (p)
		memcpy(p, src, n);
	return p;
}

void secmem_wipe(void *p, size_t n)
{
	if (p && n)
		explicit_bzero(p, n);
}

int secmem_harden_process(void)
{
	static const struct rlimit no_core = { 0, 0 };

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return negative_errno();
	if (setrlimit(RLIMIT_CORE, &no_core) < 0)
		return negative_errno();
	return 0;
}
