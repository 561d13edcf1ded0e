/*
 * 08_reactor_workerpool - one epoll reactor finds the ready connections;
 * a pool of -c worker threads does the reading and echoing.
 *
 * The design: the reactor thread owns the listener and the one epoll set.
 * It never reads a byte: for each ready connection it pushes (fd, events)
 * into a bounded queue, and a free worker pops it, reads, echoes and then
 * re-arms the fd. Every connection is registered with EPOLLONESHOT, so
 * once epoll has reported it, it stays silent until the worker re-arms it
 * (EPOLL_CTL_MOD): no connection is ever in the queue twice or served by
 * two workers at once. Each connection carries a `busy` flag that a worker
 * sets on pickup and clears before re-arming; finding it already set would
 * count an overlap (the JSON's "overlaps", which must stay 0).
 *
 * What it costs, against 06's loops that each do their own I/O:
 *   - the handoff: per request a queue push and pop under a mutex, a
 *     wakeup of a sleeping worker (futex), and an epoll_ctl to re-arm:
 *     three extra kernel trips where 06 has none, and a cache miss as the
 *     connection moves between cores.
 *   - one reactor: a single thread runs every epoll_wait, so it is the
 *     ceiling of events per second however many workers there are.
 *   - one fd table: every connection lives in the process's one table,
 *     capped at 20,000 here (RLIMIT_NOFILE; the reactor cannot unshare it,
 *     the workers need the same fds). -n beyond it is refused up front.
 * What it buys: slow work per request (see 12 and 13) no longer stalls the
 * loop, and the worker count is chosen separately from the connections.
 *
 * usage: server [-a ADDR] [-p PORT] [-c N] [-n CONNS] [-i SEC] [-h]
 *
 * test with:
 *   ./08_reactor_workerpool/server &
 *   ./05_multi_epoll_client/client -n 1000 -d 5
 *
 * sample output (stderr; then the JSON line on stdout at SIGTERM):
 *   08_reactor_workerpool/server: listening on 127.0.0.1:8972, 1 reactor,
 *     2 workers, queue 1024, one fd table of 19968
 *   conns 1000  rps 51734  accepted 1000  resets 0  errors 0  queue_full 0
 *   {"design":"08_reactor_workerpool",...,"workers":2,"overlaps":0,...}
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "c1m.h"

#define FD_RESERVE	32	/* epoll fd, listener, stdio, slack */
#define MAX_EVENTS	512
#define QUEUE_CAP	1024	/* ready connections waiting for a worker */
#define BUF_SIZE	16384	/* per worker, not per connection */

static struct srv_cfg cfg;

/* Per connection, in a flat array indexed by fd: 24 bytes. */
struct conn {
	struct echo_conn echo;	/* bytes read but not yet written back */
	atomic_int busy;	/* a worker holds it (EPOLLONESHOT: never two) */
};

struct job {
	int fd;
	uint32_t events;
};

/* The bounded queue between the reactor and the workers. */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t not_empty, not_full;
	struct job ring[QUEUE_CAP];
	unsigned head, len;
	int closed;
} q = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.not_empty = PTHREAD_COND_INITIALIZER,
	.not_full = PTHREAD_COND_INITIALIZER,
};

struct worker {
	pthread_t thread;
	struct stats_slot *st;
	char buf[BUF_SIZE];
};

static struct conn *conns;	/* cfg.fd_limit entries */
static struct worker *workers;	/* cfg.loops */
static struct srv_acceptor acc;	/* the reactor's listener and epoll set */
static atomic_ulong overlaps, queue_full;

/* ---- the handoff ---- */

static void q_push(const struct epoll_event *ev, int n)
{
	pthread_mutex_lock(&q.mu);
	for (int i = 0; i < n; i++) {
		if (q.len == QUEUE_CAP)
			atomic_fetch_add_explicit(&queue_full, 1, memory_order_relaxed);
		while (q.len == QUEUE_CAP)	/* back-pressure: the reactor waits */
			pthread_cond_wait(&q.not_full, &q.mu);
		q.ring[(q.head + q.len++) % QUEUE_CAP] =
			(struct job){ ev[i].data.fd, ev[i].events };
		pthread_cond_signal(&q.not_empty);
	}
	pthread_mutex_unlock(&q.mu);
}

/* The next job, or 0 once the queue is closed. */
static int q_pop(struct job *j)
{
	pthread_mutex_lock(&q.mu);
	while (q.len == 0 && !q.closed)
		pthread_cond_wait(&q.not_empty, &q.mu);
	if (q.closed) {
		pthread_mutex_unlock(&q.mu);
		return 0;
	}
	*j = q.ring[q.head];
	q.head = (q.head + 1) % QUEUE_CAP;
	q.len--;
	pthread_cond_signal(&q.not_full);
	pthread_mutex_unlock(&q.mu);
	return 1;
}

/* ---- a worker's service of one connection ---- */

static void rearm(int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events | EPOLLONESHOT, .data.fd = fd };

	epoll_ctl(acc.ep, EPOLL_CTL_MOD, fd, &ev);
}

static void serve(struct worker *w, struct job j)
{
	struct conn *c = &conns[j.fd];
	uint64_t bytes = 0;
	enum echo_result r;
	int err;

	if (atomic_exchange_explicit(&c->busy, 1, memory_order_acquire))
		atomic_fetch_add(&overlaps, 1);		/* EPOLLONESHOT broken */
	if (j.events & EPOLLOUT)
		r = echo_on_writable(&c->echo, j.fd, &bytes);
	else
		r = echo_on_readable(&c->echo, j.fd, w->buf, sizeof(w->buf), &bytes);
	err = errno;
	atomic_fetch_add_explicit(&w->st->bytes, bytes, memory_order_relaxed);
	if (r == ECHO_CLOSE) {
		/* Let go of the conn before its fd can be reused by accept. */
		echo_reset(&c->echo);
		atomic_store_explicit(&c->busy, 0, memory_order_release);
		close(j.fd);
		stats_conn_closed(w->st, err);
		return;
	}
	atomic_store_explicit(&c->busy, 0, memory_order_release);
	/* A slow reader is not read again until its parked bytes are out. */
	rearm(j.fd, r == ECHO_BLOCKED ? EPOLLOUT : EPOLLIN);
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct job j;

	while (q_pop(&j))
		serve(w, j);
	return NULL;
}

/* ---- the reactor ---- */

static void *reactor_run(void *arg)
{
	struct epoll_event ev[MAX_EVENTS];

	(void)arg;
	srv_accept_start(&acc);
	while (!atomic_load_explicit(&sig_stop, memory_order_relaxed)) {
		int n = epoll_wait(acc.ep, ev, MAX_EVENTS, 100);
		int k = 0;

		for (int i = 0; i < n; i++) {
			if (ev[i].data.fd == acc.lfd)
				srv_accept_ready(&acc);	/* EPOLLIN | EPOLLONESHOT */
			else
				ev[k++] = ev[i];
		}
		q_push(ev, k);
		srv_accept_resume(&acc);	/* after an EMFILE pause */
	}
	pthread_mutex_lock(&q.mu);
	q.closed = 1;
	pthread_cond_broadcast(&q.not_empty);
	pthread_mutex_unlock(&q.mu);
	return NULL;
}

/* ---- main ---- */

static void queue_line(FILE *f)
{
	fprintf(f, "  queue_full %lu", atomic_load(&queue_full));
}

static void report(struct json *j)
{
	json_i64(j, "workers", cfg.loops);
	json_i64(j, "queue_cap", QUEUE_CAP);
	json_u64(j, "queue_full", atomic_load(&queue_full));
	json_u64(j, "overlaps", atomic_load(&overlaps));
}

int main(int argc, char **argv)
{
	static const struct srv_design design = {
		.name = "08_reactor_workerpool",
		.summary = "one epoll reactor hands ready connections to -c workers",
		.loops_help = "worker threads (default: the CPU count)",
		.conns_help = "connections to make room for (one fd table: exit 2 beyond it)",
	};
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct stats_slot *slots;
	pthread_t reactor;

	srv_parse(argc, argv, &design, &cfg);
	if (!cfg.loops)
		cfg.loops = ncpu > 0 ? (int)ncpu : 1;
	cfg.fd_limit = fd_raise_limit(cfg.conns ? cfg.conns + FD_RESERVE : 1 << 20);
	if (cfg.conns > cfg.fd_limit - FD_RESERVE)
		arg_usage_error("-n %ld: one reactor has one fd table, %ld connections "
				"here (RLIMIT_NOFILE %ld); use 06 or 07", cfg.conns,
				cfg.fd_limit - FD_RESERVE, cfg.fd_limit);
	sig_setup();
	srv_listen(&cfg, 1, &acc.lfd);
	slots = stats_init(design.name, cfg.loops + 1, cfg.interval);
	acc.st = &slots[0];
	acc.conn_events = EPOLLONESHOT;
	acc.ep = epoll_create1(EPOLL_CLOEXEC);
	conns = calloc((size_t)cfg.fd_limit, sizeof(*conns));
	workers = calloc((size_t)cfg.loops, sizeof(*workers));
	if (acc.ep < 0 || !conns || !workers)
		die("setup:");
	for (int i = 0; i < cfg.loops; i++) {
		workers[i].st = &slots[i + 1];
		if ((errno = pthread_create(&workers[i].thread, NULL, worker_run, &workers[i])))
			die("pthread_create:");
	}
	if ((errno = pthread_create(&reactor, NULL, reactor_run, NULL)))
		die("pthread_create:");
	stats_set_line(queue_line);
	srv_listening(&cfg, "1 reactor, %d workers, queue %d, one fd table of %ld",
		      cfg.loops, QUEUE_CAP, cfg.fd_limit - FD_RESERVE);

	stats_run(NULL);	/* until SIGINT/SIGTERM */
	pthread_join(reactor, NULL);
	for (int i = 0; i < cfg.loops; i++)
		pthread_join(workers[i].thread, NULL);
	srv_report(report);
	return 0;
}
