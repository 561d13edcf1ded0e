/*
 * 05_multi_epoll_client - the multiple-epoll client: -c loop threads, each
 * with its own epoll set, its own fd table and its share of -n connections,
 * all ping-ponging 8-byte timestamps. It drives servers 06-13.
 *
 * The client itself is common/client.c, the one load generator of the
 * suite; read it for the design. This file only names the design and its
 * defaults: as many loops as the fd limit needs for -n (one per ~20,000
 * connections here), closed-loop ping-pong.
 *
 * usage: client [-a ADDR] [-p PORT] [-n CONNS] [-c LOOPS] [-d SEC]
 *               [-r RATE] [-s FIRST[-LAST]] [-i SEC] [-h]
 *
 * test with:
 *   ./06_multi_epoll_server/server &
 *   ./05_multi_epoll_client/client -n 1000 -d 5
 */
#include "c1m.h"

CLIENT_MAIN(.name = "05_multi_epoll_client",
	    .summary = "multiple epoll loops, each with its own fd table, ping-pong",
	    .loops = 0, .conns = 1000)
