/* test_ftp_hash.c - the digests behind FTP HASH: known answers for every
 * algorithm, ranges, algorithm names, and the (path, size, mtime) cache
 * key (a changed file under the same name is hashed again). */
#include <stdlib.h>
#include <unistd.h>

#include "unit.h"
#include "hash.h"

int main(void)
{
	char path[] = "/tmp/pm-hash-XXXXXX";
	int fd = mkstemp(path);
	char hex[160];

	CHECK("mkstemp", fd >= 0);
	CHECK_INT("write", 3, write(fd, "abc", 3));
	static const struct {
		int algo;
		const char *want;
	} kat[] = {
	    {HASH_SHA256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	    {HASH_SHA1, "a9993e364706816aba3e25717850c26c9cd0d89d"},
	    {HASH_MD5, "900150983cd24fb0d6963f7d28e17f72"},
	    {HASH_SHA512, "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
	                  "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"},
	};
	for (size_t i = 0; i < sizeof(kat) / sizeof(kat[0]); i++) {
		CHECK_INT(hash_algo_name(kat[i].algo), 0,
		          hash_file(fd, "f", 3, 100, kat[i].algo, 0, 3, hex, sizeof(hex)));
		CHECK_STR(hash_algo_name(kat[i].algo), kat[i].want, hex);
	}
	/* range: bytes [1, 3) = "bc" */
	CHECK_INT("range", 0, hash_file(fd, "f", 3, 100, HASH_MD5, 1, 2, hex, sizeof(hex)));
	CHECK_STR("md5(bc)", "5360af35bde9ebd8f01f492dc059593c", hex);
	/* same key from the cache even though the file changed under it... */
	CHECK_INT("rewrite", 3, pwrite(fd, "xyz", 3, 0));
	CHECK_INT("cached", 0, hash_file(fd, "f", 3, 100, HASH_MD5, 0, 3, hex, sizeof(hex)));
	CHECK_STR("cache hit keeps the digest", "900150983cd24fb0d6963f7d28e17f72", hex);
	/* ...and a new mtime is a new key */
	CHECK_INT("new mtime", 0, hash_file(fd, "f", 3, 101, HASH_MD5, 0, 3, hex, sizeof(hex)));
	CHECK_STR("md5(xyz)", "d16fb36f0911f878998c136191af705e", hex);
	/* a range past the end fails (the file is shorter than claimed) */
	CHECK_INT("short file", -1, hash_file(fd, "g", 10, 1, HASH_MD5, 0, 10, hex, sizeof(hex)));
	CHECK_INT("hex buffer too small", -1, hash_file(fd, "h", 3, 1, HASH_SHA512, 0, 3, hex, 20));
	CHECK_INT("parse SHA-256", HASH_SHA256, hash_algo_parse("sha-256"));
	CHECK_INT("parse SHA512", HASH_SHA512, hash_algo_parse("SHA512"));
	CHECK_INT("parse md5", HASH_MD5, hash_algo_parse("md5"));
	CHECK_INT("parse unknown", -1, hash_algo_parse("CRC32"));
	close(fd);
	unlink(path);
	return unit_done();
}
