/* file.h - the one function that opens anything under the served root.
 *
 * SECURITY: every open goes beneath the root's directory fd with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) (symlinks are followed
 * only while they stay inside the root; the kernel enforces it), O_RDONLY,
 * O_NOCTTY, O_NONBLOCK, O_CLOEXEC; then fstat on the fd, and anything but a
 * regular file or a directory is refused.  No other module opens served
 * files.
 */
#ifndef PUBMIRROR_FILE_H
#define PUBMIRROR_FILE_H

#include <sys/stat.h>

enum file_want { FILE_ANY, FILE_REG, FILE_DIR };

/* Open the directory `root` (the served tree) for use as a root fd.
 * Returns the fd or -1 (errno set). */
int file_open_root(const char *root);

/* Open rel (canonical, from path_resolve) beneath rootfd.  want restricts
 * the type.  Fills *st.  Returns the fd, or -1 with errno: ENOENT, EACCES,
 * EXDEV (escape refused), ENOTDIR / EISDIR (wrong type), EINVAL (special
 * file). */
int file_open(int rootfd, const char *rel, enum file_want want, struct stat *st);

/* Map errno from file_open to an HTTP status (404, 403, 500). */
int file_errno_http(int err);

#endif
