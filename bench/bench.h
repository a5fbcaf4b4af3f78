/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The benchmark driver shared by vhsm-bench's modules (bench/vhsm-bench.c): results are
 * printed as "name: value unit" lines on stdout, errors on stderr.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "macro.h"

#define NSEC_PER_SEC 1000000000ull

extern bool arg_quick; /* few iterations: numbers for smoke tests only */

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t now_ns(void);

/* Prints "vhsm-bench: MESSAGE" on stderr. */
void bench_fail(const char *fmt, ...) _printf_(1, 2);

/* Prints one "name: value unit" line on stdout. */
void result(const char *name, double value, const char *unit);

/* A benchmarked call: returns 0, or -errno after printing why with bench_fail(). */
typedef int (*bench_fn)(void *ctx);

/*
 * Warms fn up, times batches of calls and prints "name: MEDIAN us" (median per call).
 * Returns 0 or the first error of fn (then prints no result).
 */
int micro_run(const char *name, bench_fn fn, void *ctx);

/*
 * AES key wrap with padding (RFC 5649) through OpenSSL's wrap cipher and through AES-ECB, and
 * the same payloads through lib/wrap.h: the numbers behind the choice of HKDF + AES-256-GCM
 * (docs/performance.md). Returns 0 or -errno (logged).
 */
int bench_kwp(void);

/*
 * SoftHSM2 as a PKCS#11 peer: C_UnwrapKey (CKM_AES_KEY_WRAP_PAD) of an AES-256 key under an
 * AES-256 key, in the process, for `seconds`; prints softhsm2_unwrap_ops_per_s. `module` is
 * the path of libsofthsm2.so; SOFTHSM2_CONF must name a configuration with an empty token
 * directory. Returns 0 and the rate, or -errno (logged).
 */
int bench_softhsm2(const char *module, double seconds, double *ret_ops_per_s);

/*
 * Opens a token of `type` on the LUKS2 image without activating it (the check
 * `cryptsetup open --test-passphrase --token-only` makes). tpm2_device, when not NULL, is
 * handed to systemd's tpm2 token ("swtpm:path=SOCKET"). Returns 0 or -errno (logged).
 */
int bench_luks_token_open(const char *image, const char *type, const char *tpm2_device);
