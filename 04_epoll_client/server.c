/*
 * 04_epoll_client server - the single-loop echo server, edge-triggered.
 * This directory is about its client (one epoll loop driving every
 * connection); its server teaches the other epoll mode, EPOLLET.
 *
 * Level-triggered (every other epoll server here): epoll_wait reports a socket
 * for as long as it is readable. Read some, leave some, and it comes back
 * next round. Edge-triggered: epoll_wait reports a socket once per CHANGE,
 * when new bytes arrive (or room opens up to write). Whatever is left
 * unread after that is not reported again until the peer sends more.
 *
 * So with EPOLLET, reading until recv() says EAGAIN is mandatory: only
 * EAGAIN proves nothing is pending, so that the next change raises a new
 * edge. A missed EAGAIN costs a connection, silently:
 *  - stop with a request unread and it is never echoed; a ping-pong client
 *    waits for that reply forever and sends nothing that would raise an edge;
 *  - stop at a short read, the shortcut the level-triggered servers take
 *    (common/echo.c), and a FIN queued behind the data goes unseen: the
 *    short read returns the data, only the NEXT read returns EOF, and no
 *    edge comes for it. A peer that half-closes after its last request
 *    waits forever for our close, and our fd sits in CLOSE-WAIT for good
 *    (bulk-04 in tests/epoll-line.cases caught exactly this).
 * Nothing fails; a connection just stops. The extra recv() that returns
 * EAGAIN is what edge-triggering costs per event. (Registering EPOLLRDHUP
 * lets a server see a pending FIN in the event mask and skip that read;
 * reading on to EAGAIN is the rule that cannot be got wrong.)
 *
 * The same rule makes fairness harder: one peer that keeps its socket full
 * would keep us reading forever. So on_edge() reads at most READ_BUDGET
 * times, and if bytes may be left it re-arms the fd with EPOLL_CTL_MOD,
 * which re-checks the socket and queues a fresh event when it is still
 * readable: the connection comes back after the others had their turn.
 *
 * What edge-triggering buys: the interest is set once at accept (EPOLLIN |
 * EPOLLOUT | EPOLLET) and never changed, where the level-triggered servers
 * call epoll_ctl to swap EPOLLIN for EPOLLOUT around every short write,
 * and epoll_wait does not re-poll every reported socket on the next round.
 * The price: every path must run to EAGAIN, including the one where a
 * short write stops reading (the EPOLLOUT edge must flush AND read on).
 *
 * Everything else is 03's single-loop server: one epoll set with the
 * listener in it, one fd table (RLIMIT_NOFILE caps it, said at start;
 * EMFILE pauses accepting), 16 bytes per connection, and split or
 * coalesced frames, short writes, EOF and resets handled.
 *
 * usage: server [-a ADDR] [-p PORT] [-i SEC] [-h]
 *
 * test with:
 *   ./04_epoll_client/server &
 *   ./04_epoll_client/client -n 1000 -d 10
 *
 * sample output (stderr, a loaded 2-core box; then the JSON line on stdout
 * at SIGTERM):
 *   04_epoll_client/server: one fd table holds every connection:
 *     about 19968 (RLIMIT_NOFILE 20000, the hard limit). Beyond that ...
 *   04_epoll_client/server: listening on 127.0.0.1:8972, 1 edge-triggered epoll loop
 *   conns 1000  rps 38011  accepted 1000  resets 0  errors 0
 *   {"design":"04_epoll_client","conns_peak":1000,"requests":360590,...}
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "c1m.h"

#define FD_RESERVE	32	/* epoll fd, listener, stdio, slack */
#define MAX_EVENTS	512
#define BUF_SIZE	16384
#define READ_BUDGET	16	/* reads per edge before others get a turn */
#define ET_EVENTS	(EPOLLIN | EPOLLOUT | EPOLLET)	/* set once, never changed */

/* The per-connection state: 16 bytes, in a flat array indexed by fd. */
struct conn {
	struct echo_conn echo;	/* bytes read but not yet written back */
};

static struct srv_cfg cfg;
static struct srv_acceptor acc;	/* the listener (level-triggered) and THE set */
static struct conn *conns;	/* cfg.fd_limit entries: every fd fits */
static char buf[BUF_SIZE];

/* ---- one edge ---- */

/*
 * Something changed on fd: it became readable, or writable again. Flush
 * what is parked first (until that is gone we read nothing: a slow reader
 * must not make us buffer without bound), then read and echo until EAGAIN.
 */
static enum echo_result on_edge(int fd, struct echo_conn *c, uint64_t *bytes)
{
	struct epoll_event ev = { .events = ET_EVENTS, .data.fd = fd };
	enum echo_result r;

	if (c->pend && (r = echo_on_writable(c, fd, bytes)) != ECHO_OPEN)
		return r;	/* still full: the next EPOLLOUT edge brings us back */
	for (int i = 0; i < READ_BUDGET; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n == 0) {
			errno = 0;
			return ECHO_CLOSE;	/* EOF, everything echoed */
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)	/* EAGAIN: empty, the next byte is a new edge */
			return errno == EAGAIN ? ECHO_OPEN : ECHO_CLOSE;
		r = echo_write(c, fd, buf, (size_t)n, bytes);
		if (r != ECHO_OPEN)
			return r;	/* BLOCKED: wait for the EPOLLOUT edge */
		/* A short read is NOT the end: a FIN may be queued behind it. */
	}
	/* Budget spent, bytes maybe left: no edge would come for them. */
	epoll_ctl(acc.ep, EPOLL_CTL_MOD, fd, &ev);
	return ECHO_OPEN;
}

/* ---- the loop ---- */

static void *loop_run(void *arg)
{
	struct epoll_event ev[MAX_EVENTS];

	(void)arg;
	while (!atomic_load_explicit(&sig_stop, memory_order_relaxed)) {
		int n = epoll_wait(acc.ep, ev, MAX_EVENTS, 100);
		uint64_t bytes = 0;

		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;
			struct echo_conn *c = &conns[fd].echo;

			if (fd == acc.lfd)
				srv_accept_ready(&acc);	/* adds fds with ET_EVENTS */
			else if (on_edge(fd, c, &bytes) == ECHO_CLOSE)
				echo_close(fd, c, acc.st, errno != 0);
		}
		atomic_fetch_add_explicit(&acc.st->bytes, bytes, memory_order_relaxed);
		srv_accept_resume(&acc);	/* after an EMFILE pause */
	}
	return NULL;
}

/* ---- main ---- */

int main(int argc, char **argv)
{
	static const struct srv_design design = {
		.name = "04_epoll_client",
		.summary = "one edge-triggered (EPOLLET) epoll loop echoing every connection",
	};
	pthread_t loop;

	srv_parse(argc, argv, &design, &cfg);
	srv_listen(&cfg, 1, &acc.lfd);
	srv_one_table(&cfg, FD_RESERVE);	/* says how far one table goes */
	sig_setup();
	acc.st = stats_init(design.name, 1, cfg.interval);
	acc.ep = epoll_create1(EPOLL_CLOEXEC);
	acc.conn_events = EPOLLOUT | EPOLLET;	/* with EPOLLIN: ET_EVENTS */
	conns = calloc((size_t)cfg.fd_limit, sizeof(*conns));
	if (acc.ep < 0 || !conns)
		die("setup:");
	srv_accept_start(&acc);
	if ((errno = pthread_create(&loop, NULL, loop_run, NULL)))
		die("pthread_create:");
	srv_listening(&cfg, "1 edge-triggered epoll loop");

	stats_run(NULL);	/* until SIGINT/SIGTERM */
	pthread_join(loop, NULL);
	srv_report(NULL);
	return 0;
}
