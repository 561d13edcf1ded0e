/*
 * meter.c - what a load generator measures, in one place for both client
 * designs (04: one loop, 05: many). A client.c connects, sends, reads and
 * checks; its loops count into a struct meter each (relaxed atomics that
 * main sums: no lock on the hot path) and record latencies into local,
 * handed on every 100 ms to interval (the progress line) and, inside the
 * measuring window, to total. The window's round trips and seconds make
 * the rps. Exit 0 only if every connection came up, none was lost or
 * refused, and every request was answered with its own bytes.
 */
#include <stdlib.h>

#include "c1m.h"

#define PUBLISH_NS	100000000ull	/* a loop hands its latencies on */

static atomic_int window_open;		/* loops read it in meter_publish */
static uint64_t win_ns, win_rt;		/* opened at, round trips then (in it) */
static double win_s, line_s;		/* its length; the progress interval */
static uint64_t line_ns, line_rt;	/* the last progress line */

struct meter *meter_new(int n)
{
	struct meter *m = calloc((size_t)n, sizeof(*m));

	if (!m)
		die("calloc %d meters:", n);
	for (int i = 0; i < n; i++) {
		hist_init(&m[i].local);
		hist_init(&m[i].interval);
		hist_init(&m[i].total);
		pthread_mutex_init(&m[i].mu, NULL);
	}
	return m;
}

void meter_publish(struct meter *m, uint64_t now)
{
	if (now - m->last_publish < PUBLISH_NS)
		return;
	m->last_publish = now;
	pthread_mutex_lock(&m->mu);
	hist_merge(&m->interval, &m->local);
	pthread_mutex_unlock(&m->mu);
	if (atomic_load_explicit(&window_open, memory_order_relaxed))
		hist_merge(&m->total, &m->local);	/* warm-up latencies left out */
	hist_init(&m->local);
}

/* One counter over n loops; meter_sum(m, n, live) names it. */
long meter_sum_at(const struct meter *m, int n, size_t off)
{
	long s = 0;

	for (int i = 0; i < n; i++)
		s += atomic_load_explicit((atomic_long *)((char *)&m[i] + off), memory_order_relaxed);
	return s;
}

void meter_open(struct meter *m, int n, double interval_s)
{
	win_ns = clock_ns();
	win_rt = (uint64_t)meter_sum(m, n, round_trips);
	atomic_store(&window_open, 1);
	line_s = interval_s;
	line_ns = win_ns;
	line_rt = (uint64_t)meter_sum(m, n, round_trips);
}

/* Every line_s: live connections, rps and p99 since the last line. */
void meter_tick(struct meter *m, int n, uint64_t now)
{
	uint64_t rt;
	struct hist iv;

	if ((now - line_ns) / 1e9 < line_s)
		return;
	rt = (uint64_t)meter_sum(m, n, round_trips);
	hist_init(&iv);
	for (int i = 0; i < n; i++) {
		pthread_mutex_lock(&m[i].mu);
		hist_merge(&iv, &m[i].interval);
		hist_init(&m[i].interval);
		pthread_mutex_unlock(&m[i].mu);
	}
	fprintf(stderr, "conns %ld  rps %.0f  p99 %.0f us\n", meter_sum(m, n, live),
		(rt - line_rt) / ((now - line_ns) / 1e9), hist_quantile(&iv, 0.99) / 1e3);
	line_ns = now;
	line_rt = rt;
}

/* Only round trips inside the window make the rps. */
void meter_close(struct meter *m, int n)
{
	win_s = (clock_ns() - win_ns) / 1e9;
	win_rt = (uint64_t)meter_sum(m, n, round_trips) - win_rt;
}

void meter_report(struct meter *m, int n, const char *design, long target, double connect_s)
{
	long conns = meter_sum(m, n, connected), failed = meter_sum(m, n, failed);
	long lost = meter_sum(m, n, lost), mism = meter_sum(m, n, mismatches);
	uint64_t sent = (uint64_t)meter_sum(m, n, requests);
	uint64_t replies = (uint64_t)meter_sum(m, n, round_trips);
	long errors = failed + lost + (long)(sent - replies);
	double rps = win_s > 0 ? win_rt / win_s : 0;
	struct hist all;
	struct json j;

	hist_init(&all);
	for (int i = 0; i < n; i++)
		hist_merge(&all, &m[i].total);	/* a merge adds buckets */
	json_begin(&j);
	json_str(&j, "design", design);
	json_i64(&j, "conns_target", target);
	json_i64(&j, "conns", conns);
	json_i64(&j, "loops", n);
	json_num(&j, "connect_s", connect_s);
	json_num(&j, "duration_s", win_s);
	json_u64(&j, "round_trips", win_rt);
	json_u64(&j, "requests_sent", sent);
	json_u64(&j, "replies", replies);
	json_u64(&j, "unanswered", sent - replies);
	json_num(&j, "rps", rps);
	json_obj(&j, "lat_us");
	json_num(&j, "p50", hist_quantile(&all, 0.50) / 1e3);
	json_num(&j, "p90", hist_quantile(&all, 0.90) / 1e3);
	json_num(&j, "p99", hist_quantile(&all, 0.99) / 1e3);
	json_num(&j, "p999", hist_quantile(&all, 0.999) / 1e3);
	json_num(&j, "max", all.max / 1e3);
	json_num(&j, "mean", hist_mean(&all) / 1e3);
	json_end(&j);
	json_i64(&j, "errors", errors);
	json_i64(&j, "connect_errors", failed);
	json_i64(&j, "lost", lost);
	json_u64(&j, "mismatches", (uint64_t)mism);
	json_cpu(&j);
	json_i64(&j, "rss_kb", proc_rss_peak_kb());
	json_end(&j);
	json_print(&j, stdout);
	fprintf(stderr, "%s: %ld/%ld conns, %.0f rps, p99 %.0f us, %ld errors, %ld mismatches\n",
		prog_name, conns, target, rps, hist_quantile(&all, 0.99) / 1e3, errors, mism);
	exit(errors || mism || conns < target ? 1 : 0);
}
