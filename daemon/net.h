/* net.h - the only module that creates sockets. */
#ifndef PUBMIRROR_NET_H
#define PUBMIRROR_NET_H

#include <sys/socket.h>

/* Bind and listen on a, non-blocking, CLOEXEC, SO_REUSEADDR, IPV6_V6ONLY
 * for IPv6.  Returns the fd or -1 (err filled with "addr: why"). */
int net_listen(const struct sockaddr_storage *a, socklen_t alen, int backlog, char *err,
               size_t errsz);
/* Accept one connection, non-blocking + CLOEXEC.  fd or -1 (errno). */
int net_accept(int lfd, struct sockaddr_storage *peer, socklen_t *plen);
/* Listen on the first free port in [lo, hi] of the address family/address
 * of local (port ignored), starting at a rotating offset.  Writes the port
 * chosen.  fd, or -1 when the range is exhausted (errno EADDRINUSE). */
int net_listen_range(const struct sockaddr_storage *local, unsigned lo, unsigned hi,
                     unsigned *port_out);
/* Start a non-blocking connect to a from the address of local (port 0 or
 * port given).  fd or -1 (errno).  EINPROGRESS is success. */
int net_connect(const struct sockaddr_storage *a, const struct sockaddr_storage *local);
/* Port of a socket address; set port. */
unsigned net_port(const struct sockaddr_storage *a);
void net_set_port(struct sockaddr_storage *a, unsigned port);
/* 1 when a and b hold the same address (ports ignored; v4-mapped v6 equal
 * to v4). */
int net_same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
/* "addr" or "[addr]:port" text. */
void net_addr_str(const struct sockaddr_storage *a, int with_port, char *out, size_t outsz);

#endif
