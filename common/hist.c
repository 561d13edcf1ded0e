/*
 * hist.c - log-linear latency histogram (see c1m.h for the layout).
 *
 * Values below 2^(HIST_SUB_BITS+1) = 128 each get their own bucket (groups
 * 0 and 1). Above, a value with its top bit at position m (m >= 7) falls in
 * group m - HIST_SUB_BITS + 1, and the HIST_SUB_BITS bits below the top bit
 * choose one of 64 sub-buckets: a bucket spans 1/64 of its power of two, so
 * its middle is within 1/128 (0.8%) of any value in it.
 */
#include <string.h>

#include "c1m.h"

void hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

int hist_index(uint64_t v)
{
	int m, group;

	if (v < 2 * HIST_SUB)
		return (int)v;
	m = 63 - __builtin_clzll(v);			/* top bit, >= 7 */
	group = m - HIST_SUB_BITS + 1;			/* >= 2 */
	return group * HIST_SUB + (int)((v >> (m - HIST_SUB_BITS)) & (HIST_SUB - 1));
}

uint64_t hist_bucket_low(int i)
{
	int group = i / HIST_SUB, sub = i % HIST_SUB;

	if (group < 2)
		return (uint64_t)i;
	return (uint64_t)(HIST_SUB + sub) << (group - 1);
}

uint64_t hist_bucket_high(int i)
{
	if (i + 1 >= HIST_BUCKETS)
		return UINT64_MAX;
	return hist_bucket_low(i + 1) - 1;
}

void hist_record(struct hist *h, uint64_t v)
{
	h->bucket[hist_index(v)]++;
	h->count++;
	h->sum = h->sum + v < h->sum ? UINT64_MAX : h->sum + v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	for (int i = 0; i < HIST_BUCKETS; i++)
		dst->bucket[i] += src->bucket[i];
	dst->count += src->count;
	dst->sum = dst->sum + src->sum < dst->sum ? UINT64_MAX : dst->sum + src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
	uint64_t rank, seen = 0;

	if (!h->count)
		return 0;
	if (q <= 0)
		return h->min;
	if (q >= 1)
		return h->max;
	rank = (uint64_t)(q * (double)h->count);
	if ((double)rank < q * (double)h->count)
		rank++;				/* ceil */
	if (rank == 0)
		rank = 1;
	for (int i = 0; i < HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= rank) {	/* the middle: half the worst error */
			uint64_t lo = hist_bucket_low(i), hi = hist_bucket_high(i);
			uint64_t v = lo + (hi - lo) / 2;

			if (v > h->max)
				v = h->max;
			if (v < h->min)
				v = h->min;
			return v;
		}
	}
	return h->max;
}

double hist_mean(const struct hist *h)
{
	return h->count ? (double)h->sum / (double)h->count : 0;
}
