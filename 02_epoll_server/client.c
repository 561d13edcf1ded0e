/*
 * 02_epoll_server client - the original's first client: it holds its connections and
 * pings them round-robin at a low rate (200 requests/s in all, one
 * connection every 5 ms), checking every reply byte for byte. It measures
 * how many connections a server holds and what an idle one costs, not
 * throughput (03's client does that). One epoll loop, so -n stops at one
 * fd table (~19,968 here).
 *
 * Every client but 04's is this short main over the engine in
 * 05_multi_epoll_client/engine.c: it names the design and its defaults;
 * the options (-h lists them all) and the measuring are the engine's.
 *
 * usage: see -h
 * build: cc -std=gnu11 -O2 -pthread -Icommon -o 02_epoll_server/client 02_epoll_server/client.c 05_multi_epoll_client/engine.c common/[a-z]*.c -lm
 *
 * test with:
 *   ./02_epoll_server/server &
 *   ./02_epoll_server/client -n 1000 -d 10
 */
#include "../05_multi_epoll_client/engine.h"

int main(int argc, char **argv)
{
	static const struct client_design d = {
		.design = "02_epoll_server",
		.summary = "one epoll loop holding -n connections, pinging 200/s round-robin",
		.conns = 1000,
		.loops = 1,
		.max_loops = 1,
		.rate = 200
	};

	client_main(&d, argc, argv);
}
