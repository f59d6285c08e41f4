/* buf.h - the one length-carrying buffer type for bytes built from client
 * input or sent to a client (after vsftpd's str.c).
 *
 * A buf grows on demand up to its hard cap; an append that would pass the
 * cap fails (returns -1) and leaves the buffer unchanged.  Escapers measure
 * first, then write, so the buffer never holds a half-escaped string.
 */
#ifndef PUBMIRROR_BUF_H
#define PUBMIRROR_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	char *data; /* always NUL-terminated when data != NULL */
	size_t len; /* bytes used, excluding the NUL */
	size_t cap; /* bytes allocated */
	size_t max; /* hard limit on len; 0 means SIZE_MAX/2 */
};

enum buf_enc {
	BUF_ENC_RAW,           /* bytes as they are */
	BUF_ENC_HTML,          /* & < > " ' as entities */
	BUF_ENC_URI,           /* percent-encode all but unreserved and '/' */
	BUF_ENC_URI_COMPONENT, /* percent-encode all but unreserved */
	BUF_ENC_JSON,          /* JSON string body: \" \\ \uXXXX for controls */
	BUF_ENC_LOG,           /* controls, DEL, '"' and '\\' as \xHH */
	BUF_ENC_FTP,           /* FTP reply/path: refuses CR/LF/NUL (append fails) */
};

/* Initialise an empty buffer with hard cap max (0: no cap but SIZE_MAX/2). */
void buf_init(struct buf *b, size_t max);
/* Free the storage; the buf is empty and reusable afterwards. */
void buf_free(struct buf *b);
/* Forget the contents, keep the storage. */
void buf_reset(struct buf *b);
/* Make room for n more bytes. 0 or -1 (cap or ENOMEM). */
int buf_reserve(struct buf *b, size_t n);
/* Append n bytes. 0 or -1. */
int buf_append(struct buf *b, const void *p, size_t n);
/* Append a NUL-terminated string. 0 or -1. */
int buf_puts(struct buf *b, const char *s);
/* Append formatted text (printf). 0 or -1. */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s[0..n) encoded as enc.  0, or -1 when the cap would be passed or
 * (BUF_ENC_FTP) the input holds CR, LF or NUL. */
int buf_append_enc(struct buf *b, const char *s, size_t n, enum buf_enc enc);
/* Bytes s[0..n) would take once encoded as enc (SIZE_MAX if refused). */
size_t buf_enc_len(const char *s, size_t n, enum buf_enc enc);
/* Roll back to an earlier length (a mark taken from b->len before a
 * composite append that failed); len > b->len is ignored. */
void buf_truncate(struct buf *b, size_t len);

/* Encode into a fixed array: 0, or -1 when it does not fit (out is then
 * an empty string). For log lines and short replies. */
int enc_into(char *out, size_t outsz, const char *s, size_t n, enum buf_enc enc);

/* The value of one hex digit (either case), or -1. */
int buf_hexval(int c);

#endif
