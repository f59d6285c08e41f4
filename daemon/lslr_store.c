/* lslr_store.c - the current ls-lR.gz (see lslr.h): a reference-counted
 * blob swapped under a lock, its sealed memory file, and the virtual root
 * entry.  Apart from the builder (lslr.c), which renders through the view,
 * so that the view can ask "is this the virtual file?" without a cycle. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "lslr.h"

static pthread_mutex_t lslr_store_mu = PTHREAD_MUTEX_INITIALIZER;
static struct lslr_blob *lslr_cur;
static int lslr_memfd_warned;

static void lslr_free(struct lslr_blob *b)
{
	if (b->memfd >= 0)
		close(b->memfd);
	free((void *)b->data);
	free(b);
}

struct lslr_blob *lslr_acquire(void)
{
	pthread_mutex_lock(&lslr_store_mu);
	struct lslr_blob *b = lslr_cur;
	if (b)
		__atomic_add_fetch(&b->refs, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&lslr_store_mu);
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

int lslr_store_has(uint64_t generation)
{
	pthread_mutex_lock(&lslr_store_mu);
	int have = lslr_cur && lslr_cur->generation >= generation;
	pthread_mutex_unlock(&lslr_store_mu);
	return have;
}

int lslr_store_publish(unsigned char *data, size_t len, int64_t mtime, uint64_t generation)
{
	struct lslr_blob *b = calloc(1, sizeof(*b));
	if (b == NULL) {
		free(data);
		return -1;
	}
	b->data = data;
	b->len = len;
	b->mtime = mtime;
	b->generation = generation;
	b->refs = 1;
	b->memfd = lslr_memfd(b->data, b->len);

	struct lslr_blob *old = NULL;
	pthread_mutex_lock(&lslr_store_mu);
	if (lslr_cur == NULL || lslr_cur->generation < b->generation) {
		old = lslr_cur;
		lslr_cur = b;
		b = NULL;
	}
	pthread_mutex_unlock(&lslr_store_mu);
	if (b != NULL) {
		lslr_release(b); /* a newer one is current */
		return 0;
	}
	lslr_release(old);
	return 1;
}

void lslr_store_clear(void)
{
	pthread_mutex_lock(&lslr_store_mu);
	struct lslr_blob *b = lslr_cur;
	lslr_cur = NULL;
	pthread_mutex_unlock(&lslr_store_mu);
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
