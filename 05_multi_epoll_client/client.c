/*
 * 05_multi_epoll_client client - the multiple-epoll client, and the instrument that
 * drives 06-14: -c loop threads, each with its own epoll set and fd table.
 * The engine (how it ramps, pipelines, verifies and measures) is
 * engine.c beside this file; every design's client.c is a main like this
 * one, with its own defaults.
 *
 * Every client but 04's is this short main over the engine in
 * 05_multi_epoll_client/engine.c: it names the design and its defaults;
 * the options (-h lists them all) and the measuring are the engine's.
 *
 * usage: see -h
 * build: cc -std=gnu11 -O2 -pthread -Icommon -o 05_multi_epoll_client/client 05_multi_epoll_client/client.c 05_multi_epoll_client/engine.c common/[a-z]*.c -lm
 *
 * test with:
 *   ./06_multi_epoll_server/server &
 *   ./05_multi_epoll_client/client -n 1000 -d 5
 */
#include "engine.h"

int main(int argc, char **argv)
{
	static const struct client_design d = {
		.design = "05_multi_epoll_client",
		.summary = "multiple epoll loops, each with its own fd table, ping-pong",
		.conns = 1000
	};

	client_main(&d, argc, argv);
}
