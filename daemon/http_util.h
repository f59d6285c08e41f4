/* http_util.h - pure helpers of the HTTP module: content types, HTTP dates,
 * entity tags, Range and conditional-request evaluation, Basic
 * credentials.  No I/O, no global state, so that unit tests and fuzzers
 * can drive them directly.
 */
#ifndef PUBMIRROR_HTTP_UTIL_H
#define PUBMIRROR_HTTP_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "limits.h"

/* Content-Type for a file name (last component): text types carry
 * "; charset=utf-8"; application/octet-stream when unknown.  Static text. */
const char *http_mime_type(const char *name);
/* 1 when the type is one a browser would render as a document (HTML, SVG,
 * XML): such files get a sandboxing Content-Security-Policy. */
int http_mime_active(const char *type);

/* Parse an HTTP date (IMF-fixdate, RFC 850 or asctime form).  0 with *t,
 * or -1 when it is none of them. */
int http_date_parse(const char *s, time_t *t);

/* Strong entity tag, quotes included, from identity (dev, ino), size and
 * mtime.  out >= 64 bytes.  Returns out. */
char *http_etag(uint64_t dev, uint64_t ino, uint64_t size, int64_t mtime, char *out, size_t outsz);

struct http_range {
	uint64_t first, last; /* inclusive */
};

enum http_range_result {
	HTTP_RANGE_NONE,  /* no usable Range: send the whole file (200) */
	HTTP_RANGE_OK,    /* n ranges (1: 206 single, >1: multipart) */
	HTTP_RANGE_UNSAT, /* nothing satisfiable: 416 */
};

/* Evaluate a Range header value against a representation of size bytes.
 * Policy (after nginx): a header that is not a well-formed "bytes=" set is
 * ignored (200); more than PM_HTTP_RANGES_MAX ranges, or ranges whose sum
 * exceeds the size (overlap games), are ignored (200 with the whole file);
 * unsatisfiable ranges are dropped and when none remains the answer is
 * 416.  Ranges are kept in the order asked. */
enum http_range_result http_range_parse(const char *hdr, uint64_t size, struct http_range *r,
                                        unsigned *n);

/* 1 when an If-None-Match value matches etag (weak comparison, "*"). */
int http_etag_match_list(const char *list, const char *etag);
/* 1 when If-Range value ir allows a range: a strong ETag equal to etag, or
 * a date equal to mtime (as apt sends Last-Modified back). */
int http_if_range_ok(const char *ir, const char *etag, int64_t mtime);

/* Credentials of a Basic Authorization header (RFC 7617). */
struct http_basic {
	char user[PM_AUTH_USER_MAX + 1]; /* no NUL or control byte, not empty */
	char pass[PM_AUTH_PASS_MAX + 1]; /* passlen bytes (any, NUL included) */
	size_t passlen;
};
/* Decode the Authorization value hdr ("Basic <base64>") into *out: the
 * user up to the first ':', the password after it with its length.  0, or
 * -1 with *why (static text) when hdr is not Basic, is not strict base64,
 * has no ':', is longer than PM_AUTH_USER_MAX/PM_AUTH_PASS_MAX allow or
 * holds a NUL or control byte in the user name.  The caller wipes *out. */
int http_basic_decode(const char *hdr, struct http_basic *out, const char **why);

/* Does the Accept-Encoding value allow gzip (q > 0)? */
int http_accepts_gzip(const char *ae);
/* Does the Accept value prefer application/json over text/html? */
int http_wants_json(const char *accept);

#endif
