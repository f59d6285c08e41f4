/* index.c - the shared, immutable snapshot of the served tree (index.h).
 *
 * Build: a breadth-first walk from the root fd.  Each directory is opened
 * beneath the root with file_open (openat2 RESOLVE_BENEATH) by its
 * root-relative path, checked to be the very directory (dev, ino) that its
 * parent listed, and read with fdopendir/fstatat relative to its own fd;
 * no absolute path is ever built from names.  A directory's entries are
 * appended to one array and sorted there, so entries[first..first+count)
 * of every directory are contiguous and sorted bytewise.  Names and paths
 * live in a chunked string arena (pointers stay valid while it grows).
 *
 * Symlinks appear only when file_open (beneath the root) can open their
 * target, as what they point to.  A symlink to a directory is NOT walked
 * again (loops, and the same files twice): its entry is an INDEX_DIR whose
 * `dir` is the index_dir of the target directory, which must itself be
 * indexed (so it is inside the root and visible); otherwise the symlink is
 * left out.  index_find_dir/index_lookup follow such aliases, so a path
 * through a directory symlink finds the target's listing.
 *
 * Names that path_resolve would refuse (control characters, backslash)
 * are left out: no client could name them, and listings never carry them.
 *
 * Publishing: `ix_current` is swapped under a mutex that also covers the
 * reference increment in index_acquire; readers hold that mutex for two
 * instructions and never wait on a build.
 */
#include "clock.h"
#include "index.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "file.h"
#include "limits.h"
#include "log.h"

#define IX_ARENA_BLOCK (1u << 20)
#define IX_NO_DIR UINT32_MAX
#define IX_LINK_PENDING (UINT32_MAX - 1)
#define IX_CALLBACKS_MAX 4
#define IX_SETTLE_CAP_MS (4 * PM_INDEX_SETTLE_MS) /* a burst that never settles */
#define IX_RETRY_MS 1000                          /* after a failed rebuild */

struct ix_block {
	struct ix_block *next;
	size_t used, size;
	char data[];
};

/* The snapshot as allocated; `pub` is what readers see. */
struct ix_snap {
	struct index pub;
	struct index_entry *entries;
	struct index_dir *dirs;
	struct ix_block *blocks;
	uint64_t arena_bytes;
	int has_links; /* any directory symlink: find_dir may need the walk */
};

/* A directory while building: where it is and what its parent saw. */
struct ix_bdir {
	const char *path;
	size_t pathlen;
	uint64_t ino;
	dev_t dev;
	uint32_t first, count;
	int64_t mtime;
	uint16_t depth;
	uint8_t opened;
};

struct ix_build {
	struct ix_snap *s;
	int rootfd;
	int show_dot;
	int inofd;            /* -1: no watches */
	int watch_failed;     /* watches ran out or are unavailable */
	const char *rootpath; /* for watches when /proc is missing; may be NULL */
	size_t nents, capents;
	struct ix_bdir *dirs;
	size_t ndirs, capdirs;
	int limit_hit;
	size_t pending_links;
};

/* ---- arena ---- */

static const char *ix_arena_add(struct ix_snap *s, const char *str, size_t n)
{
	struct ix_block *b = s->blocks;

	if (!b || b->size - b->used < n + 1) {
		/* start small (a small tree costs little), double up to
		 * IX_ARENA_BLOCK */
		size_t sz = b ? b->size * 2 : 16384;

		if (sz > IX_ARENA_BLOCK)
			sz = IX_ARENA_BLOCK;
		if (n + 1 > sz)
			sz = n + 1;
		b = malloc(sizeof(*b) + sz);
		if (!b)
			return NULL;
		b->size = sz;
		b->used = 0;
		b->next = s->blocks;
		s->blocks = b;
		s->arena_bytes += sizeof(*b) + sz;
	}
	char *p = b->data + b->used;
	memcpy(p, str, n);
	p[n] = '\0';
	b->used += n + 1;
	return p;
}

static void ix_free(struct ix_snap *s)
{
	struct ix_block *b, *next;

	if (!s)
		return;
	for (b = s->blocks; b; b = next) {
		next = b->next;
		free(b);
	}
	free(s->entries);
	free(s->dirs);
	if (s->pub.rootfd >= 0)
		close(s->pub.rootfd);
	free(s);
}

/* ---- build ---- */

/* SECURITY: a name that path_resolve would refuse cannot be asked for and
 * must not reach a listing (CR/LF in FTP replies, escapes in HTML). */
static int ix_name_ok(const char *name, size_t n)
{
	if (n == 0 || n > PM_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c == 0x7f || c == '\\')
			return 0;
	}
	return 1;
}

static int ix_cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct index_entry *)a)->name, ((const struct index_entry *)b)->name);
}

static struct index_entry *ix_new_entry(struct ix_build *B)
{
	if (B->nents == B->capents) {
		size_t nc = B->capents ? B->capents * 2 : 1024;
		struct index_entry *ne;

		if (nc > PM_INDEX_ENTRIES_MAX)
			nc = PM_INDEX_ENTRIES_MAX;
		ne = realloc(B->s->entries, nc * sizeof(*ne));
		if (!ne)
			return NULL;
		B->s->entries = ne;
		B->capents = nc;
	}
	return &B->s->entries[B->nents++];
}

static struct ix_bdir *ix_new_dir(struct ix_build *B)
{
	if (B->ndirs == B->capdirs) {
		size_t nc = B->capdirs ? B->capdirs * 2 : 256;
		struct ix_bdir *nd = realloc(B->dirs, nc * sizeof(*nd));

		if (!nd)
			return NULL;
		B->dirs = nd;
		B->capdirs = nc;
	}
	struct ix_bdir *d = &B->dirs[B->ndirs++];
	memset(d, 0, sizeof(*d));
	return d;
}

static void ix_watch(struct ix_build *B, int fd, const struct ix_bdir *d)
{
	static atomic_int warned_nospc, warned_nopath;
	const uint32_t mask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE |
	                      IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
	char p[PM_PATH_MAX + 64];

	if (B->inofd < 0 || B->watch_failed)
		return;
	/* The directory we have open, by its fd: no path from names. */
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	if (inotify_add_watch(B->inofd, p, mask) >= 0)
		return;
	if (errno == ENOENT && B->rootpath) {
		/* No /proc: the root's own path plus the tree's names.  Only
		 * a watch (a hint to rescan) depends on it, never an open. */
		int n =
		    snprintf(p, sizeof(p), "%s%s%s", B->rootpath, d->pathlen ? "/" : "", d->path);
		if (n > 0 && (size_t)n < sizeof(p) &&
		    inotify_add_watch(B->inofd, p, mask | IN_DONT_FOLLOW) >= 0)
			return;
	}
	B->watch_failed = 1;
	if (errno == ENOSPC) {
		if (!atomic_exchange(&warned_nospc, 1))
			log_warn("index: out of inotify watches (fs.inotify.max_user_watches); "
			         "changes are seen only by the periodic rescan (index_rescan)");
	} else if (!atomic_exchange(&warned_nopath, 1)) {
		log_warn("index: cannot watch directories (%s); changes are seen only by "
		         "the periodic rescan (index_rescan)",
		         strerror(errno));
	}
}

/* Read directory B->dirs[di] and append its sorted entries. */
static int ix_read_dir(struct ix_build *B, size_t di)
{
	char rel[PM_PATH_MAX], target[PM_PATH_MAX];
	struct stat st;
	DIR *dh;
	struct dirent *de;
	int fd;

	{
		struct ix_bdir *d = &B->dirs[di];

		d->first = (uint32_t)B->nents;
		d->count = 0;
		if (B->limit_hit)
			return 0;
		fd = file_open(B->rootfd, d->path, FILE_DIR, &st);
		if (fd < 0) {
			char e[256];
			log_warn("index: cannot open directory \"%s\": %s",
			         log_esc(e, sizeof(e), d->path, d->pathlen), strerror(errno));
			return 0;
		}
		/* SECURITY: the directory must be the one its parent listed; if
		 * it was swapped (for a symlink, say) skip it: the watcher will
		 * rebuild. */
		if (di > 0 && (st.st_ino != d->ino || st.st_dev != d->dev)) {
			close(fd);
			return 0;
		}
		d->ino = st.st_ino;
		d->dev = st.st_dev;
		d->mtime = (int64_t)st.st_mtime;
		d->opened = 1;
		ix_watch(B, fd, d);
	}
	dh = fdopendir(fd);
	if (!dh) {
		close(fd);
		return 0;
	}
	while ((errno = 0, de = readdir(dh)) != NULL) {
		const char *name = de->d_name;
		size_t n = strlen(name);
		const struct ix_bdir *d = &B->dirs[di];
		struct index_entry *e;
		uint32_t dirv = IX_NO_DIR;
		uint8_t type;
		int islink = 0;

		if (name[0] == '.' && (n == 1 || (n == 2 && name[1] == '.')))
			continue;
		if (name[0] == '.' && !B->show_dot)
			continue;
		if (!ix_name_ok(name, n))
			continue;
		/* unreachable by any client path: too deep or too long */
		if (d->depth + 1 > PM_PATH_DEPTH_MAX || d->pathlen + 1 + n >= PM_PATH_MAX)
			continue;
		if (B->nents >= PM_INDEX_ENTRIES_MAX) {
			if (!B->limit_hit)
				log_warn("index: more than %d entries; the rest of the tree "
				         "is not indexed",
				         PM_INDEX_ENTRIES_MAX);
			B->limit_hit = 1;
			break;
		}
		if (fstatat(dirfd(dh), name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* gone since readdir */
		if (S_ISREG(st.st_mode)) {
			type = INDEX_FILE;
		} else if (S_ISDIR(st.st_mode)) {
			type = INDEX_DIR;
		} else if (S_ISLNK(st.st_mode)) {
			/* SECURITY: a symlink is shown only when the kernel
			 * resolves it beneath the root, as what it points to. */
			int lfd;

			if (d->pathlen)
				snprintf(rel, sizeof(rel), "%s/%s", d->path, name);
			else
				snprintf(rel, sizeof(rel), "%s", name);
			lfd = file_open(B->rootfd, rel, FILE_ANY, &st);
			if (lfd < 0)
				continue;
			close(lfd);
			if (S_ISDIR(st.st_mode)) {
				type = INDEX_DIR;
				dirv = IX_LINK_PENDING;
				B->pending_links++;
			} else {
				/* SECURITY: remember where the link leads, so that
				 * access is decided on the file itself (view.c);
				 * a link whose target cannot be named, or changed
				 * under us, is left out. */
				struct stat tst;

				if (file_resolve_path(B->rootfd, rel, target, sizeof(target)) !=
				        0 ||
				    target[0] == '\0' ||
				    fstatat(B->rootfd, target, &tst, AT_SYMLINK_NOFOLLOW) != 0 ||
				    tst.st_ino != st.st_ino || tst.st_dev != st.st_dev)
					continue;
				type = INDEX_FILE;
				islink = 1;
			}
		} else {
			continue; /* FIFOs, sockets, devices: never served */
		}
		e = ix_new_entry(B);
		if (!e)
			goto nomem;
		if (islink) {
			/* name NUL target NUL, one string (index_link_target) */
			size_t tl = strlen(target);
			char both[PM_NAME_MAX + 1 + PM_PATH_MAX];

			if (n + 1 + tl >= sizeof(both)) {
				B->nents--;
				continue;
			}
			memcpy(both, name, n);
			both[n] = '\0';
			memcpy(both + n + 1, target, tl);
			e->name = ix_arena_add(B->s, both, n + 1 + tl);
			e->flags = INDEX_F_LINK;
		} else {
			e->name = ix_arena_add(B->s, name, n);
			e->flags = 0;
		}
		if (!e->name)
			goto nomem;
		e->namelen = (uint16_t)n;
		e->type = type;
		e->size = (uint64_t)st.st_size;
		e->mtime = (int64_t)st.st_mtime;
		e->ino = (uint64_t)st.st_ino;
		e->dev = (uint32_t)st.st_dev;
		e->dir = dirv;
		if (type == INDEX_DIR && dirv == IX_NO_DIR) {
			/* remember what the parent saw; see ix_read_dir */
			struct ix_bdir *nd = ix_new_dir(B);
			const struct ix_bdir *pd;

			if (!nd)
				goto nomem;
			pd = &B->dirs[di];
			nd->ino = st.st_ino;
			nd->dev = st.st_dev;
			nd->depth = (uint16_t)(pd->depth + 1);
			if (pd->pathlen)
				snprintf(rel, sizeof(rel), "%s/%s", pd->path, name);
			else
				snprintf(rel, sizeof(rel), "%s", name);
			nd->pathlen = strlen(rel);
			nd->path = ix_arena_add(B->s, rel, nd->pathlen);
			if (!nd->path)
				goto nomem;
			/* provisional: index of the new dir (fixed after sort) */
			e->dir = (uint32_t)(B->ndirs - 1);
		}
	}
	closedir(dh);
	B->dirs[di].count = (uint32_t)(B->nents - B->dirs[di].first);
	if (B->dirs[di].count > 1)
		qsort(B->s->entries + B->dirs[di].first, B->dirs[di].count,
		      sizeof(struct index_entry), ix_cmp_entry);
	return 0;
nomem:
	closedir(dh);
	return -1;
}

struct ix_key {
	uint64_t ino;
	uint32_t dev; /* low 32 bits, as in struct index_entry */
	uint32_t dir;
};

static int ix_cmp_key(const void *a, const void *b)
{
	const struct ix_key *x = a, *y = b;

	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return 0;
}

/* Point each directory symlink at the index_dir of its target, or drop it
 * when the target is not indexed (hidden, or beyond the limit). */
static int ix_resolve_links(struct ix_build *B)
{
	struct index_entry *ents = B->s->entries;
	struct ix_key *keys = malloc((B->ndirs ? B->ndirs : 1) * sizeof(*keys));
	size_t nk = 0, dropped = 0;

	if (!keys)
		return -1;
	for (size_t i = 0; i < B->ndirs; i++) {
		if (!B->dirs[i].opened)
			continue;
		keys[nk].ino = B->dirs[i].ino;
		keys[nk].dev = (uint32_t)B->dirs[i].dev;
		keys[nk].dir = (uint32_t)i;
		nk++;
	}
	qsort(keys, nk, sizeof(*keys), ix_cmp_key);
	for (size_t i = 0; i < B->nents; i++) {
		struct ix_key k, *hit;

		if (ents[i].dir != IX_LINK_PENDING)
			continue;
		/* the entry holds the target's stat (ino, dev) */
		k.ino = ents[i].ino;
		k.dev = ents[i].dev;
		k.dir = 0;
		hit = bsearch(&k, keys, nk, sizeof(*keys), ix_cmp_key);
		if (hit) {
			ents[i].dir = hit->dir;
		} else {
			ents[i].type = 0; /* dropped below */
			dropped++;
		}
	}
	free(keys);
	if (dropped == 0)
		return 0;
	/* Compact: directories' slices are in walk order, so one pass. */
	size_t w = 0;
	for (size_t di = 0; di < B->ndirs; di++) {
		struct ix_bdir *d = &B->dirs[di];
		uint32_t nf = (uint32_t)w;

		for (uint32_t k = 0; k < d->count; k++) {
			struct index_entry *e = &ents[d->first + k];
			if (e->type == 0)
				continue;
			ents[w++] = *e;
		}
		d->count = (uint32_t)w - nf;
		d->first = nf;
	}
	B->nents = w;
	return 0;
}

static int ix_cmp_dirpath(const void *a, const void *b)
{
	return strcmp(((const struct ix_bdir *)a)->path, ((const struct ix_bdir *)b)->path);
}

static struct index *ix_build_fd(int rootfd, int show_dot, int inofd, const char *rootpath)
{
	struct ix_build B;
	struct ix_snap *s;
	uint64_t t0, t1;
	uint32_t *remap = NULL;

	memset(&B, 0, sizeof(B));
	t0 = clock_now_ns();
	s = calloc(1, sizeof(*s));
	if (!s) {
		close(rootfd);
		return NULL;
	}
	s->pub.rootfd = rootfd;
	s->pub.priv = s;
	B.s = s;
	B.rootfd = rootfd;
	B.show_dot = show_dot;
	B.inofd = inofd;
	B.rootpath = rootpath;

	struct ix_bdir *root = ix_new_dir(&B);
	if (!root)
		goto fail;
	root->path = ix_arena_add(s, "", 0);
	if (!root->path)
		goto fail;
	/* Breadth-first: B.dirs grows while we walk it. */
	for (size_t i = 0; i < B.ndirs; i++)
		if (ix_read_dir(&B, i) < 0)
			goto fail;
	if (!B.dirs[0].opened) {
		errno = ENOTDIR;
		goto fail;
	}
	if (B.pending_links && ix_resolve_links(&B) < 0)
		goto fail;
	s->has_links = B.pending_links > 0;

	/* Sort directories by path; renumber entries' dir fields.  The copy
	 * carries its old index in `ino` (no longer needed after the walk). */
	if (B.ndirs > UINT32_MAX - 2)
		goto fail;
	remap = malloc(B.ndirs * sizeof(*remap));
	if (!remap)
		goto fail;
	{
		struct ix_bdir *sorted = malloc(B.ndirs * sizeof(*sorted));

		if (!sorted)
			goto fail;
		for (size_t i = 0; i < B.ndirs; i++) {
			sorted[i] = B.dirs[i];
			sorted[i].ino = i;
		}
		qsort(sorted, B.ndirs, sizeof(*sorted), ix_cmp_dirpath);
		for (size_t i = 0; i < B.ndirs; i++)
			remap[sorted[i].ino] = (uint32_t)i;
		s->dirs = malloc(B.ndirs * sizeof(*s->dirs));
		if (!s->dirs) {
			free(sorted);
			goto fail;
		}
		for (size_t i = 0; i < B.ndirs; i++) {
			s->dirs[i].path = sorted[i].path;
			s->dirs[i].first = sorted[i].first;
			s->dirs[i].count = sorted[i].count;
			s->dirs[i].mtime = sorted[i].mtime;
		}
		free(sorted);
	}
	for (size_t i = 0; i < B.nents; i++) {
		uint32_t d = s->entries[i].dir;
		if (d != IX_NO_DIR)
			s->entries[i].dir = remap[d];
	}
	free(remap);
	remap = NULL;
	if (B.nents == 0) {
		free(s->entries);
		s->entries = NULL;
	} else if (B.nents < B.capents) {
		struct index_entry *ne = realloc(s->entries, B.nents * sizeof(*ne));
		if (ne)
			s->entries = ne;
	}
	free(B.dirs);
	s->pub.entries = s->entries;
	s->pub.dirs = s->dirs;
	s->pub.ndirs = (uint32_t)B.ndirs;
	s->pub.nentries = B.nents;
	s->pub.refs = 1;
	t1 = clock_now_ns();
	s->pub.build_seconds = (double)(t1 - t0) / 1e9;
	s->pub.built = time(NULL);
	return &s->pub;
fail : {
	int e = errno;
	free(remap);
	free(B.dirs);
	ix_free(s);
	errno = e ? e : ENOMEM;
}
	return NULL;
}

struct index *index_build(const char *root, int show_dotfiles)
{
	int fd = file_open_root(root);

	if (fd < 0)
		return NULL;
	return ix_build_fd(fd, show_dotfiles, -1, NULL);
}

uint64_t index_memory(const struct index *ix)
{
	const struct ix_snap *s = ix->priv;

	return sizeof(*s) + s->pub.nentries * sizeof(struct index_entry) +
	       s->pub.ndirs * sizeof(struct index_dir) + s->arena_bytes;
}

/* ---- lookups ---- */

/* Compare the NUL-terminated a with b[0..n). */
static int ix_cmpn(const char *a, const char *b, size_t n)
{
	int c = strncmp(a, b, n);

	if (c != 0)
		return c;
	return a[n] == '\0' ? 0 : 1;
}

static const struct index_dir *ix_find_dir_exact(const struct index *ix, const char *rel, size_t n)
{
	size_t lo = 0, hi = ix->ndirs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = ix_cmpn(ix->dirs[mid].path, rel, n);

		if (c == 0)
			return &ix->dirs[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct index_entry *index_find_name(const struct index *ix, const struct index_dir *d,
                                          const char *name, size_t n)
{
	size_t lo = 0, hi = d->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct index_entry *e = &ix->entries[d->first + mid];
		size_t m = e->namelen < n ? e->namelen : n;
		int c = memcmp(e->name, name, m);

		if (c == 0)
			c = e->namelen < n ? -1 : e->namelen > n ? 1 : 0;
		if (c == 0)
			return e;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static const struct index_dir *ix_find_dir_n(const struct index *ix, const char *rel, size_t n)
{
	const struct ix_snap *s = ix->priv;
	const struct index_dir *d = ix_find_dir_exact(ix, rel, n);
	size_t i = 0;

	if (d || !s->has_links || ix->ndirs == 0)
		return d;
	/* Through directory symlinks: walk from the root, one component at
	 * a time, following each entry's dir.  Bounded by rel's length. */
	d = &ix->dirs[0];
	while (i < n) {
		size_t j = i;
		const struct index_entry *e;

		while (j < n && rel[j] != '/')
			j++;
		e = index_find_name(ix, d, rel + i, j - i);
		if (!e || e->type != INDEX_DIR || e->dir >= ix->ndirs)
			return NULL;
		d = &ix->dirs[e->dir];
		i = j + 1;
	}
	return d;
}

const struct index_dir *index_find_dir(const struct index *ix, const char *rel)
{
	return ix_find_dir_n(ix, rel, strlen(rel));
}

const struct index_entry *index_lookup(const struct index *ix, const char *rel)
{
	size_t n = strlen(rel), k = n;
	const struct index_dir *d;

	if (n == 0)
		return NULL;
	while (k > 0 && rel[k - 1] != '/')
		k--;
	d = ix_find_dir_n(ix, rel, k ? k - 1 : 0);
	if (!d)
		return NULL;
	return index_find_name(ix, d, rel + k, n - k);
}

/* ---- publishing and the watcher thread ---- */

/* What to index: the root as given (absolute, symlinks not resolved),
 * its parent and last name (for the parent watch), and the options. */
struct ix_where {
	char root[PM_PATH_MAX];
	char parent[PM_PATH_MAX];
	char rootname[PM_NAME_MAX + 1];
	int show_dot;
	unsigned rescan;
};

static pthread_mutex_t ix_lock = PTHREAD_MUTEX_INITIALIZER;
static struct index *ix_current;
static uint64_t ix_generation;

static pthread_mutex_t ix_cb_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	void (*cb)(struct index *ix, void *arg);
	void *arg;
} ix_cbs[IX_CALLBACKS_MAX];
static int ix_ncbs;

static struct {
	pthread_t thread;
	int running;
	int wakefd;
	int inofd;
	int parent_wd;
	atomic_int stop;
	struct ix_where w; /* owned by the index thread once it runs */
} ixw = {.wakefd = -1, .inofd = -1, .parent_wd = -1};

/* A new configuration from index_reconfigure, taken by the thread before
 * its next rebuild. */
static pthread_mutex_t ix_next_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ix_where ix_next;
static int ix_has_next;

struct index *index_acquire(void)
{
	struct index *ix;

	pthread_mutex_lock(&ix_lock);
	ix = ix_current;
	if (ix)
		__atomic_add_fetch(&ix->refs, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&ix_lock);
	return ix;
}

void index_release(struct index *ix)
{
	if (!ix)
		return;
	if (__atomic_sub_fetch(&ix->refs, 1, __ATOMIC_ACQ_REL) == 0)
		ix_free(ix->priv);
}

void index_on_publish(void (*cb)(struct index *ix, void *arg), void *arg)
{
	pthread_mutex_lock(&ix_cb_lock);
	if (ix_ncbs < IX_CALLBACKS_MAX) {
		ix_cbs[ix_ncbs].cb = cb;
		ix_cbs[ix_ncbs].arg = arg;
		ix_ncbs++;
	} else {
		log_err("index: too many publish callbacks (max %d)", IX_CALLBACKS_MAX);
	}
	pthread_mutex_unlock(&ix_cb_lock);
}

static void ix_publish(struct index *ix, int notify)
{
	struct index *old;

	pthread_mutex_lock(&ix_lock);
	ix->generation = ++ix_generation;
	old = ix_current;
	ix_current = ix;
	pthread_mutex_unlock(&ix_lock);
	index_release(old);
	if (!notify)
		return;
	pthread_mutex_lock(&ix_cb_lock);
	int n = ix_ncbs;
	__typeof__(ix_cbs[0]) cbs[IX_CALLBACKS_MAX];
	memcpy(cbs, ix_cbs, sizeof(cbs));
	pthread_mutex_unlock(&ix_cb_lock);
	for (int i = 0; i < n; i++)
		cbs[i].cb(ix, cbs[i].arg);
}

/* Build a fresh snapshot with a fresh set of watches and publish it.
 * The root is opened again by name so that a swapped root symlink takes
 * effect; if the name cannot be opened (gone for a moment, or hidden by
 * the sandbox) the tree already open is rescanned. */
static int ix_rebuild(int first)
{
	/* the configured root the current snapshot was built for */
	static char built_for[PM_PATH_MAX];
	static int failing;
	struct index *ix;
	char e[PM_PATH_MAX];
	int rootfd, inofd;

	rootfd = file_open_root(ixw.w.root);
	if (rootfd < 0) {
		int err = errno;
		/* rescan the tree already open only when it is the one this
		 * root named: never index an old tree under a new name */
		struct index *cur =
		    first || strcmp(built_for, ixw.w.root) != 0 ? NULL : index_acquire();

		if (!cur) {
			if (first || !failing)
				log_err("index: cannot open the root \"%s\": %s%s",
				        log_esc(e, sizeof(e), ixw.w.root, strlen(ixw.w.root)),
				        strerror(err),
				        first ? "" : "; keeping the previous snapshot");
			failing = !first;
			return -1;
		}
		rootfd = fcntl(cur->rootfd, F_DUPFD_CLOEXEC, 0);
		index_release(cur);
		if (!failing)
			log_warn("index: cannot reopen the root \"%s\" (%s); rescanning the "
			         "tree already open",
			         log_esc(e, sizeof(e), ixw.w.root, strlen(ixw.w.root)),
			         strerror(err));
		if (rootfd < 0)
			goto fail;
	}
	inofd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (inofd < 0 && !failing)
		log_warn("index: inotify: %s; changes are seen only by the periodic rescan",
		         strerror(errno));
	ix = ix_build_fd(rootfd, ixw.w.show_dot, inofd, ixw.w.root);
	if (!ix) {
		if (inofd >= 0)
			close(inofd);
		goto fail;
	}
	if (inofd >= 0 && ixw.w.parent[0]) {
		ixw.parent_wd = inotify_add_watch(inofd, ixw.w.parent,
		                                  IN_CREATE | IN_DELETE | IN_MOVED_FROM |
		                                      IN_MOVED_TO | IN_ATTRIB | IN_ONLYDIR);
	} else {
		ixw.parent_wd = -1;
	}
	if (ixw.inofd >= 0)
		close(ixw.inofd);
	ixw.inofd = inofd;
	log_info("index: %s: %" PRIu64 " entries in %u directories, %.3f s",
	         first ? "built" : "rebuilt", ix->nentries, ix->ndirs, ix->build_seconds);
	failing = 0;
	memcpy(built_for, ixw.w.root, sizeof(built_for));
	ix_publish(ix, !first);
	return 0;
fail:
	if (!failing || first)
		log_err("index: build of \"%s\" failed: %s%s",
		        log_esc(e, sizeof(e), ixw.w.root, strlen(ixw.w.root)), strerror(errno),
		        first ? "" : "; keeping the previous snapshot");
	failing = !first;
	return -1;
}

/* Drain the inotify queue; 1 when something that matters changed. */
static int ix_drain_events(void)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	int relevant = 0;

	for (int rounds = 0; rounds < 64; rounds++) {
		ssize_t n = read(ixw.inofd, buf, sizeof(buf));

		if (n <= 0)
			break;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			const char *name = ev->len ? ev->name : "";

			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				relevant = 1;
				continue;
			}
			if (ev->wd == ixw.parent_wd) {
				/* the root's parent: only the root's own name */
				if (strcmp(name, ixw.w.rootname) == 0)
					relevant = 1;
				continue;
			}
			/* hidden names (rsync's temporary .name.XXXXXX) do not
			 * change the snapshot; their final rename does */
			if (name[0] == '.' && !ixw.w.show_dot)
				continue;
			relevant = 1;
		}
	}
	return relevant;
}

static void *ix_thread(void *arg)
{
	int64_t pending_since = -1, last_event = 0, retry_at = -1, next_rescan = -1;

	(void)arg;
	if (ixw.w.rescan)
		next_rescan = (int64_t)(clock_now_ns() / 1000000) + (int64_t)ixw.w.rescan * 1000;
	while (!atomic_load(&ixw.stop)) {
		struct pollfd pfd[2];
		int64_t now = (int64_t)(clock_now_ns() / 1000000), deadline = -1;
		int timeout, np = 1;

		if (pending_since >= 0) {
			int64_t a = last_event + PM_INDEX_SETTLE_MS;
			int64_t b = pending_since + IX_SETTLE_CAP_MS;
			deadline = a < b ? a : b;
		}
		if (retry_at >= 0 && (deadline < 0 || retry_at < deadline))
			deadline = retry_at;
		if (next_rescan >= 0 && (deadline < 0 || next_rescan < deadline))
			deadline = next_rescan;
		timeout = deadline < 0 ? -1 : deadline <= now ? 0 : (int)(deadline - now);

		pfd[0].fd = ixw.wakefd;
		pfd[0].events = POLLIN;
		pfd[1].fd = ixw.inofd;
		pfd[1].events = POLLIN;
		if (ixw.inofd >= 0)
			np = 2;
		if (poll(pfd, (nfds_t)np, timeout) < 0 && errno != EINTR) {
			log_err("index: poll: %s; the index is no longer refreshed",
			        strerror(errno));
			break;
		}
		if (atomic_load(&ixw.stop))
			break;
		now = (int64_t)(clock_now_ns() / 1000000);
		if (pfd[0].revents & POLLIN) {
			uint64_t v;
			if (read(ixw.wakefd, &v, sizeof(v)) < 0) {
				/* nothing to do: the counter is reset or empty */
			}
			/* an explicit request: no settling */
			pending_since = now - IX_SETTLE_CAP_MS;
			last_event = now - PM_INDEX_SETTLE_MS;
		}
		if (np == 2 && (pfd[1].revents & POLLIN) && ix_drain_events()) {
			if (pending_since < 0)
				pending_since = now;
			last_event = now;
		}
		int due = 0;
		if (pending_since >= 0 && (now >= last_event + PM_INDEX_SETTLE_MS ||
		                           now >= pending_since + IX_SETTLE_CAP_MS))
			due = 1;
		if (retry_at >= 0 && now >= retry_at)
			due = 1;
		if (next_rescan >= 0 && now >= next_rescan)
			due = 1;
		if (!due)
			continue;
		pending_since = -1;
		retry_at = -1;
		pthread_mutex_lock(&ix_next_lock);
		if (ix_has_next) {
			ixw.w = ix_next;
			ix_has_next = 0;
		}
		pthread_mutex_unlock(&ix_next_lock);
		if (ix_rebuild(0) < 0)
			retry_at = (int64_t)(clock_now_ns() / 1000000) + IX_RETRY_MS;
		if (ixw.w.rescan)
			next_rescan =
			    (int64_t)(clock_now_ns() / 1000000) + (int64_t)ixw.w.rescan * 1000;
	}
	return NULL;
}

/* Absolute form of root without resolving symlinks (the root may be a
 * symlink that is swapped), and its parent and last name. */
static int ix_set_root(struct ix_where *w, const char *root)
{
	char cwd[PM_PATH_MAX];
	size_t n;
	int n2;

	if (root[0] == '/') {
		n2 = snprintf(w->root, sizeof(w->root), "%s", root);
	} else {
		if (!getcwd(cwd, sizeof(cwd)))
			return -1;
		n2 = snprintf(w->root, sizeof(w->root), "%s/%s", cwd, root);
	}
	if (n2 < 0 || (size_t)n2 >= sizeof(w->root)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	n = strlen(w->root);
	while (n > 1 && w->root[n - 1] == '/')
		w->root[--n] = '\0';
	w->parent[0] = '\0';
	w->rootname[0] = '\0';
	char *slash = strrchr(w->root, '/');
	if (slash && slash[1] && strlen(slash + 1) <= PM_NAME_MAX) {
		size_t pn = (size_t)(slash - w->root);
		snprintf(w->rootname, sizeof(w->rootname), "%s", slash + 1);
		if (pn == 0)
			pn = 1; /* parent is "/" */
		memcpy(w->parent, w->root, pn);
		w->parent[pn] = '\0';
	}
	return 0;
}

int index_start(const struct config *c)
{
	char e[PM_PATH_MAX];

	if (ixw.running) {
		log_err("index: already started");
		return -1;
	}
	if (ix_set_root(&ixw.w, c->root) < 0) {
		log_err("index: root \"%s\": %s", log_esc(e, sizeof(e), c->root, strlen(c->root)),
		        strerror(errno));
		return -1;
	}
	ixw.w.show_dot = c->show_dotfiles;
	ixw.w.rescan = c->index_rescan;
	atomic_store(&ixw.stop, 0);
	if (ix_rebuild(1) < 0)
		return -1;
	ixw.wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ixw.wakefd < 0) {
		log_err("index: eventfd: %s", strerror(errno));
		goto fail;
	}
	if (pthread_create(&ixw.thread, NULL, ix_thread, NULL) != 0) {
		log_err("index: cannot start the watcher thread");
		goto fail;
	}
	ixw.running = 1;
	return 0;
fail:
	index_stop();
	return -1;
}

int index_reconfigure(const struct config *c)
{
	struct ix_where w;
	char e[PM_PATH_MAX];

	if (ix_set_root(&w, c->root) < 0) {
		log_err("index: root \"%s\": %s", log_esc(e, sizeof(e), c->root, strlen(c->root)),
		        strerror(errno));
		return -1;
	}
	w.show_dot = c->show_dotfiles;
	w.rescan = c->index_rescan;
	pthread_mutex_lock(&ix_next_lock);
	ix_next = w;
	ix_has_next = 1;
	pthread_mutex_unlock(&ix_next_lock);
	index_request_rescan();
	return 0;
}

void index_request_rescan(void)
{
	uint64_t one = 1;

	if (ixw.wakefd >= 0 && write(ixw.wakefd, &one, sizeof(one)) < 0) {
		/* the counter is saturated: a rescan is pending anyway */
	}
}

void index_stop(void)
{
	struct index *old;

	if (ixw.running) {
		atomic_store(&ixw.stop, 1);
		index_request_rescan();
		pthread_join(ixw.thread, NULL);
		ixw.running = 0;
	}
	if (ixw.wakefd >= 0)
		close(ixw.wakefd);
	if (ixw.inofd >= 0)
		close(ixw.inofd);
	ixw.wakefd = ixw.inofd = ixw.parent_wd = -1;
	pthread_mutex_lock(&ix_lock);
	old = ix_current;
	ix_current = NULL;
	pthread_mutex_unlock(&ix_lock);
	index_release(old);
}
