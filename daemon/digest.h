/* digest.h - message digests and HMAC through OpenSSL's EVP interface: the
 * one place outside tls*.c that includes OpenSSL.  Used by auth (apr1,
 * {SHA}, the credential cache's HMAC) and by hash (FTP HASH, checksums).
 */
#ifndef PUBMIRROR_DIGEST_H
#define PUBMIRROR_DIGEST_H

#include <stddef.h>

enum digest_algo { DIGEST_SHA256, DIGEST_SHA512, DIGEST_SHA1, DIGEST_MD5 };

#define DIGEST_MAX 64 /* bytes of the longest digest (SHA-512) */

/* One running digest.  Owns an OpenSSL context between digest_init and
 * digest_final (which frees it); not shared between threads. */
struct digest {
	void *ctx;
	int failed;
};

/* Start a digest of algorithm a.  0, or -1 (then update/final still work
 * and final reports the failure). */
int digest_init(struct digest *d, enum digest_algo a);
void digest_update(struct digest *d, const void *data, size_t len);
/* Write the digest into out (at least DIGEST_MAX bytes) and free the
 * context.  Its length in bytes, or -1 after any failure (out zeroed). */
int digest_final(struct digest *d, unsigned char *out);

/* A reusable digest for hot loops (rsync's per-block sums): one OpenSSL
 * context, reset for each message instead of allocated.  Not shared
 * between threads.  new: NULL when out of memory; reset/update: 0 or -1;
 * final: the length in bytes, or -1 (reset before the next message). */
struct digest_ctx;
struct digest_ctx *digest_ctx_new(enum digest_algo a);
int digest_ctx_reset(struct digest_ctx *h);
int digest_ctx_update(struct digest_ctx *h, const void *p, size_t n);
int digest_ctx_final(struct digest_ctx *h, unsigned char *out);
void digest_ctx_free(struct digest_ctx *h);

/* HMAC-SHA-1 of msg[0..n) under key[0..keylen) into out.  0 or -1. */
int digest_hmac_sha1(const void *key, size_t keylen, const void *msg, size_t n,
                     unsigned char out[20]);

#endif
