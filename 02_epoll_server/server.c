/*
 * 02_epoll_server - one acceptor thread, one epoll set, one loop thread.
 *
 * The design (the original's second program): a thread sleeps in a
 * blocking accept() and adds each new connection to ONE epoll set; a
 * second thread waits on that set and echoes whatever is readable. Two
 * threads, whatever the number of connections: a connection costs no
 * thread and no stack, only its kernel socket (~4 KB) and 16 bytes here
 * (struct conn, in a flat array indexed by fd). epoll_ctl() is safe to call
 * while another thread sits in epoll_wait() on the same set, so the
 * hand-over needs no lock and no queue.
 *
 * Why it stops scaling: one loop thread does every read and write, so it
 * uses one core however many the box has (06 runs one loop per core), and
 * every connection lives in one fd table. RLIMIT_NOFILE caps that table:
 * here the hard limit is 20,000 and cannot be raised, so this server holds
 * about 19,968 connections. It says so at start; past it, accept() fails
 * with EMFILE, the acceptor warns once and sleeps 100 ms between tries
 * (no spinning) and the rest wait in the listen backlog until fds free up.
 *
 * Every server in the suite also handles: frames split or coalesced (bytes
 * are echoed, never parsed), short writes (park the rest, wait for
 * EPOLLOUT, stop reading that one), EOF and resets (cost that connection
 * only). common/echo.c holds that step, common/server.c the acceptor.
 *
 * usage: server [-a ADDR] [-p PORT] [-i SEC] [-h]
 *
 * test with:
 *   ./02_epoll_server/server &
 *   ./02_epoll_server/client -n 1000 -d 10	(holds 1,000, pings 200/s)
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
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "c1m.h"

#define FD_RESERVE	32	/* epoll fd, listener, stdio, slack */
#define MAX_EVENTS	512
#define BUF_SIZE	16384	/* one, for the one loop */

/* The per-connection state: 16 bytes, in a flat array indexed by fd. */
struct conn {
	struct echo_conn echo;	/* bytes read but not yet written back */
};

static struct srv_cfg cfg;
static struct srv_acceptor acc;	/* the listener */
static int ep;			/* THE epoll set */
static struct conn *conns;	/* cfg.fd_limit entries: every fd fits */
static struct stats_slot *slot;
static char buf[BUF_SIZE];

/* ---- the acceptor thread: accept, hand over, repeat ---- */

static void *acceptor_run(void *arg)
{
	int fd;

	(void)arg;
	while ((fd = srv_accept_next(&acc)) >= 0)	/* sleeps in accept() */
		srv_accept_add(ep, fd, slot);		/* EPOLL_CTL_ADD to the set */
	return NULL;
}

/* ---- the loop thread: wait, echo, repeat ---- */

static void *loop_run(void *arg)
{
	struct epoll_event ev[MAX_EVENTS];

	(void)arg;
	while (!atomic_load_explicit(&sig_stop, memory_order_relaxed)) {
		int n = epoll_wait(ep, ev, MAX_EVENTS, 100);

		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			echo_event(ep, fd, ev[i].events, &conns[fd].echo, buf, sizeof(buf), slot);
		}
	}
	return NULL;
}

/* ---- main ---- */

int main(int argc, char **argv)
{
	static const struct srv_design design = {
		.name = "02_epoll_server",
		.summary = "one acceptor thread feeding one epoll set, one loop thread echoing",
	};
	pthread_t acceptor, loop;

	srv_parse(argc, argv, &design, &cfg);
	srv_listen(&cfg, 1, &acc.lfd);
	srv_one_table(&cfg, FD_RESERVE);	/* says how far one table goes */
	sig_setup();
	slot = stats_init(design.name, 1, cfg.interval);
	acc.st = slot;
	ep = epoll_create1(EPOLL_CLOEXEC);
	conns = calloc((size_t)cfg.fd_limit, sizeof(*conns));
	if (ep < 0 || !conns)
		die("setup:");
	if ((errno = pthread_create(&loop, NULL, loop_run, NULL)) ||
	    (errno = pthread_create(&acceptor, NULL, acceptor_run, NULL)))
		die("pthread_create:");
	srv_listening(&cfg, "1 acceptor + 1 epoll loop");

	stats_run(NULL);		/* until SIGINT/SIGTERM */
	srv_accept_stop(&acc);		/* wakes the acceptor out of accept() */
	pthread_join(acceptor, NULL);
	pthread_join(loop, NULL);
	srv_report(NULL);
	return 0;
}
