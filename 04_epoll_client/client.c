/*
 * 04_epoll_client - the single-epoll client (the original's fourth
 * program): one thread, one epoll set, every connection, and the whole run
 * in one loop. Each connection writes an 8-byte big-endian timestamp,
 * waits for exactly those 8 bytes back, checks them byte for byte, records
 * now - timestamp as the latency, and writes the next one (closed loop, no
 * pipelining). With -r RATE the loop instead puts RATE requests a second
 * on idle connections in turn (open loop), each timed from when the
 * schedule said to send it, so that a stalled server shows as latency
 * rather than as fewer requests (coordinated omission; see 05's head
 * comment). The original averaged sampled means;
 * this one keeps a log-linear histogram (common/meter.c) and reports
 * p50/p90/p99/p99.9/max.
 *
 * A run, as the loop goes through it (schedule() every TICK_NS):
 *   1. ramp: non-blocking connects, at most RAMP_INFLIGHT in flight, from
 *      the -s source addresses in turn (one address has one ephemeral port
 *      range); connects left unanswered for STALL_S are given up.
 *   2. start: the first request on every connection, START_BATCH at a
 *      time, so the first replies are read while the rest go out.
 *   3. first round (closed loop): wait until every connection has had a
 *      reply; then warm-up (-W, not counted), then the measuring window
 *      (-d), a progress line every -i seconds. -P PID: the server marks
 *      the window's edges too.
 *   4. stop (-d over, SIGINT/SIGTERM, or every connection gone): no new
 *      requests; drain the replies in flight (giving up after DRAIN_S of
 *      silence), close, print one JSON line. Exit 0 only if every
 *      connection came up and every request got its own 8 bytes back.
 *
 * Why it stops scaling: one loop is one core, and every connection lives
 * in this process's one fd table, so RLIMIT_NOFILE caps -n (19,968 here).
 * 05 runs this loop once per thread, each with a private fd table.
 *
 * Per connection: 24 bytes (struct conn) in a flat array indexed by fd.
 *
 * usage: client [-a ADDR] [-p PORT] [-n CONNS] [-c LOOPS] [-d SEC] [-W SEC]
 *               [-r RATE] [-s FIRST[-LAST]] [-i SEC] [-P PID] [-L] [-h]   (-c: only 1)
 * build: cc -std=gnu11 -O2 -pthread -Icommon -o 04_epoll_client/client 04_epoll_client/client.c common/[a-z]*.c -lm
 *
 * test with:
 *   ./04_epoll_client/server &
 *   ./04_epoll_client/client -n 1000 -d 10
 *
 * diff against: 05_multi_epoll_client (this loop once per thread, and the
 * schedule moved to the main thread).
 *
 * sample output (stderr, a loaded 2-core box, -n 1000 -d 5 -i 2; then
 * the JSON line on stdout):
 *   04_epoll_client/client: 1000 connections to 127.0.0.1:8972 over 1 loop(s),
 *     20000 fds per process, sources 127.0.0.1
 *   04_epoll_client/client: 1000/1000 connected in 0.08 s (12079 conn/s), 0 failed
 *   04_epoll_client/client: every connection answered once in 0.12 s
 *   conns 1000  rps 54278  p99 34.3 ms
 *   conns 1000  rps 48641  p99 35.4 ms
 *   04_epoll_client/client: 1000/1000 conns, 53735 rps, p99 36.4 ms, 0 errors, 0 mismatches
 *   {"design":"04_epoll_client","conns_target":1000,"conns":1000,"loops":1,...}
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "c1m.h"

#define DESIGN		"04_epoll_client"
#define CONNS		1000	/* default -n */
/*
 * The ramp, drain and rate-mode constants below are 05's (its engine.h),
 * copied rather than included so that this lesson builds alone from its
 * build line; tests/workloads.sh (client-consts) fails if they drift. Only
 * START_BATCH differs, and TICK_NS is this loop's own (05's main thread
 * keeps the schedule instead).
 */
#define RAMP_INFLIGHT	512	/* connects in flight */
#define FD_RESERVE	32	/* fds kept for epoll, stdio, ... */
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
/* First requests put out per loop iteration: 05 puts 2048 a loop, tuned
 * for 1M connections over 51 loops; this one loop holds one fd table
 * (~20K connections), which 256 a turn starts in under 80 turns. */
#define START_BATCH	256
/*
 * From this many connections on, close with SO_LINGER 0 (an RST): 1M
 * normal closes would leave 1M TIME_WAIT sockets for 60 s. Below it, close
 * politely so the server sees EOFs, not resets.
 */
#define LINGER0_FROM	10000
#define TICK_NS		50000000ull	/* the schedule, and the signal check */
#define IDLE_WAIT_NS	20000000	/* epoll_pwait2 at most this long: 20 ms */
#define FIRST_STALL_S	3.0	/* first round: open anyway after this long with no new reply */
#define LATE_NS		1000000ull	/* rate mode: a send this late counts as late */
#define QUEUE_S		10	/* rate mode: a due request waits this long at most */

static struct {
	struct sockaddr_in dst;
	const char *addr;
	int port;
	long conns;
	double duration, warmup, interval, rate;
	uint32_t src_first, src_last;
	long fd_limit;
	pid_t server_pid;	/* -P: mark its window too */
} cfg = { .addr = C1M_ADDR, .port = C1M_PORT, .conns = CONNS, .duration = 10, .interval = 5 };

enum { C_FREE, C_CONNECTING, C_IDLE, C_BUSY };

/* One connection; the loop's array is indexed by fd. 24 bytes. */
struct conn {
	uint64_t sent;		/* the frame in flight: its time (host order) */
	uint8_t state;
	uint8_t answered;	/* it has had a reply: the first round is over */
	uint8_t wrote;		/* bytes of the frame written so far */
	uint8_t got;		/* bytes of the reply read so far */
	uint8_t reply[FRAME_SIZE];
};

struct loop {
	int id;			/* 0: the one loop (05 numbers its loops) */
	long count;		/* connections to open */
	int ep;
	long cap;		/* size of conns[]: the fd limit */
	struct conn *conns;
	struct meter *m;	/* what it counts and measures */
	long opened, inflight;
	long busy;		/* requests in flight */
	long start_fd;		/* closed loop: next fd to put a first request on */
	int *idle;		/* rate mode: a FIFO of idle connections */
	long idle_head, idle_len;
	uint64_t rate_sent;	/* rate mode: requests of the schedule sent */
	uint64_t last_reply;
	int ready;		/* every connect done or given up */
};

/* The run's schedule (05 keeps it in its main thread). */
enum { RAMP, FIRST_ROUND, WARM_UP, MEASURE, DRAIN };
static struct {
	int phase;
	uint64_t t0, go_ns;	/* ramp start; load start */
	uint64_t warm_ns;	/* the warm-up began */
	uint64_t moved_ns;	/* first round: the last new first reply */
	long left;		/* first round: connections with none yet */
	uint64_t win_ns;	/* the measuring window opened */
	uint64_t line_ns;	/* the last ramp progress line */
	long line_n;
	struct meter_run res;	/* what the report needs from the run */
} run = { .res = { .design = DESIGN, .first_round_s = NAN } };
static int stopping;		/* send no more; drain what is in flight */
static struct loop loop;	/* the one loop */

/* ---- one connection ---- */

static void conn_close(struct loop *l, int fd, int lost)
{
	struct conn *c = &l->conns[fd];

	if (c->state == C_BUSY)
		l->busy--;
	if (c->state != C_CONNECTING)
		atomic_fetch_sub_explicit(&l->m->live, 1, memory_order_relaxed);
	if (c->state != C_CONNECTING && !c->answered)
		atomic_fetch_sub_explicit(&l->m->awaiting_first, 1, memory_order_relaxed);
	if (lost)
		atomic_fetch_add_explicit(&l->m->lost, 1, memory_order_relaxed);
	c->state = C_FREE;
	close(fd);
}

static int conn_open(struct loop *l)
{
	long k = l->opened++;
	uint32_t nsrc = cfg.src_last - cfg.src_first + 1;
	uint32_t src = cfg.src_first ? cfg.src_first + (uint32_t)(k % nsrc) : 0;
	struct epoll_event ev = { .events = EPOLLOUT };
	int fd = net_connect_nb(&cfg.dst, src);

	if (fd < 0 || fd >= l->cap) {
		if (fd >= 0)
			close(fd);
		if (atomic_fetch_add(&l->m->failed, 1) == 0)
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
	l->conns[fd].sent = clock_ns();	/* the connect's start, until a request's */
	l->inflight++;
	return 0;
}

/* Rate mode: idle connections wait their turn, oldest first. */
static void idle_push(struct loop *l, int fd)
{
	l->idle[(l->idle_head + l->idle_len++) % l->count] = fd;
}

static int idle_pop(struct loop *l)
{
	while (l->idle_len) {
		int fd = l->idle[l->idle_head];

		l->idle_head = (l->idle_head + 1) % l->count;
		l->idle_len--;
		if (l->conns[fd].state == C_IDLE)
			return fd;	/* else it closed while it waited */
	}
	return -1;
}

static void on_connected(struct loop *l, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	l->inflight--;
	if (net_connect_result(fd) < 0) {
		if (atomic_fetch_add(&l->m->failed, 1) == 0)
			warnx_("loop %d: connect:", l->id);
		l->conns[fd].state = C_FREE;
		close(fd);
		return;
	}
	epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev);
	l->conns[fd].state = C_IDLE;
	hist_record(&l->m->connect, clock_ns() - l->conns[fd].sent);	/* connect_lat_us */
	atomic_fetch_add_explicit(&l->m->connected, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&l->m->live, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&l->m->awaiting_first, 1, memory_order_relaxed);
	if (cfg.rate > 0)
		idle_push(l, fd);
}

/* Write (the rest of) the frame in flight; wait for EPOLLOUT if short. */
static void conn_flush(struct loop *l, int fd)
{
	struct conn *c = &l->conns[fd];
	uint64_t be = htobe64(c->sent);
	struct epoll_event ev = { .data.fd = fd };

	while (c->wrote < FRAME_SIZE) {
		ssize_t n = send(fd, (char *)&be + c->wrote, FRAME_SIZE - c->wrote,
				 MSG_NOSIGNAL);

		if (n > 0) {
			c->wrote += (uint8_t)n;
			atomic_fetch_add_explicit(&l->m->bytes_out, n, memory_order_relaxed);
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

/* A request: its time (now, or when the schedule said), as 8 big-endian
 * bytes. The latency counts from that time. */
static void conn_send(struct loop *l, int fd, uint64_t at)
{
	struct conn *c = &l->conns[fd];

	c->sent = at;
	c->wrote = 0;
	c->got = 0;
	c->state = C_BUSY;
	l->busy++;
	atomic_fetch_add_explicit(&l->m->requests, 1, memory_order_relaxed);
	conn_flush(l, fd);
}

/* All 8 bytes back: check them, record the latency, send the next. */
static void on_reply(struct loop *l, int fd, uint64_t now)
{
	struct conn *c = &l->conns[fd];
	uint64_t be = htobe64(c->sent);

	if (memcmp(c->reply, &be, FRAME_SIZE) != 0)
		atomic_fetch_add_explicit(&l->m->mismatches, 1, memory_order_relaxed);
	else
		meter_record(l->m, now - c->sent);
	atomic_fetch_add_explicit(&l->m->round_trips, 1, memory_order_relaxed);
	if (!c->answered) {
		c->answered = 1;
		atomic_fetch_sub_explicit(&l->m->awaiting_first, 1, memory_order_relaxed);
	}
	c->state = C_IDLE;
	l->busy--;
	l->last_reply = now;
	if (cfg.rate > 0)
		idle_push(l, fd);
	else if (!stopping)
		conn_send(l, fd, clock_ns());
}

static void on_readable(struct loop *l, int fd)
{
	struct conn *c = &l->conns[fd];
	char junk[256];
	ssize_t n;

	if (c->state != C_BUSY || c->wrote < FRAME_SIZE) {
		/* Bytes nobody asked for: a broken server. Count, drain. */
		n = recv(fd, junk, sizeof(junk), 0);
		if (n > 0)
			atomic_fetch_add_explicit(&l->m->mismatches, 1, memory_order_relaxed);
		else if (n == 0 || (errno != EAGAIN && errno != EINTR))
			conn_close(l, fd, 1);
		return;
	}
	n = recv(fd, c->reply + c->got, FRAME_SIZE - c->got, 0);
	if (n > 0) {
		c->got += (uint8_t)n;
		atomic_fetch_add_explicit(&l->m->bytes_in, n, memory_order_relaxed);
		if (c->got == FRAME_SIZE)
			on_reply(l, fd, clock_ns());
	} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		conn_close(l, fd, 1);
	}
}

static void on_event(struct loop *l, int fd, uint32_t events)
{
	struct conn *c = &l->conns[fd];
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

/* Rate mode: request k of the schedule falls due at go + k / RATE. */
static uint64_t due_at(struct loop *l, uint64_t k)
{
	return run.go_ns + (uint64_t)(((double)k + l->id) * 1e9 / cfg.rate);
}

/*
 * Send every request due by now, stamped with its due time. One that has
 * waited QUEUE_S for a free connection is dropped, and counted: catching
 * up on an older backlog would measure the burst, not the server. Returns
 * the ns until the next is due, or -1 when none is free (a reply wakes us).
 */
static int64_t send_due(struct loop *l, uint64_t now)
{
	for (;;) {
		uint64_t due = due_at(l, l->rate_sent);
		int fd;

		if (due > now)
			return (int64_t)(due - now);
		if (now - due > QUEUE_S * 1000000000ull) {
			atomic_fetch_add_explicit(&l->m->dropped, 1, memory_order_relaxed);
			l->rate_sent++;		/* waited too long: dropped */
			continue;
		}
		fd = idle_pop(l);
		if (fd < 0)
			return -1;
		if (now - due > LATE_NS)
			atomic_fetch_add_explicit(&l->m->late, 1, memory_order_relaxed);
		conn_send(l, fd, due);
		l->rate_sent++;
	}
}

static void ramp_step(struct loop *l, uint64_t *last_progress)
{
	long before = l->opened;

	while (l->opened < l->count && l->inflight < RAMP_INFLIGHT && !stopping)
		conn_open(l);
	if (l->opened != before || l->inflight == 0)
		*last_progress = clock_ns();
	if (l->inflight && (clock_ns() - *last_progress) / 1e9 > STALL_S) {
		/* The server stopped answering SYNs: give these up. */
		for (int fd = 0; fd < l->cap; fd++)
			if (l->conns[fd].state == C_CONNECTING) {
				atomic_fetch_add(&l->m->failed, 1);
				l->conns[fd].state = C_FREE;
				close(fd);
			}
		warnx_("loop %d: %ld connects stalled for %.0f s, given up",
		       l->id, l->inflight, STALL_S);
		l->inflight = 0;
	}
	if (l->opened == l->count && l->inflight == 0)
		l->ready = 1;
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

	if (cfg.rate > 0 || stopping)
		return 1;
	for (; l->start_fd < l->cap && sent < START_BATCH; l->start_fd++)
		if (l->conns[l->start_fd].state == C_IDLE) {
			conn_send(l, (int)l->start_fd, clock_ns());
			sent++;
		}
	return l->start_fd == l->cap;
}

/* The ramp is over (or a signal cut it short): start the load. */
static void ramp_done(struct loop *l, uint64_t now)
{
	long n = atomic_load(&l->m->connected);

	run.res.connect_s = (now - run.t0) / 1e9;
	fprintf(stderr, "%s: %ld/%ld connected in %.2f s (%.0f conn/s), %ld failed\n",
		prog_name, n, cfg.conns, run.res.connect_s,
		n / (run.res.connect_s > 0 ? run.res.connect_s : 1), atomic_load(&l->m->failed));
	if (atomic_load(&sig_stop))
		stopping = 1;
	run.go_ns = run.line_ns = run.moved_ns = now;
	run.left = -1;
	run.phase = FIRST_ROUND;
}

/*
 * Closed loop: is every connection answered once? At 1M the first round is
 * a burst that takes seconds to clear, and a window opened inside it
 * measures neither the burst nor the steady rate. Rate mode does not wait:
 * the schedule, not the connections, sets its load. Given up after
 * FIRST_STALL_S without a new first reply (e.g. a server at its cap).
 */
static int first_round_done(struct loop *l, uint64_t now)
{
	long left = atomic_load(&l->m->awaiting_first), live = atomic_load(&l->m->live);

	if (cfg.rate > 0 || stopping)
		return 1;
	if (left == 0 && live > 0) {
		run.res.first_round_s = (now - run.go_ns) / 1e9;
		fprintf(stderr, "%s: every connection answered once in %.2f s\n",
			prog_name, run.res.first_round_s);
		return 1;
	}
	if (left != run.left) {
		run.left = left;
		run.moved_ns = now;
	}
	if (live == 0 || (now - run.moved_ns) / 1e9 > FIRST_STALL_S) {
		warnx_("%ld of %ld connections had no reply in %.1f s, none for the last %.0f s; "
		       "measuring anyway", left, live, (now - run.go_ns) / 1e9, FIRST_STALL_S);
		return 1;
	}
	if ((now - run.line_ns) / 1e9 >= cfg.interval) {
		fprintf(stderr, "first round: %ld of %ld connections answered\n", live - left, live);
		run.line_ns = now;
	}
	return 0;
}

/* Every -i seconds while the ramp lasts: how far it got, in conn/s. */
static void ramp_line(struct loop *l, uint64_t now)
{
	long n = atomic_load(&l->m->connected);

	if ((now - run.line_ns) / 1e9 < cfg.interval)
		return;
	fprintf(stderr, "ramp: %ld/%ld connected, %ld failed, %.0f conn/s\n",
		n, cfg.conns, atomic_load(&l->m->failed),
		(n - run.line_n) / ((now - run.line_ns) / 1e9));
	run.line_ns = now;
	run.line_n = n;
}

/*
 * Every TICK_NS: move the run on, a phase at a time. The window opens
 * after the warm-up and closes after -d, on a signal, or once every
 * connection is gone; from then on the loop only drains.
 */
static void schedule(struct loop *l, uint64_t now)
{
	int sig;

	sig_wait(0);			/* a pending SIGINT/SIGTERM sets sig_stop */
	sig = atomic_load(&sig_stop);
	switch (run.phase) {
	case RAMP:
		if (!l->ready && !sig) {
			ramp_line(l, now);
			return;
		}
		ramp_done(l, now);
		/* fall through */
	case FIRST_ROUND:
		if (!sig && !first_round_done(l, now))
			return;
		run.warm_ns = now;
		run.phase = WARM_UP;
		if (!stopping && !sig && cfg.warmup > 0)
			fprintf(stderr, "%s: warming up for %.0f s (not counted)\n",
				prog_name, cfg.warmup);
		/* fall through */
	case WARM_UP:
		if (!stopping && !sig && (now - run.warm_ns) / 1e9 < cfg.warmup)
			return;
		if (sig)
			stopping = 1;
		meter_open(l->m, 1, cfg.interval, cfg.server_pid);	/* counts from now */
		now = run.win_ns = clock_ns();
		run.phase = MEASURE;
		/* fall through */
	case MEASURE:
		if (!stopping && !sig && (now - run.win_ns) / 1e9 < cfg.duration) {
			if (atomic_load(&l->m->live) > 0) {
				meter_tick(l->m, 1, now);	/* the progress line */
				return;
			}
			warnx_("every connection is gone; stopping");
		}
		meter_close(l->m, 1, cfg.server_pid);	/* replies drained after: not counted */
		stopping = 1;
		run.phase = DRAIN;
	}
}

static void loop_run(struct loop *l)
{
	struct epoll_event ev[MAX_EVENTS];
	uint64_t last_progress = clock_ns(), next_tick = 0;
	int64_t wait_ns = IDLE_WAIT_NS;	/* rate mode: until the next send is due */
	int started = 0, starting = 0, draining = 0;

	for (;;) {
		struct timespec ts = { 0, starting ? 0 : wait_ns };
		int n = epoll_pwait2(l->ep, ev, MAX_EVENTS, &ts, NULL);	/* ns timeout */
		uint64_t now;

		if (n < 0 && errno != EINTR)
			die("epoll_pwait2:");
		for (int i = 0; i < n; i++)
			on_event(l, ev[i].data.fd, ev[i].events);
		now = clock_ns();
		if (!l->ready)
			ramp_step(l, &last_progress);
		if (now >= next_tick) {
			schedule(l, now);
			next_tick = now + TICK_NS;
		}
		if (!started && run.phase > RAMP)
			started = starting = 1;
		if (starting && start_step(l))
			starting = 0;
		if (stopping) {
			/* Drain: wait for the replies in flight, and give up on
			 * them once none has come for DRAIN_S. */
			if (!draining) {
				draining = 1;
				l->last_reply = now;
			}
			if (l->busy == 0 || (now - l->last_reply) / 1e9 > DRAIN_S)
				break;
		} else if (started && cfg.rate > 0) {
			int64_t next = send_due(l, now);

			wait_ns = next >= 0 && next < IDLE_WAIT_NS ? next : IDLE_WAIT_NS;
		}
		meter_publish(l->m, now);
	}
	meter_publish(l->m, UINT64_MAX);	/* the last latencies */
	for (int fd = 0; fd < l->cap; fd++)
		if (l->conns[fd].state != C_FREE)
			close(fd);
	close(l->ep);
}

/* ---- main: options, the one fd table, the run, the result ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"%s: single epoll loop, closed-loop ping-pong on every connection\n\n"
		"usage: %s [-a ADDR] [-p PORT] [-n CONNS] [-c LOOPS] [-d SEC]\n"
		"          [-W SEC] [-r RATE] [-s FIRST[-LAST]] [-i SEC] [-P PID] [-L] [-h]\n\n"
		"  -a ADDR   server address (default %s)\n"
		"  -p PORT   server port (default %d)\n"
		"  -n CONNS  connections to hold (default %d)\n"
		"  -c LOOPS  epoll loops: this design has one (05 takes more)\n"
		"  -d SEC    measuring time (default 10); it opens once every connection\n"
		"            has had a reply (closed loop), then -W\n"
		"  -W SEC    warm-up before it: load runs, nothing is counted (default 0)\n"
		"  -r RATE   requests/s over all connections, to idle ones in turn, each\n"
		"            timed from when the schedule said to send it (a request waits\n"
		"            up to %d s for a free connection, then is dropped and counted);\n"
		"            0 = every connection ping-pongs as fast as it can (default 0)\n"
		"  -s FIRST[-LAST]  source addresses to bind, round-robin (default:\n"
		"            one 127.0.0.x per %d connections when ADDR is loopback)\n"
		"  -i SEC    progress and stats interval on stderr (default 5)\n"
		"  -P PID    the server's process: send it SIGUSR1 as the window opens and\n"
		"            closes, so it counts its CPU and requests over the same window\n"
		"  -L        print this client's limits as one JSON line, for run.sh\n"
		"  -h        this help\n\n"
		"Prints one JSON line on stdout; exits 0 only with no errors and no\n"
		"mismatched replies, 1 otherwise, 2 on bad usage.\n",
		prog_name, prog_name, C1M_ADDR, C1M_PORT, CONNS, QUEUE_S, PER_SRC_ADDR);
}

static void parse(int argc, char **argv)
{
	static const struct limits lim = { .design = DESIGN, .fd_tables = "one",
		.fd_reserve = FD_RESERVE, .max_loops = 1, .target = CONNS,
		.per_src = PER_SRC_ADDR, .rate = 0 };
	int o, src_given = 0;

	arg_synopsis = "usage: client [-a ADDR] [-p PORT] [-n CONNS] [-c LOOPS] "
		       "[-d SEC] [-W SEC] [-r RATE] [-s FIRST[-LAST]] [-i SEC] [-P PID] [-L] [-h]";
	while ((o = getopt(argc, argv, ":a:p:n:c:d:W:r:s:i:P:Lh")) != -1) {
		switch (o) {
		case 'a': arg_ipv4(o, optarg); cfg.addr = optarg; break;
		case 'p': cfg.port = (int)arg_long(o, optarg, 1, 65535); break;
		case 'n': cfg.conns = arg_long(o, optarg, 1, 100000000); break;
		case 'c':
			if (arg_long(o, optarg, 1, 4096) > 1)
				arg_usage_error("-c: %s has 1 loop(s)", DESIGN);
			break;
		case 'd': cfg.duration = arg_seconds(o, optarg, 1e7); break;
		case 'W': cfg.warmup = arg_seconds(o, optarg, 1e6); break;
		case 'r': cfg.rate = arg_seconds(o, optarg, 1e9); break;
		case 's':
			arg_ipv4_range(o, optarg, &cfg.src_first, &cfg.src_last);
			src_given = 1;
			break;
		case 'i': cfg.interval = arg_seconds(o, optarg, 1e6); break;
		case 'P': cfg.server_pid = (pid_t)arg_long(o, optarg, 1, 1 << 22); break;
		case 'L': limits_print(&lim);
		case 'h': usage(stdout); exit(0);
		case ':': arg_usage_error("-%c needs a value", optopt);
		default: arg_usage_error("unknown option -%c", optopt);
		}
	}
	if (optind < argc)
		arg_usage_error("unexpected argument '%s'", argv[optind]);
	if (cfg.server_pid && kill(cfg.server_pid, 0) < 0)
		arg_usage_error("-P %d: no such process to mark", (int)cfg.server_pid);
	if (cfg.interval < 0.1)
		arg_usage_error("-i: must be at least 0.1 s");
	net_sockaddr(&cfg.dst, cfg.addr, cfg.port);
	if (!src_given && (ntohl(cfg.dst.sin_addr.s_addr) >> 24) == 127) {
		cfg.src_first = 0x7f000001;	/* 127.0.0.1 */
		cfg.src_last = cfg.src_first + (uint32_t)((cfg.conns - 1) / PER_SRC_ADDR);
	}
}

/* Every connection lives in this process's one table: raise its limit
 * and refuse -n beyond it; say how the run is laid out. */
static void size_table(void)
{
	cfg.fd_limit = fd_raise_limit(cfg.conns + FD_RESERVE + 16);
	if (cfg.conns > cfg.fd_limit - FD_RESERVE)
		arg_usage_error("-n %ld: one loop holds at most %ld connections here "
				"(RLIMIT_NOFILE %ld and the hard limit cannot be raised); "
				"raise it (ulimit -Hn, fs.nr_open) or use the multi-loop "
				"client 05", cfg.conns, cfg.fd_limit - FD_RESERVE, cfg.fd_limit);
	fprintf(stderr, "%s: %ld connections to %s:%d over 1 loop(s), %ld fds per process, "
		"sources %s", prog_name, cfg.conns, cfg.addr, cfg.port, cfg.fd_limit,
		cfg.src_first ? inet_ntoa((struct in_addr){ htonl(cfg.src_first) }) : "any");
	if (cfg.src_last > cfg.src_first)
		fprintf(stderr, "-%s", inet_ntoa((struct in_addr){ htonl(cfg.src_last) }));
	fputc('\n', stderr);
}

int main(int argc, char **argv)
{
	struct loop *l = &loop;

	prog_init(argv[0]);
	parse(argc, argv);
	size_table();
	sig_setup();
	l->count = cfg.conns;
	l->cap = cfg.fd_limit;
	l->m = meter_new(1);
	l->conns = calloc((size_t)l->cap, sizeof(*l->conns));
	l->idle = cfg.rate > 0 ? calloc((size_t)l->count + 1, sizeof(*l->idle)) : NULL;
	if (!l->conns || (cfg.rate > 0 && !l->idle))
		die("calloc %ld connections:", l->cap);
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	if (l->ep < 0)
		die("epoll_create1:");
	run.t0 = run.line_ns = clock_ns();
	loop_run(l);		/* the whole run */
	run.res.target = cfg.conns;
	run.res.rate = cfg.rate;
	run.res.depth = 1;			/* no -q or -l here: 05 has them */
	run.res.msg_bytes = FRAME_SIZE;
	meter_report(l->m, 1, &run.res);
}
