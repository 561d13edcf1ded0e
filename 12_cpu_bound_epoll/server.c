/*
 * 12_cpu_bound_epoll - 06's loops, but every request costs CPU: before its
 * echo, each 8-byte request is a SHA-256 proof of work of -b BITS leading
 * zero bits (default 12), salted with its bytes so that it really takes
 * 2^BITS hashes (sha256.h). Each loop assembles, proves, echoes, reads on.
 *
 * Why it scales, and how far: a loop busy proving does what a core should,
 * so N cores do N x hash rate / 2^BITS proofs a second (the server prints
 * its hash rate at start) whatever the connection count, and requests
 * queue: latency = conns / rps. Measured, with the command: docs/results.md.
 *
 * usage: server [-a ADDR] [-p PORT] [-c N] [-n CONNS] [-b BITS] [-i SEC] [-L] [-h]
 * build: cc -std=gnu11 -O2 -pthread -Icommon -o 12_cpu_bound_epoll/server 12_cpu_bound_epoll/server.c common/[a-z]*.c -lm
 * test with: ./12_cpu_bound_epoll/server & ./12_cpu_bound_epoll/client -n 100 -d 5
 * diff against: 06_multi_epoll_server (the same loops: this adds whole requests and the proof)
 * sample output (stderr; then the JSON line on stdout at SIGTERM):
 *   12_cpu_bound_epoll/server: one proof of 12 bits = 4096 hashes on average, 1.674 ms at 2.45M hashes/s on this machine
 *   {"design":"12_cpu_bound_epoll",...,"loops":2,"bits":12,"hashes_per_request":4082.2,...}
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "c1m.h"
#include "sha256.h"

#define DESIGN		"12_cpu_bound_epoll"
#define FD_RESERVE	32	/* per table: epoll fd, listener, stdio, slack */
#define MAX_EVENTS	512
#define PAUSE_MS	100	/* accept pause after EMFILE */
#define TICK_NS		100000000ull	/* housekeeping every 100 ms */

static struct {
	const char *addr;
	int port;
	double interval;
	int loops;		/* -c; 0 = size from -n and the CPU count */
	long conns;		/* -n: connections to make room for */
	long bits;		/* -b: leading zero bits per proof */
} cfg = { C1M_ADDR, C1M_PORT, 5, 0, 0, 12 };

/* The per-connection state: the request being assembled, then its echo. */
struct conn {
	char pend[FRAME_SIZE];	/* the request, then the reply */
	uint8_t pend_len;	/* bytes of it read */
	uint8_t pend_off;	/* bytes of it sent */
};

struct loop {
	pthread_t thread;
	int ep, lfd;		/* the epoll set, and the listener in it */
	struct conn *conns;	/* one per fd of the table */
	struct stats_slot *st;
	uint64_t paused_until;	/* accept paused after EMFILE; 0 = listening */
};

static struct loop *loops;	/* cfg.loops of them, a thread each */
static long fd_limit;		/* the size of each loop's fd table */
static double pow_rate;		/* hashes/s, measured at start */

/* ---- handlers ---- */

static void watch(struct loop *l, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev);
}

/* err: 0 for a clean EOF, else the errno that ended the connection. */
static void conn_close(struct loop *l, int fd, int err)
{
	struct conn *c = &l->conns[fd];

	memset(c, 0, sizeof(*c));
	close(fd);		/* also leaves the epoll set */
	stats_conn_closed(l->st, err);
}

static void on_accept(struct loop *l)
{
	for (;;) {
		struct epoll_event ev = { .events = EPOLLIN };
		int fd = accept4(l->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* Out of fds: the backlog waits in the kernel
				 * while the listener sits out PAUSE_MS. */
				if (!l->paused_until)
					warnx_("accept at %ld conns: paused:", stats_conns());
				epoll_ctl(l->ep, EPOLL_CTL_DEL, l->lfd, NULL);
				l->paused_until = clock_ns() + PAUSE_MS * 1000000ull;
			}
			return;		/* EAGAIN: nobody else is waiting */
		}
		ev.data.fd = fd;
		if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			continue;
		}
		net_set_nodelay(fd);
		atomic_fetch_add_explicit(&l->st->conns, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&l->st->accepted, 1, memory_order_relaxed);
	}
}

/* After an EMFILE pause: put the listener back in the set. */
static void accept_resume(struct loop *l)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = l->lfd };

	if (!l->paused_until || clock_ns() < l->paused_until)
		return;
	l->paused_until = 0;
	epoll_ctl(l->ep, EPOLL_CTL_ADD, l->lfd, &ev);
}

/* Send what the socket takes: bytes sent, or -1 on an error (errno). */
static ssize_t send_some(int fd, const char *p, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = send(fd, p + done, len - done, MSG_NOSIGNAL);

		if (n > 0)
			done += (size_t)n;
		else if (n < 0 && errno == EINTR)
			continue;
		else if (n < 0 && errno == EAGAIN)
			break;
		else
			return -1;
	}
	return (ssize_t)done;
}

static void on_writable(struct loop *l, int fd)
{
	struct conn *c = &l->conns[fd];
	ssize_t w = send_some(fd, c->pend + c->pend_off, c->pend_len - c->pend_off);

	if (w < 0) {
		conn_close(l, fd, errno);
		return;
	}
	atomic_fetch_add_explicit(&l->st->bytes, (uint64_t)w, memory_order_relaxed);
	c->pend_off += (uint8_t)w;
	if (c->pend_off < c->pend_len)
		return;		/* still short: wait for the next EPOLLOUT */
	memset(c, 0, sizeof(*c));
	watch(l, fd, EPOLLIN);	/* drained: read it again */
}

/* A whole request: prove work salted with its bytes, then echo it. */
static void on_request(struct loop *l, int fd)
{
	uint64_t nonce, hashes;

	/* Gives up at SIGTERM: a 32-bit proof takes half an hour. */
	hashes = pow_solve(l->conns[fd].pend, FRAME_SIZE, (int)cfg.bits, &nonce, &sig_stop);
	atomic_fetch_add_explicit(&l->st->work, hashes, memory_order_relaxed);
	watch(l, fd, EPOLLOUT);	/* the echo is a parked write (all of pend): */
	on_writable(l, fd);	/* try it now; EPOLLOUT finishes it if short */
}

/* Read towards one whole request, one recv per event, and no further: what
 * follows waits in the kernel's socket buffer, and epoll reports it again. */
static void on_readable(struct loop *l, int fd)
{
	struct conn *c = &l->conns[fd];
	ssize_t n = recv(fd, c->pend + c->pend_len, FRAME_SIZE - c->pend_len, 0);

	if (n == 0) {
		/* EOF: what came of a request goes back as it is. */
		if (c->pend_len)
			send(fd, c->pend, c->pend_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		conn_close(l, fd, 0);
		return;
	}
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			conn_close(l, fd, errno);	/* reset, ... */
		return;
	}
	c->pend_len += (uint8_t)n;
	if (c->pend_len == FRAME_SIZE)
		on_request(l, fd);
}

/* ---- the loop: one per thread ---- */

static void loop_run(struct loop *l)
{
	struct epoll_event ev[MAX_EVENTS];
	uint64_t next_tick = clock_ns() + TICK_NS;

	while (!atomic_load_explicit(&sig_stop, memory_order_relaxed)) {
		int n = epoll_wait(l->ep, ev, MAX_EVENTS, TICK_NS / 1000000);

		/* Each event may cost a proof: look at sig_stop between them. */
		for (int i = 0; i < n && !atomic_load(&sig_stop); i++) {
			int fd = ev[i].data.fd;

			if (fd == l->lfd)	/* new connections: one more event */
				on_accept(l);
			else if (ev[i].events & EPOLLOUT)
				on_writable(l, fd);
			else
				on_readable(l, fd);
		}
		if (clock_ns() >= next_tick) {	/* housekeeping; the meter and */
			accept_resume(l);	/* the signals are main's */
			next_tick = clock_ns() + TICK_NS;
		}
	}
}

/* A loop thread: its own fd table (a copy of main's, less the other loops'
 * listeners; a TSan build shares one: r == 1), epoll set and listener. */
static void *loop_thread(void *arg)
{
	struct loop *l = arg;
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = l->lfd };
	int r = fd_private_table();

	if (r < 0)
		die("unshare(CLONE_FILES):");
	for (int i = 0; r == 0 && i < cfg.loops; i++)
		if (&loops[i] != l)
			close(loops[i].lfd);
	l->conns = calloc((size_t)fd_limit, sizeof(*l->conns));
	l->ep = epoll_create1(EPOLL_CLOEXEC);	/* and the listener joins it */
	if (!l->conns || l->ep < 0 || epoll_ctl(l->ep, EPOLL_CTL_ADD, l->lfd, &ev) < 0)
		die("loop setup:");
	loop_run(l);			/* until main sets sig_stop */
	return NULL;
}

/* ---- main ---- */

/* The result: one JSON line on stdout. */
static void report(void)
{
	uint64_t hashes = 0, req = stats_requests();
	struct json j;

	for (int i = 0; i < cfg.loops; i++)
		hashes += atomic_load(&loops[i].st->work);
	json_begin(&j);
	stats_json(&j);
	json_i64(&j, "loops", cfg.loops);
	json_i64(&j, "bits", cfg.bits);
	json_num(&j, "hashes_per_request", req ? (double)hashes / (double)req : 0);
	json_num(&j, "hashes_per_request_expected", (double)(1ull << cfg.bits));
	json_num(&j, "proof_ms", (double)(1ull << cfg.bits) / pow_rate * 1e3);
	json_end(&j);
	json_print(&j, stdout);
}

static void usage(void)
{
	printf("%s: SO_REUSEPORT epoll loops; each request proves SHA-256 work\n\n"
	       "%s\n\n"
	       "  -a ADDR   address to listen on (default %s; 0.0.0.0 is opt-in)\n"
	       "  -p PORT   port (default %d; 0 picks a free one)\n"
	       "  -c N      epoll loops (default: the CPU count, more if -n needs them)\n"
	       "  -n CONNS  connections to make room for, plus 1/8 (the kernel does not\n"
	       "            spread them evenly over the loops); sizes the default -c\n"
	       "  -b BITS   proof of work per request: leading zero bits (default 12)\n"
	       "  -i SEC    stats interval on stderr (default 5)\n"
	       "  -L        print this design's limits as one JSON line, for run.sh\n"
	       "  -h        this help\n\n"
	       "Echoes each 8-byte request once proved. Prints \"listening on ADDR:PORT\"\n"
	       "on stderr when ready; on SIGINT/SIGTERM one JSON line on stdout, then exits 0.\n"
	       "Exit 1: cannot listen; exit 2: bad usage.\n",
	       prog_name, arg_synopsis, C1M_ADDR, C1M_PORT);
}

static void parse(int argc, char **argv)
{
	static const struct limits lim = { .design = DESIGN, .fd_tables = "many",
		.fd_reserve = FD_RESERVE, .max_loops = 4096, .target = 1000 };
	int o;

	arg_synopsis = "usage: server [-a ADDR] [-p PORT] [-c N] [-n CONNS] [-b BITS] [-i SEC] [-L] [-h]";
	while ((o = getopt(argc, argv, ":a:p:c:n:b:i:Lh")) != -1) {
		switch (o) {
		case 'a': arg_ipv4(o, optarg); cfg.addr = optarg; break;
		case 'p': cfg.port = (int)arg_long(o, optarg, 0, 65535); break;
		case 'c': cfg.loops = (int)arg_long(o, optarg, 1, 4096); break;
		case 'n': cfg.conns = arg_long(o, optarg, 1, 100000000); break;
		case 'b': cfg.bits = arg_long(o, optarg, 0, POW_MAX_BITS); break;
		case 'i': cfg.interval = arg_seconds(o, optarg, 1e6); break;
		case 'L': limits_print(&lim);
		case 'h': usage(); exit(0);
		case ':': arg_usage_error("-%c needs a value", optopt);
		default: arg_usage_error("unknown option -%c", optopt);
		}
	}
	if (optind < argc)
		arg_usage_error("unexpected argument '%s'", argv[optind]);
	if (cfg.interval < 0.1)
		arg_usage_error("-i: must be at least 0.1 s");
}

int main(int argc, char **argv)
{
	struct stats_slot *slots;

	prog_init(argv[0]);
	parse(argc, argv);
	pow_rate = pow_hash_rate();	/* ~0.1 s: what one proof costs here */
	fprintf(stderr, "%s: one proof of %ld bits = %.0f hashes on average, %.3f ms at %.2fM "
		"hashes/s on this machine\n", prog_name, cfg.bits, (double)(1ull << cfg.bits),
		(double)(1ull << cfg.bits) / pow_rate * 1e3, pow_rate / 1e6);
	fd_limit = fd_size_loops(cfg.conns, FD_RESERVE, &cfg.loops);	/* and -c */
	loops = calloc((size_t)cfg.loops, sizeof(*loops));
	if (!loops)
		die("setup:");
	slots = stats_init(DESIGN, cfg.loops, cfg.interval);	/* a slot each */
	/* Every listener up front: a busy port fails here, before any thread.
	 * SO_REUSEPORT shares the port among our loops only (not with -c 1). */
	for (int i = 0; i < cfg.loops; i++) {
		loops[i].st = &slots[i];
		loops[i].lfd = net_listen(cfg.addr, cfg.port, cfg.loops > 1, 4096);
		if (loops[i].lfd < 0)
			die("listen %s:%d:", cfg.addr, cfg.port);
		cfg.port = net_local_port(loops[i].lfd);	/* resolves -p 0 */
	}
	sig_setup();		/* before the threads: they inherit the mask */
	for (int i = 0; i < cfg.loops; i++)
		if ((errno = pthread_create(&loops[i].thread, NULL, loop_thread, &loops[i])))
			die("pthread_create:");
	fprintf(stderr, "%s: listening on %s:%d, %d loops x %ld fds, %ld-bit proofs\n",
		prog_name, cfg.addr, cfg.port, cfg.loops, fd_limit - FD_RESERVE, cfg.bits);

	stats_run(NULL);	/* the meter, until SIGINT/SIGTERM */
	for (int i = 0; i < cfg.loops; i++)
		pthread_join(loops[i].thread, NULL);
	report();
	return 0;
}
