/* test_metalink.c - Metalink 4 documents: escaping of names and URLs,
 * the hash only when known, URL joining, Accept negotiation. */
#include <stdio.h>
#include <string.h>

#include "metalink.h"
#include "unit.h"

static void test_url(void)
{
	struct buf b;
	buf_init(&b, 4096);
	CHECK_INT("url ok", 0, metalink_url(&b, "https://m.example/pub//", "a b/c&d.iso"));
	CHECK_STR("url joined and encoded", "https://m.example/pub/a%20b/c%26d.iso", b.data);
	buf_free(&b);
}

static void test_render(void)
{
	struct buf b;
	const char *urls[] = {"https://h/x?a=1&b=<2>"};
	struct metalink_file f = {"a&\"<b>.iso", 42, 0, NULL};
	buf_init(&b, 4096);
	CHECK_INT("render ok", 0, metalink_render(&b, &f, urls, 1));
	CHECK("namespace", strstr(b.data, "<metalink xmlns=\"urn:ietf:params:xml:ns:metalink\">"));
	CHECK("name escaped", strstr(b.data, "<file name=\"a&amp;&quot;&lt;b&gt;.iso\">"));
	CHECK("size", strstr(b.data, "<size>42</size>"));
	CHECK("no hash when unknown", strstr(b.data, "<hash") == NULL);
	CHECK("url escaped",
	      strstr(b.data, "<url priority=\"1\">https://h/x?a=1&amp;b=&lt;2&gt;</url>"));
	CHECK("updated", strstr(b.data, "<updated>1970-01-01T00:00:00Z</updated>"));
	buf_reset(&b);
	f.sha256_hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	CHECK_INT("render with hash", 0, metalink_render(&b, &f, urls, 1));
	CHECK("hash", strstr(b.data, "<hash type=\"sha-256\">0011"));
	buf_free(&b);
}

static void test_accept(void)
{
	CHECK("plain", metalink_accepted("application/metalink4+xml"));
	CHECK("aria2's list (with */*): the file",
	      !metalink_accepted("*/*,application/metalink4+xml,application/metalink+xml"));
	CHECK("with q", metalink_accepted("text/html, application/metalink4+xml;q=0.9"));
	CHECK("not */*", !metalink_accepted("*/*"));
	CHECK("not v3", !metalink_accepted("application/metalink+xml"));
	CHECK("not a prefix", !metalink_accepted("application/metalink4+xmlx"));
	CHECK("NULL", !metalink_accepted(NULL));
}

int main(void)
{
	test_url();
	test_render();
	test_accept();
	return unit_done();
}
