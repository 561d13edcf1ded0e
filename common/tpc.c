/*
 * tpc.c - thread per connection (see tpc.h): accept, start a thread with a
 * small stack, let it run the design's blocking serve() until the peer
 * leaves, close and count.
 *
 * The thread's stack is the connection's state, blocking calls are its
 * waits, and the kernel's scheduler is the event loop. Stopping: threads
 * block in recv(), so tpc_stop() shuts down every live connection (kept
 * in a registry indexed by fd, under a mutex taken once at accept and once
 * at close), which wakes them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tpc.h"

/* Sanitizers put their own frames and redzones on every stack. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define MIN_STACK	(512 << 10)
#else
#define MIN_STACK	(16 << 10)
#endif
#define STOP_WAIT_S	2.0

static struct tpc_server *srv;
static pthread_t acceptor;
static pthread_attr_t attr;
static atomic_long alive, peak;
static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned char *live;	/* live[fd]: a connection thread owns fd */

static void pause_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---- one connection's thread ---- */

static void conn_end(int fd, struct stats_slot *st, int err)
{
	pthread_mutex_lock(&live_mu);
	live[fd] = 0;
	close(fd);
	pthread_mutex_unlock(&live_mu);
	/* After tpc_stop's shutdown() an error is ours, not the peer's. */
	stats_conn_closed(st, atomic_load(&sig_stop) ? 0 : err);
	atomic_fetch_sub(&alive, 1);
}

static void *conn_run(void *arg)
{
	int fd = (int)(intptr_t)arg;
	struct stats_slot *st = &srv->slots[fd % srv->nslots];

	conn_end(fd, st, srv->serve(fd, st, srv->arg));
	return NULL;
}

/* ---- accepting ---- */

/* Start fd's thread. 0, or -1 (fd closed, counted) if it could not. */
static int spawn(int fd)
{
	struct stats_slot *st = &srv->slots[fd % srv->nslots];
	pthread_t t;
	long now, p;
	int rc;

	net_set_nodelay(fd);
	pthread_mutex_lock(&live_mu);
	live[fd] = 1;
	pthread_mutex_unlock(&live_mu);
	atomic_fetch_add_explicit(&st->conns, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&st->accepted, 1, memory_order_relaxed);
	now = atomic_fetch_add(&alive, 1) + 1;
	p = atomic_load(&peak);
	while (now > p && !atomic_compare_exchange_weak(&peak, &p, now))
		;
	rc = pthread_create(&t, &attr, conn_run, (void *)(intptr_t)fd);
	if (rc == 0)
		return 0;
	conn_end(fd, st, rc);
	errno = rc;		/* EAGAIN: out of threads, maps or memory */
	return -1;
}

static void *accept_run(void *arg)
{
	int full = 0;

	(void)arg;
	while (!atomic_load(&sig_stop)) {
		struct pollfd p = { .fd = srv->lfd, .events = POLLIN };
		int fd;

		if (poll(&p, 1, 100) <= 0)
			continue;
		fd = accept4(srv->lfd, NULL, NULL, SOCK_CLOEXEC);	/* blocking I/O */
		if (fd < 0 && (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED))
			continue;
		if (fd >= srv->fd_limit) {	/* cannot happen under RLIMIT_NOFILE */
			close(fd);
			continue;
		}
		if (fd >= 0 && spawn(fd) == 0) {
			full = 0;
			continue;
		}
		/* Out of fds (the connection waits in the backlog) or out of
		 * threads (it was closed): say so once, pause, try again. */
		if (!full)
			warnx_("%s at %ld threads: pausing %d ms:",
			       fd < 0 ? "accept" : "pthread_create", atomic_load(&alive),
			       TPC_PAUSE_MS);
		full = 1;
		pause_ms(TPC_PAUSE_MS);
	}
	return NULL;
}

void tpc_start(struct tpc_server *s, struct srv_cfg *cfg, const char *name)
{
	size_t stack = s->stack_size < MIN_STACK ? MIN_STACK : s->stack_size;

	srv = s;
	s->fd_limit = cfg->fd_limit = fd_raise_limit(1 << 20);
	srv_listen(cfg, 1, &s->lfd);
	s->slots = stats_init(name, s->nslots, cfg->interval);
	stats_set_line(tpc_line);
	live = calloc((size_t)s->fd_limit, 1);
	if (!live)
		die("calloc:");
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if ((errno = pthread_attr_setstacksize(&attr, stack)))
		die("pthread_attr_setstacksize %zu:", stack);
	if ((errno = pthread_create(&acceptor, NULL, accept_run, NULL)))
		die("pthread_create:");
}

void tpc_stop(void)
{
	uint64_t t0 = clock_ns();

	pthread_join(acceptor, NULL);
	pthread_mutex_lock(&live_mu);
	for (long fd = 0; fd < srv->fd_limit; fd++)
		if (live[fd])
			shutdown((int)fd, SHUT_RDWR);	/* wakes recv()/send() */
	pthread_mutex_unlock(&live_mu);
	while (atomic_load(&alive) > 0 && (clock_ns() - t0) / 1e9 < STOP_WAIT_S)
		pause_ms(5);
	if (atomic_load(&alive) > 0)
		warnx_("%ld connection threads still running at exit", atomic_load(&alive));
}

void tpc_line(FILE *f)
{
	fprintf(f, "  threads %ld  rss_kb %ld", atomic_load(&alive), proc_rss_kb());
}

void tpc_json(struct json *j)
{
	size_t sz = 0;

	pthread_attr_getstacksize(&attr, &sz);
	json_i64(j, "threads_peak", atomic_load(&peak));
	json_i64(j, "stack_kb", (int64_t)(sz >> 10));
}
