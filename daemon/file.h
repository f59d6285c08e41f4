/* file.h - the one function that opens anything under the served root.
 *
 * SECURITY: every open goes beneath the root's directory fd with the
 * openat2 system call and RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS (symlinks
 * are followed only while they stay inside the root; the kernel enforces
 * it), O_RDONLY, O_NOCTTY, O_NONBLOCK, O_CLOEXEC; then fstat on the fd, and
 * anything but a regular file or a directory is refused.  On a kernel
 * without openat2 (ENOSYS, also what a seccomp filter may answer) the same
 * rules are applied by a component-by-component walk with O_NOFOLLOW that
 * reads each symlink itself (at most FILE_SYMLINKS_MAX of them) and refuses
 * absolute targets and any ".." above the root.  No other module opens
 * served files.
 *
 * Dot-files: file_open does NOT hide them.  Whether a client may see a
 * name (dot-files, protected paths) is decided by view.h before a protocol
 * opens anything (view_open).
 */
#ifndef PUBMIRROR_FILE_H
#define PUBMIRROR_FILE_H

#include <stddef.h>
#include <sys/stat.h>

#define FILE_SYMLINKS_MAX 40 /* symlinks followed in one open (as the kernel) */

/* FILE_REG_NOLINK: a regular file at a path in which nothing is a symlink
 * (the resolved path of a view decision, view.h): a symlink anywhere on
 * the way, swapped in since the index was built, fails with ELOOP instead
 * of being followed to something the decision was not taken on. */
enum file_want { FILE_ANY, FILE_REG, FILE_DIR, FILE_REG_NOLINK };

/* Open the directory `root` (the served tree) for use as a root fd.  The
 * path itself may be a symlink (a root swapped between snapshots); it is
 * followed once, here.  Returns the fd or -1 (errno set; ENOTDIR when it is
 * not a directory). */
int file_open_root(const char *root);

/* Open rel (canonical, from path_resolve) beneath rootfd.  want restricts
 * the type.  Fills *st.  Returns the fd, or -1 with errno: ENOENT, EACCES,
 * EXDEV (escape refused), ELOOP (too many symlinks), ENOTDIR / EISDIR
 * (wrong type), EINVAL (special file: FIFO, socket, device).  Opening a
 * FIFO never blocks (O_NONBLOCK; the flag stays on the returned fd, which
 * changes nothing for regular files and directories).  The caller owns the
 * fd.  Thread-safe. */
int file_open(int rootfd, const char *rel, enum file_want want, struct stat *st);

/* Open the directory called name (one component, no '/') inside the
 * directory dirfd, without following a symlink.  For walking the tree
 * (index).  Fills *st.  Returns the fd or -1 (ENOTDIR for a symlink or
 * anything else that is not a directory). */
int file_open_dir_at(int dirfd, const char *name, struct stat *st);

/* The canonical root-relative path of the object rel names, with every
 * symlink on the way resolved beneath rootfd (the same rules as file_open:
 * absolute targets and climbs above the root refused, at most
 * FILE_SYMLINKS_MAX links) into out ("" is the root).  For the index, which
 * records where a symlink leads so that access is decided on the final
 * object.  0, or -1 with errno (ENOENT, EXDEV, ELOOP, ENAMETOOLONG, ...).
 * The result is a name, not a handle: a caller that opens it afterwards
 * compares (dev, ino) with what it expects. */
int file_resolve_path(int rootfd, const char *rel, char *out, size_t outsz);

/* Map errno from file_open to an HTTP status: ENOENT, ENOTDIR, EXDEV,
 * ELOOP, ENAMETOOLONG, EINVAL -> 404 (an escape or a special file looks
 * like nothing); EACCES, EPERM -> 403; else 500. */
int file_errno_http(int err);

/* Tests only: 0 forces the fallback walk even when openat2 exists, 1
 * goes back to automatic choice. */
void file_set_openat2(int enabled);

#endif
