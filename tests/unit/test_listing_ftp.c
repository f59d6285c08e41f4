/* test_listing_ftp.c - the FTP listing forms: ls -l lines (mode strings,
 * exact sizes, recent vs old dates in UTC) and MLSx facts, and refusal of
 * names holding CR/LF. */
#include <string.h>
#include <time.h>

#include "unit.h"
#include "listing.h"

static struct index_entry mk(const char *name, int type, uint64_t size, int64_t mtime)
{
	struct index_entry e;

	memset(&e, 0, sizeof(e));
	e.name = name;
	e.namelen = (uint16_t)strlen(name);
	e.type = (uint8_t)type;
	e.size = size;
	e.mtime = mtime;
	e.ino = 0x1234;
	e.dev = 0x42;
	e.dir = UINT32_MAX;
	return e;
}

int main(void)
{
	static const struct {
		const char *name;
		int type;
		uint64_t size;
		int64_t mtime;
		time_t now;
		const char *want;
	} ls[] = {
	    /* 2024-03-05 07:08:09 UTC, listed a day later: time form */
	    {"file.txt", INDEX_FILE, 1234, 1709622489, 1709622489 + 86400,
	     "-r--r--r--   1 ftp      ftp              1234 Mar  5 07:08 file.txt\r\n"},
	    /* a year later: year form */
	    {"old.tar.gz", INDEX_FILE, 5000000000ull, 1709622489, 1709622489 + 366 * 86400,
	     "-r--r--r--   1 ftp      ftp        5000000000 Mar  5  2024 old.tar.gz\r\n"},
	    {"pub", INDEX_DIR, 4096, 1709622489, 1709622489,
	     "dr-xr-xr-x   2 ftp      ftp              4096 Mar  5 07:08 pub\r\n"},
	    /* far in the future: year form */
	    {"future", INDEX_FILE, 0, 1709622489 + 86400 * 30, 1709622489,
	     "-r--r--r--   1 ftp      ftp                 0 Apr  4  2024 future\r\n"},
	    {"\xc3\x9c"
	     "bersicht und Notizen.txt",
	     INDEX_FILE, 7, 1709622489, 1709622489,
	     "-r--r--r--   1 ftp      ftp                 7 Mar  5 07:08 "
	     "\xc3\x9c"
	     "bersicht und Notizen.txt\r\n"},
	};
	for (size_t i = 0; i < sizeof(ls) / sizeof(ls[0]); i++) {
		struct buf b;
		buf_init(&b, 0);
		struct index_entry e = mk(ls[i].name, ls[i].type, ls[i].size, ls[i].mtime);
		CHECK_INT(ls[i].name, 0, listing_ls_line(&b, &e, ls[i].now));
		CHECK_STR(ls[i].name, ls[i].want, b.data);
		buf_free(&b);
	}

	struct buf b;
	buf_init(&b, 0);
	buf_puts(&b, "keep:");
	struct index_entry bad = mk("evil\r\n226 done", INDEX_FILE, 1, 0);
	CHECK_INT("CR/LF name refused by ls", -1, listing_ls_line(&b, &bad, 0));
	CHECK_INT("CR/LF name refused by MLSx", -1, listing_mlsx_facts(&b, &bad, NULL));
	CHECK_STR("buffer unchanged after refusal", "keep:", b.data);
	buf_free(&b);

	buf_init(&b, 0);
	struct index_entry f = mk("a;b c", INDEX_FILE, 99, 1709622489);
	CHECK_INT("mlsx file", 0, listing_mlsx_facts(&b, &f, NULL));
	CHECK_STR("mlsx file facts",
	          "type=file;size=99;modify=20240305070809;perm=r;unique=42U1234; a;b c", b.data);
	buf_reset(&b);
	struct index_entry d = mk("dir", INDEX_DIR, 4096, 0);
	CHECK_INT("mlsx dir", 0, listing_mlsx_facts(&b, &d, NULL));
	CHECK_STR("mlsx dir facts",
	          "type=dir;size=4096;modify=19700101000000;perm=el;unique=42U1234; dir", b.data);
	buf_reset(&b);
	CHECK_INT("mlsx override", 0, listing_mlsx_facts(&b, &d, "cdir"));
	CHECK("type override", strncmp(b.data, "type=cdir;", 10) == 0);
	buf_free(&b);

	/* a capped buffer: the line does not fit and nothing is half-written */
	buf_init(&b, 16);
	struct index_entry g = mk("name", INDEX_FILE, 1, 0);
	CHECK_INT("cap refuses", -1, listing_ls_line(&b, &g, 0));
	CHECK_INT("cap leaves the buffer empty", 0, (long long)b.len);
	buf_free(&b);
	return unit_done();
}
