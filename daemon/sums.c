/* sums.c - checksum files for listings, and the background hasher behind
 * Repr-Digest (see sums.h). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "buf.h"
#include "config.h"
#include "file.h"
#include "hash.h"
#include "log.h"
#include "sums.h"

/* Files hashed in the background: at most this big (and hash_max_size). */
#define SUMS_BG_FILE_MAX (256ull * 1024 * 1024)
#define SUMS_BUCKETS 65536

static const char *const sums_names[] = {"SHA256SUMS", "SHA256SUMS.txt", "sha256sums.txt",
                                         "sha256sums"};

/* ---------- parsing ---------- */

/* 64 hex digits at p (and nothing hex right after): lowercased into hex. */
static int sums_take_hex(const char *p, size_t n, char *hex)
{
	if (n < SUMS_HEX_LEN)
		return -1;
	for (int i = 0; i < SUMS_HEX_LEN; i++) {
		if (buf_hexval((unsigned char)p[i]) < 0)
			return -1;
		hex[i] = (char)(p[i] >= 'A' && p[i] <= 'F' ? p[i] - 'A' + 'a' : p[i]);
	}
	hex[SUMS_HEX_LEN] = '\0';
	if (n > SUMS_HEX_LEN && buf_hexval((unsigned char)p[SUMS_HEX_LEN]) >= 0)
		return -1; /* a longer digest: another algorithm */
	return 0;
}

/* sha256sum's escaped names: \\ and \n only. */
static int sums_unescape(const char *s, size_t n, char *out, size_t *outlen)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\\') {
			out[k++] = s[i];
			continue;
		}
		if (++i == n)
			return -1;
		if (s[i] == '\\')
			out[k++] = '\\';
		else if (s[i] == 'n')
			out[k++] = '\n';
		else
			return -1;
	}
	*outlen = k;
	return 0;
}

/* One line (without its end): 1 and the parts, or 0 when not a SHA-256 line. */
static int sums_line(const char *l, size_t n, char *hex, char *name, size_t *namelen)
{
	int esc = n > 0 && l[0] == '\\';
	const char *nm;
	size_t nl;

	if (esc) {
		l++;
		n--;
	}
	if (n > 8 && memcmp(l, "SHA256 (", 8) == 0) {
		/* SHA256 (name) = hex: the name may hold ") = ", so split at
		 * the last one. */
		if (n < 8 + 1 + 4 + SUMS_HEX_LEN)
			return 0;
		size_t h = n - SUMS_HEX_LEN;
		if (memcmp(l + h - 4, ") = ", 4) != 0 ||
		    sums_take_hex(l + h, SUMS_HEX_LEN, hex) != 0)
			return 0;
		nm = l + 8;
		nl = h - 4 - 8;
	} else {
		if (sums_take_hex(l, n, hex) != 0 || n < SUMS_HEX_LEN + 3 ||
		    l[SUMS_HEX_LEN] != ' ' ||
		    (l[SUMS_HEX_LEN + 1] != ' ' && l[SUMS_HEX_LEN + 1] != '*'))
			return 0;
		nm = l + SUMS_HEX_LEN + 2;
		nl = n - SUMS_HEX_LEN - 2;
	}
	if (esc) {
		if (sums_unescape(nm, nl, name, namelen) != 0)
			return 0;
	} else {
		memcpy(name, nm, nl);
		*namelen = nl;
	}
	if (*namelen >= 2 && name[0] == '.' && name[1] == '/') {
		memmove(name, name + 2, *namelen - 2);
		*namelen -= 2;
	}
	name[*namelen] = '\0';
	return *namelen > 0 && memchr(name, '\0', *namelen) == NULL;
}

int sums_parse(const char *text, size_t n,
               int (*cb)(void *arg, const char *name, size_t namelen, const char *hex), void *arg)
{
	char hex[SUMS_HEX_LEN + 1];
	char *name = malloc(SUMS_LINE_MAX + 1);
	int count = 0;
	size_t i = 0;

	if (name == NULL)
		return 0;
	while (i < n && count < SUMS_ENTRIES_MAX) {
		const char *l = text + i;
		const char *e = memchr(l, '\n', n - i);
		size_t len = e ? (size_t)(e - l) : n - i;
		i += len + (e != NULL);
		if (len > 0 && l[len - 1] == '\r')
			len--;
		size_t nl;
		if (len > SUMS_LINE_MAX || !sums_line(l, len, hex, name, &nl))
			continue;
		count++;
		if (cb(arg, name, nl, hex) != 0)
			break;
	}
	free(name);
	return count;
}

/* ---------- per-directory cache ---------- */

struct sums_ent {
	const char *name;
	char hex[SUMS_HEX_LEN + 1];
};

struct sums_dir {
	int refs;
	size_t n, cap;
	struct sums_ent *e; /* sorted by name */
	struct buf names;   /* the names' bytes (NUL-separated) */
};

struct sums_slot {
	char *dir;           /* NULL: free */
	struct sums_dir *sd; /* NULL: the directory has no checksum file */
	uint64_t gen;        /* index generation last verified against */
	uint64_t size, ino;  /* identity of the file sd came from */
	int64_t mtime;
	unsigned which; /* index in sums_names + 1; 0: none */
	uint64_t used;  /* for eviction */
};

static pthread_mutex_t sums_mu = PTHREAD_MUTEX_INITIALIZER;
static struct sums_slot sums_slots[SUMS_DIRS_CACHED];
static uint64_t sums_clock;

static void sums_dir_free(struct sums_dir *sd)
{
	buf_free(&sd->names);
	free(sd->e);
	free(sd);
}

void sums_dir_release(struct sums_dir *sd)
{
	if (sd && __atomic_sub_fetch(&sd->refs, 1, __ATOMIC_ACQ_REL) == 0)
		sums_dir_free(sd);
}

static int sums_ent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sums_ent *)a)->name, ((const struct sums_ent *)b)->name);
}

/* Collect plain names (a name with '/' is another directory's). */
static int sums_collect(void *arg, const char *name, size_t namelen, const char *hex)
{
	struct sums_dir *sd = arg;
	if (memchr(name, '/', namelen) != NULL)
		return 0;
	if (sd->n == sd->cap) {
		size_t nc = sd->cap ? sd->cap * 2 : 64;
		struct sums_ent *ne = realloc(sd->e, nc * sizeof(*ne));
		if (ne == NULL)
			return 1;
		sd->e = ne;
		sd->cap = nc;
	}
	/* Offsets now, pointers once the name buffer stops moving. */
	sd->e[sd->n].name = (const char *)(uintptr_t)sd->names.len;
	memcpy(sd->e[sd->n].hex, hex, SUMS_HEX_LEN + 1);
	if (buf_append(&sd->names, name, namelen + 1) != 0)
		return 1;
	sd->n++;
	return 0;
}

static struct sums_dir *sums_load(const struct index *ix, const char *rel)
{
	struct stat st;
	struct buf text;
	struct sums_dir *sd = NULL;
	int fd = file_open(ix->rootfd, rel, FILE_REG, &st);

	if (fd < 0)
		return NULL;
	buf_init(&text, SUMS_FILE_MAX);
	if (st.st_size > (off_t)SUMS_FILE_MAX || buf_reserve(&text, (size_t)st.st_size + 1) != 0)
		goto out;
	while (text.len < (size_t)st.st_size) {
		ssize_t r =
		    pread(fd, text.data + text.len, (size_t)st.st_size - text.len, (off_t)text.len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		text.len += (size_t)r;
	}
	sd = calloc(1, sizeof(*sd));
	if (sd == NULL)
		goto out;
	sd->refs = 1;
	buf_init(&sd->names, SUMS_FILE_MAX + 1);
	sums_parse(text.data, text.len, sums_collect, sd);
	for (size_t i = 0; i < sd->n; i++)
		sd->e[i].name = sd->names.data + (uintptr_t)sd->e[i].name;
	if (sd->n > 1)
		qsort(sd->e, sd->n, sizeof(sd->e[0]), sums_ent_cmp);
out:
	buf_free(&text);
	close(fd);
	return sd;
}

/* Which checksum file dir_rel has in ix: its index (1-based) and entry. */
static unsigned sums_which(const struct index *ix, const char *dir_rel,
                           const struct index_entry **ent, char *rel, size_t relsz)
{
	for (unsigned i = 0; i < sizeof(sums_names) / sizeof(sums_names[0]); i++) {
		int k =
		    snprintf(rel, relsz, "%s%s%s", dir_rel, dir_rel[0] ? "/" : "", sums_names[i]);
		if (k < 0 || (size_t)k >= relsz)
			return 0;
		const struct index_entry *e = index_lookup(ix, rel);
		if (e && e->type == INDEX_FILE) {
			*ent = e;
			return i + 1;
		}
	}
	return 0;
}

static struct sums_slot *sums_find_slot(const char *dir)
{
	for (int i = 0; i < SUMS_DIRS_CACHED; i++)
		if (sums_slots[i].dir && strcmp(sums_slots[i].dir, dir) == 0)
			return &sums_slots[i];
	return NULL;
}

static struct sums_dir *sums_take(struct sums_slot *s)
{
	s->used = ++sums_clock;
	if (s->sd)
		__atomic_add_fetch(&s->sd->refs, 1, __ATOMIC_RELAXED);
	return s->sd;
}

struct sums_dir *sums_dir_acquire(const struct index *ix, const char *dir_rel)
{
	char rel[PM_PATH_MAX];
	const struct index_entry *e = NULL;
	struct sums_slot *s;
	struct sums_dir *sd;

	pthread_mutex_lock(&sums_mu);
	s = sums_find_slot(dir_rel);
	if (s && s->gen == ix->generation) {
		sd = sums_take(s);
		pthread_mutex_unlock(&sums_mu);
		return sd;
	}
	pthread_mutex_unlock(&sums_mu);

	unsigned which = sums_which(ix, dir_rel, &e, rel, sizeof(rel));
	pthread_mutex_lock(&sums_mu);
	s = sums_find_slot(dir_rel);
	if (s && s->which == which &&
	    (which == 0 || (s->size == e->size && s->mtime == e->mtime && s->ino == e->ino))) {
		s->gen = ix->generation;
		sd = sums_take(s);
		pthread_mutex_unlock(&sums_mu);
		return sd;
	}
	pthread_mutex_unlock(&sums_mu);

	/* Read and parse outside the lock; two threads may both do it once. */
	struct sums_dir *fresh = which ? sums_load(ix, rel) : NULL;
	char *dcopy = strdup(dir_rel);
	pthread_mutex_lock(&sums_mu);
	s = sums_find_slot(dir_rel);
	if (s == NULL && dcopy != NULL) {
		s = &sums_slots[0];
		for (int i = 0; i < SUMS_DIRS_CACHED; i++) {
			if (sums_slots[i].dir == NULL) {
				s = &sums_slots[i];
				break;
			}
			if (sums_slots[i].used < s->used)
				s = &sums_slots[i];
		}
		free(s->dir);
		sums_dir_release(s->sd);
		s->dir = dcopy;
		s->sd = NULL;
		dcopy = NULL;
	}
	if (s == NULL) {
		pthread_mutex_unlock(&sums_mu);
		free(dcopy);
		return fresh; /* out of memory for the cache: use it once */
	}
	sums_dir_release(s->sd);
	s->sd = fresh;
	s->which = which;
	s->gen = ix->generation;
	s->size = e ? e->size : 0;
	s->mtime = e ? e->mtime : 0;
	s->ino = e ? e->ino : 0;
	sd = sums_take(s);
	pthread_mutex_unlock(&sums_mu);
	free(dcopy);
	return sd;
}

const char *sums_dir_find(const struct sums_dir *sd, const char *name)
{
	size_t lo = 0, hi = sd ? sd->n : 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, sd->e[mid].name);
		if (c == 0)
			return sd->e[mid].hex;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

int sums_lookup(const struct index *ix, const char *dir_rel, const char *name, char *hex)
{
	struct sums_dir *sd = sums_dir_acquire(ix, dir_rel);
	const char *h = sums_dir_find(sd, name);
	if (h)
		memcpy(hex, h, SUMS_HEX_LEN + 1);
	sums_dir_release(sd);
	return h ? 0 : -1;
}

void sums_cache_clear(void)
{
	pthread_mutex_lock(&sums_mu);
	for (int i = 0; i < SUMS_DIRS_CACHED; i++) {
		free(sums_slots[i].dir);
		sums_dir_release(sums_slots[i].sd);
		memset(&sums_slots[i], 0, sizeof(sums_slots[i]));
	}
	pthread_mutex_unlock(&sums_mu);
}

/* ---------- digests computed in the background ---------- */

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
