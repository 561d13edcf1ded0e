/*
 * 09_few_clients client - closed-loop ping-pong over few connections: the sweep the
 * original's author ran was 5000, 2000, 1000, 500, 200 and 100
 * connections, each as fast as the server answers. Run it once per size;
 * rps and p99 per size are the result.
 *
 * Every client but 04's is this short main over the engine in
 * 05_multi_epoll_client/engine.c: it names the design and its defaults;
 * the options (-h lists them all) and the measuring are the engine's.
 *
 * usage: see -h
 * build: cc -std=gnu11 -O2 -pthread -Icommon -o 09_few_clients/client 09_few_clients/client.c 05_multi_epoll_client/engine.c common/[a-z]*.c -lm
 *
 * test with:
 *   ./09_few_clients/server &
 *   for n in 5000 2000 1000 500 200 100; do
 *           ./09_few_clients/client -n $n -d 10; done
 */
#include "../05_multi_epoll_client/engine.h"

int main(int argc, char **argv)
{
	static const struct client_design d = {
		.design = "09_few_clients",
		.summary = "few connections, closed-loop ping-pong (sweep -n 5000..100)",
		.conns = 1000
	};

	client_main(&d, argc, argv);
}
