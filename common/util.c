/*
 * util.c - errors, clock, command-line values, process stats, signals and
 * fd tables: the plumbing every c1m program needs.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "c1m.h"

const char *prog_name = "c1m";
const char *arg_synopsis;
atomic_int sig_stop;
void (*sig_mark)(void);

/* "06_multi_epoll_server/server" stays as typed: it says which program. */
void prog_init(const char *argv0)
{
	const char *p = argv0 ? argv0 : "c1m";

	if (strncmp(p, "./", 2) == 0)
		p += 2;
	prog_name = p;
}

static void vmsg(const char *fmt, va_list ap)
{
	size_t n = strlen(fmt);
	int err = errno;

	fprintf(stderr, "%s: ", prog_name);
	vfprintf(stderr, fmt, ap);
	if (n && fmt[n - 1] == ':')
		fprintf(stderr, " %s", strerror(err));
	fputc('\n', stderr);
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	exit(1);
}

void warnx_(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

/* ---- clock ---- */

uint64_t clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t clock_wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- command-line values ---- */

void arg_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (arg_synopsis)
		fprintf(stderr, "%s (-h for help)\n", arg_synopsis);
	exit(2);
}

long arg_long(int opt, const char *val, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(val, &end, 10);
	if (errno || end == val || *end || v < min || v > max)
		arg_usage_error("-%c: '%s' is not a whole number in %ld..%ld",
				opt, val, min, max);
	return v;
}

double arg_seconds(int opt, const char *val, double max)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(val, &end);
	if (errno || end == val || *end || !isfinite(v) || v < 0 || v > max)
		arg_usage_error("-%c: '%s' is not a number of seconds in 0..%g",
				opt, val, max);
	return v;
}

struct in_addr arg_ipv4(int opt, const char *val)
{
	struct in_addr a;

	if (inet_pton(AF_INET, val, &a) != 1)
		arg_usage_error("-%c: '%s' is not an IPv4 address", opt, val);
	return a;
}

void arg_ipv4_range(int opt, const char *val, uint32_t *first, uint32_t *last)
{
	char buf[64];
	char *dash;

	if (strlen(val) >= sizeof(buf))
		arg_usage_error("-%c: '%s' is not FIRST[-LAST]", opt, val);
	strcpy(buf, val);
	dash = strchr(buf, '-');
	if (dash)
		*dash++ = '\0';
	*first = ntohl(arg_ipv4(opt, buf).s_addr);
	*last = dash ? ntohl(arg_ipv4(opt, dash).s_addr) : *first;
	if (*last < *first)
		arg_usage_error("-%c: '%s': LAST is below FIRST", opt, val);
}

/* ---- process stats ---- */

void proc_cpu(double *user_s, double *sys_s)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	*user_s = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
	*sys_s = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

long proc_file_long(const char *path, const char *key)
{
	char line[256];
	size_t n = strlen(key);
	long v = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, n) == 0) {
			v = strtol(line + n, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static long status_kb(const char *key)
{
	return proc_file_long("/proc/self/status", key);
}

long proc_rss_kb(void)
{
	return status_kb("VmRSS:");
}

long proc_rss_peak_kb(void)
{
	return status_kb("VmHWM:");
}

/* ---- signals ---- */

static sigset_t stop_set(void)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGINT);
	sigaddset(&s, SIGTERM);
	sigaddset(&s, SIGUSR1);
	return s;
}

void sig_setup(void)
{
	sigset_t s = stop_set();

	signal(SIGPIPE, SIG_IGN);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
}

int sig_wait(double timeout_s)
{
	sigset_t s = stop_set();
	struct timespec ts;
	int sig;

	if (timeout_s < 0)
		timeout_s = 0;
	ts.tv_sec = (time_t)timeout_s;
	ts.tv_nsec = (long)((timeout_s - (double)ts.tv_sec) * 1e9);
	do {
		sig = sigtimedwait(&s, NULL, &ts);
		if (sig == SIGUSR1 && sig_mark)
			sig_mark();
	} while ((sig < 0 && errno == EINTR) || sig == SIGUSR1);
	if (sig > 0) {
		atomic_store(&sig_stop, 1);
		return sig;
	}
	return 0;
}

/* ---- file descriptors ---- */

long fd_raise_limit(long want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -1;
	if ((rlim_t)want > rl.rlim_max) {
		struct rlimit up = { (rlim_t)want, (rlim_t)want };

		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			return want;
		/* No CAP_SYS_RESOURCE (a container): settle for the hard cap. */
	}
	if (rl.rlim_cur < rl.rlim_max && rl.rlim_cur < (rlim_t)want) {
		rl.rlim_cur = (rlim_t)want < rl.rlim_max ? (rlim_t)want : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	return rl.rlim_cur == RLIM_INFINITY ? LONG_MAX : (long)rl.rlim_cur;
}

/* A ThreadSanitizer build: gcc says __SANITIZE_THREAD__, clang __has_feature. */
#if defined(__SANITIZE_THREAD__)
#define C1M_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define C1M_TSAN 1
#endif
#endif

#ifdef C1M_TSAN
/*
 * TSan reads its suppressions from here at start. EPOLL_CTL_MOD is no
 * release point to TSan (only EPOLL_CTL_ADD is), so re-arming an
 * EPOLLONESHOT fd in one thread and closing it in the thread that gets its
 * next event looks like a race on the fd. The kernel orders the two (the
 * event cannot come before the re-arm); the only access TSan checks in
 * epoll_ctl is that of the fd, so nothing else is hidden.
 */
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
	return "race_top:epoll_ctl\n";
}
#endif

int fd_private_table(void)
{
#ifdef C1M_TSAN
	return 1;	/* see c1m.h: under TSan the table stays shared */
#else
	return unshare(CLONE_FILES);
#endif
}

int fd_loops_for(long conns, long limit, long reserve, int min_loops)
{
	long per = limit - reserve;
	long loops;

	if (per < 1)
		per = 1;
	loops = (conns + per - 1) / per;
	if (loops < min_loops)
		loops = min_loops;
	return loops > 4096 ? 4096 : (int)loops;
}

long fd_size_loops(long conns, long reserve, int *loops)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	long limit = fd_raise_limit(conns ? conns + reserve : 1 << 20);
	long per = limit - reserve;

	/* 1/8 to spare: SO_REUSEPORT spreads connections by a hash, not
	 * evenly. At 1M in 51 tables of 19,968 one table filled up, and 4
	 * connections waited in its listener's queue for good (2026-12-01). */
	if (!*loops)
		*loops = fd_loops_for(conns + conns / 8, limit, reserve, ncpu > 0 ? (int)ncpu : 1);
	if (conns > per * *loops)
		arg_usage_error("-n %ld does not fit in %d fd tables of %ld "
				"(RLIMIT_NOFILE %ld): raise -c", conns, *loops, per, limit);
	return limit;
}

long fd_one_table(long reserve, long *fd_limit)
{
	struct rlimit rl;
	long limit = fd_raise_limit(1 << 20);	/* fs.nr_open's default */

	getrlimit(RLIMIT_NOFILE, &rl);
	fprintf(stderr, "%s: one fd table holds every connection: about %ld "
		"(RLIMIT_NOFILE %ld%s). Beyond that accept() pauses with a warning; "
		"to go further raise the hard limit (root: ulimit -Hn N, up to "
		"fs.nr_open) or give each loop its own table (06)\n", prog_name,
		limit - reserve, limit, rl.rlim_cur == rl.rlim_max ? ", the hard limit" : "");
	if (fd_limit)
		*fd_limit = limit;
	return limit - reserve;
}
