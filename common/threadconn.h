/*
 * threadconn.h - the thread-per-connection echo server that
 * 01_thread_per_conn and 09_few_clients both run (common/threadconn.c).
 *
 * Acceptor threads (one per listener) take each new connection and start
 * one detached thread for it; that thread does blocking recv() and send()
 * until EOF (the echo, or the design's own serve()). The echo designs
 * differ only in the knobs below: 01 tunes for idle memory (tiny stacks,
 * tiny buffers), 09 for throughput.
 */
#ifndef C1M_THREADCONN_H
#define C1M_THREADCONN_H

#include <stddef.h>

#include "c1m.h"

struct tc_server {
	const int *lfds;	/* listeners, one acceptor thread each */
	int nlisten;
	size_t stack_size;	/* per connection thread; 0 = the libc default */
	size_t buf_size;	/* read buffer, on that thread's stack */
	int nodelay;		/* TCP_NODELAY on every connection */
	struct stats_slot *slots;	/* a connection counts in slots[fd % nslots] */
	int nslots;
	long fd_limit;		/* RLIMIT_NOFILE in force (sizes the fd registry) */
	/*
	 * Optional: the connection's whole life on its thread instead of the
	 * echo, e.g. a design that works on each request before replying.
	 * Blocking I/O on fd until EOF (return 0) or an error (-1); it must
	 * not close fd.
	 */
	int (*serve)(int fd, struct stats_slot *st, void *arg);
	void *arg;
};

/*
 * Start the acceptor threads. Each waits for connections (polling so it
 * sees sig_stop), starts a detached thread per connection, and on EMFILE
 * or a failed pthread_create closes/keeps the connection in the backlog
 * and pauses TC_PAUSE_MS instead of spinning, warning once per episode.
 */
#define TC_PAUSE_MS 100
void tc_start(struct tc_server *s);
/*
 * After sig_stop: join the acceptors, shut down every live connection so
 * threads blocked in recv() or send() return, and wait (up to ~2 s) for
 * them to exit.
 */
void tc_stop(void);
/* Connection threads alive now, and the most alive at once. */
long tc_threads(void);
long tc_threads_peak(void);
/* The stack size threads really get (sanitizer builds need more). */
size_t tc_stack_size(void);
/* For stats_set_line(): "  threads N  rss_kb K". */
void tc_line(FILE *f);
/* Adds threads_peak, stack_kb and buf_bytes to the result JSON. */
void tc_json(struct json *j);

#endif
