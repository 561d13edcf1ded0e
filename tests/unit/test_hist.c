/*
 * test_hist.c - the latency histogram: bucket edges, the error bound, and
 * percentiles against exact values from a sorted array: within 1% for
 * uniform and heavy-tailed samples from 1 us to 100 s.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "c1m.h"
#include "check.h"

/* Every bucket's edges: contiguous, covering 0..2^64-1, width <= 1/64. */
static void test_edges(void)
{
	CHECK(hist_bucket_low(0) == 0, "first bucket starts at 0");
	for (int i = 0; i < HIST_BUCKETS; i++) {
		uint64_t lo = hist_bucket_low(i), hi = hist_bucket_high(i);

		CHECK(lo <= hi, "bucket %d: %llu > %llu", i,
		      (unsigned long long)lo, (unsigned long long)hi);
		CHECK(hist_index(lo) == i, "index(low(%d)) = %d", i, hist_index(lo));
		CHECK(hist_index(hi) == i, "index(high(%d)) = %d", i, hist_index(hi));
		if (i + 1 < HIST_BUCKETS)
			CHECK(hist_bucket_low(i + 1) == hi + 1, "gap after bucket %d", i);
		if (lo >= 2 * HIST_SUB)
			CHECK((double)(hi - lo + 1) / (double)lo <= 1.0 / 64 + 1e-12,
			      "bucket %d too wide: %llu..%llu", i,
			      (unsigned long long)lo, (unsigned long long)hi);
	}
	CHECK(hist_bucket_high(HIST_BUCKETS - 1) == UINT64_MAX, "last bucket ends at max");
	CHECK(hist_index(UINT64_MAX) == HIST_BUCKETS - 1, "max value in last bucket");
	/* Powers of two and their neighbours land where they should. */
	for (int b = 1; b < 64; b++) {
		uint64_t v = 1ull << b;

		CHECK(hist_bucket_low(hist_index(v)) == v || v < 2 * HIST_SUB,
		      "2^%d starts a bucket", b);
		CHECK(hist_index(v - 1) < hist_index(v), "2^%d - 1 below 2^%d", b, b);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t rng = 1;

static double uniform01(void)
{
	rng = rng * 6364136223846793005ull + 1442695040888963407ull;
	return (double)(rng >> 11) / 9007199254740992.0;	/* [0, 1) */
}

/* Samples in ns: uniform over [lo, hi], or heavy-tailed: log-uniform over
 * lo..hi (6 decades from 1 us: as many at 1-10 us as at 0.1-1 s). */
static uint64_t sample(int heavy, double lo, double hi)
{
	double u = uniform01();

	return (uint64_t)(heavy ? lo * pow(hi / lo, u) : lo + u * (hi - lo));
}

/* Every reported p50/p90/p99/p99.9 within 1% of the exact order statistic
 * (the ceil(q*n)-th smallest), merged from 4 parts as a client's loops do. */
static void test_quantiles(const char *what, int heavy, double lo, double hi, int n)
{
	static struct hist h, parts[4];
	uint64_t *v = malloc((size_t)n * sizeof(*v));
	const double qs[] = { 0.5, 0.9, 0.99, 0.999 };
	double worst = 0;

	hist_init(&h);
	for (int p = 0; p < 4; p++)
		hist_init(&parts[p]);
	for (int i = 0; i < n; i++) {
		v[i] = sample(heavy, lo, hi);
		hist_record(&parts[i % 4], v[i]);
	}
	for (int p = 0; p < 4; p++)
		hist_merge(&h, &parts[p]);
	qsort(v, (size_t)n, sizeof(*v), cmp_u64);
	CHECK(h.count == (uint64_t)n, "%s: count %llu", what, (unsigned long long)h.count);
	CHECK(h.min == v[0] && h.max == v[n - 1], "%s: min/max exact", what);
	CHECK(hist_quantile(&h, 1.0) == v[n - 1], "%s: q=1 is the max", what);
	for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
		size_t rank = (size_t)ceil(qs[k] * n);
		uint64_t exact = v[rank - 1], got = hist_quantile(&h, qs[k]);
		double err = fabs((double)got - (double)exact) / (double)exact;

		CHECK(err <= 0.01, "%s: q%.3f = %llu, exact %llu: %.2f%% off", what, qs[k],
		      (unsigned long long)got, (unsigned long long)exact, 100 * err);
		if (err > worst)
			worst = err;
	}
	printf("%s: worst percentile error %.3f%%\n", what, 100 * worst);
	free(v);
}

/* The bound itself, value by value: a bucket's middle is within 1/128 of
 * every value in it, from 1 us to 100 s. */
static void test_bound(void)
{
	double worst = 0;

	for (double x = 1e3; x <= 1e11; x *= 1.0007) {
		uint64_t v = (uint64_t)x;
		int i = hist_index(v);
		uint64_t mid = hist_bucket_low(i) + (hist_bucket_high(i) - hist_bucket_low(i)) / 2;
		double err = fabs((double)mid - (double)v) / (double)v;

		if (err > worst)
			worst = err;
	}
	CHECK(worst <= 1.0 / 128, "a bucket's middle is %.3f%% from a value in it", 100 * worst);
}

static void test_small(void)
{
	struct hist h;

	hist_init(&h);
	CHECK(hist_quantile(&h, 0.5) == 0, "empty histogram gives 0");
	CHECK(hist_mean(&h) == 0, "empty mean 0");
	for (uint64_t i = 1; i <= 100; i++)
		hist_record(&h, i);
	/* 1..63 are exact; 50th of 100 is 50 */
	CHECK(hist_quantile(&h, 0.5) == 50, "p50 of 1..100 = %llu",
	      (unsigned long long)hist_quantile(&h, 0.5));
	CHECK(hist_quantile(&h, 0.01) == 1, "p1 = 1");
	CHECK(hist_mean(&h) == 50.5, "mean %f", hist_mean(&h));
	hist_record(&h, UINT64_MAX);
	hist_record(&h, UINT64_MAX);
	CHECK(h.sum == UINT64_MAX, "sum saturates");
	CHECK(hist_quantile(&h, 1) == UINT64_MAX, "max kept");
}

int main(void)
{
	test_edges();
	test_small();
	test_bound();
	test_quantiles("uniform 1 us..100 s", 0, 1e3, 1e11, 200000);
	test_quantiles("uniform 20.0..21.0 ms", 0, 20.0e6, 21.0e6, 100000);
	test_quantiles("heavy-tailed 1 us..1 s", 1, 1e3, 1e9, 200000);
	test_quantiles("heavy-tailed 1 us..100 s", 1, 1e3, 1e11, 1001);
	printf("%s\n", failures ? "hist: FAILED" : "hist: ok");
	return failures ? 1 : 0;
}
