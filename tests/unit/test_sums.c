/* test_sums.c - checksum-file parsing (both formats, hostile lines), the
 * per-directory cache following file changes, and the background hasher
 * behind Repr-Digest. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"
#include "buf.h"
#include "config.h"
#include "index.h"
#include "sums.h"

#define H_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define H_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define H_UPPER "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"

static char top[256];

struct got {
	int n;
	char names[16][64];
	char hex[16][65];
};

static int collect(void *arg, const char *name, size_t namelen, const char *hex)
{
	struct got *g = arg;
	if (g->n < 16 && namelen < 64) {
		memcpy(g->names[g->n], name, namelen + 1);
		memcpy(g->hex[g->n], hex, 65);
		g->n++;
	}
	return 0;
}

static void test_parse(void)
{
	static const struct {
		const char *line;
		const char *name; /* NULL: skipped */
	} cases[] = {
	    {H_ABC "  hello-2.12.tar.gz", "hello-2.12.tar.gz"},
	    {H_ABC " *binary.iso", "binary.iso"},
	    {H_UPPER "  upper.txt", "upper.txt"},
	    {H_ABC "  name with  spaces", "name with  spaces"},
	    {H_ABC "  ./dotslash", "dotslash"},
	    {"\\" H_ABC "  back\\\\slash", "back\\slash"},
	    {"SHA256 (bsd.tar.gz) = " H_ABC, "bsd.tar.gz"},
	    {"SHA256 (odd) = name) = " H_ABC, "odd) = name"},
	    {"SHA512 (x) = " H_ABC, NULL},
	    {H_ABC "00  longer-digest", NULL},
	    {H_ABC " x", NULL}, /* one space, no mode char */
	    {H_ABC "  ", NULL}, /* no name */
	    {"zz" H_ABC "  bad-hex", NULL},
	    {"# comment", NULL},
	    {"", NULL},
	    {"\\" H_ABC "  bad\\escape", NULL},
	    {"SHA256 () = " H_ABC, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct got g;
		char what[128];
		memset(&g, 0, sizeof(g));
		int n = sums_parse(cases[i].line, strlen(cases[i].line), collect, &g);
		snprintf(what, sizeof(what), "parse case %zu", i);
		if (cases[i].name == NULL) {
			CHECK_INT(what, 0, n);
		} else {
			CHECK_INT(what, 1, n);
			CHECK_STR(what, cases[i].name, g.names[0]);
			CHECK_STR(what, H_ABC, g.hex[0]);
		}
	}
	/* A whole file with CRLF ends, junk and an unterminated last line. */
	const char *text = H_ABC "  a\r\n"
	                         "garbage line\n" H_EMPTY "  b\n"
	                         "SHA256 (c) = " H_ABC;
	struct got g;
	memset(&g, 0, sizeof(g));
	CHECK_INT("three entries", 3, sums_parse(text, strlen(text), collect, &g));
	CHECK_STR("CRLF stripped", "a", g.names[0]);
	CHECK_STR("second", "b", g.names[1]);
	CHECK_STR("second hex", H_EMPTY, g.hex[1]);
	CHECK_STR("last line without newline", "c", g.names[2]);
	/* An over-long line is skipped, the next one still read. */
	struct buf big;
	buf_init(&big, 0);
	buf_puts(&big, H_ABC "  ");
	for (int i = 0; i < SUMS_LINE_MAX; i++)
		buf_puts(&big, "x");
	buf_puts(&big, "\n" H_ABC "  after\n");
	memset(&g, 0, sizeof(g));
	CHECK_INT("over-long line skipped", 1, sums_parse(big.data, big.len, collect, &g));
	CHECK_STR("line after it read", "after", g.names[0]);
	buf_free(&big);
}

static void put(const char *rel, const char *content)
{
	char p[600];
	snprintf(p, sizeof(p), "%s/%s", top, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, content, strlen(content)) != (ssize_t)strlen(content))
		exit(2);
	close(fd);
}

static void mkd(const char *rel)
{
	char p[600];
	snprintf(p, sizeof(p), "%s/%s", top, rel);
	if (mkdir(p, 0755) != 0 && errno != EEXIST)
		exit(2);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

static void test_dir_cache(void)
{
	char root[600], hex[65];

	mkd("t");
	mkd("t/pub");
	put("t/pub/abc.txt", "abc");
	put("t/pub/SHA256SUMS", H_ABC "  abc.txt\n" H_EMPTY "  missing.txt\n" H_ABC "  sub/x\n");
	mkd("t/bsd");
	put("t/bsd/sha256sums.txt", "SHA256 (f) = " H_EMPTY "\n");
	mkd("t/none");
	put("t/none/f", "x");
	snprintf(root, sizeof(root), "%s/t", top);
	struct index *ix = index_build(root, 0);
	CHECK("index", ix != NULL);
	if (ix == NULL)
		return;
	ix->generation = 1;
	CHECK_INT("listed file found", 0, sums_lookup(ix, "pub", "abc.txt", hex));
	CHECK_STR("its hex", H_ABC, hex);
	CHECK_INT("entries for absent files kept", 0, sums_lookup(ix, "pub", "missing.txt", hex));
	CHECK_INT("another directory's entry ignored", -1, sums_lookup(ix, "pub", "sub/x", hex));
	CHECK_INT("unlisted", -1, sums_lookup(ix, "pub", "SHA256SUMS", hex));
	CHECK_INT("lowercase .txt name, BSD form", 0, sums_lookup(ix, "bsd", "f", hex));
	CHECK_STR("BSD hex", H_EMPTY, hex);
	CHECK_INT("directory without checksum file", -1, sums_lookup(ix, "none", "f", hex));
	CHECK_INT("absent directory", -1, sums_lookup(ix, "nope", "f", hex));
	struct sums_dir *sd = sums_dir_acquire(ix, "pub");
	CHECK("handle", sd != NULL);
	CHECK("handle finds", sums_dir_find(sd, "abc.txt") != NULL);
	index_release(ix);

	/* The file changes: a new snapshot sees the new content, the old
	 * handle keeps the old one. */
	put("t/pub/SHA256SUMS", H_EMPTY "  abc.txt\n");
	ix = index_build(root, 0);
	ix->generation = 2;
	CHECK_INT("changed file re-read", 0, sums_lookup(ix, "pub", "abc.txt", hex));
	CHECK_STR("new hex", H_EMPTY, hex);
	CHECK_STR("old handle unchanged", H_ABC, sums_dir_find(sd, "abc.txt"));
	sums_dir_release(sd);
	index_release(ix);
	sums_cache_clear();
}

static void test_hasher(void)
{
	struct config *c = calloc(1, sizeof(*c));
	char out[128], hex[65];

	if (c == NULL)
		exit(2);
	mkd("h");
	put("h/abc", "abc");
	put("h/empty", "");
	snprintf(c->root, sizeof(c->root), "%s/h", top);
	CHECK_INT("index_start", 0, index_start(c));
	CHECK_INT("sums_start", 0, sums_start());
	struct index *ix = index_acquire();
	CHECK("first pass done", sums_wait_pass(ix->generation, 10000));
	const struct index_entry *e = index_lookup(ix, "abc");
	CHECK_INT("Repr-Digest known", 0,
	          sums_repr_digest("abc", e->size, e->mtime, e->ino, out, sizeof(out)));
	CHECK_STR("Repr-Digest value (RFC 9530 form)",
	          "sha-256=:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=:", out);
	CHECK_INT("hex known", 0, sums_cached_hex("abc", e->size, e->mtime, e->ino, hex));
	CHECK_STR("hex", H_ABC, hex);
	CHECK_INT("other identity: unknown", -1,
	          sums_repr_digest("abc", e->size + 1, e->mtime, e->ino, out, sizeof(out)));
	e = index_lookup(ix, "empty");
	CHECK_INT("empty file", 0, sums_cached_hex("empty", e->size, e->mtime, e->ino, hex));
	CHECK_STR("empty hex", H_EMPTY, hex);
	CHECK_INT("short output refused", -1,
	          sums_repr_digest("empty", e->size, e->mtime, e->ino, out, 10));
	uint64_t g = ix->generation;
	int64_t em = e->mtime;
	uint64_t ei = e->ino;
	index_release(ix);

	/* A new file is hashed after the publish; a removed one forgotten. */
	put("h/new", "abc");
	char p[600];
	snprintf(p, sizeof(p), "%s/h/empty", top);
	unlink(p);
	const struct index_entry *ne = NULL;
	for (int i = 0; i < 250 && ne == NULL; i++) {
		usleep(20000);
		ix = index_acquire();
		ne = index_lookup(ix, "new");
		if (ne == NULL || index_lookup(ix, "empty") != NULL)
			ne = NULL;
		if (ne == NULL)
			index_release(ix);
	}
	CHECK("new snapshot", ne != NULL);
	if (ne) {
		CHECK("pass over it", ix->generation > g && sums_wait_pass(ix->generation, 10000));
		CHECK_INT("new file hashed", 0,
		          sums_cached_hex("new", ne->size, ne->mtime, ne->ino, hex));
		CHECK_STR("new hex", H_ABC, hex);
		CHECK_INT("removed file forgotten", -1, sums_cached_hex("empty", 0, em, ei, hex));
		index_release(ix);
	}
	sums_stop();
	index_stop();
	free(c);
}

int main(void)
{
	snprintf(top, sizeof(top), "%s/pm-test-sums.XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(top))
		return 2;
	test_parse();
	test_dir_cache();
	test_hasher();
	nftw(top, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return unit_done();
}
