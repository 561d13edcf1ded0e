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
 * Push (-b/-R): each connection's thread pushes to its own socket; nobody
 * else writes it, so there is no lock and no queue between threads. The
 * thread sleeps in ppoll() until its socket is ready or its next push is
 * due (the timeout). -b: every thread wakes at the same broadcast time,
 * from main's clock, and stamps it; -R: each thread has a clock of its
 * own, one push every CONNS / RATE s (-R needs -n). What waking a thread
 * per connection costs: a broadcast is N timers firing at once, N threads
 * made runnable together and N context switches in and out, each to write
 * one socket; the fan-out takes as long as the scheduler needs to run
 * them all. In push mode a socket is written without blocking
 * (MSG_DONTWAIT) from an out queue the thread keeps, echoes in whole
 * frames and pushes between them; past -Q unread bytes it is dropped.
 *
 * usage: server [-a ADDR] [-p PORT] [-n CONNS] [-b SEC | -R RATE]
 *               [-l BYTES] [-Q BYTES] [-i SEC] [-L] [-h]
 * build: cc -std=gnu11 -O2 -pthread -Icommon -o 01_thread_per_conn/server 01_thread_per_conn/server.c common/[a-z]*.c -lm
 *
 * test with:
 *   ./01_thread_per_conn/server &
 *   ./01_thread_per_conn/client -n 10000 -d 10
 *   push: ./01_thread_per_conn/server -b 1 & python3 tests/pushread.py (tests/pushserv.sh)
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
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
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
	struct push_plan push;	/* -b | -R, -l, -Q */
} cfg = { C1M_ADDR, C1M_PORT, 0, 5, PUSH_PLAN_DEFAULT };
static int pushing;		/* -b or -R given: push mode */
static struct push_clock clock0;	/* -b: the broadcasts, from main's start */

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

/* ---- push mode (-b / -R): each thread pushes to its own connection ---- */

/* Push mode: the connection's out queue, echoes and pushes in whole
 * frames. It lives on the thread's stack; only its buffer is malloc'd. */
struct out {
	char *buf;		/* malloc'd, NULL when drained */
	uint32_t len, off, cap;	/* bytes queued, of them sent, room */
	uint32_t scan;		/* frames before it are counted as written */
	uint64_t seq;		/* pushes queued: the last sequence number */
	unsigned char part[FRAME_SIZE];	/* a frame read in part */
	uint8_t part_len;
};

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

/* Write what the socket takes of the out queue, without blocking: a
 * consumer that stops reading must not stop this thread's schedule.
 * 0, or -1 with errno. */
static int conn_flush(int fd, struct stats_slot *st, struct out *o)
{
	while (o->off < o->len) {
		ssize_t n = send(fd, o->buf + o->off, o->len - o->off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;		/* full: ppoll for POLLOUT */
		if (n <= 0)
			return -1;	/* reset, ... */
		o->off += (uint32_t)n;
	}
	out_count(st, o);
	if (o->off == o->len) {		/* drained: an idle conn holds no buffer */
		free(o->buf);
		o->buf = NULL;
		o->len = o->off = o->cap = o->scan = 0;
	}
	return 0;
}

/* A consumer past -Q unread bytes: RST (the kernel drops what it holds
 * for it too), counted. The thread then ends as at EOF. */
static int slow_drop(int fd, struct stats_slot *st)
{
	atomic_fetch_add_explicit(&st->slow_dropped, 1, memory_order_relaxed);
	net_set_linger0(fd);
	errno = 0;
	return -1;
}

/* One push to this thread's connection: queue it and write what the
 * socket takes, or drop a slow consumer. 0, or -1 (errno; 0: dropped). */
static int push_to(int fd, struct stats_slot *st, struct out *o, uint64_t sched_ns)
{
	if (o->len - o->off + PUSH_HDR + cfg.push.body > cfg.push.queue_max)
		return slow_drop(fd, st);
	if (push_one(o, sched_ns) < 0) {
		errno = ENOMEM;
		return -1;
	}
	return conn_flush(fd, st, o);
}

/* Read side in push mode: echo whole frames only, keeping a frame read in
 * part until the rest comes, so a push is never put inside one. 0, or -1
 * (errno; 0 at EOF). */
static int push_readable(int fd, struct stats_slot *st, struct out *o, char *buf)
{
	ssize_t n;
	size_t whole;

	memcpy(buf, o->part, o->part_len);
	n = recv(fd, buf + o->part_len, BUF_SIZE - o->part_len, MSG_DONTWAIT);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0) {
		if (n == 0)
			errno = 0;	/* EOF: all echoed */
		return -1;
	}
	n += o->part_len;
	whole = (size_t)n - (size_t)n % FRAME_SIZE;
	o->part_len = (uint8_t)((size_t)n - whole);
	memcpy(o->part, buf + whole, o->part_len);
	if (whole && !out_append(o, buf, whole)) {
		errno = ENOMEM;
		return -1;
	}
	return conn_flush(fd, st, o);
}

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

/*
 * The result must count every push a reader got: main's report runs while
 * these threads still run. So a thread writes only between push_hold and
 * push_release, and once main has said stop (push_quiesce), holding makes
 * it sleep until the process exits.
 */
static atomic_int push_stop, push_writers;

static void push_hold(void)
{
	atomic_fetch_add(&push_writers, 1);
	if (atomic_load(&push_stop)) {
		atomic_fetch_sub(&push_writers, 1);
		for (;;)
			pause();	/* signals are blocked: until exit */
	}
}

static void push_release(void)
{
	atomic_fetch_sub(&push_writers, 1);
}

/* Main, before the report: no thread writes from now on. */
static void push_quiesce(void)
{
	atomic_store(&push_stop, 1);
	while (atomic_load(&push_writers))
		usleep(100);
}

/* This thread's schedule. -b: main's broadcasts, from the first one after
 * now, so every thread stamps a broadcast with the same time. -R: a clock
 * of its own from now, one push every CONNS / RATE s: the threads, each
 * started when its connection came, take turns spread over the period. */
static void push_start(struct push_clock *c)
{
	if (cfg.push.every_s > 0) {
		*c = clock0;
		c->k = (clock_wall_ns() - c->t0) / c->step_ns + 1;
	} else {
		push_clock_start(c, &cfg.push, (int)cfg.conns);
	}
}

/*
 * A connection's whole life in push mode. The thread sleeps in ppoll()
 * until its socket is ready or its next push is due (push_arm: the
 * timeout), and writes both itself: nobody else touches this socket, so
 * there is no lock, and no frame to cut. While bytes are queued it waits
 * for POLLOUT only, not reading: a reader that stops is not read either.
 */
static void *push_thread(void *arg)
{
	int fd = (int)(intptr_t)arg, err = 0;
	struct stats_slot *st = &slots[fd % NSLOTS];
	struct out o = { 0 };
	struct push_clock clk;
	char buf[BUF_SIZE];	/* on this thread's own stack */

	push_start(&clk);
	for (;;) {
		uint64_t sched, now = clock_wall_ns();
		struct pollfd p = { .fd = fd };
		struct timespec ts;
		int r = 0;

		push_hold();
		while (r == 0 && (sched = push_due(&clk, now)))
			r = push_to(fd, st, &o, sched);
		push_release();
		if (r == 0) {		/* push_arm: sleep until the next one */
			uint64_t wait = push_clock_due(&clk) - now;

			ts = (struct timespec){ (time_t)(wait / 1000000000u),
						(long)(wait % 1000000000u) };
			p.events = o.len ? POLLOUT : POLLIN;
			r = ppoll(&p, 1, &ts, NULL);
			if (r < 0 && errno == EINTR)
				r = 0;
		}
		if (r > 0) {		/* the socket is ready */
			push_hold();
			r = o.len ? conn_flush(fd, st, &o) : push_readable(fd, st, &o, buf);
			push_release();
		}
		if (r < 0) {
			err = errno;	/* 0: EOF or dropped; reset, ... */
			break;
		}
	}
	free(o.buf);
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
	rc = pthread_create(&t, &attr, pushing ? push_thread : conn_thread,
			    (void *)(intptr_t)fd);
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
	       "  -n CONNS  connections to make room for (exit 2 beyond the ceiling);\n"
	       "            -R spreads RATE over CONNS threads, so it needs -n\n"
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
		.fd_reserve = FD_RESERVE, .max_loops = 1, .thread_per_conn = 1,
		.target = 1000000, .push = 1 };
	int o;

	arg_synopsis = "usage: server [-a ADDR] [-p PORT] [-n CONNS] " PUSH_SYNOPSIS
		       " [-i SEC] [-L] [-h]";
	while ((o = getopt(argc, argv, ":a:p:n:b:R:l:Q:i:Lh")) != -1) {
		switch (o) {
		case 'a': arg_ipv4(o, optarg); cfg.addr = optarg; break;
		case 'p': cfg.port = (int)arg_long(o, optarg, 0, 65535); break;
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
	if (cfg.push.rate > 0 && !cfg.conns)
		arg_usage_error("-R: a thread per connection has no loop to take turns; "
				"give -n CONNS, and each thread pushes every CONNS/RATE s");
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
	if (pushing) {
		/* The kernel keeps at most -Q bytes unsent for a connection
		 * (accepted sockets inherit it), so a reader that stops shows
		 * in the thread's own queue, and -Q catches it. */
		int lowat = (int)cfg.push.queue_max;

		setsockopt(lfd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat));
		stats_set_push(&cfg.push);
		push_clock_start(&clock0, &cfg.push, 1);	/* -b: the broadcasts */
	}
	stats_set_line(conn_line);
	thread_attr(STACK_SIZE);
	rss_base_kb = proc_rss_kb();
	if ((errno = pthread_create(&t, NULL, accept_loop, (void *)(intptr_t)lfd)))
		die("pthread_create:");
	fprintf(stderr, "%s: listening on %s:%d, a thread per connection, %zu KiB stacks; "
		"ceiling %ld conns, set by %s\n", prog_name, cfg.addr, cfg.port,
		stack_bytes >> 10, top.conns, top.what);

	stats_run(NULL);		/* until SIGINT/SIGTERM */
	if (pushing)
		push_quiesce();
	report();			/* and exit: the kernel closes every socket */
	return 0;
}
