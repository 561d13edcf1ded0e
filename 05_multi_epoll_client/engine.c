/*
 * engine.c - 05_multi_epoll_client's client, and the engine of every c1m
 * client but 04's (the instrument that drives 01-03 and 05-14): -c loop
 * threads, each with its own epoll set, its own fd table
 * (unshare(CLONE_FILES), so each may hold RLIMIT_NOFILE sockets) and an
 * equal share of -n connections. By default every connection ping-pongs
 * 8 bytes, the Go original's protocol: it writes a big-endian timestamp,
 * waits for exactly those 8 bytes back, checks them byte for byte,
 * records now - timestamp and writes the next (closed loop). With -r RATE
 * the loops instead send RATE requests a second in all, to idle
 * connections in turn, as the original's first client did (200/s): open
 * loop.
 *
 * Knobs that change the traffic's shape:
 *   -q DEPTH  pipelining: DEPTH requests in flight per connection. The
 *      server echoes in order, so the replies are matched in order, each
 *      timed from its own request's send time (rate mode: its due time);
 *      a reply sends the next request (closed loop) or frees a slot of
 *      the rate schedule's FIFO (a connection has DEPTH of them).
 *   -l BYTES  message size, 8 B to 1 MiB: the 8-byte send time, then a
 *      pattern computed from (connection, request, offset) (pattern()),
 *      so every reply byte is checked as it arrives, and a short write
 *      resumes anywhere, without a copy of any request. bytes/s both ways
 *      are in the JSON (tx_bytes_per_s, rx_bytes_per_s).
 *   -x LIFETIME  churn: after LIFETIME round trips a
 *      connection closes (a FIN, or an RST with -R) and a new one takes
 *      its slot, so -n stay open; -x 1 is neper's tcp_crr. Every connect,
 *      the ramp's too, is timed from connect() to writable into its own
 *      histogram (connect_lat_us), and the stop waits for the connects in
 *      flight, so the server's accepts equal the connects counted. A
 *      connection the server closes is replaced too (it costs only itself).
 *   -H SEC  heartbeats: every connection one request every SEC, the
 *      phases spread evenly (heartbeats_due()), each timed from its due
 *      time; how late each went out is send_lag_us (so is -r's). With -r
 *      the rate's requests come on top, through the FIFO: a heartbeat's
 *      reply frees no FIFO slot (hb_req).
 *   --storm PCT@SEC  reconnect storm: SEC into the window PCT% of the
 *      connections drop at once (RST) and reconnect, failures retried with
 *      exponential backoff and jitter (storm_step()); storm_recovery_s is
 *      the time until every one is back and answered. Under -H a
 *      reconnect (this one or -X's) says hello: one request at once, as a
 *      real client's handshake, so the recovery measured is the server's,
 *      not the wait for a heartbeat's phase; the heartbeats go on as due.
 *   --push  the server speaks first (its -b SEC or -R RATE): hold -n
 *      connections, send nothing, and read every push (common/push.c has
 *      the frame). Per connection the sequence must run 1, 2, 3 ...: a
 *      gap counts the pushes skipped (pushes_missing), a repeat or a step
 *      back is a mismatch, and so is any body byte that is not
 *      push_byte(seq, offset). A connection with no push at all has no
 *      gap: those open at the close are counted (push_silent), and are
 *      an error once the window held as many pushes as connections.
 *      Delivery latency is receive time minus the
 *      scheduled time the push carries, both CLOCK_REALTIME (so across
 *      hosts it includes their clocks' offset: the JSON's "clock" holds
 *      each host's adjtimex state). The pushes of a broadcast share their
 *      scheduled time: each loop tallies, per scheduled time, its
 *      connections that got it and the last receipt (fan_tally()), and
 *      main adds the tallies after join into fan-out completion
 *      (fanout_s). --push-echo ping-pongs (-l 8) on the same connections
 *      and takes pushes between echoed frames: at a frame boundary a top
 *      bit set starts a push (a timestamp never has it), so a push that
 *      cuts into a frame shows as a mismatch. 40 bytes more a connection
 *      (struct push_rx).
 *   -X  reconnect, for a server restart (run.sh --restart-at): a
 *      connection the server closes or resets reconnects at once, a
 *      refused connect retried with the storm's backoff (restart_lost());
 *      its requests in flight are abandoned, not errors. restart_dropped,
 *      restart_back, restart_retries and restart_recovery_s (from the
 *      first drop until every one is back and answered) are in the JSON.
 * With none of these (-q 1 -l 8) the syscalls and the bytes are those of
 * the ping-pong.
 *
 * A run, the main thread keeping the schedule (04 keeps it in its loop):
 *   1. ramp: each loop keeps at most RAMP_INFLIGHT non-blocking connects in
 *      flight, bound in turn to the -s source addresses (one address has
 *      one ephemeral port range); connects left unanswered for STALL_S
 *      are given up.
 *   2. start line: once every loop has its connections up (or given up),
 *      main starts the clock and all loops begin at once, putting the
 *      first request on their connections START_BATCH at a time.
 *   3. first round (closed loop): wait until every connection has had a
 *      reply, so the window never sees the first burst.
 *   4. barrier (-B): with the load running, say "barrier: ready" on stderr
 *      and wait for a line "go" on stdin, so that clients on several hosts
 *      open their windows together (run.sh --hosts writes it).
 *   5. warm-up (-W, not counted), then the measuring window (-d), a
 *      progress line every -i seconds; "window open" on stderr as it
 *      opens (run.sh --restart-at counts from it). -P PID: the server
 *      marks the window's edges too.
 *   6. stop (-d over, SIGINT/SIGTERM, stdin closed with -B, or every
 *      connection gone): no new requests; each loop drains its replies in
 *      flight (giving up after DRAIN_S of silence); connections close only
 *      once every loop has drained. One JSON line; exit 0 only if every
 *      connection came up and every request got its own bytes back.
 *
 * Open loop done right: request k of the schedule is due at a fixed time,
 * and its latency counts from then, not from when it went out: a server
 * that stalls shows as latency, not as fewer requests sent (coordinated
 * omission; wrk2's point). A due request waits for a free connection up to
 * QUEUE_S; older ones are dropped and counted. No table scan: idle
 * connections wait in a FIFO, and the loop sleeps until the next due time.
 *
 * Why it scales: a loop per core, and a table per loop, so neither a core
 * nor RLIMIT_NOFILE caps -n; 1M connections need 51 loops of 19,968 here.
 * Each loop counts into its own struct meter (common/meter.c: relaxed
 * atomics, its own histogram), which main sums and merges, so the hot path
 * takes no lock.
 *
 * Each design's client.c (this directory's too) is a short main that fills
 * a struct client_design (engine.h: its name and defaults) and calls
 * client_main(); the Makefile links this file into each of them. The
 * options, their synopsis and -h come from one table (opts[] below).
 *
 * Per connection: 44 bytes (struct conn) in a flat array indexed by fd,
 * and 8 a request in flight (its send time).
 *
 * usage: the client's -h (generated from opts[]).
 * build: see 05_multi_epoll_client/client.c (this file links into every
 * client but 04's).
 *
 * test with:
 *   ./06_multi_epoll_server/server &
 *   ./05_multi_epoll_client/client -n 1000 -d 5
 *
 * diff against: 04_epoll_client (one loop that also keeps the schedule).
 *
 * sample output (stderr, a loaded 2-core box, -n 1000 -c 2 -d 5 -i 2;
 * then the JSON line on stdout):
 *   05_multi_epoll_client/client: 1000 connections to 127.0.0.1:8972 over 2 loop(s),
 *     20000 fds per loop (private fd tables), sources 127.0.0.1
 *   05_multi_epoll_client/client: 1000/1000 connected in 0.05 s (19860 conn/s), 0 failed
 *   05_multi_epoll_client/client: every connection answered once in 0.06 s
 *   conns 1000  rps 81277  p99 24.2 ms
 *   conns 1000  rps 52062  p99 48.0 ms
 *   05_multi_epoll_client/client: 1000/1000 conns, 62893 rps, p99 45.4 ms, 0 errors, 0 mismatches
 *   {"design":"05_multi_epoll_client","conns_target":1000,"conns":1000,"loops":2,...}
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "c1m.h"
#include "engine.h"

#define START_BATCH	2048	/* connections given their first requests per loop iteration */
#define MAX_DEPTH	4096	/* -q: 8 bytes a request in flight, per connection */
#define MAX_SIZE	(1 << 20)	/* -l: 1 MiB */

static const struct client_design *D;	/* the design's name and defaults */

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
	pid_t server_pid;	/* -P: mark its window too */
	int barrier;		/* -B: wait for "go" on stdin */
	uint32_t depth;		/* -q: requests in flight per connection */
	uint32_t ring;		/* send times kept a connection: -q, +1 for a heartbeat on top of -r's */
	uint32_t size;		/* -l: bytes per request (and reply) */
	uint32_t lifetime;	/* -x: round trips before a connection is replaced; 0 = never */
	int rst;		/* -R: close (churn's and the end's) with an RST */
	double heartbeat;	/* -H: every connection one request every this many s */
	long storm_pct;		/* --storm PCT@SEC: drop PCT% at once (0 = never) ... */
	double storm_at;	/* ... SEC into the window */
	int push;		/* PUSH_ONLY (--push), PUSH_ECHO (--push-echo), or 0 */
	int reconnect;		/* -X: a connection the server drops comes back (restart_*) */
} cfg = { .addr = C1M_ADDR, .port = C1M_PORT, .duration = 10, .interval = 5,
	  .depth = 1, .size = FRAME_SIZE };

enum { C_FREE, C_CONNECTING, C_IDLE, C_BUSY };	/* BUSY: a request in flight */
enum { PUSH_ONLY = 1, PUSH_ECHO = 2 };	/* cfg.push */

/*
 * One connection; the loop's array is indexed by fd. 44 bytes, and 8 a
 * request in flight (struct loop's sent[]). Requests are numbered per
 * connection: issued >= written >= replied, and the server can owe us at
 * most the bytes written and not yet read back. The counters wrap at 2^32
 * together, which the differences survive.
 */
struct conn {
	uint32_t id;		/* the connection's number in the run: seeds its pattern */
	uint32_t slot;		/* its place in the loop's share (sent[]): a replacement takes it */
	uint32_t issued;	/* requests put on it (each stamped with its time) */
	uint32_t written;	/* of those, written in full */
	uint32_t replied;	/* of those, read back in full */
	uint32_t wrote;		/* bytes of request `written` written so far */
	uint32_t got;		/* bytes of reply `replied` read so far */
	uint8_t state;
	uint8_t answered;	/* it has had a reply: the first round is over */
	uint8_t bad;		/* reply `replied` differs from its request somewhere */
	uint8_t watch_out;	/* EPOLLOUT is armed: a request is half written */
	uint8_t fresh;		/* -x: it replaced one that had its round trips */
	uint8_t storm;		/* --storm, -X: reconnected, not yet answered */
	uint8_t reply[FRAME_SIZE];	/* reply `replied`'s timestamp as read so far */
};
_Static_assert(sizeof(struct conn) == 44, "struct conn: update the byte counts above");

#define IO_CHUNK	65536	/* bytes a send() or recv() at most */

/*
 * Push modes: a connection's place in the pushes coming in, beside struct
 * conn (40 bytes, in a per-loop array indexed by fd, only in push modes).
 */
struct push_rx {
	uint8_t hdr[PUSH_HDR];	/* the push's header as read so far */
	uint64_t next_seq;	/* the sequence number due next (0: none yet, so 1) */
	uint32_t got;		/* bytes of the push read so far; 0: at a boundary */
	uint8_t bad;		/* a body byte differed */
};

/* Push modes: one scheduled time's deliveries on one loop (fan-out). */
struct fan {
	uint64_t sched;		/* the push's scheduled time, CLOCK_REALTIME ns */
	uint64_t last;		/* when the last of them came, CLOCK_REALTIME ns */
	long count;		/* connections of this loop that got it */
};
#define RETRY_WHEEL	2048	/* ms a retry may wait: past the longest backoff, 1.5 s */
#define FAN_OPEN	16	/* scheduled times a loop tallies at once */
#define FAN_DONE_MAX	65536	/* tallies a loop keeps for main; more are dropped */

struct loop {
	int id;
	pthread_t thread;
	long first, count;	/* global connection numbers it owns */
	int ep;
	long cap;		/* size of conns[]: this table's fd limit */
	struct conn *conns;
	uint64_t *sent;		/* request k of connection first + i: sent[i * depth + k % depth] */
	struct meter *m;	/* what it counts and measures */
	long opened, inflight;
	uint32_t reopens;	/* -x: replacements opened: their ids follow -n's */
	long busy;		/* requests in flight */
	long start_fd;		/* closed loop: next fd to put its first requests on */
	struct idle_slot { int fd; uint32_t id; } *idle;	/* rate mode: a FIFO of free
				 * request slots; id tells a connection from a later one on its fd */
	uint8_t *hb_req;	/* -H with -r: request k of slot i was a heartbeat (no FIFO slot) */
	long idle_cap, idle_head, idle_len;
	uint64_t rate_sent;	/* rate mode: requests of the schedule sent */
	int *slot_fd;		/* -H: each slot's connection (-1: none up) */
	int storm_done;		/* --storm: this loop has dropped its share */
	uint64_t *retry_at;	/* --storm, -X: a slot's next connect attempt (0: none) */
	uint8_t *tries;		/* --storm, -X: failed attempts of a slot's reconnect */
	long retrying;		/* slots with a retry_at */
	/* --storm, -X: the slots waiting, by the ms of their retry_at: bucket
	 * ms % RETRY_WHEEL lists them (slot + 1; 0 ends the list), so a loop
	 * looks only at the slots due, not at all of them every ms */
	uint32_t *retry_next;
	uint32_t retry_wheel[RETRY_WHEEL];
	uint64_t retry_ms;	/* the first ms whose bucket is not yet looked at */
	uint64_t rng;		/* the backoff's jitter */
	uint64_t last_back;	/* the last storm reconnect answered (main reads after join) */
	uint64_t first_drop;	/* -X: the first connection the server dropped (0: none) */
	long hb_slot;		/* -H: the next slot due, in round hb_round */
	uint64_t hb_round;
	uint64_t last_reply;
	atomic_int ready;	/* every connect done or given up: main reads it */
	struct push_rx *push;	/* push modes: per fd */
	struct fan fan_open[FAN_OPEN];	/* push modes: the tallies still counting */
	struct fan *fan_done;	/* push modes: tallies pushed out, for main after join */
	long fan_n, fan_cap, fan_dropped;
	uint8_t buf[IO_CHUNK];	/* what a send() writes or a recv() reads */
};

static struct loop *loops;
static struct meter *meters;	/* one per loop: loops[i].m == &meters[i] */
static atomic_int go;		/* 1 once the load phase starts */
static atomic_int stopping;	/* send no more; drain what is in flight */
static pthread_barrier_t drained;	/* every loop done draining: now close */
static uint64_t go_ns;
static atomic_int storm_go;	/* --storm: main says drop now */
static uint64_t storm_ns;	/* when it said so */

/* ---- a request's bytes ---- */

/*
 * Request k on connection c is its send time (8 bytes, big-endian), then
 * -l minus 8 bytes of a pattern drawn from (c, k): byte j >= 8 is byte
 * j % 8 of word mix64(seed(c, k) ^ (j / 8) * golden). Any byte of any
 * request is computed from its offset alone, so a short write resumes
 * anywhere and every reply byte is checked against what it should be, no
 * copy of the request kept. A server that mixes up two connections, two
 * requests or two offsets (or drops or repeats bytes) fails the check.
 */
static uint64_t mix64(uint64_t x)	/* splitmix64's finalizer */
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t pattern_word(uint32_t id, uint32_t k, uint64_t word)
{
	return mix64(mix64(((uint64_t)id << 32) | k) ^ word * 0x9e3779b97f4a7c15ull);
}

/* The pattern's bytes [off, off + len) of request k on connection id
 * (off >= 8): into out, or compared with in. Returns 0 if they equal. */
static int pattern(uint32_t id, uint32_t k, uint64_t off, uint8_t *out, const uint8_t *in,
		   size_t len)
{
	while (len) {
		uint64_t w = pattern_word(id, k, off / 8);
		size_t at = off % 8, n = 8 - at < len ? 8 - at : len;
		uint8_t b[8];

		memcpy(b, &w, 8);
		if (out) {
			memcpy(out, b + at, n);
			out += n;
		} else if (memcmp(in, b + at, n) != 0) {
			return 1;
		} else {
			in += n;
		}
		off += n;
		len -= n;
	}
	return 0;
}

static uint64_t *sent_slot(struct loop *l, const struct conn *c, uint32_t k)
{
	return &l->sent[(uint64_t)c->slot * cfg.ring + k % cfg.ring];
}

/* ---- one connection ---- */

static void conn_issue(struct loop *l, struct conn *c, uint64_t at);
static int conn_flush(struct loop *l, int fd);

static void conn_close(struct loop *l, int fd, int lost)
{
	struct conn *c = &l->conns[fd];

	l->busy -= (long)(c->issued - c->replied);
	if (c->state != C_CONNECTING)
		atomic_fetch_sub_explicit(&l->m->live, 1, memory_order_relaxed);
	if (c->state != C_CONNECTING && !c->answered)
		atomic_fetch_sub_explicit(&l->m->awaiting_first, 1, memory_order_relaxed);
	if (c->state != C_CONNECTING && l->push && !l->push[fd].next_seq)
		atomic_fetch_sub_explicit(&l->m->push_silent, 1, memory_order_relaxed);
	if (lost)
		atomic_fetch_add_explicit(&l->m->lost, 1, memory_order_relaxed);
	if (l->slot_fd && c->state != C_CONNECTING && l->slot_fd[c->slot] == fd)
		l->slot_fd[c->slot] = -1;
	c->state = C_FREE;
	close(fd);
}

/*
 * The server closed it, or it failed: counted in lost. Under churn (-x) a
 * replacement opens in its slot, so a peer that closes mid-message costs
 * that connection only and -n stay open (conns_open_at_end).
 */
static int conn_connect(struct loop *l, uint32_t slot, long k, int fresh);
static int restart_lost(struct loop *l, int fd);

static void conn_lost(struct loop *l, int fd)
{
	uint32_t slot = l->conns[fd].slot;

	if (cfg.reconnect && restart_lost(l, fd) == 0)
		return;		/* -X: it comes back */
	conn_close(l, fd, 1);
	if (cfg.lifetime)	/* at the stop too: the drain waits for its connect */
		conn_connect(l, slot, cfg.conns + l->id + (long)cfg.loops * l->reopens++, 1);
}

/* Open connection number k (its pattern's seed, its source address) into
 * slot `slot` of this loop's share. The connect's start time waits in the
 * slot's first sent[] entry: no request is in flight before it is up. */
static void storm_retry(struct loop *l, uint32_t slot);

static int conn_connect(struct loop *l, uint32_t slot, long k, int fresh)
{
	uint32_t nsrc = cfg.src_last - cfg.src_first + 1;
	uint32_t src = cfg.src_first ? cfg.src_first + (uint32_t)(k % nsrc) : 0;
	struct epoll_event ev = { .events = EPOLLOUT };
	int fd = net_connect_nb(&cfg.dst, src);

	if (fd < 0 || fd >= l->cap) {
		if (fd >= 0)
			close(fd);
		if (fresh == 2) {	/* a storm's (or -X's) reconnect: try again later */
			storm_retry(l, slot);
			return -1;
		}
		if (atomic_fetch_add(&l->m->failed, 1) == 0)
			warnx_("loop %d: connect from %s:", l->id,
			       inet_ntoa((struct in_addr){ htonl(src) }));
		return -1;
	}
	if (cfg.conns >= LINGER0_FROM || cfg.rst)
		net_set_linger0(fd);	/* close() leaves no TIME_WAIT behind */
	ev.data.fd = fd;
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		die("epoll_ctl:");
	memset(&l->conns[fd], 0, sizeof(l->conns[fd]));
	l->conns[fd].id = (uint32_t)k;
	l->conns[fd].slot = slot;
	l->conns[fd].fresh = (uint8_t)(fresh != 0);
	l->conns[fd].storm = (uint8_t)(fresh == 2);
	l->conns[fd].answered = (uint8_t)fresh;	/* no part of the first round */
	l->conns[fd].state = C_CONNECTING;
	if (l->push)	/* a new connection: its pushes count from 1 */
		memset(&l->push[fd], 0, sizeof(l->push[fd]));
	l->sent[(uint64_t)slot * cfg.ring] = clock_ns();
	l->inflight++;
	return 0;
}

/* The ramp's next connection. */
static int conn_open(struct loop *l)
{
	long i = l->opened++;

	return conn_connect(l, (uint32_t)i, l->first + i, 0);
}

/*
 * Rate mode: free request slots wait their turn, oldest first; a
 * connection has -q of them. A slot of a connection since closed (-x,
 * --storm, lost) is stale: its fd may hold a later connection, so each
 * slot carries its connection's id. A full FIFO drops its stale slots.
 */
static int idle_stale(const struct loop *l, struct idle_slot e)
{
	const struct conn *c = &l->conns[e.fd];

	return (c->state != C_IDLE && c->state != C_BUSY) || c->id != e.id;
}

static void idle_push(struct loop *l, int fd)
{
	if (l->idle_len == l->idle_cap) {	/* compact: keep the live slots, in order */
		long n = 0;

		for (long i = 0; i < l->idle_len; i++) {
			struct idle_slot e = l->idle[(l->idle_head + i) % l->idle_cap];

			if (!idle_stale(l, e))
				l->idle[(l->idle_head + n++) % l->idle_cap] = e;
		}
		l->idle_len = n;
	}
	if (l->idle_len < l->idle_cap)
		l->idle[(l->idle_head + l->idle_len++) % l->idle_cap] =
			(struct idle_slot){ fd, l->conns[fd].id };
}

/* The oldest slot whose connection can take a request now, or -1. A slot
 * of a connection busy with -q requests (heartbeats count too) or at its
 * -x lifetime goes back to the tail. */
static int idle_pop(struct loop *l)
{
	for (long n = l->idle_len; n > 0 && l->idle_len; n--) {
		struct idle_slot e = l->idle[l->idle_head];
		struct conn *c = &l->conns[e.fd];

		l->idle_head = (l->idle_head + 1) % l->idle_cap;
		l->idle_len--;
		if (idle_stale(l, e))
			continue;	/* it closed while it waited */
		if (c->issued - c->replied < cfg.depth && (!cfg.lifetime || c->issued < cfg.lifetime))
			return e.fd;
		l->idle[(l->idle_head + l->idle_len++) % l->idle_cap] = e;
	}
	return -1;
}

static void on_connected(struct loop *l, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
	struct conn *c = &l->conns[fd];
	int refused = net_connect_result(fd) < 0;	/* (reading SO_ERROR clears it) */

	l->inflight--;
	if (refused && c->storm) {
		c->state = C_FREE;
		close(fd);
		storm_retry(l, c->slot);
		return;
	}
	if (refused) {
		if (atomic_fetch_add(&l->m->failed, 1) == 0)
			warnx_("loop %d: connect:", l->id);
		l->conns[fd].state = C_FREE;
		close(fd);
		return;
	}
	epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev);
	c->state = C_IDLE;
	l->last_reply = clock_ns();	/* progress, for the drain */
	if (l->slot_fd)
		l->slot_fd[c->slot] = fd;
	hist_record(&l->m->connect, clock_ns() - l->sent[(uint64_t)c->slot * cfg.ring]);
	atomic_fetch_add_explicit(c->fresh ? &l->m->reopened : &l->m->connected, 1,
				  memory_order_relaxed);
	atomic_fetch_add_explicit(&l->m->live, 1, memory_order_relaxed);
	if (!c->fresh)
		atomic_fetch_add_explicit(&l->m->awaiting_first, 1, memory_order_relaxed);
	if (l->push)	/* silent until its first push */
		atomic_fetch_add_explicit(&l->m->push_silent, 1, memory_order_relaxed);
	if (cfg.rate > 0)
		for (uint32_t i = 0; i < cfg.depth; i++)
			idle_push(l, fd);
	else if (c->fresh && cfg.heartbeat == 0 &&
		 !atomic_load_explicit(&stopping, memory_order_relaxed)) {
		for (uint32_t i = 0; i < cfg.depth && (!cfg.lifetime || i < cfg.lifetime); i++)
			conn_issue(l, c, clock_ns());	/* a replacement starts at once */
		conn_flush(l, fd);
	} else if (c->storm && cfg.heartbeat > 0 &&
		   !atomic_load_explicit(&stopping, memory_order_relaxed)) {
		conn_issue(l, c, clock_ns());	/* a reconnect says hello at once */
		conn_flush(l, fd);
	}
}

/* The bytes still to write, from request `written` byte `wrote` on, into
 * buf: as many requests as fit. Returns how many. */
static size_t conn_fill(struct loop *l, struct conn *c, uint8_t *buf, size_t cap)
{
	uint32_t k = c->written, at = c->wrote;
	size_t len = 0;

	while (k != c->issued && len < cap) {
		size_t n;

		if (at < FRAME_SIZE) {		/* the timestamp */
			uint64_t be = htobe64(*sent_slot(l, c, k));

			n = FRAME_SIZE - at < cap - len ? FRAME_SIZE - at : cap - len;
			memcpy(buf + len, (uint8_t *)&be + at, n);
		} else {			/* the pattern */
			n = cfg.size - at < cap - len ? cfg.size - at : cap - len;
			pattern(c->id, k, at, buf + len, NULL, n);
		}
		len += n;
		at += (uint32_t)n;
		if (at == cfg.size) {
			k++;
			at = 0;
		}
	}
	return len;
}

/*
 * Write what is issued and not yet written; wait for EPOLLOUT if the
 * socket takes less. Returns -1 if the connection is gone.
 */
static int conn_flush(struct loop *l, int fd)
{
	struct conn *c = &l->conns[fd];
	struct epoll_event ev = { .data.fd = fd };

	while (c->written != c->issued) {
		size_t len = conn_fill(l, c, l->buf, sizeof(l->buf));
		ssize_t n = send(fd, l->buf, len, MSG_NOSIGNAL);

		if (n > 0) {
			atomic_fetch_add_explicit(&l->m->bytes_out, n, memory_order_relaxed);
			for (size_t left = (size_t)n; left;) {	/* advance over whole requests */
				size_t take = cfg.size - c->wrote < left ? cfg.size - c->wrote : left;

				c->wrote += (uint32_t)take;
				left -= take;
				if (c->wrote == cfg.size) {
					c->written++;
					c->wrote = 0;
				}
			}
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == EAGAIN) {
			if (!c->watch_out) {
				ev.events = EPOLLIN | EPOLLOUT;
				epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev);
				c->watch_out = 1;
			}
			return 0;
		} else {
			conn_lost(l, fd);
			return -1;
		}
	}
	if (c->watch_out) {	/* all written: stop watching for room */
		ev.events = EPOLLIN;
		epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev);
		c->watch_out = 0;
	}
	return 0;
}

/* Put a request on the connection, stamped with its time (now, or when
 * the schedule said): its latency counts from then. conn_flush sends it. */
static void conn_issue(struct loop *l, struct conn *c, uint64_t at)
{
	*sent_slot(l, c, c->issued) = at;
	c->issued++;
	c->state = C_BUSY;
	l->busy++;
	atomic_fetch_add_explicit(&l->m->requests, 1, memory_order_relaxed);
}

/* Reply `replied` is all back: its timestamp checked here, its pattern
 * as it came (c->bad). Record the latency; free the slot. */
static void on_reply(struct loop *l, int fd, struct conn *c, uint64_t now)
{
	uint64_t sent = *sent_slot(l, c, c->replied);
	uint64_t be = htobe64(sent);

	if (c->bad || memcmp(c->reply, &be, FRAME_SIZE) != 0)
		atomic_fetch_add_explicit(&l->m->mismatches, 1, memory_order_relaxed);
	else
		meter_record(l->m, now - sent);
	atomic_fetch_add_explicit(&l->m->round_trips, 1, memory_order_relaxed);
	if (!c->answered) {
		c->answered = 1;
		atomic_fetch_sub_explicit(&l->m->awaiting_first, 1, memory_order_relaxed);
	}
	if (c->storm) {		/* back from the storm (or -X's restart), and answered */
		c->storm = 0;
		atomic_fetch_add_explicit(cfg.reconnect ? &l->m->restart_back : &l->m->storm_back,
					  1, memory_order_relaxed);
		l->last_back = now;
		l->tries[c->slot] = 0;	/* a later drop backs off from the start */
	}
	if (cfg.rate > 0 && !(l->hb_req && l->hb_req[(uint64_t)c->slot * cfg.ring +
						       c->replied % cfg.ring]))
		idle_push(l, fd);	/* rate mode: its slot is free again */
	c->replied++;
	c->got = 0;
	c->bad = 0;
	l->busy--;
	if (c->issued == c->replied)
		c->state = C_IDLE;
	l->last_reply = now;
}

/* Match the bytes read against the replies due, in order; each complete
 * one is a round trip. Returns how many completed. */
static uint32_t conn_consume(struct loop *l, int fd, const uint8_t *p, size_t n, uint64_t now)
{
	struct conn *c = &l->conns[fd];
	uint32_t done = 0;

	while (n) {
		size_t take;

		if (c->got < FRAME_SIZE) {	/* the timestamp: checked whole */
			take = FRAME_SIZE - c->got < n ? FRAME_SIZE - c->got : n;
			memcpy(c->reply + c->got, p, take);
		} else {
			take = cfg.size - c->got < n ? cfg.size - c->got : n;
			if (!c->bad && pattern(c->id, c->replied, c->got, NULL, p, take))
				c->bad = 1;
		}
		c->got += (uint32_t)take;
		p += take;
		n -= take;
		if (c->got == cfg.size) {
			on_reply(l, fd, c, now);
			done++;
		}
	}
	return done;
}

/*
 * -x: the connection has had its round trips. Close it (a FIN, or with -R
 * an RST) and open its replacement in the same slot, so -n stay open; the
 * replacement's connect is timed like the ramp's (connect_lat_us).
 */
static void conn_churn(struct loop *l, int fd)
{
	uint32_t slot = l->conns[fd].slot;

	atomic_fetch_add_explicit(&l->m->churned, 1, memory_order_relaxed);
	conn_close(l, fd, 0);
	/* No second look at `stopping`: the caller looked before the close, and
	 * a stop between the two would leave a churned slot never reopened. A
	 * connect this late is one of the connects in flight the stop waits for. */
	conn_connect(l, slot, cfg.conns + l->id + (long)cfg.loops * l->reopens++, 1);
}

static void on_replies(struct loop *l, int fd, uint32_t done);

static void on_readable(struct loop *l, int fd)
{
	struct conn *c = &l->conns[fd];
	/* What the server can owe us: bytes written, less bytes read back. */
	uint64_t owed = (uint64_t)(c->written - c->replied) * cfg.size + c->wrote - c->got;
	uint32_t done;
	ssize_t n;

	if (c->state != C_BUSY || owed == 0) {
		/* Bytes nobody asked for: a broken server. Count, drain. */
		n = recv(fd, l->buf, 256, 0);
		if (n > 0)
			atomic_fetch_add_explicit(&l->m->mismatches, 1, memory_order_relaxed);
		else if (n == 0 || (errno != EAGAIN && errno != EINTR))
			conn_lost(l, fd);
		return;
	}
	n = recv(fd, l->buf, owed < sizeof(l->buf) ? owed : sizeof(l->buf), 0);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		conn_lost(l, fd);
		return;
	}
	if (n < 0)
		return;
	atomic_fetch_add_explicit(&l->m->bytes_in, n, memory_order_relaxed);
	done = conn_consume(l, fd, l->buf, (size_t)n, clock_ns());
	on_replies(l, fd, done);
}

/* `done` replies came whole: churn, or send the next requests. */
static void on_replies(struct loop *l, int fd, uint32_t done)
{
	struct conn *c = &l->conns[fd];

	if (!done)
		return;
	if (cfg.lifetime && c->replied == cfg.lifetime) {
		if (!atomic_load_explicit(&stopping, memory_order_relaxed))
			conn_churn(l, fd);	/* at the stop it stays open, done */
		return;
	}
	if (cfg.rate > 0 || cfg.heartbeat > 0)
		return;		/* the schedules send the next (on_reply freed its slot) */
	if (atomic_load_explicit(&stopping, memory_order_relaxed))
		return;
	while (done-- && (!cfg.lifetime || c->issued != cfg.lifetime))
		conn_issue(l, c, clock_ns());	/* closed loop: one new request a reply */
	conn_flush(l, fd);
}

/* ---- push modes: every push read, checked and timed ---- */

/* A tally leaves the open ones for fan_done (main reads it after join). */
static void fan_out(struct loop *l, struct fan *f)
{
	if (!f->count)
		return;
	if (l->fan_n == l->fan_cap) {
		long cap = l->fan_cap ? 2 * l->fan_cap : 64;
		struct fan *d = cap <= FAN_DONE_MAX ?
			realloc(l->fan_done, (size_t)cap * sizeof(*d)) : NULL;

		if (!d) {
			l->fan_dropped++;	/* main counts it incomplete */
			f->count = 0;
			return;
		}
		l->fan_done = d;
		l->fan_cap = cap;
	}
	l->fan_done[l->fan_n++] = *f;
	f->count = 0;
}

/*
 * Fan-out: a push scheduled at `sched` came whole at `wall`. A broadcast's
 * pushes share their scheduled time, so each loop tallies, per scheduled
 * time, how many of its connections got it and when the last did. It
 * keeps FAN_OPEN tallies open; a new time pushes the oldest out to
 * fan_done. main adds the tallies of every loop by scheduled time (a time
 * tallied twice on one loop adds up the same), with no lock here.
 */
static void fan_tally(struct loop *l, uint64_t sched, uint64_t wall)
{
	struct fan *f = NULL, *oldest = &l->fan_open[0];

	for (int i = 0; i < FAN_OPEN && !f; i++) {
		struct fan *e = &l->fan_open[i];

		if (e->count && e->sched == sched)
			f = e;
		else if (!e->count ? oldest->count != 0 : oldest->count && e->sched < oldest->sched)
			oldest = e;	/* a free one, else the oldest */
	}
	if (!f) {
		fan_out(l, oldest);
		f = oldest;
		f->sched = sched;
		f->last = 0;
	}
	f->count++;
	if (wall > f->last)
		f->last = wall;
}

/* A push's header is in: its sequence must be the one due next. One past
 * it skips some (counted missing); one before it is a repeat or out of
 * order (a mismatch). -1: a length no push has. */
static int push_begin(struct loop *l, struct push_rx *px)
{
	size_t len;
	uint64_t seq, sched, want = px->next_seq ? px->next_seq : 1;

	if (push_header(px->hdr, &len, &seq, &sched) != 1)
		return -1;
	if (seq > want)
		atomic_fetch_add_explicit(&l->m->push_missing, (long)(seq - want),
					  memory_order_relaxed);
	if (seq < want) {
		px->bad = 1;
		return 0;
	}
	if (!px->next_seq)	/* its first push: no longer silent */
		atomic_fetch_sub_explicit(&l->m->push_silent, 1, memory_order_relaxed);
	px->next_seq = seq + 1;
	return 0;
}

/* A push came whole at `wall`: a mismatch, or its delivery latency (and
 * in the window, its fan-out tally). */
static void push_done(struct loop *l, struct push_rx *px, uint64_t wall)
{
	size_t len;
	uint64_t seq, sched;

	push_header(px->hdr, &len, &seq, &sched);
	if (px->bad)
		atomic_fetch_add_explicit(&l->m->push_mismatches, 1, memory_order_relaxed);
	else if (meter_push(l->m, wall > sched ? wall - sched : 0, len))
		fan_tally(l, sched, wall);
	px->got = 0;
	px->bad = 0;
}

/* Bytes of the push being read, from p: its header, then its body, each
 * byte checked (push_byte). Returns the bytes taken, or -1 on a bad header. */
static long push_take(struct loop *l, int fd, const uint8_t *p, size_t n, uint64_t wall)
{
	struct push_rx *px = &l->push[fd];
	size_t take = 0, len;
	uint64_t seq, sched;

	if (px->got < PUSH_HDR) {
		take = PUSH_HDR - px->got < n ? PUSH_HDR - px->got : n;
		memcpy(px->hdr + px->got, p, take);
		px->got += (uint32_t)take;
		if (px->got < PUSH_HDR)
			return (long)take;
		if (push_begin(l, px) < 0)
			return -1;
	}
	push_header(px->hdr, &len, &seq, &sched);
	for (; take < n && px->got < len; take++, px->got++)
		if (p[take] != push_byte(seq, px->got))
			px->bad = 1;
	if (px->got == len)
		push_done(l, px, wall);
	return (long)take;
}

/*
 * Push modes: read what came and split it at frame boundaries. A byte
 * with its top bit set where an echoed frame could start (c->got == 0)
 * begins a push (no timestamp has that bit); any other byte belongs to
 * the echo (--push-echo), checked as on_readable checks it. A push with a
 * length no push has, or echo bytes nobody asked for, leave a stream that
 * cannot be followed: counted, and that connection alone is closed.
 */
static void push_readable(struct loop *l, int fd)
{
	struct conn *c = &l->conns[fd];
	ssize_t n = recv(fd, l->buf, sizeof(l->buf), 0);
	uint64_t now, wall;
	uint32_t done = 0;
	size_t at = 0;

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		conn_lost(l, fd);
		return;
	}
	if (n < 0)
		return;
	atomic_fetch_add_explicit(&l->m->bytes_in, n, memory_order_relaxed);
	now = clock_ns();
	wall = clock_wall_ns();
	while (at < (size_t)n) {
		uint64_t owed = (uint64_t)(c->written - c->replied) * cfg.size + c->wrote - c->got;
		size_t left = (size_t)n - at;
		long take;

		if (l->push[fd].got || (c->got == 0 && (l->buf[at] & 0x80))) {
			take = push_take(l, fd, l->buf + at, left, wall);
			if (take < 0) {
				atomic_fetch_add_explicit(&l->m->push_mismatches, 1, memory_order_relaxed);
				conn_lost(l, fd);
				return;
			}
		} else if (c->state == C_BUSY && owed) {
			take = (long)(FRAME_SIZE - c->got < left ? FRAME_SIZE - c->got : left);
			take = (uint64_t)take < owed ? take : (long)owed;
			done += conn_consume(l, fd, l->buf + at, (size_t)take, now);
		} else {
			atomic_fetch_add_explicit(&l->m->mismatches, 1, memory_order_relaxed);
			conn_lost(l, fd);
			return;
		}
		at += (size_t)take;
	}
	on_replies(l, fd, done);
}

static void on_event(struct loop *l, int fd, uint32_t events)
{
	struct conn *c = &l->conns[fd];

	if (c->state == C_CONNECTING) {
		on_connected(l, fd);
		return;
	}
	if ((events & EPOLLOUT) && c->state == C_BUSY && conn_flush(l, fd) < 0)
		return;
	if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && c->state != C_FREE)
		(cfg.push ? push_readable : on_readable)(l, fd);
}

/* ---- the loop ---- */

/*
 * Rate mode: the schedule spreads -r over the loops, request k of loop i
 * of L falling due at go + (k * L + i) / RATE.
 */
static uint64_t due_at(struct loop *l, uint64_t k)
{
	return go_ns + (uint64_t)(((double)k * cfg.loops + l->id) * 1e9 / cfg.rate);
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
		meter_send_lag(l->m, now - due);
		if (now - due > LATE_NS)
			atomic_fetch_add_explicit(&l->m->late, 1, memory_order_relaxed);
		conn_issue(l, &l->conns[fd], due);
		if (l->hb_req)
			l->hb_req[(uint64_t)l->conns[fd].slot * cfg.ring +
				  (l->conns[fd].issued - 1) % cfg.ring] = 0;
		l->rate_sent++;
		conn_flush(l, fd);
	}
}

/*
 * -H: every connection sends one request every SEC (with -r, one more
 * than -q may be in flight: a heartbeat goes on top of the rate's). Slot i of the -n
 * (over all loops) is due at go + (i / n + r) SEC in round r: the phases
 * spread evenly, as a million phones' or sensors' keep-alives do, and in
 * slot order, so each loop walks its share in turn. Each request is
 * stamped with its due time (its latency counts from then); one that finds
 * its connection gone or still holding -q requests is dropped and counted.
 * Returns the ns until the next is due.
 */
static int64_t heartbeats_due(struct loop *l, uint64_t now)
{
	for (;;) {
		uint64_t due = go_ns + (uint64_t)(((double)(l->first + l->hb_slot) / cfg.conns +
						   (double)l->hb_round) * cfg.heartbeat * 1e9);
		int fd = l->slot_fd[l->hb_slot];

		if (due > now)
			return (int64_t)(due - now);
		if (fd >= 0 && l->conns[fd].issued - l->conns[fd].replied < cfg.ring &&
		    (!cfg.lifetime || l->conns[fd].issued < cfg.lifetime)) {
			meter_send_lag(l->m, now - due);
			if (now - due > LATE_NS)
				atomic_fetch_add_explicit(&l->m->late, 1, memory_order_relaxed);
			conn_issue(l, &l->conns[fd], due);
			if (l->hb_req)	/* its reply frees no rate slot */
				l->hb_req[(uint64_t)l->hb_slot * cfg.ring +
					  (l->conns[fd].issued - 1) % cfg.ring] = 1;
			conn_flush(l, fd);
		} else {
			atomic_fetch_add_explicit(&l->m->dropped, 1, memory_order_relaxed);
		}
		if (++l->hb_slot == l->count) {
			l->hb_slot = 0;
			l->hb_round++;
		}
	}
}

/* A slot starts waiting for its retry_at: into the wheel's bucket of that ms. */
static void retry_add(struct loop *l, uint32_t slot)
{
	uint32_t *b = &l->retry_wheel[l->retry_at[slot] / 1000000 % RETRY_WHEEL];

	l->retry_next[slot] = *b;
	*b = slot + 1;
}

/*
 * --storm PCT@SEC: at main's word, drop PCT% of this loop's connections at
 * once with an RST (slot g of -n is one if floor((g + 1) PCT / 100) >
 * floor(g PCT / 100): evenly spread, floor(n PCT / 100) in all), and
 * reconnect each at once. A reconnect that fails is tried again after an
 * exponential backoff with jitter, as real clients do: 10 ms << tries,
 * at most 1 s, times 0.5..1.5. Requests in flight on a dropped connection
 * are abandoned (counted, not errors).
 */
static void storm_retry(struct loop *l, uint32_t slot)
{
	uint64_t base = 10000000ull << (l->tries[slot] < 7 ? l->tries[slot] : 7);
	double jitter;

	if (base > 1000000000ull)
		base = 1000000000ull;
	l->rng ^= l->rng << 13;		/* xorshift64 */
	l->rng ^= l->rng >> 7;
	l->rng ^= l->rng << 17;
	jitter = 0.5 + (double)(l->rng >> 11) / (double)(1ull << 53);
	if (l->tries[slot] < 255)
		l->tries[slot]++;
	l->retry_at[slot] = clock_ns() + (uint64_t)((double)base * jitter);
	l->retrying++;		/* (a slot waiting has no connect to fail) */
	retry_add(l, slot);
	atomic_fetch_add_explicit(cfg.reconnect ? &l->m->restart_retries : &l->m->storm_retries,
				  1, memory_order_relaxed);
}

static long storm_next_id(struct loop *l)
{
	return cfg.conns + l->id + (long)cfg.loops * l->reopens++;
}

/*
 * -X: the server closed or reset the connection (a restart, say). Count
 * it, once until it is back and answered; abandon its requests in flight
 * (counted, not errors); and reconnect its slot at once, a refused connect
 * backing off as a storm's does (storm_retry()). Returns -1 at the stop:
 * then it is lost.
 */
static int restart_lost(struct loop *l, int fd)
{
	struct conn *c = &l->conns[fd];
	uint32_t slot = c->slot;

	if (atomic_load_explicit(&stopping, memory_order_relaxed))
		return -1;
	atomic_fetch_add_explicit(&l->m->abandoned, (long)(c->issued - c->replied),
				  memory_order_relaxed);
	if (!c->storm) {	/* not a reconnect dropped again before its answer */
		atomic_fetch_add_explicit(&l->m->restart_dropped, 1, memory_order_relaxed);
		if (!l->first_drop)
			l->first_drop = clock_ns();
	}
	conn_close(l, fd, 0);
	conn_connect(l, slot, storm_next_id(l), 2);
	return 0;
}

static void retry_step(struct loop *l, uint64_t now);

static void storm_step(struct loop *l, uint64_t now)
{
	if (cfg.storm_pct && !l->storm_done && atomic_load_explicit(&storm_go, memory_order_acquire)) {
		l->storm_done = 1;
		for (int fd = 0; fd < l->cap; fd++) {
			struct conn *c = &l->conns[fd];
			uint64_t g = (uint64_t)l->first + c->slot;

			if ((c->state != C_IDLE && c->state != C_BUSY) ||
			    (g + 1) * (uint64_t)cfg.storm_pct / 100 == g * (uint64_t)cfg.storm_pct / 100)
				continue;
			atomic_fetch_add_explicit(&l->m->abandoned, (long)(c->issued - c->replied),
						  memory_order_relaxed);
			atomic_fetch_add_explicit(&l->m->storm_dropped, 1, memory_order_relaxed);
			net_set_linger0(fd);
			{
				uint32_t slot = c->slot;

				conn_close(l, fd, 0);
				conn_connect(l, slot, storm_next_id(l), 2);
			}
		}
	}
	retry_step(l, now);
}

/* The reconnects whose backoff is over (--storm's and -X's), to the ms:
 * try again. Each ms's bucket is looked at once; a slot in it due a
 * revolution later goes back in. */
static void retry_step(struct loop *l, uint64_t now)
{
	uint64_t now_ms = now / 1000000;

	for (int n = 0; l->retrying && l->retry_ms <= now_ms && n < RETRY_WHEEL; n++) {
		uint32_t *b = &l->retry_wheel[l->retry_ms++ % RETRY_WHEEL], s = *b;

		*b = 0;
		while (s) {
			uint32_t slot = s - 1;

			s = l->retry_next[slot];
			if (l->retry_at[slot] / 1000000 > now_ms) {
				retry_add(l, slot);	/* a later revolution's */
				continue;
			}
			l->retry_at[slot] = 0;
			l->retrying--;
			conn_connect(l, slot, storm_next_id(l), 2);
		}
	}
	if (!l->retrying || l->retry_ms <= now_ms)
		l->retry_ms = now_ms + 1;	/* none waiting, or every bucket seen */
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
				atomic_fetch_add(&l->m->failed, 1);
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
 * Closed loop: put the first -q requests on every connection, START_BATCH
 * connections at a time between rounds of epoll_wait, so the replies to the first ones are
 * read while the rest go out. (Sending 20,000 at once keeps every loop from
 * reading anything for seconds at 1M connections: the loops share the
 * cores, so they all finish late, together.) Each reply in a turn sends its
 * next request at once, so the batch sets how many of a turn's sends are
 * new: with 256 against up to MAX_EVENTS replies, a third, and every one of
 * 1M connections was busy only after 75-87 s; with 2048, 51 s. Returns 1
 * when done.
 */
static int start_step(struct loop *l)
{
	int sent = 0;

	if (cfg.rate > 0 || cfg.heartbeat > 0 || cfg.push == PUSH_ONLY || atomic_load(&stopping))
		return 1;
	for (; l->start_fd < l->cap && sent < START_BATCH; l->start_fd++)
		if (l->conns[l->start_fd].state == C_IDLE) {
			for (uint32_t i = 0; i < cfg.depth && (!cfg.lifetime || i < cfg.lifetime); i++)
				conn_issue(l, &l->conns[l->start_fd], clock_ns());
			conn_flush(l, (int)l->start_fd);
			sent++;
		}
	return l->start_fd == l->cap;
}

static void *loop_run(void *arg)
{
	struct loop *l = arg;
	struct epoll_event ev[MAX_EVENTS];
	uint64_t last_progress = clock_ns();
	int64_t wait_ns = IDLE_WAIT_NS;	/* rate mode: until the next send is due */
	int started = 0, starting = 0, draining = 0;

	if (cfg.private_tables && fd_private_table() < 0)
		die("loop %d: unshare(CLONE_FILES):", l->id);
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	if (l->ep < 0)
		die("epoll_create1:");
	for (;;) {
		struct timespec ts = { 0, starting ? 0 : wait_ns };
		int n = epoll_pwait2(l->ep, ev, MAX_EVENTS, &ts, NULL);	/* ns timeout */
		uint64_t now;

		if (n < 0 && errno != EINTR)
			die("epoll_pwait2:");
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
			/* Drain: wait for the replies and the connects (-x) in
			 * flight, and give up on them once none has come for
			 * DRAIN_S. */
			if (!draining) {
				draining = 1;
				l->last_reply = now;
			}
			if ((l->busy == 0 && l->inflight == 0) ||
			    (now - l->last_reply) / 1e9 > DRAIN_S)
				break;
		} else if (started && (cfg.rate > 0 || cfg.heartbeat > 0)) {
			int64_t next = cfg.rate > 0 ? send_due(l, now) : -1;

			wait_ns = next >= 0 && next < IDLE_WAIT_NS ? next : IDLE_WAIT_NS;
			if (cfg.heartbeat > 0) {	/* both: the sooner */
				next = heartbeats_due(l, now);
				wait_ns = next < wait_ns ? next : wait_ns;
			}
		}
		if (started && (cfg.storm_pct || cfg.reconnect) &&
		    !atomic_load_explicit(&stopping, memory_order_relaxed)) {
			storm_step(l, now);
			if (l->retrying && wait_ns > 1000000)
				wait_ns = 1000000;	/* retries are due to the ms */
		}
		meter_publish(l->m, now);
	}
	meter_publish(l->m, UINT64_MAX);	/* the last latencies */
	/* Hold every connection until all loops have drained: closing early
	 * would free fds on a full server, which could then take another
	 * loop's waiting connections and hide that it cannot hold them all. */
	pthread_barrier_wait(&drained);
	for (int fd = 0; fd < l->cap; fd++)
		if (l->conns[fd].state != C_FREE)
			close(fd);
	close(l->ep);
	return NULL;
}

/* ---- the main thread: options, sizing, the schedule, the result ---- */

/*
 * Every option, once: getopt's string, the synopsis, -h and the error on a
 * bad value all come from this table, so no client's usage can drift from
 * what it parses. A help text's "%s" is the option's default for this
 * design (opt_default); a '\n' in it starts an indented line.
 */
struct opt {
	int flag;		/* a letter, or OPT_STORM &c. for a long-only option */
	const char *arg;	/* NULL: a switch */
	const char *help;
};
enum { OPT_STORM = 256, OPT_PUSH, OPT_PUSH_ECHO };	/* long-only: a code past any letter */
static const struct opt opts[] = {
	{ 'a', "ADDR", "server address (default %s)" },
	{ 'p', "PORT", "server port (default %s)" },
	{ 'n', "CONNS", "connections to hold (default %s)" },
	{ 'c', "LOOPS", "epoll loop threads, each with its own fd table\n"
			"(default: as few as the fd limit allows%s)" },
	{ 'd', "SEC", "measuring time (default 10); it opens once every connection\n"
		      "has had a reply (closed loop; at 1M that takes ~15 s), then -W" },
	{ 'W', "SEC", "warm-up before it: load runs, nothing is counted (default 0)" },
	{ 'r', "RATE", "requests/s over all connections, to idle ones in turn, each\n"
		       "timed from when the schedule said to send it (a request waits\n"
		       "up to %s s for a free connection, then is dropped and counted);\n"
		       "0 = every connection ping-pongs as fast as it can (default %s)" },
	{ 'q', "DEPTH", "requests in flight per connection, up to %s; replies are\n"
			"matched in order (default 1: the next goes after the reply)" },
	{ 'l', "BYTES", "bytes a request (and its reply), 8..1M; a K or M suffix is KiB,\n"
			"MiB (default 8): the 8-byte send time, then a pattern drawn\n"
			"from (connection, request), so every reply byte is checked" },
	{ 'H', "SEC", "heartbeats: every connection sends one request every SEC, the\n"
		      "phases spread evenly over SEC, each timed from when it was\n"
		      "due; -r adds its requests on top (default 0 = off)" },
	{ 'x', "LIFETIME", "churn: after LIFETIME round trips close the connection and\n"
			   "open another in its place (1 = a connection a request, as\n"
			   "neper's tcp_crr; default 0 = never)" },
	{ 'R', NULL, "close with an RST (SO_LINGER 0), leaving no TIME_WAIT; without\n"
		     "it a churned connection closes with a FIN (-n >= %s: always RST)" },
	{ 's', "FIRST[-LAST]", "source addresses to bind, round-robin (default:\n"
			       "one 127.0.0.x per %s connections when ADDR is loopback)" },
	{ 'i', "SEC", "progress and stats interval on stderr (default 5)" },
	{ 'P', "PID", "the server's process: send it SIGUSR1 as the window opens and\n"
		      "closes, so it counts its CPU and requests over the same window" },
	{ 'B', NULL, "start barrier (run.sh --hosts): after the first round, say\n"
		     "\"barrier: ready ...\" on stderr and, load running, wait for a\n"
		     "line \"go\" on stdin, then -W and -d. stdin closed before\n"
		     "\"go\": stop, exit 1; closed later: stop as on SIGTERM" },
	{ OPT_STORM, "PCT@SEC", "reconnect storm: SEC into the window, drop PCT%% of the\n"
				"connections at once (RST) and reconnect them, retrying with\n"
				"exponential backoff and jitter (PCT 1..100, SEC inside -d);\n"
				"under -H a reconnect sends one request at once (hello)" },
	{ OPT_PUSH, NULL, "push: hold -n connections and send nothing; check every push\n"
			  "the server sends (sequence 1, 2, 3 ... per connection, every\n"
			  "byte) and time its delivery from its scheduled time" },
	{ OPT_PUSH_ECHO, NULL, "push and ping-pong (-l 8) on the same connections: pushes\n"
			       "come between echoed frames, every byte of both checked" },
	{ 'X', NULL, "reconnect (a server restart): a connection the server closes or\n"
		     "resets comes back, a refused connect retried with --storm's\n"
		     "backoff and jitter; its requests in flight are abandoned, not\n"
		     "errors (not with -x or --storm)" },
	{ 'L', NULL, "print this client's limits as one JSON line, for run.sh" },
	{ 'h', NULL, "this help" },
};
#define NOPTS	(sizeof(opts) / sizeof(opts[0]))

/* A long-only option's name ("storm"), or NULL for a letter. */
static const char *opt_name(int flag)
{
	switch (flag) {
	case OPT_STORM: return "storm";
	case OPT_PUSH: return "push";
	case OPT_PUSH_ECHO: return "push-echo";
	}
	return NULL;
}

/* The values of an option's "%s"s (at most two), for this design. */
static void opt_default(int flag, char *a, char *b, size_t len)
{
	*a = *b = '\0';
	switch (flag) {
	case 'a': snprintf(a, len, "%s", C1M_ADDR); break;
	case 'p': snprintf(a, len, "%d", C1M_PORT); break;
	case 'n': snprintf(a, len, "%ld", D->conns); break;
	case 'c': snprintf(a, len, "%s", D->max_loops == 1 ? "; this design has one" : ""); break;
	case 'r': snprintf(a, len, "%d", QUEUE_S); snprintf(b, len, "%g", D->rate); break;
	case 's': snprintf(a, len, "%d", PER_SRC_ADDR); break;
	case 'q': snprintf(a, len, "%d", MAX_DEPTH); break;
	case 'R': snprintf(a, len, "%d", LINGER0_FROM); break;
	}
}

/* "usage: client [-a ADDR] ... [-h]" on one line, from the table. */
static const char *synopsis(void)
{
	static char buf[512];
	size_t n = (size_t)snprintf(buf, sizeof(buf), "usage: client");

	for (size_t i = 0; i < NOPTS && n < sizeof(buf); i++)
		n += opt_name(opts[i].flag) ?
			(size_t)snprintf(buf + n, sizeof(buf) - n, opts[i].arg ? " [--%s %s]" : " [--%s]",
					 opt_name(opts[i].flag), opts[i].arg) :
			(size_t)snprintf(buf + n, sizeof(buf) - n, opts[i].arg ? " [-%c %s]" : " [-%c]",
					 opts[i].flag, opts[i].arg);
	return buf;
}

static void usage(FILE *f)
{
	fprintf(f, "%s: %s\n\n%s\n\n", prog_name, D->summary, synopsis());
	for (size_t i = 0; i < NOPTS; i++) {
		char head[32], a[64], b[64], text[1024];
		const char *line = text;

		if (opt_name(opts[i].flag))
			snprintf(head, sizeof(head), opts[i].arg ? "--%s %s" : "--%s",
				 opt_name(opts[i].flag), opts[i].arg);
		else
			snprintf(head, sizeof(head), opts[i].arg ? "-%c %s" : "-%c", opts[i].flag,
				 opts[i].arg);
		opt_default(opts[i].flag, a, b, sizeof(a));
		snprintf(text, sizeof(text), opts[i].help, a, b);
		fprintf(f, strlen(head) < 10 ? "  %-10s" : "  %s\n            ", head);
		for (;;) {	/* continuation lines line up under the first */
			const char *nl = strchr(line, '\n');

			fprintf(f, "%.*s\n", nl ? (int)(nl - line) : (int)strlen(line), line);
			if (!nl)
				break;
			line = nl + 1;
			fprintf(f, "            ");
		}
	}
	fprintf(f, "\nPrints one JSON line on stdout; exits 0 only with no errors and no\n"
		   "mismatched replies (--push, --push-echo: and no push missing or\n"
		   "mismatched, nor a connection without any push once the window\n"
		   "held as many pushes as connections), 1 otherwise, 2 on bad usage.\n");
}

/* getopt's string, from the table: ":a:p:...BLh". */
static const char *optstring(void)
{
	static char buf[2 * NOPTS + 2];
	size_t n = 0;

	buf[n++] = ':';
	for (size_t i = 0; i < NOPTS; i++) {
		if (opt_name(opts[i].flag))
			continue;	/* long-only: longopts() */
		buf[n++] = (char)opts[i].flag;
		if (opts[i].arg)
			buf[n++] = ':';
	}
	buf[n] = '\0';
	return buf;
}

/* -l BYTES: a whole number, K or M for KiB or MiB, in 8..1 MiB. */
static uint32_t arg_size(int opt, const char *val)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(val, &end, 10);
	if (end != val && (*end == 'K' || *end == 'k'))
		v = v > MAX_SIZE ? v : v << 10, end++;
	else if (end != val && (*end == 'M' || *end == 'm'))
		v = v > MAX_SIZE ? v : v << 20, end++;
	if (errno || end == val || *end || *val == '-' || v < FRAME_SIZE || v > MAX_SIZE)
		arg_usage_error("-%c: '%s' is not a size in %d..%d bytes (K, M: KiB, MiB)",
				opt, val, FRAME_SIZE, MAX_SIZE);
	return (uint32_t)v;
}

/* getopt_long's table of the long-only options, from opts[]. */
static const struct option *longopts(void)
{
	static struct option lo[NOPTS + 1];
	size_t n = 0;

	for (size_t i = 0; i < NOPTS; i++)
		if (opt_name(opts[i].flag))
			lo[n++] = (struct option){ opt_name(opts[i].flag), opts[i].arg ? required_argument :
						   no_argument, NULL, opts[i].flag };
	return lo;
}

/* --storm PCT@SEC: 1 <= PCT <= 100, SEC inside the window (checked later). */
static void arg_storm(const char *val)
{
	char *end;

	errno = 0;
	cfg.storm_pct = strtol(val, &end, 10);
	if (errno || end == val || *end != '@' || cfg.storm_pct < 1 || cfg.storm_pct > 100)
		arg_usage_error("--storm: '%s' is not PCT@SEC with PCT in 1..100", val);
	cfg.storm_at = strtod(end + 1, &end);
	if (errno || *end || cfg.storm_at < 0 || cfg.storm_at != cfg.storm_at)
		arg_usage_error("--storm: '%s' is not PCT@SEC with SEC a number of seconds", val);
}

/* --push sends nothing, so no request shape applies; --push-echo finds
 * pushes between 8-byte frames, so -l stays 8. */
static void arg_push(void)
{
	const char *what = cfg.depth > 1 ? "-q" : cfg.size != FRAME_SIZE ? "-l" :
		cfg.rate > 0 ? "-r" : cfg.heartbeat > 0 ? "-H" : cfg.lifetime ? "-x" :
		cfg.storm_pct ? "--storm" : NULL;

	if (cfg.push == PUSH_ONLY && what)
		arg_usage_error("--push sends no requests: %s does not apply", what);
	if (cfg.push == PUSH_ECHO && cfg.size != FRAME_SIZE)
		arg_usage_error("--push-echo: -l %u: pushes come between 8-byte frames; only -l 8",
				cfg.size);
}

static void parse(int argc, char **argv)
{
	const struct limits lim = { .design = D->design,
		.fd_tables = D->max_loops == 1 ? "one" : "many", .fd_reserve = FD_RESERVE,
		.max_loops = D->max_loops ? D->max_loops : 4096,
		.target = D->conns, .per_src = PER_SRC_ADDR, .rate = D->rate };
	int o, src_given = 0;

	cfg.conns = D->conns;
	cfg.loops = D->loops;
	cfg.rate = D->rate;
	/* No arg_synopsis: a bad value is one line (-h shows the synopsis). */
	while ((o = getopt_long(argc, argv, optstring(), longopts(), NULL)) != -1) {
		switch (o) {
		case 'a': arg_ipv4(o, optarg); cfg.addr = optarg; break;
		case 'p': cfg.port = (int)arg_long(o, optarg, 1, 65535); break;
		case 'n': cfg.conns = arg_long(o, optarg, 1, 100000000); break;
		case 'c': cfg.loops = (int)arg_long(o, optarg, 1, 4096); break;
		case 'd': cfg.duration = arg_seconds(o, optarg, 1e7); break;
		case 'W': cfg.warmup = arg_seconds(o, optarg, 1e6); break;
		case 'r': cfg.rate = arg_seconds(o, optarg, 1e9); break;
		case 'q': cfg.depth = (uint32_t)arg_long(o, optarg, 1, MAX_DEPTH); break;
		case 'l': cfg.size = arg_size(o, optarg); break;
		case 'x': cfg.lifetime = (uint32_t)arg_long(o, optarg, 0, 1L << 30); break;
		case 'R': cfg.rst = 1; break;
		case OPT_STORM: arg_storm(optarg); break;
		case OPT_PUSH:
		case OPT_PUSH_ECHO:
			if (cfg.push && cfg.push != (o == OPT_PUSH ? PUSH_ONLY : PUSH_ECHO))
				arg_usage_error("--push and --push-echo: choose one");
			cfg.push = o == OPT_PUSH ? PUSH_ONLY : PUSH_ECHO;
			break;
		case 'X': cfg.reconnect = 1; break;
		case 'H':
			cfg.heartbeat = arg_seconds(o, optarg, 86400);
			if (cfg.heartbeat < 1e-3)
				arg_usage_error("-H: '%s': at least 0.001 s between heartbeats", optarg);
			break;
		case 's':
			arg_ipv4_range(o, optarg, &cfg.src_first, &cfg.src_last);
			src_given = 1;
			break;
		case 'i': cfg.interval = arg_seconds(o, optarg, 1e6); break;
		case 'P': cfg.server_pid = (pid_t)arg_long(o, optarg, 1, 1 << 22); break;
		case 'B': cfg.barrier = 1; break;
		case 'L': limits_print(&lim);
		case 'h': usage(stdout); exit(0);
		case ':':
			if (optopt == OPT_STORM)
				arg_usage_error("--storm needs a value");
			arg_usage_error("-%c needs a value", optopt);
		default:
			if (optopt >= OPT_STORM)	/* a long switch given "=VALUE" */
				arg_usage_error("--%s takes no value", opt_name(optopt));
			if (optopt)
				arg_usage_error("unknown option -%c", optopt);
			arg_usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		arg_usage_error("unexpected argument '%s'", argv[optind]);
	if (cfg.server_pid && kill(cfg.server_pid, 0) < 0)
		arg_usage_error("-P %d: no such process to mark", (int)cfg.server_pid);
	if (cfg.interval < 0.1)
		arg_usage_error("-i: must be at least 0.1 s");
	arg_push();
	/* -H: a heartbeat may go on top of -r's requests, or of a hello */
	cfg.ring = cfg.depth + (cfg.heartbeat > 0 &&
				(cfg.rate > 0 || cfg.storm_pct || cfg.reconnect));
	if (cfg.storm_pct && cfg.storm_at >= cfg.duration)
		arg_usage_error("--storm %ld@%g: second %g is outside the %g s window (-d)",
				cfg.storm_pct, cfg.storm_at, cfg.storm_at, cfg.duration);
	if (cfg.reconnect && (cfg.lifetime || cfg.storm_pct))
		arg_usage_error("-X: reconnect does not combine with %s", cfg.lifetime ?
				"-x (churn replaces a closed connection already)" :
				"--storm (one drop at a time: the storm's or the server's)");
	if (cfg.reconnect && cfg.push)	/* a new server numbers its pushes from 1 again */
		arg_usage_error("-X: reconnect does not combine with --push or --push-echo yet");
	if (D->max_loops && cfg.loops > D->max_loops)
		arg_usage_error("-c: %s has %d loop(s)", D->design, D->max_loops);
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
	if (D->max_loops == 1 && cfg.conns > per)
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
			long n = meter_sum(meters, cfg.loops, connected);
			uint64_t now = clock_ns();

			fprintf(stderr, "ramp: %ld/%ld connected, %ld failed, %.0f conn/s\n",
				n, cfg.conns, meter_sum(meters, cfg.loops, failed),
				(n - last_n) / ((now - last) / 1e9));
			last = now;
			last_n = n;
		}
	}
	return (clock_ns() - t0) / 1e9;
}

/*
 * Closed loop: wait until every connection has had a reply. At 1M the
 * first round is a burst that takes seconds to clear, and a window opened
 * inside it measures neither the burst nor the steady rate. Rate mode does
 * not wait: the schedule, not the connections, sets its load. Returns the
 * seconds since the start line, or NAN (null in the JSON) in rate mode,
 * when stopped, or when given up: FIRST_STALL_S without a new first reply
 * (e.g. a server at its cap).
 */
static double first_round(void)
{
	uint64_t last = go_ns, moved = go_ns;
	long before = -1;

	while (cfg.rate == 0 && cfg.heartbeat == 0 && cfg.push != PUSH_ONLY &&
	       !atomic_load(&sig_stop)) {
		long left = meter_sum(meters, cfg.loops, awaiting_first);
		long live = meter_sum(meters, cfg.loops, live);
		uint64_t now = clock_ns();

		if (left == 0 && live > 0)
			return (now - go_ns) / 1e9;
		if (left != before) {
			before = left;
			moved = now;
		}
		if (live == 0 || (now - moved) / 1e9 > FIRST_STALL_S) {
			warnx_("%ld of %ld connections had no reply in %.1f s, none for the last %.0f s; "
			       "measuring anyway", left, live, (now - go_ns) / 1e9, FIRST_STALL_S);
			return NAN;
		}
		if ((now - last) / 1e9 >= cfg.interval) {
			fprintf(stderr, "first round: %ld of %ld connections answered\n",
				live - left, live);
			last = now;
		}
		sig_wait(0.01);
	}
	if (atomic_load(&sig_stop))
		atomic_store(&stopping, 1);
	return NAN;
}

/*
 * -B, the start barrier. Clients on several hosts (run.sh --hosts) must
 * open their windows together, so each one, its load running, says it is
 * ready and waits for a line "go" on stdin: run.sh is the coordinator and
 * writes it once every host is ready; the pipe (over ssh) is the barrier.
 * Returns 0 on "go". A signal stops the run; so does stdin closed, or any
 * other line, first: then -1 (exit 1, the window never opened).
 */
static int barrier(void)
{
	struct pollfd in = { .fd = STDIN_FILENO, .events = POLLIN };
	char line[64] = "", *nl = NULL;
	size_t len = 0;
	ssize_t n;

	fprintf(stderr, "barrier: ready %ld/%ld connections up; waiting for \"go\" on stdin\n",
		meter_sum(meters, cfg.loops, live), cfg.conns);
	while (!nl && len < sizeof(line) - 1) {
		if (sig_wait(0)) {
			atomic_store(&stopping, 1);
			return 0;
		}
		if (poll(&in, 1, 20) <= 0)	/* 20 ms, then look at signals again */
			continue;
		n = read(STDIN_FILENO, line + len, sizeof(line) - 1 - len);
		if (n == 0 || (n < 0 && errno != EINTR)) {
			warnx_("barrier: stdin closed before \"go\"; stopping");
			atomic_store(&stopping, 1);
			return -1;
		}
		len += n > 0 ? (size_t)n : 0;
		nl = memchr(line, '\n', len);
	}
	if (nl)
		*nl = '\0';
	if (strcmp(line, "go") == 0)
		return 0;
	warnx_("barrier: \"%s\" on stdin, not \"go\"; stopping", line);
	atomic_store(&stopping, 1);
	return -1;
}

/*
 * The waits of warm-up and the window: sig_wait(), and with -B stdin too.
 * EOF there after "go" means the coordinator (run.sh, or its ssh) is gone:
 * stop as SIGTERM would.
 */
static void nap(double s)
{
	struct pollfd in = { .fd = STDIN_FILENO, .events = POLLIN };
	char junk[64];
	ssize_t n;

	if (!cfg.barrier) {
		sig_wait(s);
		return;
	}
	if (poll(&in, 1, (int)(s * 1000)) > 0) {
		n = read(STDIN_FILENO, junk, sizeof(junk));
		if (n == 0 || (n < 0 && errno != EINTR)) {
			warnx_("barrier: stdin closed; stopping");
			atomic_store(&sig_stop, 1);
		}
	}
	sig_wait(0);
}

/* -W: let the load settle before the window opens. */
static void warm_up(void)
{
	uint64_t from = clock_ns();

	if (cfg.warmup <= 0)
		return;
	fprintf(stderr, "%s: warming up for %.0f s (not counted)\n", prog_name, cfg.warmup);
	for (;;) {
		double left = cfg.warmup - (clock_ns() - from) / 1e9;

		if (atomic_load(&sig_stop) || left <= 0)
			break;
		nap(left < 0.05 ? left : 0.05);	/* to the ms: hosts end it together */
	}
	if (atomic_load(&sig_stop))
		atomic_store(&stopping, 1);
}

/* The measuring window: -d seconds, a progress line every -i. */
static void measure(void)
{
	uint64_t start = clock_ns();

	while (!atomic_load(&sig_stop)) {
		uint64_t now = clock_ns();
		double left;

		if ((now - start) / 1e9 >= cfg.duration)
			break;
		if (meter_sum(meters, cfg.loops, live) == 0 && !cfg.lifetime && !cfg.reconnect) {
			warnx_("every connection is gone; stopping");
			break;
		}
		if (cfg.storm_pct && !atomic_load(&storm_go) && (now - start) / 1e9 >= cfg.storm_at) {
			storm_ns = now;
			atomic_store_explicit(&storm_go, 1, memory_order_release);
			fprintf(stderr, "%s: storm: dropping %ld%% of the connections\n", prog_name,
				cfg.storm_pct);
		}
		meter_tick(meters, cfg.loops, now);
		left = cfg.duration - (now - start) / 1e9;
		nap(left < 0.05 ? left : 0.05);	/* close on time, not up to 50 ms late */
	}
}

/* Each loop: its share of -n, its table's size, its meter; then go. */
static void start_loops(void)
{
	loops = calloc((size_t)cfg.loops, sizeof(*loops));
	meters = meter_new(cfg.loops);
	if (!loops)
		die("calloc:");
	if ((errno = pthread_barrier_init(&drained, NULL, (unsigned)cfg.loops)))
		die("pthread_barrier_init:");
	for (int i = 0; i < cfg.loops; i++) {
		struct loop *l = &loops[i];

		l->id = i;
		l->first = cfg.conns * i / cfg.loops;
		l->count = cfg.conns * (i + 1) / cfg.loops - l->first;
		l->cap = cfg.fd_limit;
		l->m = &meters[i];
		l->conns = calloc((size_t)l->cap, sizeof(*l->conns));
		l->sent = calloc((size_t)l->count * cfg.ring + 1, sizeof(*l->sent));
		l->idle_cap = cfg.rate > 0 ? 2 * l->count * cfg.depth + 1 : 0;
		l->idle = cfg.rate > 0 ? calloc((size_t)l->idle_cap, sizeof(*l->idle)) : NULL;
		l->hb_req = cfg.rate > 0 && cfg.heartbeat > 0 ?
			calloc((size_t)l->count * cfg.ring + 1, 1) : NULL;
		l->slot_fd = cfg.heartbeat > 0 ? malloc((size_t)l->count * sizeof(*l->slot_fd)) : NULL;
		for (long j = 0; l->slot_fd && j < l->count; j++)
			l->slot_fd[j] = -1;
		l->retry_at = cfg.storm_pct || cfg.reconnect ?
			calloc((size_t)l->count + 1, sizeof(*l->retry_at)) : NULL;
		l->tries = cfg.storm_pct || cfg.reconnect ? calloc((size_t)l->count + 1, 1) : NULL;
		l->retry_next = cfg.storm_pct || cfg.reconnect ?
			calloc((size_t)l->count + 1, sizeof(*l->retry_next)) : NULL;
		l->rng = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
		if (((cfg.storm_pct || cfg.reconnect) && (!l->retry_at || !l->tries || !l->retry_next)) ||
		    (cfg.rate > 0 && cfg.heartbeat > 0 && !l->hb_req) ||
		    !l->conns || !l->sent || (cfg.rate > 0 && !l->idle) ||
		    (cfg.heartbeat > 0 && !l->slot_fd))
			die("calloc %ld connections:", l->cap);
		l->push = cfg.push ? calloc((size_t)l->cap, sizeof(*l->push)) : NULL;
		if (cfg.push && !l->push)
			die("calloc %ld push states:", l->cap);
		if ((errno = pthread_create(&l->thread, NULL, loop_run, l)))
			die("pthread_create:");
	}
}

static int fan_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct fan *)a)->sched, y = ((const struct fan *)b)->sched;

	return x < y ? -1 : x > y;
}

/*
 * Push modes, after join: every loop's fan-out tallies, added up by
 * scheduled time. A time scheduled in the window (from `from` on) that
 * reached at least the `live` connections open as the window closed is
 * a broadcast: its fan-out is from its scheduled time to the last
 * connection's receipt, into h. Every other time counts as incomplete
 * (a rate's pushes, each to one connection, included), as do tallies a
 * loop had no room for.
 */
static void fan_merge(struct meter_run *run, struct hist *h, uint64_t from, long live)
{
	long total = 0, k = 0;
	struct fan *all;

	hist_init(h);
	for (int i = 0; i < cfg.loops; i++) {
		for (int j = 0; j < FAN_OPEN; j++)
			fan_out(&loops[i], &loops[i].fan_open[j]);
		total += loops[i].fan_n;
		run->fanout_incomplete += loops[i].fan_dropped;
	}
	all = malloc((size_t)total * sizeof(*all) + 1);
	if (!all)
		die("malloc %ld fan-out tallies:", total);
	for (int i = 0; i < cfg.loops; i++)
		for (long j = 0; j < loops[i].fan_n; j++)
			all[k++] = loops[i].fan_done[j];
	qsort(all, (size_t)total, sizeof(*all), fan_cmp);
	for (long i = 0, j; i < total; i = j) {
		struct fan f = all[i];

		for (j = i + 1; j < total && all[j].sched == f.sched; j++) {
			f.count += all[j].count;
			f.last = all[j].last > f.last ? all[j].last : f.last;
		}
		if (f.sched < from)
			continue;	/* scheduled before the window: part of it outside */
		if (f.count >= live) {
			run->fanout_broadcasts++;
			hist_record(h, f.last > f.sched ? f.last - f.sched : 0);
		} else {
			run->fanout_incomplete++;
		}
	}
	free(all);
}

/* -X's figures: restart_recovery_s runs from the first drop (any loop)
 * to the last reconnect answered, if every dropped one came back. */
static void restart_result(struct meter_run *run)
{
	uint64_t first = 0, back = 0;
	long dropped = meter_sum(meters, cfg.loops, restart_dropped);

	run->reconnect = cfg.reconnect;
	run->restart_recovery_s = NAN;
	for (int i = 0; i < cfg.loops; i++) {
		if (loops[i].first_drop && (!first || loops[i].first_drop < first))
			first = loops[i].first_drop;
		back = loops[i].last_back > back ? loops[i].last_back : back;
	}
	if (dropped && meter_sum(meters, cfg.loops, restart_back) == dropped)
		run->restart_recovery_s = back > first ? (back - first) / 1e9 : 0;
}

void client_main(const struct client_design *d, int argc, char **argv)
{
	static struct hist fanout;	/* push modes: broadcasts' fan-out, ns */
	uint64_t win_from = 0;
	long live_end = 0;
	struct meter_run run = { .design = d->design, .first_round_s = NAN };
	uint64_t t0;

	D = d;
	prog_init(argv[0]);
	parse(argc, argv);
	run.target = cfg.conns;
	if (D->check)
		D->check();	/* may exit 77: the design cannot run here */
	size_loops();
	if (cfg.push)
		meter_set_push();
	sig_setup();
	t0 = clock_ns();
	start_loops();
	run.connect_s = ramp(t0);
	fprintf(stderr, "%s: %ld/%ld connected in %.2f s (%.0f conn/s), %ld failed\n",
		prog_name, meter_sum(meters, cfg.loops, connected), cfg.conns, run.connect_s,
		meter_sum(meters, cfg.loops, connected) / (run.connect_s > 0 ? run.connect_s : 1),
		meter_sum(meters, cfg.loops, failed));
	if (atomic_load(&sig_stop))
		atomic_store(&stopping, 1);	/* interrupted during the ramp */
	go_ns = clock_ns();
	atomic_store(&go, 1);
	if (!atomic_load(&stopping)) {
		run.first_round_s = first_round();
		if (run.first_round_s >= 0)
			fprintf(stderr, "%s: every connection answered once in %.2f s\n",
				prog_name, run.first_round_s);
	}
	if (!atomic_load(&stopping) && cfg.barrier)
		run.no_go = barrier() < 0;	/* hosts open their windows together */
	if (!atomic_load(&stopping))
		warm_up();
	win_from = clock_wall_ns();
	meter_open(meters, cfg.loops, cfg.interval, cfg.server_pid);	/* counts from now */
	if (!atomic_load(&stopping)) {
		/* run.sh --restart-at counts from this line */
		fprintf(stderr, "%s: window open for %g s\n", prog_name, cfg.duration);
		measure();
	}
	meter_close(meters, cfg.loops, cfg.server_pid);	/* replies drained after: not counted */
	live_end = meter_sum(meters, cfg.loops, live);
	run.push_silent = meter_sum(meters, cfg.loops, push_silent);
	run.live_end = live_end;
	atomic_store(&stopping, 1);
	for (int i = 0; i < cfg.loops; i++)
		pthread_join(loops[i].thread, NULL);
	run.rate = cfg.rate;
	run.depth = cfg.depth;
	run.msg_bytes = cfg.size;
	run.lifetime = cfg.lifetime;
	run.heartbeat = cfg.heartbeat;
	run.storm_pct = cfg.storm_pct;
	run.storm_at = cfg.storm_at;
	run.storm_recovery_s = NAN;
	if (cfg.storm_pct && atomic_load(&storm_go)) {
		uint64_t back = 0;

		for (int i = 0; i < cfg.loops; i++)
			back = loops[i].last_back > back ? loops[i].last_back : back;
		if (meter_sum(meters, cfg.loops, storm_back) == meter_sum(meters, cfg.loops, storm_dropped))
			run.storm_recovery_s = back > storm_ns ? (back - storm_ns) / 1e9 : 0;
	}
	if (cfg.push) {
		run.push = cfg.push;
		fan_merge(&run, &fanout, win_from, live_end);
		run.fanout = &fanout;
	}
	restart_result(&run);
	meter_report(meters, cfg.loops, &run);
}
