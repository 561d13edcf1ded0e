/*
 * threadconn.c - a thread-per-connection echo server: what 01 and 09 share.
 *
 * The whole per-connection program is a blocking loop on its own thread:
 *
 *	while ((n = recv(fd, buf, size, 0)) > 0)
 *		send_all(fd, buf, n);	// loops until every byte is out
 *
 * No epoll, no per-connection state struct, no parked bytes: the thread's
 * stack *is* the state. A short write just means send_all() loops; a slow
 * reader blocks only its own thread, which stops reading meanwhile, so the
 * back-pressure is free. Bytes are echoed as they come, split or coalesced.
 *
 * The price is a thread per connection: a stack (virtual size
 * stack_size, resident only where touched), a 16 KiB kernel stack and a
 * task_struct, and a context switch per request. And every thread shares
 * the process's one fd table.
 *
 * Stopping: threads block in recv(), so at stop tc_stop() calls shutdown()
 * on every live connection (kept in a registry indexed by fd, under a
 * mutex taken once at accept and once at close), which wakes them.
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

#include "threadconn.h"

/* Sanitizers put their own frames and redzones on every stack. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
static const size_t san_min_stack = 512 << 10;
#else
static const size_t san_min_stack = 0;
#endif
#define STOP_WAIT_S	2.0

static struct tc_server *srv;
static pthread_t *acceptors;
static atomic_long alive, peak;
static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned char *live;	/* live[fd]: a connection thread owns fd */
static pthread_attr_t attr;

long tc_threads(void) { return atomic_load(&alive); }
long tc_threads_peak(void) { return atomic_load(&peak); }

size_t tc_stack_size(void)
{
	size_t sz = 0;

	pthread_attr_getstacksize(&attr, &sz);
	return sz;
}

/* ---- one connection's thread ---- */

/* Send all of buf, however many calls it takes. 0, or -1 on error. */
static int send_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Close and count; err is the errno that ended it (0: a clean EOF). */
static void conn_end(int fd, struct stats_slot *st, int err)
{
	pthread_mutex_lock(&live_mu);
	live[fd] = 0;
	close(fd);
	pthread_mutex_unlock(&live_mu);
	stats_conn_closed(st, atomic_load(&sig_stop) ? 0 : err);	/* tc_stop's doing */
	atomic_fetch_sub(&alive, 1);
}

/* The echo: blocking recv, then send it all back. 0 at EOF, -1 on error. */
static int echo_serve(int fd, struct stats_slot *st)
{
	char buf[srv->buf_size];	/* on this thread's own stack */

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n > 0) {
			if (send_all(fd, buf, (size_t)n) < 0)
				return -1;	/* reset while we wrote */
			atomic_fetch_add_explicit(&st->bytes, (uint64_t)n,
						  memory_order_relaxed);
		} else if (n == 0) {
			return 0;	/* EOF: everything was echoed */
		} else if (errno != EINTR) {
			return -1;
		}
	}
}

static void *conn_run(void *arg)
{
	int fd = (int)(intptr_t)arg;
	struct stats_slot *st = &srv->slots[fd % srv->nslots];
	int rc = srv->serve ? srv->serve(fd, st, srv->arg) : echo_serve(fd, st);

	conn_end(fd, st, rc < 0 ? (errno ? errno : EIO) : 0);
	return NULL;
}

/* ---- accepting ---- */

static void pause_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Start fd's thread. 0, or -1 (fd closed, counted) if it could not. */
static int spawn(int fd)
{
	struct stats_slot *st = &srv->slots[fd % srv->nslots];
	pthread_t t;
	long now, p;
	int rc;

	if (fd >= srv->fd_limit) {	/* cannot happen under RLIMIT_NOFILE */
		close(fd);
		return -1;
	}
	if (srv->nodelay)
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
	int lfd = (int)(intptr_t)arg;
	int full = 0;

	while (!atomic_load(&sig_stop)) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		int fd;

		if (poll(&p, 1, 100) <= 0)
			continue;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);	/* blocking I/O */
		if (fd < 0 && (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED))
			continue;
		if (fd >= 0 && spawn(fd) == 0) {
			full = 0;
			continue;
		}
		/* Out of fds (the connection waits in the backlog) or out of
		 * threads (it was closed): say so once, pause, try again. */
		if (!full)
			warnx_("%s at %ld threads: pausing %d ms:",
			       fd < 0 ? "accept" : "pthread_create", tc_threads(),
			       TC_PAUSE_MS);
		full = 1;
		pause_ms(TC_PAUSE_MS);
	}
	return NULL;
}

void tc_start(struct tc_server *s)
{
	size_t stack = s->stack_size;

	srv = s;
	live = calloc((size_t)s->fd_limit, 1);
	acceptors = calloc((size_t)s->nlisten, sizeof(*acceptors));
	if (!live || !acceptors)
		die("calloc:");
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (stack && stack < san_min_stack)
		stack = san_min_stack;
	if (stack && (errno = pthread_attr_setstacksize(&attr, stack)))
		die("pthread_attr_setstacksize %zu:", stack);
	for (int i = 0; i < s->nlisten; i++)
		if ((errno = pthread_create(&acceptors[i], NULL, accept_run,
					    (void *)(intptr_t)s->lfds[i])))
			die("pthread_create:");
}

void tc_stop(void)
{
	uint64_t t0 = clock_ns();

	for (int i = 0; i < srv->nlisten; i++)
		pthread_join(acceptors[i], NULL);
	pthread_mutex_lock(&live_mu);
	for (long fd = 0; fd < srv->fd_limit; fd++)
		if (live[fd])
			shutdown((int)fd, SHUT_RDWR);	/* wakes recv()/send() */
	pthread_mutex_unlock(&live_mu);
	while (tc_threads() > 0 && (clock_ns() - t0) / 1e9 < STOP_WAIT_S)
		pause_ms(5);
	if (tc_threads() > 0)
		warnx_("%ld connection threads still running at exit", tc_threads());
}

void tc_line(FILE *f)
{
	fprintf(f, "  threads %ld  rss_kb %ld", tc_threads(), proc_rss_kb());
}

void tc_json(struct json *j)
{
	json_i64(j, "threads_peak", tc_threads_peak());
	json_i64(j, "stack_kb", (int64_t)(tc_stack_size() >> 10));
	if (!srv->serve)
		json_i64(j, "buf_bytes", (int64_t)srv->buf_size);
}
