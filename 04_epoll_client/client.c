/*
 * 04_epoll_client - the single-epoll client (the original's fourth
 * program): one thread, one epoll set, every connection. Each connection
 * writes an 8-byte big-endian timestamp; on each reply the loop checks the
 * 8 bytes against what it sent, records now - timestamp as the latency,
 * and writes a new timestamp (closed loop: the next request only after the
 * reply). The original averaged sampled means; this one keeps a log-linear
 * histogram and reports p50/p90/p99/p99.9/max.
 *
 * One loop means one core and one fd table (~19,968 connections here);
 * 05 splits the same work over -c loops with a table each. The client is
 * common/client.c; this file names the design and its defaults.
 *
 * usage: client [-a ADDR] [-p PORT] [-n CONNS] [-d SEC] [-r RATE]
 *               [-s FIRST[-LAST]] [-i SEC] [-h]
 *
 * test with:
 *   ./04_epoll_client/server &
 *   ./04_epoll_client/client -n 1000 -d 10
 */
#include "c1m.h"

CLIENT_MAIN(.name = "04_epoll_client",
	    .summary = "single epoll loop, closed-loop ping-pong on every connection",
	    .loops = 1, .max_loops = 1, .conns = 1000)
