/*
 * 13_cpu_bound_threads - one thread per connection, and every request
 * costs CPU: before its echo, each 8-byte request is a SHA-256 proof of
 * work of -b BITS leading zero bits (default 12), salted with the request.
 *
 * The design: the thread per connection of 01/09, each thread reading
 * whole frames with blocking recv(), proving, and sending the frame back
 * (common/threadconn.c runs the threads, common/frame.c the frame loop). The
 * kernel's scheduler shares the cores among the threads that have work.
 *
 * What it shows, against 12_cpu_bound_epoll: when the work is CPU, the
 * design hardly matters for throughput. Two cores do ~2 x (hash rate /
 * 2^BITS) proofs a second whether two loops or 5,000 threads run them
 * (printed at start: one 12-bit proof is ~4096 hashes, a couple of ms
 * here). What differs is the latency: a loop finishes a request before it
 * takes the next, so a request waits for the ones ahead of it; threads
 * are time-sliced, so every request in flight advances at once, all
 * finishing late together, plus a context switch per request and a
 * thread's memory per connection. Measured (2-core box, preliminary):
 * 100, 1000 and 5000 connections give 1,300, 1,140 and 920 rps, p99
 * 0.28 s, 1.1 s and 4.6 s, in 2.6, 9.8 and 43 MB (12: 1,270, 1,340 and
 * 1,370 rps in 1.7-1.9 MB). The threads lose ground as they multiply.
 *
 * The original (Go) hashed "hello world N" from N = 0 for every request,
 * so the 12-bit proof always won at N = 4: 5 hashes, not 4096. Here the
 * input is the request's own 8 bytes, so the work really averages 2^BITS
 * hashes, and the result reports hashes_per_request to prove it.
 *
 * usage: server [-a ADDR] [-p PORT] [-b BITS] [-i SEC] [-h]
 *
 * test with:
 *   ./13_cpu_bound_threads/server &
 *   ./13_cpu_bound_threads/client -n 100 -d 5
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
#include <stdlib.h>

#include "c1m.h"
#include "frame.h"

#define STACK_SIZE	(64 << 10)	/* a proof needs < 1 KiB of stack */

static struct srv_cfg cfg;
static long bits = 12;
static struct frame_work work = { .fn = frame_pow };
static struct tc_server tc;

static void report(struct json *j)
{
	tc_json(j);
	frame_pow_json(j, work.bits, tc.slots, tc.nslots);
}

int main(int argc, char **argv)
{
	static const struct srv_flag flags[] = { FRAME_FLAG_BITS(&bits), { 0 } };
	static const struct srv_design design = {
		.name = "13_cpu_bound_threads",
		.summary = "a thread per connection; each request proves SHA-256 work",
		.flags = flags,
	};

	srv_parse(argc, argv, &design, &cfg);
	work.bits = (int)bits;
	sig_setup();
	frame_pow_announce(work.bits);
	frame_threads_start(&tc, &cfg, design.name, &work, STACK_SIZE);
	srv_listening(&cfg, "a thread per connection, %ld fds, %d-bit proofs",
		      cfg.fd_limit, work.bits);

	stats_run(NULL);	/* until SIGINT/SIGTERM */
	tc_stop();
	srv_report(report);
	return 0;
}
