/* fuzz_sums.c - SHA256SUMS parser (sha256sum, escaped and BSD forms).
 * Invariant: the parser never reads past n; every entry it reports has a
 * non-empty name without NUL of at most SUMS_LINE_MAX bytes and exactly 64
 * lowercase hex digits; it never reports more entries than lines. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sums.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_entry(void *arg, const char *name, size_t namelen, const char *hex)
{
	size_t *count = arg;
	if (namelen == 0 || namelen > SUMS_LINE_MAX || strlen(name) != namelen)
		abort();
	if (strlen(hex) != SUMS_HEX_LEN)
		abort();
	for (int i = 0; i < SUMS_HEX_LEN; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
			abort();
	(*count)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t count = 0, lines = 1;
	/* copy so that ASan sees reads past the end */
	char *b = malloc(size ? size : 1);
	if (b == NULL)
		return 0;
	memcpy(b, data, size);
	for (size_t i = 0; i < size; i++)
		lines += b[i] == '\n';
	int n = sums_parse(b, size, fuzz_entry, &count);
	if (n < 0 || (size_t)n != count || count > lines)
		abort();
	free(b);
	return 0;
}
