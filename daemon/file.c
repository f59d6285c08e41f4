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

/* fd (if it opened) kept when it is of the kind wanted, else closed with
 * errno saying why.  SECURITY: FIFOs, sockets and devices are never
 * served. */
static int file_keep(int fd, enum file_want want, struct stat *st)
{
	int e;

	if (fd < 0)
		return -1;
	if (fstat(fd, st) < 0)
		goto fail;
	if (S_ISDIR(st->st_mode)) {
		if (want == FILE_REG || want == FILE_REG_NOLINK) {
			errno = EISDIR;
			goto fail;
		}
	} else if (S_ISREG(st->st_mode)) {
		if (want == FILE_DIR) {
			errno = ENOTDIR;
			goto fail;
		}
	} else {
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

int file_open_dir_at(int dirfd, const char *name, struct stat *st)
{
	return file_keep(openat(dirfd, name, FILE_OFLAGS | O_DIRECTORY | O_NOFOLLOW), FILE_DIR, st);
}

static int file_openat2(int rootfd, const char *rel, int flags, int nolink)
{
	struct open_how how;

	memset(&how, 0, sizeof(how));
	how.flags = (unsigned long long)flags;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | (nolink ? RESOLVE_NO_SYMLINKS : 0);
	return (int)syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
}

/* The path still to resolve, shared by file_walk and file_resolve_path:
 * components are taken from the front; a symlink's target is put in front
 * of what is left. */
struct file_work {
	char buf[2 * PM_PATH_MAX + 2];
	char target[PM_PATH_MAX + 1];
	size_t len, pos;
	int links;
};

/* SECURITY: bounds the path and refuses an absolute one (it never starts
 * at "/" of the host).  -1 with errno set. */
static int file_work_init(struct file_work *w, const char *rel)
{
	w->len = strlen(rel);
	w->pos = 0;
	w->links = 0;
	if (w->len >= sizeof(w->buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (rel[0] == '/') {
		errno = EXDEV;
		return -1;
	}
	memcpy(w->buf, rel, w->len + 1);
	return 0;
}

/* The next component: *start and *n (0 at the end), with the slashes around
 * it skipped, so that w->pos >= w->len means it is the last one.  -1
 * (ENAMETOOLONG) for a component longer than PM_NAME_MAX. */
static int file_work_next(struct file_work *w, size_t *start, size_t *n)
{
	while (w->pos < w->len && w->buf[w->pos] == '/')
		w->pos++;
	*start = w->pos;
	while (w->pos < w->len && w->buf[w->pos] != '/')
		w->pos++;
	*n = w->pos - *start;
	while (w->pos < w->len && w->buf[w->pos] == '/')
		w->pos++;
	if (*n > PM_NAME_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static int file_work_is(const struct file_work *w, size_t start, size_t n, const char *name)
{
	return n == strlen(name) && memcmp(w->buf + start, name, n) == 0;
}

/* The symlink `name` (relative to dirfd) is put in front of what is left.
 * SECURITY: at most FILE_SYMLINKS_MAX links (ELOOP); an absolute target is
 * refused (EXDEV), as with RESOLVE_BENEATH; the result stays bounded
 * (ENAMETOOLONG).  -1 with errno set. */
static int file_work_follow(struct file_work *w, int dirfd, const char *name)
{
	size_t rest = w->len - w->pos;
	ssize_t tn;

	if (++w->links > FILE_SYMLINKS_MAX) {
		errno = ELOOP;
		return -1;
	}
	tn = readlinkat(dirfd, name, w->target, sizeof(w->target));
	if (tn < 0)
		return -1;
	if ((size_t)tn >= sizeof(w->target) || tn == 0) {
		errno = tn == 0 ? ENOENT : ENAMETOOLONG;
		return -1;
	}
	if (w->target[0] == '/') {
		errno = EXDEV;
		return -1;
	}
	if ((size_t)tn + 1 + rest >= sizeof(w->buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* buf = target + "/" + rest (no trailing '/' for a final link) */
	memmove(w->buf + tn + 1, w->buf + w->pos, rest);
	memcpy(w->buf, w->target, (size_t)tn);
	w->buf[tn] = '/';
	w->len = (size_t)tn + 1 + rest;
	if (rest == 0)
		w->len--;
	w->buf[w->len] = '\0';
	w->pos = 0;
	return 0;
}

/* Fallback walk.  stack[0] is rootfd (not ours); the others are
 * directories we opened. */
#define FILE_WALK_DEPTH (PM_PATH_DEPTH_MAX * 2)

static int file_walk(int rootfd, const char *rel, int flags, int nolink)
{
	struct file_work w;
	int stack[FILE_WALK_DEPTH + 1];
	int depth = 0, fd = -1, e = 0;

	stack[0] = rootfd;
	if (file_work_init(&w, rel) < 0)
		return -1;

	for (;;) {
		char name[PM_NAME_MAX + 1];
		size_t n, start;
		struct stat st;

		if (file_work_next(&w, &start, &n) < 0) {
			e = errno;
			goto out;
		}
		int last = w.pos >= w.len;

		int dot = file_work_is(&w, start, n, ".");
		int dotdot = file_work_is(&w, start, n, "..");

		if (dotdot) {
			/* SECURITY: ".." is taken from our stack, never asked
			 * of the filesystem, so it cannot leave the root. */
			if (depth == 0) {
				e = EXDEV;
				goto out;
			}
			close(stack[depth--]);
		}
		if (n == 0 || ((dot || dotdot) && last)) {
			/* the end (an empty path, a final "." or ".."): open
			 * the current dir */
			fd = openat(stack[depth], ".", flags);
			if (fd < 0)
				e = errno;
			goto out;
		}
		if (dot || dotdot)
			continue;
		memcpy(name, w.buf + start, n);
		name[n] = '\0';
		if (fstatat(stack[depth], name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			e = errno;
			goto out;
		}
		if (S_ISLNK(st.st_mode)) {
			if (nolink) {
				e = ELOOP;
				goto out;
			}
			if (file_work_follow(&w, stack[depth], name) < 0) {
				e = errno;
				goto out;
			}
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
	struct file_work w;
	size_t olen = 0;

	if (outsz == 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (file_work_init(&w, rel) < 0)
		return -1;
	out[0] = '\0';
	for (;;) {
		size_t start, n;
		struct stat st;

		if (file_work_next(&w, &start, &n) < 0)
			return -1;
		if (n == 0)
			return 0;
		if (file_work_is(&w, start, n, "."))
			continue;
		if (file_work_is(&w, start, n, "..")) {
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
		memcpy(out + olen, w.buf + start, n);
		olen += n;
		out[olen] = '\0';
		/* every component of out before this one is a directory that
		 * is not a symlink (resolved above), so only this one can be */
		if (fstatat(rootfd, out, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return -1;
		if (!S_ISLNK(st.st_mode))
			continue;
		if (file_work_follow(&w, rootfd, out) < 0)
			return -1;
		/* the link's target is read from its directory */
		olen = mark;
		out[olen] = '\0';
	}
}

int file_open(int rootfd, const char *rel, enum file_want want, struct stat *st)
{
	int flags = FILE_OFLAGS | (want == FILE_DIR ? O_DIRECTORY : 0);
	const char *p = (rel && rel[0]) ? rel : ".";
	int fd = -1;

	int nolink = want == FILE_REG_NOLINK;

	if (!atomic_load(&file_forced_fallback) && atomic_load(&file_use_openat2)) {
		fd = file_openat2(rootfd, p, flags, nolink);
		if (fd < 0 && errno == ENOSYS) {
			atomic_store(&file_use_openat2, 0);
			fd = file_walk(rootfd, p, flags, nolink);
		}
	} else {
		fd = file_walk(rootfd, p, flags, nolink);
	}
	return file_keep(fd, want, st);
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
