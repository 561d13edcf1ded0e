/*
 * frame.c - reading whole 8-byte requests, handing each to the design's
 * work, and echoing it: the part 10-13 share (see frame.h). The loops and
 * threads around it stay in each server.c.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "c1m.h"
#include "frame.h"
#include "sha256.h"

enum frame_result {
	FRAME_AGAIN,	/* wait for more input (EPOLLIN) */
	FRAME_READY,	/* a whole frame in buf */
	FRAME_BLOCKED,	/* reply not all sent: wait for EPOLLOUT */
	FRAME_CLOSE,	/* EOF (errno 0) or error (errno says) */
};

/* Read the bytes the frame still misses, and no more. */
static enum frame_result frame_read(struct frame_conn *c, int fd)
{
	while (c->have < FRAME_SIZE) {
		ssize_t n = recv(fd, c->buf + c->have, FRAME_SIZE - c->have, 0);

		if (n > 0) {
			c->have += (uint8_t)n;
		} else if (n == 0) {
			/* EOF: what came of a frame goes back as it is. */
			if (c->have)
				send(fd, c->buf, c->have, MSG_NOSIGNAL | MSG_DONTWAIT);
			errno = 0;
			return FRAME_CLOSE;
		} else if (errno != EINTR) {
			return errno == EAGAIN ? FRAME_AGAIN : FRAME_CLOSE;
		}	/* EINTR: again */
	}
	return FRAME_READY;
}

/* Send the rest of the reply; AGAIN once all of it is out. */
static enum frame_result frame_reply(struct frame_conn *c, int fd, struct stats_slot *st)
{
	uint8_t before = c->sent;
	enum frame_result r = FRAME_AGAIN;

	while (c->sent < FRAME_SIZE) {
		ssize_t n = send(fd, c->buf + c->sent, FRAME_SIZE - c->sent, MSG_NOSIGNAL);

		if (n > 0) {
			c->sent += (uint8_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else {
			r = n < 0 && errno == EAGAIN ? FRAME_BLOCKED : FRAME_CLOSE;
			break;
		}
	}
	atomic_fetch_add_explicit(&st->bytes, c->sent - before, memory_order_relaxed);
	if (r == FRAME_AGAIN)
		c->have = c->sent = 0;	/* ready for the next request */
	return r;
}

static int watch(int ep, int op, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	return epoll_ctl(ep, op, fd, &ev);
}

void frame_close(int fd, struct frame_conn *c, struct stats_slot *st, int err)
{
	memset(c, 0, sizeof(*c));
	close(fd);	/* also leaves every epoll set */
	stats_conn_closed(st, err);
}

int frame_event(int ep, int fd, uint32_t events, struct frame_conn *c,
		const struct frame_work *w, struct stats_slot *st)
{
	enum frame_result r;

	if (events & EPOLLOUT) {
		r = frame_reply(c, fd, st);
		if (r == FRAME_AGAIN)
			watch(ep, EPOLL_CTL_MOD, fd, EPOLLIN);	/* drained: read again */
	} else {
		r = frame_read(c, fd);
		if (r == FRAME_READY) {
			if (w->fn(w, fd, c, st) == FRAME_PARKED) {
				epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
				return 0;
			}
			r = frame_reply(c, fd, st);
			if (r == FRAME_BLOCKED)
				watch(ep, EPOLL_CTL_MOD, fd, EPOLLOUT);	/* stop reading */
		}
	}
	if (r != FRAME_CLOSE)
		return 0;
	frame_close(fd, c, st, errno);
	return -1;
}

int frame_resume(int ep, int fd, struct frame_conn *c, struct stats_slot *st)
{
	enum frame_result r = frame_reply(c, fd, st);

	if (r != FRAME_CLOSE &&
	    watch(ep, EPOLL_CTL_ADD, fd, r == FRAME_BLOCKED ? EPOLLOUT : EPOLLIN) == 0)
		return 0;
	frame_close(fd, c, st, errno);
	return -1;
}

int frame_serve(int fd, struct stats_slot *st, void *arg)
{
	const struct frame_work *w = arg;
	struct frame_conn c = { 0 };
	enum frame_result r;

	/* Blocking: recv waits for bytes, send for room; EAGAIN cannot come. */
	while ((r = frame_read(&c, fd)) == FRAME_READY) {
		w->fn(w, fd, &c, st);
		r = frame_reply(&c, fd, st);
		if (r != FRAME_AGAIN)
			break;
	}
	if (r == FRAME_CLOSE && errno)
		return -1;	/* errno says why */
	return 0;
}

void frame_threads_start(struct tc_server *tc, struct srv_cfg *cfg, const char *name,
			 struct frame_work *w, size_t stack_size)
{
	static int lfd;
	const int nslots = 16;	/* counter slots, shared by fd % nslots */

	cfg->fd_limit = fd_raise_limit(1 << 20);
	srv_listen(cfg, 1, &lfd);
	*tc = (struct tc_server){
		.lfds = &lfd, .nlisten = 1, .stack_size = stack_size, .nodelay = 1,
		.slots = stats_init(name, nslots, cfg->interval), .nslots = nslots,
		.fd_limit = cfg->fd_limit, .serve = frame_serve, .arg = w,
	};
	tc_start(tc);
	stats_set_line(tc_line);
}

/* ---- the two kinds of work ---- */

int frame_sleep(const struct frame_work *w, int fd, struct frame_conn *c,
		struct stats_slot *st)
{
	(void)fd;
	(void)c;
	usleep((useconds_t)w->usec);
	atomic_fetch_add_explicit(&st->work, 1, memory_order_relaxed);
	return 0;
}

int frame_pow(const struct frame_work *w, int fd, struct frame_conn *c,
	      struct stats_slot *st)
{
	uint64_t nonce, hashes;

	(void)fd;
	hashes = pow_solve(c->buf, FRAME_SIZE, w->bits, &nonce, &sig_stop);
	atomic_fetch_add_explicit(&st->work, hashes, memory_order_relaxed);
	return 0;
}

static double pow_rate;	/* hashes/s, measured at start */

void frame_pow_announce(int bits)
{
	double hashes = (double)(1ull << bits);

	pow_rate = pow_hash_rate();
	fprintf(stderr, "%s: one proof of %d bits = %.0f hashes on average, "
		"%.3f ms at %.2fM hashes/s on this machine\n", prog_name, bits,
		hashes, hashes / pow_rate * 1e3, pow_rate / 1e6);
}

void frame_pow_json(struct json *j, int bits, const struct stats_slot *slots, int nslots)
{
	uint64_t hashes = 0, req = stats_requests();

	for (int i = 0; i < nslots; i++)
		hashes += atomic_load_explicit(&slots[i].work, memory_order_relaxed);
	json_i64(j, "bits", bits);
	json_num(j, "hashes_per_request", req ? (double)hashes / (double)req : 0);
	json_num(j, "hashes_per_request_expected", (double)(1ull << bits));
	if (pow_rate > 0)
		json_num(j, "proof_ms", (double)(1ull << bits) / pow_rate * 1e3);
}
