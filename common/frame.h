/*
 * frame.h - servers that act on whole requests (10-13). An echo server
 * (06) never looks at the bytes; these must, because each 8-byte frame
 * is one request that first waits (10, 11) or proves work (12, 13) and
 * only then is echoed. So the server finds frame boundaries itself:
 * frames arrive split over reads or several in one read.
 *
 * The per-connection state is the frame being assembled and how much of
 * it has been written back: 10 bytes. A connection reads at most one
 * frame at a time (recv of the bytes still missing), so frames that
 * arrived behind it wait in the kernel's socket buffer, not in ours; and
 * the reply, when the peer is slow to read, is those same 8 bytes, so a
 * short write needs no malloc.
 *
 * Two ways to drive it: frame_event() for a non-blocking socket in an
 * epoll loop, frame_serve() for a blocking socket in a thread of its own.
 */
#ifndef C1M_FRAME_H
#define C1M_FRAME_H

#include <stdint.h>

#include "c1m.h"
#include "sha256.h"
#include "threadconn.h"

struct frame_conn {
	uint8_t buf[FRAME_SIZE];	/* the request, then the reply */
	uint8_t have;			/* bytes of buf read */
	uint8_t sent;			/* bytes of buf written back */
};

#define FRAME_PARKED	1	/* a work fn's "I kept it; frame_resume later" */

/*
 * What a design does with one whole request (in c->buf), before the echo.
 * Returns 0 to have it echoed now, or FRAME_PARKED (epoll only) when it
 * keeps the connection to finish later with frame_resume(). Counts its
 * work in st->work.
 */
struct frame_work {
	int (*fn)(const struct frame_work *w, int fd, struct frame_conn *c,
		  struct stats_slot *st);
	long usec;	/* frame_sleep: the wait per request */
	int bits;	/* frame_pow: leading zero bits per proof */
	void *arg;	/* the design's own (10: its loop) */
};

/* The design flags of 10-13: -w USEC into *var (0..1 s), -b BITS into *var. */
#define FRAME_FLAG_WAIT(var, where)						\
	{ .opt = 'w', .arg = "USEC", .min = 0, .max = 1000000, .num = (var),	\
	  .help = "wait per request" where " (default 10000)" }
#define FRAME_FLAG_BITS(var)							\
	{ .opt = 'b', .arg = "BITS", .min = 0, .max = POW_MAX_BITS, .num = (var), \
	  .help = "proof of work per request: leading zero bits (default 12)" }

/* Work: usleep(w->usec) in the calling thread; one unit of work per wait. */
int frame_sleep(const struct frame_work *w, int fd, struct frame_conn *c,
		struct stats_slot *st);
/* Work: a proof of w->bits salted with the request (sha256.h); work = hashes. */
int frame_pow(const struct frame_work *w, int fd, struct frame_conn *c,
	      struct stats_slot *st);

/*
 * The per-event step of an epoll frame server, level-triggered, fd watched
 * for EPOLLIN or (while a reply is stuck) EPOLLOUT:
 *  - EPOLLOUT: send the rest of the reply; once sent, watch EPOLLIN again.
 *  - else: read towards one frame; when whole, run w->fn and echo it. A
 *    short write parks the rest and watches EPOLLOUT only (a peer that
 *    does not read is not read from). One frame per event, so one busy
 *    peer cannot hold the loop: level-triggered epoll reports the rest.
 *  - FRAME_PARKED: the fd leaves the epoll set until frame_resume(), so
 *    nothing (not even a hangup) is reported for it while it waits.
 * EOF: a partial frame is echoed as it is, best effort, then the
 * connection closes. Errors close it and count in st (resets apart, see
 * stats_conn_closed). Returns 0 while
 * the connection stays open, -1 once it is closed.
 */
int frame_event(int ep, int fd, uint32_t events, struct frame_conn *c,
		const struct frame_work *w, struct stats_slot *st);
/* A parked request is done: echo it and put fd back in ep. 0 or -1 (closed). */
int frame_resume(int ep, int fd, struct frame_conn *c, struct stats_slot *st);
/* Close a connection: forget its state, close the fd, count it by err (0 = EOF). */
void frame_close(int fd, struct frame_conn *c, struct stats_slot *st, int err);

/*
 * A blocking socket in its own thread: read a frame, work, echo, until EOF
 * or an error. arg is the struct frame_work. Returns 0 at EOF, -1 with
 * errno on an error; the caller closes fd (the serve() hook of
 * threadconn.h). Blocking I/O makes a short write wait here, for this
 * connection only.
 */
int frame_serve(int fd, struct stats_slot *st, void *arg);
/*
 * The setup 11 and 13 share: a thread per connection (threadconn.h, one
 * acceptor, stacks of stack_size) whose serve() is frame_serve with w.
 * Raises RLIMIT_NOFILE into cfg->fd_limit, listens on cfg (exit 1 if the
 * port is busy), makes the stats slots of design `name` (the interval
 * line shows threads) and starts accepting. Stop it with tc_stop().
 */
void frame_threads_start(struct tc_server *tc, struct srv_cfg *cfg, const char *name,
			 struct frame_work *w, size_t stack_size);

/*
 * For the cpu-bound designs: print "one proof of B bits = 2^B hashes on
 * average, ~T ms at R M hashes/s on this machine" on stderr, and add
 * "bits", "hashes_per_request" and "proof_ms" to a JSON line given the
 * server's stats slots.
 */
void frame_pow_announce(int bits);
void frame_pow_json(struct json *j, int bits, const struct stats_slot *slots, int nslots);

#endif
