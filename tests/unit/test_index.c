/* test_index.c - index_build on a real temporary tree (sorting, sizes,
 * mtimes, hiding, symlinks in and out, special files, odd names), then the
 * live index: changes made while it runs are visible within 2 s, including
 * a root symlink swapped to a new tree. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "file.h"
#include "index.h"
#include "limits.h"
#include "unit.h"

#define UTF8_NAME                                                                                  \
	"\xc3\x9c"                                                                                 \
	"bersicht.txt"

static char top[256];

static void pathof(char *p, size_t n, const char *rel)
{
	snprintf(p, n, "%s/%s", top, rel);
}

static void mk(const char *rel, size_t size)
{
	char p[600];
	int fd;

	pathof(p, sizeof(p), rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		perror(p);
		exit(2);
	}
	for (size_t i = 0; i < size; i++)
		if (write(fd, "x", 1) != 1)
			exit(2);
	close(fd);
}

static void mkd(const char *rel)
{
	char p[600];

	pathof(p, sizeof(p), rel);
	if (mkdir(p, 0755) < 0) {
		perror(p);
		exit(2);
	}
}

static void ln(const char *target, const char *rel)
{
	char p[600];

	pathof(p, sizeof(p), rel);
	if (symlink(target, p) < 0) {
		perror(p);
		exit(2);
	}
}

static void set_mtime(const char *rel, time_t t)
{
	char p[600];
	struct timespec ts[2] = {{t, 0}, {t, 0}};

	pathof(p, sizeof(p), rel);
	if (utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW) < 0)
		exit(2);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p) < 0 ? -1 : 0;
}

static void build_tree(void)
{
	char p[600];

	snprintf(top, sizeof(top), "%s/pm-test-index.XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(top))
		exit(2);
	mkd("root");
	mk("root/a.txt", 3);
	set_mtime("root/a.txt", 1000000000);
	mk("root/b.txt", 5);
	mk("root/B.txt", 1);
	mk("root/name with spaces.txt", 2);
	mk("root/" UTF8_NAME, 4);
	mk("root/.hidden", 1);
	mkd("root/.git");
	mk("root/.git/config", 6);
	mkd("root/dir1");
	mk("root/dir1/x.bin", 1000);
	mkd("root/dir1/sub");
	mk("root/dir1/sub/deep.txt", 7);
	mkd("root/dir2");
	mk("root/bad\nname", 1);
	mk("root/back\\slash", 1);
	ln("a.txt", "root/link-in");
	ln("dir1", "root/link-dir");
	ln("/etc/passwd", "root/link-out");
	ln("../../outside", "root/dir1/link-up-out");
	ln(".git", "root/link-hidden-dir");
	ln(".", "root/link-loop");
	ln("missing", "root/link-dangling");
	pathof(p, sizeof(p), "root/fifo");
	if (mkfifo(p, 0644) < 0)
		exit(2);
	mk("outside", 9);
}

static void check_sorted(const struct index *ix)
{
	int dirs_ok = 1, ents_ok = 1, slices_ok = 1;
	uint64_t total = 0;

	for (uint32_t i = 0; i < ix->ndirs; i++) {
		const struct index_dir *d = &ix->dirs[i];

		if (i > 0 && strcmp(ix->dirs[i - 1].path, d->path) >= 0)
			dirs_ok = 0;
		if ((uint64_t)d->first + d->count > ix->nentries)
			slices_ok = 0;
		for (uint32_t k = 1; k < d->count && slices_ok; k++)
			if (strcmp(ix->entries[d->first + k - 1].name,
			           ix->entries[d->first + k].name) >= 0)
				ents_ok = 0;
		total += d->count;
	}
	CHECK("directories sorted bytewise by path", dirs_ok);
	CHECK("entries inside the array", slices_ok);
	CHECK("entries sorted bytewise by name", ents_ok);
	CHECK_INT("every entry belongs to one directory", ix->nentries, total);
}

static void test_build(void)
{
	char p[600];
	struct index *ix;
	const struct index_dir *d;
	const struct index_entry *e;
	static const char *root_names[] = {
	    "B.txt",   "a.txt",     "b.txt",
	    "dir1",    "dir2",      "link-dir",
	    "link-in", "link-loop", "name with spaces.txt",
	    UTF8_NAME,
	};
	const size_t nroot = sizeof(root_names) / sizeof(root_names[0]);

	pathof(p, sizeof(p), "root");
	ix = index_build(p, 0);
	CHECK("index_build", ix != NULL);
	if (!ix)
		return;
	check_sorted(ix);
	CHECK_INT("ndirs", 4, ix->ndirs);
	CHECK_INT("nentries", nroot + 2 + 1, ix->nentries);
	CHECK_STR("dirs[0] is the root", "", ix->dirs[0].path);
	CHECK_STR("dirs[1]", "dir1", ix->dirs[1].path);
	CHECK_STR("dirs[2]", "dir1/sub", ix->dirs[2].path);
	CHECK_STR("dirs[3]", "dir2", ix->dirs[3].path);
	d = index_find_dir(ix, "");
	CHECK("find root", d == &ix->dirs[0]);
	CHECK_INT("root count", nroot, d ? d->count : 0);
	for (size_t i = 0; d && i < nroot && i < d->count; i++)
		CHECK_STR("root entry order", root_names[i], ix->entries[d->first + i].name);

	e = index_lookup(ix, "a.txt");
	CHECK("lookup a.txt", e != NULL);
	if (e) {
		CHECK_INT("a.txt size", 3, e->size);
		CHECK_INT("a.txt mtime", 1000000000, e->mtime);
		CHECK_INT("a.txt type", INDEX_FILE, e->type);
		CHECK_INT("a.txt namelen", 5, e->namelen);
		CHECK_INT("a.txt no dir", UINT32_MAX, e->dir);
		CHECK("a.txt ino", e->ino != 0);
	}
	e = index_lookup(ix, "dir1");
	CHECK("lookup dir1", e && e->type == INDEX_DIR && e->dir == 1);
	e = index_lookup(ix, "dir1/x.bin");
	CHECK("lookup dir1/x.bin", e && e->size == 1000 && e->type == INDEX_FILE);
	e = index_lookup(ix, "dir1/sub/deep.txt");
	CHECK("lookup deep", e && e->size == 7);
	e = index_lookup(ix, UTF8_NAME);
	CHECK("lookup UTF-8 name", e && e->size == 4);
	e = index_lookup(ix, "name with spaces.txt");
	CHECK("lookup name with spaces", e && e->size == 2);
	d = index_find_dir(ix, "dir2");
	CHECK("empty dir2", d && d->count == 0);

	/* symlinks: in (as the target), out (absent) */
	e = index_lookup(ix, "link-in");
	CHECK("symlink to a file inside: a file of its size",
	      e && e->type == INDEX_FILE && e->size == 3);
	e = index_lookup(ix, "link-dir");
	CHECK("symlink to a dir inside: a dir", e && e->type == INDEX_DIR && e->dir == 1);
	d = index_find_dir(ix, "link-dir");
	CHECK("find_dir through a symlink", d && strcmp(d->path, "dir1") == 0);
	d = index_find_dir(ix, "link-dir/sub");
	CHECK("find_dir below a symlink", d && strcmp(d->path, "dir1/sub") == 0);
	e = index_lookup(ix, "link-dir/x.bin");
	CHECK("lookup through a symlink", e && e->size == 1000);
	d = index_find_dir(ix, "link-loop/link-loop/link-loop/dir1");
	CHECK("a symlink loop is an alias, not a walk", d && strcmp(d->path, "dir1") == 0);
	CHECK("link-loop is the root", index_find_dir(ix, "link-loop") == &ix->dirs[0]);
	CHECK("link-out absent", index_lookup(ix, "link-out") == NULL);
	CHECK("link-up-out absent", index_lookup(ix, "dir1/link-up-out") == NULL);
	CHECK("dangling absent", index_lookup(ix, "link-dangling") == NULL);
	CHECK("symlink to a hidden dir absent", index_lookup(ix, "link-hidden-dir") == NULL);
	/* hidden, special, unnameable */
	CHECK(".hidden absent", index_lookup(ix, ".hidden") == NULL);
	CHECK(".git absent", index_lookup(ix, ".git") == NULL);
	CHECK(".git dir absent", index_find_dir(ix, ".git") == NULL);
	CHECK("fifo absent", index_lookup(ix, "fifo") == NULL);
	CHECK("name with newline absent", index_lookup(ix, "bad\nname") == NULL);
	CHECK("name with backslash absent", index_lookup(ix, "back\\slash") == NULL);
	/* misses */
	CHECK("root has no entry", index_lookup(ix, "") == NULL);
	CHECK("missing", index_lookup(ix, "nope") == NULL);
	CHECK("missing in dir", index_lookup(ix, "dir1/nope") == NULL);
	CHECK("missing below a file", index_lookup(ix, "a.txt/x") == NULL);
	CHECK("find_dir on a file", index_find_dir(ix, "a.txt") == NULL);
	CHECK("find_dir prefix", index_find_dir(ix, "dir") == NULL);
	CHECK("find_dir longer", index_find_dir(ix, "dir1x") == NULL);
	CHECK("lookup prefix", index_lookup(ix, "a.tx") == NULL);
	CHECK("lookup longer", index_lookup(ix, "a.txtx") == NULL);

	uint64_t mem = index_memory(ix);
	CHECK("index_memory counted", mem > ix->nentries * sizeof(struct index_entry));
	CHECK("index_memory bounded", mem < 4u << 20);
	CHECK("rootfd kept", ix->rootfd >= 0);
	{
		struct stat st;
		int fd = file_open(ix->rootfd, "dir1/x.bin", FILE_REG, &st);
		CHECK("open through the snapshot's rootfd", fd >= 0 && st.st_size == 1000);
		if (fd >= 0)
			close(fd);
	}
	index_release(ix);

	/* with dot-files */
	pathof(p, sizeof(p), "root");
	ix = index_build(p, 1);
	CHECK("index_build with dot-files", ix != NULL);
	if (!ix)
		return;
	check_sorted(ix);
	CHECK(".hidden present", index_lookup(ix, ".hidden") != NULL);
	CHECK(".git present", index_find_dir(ix, ".git") != NULL);
	e = index_lookup(ix, ".git/config");
	CHECK(".git/config present", e && e->size == 6);
	e = index_lookup(ix, "link-hidden-dir/config");
	CHECK("symlink to a dot-dir present with dot-files", e && e->size == 6);
	CHECK_INT("ndirs with dot-files", 5, ix->ndirs);
	CHECK_STR("dot-dir sorts first", ".git", ix->dirs[1].path);
	index_release(ix);

	/* failures */
	pathof(p, sizeof(p), "nonexistent");
	CHECK("build on a missing root", index_build(p, 0) == NULL);
	pathof(p, sizeof(p), "outside");
	CHECK("build on a file", index_build(p, 0) == NULL);
}

/* ---- the live index ---- */

static atomic_int published, published_badarg;
static atomic_ullong published_gen;

/* Runs on the index thread: only atomics here, checked by main. */
static void on_publish(struct index *ix, void *arg)
{
	if (arg != (void *)&published)
		atomic_store(&published_badarg, 1);
	atomic_store(&published_gen, ix->generation);
	atomic_fetch_add(&published, 1);
}

/* Poll until cond(rel) holds on the current snapshot; ms it took, or -1. */
static long wait_for(const char *rel, int want_present, uint64_t want_size)
{
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 400; i++) {
		struct index *ix = index_acquire();
		const struct index_entry *e = ix ? index_lookup(ix, rel) : NULL;
		int ok = want_present ? (e && (want_size == UINT64_MAX || e->size == want_size))
		                      : e == NULL;

		index_release(ix);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
		if (ok)
			return ms;
		if (ms > 2000)
			return -1;
		usleep(10000);
	}
	return -1;
}

static void check_within(const char *what, long ms)
{
	printf("# %s: %ld ms\n", what, ms);
	UNIT_REPORT(ms >= 0 && ms <= 2000, what, "expected within 2000 ms, got %ld", ms);
}

static void test_live(void)
{
	struct config *c = calloc(1, sizeof(*c));
	char a[600], b[600];
	struct index *first, *ix;
	uint64_t gen;

	if (!c)
		exit(2);
	/* the root is a symlink "current" -> snapA, swapped later */
	mkd("snapA");
	mk("snapA/keep.txt", 1);
	mk("snapA/b.txt", 2);
	mk("snapA/gone.txt", 3);
	mkd("snapB");
	mk("snapB/only-in-b.txt", 11);
	ln("snapA", "current");
	pathof(c->root, sizeof(c->root), "current");
	c->show_dotfiles = 0;
	c->index_rescan = 0;

	CHECK("index_acquire before start", index_acquire() == NULL);
	CHECK_INT("index_start", 0, index_start(c));
	index_on_publish(on_publish, &published);
	first = index_acquire();
	CHECK("first snapshot", first != NULL);
	if (!first) {
		free(c);
		return;
	}
	CHECK("first has keep.txt", index_lookup(first, "keep.txt") != NULL);
	gen = first->generation;

	mk("snapA/new.txt", 4);
	check_within("new file visible", wait_for("new.txt", 1, 4));

	/* replace by rename, as rsync does: a hidden temporary, then rename */
	mk("snapA/.b.txt.XXXXXX", 9);
	pathof(a, sizeof(a), "snapA/.b.txt.XXXXXX");
	pathof(b, sizeof(b), "snapA/b.txt");
	CHECK("rename", rename(a, b) == 0);
	check_within("replaced file visible", wait_for("b.txt", 1, 9));

	pathof(a, sizeof(a), "snapA/gone.txt");
	CHECK("unlink", unlink(a) == 0);
	check_within("deleted file gone", wait_for("gone.txt", 0, 0));

	mkd("snapA/newdir");
	mk("snapA/newdir/f.txt", 5);
	check_within("new directory with a file visible", wait_for("newdir/f.txt", 1, 5));

	/* an explicit rescan publishes a new generation even without change */
	ix = index_acquire();
	gen = ix ? ix->generation : 0;
	index_release(ix);
	index_request_rescan();
	{
		long ms = -1;
		for (int i = 0; i < 200; i++) {
			ix = index_acquire();
			uint64_t g = ix ? ix->generation : 0;
			index_release(ix);
			if (g > gen) {
				ms = i * 10;
				break;
			}
			usleep(10000);
		}
		check_within("index_request_rescan publishes", ms);
	}
	CHECK("publish callback called", atomic_load(&published) >= 5);
	CHECK("publish callback arg", atomic_load(&published_badarg) == 0);
	ix = index_acquire();
	CHECK("callback saw the current generation",
	      ix && atomic_load(&published_gen) == ix->generation);
	index_release(ix);

	/* swap the root symlink to another tree, atomically (rename) */
	ln("snapB", "current.tmp");
	pathof(a, sizeof(a), "current.tmp");
	pathof(b, sizeof(b), "current");
	CHECK("swap root", rename(a, b) == 0);
	check_within("swapped root visible", wait_for("only-in-b.txt", 1, 11));
	CHECK("old tree gone after the swap", wait_for("keep.txt", 0, 0) >= 0);
	ix = index_acquire();
	if (ix) {
		struct stat st;
		int fd = file_open(ix->rootfd, "only-in-b.txt", FILE_REG, &st);
		CHECK("new snapshot opens files in the new tree", fd >= 0);
		if (fd >= 0)
			close(fd);
	}
	index_release(ix);

	/* the first snapshot is immutable and still opens the old tree */
	CHECK("old snapshot unchanged",
	      index_lookup(first, "gone.txt") != NULL && index_lookup(first, "new.txt") == NULL);
	{
		struct stat st;
		int fd = file_open(first->rootfd, "keep.txt", FILE_REG, &st);
		CHECK("old snapshot opens files in the old tree", fd >= 0);
		if (fd >= 0)
			close(fd);
	}
	CHECK("generations increase", first->generation < atomic_load(&published_gen));
	index_release(first);
	index_stop();
	CHECK("index_acquire after stop", index_acquire() == NULL);

	/* the periodic rescan sees what inotify does not report: a file that
	 * grows while its writer keeps it open (no IN_CLOSE_WRITE) */
	{
		char p[600];
		int fd;

		pathof(c->root, sizeof(c->root), "snapA");
		c->index_rescan = 1;
		CHECK_INT("index_start with rescan", 0, index_start(c));
		pathof(p, sizeof(p), "snapA/growing.log");
		fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		CHECK("open growing.log", fd >= 0);
		check_within("created file visible", wait_for("growing.log", 1, 0));
		usleep(PM_INDEX_SETTLE_MS * 2000); /* let the create's rebuild pass */
		CHECK("append", fd >= 0 && write(fd, "0123456789", 10) == 10);
		/* the rescan is due within 1 s of the last build */
		check_within("growth seen by the periodic rescan", wait_for("growing.log", 1, 10));
		if (fd >= 0)
			close(fd);
		/* a reload that turns on dot-files and moves the root */
		mk("snapA/.dotfile", 3);
		usleep(PM_INDEX_SETTLE_MS * 2000);
		CHECK("dot-file hidden", wait_for(".dotfile", 0, 0) >= 0);
		c->show_dotfiles = 1;
		CHECK_INT("index_reconfigure", 0, index_reconfigure(c));
		check_within("dot-file shown after reconfigure", wait_for(".dotfile", 1, 3));
		pathof(c->root, sizeof(c->root), "snapB");
		CHECK_INT("index_reconfigure to another root", 0, index_reconfigure(c));
		check_within("new root after reconfigure", wait_for("only-in-b.txt", 1, 11));
		pathof(c->root, sizeof(c->root), "nonexistent");
		CHECK_INT("index_reconfigure to a missing root", 0, index_reconfigure(c));
		usleep(PM_INDEX_SETTLE_MS * 3000);
		CHECK("missing root keeps the last good snapshot",
		      wait_for("only-in-b.txt", 1, 11) == 0);
		index_stop();
		c->index_rescan = 0;
		c->show_dotfiles = 0;
	}

	/* index_start fails clearly on a missing root and on a file */
	pathof(c->root, sizeof(c->root), "nonexistent");
	CHECK_INT("index_start on a missing root", -1, index_start(c));
	pathof(c->root, sizeof(c->root), "outside");
	CHECK_INT("index_start on a file", -1, index_start(c));
	free(c);
}

int main(void)
{
	alarm(60);
	build_tree();
	test_build();
	test_live();
	nftw(top, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return unit_done();
}
