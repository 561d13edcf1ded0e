/*
 * 05_multi_epoll_client server - one acceptor, N epoll loops: the step
 * from 02 to 06 (this directory is about its client, in client.c).
 *
 * 02's acceptor thread sleeps in a blocking accept() and hands each new
 * connection round-robin to one of -c loop threads, by adding it to that
 * loop's epoll set (no queue, no lock). From then on it is that loop's
 * alone: its events, its 16 bytes (struct conn, in the loop's own array),
 * its close. Each loop echoes exactly as 02's does; main runs the meter.
 *
 * It spreads the echo over -c cores. But every accept goes through one
 * thread, and every connection lives in the ONE fd table (the acceptor
 * opens every fd for all loops), which RLIMIT_NOFILE caps (20,000 on the
 * development machine; said at start). 06 gives each loop its own listener and fd table: 1M.
 *
 * usage: server [-a ADDR] [-p PORT] [-c N] [-i SEC] [-L] [-h]
 * build: cc -std=gnu11 -O2 -pthread -Icommon -o 05_multi_epoll_client/server 05_multi_epoll_client/server.c common/[a-z]*.c -lm
 *
 * test with:
 *   ./05_multi_epoll_client/server -c 2 &
 *   ./05_multi_epoll_client/client -n 1000 -d 5
 *
 * diff against: 02_epoll_server (the same acceptor, feeding -c loops).
 *
 * sample output (stderr, a loaded 2-core box; stdout at SIGTERM):
 *   05_multi_epoll_client/server: one fd table holds every connection:
 *     about 19968 (RLIMIT_NOFILE 20000, the hard limit). Beyond that ...
 *   05_multi_epoll_client/server: listening on 127.0.0.1:8972, 1 acceptor + 2 epoll loops
 *   conns 1000  rps 28211  accepted 1000  resets 0  errors 0
 *   {"design":"05_multi_epoll_client","conns_peak":1000,"requests":155005,...,"loops":2}
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

#define DESIGN		"05_multi_epoll_client"
#define FD_RESERVE	32	/* epoll fds, listener, stdio, slack */
#define MAX_EVENTS	512
#define BUF_SIZE	16384	/* per loop, not per connection */
#define READ_BUDGET	16	/* reads per event before the next connection */
#define PAUSE_MS	100	/* accept pause after EMFILE */
#define TICK_NS		100000000ull	/* a loop checks sig_stop every 100 ms */

static struct {
	const char *addr;
	int port;
	int loops;		/* -c; 0 = the CPU count */
	double interval;
} cfg = { C1M_ADDR, C1M_PORT, 0, 5 };

/* The per-connection state: the bytes read but not yet written back. */
struct conn {
	char *pend;		/* malloc'd, NULL when drained */
	uint32_t pend_len;	/* bytes in pend */
	uint32_t pend_off;	/* bytes of pend already sent */
};

struct loop {
	pthread_t thread;
	int ep;			/* this loop's epoll set */
	struct conn *conns;	/* one per fd of the one table */
	struct stats_slot *st;	/* this loop's counters */
	char buf[BUF_SIZE];
};

static struct loop *loops;	/* cfg.loops of them */
static int lfd;			/* the one listener, the acceptor's */

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

/* In the acceptor thread: hand a new connection to loop l. Count it
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

/* The acceptor thread: sleep in accept(), pick the next loop, hand over,
 * repeat. main's shutdown() of the listener wakes it with EINVAL. */
static void *accept_run(void *arg)
{
	unsigned next = 0;	/* round-robin */
	int full = 0;		/* warned about this EMFILE already */

	(void)arg;
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			full = 0;
			on_accept(&loops[next++ % (unsigned)cfg.loops], fd);
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

/* ---- a loop thread: its connections (main runs the meter) ---- */

static void *loop_run(void *arg)
{
	struct loop *l = arg;
	struct epoll_event ev[MAX_EVENTS];

	while (!atomic_load_explicit(&sig_stop, memory_order_relaxed)) {
		int n = epoll_wait(l->ep, ev, MAX_EVENTS, TICK_NS / 1000000);

		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			if (ev[i].events & EPOLLOUT)
				on_writable(l, fd);
			else
				on_readable(l, fd);
		}
	}
	return NULL;
}

/* ---- main ---- */

/* The result: one JSON line on stdout. */
static void report(void)
{
	struct json j;

	json_begin(&j);
	stats_json(&j);
	json_i64(&j, "loops", cfg.loops);
	json_end(&j);
	json_print(&j, stdout);
}

static void usage(void)
{
	printf("%s: one acceptor thread handing connections round-robin to N epoll loops\n\n"
	       "%s\n\n"
	       "  -a ADDR   address to listen on (default %s; 0.0.0.0 is opt-in)\n"
	       "  -p PORT   port (default %d; 0 picks a free one)\n"
	       "  -c N      epoll loops (default: the CPU count)\n"
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
		.fd_reserve = FD_RESERVE, .max_loops = 4096, .target = 1000000 };
	int o;

	arg_synopsis = "usage: server [-a ADDR] [-p PORT] [-c N] [-i SEC] [-L] [-h]";
	while ((o = getopt(argc, argv, ":a:p:c:i:Lh")) != -1) {
		switch (o) {
		case 'a': arg_ipv4(o, optarg); cfg.addr = optarg; break;
		case 'p': cfg.port = (int)arg_long(o, optarg, 0, 65535); break;
		case 'c': cfg.loops = (int)arg_long(o, optarg, 1, 4096); break;
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
	pthread_t acceptor;
	long fd_limit;

	prog_init(argv[0]);
	parse(argc, argv);
	lfd = net_listen(cfg.addr, cfg.port, 0, 4096);
	if (lfd < 0)
		die("listen %s:%d:", cfg.addr, cfg.port);
	cfg.port = net_local_port(lfd);		/* resolves -p 0 */
	fd_one_table(FD_RESERVE, &fd_limit);	/* one table, whatever -c is */
	if (!cfg.loops)
		cfg.loops = (int)sysconf(_SC_NPROCESSORS_ONLN);
	sig_setup();				/* before any thread */
	slots = stats_init(DESIGN, cfg.loops, cfg.interval);
	loops = calloc((size_t)cfg.loops, sizeof(*loops));
	if (!loops)
		die("calloc:");
	for (int i = 0; i < cfg.loops; i++) {
		struct loop *l = &loops[i];

		l->st = &slots[i];
		l->ep = epoll_create1(EPOLL_CLOEXEC);
		l->conns = calloc((size_t)fd_limit, sizeof(*l->conns));
		if (l->ep < 0 || !l->conns)
			die("loop %d setup:", i);
		if ((errno = pthread_create(&l->thread, NULL, loop_run, l)))
			die("pthread_create:");
	}
	/* net_listen's listener is non-blocking: the acceptor sleeps in it. */
	if (fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) & ~O_NONBLOCK) < 0)
		die("fcntl:");
	if ((errno = pthread_create(&acceptor, NULL, accept_run, NULL)))
		die("pthread_create:");
	fprintf(stderr, "%s: listening on %s:%d, 1 acceptor + %d epoll loops\n",
		prog_name, cfg.addr, cfg.port, cfg.loops);

	stats_run(NULL);		/* the meter, until SIGINT/SIGTERM */
	/* Wakes the acceptor out of accept() (EINVAL); close() would not. */
	shutdown(lfd, SHUT_RDWR);
	pthread_join(acceptor, NULL);
	for (int i = 0; i < cfg.loops; i++)
		pthread_join(loops[i].thread, NULL);
	report();
	return 0;
}
