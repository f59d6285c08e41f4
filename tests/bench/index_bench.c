/* index_bench.c - how long index_build takes and how much memory a snapshot
 * holds, per entry, on a tree of N empty files.
 *
 *   cc -std=c11 -D_GNU_SOURCE -O2 -Idaemon -o build/index_bench \
 *       tests/bench/index_bench.c build/libpm.a -lpthread
 *   build/index_bench [DIR [N]]      (default /tmp/pm-index-bench 1000000)
 *
 * The tree (DIR/dNNNN/fNNNN, 1000 files per directory) is created on the
 * first run and reused while DIR/.complete-N exists.  Prints the median of
 * three builds, index_memory per entry and the growth of the resident set
 * while one snapshot is held.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "index.h"

#define PER_DIR 1000

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(void)
{
	char buf[4096];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(buf, sizeof(buf), f))
		if (strncmp(buf, "VmRSS:", 6) == 0)
			kib = strtol(buf + 6, NULL, 10);
	fclose(f);
	return kib;
}

static int make_tree(const char *dir, unsigned long n)
{
	char name[64];
	int top;
	double t0 = now_s();

	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		perror(dir);
		return -1;
	}
	top = open(dir, O_RDONLY | O_DIRECTORY);
	if (top < 0) {
		perror(dir);
		return -1;
	}
	snprintf(name, sizeof(name), ".complete-%lu", n);
	if (faccessat(top, name, F_OK, 0) == 0) {
		close(top);
		return 0;
	}
	printf("creating %lu entries under %s ...\n", n, dir);
	fflush(stdout);
	for (unsigned long d = 0; d * PER_DIR < n; d++) {
		char dn[32];
		int dfd;
		unsigned long files = n - d * PER_DIR;

		/* the directory itself is an entry too */
		files = files > PER_DIR ? PER_DIR - 1 : files - 1;
		snprintf(dn, sizeof(dn), "d%05lu", d);
		if (mkdirat(top, dn, 0755) < 0 && errno != EEXIST) {
			perror(dn);
			return -1;
		}
		dfd = openat(top, dn, O_RDONLY | O_DIRECTORY);
		if (dfd < 0) {
			perror(dn);
			return -1;
		}
		for (unsigned long i = 0; i < files; i++) {
			char fn[32];
			int fd;

			snprintf(fn, sizeof(fn), "f%05lu", i);
			fd = openat(dfd, fn, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
			if (fd < 0) {
				perror(fn);
				return -1;
			}
			close(fd);
		}
		close(dfd);
	}
	int fd = openat(top, name, O_WRONLY | O_CREAT, 0644);
	if (fd >= 0)
		close(fd);
	close(top);
	printf("created in %.1f s\n", now_s() - t0);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp/pm-index-bench";
	unsigned long n = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000000;
	double t[3];
	long rss0, rss1;
	struct index *keep = NULL;

	if (n < 2 || make_tree(dir, n) < 0)
		return 1;
	rss0 = rss_kib();
	for (int i = 0; i < 3; i++) {
		double t0 = now_s();
		struct index *ix = index_build(dir, 0);

		t[i] = now_s() - t0;
		if (!ix) {
			perror("index_build");
			return 1;
		}
		if (i == 0) {
			keep = ix;
			rss1 = rss_kib();
		} else {
			index_release(ix);
		}
	}
	qsort(t, 3, sizeof(t[0]), cmp_double);
	uint64_t mem = index_memory(keep);
	printf("entries            %" PRIu64 " in %u directories\n", keep->nentries, keep->ndirs);
	printf("index_build        median %.3f s (min %.3f, max %.3f), %.0f ns/entry\n", t[1],
	       t[0], t[2], t[1] * 1e9 / (double)keep->nentries);
	printf("index_memory       %.1f MiB, %.1f bytes/entry\n", (double)mem / 1048576.0,
	       (double)mem / (double)keep->nentries);
	printf("RSS growth         %.1f MiB, %.1f bytes/entry (one snapshot held)\n",
	       (double)(rss1 - rss0) / 1024.0,
	       (double)(rss1 - rss0) * 1024.0 / (double)keep->nentries);
	index_release(keep);
	return 0;
}
