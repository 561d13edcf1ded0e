/*
 * 08_reactor_workerpool - one epoll reactor finds the ready connections;
 * a pool of -c worker threads reads and echoes them. The reactor (the main
 * thread) owns the listener and the one epoll set. It accepts, but never
 * reads a byte: it pushes each ready connection into a bounded queue, and
 * a free worker pops it, runs 03's handlers on it and re-arms it. Every
 * connection is registered with EPOLLONESHOT: once reported, epoll keeps
 * it silent until a worker re-arms it (watch), so no connection is queued
 * twice or served by two workers at once. A `busy` flag, set on pickup and
 * cleared before the re-arm, counts any overlap (the JSON's "overlaps",
 * which must stay 0).
 *
 * What it costs, against 06's loops that each do their own I/O: per
 * request a queue push and pop under a mutex, a futex wakeup and an
 * epoll_ctl to re-arm, and a cache miss as the connection changes cores;
 * one thread runs every epoll_wait, however many workers there are; and
 * one fd table (the workers need the reactor's fds), capped by
 * RLIMIT_NOFILE (20,000 on the development machine): -n beyond it is
 * refused. What it buys: slow
 * work per request (12, 13) no longer stalls the loop. Per connection: 24
 * bytes (struct conn) in a flat array indexed by fd.
 *
 * Push (-b/-R): the reactor owns the schedule. A timerfd in its epoll set
 * fires at each due time (CLOCK_REALTIME, absolute), and push_event turns
 * the pushes due into jobs on the same queue as the ready connections:
 * a broadcast is one job per PUSH_CHUNK fds, -R one job per push, to the
 * next connection in turn. Workers write them. A worker serving a read
 * event may be writing the same socket, so in push mode each fd has an
 * out queue and a lock, and every write to a socket (echo or push) is
 * made under it: echoes go in whole 8-byte frames, a push between two.
 * Whoever leaves bytes queued arms EPOLLOUT; a connection whose unread
 * bytes would pass -Q is dropped (slow_dropped). What the queue costs a
 * broadcast: a push and pop per chunk, a lock per connection, and the
 * reactor waiting whenever the queue is full.
 *
 * usage: server [-a ADDR] [-p PORT] [-c N] [-n CONNS] [-b SEC | -R RATE]
 *               [-l BYTES] [-Q BYTES] [-i SEC] [-L] [-h]
 * build: cc -std=gnu11 -O2 -pthread -Icommon -o 08_reactor_workerpool/server 08_reactor_workerpool/server.c common/[a-z]*.c -lm
 * test with: ./08_reactor_workerpool/server & ./05_multi_epoll_client/client -n 1000 -d 5
 *   push: ./08_reactor_workerpool/server -b 1 & python3 tests/pushread.py (tests/pushserv.sh)
 * diff against: 03_epoll_throughput (the same handlers, run by workers:
 * this adds the queue, EPOLLONESHOT and the re-arm after every event)
 * sample output (stderr; then the JSON line on stdout at SIGTERM):
 *   08_reactor_workerpool/server: listening on 127.0.0.1:8972, 1 reactor, 2 workers, ...
 *   conns 1000  rps 51734  accepted 1000  resets 0  errors 0  queue_full 0
 *   {"design":"08_reactor_workerpool",...,"workers":2,"overlaps":0,...}
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "c1m.h"

#define DESIGN		"08_reactor_workerpool"
#define FD_RESERVE	32	/* epoll fd, listener, stdio, slack */
#define MAX_EVENTS	512
#define QUEUE_CAP	1024	/* ready connections waiting for a worker */
#define BUF_SIZE	16384	/* per worker, not per connection */
#define READ_BUDGET	16	/* reads per event before the next connection */
#define PAUSE_MS	100	/* accept pause after EMFILE */
#define TICK_NS		100000000ull	/* housekeeping every 100 ms */
#define PUSH_CHUNK	256	/* push mode: fds a broadcast job covers */

static struct {
	const char *addr;
	int port;
	double interval;
	int loops;		/* -c: worker threads; 0 = the CPU count */
	long conns;		/* -n: connections to make room for */
	struct push_plan push;	/* -b | -R, -l, -Q */
} cfg = { C1M_ADDR, C1M_PORT, 5, 0, 0, PUSH_PLAN_DEFAULT };
static int pushing;		/* -b or -R given: push mode */

/* The per-connection state: the bytes read but not yet written back. */
struct conn {
	char *pend;		/* malloc'd, NULL when drained */
	uint32_t pend_len;	/* bytes in pend */
	uint32_t pend_off;	/* bytes of pend already sent */
	atomic_int busy;	/* a worker holds it (EPOLLONESHOT: never two) */
};

/*
 * Push mode: a connection's out queue, echoes and pushes in whole frames,
 * and whatever writes the socket (a worker serving its event, or one
 * running a push job) holds its lock. One per fd, only in push mode.
 */
struct out {
	pthread_mutex_t mu;
	char *buf;		/* malloc'd, NULL when drained */
	uint32_t len, off, cap;	/* bytes queued, of them sent, room */
	uint32_t scan;		/* frames before it are counted as written */
	uint64_t seq;		/* pushes queued: the last sequence number */
	uint64_t sched;		/* the scheduled time of the last one */
	unsigned char part[FRAME_SIZE];	/* a frame read in part */
	uint8_t part_len;
	uint8_t open;		/* the fd is a connection */
};

/* A queue entry: a ready connection, or (events 0) a push job. */
struct job {
	int fd;			/* the connection; a push job: its first fd */
	uint32_t events;	/* epoll's; 0: a push job */
	int n;			/* push job: fds fd .. fd + n - 1 */
	uint64_t sched_ns;	/* push job: the scheduled time */
};

/*
 * What a thread runs the handlers with. The reactor and every worker use
 * the one epoll set and conn table; each has its own stats slot, and a
 * worker its read buffer. The listener is the reactor's.
 */
struct loop {
	pthread_t thread;
	int ep, lfd;		/* the epoll set, and the listener in it */
	struct conn *conns;	/* one per fd of the table */
	struct out *outs;	/* push mode: one per fd of the table */
	struct stats_slot *st;
	uint64_t paused_until;	/* accept paused after EMFILE; 0 = listening */
	/* push mode, the reactor's: the schedule and its timer */
	struct push_clock clock;
	int tfd;		/* a timerfd in the epoll set, set to the next due time */
	int max_fd;		/* the highest fd accepted: a broadcast's range */
	int next_fd;		/* -R: the connection whose turn is next */
	char buf[BUF_SIZE];
};

/* The bounded queue between the reactor and the workers: ready events. */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t not_empty, not_full;
	struct job ring[QUEUE_CAP];
	unsigned head, len;
	int closed;		/* the stop: workers return */
} q = { .mu = PTHREAD_MUTEX_INITIALIZER,
	.not_empty = PTHREAD_COND_INITIALIZER, .not_full = PTHREAD_COND_INITIALIZER };

static struct loop loop;	/* the one reactor */
static struct loop *workers;	/* cfg.loops of them, a thread each */
static atomic_ulong overlaps, queue_full;
static long fd_limit;		/* RLIMIT_NOFILE: conns[] and outs[] entries */

/* ---- handlers: the reactor's on_accept, the rest a worker's ---- */

/* Hand the connection back to epoll, armed for one more event: until
 * then epoll reports it to nobody (EPOLLONESHOT). */
static void watch(struct loop *l, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events | EPOLLONESHOT, .data.fd = fd };

	atomic_store_explicit(&l->conns[fd].busy, 0, memory_order_release);
	epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev);
}

/* err: 0 for a clean EOF, else the errno that ended the connection. */
static void conn_close(struct loop *l, int fd, int err)
{
	struct conn *c = &l->conns[fd];

	free(c->pend);
	memset(c, 0, offsetof(struct conn, busy));
	if (l->outs) {		/* push mode: the caller holds its lock */
		struct out *o = &l->outs[fd];

		free(o->buf);
		memset(&o->buf, 0, sizeof(*o) - offsetof(struct out, buf));
	}
	/* Let go of it first: accept may hand out the fd again at once. */
	atomic_store_explicit(&c->busy, 0, memory_order_release);
	close(fd);		/* also leaves the epoll set */
	stats_conn_closed(l->st, err);
}

/* Push mode: mark fd a connection (1) or not (0), for the push jobs. */
static void push_open(struct loop *l, int fd, int open)
{
	if (!l->outs)
		return;
	pthread_mutex_lock(&l->outs[fd].mu);
	l->outs[fd].open = (uint8_t)open;
	pthread_mutex_unlock(&l->outs[fd].mu);
}

static void on_accept(struct loop *l)
{
	for (;;) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT };
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
		push_open(l, fd, 1);	/* push mode: before any event can come */
		if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			push_open(l, fd, 0);
			close(fd);
			continue;
		}
		if (fd > l->max_fd)
			l->max_fd = fd;
		net_set_nodelay(fd);
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
			if (errno != EAGAIN) {
				conn_close(l, fd, errno);	/* reset, ... */
				return;
			}
			break;
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
			break;		/* the socket is drained */
	}
	/* Drained, or the budget spent: epoll reports the rest next time. */
	watch(l, fd, EPOLLIN);
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
	if (c->pend_off < c->pend_len) {
		watch(l, fd, EPOLLOUT);	/* still short: wait for the next EPOLLOUT */
		return;
	}
	free(c->pend);
	memset(c, 0, offsetof(struct conn, busy));
	watch(l, fd, EPOLLIN);	/* drained: read it again */
}

/* ---- push mode (-b / -R): the reactor's timer makes jobs, workers write ---- */

/* Append n bytes to the out queue (p, or NULL: the caller fills them in):
 * where they went, or NULL without memory. */
static char *out_append(struct out *o, const void *p, size_t n)
{
	if (o->len + n > o->cap && o->scan) {	/* drop what is written */
		memmove(o->buf, o->buf + o->scan, o->len - o->scan);
		o->len -= o->scan;
		o->off -= o->scan;
		o->scan = 0;
	}
	if (o->len + n > o->cap) {
		size_t cap = o->cap ? o->cap : 256;
		char *b;

		while (cap < o->len + n)
			cap *= 2;
		if (!(b = realloc(o->buf, cap)))
			return NULL;
		o->buf = b;
		o->cap = (uint32_t)cap;
	}
	if (p)
		memcpy(o->buf + o->len, p, n);
	o->len += (uint32_t)n;
	return o->buf + o->len - n;
}

/* Queue the connection's next push, stamped with its scheduled time. */
static int push_one(struct out *o, uint64_t sched_ns)
{
	char *p = out_append(o, NULL, PUSH_HDR + cfg.push.body);

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

/* Write what the socket takes of the out queue. 0, or -1 (errno). */
static int conn_flush(struct loop *l, int fd)
{
	struct out *o = &l->outs[fd];
	ssize_t w = send_some(fd, o->buf + o->off, o->len - o->off);

	if (w < 0)
		return -1;
	o->off += (uint32_t)w;
	out_count(l->st, o);
	if (o->off == o->len) {		/* drained: an idle conn holds no buffer */
		free(o->buf);
		o->buf = NULL;
		o->len = o->off = o->cap = o->scan = 0;
	}
	return 0;
}

/* A consumer past -Q unread bytes: close it at once (RST, so the kernel
 * drops what it holds for it too) and count it. */
static void slow_drop(struct loop *l, int fd)
{
	atomic_fetch_add_explicit(&l->st->slow_dropped, 1, memory_order_relaxed);
	net_set_linger0(fd);
	conn_close(l, fd, 0);
}

/*
 * One push to fd, under its lock: queue it, write what the socket takes,
 * and leave the rest to EPOLLOUT; or drop a slow consumer. Two workers may
 * run two broadcasts' jobs for the same fds at once, the later overtaking
 * the earlier on a lock: so -b pushes every broadcast this connection has
 * not had up to sched_ns, in order, and a job that comes late finds its
 * push made. (-R: a push that comes after a later one to the same fd is
 * left out, rather than sent out of order.)
 */
static void push_to(struct loop *l, int fd, uint64_t sched_ns)
{
	struct out *o = &l->outs[fd];
	uint32_t queued = o->len - o->off;
	uint64_t s = o->sched && cfg.push.every_s > 0 ? o->sched + loop.clock.step_ns : sched_ns;

	if (!o->open || sched_ns <= o->sched)
		return;		/* closed since the job was queued, or made */
	for (; s <= sched_ns; s += loop.clock.step_ns) {
		if (o->len - o->off + PUSH_HDR + cfg.push.body > cfg.push.queue_max) {
			slow_drop(l, fd);
			return;
		}
		if (push_one(o, s) < 0) {
			conn_close(l, fd, ENOMEM);
			return;
		}
		o->sched = s;
	}
	if (conn_flush(l, fd) < 0) {
		conn_close(l, fd, errno);
		return;
	}
	/* Left over, and nothing was before: have epoll say when it can take
	 * more. If this connection's event is already queued, that may make a
	 * second one; both are served in turn under the lock. */
	if (o->len && !queued)
		watch(l, fd, EPOLLOUT);
}

/* Read side in push mode: echo whole frames only, keeping a frame read in
 * part until the rest comes, so a push is never put inside one. */
static void push_readable(struct loop *l, int fd)
{
	struct out *o = &l->outs[fd];

	for (int i = 0; i < READ_BUDGET; i++) {
		ssize_t n;
		size_t whole;

		memcpy(l->buf, o->part, o->part_len);
		n = recv(fd, l->buf + o->part_len, sizeof(l->buf) - o->part_len, 0);
		if (n == 0) {
			conn_close(l, fd, 0);		/* EOF: all echoed */
			return;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno != EAGAIN) {
				conn_close(l, fd, errno);	/* reset, ... */
				return;
			}
			break;
		}
		n += o->part_len;
		whole = (size_t)n - (size_t)n % FRAME_SIZE;
		o->part_len = (uint8_t)((size_t)n - whole);
		memcpy(o->part, l->buf + whole, o->part_len);
		if ((whole && !out_append(o, l->buf, whole)) || conn_flush(l, fd) < 0) {
			conn_close(l, fd, errno ? errno : ENOMEM);
			return;
		}
		if (o->len) {
			watch(l, fd, EPOLLOUT);	/* a slow reader: stop reading it */
			return;
		}
		if ((size_t)n < sizeof(l->buf))
			break;		/* the socket is drained */
	}
	watch(l, fd, EPOLLIN);
}

/* Push mode, a worker: a ready connection, served under its lock. What
 * is queued goes first; only then is it read again. */
static void push_ready(struct loop *l, int fd)
{
	struct out *o = &l->outs[fd];

	pthread_mutex_lock(&o->mu);
	if (!o->open)
		;		/* closed by a push job since epoll said ready */
	else if (o->len && conn_flush(l, fd) < 0)
		conn_close(l, fd, errno);
	else if (o->len)
		watch(l, fd, EPOLLOUT);
	else
		push_readable(l, fd);
	pthread_mutex_unlock(&o->mu);
}

/* A worker: one push to each connection among fds fd .. fd + n - 1. */
static void push_job(struct loop *l, const struct job *j)
{
	for (int fd = j->fd; fd < j->fd + j->n && fd < fd_limit; fd++) {
		pthread_mutex_lock(&l->outs[fd].mu);
		push_to(l, fd, j->sched_ns);
		pthread_mutex_unlock(&l->outs[fd].mu);
	}
}

/* ---- the handoff ---- */

/* The reactor: queue n jobs, waiting while the queue is full. */
static void q_push(const struct job *jobs, int n)
{
	pthread_mutex_lock(&q.mu);
	for (int i = 0; i < n; i++) {
		if (q.len == QUEUE_CAP)
			atomic_fetch_add_explicit(&queue_full, 1, memory_order_relaxed);
		while (q.len == QUEUE_CAP)	/* back-pressure: the reactor waits */
			pthread_cond_wait(&q.not_full, &q.mu);
		q.ring[(q.head + q.len++) % QUEUE_CAP] = jobs[i];
		pthread_cond_signal(&q.not_empty);
	}
	pthread_mutex_unlock(&q.mu);
}

/* A worker: pop the next ready connection and serve it, until the stop. */
static void *worker_run(void *arg)
{
	struct loop *l = arg;

	for (;;) {
		struct job job;

		pthread_mutex_lock(&q.mu);
		while (q.len == 0 && !q.closed)
			pthread_cond_wait(&q.not_empty, &q.mu);
		if (q.closed) {
			pthread_mutex_unlock(&q.mu);
			return NULL;
		}
		job = q.ring[q.head];
		q.head = (q.head + 1) % QUEUE_CAP;
		q.len--;
		pthread_cond_signal(&q.not_full);
		pthread_mutex_unlock(&q.mu);

		if (!job.events) {		/* push mode: a push job */
			push_job(l, &job);
			continue;
		}
		if (pushing) {			/* the lock keeps writers apart */
			push_ready(l, job.fd);
			continue;
		}
		if (atomic_exchange_explicit(&l->conns[job.fd].busy, 1, memory_order_acquire))
			atomic_fetch_add(&overlaps, 1);		/* EPOLLONESHOT broken */
		if (job.events & EPOLLOUT)
			on_writable(l, job.fd);
		else
			on_readable(l, job.fd);
	}
}

/* ---- the reactor's push timer ---- */

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

/* Set the timerfd to the next due time (CLOCK_REALTIME, absolute). */
static void push_arm(struct loop *l)
{
	uint64_t due = push_clock_due(&l->clock);
	struct itimerspec its = { .it_value = { (time_t)(due / 1000000000u),
						(long)(due % 1000000000u) } };

	if (timerfd_settime(l->tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		die("timerfd_settime:");
}

/* The schedule starts now; the timerfd joins the epoll set. */
static void push_start(struct loop *l)
{
	struct epoll_event ev = { .events = EPOLLIN };

	push_clock_start(&l->clock, &cfg.push, 1);	/* one reactor: all the rate */
	l->tfd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	ev.data.fd = l->tfd;
	if (l->tfd < 0 || epoll_ctl(l->ep, EPOLL_CTL_ADD, l->tfd, &ev) < 0)
		die("timerfd:");
	push_arm(l);
}

/* -R: the next connection in turn after fd, or -1 if there is none. */
static int push_next_conn(struct loop *l)
{
	for (int i = 0; i <= l->max_fd; i++) {
		int fd = (l->next_fd + i) % (l->max_fd + 1), open;

		pthread_mutex_lock(&l->outs[fd].mu);
		open = l->outs[fd].open;
		pthread_mutex_unlock(&l->outs[fd].mu);
		if (open) {
			l->next_fd = fd + 1;
			return fd;
		}
	}
	return -1;
}

/* The timer fired: turn every push now due into jobs for the workers.
 * -b: each broadcast is jobs of PUSH_CHUNK fds; -R: one job, one fd. */
static void push_event(struct loop *l)
{
	struct job jobs[64];
	uint64_t ticks, sched, now = clock_wall_ns();
	int k = 0;

	if (read(l->tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		die("timerfd read:");
	while ((sched = push_due(&l->clock, now))) {
		int fd = cfg.push.rate > 0 ? push_next_conn(l) : 0;
		int n = cfg.push.rate > 0 ? 1 : PUSH_CHUNK;

		for (; fd >= 0 && fd <= l->max_fd; fd += n) {
			if (k == 64) {
				q_push(jobs, k);
				k = 0;
			}
			jobs[k++] = (struct job){ .fd = fd, .n = n, .sched_ns = sched };
			if (cfg.push.rate > 0)
				break;		/* -R: one push a due time */
		}
	}
	q_push(jobs, k);
	push_arm(l);
}

/* ---- the loop: the reactor ---- */

static void loop_run(struct loop *l)
{
	struct epoll_event ev[MAX_EVENTS];
	struct job jobs[MAX_EVENTS];
	uint64_t next_tick = clock_ns() + TICK_NS;

	while (!atomic_load_explicit(&sig_stop, memory_order_relaxed)) {
		int n = epoll_wait(l->ep, ev, MAX_EVENTS, TICK_NS / 1000000), k = 0;

		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			if (fd == l->lfd)	/* new connections: one more event */
				on_accept(l);
			else if (fd == l->tfd)	/* push mode: pushes are due */
				push_event(l);
			else			/* a ready connection: a job */
				jobs[k++] = (struct job){ .fd = fd, .events = ev[i].events };
		}
		q_push(jobs, k);
		if (clock_ns() >= next_tick) {	/* housekeeping */
			accept_resume(l);
			stats_tick();		/* the meter */
			sig_wait(0);		/* SIGINT/SIGTERM pending? */
			next_tick = clock_ns() + TICK_NS;
		}
	}
	pthread_mutex_lock(&q.mu);	/* the workers' stop */
	q.closed = 1;
	pthread_cond_broadcast(&q.not_empty);
	pthread_mutex_unlock(&q.mu);
}

/* ---- main ---- */

static void queue_line(FILE *f)
{
	fprintf(f, "  queue_full %lu", atomic_load(&queue_full));
}

/* The result: one JSON line on stdout. */
static void report(void)
{
	struct json j;

	json_begin(&j);
	stats_json(&j);
	json_i64(&j, "workers", cfg.loops);
	json_i64(&j, "queue_cap", QUEUE_CAP);
	json_u64(&j, "queue_full", atomic_load(&queue_full));
	json_u64(&j, "overlaps", atomic_load(&overlaps));
	json_end(&j);
	json_print(&j, stdout);
}

static void usage(void)
{
	printf("%s: one epoll reactor hands ready connections to -c workers\n\n"
	       "%s\n\n"
	       "  -a ADDR   address to listen on (default %s; 0.0.0.0 is opt-in)\n"
	       "  -p PORT   port (default %d; 0 picks a free one)\n"
	       "  -c N      worker threads (default: the CPU count)\n"
	       "  -n CONNS  connections to make room for (one fd table: exit 2 beyond it)\n"
	       PUSH_USAGE
	       "  -i SEC    stats interval on stderr (default 5)\n"
	       "  -L        print this design's limits as one JSON line, for run.sh\n"
	       "  -h        this help\n\n"
	       "Echoes every byte back; with -b or -R it also pushes, between whole\n"
	       "echoed frames. Prints \"listening on ADDR:PORT\" on stderr when\n"
	       "ready; on SIGINT/SIGTERM one JSON line on stdout, then exits 0.\n"
	       "Exit 1: cannot listen; exit 2: bad usage.\n",
	       prog_name, arg_synopsis, C1M_ADDR, C1M_PORT);
}

static void parse(int argc, char **argv)
{
	static const struct limits lim = { .design = DESIGN, .fd_tables = "one",
		.fd_reserve = FD_RESERVE, .max_loops = 4096, .target = 1000000, .push = 1 };
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN), limit;
	int o;

	arg_synopsis = "usage: server [-a ADDR] [-p PORT] [-c N] [-n CONNS] "
		       PUSH_SYNOPSIS " [-i SEC] [-L] [-h]";
	while ((o = getopt(argc, argv, ":a:p:c:n:b:R:l:Q:i:Lh")) != -1) {
		switch (o) {
		case 'a': arg_ipv4(o, optarg); cfg.addr = optarg; break;
		case 'p': cfg.port = (int)arg_long(o, optarg, 0, 65535); break;
		case 'c': cfg.loops = (int)arg_long(o, optarg, 1, 4096); break;
		case 'n': cfg.conns = arg_long(o, optarg, 1, 100000000); break;
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
	if (!cfg.loops)
		cfg.loops = ncpu > 0 ? (int)ncpu : 1;
	limit = fd_raise_limit(1 << 20);	/* as far as this table goes */
	if (cfg.conns > limit - FD_RESERVE)
		arg_usage_error("-n %ld: one reactor has one fd table, %ld connections "
				"here (RLIMIT_NOFILE %ld); use 06 or 07", cfg.conns,
				limit - FD_RESERVE, limit);
}

int main(int argc, char **argv)
{
	struct loop *l = &loop;
	struct epoll_event ev = { .events = EPOLLIN };
	struct stats_slot *slots;

	prog_init(argv[0]);
	parse(argc, argv);
	l->lfd = net_listen(cfg.addr, cfg.port, 0, 4096);
	if (l->lfd < 0)
		die("listen %s:%d:", cfg.addr, cfg.port);
	cfg.port = net_local_port(l->lfd);	/* resolves -p 0 */
	/* Push mode: the kernel keeps at most -Q bytes unsent for a
	 * connection (accepted sockets inherit it), so a reader that stops
	 * shows in our own queue, and -Q catches it. */
	if (pushing) {
		int lowat = (int)cfg.push.queue_max;

		setsockopt(l->lfd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat));
	}
	fd_one_table(FD_RESERVE, &fd_limit);	/* says how far one table goes */
	sig_setup();				/* before the workers: they inherit it */
	slots = stats_init(DESIGN, cfg.loops + 1, cfg.interval);	/* reactor, workers */
	l->st = &slots[0];
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	l->conns = calloc((size_t)fd_limit, sizeof(*l->conns));
	workers = calloc((size_t)cfg.loops, sizeof(*workers));
	if (l->ep < 0 || !l->conns || !workers)
		die("setup:");
	l->tfd = -1;
	if (pushing) {			/* an out queue and a lock per fd */
		if (!(l->outs = calloc((size_t)fd_limit, sizeof(*l->outs))))
			die("setup:");
		for (long fd = 0; fd < fd_limit; fd++)
			pthread_mutex_init(&l->outs[fd].mu, NULL);
		stats_set_push(&cfg.push);
		push_start(l);
	}
	ev.data.fd = l->lfd;
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, l->lfd, &ev) < 0)	/* the listener joins */
		die("epoll_ctl:");
	for (int i = 0; i < cfg.loops; i++) {
		struct loop *w = &workers[i];

		w->ep = l->ep;		/* the one epoll set and conn table */
		w->lfd = -1;
		w->conns = l->conns;
		w->outs = l->outs;
		w->st = &slots[i + 1];
		if ((errno = pthread_create(&w->thread, NULL, worker_run, w)))
			die("pthread_create:");
	}
	stats_set_line(queue_line);
	fprintf(stderr, "%s: listening on %s:%d, 1 reactor, %d workers, queue %d, "
		"one fd table of %ld\n", prog_name, cfg.addr, cfg.port, cfg.loops,
		QUEUE_CAP, fd_limit - FD_RESERVE);

	loop_run(l);			/* until SIGINT/SIGTERM */
	for (int i = 0; i < cfg.loops; i++)
		pthread_join(workers[i].thread, NULL);
	report();
	return 0;
}
