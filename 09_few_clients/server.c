/*
 * 09_few_clients - a thread per connection, tuned for throughput, driven
 * with few connections (the original's author swept 5000, 2000, 1000, 500,
 * 200 and 100).
 *
 * The design is 01's (common/threadconn.c: a thread per connection looping
 * on blocking recv() and send()), with the opposite priorities. 01 asks
 * "how many idle connections fit?" and so trims every byte a thread holds.
 * Here there are few connections and every one is busy, so the question is
 * "how many requests per second?", and the knobs turn the other way:
 *   - default stacks (glibc's 8 MiB, virtual) and a 64 KiB read buffer, so
 *     one recv() takes whatever a busy peer has sent;
 *   - TCP_NODELAY on every connection, so a reply never waits for Nagle;
 *   - -c acceptor threads, each on its own SO_REUSEPORT listener (the
 *     kernel spreads new connections over them), so a burst of connects is
 *     accepted on every core instead of queueing behind one thread.
 *
 * What limits it: each request costs its thread a wakeup and a sleep, i.e.
 * two context switches, and with more runnable threads than cores the
 * scheduler decides who runs. The server reports context switches per
 * request (ctx_switches_per_req) so the sweep shows where that cost grows:
 * an epoll loop (06) serves a whole batch of ready connections per wakeup.
 * Like 01 it has one fd table (20,000 here): it is a design for few
 * connections.
 *
 * usage: server [-a ADDR] [-p PORT] [-c N] [-i SEC] [-h]
 *
 * test with:
 *   ./09_few_clients/server &
 *   for n in 5000 2000 1000 500 200 100; do
 *           ./09_few_clients/client -n $n -d 10; done
 *
 * sample output (stderr; then the JSON line on stdout at SIGTERM):
 *   09_few_clients/server: listening on 127.0.0.1:8972, a thread per
 *     connection, 2 acceptors, 8192 KiB stacks, 65536-byte buffers
 *   conns 100  rps 51155  accepted 100  resets 0  errors 0  threads 100  rss_kb 2944
 *   {"design":"09_few_clients",...,"threads_peak":100,"ctx_switches_per_req":2.1}
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "c1m.h"
#include "threadconn.h"

#define STACK_SIZE	0		/* the libc default */
#define BUF_SIZE	(64 << 10)	/* one recv() takes all a busy peer sent */
#define NSLOTS		64		/* stats slots, by fd: spreads the atomics */

static struct srv_cfg cfg;
static struct tc_server tc;

static long ctx_switches(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_nvcsw + ru.ru_nivcsw;
}

static void report(struct json *j)
{
	uint64_t req = stats_requests();

	tc_json(j);
	json_i64(j, "acceptors", cfg.loops);
	json_num(j, "ctx_switches_per_req", req ? (double)ctx_switches() / (double)req : 0);
}

int main(int argc, char **argv)
{
	static const struct srv_design design = {
		.name = "09_few_clients",
		.summary = "one thread per connection, tuned for throughput",
		.loops_help = "acceptor threads, one SO_REUSEPORT listener each "
			      "(default: the CPU count)",
	};
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int *lfds;

	srv_parse(argc, argv, &design, &cfg);
	if (!cfg.loops)
		cfg.loops = ncpu > 0 ? (int)ncpu : 1;
	cfg.fd_limit = fd_raise_limit(1 << 20);
	sig_setup();
	lfds = calloc((size_t)cfg.loops, sizeof(*lfds));
	if (!lfds)
		die("calloc:");
	srv_listen(&cfg, cfg.loops, lfds);
	tc = (struct tc_server){
		.lfds = lfds, .nlisten = cfg.loops,
		.stack_size = STACK_SIZE, .buf_size = BUF_SIZE, .nodelay = 1,
		.slots = stats_init(design.name, NSLOTS, cfg.interval),
		.nslots = NSLOTS, .fd_limit = cfg.fd_limit,
	};
	tc_start(&tc);
	stats_set_line(tc_line);
	srv_listening(&cfg, "a thread per connection, %d acceptors, %zu KiB stacks, "
		      "%d-byte buffers", cfg.loops, tc_stack_size() >> 10, BUF_SIZE);

	stats_run(NULL);	/* until SIGINT/SIGTERM */
	tc_stop();
	srv_report(report);
	return 0;
}
