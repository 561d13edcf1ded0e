/*
 * This client is 05_multi_epoll_client/client.c with this design's defaults.
 *
 * 10_io_bound_epoll client - the multiple-epoll client of 05 (05_multi_epoll_client/client.c):
 * loops with their own epoll set and fd table, every connection
 * ping-ponging 8-byte timestamps, the next request only after the reply.
 * Few connections by default (100):
 * at -w 10000 a blocking loop serves at most 100 requests a second, so
 * more connections only queue longer.
 *
 * usage: client [-a ADDR] [-p PORT] [-n CONNS] [-c LOOPS] [-d SEC]
 *               [-r RATE] [-s FIRST[-LAST]] [-i SEC] [-h]
 *
 * test with:
 *   ./10_io_bound_epoll/server &
 *   ./10_io_bound_epoll/client -n 100 -d 5
 */

#define CLIENT_DESIGN	"10_io_bound_epoll_client"
#define CLIENT_SUMMARY	"few connections ping-pong; each request waits on the server"
#define CLIENT_CONNS	100
#include "../05_multi_epoll_client/client.c"
