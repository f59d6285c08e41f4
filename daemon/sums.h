/* sums.h - checksums shown to clients: the SHA-256 a directory's
 * SHA256SUMS file states for a file (HTTPS listings), and a Repr-Digest
 * (RFC 9530) header computed by the server itself, off the serving
 * threads.
 *
 * Two sources, never mixed: a checksum file is the publisher's claim and
 * is shown as such in listings; a Repr-Digest is a digest of the bytes
 * served, computed here by a background thread after each index publish
 * (files up to hash_max_size, at most half of one core) and only ever
 * looked up on the request path, never computed there.
 */
#ifndef PUBMIRROR_SUMS_H
#define PUBMIRROR_SUMS_H

#include <stddef.h>
#include <stdint.h>

#include "index.h"

#define SUMS_FILE_MAX (4u * 1024 * 1024) /* a bigger checksum file is ignored */
#define SUMS_LINE_MAX 4096               /* longer lines are skipped */
#define SUMS_ENTRIES_MAX 200000          /* entries taken from one file */
#define SUMS_DIRS_CACHED 256             /* directories whose sums are cached */
#define SUMS_DIGESTS_MAX 200000          /* Repr-Digest cache entries */
#define SUMS_HEX_LEN 64                  /* SHA-256 in hex */

/* Parse the text of a checksum file in either form
 *   <64 hex>  name        <64 hex> *name      (sha256sum, text or binary)
 *   \<64 hex>  na\\me     (sha256sum's escaped form: \\ and \n)
 *   SHA256 (name) = <64 hex>                   (BSD, `sha256sum --tag`)
 * calling cb(arg, name, namelen, hex) for each valid line (hex lowercased,
 * NUL-terminated; a leading "./" removed from name).  Malformed, other-
 * algorithm and over-long lines are skipped.  A non-zero cb return stops.
 * Returns the number of entries given to cb. */
int sums_parse(const char *text, size_t n,
               int (*cb)(void *arg, const char *name, size_t namelen, const char *hex), void *arg);

/* One directory's parsed checksum file: immutable, reference-counted. */
struct sums_dir;
/* The checksums of directory dir_rel (canonical, "" = root) of ix, from
 * the first of SHA256SUMS, SHA256SUMS.txt, sha256sums.txt, sha256sums that
 * the index holds there; read beneath ix->rootfd on first use and cached
 * while the file's identity (size, mtime, inode) stays.  NULL when the
 * directory has none.  Release with sums_dir_release. */
struct sums_dir *sums_dir_acquire(const struct index *ix, const char *dir_rel);
void sums_dir_release(struct sums_dir *sd);
/* The hex SHA-256 that sd states for name, or NULL.  Valid while sd is. */
const char *sums_dir_find(const struct sums_dir *sd, const char *name);
/* Both in one: copy the hex for dir_rel/name into hex (>= 65 bytes).
 * 0 when found, -1 when not. */
int sums_lookup(const struct index *ix, const char *dir_rel, const char *name, char *hex);
/* Drop every cached directory (tests, shutdown). */
void sums_cache_clear(void);

/* ---- the background hasher (sums_hasher.c) ---- */

/* Start the background hasher: it hashes every file of the current
 * snapshot up to hash_max_size (config at each pass) and does so again
 * after each publish for what changed.  0 or -1 (logged). */
int sums_start(void);
void sums_stop(void);
/* Wait until the hasher has finished a pass over a snapshot of at least
 * generation gen, up to ms milliseconds (tests).  1 when done. */
int sums_wait_pass(uint64_t gen, int ms);

/* The generation of the last snapshot the hasher finished (0 before the
 * first pass): caches of pages that show computed digests key on it. */
uint64_t sums_done_gen(void);

/* The Repr-Digest field value for file rel with this size, mtime and inode
 * ("sha-256=:<base64>:") into out (>= 64 bytes), only if the hasher has
 * already computed it.  0, or -1 (not known yet; send no header). */
int sums_repr_digest(const char *rel, uint64_t size, int64_t mtime, uint64_t ino, char *out,
                     size_t outsz);
/* The hex SHA-256 already computed for that file (FTP's HASH may use it
 * before reading the file itself).  0 or -1. */
int sums_cached_hex(const char *rel, uint64_t size, int64_t mtime, uint64_t ino, char *hex);

#endif
