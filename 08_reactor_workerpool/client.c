/*
 * 08_reactor_workerpool client - the multiple-epoll client of 05, all connections
 * ping-ponging 8-byte timestamps as fast as the server answers. The same
 * load as 06's, so 08 and 06 compare directly.
 *
 * Every client but 04's is this short main over the engine in
 * 05_multi_epoll_client/engine.c: it names the design and its defaults;
 * the options (-h lists them all) and the measuring are the engine's.
 *
 * usage: see -h
 * build: cc -std=gnu11 -O2 -pthread -Icommon -o 08_reactor_workerpool/client 08_reactor_workerpool/client.c 05_multi_epoll_client/engine.c common/[a-z]*.c -lm
 *
 * test with:
 *   ./08_reactor_workerpool/server &
 *   ./08_reactor_workerpool/client -n 1000 -d 5
 */
#include "../05_multi_epoll_client/engine.h"

int main(int argc, char **argv)
{
	static const struct client_design d = {
		.design = "08_reactor_workerpool",
		.summary = "multiple epoll loops, each with its own fd table, ping-pong",
		.conns = 1000
	};

	client_main(&d, argc, argv);
}
