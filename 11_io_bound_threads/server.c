/*
 * 11_io_bound_threads - one thread per connection, and every request
 * waits: before its echo, each 8-byte request sleeps -w USEC (default
 * 10000 = 10 ms) in its connection's own thread, standing in for a disk
 * read or a call to another service.
 *
 * The design is 09's: an acceptor thread blocks in accept4() and starts a
 * thread per connection, which reads one whole request with a blocking
 * recv(MSG_WAITALL), waits, and sends it back. A waiting thread holds no
 * core, so the waits of all connections overlap: N connections give about
 * N / wait requests a second (100 connections x 10 ms = 10,000 rps) until
 * the cores run out of wake-ups and context switches.
 *
 * Against 10_io_bound_epoll: there, -m block sleeps in the event loop and
 * every other connection of that loop waits too (100 rps per loop); -m
 * timer gets the overlap back by parking requests on a timer. A thread per
 * connection gets it for free, from the scheduler, at the price of a
 * thread per connection: a stack (only its touched pages resident), a
 * 16 KB kernel stack and a task, two context switches per request, and
 * one fd table for all, so one process holds at most RLIMIT_NOFILE
 * connections. The two measured side by side, with the command:
 * docs/results.md.
 *
 * usage: server [-a ADDR] [-p PORT] [-w USEC] [-i SEC] [-L] [-h]
 * build: cc -std=gnu11 -O2 -pthread -Icommon -o 11_io_bound_threads/server 11_io_bound_threads/server.c common/[a-z]*.c -lm
 *
 * test with:
 *   ./11_io_bound_threads/server &
 *   ./11_io_bound_threads/client -n 100 -d 5
 *
 * diff against: 09_few_clients (the same threads: this adds the wait);
 * 10_io_bound_epoll is the same work on epoll loops.
 *
 * sample output (stderr; then the JSON line on stdout at SIGTERM):
 *   11_io_bound_threads/server: listening on 127.0.0.1:8972, a thread per
 *     connection, 20000 fds, 10000 us wait per request
 *   conns 100  rps 9256  accepted 100  resets 0  errors 0  threads 100  rss_kb 2548
 *   {"design":"11_io_bound_threads","conns_peak":100,"requests":92963,"rps":9198.7,
 *    ...,"work":92963,...,"threads_peak":100,"stack_kb":64,"wait_us":10000}
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "c1m.h"

#define DESIGN		"11_io_bound_threads"
#define STACK_SIZE	(64 << 10)	/* a wait needs next to no stack */
#define FD_RESERVE	32		/* listener, stdio, /proc reads */
#define NSLOTS		64		/* stats slots, by fd: spreads the atomics */
#define PAUSE_MS	100		/* accept pause when out of fds or threads */

static struct {
	const char *addr;
	int port;
	long wait_us;		/* the wait per request */
	double interval;
} cfg = { C1M_ADDR, C1M_PORT, 10000, 5 };

/* Sanitizers put their own frames and redzones on every stack. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
static const size_t san_min_stack = 512 << 10;
#else
static const size_t san_min_stack = 0;
#endif

static pthread_attr_t attr;		/* detached, STACK_SIZE */
static size_t stack_bytes;		/* the stack size threads really get */
static struct stats_slot *slots;	/* a connection counts in slots[fd % NSLOTS] */
static atomic_long threads, threads_peak;	/* connection threads */
static long fd_limit;			/* RLIMIT_NOFILE, raised */

/* ---- one connection's thread ---- */

/* Send all of p, however many calls it takes. 0, or -1 with errno. */
static int send_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;	/* reset while we wrote, ... */
		p += n;		/* a short write: send the rest */
		len -= (size_t)n;
	}
	return 0;
}

/* err: 0 for a clean EOF, else the errno that ended the connection. */
static void conn_close(int fd, struct stats_slot *st, int err)
{
	close(fd);
	stats_conn_closed(st, err);
	atomic_fetch_sub(&threads, 1);
}

/*
 * The whole life of a connection: a whole request, the wait, its echo.
 * MSG_WAITALL has the kernel gather a frame split over packets; it
 * returns less only at EOF or an error (no signal reaches this thread),
 * and then the part that came goes back as it is.
 */
static void *conn_thread(void *arg)
{
	int fd = (int)(intptr_t)arg, err = 0;
	struct stats_slot *st = &slots[fd % NSLOTS];
	char buf[FRAME_SIZE];	/* one request */

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_WAITALL);

		if (n == 0)
			break;		/* EOF or half-close: all echoed */
		if (n < 0 && errno == EINTR)
			continue;
		if (n == FRAME_SIZE) {
			usleep((useconds_t)cfg.wait_us);	/* the I/O it stands for */
			atomic_fetch_add_explicit(&st->work, 1, memory_order_relaxed);
		}
		if (n < 0 || send_all(fd, buf, (size_t)n) < 0) {
			err = errno;	/* reset, ... */
			break;
		}
		atomic_fetch_add_explicit(&st->bytes, (uint64_t)n, memory_order_relaxed);
	}
	conn_close(fd, st, err);
	return NULL;
}

/* ---- accepting: a blocking accept4() on its own thread ---- */

/* Start fd's thread. 0, or -1 with errno (fd closed and counted). */
static int conn_start(int fd)
{
	struct stats_slot *st = &slots[fd % NSLOTS];
	pthread_t t;
	long now, p;
	int rc;

	atomic_fetch_add_explicit(&st->conns, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&st->accepted, 1, memory_order_relaxed);
	now = atomic_fetch_add(&threads, 1) + 1;
	p = atomic_load(&threads_peak);
	while (now > p && !atomic_compare_exchange_weak(&threads_peak, &p, now))
		;
	rc = pthread_create(&t, &attr, conn_thread, (void *)(intptr_t)fd);
	if (rc == 0)
		return 0;
	conn_close(fd, st, rc);	/* EAGAIN: out of threads, maps or memory */
	errno = rc;
	return -1;
}

static void *accept_loop(void *arg)
{
	int lfd = (int)(intptr_t)arg, full = 0;

	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);	/* sleeps */

		if (fd >= 0) {
			net_set_nodelay(fd);
			if (conn_start(fd) == 0) {
				full = 0;
				continue;
			}
		} else if (errno == EBADF || errno == EINVAL) {
			return NULL;	/* lfd is no listener: nothing to accept */
		} else if (errno != EMFILE && errno != ENFILE && errno != ENOBUFS &&
			   errno != ENOMEM) {
			continue;	/* EINTR, ECONNABORTED, a dead peer */
		}
		/* Out of fds (the connection waits in the backlog) or out of
		 * threads (it was closed). accept() fails at once for as long
		 * as the table is full, so retrying now would spin: say so
		 * once, sleep, try again. */
		if (!full)
			warnx_("%s at %ld threads: pausing %d ms:",
			       fd < 0 ? "accept" : "pthread_create",
			       atomic_load(&threads), PAUSE_MS);
		full = 1;
		usleep(PAUSE_MS * 1000);
	}
}

/* A listener whose accept4() blocks (net_listen's does not). */
static int listen_blocking(int reuseport)
{
	int lfd = net_listen(cfg.addr, cfg.port, reuseport, 4096);

	if (lfd < 0)
		die("listen %s:%d:", cfg.addr, cfg.port);
	cfg.port = net_local_port(lfd);		/* resolves -p 0 */
	fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) & ~O_NONBLOCK);
	return lfd;
}

/* Detached threads (nobody joins them) with stacks of `size` (0: libc's). */
static void thread_attr(size_t size)
{
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (size && size < san_min_stack)
		size = san_min_stack;
	if (size && (errno = pthread_attr_setstacksize(&attr, size)))
		die("pthread_attr_setstacksize %zu:", size);
	pthread_attr_getstacksize(&attr, &stack_bytes);	/* what they get */
}

/* ---- main ---- */

/* Extra fields on the stats line on stderr. */
static void conn_line(FILE *f)
{
	fprintf(f, "  threads %ld  rss_kb %ld", atomic_load(&threads), proc_rss_kb());
}

/* The result: one JSON line on stdout. */
static void report(void)
{
	struct json j;

	json_begin(&j);
	stats_json(&j);
	json_i64(&j, "threads_peak", atomic_load(&threads_peak));
	json_i64(&j, "stack_kb", (int64_t)(stack_bytes >> 10));
	json_i64(&j, "wait_us", cfg.wait_us);
	json_end(&j);
	json_print(&j, stdout);
}

static void usage(void)
{
	printf("%s: a thread per connection; each request waits -w USEC\n\n"
	       "%s\n\n"
	       "  -a ADDR   address to listen on (default %s; 0.0.0.0 is opt-in)\n"
	       "  -p PORT   port (default %d; 0 picks a free one)\n"
	       "  -w USEC   wait per request, in the connection's thread (default 10000)\n"
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
		.fd_reserve = FD_RESERVE, .max_loops = 1, .thread_per_conn = 1,
		.target = 1000 };
	int o;

	arg_synopsis = "usage: server [-a ADDR] [-p PORT] [-w USEC] [-i SEC] [-L] [-h]";
	while ((o = getopt(argc, argv, ":a:p:w:i:Lh")) != -1) {
		switch (o) {
		case 'a': arg_ipv4(o, optarg); cfg.addr = optarg; break;
		case 'p': cfg.port = (int)arg_long(o, optarg, 0, 65535); break;
		case 'w': cfg.wait_us = arg_long(o, optarg, 0, 1000000); break;
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
}

int main(int argc, char **argv)
{
	pthread_t t;
	int lfd;

	prog_init(argv[0]);
	parse(argc, argv);
	fd_limit = fd_raise_limit(1 << 20);
	sig_setup();			/* SIGTERM waits for stats_run() */
	lfd = listen_blocking(0);	/* a busy port fails here, before any thread */
	slots = stats_init(DESIGN, NSLOTS, cfg.interval);
	stats_set_line(conn_line);
	thread_attr(STACK_SIZE);
	if ((errno = pthread_create(&t, NULL, accept_loop, (void *)(intptr_t)lfd)))
		die("pthread_create:");
	fprintf(stderr, "%s: listening on %s:%d, a thread per connection, %ld fds, "
		"%ld us wait per request\n", prog_name, cfg.addr, cfg.port,
		fd_limit, cfg.wait_us);

	stats_run(NULL);		/* until SIGINT/SIGTERM */
	report();			/* and exit: the kernel closes every socket */
	return 0;
}
