/*
 * client.c - the one load generator of the suite. Every numbered client.c
 * is a main() that calls client_main() with its design's defaults.
 *
 * What it does, in the order a run goes:
 *
 *  1. Ramp. -c loop threads each own an epoll set, a private fd table
 *     (so each may hold RLIMIT_NOFILE sockets) and an equal share of -n
 *     connections. A loop keeps at most RAMP_INFLIGHT non-blocking
 *     connects in flight, bound round-robin to the -s source addresses
 *     (one source address gives at most the ephemeral port range).
 *  2. Start line. When every loop has its connections up (or given up on
 *     them), the main thread starts the clock and all loops begin at once.
 *  3. Load. With -r 0 (the default) every connection ping-pongs: it sends
 *     an 8-byte big-endian timestamp, waits for exactly those 8 bytes back,
 *     records now - timestamp, and sends the next (closed loop, no
 *     pipelining). With -r RATE the loops instead send RATE requests per
 *     second in all, round-robin over idle connections, as the original's
 *     first client did (one connection every 5 ms = 200/s).
 *  4. Stop after -d seconds, SIGINT/SIGTERM, or when every connection is
 *     gone. Each loop drains the replies in flight; the connections close
 *     only once every loop has drained. Print one JSON line on stdout.
 *     Exit 0 only if nothing failed: no connect errors, no lost
 *     connections, no unanswered request, no mismatched reply.
 *
 * Every reply is checked byte for byte against the frame sent. Each loop
 * keeps its own histogram and counters; the main thread reads counters
 * with relaxed atomics and merges histograms once a tick under a per-loop
 * mutex, so the hot path takes no lock.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "c1m.h"

/* A design that builds on this client sets these before #including it. */
#ifndef CLIENT_DESIGN
#define CLIENT_DESIGN	"05_multi_epoll_client"
#define CLIENT_SUMMARY	"multiple epoll loops, each with its own fd table, ping-pong"
#endif
#ifndef CLIENT_LOOPS
#define CLIENT_LOOPS	0	/* default -c: 0 = from -n and the fd limit */
#endif
#ifndef CLIENT_MAX_LOOPS
#define CLIENT_MAX_LOOPS 0	/* 1 for the single-loop clients 02 and 03 */
#endif
#ifndef CLIENT_CONNS
#define CLIENT_CONNS	1000	/* default -n */
#endif
#ifndef CLIENT_RATE
#define CLIENT_RATE	0	/* default -r: 0 = closed loop */
#endif

#define RAMP_INFLIGHT	512	/* connects in flight per loop */
#define FD_RESERVE	32	/* fds per table kept for epoll, stdio, ... */
/*
 * Default connections per source address. connect() picks even ports
 * first (half of the 28K default range), and once those run short every
 * connect scans the rest: measured here, 50K connections ramp at 3K conn/s
 * with 20,000 per address and at 29K conn/s with 2,000.
 */
#define PER_SRC_ADDR	2000
#define STALL_S		15.0	/* ramp gives up after this long with no progress */
#define MAX_EVENTS	512
#define DRAIN_S		2.0	/* at stop, wait this long past the last reply */
#define START_BATCH	256	/* first requests put out per loop iteration */
/*
 * From this many connections on, close with SO_LINGER 0 (an RST): 1M
 * normal closes would leave 1M TIME_WAIT sockets for 60 s. Below it, close
 * politely so the server sees EOFs, not resets.
 */
#define LINGER0_FROM	10000

enum { C_FREE, C_CONNECTING, C_IDLE, C_BUSY };

/* One connection; the loop's array is indexed by fd. 24 bytes. */
struct cconn {
	uint64_t sent;		/* the frame in flight (host order) */
	uint8_t state;
	uint8_t wrote;		/* bytes of the frame written so far */
	uint8_t got;		/* bytes of the reply read so far */
	uint8_t reply[FRAME_SIZE];
};

struct loop {
	int id;
	pthread_t thread;
	long first, count;	/* global connection numbers it owns */
	int ep;
	long cap;		/* size of conns[]: this table's fd limit */
	struct cconn *conns;
	long opened, inflight;
	long rr;		/* rate mode: next fd to consider */
	long busy;		/* requests in flight */
	long start_fd;		/* closed loop: next fd to put a first request on */
	double rate;		/* rate mode: this loop's requests/s */
	uint64_t rate_sent;
	struct hist total;	/* whole run, read after join */
	struct hist local;	/* since the last publish */
	uint64_t last_publish;
	uint64_t last_reply;
	/* Read by the main thread while the loop runs. */
	atomic_long connected, failed, live, lost;
	atomic_ulong requests, round_trips, mismatches;
	atomic_int ready;
	pthread_mutex_t mu;
	struct hist interval;	/* published by the loop, taken by main */
};

static struct {
	struct sockaddr_in dst;
	const char *addr;
	int port;
	long conns;
	int loops;
	double duration, warmup, interval, rate;
	uint32_t src_first, src_last;
	long fd_limit;
	int private_tables;
} cfg;

static struct loop *loops;
static atomic_int go;		/* 1 once the load phase starts */
static atomic_int stopping;	/* send no more; drain what is in flight */
static pthread_barrier_t drained;	/* every loop done draining: now close */
static atomic_int window_open;	/* the measuring window (after -W) has begun */
static uint64_t go_ns;

/* ---- one connection ---- */

static void conn_close(struct loop *l, int fd, int lost)
{
	struct cconn *c = &l->conns[fd];

	if (c->state == C_BUSY)
		l->busy--;
	if (c->state != C_CONNECTING)
		atomic_fetch_sub_explicit(&l->live, 1, memory_order_relaxed);
	if (lost)
		atomic_fetch_add_explicit(&l->lost, 1, memory_order_relaxed);
	c->state = C_FREE;
	close(fd);
}

static int conn_open(struct loop *l)
{
	long k = l->first + l->opened++;
	uint32_t nsrc = cfg.src_last - cfg.src_first + 1;
	uint32_t src = cfg.src_first ? cfg.src_first + (uint32_t)(k % nsrc) : 0;
	struct epoll_event ev = { .events = EPOLLOUT };
	int fd = net_connect_nb(&cfg.dst, src);

	if (fd < 0 || fd >= l->cap) {
		if (fd >= 0)
			close(fd);
		if (atomic_fetch_add(&l->failed, 1) == 0)
			warnx_("loop %d: connect from %s:", l->id,
			       inet_ntoa((struct in_addr){ htonl(src) }));
		return -1;
	}
	if (cfg.conns >= LINGER0_FROM)
		net_set_linger0(fd);	/* close() leaves no TIME_WAIT behind */
	ev.data.fd = fd;
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		die("epoll_ctl:");
	memset(&l->conns[fd], 0, sizeof(l->conns[fd]));
	l->conns[fd].state = C_CONNECTING;
	l->inflight++;
	return 0;
}

static void on_connected(struct loop *l, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	l->inflight--;
	if (net_connect_result(fd) < 0) {
		if (atomic_fetch_add(&l->failed, 1) == 0)
			warnx_("loop %d: connect:", l->id);
		l->conns[fd].state = C_FREE;
		close(fd);
		return;
	}
	epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev);
	l->conns[fd].state = C_IDLE;
	atomic_fetch_add_explicit(&l->connected, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&l->live, 1, memory_order_relaxed);
}

/* Write (the rest of) the frame in flight; wait for EPOLLOUT if short. */
static void conn_flush(struct loop *l, int fd)
{
	struct cconn *c = &l->conns[fd];
	uint64_t be = htobe64(c->sent);
	struct epoll_event ev = { .data.fd = fd };

	while (c->wrote < FRAME_SIZE) {
		ssize_t n = send(fd, (char *)&be + c->wrote, FRAME_SIZE - c->wrote,
				 MSG_NOSIGNAL);

		if (n > 0) {
			c->wrote += (uint8_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == EAGAIN) {
			ev.events = EPOLLIN | EPOLLOUT;
			epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev);
			return;
		} else {
			conn_close(l, fd, 1);
			return;
		}
	}
}

static void conn_send(struct loop *l, int fd)
{
	struct cconn *c = &l->conns[fd];

	c->sent = clock_ns();
	c->wrote = 0;
	c->got = 0;
	c->state = C_BUSY;
	l->busy++;
	atomic_fetch_add_explicit(&l->requests, 1, memory_order_relaxed);
	conn_flush(l, fd);
}

static void on_reply(struct loop *l, int fd, uint64_t now)
{
	struct cconn *c = &l->conns[fd];
	uint64_t be = htobe64(c->sent);

	if (memcmp(c->reply, &be, FRAME_SIZE) != 0)
		atomic_fetch_add_explicit(&l->mismatches, 1, memory_order_relaxed);
	else
		hist_record(&l->local, now - c->sent);
	atomic_fetch_add_explicit(&l->round_trips, 1, memory_order_relaxed);
	c->state = C_IDLE;
	l->busy--;
	l->last_reply = now;
	if (cfg.rate == 0 && !atomic_load_explicit(&stopping, memory_order_relaxed))
		conn_send(l, fd);
}

static void on_readable(struct loop *l, int fd)
{
	struct cconn *c = &l->conns[fd];
	char junk[256];
	ssize_t n;

	if (c->state != C_BUSY || c->wrote < FRAME_SIZE) {
		/* Bytes nobody asked for: a broken server. Count, drain. */
		n = recv(fd, junk, sizeof(junk), 0);
		if (n > 0)
			atomic_fetch_add_explicit(&l->mismatches, 1, memory_order_relaxed);
		else if (n == 0 || (errno != EAGAIN && errno != EINTR))
			conn_close(l, fd, 1);
		return;
	}
	n = recv(fd, c->reply + c->got, FRAME_SIZE - c->got, 0);
	if (n > 0) {
		c->got += (uint8_t)n;
		if (c->got == FRAME_SIZE)
			on_reply(l, fd, clock_ns());
	} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		conn_close(l, fd, 1);
	}
}

static void on_event(struct loop *l, int fd, uint32_t events)
{
	struct cconn *c = &l->conns[fd];
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	if (c->state == C_CONNECTING) {
		on_connected(l, fd);
		return;
	}
	if ((events & EPOLLOUT) && c->state == C_BUSY) {
		conn_flush(l, fd);
		if (c->state == C_BUSY && c->wrote == FRAME_SIZE)
			epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev);
	}
	if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && c->state != C_FREE)
		on_readable(l, fd);
}

/* ---- the loop ---- */

/* Rate mode: send what is due by now, round-robin over idle connections. */
static void send_due(struct loop *l, uint64_t now)
{
	uint64_t due = (uint64_t)((double)(now - go_ns) / 1e9 * l->rate);
	long scanned = 0;

	while (l->rate_sent < due && scanned < l->cap) {
		int fd = (int)(l->rr++ % l->cap);

		scanned++;
		if (l->conns[fd].state == C_IDLE) {
			conn_send(l, fd);
			l->rate_sent++;
			scanned = 0;
		}
	}
	if (l->rate_sent < due)
		l->rate_sent = due;	/* every connection busy: skip, don't burst */
}

static void publish(struct loop *l, uint64_t now)
{
	if (now - l->last_publish < 100000000ull)
		return;
	l->last_publish = now;
	pthread_mutex_lock(&l->mu);
	hist_merge(&l->interval, &l->local);
	pthread_mutex_unlock(&l->mu);
	if (atomic_load_explicit(&window_open, memory_order_relaxed))
		hist_merge(&l->total, &l->local);	/* warm-up latencies left out */
	hist_init(&l->local);
}

static void ramp_step(struct loop *l, uint64_t *last_progress)
{
	long before = l->opened;

	while (l->opened < l->count && l->inflight < RAMP_INFLIGHT &&
	       !atomic_load(&stopping))
		conn_open(l);
	if (l->opened != before || l->inflight == 0)
		*last_progress = clock_ns();
	if (l->inflight && (clock_ns() - *last_progress) / 1e9 > STALL_S) {
		/* The server stopped answering SYNs: give these up. */
		for (int fd = 0; fd < l->cap; fd++)
			if (l->conns[fd].state == C_CONNECTING) {
				atomic_fetch_add(&l->failed, 1);
				l->conns[fd].state = C_FREE;
				close(fd);
			}
		warnx_("loop %d: %ld connects stalled for %.0f s, given up",
		       l->id, l->inflight, STALL_S);
		l->inflight = 0;
	}
	if (l->opened == l->count && l->inflight == 0)
		atomic_store(&l->ready, 1);
}

/*
 * Closed loop: put the first request on every connection, START_BATCH at a
 * time between rounds of epoll_wait, so the replies to the first ones are
 * read while the rest go out. (Sending 20,000 at once keeps a loop from
 * reading anything for seconds at 1M connections.) Returns 1 when done.
 */
static int start_step(struct loop *l)
{
	int sent = 0;

	if (cfg.rate > 0 || atomic_load(&stopping))
		return 1;
	for (; l->start_fd < l->cap && sent < START_BATCH; l->start_fd++)
		if (l->conns[l->start_fd].state == C_IDLE) {
			conn_send(l, (int)l->start_fd);
			sent++;
		}
	return l->start_fd == l->cap;
}

static void *loop_run(void *arg)
{
	struct loop *l = arg;
	struct epoll_event ev[MAX_EVENTS];
	uint64_t last_progress = clock_ns();
	int started = 0, starting = 0, draining = 0;

	if (cfg.private_tables && fd_private_table() < 0)
		die("loop %d: unshare(CLONE_FILES):", l->id);
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	if (l->ep < 0)
		die("epoll_create1:");
	for (;;) {
		int timeout = starting ? 0 : cfg.rate > 0 && started ? 1 : 20;
		int n = epoll_wait(l->ep, ev, MAX_EVENTS, timeout);
		uint64_t now;

		if (n < 0 && errno != EINTR)
			die("epoll_wait:");
		for (int i = 0; i < n; i++)
			on_event(l, ev[i].data.fd, ev[i].events);
		now = clock_ns();
		if (!atomic_load(&l->ready))
			ramp_step(l, &last_progress);
		if (!started && atomic_load(&go))
			started = starting = 1;
		if (starting && start_step(l))
			starting = 0;
		if (atomic_load_explicit(&stopping, memory_order_relaxed)) {
			/* Drain: wait for the replies in flight, and give up on
			 * them once none has come for DRAIN_S. */
			if (!draining) {
				draining = 1;
				l->last_reply = now;
			}
			if (l->busy == 0 || (now - l->last_reply) / 1e9 > DRAIN_S)
				break;
		} else if (started && cfg.rate > 0) {
			send_due(l, now);
		}
		publish(l, now);
	}
	publish(l, clock_ns() + 1000000000ull);
	/* Hold every connection until all loops have drained: a loop that
	 * closed its own early would free fds on a full server, which would
	 * then accept and answer another loop's waiting connections and hide
	 * that it could not hold them all. */
	pthread_barrier_wait(&drained);
	for (int fd = 0; fd < l->cap; fd++)
		if (l->conns[fd].state != C_FREE)
			close(fd);
	close(l->ep);
	return NULL;
}

/* ---- the main thread: options, ramp progress, stats, result ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"%s: %s\n\n"
		"usage: %s [-a ADDR] [-p PORT] [-n CONNS] [-c LOOPS] [-d SEC]\n"
		"          [-W SEC] [-r RATE] [-s FIRST[-LAST]] [-i SEC] [-L] [-h]\n\n"
		"  -a ADDR   server address (default %s)\n"
		"  -p PORT   server port (default %d)\n"
		"  -n CONNS  connections to hold (default %ld)\n"
		"  -c LOOPS  epoll loop threads, each with its own fd table\n"
		"            (default: as few as the fd limit allows%s)\n"
		"  -d SEC    measuring time once all connections are up (default 10)\n"
		"  -W SEC    warm-up before it: load runs, nothing is counted (default 0;\n"
		"            at 1M connections the first round of requests takes ~15 s)\n"
		"  -r RATE   requests/s over all connections, round-robin; 0 = every\n"
		"            connection ping-pongs as fast as it can (default %g)\n"
		"  -s FIRST[-LAST]  source addresses to bind, round-robin (default:\n"
		"            one 127.0.0.x per %d connections when ADDR is loopback)\n"
		"  -i SEC    progress and stats interval on stderr (default 5)\n"
		"  -L        print this client's limits as one JSON line, for run.sh\n"
		"  -h        this help\n\n"
		"Prints one JSON line on stdout; exits 0 only with no errors and no\n"
		"mismatched replies, 1 otherwise, 2 on bad usage.\n",
		prog_name, CLIENT_SUMMARY, prog_name, C1M_ADDR, C1M_PORT,
		(long)CLIENT_CONNS, CLIENT_MAX_LOOPS == 1 ? "; this design has one" : "",
		(double)CLIENT_RATE, PER_SRC_ADDR);
}

static void parse(int argc, char **argv)
{
	static const struct limits lim = { .design = CLIENT_DESIGN,
		.fd_tables = CLIENT_MAX_LOOPS == 1 ? "one" : "many", .fd_reserve = FD_RESERVE,
		.max_loops = CLIENT_MAX_LOOPS ? CLIENT_MAX_LOOPS : 4096,
		.target = CLIENT_CONNS, .per_src = PER_SRC_ADDR, .rate = CLIENT_RATE };
	int o, src_given = 0;

	cfg.addr = C1M_ADDR;
	cfg.port = C1M_PORT;
	cfg.conns = (long)CLIENT_CONNS;
	cfg.loops = CLIENT_LOOPS;
	cfg.duration = 10;
	cfg.interval = 5;
	cfg.rate = (double)CLIENT_RATE;
	arg_synopsis = "usage: client [-a ADDR] [-p PORT] [-n CONNS] [-c LOOPS] "
		       "[-d SEC] [-W SEC] [-r RATE] [-s FIRST[-LAST]] [-i SEC] [-L] [-h]";
	while ((o = getopt(argc, argv, ":a:p:n:c:d:W:r:s:i:Lh")) != -1) {
		switch (o) {
		case 'a': arg_ipv4(o, optarg); cfg.addr = optarg; break;
		case 'p': cfg.port = (int)arg_long(o, optarg, 1, 65535); break;
		case 'n': cfg.conns = arg_long(o, optarg, 1, 100000000); break;
		case 'c': cfg.loops = (int)arg_long(o, optarg, 1, 4096); break;
		case 'd': cfg.duration = arg_seconds(o, optarg, 1e7); break;
		case 'W': cfg.warmup = arg_seconds(o, optarg, 1e6); break;
		case 'r': cfg.rate = arg_seconds(o, optarg, 1e9); break;
		case 's':
			arg_ipv4_range(o, optarg, &cfg.src_first, &cfg.src_last);
			src_given = 1;
			break;
		case 'i': cfg.interval = arg_seconds(o, optarg, 1e6); break;
		case 'L': limits_print(&lim);
		case 'h': usage(stdout); exit(0);
		case ':': arg_usage_error("-%c needs a value", optopt);
		default: arg_usage_error("unknown option -%c", optopt);
		}
	}
	if (optind < argc)
		arg_usage_error("unexpected argument '%s'", argv[optind]);
	if (cfg.interval < 0.1)
		arg_usage_error("-i: must be at least 0.1 s");
	if (CLIENT_MAX_LOOPS && cfg.loops > CLIENT_MAX_LOOPS)
		arg_usage_error("-c: %s has %d loop(s)", CLIENT_DESIGN, CLIENT_MAX_LOOPS);
	net_sockaddr(&cfg.dst, cfg.addr, cfg.port);
	if (!src_given && (ntohl(cfg.dst.sin_addr.s_addr) >> 24) == 127) {
		cfg.src_first = 0x7f000001;	/* 127.0.0.1 */
		cfg.src_last = cfg.src_first + (uint32_t)((cfg.conns - 1) / PER_SRC_ADDR);
	}
}

/* How many loops, and whether each needs its own table; say why. */
static void size_loops(void)
{
	long per;

	cfg.fd_limit = fd_raise_limit(cfg.conns + FD_RESERVE + 16);
	per = cfg.fd_limit - FD_RESERVE;
	if (CLIENT_MAX_LOOPS == 1 && cfg.conns > per)
		arg_usage_error("-n %ld: one loop holds at most %ld connections here "
				"(RLIMIT_NOFILE %ld and the hard limit cannot be raised); "
				"raise it (ulimit -Hn, fs.nr_open) or use the multi-loop "
				"client 05", cfg.conns, per, cfg.fd_limit);
	if (!cfg.loops)
		cfg.loops = fd_loops_for(cfg.conns, cfg.fd_limit, FD_RESERVE, 1);
	if ((cfg.conns + cfg.loops - 1) / cfg.loops > per)
		arg_usage_error("-c %d: %ld connections need at least %d loops of %ld fds "
				"(RLIMIT_NOFILE %ld)", cfg.loops, cfg.conns,
				fd_loops_for(cfg.conns, cfg.fd_limit, FD_RESERVE, 1),
				per, cfg.fd_limit);
	cfg.private_tables = cfg.loops > 1;
	fprintf(stderr, "%s: %ld connections to %s:%d over %d loop(s), %ld fds per %s, "
		"sources %s", prog_name, cfg.conns, cfg.addr, cfg.port, cfg.loops,
		cfg.fd_limit, cfg.private_tables ? "loop (private fd tables)" : "process",
		cfg.src_first ? inet_ntoa((struct in_addr){ htonl(cfg.src_first) }) : "any");
	if (cfg.src_last > cfg.src_first)
		fprintf(stderr, "-%s", inet_ntoa((struct in_addr){ htonl(cfg.src_last) }));
	fputc('\n', stderr);
}

static long sum_long(atomic_long *(*field)(struct loop *))
{
	long s = 0;

	for (int i = 0; i < cfg.loops; i++)
		s += atomic_load_explicit(field(&loops[i]), memory_order_relaxed);
	return s;
}

static atomic_long *f_connected(struct loop *l) { return &l->connected; }
static atomic_long *f_failed(struct loop *l) { return &l->failed; }
static atomic_long *f_live(struct loop *l) { return &l->live; }

static uint64_t sum_round_trips(void)
{
	uint64_t s = 0;

	for (int i = 0; i < cfg.loops; i++)
		s += atomic_load_explicit(&loops[i].round_trips, memory_order_relaxed);
	return s;
}

static int all_ready(void)
{
	for (int i = 0; i < cfg.loops; i++)
		if (!atomic_load(&loops[i].ready))
			return 0;
	return 1;
}

/* Wait for the ramp, printing conn/s. Returns the connect time in s. */
static double ramp(uint64_t t0)
{
	uint64_t last = t0;
	long last_n = 0;

	while (!all_ready()) {
		if (sig_wait(0.05))
			return (clock_ns() - t0) / 1e9;
		if ((clock_ns() - last) / 1e9 >= cfg.interval) {
			long n = sum_long(f_connected);
			uint64_t now = clock_ns();

			fprintf(stderr, "ramp: %ld/%ld connected, %ld failed, %.0f conn/s\n",
				n, cfg.conns, sum_long(f_failed),
				(n - last_n) / ((now - last) / 1e9));
			last = now;
			last_n = n;
		}
	}
	return (clock_ns() - t0) / 1e9;
}

/* -W: let the load settle before the window opens. */
static void warm_up(void)
{
	if (cfg.warmup <= 0)
		return;
	fprintf(stderr, "%s: warming up for %.0f s (not counted)\n", prog_name, cfg.warmup);
	while (!atomic_load(&sig_stop) && (clock_ns() - go_ns) / 1e9 < cfg.warmup)
		sig_wait(0.05);
	if (atomic_load(&sig_stop))
		atomic_store(&stopping, 1);
}

/* Run for the duration from `start`, printing rps and p99 per interval. */
static void measure(uint64_t start)
{
	uint64_t last = start, last_rt = sum_round_trips();
	struct hist iv;

	hist_init(&iv);
	while (!atomic_load(&sig_stop)) {
		uint64_t now = clock_ns();

		if ((now - start) / 1e9 >= cfg.duration)
			break;
		if (sum_long(f_live) == 0) {
			warnx_("every connection is gone; stopping");
			break;
		}
		if ((now - last) / 1e9 >= cfg.interval) {
			uint64_t rt = sum_round_trips();

			for (int i = 0; i < cfg.loops; i++) {
				pthread_mutex_lock(&loops[i].mu);
				hist_merge(&iv, &loops[i].interval);
				hist_init(&loops[i].interval);
				pthread_mutex_unlock(&loops[i].mu);
			}
			fprintf(stderr, "conns %ld  rps %.0f  p99 %.0f us\n",
				sum_long(f_live), (rt - last_rt) / ((now - last) / 1e9),
				hist_quantile(&iv, 0.99) / 1e3);
			hist_init(&iv);
			last = now;
			last_rt = rt;
		}
		sig_wait(0.05);
	}
}

static void report(double connect_s, double duration_s, uint64_t rt)
{
	struct hist all;
	struct json j;
	uint64_t sent = 0, replies = 0, mism = 0;
	long conns = 0, failed = 0, lost = 0, errors;

	hist_init(&all);
	for (int i = 0; i < cfg.loops; i++) {
		hist_merge(&all, &loops[i].total);
		sent += loops[i].requests;
		replies += loops[i].round_trips;
		mism += loops[i].mismatches;
		conns += loops[i].connected;
		failed += loops[i].failed;
		lost += loops[i].lost;
	}
	errors = failed + lost + (long)(sent - replies);
	json_begin(&j);
	json_str(&j, "design", CLIENT_DESIGN);
	json_i64(&j, "conns_target", cfg.conns);
	json_i64(&j, "conns", conns);
	json_i64(&j, "loops", cfg.loops);
	json_num(&j, "connect_s", connect_s);
	json_num(&j, "duration_s", duration_s);
	json_u64(&j, "round_trips", rt);
	json_u64(&j, "requests_sent", sent);
	json_u64(&j, "replies", replies);
	json_u64(&j, "unanswered", sent - replies);
	json_num(&j, "rps", duration_s > 0 ? rt / duration_s : 0);
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
	json_u64(&j, "mismatches", mism);
	json_cpu(&j);
	json_i64(&j, "rss_kb", proc_rss_peak_kb());
	json_end(&j);
	json_print(&j, stdout);
	fprintf(stderr, "%s: %ld/%ld conns, %.0f rps, p99 %.0f us, %ld errors, "
		"%llu mismatches\n", prog_name, conns, cfg.conns,
		duration_s > 0 ? rt / duration_s : 0, hist_quantile(&all, 0.99) / 1e3,
		errors, (unsigned long long)mism);
	exit(errors || mism || conns < cfg.conns ? 1 : 0);
}

int main(int argc, char **argv)
{
	uint64_t t0;
	double connect_s, duration_s;
	uint64_t window_rt, win_ns, rt0;

	prog_init(argv[0]);
	parse(argc, argv);
#ifdef CLIENT_CHECK
	CLIENT_CHECK();	/* may exit 77: the design cannot run here */
#endif
	size_loops();
	sig_setup();
	loops = calloc((size_t)cfg.loops, sizeof(*loops));
	if ((errno = pthread_barrier_init(&drained, NULL, (unsigned)cfg.loops)))
		die("pthread_barrier_init:");
	if (!loops)
		die("calloc:");
	t0 = clock_ns();
	for (int i = 0; i < cfg.loops; i++) {
		struct loop *l = &loops[i];

		l->id = i;
		l->first = cfg.conns * i / cfg.loops;
		l->count = cfg.conns * (i + 1) / cfg.loops - l->first;
		l->cap = cfg.fd_limit;
		l->rate = cfg.rate / cfg.loops;
		l->conns = calloc((size_t)l->cap, sizeof(*l->conns));
		if (!l->conns)
			die("calloc %ld connections:", l->cap);
		hist_init(&l->total);
		hist_init(&l->local);
		hist_init(&l->interval);
		pthread_mutex_init(&l->mu, NULL);
		if ((errno = pthread_create(&l->thread, NULL, loop_run, l)))
			die("pthread_create:");
	}
	connect_s = ramp(t0);
	fprintf(stderr, "%s: %ld/%ld connected in %.2f s (%.0f conn/s), %ld failed\n",
		prog_name, sum_long(f_connected), cfg.conns, connect_s,
		sum_long(f_connected) / (connect_s > 0 ? connect_s : 1),
		sum_long(f_failed));
	if (atomic_load(&sig_stop))
		atomic_store(&stopping, 1);	/* interrupted during the ramp */
	go_ns = clock_ns();
	atomic_store(&go, 1);
	if (!atomic_load(&stopping))
		warm_up();
	win_ns = clock_ns();
	rt0 = sum_round_trips();
	atomic_store(&window_open, 1);
	if (!atomic_load(&stopping))
		measure(win_ns);
	/* The window closes now; replies still in flight are drained and
	 * checked, but only round trips inside the window make the rps. */
	duration_s = (clock_ns() - win_ns) / 1e9;
	window_rt = sum_round_trips() - rt0;
	atomic_store(&stopping, 1);
	for (int i = 0; i < cfg.loops; i++)
		pthread_join(loops[i].thread, NULL);
	report(connect_s, duration_s, window_rt);
	return 0;
}
