/* test_ftp_worker.c - FTP's worker queues on their own (a loop and
 * sessions made by hand, no sockets): the per-address share of digests
 * (IPv4 address, IPv4 mapped into IPv6, IPv6 /64), password checks answered
 * while every digest thread is busy, a queued digest dropped at once and a
 * running one stopped when its session goes, and the share given back. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "unit.h"
#include "ftp_int.h"

/* 64 GiB of holes: minutes of SHA-512, so only a stop ends it early. */
#define BIG ((uint64_t)64 << 30)

static int big_fd;
static struct ftp_loop loop;
static int delivered_auth, delivered_hash, hash_ok;
static char hash_hex[160];

static struct ftp_sess *sess(const char *addr)
{
	struct ftp_sess *s = calloc(1, sizeof(*s));
	s->loop = &loop;
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&s->peer;
		v6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, addr, &v6->sin6_addr);
	} else {
		struct sockaddr_in *v4 = (struct sockaddr_in *)&s->peer;
		v4->sin_family = AF_INET;
		inet_pton(AF_INET, addr, &v4->sin_addr);
	}
	snprintf(s->peer_str, sizeof(s->peer_str), "%s", addr);
	return s;
}

static int submit(struct ftp_sess *s, const char *rel, uint64_t len, char *why, size_t whysz)
{
	int fd = dup(big_fd);
	int rc = ftp_hash_submit(s, fd, rel, BIG, 1, HASH_SHA512, 0, len, why, whysz);
	if (rc != 0)
		close(fd);
	return rc;
}

static void deliver(struct ftp_sess *s, const struct ftp_job_result *r)
{
	if (r->auth) {
		delivered_auth++;
		return;
	}
	delivered_hash++;
	hash_ok = r->ok;
	snprintf(hash_hex, sizeof(hash_hex), "%s", r->hex);
}

/* Run the loop's side until cond holds or 30 s pass. */
static int wait_for(const int *counter, int want)
{
	for (int i = 0; i < 300 && *counter < want; i++) {
		struct pollfd p = {.fd = loop.wakefd, .events = POLLIN};
		if (poll(&p, 1, 100) > 0) {
			uint64_t v;
			if (read(loop.wakefd, &v, sizeof(v)) < 0) {
				/* nothing pending */
			}
		}
		ftp_worker_done(&loop, deliver);
	}
	return *counter >= want;
}

int main(void)
{
	char path[] = "/tmp/pm-worker-XXXXXX";
	char why[160];

	big_fd = mkstemp(path);
	CHECK("mkstemp", big_fd >= 0);
	CHECK_INT("sparse file", 0, ftruncate(big_fd, (off_t)BIG));
	loop.wakefd = eventfd(0, EFD_NONBLOCK);
	pthread_mutex_init(&loop.done_lock, NULL);
	ftp_worker_start();

	/* two digests of one address run (both digest threads busy)... */
	struct ftp_sess *a1 = sess("10.0.0.1"), *a2 = sess("10.0.0.1"), *a3 = sess("10.0.0.1");
	CHECK_INT("10.0.0.1: first digest", 0, submit(a1, "a1", BIG, why, sizeof(why)));
	CHECK_INT("10.0.0.1: second digest", 0, submit(a2, "a2", BIG, why, sizeof(why)));
	CHECK("session holds its job", a1->hjob != NULL && a2->hjob != NULL);
	/* ...a third is refused, naming the limit */
	CHECK_INT("10.0.0.1: third digest refused", -1, submit(a3, "a3", BIG, why, sizeof(why)));
	CHECK("reason names the address and the limit",
	      strstr(why, "your address") && strstr(why, "limit is 2"));
	CHECK("refused: no job", a3->hjob == NULL);
	struct ftp_sess *m = sess("::ffff:10.0.0.1");
	CHECK_INT("the same address mapped into IPv6 shares the limit", -1,
	          submit(m, "m", BIG, why, sizeof(why)));
	/* other addresses queue behind them */
	struct ftp_sess *b = sess("10.0.0.2");
	CHECK_INT("10.0.0.2: queued", 0, submit(b, "b", BIG, why, sizeof(why)));
	struct ftp_sess *v1 = sess("2001:db8::1"), *v2 = sess("2001:db8::2");
	struct ftp_sess *v3 = sess("2001:db8::ffff:1"), *w = sess("2001:db8:0:1::1");
	CHECK_INT("2001:db8::1 queued", 0, submit(v1, "v1", BIG, why, sizeof(why)));
	CHECK_INT("2001:db8::2 (same /64) queued", 0, submit(v2, "v2", BIG, why, sizeof(why)));
	CHECK_INT("a third address of that /64 refused", -1,
	          submit(v3, "v3", BIG, why, sizeof(why)));
	CHECK_INT("another /64 queued", 0, submit(w, "w", BIG, why, sizeof(why)));

	/* a password check is answered while both digest threads are busy */
	struct ftp_sess *login = sess("10.0.0.9");
	CHECK_INT("password check queued", 0, ftp_auth_submit(login, "nobody", "pw", 2));
	CHECK("password check answered behind busy digests", wait_for(&delivered_auth, 1));
	CHECK_INT("no digest answered meanwhile", 0, delivered_hash);

	/* the sessions go: queued digests leave, running ones stop */
	struct ftp_sess *gone[] = {a1, a2, b, v1, v2, w};
	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++) {
		ftp_worker_cancel(gone[i]);
		CHECK("cancel: session holds no job", gone[i]->hjob == NULL);
	}
	/* a small digest asked now is answered: the threads are free again */
	struct ftp_sess *c = sess("10.0.0.3");
	CHECK_INT("small digest queued", 0, submit(c, "c", 3, why, sizeof(why)));
	CHECK("small digest answered (the abandoned ones stopped)", wait_for(&delivered_hash, 1));
	CHECK_INT("only the small digest answered", 1, delivered_hash);
	CHECK("small digest ok", hash_ok);
	CHECK_STR("sha-512 of three zero bytes",
	          "6d518f8b31d1882feace10a9215f5d8cf5afe037652a1d11d9c1408d988c2a4f"
	          "71a5edfc85d0712fa3f4e21b2c0a244c8c0d333bab454311e24067d2a83e5e59",
	          hash_hex);
	/* the address's share is back */
	CHECK_INT("10.0.0.1 may hash again", 0, submit(a3, "a3", 3, why, sizeof(why)));
	CHECK("that digest answered", wait_for(&delivered_hash, 2));

	ftp_worker_stop();
	ftp_worker_done(&loop, deliver);
	struct ftp_sess *all[] = {a1, a2, a3, m, b, v1, v2, v3, w, login, c};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		free(all[i]);
	close(loop.wakefd);
	pthread_mutex_destroy(&loop.done_lock);
	close(big_fd);
	unlink(path);
	return unit_done();
}
