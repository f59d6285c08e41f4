/* index.h - the shared, immutable snapshot of the served tree.
 *
 * A snapshot holds every indexed directory (sorted by path) and, per
 * directory, its entries sorted by name (bytewise) with type, size and
 * mtime.  Snapshots are reference-counted and swapped atomically by the
 * index thread: a reader takes one with index_acquire, uses it without
 * locks for as long as it likes, and drops it with index_release.  A reader
 * never sees a half-built snapshot and never waits on a rebuild.
 *
 * Dot-files are absent unless show_dotfiles; symlinks appear only when they
 * resolve inside the root (as what they point to); only regular files and
 * directories appear.  Names holding control characters or a backslash are
 * absent (no client path can name them).
 *
 * A symlink to a directory inside the root is not walked a second time:
 * its entry is an INDEX_DIR whose `dir` is the target's index_dir (so two
 * entries may share one index_dir, whose `path` is the target's), and
 * index_find_dir / index_lookup follow it, so "link/file" is found.  A
 * directory symlink whose target is not itself indexed (hidden, outside)
 * is absent.  This keeps loops and duplicate subtrees out of the snapshot.
 *
 * Directories are watched with inotify and the tree is rebuilt off the
 * serving threads about PM_INDEX_SETTLE_MS after a burst of changes (well
 * under 2 s for trees of a few hundred thousand entries); the root's parent
 * is watched for the root's own name, so a root symlink swapped to a new
 * directory is picked up, and every rebuild opens the root by name again.
 */
#ifndef PUBMIRROR_INDEX_H
#define PUBMIRROR_INDEX_H

#include <stdint.h>
#include <time.h>

struct config;

enum index_type { INDEX_FILE = 1, INDEX_DIR = 2 };

struct index_entry {
	const char *name; /* NUL-terminated, inside the snapshot */
	uint64_t size;    /* bytes (directories: st_size) */
	int64_t mtime;    /* seconds since the epoch, UTC */
	uint64_t ino;     /* inode, for ETags and MLSD unique */
	uint32_t dev;     /* device (low bits), for unique */
	uint32_t dir;     /* INDEX_DIR: index of its struct index_dir, else UINT32_MAX */
	uint16_t namelen;
	uint8_t type;  /* enum index_type */
	uint8_t flags; /* INDEX_F_LINK */
};

/* A symlink to a file: the canonical path of the file it leads to is
 * stored after the name (index_link_target).  Access is decided on that
 * path (view.h), never on the link's own name. */
#define INDEX_F_LINK 1u

/* The canonical root-relative path a file symlink leads to, or NULL for an
 * entry that is not one.  Inside the snapshot. */
static inline const char *index_link_target(const struct index_entry *e)
{
	return (e->flags & INDEX_F_LINK) ? e->name + e->namelen + 1 : NULL;
}

struct index_dir {
	const char *path; /* canonical, "" = root */
	uint32_t first;   /* entries[first .. first+count) */
	uint32_t count;
	int64_t mtime;
};

struct index {
	uint64_t generation;  /* increases with every published snapshot */
	time_t built;         /* when this snapshot was finished */
	double build_seconds; /* how long the build took */
	int rootfd;           /* the root directory this snapshot was built from;
	                       * open files beneath it (file_open) so that files
	                       * and listings come from the same tree */
	uint32_t ndirs;
	uint64_t nentries;
	const struct index_dir *dirs; /* sorted by path (bytewise) */
	const struct index_entry *entries;
	/* private from here */
	int refs;
	void *priv;
};

/* Build the first snapshot synchronously and start the watcher thread
 * (inotify, with a periodic rescan as fallback).  0 or -1 (logged). */
int index_start(const struct config *c);
/* Stop the watcher thread and release the current snapshot. */
void index_stop(void);
/* Ask for a rescan (SIGHUP, config change).  Returns at once. */
void index_request_rescan(void);
/* Take root, show_dotfiles and index_rescan from a new configuration
 * (SIGHUP) and rescan at once.  Returns at once: 0, or -1 (logged) when
 * the root cannot be expressed; the running snapshot stays until a build
 * of the new root succeeds.  c need not outlive the call. */
int index_reconfigure(const struct config *c);

/* Take a reference to the current snapshot (never NULL after index_start). */
struct index *index_acquire(void);
/* Drop a reference from index_acquire or index_build. */
void index_release(struct index *ix);

/* Find a directory by canonical path; NULL when absent. */
const struct index_dir *index_find_dir(const struct index *ix, const char *rel);
/* Find an entry (file or directory) by canonical path; NULL when absent or
 * for "" (the root has no entry). */
const struct index_entry *index_lookup(const struct index *ix, const char *rel);
/* The entry called name[0..n) in directory d of ix (no symlink followed,
 * binary search), or NULL. */
const struct index_entry *index_find_name(const struct index *ix, const struct index_dir *d,
                                          const char *name, size_t n);

/* Build a snapshot of root now, on this thread (used by index_start, tests
 * and the benchmark).  NULL on failure.  Release with index_release. */
struct index *index_build(const char *root, int show_dotfiles);

/* Bytes of memory held by a snapshot (for benchmarks and metrics). */
uint64_t index_memory(const struct index *ix);

/* Be told when a new snapshot is published by the watcher thread: cb(ix,
 * arg) runs on the index thread right after each publish (not for the
 * first snapshot built by index_start: take that one with index_acquire
 * when registering).  ix is valid during the call; keep it beyond with
 * index_acquire.  The callback must be quick (no I/O of its own tree
 * walk); at most 4 callbacks. */
void index_on_publish(void (*cb)(struct index *ix, void *arg), void *arg);

#endif
