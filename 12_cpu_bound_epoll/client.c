/*
 * 12_cpu_bound_epoll client - few connections ping-pong (100 by default): the server's
 * cores, not the connections, set the pace.
 *
 * Every client but 04's is this short main over the engine in
 * 05_multi_epoll_client/engine.c: it names the design and its defaults;
 * the options (-h lists them all) and the measuring are the engine's.
 *
 * usage: see -h
 * build: cc -std=gnu11 -O2 -pthread -Icommon -o 12_cpu_bound_epoll/client 12_cpu_bound_epoll/client.c 05_multi_epoll_client/engine.c common/[a-z]*.c -lm
 *
 * test with:
 *   ./12_cpu_bound_epoll/server &
 *   ./12_cpu_bound_epoll/client -n 100 -d 5
 */
#include "../05_multi_epoll_client/engine.h"

int main(int argc, char **argv)
{
	static const struct client_design d = {
		.design = "12_cpu_bound_epoll",
		.summary = "few connections ping-pong; each request proves work on the server",
		.conns = 100
	};

	client_main(&d, argc, argv);
}
