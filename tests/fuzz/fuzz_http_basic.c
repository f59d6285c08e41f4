/* fuzz_http_basic.c - the Basic credentials decoder (http_util.c):
 * http_basic_decode.
 * Input: the Authorization header value (cut at its first NUL, as a
 * header is).
 * Invariant: on success the user is non-empty, at most PM_AUTH_USER_MAX
 * bytes, without ':', NUL or control byte; the password is at most
 * PM_AUTH_PASS_MAX bytes and NUL-terminated after passlen; user, ':' and
 * password add up to the bytes the base64 token holds.  On failure a
 * reason is given and nothing of the input is left in the output. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_util.h"
#include "limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_basic b;
	const char *why = NULL;
	char *hdr = malloc(size + 1);
	if (hdr == NULL)
		return 0;
	memcpy(hdr, data, size);
	hdr[size] = '\0';
	int rc = http_basic_decode(hdr, &b, &why);
	if (rc == 0) {
		size_t ul = strnlen(b.user, sizeof(b.user));
		if (ul == 0 || ul > PM_AUTH_USER_MAX || why != NULL)
			abort();
		for (size_t i = 0; i < ul; i++)
			if ((unsigned char)b.user[i] < 0x20 || b.user[i] == 0x7f || b.user[i] == ':')
				abort();
		if (b.passlen > PM_AUTH_PASS_MAX || b.pass[b.passlen] != '\0')
			abort();
		/* the token: after "Basic" and blanks, up to a blank or the end */
		const char *p = hdr + 5;
		while (*p == ' ' || *p == '\t')
			p++;
		size_t len = strcspn(p, " \t"), pads = 0;
		while (pads < len && p[len - 1 - pads] == '=')
			pads++;
		if (len % 4 != 0 || ul + 1 + b.passlen != len / 4 * 3 - pads)
			abort();
	} else {
		if (rc != -1 || why == NULL || why[0] == '\0' || b.user[0] != '\0' ||
		    b.passlen != 0 || b.pass[0] != '\0')
			abort();
	}
	free(hdr);
	return 0;
}
