/* file.c - the one place that opens files under the served root (file.h).
 *
 * SECURITY: the kernel's openat2(RESOLVE_BENEATH) is the primary guard.
 * The fallback walk below exists for kernels (or seccomp filters) without
 * openat2; it never lets the kernel follow a symlink (O_NOFOLLOW on every
 * component), keeps its own stack of directory fds so that ".." is answered
 * from that stack and not from the filesystem, and refuses absolute link
 * targets and climbs above the root with EXDEV, like RESOLVE_BENEATH.
 */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "limits.h"

/* 1: use openat2; 0: fallback walk.  Starts at 1 and drops to 0 for good
 * the first time the kernel answers ENOSYS. */
static atomic_int file_use_openat2 = 1;
static atomic_int file_forced_fallback;

#define FILE_OFLAGS (O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)

void file_set_openat2(int enabled)
{
	atomic_store(&file_forced_fallback, !enabled);
	if (enabled)
		atomic_store(&file_use_openat2, 1);
}

int file_open_root(const char *root)
{
	struct stat st;
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode)) {
		close(fd);
		errno = ENOTDIR;
		return -1;
	}
	return fd;
}

int file_open_dir_at(int dirfd, const char *name, struct stat *st)
{
	int fd = openat(dirfd, name, FILE_OFLAGS | O_DIRECTORY | O_NOFOLLOW);
	int e;

	if (fd < 0)
		return -1;
	if (fstat(fd, st) < 0)
		goto fail;
	if (!S_ISDIR(st->st_mode)) {
		errno = ENOTDIR;
		goto fail;
	}
	return fd;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

static int file_openat2(int rootfd, const char *rel, int flags)
{
	struct open_how how;

	memset(&how, 0, sizeof(how));
	how.flags = (unsigned long long)flags;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	return (int)syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
}

/* Fallback walk.  `work` holds what is left to resolve; a symlink's target
 * is put in front of the rest.  stack[0] is rootfd (not ours); the others
 * are directories we opened. */
#define FILE_WALK_DEPTH (PM_PATH_DEPTH_MAX * 2)

static int file_walk(int rootfd, const char *rel, int flags)
{
	char work[2 * PM_PATH_MAX + 2], target[PM_PATH_MAX + 1];
	int stack[FILE_WALK_DEPTH + 1];
	int depth = 0, links = 0, fd = -1, e = 0;
	size_t wlen = strlen(rel), pos = 0;

	stack[0] = rootfd;
	if (wlen >= sizeof(work)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* SECURITY: an absolute path never starts at "/" of the host. */
	if (rel[0] == '/') {
		errno = EXDEV;
		return -1;
	}
	memcpy(work, rel, wlen + 1);

	for (;;) {
		char name[PM_NAME_MAX + 1];
		size_t n = 0, start;
		struct stat st;

		while (pos < wlen && work[pos] == '/')
			pos++;
		start = pos;
		while (pos < wlen && work[pos] != '/')
			pos++;
		n = pos - start;
		while (pos < wlen && work[pos] == '/')
			pos++;
		int last = pos >= wlen;

		if (n == 0) {
			/* the end (or an empty path): open the current dir */
			fd = openat(stack[depth], ".", flags);
			if (fd < 0)
				e = errno;
			goto out;
		}
		if (n > PM_NAME_MAX) {
			e = ENAMETOOLONG;
			goto out;
		}
		memcpy(name, work + start, n);
		name[n] = '\0';
		if (n == 1 && name[0] == '.') {
			if (last) {
				fd = openat(stack[depth], ".", flags);
				if (fd < 0)
					e = errno;
				goto out;
			}
			continue;
		}
		if (n == 2 && name[0] == '.' && name[1] == '.') {
			/* SECURITY: ".." is taken from our stack, never asked
			 * of the filesystem, so it cannot leave the root. */
			if (depth == 0) {
				e = EXDEV;
				goto out;
			}
			close(stack[depth--]);
			if (last) {
				fd = openat(stack[depth], ".", flags);
				if (fd < 0)
					e = errno;
				goto out;
			}
			continue;
		}
		if (fstatat(stack[depth], name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			e = errno;
			goto out;
		}
		if (S_ISLNK(st.st_mode)) {
			ssize_t tn;
			size_t rest = wlen - pos;

			if (++links > FILE_SYMLINKS_MAX) {
				e = ELOOP;
				goto out;
			}
			tn = readlinkat(stack[depth], name, target, sizeof(target));
			if (tn < 0) {
				e = errno;
				goto out;
			}
			if ((size_t)tn >= sizeof(target) || tn == 0) {
				e = tn == 0 ? ENOENT : ENAMETOOLONG;
				goto out;
			}
			/* SECURITY: absolute targets are refused, as with
			 * RESOLVE_BENEATH. */
			if (target[0] == '/') {
				e = EXDEV;
				goto out;
			}
			if ((size_t)tn + 1 + rest >= sizeof(work)) {
				e = ENAMETOOLONG;
				goto out;
			}
			/* work = target + "/" + rest (rest keeps a trailing
			 * '/' meaning "must be a directory" implicitly via
			 * the walk) */
			memmove(work + tn + 1, work + pos, rest);
			memcpy(work, target, (size_t)tn);
			work[tn] = '/';
			wlen = (size_t)tn + 1 + rest;
			if (rest == 0)
				wlen--; /* no trailing '/' for a final link */
			work[wlen] = '\0';
			pos = 0;
			continue;
		}
		if (last) {
			fd = openat(stack[depth], name, flags | O_NOFOLLOW);
			if (fd < 0)
				e = errno;
			goto out;
		}
		if (depth >= FILE_WALK_DEPTH) {
			e = ENAMETOOLONG;
			goto out;
		}
		/* O_NOFOLLOW: if a symlink was swapped in since fstatat, this
		 * fails (ELOOP) instead of following it. */
		int dfd = openat(stack[depth], name, FILE_OFLAGS | O_DIRECTORY | O_NOFOLLOW);
		if (dfd < 0) {
			e = errno;
			goto out;
		}
		stack[++depth] = dfd;
	}
out:
	while (depth > 0)
		close(stack[depth--]);
	if (fd < 0)
		errno = e ? e : EIO;
	return fd;
}

int file_resolve_path(int rootfd, const char *rel, char *out, size_t outsz)
{
	char work[2 * PM_PATH_MAX + 2], target[PM_PATH_MAX + 1];
	size_t wlen = strlen(rel), pos = 0, olen = 0;
	int links = 0;

	if (outsz == 0 || wlen >= sizeof(work)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (rel[0] == '/') {
		errno = EXDEV;
		return -1;
	}
	memcpy(work, rel, wlen + 1);
	out[0] = '\0';
	for (;;) {
		size_t start, n;
		struct stat st;

		while (pos < wlen && work[pos] == '/')
			pos++;
		start = pos;
		while (pos < wlen && work[pos] != '/')
			pos++;
		n = pos - start;
		if (n == 0)
			return 0;
		if (n > PM_NAME_MAX) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (n == 1 && work[start] == '.')
			continue;
		if (n == 2 && work[start] == '.' && work[start + 1] == '.') {
			/* SECURITY: ".." is taken from the path built so far,
			 * never above the root. */
			if (olen == 0) {
				errno = EXDEV;
				return -1;
			}
			while (olen > 0 && out[olen - 1] != '/')
				olen--;
			if (olen > 0)
				olen--;
			out[olen] = '\0';
			continue;
		}
		size_t add = (olen ? 1 : 0) + n;
		if (olen + add + 1 > outsz) {
			errno = ENAMETOOLONG;
			return -1;
		}
		size_t mark = olen;
		if (olen)
			out[olen++] = '/';
		memcpy(out + olen, work + start, n);
		olen += n;
		out[olen] = '\0';
		/* every component of out before this one is a directory that
		 * is not a symlink (resolved above), so only this one can be */
		if (fstatat(rootfd, out, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return -1;
		if (!S_ISLNK(st.st_mode))
			continue;
		if (++links > FILE_SYMLINKS_MAX) {
			errno = ELOOP;
			return -1;
		}
		ssize_t tn = readlinkat(rootfd, out, target, sizeof(target));
		if (tn <= 0 || (size_t)tn >= sizeof(target)) {
			errno = tn == 0 ? ENOENT : tn < 0 ? errno : ENAMETOOLONG;
			return -1;
		}
		if (target[0] == '/') {
			errno = EXDEV;
			return -1;
		}
		/* the link's target is read from its directory */
		olen = mark;
		out[olen] = '\0';
		size_t rest = wlen - pos;
		if ((size_t)tn + 1 + rest >= sizeof(work)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memmove(work + tn + 1, work + pos, rest);
		memcpy(work, target, (size_t)tn);
		work[tn] = '/';
		wlen = (size_t)tn + 1 + rest;
		work[wlen] = '\0';
		pos = 0;
	}
}

int file_open(int rootfd, const char *rel, enum file_want want, struct stat *st)
{
	int flags = FILE_OFLAGS | (want == FILE_DIR ? O_DIRECTORY : 0);
	const char *p = (rel && rel[0]) ? rel : ".";
	int fd = -1, e;

	if (!atomic_load(&file_forced_fallback) && atomic_load(&file_use_openat2)) {
		fd = file_openat2(rootfd, p, flags);
		if (fd < 0 && errno == ENOSYS) {
			atomic_store(&file_use_openat2, 0);
			fd = file_walk(rootfd, p, flags);
		}
	} else {
		fd = file_walk(rootfd, p, flags);
	}
	if (fd < 0)
		return -1;
	if (fstat(fd, st) < 0)
		goto fail;
	if (S_ISDIR(st->st_mode)) {
		if (want == FILE_REG) {
			errno = EISDIR;
			goto fail;
		}
	} else if (S_ISREG(st->st_mode)) {
		if (want == FILE_DIR) {
			errno = ENOTDIR;
			goto fail;
		}
	} else {
		/* SECURITY: FIFOs, sockets and devices are never served. */
		errno = want == FILE_DIR ? ENOTDIR : EINVAL;
		goto fail;
	}
	return fd;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

int file_errno_http(int err)
{
	switch (err) {
	case ENOENT:
	case ENOTDIR:
	case EISDIR:
	case EXDEV:
	case ELOOP:
	case ENAMETOOLONG:
	case EINVAL:
		/* SECURITY: an escape attempt or a special file looks the
		 * same as a missing name. */
		return 404;
	case EACCES:
	case EPERM:
		return 403;
	default:
		return 500;
	}
}
