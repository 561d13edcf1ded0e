/*
 * 10_io_bound_epoll - 06's loops, but every request waits -w USEC (default
 * 10 ms) before its echo, as for a disk read or a call to another service.
 * A request counts only whole: the loop assembles its 8 bytes in struct
 * conn and reads no further until it is answered. -m says how it waits:
 *   block  (default) usleep() in the loop. A sleeping loop serves nobody:
 *          2 loops at 10 ms cap at 200 rps ("cap_rps") whatever the
 *          connection count, latency grows with the connections, and the
 *          cores idle.
 *   timer  how an event loop waits: the fd leaves the epoll set and joins
 *          a FIFO (every wait is as long, so they end in the order they
 *          began); one timerfd, armed for the oldest, brings it back. The
 *          waits overlap: about connections / wait requests a second,
 *          until the cores run out.
 * What each mode did when measured, with the command: docs/results.md.
 *
 * usage: server [-a ADDR] [-p PORT] [-c N] [-n CONNS] [-w USEC] [-m MODE] [-i SEC] [-L] [-h]
 * build: cc -std=gnu11 -O2 -pthread -Icommon -o 10_io_bound_epoll/server 10_io_bound_epoll/server.c common/[a-z]*.c -lm
 * test with: ./10_io_bound_epoll/server -m timer & ./10_io_bound_epoll/client -n 100 -d 5
 * diff against: 06_multi_epoll_server (the same loops: this adds whole requests and the wait)
 * sample output, -m block (stderr; then the JSON line on stdout at SIGTERM):
 *   10_io_bound_epoll/server: listening on 127.0.0.1:8972, 2 loops x 19968 fds, block mode, 10000 us wait per request
 *   conns 100  rps 195  accepted 100  resets 0  errors 0
 *   {"design":"10_io_bound_epoll",...,"loops":2,"mode":"block","wait_us":10000,"cap_rps":200}
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "c1m.h"

#define DESIGN		"10_io_bound_epoll"
#define FD_RESERVE	32	/* per table: epoll fd, listener, timerfd, stdio, slack */
#define MAX_EVENTS	512
#define PAUSE_MS	100	/* accept pause after EMFILE */
#define TICK_NS		100000000ull	/* housekeeping every 100 ms */

static struct {
	const char *addr;
	int port;
	double interval;
	int loops;		/* -c; 0 = size from -n and the CPU count */
	long conns;		/* -n: connections to make room for */
	long wait_us;		/* -w: the wait per request */
	const char *mode;	/* -m: "block" or "timer" */
	int timer;		/* -m timer */
} cfg = { C1M_ADDR, C1M_PORT, 5, 0, 0, 10000, "block", 0 };

/* The per-connection state: the request being assembled, then its echo. */
struct conn {
	char pend[FRAME_SIZE];	/* the request, then the reply */
	uint8_t pend_len;	/* bytes of it read */
	uint8_t pend_off;	/* bytes of it sent */
	uint64_t due;		/* -m timer: clock_ns() when its wait is over */
};

struct loop {
	pthread_t thread;
	int ep, lfd;		/* the epoll set, and the listener in it */
	struct conn *conns;	/* one per fd of the table */
	struct stats_slot *st;
	uint64_t paused_until;	/* accept paused after EMFILE; 0 = listening */
	int tfd;		/* -m timer: fires when the oldest wait is due */
	int *q;			/* -m timer: the waiting fds, a FIFO ring of fd_limit */
	long q_head, q_len;
};

static struct loop *loops;	/* cfg.loops of them, a thread each */
static long fd_limit;		/* the size of each loop's fd table */

/* ---- handlers ---- */

static void watch(struct loop *l, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev);
}

/* err: 0 for a clean EOF, else the errno that ended the connection. */
static void conn_close(struct loop *l, int fd, int err)
{
	struct conn *c = &l->conns[fd];

	memset(c, 0, sizeof(*c));
	close(fd);		/* also leaves the epoll set */
	stats_conn_closed(l->st, err);
}

static void on_accept(struct loop *l)
{
	for (;;) {
		struct epoll_event ev = { .events = EPOLLIN };
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

static void on_writable(struct loop *l, int fd)
{
	struct conn *c = &l->conns[fd];
	ssize_t w = send_some(fd, c->pend + c->pend_off, c->pend_len - c->pend_off);

	if (w < 0) {
		conn_close(l, fd, errno);
		return;
	}
	atomic_fetch_add_explicit(&l->st->bytes, (uint64_t)w, memory_order_relaxed);
	c->pend_off += (uint8_t)w;
	if (c->pend_off < c->pend_len)
		return;		/* still short: wait for the next EPOLLOUT */
	memset(c, 0, sizeof(*c));
	watch(l, fd, EPOLLIN);	/* drained: read it again */
}

/* ---- the wait: -m block sleeps, -m timer parks ---- */

/* Arm the one-shot timerfd for `due` (clock_ns, absolute), or disarm it (0).
 * Either way its pending expiry is cleared: nobody needs to read() it. */
static void arm(struct loop *l, uint64_t due)
{
	struct itimerspec t = { .it_value = { (time_t)(due / 1000000000),
					      (long)(due % 1000000000) } };

	if (timerfd_settime(l->tfd, TFD_TIMER_ABSTIME, &t, NULL) < 0)
		die("timerfd_settime:");
}

/* The timerfd fired: echo every request whose wait is over (its fd back in
 * the set), then arm the timer for the oldest wait left. */
static void on_timer(struct loop *l)
{
	uint64_t now = clock_ns();

	while (l->q_len && l->conns[l->q[l->q_head]].due <= now) {
		struct epoll_event ev = { .events = EPOLLOUT, .data.fd = l->q[l->q_head] };

		l->q_head = (l->q_head + 1) % fd_limit;
		l->q_len--;
		atomic_fetch_add_explicit(&l->st->work, 1, memory_order_relaxed);
		if (epoll_ctl(l->ep, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0)
			conn_close(l, ev.data.fd, errno);
		else
			on_writable(l, ev.data.fd);	/* the echo, as above */
	}
	arm(l, l->q_len ? l->conns[l->q[l->q_head]].due : 0);
}

/* A whole request: wait, then echo it. */
static void on_request(struct loop *l, int fd)
{
	if (!cfg.timer) {
		usleep((useconds_t)cfg.wait_us);	/* the whole loop waits */
		atomic_fetch_add_explicit(&l->st->work, 1, memory_order_relaxed);
		watch(l, fd, EPOLLOUT);	/* the echo is a parked write (all of pend): */
		on_writable(l, fd);	/* try it now; EPOLLOUT finishes it if short */
		return;
	}
	/* -m timer: out of the epoll set (so nothing of it, not even a hangup,
	 * is reported while it waits) and onto the FIFO; on_timer ends it. */
	epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL);
	l->conns[fd].due = clock_ns() + (uint64_t)cfg.wait_us * 1000;
	l->q[(l->q_head + l->q_len++) % fd_limit] = fd;
	if (l->q_len == 1)
		arm(l, l->conns[fd].due);	/* else an older wait is armed already */
}

/* Read towards one whole request, one recv per event, and no further: what
 * follows waits in the kernel's socket buffer, and epoll reports it again. */
static void on_readable(struct loop *l, int fd)
{
	struct conn *c = &l->conns[fd];
	ssize_t n = recv(fd, c->pend + c->pend_len, FRAME_SIZE - c->pend_len, 0);

	if (n == 0) {
		/* EOF: what came of a request goes back as it is. */
		if (c->pend_len)
			send(fd, c->pend, c->pend_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		conn_close(l, fd, 0);
		return;
	}
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			conn_close(l, fd, errno);	/* reset, ... */
		return;
	}
	c->pend_len += (uint8_t)n;
	if (c->pend_len == FRAME_SIZE)
		on_request(l, fd);
}

/* ---- the loop: one per thread ---- */

static void loop_run(struct loop *l)
{
	struct epoll_event ev[MAX_EVENTS];
	uint64_t next_tick = clock_ns() + TICK_NS;

	while (!atomic_load_explicit(&sig_stop, memory_order_relaxed)) {
		int n = epoll_wait(l->ep, ev, MAX_EVENTS, TICK_NS / 1000000);

		/* In block mode each event may sleep: look at sig_stop between. */
		for (int i = 0; i < n && !atomic_load(&sig_stop); i++) {
			int fd = ev[i].data.fd;

			if (fd == l->lfd)	/* new connections: one more event */
				on_accept(l);
			else if (fd == l->tfd)	/* waits are over */
				on_timer(l);
			else if (ev[i].events & EPOLLOUT)
				on_writable(l, fd);
			else
				on_readable(l, fd);
		}
		if (clock_ns() >= next_tick) {	/* housekeeping; the meter and */
			accept_resume(l);	/* the signals are main's */
			next_tick = clock_ns() + TICK_NS;
		}
	}
}

/* A loop thread: its own fd table (a copy of main's, less the other loops'
 * listeners; a TSan build shares one: r == 1), epoll set, listener and
 * timerfd. */
static void *loop_thread(void *arg)
{
	struct loop *l = arg;
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = l->lfd };
	int r = fd_private_table();

	if (r < 0)
		die("unshare(CLONE_FILES):");
	for (int i = 0; r == 0 && i < cfg.loops; i++)
		if (&loops[i] != l)
			close(loops[i].lfd);
	l->conns = calloc((size_t)fd_limit, sizeof(*l->conns));
	l->ep = epoll_create1(EPOLL_CLOEXEC);	/* and the listener joins it */
	if (!l->conns || l->ep < 0 || epoll_ctl(l->ep, EPOLL_CTL_ADD, l->lfd, &ev) < 0)
		die("loop setup:");
	l->q = calloc((size_t)fd_limit, sizeof(*l->q));
	l->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	ev.data.fd = l->tfd;	/* joins too; it stays idle in block mode */
	if (!l->q || l->tfd < 0 || epoll_ctl(l->ep, EPOLL_CTL_ADD, l->tfd, &ev) < 0)
		die("timerfd:");
	loop_run(l);			/* until main sets sig_stop */
	return NULL;
}

/* ---- main ---- */

/* The result: one JSON line on stdout. */
static void report(void)
{
	struct json j;

	json_begin(&j);
	stats_json(&j);
	json_i64(&j, "loops", cfg.loops);
	json_str(&j, "mode", cfg.mode);
	json_i64(&j, "wait_us", cfg.wait_us);
	if (!cfg.timer && cfg.wait_us > 0)	/* what a sleeping loop can do */
		json_num(&j, "cap_rps", cfg.loops * 1e6 / (double)cfg.wait_us);
	json_end(&j);
	json_print(&j, stdout);
}

static void usage(void)
{
	printf("%s: SO_REUSEPORT epoll loops; each request waits -w USEC (block or timer)\n\n"
	       "%s\n\n"
	       "  -a ADDR   address to listen on (default %s; 0.0.0.0 is opt-in)\n"
	       "  -p PORT   port (default %d; 0 picks a free one)\n"
	       "  -c N      epoll loops (default: the CPU count, more if -n needs them)\n"
	       "  -n CONNS  connections to make room for, plus 1/8 (the kernel does not\n"
	       "            spread them evenly over the loops); sizes the default -c\n"
	       "  -w USEC   wait per request (default 10000)\n"
	       "  -m MODE   block: usleep in the loop (default), or timer: park on a timerfd\n"
	       "  -i SEC    stats interval on stderr (default 5)\n"
	       "  -L        print this design's limits as one JSON line, for run.sh\n"
	       "  -h        this help\n\n"
	       "Echoes each 8-byte request after its wait. Prints \"listening on ADDR:PORT\"\n"
	       "on stderr when ready; on SIGINT/SIGTERM one JSON line on stdout, then exits 0.\n"
	       "Exit 1: cannot listen; exit 2: bad usage.\n",
	       prog_name, arg_synopsis, C1M_ADDR, C1M_PORT);
}

static void parse(int argc, char **argv)
{
	static const struct limits lim = { .design = DESIGN, .fd_tables = "many",
		.fd_reserve = FD_RESERVE, .max_loops = 4096, .target = 1000 };
	int o;

	arg_synopsis = "usage: server [-a ADDR] [-p PORT] [-c N] [-n CONNS] [-w USEC] [-m MODE] [-i SEC] [-L] [-h]";
	while ((o = getopt(argc, argv, ":a:p:c:n:w:m:i:Lh")) != -1) {
		switch (o) {
		case 'a': arg_ipv4(o, optarg); cfg.addr = optarg; break;
		case 'p': cfg.port = (int)arg_long(o, optarg, 0, 65535); break;
		case 'c': cfg.loops = (int)arg_long(o, optarg, 1, 4096); break;
		case 'n': cfg.conns = arg_long(o, optarg, 1, 100000000); break;
		case 'w': cfg.wait_us = arg_long(o, optarg, 0, 1000000); break;
		case 'm': cfg.mode = optarg; break;
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
	cfg.timer = strcmp(cfg.mode, "timer") == 0;
	if (!cfg.timer && strcmp(cfg.mode, "block") != 0)
		arg_usage_error("-m: '%s' is not one of block|timer", cfg.mode);
}

int main(int argc, char **argv)
{
	struct stats_slot *slots;

	prog_init(argv[0]);
	parse(argc, argv);
	fd_limit = fd_size_loops(cfg.conns, FD_RESERVE, &cfg.loops);	/* and -c */
	loops = calloc((size_t)cfg.loops, sizeof(*loops));
	if (!loops)
		die("setup:");
	slots = stats_init(DESIGN, cfg.loops, cfg.interval);	/* a slot each */
	/* Every listener up front: a busy port fails here, before any thread.
	 * SO_REUSEPORT shares the port among our loops only (not with -c 1). */
	for (int i = 0; i < cfg.loops; i++) {
		loops[i].st = &slots[i];
		loops[i].lfd = net_listen(cfg.addr, cfg.port, cfg.loops > 1, 4096);
		if (loops[i].lfd < 0)
			die("listen %s:%d:", cfg.addr, cfg.port);
		cfg.port = net_local_port(loops[i].lfd);	/* resolves -p 0 */
	}
	sig_setup();		/* before the threads: they inherit the mask */
	for (int i = 0; i < cfg.loops; i++)
		if ((errno = pthread_create(&loops[i].thread, NULL, loop_thread, &loops[i])))
			die("pthread_create:");
	fprintf(stderr, "%s: listening on %s:%d, %d loops x %ld fds, %s mode, %ld us wait per request\n",
		prog_name, cfg.addr, cfg.port, cfg.loops, fd_limit - FD_RESERVE,
		cfg.mode, cfg.wait_us);

	stats_run(NULL);	/* the meter, until SIGINT/SIGTERM */
	for (int i = 0; i < cfg.loops; i++)
		pthread_join(loops[i].thread, NULL);
	report();
	return 0;
}
