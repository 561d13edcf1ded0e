/*
 * 07_prefork - 03's loop once per process: the parent binds the port and
 * forks -c children that inherit the listener (Apache's prefork, nginx's
 * workers). The children share nothing else: no locks, no queues, no
 * threads. Each waits on the listener with EPOLLEXCLUSIVE, so a new
 * connection wakes one child, not all of them (the "thundering herd").
 * The parent forwards SIGTERM, reaps, and sums the children's counters,
 * which live in MAP_SHARED memory.
 *
 * Why it reaches 1M: RLIMIT_NOFILE (20,000 on the development machine, a
 * hard limit) counts per fd table, and each process has its own: there,
 * -n 1000000 starts 57 children (51, plus 1/8 spare: the spread is not
 * even). A child that dies costs
 * only its connections: the parent says so at once, counts it in the JSON
 * ("children_died") and exits 1 instead of 0, so a benchmark notices.
 *
 * usage: server [-a ADDR] [-p PORT] [-c N] [-n CONNS] [-i SEC] [-L] [-h]
 * build: cc -std=gnu11 -O2 -pthread -Icommon -o 07_prefork/server 07_prefork/server.c common/[a-z]*.c -lm
 * test with: ./07_prefork/server -n 100000 & ./07_prefork/client -n 100000 -d 10
 * diff against: 03_epoll_throughput (its loop, once per child process)
 * sample output (stderr; then the JSON line on stdout at SIGTERM):
 *   07_prefork/server: listening on 127.0.0.1:8972, 2 children x 19968 fds
 *   conns 1000  rps 35342  accepted 1000  resets 0  errors 0  children 2/2
 *   {"design":"07_prefork",...,"procs":2,"children":[{"pid":4242,...}],"children_died":0}
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "c1m.h"

#define DESIGN		"07_prefork"
#define FD_RESERVE	32	/* per child: epoll fd, listener, stdio, slack */
#define MAX_CHILDREN	128	/* so the per-child JSON fits its one line */
#define MAX_EVENTS	512
#define BUF_SIZE	16384	/* per child, not per connection */
#define READ_BUDGET	16	/* reads per event before the next connection */
#define PAUSE_MS	100	/* accept pause after EMFILE */
#define TICK_NS		100000000ull	/* housekeeping every 100 ms */
#define SHARE_SLACK	64	/* conns above an even share, then stand back */
#define STOP_WAIT_S	2	/* after SIGTERM, then SIGKILL */

static struct {
	const char *addr;
	int port;
	double interval;
	int loops;		/* -c: children; 0 = size from -n and the CPU count */
	long conns;		/* -n: connections to make room for */
} cfg = { C1M_ADDR, C1M_PORT, 5, 0, 0 };

/* The per-connection state: the bytes read but not yet written back. */
struct conn {
	char *pend;		/* malloc'd, NULL when drained */
	uint32_t pend_len;	/* bytes in pend */
	uint32_t pend_off;	/* bytes of pend already sent */
};

struct loop {
	int ep, lfd;		/* the epoll set, and the listener in it */
	struct conn *conns;	/* one per fd of the table */
	struct stats_slot *st;
	uint64_t paused_until;	/* accept paused after EMFILE; 0 = listening */
	char buf[BUF_SIZE];
};

static struct loop loop;	/* each child's own copy, after fork */

/* The parent's view of child i; slots[i] (shared) holds its counters. */
static struct child {
	pid_t pid;
	char exit[16];		/* "exit 0", "signal 9"; "" while running */
	struct rusage ru;	/* its CPU and peak RSS, from wait4 */
} children[MAX_CHILDREN];
static struct stats_slot *slots;
static int alive, died;
static long rss_kb;		/* the children's peak RSS, summed */

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

	free(c->pend);
	memset(c, 0, sizeof(*c));
	close(fd);		/* also leaves the epoll set */
	stats_conn_closed(l->st, err);
}

/*
 * Woken first, a child would take the whole backlog, and the first child
 * all the connections. So, like nginx's accept_disabled, a child holding
 * more than an even share of all the children's connections (the slots are
 * shared memory) leaves the listener to the others until its next tick.
 */
static void on_accept(struct loop *l)
{
	if (atomic_load(&l->st->conns) > stats_conns() / cfg.loops + SHARE_SLACK) {
		if (!l->paused_until)
			epoll_ctl(l->ep, EPOLL_CTL_DEL, l->lfd, NULL);
		l->paused_until = clock_ns();	/* accept_resume, at the next tick */
		return;
	}
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
					warnx_("accept at %ld conns of this child: paused:",
					       atomic_load(&l->st->conns));
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

/* After a pause: put the listener back in the set (EXCLUSIVE: ADD only). */
static void accept_resume(struct loop *l)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = l->lfd };

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

static void on_readable(struct loop *l, int fd)
{
	struct conn *c = &l->conns[fd];

	for (int i = 0; i < READ_BUDGET; i++) {
		ssize_t n = recv(fd, l->buf, sizeof(l->buf), 0), w;

		if (n == 0) {
			conn_close(l, fd, 0);		/* EOF: all echoed */
			return;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno != EAGAIN)
				conn_close(l, fd, errno);	/* reset, ... */
			return;
		}
		w = send_some(fd, l->buf, (size_t)n);	/* the echo */
		if (w < 0) {
			conn_close(l, fd, errno);
			return;
		}
		atomic_fetch_add_explicit(&l->st->bytes, (uint64_t)w, memory_order_relaxed);
		if (w < n) {
			/* A short write: park the rest, stop reading this one
			 * and wait until it can take more. */
			c->pend = malloc((size_t)(n - w));
			if (!c->pend) {
				conn_close(l, fd, ENOMEM);
				return;
			}
			memcpy(c->pend, l->buf + w, (size_t)(n - w));
			c->pend_len = (uint32_t)(n - w);
			c->pend_off = 0;
			watch(l, fd, EPOLLOUT);
			return;
		}
		if ((size_t)n < sizeof(l->buf))
			return;		/* the socket is drained */
	}
	/* Budget spent: level-triggered epoll reports the rest next time. */
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
	c->pend_off += (uint32_t)w;
	if (c->pend_off < c->pend_len)
		return;		/* still short: wait for the next EPOLLOUT */
	free(c->pend);
	memset(c, 0, sizeof(*c));
	watch(l, fd, EPOLLIN);	/* drained: read it again */
}

/* ---- the loop: one per child ---- */

static void loop_run(struct loop *l)
{
	struct epoll_event ev[MAX_EVENTS];
	uint64_t next_tick = clock_ns() + TICK_NS;

	while (!atomic_load_explicit(&sig_stop, memory_order_relaxed)) {
		int n = epoll_wait(l->ep, ev, MAX_EVENTS, TICK_NS / 1000000);

		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			if (fd == l->lfd)	/* new connections: one more event */
				on_accept(l);
			else if (ev[i].events & EPOLLOUT)
				on_writable(l, fd);
			else
				on_readable(l, fd);
		}
		if (clock_ns() >= next_tick) {	/* housekeeping */
			accept_resume(l);
			/* EPOLLEXCLUSIVE wakes one child per connection; a full
			 * one leaves it in the backlog and nobody else hears
			 * of it. So each child also looks for itself. */
			if (!l->paused_until)
				on_accept(l);
			sig_wait(0);		/* the parent's SIGTERM? */
			next_tick = clock_ns() + TICK_NS;
		}
	}
}

/* A child: its own epoll set over the inherited listener and conn table. */
static __attribute__((noreturn)) void child_run(struct loop *l, int id, pid_t parent)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = l->lfd };

	prctl(PR_SET_PDEATHSIG, SIGTERM);	/* the parent dies: so do we */
	if (getppid() != parent)
		_exit(1);			/* it died before prctl */
	l->st = &slots[id];
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	if (l->ep < 0 || epoll_ctl(l->ep, EPOLL_CTL_ADD, l->lfd, &ev) < 0)
		die("child %d: setup:", id);
	loop_run(l);		/* until SIGTERM (blocked: sig_wait sees it) */
	_exit(0);		/* the kernel closes every connection */
}

/* ---- the parent: reap, stop, report ---- */

/* stats_run()'s tick: reap the children that ended; 1 once none is left. */
static int reap(void)
{
	for (int i = 0, status; i < cfg.loops; i++) {
		struct child *c = &children[i];
		int sig;

		if (c->exit[0] || wait4(c->pid, &status, WNOHANG, &c->ru) <= 0)
			continue;		/* reaped before, or running */
		sig = WIFSIGNALED(status);
		snprintf(c->exit, sizeof(c->exit), sig ? "signal %d" : "exit %d",
			 sig ? WTERMSIG(status) : WEXITSTATUS(status));
		rss_kb += c->ru.ru_maxrss;
		alive--;
		if (atomic_load(&sig_stop) && !strcmp(c->exit, "exit 0"))
			continue;		/* stopped as asked */
		died++;			/* ended before the stop, or not cleanly */
		atomic_store(&slots[i].conns, 0);	/* the kernel closed them */
		warnx_("child %d (pid %d) died: %s; %d of %d children left",
		       i, (int)c->pid, c->exit, alive, cfg.loops);
	}
	return alive == 0;
}

/* Forward the stop to every child (SIGKILL after STOP_WAIT_S); reap them. */
static void stop_children(void)
{
	uint64_t kill_at = clock_ns() + STOP_WAIT_S * 1000000000ull;

	for (int sig = SIGTERM; !reap(); usleep(10000)) {
		for (int i = 0; sig && i < cfg.loops; i++)
			if (!children[i].exit[0])
				kill(children[i].pid, sig);
		sig = 0;
		if (kill_at && clock_ns() > kill_at) {
			warnx_("%d children still running %d s after SIGTERM: SIGKILL",
			       alive, STOP_WAIT_S);
			sig = SIGKILL;
			kill_at = 0;
		}
	}
}

static void children_line(FILE *f)
{
	fprintf(f, "  children %d/%d", alive, cfg.loops);
}

/* The result: one JSON line on stdout, an object per child in it. */
static void report(void)
{
	struct json j;

	stats_set_children(rss_kb);	/* their RSS and CPU count in the totals */
	json_begin(&j);
	stats_json(&j);
	json_i64(&j, "procs", cfg.loops);
	/* Accepts per child: how evenly the kernel spread the connections. */
	json_arr(&j, "accepts_per_loop");
	for (int i = 0; i < cfg.loops; i++)
		json_u64(&j, NULL, atomic_load(&slots[i].accepted));
	json_arr_end(&j);
	json_arr(&j, "children");
	for (int i = 0; i < cfg.loops; i++) {
		const struct rusage *ru = &children[i].ru;

		json_arr_obj(&j);
		json_i64(&j, "pid", children[i].pid);
		json_u64(&j, "accepted", atomic_load(&slots[i].accepted));
		json_u64(&j, "requests", atomic_load(&slots[i].bytes) / FRAME_SIZE);
		json_u64(&j, "errors", atomic_load(&slots[i].errors));
		json_num(&j, "cpu_s", (double)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) +
				      (ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1e6);
		json_i64(&j, "rss_kb", ru->ru_maxrss);
		json_str(&j, "exit", children[i].exit[0] ? children[i].exit : "running");
		json_end(&j);
	}
	json_arr_end(&j);
	json_i64(&j, "children_died", died);
	json_end(&j);
	json_print(&j, stdout);
}

/* ---- main ---- */

static void usage(void)
{
	printf("%s: a parent forks -c children sharing its listener, one epoll loop each\n\n"
	       "%s\n\n"
	       "  -a ADDR   address to listen on (default %s; 0.0.0.0 is opt-in)\n"
	       "  -p PORT   port (default %d; 0 picks a free one)\n"
	       "  -c N      child processes (default: the CPU count, or enough fd tables\n"
	       "            for -n plus 1/8; at most %d)\n"
	       "  -n CONNS  connections to make room for; sizes the default -c\n"
	       "  -i SEC    stats interval on stderr (default 5)\n"
	       "  -L        print this design's limits as one JSON line, for run.sh\n"
	       "  -h        this help\n\n"
	       "Echoes every byte back. Prints \"listening on ADDR:PORT\" on stderr when\n"
	       "ready; on SIGINT/SIGTERM one JSON line on stdout, then exits 0 (1 if a\n"
	       "child died). Exit 1: cannot listen; exit 2: bad usage.\n",
	       prog_name, arg_synopsis, C1M_ADDR, C1M_PORT, MAX_CHILDREN);
}

static void parse(int argc, char **argv)
{
	static const struct limits lim = { .design = DESIGN, .fd_tables = "many",
		.fd_reserve = FD_RESERVE, .max_loops = MAX_CHILDREN, .target = 1000000 };
	int o;

	arg_synopsis = "usage: server [-a ADDR] [-p PORT] [-c N] [-n CONNS] [-i SEC] [-L] [-h]";
	while ((o = getopt(argc, argv, ":a:p:c:n:i:Lh")) != -1) {
		switch (o) {
		case 'a': arg_ipv4(o, optarg); cfg.addr = optarg; break;
		case 'p': cfg.port = (int)arg_long(o, optarg, 0, 65535); break;
		case 'c': cfg.loops = (int)arg_long(o, optarg, 1, 4096); break;
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
	struct loop *l = &loop;
	long fd_limit;
	pid_t parent = getpid();

	prog_init(argv[0]);
	parse(argc, argv);
	fd_limit = fd_size_loops(cfg.conns, FD_RESERVE, &cfg.loops);	/* exit 2: no fit */
	if (cfg.loops > MAX_CHILDREN)
		arg_usage_error("-c %d: at most %d children (%ld connections)", cfg.loops,
				MAX_CHILDREN, MAX_CHILDREN * (fd_limit - FD_RESERVE));
	sig_setup();		/* before fork: children inherit the blocked mask */
	l->lfd = net_listen(cfg.addr, cfg.port, 0, 4096);
	if (l->lfd < 0)
		die("listen %s:%d:", cfg.addr, cfg.port);
	cfg.port = net_local_port(l->lfd);	/* resolves -p 0 */
	slots = stats_init(DESIGN, cfg.loops, cfg.interval);	/* MAP_SHARED */
	l->conns = calloc((size_t)fd_limit, sizeof(*l->conns));	/* copied by fork */
	if (!l->conns)
		die("setup:");
	for (int i = 0; i < cfg.loops; i++, alive++) {
		children[i].pid = fork();
		if (children[i].pid < 0)
			die("fork child %d:", i);	/* the rest get PDEATHSIG */
		if (children[i].pid == 0)
			child_run(l, i, parent);
	}
	close(l->lfd);		/* the children hold it now */
	stats_set_line(children_line);
	fprintf(stderr, "%s: listening on %s:%d, %d children x %ld fds\n",
		prog_name, cfg.addr, cfg.port, cfg.loops, fd_limit - FD_RESERVE);

	stats_run(reap);	/* until SIGINT/SIGTERM, or no child is left */
	stop_children();
	report();
	return died ? 1 : 0;
}
