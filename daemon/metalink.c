/* metalink.c - Metalink 4 documents (see metalink.h). */
#include <inttypes.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "metalink.h"

int metalink_url(struct buf *out, const char *base, const char *rel)
{
	size_t bl = strlen(base);

	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	if (buf_append(out, base, bl) != 0 || buf_puts(out, "/") != 0)
		return -1;
	return buf_append_enc(out, rel, strlen(rel), BUF_ENC_URI);
}

int metalink_render(struct buf *out, const struct metalink_file *f, const char *const *urls,
                    size_t n)
{
	char upd[32];
	time_t t = (time_t)f->mtime;
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(upd, sizeof(upd), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return -1;
	if (buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	                  "<metalink xmlns=\"urn:ietf:params:xml:ns:metalink\">\n"
	                  "  <generator>pubmirror</generator>\n") != 0 ||
	    buf_printf(out, "  <updated>%s</updated>\n  <file name=\"", upd) != 0 ||
	    buf_append_enc(out, f->name, strlen(f->name), BUF_ENC_HTML) != 0 ||
	    buf_printf(out, "\">\n    <size>%" PRIu64 "</size>\n", f->size) != 0)
		return -1;
	if (f->sha256_hex &&
	    buf_printf(out, "    <hash type=\"sha-256\">%s</hash>\n", f->sha256_hex) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (buf_printf(out, "    <url priority=\"%zu\">", i + 1) != 0 ||
		    buf_append_enc(out, urls[i], strlen(urls[i]), BUF_ENC_HTML) != 0 ||
		    buf_puts(out, "</url>\n") != 0)
			return -1;
	}
	return buf_puts(out, "  </file>\n</metalink>\n");
}

int metalink_accepted(const char *accept)
{
	static const char want[] = METALINK_TYPE;
	size_t wl = sizeof(want) - 1;
	int named = 0;

	for (const char *p = accept; p && *p;) {
		while (*p == ' ' || *p == ',')
			p++;
		size_t l = strcspn(p, ",;");
		while (l > 0 && p[l - 1] == ' ')
			l--;
		if (l == wl && strncasecmp(p, want, wl) == 0)
			named = 1;
		/* A client that takes anything gets the file it named: aria2
		 * sends "*\/\*,application/metalink4+xml" even with
		 * --follow-metalink=false and would save the XML as the file. */
		if (l == 3 && memcmp(p, "*/*", 3) == 0)
			return 0;
		p += strcspn(p, ",");
	}
	return named;
}
