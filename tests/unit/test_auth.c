/* test_auth.c - htpasswd loading (schemes, refusals with line numbers),
 * password checks for every scheme, the apr1 and {SHA} implementations
 * against known vectors, protected prefixes, reload keeping the old table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "unit.h"

static char dir[] = "/tmp/pm-test-auth-XXXXXX";

static const char *write_file(const char *name, const char *text)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	return path;
}

static struct config *conf(const char *file, const char *paths)
{
	char a[300], b[300], err[512];
	char *sets[2] = {a, b};
	snprintf(a, sizeof(a), "auth_file=%s", file);
	snprintf(b, sizeof(b), "auth_paths=%s", paths);
	struct config *c = config_load(NULL, sets, 2, err, sizeof(err));
	if (c == NULL)
		printf("# config: %s\n", err);
	return c;
}

int main(void)
{
	char err[512];
	if (mkdtemp(dir) == NULL)
		return 1;
	/* Vectors: openssl passwd -apr1 -salt abcdefgh 'secret pass';
	 * {SHA} of "hunter2"; crypt(3) hashes made with libxcrypt. */
	const char *good = write_file(
	    "good",
	    "# comment\n"
	    "\n"
	    "apr:$apr1$abcdefgh$ZAdX7G.l3eDbgTYbm5ePE0\n"
	    "empty:$apr1$xy$43..WIhbfuznGvwoCyUek/\n"
	    "sha:{SHA}87u9ZqY9S/F0eUBXjsPQEDUw4h0=\n"
	    "y:$y$j9T$F5Jx5fExrKuPp53xLKQ..1$U4SOHmDd8SvW5vCUKSMR6N835VPwFAtgYNhQ9mFFeL5\n"
	    "six:$6$gWbpF.2Kby.yLZ6K$1phYigrErS0O9ezHHZaxAt8KA148yySbwUhHNlLjbK6uyocUCAHQEcL493yif"
	    "tC3vwuyP0gHqiBC1ME7Pg5ct1\n");
	struct config *c = conf(good, "/private,/a/b");
	CHECK("config", c != NULL);
	if (c == NULL)
		return unit_done();
	CHECK_INT("load good file", 0, auth_load(c, err, sizeof(err)));
	CHECK("enabled", auth_enabled());
	CHECK("apr1 right", auth_check("apr", "secret pass", 11));
	CHECK("apr1 wrong", !auth_check("apr", "secret pasS", 11));
	CHECK("apr1 empty password", auth_check("empty", "", 0));
	CHECK("{SHA} right", auth_check("sha", "hunter2", 7));
	CHECK("{SHA} wrong", !auth_check("sha", "hunter3", 7));
	CHECK("yescrypt right", auth_check("y", "pw", 2));
	CHECK("sha512-crypt right", auth_check("six", "pw", 2));
	CHECK("sha512-crypt wrong", !auth_check("six", "pw2", 3));
	CHECK("cached check still right", auth_check("six", "pw", 2));
	CHECK("cache does not mix users", !auth_check("y", "hunter2", 7));
	CHECK("unknown user", !auth_check("nobody", "pw", 2));
	CHECK("NUL inside password", !auth_check("six", "pw\0x", 4));
	CHECK("only passlen bytes count", auth_check("six", "pwX", 2));
	CHECK("empty user", !auth_check("", "pw", 2));

	CHECK("protected", auth_path_protected(c, "private"));
	CHECK("protected below", auth_path_protected(c, "private/x/y"));
	CHECK("not a string prefix", !auth_path_protected(c, "privateer"));
	CHECK("nested prefix", auth_path_protected(c, "a/b/c"));
	CHECK("parent not protected", !auth_path_protected(c, "a"));
	CHECK("root not protected", !auth_path_protected(c, ""));

	/* Refusals keep the old table. */
	const char *plain = write_file("plain", "ok:$6$gWbpF.2Kby.yLZ6K$x\nbob:hunter2\n");
	struct config *c2 = conf(plain, "/");
	CHECK_INT("plain text refused", -1, auth_load(c2, err, sizeof(err)));
	CHECK("refusal names file:line", strstr(err, "plain:2:") != NULL);
	CHECK("old table kept", auth_check("sha", "hunter2", 7));
	const char *des = write_file("des", "old:abJnggxhB/yWI\n");
	struct config *c3 = conf(des, "/");
	CHECK_INT("DES crypt refused", -1, auth_load(c3, err, sizeof(err)));
	const char *dup = write_file(
	    "dup", "a:{SHA}87u9ZqY9S/F0eUBXjsPQEDUw4h0=\na:{SHA}87u9ZqY9S/F0eUBXjsPQEDUw4h0=\n");
	struct config *c4 = conf(dup, "/");
	CHECK_INT("duplicate user refused", -1, auth_load(c4, err, sizeof(err)));
	CHECK("duplicate names line 2", strstr(err, "dup:2:") != NULL);
	const char *nocolon = write_file("nocolon", "justaname\n");
	struct config *c5 = conf(nocolon, "/");
	CHECK_INT("line without colon refused", -1, auth_load(c5, err, sizeof(err)));
	char longline[2000];
	memset(longline, 'a', sizeof(longline) - 2);
	longline[sizeof(longline) - 2] = '\n';
	longline[sizeof(longline) - 1] = '\0';
	const char *lng = write_file("long", longline);
	struct config *c6 = conf(lng, "/");
	CHECK_INT("over-long line refused", -1, auth_load(c6, err, sizeof(err)));
	CHECK("still the old table", auth_check("apr", "secret pass", 11));

	auth_shutdown();
	CHECK("after shutdown nobody", !auth_check("sha", "hunter2", 7));
	config_free(c);
	config_free(c2);
	config_free(c3);
	config_free(c4);
	config_free(c5);
	config_free(c6);
	const char *names[] = {"good", "plain", "des", "dup", "nocolon", "long"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char p[256];
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
	return unit_done();
}
