/* lslr.h - the classic mirror file `ls-lR.gz` at the root: the whole tree
 * in `ls -lR` form, gzipped, rebuilt from the index after every change.
 *
 * SECURITY: nothing is ever written into the served tree, so the file
 * lives in memory: the latest build is a reference-counted blob swapped
 * atomically (a client reading the previous one keeps it until done), and,
 * where the kernel and the sandbox allow memfd_create, also a sealed
 * read-only memory file that fd-based senders (sendfile, pread) use like
 * any served file.  The protocols show a virtual entry "ls-lR.gz" at the
 * root unless the tree has a real file of that name (which then wins).
 *
 * Format (GNU `ls -lR` run at the root, as ftp.gnu.org's ls-lR):
 *   .:
 *   total 12
 *   dr-xr-xr-x   2 ftp      ftp              4096 Nov 22 05:00 pub
 *
 *   ./pub:
 *   total 4
 *   -r--r--r--   1 ftp      ftp              1234 Nov 22 05:00 file
 * Lines end in LF.  Directories are visited depth-first in name order; a
 * directory reached through a symlink is listed but not entered again.
 */
#ifndef PUBMIRROR_LSLR_H
#define PUBMIRROR_LSLR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "buf.h"
#include "index.h"

#define LSLR_NAME "ls-lR.gz"
#define LSLR_GZ_MAX (512u * 1024 * 1024) /* a bigger ls-lR.gz is not offered */

struct lslr_blob {
	const unsigned char *data; /* gzip bytes */
	size_t len;
	int64_t mtime;       /* when the snapshot it describes was built */
	uint64_t generation; /* index generation it describes */
	/* private from here */
	int refs;
	int memfd; /* sealed copy, or -1 */
};

/* Build ls-lR.gz for the current snapshot now, register for every later
 * publish (index_on_publish) and start the thread that rebuilds it.  Call
 * after index_start and before sandbox_enter (the first memfd is made
 * here).  0 or -1 (logged). */
int lslr_start(void);
/* Stop the thread and drop the current blob (readers keep theirs). */
void lslr_stop(void);

/* The latest blob with a reference, or NULL when none exists (not built
 * yet, too big, out of memory).  Drop it with lslr_release. */
struct lslr_blob *lslr_acquire(void);
void lslr_release(struct lslr_blob *b);

/* A new read-only descriptor on the latest ls-lR.gz (its own descriptor:
 * use pread/sendfile with an offset, close it when done), with *st filled
 * (regular file, size, mtime).  -1 with errno ENOENT when there is none,
 * ENOSYS when memory files are unavailable (serve lslr_acquire's bytes
 * instead). */
int lslr_open(struct stat *st);

/* The virtual entry to add to the root listing of ix: fills *out (name
 * LSLR_NAME, size, mtime) and returns out, or NULL when the tree has its
 * own "ls-lR.gz" or no blob exists.  The name points to static storage. */
const struct index_entry *lslr_entry(const struct index *ix, struct index_entry *out);
/* 1 when rel (canonical) names the virtual file in ix: it is "ls-lR.gz"
 * and the tree has no entry of that name. */
int lslr_is_virtual(const struct index *ix, const char *rel);

/* lslr_store.c, for the builder: 1 when the current blob describes
 * generation or a later one.  publish takes data (malloc'd, owned from
 * now on) as the blob of generation: 1 made current, 0 dropped (a newer
 * one is current), -1 out of memory.  clear drops the current one. */
int lslr_store_has(uint64_t generation);
int lslr_store_publish(unsigned char *data, size_t len, int64_t mtime, uint64_t generation);
void lslr_store_clear(void);

/* The plain ls -lR text of ix into out (appended), times relative to now.
 * 0 or -1 (cap of out). */
int lslr_render(struct buf *out, const struct index *ix, time_t now);
/* The same text gzipped into out, built in pieces (the text is never whole
 * in memory).  0 or -1. */
int lslr_gzip(struct buf *out, const struct index *ix, time_t now);

#endif
