/* proxy.c - PROXY protocol v1/v2 parser (see proxy.h). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "proxy.h"

static const unsigned char proxy_v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                               0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

/* A decimal port 0..65535 without sign or leading junk. */
static int proxy_port(const char *s, size_t n, uint16_t *out)
{
	unsigned v = 0;

	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

static int proxy_addr(int fam, const char *s, size_t n, uint16_t port, struct sockaddr_storage *out)
{
	char tmp[64];

	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	memset(out, 0, sizeof(*out));
	if (fam == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)out;
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		return inet_pton(AF_INET, tmp, &a->sin_addr) == 1 ? 0 : -1;
	}
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)out;
	a6->sin6_family = AF_INET6;
	a6->sin6_port = htons(port);
	return inet_pton(AF_INET6, tmp, &a6->sin6_addr) == 1 ? 0 : -1;
}

/* v1: "PROXY TCP4 1.2.3.4 5.6.7.8 1111 2222\r\n" (at most 107 bytes). */
static enum proxy_result proxy_v1(const unsigned char *buf, size_t n, struct sockaddr_storage *src,
                                  struct sockaddr_storage *dst, size_t *used, const char **why)
{
	const char *s = (const char *)buf;
	size_t lim = n < 107 ? n : 107;
	size_t end = 0;

	while (end + 1 < lim && !(s[end] == '\r' && s[end + 1] == '\n'))
		end++;
	if (end + 1 >= lim) {
		if (n >= 107) {
			*why = "PROXY v1 header longer than 107 bytes";
			return PROXY_BAD;
		}
		return PROXY_NEED_MORE;
	}
	/* SECURITY: printable ASCII only: a NUL would cut an address where
	 * inet_pton reads it, accepting "1.2.3.4\0junk" */
	for (size_t k = 0; k < end; k++) {
		if ((unsigned char)s[k] < 0x20 || (unsigned char)s[k] > 0x7e) {
			*why = "PROXY v1 header holds a control or non-ASCII byte";
			return PROXY_BAD;
		}
	}
	/* split into at most 6 fields on single spaces */
	const char *f[6];
	size_t fl[6];
	int nf = 0;
	size_t i = 0;
	while (i < end) {
		if (nf == 6) {
			*why = "PROXY v1 header has too many fields";
			return PROXY_BAD;
		}
		size_t j = i;
		while (j < end && s[j] != ' ')
			j++;
		f[nf] = s + i;
		fl[nf] = j - i;
		nf++;
		i = j + 1;
		if (j < end && i == end) {
			*why = "PROXY v1 header ends with a space";
			return PROXY_BAD;
		}
	}
	*used = end + 2;
	if (nf >= 2 && fl[1] == 7 && memcmp(f[1], "UNKNOWN", 7) == 0)
		return PROXY_LOCAL;
	if (nf != 6) {
		*why = "PROXY v1 header needs 6 fields";
		return PROXY_BAD;
	}
	int fam;
	if (fl[1] == 4 && memcmp(f[1], "TCP4", 4) == 0)
		fam = AF_INET;
	else if (fl[1] == 4 && memcmp(f[1], "TCP6", 4) == 0)
		fam = AF_INET6;
	else {
		*why = "PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN";
		return PROXY_BAD;
	}
	uint16_t sp, dp;
	if (proxy_port(f[4], fl[4], &sp) != 0 || proxy_port(f[5], fl[5], &dp) != 0) {
		*why = "PROXY v1 port is not a number 0-65535";
		return PROXY_BAD;
	}
	if (proxy_addr(fam, f[2], fl[2], sp, src) != 0 ||
	    proxy_addr(fam, f[3], fl[3], dp, dst) != 0) {
		*why = "PROXY v1 address does not match its family";
		return PROXY_BAD;
	}
	return PROXY_OK;
}

static enum proxy_result proxy_v2(const unsigned char *buf, size_t n, struct sockaddr_storage *src,
                                  struct sockaddr_storage *dst, size_t *used, const char **why)
{
	if (n < 16)
		return PROXY_NEED_MORE;
	unsigned ver = buf[12] >> 4, cmd = buf[12] & 15;
	unsigned fam = buf[13] >> 4, proto = buf[13] & 15;
	size_t len = ((size_t)buf[14] << 8) | buf[15];
	if (ver != 2) {
		*why = "PROXY v2 header has a wrong version";
		return PROXY_BAD;
	}
	if (16 + len > PROXY_HEADER_MAX) {
		*why = "PROXY v2 header too long";
		return PROXY_BAD;
	}
	if (n < 16 + len)
		return PROXY_NEED_MORE;
	*used = 16 + len;
	if (cmd == 0)
		return PROXY_LOCAL;
	if (cmd != 1) {
		*why = "PROXY v2 command is neither LOCAL nor PROXY";
		return PROXY_BAD;
	}
	const unsigned char *p = buf + 16;
	memset(src, 0, sizeof(*src));
	memset(dst, 0, sizeof(*dst));
	if (fam == 1 && proto == 1) { /* TCP over IPv4 */
		if (len < 12) {
			*why = "PROXY v2 IPv4 block too short";
			return PROXY_BAD;
		}
		struct sockaddr_in *s4 = (struct sockaddr_in *)src, *d4 = (struct sockaddr_in *)dst;
		s4->sin_family = d4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, p, 4);
		memcpy(&d4->sin_addr, p + 4, 4);
		memcpy(&s4->sin_port, p + 8, 2);
		memcpy(&d4->sin_port, p + 10, 2);
		return PROXY_OK;
	}
	if (fam == 2 && proto == 1) { /* TCP over IPv6 */
		if (len < 36) {
			*why = "PROXY v2 IPv6 block too short";
			return PROXY_BAD;
		}
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)src,
		                    *d6 = (struct sockaddr_in6 *)dst;
		s6->sin6_family = d6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, p, 16);
		memcpy(&d6->sin6_addr, p + 16, 16);
		memcpy(&s6->sin6_port, p + 32, 2);
		memcpy(&d6->sin6_port, p + 34, 2);
		return PROXY_OK;
	}
	if (fam == 0)
		return PROXY_LOCAL; /* UNSPEC: keep the socket's addresses */
	*why = "PROXY v2 address family is not TCP over IPv4 or IPv6";
	return PROXY_BAD;
}

enum proxy_result proxy_parse(const unsigned char *buf, size_t n, struct sockaddr_storage *src,
                              struct sockaddr_storage *dst, size_t *used, const char **why)
{
	*why = NULL;
	*used = 0;
	size_t k = n < 12 ? n : 12;
	if (memcmp(buf, proxy_v2_sig, k) == 0) {
		if (n < 12)
			return PROXY_NEED_MORE;
		return proxy_v2(buf, n, src, dst, used, why);
	}
	k = n < 6 ? n : 6;
	if (memcmp(buf, "PROXY ", k) == 0) {
		if (n < 6)
			return PROXY_NEED_MORE;
		return proxy_v1(buf, n, src, dst, used, why);
	}
	*why = "connection did not start with a PROXY protocol header";
	return PROXY_BAD;
}
