/*
 * 01_thread_per_conn - one thread per connection, blocking I/O, echo.
 *
 * The design: an acceptor thread accepts, and every connection gets a
 * thread of its own that loops on recv() and send() until EOF. It is the
 * simplest server there is (Go's goroutine-per-connection, in C), and the
 * code is just that loop: see common/threadconn.c, which 09 shares.
 *
 * What it costs, per connection, when the connections are idle:
 *   - the thread's stack: 16 KiB asked for here instead of glibc's 8 MiB
 *     (pthread_attr_setstacksize), of which only the touched pages become
 *     resident, plus a guard page. The read buffer is 1 KiB on that stack.
 *   - in the kernel: a 16 KiB kernel stack and a task_struct per thread,
 *     ~31 KB per thread in all, plus the ~4 KB socket. RSS does not show
 *     the kernel's part; MemAvailable and KernelStack in /proc/meminfo do.
 *   - a pid (kernel.pid_max) and two memory maps (vm.max_map_count).
 * Measured here at 10,000 and 19,900 connections: 8.3 KB of RSS per
 * connection (rss_kb_per_conn), +16.0 KB of KernelStack per thread, and
 * 35-40 KB less MemAvailable per connection, counting the client's socket.
 * And per request, two context switches (the thread wakes, then sleeps).
 *
 * Why it does not reach 1M here: every thread shares the process's one fd
 * table, and RLIMIT_NOFILE is 20,000 here with no way to raise it. So the
 * ceiling is ~19,968 connections, whatever memory is left; 06 and 07 get
 * around it with a table per loop or per process, which a thread per
 * connection cannot. Where the fd limit can be raised, the next walls are
 * pid_max (32,768 by default), max_map_count / 2 and then memory: ~430K
 * such threads fit in 18 GB after raising all three. The server works out
 * its ceiling at start, says which limit sets it, and refuses an -n beyond
 * it (exit 2) instead of finding out by crashing. Without -n it serves
 * until the fd table is full, then pauses accepting until fds free up.
 *
 * usage: server [-a ADDR] [-p PORT] [-n CONNS] [-i SEC] [-h]
 *
 * test with:
 *   ./01_thread_per_conn/server &
 *   ./01_thread_per_conn/client -n 10000 -d 10
 *
 * sample output (stderr; then the JSON line on stdout at SIGTERM):
 *   01_thread_per_conn/server: listening on 127.0.0.1:8972, a thread per
 *     connection, 16 KiB stacks; ceiling 19968 conns, set by the fd table
 *   conns 10000  rps 200  accepted 10000  resets 0  errors 0  threads 10000  rss_kb 84456
 *   {"design":"01_thread_per_conn","conns_peak":10000,...,"threads_peak":10000,...}
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/resource.h>

#include "c1m.h"
#include "threadconn.h"

#define STACK_SIZE	(16 << 10)	/* glibc's minimum on x86-64 */
#define BUF_SIZE	1024		/* on that stack: 8-byte frames */
#define FD_RESERVE	32		/* listener, stdio, /proc reads */
#define CONN_COST_KB	35		/* ~31 KB per thread + ~4 KB socket */
#define NSLOTS		16		/* stats slots, by fd: spreads the atomics */

static struct srv_cfg cfg;
static struct tc_server tc;
static struct limit {
	const char *what;
	long conns;
} top;				/* the ceiling, from the lowest limit */
static long rss_base_kb;

/* ---- the ceiling, said up front ---- */

static int by_conns(const void *a, const void *b)
{
	const struct limit *x = a, *y = b;

	return (x->conns > y->conns) - (x->conns < y->conns);
}

/* Every limit on how many connections fit, the lowest first. */
static int limits(struct limit *l)
{
	long maps = proc_file_long("/proc/sys/vm/max_map_count", "");
	long avail = proc_file_long("/proc/meminfo", "MemAvailable:");
	struct rlimit rl;
	int n = 0;

	l[n++] = (struct limit){ "the fd table (RLIMIT_NOFILE, one per process)",
				 cfg.fd_limit - FD_RESERVE };
	l[n++] = (struct limit){ "kernel.pid_max (a pid per thread)",
				 proc_file_long("/proc/sys/kernel/pid_max", "") };
	l[n++] = (struct limit){ "kernel.threads-max",
				 proc_file_long("/proc/sys/kernel/threads-max", "") };
	l[n++] = (struct limit){ "vm.max_map_count / 2 (a stack and its guard)",
				 maps < 0 ? -1 : maps / 2 };
	l[n++] = (struct limit){ "MemAvailable / ~35 KB",
				 avail < 0 ? -1 : avail / CONN_COST_KB };
	if (getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		l[n++] = (struct limit){ "RLIMIT_NPROC (threads count)", (long)rl.rlim_cur };
	for (int i = 0; i < n; i++)
		if (l[i].conns < 0)	/* unreadable: not a limit we know */
			l[i--] = l[--n];
	qsort(l, (size_t)n, sizeof(*l), by_conns);
	return n;
}

/* The ceiling; -n beyond it is refused now, not found by crashing later. */
static struct limit ceiling(void)
{
	struct limit l[8];

	limits(l);
	if (cfg.conns > l[0].conns)
		arg_usage_error("-n %ld is beyond this design's ceiling here of %ld "
				"connections, set by %s (next: %s, %ld); use 06 or 07",
				cfg.conns, l[0].conns, l[0].what, l[1].what, l[1].conns);
	return l[0];
}

/* ---- main ---- */

static void report(struct json *j)
{
	long peak = tc_threads_peak();

	tc_json(j);
	json_i64(j, "ceiling", top.conns);
	json_str(j, "ceiling_by", top.what);
	json_num(j, "rss_kb_per_conn",
		 peak ? (double)(proc_rss_peak_kb() - rss_base_kb) / (double)peak : 0);
}

int main(int argc, char **argv)
{
	static const struct srv_design design = {
		.name = "01_thread_per_conn",
		.summary = "one thread per connection, 16 KiB stacks, blocking I/O",
		.conns_help = "connections to make room for (exit 2 beyond the ceiling)",
	};
	int lfd;

	srv_parse(argc, argv, &design, &cfg);
	cfg.fd_limit = fd_raise_limit(cfg.conns ? cfg.conns + FD_RESERVE : 1 << 20);
	top = ceiling();
	sig_setup();
	srv_listen(&cfg, 1, &lfd);
	tc = (struct tc_server){
		.lfds = &lfd, .nlisten = 1,
		.stack_size = STACK_SIZE, .buf_size = BUF_SIZE,
		.slots = stats_init(design.name, NSLOTS, cfg.interval),
		.nslots = NSLOTS, .fd_limit = cfg.fd_limit,
	};
	rss_base_kb = proc_rss_kb();
	tc_start(&tc);
	stats_set_line(tc_line);
	srv_listening(&cfg, "a thread per connection, %zu KiB stacks; ceiling %ld conns, "
		      "set by %s", tc_stack_size() >> 10, top.conns, top.what);

	stats_run(NULL);	/* until SIGINT/SIGTERM */
	tc_stop();
	srv_report(report);
	return 0;
}
