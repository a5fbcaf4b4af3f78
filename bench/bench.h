/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsm-bench's benchmark modules, called by its main (bench/vhsm-bench.c). Each one measures
 * with the harness (harness.h) and prints its own result lines.
 */
#pragma once

#include "harness.h"

/*
 * AES key wrap with padding (RFC 5649) through OpenSSL's wrap cipher and through AES-ECB, and
 * the same payloads through lib/wrap.h: the numbers behind the choice of HKDF + AES-256-GCM
 * (docs/performance.md). Returns 0 or -errno (logged).
 */
int bench_kwp(void);

/*
 * SoftHSM2 as a PKCS#11 peer: C_UnwrapKey (CKM_AES_KEY_WRAP_PAD) of an AES-256 key under an
 * AES-256 key, in this process. bench_softhsm2_open() dlopens `module` (libsofthsm2.so;
 * SOFTHSM2_CONF must name a configuration with an empty token directory), makes a token and
 * the keys and checks one unwrap; it returns 0 and the open peer, or -errno (logged).
 */
struct bench_p11;
int bench_softhsm2_open(const char *module, struct bench_p11 **ret) _wur_;

/* Unwraps (C_UnwrapKey + C_DestroyObject) for `seconds`, checking the key's value before and
 * after; 0 and the rate in unwraps per second, or -errno (logged). */
int bench_softhsm2_sample(struct bench_p11 *p, double seconds, double *ret_ops_per_s) _wur_;

/* Closes the session, finalizes and unloads the module. Accepts NULL; returns NULL. */
struct bench_p11 *bench_softhsm2_close(struct bench_p11 *p);

/* The cheapest correct OpenSSL path of what one unwrap computes, for comparison with
 * unwrap_key(): floor_* rows. Returns 0 and the sum per unwrap in us, or -errno (logged). */
int bench_floor(double *ret_item_us) _wur_;

/*
 * The floor of one single UNWRAP (bench/bench-unwrap-floor.c): in this process, the work vhsmd
 * must do for one request beyond what the echo server does, through the cheapest correct path
 * (the project's own wire codec, name rule, ACL, shield, unwrap, audit record and MAC), with
 * the audit record written to an unlinked file in dir (put it on the state directory's file
 * system). unwrap_floor_new() sets it up for a DEK wrapped under context and checks that a
 * modified blob and a wrong context are refused: 0 and the floor, or -errno (logged).
 */
struct unwrap_floor;
int unwrap_floor_new(const char *dir, const char *context, struct unwrap_floor **ret) _wur_;
/* Accepts NULL; returns NULL. */
struct unwrap_floor *unwrap_floor_free(struct unwrap_floor *f);
/* One request's work (a bench_fn: 0, or -errno logged). */
int unwrap_floor_request(void *f);
/* The unwrap_floor_* rows (the parts and the whole, micro-benchmarks): 0 and, when ret_us is
 * not NULL, the whole's median in us; or -errno (logged). */
int unwrap_floor_rows(struct unwrap_floor *f, double *ret_us) _wur_;
/*
 * Requests back to back for `seconds` of wall time: 0 and this thread's CPU time (user +
 * system) per request in us, or -errno (logged). CPU time, not wall time: on a busy machine
 * a loop that never sleeps is time-sliced with the other runnable processes, which a daemon's
 * burst of work right after a wake-up mostly is not.
 */
int unwrap_floor_sample(struct unwrap_floor *f, double seconds, double *ret_us) _wur_;

/* What the daemon benchmarks need (bench/bench-daemon.c). */
struct bench_daemon {
	const char *socket;  /* running vhsmd */
	const char *wrapped; /* a DEK that daemon wrapped under context */
	const char *dek;     /* the DEK itself */
	const char *context;
	const char *vhsmctl; /* vhsmctl binary for the CLI rows, or NULL */
	struct bench_p11 *softhsm2; /* the peer for the paired ratio, or NULL */
	double floor_item_us;       /* bench_floor()'s sum, or 0 */
	struct unwrap_floor *unwrap_floor; /* paired with the echo rows, or NULL */
	int daemon_pid;             /* vhsmd's pid for its CPU time, or 0 */
};

/*
 * vhsmd throughput and latency (unwrap_*, unwrap_batch_*), the echo ceiling (ipc_echo_*),
 * the vhsmctl rows and the paired ratios of the targets. Returns 0 or -errno (logged).
 */
int bench_daemon_run(const struct bench_daemon *d) _wur_;

/* Only one load, for profiling the daemon: `what` "unwrap" or "batch", one client for
 * `seconds`; prints its rate. Returns 0, -EINVAL for another `what`, or -errno (logged). */
int bench_daemon_load(const struct bench_daemon *d, const char *what, double seconds) _wur_;

/*
 * Opens a token of `type` on the LUKS2 image without activating it (the check
 * `cryptsetup open --test-passphrase --token-only` makes). tpm2_device, when not NULL, is
 * handed to systemd's tpm2 token ("swtpm:path=SOCKET"). Returns 0 or -errno (logged).
 */
int bench_luks_token_open(const char *image, const char *type, const char *tpm2_device);
