/* test_buf.c - the buffer and its escapers (HTML, URI, JSON, log, FTP)
 * against hostile input: every byte value, markup and quote breakers,
 * NUL and CR/LF in the middle, the cap, and measure-then-write agreeing. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "unit.h"

struct enc_case {
	const char *what;
	enum buf_enc enc;
	const char *in;
	size_t n;        /* bytes of in (may hold NUL) */
	const char *out; /* NULL: refused */
	size_t outn;     /* bytes of out */
};

#define S(x) x, sizeof(x) - 1
#define REFUSED NULL, 0

static const struct enc_case cases[] = {
    /* HTML: the five markup characters, nothing else touched */
    {"html script", BUF_ENC_HTML, S("<script>alert(1)</script>"),
     S("&lt;script&gt;alert(1)&lt;/script&gt;")},
    {"html attribute breakers", BUF_ENC_HTML, S("\"' onmouseover=x a=\""),
     S("&quot;&#39; onmouseover=x a=&quot;")},
    {"html entity is escaped again", BUF_ENC_HTML, S("&amp;&#39;"), S("&amp;amp;&amp;#39;")},
    {"html keeps UTF-8", BUF_ENC_HTML, S("caf\xc3\xa9 \xe2\x80\xae"),
     S("caf\xc3\xa9 \xe2\x80\xae")},
    {"html passes NUL through (names never hold one)", BUF_ENC_HTML, S("a\0b"), S("a\0b")},
    /* URI: percent-encode all but unreserved (and '/' for paths) */
    {"uri path keeps slash", BUF_ENC_URI, S("/pub/a b/c"), S("/pub/a%20b/c")},
    {"uri encodes query and fragment", BUF_ENC_URI, S("a?b#c&d=e"), S("a%3Fb%23c%26d%3De")},
    {"uri encodes percent", BUF_ENC_URI, S("100%"), S("100%25")},
    {"uri encodes quotes and angle brackets", BUF_ENC_URI, S("\"<'>"), S("%22%3C%27%3E")},
    {"uri encodes controls and NUL", BUF_ENC_URI, S("a\r\n\0\x7f"), S("a%0D%0A%00%7F")},
    {"uri encodes UTF-8 bytes", BUF_ENC_URI, S("\xc3\xa9\xff"), S("%C3%A9%FF")},
    {"uri keeps unreserved", BUF_ENC_URI, S("AZaz09-._~"), S("AZaz09-._~")},
    {"uri scheme colon encoded", BUF_ENC_URI, S("javascript:x"), S("javascript%3Ax")},
    {"uri component encodes slash", BUF_ENC_URI_COMPONENT, S("a/b/../c"), S("a%2Fb%2F..%2Fc")},
    /* JSON: quote, backslash, every control character */
    {"json quote and backslash", BUF_ENC_JSON, S("\"\\"), S("\\\"\\\\")},
    {"json named controls", BUF_ENC_JSON, S("\n\r\t"), S("\\n\\r\\t")},
    {"json other controls", BUF_ENC_JSON, S("\x01\x1f\x7f"), S("\\u0001\\u001F\\u007F")},
    {"json NUL", BUF_ENC_JSON, S("a\0b"), S("a\\u0000b")},
    {"json closing a string", BUF_ENC_JSON, S("x\",\"admin\":true"), S("x\\\",\\\"admin\\\":true")},
    {"json keeps UTF-8 and slash", BUF_ENC_JSON, S("/\xc3\xa9</script>"), S("/\xc3\xa9</script>")},
    /* log: one line per event, fields in quotes */
    {"log newline cannot forge a line", BUF_ENC_LOG, S("x\n127.0.0.1 - - \"GET /\""),
     S("x\\x0A127.0.0.1 - - \\x22GET /\\x22")},
    {"log CR, ESC, DEL, backslash", BUF_ENC_LOG, S("\r\x1b[31m\x7f\\"),
     S("\\x0D\\x1B[31m\\x7F\\x5C")},
    {"log NUL", BUF_ENC_LOG, S("a\0b"), S("a\\x00b")},
    {"log keeps UTF-8", BUF_ENC_LOG, S("\xc3\xa9"), S("\xc3\xa9")},
    /* FTP: refuse what would end a reply line */
    {"ftp refuses CRLF injection", BUF_ENC_FTP, S("a\r\n230 Logged in"), REFUSED},
    {"ftp refuses LF", BUF_ENC_FTP, S("a\nb"), REFUSED},
    {"ftp refuses NUL", BUF_ENC_FTP, S("a\0b"), REFUSED},
    {"ftp keeps quotes and spaces", BUF_ENC_FTP, S("a \"b\" c"), S("a \"b\" c")},
    {"raw is raw", BUF_ENC_RAW, S("<\"\n>"), S("<\"\n>")},
};

static const char *enc_name(enum buf_enc e)
{
	switch (e) {
	case BUF_ENC_RAW:
		return "raw";
	case BUF_ENC_HTML:
		return "html";
	case BUF_ENC_URI:
		return "uri";
	case BUF_ENC_URI_COMPONENT:
		return "uri-component";
	case BUF_ENC_JSON:
		return "json";
	case BUF_ENC_LOG:
		return "log";
	case BUF_ENC_FTP:
		return "ftp";
	}
	return "?";
}

static void test_cases(void)
{
	char what[160], small[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct enc_case *c = &cases[i];
		struct buf b;

		buf_init(&b, 0);
		int r = buf_append_enc(&b, c->in, c->n, c->enc);
		if (c->out == NULL) {
			snprintf(what, sizeof(what), "%s: refused", c->what);
			CHECK_INT(what, -1, r);
			snprintf(what, sizeof(what), "%s: buffer unchanged", c->what);
			CHECK_INT(what, 0, b.len);
			snprintf(what, sizeof(what), "%s: measured as refused", c->what);
			CHECK(what, buf_enc_len(c->in, c->n, c->enc) == SIZE_MAX);
			snprintf(what, sizeof(what), "%s: enc_into refuses", c->what);
			CHECK_INT(what, -1, enc_into(small, sizeof(small), c->in, c->n, c->enc));
			buf_free(&b);
			continue;
		}
		snprintf(what, sizeof(what), "%s: appended", c->what);
		CHECK_INT(what, 0, r);
		snprintf(what, sizeof(what), "%s: length", c->what);
		CHECK_INT(what, c->outn, b.len);
		snprintf(what, sizeof(what), "%s: bytes", c->what);
		UNIT_REPORT(b.data && b.len == c->outn && memcmp(b.data, c->out, c->outn) == 0,
		            what, "expected \"%s\", got \"%s\"", c->out,
		            b.data ? b.data : "(null)");
		snprintf(what, sizeof(what), "%s: measured = written", c->what);
		CHECK_INT(what, b.len, buf_enc_len(c->in, c->n, c->enc));
		snprintf(what, sizeof(what), "%s: NUL-terminated", c->what);
		CHECK_INT(what, 0, b.data[b.len]);
		if (memchr(c->out, 0, c->outn) == NULL) {
			snprintf(what, sizeof(what), "%s: enc_into", c->what);
			CHECK_INT(what, 0, enc_into(small, sizeof(small), c->in, c->n, c->enc));
			if (c->enc != BUF_ENC_RAW) {
				snprintf(what, sizeof(what), "%s: enc_into text", c->what);
				CHECK_STR(what, c->out, small);
			}
		}
		buf_free(&b);
	}
}

/* Every byte value, for every encoding: what comes out is in the
 * encoding's safe alphabet. */
static int safe_out(enum buf_enc e, const char *o, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)o[i];
		switch (e) {
		case BUF_ENC_HTML:
			if (c == '<' || c == '>' || c == '"' || c == '\'')
				return 0;
			if (c == '&' && strncmp(o + i, "&amp;", 5) && strncmp(o + i, "&lt;", 4) &&
			    strncmp(o + i, "&gt;", 4) && strncmp(o + i, "&quot;", 6) &&
			    strncmp(o + i, "&#39;", 5))
				return 0;
			break;
		case BUF_ENC_URI:
		case BUF_ENC_URI_COMPONENT:
			if (c == '%') {
				if (i + 2 >= n)
					return 0;
				if (buf_hexval(o[i + 1]) < 0 || buf_hexval(o[i + 2]) < 0)
					return 0;
				i += 2;
			} else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			             (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
			             c == '~' || (e == BUF_ENC_URI && c == '/'))) {
				return 0;
			}
			break;
		case BUF_ENC_JSON:
			if (c < 0x20 || c == 0x7f)
				return 0;
			if (c == '\\') {
				i++; /* the escaped character */
			} else if (c == '"') {
				return 0;
			}
			break;
		case BUF_ENC_LOG:
			if (c < 0x20 || c == 0x7f || c == '"')
				return 0;
			if (c == '\\' && (i + 1 >= n || o[i + 1] != 'x'))
				return 0;
			break;
		default:
			break;
		}
	}
	return 1;
}

static void test_every_byte(void)
{
	static const enum buf_enc encs[] = {BUF_ENC_HTML, BUF_ENC_URI, BUF_ENC_URI_COMPONENT,
	                                    BUF_ENC_JSON, BUF_ENC_LOG, BUF_ENC_FTP};
	char all[256], what[96];

	for (int i = 0; i < 256; i++)
		all[i] = (char)i;
	for (size_t k = 0; k < sizeof(encs) / sizeof(encs[0]); k++) {
		enum buf_enc e = encs[k];
		int bad = -1;

		for (int i = 0; i < 256 && bad < 0; i++) {
			char one = (char)i;
			struct buf b;

			buf_init(&b, 64);
			int r = buf_append_enc(&b, &one, 1, e);
			if (e == BUF_ENC_FTP) {
				int refused = (i == 0 || i == '\r' || i == '\n');
				if ((r != 0) != refused ||
				    (r == 0 && (b.len != 1 || b.data[0] != one)))
					bad = i;
			} else if (r != 0 || !safe_out(e, b.data, b.len) ||
			           b.len != buf_enc_len(&one, 1, e)) {
				bad = i;
			}
			buf_free(&b);
		}
		snprintf(what, sizeof(what), "%s: every byte value comes out safe", enc_name(e));
		UNIT_REPORT(bad < 0, what, "byte 0x%02x", bad < 0 ? 0 : bad);

		/* all 256 at once: measured = written, and safe as a whole */
		struct buf b;
		buf_init(&b, 0);
		int r = buf_append_enc(&b, all, sizeof(all), e);
		snprintf(what, sizeof(what), "%s: 256 bytes at once", enc_name(e));
		if (e == BUF_ENC_FTP)
			CHECK_INT(what, -1, r);
		else
			CHECK(what, r == 0 && safe_out(e, b.data, b.len) &&
			                b.len == buf_enc_len(all, sizeof(all), e));
		buf_free(&b);
	}
}

/* The cap: an append that would pass it fails and changes nothing; the
 * escaper measures first, so no half-escaped string is ever left. */
static void test_cap(void)
{
	struct buf b;

	buf_init(&b, 16);
	CHECK_INT("cap: fits", 0, buf_puts(&b, "0123456789"));
	CHECK_INT("cap: escaped text over the cap refused", -1,
	          buf_append_enc(&b, "<<", 2, BUF_ENC_HTML)); /* 8 bytes: 18 > 16 */
	CHECK_INT("cap: length unchanged", 10, b.len);
	CHECK_STR("cap: contents unchanged", "0123456789", b.data);
	CHECK_INT("cap: raw up to the cap", 0, buf_append(&b, "abcdef", 6));
	CHECK_INT("cap: one more byte refused", -1, buf_append(&b, "x", 1));
	CHECK_INT("cap: printf over the cap refused", -1, buf_printf(&b, "%d", 7));
	CHECK_INT("cap: still 16", 16, b.len);
	buf_truncate(&b, 4);
	CHECK_STR("truncate rolls back", "0123", b.data);
	buf_truncate(&b, 99);
	CHECK_INT("truncate past the end ignored", 4, b.len);
	buf_reset(&b);
	CHECK_INT("reset empties", 0, b.len);
	buf_free(&b);

	char out[8];
	CHECK_INT("enc_into: too small refused", -1,
	          enc_into(out, sizeof(out), "<<", 2, BUF_ENC_HTML));
	CHECK_STR("enc_into: left empty", "", out);
	CHECK_INT("enc_into: exact fit (7 + NUL)", 0,
	          enc_into(out, sizeof(out), "a%b", 3, BUF_ENC_URI));
	CHECK_STR("enc_into: exact fit text", "a%25b", out);
	CHECK_INT("enc_into: zero size refused", -1, enc_into(out, 0, "a", 1, BUF_ENC_RAW));
}

static void test_hexval(void)
{
	int bad = -1;
	for (int c = 0; c < 256 && bad < 0; c++) {
		int want = (c >= '0' && c <= '9')   ? c - '0'
		           : (c >= 'a' && c <= 'f') ? c - 'a' + 10
		           : (c >= 'A' && c <= 'F') ? c - 'A' + 10
		                                    : -1;
		if (buf_hexval(c) != want)
			bad = c;
	}
	UNIT_REPORT(bad < 0, "hexval: every byte value", "byte 0x%02x", bad < 0 ? 0 : bad);
}

int main(void)
{
	test_cases();
	test_every_byte();
	test_cap();
	test_hexval();
	return unit_done();
}
