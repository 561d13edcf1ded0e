/*
 * c1m.h - the small library every c1m program links (libc, epoll, pthreads).
 *
 * This header is the contract. The building blocks (net_, fd_, hist_,
 * json_, echo_) never exit: they report errors with -1 and errno, as
 * redis' anet.c does. die() exits 1, the arg_*() helpers exit 2 on a bad
 * command line, and the srv_ setup calls and stats_init() die on what a
 * server cannot start without (a busy port, no memory).
 *
 * Modules, by prefix:
 *   die, warnx_         one-line errors
 *   clock_              monotonic nanoseconds
 *   arg_                getopt value parsing (exit 2 on bad values)
 *   net_                sockets: listen, reuseport, non-blocking connect
 *   fd_                 RLIMIT_NOFILE and private fd tables
 *   hist_               log-linear latency histogram (per thread, merged)
 *   proc_               CPU time and RSS of this process
 *   json_               one-line JSON result objects
 *   sig_                SIGINT/SIGTERM handling for the main thread
 *   stats_              per-thread counters, the interval line, the result
 *   srv_                server setup: flags, sizing, listeners, accepting
 *   echo_               the echo step shared by the echo servers
 *   client_             the one load-generating client (common/client.c)
 *
 * Modules with headers of their own: frame.h (whole 8-byte requests with
 * work before the echo, 10-13), sha256.h (the proof of work, 12/13),
 * threadconn.h (a thread per connection, 01/09/11/13), uring.h (14).
 */
#ifndef C1M_H
#define C1M_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define C1M_PORT	8972
#define C1M_ADDR	"127.0.0.1"
#define FRAME_SIZE	8	/* one request: 8 opaque bytes, echoed back */

/* ---- errors ------------------------------------------------------------ */

/* Program name used in messages; set it from argv[0] first thing in main. */
extern const char *prog_name;
void prog_init(const char *argv0);

/*
 * die("bind %s:%d:", addr, port) prints "prog: bind 127.0.0.1:8972: Address
 * already in use" and exits 1. A trailing ':' appends strerror(errno).
 */
void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/* Same format rules, but returns: for warnings that do not stop the run. */
void warnx_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- clock ------------------------------------------------------------- */

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t clock_ns(void);
/* CLOCK_REALTIME in nanoseconds: what clients put in their frames. */
uint64_t clock_wall_ns(void);

/* ---- command-line values ------------------------------------------------ */

/*
 * Parse a whole decimal integer in [min, max] for option `opt` (e.g. 'p').
 * On anything else print one line naming the option, the value and the
 * allowed range, then the usage synopsis, and exit 2.
 */
long arg_long(int opt, const char *val, long min, long max);
/* Non-negative seconds, fractions allowed ("0.5"). Exit 2 on bad input. */
double arg_seconds(int opt, const char *val, double max);
/* A dotted IPv4 address. Exit 2 on bad input. */
struct in_addr arg_ipv4(int opt, const char *val);
/*
 * "-s FIRST[-LAST]": a range of IPv4 source addresses, inclusive.
 * Exit 2 on bad input or LAST < FIRST.
 */
void arg_ipv4_range(int opt, const char *val, uint32_t *first, uint32_t *last);
/*
 * The one-line synopsis printed after a bad value, e.g.
 * "usage: server [-a ADDR] [-p PORT] [-c LOOPS] [-i SEC] [-h]".
 * Set it before parsing.
 */
extern const char *arg_synopsis;
/* Unknown option or stray argument: print the synopsis and exit 2. */
void arg_usage_error(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* ---- sockets ------------------------------------------------------------ */

/*
 * A listening, non-blocking TCP socket on addr:port with SO_REUSEADDR, and
 * SO_REUSEPORT if reuseport. Returns the fd, or -1 with errno set.
 * Port 0 picks a free port: read it back with net_local_port().
 */
int net_listen(const char *addr, int port, int reuseport, int backlog);
/* The local port of a bound socket, or -1. */
int net_local_port(int fd);
/*
 * Non-blocking connect from source address src (host order; 0 = any) to
 * dst. Uses IP_BIND_ADDRESS_NO_PORT so the port is picked at connect time
 * per (src, dst) pair, which is what lets many source addresses multiply
 * the ephemeral range. Returns the fd (connect may still be in progress;
 * wait for EPOLLOUT and check net_connect_result), or -1 with errno.
 */
int net_connect_nb(const struct sockaddr_in *dst, uint32_t src);
/* After EPOLLOUT on a connecting socket: 0, or -1 with errno = SO_ERROR. */
int net_connect_result(int fd);
/* SO_LINGER {1, 0}: close() sends RST and leaves no TIME_WAIT behind. */
int net_set_linger0(int fd);
/* TCP_NODELAY on: one 8-byte frame must not wait for Nagle. */
int net_set_nodelay(int fd);
/* Fill dst from "a.b.c.d" and port; -1 if the address does not parse. */
int net_sockaddr(struct sockaddr_in *dst, const char *addr, int port);

/* ---- file descriptors ---------------------------------------------------- */

/*
 * Raise the soft RLIMIT_NOFILE as far as allowed: to `want` if the hard
 * limit can be raised that far (root with CAP_SYS_RESOURCE, up to
 * fs.nr_open), else to the hard limit. Returns the soft limit now in force.
 */
long fd_raise_limit(long want);
/*
 * Give the calling thread its own fd table (unshare(CLONE_FILES)), so its
 * RLIMIT_NOFILE counts only its own fds: the trick that lets one process
 * of N loop threads hold N x limit connections. Call at the top of a loop
 * thread, before it opens anything. The new table starts as a copy of the
 * old one; fds opened afterwards are visible only in this thread.
 * Returns 0, or -1 with errno; or 1 in a ThreadSanitizer build, where the
 * table stays shared (TSan models one fd table per process: a private one
 * makes the same fd number in two loops look like a race, and TSan's own
 * report file, opened in one table, gets written into a socket of another).
 */
int fd_private_table(void);
/*
 * How many loops a program needs for `conns` connections when each loop
 * has a private table of `limit` fds of which `reserve` are kept free.
 * Never less than `min_loops`.
 */
int fd_loops_for(long conns, long limit, long reserve, int min_loops);

/* ---- latency histogram ---------------------------------------------------- */

/*
 * Log-linear: values 0..63 get one bucket each; above that every power of
 * two is split into 32 linear sub-buckets, so a recorded value is known to
 * within 1/32 (3.1%) over 1 ns .. 2^63 ns. 1,920 counters, no malloc.
 * Keep one per thread and hist_merge() after join.
 */
#define HIST_SUB_BITS	5
#define HIST_SUB	(1 << HIST_SUB_BITS)			/* 32 */
#define HIST_BUCKETS	((64 - HIST_SUB_BITS) * HIST_SUB + HIST_SUB)	/* 1920 */

struct hist {
	uint64_t count;
	uint64_t sum;		/* for the mean; saturates rather than wraps */
	uint64_t min, max;	/* exact */
	uint64_t bucket[HIST_BUCKETS];
};

void hist_init(struct hist *h);
void hist_record(struct hist *h, uint64_t v);
void hist_merge(struct hist *dst, const struct hist *src);
/* Bucket index of v, and the lowest and highest value of a bucket. */
int hist_index(uint64_t v);
uint64_t hist_bucket_low(int i);
uint64_t hist_bucket_high(int i);
/*
 * The value at quantile q (0..1): the highest value of the bucket holding
 * the ceil(q * count)-th smallest record, clamped to [min, max]. So the
 * answer is never below the true value and at most 1/32 above it.
 * 0 for an empty histogram.
 */
uint64_t hist_quantile(const struct hist *h, double q);
double hist_mean(const struct hist *h);

/* ---- process stats ------------------------------------------------------- */

/* User and system CPU seconds of the whole process (all threads). */
void proc_cpu(double *user_s, double *sys_s);
/* Resident set size now, and its peak (VmHWM), in KiB; -1 if unknown. */
long proc_rss_kb(void);
long proc_rss_peak_kb(void);
/*
 * The number after `key` on the first line of file `path` that starts
 * with it ("" = the first line), e.g. ("/proc/meminfo", "MemAvailable:")
 * or ("/proc/sys/kernel/pid_max", ""); -1 if there is none.
 */
long proc_file_long(const char *path, const char *key);

/* ---- one-line JSON --------------------------------------------------------- */

/*
 * Build one JSON object on one line:
 *	struct json j; json_begin(&j);
 *	json_str(&j, "design", "06_multi_epoll_server");
 *	json_u64(&j, "requests", n);
 *	json_obj(&j, "lat_us"); json_num(&j, "p50", 12.5); json_end(&j);
 *	json_end(&j); json_print(&j, stdout);
 * Keys and string values are escaped. A too-long object is truncated to
 * "{\"error\":\"json overflow\"}" rather than printed broken.
 */
struct json {
	char buf[16384];
	size_t len;
	int depth;
	int need_comma;
	int overflow;
};
void json_begin(struct json *j);
void json_obj(struct json *j, const char *key);	/* opens a nested object */
void json_arr(struct json *j, const char *key);	/* opens an array */
void json_arr_obj(struct json *j);		/* opens an object in an array */
void json_arr_end(struct json *j);
void json_end(struct json *j);			/* closes the innermost object */
void json_str(struct json *j, const char *key, const char *val);
void json_i64(struct json *j, const char *key, int64_t val);
void json_u64(struct json *j, const char *key, uint64_t val);
void json_num(struct json *j, const char *key, double val);
/* The usual block: cpu_user_s, cpu_sys_s (and nothing else). */
void json_cpu(struct json *j);
/* Write the line and a newline, and flush. */
void json_print(struct json *j, FILE *f);

/* ---- signals ---------------------------------------------------------------- */

/*
 * Call in main before starting threads: ignores SIGPIPE and blocks SIGINT
 * and SIGTERM in every thread created afterwards, so only sig_wait() sees
 * them.
 */
void sig_setup(void);
/*
 * Wait up to timeout_s seconds for SIGINT/SIGTERM. Returns the signal
 * number, or 0 on timeout. After a signal, sig_stop is set.
 */
int sig_wait(double timeout_s);
/* Set once a stop was asked for (signal, or the program's own decision). */
extern atomic_int sig_stop;

/* ---- server stats ------------------------------------------------------------ */

/*
 * Counters one server thread (or child process) owns, in a slot of its
 * own cache line so the hot path never shares one. The main thread sums
 * the slots. Slots live in MAP_SHARED memory, so a prefork parent sees
 * what its children count.
 */
struct stats_slot {
	atomic_long conns;	/* open now */
	atomic_ulong accepted;	/* connections accepted */
	atomic_ulong errors;	/* connections ended by an error of ours or the network */
	atomic_ulong resets;	/* connections the peer aborted (ECONNRESET, EPIPE) */
	atomic_ulong bytes;	/* bytes echoed; requests = bytes / FRAME_SIZE */
	atomic_ulong work;	/* design-specific units (hashes, waits) */
} __attribute__((aligned(64)));

/*
 * Allocate nslots zeroed slots for design `name`, printing a line of
 * stats every interval_s seconds from stats_run(). Dies on failure.
 */
struct stats_slot *stats_init(const char *name, int nslots, double interval_s);
/*
 * The main thread's loop: wait for SIGINT/SIGTERM, printing "conns N  rps R
 * ..." to stderr every interval, and sampling the peak connection count and
 * the busy window every 100 ms. Returns the signal; sig_stop is set.
 * If `tick` is given it is called every 100 ms (for a prefork parent to
 * reap children); a non-zero return from it also ends the wait.
 */
int stats_run(int (*tick)(void));
/*
 * One tick of that loop, for a server whose only thread is its event loop
 * (03): call it every 100 ms; it samples the peak and the busy window and
 * prints the interval line when one is due. stats_run() calls it too.
 */
void stats_tick(void);
/*
 * Add the standard server result keys to j: design, conns_peak, requests,
 * rps (requests over the busy window: first to last 100 ms tick in which
 * requests were served), accepted, errors, work, rss_kb_peak, cpu_user_s,
 * cpu_sys_s. The caller adds its own keys, closes and prints j.
 */
void stats_json(struct json *j);
/*
 * Optional: fn prints design-specific fields (e.g. "  threads 1000", no
 * newline) at the end of every interval line of stats_run().
 */
void stats_set_line(void (*fn)(FILE *f));
/*
 * A prefork parent, once it has reaped its children: stats_json then
 * reports rss_kb_peak as its own peak plus rss_kb_children (the sum of the
 * children's peaks), and cpu_user_s/cpu_sys_s including RUSAGE_CHILDREN.
 */
void stats_set_children(long rss_kb_children);
/*
 * Count a connection that ended: conns - 1, and by err (0 = a clean EOF):
 * ECONNRESET and EPIPE are `resets` (a peer that aborted, as clients at
 * scale do with SO_LINGER 0), any other errno is an `error`.
 */
void stats_conn_closed(struct stats_slot *st, int err);
/* Sums over all slots, for a server's own messages. */
long stats_conns(void);
uint64_t stats_requests(void);

/* ---- server setup ----------------------------------------------------------- */

/* A design's own option, beyond the standard -a -p -c -n -i -h. */
struct srv_flag {
	int opt;		/* 'w' */
	const char *arg;	/* "USEC", shown in the synopsis */
	const char *help;	/* "wait per request (default 10000)" */
	long min, max;		/* a whole number in [min, max] into *num ... */
	long *num;
	const char *choices;	/* ... or one of "block|timer" into *str */
	const char **str;
};

struct srv_design {
	const char *name;	/* "06_multi_epoll_server": the JSON "design" */
	const char *summary;	/* one line for -h */
	const char *loops_help;	/* what -c means here; NULL: no -c */
	const char *conns_help;	/* what -n means here; NULL: no -n */
	const struct srv_flag *flags;	/* extra flags, ending with {0} */
};

struct srv_cfg {
	const char *addr;	/* -a, default C1M_ADDR */
	int port;		/* -p, default C1M_PORT; 0 = any free port */
	int loops;		/* -c, 0 = not given */
	long conns;		/* -n, 0 = not given */
	double interval;	/* -i, default 5 */
	long fd_limit;		/* RLIMIT_NOFILE in force, from srv_size() */
};

/*
 * Parse the standard server flags and the design's own. -h prints the
 * usage generated from d and exits 0; anything bad exits 2 (see arg_long).
 */
void srv_parse(int argc, char **argv, const struct srv_design *d, struct srv_cfg *cfg);
/*
 * Raise RLIMIT_NOFILE and, if -c was not given, choose the loop count: the
 * CPU count, or more when -n needs more private fd tables of `reserve`
 * spare fds each. Exits 2 if -n cannot fit in -c tables.
 */
void srv_size(struct srv_cfg *cfg, long reserve);
/*
 * Open n listeners on cfg->addr:cfg->port (SO_REUSEPORT when n > 1) into
 * fds[]; a busy port or bad address dies with exit 1. Port 0 is resolved
 * into cfg->port.
 */
void srv_listen(struct srv_cfg *cfg, int n, int *fds);
/*
 * In loop thread `id` of n: take a private fd table and close the other
 * loops' listeners it inherited. Dies if unshare fails.
 */
void srv_private_table(int id, const int *lfds, int n);
/*
 * The start every server with one SO_REUSEPORT listener per loop makes
 * (06, 10, 12, 14): srv_size(cfg, reserve), sig_setup(), srv_listen() of
 * cfg->loops listeners into a new array *lfds, and stats_init() with one
 * slot per loop. Returns the slots. Dies on failure.
 */
struct stats_slot *srv_start_loops(struct srv_cfg *cfg, const char *name, long reserve,
				   int **lfds);
/* Print "prog: listening on ADDR:PORT, <what>" on stderr: tests wait for it. */
void srv_listening(const struct srv_cfg *cfg, const char *what_fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Build, complete with extra keys from `extra` (may be NULL), and print the
 * server's JSON line on stdout. */
void srv_report(void (*extra)(struct json *j));
/*
 * For the designs whose connections all share one fd table (02-05): raise
 * RLIMIT_NOFILE as far as allowed into cfg->fd_limit and print, on stderr,
 * how many connections that table holds, why, and how to go further.
 * Returns that ceiling (fd_limit - reserve).
 */
long srv_one_table(struct srv_cfg *cfg, long reserve);

/*
 * Accepting into an epoll set without spinning on EMFILE: on running out
 * of fds the listener leaves the epoll set for SRV_PAUSE_MS and a warning
 * is printed once; srv_accept_resume() puts it back when the time is up.
 */
#define SRV_PAUSE_MS 100
struct srv_acceptor {
	int id;			/* loop number, for messages */
	int lfd, ep;
	uint64_t paused_until;	/* 0 = listening */
	int full;		/* warned already for this episode */
	struct stats_slot *st;
	uint32_t listen_events;	/* extra epoll flags for the listener (EPOLLEXCLUSIVE) */
	uint32_t conn_events;	/* extra epoll flags for new conns (EPOLLONESHOT) */
};
/* Add a->lfd to a->ep (EPOLLIN | listen_events, data.fd = lfd). Dies on failure. */
void srv_accept_start(struct srv_acceptor *a);
/*
 * Accept everything pending: each new fd is non-blocking, TCP_NODELAY, in
 * a->ep with EPOLLIN | conn_events and data.fd = fd, and counted in a->st. Returns how
 * many were accepted.
 */
int srv_accept_ready(struct srv_acceptor *a);
/* Call after every epoll_wait: resume listening once a pause is over. */
void srv_accept_resume(struct srv_acceptor *a);
/*
 * The top of every loop thread of a listener-per-loop server: a private fd table (srv_private_table,
 * when there is more than one loop), a new epoll set in a->ep, and the
 * listener a->lfd in it. Dies on failure.
 */
void srv_loop_begin(struct srv_acceptor *a, const int *lfds, int n);

/*
 * The other way to accept (02, 05, 07): an acceptor thread of its own that
 * sleeps in a blocking accept() and hands each connection to a loop.
 * srv_accept_next() makes a->lfd blocking (srv_listen opens it
 * non-blocking) and returns the next connection, non-blocking and with
 * TCP_NODELAY. EMFILE and the like never spin: it warns once, sleeps
 * SRV_PAUSE_MS and tries again while the connection waits in the backlog.
 * Returns -1 once srv_accept_stop() has shut the listener down.
 */
int srv_accept_next(struct srv_acceptor *a);
/* Wake the thread blocked in srv_accept_next() for good (shutdown(lfd)). */
void srv_accept_stop(struct srv_acceptor *a);
/*
 * Hand an accepted fd to a loop: count it in st, then add it to the loop's
 * epoll set ep with EPOLLIN and data.fd = fd (epoll_ctl is safe while
 * that loop sits in epoll_wait). Closes it and returns -1 on failure.
 */
int srv_accept_add(int ep, int fd, struct stats_slot *st);

/* ---- echo servers' per-connection step ----------------------------------------- */

/*
 * The state an echo server keeps per connection: only the bytes it read but
 * could not write back yet. 16 bytes per connection, so a flat array of
 * them indexed by fd costs 16 MB per million connections. Zero it to
 * initialise.
 */
struct echo_conn {
	char *pend;		/* malloc'd unsent bytes, NULL when drained */
	uint32_t pend_len;	/* bytes in pend */
	uint32_t pend_off;	/* bytes of pend already sent */
};

enum echo_result {
	ECHO_OPEN,	/* all echoed; keep waiting for input (EPOLLIN) */
	ECHO_BLOCKED,	/* unsent bytes kept: wait for EPOLLOUT, stop reading */
	ECHO_CLOSE,	/* EOF (after flushing what it could) or error: close it */
};

/*
 * Called when fd is readable: read what is there (until EAGAIN, or until a
 * budget of reads so one busy peer cannot starve the loop), write each chunk
 * straight back, and keep any unsent tail in c. `buf` is the loop's scratch
 * buffer. Adds the bytes echoed to *bytes. On ECHO_CLOSE, errno says why
 * (0 for a clean EOF).
 */
enum echo_result echo_on_readable(struct echo_conn *c, int fd, char *buf,
				  size_t bufsz, uint64_t *bytes);
/* Called on EPOLLOUT: send the pending bytes. OPEN once drained. */
enum echo_result echo_on_writable(struct echo_conn *c, int fd, uint64_t *bytes);
/* Free the pending bytes (call before close). */
void echo_reset(struct echo_conn *c);
/*
 * The whole per-event step of a readiness echo server: EPOLLOUT drains the
 * pending bytes, anything else reads and echoes; the epoll interest moves
 * between EPOLLIN and EPOLLOUT (a slow reader is not read until it drains);
 * bytes, closes and errors are counted in st; a finished connection is
 * reset and closed. Returns 0 while the connection stays open, -1 once it
 * has been closed.
 */
int echo_event(int ep, int fd, uint32_t events, struct echo_conn *c,
	       char *buf, size_t bufsz, struct stats_slot *st);
/*
 * Close a connection: free its pending bytes, close the fd, and count it
 * with stats_conn_closed(st, err): err is 0 for a clean end, else the errno
 * that ended it.
 */
void echo_close(int fd, struct echo_conn *c, struct stats_slot *st, int err);
/*
 * Write buf[0..len) back on fd and park what the socket would not take:
 * ECHO_OPEN (all written), ECHO_BLOCKED (the tail is in c: wait for
 * EPOLLOUT and stop reading) or ECHO_CLOSE (errno says why). Call only
 * with nothing parked in c. For servers that write their own read loop,
 * such as the edge-triggered one (04).
 */
enum echo_result echo_write(struct echo_conn *c, int fd, const char *buf, size_t len,
			    uint64_t *bytes);

/* ---- client ------------------------------------------------------------------- */

/*
 * Every numbered client.c is a short main() that names its design and
 * calls client_main() (common/client.c, the one load generator of the
 * suite). What differs between designs is only the defaults below.
 */
struct client_design {
	const char *name;	/* "05_multi_epoll_client": the JSON "design" */
	const char *summary;	/* one line for -h */
	int loops;		/* default -c: 0 = from -n and the fd limit */
	int max_loops;		/* 1 for the single-loop clients 02-04 */
	long conns;		/* default -n */
	double rate;		/* default -r: requests/s over all conns, 0 = closed loop */
	/*
	 * Optional: called once the flags are parsed, before any connection;
	 * may print one line and exit 77 when the design cannot run here
	 * (14: io_uring unavailable). NULL: nothing to check.
	 */
	void (*check)(void);
};
int client_main(int argc, char **argv, const struct client_design *d);
/* A client.c's whole main(): CLIENT_MAIN(.name = "...", .summary = "...", ...) */
#define CLIENT_MAIN(...)						\
	int main(int argc, char **argv)					\
	{								\
		static const struct client_design d = { __VA_ARGS__ };	\
		return client_main(argc, argv, &d);			\
	}

#endif
