/*
 * 02_epoll_server - one acceptor thread, one epoll set, one loop. `ps -T`
 * shows two threads: the acceptor, and main running the loop.
 *
 * The design (the original's second program): a thread sleeps in a
 * blocking accept() and adds each new connection to ONE epoll set; the
 * loop waits on that set and echoes whatever is readable. Two threads,
 * whatever the number of connections: a connection costs only its kernel
 * socket (~4 KB) and 16 bytes here (struct conn, in a flat array indexed
 * by fd). epoll_ctl() is safe while another thread sits in epoll_wait()
 * on the same set, so the hand-over needs no lock and no queue.
 *
 * What every epoll server here gets right, in the handlers below:
 *   - accept: in its own thread, blocking. On EMFILE accept() fails at
 *     once for as long as the table is full, so the acceptor warns once
 *     and sleeps PAUSE_MS between tries (no spinning); the rest wait in
 *     the listen backlog until fds free up.
 *   - read: up to READ_BUDGET reads per event, then the next connection.
 *     Bytes are echoed as they come, never parsed: a frame split over two
 *     reads or several frames in one read go back in order.
 *   - a short write: the rest is parked in struct conn, the connection
 *     waits for EPOLLOUT only, and is not read again until it drains.
 *   - EOF, half-close and reset: the connection is closed and counted
 *     (resets apart), and costs no other connection anything.
 *
 * Why it stops scaling: one loop does every read and write: one core
 * (06 runs a loop per core). And every connection lives in one fd table,
 * which RLIMIT_NOFILE caps (20,000 on the development machine, a hard
 * limit); it says so at start.
 *
 * usage: server [-a ADDR] [-p PORT] [-i SEC] [-L] [-h]
 * build: cc -std=gnu11 -O2 -pthread -Icommon -o 02_epoll_server/server 02_epoll_server/server.c common/[a-z]*.c -lm
 *
 * test with:
 *   ./02_epoll_server/server &
 *   ./02_epoll_server/client -n 1000 -d 10	(holds 1,000, pings 200/s)
 *
 * diff against: 03_epoll_throughput (the same loop; there the listener
 * is in its epoll set, here in a thread of its own).
 *
 * sample output (stderr, a loaded 2-core box; then the JSON line on stdout
 * at SIGTERM):
 *   02_epoll_server/server: one fd table holds every connection:
 *     about 19968 (RLIMIT_NOFILE 20000, the hard limit). Beyond that ...
 *   02_epoll_server/server: listening on 127.0.0.1:8972, 1 acceptor + 1 epoll loop
 *   conns 1000  rps 200  accepted 1000  resets 0  errors 0
 *   {"design":"02_epoll_server","conns_peak":1000,"requests":2009,...}
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "c1m.h"

#define DESIGN		"02_epoll_server"
#define FD_RESERVE	32	/* epoll fd, listener, stdio, slack */
#define MAX_EVENTS	512
#define BUF_SIZE	16384	/* per loop, not per connection */
#define READ_BUDGET	16	/* reads per event before the next connection */
#define PAUSE_MS	100	/* accept pause after EMFILE */
#define TICK_NS		100000000ull	/* housekeeping every 100 ms */

static struct {
	const char *addr;
	int port;
	double interval;
} cfg = { C1M_ADDR, C1M_PORT, 5 };

/* The per-connection state: the bytes read but not yet written back. */
struct conn {
	char *pend;		/* malloc'd, NULL when drained */
	uint32_t pend_len;	/* bytes in pend */
	uint32_t pend_off;	/* bytes of pend already sent */
};

struct loop {
	int ep, lfd;		/* the epoll set; the listener, the acceptor's */
	struct conn *conns;	/* one per fd of the table */
	struct stats_slot *st;
	char buf[BUF_SIZE];
};

static struct loop loop;	/* the one loop */

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

	free(c->pend);
	memset(c, 0, sizeof(*c));
	close(fd);		/* also leaves the epoll set */
	stats_conn_closed(l->st, err);
}

/* In the acceptor thread: hand a new connection to the loop. Count it
 * first: the loop may see it close before this thread runs again. */
static void on_accept(struct loop *l, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	net_set_nodelay(fd);
	atomic_fetch_add_explicit(&l->st->conns, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&l->st->accepted, 1, memory_order_relaxed);
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		atomic_fetch_sub_explicit(&l->st->conns, 1, memory_order_relaxed);
		close(fd);
	}
}

/* The acceptor thread: sleep in accept(), hand over, repeat. main's
 * shutdown() of the listener wakes it with EINVAL. */
static void *accept_run(void *arg)
{
	struct loop *l = arg;
	int full = 0;		/* warned about this EMFILE already */

	for (;;) {
		int fd = accept4(l->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			full = 0;
			on_accept(l, fd);
			continue;
		}
		if (errno == EINVAL || errno == EBADF)
			return NULL;	/* the listener was shut down */
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			/* Out of fds: accept() fails at once while the table is
			 * full; retrying now would spin. The backlog waits. */
			if (!full)
				warnx_("acceptor: accept at %ld conns: pausing:", stats_conns());
			full = 1;
			usleep(PAUSE_MS * 1000);
		}
		/* EINTR, ECONNABORTED and the network errors accept() passes
		 * on from a dead connection: take the next one. */
	}
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

static void on_readable(struct loop *l, int fd)
{
	struct conn *c = &l->conns[fd];

	for (int i = 0; i < READ_BUDGET; i++) {
		ssize_t n = recv(fd, l->buf, sizeof(l->buf), 0), w;

		if (n == 0) {
			conn_close(l, fd, 0);		/* EOF: all echoed */
			return;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno != EAGAIN)
				conn_close(l, fd, errno);	/* reset, ... */
			return;
		}
		w = send_some(fd, l->buf, (size_t)n);	/* the echo */
		if (w < 0) {
			conn_close(l, fd, errno);
			return;
		}
		atomic_fetch_add_explicit(&l->st->bytes, (uint64_t)w, memory_order_relaxed);
		if (w < n) {
			/* A short write: park the rest, stop reading this one
			 * and wait until it can take more. */
			c->pend = malloc((size_t)(n - w));
			if (!c->pend) {
				conn_close(l, fd, ENOMEM);
				return;
			}
			memcpy(c->pend, l->buf + w, (size_t)(n - w));
			c->pend_len = (uint32_t)(n - w);
			c->pend_off = 0;
			watch(l, fd, EPOLLOUT);
			return;
		}
		if ((size_t)n < sizeof(l->buf))
			return;		/* the socket is drained */
	}
	/* Budget spent: level-triggered epoll reports the rest next time. */
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
	c->pend_off += (uint32_t)w;
	if (c->pend_off < c->pend_len)
		return;		/* still short: wait for the next EPOLLOUT */
	free(c->pend);
	memset(c, 0, sizeof(*c));
	watch(l, fd, EPOLLIN);	/* drained: read it again */
}

/* ---- the loop: every connection ---- */

static void loop_run(struct loop *l)
{
	struct epoll_event ev[MAX_EVENTS];
	uint64_t next_tick = clock_ns() + TICK_NS;

	while (!atomic_load_explicit(&sig_stop, memory_order_relaxed)) {
		int n = epoll_wait(l->ep, ev, MAX_EVENTS, TICK_NS / 1000000);

		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			if (ev[i].events & EPOLLOUT)
				on_writable(l, fd);
			else
				on_readable(l, fd);
		}
		if (clock_ns() >= next_tick) {	/* housekeeping */
			stats_tick();		/* the meter */
			sig_wait(0);		/* SIGINT/SIGTERM pending? */
			next_tick = clock_ns() + TICK_NS;
		}
	}
}

/* ---- main ---- */

/* The result: one JSON line on stdout. */
static void report(void)
{
	struct json j;

	json_begin(&j);
	stats_json(&j);
	json_end(&j);
	json_print(&j, stdout);
}

static void usage(void)
{
	printf("%s: one acceptor thread feeding one epoll set, one loop thread echoing\n\n"
	       "%s\n\n"
	       "  -a ADDR   address to listen on (default %s; 0.0.0.0 is opt-in)\n"
	       "  -p PORT   port (default %d; 0 picks a free one)\n"
	       "  -i SEC    stats interval on stderr (default 5)\n"
	       "  -L        print this design's limits as one JSON line, for run.sh\n"
	       "  -h        this help\n\n"
	       "Echoes every byte back. Prints \"listening on ADDR:PORT\" on stderr when\n"
	       "ready; on SIGINT/SIGTERM one JSON line on stdout, then exits 0.\n"
	       "Exit 1: cannot listen; exit 2: bad usage.\n",
	       prog_name, arg_synopsis, C1M_ADDR, C1M_PORT);
}

static void parse(int argc, char **argv)
{
	static const struct limits lim = { .design = DESIGN, .fd_tables = "one",
		.fd_reserve = FD_RESERVE, .max_loops = 1, .target = 1000000 };
	int o;

	arg_synopsis = "usage: server [-a ADDR] [-p PORT] [-i SEC] [-L] [-h]";
	while ((o = getopt(argc, argv, ":a:p:i:Lh")) != -1) {
		switch (o) {
		case 'a': arg_ipv4(o, optarg); cfg.addr = optarg; break;
		case 'p': cfg.port = (int)arg_long(o, optarg, 0, 65535); break;
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
	struct loop *l = &loop;
	pthread_t acceptor;
	long fd_limit;

	prog_init(argv[0]);
	parse(argc, argv);
	l->lfd = net_listen(cfg.addr, cfg.port, 0, 4096);
	if (l->lfd < 0)
		die("listen %s:%d:", cfg.addr, cfg.port);
	cfg.port = net_local_port(l->lfd);	/* resolves -p 0 */
	fd_one_table(FD_RESERVE, &fd_limit);	/* says how far one table goes */
	sig_setup();				/* before the acceptor thread */
	l->st = stats_init(DESIGN, 1, cfg.interval);
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	l->conns = calloc((size_t)fd_limit, sizeof(*l->conns));
	if (l->ep < 0 || !l->conns)
		die("setup:");
	/* net_listen's listener is non-blocking: the acceptor sleeps in it. */
	if (fcntl(l->lfd, F_SETFL, fcntl(l->lfd, F_GETFL) & ~O_NONBLOCK) < 0)
		die("fcntl:");
	if ((errno = pthread_create(&acceptor, NULL, accept_run, l)))
		die("pthread_create:");
	fprintf(stderr, "%s: listening on %s:%d, 1 acceptor + 1 epoll loop\n",
		prog_name, cfg.addr, cfg.port);

	loop_run(l);			/* until SIGINT/SIGTERM */
	/* Wakes the acceptor out of accept() (EINVAL); close() would not. */
	shutdown(l->lfd, SHUT_RDWR);
	pthread_join(acceptor, NULL);
	report();
	return 0;
}
