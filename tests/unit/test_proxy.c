/* test_proxy.c - PROXY protocol v1/v2 parser: good, short and hostile input. */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "net.h"
#include "proxy.h"
#include "unit.h"

struct v1case {
	const char *in;
	enum proxy_result want;
	const char *src; /* "addr:port" form of net_addr_str, or NULL */
	size_t used;
};

static const struct v1case v1cases[] = {
    {"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET /", PROXY_OK, "192.0.2.1:56324", 45},
    {"PROXY TCP6 2001:db8::1 2001:db8::2 4000 21\r\n", PROXY_OK, "[2001:db8::1]:4000", 44},
    {"PROXY UNKNOWN\r\n", PROXY_LOCAL, NULL, 15},
    {"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", PROXY_LOCAL, NULL, 35},
    {"PROXY TCP4 192.0.2.1 198.51.100.2 56324", PROXY_NEED_MORE, NULL, 0},
    {"PROX", PROXY_NEED_MORE, NULL, 0},
    {"PROXY TCP4 192.0.2.1 198.51.100.2 65536 443\r\n", PROXY_BAD, NULL, 0},
    {"PROXY TCP4 192.0.2.1 198.51.100.2 -1 443\r\n", PROXY_BAD, NULL, 0},
    {"PROXY TCP4 2001:db8::1 198.51.100.2 1 443\r\n", PROXY_BAD, NULL, 0},
    {"PROXY TCP5 192.0.2.1 198.51.100.2 1 443\r\n", PROXY_BAD, NULL, 0},
    {"PROXY TCP4 192.0.2.1 198.51.100.2 1\r\n", PROXY_BAD, NULL, 0},
    {"PROXY TCP4 192.0.2.1  198.51.100.2 1 2\r\n", PROXY_BAD, NULL, 0},
    {"PROXY TCP4 192.0.2.1 198.51.100.2 01 2\r\n", PROXY_BAD, NULL, 0},
    {"GET / HTTP/1.1\r\n\r\n", PROXY_BAD, NULL, 0},
    {"USER anonymous\r\n", PROXY_BAD, NULL, 0},
    {"PROXY TCP4 1.1.1.1 2.2.2.2 1 2 3\r\n", PROXY_BAD, NULL, 0},
};

static void test_v1(void)
{
	for (size_t i = 0; i < sizeof(v1cases) / sizeof(v1cases[0]); i++) {
		const struct v1case *t = &v1cases[i];
		struct sockaddr_storage s, d;
		size_t used = 0;
		const char *why = NULL;
		char name[128];
		enum proxy_result r =
		    proxy_parse((const unsigned char *)t->in, strlen(t->in), &s, &d, &used, &why);
		snprintf(name, sizeof(name), "v1 case %zu result", i);
		CHECK_INT(name, t->want, r);
		if (t->want == PROXY_BAD) {
			snprintf(name, sizeof(name), "v1 case %zu gives a reason", i);
			CHECK(name, why != NULL && why[0] != '\0');
		}
		if (t->want == PROXY_OK || t->want == PROXY_LOCAL) {
			snprintf(name, sizeof(name), "v1 case %zu used", i);
			CHECK_INT(name, t->used, used);
		}
		if (t->src && r == PROXY_OK) {
			char a[80];
			net_addr_str(&s, 1, a, sizeof(a));
			snprintf(name, sizeof(name), "v1 case %zu source", i);
			CHECK_STR(name, t->src, a);
		}
	}
	{
		/* a NUL inside an address is refused, not read as its end */
		static const char nul[] = "PROXY TCP4 192.0.2.1\0x 198.51.100.2 1 2\r\n";
		struct sockaddr_storage s4, d4;
		size_t used = 0;
		const char *why = NULL;
		CHECK_INT("v1 NUL inside an address refused", PROXY_BAD,
		          proxy_parse((const unsigned char *)nul, sizeof(nul) - 1, &s4, &d4, &used,
		                      &why));
	}
	/* a header longer than 107 bytes without CRLF is refused, not waited on */
	char longer[200];
	memset(longer, 'A', sizeof(longer));
	memcpy(longer, "PROXY TCP4 ", 11);
	struct sockaddr_storage s, d;
	size_t used;
	const char *why;
	CHECK_INT("v1 over 107 bytes refused", PROXY_BAD,
	          proxy_parse((unsigned char *)longer, sizeof(longer), &s, &d, &used, &why));
}

static size_t v2_make(unsigned char *b, unsigned cmd, unsigned famproto, const void *addrs,
                      size_t alen, size_t tlvs)
{
	static const unsigned char sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
	                                      0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
	memcpy(b, sig, 12);
	b[12] = (unsigned char)(0x20 | cmd);
	b[13] = (unsigned char)famproto;
	size_t len = alen + tlvs;
	b[14] = (unsigned char)(len >> 8);
	b[15] = (unsigned char)(len & 255);
	memcpy(b + 16, addrs, alen);
	memset(b + 16 + alen, 0, tlvs);
	return 16 + len;
}

static void test_v2(void)
{
	unsigned char b[1024], a4[12], a6[36];
	struct sockaddr_storage s, d;
	size_t used;
	const char *why;
	char addr[80];

	inet_pton(AF_INET, "203.0.113.7", a4);
	inet_pton(AF_INET, "127.0.0.1", a4 + 4);
	a4[8] = 0x12;
	a4[9] = 0x34;
	a4[10] = 0;
	a4[11] = 21;
	size_t n = v2_make(b, 1, 0x11, a4, 12, 8);
	CHECK_INT("v2 TCP4 ok", PROXY_OK, proxy_parse(b, n, &s, &d, &used, &why));
	CHECK_INT("v2 TCP4 used includes TLVs", n, used);
	net_addr_str(&s, 1, addr, sizeof(addr));
	CHECK_STR("v2 TCP4 source", "203.0.113.7:4660", addr);
	net_addr_str(&d, 1, addr, sizeof(addr));
	CHECK_STR("v2 TCP4 destination", "127.0.0.1:21", addr);
	for (size_t k = 0; k < n; k++)
		if (proxy_parse(b, k, &s, &d, &used, &why) != PROXY_NEED_MORE) {
			CHECK_INT("v2 every prefix needs more", PROXY_NEED_MORE,
			          proxy_parse(b, k, &s, &d, &used, &why));
			break;
		}

	inet_pton(AF_INET6, "2001:db8::7", a6);
	inet_pton(AF_INET6, "::1", a6 + 16);
	a6[32] = 0;
	a6[33] = 80;
	a6[34] = 1;
	a6[35] = 187;
	n = v2_make(b, 1, 0x21, a6, 36, 0);
	CHECK_INT("v2 TCP6 ok", PROXY_OK, proxy_parse(b, n, &s, &d, &used, &why));
	net_addr_str(&s, 1, addr, sizeof(addr));
	CHECK_STR("v2 TCP6 source", "[2001:db8::7]:80", addr);

	n = v2_make(b, 0, 0x00, a4, 0, 0);
	CHECK_INT("v2 LOCAL", PROXY_LOCAL, proxy_parse(b, n, &s, &d, &used, &why));
	CHECK_INT("v2 LOCAL used", 16, used);

	n = v2_make(b, 1, 0x11, a4, 8, 0); /* block too short */
	CHECK_INT("v2 short IPv4 block", PROXY_BAD, proxy_parse(b, n, &s, &d, &used, &why));
	n = v2_make(b, 2, 0x11, a4, 12, 0); /* bad command */
	CHECK_INT("v2 bad command", PROXY_BAD, proxy_parse(b, n, &s, &d, &used, &why));
	n = v2_make(b, 1, 0x31, a4, 12, 0); /* AF_UNIX */
	CHECK_INT("v2 unix family refused", PROXY_BAD, proxy_parse(b, n, &s, &d, &used, &why));
	n = v2_make(b, 1, 0x11, a4, 12, 600); /* too long */
	CHECK_INT("v2 too long", PROXY_BAD, proxy_parse(b, n, &s, &d, &used, &why));
	n = v2_make(b, 1, 0x11, a4, 12, 0);
	b[12] = 0x11; /* version 1 in a v2 signature */
	CHECK_INT("v2 wrong version", PROXY_BAD, proxy_parse(b, n, &s, &d, &used, &why));
}

int main(void)
{
	test_v1();
	test_v2();
	return unit_done();
}
