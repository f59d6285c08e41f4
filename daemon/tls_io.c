/* tls_io.c - plain and TLS operations of a connection (see tls_io.h).
 *
 * Data-channel session reuse: every control connection gets a random
 * 16-byte token in its SSL ex-data; the ticket callbacks store it as the
 * ticket's app-data (SSL_SESSION_set1_ticket_appdata, as ProFTPD does), so a
 * data connection that resumed a ticket from this control connection
 * carries the same token.  TLS 1.2 resumption by session id is recognised
 * by the equal master secret.  TLS 1.3 tickets are issued only at login
 * (num_tickets 0 at the handshake) and never on data connections.
 *
 * Bulk sending: OpenSSL writes every 16 KiB record with its own write()
 * through a socket BIO; on loopback and fast links those syscalls, and the
 * receiver wake-up each one causes, cost as much CPU as the encryption.  A
 * data connection therefore writes through a buffering BIO (BIO_f_buffer
 * over the socket; reads still come straight from the socket): records
 * are encrypted into it and leave four at a time, and whatever a write
 * call leaves there is sent before it returns.  Ciphertext can stay in the
 * buffer when the socket is full; it goes out with the next write or
 * before the close_notify, and tio_shutdown reports EAGAIN until it is all
 * out.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "limits.h"
#include "tls.h"
#include "tls_io.h"

#define TLS_IO_TOKEN 16
/* The write buffer of a data connection's file transfer: four full
 * records (16 KiB of plaintext and 22 bytes of header, type and tag each
 * in TLS 1.3, 29 in TLS 1.2 with AES-GCM).  Measured on a 1 GiB download:
 * 64 KiB sends cost the server less CPU than one 256 KiB send per
 * read-ahead block (the buffers stay in the CPU's cache), and 16 times
 * fewer syscalls than a send per record. */
#define TLS_IO_WBUF (4 * (16384 + 128))
static const unsigned char tls_io_sid_ctx[] = "pubmirror-ftp";

/* --- plain --- */

static ssize_t plain_read(struct conn *c, void *p, size_t n)
{
	ssize_t r;

	do
		r = recv(c->fd, p, n, 0);
	while (r < 0 && errno == EINTR);
	return r;
}

static ssize_t plain_write(struct conn *c, const void *p, size_t n)
{
	ssize_t r;

	do
		r = send(c->fd, p, n, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	return r;
}

static ssize_t plain_sendfile(struct conn *c, int fd, uint64_t *off, size_t n)
{
	off_t o = (off_t)*off;
	ssize_t r;

	do
		r = sendfile(c->fd, fd, &o, n);
	while (r < 0 && errno == EINTR);
	if (r > 0)
		*off = (uint64_t)o;
	if (r == 0) { /* file shrank under us */
		errno = EIO;
		return -1;
	}
	return r;
}

static int plain_shutdown(struct conn *c)
{
	shutdown(c->fd, SHUT_WR);
	return 1;
}

static void plain_release(struct conn *c)
{
	free(c->rbuf);
	c->rbuf = NULL;
}

static const struct conn_ops plain_ops = {
    plain_read, plain_write, plain_sendfile, plain_shutdown, plain_release,
};

void conn_init(struct conn *c, int fd)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->ops = &plain_ops;
	c->rfd = -1;
}

void conn_close(struct conn *c)
{
	if (c->ops)
		c->ops->release(c);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->ops = &plain_ops;
	c->ssl = NULL;
	c->tls = 0;
}

/* --- TLS --- */

static int tls_io_idx = -1; /* SSL ex-data: token (unsigned char[16]) */
static pthread_mutex_t tls_io_lock = PTHREAD_MUTEX_INITIALIZER;

/* Map an SSL error to errno; EAGAIN for the retryable ones. */
static int tls_io_err(struct conn *c, int r)
{
	int e = SSL_get_error(c->ssl, r);

	switch (e) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		break;
	case SSL_ERROR_ZERO_RETURN:
		errno = 0;
		return 0;
	case SSL_ERROR_SYSCALL:
		if (errno == 0 || errno == EAGAIN)
			errno = ECONNRESET;
		break;
	default:
		errno = EPROTO;
		break;
	}
	ERR_clear_error();
	return -1;
}

static ssize_t tio_read(struct conn *c, void *p, size_t n)
{
	size_t got = 0;
	int r;

	ERR_clear_error();
	r = SSL_read_ex(c->ssl, p, n, &got);
	if (r == 1)
		return (ssize_t)got;
	return tls_io_err(c, r);
}

/* Send what the write buffer holds.  1 all out (or no buffer), 0 some left
 * because the socket is full (EPOLLOUT follows), -1 errno. */
static int tio_flush(struct conn *c)
{
	BIO *w = SSL_get_wbio(c->ssl);

	if (!c->batch || w == NULL)
		return 1;
	for (int i = 0; i < 8 && BIO_wpending(w) > 0; i++) {
		errno = 0;
		if (BIO_flush(w) > 0)
			return 1;
		if (!BIO_should_retry(w)) {
			if (errno == 0 || errno == EAGAIN)
				errno = EPIPE;
			ERR_clear_error();
			return -1;
		}
		if (errno != EINTR)
			return 0;
	}
	return BIO_wpending(w) > 0 ? 0 : 1;
}

/* A control connection writes one record per call, as OpenSSL does with
 * partial writes; a data connection encrypts all of p into its write
 * buffer (flushing it whenever it fills) and then sends the rest. */
static ssize_t tio_write(struct conn *c, const void *p, size_t n)
{
	size_t done = 0;
	int r;

	ERR_clear_error();
	do {
		size_t put = 0;
		r = SSL_write_ex(c->ssl, (const char *)p + done, n - done, &put);
		if (r != 1)
			break;
		done += put;
	} while (c->batch && done < n);
	if (r != 1) {
		int e = SSL_get_error(c->ssl, r);
		if (done == 0 || (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ)) {
			if (tls_io_err(c, r) == 0)
				errno = EPIPE;
			return -1;
		}
		/* the socket is full: the rest waits for EPOLLOUT */
		ERR_clear_error();
		return (ssize_t)done;
	}
	if (tio_flush(c) < 0)
		return -1;
	return (ssize_t)done;
}

/* Read ahead a large block of the file, then write it as TLS records: few
 * syscalls and full 16 KiB records. */
static ssize_t tio_sendfile(struct conn *c, int fd, uint64_t *off, size_t n)
{
	if (c->rbuf == NULL) {
		c->rbuf = malloc(PM_FTP_IO_BUF);
		if (c->rbuf == NULL) {
			errno = ENOMEM;
			return -1;
		}
		c->rlen = c->rpos = 0;
		/* A file transfer: now the write buffer grows to a batch
		 * (listings keep BIO_f_buffer's 4 KiB, through which full records
		 * go straight to the socket).  Resizing drops buffered bytes: only
		 * while it is empty; without memory it stays small. */
		BIO *w = SSL_get_wbio(c->ssl);
		if (c->batch && w && BIO_wpending(w) == 0)
			BIO_set_write_buffer_size(w, TLS_IO_WBUF);
	}
	if (c->rfd != fd || *off < c->roff || *off >= c->roff + c->rlen) {
		ssize_t r;
		do
			r = pread(fd, c->rbuf, PM_FTP_IO_BUF, (off_t)*off);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return -1;
		if (r == 0) {
			errno = EIO;
			return -1;
		}
		c->rfd = fd;
		c->roff = *off;
		c->rlen = (size_t)r;
	}
	size_t pos = (size_t)(*off - c->roff);
	size_t avail = c->rlen - pos;
	ssize_t w = tio_write(c, (char *)c->rbuf + pos, n < avail ? n : avail);
	if (w > 0)
		*off += (uint64_t)w;
	return w;
}

static int tio_shutdown(struct conn *c)
{
	/* the data still buffered goes out first, then the close_notify */
	int f = tio_flush(c);
	if (f <= 0) {
		if (f == 0)
			errno = EAGAIN;
		return -1;
	}
	if (!c->shut) {
		ERR_clear_error();
		int r = SSL_shutdown(c->ssl);
		if (r < 0) {
			int e = SSL_get_error(c->ssl, r);
			ERR_clear_error();
			if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
				errno = EAGAIN;
				return -1;
			}
			errno = EPIPE;
			return -1;
		}
		c->shut = 1;
		f = tio_flush(c);
		if (f <= 0) {
			if (f == 0)
				errno = EAGAIN;
			return -1;
		}
	}
	return 1; /* our close_notify is out */
}

static void tio_release(struct conn *c)
{
	if (c->ssl) {
		void *tok = SSL_get_ex_data(c->ssl, tls_io_idx);
		/* Only the control connection owns its token. */
		if (tok && SSL_get_app_data(c->ssl) == (void *)1)
			free(tok);
		SSL_free(c->ssl);
	}
	c->ssl = NULL;
	c->batch = 0;
	c->shut = 0;
	free(c->rbuf);
	c->rbuf = NULL;
}

static const struct conn_ops tls_ops = {
    tio_read, tio_write, tio_sendfile, tio_shutdown, tio_release,
};

static int tls_io_ticket_gen(SSL *s, void *arg)
{
	void *tok = SSL_get_ex_data(s, tls_io_idx);

	if (tok)
		SSL_SESSION_set1_ticket_appdata(SSL_get0_session(s), tok, TLS_IO_TOKEN);
	return 1;
}

static SSL_TICKET_RETURN tls_io_ticket_dec(SSL *s, SSL_SESSION *ss, const unsigned char *keyname,
                                           size_t keyname_length, SSL_TICKET_STATUS status,
                                           void *arg)
{
	switch (status) {
	case SSL_TICKET_SUCCESS:
	case SSL_TICKET_SUCCESS_RENEW:
		/* Use, never renew: data connections get no new tickets. */
		return SSL_TICKET_RETURN_USE;
	case SSL_TICKET_EMPTY:
	case SSL_TICKET_NO_DECRYPT:
		return SSL_TICKET_RETURN_IGNORE_RENEW;
	default:
		return SSL_TICKET_RETURN_IGNORE;
	}
}

static void tls_io_ctx_hook(void *ssl_ctx)
{
	SSL_CTX *ctx = ssl_ctx;

	SSL_CTX_set_session_ticket_cb(ctx, tls_io_ticket_gen, tls_io_ticket_dec, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_set_session_id_context(ctx, tls_io_sid_ctx, sizeof(tls_io_sid_ctx) - 1);
}

int tls_io_init(void)
{
	pthread_mutex_lock(&tls_io_lock);
	if (tls_io_idx < 0)
		tls_io_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	pthread_mutex_unlock(&tls_io_lock);
	if (tls_io_idx < 0)
		return -1;
	tls_set_ctx_hook(tls_io_ctx_hook);
	return 0;
}

int tls_io_start(struct conn *c, const struct conn *ctrl)
{
	SSL_CTX *ctx;
	SSL *ssl = NULL;
	void *acq = NULL;

	if (ctrl && ctrl->ssl) {
		ctx = SSL_get_SSL_CTX(ctrl->ssl); /* same ticket keys as the control */
	} else {
		acq = tls_ctx_acquire();
		ctx = acq;
	}
	if (ctx == NULL || tls_io_idx < 0)
		goto fail;
	ssl = SSL_new(ctx);
	if (ssl == NULL)
		goto fail;
	/* Idle control connections give their record buffers back; a data
	 * connection is busy for its whole life and keeps them. */
	SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	                      (ctrl ? 0 : SSL_MODE_RELEASE_BUFFERS));
	SSL_set_session_id_context(ssl, tls_io_sid_ctx, sizeof(tls_io_sid_ctx) - 1);
	/* TLS 1.3 tickets only at login (control) and never on data. */
	SSL_set_num_tickets(ssl, 0);
	if (ctrl && ctrl->ssl) {
		SSL_set_ex_data(ssl, tls_io_idx, SSL_get_ex_data(ctrl->ssl, tls_io_idx));
		SSL_set_app_data(ssl, NULL);
	} else {
		unsigned char *tok = malloc(TLS_IO_TOKEN);
		if (tok == NULL || RAND_bytes(tok, TLS_IO_TOKEN) != 1) {
			free(tok);
			goto fail;
		}
		SSL_set_ex_data(ssl, tls_io_idx, tok);
		SSL_set_app_data(ssl, (void *)1); /* owns the token */
	}
	if (ctrl) {
		/* a data connection: reads from the socket, writes through
		 * the batching buffer (see the top of this file) */
		BIO *sock = BIO_new_socket(c->fd, BIO_NOCLOSE);
		BIO *wb = BIO_new(BIO_f_buffer());
		if (sock == NULL || wb == NULL || BIO_up_ref(sock) != 1) {
			BIO_free(sock);
			BIO_free(wb);
			goto fail;
		}
		BIO_push(wb, sock);
		SSL_set_bio(ssl, sock, wb); /* each holds one reference of sock */
	} else if (SSL_set_fd(ssl, c->fd) != 1) {
		goto fail;
	}
	SSL_set_accept_state(ssl);
	if (acq)
		tls_ctx_release(acq);
	c->ssl = ssl;
	c->ops = &tls_ops;
	c->tls = 1;
	c->handshaken = 0;
	c->batch = ctrl != NULL;
	c->shut = 0;
	return 0;
fail:
	if (ssl) {
		if (SSL_get_app_data(ssl) == (void *)1)
			free(SSL_get_ex_data(ssl, tls_io_idx));
		SSL_free(ssl);
	}
	if (acq)
		tls_ctx_release(acq);
	ERR_clear_error();
	errno = ENOMEM;
	return -1;
}

int tls_io_handshake(struct conn *c, char *why, size_t whysz)
{
	if (c->handshaken)
		return 1;
	ERR_clear_error();
	int r = SSL_do_handshake(c->ssl);
	/* OpenSSL flushes the write BIO after each flight; make sure. */
	int f = tio_flush(c);
	if (r == 1 && f == 1) {
		c->handshaken = 1;
		return 1;
	}
	int e = r == 1 ? SSL_ERROR_WANT_WRITE : SSL_get_error(c->ssl, r);
	if (f >= 0 && (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)) {
		ERR_clear_error();
		errno = EAGAIN;
		return -1;
	}
	if (f < 0)
		e = SSL_ERROR_SYSCALL;
	unsigned long code = ERR_peek_last_error();
	if (code)
		ERR_error_string_n(code, why, whysz);
	else if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN)
		snprintf(why, whysz, "connection closed during the handshake");
	else
		snprintf(why, whysz, "handshake failed (SSL error %d)", e);
	ERR_clear_error();
	errno = EPROTO;
	return -1;
}

int tls_io_reused(const struct conn *d, const struct conn *ctrl)
{
	if (d->ssl == NULL || ctrl->ssl == NULL || !SSL_session_reused(d->ssl))
		return 0;
	const SSL_SESSION *ds = SSL_get0_session(d->ssl);
	const void *tok = SSL_get_ex_data(ctrl->ssl, tls_io_idx);
	void *ad = NULL;
	size_t adlen = 0;
	if (ds && tok && SSL_SESSION_get0_ticket_appdata((SSL_SESSION *)ds, &ad, &adlen) == 1 &&
	    adlen == TLS_IO_TOKEN && memcmp(ad, tok, TLS_IO_TOKEN) == 0)
		return 1;
	/* TLS 1.2 resumption by session id: same master secret. */
	const SSL_SESSION *cs = SSL_get0_session(ctrl->ssl);
	if (ds && cs && SSL_version(d->ssl) <= TLS1_2_VERSION) {
		unsigned char a[SSL_MAX_MASTER_KEY_LENGTH], b[SSL_MAX_MASTER_KEY_LENGTH];
		size_t na = SSL_SESSION_get_master_key(ds, a, sizeof(a));
		size_t nb = SSL_SESSION_get_master_key(cs, b, sizeof(b));
		int same = na > 0 && na == nb && CRYPTO_memcmp(a, b, na) == 0;
		OPENSSL_cleanse(a, sizeof(a));
		OPENSSL_cleanse(b, sizeof(b));
		return same;
	}
	return 0;
}

void tls_io_issue_ticket(struct conn *c)
{
	if (c->ssl && SSL_version(c->ssl) >= TLS1_3_VERSION)
		SSL_new_session_ticket(c->ssl);
}

void tls_io_describe(const struct conn *c, char *out, size_t outsz)
{
	if (c->ssl == NULL) {
		snprintf(out, outsz, "plain");
		return;
	}
	const SSL_CIPHER *ci = SSL_get_current_cipher(c->ssl);
	snprintf(out, outsz, "%s %s", SSL_get_version(c->ssl), ci ? SSL_CIPHER_get_name(ci) : "?");
}
