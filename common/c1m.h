/*
 * c1m.h - the small library every c1m program links: what the design card
 * names and no step of any design. Sockets, the clock, the histogram,
 * stats and JSON, die() and argument helpers, rlimits and private fd
 * tables, signals (and sha256.h, the proof of work of 12/13). Every
 * accept, read, write and epoll_ctl a design makes is in its own server.c.
 *
 * Building blocks (net_, fd_, hist_, json_) report errors with -1 and
 * errno, as redis' anet.c does. die() exits 1; arg_*() and fd_size_loops()
 * exit 2 on a bad command line; stats_init() dies without memory.
 */
#ifndef C1M_H
#define C1M_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define C1M_PORT	8972
#define C1M_ADDR	"127.0.0.1"
#define FRAME_SIZE	8	/* one request: 8 opaque bytes, echoed back */

/* ---- errors: set prog_name from argv[0] first thing in main ---- */
extern const char *prog_name;
void prog_init(const char *argv0);
/* die("bind %s:%d:", a, p): one line on stderr, exit 1; a trailing ':'
 * appends strerror(errno). warnx_() is the same and returns. */
void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void warnx_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- clock ---- */
uint64_t clock_ns(void);	/* CLOCK_MONOTONIC, ns */
uint64_t clock_wall_ns(void);	/* CLOCK_REALTIME, ns */

/* ---- command-line values: a bad one prints one line naming the option,
 * the value and what is allowed, then arg_synopsis, and exits 2 ---- */
extern const char *arg_synopsis;	/* "usage: server [-a ADDR] ... [-h]" */
long arg_long(int opt, const char *val, long min, long max);
double arg_seconds(int opt, const char *val, double max);	/* "0.5" ok */
struct in_addr arg_ipv4(int opt, const char *val);
/* "-s FIRST[-LAST]": inclusive range of IPv4 addresses, host order. */
void arg_ipv4_range(int opt, const char *val, uint32_t *first, uint32_t *last);
void arg_usage_error(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* ---- sockets ---- */
/* Non-blocking listener with SO_REUSEADDR (and SO_REUSEPORT if asked).
 * Port 0 picks a free port: read it back with net_local_port(). */
int net_listen(const char *addr, int port, int reuseport, int backlog);
int net_local_port(int fd);
/* Non-blocking connect to dst from source src (host order, 0 = any) with
 * IP_BIND_ADDRESS_NO_PORT, so each source address has its own port range.
 * Wait for EPOLLOUT, then net_connect_result(): 0, or -1 with errno. */
int net_connect_nb(const struct sockaddr_in *dst, uint32_t src);
int net_connect_result(int fd);
int net_set_linger0(int fd);	/* close() sends RST, leaves no TIME_WAIT */
int net_set_nodelay(int fd);	/* an 8-byte frame must not wait for Nagle */
int net_sockaddr(struct sockaddr_in *dst, const char *addr, int port);

/* ---- file descriptors ---- */
/* Raise the soft RLIMIT_NOFILE toward `want`; returns the limit in force. */
long fd_raise_limit(long want);
/* unshare(CLONE_FILES): the calling thread gets its own fd table, so its
 * RLIMIT_NOFILE counts only its own fds. 0, or -1 with errno; 1 in a TSan
 * build, where the table stays shared (TSan models one table a process). */
int fd_private_table(void);
/* Loops needed for `conns` when each has a table of `limit` fds, `reserve`
 * of them kept spare; never fewer than min_loops. */
int fd_loops_for(long conns, long limit, long reserve, int min_loops);
/* Size a program of private tables: raise the limit, and if *loops is 0
 * choose it (the CPUs, or tables for conns + 1/8: SO_REUSEPORT is uneven).
 * Exits 2 if conns cannot fit in *loops tables. Returns one table's limit. */
long fd_size_loops(long conns, long reserve, int *loops);
/* For a design whose connections share one table: raise the limit as far
 * as allowed, print on stderr how many connections that table holds and
 * how to go further, and return that ceiling (limit - reserve). */
long fd_one_table(long reserve, long *fd_limit);

/* ---- latency histogram (ns): log-linear, 64 sub-buckets per power of two,
 * 0..127 exact, 30 KB, no malloc; one per thread, merged by adding ---- */
#define HIST_SUB_BITS	6
#define HIST_SUB	(1 << HIST_SUB_BITS)
#define HIST_BUCKETS	((64 - HIST_SUB_BITS) * HIST_SUB + HIST_SUB)
struct hist {
	uint64_t count, sum;	/* sum saturates rather than wraps */
	uint64_t min, max;	/* exact */
	uint64_t bucket[HIST_BUCKETS];
};
void hist_init(struct hist *h);
void hist_record(struct hist *h, uint64_t v);
void hist_merge(struct hist *dst, const struct hist *src);
int hist_index(uint64_t v);
uint64_t hist_bucket_low(int i), hist_bucket_high(int i);	/* inclusive edges */
/* The middle of the bucket holding the ceil(q*count)-th record (within
 * 0.8% of it), clamped to [min, max]; 0 when empty. */
uint64_t hist_quantile(const struct hist *h, double q);
double hist_mean(const struct hist *h);

/* ---- this process ---- */
void proc_cpu(double *user_s, double *sys_s);	/* all its threads */
long proc_rss_kb(void);				/* KiB, -1 if unknown */
long proc_rss_peak_kb(void);			/* VmHWM */
/* The number after `key` on the first line of `path` that starts with it. */
long proc_file_long(const char *path, const char *key);

/* ---- one-line JSON: json_begin; json_str/i64/u64/num; json_obj ...
 * json_end; json_end; json_print. Too long: {"error":"json overflow"} ---- */
struct json {
	char buf[131072];	/* a histogram's buckets take up to ~105 KB */
	size_t len;
	int depth, need_comma, overflow;
};
void json_begin(struct json *j);
void json_obj(struct json *j, const char *key);
void json_arr(struct json *j, const char *key);
void json_arr_obj(struct json *j);
void json_arr_end(struct json *j);
void json_end(struct json *j);
void json_str(struct json *j, const char *key, const char *val);
void json_i64(struct json *j, const char *key, int64_t val);
void json_u64(struct json *j, const char *key, uint64_t val);
void json_num(struct json *j, const char *key, double val);
void json_bool(struct json *j, const char *key, int val);
void json_cpu(struct json *j);		/* cpu_user_s, cpu_sys_s */
void json_print(struct json *j, FILE *f);	/* the line, a newline, flush */

/* ---- limits: what run.sh needs to size a run: `-L` prints them as one
 * JSON line and exits 0. fd_tables: "one" (every connection in one
 * table) or "many" (a private table per loop, or a process per child). */
struct limits {
	const char *design;
	const char *fd_tables;
	long fd_reserve;	/* table_cap = RLIMIT_NOFILE - this */
	int max_loops;		/* most -c (1 = a single loop) */
	int thread_per_conn;	/* 1: a thread per connection */
	long target;		/* the connections it aims at */
	long per_src;		/* clients: connections per source address */
	double rate;		/* clients: default -r (0 = closed loop) */
	int push;		/* servers: 1 = has the push flags (-b, -R, -l, -Q) */
};
void limits_print(const struct limits *l) __attribute__((noreturn));

/* ---- signals ---- */
/* In main before any thread: ignore SIGPIPE; block SIGINT, SIGTERM and
 * SIGUSR1 in every thread, so only sig_wait() sees them. */
void sig_setup(void);
/* Wait up to timeout_s for SIGINT/SIGTERM: the signal (sig_stop set) or 0.
 * A SIGUSR1 (a client's window edge) calls sig_mark if set (stats_init). */
int sig_wait(double timeout_s);
extern atomic_int sig_stop;
extern void (*sig_mark)(void);

/* ---- push: a server that speaks first (push.c has the frame) ---- */
#define PUSH_FLAG	(1ull << 63)	/* first word of a push; never of a timestamp */
#define PUSH_HDR	24	/* flag|length, scheduled ns, sequence */
#define PUSH_BODY_MAX	(1 << 20)	/* -l: at most 1 MiB after the header */
#define PUSH_QUEUE_DEFAULT	65536	/* -Q: push bytes one connection may queue */
struct push_plan {	/* the push flags: -b SEC | -R RATE, -l BYTES, -Q BYTES */
	double every_s;		/* -b: every connection one push every SEC */
	double rate;		/* -R: pushes/s over all connections, in turn */
	size_t body;		/* -l: bytes after the header (default 8) */
	size_t queue_max;	/* -Q: unsent push bytes past which a connection is dropped */
};
#define PUSH_PLAN_DEFAULT	{ .body = 8 }
#define PUSH_SYNOPSIS	"[-b SEC | -R RATE] [-l BYTES] [-Q BYTES]"
#define PUSH_USAGE \
	"  -b SEC    push: every connection gets one push every SEC (broadcast)\n" \
	"  -R RATE   push: RATE pushes/s spread over the connections in turn\n" \
	"  -l BYTES  push body after its 24-byte header, 0..1M (default 8)\n" \
	"  -Q BYTES  push bytes a connection may leave unread before it is\n" \
	"            dropped and counted as slow_dropped (default 65536)\n"
/* getopt: 1 if opt was a push flag (a bad value exits 2), else 0. */
int push_arg(struct push_plan *p, int opt, const char *val);
/* After getopt: exits 2 on a bad mix; 1 if the server pushes, else 0. */
int push_plan_check(struct push_plan *p);
/* Write one push (PUSH_HDR + body bytes) into buf; returns its length. */
size_t push_encode(unsigned char *buf, uint64_t seq, uint64_t sched_ns, size_t body);
unsigned char push_byte(uint64_t seq, size_t off);	/* the body's byte at off */
/* p holds 8+ bytes at a frame boundary: 0 = an echoed frame; 1 = a push
 * (its 24 header bytes must be there), *len its total; -1 = a bad length. */
int push_header(const unsigned char *p, size_t *len, uint64_t *seq, uint64_t *sched_ns);
/* The schedule: due k = t0 + k * step (CLOCK_REALTIME ns). -b: step is the
 * period, each due time one broadcast; -R: step = shares / RATE, each due
 * time one push to the next connection, `shares` loops splitting RATE. */
struct push_clock { uint64_t t0, step_ns, k; };
void push_clock_start(struct push_clock *c, const struct push_plan *p, int shares);
uint64_t push_clock_due(const struct push_clock *c);
void push_clock_next(struct push_clock *c);
/* -R: from the next due time on, the step of `mine` connections' share of
 * RATE out of `all` (RATE * mine / all pushes/s); unchanged if mine is 0. */
void push_clock_share(struct push_clock *c, const struct push_plan *p, long mine, long all);

/* ---- server stats: counters a loop thread (or child) owns, a cache line
 * each, in MAP_SHARED memory so a prefork parent sees its children's ---- */
struct stats_slot {
	atomic_long conns;	/* open now */
	atomic_ulong accepted;
	atomic_ulong errors;	/* ended by an error of ours or the network */
	atomic_ulong resets;	/* the peer aborted (ECONNRESET, EPIPE) */
	atomic_ulong bytes;	/* echoed; requests = bytes / FRAME_SIZE */
	atomic_ulong work;	/* design-specific units (hashes, waits) */
	atomic_ulong pushes, push_bytes;	/* push mode: pushes written whole, their bytes */
	atomic_ulong slow_dropped;	/* push mode: dropped past -Q unread bytes */
} __attribute__((aligned(64)));
struct stats_slot *stats_init(const char *design, int nslots, double interval_s);
/* The main thread until SIGINT/SIGTERM: every interval "conns N  rps R ..."
 * on stderr. tick (may be NULL) runs every 100 ms; non-zero ends the wait. */
int stats_run(int (*tick)(void));
void stats_tick(void);			/* one 100 ms step of stats_run */
void stats_set_line(void (*fn)(FILE *f));	/* extra fields on that line */
void stats_set_children(long rss_kb_children);	/* prefork: add children */
void stats_set_push(const struct push_plan *p);	/* the JSON gets the push keys */
/* A connection ended: err 0 = EOF, ECONNRESET/EPIPE = resets, else errors. */
void stats_conn_closed(struct stats_slot *st, int err);
long stats_conns(void);
uint64_t stats_requests(void);
/* The result's keys; with two SIGUSR1 marks, the window between them too. */
void stats_json(struct json *j);

/* ---- client meter: a load generator's counters and latencies, one per loop ---- */
struct meter {		/* the loop counts with relaxed atomics; main sums */
	atomic_long connected, failed, live, lost, requests, round_trips, mismatches;
	atomic_long late, dropped;	/* rate mode: sent > 1 ms late; never sent */
	atomic_long awaiting_first;	/* connected, no reply yet: the first round */
	atomic_long bytes_out, bytes_in;	/* written to and read from the sockets */
	atomic_long churned, reopened;	/* -x: closed after their round trips; replacements up */
	atomic_long storm_dropped, storm_back, storm_retries;	/* --storm: dropped, answered again, failed connects */
	atomic_long abandoned;		/* requests in flight on a connection the client dropped */
	atomic_long restart_dropped, restart_back, restart_retries;	/* -X: as storm_* */
	uint64_t last_publish; pthread_mutex_t mu;	/* the last hand-off; guards interval */
	struct hist local, interval, total;	/* since publish, line; the window */
	struct hist connect;	/* connect() to writable, every connect of the run (loop only) */
	struct hist send_lag;	/* -r, -H: a scheduled send's time past its due time, in the window */
	/* push modes: pushes read whole in the window and their bytes; over
	 * the run, sequence numbers skipped, and pushes bad, repeated or out
	 * of order; delivery latencies, handed on as the replies' are */
	atomic_long pushes, push_bytes, push_missing, push_mismatches;
	atomic_long push_silent;	/* open, and no push yet */
	struct hist push_local, push_interval, push_total;
};
struct meter_run { const char *design; long target; double connect_s, first_round_s, rate;
		   int no_go;	/* -B stopped before "go", so exit 1 */
		   long depth, msg_bytes;	/* -q, -l: requests in flight, bytes each */
		   long lifetime;		/* -x: round trips a connection (0 = forever) */
		   double heartbeat;		/* -H: s between a connection's requests */
		   long storm_pct; double storm_at, storm_recovery_s;	/* --storm */
		   int push;	/* 1 --push, 2 --push-echo: the push keys; 0 none */
		   long fanout_broadcasts, fanout_incomplete;	/* push: scheduled times */
		   long push_silent, live_end;	/* push: of those open at the close, none yet */
		   const struct hist *fanout;	/* push: each complete one's fan-out, ns */
		   int reconnect; double restart_recovery_s; };	/* -X */
struct meter *meter_new(int n);		/* n of them, zeroed; dies without memory */
/* Loop: a reply's latency (total too in the window); local -> interval 100 ms */
void meter_record(struct meter *m, uint64_t ns);
void meter_send_lag(struct meter *m, uint64_t ns);	/* loop: a scheduled send's lateness */
void meter_set_push(void);	/* main, before the loops: progress lines show pushes */
/* Loop: a push of `bytes` read whole, `ns` after its scheduled time;
 * returns 1 if the window is open (it is counted), else 0. */
int meter_push(struct meter *m, uint64_t ns, size_t bytes);
void meter_publish(struct meter *m, uint64_t now);	/* now UINT64_MAX: at once */
long meter_sum_at(const struct meter *m, int n, size_t off);
#define meter_sum(m, n, field) meter_sum_at(m, n, offsetof(struct meter, field))
/* Main: open, tick (a line each -i), close (each edge: SIGUSR1 to server > 0). */
void meter_open(struct meter *m, int n, double interval_s, pid_t server);
void meter_tick(struct meter *m, int n, uint64_t now);
void meter_close(struct meter *m, int n, pid_t server);
void meter_report(struct meter *m, int n, const struct meter_run *r) __attribute__((noreturn));

#endif
