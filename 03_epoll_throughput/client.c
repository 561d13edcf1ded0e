/*
 * This client is 05_multi_epoll_client/client.c with this design's defaults.
 *
 * 03_epoll_throughput client - closed-loop ping-pong from one epoll loop:
 * every connection sends an 8-byte big-endian timestamp, waits for exactly
 * those 8 bytes back, records the round trip and sends the next (no
 * pipelining). Replies are checked byte for byte. What it measures is how
 * many round trips per second the server turns around.
 *
 * One loop, so -n stops at one fd table (~19,968 here); the client itself
 * is 05_multi_epoll_client/client.c, this file names the design and its defaults.
 *
 * usage: client [-a ADDR] [-p PORT] [-n CONNS] [-d SEC] [-r RATE]
 *               [-s FIRST[-LAST]] [-i SEC] [-h]
 *
 * test with:
 *   ./03_epoll_throughput/server &
 *   ./03_epoll_throughput/client -n 1000 -d 10
 */

#define CLIENT_DESIGN	"03_epoll_throughput"
#define CLIENT_SUMMARY	"closed-loop ping-pong from one epoll loop"
#define CLIENT_LOOPS	1
#define CLIENT_MAX_LOOPS 1
#define CLIENT_CONNS	1000
#include "../05_multi_epoll_client/client.c"
