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
 * usage: server [-a ADDR] [-p PORT] [-c N] [-n CONNS] [-i SEC] [-L] [-h]
 * build: cc -std=gnu11 -O2 -pthread -Icommon -o 08_reactor_workerpool/server 08_reactor_workerpool/server.c common/[a-z]*.c -lm
 * test with: ./08_reactor_workerpool/server & ./05_multi_epoll_client/client -n 1000 -d 5
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
#include <sys/epoll.h>
#include <sys/socket.h>
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

static struct {
	const char *addr;
	int port;
	double interval;
	int loops;		/* -c: worker threads; 0 = the CPU count */
	long conns;		/* -n: connections to make room for */
} cfg = { C1M_ADDR, C1M_PORT, 5, 0, 0 };

/* The per-connection state: the bytes read but not yet written back. */
struct conn {
	char *pend;		/* malloc'd, NULL when drained */
	uint32_t pend_len;	/* bytes in pend */
	uint32_t pend_off;	/* bytes of pend already sent */
	atomic_int busy;	/* a worker holds it (EPOLLONESHOT: never two) */
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
	struct stats_slot *st;
	uint64_t paused_until;	/* accept paused after EMFILE; 0 = listening */
	char buf[BUF_SIZE];
};

/* The bounded queue between the reactor and the workers: ready events. */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t not_empty, not_full;
	struct epoll_event ring[QUEUE_CAP];
	unsigned head, len;
	int closed;		/* the stop: workers return */
} q = { .mu = PTHREAD_MUTEX_INITIALIZER,
	.not_empty = PTHREAD_COND_INITIALIZER, .not_full = PTHREAD_COND_INITIALIZER };

static struct loop loop;	/* the one reactor */
static struct loop *workers;	/* cfg.loops of them, a thread each */
static atomic_ulong overlaps, queue_full;

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
	/* Let go of it first: accept may hand out the fd again at once. */
	atomic_store_explicit(&c->busy, 0, memory_order_release);
	close(fd);		/* also leaves the epoll set */
	stats_conn_closed(l->st, err);
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
		if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			continue;
		}
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

/* ---- the handoff ---- */

/* The reactor: queue n ready events, waiting while the queue is full. */
static void q_push(const struct epoll_event *ev, int n)
{
	pthread_mutex_lock(&q.mu);
	for (int i = 0; i < n; i++) {
		if (q.len == QUEUE_CAP)
			atomic_fetch_add_explicit(&queue_full, 1, memory_order_relaxed);
		while (q.len == QUEUE_CAP)	/* back-pressure: the reactor waits */
			pthread_cond_wait(&q.not_full, &q.mu);
		q.ring[(q.head + q.len++) % QUEUE_CAP] = ev[i];
		pthread_cond_signal(&q.not_empty);
	}
	pthread_mutex_unlock(&q.mu);
}

/* A worker: pop the next ready connection and serve it, until the stop. */
static void *worker_run(void *arg)
{
	struct loop *l = arg;

	for (;;) {
		struct epoll_event ev;

		pthread_mutex_lock(&q.mu);
		while (q.len == 0 && !q.closed)
			pthread_cond_wait(&q.not_empty, &q.mu);
		if (q.closed) {
			pthread_mutex_unlock(&q.mu);
			return NULL;
		}
		ev = q.ring[q.head];
		q.head = (q.head + 1) % QUEUE_CAP;
		q.len--;
		pthread_cond_signal(&q.not_full);
		pthread_mutex_unlock(&q.mu);

		if (atomic_exchange_explicit(&l->conns[ev.data.fd].busy, 1, memory_order_acquire))
			atomic_fetch_add(&overlaps, 1);		/* EPOLLONESHOT broken */
		if (ev.events & EPOLLOUT)
			on_writable(l, ev.data.fd);
		else
			on_readable(l, ev.data.fd);
	}
}

/* ---- the loop: the reactor ---- */

static void loop_run(struct loop *l)
{
	struct epoll_event ev[MAX_EVENTS];
	uint64_t next_tick = clock_ns() + TICK_NS;

	while (!atomic_load_explicit(&sig_stop, memory_order_relaxed)) {
		int n = epoll_wait(l->ep, ev, MAX_EVENTS, TICK_NS / 1000000), k = 0;

		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			if (fd == l->lfd)	/* new connections: one more event */
				on_accept(l);
			else			/* a ready connection: a job */
				ev[k++] = ev[i];
		}
		q_push(ev, k);
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
	       "  -i SEC    stats interval on stderr (default 5)\n"
	       "  -L        print this design's limits as one JSON line, for run.sh\n"
	       "  -h        this help\n\n"
	       "Echoes every byte back. Prints \"listening on ADDR:PORT\" on stderr when\n"
	       "ready; on SIGINT/SIGTERM one JSON line on stdout, then exits 0.\n"
	       "Exit 1: cannot listen; exit 2: bad usage.\n",
	       prog_name, arg_synopsis, C1M_ADDR, C1M_PORT);
}

static void parse(int argc, char **argv)
{
	static const struct limits lim = { .design = DESIGN, .fd_tables = "one",
		.fd_reserve = FD_RESERVE, .max_loops = 4096, .target = 1000000 };
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN), limit;
	int o;

	arg_synopsis = "usage: server [-a ADDR] [-p PORT] [-c N] [-n CONNS] [-i SEC] [-L] [-h]";
	while ((o = getopt(argc, argv, ":a:p:c:n:i:Lh")) != -1) {
		switch (o) {
		case 'a': arg_ipv4(o, optarg); cfg.addr = optarg; break;
		case 'p': cfg.port = (int)arg_long(o, optarg, 0, 65535); break;
		case 'c': cfg.loops = (int)arg_long(o, optarg, 1, 4096); break;
		case 'n': cfg.conns = arg_long(o, optarg, 1, 100000000); break;
		case 'i': cfg.interval = arg_seconds(o, optarg, 1e6); break;
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
	long fd_limit;

	prog_init(argv[0]);
	parse(argc, argv);
	l->lfd = net_listen(cfg.addr, cfg.port, 0, 4096);
	if (l->lfd < 0)
		die("listen %s:%d:", cfg.addr, cfg.port);
	cfg.port = net_local_port(l->lfd);	/* resolves -p 0 */
	fd_one_table(FD_RESERVE, &fd_limit);	/* says how far one table goes */
	sig_setup();				/* before the workers: they inherit it */
	slots = stats_init(DESIGN, cfg.loops + 1, cfg.interval);	/* reactor, workers */
	l->st = &slots[0];
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	l->conns = calloc((size_t)fd_limit, sizeof(*l->conns));
	workers = calloc((size_t)cfg.loops, sizeof(*workers));
	if (l->ep < 0 || !l->conns || !workers)
		die("setup:");
	ev.data.fd = l->lfd;
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, l->lfd, &ev) < 0)	/* the listener joins */
		die("epoll_ctl:");
	for (int i = 0; i < cfg.loops; i++) {
		struct loop *w = &workers[i];

		w->ep = l->ep;		/* the one epoll set and conn table */
		w->lfd = -1;
		w->conns = l->conns;
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
