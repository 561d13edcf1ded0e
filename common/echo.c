/*
 * echo.c - the per-connection step every readiness-based echo server runs:
 * read what arrived, write it straight back, and keep whatever the socket
 * would not take. The loop around it stays in each server.c.
 *
 * Bytes are opaque: a frame split over two reads, or several frames in one
 * read, are echoed in order without the server ever looking for frame
 * boundaries.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "c1m.h"

/* Reads per readiness event before yielding to other connections. */
#define ECHO_READ_BUDGET 16

void echo_reset(struct echo_conn *c)
{
	free(c->pend);
	memset(c, 0, sizeof(*c));
}

/* Write buf; return bytes written, or -1 on a real error (not EAGAIN). */
static ssize_t send_some(int fd, const char *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = send(fd, buf + done, len - done, MSG_NOSIGNAL);

		if (n > 0) {
			done += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == EAGAIN) {
			break;
		} else {
			return -1;
		}
	}
	return (ssize_t)done;
}

/* Keep buf[sent..len) for EPOLLOUT; -1 if memory ran out. */
static int keep(struct echo_conn *c, const char *buf, size_t len)
{
	c->pend = malloc(len);
	if (!c->pend)
		return -1;
	memcpy(c->pend, buf, len);
	c->pend_len = (uint32_t)len;
	c->pend_off = 0;
	return 0;
}

enum echo_result echo_write(struct echo_conn *c, int fd, const char *buf, size_t len,
			    uint64_t *bytes)
{
	ssize_t w = send_some(fd, buf, len);

	if (w < 0)
		return ECHO_CLOSE;
	*bytes += (uint64_t)w;
	if ((size_t)w == len)
		return ECHO_OPEN;
	/* The peer is not reading: park the rest. */
	if (keep(c, buf + w, len - (size_t)w) < 0)
		return ECHO_CLOSE;
	return ECHO_BLOCKED;
}

enum echo_result echo_on_readable(struct echo_conn *c, int fd, char *buf,
				  size_t bufsz, uint64_t *bytes)
{
	for (int i = 0; i < ECHO_READ_BUDGET; i++) {
		ssize_t n = recv(fd, buf, bufsz, 0);
		enum echo_result r;

		if (n == 0) {
			errno = 0;
			return ECHO_CLOSE;		/* EOF: all echoed */
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return ECHO_OPEN;
			return ECHO_CLOSE;		/* reset, etc. */
		}
		r = echo_write(c, fd, buf, (size_t)n, bytes);
		if (r != ECHO_OPEN)
			return r;	/* BLOCKED: the peer is not reading */
		if ((size_t)n < bufsz)
			return ECHO_OPEN;	/* drained the socket */
	}
	return ECHO_OPEN;	/* budget spent; level-triggered epoll calls again */
}

enum echo_result echo_on_writable(struct echo_conn *c, int fd, uint64_t *bytes)
{
	ssize_t w;

	if (!c->pend)
		return ECHO_OPEN;
	w = send_some(fd, c->pend + c->pend_off, c->pend_len - c->pend_off);
	if (w < 0)
		return ECHO_CLOSE;	/* errno says why */
	*bytes += (uint64_t)w;
	c->pend_off += (uint32_t)w;
	if (c->pend_off < c->pend_len)
		return ECHO_BLOCKED;
	echo_reset(c);
	return ECHO_OPEN;
}

void echo_close(int fd, struct echo_conn *c, struct stats_slot *st, int err)
{
	echo_reset(c);
	close(fd);	/* also leaves every epoll set */
	stats_conn_closed(st, err);
}

static void watch(int ep, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

int echo_event(int ep, int fd, uint32_t events, struct echo_conn *c,
	       char *buf, size_t bufsz, struct stats_slot *st)
{
	uint64_t bytes = 0;
	enum echo_result r;

	if (events & EPOLLOUT) {
		r = echo_on_writable(c, fd, &bytes);
		if (r == ECHO_OPEN)
			watch(ep, fd, EPOLLIN);		/* drained: read again */
	} else {
		r = echo_on_readable(c, fd, buf, bufsz, &bytes);
		if (r == ECHO_BLOCKED)
			watch(ep, fd, EPOLLOUT);	/* slow reader: stop reading */
	}
	atomic_fetch_add_explicit(&st->bytes, bytes, memory_order_relaxed);
	if (r != ECHO_CLOSE)
		return 0;
	echo_close(fd, c, st, errno);
	return -1;
}
