/*
 * known_server - a c1m echo server whose answer time is known, so that a
 * test can check the client (our measuring instrument) against the truth,
 * as one checks a scale against a known weight.
 *
 * One thread, one epoll set. Every complete 8-byte frame goes back
 * unchanged, exactly -D USEC after the read that completed it. The delay
 * is fixed, so replies fall due in the order frames arrived: one FIFO of
 * pending replies, and the loop sleeps until the head is due with
 * epoll_pwait2() (ns timeout) and a 1 ns timer slack, not a 1 ms
 * epoll_wait() timeout. A wake-up from a timer still comes 100-300 us
 * late on a VM (measured here: 140 us mean), so the loop sleeps only until
 * SPIN_NS (at most D/8) before the head is due and polls epoll with a zero
 * timeout from there: up to 250 us of CPU per reply, which a test server
 * at a few thousand replies a second can afford.
 *
 * -F PERIOD_MS:FREEZE_MS freezes the server for FREEZE_MS at the start of
 * every PERIOD_MS, counted from its start (t = 0, PERIOD, 2 PERIOD, ...).
 * Frozen, it does nothing at all: no accept, no read, no write. Frames
 * that arrive meanwhile wait in the kernel and are read when the freeze
 * ends (they "arrive" then, and go back D after); a reply that falls due
 * inside a freeze goes out when it ends.
 *
 * A connection that closes drops its queued replies (each entry carries
 * the connection's generation). A reply the socket will not take yet is
 * parked in struct conn and sent on EPOLLOUT, in order.
 *
 * At SIGTERM/SIGINT: one JSON line on stdout, exit 0. Besides the counts,
 * lag_us is how late the server itself sent its replies (send time minus
 * due time, or minus the freeze's end), so a failing test can tell the
 * server's error from the client's.
 *
 * A connection's replies leave in the order its frames came: a frame is
 * due D after it arrived, or with its connection's previous reply if that
 * is later (a staggered first frame holds back the ones pipelined behind
 * it, client -q).
 *
 * -X EVERY corrupts the echo, for a test that the client notices: it
 * flips the lowest bit of byte EVERY, 2 EVERY, ... of each connection's
 * stream (counting from 1).
 *
 * -S COUNT staggers the connections: the first frame of the k-th
 * connection accepted waits (k mod COUNT)/COUNT of D more. A closed-loop
 * client starts every connection at once, so without it all N replies
 * fall due together, every D: the server sends them one after the other
 * (the last ~N sends late), and a window of T seconds holds a whole number
 * of rounds, an error of up to D/T in rps. Staggered, the replies come
 * evenly spread and every frame after the first waits exactly D.
 *
 * Push mode (-b SEC or -R RATE, -l BYTES: the servers' push flags) adds
 * pushes on a known schedule: push k (k = 1, 2, ...) is scheduled at
 * start + k STEP on CLOCK_REALTIME (STEP = SEC, or 1/RATE), carries that
 * time, and is sent exactly D later (-D, the same fixed delay), to every
 * connection (-b) or to the next connection in turn (-R). So the client
 * must report a delivery latency of D and every sequence whole. A push
 * goes out whole between echoed frames (the same send-or-park path).
 * -M MUTANT breaks it once, on the first connection accepted, for a test
 * that the client notices: skip (its push 2 is never sent: a gap),
 * corrupt (a body byte of its push 2 flipped), split (its first echoed
 * frame after a push is cut in two by a push), close (it is closed
 * halfway through its push 2), silent (it never gets a push, so its
 * sequence has no gap to show).
 *
 *
 * -K AT_MS:DOWN_MS restarts it, with a known answer, for a client's -X:
 * AT_MS after its first accept it closes its listener (connects are
 * refused) and every connection, stays down DOWN_MS, then listens again
 * on the same port, once. The JSON counts every accept (accepted, both
 * lives), the connections it closed (restart_closed) and how long it was
 * down (down_ms, measured).
 *
 * usage: known_server [-a ADDR] [-p PORT] [-D USEC] [-F PERIOD_MS:FREEZE_MS]
 *                     [-S COUNT] [-X EVERY] [-K AT_MS:DOWN_MS] [-b SEC | -R RATE]
 *                     [-l BYTES] [-M skip|corrupt|split|close|silent] [-h]
 * build: make build/plain/tests/known_server
 * test with:
 *   build/plain/tests/known_server -p 0 -D 30000 &
 *   05_multi_epoll_client/client -p PORT -n 100 -d 3     (p50 ~ 30 ms)
 *
 * sample output (stderr, then stdout at SIGTERM):
 *   known_server: listening on 127.0.0.1:40211, delay 30000 us, no freeze
 *   {"design":"known_server","delay_us":30000,"period_ms":0,"freeze_ms":0,
 *    "conns_peak":100,"requests":10012,"replies":10012,"lag_us":{...}}
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "c1m.h"

#define MAX_EVENTS	256
#define BUF_SIZE	16384
#define OUT_MAX		(1u << 20)	/* parked reply bytes before we give up */
#define TICK_NS		100000000ull	/* look for SIGTERM every 100 ms */
#define SPIN_NS		250000ull	/* poll, not sleep, this close to a reply */

static struct {
	const char *addr;
	int port;
	uint64_t delay_ns;		/* -D */
	uint64_t period_ns, freeze_ns;	/* -F; 0 = never frozen */
	long stagger;			/* -S; 0 = none */
	uint64_t flip;			/* -X; 0 = echo faithfully */
	struct push_plan push;		/* -b, -R, -l */
	int pushing;			/* -b or -R given */
	const char *mutant;		/* -M; NULL = push faithfully */
	uint64_t restart_at_ns, down_ns;	/* -K; 0 = never restarted */
} cfg = { C1M_ADDR, C1M_PORT, 0, 0, 0, 0, 0, PUSH_PLAN_DEFAULT, 0, NULL, 0, 0 };

struct conn {
	uint32_t gen;		/* bumped at close: older replies are dropped */
	uint32_t order;		/* accepted as the order-th connection (-S) */
	uint8_t open;
	uint8_t answered;	/* its first frame has been queued */
	uint8_t have;		/* bytes of the frame being assembled */
	uint8_t frame[FRAME_SIZE];
	uint64_t last_due;	/* its latest reply's due time: none goes before */
	uint64_t seen;		/* bytes read from it (-X) */
	char *out;		/* replies the socket did not take yet */
	uint32_t out_len, out_off, out_cap;
	uint64_t push_seq;	/* pushes sent it (push mode) */
	uint8_t split_done;	/* -M split: done on it */
};

struct reply {
	uint64_t due;		/* arrival + delay */
	int fd;
	uint32_t gen;
	uint8_t frame[FRAME_SIZE];
};

static struct {
	int ep, lfd;
	struct conn *conns;	/* a flat array indexed by fd */
	long nconns;		/* its length: the fd limit */
	struct reply *q;	/* ring of pending replies, oldest at head */
	size_t q_cap, q_head, q_len;
	uint64_t start;		/* freezes count from here */
	long live, conns_peak, accepted;
	uint64_t first_accept;	/* -K counts from here (0: none yet) */
	uint64_t down_at, up_at;	/* -K: listener closed, open again (0: not yet) */
	long restart_closed;	/* -K: connections it closed */
	uint64_t requests, replies, dropped;
	uint64_t pushes;	/* push mode: pushes sent (or parked) */
	uint64_t push_wall0, push_mono0, push_step, push_k;	/* the schedule */
	long push_fd;		/* -R: the connection that had the last push */
	unsigned char *push_buf;	/* one push */
	struct hist lag;	/* send time - when it was due (ns) */
	char buf[BUF_SIZE];
} srv;

/* ---- time: the freeze schedule ---- */

/* t itself if the server is not frozen at t, else the end of that freeze. */
static uint64_t thaw_time(uint64_t t)
{
	uint64_t phase;

	if (!cfg.freeze_ns || t < srv.start)
		return t;
	phase = (t - srv.start) % cfg.period_ns;
	return phase < cfg.freeze_ns ? t - phase + cfg.freeze_ns : t;
}

/* Sleep until the freeze at `now` (if any) is over, in steps of at most
 * 100 ms so SIGTERM still ends the process promptly. */
static void freeze_wait(uint64_t now)
{
	uint64_t end = thaw_time(now);

	while (now < end && !atomic_load(&sig_stop)) {
		uint64_t until = end - now > TICK_NS ? now + TICK_NS : end;
		struct timespec ts = { .tv_sec = (time_t)(until / 1000000000ull),
				       .tv_nsec = (long)(until % 1000000000ull) };

		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		sig_wait(0);
		now = clock_ns();
	}
}

/* ---- the FIFO of replies ---- */

/* Queue a reply due `delay` after `arrived`. Under a fixed delay it goes
 * at the tail; a staggered first reply (-S) moves back to its place. */
static void queue_push(int fd, const uint8_t *frame, uint64_t arrived, uint64_t delay)
{
	struct reply *r;
	size_t i;
	uint64_t due = arrived + delay;

	if (due < srv.conns[fd].last_due)	/* in order, behind its previous reply */
		due = srv.conns[fd].last_due;
	srv.conns[fd].last_due = due;

	if (srv.q_len == srv.q_cap) {	/* full: double it, unwrapping the ring */
		size_t cap = srv.q_cap ? 2 * srv.q_cap : 4096;
		struct reply *q = malloc(cap * sizeof(*q));

		if (!q)
			die("reply queue of %zu:", cap);
		for (size_t k = 0; k < srv.q_len; k++)
			q[k] = srv.q[(srv.q_head + k) % srv.q_cap];
		free(srv.q);
		srv.q = q;
		srv.q_cap = cap;
		srv.q_head = 0;
	}
	for (i = srv.q_len; i > 0; i--) {	/* keep the ring sorted by due */
		struct reply *prev = &srv.q[(srv.q_head + i - 1) % srv.q_cap];

		if (prev->due <= due)
			break;
		srv.q[(srv.q_head + i) % srv.q_cap] = *prev;
	}
	r = &srv.q[(srv.q_head + i) % srv.q_cap];
	r->due = due;
	r->fd = fd;
	r->gen = srv.conns[fd].gen;
	memcpy(r->frame, frame, FRAME_SIZE);
	srv.q_len++;
}

/* The delay of this connection's next frame: D, and for its first frame
 * under -S COUNT also (k mod COUNT) / COUNT of D, k counting accepts. */
static uint64_t delay_for(struct conn *c)
{
	uint64_t d = cfg.delay_ns;

	if (!c->answered) {
		c->answered = 1;
		if (cfg.stagger)
			d += cfg.delay_ns * (uint64_t)(c->order % cfg.stagger) / (uint64_t)cfg.stagger;
	}
	return d;
}

/* ---- handlers ---- */

static void watch(int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	epoll_ctl(srv.ep, EPOLL_CTL_MOD, fd, &ev);
}

static void conn_close(int fd)
{
	struct conn *c = &srv.conns[fd];

	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = c->out_cap = 0;
	c->have = 0;
	c->open = 0;
	c->gen++;		/* its queued replies are now stale */
	close(fd);
	srv.live--;
}

static void on_accept(void)
{
	for (;;) {
		struct epoll_event ev = { .events = EPOLLIN };
		int fd = accept4(srv.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				warnx_("accept:");	/* a test server: say it, go on */
			return;
		}
		ev.data.fd = fd;
		if (fd >= srv.nconns || epoll_ctl(srv.ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			continue;
		}
		net_set_nodelay(fd);
		srv.conns[fd].open = 1;
		srv.conns[fd].answered = 0;
		srv.conns[fd].last_due = 0;
		srv.conns[fd].seen = 0;
		srv.conns[fd].push_seq = 0;
		srv.conns[fd].split_done = 0;
		srv.conns[fd].order = (uint32_t)srv.accepted++;
		if (!srv.first_accept)
			srv.first_accept = clock_ns();
		if (++srv.live > srv.conns_peak)
			srv.conns_peak = srv.live;
	}
}

/* Bytes sent (maybe short), or -1 on an error. */
static ssize_t send_some(int fd, const char *p, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = send(fd, p + done, len - done, MSG_NOSIGNAL);

		if (n > 0)
			done += (size_t)n;
		else if (n < 0 && errno == EINTR)
			continue;
		else if (n < 0 && errno == EAGAIN)
			break;
		else
			return -1;
	}
	return (ssize_t)done;
}

/* Park what the socket did not take, behind what is parked already; the
 * buffer doubles as it fills. -1: over OUT_MAX or out of memory. */
static int park(struct conn *c, const char *p, size_t len)
{
	size_t keep = c->out_len - c->out_off, cap = c->out_cap;

	if (keep + len > OUT_MAX)
		return -1;
	if (c->out_len + len > cap && c->out_off) {	/* slide the rest down */
		memmove(c->out, c->out + c->out_off, keep);
		c->out_len = (uint32_t)keep;
		c->out_off = 0;
	}
	if (c->out_len + len > cap) {
		char *out;

		while (c->out_len + len > cap)
			cap = cap ? 2 * cap : 256;
		out = realloc(c->out, cap);
		if (!out)
			return -1;
		c->out = out;
		c->out_cap = (uint32_t)cap;
	}
	memcpy(c->out + c->out_len, p, len);
	c->out_len += (uint32_t)len;
	return 0;
}

/* Bytes for the stream: sent now, or after what is parked. -1: closed. */
static int out_write(int fd, const uint8_t *p, size_t len)
{
	struct conn *c = &srv.conns[fd];
	ssize_t w = 0;

	if (c->out_off == c->out_len) {		/* nothing parked */
		w = send_some(fd, (const char *)p, len);
		if (w < 0) {
			conn_close(fd);
			return -1;
		}
		if ((size_t)w == len)
			return 0;
		watch(fd, EPOLLIN | EPOLLOUT);	/* short: wait for room */
	}
	if (park(c, (const char *)p + w, len - (size_t)w) < 0) {
		conn_close(fd);
		return -1;
	}
	return 0;
}

static int mutant(const char *name)
{
	return cfg.mutant && strcmp(cfg.mutant, name) == 0;
}

/* The connection's next push, scheduled at `sched` (CLOCK_REALTIME ns). */
static void push_send(int fd, uint64_t sched)
{
	struct conn *c = &srv.conns[fd];
	uint64_t seq = ++c->push_seq;
	size_t len = push_encode(srv.push_buf, seq, sched, cfg.push.body);
	int first = c->order == 0;

	if (first && mutant("silent"))
		return;			/* it never gets one: no gap to see */
	if (first && seq == 2 && mutant("skip"))
		return;			/* a gap in its sequence */
	if (first && seq == 2 && mutant("corrupt"))
		srv.push_buf[len - 1] ^= 1;	/* -l 0 flips the sequence's low bit */
	if (first && seq == 2 && mutant("close")) {
		out_write(fd, srv.push_buf, len / 2);
		if (c->open)
			conn_close(fd);
		return;
	}
	if (out_write(fd, srv.push_buf, len) == 0)
		srv.pushes++;
}

/* A reply falls due: send it now, or after what is parked. */
static void reply_send(int fd, const uint8_t *frame)
{
	struct conn *c = &srv.conns[fd];

	if (mutant("split") && c->order == 0 && c->push_seq && !c->split_done) {
		c->split_done = 1;	/* a push inside the frame, not after it */
		if (out_write(fd, frame, FRAME_SIZE / 2) < 0)
			return;
		push_send(fd, clock_wall_ns());
		if (c->open)
			out_write(fd, frame + FRAME_SIZE / 2, FRAME_SIZE / 2);
		return;
	}
	out_write(fd, frame, FRAME_SIZE);
}

/* Push mode: push k is due D after its scheduled time, start + k STEP. */
static uint64_t push_due(void)
{
	return srv.push_mono0 + srv.push_k * srv.push_step + cfg.delay_ns;
}

/* Send every push due by `now`: to every connection (-b), or to the next
 * one in turn (-R). */
static void pushes_flush(uint64_t now)
{
	while (cfg.pushing && push_due() <= now) {
		uint64_t sched = srv.push_wall0 + srv.push_k * srv.push_step;

		if (cfg.push.every_s > 0) {
			for (long fd = 0; fd < srv.nconns; fd++)
				if (srv.conns[fd].open && fd != srv.lfd)
					push_send((int)fd, sched);
		} else {
			for (long i = 0; i < srv.nconns; i++) {
				srv.push_fd = (srv.push_fd + 1) % srv.nconns;
				if (srv.conns[srv.push_fd].open) {
					push_send((int)srv.push_fd, sched);
					break;
				}
			}
		}
		hist_record(&srv.lag, clock_ns() - thaw_time(push_due()));
		srv.push_k++;
	}
}

static void on_writable(int fd)
{
	struct conn *c = &srv.conns[fd];
	ssize_t w = send_some(fd, c->out + c->out_off, c->out_len - c->out_off);

	if (w < 0) {
		conn_close(fd);
		return;
	}
	c->out_off += (uint32_t)w;
	if (c->out_off < c->out_len)
		return;
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = c->out_cap = 0;
	watch(fd, EPOLLIN);
}

/* Read what is there; each frame completed is queued, due D from now. */
static void on_readable(int fd)
{
	struct conn *c = &srv.conns[fd];

	for (;;) {
		ssize_t n = recv(fd, srv.buf, sizeof(srv.buf), 0);
		uint64_t now = clock_ns();

		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
			conn_close(fd);		/* EOF or reset */
			return;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return;			/* EAGAIN: drained */
		for (ssize_t i = 0; i < n; i++) {
			c->frame[c->have++] = (uint8_t)srv.buf[i];
			if (cfg.flip && ++c->seen % cfg.flip == 0)
				c->frame[c->have - 1] ^= 1;	/* -X: a wrong echo */
			if (c->have == FRAME_SIZE) {
				queue_push(fd, c->frame, now, delay_for(c));
				srv.requests++;
				c->have = 0;
			}
		}
		if ((size_t)n < sizeof(srv.buf))
			return;
	}
}

/* Send every reply due by `now`, oldest first. */
static void replies_flush(uint64_t now)
{
	while (srv.q_len && srv.q[srv.q_head].due <= now) {
		struct reply *r = &srv.q[srv.q_head];

		srv.q_head = (srv.q_head + 1) % srv.q_cap;
		srv.q_len--;
		if (!srv.conns[r->fd].open || srv.conns[r->fd].gen != r->gen) {
			srv.dropped++;		/* its connection is gone */
			continue;
		}
		reply_send(r->fd, r->frame);
		srv.replies++;
		hist_record(&srv.lag, clock_ns() - thaw_time(r->due));
	}
}

/* ---- -K: a restart ---- */

/* When restart_step() next has something to do (UINT64_MAX: never). */
static uint64_t restart_due(void)
{
	if (!cfg.down_ns || !srv.first_accept || srv.up_at)
		return UINT64_MAX;
	return srv.down_at ? srv.down_at + cfg.down_ns : srv.first_accept + cfg.restart_at_ns;
}

/* Go down (close every connection and the listener), then come back up
 * on the same port. A failed listen is tried again on the next tick. */
static void restart_step(uint64_t now)
{
	struct epoll_event ev = { .events = EPOLLIN };

	if (now < restart_due())
		return;
	if (!srv.down_at) {
		/* The listener first, so that no reconnect lands in its
		 * backlog, handshaken but never accepted. */
		close(srv.lfd);		/* connects are refused from now on */
		srv.lfd = -1;
		for (long fd = 0; fd < srv.nconns; fd++)
			if (srv.conns[fd].open) {
				conn_close((int)fd);
				srv.restart_closed++;
			}
		srv.down_at = now;
		fprintf(stderr, "known_server: down: closed %ld connections and the listener\n",
			srv.restart_closed);
		return;
	}
	srv.lfd = net_listen(cfg.addr, cfg.port, 0, 4096);
	if (srv.lfd < 0) {
		warnx_("listen again %s:%d:", cfg.addr, cfg.port);
		return;
	}
	ev.data.fd = srv.lfd;
	if (epoll_ctl(srv.ep, EPOLL_CTL_ADD, srv.lfd, &ev) < 0)
		die("epoll_ctl:");
	srv.up_at = clock_ns();
	fprintf(stderr, "known_server: up again on %s:%d after %.0f ms\n", cfg.addr, cfg.port,
		(srv.up_at - srv.down_at) / 1e6);
}

/* ---- the loop ---- */

static void loop_run(void)
{
	struct epoll_event ev[MAX_EVENTS];
	uint64_t next_tick = clock_ns() + TICK_NS;
	uint64_t spin_ns = cfg.delay_ns / 8 < SPIN_NS ? cfg.delay_ns / 8 : SPIN_NS;

	while (!atomic_load(&sig_stop)) {
		uint64_t now = clock_ns(), wake = next_tick;
		struct timespec ts;
		int n;

		if (srv.q_len && srv.q[srv.q_head].due < wake)
			wake = srv.q[srv.q_head].due - spin_ns;	/* then poll */
		if (cfg.pushing && push_due() - spin_ns < wake)
			wake = push_due() - spin_ns;
		if (restart_due() < wake)
			wake = restart_due();
		wake = wake > now ? wake - now : 0;
		ts.tv_sec = (time_t)(wake / 1000000000ull);
		ts.tv_nsec = (long)(wake % 1000000000ull);
		n = epoll_pwait2(srv.ep, ev, MAX_EVENTS, &ts, NULL);
		if (n < 0 && errno != EINTR)
			die("epoll_pwait2:");
		freeze_wait(clock_ns());	/* frozen: nothing happens until it ends */
		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			if (fd == srv.lfd) {
				on_accept();
				continue;
			}
			if ((ev[i].events & EPOLLOUT) && srv.conns[fd].open)
				on_writable(fd);
			if ((ev[i].events & ~EPOLLOUT) && srv.conns[fd].open)
				on_readable(fd);
		}
		replies_flush(clock_ns());
		pushes_flush(clock_ns());
		restart_step(clock_ns());
		if (clock_ns() >= next_tick) {
			sig_wait(0);		/* SIGINT/SIGTERM pending? */
			next_tick = clock_ns() + TICK_NS;
		}
	}
}

/* ---- main ---- */

static void report(void)
{
	struct json j;

	json_begin(&j);
	json_str(&j, "design", "known_server");
	json_u64(&j, "delay_us", cfg.delay_ns / 1000);
	json_u64(&j, "period_ms", cfg.period_ns / 1000000);
	json_u64(&j, "freeze_ms", cfg.freeze_ns / 1000000);
	json_i64(&j, "stagger", cfg.stagger);
	json_u64(&j, "flip_every", cfg.flip);
	json_i64(&j, "conns_peak", srv.conns_peak);
	json_i64(&j, "accepted", srv.accepted);
	json_u64(&j, "restart_at_ms", cfg.restart_at_ns / 1000000);	/* -K */
	json_i64(&j, "restart_closed", srv.restart_closed);
	json_num(&j, "down_ms", srv.down_at ? ((srv.up_at ? srv.up_at : clock_ns()) -
					       srv.down_at) / 1e6 : 0);
	json_i64(&j, "restarted", srv.up_at != 0);
	json_u64(&j, "requests", srv.requests);
	json_u64(&j, "replies", srv.replies);
	json_u64(&j, "dropped", srv.dropped);
	json_num(&j, "push_every_s", cfg.push.every_s);
	json_num(&j, "push_rate", cfg.push.rate);
	json_u64(&j, "push_body", cfg.push.body);
	json_u64(&j, "pushes", srv.pushes);
	json_u64(&j, "push_rounds", cfg.pushing ? srv.push_k - 1 : 0);
	json_str(&j, "mutant", cfg.mutant ? cfg.mutant : "");
	json_obj(&j, "lag_us");
	json_num(&j, "p50", hist_quantile(&srv.lag, 0.5) / 1e3);
	json_num(&j, "p99", hist_quantile(&srv.lag, 0.99) / 1e3);
	json_num(&j, "max", srv.lag.max / 1e3);
	json_end(&j);
	json_end(&j);
	json_print(&j, stdout);
}

static void usage(void)
{
	printf("known_server: a c1m echo server with a known answer time, for tests\n\n"
	       "usage: known_server [-a ADDR] [-p PORT] [-D USEC] [-F PERIOD_MS:FREEZE_MS]\n"
	       "                    [-S COUNT] [-X EVERY] [-K AT_MS:DOWN_MS] [-b SEC | -R RATE]\n"
	       "                    [-l BYTES] [-M skip|corrupt|split|close|silent] [-h]\n\n"
	       "  -a ADDR   address to listen on (default %s)\n"
	       "  -p PORT   port (default %d; 0 picks a free one)\n"
	       "  -D USEC   answer each frame exactly USEC after it arrived (default 0)\n"
	       "  -F PERIOD_MS:FREEZE_MS  do nothing (no accept, read or write) for\n"
	       "            FREEZE_MS at the start of every PERIOD_MS from the start\n"
	       "  -S COUNT  stagger: the first frame of the k-th connection accepted\n"
	       "            waits (k mod COUNT)/COUNT of D more, so that closed-loop\n"
	       "            connections answer evenly over D, not all at once\n"
	       "  -X EVERY  echo wrongly: flip the low bit of byte EVERY, 2 EVERY, ...\n"
	       "            of each connection's stream (a test of the client's check)\n"
	       "  -b SEC    push k, scheduled at start + k SEC, to every connection,\n"
	       "            sent D (-D) after its scheduled time\n"
	       "  -R RATE   push k, scheduled at start + k / RATE, to the next\n"
	       "            connection in turn, sent D after its scheduled time\n"
	       "  -l BYTES  push body after its 24-byte header, 0..1M (default 8)\n"
	       "  -M NAME   push wrongly, once, on the first connection: skip or\n"
	       "            corrupt its push 2, split an echoed frame with a push,\n"
	       "            close it halfway through its push 2, or never push to\n"
	       "            it (silent)\n"
	       "  -K AT_MS:DOWN_MS  restart: AT_MS after the first accept close every\n"
	       "            connection and the listener, stay down DOWN_MS, listen again\n"
	       "  -h        this help\n\n"
	       "Prints \"known_server: listening on ADDR:PORT\" on stderr; at SIGTERM one\n"
	       "JSON line on stdout, exit 0. Exit 1: cannot listen; 2: bad usage.\n",
	       C1M_ADDR, C1M_PORT);
}

/* "-F PERIOD_MS:FREEZE_MS", 0 < FREEZE_MS < PERIOD_MS. */
static void parse_freeze(const char *val)
{
	const char *fs;
	char *end;
	long p, f;

	errno = 0;
	p = strtol(val, &end, 10);
	if (errno || end == val || *end != ':')
		arg_usage_error("-F: '%s' is not PERIOD_MS:FREEZE_MS", val);
	fs = end + 1;
	f = strtol(fs, &end, 10);
	if (errno || end == fs || *end)
		arg_usage_error("-F: '%s' is not PERIOD_MS:FREEZE_MS", val);
	if (p < 1 || p > 3600000 || f < 1 || f >= p)
		arg_usage_error("-F: need 0 < FREEZE_MS < PERIOD_MS <= 3600000, not %ld:%ld", p, f);
	cfg.period_ns = (uint64_t)p * 1000000;
	cfg.freeze_ns = (uint64_t)f * 1000000;
}

/* "-K AT_MS:DOWN_MS", 0 <= AT_MS, 0 < DOWN_MS, both at most an hour. */
static void parse_restart(const char *val)
{
	const char *ds;
	char *end;
	long at, down;

	errno = 0;
	at = strtol(val, &end, 10);
	if (errno || end == val || *end != ':')
		arg_usage_error("-K: '%s' is not AT_MS:DOWN_MS", val);
	ds = end + 1;
	down = strtol(ds, &end, 10);
	if (errno || end == ds || *end)
		arg_usage_error("-K: '%s' is not AT_MS:DOWN_MS", val);
	if (at < 0 || at > 3600000 || down < 1 || down > 3600000)
		arg_usage_error("-K: need 0 <= AT_MS and 0 < DOWN_MS, both <= 3600000, not %ld:%ld",
				at, down);
	cfg.restart_at_ns = (uint64_t)at * 1000000;
	cfg.down_ns = (uint64_t)down * 1000000;
}

static void parse(int argc, char **argv)
{
	int o;

	/* No arg_synopsis: a bad argument is one line. */
	while ((o = getopt(argc, argv, ":a:p:D:F:S:X:K:b:R:l:M:h")) != -1) {
		if (o == 'b' || o == 'R' || o == 'l') {
			push_arg(&cfg.push, o, optarg);
			continue;
		}
		switch (o) {
		case 'M':
			cfg.mutant = optarg;
			if (!mutant("skip") && !mutant("corrupt") && !mutant("split") && !mutant("close") &&
			    !mutant("silent"))
				arg_usage_error("-M: '%s' is not skip, corrupt, split, close or silent",
						optarg);
			break;
		case 'a': arg_ipv4(o, optarg); cfg.addr = optarg; break;
		case 'p': cfg.port = (int)arg_long(o, optarg, 0, 65535); break;
		case 'D': cfg.delay_ns = (uint64_t)arg_long(o, optarg, 0, 100000000) * 1000; break;
		case 'F': parse_freeze(optarg); break;
		case 'S': cfg.stagger = arg_long(o, optarg, 0, 1000000); break;
		case 'X': cfg.flip = (uint64_t)arg_long(o, optarg, 1, 1L << 40); break;
		case 'K': parse_restart(optarg); break;
		case 'h': usage(); exit(0);
		case ':': arg_usage_error("-%c needs a value", optopt);
		default: arg_usage_error("unknown option -%c", optopt);
		}
	}
	if (optind < argc)
		arg_usage_error("unexpected argument '%s'", argv[optind]);
	cfg.pushing = push_plan_check(&cfg.push);
	if (cfg.mutant && !cfg.pushing)
		arg_usage_error("-M %s: needs a push schedule (-b or -R)", cfg.mutant);
}

int main(int argc, char **argv)
{
	struct epoll_event ev = { .events = EPOLLIN };

	prog_init("known_server");
	parse(argc, argv);
	srv.lfd = net_listen(cfg.addr, cfg.port, 0, 4096);
	if (srv.lfd < 0)
		die("listen %s:%d:", cfg.addr, cfg.port);
	cfg.port = net_local_port(srv.lfd);
	signal(SIGUSR1, SIG_IGN);	/* a client's -P window mark is no stop */
	sig_setup();			/* SIGTERM waits for sig_wait() */
	prctl(PR_SET_TIMERSLACK, 1UL);	/* wake within ns, not the 50 us default */
	hist_init(&srv.lag);
	srv.nconns = fd_raise_limit(1 << 20);
	srv.conns = calloc((size_t)srv.nconns, sizeof(*srv.conns));
	srv.ep = epoll_create1(EPOLL_CLOEXEC);
	if (srv.ep < 0 || !srv.conns)
		die("setup:");
	ev.data.fd = srv.lfd;
	if (epoll_ctl(srv.ep, EPOLL_CTL_ADD, srv.lfd, &ev) < 0)
		die("epoll_ctl:");
	srv.start = clock_ns();
	if (cfg.pushing) {
		struct push_clock pc;

		push_clock_start(&pc, &cfg.push, 1);
		srv.push_step = pc.step_ns;
		srv.push_wall0 = clock_wall_ns();
		srv.push_mono0 = clock_ns();
		srv.push_k = 1;
		srv.push_buf = malloc(PUSH_HDR + cfg.push.body);
		if (!srv.push_buf)
			die("malloc:");
	}
	fprintf(stderr, "known_server: listening on %s:%d, delay %llu us, ", cfg.addr,
		cfg.port, (unsigned long long)(cfg.delay_ns / 1000));
	if (cfg.freeze_ns)
		fprintf(stderr, "frozen %llu ms of every %llu ms\n",
			(unsigned long long)(cfg.freeze_ns / 1000000),
			(unsigned long long)(cfg.period_ns / 1000000));
	else
		fprintf(stderr, "no freeze\n");

	loop_run();
	report();
	return 0;
}
