/* net.c - sockets (see net.h).  The only file that calls socket(). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"

static socklen_t net_len(const struct sockaddr_storage *a)
{
	return a->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

int net_listen(const struct sockaddr_storage *a, socklen_t alen, int backlog, char *err,
               size_t errsz)
{
	char as[80];
	int one = 1;
	int fd = socket(a->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	net_addr_str(a, 1, as, sizeof(as));
	if (fd < 0) {
		snprintf(err, errsz, "%s: socket: %s", as, strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)a, alen ? alen : net_len(a)) != 0) {
		snprintf(err, errsz, "%s: bind: %s", as, strerror(errno));
		close(fd);
		return -1;
	}
	if (listen(fd, backlog) != 0) {
		snprintf(err, errsz, "%s: listen: %s", as, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int net_accept(int lfd, struct sockaddr_storage *peer, socklen_t *plen)
{
	*plen = sizeof(*peer);
	int fd = accept4(lfd, (struct sockaddr *)peer, plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd >= 0) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	return fd;
}

int net_listen_range(const struct sockaddr_storage *local, unsigned lo, unsigned hi,
                     unsigned *port_out)
{
	static atomic_uint rotor;
	struct sockaddr_storage a = *local;

	if (lo == 0 || hi < lo || hi > 65535) {
		errno = EINVAL;
		return -1;
	}
	unsigned span = hi - lo + 1;
	unsigned start = atomic_fetch_add(&rotor, 1) % span;
	for (unsigned i = 0; i < span; i++) {
		unsigned port = lo + (start + i) % span;
		int fd = socket(a.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		/* Without SO_REUSEADDR each finished transfer leaves its port in
		 * TIME_WAIT for a minute, and a range of 1000 ports caps the
		 * server at ~16 passive transfers a second.  Linux still refuses
		 * a second listener on the same port. */
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		net_set_port(&a, port);
		if (bind(fd, (struct sockaddr *)&a, net_len(&a)) == 0 && listen(fd, 4) == 0) {
			*port_out = port;
			return fd;
		}
		int e = errno;
		close(fd);
		if (e != EADDRINUSE && e != EACCES) {
			errno = e;
			return -1;
		}
	}
	errno = EADDRINUSE;
	return -1;
}

int net_connect(const struct sockaddr_storage *a, const struct sockaddr_storage *local)
{
	int one = 1;
	int fd = socket(a->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (local) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (const struct sockaddr *)local, net_len(local)) != 0) {
			int e = errno;
			close(fd);
			errno = e;
			return -1;
		}
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)a, net_len(a)) != 0 && errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

unsigned net_port(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
	return ntohs(((const struct sockaddr_in *)a)->sin_port);
}

void net_set_port(struct sockaddr_storage *a, unsigned port)
{
	if (a->ss_family == AF_INET6)
		((struct sockaddr_in6 *)a)->sin6_port = htons((uint16_t)port);
	else
		((struct sockaddr_in *)a)->sin_port = htons((uint16_t)port);
}

/* The IPv4 address of a (also of a v4-mapped IPv6 address), or 0 with
 * *is4 = 0. */
static uint32_t net_v4(const struct sockaddr_storage *a, int *is4)
{
	*is4 = 1;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr;
	const struct in6_addr *x = &((const struct sockaddr_in6 *)a)->sin6_addr;
	if (IN6_IS_ADDR_V4MAPPED(x)) {
		uint32_t v;
		memcpy(&v, x->s6_addr + 12, 4);
		return v;
	}
	*is4 = 0;
	return 0;
}

int net_same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	int a4, b4;
	uint32_t va = net_v4(a, &a4), vb = net_v4(b, &b4);

	if (a4 || b4)
		return a4 && b4 && va == vb;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
	              &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
}

void net_addr_str(const struct sockaddr_storage *a, int with_port, char *out, size_t outsz)
{
	char h[INET6_ADDRSTRLEN] = "?";

	if (a->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)a)->sin6_addr, h, sizeof(h));
	else if (a->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)a)->sin_addr, h, sizeof(h));
	if (!with_port)
		snprintf(out, outsz, "%s", h);
	else if (a->ss_family == AF_INET6)
		snprintf(out, outsz, "[%s]:%u", h, net_port(a));
	else
		snprintf(out, outsz, "%s:%u", h, net_port(a));
}
