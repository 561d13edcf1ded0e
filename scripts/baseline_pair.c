/*
 * baseline_pair.c - the floor to compare against: the smallest correct-enough
 * epoll echo pair, with none of the suite's bookkeeping (no histogram, no
 * reply check, no stats, no partial-write handling). One thread each side.
 * scripts/bench-1k.sh runs it beside the real servers so their rps can be
 * quoted as a ratio to what this machine does at all.
 *
 * usage: baseline_pair server PORT
 *        baseline_pair client PORT CONNS SECONDS   -> prints "rps N"
 *        baseline_pair client PORT CONNS SECONDS LIFETIME [rst]
 *            -> prints "rps N conns_opened_per_s C connect_errors E"
 *
 * With LIFETIME (the client's -x N [-R]) it is a bare accept/echo/close
 * loop: after LIFETIME round trips a connection is closed (a FIN, or an
 * RST by SO_LINGER 0 with "rst") and a new one opened in its place, by a
 * non-blocking connect, keeping CONNS open. conns_opened_per_s counts the
 * connects that completed inside the SECONDS window, as the client's
 * figure of that name does; compare divides a design's by it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void add(int ep, int fd)
{
	struct epoll_event e = { .events = EPOLLIN, .data.fd = fd };
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
}

static int serve(struct sockaddr_in *sa)
{
	struct epoll_event evs[512], e = { .events = EPOLLIN };
	char buf[4096];
	int one = 1, ep = epoll_create1(0);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (void *)sa, sizeof(*sa)) || listen(l, 4096)) {
		perror("baseline_pair: bind");
		return 1;
	}
	e.data.fd = l;
	epoll_ctl(ep, EPOLL_CTL_ADD, l, &e);
	for (;;) {
		int n = epoll_wait(ep, evs, 512, -1);

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd, c;
			ssize_t r;

			if (fd == l) {
				while ((c = accept4(l, NULL, NULL, SOCK_NONBLOCK)) >= 0)
					add(ep, c);
				continue;
			}
			r = read(fd, buf, sizeof(buf));
			if (r <= 0 || write(fd, buf, (size_t)r) != r)
				close(fd);
		}
	}
}

static int drive(struct sockaddr_in *sa, int conns, double secs)
{
	struct epoll_event evs[512];
	char buf[8];
	long count = 0;
	int ep = epoll_create1(0);
	double t0;

	for (int i = 0; i < conns; i++) {
		int c = socket(AF_INET, SOCK_STREAM, 0);

		if (connect(c, (void *)sa, sizeof(*sa))) {
			perror("baseline_pair: connect");
			return 1;
		}
		fcntl(c, F_SETFL, O_NONBLOCK);
		add(ep, c);
		if (write(c, "12345678", 8) != 8)
			return 1;
	}
	t0 = now();
	while (now() - t0 < secs) {
		int n = epoll_wait(ep, evs, 512, 100);

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (read(fd, buf, 8) == 8 && write(fd, buf, 8) == 8)
				count++;
		}
	}
	printf("rps %.0f\n", count / (now() - t0));
	return 0;
}

/* The churn loop: per fd, the round trips it has left (0: connecting). */
static int *left;
static long opened, errors;

static int reopen(int ep, struct sockaddr_in *sa)
{
	struct epoll_event e = { .events = EPOLLOUT };
	int one = 1, c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (c < 0)
		return -1;
	if (connect(c, (void *)sa, sizeof(*sa)) && errno != EINPROGRESS) {
		close(c);
		return -1;
	}
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	left[c] = 0;
	e.data.fd = c;
	epoll_ctl(ep, EPOLL_CTL_ADD, c, &e);
	return c;
}

static void finish(int fd, int rst)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (rst)
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

static int churn(struct sockaddr_in *sa, int conns, double secs, int lifetime, int rst)
{
	struct epoll_event evs[512];
	struct rlimit rl;
	char buf[8];
	long count = 0, open0 = 0;
	int ep = epoll_create1(0), in = 0;
	double t0 = 0, end = 0, give_up = now() + 30;

	getrlimit(RLIMIT_NOFILE, &rl);
	left = calloc(rl.rlim_cur, sizeof(*left));
	for (int i = 0; i < conns; i++)
		if (reopen(ep, sa) < 0) {
			perror("baseline_pair: connect");
			return 1;
		}
	for (;;) {
		int n = epoll_wait(ep, evs, 512, 100);

		/* The window opens once CONNS connects have completed. */
		if (!in && opened >= conns) {
			in = 1, t0 = now(), end = t0 + secs, open0 = opened, count = 0;
		}
		if (in && now() >= end)
			break;
		if (!in && now() > give_up) {
			fprintf(stderr, "baseline_pair: %ld of %d connected in 30 s (%ld errors)\n",
				opened, conns, errors);
			return 1;
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd, err = 0;
			socklen_t len = sizeof(err);

			if (left[fd] == 0) {	/* a connect finished */
				struct epoll_event e = { .events = EPOLLIN, .data.fd = fd };

				getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
				if (err || write(fd, "12345678", 8) != 8) {
					errors++;
					close(fd);
					reopen(ep, sa);
					continue;
				}
				opened++;
				left[fd] = lifetime;
				epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
				continue;
			}
			if (read(fd, buf, 8) != 8) {
				errors++;
				close(fd);
				reopen(ep, sa);
				continue;
			}
			count++;
			if (--left[fd] > 0) {
				if (write(fd, buf, 8) != 8) {
					errors++;
					close(fd);
					reopen(ep, sa);
				}
				continue;
			}
			finish(fd, rst);
			if (reopen(ep, sa) < 0)
				errors++;
		}
	}
	printf("rps %.0f conns_opened_per_s %.0f connect_errors %ld\n", count / (now() - t0),
	       (opened - open0) / (now() - t0), errors);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };

	if (argc < 3 || (argv[1][0] == 'c' && (argc < 5 || argc > 7)) ||
	    (argc >= 6 && atoi(argv[5]) < 1) || (argc == 7 && strcmp(argv[6], "rst"))) {
		fprintf(stderr, "usage: baseline_pair server PORT | client PORT CONNS SECONDS [LIFETIME [rst]]\n");
		return 2;
	}
	sa.sin_port = htons((unsigned short)atoi(argv[2]));
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (argv[1][0] == 's')
		return serve(&sa);
	if (argc >= 6)
		return churn(&sa, atoi(argv[3]), atof(argv[4]), atoi(argv[5]), argc == 7);
	return drive(&sa, atoi(argv[3]), atof(argv[4]));
}
