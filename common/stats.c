/*
 * stats.c - what a server's main thread does while its loops work: print a
 * line of stats every interval, wait for SIGINT/SIGTERM, and build the
 * result JSON. Counters live in per-thread slots (see c1m.h).
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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
	struct mark { uint64_t ns, req, pushes; double user, sys; } mark[2];	/* the last two */
	const struct push_plan *push;	/* stats_set_push */
	int marks;
	int children;			/* stats_set_children */
	long rss_kb_children;
} st;

void stats_set_line(void (*fn)(FILE *f))
{
	st.line = fn;
}

void stats_set_push(const struct push_plan *p)
{
	st.push = p;
}

void stats_set_children(long rss_kb_children)
{
	st.children = 1;
	st.rss_kb_children = rss_kb_children;
}

/* CPU of this process and its children, running or reaped (/proc: a
 * prefork parent's children are not reaped until the end). */
static void tree_cpu(double *user, double *sys)
{
	struct rusage ru;
	struct dirent *d;
	DIR *dir = opendir("/proc");
	double hz = (double)sysconf(_SC_CLK_TCK);

	proc_cpu(user, sys);
	getrusage(RUSAGE_CHILDREN, &ru);
	*user += ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
	*sys += ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	while (dir && (d = readdir(dir))) {
		char path[300], buf[512], *p;
		unsigned long ut, stime;
		int ppid;
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%s/stat", d->d_name);
		if (d->d_name[0] < '1' || d->d_name[0] > '9' || !(f = fopen(path, "r")))
			continue;
		p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
		fclose(f);
		/* ") S ppid pgrp session tty tpgid flags minflt cminflt majflt
		 * cmajflt utime stime" */
		if (p && sscanf(p, ") %*c %d %*s %*s %*s %*s %*s %*s %*s %*s %*s %lu %lu",
				&ppid, &ut, &stime) == 3 && ppid == getpid()) {
			*user += ut / hz;
			*sys += stime / hz;
		}
	}
	if (dir)
		closedir(dir);
}

static uint64_t sum(size_t off);

/* SIGUSR1 (sig_wait): a client opened or closed its window. */
static void stats_mark(void)
{
	st.mark[0] = st.mark[1];
	st.mark[1] = (struct mark){ .ns = clock_ns(), .req = stats_requests(),
				    .pushes = sum(offsetof(struct stats_slot, pushes)) };
	tree_cpu(&st.mark[1].user, &st.mark[1].sys);
	st.marks++;
	fprintf(stderr, "%s: window mark %d: %llu requests so far\n", prog_name, st.marks,
		(unsigned long long)st.mark[1].req);
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
	sig_mark = stats_mark;
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
	double user, sys;
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
	if (st.push) {			/* push mode: what the server wrote first */
		json_num(j, "push_every_s", st.push->every_s);
		json_num(j, "push_rate", st.push->rate);
		json_u64(j, "push_body", st.push->body);
		json_u64(j, "push_queue_max", st.push->queue_max);
		json_u64(j, "pushes_sent", sum(offsetof(struct stats_slot, pushes)));
		json_u64(j, "push_bytes", sum(offsetof(struct stats_slot, push_bytes)));
		json_u64(j, "slow_dropped", sum(offsetof(struct stats_slot, slow_dropped)));
	}
	tree_cpu(&user, &sys);		/* the whole run, children too */
	json_num(j, "cpu_user_s", user);
	json_num(j, "cpu_sys_s", sys);
	if (st.marks >= 2) {		/* the window between the last two marks */
		struct mark *a = &st.mark[0], *b = &st.mark[1];
		double s = (b->ns - a->ns) / 1e9, cpu = b->user - a->user + b->sys - a->sys;

		json_num(j, "window_s", s);
		json_u64(j, "window_requests", b->req - a->req);
		json_num(j, "window_rps", s > 0 ? (b->req - a->req) / s : 0);
		json_num(j, "server_us_per_rt", b->req > a->req ? cpu * 1e6 / (b->req - a->req) : 0);
		if (st.push) {
			json_u64(j, "window_pushes", b->pushes - a->pushes);
			json_num(j, "server_us_per_push", b->pushes > a->pushes ?
				 cpu * 1e6 / (b->pushes - a->pushes) : 0);
		}
		json_obj(j, "cpu_window");
		json_num(j, "user_s", b->user - a->user);
		json_num(j, "sys_s", b->sys - a->sys);
		json_end(j);
	}
}

void stats_conn_closed(struct stats_slot *st, int err)
{
	atomic_fetch_sub_explicit(&st->conns, 1, memory_order_relaxed);
	if (err == ECONNRESET || err == EPIPE)
		atomic_fetch_add_explicit(&st->resets, 1, memory_order_relaxed);
	else if (err)
		atomic_fetch_add_explicit(&st->errors, 1, memory_order_relaxed);
}
