/* compress.c - zlib wrappers (see compress.h). */
#include <stdlib.h>
#include <zlib.h>

#include "compress.h"

struct compress_stream {
	z_stream z;
};

static int deflate_into(z_stream *z, int flush, struct buf *out)
{
	int rc;

	do {
		if (buf_reserve(out, 64 * 1024) != 0)
			return -1;
		z->next_out = (Bytef *)out->data + out->len;
		z->avail_out = (uInt)(out->cap - out->len - 1);
		size_t before = z->avail_out;
		rc = deflate(z, flush);
		if (rc == Z_STREAM_ERROR)
			return -1;
		out->len += before - z->avail_out;
		out->data[out->len] = '\0';
	} while (z->avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
	return 0;
}

int compress_gzip(struct buf *out, const void *in, size_t n, int level)
{
	z_stream z = {0};
	int rc = -1;

	/* windowBits 15 + 16: gzip wrapper */
	if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	size_t done = 0;
	while (done < n) {
		size_t chunk = n - done > (1u << 30) ? (1u << 30) : n - done;
		z.next_in = (Bytef *)in + done;
		z.avail_in = (uInt)chunk;
		if (deflate_into(&z, Z_NO_FLUSH, out) != 0)
			goto fail;
		done += chunk - z.avail_in;
	}
	if (deflate_into(&z, Z_FINISH, out) != 0)
		goto fail;
	rc = 0;
fail:
	deflateEnd(&z);
	return rc;
}

/* raw: a raw deflate stream (no zlib header), else zlib's format (as
 * deflateInit: window 2^MAX_WBITS, memLevel 8). */
static struct compress_stream *compress_new(int level, int raw)
{
	struct compress_stream *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	if (level < 0 || level > 9)
		level = Z_DEFAULT_COMPRESSION;
	if (deflateInit2(&s->z, level, Z_DEFLATED, raw ? -MAX_WBITS : MAX_WBITS, 8,
	                 Z_DEFAULT_STRATEGY) != Z_OK) {
		free(s);
		return NULL;
	}
	return s;
}

struct compress_stream *compress_stream_new(int level)
{
	return compress_new(level, 0);
}

void compress_stream_free(struct compress_stream *s)
{
	if (s == NULL)
		return;
	deflateEnd(&s->z);
	free(s);
}

int compress_stream_write(struct compress_stream *s, const void *in, size_t n, int finish,
                          struct buf *out)
{
	s->z.next_in = (Bytef *)in;
	s->z.avail_in = (uInt)n;
	if (deflate_into(&s->z, finish ? Z_FINISH : Z_NO_FLUSH, out) != 0)
		return -1;
	return s->z.avail_in == 0 ? 0 : -1;
}

struct compress_stream *compress_raw_new(int level)
{
	return compress_new(level, 1);
}

int compress_raw_reset(struct compress_stream *s, int level)
{
	if (deflateReset(&s->z) != Z_OK)
		return -1;
	return deflateParams(&s->z, level, Z_DEFAULT_STRATEGY) == Z_OK ? 0 : -1;
}

int compress_raw_sync(struct compress_stream *s, const void *in, size_t n, struct buf *out)
{
	s->z.next_in = (Bytef *)in;
	s->z.avail_in = (uInt)n;
	if (deflate_into(&s->z, Z_SYNC_FLUSH, out) != 0)
		return -1;
	return s->z.avail_in == 0 ? 0 : -1;
}

int compress_inflate(struct buf *out, const void *in, size_t n)
{
	z_stream z = {0};
	int rc;

	/* 15 + 32: accept zlib and gzip headers */
	if (inflateInit2(&z, 15 + 32) != Z_OK)
		return -1;
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)n;
	do {
		if (buf_reserve(out, 64 * 1024) != 0) {
			inflateEnd(&z);
			return -1;
		}
		z.next_out = (Bytef *)out->data + out->len;
		z.avail_out = (uInt)(out->cap - out->len - 1);
		size_t before = z.avail_out;
		rc = inflate(&z, Z_NO_FLUSH);
		out->len += before - z.avail_out;
		out->data[out->len] = '\0';
	} while (rc == Z_OK && (z.avail_in > 0 || z.avail_out == 0));
	inflateEnd(&z);
	return (rc == Z_STREAM_END || (rc == Z_OK && z.avail_in == 0) || rc == Z_BUF_ERROR) ? 0
	                                                                                    : -1;
}
