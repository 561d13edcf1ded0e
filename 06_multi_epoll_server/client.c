/*
 * 06_multi_epoll_server client - the multiple-epoll client of 05 for 06 (run.sh drives 06
 * with 05's own client: the same defaults).
 *
 * Every client but 04's is this short main over the engine in
 * 05_multi_epoll_client/engine.c: it names the design and its defaults;
 * the options (-h lists them all) and the measuring are the engine's.
 *
 * usage: see -h
 * build: cc -std=gnu11 -O2 -pthread -Icommon -o 06_multi_epoll_server/client 06_multi_epoll_server/client.c 05_multi_epoll_client/engine.c common/[a-z]*.c -lm
 *
 * test with:
 *   ./06_multi_epoll_server/server &
 *   ./06_multi_epoll_server/client -n 1000 -d 5
 */
#include "../05_multi_epoll_client/engine.h"

int main(int argc, char **argv)
{
	static const struct client_design d = {
		.design = "06_multi_epoll_server",
		.summary = "multiple epoll loops, each with its own fd table, ping-pong",
		.conns = 1000
	};

	client_main(&d, argc, argv);
}
