/* test_file.c - file_open against a real temporary tree with symlinks in
 * and out of the root, a climbing chain, a loop, a FIFO and a directory;
 * once through openat2 and once through the fallback walk. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "limits.h"
#include "unit.h"

static char top[256], rootdir[300];

static void mk(const char *rel, const char *content)
{
	char p[600];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", top, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, content, strlen(content)) != (ssize_t)strlen(content)) {
		perror(p);
		exit(2);
	}
	close(fd);
}

static void mkd(const char *rel)
{
	char p[600];

	snprintf(p, sizeof(p), "%s/%s", top, rel);
	if (mkdir(p, 0755) < 0) {
		perror(p);
		exit(2);
	}
}

static void ln(const char *target, const char *rel)
{
	char p[600];

	snprintf(p, sizeof(p), "%s/%s", top, rel);
	if (symlink(target, p) < 0) {
		perror(p);
		exit(2);
	}
}

static void build_tree(void)
{
	char p[600];

	snprintf(top, sizeof(top), "%s/pm-test-file.XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(top)) {
		perror("mkdtemp");
		exit(2);
	}
	snprintf(rootdir, sizeof(rootdir), "%s/root", top);
	mk("outside.txt", "secret outside the root\n");
	mkd("root");
	mk("root/file.txt", "hello\n");
	mkd("root/dir");
	mk("root/dir/inner.txt", "inner\n");
	mkd("root/dir/sub");
	ln("file.txt", "root/link-in");
	ln("dir", "root/link-dir");
	ln("../file.txt", "root/dir/link-up"); /* climbs one level, stays inside */
	ln("/etc/passwd", "root/link-passwd");
	ln("../outside.txt", "root/link-out");
	ln("chain2", "root/chain1");
	ln("dir/chain3", "root/chain2");
	ln("../../outside.txt", "root/dir/chain3"); /* the chain climbs out */
	ln("loop2", "root/loop1");
	ln("loop1", "root/loop2");
	ln("/", "root/link-slash");
	ln("..", "root/link-dotdot");
	ln("fifo", "root/link-fifo");
	snprintf(p, sizeof(p), "%s/root/fifo", top);
	if (mkfifo(p, 0644) < 0) {
		perror("mkfifo");
		exit(2);
	}
}

static void remove_tree(void)
{
	int fd;

	/* The tree holds only what build_tree made; unlink it by name. */
	static const char *names[] = {
	    "root/dir/chain3",  "root/dir/link-up", "root/dir/inner.txt", "root/link-in",
	    "root/link-dir",    "root/link-passwd", "root/link-out",      "root/chain1",
	    "root/chain2",      "root/loop1",       "root/loop2",         "root/link-slash",
	    "root/link-dotdot", "root/link-fifo",   "root/fifo",          "root/file.txt",
	    "outside.txt",
	};
	fd = open(top, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlinkat(fd, names[i], 0);
	unlinkat(fd, "root/dir/sub", AT_REMOVEDIR);
	unlinkat(fd, "root/dir", AT_REMOVEDIR);
	unlinkat(fd, "root", AT_REMOVEDIR);
	close(fd);
	rmdir(top);
}

static void expect_ok(int rootfd, const char *rel, enum file_want want, const char *content,
                      int isdir, const char *mode)
{
	char what[200], buf[64];
	struct stat st;
	int fd = file_open(rootfd, rel, want, &st);

	snprintf(what, sizeof(what), "%s: open \"%s\"", mode, rel);
	CHECK_INT(what, 1, fd >= 0);
	if (fd < 0) {
		printf("#   errno %d (%s)\n", errno, strerror(errno));
		return;
	}
	CHECK_INT(what, isdir, S_ISDIR(st.st_mode) ? 1 : 0);
	if (content) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		CHECK_STR(what, content, buf);
	}
	close(fd);
}

static void expect_err(int rootfd, const char *rel, enum file_want want, int err, int http,
                       const char *mode)
{
	char what[200];
	struct stat st;
	int fd, e;

	errno = 0;
	fd = file_open(rootfd, rel, want, &st);
	e = errno;
	snprintf(what, sizeof(what), "%s: refuse \"%s\"", mode, rel);
	CHECK_INT(what, -1, fd);
	if (fd >= 0)
		close(fd);
	CHECK_STR(what, strerror(err), strerror(e));
	CHECK_INT(what, http, file_errno_http(e));
}

static void suite(int rootfd, const char *mode)
{
	expect_ok(rootfd, "file.txt", FILE_REG, "hello\n", 0, mode);
	expect_ok(rootfd, "file.txt", FILE_ANY, "hello\n", 0, mode);
	expect_ok(rootfd, "dir/inner.txt", FILE_REG, "inner\n", 0, mode);
	expect_ok(rootfd, "", FILE_DIR, NULL, 1, mode);
	expect_ok(rootfd, "dir", FILE_DIR, NULL, 1, mode);
	expect_ok(rootfd, "dir/sub", FILE_ANY, NULL, 1, mode);
	expect_ok(rootfd, "link-in", FILE_REG, "hello\n", 0, mode);
	expect_ok(rootfd, "link-dir", FILE_DIR, NULL, 1, mode);
	expect_ok(rootfd, "link-dir/inner.txt", FILE_REG, "inner\n", 0, mode);
	expect_ok(rootfd, "dir/link-up", FILE_REG, "hello\n", 0, mode);
	expect_ok(rootfd, "link-dir/link-up", FILE_REG, "hello\n", 0, mode);
	expect_ok(rootfd, "dir/../file.txt", FILE_REG, "hello\n", 0, mode);
	expect_ok(rootfd, "dir/..", FILE_DIR, NULL, 1, mode);
	expect_ok(rootfd, "dir/.", FILE_DIR, NULL, 1, mode);
	expect_ok(rootfd, "./dir/sub/../", FILE_DIR, NULL, 1, mode);

	expect_err(rootfd, "missing", FILE_ANY, ENOENT, 404, mode);
	expect_err(rootfd, "dir/missing/x", FILE_ANY, ENOENT, 404, mode);
	expect_err(rootfd, "file.txt/x", FILE_ANY, ENOTDIR, 404, mode);
	expect_err(rootfd, "dir", FILE_REG, EISDIR, 404, mode);
	expect_err(rootfd, "file.txt", FILE_DIR, ENOTDIR, 404, mode);
	expect_err(rootfd, "link-passwd", FILE_ANY, EXDEV, 404, mode);
	expect_err(rootfd, "link-out", FILE_ANY, EXDEV, 404, mode);
	expect_err(rootfd, "chain1", FILE_ANY, EXDEV, 404, mode);
	expect_err(rootfd, "link-slash", FILE_ANY, EXDEV, 404, mode);
	expect_err(rootfd, "link-slash/etc/passwd", FILE_ANY, EXDEV, 404, mode);
	expect_err(rootfd, "link-dotdot", FILE_ANY, EXDEV, 404, mode);
	expect_err(rootfd, "link-dotdot/outside.txt", FILE_ANY, EXDEV, 404, mode);
	expect_err(rootfd, "..", FILE_ANY, EXDEV, 404, mode);
	expect_err(rootfd, "../outside.txt", FILE_ANY, EXDEV, 404, mode);
	expect_err(rootfd, "dir/../../outside.txt", FILE_ANY, EXDEV, 404, mode);
	expect_err(rootfd, "/etc/passwd", FILE_ANY, EXDEV, 404, mode);
	expect_err(rootfd, "loop1", FILE_ANY, ELOOP, 404, mode);
	/* SECURITY: a FIFO is refused and opening it does not block (the
	 * alarm set in main fails the test if it does). */
	expect_err(rootfd, "fifo", FILE_ANY, EINVAL, 404, mode);
	expect_err(rootfd, "fifo", FILE_REG, EINVAL, 404, mode);
	expect_err(rootfd, "fifo", FILE_DIR, ENOTDIR, 404, mode);
	expect_err(rootfd, "link-fifo", FILE_ANY, EINVAL, 404, mode);
	/* SECURITY: the path a view decision was taken on (no symlink on it
	 * when the index was built): a symlink found there now, final or on
	 * the way, is not followed. */
	expect_ok(rootfd, "dir/inner.txt", FILE_REG_NOLINK, "inner\n", 0, mode);
	expect_err(rootfd, "link-in", FILE_REG_NOLINK, ELOOP, 404, mode);
	expect_err(rootfd, "link-dir/inner.txt", FILE_REG_NOLINK, ELOOP, 404, mode);
	expect_err(rootfd, "dir/link-up", FILE_REG_NOLINK, ELOOP, 404, mode);
	expect_err(rootfd, "dir", FILE_REG_NOLINK, EISDIR, 404, mode);
}

static void test_root_and_dirat(void)
{
	char p[600];
	struct stat st;
	int fd, rfd;

	snprintf(p, sizeof(p), "%s/outside.txt", top);
	errno = 0;
	CHECK_INT("root on a file", -1, file_open_root(p));
	CHECK_INT("root on a file errno", ENOTDIR, errno);
	snprintf(p, sizeof(p), "%s/nonexistent", top);
	errno = 0;
	CHECK_INT("root missing", -1, file_open_root(p));
	CHECK_INT("root missing errno", ENOENT, errno);
	snprintf(p, sizeof(p), "%s/root/link-dir", top);
	fd = file_open_root(p);
	CHECK("root through a symlink", fd >= 0);
	if (fd >= 0) {
		expect_ok(fd, "inner.txt", FILE_REG, "inner\n", 0, "symlinked root");
		close(fd);
	}

	rfd = file_open_root(rootdir);
	CHECK("root opens", rfd >= 0);
	fd = file_open_dir_at(rfd, "dir", &st);
	CHECK("dir_at dir", fd >= 0 && S_ISDIR(st.st_mode));
	if (fd >= 0)
		close(fd);
	errno = 0;
	CHECK_INT("dir_at symlink refused", -1, file_open_dir_at(rfd, "link-dir", &st));
	CHECK_INT("dir_at symlink errno", ENOTDIR, errno);
	errno = 0;
	CHECK_INT("dir_at file refused", -1, file_open_dir_at(rfd, "file.txt", &st));
	CHECK_INT("dir_at file errno", ENOTDIR, errno);
	errno = 0;
	CHECK_INT("dir_at fifo refused", -1, file_open_dir_at(rfd, "fifo", &st));
	CHECK_INT("dir_at fifo errno", ENOTDIR, errno);
	close(rfd);

	CHECK_INT("EACCES is 403", 403, file_errno_http(EACCES));
	CHECK_INT("EPERM is 403", 403, file_errno_http(EPERM));
	CHECK_INT("EIO is 500", 500, file_errno_http(EIO));
	CHECK_INT("EMFILE is 500", 500, file_errno_http(EMFILE));
}

/* file_resolve_path shares the fallback walk's path reader: the same
 * bounds, the same refusals, and the resolved path beneath the root. */
static void resolve_ok(int rootfd, const char *rel, const char *expected)
{
	char what[200], out[256];
	int r;

	snprintf(what, sizeof(what), "resolve \"%s\"", rel);
	r = file_resolve_path(rootfd, rel, out, sizeof(out));
	CHECK_INT(what, 0, r);
	if (r == 0)
		CHECK_STR(what, expected, out);
}

static void resolve_err(int rootfd, const char *rel, size_t outsz, int err)
{
	char what[200], out[256];
	int e;

	snprintf(what, sizeof(what), "resolve refuses \"%s\" (%zu)", rel, outsz);
	errno = 0;
	CHECK_INT(what, -1, file_resolve_path(rootfd, rel, out, outsz));
	e = errno;
	CHECK_STR(what, strerror(err), strerror(e));
}

static void test_resolve(int rootfd)
{
	char big[2 * PM_PATH_MAX + 8], name[PM_NAME_MAX + 2];

	resolve_ok(rootfd, "", "");
	resolve_ok(rootfd, "file.txt", "file.txt");
	resolve_ok(rootfd, "./dir//inner.txt", "dir/inner.txt");
	resolve_ok(rootfd, "dir/sub/", "dir/sub");
	resolve_ok(rootfd, "dir/../file.txt", "file.txt");
	resolve_ok(rootfd, "link-in", "file.txt");
	resolve_ok(rootfd, "link-dir/inner.txt", "dir/inner.txt");
	resolve_ok(rootfd, "link-dir/link-up", "file.txt");
	resolve_err(rootfd, "missing/x", 256, ENOENT);
	resolve_err(rootfd, "/etc/passwd", 256, EXDEV);
	resolve_err(rootfd, "..", 256, EXDEV);
	resolve_err(rootfd, "dir/../../outside.txt", 256, EXDEV);
	resolve_err(rootfd, "link-passwd", 256, EXDEV);
	resolve_err(rootfd, "link-slash/etc", 256, EXDEV);
	resolve_err(rootfd, "link-dotdot", 256, EXDEV);
	resolve_err(rootfd, "link-out", 256, EXDEV);
	resolve_err(rootfd, "chain1", 256, EXDEV);
	resolve_err(rootfd, "loop1", 256, ELOOP);
	resolve_err(rootfd, "file.txt", 0, ENAMETOOLONG);
	resolve_err(rootfd, "dir/inner.txt", 8, ENAMETOOLONG);
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	resolve_err(rootfd, name, 256, ENAMETOOLONG);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	resolve_err(rootfd, big, 256, ENAMETOOLONG);
}

int main(void)
{
	int rootfd;

	alarm(20); /* a blocking open of the FIFO kills the test */
	build_tree();
	rootfd = file_open_root(rootdir);
	CHECK("open root", rootfd >= 0);
	if (rootfd < 0) {
		remove_tree();
		return unit_done();
	}
	suite(rootfd, "openat2");
	file_set_openat2(0);
	suite(rootfd, "fallback");
	file_set_openat2(1);
	test_resolve(rootfd);
	close(rootfd);
	test_root_and_dirat();
	remove_tree();
	return unit_done();
}
