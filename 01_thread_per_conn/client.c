/*
 * This client is 05_multi_epoll_client/client.c with this design's defaults.
 *
 * 01_thread_per_conn client - holds -n connections and pings them
 * round-robin at a low rate, like the original's first client (one
 * connection every 5 ms = 200 requests/s in all). The point is how many
 * connections the server holds and what they cost it, not throughput.
 *
 * The client is 05_multi_epoll_client/client.c in rate mode (-r); it verifies every reply.
 *
 * usage: client [-a ADDR] [-p PORT] [-n CONNS] [-c LOOPS] [-d SEC]
 *               [-r RATE] [-s FIRST[-LAST]] [-i SEC] [-h]
 *
 * test with:
 *   ./01_thread_per_conn/server &
 *   ./01_thread_per_conn/client -n 10000 -d 10
 */

#define CLIENT_DESIGN	"01_thread_per_conn_client"
#define CLIENT_SUMMARY	"hold N connections, ping them round-robin at a low rate"
#define CLIENT_CONNS	10000
#define CLIENT_RATE	200
#include "../05_multi_epoll_client/client.c"
