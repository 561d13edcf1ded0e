/*
 * This client is 05_multi_epoll_client/client.c with this design's defaults.
 *
 * 07_prefork client - the multiple-epoll client of 05: -c loop threads,
 * each with its own epoll set and fd table (so -n 1000000 fits), all
 * connections ping-ponging 8-byte timestamps as fast as the server
 * answers. The original drove its prefork server with this client.
 *
 * The client is 05_multi_epoll_client/client.c; it verifies every reply.
 *
 * usage: client [-a ADDR] [-p PORT] [-n CONNS] [-c LOOPS] [-d SEC]
 *               [-r RATE] [-s FIRST[-LAST]] [-i SEC] [-h]
 *
 * test with:
 *   ./07_prefork/server -n 100000 &
 *   ./07_prefork/client -n 100000 -d 10
 */

#define CLIENT_DESIGN	"07_prefork_client"
#define CLIENT_SUMMARY	"multiple epoll loops, each with its own fd table, ping-pong"
#define CLIENT_CONNS	1000
#include "../05_multi_epoll_client/client.c"
