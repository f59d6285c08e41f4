/* fuzz_config.c - the configuration parser: config_load on a temporary
 * file holding the fuzzed bytes.
 * Invariant: no crash; a refusal names the file and the line
 * ("FILE:N: ..."), with N a line that exists in the input; an accepted
 * configuration keeps its invariants (at least one listener, a sane
 * passive port range, tls_cert and tls_key both set or both empty). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char tmpl[] = "/tmp/pm-fuzz-config.XXXXXX";
static int tmpfd = -1;

static void cleanup(void)
{
	if (tmpfd >= 0)
		unlink(tmpl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[1024];
	FILE *f;

	if (tmpfd < 0) {
		tmpfd = mkstemp(tmpl);
		if (tmpfd < 0)
			abort();
		atexit(cleanup);
	}
	f = fopen(tmpl, "we");
	if (f == NULL)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);

	memset(err, 'x', sizeof(err));
	struct config *c = config_load(tmpl, NULL, 0, err, sizeof(err));
	if (c == NULL) {
		size_t fl = strlen(tmpl);
		char *end = NULL;
		if (memchr(err, '\0', sizeof(err)) == NULL)
			abort();
		if (strncmp(err, tmpl, fl) != 0 || err[fl] != ':') {
			fprintf(stderr, "error does not name the file: %s\n", err);
			abort();
		}
		long line = strtol(err + fl + 1, &end, 10);
		if (end == err + fl + 1 || *end != ':') {
			fprintf(stderr, "error does not name the line: %s\n", err);
			abort();
		}
		long lines = 1;
		for (size_t i = 0; i < size; i++)
			lines += data[i] == '\n';
		if (line < 1 || line > lines) {
			fprintf(stderr, "line %ld of %ld: %s\n", line, lines, err);
			abort();
		}
		return 0;
	}
	if (c->ftp_listen.n + c->ftps_listen.n + c->https_listen.n + c->http_listen.n == 0)
		abort();
	if (c->pasv_min < 1024 || c->pasv_min > c->pasv_max || c->pasv_max > 65535)
		abort();
	if ((c->tls_cert[0] == '\0') != (c->tls_key[0] == '\0'))
		abort();
	if (memchr(c->root, '\0', sizeof(c->root)) == NULL ||
	    memchr(c->ftp_banner, '\0', sizeof(c->ftp_banner)) == NULL)
		abort();
	for (const char *p = c->ftp_banner; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			abort();
	config_free(c);
	return 0;
}
