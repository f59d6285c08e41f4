/* fuzz_markdown.c - README.md/HEADER.md rendering (libcmark, safe mode).
 * Invariant: whatever the publisher writes, the HTML put on the page holds
 * no element that runs or loads anything (script, style, iframe, object,
 * embed, form, an on* attribute inside a tag) and no link or image URL with
 * a javascript:, vbscript: or file: scheme. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "markdown.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int has_ci(const char *h, size_t n, const char *needle)
{
	size_t k = strlen(needle);
	for (size_t i = 0; i + k <= n; i++) {
		size_t j = 0;
		while (j < k && tolower((unsigned char)h[i + j]) == needle[j])
			j++;
		if (j == k)
			return 1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const bad[] = {"<script", "<style", "<iframe", "<object", "<embed",
					  "<form", "<svg", "<math", "href=\"javascript:",
					  "src=\"javascript:", "href=\"vbscript:", "href=\"file:",
					  "src=\"vbscript:", "src=\"file:"};
	struct buf out;
	if (size > 65536)
		return 0;
	buf_init(&out, 1u << 24);
	if (markdown_render(&out, (const char *)data, size) == 0) {
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			if (has_ci(out.data, out.len, bad[i]))
				abort();
		/* no attribute starting with "on" inside a tag */
		int in_tag = 0;
		for (size_t i = 0; i < out.len; i++) {
			char c = out.data[i];
			if (c == '<')
				in_tag = 1;
			else if (c == '>')
				in_tag = 0;
			else if (in_tag && c == '"')
				for (i++; i < out.len && out.data[i] != '"'; i++)
					;
			else if (in_tag && c == ' ' && i + 2 < out.len &&
				 tolower((unsigned char)out.data[i + 1]) == 'o' &&
				 tolower((unsigned char)out.data[i + 2]) == 'n')
				abort();
		}
	}
	buf_free(&out);
	return 0;
}
