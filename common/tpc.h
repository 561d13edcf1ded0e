/*
 * tpc.h - thread per connection, with the per-connection program as a
 * hook: what 11_io_bound_threads and 13_cpu_bound_threads share
 * (common/tpc.c). An acceptor thread takes each new connection and starts
 * one detached thread for it, with a small stack, which runs serve() on
 * the blocking socket until the peer leaves.
 */
#ifndef C1M_TPC_H
#define C1M_TPC_H

#include <stddef.h>

#include "c1m.h"

struct tpc_server {
	size_t stack_size;	/* per connection thread (sanitizer builds get more) */
	/*
	 * The connection's whole life on its own thread: blocking I/O on fd
	 * until EOF (return 0) or an error (return its errno). It must not
	 * close fd.
	 */
	int (*serve)(int fd, struct stats_slot *st, void *arg);
	void *arg;
	int nslots;		/* counter slots; a connection counts in slots[fd % nslots] */
	/* Filled in by tpc_start(): */
	int lfd;		/* the listener */
	long fd_limit;		/* RLIMIT_NOFILE in force: one table holds them all */
	struct stats_slot *slots;
};

/*
 * Raise RLIMIT_NOFILE, listen on cfg's address (exit 1 if busy), make the
 * stats slots for design `name` (with tpc_line in the interval line), and
 * start the acceptor thread. It polls so it sees sig_stop, starts a
 * detached thread per connection (TCP_NODELAY on), and on EMFILE or a
 * failed pthread_create pauses TPC_PAUSE_MS instead of spinning, warning
 * once per episode.
 */
#define TPC_PAUSE_MS 100
void tpc_start(struct tpc_server *s, struct srv_cfg *cfg, const char *name);
/*
 * After sig_stop: join the acceptor, shut down every live connection so
 * threads blocked in recv() or send() return, and wait (up to ~2 s) for
 * them to end.
 */
void tpc_stop(void);
/* For stats_set_line(): "  threads N  rss_kb K". */
void tpc_line(FILE *f);
/* Adds threads_peak and stack_kb to the result JSON. */
void tpc_json(struct json *j);

#endif
