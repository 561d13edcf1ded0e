/*
 * check.h - the unit tests' one assertion: CHECK(cond, fmt, ...) prints
 * "FAIL file:line: cond: message" and counts it in `failures`, and the
 * test goes on, so one run shows every failure. main() returns
 * failures ? 1 : 0.
 */
#ifndef C1M_CHECK_H
#define C1M_CHECK_H

#include <stdio.h>

static int failures;

#define CHECK(cond, ...)                                                  \
	do {                                                              \
		if (!(cond)) {                                            \
			printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			printf(__VA_ARGS__);                              \
			putchar('\n');                                    \
			failures++;                                       \
		}                                                         \
	} while (0)

#endif
