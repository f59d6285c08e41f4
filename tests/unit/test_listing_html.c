/* test_listing_html.c - HTML and JSON listings: escaping of hostile names,
 * one relative link per entry, directories first, sorting, hidden entries,
 * nginx's JSON shape. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "listing.h"
#include "unit.h"

#define E(n, t, s, m)                                                                              \
	{                                                                                          \
		n, s, m, 1, 1, UINT32_MAX, sizeof(n) - 1, t, 0                                     \
	}

static const struct index_entry ents[] = {
    E("\"q'uote", INDEX_FILE, 5, 1000),
    E("<script>alert(1)</script>", INDEX_FILE, 10, 2000),
    E("a:b", INDEX_FILE, 7, 3000),
    E("big.iso", INDEX_FILE, 5368709120ull, 1700000000),
    E("new\nline", INDEX_FILE, 1, 4000),
    E("pct%20", INDEX_FILE, 2, 5000),
    E("secret", INDEX_DIR, 4096, 6000),
    E("sub dir", INDEX_DIR, 4096, 7000),
    E("\xc3\xa9t\xc3\xa9.txt", INDEX_FILE, 3, 8000),
};
static const struct index_dir dirs[] = {{"", 0, sizeof(ents) / sizeof(ents[0]), 0}};

static struct index ix = {
    .generation = 1,
    .rootfd = -1,
    .ndirs = 1,
    .nentries = sizeof(ents) / sizeof(ents[0]),
    .dirs = dirs,
    .entries = ents,
};

static int hide_secret(const struct index_entry *e, void *arg)
{
	(void)arg;
	return strcmp(e->name, "secret") == 0;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

int main(void)
{
	struct buf b;
	buf_init(&b, 1 << 20);
	CHECK_INT(
	    "html renders", 0,
	    listing_html(&b, &ix, &dirs[0], "/", hide_secret, NULL, "NA", "read <me> & co", 15));
	const char *h = b.data;
	CHECK("no raw script tag", strstr(h, "<script>alert") == NULL);
	CHECK("script name escaped", strstr(h, "&lt;script&gt;alert(1)&lt;/script&gt;") != NULL);
	CHECK("script href encoded",
	      strstr(h, "href=\"%3Cscript%3Ealert(1)%3C%2Fscript%3E\"") != NULL ||
	          strstr(h, "href=\"%3Cscript%3Ealert%281%29%3C/script%3E\"") != NULL ||
	          strstr(h, "href=\"%3Cscript%3Ealert%281%29%3C%2Fscript%3E\"") != NULL);
	CHECK("quote escaped in label",
	      strstr(h, "&quot;q&#39;uote") != NULL || strstr(h, "&quot;q&#x27;uote") != NULL);
	CHECK("colon name gets ./", strstr(h, "href=\"./a%3Ab\"") != NULL);
	CHECK("newline encoded in href", strstr(h, "href=\"new%0Aline\"") != NULL);
	CHECK("percent encoded", strstr(h, "href=\"pct%2520\"") != NULL);
	CHECK("utf-8 encoded in href", strstr(h, "href=\"%C3%A9t%C3%A9.txt\"") != NULL);
	CHECK("utf-8 kept in label", strstr(h, ">\xc3\xa9t\xc3\xa9.txt</a>") != NULL);
	CHECK("dir ends in /", strstr(h, "href=\"sub%20dir/\"") != NULL);
	CHECK("hidden entry absent", strstr(h, "secret") == NULL);
	CHECK("exact size beyond 4 GiB", strstr(h, ">5368709120<") != NULL);
	CHECK("human size", strstr(h, "5.0 GiB") != NULL);
	CHECK("UTC timestamp", strstr(h, "2023-11-14 22:13:20") != NULL);
	CHECK("readme escaped", strstr(h, "read &lt;me&gt; &amp; co") != NULL);
	CHECK_INT("hrefs: entries + assets-free", 8, (long long)count(h, "<a href=\"") - 1);
	CHECK("no sort links", strstr(h, "href=\"?C=") == NULL);
	CHECK("sort form", strstr(h, "<form method=\"get\">") != NULL);
	CHECK("no inline script", strstr(h, "<script>") == NULL && strstr(h, "onclick") == NULL);
	const char *dir = strstr(h, "sub%20dir/"), *file = strstr(h, "big.iso");
	CHECK("directories first", dir && file && dir < file);
	CHECK("total", strstr(h, "1 directory, 7 files") != NULL);

	buf_reset(&b);
	CHECK_INT("sorted by size desc", 0,
	          listing_html(&b, &ix, &dirs[0], "/", NULL, NULL, "SD", NULL, 0));
	const char *big = strstr(b.data, "big.iso"), *small = strstr(b.data, "new%0Aline");
	CHECK("size desc order", big && small && big < small);

	buf_reset(&b);
	CHECK_INT("breadcrumb renders", 0,
	          listing_html(&b, &ix, &dirs[0], "/a b/<x>/", NULL, NULL, NULL, NULL, 0));
	CHECK("breadcrumb link encoded", strstr(b.data, "href=\"/a%20b/%3Cx%3E/\"") != NULL);
	CHECK("breadcrumb label escaped", strstr(b.data, ">&lt;x&gt;</a>") != NULL);
	CHECK("parent link", strstr(b.data, "href=\"../\"") != NULL);

	buf_reset(&b);
	CHECK_INT("json renders", 0, listing_json(&b, &ix, &dirs[0], hide_secret, NULL, NULL));
	static const char first[] = "[\r\n{ \"name\":\"sub dir\", \"type\":\"directory\", "
	                            "\"mtime\":\"Thu, 01 Jan 1970 01:56:40 GMT\" },\r\n";
	CHECK("json starts", strncmp(b.data, first, sizeof(first) - 1) == 0);
	CHECK("json file",
	      strstr(b.data, "{ \"name\":\"big.iso\", \"type\":\"file\", \"mtime\":"
	                     "\"Tue, 14 Nov 2023 22:13:20 GMT\", \"size\":5368709120 }") != NULL);
	CHECK("json escapes", strstr(b.data, "\"name\":\"new\\nline\"") != NULL ||
	                          strstr(b.data, "\"name\":\"new\\u000aline\"") != NULL ||
	                          strstr(b.data, "\"name\":\"new\\u000Aline\"") != NULL);
	CHECK("json quote escaped", strstr(b.data, "\"name\":\"\\\"q'uote\"") != NULL);
	CHECK("json hidden", strstr(b.data, "secret") == NULL);
	CHECK("json ends as nginx's", b.len > 5 && strcmp(b.data + b.len - 5, " }\r\n]") == 0);

	struct buf small_cap;
	buf_init(&small_cap, 100);
	CHECK_INT("cap refuses", -1,
	          listing_html(&small_cap, &ix, &dirs[0], "/", NULL, NULL, NULL, NULL, 0));
	buf_free(&small_cap);
	buf_free(&b);
	return unit_done();
}
