/* hash.h - file digests (SHA-256, SHA-512, SHA-1, MD5) with a cache keyed
 * by (path, size, mtime) so that a popular file is hashed once.  Used by
 * FTP's HASH and HTTP's Repr-Digest. */
#ifndef PUBMIRROR_HASH_H
#define PUBMIRROR_HASH_H

#include <stddef.h>
#include <stdint.h>

enum hash_algo { HASH_SHA256, HASH_SHA512, HASH_SHA1, HASH_MD5 };

/* Parse "SHA-256" etc. (case-insensitive); -1 when unknown. */
int hash_algo_parse(const char *name);
const char *hash_algo_name(enum hash_algo a);

/* Digest of bytes [off, off+len) of the open file fd (identified for the
 * cache by rel, size, mtime) as lowercase hex into hex.  0 or -1. */
int hash_file(int fd, const char *rel, uint64_t size, int64_t mtime,
	      enum hash_algo a, uint64_t off, uint64_t len, char *hex, size_t hexsz);

/* A streaming digest (the rsync block and file checksums): new (NULL on
 * failure), update, final into out (at least 64 bytes; returns the digest
 * length, or -1), free.  Reusable after final via hash_ctx_reset. */
struct hash_ctx;
struct hash_ctx *hash_ctx_new(enum hash_algo a);
int hash_ctx_reset(struct hash_ctx *h);
int hash_ctx_update(struct hash_ctx *h, const void *p, size_t n);
int hash_ctx_final(struct hash_ctx *h, unsigned char *out);
void hash_ctx_free(struct hash_ctx *h);

#endif
