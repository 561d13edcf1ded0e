/*
 * 07_prefork - 03's loop once per process: the parent binds the port and
 * forks -c children that inherit the listener (Apache's prefork, nginx's
 * workers). The children share nothing else: no locks, no queues, no
 * threads. Each waits on the listener with EPOLLEXCLUSIVE, so a new
 * connection wakes one child, not all of them (the "thundering herd").
 * The parent forwards SIGTERM, reaps, and sums the children's counters,
 * which live in MAP_SHARED memory.
 *
 * Why it reaches 1M: RLIMIT_NOFILE (20,000 on the development machine, a
 * hard limit) counts per fd table, and each process has its own: there,
 * -n 1000000 starts 57 children (51, plus 1/8 spare: the spread is not
 * even). A child that dies costs
 * only its connections: the parent says so at once, counts it in the JSON
 * ("children_died") and exits 1 instead of 0, so a benchmark notices.
 *
 * Push (-b/-R): each child pushes to the connections it accepted, from a
 * timerfd in its own epoll set, with 03's push steps unchanged; nothing
 * crosses a process. The parent starts one schedule before fork and each
 * child inherits it, so a broadcast carries the same scheduled time in
 * every child; under -R each child's share of RATE is its share of all the
 * children's connections (the shared slots; RATE / N until it has one),
 * pushed to its connections in turn. The children count pushes in the
 * shared slots and the parent reports them. A broadcast is N fan-outs side
 * by side, each as long as its child's share (kept near even by the accept
 * share above).
 *
 * usage: server [-a ADDR] [-p PORT] [-c N] [-n CONNS] [-i SEC]
 *               [-b SEC | -R RATE] [-l BYTES] [-Q BYTES] [-L] [-h]
 * build: cc -std=gnu11 -O2 -pthread -Icommon -o 07_prefork/server 07_prefork/server.c common/[a-z]*.c -lm
 * test with: ./07_prefork/server -n 100000 & ./07_prefork/client -n 100000 -d 10
 *   push: ./07_prefork/server -b 1 & tests/pushread.py -p 8972 -n 1000 -d 5
 * diff against: 03_epoll_throughput (its loop, once per child process)
 * sample output (stderr; then the JSON line on stdout at SIGTERM):
 *   07_prefork/server: listening on 127.0.0.1:8972, 2 children x 19968 fds
 *   conns 1000  rps 35342  accepted 1000  resets 0  errors 0  children 2/2
 *   {"design":"07_prefork",...,"procs":2,"children":[{"pid":4242,...}],"children_died":0}
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "c1m.h"

#define DESIGN		"07_prefork"
#define FD_RESERVE	32	/* per child: epoll fd, listener, stdio, slack */
#define MAX_CHILDREN	128	/* so the per-child JSON fits its one line */
#define MAX_EVENTS	512
#define BUF_SIZE	16384	/* per child, not per connection */
#define READ_BUDGET	16	/* reads per event before the next connection */
#define PAUSE_MS	100	/* accept pause after EMFILE */
#define TICK_NS		100000000ull	/* housekeeping every 100 ms */
#define PUSH_BUDGET	1024	/* -R: pushes per timer wake-up, then the events */
#define QUEUE_MIN	65536	/* push mode: an out queue's first malloc, at most -Q */
#define SHARE_SLACK	64	/* conns above an even share, then stand back */
#define STOP_WAIT_S	2	/* after SIGTERM, then SIGKILL */

static struct {
	const char *addr;
	int port;
	double interval;
	int loops;		/* -c: children; 0 = size from -n and the CPU count */
	long conns;		/* -n: connections to make room for */
	struct push_plan push;	/* -b | -R, -l, -Q */
	int pushing;		/* 1 with -b or -R */
} cfg = { C1M_ADDR, C1M_PORT, 5, 0, 0, PUSH_PLAN_DEFAULT, 0 };

/* The per-connection state: the bytes read but not yet written back. */
struct conn {
	char *pend;		/* malloc'd, NULL when drained */
	uint32_t pend_len;	/* bytes in pend */
	uint32_t pend_off;	/* bytes of pend already sent */
};

/* Push mode only (-b/-R), beside conns: the connection's pushes, the frame
 * it is assembling, and what its out queue (pend) holds. */
struct push_conn {
	uint32_t seq;		/* pushes encoded for it so far */
	uint32_t cap;		/* bytes malloc'd at pend */
	uint32_t echo_left;	/* echoed bytes at the front of the queue */
	uint32_t push_off;	/* bytes of the first queued push already sent */
	uint8_t live;		/* an open connection */
	uint8_t waiting;	/* watched for EPOLLOUT only */
	uint8_t later;		/* -b: waiting, so pushed to after the others */
	uint8_t part_len;
	unsigned char part[FRAME_SIZE - 1];	/* a frame's first bytes */
};

struct loop {
	int ep, lfd;		/* the epoll set, and the listener in it */
	struct conn *conns;	/* one per fd of the table */
	struct stats_slot *st;
	uint64_t paused_until;	/* accept paused after EMFILE; 0 = listening */
	char buf[BUF_SIZE];
	/* push mode (-b/-R) only */
	struct push_conn *pc;	/* one per fd of the table; NULL: no push */
	int tfd;		/* the timerfd in the set; -1: none */
	int fd_max, cursor;	/* the highest fd accepted; -R: the last pushed to */
	struct push_clock clock;
	unsigned char *pbuf;	/* one push, encoded */
	uint64_t pbuf_seq, pbuf_sched;	/* the one in pbuf */
};

static struct loop loop;	/* each child's own copy, after fork */
static long fd_limit;		/* the size of each child's fd table */
static struct push_clock push_clock;	/* the parent starts it, the children copy it */

/* The parent's view of child i; slots[i] (shared) holds its counters. */
static struct child {
	pid_t pid;
	char exit[16];		/* "exit 0", "signal 9"; "" while running */
	struct rusage ru;	/* its CPU and peak RSS, from wait4 */
} children[MAX_CHILDREN];
static struct stats_slot *slots;
static int alive, died;
static long rss_kb;		/* the children's peak RSS, summed */

/* ---- handlers ---- */

static void watch(struct loop *l, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev);
}

/* err: 0 for a clean EOF, else the errno that ended the connection. */
static void conn_close(struct loop *l, int fd, int err)
{
	struct conn *c = &l->conns[fd];

	free(c->pend);
	memset(c, 0, sizeof(*c));
	if (l->pc)
		memset(&l->pc[fd], 0, sizeof(l->pc[fd]));
	close(fd);		/* also leaves the epoll set */
	stats_conn_closed(l->st, err);
}

static void push_accept(struct loop *l, int fd);	/* push mode, below */

/*
 * Woken first, a child would take the whole backlog, and the first child
 * all the connections. So, like nginx's accept_disabled, a child holding
 * more than an even share of all the children's connections (the slots are
 * shared memory) leaves the listener to the others until its next tick.
 */
static void on_accept(struct loop *l)
{
	if (atomic_load(&l->st->conns) > stats_conns() / cfg.loops + SHARE_SLACK) {
		if (!l->paused_until)
			epoll_ctl(l->ep, EPOLL_CTL_DEL, l->lfd, NULL);
		l->paused_until = clock_ns();	/* accept_resume, at the next tick */
		return;
	}
	for (;;) {
		struct epoll_event ev = { .events = EPOLLIN };
		int fd = accept4(l->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* Out of fds: the backlog waits in the kernel
				 * while the listener sits out PAUSE_MS. */
				if (!l->paused_until)
					warnx_("accept at %ld conns of this child: paused:",
					       atomic_load(&l->st->conns));
				epoll_ctl(l->ep, EPOLL_CTL_DEL, l->lfd, NULL);
				l->paused_until = clock_ns() + PAUSE_MS * 1000000ull;
			}
			return;		/* EAGAIN: nobody else is waiting */
		}
		ev.data.fd = fd;
		if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			continue;
		}
		net_set_nodelay(fd);
		if (l->pc)
			push_accept(l, fd);
		atomic_fetch_add_explicit(&l->st->conns, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&l->st->accepted, 1, memory_order_relaxed);
	}
}

/* After a pause: put the listener back in the set (EXCLUSIVE: ADD only). */
static void accept_resume(struct loop *l)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = l->lfd };

	if (!l->paused_until || clock_ns() < l->paused_until)
		return;
	l->paused_until = 0;
	epoll_ctl(l->ep, EPOLL_CTL_ADD, l->lfd, &ev);
}

/* Send what the socket takes: bytes sent, or -1 on an error (errno). */
static ssize_t send_some(int fd, const char *p, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = send(fd, p + done, len - done, MSG_NOSIGNAL);

		if (n > 0)
			done += (size_t)n;
		else if (n < 0 && errno == EINTR)
			continue;
		else if (n < 0 && errno == EAGAIN)
			break;
		else
			return -1;
	}
	return (ssize_t)done;
}

static void on_readable(struct loop *l, int fd)
{
	struct conn *c = &l->conns[fd];

	for (int i = 0; i < READ_BUDGET; i++) {
		ssize_t n = recv(fd, l->buf, sizeof(l->buf), 0), w;

		if (n == 0) {
			conn_close(l, fd, 0);		/* EOF: all echoed */
			return;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno != EAGAIN)
				conn_close(l, fd, errno);	/* reset, ... */
			return;
		}
		w = send_some(fd, l->buf, (size_t)n);	/* the echo */
		if (w < 0) {
			conn_close(l, fd, errno);
			return;
		}
		atomic_fetch_add_explicit(&l->st->bytes, (uint64_t)w, memory_order_relaxed);
		if (w < n) {
			/* A short write: park the rest, stop reading this one
			 * and wait until it can take more. */
			c->pend = malloc((size_t)(n - w));
			if (!c->pend) {
				conn_close(l, fd, ENOMEM);
				return;
			}
			memcpy(c->pend, l->buf + w, (size_t)(n - w));
			c->pend_len = (uint32_t)(n - w);
			c->pend_off = 0;
			watch(l, fd, EPOLLOUT);
			return;
		}
		if ((size_t)n < sizeof(l->buf))
			return;		/* the socket is drained */
	}
	/* Budget spent: level-triggered epoll reports the rest next time. */
}

static void on_writable(struct loop *l, int fd)
{
	struct conn *c = &l->conns[fd];
	ssize_t w = send_some(fd, c->pend + c->pend_off, c->pend_len - c->pend_off);

	if (w < 0) {
		conn_close(l, fd, errno);
		return;
	}
	atomic_fetch_add_explicit(&l->st->bytes, (uint64_t)w, memory_order_relaxed);
	c->pend_off += (uint32_t)w;
	if (c->pend_off < c->pend_len)
		return;		/* still short: wait for the next EPOLLOUT */
	free(c->pend);
	memset(c, 0, sizeof(*c));
	watch(l, fd, EPOLLIN);	/* drained: read it again */
}

/* ---- push mode (-b/-R): the server writes first ---- */

/* A new connection in push mode. TCP_NOTSENT_LOWAT keeps the kernel from
 * taking more than -Q unsent bytes, so a reader that stops shows up in
 * our own out queue instead of hiding in the socket's. */
static void push_accept(struct loop *l, int fd)
{
	int q = (int)cfg.push.queue_max;

	setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &q, sizeof(q));
	l->pc[fd].live = 1;
	if (fd > l->fd_max)
		l->fd_max = fd;
}

/* A slow consumer: -Q bytes wait unsent. Reset it (SO_LINGER 0: the kernel
 * drops its unsent bytes too) and count it; nobody else waits for it. */
static void slow_drop(struct loop *l, int fd)
{
	atomic_fetch_add_explicit(&l->st->slow_dropped, 1, memory_order_relaxed);
	net_set_linger0(fd);
	conn_close(l, fd, 0);
}

/*
 * Append n bytes to fd's out queue (pend): 0, or -1 once fd is closed for
 * passing -Q unsent bytes (or for want of memory). The buffer may be a
 * quarter over -Q, so that what was sent is moved out of the way once per
 * quarter of it, not at every push to a queue that stays nearly full.
 */
static int out_append(struct loop *l, int fd, const void *p, size_t n)
{
	struct conn *c = &l->conns[fd];
	struct push_conn *pc = &l->pc[fd];
	size_t queued = c->pend_len - c->pend_off, cap;
	size_t limit = cfg.push.queue_max + cfg.push.queue_max / 4;

	if (queued + n > cfg.push.queue_max) {
		slow_drop(l, fd);
		return -1;
	}
	if (c->pend_len + n > pc->cap && c->pend_off &&
	    (c->pend_off >= pc->cap / 4 || c->pend_len + n > limit)) {
		memmove(c->pend, c->pend + c->pend_off, queued);	/* sent: room */
		c->pend_len = (uint32_t)queued;
		c->pend_off = 0;
	}
	if (c->pend_len + n > pc->cap) {
		char *b;

		/* At least QUEUE_MIN at once: a queue that grows mostly fills,
		 * and copying it at each doubling would cost the loop. */
		cap = c->pend_len + n > QUEUE_MIN / 2 ? 2 * (c->pend_len + n) : QUEUE_MIN;
		if (cap > limit)
			cap = limit;
		if (!(b = realloc(c->pend, cap))) {
			conn_close(l, fd, ENOMEM);
			return -1;
		}
		c->pend = b;
		pc->cap = (uint32_t)cap;
	}
	memcpy(c->pend + c->pend_len, p, n);
	c->pend_len += (uint32_t)n;
	return 0;
}

/*
 * Write fd's out queue: what the socket takes now, the rest at EPOLLOUT
 * (and fd is not read until it drains). The queue holds one run of echoed
 * bytes at most, at its front (fd is read only when its queue is empty),
 * then whole pushes: what went out counts as echoed bytes first, then as
 * pushes, each once its last byte is written. 1 drained, 0 not, -1 closed.
 */
static int conn_flush(struct loop *l, int fd)
{
	struct conn *c = &l->conns[fd];
	struct push_conn *pc = &l->pc[fd];
	size_t len = PUSH_HDR + cfg.push.body, echoed;
	ssize_t w = send_some(fd, c->pend + c->pend_off, c->pend_len - c->pend_off);

	if (w < 0) {
		conn_close(l, fd, errno);
		return -1;
	}
	c->pend_off += (uint32_t)w;
	echoed = (size_t)w < pc->echo_left ? (size_t)w : pc->echo_left;
	pc->echo_left -= (uint32_t)echoed;
	pc->push_off += (uint32_t)((size_t)w - echoed);
	atomic_fetch_add_explicit(&l->st->bytes, echoed, memory_order_relaxed);
	atomic_fetch_add_explicit(&l->st->pushes, pc->push_off / len, memory_order_relaxed);
	atomic_fetch_add_explicit(&l->st->push_bytes, pc->push_off / len * len,
				  memory_order_relaxed);
	pc->push_off %= len;
	if (c->pend_off < c->pend_len) {
		if (!pc->waiting)
			watch(l, fd, EPOLLOUT);
		pc->waiting = 1;
		return 0;
	}
	free(c->pend);
	c->pend = NULL;
	c->pend_len = c->pend_off = pc->cap = 0;
	if (pc->waiting)
		watch(l, fd, EPOLLIN);	/* drained: read it again */
	pc->waiting = 0;
	return 1;
}

/* The read side in push mode: echo whole frames only, so a push always
 * lands between two frames; a frame's first bytes wait in push_conn for
 * the rest (and are dropped at EOF). Read only while nothing is queued. */
static void push_readable(struct loop *l, int fd)
{
	struct conn *c = &l->conns[fd];
	struct push_conn *pc = &l->pc[fd];
	size_t room = sizeof(l->buf) < cfg.push.queue_max ? sizeof(l->buf) : cfg.push.queue_max;

	for (int i = 0; i < READ_BUDGET && !c->pend; i++) {
		ssize_t n;
		size_t got, whole;

		memcpy(l->buf, pc->part, pc->part_len);
		n = recv(fd, l->buf + pc->part_len, room - pc->part_len, 0);
		if (n == 0) {
			conn_close(l, fd, 0);		/* EOF: all echoed */
			return;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno != EAGAIN)
				conn_close(l, fd, errno);	/* reset, ... */
			return;
		}
		got = pc->part_len + (size_t)n;
		whole = got - got % FRAME_SIZE;
		pc->part_len = (uint8_t)(got - whole);
		memcpy(pc->part, l->buf + whole, pc->part_len);
		if (whole && out_append(l, fd, l->buf, whole) < 0)
			return;
		pc->echo_left += (uint32_t)whole;
		if (whole && conn_flush(l, fd) < 0)
			return;
		if (got < room)
			return;		/* the socket is drained */
	}
}

/* Encode fd's next push, stamped with its scheduled time, into its out
 * queue: 0, or -1 once fd is dropped as a slow consumer. The connections
 * of one broadcast mostly share a sequence number, so one encoding serves
 * all those (a push is the same bytes for the same seq and time). */
static int push_one(struct loop *l, int fd, uint64_t sched_ns)
{
	uint64_t seq = ++l->pc[fd].seq;

	if (seq != l->pbuf_seq || sched_ns != l->pbuf_sched) {
		push_encode(l->pbuf, seq, sched_ns, cfg.push.body);
		l->pbuf_seq = seq;
		l->pbuf_sched = sched_ns;
	}
	return out_append(l, fd, l->pbuf, PUSH_HDR + cfg.push.body);
}

/* Push to one connection: queue it, then write what the socket takes
 * (unless it already waits for EPOLLOUT); past -Q, slow_drop. */
static void push_to(struct loop *l, int fd, uint64_t sched_ns)
{
	if (push_one(l, fd, sched_ns) == 0 && !l->pc[fd].waiting)
		conn_flush(l, fd);
}

/* Set the timerfd to the next due time (CLOCK_REALTIME, absolute; a time
 * already past fires at once). */
static void push_arm(struct loop *l)
{
	uint64_t due = push_clock_due(&l->clock);
	struct itimerspec it = { .it_value = { .tv_sec = (time_t)(due / 1000000000),
					       .tv_nsec = (long)(due % 1000000000) } };

	timerfd_settime(l->tfd, TFD_TIMER_ABSTIME, &it, NULL);
}

/* Is the next scheduled push due? */
static int push_due(struct loop *l)
{
	return clock_wall_ns() >= push_clock_due(&l->clock);
}

/* -R: the next open connection after the last one pushed to; -1 if none. */
static int push_next_conn(struct loop *l)
{
	for (int i = 0; i <= l->fd_max; i++) {
		l->cursor = l->cursor >= l->fd_max ? 0 : l->cursor + 1;
		if (l->pc[l->cursor].live)
			return l->cursor;
	}
	return -1;
}

/* The timerfd fired. -b: one broadcast, the same scheduled time on every
 * connection's push, first to those that keep up, then to those still
 * waiting for EPOLLOUT (a slow one delays nobody who reads). -R: the pushes
 * due by now, each to the next connection in turn, PUSH_BUDGET at most
 * before the events waiting. */
static void push_event(struct loop *l)
{
	uint64_t expirations, due = push_clock_due(&l->clock);

	if (read(l->tfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		die("timerfd read:");
	if (cfg.push.every_s > 0 && push_due(l)) {
		for (int fd = 0; fd <= l->fd_max; fd++) {
			if (l->pc[fd].live && l->pc[fd].waiting)
				l->pc[fd].later = 1;
			else if (l->pc[fd].live)
				push_to(l, fd, due);
		}
		for (int fd = 0; fd <= l->fd_max; fd++) {
			if (l->pc[fd].live && l->pc[fd].later) {
				l->pc[fd].later = 0;
				push_to(l, fd, due);
			}
		}
		push_clock_next(&l->clock);
	}
	if (cfg.push.rate > 0)	/* its share of RATE: its share of the connections */
		push_clock_share(&l->clock, &cfg.push, atomic_load(&l->st->conns),
				 stats_conns());
	for (int i = 0; cfg.push.rate > 0 && i < PUSH_BUDGET && push_due(l); i++) {
		int fd = push_next_conn(l);

		if (fd >= 0)
			push_to(l, fd, push_clock_due(&l->clock));
		push_clock_next(&l->clock);
	}
	push_arm(l);
}

/* Push mode on in this child: a push_conn per fd, a buffer for one push,
 * and a timerfd in its epoll set, on the schedule the parent started. A
 * broadcast is one instant for every child; under -R, child ID's turns come
 * ID/children of a step after the first child's, so the children do not all
 * wake at once. */
static void push_start(struct loop *l, long fds, int id)
{
	struct epoll_event ev = { .events = EPOLLIN };

	l->pc = calloc((size_t)fds, sizeof(*l->pc));
	l->pbuf = malloc(PUSH_HDR + cfg.push.body);
	l->tfd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	ev.data.fd = l->tfd;
	if (!l->pc || !l->pbuf || l->tfd < 0 || epoll_ctl(l->ep, EPOLL_CTL_ADD, l->tfd, &ev) < 0)
		die("push setup:");
	l->clock = push_clock;
	if (cfg.push.rate > 0)	/* -R: the children take turns */
		l->clock.t0 += l->clock.step_ns * (uint64_t)id / (uint64_t)cfg.loops;
	push_arm(l);
}

/* ---- the loop: one per child ---- */

static void loop_run(struct loop *l)
{
	struct epoll_event ev[MAX_EVENTS];
	uint64_t next_tick = clock_ns() + TICK_NS;

	while (!atomic_load_explicit(&sig_stop, memory_order_relaxed)) {
		int n = epoll_wait(l->ep, ev, MAX_EVENTS, TICK_NS / 1000000);

		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			if (fd == l->lfd)	/* new connections: one more event */
				on_accept(l);
			else if (fd == l->tfd)	/* push mode: a push is due */
				push_event(l);
			else if (l->pc && !l->pc[fd].live)
				continue;	/* closed earlier in this batch */
			else if (l->pc && ev[i].events & EPOLLOUT)
				conn_flush(l, fd);
			else if (l->pc)
				push_readable(l, fd);
			else if (ev[i].events & EPOLLOUT)
				on_writable(l, fd);
			else
				on_readable(l, fd);
		}
		if (clock_ns() >= next_tick) {	/* housekeeping */
			accept_resume(l);
			/* EPOLLEXCLUSIVE wakes one child per connection; a full
			 * one leaves it in the backlog and nobody else hears
			 * of it. So each child also looks for itself. */
			if (!l->paused_until)
				on_accept(l);
			sig_wait(0);		/* the parent's SIGTERM? */
			next_tick = clock_ns() + TICK_NS;
		}
	}
}

/* A child: its own epoll set over the inherited listener and conn table. */
static __attribute__((noreturn)) void child_run(struct loop *l, int id, pid_t parent)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = l->lfd };

	prctl(PR_SET_PDEATHSIG, SIGTERM);	/* the parent dies: so do we */
	if (getppid() != parent)
		_exit(1);			/* it died before prctl */
	l->st = &slots[id];
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	if (l->ep < 0 || epoll_ctl(l->ep, EPOLL_CTL_ADD, l->lfd, &ev) < 0)
		die("child %d: setup:", id);
	if (cfg.pushing)
		push_start(l, fd_limit, id);	/* this child pushes to its own */
	loop_run(l);		/* until SIGTERM (blocked: sig_wait sees it) */
	/* The door first: the shared listener shut down (by whichever child
	 * stops first) leaves the port at once, so a client that reconnects
	 * while the children close their connections is refused, not queued
	 * behind a server on its way out. */
	shutdown(l->lfd, SHUT_RD);
	_exit(0);		/* the kernel closes every connection */
}

/* ---- the parent: reap, stop, report ---- */

/* stats_run()'s tick: reap the children that ended; 1 once none is left. */
static int reap(void)
{
	for (int i = 0, status; i < cfg.loops; i++) {
		struct child *c = &children[i];
		int sig;

		if (c->exit[0] || wait4(c->pid, &status, WNOHANG, &c->ru) <= 0)
			continue;		/* reaped before, or running */
		sig = WIFSIGNALED(status);
		snprintf(c->exit, sizeof(c->exit), sig ? "signal %d" : "exit %d",
			 sig ? WTERMSIG(status) : WEXITSTATUS(status));
		rss_kb += c->ru.ru_maxrss;
		alive--;
		if (atomic_load(&sig_stop) && !strcmp(c->exit, "exit 0"))
			continue;		/* stopped as asked */
		died++;			/* ended before the stop, or not cleanly */
		atomic_store(&slots[i].conns, 0);	/* the kernel closed them */
		warnx_("child %d (pid %d) died: %s; %d of %d children left",
		       i, (int)c->pid, c->exit, alive, cfg.loops);
	}
	return alive == 0;
}

/* Forward the stop to every child (SIGKILL after STOP_WAIT_S); reap them. */
static void stop_children(void)
{
	uint64_t kill_at = clock_ns() + STOP_WAIT_S * 1000000000ull;

	for (int sig = SIGTERM; !reap(); usleep(10000)) {
		for (int i = 0; sig && i < cfg.loops; i++)
			if (!children[i].exit[0])
				kill(children[i].pid, sig);
		sig = 0;
		if (kill_at && clock_ns() > kill_at) {
			warnx_("%d children still running %d s after SIGTERM: SIGKILL",
			       alive, STOP_WAIT_S);
			sig = SIGKILL;
			kill_at = 0;
		}
	}
}

static void children_line(FILE *f)
{
	fprintf(f, "  children %d/%d", alive, cfg.loops);
}

/* The result: one JSON line on stdout, an object per child in it. */
static void report(void)
{
	struct json j;

	stats_set_children(rss_kb);	/* their RSS and CPU count in the totals */
	json_begin(&j);
	stats_json(&j);
	json_i64(&j, "procs", cfg.loops);
	/* Accepts per child: how evenly the kernel spread the connections. */
	json_arr(&j, "accepts_per_loop");
	for (int i = 0; i < cfg.loops; i++)
		json_u64(&j, NULL, atomic_load(&slots[i].accepted));
	json_arr_end(&j);
	json_arr(&j, "children");
	for (int i = 0; i < cfg.loops; i++) {
		const struct rusage *ru = &children[i].ru;

		json_arr_obj(&j);
		json_i64(&j, "pid", children[i].pid);
		json_u64(&j, "accepted", atomic_load(&slots[i].accepted));
		json_u64(&j, "requests", atomic_load(&slots[i].bytes) / FRAME_SIZE);
		json_u64(&j, "errors", atomic_load(&slots[i].errors));
		json_num(&j, "cpu_s", (double)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) +
				      (ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1e6);
		json_i64(&j, "rss_kb", ru->ru_maxrss);
		json_str(&j, "exit", children[i].exit[0] ? children[i].exit : "running");
		json_end(&j);
	}
	json_arr_end(&j);
	json_i64(&j, "children_died", died);
	json_end(&j);
	json_print(&j, stdout);
}

/* ---- main ---- */

static void usage(void)
{
	printf("%s: a parent forks -c children sharing its listener, one epoll loop each\n\n"
	       "%s\n\n"
	       "  -a ADDR   address to listen on (default %s; 0.0.0.0 is opt-in)\n"
	       "  -p PORT   port (default %d; 0 picks a free one)\n"
	       "  -c N      child processes (default: the CPU count, or enough fd tables\n"
	       "            for -n plus 1/8; at most %d)\n"
	       "  -n CONNS  connections to make room for; sizes the default -c\n"
	       "  -i SEC    stats interval on stderr (default 5)\n"
	       PUSH_USAGE
	       "  -L        print this design's limits as one JSON line, for run.sh\n"
	       "  -h        this help\n\n"
	       "Echoes every byte back (with -b/-R, whole frames, a push between two).\n"
	       "Prints \"listening on ADDR:PORT\" on stderr when ready; on SIGINT/SIGTERM\n"
	       "one JSON line on stdout, then exits 0 (1 if a child died).\n"
	       "Exit 1: cannot listen; exit 2: bad usage.\n",
	       prog_name, arg_synopsis, C1M_ADDR, C1M_PORT, MAX_CHILDREN);
}

static void parse(int argc, char **argv)
{
	static const struct limits lim = { .design = DESIGN, .fd_tables = "many",
		.fd_reserve = FD_RESERVE, .max_loops = MAX_CHILDREN, .target = 1000000,
		.push = 1 };
	int o;

	arg_synopsis = "usage: server [-a ADDR] [-p PORT] [-c N] [-n CONNS] [-i SEC] "
		PUSH_SYNOPSIS " [-L] [-h]";
	while ((o = getopt(argc, argv, ":a:p:c:n:i:b:R:l:Q:Lh")) != -1) {
		switch (o) {
		case 'a': arg_ipv4(o, optarg); cfg.addr = optarg; break;
		case 'p': cfg.port = (int)arg_long(o, optarg, 0, 65535); break;
		case 'c': cfg.loops = (int)arg_long(o, optarg, 1, 4096); break;
		case 'n': cfg.conns = arg_long(o, optarg, 1, 100000000); break;
		case 'i': cfg.interval = arg_seconds(o, optarg, 1e6); break;
		case 'b': case 'R': case 'l': case 'Q': push_arg(&cfg.push, o, optarg); break;
		case 'L': limits_print(&lim);
		case 'h': usage(); exit(0);
		case ':': arg_usage_error("-%c needs a value", optopt);
		default: arg_usage_error("unknown option -%c", optopt);
		}
	}
	if (optind < argc)
		arg_usage_error("unexpected argument '%s'", argv[optind]);
	if (cfg.interval < 0.1)
		arg_usage_error("-i: must be at least 0.1 s");
	cfg.pushing = push_plan_check(&cfg.push);	/* exit 2: a bad mix */
}

int main(int argc, char **argv)
{
	struct loop *l = &loop;
	pid_t parent = getpid();

	prog_init(argv[0]);
	parse(argc, argv);
	fd_limit = fd_size_loops(cfg.conns, FD_RESERVE, &cfg.loops);	/* exit 2: no fit */
	if (cfg.loops > MAX_CHILDREN)
		arg_usage_error("-c %d: at most %d children (%ld connections)", cfg.loops,
				MAX_CHILDREN, MAX_CHILDREN * (fd_limit - FD_RESERVE));
	sig_setup();		/* before fork: children inherit the blocked mask */
	/* One listener for every child: 4096 of backlog each, as 06's loops
	 * have with a listener each (the kernel caps it at somaxconn). With
	 * less, a ramp outruns children busy pushing, the queue overflows, and
	 * a client whose connect() succeeded is never accepted. */
	l->lfd = net_listen(cfg.addr, cfg.port, 0, 4096 * cfg.loops);
	if (l->lfd < 0)
		die("listen %s:%d:", cfg.addr, cfg.port);
	cfg.port = net_local_port(l->lfd);	/* resolves -p 0 */
	slots = stats_init(DESIGN, cfg.loops, cfg.interval);	/* MAP_SHARED */
	l->conns = calloc((size_t)fd_limit, sizeof(*l->conns));	/* copied by fork */
	l->tfd = -1;
	if (!l->conns)
		die("setup:");
	if (cfg.pushing) {	/* one schedule: every child stamps the same times */
		stats_set_push(&cfg.push);
		push_clock_start(&push_clock, &cfg.push, cfg.loops);
	}
	for (int i = 0; i < cfg.loops; i++, alive++) {
		children[i].pid = fork();
		if (children[i].pid < 0)
			die("fork child %d:", i);	/* the rest get PDEATHSIG */
		if (children[i].pid == 0)
			child_run(l, i, parent);
	}
	close(l->lfd);		/* the children hold it now */
	stats_set_line(children_line);
	fprintf(stderr, "%s: listening on %s:%d, %d children x %ld fds%s\n",
		prog_name, cfg.addr, cfg.port, cfg.loops, fd_limit - FD_RESERVE,
		cfg.pushing ? ", each pushing to its own" : "");

	stats_run(reap);	/* until SIGINT/SIGTERM, or no child is left */
	stop_children();
	report();
	return died ? 1 : 0;
}
