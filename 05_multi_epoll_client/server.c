/*
 * 05_multi_epoll_client server - one acceptor, N epoll loops. This
 * directory is about its client (-c loops, each with its own epoll set and
 * fd table); its server is the step between 02 and 06.
 *
 * The design: one listener and one acceptor thread, as in 02, but -c loop
 * threads instead of one. The acceptor sleeps in a blocking accept() and
 * hands each new connection round-robin to the next loop, by adding it to
 * that loop's epoll set (epoll_ctl is safe while the loop sits in
 * epoll_wait, so no queue and no lock). From then on the connection
 * belongs to that loop alone: its events, its 16 bytes of state (struct
 * conn, in the loop's own array indexed by fd), its close.
 *
 * What it fixes over 02: the echo work spreads over -c cores.
 * What it does not: every accept still goes through one thread, and every
 * connection still lives in the process's ONE fd table, because the
 * acceptor opens every fd and the loops must be able to use it. So
 * RLIMIT_NOFILE caps the whole server (20,000 here, not raisable), which it
 * says at start; past it, accept() fails with EMFILE, the acceptor warns
 * once and sleeps 100 ms between tries, and the rest wait in the backlog.
 *
 * Contrast 06: there each loop has its own SO_REUSEPORT listener and
 * accepts for itself, so there is no hand-over at all, and each loop
 * unshare()s its own fd table, which is what takes one process past the
 * per-table limit to 1M connections. Sharing one table is the price of
 * one thread opening fds that other threads use.
 *
 * usage: server [-a ADDR] [-p PORT] [-c N] [-i SEC] [-h]
 *
 * test with:
 *   ./05_multi_epoll_client/server -c 2 &
 *   ./05_multi_epoll_client/client -n 1000 -d 5
 *
 * sample output (stderr, a loaded 2-core box; then the JSON line on stdout
 * at SIGTERM):
 *   05_multi_epoll_client/server: one fd table holds every connection:
 *     about 19968 (RLIMIT_NOFILE 20000, the hard limit). Beyond that ...
 *   05_multi_epoll_client/server: listening on 127.0.0.1:8972, 1 acceptor + 2 epoll loops
 *   conns 1000  rps 28211  accepted 1000  resets 0  errors 0
 *   {"design":"05_multi_epoll_client","conns_peak":1000,"requests":155005,...}
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "c1m.h"

#define FD_RESERVE	32	/* epoll fds, listener, stdio, slack */
#define MAX_EVENTS	512
#define BUF_SIZE	16384	/* per loop, not per connection */

/* The per-connection state: 16 bytes, in the owning loop's array by fd. */
struct conn {
	struct echo_conn echo;	/* bytes read but not yet written back */
};

struct loop {
	pthread_t thread;
	int ep;			/* this loop's epoll set */
	struct stats_slot *st;
	struct conn *conns;	/* cfg.fd_limit entries: any fd of the table */
	char buf[BUF_SIZE];
};

static struct srv_cfg cfg;
static struct srv_acceptor acc;	/* the one listener */
static struct loop *loops;

/* ---- the acceptor thread: accept, pick a loop, hand over ---- */

static void *acceptor_run(void *arg)
{
	unsigned next = 0;
	int fd;

	(void)arg;
	while ((fd = srv_accept_next(&acc)) >= 0) {	/* sleeps in accept() */
		struct loop *l = &loops[next++ % (unsigned)cfg.loops];

		srv_accept_add(l->ep, fd, l->st);	/* into that loop's set */
	}
	return NULL;
}

/* ---- a loop thread: wait, echo, repeat ---- */

static void *loop_run(void *arg)
{
	struct loop *l = arg;
	struct epoll_event ev[MAX_EVENTS];

	while (!atomic_load_explicit(&sig_stop, memory_order_relaxed)) {
		int n = epoll_wait(l->ep, ev, MAX_EVENTS, 100);

		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			echo_event(l->ep, fd, ev[i].events, &l->conns[fd].echo,
				   l->buf, sizeof(l->buf), l->st);
		}
	}
	return NULL;
}

/* ---- main ---- */

static void report_loops(struct json *j)
{
	json_i64(j, "loops", cfg.loops);
}

int main(int argc, char **argv)
{
	static const struct srv_design design = {
		.name = "05_multi_epoll_client",
		.summary = "one acceptor thread handing connections round-robin to N epoll loops",
		.loops_help = "epoll loops (default: the CPU count)",
	};
	struct stats_slot *slots;
	pthread_t acceptor;

	srv_parse(argc, argv, &design, &cfg);
	srv_listen(&cfg, 1, &acc.lfd);
	srv_one_table(&cfg, FD_RESERVE);	/* one table, whatever -c is */
	if (!cfg.loops)
		cfg.loops = (int)sysconf(_SC_NPROCESSORS_ONLN);
	sig_setup();
	slots = stats_init(design.name, cfg.loops, cfg.interval);
	loops = calloc((size_t)cfg.loops, sizeof(*loops));
	if (!loops)
		die("calloc:");
	for (int i = 0; i < cfg.loops; i++) {
		struct loop *l = &loops[i];

		l->st = &slots[i];
		l->ep = epoll_create1(EPOLL_CLOEXEC);
		l->conns = calloc((size_t)cfg.fd_limit, sizeof(struct conn));
		if (l->ep < 0 || !l->conns)
			die("loop %d setup:", i);
		if ((errno = pthread_create(&l->thread, NULL, loop_run, l)))
			die("pthread_create:");
	}
	if ((errno = pthread_create(&acceptor, NULL, acceptor_run, NULL)))
		die("pthread_create:");
	srv_listening(&cfg, "1 acceptor + %d epoll loops", cfg.loops);

	stats_run(NULL);		/* until SIGINT/SIGTERM */
	srv_accept_stop(&acc);		/* wakes the acceptor out of accept() */
	pthread_join(acceptor, NULL);
	for (int i = 0; i < cfg.loops; i++)
		pthread_join(loops[i].thread, NULL);
	srv_report(report_loops);
	return 0;
}
