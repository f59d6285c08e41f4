/* proxy_accept.h - accepting on a listener that sits behind a load balancer
 * speaking the PROXY protocol (config proxy_protocol), for protocols whose
 * library does its own accepting (libmicrohttpd) or that want the header
 * read before a session exists.
 *
 * One thread per listener accepts, reads each new connection's PROXY
 * header (v1 or v2, proxy.h) without consuming a byte past it (MSG_PEEK,
 * then exactly the header's length), and hands the socket over together
 * with the client address the header names.  Many connections wait for
 * their header at once (epoll); none may take longer than
 * PROXY_ACCEPT_TIMEOUT seconds or send more than PROXY_HEADER_MAX bytes
 * before a valid header.
 *
 * SECURITY: only listeners configured for it get this thread, so a header
 * is never trusted elsewhere; on them a connection without a valid header
 * is closed before any byte of it reaches the protocol, and is counted in
 * the metrics (pubmirror_proxy_headers_total{result="refused"}).  A LOCAL
 * header (a load balancer's health check) keeps the socket's own peer.
 */
#ifndef PUBMIRROR_PROXY_ACCEPT_H
#define PUBMIRROR_PROXY_ACCEPT_H

#include <sys/socket.h>

#include "limits.h"

#define PROXY_ACCEPT_TIMEOUT 5                /* seconds for the header to arrive */
#define PROXY_ACCEPT_PENDING PM_PROXY_PENDING /* connections waiting for a header at once */

struct proxy_accept;

/* Hand-over: fd (non-blocking, CLOEXEC, positioned right after the
 * header) now belongs to the callee, which must close it when it cannot
 * take it.  peer: the client (header's source, or the socket's peer for a
 * LOCAL header); local: the address the client connected to (header's
 * destination, or the socket's own).  Runs on the accept thread: be quick.
 * Returns 0, or -1 when the connection was refused (already closed). */
typedef int (*proxy_accept_deliver)(void *arg, int fd, const struct sockaddr_storage *peer,
                                    socklen_t peerlen, const struct sockaddr_storage *local);

/* Start the thread on listening socket lfd (which stays the caller's).
 * what: a short name for logs ("https", "ftp").  NULL on failure (logged). */
struct proxy_accept *proxy_accept_start(int lfd, proxy_accept_deliver deliver, void *arg,
                                        const char *what);
/* Stop accepting, close the connections still waiting for a header, join
 * the thread and free p.  NULL is allowed. */
void proxy_accept_stop(struct proxy_accept *p);

/* The one reader of a PROXY header from a socket, used by every listener
 * configured for it (this accept thread for HTTPS, FTP's control and data
 * connections in its own event loop).  One non-blocking step: call it when
 * the connection is readable (with edge-triggered polling too: the header
 * bytes are only peeked until whole, then exactly the header is consumed,
 * so what follows stays in the socket for the protocol).
 * PROXY_STEP_ADDR: header consumed, *peer / *local set from it;
 * PROXY_STEP_LOCAL: header consumed, it names no address (a health check):
 * *peer / *local untouched, fill them with the socket's own first;
 * PROXY_STEP_WAIT: incomplete, wait for more bytes (the caller gives up
 * after its time limit); PROXY_STEP_REFUSE: refuse the connection, *why
 * says why (an over-long or malformed header, a control byte in a v1
 * header, a close or a read error before the header is whole). */
enum proxy_step {
	PROXY_STEP_REFUSE = -1,
	PROXY_STEP_WAIT = 0,
	PROXY_STEP_LOCAL = 1,
	PROXY_STEP_ADDR = 2,
};
enum proxy_step proxy_accept_step(int fd, struct sockaddr_storage *peer,
                                  struct sockaddr_storage *local, const char **why);

/* Read one PROXY header from the blocking-or-not socket fd, waiting up to
 * timeout_ms in total; for code that accepts by itself (an FTP event loop
 * steps with proxy_accept_step instead).  Consumes exactly the header.
 * 0 with *peer / *local set (a LOCAL header leaves them untouched), or -1
 * with *why set. */
int proxy_accept_read_header(int fd, int timeout_ms, struct sockaddr_storage *peer,
                             struct sockaddr_storage *local, const char **why);

#endif
