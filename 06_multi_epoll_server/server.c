/*
 * 06_multi_epoll_server - 03's loop once per core: N threads, each with its
 * own SO_REUSEPORT listener (the kernel hashes each new connection to one),
 * epoll set and fd table. The loops share no connection, lock or queue and
 * run 03's handlers unchanged; main only runs the meter.
 *
 * Why it reaches 1M: RLIMIT_NOFILE is per fd *table* (20,000 on the
 * development machine, a hard limit), and each loop unshares a table of its
 * own: with 20,000, 64 loops x ~19,970 = 1.27M connections, 16 bytes each (struct conn) plus the kernel's ~4 KB
 * socket. Past one loop per core the loops only take turns.
 *
 * Push (-b/-R): a loop's fd table is its own, so no other thread could
 * even name its sockets: each loop pushes to its own connections, from a
 * timerfd in its own epoll set, with 03's push steps unchanged. Main starts
 * one schedule before the threads and each loop copies it, so a broadcast
 * carries the same scheduled time on every loop; under -R each loop's share
 * of RATE is its share of all the loops' connections (RATE / N, its
 * `shares`, until it has one), pushed to its connections in turn. A broadcast
 * is N fan-outs side by side, one per core, each as long as its own
 * share of the connections (SO_REUSEPORT's spread is not even); a slow
 * consumer costs only its own loop a memcpy per push until -Q drops it.
 *
 * usage: server [-a ADDR] [-p PORT] [-c N] [-n CONNS] [-i SEC]
 *               [-b SEC | -R RATE] [-l BYTES] [-Q BYTES] [-L] [-h]
 * build: cc -std=gnu11 -O2 -pthread -Icommon -o 06_multi_epoll_server/server 06_multi_epoll_server/server.c common/[a-z]*.c -lm
 * test with: ./06_multi_epoll_server/server & ./06_multi_epoll_server/client -n 1000 -d 5
 *   push: ./06_multi_epoll_server/server -b 1 & tests/pushread.py -p 8972 -n 1000 -d 5
 * diff against: 03_epoll_throughput (the same loop, once per thread)
 * sample output (stderr, 2 cores; then the JSON line on stdout at SIGTERM):
 *   06_multi_epoll_server/server: listening on 127.0.0.1:8972, 2 loops x 19968 fds
 *   conns 1000  rps 67363  accepted 1000  resets 0  errors 0
 *   {"design":"06_multi_epoll_server","conns_peak":1000,...,"loops":2}
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "c1m.h"

#define DESIGN		"06_multi_epoll_server"
#define FD_RESERVE	32	/* per table: epoll fd, listener, stdio, slack */
#define MAX_EVENTS	512
#define BUF_SIZE	16384	/* per loop, not per connection */
#define READ_BUDGET	16	/* reads per event before the next connection */
#define PAUSE_MS	100	/* accept pause after EMFILE */
#define TICK_NS		100000000ull	/* housekeeping every 100 ms */
#define PUSH_BUDGET	1024	/* -R: pushes per timer wake-up, then the events */
#define QUEUE_MIN	65536	/* push mode: an out queue's first malloc, at most -Q */

static struct {
	const char *addr;
	int port;
	double interval;
	int loops;		/* -c; 0 = size from -n and the CPU count */
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
	pthread_t thread;
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

static struct loop *loops;	/* cfg.loops of them, a thread each */
static long fd_limit;		/* the size of each loop's fd table */
static struct push_clock push_clock;	/* main starts it, each loop copies it */

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

static void on_accept(struct loop *l)
{
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
					warnx_("accept at %ld conns: paused:", stats_conns());
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

/* After an EMFILE pause: put the listener back in the set. */
static void accept_resume(struct loop *l)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = l->lfd };

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

/* Push mode on in this loop: a push_conn per fd, a buffer for one push,
 * and a timerfd in its epoll set, on the schedule main started. A
 * broadcast is one instant for every loop; under -R, loop ID's turns come
 * ID/loops of a step after the first loop's, so the loops do not all
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
	if (cfg.push.rate > 0)	/* -R: the loops take turns */
		l->clock.t0 += l->clock.step_ns * (uint64_t)id / (uint64_t)cfg.loops;
	push_arm(l);
}

/* ---- the loop: one per thread ---- */

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
		if (clock_ns() >= next_tick) {	/* housekeeping; the meter and */
			accept_resume(l);	/* the signals are main's */
			next_tick = clock_ns() + TICK_NS;
		}
	}
}

/* A loop thread: its own fd table (a copy of main's, less the other loops'
 * listeners; a TSan build shares one: r == 1), epoll set and listener. */
static void *loop_thread(void *arg)
{
	struct loop *l = arg;
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = l->lfd };
	int r = fd_private_table();

	if (r < 0)
		die("unshare(CLONE_FILES):");
	for (int i = 0; r == 0 && i < cfg.loops; i++)
		if (&loops[i] != l)
			close(loops[i].lfd);
	l->conns = calloc((size_t)fd_limit, sizeof(*l->conns));
	l->ep = epoll_create1(EPOLL_CLOEXEC);	/* and the listener joins it */
	if (!l->conns || l->ep < 0 || epoll_ctl(l->ep, EPOLL_CTL_ADD, l->lfd, &ev) < 0)
		die("loop setup:");
	if (cfg.pushing)
		push_start(l, fd_limit, (int)(l - loops));	/* this loop pushes to its own */
	loop_run(l);			/* until main sets sig_stop */
	return NULL;
}

/* ---- main ---- */

/* The result: one JSON line on stdout. */
static void report(void)
{
	struct json j;

	json_begin(&j);
	stats_json(&j);
	json_i64(&j, "loops", cfg.loops);
	/* Accepts per loop: how evenly the kernel spread the connections. */
	json_arr(&j, "accepts_per_loop");
	for (int i = 0; i < cfg.loops; i++)
		json_u64(&j, NULL, atomic_load(&loops[i].st->accepted));
	json_arr_end(&j);
	json_end(&j);
	json_print(&j, stdout);
}

static void usage(void)
{
	printf("%s: SO_REUSEPORT listeners, one epoll loop and fd table each\n\n"
	       "%s\n\n"
	       "  -a ADDR   address to listen on (default %s; 0.0.0.0 is opt-in)\n"
	       "  -p PORT   port (default %d; 0 picks a free one)\n"
	       "  -c N      epoll loops (default: the CPU count, more if -n needs them)\n"
	       "  -n CONNS  connections to make room for, plus 1/8 (the kernel does not\n"
	       "            spread them evenly over the loops); sizes the default -c\n"
	       "  -i SEC    stats interval on stderr (default 5)\n"
	       PUSH_USAGE
	       "  -L        print this design's limits as one JSON line, for run.sh\n"
	       "  -h        this help\n\n"
	       "Echoes every byte back (with -b/-R, whole frames, a push between two).\n"
	       "Prints \"listening on ADDR:PORT\" on stderr when ready; on SIGINT/SIGTERM\n"
	       "one JSON line on stdout, then exits 0.\n"
	       "Exit 1: cannot listen; exit 2: bad usage.\n",
	       prog_name, arg_synopsis, C1M_ADDR, C1M_PORT);
}

static void parse(int argc, char **argv)
{
	static const struct limits lim = { .design = DESIGN, .fd_tables = "many",
		.fd_reserve = FD_RESERVE, .max_loops = 4096, .target = 1000000,
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
	struct stats_slot *slots;

	prog_init(argv[0]);
	parse(argc, argv);
	fd_limit = fd_size_loops(cfg.conns, FD_RESERVE, &cfg.loops);	/* and -c */
	loops = calloc((size_t)cfg.loops, sizeof(*loops));
	if (!loops)
		die("setup:");
	slots = stats_init(DESIGN, cfg.loops, cfg.interval);	/* a slot each */
	/* Every listener up front: a busy port fails here, before any thread.
	 * SO_REUSEPORT shares the port among our loops only (not with -c 1). */
	for (int i = 0; i < cfg.loops; i++) {
		loops[i].st = &slots[i];
		loops[i].tfd = -1;
		loops[i].lfd = net_listen(cfg.addr, cfg.port, cfg.loops > 1, 4096);
		if (loops[i].lfd < 0)
			die("listen %s:%d:", cfg.addr, cfg.port);
		cfg.port = net_local_port(loops[i].lfd);	/* resolves -p 0 */
	}
	if (cfg.pushing) {	/* one schedule: every loop stamps the same times */
		stats_set_push(&cfg.push);
		push_clock_start(&push_clock, &cfg.push, cfg.loops);
	}
	sig_setup();		/* before the threads: they inherit the mask */
	for (int i = 0; i < cfg.loops; i++)
		if ((errno = pthread_create(&loops[i].thread, NULL, loop_thread, &loops[i])))
			die("pthread_create:");
	fprintf(stderr, "%s: listening on %s:%d, %d loops x %ld fds%s\n",
		prog_name, cfg.addr, cfg.port, cfg.loops, fd_limit - FD_RESERVE,
		cfg.pushing ? ", each pushing to its own" : "");

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
