/*
 * This client is 05_multi_epoll_client/client.c with this design's defaults.
 *
 * 06_multi_epoll_server/client.c - the client for 06_multi_epoll_server.
 */

#define CLIENT_DESIGN	"06_multi_epoll_server_client"
#define CLIENT_SUMMARY	"multiple epoll loops, each with its own fd table, ping-pong"
#define CLIENT_CONNS	1000
#include "../05_multi_epoll_client/client.c"
