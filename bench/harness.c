/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The benchmark harness (see harness.h). Micro-benchmarks warm up, then time samples of a
 * batch of calls sized so that one sample lasts at least SAMPLE_MIN_NS (the clock's own cost
 * stays negligible) and report the median per call.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

#define SAMPLE_MIN_NS 20000ull /* a sample lasts at least this long (batching) */

bool arg_quick;

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

void bench_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "vhsm-bench: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* Three significant digits or more: 0.0642, 3.05, 48.5, 18963. */
static int result_decimals(double value)
{
	double a = fabs(value);

	return a >= 100.0 ? 0 : a >= 1.0 ? 2 : 3;
}

void result(const char *name, double value, const char *unit)
{
	printf("%s: %.*f %s\n", name, result_decimals(value), value, unit);
	fflush(stdout);
}

/* ---- sample sets ---- */

int samples_push(struct samples *s, double x)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		double *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = x;
	return 0;
}

void samples_done(struct samples *s)
{
	free(s->v);
	*s = (struct samples){};
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double samples_percentile(struct samples *s, double p)
{
	size_t k;

	if (s->n == 0)
		return NAN;
	qsort(s->v, s->n, sizeof(*s->v), cmp_double);
	k = (size_t)ceil(p / 100.0 * (double)s->n);
	return s->v[k ? k - 1 : 0];
}

double samples_median(struct samples *s)
{
	if (s->n == 0)
		return NAN;
	qsort(s->v, s->n, sizeof(*s->v), cmp_double);
	if (s->n % 2)
		return s->v[s->n / 2];
	return (s->v[s->n / 2 - 1] + s->v[s->n / 2]) / 2.0;
}

/* ---- micro-benchmark driver ---- */

struct micro_limits {
	unsigned warmup; /* calls before timing */
	unsigned max_samples;
	unsigned min_samples;
	double budget_s; /* stop sampling after this (once min_samples are taken) */
};

static struct micro_limits micro_limits(void)
{
	if (arg_quick)
		return (struct micro_limits){ 5, 200, 5, 0.3 };
	return (struct micro_limits){ 50, 5000, 20, 3.0 };
}

/* Calls fn until it has run for SAMPLE_MIN_NS and returns the calls per sample. */
static int micro_calibrate(bench_fn fn, void *ctx, unsigned *ret_batch)
{
	uint64_t t0 = now_ns(), t;
	unsigned calls = 0;
	int r;

	do {
		r = fn(ctx);
		if (r < 0)
			return r;
		calls++;
		t = now_ns() - t0;
	} while (t < SAMPLE_MIN_NS);
	*ret_batch = calls;
	return 0;
}

/* Times samples of `batch` calls into s until the limits say stop. */
static int micro_sample(const struct micro_limits *lim, unsigned batch, bench_fn fn, void *ctx,
			struct samples *s)
{
	uint64_t deadline = now_ns() + (uint64_t)(lim->budget_s * (double)NSEC_PER_SEC);
	int r = 0;

	while (r >= 0 && s->n < lim->max_samples) {
		uint64_t t0 = now_ns();

		for (unsigned b = 0; b < batch && r >= 0; b++)
			r = fn(ctx);
		if (r >= 0)
			r = samples_push(s, (double)(now_ns() - t0) / batch / 1000.0);
		if (s->n >= lim->min_samples && now_ns() > deadline)
			break;
	}
	return r;
}

int micro_run(const char *name, bench_fn fn, void *ctx, double *ret_us)
{
	const struct micro_limits lim = micro_limits();
	struct samples s = {};
	unsigned batch = 1;
	double m;
	int r = 0;

	for (unsigned i = 0; i < lim.warmup && r >= 0; i++)
		r = fn(ctx);
	if (r >= 0)
		r = micro_calibrate(fn, ctx, &batch);
	if (r >= 0)
		r = micro_sample(&lim, batch, fn, ctx, &s);
	if (r < 0) {
		bench_fail("%s: %s", name, strerror(-r));
	} else {
		m = samples_median(&s);
		result(name, m, "us");
		if (ret_us)
			*ret_us = m;
	}
	samples_done(&s);
	return r;
}

/* ---- paired comparisons ---- */

struct paired_sets {
	struct samples a, b, ratio, diff;
};

static void paired_sets_done(struct paired_sets *s)
{
	samples_done(&s->a);
	samples_done(&s->b);
	samples_done(&s->ratio);
	samples_done(&s->diff);
}

/* One pair: a sample of a, then one of b, recorded with their ratio and difference. */
static int paired_one(struct paired_sets *s, bench_sample_fn a, void *actx, bench_sample_fn b,
		      void *bctx)
{
	double x, y;
	int r;

	r = a(actx, &x);
	if (r >= 0)
		r = b(bctx, &y);
	if (r >= 0 && !(y > 0.0)) {
		bench_fail("paired sample: the second side measured %g", y);
		r = -EDOM;
	}
	if (r >= 0)
		r = samples_push(&s->a, x);
	if (r >= 0)
		r = samples_push(&s->b, y);
	if (r >= 0)
		r = samples_push(&s->ratio, x / y);
	if (r >= 0)
		r = samples_push(&s->diff, x - y);
	return r;
}

int paired_run(unsigned pairs, bench_sample_fn a, void *actx, bench_sample_fn b, void *bctx,
	       struct paired *ret)
{
	struct paired_sets s = {};
	struct paired p = { .n = pairs };
	int r = pairs > 0 ? 0 : -EINVAL;

	for (unsigned i = 0; r >= 0 && i < pairs; i++)
		r = paired_one(&s, a, actx, b, bctx);
	if (r >= 0) {
		p.a_median = samples_median(&s.a);
		p.b_median = samples_median(&s.b);
		p.ratio_median = samples_median(&s.ratio); /* sorted from here on */
		p.ratio_min = s.ratio.v[0];
		p.ratio_max = s.ratio.v[s.ratio.n - 1];
		p.diff_median = samples_median(&s.diff);
		p.diff_min = s.diff.v[0];
		p.diff_max = s.diff.v[s.diff.n - 1];
		*ret = p;
	}
	paired_sets_done(&s);
	return r;
}

void result_ratio(const char *name, const struct paired *p, const char *what)
{
	printf("%s: %.3f x (min %.3f, max %.3f, %u pairs; %s)\n", name, p->ratio_median,
	       p->ratio_min, p->ratio_max, p->n, what);
	fflush(stdout);
}
