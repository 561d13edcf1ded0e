/*
 * 10_io_bound_epoll - the multiple-epoll server of 06, but every request
 * waits: before its echo, each 8-byte request waits -w USEC (default
 * 10000 = 10 ms), standing in for a disk read or a call to another
 * service. Two ways to wait, chosen by -m:
 *
 * -m block (default, as the original): usleep() in the event loop. While
 * a loop sleeps it serves nobody, so a loop does at most 1 s / 10 ms =
 * 100 requests a second, however many connections it holds, and each
 * request queues behind every other request of its loop:
 *	rps     = loops x 1e6 / USEC           (2 loops: 200 rps)
 *	latency = conns per loop x USEC        (100 conns: 50 x 10 ms = 0.5 s)
 * Measured (2 loops, -w 10000, 2-core box, preliminary): 100, 1000 and
 * 5000 connections all give 195 rps; median latency 0.50 s, 5.2 s and
 * 25.8 s. Over a 10 s run at 100 connections the server used 0.2 s of
 * CPU: the loops sit in nanosleep 98% of the time while the cores idle.
 * The stall is not a lack of CPU, it is the loop's one thread being
 * asleep; more loops (-c) only multiply the 100. (The p99, 0.99 s at 100
 * connections, is above the formula: SO_REUSEPORT hashes connections to
 * loops, not evenly, and at the start every request arrives at once.)
 *
 * -m timer: how an event loop waits. The request is parked: the loop
 * notes when its wait ends and goes on serving other connections; a
 * timerfd in the same epoll set wakes the loop when the oldest wait is
 * due, and the request is echoed then. Every wait here has the same
 * length, so waits end in the order they began and the timer list is a
 * FIFO (a ring of fd_limit entries; a connection parks one request at a
 * time). A parked connection leaves the epoll set until its reply, so
 * nothing of it is read meanwhile. Waits overlap, as with a thread per
 * connection (11), without the threads: conns / USEC requests a second
 * until the CPU is busy. Measured: 100 connections 9,400 rps, p99 12 ms;
 * 1000 connections 52,000 rps, p99 33 ms; 5000 connections 48,000 rps,
 * p99 0.19 s, in 2.5 MB (the cores are the limit now).
 *
 * Frames: a request counts only whole, so per connection the loop keeps
 * the frame being assembled and how much of the reply is out (10 bytes,
 * common/frame.c; shared with 12_cpu_bound_epoll).
 *
 * usage: server [-a ADDR] [-p PORT] [-c N] [-n CONNS] [-w USEC] [-m MODE] [-i SEC] [-h]
 *
 * test with:
 *   ./10_io_bound_epoll/server -m timer &
 *   ./10_io_bound_epoll/client -n 100 -d 5
 *
 * sample output, -m block (stderr; then the JSON line on stdout at SIGTERM):
 *   10_io_bound_epoll/server: listening on 127.0.0.1:8972, 2 loops x 19968 fds,
 *     block mode, 10000 us wait per request
 *   conns 100  rps 195  accepted 100  resets 0  errors 0
 *   {"design":"10_io_bound_epoll","conns_peak":100,"requests":2052,"rps":192.7,...,
 *    "work":2052,...,"cpu_user_s":0.02,"cpu_sys_s":0.16,"loops":2,"mode":"block",
 *    "wait_us":10000,"cap_rps":200}
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "c1m.h"
#include "frame.h"

#define FD_RESERVE	32	/* per table: epoll fd, timerfd, stdio, slack */
#define MAX_EVENTS	512

static struct srv_cfg cfg;
static long wait_us = 10000;
static const char *mode = "block";

/* The per-connection state: 10 bytes, in a per-loop array indexed by fd. */
struct conn {
	struct frame_conn frame;	/* the request being read, then echoed */
};

/* A parked request: its connection, and when its wait is over. */
struct parked {
	uint64_t due;		/* clock_ns() */
	int fd;
};

struct loop {
	pthread_t thread;
	struct srv_acceptor acc;	/* this loop's listener and epoll set */
	struct conn *conns;		/* cfg.fd_limit entries */
	struct frame_work work;		/* frame_sleep (block) or park (timer) */
	int tfd;			/* timer: fires when the oldest wait is due */
	struct parked *q;		/* timer: a FIFO ring of cfg.fd_limit */
	long head, len;
};

static struct loop *loops;
static int *lfds;

/* ---- timer mode: waiting without blocking ---- */

/* Set the timerfd to go off at `due` (absolute clock_ns), or disarm (0). */
static void arm(struct loop *l, uint64_t due)
{
	struct itimerspec t = { .it_value = { (time_t)(due / 1000000000),
					      (long)(due % 1000000000) } };

	if (timerfd_settime(l->tfd, TFD_TIMER_ABSTIME, &t, NULL) < 0)
		die("loop %d: timerfd_settime:", l->acc.id);
}

/* The work in timer mode: note when the wait ends, serve others meanwhile. */
static int park(const struct frame_work *w, int fd, struct frame_conn *c,
		struct stats_slot *st)
{
	struct loop *l = w->arg;
	struct parked *p = &l->q[(l->head + l->len++) % cfg.fd_limit];

	(void)c;
	p->due = clock_ns() + (uint64_t)w->usec * 1000;
	p->fd = fd;
	if (l->len == 1)
		arm(l, p->due);	/* else an earlier wait is armed already */
	atomic_fetch_add_explicit(&st->work, 1, memory_order_relaxed);
	return FRAME_PARKED;	/* frame_event takes fd out of the epoll set */
}

/* The timerfd fired: echo every request whose wait is over, re-arm. */
static void on_timer(struct loop *l)
{
	uint64_t expirations, now = clock_ns();

	if (read(l->tfd, &expirations, sizeof(expirations)) < 0)
		return;		/* EAGAIN: nothing due after all */
	while (l->len && l->q[l->head].due <= now) {
		int fd = l->q[l->head].fd;

		l->head = (l->head + 1) % cfg.fd_limit;
		l->len--;
		frame_resume(l->acc.ep, fd, &l->conns[fd].frame, l->acc.st);
	}
	arm(l, l->len ? l->q[l->head].due : 0);
}

static void timer_init(struct loop *l)
{
	struct epoll_event ev = { .events = EPOLLIN };

	l->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	l->q = calloc((size_t)cfg.fd_limit, sizeof(*l->q));
	if (l->tfd < 0 || !l->q)
		die("loop %d: timerfd:", l->acc.id);
	ev.data.fd = l->tfd;
	if (epoll_ctl(l->acc.ep, EPOLL_CTL_ADD, l->tfd, &ev) < 0)
		die("loop %d: epoll_ctl timerfd:", l->acc.id);
	l->work.fn = park;
	l->work.arg = l;
}

/* ---- the loop ---- */

static void *loop_run(void *arg)
{
	struct loop *l = arg;
	struct epoll_event ev[MAX_EVENTS];

	/* As 06: our own fd table, epoll set and listener; and the timerfd. */
	srv_loop_begin(&l->acc, lfds, cfg.loops);
	l->tfd = -1;
	if (strcmp(mode, "timer") == 0)
		timer_init(l);

	while (!atomic_load_explicit(&sig_stop, memory_order_relaxed)) {
		int n = epoll_wait(l->acc.ep, ev, MAX_EVENTS, 100);

		/* In block mode each event may sleep: look at sig_stop between. */
		for (int i = 0; i < n && !atomic_load(&sig_stop); i++) {
			int fd = ev[i].data.fd;

			if (fd == l->acc.lfd)
				srv_accept_ready(&l->acc);
			else if (fd == l->tfd)
				on_timer(l);
			else
				frame_event(l->acc.ep, fd, ev[i].events, &l->conns[fd].frame,
					    &l->work, l->acc.st);
		}
		srv_accept_resume(&l->acc);	/* after an EMFILE pause */
	}
	return NULL;
}

/* ---- main ---- */

static void report(struct json *j)
{
	json_i64(j, "loops", cfg.loops);
	json_str(j, "mode", mode);
	json_i64(j, "wait_us", wait_us);
	if (strcmp(mode, "block") == 0 && wait_us > 0)
		json_num(j, "cap_rps", cfg.loops * 1e6 / (double)wait_us);
}

int main(int argc, char **argv)
{
	static const struct srv_flag flags[] = {
		FRAME_FLAG_WAIT(&wait_us, ""),
		{ .opt = 'm', .arg = "MODE",
		  .help = "block: usleep in the loop (default), or timer: park on a timerfd",
		  .choices = "block|timer", .str = &mode },
		{ 0 },
	};
	static const struct srv_design design = {
		.name = "10_io_bound_epoll",
		.summary = "SO_REUSEPORT epoll loops; each request waits -w USEC (block or timer)",
		.loops_help = "epoll loops (default: the CPU count, more if -n needs them)",
		.conns_help = "connections to make room for; sizes the default -c",
		.flags = flags,
	};
	struct stats_slot *slots;

	srv_parse(argc, argv, &design, &cfg);
	slots = srv_start_loops(&cfg, design.name, FD_RESERVE, &lfds);
	loops = calloc((size_t)cfg.loops, sizeof(*loops));
	if (!loops)
		die("calloc:");
	for (int i = 0; i < cfg.loops; i++) {
		struct loop *l = &loops[i];

		l->acc = (struct srv_acceptor){ .id = i, .lfd = lfds[i], .st = &slots[i] };
		l->work = (struct frame_work){ .fn = frame_sleep, .usec = wait_us };
		l->conns = calloc((size_t)cfg.fd_limit, sizeof(struct conn));
		if (!l->conns)
			die("calloc:");
		if ((errno = pthread_create(&l->thread, NULL, loop_run, l)))
			die("pthread_create:");
	}
	srv_listening(&cfg, "%d loops x %ld fds, %s mode, %ld us wait per request",
		      cfg.loops, cfg.fd_limit - FD_RESERVE, mode, wait_us);

	stats_run(NULL);	/* until SIGINT/SIGTERM */
	for (int i = 0; i < cfg.loops; i++)
		pthread_join(loops[i].thread, NULL);
	srv_report(report);
	return 0;
}
