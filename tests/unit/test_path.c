/* test_path.c - the path resolver against a table of hostile inputs. */
#include <stdlib.h>

#include "limits.h"
#include "path.h"
#include "unit.h"

struct rcase {
	const char *cwd;
	const char *arg;
	size_t n;        /* 0: strlen(arg) */
	const char *out; /* expected canonical path, or NULL for refusal */
	const char *why; /* expected reason when refused */
};

#define CLIMB "path climbs above the root"
#define CTRL "path contains a control character"

static const struct rcase rcases[] = {
    /* plain and canonicalisation */
    {"", "", 0, "", NULL},
    {"", "/", 0, "", NULL},
    {"", "////", 0, "", NULL},
    {"", ".", 0, "", NULL},
    {"", "./", 0, "", NULL},
    {"", "./a/./b/", 0, "a/b", NULL},
    {"", "a//b///c", 0, "a/b/c", NULL},
    {"", "/pub/hello/", 0, "pub/hello", NULL},
    {"", "a/b/../c", 0, "a/c", NULL},
    {"", "a/b/c/../../d", 0, "a/d", NULL},
    {"", "a/..", 0, "", NULL},
    {"", "a/../", 0, "", NULL},
    {"pub", "hello", 0, "pub/hello", NULL},
    {"pub", "/etc", 0, "etc", NULL},
    {"pub/hello", "..", 0, "pub", NULL},
    {"pub/hello", "../..", 0, "", NULL},
    {"pub/hello", "", 0, "pub/hello", NULL},
    {"pub/hello", ".", 0, "pub/hello", NULL},
    {"", "...", 0, "...", NULL},
    {"", "..a/b..", 0, "..a/b..", NULL},
    {"", ".hidden", 0, ".hidden", NULL},
    /* names are bytes: UTF-8, spaces, ':' and '~' are just names */
    {"",
     "pub/docs/\xc3\x9c"
     "bersicht und Notizen.txt",
     0,
     "pub/docs/\xc3\x9c"
     "bersicht und Notizen.txt",
     NULL},
    {"", "name with spaces", 0, "name with spaces", NULL},
    {"", " lead and trail ", 0, " lead and trail ", NULL},
    {"", "a:b", 0, "a:b", NULL},
    {"", "~", 0, "~", NULL},
    {"", "~root/x", 0, "~root/x", NULL},
    {"",
     "\xff\xfe"
     "bad-utf8",
     0,
     "\xff\xfe"
     "bad-utf8",
     NULL},
    {"", "%2e%2e", 0, "%2e%2e", NULL}, /* not decoded here: a name */
    /* climbing above the root is refused, never clamped */
    {"", "..", 0, NULL, CLIMB},
    {"", "../", 0, NULL, CLIMB},
    {"", "../..", 0, NULL, CLIMB},
    {"", "/../etc/passwd", 0, NULL, CLIMB},
    {"", "/..", 0, NULL, CLIMB},
    {"", "a/../../b", 0, NULL, CLIMB},
    {"", "./../", 0, NULL, CLIMB},
    {"pub", "../../etc", 0, NULL, CLIMB},
    {"pub/hello", "/../pub", 0, NULL, CLIMB},
    {"", "a/b/../../..", 0, NULL, CLIMB},
    {"", "a/b/../../../b", 0, NULL, CLIMB},
    /* bytes that are never part of a served path */
    {"", "\\..\\", 0, NULL, "path contains a backslash"},
    {"", "a\\b", 0, NULL, "path contains a backslash"},
    {"", "a\0b", 3, NULL, "path contains a NUL byte"},
    {"", "\0", 1, NULL, "path contains a NUL byte"},
    {"", "a\r\nDELE b", 0, NULL, CTRL},
    {"", "a\rb", 0, NULL, CTRL},
    {"", "a\nb", 0, NULL, CTRL},
    {"", "\t", 0, NULL, CTRL},
    {"", "a\x1b[31mred", 0, NULL, CTRL},
    {"", "a\x7f", 0, NULL, CTRL},
    {"", "../\n", 0, NULL, CTRL}, /* bytes are checked first */
    /* a bad cwd is refused too */
    {"../x", "a", 0, NULL, CLIMB},
    {"a\nb", "c", 0, NULL, CTRL},
    {"a\nb", "/c", 0, "c", NULL}, /* absolute: cwd is not used */
};

static char *repeat(const char *unit, size_t times, const char *tail)
{
	size_t un = strlen(unit), tn = tail ? strlen(tail) : 0;
	char *s = malloc(un * times + tn + 1);

	if (!s)
		abort();
	for (size_t i = 0; i < times; i++)
		memcpy(s + i * un, unit, un);
	if (tn)
		memcpy(s + un * times, tail, tn);
	s[un * times + tn] = '\0';
	return s;
}

static void check_resolve(const char *what, const char *cwd, const char *arg, size_t n,
                          const char *want, const char *wantwhy)
{
	char out[PM_PATH_MAX];
	const char *why = "unset";
	int rc;

	memset(out, 'X', sizeof(out));
	rc = path_resolve(cwd, arg, n, out, sizeof(out), &why);
	if (want) {
		CHECK_INT(what, 0, rc);
		CHECK_STR(what, want, rc == 0 ? out : why);
		CHECK(what, why == NULL);
	} else {
		CHECK_INT(what, -1, rc);
		CHECK_STR(what, wantwhy, why);
		CHECK_STR(what, "", out); /* nothing half-built is left */
	}
}

static void test_table(void)
{
	char what[160];

	for (size_t i = 0; i < sizeof(rcases) / sizeof(rcases[0]); i++) {
		const struct rcase *c = &rcases[i];
		size_t n = c->n ? c->n : strlen(c->arg);

		snprintf(what, sizeof(what), "resolve case %zu", i);
		check_resolve(what, c->cwd, c->arg, n, c->out, c->why);
	}
}

static void test_limits(void)
{
	char *s;
	char name[PM_NAME_MAX + 2];

	/* 5000-byte path */
	s = repeat("a/", 2500, NULL);
	check_resolve("5000-byte path", "", s, strlen(s), NULL, "path is too long");
	free(s);

	/* 300-byte component, and exactly PM_NAME_MAX */
	s = repeat("x", 300, NULL);
	check_resolve("300-byte component", "", s, strlen(s), NULL, "path component is too long");
	free(s);
	memset(name, 'n', PM_NAME_MAX);
	name[PM_NAME_MAX] = '\0';
	check_resolve("PM_NAME_MAX component", "", name, PM_NAME_MAX, name, NULL);

	/* 100 components; exactly PM_PATH_DEPTH_MAX is fine */
	s = repeat("d/", 100, NULL);
	check_resolve("100 components", "", s, strlen(s), NULL, "path has too many components");
	free(s);
	s = repeat("d/", PM_PATH_DEPTH_MAX, NULL);
	{
		char *want = repeat("d/", PM_PATH_DEPTH_MAX - 1, "d");
		check_resolve("PM_PATH_DEPTH_MAX components", "", s, strlen(s), want, NULL);
		free(want);
	}
	free(s);
	/* many "." and ".." that stay inside are fine when short enough */
	s = repeat("a/../", 200, "b");
	check_resolve("200 x a/../ then b", "", s, strlen(s), "b", NULL);
	free(s);
	/* 1000 ".." from deep inside */
	s = repeat("../", 1000, NULL);
	check_resolve("1000 x ../", "a/b", s, strlen(s), NULL, CLIMB);
	free(s);

	/* result longer than PM_PATH_MAX built from cwd + arg */
	{
		char *comp = repeat("c", 250, "/"), *longcwd, *arg;
		/* 16 components of 250 bytes: 4015 bytes, under PM_PATH_MAX */
		longcwd = repeat(comp, 16, NULL);
		longcwd[strlen(longcwd) - 1] = '\0';
		arg = repeat("z", 200, NULL);
		check_resolve("cwd alone fits", "", longcwd, strlen(longcwd), longcwd, NULL);
		check_resolve("cwd + arg over PM_PATH_MAX", longcwd, arg, strlen(arg), NULL,
		              "path is too long");
		free(comp);
		free(longcwd);
		free(arg);
	}

	/* small output buffer: refused, not truncated */
	{
		char small[4];
		const char *why = NULL;
		CHECK_INT("small buffer refused", -1,
		          path_resolve("", "abcdef", 6, small, sizeof(small), &why));
		CHECK_STR("small buffer reason", "path is too long", why);
		CHECK_STR("small buffer empty", "", small);
	}
	/* only n bytes are read */
	check_resolve("n shorter than string", "", "abc/../../x", 3, "abc", NULL);
}

struct dcase {
	const char *in;
	const char *out;
	const char *why;
};

#define MALF "malformed percent-escape in path"

static const struct dcase dcases[] = {
    {"/", "/", NULL},
    {"/pub/hello-2.12.tar.gz", "/pub/hello-2.12.tar.gz", NULL},
    {"/a%20b", "/a b", NULL},
    {"/a+b", "/a+b", NULL},
    {"/%2e%2e", "/..", NULL},
    {"/%2E%2e/%2e", "/../.", NULL},
    {"/%C3%9Cbersicht",
     "/\xc3\x9c"
     "bersicht",
     NULL},
    {"/%25", "/%", NULL},
    {"/%252e", "/%2e", NULL}, /* decoded once only */
    {"/%7e", "/~", NULL},
    {"/%0d%0a", "/\r\n", NULL}, /* path_resolve refuses these later */
    {"/%", NULL, MALF},
    {"/%2", NULL, MALF},
    {"/%zz", NULL, MALF},
    {"/%g0", NULL, MALF},
    {"/%-1", NULL, MALF},
    {"/% 1", NULL, MALF},
    {"/a%00b", NULL, "path contains an encoded NUL byte (%00)"},
    {"/a%2fb", NULL, "path contains an encoded slash (%2F)"},
    {"/a%2Fb", NULL, "path contains an encoded slash (%2F)"},
    {"/..%2f..%2fetc", NULL, "path contains an encoded slash (%2F)"},
    {"/a%5cb", NULL, "path contains an encoded backslash (%5C)"},
    {"/a%5Cb", NULL, "path contains an encoded backslash (%5C)"},
};

static void test_decode(void)
{
	char out[PM_PATH_MAX], what[96];

	for (size_t i = 0; i < sizeof(dcases) / sizeof(dcases[0]); i++) {
		const struct dcase *c = &dcases[i];
		const char *why = "unset";
		int rc = path_url_decode(c->in, strlen(c->in), out, sizeof(out), &why);

		snprintf(what, sizeof(what), "decode case %zu", i);
		if (c->out) {
			CHECK_INT(what, 0, rc);
			CHECK_STR(what, c->out, out);
		} else {
			CHECK_INT(what, -1, rc);
			CHECK_STR(what, c->why, why);
			CHECK_STR(what, "", out);
		}
	}
	{
		const char *why = NULL;
		CHECK_INT("decode literal NUL", -1,
		          path_url_decode("/a\0b", 4, out, sizeof(out), &why));
		CHECK_STR("decode literal NUL reason", "path contains a NUL byte", why);
		char small[3];
		CHECK_INT("decode small buffer", -1,
		          path_url_decode("/abc", 4, small, sizeof(small), &why));
		CHECK_STR("decode small buffer reason", "path is too long", why);
	}
	/* decode then resolve: %2e%2e climbs and is refused by the resolver */
	{
		const char *why = NULL;
		char dec[PM_PATH_MAX], res[PM_PATH_MAX];
		CHECK_INT("decode %2e%2e", 0,
		          path_url_decode("/%2e%2e/etc/passwd", 18, dec, sizeof(dec), &why));
		CHECK_INT("resolve decoded %2e%2e", -1,
		          path_resolve("", dec, strlen(dec), res, sizeof(res), &why));
		CHECK_STR("resolve decoded %2e%2e reason", CLIMB, why);
		CHECK_INT("decode %0d%0a", 0,
		          path_url_decode("/a%0d%0a", 8, dec, sizeof(dec), &why));
		CHECK_INT("resolve decoded CRLF", -1,
		          path_resolve("", dec, strlen(dec), res, sizeof(res), &why));
		CHECK_STR("resolve decoded CRLF reason", CTRL, why);
	}
}

static void test_prefix_and_dots(void)
{
	CHECK_INT("prefix equal", 1, path_has_prefix("private", "private"));
	CHECK_INT("prefix beneath", 1, path_has_prefix("private/a/b", "private"));
	CHECK_INT("prefix sibling", 0, path_has_prefix("privateer", "private"));
	CHECK_INT("prefix shorter", 0, path_has_prefix("priv", "private"));
	CHECK_INT("prefix empty matches all", 1, path_has_prefix("x/y", ""));
	CHECK_INT("prefix empty matches root", 1, path_has_prefix("", ""));
	CHECK_INT("prefix root not beneath", 0, path_has_prefix("", "private"));
	CHECK_INT("prefix slash form", 1, path_has_prefix("private/x", "/private/"));
	CHECK_INT("prefix / matches all", 1, path_has_prefix("a", "/"));
	CHECK_INT("prefix nested", 1, path_has_prefix("a/b/c", "a/b"));
	CHECK_INT("prefix nested sibling", 0, path_has_prefix("a/bc", "a/b"));

	CHECK_INT("dot first", 1, path_has_dot_component(".git/config"));
	CHECK_INT("dot middle", 1, path_has_dot_component("a/.ssh/id"));
	CHECK_INT("dot last", 1, path_has_dot_component("a/b/.htpasswd"));
	CHECK_INT("dot inside name", 0, path_has_dot_component("a/b.c/d.e"));
	CHECK_INT("no dot", 0, path_has_dot_component("pub/hello"));
	CHECK_INT("root", 0, path_has_dot_component(""));
}

/* Invariants on random input built from the interesting bytes: a result
 * is canonical (no empty, "." or ".." component, no leading or trailing
 * '/', no refused byte, within the limits) and resolving it again gives the
 * same result. */
static void test_random(void)
{
	static const char alphabet[] = {'/',  '.', '.',    '.',    'a', 'b', '\\', '\0',
	                                '\n', '%', '\xc3', '\x9c', ' ', '~', ':',  0x7f};
	unsigned seed = 12345;
	int bad = 0, okc = 0, refused = 0;

	for (int iter = 0; iter < 200000; iter++) {
		char in[64], out[PM_PATH_MAX], again[PM_PATH_MAX];
		const char *why;
		size_t n;

		seed = seed * 1103515245u + 12345u;
		n = (seed >> 16) % sizeof(in);
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			in[i] = alphabet[(seed >> 16) % sizeof(alphabet)];
		}
		if (path_resolve(iter % 3 ? "" : "x/y", in, n, out, sizeof(out), &why) != 0) {
			refused++;
			if (!why || out[0] != '\0')
				bad++;
			continue;
		}
		okc++;
		size_t len = strlen(out);
		if (len > 0 && (out[0] == '/' || out[len - 1] == '/'))
			bad++;
		if (strstr(out, "//") || strcmp(out, ".") == 0 || strcmp(out, "..") == 0 ||
		    strncmp(out, "./", 2) == 0 || strncmp(out, "../", 3) == 0 ||
		    strstr(out, "/./") || strstr(out, "/../") ||
		    (len >= 2 && strcmp(out + len - 2, "/.") == 0) ||
		    (len >= 3 && strcmp(out + len - 3, "/..") == 0))
			bad++;
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f || out[i] == '\\')
				bad++;
		if (path_resolve("", out, len, again, sizeof(again), &why) != 0 ||
		    strcmp(out, again) != 0)
			bad++;
	}
	printf("# random: %d resolved, %d refused\n", okc, refused);
	CHECK_INT("random inputs keep the invariants", 0, bad);
	CHECK("random inputs: some resolve", okc > 1000);
	CHECK("random inputs: some are refused", refused > 1000);
}

int main(void)
{
	test_table();
	test_limits();
	test_decode();
	test_prefix_and_dots();
	test_random();
	return unit_done();
}
