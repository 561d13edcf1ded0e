/*
 * meter.c - what a load generator measures, in one place for both client
 * designs (04: one loop, 05: many). A client.c connects, sends, reads and
 * checks; its loops count into a struct meter each (relaxed atomics that
 * main sums: no lock on the hot path) and record latencies into local
 * (handed on every 100 ms to interval, the progress line) and, while the
 * measuring window is open, into total. Everything reported is counted between
 * meter_open and meter_close: round trips, requests, late and dropped
 * sends, and this process's CPU; -P's server marks the same moments. The
 * window's wall-clock edges and raw histogram let the results of clients
 * on several hosts be lined up and merged exactly.
 * Push modes add pushes read whole and their delivery latency (counted
 * like replies: only inside the window), pushes missing and mismatched
 * (over the run), fan-out, and this host's clock state.
 * Exit 0 only if every connection came up, none was lost or refused,
 * every request was answered with its own bytes, no push was missing or
 * mismatched, and (-X) every connection the server dropped came back and
 * was answered.
 */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/timex.h>
#include <unistd.h>

#include "c1m.h"

#define PUBLISH_NS	100000000ull	/* a loop hands its latencies on */

static atomic_int window_open;		/* loops read it in meter_record */
struct edge {
	uint64_t ns, round_trips, requests, late, dropped, bytes_out, bytes_in, reopened;
	double user, sys;
};
static struct edge win;			/* at meter_open; the window after close */
static uint64_t win_start_us, win_end_us;	/* its edges, CLOCK_REALTIME */
static double win_s, line_s;		/* the window's length; -i */
static uint64_t line_ns, line_rt;	/* the last progress line */
static long win_tw = -1;		/* TIME_WAIT sockets as the window closed */
static int push_mode;			/* meter_set_push: the push figures too */
static uint64_t line_pushes;		/* pushes at the last progress line */

/* TIME_WAIT sockets in this network namespace ("tw" of /proc/net/sockstat),
 * or -1 where it cannot be read. */
static long time_wait_now(void)
{
	char line[256];
	long tw = -1;
	FILE *f = fopen("/proc/net/sockstat", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "TCP: inuse %*d orphan %*d tw %ld", &tw) == 1)
			break;
	fclose(f);
	return tw;
}

struct meter *meter_new(int n)
{
	struct meter *m = calloc((size_t)n, sizeof(*m));

	if (!m)
		die("calloc %d meters:", n);
	for (int i = 0; i < n; i++) {
		hist_init(&m[i].local);
		hist_init(&m[i].interval);
		hist_init(&m[i].total);
		hist_init(&m[i].connect);
		hist_init(&m[i].send_lag);
		hist_init(&m[i].push_local);
		hist_init(&m[i].push_interval);
		hist_init(&m[i].push_total);
		pthread_mutex_init(&m[i].mu, NULL);
	}
	return m;
}

/*
 * A reply's latency: into local (the progress line) and, while the window
 * is open, into total. So the window's histogram holds exactly the replies
 * its round-trip count counts: none from the first round before it, none
 * drained after it (at 200K connections those were 14% of the histogram).
 */
void meter_record(struct meter *m, uint64_t ns)
{
	hist_record(&m->local, ns);
	if (atomic_load_explicit(&window_open, memory_order_relaxed))
		hist_record(&m->total, ns);
}

/* How late a scheduled send (-r, -H) went out, while the window is open. */
void meter_send_lag(struct meter *m, uint64_t ns)
{
	if (atomic_load_explicit(&window_open, memory_order_relaxed))
		hist_record(&m->send_lag, ns);
}

void meter_set_push(void)
{
	push_mode = 1;
}

/*
 * A push read whole: its delivery latency (receive time minus the time
 * the server scheduled it, both CLOCK_REALTIME) into push_local and, in
 * the window, push_total, as meter_record does for replies.
 */
int meter_push(struct meter *m, uint64_t ns, size_t bytes)
{
	hist_record(&m->push_local, ns);
	if (!atomic_load_explicit(&window_open, memory_order_relaxed))
		return 0;
	hist_record(&m->push_total, ns);
	atomic_fetch_add_explicit(&m->pushes, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->push_bytes, (long)bytes, memory_order_relaxed);
	return 1;
}

void meter_publish(struct meter *m, uint64_t now)
{
	if (now - m->last_publish < PUBLISH_NS)
		return;
	m->last_publish = now;
	pthread_mutex_lock(&m->mu);
	hist_merge(&m->interval, &m->local);
	if (push_mode)
		hist_merge(&m->push_interval, &m->push_local);
	pthread_mutex_unlock(&m->mu);
	hist_init(&m->local);
	if (push_mode)
		hist_init(&m->push_local);
}

/* One counter over n loops; meter_sum(m, n, live) names it. */
long meter_sum_at(const struct meter *m, int n, size_t off)
{
	long s = 0;

	for (int i = 0; i < n; i++)
		s += atomic_load_explicit((atomic_long *)((char *)&m[i] + off), memory_order_relaxed);
	return s;
}

/* 850 ns, 63.9 us, 15.8 ms, 15.8 s: a progress line for people. */
static const char *human_ns(char *buf, size_t len, double ns)
{
	static const char *unit[] = { "ns", "us", "ms", "s" };
	int u = 0;

	for (; ns >= 1000 && u < 3; u++)
		ns /= 1000;
	snprintf(buf, len, ns < 100 && u ? "%.1f %s" : "%.0f %s", ns, unit[u]);
	return buf;
}

/* A window's edge: the counters, this process's CPU, and a SIGUSR1 that
 * has the server (-P) mark the same moment. */
static struct edge edge_now(struct meter *m, int n, pid_t server)
{
	struct edge e = { .ns = clock_ns() };

	if (server > 0 && kill(server, SIGUSR1) < 0)
		warnx_("-P %d: cannot mark the server's window:", (int)server);
	e.round_trips = (uint64_t)meter_sum(m, n, round_trips);
	e.requests = (uint64_t)meter_sum(m, n, requests);
	e.late = (uint64_t)meter_sum(m, n, late);
	e.dropped = (uint64_t)meter_sum(m, n, dropped);
	e.bytes_out = (uint64_t)meter_sum(m, n, bytes_out);
	e.bytes_in = (uint64_t)meter_sum(m, n, bytes_in);
	e.reopened = (uint64_t)meter_sum(m, n, reopened);
	proc_cpu(&e.user, &e.sys);
	return e;
}

void meter_open(struct meter *m, int n, double interval_s, pid_t server)
{
	win_start_us = clock_wall_ns() / 1000;
	atomic_store(&window_open, 1);
	win = edge_now(m, n, server);
	line_s = interval_s;
	line_ns = win.ns;
	line_rt = win.round_trips;
	line_pushes = 0;	/* meter_push counts from the window's opening */
}

/* Every line_s: live connections, rps and p99 since the last line (push
 * modes: pushes/s and delivery p99 too). */
void meter_tick(struct meter *m, int n, uint64_t now)
{
	uint64_t rt, pushes;
	struct hist iv, piv;
	char p99[32], push_p99[32];
	double s = (now - line_ns) / 1e9;

	if (s < line_s)
		return;
	rt = (uint64_t)meter_sum(m, n, round_trips);
	pushes = (uint64_t)meter_sum(m, n, pushes);
	hist_init(&iv);
	hist_init(&piv);
	for (int i = 0; i < n; i++) {
		pthread_mutex_lock(&m[i].mu);
		hist_merge(&iv, &m[i].interval);
		hist_init(&m[i].interval);
		if (push_mode) {
			hist_merge(&piv, &m[i].push_interval);
			hist_init(&m[i].push_interval);
		}
		pthread_mutex_unlock(&m[i].mu);
	}
	fprintf(stderr, "conns %ld  rps %.0f  p99 %s", meter_sum(m, n, live), (rt - line_rt) / s,
		iv.count ? human_ns(p99, sizeof(p99), (double)hist_quantile(&iv, 0.99)) : "-");
	if (push_mode)
		fprintf(stderr, "  pushes/s %.0f  delivery p99 %s", (pushes - line_pushes) / s,
			piv.count ? human_ns(push_p99, sizeof(push_p99),
					     (double)hist_quantile(&piv, 0.99)) : "-");
	fputc('\n', stderr);
	line_ns = now;
	line_rt = rt;
	line_pushes = pushes;
}

/* Only what happened inside the window counts. */
void meter_close(struct meter *m, int n, pid_t server)
{
	uint64_t end_us = clock_wall_ns() / 1000;
	struct edge e;

	atomic_store(&window_open, 0);	/* replies drained after it: not counted */
	e = edge_now(m, n, server);

	win = (struct edge){ e.ns - win.ns, e.round_trips - win.round_trips,
		e.requests - win.requests, e.late - win.late, e.dropped - win.dropped,
		e.bytes_out - win.bytes_out, e.bytes_in - win.bytes_in, e.reopened - win.reopened,
		e.user - win.user, e.sys - win.sys };
	win_s = win.ns / 1e9;
	win_end_us = end_us;
	win_tw = time_wait_now();
}

/* The raw histogram, for a merge that adds buckets: [index, count] of
 * each bucket that has any, in order (hist_bucket_low() gives its edge). */
static void json_hist(struct json *j, const struct hist *h)
{
	json_obj(j, "hist");
	json_i64(j, "sub_bits", HIST_SUB_BITS);
	json_u64(j, "count", h->count);
	json_u64(j, "sum_ns", h->sum);
	json_u64(j, "min_ns", h->count ? h->min : 0);
	json_u64(j, "max_ns", h->max);
	json_arr(j, "buckets");
	for (int i = 0; i < HIST_BUCKETS; i++) {
		if (!h->bucket[i])
			continue;
		json_arr(j, NULL);
		json_i64(j, NULL, i);
		json_u64(j, NULL, h->bucket[i]);
		json_arr_end(j);
	}
	json_arr_end(j);
	json_end(j);
}

/* This host's clock as adjtimex(2) reads it: offset from its time source
 * and the error bounds (µs), and whether it is synchronized. */
static void json_clock(struct json *j)
{
	struct timex tx = { .modes = 0 };	/* read only */
	int st = adjtimex(&tx);

	json_obj(j, "clock");
	json_num(j, "offset_us", st < 0 ? NAN : tx.status & STA_NANO ? tx.offset / 1e3 :
		 (double)tx.offset);
	json_num(j, "maxerror_us", st < 0 ? NAN : (double)tx.maxerror);
	json_num(j, "esterror_us", st < 0 ? NAN : (double)tx.esterror);
	json_bool(j, "synced", st >= 0 && st != TIME_ERROR && !(tx.status & STA_UNSYNC));
	json_end(j);
}

/* The window's delivery p99 over n loops (ns). */
static uint64_t push_p99(struct meter *m, int n)
{
	struct hist lat;

	hist_init(&lat);
	for (int i = 0; i < n; i++)
		hist_merge(&lat, &m[i].push_total);
	return hist_quantile(&lat, 0.99);
}

/* A latency object: p50, p90, p99, p99.9, max and mean in µs. */
static void json_lat(struct json *j, const char *key, const struct hist *h)
{
	json_obj(j, key);
	json_num(j, "p50", hist_quantile(h, 0.50) / 1e3);
	json_num(j, "p90", hist_quantile(h, 0.90) / 1e3);
	json_num(j, "p99", hist_quantile(h, 0.99) / 1e3);
	json_num(j, "p999", hist_quantile(h, 0.999) / 1e3);
	json_num(j, "max", h->max / 1e3);
	json_num(j, "mean", hist_mean(h) / 1e3);
	json_end(j);
}

/* Push modes: what was pushed and how it came (the window's, but missing
 * and mismatches over the run; silent: open at the close, never a push),
 * the fan-out of broadcasts, the clock. */
static void json_push(struct json *j, struct meter *m, int n, const struct meter_run *r)
{
	struct hist lat;

	hist_init(&lat);
	for (int i = 0; i < n; i++)
		hist_merge(&lat, &m[i].push_total);
	json_i64(j, "pushes_received", meter_sum(m, n, pushes));
	json_i64(j, "pushes_missing", meter_sum(m, n, push_missing));
	json_i64(j, "push_mismatches", meter_sum(m, n, push_mismatches));
	json_i64(j, "push_silent", r->push_silent);
	json_i64(j, "push_bytes_received", meter_sum(m, n, push_bytes));
	json_lat(j, "push_lat_us", &lat);
	json_obj(j, "fanout_s");
	json_i64(j, "broadcasts", r->fanout_broadcasts);
	json_i64(j, "incomplete", r->fanout_incomplete);
	json_num(j, "p50", r->fanout && r->fanout->count ? hist_quantile(r->fanout, 0.5) / 1e9 : NAN);
	json_num(j, "max", r->fanout && r->fanout->count ? r->fanout->max / 1e9 : NAN);
	json_end(j);
	json_clock(j);
}

void meter_report(struct meter *m, int n, const struct meter_run *r)
{
	long conns = meter_sum(m, n, connected), failed = meter_sum(m, n, failed);
	long lost = meter_sum(m, n, lost), mism = meter_sum(m, n, mismatches);
	uint64_t sent = (uint64_t)meter_sum(m, n, requests);
	uint64_t replies = (uint64_t)meter_sum(m, n, round_trips);
	long abandoned = meter_sum(m, n, abandoned);
	long errors = failed + lost + (long)(sent - replies) - abandoned;
	double rps = win_s > 0 ? win.round_trips / win_s : 0;
	double cpu_us = (win.user + win.sys) * 1e6;
	struct hist all, conn_lat, lag;
	struct json j;
	char p99[32], host[256] = "?";

	gethostname(host, sizeof(host) - 1);
	hist_init(&all);
	hist_init(&conn_lat);
	hist_init(&lag);
	for (int i = 0; i < n; i++) {
		hist_merge(&lag, &m[i].send_lag);
		hist_merge(&all, &m[i].total);	/* a merge adds buckets */
		hist_merge(&conn_lat, &m[i].connect);
	}
	json_begin(&j);
	json_str(&j, "design", r->design);
	json_str(&j, "host", host);
	json_i64(&j, "cpus", sysconf(_SC_NPROCESSORS_ONLN));
	json_i64(&j, "conns_target", r->target);
	json_i64(&j, "conns", conns);
	json_i64(&j, "loops", n);
	json_num(&j, "connect_s", r->connect_s);
	json_num(&j, "first_round_s", r->first_round_s);
	json_num(&j, "duration_s", win_s);
	json_u64(&j, "window_start_us", win_start_us);
	json_u64(&j, "window_end_us", win_end_us);
	json_u64(&j, "round_trips", win.round_trips);
	json_u64(&j, "requests_sent", sent);	/* these three: the whole run */
	json_u64(&j, "replies", replies);
	json_u64(&j, "unanswered", sent - replies - (uint64_t)abandoned);
	json_i64(&j, "abandoned", abandoned);	/* in flight on connections the client dropped */
	json_num(&j, "rps", rps);
	json_num(&j, "rate_target", r->rate);
	json_num(&j, "rate_achieved", win_s > 0 ? win.requests / win_s : 0);
	json_u64(&j, "late_sends", win.late);
	json_u64(&j, "dropped", win.dropped);
	json_i64(&j, "depth", r->depth);		/* -q */
	json_i64(&j, "msg_bytes", r->msg_bytes);	/* -l */
	json_u64(&j, "bytes_sent", win.bytes_out);	/* in the window, both ways */
	json_u64(&j, "bytes_received", win.bytes_in);
	json_num(&j, "tx_bytes_per_s", win_s > 0 ? win.bytes_out / win_s : 0);
	json_num(&j, "rx_bytes_per_s", win_s > 0 ? win.bytes_in / win_s : 0);
	json_i64(&j, "lifetime", r->lifetime);		/* -x */
	json_i64(&j, "churned", meter_sum(m, n, churned));	/* these two: the whole run */
	json_i64(&j, "reconnects", meter_sum(m, n, reopened));
	json_i64(&j, "conns_open_at_end", meter_sum(m, n, live));	/* after the drain */
	json_num(&j, "conns_opened_per_s", win_s > 0 ? win.reopened / win_s : 0);
	json_i64(&j, "time_wait", win_tw);
	json_num(&j, "heartbeat_s", r->heartbeat);	/* -H */
	json_obj(&j, "send_lag_us");		/* -r, -H: sends past their due time (window) */
	json_u64(&j, "count", lag.count);
	json_num(&j, "p50", hist_quantile(&lag, 0.50) / 1e3);
	json_num(&j, "p99", hist_quantile(&lag, 0.99) / 1e3);
	json_num(&j, "max", lag.max / 1e3);
	json_end(&j);
	json_num(&j, "client_cpu_per_1k_conns", win_s > 0 && conns > 0 ?
		 (win.user + win.sys) / win_s / conns * 1000 : 0);	/* cores */
	json_i64(&j, "storm_pct", r->storm_pct);	/* --storm PCT@SEC */
	json_num(&j, "storm_at_s", r->storm_at);
	json_i64(&j, "storm_dropped", meter_sum(m, n, storm_dropped));
	json_i64(&j, "storm_back", meter_sum(m, n, storm_back));
	json_i64(&j, "storm_retries", meter_sum(m, n, storm_retries));
	json_num(&j, "storm_recovery_s", r->storm_recovery_s);
	json_i64(&j, "reconnect", r->reconnect);	/* -X: the server's drops come back */
	json_i64(&j, "restart_dropped", meter_sum(m, n, restart_dropped));
	json_i64(&j, "restart_back", meter_sum(m, n, restart_back));
	json_i64(&j, "restart_retries", meter_sum(m, n, restart_retries));
	json_num(&j, "restart_recovery_s", r->restart_recovery_s);
	json_obj(&j, "connect_lat_us");		/* every connect of the run: ramp and churn */
	json_u64(&j, "count", conn_lat.count);
	json_num(&j, "p50", hist_quantile(&conn_lat, 0.50) / 1e3);
	json_num(&j, "p99", hist_quantile(&conn_lat, 0.99) / 1e3);
	json_num(&j, "max", conn_lat.max / 1e3);
	json_end(&j);
	json_num(&j, "client_us_per_rt", win.round_trips ? cpu_us / win.round_trips : 0);
	json_i64(&j, "errors", errors);
	json_i64(&j, "connect_errors", failed);
	json_i64(&j, "lost", lost);
	json_u64(&j, "mismatches", (uint64_t)mism);
	json_cpu(&j);				/* the whole run */
	json_i64(&j, "rss_kb", proc_rss_peak_kb());
	json_obj(&j, "cpu_window");
	json_num(&j, "user_s", win.user);
	json_num(&j, "sys_s", win.sys);
	json_end(&j);
	json_lat(&j, "lat_us", &all);
	if (r->push)
		json_push(&j, m, n, r);
	json_hist(&j, &all);			/* last: a reader may cut it off */
	json_end(&j);
	json_print(&j, stdout);
	fprintf(stderr, "%s: %ld/%ld conns, %.0f rps, p99 %s, %ld errors, %ld mismatches\n",
		prog_name, conns, r->target, rps,
		human_ns(p99, sizeof(p99), (double)hist_quantile(&all, 0.99)), errors, mism);
	if (r->push)
		fprintf(stderr, "%s: %ld pushes in the window, delivery p99 %s, %ld missing, "
			"%ld mismatched\n", prog_name, meter_sum(m, n, pushes),
			human_ns(p99, sizeof(p99), (double)push_p99(m, n)),
			meter_sum(m, n, push_missing), meter_sum(m, n, push_mismatches));
	if (r->push && r->push_silent)
		fprintf(stderr, "%s: %ld of the %ld connections open at the close never got a push\n",
			prog_name, r->push_silent, r->live_end);
	/* Silent ones are an error once the window held a push for every
	 * connection: a schedule that takes them in turn reached them all. */
	exit(errors || mism || conns < r->target || r->no_go ||
	     (r->push && (meter_sum(m, n, push_missing) || meter_sum(m, n, push_mismatches))) ||
	     (r->push && r->push_silent && meter_sum(m, n, pushes) >= r->live_end) ||
	     meter_sum(m, n, restart_back) < meter_sum(m, n, restart_dropped) ?
	     1 : 0);
}
