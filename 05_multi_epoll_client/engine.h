/*
 * engine.h - the c1m client engine (05_multi_epoll_client/engine.c) behind
 * one struct and one call. Every design's client.c is a short main: it
 * fills a struct client_design with its name and defaults and calls
 * client_main(), which parses the command line, runs, prints the JSON
 * line and exits. The options and their help come from one table in
 * engine.c, so every client's -h lists every option.
 *
 * The JSON's "design" is the directory of the client.c that was built
 * ("05_multi_epoll_client", "07_prefork"): one rule for every client
 * (tests/workloads.sh checks it against each client's -L).
 *
 * The constants below are the ramp and drain of both client designs.
 * 04_epoll_client/client.c (the single-loop lesson) keeps copies, so that
 * it builds alone from its build line; tests/workloads.sh (client-consts)
 * fails if the two drift apart.
 */
#ifndef C1M_ENGINE_H
#define C1M_ENGINE_H

struct client_design {
	const char *design;	/* its directory: the JSON's "design" */
	const char *summary;	/* -h's first line */
	long conns;		/* default -n */
	int loops;		/* default -c: 0 = from -n and the fd limit */
	int max_loops;		/* most -c: 0 = no limit, 1 = the single-loop 02, 03 */
	double rate;		/* default -r: 0 = closed loop */
	void (*check)(void);	/* may exit 77: the design cannot run here (14) */
};

/* Parse argv, run, print one JSON line on stdout, exit: 0 only with every
 * connection up and every request answered with its own bytes, 1
 * otherwise, 2 on a bad command line. */
void client_main(const struct client_design *d, int argc, char **argv)
	__attribute__((noreturn));

/* ---- the same in 04_epoll_client/client.c ---- */
#define RAMP_INFLIGHT	512	/* connects in flight per loop */
#define FD_RESERVE	32	/* fds per table kept for epoll, stdio, ... */
/*
 * Default connections per source address. connect() picks even ports
 * first (half of the 28K default range), and once those run short every
 * connect scans the rest: measured here, 50K connections ramp at 3K conn/s
 * with 20,000 per address and at 29K conn/s with 2,000.
 */
#define PER_SRC_ADDR	2000
#define STALL_S		15.0	/* ramp gives up after this long with no progress */
#define MAX_EVENTS	512
#define IDLE_WAIT_NS	20000000	/* epoll_pwait2 at most this long: 20 ms */
#define DRAIN_S		2.0	/* at stop, wait this long past the last reply */
#define FIRST_STALL_S	3.0	/* first round: open anyway after this long with no new reply */
#define LATE_NS		1000000ull	/* rate mode: a send this late counts as late */
#define QUEUE_S		10	/* rate mode: a due request waits this long at most */
/*
 * From this many connections on, close with SO_LINGER 0 (an RST): 1M
 * normal closes would leave 1M TIME_WAIT sockets for 60 s. Below it, close
 * politely so the server sees EOFs, not resets.
 */
#define LINGER0_FROM	10000

#endif
