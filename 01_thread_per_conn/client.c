/*
 * 01_thread_per_conn client - holds -n connections and pings them round-robin at a low
 * rate, like the original's first client (one connection every 5 ms =
 * 200 requests/s in all). The point is how many connections the server
 * holds and what they cost it, not throughput.
 *
 * Every client but 04's is this short main over the engine in
 * 05_multi_epoll_client/engine.c: it names the design and its defaults;
 * the options (-h lists them all) and the measuring are the engine's.
 *
 * usage: see -h
 * build: cc -std=gnu11 -O2 -pthread -Icommon -o 01_thread_per_conn/client 01_thread_per_conn/client.c 05_multi_epoll_client/engine.c common/[a-z]*.c -lm
 *
 * test with:
 *   ./01_thread_per_conn/server &
 *   ./01_thread_per_conn/client -n 10000 -d 10
 */
#include "../05_multi_epoll_client/engine.h"

int main(int argc, char **argv)
{
	static const struct client_design d = {
		.design = "01_thread_per_conn",
		.summary = "hold N connections, ping them round-robin at a low rate",
		.conns = 10000,
		.rate = 200
	};

	client_main(&d, argc, argv);
}
