/*
 * 06_multi_epoll_server - 03's loop once per core: N threads, each with its
 * own SO_REUSEPORT listener (the kernel hashes each new connection to one),
 * epoll set and fd table. The loops share no connection, lock or queue and
 * run 03's handlers unchanged; main only runs the meter.
 *
 * Why it reaches 1M: RLIMIT_NOFILE is per fd *table* (20,000 on the
 * development machine, a hard limit), and each loop unshares a table of its
 * own: with 20,000, 64 loops x ~19,970 = 1.27M connections, 16 bytes each (struct conn) plus the kernel's ~4 KB
 * socket. Past one loop per core the loops only take turns.
 *
 * usage: server [-a ADDR] [-p PORT] [-c N] [-n CONNS] [-i SEC] [-L] [-h]
 * build: cc -std=gnu11 -O2 -pthread -Icommon -o 06_multi_epoll_server/server 06_multi_epoll_server/server.c common/[a-z]*.c -lm
 * test with: ./06_multi_epoll_server/server & ./06_multi_epoll_server/client -n 1000 -d 5
 * diff against: 03_epoll_throughput (the same loop, once per thread)
 * sample output (stderr, 2 cores; then the JSON line on stdout at SIGTERM):
 *   06_multi_epoll_server/server: listening on 127.0.0.1:8972, 2 loops x 19968 fds
 *   conns 1000  rps 67363  accepted 1000  resets 0  errors 0
 *   {"design":"06_multi_epoll_server","conns_peak":1000,...,"loops":2}
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

#define DESIGN		"06_multi_epoll_server"
#define FD_RESERVE	32	/* per table: epoll fd, listener, stdio, slack */
#define MAX_EVENTS	512
#define BUF_SIZE	16384	/* per loop, not per connection */
#define READ_BUDGET	16	/* reads per event before the next connection */
#define PAUSE_MS	100	/* accept pause after EMFILE */
#define TICK_NS		100000000ull	/* housekeeping every 100 ms */

static struct {
	const char *addr;
	int port;
	double interval;
	int loops;		/* -c; 0 = size from -n and the CPU count */
	long conns;		/* -n: connections to make room for */
} cfg = { C1M_ADDR, C1M_PORT, 5, 0, 0 };

/* The per-connection state: the bytes read but not yet written back. */
struct conn {
	char *pend;		/* malloc'd, NULL when drained */
	uint32_t pend_len;	/* bytes in pend */
	uint32_t pend_off;	/* bytes of pend already sent */
};

struct loop {
	pthread_t thread;
	int ep, lfd;		/* the epoll set, and the listener in it */
	struct conn *conns;	/* one per fd of the table */
	struct stats_slot *st;
	uint64_t paused_until;	/* accept paused after EMFILE; 0 = listening */
	char buf[BUF_SIZE];
};

static struct loop *loops;	/* cfg.loops of them, a thread each */
static long fd_limit;		/* the size of each loop's fd table */

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

/* ---- the loop: one per thread ---- */

static void loop_run(struct loop *l)
{
	struct epoll_event ev[MAX_EVENTS];
	uint64_t next_tick = clock_ns() + TICK_NS;

	while (!atomic_load_explicit(&sig_stop, memory_order_relaxed)) {
		int n = epoll_wait(l->ep, ev, MAX_EVENTS, TICK_NS / 1000000);

		for (int i = 0; i < n; i++) {
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
	struct json j;

	json_begin(&j);
	stats_json(&j);
	json_i64(&j, "loops", cfg.loops);
	/* Accepts per loop: how evenly the kernel spread the connections. */
	json_arr(&j, "accepts_per_loop");
	for (int i = 0; i < cfg.loops; i++)
		json_u64(&j, NULL, atomic_load(&loops[i].st->accepted));
	json_arr_end(&j);
	json_end(&j);
	json_print(&j, stdout);
}

static void usage(void)
{
	printf("%s: SO_REUSEPORT listeners, one epoll loop and fd table each\n\n"
	       "%s\n\n"
	       "  -a ADDR   address to listen on (default %s; 0.0.0.0 is opt-in)\n"
	       "  -p PORT   port (default %d; 0 picks a free one)\n"
	       "  -c N      epoll loops (default: the CPU count, more if -n needs them)\n"
	       "  -n CONNS  connections to make room for, plus 1/8 (the kernel does not\n"
	       "            spread them evenly over the loops); sizes the default -c\n"
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
	static const struct limits lim = { .design = DESIGN, .fd_tables = "many",
		.fd_reserve = FD_RESERVE, .max_loops = 4096, .target = 1000000 };
	int o;

	arg_synopsis = "usage: server [-a ADDR] [-p PORT] [-c N] [-n CONNS] [-i SEC] [-L] [-h]";
	while ((o = getopt(argc, argv, ":a:p:c:n:i:Lh")) != -1) {
		switch (o) {
		case 'a': arg_ipv4(o, optarg); cfg.addr = optarg; break;
		case 'p': cfg.port = (int)arg_long(o, optarg, 0, 65535); break;
		case 'c': cfg.loops = (int)arg_long(o, optarg, 1, 4096); break;
		case 'n': cfg.conns = arg_long(o, optarg, 1, 100000000); break;
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
	fprintf(stderr, "%s: listening on %s:%d, %d loops x %ld fds\n",
		prog_name, cfg.addr, cfg.port, cfg.loops, fd_limit - FD_RESERVE);

	stats_run(NULL);	/* the meter, until SIGINT/SIGTERM */
	for (int i = 0; i < cfg.loops; i++)
		pthread_join(loops[i].thread, NULL);
	report();
	return 0;
}
