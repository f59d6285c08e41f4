/* hash.c - file digests with a cache keyed by (path, size, mtime, range)
 * (see hash.h).  A popular file is read and hashed once; a changed file
 * (other size or mtime) misses the cache and is hashed again. */
#include <errno.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "digest.h"
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
              uint64_t len, char *hex, size_t hexsz, const atomic_int *stop)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[DIGEST_MAX];
	int mdlen;
	struct digest ctx = {0};
	unsigned char *block = NULL;
	int rc = -1;
	_Static_assert((int)HASH_SHA256 == (int)DIGEST_SHA256 && (int)HASH_MD5 == (int)DIGEST_MD5 &&
	                   (int)HASH_SHA1 == (int)DIGEST_SHA1 &&
	                   (int)HASH_SHA512 == (int)DIGEST_SHA512,
	               "hash and digest algorithms line up");

	if ((unsigned)a > HASH_MD5 || hexsz == 0)
		return -1;
	if (hash_cache_get(rel, size, mtime, (int)a, off, len, hex, hexsz))
		return 0;
	block = malloc(HASH_READ_BUF);
	if (block == NULL || digest_init(&ctx, (enum digest_algo)a) != 0)
		goto fail;
	uint64_t pos = off, end = off + len;
	while (pos < end) {
		if (stop != NULL && atomic_load(stop))
			goto fail; /* nobody waits for the digest any more */
		size_t want = end - pos > HASH_READ_BUF ? HASH_READ_BUF : (size_t)(end - pos);
		ssize_t r = pread(fd, block, want, (off_t)pos);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			goto fail; /* error, or the file shrank */
		digest_update(&ctx, block, (size_t)r);
		pos += (uint64_t)r;
	}
	mdlen = digest_final(&ctx, md);
	if (mdlen < 0 || hexsz < 2 * (size_t)mdlen + 1)
		goto fail;
	for (int i = 0; i < mdlen; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[2 * mdlen] = '\0';
	hash_cache_put(rel, size, mtime, (int)a, off, len, hex);
	rc = 0;
fail:
	free(block);
	if (ctx.ctx != NULL)
		(void)digest_final(&ctx, md); /* frees the context */
	return rc;
}
