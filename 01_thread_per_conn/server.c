/*
 * 01_thread_per_conn - one thread per connection, blocking I/O, echo.
 *
 * The design: an acceptor thread blocks in accept4(), and each connection
 * gets a thread that loops on a blocking recv() and send() until EOF: the
 * original's goroutine per connection, in C (it read and discarded; this
 * echoes, so the client can check every reply). No epoll, no struct per
 * connection: the thread's stack is the state; a short write means the
 * send loop goes round again, not reading the peer meanwhile. At SIGTERM
 * main prints the result and exits, which closes every socket.
 *
 * What it costs, per idle connection: the thread's stack, 16 KiB asked
 * for here instead of glibc's 8 MiB (only touched pages become resident)
 * with the 1 KiB read buffer on it; in the kernel a 16 KiB kernel stack
 * and a task_struct (~31 KB per thread, which RSS does not show and
 * MemAvailable does), the ~4 KB socket, a pid and two memory maps.
 * And per request, two context switches (the thread wakes, then sleeps).
 * What that came to when measured, with the command: docs/results.md.
 *
 * Why it does not reach 1M: every thread shares the process's one fd
 * table, capped by RLIMIT_NOFILE (20,000 on the development machine, a
 * hard limit): ~19,968 connections there, whatever memory is left (06 and 07 have a table per loop
 * or per process; a thread per connection cannot). Past the fd limit come
 * kernel.pid_max, vm.max_map_count / 2 and memory. The server names its
 * ceiling at start and refuses an -n beyond it (exit 2); without -n it
 * serves until the table is full, then pauses accept.
 *
 * usage: server [-a ADDR] [-p PORT] [-n CONNS] [-i SEC] [-L] [-h]
 * build: cc -std=gnu11 -O2 -pthread -Icommon -o 01_thread_per_conn/server 01_thread_per_conn/server.c common/[a-z]*.c -lm
 *
 * test with:
 *   ./01_thread_per_conn/server &
 *   ./01_thread_per_conn/client -n 10000 -d 10
 *
 * diff against: 09_few_clients (the same threads, tuned for throughput);
 * 03_epoll_throughput serves them all from one thread instead.
 *
 * sample output (stderr; then the JSON line on stdout at SIGTERM):
 *   01_thread_per_conn/server: listening on 127.0.0.1:8972, a thread per
 *     connection, 16 KiB stacks; ceiling 19968 conns, set by the fd table
 *   conns 10000  rps 200  accepted 10000  resets 0  errors 0  threads 10000  rss_kb 84456
 *   {"design":"01_thread_per_conn","conns_peak":10000,...,"threads_peak":10000,...}
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

#define DESIGN		"01_thread_per_conn"
#define STACK_SIZE	(16 << 10)	/* glibc's minimum on x86-64 */
#define BUF_SIZE	1024		/* on that stack: 8-byte frames */
#define FD_RESERVE	32		/* listener, stdio, /proc reads */
#define NSLOTS		16		/* stats slots, by fd: spreads the atomics */
#define CONN_COST_KB	35		/* ~31 KB per thread + ~4 KB socket */
#define PAUSE_MS	100		/* accept pause when out of fds or threads */

static struct {
	const char *addr;
	int port;
	long conns;		/* -n: connections to make room for; 0 = any */
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
static struct limit {
	const char *what;
	long conns;
} top;					/* the ceiling: the lowest limit */
static long rss_base_kb;		/* before the first thread */

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

/* ---- the ceiling, said up front ---- */

/* Each limit on how many threads fit: the lowest is the ceiling, and an
 * -n beyond it is refused now (exit 2), not found by crashing later. */
static void ceiling(void)
{
	long maps = proc_file_long("/proc/sys/vm/max_map_count", "");
	long mem = proc_file_long("/proc/meminfo", "MemAvailable:");
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	struct limit next = { "none", -1 }, l[] = {
		{ "the fd table (RLIMIT_NOFILE, one per process)", fd_limit - FD_RESERVE },
		{ "kernel.pid_max (a pid per thread)", proc_file_long("/proc/sys/kernel/pid_max", "") },
		{ "kernel.threads-max", proc_file_long("/proc/sys/kernel/threads-max", "") },
		{ "vm.max_map_count / 2 (a stack and its guard)", maps < 0 ? -1 : maps / 2 },
		{ "MemAvailable / ~35 KB", mem < 0 ? -1 : mem / CONN_COST_KB },
		{ "RLIMIT_NPROC (threads count)", -1 },
	};

	if (getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		l[5].conns = (long)rl.rlim_cur;
	top = l[0];
	for (int i = 1; i < 6; i++) {
		if (l[i].conns < 0)
			continue;	/* unreadable: not a limit we know */
		if (l[i].conns < top.conns) {
			next = top;
			top = l[i];
		} else if (next.conns < 0 || l[i].conns < next.conns) {
			next = l[i];
		}
	}
	if (cfg.conns > top.conns)
		arg_usage_error("-n %ld is beyond this design's ceiling here of %ld "
				"connections, set by %s (next: %s, %ld); use 06 or 07",
				cfg.conns, top.conns, top.what, next.what, next.conns);
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
	long peak = atomic_load(&threads_peak);
	struct json j;

	json_begin(&j);
	stats_json(&j);
	json_i64(&j, "threads_peak", peak);
	json_i64(&j, "stack_kb", (int64_t)(stack_bytes >> 10));
	json_i64(&j, "buf_bytes", BUF_SIZE);
	json_i64(&j, "ceiling", top.conns);
	json_str(&j, "ceiling_by", top.what);
	json_num(&j, "rss_kb_per_conn",
		 peak ? (double)(proc_rss_peak_kb() - rss_base_kb) / (double)peak : 0);
	json_end(&j);
	json_print(&j, stdout);
}

static void usage(void)
{
	printf("%s: one thread per connection, 16 KiB stacks, blocking I/O\n\n"
	       "%s\n\n"
	       "  -a ADDR   address to listen on (default %s; 0.0.0.0 is opt-in)\n"
	       "  -p PORT   port (default %d; 0 picks a free one)\n"
	       "  -n CONNS  connections to make room for (exit 2 beyond the ceiling)\n"
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
		.target = 1000000 };
	int o;

	arg_synopsis = "usage: server [-a ADDR] [-p PORT] [-n CONNS] [-i SEC] [-L] [-h]";
	while ((o = getopt(argc, argv, ":a:p:n:i:Lh")) != -1) {
		switch (o) {
		case 'a': arg_ipv4(o, optarg); cfg.addr = optarg; break;
		case 'p': cfg.port = (int)arg_long(o, optarg, 0, 65535); break;
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
}

int main(int argc, char **argv)
{
	pthread_t t;
	int lfd;

	prog_init(argv[0]);
	parse(argc, argv);
	fd_limit = fd_raise_limit(cfg.conns ? cfg.conns + FD_RESERVE : 1 << 20);
	ceiling();			/* exit 2 if -n cannot fit */
	sig_setup();			/* SIGTERM waits for stats_run() */
	lfd = listen_blocking(0);	/* a busy port fails here, before any thread */
	slots = stats_init(DESIGN, NSLOTS, cfg.interval);
	stats_set_line(conn_line);
	thread_attr(STACK_SIZE);
	rss_base_kb = proc_rss_kb();
	if ((errno = pthread_create(&t, NULL, accept_loop, (void *)(intptr_t)lfd)))
		die("pthread_create:");
	fprintf(stderr, "%s: listening on %s:%d, a thread per connection, %zu KiB stacks; "
		"ceiling %ld conns, set by %s\n", prog_name, cfg.addr, cfg.port,
		stack_bytes >> 10, top.conns, top.what);

	stats_run(NULL);		/* until SIGINT/SIGTERM */
	report();			/* and exit: the kernel closes every socket */
	return 0;
}
