/*
 * stats.c - what a server's main thread does while its loops work: print a
 * line of stats every interval, wait for SIGINT/SIGTERM, and build the
 * result JSON. Counters live in per-thread slots (see c1m.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "c1m.h"

static struct {
	const char *name;
	struct stats_slot *slots;
	int nslots;
	double interval;
	long peak;
	uint64_t first_ns, last_ns;	/* the busy window */
	uint64_t start_ns;
	void (*line)(FILE *f);		/* stats_set_line */
	int children;			/* stats_set_children */
	long rss_kb_children;
} st;

void stats_set_line(void (*fn)(FILE *f))
{
	st.line = fn;
}

void stats_set_children(long rss_kb_children)
{
	st.children = 1;
	st.rss_kb_children = rss_kb_children;
}

/* cpu_user_s, cpu_sys_s: this process, plus its reaped children if asked. */
static void json_cpu_all(struct json *j)
{
	struct rusage ru;
	double user, sys;

	if (!st.children) {
		json_cpu(j);
		return;
	}
	proc_cpu(&user, &sys);
	getrusage(RUSAGE_CHILDREN, &ru);
	json_num(j, "cpu_user_s", user + ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6);
	json_num(j, "cpu_sys_s", sys + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
}

struct stats_slot *stats_init(const char *name, int nslots, double interval_s)
{
	size_t len = (size_t)nslots * sizeof(struct stats_slot);

	st.slots = mmap(NULL, len, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (st.slots == MAP_FAILED)
		die("mmap %zu bytes of stats:", len);
	st.name = name;
	st.nslots = nslots;
	st.interval = interval_s;
	st.start_ns = clock_ns();
	return st.slots;
}

static uint64_t sum(size_t off)
{
	uint64_t s = 0;

	for (int i = 0; i < st.nslots; i++)
		s += atomic_load_explicit((atomic_ulong *)((char *)&st.slots[i] + off),
					  memory_order_relaxed);
	return s;
}

long stats_conns(void)
{
	return (long)sum(offsetof(struct stats_slot, conns));
}

uint64_t stats_requests(void)
{
	return sum(offsetof(struct stats_slot, bytes)) / FRAME_SIZE;
}

/* The meter between ticks: the last interval line and the last tick. */
static struct {
	uint64_t last, last_req;
	uint64_t prev_tick, tick_req;
} meter;

void stats_tick(void)
{
	uint64_t now = clock_ns(), req = stats_requests();
	long conns = stats_conns();

	if (!meter.last)
		meter.last = meter.prev_tick = st.start_ns;
	if (conns > st.peak)
		st.peak = conns;
	if (req > meter.tick_req) {
		if (!st.first_ns)
			st.first_ns = meter.prev_tick;
		st.last_ns = now;
	}
	meter.tick_req = req;
	meter.prev_tick = now;
	if ((now - meter.last) / 1e9 >= st.interval) {
		fprintf(stderr, "conns %ld  rps %.0f  accepted %llu  resets %llu  errors %llu",
			conns, (req - meter.last_req) / ((now - meter.last) / 1e9),
			(unsigned long long)sum(offsetof(struct stats_slot, accepted)),
			(unsigned long long)sum(offsetof(struct stats_slot, resets)),
			(unsigned long long)sum(offsetof(struct stats_slot, errors)));
		if (st.line)
			st.line(stderr);
		fputc('\n', stderr);
		meter.last = now;
		meter.last_req = req;
	}
}

int stats_run(int (*tick)(void))
{
	int sig = 0;

	while (!sig) {
		sig = sig_wait(0.1);
		if (!sig && tick && tick())
			break;
		stats_tick();
	}
	atomic_store(&sig_stop, 1);
	return sig;
}

void stats_json(struct json *j)
{
	uint64_t req = stats_requests();
	double busy = st.last_ns > st.first_ns ? (st.last_ns - st.first_ns) / 1e9 : 0;

	json_str(j, "design", st.name);
	json_i64(j, "conns_peak", st.peak);
	json_u64(j, "requests", req);
	json_num(j, "rps", busy > 0 ? req / busy : 0);
	json_num(j, "busy_s", busy);
	json_num(j, "uptime_s", (clock_ns() - st.start_ns) / 1e9);
	json_u64(j, "accepted", sum(offsetof(struct stats_slot, accepted)));
	json_u64(j, "errors", sum(offsetof(struct stats_slot, errors)));
	json_u64(j, "resets", sum(offsetof(struct stats_slot, resets)));
	json_u64(j, "work", sum(offsetof(struct stats_slot, work)));
	json_i64(j, "rss_kb_peak", proc_rss_peak_kb() + st.rss_kb_children);
	if (st.children)
		json_i64(j, "rss_kb_children", st.rss_kb_children);
	json_cpu_all(j);
}

void stats_conn_closed(struct stats_slot *st, int err)
{
	atomic_fetch_sub_explicit(&st->conns, 1, memory_order_relaxed);
	if (err == ECONNRESET || err == EPIPE)
		atomic_fetch_add_explicit(&st->resets, 1, memory_order_relaxed);
	else if (err)
		atomic_fetch_add_explicit(&st->errors, 1, memory_order_relaxed);
}
