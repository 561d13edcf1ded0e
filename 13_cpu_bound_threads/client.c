/*
 * This client is 05_multi_epoll_client/client.c with this design's defaults.
 *
 * 13_cpu_bound_threads client - the multiple-epoll client of 05 (05_multi_epoll_client/client.c):
 * loops with their own epoll set and fd table, every connection
 * ping-ponging 8-byte timestamps, the next request only after the reply.
 * Few connections by default (100):
 * the server's cores, not the connections, set the pace.
 *
 * usage: client [-a ADDR] [-p PORT] [-n CONNS] [-c LOOPS] [-d SEC]
 *               [-r RATE] [-s FIRST[-LAST]] [-i SEC] [-h]
 *
 * test with:
 *   ./13_cpu_bound_threads/server &
 *   ./13_cpu_bound_threads/client -n 100 -d 5
 */

#define CLIENT_DESIGN	"13_cpu_bound_threads_client"
#define CLIENT_SUMMARY	"few connections ping-pong; each request proves work on the server"
#define CLIENT_CONNS	100
#include "../05_multi_epoll_client/client.c"
