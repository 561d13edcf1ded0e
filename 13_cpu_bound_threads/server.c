/*
 * 13_cpu_bound_threads - one thread per connection, and every request
 * costs CPU: before its echo, each 8-byte request is a SHA-256 proof of
 * work of -b BITS leading zero bits (default 12), salted with the request.
 *
 * The design is 11's: an acceptor thread blocks in accept4() and starts a
 * thread per connection, which reads one whole request with a blocking
 * recv(MSG_WAITALL), proves, and sends it back. The kernel's scheduler
 * shares the cores among the threads that have work.
 *
 * What it shows, against 12_cpu_bound_epoll: when the work is CPU, the
 * design hardly matters for throughput. Two cores do ~2 x (hash rate /
 * 2^BITS) proofs a second whether two loops or 5,000 threads run them
 * (printed at start: one 12-bit proof is ~4096 hashes, and how long it
 * takes on this machine). What differs is the latency: a loop finishes a request before it
 * takes the next, so a request waits for the ones ahead of it; threads
 * are time-sliced, so every request in flight advances at once, all
 * finishing late together, plus a context switch per request and a
 * thread's memory per connection. The two measured side by side, with
 * the command: docs/results.md.
 *
 * The original (Go) hashed "hello world N" from N = 0 for every request,
 * so the 12-bit proof always won at N = 4: 5 hashes, not 4096. Here the
 * input is the request's own 8 bytes, so the work really averages 2^BITS
 * hashes, and the result reports hashes_per_request to prove it.
 *
 * usage: server [-a ADDR] [-p PORT] [-b BITS] [-i SEC] [-L] [-h]
 * build: cc -std=gnu11 -O2 -pthread -Icommon -o 13_cpu_bound_threads/server 13_cpu_bound_threads/server.c common/[a-z]*.c -lm
 *
 * test with:
 *   ./13_cpu_bound_threads/server &
 *   ./13_cpu_bound_threads/client -n 100 -d 5
 *
 * diff against: 11_io_bound_threads (the same threads: a proof instead of
 * a wait); 12_cpu_bound_epoll is the same work on epoll loops.
 *
 * sample output (stderr; then the JSON line on stdout at SIGTERM):
 *   13_cpu_bound_threads/server: one proof of 12 bits = 4096 hashes on average,
 *     2.676 ms at 1.53M hashes/s on this machine
 *   13_cpu_bound_threads/server: listening on 127.0.0.1:8972, a thread per
 *     connection, 20000 fds, 12-bit proofs
 *   conns 100  rps 699  accepted 100  resets 0  errors 0  threads 100  rss_kb 2472
 *   {"design":"13_cpu_bound_threads","conns_peak":100,"requests":8422,"rps":832.8,
 *    ...,"threads_peak":100,"stack_kb":64,"bits":12,"hashes_per_request":4060.2,
 *    "hashes_per_request_expected":4096,"proof_ms":2.68}
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "c1m.h"
#include "sha256.h"

#define DESIGN		"13_cpu_bound_threads"
#define STACK_SIZE	(64 << 10)	/* a proof needs < 1 KiB of stack */
#define FD_RESERVE	32		/* listener, stdio, /proc reads */
#define NSLOTS		64		/* stats slots, by fd: spreads the atomics */
#define PAUSE_MS	100		/* accept pause when out of fds or threads */

static struct {
	const char *addr;
	int port;
	int bits;		/* the proof per request: leading zero bits */
	double interval;
} cfg = { C1M_ADDR, C1M_PORT, 12, 5 };

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
static double pow_rate;			/* hashes/s, measured at start */

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
 * The whole life of a connection: a whole request, its proof, its echo.
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
		if (n == FRAME_SIZE) {	/* salted with the request; gives up at stop */
			uint64_t nonce, hashes = pow_solve(buf, FRAME_SIZE, cfg.bits,
							   &nonce, &sig_stop);

			atomic_fetch_add_explicit(&st->work, hashes, memory_order_relaxed);
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
	uint64_t hashes = 0, req = stats_requests();
	struct json j;

	for (int i = 0; i < NSLOTS; i++)
		hashes += atomic_load_explicit(&slots[i].work, memory_order_relaxed);
	json_begin(&j);
	stats_json(&j);
	json_i64(&j, "threads_peak", atomic_load(&threads_peak));
	json_i64(&j, "stack_kb", (int64_t)(stack_bytes >> 10));
	json_i64(&j, "bits", cfg.bits);
	json_num(&j, "hashes_per_request", req ? (double)hashes / (double)req : 0);
	json_num(&j, "hashes_per_request_expected", (double)(1ull << cfg.bits));
	if (pow_rate > 0)
		json_num(&j, "proof_ms", (double)(1ull << cfg.bits) / pow_rate * 1e3);
	json_end(&j);
	json_print(&j, stdout);
}

static void usage(void)
{
	printf("%s: a thread per connection; each request proves SHA-256 work\n\n"
	       "%s\n\n"
	       "  -a ADDR   address to listen on (default %s; 0.0.0.0 is opt-in)\n"
	       "  -p PORT   port (default %d; 0 picks a free one)\n"
	       "  -b BITS   proof of work per request: leading zero bits (default 12)\n"
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

	arg_synopsis = "usage: server [-a ADDR] [-p PORT] [-b BITS] [-i SEC] [-L] [-h]";
	while ((o = getopt(argc, argv, ":a:p:b:i:Lh")) != -1) {
		switch (o) {
		case 'a': arg_ipv4(o, optarg); cfg.addr = optarg; break;
		case 'p': cfg.port = (int)arg_long(o, optarg, 0, 65535); break;
		case 'b': cfg.bits = (int)arg_long(o, optarg, 0, POW_MAX_BITS); break;
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
	pow_rate = pow_hash_rate();	/* ~0.1 s: what a proof costs here */
	fprintf(stderr, "%s: one proof of %d bits = %.0f hashes on average, "
		"%.3f ms at %.2fM hashes/s on this machine\n", prog_name, cfg.bits,
		(double)(1ull << cfg.bits), (double)(1ull << cfg.bits) / pow_rate * 1e3,
		pow_rate / 1e6);
	lfd = listen_blocking(0);	/* a busy port fails here, before any thread */
	slots = stats_init(DESIGN, NSLOTS, cfg.interval);
	stats_set_line(conn_line);
	thread_attr(STACK_SIZE);
	if ((errno = pthread_create(&t, NULL, accept_loop, (void *)(intptr_t)lfd)))
		die("pthread_create:");
	fprintf(stderr, "%s: listening on %s:%d, a thread per connection, %ld fds, "
		"%d-bit proofs\n", prog_name, cfg.addr, cfg.port,
		fd_limit, cfg.bits);

	stats_run(NULL);		/* until SIGINT/SIGTERM */
	report();			/* and exit: the kernel closes every socket */
	return 0;
}
