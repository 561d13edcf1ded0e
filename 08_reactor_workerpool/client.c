/*
 * This client is 05_multi_epoll_client/client.c with this design's defaults.
 *
 * 08_reactor_workerpool client - the multiple-epoll client of 05: -c loop
 * threads, each with its own epoll set and fd table, all connections
 * ping-ponging 8-byte timestamps as fast as the server answers. The same
 * load as 06's, so 08 and 06 compare directly.
 *
 * The client is 05_multi_epoll_client/client.c; it verifies every reply.
 *
 * usage: client [-a ADDR] [-p PORT] [-n CONNS] [-c LOOPS] [-d SEC]
 *               [-r RATE] [-s FIRST[-LAST]] [-i SEC] [-h]
 *
 * test with:
 *   ./08_reactor_workerpool/server &
 *   ./08_reactor_workerpool/client -n 1000 -d 5
 */

#define CLIENT_DESIGN	"08_reactor_workerpool_client"
#define CLIENT_SUMMARY	"multiple epoll loops, each with its own fd table, ping-pong"
#define CLIENT_CONNS	1000
#include "../05_multi_epoll_client/client.c"
