/*
 * test_hist.c - the latency histogram: bucket edges, the error bound, and
 * percentiles against exact values from a sorted array.
 */
#include <stdlib.h>
#include <string.h>

#include "c1m.h"
#include "check.h"

/* Every bucket's edges: contiguous, covering 0..2^64-1, width <= 1/32. */
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
		if (lo >= 64)
			CHECK((double)(hi - lo + 1) / (double)lo <= 1.0 / 32 + 1e-12,
			      "bucket %d too wide: %llu..%llu", i,
			      (unsigned long long)lo, (unsigned long long)hi);
	}
	CHECK(hist_bucket_high(HIST_BUCKETS - 1) == UINT64_MAX, "last bucket ends at max");
	CHECK(hist_index(UINT64_MAX) == HIST_BUCKETS - 1, "max value in last bucket");
	/* Powers of two and their neighbours land where they should. */
	for (int b = 1; b < 64; b++) {
		uint64_t v = 1ull << b;

		CHECK(hist_bucket_low(hist_index(v)) == v || v < 64,
		      "2^%d starts a bucket", b);
		CHECK(hist_index(v - 1) < hist_index(v), "2^%d - 1 below 2^%d", b, b);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Quantiles vs the exact order statistic: never below, at most 1/32 above. */
static void test_quantiles(uint64_t seed, int n, uint64_t range)
{
	static struct hist h, parts[4];
	uint64_t *v = malloc((size_t)n * sizeof(*v));
	const double qs[] = { 0.5, 0.9, 0.99, 0.999 };

	hist_init(&h);
	for (int p = 0; p < 4; p++)
		hist_init(&parts[p]);
	for (int i = 0; i < n; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		/* log-uniform-ish: spread over many powers of two */
		v[i] = (seed >> 11) % range >> ((seed >> 3) % 20);
		hist_record(&parts[i % 4], v[i]);
	}
	for (int p = 0; p < 4; p++)
		hist_merge(&h, &parts[p]);	/* per-thread merge, as clients do */
	qsort(v, (size_t)n, sizeof(*v), cmp_u64);
	CHECK(h.count == (uint64_t)n, "count %llu", (unsigned long long)h.count);
	CHECK(h.min == v[0] && h.max == v[n - 1], "min/max exact");
	CHECK(hist_quantile(&h, 1.0) == v[n - 1], "q=1 is the max");
	for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
		size_t rank = (size_t)(qs[k] * n + 0.999999999);
		uint64_t exact = v[rank - 1], got = hist_quantile(&h, qs[k]);

		CHECK(got >= exact, "q%.3f: %llu below exact %llu", qs[k],
		      (unsigned long long)got, (unsigned long long)exact);
		CHECK((double)(got - exact) <= (double)exact / 32 + 1,
		      "q%.3f: %llu more than 1/32 above %llu", qs[k],
		      (unsigned long long)got, (unsigned long long)exact);
	}
	free(v);
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
	test_quantiles(1, 100000, 1ull << 40);
	test_quantiles(7, 1001, 1000000);
	test_quantiles(42, 50000, UINT64_MAX);
	printf("%s\n", failures ? "hist: FAILED" : "hist: ok");
	return failures ? 1 : 0;
}
