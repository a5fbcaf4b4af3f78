/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The benchmark harness: the clock, sample sets, result lines, the micro-benchmark driver and
 * paired comparisons. It knows nothing of what is measured; every benchmark module
 * (bench/bench-*.c) and vhsm-bench's main use it. Results are "name: value unit" lines on
 * stdout, errors "vhsm-bench: ..." on stderr.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
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

/* A growing set of samples (malloc'ed). */
struct samples {
	double *v;
	size_t n, cap;
};

/* Appends x. 0 or -ENOMEM. */
int samples_push(struct samples *s, double x) _wur_;
/* Frees the values and empties s. */
void samples_done(struct samples *s);
/* Median of the samples (sorts them); NAN when there are none. */
double samples_median(struct samples *s);
/* Nearest-rank percentile, 0 < p <= 100 (sorts them); NAN when there are none. */
double samples_percentile(struct samples *s, double p);

/* A benchmarked call: returns 0, or -errno after printing why with bench_fail(). */
typedef int (*bench_fn)(void *ctx);

/*
 * Warms fn up, times batches of calls and prints "name: MEDIAN us" (median per call).
 * Returns 0 and, when ret_us is not NULL, the median; or the first error of fn (then prints
 * no result).
 */
int micro_run(const char *name, bench_fn fn, void *ctx, double *ret_us);

/* One sample of a paired comparison: 0 and a value (a rate or a time), or -errno (logged). */
typedef int (*bench_sample_fn)(void *ctx, double *ret_value);

/* A paired comparison of a and b: medians of each side, and of the per-pair ratios a/b. */
struct paired {
	unsigned n;                       /* pairs */
	double a_median, b_median;
	double ratio_median, ratio_min, ratio_max;
	double diff_median, diff_min, diff_max; /* a - b per pair */
};

/*
 * Takes `pairs` samples of a and of b alternately (a b a b ...), so that both sides see the
 * same load minute by minute, and returns the medians and the per-pair ratios and
 * differences: one noisy stretch moves one pair, not the result. 0 or the first error.
 */
int paired_run(unsigned pairs, bench_sample_fn a, void *actx, bench_sample_fn b, void *bctx,
	       struct paired *ret) _wur_;

/* Prints "name: RATIO x (min MIN, max MAX, N pairs; what)" from p. */
void result_ratio(const char *name, const struct paired *p, const char *what);
