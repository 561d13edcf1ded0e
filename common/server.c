/*
 * server.c - the setup every server repeats: flags and -h, sizing loops to
 * the fd limit, listeners, private fd tables, the "listening on" line, the
 * result JSON, and accepting into an epoll set without spinning on EMFILE.
 * The design itself (threads, loops, handlers) stays in each server.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "c1m.h"

/* ---- flags ---- */

static char synopsis[512];

static void build_synopsis(const struct srv_design *d)
{
	size_t n;

	n = (size_t)snprintf(synopsis, sizeof(synopsis), "usage: server [-a ADDR] [-p PORT]%s%s",
			     d->loops_help ? " [-c N]" : "", d->conns_help ? " [-n CONNS]" : "");
	for (const struct srv_flag *f = d->flags; f && f->opt; f++)
		n += (size_t)snprintf(synopsis + n, sizeof(synopsis) - n, " [-%c %s]",
				      f->opt, f->arg);
	snprintf(synopsis + n, sizeof(synopsis) - n, " [-i SEC] [-h]");
	arg_synopsis = synopsis;
}

static void usage(const struct srv_design *d)
{
	printf("%s: %s\n\n%s\n\n", prog_name, d->summary, synopsis);
	printf("  -a ADDR   address to listen on (default %s; 0.0.0.0 is opt-in)\n"
	       "  -p PORT   port (default %d; 0 picks a free one)\n", C1M_ADDR, C1M_PORT);
	if (d->loops_help)
		printf("  -c N      %s\n", d->loops_help);
	if (d->conns_help)
		printf("  -n CONNS  %s\n", d->conns_help);
	for (const struct srv_flag *f = d->flags; f && f->opt; f++)
		printf("  -%c %-6s %s\n", f->opt, f->arg, f->help);
	printf("  -i SEC    stats interval on stderr (default 5)\n"
	       "  -h        this help\n\n"
	       "Echoes every byte back. Prints \"listening on ADDR:PORT\" on stderr when\n"
	       "ready; on SIGINT/SIGTERM one JSON line on stdout, then exits 0.\n"
	       "Exit 1: cannot listen; exit 2: bad usage.\n");
}

static void design_flag(const struct srv_design *d, int o, const char *val)
{
	for (const struct srv_flag *f = d->flags; f && f->opt; f++) {
		if (f->opt != o)
			continue;
		if (f->num) {
			*f->num = arg_long(o, val, f->min, f->max);
			return;
		}
		/* one of "a|b|c" */
		for (const char *p = f->choices; p && *p;) {
			size_t len = strcspn(p, "|");

			if (strlen(val) == len && strncmp(p, val, len) == 0) {
				*f->str = val;
				return;
			}
			p += len + (p[len] == '|');
		}
		arg_usage_error("-%c: '%s' is not one of %s", o, val, f->choices);
	}
	arg_usage_error("unknown option -%c", o);
}

void srv_parse(int argc, char **argv, const struct srv_design *d, struct srv_cfg *cfg)
{
	char optstring[64] = ":a:p:i:h";
	int o;

	prog_init(argv[0]);
	build_synopsis(d);
	cfg->addr = C1M_ADDR;
	cfg->port = C1M_PORT;
	cfg->interval = 5;
	if (d->loops_help)
		strcat(optstring, "c:");
	if (d->conns_help)
		strcat(optstring, "n:");
	for (const struct srv_flag *f = d->flags; f && f->opt; f++) {
		size_t n = strlen(optstring);

		optstring[n] = (char)f->opt;
		optstring[n + 1] = ':';
		optstring[n + 2] = '\0';
	}
	while ((o = getopt(argc, argv, optstring)) != -1) {
		switch (o) {
		case 'a': arg_ipv4(o, optarg); cfg->addr = optarg; break;
		case 'p': cfg->port = (int)arg_long(o, optarg, 0, 65535); break;
		case 'c': cfg->loops = (int)arg_long(o, optarg, 1, 4096); break;
		case 'n': cfg->conns = arg_long(o, optarg, 1, 100000000); break;
		case 'i': cfg->interval = arg_seconds(o, optarg, 1e6); break;
		case 'h': usage(d); exit(0);
		case ':': arg_usage_error("-%c needs a value", optopt);
		case '?': arg_usage_error("unknown option -%c", optopt);
		default: design_flag(d, o, optarg); break;
		}
	}
	if (optind < argc)
		arg_usage_error("unexpected argument '%s'", argv[optind]);
	if (cfg->interval < 0.1)
		arg_usage_error("-i: must be at least 0.1 s");
}

void srv_size(struct srv_cfg *cfg, long reserve)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	long per;

	cfg->fd_limit = fd_raise_limit(cfg->conns ? cfg->conns + reserve : 1 << 20);
	per = cfg->fd_limit - reserve;
	if (!cfg->loops)
		cfg->loops = fd_loops_for(cfg->conns, cfg->fd_limit, reserve,
					  ncpu > 0 ? (int)ncpu : 1);
	if (cfg->conns > per * cfg->loops)
		arg_usage_error("-n %ld does not fit in %d fd tables of %ld "
				"(RLIMIT_NOFILE %ld): raise -c", cfg->conns,
				cfg->loops, per, cfg->fd_limit);
}

void srv_listen(struct srv_cfg *cfg, int n, int *fds)
{
	for (int i = 0; i < n; i++) {
		fds[i] = net_listen(cfg->addr, cfg->port, n > 1, 4096);
		if (fds[i] < 0)
			die("listen %s:%d:", cfg->addr, cfg->port);
		cfg->port = net_local_port(fds[i]);	/* resolves -p 0 */
	}
}

struct stats_slot *srv_start_loops(struct srv_cfg *cfg, const char *name, long reserve,
				   int **lfds)
{
	srv_size(cfg, reserve);
	sig_setup();
	*lfds = calloc((size_t)cfg->loops, sizeof(**lfds));
	if (!*lfds)
		die("calloc:");
	/* Every listener up front: a busy port fails here, before any thread. */
	srv_listen(cfg, cfg->loops, *lfds);
	return stats_init(name, cfg->loops, cfg->interval);
}

void srv_loop_begin(struct srv_acceptor *a, const int *lfds, int n)
{
	if (n > 1)
		srv_private_table(a->id, lfds, n);
	a->ep = epoll_create1(EPOLL_CLOEXEC);
	if (a->ep < 0)
		die("loop %d: epoll_create1:", a->id);
	srv_accept_start(a);
}

void srv_private_table(int id, const int *lfds, int n)
{
	int r = fd_private_table();

	if (r < 0)
		die("loop %d: unshare(CLONE_FILES):", id);
	if (r > 0)
		return;	/* a TSan build: one shared table, every listener stays */
	for (int i = 0; i < n; i++)
		if (i != id)
			close(lfds[i]);
}

void srv_listening(const struct srv_cfg *cfg, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: listening on %s:%d, ", prog_name, cfg->addr, cfg->port);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void srv_report(void (*extra)(struct json *j))
{
	struct json j;

	json_begin(&j);
	stats_json(&j);
	if (extra)
		extra(&j);
	json_end(&j);
	json_print(&j, stdout);
}

/* ---- accepting ---- */

void srv_accept_start(struct srv_acceptor *a)
{
	struct epoll_event ev = { .events = EPOLLIN | a->listen_events, .data.fd = a->lfd };

	if (epoll_ctl(a->ep, EPOLL_CTL_ADD, a->lfd, &ev) < 0)
		die("loop %d: epoll_ctl listener:", a->id);
}

int srv_accept_ready(struct srv_acceptor *a)
{
	int n = 0;

	for (;;) {
		struct epoll_event ev = { .events = EPOLLIN | a->conn_events };
		int fd = accept4(a->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* The listener stays readable (level-triggered), so
				 * retrying would spin. Leave the backlog in the
				 * kernel and stop listening for a moment. */
				if (!a->full)
					warnx_("loop %d: accept at %ld conns: paused:", a->id,
					       (long)atomic_load(&a->st->conns));
				a->full = 1;
				epoll_ctl(a->ep, EPOLL_CTL_DEL, a->lfd, NULL);
				a->paused_until = clock_ns() + SRV_PAUSE_MS * 1000000ull;
			}
			return n;	/* EAGAIN: backlog empty */
		}
		ev.data.fd = fd;
		if (epoll_ctl(a->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			continue;
		}
		net_set_nodelay(fd);
		a->full = 0;
		n++;
		atomic_fetch_add_explicit(&a->st->conns, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&a->st->accepted, 1, memory_order_relaxed);
	}
}

void srv_accept_resume(struct srv_acceptor *a)
{
	if (a->paused_until && clock_ns() >= a->paused_until) {
		a->paused_until = 0;
		srv_accept_start(a);
	}
}

/* ---- one fd table for every connection ---- */

long srv_one_table(struct srv_cfg *cfg, long reserve)
{
	struct rlimit rl;
	long max;

	cfg->fd_limit = fd_raise_limit(1 << 20);	/* fs.nr_open's default */
	max = cfg->fd_limit - reserve;
	getrlimit(RLIMIT_NOFILE, &rl);
	fprintf(stderr, "%s: one fd table holds every connection: about %ld "
		"(RLIMIT_NOFILE %ld%s). Beyond that accept() pauses with a warning; "
		"to go further raise the hard limit (root: ulimit -Hn N, up to "
		"fs.nr_open) or give each loop its own table (06)\n", prog_name, max,
		cfg->fd_limit, rl.rlim_cur == rl.rlim_max ? ", the hard limit" : "");
	return max;
}

/* ---- a blocking acceptor thread that hands connections to loops ---- */

int srv_accept_next(struct srv_acceptor *a)
{
	for (;;) {
		int fd = accept4(a->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			net_set_nodelay(fd);
			a->full = 0;
			return fd;
		}
		if (errno == EAGAIN) {
			/* srv_listen's listener is non-blocking: make it block. */
			fcntl(a->lfd, F_SETFL, fcntl(a->lfd, F_GETFL) & ~O_NONBLOCK);
		} else if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			   errno == ENOMEM) {
			/* Retrying at once would spin: accept() fails without
			 * blocking for as long as the table is full. */
			if (!a->full)
				warnx_("acceptor: accept at %ld conns: pausing:", stats_conns());
			a->full = 1;
			usleep(SRV_PAUSE_MS * 1000);
		} else if (errno == EINVAL || errno == EBADF) {
			return -1;	/* srv_accept_stop() */
		}
		/* EINTR, ECONNABORTED and the network errors accept() passes
		 * on from a dead connection: take the next one. */
	}
}

void srv_accept_stop(struct srv_acceptor *a)
{
	/* On Linux this wakes a thread blocked in accept(), which then
	 * fails with EINVAL; close() alone would leave it asleep. */
	shutdown(a->lfd, SHUT_RDWR);
}

int srv_accept_add(int ep, int fd, struct stats_slot *st)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	/* Count first: the loop may see the connection close before this
	 * thread gets to run again. */
	atomic_fetch_add_explicit(&st->conns, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&st->accepted, 1, memory_order_relaxed);
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0)
		return 0;
	atomic_fetch_sub_explicit(&st->conns, 1, memory_order_relaxed);
	close(fd);
	return -1;
}
