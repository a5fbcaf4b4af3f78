/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Secret memory: page-granular mappings with guard pages on both sides, locked in RAM
 * (mlock), excluded from core dumps (MADV_DONTDUMP) and wiped in forked children
 * (MADV_WIPEONFORK). Freeing wipes, unlocks and unmaps (or, with the pool enabled, wipes and
 * keeps the mapping for reuse). Library code; never logs.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "macro.h"

/*
 * Allocates size bytes (1 .. SECMEM_MAX) of zeroed secret memory.
 * Returns the pointer or NULL with errno set (ENOMEM, EINVAL; EPERM/ENOMEM from mlock).
 * The caller owns it and releases it with secmem_free().
 */
void *secmem_alloc(size_t size) _wur_;

/* Wipes, unlocks and unmaps p (NULL is fine). Always returns NULL. */
void *secmem_free(void *p);

/* Size given to secmem_alloc() for p. */
size_t secmem_size(const void *p);

/* Copies n bytes of src into fresh secret memory; NULL with errno on failure. */
void *secmem_dup(const void *src, size_t n) _wur_;

/* Wipes n bytes at p in a way the compiler cannot drop (explicit_bzero). */
void secmem_wipe(void *p, size_t n);

#define SECMEM_MAX (16u * 1024u * 1024u)

static inline void secmem_freep(void *p)
{
	secmem_free(*(void **)p);
}
#define _cleanup_secmem_ _cleanup_(secmem_freep)

/*
 * Erasure by construction for secrets that live on the stack (derived keys, hashes of key
 * material): CLEANUP_ERASE(var) placed after var's declaration wipes all sizeof(var) bytes
 * with explicit_bzero when the scope ends, on every return path, so no path depends on call
 * order to reach a manual wipe. var must be an object (an array or a struct), not a pointer
 * to one: sizeof a pointer would wipe the pointer. Cleanups run in reverse declaration order,
 * so the wipe happens before var leaves scope.
 */
struct secmem_eraser {
	void *p;
	size_t n;
};

static inline void secmem_erasep(struct secmem_eraser *e)
{
	explicit_bzero(e->p, e->n);
}

#define SECMEM_CONCAT_(a, b) a##b
#define SECMEM_CONCAT(a, b) SECMEM_CONCAT_(a, b)
#define CLEANUP_ERASE(var)                                                                         \
	_cleanup_(secmem_erasep) _unused_ struct secmem_eraser SECMEM_CONCAT(                      \
		secmem_eraser_, __COUNTER__) = { .p = &(var), .n = sizeof(var) }

/*
 * Pool of released allocations (off by default; for long-running programs that allocate small
 * secrets per request). With n > 0, up to n released mappings of at most 16 KiB are wiped with
 * explicit_bzero and kept locked, guard-paged and marked, instead of being unlocked and
 * unmapped, and secmem_alloc() of the same page count reuses them. Lowering n unmaps the
 * surplus; 0 empties the pool. A forked child starts with an empty, disabled pool.
 * The price: a pointer used after secmem_free() may read another (wiped, then reused) secret
 * instead of faulting. Returns 0 or -EINVAL (n > SECMEM_POOL_MAX). Thread-safe.
 */
#define SECMEM_POOL_MAX 64u
int secmem_pool_enable(unsigned n);

/* Number of mappings now in the pool (for tests and statistics). */
unsigned secmem_pool_count(void);

/*
 * Process-wide hardening for programs that hold secrets (vhsmd, helpers, vhsmctl when it
 * handles key material): PR_SET_DUMPABLE 0 and RLIMIT_CORE 0. Never called by library code
 * on its own (the token plugin runs inside other processes). Returns 0 or -errno.
 */
int secmem_harden_process(void);
