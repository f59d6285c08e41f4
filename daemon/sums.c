/* sums.c - checksum files for listings (SHA256SUMS read, parsed and
 * cached per directory; see sums.h).  The background hasher behind
 * Repr-Digest is sums_hasher.c. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "file.h"
#include "log.h"
#include "sums.h"

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
