/* sums_hasher.c - the background hasher behind Repr-Digest and FTP's
 * HASH cache (see sums.h): after each index publish one thread hashes
 * what changed, up to hash_max_size, at most half of one core; the
 * request path only looks results up.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "config.h"
#include "file.h"
#include "hash.h"
#include "log.h"
#include "sums.h"

/* Files hashed in the background: at most this big (and hash_max_size). */
#define SUMS_BG_FILE_MAX (256ull * 1024 * 1024)
#define SUMS_BUCKETS 65536

struct sums_digest {
	struct sums_digest *next;
	uint64_t size, ino, stamp;
	int64_t mtime;
	unsigned char md[32];
	char rel[];
};

static pthread_mutex_t dg_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t dg_cv = PTHREAD_COND_INITIALIZER;
static struct sums_digest **dg_table;
static size_t dg_count;
static pthread_t dg_thread;
static int dg_running, dg_pending;
static uint64_t dg_done_gen; /* generation of the last complete pass */

static uint32_t dg_hash(const char *s)
{
	uint32_t h = 2166136261u;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h % SUMS_BUCKETS;
}

static struct sums_digest *dg_find(const char *rel)
{
	if (dg_table == NULL)
		return NULL;
	for (struct sums_digest *d = dg_table[dg_hash(rel)]; d; d = d->next)
		if (strcmp(d->rel, rel) == 0)
			return d;
	return NULL;
}

static const struct sums_digest *dg_get(const char *rel, uint64_t size, int64_t mtime, uint64_t ino)
{
	const struct sums_digest *d = dg_find(rel);
	return d && d->size == size && d->mtime == mtime && d->ino == ino ? d : NULL;
}

int sums_cached_hex(const char *rel, uint64_t size, int64_t mtime, uint64_t ino, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	int rc = -1;
	pthread_mutex_lock(&dg_mu);
	const struct sums_digest *d = dg_get(rel, size, mtime, ino);
	if (d) {
		for (int i = 0; i < 32; i++) {
			hex[2 * i] = digits[d->md[i] >> 4];
			hex[2 * i + 1] = digits[d->md[i] & 15];
		}
		hex[64] = '\0';
		rc = 0;
	}
	pthread_mutex_unlock(&dg_mu);
	return rc;
}

int sums_repr_digest(const char *rel, uint64_t size, int64_t mtime, uint64_t ino, char *out,
                     size_t outsz)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char md[32];
	char enc[48];
	size_t k = 0;

	pthread_mutex_lock(&dg_mu);
	const struct sums_digest *d = dg_get(rel, size, mtime, ino);
	if (d)
		memcpy(md, d->md, 32);
	pthread_mutex_unlock(&dg_mu);
	if (d == NULL)
		return -1;
	for (int i = 0; i < 30; i += 3) {
		uint32_t v = (uint32_t)md[i] << 16 | (uint32_t)md[i + 1] << 8 | md[i + 2];
		enc[k++] = b64[v >> 18];
		enc[k++] = b64[(v >> 12) & 63];
		enc[k++] = b64[(v >> 6) & 63];
		enc[k++] = b64[v & 63];
	}
	uint32_t v = (uint32_t)md[30] << 16 | (uint32_t)md[31] << 8;
	enc[k++] = b64[v >> 18];
	enc[k++] = b64[(v >> 12) & 63];
	enc[k++] = b64[(v >> 6) & 63];
	enc[k++] = '=';
	enc[k] = '\0';
	int n = snprintf(out, outsz, "sha-256=:%s:", enc);
	return n > 0 && (size_t)n < outsz ? 0 : -1;
}

static int dg_put(const char *rel, uint64_t size, int64_t mtime, uint64_t ino, uint64_t stamp,
                  const char *hex)
{
	unsigned char md[32];
	for (int i = 0; i < 32; i++) {
		int hi = buf_hexval((unsigned char)hex[2 * i]);
		int lo = buf_hexval((unsigned char)hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		md[i] = (unsigned char)(hi << 4 | lo);
	}
	int rc = -1;
	pthread_mutex_lock(&dg_mu);
	struct sums_digest *d = dg_find(rel);
	if (d == NULL && dg_count < SUMS_DIGESTS_MAX) {
		size_t rl = strlen(rel);
		d = calloc(1, sizeof(*d) + rl + 1);
		if (d != NULL) {
			memcpy(d->rel, rel, rl + 1);
			uint32_t h = dg_hash(rel);
			d->next = dg_table[h];
			dg_table[h] = d;
			dg_count++;
		}
	}
	if (d) {
		d->size = size;
		d->mtime = mtime;
		d->ino = ino;
		d->stamp = stamp;
		memcpy(d->md, md, 32);
		rc = 0;
	}
	pthread_mutex_unlock(&dg_mu);
	return rc;
}

/* 1 when rel is known with this identity (and marks it seen in stamp). */
static int dg_touch(const char *rel, uint64_t size, int64_t mtime, uint64_t ino, uint64_t stamp)
{
	pthread_mutex_lock(&dg_mu);
	struct sums_digest *d = dg_find(rel);
	int hit = d && d->size == size && d->mtime == mtime && d->ino == ino;
	if (hit)
		d->stamp = stamp;
	pthread_mutex_unlock(&dg_mu);
	return hit;
}

/* After a complete pass: forget files that are gone or changed. */
static void dg_sweep(uint64_t stamp)
{
	pthread_mutex_lock(&dg_mu);
	for (size_t b = 0; dg_table && b < SUMS_BUCKETS; b++) {
		struct sums_digest **pp = &dg_table[b];
		while (*pp) {
			struct sums_digest *d = *pp;
			if (d->stamp != stamp) {
				*pp = d->next;
				free(d);
				dg_count--;
			} else {
				pp = &d->next;
			}
		}
	}
	pthread_mutex_unlock(&dg_mu);
}

/* Sleep secs unless stopped; 1 when the thread must stop. */
static int dg_rest(double secs)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)(secs * 1e9);
	ts.tv_sec += (time_t)(ns / 1000000000u);
	ts.tv_nsec = (long)(ns % 1000000000u);
	pthread_mutex_lock(&dg_mu);
	while (dg_running && pthread_cond_timedwait(&dg_cv, &dg_mu, &ts) == 0)
		;
	int stop = !dg_running;
	pthread_mutex_unlock(&dg_mu);
	return stop;
}

/* Hash what is new or changed in ix.  1 when the pass completed. */
static int dg_pass(struct index *ix, uint64_t stamp)
{
	uint64_t limit = config_get()->hash_max_size;
	char rel[PM_PATH_MAX], hex[SUMS_HEX_LEN + 1];

	if (limit > SUMS_BG_FILE_MAX)
		limit = SUMS_BG_FILE_MAX;
	for (uint32_t di = 0; di < ix->ndirs; di++) {
		const struct index_dir *d = &ix->dirs[di];
		for (uint32_t i = 0; i < d->count; i++) {
			const struct index_entry *e = &ix->entries[d->first + i];
			if (e->type != INDEX_FILE || e->size > limit)
				continue;
			int k = snprintf(rel, sizeof(rel), "%s%s%s", d->path, d->path[0] ? "/" : "",
			                 e->name);
			if (k < 0 || (size_t)k >= sizeof(rel))
				continue;
			if (dg_touch(rel, e->size, e->mtime, e->ino, stamp))
				continue;
			struct stat st;
			int fd = file_open(ix->rootfd, rel, FILE_REG, &st);
			if (fd < 0)
				continue;
			double t0 = ((double)clock_now_ns() / 1e9);
			/* Only what the index describes: a file changed since is
			 * hashed after the next publish. */
			if ((uint64_t)st.st_size == e->size && (int64_t)st.st_mtime == e->mtime &&
			    hash_file(fd, rel, e->size, e->mtime, HASH_SHA256, 0, e->size, hex,
			              sizeof(hex), NULL) == 0)
				dg_put(rel, e->size, e->mtime, e->ino, stamp, hex);
			close(fd);
			/* At most half of one core: rest as long as we worked. */
			double spent = ((double)clock_now_ns() / 1e9) - t0;
			if (spent > 0.001 && dg_rest(spent))
				return 0;
			pthread_mutex_lock(&dg_mu);
			int stop = !dg_running;
			pthread_mutex_unlock(&dg_mu);
			if (stop)
				return 0;
		}
	}
	return 1;
}

static void *dg_main(void *arg)
{
	uint64_t stamp = 0;
	(void)arg;
	pthread_mutex_lock(&dg_mu);
	while (dg_running) {
		if (!dg_pending) {
			pthread_cond_wait(&dg_cv, &dg_mu);
			continue;
		}
		dg_pending = 0;
		pthread_mutex_unlock(&dg_mu);
		struct index *ix = index_acquire();
		if (ix) {
			stamp++;
			if (dg_pass(ix, stamp)) {
				dg_sweep(stamp);
				pthread_mutex_lock(&dg_mu);
				dg_done_gen = ix->generation;
				pthread_cond_broadcast(&dg_cv);
				pthread_mutex_unlock(&dg_mu);
			}
			index_release(ix);
		}
		pthread_mutex_lock(&dg_mu);
	}
	pthread_mutex_unlock(&dg_mu);
	return NULL;
}

static void dg_on_publish(struct index *ix, void *arg)
{
	(void)ix;
	(void)arg;
	pthread_mutex_lock(&dg_mu);
	dg_pending = 1;
	pthread_cond_broadcast(&dg_cv);
	pthread_mutex_unlock(&dg_mu);
}

int sums_start(void)
{
	static int registered;

	pthread_mutex_lock(&dg_mu);
	if (dg_table == NULL)
		dg_table = calloc(SUMS_BUCKETS, sizeof(*dg_table));
	int ok = dg_table != NULL;
	dg_running = ok;
	dg_pending = 1; /* the current snapshot */
	pthread_mutex_unlock(&dg_mu);
	if (!ok) {
		log_err("sums: out of memory for the digest table");
		return -1;
	}
	if (!registered) {
		index_on_publish(dg_on_publish, NULL);
		registered = 1;
	}
	if (pthread_create(&dg_thread, NULL, dg_main, NULL) != 0) {
		log_err("sums: cannot start the hashing thread");
		dg_running = 0;
		return -1;
	}
	return 0;
}

void sums_stop(void)
{
	pthread_mutex_lock(&dg_mu);
	int was = dg_running;
	dg_running = 0;
	pthread_cond_broadcast(&dg_cv);
	pthread_mutex_unlock(&dg_mu);
	if (was)
		pthread_join(dg_thread, NULL);
	pthread_mutex_lock(&dg_mu);
	for (size_t b = 0; dg_table && b < SUMS_BUCKETS; b++) {
		while (dg_table[b]) {
			struct sums_digest *d = dg_table[b];
			dg_table[b] = d->next;
			free(d);
		}
	}
	free(dg_table);
	dg_table = NULL;
	dg_count = 0;
	dg_done_gen = 0;
	pthread_mutex_unlock(&dg_mu);
	sums_cache_clear();
}

uint64_t sums_done_gen(void)
{
	pthread_mutex_lock(&dg_mu);
	uint64_t g = dg_done_gen;
	pthread_mutex_unlock(&dg_mu);
	return g;
}

int sums_wait_pass(uint64_t gen, int ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&dg_mu);
	while (dg_done_gen < gen && pthread_cond_timedwait(&dg_cv, &dg_mu, &ts) == 0)
		;
	int done = dg_done_gen >= gen;
	pthread_mutex_unlock(&dg_mu);
	return done;
}
