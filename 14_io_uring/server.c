/*
 * 14_io_uring - 06's shape (N loops, each with its own SO_REUSEPORT
 * listener and fd table), but every loop is an io_uring instead of an
 * epoll set. The design the Go original never had.
 *
 * What changes compared to 06:
 *
 *  - Completion instead of readiness. 06 asks "which sockets are ready?"
 *    and then makes the calls itself (accept4, recv, send). Here the loop
 *    says once "accept on this listener, until further notice" and
 *    "receive on this socket, until further notice" (multishot requests),
 *    and the kernel reports what it has *done*: a completion carries a new
 *    fd, or the bytes already received and where they are.
 *
 *  - Fewer system calls per request. Sends are queued in the submission
 *    ring and one io_uring_enter() per batch submits them all and waits
 *    for the next completions: for WAIT_BATCH of them, or, once one is
 *    there, for -m USEC more (Linux 6.12's min-wait; a server that is not
 *    saturated would otherwise wake for every completion). 06 makes recv +
 *    send per request plus its epoll_waits: 2.5 system calls per request
 *    at 1,000 connections here; 14 makes 0.11 ("enters_per_req").
 *
 *  - Buffer ownership. An armed receive holds no memory: the kernel takes
 *    a buffer from the loop's provided-buffer ring only when data arrives,
 *    so idle connections pin no receive buffer. The buffer is then the
 *    loop's: it sends the reply straight out of it and gives it back only
 *    when that send has completed (until then the kernel may still read
 *    it). A buffer is in exactly one place: the ring, a completion, a
 *    connection's queue.
 *
 * What io_uring makes subtle, and where it is handled:
 *  - short sends: send the rest; at most one send per connection in
 *    flight, later data queued behind it, so replies stay in order
 *    (on_send);
 *  - the buffer ring running dry: the receive fails with ENOBUFS and its
 *    multishot ends; the connection waits in a FIFO until buffers come
 *    back and is re-armed then (on_recv, rearm_starved); "enobufs";
 *  - multishot ending: a completion without IORING_CQE_F_MORE means no
 *    more will come (also when the completion queue overflowed); re-arm
 *    unless the connection is done (on_recv, on_accept); "rearms";
 *  - close: a request in flight still names the fd, so the loop cancels
 *    them (IORING_OP_ASYNC_CANCEL) and closes only once none is left: the
 *    fd number cannot come back while a completion for it still can;
 *  - a peer that does not read: with MAX_HELD buffers queued for it the
 *    loop cancels its receive (as 06 stops reading it) and re-arms once
 *    its replies have drained; "paused";
 *  - EMFILE: a failed multishot accept ends; it is re-armed only after
 *    SRV_PAUSE_MS, as 06 pauses its listener.
 *
 * Memory per connection: 6 bytes of struct conn in a per-loop array
 * indexed by fd, plus, in the kernel, the socket (~4 KB) and the armed
 * receive (an io_kiocb of 256 bytes and its poll entry). Per loop, whatever
 * the connection count: the rings (0.6 MB) and -B buffers of BUF_SIZE bytes
 * (0.5 MB). `-n 1000000` makes 51 loops here: 43 MB of RSS at the start,
 * ~75 MB once every buffer has been used, so ~75 bytes a connection.
 *
 * usage: server [-a ADDR] [-p PORT] [-c N] [-n CONNS] [-B BUFS] [-m USEC]
 *               [-i SEC] [-h]
 *
 * test with:
 *   ./14_io_uring/server &
 *   ./14_io_uring/client -n 1000 -d 5
 *
 * sample output (stderr; then the JSON line on stdout at SIGTERM):
 *   14_io_uring/server: listening on 127.0.0.1:8972, 2 rings x 19968 fds, 1024 x 512-byte buffers each
 *   conns 1000  rps 65221  accepted 1000  resets 0  errors 0
 *   {"design":"14_io_uring","conns_peak":1000,"requests":281900,"rps":55717.3,...,
 *    "enobufs":0,"short_sends":0,"paused":0,"rearms":0,"enters":30160,"enters_per_req":0.107}
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "c1m.h"
#include "uring.h"

#define FD_RESERVE	32	/* per table: the ring, stdio, slack */
#define SQ_ENTRIES	2048	/* submissions queued before a forced submit */
#define CQ_ENTRIES	32768	/* completions the kernel can post between waits */
#define BUF_SIZE	512	/* one provided buffer: an 8-byte frame needs little */
#define MAX_HELD	4	/* buffers queued for one conn before it stops reading */
#define WAIT_BATCH	32	/* completions worth waiting -m USEC for */
#define NO_BUF		0xffff

/* What a completion is for: user_data = fd << 8 | op. */
enum { OP_ACCEPT = 1, OP_RECV, OP_SEND, OP_CANCEL, OP_CLOSE };

/* struct conn state bits */
enum {
	C_OPEN = 1,	/* the slot holds a connection */
	C_RECV = 2,	/* a multishot receive is armed */
	C_SEND = 4,	/* a send is in flight */
	C_EOF = 8,	/* the peer finished sending: flush, then close */
	C_CLOSE = 16,	/* closing: waiting for requests in flight to end */
	C_PAUSED = 32,	/* receive cancelled: too much queued (slow reader) */
	C_STARVED = 64,	/* in the starved list: re-arm when buffers return */
};

static struct srv_cfg cfg;
static long opt_bufs = 1024;
static long opt_min_wait = 50;

/* Per connection: the buffers waiting to be echoed, oldest first. 6 bytes. */
struct conn {
	uint16_t head, tail;	/* buffer ids, NO_BUF when none */
	uint8_t state;		/* C_* */
	uint8_t held;		/* buffers queued */
};

/* Per buffer: its place in a connection's queue, and how much is sent. */
struct buf {
	uint16_t next;
	uint16_t len, off;
};

struct loop {
	int id, lfd;
	pthread_t thread;
	struct uring ring;
	struct uring_bufs bufs;
	struct buf *meta;		/* opt_bufs entries */
	struct conn *conns;		/* cfg.fd_limit entries, indexed by fd */
	int *starved;			/* FIFO of conns waiting for buffers */
	long starved_head, nstarved;
	uint64_t accept_at;		/* 0 = accepting; else paused (EMFILE) */
	int full;			/* warned for this EMFILE episode */
	struct stats_slot *st;
	uint64_t enobufs, short_sends, paused, rearms;
};

static struct loop *loops;
static int *lfds;

/* ---- submitting ---- */

/* A submission entry for opcode `op` on fd; its completion is `tag`'s. */
static struct io_uring_sqe *sqe(struct loop *l, uint8_t op, int fd, int tag)
{
	struct io_uring_sqe *s = uring_sqe(&l->ring, op, fd, (uint64_t)fd << 8 | tag);

	if (!s)
		die("loop %d: io_uring_enter:", l->id);
	return s;
}

static void arm_accept(struct loop *l)
{
	struct io_uring_sqe *s = sqe(l, IORING_OP_ACCEPT, l->lfd, OP_ACCEPT);

	s->ioprio = IORING_ACCEPT_MULTISHOT;
	s->accept_flags = SOCK_CLOEXEC;
}

static void arm_recv(struct loop *l, int fd)
{
	struct io_uring_sqe *s = sqe(l, IORING_OP_RECV, fd, OP_RECV);

	s->ioprio = IORING_RECV_MULTISHOT;
	s->flags = IOSQE_BUFFER_SELECT;
	s->buf_group = l->bufs.group;
	l->conns[fd].state |= C_RECV;
}

/* Send what is left of the oldest queued buffer. */
static void send_head(struct loop *l, int fd)
{
	struct conn *c = &l->conns[fd];
	struct buf *b = &l->meta[c->head];
	struct io_uring_sqe *s = sqe(l, IORING_OP_SEND, fd, OP_SEND);

	s->addr = (uint64_t)(uintptr_t)(uring_buf(&l->bufs, c->head) + b->off);
	s->len = b->len - b->off;
	s->msg_flags = MSG_NOSIGNAL;
	c->state |= C_SEND;
}

/* Cancel the request whose user_data is `what`; 0: every request on fd. */
static void cancel(struct loop *l, int fd, uint64_t what)
{
	struct io_uring_sqe *s = sqe(l, IORING_OP_ASYNC_CANCEL, fd, OP_CANCEL);

	s->addr = what;
	s->cancel_flags = what ? 0 : IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_ALL;
	s->flags = IOSQE_CQE_SKIP_SUCCESS;
}

/* ---- connections ---- */

/* Drop the oldest queued buffer, handing it back to the kernel. */
static void pop(struct loop *l, struct conn *c)
{
	uint16_t id = c->head;

	c->head = l->meta[id].next;
	if (c->head == NO_BUF)
		c->tail = NO_BUF;
	c->held--;
	uring_buf_give(&l->bufs, id);
}

/* Close once nothing in flight refers to fd any more. */
static void finish(struct loop *l, int fd)
{
	struct conn *c = &l->conns[fd];

	if (!(c->state & C_CLOSE) || (c->state & (C_RECV | C_SEND)))
		return;
	while (c->head != NO_BUF)
		pop(l, c);
	sqe(l, IORING_OP_CLOSE, fd, OP_CLOSE)->flags = IOSQE_CQE_SKIP_SUCCESS;
	c->state &= C_STARVED;	/* the starved list may still name it */
}

/* The connection is over (err: 0 for a clean EOF, else an errno). */
static void close_conn(struct loop *l, int fd, int err)
{
	struct conn *c = &l->conns[fd];

	if (c->state & C_CLOSE)
		return;
	c->state |= C_CLOSE;
	stats_conn_closed(l->st, err);
	if (c->state & (C_RECV | C_SEND))
		cancel(l, fd, 0);
	finish(l, fd);
}

/* A slow reader's replies have drained: read from it again. */
static void resume(struct loop *l, int fd)
{
	struct conn *c = &l->conns[fd];

	if ((c->state & (C_PAUSED | C_RECV | C_CLOSE)) == C_PAUSED && !c->held) {
		c->state &= ~C_PAUSED;
		arm_recv(l, fd);
	}
}

/* ---- completions ---- */

static void on_accept(struct loop *l, struct io_uring_cqe *cqe)
{
	int fd = cqe->res;

	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
			/* Out of fds: leave the backlog in the kernel a while
			 * rather than spin on an accept that keeps failing. */
			errno = -fd;
			if (!l->full)
				warnx_("loop %d: accept at %ld conns: paused:", l->id,
				       (long)atomic_load(&l->st->conns));
			l->full = 1;
			l->accept_at = clock_ns() + SRV_PAUSE_MS * 1000000ull;
		} else {
			arm_accept(l);	/* multishot ended: arm it again */
		}
	}
	if (fd < 0)
		return;
	if (fd >= cfg.fd_limit) {	/* cannot happen under RLIMIT_NOFILE */
		sqe(l, IORING_OP_CLOSE, fd, OP_CLOSE)->flags = IOSQE_CQE_SKIP_SUCCESS;
		return;
	}
	net_set_nodelay(fd);
	l->full = 0;
	l->conns[fd] = (struct conn){ NO_BUF, NO_BUF, C_OPEN | (l->conns[fd].state & C_STARVED), 0 };
	arm_recv(l, fd);
	atomic_fetch_add_explicit(&l->st->conns, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&l->st->accepted, 1, memory_order_relaxed);
}

/* Data arrived in a buffer that is now ours: queue it behind any sends. */
static void on_data(struct loop *l, int fd, unsigned id, int len)
{
	struct conn *c = &l->conns[fd];

	l->meta[id] = (struct buf){ .next = NO_BUF, .len = (uint16_t)len };
	if (c->tail == NO_BUF)
		c->head = (uint16_t)id;
	else
		l->meta[c->tail].next = (uint16_t)id;
	c->tail = (uint16_t)id;
	c->held++;
	if (!(c->state & C_SEND))
		send_head(l, fd);
	if (c->held >= MAX_HELD && !(c->state & C_PAUSED)) {
		c->state |= C_PAUSED;	/* a slow reader: stop reading it */
		l->paused++;
		if (c->state & C_RECV)
			cancel(l, fd, (uint64_t)fd << 8 | OP_RECV);
	}
}

static void on_recv(struct loop *l, int fd, struct io_uring_cqe *cqe)
{
	struct conn *c = &l->conns[fd];

	if (cqe->flags & IORING_CQE_F_BUFFER)
		uring_buf_taken(&l->bufs);
	if (!(cqe->flags & IORING_CQE_F_MORE))
		c->state &= ~C_RECV;
	if (cqe->res > 0 && (c->state & C_CLOSE))
		uring_buf_give(&l->bufs, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
	else if (cqe->res > 0)
		on_data(l, fd, cqe->flags >> IORING_CQE_BUFFER_SHIFT, cqe->res);

	if (c->state & (C_RECV | C_CLOSE)) {
		finish(l, fd);
	} else if (cqe->res == 0) {
		c->state |= C_EOF;	/* flush what is queued, then close */
		if (!(c->state & C_SEND))
			close_conn(l, fd, 0);
	} else if (cqe->res == -ENOBUFS && !(c->state & C_PAUSED)) {
		l->enobufs++;		/* re-armed when buffers come back */
		if (!(c->state & C_STARVED)) {
			c->state |= C_STARVED;
			l->starved[(l->starved_head + l->nstarved++) % cfg.fd_limit] = fd;
		}
	} else if (cqe->res > 0 || cqe->res == -ECANCELED || cqe->res == -ENOBUFS) {
		if (c->state & C_PAUSED) {
			resume(l, fd);
		} else {
			l->rearms++;	/* multishot ended (CQ overflow, ...) */
			arm_recv(l, fd);
		}
	} else {
		close_conn(l, fd, -cqe->res);	/* reset, ... */
	}
}

static void on_send(struct loop *l, int fd, struct io_uring_cqe *cqe)
{
	struct conn *c = &l->conns[fd];
	struct buf *b;

	c->state &= ~C_SEND;
	if (c->state & C_CLOSE)
		return finish(l, fd);
	if (cqe->res <= 0)
		return close_conn(l, fd, cqe->res ? -cqe->res : EIO);	/* reset, ... */
	b = &l->meta[c->head];
	atomic_fetch_add_explicit(&l->st->bytes, (unsigned)cqe->res, memory_order_relaxed);
	b->off += (uint16_t)cqe->res;
	if (b->off < b->len)
		l->short_sends++;	/* the socket took part: send the rest */
	else
		pop(l, c);
	if (c->head != NO_BUF)
		send_head(l, fd);
	else if (c->state & C_EOF)
		close_conn(l, fd, 0);
	else
		resume(l, fd);
}

/*
 * Buffers came back: re-arm connections that found the ring empty, oldest
 * first, and no more than there are buffers (each will take one).
 */
static void rearm_starved(struct loop *l)
{
	for (unsigned n = l->bufs.avail; n && l->nstarved; n--) {
		int fd = l->starved[l->starved_head];
		struct conn *c = &l->conns[fd];

		l->starved_head = (l->starved_head + 1) % cfg.fd_limit;
		l->nstarved--;
		c->state &= ~C_STARVED;
		if ((c->state & (C_OPEN | C_RECV | C_CLOSE | C_PAUSED | C_EOF)) == C_OPEN)
			arm_recv(l, fd);
	}
}

/* ---- the loop ---- */

/*
 * Our own fd table, as in 06, then the ring (its fd goes in that table)
 * and its buffers. Loops set up one at a time: ThreadSanitizer tracks fd
 * numbers process-wide and would take two private tables' fd 5 for one.
 */
static sem_t setup_done;

static void loop_setup(struct loop *l)
{
	if (cfg.loops > 1)
		srv_private_table(l->id, lfds, cfg.loops);
	if (uring_init(&l->ring, SQ_ENTRIES, CQ_ENTRIES) < 0)
		die("loop %d: io_uring_setup:", l->id);
	if (uring_bufs_init(&l->ring, &l->bufs, 0, (unsigned)opt_bufs, BUF_SIZE) < 0)
		die("loop %d: register %ld buffers:", l->id, opt_bufs);
	arm_accept(l);
	sem_post(&setup_done);
}

/* Every completion ready, oldest first. */
static void reap(struct loop *l)
{
	unsigned n = uring_cq_ready(&l->ring);

	for (unsigned i = 0; i < n; i++) {
		/* Copy it and free its slot at once: a handler may have to
		 * submit (a full queue), and the kernel may post more. */
		struct io_uring_cqe cqe = *uring_cqe(&l->ring, 0);
		int fd = (int)(cqe.user_data >> 8);

		uring_cq_advance(&l->ring, 1);
		switch (cqe.user_data & 0xff) {
		case OP_ACCEPT: on_accept(l, &cqe); break;
		case OP_RECV: on_recv(l, fd, &cqe); break;
		case OP_SEND: on_send(l, fd, &cqe); break;
		default: break;	/* a cancel or close that failed: nothing to do */
		}
	}
}

static void *loop_run(void *arg)
{
	struct loop *l = arg;

	loop_setup(l);
	while (!atomic_load_explicit(&sig_stop, memory_order_relaxed)) {
		/* Wait for a batch (or just one completion with -m 0), but
		 * not while starved conns can be re-armed. */
		unsigned wait = opt_min_wait ? WAIT_BATCH : 1;

		if (l->nstarved && l->bufs.avail)
			wait = 0;
		/* Returned buffers first, so the submitted receives can use them. */
		uring_bufs_publish(&l->bufs);
		/* One system call: submit everything queued, and wait for
		 * WAIT_BATCH completions, or -m USEC once there is one. */
		if (uring_enter(&l->ring, wait, (unsigned)opt_min_wait, 100) < 0)
			die("loop %d: io_uring_enter:", l->id);
		reap(l);
		rearm_starved(l);
		if (l->accept_at && clock_ns() >= l->accept_at) {
			l->accept_at = 0;
			arm_accept(l);
		}
	}
	/* The ring stays: exiting the process tears it down and cancels
	 * whatever is in flight. */
	return NULL;
}

/* ---- main ---- */

static void report(struct json *j)
{
	uint64_t e = 0, s = 0, p = 0, r = 0, n = 0;

	for (int i = 0; i < cfg.loops; i++) {
		e += loops[i].enobufs;
		s += loops[i].short_sends;
		p += loops[i].paused;
		r += loops[i].rearms;
		n += loops[i].ring.enters;
	}
	json_i64(j, "loops", cfg.loops);
	json_i64(j, "bufs_per_loop", opt_bufs);
	json_i64(j, "min_wait_us", opt_min_wait);
	json_u64(j, "enobufs", e);
	json_u64(j, "short_sends", s);
	json_u64(j, "paused", p);
	json_u64(j, "rearms", r);
	json_u64(j, "enters", n);
	json_num(j, "enters_per_req", stats_requests() ? (double)n / stats_requests() : 0);
}

/* One thread per loop, each set up before the next starts. */
static void start_loops(struct stats_slot *slots)
{
	loops = calloc((size_t)cfg.loops, sizeof(*loops));
	if (!loops)
		die("calloc:");
	sem_init(&setup_done, 0, 0);
	for (int i = 0; i < cfg.loops; i++) {
		struct loop *l = &loops[i];

		*l = (struct loop){ .id = i, .lfd = lfds[i], .st = &slots[i] };
		l->conns = calloc((size_t)cfg.fd_limit, sizeof(struct conn));
		l->starved = calloc((size_t)cfg.fd_limit, sizeof(int));
		l->meta = calloc((size_t)opt_bufs, sizeof(struct buf));
		if (!l->conns || !l->starved || !l->meta)
			die("calloc:");
		if ((errno = pthread_create(&l->thread, NULL, loop_run, l)))
			die("pthread_create:");
		sem_wait(&setup_done);
	}
}

int main(int argc, char **argv)
{
	static const struct srv_flag flags[] = {
		{ 'B', "BUFS", "provided receive buffers per loop, a power of two "
		  "(default 1024)", 1, 32768, &opt_bufs, NULL, NULL },
		{ 'm', "USEC", "with a completion ready, wait this long for more before "
		  "handling them (default 50; 0: at once)", 0, 1000000, &opt_min_wait, NULL, NULL },
		{ 0 },
	};
	static const struct srv_design design = {
		.name = "14_io_uring",
		.summary = "io_uring loops: multishot accept and receive, provided buffers",
		.loops_help = "io_uring loops (default: the CPU count, more if -n needs them)",
		.conns_help = "connections to make room for; sizes the default -c",
		.flags = flags,
	};
	srv_parse(argc, argv, &design, &cfg);
	if (opt_bufs & (opt_bufs - 1))
		arg_usage_error("-B %ld: not a power of two", opt_bufs);
	uring_check();
	start_loops(srv_start_loops(&cfg, design.name, FD_RESERVE, &lfds));
	srv_listening(&cfg, "%d rings x %ld fds, %ld x %d-byte buffers each", cfg.loops,
		      cfg.fd_limit - FD_RESERVE, opt_bufs, BUF_SIZE);

	stats_run(NULL);	/* until SIGINT/SIGTERM */
	for (int i = 0; i < cfg.loops; i++)
		pthread_join(loops[i].thread, NULL);
	srv_report(report);
	return 0;
}
