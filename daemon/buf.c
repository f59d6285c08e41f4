/* buf.c - the length-carrying buffer and the escapers (see buf.h). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static size_t buf_limit(const struct buf *b)
{
	return b->max ? b->max : SIZE_MAX / 2;
}

void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

int buf_reserve(struct buf *b, size_t n)
{
	if (n > buf_limit(b) - b->len)
		return -1;
	if (b->len + n + 1 <= b->cap)
		return 0;
	size_t want = b->cap ? b->cap : 256;
	while (want < b->len + n + 1)
		want *= 2;
	char *p = realloc(b->data, want);
	if (p == NULL)
		return -1;
	b->data = p;
	b->cap = want;
	return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) != 0)
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char small[512];

	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof(small))
		return buf_append(b, small, (size_t)n);
	if (buf_reserve(b, (size_t)n) != 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void buf_truncate(struct buf *b, size_t len)
{
	if (len > b->len)
		return;
	b->len = len;
	if (b->data)
		b->data[len] = '\0';
}

static int uri_unreserved(unsigned char c, int keep_slash)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/');
}

/* prefix and c's two hex digits: written into o (when not NULL); returns
 * the count. */
static size_t enc_hex(char *o, const char *prefix, unsigned char c)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(prefix);

	if (o) {
		memcpy(o, prefix, n);
		o[n] = hex[c >> 4];
		o[n + 1] = hex[c & 15];
	}
	return n + 2;
}

/* The encoded form of one byte: writes up to 6 bytes into o (when not
 * NULL) and returns the count, or SIZE_MAX when the byte is refused. */
static size_t enc_byte(unsigned char c, enum buf_enc enc, char *o)
{
	const char *rep = NULL;

	switch (enc) {
	case BUF_ENC_RAW:
		break;
	case BUF_ENC_HTML:
		switch (c) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&#39;";
			break;
		default:
			break;
		}
		break;
	case BUF_ENC_URI:
	case BUF_ENC_URI_COMPONENT:
		if (!uri_unreserved(c, enc == BUF_ENC_URI)) {
			return enc_hex(o, "%", c);
		}
		break;
	case BUF_ENC_JSON:
		if (c == '"')
			rep = "\\\"";
		else if (c == '\\')
			rep = "\\\\";
		else if (c == '\n')
			rep = "\\n";
		else if (c == '\r')
			rep = "\\r";
		else if (c == '\t')
			rep = "\\t";
		else if (c < 0x20 || c == 0x7f) {
			return enc_hex(o, "\\u00", c);
		}
		break;
	case BUF_ENC_LOG:
		if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
			return enc_hex(o, "\\x", c);
		}
		break;
	case BUF_ENC_FTP:
		/* SECURITY: a name with CR/LF/NUL would inject FTP replies. */
		if (c == '\r' || c == '\n' || c == '\0')
			return SIZE_MAX;
		break;
	}
	if (rep) {
		size_t n = strlen(rep);
		if (o)
			memcpy(o, rep, n);
		return n;
	}
	if (o)
		o[0] = (char)c;
	return 1;
}

size_t buf_enc_len(const char *s, size_t n, enum buf_enc enc)
{
	size_t total = 0;

	for (size_t i = 0; i < n; i++) {
		size_t k = enc_byte((unsigned char)s[i], enc, NULL);
		if (k == SIZE_MAX)
			return SIZE_MAX;
		total += k;
	}
	return total;
}

int buf_append_enc(struct buf *b, const char *s, size_t n, enum buf_enc enc)
{
	if (enc == BUF_ENC_RAW)
		return buf_append(b, s, n);
	size_t need = buf_enc_len(s, n, enc);
	if (need == SIZE_MAX || buf_reserve(b, need) != 0)
		return -1;
	char *o = b->data + b->len;
	for (size_t i = 0; i < n; i++)
		o += enc_byte((unsigned char)s[i], enc, o);
	b->len += need;
	b->data[b->len] = '\0';
	return 0;
}

int enc_into(char *out, size_t outsz, const char *s, size_t n, enum buf_enc enc)
{
	size_t need = buf_enc_len(s, n, enc);

	if (outsz == 0)
		return -1;
	if (need == SIZE_MAX || need >= outsz) {
		out[0] = '\0';
		return -1;
	}
	char *o = out;
	for (size_t i = 0; i < n; i++)
		o += enc_byte((unsigned char)s[i], enc, o);
	*o = '\0';
	return 0;
}

int buf_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
