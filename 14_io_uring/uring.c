/*
 * uring.c - io_uring by hand: the three system calls (io_uring_setup,
 * io_uring_enter, io_uring_register) and the shared-memory rings they set
 * up, in as few lines as it takes. See uring.h for the contract.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "c1m.h"
#include "uring.h"


static int sys_setup(unsigned entries, struct io_uring_params *p)
{
	return (int)syscall(__NR_io_uring_setup, entries, p);
}

static int sys_enter(int fd, unsigned submit, unsigned wait_nr, unsigned flags,
		     void *arg, size_t argsz)
{
	return (int)syscall(__NR_io_uring_enter, fd, submit, wait_nr, flags, arg, argsz);
}

static int sys_register(int fd, unsigned op, void *arg, unsigned nr)
{
	return (int)syscall(__NR_io_uring_register, fd, op, arg, nr);
}

/* ---- availability ---- */

static void skip(const char *what, int err)
{
	char sysctl[16] = "?";
	FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "r");

	if (f) {
		if (!fgets(sysctl, sizeof(sysctl), f))
			strcpy(sysctl, "?");
		sysctl[strcspn(sysctl, "\n")] = '\0';
		fclose(f);
	}
	fprintf(stderr, "%s: io_uring unavailable: %s: %s (kernel.io_uring_disabled=%s)\n",
		prog_name, what, strerror(err), sysctl);
	exit(77);
}

void uring_check(void)
{
	struct uring r;
	struct uring_bufs b;

	if (uring_init(&r, 4, 8, 0) < 0)
		skip("io_uring_setup", errno);
	if (uring_bufs_init(&r, &b, 0, 1, 64) < 0)
		skip("provided-buffer ring (needs Linux 5.19)", errno);
	uring_bufs_exit(&b);
	uring_exit(&r);
}

/* ---- the ring ---- */

static int map_rings(struct uring *r, const struct io_uring_params *p)
{
	r->sq_map_len = p->sq_off.array + p->sq_entries * sizeof(unsigned);
	r->cq_map_len = p->cq_off.cqes + p->cq_entries * sizeof(struct io_uring_cqe);
	if (p->features & IORING_FEAT_SINGLE_MMAP) {
		if (r->cq_map_len > r->sq_map_len)
			r->sq_map_len = r->cq_map_len;
		r->cq_map_len = 0;	/* one mapping holds both */
	}
	r->sq_map = mmap(NULL, r->sq_map_len, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
	if (r->sq_map == MAP_FAILED)
		return -1;
	r->cq_map = r->sq_map;
	if (r->cq_map_len) {
		r->cq_map = mmap(NULL, r->cq_map_len, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_CQ_RING);
		if (r->cq_map == MAP_FAILED)
			return -1;
	}
	r->sqes_len = p->sq_entries * sizeof(struct io_uring_sqe);
	r->sqes = mmap(NULL, r->sqes_len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
	return r->sqes == MAP_FAILED ? -1 : 0;
}

int uring_init(struct uring *r, unsigned entries, unsigned cq_entries, unsigned flags)
{
	struct io_uring_params p;
	char *sq, *cq;

	memset(r, 0, sizeof(*r));
	memset(&p, 0, sizeof(p));
	p.flags = flags | IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
	p.cq_entries = cq_entries;
	r->fd = sys_setup(entries, &p);
	if (r->fd < 0)
		return -1;
	r->setup_flags = p.flags;
	r->features = p.features;
	if (map_rings(r, &p) < 0) {
		int err = errno;

		uring_exit(r);
		errno = err;
		return -1;
	}
	sq = r->sq_map;
	cq = r->cq_map;
	r->sq_head = (unsigned *)(sq + p.sq_off.head);
	r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
	r->sq_mask = *(unsigned *)(sq + p.sq_off.ring_mask);
	r->sq_entries = p.sq_entries;
	r->sqe_tail = *r->sq_tail;
	/* The indirection array maps ring slot i to sqes[i], once for all. */
	for (unsigned i = 0; i < p.sq_entries; i++)
		((unsigned *)(sq + p.sq_off.array))[i] = i;
	r->cq_head = (unsigned *)(cq + p.cq_off.head);
	r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
	r->cq_mask = *(unsigned *)(cq + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	return 0;
}

void uring_exit(struct uring *r)
{
	if (r->sqes && r->sqes != MAP_FAILED)
		munmap(r->sqes, r->sqes_len);
	if (r->cq_map_len && r->cq_map && r->cq_map != MAP_FAILED)
		munmap(r->cq_map, r->cq_map_len);
	if (r->sq_map && r->sq_map != MAP_FAILED)
		munmap(r->sq_map, r->sq_map_len);
	if (r->fd >= 0)
		close(r->fd);	/* the kernel cancels whatever is still in flight */
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

/* ---- submitting and waiting ---- */

/* Publish the new entries and enter the kernel once. */
static int enter(struct uring *r, unsigned wait_nr, unsigned flags, void *arg, size_t argsz)
{
	unsigned submit;
	int ret;

	__atomic_store_n(r->sq_tail, r->sqe_tail, __ATOMIC_RELEASE);
	submit = r->sqe_tail - __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE);
	r->enters++;
	ret = sys_enter(r->fd, submit, wait_nr, flags, arg, argsz);
	/* A timeout, a signal, a completion queue still overflowing: none is
	 * an error; the caller looks at the completion queue again. */
	if (ret < 0 && errno != ETIME && errno != EINTR && errno != EAGAIN && errno != EBUSY)
		return -1;
	return 0;
}

struct io_uring_sqe *uring_sqe(struct uring *r, uint8_t op, int fd, uint64_t user_data)
{
	struct io_uring_sqe *sqe;

	while (r->sqe_tail - __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE) >= r->sq_entries)
		if (enter(r, 0, 0, NULL, 0) < 0)
			return NULL;	/* full, and the kernel takes nothing */
	sqe = &r->sqes[r->sqe_tail & r->sq_mask];
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = op;
	sqe->fd = fd;
	sqe->user_data = user_data;
	r->sqe_tail++;
	return sqe;
}

int uring_enter(struct uring *r, unsigned wait_nr, unsigned min_wait_us, int timeout_ms)
{
	struct __kernel_timespec ts = {
		.tv_sec = timeout_ms / 1000,
		.tv_nsec = (timeout_ms % 1000) * 1000000L,
	};
	struct io_uring_getevents_arg arg = {
		.sigmask_sz = _NSIG / 8,
		.ts = (uint64_t)(uintptr_t)&ts,
	};

	if (!(r->features & IORING_FEAT_MIN_TIMEOUT)) {
		min_wait_us = 0;
		if (wait_nr > 1)
			wait_nr = 1;
	}
	memcpy(&arg.pad, &min_wait_us, sizeof(arg.pad));	/* min_wait_usec */

	return enter(r, wait_nr, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG,
		     &arg, sizeof(arg));
}

int uring_submit(struct uring *r)
{
	return enter(r, 0, 0, NULL, 0);
}

/* ---- provided buffers ---- */

int uring_bufs_init(struct uring *r, struct uring_bufs *b, uint16_t group,
		    unsigned count, unsigned size)
{
	struct io_uring_buf_reg reg = { .ring_entries = count, .bgid = group };
	size_t ring_len = count * sizeof(struct io_uring_buf);

	memset(b, 0, sizeof(*b));
	b->ring = mmap(NULL, ring_len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	b->mem = mmap(NULL, (size_t)count * size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	b->count = count;
	b->size = size;
	b->mask = count - 1;
	b->group = group;
	if (b->ring == MAP_FAILED || b->mem == MAP_FAILED)
		goto fail;
	reg.ring_addr = (uint64_t)(uintptr_t)b->ring;
	if (sys_register(r->fd, IORING_REGISTER_PBUF_RING, &reg, 1) < 0)
		goto fail;
	for (unsigned i = 0; i < count; i++)
		uring_buf_give(b, i);
	uring_bufs_publish(b);
	return 0;
fail:
	{
		int err = errno;

		uring_bufs_exit(b);
		errno = err;
		return -1;
	}
}

void uring_bufs_exit(struct uring_bufs *b)
{
	if (b->ring && b->ring != MAP_FAILED)
		munmap(b->ring, b->count * sizeof(struct io_uring_buf));
	if (b->mem && b->mem != MAP_FAILED)
		munmap(b->mem, (size_t)b->count * b->size);
	memset(b, 0, sizeof(*b));
}

void uring_buf_give(struct uring_bufs *b, unsigned id)
{
	struct io_uring_buf *e = &b->ring->bufs[b->tail & b->mask];

	e->addr = (uint64_t)(uintptr_t)uring_buf(b, id);
	e->len = b->size;
	e->bid = (uint16_t)id;
	b->tail++;
	b->avail++;
}
