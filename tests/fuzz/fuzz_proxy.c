/* fuzz_proxy.c - PROXY protocol parser.
 * Invariant: the parser never reads past n, never claims more bytes than it
 * was given, an OK header yields an IPv4 or IPv6 source, a refusal always
 * gives a reason. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_storage s, d;
	size_t used = 0;
	const char *why = NULL;
	/* copy so that ASan sees reads past the end */
	unsigned char *b = malloc(size ? size : 1);
	if (b == NULL)
		return 0;
	memcpy(b, data, size);
	enum proxy_result r = proxy_parse(b, size, &s, &d, &used, &why);
	if (r == PROXY_OK || r == PROXY_LOCAL) {
		if (used == 0 || used > size)
			abort();
	}
	if (r == PROXY_OK && s.ss_family != AF_INET && s.ss_family != AF_INET6)
		abort();
	if (r == PROXY_BAD && (why == NULL || why[0] == '\0'))
		abort();
	free(b);
	return 0;
}
