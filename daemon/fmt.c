/* fmt.c - text formats shared by the protocols and the listings (see fmt.h). */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "fmt.h"

static const char wdays[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

char *fmt_http_date(time_t t, char *out, size_t outsz)
{
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL) {
		snprintf(out, outsz, "Thu, 01 Jan 1970 00:00:00 GMT");
		return out;
	}
	/* Fixed English names: strftime would follow the locale. */
	snprintf(out, outsz, "%s, %02d %s %04d %02d:%02d:%02d GMT", wdays[tm.tm_wday % 7],
	         tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
	         tm.tm_sec);
	return out;
}

char *fmt_human_size(uint64_t n, char *out, size_t outsz)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	if (n < 1024) {
		snprintf(out, outsz, "%" PRIu64 " B", n);
		return out;
	}
	double v = (double)n;
	int u = 0;
	while (v >= 1024.0 && u < 6) {
		v /= 1024.0;
		u++;
	}
	snprintf(out, outsz, v < 10.0 ? "%.1f %s" : "%.0f %s", v, unit[u]);
	return out;
}
