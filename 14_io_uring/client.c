/*
 * 14_io_uring client - the multiple-epoll client of 05, so that 14 and 06 are
 * measured with the very same load: what differs is only the server.
 * Like the server it first checks that io_uring works here, and if not
 * says so in one line and exits 77 (the tests count that as skipped): a
 * run of this pair without its server would measure nothing.
 *
 * Every client but 04's is this short main over the engine in
 * 05_multi_epoll_client/engine.c: it names the design and its defaults;
 * the options (-h lists them all) and the measuring are the engine's.
 *
 * usage: see -h
 * build: cc -std=gnu11 -O2 -pthread -Icommon -o 14_io_uring/client 14_io_uring/client.c 05_multi_epoll_client/engine.c 14_io_uring/uring.c common/[a-z]*.c -lm
 *
 * test with:
 *   ./14_io_uring/server &
 *   ./14_io_uring/client -n 1000 -d 5
 */
#include "uring.h"
#include "../05_multi_epoll_client/engine.h"

int main(int argc, char **argv)
{
	static const struct client_design d = {
		.design = "14_io_uring",
		.summary = "the multiple-epoll client (05), for the io_uring server",
		.conns = 1000,
		.check = uring_check	/* exit 77 where io_uring is unavailable */
	};

	client_main(&d, argc, argv);
}
