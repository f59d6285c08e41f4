/* digest.c - message digests and HMAC through OpenSSL EVP (see digest.h). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "digest.h"

static const EVP_MD *digest_md(enum digest_algo a)
{
	switch (a) {
	case DIGEST_SHA256:
		return EVP_sha256();
	case DIGEST_SHA512:
		return EVP_sha512();
	case DIGEST_SHA1:
		return EVP_sha1();
	case DIGEST_MD5:
		return EVP_md5();
	}
	return NULL;
}

int digest_init(struct digest *d, enum digest_algo a)
{
	const EVP_MD *m = digest_md(a);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	d->ctx = c;
	d->failed = m == NULL || c == NULL || EVP_DigestInit_ex(c, m, NULL) != 1;
	return d->failed ? -1 : 0;
}

void digest_update(struct digest *d, const void *data, size_t len)
{
	if (!d->failed && len > 0 && EVP_DigestUpdate(d->ctx, data, len) != 1)
		d->failed = 1;
}

int digest_final(struct digest *d, unsigned char *out)
{
	unsigned n = 0;
	int rc = -1;
	if (!d->failed && EVP_DigestFinal_ex(d->ctx, out, &n) == 1 && n <= DIGEST_MAX)
		rc = (int)n;
	else
		memset(out, 0, DIGEST_MAX);
	EVP_MD_CTX_free(d->ctx);
	d->ctx = NULL;
	return rc;
}

struct digest_ctx {
	EVP_MD_CTX *ctx;
	const EVP_MD *md;
};

struct digest_ctx *digest_ctx_new(enum digest_algo a)
{
	struct digest_ctx *h = calloc(1, sizeof(*h));
	if (h == NULL)
		return NULL;
	h->md = digest_md(a);
	h->ctx = EVP_MD_CTX_new();
	if (h->md == NULL || h->ctx == NULL || digest_ctx_reset(h) != 0) {
		digest_ctx_free(h);
		return NULL;
	}
	return h;
}

int digest_ctx_reset(struct digest_ctx *h)
{
	return EVP_DigestInit_ex(h->ctx, h->md, NULL) == 1 ? 0 : -1;
}

int digest_ctx_update(struct digest_ctx *h, const void *p, size_t n)
{
	return EVP_DigestUpdate(h->ctx, p, n) == 1 ? 0 : -1;
}

int digest_ctx_final(struct digest_ctx *h, unsigned char *out)
{
	unsigned int len = 0;
	if (EVP_DigestFinal_ex(h->ctx, out, &len) != 1)
		return -1;
	return (int)len;
}

void digest_ctx_free(struct digest_ctx *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

int digest_hmac_sha1(const void *key, size_t keylen, const void *msg, size_t n,
                     unsigned char out[20])
{
	size_t len = 0;
	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA1", NULL, key, keylen, msg, n, out, 20, &len) ==
	        NULL ||
	    len != 20)
		return -1;
	return 0;
}
