/* fuzz_http_range.c - the HTTP Range and conditional-request parsers
 * (http_util.c): http_range_parse, http_etag_match_list, http_if_range_ok,
 * http_date_parse.
 * Input: 8 bytes of representation size, then the header value.
 * Invariant: HTTP_RANGE_OK gives 1..PM_HTTP_RANGES_MAX ranges, each with
 * first <= last < size, whose lengths sum to at most size; a parsed date formats back
 * to an IMF-fixdate (29 bytes, " GMT") that parses to the same time; the match functions
 * never crash and an ETag always matches itself. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "http_util.h"
#include "limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t rep = 0;
	struct http_range r[PM_HTTP_RANGES_MAX + 8];
	unsigned n = 12345;

	if (size < 8)
		return 0;
	memcpy(&rep, data, 8);
	/* mostly small sizes (interesting edges), sometimes big ones; files
	 * stay under 2^50 bytes (with sizes near 2^64 the overlap sum in
	 * http_range_parse wraps: see the report of this target) */
	if (!(rep & 1))
		rep = (rep >> 1) % 100000;
	else
		rep >>= 14;
	char *hdr = malloc(size - 8 + 1);
	if (hdr == NULL)
		return 0;
	memcpy(hdr, data + 8, size - 8);
	hdr[size - 8] = '\0';

	memset(r, 0xa5, sizeof(r));
	enum http_range_result res = http_range_parse(hdr, rep, r, &n);
	if (res == HTTP_RANGE_OK) {
		if (n == 0 || n > PM_HTTP_RANGES_MAX)
			abort();
		uint64_t sum = 0;
		for (unsigned i = 0; i < n; i++) {
			if (r[i].first > r[i].last || r[i].last >= rep)
				abort();
			uint64_t len = r[i].last - r[i].first + 1;
			if (sum + len < sum)
				abort();
			sum += len;
		}
		if (sum > rep)
			abort();
	} else if (res != HTTP_RANGE_NONE && res != HTTP_RANGE_UNSAT) {
		abort();
	}

	time_t t;
	if (http_date_parse(hdr, &t) == 0) {
		char buf[64], again[64];
		time_t t2;
		fmt_http_date(t, buf, sizeof(buf));
		if (strlen(buf) != 29 || strcmp(buf + 25, " GMT") != 0)
			abort();
		if (http_date_parse(buf, &t2) != 0 || t2 != t) {
			/* only dates that the formatter can express round-trip */
			if (t >= 0 && t < 253402300800LL) {
				fprintf(stderr, "date %lld -> %s does not parse back\n", (long long)t,
					buf);
				abort();
			}
		} else {
			fmt_http_date(t2, again, sizeof(again));
			if (strcmp(buf, again) != 0)
				abort();
		}
	}
	/* 4 x 16 hex digits, 3 dashes, 2 quotes: 69 bytes + NUL at most
	 * (http_util.h asks only for 64: see the report of this target) */
	char etag[80];
	http_etag(rep, rep >> 3, rep, (int64_t)rep, etag, sizeof(etag));
	if (!http_etag_match_list(etag, etag) || !http_etag_match_list("*", etag))
		abort();
	(void)http_etag_match_list(hdr, etag);
	(void)http_if_range_ok(hdr, etag, (int64_t)(rep % 4000000000u));
	(void)http_accepts_gzip(hdr);
	(void)http_wants_json(hdr);
	(void)http_mime_type(hdr);
	char human[32];
	fmt_human_size(rep, human, sizeof(human));
	if (memchr(human, '\0', sizeof(human)) == NULL)
		abort();
	free(hdr);
	return 0;
}
