/*
 * 03_epoll_throughput - everything in one thread: the listener, every
 * connection, the throughput meter and the signal check share one epoll
 * loop. `ps -T` shows a single thread.
 *
 * The design, the way redis' ae loop works: the listening socket sits in
 * the same epoll set as the connections, so "a client is connecting" is
 * just another readable fd, handled between two echoes (srv_accept_ready).
 * Every 100 ms the loop also runs its housekeeping, as redis' serverCron
 * does: the meter (requests/s on stderr every -i seconds, and the peak and
 * busy window behind the JSON), resuming accept after an EMFILE pause, and
 * noticing SIGINT/SIGTERM. No locks, no queues, no other thread to wake:
 * the cheapest a server can be per request, which is why this is the
 * throughput reference for the suite.
 *
 * Why it stops scaling: one thread is one core. With the client on the
 * other core, that is the best one loop does; 06 runs this same loop once
 * per core, each with its own listener (SO_REUSEPORT) and fd table. And
 * every connection lives in this process's one fd table: RLIMIT_NOFILE
 * caps it (20,000 here, not raisable), which it says at start. Past it,
 * accept() fails with EMFILE and the listener leaves the epoll set for
 * 100 ms at a time with a warning (a level-triggered listener that stays
 * readable would otherwise spin the loop at 100% CPU).
 *
 * Per connection: 16 bytes (struct conn) in a flat array indexed by fd.
 * common/echo.c holds the per-event step (split and coalesced frames,
 * short writes, EOF, resets) shared with the other epoll servers.
 *
 * usage: server [-a ADDR] [-p PORT] [-i SEC] [-h]
 *
 * test with:
 *   ./03_epoll_throughput/server &
 *   ./03_epoll_throughput/client -n 1000 -d 10
 *
 * sample output (stderr, a loaded 2-core box; then the JSON line on stdout
 * at SIGTERM):
 *   03_epoll_throughput/server: one fd table holds every connection:
 *     about 19968 (RLIMIT_NOFILE 20000, the hard limit). Beyond that ...
 *   03_epoll_throughput/server: listening on 127.0.0.1:8972, one thread: accept, echo, meter
 *   conns 1000  rps 28963  accepted 1000  resets 0  errors 0
 *   {"design":"03_epoll_throughput","conns_peak":1000,"requests":278137,...}
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "c1m.h"

#define FD_RESERVE	32	/* epoll fd, listener, stdio, slack */
#define MAX_EVENTS	512
#define BUF_SIZE	16384
#define TICK_NS		100000000ull	/* housekeeping every 100 ms */

/* The per-connection state: 16 bytes, in a flat array indexed by fd. */
struct conn {
	struct echo_conn echo;	/* bytes read but not yet written back */
};

static struct srv_cfg cfg;
static struct srv_acceptor acc;	/* the listener, and THE epoll set (acc.ep) */
static struct conn *conns;	/* cfg.fd_limit entries: every fd fits */
static char buf[BUF_SIZE];

/* ---- housekeeping, between two rounds of events ---- */

static void every_100ms(void)
{
	srv_accept_resume(&acc);	/* after an EMFILE pause */
	stats_tick();			/* the meter */
	sig_wait(0);			/* SIGINT/SIGTERM pending? sets sig_stop */
}

/* ---- the loop: the whole server ---- */

static void run(void)
{
	struct epoll_event ev[MAX_EVENTS];
	uint64_t next_tick = clock_ns() + TICK_NS;

	while (!atomic_load_explicit(&sig_stop, memory_order_relaxed)) {
		int n = epoll_wait(acc.ep, ev, MAX_EVENTS, TICK_NS / 1000000);

		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			if (fd == acc.lfd)	/* new connections: one more event */
				srv_accept_ready(&acc);
			else
				echo_event(acc.ep, fd, ev[i].events, &conns[fd].echo,
					   buf, sizeof(buf), acc.st);
		}
		if (clock_ns() >= next_tick) {
			every_100ms();
			next_tick = clock_ns() + TICK_NS;
		}
	}
}

/* ---- main ---- */

int main(int argc, char **argv)
{
	static const struct srv_design design = {
		.name = "03_epoll_throughput",
		.summary = "one thread: listener and connections in one epoll set, plus the meter",
	};

	srv_parse(argc, argv, &design, &cfg);
	srv_listen(&cfg, 1, &acc.lfd);
	srv_one_table(&cfg, FD_RESERVE);	/* says how far one table goes */
	sig_setup();				/* SIGTERM waits for sig_wait() */
	acc.st = stats_init(design.name, 1, cfg.interval);
	acc.ep = epoll_create1(EPOLL_CLOEXEC);
	conns = calloc((size_t)cfg.fd_limit, sizeof(*conns));
	if (acc.ep < 0 || !conns)
		die("setup:");
	srv_accept_start(&acc);		/* the listener joins the set */
	srv_listening(&cfg, "one thread: accept, echo, meter");

	run();				/* until SIGINT/SIGTERM */
	srv_report(NULL);
	return 0;
}
