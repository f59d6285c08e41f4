/* fmt.h - text formats shared by the protocols and the listings: HTTP
 * dates and human-readable sizes.  Pure: no I/O, no global state, so that
 * a listing renderer need not reach into a protocol module for them.
 */
#ifndef PUBMIRROR_FMT_H
#define PUBMIRROR_FMT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") of t into out (>= 30
 * bytes).  Returns out. */
char *fmt_http_date(time_t t, char *out, size_t outsz);

/* Human-readable size ("1.4 MiB", "512 B") into out.  Returns out. */
char *fmt_human_size(uint64_t n, char *out, size_t outsz);

#endif
