/* hash.h - file digests (SHA-256, SHA-512, SHA-1, MD5) with a cache keyed
 * by (path, size, mtime) so that a popular file is hashed once.  Used by
 * FTP's HASH and HTTP's Repr-Digest. */
#ifndef PUBMIRROR_HASH_H
#define PUBMIRROR_HASH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum hash_algo { HASH_SHA256, HASH_SHA512, HASH_SHA1, HASH_MD5 };

/* Parse "SHA-256" etc. (case-insensitive); -1 when unknown. */
int hash_algo_parse(const char *name);
const char *hash_algo_name(enum hash_algo a);

/* Digest of bytes [off, off+len) of the open file fd (identified for the
 * cache by rel, size, mtime) as lowercase hex into hex.  0 or -1.  stop
 * (NULL: never) is read before each block: once it is non-zero the work
 * ends with -1 (a digest nobody waits for is not finished). */
int hash_file(int fd, const char *rel, uint64_t size, int64_t mtime, enum hash_algo a, uint64_t off,
              uint64_t len, char *hex, size_t hexsz, const atomic_int *stop);

#endif
