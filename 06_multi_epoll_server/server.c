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
 * 20,000 fds: 64 loops x ~19,970 = 1.27M connections in one process. Per
 * connection the server keeps 16 bytes (struct conn) in a flat array
 * indexed by fd, plus the kernel's ~4 KB socket. `-n 1000000` sizes the
 * loops for a million.
 *
 * What every loop must get right, as every server in the suite must: frames
 * split or coalesced (bytes are echoed, never parsed), short writes (park
 * the rest, wait for EPOLLOUT, stop reading that one), EOF and resets (cost
 * that connection only), and EMFILE on accept (pause accepting instead of
 * spinning on a listener that stays readable). common/echo.c and
 * common/server.c hold those steps, shared with the other epoll servers.
 *
 * usage: server [-a ADDR] [-p PORT] [-c N] [-n CONNS] [-i SEC] [-h]
 *
 * test with:
 *   ./06_multi_epoll_server/server &
 *   ./05_multi_epoll_client/client -n 1000 -d 5
 *
 * sample output (stderr; then the JSON line on stdout at SIGTERM):
 *   06_multi_epoll_server/server: listening on 127.0.0.1:8972, 2 loops x 19968 fds
 *   conns 1000  rps 67363  accepted 1000  errors 0
 *   {"design":"06_multi_epoll_server","conns_peak":1000,"requests":202842,...}
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "c1m.h"

#define FD_RESERVE	32	/* per table: epoll fd, stdio, slack */
#define MAX_EVENTS	512
#define BUF_SIZE	16384	/* per loop, not per connection */

static struct srv_cfg cfg;

/* The per-connection state: 16 bytes, in a per-loop array indexed by fd. */
struct conn {
	struct echo_conn echo;	/* bytes read but not yet written back */
};

struct loop {
	pthread_t thread;
	struct srv_acceptor acc;	/* this loop's listener and epoll set */
	struct conn *conns;		/* cfg.fd_limit entries */
	char buf[BUF_SIZE];
};

static struct loop *loops;
static int *lfds;

/* ---- the loop ---- */

static void *loop_run(void *arg)
{
	struct loop *l = arg;
	struct epoll_event ev[MAX_EVENTS];

	/* Our own fd table, so our connections count against our own limit
	 * (it starts as a copy of main's: the other loops' listeners are
	 * dropped), our own epoll set, and our own listener in it. */
	srv_loop_begin(&l->acc, lfds, cfg.loops);

	while (!atomic_load_explicit(&sig_stop, memory_order_relaxed)) {
		int n = epoll_wait(l->acc.ep, ev, MAX_EVENTS, 100);

		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			if (fd == l->acc.lfd)
				srv_accept_ready(&l->acc);
			else
				echo_event(l->acc.ep, fd, ev[i].events, &l->conns[fd].echo,
					   l->buf, sizeof(l->buf), l->acc.st);
		}
		srv_accept_resume(&l->acc);	/* after an EMFILE pause */
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
		.name = "06_multi_epoll_server",
		.summary = "SO_REUSEPORT listeners, one epoll loop and fd table each",
		.loops_help = "epoll loops (default: the CPU count, more if -n needs them)",
		.conns_help = "connections to make room for; sizes the default -c",
	};
	struct stats_slot *slots;

	srv_parse(argc, argv, &design, &cfg);
	/* Size the loops to the fd limit and open every listener up front, so
	 * a busy port fails here, before any thread starts. */
	slots = srv_start_loops(&cfg, design.name, FD_RESERVE, &lfds);
	loops = calloc((size_t)cfg.loops, sizeof(*loops));
	if (!loops)
		die("calloc:");
	for (int i = 0; i < cfg.loops; i++) {
		struct loop *l = &loops[i];

		l->acc = (struct srv_acceptor){ .id = i, .lfd = lfds[i], .st = &slots[i] };
		l->conns = calloc((size_t)cfg.fd_limit, sizeof(struct conn));
		if (!l->conns)
			die("calloc:");
		if ((errno = pthread_create(&l->thread, NULL, loop_run, l)))
			die("pthread_create:");
	}
	srv_listening(&cfg, "%d loops x %ld fds", cfg.loops, cfg.fd_limit - FD_RESERVE);

	stats_run(NULL);	/* until SIGINT/SIGTERM */
	for (int i = 0; i < cfg.loops; i++)
		pthread_join(loops[i].thread, NULL);
	srv_report(report_loops);
	return 0;
}
