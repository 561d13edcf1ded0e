/*
 * This client is 05_multi_epoll_client/client.c with this design's defaults.
 *
 * 02_epoll_server client - the original's first client: it holds its
 * connections and pings them round-robin at a low rate (200 requests/s in
 * all, one connection every 5 ms), checking every reply byte for byte. It
 * measures how many connections a server holds and what an idle one costs,
 * not throughput (03's client does that).
 *
 * One epoll loop, so -n stops at one fd table (~19,968 here). The client
 * itself is 05_multi_epoll_client/client.c; this file names the design and its defaults.
 *
 * usage: client [-a ADDR] [-p PORT] [-n CONNS] [-d SEC] [-r RATE]
 *               [-s FIRST[-LAST]] [-i SEC] [-h]
 *
 * test with:
 *   ./02_epoll_server/server &
 *   ./02_epoll_server/client -n 1000 -d 10
 */

#define CLIENT_DESIGN	"02_epoll_server"
#define CLIENT_SUMMARY	"one epoll loop holding -n connections, pinging 200/s round-robin"
#define CLIENT_LOOPS	1
#define CLIENT_MAX_LOOPS 1
#define CLIENT_CONNS	1000
#define CLIENT_RATE	200
#include "../05_multi_epoll_client/client.c"
