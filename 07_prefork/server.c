/*
 * 07_prefork - the parent binds the port, then forks -c children that
 * inherit the listening socket; each child is an acceptor and one epoll
 * loop, a whole server in its own process.
 *
 * The design: the oldest way to use many cores (Apache's prefork, nginx's
 * workers). The children share nothing but the listener: no locks, no
 * queues, no threads. The kernel decides which child takes each new
 * connection: all of them wait on the one listener in their epoll sets,
 * with EPOLLEXCLUSIVE so a new connection wakes one child, not all of them
 * (the "thundering herd"). Left alone, the child woken first would take
 * the whole backlog, so a child holding more than an even share stands
 * back for 10 ms (nginx does the like). The parent only forwards SIGTERM,
 * reaps, and sums the children's counters, which live in MAP_SHARED
 * memory (so the children can see each other's counts too).
 *
 * Why it reaches 1M here: RLIMIT_NOFILE (20,000 here, not raisable) counts
 * per fd table, and every process has its own. So 1M connections need
 * 1M / 19,968 = 51 children; with -n the default is that plus 1/8 spare,
 * as connections are not spread perfectly evenly (a full child stops
 * accepting for 100 ms and the others take its share).
 * -n 1000000 starts 57 children. Per connection a child keeps 16 bytes
 * (struct echo_conn, in a flat array indexed by fd) plus the kernel's
 * ~4 KB socket.
 *
 * A child that dies (OOM killer, a bug, kill -9) costs its connections,
 * not the server: the others keep serving. The parent says so on stderr
 * at once, lists it in the JSON ("children", "children_died"), and exits
 * 1 instead of 0 at the end, so a benchmark script notices.
 *
 * usage: server [-a ADDR] [-p PORT] [-c N] [-n CONNS] [-i SEC] [-h]
 *
 * test with:
 *   ./07_prefork/server -n 100000 &
 *   ./07_prefork/client -n 100000 -d 10
 *
 * sample output (stderr; then the JSON line on stdout at SIGTERM):
 *   07_prefork/server: listening on 127.0.0.1:8972, 2 children x 19968 fds
 *   conns 1000  rps 35342  accepted 1000  resets 0  errors 0  children 2/2
 *   {"design":"07_prefork",...,"children_died":0,"children":[{"pid":4242,
 *    "accepted":507,"requests":105113,"errors":0,"cpu_s":1.9,
 *    "rss_kb":2204,"exit":"exit 0"},...]}
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "c1m.h"

#define FD_RESERVE	32	/* per child: epoll fd, signalfd, stdio, slack */
#define MAX_CHILDREN	128	/* so the per-child JSON fits its one line */
#define MAX_EVENTS	512
#define BUF_SIZE	16384	/* per child, not per connection */
#define STOP_WAIT_S	2.0	/* then SIGKILL */
#define LOOK_NS		100000000ull	/* accept() unasked this often */
#define SHARE_SLACK	64		/* conns above an even share, then yield */
#define YIELD_NS	10000000ull	/* and stop accepting this long */

static struct srv_cfg cfg;
static struct stats_slot *slots;	/* slots[i]: child i's counters */

struct child {
	pid_t pid;
	int reaped, died;	/* died: ended before the stop, or not cleanly */
	int status;		/* from wait4 */
	struct rusage ru;	/* its CPU and peak RSS, from wait4 */
};

static struct child *children;
static int alive;

/* ---- a child: an acceptor and one epoll loop ---- */

/*
 * Woken first, a child would take the whole backlog, and the first child
 * all the connections. So, like nginx's accept_disabled, a child holding
 * more than an even share of all the children's connections (the slots
 * are shared memory) leaves the listener alone for a moment.
 */
static int yield_accept(struct srv_acceptor *a)
{
	if (atomic_load(&a->st->conns) <= stats_conns() / cfg.loops + SHARE_SLACK)
		return 0;
	if (!a->paused_until)
		epoll_ctl(a->ep, EPOLL_CTL_DEL, a->lfd, NULL);
	a->paused_until = clock_ns() + YIELD_NS;	/* srv_accept_resume: back */
	return 1;
}

static __attribute__((noreturn)) void child_run(int id, int lfd, pid_t parent)
{
	struct srv_acceptor acc = { .id = id, .lfd = lfd, .st = &slots[id],
				    .listen_events = EPOLLEXCLUSIVE };
	struct echo_conn *conns = calloc((size_t)cfg.fd_limit, sizeof(*conns));
	struct epoll_event ev[MAX_EVENTS];
	static char buf[BUF_SIZE];
	uint64_t last_look = 0;
	sigset_t stop_sigs;
	int sfd, stop = 0;

	prctl(PR_SET_PDEATHSIG, SIGTERM);	/* the parent dies: so do we */
	if (getppid() != parent)
		_exit(1);
	/* SIGINT and SIGTERM are blocked (sig_setup): get the blocked set and
	 * read them from a signalfd in the loop. */
	sigprocmask(SIG_BLOCK, NULL, &stop_sigs);
	sfd = signalfd(-1, &stop_sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	acc.ep = epoll_create1(EPOLL_CLOEXEC);
	if (!conns || sfd < 0 || acc.ep < 0 ||
	    epoll_ctl(acc.ep, EPOLL_CTL_ADD, sfd, &(struct epoll_event){ EPOLLIN, { .fd = sfd } }))
		die("child %d: setup:", id);
	srv_accept_start(&acc);

	while (!stop) {
		int n = epoll_wait(acc.ep, ev, MAX_EVENTS, 100);

		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			if (fd == lfd) {
				if (!yield_accept(&acc))
					srv_accept_ready(&acc);
			} else if (fd == sfd) {
				stop = 1;
			} else {
				echo_event(acc.ep, fd, ev[i].events, &conns[fd], buf,
					   sizeof(buf), acc.st);
			}
		}
		srv_accept_resume(&acc);	/* after an EMFILE pause */
		/* EPOLLEXCLUSIVE wakes one child per new connection; if that
		 * child is full it leaves the connection in the backlog and
		 * nobody else hears of it. So every child also looks itself. */
		if (!acc.paused_until && clock_ns() - last_look > LOOK_NS &&
		    !yield_accept(&acc)) {
			srv_accept_ready(&acc);
			last_look = clock_ns();
		}
	}
	_exit(0);	/* the kernel closes every connection */
}

/* ---- the parent: fork, reap, report ---- */

static void fork_children(int lfd)
{
	pid_t parent = getpid();

	for (int i = 0; i < cfg.loops; i++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork child %d:", i);	/* the rest get PDEATHSIG */
		if (pid == 0)
			child_run(i, lfd, parent);
		children[i].pid = pid;
		alive++;
	}
	close(lfd);	/* the children hold it now */
}

static const char *how(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "exit %d", WEXITSTATUS(status));
	return buf;
}

static void reaped(pid_t pid, int status, const struct rusage *ru)
{
	char s[32];

	for (int i = 0; i < cfg.loops; i++) {
		struct child *c = &children[i];

		if (c->pid != pid)
			continue;
		*c = (struct child){ pid, 1, 0, status, *ru };
		alive--;
		if (atomic_load(&sig_stop) && WIFEXITED(status) && !WEXITSTATUS(status))
			return;		/* stopped as asked */
		c->died = 1;
		atomic_store(&slots[i].conns, 0);	/* the kernel closed them */
		warnx_("child %d (pid %d) died: %s; %d of %d children left", i,
		       (int)pid, how(status, s, sizeof(s)), alive, cfg.loops);
	}
}

/* stats_run()'s tick: reap children that ended; stop once none is left. */
static int reap(void)
{
	struct rusage ru;
	int status;
	pid_t pid;

	while ((pid = wait4(-1, &status, WNOHANG, &ru)) > 0)
		reaped(pid, status, &ru);
	return alive == 0;
}

/* Forward the stop to every child, then reap them all. */
static void stop_children(void)
{
	uint64_t t0 = clock_ns();
	int sig = SIGTERM;

	for (;;) {
		for (int i = 0; i < cfg.loops; i++)
			if (!children[i].reaped && sig)
				kill(children[i].pid, sig);
		sig = 0;
		if (reap())
			return;
		if ((clock_ns() - t0) / 1e9 > STOP_WAIT_S && t0) {
			warnx_("%d children still running %.0f s after SIGTERM: "
			       "SIGKILL", alive, STOP_WAIT_S);
			sig = SIGKILL;
			t0 = 0;
		}
		nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
	}
}

static void children_line(FILE *f)
{
	fprintf(f, "  children %d/%d", alive, cfg.loops);
}

static void report(struct json *j)
{
	int died = 0;
	char s[32];

	json_i64(j, "procs", cfg.loops);
	json_arr(j, "children");
	for (int i = 0; i < cfg.loops; i++) {
		const struct child *c = &children[i];
		const struct rusage *ru = &c->ru;

		died += c->died;
		json_arr_obj(j);
		json_i64(j, "pid", c->pid);
		json_u64(j, "accepted", atomic_load(&slots[i].accepted));
		json_u64(j, "requests", atomic_load(&slots[i].bytes) / FRAME_SIZE);
		json_u64(j, "errors", atomic_load(&slots[i].errors));
		json_num(j, "cpu_s", (double)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) +
				     (ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1e6);
		json_i64(j, "rss_kb", ru->ru_maxrss);
		json_str(j, "exit", c->reaped ? how(c->status, s, sizeof(s)) : "running");
		json_end(j);
	}
	json_arr_end(j);
	json_i64(j, "children_died", died);
}

int main(int argc, char **argv)
{
	static const struct srv_design design = {
		.name = "07_prefork",
		.summary = "a parent forks -c children sharing its listener, one epoll loop each",
		.loops_help = "child processes (default: the CPU count, or enough fd tables "
			      "for -n plus 1/8)",
		.conns_help = "connections to make room for; sizes the default -c",
	};
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN), rss = 0;
	int lfd, died = 0;

	srv_parse(argc, argv, &design, &cfg);
	if (!cfg.loops && cfg.conns)
		cfg.loops = fd_loops_for(cfg.conns + cfg.conns / 8,
					 fd_raise_limit(cfg.conns + FD_RESERVE), FD_RESERVE,
					 ncpu > 0 ? (int)ncpu : 1);
	srv_size(&cfg, FD_RESERVE);	/* exit 2 if -n does not fit -c tables */
	if (cfg.loops > MAX_CHILDREN)
		arg_usage_error("-c %d: at most %d children (%ld connections)", cfg.loops,
				MAX_CHILDREN, MAX_CHILDREN * (cfg.fd_limit - FD_RESERVE));
	sig_setup();		/* before fork: children inherit the blocked stop signals */
	srv_listen(&cfg, 1, &lfd);
	slots = stats_init(design.name, cfg.loops, cfg.interval);	/* MAP_SHARED */
	children = calloc((size_t)cfg.loops, sizeof(*children));
	if (!children)
		die("calloc:");
	fork_children(lfd);
	stats_set_line(children_line);
	srv_listening(&cfg, "%d children x %ld fds", cfg.loops, cfg.fd_limit - FD_RESERVE);

	stats_run(reap);	/* until SIGINT/SIGTERM, or no child is left */
	stop_children();
	for (int i = 0; i < cfg.loops; i++) {
		rss += children[i].ru.ru_maxrss;
		died += children[i].died;
	}
	stats_set_children(rss);
	srv_report(report);
	return died ? 1 : 0;
}
