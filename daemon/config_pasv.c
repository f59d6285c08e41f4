/* config_pasv.c - the PASV address policy: which address a PASV reply
 * announces to a client, from pasv_address_map and pasv_address (parsed
 * and checked by config.c; see config.h).
 */
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"

/* 1 when the first plen bits of a and b (len bytes each) are equal. */
static int bits_match(const unsigned char *a, const unsigned char *b, int plen)
{
	int full = plen / 8, rest = plen % 8;

	if (memcmp(a, b, (size_t)full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (a[full] & mask) == (b[full] & mask);
}

const char *config_pasv_address_for(const struct config *c, const struct sockaddr_storage *peer)
{
	const unsigned char *p4 = NULL, *p6 = NULL;
	static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (peer && peer->ss_family == AF_INET) {
		p4 = (const unsigned char *)&((const struct sockaddr_in *)peer)->sin_addr;
	} else if (peer && peer->ss_family == AF_INET6) {
		p6 = (const unsigned char *)&((const struct sockaddr_in6 *)peer)->sin6_addr;
		if (memcmp(p6, v4mapped, 12) == 0)
			p4 = p6 + 12;
	}
	for (int i = 0; i < c->pasv_address_map.n; i++) {
		const struct sockaddr_storage *net = &c->pasv_address_map.m[i].net;
		int plen = c->pasv_address_map.m[i].prefix;
		const unsigned char *n4 =
		    (const unsigned char *)&((const struct sockaddr_in *)net)->sin_addr;
		const unsigned char *n6 =
		    (const unsigned char *)&((const struct sockaddr_in6 *)net)->sin6_addr;
		if (net->ss_family == AF_INET && p4 && bits_match(p4, n4, plen))
			return c->pasv_address_map.m[i].addr;
		if (net->ss_family == AF_INET6 && p6 && bits_match(p6, n6, plen))
			return c->pasv_address_map.m[i].addr;
	}
	return c->pasv_address[0] ? c->pasv_address : NULL;
}
