/* test_ftp_hash.c - the digests behind FTP HASH: known answers for every
 * algorithm, ranges, algorithm names, and the (path, size, mtime) cache
 * key (a changed file under the same name is hashed again), and the stop
 * flag that ends a digest nobody waits for. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"
#include "hash.h"

/* A digest of a big sparse file, stopped from another thread while it runs. */
struct stopper {
	atomic_int stop;
	atomic_int started;
};

static void *stopper_main(void *arg)
{
	struct stopper *st = arg;
	struct timespec ts = {0, 50 * 1000 * 1000};
	nanosleep(&ts, NULL);
	atomic_store(&st->stop, 1);
	return NULL;
}

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_stop(void)
{
	char path[] = "/tmp/pm-hash-big-XXXXXX";
	int fd = mkstemp(path);
	char hex[160];
	/* 64 GiB of holes: hours of SHA-512, so only the flag ends it early */
	const uint64_t big = (uint64_t)64 << 30;

	CHECK("mkstemp big", fd >= 0);
	CHECK_INT("sparse file", 0, ftruncate(fd, (off_t)big));
	/* set before the start: nothing is read */
	atomic_int stopped = 1;
	memset(hex, 0, sizeof(hex));
	CHECK_INT("stopped before the start", -1,
	          hash_file(fd, "big", big, 1, HASH_SHA512, 0, big, hex, sizeof(hex), &stopped));
	CHECK_STR("no digest", "", hex);
	/* set while running: ends within a block */
	struct stopper st = {0};
	pthread_t th;
	double t0 = mono();
	CHECK_INT("stopper thread", 0, pthread_create(&th, NULL, stopper_main, &st));
	CHECK_INT("stopped while running", -1,
	          hash_file(fd, "big", big, 1, HASH_SHA512, 0, big, hex, sizeof(hex), &st.stop));
	double spent = mono() - t0;
	pthread_join(th, NULL);
	CHECK("stopped within seconds, not after 64 GiB", spent < 30.0);
	/* a stopped digest is not cached: a flag that stays 0 gives a digest */
	atomic_int never = 0;
	CHECK_INT("small range, flag clear", 0,
	          hash_file(fd, "big", big, 1, HASH_MD5, 0, 3, hex, sizeof(hex), &never));
	CHECK_STR("md5 of three zero bytes", "693e9af84d3dfcc71e640e005bdc5e2e", hex);
	close(fd);
	unlink(path);
}

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
		          hash_file(fd, "f", 3, 100, kat[i].algo, 0, 3, hex, sizeof(hex), NULL));
		CHECK_STR(hash_algo_name(kat[i].algo), kat[i].want, hex);
	}
	/* range: bytes [1, 3) = "bc" */
	CHECK_INT("range", 0, hash_file(fd, "f", 3, 100, HASH_MD5, 1, 2, hex, sizeof(hex), NULL));
	CHECK_STR("md5(bc)", "5360af35bde9ebd8f01f492dc059593c", hex);
	/* same key from the cache even though the file changed under it... */
	CHECK_INT("rewrite", 3, pwrite(fd, "xyz", 3, 0));
	CHECK_INT("cached", 0, hash_file(fd, "f", 3, 100, HASH_MD5, 0, 3, hex, sizeof(hex), NULL));
	CHECK_STR("cache hit keeps the digest", "900150983cd24fb0d6963f7d28e17f72", hex);
	/* ...and a new mtime is a new key */
	CHECK_INT("new mtime", 0,
	          hash_file(fd, "f", 3, 101, HASH_MD5, 0, 3, hex, sizeof(hex), NULL));
	CHECK_STR("md5(xyz)", "d16fb36f0911f878998c136191af705e", hex);
	/* a range past the end fails (the file is shorter than claimed) */
	CHECK_INT("short file", -1,
	          hash_file(fd, "g", 10, 1, HASH_MD5, 0, 10, hex, sizeof(hex), NULL));
	CHECK_INT("hex buffer too small", -1,
	          hash_file(fd, "h", 3, 1, HASH_SHA512, 0, 3, hex, 20, NULL));
	CHECK_INT("parse SHA-256", HASH_SHA256, hash_algo_parse("sha-256"));
	CHECK_INT("parse SHA512", HASH_SHA512, hash_algo_parse("SHA512"));
	CHECK_INT("parse md5", HASH_MD5, hash_algo_parse("md5"));
	CHECK_INT("parse unknown", -1, hash_algo_parse("CRC32"));
	close(fd);
	unlink(path);
	test_stop();
	return unit_done();
}
