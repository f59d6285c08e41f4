/* proxy.h - the PROXY protocol (HAProxy's specification, v1 text and v2
 * binary), for listeners behind a load balancer (config proxy_protocol).
 *
 * Pure parser: the caller reads bytes from a new connection into a buffer
 * and asks whether a complete header is there.  SECURITY: only listeners
 * named in proxy_protocol parse it; on those a connection without a valid
 * header is refused; the header's addresses replace the peer for the
 * limiter, the logs and FTP's data-connection checks.
 */
#ifndef PUBMIRROR_PROXY_H
#define PUBMIRROR_PROXY_H

#include <stddef.h>
#include <sys/socket.h>

#define PROXY_HEADER_MAX 536 /* v1 is at most 107 bytes; v2 16 + 520 here */

enum proxy_result {
	PROXY_NEED_MORE = 0, /* not enough bytes yet */
	PROXY_OK,            /* header parsed: *used bytes belong to it */
	PROXY_LOCAL,         /* valid header without addresses (health check,
	                      * v2 LOCAL or v1 UNKNOWN): keep the socket peer */
	PROXY_BAD,           /* not a PROXY header, or malformed: refuse */
};

/* Parse the start of buf[0..n).  On PROXY_OK fills src (the client) and
 * dst (the address it connected to) and *used. *why is set on PROXY_BAD. */
enum proxy_result proxy_parse(const unsigned char *buf, size_t n, struct sockaddr_storage *src,
                              struct sockaddr_storage *dst, size_t *used, const char **why);

#endif
