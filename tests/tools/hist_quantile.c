/*
 * hist_quantile - common/hist.c's own answers, for tests/py/test_hist.py to
 * hold scripts/c1m/hist.py against: one histogram rule, proved by running
 * both on the same buckets.
 *
 *   hist_quantile Q...   reads a histogram on stdin and prints
 *                        hist_quantile() at each Q, one value a line
 *   hist_quantile -e I...  prints "I low high" for each bucket index I
 *                        (hist_bucket_low, hist_bucket_high), then
 *                        "v index" for low and high (hist_index)
 *
 * The histogram on stdin: "count sum min max", then one "index count" line
 * per bucket, as the client's JSON "hist" holds them. HIST_SUB_BITS is
 * hist.c's layout (6). Q is parsed with strtod, so Python's repr() of a
 * float reaches it as the same double. Bad input: one line, exit 2.
 *
 * build: make (it builds every tests/tools program); run by tests/py/test_hist.py
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c1m.h"

static void bad(const char *what)
{
	fprintf(stderr, "hist_quantile: %s\n", what);
	exit(2);
}

static unsigned long long num(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end)
		bad("want a non-negative integer");
	return v;
}

static void edges(int argc, char **argv)
{
	for (int k = 0; k < argc; k++) {
		unsigned long long i = num(argv[k]);
		uint64_t lo, hi;

		if (i >= HIST_BUCKETS)
			bad("bucket index out of range");
		lo = hist_bucket_low((int)i);
		hi = hist_bucket_high((int)i);
		printf("%llu %" PRIu64 " %" PRIu64 "\n", i, lo, hi);
		printf("%" PRIu64 " %d\n", lo, hist_index(lo));
		printf("%" PRIu64 " %d\n", hi, hist_index(hi));
	}
}

int main(int argc, char **argv)
{
	static struct hist h;
	unsigned long long c, s, lo, hi, i, n;

	if (argc < 2)
		bad("usage: hist_quantile Q... < HIST | hist_quantile -e INDEX...");
	if (!strcmp(argv[1], "-e")) {
		edges(argc - 2, argv + 2);
		return 0;
	}
	hist_init(&h);
	if (scanf("%llu %llu %llu %llu", &c, &s, &lo, &hi) != 4)
		bad("want \"count sum min max\" first");
	h.count = c;
	h.sum = s;
	h.min = lo;
	h.max = hi;
	while (scanf("%llu %llu", &i, &n) == 2) {
		if (i >= HIST_BUCKETS)
			bad("bucket index out of range");
		h.bucket[i] = n;
	}
	if (!feof(stdin))
		bad("want \"index count\" lines after the first");
	for (int k = 1; k < argc; k++) {
		char *end;
		double q = strtod(argv[k], &end);

		if (end == argv[k] || *end)
			bad("Q: want a number");
		printf("%" PRIu64 "\n", hist_quantile(&h, q));
	}
	return 0;
}
