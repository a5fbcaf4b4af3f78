/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Secret memory: page-granular mappings with guard pages on both sides, locked in RAM
 * (mlock), excluded from core dumps (MADV_DONTDUMP) and wiped in forked children
 * (MADV_WIPEONFORK). Freeing wipes, unlocks and unmaps. Library code; never logs.
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
 * Process-wide hardening for programs that hold secrets (vhsmd, helpers, vhsmctl when it
 * handles key material): PR_SET_DUMPABLE 0 and RLIMIT_CORE 0. Never called by library code
 * on its own (the token plugin runs inside other processes). Returns 0 or -errno.
 */
int secmem_harden_process(void);
