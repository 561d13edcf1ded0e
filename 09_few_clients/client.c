/*
 * This client is 05_multi_epoll_client/client.c with this design's defaults.
 *
 * 09_few_clients client - closed-loop ping-pong over few connections: the
 * sweep the original's author ran was 5000, 2000, 1000, 500, 200 and 100
 * connections, each as fast as the server answers (one 8-byte request in
 * flight per connection). Run it once per size; rps and p99 per size are
 * the result.
 *
 * The client is 05_multi_epoll_client/client.c (ping-pong, -r 0); it verifies every reply.
 *
 * usage: client [-a ADDR] [-p PORT] [-n CONNS] [-c LOOPS] [-d SEC]
 *               [-r RATE] [-s FIRST[-LAST]] [-i SEC] [-h]
 *
 * test with:
 *   ./09_few_clients/server &
 *   for n in 5000 2000 1000 500 200 100; do
 *           ./09_few_clients/client -n $n -d 10; done
 */

#define CLIENT_DESIGN	"09_few_clients_client"
#define CLIENT_SUMMARY	"few connections, closed-loop ping-pong (sweep -n 5000..100)"
#define CLIENT_CONNS	1000
#include "../05_multi_epoll_client/client.c"
