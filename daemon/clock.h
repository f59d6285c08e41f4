/* clock.h - the daemon's one clock for timeouts, rates and durations. */
#ifndef PUBMIRROR_CLOCK_H
#define PUBMIRROR_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds: never goes back, unaffected by changes
 * of the wall clock.  Wall-clock times (logs, HTTP dates) use time(). */
uint64_t clock_now_ns(void);

#endif
