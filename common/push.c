/*
 * push.c - the push frame and the push flags: what a server that speaks
 * first writes, and what the client checks. Which socket gets a push,
 * when, from which thread, and what happens when it cannot be written
 * are steps of each design and stay in its own directory.
 *
 * A push on the wire (big-endian words):
 *   0..7    PUSH_FLAG | total bytes of this push (PUSH_HDR + body)
 *   8..15   its scheduled time, CLOCK_REALTIME ns
 *   16..23  its sequence on this connection: 1, 2, 3, ...
 *   24..    body: byte at offset i (counted from the push's first byte)
 *           is push_byte(seq, i)
 * An echoed frame starts with the client's timestamp, whose top bit is
 * never set, so the first word tells the two apart.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "c1m.h"

static void put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static uint64_t get_be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

unsigned char push_byte(uint64_t seq, size_t off)
{
	return (unsigned char)(seq * 131 + off * 7 + (off >> 8));
}

size_t push_encode(unsigned char *buf, uint64_t seq, uint64_t sched_ns, size_t body)
{
	size_t len = PUSH_HDR + body;

	put_be64(buf, PUSH_FLAG | len);
	put_be64(buf + 8, sched_ns);
	put_be64(buf + 16, seq);
	for (size_t i = PUSH_HDR; i < len; i++)
		buf[i] = push_byte(seq, i);
	return len;
}

int push_header(const unsigned char *p, size_t *len, uint64_t *seq, uint64_t *sched_ns)
{
	uint64_t w = get_be64(p);

	if (!(w & PUSH_FLAG))
		return 0;
	w &= ~PUSH_FLAG;
	if (w < PUSH_HDR || w > PUSH_HDR + PUSH_BODY_MAX)
		return -1;
	*len = (size_t)w;
	*sched_ns = get_be64(p + 8);
	*seq = get_be64(p + 16);
	return 1;
}

int push_arg(struct push_plan *p, int opt, const char *val)
{
	switch (opt) {
	case 'b':
		p->every_s = arg_seconds(opt, val, 86400);
		if (p->every_s <= 0)
			arg_usage_error("-b: '%s': a broadcast period must be over 0 s", val);
		return 1;
	case 'R': {
		char *end;

		errno = 0;
		p->rate = strtod(val, &end);
		if (errno || end == val || *end || !isfinite(p->rate) || p->rate <= 0 ||
		    p->rate > 1e8)
			arg_usage_error("-R: '%s' is not a rate in messages/s over 0 and up to 1e8",
					val);
		return 1;
	}
	case 'l':
		p->body = (size_t)arg_long(opt, val, 0, PUSH_BODY_MAX);
		return 1;
	case 'Q':
		p->queue_max = (size_t)arg_long(opt, val, PUSH_HDR, 1L << 30);
		return 1;
	}
	return 0;
}

int push_plan_check(struct push_plan *p)
{
	if (p->every_s > 0 && p->rate > 0)
		arg_usage_error("-b and -R: choose one push schedule");
	if (!p->queue_max)
		p->queue_max = PUSH_QUEUE_DEFAULT;
	if (p->queue_max < PUSH_HDR + p->body)
		arg_usage_error("-Q %zu: below one push of %zu bytes (-l %zu)",
				p->queue_max, PUSH_HDR + p->body, p->body);
	return p->every_s > 0 || p->rate > 0;
}

void push_clock_start(struct push_clock *c, const struct push_plan *p, int shares)
{
	c->t0 = clock_wall_ns();
	c->k = 1;
	if (p->every_s > 0)
		c->step_ns = (uint64_t)llround(p->every_s * 1e9);
	else
		c->step_ns = (uint64_t)llround(1e9 * (shares > 0 ? shares : 1) / p->rate);
	if (!c->step_ns)
		c->step_ns = 1;
}

uint64_t push_clock_due(const struct push_clock *c)
{
	return c->t0 + c->k * c->step_ns;
}

void push_clock_next(struct push_clock *c)
{
	c->k++;
}

void push_clock_share(struct push_clock *c, const struct push_plan *p, long mine, long all)
{
	if (mine <= 0 || all < mine)
		return;
	c->t0 = push_clock_due(c);
	c->k = 0;
	c->step_ns = (uint64_t)llround(1e9 * (double)all / ((double)mine * p->rate));
	if (!c->step_ns)
		c->step_ns = 1;
}
