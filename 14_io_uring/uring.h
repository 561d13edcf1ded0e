/*
 * uring.h - the few lines of io_uring plumbing a program needs without
 * liburing: set up a ring with the raw system calls, hand out submission
 * entries, submit and wait in one call, walk the completions, and keep a
 * ring of provided buffers. No step of the design is here: what to
 * submit, and what a completion means, is all in server.c.
 *
 * As in common/, nothing here exits except uring_check(); the others
 * return -1 with errno set.
 */
#ifndef C1M_URING_H
#define C1M_URING_H

#include <linux/io_uring.h>
#include <stddef.h>
#include <stdint.h>

/* Linux 6.12; the header here may be older (min_wait_usec was "pad"). */
#ifndef IORING_FEAT_MIN_TIMEOUT
#define IORING_FEAT_MIN_TIMEOUT	(1U << 15)
#endif

/*
 * Exit 77 ("skipped") with one line on stderr if this process cannot use
 * io_uring as 14 does: kernel.io_uring_disabled, a seccomp filter, or a
 * kernel without provided-buffer rings (5.19) or multishot receive (6.0).
 */
void uring_check(void);

/* One ring, owned by one thread. */
struct uring {
	int fd;
	unsigned setup_flags;		/* the IORING_SETUP_* that took */
	unsigned features;		/* IORING_FEAT_* of this kernel */
	/* submission queue: we fill sqes[] and move *sq_tail */
	unsigned *sq_head, *sq_tail, sq_mask, sq_entries;
	struct io_uring_sqe *sqes;
	unsigned sqe_tail;		/* next free entry, not yet published */
	/* completion queue: the kernel fills cqes[] and moves *cq_tail */
	unsigned *cq_head, *cq_tail, cq_mask;
	struct io_uring_cqe *cqes;
	void *sq_map, *cq_map;
	size_t sq_map_len, cq_map_len, sqes_len;
	uint64_t enters;		/* io_uring_enter() calls made */
};

/*
 * Set up a ring of `entries` submissions and `cq_entries` completions
 * (powers of two) with the IORING_SETUP_* in `flags` (the caller's
 * choice, e.g. SINGLE_ISSUER | DEFER_TASKRUN); -1 with EINVAL if this
 * kernel does not know one of them. Call it from the thread that will
 * use the ring.
 */
int uring_init(struct uring *r, unsigned entries, unsigned cq_entries, unsigned flags);
void uring_exit(struct uring *r);

/*
 * A zeroed submission entry for `op` on `fd`, carrying user_data back in
 * its completion. It goes to the kernel with the next uring_enter(); if
 * the queue is full, what is queued is submitted first. NULL only if that
 * submit failed.
 */
struct io_uring_sqe *uring_sqe(struct uring *r, uint8_t op, int fd, uint64_t user_data);

/*
 * Submit everything queued and wait until at least `wait_nr` completions
 * are ready or timeout_ms passes: one system call for the whole batch.
 * With min_wait_us, stop waiting for the whole batch after that long if
 * at least one completion is ready (Linux 6.12; older kernels wait for
 * one completion instead). Returns 0 (also on a timeout or a signal: look
 * at the completion queue again), or -1 with errno on a real error.
 */
int uring_enter(struct uring *r, unsigned wait_nr, unsigned min_wait_us, int timeout_ms);

/* Submit everything queued, without waiting: one system call. */
int uring_submit(struct uring *r);

/* Completions ready to read, oldest first: uring_cqe(r, 0 .. n-1). */
static inline unsigned uring_cq_ready(const struct uring *r)
{
	return __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE) - *r->cq_head;
}

static inline struct io_uring_cqe *uring_cqe(const struct uring *r, unsigned i)
{
	return &r->cqes[(*r->cq_head + i) & r->cq_mask];
}

/* Done with n completions: their slots go back to the kernel. */
static inline void uring_cq_advance(struct uring *r, unsigned n)
{
	__atomic_store_n(r->cq_head, *r->cq_head + n, __ATOMIC_RELEASE);
}

/*
 * A provided-buffer ring (IORING_REGISTER_PBUF_RING): `count` buffers of
 * `size` bytes the kernel picks from when a receive with
 * IOSQE_BUFFER_SELECT finds data, and not before. The buffer's id comes
 * back in the completion (cqe->flags >> IORING_CQE_BUFFER_SHIFT); from then
 * on the buffer is the program's until it gives it back. An empty ring
 * makes such a receive fail with ENOBUFS.
 */
struct uring_bufs {
	struct io_uring_buf_ring *ring;	/* shared with the kernel */
	char *mem;			/* count * size bytes */
	unsigned count, size, mask;
	uint16_t group;			/* sqe->buf_group */
	uint16_t tail;			/* ours; published by uring_bufs_publish */
	unsigned avail;			/* buffers in the ring (published or not) */
};

/* Register the ring as buffer group `group`, every buffer in it. */
int uring_bufs_init(struct uring *r, struct uring_bufs *b, uint16_t group,
		    unsigned count, unsigned size);
void uring_bufs_exit(struct uring_bufs *b);

static inline char *uring_buf(const struct uring_bufs *b, unsigned id)
{
	return b->mem + (size_t)id * b->size;
}

/* The kernel took a buffer (a completion said so). */
static inline void uring_buf_taken(struct uring_bufs *b)
{
	b->avail--;
}

/* Give buffer `id` back; the kernel sees it after uring_bufs_publish(). */
void uring_buf_give(struct uring_bufs *b, unsigned id);

static inline void uring_bufs_publish(struct uring_bufs *b)
{
	__atomic_store_n(&b->ring->tail, b->tail, __ATOMIC_RELEASE);
}

#endif
