/* fuzz_http_range.c - HTTP Range, conditional and date parsers.
 * Invariant: every range returned lies inside the representation (first <=
 * last < size), at most PM_HTTP_RANGES_MAX of them, and several ranges never
 * add up to more than the size; a parsed date is a time that prints as an
 * IMF-fixdate of 29 bytes; the other parsers never read past the string. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct http_range r[PM_HTTP_RANGES_MAX];
	unsigned n = 0;
	uint64_t sizes[] = {0, 1, 1000, 5368709120ull, UINT64_MAX};
	time_t t;
	char back[40];

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		enum http_range_result rr = http_range_parse(s, sizes[k], r, &n);
		if (rr != HTTP_RANGE_OK)
			continue;
		if (n == 0 || n > PM_HTTP_RANGES_MAX)
			abort();
		uint64_t total = 0;
		for (unsigned i = 0; i < n; i++) {
			if (r[i].first > r[i].last || r[i].last >= sizes[k])
				abort();
			total += r[i].last - r[i].first + 1;
		}
		if (n > 1 && total > sizes[k])
			abort();
	}
	if (http_date_parse(s, &t) == 0) {
		http_date(t, back, sizeof(back));
		if (strlen(back) != 29 || strcmp(back + 25, " GMT") != 0)
			abort();
	}
	(void)http_etag_match_list(s, "\"1-2-3-4\"");
	(void)http_if_range_ok(s, "\"1-2-3-4\"", 784111777);
	(void)http_accepts_gzip(s);
	(void)http_wants_json(s);
	free(s);
	return 0;
}
