/* http_util.c - pure helpers of the HTTP module (see http_util.h). */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http_util.h"

struct mime {
	const char *ext;
	const char *type;
};

/* Sorted only for readability; the table is small enough to scan. */
static const struct mime mime_table[] = {
    {"7z", "application/x-7z-compressed"},
    {"asc", "text/plain; charset=utf-8"},
    {"bz2", "application/x-bzip2"},
    {"conf", "text/plain; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},
    {"deb", "application/vnd.debian.binary-package"},
    {"dsc", "text/plain; charset=utf-8"},
    {"gif", "image/gif"},
    {"gz", "application/gzip"},
    {"htm", "text/html; charset=utf-8"},
    {"html", "text/html; charset=utf-8"},
    {"ico", "image/vnd.microsoft.icon"},
    {"img", "application/octet-stream"},
    {"iso", "application/x-iso9660-image"},
    {"jpeg", "image/jpeg"},
    {"jpg", "image/jpeg"},
    {"js", "text/javascript; charset=utf-8"},
    {"json", "application/json; charset=utf-8"},
    {"log", "text/plain; charset=utf-8"},
    {"lz", "application/x-lzip"},
    {"lzma", "application/x-lzma"},
    {"md", "text/markdown; charset=utf-8"},
    {"md5", "text/plain; charset=utf-8"},
    {"pdf", "application/pdf"},
    {"pem", "application/x-pem-file"},
    {"png", "image/png"},
    {"qcow2", "application/octet-stream"},
    {"rpm", "application/x-rpm"},
    {"sha1", "text/plain; charset=utf-8"},
    {"sha256", "text/plain; charset=utf-8"},
    {"sha512", "text/plain; charset=utf-8"},
    {"sig", "application/pgp-signature"},
    {"sign", "application/pgp-signature"},
    {"svg", "image/svg+xml"},
    {"tar", "application/x-tar"},
    {"tgz", "application/gzip"},
    {"torrent", "application/x-bittorrent"},
    {"txt", "text/plain; charset=utf-8"},
    {"webp", "image/webp"},
    {"woff2", "font/woff2"},
    {"xml", "application/xml; charset=utf-8"},
    {"xz", "application/x-xz"},
    {"yaml", "text/plain; charset=utf-8"},
    {"yml", "text/plain; charset=utf-8"},
    {"zip", "application/zip"},
    {"zst", "application/zstd"},
};

/* Well-known names without an extension that are text. */
static const char *const text_names[] = {
    "README",    "LICENSE",    "COPYING",    "CHANGES",  "NEWS",    "INSTALL",
    "AUTHORS",   "SHA256SUMS", "SHA512SUMS", "SHA1SUMS", "MD5SUMS", "Release",
    "InRelease", "Packages",   "Sources",    "ls-lR",
};

const char *http_mime_type(const char *name)
{
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	const char *dot = strrchr(base, '.');
	if (dot && dot != base && dot[1] != '\0') {
		for (size_t i = 0; i < sizeof(mime_table) / sizeof(mime_table[0]); i++)
			if (strcasecmp(dot + 1, mime_table[i].ext) == 0)
				return mime_table[i].type;
	} else {
		for (size_t i = 0; i < sizeof(text_names) / sizeof(text_names[0]); i++)
			if (strcmp(base, text_names[i]) == 0)
				return "text/plain; charset=utf-8";
	}
	return "application/octet-stream";
}

int http_mime_active(const char *type)
{
	return strncmp(type, "text/html", 9) == 0 || strncmp(type, "image/svg", 9) == 0 ||
	       strncmp(type, "application/xml", 15) == 0;
}

static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static int month_of(const char *s)
{
	for (int i = 0; i < 12; i++)
		if (strncmp(s, months[i], 3) == 0)
			return i;
	return -1;
}

/* Read exactly/at most ndig digits; returns the pointer after them or NULL. */
static const char *digits(const char *s, int min, int max, int *v)
{
	int n = 0, x = 0;
	while (n < max && isdigit((unsigned char)s[n])) {
		x = x * 10 + (s[n] - '0');
		n++;
	}
	if (n < min)
		return NULL;
	*v = x;
	return s + n;
}

static const char *hms(const char *s, struct tm *tm)
{
	if (!(s = digits(s, 2, 2, &tm->tm_hour)) || *s++ != ':')
		return NULL;
	if (!(s = digits(s, 2, 2, &tm->tm_min)) || *s++ != ':')
		return NULL;
	return digits(s, 2, 2, &tm->tm_sec);
}

int http_date_parse(const char *s, time_t *t)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *p = s;
	const char *comma = strchr(s, ',');
	int y;

	if (comma && comma - s == 3) {
		/* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
		p = comma + 1;
		if (*p++ != ' ' || !(p = digits(p, 2, 2, &tm.tm_mday)) || *p++ != ' ')
			return -1;
		if ((tm.tm_mon = month_of(p)) < 0 || p[3] != ' ')
			return -1;
		p += 4;
		if (!(p = digits(p, 4, 4, &y)) || *p++ != ' ' || !(p = hms(p, &tm)))
			return -1;
		if (strcmp(p, " GMT") != 0)
			return -1;
		tm.tm_year = y - 1900;
	} else if (comma) {
		/* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
		p = comma + 1;
		if (*p++ != ' ' || !(p = digits(p, 2, 2, &tm.tm_mday)) || *p++ != '-')
			return -1;
		if ((tm.tm_mon = month_of(p)) < 0 || p[3] != '-')
			return -1;
		p += 4;
		if (!(p = digits(p, 2, 2, &y)) || *p++ != ' ' || !(p = hms(p, &tm)))
			return -1;
		if (strcmp(p, " GMT") != 0)
			return -1;
		tm.tm_year = y < 70 ? y + 100 : y;
	} else {
		/* asctime: Sun Nov  6 08:49:37 1994 */
		if (strlen(s) < 24 || s[3] != ' ')
			return -1;
		p = s + 4;
		if ((tm.tm_mon = month_of(p)) < 0 || p[3] != ' ')
			return -1;
		p += 4;
		if (*p == ' ')
			p++;
		if (!(p = digits(p, 1, 2, &tm.tm_mday)) || *p++ != ' ' || !(p = hms(p, &tm)))
			return -1;
		if (*p++ != ' ' || !(p = digits(p, 4, 4, &y)) || *p != '\0')
			return -1;
		tm.tm_year = y - 1900;
	}
	if (tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
	    tm.tm_sec > 60)
		return -1;
	*t = timegm(&tm);
	return 0;
}

char *http_etag(uint64_t dev, uint64_t ino, uint64_t size, int64_t mtime, char *out, size_t outsz)
{
	snprintf(out, outsz, "\"%" PRIx64 "-%" PRIx64 "-%" PRIx64 "-%" PRIx64 "\"", dev, ino, size,
	         (uint64_t)mtime);
	return out;
}

static const char *skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Parse a decimal uint64 without overflow; NULL when none or too big. */
static const char *parse_u64(const char *p, uint64_t *v)
{
	uint64_t x = 0;
	const char *s = p;
	while (isdigit((unsigned char)*p)) {
		unsigned d = (unsigned)(*p - '0');
		if (x > (UINT64_MAX - d) / 10)
			return NULL;
		x = x * 10 + d;
		p++;
	}
	if (p == s)
		return NULL;
	*v = x;
	return p;
}

enum http_range_result http_range_parse(const char *hdr, uint64_t size, struct http_range *r,
                                        unsigned *n)
{
	const char *p = skip_ows(hdr);
	unsigned count = 0, specs = 0;
	uint64_t total = 0;

	*n = 0;
	if (strncasecmp(p, "bytes", 5) != 0)
		return HTTP_RANGE_NONE;
	p = skip_ows(p + 5);
	if (*p++ != '=')
		return HTTP_RANGE_NONE;
	for (;;) {
		uint64_t a = 0, b = 0;
		int suffix = 0, open = 0;
		p = skip_ows(p);
		if (*p == ',') { /* empty list elements are allowed */
			p++;
			continue;
		}
		if (*p == '\0')
			break;
		if (*p == '-') {
			suffix = 1;
			if (!(p = parse_u64(p + 1, &b)))
				return HTTP_RANGE_NONE;
		} else {
			if (!(p = parse_u64(p, &a)) || *p++ != '-')
				return HTTP_RANGE_NONE;
			if (isdigit((unsigned char)*p)) {
				if (!(p = parse_u64(p, &b)) || b < a)
					return HTTP_RANGE_NONE;
			} else {
				open = 1;
			}
		}
		p = skip_ows(p);
		if (*p != ',' && *p != '\0')
			return HTTP_RANGE_NONE;
		if (++specs > PM_HTTP_RANGES_MAX)
			return HTTP_RANGE_NONE; /* too many: whole file, as nginx */
		/* Make it concrete; drop what cannot be satisfied. */
		uint64_t first, last;
		if (suffix) {
			if (b == 0 || size == 0)
				continue;
			first = b >= size ? 0 : size - b;
			last = size - 1;
		} else {
			if (a >= size)
				continue;
			first = a;
			last = (open || b >= size) ? size - 1 : b;
		}
		r[count].first = first;
		r[count].last = last;
		count++;
		/* saturating: a wrap would let overlapping ranges through */
		uint64_t len = last - first + 1;
		total = total > UINT64_MAX - len ? UINT64_MAX : total + len;
	}
	if (specs == 0)
		return HTTP_RANGE_NONE;
	if (count == 0)
		return HTTP_RANGE_UNSAT;
	/* SECURITY: overlapping ranges could multiply the work of one request;
	 * when they add up to more than the file, send the file once. */
	if (count > 1 && total > size)
		return HTTP_RANGE_NONE;
	*n = count;
	return HTTP_RANGE_OK;
}

/* Compare one entity tag token (from a list) with etag, weakly. */
static int etag_eq_weak(const char *tok, size_t len, const char *etag)
{
	if (len >= 2 && tok[0] == 'W' && tok[1] == '/') {
		tok += 2;
		len -= 2;
	}
	if (strncmp(etag, "W/", 2) == 0)
		etag += 2;
	return strlen(etag) == len && memcmp(tok, etag, len) == 0;
}

int http_etag_match_list(const char *list, const char *etag)
{
	const char *p = list;
	for (;;) {
		p = skip_ows(p);
		while (*p == ',')
			p = skip_ows(p + 1);
		if (*p == '\0')
			return 0;
		if (*p == '*')
			return 1;
		const char *s = p;
		if (p[0] == 'W' && p[1] == '/')
			p += 2;
		if (*p != '"')
			return 0;
		const char *q = strchr(p + 1, '"');
		if (q == NULL)
			return 0;
		if (etag_eq_weak(s, (size_t)(q + 1 - s), etag))
			return 1;
		p = q + 1;
	}
}

int http_if_range_ok(const char *ir, const char *etag, int64_t mtime)
{
	const char *p = skip_ows(ir);
	if (*p == '"')
		return strcmp(p, etag) == 0; /* strong comparison only */
	if (strncmp(p, "W/", 2) == 0)
		return 0;
	time_t t;
	if (http_date_parse(p, &t) != 0)
		return 0;
	return (int64_t)t == mtime;
}

/* q value of a media-range/coding parameter list starting at p (after
 * the token); 1000 when absent, 0..1000 otherwise. */
static int qvalue(const char *p, const char *end)
{
	while (p < end) {
		p = skip_ows(p);
		if (*p == ';') {
			p = skip_ows(p + 1);
			if ((p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
				double q = strtod(p + 2, NULL);
				if (q <= 0.0)
					return 0;
				return q >= 1.0 ? 1000 : (int)(q * 1000.0);
			}
		}
		p++;
	}
	return 1000;
}

/* Best q of token among a comma list; -1 when not listed. */
static int list_q(const char *list, const char *token)
{
	size_t tl = strlen(token);
	const char *p = list;
	int best = -1;
	while (*p) {
		p = skip_ows(p);
		const char *end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		if ((size_t)(end - p) >= tl && strncasecmp(p, token, tl) == 0 &&
		    (p + tl == end || p[tl] == ';' || p[tl] == ' ' || p[tl] == '\t')) {
			int q = qvalue(p + tl, end);
			if (q > best)
				best = q;
		}
		p = *end ? end + 1 : end;
	}
	return best;
}

int http_accepts_gzip(const char *ae)
{
	if (ae == NULL)
		return 0;
	int q = list_q(ae, "gzip");
	if (q < 0)
		q = list_q(ae, "x-gzip");
	if (q < 0)
		q = list_q(ae, "*");
	return q > 0;
}

int http_wants_json(const char *accept)
{
	if (accept == NULL)
		return 0;
	int j = list_q(accept, "application/json");
	if (j <= 0)
		return 0;
	int h = list_q(accept, "text/html");
	return j > h;
}

/* base64 (RFC 4648, standard alphabet) value of c, or -1. */
static int b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int http_basic_decode(const char *hdr, struct http_basic *out, const char **why)
{
	/* "user:password" at its longest, and that many bytes in base64 */
	unsigned char raw[PM_AUTH_USER_MAX + 1 + PM_AUTH_PASS_MAX + 3];
	const size_t b64max = (sizeof(raw) - 3 + 2) / 3 * 4;
	size_t n = 0, len = 0;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	*why = "not Basic credentials";
	if (hdr == NULL || strncasecmp(hdr, "Basic", 5) != 0 || (hdr[5] != ' ' && hdr[5] != '\t'))
		return -1;
	const char *p = hdr + 5;
	while (*p == ' ' || *p == '\t')
		p++;
	while (p[len] && p[len] != ' ' && p[len] != '\t')
		len++;
	for (const char *t = p + len; *t; t++)
		if (*t != ' ' && *t != '\t') {
			*why = "more than one token after Basic";
			return -1;
		}
	/* SECURITY: bounded before decoding: nothing longer than the longest
	 * valid user and password is looked at. */
	if (len > b64max) {
		*why = "credentials longer than the longest user and password";
		return -1;
	}
	if (len == 0 || len % 4 != 0) {
		*why = "bad base64 (length)";
		return -1;
	}
	for (size_t i = 0; i < len; i += 4) {
		int v[4], pad = 0;
		for (int k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)p[i + (size_t)k];
			if (c == '=' && i + 4 == len && k >= 2) {
				pad++;
				v[k] = 0;
				continue;
			}
			v[k] = pad ? -1 : b64_val(c);
			if (v[k] < 0) {
				*why = "bad base64";
				goto done;
			}
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
		             (uint32_t)v[3];
		raw[n++] = (unsigned char)(w >> 16);
		if (pad < 2)
			raw[n++] = (unsigned char)(w >> 8);
		if (pad < 1)
			raw[n++] = (unsigned char)w;
	}
	const unsigned char *colon = memchr(raw, ':', n);
	if (colon == NULL) {
		*why = "no ':' between user and password";
		goto done;
	}
	size_t ul = (size_t)(colon - raw), pl = n - ul - 1;
	if (ul == 0) {
		*why = "empty user name";
		goto done;
	}
	if (ul > PM_AUTH_USER_MAX) {
		*why = "user name too long";
		goto done;
	}
	if (pl > PM_AUTH_PASS_MAX) {
		*why = "password too long";
		goto done;
	}
	/* SECURITY: the user name becomes a C string (lookup, logs): a NUL
	 * or control byte in it is refused, not cut. */
	for (size_t i = 0; i < ul; i++)
		if (raw[i] < 0x20 || raw[i] == 0x7f) {
			*why = "NUL or control byte in the user name";
			goto done;
		}
	memcpy(out->user, raw, ul);
	out->user[ul] = '\0';
	/* The password keeps every byte, NUL included: its length says where
	 * it ends (auth_check refuses a NUL rather than cut there). */
	memcpy(out->pass, colon + 1, pl);
	out->pass[pl] = '\0';
	out->passlen = pl;
	*why = NULL;
	ret = 0;
done:
	explicit_bzero(raw, sizeof(raw));
	return ret;
}
