/* fuzz_path.c - path canonicalisation: path_url_decode then path_resolve.
 * Input: "cwd\0arg" (no NUL: arg alone, cwd = root).  The arg is used both
 * raw (FTP) and percent-decoded (HTTP).
 * Invariant: a canonical path never climbs, never holds "..", ".", empty
 * components, NUL, control characters or backslash, has no leading or
 * trailing '/'; resolving it again (from the root and absolute) is
 * idempotent; a refusal always gives a reason and leaves out "". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "limits.h"
#include "path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void canonical_ok(const char *p)
{
	size_t n = strlen(p);
	if (n >= PM_PATH_MAX)
		abort();
	if (n == 0)
		return;
	if (p[0] == '/' || p[n - 1] == '/')
		abort();
	size_t depth = 0;
	const char *c = p;
	for (;;) {
		const char *e = strchr(c, '/');
		size_t len = e ? (size_t)(e - c) : strlen(c);
		if (len == 0 || len > PM_NAME_MAX)
			abort();
		if ((len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
			abort();
		for (size_t i = 0; i < len; i++) {
			unsigned char ch = (unsigned char)c[i];
			if (ch < 0x20 || ch == 0x7f || ch == '\\')
				abort();
		}
		depth++;
		if (!e)
			break;
		c = e + 1;
	}
	if (depth > PM_PATH_DEPTH_MAX)
		abort();
}

static void resolve_and_check(const char *cwd, const char *arg, size_t n)
{
	char out[PM_PATH_MAX], again[PM_PATH_MAX], abs[PM_PATH_MAX + 1];
	const char *why = NULL;

	/* out is filled with junk first: a refusal must reset it to "". */
	memset(out, 'x', sizeof(out));
	if (path_resolve(cwd, arg, n, out, sizeof(out), &why) != 0) {
		if (why == NULL || why[0] == '\0' || out[0] != '\0')
			abort();
		return;
	}
	if (why != NULL)
		abort();
	canonical_ok(out);
	/* idempotent: relative to the root, and as an absolute path from
	 * any cwd */
	if (path_resolve("", out, strlen(out), again, sizeof(again), &why) != 0)
		abort();
	if (strcmp(out, again) != 0)
		abort();
	abs[0] = '/';
	memcpy(abs + 1, out, strlen(out) + 1);
	if (path_resolve(cwd, abs, strlen(abs), again, sizeof(again), &why) != 0)
		abort();
	if (strcmp(out, again) != 0)
		abort();
	/* the canonical path is beneath the root: as a cwd it stays valid */
	if (path_resolve(out, "", 0, again, sizeof(again), &why) != 0 || strcmp(out, again))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char cwdbuf[PM_PATH_MAX];
	const char *cwd = "";
	const uint8_t *arg = data;
	size_t n = size;
	const uint8_t *nul = memchr(data, 0, size);
	const char *why = NULL;

	if (nul != NULL) {
		/* the cwd must itself be canonical: make it so, or use root */
		size_t cn = (size_t)(nul - data);
		if (path_resolve("", (const char *)data, cn, cwdbuf, sizeof(cwdbuf), &why) == 0)
			cwd = cwdbuf;
		arg = nul + 1;
		n = size - cn - 1;
	}
	/* copy so ASan sees any read past n */
	char *raw = malloc(n ? n : 1);
	char *dec = malloc(PM_PATH_MAX);
	if (raw == NULL || dec == NULL)
		goto out;
	memcpy(raw, arg, n);
	resolve_and_check(cwd, raw, n);

	why = NULL;
	memset(dec, 'x', PM_PATH_MAX);
	if (path_url_decode(raw, n, dec, PM_PATH_MAX, &why) == 0) {
		size_t dn = strlen(dec);
		if (why != NULL || dn > n)
			abort();
		/* a decoded path never carries what decoding must refuse */
		if (memchr(dec, '\0', dn) != NULL)
			abort();
		resolve_and_check(cwd, dec, dn);
	} else if (why == NULL || why[0] == '\0' || dec[0] != '\0') {
		abort();
	}
out:
	free(raw);
	free(dec);
	return 0;
}
