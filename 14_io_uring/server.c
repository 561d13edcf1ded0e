/*
 * 14_io_uring - 06's shape (N loops, each with its own SO_REUSEPORT
 * listener and fd table), but every loop is an io_uring instead of an
 * epoll set. The design the Go original never had.
 *
 * Completion instead of readiness: the loop arms a multishot accept on its
 * listener and a multishot receive on each connection once, and the kernel
 * reports what it has *done* (a new fd; bytes received, and into which
 * buffer). Receives take buffers from a provided-buffer ring only when data
 * arrives, so an idle connection pins none; a reply is sent straight from
 * that buffer, which goes back to the ring once the send has completed.
 * Sends are queued and submitted with the one io_uring_enter() that also
 * waits for the next completions, so the loop enters the kernel far less
 * than once a request ("enters_per_req"; 06 makes recv + send + its waits).
 *
 * What io_uring makes subtle, and where: short sends and one send in
 * flight per connection (on_writable); the buffer ring running dry, ENOBUFS
 * (on_readable, rearm_starved); a multishot that ends without
 * IORING_CQE_F_MORE (on_readable, on_accept); close with requests still in
 * flight, cancelled first (conn_close, conn_finish); a peer that does not
 * read, whose one multishot can take the whole ring before its cancel
 * lands (echo_buf, spill, recv_resume); EMFILE (accept_resume). -F picks
 * features at run time (batch, coop, defer; default defer,batch), each
 * probed and left off if refused; -m USEC waits that long for more
 * completions (6.12). What each buys, measured: docs/io_uring.md. The
 * ring's plumbing is in uring.c; every request the design makes is
 * prepared here.
 *
 * Push (-b/-R): each loop keeps its own schedule (-b: main's broadcast
 * times, the same in every loop; -R: the share of the rate that its
 * connections are of all, 1/loops until it has one) and an
 * IORING_OP_TIMEOUT armed at the next due time (CLOCK_REALTIME, absolute),
 * whose completion wakes the ring's wait like any other. push_event then
 * queues a send to every connection the loop owns (-R: to the next in
 * turn) and the loop's next io_uring_enter submits them all: the batching
 * an epoll loop cannot do, which makes one send() per socket. With -F
 * without batch, each send is its own io_uring_enter, for comparison. In
 * push mode each connection has an out queue (echoes copied out of the
 * receive buffers in whole frames, pushes between them) and at most one
 * send in flight from it; past -Q unsent bytes it is dropped.
 *
 * usage: server [-a ADDR] [-p PORT] [-c N] [-n CONNS] [-B BUFS] [-m USEC]
 *               [-F LIST] [-b SEC | -R RATE] [-l BYTES] [-Q BYTES] [-i SEC]
 *               [-L] [-h]
 * build: cc -std=gnu11 -O2 -pthread -Icommon -o 14_io_uring/server 14_io_uring/server.c 14_io_uring/uring.c common/[a-z]*.c -lm
 * test with: ./14_io_uring/server & ./14_io_uring/client -n 1000 -d 5
 *   push: ./14_io_uring/server -b 1 & python3 tests/pushread.py (tests/pushserv.sh)
 * diff against: 06_multi_epoll_server (the same loops, listeners and fd
 * tables; its readiness handlers become completion handlers here).
 * sample output (stderr; then the JSON line on stdout at SIGTERM):
 *   14_io_uring/server: listening on 127.0.0.1:8972, 2 rings x 19968 fds, 1024 x 512-byte buffers each
 *   conns 1000  rps 65221  accepted 1000  resets 0  errors 0
 *   {"design":"14_io_uring","conns_peak":1000,"requests":281900,...,"enters_per_req":0.107}
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "c1m.h"
#include "uring.h"

#define DESIGN		"14_io_uring"
#define FD_RESERVE	32	/* per table: the ring, stdio, slack */
#define BUF_SIZE	512	/* one provided buffer: an 8-byte frame needs little */
#define PAUSE_MS	100	/* accept pause after EMFILE */
#define TICK_NS		100000000ull	/* longest wait: SIGTERM, the pause end */
#define SQ_ENTRIES	2048	/* submissions queued before a forced submit */
#define CQ_ENTRIES	32768	/* completions the kernel can post between waits */
#define MAX_HELD	4	/* buffers queued for one conn before it stops reading */
#define WAIT_BATCH	32	/* completions worth waiting -m USEC for */
#define NO_BUF		0xffff
#define PUSH_BUDGET	1024	/* -R: pushes a timer completion, then an enter */

/* -F: the io_uring features, each switchable at run time (head comment). */
enum { F_DEFER = 1, F_COOP = 2, F_BATCH = 4, F_ALL = 7, F_DEFAULT = F_DEFER | F_BATCH };
static const char *const feature_names[] = { "defer", "coop", "batch" };
#define NFEATURES	3

static struct {
	const char *addr;
	int port;
	double interval;
	int loops;		/* -c; 0 = size from -n and the CPU count */
	long conns;		/* -n: connections to make room for */
	long bufs;		/* -B: provided buffers per loop */
	long min_wait;		/* -m: microseconds */
	unsigned features;	/* -F: F_* asked for */
	unsigned deny;		/* C1M_URING_DENY: F_* to act refused (a test hook) */
	struct push_plan push;	/* -b | -R, -l, -Q */
} cfg = { C1M_ADDR, C1M_PORT, 5, 0, 0, 1024, 50, F_DEFAULT, 0, PUSH_PLAN_DEFAULT };
static int pushing;		/* -b or -R given: push mode */
static struct push_clock clock0;	/* -b: the broadcasts, from main's start */

/* The F_* in effect: -F, less what a kernel refused (feature_off). */
static _Atomic unsigned features;
static atomic_int min_wait_said;	/* -m's fallback said (ring_setup) */

static long fd_limit;		/* RLIMIT_NOFILE: the fds of each loop's table */

/* What a completion is for: user_data = fd << 8 | op. */
enum { OP_ACCEPT = 1, OP_RECV, OP_SEND, OP_CANCEL, OP_CLOSE, OP_TIMER };

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

/* Per connection: the buffers waiting to be echoed, oldest first. 8 bytes. */
struct conn {
	uint16_t head, tail;	/* buffer ids, NO_BUF when none */
	uint8_t state;		/* C_* */
	uint16_t held;		/* buffers queued */
};

/*
 * Push mode: a connection's out queue, echoes (copied out of the receive
 * buffers) and pushes in whole frames. A send in flight reads from buf:
 * growing it then leaves the old buffer to free when that send is done.
 * One per fd, only in push mode.
 */
struct out {
	char *buf;		/* malloc'd, NULL when drained */
	char *old;		/* the buffer the send in flight reads, if not buf */
	uint32_t len, off, cap;	/* bytes queued, of them sent, room */
	uint32_t scan;		/* frames before it are counted as written */
	uint64_t seq;		/* pushes queued: the last sequence number */
	unsigned char part[FRAME_SIZE];	/* a frame read in part */
	uint8_t part_len;
};

/* Per buffer: its place in a connection's queue, and how much is sent.
 * Ids below cfg.bufs are the ring's; the next cfg.bufs are spill copies. */
struct buf {
	uint16_t next;
	uint16_t len, off;
};

struct loop {
	pthread_t thread;
	int id;				/* loops[id] */
	int lfd;			/* the listener, accepted on by the ring */
	unsigned feat;			/* F_* in effect in this loop */
	struct uring ring;
	struct uring_bufs bufs;		/* the provided receive buffers */
	struct buf *meta;		/* 2 * cfg.bufs entries, indexed by buffer id */
	char *spill;			/* cfg.bufs copies of BUF_SIZE, on first use */
	uint16_t *spill_free;		/* their free ids; nspill of them */
	unsigned nspill;
	struct conn *conns;		/* fd_limit entries, indexed by fd */
	struct out *outs;		/* push mode: fd_limit entries */
	struct push_clock clock;	/* push mode: this loop's schedule */
	struct __kernel_timespec due;	/* its next due time, for IORING_OP_TIMEOUT */
	int max_fd, next_fd;		/* a broadcast's range; -R: whose turn */
	int *starved;			/* FIFO of conns waiting for buffers */
	long starved_head, nstarved;
	struct stats_slot *st;
	uint64_t paused_until;		/* accept paused after EMFILE; 0 = accepting */
	int full;			/* warned for this EMFILE episode */
	uint64_t enobufs, short_sends, paused, rearms, spilled;
	unsigned held_max;		/* the most ring buffers one conn held */
};

static struct loop *loops;	/* cfg.loops of them, a thread each */

/* ---- features: probes and fallbacks ---- */

/* "defer,batch": the F_* in f, in feature_names order. */
static const char *feature_list(unsigned f, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; i < NFEATURES; i++)
		if (f & (1u << i))
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? "," : "", feature_names[i]);
	return n ? buf : "none";
}

/* -F LIST or C1M_URING_DENY: names, "none" or "all". */
static unsigned feature_parse(const char *what, const char *list)
{
	char copy[256], *save, *name;
	unsigned f = 0;

	if (!strcmp(list, "none"))
		return 0;
	if (!strcmp(list, "all"))
		return F_ALL;
	snprintf(copy, sizeof(copy), "%s", list);
	for (name = strtok_r(copy, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		int i = 0;

		while (i < NFEATURES && strcmp(name, feature_names[i]))
			i++;
		if (i == NFEATURES)
			arg_usage_error("%s: unknown feature '%s' (known: defer, coop, batch; "
					"or none, or all)", what, name);
		f |= 1u << i;
	}
	return f;
}

/*
 * A feature this kernel refused (err != 0, said once for the process,
 * as the loops start one at a time, later loops do not even try it) or
 * one that is moot (err == 0: coop when defer took): off from now on.
 */
static void feature_off(struct loop *l, unsigned f, int err)
{
	char name[32];
	unsigned was = atomic_fetch_and(&features, ~f);

	l->feat &= ~f;
	if ((was & f) && err) {
		errno = err;
		warnx_("%s refused, running without it:", feature_list(f, name, sizeof(name)));
	}
}

/* The test hook: C1M_URING_DENY=defer acts as a kernel that refuses it. */
static int denied(unsigned f)
{
	if (!(cfg.deny & f))
		return 0;
	errno = EOPNOTSUPP;
	return 1;
}

/* ---- requests: every io_uring prep the design makes ---- */

/* A submission entry for opcode `op` on fd; its completion is `tag`'s. */
static struct io_uring_sqe *prep(struct loop *l, uint8_t op, int fd, int tag)
{
	struct io_uring_sqe *s = uring_sqe(&l->ring, op, fd, (uint64_t)fd << 8 | tag);

	if (!s)
		die("loop %d: io_uring_enter:", l->id);
	return s;
}

static void arm_accept(struct loop *l)
{
	struct io_uring_sqe *s = prep(l, IORING_OP_ACCEPT, l->lfd, OP_ACCEPT);

	s->ioprio = IORING_ACCEPT_MULTISHOT;
	s->accept_flags = SOCK_CLOEXEC;
}

/* Receive into whichever provided buffer is free when data comes. */
static void arm_recv(struct loop *l, int fd)
{
	struct io_uring_sqe *s = prep(l, IORING_OP_RECV, fd, OP_RECV);

	s->ioprio = IORING_RECV_MULTISHOT;
	s->flags = IOSQE_BUFFER_SELECT;
	s->buf_group = l->bufs.group;
	l->conns[fd].state |= C_RECV;
}

/* Buffer `id`'s bytes: the ring's, or a spill copy's. */
static char *buf_data(struct loop *l, unsigned id)
{
	if (id < (unsigned)cfg.bufs)
		return uring_buf(&l->bufs, id);
	return l->spill + (size_t)(id - (unsigned)cfg.bufs) * BUF_SIZE;
}

/* Send what is left of the oldest queued buffer. */
static void send_head(struct loop *l, int fd)
{
	struct conn *c = &l->conns[fd];
	struct buf *b = &l->meta[c->head];
	struct io_uring_sqe *s = prep(l, IORING_OP_SEND, fd, OP_SEND);

	s->addr = (uint64_t)(uintptr_t)(buf_data(l, c->head) + b->off);
	s->len = b->len - b->off;
	s->msg_flags = MSG_NOSIGNAL;
	c->state |= C_SEND;
	/* Without batch: submit it now, one io_uring_enter per send, as an
	 * epoll server makes one send() per reply. */
	if (!(l->feat & F_BATCH) && uring_submit(&l->ring) < 0)
		die("loop %d: io_uring_enter:", l->id);
}

/* Cancel the request whose user_data is `what`; 0: every request on fd. */
static void cancel(struct loop *l, int fd, uint64_t what)
{
	struct io_uring_sqe *s = prep(l, IORING_OP_ASYNC_CANCEL, fd, OP_CANCEL);

	s->addr = what;
	s->cancel_flags = what ? 0 : IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_ALL;
	s->flags = IOSQE_CQE_SKIP_SUCCESS;
}

/* ---- connections ---- */

/* Drop the oldest queued buffer, handing it back to the kernel (or a
 * spill copy back to the spill). */
static void pop(struct loop *l, struct conn *c)
{
	uint16_t id = c->head;

	c->head = l->meta[id].next;
	if (c->head == NO_BUF)
		c->tail = NO_BUF;
	c->held--;
	if (id < cfg.bufs)
		uring_buf_give(&l->bufs, id);
	else
		l->spill_free[l->nspill++] = id;
}

/* Close once nothing in flight refers to fd any more. */
static void conn_finish(struct loop *l, int fd)
{
	struct conn *c = &l->conns[fd];

	if (!(c->state & C_CLOSE) || (c->state & (C_RECV | C_SEND)))
		return;
	while (c->head != NO_BUF)
		pop(l, c);
	if (l->outs) {		/* push mode: no send reads it any more */
		free(l->outs[fd].buf);
		free(l->outs[fd].old);
		memset(&l->outs[fd], 0, sizeof(l->outs[fd]));
	}
	prep(l, IORING_OP_CLOSE, fd, OP_CLOSE)->flags = IOSQE_CQE_SKIP_SUCCESS;
	c->state &= C_STARVED;	/* the starved list may still name it */
}

/* err: 0 for a clean EOF, else the errno that ended the connection. */
static void conn_close(struct loop *l, int fd, int err)
{
	struct conn *c = &l->conns[fd];

	if (c->state & C_CLOSE)
		return;
	c->state |= C_CLOSE;
	stats_conn_closed(l->st, err);
	if (c->state & (C_RECV | C_SEND))
		cancel(l, fd, 0);
	conn_finish(l, fd);
}

/* A slow reader's replies have drained: read from it again. */
static void recv_resume(struct loop *l, int fd)
{
	struct conn *c = &l->conns[fd];

	if ((c->state & (C_PAUSED | C_RECV | C_CLOSE)) == C_PAUSED && !c->held &&
	    !(l->outs && l->outs[fd].len)) {
		c->state &= ~C_PAUSED;
		arm_recv(l, fd);
	}
}

/* ---- push mode (-b / -R): the loop's timer, one io_uring_enter for all ---- */

/* Append n bytes to the out queue (p, or NULL: the caller fills them in):
 * where they went, or NULL without memory. Growing copies what is not
 * yet written whole into a new buffer; the old one is freed at once,
 * unless the send in flight reads it (then when that send completes). */
static char *out_append(struct out *o, const void *p, size_t n, int sending)
{
	if (o->len + n > o->cap) {
		size_t keep = o->len - o->scan, cap = 256;
		char *b;

		while (cap < keep + n)
			cap *= 2;
		if (!(b = malloc(cap)))
			return NULL;
		if (keep)
			memcpy(b, o->buf + o->scan, keep);
		if (sending && !o->old)
			o->old = o->buf;
		else
			free(o->buf);
		o->buf = b;
		o->cap = (uint32_t)cap;
		o->len = (uint32_t)keep;
		o->off -= o->scan;
		o->scan = 0;
	}
	if (p)
		memcpy(o->buf + o->len, p, n);
	o->len += (uint32_t)n;
	return o->buf + o->len - n;
}

/* Queue the connection's next push, stamped with its scheduled time. */
static int push_one(struct out *o, uint64_t sched_ns, int sending)
{
	char *p = out_append(o, NULL, PUSH_HDR + cfg.push.body, sending);

	if (!p)
		return -1;
	push_encode((unsigned char *)p, ++o->seq, sched_ns, cfg.push.body);
	return 0;
}

/* Count the frames now written whole: echoed bytes, or a push. */
static void out_count(struct stats_slot *st, struct out *o)
{
	uint64_t echoed = 0, pushes = 0, push_bytes = 0;

	while (o->scan < o->off) {
		size_t len = FRAME_SIZE;
		uint64_t seq, sched;
		int push = push_header((unsigned char *)o->buf + o->scan, &len, &seq, &sched) > 0;

		if (o->scan + len > o->off)
			break;		/* written in part */
		o->scan += (uint32_t)len;
		if (push) {
			pushes++;
			push_bytes += len;
		} else {
			echoed += len;
		}
	}
	atomic_fetch_add_explicit(&st->bytes, echoed, memory_order_relaxed);
	atomic_fetch_add_explicit(&st->pushes, pushes, memory_order_relaxed);
	atomic_fetch_add_explicit(&st->push_bytes, push_bytes, memory_order_relaxed);
}

/* Send what is queued, unless a send is in flight (its completion sends
 * the rest). With batch, it waits in the submission queue for the loop's
 * one io_uring_enter, beside every other connection's. */
static void conn_flush(struct loop *l, int fd)
{
	struct out *o = &l->outs[fd];
	struct io_uring_sqe *s;

	if ((l->conns[fd].state & C_SEND) || o->off == o->len)
		return;
	s = prep(l, IORING_OP_SEND, fd, OP_SEND);
	s->addr = (uint64_t)(uintptr_t)(o->buf + o->off);
	s->len = o->len - o->off;
	s->msg_flags = MSG_NOSIGNAL;
	l->conns[fd].state |= C_SEND;
	if (!(l->feat & F_BATCH) && uring_submit(&l->ring) < 0)
		die("loop %d: io_uring_enter:", l->id);
}

/* A consumer past -Q unread bytes: closed (RST: the kernel drops what it
 * holds for it too; the send in flight is cancelled) and counted. */
static void slow_drop(struct loop *l, int fd)
{
	atomic_fetch_add_explicit(&l->st->slow_dropped, 1, memory_order_relaxed);
	net_set_linger0(fd);
	conn_close(l, fd, 0);
}

/* One push to fd: queue it and send, or drop a slow consumer. */
static void push_to(struct loop *l, int fd, uint64_t sched_ns)
{
	struct out *o = &l->outs[fd];

	if (o->len - o->off + PUSH_HDR + cfg.push.body > cfg.push.queue_max) {
		slow_drop(l, fd);
		return;
	}
	if (push_one(o, sched_ns, l->conns[fd].state & C_SEND) < 0) {
		conn_close(l, fd, ENOMEM);
		return;
	}
	conn_flush(l, fd);
}

/* Read side in push mode: data in buffer `id`. Echo whole frames only,
 * copied into the out queue (the buffer goes back at once), keeping a
 * frame read in part until the rest comes. */
static void push_readable(struct loop *l, int fd, unsigned id, int len)
{
	struct conn *c = &l->conns[fd];
	struct out *o = &l->outs[fd];
	char *p = uring_buf(&l->bufs, id);
	size_t n = (size_t)len, head = 0, whole;

	if (o->part_len) {	/* complete the frame read in part */
		head = (size_t)(FRAME_SIZE - o->part_len);
		if (head > n)
			head = n;
		memcpy(o->part + o->part_len, p, head);
		o->part_len += (uint8_t)head;
		if (o->part_len == FRAME_SIZE) {
			if (!out_append(o, o->part, FRAME_SIZE, c->state & C_SEND))
				goto nomem;
			o->part_len = 0;
		}
	}
	whole = (n - head) - (n - head) % FRAME_SIZE;
	if (whole && !out_append(o, p + head, whole, c->state & C_SEND))
		goto nomem;
	memcpy(o->part + o->part_len, p + head + whole, n - head - whole);
	o->part_len += (uint8_t)(n - head - whole);
	uring_buf_give(&l->bufs, id);
	conn_flush(l, fd);
	if (o->len - o->off >= MAX_HELD * BUF_SIZE && !(c->state & C_PAUSED)) {
		c->state |= C_PAUSED;	/* a slow reader: stop reading it */
		l->paused++;
		if (c->state & C_RECV)
			cancel(l, fd, (uint64_t)fd << 8 | OP_RECV);
	}
	return;
nomem:
	uring_buf_give(&l->bufs, id);
	conn_close(l, fd, ENOMEM);
}

/* A send from the out queue completed: all of it, part, or an error. */
static void push_sent(struct loop *l, int fd, struct io_uring_cqe *cqe)
{
	struct conn *c = &l->conns[fd];
	struct out *o = &l->outs[fd];

	c->state &= ~C_SEND;
	free(o->old);		/* the buffer that send read, if replaced */
	o->old = NULL;
	if (c->state & C_CLOSE) {
		conn_finish(l, fd);
		return;
	}
	if (cqe->res <= 0) {
		conn_close(l, fd, cqe->res ? -cqe->res : EIO);	/* reset, ... */
		return;
	}
	o->off += (uint32_t)cqe->res;
	out_count(l->st, o);
	if (o->off < o->len) {
		conn_flush(l, fd);	/* the rest, or what came meanwhile */
		return;
	}
	free(o->buf);			/* drained: an idle conn holds no buffer */
	memset(o, 0, offsetof(struct out, seq));
	if (c->state & C_EOF)
		conn_close(l, fd, 0);
	else
		recv_resume(l, fd);
}

/* The scheduled time of the next push if it is due by now (the clock
 * moves on to the one after), else 0. */
static uint64_t push_due(struct push_clock *c, uint64_t now)
{
	uint64_t due = push_clock_due(c);

	if (due > now)
		return 0;
	push_clock_next(c);
	return due;
}

/* An IORING_OP_TIMEOUT at the next due time (CLOCK_REALTIME, absolute):
 * its completion wakes the ring's wait like any other. */
static void push_arm(struct loop *l)
{
	uint64_t due = push_clock_due(&l->clock);
	struct io_uring_sqe *s = prep(l, IORING_OP_TIMEOUT, -1, OP_TIMER);

	l->due.tv_sec = (long long)(due / 1000000000u);
	l->due.tv_nsec = (long long)(due % 1000000000u);
	s->addr = (uint64_t)(uintptr_t)&l->due;
	s->len = 1;
	s->timeout_flags = IORING_TIMEOUT_ABS | IORING_TIMEOUT_REALTIME;
}

/* This loop's schedule. -b: main's broadcasts, from the first after now,
 * so every loop stamps a broadcast with the same time; -R: 1/loops of the
 * rate (push_event then makes it the loop's share of the connections), to
 * its own connections in turn. */
static void push_start(struct loop *l)
{
	if (cfg.push.every_s > 0) {
		l->clock = clock0;
		l->clock.k = (clock_wall_ns() - l->clock.t0) / l->clock.step_ns + 1;
	} else {
		push_clock_start(&l->clock, &cfg.push, cfg.loops);
	}
	push_arm(l);
}

/* A connection a push can go to: open, not ending. */
static int push_open(struct loop *l, int fd)
{
	return (l->conns[fd].state & (C_OPEN | C_CLOSE | C_EOF)) == C_OPEN;
}

/*
 * The timer fired: the next push due. -b: one to each connection of the
 * loop; -R: one to the next in turn, up to PUSH_BUDGET of those due. Their
 * sends are only queued here: the loop's next io_uring_enter submits them
 * all (2048 at most a call, SQ_ENTRIES: a fuller queue is submitted on the
 * way). A loop that fell behind catches up one broadcast an enter (the
 * timer, armed in the past, fires at once), so each one's sends go out
 * before the next is queued: a reader is not charged against -Q for the
 * loop's own lateness.
 */
static void push_event(struct loop *l, struct io_uring_cqe *cqe)
{
	uint64_t sched, now = clock_wall_ns();

	if (cqe->res != -ETIME && cqe->res != 0 && cqe->res != -ECANCELED) {
		errno = -cqe->res;
		die("loop %d: IORING_OP_TIMEOUT:", l->id);
	}
	if (cfg.push.rate > 0)	/* its share of RATE: its share of the connections */
		push_clock_share(&l->clock, &cfg.push, atomic_load(&l->st->conns),
				 stats_conns());
	for (int n = 0; n < (cfg.push.rate > 0 ? PUSH_BUDGET : 1) &&
			(sched = push_due(&l->clock, now)); n++) {
		for (int i = 0; i <= l->max_fd; i++) {
			int fd = cfg.push.rate > 0 ? (l->next_fd + i) % (l->max_fd + 1) : i;

			if (!push_open(l, fd))
				continue;
			push_to(l, fd, sched);
			if (cfg.push.rate > 0) {
				l->next_fd = fd + 1;
				break;	/* -R: one push a due time */
			}
		}
	}
	push_arm(l);
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
			l->paused_until = clock_ns() + PAUSE_MS * 1000000ull;
		} else if (!atomic_load_explicit(&sig_stop, memory_order_relaxed)) {
			arm_accept(l);	/* multishot ended: arm it again */
		}			/* (at the stop, main shut the listener) */
	}
	if (fd < 0)
		return;
	if (fd >= fd_limit) {	/* cannot happen under RLIMIT_NOFILE */
		prep(l, IORING_OP_CLOSE, fd, OP_CLOSE)->flags = IOSQE_CQE_SKIP_SUCCESS;
		return;
	}
	/* TCP_NODELAY came with it from the listener (main sets it there). */
	l->full = 0;
	if (fd > l->max_fd)
		l->max_fd = fd;
	l->conns[fd] = (struct conn){ NO_BUF, NO_BUF, C_OPEN | (l->conns[fd].state & C_STARVED), 0 };
	arm_recv(l, fd);
	atomic_fetch_add_explicit(&l->st->conns, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&l->st->accepted, 1, memory_order_relaxed);
}

/* After an EMFILE pause: arm the accept again. */
static void accept_resume(struct loop *l)
{
	if (!l->paused_until || clock_ns() < l->paused_until)
		return;
	l->paused_until = 0;
	arm_accept(l);
}

/*
 * A paused reader's multishot receive goes on taking buffers until its
 * cancel lands, and one enter can run it until the ring is dry: then every
 * other connection of the loop waits for buffers that only this reader's
 * replies, which it does not read, would give back. So past MAX_HELD a
 * buffer's bytes are copied out to a spill copy and the buffer goes back
 * to the ring at once: the id to queue (the ring's when the spill is full).
 */
static unsigned spill(struct loop *l, unsigned id, int len)
{
	unsigned s;

	if (!l->spill) {
		l->spill = malloc((size_t)cfg.bufs * BUF_SIZE);
		l->spill_free = malloc((size_t)cfg.bufs * sizeof(*l->spill_free));
		if (!l->spill || !l->spill_free)
			die("loop %d: spill:", l->id);
		for (long i = 0; i < cfg.bufs && cfg.bufs + i < NO_BUF; i++)
			l->spill_free[l->nspill++] = (uint16_t)(cfg.bufs + i);
	}
	if (!l->nspill)
		return id;
	s = l->spill_free[--l->nspill];
	memcpy(buf_data(l, s), uring_buf(&l->bufs, id), (size_t)len);
	uring_buf_give(&l->bufs, id);
	l->spilled++;
	return s;
}

/* Data arrived in buffer `id`, now ours: echo it, behind any queued sends. */
static void echo_buf(struct loop *l, int fd, unsigned id, int len)
{
	struct conn *c = &l->conns[fd];

	if ((c->state & C_PAUSED) && c->held >= MAX_HELD)
		id = spill(l, id, len);
	if (id < (unsigned)cfg.bufs && c->held + 1u > l->held_max)
		l->held_max = c->held + 1u;
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

/* A receive completed: data, EOF, an empty buffer ring, or an error. */
static void on_readable(struct loop *l, int fd, struct io_uring_cqe *cqe)
{
	struct conn *c = &l->conns[fd];

	if (cqe->flags & IORING_CQE_F_BUFFER)
		uring_buf_taken(&l->bufs);
	if (!(cqe->flags & IORING_CQE_F_MORE))
		c->state &= ~C_RECV;
	if (cqe->res > 0 && (c->state & C_CLOSE))
		uring_buf_give(&l->bufs, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
	else if (cqe->res > 0)
		(pushing ? push_readable : echo_buf)(l, fd, cqe->flags >> IORING_CQE_BUFFER_SHIFT,
						     cqe->res);

	if (c->state & (C_RECV | C_CLOSE)) {
		conn_finish(l, fd);
	} else if (cqe->res == 0) {
		c->state |= C_EOF;	/* flush what is queued, then close */
		if (!(c->state & C_SEND))
			conn_close(l, fd, 0);
	} else if (cqe->res == -ENOBUFS && !(c->state & C_PAUSED)) {
		l->enobufs++;		/* re-armed when buffers come back */
		if (!(c->state & C_STARVED)) {
			c->state |= C_STARVED;
			l->starved[(l->starved_head + l->nstarved++) % fd_limit] = fd;
		}
	} else if (cqe->res > 0 || cqe->res == -ECANCELED || cqe->res == -ENOBUFS) {
		if (c->state & C_PAUSED) {
			recv_resume(l, fd);
		} else {
			l->rearms++;	/* multishot ended (CQ overflow, ...) */
			arm_recv(l, fd);
		}
	} else {
		conn_close(l, fd, -cqe->res);	/* reset, ... */
	}
}

/* A send completed: all of the buffer, part of it, or an error. */
static void on_writable(struct loop *l, int fd, struct io_uring_cqe *cqe)
{
	struct conn *c = &l->conns[fd];
	struct buf *b;

	c->state &= ~C_SEND;
	if (c->state & C_CLOSE) {
		conn_finish(l, fd);
		return;
	}
	if (cqe->res <= 0) {
		conn_close(l, fd, cqe->res ? -cqe->res : EIO);	/* reset, ... */
		return;
	}
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
		conn_close(l, fd, 0);
	else
		recv_resume(l, fd);
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

		l->starved_head = (l->starved_head + 1) % fd_limit;
		l->nstarved--;
		c->state &= ~C_STARVED;
		if ((c->state & (C_OPEN | C_RECV | C_CLOSE | C_PAUSED | C_EOF)) == C_OPEN)
			arm_recv(l, fd);
	}
}

/* ---- the loop: one per thread ---- */

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
		case OP_RECV: on_readable(l, fd, &cqe); break;
		case OP_SEND:
			if (pushing)
				push_sent(l, fd, &cqe);
			else
				on_writable(l, fd, &cqe);
			break;
		case OP_TIMER: push_event(l, &cqe); break;
		default: break;	/* a cancel or close that failed: nothing to do */
		}
	}
}

static void loop_run(struct loop *l)
{
	while (!atomic_load_explicit(&sig_stop, memory_order_relaxed)) {
		/* Wait for a batch (or just one completion with -m 0), but
		 * not while starved conns can be re-armed. */
		unsigned wait = cfg.min_wait ? WAIT_BATCH : 1;

		if (l->nstarved && l->bufs.avail)
			wait = 0;
		/* Returned buffers first, so the submitted receives can use them. */
		uring_bufs_publish(&l->bufs);
		/* One system call: submit everything queued, and wait for
		 * WAIT_BATCH completions, or -m USEC once there is one. */
		if (uring_enter(&l->ring, wait, (unsigned)cfg.min_wait,
				TICK_NS / 1000000) < 0)
			die("loop %d: io_uring_enter:", l->id);
		reap(l);
		rearm_starved(l);
		accept_resume(l);	/* after an EMFILE pause */
	}
	/* The ring stays: exiting the process tears it down and cancels
	 * whatever is in flight. */
}

/*
 * This loop's ring, with the features of -F that this kernel takes; each
 * one refused is said once and left off (feature_off).
 */
static void ring_setup(struct loop *l)
{
	/* defer: SINGLE_ISSUER | DEFER_TASKRUN (6.1): the kernel's completion
	 * work for this ring runs only when this thread enters to wait: in
	 * one batch, never interrupting it. coop: COOP_TASKRUN (5.19): that
	 * work may wait for the thread's next system call instead of an IPI
	 * kicking it out of user space. With both asked for, defer wins (it
	 * implies what coop gives); coop is the fallback. */
	static const struct { unsigned f, flags; } tries[] = {
		{ F_DEFER, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN },
		{ F_COOP, IORING_SETUP_COOP_TASKRUN },
	};
	size_t i;

	l->feat = atomic_load(&features);
	for (i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		if (!(l->feat & tries[i].f))
			continue;
		if (!denied(tries[i].f) &&
		    uring_init(&l->ring, SQ_ENTRIES, CQ_ENTRIES, tries[i].flags) == 0)
			break;
		if (errno != EINVAL && errno != EOPNOTSUPP)
			die("loop %d: io_uring_setup:", l->id);
		feature_off(l, tries[i].f, errno);
	}
	if (i == 0)
		feature_off(l, F_COOP, 0);	/* defer took: coop is moot */
	if (i == sizeof(tries) / sizeof(tries[0]) &&
	    uring_init(&l->ring, SQ_ENTRIES, CQ_ENTRIES, 0) < 0)
		die("loop %d: io_uring_setup:", l->id);
	/* -m needs min-wait (6.12): without it, the loop wakes for every
	 * completion (uring_enter waits for one). Said once, as a refusal. */
	if (cfg.min_wait && !(l->ring.features & IORING_FEAT_MIN_TIMEOUT) &&
	    !atomic_exchange(&min_wait_said, 1))
		warnx_("-m %ld: this kernel has no min-wait (Linux 6.12); waking for every completion",
		       cfg.min_wait);
}

static sem_t setup_done;	/* a loop thread has its ring */

/* A loop thread: its own fd table (a copy of main's, less the other loops'
 * listeners; a TSan build shares one: r == 1), then its ring (whose fd goes
 * in that table) and buffers, and the accept. Main starts the loops one at
 * a time: ThreadSanitizer tracks fd numbers process-wide and would take two
 * private tables' fd 5 for one. */
static void *loop_thread(void *arg)
{
	struct loop *l = arg;
	int r = fd_private_table();

	if (r < 0)
		die("loop %d: unshare(CLONE_FILES):", l->id);
	for (int i = 0; r == 0 && i < cfg.loops; i++)
		if (i != l->id)
			close(loops[i].lfd);
	ring_setup(l);
	if (uring_bufs_init(&l->ring, &l->bufs, 0, (unsigned)cfg.bufs, BUF_SIZE) < 0)
		die("loop %d: register %ld buffers:", l->id, cfg.bufs);
	arm_accept(l);
	if (pushing)
		push_start(l);
	sem_post(&setup_done);
	loop_run(l);			/* until main sets sig_stop */
	return NULL;
}

/* ---- main ---- */

/* The result: one JSON line on stdout, with what the rings counted. */
static void report(void)
{
	uint64_t e = 0, s = 0, p = 0, r = 0, n = 0, sp = 0, hm = 0;
	char names[128];
	struct json j;

	for (int i = 0; i < cfg.loops; i++) {
		e += loops[i].enobufs;
		s += loops[i].short_sends;
		p += loops[i].paused;
		r += loops[i].rearms;
		sp += loops[i].spilled;
		hm = loops[i].held_max > hm ? loops[i].held_max : hm;
		n += loops[i].ring.enters;
	}
	json_begin(&j);
	stats_json(&j);
	json_i64(&j, "loops", cfg.loops);
	json_i64(&j, "bufs_per_loop", cfg.bufs);
	/* Accepts per loop: how evenly the kernel spread the connections. */
	json_arr(&j, "accepts_per_loop");
	for (int i = 0; i < cfg.loops; i++)
		json_u64(&j, NULL, atomic_load(&loops[i].st->accepted));
	json_arr_end(&j);
	json_i64(&j, "min_wait_us", cfg.min_wait);
	json_str(&j, "features", feature_list(atomic_load(&features), names, sizeof(names)));
	json_u64(&j, "enobufs", e);
	json_u64(&j, "short_sends", s);
	json_u64(&j, "paused", p);
	json_u64(&j, "rearms", r);
	json_u64(&j, "spilled", sp);	/* buffers a paused reader took, copied out */
	json_u64(&j, "held_max", hm);	/* ring buffers one conn held, at most */
	json_u64(&j, "enters", n);
	json_num(&j, "enters_per_req", stats_requests() ? (double)n / stats_requests() : 0);
	json_end(&j);
	json_print(&j, stdout);
}

static void usage(void)
{
	printf("%s: io_uring loops: multishot accept and receive, provided buffers\n\n"
	       "%s\n\n"
	       "  -a ADDR   address to listen on (default %s; 0.0.0.0 is opt-in)\n"
	       "  -p PORT   port (default %d; 0 picks a free one)\n"
	       "  -c N      io_uring loops (default: the CPU count, more if -n needs them)\n"
	       "  -n CONNS  connections to make room for, plus 1/8 (the kernel does not\n"
	       "            spread them evenly over the loops); sizes the default -c\n"
	       "  -B BUFS   provided receive buffers per loop, a power of two (default 1024)\n"
	       "  -m USEC   with a completion ready, wait this long for more before\n"
	       "            handling them (default 50; 0: at once)\n"
	       "  -F LIST   io_uring features, a comma list, or none, or all (default\n"
	       "            defer,batch): defer (SINGLE_ISSUER + DEFER_TASKRUN), coop\n"
	       "            (COOP_TASKRUN; with defer, defer wins and coop is its fallback),\n"
	       "            batch (every send in the loop's one io_uring_enter). One the\n"
	       "            kernel refuses is left off and said once; the JSON's\n"
	       "            \"features\" is what was in effect. Test hook:\n"
	       "            C1M_URING_DENY=LIST acts as a kernel refusing LIST.\n"
	       PUSH_USAGE
	       "  -i SEC    stats interval on stderr (default 5)\n"
	       "  -L        print this design's limits as one JSON line, for run.sh\n"
	       "  -h        this help\n\n"
	       "Echoes every byte back; with -b or -R it also pushes, between whole\n"
	       "echoed frames. Prints \"listening on ADDR:PORT\" on stderr when\n"
	       "ready; on SIGINT/SIGTERM one JSON line on stdout, then exits 0.\n"
	       "Exit 1: cannot listen; exit 2: bad usage; exit 77: no io_uring here.\n",
	       prog_name, arg_synopsis, C1M_ADDR, C1M_PORT);
}

static void parse(int argc, char **argv)
{
	static const struct limits lim = { .design = DESIGN, .fd_tables = "many",
		.fd_reserve = FD_RESERVE, .max_loops = 4096, .target = 1000000, .push = 1 };
	int o;

	arg_synopsis = "usage: server [-a ADDR] [-p PORT] [-c N] [-n CONNS] [-B BUFS] "
		       "[-m USEC] [-F LIST] " PUSH_SYNOPSIS " [-i SEC] [-L] [-h]";
	while ((o = getopt(argc, argv, ":a:p:c:n:B:m:F:b:R:l:Q:i:Lh")) != -1) {
		switch (o) {
		case 'a': arg_ipv4(o, optarg); cfg.addr = optarg; break;
		case 'p': cfg.port = (int)arg_long(o, optarg, 0, 65535); break;
		case 'c': cfg.loops = (int)arg_long(o, optarg, 1, 4096); break;
		case 'n': cfg.conns = arg_long(o, optarg, 1, 100000000); break;
		case 'B': cfg.bufs = arg_long(o, optarg, 1, 32768); break;
		case 'm': cfg.min_wait = arg_long(o, optarg, 0, 1000000); break;
		case 'F': cfg.features = feature_parse("-F", optarg); break;
		case 'i': cfg.interval = arg_seconds(o, optarg, 1e6); break;
		case 'L': limits_print(&lim);
		case 'h': usage(); exit(0);
		case ':': arg_usage_error("-%c needs a value", optopt);
		default:
			if (!push_arg(&cfg.push, o, optarg))
				arg_usage_error("unknown option -%c", optopt);
		}
	}
	if (optind < argc)
		arg_usage_error("unexpected argument '%s'", argv[optind]);
	if (cfg.interval < 0.1)
		arg_usage_error("-i: must be at least 0.1 s");
	pushing = push_plan_check(&cfg.push);
	if (cfg.bufs & (cfg.bufs - 1))	/* the buffer ring's size */
		arg_usage_error("-B %ld: not a power of two", cfg.bufs);
	if (getenv("C1M_URING_DENY"))
		cfg.deny = feature_parse("C1M_URING_DENY", getenv("C1M_URING_DENY"));
	atomic_store(&features, cfg.features);
}

int main(int argc, char **argv)
{
	struct stats_slot *slots;

	prog_init(argv[0]);
	parse(argc, argv);
	uring_check();		/* exit 77 where io_uring is unavailable */
	fd_limit = fd_size_loops(cfg.conns, FD_RESERVE, &cfg.loops);	/* and -c */
	loops = calloc((size_t)cfg.loops, sizeof(*loops));
	if (!loops)
		die("setup:");
	/* Every listener up front: a busy port fails here, before any thread.
	 * SO_REUSEPORT only to share the port among our own loops: one loop
	 * must not silently share it with another server. */
	for (int i = 0; i < cfg.loops; i++) {
		loops[i].lfd = net_listen(cfg.addr, cfg.port, cfg.loops > 1, 4096);
		if (loops[i].lfd < 0)
			die("listen %s:%d:", cfg.addr, cfg.port);
		/* Accepted sockets inherit it (sk_clone_lock() copies the
		 * listener's sock): one call here, none per connection. */
		net_set_nodelay(loops[i].lfd);
		if (pushing) {	/* the kernel keeps at most -Q unsent: ours shows it */
			int lowat = (int)cfg.push.queue_max;

			setsockopt(loops[i].lfd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat,
				   sizeof(lowat));
		}
		cfg.port = net_local_port(loops[i].lfd);	/* resolves -p 0 */
	}
	sig_setup();		/* before the threads: they inherit the mask */
	slots = stats_init(DESIGN, cfg.loops, cfg.interval);	/* a slot each */
	if (pushing) {
		stats_set_push(&cfg.push);
		push_clock_start(&clock0, &cfg.push, 1);	/* -b: the broadcasts */
	}
	sem_init(&setup_done, 0, 0);
	for (int i = 0; i < cfg.loops; i++) {
		struct loop *l = &loops[i];

		l->id = i;
		l->st = &slots[i];
		l->conns = calloc((size_t)fd_limit, sizeof(*l->conns));
		l->starved = calloc((size_t)fd_limit, sizeof(*l->starved));
		l->meta = calloc((size_t)cfg.bufs * 2, sizeof(*l->meta));
		if (pushing)
			l->outs = calloc((size_t)fd_limit, sizeof(*l->outs));
		if (!l->conns || !l->starved || !l->meta || (pushing && !l->outs))
			die("setup:");
		if ((errno = pthread_create(&l->thread, NULL, loop_thread, l)))
			die("pthread_create:");
		sem_wait(&setup_done);	/* one loop set up at a time */
	}
	fprintf(stderr, "%s: listening on %s:%d, %d rings x %ld fds, %ld x %d-byte buffers each\n",
		prog_name, cfg.addr, cfg.port, cfg.loops, fd_limit - FD_RESERVE, cfg.bufs, BUF_SIZE);

	stats_run(NULL);	/* the meter, until SIGINT/SIGTERM */
	/* The door first: a listener shut down leaves the port at once, so a
	 * client that reconnects while the loops close their connections is
	 * refused, not queued behind a server on its way out. (One shutdown
	 * here reaches the listener in every loop's fd table.) */
	for (int i = 0; i < cfg.loops; i++)
		shutdown(loops[i].lfd, SHUT_RD);
	for (int i = 0; i < cfg.loops; i++)
		pthread_join(loops[i].thread, NULL);
	report();
	return 0;
}
