/* lslr.c - ls-lR.gz from the index, in memory (see lslr.h).
 *
 * The text is produced one directory at a time and fed to a deflate
 * stream; the zlib wrapper of that stream (2-byte header, Adler-32
 * trailer) is swapped for the gzip one (10-byte header, CRC-32 and length
 * trailer), so memory holds the compressed file and one directory's text,
 * never the whole text.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "clock.h"
#include "compress.h"
#include "listing.h"
#include "log.h"
#include "lslr.h"

#define LSLR_CHUNK (64 * 1024) /* flush the text to the compressor past this */
#define LSLR_LEVEL 6

/* ---------- CRC-32 (gzip's, ISO 3309) ---------- */

static uint32_t lslr_crc_table[256];
static pthread_once_t lslr_crc_once = PTHREAD_ONCE_INIT;

static void lslr_crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		lslr_crc_table[i] = c;
	}
}

static uint32_t lslr_crc(uint32_t crc, const unsigned char *p, size_t n)
{
	crc = ~crc;
	while (n--)
		crc = lslr_crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* ---------- rendering ---------- */

struct lslr_sink {
	struct buf *out;           /* plain: append here */
	struct compress_stream *z; /* gzip: compress into out */
	uint32_t crc;
	uint64_t total;
};

static int lslr_emit(struct lslr_sink *s, struct buf *text)
{
	int rc;
	if (text->len == 0)
		return 0;
	if (s->z == NULL) {
		rc = buf_append(s->out, text->data, text->len);
	} else {
		s->crc = lslr_crc(s->crc, (const unsigned char *)text->data, text->len);
		s->total += text->len;
		rc = compress_stream_write(s->z, text->data, text->len, 0, s->out);
	}
	buf_reset(text);
	return rc;
}

/* An ls line from the FTP form: CRLF becomes LF. */
static int lslr_line(struct buf *text, const struct index_entry *e, time_t now)
{
	size_t mark = text->len;
	if (listing_ls_line(text, e, now) != 0)
		return 0; /* a name FTP cannot show is left out, as in LIST */
	if (text->len >= mark + 2 && text->data[text->len - 2] == '\r') {
		text->data[text->len - 2] = '\n';
		text->len--;
		text->data[text->len] = '\0';
	}
	return 0;
}

/* The section of directory d (path: "" for the root), then its
 * subdirectories, depth first.  depth bounds the recursion. */
static int lslr_dir(struct lslr_sink *s, struct buf *text, const struct index *ix,
                    const struct index_dir *d, const char *path, time_t now, int depth, int first)
{
	uint64_t blocks = 0;

	if (depth > PM_PATH_DEPTH_MAX)
		return 0;
	for (uint32_t i = 0; i < d->count; i++) {
		const struct index_entry *e = &ix->entries[d->first + i];
		blocks += e->type == INDEX_DIR ? 4 : (e->size + 1023) / 1024;
	}
	if (buf_printf(text, "%s%s%s:\ntotal %" PRIu64 "\n", first ? "" : "\n",
	               path[0] ? "./" : ".", path, blocks) != 0)
		return -1;
	for (uint32_t i = 0; i < d->count; i++) {
		if (lslr_line(text, &ix->entries[d->first + i], now) != 0)
			return -1;
		if (text->len >= LSLR_CHUNK && lslr_emit(s, text) != 0)
			return -1;
	}
	if (lslr_emit(s, text) != 0)
		return -1;
	for (uint32_t i = 0; i < d->count; i++) {
		const struct index_entry *e = &ix->entries[d->first + i];
		if (e->type != INDEX_DIR || e->dir >= ix->ndirs)
			continue;
		const struct index_dir *sub = &ix->dirs[e->dir];
		size_t pl = strlen(path);
		size_t need = pl + 1 + e->namelen + 1;
		if (need > PM_PATH_MAX)
			continue;
		char *child = malloc(need);
		if (child == NULL)
			return -1;
		if (pl)
			memcpy(child, path, pl);
		size_t k = pl;
		if (pl)
			child[k++] = '/';
		memcpy(child + k, e->name, e->namelen);
		child[k + e->namelen] = '\0';
		/* A directory reached through a symlink has its target's path:
		 * listed above, entered only where it really lives. */
		int rc = strcmp(sub->path, child) == 0
		             ? lslr_dir(s, text, ix, sub, child, now, depth + 1, 0)
		             : 0;
		free(child);
		if (rc != 0)
			return -1;
	}
	return 0;
}

static int lslr_walk(struct lslr_sink *s, const struct index *ix, time_t now)
{
	struct buf text;
	const struct index_dir *root = index_find_dir(ix, "");
	int rc = -1;

	if (root == NULL)
		return -1;
	buf_init(&text, 0);
	rc = lslr_dir(s, &text, ix, root, "", now, 0, 1);
	buf_free(&text);
	return rc;
}

int lslr_render(struct buf *out, const struct index *ix, time_t now)
{
	struct lslr_sink s = {.out = out};
	size_t mark = out->len;
	if (lslr_walk(&s, ix, now) != 0) {
		buf_truncate(out, mark);
		return -1;
	}
	return 0;
}

static void lslr_le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

int lslr_gzip(struct buf *out, const struct index *ix, time_t now)
{
	struct buf z;
	struct lslr_sink s;
	unsigned char hdr[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3}, tail[8];
	size_t mark = out->len;
	int rc = -1;

	pthread_once(&lslr_crc_once, lslr_crc_init);
	buf_init(&z, LSLR_GZ_MAX);
	memset(&s, 0, sizeof(s));
	s.out = &z;
	s.z = compress_stream_new(LSLR_LEVEL);
	if (s.z == NULL)
		goto fail;
	if (lslr_walk(&s, ix, now) != 0 || compress_stream_write(s.z, "", 0, 1, &z) != 0)
		goto fail;
	/* zlib stream: CMF FLG ... deflate ... ADLER32 (FDICT is never set). */
	if (z.len < 6 || (z.data[1] & 0x20) != 0)
		goto fail;
	lslr_le32(hdr + 4, (uint32_t)(ix->built > 0 ? ix->built : 0));
	lslr_le32(tail, s.crc);
	lslr_le32(tail + 4, (uint32_t)s.total);
	if (buf_append(out, hdr, sizeof(hdr)) != 0 || buf_append(out, z.data + 2, z.len - 6) != 0 ||
	    buf_append(out, tail, sizeof(tail)) != 0)
		goto fail;
	rc = 0;
fail:
	if (rc != 0)
		buf_truncate(out, mark);
	compress_stream_free(s.z);
	buf_free(&z);
	return rc;
}

/* ---------- the current blob ---------- */

static pthread_mutex_t lslr_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t lslr_cv = PTHREAD_COND_INITIALIZER;
static struct lslr_blob *lslr_cur;
static pthread_t lslr_thread;
static int lslr_running, lslr_pending, lslr_memfd_warned;

static void lslr_free(struct lslr_blob *b)
{
	if (b->memfd >= 0)
		close(b->memfd);
	free((void *)b->data);
	free(b);
}

struct lslr_blob *lslr_acquire(void)
{
	pthread_mutex_lock(&lslr_mu);
	struct lslr_blob *b = lslr_cur;
	if (b)
		__atomic_add_fetch(&b->refs, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&lslr_mu);
	return b;
}

void lslr_release(struct lslr_blob *b)
{
	if (b && __atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) == 0)
		lslr_free(b);
}

/* A sealed memory file with the bytes, or -1 (memfd_create refused: old
 * kernel or the syscall filter; fd senders then do without). */
static int lslr_memfd(const unsigned char *p, size_t n)
{
	int fd = memfd_create("ls-lR.gz", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		if (!lslr_memfd_warned)
			log_info("ls-lR.gz: memory files unavailable (%s); served from memory only",
			         strerror(errno));
		lslr_memfd_warned = 1;
		return -1;
	}
	size_t off = 0;
	while (off < n) {
		ssize_t w = write(fd, p + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		off += (size_t)w;
	}
	/* SECURITY: nobody may change the bytes while clients read them. */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

/* Build for ix and make it current unless a newer one is there. */
static int lslr_build(struct index *ix)
{
	struct buf out;
	uint64_t t0, t1;

	pthread_mutex_lock(&lslr_mu);
	int have = lslr_cur && lslr_cur->generation >= ix->generation;
	pthread_mutex_unlock(&lslr_mu);
	if (have)
		return 0;
	t0 = clock_now_ns();
	buf_init(&out, LSLR_GZ_MAX);
	if (lslr_gzip(&out, ix, ix->built ? ix->built : time(NULL)) != 0) {
		log_warn("ls-lR.gz: not built for index generation %" PRIu64
		         " (larger than %u bytes or out of memory)",
		         ix->generation, LSLR_GZ_MAX);
		buf_free(&out);
		return -1;
	}
	struct lslr_blob *b = calloc(1, sizeof(*b));
	if (b == NULL) {
		buf_free(&out);
		return -1;
	}
	b->data = (const unsigned char *)out.data; /* the buffer's storage is the blob's */
	b->len = out.len;
	b->mtime = (int64_t)(ix->built ? ix->built : time(NULL));
	b->generation = ix->generation;
	b->refs = 1;
	b->memfd = lslr_memfd(b->data, b->len);
	t1 = clock_now_ns();

	size_t len = b->len;
	struct lslr_blob *old = NULL;
	pthread_mutex_lock(&lslr_mu);
	if (lslr_cur == NULL || lslr_cur->generation < b->generation) {
		old = lslr_cur;
		lslr_cur = b;
		b = NULL;
	}
	pthread_mutex_unlock(&lslr_mu);
	if (b != NULL) {
		lslr_release(b);
		return 0;
	}
	lslr_release(old);
	log_debug("ls-lR.gz: %zu bytes for index generation %" PRIu64 " in %.3f s", len,
	          ix->generation,
	          (double)(t1 - t0) / 1e9);
	return 0;
}

static void *lslr_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lslr_mu);
	while (lslr_running) {
		if (!lslr_pending) {
			pthread_cond_wait(&lslr_cv, &lslr_mu);
			continue;
		}
		lslr_pending = 0;
		pthread_mutex_unlock(&lslr_mu);
		/* The newest snapshot: a burst of publishes is built once. */
		struct index *ix = index_acquire();
		if (ix)
			lslr_build(ix);
		index_release(ix);
		pthread_mutex_lock(&lslr_mu);
	}
	pthread_mutex_unlock(&lslr_mu);
	return NULL;
}

/* index_on_publish: runs on the index thread, so only a wake-up here. */
static void lslr_on_publish(struct index *ix, void *arg)
{
	(void)ix;
	(void)arg;
	pthread_mutex_lock(&lslr_mu);
	lslr_pending = 1;
	pthread_cond_signal(&lslr_cv);
	pthread_mutex_unlock(&lslr_mu);
}

int lslr_start(void)
{
	static int registered;

	if (!registered) {
		index_on_publish(lslr_on_publish, NULL);
		registered = 1;
	}
	struct index *ix = index_acquire();
	if (ix) {
		lslr_build(ix);
		index_release(ix);
	}
	pthread_mutex_lock(&lslr_mu);
	lslr_running = 1;
	pthread_mutex_unlock(&lslr_mu);
	if (pthread_create(&lslr_thread, NULL, lslr_main, NULL) != 0) {
		log_err("ls-lR.gz: cannot start its thread");
		lslr_running = 0;
		return -1;
	}
	return 0;
}

void lslr_stop(void)
{
	pthread_mutex_lock(&lslr_mu);
	int was = lslr_running;
	lslr_running = 0;
	pthread_cond_signal(&lslr_cv);
	pthread_mutex_unlock(&lslr_mu);
	if (was)
		pthread_join(lslr_thread, NULL);
	pthread_mutex_lock(&lslr_mu);
	struct lslr_blob *b = lslr_cur;
	lslr_cur = NULL;
	pthread_mutex_unlock(&lslr_mu);
	lslr_release(b);
}

int lslr_open(struct stat *st)
{
	struct lslr_blob *b = lslr_acquire();
	int fd = -1;

	if (b == NULL) {
		errno = ENOENT;
		return -1;
	}
	if (b->memfd < 0) {
		errno = ENOSYS;
		goto out;
	}
	fd = fcntl(b->memfd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		goto out;
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	st->st_size = (off_t)b->len;
	st->st_mtime = (time_t)b->mtime;
	st->st_ino = (ino_t)b->generation;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((b->len + 511) / 512);
out:
	lslr_release(b);
	return fd;
}

static int lslr_tree_has_own(const struct index *ix)
{
	return index_lookup(ix, LSLR_NAME) != NULL;
}

int lslr_is_virtual(const struct index *ix, const char *rel)
{
	return strcmp(rel, LSLR_NAME) == 0 && !lslr_tree_has_own(ix);
}

const struct index_entry *lslr_entry(const struct index *ix, struct index_entry *out)
{
	if (lslr_tree_has_own(ix))
		return NULL;
	struct lslr_blob *b = lslr_acquire();
	if (b == NULL)
		return NULL;
	memset(out, 0, sizeof(*out));
	out->name = LSLR_NAME;
	out->namelen = (uint16_t)strlen(LSLR_NAME);
	out->size = b->len;
	out->mtime = b->mtime;
	out->ino = b->generation;
	out->dir = UINT32_MAX;
	out->type = INDEX_FILE;
	lslr_release(b);
	return out;
}
