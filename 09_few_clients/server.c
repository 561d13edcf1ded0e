/*
 * 09_few_clients - a thread per connection, tuned for throughput, driven
 * with few connections (the original's author swept 5000, 2000, 1000, 500,
 * 200 and 100).
 *
 * The design is 01's: acceptor threads block in accept4(), and each
 * connection gets a thread of its own that loops on a blocking recv() and
 * send() until EOF. No epoll, no per-connection struct: the thread's stack
 * is the connection's state. A short write just means the send loop goes
 * round again; a peer that does not read blocks only its own thread, which
 * stops reading it meanwhile, so back-pressure is free. At SIGTERM the
 * main thread prints the result and exits, which closes every socket.
 *
 * 01 asks "how many idle connections fit?" and trims every byte a thread
 * holds. Here every connection is busy and the question is "how many
 * requests per second?", so the knobs turn the other way: default stacks
 * (glibc's 8 MiB, virtual) and a 64 KiB buffer, so one recv() takes all a
 * busy peer sent; TCP_NODELAY, so a reply never waits for Nagle; and -c
 * acceptor threads, each on its own SO_REUSEPORT listener, so a burst of
 * connects is accepted on every core.
 *
 * What limits it: each request costs its thread a wakeup and a sleep, two
 * context switches, and with more runnable threads than cores the
 * scheduler decides who runs. ctx_switches_per_req in the result shows
 * where that grows; an epoll loop (06) serves a whole batch of ready
 * connections per wakeup. Like 01 it has one fd table, capped by
 * RLIMIT_NOFILE (20,000 on the development machine).
 *
 * usage: server [-a ADDR] [-p PORT] [-c N] [-i SEC] [-L] [-h]
 * build: cc -std=gnu11 -O2 -pthread -Icommon -o 09_few_clients/server 09_few_clients/server.c common/[a-z]*.c -lm
 *
 * test with:
 *   ./09_few_clients/server &
 *   for n in 5000 2000 1000 500 200 100; do
 *           ./09_few_clients/client -n $n -d 10; done
 *
 * diff against: 01_thread_per_conn (the same threads, tuned for memory);
 * 11_io_bound_threads is this with a wait per request.
 *
 * sample output (stderr; then the JSON line on stdout at SIGTERM):
 *   09_few_clients/server: listening on 127.0.0.1:8972, a thread per
 *     connection, 2 acceptors, 8192 KiB stacks, 65536-byte buffers
 *   conns 100  rps 51155  accepted 100  resets 0  errors 0  threads 100  rss_kb 2944
 *   {"design":"09_few_clients",...,"threads_peak":100,"ctx_switches_per_req":2.1}
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "c1m.h"

#define DESIGN		"09_few_clients"
#define STACK_SIZE	0		/* the libc default */
#define BUF_SIZE	(64 << 10)	/* one recv() takes all a busy peer sent */
#define FD_RESERVE	32		/* listeners, stdio, /proc reads */
#define NSLOTS		64		/* stats slots, by fd: spreads the atomics */
#define PAUSE_MS	100		/* accept pause when out of fds or threads */

static struct {
	const char *addr;
	int port;
	int loops;		/* acceptor threads; 0 = the CPU count */
	double interval;
} cfg = { C1M_ADDR, C1M_PORT, 0, 5 };

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

/* The whole life of a connection: blocking recv, then echo it all back. */
static void *conn_thread(void *arg)
{
	int fd = (int)(intptr_t)arg, err = 0;
	struct stats_slot *st = &slots[fd % NSLOTS];
	char buf[BUF_SIZE];	/* on this thread's own stack */

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n == 0)
			break;		/* EOF or half-close: all echoed */
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || send_all(fd, buf, (size_t)n) < 0) {
			err = errno;	/* reset, ... */
			break;
		}
		atomic_fetch_add_explicit(&st->bytes, (uint64_t)n, memory_order_relaxed);
	}
	conn_close(fd, st, err);
	return NULL;
}

/* ---- accepting: a blocking accept4() per listener, on its own thread ---- */

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
	uint64_t req = stats_requests();
	struct rusage ru;
	struct json j;

	getrusage(RUSAGE_SELF, &ru);
	json_begin(&j);
	stats_json(&j);
	json_i64(&j, "threads_peak", atomic_load(&threads_peak));
	json_i64(&j, "stack_kb", (int64_t)(stack_bytes >> 10));
	json_i64(&j, "buf_bytes", BUF_SIZE);
	json_i64(&j, "acceptors", cfg.loops);
	json_num(&j, "ctx_switches_per_req",
		 req ? (double)(ru.ru_nvcsw + ru.ru_nivcsw) / (double)req : 0);
	json_end(&j);
	json_print(&j, stdout);
}

static void usage(void)
{
	printf("%s: one thread per connection, tuned for throughput\n\n"
	       "%s\n\n"
	       "  -a ADDR   address to listen on (default %s; 0.0.0.0 is opt-in)\n"
	       "  -p PORT   port (default %d; 0 picks a free one)\n"
	       "  -c N      acceptor threads, one SO_REUSEPORT listener each (default: the CPU count)\n"
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
		.fd_reserve = FD_RESERVE, .max_loops = 4096, .thread_per_conn = 1,
		.target = 1000 };
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int o;

	arg_synopsis = "usage: server [-a ADDR] [-p PORT] [-c N] [-i SEC] [-L] [-h]";
	while ((o = getopt(argc, argv, ":a:p:c:i:Lh")) != -1) {
		switch (o) {
		case 'a': arg_ipv4(o, optarg); cfg.addr = optarg; break;
		case 'p': cfg.port = (int)arg_long(o, optarg, 0, 65535); break;
		case 'c': cfg.loops = (int)arg_long(o, optarg, 1, 4096); break;
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
}

int main(int argc, char **argv)
{
	pthread_t t;
	int *lfds;

	prog_init(argv[0]);
	parse(argc, argv);
	fd_limit = fd_raise_limit(1 << 20);
	sig_setup();			/* SIGTERM waits for stats_run() */
	lfds = calloc((size_t)cfg.loops, sizeof(*lfds));
	if (!lfds)
		die("calloc:");
	/* Every listener up front: a busy port fails here, before any thread. */
	for (int i = 0; i < cfg.loops; i++)
		lfds[i] = listen_blocking(cfg.loops > 1);
	slots = stats_init(DESIGN, NSLOTS, cfg.interval);
	stats_set_line(conn_line);
	thread_attr(STACK_SIZE);
	for (int i = 0; i < cfg.loops; i++)
		if ((errno = pthread_create(&t, NULL, accept_loop, (void *)(intptr_t)lfds[i])))
			die("pthread_create:");
	free(lfds);			/* each acceptor has its own copy */
	fprintf(stderr, "%s: listening on %s:%d, a thread per connection, %d acceptors, "
		"%zu KiB stacks, %d-byte buffers\n", prog_name, cfg.addr, cfg.port,
		cfg.loops, stack_bytes >> 10, BUF_SIZE);

	stats_run(NULL);		/* until SIGINT/SIGTERM */
	report();			/* and exit: the kernel closes every socket */
	return 0;
}
