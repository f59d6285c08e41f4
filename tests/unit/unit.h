/* unit.h - the tiny harness of the unit tests.
 *
 * Each CHECK prints "ok - what" or "not ok - file:line: expected X, got Y";
 * tests/run.sh counts those lines.  unit_done() returns the exit status.
 */
#ifndef PUBMIRROR_UNIT_H
#define PUBMIRROR_UNIT_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int unit_failed;
static int unit_count;

#define UNIT_REPORT(ok, what, ...)                                                                 \
	do {                                                                                       \
		unit_count++;                                                                      \
		if (ok) {                                                                          \
			printf("ok - %s\n", what);                                                 \
		} else {                                                                           \
			unit_failed++;                                                             \
			printf("not ok - %s:%d: %s: ", __FILE__, __LINE__, what);                  \
			printf(__VA_ARGS__);                                                       \
			printf("\n");                                                              \
		}                                                                                  \
	} while (0)

/* Integer equality. */
#define CHECK_INT(what, expected, got)                                                             \
	do {                                                                                       \
		long long e_ = (long long)(expected), g_ = (long long)(got);                       \
		UNIT_REPORT(e_ == g_, what, "expected %lld, got %lld", e_, g_);                    \
	} while (0)

/* String equality (NULL allowed). */
#define CHECK_STR(what, expected, got)                                                             \
	do {                                                                                       \
		const char *e_ = (expected), *g_ = (got);                                          \
		int ok_ = (e_ == NULL && g_ == NULL) || (e_ && g_ && strcmp(e_, g_) == 0);         \
		UNIT_REPORT(ok_, what, "expected \"%s\", got \"%s\"", e_ ? e_ : "(null)",          \
		            g_ ? g_ : "(null)");                                                   \
	} while (0)

/* A condition. */
#define CHECK(what, cond) UNIT_REPORT((cond), what, "expected true: %s", #cond)

static inline int unit_done(void)
{
	fflush(stdout);
	return unit_failed ? 1 : 0;
}

#endif
