/* hash.c - file digests with a cache keyed by (path, size, mtime, range)
 * (see hash.h).  A popular file is read and hashed once; a changed file
 * (other size or mtime) misses the cache and is hashed again. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "hash.h"

#define HASH_CACHE_SLOTS 512
#define HASH_READ_BUF (256 * 1024)

static const struct {
	const char *name;
	const char *alias;
} hash_names[] = {
    [HASH_SHA256] = {"SHA-256", "SHA256"},
    [HASH_SHA512] = {"SHA-512", "SHA512"},
    [HASH_SHA1] = {"SHA-1", "SHA1"},
    [HASH_MD5] = {"MD5", "MD5"},
};

struct hash_slot {
	char *rel;
	uint64_t size, off, len;
	int64_t mtime;
	int algo;
	char hex[129];
};

static struct hash_slot hash_cache[HASH_CACHE_SLOTS];
static unsigned hash_clock;
static pthread_mutex_t hash_lock = PTHREAD_MUTEX_INITIALIZER;

int hash_algo_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(hash_names) / sizeof(hash_names[0]); i++)
		if (strcasecmp(name, hash_names[i].name) == 0 ||
		    strcasecmp(name, hash_names[i].alias) == 0)
			return (int)i;
	return -1;
}

const char *hash_algo_name(enum hash_algo a)
{
	if ((unsigned)a >= sizeof(hash_names) / sizeof(hash_names[0]))
		return "?";
	return hash_names[a].name;
}

static const EVP_MD *hash_md(enum hash_algo a)
{
	switch (a) {
	case HASH_SHA256:
		return EVP_sha256();
	case HASH_SHA512:
		return EVP_sha512();
	case HASH_SHA1:
		return EVP_sha1();
	case HASH_MD5:
		return EVP_md5();
	}
	return NULL;
}

static int hash_cache_get(const char *rel, uint64_t size, int64_t mtime, int a, uint64_t off,
                          uint64_t len, char *hex, size_t hexsz)
{
	int hit = 0;

	pthread_mutex_lock(&hash_lock);
	for (unsigned i = 0; i < HASH_CACHE_SLOTS; i++) {
		struct hash_slot *s = &hash_cache[i];
		if (s->rel && s->size == size && s->mtime == mtime && s->algo == a &&
		    s->off == off && s->len == len && strcmp(s->rel, rel) == 0) {
			if (strlen(s->hex) < hexsz) {
				memcpy(hex, s->hex, strlen(s->hex) + 1);
				hit = 1;
			}
			break;
		}
	}
	pthread_mutex_unlock(&hash_lock);
	return hit;
}

static void hash_cache_put(const char *rel, uint64_t size, int64_t mtime, int a, uint64_t off,
                           uint64_t len, const char *hex)
{
	char *copy = strdup(rel);

	if (copy == NULL || strlen(hex) >= sizeof(hash_cache[0].hex)) {
		free(copy);
		return;
	}
	pthread_mutex_lock(&hash_lock);
	struct hash_slot *s = &hash_cache[hash_clock++ % HASH_CACHE_SLOTS];
	free(s->rel);
	s->rel = copy;
	s->size = size;
	s->mtime = mtime;
	s->algo = a;
	s->off = off;
	s->len = len;
	memcpy(s->hex, hex, strlen(hex) + 1);
	pthread_mutex_unlock(&hash_lock);
}

int hash_file(int fd, const char *rel, uint64_t size, int64_t mtime, enum hash_algo a, uint64_t off,
              uint64_t len, char *hex, size_t hexsz)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	EVP_MD_CTX *ctx = NULL;
	unsigned char *block = NULL;
	const EVP_MD *m = hash_md(a);
	int rc = -1;

	if (m == NULL || hexsz == 0)
		return -1;
	if (hash_cache_get(rel, size, mtime, (int)a, off, len, hex, hexsz))
		return 0;
	ctx = EVP_MD_CTX_new();
	block = malloc(HASH_READ_BUF);
	if (ctx == NULL || block == NULL || EVP_DigestInit_ex(ctx, m, NULL) != 1)
		goto fail;
	uint64_t pos = off, end = off + len;
	while (pos < end) {
		size_t want = end - pos > HASH_READ_BUF ? HASH_READ_BUF : (size_t)(end - pos);
		ssize_t r = pread(fd, block, want, (off_t)pos);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			goto fail; /* error, or the file shrank */
		if (EVP_DigestUpdate(ctx, block, (size_t)r) != 1)
			goto fail;
		pos += (uint64_t)r;
	}
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || hexsz < 2 * (size_t)mdlen + 1)
		goto fail;
	for (unsigned i = 0; i < mdlen; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[2 * mdlen] = '\0';
	hash_cache_put(rel, size, mtime, (int)a, off, len, hex);
	rc = 0;
fail:
	free(block);
	EVP_MD_CTX_free(ctx);
	return rc;
}

struct hash_ctx {
	EVP_MD_CTX *ctx;
	const EVP_MD *md;
};

struct hash_ctx *hash_ctx_new(enum hash_algo a)
{
	struct hash_ctx *h = calloc(1, sizeof(*h));
	if (h == NULL)
		return NULL;
	h->md = hash_md(a);
	h->ctx = EVP_MD_CTX_new();
	if (h->md == NULL || h->ctx == NULL || hash_ctx_reset(h) != 0) {
		hash_ctx_free(h);
		return NULL;
	}
	return h;
}

int hash_ctx_reset(struct hash_ctx *h)
{
	return EVP_DigestInit_ex(h->ctx, h->md, NULL) == 1 ? 0 : -1;
}

int hash_ctx_update(struct hash_ctx *h, const void *p, size_t n)
{
	return EVP_DigestUpdate(h->ctx, p, n) == 1 ? 0 : -1;
}

int hash_ctx_final(struct hash_ctx *h, unsigned char *out)
{
	unsigned int len = 0;
	if (EVP_DigestFinal_ex(h->ctx, out, &len) != 1)
		return -1;
	return (int)len;
}

void hash_ctx_free(struct hash_ctx *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}
