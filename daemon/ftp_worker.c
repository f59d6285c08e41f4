/* ftp_worker.c - FTP's work that is too slow for an event loop, on worker
 * threads: password checks (PASS of an auth_file user: crypt can take tens
 * of milliseconds) and HASH digests (which may read gigabytes).
 *
 * SECURITY: the two kinds never share a queue or a thread: password checks
 * have their own, so no amount of anonymous hashing delays a login.
 * Digests are shared between clients: at most PM_HASH_PER_ADDR queued or
 * running per IPv4 address or IPv6 /64, and a digest nobody waits for any
 * more (its session is gone) leaves the queue at once or stops within one
 * block when it is already running.
 *
 * Threads: jobs are created and freed on the session's loop thread; a
 * worker owns a job between taking it from the queue and putting it on its
 * loop's done list.  A job's state and the queues are under the queue's
 * lock; the stop flag is atomic (read by hash_file between blocks).
 *
 * The results go back to the loop that owns the session, which delivers
 * them with the function it passes to ftp_worker_done: this module calls
 * nothing of the sessions (no cycle between it and the loop).
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "ftp_int.h"
#include "hash.h"
#include "log.h"

#define FTP_ADDR_KEY 9 /* family byte + IPv4 address or IPv6 /64 */
#define FTP_WORKERS_MAX                                                                            \
	(PM_FTP_AUTH_WORKERS > PM_FTP_HASH_WORKERS ? PM_FTP_AUTH_WORKERS : PM_FTP_HASH_WORKERS)

enum ftp_job_state { FTP_JOB_QUEUED, FTP_JOB_RUNNING, FTP_JOB_DONE };

struct ftp_queue {
	const char *name;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct ftp_hash_job *head, **tail;
	unsigned len, max;
	int stop;
	unsigned nworkers, nstarted, nslots;
	struct ftp_hash_job *running[FTP_WORKERS_MAX]; /* one slot per worker */
	pthread_t th[FTP_WORKERS_MAX];
};

/* A job: a digest (HASH) or a password check. */
struct ftp_hash_job {
	struct ftp_hash_job *next;
	struct ftp_queue *q;
	struct ftp_loop *loop;
	struct ftp_sess *sess; /* loop thread only; NULL when the session left */
	enum ftp_job_state state;
	atomic_int stop; /* nobody waits for the result: stop working */
	const char *why; /* why it was stopped (set before stop) */
	int auth;        /* 1: password check, 0: digest */
	unsigned char addr[FTP_ADDR_KEY];
	char peer[64];
	char user[PM_AUTH_USER_MAX + 1];
	char pass[PM_AUTH_PASS_MAX + 1];
	size_t passlen;
	int fd;
	char *rel;
	uint64_t size, off, len;
	int64_t mtime;
	int algo;
	int rc;
	char hex[160];
};

static struct ftp_queue ftp_q_auth = {
    .name = "password check",
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .cond = PTHREAD_COND_INITIALIZER,
    .tail = &ftp_q_auth.head,
    .max = PM_FTP_AUTH_QUEUE,
    .nworkers = PM_FTP_AUTH_WORKERS,
};
static struct ftp_queue ftp_q_hash = {
    .name = "digest",
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .cond = PTHREAD_COND_INITIALIZER,
    .tail = &ftp_q_hash.head,
    .max = PM_FTP_HASH_QUEUE,
    .nworkers = PM_FTP_HASH_WORKERS,
};

/* The share key of an address: an IPv4 address (also when mapped into
 * IPv6) or an IPv6 /64, which one host usually owns whole. */
static void ftp_job_addr_key(const struct sockaddr_storage *a, unsigned char key[FTP_ADDR_KEY])
{
	memset(key, 0, FTP_ADDR_KEY);
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *v4 = (const struct sockaddr_in *)a;
		key[0] = 4;
		memcpy(key + 1, &v4->sin_addr, 4);
	} else if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)a;
		if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
			key[0] = 4;
			memcpy(key + 1, v6->sin6_addr.s6_addr + 12, 4);
		} else {
			key[0] = 6;
			memcpy(key + 1, v6->sin6_addr.s6_addr, 8);
		}
	}
}

static void ftp_job_free(struct ftp_hash_job *j)
{
	if (j->fd >= 0)
		close(j->fd);
	explicit_bzero(j->pass, sizeof(j->pass));
	free(j->rel);
	free(j);
}

static void ftp_job_log_stopped(const struct ftp_hash_job *j, const char *when, const char *why)
{
	char esc[512];
	log_info("ftp: %s: HASH of /%s cancelled %s: %s", j->peer,
	         log_esc(esc, sizeof(esc), j->rel, strlen(j->rel)), when, why);
}

static void *ftp_worker_main(void *arg)
{
	struct ftp_queue *q = arg;

	pthread_mutex_lock(&q->lock);
	unsigned slot = q->nslots++; /* < nworkers: one per thread started */
	pthread_mutex_unlock(&q->lock);
	for (;;) {
		pthread_mutex_lock(&q->lock);
		while (q->head == NULL && !q->stop)
			pthread_cond_wait(&q->cond, &q->lock);
		if (q->head == NULL) {
			pthread_mutex_unlock(&q->lock);
			return NULL;
		}
		struct ftp_hash_job *j = q->head;
		q->head = j->next;
		if (q->head == NULL)
			q->tail = &q->head;
		q->len--;
		j->next = NULL;
		j->state = FTP_JOB_RUNNING;
		q->running[slot] = j;
		pthread_mutex_unlock(&q->lock);

		if (j->auth) {
			j->rc = auth_check(j->user, j->pass, j->passlen) ? 0 : -1;
			explicit_bzero(j->pass, sizeof(j->pass));
		} else {
			j->rc = hash_file(j->fd, j->rel, j->size, j->mtime, (enum hash_algo)j->algo,
			                  j->off, j->len, j->hex, sizeof(j->hex), &j->stop);
			if (j->rc != 0 && atomic_load(&j->stop))
				ftp_job_log_stopped(j, "while running", j->why);
		}

		pthread_mutex_lock(&q->lock);
		q->running[slot] = NULL;
		j->state = FTP_JOB_DONE;
		pthread_mutex_unlock(&q->lock);
		/* once on the done list the loop may free j at any moment */
		struct ftp_loop *l = j->loop;
		pthread_mutex_lock(&l->done_lock);
		j->next = l->done;
		l->done = j;
		pthread_mutex_unlock(&l->done_lock);
		uint64_t one = 1;
		if (write(l->wakefd, &one, sizeof(one)) < 0) {
			/* the counter is saturated: the loop is awake anyway */
		}
	}
}

/* Jobs of addr queued or running on q (under q->lock). */
static unsigned ftp_queue_count_addr(const struct ftp_queue *q, const unsigned char *addr)
{
	unsigned n = 0;

	for (const struct ftp_hash_job *j = q->head; j; j = j->next)
		n += memcmp(j->addr, addr, FTP_ADDR_KEY) == 0;
	for (unsigned i = 0; i < q->nworkers; i++)
		n += q->running[i] != NULL && memcmp(q->running[i]->addr, addr, FTP_ADDR_KEY) == 0;
	return n;
}

/* Queue j for s.  per_addr: the most jobs one address may have on q (0:
 * no share).  0, or -1 with the reason in why. */
static int ftp_job_enqueue(struct ftp_sess *s, struct ftp_queue *q, struct ftp_hash_job *j,
                           unsigned per_addr, char *why, size_t whysz)
{
	j->q = q;
	j->loop = s->loop;
	j->sess = s;
	j->state = FTP_JOB_QUEUED;
	ftp_job_addr_key(&s->peer, j->addr);
	snprintf(j->peer, sizeof(j->peer), "%s", s->peer_str);
	pthread_mutex_lock(&q->lock);
	if (q->nstarted == 0) {
		pthread_mutex_unlock(&q->lock);
		snprintf(why, whysz, "No %s thread is running; try again later", q->name);
		return -1;
	}
	if (q->len >= q->max) {
		pthread_mutex_unlock(&q->lock);
		snprintf(why, whysz,
		         "Too many %ss queued on the server (the limit is %u); try again later",
		         q->name, q->max);
		return -1;
	}
	/* SECURITY: one client (and its neighbours of the same /64) cannot
	 * hold every worker and the queue behind them. */
	if (per_addr != 0 && ftp_queue_count_addr(q, j->addr) >= per_addr) {
		pthread_mutex_unlock(&q->lock);
		snprintf(why, whysz,
		         "Too many %ss for your address (the limit is %u queued or running at "
		         "once); try again when one is answered",
		         q->name, per_addr);
		return -1;
	}
	*q->tail = j;
	q->tail = &j->next;
	q->len++;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
	s->hjob = j;
	return 0;
}

int ftp_auth_submit(struct ftp_sess *s, const char *user, const char *pass, size_t passlen)
{
	struct ftp_hash_job *j = calloc(1, sizeof(*j));
	char why[160];

	if (j == NULL || passlen > PM_AUTH_PASS_MAX)
		goto fail;
	j->auth = 1;
	j->fd = -1;
	snprintf(j->user, sizeof(j->user), "%s", user);
	memcpy(j->pass, pass, passlen);
	j->passlen = passlen;
	if (ftp_job_enqueue(s, &ftp_q_auth, j, 0, why, sizeof(why)) == 0)
		return 0;
	log_warn("ftp: %s: password check refused: %s", s->peer_str, why);
fail:
	if (j)
		ftp_job_free(j);
	return -1;
}

int ftp_hash_submit(struct ftp_sess *s, int fd, const char *rel, uint64_t size, int64_t mtime,
                    int algo, uint64_t off, uint64_t len, char *why, size_t whysz)
{
	struct ftp_hash_job *j = calloc(1, sizeof(*j));

	snprintf(why, whysz, "Out of memory; try again later");
	if (j == NULL || (j->rel = strdup(rel)) == NULL) {
		free(j);
		return -1;
	}
	j->fd = fd;
	j->size = size;
	j->mtime = mtime;
	j->algo = algo;
	j->off = off;
	j->len = len;
	if (ftp_job_enqueue(s, &ftp_q_hash, j, PM_HASH_PER_ADDR, why, whysz) != 0) {
		j->fd = -1; /* refused: fd stays the caller's */
		ftp_job_free(j);
		return -1;
	}
	return 0;
}

static void ftp_job_cancel(struct ftp_sess *s, const char *why)
{
	struct ftp_hash_job *j = s->hjob;

	if (j == NULL)
		return;
	s->hjob = NULL;
	j->sess = NULL; /* a result that still comes is dropped */
	struct ftp_queue *q = j->q;
	pthread_mutex_lock(&q->lock);
	if (j->state == FTP_JOB_QUEUED) {
		/* not started: it leaves the queue (and the address's share) now */
		struct ftp_hash_job **pp = &q->head;
		while (*pp != j)
			pp = &(*pp)->next;
		*pp = j->next;
		if (q->tail == &j->next)
			q->tail = pp;
		q->len--;
		pthread_mutex_unlock(&q->lock);
		if (!j->auth)
			ftp_job_log_stopped(j, "before it started", why);
		ftp_job_free(j);
		return;
	}
	j->why = why;
	atomic_store(&j->stop, 1); /* running: stops within one block */
	pthread_mutex_unlock(&q->lock);
}

void ftp_worker_cancel(struct ftp_sess *s)
{
	ftp_job_cancel(s, "the client left");
}

int ftp_worker_abort_digest(struct ftp_sess *s)
{
	if (s->hjob == NULL || s->hjob->auth)
		return 0;
	ftp_job_cancel(s, "the client sent ABOR");
	return 1;
}

void ftp_worker_done(struct ftp_loop *l, ftp_worker_deliver_fn deliver)
{
	pthread_mutex_lock(&l->done_lock);
	struct ftp_hash_job *j = l->done;
	l->done = NULL;
	pthread_mutex_unlock(&l->done_lock);
	while (j) {
		struct ftp_hash_job *next = j->next;
		struct ftp_sess *s = j->sess;
		if (s) {
			struct ftp_job_result r = {
			    .auth = j->auth,
			    .ok = j->rc == 0,
			    .algo = j->algo,
			    .off = j->off,
			    .len = j->len,
			    .rel = j->rel,
			    .hex = j->hex,
			};
			s->hjob = NULL;
			deliver(s, &r);
		}
		ftp_job_free(j);
		j = next;
	}
}

static void ftp_queue_start(struct ftp_queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->stop = 0;
	pthread_mutex_unlock(&q->lock);
	for (unsigned i = 0; i < q->nworkers; i++) {
		int err = pthread_create(&q->th[q->nstarted], NULL, ftp_worker_main, q);
		if (err != 0) {
			log_err("ftp: cannot start a %s thread: %s", q->name, strerror(err));
			continue;
		}
		pthread_mutex_lock(&q->lock);
		q->nstarted++;
		pthread_mutex_unlock(&q->lock);
	}
}

static void ftp_queue_stop(struct ftp_queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->stop = 1;
	pthread_cond_broadcast(&q->cond);
	unsigned n = q->nstarted;
	pthread_mutex_unlock(&q->lock);
	for (unsigned i = 0; i < n; i++)
		pthread_join(q->th[i], NULL);
	pthread_mutex_lock(&q->lock);
	q->nstarted = 0;
	q->nslots = 0;
	pthread_mutex_unlock(&q->lock);
}

void ftp_worker_start(void)
{
	ftp_queue_start(&ftp_q_auth);
	ftp_queue_start(&ftp_q_hash);
}

void ftp_worker_stop(void)
{
	ftp_queue_stop(&ftp_q_auth);
	ftp_queue_stop(&ftp_q_hash);
}
