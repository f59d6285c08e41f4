/* tls_io.h - a connection that hides TLS.
 *
 * A struct conn carries read/write/sendfile/shutdown operations.  A plain
 * connection uses the socket; tls_io_start swaps the operations for TLS
 * ones over OpenSSL, so the FTP code above never branches on TLS (after
 * nginx's ngx_event_openssl.c).  Every operation is non-blocking: -1 with
 * errno EAGAIN means "call again when the socket is ready".
 */
#ifndef PUBMIRROR_TLS_IO_H
#define PUBMIRROR_TLS_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct conn;

struct conn_ops {
	/* >0 bytes read, 0 end of stream, -1 errno (EAGAIN: retry later). */
	ssize_t (*read)(struct conn *c, void *p, size_t n);
	/* >0 bytes written, -1 errno (EAGAIN: retry later with the same or a
	 * longer buffer). */
	ssize_t (*write)(struct conn *c, const void *p, size_t n);
	/* Send up to n bytes of fd from *off (advanced).  >0, or -1 errno. */
	ssize_t (*sendfile)(struct conn *c, int fd, uint64_t *off, size_t n);
	/* Orderly end of the stream we send (TLS close_notify, or FIN).
	 * 1 done, -1 errno (EAGAIN: retry). */
	int (*shutdown)(struct conn *c);
	/* Free the TLS state (the fd is closed by conn_close). */
	void (*release)(struct conn *c);
};

struct conn {
	int fd;
	const struct conn_ops *ops;
	void *ssl;      /* SSL * when TLS is on */
	int tls;        /* 1 once TLS is on (policy checks, never I/O) */
	int handshaken; /* TLS handshake completed */
	int batch;      /* TLS records gather in a write buffer, one send per
	                 * batch (data connections) */
	int shut;       /* our close_notify is queued */
	void *rbuf;     /* TLS sendfile read-ahead (PM_FTP_IO_BUF), lazily */
	size_t rlen, rpos;
	uint64_t roff; /* file offset of rbuf[0] */
	int rfd;
};

/* Set up the FTPS context settings (ticket callbacks binding data
 * connections to their control connection, session cache) through
 * tls_set_ctx_hook.  Call once after tls_init, before serving.  0 or -1. */
int tls_io_init(void);

/* A plain connection on fd. */
void conn_init(struct conn *c, int fd);
/* Release TLS state and close the fd (fd becomes -1).  Safe twice. */
void conn_close(struct conn *c);

/* Turn TLS on for c as a server.  ctrl: the control connection when c is
 * a data connection (its context and session binding are used), NULL for
 * a control connection.  0 or -1 (logged by the caller). */
int tls_io_start(struct conn *c, const struct conn *ctrl);
/* Drive the handshake: 1 done, -1 errno EAGAIN (again), -1 other errno on
 * failure (why filled with a short reason). */
int tls_io_handshake(struct conn *c, char *why, size_t whysz);
/* 1 when the data connection d resumed a TLS session issued on the
 * control connection ctrl (ticket app-data binding, or the same TLS 1.2
 * master secret). */
int tls_io_reused(const struct conn *d, const struct conn *ctrl);
/* Issue a session ticket on the control connection (after login), to be
 * sent with the next reply.  No-op for TLS 1.2 or plain. */
void tls_io_issue_ticket(struct conn *c);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384" style description, or "plain". */
void tls_io_describe(const struct conn *c, char *out, size_t outsz);

#endif
