/*
 * 03_epoll_throughput client - closed-loop ping-pong from one epoll loop: every
 * connection sends an 8-byte big-endian timestamp, waits for exactly those
 * 8 bytes back, records the round trip and sends the next. What it
 * measures is how many round trips per second the server turns around.
 * One loop, so -n stops at one fd table (~19,968 here).
 *
 * Every client but 04's is this short main over the engine in
 * 05_multi_epoll_client/engine.c: it names the design and its defaults;
 * the options (-h lists them all) and the measuring are the engine's.
 *
 * usage: see -h
 * build: cc -std=gnu11 -O2 -pthread -Icommon -o 03_epoll_throughput/client 03_epoll_throughput/client.c 05_multi_epoll_client/engine.c common/[a-z]*.c -lm
 *
 * test with:
 *   ./03_epoll_throughput/server &
 *   ./03_epoll_throughput/client -n 1000 -d 10
 */
#include "../05_multi_epoll_client/engine.h"

int main(int argc, char **argv)
{
	static const struct client_design d = {
		.design = "03_epoll_throughput",
		.summary = "closed-loop ping-pong from one epoll loop",
		.conns = 1000,
		.loops = 1,
		.max_loops = 1
	};

	client_main(&d, argc, argv);
}
