/* privsep.c - the privileged helper (privsep.h).
 *
 * Protocol on a SOCK_SEQPACKET socketpair, one request then one reply,
 * requests from the serving process only:
 *   'P' gen   the pair in force: reply status 0 + paths + SCM_RIGHTS
 *             {cert fd, key fd}, or status -1 + the reason
 *   'T'       the ACME account thumbprint ("" when ACME is off)
 * The helper exits when the serving process closes its end (EOF).
 */
#include "privsep.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "acme.h"
#include "config.h"
#include "limits.h"
#include "log.h"
#include "tls.h"

#define PS_TIMEOUT_MS 30000 /* a reply takes a config parse and two opens */
#define PS_PATH (PM_PATH_MAX + 16)

struct ps_req {
	char op;
	char gen;
};

struct ps_reply {
	int status;
	char cert[PS_PATH];
	char key[PS_PATH];
	char text[1024]; /* the reason, or the thumbprint */
};

static int ps_fd = -1; /* the serving process's end */
static int privsep_pair_source(int may_generate, int fds[2], char *cert, char *key, size_t sz,
                               char *err, size_t errsz);
static pthread_mutex_t ps_mu = PTHREAD_MUTEX_INITIALIZER;

/* ---- the helper ---- */

static void ps_send(int s, const struct ps_reply *r, const int *fds, int nfds)
{
	struct iovec iov = {(void *)r, sizeof(*r)};
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr m;
	memset(&m, 0, sizeof(m));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
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
	while (sendmsg(s, &m, MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

static void ps_pair(int s, const char *conf, char *const *sets, int nsets, int gen)
{
	struct ps_reply *r = calloc(1, sizeof(*r));
	int fds[2] = {-1, -1};
	if (r == NULL)
		return;
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

static void ps_helper(int s, pid_t daemon_pid, const char *conf, char *const *sets, int nsets)
{
	char tp[128] = "";
	char err[1024];
	struct config *c = config_load(conf, sets, nsets, err, sizeof(err));
	if (c == NULL) {
		log_err("privsep: %s", err);
		_exit(1);
	}
	if (c->acme_directory[0] != '\0') {
		if (acme_init(c, tp, sizeof(tp), err, sizeof(err)) != 0 ||
		    acme_start(c, daemon_pid) != 0) {
			log_err("acme: %s", err);
			tp[0] = '\0';
		}
	} else {
		config_free(c);
	}
	for (;;) {
		struct ps_req q;
		ssize_t n = recv(s, &q, sizeof(q), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(0); /* the serving process is gone */
		if (n != sizeof(q))
			continue;
		if (q.op == 'P') {
			ps_pair(s, conf, sets, nsets, q.gen != 0);
		} else if (q.op == 'T') {
			struct ps_reply *r = calloc(1, sizeof(*r));
			if (r == NULL)
				_exit(1);
			snprintf(r->text, sizeof(r->text), "%s", tp);
			ps_send(s, r, NULL, 0);
			free(r);
		}
	}
}

int privsep_start(const char *conf, char *const *sets, int nsets, char *err, size_t errsz)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		snprintf(err, errsz, "socketpair: %s", strerror(errno));
		return -1;
	}
	pid_t daemon_pid = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(err, errsz, "fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		close(sv[0]);
		ps_helper(sv[1], daemon_pid, conf, sets, nsets);
		_exit(0);
	}
	close(sv[1]);
	ps_fd = sv[0];
	tls_set_pair_source(privsep_pair_source);
	return 0;
}

/* ---- the serving process ---- */

/* One request and its reply, under ps_mu.  fds (may be NULL) receives up to
 * two descriptors.  0 or -1 (err). */
static int ps_call(char op, int gen, struct ps_reply *r, int fds[2], char *err, size_t errsz)
{
	struct ps_req q = {op, (char)gen};
	int rc = -1;
	pthread_mutex_lock(&ps_mu);
	if (ps_fd < 0) {
		snprintf(err, errsz, "the privileged helper is not running");
		goto out;
	}
	if (send(ps_fd, &q, sizeof(q), MSG_NOSIGNAL) != (ssize_t)sizeof(q)) {
		snprintf(err, errsz, "privileged helper: %s", strerror(errno));
		goto out;
	}
	struct pollfd p = {ps_fd, POLLIN, 0};
	int k;
	while ((k = poll(&p, 1, PS_TIMEOUT_MS)) < 0 && errno == EINTR)
		;
	if (k <= 0) {
		snprintf(err, errsz, "privileged helper: no answer within %d s",
		         PS_TIMEOUT_MS / 1000);
		goto out;
	}
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {r, sizeof(*r)};
	struct msghdr m;
	memset(&m, 0, sizeof(m));
	memset(&u, 0, sizeof(u));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = u.buf;
	m.msg_controllen = sizeof(u.buf);
	ssize_t n;
	while ((n = recvmsg(ps_fd, &m, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof(*r)) {
		snprintf(err, errsz, "privileged helper: %s",
		         n < 0 ? strerror(errno) : "gone or a short reply");
		goto out;
	}
	int got = 0, tmp[2] = {-1, -1};
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm != NULL; cm = CMSG_NXTHDR(&m, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			got = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			if (got > 2)
				got = 2;
			memcpy(tmp, CMSG_DATA(cm), (size_t)got * sizeof(int));
		}
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
	if (ps_call('P', may_generate, r, fds, err, errsz) != 0)
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
	int rc = ps_call('T', 0, r, NULL, err, errsz);
	if (rc == 0)
		snprintf(out, outsz, "%s", r->text);
	free(r);
	return rc;
}
