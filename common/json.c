/*
 * json.c - one JSON object on one line, for the result every program prints
 * on stdout at exit. Fixed buffer, no malloc.
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "c1m.h"

static void put(struct json *j, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void put(struct json *j, const char *fmt, ...)
{
	va_list ap;
	size_t room = sizeof(j->buf) - j->len;
	int n;

	if (j->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(j->buf + j->len, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		j->overflow = 1;
	else
		j->len += (size_t)n;
}

static void put_string(struct json *j, const char *s)
{
	put(j, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			put(j, "\\%c", c);
		else if (c < 0x20)
			put(j, "\\u%04x", c);
		else
			put(j, "%c", c);
	}
	put(j, "\"");
}

static void key(struct json *j, const char *k)
{
	if (j->need_comma)
		put(j, ",");
	j->need_comma = 1;
	if (k) {
		put_string(j, k);
		put(j, ":");
	}
}

void json_begin(struct json *j)
{
	j->len = 0;
	j->depth = 1;
	j->need_comma = 0;
	j->overflow = 0;
	put(j, "{");
}

void json_obj(struct json *j, const char *k)
{
	key(j, k);
	put(j, "{");
	j->depth++;
	j->need_comma = 0;
}

void json_arr(struct json *j, const char *k)
{
	key(j, k);
	put(j, "[");
	j->depth++;
	j->need_comma = 0;
}

void json_arr_obj(struct json *j)
{
	json_obj(j, NULL);
}

void json_arr_end(struct json *j)
{
	put(j, "]");
	j->depth--;
	j->need_comma = 1;
}

void json_end(struct json *j)
{
	put(j, "}");
	j->depth--;
	j->need_comma = 1;
}

void json_str(struct json *j, const char *k, const char *v)
{
	key(j, k);
	put_string(j, v);
}

void json_i64(struct json *j, const char *k, int64_t v)
{
	key(j, k);
	put(j, "%lld", (long long)v);
}

void json_u64(struct json *j, const char *k, uint64_t v)
{
	key(j, k);
	put(j, "%llu", (unsigned long long)v);
}

void json_num(struct json *j, const char *k, double v)
{
	key(j, k);
	if (isfinite(v))
		put(j, "%.10g", v);
	else
		put(j, "null");
}

void json_bool(struct json *j, const char *k, int v)
{
	key(j, k);
	put(j, v ? "true" : "false");
}

void json_cpu(struct json *j)
{
	double user, sys;

	proc_cpu(&user, &sys);
	json_num(j, "cpu_user_s", user);
	json_num(j, "cpu_sys_s", sys);
}

void json_print(struct json *j, FILE *f)
{
	if (j->overflow || j->depth != 0)
		fputs("{\"error\":\"json overflow\"}\n", f);
	else
		fprintf(f, "%.*s\n", (int)j->len, j->buf);
	fflush(f);
}

void limits_print(const struct limits *l)
{
	struct json j;
	long limit = fd_raise_limit(1 << 20);

	json_begin(&j);
	json_str(&j, "design", l->design);
	json_str(&j, "fd_tables", l->fd_tables);
	json_i64(&j, "fd_limit", limit);
	json_i64(&j, "table_cap", limit - l->fd_reserve);
	json_i64(&j, "max_loops", l->max_loops);
	json_i64(&j, "thread_per_conn", l->thread_per_conn);
	json_i64(&j, "target", l->target);
	if (l->push)
		json_i64(&j, "push", 1);
	if (l->per_src) {	/* a client */
		json_i64(&j, "per_src", l->per_src);
		json_num(&j, "rate", l->rate);
	}
	json_end(&j);
	json_print(&j, stdout);
	exit(0);
}
