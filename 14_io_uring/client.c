/*
 * This client is 05_multi_epoll_client/client.c with this design's defaults.
 *
 * 14_io_uring client - the multiple-epoll client of 05, so that 14 and 06
 * are measured with the very same load: what differs is only the server.
 *
 * Like the server it first checks that io_uring works here, and if not
 * says so in one line and exits 77 (the tests count that as skipped):
 * a run of this pair without its server would measure nothing.
 *
 * usage: client [-a ADDR] [-p PORT] [-n CONNS] [-c LOOPS] [-d SEC]
 *               [-r RATE] [-s FIRST[-LAST]] [-i SEC] [-h]
 *
 * test with:
 *   ./14_io_uring/server &
 *   ./14_io_uring/client -n 1000 -d 5
 */

#include "uring.h"

#define CLIENT_DESIGN	"14_io_uring_client"
#define CLIENT_SUMMARY	"the multiple-epoll client (05), for the io_uring server"
#define CLIENT_CONNS	1000
#define CLIENT_CHECK	uring_check	/* exit 77 where io_uring is unavailable */
#include "../05_multi_epoll_client/client.c"
