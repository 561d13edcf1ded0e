/*
 * 11_io_bound_threads - one thread per connection, and every request
 * waits: before its echo, each 8-byte request sleeps -w USEC (default
 * 10000 = 10 ms) in its connection's own thread, standing in for a disk
 * read or a call to another service.
 *
 * The design: the thread per connection of 01/09. Each thread reads whole
 * frames with blocking recv() (common/frame.c), waits, and sends the frame
 * back; common/threadconn.c accepts and starts the threads. A waiting thread
 * holds no core, so the waits of all connections overlap: N connections
 * give about N / wait requests a second (100 connections x 10 ms = 10,000
 * rps) until the cores run out of wake-ups and context switches.
 *
 * Against 10_io_bound_epoll: there, -m block sleeps in the event loop and
 * every other connection of that loop waits too (100 rps per loop); -m
 * timer gets the overlap back by parking requests on a timer. A thread per
 * connection gets it for free, from the scheduler, at the price of a
 * thread per connection: a stack (8 KB resident here), a 16 KB kernel
 * stack and a task, two context switches per request, and one fd table
 * for all, so one process holds at most RLIMIT_NOFILE connections.
 * Measured (2-core box, preliminary): 100 connections 9,550 rps, p99 13 ms
 * (10 -m timer: 9,400, 12 ms); 1000 connections 28,000 rps, p99 49 ms
 * (timer: 52,000, 33 ms); 5000 connections 27,000 rps, p99 0.22 s, in 43
 * MB (timer: 48,000 rps, 0.19 s, in 2.5 MB). Block mode: 195 rps at any
 * count.
 *
 * usage: server [-a ADDR] [-p PORT] [-w USEC] [-i SEC] [-h]
 *
 * test with:
 *   ./11_io_bound_threads/server &
 *   ./11_io_bound_threads/client -n 100 -d 5
 *
 * sample output (stderr; then the JSON line on stdout at SIGTERM):
 *   11_io_bound_threads/server: listening on 127.0.0.1:8972, a thread per
 *     connection, 20000 fds, 10000 us wait per request
 *   conns 100  rps 9256  accepted 100  resets 0  errors 0  threads 100  rss_kb 2548
 *   {"design":"11_io_bound_threads","conns_peak":100,"requests":92963,"rps":9198.7,
 *    ...,"work":92963,...,"threads_peak":100,"stack_kb":64,"wait_us":10000}
 */
#define _GNU_SOURCE
#include <stdlib.h>

#include "c1m.h"
#include "frame.h"

#define STACK_SIZE	(64 << 10)	/* a wait needs next to no stack */

static struct srv_cfg cfg;
static long wait_us = 10000;
static struct frame_work work = { .fn = frame_sleep };
static struct tc_server tc;

static void report(struct json *j)
{
	tc_json(j);
	json_i64(j, "wait_us", wait_us);
}

int main(int argc, char **argv)
{
	static const struct srv_flag flags[] = {
		FRAME_FLAG_WAIT(&wait_us, ", in the connection's thread"), { 0 }
	};
	static const struct srv_design design = {
		.name = "11_io_bound_threads",
		.summary = "a thread per connection; each request waits -w USEC",
		.flags = flags,
	};

	srv_parse(argc, argv, &design, &cfg);
	work.usec = wait_us;
	sig_setup();
	frame_threads_start(&tc, &cfg, design.name, &work, STACK_SIZE);
	srv_listening(&cfg, "a thread per connection, %ld fds, %ld us wait per request",
		      cfg.fd_limit, wait_us);

	stats_run(NULL);	/* until SIGINT/SIGTERM */
	tc_stop();
	srv_report(report);
	return 0;
}
