/* http_tls.c - the transport under libmicrohttpd's GnuTLS sessions.
 *
 * libmicrohttpd 0.9.75 hands GnuTLS the bare socket, and GnuTLS then costs
 * two system calls per TLS record on each side of a small exchange:
 * - it reads a record in two recv() calls, the 5-byte record header and then
 *   the rest;
 * - libmicrohttpd sends a response's header and its body with two
 *   gnutls_record_send() calls, so a 4 KiB file leaves as two records in two
 *   sendmsg() calls, and the client is woken twice.
 * Here each connection gets its own pull and push functions:
 * - pull reads up to one full record at a time and keeps what GnuTLS did not
 *   ask for yet (the same as OpenSSL's read-ahead).  libmicrohttpd clears
 *   its read-ready state only when a read says EAGAIN, and this pull says
 *   EAGAIN only when nothing is kept, so kept bytes are never stranded;
 * - push can hold one record back (http_tls_hold(), set when a response with
 *   a body is queued) and send it together with the next one, so that a
 *   header and the start of its body share one sendmsg() and one wake-up.
 *   A held record is flushed first by any later push; if none comes, the
 *   connection is closing anyway.
 * And the handshake hook that asks for an immediate ACK of the client's
 * Finished (see quickack below).
 *
 * State is kept per socket in a table indexed by fd, so that a late push
 * (GnuTLS sending its close_notify after libmicrohttpd reported the
 * connection closed) never touches freed memory.  A connection is served by
 * one libmicrohttpd thread at a time; its entry is reset when the connection
 * starts and freed when it is reported closed, both under tab_mu: the fd of
 * a closed connection may come back at once for one that another thread
 * serves, and the lock orders the two threads' use of the entry.  A late
 * push writes nothing to the entry.
 *
 * All of it is GnuTLS's public API on the session libmicrohttpd hands out
 * (MHD_CONNECTION_INFO_GNUTLS_SESSION): libmicrohttpd 0.9.75 has no option
 * for a transport of one's own, and GnuTLS lets the owner of a session set
 * its pull, push and handshake hooks at any time before the handshake.
 * The build links GnuTLS itself (the library libmicrohttpd already loads),
 * so a missing or changed function is a link error, not a lookup that
 * fails at run time.  Only this file calls GnuTLS (lint.sh). */
#include <errno.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "http_int.h"
#include "limits.h"
#include "log.h"

/* Bytes one pull reads: a whole TLS record (16 KiB of plaintext plus the
 * largest expansion GnuTLS accepts) and its header. */
#define RA_SIZE (16384 + 2048 + 5)
/* The held record with the one after it: at most this many iovecs. */
#define PUSH_IOV_MAX 64

struct tstate {
	unsigned char *kept; /* read ahead, not yet given to GnuTLS */
	size_t koff, klen;
	unsigned char *held; /* a record waiting for the next one */
	size_t hlen;
	int hold; /* hold the next record */
	int on;   /* our functions are installed on this fd's session */
};

static struct tstate *tab;
static size_t ntab;
static pthread_mutex_t tab_mu = PTHREAD_MUTEX_INITIALIZER;
static __thread unsigned char scratch[RA_SIZE];

/* The 40 ms stall of new TLS 1.3 connections.  In TLS 1.3 the client
 * sends the last handshake message (Finished); GnuTLS has nothing to send
 * after it, so the kernel delays its ACK (40 ms), and a client that has not
 * disabled Nagle (Python's http.client, for one) holds its request until
 * that ACK comes.  A handshake hook after the client's Finished asks the
 * kernel for the ACK at once (TCP_QUICKACK sends a pending ACK). */
static int finished_hook(gnutls_session_t s, unsigned htype, unsigned when, unsigned incoming,
                         const gnutls_datum_t *msg)
{
	(void)msg;
	if (htype == GNUTLS_HANDSHAKE_FINISHED && when == GNUTLS_HOOK_POST && incoming) {
		int fd = gnutls_transport_get_int(s), one = 1;
		if (fd >= 0)
			setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
	}
	return 0;
}

static struct tstate *st_of(gnutls_transport_ptr_t p)
{
	return &tab[(size_t)(intptr_t)p];
}

static ssize_t pull(gnutls_transport_ptr_t p, void *data, size_t len)
{
	struct tstate *st = st_of(p);
	int fd = (int)(intptr_t)p;
	if (st->klen > st->koff) {
		size_t n = st->klen - st->koff;
		if (n > len)
			n = len;
		memcpy(data, st->kept + st->koff, n);
		st->koff += n;
		if (st->koff == st->klen) {
			free(st->kept);
			st->kept = NULL;
			st->koff = st->klen = 0;
		}
		return (ssize_t)n;
	}
	if (len >= sizeof(scratch))
		return recv(fd, data, len, 0);
	ssize_t got = recv(fd, scratch, sizeof(scratch), 0);
	if (got <= 0)
		return got;
	if ((size_t)got <= len) {
		memcpy(data, scratch, (size_t)got);
		return got;
	}
	size_t rest = (size_t)got - len;
	unsigned char *k = malloc(rest);
	if (k == NULL) {
		errno = ENOMEM;
		return -1;
	}
	memcpy(data, scratch, len);
	memcpy(k, scratch + len, rest);
	st->kept = k;
	st->koff = 0;
	st->klen = rest;
	return (ssize_t)len;
}

/* GnuTLS asks this before some reads: data kept counts as ready. */
static int pull_timeout(gnutls_transport_ptr_t p, unsigned ms)
{
	struct tstate *st = st_of(p);
	if (st->klen > st->koff)
		return 1;
	return gnutls_system_recv_timeout(p, ms);
}

static ssize_t send_iov(int fd, struct iovec *iov, int n)
{
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n};
	ssize_t w;
	do {
		w = sendmsg(fd, &m, MSG_NOSIGNAL);
	} while (w < 0 && errno == EINTR);
	return w;
}

static ssize_t push(gnutls_transport_ptr_t p, const giovec_t *iov, int iovcnt)
{
	struct tstate *st = st_of(p);
	int fd = (int)(intptr_t)p;
	size_t total = 0;
	struct iovec v[PUSH_IOV_MAX + 1];
	int n = 0;

	if (iovcnt > PUSH_IOV_MAX)
		iovcnt = PUSH_IOV_MAX; /* GnuTLS sends the rest in the next call */
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if (st->hold && st->hlen == 0) {
		/* Keep this record (a response header) for the next push. */
		unsigned char *h = malloc(total ? total : 1);
		if (h == NULL) {
			errno = ENOMEM;
			return -1;
		}
		for (int i = 0; i < iovcnt; i++) {
			memcpy(h + st->hlen, iov[i].iov_base, iov[i].iov_len);
			st->hlen += iov[i].iov_len;
		}
		st->held = h;
		st->hold = 0;
		return (ssize_t)total;
	}
	if (st->hold)
		st->hold = 0;
	if (st->hlen > 0) {
		v[n].iov_base = st->held;
		v[n++].iov_len = st->hlen;
	}
	for (int i = 0; i < iovcnt; i++) {
		v[n].iov_base = iov[i].iov_base;
		v[n++].iov_len = iov[i].iov_len;
	}
	ssize_t w = send_iov(fd, v, n);
	if (w < 0 || st->hlen == 0)
		return w;
	if ((size_t)w < st->hlen) {
		/* The socket took part of the held record and is full now. */
		memmove(st->held, st->held + w, st->hlen - (size_t)w);
		st->hlen -= (size_t)w;
		errno = EAGAIN;
		return -1;
	}
	w -= (ssize_t)st->hlen;
	free(st->held);
	st->held = NULL;
	st->hlen = 0;
	if (w > 0 || total == 0)
		return w;
	/* Exactly the held bytes went out: the socket may still take more,
	 * so try (an EAGAIN now is a true one, and epoll will say when). */
	return send_iov(fd, v + 1, n - 1);
}

static void st_clear(struct tstate *st)
{
	free(st->kept);
	free(st->held);
	memset(st, 0, sizeof(*st));
}

void http_tls_init(void)
{
	struct rlimit rl;
	if (tab == NULL && getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		ntab = rl.rlim_cur > PM_FD_TABLE_MAX ? PM_FD_TABLE_MAX : (size_t)rl.rlim_cur;
		tab = calloc(ntab, sizeof(*tab));
		if (tab == NULL)
			ntab = 0;
	}
}

void http_tls_attach(void *session, int fd)
{
	gnutls_session_t s = session;
	gnutls_handshake_set_hook_function(s, GNUTLS_HANDSHAKE_FINISHED, GNUTLS_HOOK_POST,
	                                   finished_hook);
	if (fd < 0 || (size_t)fd >= ntab)
		return;
	pthread_mutex_lock(&tab_mu);
	st_clear(&tab[fd]);
	tab[fd].on = 1;
	pthread_mutex_unlock(&tab_mu);
	gnutls_transport_set_pull_function(s, pull);
	gnutls_transport_set_pull_timeout_function(s, pull_timeout);
	gnutls_transport_set_vec_push_function(s, push);
}

void http_tls_detach(int fd)
{
	if (fd < 0 || (size_t)fd >= ntab)
		return;
	pthread_mutex_lock(&tab_mu);
	if (tab[fd].on) {
		/* Drop what a closed connection left; a late close_notify
		 * still goes straight out through push. */
		free(tab[fd].kept);
		free(tab[fd].held);
		tab[fd].kept = tab[fd].held = NULL;
		tab[fd].koff = tab[fd].klen = tab[fd].hlen = 0;
		tab[fd].hold = 0;
	}
	pthread_mutex_unlock(&tab_mu);
}

void http_tls_hold(int fd)
{
	if (fd >= 0 && (size_t)fd < ntab && tab[fd].on)
		tab[fd].hold = 1;
}
