/* test_http_util.c - content types, HTTP dates, ETags, Range policy,
 * conditional-request helpers, Basic credentials. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fmt.h"
#include "http_util.h"
#include "unit.h"

static void test_mime(void)
{
	static const struct {
		const char *name, *type;
	} t[] = {
	    {"debian-12.iso", "application/x-iso9660-image"},
	    {"a.tar.gz", "application/gzip"},
	    {"a.TGZ", "application/gzip"},
	    {"x.tar.xz", "application/x-xz"},
	    {"x.zst", "application/zstd"},
	    {"x.deb", "application/vnd.debian.binary-package"},
	    {"x.rpm", "application/x-rpm"},
	    {"SHA256SUMS", "text/plain; charset=utf-8"},
	    {"x.sha256", "text/plain; charset=utf-8"},
	    {"notes.txt", "text/plain; charset=utf-8"},
	    {"index.html", "text/html; charset=utf-8"},
	    {"a.json", "application/json; charset=utf-8"},
	    {"pic.svg", "image/svg+xml"},
	    {"doc.pdf", "application/pdf"},
	    {"README.md", "text/markdown; charset=utf-8"},
	    {"noext", "application/octet-stream"},
	    {".hidden", "application/octet-stream"},
	    {"trailingdot.", "application/octet-stream"},
	    {"dir/file.sig", "application/pgp-signature"},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		CHECK_STR(t[i].name, t[i].type, http_mime_type(t[i].name));
	CHECK("html is active", http_mime_active("text/html; charset=utf-8"));
	CHECK("svg is active", http_mime_active("image/svg+xml"));
	CHECK("gzip is not", !http_mime_active("application/gzip"));
}

static void test_dates(void)
{
	char b[40];
	time_t t;
	CHECK_STR("epoch", "Thu, 01 Jan 1970 00:00:00 GMT", fmt_http_date(0, b, sizeof(b)));
	CHECK_STR("rfc example", "Sun, 06 Nov 1994 08:49:37 GMT",
	          fmt_http_date(784111777, b, sizeof(b)));
	CHECK_INT("imf parse", 0, http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", &t));
	CHECK_INT("imf value", 784111777, t);
	CHECK_INT("rfc850 parse", 0, http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", &t));
	CHECK_INT("rfc850 value", 784111777, t);
	CHECK_INT("asctime parse", 0, http_date_parse("Sun Nov  6 08:49:37 1994", &t));
	CHECK_INT("asctime value", 784111777, t);
	CHECK_INT("garbage", -1, http_date_parse("yesterday", &t));
	CHECK_INT("bad month", -1, http_date_parse("Sun, 06 Foo 1994 08:49:37 GMT", &t));
	CHECK_INT("trailing junk", -1, http_date_parse("Sun, 06 Nov 1994 08:49:37 GMTX", &t));
	CHECK_INT("empty", -1, http_date_parse("", &t));
	CHECK_INT("past 2038", 0, http_date_parse("Fri, 01 Jan 2100 00:00:00 GMT", &t));
	CHECK_INT("past 2038 value", 4102444800LL, t);
}

static void test_ranges(void)
{
	struct http_range r[PM_HTTP_RANGES_MAX];
	unsigned n;
	const uint64_t five_gib = 5ull << 30;

	CHECK_INT("simple", HTTP_RANGE_OK, http_range_parse("bytes=0-99", 1000, r, &n));
	CHECK_INT("simple n", 1, n);
	CHECK_INT("simple last", 99, r[0].last);
	CHECK_INT("open", HTTP_RANGE_OK, http_range_parse("bytes=500-", 1000, r, &n));
	CHECK_INT("open last", 999, r[0].last);
	CHECK_INT("suffix", HTTP_RANGE_OK, http_range_parse("bytes=-100", 1000, r, &n));
	CHECK_INT("suffix first", 900, r[0].first);
	CHECK_INT("suffix bigger than file", HTTP_RANGE_OK,
	          http_range_parse("bytes=-5000", 1000, r, &n));
	CHECK_INT("suffix bigger first", 0, r[0].first);
	CHECK_INT("end clipped", HTTP_RANGE_OK, http_range_parse("bytes=900-5000", 1000, r, &n));
	CHECK_INT("end clipped last", 999, r[0].last);
	CHECK_INT("beyond: 416", HTTP_RANGE_UNSAT, http_range_parse("bytes=1000-", 1000, r, &n));
	CHECK_INT("zero suffix: 416", HTTP_RANGE_UNSAT, http_range_parse("bytes=-0", 1000, r, &n));
	CHECK_INT("empty file: 416", HTTP_RANGE_UNSAT, http_range_parse("bytes=0-", 0, r, &n));
	CHECK_INT("two", HTTP_RANGE_OK, http_range_parse("bytes=0-9, 20-29", 1000, r, &n));
	CHECK_INT("two n", 2, n);
	CHECK_INT("one bad one good", HTTP_RANGE_OK,
	          http_range_parse("bytes=5000-6000,0-0", 1000, r, &n));
	CHECK_INT("one bad one good n", 1, n);
	CHECK_INT("reversed: ignored", HTTP_RANGE_NONE, http_range_parse("bytes=9-0", 1000, r, &n));
	CHECK_INT("other unit: ignored", HTTP_RANGE_NONE,
	          http_range_parse("items=0-1", 1000, r, &n));
	CHECK_INT("junk: ignored", HTTP_RANGE_NONE, http_range_parse("bytes=a-b", 1000, r, &n));
	CHECK_INT("no dash: ignored", HTTP_RANGE_NONE, http_range_parse("bytes=5", 1000, r, &n));
	CHECK_INT("empty set: ignored", HTTP_RANGE_NONE, http_range_parse("bytes=", 1000, r, &n));
	CHECK_INT("overflow: ignored", HTTP_RANGE_NONE,
	          http_range_parse("bytes=0-99999999999999999999999", 1000, r, &n));
	CHECK_INT("overlap beyond size: whole", HTTP_RANGE_NONE,
	          http_range_parse("bytes=0-999,0-999", 1000, r, &n));
	CHECK_INT("small overlap allowed", HTTP_RANGE_OK,
	          http_range_parse("bytes=0-10,5-20", 1000, r, &n));
	char many[512] = "bytes=";
	for (int i = 0; i <= PM_HTTP_RANGES_MAX; i++) {
		char one[16];
		snprintf(one, sizeof(one), "%s%d-%d", i ? "," : "", i * 2, i * 2);
		strncat(many, one, sizeof(many) - strlen(many) - 1);
	}
	CHECK_INT("too many: whole", HTTP_RANGE_NONE, http_range_parse(many, 1000, r, &n));
	CHECK_INT("beyond 4 GiB", HTTP_RANGE_OK,
	          http_range_parse("bytes=5368709000-", five_gib, r, &n));
	CHECK("beyond 4 GiB first", r[0].first == 5368709000ull && r[0].last == five_gib - 1);
}

static void test_conditionals(void)
{
	char e[80];
	http_etag(1, 2, 3, 4, e, sizeof(e));
	CHECK_STR("etag form", "\"1-2-3-4\"", e);
	CHECK("inm exact", http_etag_match_list("\"1-2-3-4\"", e));
	CHECK("inm weak", http_etag_match_list("W/\"1-2-3-4\"", e));
	CHECK("inm list", http_etag_match_list("\"x\", \"1-2-3-4\"", e));
	CHECK("inm star", http_etag_match_list("*", e));
	CHECK("inm other", !http_etag_match_list("\"1-2-3-5\"", e));
	CHECK("inm garbage", !http_etag_match_list("1-2-3-4", e));
	CHECK("if-range etag", http_if_range_ok("\"1-2-3-4\"", e, 0));
	CHECK("if-range weak refused", !http_if_range_ok("W/\"1-2-3-4\"", e, 0));
	CHECK("if-range date equal",
	      http_if_range_ok("Sun, 06 Nov 1994 08:49:37 GMT", e, 784111777));
	CHECK("if-range date other",
	      !http_if_range_ok("Sun, 06 Nov 1994 08:49:38 GMT", e, 784111777));
	CHECK("gzip", http_accepts_gzip("gzip, deflate, br"));
	CHECK("gzip q0", !http_accepts_gzip("gzip;q=0, deflate"));
	CHECK("identity only", !http_accepts_gzip("identity"));
	CHECK("star", http_accepts_gzip("*"));
	CHECK("no header", !http_accepts_gzip(NULL));
	CHECK("json", http_wants_json("application/json"));
	CHECK("browser",
	      !http_wants_json("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"));
	CHECK("json preferred", http_wants_json("application/json, text/html;q=0.5"));
	CHECK("any", !http_wants_json("*/*"));
}

static void test_human(void)
{
	char b[32];
	CHECK_STR("bytes", "512 B", fmt_human_size(512, b, sizeof(b)));
	CHECK_STR("kib", "1.5 KiB", fmt_human_size(1536, b, sizeof(b)));
	CHECK_STR("mib", "10 MiB", fmt_human_size(10u << 20, b, sizeof(b)));
	CHECK_STR("gib", "5.0 GiB", fmt_human_size(5ull << 30, b, sizeof(b)));
}

/* "Basic " + base64 of raw (n bytes), for the over-long cases. */
static void basic_of(const unsigned char *raw, size_t n, char *out, size_t outsz)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = (size_t)snprintf(out, outsz, "Basic ");
	for (size_t i = 0; i < n && o + 5 < outsz; i += 3) {
		uint32_t v = (uint32_t)raw[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)raw[i + 1] << 8;
		if (i + 2 < n)
			v |= raw[i + 2];
		out[o++] = b64[v >> 18];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? b64[v & 63] : '=';
	}
	out[o] = '\0';
}

static void test_basic(void)
{
	static const struct {
		const char *what, *hdr;
		int rc;
		const char *user, *pass;
		size_t passlen;
	} t[] = {
	    {"plain", "Basic YWxpY2U6c2VjcmV0", 0, "alice", "secret", 6},
	    {"scheme any case, tabs", "bAsIc\t YWxpY2U6c2VjcmV0 \t", 0, "alice", "secret", 6},
	    {"NUL in the password kept, with its length", "Basic YWxpY2U6c2VjAGp1bms=", 0, "alice",
	     "sec\0junk", 8},
	    {"empty password", "Basic YWxpY2U6", 0, "alice", "", 0},
	    {"password holds ':'", "Basic YTpiOmM=", 0, "a", "b:c", 3},
	    {"padding ==", "Basic YWI6Yw==", 0, "ab", "c", 1},
	    {"NUL in the user", "Basic YWwAaWNlOnNlY3JldA==", -1, NULL, NULL, 0},
	    {"control byte in the user", "Basic YWwBaWNlOng=", -1, NULL, NULL, 0},
	    {"no colon", "Basic YWxpY2U=", -1, NULL, NULL, 0},
	    {"empty user", "Basic OnB3", -1, NULL, NULL, 0},
	    {"not Basic", "Bearer YWxpY2U6c2VjcmV0", -1, NULL, NULL, 0},
	    {"Basic without a space", "BasicYWxpY2U6c2VjcmV0", -1, NULL, NULL, 0},
	    {"no token", "Basic ", -1, NULL, NULL, 0},
	    {"two tokens", "Basic YWxpY2U6c2VjcmV0 YWxp", -1, NULL, NULL, 0},
	    {"length not a multiple of 4", "Basic YWxpY2U6c2VjcmV", -1, NULL, NULL, 0},
	    {"bad character", "Basic YWxpY2U6c2Vj*mV0", -1, NULL, NULL, 0},
	    {"base64url alphabet", "Basic YWxpY2U6c2Vj_mV0", -1, NULL, NULL, 0},
	    {"padding inside", "Basic YW==Y2U6c2VjcmV0", -1, NULL, NULL, 0},
	    {"three pads", "Basic YWI6Y===", -1, NULL, NULL, 0},
	    {"pad then data", "Basic YWI6Y=w=", -1, NULL, NULL, 0},
	    {"percent-encoded", "Basic YWxpY2U6c2VjcmV0%3D", -1, NULL, NULL, 0},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct http_basic b;
		const char *why = NULL;
		int rc = http_basic_decode(t[i].hdr, &b, &why);
		CHECK_INT(t[i].what, t[i].rc, rc);
		if (t[i].rc == 0 && rc == 0) {
			CHECK_STR(t[i].what, t[i].user, b.user);
			CHECK_INT(t[i].what, t[i].passlen, b.passlen);
			CHECK(t[i].what, memcmp(b.pass, t[i].pass, t[i].passlen) == 0);
		}
		if (rc != 0)
			CHECK(t[i].what, why != NULL && why[0] != '\0');
	}
	struct http_basic b;
	const char *why = NULL;
	CHECK_INT("NULL header", -1, http_basic_decode(NULL, &b, &why));

	/* lengths at and past the limits */
	unsigned char raw[PM_AUTH_USER_MAX + PM_AUTH_PASS_MAX + 64];
	char hdr[1024];
	memset(raw, 'u', sizeof(raw));
	raw[PM_AUTH_USER_MAX] = ':';
	basic_of(raw, PM_AUTH_USER_MAX + 1 + PM_AUTH_PASS_MAX, hdr, sizeof(hdr));
	CHECK_INT("longest user and password", 0, http_basic_decode(hdr, &b, &why));
	CHECK_INT("longest password's length", PM_AUTH_PASS_MAX, b.passlen);
	CHECK_INT("longest user's length", PM_AUTH_USER_MAX, strlen(b.user));
	basic_of(raw, PM_AUTH_USER_MAX + 1 + PM_AUTH_PASS_MAX + 1, hdr, sizeof(hdr));
	CHECK_INT("password one byte too long", -1, http_basic_decode(hdr, &b, &why));
	memset(raw, 'u', sizeof(raw));
	raw[PM_AUTH_USER_MAX + 1] = ':';
	basic_of(raw, PM_AUTH_USER_MAX + 3, hdr, sizeof(hdr));
	CHECK_INT("user one byte too long", -1, http_basic_decode(hdr, &b, &why));
	memset(raw, 'u', sizeof(raw));
	raw[1] = ':';
	basic_of(raw, sizeof(raw), hdr, sizeof(hdr));
	CHECK_INT("over-long token refused before decoding", -1, http_basic_decode(hdr, &b, &why));
	CHECK("over-long: reason", why && strstr(why, "longer") != NULL);
	memset(hdr, 'A', sizeof(hdr) - 1);
	memcpy(hdr, "Basic ", 6);
	hdr[sizeof(hdr) - 1] = '\0';
	CHECK_INT("1 KiB of base64", -1, http_basic_decode(hdr, &b, &why));
}

int main(void)
{
	test_mime();
	test_dates();
	test_ranges();
	test_conditionals();
	test_human();
	test_basic();
	return unit_done();
}
