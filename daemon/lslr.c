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
#include <unistd.h>

#include "clock.h"
#include "compress.h"
#include "listing.h"
#include "log.h"
#include "lslr.h"
#include "config.h"
#include "view.h"
#include <stdio.h>

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

/* The section of directory dir (an anonymous view; dir->asked is "" for
 * the root), then its subdirectories, depth first.  depth bounds the
 * recursion.  SECURITY: only what an anonymous client may list appears
 * (view_child_visible): no protected, no hidden entry. */
static int lslr_dir(struct lslr_sink *s, struct buf *text, const struct view_obj *dir, time_t now,
                    int depth, int first)
{
	const struct index *ix = dir->ix;
	const struct index_dir *d = dir->d;
	const char *path = dir->asked;
	uint64_t blocks = 0;

	if (depth > PM_PATH_DEPTH_MAX)
		return 0;
	for (uint32_t i = 0; i < d->count; i++) {
		const struct index_entry *e = &ix->entries[d->first + i];
		if (view_child_visible(dir, e))
			blocks += e->type == INDEX_DIR ? 4 : (e->size + 1023) / 1024;
	}
	if (buf_printf(text, "%s%s%s:\ntotal %" PRIu64 "\n", first ? "" : "\n",
	               path[0] ? "./" : ".", path, blocks) != 0)
		return -1;
	for (uint32_t i = 0; i < d->count; i++) {
		const struct index_entry *e = &ix->entries[d->first + i];
		if (!view_child_visible(dir, e))
			continue;
		if (lslr_line(text, e, now) != 0)
			return -1;
		if (text->len >= LSLR_CHUNK && lslr_emit(s, text) != 0)
			return -1;
	}
	if (lslr_emit(s, text) != 0)
		return -1;
	struct view_obj *sub = malloc(sizeof(*sub));
	char child[PM_PATH_MAX];
	int rc = 0;
	if (sub == NULL)
		return -1;
	for (uint32_t i = 0; i < d->count && rc == 0; i++) {
		const struct index_entry *e = &ix->entries[d->first + i];
		if (e->type != INDEX_DIR || e->dir >= ix->ndirs || !view_child_visible(dir, e))
			continue;
		int n = snprintf(child, sizeof(child), "%s%s%.*s", path, path[0] ? "/" : "",
		                 (int)e->namelen, e->name);
		if (n < 0 || (size_t)n >= sizeof(child))
			continue;
		/* A directory reached through a symlink has its target's path:
		 * listed above, entered only where it really lives. */
		if (strcmp(ix->dirs[e->dir].path, child) != 0)
			continue;
		if (view_resolve(ix, dir->cfg, NULL, child, sub) == VIEW_OK &&
		    sub->kind == VIEW_DIR)
			rc = lslr_dir(s, text, sub, now, depth + 1, 0);
	}
	free(sub);
	return rc;
}

static int lslr_walk(struct lslr_sink *s, const struct index *ix, time_t now)
{
	static const struct config none; /* no configuration (tests): nothing protected */
	const struct config *c = config_get();
	struct buf text;
	struct view_obj *root = malloc(sizeof(*root));
	int rc = -1;

	if (root == NULL)
		return -1;
	if (view_resolve(ix, c ? c : &none, NULL, "", root) == VIEW_OK) {
		buf_init(&text, 0);
		rc = lslr_dir(s, &text, root, now, 0, 1);
		buf_free(&text);
	} else {
		/* everything is protected: an anonymous client lists nothing */
		buf_init(&text, 0);
		rc = buf_puts(&text, ".:\ntotal 0\n") != 0 ? -1 : lslr_emit(s, &text);
		buf_free(&text);
	}
	free(root);
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

/* ---------- the builder thread ---------- */

static pthread_mutex_t lslr_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t lslr_cv = PTHREAD_COND_INITIALIZER;
static pthread_t lslr_thread;
static int lslr_running, lslr_pending;

/* Build for ix and make it current unless a newer one is there. */
static int lslr_build(struct index *ix)
{
	struct buf out;
	uint64_t t0, t1;

	if (lslr_store_has(ix->generation))
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
	t1 = clock_now_ns();
	size_t len = out.len;
	/* the buffer's storage becomes the blob's */
	int rc = lslr_store_publish((unsigned char *)out.data, out.len,
	                            (int64_t)(ix->built ? ix->built : time(NULL)), ix->generation);
	if (rc <= 0)
		return rc;
	log_debug("ls-lR.gz: %zu bytes for index generation %" PRIu64 " in %.3f s", len,
	          ix->generation, (double)(t1 - t0) / 1e9);
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
	lslr_store_clear();
}
