/* test_lslr.c - ls-lR text of a real tree (exact lines), a valid gzip
 * stream of the same text, and the live blob following index changes. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"
#include "compress.h"
#include "config.h"
#include "index.h"
#include "lslr.h"

static char top[256];

static void pathof(char *p, size_t n, const char *rel)
{
	snprintf(p, n, "%s/%s", top, rel);
}

static void mk(const char *rel, size_t size, time_t mtime)
{
	char p[600];
	pathof(p, sizeof(p), rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || (size && ftruncate(fd, (off_t)size) != 0))
		exit(2);
	close(fd);
	struct timespec ts[2] = {{mtime, 0}, {mtime, 0}};
	if (utimensat(AT_FDCWD, p, ts, 0) != 0)
		exit(2);
}

static void mkd(const char *rel, time_t mtime)
{
	char p[600];
	pathof(p, sizeof(p), rel);
	if (mkdir(p, 0755) != 0 && errno != EEXIST)
		exit(2);
	struct timespec ts[2] = {{mtime, 0}, {mtime, 0}};
	utimensat(AT_FDCWD, p, ts, 0);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

/* Independent checks of the gzip framing: a bitwise CRC-32 and Adler-32. */
static uint32_t crc_bitwise(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
	}
	return ~c;
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Inflate a gzip member (zlib checks its CRC and length too); 0 or -1. */
static int gunzip(struct buf *out, const unsigned char *gz, size_t n)
{
	if (n < 18 || gz[0] != 0x1f || gz[1] != 0x8b || gz[2] != 8 || gz[3] != 0)
		return -1;
	if (compress_inflate(out, gz, n) != 0)
		return -1;
	if (le32(gz + n - 8) != crc_bitwise((const unsigned char *)out->data, out->len) ||
	    le32(gz + n - 4) != (uint32_t)out->len)
		return -1;
	return 0;
}

static const char *const expected =
    ".:\n"
    "total 9\n"
    "-r--r--r--   1 ftp      ftp                10 Sep  9  2001 a.txt\n"
    "dr-xr-xr-x   2 ftp      ftp              4096 Sep  9  2001 pub\n"
    "dr-xr-xr-x   2 ftp      ftp              4096 Sep  9  2001 pub-x\n"
    "\n"
    "./pub:\n"
    "total 7\n"
    "-r--r--r--   1 ftp      ftp              2049 Sep  9  2001 big file.bin\n"
    "dr-xr-xr-x   2 ftp      ftp              4096 Sep  9  2001 sub\n"
    "\n"
    "./pub/sub:\n"
    "total 1\n"
    "-r--r--r--   1 ftp      ftp                 1 Sep  9  2001 deep:colon.txt\n"
    "\n"
    "./pub-x:\n"
    "total 0\n";

static void test_render(void)
{
	const time_t t = 1000000000; /* 2001-09-09, older than six months */
	char root[600];
	struct buf text, gz, back;

	mkd("r", t);
	mk("r/a.txt", 10, t);
	mkd("r/pub-x", t);
	mkd("r/pub", t);
	mk("r/pub/big file.bin", 2049, t);
	mkd("r/pub/sub", t);
	mk("r/pub/sub/deep:colon.txt", 1, t);
	mkd("r/pub/sub", t);
	mkd("r/pub", t);
	mkd("r/pub-x", t);
	pathof(root, sizeof(root), "r");
	struct index *ix = index_build(root, 0);
	CHECK("index built", ix != NULL);
	if (ix == NULL)
		return;
	/* Directory sizes vary by file system: make the expectation match. */
	buf_init(&text, 0);
	CHECK_INT("render", 0, lslr_render(&text, ix, time(NULL)));
	struct buf want;
	buf_init(&want, 0);
	const struct index_entry *pe = index_lookup(ix, "pub");
	char dsz[32];
	snprintf(dsz, sizeof(dsz), "%12llu", (unsigned long long)(pe ? pe->size : 0));
	for (const char *p = expected; *p;) {
		const char *hit = strstr(p, "        4096");
		if (hit == NULL) {
			buf_puts(&want, p);
			break;
		}
		buf_append(&want, p, (size_t)(hit - p));
		buf_puts(&want, dsz);
		p = hit + 12;
	}
	CHECK_STR("ls -lR text, depth first, name order", want.data, text.data);

	buf_init(&gz, 0);
	CHECK_INT("gzip", 0, lslr_gzip(&gz, ix, time(NULL)));
	buf_init(&back, 0);
	CHECK_INT("gzip stream inflates with matching CRC and length", 0,
	          gunzip(&back, (const unsigned char *)gz.data, gz.len));
	CHECK_STR("gzip holds the same text", text.data, back.data);
	CHECK_INT("gzip mtime is the snapshot's", (long long)ix->built,
	          (long long)le32((const unsigned char *)gz.data + 4));

	/* A capped buffer fails and stays as it was. */
	struct buf small;
	buf_init(&small, 20);
	CHECK_INT("cap refused", -1, lslr_render(&small, ix, time(NULL)));
	CHECK_INT("nothing left behind", 0, (int)small.len);
	buf_free(&small);
	buf_free(&want);
	buf_free(&text);
	buf_free(&gz);
	buf_free(&back);
	index_release(ix);
}

/* A directory reached through a symlink is listed, never entered twice. */
static void test_symlink_dir(void)
{
	const time_t t = 1000000000;
	char root[600], p[600];
	struct buf text;

	mkd("s", t);
	mkd("s/real", t);
	mk("s/real/f", 1, t);
	pathof(p, sizeof(p), "s/alias");
	if (symlink("real", p) != 0)
		exit(2);
	pathof(root, sizeof(root), "s");
	struct index *ix = index_build(root, 0);
	CHECK("index built", ix != NULL);
	if (ix == NULL)
		return;
	buf_init(&text, 0);
	CHECK_INT("render", 0, lslr_render(&text, ix, time(NULL)));
	CHECK("alias listed", strstr(text.data, " alias\n") != NULL);
	CHECK("real entered", strstr(text.data, "\n./real:\n") != NULL);
	CHECK("alias not entered", strstr(text.data, "./alias:") == NULL);
	buf_free(&text);
	index_release(ix);
}

static struct lslr_blob *wait_gen(uint64_t after, int ms)
{
	for (int i = 0; i < ms / 20; i++) {
		struct lslr_blob *b = lslr_acquire();
		if (b && b->generation > after)
			return b;
		lslr_release(b);
		usleep(20000);
	}
	return NULL;
}

static void test_live(void)
{
	const time_t t = 1000000000;
	struct config *c = calloc(1, sizeof(*c));
	struct stat st;

	if (c == NULL)
		exit(2);
	mkd("live", t);
	mk("live/one", 1, t);
	pathof(c->root, sizeof(c->root), "live");
	CHECK_INT("index_start", 0, index_start(c));
	CHECK_INT("lslr_start", 0, lslr_start());
	struct lslr_blob *b = lslr_acquire();
	CHECK("first blob built at start", b != NULL);
	if (b == NULL)
		goto out;
	struct index *ix = index_acquire();
	CHECK_INT("blob describes the snapshot", (long long)ix->generation,
	          (long long)b->generation);
	struct index_entry ve;
	const struct index_entry *e = lslr_entry(ix, &ve);
	CHECK("virtual entry at the root",
	      e != NULL && e->size == b->len && strcmp(e->name, "ls-lR.gz") == 0);
	CHECK("ls-lR.gz is virtual", lslr_is_virtual(ix, "ls-lR.gz"));
	CHECK("other names are not", !lslr_is_virtual(ix, "pub/ls-lR.gz"));
	index_release(ix);

	int fd = lslr_open(&st);
	if (fd >= 0) {
		unsigned char head[2];
		CHECK_INT("memfd size", (long long)b->len, (long long)st.st_size);
		CHECK("memfd holds the bytes",
		      pread(fd, head, 2, 0) == 2 && head[0] == 0x1f && head[1] == 0x8b);
		CHECK("memfd is sealed", write(fd, "x", 1) < 0);
	} else {
		CHECK("lslr_open fails only for want of memory files", errno == ENOSYS);
	}

	/* A change in the tree makes a new blob; the old one stays readable. */
	uint64_t g = b->generation;
	mk("live/two-with-a-long-name", 5, t);
	struct lslr_blob *nb = wait_gen(g, 5000);
	CHECK("new blob after a change", nb != NULL);
	if (nb) {
		struct buf back;
		buf_init(&back, 0);
		gunzip(&back, nb->data, nb->len);
		CHECK("new file in the new ls-lR",
		      back.data && strstr(back.data, " two-with-a-long-name\n"));
		buf_free(&back);
		lslr_release(nb);
	}
	CHECK("old blob still intact", b->data[0] == 0x1f && b->len > 18);
	if (fd >= 0) {
		unsigned char head[2];
		CHECK("old descriptor still reads", pread(fd, head, 2, 0) == 2 && head[0] == 0x1f);
		close(fd);
	}
	lslr_release(b);

	/* A real ls-lR.gz in the tree wins over the virtual one. */
	mk("live/ls-lR.gz", 3, t);
	for (int i = 0; i < 250; i++) {
		ix = index_acquire();
		int own = index_lookup(ix, "ls-lR.gz") != NULL;
		if (own) {
			CHECK("tree's own ls-lR.gz: no virtual entry", lslr_entry(ix, &ve) == NULL);
			CHECK("tree's own ls-lR.gz: not virtual", !lslr_is_virtual(ix, "ls-lR.gz"));
		}
		index_release(ix);
		if (own)
			break;
		usleep(20000);
	}
out:
	lslr_stop();
	index_stop();
	free(c);
}

int main(void)
{
	snprintf(top, sizeof(top), "%s/pm-test-lslr.XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(top))
		return 2;
	test_render();
	test_symlink_dir();
	test_live();
	nftw(top, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return unit_done();
}
