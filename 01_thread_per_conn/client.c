/*
 * 01_thread_per_conn client - holds -n connections and pings them
 * round-robin at a low rate, like the original's first client (one
 * connection every 5 ms = 200 requests/s in all). The point is how many
 * connections the server holds and what they cost it, not throughput.
 *
 * The client is common/client.c in rate mode (-r); it verifies every reply.
 *
 * usage: client [-a ADDR] [-p PORT] [-n CONNS] [-c LOOPS] [-d SEC]
 *               [-r RATE] [-s FIRST[-LAST]] [-i SEC] [-h]
 *
 * test with:
 *   ./01_thread_per_conn/server &
 *   ./01_thread_per_conn/client -n 10000 -d 10
 */
#include "c1m.h"

CLIENT_MAIN(.name = "01_thread_per_conn_client",
	    .summary = "hold N connections, ping them round-robin at a low rate",
	    .loops = 0, .conns = 10000, .rate = 200)
