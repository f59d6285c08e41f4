/* fuzz_auth.c - the htpasswd parser: auth_load on a temporary file holding
 * the fuzzed bytes (auth_file set through config_load's --set path).
 * Invariant: no crash, no leak; a refusal names the file, and when it
 * names a line ("FILE:N: ...") N is a line of the input; the message holds
 * no control character (it goes to the log); after a refusal the previous
 * table stays (auth_enabled unchanged).  A load that succeeds is followed
 * by a few auth_check calls with users from the input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char tmpl[] = "/tmp/pm-fuzz-auth.XXXXXX";
static struct config *cfg;

static void cleanup(void)
{
	unlink(tmpl);
	auth_shutdown();
	config_free(cfg);
}

static void setup(void)
{
	char set[64], err[512];
	char *sets[1] = {set};
	int fd = mkstemp(tmpl);

	if (fd < 0)
		abort();
	close(fd);
	snprintf(set, sizeof(set), "auth_file=%s", tmpl);
	cfg = config_load(NULL, sets, 1, err, sizeof(err));
	if (cfg == NULL) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[1024];
	FILE *f;

	if (cfg == NULL)
		setup();
	f = fopen(tmpl, "we");
	if (f == NULL)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);

	int before = auth_enabled();
	memset(err, 'x', sizeof(err));
	err[sizeof(err) - 1] = '\0';
	if (auth_load(cfg, err, sizeof(err)) != 0) {
		size_t fl = strlen(tmpl);
		if (strncmp(err, tmpl, fl) != 0 || err[fl] != ':') {
			fprintf(stderr, "error does not name the file: %s\n", err);
			abort();
		}
		char *end = NULL;
		long line = strtol(err + fl + 1, &end, 10);
		if (end != err + fl + 1) {
			long lines = 1;
			for (size_t i = 0; i < size; i++)
				lines += data[i] == '\n';
			if (*end != ':' || line < 1 || line > lines) {
				fprintf(stderr, "bad line number: %s\n", err);
				abort();
			}
		}
		for (const char *p = err; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f) {
				fprintf(stderr, "control character in the error: %s\n", err);
				abort();
			}
		if (auth_enabled() != before)
			abort();
		return 0;
	}
	/* try the first user of the input with a wrong and an empty password;
	 * not with hashes whose cost the input chooses (bcrypt, yescrypt,
	 * scrypt, rounds=): a cost of 2^31 is the administrator's choice, and
	 * would only time the fuzzer out */
	static const char *const costly[] = {"$2", "$y$", "$gy$", "$7$", "rounds="};
	for (size_t i = 0; i < sizeof(costly) / sizeof(costly[0]); i++)
		if (memmem(data, size, costly[i], strlen(costly[i])))
			return 0;
	const uint8_t *colon = memchr(data, ':', size);
	if (colon && colon - data < 64) {
		char user[65];
		memcpy(user, data, (size_t)(colon - data));
		user[colon - data] = '\0';
		if (auth_check(user, "not-the-password", 16) != 0)
			abort();
		(void)auth_check(user, "", 0);
	}
	return 0;
}
