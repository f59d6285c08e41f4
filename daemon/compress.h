/* compress.h - the only module that includes zlib: gzip for HTTP listings
 * and ls-lR.gz, raw-deflate streams for FTP MODE Z. */
#ifndef PUBMIRROR_COMPRESS_H
#define PUBMIRROR_COMPRESS_H

#include <stddef.h>
#include "buf.h"

/* gzip in[0..n) into out (appended).  level 1-9.  0 or -1. */
int compress_gzip(struct buf *out, const void *in, size_t n, int level);

/* A deflate stream (zlib format, as MODE Z uses: RFC 1950 header). */
struct compress_stream;
/* New stream at level 0-9; NULL on ENOMEM. */
struct compress_stream *compress_stream_new(int level);
void compress_stream_free(struct compress_stream *s);
/* Compress in[0..n) and append output to out; finish=1 ends the stream.
 * 0 or -1 (cap of out). */
int compress_stream_write(struct compress_stream *s, const void *in, size_t n, int finish,
                          struct buf *out);

/* A raw deflate stream (no header, 32 KiB window) flushed with
 * Z_SYNC_FLUSH after each piece: rsync's "zlibx" literal data.  new at
 * level 0-9 (NULL on ENOMEM); reset between files, at a level 0-9 for
 * the next one (0: stored, for data already compressed); sync compresses
 * in[0..n) and appends everything up to and including the sync marker
 * (00 00 ff ff) to out.  0 or -1. */
struct compress_stream *compress_raw_new(int level);
int compress_raw_reset(struct compress_stream *s, int level);
int compress_raw_sync(struct compress_stream *s, const void *in, size_t n, struct buf *out);

/* Inflate (zlib format) in[0..n) into out (for tests and tools). 0 or -1. */
int compress_inflate(struct buf *out, const void *in, size_t n);

#endif
