/*
 * 06_multi_epoll_server - N epoll loops, each with its own SO_REUSEPORT
 * listener, its own epoll set and its own fd table.
 *
 * The design: instead of one acceptor feeding one loop (02), every loop
 * thread listens on the same port. With SO_REUSEPORT the kernel hashes each
 * new connection to one of the listeners, so the loops never share a
 * connection, a lock or a queue: each runs accept, read and write for its
 * own connections only, and N loops use N cores.
 *
 * Why it reaches 1M here: RLIMIT_NOFILE is per fd *table*, and this
 * machine's hard limit is 20,000 that not even root may raise. Each loop
 * calls unshare(CLONE_FILES) first, so it gets a private table with its own
 * 20,000 fds. 64 loops x ~19,900 = 1.27M connections in one process. Per
 * connection the server keeps 16 bytes (struct echo_conn) in a flat array
 * indexed by fd, plus the kernel's ~4 KB socket.
 *
 * What every loop must get right (as must every server in the suite):
 * frames split or coalesced (bytes are echoed, never parsed), short writes
 * (park the rest, wait for EPOLLOUT, stop reading that one), EOF and resets
 * (cost that connection only), and EMFILE on accept (pause accepting for a
 * moment instead of spinning on a listener that stays readable).
 *
 * usage: server [-a ADDR] [-p PORT] [-c LOOPS] [-n CONNS] [-i SEC] [-h]
 *
 * test with:
 *   ./06_multi_epoll_server/server -p 8972 &
 *   ./05_multi_epoll_client/client -p 8972 -n 1000 -d 5
 *
 * sample output (stderr, then the JSON line on stdout at SIGTERM):
 *   06_multi_epoll_server/server: listening on 127.0.0.1:8972, 2 loops x 19968 fds = 39936 connections
 *   conns 1000  rps 151234  accepted 1000  errors 0
 *   {"design":"06_multi_epoll_server","conns_peak":1000,"requests":756170,...}
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "c1m.h"

#define FD_RESERVE	32		/* per table: epoll fd, stdio, slack */
#define MAX_EVENTS	512
#define BUF_SIZE	16384		/* per loop, not per connection */
#define PAUSE_NS	100000000ull	/* accept pause after EMFILE: 100 ms */

static struct {
	const char *addr;
	int port;
	int loops;
	long conns;
	double interval;
	long fd_limit;
} cfg = { C1M_ADDR, C1M_PORT, 0, 0, 5, 0 };

/* The per-connection state: 16 bytes, in a per-loop array indexed by fd. */
struct conn {
	struct echo_conn echo;
};

struct loop {
	int id;
	pthread_t thread;
	int lfd;		/* this loop's own listener */
	int ep;
	struct conn *conns;	/* indexed by fd; cfg.fd_limit entries */
	uint64_t paused_until;	/* accept paused (EMFILE) until then */
	int full;		/* said so already: warn once per episode */
	struct stats_slot *st;
	char buf[BUF_SIZE];
};

static struct loop *loops;

/* ---- handlers ---- */

static void conn_close(struct loop *l, int fd, int error)
{
	echo_reset(&l->conns[fd].echo);
	close(fd);	/* also removes it from the epoll set */
	atomic_fetch_sub_explicit(&l->st->conns, 1, memory_order_relaxed);
	if (error)
		atomic_fetch_add_explicit(&l->st->errors, 1, memory_order_relaxed);
}

/* Accept until the backlog is empty, or until this table runs out of fds. */
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
				/* Level-triggered: the listener stays readable, so
				 * looping on it would spin. Stop listening for a bit;
				 * the backlog waits in the kernel. */
				if (!l->full)
					warnx_("loop %d: accept at %ld conns: paused:", l->id,
					       (long)atomic_load(&l->st->conns));
				l->full = 1;
				epoll_ctl(l->ep, EPOLL_CTL_DEL, l->lfd, NULL);
				l->paused_until = clock_ns() + PAUSE_NS;
			}
			return;	/* EAGAIN: backlog empty */
		}
		ev.data.fd = fd;
		if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			continue;
		}
		net_set_nodelay(fd);
		l->full = 0;
		atomic_fetch_add_explicit(&l->st->conns, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&l->st->accepted, 1, memory_order_relaxed);
	}
}

/* Switch one connection between reading (EPOLLIN) and draining (EPOLLOUT). */
static void watch(struct loop *l, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev);
}

static void on_readable(struct loop *l, int fd)
{
	uint64_t bytes = 0;
	enum echo_result r = echo_on_readable(&l->conns[fd].echo, fd, l->buf,
					      sizeof(l->buf), &bytes);

	atomic_fetch_add_explicit(&l->st->bytes, bytes, memory_order_relaxed);
	if (r == ECHO_BLOCKED)
		watch(l, fd, EPOLLOUT);		/* slow reader: stop reading it */
	else if (r == ECHO_CLOSE)
		conn_close(l, fd, errno != 0);
}

static void on_writable(struct loop *l, int fd)
{
	uint64_t bytes = 0;
	enum echo_result r = echo_on_writable(&l->conns[fd].echo, fd, &bytes);

	atomic_fetch_add_explicit(&l->st->bytes, bytes, memory_order_relaxed);
	if (r == ECHO_OPEN)
		watch(l, fd, EPOLLIN);		/* drained: read again */
	else if (r == ECHO_CLOSE)
		conn_close(l, fd, 1);
}

/* ---- the loop ---- */

static void *loop_run(void *arg)
{
	struct loop *l = arg;
	struct epoll_event ev[MAX_EVENTS];
	struct epoll_event lev = { .events = EPOLLIN, .data.fd = l->lfd };

	/* A private fd table: this loop's connections count against its own
	 * RLIMIT_NOFILE. It starts as a copy of main's, which holds every
	 * loop's listener; keep only ours. */
	if (cfg.loops > 1) {
		if (fd_private_table() < 0)
			die("loop %d: unshare(CLONE_FILES):", l->id);
		for (int i = 0; i < cfg.loops; i++)
			if (i != l->id)
				close(loops[i].lfd);
	}
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	if (l->ep < 0 || epoll_ctl(l->ep, EPOLL_CTL_ADD, l->lfd, &lev) < 0)
		die("loop %d: epoll:", l->id);

	while (!atomic_load_explicit(&sig_stop, memory_order_relaxed)) {
		int n = epoll_wait(l->ep, ev, MAX_EVENTS, 100);

		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			if (fd == l->lfd)
				on_accept(l);
			else if (ev[i].events & EPOLLOUT)
				on_writable(l, fd);
			else
				on_readable(l, fd);	/* EPOLLIN, ERR, HUP */
		}
		if (l->paused_until && clock_ns() >= l->paused_until) {
			l->paused_until = 0;
			epoll_ctl(l->ep, EPOLL_CTL_ADD, l->lfd, &lev);
		}
	}
	return NULL;
}

/* ---- main ---- */

static void usage(void)
{
	printf("%s: SO_REUSEPORT listeners, one epoll loop and fd table each\n\n"
	       "usage: server [-a ADDR] [-p PORT] [-c LOOPS] [-n CONNS] [-i SEC] [-h]\n\n"
	       "  -a ADDR   address to listen on (default %s; 0.0.0.0 is opt-in)\n"
	       "  -p PORT   port (default %d; 0 picks a free one)\n"
	       "  -c LOOPS  epoll loop threads (default: the CPU count, or more\n"
	       "            if -n needs more fd tables)\n"
	       "  -n CONNS  connections to make room for (default: one table's worth\n"
	       "            per CPU); sizes the default -c\n"
	       "  -i SEC    stats interval on stderr (default 5)\n"
	       "  -h        this help\n\n"
	       "Echoes every byte back. On SIGINT/SIGTERM prints one JSON line on\n"
	       "stdout and exits 0. Exit 1: cannot listen; exit 2: bad usage.\n",
	       prog_name, C1M_ADDR, C1M_PORT);
}

static void parse(int argc, char **argv)
{
	int o;

	arg_synopsis = "usage: server [-a ADDR] [-p PORT] [-c LOOPS] [-n CONNS] [-i SEC] [-h]";
	while ((o = getopt(argc, argv, ":a:p:c:n:i:h")) != -1) {
		switch (o) {
		case 'a': arg_ipv4(o, optarg); cfg.addr = optarg; break;
		case 'p': cfg.port = (int)arg_long(o, optarg, 0, 65535); break;
		case 'c': cfg.loops = (int)arg_long(o, optarg, 1, 4096); break;
		case 'n': cfg.conns = arg_long(o, optarg, 1, 100000000); break;
		case 'i': cfg.interval = arg_seconds(o, optarg, 1e6); break;
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
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct json j;

	prog_init(argv[0]);
	parse(argc, argv);
	cfg.fd_limit = fd_raise_limit(cfg.conns ? cfg.conns + FD_RESERVE : 1 << 20);
	if (!cfg.loops)
		cfg.loops = fd_loops_for(cfg.conns, cfg.fd_limit, FD_RESERVE,
					 ncpu > 0 ? (int)ncpu : 1);
	if (cfg.conns > (cfg.fd_limit - FD_RESERVE) * cfg.loops)
		arg_usage_error("-n %ld does not fit in %d loops of %ld fds",
				cfg.conns, cfg.loops, cfg.fd_limit - FD_RESERVE);
	sig_setup();
	loops = calloc((size_t)cfg.loops, sizeof(*loops));
	if (!loops)
		die("calloc:");
	/* All listeners up front: a busy port fails here, before any thread. */
	for (int i = 0; i < cfg.loops; i++) {
		loops[i].lfd = net_listen(cfg.addr, cfg.port, 1, 4096);
		if (loops[i].lfd < 0)
			die("listen %s:%d:", cfg.addr, cfg.port);
		cfg.port = net_local_port(loops[i].lfd);	/* resolves -p 0 */
	}
	struct stats_slot *slots = stats_init("06_multi_epoll_server", cfg.loops,
					      cfg.interval);
	for (int i = 0; i < cfg.loops; i++) {
		loops[i].id = i;
		loops[i].st = &slots[i];
		loops[i].conns = calloc((size_t)cfg.fd_limit, sizeof(struct conn));
		if (!loops[i].conns)
			die("calloc:");
		if (pthread_create(&loops[i].thread, NULL, loop_run, &loops[i]))
			die("pthread_create:");
	}
	fprintf(stderr, "%s: listening on %s:%d, %d loops x %ld fds = %ld connections\n",
		prog_name, cfg.addr, cfg.port, cfg.loops, cfg.fd_limit - FD_RESERVE,
		(cfg.fd_limit - FD_RESERVE) * cfg.loops);

	stats_run(NULL);
	for (int i = 0; i < cfg.loops; i++)
		pthread_join(loops[i].thread, NULL);
	json_begin(&j);
	stats_json(&j);
	json_i64(&j, "loops", cfg.loops);
	json_end(&j);
	json_print(&j, stdout);
	return 0;
}
