/*
 * 07_prefork client - the multiple-epoll client of 05: -c loop threads, each
 * with its own epoll set and fd table (so -n 1000000 fits), all
 * connections ping-ponging 8-byte timestamps as fast as the server
 * answers. The original drove its prefork server with this client.
 *
 * Every client but 04's is this short main over the engine in
 * 05_multi_epoll_client/engine.c: it names the design and its defaults;
 * the options (-h lists them all) and the measuring are the engine's.
 *
 * usage: see -h
 * build: cc -std=gnu11 -O2 -pthread -Icommon -o 07_prefork/client 07_prefork/client.c 05_multi_epoll_client/engine.c common/[a-z]*.c -lm
 *
 * test with:
 *   ./07_prefork/server -n 100000 &
 *   ./07_prefork/client -n 100000 -d 10
 */
#include "../05_multi_epoll_client/engine.h"

int main(int argc, char **argv)
{
	static const struct client_design d = {
		.design = "07_prefork",
		.summary = "multiple epoll loops, each with its own fd table, ping-pong",
		.conns = 1000
	};

	client_main(&d, argc, argv);
}
