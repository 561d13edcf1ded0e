/*
 * 11_io_bound_threads client - the multiple-epoll client of 05 (common/client.c):
 * loops with their own epoll set and fd table, every connection
 * ping-ponging 8-byte timestamps, the next request only after the reply.
 * Few connections by default (100):
 * each is a server thread that waits -w per request.
 *
 * usage: client [-a ADDR] [-p PORT] [-n CONNS] [-c LOOPS] [-d SEC]
 *               [-r RATE] [-s FIRST[-LAST]] [-i SEC] [-h]
 *
 * test with:
 *   ./11_io_bound_threads/server &
 *   ./11_io_bound_threads/client -n 100 -d 5
 */
#include "c1m.h"

CLIENT_MAIN(.name = "11_io_bound_threads_client",
	    .summary = "few connections ping-pong; each request waits on the server",
	    .loops = 0, .conns = 100)
