/* privsep.c - the privileged helper (privsep.h).
 *
 * Protocol on a SOCK_SEQPACKET socketpair, one request then one reply,
 * requests from the serving process only:
 *   'P' gen   the pair in force: reply status 0 + paths + SCM_RIGHTS
 *             {cert fd, key fd}, or status -1 + the reason
 *   'T'       the ACME account thumbprint ("" when ACME is off)
 *   'L'       + SCM_RIGHTS {error log fd}: write the error log there from
 *             now on (the serving process reopened it on SIGUSR1); status 0
 * The helper exits when the serving process closes its end (EOF).
 *
 * The other way, a pipe: the helper writes one byte when it has installed
 * a new pair (ACME); a thread of the serving process turns it into
 * SIGUSR2 to itself (reload the certificate).  A signal from the helper
 * would need CAP_KILL: the helper is uid 0 with at most
 * CAP_DAC_READ_SEARCH, the serving process another user.
 */
#include "privsep.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "acme.h"
#include "config.h"
#include "limits.h"
#include "log.h"
#include "sandbox.h"
#include "tls.h"

#define PS_TIMEOUT_MS 30000 /* a reply takes a config parse and two opens */
#define PS_PATH (PM_PATH_MAX + 16)

/* seq: the reply carries its request's number, so that a reply that came
 * after its request timed out is never taken for the next one's. */
struct ps_req {
	char op;
	char gen;
	unsigned seq;
};

struct ps_reply {
	unsigned seq;
	int status;
	char cert[PS_PATH];
	char key[PS_PATH];
	char text[1024]; /* the reason, or the thumbprint */
};

static int ps_fd = -1;        /* the serving process's end */
static int ps_notify_fd = -1; /* the helper's end of the notification pipe */
static int privsep_pair_source(int may_generate, int fds[2], char *cert, char *key, size_t sz,
                               char *err, size_t errsz);
static pthread_mutex_t ps_mu = PTHREAD_MUTEX_INITIALIZER;

/* ---- the helper ---- */

/* One message with up to two descriptors; sendmsg's result. */
static ssize_t ps_sendmsg(int s, const void *buf, size_t len, const int *fds, int nfds)
{
	struct iovec iov = {(void *)buf, len};
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr m;
	memset(&m, 0, sizeof(m));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	if (nfds > 2)
		nfds = 2;
	if (nfds > 0) {
		memset(&u, 0, sizeof(u));
		m.msg_control = u.buf;
		m.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
		struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, (size_t)nfds * sizeof(int));
	}
	return sendmsg(s, &m, MSG_NOSIGNAL);
}

/* One message into buf; the descriptors that came with it (at most two)
 * go to fds, their count to *nfds.  The message's length, 0 at EOF, or -1
 * (errno). */
static ssize_t ps_recvmsg(int s, void *buf, size_t len, int fds[2], int *nfds)
{
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {buf, len};
	struct msghdr m;
	memset(&m, 0, sizeof(m));
	memset(&u, 0, sizeof(u));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = u.buf;
	m.msg_controllen = sizeof(u.buf);
	*nfds = 0;
	ssize_t n = recvmsg(s, &m, MSG_CMSG_CLOEXEC);
	for (struct cmsghdr *cm = n > 0 ? CMSG_FIRSTHDR(&m) : NULL; cm != NULL;
	     cm = CMSG_NXTHDR(&m, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
		    cm->cmsg_len < CMSG_LEN(sizeof(int)))
			continue;
		/* The buffer holds two: the kernel installs no more. */
		int got = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (int i = 0; i < *nfds; i++)
			close(fds[i]);
		*nfds = got > 2 ? 2 : got;
		memcpy(fds, CMSG_DATA(cm), (size_t)*nfds * sizeof(int));
	}
	return n;
}

static void ps_send(int s, const struct ps_reply *r, const int *fds, int nfds)
{
	while (ps_sendmsg(s, r, sizeof(*r), fds, nfds) < 0 && errno == EINTR)
		;
}

static void ps_pair(int s, const char *conf, char *const *sets, int nsets, int gen, unsigned seq)
{
	struct ps_reply *r = calloc(1, sizeof(*r));
	int fds[2] = {-1, -1};
	if (r == NULL)
		return;
	r->seq = seq;
	/* SECURITY: the paths come from the operator's file, never from the
	 * request. */
	struct config *c = config_load(conf, sets, nsets, r->text, sizeof(r->text));
	r->status = -1;
	if (c != NULL) {
		acme_lock();
		r->status = tls_open_pair(c, gen, fds, r->cert, r->key, sizeof(r->cert), r->text,
		                          sizeof(r->text));
		acme_unlock();
		config_free(c);
	}
	ps_send(s, r, fds, r->status == 0 ? 2 : 0);
	if (r->status == 0) {
		close(fds[0]);
		close(fds[1]);
	}
	free(r);
}

/* acme.c's notification (a new pair is installed): one byte to the serving
 * process. */
static void ps_notify(void)
{
	char b = 'R';
	while (write(ps_notify_fd, &b, 1) < 0 && errno == EINTR)
		;
}

/* One request; fd receives a descriptor that came with it (or -1).  The
 * request's length, 0 at EOF, or -1 (errno). */
static ssize_t ps_recv(int s, struct ps_req *q, int *fd)
{
	int fds[2], nfds;
	ssize_t n = ps_recvmsg(s, q, sizeof(*q), fds, &nfds);
	*fd = nfds > 0 ? fds[0] : -1;
	if (nfds > 1)
		close(fds[1]);
	return n;
}

#define PS_RENEW_CHECK 3600 /* seconds between looks at the generated pair */

struct ps_conf {
	const char *conf;
	char *const *sets;
	int nsets;
};

/* Wakes the renewal thread early: after each pair request (the first one
 * generates the pair it then watches; a SIGHUP may change the keys). */
static pthread_mutex_t ps_renew_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ps_renew_cv;
static int ps_renew_kicked;

static void ps_renew_kick(void)
{
	pthread_mutex_lock(&ps_renew_mu);
	ps_renew_kicked = 1;
	pthread_cond_signal(&ps_renew_cv);
	pthread_mutex_unlock(&ps_renew_mu);
}

static void ps_renew_wait(long secs)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += secs;
	pthread_mutex_lock(&ps_renew_mu);
	while (!ps_renew_kicked)
		if (pthread_cond_timedwait(&ps_renew_cv, &ps_renew_mu, &until) == ETIMEDOUT)
			break;
	ps_renew_kicked = 0;
	pthread_mutex_unlock(&ps_renew_mu);
}

/* The helper's thread that renews the generated self-signed pair while the
 * daemon runs (state_dir is writable here, not in the serving process),
 * then tells the serving process to reload it, as ACME does.  The
 * configuration is re-read each time: SIGHUP may have changed it. */
static void *ps_renew_main(void *arg)
{
	const struct ps_conf *pc = arg;
	char err[1024];
	for (;;) {
		long in = PS_RENEW_CHECK;
		struct config *c = config_load(pc->conf, pc->sets, pc->nsets, err, sizeof(err));
		if (c != NULL) {
			long due = tls_generated_renew_in(c);
			if (due == 0) {
				int fds[2];
				char cert[PS_PATH], key[PS_PATH];
				acme_lock();
				int r = tls_open_pair(c, 1, fds, cert, key, sizeof(cert), err,
				                      sizeof(err));
				acme_unlock();
				if (r == 0) {
					close(fds[0]);
					close(fds[1]);
					ps_notify();
					due = tls_generated_renew_in(c);
				} else {
					log_err("tls: renewing the generated certificate: %s; the "
					        "one in force stays",
					        err);
				}
			}
			/* due 0 again: generation failed; try in an hour */
			if (due > 0 && due < in)
				in = due;
			config_free(c);
		}
		ps_renew_wait(in);
	}
	return NULL;
}

static void ps_helper(int s, const char *conf, char *const *sets, int nsets)
{
	static struct ps_conf pc;
	char tp[128] = "";
	char err[1024];
	struct config *c = config_load(conf, sets, nsets, err, sizeof(err));
	if (c == NULL) {
		log_err("privsep: %s", err);
		_exit(1);
	}
	int acme = c->acme_directory[0] != '\0';
	if (acme && acme_init(c, tp, sizeof(tp), err, sizeof(err)) != 0) {
		log_err("acme: %s", err);
		tp[0] = '\0';
		acme = 0;
	}
	/* SECURITY: confined before the first request and before the ACME
	 * client talks to the network (privileges: sandbox.h). */
	if (sandbox_enter_helper(c, err, sizeof(err)) != 0) {
		log_err("privileged helper: sandbox: %s", err);
		_exit(1);
	}
	if (acme && acme_start(c, ps_notify) != 0) {
		log_err("acme: cannot start the ACME client");
		tp[0] = '\0';
	}
	if (!acme)
		config_free(c);
	pc.conf = conf;
	pc.sets = sets;
	pc.nsets = nsets;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ps_renew_cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_t t;
	if (pthread_create(&t, NULL, ps_renew_main, &pc) == 0)
		pthread_detach(t);
	else
		log_err("privileged helper: cannot start the renewal of the generated certificate");
	for (;;) {
		struct ps_req q;
		int fd;
		ssize_t n = ps_recv(s, &q, &fd);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(0); /* the serving process is gone */
		if (n != sizeof(q)) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		if (q.op == 'L') {
			struct ps_reply *r = calloc(1, sizeof(*r));
			log_adopt_error_fd(fd);
			if (r == NULL)
				_exit(1);
			r->seq = q.seq;
			ps_send(s, r, NULL, 0);
			free(r);
			continue;
		}
		if (fd >= 0)
			close(fd);
		if (q.op == 'P') {
			ps_pair(s, conf, sets, nsets, q.gen != 0, q.seq);
			ps_renew_kick();
		} else if (q.op == 'T') {
			struct ps_reply *r = calloc(1, sizeof(*r));
			if (r == NULL)
				_exit(1);
			r->seq = q.seq;
			snprintf(r->text, sizeof(r->text), "%s", tp);
			ps_send(s, r, NULL, 0);
			free(r);
		}
	}
}

/* The serving process's thread that turns the helper's notifications into
 * SIGUSR2 (main reloads the certificate); it ends with the helper. */
static void *ps_notify_main(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char b[16];
	for (;;) {
		ssize_t n = read(fd, b, sizeof(b));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		kill(getpid(), SIGUSR2);
	}
	close(fd);
	return NULL;
}

int privsep_start(const char *conf, char *const *sets, int nsets, char *err, size_t errsz)
{
	int sv[2], np[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		snprintf(err, errsz, "socketpair: %s", strerror(errno));
		return -1;
	}
	if (pipe2(np, O_CLOEXEC) != 0) {
		snprintf(err, errsz, "pipe: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(err, errsz, "fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		close(np[0]);
		close(np[1]);
		return -1;
	}
	if (pid == 0) {
		close(sv[0]);
		close(np[0]);
		ps_notify_fd = np[1];
		ps_helper(sv[1], conf, sets, nsets);
		_exit(0);
	}
	close(sv[1]);
	close(np[1]);
	ps_fd = sv[0];
	pthread_t t;
	if (pthread_create(&t, NULL, ps_notify_main, (void *)(intptr_t)np[0]) != 0) {
		snprintf(err, errsz, "cannot start the helper's notification thread");
		close(np[0]);
		return -1;
	}
	pthread_detach(t);
	tls_set_pair_source(privsep_pair_source);
	return 0;
}

/* ---- the serving process ---- */

/* One request and its reply, under ps_mu.  fds (may be NULL) receives up to
 * two descriptors.  0 or -1 (err). */
static int ps_call(char op, int gen, int sendfd, struct ps_reply *r, int fds[2], char *err,
                   size_t errsz)
{
	static unsigned seq; /* under ps_mu */
	struct ps_req q = {op, (char)gen, ++seq};
	int rc = -1;
	pthread_mutex_lock(&ps_mu);
	if (ps_fd < 0) {
		snprintf(err, errsz, "the privileged helper is not running");
		goto out;
	}
	if (ps_sendmsg(ps_fd, &q, sizeof(q), &sendfd, sendfd >= 0) != (ssize_t)sizeof(q)) {
		snprintf(err, errsz, "privileged helper: %s", strerror(errno));
		goto out;
	}
	struct pollfd p = {ps_fd, POLLIN, 0};
	int k, got, tmp[2] = {-1, -1};
	ssize_t n;
	for (;;) {
		while ((k = poll(&p, 1, PS_TIMEOUT_MS)) < 0 && errno == EINTR)
			;
		if (k <= 0) {
			snprintf(err, errsz, "privileged helper: no answer within %d s",
			         PS_TIMEOUT_MS / 1000);
			goto out;
		}
		while ((n = ps_recvmsg(ps_fd, r, sizeof(*r), tmp, &got)) < 0 && errno == EINTR)
			;
		if (n != (ssize_t)sizeof(*r)) {
			snprintf(err, errsz, "privileged helper: %s",
			         n < 0 ? strerror(errno) : "gone or a short reply");
			for (int i = 0; i < got; i++)
				close(tmp[i]);
			goto out;
		}
		if (r->seq == q.seq)
			break;
		/* the late answer to a request that timed out: dropped */
		for (int i = 0; i < got; i++)
			close(tmp[i]);
	}
	r->text[sizeof(r->text) - 1] = '\0';
	r->cert[sizeof(r->cert) - 1] = '\0';
	r->key[sizeof(r->key) - 1] = '\0';
	if (fds != NULL && got == 2) {
		fds[0] = tmp[0];
		fds[1] = tmp[1];
	} else {
		for (int i = 0; i < got; i++)
			close(tmp[i]);
		if (fds != NULL && r->status == 0) {
			snprintf(err, errsz, "privileged helper: no descriptors in the reply");
			goto out;
		}
	}
	rc = 0;
out:
	pthread_mutex_unlock(&ps_mu);
	return rc;
}

static int privsep_pair_source(int may_generate, int fds[2], char *cert, char *key, size_t sz,
                               char *err, size_t errsz)
{
	struct ps_reply *r = calloc(1, sizeof(*r));
	int rc = -1;
	if (r == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	if (ps_call('P', may_generate, -1, r, fds, err, errsz) != 0)
		goto out;
	if (r->status != 0) {
		snprintf(err, errsz, "%s", r->text);
		goto out;
	}
	snprintf(cert, sz, "%s", r->cert);
	snprintf(key, sz, "%s", r->key);
	rc = 0;
out:
	free(r);
	return rc;
}

int privsep_acme_thumbprint(char *out, size_t outsz, char *err, size_t errsz)
{
	struct ps_reply *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	int rc = ps_call('T', 0, -1, r, NULL, err, errsz);
	if (rc == 0)
		snprintf(out, outsz, "%s", r->text);
	free(r);
	return rc;
}

int privsep_log_reopened(char *err, size_t errsz)
{
	int fd = log_error_fd();
	if (fd < 0)
		return 0; /* stderr or syslog: nothing to hand over */
	struct ps_reply *r = calloc(1, sizeof(*r));
	int rc = -1;
	if (r == NULL)
		snprintf(err, errsz, "out of memory");
	else
		rc = ps_call('L', 0, fd, r, NULL, err, errsz);
	free(r);
	close(fd);
	return rc;
}
